/* Uplink routes: the platform receiver POST /<prefix>/api/<recordType>.do
 * (uplink.md §1), GET /api/v1/enterprises (UPL-4), and the sender's queue
 * state GET /api/v1/uplink/status and /api/v1/uplink/log (UPL-3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uplink/uplink.h"
#include "web/web.h"

typedef struct upl_web {
    web_ctx_t *ctx;
    const upl_cfg_t *cfg;
    char prefix[16];
} upl_web_t;

static upl_web_t g_routes[4];
static int g_nroutes;

typedef struct receive_arg {
    const upl_cfg_t *cfg;
    const upl_request_t *rq;
    upl_answer_t *ans;
} receive_arg_t;

static int receive_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    receive_arg_t *a = arg;
    return upl_receive_job(db, a->cfg, a->rq, tm_now_ms(), a->ans, err, errlen);
}

/* The contract's answer: always HTTP 200, the outcome in the body's code. */
static void reply_code(web_req_t *req, int code, const char *message)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "code", code);
    cJSON_AddStringToObject(b, "message", message);
    web_reply_json(req, 200, b);
}

static void on_receive(web_req_t *req, void *arg)
{
    upl_web_t *u = arg;
    const char *path = web_path(req); /* /<prefix>/api/<type>.do */
    char type[64];
    size_t pl = strlen(u->prefix) + 6;
    const char *t = path + pl;
    size_t tl = strlen(t);
    if (tl < 4 || tl - 3 >= sizeof type || strcmp(t + tl - 3, ".do")) {
        reply_code(req, 400, "请求体参数不正确: recordType: expected /<prefix>/api/<recordType>.do");
        return;
    }
    snprintf(type, sizeof type, "%.*s", (int)(tl - 3), t);
    size_t len = 0;
    char *body = web_body(req, &len), *owned = NULL, field[64], err[256];
    upl_request_t rq = {.prefix = u->prefix, .record_type = type, .body_len = len,
                        .origin = web_header(req, "X-Coalmon-Origin")};
    if (!body || upl_parse_body(web_header(req, "Content-Type"), body, len, &owned, &rq.mine_code,
                                &rq.token, &rq.data, field, sizeof field, err, sizeof err)) {
        char msg[300];
        snprintf(msg, sizeof msg, "请求体参数不正确: %s", body ? err : "no body");
        reply_code(req, 400, msg);
        free(body);
        free(owned);
        return;
    }
    upl_answer_t ans;
    receive_arg_t a = {.cfg = u->cfg, .rq = &rq, .ans = &ans};
    if (store_write(u->ctx->store, receive_job, &a, err, sizeof err)) {
        log_error("uplink", "receiving %s from %s: %s", type, rq.mine_code, err);
        reply_code(req, 500, "服务器内部错误");
    } else {
        if (ans.code != 200)
            log_info("uplink", "refused %s from %s: %d %s", type, rq.mine_code, ans.code, ans.message);
        reply_code(req, ans.code, ans.message);
    }
    free(body);
    free(owned);
}

static int query_int(web_req_t *req, const char *key, int def, int min, int max, int *out)
{
    char buf[32];
    if (web_query(req, key, buf, sizeof buf)) {
        *out = def;
        return CM_OK;
    }
    char *end;
    long v = strtol(buf, &end, 10);
    if (*end || !*buf || v < min || v > max) {
        web_reply_error(req, 400, key, "%s: expected an integer in %d..%d", key, min, max);
        return CM_ERR_INVALID;
    }
    *out = (int)v;
    return CM_OK;
}

static void on_enterprises(web_req_t *req, void *arg)
{
    upl_web_t *u = arg;
    int days;
    if (query_int(req, "days", 7, 1, 92, &days))
        return;
    char err[256];
    cJSON *list = upl_overview(u->ctx->reader, u->cfg, tm_now_s(), days, err, sizeof err);
    if (!list) {
        web_reply_error(req, 500, NULL, "%s", err);
        return;
    }
    cJSON *b = cJSON_CreateObject();
    char now[40];
    tm_format_bj_iso_ms(tm_now_ms(), now, sizeof now);
    cJSON_AddStringToObject(b, "time", now);
    cJSON_AddNumberToObject(b, "days", days);
    cJSON_AddItemToObject(b, "enterprises", list);
    web_reply_json(req, 200, b);
}

static void on_status(web_req_t *req, void *arg)
{
    upl_web_t *u = arg;
    char err[256];
    cJSON *list = upl_queue_status(u->ctx->reader, tm_now_ms(), err, sizeof err);
    if (!list) {
        web_reply_error(req, 500, NULL, "%s", err);
        return;
    }
    cJSON *b = cJSON_CreateObject();
    cJSON_AddItemToObject(b, "destinations", list);
    web_reply_json(req, 200, b);
}

static void on_log(web_req_t *req, void *arg)
{
    upl_web_t *u = arg;
    int limit;
    char dest[64], err[256];
    if (query_int(req, "limit", 100, 1, 10000, &limit))
        return;
    bool has_dest = web_query(req, "destination", dest, sizeof dest) == CM_OK;
    cJSON *list = upl_log_list(u->ctx->reader, has_dest ? dest : NULL, limit, err, sizeof err);
    if (!list) {
        web_reply_error(req, 500, NULL, "%s", err);
        return;
    }
    cJSON *b = cJSON_CreateObject();
    cJSON_AddItemToObject(b, "log", list);
    web_reply_json(req, 200, b);
}

int web_register_uplink(web_t *w, web_ctx_t *ctx, const upl_cfg_t *cfg)
{
    static const char *const prefixes[] = {"cms", "scyf"};
    g_nroutes = 0;
    int rc = CM_OK;
    upl_web_t *base = &g_routes[g_nroutes++];
    *base = (upl_web_t){.ctx = ctx, .cfg = cfg};
    rc = web_route(w, WEB_GET, "/api/v1/uplink/status", on_status, base);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/uplink/log", on_log, base);
    if (!rc && cfg->receiver)
        rc = web_route(w, WEB_GET, "/api/v1/enterprises", on_enterprises, base);
    for (size_t i = 0; !rc && cfg->receiver && i < sizeof prefixes / sizeof *prefixes; i++) {
        upl_web_t *u = &g_routes[g_nroutes++];
        *u = (upl_web_t){.ctx = ctx, .cfg = cfg};
        snprintf(u->prefix, sizeof u->prefix, "%s", prefixes[i]);
        char pattern[48];
        snprintf(pattern, sizeof pattern, "/%s/api/*", prefixes[i]);
        rc = web_route_public(w, WEB_POST, pattern, on_receive, u);
    }
    return rc;
}
