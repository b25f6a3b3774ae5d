/* analytics store layer: per-device checks from the collector's minute
 * aggregates (agg_minute, point, device) — power quality (power factor,
 * voltage THD, voltage unbalance) and motor vibration zones with trend
 * (ANA-2, ANA-3) — and the total gate's consumption against its usual
 * profile for the time of day (ALM-2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/eval.h"

#define PQ_WINDOW_S 3600

/* The start of the open condition of (type, source), or 0. */
static int64_t open_start(sqlite3 *db, const char *type, const char *source)
{
    sqlite3_stmt *s = NULL;
    int64_t start = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT start FROM ana_condition WHERE type = ?1 AND source = ?2 "
                           "AND end IS NULL ORDER BY start DESC LIMIT 1",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, type, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, source, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            start = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return start;
}

/* Present: upsert keeping the open episode's start; absent: end the open one. */
static int episode(sqlite3 *db, ana_write_t *w, bool present, ana_condition_t *c)
{
    int64_t start = open_start(db, c->type, c->source);
    if (!present && !start)
        return CM_OK;
    if (start)
        c->start = start;
    c->end = 0;
    return ana_cond_add(present ? &w->put : &w->end, c);
}

typedef struct dev_pq {
    char name[64];
    double pf, thd, v[3];
} dev_pq_t;

static void pq_set(dev_pq_t *d, const char *q, double v)
{
    if (!strcmp(q, "power_factor"))
        d->pf = v;
    else if (!strcmp(q, "thd_voltage"))
        d->thd = v;
    else if (!strncmp(q, "voltage_", 8) && q[8] >= 'a' && q[8] <= 'c' && !q[9])
        d->v[q[8] - 'a'] = v;
}

/* A JSON number, or null when not known. */
static void fmt_or_null(char *out, size_t len, const char *fmt, double v)
{
    if (isfinite(v))
        snprintf(out, len, fmt, v);
    else
        snprintf(out, len, "null");
}

static int pq_device(sqlite3 *db, const ana_conf_t *c, const dev_pq_t *d, int64_t from,
                     ana_write_t *w)
{
    double unb = ana_unbalance(d->v[0], d->v[1], d->v[2]);
    int bits = ana_pq_check(&c->pq, d->pf, d->thd, unb);
    ana_condition_t cd = {
        .level = 1, .start = from, .value = fabs(d->pf), .threshold = c->pq.pf_min};
    snprintf(cd.type, sizeof cd.type, "power_quality");
    snprintf(cd.source, sizeof cd.source, "%s", d->name);
    char pf[24], thd[24], ub[24];
    fmt_or_null(pf, sizeof pf, "%.3f", fabs(d->pf));
    fmt_or_null(thd, sizeof thd, "%.2f", d->thd);
    fmt_or_null(ub, sizeof ub, "%.2f", unb);
    snprintf(cd.detail, sizeof cd.detail,
             "{\"power_factor\":%s,\"thd_voltage_pct\":%s,\"unbalance_pct\":%s,"
             "\"low_pf\":%s,\"high_thd\":%s,\"unbalance\":%s}",
             pf, thd, ub, bits & 1 ? "true" : "false", bits & 2 ? "true" : "false",
             bits & 4 ? "true" : "false");
    if (!isfinite(cd.value))
        cd.value = NAN;
    return episode(db, w, bits != 0, &cd);
}

int ana_eval_power_quality(sqlite3 *db, const ana_conf_t *c, int64_t now, ana_write_t *w, char *err,
                           size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(
        db,
        "SELECT d.name, p.quantity, sum(a.vsum) / sum(a.n) FROM agg_minute a "
        "JOIN point p ON p.id = a.point_id JOIN device d ON d.id = p.device_id "
        "WHERE a.minute >= ?1 AND a.minute < ?2 AND p.quantity IN ('power_factor', "
        "'thd_voltage', 'voltage_a', 'voltage_b', 'voltage_c') GROUP BY d.name, p.quantity "
        "ORDER BY d.name",
        &s, err, errlen);
    if (rc)
        return rc;
    int64_t from = now - PQ_WINDOW_S;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, now);
    dev_pq_t d = {.name = ""};
    while (!rc && store_next(s, &rc, err, errlen)) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        if (strcmp(name, d.name)) {
            if (d.name[0])
                rc = pq_device(db, c, &d, from, w);
            d = (dev_pq_t){.pf = NAN, .thd = NAN, .v = {NAN, NAN, NAN}};
            snprintf(d.name, sizeof d.name, "%s", name);
        }
        pq_set(&d, (const char *)sqlite3_column_text(s, 1), sqlite3_column_double(s, 2));
    }
    sqlite3_finalize(s);
    if (!rc && d.name[0])
        rc = pq_device(db, c, &d, from, w);
    return rc;
}

/* ---- vibration -------------------------------------------------------------- */

#define VIB_TREND_DAYS 30
#define VIB_HORIZON_DAYS 14

