/* analytics: mass balance, capacity limits and forecast, time-of-use split,
 * kWh/t, meter balance, power quality, vibration zones, abnormal use, the
 * history CSV (ANA-2, ANA-3, ANA-4, ALM-1, ALM-2, ALM-4; issue #6).
 * Every expected number is worked out by hand in the comment beside it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analytics/analytics.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void balance_within_and_beyond_tolerance(void **state)
{
    ana_balance_t b;
    /* 1000 t out; 600 truck + 300 rail + (250 - 180) stock = 970; |30| / 1000 = 3 % : not beyond */
    ana_balance(1000, 600, 300, 180, 250, 0.03, &b);
    NEAR(b.accounted, 970);
    NEAR(b.diff, 30);
    NEAR(b.rel, 0.03);
    assert_false(b.exceeded);
    /* trucks leaving unrecorded: 100 t fewer sold -> 870; 130 / 1000 = 13 % */
    ana_balance(1000, 500, 300, 180, 250, 0.03, &b);
    NEAR(b.rel, 0.13);
    assert_true(b.exceeded);
    /* tolerance of the larger side: 900 vs 1000 -> 10 % */
    double rel;
    assert_true(ana_compare(900, 1000, 0.03, &rel));
    NEAR(rel, 0.1);
    assert_false(ana_compare(0.2, 0.5, 0.03, &rel)); /* a stopped day is no condition */
}

static void capacity_limits_forecast_and_levels(void **state)
{
    ana_cap_opts_t o;
    ana_cap_opts_default(&o);
    int64_t s = tm_bj_to_epoch(2026, 1, 1, 0, 0, 0), e = tm_bj_to_epoch(2027, 1, 1, 0, 0, 0);
    ana_cap_use_t u;
    /* approved 1.2 Mt: year limit 1.32 Mt. 100 days at 4000 t/day = 400 kt,
     * run-rate 4000, forecast 4000 x 365 = 1.46 Mt, crossing after 230 more days. */
    int64_t now = s + 100 * 86400;
    ana_capacity_eval(1320000, 400000, s, e, now, &o, &u);
    NEAR(u.run_rate, 4000);
    NEAR(u.forecast, 1460000);
    assert_int_equal(u.crossing, now + 230 * 86400);
    assert_int_equal(u.level, 0);
    /* 1.2 Mt on 2026-12-01 (334 days): share 0.909 >= 0.9 -> warning level 1 */
    ana_capacity_eval(1320000, 1200000, s, e, s + 334 * 86400, &o, &u);
    assert_int_equal(u.level, 1);
    /* over-producing month: 10 % of 1.2 Mt = 120 kt; 125 kt is over the line */
    int64_t ms = tm_bj_to_epoch(2026, 3, 1, 0, 0, 0), me = tm_bj_to_epoch(2026, 4, 1, 0, 0, 0);
    ana_capacity_eval(120000, 125000, ms, me, ms + 25 * 86400, &o, &u);
    assert_int_equal(u.level, 2);
    assert_int_equal(u.crossing, ms + 25 * 86400);
    /* a slow month does not cross this month */
    ana_capacity_eval(120000, 30000, ms, me, ms + 10 * 86400, &o, &u);
    assert_int_equal(u.crossing, 0);
}

static void time_of_use_split_and_cost(void **state)
{
    ana_tariff_t t;
    ana_tariff_default(&t);
    char err[128];
    assert_int_equal(ana_tariff_check_tiers("VVVVVVVFPPPFFFFFFFPPPPPV", err, sizeof err), 0);
    assert_int_equal(ana_tariff_check_tiers("VVVVVVVFPPPFFFFFFFPPPPPX", err, sizeof err),
                     CM_ERR_INVALID);
    assert_non_null(strstr(err, "hour 23"));
    assert_int_equal(ana_tariff_check_tiers("VVV", err, sizeof err), CM_ERR_INVALID);
    /* March (other season): 02:00 valley, 09:00 peak, 12:00 flat; July 19:00 critical */
    assert_int_equal(ana_tariff_tier(&t, tm_bj_to_epoch(2026, 3, 2, 2, 0, 0)), ANA_TIER_VALLEY);
    assert_int_equal(ana_tariff_tier(&t, tm_bj_to_epoch(2026, 3, 2, 9, 0, 0)), ANA_TIER_PEAK);
    assert_int_equal(ana_tariff_tier(&t, tm_bj_to_epoch(2026, 3, 2, 12, 0, 0)), ANA_TIER_FLAT);
    assert_int_equal(ana_tariff_tier(&t, tm_bj_to_epoch(2026, 7, 2, 19, 30, 0)), ANA_TIER_CRIT);
    /* an interval 06:30-07:30 (1 h of 100 kWh) is half valley, half flat; and
     * 10:45-11:00 (peak) 40 kWh */
    int64_t st[2] = {tm_bj_to_epoch(2026, 3, 2, 6, 30, 0), tm_bj_to_epoch(2026, 3, 2, 10, 45, 0)};
    double kwh[2] = {100, 40}, out[ANA_TIERS];
    ana_tou_split(&t, st, kwh, 1, 3600, out);
    NEAR(out[ANA_TIER_VALLEY], 50);
    NEAR(out[ANA_TIER_FLAT], 50);
    ana_tou_split(&t, st + 1, kwh + 1, 1, 900, out);
    NEAR(out[ANA_TIER_PEAK], 40);
    /* cost: 40 x 0.95 = 38 */
    NEAR(ana_tou_cost(&t, out), 38);
}

