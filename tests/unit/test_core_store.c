/* core store: migrations, batching, savepoints, acknowledgement after commit (issue #3). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"

typedef struct fixture {
    char dir[64];
    char path[128];
    store_t *st;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/coalmon-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    store_close(f->st);
    char p[160];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static store_t *open_with(fixture_t *f, int max_jobs, int max_readings, int delay_ms)
{
    store_opts_t o;
    store_opts_default(&o);
    o.batch_max_jobs = max_jobs;
    o.batch_max_readings = max_readings;
    o.batch_delay_ms = delay_ms;
    char err[256];
    f->st = store_open(f->path, &o, err, sizeof err);
    if (!f->st)
        fail_msg("%s", err);
    return f->st;
}

static long long count(store_t *st, const char *sql)
{
    char err[256];
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    assert_non_null(db);
    sqlite3_stmt *s;
    assert_int_equal(store_prepare(db, sql, &s, err, sizeof err), 0);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    store_reader_close(db);
    return n;
}

static int make_point(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    int64_t dev;
    int rc = store_device_upsert(db, "m1", "meter", "x", "SN1", &dev, err, errlen);
    return rc ? rc : store_point_upsert(db, dev, "p", "kW", "active_power", arg, err, errlen);
}

static void migrations_apply_once_and_reopen_cleanly(void **state)
{
    fixture_t *f = *state;
    open_with(f, 10, 100, 5);
    long long v = count(f->st, "SELECT max(version) FROM schema_migration");
    assert_true(v >= 1);
    long long n = count(f->st, "SELECT count(*) FROM schema_migration");
    store_close(f->st);
    open_with(f, 10, 100, 5);
    assert_int_equal(count(f->st, "SELECT count(*) FROM schema_migration"), n);
    char err[256];
    sqlite3 *db = store_reader_open(f->st, err, sizeof err);
    sqlite3_stmt *s;
    assert_int_equal(store_prepare(db, "PRAGMA journal_mode", &s, err, sizeof err), 0);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    store_reader_close(db);
}

typedef struct acked {
    pthread_mutex_t mu;
    int calls, failures;
    long long rows_seen_at_ack;
    const char *path;
} acked_t;

static void on_ack(void *arg, int rc, const char *err)
{
    acked_t *a = arg;
    /* Acknowledged only once committed: a fresh connection already sees the rows. */
    sqlite3 *db;
    sqlite3_open_v2(a->path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM reading", -1, &s, NULL);
    sqlite3_step(s);
    long long rows = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    pthread_mutex_lock(&a->mu);
    a->calls++;
    if (rc)
        a->failures++;
    if (rows > a->rows_seen_at_ack)
        a->rows_seen_at_ack = rows;
    pthread_mutex_unlock(&a->mu);
}

static void readings_are_acknowledged_after_commit_in_batches(void **state)
{
    fixture_t *f = *state;
    open_with(f, 1000, 100000, 50);
    char err[256];
    int64_t pid;
    assert_int_equal(store_write(f->st, make_point, &pid, err, sizeof err), 0);
    acked_t a = {.mu = PTHREAD_MUTEX_INITIALIZER, .path = f->path};
    store_stats_t before;
    store_get_stats(f->st, &before);
    int64_t t0 = 1767196800000LL;
    for (int i = 0; i < 200; i++) {
        store_reading_t r = {.ts_ms = t0 + i * 1000, .point_id = pid, .value = i};
        assert_int_equal(store_put_readings(f->st, &r, 1, on_ack, &a), 0);
    }
    /* a synchronous write queued behind them returns after they are all committed */
    store_reading_t last = {.ts_ms = t0 + 200 * 1000, .point_id = pid, .value = 200};
    assert_int_equal(store_put_readings_sync(f->st, &last, 1, err, sizeof err), 0);
    assert_int_equal(a.calls, 200);
    assert_int_equal(a.failures, 0);
    assert_true(a.rows_seen_at_ack >= 1);
    store_stats_t after;
    store_get_stats(f->st, &after);
    /* 201 jobs queued faster than the 50 ms batch delay: far fewer batches than jobs */
    assert_true(after.batches - before.batches < 50);
    assert_int_equal(after.readings - before.readings, 201);
    assert_int_equal(count(f->st, "SELECT count(*) FROM reading"), 201);
    /* minute aggregates: 201 s of readings at 1 Hz span 4 minutes; sums match */
    assert_int_equal(count(f->st, "SELECT sum(n) FROM agg_minute"), 201);
    assert_int_equal(count(f->st, "SELECT sum(vsum) FROM agg_minute"), 200 * 201 / 2);
    assert_int_equal(count(f->st, "SELECT count(*) FROM agg_minute"), 4);
    assert_int_equal(count(f->st, "SELECT value FROM point_latest"), 200);
}

