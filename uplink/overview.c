/* The platform's view of its enterprises (UPL-4): last contact, latest
 * output, month-to-date against capacity, open alarms, silence, and the gaps
 * in interval records, i.e. what each mine still owes the bureau. */
#include <stdio.h>
#include <string.h>

#include "uplink/uplink.h"

#define MAX_GAPS 50

/* The helpers below add fields to o and return CM_OK, or an error with err
 * filled: a count or a sum that could not be read is not shown as 0. */
static int latest_output(sqlite3 *db, const char *ent, cJSON *o, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    cJSON *lo = NULL;
    int rc = store_prepare(db,
                           "SELECT end_s, (SELECT sum(json_extract(r2.body, '$.tons')) FROM"
                           " uplink_received r2 WHERE r2.ent = r.ent AND r2.record_type = 'coalOutput'"
                           " AND r2.end_s = r.end_s), start_s FROM uplink_received r WHERE ent = ?"
                           " AND record_type = 'coalOutput' ORDER BY end_s DESC LIMIT 1",
                           &s, err, errlen);
    if (!rc) {
        sqlite3_bind_text(s, 1, ent, -1, SQLITE_TRANSIENT);
        if (store_next(s, &rc, err, errlen)) {
            lo = cJSON_CreateObject();
            tm_json_add(lo, "startTime", sqlite3_column_int64(s, 2), TM_JSON_BJ);
            tm_json_add(lo, "endTime", sqlite3_column_int64(s, 0), TM_JSON_BJ);
            cJSON_AddNumberToObject(lo, "tons", sqlite3_column_double(s, 1));
        }
        sqlite3_finalize(s);
    }
    if (lo)
        cJSON_AddItemToObject(o, "latest_output", lo);
    else
        cJSON_AddNullToObject(o, "latest_output");
    return rc;
}

static int month_to_date(sqlite3 *db, const char *ent, double capacity, bool has_cap,
                         int64_t now, cJSON *o, char *err, size_t errlen)
{
    int y, m, d, h, mi, sec;
    tm_epoch_to_bj(now, &y, &m, &d, &h, &mi, &sec);
    int64_t from = tm_bj_to_epoch(y, m, 1, 0, 0, 0);
    sqlite3_stmt *s;
    double tons = 0;
    int rc = store_prepare(db,
                           "SELECT coalesce(sum(json_extract(body, '$.tons')), 0) FROM uplink_received"
                           " WHERE ent = ? AND record_type = 'coalOutput' AND start_s >= ? AND start_s < ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, ent, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, now);
    if ((rc = store_q_double(s, 0, &tons, NULL, err, errlen)))
        return rc;
    cJSON *mtd = cJSON_AddObjectToObject(o, "month_to_date");
    cJSON_AddNumberToObject(mtd, "tons", tons);
    if (has_cap && capacity > 0) {
        /* A month above 10 % of the approved annual capacity is a major hazard (requirements.md). */
        double limit = capacity * 0.10;
        cJSON_AddNumberToObject(mtd, "capacity_t", capacity);
        cJSON_AddNumberToObject(mtd, "month_limit_t", limit);
        cJSON_AddNumberToObject(mtd, "ratio", tons / limit);
    } else {
        cJSON_AddNullToObject(mtd, "capacity_t");
        cJSON_AddNullToObject(mtd, "month_limit_t");
        cJSON_AddNullToObject(mtd, "ratio");
    }
    return CM_OK;
}

static int open_alarms(sqlite3 *db, const char *ent, cJSON *o, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int64_t n = 0;
    int rc = store_prepare(db,
                           "SELECT count(*) FROM uplink_received WHERE ent = ? AND record_type ="
                           " 'alarm' AND json_extract(body, '$.clearedAt') IS NULL",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, ent, -1, SQLITE_TRANSIENT);
    if ((rc = store_q_int64(s, 0, &n, NULL, err, errlen)))
        return rc;
    cJSON_AddNumberToObject(o, "open_alarms", (double)n);
    return CM_OK;
}

static void add_gap(cJSON *gaps, const char *type, const char *series, int64_t a, int64_t b,
                    int64_t *owed_s)
{
    *owed_s += b - a;
    if (cJSON_GetArraySize(gaps) >= MAX_GAPS)
        return;
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "record_type", type);
    cJSON_AddStringToObject(g, "series", series);
    tm_json_add(g, "from", a, TM_JSON_BJ);
    tm_json_add(g, "to", b, TM_JSON_BJ);
    cJSON_AddNumberToObject(g, "seconds", (double)(b - a));
    cJSON_AddItemToArray(gaps, g);
}

/* Periods in [from, to) that no interval record covers, per series. A series
 * counts from its first record ever, so a mine is not said to owe data from
 * before it began reporting. */
