/* Record builders (UPL-2): stored data -> records of uplink.md §3, queued
 * with store_outbox_put in the same transaction. Interval records are built
 * once their interval has closed (plus a grace for the last poll); changes
 * (device state, coefficients) as they appear. Gate counters and station
 * output come through the collector's query functions; a failed read stops
 * the build and the interval is built again on the next run. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "collector/collector.h"
#include "uplink/builders.h"
#include "uplink/uplink.h"

#define GRACE_S UPL_GRACE_S
#define MAX_INTERVALS_PER_CALL 96

int upl_state_get(sqlite3 *db, const char *name, int64_t *v, bool *found, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT done_until FROM uplink_builder WHERE name = ?", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    return store_q_int64(s, 0, v, found, err, errlen);
}

int upl_state_set(sqlite3 *db, const char *name, int64_t v, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "INSERT INTO uplink_builder(name, done_until) VALUES (?, ?)"
                               " ON CONFLICT(name) DO UPDATE SET done_until = excluded.done_until",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, v);
    rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK : cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

int upl_put(sqlite3 *db, const char *type, cJSON *rec, bool replace, int *made, char *err,
               size_t errlen)
{
    const char *id = upl_record_id(rec);
    int rc = store_outbox_put(db, type, id, rec, replace, err, errlen);
    cJSON_Delete(rec);
    *made += rc == CM_OK && sqlite3_changes(db) > 0;
    return rc;
}

static void make_id(char *out, size_t len, const char *series, int64_t start)
{
    int y, mo, d, h, mi, s;
    tm_epoch_to_bj(start, &y, &mo, &d, &h, &mi, &s);
    snprintf(out, len, "%s-%04d%02d%02d%02d%02d", series, y, mo, d, h, mi);
}

/* ---- powerGate ------------------------------------------------------------- */

static int gate_code(const char *t)
{
    return !t ? 9 : !strcmp(t, "mine_total") ? 1 : !strcmp(t, "underground") ? 2
                  : !strcmp(t, "transport") ? 3 : 9;
}

/*
 * Points are found by quantity (a GLOB pattern such as "thd_voltage*"), not
 * by name: names are the meter map's own, quantities are what every map
 * shares (docs/collector.md), as analytics reads them.
 */

/* Mean, max over [a, b) of the device's points of a quantity, from minute
 * aggregates; n = samples. Several points (three phases' THD) are pooled. */
