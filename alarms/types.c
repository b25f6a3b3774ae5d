/* Alarm types, levels, and the per-type settings with their audited path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms/alarms.h"
#include "alarms/internal.h"

typedef struct type_info {
    const char *name, *label;
    alarm_setting_t def;
    bool derived; /* made from a device's data: held back while that device is offline */
} type_info_t;

/* Defaults: state-like conditions (offline, power loss) clear quickly once gone;
 * model-based ones wait longer so one good minute does not end an episode;
 * events someone must handle (a parameter changed, a truck escaped) stay a
 * day unless cleared by hand or resolved at the source. */
static const type_info_t types[ALARM_T_MAX + 1] = {
    [1] = {"over_production", "超产", {1, 3, 60, 600, false, 0, false, true}, true},
    [2] = {"abnormal_power", "用电异常", {2, 2, 60, 600, false, 0, false, true}, true},
    [3] = {"output_vs_power", "产量与用电不符", {3, 3, 60, 600, false, 0, false, true}, true},
    [4] = {"output_vs_sales", "产量与销售库存不符", {4, 3, 0, 3600, false, 0, true, true}, true},
    [5] = {"parameter_modified", "参数修改", {5, 2, 0, 86400, false, 0, true, true}, false},
    [6] = {"device_fault", "设备故障", {6, 2, 5, 30, false, 0, true, true}, false},
    [7] = {"power_loss", "设备断电", {7, 3, 5, 30, false, 0, false, true}, false},
    [8] = {"comm_interrupted", "通信中断", {8, 2, 5, 10, false, 0, false, true}, false},
    [9] = {"escaping_vehicle", "车辆逃逸", {9, 3, 0, 86400, false, 0, true, true}, false},
    [10] = {"power_quality", "电能质量", {10, 1, 60, 600, false, 0, false, true}, true},
    [11] = {"motor_vibration", "电机振动", {11, 2, 10, 60, false, 0, false, true}, true},
};

static const char *const levels[] = {NULL, "notice", "warning", "serious"};

const char *alarm_type_name(int t) { return t >= 1 && t <= ALARM_T_MAX ? types[t].name : NULL; }
const char *alarm_type_label(int t) { return t >= 1 && t <= ALARM_T_MAX ? types[t].label : NULL; }
bool alarm_type_derived(int t) { return t >= 1 && t <= ALARM_T_MAX && types[t].derived; }
int alarm_type_uplink(int t) { return t == ALARM_T_VIBRATION ? ALARM_T_DEVICE_FAULT : t; }
const char *alarm_level_name(int l) { return l >= 1 && l <= 3 ? levels[l] : NULL; }

static int parse_number(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return CM_ERR_INVALID;
    *out = (int)v;
    return CM_OK;
}

int alarm_type_parse(const char *s, int *type)
{
    if (!s)
        return CM_ERR_INVALID;
    for (int t = 1; t <= ALARM_T_MAX; t++)
        if (strcmp(s, types[t].name) == 0) {
            *type = t;
            return CM_OK;
        }
    return parse_number(s, 1, ALARM_T_MAX, type);
}

int alarm_level_parse(const char *s, int *level)
{
    if (!s)
        return CM_ERR_INVALID;
    for (int l = 1; l <= 3; l++)
        if (strcmp(s, levels[l]) == 0) {
            *level = l;
            return CM_OK;
        }
    return parse_number(s, 1, 3, level);
}

void alarm_setting_default(int type, alarm_setting_t *out)
{
    if (type >= 1 && type <= ALARM_T_MAX)
        *out = types[type].def;
    else
        *out = (alarm_setting_t){.type = type, .level = 2, .clear_after_s = 60, .enabled = true};
}

