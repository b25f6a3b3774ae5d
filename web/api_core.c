/* Core routes: live values, health, metrics, and the embedded dashboard. */
#include <stdio.h>
#include <string.h>

#include "core/embed.h"
#include "web/web.h"

extern const embed_file_t web_static_files[];

static cJSON *iso_time(int64_t ms)
{
    char buf[40];
    tm_format_bj_iso_ms(ms, buf, sizeof buf);
    return cJSON_CreateString(buf);
}

static void add_text_or_null(cJSON *o, const char *key, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (t)
        cJSON_AddStringToObject(o, key, (const char *)t);
    else
        cJSON_AddNullToObject(o, key);
}

static int add_points(sqlite3 *db, int64_t device_id, cJSON *arr, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc;
    if (store_prepare(db,
                      "SELECT p.name, p.quantity, p.unit, l.value, l.ts_ms, l.quality"
                      " FROM point p LEFT JOIN point_latest l ON l.point_id = p.id"
                      " WHERE p.device_id = ? ORDER BY p.id",
                      &s, NULL, 0))
        return CM_ERR_DB;
    sqlite3_bind_int64(s, 1, device_id);
    rc = CM_OK;
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *p = cJSON_CreateObject();
        add_text_or_null(p, "name", s, 0);
        add_text_or_null(p, "quantity", s, 1);
        add_text_or_null(p, "unit", s, 2);
        if (sqlite3_column_type(s, 3) == SQLITE_NULL) {
            cJSON_AddNullToObject(p, "value");
            cJSON_AddNullToObject(p, "ts");
        } else {
            cJSON_AddNumberToObject(p, "value", sqlite3_column_double(s, 3));
            cJSON_AddItemToObject(p, "ts", iso_time(sqlite3_column_int64(s, 4)));
            cJSON_AddNumberToObject(p, "ts_ms", (double)sqlite3_column_int64(s, 4));
            cJSON_AddNumberToObject(p, "quality", sqlite3_column_int(s, 5));
        }
        cJSON_AddItemToArray(arr, p);
    }
    sqlite3_finalize(s);
    return rc;
}

static void live(web_req_t *req, void *arg)
{
    web_ctx_t *ctx = arg;
    sqlite3 *db = ctx->reader;
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "SELECT d.id, d.name, d.kind, d.model, d.serial,"
                      " coalesce(c.state, 'unknown'), c.since_ms, c.last_ok_ms, c.detail"
                      " FROM device d LEFT JOIN device_comm c ON c.device_id = d.id ORDER BY d.id",
                      &s, NULL, 0)) {
        web_reply_failure(req, CM_ERR_DB, sqlite3_errmsg(db));
        return;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "time", iso_time(tm_now_ms()));
    cJSON *devices = cJSON_AddArrayToObject(root, "devices");
    char err[256];
    int rc = CM_OK;
    while (!rc && store_next(s, &rc, err, sizeof err)) {
        cJSON *d = cJSON_CreateObject();
        add_text_or_null(d, "name", s, 1);
        add_text_or_null(d, "kind", s, 2);
        add_text_or_null(d, "model", s, 3);
        add_text_or_null(d, "serial", s, 4);
        cJSON *comm = cJSON_AddObjectToObject(d, "comm");
        add_text_or_null(comm, "state", s, 5);
        if (sqlite3_column_type(s, 6) != SQLITE_NULL)
            cJSON_AddItemToObject(comm, "since", iso_time(sqlite3_column_int64(s, 6)));
        if (sqlite3_column_type(s, 7) != SQLITE_NULL)
            cJSON_AddItemToObject(comm, "last_ok", iso_time(sqlite3_column_int64(s, 7)));
        add_text_or_null(comm, "detail", s, 8);
        cJSON_AddItemToArray(devices, d);
        rc = add_points(db, sqlite3_column_int64(s, 0), cJSON_AddArrayToObject(d, "points"), err,
                        sizeof err);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(root);
        web_reply_failure(req, rc, err);
        return;
    }
    web_reply_json(req, 200, root);
}

