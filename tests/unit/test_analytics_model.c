/* analytics: the output-vs-electricity model and its residual monitor (ANA-1,
 * ALM-3, issue #6): hand-checked fits and CUSUM steps, then scenario months
 * on simulated data (clean, under-reporting scale, drift, step after a
 * calibration, the total gate as second opinion). Detection delays are printed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gsl/gsl_multifit.h>

#include "analytics/analytics.h"

#define DAY 86400

static ana_interval_t mk(int64_t t, double run_h, double tons, double kwh)
{
    return (ana_interval_t){.start = t,
                            .tons = tons,
                            .transport_kwh = kwh,
                            .total_kwh = kwh * 3,
                            .sub_kwh = NAN,
                            .run_h = run_h,
                            .trusted = true};
}

/* Exact data E = 80 run + 0.5 t + 3: the fit returns these numbers. */
static void fit_recovers_exact_coefficients(void **state)
{
    ana_interval_t iv[40];
    for (int i = 0; i < 40; i++) {
        double run = 0.25 * ((i % 5) / 4.0);
        double tons = run * 400 + (i % 7) * 3.0;
        iv[i] = mk(i * 900, run, tons, 80 * run + 0.5 * tons + 3);
    }
    ana_model_t m;
    char err[256];
    assert_int_equal(ana_fit(iv, 40, ANA_GATE_TRANSPORT, 900, &m, err, sizeof err), 0);
    assert_true(fabs(m.a - 80) < 1e-6);
    assert_true(fabs(m.b - 0.5) < 1e-6);
    assert_true(fabs(m.c - 3) < 1e-6);
    assert_int_equal(m.n, 40);
    assert_int_equal(m.window_from, 0);
    assert_int_equal(m.window_to, 40 * 900);
    /* 80 kWh at 0.25 h: (80 - 20 - 3) / 0.5 = 114 t implied. */
    assert_true(fabs(ana_model_implied_tons(&m, 0.25, 80) - 114) < 1e-6);
    assert_true(fabs(ana_model_energy(&m, 0.25, 114) - 80) < 1e-6);
}

/* Three wild intervals (a counter jump) do not bend a robust fit. */
static void fit_ignores_outliers(void **state)
{
    ana_interval_t iv[60];
    for (int i = 0; i < 60; i++) {
        double run = 0.05 + 0.2 * ((i * 7) % 11) / 10.0;
        double tons = run * 500 * (0.7 + 0.3 * ((i * 3) % 5) / 4.0);
        double e = 90 * run + 0.45 * tons + 2 + ((i % 3) - 1) * 0.2;
        iv[i] = mk(i * 900, run, tons, e);
    }
    iv[10].transport_kwh = 900;
    iv[20].transport_kwh = 0;
    iv[30].transport_kwh = 1500;
    ana_model_t m;
    char err[256];
    assert_int_equal(ana_fit(iv, 60, ANA_GATE_TRANSPORT, 900, &m, err, sizeof err), 0);
    assert_true(fabs(m.b - 0.45) < 0.01);
    assert_true(fabs(m.a - 90) < 3);
    assert_true(m.n_outliers >= 3);
}

