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
    return store_q_double(s, 0, out, NULL, err, errlen);
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
    int64_t point = 0;
    if ((rc = store_q_int64(s, 0, &point, NULL, err, errlen)))
        return rc;
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
    while (!rc && *n < max && store_next(s, &rc, err, errlen))
        ids[(*n)++] = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc;
}

int col_station_output(sqlite3 *db, int64_t device_id, int64_t from_s, int64_t to_s,
                       double *tonnes, char *err, size_t errlen)
{
    return sum_query(db,
                     "SELECT coalesce(sum(tonnes), 0) FROM station_output_minute"
                     " WHERE device_id = ? AND minute >= ? AND minute < ?",
                     device_id, NULL, from_s, to_s, tonnes, err, errlen);
}

/* Step s once for its (sum, count) row, then finalize it; 0 and 0 on no row. */
static int step_sum_count(sqlite3_stmt *s, double *sum, int64_t *count, char *err, size_t errlen)
{
    *sum = 0;
    *count = 0;
    int rc = store_step(s, err, errlen);
    if (rc > 0) {
        *sum = sqlite3_column_double(s, 0);
        *count = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    return rc < 0 ? rc : CM_OK;
}

int col_counter_sum(sqlite3 *db, int64_t device_id, const char *quantity, int64_t from_s,
                    int64_t to_s, double *sum, int64_t *minutes, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT coalesce(sum(c.delta), 0), count(*) FROM counter_minute c JOIN point p"
                           " ON p.id = c.point_id WHERE p.device_id = ? AND p.quantity = ? AND"
                           " c.minute >= ? AND c.minute < ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_text(s, 2, quantity, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, from_s);
    sqlite3_bind_int64(s, 4, to_s);
    return step_sum_count(s, sum, minutes, err, errlen);
}

/* One row of (sum, count) over [?1, ?2). */
static int sum_count(sqlite3 *db, const char *sql, int64_t from_s, int64_t to_s, double *sum,
                     int64_t *count, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, sql, &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, from_s);
    sqlite3_bind_int64(s, 2, to_s);
    return step_sum_count(s, sum, count, err, errlen);
}

int col_output_total(sqlite3 *db, int64_t from_s, int64_t to_s, double *tonnes, int64_t *minutes,
                     char *err, size_t errlen)
{
    return sum_count(db,
                     "SELECT coalesce(sum(tonnes), 0), count(*) FROM station_output_minute"
                     " WHERE minute >= ?1 AND minute < ?2",
                     from_s, to_s, tonnes, minutes, err, errlen);
}

int col_mine_total_energy(sqlite3 *db, int64_t from_s, int64_t to_s, double *kwh,
                          int64_t *minutes, char *err, size_t errlen)
{
    return sum_count(db,
                     "SELECT coalesce(sum(CASE WHEN p.quantity = 'energy_import' THEN c.delta END), 0),"
                     " count(*) FROM counter_minute c JOIN point p ON p.id = c.point_id"
                     " JOIN device d ON d.id = p.device_id WHERE d.gate_type = 'mine_total'"
                     " AND c.minute >= ?1 AND c.minute < ?2",
                     from_s, to_s, kwh, minutes, err, errlen);
}

int col_gates(sqlite3 *db, col_gate_t *out, int max, int *n, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT id, name, gate_type FROM device WHERE gate_type IS NOT NULL"
                               " ORDER BY id", &s, err, errlen);
    if (rc)
        return rc;
    *n = 0;
    while (!rc && *n < max && store_next(s, &rc, err, errlen)) {
        col_gate_t *g = &out[(*n)++];
        g->id = sqlite3_column_int64(s, 0);
        snprintf(g->name, sizeof g->name, "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(g->gate_type, sizeof g->gate_type, "%s", (const char *)sqlite3_column_text(s, 2));
    }
    sqlite3_finalize(s);
    return rc;
}

/* The station's counter before to_s and its mean belt speed in the range. */
static int station_snapshot(sqlite3 *db, col_station_sum_t *st, int64_t from_s, int64_t to_s,
                            char *err, size_t errlen)
{
    sqlite3_stmt *q;
    int rc = store_prepare(db,
                           "SELECT (SELECT total_t FROM station_record WHERE device_id = ?1 AND"
                           " ts_ms < ?3 * 1000 ORDER BY ts_ms DESC LIMIT 1),"
                           " (SELECT avg(speed_ms) FROM station_record WHERE device_id = ?1 AND"
                           " ts_ms >= ?2 * 1000 AND ts_ms < ?3 * 1000)",
                           &q, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(q, 1, st->id);
    sqlite3_bind_int64(q, 2, from_s);
    sqlite3_bind_int64(q, 3, to_s);
    if ((rc = store_step(q, err, errlen)) > 0) {
        st->has_cum = sqlite3_column_type(q, 0) != SQLITE_NULL;
        st->cum_t = sqlite3_column_double(q, 0);
        st->has_speed = sqlite3_column_type(q, 1) != SQLITE_NULL;
        st->speed_ms = sqlite3_column_double(q, 1);
    }
    sqlite3_finalize(q);
    return rc < 0 ? rc : CM_OK;
}

int col_station_sums(sqlite3 *db, int64_t from_s, int64_t to_s, col_station_sum_t *out, int max,
                     int *n, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT d.id, d.name, sum(m.tonnes), sum(m.tonnes > 0)"
                           " FROM station_output_minute m JOIN device d ON d.id = m.device_id"
                           " WHERE m.minute >= ? AND m.minute < ? GROUP BY d.id ORDER BY d.id",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, from_s);
    sqlite3_bind_int64(s, 2, to_s);
    *n = 0;
    while (!rc && *n < max && store_next(s, &rc, err, errlen)) {
        col_station_sum_t *st = &out[(*n)++];
        memset(st, 0, sizeof *st);
        st->id = sqlite3_column_int64(s, 0);
        snprintf(st->name, sizeof st->name, "%s", (const char *)sqlite3_column_text(s, 1));
        st->tonnes = sqlite3_column_double(s, 2);
        st->run_minutes = sqlite3_column_int(s, 3);
    }
    sqlite3_finalize(s);
    for (int i = 0; !rc && i < *n; i++)
        rc = station_snapshot(db, &out[i], from_s, to_s, err, errlen);
    return rc;
}
