/* GET /api/v1/series (QRY-1): one point's stored values over a time range, as
 * raw readings or as minute averages with their min and max, for charts such
 * as the dashboard's live power curve, which preloads its last hour here. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

/* A year of minutes would be half a million rows: the reply stops here and
 * says so, and the caller asks again from the last time it got. */
#define SERIES_MAX_ROWS 20000
#define SERIES_DEFAULT_SPAN_MS (3600 * 1000LL)
/* step=auto reads raw rows up to this span (7 200 rows at a 1 s poll). */
#define SERIES_RAW_SPAN_MS (2 * 3600 * 1000LL)
#define WHEN_HINT "expected epoch milliseconds or yyyy-MM-dd[ HH:mm[:ss[.mmm]]] (Beijing time)"

typedef enum { STEP_RAW, STEP_MINUTE, STEP_AUTO } series_step;

typedef struct series_point {
    int64_t id;
    char name[64];
    char quantity[64];
    char unit[32];
} series_point_t;

typedef struct series_query {
    char device[128];
    series_point_t point;
    int64_t from_ms, to_ms;
    series_step step;
} series_query_t;

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Strips ".mmm" (1-3 digits) at buf[19] and returns the milliseconds it held,
 * or -1 when what follows the seconds is not a fraction. */
static int take_fraction(char *buf)
{
    if (strlen(buf) <= 19)
        return 0;
    const char *f = buf + 20;
    size_t n = strlen(f);
    if (buf[19] != '.' || n < 1 || n > 3 || !all_digits(f))
        return -1;
    int ms = atoi(f);
    for (size_t i = n; i < 3; i++)
        ms *= 10;
    buf[19] = '\0';
    return ms;
}

/* Epoch milliseconds, or Beijing wall time as the other endpoints take it
 * (tm_parse_bj), also in the ISO form this API writes ("T", ".mmm", "+08:00").
 * A '+' left unencoded in a query string arrives as a space, so " 08:00" is
 * taken as the same offset. */
static int parse_when(const char *s, int64_t *ms)
{
    if (all_digits(s)) {
        if (strlen(s) > 15)
            return CM_ERR_INVALID;
        *ms = strtoll(s, NULL, 10);
        return CM_OK;
    }
    char buf[40];
    size_t len = strlen(s);
    if (len >= sizeof buf)
        return CM_ERR_INVALID;
    memcpy(buf, s, len + 1);
    if (len > 6 && (strcmp(buf + len - 6, "+08:00") == 0 || strcmp(buf + len - 6, " 08:00") == 0))
        buf[len -= 6] = '\0';
    if (len > 10 && buf[10] == 'T')
        buf[10] = ' ';
    int frac = take_fraction(buf);
    int64_t epoch;
    if (frac < 0 || tm_parse_bj(buf, &epoch))
        return CM_ERR_INVALID;
    *ms = epoch * 1000 + frac;
    return CM_OK;
}

/* One time parameter; absent leaves *ms as it is. Replies 400 itself. */
static bool query_when(web_req_t *req, const char *key, int64_t *ms, bool *given)
{
    char buf[48];
    int rc = web_query(req, key, buf, sizeof buf);
    *given = rc != CM_ERR_NOTFOUND;
    if (rc == CM_ERR_NOTFOUND)
        return true;
    if (rc || parse_when(buf, ms)) {
        web_reply_error(req, 400, key, "%s: " WHEN_HINT, key);
        return false;
    }
    return true;
}

/* from and to default to the hour before now, or the hour before `to`. */
static bool query_range(web_req_t *req, series_query_t *q)
{
    bool has_from, has_to;
    q->to_ms = tm_now_ms();
    if (!query_when(req, "to", &q->to_ms, &has_to) ||
        !query_when(req, "from", &q->from_ms, &has_from))
        return false;
    if (!has_from)
        q->from_ms = q->to_ms - SERIES_DEFAULT_SPAN_MS;
    if (q->from_ms > q->to_ms) {
        web_reply_error(req, 400, "from", "from must not be after to");
        return false;
    }
    return true;
}

static bool query_step(web_req_t *req, series_step *step)
{
    char buf[16];
    int rc = web_query(req, "step", buf, sizeof buf);
    *step = STEP_AUTO;
    if (rc == CM_ERR_NOTFOUND || (rc == CM_OK && strcmp(buf, "auto") == 0))
        return true;
    if (rc == CM_OK && strcmp(buf, "raw") == 0)
        *step = STEP_RAW;
    else if (rc == CM_OK && strcmp(buf, "minute") == 0)
        *step = STEP_MINUTE;
    else {
        web_reply_error(req, 400, "step", "step must be \"raw\", \"minute\" or \"auto\"");
        return false;
    }
    return true;
}

static void copy_text(char *dst, size_t len, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, len, "%s", t ? (const char *)t : "");
}

