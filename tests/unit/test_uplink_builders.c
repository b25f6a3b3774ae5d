/* UPL-2: records built from stored data are valid against the contract, built
 * once per interval, and missing data gives no record (the platform sees the gap). */
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
#include "fail_store.h"
#include "uplink/uplink.h"

typedef struct fx {
    char dir[64], path[128];
    store_t *st;
    upl_cfg_t cfg;
    int64_t t0; /* an interval start, Beijing 08:00 */
} fx_t;

static int seed_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    fx_t *f = arg;
    int64_t dev, ep, p, st, thd_a, thd_b, exp;
    /* A site's own meter map: names of its own, the quantities every map shares. */
    int rc = store_device_upsert(db, "gate-total", "meter", "site-map", "SN1", &dev, err, errlen);
    rc = rc ? rc : store_point_upsert(db, dev, "kwh_in", "kWh", "energy_import", &ep, err, errlen);
    rc = rc ? rc : store_point_upsert(db, dev, "kwh_out", "kWh", "energy_export", &exp, err, errlen);
    rc = rc ? rc : store_point_upsert(db, dev, "p_sum", "kW", "active_power", &p, err, errlen);
    rc = rc ? rc : store_point_upsert(db, dev, "thd_u1", "%", "thd_voltage_a", &thd_a, err, errlen);
    rc = rc ? rc : store_point_upsert(db, dev, "thd_u2", "%", "thd_voltage_b", &thd_b, err, errlen);
    rc = rc ? rc : store_device_upsert(db, "belt-main", "station", "ICS", "SN2", &st, err, errlen);
    rc = rc ? rc : store_device_set_comm(db, dev, "online", f->t0 * 1000, NULL, err, errlen);
    rc = rc ? rc : store_coef_set(db, "raw_to_gross", 0.92, f->t0 - 86400, "test", "cli", "init", err, errlen);
    if (rc)
        return rc;
    char sql[512];
    snprintf(sql, sizeof sql, "UPDATE device SET gate_type = 'mine_total' WHERE id = %lld", (long long)dev);
    rc = store_exec(db, sql, err, errlen);
    /* 15 minutes of energy in the first interval, nothing in the second (a gap),
     * 15 minutes in the third; power 400..414 kW; station tonnes. */
    for (int m = 0; !rc && m < 45; m++) {
        if (m >= 15 && m < 30)
            continue;
        int64_t minute = f->t0 + 60 * m;
        snprintf(sql, sizeof sql,
                 "INSERT INTO counter_minute(point_id, minute, delta, steps) VALUES (%lld, %lld, 2.5, 12);"
                 "INSERT INTO agg_minute(point_id, minute, n, vmin, vmax, vsum, vlast, last_ts_ms)"
                 " VALUES (%lld, %lld, 2, %d, %d, %d, %d, %lld);"
                 "INSERT INTO station_output_minute(device_id, minute, tonnes, records) VALUES (%lld, %lld, 1.5, 12);",
                 (long long)ep, (long long)minute, (long long)p, (long long)minute, 400 + m % 15,
                 400 + m % 15, 2 * (400 + m % 15), 400 + m % 15, (long long)minute * 1000,
                 (long long)st, (long long)minute);
        rc = store_exec(db, sql, err, errlen);
        /* exported energy is not imported energy; THD 2 % and 4 % on two phases */
        snprintf(sql, sizeof sql,
                 "INSERT INTO counter_minute(point_id, minute, delta, steps) VALUES (%lld, %lld, 99, 12);"
                 "INSERT INTO agg_minute(point_id, minute, n, vmin, vmax, vsum, vlast, last_ts_ms)"
                 " VALUES (%lld, %lld, 1, 2, 2, 2, 2, 0), (%lld, %lld, 1, 4, 4, 4, 4, 0);",
                 (long long)exp, (long long)minute, (long long)thd_a, (long long)minute,
                 (long long)thd_b, (long long)minute);
        rc = rc ? rc : store_exec(db, sql, err, errlen);
    }
    return rc;
}

static int exec_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return store_exec(db, arg, err, errlen);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/coalmon-uplb-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    char err[256];
    f->st = store_open(f->path, NULL, err, sizeof err);
    assert_non_null(f->st);
    upl_cfg_default(&f->cfg);
    f->cfg.catchup_days = 1;
    f->t0 = tm_bj_to_epoch(2026, 11, 23, 8, 0, 0);
    if (store_write(f->st, seed_job, f, err, sizeof err))
        fail_msg("seed: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    store_close(f->st);
    char p[160];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

typedef struct build_arg {
    fx_t *f;
    int64_t now;
    int made;
} build_arg_t;

static int build_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    build_arg_t *a = arg;
    return upl_build_job(db, NULL, &a->f->cfg, a->now, &a->made, err, errlen);
}

