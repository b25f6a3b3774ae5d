/* Fit of a year of 15-minute intervals including reading it from the store
 * (issue #13: under 50 ms CPU). A store holds one year of interval history
 * (ana_interval, as `coalmon import history` leaves it); each run reads the
 * year with ana_db_intervals() and fits the transport model. Baselines,
 * measured in the same run on the same data: the bare fit on the in-memory
 * arrays, and the read as it was before (one GROUP BY over the year) + fit.
 * Times are CPU time of this thread, median of 9 runs, so the figure does not
 * depend on what else the machine is doing. The intervals both reads return
 * must be the same: the bench says so and fails when they are not. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analytics/analytics.h"

#define RUNS 9

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static double col(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

/* The history read before issue #13: one GROUP BY over the span. */
static int old_read(sqlite3 *db, int64_t from, int64_t to, ana_interval_t **out, size_t *n)
{
    size_t cnt = (size_t)((to - from) / 900);
    ana_interval_t *iv = malloc(cnt * sizeof *iv);
    sqlite3_stmt *s;
    if (!iv || sqlite3_prepare_v2(db,
                                  "SELECT (start - ?1) / ?3, sum(tons), sum(transport_kwh), "
                                  "sum(total_kwh), sum(sub_kwh), sum(run_min), min(trusted) FROM "
                                  "ana_interval WHERE start >= ?1 AND start < ?2 GROUP BY 1",
                                  -1, &s, NULL) != SQLITE_OK) {
        free(iv);
        return -1;
    }
    for (size_t i = 0; i < cnt; i++)
        iv[i] = (ana_interval_t){.start = from + (int64_t)i * 900, .tons = NAN,
                                 .transport_kwh = NAN, .total_kwh = NAN, .sub_kwh = NAN,
                                 .run_h = NAN, .trusted = true};
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    sqlite3_bind_int64(s, 3, 900);
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t k = sqlite3_column_int64(s, 0);
        if (k < 0 || (size_t)k >= cnt)
            continue;
        ana_interval_t *v = &iv[k];
        v->tons = col(s, 1);
        v->transport_kwh = col(s, 2);
        v->total_kwh = col(s, 3);
        v->sub_kwh = col(s, 4);
        v->run_h = col(s, 5) / 60.0;
        v->trusted = sqlite3_column_int(s, 6) != 0;
    }
    sqlite3_finalize(s);
    *out = iv;
    *n = cnt;
    return 0;
}

static bool same(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* Number of intervals that differ between the two reads. */
static size_t differences(const ana_interval_t *a, const ana_interval_t *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += a[i].start != b[i].start || !same(a[i].tons, b[i].tons) ||
             !same(a[i].transport_kwh, b[i].transport_kwh) ||
             !same(a[i].total_kwh, b[i].total_kwh) || !same(a[i].sub_kwh, b[i].sub_kwh) ||
             !same(a[i].run_h, b[i].run_h) || a[i].trusted != b[i].trusted;
    return d;
}

typedef int (*read_fn)(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to,
                       ana_interval_t **out, size_t *n);

static int new_read(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to,
                    ana_interval_t **out, size_t *n)
{
    char err[256];
    int rc = ana_db_intervals(db, c, from, to, out, n, err, sizeof err);
    if (rc)
        fprintf(stderr, "read: %s\n", err);
    return rc;
}

static int old_read_fn(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to,
                       ana_interval_t **out, size_t *n)
{
    return old_read(db, from, to, out, n);
}

/* Median CPU ms of read (NULL: the arrays given) + fit; *read_ms the read's share. */
static double measure(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to, read_fn rd,
                      const ana_interval_t *mem, size_t mem_n, double *read_ms)
{
    double tot[RUNS], rdt[RUNS];
    char err[256];
    for (int r = 0; r < RUNS; r++) {
        double t0 = cpu_ms();
        ana_interval_t *iv = (ana_interval_t *)mem;
        size_t n = mem_n;
        if (rd && rd(db, c, from, to, &iv, &n))
            return NAN;
        double t1 = cpu_ms();
        ana_model_t m;
        if (ana_fit(iv, n, ANA_GATE_TRANSPORT, 900, &m, err, sizeof err)) {
            fprintf(stderr, "fit: %s\n", err);
            return NAN;
        }
        tot[r] = cpu_ms() - t0;
        rdt[r] = t1 - t0;
        if (rd)
            free(iv);
    }
    qsort(tot, RUNS, sizeof(double), cmp);
    qsort(rdt, RUNS, sizeof(double), cmp);
    *read_ms = rdt[RUNS / 2];
    return tot[RUNS / 2];
}

int main(void)
{
    char dir[64] = "/tmp/coalmon-bench-fitread-XXXXXX", path[128], err[256];
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
    if (!iv)
        return 1;
    ana_sim_intervals(&o, iv, n);
    int rc = ana_db_put_intervals(st, iv, n, 900, "bench", err, sizeof err);
    sqlite3 *db = rc ? NULL : store_reader_open(st, err, sizeof err);
    if (!db) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ana_conf_t c;
    ana_conf_default(&c);
    int64_t from = o.start, to = o.start + 365 * 86400LL;
    ana_interval_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    rc = new_read(db, &c, from, to, &a, &na) || old_read(db, from, to, &b, &nb);
    size_t diff = rc || na != nb ? (size_t)-1 : differences(a, b, na);
    free(a);
    free(b);
    double r_mem, r_old, r_new;
    double t_mem = measure(db, &c, from, to, NULL, iv, n, &r_mem);
    double t_old = measure(db, &c, from, to, old_read_fn, NULL, 0, &r_old);
    double t_new = measure(db, &c, from, to, new_read, NULL, 0, &r_new);
    printf("one year of 15-min intervals in the store: %zu (CPU ms, median of %d)\n", n, RUNS);
    printf("baseline, bare fit on in-memory arrays: %7.1f ms\n", t_mem);
    printf("baseline, old read (GROUP BY) + fit:    %7.1f ms  (read %.1f ms, %.0f %%)\n", t_old,
           r_old, t_old > 0 ? 100 * r_old / t_old : 0.0);
    printf("read + fit:                             %7.1f ms  (read %.1f ms, %.0f %%; target < 50 ms)\n",
           t_new, r_new, t_new > 0 ? 100 * r_new / t_new : 0.0);
    printf("ratio read+fit / bare fit: %.2f x;  / old read+fit: %.2f x\n",
           t_mem > 0 ? t_new / t_mem : 0.0, t_old > 0 ? t_new / t_old : 0.0);
    printf("intervals differing between the old and the new read: %zu\n", diff);
    store_reader_close(db);
    store_close(st);
    free(iv);
    char f[160];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof f, "%s%s", path, sfx[i]);
        unlink(f);
    }
    rmdir(dir);
    return diff == 0 ? 0 : 1;
}