static void health(web_req_t *req, void *arg)
{
    web_ctx_t *ctx = arg;
    store_stats_t st;
    store_get_stats(ctx->store, &st);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "ok");
    cJSON_AddStringToObject(j, "role", ctx->role);
    cJSON_AddStringToObject(j, "version", ctx->version);
    cJSON_AddItemToObject(j, "time", iso_time(tm_now_ms()));
    cJSON *store = cJSON_AddObjectToObject(j, "store");
    cJSON_AddNumberToObject(store, "queue_depth", st.queue_depth);
    cJSON_AddNumberToObject(store, "batches", (double)st.batches);
    cJSON_AddNumberToObject(store, "readings", (double)st.readings);
    web_reply_json(req, 200, j);
}

static void metrics(web_req_t *req, void *arg)
{
    web_ctx_t *ctx = arg;
    store_stats_t st;
    store_get_stats(ctx->store, &st);
    char buf[8192];
    int n = snprintf(buf, sizeof buf,
                     "# HELP coalmon_store_batches_total Batches committed by the writer.\n"
                     "# TYPE coalmon_store_batches_total counter\n"
                     "coalmon_store_batches_total %llu\n"
                     "# HELP coalmon_store_readings_total Readings committed.\n"
                     "# TYPE coalmon_store_readings_total counter\n"
                     "coalmon_store_readings_total %llu\n"
                     "# HELP coalmon_store_failed_jobs_total Write jobs that failed.\n"
                     "# TYPE coalmon_store_failed_jobs_total counter\n"
                     "coalmon_store_failed_jobs_total %llu\n"
                     "# HELP coalmon_store_queue_depth Jobs waiting for the writer.\n"
                     "# TYPE coalmon_store_queue_depth gauge\n"
                     "coalmon_store_queue_depth %d\n"
                     "# HELP coalmon_device_online 1 when the device answers.\n"
                     "# TYPE coalmon_device_online gauge\n",
                     (unsigned long long)st.batches, (unsigned long long)st.readings,
                     (unsigned long long)st.failed_jobs, st.queue_depth);
    sqlite3_stmt *s;
    if (store_prepare(ctx->reader,
                      "SELECT d.name, coalesce(c.state, 'unknown') FROM device d"
                      " LEFT JOIN device_comm c ON c.device_id = d.id ORDER BY d.id",
                      &s, NULL, 0) == CM_OK) {
        int rc = CM_OK;
        while (!rc && n < (int)sizeof buf - 200 && store_next(s, &rc, NULL, 0)) {
            const char *name = (const char *)sqlite3_column_text(s, 0);
            const char *state = (const char *)sqlite3_column_text(s, 1);
            /* Device names are configuration: keep label values to a safe alphabet. */
            char safe[64];
            size_t k = 0;
            for (const char *p = name; *p && k + 1 < sizeof safe; p++)
                safe[k++] = (*p == '"' || *p == '\\' || *p == '\n') ? '_' : *p;
            safe[k] = '\0';
            n += snprintf(buf + n, sizeof buf - (size_t)n, "coalmon_device_online{device=\"%s\"} %d\n",
                          safe, strcmp(state, "online") == 0);
        }
        sqlite3_finalize(s);
    }
    web_reply_data(req, 200, "text/plain; version=0.0.4", buf, (size_t)n);
}

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    if (!strcmp(dot, ".png"))
        return "image/png";
    if (!strcmp(dot, ".json"))
        return "application/json";
    return "application/octet-stream";
}

static void static_file(web_req_t *req, void *arg)
{
    const char *path = web_path(req);
    const char *name = strcmp(path, "/") == 0 ? "index.html" : path + 1;
    for (const embed_file_t *f = web_static_files; f->name; f++)
        if (strcmp(f->name, name) == 0) {
            web_reply_data(req, 200, content_type(f->name), f->data, f->len);
            return;
        }
    web_reply_error(req, 404, NULL, "no such resource: %s", path);
}

int web_register_core(web_t *w, web_ctx_t *ctx)
{
    int rc = web_route(w, WEB_GET, "/api/v1/live", live, ctx);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/health", health, ctx);
    if (!rc)
        rc = web_route(w, WEB_GET, "/metrics", metrics, ctx);
    if (!rc)
        rc = web_route(w, WEB_GET, "/*", static_file, ctx);
    return rc;
}