/* Aggregates are written at most every second: readings nobody waits for,
 * with no batch after them, still reach agg_minute and point_latest. */
static void derived_tables_catch_up_when_the_queue_goes_quiet(void **state)
{
    fixture_t *f = *state;
    open_with(f, 100, 100000, 5);
    char err[256];
    int64_t pid;
    assert_int_equal(store_write(f->st, make_point, &pid, err, sizeof err), 0);
    store_reading_t r = {.ts_ms = 120000, .point_id = pid, .value = 42};
    assert_int_equal(store_put_readings(f->st, &r, 1, NULL, NULL), 0);
    long long n = 0;
    for (int i = 0; i < 100 && n == 0; i++) { /* at most 5 s */
        tm_sleep_ms(50);
        n = count(f->st, "SELECT count(*) FROM point_latest WHERE value = 42");
    }
    assert_int_equal(n, 1);
    assert_int_equal(count(f->st, "SELECT sum(n) FROM agg_minute"), 1);
}

static void a_batch_closes_on_size(void **state)
{
    fixture_t *f = *state;
    /* a long delay, but batches of at most 10 jobs */
    open_with(f, 10, 100000, 2000);
    char err[256];
    int64_t pid;
    assert_int_equal(store_write(f->st, make_point, &pid, err, sizeof err), 0);
    store_stats_t before, after;
    store_get_stats(f->st, &before);
    for (int i = 0; i < 29; i++) {
        store_reading_t r = {.ts_ms = 1000 * (i + 1), .point_id = pid, .value = 1};
        assert_int_equal(store_put_readings(f->st, &r, 1, NULL, NULL), 0);
    }
    store_reading_t r = {.ts_ms = 1000 * 31, .point_id = pid, .value = 1};
    assert_int_equal(store_put_readings_sync(f->st, &r, 1, err, sizeof err), 0);
    store_get_stats(f->st, &after);
    assert_int_equal(after.readings - before.readings, 30);
    assert_true(after.batches - before.batches >= 3);
}

static int failing_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    int64_t dev;
    int rc = store_device_upsert(db, "half-written", "meter", NULL, NULL, &dev, err, errlen);
    assert_int_equal(rc, 0);
    return cm_fail(err, errlen, CM_ERR_INVALID, "refused on purpose");
}

static void a_failing_job_leaves_nothing_and_spares_its_batch(void **state)
{
    fixture_t *f = *state;
    open_with(f, 100, 100000, 100);
    char err[256];
    int64_t pid;
    assert_int_equal(store_write(f->st, make_point, &pid, err, sizeof err), 0);
    store_reading_t r = {.ts_ms = 5000, .point_id = pid, .value = 7};
    assert_int_equal(store_put_readings(f->st, &r, 1, NULL, NULL), 0);
    assert_int_equal(store_write(f->st, failing_job, NULL, err, sizeof err), CM_ERR_INVALID);
    assert_string_equal(err, "refused on purpose");
    assert_int_equal(count(f->st, "SELECT count(*) FROM device WHERE name = 'half-written'"), 0);
    assert_int_equal(count(f->st, "SELECT count(*) FROM reading"), 1);
}

/* Readings jobs share a run without savepoints of their own; a run that
 * fails is undone and replayed job by job (core/store.c run_readings). */
