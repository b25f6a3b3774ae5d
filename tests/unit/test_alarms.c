/* Alarm engine (issue #7, ALM-1..10): de-duplication, hold-off, hysteresis,
 * the lifecycle, a returning condition, inhibition, shelving, restart, and
 * the upload record. Time is driven by the tests (alarm_engine_tick(now)). */
#include "alarms_fixture.h"
#include "uplink/uplink.h"

#define S 1000

/* ALM: one active alarm per (type, source); repeats update count and worst. */
static void test_repeats_update_one_alarm_not_a_flood(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_ABNORMAL_POWER, 0, 60);
    fx_cond(f, ALARM_T_ABNORMAL_POWER, "gate-total", "event", 3.0, f->t0);
    assert_int_equal(fx_tick(f, f->t0), 1);
    long long id = fx_active(f, ALARM_T_ABNORMAL_POWER, "gate-total");
    assert_true(id > 0);
    fx_cond(f, ALARM_T_ABNORMAL_POWER, "gate-total", "event", -7.5, f->t0 + 2 * S);
    fx_cond(f, ALARM_T_ABNORMAL_POWER, "gate-total", "event", 4.0, f->t0 + 3 * S);
    fx_tick(f, f->t0 + 4 * S);
    assert_int_equal(fx_active(f, ALARM_T_ABNORMAL_POWER, "gate-total"), id);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM alarm", NULL), 1);
    assert_int_equal(fx_int(f, "SELECT count FROM alarm", NULL), 3);
    assert_int_equal(fx_int(f, "SELECT CAST(worst * 10 AS INTEGER) FROM alarm", NULL), -75);
    assert_int_equal(fx_int(f, "SELECT CAST(value AS INTEGER) FROM alarm", NULL), 4);
    assert_int_equal(fx_int(f, "SELECT last_seen_ms FROM alarm", NULL), f->t0 + 3 * S);
    /* Another source is another alarm. */
    fx_cond(f, ALARM_T_ABNORMAL_POWER, "gate-transport", "event", 1.0, f->t0 + 5 * S);
    fx_tick(f, f->t0 + 5 * S);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM alarm", NULL), 2);
}

/* Two readings arriving together (one transaction) make one alarm; and the
 * database itself refuses a second active alarm for the same type and source. */
static void test_two_conditions_in_one_batch_make_one_alarm(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_ESCAPE, 0, 600);
    cond_job_t j = {.n = 2};
    for (int i = 0; i < 2; i++)
        j.c[i] = (alarm_cond_t){.type = ALARM_T_ESCAPE, .source = "exit-1", .state = "event",
                                .detail = "蒙A12345", .ts_ms = f->t0};
    char err[256];
    assert_int_equal(store_write(f->st, fx_cond_job, &j, err, sizeof err), 0);
    fx_tick(f, f->t0);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM alarm", NULL), 1);
    assert_int_equal(fx_int(f, "SELECT count FROM alarm", NULL), 2);
    int rc = sqlite3_exec(f->db, "INSERT INTO alarm(type, level, source, state, first_seen_ms,"
                                 " raised_ms, last_seen_ms, detail) VALUES (9, 3, 'exit-1',"
                                 " 'raised', 0, 0, 0, 'x')",
                          NULL, NULL, NULL);
    assert_int_not_equal(rc, SQLITE_OK); /* read-only reader, or the unique index */
}

/* Hold-off: present continuously for holdoff_s before raising. */
static void test_holdoff_raises_only_after_the_delay(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_POWER_QUALITY, 5, 10);
    fx_cond(f, ALARM_T_POWER_QUALITY, "gate-total", "on", 12.0, f->t0);
    fx_tick(f, f->t0);
    assert_int_equal(fx_active(f, ALARM_T_POWER_QUALITY, "gate-total"), 0);
    cJSON *p;
    char err[256];
    assert_int_equal(alarm_pending_json(f->db, &p, err, sizeof err), 0);
    const cJSON *held = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "pending"), 0),
                                            "held");
    assert_true(cJSON_IsString(held) && strstr(held->valuestring, "hold-off"));
    cJSON_Delete(p);
    fx_tick(f, f->t0 + 4 * S);
    assert_int_equal(fx_active(f, ALARM_T_POWER_QUALITY, "gate-total"), 0);
    fx_tick(f, f->t0 + 5 * S);
    assert_true(fx_active(f, ALARM_T_POWER_QUALITY, "gate-total") > 0);
    assert_int_equal(fx_int(f, "SELECT first_seen_ms FROM alarm", NULL), f->t0);
    assert_int_equal(fx_int(f, "SELECT raised_ms FROM alarm", NULL), f->t0 + 5 * S);
}