static void energy_ratios_and_meter_balance(void **state)
{
    NEAR(ana_kwh_per_t(4500, 10000), 0.45);
    assert_true(isnan(ana_kwh_per_t(10, 0)));
    NEAR(ana_change(110, 100), 0.10);
    NEAR(ana_unmetered_share(1000, 960), 0.04);
    double prev[5] = {0.04, 0.041, 0.039, 0.040, 0.042}, med;
    assert_false(ana_share_jump(prev, 5, 0.05, 0.05, &med));
    NEAR(med, 0.040);
    assert_true(ana_share_jump(prev, 5, 0.12, 0.05, &med)); /* 8 points above usual */
    assert_false(ana_share_jump(prev, 2, 0.5, 0.05, &med)); /* too little history */
}

static void power_quality_and_vibration(void **state)
{
    ana_pq_opts_t o;
    ana_pq_opts_default(&o);
    /* phases 220, 230, 225: mean 225, largest deviation 5 -> 2.222 % */
    assert_true(fabs(ana_unbalance(220, 230, 225) - 100.0 * 5 / 225) < 1e-9);
    assert_int_equal(ana_pq_check(&o, 0.95, 3, 1), 0);
    assert_int_equal(ana_pq_check(&o, 0.85, 6, 2.5), 1 | 2 | 4);
    assert_int_equal(ana_pq_check(&o, NAN, NAN, 2.5), 4);
    ana_vib_opts_t v;
    ana_vib_opts_default(&v);
    assert_int_equal(ana_vib_zone(&v, 1.0), 'A');
    assert_int_equal(ana_vib_zone(&v, 2.3), 'B');
    assert_int_equal(ana_vib_zone(&v, 5.0), 'C');
    assert_int_equal(ana_vib_zone(&v, 9.0), 'D');
    /* y = 2 + 0.1 x exactly: slope 0.1 mm/s per day */
    double x[4] = {0, 1, 2, 3}, y[4] = {2, 2.1, 2.2, 2.3};
    assert_true(fabs(ana_trend(x, y, 4) - 0.1) < 1e-12);
    assert_true(isnan(ana_trend(x, y, 2)));
}

static void abnormal_use(void **state)
{
    ana_model_t m = {.a = 90, .b = 0.45, .c = 2, .sigma = 1};
    /* stopped belt: allowed max(2 kWh/h x 0.25 h, 2 + 4 x 1) = 6 kWh; 20 drawn -> 14 too much */
    ana_interval_t iv = {.start = 0, .tons = 0, .transport_kwh = 20, .run_h = 0};
    NEAR(ana_stopped_excess(&m, &iv, 900, 2), 14);
    iv.transport_kwh = 5;
    NEAR(ana_stopped_excess(&m, &iv, 900, 2), 0);
    iv.run_h = 0.1; /* running: the model's business, not this check */
    iv.transport_kwh = 50;
    NEAR(ana_stopped_excess(&m, &iv, 900, 2), 0);
    /* usual 100 +- small; median 100, MAD 1 -> band max(6 x 1.4826, 0.2 x 100) = 20 */
    double hist[7] = {99, 100, 101, 100, 102, 98, 100}, med, mad;
    assert_false(ana_profile_far(hist, 7, 115, 6, 0.2, &med, &mad));
    assert_true(ana_profile_far(hist, 7, 125, 6, 0.2, &med, &mad));
    NEAR(med, 100);
    NEAR(mad, 1);
}

typedef struct bads {
    int line[8];
    char field[8][24];
    int n;
} bads_t;

static void on_bad(int line, const char *field, const char *msg, void *arg)
{
    bads_t *b = arg;
    if (b->n < 8) {
        b->line[b->n] = line;
        snprintf(b->field[b->n], sizeof b->field[0], "%s", field);
        b->n++;
    }
}