static int refuse_negative_readings(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    (void)arg;
    return store_exec(db,
                      "CREATE TRIGGER refuse_negative BEFORE INSERT ON reading WHEN NEW.value < 0"
                      " BEGIN SELECT RAISE(ABORT, 'negative reading refused'); END",
                      err, errlen);
}

typedef struct outcome {
    int rc;
    char err[256];
} outcome_t;

static void record_outcome(void *arg, int rc, const char *err)
{
    outcome_t *o = arg;
    snprintf(o->err, sizeof o->err, "%s", err ? err : "");
    __atomic_store_n(&o->rc, rc, __ATOMIC_RELEASE);
}

static void wait_outcome(outcome_t *o)
{
    for (int i = 0; i < 500 && __atomic_load_n(&o->rc, __ATOMIC_ACQUIRE) == -1; i++)
        usleep(10000);
    assert_int_equal(__atomic_load_n(&o->rc, __ATOMIC_ACQUIRE), 0);
}

static int count_runs(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    int *runs = arg;
    (*runs)++;
    int64_t dev;
    return store_device_upsert(db, "ran-once", "meter", NULL, NULL, &dev, err, errlen);
}

/* One point, readings refused when negative, and four readings of minute 1
 * of which the second is refused: 1, -1, 3, 4. */
static void prepare_refusing_store(fixture_t *f, store_reading_t r[4])
{
    open_with(f, 100, 100000, 300); /* everything below lands in one batch */
    char err[256];
    int64_t pid;
    assert_int_equal(store_write(f->st, make_point, &pid, err, sizeof err), 0);
    assert_int_equal(store_write(f->st, refuse_negative_readings, NULL, err, sizeof err), 0);
    static const double values[4] = {1, -1, 3, 4};
    for (int i = 0; i < 4; i++)
        r[i] = (store_reading_t){.ts_ms = 60000 + 1000 * i, .point_id = pid, .value = values[i]};
}

static void a_bad_reading_in_the_first_run_fails_alone(void **state)
{
    fixture_t *f = *state;
    store_reading_t r[4];
    prepare_refusing_store(f, r);
    outcome_t o[3] = {{-1, ""}, {-1, ""}, {-1, ""}}, earlier = {-1, ""};
    /* A reading committed just before: its aggregate waits in memory, is
     * written by the next batch, and must survive that batch's rollback. */
    store_reading_t r0 = {.ts_ms = 1000, .point_id = r[0].point_id, .value = 9};
    assert_int_equal(store_put_readings(f->st, &r0, 1, record_outcome, &earlier), 0);
    wait_outcome(&earlier);
    store_stats_t before, after;
    store_get_stats(f->st, &before);
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_put_readings(f->st, &r[i], 1, record_outcome, &o[i]), 0);
    char err[256];
    assert_int_equal(store_put_readings_sync(f->st, &r[3], 1, err, sizeof err), 0);
    store_get_stats(f->st, &after);
    assert_int_equal(after.batches - before.batches, 1);
    assert_int_equal(o[0].rc, 0);
    assert_int_equal(o[1].rc, CM_ERR_DB);
    assert_non_null(strstr(o[1].err, "negative reading refused"));
    assert_int_equal(o[2].rc, 0);
    assert_int_equal(count(f->st, "SELECT count(*) FROM reading"), 4); /* with r0 */
    /* replayed readings are aggregated once: 1 + 3 + 4 */
    assert_int_equal(count(f->st, "SELECT n FROM agg_minute WHERE minute = 60"), 3);
    assert_int_equal(count(f->st, "SELECT vsum FROM agg_minute WHERE minute = 60"), 8);
    assert_int_equal(count(f->st, "SELECT value FROM point_latest"), 4);
    assert_int_equal(count(f->st, "SELECT vsum FROM agg_minute WHERE minute = 0"), 9);
}

