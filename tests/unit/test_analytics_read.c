/* Reading intervals from the store (issue #13, fit read speed): history is
 * summed per interval in C instead of by a GROUP BY. The intervals must be
 * the ones the GROUP BY gave — history finer than the interval (5-minute rows
 * into 15-minute intervals), unknown values (NULL), untrusted rows, history
 * replacing the collector's minutes only where it has rows. */
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

typedef afx_t fx_t;

static double col(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

/* The history query ana_db_intervals() ran before issue #13, applied over
 * the collector's intervals as it was. */
static void old_history(fx_t *f, int64_t from, ana_interval_t *iv, size_t n)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(f->db,
                                        "SELECT (start - ?1) / ?3, sum(tons), sum(transport_kwh), "
                                        "sum(total_kwh), sum(sub_kwh), sum(run_min), min(trusted) "
                                        "FROM ana_interval WHERE start >= ?1 AND start < ?2 "
                                        "GROUP BY 1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, from + (int64_t)n * 900);
    sqlite3_bind_int64(s, 3, 900);
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t k = sqlite3_column_int64(s, 0);
        assert_true(k >= 0 && (size_t)k < n);
        iv[k].tons = col(s, 1);
        iv[k].transport_kwh = col(s, 2);
        iv[k].total_kwh = col(s, 3);
        iv[k].sub_kwh = col(s, 4);
        iv[k].run_h = col(s, 5) / 60.0;
        iv[k].trusted = sqlite3_column_int(s, 6) != 0;
    }
    sqlite3_finalize(s);
}

static void assert_same(double a, double b, size_t k, const char *what)
{
    if (isnan(a) && isnan(b))
        return;
    if (!(fabs(a - b) <= 1e-9 * fmax(1, fabs(b))))
        fail_msg("interval %zu %s: %g, the GROUP BY gave %g", k, what, a, b);
}

static void history_read_matches_the_group_by(void **state)
{
    fx_t *f = *state;
    int64_t from = tm_bj_to_epoch(2026, 5, 1, 0, 0, 0);
    char sql[2048], err[256];
    /* A day of the collector's minutes (a station, a transport and a total
     * gate), and 5-minute history over the first half of it with holes,
     * NULLs and untrusted rows; one interval has history of a single row. */
    snprintf(sql, sizeof sql,
             "INSERT INTO device(id, name, kind, gate_type) VALUES (1, 'st', 'station', NULL), "
             "(2, 'gt', 'meter', 'transport'), (3, 'gm', 'meter', 'mine_total');"
             "INSERT INTO point(id, device_id, name, unit, quantity) VALUES "
             "(2, 2, 'ep', 'kWh', 'energy_import'), (3, 3, 'ep', 'kWh', 'energy_import');"
             "WITH RECURSIVE m(t) AS (SELECT %lld UNION ALL SELECT t + 60 FROM m "
             "WHERE t + 60 < %lld) INSERT INTO station_output_minute "
             "SELECT 1, t, 9.5 + (t / 60) %% 5, 1 FROM m;"
             "INSERT INTO counter_minute SELECT p.id, minute, 1.25 * p.id + tonnes / 10, 1 "
             "FROM station_output_minute, (SELECT 2 AS id UNION ALL SELECT 3) p;"
             "WITH RECURSIVE h(t) AS (SELECT %lld UNION ALL SELECT t + 300 FROM h "
             "WHERE t + 300 < %lld) INSERT INTO ana_interval(start, interval_s, tons, "
             "transport_kwh, total_kwh, sub_kwh, run_min, trusted, source) "
             "SELECT t, 300, CASE WHEN t / 300 %% 7 = 0 THEN NULL ELSE 40.1 + t %% 13 END, "
             "28.3 + t %% 11, 610.7 + t %% 3, CASE WHEN t / 300 %% 4 = 0 THEN NULL ELSE 580.0 END, "
             "CASE WHEN t / 300 %% 9 = 0 THEN NULL ELSE 4.5 END, t / 300 %% 10 != 3, 'import' "
             "FROM h WHERE t / 300 %% 17 != 5;"
             "DELETE FROM ana_interval WHERE start > %lld AND start < %lld;",
             (long long)from, (long long)(from + 86400), (long long)from,
             (long long)(from + 43200), (long long)(from + 7200 + 300),
             (long long)(from + 7200 + 900));
    assert_int_equal(store_write(f->st, afx_sql_job, sql, err, sizeof err), 0);
    int64_t to = from + 86400;
    ana_interval_t *iv;
    size_t n;
    assert_int_equal(ana_db_intervals(f->db, &f->conf, from, to, &iv, &n, err, sizeof err), 0);
    assert_int_equal(n, 96);
    /* The old shape: the collector's intervals alone (history moved aside),
     * then the GROUP BY's sums over them. */
    ana_interval_t *coll, *old = malloc(n * sizeof *old);
    size_t cn;
    assert_int_equal(store_write(f->st, afx_sql_job,
                                 "CREATE TABLE ana_interval_keep AS SELECT * FROM ana_interval;"
                                 "DELETE FROM ana_interval;",
                                 err, sizeof err),
                     0);
    assert_int_equal(ana_db_intervals(f->db, &f->conf, from, to, &coll, &cn, err, sizeof err), 0);
    assert_int_equal(cn, n);
    assert_int_equal(store_write(f->st, afx_sql_job,
                                 "INSERT INTO ana_interval SELECT * FROM ana_interval_keep;"
                                 "DROP TABLE ana_interval_keep;",
                                 err, sizeof err),
                     0);
    memcpy(old, coll, n * sizeof *old);
    old_history(f, from, old, n);
    int replaced = 0, untrusted = 0, unknown = 0;
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(iv[k].start, from + (int64_t)k * 900);
        assert_same(iv[k].tons, old[k].tons, k, "tons");
        assert_same(iv[k].transport_kwh, old[k].transport_kwh, k, "transport_kwh");
        assert_same(iv[k].total_kwh, old[k].total_kwh, k, "total_kwh");
        assert_same(iv[k].sub_kwh, old[k].sub_kwh, k, "sub_kwh");
        assert_same(iv[k].run_h, old[k].run_h, k, "run_h");
        assert_int_equal(iv[k].trusted, old[k].trusted);
        replaced += iv[k].tons != coll[k].tons;
        untrusted += !iv[k].trusted;
        unknown += isnan(iv[k].tons);
    }
    /* The data exercised what it is meant to. */
    assert_true(replaced >= 40);
    assert_true(untrusted > 0);
    assert_true(isfinite(iv[60].tons) && iv[60].tons == coll[60].tons); /* no history there */
    assert_true(unknown == 0); /* every 15 minutes had a known 5-minute row */
    free(coll);
    free(old);
    free(iv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(history_read_matches_the_group_by, afx_setup, afx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