/* Our IRLS is GSL's bisquare estimator solved another way: same answer. */
static void fit_agrees_with_gsl_robust(void **state)
{
    ana_sim_opts_t o;
    ana_sim_opts_default(&o);
    o.days = 14;
    size_t n = ana_sim_count(&o);
    ana_interval_t *iv = malloc(n * sizeof *iv);
    ana_sim_intervals(&o, iv, n);
    for (size_t i = 0; i < n; i += 97)
        iv[i].transport_kwh *= 3; /* counter glitches */
    ana_model_t m;
    char err[256];
    assert_int_equal(ana_fit(iv, n, ANA_GATE_TRANSPORT, 900, &m, err, sizeof err), 0);
    gsl_matrix *X = gsl_matrix_alloc(n, 3), *cov = gsl_matrix_alloc(3, 3);
    gsl_vector *y = gsl_vector_alloc(n), *c = gsl_vector_alloc(3);
    gsl_multifit_robust_workspace *w =
        gsl_multifit_robust_alloc(gsl_multifit_robust_bisquare, n, 3);
    for (size_t i = 0; i < n; i++) {
        gsl_matrix_set(X, i, 0, iv[i].run_h);
        gsl_matrix_set(X, i, 1, iv[i].tons);
        gsl_matrix_set(X, i, 2, 1);
        gsl_vector_set(y, i, iv[i].transport_kwh);
    }
    assert_int_equal(gsl_multifit_robust(X, y, c, cov, w), 0);
    assert_true(fabs(m.a - gsl_vector_get(c, 0)) < 1e-4 * fabs(m.a));
    assert_true(fabs(m.b - gsl_vector_get(c, 1)) < 1e-4 * fabs(m.b));
    assert_true(fabs(m.c - gsl_vector_get(c, 2)) < 1e-3 * fabs(m.c));
    assert_true(m.n_outliers >= (int)(n / 97));
    gsl_multifit_robust_free(w);
    gsl_matrix_free(X);
    gsl_matrix_free(cov);
    gsl_vector_free(y);
    gsl_vector_free(c);
    free(iv);
}

static void fit_refuses_data_that_cannot_tell(void **state)
{
    ana_interval_t iv[30];
    char err[256];
    ana_model_t m;
    for (int i = 0; i < 30; i++) /* tonnage exactly proportional to running time */
        iv[i] = mk(i * 900, 0.25 * (i % 4) / 3.0, 100 * (i % 4) / 3.0, 10 + i % 4);
    assert_int_equal(ana_fit(iv, 30, ANA_GATE_TRANSPORT, 900, &m, err, sizeof err), CM_ERR_INVALID);
    assert_non_null(strstr(err, "lock-step"));
    assert_int_equal(ana_fit(iv, 5, ANA_GATE_TRANSPORT, 900, &m, err, sizeof err), CM_ERR_INVALID);
    assert_non_null(strstr(err, "at least 12"));
    for (int i = 0; i < 30; i++)
        iv[i].trusted = false; /* untrusted data is never fitted */
    assert_int_equal(ana_fit(iv, 30, ANA_GATE_TRANSPORT, 900, &m, err, sizeof err), CM_ERR_INVALID);
}

typedef struct seen {
    ana_episode_t e[64];
    int n;
} seen_t;

static void collect(const ana_episode_t *e, void *arg)
{
    seen_t *s = arg;
    if (s->n < 64)
        s->e[s->n++] = *e;
}

/* Model E = t (a = c = 0, b = 1, sigma 1): z = metered - energy. With k 0.5,
 * h 2: z = +1 adds 0.5 a step and crosses at the 5th; z = +3 crosses at once. */
static void cusum_steps_by_hand(void **state)
{
    ana_model_t m = {.gate = ANA_GATE_TRANSPORT, .a = 0, .b = 1, .c = 0, .sigma = 1};
    ana_cusum_opts_t o;
    ana_cusum_opts_default(&o);
    o.k = 0.5;
    o.h = 2;
    o.clear_intervals = 3;
    o.jump_intervals = 2;
    ana_interval_t iv[12];
    double z[12] = {1, 1, 1, 1, 1, 0, 0, 0, 0, -3, 0, 0};
    for (int i = 0; i < 12; i++)
        iv[i] = mk(i * 900, 0.25, 100 + z[i], 100);
    ana_cusum_t cs = {0};
    ana_episode_t open = {0};
    seen_t s = {0};
    int n = ana_monitor(&m, &o, iv, 5, 900, &cs, &open, collect, &s);
    assert_int_equal(n, 1); /* open, reported as ongoing */
    assert_int_equal(s.e[0].sign, 1);
    assert_int_equal(s.e[0].start, 0);
    assert_int_equal(s.e[0].detected, 5 * 900);
    assert_int_equal(s.e[0].end, 0);
    assert_false(s.e[0].jump); /* five intervals to cross: a drift */
    assert_true(fabs(ana_episode_deviation(&s.e[0]) - 5.0 / 500.0) < 1e-12);
    /* Resume: three quiet intervals close it (end = its last crossing), then
     * z = -3 opens a downward jump. */
    s.n = 0;
    n = ana_monitor(&m, &o, iv + 5, 7, 900, &cs, &open, collect, &s);
    assert_int_equal(n, 2);
    assert_int_equal(s.e[0].sign, 1);
    assert_int_equal(s.e[0].end, 5 * 900);
    assert_int_equal(s.e[1].sign, -1);
    assert_int_equal(s.e[1].start, 9 * 900);
    assert_true(s.e[1].jump);
    assert_int_equal(cs.last, 11 * 900);
}