static void a_bad_reading_after_a_generic_job_replays_only_its_run(void **state)
{
    fixture_t *f = *state;
    store_reading_t r[4];
    prepare_refusing_store(f, r);
    outcome_t o[4] = {{-1, ""}, {-1, ""}, {-1, ""}, {-1, ""}};
    int runs = 0;
    store_stats_t before, after;
    store_get_stats(f->st, &before);
    assert_int_equal(store_put_readings(f->st, &r[0], 1, record_outcome, &o[0]), 0);
    assert_int_equal(store_write_async(f->st, count_runs, &runs, record_outcome, &o[3]), 0);
    assert_int_equal(store_put_readings(f->st, &r[1], 1, record_outcome, &o[1]), 0);
    assert_int_equal(store_put_readings(f->st, &r[2], 1, record_outcome, &o[2]), 0);
    char err[256];
    assert_int_equal(store_put_readings_sync(f->st, &r[3], 1, err, sizeof err), 0);
    store_get_stats(f->st, &after);
    assert_int_equal(after.batches - before.batches, 1);
    assert_int_equal(runs, 1);
    assert_int_equal(o[3].rc, 0);
    assert_int_equal(count(f->st, "SELECT count(*) FROM device WHERE name = 'ran-once'"), 1);
    assert_int_equal(o[0].rc, 0);
    assert_int_equal(o[1].rc, CM_ERR_DB);
    assert_int_equal(o[2].rc, 0);
    assert_int_equal(count(f->st, "SELECT count(*) FROM reading"), 3);
    assert_int_equal(count(f->st, "SELECT n FROM agg_minute WHERE minute = 60"), 3);
    assert_int_equal(count(f->st, "SELECT vsum FROM agg_minute WHERE minute = 60"), 8);
}

static void a_duplicate_reading_is_stored_and_counted_once(void **state)
{
    fixture_t *f = *state;
    open_with(f, 100, 100000, 5);
    char err[256];
    int64_t pid;
    assert_int_equal(store_write(f->st, make_point, &pid, err, sizeof err), 0);
    store_reading_t r[2] = {{.ts_ms = 60000, .point_id = pid, .value = 3},
                            {.ts_ms = 60000, .point_id = pid, .value = 3}};
    assert_int_equal(store_put_readings_sync(f->st, r, 2, err, sizeof err), 0);
    assert_int_equal(store_put_readings_sync(f->st, r, 1, err, sizeof err), 0);
    assert_int_equal(count(f->st, "SELECT count(*) FROM reading"), 1);
    assert_int_equal(count(f->st, "SELECT n FROM agg_minute"), 1);
}

static void prune_keeps_the_retention_windows(void **state)
{
    fixture_t *f = *state;
    open_with(f, 100, 100000, 5);
    char err[256];
    int64_t pid, now = 1767196800;
    assert_int_equal(store_write(f->st, make_point, &pid, err, sizeof err), 0);
    store_reading_t r[2] = {{.ts_ms = (now - 31 * 86400) * 1000, .point_id = pid, .value = 1},
                            {.ts_ms = (now - 29 * 86400) * 1000, .point_id = pid, .value = 2}};
    assert_int_equal(store_put_readings_sync(f->st, r, 2, err, sizeof err), 0);
    assert_int_equal(store_prune(f->st, now, NULL, err, sizeof err), 0);
    assert_int_equal(count(f->st, "SELECT count(*) FROM reading"), 1);
    assert_int_equal(count(f->st, "SELECT count(*) FROM agg_minute"), 2); /* kept for years */
}

typedef struct minutes {
    int64_t pid, first, count;
} minutes_t;

