/*
 * Intake throughput (issue #9), each against a baseline in the same run:
 *   1. tickets stored as one batch job per 500 vs one job per ticket (the
 *      weighbridge system that posts one ticket at a time);
 *   2. plate similarity (weighted edit distance over code points) vs strcmp;
 *   3. deciding exits: intake_match_run over N pending captures with a
 *      busy window of tickets, vs the bare SQL candidate scan it does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/analytics.h"
#include "intake/intake.h"

#define TICKETS 3000
#define CAPTURES 400

static double now_s(void) { return tm_mono_ms() / 1000.0; }

static void plate(int i, char *out, size_t len)
{
    static const char serial[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    unsigned x = (unsigned)i * 2654435761u + 12345u;
    snprintf(out, len, "晋%c%c%c%c%c%c", 'A' + (int)(x % 12), serial[(x >> 4) % 34],
             serial[(x >> 9) % 34], '0' + (int)((x >> 14) % 10), '0' + (int)((x >> 18) % 10),
             '0' + (int)((x >> 22) % 10));
}

static void make_tickets(intake_ticket_t *t, int n, int64_t t0)
{
    for (int i = 0; i < n; i++) {
        memset(&t[i], 0, sizeof t[i]);
        snprintf(t[i].ticket_id, sizeof t[i].ticket_id, "B%06d", i);
        plate(i, t[i].plate, sizeof t[i].plate);
        snprintf(t[i].material, sizeof t[i].material, "raw");
        snprintf(t[i].direction, sizeof t[i].direction, "out");
        snprintf(t[i].weighbridge_id, sizeof t[i].weighbridge_id, "WB1");
        t[i].gross_time = t0 + i * 2;
        t[i].tare_time = t[i].gross_time - 1800;
        t[i].tare = 15;
        t[i].net = 35;
        t[i].gross = 50;
    }
}

static store_t *open_store(const char *dir, const char *name)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    store_t *st = store_open(path, NULL, err, sizeof err);
    if (!st) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return st;
}

static void bench_store(const char *dir, intake_ticket_t *t)
{
    char err[256];
    store_t *a = open_store(dir, "single.db"), *b = open_store(dir, "batch.db");
    double t0 = now_s();
    enum { SINGLES = 500 }; /* each waits for its own commit: a sample is enough */
    for (int i = 0; i < SINGLES; i++)
        if (intake_tickets_put(a, &t[i], 1, "bench", NULL, err, sizeof err))
            fprintf(stderr, "%s\n", err);
    double single = (now_s() - t0) * TICKETS / SINGLES;
    t0 = now_s();
    for (int i = 0; i < TICKETS; i += 500)
        if (intake_tickets_put(b, &t[i], 500, "bench", NULL, err, sizeof err))
            fprintf(stderr, "%s\n", err);
    double batch = now_s() - t0;
    printf("tickets: one job each %8.0f /s | batches of 500 %8.0f /s | ratio %.1fx\n",
           TICKETS / single, TICKETS / batch, single / batch);
    store_close(a);
    store_close(b);
}

/* What the timed loops compute goes here, so the optimiser cannot drop them. */
static volatile double bench_sink;

static void bench_similarity(void)
{
    char p[256][40];
    for (int i = 0; i < 256; i++)
        plate(i, p[i], sizeof p[i]);
    int n = 400000;
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        bench_sink += strcmp(p[i & 255], p[(i * 7) & 255]) == 0;
    double base = now_s() - t0;
    t0 = now_s();
    for (int i = 0; i < n; i++)
        bench_sink += intake_plate_similarity(p[i & 255], p[(i * 7) & 255]);
    double sim = now_s() - t0;
    printf("plates:  strcmp %10.0f /s | similarity %10.0f /s | cost %.0fx strcmp\n", n / base,
           n / sim, sim / base);
}

