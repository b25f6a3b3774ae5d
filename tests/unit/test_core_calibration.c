/* ACQ-5: calibration and maintenance records — checked field by field, kept,
 * audited, and queued as an upload record that the receiver's own schema
 * accepts (uplink.md §3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "uplink/uplink.h"

typedef struct job {
    store_calibration_t c;
    int64_t id;
} job_t;

static int add(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    job_t *j = arg;
    return store_calibration_add(db, &j->c, "tester", "cli", &j->id, err, errlen);
}

static void every_field_is_checked(void **state)
{
    int64_t now = 1795400000;
    char err[128], long_note[2100];
    memset(long_note, 'x', sizeof long_note - 1);
    long_note[sizeof long_note - 1] = '\0';
    const char *field;
    store_calibration_t ok = {.device = "bs1", .time_s = now - 60, .operator_name = "张工",
                              .kind = "calibration"};
    assert_int_equal(store_calibration_check(&ok, now, &field, err, sizeof err), 0);
    assert_null(field);
    struct { store_calibration_t c; const char *field; } bad[] = {
        {{.device = "", .time_s = now, .operator_name = "a", .kind = "maintenance"}, "device"},
        {{.device = "d", .time_s = now, .operator_name = NULL, .kind = "maintenance"}, "operator"},
        {{.device = "d", .time_s = now, .operator_name = "a", .kind = "repair"}, "kind"},
        {{.device = "d", .time_s = now + 3600, .operator_name = "a", .kind = "parameter"}, "time"},
        {{.device = "d", .time_s = now, .operator_name = "a", .kind = "parameter", .note = long_note}, "note"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(store_calibration_check(&bad[i].c, now, &field, err, sizeof err), CM_ERR_INVALID);
        assert_string_equal(field, bad[i].field);
    }
}

static void kept_audited_and_queued_as_a_valid_record(void **state)
{
    char dir[] = "/tmp/coalmon-cal-XXXXXX", path[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.db", dir);
    store_t *st = store_open(path, NULL, err, sizeof err);
    assert_non_null(st);
    job_t j = {.c = {.device = "station-main-belt", .time_s = tm_now_s() - 3600,
                     .operator_name = "张工", .kind = "calibration", .before = "k=1.000",
                     .after = "k=1.043", .note = "实物标定"}};
    assert_int_equal(store_write(st, add, &j, err, sizeof err), 0);
    job_t bad = {.c = {.device = "x", .time_s = tm_now_s(), .operator_name = "a", .kind = "nope"}};
    assert_int_equal(store_write(st, add, &bad, err, sizeof err), CM_ERR_INVALID);

    sqlite3 *db = store_reader_open(st, err, sizeof err);
    sqlite3_stmt *s;
    assert_int_equal(store_prepare(db, "SELECT (SELECT count(*) FROM calibration),"
                                       " (SELECT count(*) FROM audit_log WHERE action = 'calibration.add'),"
                                       " (SELECT body FROM outbox_record WHERE record_type = 'calibration')",
                                   &s, err, sizeof err), 0);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1); /* the bad one left nothing */
    assert_int_equal(sqlite3_column_int(s, 1), 1);
    cJSON *rec = cJSON_Parse((const char *)sqlite3_column_text(s, 2));
    sqlite3_finalize(s);
    assert_non_null(rec);
    char field[64];
    if (upl_validate("cms", "calibration", rec, field, sizeof field, err, sizeof err))
        fail_msg("record refused at %s: %s", field, err);
    assert_string_equal(cJSON_GetObjectItem(rec, "after")->valuestring, "k=1.043");
    cJSON_Delete(rec);
    store_reader_close(db);
    store_close(st);
    char p2[80];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p2, sizeof p2, "%s%s", path, sfx[i]);
        unlink(p2);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_field_is_checked),
        cmocka_unit_test(kept_audited_and_queued_as_a_valid_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