/* A flicker shorter than the hold-off never raises: once it lapses the hold-off starts over. */
static void test_flicker_shorter_than_holdoff_never_raises(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_POWER_QUALITY, 5, 2);
    for (int i = 0; i < 5; i++) {
        int64_t t = f->t0 + i * 4 * S; /* present 1 s, gone 3 s (> clear_after 2 s) */
        fx_cond(f, ALARM_T_POWER_QUALITY, "gate-total", "on", 1, t);
        fx_tick(f, t);
        fx_cond(f, ALARM_T_POWER_QUALITY, "gate-total", "off", 1, t + S);
        fx_tick(f, t + S);
        fx_tick(f, t + 3 * S + S / 2);
    }
    assert_int_equal(fx_int(f, "SELECT count(*) FROM alarm", NULL), 0);
}

/* Hysteresis: the alarm clears only after clear_after_s without the condition;
 * a value that stays bad stays alarmed. */
static void test_hysteresis_clears_after_quiet_time_only(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_OUTPUT_VS_POWER, 0, 10);
    for (int i = 0; i <= 30; i += 5) { /* bad every 5 s for 30 s: stays one alarm */
        fx_cond(f, ALARM_T_OUTPUT_VS_POWER, "transport", "event", 2.0, f->t0 + i * S);
        fx_tick(f, f->t0 + i * S);
    }
    long long id = fx_active(f, ALARM_T_OUTPUT_VS_POWER, "transport");
    assert_true(id > 0);
    fx_tick(f, f->t0 + 39 * S);
    assert_int_equal(fx_active(f, ALARM_T_OUTPUT_VS_POWER, "transport"), id);
    fx_tick(f, f->t0 + 41 * S);
    assert_int_equal(fx_active(f, ALARM_T_OUTPUT_VS_POWER, "transport"), 0);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM alarm_event WHERE kind = 'cleared'"
                               " AND actor = 'system'", NULL), 1);
    /* A latched state ("on" without "off") stays alarmed however long it lasts. */
    fx_cond(f, ALARM_T_OUTPUT_VS_POWER, "total", "on", 2.0, f->t0 + 50 * S);
    fx_tick(f, f->t0 + 50 * S);
    fx_tick(f, f->t0 + 500 * S);
    assert_true(fx_active(f, ALARM_T_OUTPUT_VS_POWER, "total") > 0);
    fx_cond(f, ALARM_T_OUTPUT_VS_POWER, "total", "off", 0, f->t0 + 501 * S);
    fx_tick(f, f->t0 + 505 * S);
    assert_true(fx_active(f, ALARM_T_OUTPUT_VS_POWER, "total") > 0);
    fx_tick(f, f->t0 + 512 * S);
    assert_int_equal(fx_active(f, ALARM_T_OUTPUT_VS_POWER, "total"), 0);
}

/* A condition that returns after its alarm cleared opens a new alarm. */
static void test_returning_condition_opens_a_new_alarm(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_ABNORMAL_POWER, 0, 5);
    fx_cond(f, ALARM_T_ABNORMAL_POWER, "gate-total", "event", 1, f->t0);
    fx_tick(f, f->t0);
    long long first = fx_active(f, ALARM_T_ABNORMAL_POWER, "gate-total");
    fx_tick(f, f->t0 + 10 * S);
    assert_int_equal(fx_active(f, ALARM_T_ABNORMAL_POWER, "gate-total"), 0);
    fx_cond(f, ALARM_T_ABNORMAL_POWER, "gate-total", "event", 1, f->t0 + 20 * S);
    fx_tick(f, f->t0 + 20 * S);
    long long second = fx_active(f, ALARM_T_ABNORMAL_POWER, "gate-total");
    assert_true(second > first);
    assert_int_equal(fx_int(f, "SELECT count FROM alarm WHERE id = (SELECT max(id) FROM alarm)",
                            NULL), 1);
    char sql[120];
    snprintf(sql, sizeof sql, "SELECT state = 'cleared' FROM alarm WHERE id = %lld", first);
    assert_int_equal(fx_int(f, sql, NULL), 1);
}

