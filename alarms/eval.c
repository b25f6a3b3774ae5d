/* One evaluation: observe, expire, raise, update, inhibit, clear, unshelve.
 * Runs as a single store job, so it is one transaction: two readings that
 * arrive together are one observation of one pending condition, and the
 * UNIQUE index on active alarms stands behind that. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms/internal.h"

int alarm_observe(sqlite3 *db, tick_ctx_t *t, const obs_t *o, char *err, size_t errlen)
{
    if (o->type < 1 || o->type > ALARM_T_MAX || !o->source || !*o->source)
        return CM_OK; /* producers' rows we do not understand are skipped, not fatal */
    const alarm_setting_t *set = &t->set[o->type];
    if (!set->enabled)
        return CM_OK;
    sqlite3_stmt *s;
    int rc;
    if (o->mode == OBS_OFF) {
        rc = store_prepare(db,
                           "UPDATE alarm_pending SET latched = 0, last_ms = max(last_ms, ?)"
                           " WHERE type = ? AND source = ?",
                           &s, err, errlen);
        if (rc)
            return rc;
        sqlite3_bind_int64(s, 1, o->ts_ms);
        sqlite3_bind_int(s, 2, o->type);
        sqlite3_bind_text(s, 3, o->source, -1, SQLITE_TRANSIENT);
        return store_step_done(s, err, errlen);
    }
    if (o->mode == OBS_GONE) {
        rc = store_prepare(db, "DELETE FROM alarm_pending WHERE type = ? AND source = ?", &s, err,
                           errlen);
        if (rc)
            return rc;
        sqlite3_bind_int(s, 1, o->type);
        sqlite3_bind_text(s, 2, o->source, -1, SQLITE_TRANSIENT);
        return store_step_done(s, err, errlen);
    }
    if (set->has_threshold && o->has_value && fabs(o->value) < set->threshold)
        return CM_OK;
    /* A pending row whose condition lapsed (older than clear_after, not latched)
     * starts over: a returning condition is a new episode. */
    rc = store_prepare(
        db,
        "INSERT INTO alarm_pending(type, source, device, first_ms, last_ms, count, level, value,"
        " worst, detail, latched, origin, oneoff) VALUES (?1, ?2, ?3, ?4, ?5, max(?6, 1), ?7, ?8, ?8,"
        " ?9, ?10, ?14, ?15)"
        " ON CONFLICT(type, source) DO UPDATE SET"
        " first_ms = CASE WHEN latched = 0 AND ?11 - last_ms > ?12 THEN excluded.first_ms"
        "   ELSE first_ms END,"
        " count = CASE WHEN latched = 0 AND ?11 - last_ms > ?12 THEN excluded.count"
        "   ELSE count + ?6 END,"
        " worst = CASE WHEN latched = 0 AND ?11 - last_ms > ?12 THEN excluded.worst"
        "   WHEN ?8 IS NOT NULL AND (worst IS NULL OR abs(?8) > abs(worst)) THEN ?8 ELSE worst END,"
        " last_ms = max(last_ms, excluded.last_ms),"
        " device = coalesce(excluded.device, device),"
        " level = CASE WHEN excluded.level > coalesce(level, 0) THEN excluded.level ELSE level END,"
        " value = coalesce(excluded.value, value), detail = excluded.detail,"
        " latched = CASE WHEN ?13 THEN excluded.latched ELSE latched END,"
        " oneoff = max(oneoff, excluded.oneoff)",
        &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int(s, 1, o->type);
    sqlite3_bind_text(s, 2, o->source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, o->device, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, o->first_ms ? o->first_ms : o->ts_ms);
    sqlite3_bind_int64(s, 5, o->ts_ms);
    sqlite3_bind_int(s, 6, o->mode == OBS_LEVEL || o->repeat ? 0 : 1);
    if (o->level >= 1 && o->level <= 3)
        sqlite3_bind_int(s, 7, o->level);
    else
        sqlite3_bind_null(s, 7);
    if (o->has_value)
        sqlite3_bind_double(s, 8, o->value);
    else
        sqlite3_bind_null(s, 8);
    sqlite3_bind_text(s, 9, o->detail ? o->detail : alarm_type_label(o->type), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 10, o->mode == OBS_ON);
    sqlite3_bind_int64(s, 11, o->ts_ms);
    sqlite3_bind_int64(s, 12, (int64_t)set->clear_after_s * 1000);
    sqlite3_bind_int(s, 13, o->mode == OBS_ON);
    sqlite3_bind_text(s, 14, o->origin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 15, o->mode == OBS_EVENT);
    return store_step_done(s, err, errlen);
}

