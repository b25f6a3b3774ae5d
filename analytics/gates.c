/* analytics store layer: energy per gate device over a range, and the
 * comparison of our time-of-use split with a meter's own per-rate registers
 * (quantities energy_import_sharp/peak/flat/valley) where it keeps them
 * (ANA-2). Reads counter_minute, point, device (collector, core). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/ledger.h"

/* The meter's register names for our tiers. */
static const char *const reg_quantity[ANA_TIERS] = {"energy_import_sharp", "energy_import_peak",
                                                    "energy_import_flat", "energy_import_valley"};

/* Our split of one device's energy_import, minute by minute. */
static int split_device(sqlite3 *db, const ana_conf_t *c, int64_t dev, int64_t from, int64_t to,
                        double out[ANA_TIERS], char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT c.minute, c.delta FROM counter_minute c JOIN point p ON "
                           "p.id = c.point_id WHERE p.device_id = ?1 AND p.quantity = "
                           "'energy_import' AND c.minute >= ?2 AND c.minute < ?3",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, dev);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, to);
    for (int i = 0; i < ANA_TIERS; i++)
        out[i] = 0;
    while (!rc && store_next(s, &rc, err, errlen)) {
        int64_t t = sqlite3_column_int64(s, 0);
        out[ana_tariff_tier(&c->tariff, t)] += sqlite3_column_double(s, 1);
    }
    sqlite3_finalize(s);
    return rc;
}

/* The meter's own per-rate increments; *any false when it keeps none. */
static int registers(sqlite3 *db, int64_t dev, int64_t from, int64_t to, double out[ANA_TIERS],
                     bool *any, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    *any = false;
    for (int i = 0; i < ANA_TIERS; i++)
        out[i] = NAN;
    int rc = store_prepare(db,
                           "SELECT p.quantity, sum(c.delta) FROM counter_minute c JOIN point p ON "
                           "p.id = c.point_id WHERE p.device_id = ?1 AND p.quantity LIKE "
                           "'energy\\_import\\_%' ESCAPE '\\' AND c.minute >= ?2 AND c.minute < ?3 "
                           "GROUP BY p.quantity",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, dev);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, to);
    while (!rc && store_next(s, &rc, err, errlen)) {
        const char *q = (const char *)sqlite3_column_text(s, 0);
        for (int i = 0; q && i < ANA_TIERS; i++)
            if (!strcmp(q, reg_quantity[i])) {
                out[i] = sqlite3_column_double(s, 1);
                *any = true;
            }
    }
    sqlite3_finalize(s);
    return rc;
}

static cJSON *tiers_json(const double v[ANA_TIERS])
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < ANA_TIERS; i++)
        if (isfinite(v[i]))
            cJSON_AddNumberToObject(o, ana_tier_name(i), round(v[i] * 1000) / 1000);
        else
            cJSON_AddNullToObject(o, ana_tier_name(i));
    return o;
}

/* Hours in which the device's mean power factor was below pf_min. */
static int low_pf_hours(sqlite3 *db, const ana_conf_t *c, int64_t dev, int64_t from, int64_t to,
                        int64_t *n, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    *n = 0;
    int rc = store_prepare(db,
                           "SELECT count(*) FROM (SELECT abs(sum(a.vsum) / sum(a.n)) AS pf FROM "
                           "agg_minute a JOIN point p ON p.id = a.point_id WHERE p.device_id = ?1 "
                           "AND p.quantity = 'power_factor' AND a.minute >= ?2 AND a.minute < ?3 "
                           "GROUP BY a.minute / 3600) WHERE pf < ?4",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, dev);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, to);
    sqlite3_bind_double(s, 4, c->pq.pf_min);
    return store_q_int64(s, 0, n, NULL, err, errlen);
}

static cJSON *device_json(sqlite3 *db, const ana_conf_t *c, sqlite3_stmt *s, int64_t from,
                          int64_t to, char *err, size_t errlen)
{
    int64_t dev = sqlite3_column_int64(s, 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "device", (const char *)sqlite3_column_text(s, 1));
    cJSON_AddStringToObject(o, "gate_type", (const char *)sqlite3_column_text(s, 2));
    cJSON_AddNumberToObject(o, "kwh", round(sqlite3_column_double(s, 3) * 1000) / 1000);
    double ours[ANA_TIERS], reg[ANA_TIERS];
    if (split_device(db, c, dev, from, to, ours, err, errlen)) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddItemToObject(o, "time_of_use_kwh", tiers_json(ours));
    cJSON_AddNumberToObject(o, "cost_yuan", round(ana_tou_cost(&c->tariff, ours) * 100) / 100);
    int64_t low_pf;
    bool any;
    if (low_pf_hours(db, c, dev, from, to, &low_pf, err, errlen) ||
        registers(db, dev, from, to, reg, &any, err, errlen)) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddNumberToObject(o, "low_pf_hours", (double)low_pf);
    if (any) {
        cJSON_AddItemToObject(o, "meter_registers_kwh", tiers_json(reg));
        double diff[ANA_TIERS];
        for (int i = 0; i < ANA_TIERS; i++) {
            double rel;
            ana_compare(ours[i], reg[i], 0, &rel);
            diff[i] = isfinite(reg[i]) ? (ours[i] >= reg[i] ? rel : -rel) : NAN;
        }
        cJSON_AddItemToObject(o, "split_vs_registers", tiers_json(diff));
    } else {
        cJSON_AddNullToObject(o, "meter_registers_kwh");
    }
    return o;
}

int ana_gates_json(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to, cJSON **out,
                   char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc =
        store_prepare(db,
                      "SELECT d.id, d.name, d.gate_type, coalesce(sum(c.delta), 0) FROM device d "
                      "JOIN point p ON p.device_id = d.id AND p.quantity = 'energy_import' "
                      "LEFT JOIN counter_minute c ON c.point_id = p.id AND c.minute >= ?1 "
                      "AND c.minute < ?2 WHERE d.gate_type IS NOT NULL GROUP BY d.id "
                      "ORDER BY d.gate_type, d.name",
                      &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    cJSON *a = cJSON_CreateArray();
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *d = device_json(db, c, s, from, to, err, errlen);
        if (!d)
            rc = CM_ERR_DB;
        else
            cJSON_AddItemToArray(a, d);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(a);
        return rc;
    }
    *out = a;
    return CM_OK;
}
