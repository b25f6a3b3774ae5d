/* Alarm routes (issue #7): list with filters, one alarm, acknowledge, shelve,
 * clear by hand, pending conditions, settings per type (audited), and the
 * generic condition API. The event stream is in api_alarms_events.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms/alarms.h"
#include "web/api_alarms.h"

static int status_of(int rc)
{
    switch (rc) {
    case CM_ERR_INVALID: return 400;
    case CM_ERR_NOTFOUND: return 404;
    case CM_ERR_CONFLICT: return 409;
    default: return web_status_of(rc);
    }
}

/* The field an error message names: the text before the first ':'. */
static void reply_rc(web_req_t *req, int rc, const char *err)
{
    char field[64] = "";
    const char *colon = strchr(err, ':');
    if (rc == CM_ERR_INVALID && colon && colon - err < (long)sizeof field)
        snprintf(field, sizeof field, "%.*s", (int)(colon - err), err);
    web_reply_error(req, status_of(rc), field[0] ? field : NULL, "%s", err);
}

static const char *body_string(const cJSON *body, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Who acts: the session's user; only a server without logins (unit tests,
 * embedded use) takes the body's "by". */
static const char *actor_of(web_alarms_t *a, web_req_t *req, const cJSON *body)
{
    const char *who = web_actor(a->ctx->web, req);
    if (who && strcmp(who, "anonymous") != 0)
        return who;
    const char *by = body_string(body, "by");
    return by && *by ? by : "anonymous";
}

/* The query values of one list request: a filter keeps at most two of them
 * (source, origin) while it reads its dozen keys, so 16 never wrap into them. */
typedef struct query_vals {
    web_req_t *req;
    char vals[16][160];
    int next;
} query_vals_t;

static const char *query_get(void *arg, const char *key)
{
    query_vals_t *q = arg;
    char *out = q->vals[q->next++ % 16];
    return web_query(q->req, key, out, sizeof q->vals[0]) == CM_OK ? out : NULL;
}

static void list(web_req_t *req, void *arg)
{
    web_alarms_t *a = arg;
    alarm_filter_t f;
    char field[32], err[256];
    query_vals_t *q = calloc(1, sizeof *q); /* 2.5 kB: off the loop's stack */
    if (!q) {
        web_reply_error(req, 500, NULL, "out of memory");
        return;
    }
    q->req = req; /* the filter points into q: it lives until the list is built */
    cJSON *out = NULL;
    int rc = alarm_filter_parse(&f, query_get, q, field, sizeof field, err, sizeof err);
    if (rc)
        web_reply_error(req, 400, field, "%s", err);
    else if ((rc = alarm_list_json(a->ctx->reader, &f, &out, err, sizeof err)))
        reply_rc(req, rc, err);
    else
        web_reply_json(req, 200, out);
    free(q);
}

static void pending(web_req_t *req, web_alarms_t *a)
{
    cJSON *out;
    char err[256];
    int rc = alarm_pending_json(a->ctx->reader, &out, err, sizeof err);
    if (rc)
        reply_rc(req, rc, err);
    else
        web_reply_json(req, 200, out);
}

/* ---- settings -------------------------------------------------------------- */

static void settings_list(web_req_t *req, web_alarms_t *a)
{
    cJSON *arr = cJSON_CreateArray();
    char err[256];
    for (int t = 1; t <= ALARM_T_MAX; t++) {
        alarm_setting_t s;
        if (alarm_setting_get(a->ctx->reader, t, &s, err, sizeof err)) {
            cJSON_Delete(arr);
            reply_rc(req, CM_ERR_DB, err);
            return;
        }
        cJSON_AddItemToArray(arr, alarm_setting_json(&s));
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "settings", arr);
    web_reply_json(req, 200, root);
}

typedef struct setting_put {
    web_alarms_t *a;
    web_req_t *req;
    cJSON *body; /* the changes: the request's body without "by" and "reason" */
    int type;
    char by[40], reason[512];
    char field[64];
    bool changed;
    alarm_setting_t result;
} setting_put_t;

/* Read, apply and write in one job, so two changes at once cannot lose one. */
static int setting_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    setting_put_t *p = arg;
    int rc = alarm_setting_get(db, p->type, &p->result, err, errlen);
    if (!rc)
        rc = alarm_setting_apply_json(&p->result, p->body, p->field, sizeof p->field, err, errlen);
    if (!rc)
        rc = alarm_setting_put(db, &p->result, p->by, "api", p->reason, &p->changed, err, errlen);
    return rc;
}