static int build(fx_t *f, int64_t now)
{
    build_arg_t a = {.f = f, .now = now};
    char err[256];
    if (store_write(f->st, build_job, &a, err, sizeof err))
        fail_msg("build: %s", err);
    return a.made;
}

/* The outbox records of a type, in order, as parsed JSON (an array). */
static cJSON *records(fx_t *f, const char *type)
{
    char err[128];
    sqlite3 *db = store_reader_open(f->st, err, sizeof err);
    sqlite3_stmt *s;
    assert_int_equal(store_prepare(db, "SELECT body FROM outbox_record WHERE record_type = ? ORDER BY seq",
                                   &s, err, sizeof err), 0);
    sqlite3_bind_text(s, 1, type, -1, SQLITE_STATIC);
    cJSON *arr = cJSON_CreateArray();
    while (sqlite3_step(s) == SQLITE_ROW) {
        cJSON *r = cJSON_Parse((const char *)sqlite3_column_text(s, 0));
        char field[64], e[200];
        if (upl_validate("cms", type, r, field, sizeof field, e, sizeof e))
            fail_msg("%s invalid: %s", type, e);
        cJSON_AddItemToArray(arr, r);
    }
    sqlite3_finalize(s);
    store_reader_close(db);
    return arr;
}

static void test_power_gate_and_coal_output_per_interval(void **state)
{
    fx_t *f = *state;
    /* 08:45 + grace: three intervals closed; the middle one has no data. */
    build(f, f->t0 + 45 * 60 + 120);
    cJSON *pg = records(f, "powerGate");
    assert_int_equal(cJSON_GetArraySize(pg), 2);
    cJSON *r = cJSON_GetArrayItem(pg, 0);
    assert_string_equal(cJSON_GetObjectItem(r, "startTime")->valuestring, "2026-11-23 08:00:00");
    assert_string_equal(cJSON_GetObjectItem(r, "endTime")->valuestring, "2026-11-23 08:15:00");
    assert_int_equal(cJSON_GetObjectItem(r, "gateType")->valueint, 1);
    assert_float_equal(cJSON_GetObjectItem(r, "kwh")->valuedouble, 15 * 2.5, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(r, "pAvg")->valuedouble, 407.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(r, "pMax")->valuedouble, 414.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(r, "thdU")->valuedouble, 3.0, 1e-9);
    assert_null(cJSON_GetObjectItem(r, "thdI")); /* not measured: absent, not 0 */
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(pg, 1), "startTime")->valuestring,
                        "2026-11-23 08:30:00");
    cJSON_Delete(pg);
    cJSON *co = records(f, "coalOutput");
    assert_int_equal(cJSON_GetArraySize(co), 2);
    r = cJSON_GetArrayItem(co, 0);
    assert_float_equal(cJSON_GetObjectItem(r, "tons")->valuedouble, 22.5, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(r, "grossTons")->valuedouble, 22.5 * 0.92, 1e-9);
    assert_int_equal(cJSON_GetObjectItem(r, "runSeconds")->valueint, 900);
    cJSON_Delete(co);
    /* Built once: a later call adds nothing for the same intervals. */
    assert_int_equal(build(f, f->t0 + 45 * 60 + 180), 0);
}

static void test_open_interval_is_not_built_before_grace(void **state)
{
    fx_t *f = *state;
    build(f, f->t0 + 15 * 60 + 30); /* the first interval closed 30 s ago */
    cJSON *pg = records(f, "powerGate");
    assert_int_equal(cJSON_GetArraySize(pg), 0);
    cJSON_Delete(pg);
    build(f, f->t0 + 15 * 60 + 120);
    pg = records(f, "powerGate");
    assert_int_equal(cJSON_GetArraySize(pg), 1);
    cJSON_Delete(pg);
}

static void test_device_status_and_coefficient_changes(void **state)
{
    fx_t *f = *state;
    build(f, f->t0);
    cJSON *ds = records(f, "deviceStatus"), *cf = records(f, "coefficient");
    assert_int_equal(cJSON_GetArraySize(ds), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ds, 0), "status")->valuestring, "ok");
    assert_int_equal(cJSON_GetArraySize(cf), 1);
    assert_float_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cf, 0), "value")->valuedouble, 0.92, 1e-12);
    cJSON_Delete(ds);
    cJSON_Delete(cf);
    assert_int_equal(build(f, f->t0 + 10), 0); /* nothing changed, nothing new */
    /* The station reports a fault and runs on battery: each is a deviceStatus record. */
    char err[256];
    char sql[512]; /* fits the three times at their widest */
    snprintf(sql, sizeof sql,
             "INSERT INTO device_event(device_id, ts_ms, kind, state, detail) VALUES"
             " ((SELECT d.id FROM device d WHERE d.name = 'belt-main'), %lld, 'fault', 'raised', 'load cell'),"
             " ((SELECT d.id FROM device d WHERE d.name = 'belt-main'), %lld, 'power', 'battery', 'mains lost'),"
             " ((SELECT d.id FROM device d WHERE d.name = 'belt-main'), %lld, 'counter_jump', 'total', 'x');",
             (long long)f->t0 * 1000 + 20000, (long long)f->t0 * 1000 + 30000, (long long)f->t0 * 1000 + 40000);
    if (store_write(f->st, exec_job, sql, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(build(f, f->t0 + 60), 2);
    ds = records(f, "deviceStatus");
    assert_int_equal(cJSON_GetArraySize(ds), 3);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ds, 1), "status")->valuestring, "fault");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ds, 2), "status")->valuestring, "power_lost");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ds, 2), "since")->valuestring, "2026-11-23 08:00:30");
    cJSON_Delete(ds);
}