int alarm_setting_get(sqlite3 *db, int type, alarm_setting_t *out, char *err, size_t errlen)
{
    alarm_setting_default(type, out);
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT level, holdoff_s, clear_after_s, threshold, manual_clear, enabled"
                           " FROM alarm_setting WHERE type = ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int(s, 1, type);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        out->level = sqlite3_column_int(s, 0);
        out->holdoff_s = sqlite3_column_int(s, 1);
        out->clear_after_s = sqlite3_column_int(s, 2);
        out->has_threshold = sqlite3_column_type(s, 3) != SQLITE_NULL;
        out->threshold = out->has_threshold ? sqlite3_column_double(s, 3) : 0;
        out->manual_clear = sqlite3_column_int(s, 4) != 0;
        out->enabled = sqlite3_column_int(s, 5) != 0;
    } else if (step != SQLITE_DONE) {
        rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(s);
    return rc;
}

cJSON *alarm_setting_json(const alarm_setting_t *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "type", s->type);
    cJSON_AddStringToObject(j, "name", alarm_type_name(s->type) ? alarm_type_name(s->type) : "?");
    cJSON_AddStringToObject(j, "label", alarm_type_label(s->type) ? alarm_type_label(s->type) : "?");
    cJSON_AddStringToObject(j, "level", alarm_level_name(s->level) ? alarm_level_name(s->level) : "?");
    cJSON_AddNumberToObject(j, "holdoff_s", s->holdoff_s);
    cJSON_AddNumberToObject(j, "clear_after_s", s->clear_after_s);
    if (s->has_threshold)
        cJSON_AddNumberToObject(j, "threshold", s->threshold);
    else
        cJSON_AddNullToObject(j, "threshold");
    cJSON_AddBoolToObject(j, "manual_clear", s->manual_clear);
    cJSON_AddBoolToObject(j, "enabled", s->enabled);
    return j;
}

static int bad(char *field, size_t fieldlen, const char *key, char *err, size_t errlen,
               const char *what)
{
    snprintf(field, fieldlen, "%s", key);
    return cm_fail(err, errlen, CM_ERR_INVALID, "%s: %s", key, what);
}

static int apply_int(const cJSON *v, const char *key, int lo, int hi, int *out, char *field,
                     size_t fieldlen, char *err, size_t errlen)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        char what[64];
        snprintf(what, sizeof what, "expected a whole number in %d..%d", lo, hi);
        return bad(field, fieldlen, key, err, errlen, what);
    }
    *out = (int)v->valuedouble;
    return CM_OK;
}

static int apply_one(alarm_setting_t *s, const cJSON *v, char *field, size_t fieldlen, char *err,
                     size_t errlen)
{
    const char *k = v->string;
    if (strcmp(k, "level") == 0) {
        if (cJSON_IsString(v) ? alarm_level_parse(v->valuestring, &s->level)
                              : apply_int(v, k, 1, 3, &s->level, field, fieldlen, err, errlen))
            return bad(field, fieldlen, k, err, errlen, "expected notice, warning or serious");
    } else if (strcmp(k, "holdoff_s") == 0) {
        return apply_int(v, k, 0, 86400, &s->holdoff_s, field, fieldlen, err, errlen);
    } else if (strcmp(k, "clear_after_s") == 0) {
        return apply_int(v, k, 1, 7 * 86400, &s->clear_after_s, field, fieldlen, err, errlen);
    } else if (strcmp(k, "threshold") == 0) {
        if (cJSON_IsNull(v)) {
            s->has_threshold = false;
            s->threshold = 0;
        } else if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
            s->has_threshold = true;
            s->threshold = v->valuedouble;
        } else {
            return bad(field, fieldlen, k, err, errlen, "expected a number or null");
        }
    } else if (strcmp(k, "manual_clear") == 0 || strcmp(k, "enabled") == 0) {
        if (!cJSON_IsBool(v))
            return bad(field, fieldlen, k, err, errlen, "expected true or false");
        *(k[0] == 'm' ? &s->manual_clear : &s->enabled) = cJSON_IsTrue(v);
    } else if (strcmp(k, "type") != 0 && strcmp(k, "name") != 0 && strcmp(k, "label") != 0) {
        return bad(field, fieldlen, k, err, errlen, "unknown setting");
    }
    return CM_OK;
}

