/* bench_alarms: cost of one alarm evaluation (issue #7). Figures against a
 * baseline measured in the same run: an evaluation with nothing new. Then
 * evaluations that take in 1000 new conditions over 100 sources (repeats
 * folded into open alarms), and a steady state of 1000 open conditions
 * re-evaluated with nothing new. The engine must keep well inside its
 * 500 ms tick. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alarms/alarms.h"

#define ROUNDS 20

typedef struct batch {
    int n, sources, round;
    int64_t ts;
} batch_t;

static int put_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    batch_t *b = arg;
    for (int i = 0; i < b->n; i++) {
        char src[32];
        snprintf(src, sizeof src, "gate-%03d", i % b->sources);
        alarm_cond_t c = {.type = ALARM_T_ABNORMAL_POWER, .source = src, .state = "event",
                          .has_value = true, .value = i % 17, .detail = "bench", .ts_ms = b->ts};
        int rc = alarm_condition_put(db, &c, err, errlen);
        if (rc)
            return rc;
    }
    return CM_OK;
}

static double tick_ms(alarm_engine_t *e, int64_t now)
{
    char err[256];
    int64_t t0 = tm_mono_ms();
    if (alarm_engine_tick(e, now, NULL, err, sizeof err)) {
        fprintf(stderr, "bench_alarms: %s\n", err);
        exit(1);
    }
    return (double)(tm_mono_ms() - t0);
}

static int rm_entry(const char *p, const struct stat *sb, int f, struct FTW *w) { return remove(p); }

int main(void)
{
    char dir[] = "/tmp/coalmon-bench-alarms-XXXXXX", path[96], err[256];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/b.db", dir);
    log_setup("bench_alarms", LOG_LVL_WARN, false);
    store_opts_t o;
    store_opts_default(&o);
    o.batch_delay_ms = 0;
    store_t *st = store_open(path, &o, err, sizeof err);
    alarm_engine_t *e = st ? alarm_engine_new(st, NULL, err, sizeof err) : NULL;
    if (!e) {
        fprintf(stderr, "bench_alarms: %s\n", err);
        return 1;
    }
    int64_t now = tm_now_ms();
    double base = 0, ingest = 0, steady = 0;
    for (int r = 0; r < ROUNDS; r++)
        base += tick_ms(e, now + r);
    for (int r = 0; r < ROUNDS; r++) {
        batch_t b = {.n = 1000, .sources = 100, .round = r, .ts = now + 1000 + r};
        if (store_write(st, put_job, &b, err, sizeof err)) {
            fprintf(stderr, "bench_alarms: %s\n", err);
            return 1;
        }
        ingest += tick_ms(e, now + 1000 + r);
    }
    /* 1000 open conditions: 900 more sources, then evaluations with nothing new. */
    batch_t more = {.n = 1000, .sources = 1000, .ts = now + 2000};
    store_write(st, put_job, &more, err, sizeof err);
    tick_ms(e, now + 2000);
    for (int r = 0; r < ROUNDS; r++)
        steady += tick_ms(e, now + 2001 + r);
    base /= ROUNDS;
    ingest /= ROUNDS;
    steady /= ROUNDS;
    printf("evaluation, nothing new (baseline):         %8.2f ms\n", base);
    printf("evaluation taking 1000 new conditions:      %8.2f ms  (%.0f conditions/s, %.1fx baseline)\n",
           ingest, ingest > 0 ? 1000.0 / (ingest / 1000.0) : 0.0, base > 0 ? ingest / base : 0.0);
    printf("evaluation of 1000 open conditions:         %8.2f ms  (%.1fx baseline)\n", steady,
           base > 0 ? steady / base : 0.0);
    printf("share of the 500 ms tick used at 1000 open:  %7.1f %%\n", steady / 5.0);
    alarm_engine_free(e);
    store_close(st);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