/* On the loop, once the setting is committed. */
static void setting_done(void *arg, int rc, const char *err)
{
    setting_put_t *p = arg;
    if (rc == CM_ERR_INVALID) {
        web_reply_error(p->req, 400, p->field[0] ? p->field : NULL, "%s", err);
    } else if (rc) {
        reply_rc(p->req, rc, err);
    } else {
        if (p->changed)
            alarm_engine_kick(p->a->engine);
        cJSON *out = alarm_setting_json(&p->result);
        cJSON_AddBoolToObject(out, "changed", p->changed);
        web_reply_json(p->req, 200, out);
    }
    cJSON_Delete(p->body);
    free(p);
}

static void settings_put(web_req_t *req, web_alarms_t *a, const char *type_s)
{
    int type;
    if (alarm_type_parse(type_s, &type)) {
        web_reply_error(req, 404, "type", "no alarm type '%s'", type_s);
        return;
    }
    if (web_require_role(a->ctx->web, req, "engineer"))
        return;
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    const char *reason = body_string(body, "reason");
    setting_put_t *p = NULL;
    if (!reason || !*reason) {
        web_reply_error(req, 400, "reason", "reason: a change of an alarm setting needs a reason");
    } else if (strlen(reason) >= sizeof p->reason) {
        web_reply_error(req, 400, "reason", "reason: at most %zu bytes", sizeof p->reason - 1);
    } else if (!(p = calloc(1, sizeof *p))) {
        web_reply_error(req, 500, NULL, "out of memory");
    } else {
        *p = (setting_put_t){.a = a, .req = req, .type = type};
        snprintf(p->by, sizeof p->by, "%s", actor_of(a, req, body));
        snprintf(p->reason, sizeof p->reason, "%s", reason);
        p->body = cJSON_Duplicate(body, true);
        cJSON_DeleteItemFromObject(p->body, "by");
        cJSON_DeleteItemFromObject(p->body, "reason");
        if (web_write(a->ctx->web, a->ctx->store, setting_job, p, setting_done)) {
            web_reply_busy(req);
            cJSON_Delete(p->body);
            free(p);
        }
    }
    cJSON_Delete(body);
}

/* ---- conditions ------------------------------------------------------------- */

typedef struct cond_put {
    web_alarms_t *a;
    web_req_t *req;
    cJSON *body; /* the condition's strings point into it */
    alarm_cond_t c;
} cond_put_t;

static int cond_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return alarm_condition_put(db, &((cond_put_t *)arg)->c, err, errlen);
}

static void cond_done(void *arg, int rc, const char *err)
{
    cond_put_t *p = arg;
    if (rc) {
        reply_rc(p->req, rc, err);
    } else {
        alarm_engine_kick(p->a->engine);
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "status", "accepted");
        web_reply_json(p->req, 202, out);
    }
    cJSON_Delete(p->body);
    free(p);
}

static void condition_post(web_req_t *req, web_alarms_t *a)
{
    if (web_require_role(a->ctx->web, req, "engineer"))
        return;
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    cond_put_t *p = calloc(1, sizeof *p);
    char field[32], err[256];
    int rc = p ? alarm_cond_from_json(body, &p->c, field, sizeof field, err, sizeof err)
               : CM_ERR_NOMEM;
    if (rc == CM_ERR_NOMEM) {
        web_reply_error(req, 500, NULL, "out of memory");
    } else if (rc) {
        web_reply_error(req, 400, field, "%s", err);
    } else {
        p->a = a;
        p->req = req;
        p->body = body;
        if (!web_write(a->ctx->web, a->ctx->store, cond_job, p, cond_done))
            return; /* cond_done frees p and the body */
        web_reply_busy(req);
    }
    free(p);
    cJSON_Delete(body);
}

/* ---- one alarm ------------------------------------------------------------- */

static void one(web_req_t *req, web_alarms_t *a, int64_t id)
{
    cJSON *out;
    char err[256];
    int rc = alarm_get_json(a->ctx->reader, id, &out, err, sizeof err);
    if (rc)
        reply_rc(req, rc, err);
    else
        web_reply_json(req, 200, out);
}

/* Acknowledge, shelve or clear: the lifecycle call commits on a worker. */
typedef struct action_job {
    web_alarms_t *a;
    web_req_t *req;
    int64_t id, duration_s;
    char verb[8], by[40], text[512]; /* text: the comment or the reason */
    bool has_text;
    int rc;
    char err[256];
} action_job_t;

