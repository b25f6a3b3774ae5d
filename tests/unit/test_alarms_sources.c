/* Producers' tables read by the alarm engine (issue #7): the collector's
 * device_event kinds (docs/collector.md) and analytics' ana_condition
 * episodes (docs/analytics.md), with rows inserted in their documented shape. */
#include "alarms_fixture.h"

static int exec_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return store_exec(db, arg, err, errlen);
}

static void sql(fx_t *f, const char *text)
{
    char err[256];
    if (store_write(f->st, exec_job, (void *)text, err, sizeof err))
        fail_msg("%s: %s", text, err);
}

static void event(fx_t *f, int64_t ts, const char *kind, const char *state, const char *detail)
{
    char text[600];
    snprintf(text, sizeof text,
             "INSERT INTO device_event(device_id, ts_ms, kind, state, detail) VALUES"
             " ((SELECT id FROM device WHERE name = 'station-main-belt'), %lld, '%s', '%s', '%s')",
             (long long)ts, kind, state, detail);
    sql(f, text); /* test fixture text, no outside input */
}

static void test_station_faults_power_and_sensors_make_their_alarms(void **state)
{
    fx_t *f = *state;
    int64_t now = tm_now_ms();
    /* Hold-off 0 here; the one-off events under a hold-off: below. */
    fx_setting(f, ALARM_T_DEVICE_FAULT, 0, 5);
    fx_setting(f, ALARM_T_POWER_LOSS, 0, 5);
    fx_setting(f, ALARM_T_VIBRATION, 0, 5);
    sql(f, "INSERT INTO device(name, kind) VALUES ('station-main-belt', 'station')");
    event(f, now, "fault", "raised", "weigh_sensor: 称重传感器故障");
    event(f, now, "fault", "raised", "belt_slip: 皮带打滑");
    event(f, now, "power", "battery", "市电中断，电池供电");
    event(f, now, "plausibility", "raised", "out_of_range vib1: 300.000 outside 0.0..253.8");
    event(f, now, "counter_reset", "total", "total went from 5 to 0");
    event(f, now, "backfill", "done", "records 1..10");
    event(f, now, "comm", "offline", "x"); /* comm comes from device_comm, not events */
    fx_tick(f, now);
    assert_true(fx_active(f, ALARM_T_DEVICE_FAULT, "station-main-belt:weigh_sensor") > 0);
    assert_true(fx_active(f, ALARM_T_DEVICE_FAULT, "station-main-belt:belt_slip") > 0);
    assert_true(fx_active(f, ALARM_T_POWER_LOSS, "station-main-belt") > 0);
    assert_true(fx_active(f, ALARM_T_VIBRATION, "station-main-belt:out_of_range vib1") > 0);
    assert_true(fx_active(f, ALARM_T_DEVICE_FAULT, "station-main-belt:counter_reset total") > 0);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM alarm", NULL), 5);
    /* One fault clears; the other stays; power comes back. States stay alarmed while on. */
    event(f, now + 1000, "fault", "cleared", "weigh_sensor: 称重传感器故障");
    event(f, now + 1000, "power", "mains", "市电供电");
    fx_tick(f, now + 60000);
    assert_int_equal(fx_active(f, ALARM_T_DEVICE_FAULT, "station-main-belt:weigh_sensor"), 0);
    assert_int_equal(fx_active(f, ALARM_T_POWER_LOSS, "station-main-belt"), 0);
    assert_true(fx_active(f, ALARM_T_DEVICE_FAULT, "station-main-belt:belt_slip") > 0);
    /* The one-off counter reset cleared after its quiet time. */
    assert_int_equal(fx_active(f, ALARM_T_DEVICE_FAULT, "station-main-belt:counter_reset total"), 0);
}

