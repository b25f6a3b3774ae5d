/* ALM-5 (issue #7): every way a parameter can change goes through the audited
 * path and raises "parameter modified": a coefficient (store_coef_set), an
 * alarm threshold, a value a station reports, a capacity-like parameter
 * through alarm_param_change, and the configuration edited between starts
 * (device settings, meter maps, whole sections). Accounts do not. */
#include <sys/stat.h>

#include "alarms_fixture.h"

static int setup_param(void **state)
{
    fx_param_alarms = true;
    return fx_setup(state);
}

typedef struct audit_job {
    const char *action, *target, *old_v, *new_v, *channel;
} audit_job_t;

static int coef_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    double *v = arg;
    return store_coef_set(db, "raw_to_gross", *v, tm_now_s(), "wang", "cli", "标定后调整", err, errlen);
}

static int audit_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    audit_job_t *a = arg;
    return store_audit(db, "station", a->channel, a->action, a->target, a->old_v, a->new_v, NULL, err,
                       errlen);
}

static int param_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    audit_job_t *a = arg;
    return alarm_param_change(db, "wang", a->channel, a->action, a->target, a->old_v, a->new_v,
                              "annual approval", NULL, err, errlen);
}

static const char *detail_of(fx_t *f, const char *source, char *buf, size_t len)
{
    sqlite3_stmt *s;
    sqlite3_prepare_v2(f->db, "SELECT detail FROM alarm WHERE type = 5 AND source = ?", -1, &s, NULL);
    sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
    snprintf(buf, len, "%s", sqlite3_step(s) == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0)
                                                           : "");
    sqlite3_finalize(s);
    return buf;
}

static void test_coefficient_change_raises_parameter_modified(void **state)
{
    fx_t *f = *state;
    char err[256], d[600];
    double v = 0.97;
    assert_int_equal(store_write(f->st, coef_job, &v, err, sizeof err), 0);
    v = 1.02;
    assert_int_equal(store_write(f->st, coef_job, &v, err, sizeof err), 0);
    fx_tick(f, tm_now_ms());
    assert_true(fx_active(f, ALARM_T_PARAMETER, "raw_to_gross") > 0);
    assert_int_equal(fx_int(f, "SELECT count FROM alarm WHERE source = 'raw_to_gross'", NULL), 2);
    detail_of(f, "raw_to_gross", d, sizeof d);
    assert_non_null(strstr(d, "折算系数设置（coef.set）raw_to_gross"));
    assert_non_null(strstr(d, "0.97 → 1.02"));
    assert_non_null(strstr(d, "操作人 wang"));
    assert_int_equal(fx_int(f, "SELECT count(*) FROM outbox_record WHERE record_type = 'alarm'"
                               " AND json_extract(body, '$.alarmType') = 5", NULL), 1);
}

static void test_threshold_change_is_audited_and_alarmed(void **state)
{
    fx_t *f = *state;
    fx_setting(f, ALARM_T_COMM, 7, 20); /* through alarm_setting_put, channel "cli" */
    fx_tick(f, tm_now_ms());
    assert_int_equal(fx_int(f, "SELECT count(*) FROM audit_log WHERE action = 'alarm.setting'"
                               " AND channel = 'cli' AND old_value LIKE '%\"holdoff_s\":5%'"
                               " AND new_value LIKE '%\"holdoff_s\":7%'", NULL), 1);
    assert_true(fx_active(f, ALARM_T_PARAMETER, "alarm.comm_interrupted") > 0);
    /* Setting the same values again changes nothing and audits nothing. */
    fx_setting(f, ALARM_T_COMM, 7, 20);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM audit_log WHERE action = 'alarm.setting'", NULL),
                     1);
}

static void test_station_reported_change_is_serious(void **state)
{
    fx_t *f = *state;
    char err[256];
    audit_job_t a = {"station.param", "station-main-belt:span", "1.000", "1.080", "station"};
    assert_int_equal(store_write(f->st, audit_job, &a, err, sizeof err), 0);
    fx_tick(f, tm_now_ms());
    assert_int_equal(fx_int(f, "SELECT level FROM alarm WHERE type = 5 AND"
                               " source = 'station-main-belt:span'", NULL), ALARM_SERIOUS);
}

static void test_param_change_helper_audits_only_real_changes(void **state)
{
    fx_t *f = *state;
    char err[256];
    audit_job_t same = {"capacity.set", "capacity", "1200000", "1200000", "api"};
    assert_int_equal(store_write(f->st, param_job, &same, err, sizeof err), 0);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM audit_log", NULL), 0);
    audit_job_t changed = {"capacity.set", "capacity", "1200000", "1500000", "api"};
    assert_int_equal(store_write(f->st, param_job, &changed, err, sizeof err), 0);
    fx_tick(f, tm_now_ms());
    assert_true(fx_active(f, ALARM_T_PARAMETER, "capacity") > 0);
}

static void test_accounts_are_not_parameters(void **state)
{
    fx_t *f = *state;
    char err[256];
    audit_job_t a = {"user.add", "zhang", NULL, "dispatcher", "cli"};
    assert_int_equal(store_write(f->st, audit_job, &a, err, sizeof err), 0);
    fx_tick(f, tm_now_ms());
    assert_int_equal(fx_int(f, "SELECT count(*) FROM alarm", NULL), 0);
}

