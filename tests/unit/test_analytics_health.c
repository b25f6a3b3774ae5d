/* The scale-health figure (issue #13) over a real store: three weeks of the
 * realistic simulated mine, a model fitted on the first two; the figure over
 * the last week is the metered/implied ratio with the model in force, 一致 on
 * a healthy scale, 不一致 on a scale under-reading by 5 %, and 不一致 while an
 * output_power condition is open even when the ratio is inside the band. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "analytics/analytics.h"
#include "analytics_fixture.h"

#define DAY 86400

typedef afx_t fx_t;

/* 21 days of the realistic mine from 2026-04-01; the scale reads x (1 + step)
 * from day 14. The transport model is fitted on days 0-14 and in force from
 * their start. */
static void mine(fx_t *f, double step)
{
    ana_sim_opts_t o;
    ana_sim_opts_realistic(&o);
    o.start = f->start = tm_bj_to_epoch(2026, 4, 1, 0, 0, 0);
    o.days = 21;
    o.seed = 4242;
    if (step != 0) {
        o.fault = ANA_SIM_FAULT_STEP;
        o.fault_from = o.start + 14 * DAY;
        o.step = step;
    }
    f->n = ana_sim_count(&o);
    f->iv = malloc(f->n * sizeof *f->iv);
    ana_sim_intervals(&o, f->iv, f->n);
    char err[256];
    assert_int_equal(ana_db_put_intervals(f->st, f->iv, f->n, 900, "import", err, sizeof err), 0);
    ana_model_t m;
    ana_fit_req_t q = {.gate = ANA_GATE_TRANSPORT, .from = o.start, .to = o.start + 14 * DAY,
                       .valid_from = o.start, .adopt = true, .basis = "engineer",
                       .actor = "test", .channel = "cli"};
    if (ana_db_fit_store(f->st, f->db, &f->conf, &q, &m, err, sizeof err))
        fail_msg("fit: %s", err);
}

static void health(fx_t *f, ana_scale_health_t *h)
{
    char err[256];
    if (ana_db_scale_health(f->db, &f->conf, ANA_GATE_TRANSPORT, f->start + 21 * DAY, h, err,
                            sizeof err))
        fail_msg("health: %s", err);
}

static void healthy_scale_is_consistent(void **state)
{
    fx_t *f = *state;
    mine(f, 0);
    ana_scale_health_t h;
    health(f, &h);
    /* the figure is the sums' ratio with the model in force, computed here apart */
    ana_model_t m;
    assert_int_equal(ana_db_model(f->db, ANA_GATE_TRANSPORT, f->start + 20 * DAY, &m, NULL, 0), 0);
    double met = 0, imp = 0;
    int counted = 0;
    for (size_t i = 14 * 96; i < f->n; i++) {
        const ana_interval_t *v = &f->iv[i];
        if (!isfinite(v->transport_kwh) || v->run_h < 0.5 * 0.25)
            continue;
        met += v->tons;
        imp += ana_model_implied_tons(&m, v->run_h, v->transport_kwh);
        counted++;
    }
    assert_int_equal(h.intervals, counted);
    assert_true(counted > 200);
    assert_float_equal(h.ratio, met / imp, 1e-9);
    assert_true(h.band >= f->conf.health.band_floor && h.alarm_band == 2 * h.band);
    assert_true(h.sigma > 0 && h.sigma < h.band);
    if (h.verdict != ANA_VERDICT_CONSISTENT)
        fail_msg("healthy scale: ratio %.4f band %.4f verdict %s (%s)", h.ratio, h.band,
                 ana_verdict_name(h.verdict), h.reason);
    assert_string_equal(ana_verdict_zh(h.verdict), "一致");
    cJSON *j = ana_scale_health_json(&h);
    assert_string_equal(cJSON_GetObjectItem(j, "verdict")->valuestring, "consistent");
    assert_float_equal(cJSON_GetObjectItem(j, "lower")->valuedouble, 1 - h.band, 1e-4);
    cJSON_Delete(j);
}

static void under_reading_scale_is_inconsistent(void **state)
{
    fx_t *f = *state;
    mine(f, -0.05);
    ana_scale_health_t h;
    health(f, &h);
    if (h.verdict != ANA_VERDICT_INCONSISTENT || fabs(h.ratio - 0.95) > 0.015)
        fail_msg("5 %% under: ratio %.4f band %.4f verdict %s", h.ratio, h.band,
                 ana_verdict_name(h.verdict));
    char r[16];
    snprintf(r, sizeof r, "%.3f", h.ratio); /* the sentence names the ratio */
    assert_non_null(strstr(h.reason, r));
}

static void open_condition_is_inconsistent(void **state)
{
    fx_t *f = *state;
    mine(f, 0);
    char sql[512], err[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO ana_condition(type, source, level, start, detail, created_ms, "
             "updated_ms) VALUES ('output_power', 'transport', 2, %lld, '{}', 0, 0)",
             (long long)(f->start + 20 * DAY));
    assert_int_equal(store_write(f->st, afx_sql_job, sql, err, sizeof err), 0);
    ana_scale_health_t h;
    health(f, &h);
    assert_true(h.open && fabs(h.ratio - 1) <= h.band);
    assert_int_equal(h.verdict, ANA_VERDICT_INCONSISTENT);
}

static void no_model_is_unknown(void **state)
{
    fx_t *f = *state;
    f->start = tm_bj_to_epoch(2026, 4, 1, 0, 0, 0);
    ana_scale_health_t h;
    health(f, &h);
    assert_int_equal(h.verdict, ANA_VERDICT_UNKNOWN);
    assert_true(isnan(h.ratio) && h.intervals == 0);
    assert_string_equal(ana_verdict_zh(h.verdict), "数据不足");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(healthy_scale_is_consistent, afx_setup, afx_teardown),
        cmocka_unit_test_setup_teardown(under_reading_scale_is_inconsistent, afx_setup, afx_teardown),
        cmocka_unit_test_setup_teardown(open_condition_is_inconsistent, afx_setup, afx_teardown),
        cmocka_unit_test_setup_teardown(no_model_is_unknown, afx_setup, afx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
