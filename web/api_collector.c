/* Collector routes (issue #4, ACQ-9, ACQ-10): the device registry with its
 * communication state, one device with its latest values, its event history,
 * and the polling threads' cycle figures. Read-only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "web/web.h"

typedef struct col_routes {
    web_ctx_t *ctx;
    col_t *col;
} col_routes_t;


static void add_value(cJSON *o, const char *key, sqlite3_stmt *s, int i)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_NULL: cJSON_AddNullToObject(o, key); break;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT: cJSON_AddNumberToObject(o, key, sqlite3_column_double(s, i)); break;
    default: cJSON_AddStringToObject(o, key, (const char *)sqlite3_column_text(s, i)); break;
    }
}

#define DEVICE_SQL                                                                              \
    "SELECT d.id, d.name, d.kind, d.model, d.serial, d.gate_type, d.location, d.install_date,"   \
    " d.firmware, coalesce(c.state, 'unknown'), c.since_ms, c.last_ok_ms, c.detail"              \
    " FROM device d LEFT JOIN device_comm c ON c.device_id = d.id"

static cJSON *device_json(sqlite3_stmt *s)
{
    static const char *const keys[] = {"name",     "kind",         "model",   "serial",
                                       "gate_type", "location",    "install_date", "firmware"};
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < 8; i++)
        add_value(o, keys[i], s, i + 1);
    cJSON *comm = cJSON_AddObjectToObject(o, "comm");
    add_value(comm, "state", s, 9);
    tm_json_add_col(comm, "since", s, 10, TM_JSON_ISO_MS);
    tm_json_add_col(comm, "last_ok", s, 11, TM_JSON_ISO_MS);
    add_value(comm, "detail", s, 12);
    return o;
}

/* The device's communication figures, when this daemon polls it. */
static void add_stats(col_t *col, cJSON *o)
{
    col_device_stats_t st;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!col || !cJSON_IsString(name) || col_get_device_stats(col, name->valuestring, &st))
        return;
    cJSON *j = cJSON_AddObjectToObject(o, "stats");
    cJSON_AddNumberToObject(j, "requests", (double)st.requests);
    cJSON_AddNumberToObject(j, "answers", (double)st.answers);
    cJSON_AddNumberToObject(j, "timeouts", (double)st.timeouts);
    cJSON_AddNumberToObject(j, "exceptions", (double)st.exceptions);
    cJSON_AddNumberToObject(j, "crc_errors", (double)st.crc_errors);
    cJSON_AddNumberToObject(j, "bad_frames", (double)st.bad_frames);
    cJSON_AddNumberToObject(j, "late_frames", (double)st.late_frames);
    cJSON *rt = cJSON_AddObjectToObject(j, "response_ms");
    cJSON_AddNumberToObject(rt, "samples", st.samples);
    cJSON_AddNumberToObject(rt, "p50", st.p50_ms);
    cJSON_AddNumberToObject(rt, "p90", st.p90_ms);
    cJSON_AddNumberToObject(rt, "p99", st.p99_ms);
    cJSON_AddNumberToObject(rt, "max", st.max_ms);
}

static void devices(web_req_t *req, void *arg)
{
    col_routes_t *r = arg;
    sqlite3 *db = r->ctx->reader;
    sqlite3_stmt *s;
    char kind[16];
    bool by_kind = web_query(req, "kind", kind, sizeof kind) == CM_OK;
    if (by_kind && strcmp(kind, "meter") && strcmp(kind, "station")) {
        web_reply_error(req, 400, "kind", "kind must be \"meter\" or \"station\"");
        return;
    }
    if (store_prepare(db, DEVICE_SQL " WHERE ?1 IS NULL OR d.kind = ?1 ORDER BY d.name", &s,
                      NULL, 0)) {
        web_reply_failure(req, CM_ERR_DB, sqlite3_errmsg(db));
        return;
    }
    if (by_kind)
        sqlite3_bind_text(s, 1, kind, -1, SQLITE_TRANSIENT);
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "devices");
    char err[256];
    int rc = CM_OK;
    while (!rc && store_next(s, &rc, err, sizeof err)) {
        cJSON *o = device_json(s);
        add_stats(r->col, o);
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(root);
        web_reply_failure(req, rc, err);
        return;
    }
    web_reply_json(req, 200, root);
}

