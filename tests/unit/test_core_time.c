/* core time: Beijing time, shifts, production day and period boundaries (issue #3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static int64_t bj(const char *s)
{
    int64_t e = 0;
    assert_int_equal(tm_parse_bj(s, &e), 0);
    return e;
}

static void fmt(int64_t e, char *buf) { tm_format_bj(e, buf, 20); }

static void beijing_is_utc_plus_eight(void **state)
{
    /* 2026-01-01 00:00 Beijing is 2025-12-31 16:00 UTC = 1767196800. */
    assert_int_equal(bj("2026-01-01 00:00:00"), 1767196800);
    char buf[32];
    fmt(0, buf);
    assert_string_equal(buf, "1970-01-01 08:00:00");
    tm_format_bj_iso_ms(1767196800123LL, buf, sizeof buf);
    assert_string_equal(buf, "2026-01-01T00:00:00.123+08:00");
}

static void parse_rejects_impossible_dates(void **state)
{
    int64_t e;
    assert_int_equal(tm_parse_bj("2023-02-29 00:00:00", &e), CM_ERR_INVALID);
    assert_int_equal(tm_parse_bj("2024-02-29 00:00:00", &e), 0);
    assert_int_equal(tm_parse_bj("2024-13-01", &e), CM_ERR_INVALID);
    assert_int_equal(tm_parse_bj("2024-04-31", &e), CM_ERR_INVALID);
    assert_int_equal(tm_parse_bj("2024-01-01 24:00", &e), CM_ERR_INVALID);
    assert_int_equal(tm_parse_bj("2024-01-01T00:00:00", &e), CM_ERR_INVALID);
    assert_int_equal(tm_parse_bj("2024-1-1", &e), CM_ERR_INVALID);
    assert_int_equal(tm_parse_bj("2100-02-29", &e), CM_ERR_INVALID); /* not a leap year */
    assert_int_equal(tm_parse_bj("2000-02-29", &e), 0);              /* is one */
}

static void civil_round_trip_over_centuries(void **state)
{
    for (int64_t d = -200000; d < 200000; d += 37) {
        int y, m, dd;
        tm_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(tm_days_from_civil(y, m, dd), d);
    }
}

static void default_three_shifts_at_beijing_midnight(void **state)
{
    tm_shift_plan_t p;
    tm_shift_plan_default(&p);
    int64_t s, e;
    int y, m, d, sh;
    /* 23:59:59 belongs to the last shift of the day, 00:00:00 to the first of the next. */
    tm_production_day(&p, bj("2026-03-31 23:59:59"), &y, &m, &d, &sh);
    assert_int_equal(d, 31);
    assert_int_equal(sh, 2);
    tm_production_day(&p, bj("2026-04-01 00:00:00"), &y, &m, &d, &sh);
    assert_int_equal(m, 4);
    assert_int_equal(d, 1);
    assert_int_equal(sh, 0);
    tm_period_bounds(&p, TM_SHIFT, bj("2026-04-01 12:34:56"), &s, &e);
    assert_int_equal(s, bj("2026-04-01 08:00:00"));
    assert_int_equal(e, bj("2026-04-01 16:00:00"));
    tm_period_bounds(&p, TM_DAY, bj("2026-04-01 12:34:56"), &s, &e);
    assert_int_equal(s, bj("2026-04-01"));
    assert_int_equal(e, bj("2026-04-02"));
}

static void four_shifts_with_day_starting_the_evening_before(void **state)
{
    char err[256];
    cfg_t *c = cfg_parse("s.json", "{\"shifts\":{\"count\":4,\"day_start\":\"-02:00\"}}", err, sizeof err);
    assert_non_null(c);
    tm_shift_plan_t p;
    cfg_sec_t root = cfg_root(c);
    assert_int_equal(tm_shift_plan_from_cfg(&root, "shifts", &p, err, sizeof err), 0);
    assert_int_equal(p.count, 4);
    assert_string_equal(p.names[3], "第4班");
    int y, m, d, sh;
    /* 22:30 on Feb 28 2024 is already production day Feb 29 (leap day), shift 1. */
    tm_production_day(&p, bj("2024-02-28 22:30:00"), &y, &m, &d, &sh);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
    assert_int_equal(sh, 0);
    tm_production_day(&p, bj("2024-02-29 21:59:59"), &y, &m, &d, &sh);
    assert_int_equal(d, 29);
    assert_int_equal(sh, 3);
    int64_t s, e;
    tm_period_bounds(&p, TM_SHIFT, bj("2024-02-29 05:00:00"), &s, &e);
    assert_int_equal(s, bj("2024-02-29 04:00:00"));
    assert_int_equal(e, bj("2024-02-29 10:00:00"));
    /* The month of March 2024 starts at 22:00 on Feb 29. */
    tm_period_bounds(&p, TM_MONTH, bj("2024-02-29 23:00:00"), &s, &e);
    assert_int_equal(s, bj("2024-02-29 22:00:00"));
    assert_int_equal(e, bj("2024-03-31 22:00:00"));
    cfg_free(c);
}

static void month_quarter_year_bounds(void **state)
{
    tm_shift_plan_t p;
    tm_shift_plan_default(&p);
    int64_t s, e;
    tm_period_bounds(&p, TM_MONTH, bj("2024-02-29 23:00:00"), &s, &e);
    assert_int_equal(s, bj("2024-02-01"));
    assert_int_equal(e, bj("2024-03-01"));
    assert_int_equal((e - s) / 86400, 29);
    tm_period_bounds(&p, TM_MONTH, bj("2026-12-31 23:59:59"), &s, &e);
    assert_int_equal(s, bj("2026-12-01"));
    assert_int_equal(e, bj("2027-01-01"));
    tm_period_bounds(&p, TM_QUARTER, bj("2026-11-23 10:00:00"), &s, &e);
    assert_int_equal(s, bj("2026-10-01"));
    assert_int_equal(e, bj("2027-01-01"));
    tm_period_bounds(&p, TM_QUARTER, bj("2026-05-01 00:00:00"), &s, &e);
    assert_int_equal(s, bj("2026-04-01"));
    assert_int_equal(e, bj("2026-07-01"));
    tm_period_bounds(&p, TM_YEAR, bj("2024-07-01"), &s, &e);
    assert_int_equal(s, bj("2024-01-01"));
    assert_int_equal(e, bj("2025-01-01"));
    assert_int_equal((e - s) / 86400, 366);
}

static void bad_shift_configuration_is_rejected(void **state)
{
    char err[256];
    tm_shift_plan_t p;
    const char *bad[] = {"{\"shifts\":{\"count\":5}}", "{\"shifts\":{\"day_start\":\"25:00\"}}",
                         "{\"shifts\":{\"count\":2,\"names\":[\"a\"]}}", "{\"shifts\":{\"count\":\"3\"}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg_t *c = cfg_parse("s.json", bad[i], err, sizeof err);
        assert_non_null(c);
        cfg_sec_t root = cfg_root(c);
        assert_int_equal(tm_shift_plan_from_cfg(&root, "shifts", &p, err, sizeof err), CM_ERR_CONFIG);
        assert_non_null(strstr(err, "s.json:1: shifts."));
        cfg_free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(beijing_is_utc_plus_eight),
        cmocka_unit_test(parse_rejects_impossible_dates),
        cmocka_unit_test(civil_round_trip_over_centuries),
        cmocka_unit_test(default_three_shifts_at_beijing_midnight),
        cmocka_unit_test(four_shifts_with_day_starting_the_evening_before),
        cmocka_unit_test(month_quarter_year_bounds),
        cmocka_unit_test(bad_shift_configuration_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