/* ---- evaluation of pending conditions ------------------------------------ */

typedef struct pend {
    int type, level, count, latched, oneoff;
    char source[160], device[96], detail[512], held[256], origin[64];
    int64_t first_ms, last_ms;
    bool has_value, has_worst;
    double value, worst;
    int64_t alarm_id; /* 0: none active */
    int alarm_level, alarm_count;
    bool alarm_inhibited;
    int64_t alarm_last;
} pend_t;

static void copy_col(char *dst, size_t len, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, len, "%s", t ? (const char *)t : "");
}

static int load_pending(sqlite3 *db, pend_t **out, int *n, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT p.type, p.source, p.device, p.first_ms, p.last_ms, p.count,"
                           " coalesce(p.level, 0), p.value, p.worst, p.detail, p.latched,"
                           " coalesce(p.held, ''), a.id, a.level, a.inhibited, a.count,"
                           " a.last_seen_ms, p.origin, p.oneoff FROM alarm_pending p LEFT JOIN alarm a"
                           " ON a.type = p.type AND a.source = p.source AND a.state <> 'cleared'",
                           &s, err, errlen);
    if (rc)
        return rc;
    int cap = 0;
    *n = 0;
    *out = NULL;
    while (!rc && store_next(s, &rc, err, errlen)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            pend_t *grown = realloc(*out, (size_t)cap * sizeof **out);
            if (!grown) {
                rc = cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
                break;
            }
            *out = grown;
        }
        pend_t *p = &(*out)[(*n)++];
        memset(p, 0, sizeof *p);
        p->type = sqlite3_column_int(s, 0);
        copy_col(p->source, sizeof p->source, s, 1);
        copy_col(p->device, sizeof p->device, s, 2);
        p->first_ms = sqlite3_column_int64(s, 3);
        p->last_ms = sqlite3_column_int64(s, 4);
        p->count = sqlite3_column_int(s, 5);
        p->level = sqlite3_column_int(s, 6);
        p->has_value = sqlite3_column_type(s, 7) != SQLITE_NULL;
        p->value = sqlite3_column_double(s, 7);
        p->has_worst = sqlite3_column_type(s, 8) != SQLITE_NULL;
        p->worst = sqlite3_column_double(s, 8);
        copy_col(p->detail, sizeof p->detail, s, 9);
        p->latched = sqlite3_column_int(s, 10);
        copy_col(p->held, sizeof p->held, s, 11);
        p->alarm_id = sqlite3_column_type(s, 12) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 12);
        p->alarm_level = sqlite3_column_int(s, 13);
        p->alarm_inhibited = sqlite3_column_type(s, 14) != SQLITE_NULL;
        p->alarm_count = sqlite3_column_int(s, 15);
        p->alarm_last = sqlite3_column_int64(s, 16);
        copy_col(p->origin, sizeof p->origin, s, 17);
        p->oneoff = sqlite3_column_int(s, 18);
    }
    sqlite3_finalize(s);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* Why a derived condition is held back: its device is offline. "" when not. */
static int offline_reason(sqlite3 *db, const char *device, char *why, size_t len, char *err,
                          size_t errlen)
{
    why[0] = '\0';
    if (!device || !*device)
        return CM_OK;
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT c.since_ms FROM device d JOIN device_comm c ON c.device_id = d.id"
                           " WHERE d.name = ? AND c.state = 'offline'",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, device, -1, SQLITE_TRANSIENT);
    if (store_next(s, &rc, err, errlen)) {
        char since[24];
        tm_format_bj(sqlite3_column_int64(s, 0) / 1000, since, sizeof since);
        snprintf(why, len, "设备 %s 自 %s 离线，数据不可信，暂缓报警 (device offline)", device, since);
    }
    sqlite3_finalize(s);
    return rc;
}

static int set_held(sqlite3 *db, const pend_t *p, const char *held, char *err, size_t errlen)
{
    if (strcmp(p->held, held) == 0)
        return CM_OK;
    sqlite3_stmt *s;
    int rc = store_prepare(db, "UPDATE alarm_pending SET held = ? WHERE type = ? AND source = ?", &s,
                           err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, *held ? held : NULL, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, p->type);
    sqlite3_bind_text(s, 3, p->source, -1, SQLITE_TRANSIENT);
    return store_step_done(s, err, errlen);
}

