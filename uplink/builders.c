/* Record builders (UPL-2): stored data -> records of uplink.md §3, queued
 * with store_outbox_put in the same transaction. Interval records are built
 * once their interval has closed (plus a grace for the last poll); changes
 * (device state, coefficients) as they appear. Other modules' tables are read
 * by SQL only; a table not there yet (module not installed) is skipped. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "uplink/builders.h"
#include "uplink/uplink.h"

#define GRACE_S UPL_GRACE_S
#define MAX_INTERVALS_PER_CALL 96

bool upl_has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *s;
    bool yes = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1,
                           &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
        yes = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
    }
    return yes;
}

static bool has_column(sqlite3 *db, const char *table, const char *col)
{
    sqlite3_stmt *s;
    bool yes = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", -1, &s, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(s, 1, table, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, col, -1, SQLITE_TRANSIENT);
        yes = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
    }
    return yes;
}

int upl_state_get(sqlite3 *db, const char *name, int64_t *v, bool *found, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT done_until FROM uplink_builder WHERE name = ?", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    *found = sqlite3_step(s) == SQLITE_ROW;
    if (*found)
        *v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return CM_OK;
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
static void point_stats(sqlite3 *db, int64_t dev, const char *quantity, int64_t a, int64_t b,
                        double *mean, double *max, int64_t *n)
{
    sqlite3_stmt *s;
    *n = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT sum(g.vsum), sum(g.n), max(g.vmax) FROM agg_minute g JOIN point p"
                           " ON p.id = g.point_id WHERE p.device_id = ? AND p.quantity GLOB ? AND"
                           " g.minute >= ? AND g.minute < ?",
                           -1, &s, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(s, 1, dev);
    sqlite3_bind_text(s, 2, quantity, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, a);
    sqlite3_bind_int64(s, 4, b);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 1) > 0) {
        *n = sqlite3_column_int64(s, 1);
        *mean = sqlite3_column_double(s, 0) / (double)*n;
        *max = sqlite3_column_double(s, 2);
    }
    sqlite3_finalize(s);
}

/* Energy imported in [a, b): counter increments derived by the collector. */
static bool interval_energy(sqlite3 *db, int64_t dev, const char *quantity, int64_t a, int64_t b,
                            double *kwh)
{
    sqlite3_stmt *s;
    bool have = false;
    if (sqlite3_prepare_v2(db,
                           "SELECT sum(c.delta), count(*) FROM counter_minute c JOIN point p ON"
                           " p.id = c.point_id WHERE p.device_id = ? AND p.quantity = ? AND"
                           " c.minute >= ? AND c.minute < ?",
                           -1, &s, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_int64(s, 1, dev);
    sqlite3_bind_text(s, 2, quantity, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, a);
    sqlite3_bind_int64(s, 4, b);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 1) > 0) {
        *kwh = sqlite3_column_double(s, 0);
        have = true;
    }
    sqlite3_finalize(s);
    return have;
}

double upl_round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

