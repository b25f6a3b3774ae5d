/* Pure self-diagnosis helpers (state hysteresis, counter plausibility) and
 * the read queries other modules use: interval energy, gates by type,
 * station output. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "collector/collector.h"

const char *col_comm_name(col_comm_state s)
{
    static const char *const names[] = {"unknown", "online", "degraded", "offline"};
    return names[s];
}

bool col_comm_step(col_comm_t *c, bool ok, bool partial, int offline_after, int online_after)
{
    col_comm_state old = c->state;
    if (!ok) {
        c->oks = 0;
        c->fails++;
        if (c->fails >= offline_after)
            c->state = COL_OFFLINE;
        else if (c->state != COL_OFFLINE)
            c->state = COL_DEGRADED;
    } else if (partial) {
        c->fails = 0;
        c->oks = 0;
        c->state = COL_DEGRADED;
    } else {
        c->fails = 0;
        c->oks++;
        /* A device that was failing must prove itself for online_after polls
         * before it counts as online again, so a flapping link does not
         * produce a storm of events. */
        if (old == COL_UNKNOWN || old == COL_ONLINE || c->oks >= online_after)
            c->state = COL_ONLINE;
        else
            c->state = COL_DEGRADED;
    }
    return c->state != old;
}

col_counter_verdict col_counter_check(double prev, int64_t prev_ms, double cur, int64_t cur_ms,
                                      double max_rate_per_h, double *delta)
{
    /* The last digit of a counter (or float32 rounding) may wobble. */
    double slack = 0.01 + 2.5e-7 * fabs(prev);
    *delta = 0;
    if (cur < prev - slack)
        return COL_COUNTER_RESET;
    if (cur <= prev)
        return COL_COUNTER_OK;
    double hours = (double)(cur_ms > prev_ms ? cur_ms - prev_ms : 1) / 3600000.0;
    if (cur - prev > max_rate_per_h * hours * 1.5 + slack)
        return COL_COUNTER_JUMP;
    *delta = cur - prev;
    return COL_COUNTER_OK;
}

col_counter_verdict col_counter_check_wrap(double prev, int64_t prev_ms, double cur,
                                           int64_t cur_ms, double max_rate_per_h, double wrap,
                                           double *delta)
{
    col_counter_verdict v = col_counter_check(prev, prev_ms, cur, cur_ms, max_rate_per_h, delta);
    if (v != COL_COUNTER_RESET || wrap <= 0)
        return v;
    double across;
    if (col_counter_check(prev, prev_ms, cur + wrap, cur_ms, max_rate_per_h, &across) !=
            COL_COUNTER_OK)
        return COL_COUNTER_RESET;
    *delta = across;
    return COL_COUNTER_WRAP;
}

static int sum_query(sqlite3 *db, const char *sql, int64_t id, const char *text, int64_t from_s,
                     int64_t to_s, double *out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, sql, &s, err, errlen);
    if (rc)
        return rc;
    int i = 1;
    sqlite3_bind_int64(s, i++, id);
    if (text)
        sqlite3_bind_text(s, i++, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, i++, from_s);
    sqlite3_bind_int64(s, i, to_s);
    if (sqlite3_step(s) == SQLITE_ROW)
        *out = sqlite3_column_double(s, 0);
    else
        rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

int col_counter_between(sqlite3 *db, int64_t device_id, const char *quantity, int64_t from_s,
                        int64_t to_s, double *out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT id FROM point WHERE device_id = ? AND quantity = ?", &s,
                           err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_text(s, 2, quantity, -1, SQLITE_TRANSIENT);
    int64_t point = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (!point)
        return cm_fail(err, errlen, CM_ERR_NOTFOUND, "device %lld has no %s point",
                       (long long)device_id, quantity);
    return sum_query(db,
                     "SELECT coalesce(sum(delta), 0) FROM counter_minute"
                     " WHERE point_id = ? AND minute >= ? AND minute < ?",
                     point, NULL, from_s, to_s, out, err, errlen);
}

int col_energy_between(sqlite3 *db, int64_t device_id, int64_t from_s, int64_t to_s, double *kwh,
                       char *err, size_t errlen)
{
    return col_counter_between(db, device_id, "energy_import", from_s, to_s, kwh, err, errlen);
}

int col_gate_find(sqlite3 *db, const char *gate_type, int64_t *ids, int max, int *n, char *err,
                  size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT id FROM device WHERE gate_type = ? ORDER BY id", &s, err,
                           errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, gate_type, -1, SQLITE_TRANSIENT);
    *n = 0;
    while (sqlite3_step(s) == SQLITE_ROW && *n < max)
        ids[(*n)++] = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return CM_OK;
}

int col_station_output(sqlite3 *db, int64_t device_id, int64_t from_s, int64_t to_s,
                       double *tonnes, char *err, size_t errlen)
{
    return sum_query(db,
                     "SELECT coalesce(sum(tonnes), 0) FROM station_output_minute"
                     " WHERE device_id = ? AND minute >= ? AND minute < ?",
                     device_id, NULL, from_s, to_s, tonnes, err, errlen);
}