static int device_points(sqlite3 *db, int64_t id, cJSON *arr, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT p.name, p.quantity, p.unit, l.value, l.ts_ms FROM point p"
                           " LEFT JOIN point_latest l ON l.point_id = p.id WHERE p.device_id = ?"
                           " ORDER BY p.id",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *p = cJSON_CreateObject();
        add_value(p, "name", s, 0);
        add_value(p, "quantity", s, 1);
        add_value(p, "unit", s, 2);
        add_value(p, "value", s, 3);
        tm_json_add_col(p, "ts", s, 4, TM_JSON_ISO_MS);
        cJSON_AddItemToArray(arr, p);
    }
    sqlite3_finalize(s);
    return rc;
}

static void device_events(web_req_t *req, sqlite3 *db, int64_t id)
{
    char kind[24];
    long long limit;
    bool by_kind = web_query(req, "kind", kind, sizeof kind) == CM_OK;
    if (!web_query_int(req, "limit", 100, 1, 10000, &limit))
        return;
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "SELECT ts_ms, kind, state, detail FROM device_event WHERE device_id = ?1"
                      " AND (?2 IS NULL OR kind = ?2) ORDER BY ts_ms DESC, id DESC LIMIT ?3",
                      &s, NULL, 0)) {
        web_reply_failure(req, CM_ERR_DB, sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_int64(s, 1, id);
    if (by_kind)
        sqlite3_bind_text(s, 2, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, limit);
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "events");
    char err[256];
    int rc = CM_OK;
    while (!rc && store_next(s, &rc, err, sizeof err)) {
        cJSON *e = cJSON_CreateObject();
        tm_json_add_col(e, "time", s, 0, TM_JSON_ISO_MS);
        add_value(e, "kind", s, 1);
        add_value(e, "state", s, 2);
        add_value(e, "detail", s, 3);
        cJSON_AddItemToArray(arr, e);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(root);
        web_reply_failure(req, rc, err);
        return;
    }
    web_reply_json(req, 200, root);
}

/* /api/v1/devices/{name} and /api/v1/devices/{name}/events */
static void device_one(web_req_t *req, void *arg)
{
    col_routes_t *r = arg;
    sqlite3 *db = r->ctx->reader;
    const char *rest = web_path(req) + strlen("/api/v1/devices/");
    char name[128];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    bool events = slash && strcmp(slash, "/events") == 0;
    if (n == 0 || n >= sizeof name || (slash && !events)) {
        web_reply_error(req, 404, NULL, "no such resource: %s", web_path(req));
        return;
    }
    snprintf(name, sizeof name, "%.*s", (int)n, rest);
    sqlite3_stmt *s;
    if (store_prepare(db, DEVICE_SQL " WHERE d.name = ?", &s, NULL, 0)) {
        web_reply_failure(req, CM_ERR_DB, sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    char err[256];
    int rc = store_step(s, err, sizeof err);
    if (rc <= 0) {
        sqlite3_finalize(s);
        if (rc < 0)
            web_reply_failure(req, rc, err);
        else
            web_reply_error(req, 404, "name", "no device named '%s'", name);
        return;
    }
    int64_t id = sqlite3_column_int64(s, 0);
    if (events) {
        sqlite3_finalize(s);
        device_events(req, db, id);
        return;
    }
    cJSON *o = device_json(s);
    add_stats(r->col, o);
    sqlite3_finalize(s);
    rc = device_points(db, id, cJSON_AddArrayToObject(o, "points"), err, sizeof err);
    if (rc) {
        cJSON_Delete(o);
        web_reply_failure(req, rc, err);
        return;
    }
    web_reply_json(req, 200, o);
}

static void buses(web_req_t *req, void *arg)
{
    col_routes_t *r = arg;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "threads");
    col_bus_stats_t st[64];
    int n = r->col ? col_get_stats(r->col, st, 64) : 0;
    for (int i = 0; i < n && i < 64; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", st[i].name);
        cJSON_AddNumberToObject(o, "devices", st[i].devices);
        cJSON_AddNumberToObject(o, "cycles", (double)st[i].cycles);
        cJSON_AddNumberToObject(o, "last_cycle_ms", st[i].last_cycle_ms);
        cJSON_AddNumberToObject(o, "mean_cycle_ms", st[i].mean_cycle_ms);
        cJSON_AddItemToArray(arr, o);
    }
    web_reply_json(req, 200, root);
}

int web_register_collector(web_t *w, web_ctx_t *ctx, struct col *col)
{
    col_routes_t *r = web_state_new(w, sizeof *r, NULL);
    if (!r)
        return CM_ERR_NOMEM;
    *r = (col_routes_t){.ctx = ctx, .col = col};
    int rc = web_route(w, WEB_GET, "/api/v1/devices", devices, r);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/devices/*", device_one, r);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/collector/threads", buses, r);
    return rc;
}
