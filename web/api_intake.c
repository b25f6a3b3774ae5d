/* Intake routes (issue #9): weighbridge tickets, exit captures and capture
 * points, escapes; the matching timer. Sales, inventory, contracts, figures
 * and reports are in api_intake_ledger.c. Machines post with an API key
 * (X-Api-Key or Authorization: Bearer); reads follow the session guard. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>

#include "web/api_intake.h"

#define MAX_BATCH 5000

bool iw_source(web_req_t *req, const intake_web_t *iw, char *name, size_t len)
{
    const char *key = web_header(req, "X-Api-Key");
    const char *auth = web_header(req, "Authorization");
    if (!key && auth && strncmp(auth, "Bearer ", 7) == 0)
        key = auth + 7;
    if (intake_key_check(iw->ctx->reader, &iw->conf, key, name, len) == CM_OK)
        return true;
    web_reply_error(req, 401, "X-Api-Key", key ? "API key not recognised" : "API key required");
    return false;
}

void iw_reply_fault(web_req_t *req, int status, const intake_fault_t *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", f->msg);
    cJSON_AddStringToObject(o, "field", f->field);
    cJSON_AddNumberToObject(o, "index", f->index);
    web_reply_json(req, status, o);
}

cJSON *iw_items(const cJSON *body, const char *key)
{
    const cJSON *src = body;
    if (cJSON_IsObject(body) && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(body, key)))
        src = cJSON_GetObjectItemCaseSensitive(body, key);
    cJSON *arr = cJSON_CreateArray();
    if (cJSON_IsArray(src)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, src) cJSON_AddItemReferenceToArray(arr, (cJSON *)it);
    } else {
        cJSON_AddItemReferenceToArray(arr, (cJSON *)src);
    }
    return arr;
}

void iw_reply(web_req_t *req, int rc, cJSON *out, const char *err)
{
    if (rc == CM_ERR_NOTFOUND)
        web_reply_error(req, 404, NULL, "%s", err);
    else if (rc == CM_ERR_INVALID)
        web_reply_error(req, 400, NULL, "%s", err);
    else if (rc)
        web_reply_failure(req, rc, err);
    else
        web_reply_json(req, 200, out);
}

/* ---- posts stored on a worker --------------------------------------------------- */

iw_post_t *iw_post_new(intake_web_t *iw, web_req_t *req)
{
    iw_post_t *p = calloc(1, sizeof *p);
    if (!p) {
        web_reply_error(req, 500, NULL, "out of memory");
        return NULL;
    }
    p->iw = iw;
    p->req = req;
    return p;
}

void iw_post_free(iw_post_t *p)
{
    if (!p)
        return;
    iw_batch_close(&p->b);
    cJSON_Delete(p->items);
    cJSON_Delete(p->body);
    free(p->recs);
    free(p);
}

void iw_post_submit(iw_post_t *p, web_work_fn work, web_work_fn done)
{
    if (web_defer(p->iw->ctx->web, work, done, p)) {
        web_reply_busy(p->req);
        iw_post_free(p);
    }
}

/* On the worker, after storing: match at once, so a capture whose ticket just
 * came is decided. */
static void match_after(iw_post_t *p)
{
    p->match = true;
    p->match_rc = intake_match_run(p->iw->ctx->store, &p->iw->conf, tm_now_s(), &p->ms, p->err,
                                   sizeof p->err);
}

/* On the loop: the matching figures into the reply (or the failure into the log). */
static void match_reply(iw_post_t *p, cJSON *reply)
{
    if (p->match_rc) {
        log_error("intake", "matching exits to tickets failed: %s", p->err);
        return;
    }
    if (p->ms.escapes)
        log_warn("intake", "%d escaping vehicle(s): loaded exit without a ticket", p->ms.escapes);
    cJSON *m = cJSON_AddObjectToObject(reply, "matching");
    cJSON_AddNumberToObject(m, "matched", p->ms.matched);
    cJSON_AddNumberToObject(m, "escapes", p->ms.escapes);
    cJSON_AddNumberToObject(m, "unverified", p->ms.unverified);
    cJSON_AddNumberToObject(m, "waiting", p->ms.waiting);
}

