/* Producers' tables, read by cursor inside the evaluation's transaction, and
 * the generic condition API (alarm_input). A cursor moves in the same
 * transaction as the observations it made, so nothing is read twice or lost. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alarms/internal.h"

#define BATCH 2000 /* rows per source per evaluation; the rest next time */

static int cursor_get(sqlite3 *db, const char *name, int64_t *id, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT last_id FROM alarm_cursor WHERE name = ?", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    return store_q_int64(s, 0, id, NULL, err, errlen);
}

static int cursor_set(sqlite3 *db, const char *name, int64_t id, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO alarm_cursor(name, last_id) VALUES (?, ?)"
                           " ON CONFLICT(name) DO UPDATE SET last_id = excluded.last_id",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, id);
    return store_step_done(s, err, errlen);
}

static const char *col_text(sqlite3_stmt *s, int col)
{
    return (const char *)sqlite3_column_text(s, col);
}

/* What to do with one row of a producer table. */
typedef int (*row_fn)(sqlite3 *db, tick_ctx_t *t, sqlite3_stmt *s, char *err, size_t errlen);

/* Rows of sql (id first; ?1 the cursor, ?2 the batch size) after cursor `name`,
 * each handed to fn; the cursor moves past them in the same transaction.
 * *moved (may be NULL) tells the new position when it moved, else 0. */
static int by_cursor(sqlite3 *db, tick_ctx_t *t, const char *name, const char *sql, row_fn fn,
                     int64_t *moved, char *err, size_t errlen)
{
    int64_t cur;
    sqlite3_stmt *s;
    int rc = cursor_get(db, name, &cur, err, errlen);
    if (!rc)
        rc = store_prepare(db, sql, &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, cur);
    sqlite3_bind_int(s, 2, BATCH);
    int64_t last = cur;
    while (!rc && store_next(s, &rc, err, errlen)) {
        last = sqlite3_column_int64(s, 0);
        rc = fn(db, t, s, err, errlen);
    }
    sqlite3_finalize(s);
    if (moved)
        *moved = !rc && last != cur ? last : 0;
    return !rc && last != cur ? cursor_set(db, name, last, err, errlen) : rc;
}

/* ---- device_comm: a device that stays offline stays alarmed (ALM-8) ------ */