/* ---- scenario months ---------------------------------------------------- */

typedef struct scenario {
    ana_model_t model;
    seen_t seen;
    ana_interval_t *iv;
    size_t n;
} scenario_t;

/* Fit on 28 clean days, then monitor `days` more generated with opts. */
static void run_scenario(scenario_t *sc, ana_gate gate, uint32_t seed, int days, double step,
                         double drift, int fault_day)
{
    ana_sim_opts_t o;
    ana_sim_opts_default(&o);
    o.days = 28;
    o.seed = seed;
    size_t nt = ana_sim_count(&o);
    ana_interval_t *train = malloc(nt * sizeof *train);
    assert_non_null(train);
    ana_sim_intervals(&o, train, nt);
    char err[256];
    assert_int_equal(ana_fit(train, nt, gate, 900, &sc->model, err, sizeof err), 0);
    free(train);
    o.start += 28 * DAY;
    o.days = days;
    o.seed = seed * 7919u + 1;
    o.step = step;
    o.drift_per_day = drift;
    o.fault_from = fault_day >= 0 ? o.start + (int64_t)fault_day * DAY + 3 * 3600 : 0;
    sc->n = ana_sim_count(&o);
    sc->iv = malloc(sc->n * sizeof *sc->iv);
    assert_non_null(sc->iv);
    ana_sim_intervals(&o, sc->iv, sc->n);
    ana_cusum_opts_t co;
    ana_cusum_opts_default(&co);
    ana_cusum_t cs = {0};
    ana_episode_t open = {0};
    memset(&sc->seen, 0, sizeof sc->seen);
    ana_monitor(&sc->model, &co, sc->iv, sc->n, 900, &cs, &open, collect, &sc->seen);
    if (o.fault_from)
        for (int i = 0; i < sc->seen.n; i++)
            if (sc->seen.e[i].detected >= o.fault_from) {
                printf("    %s gate, step %+.0f%%, drift %+.2f%%/day: detected %.1f h after the "
                       "fault (deviation %+.1f%%, %s)\n",
                       ana_gate_name(gate), step * 100, drift * 100,
                       (sc->seen.e[i].detected - o.fault_from) / 3600.0,
                       ana_episode_deviation(&sc->seen.e[i]) * 100,
                       sc->seen.e[i].jump ? "jump" : "drift");
                break;
            }
}

static int64_t first_after(const scenario_t *sc, int64_t t, int sign)
{
    for (int i = 0; i < sc->seen.n; i++)
        if (sc->seen.e[i].detected >= t && sc->seen.e[i].sign == sign)
            return sc->seen.e[i].detected;
    return -1;
}

static void clean_months_raise_at_most_one_condition(void **state)
{
    int total = 0;
    for (uint32_t seed = 1; seed <= 5; seed++) {
        scenario_t sc;
        run_scenario(&sc, ANA_GATE_TRANSPORT, seed, 30, 0, 0, -1);
        printf("    clean month, seed %u: %d condition(s); model a=%.1f b=%.3f c=%.1f sigma=%.2f\n",
               seed, sc.seen.n, sc.model.a, sc.model.b, sc.model.c, sc.model.sigma);
        assert_true(sc.seen.n <= 1);
        total += sc.seen.n;
        free(sc.iv);
    }
    assert_true(total <= 2);
}