static int insert_minutes(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    minutes_t *m = arg;
    sqlite3_stmt *s;
    int rc = store_prepare(db, "INSERT INTO agg_minute VALUES (?, ?, 1, 1, 1, 1, 1, 0)", &s, err,
                           errlen);
    for (int64_t i = 0; !rc && i < m->count; i++) {
        sqlite3_bind_int64(s, 1, m->pid);
        sqlite3_bind_int64(s, 2, m->first + 60 * i);
        rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK : CM_ERR_DB;
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    return rc;
}

/* Issue 14: the prune's "minute < ?" scanned all of agg_minute and deleted a
 * year at once on the writer. Now chunks (more than one here) walk an index. */
static void prune_deletes_old_minutes_in_chunks_by_the_time_index(void **state)
{
    fixture_t *f = *state;
    open_with(f, 100, 100000, 5);
    char err[256];
    int64_t pid, now = 1767196800, deleted = 0;
    int64_t cut = now - 5 * 366 * 86400; /* the default agg_retention_days */
    assert_int_equal(store_write(f->st, make_point, &pid, err, sizeof err), 0);
    minutes_t old = {pid, cut - 12001 * 60, 12001}, kept = {pid, cut, 10};
    assert_int_equal(store_write(f->st, insert_minutes, &old, err, sizeof err), 0);
    assert_int_equal(store_write(f->st, insert_minutes, &kept, err, sizeof err), 0);
    assert_int_equal(store_prune(f->st, now, &deleted, err, sizeof err), 0);
    assert_int_equal(deleted, 12001);
    assert_int_equal(count(f->st, "SELECT count(*) FROM agg_minute"), 10);
    assert_int_equal(count(f->st, "SELECT min(minute) FROM agg_minute"), cut);
    sqlite3 *db = store_reader_open(f->st, err, sizeof err);
    sqlite3_stmt *s;
    assert_int_equal(store_prepare(db, "EXPLAIN QUERY PLAN SELECT point_id, minute FROM agg_minute"
                                       " WHERE minute < 1 LIMIT 5000", &s, err, sizeof err), 0);
    bool by_index = false;
    while (sqlite3_step(s) == SQLITE_ROW)
        by_index |= strstr((const char *)sqlite3_column_text(s, 3), "agg_minute_by_time") != NULL;
    sqlite3_finalize(s);
    store_reader_close(db);
    assert_true(by_index);
}

typedef struct set {
    const char *n;
    double v;
    int64_t from;
} set_t;

static int set_job(sqlite3 *db, void *arg, char *e, size_t el)
{
    set_t *s = arg;
    return store_coef_set(db, s->n, s->v, s->from, "tester", "cli", "test", e, el);
}

static void coefficients_keep_history_and_audit(void **state)
{
    fixture_t *f = *state;
    open_with(f, 100, 100000, 5);
    char err[256];
    set_t sets[] = {{"raw_to_gross", 0.92, 1000}, {"raw_to_gross", 0.95, 2000}};
    assert_int_equal(store_write(f->st, set_job, &sets[0], err, sizeof err), 0);
    assert_int_equal(store_write(f->st, set_job, &sets[1], err, sizeof err), 0);
    sqlite3 *db = store_reader_open(f->st, err, sizeof err);
    double v;
    assert_int_equal(store_coef_get(db, "raw_to_gross", 1500, &v, err, sizeof err), 0);
    assert_float_equal(v, 0.92, 1e-12);
    assert_int_equal(store_coef_get(db, "raw_to_gross", 2500, &v, err, sizeof err), 0);
    assert_float_equal(v, 0.95, 1e-12);
    assert_int_equal(store_coef_get(db, "raw_to_gross", 500, &v, err, sizeof err), CM_ERR_NOTFOUND);
    store_reader_close(db);
    assert_int_equal(count(f->st, "SELECT count(*) FROM audit_log WHERE action = 'coef.set'"), 2);
    assert_int_equal(count(f->st, "SELECT count(*) FROM audit_log WHERE old_value = '0.92'"), 1);
}

static void unwritable_path_is_a_clear_error(void **state)
{
    char err[256];
    store_t *st = store_open("/nonexistent-dir/x.db", NULL, err, sizeof err);
    assert_null(st);
    assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(migrations_apply_once_and_reopen_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(readings_are_acknowledged_after_commit_in_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(a_batch_closes_on_size, setup, teardown),
        cmocka_unit_test_setup_teardown(derived_tables_catch_up_when_the_queue_goes_quiet, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_failing_job_leaves_nothing_and_spares_its_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(a_bad_reading_in_the_first_run_fails_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(a_bad_reading_after_a_generic_job_replays_only_its_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_duplicate_reading_is_stored_and_counted_once, setup, teardown),
        cmocka_unit_test_setup_teardown(prune_keeps_the_retention_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(prune_deletes_old_minutes_in_chunks_by_the_time_index,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(coefficients_keep_history_and_audit, setup, teardown),
        cmocka_unit_test(unwritable_path_is_a_clear_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
