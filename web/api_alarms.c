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
    default: return 500;
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
static const char *actor_of(web_req_t *req, const cJSON *body)
{
    const char *who = web_actor(req);
    if (who && strcmp(who, "anonymous") != 0)
        return who;
    const char *by = body_string(body, "by");
    return by && *by ? by : "anonymous";
}

static const char *query_get(void *arg, const char *key)
{
    web_req_t *req = arg;
    /* The web thread is the only caller; a filter keeps at most two of these
     * (source, origin) while it reads its dozen keys, so 16 never wrap into them. */
    static char vals[16][160];
    static int next;
    char *out = vals[next++ % 16];
    return web_query(req, key, out, sizeof vals[0]) == CM_OK ? out : NULL;
}

static void list(web_req_t *req, void *arg)
{
    web_alarms_t *a = arg;
    alarm_filter_t f;
    char field[32], err[256];
    if (alarm_filter_parse(&f, query_get, req, field, sizeof field, err, sizeof err)) {
        web_reply_error(req, 400, field, "%s", err);
        return;
    }
    cJSON *out;
    int rc = alarm_list_json(a->ctx->reader, &f, &out, err, sizeof err);
    if (rc)
        reply_rc(req, rc, err);
    else
        web_reply_json(req, 200, out);
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
    const cJSON *body;
    int type;
    const char *by, *reason;
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


static void settings_put(web_req_t *req, web_alarms_t *a, const char *type_s)
{
    setting_put_t p = {0};
    if (alarm_type_parse(type_s, &p.type)) {
        web_reply_error(req, 404, "type", "no alarm type '%s'", type_s);
        return;
    }
    if (web_require_role(req, "engineer"))
        return;
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    p.by = actor_of(req, body);
    p.reason = body_string(body, "reason");
    if (!p.reason || !*p.reason) {
        web_reply_error(req, 400, "reason", "reason: a change of an alarm setting needs a reason");
        cJSON_Delete(body);
        return;
    }
    cJSON *changes = cJSON_Duplicate(body, true);
    cJSON_DeleteItemFromObject(changes, "by");
    cJSON_DeleteItemFromObject(changes, "reason");
    p.body = changes;
    char err[256];
    int rc = store_write(a->ctx->store, setting_job, &p, err, sizeof err);
    cJSON_Delete(changes);
    cJSON_Delete(body);
    if (rc == CM_ERR_INVALID) {
        web_reply_error(req, 400, p.field[0] ? p.field : NULL, "%s", err);
        return;
    }
    if (rc) {
        reply_rc(req, rc, err);
        return;
    }
    if (p.changed)
        alarm_engine_kick(a->engine);
    cJSON *out = alarm_setting_json(&p.result);
    cJSON_AddBoolToObject(out, "changed", p.changed);
    web_reply_json(req, 200, out);
}

/* ---- conditions ------------------------------------------------------------- */

typedef struct cond_put {
    alarm_cond_t c;
} cond_put_t;

static int cond_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return alarm_condition_put(db, &((cond_put_t *)arg)->c, err, errlen);
}

static void condition_post(web_req_t *req, web_alarms_t *a)
{
    if (web_require_role(req, "engineer"))
        return;
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    cond_put_t p;
    char field[32], err[256];
    int rc = alarm_cond_from_json(body, &p.c, field, sizeof field, err, sizeof err);
    if (rc) {
        web_reply_error(req, 400, field, "%s", err);
        cJSON_Delete(body);
        return;
    }
    rc = store_write(a->ctx->store, cond_job, &p, err, sizeof err);
    cJSON_Delete(body);
    if (rc) {
        reply_rc(req, rc, err);
        return;
    }
    alarm_engine_kick(a->engine);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "accepted");
    web_reply_json(req, 202, out);
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

static void action(web_req_t *req, web_alarms_t *a, int64_t id, const char *verb)
{
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    const char *by = actor_of(req, body);
    char err[256];
    int rc;
    if (strcmp(verb, "ack") == 0) {
        rc = alarm_ack(a->ctx->store, id, by, body_string(body, "comment"), err, sizeof err);
    } else if (strcmp(verb, "clear") == 0) {
        rc = alarm_clear(a->ctx->store, id, by, body_string(body, "reason"), err, sizeof err);
    } else {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "duration_s");
        if (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble > 7 * 86400)
            rc = cm_fail(err, sizeof err, CM_ERR_INVALID, "duration_s: expected 1..604800 seconds");
        else
            rc = alarm_shelve(a->ctx->store, id, (int64_t)d->valuedouble, by,
                              body_string(body, "reason"), err, sizeof err);
    }
    cJSON_Delete(body);
    if (rc) {
        reply_rc(req, rc, err);
        return;
    }
    alarm_engine_changed(a->engine);
    one(req, a, id);
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