static int vib_device(sqlite3 *db, const ana_conf_t *c, int64_t point, const char *name,
                      double now_v, int64_t now, ana_write_t *w, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT a.minute / 86400, sum(a.vsum) / sum(a.n) FROM agg_minute a "
                           "WHERE a.point_id = ?1 AND a.minute >= ?2 GROUP BY 1 ORDER BY 1",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, point);
    sqlite3_bind_int64(s, 2, now - VIB_TREND_DAYS * 86400);
    double x[VIB_TREND_DAYS + 2], y[VIB_TREND_DAYS + 2];
    size_t n = 0;
    while (!rc && n < VIB_TREND_DAYS + 2 && store_next(s, &rc, err, errlen)) {
        x[n] = sqlite3_column_double(s, 0);
        y[n++] = sqlite3_column_double(s, 1);
    }
    sqlite3_finalize(s);
    if (rc)
        return rc;
    double slope = ana_trend(x, y, n);
    char zone = ana_vib_zone(&c->vib, now_v);
    /* Pre-diagnosis: still in B, but the trend of the last weeks reaches C
     * within VIB_HORIZON_DAYS. */
    double ahead = isfinite(slope) ? now_v + slope * VIB_HORIZON_DAYS : now_v;
    bool rising = zone == 'B' && slope > 0 && ahead >= c->vib.bc;
    ana_condition_t cd = {.level = zone == 'D' ? 2 : 1,
                          .start = now - PQ_WINDOW_S,
                          .value = now_v,
                          .threshold = zone == 'D' ? c->vib.cd : c->vib.bc};
    snprintf(cd.type, sizeof cd.type, "vibration");
    snprintf(cd.source, sizeof cd.source, "%s", name);
    snprintf(cd.detail, sizeof cd.detail,
             "{\"velocity_mm_s\":%.2f,\"zone\":\"%c\",\"trend_mm_s_per_day\":%.4f,\"days\":%zu,"
             "\"kind\":\"%s\",\"in_%d_days_mm_s\":%.2f}",
             now_v, zone, isfinite(slope) ? slope : 0, n, rising ? "trend" : "zone",
             VIB_HORIZON_DAYS, ahead);
    return episode(db, w, zone >= 'C' || rising, &cd);
}

int ana_eval_vibration(sqlite3 *db, const ana_conf_t *c, int64_t now, ana_write_t *w, char *err,
                       size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT p.id, d.name, sum(a.vsum) / sum(a.n) FROM agg_minute a "
                           "JOIN point p ON p.id = a.point_id JOIN device d ON d.id = p.device_id "
                           "WHERE p.quantity = 'vibration_velocity' AND a.minute >= ?1 "
                           "AND a.minute < ?2 GROUP BY p.id",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, now - PQ_WINDOW_S);
    sqlite3_bind_int64(s, 2, now);
    while (!rc && store_next(s, &rc, err, errlen)) {
        char name[64];
        snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(s, 1));
        rc = vib_device(db, c, sqlite3_column_int64(s, 0), name, sqlite3_column_double(s, 2), now,
                        w, err, errlen);
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- usual profile of the total gate ------------------------------------------ */

#define PROFILE_DAYS 14

/* iv covers PROFILE_DAYS days of history and then the new intervals from
 * index first; each new interval is compared with the same time of day. */
/* Energy of the total gate that is not the belt's: a stopped belt lowers the
 * total by its own draw, which says nothing about excess use elsewhere. */
static double non_belt_kwh(const ana_interval_t *iv)
{
    double t = iv->transport_kwh;
    return isfinite(t) ? iv->total_kwh - t : iv->total_kwh;
}

/* Excess use only: the non-belt energy far above the same time of day. A stop
 * or a light shift (below usual) is no abnormal use. Advisory (level 1). */
static bool profile_excess(const ana_interval_t *iv, size_t j, size_t per_day, double *med,
                           double *mad)
{
    double hist[PROFILE_DAYS];
    size_t k = 0;
    for (size_t d = 1; d <= PROFILE_DAYS && d * per_day <= j; d++)
        hist[k++] = non_belt_kwh(&iv[j - d * per_day]);
    double v = non_belt_kwh(&iv[j]);
    return ana_profile_far(hist, k, v, 6, 0.3, med, mad) && v > *med;
}

int ana_eval_profile(const ana_conf_t *c, const ana_interval_t *iv, size_t n, size_t first,
                     ana_write_t *w)
{
    size_t per_day = 86400 / (size_t)c->interval_s;
    for (size_t i = first; i < n;) {
        double med, mad;
        if (!profile_excess(iv, i, per_day, &med, &mad)) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && j >= per_day) {
            double m2, d2;
            if (!profile_excess(iv, j, per_day, &m2, &d2))
                break;
            j++;
        }
        ana_condition_t cd = {.level = 1,
                              .start = iv[i].start,
                              .end = iv[j - 1].start + c->interval_s,
                              .value = non_belt_kwh(&iv[i]),
                              .threshold = med};
        snprintf(cd.type, sizeof cd.type, "power_abnormal");
        snprintf(cd.source, sizeof cd.source, "total");
        snprintf(cd.detail, sizeof cd.detail,
                 "{\"kind\":\"profile\",\"kwh\":%.1f,\"usual_kwh\":%.1f,\"mad_kwh\":%.2f,"
                 "\"intervals\":%zu,\"basis\":\"total minus transport\"}",
                 non_belt_kwh(&iv[i]), med, mad, j - i);
        if (ana_cond_add(&w->put, &cd))
            return CM_ERR_NOMEM;
        i = j;
    }
    return CM_OK;
}
