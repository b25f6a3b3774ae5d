/* analytics condition rows (ALM-2, ALM-3): a period condition that no longer
 * holds ends at its own end or now; a sweep ends the open rows of the same
 * type and source that started before the one named, and nothing else. */
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
#include "analytics/conditions.h"

typedef struct fx {
    char dir[64];
    store_t *st;
    sqlite3 *db;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cm-cond-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/coalmon.db", f->dir);
    f->st = store_open(path, NULL, err, sizeof err);
    assert_non_null(f->st);
    f->db = store_reader_open(f->st, err, sizeof err);
    assert_non_null(f->db);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    char path[128];
    store_reader_close(f->db);
    store_close(f->st);
    const char *files[] = {"coalmon.db", "coalmon.db-wal", "coalmon.db-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static ana_condition_t cond(const char *type, const char *source, int64_t start, int64_t end)
{
    ana_condition_t c = {.level = 1, .start = start, .end = end, .value = 1.0, .threshold = NAN};
    snprintf(c.type, sizeof c.type, "%s", type);
    snprintf(c.source, sizeof c.source, "%s", source);
    return c;
}

static void add(ana_cond_list_t *l, const char *type, const char *source, int64_t start,
                int64_t end)
{
    ana_condition_t c = cond(type, source, start, end);
    assert_int_equal(ana_cond_add(l, &c), 0);
}

static void commit(fx_t *f, ana_write_t *w)
{
    char err[256];
    assert_int_equal(ana_write_commit(f->st, w, err, sizeof err), 0);
    ana_write_free(w);
}

/* The row's end; -1 while it is open. */
static int64_t end_of(fx_t *f, const char *type, const char *source, int64_t start)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(f->db,
                                        "SELECT coalesce(end, -1) FROM ana_condition WHERE "
                                        "type = ?1 AND source = ?2 AND start = ?3",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, start);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t end = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return end;
}

static void test_end_and_sweep_close_only_the_rows_they_name(void **state)
{
    fx_t *f = *state;
    ana_write_t w = {0};
    add(&w.put, "power_quality", "g1", 1000, 0);
    add(&w.put, "power_quality", "g1", 2000, 0);
    add(&w.put, "power_quality", "g1", 3000, 0);
    add(&w.put, "power_quality", "g2", 1000, 0);
    add(&w.put, "vibration", "g1", 1000, 0);
    commit(f, &w);

    /* Ended at their own end, or now when they carry none. */
    int64_t before = tm_now_s();
    memset(&w, 0, sizeof w);
    add(&w.end, "power_quality", "g1", 1000, 1500);
    add(&w.end, "power_quality", "g1", 2000, 0);
    commit(f, &w);
    int64_t after = tm_now_s();
    assert_int_equal(end_of(f, "power_quality", "g1", 1000), 1500);
    int64_t now_end = end_of(f, "power_quality", "g1", 2000);
    assert_true(now_end >= before && now_end <= after);
    assert_int_equal(end_of(f, "power_quality", "g1", 3000), -1);
    assert_int_equal(end_of(f, "power_quality", "g2", 1000), -1);
    assert_int_equal(end_of(f, "vibration", "g1", 1000), -1);

    /* A sweep from start 5000 ends the older open g1 row now, not the new one
     * starting at 5000, not an ended row, and not other sources or types. */
    memset(&w, 0, sizeof w);
    add(&w.put, "power_quality", "g1", 5000, 0);
    commit(f, &w);
    memset(&w, 0, sizeof w);
    add(&w.sweep, "power_quality", "g1", 5000, 0);
    before = tm_now_s();
    commit(f, &w);
    after = tm_now_s();
    now_end = end_of(f, "power_quality", "g1", 3000);
    assert_true(now_end >= before && now_end <= after);
    assert_int_equal(end_of(f, "power_quality", "g1", 5000), -1);
    assert_int_equal(end_of(f, "power_quality", "g1", 1000), 1500);
    assert_int_equal(end_of(f, "power_quality", "g2", 1000), -1);
    assert_int_equal(end_of(f, "vibration", "g1", 1000), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_end_and_sweep_close_only_the_rows_they_name, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