static void under_reporting_scale_caught_within_a_day(void **state)
{
    for (uint32_t seed = 11; seed <= 15; seed++) {
        scenario_t sc;
        run_scenario(&sc, ANA_GATE_TRANSPORT, seed, 10, -0.05, 0, 3);
        int64_t fault = sc.iv[0].start + 3 * DAY + 3 * 3600;
        int64_t det = first_after(&sc, fault, -1);
        assert_true(det > 0);
        assert_true(det - fault <= DAY);
        /* the size is close to the truth */
        for (int i = 0; i < sc.seen.n; i++)
            if (sc.seen.e[i].detected == det)
                assert_true(fabs(ana_episode_deviation(&sc.seen.e[i]) + 0.05) < 0.025);
        free(sc.iv);
    }
}

static void drifting_scale_caught(void **state)
{
    scenario_t sc; /* -0.5 % a day: -5 % after ten days */
    run_scenario(&sc, ANA_GATE_TRANSPORT, 21, 20, 0, -0.005, 2);
    int64_t fault = sc.iv[0].start + 2 * DAY + 3 * 3600;
    int64_t det = first_after(&sc, fault, -1);
    assert_true(det > 0);
    assert_true(det - fault <= 10 * DAY);
    free(sc.iv);
}

static void step_after_calibration_caught_and_sized(void **state)
{
    scenario_t sc; /* a "calibration" that makes the scale read 8 % high */
    run_scenario(&sc, ANA_GATE_TRANSPORT, 31, 10, 0.08, 0, 4);
    int64_t fault = sc.iv[0].start + 4 * DAY + 3 * 3600;
    int64_t det = first_after(&sc, fault, 1);
    assert_true(det > 0 && det - fault <= DAY / 2);
    for (int i = 0; i < sc.seen.n; i++)
        if (sc.seen.e[i].detected == det) {
            assert_true(sc.seen.e[i].jump);
            assert_true(fabs(ana_episode_deviation(&sc.seen.e[i]) - 0.08) < 0.03);
            assert_int_equal(sc.seen.e[i].end, 0); /* still going at the end of the data */
        }
    free(sc.iv);
}

/* The total gate carries fans and pumps: a coarser check that still sees a
 * large error, and stays quiet on a clean month. */
static void total_gate_second_opinion(void **state)
{
    scenario_t sc;
    run_scenario(&sc, ANA_GATE_TOTAL, 41, 30, 0, 0, -1);
    assert_true(sc.seen.n <= 1);
    free(sc.iv);
    run_scenario(&sc, ANA_GATE_TOTAL, 42, 10, -0.20, 0, 3);
    int64_t fault = sc.iv[0].start + 3 * DAY + 3 * 3600;
    int64_t det = first_after(&sc, fault, -1);
    assert_true(det > 0 && det - fault <= 2 * DAY);
    free(sc.iv);
}

/* ---- the realistic simulator ------------------------------------------- */

/* The state at a minute does not depend on what was asked before, and an
 * interval of the history is the sum of its minutes' states (the demo's live
 * meters and its history agree). */
static void sim_state_is_the_history_minute_by_minute(void **state)
{
    ana_sim_opts_t o;
    ana_sim_opts_realistic(&o);
    o.days = 2;
    o.seed = 5;
    o.glitch_rate = o.hiccup_rate = 0; /* meter artefacts are not physics */
    size_t n = ana_sim_count(&o);
    ana_interval_t *iv = malloc(n * sizeof *iv);
    assert_non_null(iv);
    ana_sim_intervals(&o, iv, n);
    int loaded = 0, empty = 0, stopped = 0;
    for (size_t i = n; i-- > 0;) { /* backwards: order must not matter */
        double tons = 0, kwh = 0, run = 0;
        for (int j = 0; j < 15; j++) {
            ana_sim_state_t st;
            ana_sim_state_at(&o, iv[i].start + 60 * j + 59, &st);
            tons += st.flow_read_tph / 60;
            kwh += st.transport_read_kw / 60;
            run += st.running / 60.0;
            assert_true(st.total_kw > st.transport_kw);
            assert_true(st.running == (st.speed_ms > 0));
        }
        assert_true(fabs(tons - iv[i].tons) < 1e-9 * (1 + tons));
        assert_true(fabs(kwh - iv[i].transport_kwh) < 1e-9 * (1 + kwh));
        assert_true(fabs(run - iv[i].run_h) < 1e-12);
        loaded += iv[i].tons > 5;
        empty += iv[i].run_h > 0.2 && iv[i].tons < 1;
        stopped += iv[i].run_h == 0;
    }
    /* the pattern has all three: coal, an empty running belt, standing */
    assert_true(loaded > 80 && empty > 5 && stopped > 10);
    free(iv);
}