static int point_stats(sqlite3 *db, int64_t dev, const char *quantity, int64_t a, int64_t b,
                       double *mean, double *max, int64_t *n, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    *n = 0;
    int rc = store_prepare(db,
                           "SELECT sum(g.vsum), sum(g.n), max(g.vmax) FROM agg_minute g JOIN point p"
                           " ON p.id = g.point_id WHERE p.device_id = ? AND p.quantity GLOB ? AND"
                           " g.minute >= ? AND g.minute < ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, dev);
    sqlite3_bind_text(s, 2, quantity, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, a);
    sqlite3_bind_int64(s, 4, b);
    if (store_next(s, &rc, err, errlen) && sqlite3_column_int64(s, 1) > 0) {
        *n = sqlite3_column_int64(s, 1);
        *mean = sqlite3_column_double(s, 0) / (double)*n;
        *max = sqlite3_column_double(s, 2);
    }
    sqlite3_finalize(s);
    return rc;
}

double upl_round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

/* Counters and minute aggregates are the collector's and the store's: read
 * through their query functions, so a failed read stops the build (the
 * interval is tried again) instead of reading as "no data". */
static int gate_record(sqlite3 *db, const col_gate_t *g, int64_t a, int64_t b, int *made,
                       char *err, size_t errlen)
{
    double kwh, kvarh, mean, max;
    int64_t n, minutes, rminutes;
    int rc = col_counter_sum(db, g->id, "energy_import", a, b, &kwh, &minutes, err, errlen);
    if (rc || !minutes)
        return rc; /* no data: the platform sees the gap, we do not invent a value */
    if ((rc = col_counter_sum(db, g->id, "energy_reactive", a, b, &kvarh, &rminutes, err, errlen)))
        return rc;
    cJSON *r = cJSON_CreateObject();
    char id[100];
    make_id(id, sizeof id, g->name, a);
    cJSON_AddStringToObject(r, "id", id);
    cJSON_AddStringToObject(r, "gateId", g->name);
    cJSON_AddNumberToObject(r, "gateType", gate_code(g->gate_type));
    tm_json_add(r, "startTime", a, TM_JSON_BJ);
    tm_json_add(r, "endTime", b, TM_JSON_BJ);
    cJSON_AddNumberToObject(r, "kwh", upl_round3(kwh));
    /* Reactive energy: the counter the map calls energy_reactive (inductive or quadrant I). */
    if (rminutes)
        cJSON_AddNumberToObject(r, "kvarh", upl_round3(kvarh));
    rc = point_stats(db, g->id, "active_power", a, b, &mean, &max, &n, err, errlen);
    if (!rc && n) {
        cJSON_AddNumberToObject(r, "pAvg", upl_round3(mean));
        cJSON_AddNumberToObject(r, "pMax", upl_round3(max));
    }
    /* THD: the mean over the phases the meter measures. */
    static const char *const avg[][2] = {
        {"power_factor", "pf"}, {"voltage_a", "ua"},   {"voltage_b", "ub"},
        {"voltage_c", "uc"},    {"current_a", "ia"},   {"current_b", "ib"},
        {"current_c", "ic"},    {"thd_voltage*", "thdU"}, {"thd_current*", "thdI"}};
    for (size_t i = 0; !rc && i < sizeof avg / sizeof avg[0]; i++) {
        rc = point_stats(db, g->id, avg[i][0], a, b, &mean, &max, &n, err, errlen);
        if (!rc && n)
            cJSON_AddNumberToObject(r, avg[i][1], upl_round3(mean));
    }
    if (rc) {
        cJSON_Delete(r);
        return rc;
    }
    return upl_put(db, "powerGate", r, false, made, err, errlen);
}

#define MAX_GATES 256

static int build_gates(sqlite3 *db, int64_t a, int64_t b, int *made, char *err, size_t errlen)
{
    col_gate_t gates[MAX_GATES];
    int n = 0;
    int rc = col_gates(db, gates, MAX_GATES, &n, err, errlen);
    for (int i = 0; !rc && i < n; i++)
        rc = gate_record(db, &gates[i], a, b, made, err, errlen);
    return rc;
}

/* ---- coalOutput -------------------------------------------------------------- */

#define MAX_STATIONS 32

static int build_stations(sqlite3 *db, int64_t a, int64_t b, int *made, char *err, size_t errlen)
{
    col_station_sum_t st[MAX_STATIONS];
    int n = 0;
    int rc = col_station_sums(db, a, b, st, MAX_STATIONS, &n, err, errlen);
    for (int i = 0; !rc && i < n; i++) {
        double coef;
        cJSON *r = cJSON_CreateObject();
        char id[100];
        make_id(id, sizeof id, st[i].name, a);
        cJSON_AddStringToObject(r, "id", id);
        cJSON_AddStringToObject(r, "stationId", st[i].name);
        tm_json_add(r, "startTime", a, TM_JSON_BJ);
        tm_json_add(r, "endTime", b, TM_JSON_BJ);
        cJSON_AddNumberToObject(r, "tons", upl_round3(st[i].tonnes));
        cJSON_AddNumberToObject(r, "runSeconds", 60 * st[i].run_minutes);
        if (st[i].has_cum)
            cJSON_AddNumberToObject(r, "cumTons", upl_round3(st[i].cum_t));
        if (st[i].has_speed)
            cJSON_AddNumberToObject(r, "beltSpeed", upl_round3(st[i].speed_ms));
        int g = store_coef_get(db, "raw_to_gross", a, &coef, err, errlen);
        if (g == CM_OK) {
            cJSON_AddNumberToObject(r, "coefficient", coef);
            cJSON_AddNumberToObject(r, "grossTons", upl_round3(st[i].tonnes * coef));
        } else if (g != CM_ERR_NOTFOUND) {
            cJSON_Delete(r);
            return g;
        }
        rc = upl_put(db, "coalOutput", r, false, made, err, errlen);
    }
    return rc;
}

/* Intervals that closed since the last call, both interval builders at once. */
static int build_intervals(sqlite3 *db, const upl_cfg_t *c, int64_t now, int *made, char *err,
                           size_t errlen)
{
    int64_t step = (int64_t)c->interval_min * 60, done;
    bool found;
    int rc = upl_state_get(db, "interval", &done, &found, err, errlen);
    if (rc)
        return rc;
    /* First start or a long stop: catch up at most catchup_days. */
    if (!found || now - done > (int64_t)c->catchup_days * 86400 + step)
        done = now - (int64_t)c->catchup_days * 86400;
    done -= ((done + TM_BEIJING_OFFSET_S) % step + step) % step; /* Beijing interval edges */
    int n = 0;
    while (!rc && done + step + GRACE_S <= now && n++ < MAX_INTERVALS_PER_CALL) {
        rc = build_gates(db, done, done + step, made, err, errlen);
        if (!rc)
            rc = build_stations(db, done, done + step, made, err, errlen);
        done += step;
    }
    return rc ? rc : upl_state_set(db, "interval", done, err, errlen);
}

/* ---- changes: device state, coefficients ------------------------------------- */

static int build_device_status(sqlite3 *db, int *made, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT d.name, d.kind, d.serial, c.state, c.since_ms, c.detail FROM"
                           " device_comm c JOIN device d ON d.id = c.device_id WHERE c.state <> 'unknown'",
                           &s, err, errlen);
    while (!rc && store_next(s, &rc, err, errlen)) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        const char *state = (const char *)sqlite3_column_text(s, 3);
        int64_t since = sqlite3_column_int64(s, 4);
        char id[100];
        snprintf(id, sizeof id, "%s-%lld", name, (long long)since);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "id", id);
        cJSON_AddStringToObject(r, "deviceId", name);
        cJSON_AddStringToObject(r, "deviceType", (const char *)sqlite3_column_text(s, 1));
        if (sqlite3_column_type(s, 2) != SQLITE_NULL)
            cJSON_AddStringToObject(r, "serialNo", (const char *)sqlite3_column_text(s, 2));
        cJSON_AddStringToObject(r, "status", !strcmp(state, "online")     ? "ok"
                                             : !strcmp(state, "degraded") ? "fault"
                                                                          : "offline");
        tm_json_add(r, "since", since, TM_JSON_BJ_FROM_MS);
        if (sqlite3_column_type(s, 5) != SQLITE_NULL)
            cJSON_AddStringToObject(r, "detail", (const char *)sqlite3_column_text(s, 5));
        rc = upl_put(db, "deviceStatus", r, false, made, err, errlen);
    }
    sqlite3_finalize(s);
    return rc;
}