/* ---- configuration edited between starts ------------------------------------ */

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static cfg_t *config(fx_t *f, int port, bool with_transport, const char *capacity)
{
    char text[2048], err[256];
    snprintf(text, sizeof text,
             "{\"collector\": {\"meter_maps\": \"%s/maps\", \"devices\": ["
             "{\"name\": \"gate-total\", \"model\": \"m1\", \"host\": \"10.0.0.2\", \"port\": %d}%s]},"
             " \"analytics\": {\"capacity_tpa\": %s}}",
             f->dir, port,
             with_transport ? ", {\"name\": \"gate-transport\", \"model\": \"m1\", \"port\": 502}" : "",
             capacity);
    cfg_t *c = cfg_parse("test.json", text, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    return c;
}

static int snapshot(fx_t *f, cfg_t *c)
{
    char err[256];
    int changes = -1;
    if (alarm_config_snapshot(f->st, c, &changes, err, sizeof err))
        fail_msg("%s", err);
    cfg_free(c);
    return changes;
}

static void test_configuration_edits_between_starts_are_audited(void **state)
{
    fx_t *f = *state;
    char maps[128], map[160];
    snprintf(maps, sizeof maps, "%s/maps", f->dir);
    mkdir(maps, 0700);
    snprintf(map, sizeof map, "%s/m1.json", maps);
    write_file(map, "{\"model\": \"m1\", \"points\": []}");
    /* First start: the snapshot is only recorded. */
    assert_int_equal(snapshot(f, config(f, 502, true, "1200000")), 0);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM audit_log", NULL), 0);
    /* Same configuration: nothing. */
    assert_int_equal(snapshot(f, config(f, 502, true, "1200000")), 0);
    /* A device's port, the map's content, the capacity, and a device removed. */
    write_file(map, "{\"model\": \"m1\", \"points\": [{\"name\": \"ua\"}]}");
    assert_int_equal(snapshot(f, config(f, 503, false, "1500000")), 4);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM audit_log WHERE channel = 'config'"
                               " AND action = 'device.config' AND target = 'device:gate-total'"
                               " AND old_value LIKE '%502%' AND new_value LIKE '%503%'", NULL), 1);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM audit_log WHERE action = 'meter_map.config'"
                               " AND target = 'meter_map:m1'", NULL), 1);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM audit_log WHERE action = 'config.section'"
                               " AND target = 'config:analytics' AND new_value LIKE '%1500000%'",
                            NULL), 1);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM audit_log WHERE action = 'config.removed'"
                               " AND target = 'device:gate-transport'", NULL), 1);
    fx_tick(f, tm_now_ms());
    assert_true(fx_active(f, ALARM_T_PARAMETER, "device:gate-total") > 0);
    assert_true(fx_active(f, ALARM_T_PARAMETER, "meter_map:m1") > 0);
    assert_true(fx_active(f, ALARM_T_PARAMETER, "config:analytics") > 0);
}

/* Settings named in the configuration are applied at start through the same path. */
static void test_configured_settings_are_applied_audited(void **state)
{
    fx_t *f = *state;
    char err[256];
    cfg_t *c = cfg_parse("t.json",
                         "{\"alarms\": {\"types\": {\"escaping_vehicle\": {\"holdoff_s\": 3,"
                         " \"level\": \"warning\"}}}}",
                         err, sizeof err);
    assert_non_null(c);
    alarm_engine_free(f->e);
    f->e = alarm_engine_new(f->st, c, err, sizeof err);
    assert_non_null(f->e);
    alarm_setting_t s;
    assert_int_equal(alarm_setting_get(f->db, ALARM_T_ESCAPE, &s, err, sizeof err), 0);
    assert_int_equal(s.holdoff_s, 3);
    assert_int_equal(s.level, ALARM_WARNING);
    assert_int_equal(fx_int(f, "SELECT count(*) FROM audit_log WHERE channel = 'config'", NULL), 1);
    cfg_free(c);
    /* A bad key names the file, the line and the key. */
    c = cfg_parse("t.json", "{\"alarms\": {\"types\": {\"escaping_vehicle\": {\"holdof_s\": 3}}}}",
                  err, sizeof err);
    assert_null(alarm_engine_new(f->st, c, err, sizeof err));
    assert_non_null(strstr(err, "holdof_s"));
    cfg_free(c);
    c = cfg_parse("t.json", "{\"alarms\": {\"types\": {\"fire\": {}}}}", err, sizeof err);
    assert_null(alarm_engine_new(f->st, c, err, sizeof err));
    assert_non_null(strstr(err, "fire"));
    cfg_free(c);
}

/* The commented example configuration stays a valid one for this module. */
static void test_example_configuration_is_accepted(void **state)
{
    fx_t *f = *state;
    char err[512];
    cfg_t *c = cfg_load(COALMON_CONF_DIR "/coalmond.json", err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    alarm_engine_free(f->e);
    f->e = alarm_engine_new(f->st, c, err, sizeof err);
    if (!f->e)
        fail_msg("%s", err);
    cfg_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_coefficient_change_raises_parameter_modified, setup_param,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_threshold_change_is_audited_and_alarmed, setup_param,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_station_reported_change_is_serious, setup_param,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_param_change_helper_audits_only_real_changes,
                                        setup_param, fx_teardown),
        cmocka_unit_test_setup_teardown(test_accounts_are_not_parameters, setup_param, fx_teardown),
        cmocka_unit_test_setup_teardown(test_configuration_edits_between_starts_are_audited,
                                        setup_param, fx_teardown),
        cmocka_unit_test_setup_teardown(test_configured_settings_are_applied_audited, setup_param,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_example_configuration_is_accepted, setup_param,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
