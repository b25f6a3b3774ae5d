/* bench: detection on the realistic simulated mine (issue #13 "Must show").
 * Ten seeds per scenario, each replayed day by day with the daemon's logic
 * (ana_backtest: trusted first model, scheduled refits adopted only when
 * quiet, tracked no-load, CUSUM + daily EWMA + stopped scale/meter, latched
 * conditions acknowledged after 24 h) and with a plain daily-OLS baseline in
 * the same run. Prints the table of docs/analytics.md.
 *
 *   build/bench/bench_detection [seeds] [clean_days]      (defaults 10, 60) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

#define DAY 86400
#define FAULT_DAY 30

typedef struct agg {
    int runs, caught, alarms;
    double clean_days, flagged, delay[64];
    int n_delay;
} agg_t;

static void sim_for(ana_sim_opts_t *s, uint32_t seed, int days)
{
    ana_sim_opts_realistic(s);
    /* a different season for every seed: no-load rises or falls */
    s->start = tm_bj_to_epoch(2026, 1, 1, 0, 0, 0) + (int64_t)((seed * 37u) % 365u) * DAY;
    s->seed = seed;
    s->days = days;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(agg_t *a)
{
    if (!a->n_delay)
        return NAN;
    qsort(a->delay, (size_t)a->n_delay, sizeof a->delay[0], cmp);
    return a->delay[a->n_delay / 2];
}

typedef enum { CAUGHT_RUN_H, CAUGHT_BEFORE_DAYS, CAUGHT_LOADED, CAUGHT_COUNTED } crit_t;

/* One scenario over seeds: project (transport gate) and baseline. */
static void scenario(const char *name, ana_sim_fault f, double size, double hours, int days,
                     crit_t crit, double limit, int seeds, const ana_bt_opts_t *bo, agg_t *p,
                     agg_t *b)
{
    memset(p, 0, sizeof *p);
    memset(b, 0, sizeof *b);
    for (int k = 1; k <= seeds; k++) {
        ana_sim_opts_t s;
        sim_for(&s, (uint32_t)(100 * (int)f + k), days);
        s.fault = f;
        s.fault_from = s.start + FAULT_DAY * DAY + (int64_t)((k * 5) % 24) * 3600;
        if (f == ANA_SIM_FAULT_STOPPED_SCALE || f == ANA_SIM_FAULT_STOPPED_METER)
            s.fault_from = s.start + FAULT_DAY * DAY + (9 + k % 6) * 3600; /* a loaded shift */
        if (hours > 0)
            s.fault_to = s.fault_from + (int64_t)(hours * 3600);
        if (f == ANA_SIM_FAULT_DRIFT) {
            s.drift_per_day = size / 20.0;
            s.drift_max = fabs(size);
        } else {
            s.step = size;
        }
        ana_bt_result_t r;
        char err[256];
        if (ana_bt_sim(&s, bo, &r, err, sizeof err)) {
            fprintf(stderr, "%s seed %d: %s\n", name, k, err);
            continue;
        }
        const ana_bt_gate_t *g[2] = {&r.gate[ANA_GATE_TRANSPORT], &r.baseline};
        agg_t *a[2] = {p, b};
        for (int j = 0; j < 2; j++) {
            a[j]->runs++;
            a[j]->alarms += g[j]->false_alarms;
            a[j]->clean_days += g[j]->clean_days;
            if (isfinite(g[j]->flagged_share))
                a[j]->flagged += g[j]->flagged_share;
            if (!g[j]->detected)
                continue;
            double v = crit == CAUGHT_RUN_H        ? g[j]->delay_run_h
                       : crit == CAUGHT_BEFORE_DAYS ? g[j]->delay_h / 24.0
                       : crit == CAUGHT_LOADED      ? g[j]->delay_loaded
                                                    : g[j]->delay_counted;
            bool right = g[j]->sign == 0 || (g[j]->sign > 0) == (size > 0) ||
                         f == ANA_SIM_FAULT_STOPPED_SCALE || f == ANA_SIM_FAULT_STOPPED_METER;
            if (right && v <= limit)
                a[j]->caught++;
            if (a[j]->n_delay < 64)
                a[j]->delay[a[j]->n_delay++] = v;
        }
    }
}

static void row(const char *name, const char *what, const agg_t *a, agg_t *p, agg_t *b,
                const char *unit)
{
    (void)a;
    char x[64], y[64];
    snprintf(x, sizeof x, "%d/%d (median %.1f %s)", p->caught, p->runs, median(p), unit);
    snprintf(y, sizeof y, "%d/%d (median %.1f %s)", b->caught, b->runs, median(b), unit);
    printf("| %-34s | %-34s | %-26s | %-26s |\n", name, what, x, y);
}