/* ---- batches and lists ---------------------------------------------------------- */

bool iw_batch_open(web_req_t *req, intake_web_t *iw, const char *key, iw_batch_t *b)
{
    b->key = key;
    if (!iw_source(req, iw, b->source, sizeof b->source))
        return false;
    b->body = web_body_json(req);
    if (!b->body)
        return false;
    b->items = iw_items(b->body, key);
    b->n = cJSON_GetArraySize(b->items);
    return true;
}

void iw_batch_close(iw_batch_t *b)
{
    cJSON_Delete(b->items);
    cJSON_Delete(b->body);
}

/* CM_ERR_INVALID with the fault filled when the batch is empty or too large. */
static int batch_check_size(const iw_batch_t *b, intake_fault_t *f)
{
    if (b->n > 0 && b->n <= MAX_BATCH)
        return CM_OK;
    snprintf(f->field, sizeof f->field, "%s", b->key);
    snprintf(f->msg, sizeof f->msg, "a batch holds 1..%d %s", MAX_BATCH, b->key);
    return CM_ERR_INVALID;
}

typedef int (*filtered_list_fn)(sqlite3 *db, int64_t from, int64_t to, const char *filter,
                                int limit, cJSON **out, char *err, size_t errlen);

/* GET of a list over from/to (a day by default) and limit, narrowed by one optional
 * query parameter; a value longer than filter_cap - 1 is ignored, as web_query
 * refuses it. */
static void list_filtered(web_req_t *req, intake_web_t *iw, const char *filter_key,
                          size_t filter_cap, filtered_list_fn list)
{
    int64_t from, to;
    long long limit;
    char filter[64], err[256];
    if (!web_query_range(req, 86400, 0, &from, &to) ||
        !web_query_int(req, "limit", 1000, 1, 10000, &limit))
        return;
    if (filter_cap > sizeof filter)
        filter_cap = sizeof filter;
    bool has_filter = web_query(req, filter_key, filter, filter_cap) == CM_OK;
    cJSON *out = NULL;
    int rc = list(iw->ctx->reader, from, to, has_filter ? filter : NULL, (int)limit, &out, err,
                  sizeof err);
    iw_reply(req, rc, out, err);
}

/* ---- tickets -------------------------------------------------------------------- */

static void tickets_work(void *arg)
{
    iw_post_t *p = arg;
    p->rc = intake_tickets_put(p->iw->ctx->store, p->recs, (size_t)p->n, p->b.source, &p->res,
                               p->err, sizeof p->err);
    if (!p->rc)
        match_after(p);
}

static void tickets_done(void *arg)
{
    iw_post_t *p = arg;
    if (p->rc) {
        web_reply_error(p->req, 500, NULL, "storing tickets failed: %s", p->err);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "accepted", p->n);
        cJSON_AddNumberToObject(o, "created", p->res.created);
        cJSON_AddNumberToObject(o, "corrected", p->res.corrected);
        cJSON_AddNumberToObject(o, "unchanged", p->res.unchanged);
        match_reply(p, o);
        web_reply_json(p->req, 200, o);
    }
    iw_post_free(p);
}

static void post_tickets(web_req_t *req, intake_web_t *iw)
{
    char err[256];
    iw_post_t *p = iw_post_new(iw, req);
    if (!p)
        return;
    if (!iw_batch_open(req, iw, "tickets", &p->b)) {
        free(p);
        return;
    }
    int n = p->n = p->b.n;
    intake_materials_t *m = malloc(sizeof *m);
    intake_ticket_t *t = calloc((size_t)(n ? n : 1), sizeof *t);
    p->recs = t;
    intake_fault_t f = {0};
    int rc = m && t ? CM_OK : CM_ERR_NOMEM;
    if (!rc)
        rc = batch_check_size(&p->b, &f);
    if (!rc)
        rc = intake_materials_load(iw->ctx->reader, m, err, sizeof err);
    int64_t now = tm_now_s();
    for (int i = 0; !rc && i < n; i++) {
        f.index = i;
        rc = intake_ticket_parse(cJSON_GetArrayItem(p->b.items, i), &iw->conf, m, now, false, &t[i],
                                 &f);
    }
    free(m);
    if (!rc) {
        iw_post_submit(p, tickets_work, tickets_done);
        return;
    }
    if (rc == CM_ERR_INVALID)
        iw_reply_fault(req, 400, &f); /* a batch is all or nothing: nothing stored */
    else
        web_reply_error(req, 500, NULL, "storing tickets failed: %s",
                        rc == CM_ERR_NOMEM ? "out of memory" : err);
    iw_post_free(p);
}