/* No-load power follows the season: fits of January and July differ by
 * several per cent, while energy per tonne stays. */
static void sim_noload_moves_with_the_season(void **state)
{
    double a[2], b[2];
    for (int k = 0; k < 2; k++) {
        ana_sim_opts_t o;
        ana_sim_opts_realistic(&o);
        o.start = tm_bj_to_epoch(2026, k ? 7 : 1, 1, 0, 0, 0);
        o.days = 14;
        o.seed = 9;
        size_t n = ana_sim_count(&o);
        ana_interval_t *iv = malloc(n * sizeof *iv);
        assert_non_null(iv);
        ana_sim_intervals(&o, iv, n);
        ana_model_t m;
        char err[256];
        assert_int_equal(ana_fit(iv, n, ANA_GATE_TRANSPORT, 900, &m, err, sizeof err), 0);
        a[k] = m.a;
        b[k] = m.b;
        free(iv);
    }
    printf("    no-load fitted: January %.1f kW, July %.1f kW\n", a[0], a[1]);
    assert_true((a[0] - a[1]) / a[1] > 0.06);
    assert_true(fabs(b[0] - b[1]) / b[1] < 0.01);
}

/* ---- detection on the realistic mine (issue #13 "Must show") -------------
 * The daemon's logic replayed (ana_backtest: 21 trusted days, daily refits)
 * on other seeds than the bench (bench/bench_detection.c prints the full
 * table with the daily-OLS baseline); the fault on day 23. */

typedef struct bt_case {
    ana_sim_fault fault;
    double size;
    int days;
    double hours; /* fault length, 0: lasts */
} bt_case_t;

static void bt_run(const bt_case_t *k, uint32_t seed, ana_bt_result_t *r)
{
    ana_conf_t c;
    ana_conf_default(&c);
    ana_bt_opts_t bo;
    ana_bt_opts_from_conf(&c, &bo);
    bo.baseline = false;
    ana_sim_opts_t s;
    ana_sim_opts_realistic(&s);
    s.start = tm_bj_to_epoch(2026, 1, 1, 0, 0, 0) + (int64_t)((seed * 53u) % 365u) * DAY;
    s.seed = seed;
    s.days = k->days;
    if (k->fault) {
        s.fault = k->fault;
        s.fault_from = s.start + 23 * DAY + (int64_t)((seed * 7) % 24) * 3600;
        if (k->fault == ANA_SIM_FAULT_STOPPED_SCALE)
            s.fault_from = s.start + 23 * DAY + (int64_t)(9 + seed % 6) * 3600;
        if (k->hours > 0)
            s.fault_to = s.fault_from + (int64_t)(k->hours * 3600);
        if (k->fault == ANA_SIM_FAULT_DRIFT) {
            s.drift_per_day = k->size / 20;
            s.drift_max = fabs(k->size);
        } else {
            s.step = k->size;
        }
    }
    char err[256];
    if (ana_bt_sim(&s, &bo, r, err, sizeof err))
        fail_msg("backtest: %s", err);
}

/* A 5 % step up and down: caught within 8 h of belt running in >= 9/10,
 * flagged >= 95 % of the time it persists (latched: refits cannot learn it). */
static void step_of_5_percent_caught_within_8_running_hours(void **state)
{
    for (int sign = -1; sign <= 1; sign += 2) {
        bt_case_t k = {ANA_SIM_FAULT_STEP, 0.05 * sign, 31, 0};
        int caught = 0;
        double flagged = 0;
        for (uint32_t seed = 1; seed <= 10; seed++) {
            ana_bt_result_t r;
            bt_run(&k, 500 + seed, &r);
            const ana_bt_gate_t *g = &r.gate[ANA_GATE_TRANSPORT];
            caught += g->detected && g->sign == sign && g->delay_run_h <= 8;
            flagged += g->flagged_share;
        }
        printf("    step %+d %%: caught within 8 running hours %d/10, flagged %.1f %% of the "
               "fault's time\n",
               5 * sign, caught, 10 * flagged);
        assert_true(caught >= 9);
        assert_true(flagged / 10 >= 0.95);
    }
}

