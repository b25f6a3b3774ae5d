/* Issue 8 (UPL-4): the county screen's drill-down. upl_received_list filters
 * by type and received time, pages newest first with ties in arrival order,
 * and refuses an unknown enterprise; upl_enterprise_show counts per type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "uplink/uplink.h"

#define MINE "001001001"
#define T0 1795000000000LL /* received_ms of the first record */

typedef struct fx {
    char dir[64], path[128];
    store_t *st;
    sqlite3 *db;
} fx_t;

/* Rows as the receiver leaves them: (type, id, received offset s, revisions). */
static int fill_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    (void)arg;
    int rc = upl_enterprise_put_job(db, MINE, "测试煤矿", "mine", NULL, NULL, 1.2e6, err, errlen);
    static const struct { const char *type, *id; int at, rev; } rows[] = {
        {"coalOutput", "c-0", 0, 0}, {"coalOutput", "c-1", 60, 2}, {"powerGate", "g-0", 60, 0},
        {"alarm", "a-0", 120, 0},    {"coalOutput", "c-2", 180, 0},
    };
    for (size_t i = 0; !rc && i < sizeof rows / sizeof *rows; i++) {
        sqlite3_stmt *s;
        rc = store_prepare(db,
                           "INSERT INTO uplink_received(ent, via, prefix, record_type, record_id, body,"
                           " received_ms, revisions) VALUES (?, ?, 'cms', ?, ?, ?, ?, ?)",
                           &s, err, errlen);
        if (rc)
            break;
        char body[64];
        snprintf(body, sizeof body, "{\"id\":\"%s\",\"tons\":%zu}", rows[i].id, i);
        sqlite3_bind_text(s, 1, MINE, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, MINE, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, rows[i].type, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, rows[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, body, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 6, T0 + rows[i].at * 1000LL);
        sqlite3_bind_int(s, 7, rows[i].rev);
        rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK : CM_ERR_DB;
        sqlite3_finalize(s);
    }
    return rc;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/coalmon-uplrec-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    store_opts_t o;
    store_opts_default(&o);
    o.batch_delay_ms = 0;
    char err[256];
    f->st = store_open(f->path, &o, err, sizeof err);
    assert_non_null(f->st);
    assert_int_equal(store_write(f->st, fill_job, NULL, err, sizeof err), 0);
    f->db = store_reader_open(f->st, err, sizeof err);
    assert_non_null(f->db);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    store_reader_close(f->db);
    store_close(f->st);
    char p[160];
    snprintf(p, sizeof p, "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", f->path);
    unlink(p);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The ids of a listing, comma-separated, and its total. */
static double ids(fx_t *f, const upl_records_q_t *q, char *out, size_t len)
{
    char err[256];
    cJSON *o = NULL;
    assert_int_equal(upl_received_list(f->db, q, &o, err, sizeof err), CM_OK);
    const cJSON *r;
    *out = 0;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(o, "records"))
    {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", n ? "," : "", cJSON_GetObjectItem(r, "id")->valuestring);
    }
    double total = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "total"));
    cJSON_Delete(o);
    return total;
}

static void test_newest_first_ties_in_arrival_order(void **state)
{
    char got[128];
    upl_records_q_t q = {.code = MINE, .limit = 100};
    assert_int_equal(ids(*state, &q, got, sizeof got), 5);
    /* c-1 and g-0 arrived in the same second: the later row first. */
    assert_string_equal(got, "c-2,a-0,g-0,c-1,c-0");
    q.limit = 2;
    q.offset = 2;
    assert_int_equal(ids(*state, &q, got, sizeof got), 5);
    assert_string_equal(got, "g-0,c-1");
}

static void test_type_and_received_bounds(void **state)
{
    char got[128];
    upl_records_q_t q = {.code = MINE, .type = "coalOutput", .limit = 100};
    assert_int_equal(ids(*state, &q, got, sizeof got), 3);
    assert_string_equal(got, "c-2,c-1,c-0");
    /* [from, to): the record received exactly at `to` is out, at `from` in. */
    q.from_s = T0 / 1000 + 60;
    q.to_s = T0 / 1000 + 180;
    assert_int_equal(ids(*state, &q, got, sizeof got), 1);
    assert_string_equal(got, "c-1");
    q.type = NULL;
    assert_int_equal(ids(*state, &q, got, sizeof got), 3);
    assert_string_equal(got, "a-0,g-0,c-1");
}

static void test_record_fields_and_unknown_code(void **state)
{
    fx_t *f = *state;
    char err[256];
    cJSON *o = NULL;
    upl_records_q_t q = {.code = MINE, .type = "coalOutput", .limit = 1, .offset = 1};
    assert_int_equal(upl_received_list(f->db, &q, &o, err, sizeof err), CM_OK);
    const cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "records"), 0);
    assert_string_equal(cJSON_GetObjectItem(r, "id")->valuestring, "c-1");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "revisions")), 2);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "body"), "tons")), 1);
    char bj[24];
    tm_format_bj(T0 / 1000 + 60, bj, sizeof bj);
    assert_string_equal(cJSON_GetObjectItem(r, "received")->valuestring, bj);
    assert_null(cJSON_GetObjectItem(r, "start")); /* no interval columns stored */
    cJSON_Delete(o);
    q.code = "999999999";
    assert_int_equal(upl_received_list(f->db, &q, &o, err, sizeof err), CM_ERR_NOTFOUND);
    assert_null(o);
    assert_non_null(strstr(err, "999999999"));
}

static void test_show_counts_per_type_in_period(void **state)
{
    fx_t *f = *state;
    upl_cfg_t c;
    upl_cfg_default(&c);
    char err[256];
    cJSON *o = NULL;
    /* Now is one day after the last record: a 1-day period holds only it. */
    int64_t now = T0 / 1000 + 180 + 86400;
    assert_int_equal(upl_enterprise_show(f->db, &c, MINE, now, 1, &o, err, sizeof err), CM_OK);
    const cJSON *counts = cJSON_GetObjectItem(o, "counts"), *total = cJSON_GetObjectItem(o, "counts_total");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(counts, "coalOutput")), 1);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(counts, "alarm")), 0);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(total, "coalOutput")), 3);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "records_total")), 5);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "records")), 1);
    assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "测试煤矿");
    cJSON_Delete(o);
    assert_int_equal(upl_enterprise_show(f->db, &c, "999999999", now, 1, &o, err, sizeof err),
                     CM_ERR_NOTFOUND);
    assert_null(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_newest_first_ties_in_arrival_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_and_received_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_fields_and_unknown_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_counts_per_type_in_period, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