static int sales_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    fx_t *f = arg;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO weigh_ticket(ticket_id, version, plate, material, direction, tare_time,"
             " gross_time, gross, tare, net, weighbridge_id, source, received_at) VALUES"
             " ('T1', 1, 'JINA12345', 'raw', 'out', %lld, %lld, 45, 15, 30, 'wb1', 'test', %lld),"
             " ('T2', 1, 'JINA12346', 'gangue', 'out', %lld, %lld, 45, 15, 30, 'wb1', 'test', %lld);"
             "INSERT INTO rail_sale(batch_id, wagons, coal_type, tons, loaded_at, source)"
             " VALUES ('R1', 2, 'raw', 100, %lld, 'test');"
             "INSERT INTO inventory_survey(surveyed_at, stockpile, coal_type, tons, source) VALUES"
             " (%lld, 'yard', 'raw', 500, 'test'), (%lld, 'yard', 'raw', 450, 'test');",
             (long long)f->t0 + 3000, (long long)f->t0 + 3600, (long long)f->t0 + 3600,
             (long long)f->t0 + 3000, (long long)f->t0 + 3600, (long long)f->t0 + 3600,
             (long long)f->t0 + 7200, (long long)f->t0 - 3600, (long long)f->t0 + 4 * 3600);
    return store_exec(db, sql, err, errlen);
}

/* A build whose reads of table fail while they run (issue #14). */
typedef struct failing_build {
    build_arg_t b;
    const char *table;
    int rc;
    char err[256];
} failing_build_t;

static int failing_build_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    failing_build_t *fb = arg;
    fail_store_t fs;
    fail_store_on(&fs, db, fb->table);
    fb->rc = upl_build_job(db, NULL, &fb->b.f->cfg, fb->b.now, &fb->b.made, fb->err, sizeof fb->err);
    fail_store_off(&fs);
    (void)err, (void)errlen;
    return fb->rc; /* the job's writes roll back, as the daemon's would */
}

static int count_of(fx_t *f, const char *type)
{
    cJSON *a = records(f, type);
    int n = cJSON_GetArraySize(a);
    cJSON_Delete(a);
    return n;
}

/* Before, a failed read of the tickets was a dailySummary with truckSales 0
 * (and a failed counter read a skipped powerGate, its interval marked done):
 * now the build fails with the reason, nothing is queued, and the next build
 * sends the true figures. */
static void test_failed_reads_queue_no_zeros_and_are_built_again(void **state)
{
    fx_t *f = *state;
    char err[256];
    if (store_write(f->st, sales_job, f, err, sizeof err))
        fail_msg("%s", err);
    static const struct {
        const char *table, *type;
    } cases[] = {{"weigh_ticket_current", "dailySummary"}, {"counter_minute", "powerGate"},
                 {"station_output_minute", "coalOutput"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        failing_build_t fb = {.b = {.f = f, .now = f->t0 + 8 * 3600 + 120}, .table = cases[i].table};
        assert_int_not_equal(store_write(f->st, failing_build_job, &fb, err, sizeof err), CM_OK);
        if (fb.rc != CM_ERR_DB || !strstr(fb.err, "interrupt"))
            fail_msg("%s failing: rc %d '%s'", cases[i].table, fb.rc, fb.err);
        assert_int_equal(count_of(f, cases[i].type), 0);
    }
    build(f, f->t0 + 8 * 3600 + 120);
    cJSON *ds = records(f, "dailySummary");
    assert_int_equal(cJSON_GetArraySize(ds), 1);
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(ds, 0), "truckSales")->valuedouble > 0);
    cJSON_Delete(ds);
    assert_true(count_of(f, "powerGate") > 0);
}