static void history_csv_rows_and_bad_lines(void **state)
{
    const char *csv = "\xEF\xBB\xBFtime,run_min,tons,transport_kwh,total_kwh,sub_kwh\r\n"
                      "2026-01-01 00:00,15,150.5,80.2,500,480\r\n"
                      "2026-01-01 00:15,15,,80,500,\r\n"
                      "2026-01-01 24:00,15,1,1,1,1\r\n"
                      "\r\n"
                      "2026-01-01 00:45,75,1,1,1,1\r\n"
                      "2026-01-01 01:00,0,0,1.5,400,390\r\n";
    ana_interval_t *iv;
    size_t n;
    bads_t b = {0};
    char err[256];
    assert_int_equal(ana_history_parse(csv, strlen(csv), &iv, &n, on_bad, &b, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(iv[0].start, tm_bj_to_epoch(2026, 1, 1, 0, 0, 0));
    NEAR(iv[0].tons, 150.5);
    NEAR(iv[0].run_h, 0.25);
    NEAR(iv[0].sub_kwh, 480);
    assert_true(isnan(iv[1].tons)); /* empty = not known */
    assert_true(isnan(iv[1].sub_kwh));
    NEAR(iv[2].run_h, 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.line[0], 4);
    assert_string_equal(b.field[0], "time");
    assert_int_equal(b.line[1], 6); /* 75 running minutes in a 60-minute cap */
    assert_string_equal(b.field[1], "run_min");
    free(iv);
    const char *nohead = "time,tons,total_kwh,run_min\n2026-01-01 00:00,1,1,1\n";
    assert_int_equal(
        ana_history_parse(nohead, strlen(nohead), &iv, &n, on_bad, &b, err, sizeof err),
        CM_ERR_INVALID);
    assert_non_null(strstr(err, "transport_kwh"));
    assert_int_equal(ana_history_parse("", 0, &iv, &n, on_bad, &b, err, sizeof err),
                     CM_ERR_INVALID);
}

/* Configuration errors name the file, the line and the key. */
static void configuration_errors_name_the_key(void **state)
{
    char err[512];
    const char *good =
        "{\"analytics\": {\"interval_min\": 5, \"capacity\": {\"warn\": [0.8, 0.95]},\n"
        " \"tariff\": {\"seasons\": [{\"months\": [1,2,3,4,5,6,7,8,9,10,11,12],\n"
        "  \"tiers\": \"VVVVVVVVFFFFPPPPFFFFVVVV\"}]}}}";
    cfg_t *cfg = cfg_parse("good.json", good, err, sizeof err);
    assert_non_null(cfg);
    ana_conf_t c;
    assert_int_equal(ana_conf_from_cfg(cfg, &c, err, sizeof err), 0);
    assert_int_equal(c.interval_s, 300);
    assert_int_equal(c.cap.n_warn, 2);
    assert_int_equal(c.tariff.n_seasons, 1);
    assert_int_equal(ana_tariff_tier(&c.tariff, tm_bj_to_epoch(2026, 5, 1, 13, 0, 0)),
                     ANA_TIER_PEAK);
    cfg_free(cfg);
    const char *bad_tiers = "{\"analytics\": {\n \"tariff\": {\"seasons\": [{\"months\": [1],\n"
                            "  \"tiers\": \"VVVVVVVVFFFFPPPPFFFFVVVX\"}]}}}";
    cfg = cfg_parse("bad.json", bad_tiers, err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(ana_conf_from_cfg(cfg, &c, err, sizeof err), CM_ERR_CONFIG);
    assert_non_null(strstr(err, "bad.json:3"));
    assert_non_null(strstr(err, "tiers"));
    assert_non_null(strstr(err, "hour 23"));
    cfg_free(cfg);
    /* The example configuration carries every key with its default. */
    cfg = cfg_load(COALMON_CONF_DIR "/coalmond.json", err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(ana_conf_from_cfg(cfg, &c, err, sizeof err), 0);
    ana_conf_t d;
    ana_conf_default(&d);
    assert_int_equal(c.interval_s, d.interval_s);
    assert_int_equal(c.fit_lag_hours, d.fit_lag_hours);
    assert_true(c.cusum.h == d.cusum.h && c.tolerance == d.tolerance);
    assert_int_equal(c.tariff.n_seasons, d.tariff.n_seasons);
    assert_string_equal(c.tariff.season[0].tiers, d.tariff.season[0].tiers);
    assert_int_equal(c.tariff.season[1].months, d.tariff.season[1].months);
    cfg_free(cfg);
    cfg = cfg_parse("bad.json", "{\"analytics\": {\"interval_min\": 7}}", err, sizeof err);
    assert_int_equal(ana_conf_from_cfg(cfg, &c, err, sizeof err), CM_ERR_CONFIG);
    assert_non_null(strstr(err, "interval_min"));
    cfg_free(cfg);
    cfg = cfg_parse("bad.json", "{\"analytics\": {\"capacity\": {\"warn\": [1.5]}}}", err,
                    sizeof err);
    assert_int_equal(ana_conf_from_cfg(cfg, &c, err, sizeof err), CM_ERR_CONFIG);
    assert_non_null(strstr(err, "warn"));
    cfg_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(balance_within_and_beyond_tolerance),
        cmocka_unit_test(capacity_limits_forecast_and_levels),
        cmocka_unit_test(time_of_use_split_and_cost),
        cmocka_unit_test(energy_ratios_and_meter_balance),
        cmocka_unit_test(power_quality_and_vibration),
        cmocka_unit_test(abnormal_use),
        cmocka_unit_test(history_csv_rows_and_bad_lines),
        cmocka_unit_test(configuration_errors_name_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