/* Lifecycle: raised -> acknowledged (who, when, comment) -> cleared by hand
 * where the type allows it, with a reason; every transition in alarm_event. */
static void test_lifecycle_ack_then_manual_clear(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_ESCAPE, 0, 600);
    fx_cond(f, ALARM_T_ESCAPE, "exit-1", "event", 0, f->t0);
    fx_tick(f, f->t0);
    long long id = fx_active(f, ALARM_T_ESCAPE, "exit-1");
    char err[256];
    assert_int_equal(alarm_ack(f->st, id, "", "x", err, sizeof err), CM_ERR_INVALID);
    assert_int_equal(alarm_ack(f->st, id, "zhang", "已通知门岗", err, sizeof err), 0);
    assert_int_equal(alarm_ack(f->st, id, "li", NULL, err, sizeof err), CM_ERR_CONFLICT);
    assert_int_equal(alarm_ack(f->st, 999999, "li", NULL, err, sizeof err), CM_ERR_NOTFOUND);
    cJSON *a;
    assert_int_equal(alarm_get_json(f->db, id, &a, err, sizeof err), 0);
    assert_string_equal(cJSON_GetObjectItem(a, "state")->valuestring, "acknowledged");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "ack"), "by")->valuestring,
                        "zhang");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "ack"), "comment")->valuestring,
                        "已通知门岗");
    cJSON_Delete(a);
    assert_int_equal(alarm_clear(f->st, id, "zhang", "", err, sizeof err), CM_ERR_INVALID);
    assert_non_null(strstr(err, "reason"));
    assert_int_equal(alarm_clear(f->st, id, "zhang", "车辆已追回", err, sizeof err), 0);
    assert_int_equal(alarm_clear(f->st, id, "zhang", "again", err, sizeof err), CM_ERR_CONFLICT);
    assert_int_equal(alarm_get_json(f->db, id, &a, err, sizeof err), 0);
    const cJSON *ev = cJSON_GetObjectItem(a, "events");
    assert_int_equal(cJSON_GetArraySize(ev), 3);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ev, 0), "kind")->valuestring, "raised");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ev, 1), "kind")->valuestring,
                        "acknowledged");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ev, 2), "kind")->valuestring, "cleared");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "cleared"), "reason")->valuestring,
                        "车辆已追回");
    cJSON_Delete(a);
    /* Cleared by hand: the same vehicle seen again is a new alarm, not the old one revived. */
    fx_cond(f, ALARM_T_ESCAPE, "exit-1", "event", 0, f->t0 + S);
    fx_tick(f, f->t0 + S);
    assert_true(fx_active(f, ALARM_T_ESCAPE, "exit-1") > id);
}

static void test_manual_clear_refused_where_type_forbids(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_POWER_LOSS, 0, 30); /* power loss: clears only by itself */
    fx_cond(f, ALARM_T_POWER_LOSS, "station-1", "on", 0, f->t0);
    fx_tick(f, f->t0);
    long long id = fx_active(f, ALARM_T_POWER_LOSS, "station-1");
    char err[256];
    assert_int_equal(alarm_clear(f->st, id, "zhang", "looks fine", err, sizeof err), CM_ERR_CONFLICT);
    assert_true(fx_active(f, ALARM_T_POWER_LOSS, "station-1") == id);
}

/* Upload: raising and clearing each put the `alarm` record (uplink.md §3) in the
 * outbox in the same transaction; the record is replaced, not duplicated. */
