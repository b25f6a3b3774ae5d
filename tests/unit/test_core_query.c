/* core query layer: a row, done, or an error — never an error read as an
 * empty result (issue #14). A plain in-memory SQLite connection is enough:
 * the helpers take statements. Failures come mid-query from the progress
 * handler (fail_store.h) and from an authorizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "fail_store.h"

static int setup(void **state)
{
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return -1;
    char err[128];
    /* Enough rows that a sum runs many VM steps. */
    if (store_exec(db,
                   "CREATE TABLE t(k INTEGER PRIMARY KEY, v REAL, name TEXT);"
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)"
                   " INSERT INTO t(k, v) SELECT i, i * 0.5 FROM n;"
                   "CREATE TABLE other(x);",
                   err, sizeof err))
        return -1;
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    sqlite3_close(*state);
    return 0;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    char err[128];
    if (store_prepare(db, sql, &s, err, sizeof err))
        fail_msg("%s", err);
    return s;
}

static void test_q_double_row_null_and_none(void **state)
{
    sqlite3 *db = *state;
    char err[128] = "";
    double v = -1;
    bool found = false;
    assert_int_equal(store_q_double(prep(db, "SELECT sum(v) FROM t"), 0, &v, &found, err, sizeof err), CM_OK);
    assert_true(found);
    assert_true(v > 62624 && v < 62626); /* 0.5 * 500 * 501 / 2 = 62625 */
    /* sum() over no rows is NULL: the default, and found says so. */
    assert_int_equal(store_q_double(prep(db, "SELECT sum(v) FROM t WHERE k < 0"), 7.5, &v, &found,
                                    err, sizeof err), CM_OK);
    assert_false(found);
    assert_true(v == 7.5);
    /* No row at all: the default too. */
    int64_t n = -1;
    assert_int_equal(store_q_int64(prep(db, "SELECT k FROM t WHERE k > 1000"), 42, &n, &found, err,
                                   sizeof err), CM_OK);
    assert_false(found);
    assert_int_equal(n, 42);
    assert_int_equal(store_q_int64(prep(db, "SELECT count(*) FROM t"), 0, &n, NULL, err, sizeof err), CM_OK);
    assert_int_equal(n, 500);
}

/* The defect of issue #14: a sum that fails while it runs read as 0. */
static void test_q_double_interrupted_mid_query_is_an_error_not_zero(void **state)
{
    sqlite3 *db = *state;
    char err[128] = "";
    double v = 123;
    fail_store_t f;
    fail_store_on(&f, db, "FROM t");
    int rc = store_q_double(prep(db, "SELECT coalesce(sum(v), 0) FROM t"), 0, &v, NULL, err, sizeof err);
    fail_store_off(&f);
    assert_int_equal(rc, CM_ERR_DB);
    assert_true(f.hits > 0);
    assert_non_null(strstr(err, "interrupt"));
    assert_true(v == 123); /* untouched: nothing to mistake for a figure */
    int64_t n = 5;
    fail_store_on(&f, db, NULL);
    rc = store_q_int64(prep(db, "SELECT count(*) FROM t"), 0, &n, NULL, err, sizeof err);
    fail_store_off(&f);
    assert_int_equal(rc, CM_ERR_DB);
    assert_int_equal(n, 5);
    /* The connection works again afterwards. */
    assert_int_equal(store_q_int64(prep(db, "SELECT count(*) FROM t"), 0, &n, NULL, err, sizeof err), CM_OK);
    assert_int_equal(n, 500);
}

static void test_next_sees_how_the_loop_ended(void **state)
{
    sqlite3 *db = *state;
    char err[128] = "";
    sqlite3_stmt *s = prep(db, "SELECT k FROM t ORDER BY k");
    int rc = CM_OK, rows = 0;
    while (!rc && store_next(s, &rc, err, sizeof err))
        rows++;
    sqlite3_finalize(s);
    assert_int_equal(rc, CM_OK);
    assert_int_equal(rows, 500);

    /* Interrupted after some rows: the rows seen are not the whole answer. */
    fail_store_t f;
    s = prep(db, "SELECT k FROM t ORDER BY k");
    rows = 0;
    while (!rc && store_next(s, &rc, err, sizeof err))
        if (++rows == 10)
            fail_store_on(&f, db, NULL);
    fail_store_off(&f);
    sqlite3_finalize(s);
    assert_int_equal(rc, CM_ERR_DB);
    assert_true(rows >= 10 && rows < 500);
    assert_non_null(strstr(err, "interrupt"));
}