/* 0 found, CM_ERR_NOTFOUND when the device has no such point, CM_ERR_INVALID
 * when a quantity names more than one of its points, CM_ERR_DB. */
static int find_point(sqlite3 *db, int64_t device_id, const char *quantity, int64_t point_id,
                      series_point_t *out)
{
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "SELECT id, name, quantity, unit FROM point WHERE device_id = ?1"
                      " AND (?2 IS NULL OR quantity = ?2) AND (?3 IS NULL OR id = ?3)"
                      " ORDER BY id LIMIT 2",
                      &s, NULL, 0))
        return CM_ERR_DB;
    sqlite3_bind_int64(s, 1, device_id);
    if (quantity)
        sqlite3_bind_text(s, 2, quantity, -1, SQLITE_TRANSIENT);
    if (point_id >= 0)
        sqlite3_bind_int64(s, 3, point_id);
    int found = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && ++found == 1) {
        out->id = sqlite3_column_int64(s, 0);
        copy_text(out->name, sizeof out->name, s, 1);
        copy_text(out->quantity, sizeof out->quantity, s, 2);
        copy_text(out->unit, sizeof out->unit, s, 3);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return CM_ERR_DB;
    return found == 0 ? CM_ERR_NOTFOUND : found > 1 ? CM_ERR_INVALID : CM_OK;
}

static int find_device(sqlite3 *db, const char *name, int64_t *id)
{
    sqlite3_stmt *s;
    if (store_prepare(db, "SELECT id FROM device WHERE name = ?1", &s, NULL, 0))
        return CM_ERR_DB;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? CM_OK : rc == SQLITE_DONE ? CM_ERR_NOTFOUND : CM_ERR_DB;
}