static int ingest_comm(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT d.name, c.since_ms, c.detail FROM device_comm c"
                           " JOIN device d ON d.id = c.device_id WHERE c.state = 'offline'"
                           /* behind an offline gateway: the gateway's alarm stands for it */
                           " AND NOT EXISTS (SELECT 1 FROM device_gateway g JOIN device_comm gc"
                           " ON gc.device_id = g.gateway_id WHERE g.device_id = d.id"
                           " AND gc.state = 'offline')",
                           &s, err, errlen);
    if (rc)
        return rc;
    while (!rc && store_next(s, &rc, err, errlen)) {
        char since[24], detail[400];
        int64_t since_ms = sqlite3_column_int64(s, 1);
        tm_format_bj(since_ms / 1000, since, sizeof since);
        snprintf(detail, sizeof detail, "%s 自 %s 通信中断%s%s", col_text(s, 0), since,
                 col_text(s, 2) ? ": " : "", col_text(s, 2) ? col_text(s, 2) : "");
        obs_t o = {.type = ALARM_T_COMM, .source = col_text(s, 0), .detail = detail,
                   .first_ms = since_ms, .ts_ms = t->now_ms, .mode = OBS_LEVEL};
        rc = alarm_observe(db, t, &o, err, errlen);
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- device_event: faults, power loss, counter and sensor trouble --------- */

static bool word_in(const char *w, const char *const *list)
{
    for (int i = 0; w && list[i]; i++)
        if (strcmp(w, list[i]) == 0)
            return true;
    return false;
}

static bool state_is_off(const char *st)
{
    static const char *const off[] = {"off", "clear", "cleared", "ok", "0", "restored", "normal",
                                      "mains", NULL};
    return word_in(st, off);
}

/* The part of a detail before its ':' names which fault of a device it is
 * ("belt_slip: ...", "out_of_range flow: ..."): each gets its own alarm. */
static void detail_key(const char *detail, char *key, size_t len)
{
    const char *colon = detail ? strchr(detail, ':') : NULL;
    size_t n = colon ? (size_t)(colon - detail) : 0;
    snprintf(key, len, "%.*s", (int)(n < len ? n : len - 1), detail ? detail : "");
}

/* Which alarm a device event makes (0: none), whether it is a state or a
 * one-off, and what distinguishes it among the device's conditions
 * (docs/collector.md: fault, power, plausibility, counter_*, identity). */
static int event_type(const char *kind, const char *state, const char *detail, obs_mode *mode,
                      char *key, size_t keylen)
{
    static const char *const stateful_fault[] = {"fault", "fault_bits", "plausibility", NULL};
    static const char *const oneoff_fault[] = {"counter_reset", "counter_jump", "identity",
                                               "sensor_stuck", "stuck", "sensor_range",
                                               "out_of_range", NULL};
    key[0] = '\0';
    *mode = state_is_off(state) ? OBS_OFF : OBS_ON;
    if (word_in(kind, stateful_fault)) {
        detail_key(detail, key, keylen);
        /* The station's vibration sensors out of range: the motor, not the sensor. */
        return strstr(key, "vib") ? ALARM_T_VIBRATION : ALARM_T_DEVICE_FAULT;
    }
    if (kind && (strcmp(kind, "power") == 0 || strcmp(kind, "power_loss") == 0))
        return ALARM_T_POWER_LOSS;
    if (kind && strcmp(kind, "vibration") == 0)
        return ALARM_T_VIBRATION;
    if (word_in(kind, oneoff_fault)) {
        *mode = OBS_EVENT;
        snprintf(key, keylen, "%s%s%s", kind, state ? " " : "", state ? state : "");
        return ALARM_T_DEVICE_FAULT;
    }
    return 0; /* comm (read from device_comm), backfill, and kinds we do not alarm on */
}

static int device_event_row(sqlite3 *db, tick_ctx_t *t, sqlite3_stmt *s, char *err, size_t errlen)
{
    obs_mode mode;
    char key[96], source[200], detail[512];
    const char *dev = col_text(s, 5), *st = col_text(s, 3), *what = col_text(s, 4);
    int type = event_type(col_text(s, 2), st, what, &mode, key, sizeof key);
    if (!type)
        return CM_OK;
    snprintf(source, sizeof source, "%s%s%s", dev, key[0] ? ":" : "", key);
    snprintf(detail, sizeof detail, "%s %s %s%s%s", dev, alarm_type_label(type), st ? st : "",
             what ? ": " : "", what ? what : "");
    obs_t o = {.type = type, .source = source, .device = dev, .detail = detail,
               .ts_ms = sqlite3_column_int64(s, 1), .mode = mode};
    return alarm_observe(db, t, &o, err, errlen);
}

static int ingest_device_events(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    return by_cursor(db, t, "device_event",
                     "SELECT e.id, e.ts_ms, e.kind, e.state, e.detail, d.name FROM device_event e"
                     " JOIN device d ON d.id = e.device_id WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
                     device_event_row, NULL, err, errlen);
}

/* ---- audit_log: every parameter change raises ALM-5 ----------------------- */

/* What a dispatcher reads for an audited action; the code follows it, for
 * the engineer who looks it up in the audit log. */
static const char *action_label(const char *action)
{
    static const char *const labels[][2] = {
        {"alarm.setting", "报警参数设置"},     {"calibration.add", "标定维护记录"},
        {"capacity.set", "核定产能设置"},      {"coal_type.set", "煤种设置"},
        {"coef.set", "折算系数设置"},          {"config.removed", "配置项删除"},
        {"config.section", "配置变更"},        {"contract.set", "销售合同设置"},
        {"device.config", "设备配置变更"},     {"device.firmware", "设备固件变更"},
        {"enterprise.add", "企业登记"},        {"enterprise.import", "企业导入"},
        {"exit_point.remove", "出口抓拍点删除"}, {"exit_point.set", "出口抓拍点设置"},
        {"intake_key.add", "接入密钥新增"},    {"intake_key.revoke", "接入密钥吊销"},
        {"meter_map.config", "电表寄存器表变更"}, {"model.fit", "产量-电量模型重新拟合"},
        {"model.pin", "产量-电量模型锁定"},    {"model.unpin", "产量-电量模型解除锁定"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(action, labels[i][0]) == 0)
            return labels[i][1];
    return "参数修改";
}

static int audit_row(sqlite3 *db, tick_ctx_t *t, sqlite3_stmt *s, char *err, size_t errlen)
{
    /* Accounts, upload retries, ticket corrections are not parameters:
     * they stay in the audit log only (alarms.parameter_ignore). */
    for (int i = 0; i < t->nignore; i++)
        if (strncmp(col_text(s, 4), t->ignore[i], strlen(t->ignore[i])) == 0)
            return CM_OK;
    const char *old_v = col_text(s, 6), *new_v = col_text(s, 7), *why = col_text(s, 8);
    char detail[1024];
    snprintf(detail, sizeof detail, "%s（%s）%s：%s → %s（操作人 %s，渠道 %s%s%s）",
             action_label(col_text(s, 4)), col_text(s, 4), col_text(s, 5), old_v ? old_v : "∅",
             new_v ? new_v : "∅", col_text(s, 2), col_text(s, 3), why ? "；原因 " : "",
             why ? why : "");
    /* A station's own report is the most suspicious channel: nobody here made it. */
    obs_t o = {.type = ALARM_T_PARAMETER, .source = col_text(s, 5), .detail = detail,
               .level = strcmp(col_text(s, 3), "station") == 0 ? ALARM_SERIOUS : 0,
               .ts_ms = sqlite3_column_int64(s, 1) * 1000, .mode = OBS_EVENT};
    return alarm_observe(db, t, &o, err, errlen);
}

static int ingest_audit(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    return by_cursor(db, t, "audit_log",
                     "SELECT id, ts, actor, channel, action, target, old_value, new_value, reason"
                     " FROM audit_log WHERE id > ?1 ORDER BY id LIMIT ?2",
                     audit_row, NULL, err, errlen);
}

/* ---- alarm_input: the generic condition API -------------------------------- */

static int input_row(sqlite3 *db, tick_ctx_t *t, sqlite3_stmt *s, char *err, size_t errlen)
{
    const char *st = col_text(s, 5);
    obs_t o = {.type = sqlite3_column_int(s, 2), .source = col_text(s, 3), .device = col_text(s, 4),
               .level = sqlite3_column_int(s, 6),
               .has_value = sqlite3_column_type(s, 7) != SQLITE_NULL,
               .value = sqlite3_column_double(s, 7), .detail = col_text(s, 8),
               .ts_ms = sqlite3_column_int64(s, 1),
               .mode = !strcmp(st, "off") ? OBS_OFF : !strcmp(st, "event") ? OBS_EVENT : OBS_ON};
    return alarm_observe(db, t, &o, err, errlen);
}

static int ingest_input(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    int64_t moved;
    int rc = by_cursor(db, t, "alarm_input",
                       "SELECT id, ts_ms, type, source, device, state, level, value, detail"
                       " FROM alarm_input WHERE id > ?1 ORDER BY id LIMIT ?2",
                       input_row, &moved, err, errlen);
    if (rc || !moved)
        return rc;
    /* Consumed rows are kept a day for inspection, then go. */
    sqlite3_stmt *s;
    rc = store_prepare(db, "DELETE FROM alarm_input WHERE id <= ? AND ts_ms < ?", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, moved);
    sqlite3_bind_int64(s, 2, t->now_ms - 86400000);
    return store_step_done(s, err, errlen);
}

/* ---- ana_condition: analytics' episodes (docs/analytics.md) ----------------- */

static int ana_type(const char *t)
{
    static const struct {
        const char *name;
        int type;
    } map[] = {
        {"over_production", ALARM_T_OVER_PRODUCTION}, {"power_abnormal", ALARM_T_ABNORMAL_POWER},
        {"meter_balance", ALARM_T_ABNORMAL_POWER},    {"output_power", ALARM_T_OUTPUT_VS_POWER},
        {"output_power_total", ALARM_T_OUTPUT_VS_POWER}, {"output_sales", ALARM_T_OUTPUT_VS_SALES},
        {"sales_sources", ALARM_T_OUTPUT_VS_SALES},   {"power_quality", ALARM_T_POWER_QUALITY},
        {"vibration", ALARM_T_VIBRATION},
    };
    for (size_t i = 0; t && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(t, map[i].name) == 0)
            return map[i].type;
    return 0;
}

/* An episode is present while its end is NULL: it is seen again at every
 * evaluation (no count), and once it ends the hysteresis runs. The device
 * whose data it rests on is the source itself, or the meter of that gate. */
static int ingest_analytics(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(
        db,
        "SELECT c.type, c.source, c.level, c.start, c.value, c.detail, c.threshold,"
        " coalesce((SELECT d.name FROM device d WHERE d.name = c.source),"
        "  (SELECT d.name FROM device d WHERE d.gate_type = c.source OR"
        "   (c.source = 'total' AND d.gate_type = 'mine_total') ORDER BY d.id LIMIT 1))"
        " FROM ana_condition c WHERE c.end IS NULL",
        &s, err, errlen);
    if (rc) { /* a table of another shape than documented: say so once, skip it */
        static bool told; /* only the writer thread runs this */
        if (!told)
            log_warn("alarms", "ana_condition not readable, analytics alarms off: %s", err);
        told = true;
        return CM_OK;
    }
    while (!rc && store_next(s, &rc, err, errlen)) {
        int type = ana_type(col_text(s, 0));
        if (!type)
            continue;
        char detail[600];
        snprintf(detail, sizeof detail, "%s %s: %s", col_text(s, 0), col_text(s, 1),
                 col_text(s, 5) ? col_text(s, 5) : "");
        obs_t o = {.type = type, .source = col_text(s, 1), .device = col_text(s, 7),
                   .level = sqlite3_column_int(s, 2),
                   .has_value = sqlite3_column_type(s, 4) != SQLITE_NULL,
                   .value = sqlite3_column_double(s, 4), .detail = detail,
                   .first_ms = sqlite3_column_int64(s, 3) * 1000, .ts_ms = t->now_ms,
                   .mode = OBS_LEVEL};
        rc = alarm_observe(db, t, &o, err, errlen);
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- escape_event: intake's escaping vehicles (ALM-9, docs/intake.md) ------- */

/* New rows raise (held until handled or resolved); a late matching ticket
 * (resolved_at) clears the alarm at once. Source: the plate at the exit. */
static int ingest_escapes(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    int64_t cur, res;
    int rc = cursor_get(db, "escape_event", &cur, err, errlen);
    if (!rc)
        rc = cursor_get(db, "escape_event.resolved", &res, err, errlen);
    sqlite3_stmt *s;
    if (!rc)
        rc = store_prepare(db,
                           "SELECT id, plate, point_code, capture_time, detail, resolved_at,"
                           " coalesce(resolved_ticket_id, '') FROM escape_event"
                           " WHERE id > ?1 OR resolved_at > ?2 ORDER BY id LIMIT ?3",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, cur);
    sqlite3_bind_int64(s, 2, res);
    sqlite3_bind_int(s, 3, BATCH);
    int64_t last = cur, last_res = res;
    while (!rc && store_next(s, &rc, err, errlen)) {
        int64_t id = sqlite3_column_int64(s, 0);
        bool resolved = sqlite3_column_type(s, 5) != SQLITE_NULL;
        char source[160], detail[700];
        snprintf(source, sizeof source, "%s@%s", col_text(s, 1), col_text(s, 2));
        snprintf(detail, sizeof detail, "%s", col_text(s, 4));
        obs_t o = {.type = ALARM_T_ESCAPE, .source = source, .detail = detail,
                   .ts_ms = sqlite3_column_int64(s, 3) * 1000, .mode = OBS_EVENT};
        if (id > cur && !resolved) /* seen for the first time */
            rc = alarm_observe(db, t, &o, err, errlen);
        if (!rc && resolved) {
            o.mode = OBS_GONE;
            rc = alarm_observe(db, t, &o, err, errlen);
            int64_t r = sqlite3_column_int64(s, 5);
            last_res = r > last_res ? r : last_res;
        }
        last = id > last ? id : last;
    }
    sqlite3_finalize(s);
    if (!rc && last != cur)
        rc = cursor_set(db, "escape_event", last, err, errlen);
    /* Resolutions after the newest seen (seconds; two in one second in separate
     * transactions around an evaluation would leave the second to its hysteresis). */
    if (!rc && last_res != res)
        rc = cursor_set(db, "escape_event.resolved", last_res, err, errlen);
    return rc;
}

/* ---- uplink_received: the enterprises' alarms, on a platform ---------------- */

/* An alarm record an enterprise sent (uplink.md §3) and its revisions: open
 * while it has no clearedAt, ended when it has one. Shown with the enterprise
 * as origin and its source prefixed by the enterprise code; never uploaded
 * again here (the receiver forwards the enterprise's own record). The cursor
 * is the receiving time; rows of the newest millisecond are read again (harmless:
 * a repeat neither counts nor re-raises). */
static int received_row(sqlite3 *db, tick_ctx_t *t, sqlite3_stmt *s, char *err, size_t errlen)
{
    cJSON *r = cJSON_Parse(col_text(s, 2));
    const cJSON *type = cJSON_GetObjectItem(r, "alarmType"), *level = cJSON_GetObjectItem(r, "level");
    const cJSON *src = cJSON_GetObjectItem(r, "source"), *detail = cJSON_GetObjectItem(r, "detail");
    const cJSON *raised = cJSON_GetObjectItem(r, "raisedAt");
    int rc = CM_OK;
    if (cJSON_IsNumber(type) && cJSON_IsString(src) && cJSON_IsNumber(level)) {
        const char *ent = col_text(s, 1);
        char source[160], text[1200];
        int64_t raised_s = 0;
        snprintf(source, sizeof source, "%s:%s", ent, src->valuestring);
        snprintf(text, sizeof text, "[%s] %s", ent, cJSON_IsString(detail) ? detail->valuestring : "");
        if (!cJSON_IsString(raised) || tm_parse_bj(raised->valuestring, &raised_s))
            raised_s = sqlite3_column_int64(s, 0) / 1000;
        bool cleared = cJSON_IsString(cJSON_GetObjectItem(r, "clearedAt"));
        obs_t o = {.type = (int)type->valuedouble, .source = source, .detail = text, .origin = ent,
                   .level = (int)level->valuedouble, .first_ms = raised_s * 1000,
                   .ts_ms = t->now_ms, .mode = cleared ? OBS_GONE : OBS_ON, .repeat = true};
        rc = alarm_observe(db, t, &o, err, errlen);
    }
    cJSON_Delete(r);
    return rc;
}

static int ingest_received(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    if (!t->platform)
        return CM_OK;
    return by_cursor(db, t, "uplink_received.alarm",
                     "SELECT received_ms, ent, body FROM uplink_received WHERE record_type = 'alarm'"
                     " AND received_ms >= ?1 ORDER BY received_ms, id LIMIT ?2",
                     received_row, NULL, err, errlen);
}

int alarm_ingest(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    int rc = ingest_comm(db, t, err, errlen);
    if (!rc)
        rc = ingest_device_events(db, t, err, errlen);
    if (!rc)
        rc = ingest_audit(db, t, err, errlen);
    if (!rc)
        rc = ingest_input(db, t, err, errlen);
    if (!rc)
        rc = ingest_analytics(db, t, err, errlen);
    if (!rc)
        rc = ingest_escapes(db, t, err, errlen);
    if (!rc)
        rc = ingest_received(db, t, err, errlen);
    return rc;
}

/* ---- writing a condition ---------------------------------------------------- */

int alarm_condition_put(sqlite3 *db, const alarm_cond_t *c, char *err, size_t errlen)
{
    if (!alarm_type_name(c->type))
        return cm_fail(err, errlen, CM_ERR_INVALID, "type: unknown alarm type %d", c->type);
    if (!c->source || !*c->source || strlen(c->source) > 150)
        return cm_fail(err, errlen, CM_ERR_INVALID, "source: required, at most 150 bytes");
    const char *st = c->state ? c->state : "on";
    if (strcmp(st, "on") && strcmp(st, "off") && strcmp(st, "event"))
        return cm_fail(err, errlen, CM_ERR_INVALID, "state: expected on, off or event");
    if (c->level < 0 || c->level > 3)
        return cm_fail(err, errlen, CM_ERR_INVALID, "level: expected 1..3");
    if (c->has_value && !isfinite(c->value))
        return cm_fail(err, errlen, CM_ERR_INVALID, "value: expected a finite number");
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO alarm_input(ts_ms, type, source, device, state, level, value,"
                           " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, c->ts_ms ? c->ts_ms : tm_now_ms());
    sqlite3_bind_int(s, 2, c->type);
    sqlite3_bind_text(s, 3, c->source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, c->device && *c->device ? c->device : NULL, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, st, -1, SQLITE_TRANSIENT);
    if (c->level)
        sqlite3_bind_int(s, 6, c->level);
    else
        sqlite3_bind_null(s, 6);
    if (c->has_value)
        sqlite3_bind_double(s, 7, c->value);
    else
        sqlite3_bind_null(s, 7);
    sqlite3_bind_text(s, 8, c->detail, -1, SQLITE_TRANSIENT);
    return store_step_done(s, err, errlen);
}

static int field_err(char *field, size_t fieldlen, const char *name, char *err, size_t errlen,
                     const char *what)
{
    snprintf(field, fieldlen, "%s", name);
    return cm_fail(err, errlen, CM_ERR_INVALID, "%s: %s", name, what);
}

static int opt_string(const cJSON *j, const char *key, const char **out, char *field,
                      size_t fieldlen, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v))
        return CM_OK;
    if (!cJSON_IsString(v) || strlen(v->valuestring) > 500)
        return field_err(field, fieldlen, key, err, errlen, "expected a string of at most 500 bytes");
    *out = v->valuestring;
    return CM_OK;
}

int alarm_cond_from_json(const cJSON *j, alarm_cond_t *c, char *field, size_t fieldlen, char *err,
                         size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (!cJSON_IsObject(j))
        return field_err(field, fieldlen, "body", err, errlen, "expected a JSON object");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    bool type_ok = false;
    if (cJSON_IsString(type))
        type_ok = alarm_type_parse(type->valuestring, &c->type) == CM_OK;
    else if (cJSON_IsNumber(type) && type->valuedouble >= 1 && type->valuedouble <= ALARM_T_MAX &&
             type->valuedouble == floor(type->valuedouble)) {
        c->type = (int)type->valuedouble;
        type_ok = true;
    }
    if (!type_ok)
        return field_err(field, fieldlen, "type", err, errlen,
                         "expected an alarm type (1..11 or a name)");
    int rc = opt_string(j, "source", &c->source, field, fieldlen, err, errlen);
    if (!rc && (!c->source || !*c->source || strlen(c->source) > 150))
        return field_err(field, fieldlen, "source", err, errlen, "required, at most 150 bytes");
    if (!rc)
        rc = opt_string(j, "device", &c->device, field, fieldlen, err, errlen);
    if (!rc)
        rc = opt_string(j, "state", &c->state, field, fieldlen, err, errlen);
    if (!rc && c->state && strcmp(c->state, "on") && strcmp(c->state, "off") &&
        strcmp(c->state, "event"))
        return field_err(field, fieldlen, "state", err, errlen, "expected on, off or event");
    if (!rc)
        rc = opt_string(j, "detail", &c->detail, field, fieldlen, err, errlen);
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(j, "level");
    if (!rc && lv && !cJSON_IsNull(lv)) {
        bool ok = cJSON_IsString(lv) ? alarm_level_parse(lv->valuestring, &c->level) == CM_OK
                                     : cJSON_IsNumber(lv) && lv->valuedouble >= 1 &&
                                           lv->valuedouble <= 3 &&
                                           lv->valuedouble == floor(lv->valuedouble);
        if (!ok)
            return field_err(field, fieldlen, "level", err, errlen,
                             "expected notice, warning, serious or 1..3");
        if (cJSON_IsNumber(lv))
            c->level = (int)lv->valuedouble;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
    if (!rc && v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return field_err(field, fieldlen, "value", err, errlen, "expected a number");
        c->has_value = true;
        c->value = v->valuedouble;
    }
    return rc;
}
