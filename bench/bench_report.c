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
