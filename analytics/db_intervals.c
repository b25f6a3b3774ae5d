/* analytics store layer: intervals from the history table (ana_interval) and
 * the collector's tables (station_output_minute, station_record,
 * counter_minute with point/device). Reads only, on the caller's connection;
 * history is written through store_write(). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

typedef struct span {
    int64_t from;
    int iv;
    size_t n;
    ana_interval_t *out;
} span_t;

static double add(double acc, double v)
{
    return isfinite(acc) ? acc + v : v;
}

/* NULL reads as 0.0, so only a zero needs its type asked (half the calls). */
static double col_or_nan(sqlite3_stmt *s, int i)
{
    double v = sqlite3_column_double(s, i);
    return v == 0 && sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : v;
}

/* History replaces what the collector had for the same interval: the first
 * history row of an interval resets it, later rows of the same interval
 * (history finer than the interval) add to it. Sums follow SQL's sum(): NULLs
 * are skipped, all NULL is NAN; trusted only when every row is. */
static void put_history(ana_interval_t *iv, sqlite3_stmt *s, bool first)
{
    if (first) {
        iv->tons = iv->transport_kwh = iv->total_kwh = iv->sub_kwh = iv->run_h = NAN;
        iv->trusted = true;
    }
    double v[5];
    for (int i = 0; i < 5; i++)
        v[i] = col_or_nan(s, i + 1);
    if (isfinite(v[0]))
        iv->tons = add(iv->tons, v[0]);
    if (isfinite(v[1]))
        iv->transport_kwh = add(iv->transport_kwh, v[1]);
    if (isfinite(v[2]))
        iv->total_kwh = add(iv->total_kwh, v[2]);
    if (isfinite(v[3]))
        iv->sub_kwh = add(iv->sub_kwh, v[3]);
    if (isfinite(v[4]))
        iv->run_h = add(iv->run_h, v[4]); /* minutes until history_done() */
    iv->trusted = iv->trusted && sqlite3_column_int(s, 6) != 0;
}

/* History rows in [from, to) in key order, summed per interval in C: the
 * GROUP BY this replaces sorted the year through a temporary b-tree, three
 * times the cost of the scan itself (bench/bench_fit_read.c). */
static int from_history(sqlite3 *db, const span_t *sp, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT start, tons, transport_kwh, total_kwh, sub_kwh, run_min, "
                           "trusted FROM ana_interval WHERE start >= ?1 AND start < ?2 "
                           "ORDER BY start",
                           &s, err, errlen);
    if (rc)
        return rc;
    int64_t to = sp->from + (int64_t)sp->n * sp->iv;
    sqlite3_bind_int64(s, 1, sp->from);
    sqlite3_bind_int64(s, 2, to);
    bool *seen = calloc(sp->n, sizeof *seen);
    if (!seen) {
        sqlite3_finalize(s);
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    }
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        size_t k = (size_t)((sqlite3_column_int64(s, 0) - sp->from) / sp->iv);
        if (k >= sp->n)
            continue;
        put_history(&sp->out[k], s, !seen[k]);
        seen[k] = true;
    }
    if (step != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "reading intervals: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    for (size_t k = 0; k < sp->n; k++)
        if (seen[k] && isfinite(sp->out[k].run_h))
            sp->out[k].run_h /= 60.0;
    free(seen);
    return rc;
}

/* Ids from a small query (devices, points), with an optional text column. */
typedef struct keys {
    int64_t id[256];
    char tag[256][16];
    int n;
} keys_t;

static int list_keys(sqlite3 *db, const char *sql, keys_t *k, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    k->n = 0;
    int rc = store_prepare(db, sql, &s, err, errlen);
    if (rc)
        return rc;
    while (!rc && k->n < 256 && store_next(s, &rc, err, errlen)) {
        k->id[k->n] = sqlite3_column_int64(s, 0);
        const char *t = sqlite3_column_count(s) > 1 ? (const char *)sqlite3_column_text(s, 1) : "";
        snprintf(k->tag[k->n], sizeof k->tag[0], "%s", t ? t : "");
        k->n++;
    }
    sqlite3_finalize(s);
    return rc;
}