static void test_step_and_check_done(void **state)
{
    sqlite3 *db = *state;
    char err[128] = "";
    sqlite3_stmt *s = prep(db, "SELECT k FROM t WHERE k <= 2");
    assert_int_equal(store_step(s, err, sizeof err), 1);
    assert_int_equal(store_step(s, err, sizeof err), 1);
    assert_int_equal(store_step(s, err, sizeof err), 0);
    sqlite3_finalize(s);

    fail_store_t f;
    s = prep(db, "SELECT k FROM t");
    fail_store_on(&f, db, "FROM t");
    int last;
    while ((last = sqlite3_step(s)) == SQLITE_ROW)
        ;
    fail_store_off(&f);
    assert_int_equal(store_check_done(s, last, err, sizeof err), CM_ERR_DB);
    assert_non_null(strstr(err, "interrupt"));
    sqlite3_finalize(s);
    s = prep(db, "SELECT 1 WHERE 0");
    last = sqlite3_step(s);
    assert_int_equal(store_check_done(s, last, err, sizeof err), CM_OK);
    sqlite3_finalize(s);
}

static int deny_other(void *arg, int action, const char *a, const char *b, const char *c,
                      const char *d)
{
    (void)arg, (void)b, (void)c, (void)d;
    return action == SQLITE_INSERT && a && !strcmp(a, "other") ? SQLITE_DENY : SQLITE_OK;
}

static void test_step_done_and_bind_text_or_null(void **state)
{
    sqlite3 *db = *state;
    char err[128] = "";
    sqlite3_stmt *s = prep(db, "INSERT INTO t(k, name) VALUES (1001, ?), (1002, ?), (1003, ?)");
    store_bind_text_or_null(s, 1, "belt");
    store_bind_text_or_null(s, 2, "");
    store_bind_text_or_null(s, 3, NULL);
    assert_int_equal(store_step_done(s, err, sizeof err), CM_OK);
    int64_t n = -1;
    assert_int_equal(store_q_int64(prep(db, "SELECT count(*) FROM t WHERE k > 1000 AND name IS NULL"),
                                   0, &n, NULL, err, sizeof err), CM_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_q_int64(prep(db, "SELECT count(*) FROM t WHERE name = 'belt'"), 0, &n,
                                   NULL, err, sizeof err), CM_OK);
    assert_int_equal(n, 1);
    /* A constraint failure is reported with SQLite's words, and s is finalized
     * (ASan/LeakSanitizer would see a leak otherwise). */
    s = prep(db, "INSERT INTO t(k) VALUES (1)");
    assert_int_equal(store_step_done(s, err, sizeof err), CM_ERR_DB);
    assert_non_null(strstr(err, "UNIQUE"));
    /* Interrupted while writing. */
    fail_store_t f;
    s = prep(db, "UPDATE t SET v = v + 1");
    fail_store_on(&f, db, "UPDATE t");
    assert_int_equal(store_step_done(s, err, sizeof err), CM_ERR_DB);
    fail_store_off(&f);
    assert_non_null(strstr(err, "interrupt"));
    /* An authorizer that refuses: prepare already fails, with the reason. */
    sqlite3_set_authorizer(db, deny_other, NULL);
    assert_int_equal(store_prepare(db, "INSERT INTO other VALUES (1)", &s, err, sizeof err), CM_ERR_DB);
    assert_non_null(strstr(err, "not authorized"));
    sqlite3_set_authorizer(db, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_q_double_row_null_and_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_q_double_interrupted_mid_query_is_an_error_not_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_sees_how_the_loop_ended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_and_check_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_done_and_bind_text_or_null, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