static int raise_alarm(sqlite3 *db, tick_ctx_t *t, const pend_t *p, int level, char *err,
                       size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO alarm(type, level, source, device, state, first_seen_ms,"
                           " raised_ms, last_seen_ms, count, value, worst, detail, origin)"
                           " VALUES (?, ?, ?, ?, 'raised', ?, ?, ?, ?, ?, ?, ?, ?)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int(s, 1, p->type);
    sqlite3_bind_int(s, 2, level);
    sqlite3_bind_text(s, 3, p->source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, *p->device ? p->device : NULL, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, p->first_ms);
    sqlite3_bind_int64(s, 6, t->now_ms);
    sqlite3_bind_int64(s, 7, p->last_ms);
    sqlite3_bind_int(s, 8, p->count > 0 ? p->count : 1);
    if (p->has_value)
        sqlite3_bind_double(s, 9, p->value);
    else
        sqlite3_bind_null(s, 9);
    if (p->has_worst)
        sqlite3_bind_double(s, 10, p->worst);
    else
        sqlite3_bind_null(s, 10);
    sqlite3_bind_text(s, 11, p->detail, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 12, *p->origin ? p->origin : NULL, -1, SQLITE_TRANSIENT);
    if ((rc = store_step_done(s, err, errlen)))
        return rc;
    int64_t id = sqlite3_last_insert_rowid(db);
    rc = alarm_log_event(db, id, t->now_ms, "raised", "system", p->detail, err, errlen);
    if (!rc)
        rc = alarm_put_upload(db, id, err, errlen);
    if (!rc)
        rc = set_held(db, p, "", err, errlen);
    if (!rc)
        alarm_note(t, id, p->type, level, "raised", p->source, p->detail);
    return rc;
}

static int update_alarm(sqlite3 *db, tick_ctx_t *t, const pend_t *p, int level, const char *why,
                        char *err, size_t errlen)
{
    bool inhibit = *why != '\0';
    int rc = CM_OK;
    if (inhibit != p->alarm_inhibited)
        rc = alarm_log_event(db, p->alarm_id, t->now_ms, inhibit ? "inhibited" : "released",
                             "system", inhibit ? why : "设备恢复在线 (device back online)", err,
                             errlen);
    if (!rc && level > p->alarm_level) {
        rc = alarm_log_event(db, p->alarm_id, t->now_ms, "escalated", "system",
                             alarm_level_name(level), err, errlen);
        if (!rc)
            alarm_note(t, p->alarm_id, p->type, level, "escalated", p->source, p->detail);
    }
    if (rc || (inhibit == p->alarm_inhibited && level <= p->alarm_level &&
               p->count == p->alarm_count && p->last_ms == p->alarm_last))
        return rc;
    sqlite3_stmt *s;
    rc = store_prepare(db,
                       "UPDATE alarm SET level = max(level, ?), last_seen_ms = ?, count = ?,"
                       " value = ?, worst = ?, detail = ?, inhibited = ? WHERE id = ?",
                       &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int(s, 1, level);
    sqlite3_bind_int64(s, 2, p->last_ms);
    sqlite3_bind_int(s, 3, p->count > 0 ? p->count : 1);
    if (p->has_value)
        sqlite3_bind_double(s, 4, p->value);
    else
        sqlite3_bind_null(s, 4);
    if (p->has_worst)
        sqlite3_bind_double(s, 5, p->worst);
    else
        sqlite3_bind_null(s, 5);
    sqlite3_bind_text(s, 6, p->detail, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 7, inhibit ? why : NULL, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 8, p->alarm_id);
    rc = store_step_done(s, err, errlen);
    if (!rc && level > p->alarm_level)
        rc = alarm_put_upload(db, p->alarm_id, err, errlen);
    return rc;
}

static int evaluate_one(sqlite3 *db, tick_ctx_t *t, const pend_t *p, char *err, size_t errlen)
{
    const alarm_setting_t *set = &t->set[p->type];
    int level = p->level > set->level ? p->level : set->level;
    char why[256] = "";
    int rc = alarm_type_derived(p->type) ? offline_reason(db, p->device, why, sizeof why, err, errlen)
                                         : CM_OK;
    if (rc)
        return rc;
    if (p->alarm_id)
        return update_alarm(db, t, p, level, why, err, errlen);
    if (*why)
        return set_held(db, p, why, err, errlen);
    int64_t present_ms = p->last_ms - p->first_ms;
    /* A one-off event happened: hold-off has nothing to confirm. */
    if (p->oneoff || present_ms >= (int64_t)set->holdoff_s * 1000)
        return raise_alarm(db, t, p, level, err, errlen);
    char held[256];
    snprintf(held, sizeof held, "延时确认中 %llds / %ds (hold-off)", (long long)(present_ms / 1000),
             set->holdoff_s);
    return set_held(db, p, held, err, errlen);
}

/* ---- the phases of a tick ------------------------------------------------- */

static int unshelve_expired(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT id, type, level, source, detail FROM alarm WHERE state <> 'cleared'"
                           " AND shelved_until_ms IS NOT NULL AND shelved_until_ms <= ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, t->now_ms);
    int64_t ids[64];
    int n = 0;
    while (!rc && n < 64 && store_next(s, &rc, err, errlen)) {
        ids[n++] = sqlite3_column_int64(s, 0);
        alarm_note(t, ids[n - 1], sqlite3_column_int(s, 1), sqlite3_column_int(s, 2), "unshelved",
                   (const char *)sqlite3_column_text(s, 3), (const char *)sqlite3_column_text(s, 4));
    }
    sqlite3_finalize(s);
    for (int i = 0; !rc && i < n; i++) {
        rc = store_prepare(db, "UPDATE alarm SET shelved_until_ms = NULL WHERE id = ?", &s, err,
                           errlen);
        if (rc)
            break;
        sqlite3_bind_int64(s, 1, ids[i]);
        rc = store_step_done(s, err, errlen);
        if (!rc)
            rc = alarm_log_event(db, ids[i], t->now_ms, "unshelved", "system", "搁置到期 (shelving ended)",
                                 err, errlen);
    }
    return rc;
}

/* Drop conditions that lapsed or whose type is disabled; latched ones stay present. */
static int expire_pending(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "UPDATE alarm_pending SET last_ms = ? WHERE latched = 1", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, t->now_ms);
    if ((rc = store_step_done(s, err, errlen)))
        return rc;
    for (int type = 1; !rc && type <= ALARM_T_MAX; type++) {
        const alarm_setting_t *set = &t->set[type];
        rc = store_prepare(db,
                           "DELETE FROM alarm_pending WHERE type = ?1 AND (?2 = 0 OR"
                           " (latched = 0 AND last_ms < ?3))",
                           &s, err, errlen);
        if (rc)
            break;
        sqlite3_bind_int(s, 1, type);
        sqlite3_bind_int(s, 2, set->enabled);
        sqlite3_bind_int64(s, 3, t->now_ms - (int64_t)set->clear_after_s * 1000);
        rc = store_step_done(s, err, errlen);
    }
    return rc;
}

/* Active alarms whose condition is gone (no pending row any more) clear. */
static int clear_gone(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT id, type, level, source FROM alarm a WHERE state <> 'cleared' AND"
                           " NOT EXISTS (SELECT 1 FROM alarm_pending p WHERE p.type = a.type AND"
                           " p.source = a.source)",
                           &s, err, errlen);
    if (rc)
        return rc;
    typedef struct gone {
        int64_t id;
        int type, level;
        char source[96];
    } gone_t;
    gone_t g[64];
    int n = 0;
    while (!rc && n < 64 && store_next(s, &rc, err, errlen)) {
        g[n].id = sqlite3_column_int64(s, 0);
        g[n].type = sqlite3_column_int(s, 1);
        g[n].level = sqlite3_column_int(s, 2);
        copy_col(g[n].source, sizeof g[n].source, s, 3);
        n++;
    }
    sqlite3_finalize(s);
    for (int i = 0; !rc && i < n; i++) {
        const char *reason = t->set[g[i].type].enabled ? "条件消失 (condition gone)"
                                                       : "该类报警已停用 (type disabled)";
        rc = alarm_do_clear(db, g[i].id, t->now_ms, "system", reason, err, errlen);
        if (!rc)
            alarm_note(t, g[i].id, g[i].type, g[i].level, "cleared", g[i].source, reason);
    }
    return rc;
}

static int load_settings(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen)
{
    int rc = CM_OK;
    for (int type = 1; !rc && type <= ALARM_T_MAX; type++)
        rc = alarm_setting_get(db, type, &t->set[type], err, errlen);
    return rc;
}

int alarm_tick_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    tick_ctx_t *t = arg;
    int rc = load_settings(db, t, err, errlen);
    if (!rc)
        rc = unshelve_expired(db, t, err, errlen);
    if (!rc)
        rc = alarm_ingest(db, t, err, errlen);
    if (!rc)
        rc = expire_pending(db, t, err, errlen);
    if (!rc)
        rc = clear_gone(db, t, err, errlen);
    pend_t *p = NULL;
    int n = 0;
    if (!rc)
        rc = load_pending(db, &p, &n, err, errlen);
    for (int i = 0; !rc && i < n; i++)
        rc = evaluate_one(db, t, &p[i], err, errlen);
    free(p);
    return rc;
}
