/* Calibration and maintenance records over HTTP (ACQ-5): list for everyone who
 * may read, add for engineers. The record logic is core's (store_calibration_*). */
#include <stdio.h>
#include <string.h>

#include "web/web.h"

static void list(web_req_t *req, web_ctx_t *ctx)
{
    char device[64] = "", from_s[24] = "", to_s[24] = "";
    int64_t from = 0, to = tm_now_s() + 86400;
    web_query(req, "device", device, sizeof device);
    if ((!web_query(req, "from", from_s, sizeof from_s) && tm_parse_bj(from_s, &from)))
        return web_reply_error(req, 400, "from", "expected yyyy-MM-dd[ HH:mm[:ss]]");
    if ((!web_query(req, "to", to_s, sizeof to_s) && tm_parse_bj(to_s, &to)))
        return web_reply_error(req, 400, "to", "expected yyyy-MM-dd[ HH:mm[:ss]]");
    char err[256];
    cJSON *arr = store_calibration_list(ctx->reader, device, from, to, 1000, err, sizeof err);
    if (!arr)
        return web_reply_error(req, 500, NULL, "database: %s", err);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "calibrations", arr);
    web_reply_json(req, 200, root);
}

static const char *str_field(const cJSON *body, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void add(web_req_t *req, web_ctx_t *ctx)
{
    if (web_require_role(req, "engineer"))
        return;
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    store_calibration_t c = {0};
    int64_t id = 0;
    c.device = str_field(body, "device");
    c.kind = str_field(body, "kind");
    c.operator_name = str_field(body, "operator");
    c.before = str_field(body, "before");
    c.after = str_field(body, "after");
    c.note = str_field(body, "note");
    const char *when = str_field(body, "time");
    c.time_s = tm_now_s();
    char err[256];
    const char *field = NULL;
    if (when && tm_parse_bj(when, &c.time_s)) {
        web_reply_error(req, 400, "time", "expected yyyy-MM-dd HH:mm[:ss] (Beijing time)");
    } else if (store_calibration_check(&c, tm_now_s(), &field, err, sizeof err)) {
        web_reply_error(req, 400, field, "%s", err);
    } else if (store_calibration_write(ctx->store, &c, web_actor(req), "api", &id, err,
                                       sizeof err)) {
        log_error("web", "calibration add: %s", err);
        web_reply_error(req, 500, NULL, "could not store the record");
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)id);
        web_reply_json(req, 201, o);
    }
    cJSON_Delete(body);
}

static void calibrations(web_req_t *req, void *arg)
{
    if (web_method_of(req) == WEB_POST)
        add(req, arg);
    else
        list(req, arg);
}

int web_register_calibration(web_t *w, web_ctx_t *ctx)
{
    return web_route(w, WEB_GET | WEB_POST, "/api/v1/calibrations", calibrations, ctx);
}