int main(int argc, char **argv)
{
    int seeds = argc > 1 ? atoi(argv[1]) : 10;
    int clean_days = argc > 2 ? atoi(argv[2]) : 60;
    if (seeds < 1 || seeds > 64 || clean_days < 30)
        return fprintf(stderr, "usage: bench_detection [seeds 1..64] [clean_days >= 30]\n"), 2;
    ana_conf_t c;
    ana_conf_default(&c);
    ana_bt_opts_t bo;
    ana_bt_opts_from_conf(&c, &bo);
    printf("detection on the realistic simulated mine, %d seeds per scenario, fault on day %d\n"
           "(first model fitted on days 0-%d, declared trusted; refits daily; 24 h ack)\n\n",
           seeds, FAULT_DAY, bo.train_days);
    printf("| %-34s | %-34s | %-26s | %-26s |\n", "scenario", "criterion", "coalmon",
           "plain daily OLS");
    printf("|%s|%s|%s|%s|\n", "------------------------------------",
           "------------------------------------", "----------------------------",
           "----------------------------");
    agg_t p, b;
    scenario("step -5 %", ANA_SIM_FAULT_STEP, -0.05, 0, 45, CAUGHT_RUN_H, 8, seeds, &bo, &p, &b);
    row("step -5 % (scale under-reads)", "caught within 8 h of running", NULL, &p, &b, "h");
    double persist_p = p.flagged / p.runs, persist_b = b.flagged / b.runs;
    scenario("step +5 %", ANA_SIM_FAULT_STEP, 0.05, 0, 45, CAUGHT_RUN_H, 8, seeds, &bo, &p, &b);
    row("step +5 %", "caught within 8 h of running", NULL, &p, &b, "h");
    persist_p = (persist_p + p.flagged / p.runs) / 2;
    persist_b = (persist_b + b.flagged / b.runs) / 2;
    scenario("step -2 %", ANA_SIM_FAULT_STEP, -0.02, 0, 45, CAUGHT_RUN_H, 24, seeds, &bo, &p, &b);
    row("step -2 %", "caught within 24 h of running", NULL, &p, &b, "h");
    scenario("step +10 %", ANA_SIM_FAULT_STEP, 0.10, 0, 45, CAUGHT_RUN_H, 8, seeds, &bo, &p, &b);
    row("step +10 %", "caught within 8 h of running", NULL, &p, &b, "h");
    scenario("coef +5 %", ANA_SIM_FAULT_COEF, 0.05, 0, 45, CAUGHT_RUN_H, 8, seeds, &bo, &p, &b);
    row("coefficient changed by hand +5 %", "caught within 8 h of running", NULL, &p, &b, "h");
    scenario("drift", ANA_SIM_FAULT_DRIFT, -0.08, 0, 60, CAUGHT_BEFORE_DAYS, 12.5, seeds, &bo, &p,
             &b);
    row("drift 0 -> -8 % over 20 days", "caught before -5 % (12.5 days)", NULL, &p, &b, "d");
    double drift_p = p.flagged / p.runs, drift_b = b.flagged / b.runs;
    scenario("stopped scale", ANA_SIM_FAULT_STOPPED_SCALE, 0, 4, 35, CAUGHT_LOADED, 1, seeds, &bo,
             &p, &b);
    row("stopped scale (4 h, day shift)", "caught within 1 loaded interval", NULL, &p, &b, "iv");
    scenario("stopped meter", ANA_SIM_FAULT_STOPPED_METER, 0, 4, 35, CAUGHT_COUNTED, 2, seeds, &bo,
             &p, &b);
    row("stopped meter (4 h, day shift)", "caught within 2 running intervals", NULL, &p, &b, "iv");

    /* clean histories: false alarms per 30 days per gate */
    agg_t fa[3] = {{0}};
    for (int k = 1; k <= seeds; k++) {
        ana_sim_opts_t s;
        sim_for(&s, (uint32_t)(1000 + k), clean_days);
        ana_bt_result_t r;
        char err[256];
        if (ana_bt_sim(&s, &bo, &r, err, sizeof err)) {
            fprintf(stderr, "clean seed %d: %s\n", k, err);
            continue;
        }
        const ana_bt_gate_t *g[3] = {&r.gate[0], &r.gate[1], &r.baseline};
        for (int j = 0; j < 3; j++) {
            fa[j].alarms += g[j]->false_alarms;
            fa[j].clean_days += g[j]->clean_days;
        }
    }
    char x[64], y[64];
    snprintf(x, sizeof x, "%.2f (%d in %.0f d)", 30 * fa[0].alarms / fa[0].clean_days,
             fa[0].alarms, fa[0].clean_days);
    snprintf(y, sizeof y, "%.2f (%d in %.0f d)", 30 * fa[2].alarms / fa[2].clean_days,
             fa[2].alarms, fa[2].clean_days);
    printf("| %-34s | %-34s | %-26s | %-26s |\n", "clean, transport gate (level 2)",
           "false alarms per 30 days", x, y);
    snprintf(x, sizeof x, "%.2f (%d in %.0f d)", 30 * fa[1].alarms / fa[1].clean_days,
             fa[1].alarms, fa[1].clean_days);
    printf("| %-34s | %-34s | %-26s | %-26s |\n", "clean, total gate (level 1)",
           "false alarms per 30 days", x, "-");
    snprintf(x, sizeof x, "%.1f %%", 100 * persist_p);
    snprintf(y, sizeof y, "%.1f %%", 100 * persist_b);
    printf("| %-34s | %-34s | %-26s | %-26s |\n", "step +-5 % persisting 15 days",
           "share of the fault's time flagged", x, y);
    snprintf(x, sizeof x, "%.1f %%", 100 * drift_p);
    snprintf(y, sizeof y, "%.1f %%", 100 * drift_b);
    printf("| %-34s | %-34s | %-26s | %-26s |\n", "drift persisting 30 days",
           "share of the fault's time flagged", x, y);
    return 0;
}