/* 0 -> -8 % over 20 days: caught before it reaches 5 % (12.5 days). */
static void slow_drift_caught_before_5_percent(void **state)
{
    bt_case_t k = {ANA_SIM_FAULT_DRIFT, -0.08, 37, 0};
    int caught = 0;
    for (uint32_t seed = 1; seed <= 10; seed++) {
        ana_bt_result_t r;
        bt_run(&k, 600 + seed, &r);
        const ana_bt_gate_t *g = &r.gate[ANA_GATE_TRANSPORT];
        caught += g->detected && g->sign < 0 && g->delay_h < 12.5 * 24;
    }
    printf("    drift to -8 %% in 20 days: caught before -5 %% %d/10\n", caught);
    assert_true(caught >= 9);
}

/* A scale that stops counting while the belt carries coal: the first
 * interval with coal on the belt raises it. */
static void stopped_scale_caught_within_one_interval(void **state)
{
    bt_case_t k = {ANA_SIM_FAULT_STOPPED_SCALE, 0, 25, 4};
    int caught = 0;
    for (uint32_t seed = 1; seed <= 5; seed++) {
        ana_bt_result_t r;
        bt_run(&k, 700 + seed, &r);
        const ana_bt_gate_t *g = &r.gate[ANA_GATE_TRANSPORT];
        caught += g->detected && g->shape == ANA_SHAPE_STOPPED_SCALE && g->delay_loaded <= 1;
    }
    printf("    stopped scale: caught within one loaded interval %d/5\n", caught);
    assert_true(caught >= 4);
}

/* Clean histories: at most one condition per 30 days per gate (300 judged
 * days; 150 under the sanitizers, which run this ~10x slower). */
#if defined(__SANITIZE_ADDRESS__)
#define CLEAN_SEEDS 5
#else
#define CLEAN_SEEDS 10
#endif
static void clean_histories_at_most_one_alarm_a_month(void **state)
{
    bt_case_t k = {ANA_SIM_FAULT_NONE, 0, 51, 0};
    int alarms[2] = {0};
    double days = 0;
    for (uint32_t seed = 1; seed <= CLEAN_SEEDS; seed++) {
        ana_bt_result_t r;
        bt_run(&k, 800 + seed, &r);
        for (int g = 0; g < 2; g++)
            alarms[g] += r.gate[g].false_alarms;
        days += r.gate[0].clean_days;
    }
    printf("    clean: %d transport, %d total conditions in %.0f days\n", alarms[0], alarms[1],
           days);
    for (int g = 0; g < 2; g++)
        assert_true(alarms[g] * 30.0 / days <= 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fit_recovers_exact_coefficients),
        cmocka_unit_test(fit_ignores_outliers),
        cmocka_unit_test(fit_agrees_with_gsl_robust),
        cmocka_unit_test(fit_refuses_data_that_cannot_tell),
        cmocka_unit_test(cusum_steps_by_hand),
        cmocka_unit_test(clean_months_raise_at_most_one_condition),
        cmocka_unit_test(under_reporting_scale_caught_within_a_day),
        cmocka_unit_test(drifting_scale_caught),
        cmocka_unit_test(step_after_calibration_caught_and_sized),
        cmocka_unit_test(total_gate_second_opinion),
        cmocka_unit_test(sim_state_is_the_history_minute_by_minute),
        cmocka_unit_test(sim_noload_moves_with_the_season),
        cmocka_unit_test(step_of_5_percent_caught_within_8_running_hours),
        cmocka_unit_test(slow_drift_caught_before_5_percent),
        cmocka_unit_test(stopped_scale_caught_within_one_interval),
        cmocka_unit_test(clean_histories_at_most_one_alarm_a_month),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