static bool has_table(fx_t *f, const char *name)
{
    return fx_int(f, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", name) == 1;
}

/* Issue #15: a counter reset or jump happens once; under the default 5 s
 * hold-off it used to lapse unconfirmed and never alarm. A state fault that
 * lasts less than the hold-off still does not. */
static void test_oneoff_counter_event_raised_despite_holdoff(void **state)
{
    fx_t *f = *state;
    int64_t now = tm_now_ms();
    fx_setting(f, ALARM_T_DEVICE_FAULT, 5, 30);
    sql(f, "INSERT INTO device(name, kind) VALUES ('station-main-belt', 'station')");
    event(f, now, "counter_reset", "total", "total went from 5 to 0");
    event(f, now, "counter_jump", "ep_imp", "ep_imp jumped by 5000.000 kWh in 1.0 s");
    event(f, now, "fault", "raised", "weigh_sensor: 称重传感器故障");
    event(f, now + 1000, "fault", "cleared", "weigh_sensor: 称重传感器故障");
    fx_tick(f, now + 1000);
    assert_true(fx_active(f, ALARM_T_DEVICE_FAULT, "station-main-belt:counter_reset total") > 0);
    assert_true(fx_active(f, ALARM_T_DEVICE_FAULT, "station-main-belt:counter_jump ep_imp") > 0);
    fx_tick(f, now + 8000);
    assert_int_equal(fx_active(f, ALARM_T_DEVICE_FAULT, "station-main-belt:weigh_sensor"), 0);
}

static void test_analytics_episodes_raise_and_clear(void **state)
{
    fx_t *f = *state;
    if (!has_table(f, "ana_condition"))
        skip(); /* analytics' migration 0040 not in this tree */
    int64_t now = tm_now_ms();
    fx_setting(f, ALARM_T_OUTPUT_VS_POWER, 30, 5);
    fx_setting(f, ALARM_T_OVER_PRODUCTION, 0, 5);
    char text[600];
    snprintf(text, sizeof text,
             "INSERT INTO ana_condition(type, source, level, start, value, threshold, detail,"
             " created_ms, updated_ms) VALUES ('output_power', 'transport', 3, %lld, -4.2, 3,"
             " '{\"z\":-4.2}', %lld, %lld), ('over_production', 'month', 2, %lld, 1.12, 1.1, '{}',"
             " %lld, %lld), ('something_new', 'x', 1, %lld, 1, 1, '{}', %lld, %lld)",
             (long long)(now / 1000 - 40), (long long)now, (long long)now,
             (long long)(now / 1000), (long long)now, (long long)now, (long long)(now / 1000),
             (long long)now, (long long)now);
    sql(f, text);
    fx_tick(f, now);
    /* Ongoing for 40 s > hold-off 30 s: raised at once; unknown kinds are ignored. */
    long long id = fx_active(f, ALARM_T_OUTPUT_VS_POWER, "transport");
    assert_true(id > 0);
    assert_int_equal(fx_int(f, "SELECT level FROM alarm WHERE type = 3", NULL), 3);
    assert_true(fx_active(f, ALARM_T_OVER_PRODUCTION, "month") > 0);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM alarm", NULL), 2);
    fx_tick(f, now + 60000); /* still ongoing: stays */
    assert_int_equal(fx_active(f, ALARM_T_OUTPUT_VS_POWER, "transport"), id);
    snprintf(text, sizeof text, "UPDATE ana_condition SET end = %lld, updated_ms = %lld WHERE"
                                " type = 'output_power'",
             (long long)(now / 1000 + 61), (long long)now + 61000);
    sql(f, text);
    fx_tick(f, now + 62000);
    assert_int_equal(fx_active(f, ALARM_T_OUTPUT_VS_POWER, "transport"), id); /* hysteresis */
    fx_tick(f, now + 67000);
    assert_int_equal(fx_active(f, ALARM_T_OUTPUT_VS_POWER, "transport"), 0);
}

/* ALM-9: an escaping vehicle raises at the next evaluation; a late matching
 * ticket resolves it and the alarm clears; a second truck is its own alarm. */
static void test_escaping_vehicle_raised_and_resolved(void **state)
{
    fx_t *f = *state;
    if (!has_table(f, "escape_event"))
        skip(); /* intake's migration 0020 not in this tree */
    int64_t now = tm_now_ms();
    char text[900];
    sql(f, "INSERT INTO exit_point(code, name) VALUES ('E1', '东门')");
    for (int i = 0; i < 2; i++) {
        snprintf(text, sizeof text,
                 "INSERT INTO exit_capture(capture_id, point_code, direction, plate, capture_time,"
                 " load, state, source, received_at) VALUES ('C%d', 'E1', 'out', '%s', %lld, 'loaded',"
                 " 'escape', 'test', %lld);"
                 "INSERT INTO escape_event(capture_id, plate, point_code, capture_time, detail,"
                 " created_at) VALUES ('C%d', '%s', 'E1', %lld, '重车无磅单出矿', %lld)",
                 i, i ? "晋B22222" : "晋A11111", (long long)(now / 1000), (long long)(now / 1000), i,
                 i ? "晋B22222" : "晋A11111", (long long)(now / 1000), (long long)(now / 1000));
        sql(f, text);
    }
    fx_tick(f, now);
    long long a = fx_active(f, ALARM_T_ESCAPE, "晋A11111@E1");
    assert_true(a > 0);
    assert_true(fx_active(f, ALARM_T_ESCAPE, "晋B22222@E1") > 0);
    assert_int_equal(fx_int(f, "SELECT level FROM alarm WHERE source = '晋A11111@E1'", NULL),
                     ALARM_SERIOUS);
    fx_tick(f, now + 3600 * 1000); /* an hour later, nobody handled it: still there */
    assert_int_equal(fx_active(f, ALARM_T_ESCAPE, "晋A11111@E1"), a);
    snprintf(text, sizeof text, "UPDATE escape_event SET resolved_at = %lld, resolved_ticket_id = 'T9'"
                                " WHERE capture_id = 'C0'", (long long)(now / 1000 + 3601));
    sql(f, text);
    fx_tick(f, now + 3602 * 1000);
    assert_int_equal(fx_active(f, ALARM_T_ESCAPE, "晋A11111@E1"), 0);
    assert_true(fx_active(f, ALARM_T_ESCAPE, "晋B22222@E1") > 0);
    fx_tick(f, now + 3603 * 1000); /* the resolution is not applied twice */
    assert_int_equal(fx_int(f, "SELECT count(*) FROM alarm WHERE type = 9", NULL), 2);
}

/* On a platform: an enterprise's alarm record shows as an alarm of that
 * origin, is not uploaded again, and clears when its revision has clearedAt. */
static void test_enterprise_alarms_shown_on_the_platform(void **state)
{
    fx_t *f = *state;
    if (!has_table(f, "uplink_received"))
        skip(); /* uplink's migration 0030 not in this tree */
    int64_t now = tm_now_ms();
    char text[900];
    snprintf(text, sizeof text,
             "INSERT INTO uplink_received(ent, via, prefix, record_type, record_id, body, received_ms)"
             " VALUES ('140000000001', '140000000001', 'cms', 'alarm', '7', '{\"id\":\"7\",\"alarmType\":8,"
             "\"level\":2,\"source\":\"gate-total\",\"raisedAt\":\"2026-11-23 20:00:00\","
             "\"detail\":\"通信中断\"}', %lld)", (long long)now);
    sql(f, text);
    /* A mine (the demo carries a receiver) leaves them alone... */
    fx_tick(f, now);
    assert_int_equal(fx_active(f, ALARM_T_COMM, "140000000001:gate-total"), 0);
    /* ...a platform shows them. */
    char perr[256];
    cfg_t *platform = cfg_parse("platform.json", "{\"role\": \"platform\"}", perr, sizeof perr);
    assert_non_null(platform);
    fx_close(f);
    fx_open(f, platform);
    cfg_free(platform);
    fx_tick(f, now);
    fx_tick(f, now + 100000); /* read again at the same millisecond: still one, count 1 */
    long long id = fx_active(f, ALARM_T_COMM, "140000000001:gate-total");
    assert_true(id > 0);
    assert_int_equal(fx_int(f, "SELECT count FROM alarm", NULL), 1);
    assert_int_equal(fx_int(f, "SELECT origin = '140000000001' FROM alarm", NULL), 1);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM outbox_record WHERE record_type = 'alarm'", NULL), 0);
    alarm_filter_t fl = {.state = "active", .origin = "local"};
    cJSON *list;
    char err[256];
    assert_int_equal(alarm_list_json(f->db, &fl, &list, err, sizeof err), 0);
    assert_int_equal(cJSON_GetObjectItem(list, "total")->valueint, 0);
    cJSON_Delete(list);
    fl.origin = "140000000001";
    assert_int_equal(alarm_list_json(f->db, &fl, &list, err, sizeof err), 0);
    assert_int_equal(cJSON_GetObjectItem(list, "total")->valueint, 1);
    cJSON_Delete(list);
    snprintf(text, sizeof text,
             "UPDATE uplink_received SET revisions = 1, received_ms = %lld, body = json_set(body,"
             " '$.clearedAt', '2026-11-23 20:30:00')", (long long)now + 200000);
    sql(f, text);
    fx_tick(f, now + 200001);
    assert_int_equal(fx_active(f, ALARM_T_COMM, "140000000001:gate-total"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_station_faults_power_and_sensors_make_their_alarms,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_oneoff_counter_event_raised_despite_holdoff, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_analytics_episodes_raise_and_clear, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_escaping_vehicle_raised_and_resolved, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_enterprise_alarms_shown_on_the_platform, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