int alarm_setting_apply_json(alarm_setting_t *s, const cJSON *changes, char *field,
                             size_t fieldlen, char *err, size_t errlen)
{
    if (!cJSON_IsObject(changes))
        return bad(field, fieldlen, "body", err, errlen, "expected an object of settings");
    alarm_setting_t work = *s; /* all or nothing */
    const cJSON *v;
    cJSON_ArrayForEach(v, changes)
    {
        int rc = apply_one(&work, v, field, fieldlen, err, errlen);
        if (rc)
            return rc;
    }
    *s = work;
    return CM_OK;
}

static bool setting_equal(const alarm_setting_t *a, const alarm_setting_t *b)
{
    return a->level == b->level && a->holdoff_s == b->holdoff_s &&
           a->clear_after_s == b->clear_after_s && a->has_threshold == b->has_threshold &&
           (!a->has_threshold || a->threshold == b->threshold) &&
           a->manual_clear == b->manual_clear && a->enabled == b->enabled;
}

static char *setting_text(const alarm_setting_t *s)
{
    cJSON *j = alarm_setting_json(s);
    cJSON_DeleteItemFromObject(j, "label");
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

int alarm_setting_put(sqlite3 *db, const alarm_setting_t *s, const char *actor, const char *channel,
                      const char *reason, bool *changed, char *err, size_t errlen)
{
    if (changed)
        *changed = false;
    if (!alarm_type_name(s->type))
        return cm_fail(err, errlen, CM_ERR_INVALID, "type: unknown alarm type %d", s->type);
    if (s->level < 1 || s->level > 3 || s->holdoff_s < 0 || s->holdoff_s > 86400 ||
        s->clear_after_s < 1 || s->clear_after_s > 7 * 86400 ||
        (s->has_threshold && !isfinite(s->threshold)))
        return cm_fail(err, errlen, CM_ERR_INVALID, "setting: value out of range");
    alarm_setting_t cur;
    int rc = alarm_setting_get(db, s->type, &cur, err, errlen);
    if (rc || setting_equal(&cur, s))
        return rc;
    sqlite3_stmt *st;
    rc = store_prepare(db,
                       "INSERT INTO alarm_setting(type, level, holdoff_s, clear_after_s, threshold,"
                       " manual_clear, enabled) VALUES (?, ?, ?, ?, ?, ?, ?)"
                       " ON CONFLICT(type) DO UPDATE SET level = excluded.level,"
                       " holdoff_s = excluded.holdoff_s, clear_after_s = excluded.clear_after_s,"
                       " threshold = excluded.threshold, manual_clear = excluded.manual_clear,"
                       " enabled = excluded.enabled",
                       &st, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int(st, 1, s->type);
    sqlite3_bind_int(st, 2, s->level);
    sqlite3_bind_int(st, 3, s->holdoff_s);
    sqlite3_bind_int(st, 4, s->clear_after_s);
    if (s->has_threshold)
        sqlite3_bind_double(st, 5, s->threshold);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int(st, 6, s->manual_clear);
    sqlite3_bind_int(st, 7, s->enabled);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (rc)
        return rc;
    char *old_t = setting_text(&cur), *new_t = setting_text(s), target[64];
    snprintf(target, sizeof target, "alarm.%s", alarm_type_name(s->type));
    rc = old_t && new_t ? store_audit(db, actor, channel, "alarm.setting", target, old_t, new_t,
                                      reason, err, errlen)
                        : cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    cJSON_free(old_t);
    cJSON_free(new_t);
    if (!rc && changed)
        *changed = true;
    return rc;
}

int alarm_param_change(sqlite3 *db, const char *actor, const char *channel, const char *action,
                       const char *target, const char *old_value, const char *new_value,
                       const char *reason, bool *changed, char *err, size_t errlen)
{
    if (changed)
        *changed = false;
    if (!channel || !action || !target || !*target)
        return cm_fail(err, errlen, CM_ERR_INVALID, "target: a parameter change needs a channel,"
                                                    " an action and a target");
    bool same = old_value && new_value ? strcmp(old_value, new_value) == 0 : old_value == new_value;
    if (same)
        return CM_OK;
    int rc = store_audit(db, actor, channel, action, target, old_value, new_value, reason, err,
                         errlen);
    if (!rc && changed)
        *changed = true;
    return rc;
}
