/* Calibration and maintenance records over HTTP (ACQ-5): list for everyone who
 * may read, add for engineers. The record logic is core's (store_calibration_*). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

static void list(web_req_t *req, web_ctx_t *ctx)
{
    char device[64] = "";
    int64_t from = 0, to = tm_now_s() + 86400;
    web_query(req, "device", device, sizeof device);
    if (!web_query_time(req, "from", &from, NULL) || !web_query_time(req, "to", &to, NULL))
        return;
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

/* A record being stored on a worker; its strings point into body. */
typedef struct cal_job {
    web_ctx_t *ctx;
    web_req_t *req;
    cJSON *body;
    store_calibration_t c;
    char actor[40];
    int64_t id;
    int rc;
    char err[256];
} cal_job_t;

static void add_work(void *arg)
{
    cal_job_t *j = arg;
    j->rc = store_calibration_write(j->ctx->store, &j->c, j->actor, "api", &j->id, j->err,
                                    sizeof j->err);
}

static void add_done(void *arg)
{
    cal_job_t *j = arg;
    if (j->rc) {
        log_error("web", "calibration add: %s", j->err);
        web_reply_error(j->req, 500, NULL, "could not store the record");
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)j->id);
        web_reply_json(j->req, 201, o);
    }
    cJSON_Delete(j->body);
    free(j);
}

static void add(web_req_t *req, web_ctx_t *ctx)
{
    if (web_require_role(ctx->web, req, "engineer"))
        return;
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    cal_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        cJSON_Delete(body);
        web_reply_error(req, 500, NULL, "out of memory");
        return;
    }
    *j = (cal_job_t){.ctx = ctx, .req = req, .body = body};
    store_calibration_t *c = &j->c;
    c->device = str_field(body, "device");
    c->kind = str_field(body, "kind");
    c->operator_name = str_field(body, "operator");
    c->before = str_field(body, "before");
    c->after = str_field(body, "after");
    c->note = str_field(body, "note");
    const char *when = str_field(body, "time");
    c->time_s = tm_now_s();
    char err[256];
    const char *field = NULL;
    if (when && tm_parse_bj(when, &c->time_s)) {
        web_reply_error(req, 400, "time", "expected yyyy-MM-dd HH:mm[:ss] (Beijing time)");
    } else if (store_calibration_check(c, tm_now_s(), &field, err, sizeof err)) {
        web_reply_error(req, 400, field, "%s", err);
    } else {
        snprintf(j->actor, sizeof j->actor, "%s", web_actor(ctx->web, req));
        if (!web_defer(ctx->web, add_work, add_done, j))
            return; /* add_done frees j and the body */
        web_reply_busy(req);
    }
    cJSON_Delete(body);
    free(j);
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