static void test_upload_record_follows_the_transitions(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_ABNORMAL_POWER, 0, 5);
    fx_cond(f, ALARM_T_ABNORMAL_POWER, "gate-total", "event", 1, f->t0);
    fx_tick(f, f->t0);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM outbox_record WHERE record_type = 'alarm'", NULL),
                     1);
    assert_int_equal(fx_int(f, "SELECT json_extract(body, '$.alarmType') FROM outbox_record", NULL), 2);
    assert_int_equal(fx_int(f, "SELECT json_extract(body, '$.level') FROM outbox_record", NULL), 2);
    assert_int_equal(fx_int(f, "SELECT json_extract(body, '$.clearedAt') IS NULL FROM outbox_record",
                            NULL), 1);
    assert_int_equal(fx_int(f, "SELECT length(json_extract(body, '$.raisedAt')) FROM outbox_record",
                            NULL), 19);
    fx_tick(f, f->t0 + 10 * S);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM outbox_record", NULL), 1);
    assert_int_equal(fx_int(f, "SELECT json_extract(body, '$.clearedAt') IS NOT NULL FROM"
                               " outbox_record", NULL), 1);
}

/* Every record queued for upload passes the receiver's own validation of the
 * cms `alarm` type (uplink schema), long sources and vibration included. */
static void test_upload_records_pass_the_uplink_schema(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_VIBRATION, 0, 5);
    fx_setting(f, ALARM_T_DEVICE_FAULT, 0, 5);
    char longsrc[151]; /* 110 characters, 150 bytes: too long either way it is counted */
    memset(longsrc, 'x', 90);
    for (int i = 0; i < 20; i++)
        memcpy(longsrc + 90 + 3 * i, "皮", 3);
    longsrc[150] = '\0';
    fx_cond(f, ALARM_T_VIBRATION, "belt-motor", "on", 7.5, f->t0);
    fx_cond(f, ALARM_T_DEVICE_FAULT, longsrc, "event", 1, f->t0);
    fx_tick(f, f->t0);
    fx_tick(f, f->t0 + 60 * S); /* the fault clears: clearedAt */
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT body FROM outbox_record WHERE record_type = 'alarm'",
                                        -1, &s, NULL), SQLITE_OK);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        cJSON *rec = cJSON_Parse((const char *)sqlite3_column_text(s, 0));
        char field[64] = "", err[256] = "";
        if (upl_validate("cms", "alarm", rec, field, sizeof field, err, sizeof err))
            fail_msg("record %s: %s: %s", cJSON_GetObjectItem(rec, "id")->valuestring, field, err);
        assert_true(cJSON_GetObjectItem(rec, "alarmType")->valueint <= 10);
        cJSON_Delete(rec);
        n++;
    }
    sqlite3_finalize(s);
    assert_int_equal(n, 2);
}

/* Inhibition: a derived condition on an offline device is held back, saying why. */
typedef struct reg {
    int64_t id;
    const char *state;
    int64_t ts_ms;
} reg_t;

static int reg_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    reg_t *r = arg;
    int rc = store_device_upsert(db, "gate-total", "meter", "chint-dtsu666", "S1", &r->id, err, errlen);
    return rc ? rc : store_device_set_comm(db, r->id, r->state, r->ts_ms, "test", err, errlen);
}

