/* RPT-1 report generation for a year (issue #6): output, pts and energy per
 * day (365 rows) and per month over a store holding one year of 15-minute
 * history. Baseline, measured in the same run: reading the year's intervals
 * from the store (ana_db_intervals), which every report does first — the
 * ratio is the cost of the report on top of the read. Median of 5 runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/analytics.h"

#define RUNS 5

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int exec_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return store_exec(db, arg, err, errlen);
}

/* The same year as the collector would leave it: a station's output and three
 * gates' energy per minute (2.1 million rows); what ana_evaluate() reads for
 * the capacity check every eval_s when there is no history table. */
static void collector_tables(store_t *st, sqlite3 *db, const ana_conf_t *c, int64_t from,
                             int64_t to, double base_ms)
{
    char sql[1600], err[256];
    snprintf(sql, sizeof sql,
             "DELETE FROM ana_interval;"
             "INSERT INTO device(id, name, kind, gate_type) VALUES (1, 'st', 'station', NULL), "
             "(2, 'gt', 'meter', 'transport'), (3, 'gm', 'meter', 'mine_total'), "
             "(4, 'gu', 'meter', 'underground');"
             "INSERT INTO point(id, device_id, name, unit, quantity) VALUES "
             "(2, 2, 'ep', 'kWh', 'energy_import'), (3, 3, 'ep', 'kWh', 'energy_import'), "
             "(4, 4, 'ep', 'kWh', 'energy_import');"
             "WITH RECURSIVE m(t) AS (SELECT %lld UNION ALL SELECT t + 60 FROM m WHERE t + 60 < %lld)"
             " INSERT INTO station_output_minute SELECT 1, t, 10.0 * ((t / 60) %% 7 != 0), 1 FROM m;"
             "INSERT INTO counter_minute SELECT p.id, minute, 1.5 * p.id, 1 FROM "
             "station_output_minute, (SELECT 2 AS id UNION ALL SELECT 3 UNION ALL SELECT 4) p;",
             (long long)from, (long long)to);
    int64_t t0 = tm_mono_ms();
    if (store_write(st, exec_job, sql, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    printf("collector tables: one year per minute written in %lld ms\n",
           (long long)(tm_mono_ms() - t0));
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        t0 = tm_mono_ms();
        ana_interval_t *x;
        size_t k;
        ana_db_intervals(db, c, from, to, &x, &k, err, sizeof err);
        free(x);
        t[r] = (double)(tm_mono_ms() - t0);
    }
    qsort(t, RUNS, sizeof(double), cmp);
    printf("read the year from the collector's tables: %7.1f ms (%.1f x the history table)\n",
           t[RUNS / 2], base_ms > 0 ? t[RUNS / 2] / base_ms : 0.0);
}

int main(void)
{
    char dir[64] = "/tmp/coalmon-bench-report-XXXXXX", path[128], err[256];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/b.db", dir);
    store_t *st = store_open(path, NULL, err, sizeof err);
    if (!st) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ana_sim_opts_t o;
    ana_sim_opts_default(&o);
    o.days = 365;
    size_t n = ana_sim_count(&o);
    ana_interval_t *iv = malloc(n * sizeof *iv);
    ana_sim_intervals(&o, iv, n);
    if (ana_db_put_intervals(st, iv, n, 900, "bench", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    free(iv);
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    ana_conf_t c;
    ana_conf_default(&c);
    int64_t from = o.start, to = o.start + 365 * 86400LL;
    const char *kinds[] = {"output", "pts", "energy"};
    tm_period periods[] = {TM_DAY, TM_MONTH};
    double base[RUNS];
    for (int r = 0; r < RUNS; r++) {
        int64_t t0 = tm_mono_ms();
        ana_interval_t *x;
        size_t k;
        ana_db_intervals(db, &c, from, to, &x, &k, err, sizeof err);
        free(x);
        base[r] = (double)(tm_mono_ms() - t0);
    }
    qsort(base, RUNS, sizeof(double), cmp);
    printf("store: %zu intervals (one year)\n", n);
    printf("baseline, read the year:      %7.1f ms\n", base[RUNS / 2]);
    for (int p = 0; p < 2; p++)
        for (int k = 0; k < 3; k++) {
            double t[RUNS];
            int rows = 0;
            size_t csv_len = 0;
            for (int r = 0; r < RUNS; r++) {
                int64_t t0 = tm_mono_ms();
                cJSON *rep;
                if (ana_report(db, &c, kinds[k], periods[p], from, to, &rep, err, sizeof err)) {
                    fprintf(stderr, "%s\n", err);
                    return 1;
                }
                char *csv = ana_report_csv(rep, &csv_len);
                rows = cJSON_GetArraySize(cJSON_GetObjectItem(rep, "rows"));
                free(csv);
                cJSON_Delete(rep);
                t[r] = (double)(tm_mono_ms() - t0);
            }
            qsort(t, RUNS, sizeof(double), cmp);
            printf("%-6s per %-5s %3d rows: %7.1f ms  (%.1f x the read; CSV %zu bytes)\n", kinds[k],
                   p ? "month" : "day", rows, t[RUNS / 2],
                   base[RUNS / 2] > 0 ? t[RUNS / 2] / base[RUNS / 2] : 0.0, csv_len);
        }
    collector_tables(st, db, &c, from, to, base[RUNS / 2]);
    store_reader_close(db);
    store_close(st);
    char f[160];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof f, "%s%s", path, sfx[i]);
        unlink(f);
    }
    rmdir(dir);
    return 0;
}