static void test_daily_summary_at_shift_end(void **state)
{
    fx_t *f = *state;
    char err[256];
    if (store_write(f->st, sales_job, f, err, sizeof err))
        fail_msg("%s", err);
    build(f, f->t0 + 8 * 3600 - 60); /* 15:59: the day shift (早班 08-16) is still open */
    cJSON *ds = records(f, "dailySummary");
    int before = cJSON_GetArraySize(ds);
    cJSON_Delete(ds);
    /* The day caught up before the data began is not summed as zeros. */
    assert_int_equal(before, 0);
    build(f, f->t0 + 8 * 3600 + 120);
    ds = records(f, "dailySummary");
    assert_int_equal(cJSON_GetArraySize(ds), before + 1);
    cJSON *r = cJSON_GetArrayItem(ds, before);
    assert_string_equal(cJSON_GetObjectItem(r, "id")->valuestring, "shift-2026-11-23-2");
    assert_string_equal(cJSON_GetObjectItem(r, "shift")->valuestring, "早班");
    assert_float_equal(cJSON_GetObjectItem(r, "output")->valuedouble, 45, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(r, "truckSales")->valuedouble, 30, 1e-9); /* not gangue */
    assert_float_equal(cJSON_GetObjectItem(r, "railSales")->valuedouble, 100, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(r, "inventory")->valuedouble, 450, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(r, "kwh")->valuedouble, 75, 1e-9);
    /* no model fitted: no scale-health figure, and no field for it */
    assert_null(cJSON_GetObjectItem(r, "scaleRatio"));
    assert_null(cJSON_GetObjectItem(r, "scaleVerdict"));
    cJSON_Delete(ds);
    /* A ticket of that shift arrives after it was summed (the bridge was
     * offline): the shift is summed again under the same id, not added. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO weigh_ticket(ticket_id, version, plate, material, direction, tare_time,"
             " gross_time, gross, tare, net, weighbridge_id, source, received_at) VALUES"
             " ('T3', 1, 'JINA12347', 'raw', 'out', %lld, %lld, 35, 15, 20, 'wb1', 'test', %lld)",
             (long long)f->t0 + 4000, (long long)f->t0 + 4600, (long long)f->t0 + 8 * 3600 + 300);
    if (store_write(f->st, exec_job, sql, err, sizeof err))
        fail_msg("%s", err);
    build(f, f->t0 + 8 * 3600 + 600);
    ds = records(f, "dailySummary");
    assert_int_equal(cJSON_GetArraySize(ds), before + 1);
    r = cJSON_GetArrayItem(ds, before);
    assert_string_equal(cJSON_GetObjectItem(r, "id")->valuestring, "shift-2026-11-23-2");
    assert_float_equal(cJSON_GetObjectItem(r, "truckSales")->valuedouble, 50, 1e-9);
    cJSON_Delete(ds);
}

/* Issue #13: with a model fitted on the mine's history, a dailySummary carries
 * the scale-health figure at its end (optional fields, dictionary scaleVerdict)
 * and still passes the receiver's schema. */
static void test_daily_summary_carries_scale_health(void **state)
{
    fx_t *f = *state;
    char err[256], field[64];
    ana_conf_t ac;
    ana_conf_default(&ac);
    if (ana_demo_history(f->st, &ac, 10, f->t0 + 8 * 3600, err, sizeof err) ||
        store_write(f->st, sales_job, f, err, sizeof err))
        fail_msg("%s", err);
    build(f, f->t0 + 8 * 3600 + 120);
    cJSON *ds = records(f, "dailySummary");
    assert_int_equal(cJSON_GetArraySize(ds), 1);
    cJSON *r = cJSON_GetArrayItem(ds, 0);
    const cJSON *ratio = cJSON_GetObjectItem(r, "scaleRatio"), *band = cJSON_GetObjectItem(r, "scaleBand"),
                *verdict = cJSON_GetObjectItem(r, "scaleVerdict");
    assert_true(cJSON_IsNumber(ratio) && cJSON_IsNumber(band) && cJSON_IsNumber(verdict));
    /* the demo mine's scale reads true: inside its band, 一致 */
    assert_true(band->valuedouble >= 0.01 && fabs(ratio->valuedouble - 1) <= band->valuedouble);
    assert_int_equal(verdict->valueint, 1);
    assert_int_equal(upl_validate("cms", "dailySummary", r, field, sizeof field, err, sizeof err), 0);
    cJSON_ReplaceItemInObject(r, "scaleVerdict", cJSON_CreateNumber(7));
    assert_int_not_equal(upl_validate("cms", "dailySummary", r, field, sizeof field, err, sizeof err), 0);
    assert_string_equal(field, "scaleVerdict");
    cJSON_Delete(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_power_gate_and_coal_output_per_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_interval_is_not_built_before_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_status_and_coefficient_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_reads_queue_no_zeros_and_are_built_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_daily_summary_at_shift_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daily_summary_carries_scale_health, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
