/* Uplink routes: the platform receiver POST /<prefix>/api/<recordType>.do
 * (uplink.md §1), GET /api/v1/enterprises (UPL-4), and the sender's queue
 * state GET /api/v1/uplink/status and /api/v1/uplink/log (UPL-3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uplink/uplink.h"
#include "web/web.h"

/* One route's state (web_state_new): the status routes' and each receiver prefix's. */
typedef struct upl_web {
    web_ctx_t *ctx;
    const upl_cfg_t *cfg;
    char prefix[16];
} upl_web_t;

/* A request waiting for its store batch: the handler returns at once and the
 * answer goes out from the web thread after the commit (web_write), so
 * requests from many enterprises share one commit instead of queueing behind
 * each other's. */
typedef struct rx_pending {
    web_req_t *req;
    const upl_cfg_t *cfg;
    char *body, *owned, *origin;
    char type[64];
    upl_request_t rq;
    upl_answer_t ans;
} rx_pending_t;

static int receive_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    rx_pending_t *p = arg;
    return upl_receive_job(db, p->cfg, &p->rq, tm_now_ms(), &p->ans, err, errlen);
}

static void rx_free(rx_pending_t *p)
{
    free(p->body);
    free(p->owned);
    free(p->origin);
    free(p);
}

/* The contract's answer: always HTTP 200, the outcome in the body's code. */
static void reply_code(web_req_t *req, int code, const char *message)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "code", code);
    cJSON_AddStringToObject(b, "message", message);
    web_reply_json(req, 200, b);
}

/* On the web thread: the batch is committed (or failed); answer. */
static void rx_reply(void *arg, int rc, const char *err)
{
    rx_pending_t *p = arg;
    if (rc) {
        log_error("uplink", "receiving %s from %s: %s", p->type, p->rq.mine_code, err);
        reply_code(p->req, 500, "服务器内部错误");
    } else {
        if (p->ans.code != 200)
            log_info("uplink", "refused %s from %s: %d %s", p->type, p->rq.mine_code, p->ans.code,
                     p->ans.message);
        reply_code(p->req, p->ans.code, p->ans.message);
    }
    rx_free(p);
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
    rx_pending_t *p = calloc(1, sizeof *p);
    char *origin = rq.origin ? strdup(rq.origin) : NULL; /* header storage is libevent's */
    if (!p || (rq.origin && !origin)) {
        reply_code(req, 500, "服务器内部错误");
        free(body);
        free(owned);
        free(origin);
        free(p);
        return;
    }
    *p = (rx_pending_t){.req = req, .cfg = u->cfg, .body = body, .owned = owned,
                        .origin = origin, .rq = rq};
    snprintf(p->type, sizeof p->type, "%s", type);
    p->rq.record_type = p->type;
    p->rq.origin = p->origin;
    if (web_write(u->ctx->web, u->ctx->store, receive_job, p, rx_reply)) {
        reply_code(req, 503, "服务器忙，请稍后重试");
        rx_free(p);
    }
}

static void on_enterprises(web_req_t *req, void *arg)
{
    upl_web_t *u = arg;
    long long days;
    if (!web_query_int(req, "days", 7, 1, 92, &days))
        return;
    char err[256];
    cJSON *list = upl_overview(u->ctx->reader, u->cfg, tm_now_s(), (int)days, err, sizeof err);
    if (!list) {
        web_reply_error(req, 500, NULL, "%s", err);
        return;
    }
    cJSON *b = cJSON_CreateObject();
    char now[40];
    tm_format_bj_iso_ms(tm_now_ms(), now, sizeof now);
    cJSON_AddStringToObject(b, "time", now);
    cJSON_AddNumberToObject(b, "days", (double)days);
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
    long long limit;
    char dest[64], err[256];
    if (!web_query_int(req, "limit", 100, 1, 10000, &limit))
        return;
    bool has_dest = web_query(req, "destination", dest, sizeof dest) == CM_OK;
    cJSON *list = upl_log_list(u->ctx->reader, has_dest ? dest : NULL, (int)limit, err, sizeof err);
    if (!list) {
        web_reply_error(req, 500, NULL, "%s", err);
        return;
    }
    cJSON *b = cJSON_CreateObject();
    cJSON_AddItemToObject(b, "log", list);
    web_reply_json(req, 200, b);
}

static upl_web_t *route_state(web_t *w, web_ctx_t *ctx, const upl_cfg_t *cfg, const char *prefix)
{
    upl_web_t *u = web_state_new(w, sizeof *u, NULL);
    if (u) {
        *u = (upl_web_t){.ctx = ctx, .cfg = cfg};
        snprintf(u->prefix, sizeof u->prefix, "%s", prefix);
    }
    return u;
}

int web_register_uplink(web_t *w, web_ctx_t *ctx, const upl_cfg_t *cfg)
{
    static const char *const prefixes[] = {"cms", "scyf"};
    upl_web_t *base = route_state(w, ctx, cfg, "");
    if (!base)
        return CM_ERR_NOMEM;
    int rc = web_route(w, WEB_GET, "/api/v1/uplink/status", on_status, base);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/uplink/log", on_log, base);
    if (!rc && cfg->receiver)
        rc = web_route(w, WEB_GET, "/api/v1/enterprises", on_enterprises, base);
    if (!rc && cfg->receiver)
        rc = web_register_enterprise(w, ctx, cfg);
    for (size_t i = 0; !rc && cfg->receiver && i < sizeof prefixes / sizeof *prefixes; i++) {
        upl_web_t *u = route_state(w, ctx, cfg, prefixes[i]);
        char pattern[48];
        snprintf(pattern, sizeof pattern, "/%s/api/*", prefixes[i]);
        rc = u ? web_route_public(w, WEB_POST, pattern, on_receive, u) : CM_ERR_NOMEM;
    }
    return rc;
}