/* device, and quantity or point: replies 400/404/500 itself. */
static bool query_point(web_req_t *req, sqlite3 *db, series_query_t *q)
{
    char quantity[64], point_s[24];
    int rq = web_query(req, "quantity", quantity, sizeof quantity);
    int rp = web_query(req, "point", point_s, sizeof point_s);
    int rd = web_query(req, "device", q->device, sizeof q->device);
    if (rd || !q->device[0]) {
        web_reply_error(req, 400, "device", "device: a device name is required");
        return false;
    }
    if ((rq == CM_ERR_NOTFOUND) == (rp == CM_ERR_NOTFOUND)) {
        web_reply_error(req, 400, "quantity",
                        "give either quantity (e.g. active_power) or point (an id)");
        return false;
    }
    if (rq != CM_ERR_NOTFOUND && (rq || !quantity[0])) {
        web_reply_error(req, 400, "quantity",
                        "quantity: expected a quantity name such as active_power");
        return false;
    }
    long long pid = rp == CM_OK && all_digits(point_s) ? strtoll(point_s, NULL, 10) : -1;
    if (rp != CM_ERR_NOTFOUND && pid < 0) {
        web_reply_error(req, 400, "point", "point: expected a point id (a whole number)");
        return false;
    }
    int64_t device_id;
    int rc = find_device(db, q->device, &device_id);
    if (rc == CM_ERR_NOTFOUND) {
        web_reply_error(req, 404, "device", "unknown device \"%s\"", q->device);
        return false;
    }
    if (rc == CM_OK)
        rc = find_point(db, device_id, rq == CM_OK ? quantity : NULL, pid, &q->point);
    if (rc == CM_ERR_NOTFOUND && rq == CM_OK)
        web_reply_error(req, 400, "quantity", "device \"%s\" has no point of quantity \"%s\"",
                        q->device, quantity);
    else if (rc == CM_ERR_NOTFOUND)
        web_reply_error(req, 400, "point", "point %lld is not a point of device \"%s\"", pid,
                        q->device);
    else if (rc == CM_ERR_INVALID)
        web_reply_error(req, 400, "quantity",
                        "device \"%s\" has several points of quantity \"%s\": give point instead",
                        q->device, quantity);
    else if (rc)
        web_reply_failure(req, CM_ERR_DB, sqlite3_errmsg(db));
    return rc == CM_OK;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Good readings only, like the minute aggregates, so both steps agree. */
#define RAW_WHERE " FROM reading WHERE point_id = ?1 AND ts_ms BETWEEN ?2 AND ?3 AND quality = 0"

/* Raw rows in the range, counted up to SERIES_MAX_ROWS + 1; -1 on error. */
static int64_t raw_count(sqlite3 *db, const series_query_t *q)
{
    sqlite3_stmt *s;
    if (store_prepare(db, "SELECT count(*) FROM (SELECT 1" RAW_WHERE " LIMIT ?4)", &s, NULL, 0))
        return -1;
    sqlite3_bind_int64(s, 1, q->point.id);
    sqlite3_bind_int64(s, 2, q->from_ms);
    sqlite3_bind_int64(s, 3, q->to_ms);
    sqlite3_bind_int(s, 4, SERIES_MAX_ROWS + 1);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return n;
}

/* Appends up to SERIES_MAX_ROWS rows to data; *truncated when more exist.
 * Minute rows are [minute start ms, average, min, max] for every minute that
 * overlaps the range. */
static int read_rows(sqlite3 *db, const series_query_t *q, bool minute, cJSON *data,
                     bool *truncated)
{
    sqlite3_stmt *s;
    int rc = minute ? store_prepare(db,
                                    "SELECT minute * 1000, vsum / n, vmin, vmax FROM agg_minute"
                                    " WHERE point_id = ?1 AND minute BETWEEN ?2 AND ?3 AND n > 0"
                                    " ORDER BY minute LIMIT ?4",
                                    &s, NULL, 0)
                    : store_prepare(db, "SELECT ts_ms, value" RAW_WHERE " ORDER BY ts_ms LIMIT ?4",
                                    &s, NULL, 0);
    if (rc)
        return CM_ERR_DB;
    sqlite3_bind_int64(s, 1, q->point.id);
    sqlite3_bind_int64(s, 2, minute ? floor_div(q->from_ms, 60000) * 60 : q->from_ms);
    sqlite3_bind_int64(s, 3, minute ? floor_div(q->to_ms, 1000) : q->to_ms);
    sqlite3_bind_int(s, 4, SERIES_MAX_ROWS + 1);
    int cols = minute ? 4 : 2, n = 0;
    *truncated = false;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (++n > SERIES_MAX_ROWS) {
            *truncated = true;
            rc = SQLITE_DONE;
            break;
        }
        cJSON *row = cJSON_CreateArray();
        cJSON_AddItemToArray(row, cJSON_CreateNumber((double)sqlite3_column_int64(s, 0)));
        for (int i = 1; i < cols; i++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber(sqlite3_column_double(s, i)));
        cJSON_AddItemToArray(data, row);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? CM_OK : CM_ERR_DB;
}

/* auto: raw rows when the span is short and they are there (pruned after 30
 * days) and fit in one reply; minute averages otherwise. */
static bool use_minutes(sqlite3 *db, const series_query_t *q)
{
    if (q->step != STEP_AUTO)
        return q->step == STEP_MINUTE;
    if (q->to_ms - q->from_ms > SERIES_RAW_SPAN_MS)
        return true;
    int64_t n = raw_count(db, q);
    return n <= 0 || n > SERIES_MAX_ROWS;
}

static cJSON *series_head(const series_query_t *q, bool minute)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "device", q->device);
    cJSON_AddNumberToObject(o, "point", (double)q->point.id);
    cJSON_AddStringToObject(o, "name", q->point.name);
    if (q->point.quantity[0])
        cJSON_AddStringToObject(o, "quantity", q->point.quantity);
    else
        cJSON_AddNullToObject(o, "quantity");
    cJSON_AddStringToObject(o, "unit", q->point.unit);
    cJSON_AddStringToObject(o, "step", minute ? "minute" : "raw");
    tm_json_add(o, "from", q->from_ms, TM_JSON_ISO_MS);
    tm_json_add(o, "to", q->to_ms, TM_JSON_ISO_MS);
    cJSON_AddNumberToObject(o, "from_ms", (double)q->from_ms);
    cJSON_AddNumberToObject(o, "to_ms", (double)q->to_ms);
    cJSON *cols = cJSON_AddArrayToObject(o, "columns");
    const char *names[] = {"ts_ms", "value", "min", "max"};
    for (int i = 0; i < (minute ? 4 : 2); i++)
        cJSON_AddItemToArray(cols, cJSON_CreateString(names[i]));
    return o;
}

static void series(web_req_t *req, void *arg)
{
    web_ctx_t *ctx = arg;
    series_query_t q = {0};
    if (!query_range(req, &q) || !query_step(req, &q.step) || !query_point(req, ctx->reader, &q))
        return;
    bool minute = use_minutes(ctx->reader, &q), truncated;
    cJSON *root = series_head(&q, minute);
    cJSON *data = cJSON_CreateArray();
    if (read_rows(ctx->reader, &q, minute, data, &truncated)) {
        cJSON_Delete(data);
        cJSON_Delete(root);
        web_reply_failure(req, CM_ERR_DB, sqlite3_errmsg(ctx->reader));
        return;
    }
    cJSON_AddNumberToObject(root, "count", cJSON_GetArraySize(data));
    cJSON_AddBoolToObject(root, "truncated", truncated);
    if (truncated)
        cJSON_AddNumberToObject(root, "limit", SERIES_MAX_ROWS);
    cJSON_AddItemToObject(root, "data", data);
    web_reply_json(req, 200, root);
}

int web_register_series(web_t *w, web_ctx_t *ctx)
{
    return web_route(w, WEB_GET, "/api/v1/series", series, ctx);
}
