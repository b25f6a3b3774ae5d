/* The county screen's drill-down into one enterprise (issue 8, UPL-4):
 * GET /api/v1/enterprises/{code} and /api/v1/enterprises/{code}/records.
 * Reads only, on the web thread's reader. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uplink/uplink.h"
#include "web/web.h"

typedef struct ent_web {
    web_ctx_t *ctx;
    const upl_cfg_t *cfg;
} ent_web_t;

#define ENT_PREFIX "/api/v1/enterprises/"

/* Split /api/v1/enterprises/<code>[/<sub>]; codes are letters, digits, '-', '_'. */
static int split_path(web_req_t *req, char *code, size_t codelen, const char **sub)
{
    const char *p = web_path(req) + strlen(ENT_PREFIX);
    size_t n = strcspn(p, "/");
    bool ok = n > 0 && n < codelen;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)p[i]) || p[i] == '-' || p[i] == '_';
    if (!ok) {
        web_reply_error(req, 400, "code", "code: expected an enterprise code (letters, digits)");
        return CM_ERR_INVALID;
    }
    memcpy(code, p, n);
    code[n] = 0;
    *sub = p[n] == '/' ? p + n + 1 : NULL;
    return CM_OK;
}

static void reply_rc(web_req_t *req, int rc, const char *err)
{
    if (rc == CM_ERR_NOTFOUND)
        web_reply_error(req, 404, "code", "%s", err);
    else
        web_reply_error(req, 500, NULL, "%s", err);
}

static void on_show(web_req_t *req, ent_web_t *e, const char *code)
{
    long long days;
    if (!web_query_int(req, "days", 7, 1, 92, &days))
        return;
    char err[256];
    cJSON *o;
    int rc = upl_enterprise_show(e->ctx->reader, e->cfg, code, tm_now_s(), (int)days, &o, err,
                                 sizeof err);
    if (rc)
        reply_rc(req, rc, err);
    else
        web_reply_json(req, 200, o);
}

static void on_records(web_req_t *req, ent_web_t *e, const char *code)
{
    char type[64];
    long long limit, offset;
    upl_records_q_t q = {.code = code};
    if (web_query(req, "type", type, sizeof type) == CM_OK && *type) {
        if (!upl_schema_known("cms", type) && !upl_schema_known("scyf", type)) {
            web_reply_error(req, 400, "type", "type: no record type %s", type);
            return;
        }
        q.type = type;
    }
    if (!web_query_time(req, "from", &q.from_s, NULL) || !web_query_time(req, "to", &q.to_s, NULL) ||
        !web_query_int(req, "limit", 100, 1, 1000, &limit) ||
        !web_query_int(req, "offset", 0, 0, 1000000, &offset))
        return;
    if (q.from_s && q.to_s && q.to_s <= q.from_s) {
        web_reply_error(req, 400, "to", "to: must be after from");
        return;
    }
    q.limit = (int)limit;
    q.offset = (int)offset;
    char err[256];
    cJSON *o;
    int rc = upl_received_list(e->ctx->reader, &q, &o, err, sizeof err);
    if (rc)
        reply_rc(req, rc, err);
    else
        web_reply_json(req, 200, o);
}

static void on_enterprise(web_req_t *req, void *arg)
{
    char code[40];
    const char *sub;
    if (split_path(req, code, sizeof code, &sub))
        return;
    if (!sub || !*sub)
        on_show(req, arg, code);
    else if (!strcmp(sub, "records"))
        on_records(req, arg, code);
    else
        web_reply_error(req, 404, NULL, "no such resource: %s", web_path(req));
}

int web_register_enterprise(web_t *w, web_ctx_t *ctx, const upl_cfg_t *cfg)
{
    ent_web_t *e = web_state_new(w, sizeof *e, NULL);
    if (!e)
        return CM_ERR_NOMEM;
    *e = (ent_web_t){.ctx = ctx, .cfg = cfg};
    return web_route(w, WEB_GET, ENT_PREFIX "*", on_enterprise, e);
}