static int build_gates(sqlite3 *db, int64_t a, int64_t b, int *made, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT id, name, gate_type FROM device WHERE gate_type IS NOT NULL"
                               " ORDER BY id", &s, err, errlen);
    while (!rc && sqlite3_step(s) == SQLITE_ROW) {
        int64_t dev = sqlite3_column_int64(s, 0);
        const char *name = (const char *)sqlite3_column_text(s, 1);
        double kwh, mean, max;
        int64_t n;
        if (!interval_energy(db, dev, "energy_import", a, b, &kwh))
            continue; /* no data: the platform sees the gap, we do not invent a value */
        cJSON *r = cJSON_CreateObject();
        char id[100];
        make_id(id, sizeof id, name, a);
        cJSON_AddStringToObject(r, "id", id);
        cJSON_AddStringToObject(r, "gateId", name);
        cJSON_AddNumberToObject(r, "gateType", gate_code((const char *)sqlite3_column_text(s, 2)));
        tm_json_add(r, "startTime", a, TM_JSON_BJ);
        tm_json_add(r, "endTime", b, TM_JSON_BJ);
        cJSON_AddNumberToObject(r, "kwh", upl_round3(kwh));
        /* Reactive energy: the counter the map calls energy_reactive (inductive or quadrant I). */
        if (interval_energy(db, dev, "energy_reactive", a, b, &kwh))
            cJSON_AddNumberToObject(r, "kvarh", upl_round3(kwh));
        point_stats(db, dev, "active_power", a, b, &mean, &max, &n);
        if (n) {
            cJSON_AddNumberToObject(r, "pAvg", upl_round3(mean));
            cJSON_AddNumberToObject(r, "pMax", upl_round3(max));
        }
        /* THD: the mean over the phases the meter measures. */
        static const char *const avg[][2] = {
            {"power_factor", "pf"}, {"voltage_a", "ua"},   {"voltage_b", "ub"},
            {"voltage_c", "uc"},    {"current_a", "ia"},   {"current_b", "ib"},
            {"current_c", "ic"},    {"thd_voltage*", "thdU"}, {"thd_current*", "thdI"}};
        for (size_t i = 0; i < sizeof avg / sizeof avg[0]; i++) {
            point_stats(db, dev, avg[i][0], a, b, &mean, &max, &n);
            if (n)
                cJSON_AddNumberToObject(r, avg[i][1], upl_round3(mean));
        }
        rc = upl_put(db, "powerGate", r, false, made, err, errlen);
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- coalOutput -------------------------------------------------------------- */

static int build_stations(sqlite3 *db, int64_t a, int64_t b, int *made, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT d.id, d.name, sum(m.tonnes), count(*), sum(m.tonnes > 0)"
                           " FROM station_output_minute m JOIN device d ON d.id = m.device_id"
                           " WHERE m.minute >= ? AND m.minute < ? GROUP BY d.id ORDER BY d.id",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, a);
    sqlite3_bind_int64(s, 2, b);
    while (!rc && sqlite3_step(s) == SQLITE_ROW) {
        int64_t dev = sqlite3_column_int64(s, 0);
        const char *name = (const char *)sqlite3_column_text(s, 1);
        double tons = sqlite3_column_double(s, 2), coef;
        cJSON *r = cJSON_CreateObject();
        char id[100];
        make_id(id, sizeof id, name, a);
        cJSON_AddStringToObject(r, "id", id);
        cJSON_AddStringToObject(r, "stationId", name);
        tm_json_add(r, "startTime", a, TM_JSON_BJ);
        tm_json_add(r, "endTime", b, TM_JSON_BJ);
        cJSON_AddNumberToObject(r, "tons", upl_round3(tons));
        cJSON_AddNumberToObject(r, "runSeconds", 60 * sqlite3_column_int(s, 4));
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db,
                               "SELECT (SELECT total_t FROM station_record WHERE device_id = ?1 AND"
                               " ts_ms < ?3 * 1000 ORDER BY ts_ms DESC LIMIT 1),"
                               " (SELECT avg(speed_ms) FROM station_record WHERE device_id = ?1 AND"
                               " ts_ms >= ?2 * 1000 AND ts_ms < ?3 * 1000)",
                               -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, dev);
            sqlite3_bind_int64(q, 2, a);
            sqlite3_bind_int64(q, 3, b);
            if (sqlite3_step(q) == SQLITE_ROW) {
                if (sqlite3_column_type(q, 0) != SQLITE_NULL)
                    cJSON_AddNumberToObject(r, "cumTons", upl_round3(sqlite3_column_double(q, 0)));
                if (sqlite3_column_type(q, 1) != SQLITE_NULL)
                    cJSON_AddNumberToObject(r, "beltSpeed", upl_round3(sqlite3_column_double(q, 1)));
            }
            sqlite3_finalize(q);
        }
        if (store_coef_get(db, "raw_to_gross", a, &coef, NULL, 0) == CM_OK) {
            cJSON_AddNumberToObject(r, "coefficient", coef);
            cJSON_AddNumberToObject(r, "grossTons", upl_round3(tons * coef));
        }
        rc = upl_put(db, "coalOutput", r, false, made, err, errlen);
    }
    sqlite3_finalize(s);
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
    bool gates = upl_has_table(db, "counter_minute") && has_column(db, "device", "gate_type");
    bool stations = upl_has_table(db, "station_output_minute") && upl_has_table(db, "station_record");
    int n = 0;
    while (!rc && done + step + GRACE_S <= now && n++ < MAX_INTERVALS_PER_CALL) {
        if (gates)
            rc = build_gates(db, done, done + step, made, err, errlen);
        if (!rc && stations)
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
    while (!rc && sqlite3_step(s) == SQLITE_ROW) {
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
    while (!rc && sqlite3_step(s) == SQLITE_ROW) {
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
    while (!rc && sqlite3_step(s) == SQLITE_ROW) {
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
