/* Calibration and maintenance records over HTTP (ACQ-5): list for everyone who
 * may read, add for engineers. The record logic is core's (store_calibration_*). */
#include <stdio.h>
#include <string.h>

#include "web/web.h"

static cJSON *row_json(sqlite3_stmt *s)
{
    static const char *const keys[] = {"id", "device", "time", "operator", "kind",
                                       "before", "after", "note", "recordedBy"};
    cJSON *o = cJSON_CreateObject();
    for (int c = 0; c < 9; c++) {
        if (c == 0) {
            cJSON_AddNumberToObject(o, keys[c], (double)sqlite3_column_int64(s, c));
        } else if (c == 2) {
            char when[24];
            tm_format_bj(sqlite3_column_int64(s, c), when, sizeof when);
            cJSON_AddStringToObject(o, keys[c], when);
        } else if (sqlite3_column_type(s, c) != SQLITE_NULL) {
            cJSON_AddStringToObject(o, keys[c], (const char *)sqlite3_column_text(s, c));
        }
    }
    return o;
}

static void list(web_req_t *req, web_ctx_t *ctx)
{
    char device[64] = "", from_s[24] = "", to_s[24] = "";
    int64_t from = 0, to = tm_now_s() + 86400;
    web_query(req, "device", device, sizeof device);
    if ((!web_query(req, "from", from_s, sizeof from_s) && tm_parse_bj(from_s, &from)))
        return web_reply_error(req, 400, "from", "expected yyyy-MM-dd[ HH:mm[:ss]]");
    if ((!web_query(req, "to", to_s, sizeof to_s) && tm_parse_bj(to_s, &to)))
        return web_reply_error(req, 400, "to", "expected yyyy-MM-dd[ HH:mm[:ss]]");
    sqlite3_stmt *s;
    if (store_prepare(ctx->reader,
                      "SELECT id, device, time, operator, kind, before_value, after_value, note,"
                      " recorded_by FROM calibration WHERE (?1 = '' OR device = ?1)"
                      " AND time >= ?2 AND time < ?3 ORDER BY time DESC, id DESC LIMIT 1000",
                      &s, NULL, 0))
        return web_reply_error(req, 500, NULL, "database: %s", sqlite3_errmsg(ctx->reader));
    sqlite3_bind_text(s, 1, device, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, to);
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "calibrations");
    while (sqlite3_step(s) == SQLITE_ROW)
        cJSON_AddItemToArray(arr, row_json(s));
    sqlite3_finalize(s);
    web_reply_json(req, 200, root);
}

typedef struct add_job {
    store_calibration_t c;
    const char *actor;
    int64_t id;
} add_job_t;

static int add_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    add_job_t *j = arg;
    return store_calibration_add(db, &j->c, j->actor, "api", &j->id, err, errlen);
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
    add_job_t j = {.actor = web_actor(req)};
    j.c.device = str_field(body, "device");
    j.c.kind = str_field(body, "kind");
    j.c.operator_name = str_field(body, "operator");
    j.c.before = str_field(body, "before");
    j.c.after = str_field(body, "after");
    j.c.note = str_field(body, "note");
    const char *when = str_field(body, "time");
    j.c.time_s = tm_now_s();
    char err[256];
    const char *field = NULL;
    if (when && tm_parse_bj(when, &j.c.time_s)) {
        web_reply_error(req, 400, "time", "expected yyyy-MM-dd HH:mm[:ss] (Beijing time)");
    } else if (store_calibration_check(&j.c, tm_now_s(), &field, err, sizeof err)) {
        web_reply_error(req, 400, field, "%s", err);
    } else if (store_write(ctx->store, add_job, &j, err, sizeof err)) {
        log_error("web", "calibration add: %s", err);
        web_reply_error(req, 500, NULL, "could not store the record");
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)j.id);
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
