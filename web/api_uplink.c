/* Uplink routes: the platform receiver POST /<prefix>/api/<recordType>.do
 * (uplink.md §1), GET /api/v1/enterprises (UPL-4), and the sender's queue
 * state GET /api/v1/uplink/status and /api/v1/uplink/log (UPL-3). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "uplink/uplink.h"
#include "web/web.h"

typedef struct upl_web {
    web_ctx_t *ctx;
    const upl_cfg_t *cfg;
    struct event_base *base;
    char prefix[16];
} upl_web_t;

static upl_web_t g_routes[4];
static int g_nroutes;

/* A request waiting for its store batch: the handler returns at once and the
 * answer goes out from the web thread after the commit, so requests from many
 * enterprises share one commit instead of queueing behind each other's. */
typedef struct rx_pending {
    web_req_t *req;
    struct event_base *base;
    const upl_cfg_t *cfg;
    char *body, *owned, *origin;
    char type[64];
    upl_request_t rq;
    upl_answer_t ans;
    int rc;
    char err[256];
} rx_pending_t;

static atomic_int g_pending; /* requests between store_write_async and their answer */

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
static void rx_reply(evutil_socket_t fd, short what, void *arg)
{
    rx_pending_t *p = arg;
    if (p->rc) {
        log_error("uplink", "receiving %s from %s: %s", p->type, p->rq.mine_code, p->err);
        reply_code(p->req, 500, "服务器内部错误");
    } else {
        if (p->ans.code != 200)
            log_info("uplink", "refused %s from %s: %d %s", p->type, p->rq.mine_code, p->ans.code,
                     p->ans.message);
        reply_code(p->req, p->ans.code, p->ans.message);
    }
    rx_free(p);
    atomic_fetch_sub(&g_pending, 1);
}

/* On the store's writer thread: hand the outcome back to the web thread. */
static void rx_done(void *arg, int rc, const char *err)
{
    rx_pending_t *p = arg;
    p->rc = rc;
    snprintf(p->err, sizeof p->err, "%s", err ? err : "");
    struct timeval now = {0, 0};
    if (event_base_once(p->base, -1, EV_TIMEOUT, rx_reply, p, &now))
        log_error("uplink", "cannot answer a request: the web loop is gone");
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
    *p = (rx_pending_t){.req = req, .base = u->base, .cfg = u->cfg, .body = body, .owned = owned,
                        .origin = origin, .rq = rq};
    snprintf(p->type, sizeof p->type, "%s", type);
    p->rq.record_type = p->type;
    p->rq.origin = p->origin;
    atomic_fetch_add(&g_pending, 1);
    if (store_write_async(u->ctx->store, receive_job, p, rx_done, p)) {
        atomic_fetch_sub(&g_pending, 1);
        reply_code(req, 500, "服务器内部错误");
        rx_free(p);
    }
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
    *base = (upl_web_t){.ctx = ctx, .cfg = cfg, .base = web_base(w)};
    rc = web_route(w, WEB_GET, "/api/v1/uplink/status", on_status, base);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/uplink/log", on_log, base);
    if (!rc && cfg->receiver)
        rc = web_route(w, WEB_GET, "/api/v1/enterprises", on_enterprises, base);
    if (!rc && cfg->receiver)
        rc = web_register_enterprise(w, ctx, cfg);
    for (size_t i = 0; !rc && cfg->receiver && i < sizeof prefixes / sizeof *prefixes; i++) {
        upl_web_t *u = &g_routes[g_nroutes++];
        *u = (upl_web_t){.ctx = ctx, .cfg = cfg, .base = web_base(w)};
        snprintf(u->prefix, sizeof u->prefix, "%s", prefixes[i]);
        char pattern[48];
        snprintf(pattern, sizeof pattern, "/%s/api/*", prefixes[i]);
        rc = web_route_public(w, WEB_POST, pattern, on_receive, u);
    }
    return rc;
}

void web_uplink_drain(web_t *w)
{
    /* Answers still due run on the loop, which has stopped: turn it by hand. */
    for (int i = 0; i < 1000 && atomic_load(&g_pending) > 0; i++) {
        event_base_loop(web_base(w), EVLOOP_NONBLOCK);
        tm_sleep_ms(5);
    }
}