static void test_offline_device_holds_back_derived_alarms(void **state)
{
    fx_t *f = *state;
    int64_t now = tm_now_ms();
    fx_setting(f, ALARM_T_ABNORMAL_POWER, 0, 60);
    fx_setting(f, ALARM_T_COMM, 0, 10);
    char err[256];
    reg_t r = {.state = "offline", .ts_ms = now};
    assert_int_equal(store_write(f->st, reg_job, &r, err, sizeof err), 0);
    cond_job_t j = {.n = 1};
    j.c[0] = (alarm_cond_t){.type = ALARM_T_ABNORMAL_POWER, .source = "transport",
                            .device = "gate-total", .state = "on", .ts_ms = now};
    assert_int_equal(store_write(f->st, fx_cond_job, &j, err, sizeof err), 0);
    fx_tick(f, now);
    assert_int_equal(fx_active(f, ALARM_T_ABNORMAL_POWER, "transport"), 0);
    assert_int_equal(fx_int(f, "SELECT held LIKE '%offline%' FROM alarm_pending WHERE type = 2", NULL),
                     1);
    /* Meanwhile the device's own communication alarm is raised. */
    assert_true(fx_active(f, ALARM_T_COMM, "gate-total") > 0);
    r.state = "online";
    r.ts_ms = now + S;
    assert_int_equal(store_write(f->st, reg_job, &r, err, sizeof err), 0);
    fx_tick(f, now + 2 * S);
    assert_true(fx_active(f, ALARM_T_ABNORMAL_POWER, "transport") > 0);
    assert_true(fx_active(f, ALARM_T_COMM, "gate-total") > 0); /* hysteresis: not yet */
    fx_tick(f, now + 11 * S);
    assert_int_equal(fx_active(f, ALARM_T_COMM, "gate-total"), 0);
}

/* Shelving: silenced for a stated time with a reason, then back by itself. */
static void test_shelved_alarm_returns_by_itself(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_OVER_PRODUCTION, 0, 86400);
    int64_t now = tm_now_ms();
    fx_cond(f, ALARM_T_OVER_PRODUCTION, "month", "on", 1.2, now);
    fx_tick(f, now);
    long long id = fx_active(f, ALARM_T_OVER_PRODUCTION, "month");
    char err[256];
    assert_int_equal(alarm_shelve(f->st, id, 0, "zhang", "known", err, sizeof err), CM_ERR_INVALID);
    assert_int_equal(alarm_shelve(f->st, id, 60, "zhang", "", err, sizeof err), CM_ERR_INVALID);
    assert_int_equal(alarm_shelve(f->st, id, 60, "zhang", "检修期间", err, sizeof err), 0);
    alarm_filter_t fl = {.state = "active"};
    cJSON *list;
    assert_int_equal(alarm_list_json(f->db, &fl, &list, err, sizeof err), 0);
    int total = cJSON_GetObjectItem(list, "total")->valueint;
    cJSON_Delete(list);
    assert_int_equal(total, 0);
    fl.state = "shelved";
    assert_int_equal(alarm_list_json(f->db, &fl, &list, err, sizeof err), 0);
    assert_int_equal(cJSON_GetObjectItem(list, "total")->valueint, 1);
    cJSON_Delete(list);
    fx_tick(f, now + 30 * S);
    assert_int_equal(fx_int(f, "SELECT shelved_until_ms IS NOT NULL FROM alarm", NULL), 1);
    assert_int_equal(fx_tick(f, now + 61 * S), 1);
    assert_int_equal(fx_int(f, "SELECT shelved_until_ms IS NULL FROM alarm", NULL), 1);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM alarm_event WHERE kind = 'unshelved'", NULL), 1);
    assert_int_equal(fx_active(f, ALARM_T_OVER_PRODUCTION, "month"), id);
}

/* Hold-off timers survive a restart of the daemon (pending state is persisted). */
static void test_holdoff_survives_restart(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_VIBRATION, 30, 60);
    fx_cond(f, ALARM_T_VIBRATION, "belt-motor", "on", 9.0, f->t0);
    fx_tick(f, f->t0 + 20 * S);
    assert_int_equal(fx_active(f, ALARM_T_VIBRATION, "belt-motor"), 0);
    fx_close(f);
    fx_open(f, NULL);
    fx_tick(f, f->t0 + 31 * S); /* 31 s after the first sighting, 11 s after the restart */
    assert_true(fx_active(f, ALARM_T_VIBRATION, "belt-motor") > 0);
}

/* Filters name the field they reject. */
static const char *kv_get(void *arg, const char *key)
{
    const char **kv = arg;
    for (int i = 0; kv[i]; i += 2)
        if (!strcmp(kv[i], key))
            return kv[i + 1];
    return NULL;
}