static void bench_match(const char *dir, intake_ticket_t *t, int64_t t0)
{
    char err[256];
    store_t *st = open_store(dir, "match.db");
    intake_tickets_put(st, t, TICKETS, "bench", NULL, err, sizeof err);
    intake_point_t pt = {"E1", "bench", "", "", "out"};
    intake_point_put(st, &pt, "bench", "cli", err, sizeof err);
    static intake_capture_t c[CAPTURES];
    for (int i = 0; i < CAPTURES; i++) {
        memset(&c[i], 0, sizeof c[i]);
        snprintf(c[i].capture_id, sizeof c[i].capture_id, "C%05d", i);
        snprintf(c[i].point, sizeof c[i].point, "E1");
        snprintf(c[i].load, sizeof c[i].load, "loaded");
        int k = TICKETS / 2 + i; /* every capture has its ticket; some are misread */
        snprintf(c[i].plate, sizeof c[i].plate, "%s", t[k].plate);
        if (i % 5 == 0)
            c[i].plate[strlen(c[i].plate) - 1] = c[i].plate[strlen(c[i].plate) - 1] == '8' ? 'B' : '8';
        c[i].time = t[k].gross_time + 180;
    }
    intake_captures_put(st, c, CAPTURES, "bench", NULL, NULL, err, sizeof err);
    intake_conf_t conf;
    intake_conf_default(&conf);
    /* Baseline: the candidate scan alone, once per capture. */
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    double b0 = now_s();
    for (int i = 0; i < CAPTURES; i++) {
        sqlite3_stmt *s;
        store_prepare(db, "SELECT t.ticket_id, t.plate, t.gross_time FROM weigh_ticket_current t"
                          " WHERE t.direction = 'out' AND t.gross_time >= ? AND t.gross_time <= ?",
                      &s, NULL, 0);
        sqlite3_bind_int64(s, 1, c[i].time - conf.match_before_s);
        sqlite3_bind_int64(s, 2, c[i].time + conf.match_after_s);
        while (sqlite3_step(s) == SQLITE_ROW)
            ;
        sqlite3_finalize(s);
    }
    double base = now_s() - b0;
    store_reader_close(db);
    intake_match_stats_t ms;
    double m0 = now_s();
    intake_match_run(st, &conf, t0 + 10 * 86400, &ms, err, sizeof err);
    double match = now_s() - m0;
    int window = (conf.match_before_s + conf.match_after_s) / 2;
    printf("match:   %d captures, ~%d tickets per window: %.0f captures/s | candidate scan alone "
           "%.0f /s | ratio %.2f (matched %d, escapes %d)\n",
           CAPTURES, window, CAPTURES / match, CAPTURES / base, match / base, ms.matched, ms.escapes);
    store_close(st);
}

/* Figures for shift..year over a year of tickets, against a bare SUM(net)
 * over the whole table (no versions, no periods). */
static void bench_figures(const char *dir, int64_t t0)
{
    enum { N = 30000 };
    char err[256];
    store_t *st = open_store(dir, "figures.db");
    intake_ticket_t *t = calloc(N, sizeof *t);
    make_tickets(t, N, t0 - 300 * 86400);
    for (int i = 0; i < N; i++)
        t[i].gross_time = t0 - 300 * 86400 + (int64_t)i * (300 * 86400 / N);
    for (int i = 0; i < N; i += 1000)
        intake_tickets_put(st, &t[i], 1000, "bench", NULL, err, sizeof err);
    free(t);
    intake_conf_t conf;
    intake_conf_default(&conf);
    conf.output = ana_output_for_intake;
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    int reps = 20;
    double b0 = now_s();
    for (int i = 0; i < reps; i++) {
        sqlite3_stmt *s;
        store_prepare(db, "SELECT sum(net) FROM weigh_ticket", &s, NULL, 0);
        sqlite3_step(s);
        sqlite3_finalize(s);
    }
    double base = (now_s() - b0) / reps;
    double f0 = now_s();
    for (int i = 0; i < reps; i++) {
        cJSON *j = NULL;
        intake_figures_json(db, &conf, t0, NULL, &j, err, sizeof err);
        cJSON_Delete(j);
    }
    double fig = (now_s() - f0) / reps;
    printf("figures: shift..year over %d tickets %.1f ms | bare SUM over the table %.1f ms | ratio %.1f\n",
           N, fig * 1000, base * 1000, fig / base);
    store_reader_close(db);
    store_close(st);
}

int main(void)
{
    char dir[] = "/tmp/coalmon-bench-intake-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    log_setup("bench_intake", LOG_LVL_WARN, false);
    int64_t t0 = tm_now_s() - 30 * 86400;
    intake_ticket_t *t = calloc(TICKETS, sizeof *t);
    make_tickets(t, TICKETS, t0);
    bench_store(dir, t);
    bench_similarity();
    bench_match(dir, t, t0);
    bench_figures(dir, tm_now_s());
    free(t);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
