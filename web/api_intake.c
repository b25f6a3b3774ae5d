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

static intake_web_t g_iw; /* one server per process, like the auth module */

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

static bool query_time(web_req_t *req, const char *key, int64_t *out)
{
    char buf[40];
    int rc = web_query(req, key, buf, sizeof buf);
    if (rc == CM_ERR_NOTFOUND)
        return true;
    if (rc || tm_parse_bj(buf, out)) {
        web_reply_error(req, 400, key, "%s: expected \"yyyy-MM-dd[ HH:mm[:ss]]\" (Beijing)", key);
        return false;
    }
    return true;
}

bool iw_range(web_req_t *req, int64_t def_span_s, int64_t *from, int64_t *to)
{
    *to = tm_now_s() + 1;
    *from = INT64_MIN;
    if (!query_time(req, "to", to) || !query_time(req, "from", from))
        return false;
    if (*from == INT64_MIN)
        *from = *to - def_span_s;
    if (*to <= *from) {
        web_reply_error(req, 400, "to", "to must be after from");
        return false;
    }
    return true;
}

bool iw_limit(web_req_t *req, int def, int *limit)
{
    char buf[16];
    *limit = def;
    int rc = web_query(req, "limit", buf, sizeof buf);
    if (rc == CM_ERR_NOTFOUND)
        return true;
    char *end;
    long v = rc ? 0 : strtol(buf, &end, 10);
    if (rc || *end || v < 1 || v > 10000) {
        web_reply_error(req, 400, "limit", "limit: a number 1..10000");
        return false;
    }
    *limit = (int)v;
    return true;
}

void iw_reply(web_req_t *req, int rc, cJSON *out, const char *err)
{
    if (rc == CM_ERR_NOTFOUND)
        web_reply_error(req, 404, NULL, "%s", err);
    else if (rc == CM_ERR_INVALID)
        web_reply_error(req, 400, NULL, "%s", err);
    else if (rc)
        web_reply_error(req, 500, NULL, "%s", err);
    else
        web_reply_json(req, 200, out);
}

/* Match at once after a post, so a capture whose ticket just came is decided. */
static void match_now(intake_web_t *iw, cJSON *reply)
{
    char err[256];
    intake_match_stats_t s;
    if (intake_match_run(iw->ctx->store, &iw->conf, tm_now_s(), &s, err, sizeof err)) {
        log_error("intake", "matching exits to tickets failed: %s", err);
        return;
    }
    if (s.escapes)
        log_warn("intake", "%d escaping vehicle(s): loaded exit without a ticket", s.escapes);
    cJSON *m = cJSON_AddObjectToObject(reply, "matching");
    cJSON_AddNumberToObject(m, "matched", s.matched);
    cJSON_AddNumberToObject(m, "escapes", s.escapes);
    cJSON_AddNumberToObject(m, "unverified", s.unverified);
    cJSON_AddNumberToObject(m, "waiting", s.waiting);
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
    int limit;
    char filter[64], err[256];
    if (!iw_range(req, 86400, &from, &to) || !iw_limit(req, 1000, &limit))
        return;
    if (filter_cap > sizeof filter)
        filter_cap = sizeof filter;
    bool has_filter = web_query(req, filter_key, filter, filter_cap) == CM_OK;
    cJSON *out = NULL;
    int rc = list(iw->ctx->reader, from, to, has_filter ? filter : NULL, limit, &out, err,
                  sizeof err);
    iw_reply(req, rc, out, err);
}

/* ---- tickets -------------------------------------------------------------------- */