static void tickets(web_req_t *req, void *arg)
{
    intake_web_t *iw = arg;
    if (web_method_of(req) == WEB_POST) {
        post_tickets(req, iw);
        return;
    }
    list_filtered(req, iw, "plate", 64, intake_ticket_list);
}

/* GET /api/v1/weighbridge/tickets/{id}: the ticket with every version. */
static void ticket_one(web_req_t *req, void *arg)
{
    intake_web_t *iw = arg;
    const char *path = web_path(req) + strlen("/api/v1/weighbridge/tickets/");
    char *id = evhttp_uridecode(path, 0, NULL), err[256];
    cJSON *out = NULL;
    int rc = id && *id ? intake_ticket_get(iw->ctx->reader, id, &out, err, sizeof err)
                       : cm_fail(err, sizeof err, CM_ERR_NOTFOUND, "no ticket id in the path");
    iw_reply(req, rc, out, err);
    free(id);
}

/* ---- exits ---------------------------------------------------------------------- */

static void captures_work(void *arg)
{
    iw_post_t *p = arg;
    p->rc = intake_captures_put(p->iw->ctx->store, p->recs, (size_t)p->n, p->b.source, &p->created,
                                &p->f, p->err, sizeof p->err);
    if (!p->rc)
        match_after(p);
}

static void captures_done(void *arg)
{
    iw_post_t *p = arg;
    if (p->rc == CM_ERR_INVALID) {
        iw_reply_fault(p->req, 400, &p->f);
    } else if (p->rc) {
        web_reply_error(p->req, 500, NULL, "storing captures failed: %s", p->err);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "accepted", p->n);
        cJSON_AddNumberToObject(o, "created", p->created);
        match_reply(p, o);
        web_reply_json(p->req, 200, o);
    }
    iw_post_free(p);
}

static void post_captures(web_req_t *req, intake_web_t *iw)
{
    iw_post_t *p = iw_post_new(iw, req);
    if (!p)
        return;
    if (!iw_batch_open(req, iw, "captures", &p->b)) {
        free(p);
        return;
    }
    int n = p->n = p->b.n;
    intake_capture_t *c = calloc((size_t)(n ? n : 1), sizeof *c);
    p->recs = c;
    intake_fault_t f = {0};
    int rc = c ? CM_OK : CM_ERR_NOMEM;
    if (!rc)
        rc = batch_check_size(&p->b, &f);
    int64_t now = tm_now_s();
    for (int i = 0; !rc && i < n; i++) {
        f.index = i;
        rc = intake_capture_parse(cJSON_GetArrayItem(p->b.items, i), &iw->conf, now, &c[i], &f);
    }
    if (!rc) {
        iw_post_submit(p, captures_work, captures_done);
        return;
    }
    if (rc == CM_ERR_INVALID)
        iw_reply_fault(req, 400, &f);
    else
        web_reply_error(req, 500, NULL, "storing captures failed: out of memory");
    iw_post_free(p);
}

static void captures(web_req_t *req, void *arg)
{
    intake_web_t *iw = arg;
    if (web_method_of(req) == WEB_POST) {
        post_captures(req, iw);
        return;
    }
    list_filtered(req, iw, "state", 16, intake_capture_list);
}

static void escapes(web_req_t *req, void *arg)
{
    intake_web_t *iw = arg;
    int64_t from, to;
    long long limit;
    char err[256];
    if (!web_query_range(req, 7 * 86400, 0, &from, &to) ||
        !web_query_int(req, "limit", 1000, 1, 10000, &limit))
        return;
    cJSON *out = NULL;
    int rc = intake_escape_list(iw->ctx->reader, from, to, (int)limit, &out, err, sizeof err);
    iw_reply(req, rc, out, err);
}