/* One key's rows over the span by its primary key range; fn sees (k, row). */
typedef void (*stream_fn)(const span_t *sp, size_t k, sqlite3_stmt *s, const char *tag,
                          void *arg);
static int stream(sqlite3 *db, const span_t *sp, const char *sql, int64_t key, int64_t scale,
                  const char *tag, stream_fn fn, void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, sql, &s, err, errlen);
    if (rc)
        return rc;
    int64_t to = sp->from + (int64_t)sp->n * sp->iv;
    sqlite3_bind_int64(s, 1, key);
    sqlite3_bind_int64(s, 2, sp->from * scale);
    sqlite3_bind_int64(s, 3, to * scale);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t t = sqlite3_column_int64(s, 0) / scale;
        size_t k = (size_t)((t - sp->from) / sp->iv);
        if (k < sp->n)
            fn(sp, k, s, tag, arg);
    }
    if (step != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "reading intervals: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

static void acc_tons(const span_t *sp, size_t k, sqlite3_stmt *s, const char *tag, void *arg)
{
    ana_interval_t *iv = &sp->out[k];
    iv->tons = add(iv->tons, sqlite3_column_double(s, 1));
    if (!isfinite(iv->run_h))
        iv->run_h = 0; /* the station reported: running time known, maybe zero */
}

static void acc_energy(const span_t *sp, size_t k, sqlite3_stmt *s, const char *gate, void *arg)
{
    ana_interval_t *iv = &sp->out[k];
    double kwh = sqlite3_column_double(s, 1);
    if (!strcmp(gate, "transport"))
        iv->transport_kwh = add(iv->transport_kwh, kwh);
    else if (!strcmp(gate, "mine_total"))
        iv->total_kwh = add(iv->total_kwh, kwh);
    if (strcmp(gate, "mine_total"))
        iv->sub_kwh = add(iv->sub_kwh, kwh);
}

/* Running minutes of one station: distinct minutes with the belt moving. */
typedef struct run_acc {
    int *minutes;     /* per interval, this station */
    int64_t last_min; /* last minute counted */
} run_acc_t;

static void acc_run(const span_t *sp, size_t k, sqlite3_stmt *s, const char *tag, void *arg)
{
    run_acc_t *r = arg;
    int64_t minute = sqlite3_column_int64(s, 0) / 60000;
    if (sqlite3_column_double(s, 1) > 0.1 && minute != r->last_min) {
        r->minutes[k]++;
        r->last_min = minute;
    }
}

/* Streams each station's and each gate's rows by their primary key range
 * (no grouping or sorting in SQL): a year of minutes reads in a fraction of
 * the time a GROUP BY over all rows takes. */
static int from_collector(sqlite3 *db, const span_t *sp, char *err, size_t errlen)
{
    keys_t k;
    int rc = CM_OK;
    /* The collector's tables are there: the migrations create them all. */
    {
        rc = list_keys(db, "SELECT id FROM device", &k, err, errlen);
        for (int i = 0; !rc && i < k.n; i++)
            rc = stream(db, sp,
                        "SELECT minute, tonnes FROM station_output_minute WHERE device_id = ?1 "
                        "AND minute >= ?2 AND minute < ?3",
                        k.id[i], 1, "", acc_tons, NULL, err, errlen);
    }
    if (!rc) {
        int *best = calloc(sp->n, sizeof *best), *mine = calloc(sp->n, sizeof *mine);
        if (!best || !mine)
            rc = cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        for (int i = 0; !rc && i < k.n; i++) {
            run_acc_t r = {.minutes = mine, .last_min = -1};
            memset(mine, 0, sp->n * sizeof *mine);
            rc = stream(db, sp,
                        "SELECT ts_ms, speed_ms FROM station_record WHERE device_id = ?1 AND "
                        "ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms",
                        k.id[i], 1000, "", acc_run, &r, err, errlen);
            for (size_t j = 0; j < sp->n; j++)
                if (mine[j] > best[j])
                    best[j] = mine[j]; /* two stations on one belt: the one that saw most */
        }
        for (size_t j = 0; !rc && j < sp->n; j++)
            if (best[j] > 0)
                sp->out[j].run_h = best[j] / 60.0;
        free(best);
        free(mine);
    }
    if (!rc) {
        rc = list_keys(db,
                       "SELECT p.id, d.gate_type FROM point p JOIN device d ON d.id = p.device_id "
                       "WHERE p.quantity = 'energy_import' AND d.gate_type IS NOT NULL",
                       &k, err, errlen);
        for (int i = 0; !rc && i < k.n; i++)
            rc = stream(db, sp,
                        "SELECT minute, delta FROM counter_minute WHERE point_id = ?1 AND "
                        "minute >= ?2 AND minute < ?3",
                        k.id[i], 1, k.tag[i], acc_energy, NULL, err, errlen);
    }
    return rc;
}

int ana_db_intervals(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to,
                     ana_interval_t **out, size_t *n, char *err, size_t errlen)
{
    int iv = c->interval_s;
    from -= ((from % iv) + iv) % iv;
    *out = NULL;
    *n = 0;
    if (to <= from)
        return CM_OK;
    span_t sp = {.from = from, .iv = iv, .n = (size_t)((to - from + iv - 1) / iv)};
    sp.out = malloc(sp.n * sizeof *sp.out);
    if (!sp.out)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory for %zu intervals", sp.n);
    for (size_t i = 0; i < sp.n; i++)
        sp.out[i] = (ana_interval_t){.start = from + (int64_t)i * iv,
                                     .tons = NAN,
                                     .transport_kwh = NAN,
                                     .total_kwh = NAN,
                                     .sub_kwh = NAN,
                                     .run_h = NAN,
                                     .trusted = true};
    int rc = from_collector(db, &sp, err, errlen);
    if (!rc)
        rc = from_history(db, &sp, err, errlen);
    if (rc) {
        free(sp.out);
        return rc;
    }
    *out = sp.out;
    *n = sp.n;
    return CM_OK;
}

typedef struct put_job {
    const ana_interval_t *iv;
    size_t n;
    int interval_s;
    const char *source;
} put_job_t;

static void bind_or_null(sqlite3_stmt *s, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

static int put_fn(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    put_job_t *j = arg;
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT OR REPLACE INTO ana_interval(start, interval_s, tons, "
                           "transport_kwh, total_kwh, sub_kwh, run_min, trusted, source) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                           &s, err, errlen);
    for (size_t i = 0; !rc && i < j->n; i++) {
        const ana_interval_t *v = &j->iv[i];
        sqlite3_bind_int64(s, 1, v->start);
        sqlite3_bind_int(s, 2, j->interval_s);
        bind_or_null(s, 3, v->tons);
        bind_or_null(s, 4, v->transport_kwh);
        bind_or_null(s, 5, v->total_kwh);
        bind_or_null(s, 6, v->sub_kwh);
        bind_or_null(s, 7, v->run_h * 60.0);
        sqlite3_bind_int(s, 8, v->trusted);
        sqlite3_bind_text(s, 9, j->source, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = cm_fail(err, errlen, CM_ERR_DB, "storing interval %zu: %s", i, sqlite3_errmsg(db));
        sqlite3_reset(s);
    }
    if (s)
        sqlite3_finalize(s);
    return rc;
}

int ana_db_put_intervals(store_t *st, const ana_interval_t *iv, size_t n, int interval_s,
                         const char *source, char *err, size_t errlen)
{
    put_job_t j = {.iv = iv, .n = n, .interval_s = interval_s, .source = source};
    return store_write(st, put_fn, &j, err, errlen);
}