static void post_tickets(web_req_t *req, intake_web_t *iw)
{
    char err[256];
    iw_batch_t b;
    if (!iw_batch_open(req, iw, "tickets", &b))
        return;
    int n = b.n;
    intake_materials_t *m = malloc(sizeof *m);
    intake_ticket_t *t = calloc((size_t)(n ? n : 1), sizeof *t);
    intake_fault_t f = {0};
    int rc = m && t ? CM_OK : CM_ERR_NOMEM;
    if (!rc)
        rc = batch_check_size(&b, &f);
    if (!rc)
        rc = intake_materials_load(iw->ctx->reader, m, err, sizeof err);
    int64_t now = tm_now_s();
    for (int i = 0; !rc && i < n; i++) {
        f.index = i;
        rc = intake_ticket_parse(cJSON_GetArrayItem(b.items, i), &iw->conf, m, now, false, &t[i],
                                 &f);
    }
    intake_put_result_t res;
    if (rc == CM_ERR_INVALID) {
        iw_reply_fault(req, 400, &f); /* a batch is all or nothing: nothing stored */
    } else if (!rc && !(rc = intake_tickets_put(iw->ctx->store, t, (size_t)n, b.source, &res, err,
                                                sizeof err))) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "accepted", n);
        cJSON_AddNumberToObject(o, "created", res.created);
        cJSON_AddNumberToObject(o, "corrected", res.corrected);
        cJSON_AddNumberToObject(o, "unchanged", res.unchanged);
        match_now(iw, o);
        web_reply_json(req, 200, o);
    } else {
        web_reply_error(req, 500, NULL, "storing tickets failed: %s", rc == CM_ERR_NOMEM ? "out of memory" : err);
    }
    free(t);
    free(m);
    iw_batch_close(&b);
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

static void post_captures(web_req_t *req, intake_web_t *iw)
{
    char err[256];
    iw_batch_t b;
    if (!iw_batch_open(req, iw, "captures", &b))
        return;
    int n = b.n, created = 0;
    intake_capture_t *c = calloc((size_t)(n ? n : 1), sizeof *c);
    intake_fault_t f = {0};
    int rc = c ? CM_OK : CM_ERR_NOMEM;
    if (!rc)
        rc = batch_check_size(&b, &f);
    int64_t now = tm_now_s();
    for (int i = 0; !rc && i < n; i++) {
        f.index = i;
        rc = intake_capture_parse(cJSON_GetArrayItem(b.items, i), &iw->conf, now, &c[i], &f);
    }
    if (!rc)
        rc = intake_captures_put(iw->ctx->store, c, (size_t)n, b.source, &created, &f, err,
                                 sizeof err);
    if (rc == CM_ERR_INVALID) {
        iw_reply_fault(req, 400, &f);
    } else if (rc) {
        web_reply_error(req, 500, NULL, "storing captures failed: %s", rc == CM_ERR_NOMEM ? "out of memory" : err);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "accepted", n);
        cJSON_AddNumberToObject(o, "created", created);
        match_now(iw, o);
        web_reply_json(req, 200, o);
    }
    free(c);
    iw_batch_close(&b);
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
    int limit;
    char err[256];
    if (!iw_range(req, 7 * 86400, &from, &to) || !iw_limit(req, 1000, &limit))
        return;
    cJSON *out = NULL;
    int rc = intake_escape_list(iw->ctx->reader, from, to, limit, &out, err, sizeof err);
    iw_reply(req, rc, out, err);
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
    if (web_require_role(req, "engineer"))
        return;
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    intake_point_t p;
    intake_fault_t f = {0};
    if (intake_point_parse(body, &p, &f)) {
        iw_reply_fault(req, 400, &f);
    } else if (intake_point_put(iw->ctx->store, &p, web_actor(req), "api", err, sizeof err)) {
        web_reply_error(req, 500, NULL, "%s", err);
    } else {
        cJSON *out = NULL;
        int rc = intake_point_list(iw->ctx->reader, &out, err, sizeof err);
        iw_reply(req, rc, out, err);
    }
    cJSON_Delete(body);
}

/* ---- the matching timer -------------------------------------------------------- */

static void match_timer(evutil_socket_t fd, short what, void *arg)
{
    intake_web_t *iw = arg;
    char err[256];
    intake_match_stats_t s;
    if (intake_match_run(iw->ctx->store, &iw->conf, tm_now_s(), &s, err, sizeof err))
        log_error("intake", "matching exits to tickets failed: %s", err);
    else if (s.escapes)
        log_warn("intake", "%d escaping vehicle(s): loaded exit without a ticket", s.escapes);
}

int web_register_intake(web_t *w, web_ctx_t *ctx, const struct intake_conf *conf)
{
    intake_web_t *iw = &g_iw;
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
        return rc;
    iw->timer = event_new(web_base(w), -1, EV_PERSIST, match_timer, iw);
    struct timeval every = {iw->conf.match_interval_s, 0};
    if (!iw->timer || event_add(iw->timer, &every))
        return CM_ERR_NOMEM;
    return CM_OK;
}

void web_intake_close(void)
{
    if (g_iw.timer)
        event_free(g_iw.timer);
    g_iw.timer = NULL;
}