/* Faults and loss of mains power reported by a device (collector's device_event). */
static int build_device_events(sqlite3 *db, int *made, char *err, size_t errlen)
{
    int64_t done = 0;
    bool found;
    int rc = upl_state_get(db, "device_event", &done, &found, err, errlen);
    sqlite3_stmt *s;
    if (!rc)
        rc = store_prepare(db,
                           "SELECT e.id, d.name, d.kind, d.serial, e.ts_ms, e.kind, e.state, e.detail"
                           " FROM device_event e JOIN device d ON d.id = e.device_id WHERE e.id > ?"
                           " AND e.kind IN ('fault', 'power') ORDER BY e.id LIMIT 500",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, done);
    while (!rc && store_next(s, &rc, err, errlen)) {
        done = sqlite3_column_int64(s, 0);
        const char *kind = (const char *)sqlite3_column_text(s, 5);
        const char *state = (const char *)sqlite3_column_text(s, 6);
        const char *status = !strcmp(kind, "fault") ? (state && !strcmp(state, "raised") ? "fault" : "ok")
                             : state && !strcmp(state, "battery") ? "power_lost"
                                                                  : "ok";
        char id[100];
        snprintf(id, sizeof id, "%s-ev%lld", (const char *)sqlite3_column_text(s, 1), (long long)done);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "id", id);
        cJSON_AddStringToObject(r, "deviceId", (const char *)sqlite3_column_text(s, 1));
        cJSON_AddStringToObject(r, "deviceType", (const char *)sqlite3_column_text(s, 2));
        if (sqlite3_column_type(s, 3) != SQLITE_NULL)
            cJSON_AddStringToObject(r, "serialNo", (const char *)sqlite3_column_text(s, 3));
        cJSON_AddStringToObject(r, "status", status);
        tm_json_add(r, "since", sqlite3_column_int64(s, 4), TM_JSON_BJ_FROM_MS);
        if (sqlite3_column_type(s, 7) != SQLITE_NULL)
            cJSON_AddStringToObject(r, "detail", (const char *)sqlite3_column_text(s, 7));
        rc = upl_put(db, "deviceStatus", r, false, made, err, errlen);
    }
    sqlite3_finalize(s);
    return rc ? rc : upl_state_set(db, "device_event", done, err, errlen);
}

static int build_coefficients(sqlite3 *db, int *made, char *err, size_t errlen)
{
    int64_t done = 0;
    bool found;
    int rc = upl_state_get(db, "coefficient", &done, &found, err, errlen);
    sqlite3_stmt *s;
    if (!rc)
        rc = store_prepare(db, "SELECT id, name, value, valid_from, set_by, reason FROM coefficient"
                               " WHERE id > ? ORDER BY id LIMIT 500", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, done);
    while (!rc && store_next(s, &rc, err, errlen)) {
        done = sqlite3_column_int64(s, 0);
        char id[40];
        snprintf(id, sizeof id, "coef-%lld", (long long)done);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "id", id);
        cJSON_AddStringToObject(r, "name", (const char *)sqlite3_column_text(s, 1));
        cJSON_AddNumberToObject(r, "value", sqlite3_column_double(s, 2));
        tm_json_add(r, "validFrom", sqlite3_column_int64(s, 3), TM_JSON_BJ);
        cJSON_AddStringToObject(r, "setBy", (const char *)sqlite3_column_text(s, 4));
        if (sqlite3_column_type(s, 5) != SQLITE_NULL)
            cJSON_AddStringToObject(r, "reason", (const char *)sqlite3_column_text(s, 5));
        rc = upl_put(db, "coefficient", r, false, made, err, errlen);
    }
    sqlite3_finalize(s);
    return rc ? rc : upl_state_set(db, "coefficient", done, err, errlen);
}

int upl_build_job(sqlite3 *db, const cfg_t *cfg, const upl_cfg_t *c, int64_t now_s, int *made,
                  char *err, size_t errlen)
{
    *made = 0;
    int rc = build_intervals(db, c, now_s, made, err, errlen);
    if (!rc)
        rc = build_device_status(db, made, err, errlen);
    if (!rc)
        rc = build_device_events(db, made, err, errlen);
    if (!rc)
        rc = build_coefficients(db, made, err, errlen);
    if (!rc)
        rc = upl_build_summaries(db, cfg, c, now_s, made, err, errlen);
    return rc;
}