static void point_work(void *arg)
{
    iw_post_t *p = arg;
    p->rc = intake_point_put(p->iw->ctx->store, &p->point, p->actor, "api", p->err, sizeof p->err);
}

static void point_done(void *arg)
{
    iw_post_t *p = arg;
    if (p->rc) {
        web_reply_error(p->req, 500, NULL, "%s", p->err);
    } else {
        cJSON *out = NULL;
        int rc = intake_point_list(p->iw->ctx->reader, &out, p->err, sizeof p->err);
        iw_reply(p->req, rc, out, p->err);
    }
    iw_post_free(p);
}

static void points(web_req_t *req, void *arg)
{
    intake_web_t *iw = arg;
    char err[256];
    if (web_method_of(req) == WEB_GET) {
        cJSON *out = NULL;
        int rc = intake_point_list(iw->ctx->reader, &out, err, sizeof err);
        iw_reply(req, rc, out, err);
        return;
    }
    if (web_require_role(iw->ctx->web, req, "engineer"))
        return;
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    iw_post_t *p = iw_post_new(iw, req);
    if (!p) {
        cJSON_Delete(body);
        return;
    }
    p->body = body; /* the point's strings may point into it */
    if (intake_point_parse(body, &p->point, &p->f)) {
        iw_reply_fault(req, 400, &p->f);
        iw_post_free(p);
        return;
    }
    snprintf(p->actor, sizeof p->actor, "%s", web_actor(iw->ctx->web, req));
    iw_post_submit(p, point_work, point_done);
}

/* ---- the matching timer: the loop starts a job, a worker runs it ------------------- */

static void match_work(void *arg)
{
    intake_web_t *iw = arg;
    iw->match_rc = intake_match_run(iw->ctx->store, &iw->conf, tm_now_s(), &iw->ms, iw->match_err,
                                    sizeof iw->match_err);
}

static void match_done(void *arg)
{
    intake_web_t *iw = arg;
    iw->matching = false;
    if (iw->match_rc)
        log_error("intake", "matching exits to tickets failed: %s", iw->match_err);
    else if (iw->ms.escapes)
        log_warn("intake", "%d escaping vehicle(s): loaded exit without a ticket", iw->ms.escapes);
}

static void match_timer(evutil_socket_t fd, short what, void *arg)
{
    intake_web_t *iw = arg;
    if (iw->matching) /* the last one is still out: this turn is skipped */
        return;
    if (web_defer(iw->ctx->web, match_work, match_done, iw) == CM_OK)
        iw->matching = true;
}

static void intake_free(void *state)
{
    web_intake_close(state);
}

web_intake_t *web_register_intake(web_t *w, web_ctx_t *ctx, const struct intake_conf *conf)
{
    intake_web_t *iw = web_state_new(w, sizeof *iw, intake_free);
    if (!iw)
        return NULL;
    iw->ctx = ctx;
    iw->conf = *conf;
    int rc = web_route(w, WEB_GET, "/api/v1/weighbridge/tickets", tickets, iw);
    if (!rc)
        rc = web_route_public(w, WEB_POST, "/api/v1/weighbridge/tickets", tickets, iw);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/weighbridge/tickets/*", ticket_one, iw);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/exits/captures", captures, iw);
    if (!rc)
        rc = web_route_public(w, WEB_POST, "/api/v1/exits/captures", captures, iw);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/exits/escapes", escapes, iw);
    if (!rc)
        rc = web_route(w, WEB_GET | WEB_POST, "/api/v1/exits/points", points, iw);
    if (!rc)
        rc = iw_register_ledger(w, iw);
    if (rc)
        return NULL;
    iw->timer = event_new(web_base(w), -1, EV_PERSIST, match_timer, iw);
    struct timeval every = {iw->conf.match_interval_s, 0};
    if (!iw->timer || event_add(iw->timer, &every))
        return NULL;
    return iw;
}

void web_intake_close(web_intake_t *iw)
{
    if (iw && iw->timer) {
        event_free(iw->timer);
        iw->timer = NULL;
    }
}