static void action_work(void *arg)
{
    action_job_t *j = arg;
    store_t *st = j->a->ctx->store;
    const char *text = j->has_text ? j->text : NULL;
    if (strcmp(j->verb, "ack") == 0)
        j->rc = alarm_ack(st, j->id, j->by, text, j->err, sizeof j->err);
    else if (strcmp(j->verb, "clear") == 0)
        j->rc = alarm_clear(st, j->id, j->by, text, j->err, sizeof j->err);
    else
        j->rc = alarm_shelve(st, j->id, j->duration_s, j->by, text, j->err, sizeof j->err);
}

static void action_done(void *arg)
{
    action_job_t *j = arg;
    if (j->rc) {
        reply_rc(j->req, j->rc, j->err);
    } else {
        alarm_engine_changed(j->a->engine);
        one(j->req, j->a, j->id);
    }
    free(j);
}

static void action(web_req_t *req, web_alarms_t *a, int64_t id, const char *verb)
{
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    action_job_t *j = calloc(1, sizeof *j);
    const char *text = body_string(body, strcmp(verb, "ack") == 0 ? "comment" : "reason");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "duration_s");
    if (!j) {
        web_reply_error(req, 500, NULL, "out of memory");
    } else if (strcmp(verb, "shelve") == 0 &&
               (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble > 7 * 86400)) {
        web_reply_error(req, 400, "duration_s", "duration_s: expected 1..604800 seconds");
    } else if (text && strlen(text) >= sizeof j->text) {
        const char *key = strcmp(verb, "ack") == 0 ? "comment" : "reason";
        web_reply_error(req, 400, key, "%s: at most %zu bytes", key, sizeof j->text - 1);
    } else {
        *j = (action_job_t){.a = a, .req = req, .id = id, .has_text = text != NULL,
                            .duration_s = cJSON_IsNumber(d) ? (int64_t)d->valuedouble : 0};
        snprintf(j->verb, sizeof j->verb, "%s", verb);
        snprintf(j->by, sizeof j->by, "%s", actor_of(a, req, body));
        snprintf(j->text, sizeof j->text, "%s", text ? text : "");
        if (!web_defer(a->ctx->web, action_work, action_done, j))
            j = NULL;
        else
            web_reply_busy(req);
    }
    free(j);
    cJSON_Delete(body);
}

/* /api/v1/alarms/{id}[/{ack|shelve|clear}], /pending, /settings[/{type}], /conditions */
static void sub(web_req_t *req, void *arg)
{
    web_alarms_t *a = arg;
    const char *rest = web_path(req) + strlen("/api/v1/alarms/");
    int m = web_method_of(req);
    if (strcmp(rest, "pending") == 0 && m == WEB_GET)
        return pending(req, a);
    if (strcmp(rest, "settings") == 0 && m == WEB_GET)
        return settings_list(req, a);
    if (strncmp(rest, "settings/", 9) == 0 && m == WEB_PUT)
        return settings_put(req, a, rest + 9);
    if (strcmp(rest, "conditions") == 0 && m == WEB_POST)
        return condition_post(req, a);
    char *end;
    long long id = strtoll(rest, &end, 10);
    if (end == rest || id <= 0) {
        web_reply_error(req, 404, NULL, "no such resource: %s", web_path(req));
        return;
    }
    if (*end == '\0' && m == WEB_GET)
        return one(req, a, id);
    if (*end == '/' && m == WEB_POST &&
        (!strcmp(end + 1, "ack") || !strcmp(end + 1, "shelve") || !strcmp(end + 1, "clear")))
        return action(req, a, id, end + 1);
    web_reply_error(req, *end == '\0' || *end == '/' ? 405 : 404, NULL, "%s not allowed on %s",
                    m == WEB_GET ? "GET" : m == WEB_POST ? "POST" : "this method", web_path(req));
}

web_alarms_t *web_register_alarms(web_t *w, web_ctx_t *ctx, struct alarm_engine *engine)
{
    web_alarms_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->ctx = ctx;
    a->engine = engine;
    int rc = web_route(w, WEB_GET, "/api/v1/alarms", list, a);
    if (!rc)
        rc = web_route(w, WEB_GET | WEB_POST | WEB_PUT, "/api/v1/alarms/*", sub, a);
    if (!rc)
        rc = api_alarms_events_start(w, a);
    if (rc) {
        web_alarms_free(a);
        return NULL;
    }
    return a;
}