static void test_filters_and_history(void **state)
{
    fx_t *f = *state;
    alarm_filter_t fl;
    char field[32], err[256];
    const char *bad1[] = {"level", "urgent", NULL};
    assert_int_equal(alarm_filter_parse(&fl, kv_get, bad1, field, sizeof field, err, sizeof err),
                     CM_ERR_INVALID);
    assert_string_equal(field, "level");
    const char *bad2[] = {"from", "yesterday", NULL};
    assert_int_equal(alarm_filter_parse(&fl, kv_get, bad2, field, sizeof field, err, sizeof err),
                     CM_ERR_INVALID);
    assert_string_equal(field, "from");
    fx_setting(f, ALARM_T_ABNORMAL_POWER, 0, 5);
    fx_setting(f, ALARM_T_ESCAPE, 0, 5);
    fx_cond(f, ALARM_T_ABNORMAL_POWER, "gate-total", "event", 1, f->t0);
    fx_cond(f, ALARM_T_ESCAPE, "exit-1", "event", 1, f->t0);
    fx_tick(f, f->t0);
    fx_tick(f, f->t0 + 10 * S);
    const char *q[] = {"state", "cleared", "type", "escaping_vehicle", "level", "serious", NULL};
    assert_int_equal(alarm_filter_parse(&fl, kv_get, q, field, sizeof field, err, sizeof err), 0);
    cJSON *list;
    assert_int_equal(alarm_list_json(f->db, &fl, &list, err, sizeof err), 0);
    assert_int_equal(cJSON_GetObjectItem(list, "total")->valueint, 1);
    cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "alarms"), 0);
    assert_string_equal(cJSON_GetObjectItem(a, "source")->valuestring, "exit-1");
    cJSON_Delete(list);
    const char *q2[] = {"state", "all", "source", "gate-total", NULL};
    assert_int_equal(alarm_filter_parse(&fl, kv_get, q2, field, sizeof field, err, sizeof err), 0);
    assert_int_equal(alarm_list_json(f->db, &fl, &list, err, sizeof err), 0);
    assert_int_equal(cJSON_GetObjectItem(list, "total")->valueint, 1);
    cJSON_Delete(list);
}

static void test_condition_json_names_the_bad_field(void **state)
{
    alarm_cond_t c;
    char field[32], err[256];
    const char *cases[][2] = {
        {"{\"source\":\"x\"}", "type"},
        {"{\"type\":12,\"source\":\"x\"}", "type"},
        {"{\"type\":\"abnormal_power\"}", "source"},
        {"{\"type\":2,\"source\":\"x\",\"state\":\"maybe\"}", "state"},
        {"{\"type\":2,\"source\":\"x\",\"level\":4}", "level"},
        {"{\"type\":2,\"source\":\"x\",\"value\":\"high\"}", "value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = cJSON_Parse(cases[i][0]);
        assert_int_equal(alarm_cond_from_json(j, &c, field, sizeof field, err, sizeof err),
                         CM_ERR_INVALID);
        assert_string_equal(field, cases[i][1]);
        cJSON_Delete(j);
    }
    cJSON *ok = cJSON_Parse("{\"type\":\"power_quality\",\"source\":\"gate-total\",\"level\":\"serious\","
                            "\"value\":8.5,\"state\":\"event\"}");
    assert_int_equal(alarm_cond_from_json(ok, &c, field, sizeof field, err, sizeof err), 0);
    assert_int_equal(c.type, ALARM_T_POWER_QUALITY);
    assert_int_equal(c.level, ALARM_SERIOUS);
    cJSON_Delete(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_repeats_update_one_alarm_not_a_flood, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_two_conditions_in_one_batch_make_one_alarm, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_holdoff_raises_only_after_the_delay, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flicker_shorter_than_holdoff_never_raises, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_hysteresis_clears_after_quiet_time_only, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_returning_condition_opens_a_new_alarm, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_ack_then_manual_clear, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_manual_clear_refused_where_type_forbids, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_upload_record_follows_the_transitions, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_upload_records_pass_the_uplink_schema, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_offline_device_holds_back_derived_alarms, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_shelved_alarm_returns_by_itself, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_holdoff_survives_restart, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_filters_and_history, fx_setup, fx_teardown),
        cmocka_unit_test(test_condition_json_names_the_bad_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