static int interval_gaps(sqlite3 *db, const char *ent, int64_t from, int64_t to, cJSON *o,
                         char *err, size_t errlen)
{
    cJSON *gaps = cJSON_CreateArray();
    int64_t owed = 0;
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT record_type, series, start_s, end_s, (SELECT min(start_s) FROM"
                           " uplink_received f WHERE f.ent = r.ent AND f.record_type = r.record_type"
                           " AND f.series = r.series) FROM uplink_received r WHERE ent = ? AND"
                           " series IS NOT NULL AND end_s > ? AND start_s < ?"
                           " ORDER BY record_type, series, start_s",
                           &s, err, errlen);
    if (!rc) {
        sqlite3_bind_text(s, 1, ent, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, from);
        sqlite3_bind_int64(s, 3, to);
        char type[48] = "", series[128] = "";
        int64_t cursor = 0;
        while (store_next(s, &rc, err, errlen)) {
            const char *t = (const char *)sqlite3_column_text(s, 0);
            const char *se = (const char *)sqlite3_column_text(s, 1);
            int64_t a = sqlite3_column_int64(s, 2), b = sqlite3_column_int64(s, 3);
            if (strcmp(t, type) || strcmp(se, series)) {
                if (*type && cursor < to)
                    add_gap(gaps, type, series, cursor, to, &owed);
                snprintf(type, sizeof type, "%s", t);
                snprintf(series, sizeof series, "%s", se);
                int64_t first = sqlite3_column_int64(s, 4);
                cursor = first > from ? first : from;
            }
            if (a > cursor)
                add_gap(gaps, type, series, cursor, a, &owed);
            if (b > cursor)
                cursor = b;
        }
        if (*type && cursor < to)
            add_gap(gaps, type, series, cursor, to, &owed);
        sqlite3_finalize(s);
    }
    cJSON_AddItemToObject(o, "gaps", gaps);
    cJSON_AddNumberToObject(o, "gaps_seconds", (double)owed);
    return rc;
}

/* The overview fields of one enterprise; the statement's current row is
 * code, name, kind, capacity_t, last_contact_ms. */
static cJSON *overview_row(sqlite3 *db, const upl_cfg_t *c, sqlite3_stmt *s, int64_t now,
                           int64_t from, int64_t to, char *err, size_t errlen)
{
    const char *code = (const char *)sqlite3_column_text(s, 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(s, 1));
    cJSON_AddStringToObject(o, "kind", (const char *)sqlite3_column_text(s, 2));
    bool contact = sqlite3_column_type(s, 4) != SQLITE_NULL;
    int64_t last = contact ? sqlite3_column_int64(s, 4) / 1000 : 0;
    if (contact)
        tm_json_add(o, "last_contact", last, TM_JSON_BJ);
    else
        cJSON_AddNullToObject(o, "last_contact");
    cJSON_AddBoolToObject(o, "silent", !contact || now - last > c->silent_after_s);
    int rc = latest_output(db, code, o, err, errlen);
    if (!rc)
        rc = month_to_date(db, code, sqlite3_column_double(s, 3),
                           sqlite3_column_type(s, 3) != SQLITE_NULL, now, o, err, errlen);
    if (!rc)
        rc = open_alarms(db, code, o, err, errlen);
    if (!rc)
        rc = interval_gaps(db, code, from, to, o, err, errlen);
    if (rc) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

#define OVERVIEW_SELECT "SELECT code, name, kind, capacity_t, last_contact_ms FROM enterprise"

cJSON *upl_overview(sqlite3 *db, const upl_cfg_t *c, int64_t now, int days, char *err,
                    size_t errlen)
{
    sqlite3_stmt *s;
    if (store_prepare(db, OVERVIEW_SELECT " ORDER BY code", &s, err, errlen))
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    /* Interval records for the current interval are not owed yet. */
    int64_t to = now - (int64_t)c->interval_min * 60 - 120, from = now - (int64_t)days * 86400;
    int rc = CM_OK;
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *row = overview_row(db, c, s, now, from, to, err, errlen);
        if (row)
            cJSON_AddItemToArray(arr, row);
        else
            rc = CM_ERR_DB;
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

/* Records received from code per type since from_s, and ever. */
static int received_counts(sqlite3 *db, const char *code, int64_t from_s, cJSON *o, char *err,
                           size_t errlen)
{
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "SELECT record_type, sum(received_ms >= ?2), count(*) FROM uplink_received"
                      " WHERE ent = ?1 GROUP BY record_type ORDER BY record_type",
                      &s, err, errlen))
        return CM_ERR_DB;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, from_s * 1000);
    cJSON *period = cJSON_AddObjectToObject(o, "counts");
    cJSON *ever = cJSON_AddObjectToObject(o, "counts_total");
    double n = 0, all = 0;
    int rc = CM_OK;
    while (store_next(s, &rc, err, errlen)) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        cJSON_AddNumberToObject(period, t, sqlite3_column_double(s, 1));
        cJSON_AddNumberToObject(ever, t, sqlite3_column_double(s, 2));
        n += sqlite3_column_double(s, 1);
        all += sqlite3_column_double(s, 2);
    }
    sqlite3_finalize(s);
    cJSON_AddNumberToObject(o, "records", n);
    cJSON_AddNumberToObject(o, "records_total", all);
    return rc;
}

int upl_enterprise_show(sqlite3 *db, const upl_cfg_t *c, const char *code, int64_t now, int days,
                        cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    sqlite3_stmt *s;
    if (store_prepare(db, OVERVIEW_SELECT " WHERE code = ?", &s, err, errlen))
        return CM_ERR_DB;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
    int step = store_step(s, err, errlen);
    if (step <= 0) {
        sqlite3_finalize(s);
        return step < 0 ? step : cm_fail(err, errlen, CM_ERR_NOTFOUND, "no enterprise %s", code);
    }
    int64_t to = now - (int64_t)c->interval_min * 60 - 120, from = now - (int64_t)days * 86400;
    cJSON *o = overview_row(db, c, s, now, from, to, err, errlen);
    sqlite3_finalize(s);
    if (!o)
        return CM_ERR_DB;
    cJSON *p = cJSON_AddObjectToObject(o, "period");
    tm_json_add(p, "from", from, TM_JSON_BJ);
    tm_json_add(p, "to", now, TM_JSON_BJ);
    cJSON_AddNumberToObject(p, "days", days);
    int rc = received_counts(db, code, from, o, err, errlen);
    if (rc) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return CM_OK;
}
