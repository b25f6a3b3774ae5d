/* Acknowledge, shelve, clear by hand: one transaction each, with its event. */
#include <stdio.h>
#include <string.h>

#include "alarms/internal.h"

typedef struct life {
    int64_t id, arg_s;
    const char *actor, *text;
    int64_t now_ms;
} life_t;

typedef struct row {
    int type;
    char state[16];
    bool acked;
} row_t;

static int load(sqlite3 *db, int64_t id, row_t *r, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT type, state, ack_ms IS NOT NULL FROM alarm WHERE id = ?", &s,
                           err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    if (store_next(s, &rc, err, errlen)) {
        r->type = sqlite3_column_int(s, 0);
        snprintf(r->state, sizeof r->state, "%s", (const char *)sqlite3_column_text(s, 1));
        r->acked = sqlite3_column_int(s, 2) != 0;
    } else if (!rc) {
        rc = cm_fail(err, errlen, CM_ERR_NOTFOUND, "no alarm %lld", (long long)id);
    }
    sqlite3_finalize(s);
    return rc;
}

static int check_text(const char *v, const char *field, bool required, char *err, size_t errlen)
{
    if ((required && (!v || !*v)) || (v && strlen(v) > 500))
        return cm_fail(err, errlen, CM_ERR_INVALID, "%s: %s", field,
                       required ? "required, at most 500 bytes" : "at most 500 bytes");
    return CM_OK;
}

static int ack_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    life_t *l = arg;
    row_t r;
    int rc = load(db, l->id, &r, err, errlen);
    if (rc)
        return rc;
    if (r.acked)
        return cm_fail(err, errlen, CM_ERR_CONFLICT, "alarm %lld is already acknowledged",
                       (long long)l->id);
    sqlite3_stmt *s;
    /* A cleared alarm may still be acknowledged (someone saw it); it stays cleared. */
    rc = store_prepare(db,
                       "UPDATE alarm SET ack_by = ?, ack_ms = ?, ack_comment = ?,"
                       " state = CASE WHEN state = 'raised' THEN 'acknowledged' ELSE state END"
                       " WHERE id = ?",
                       &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, l->actor, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, l->now_ms);
    sqlite3_bind_text(s, 3, l->text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, l->id);
    rc = store_step_done(s, err, errlen);
    return rc ? rc : alarm_log_event(db, l->id, l->now_ms, "acknowledged", l->actor, l->text, err,
                                     errlen);
}

static int shelve_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    life_t *l = arg;
    row_t r;
    int rc = load(db, l->id, &r, err, errlen);
    if (rc)
        return rc;
    if (strcmp(r.state, "cleared") == 0)
        return cm_fail(err, errlen, CM_ERR_CONFLICT, "alarm %lld is cleared; nothing to shelve",
                       (long long)l->id);
    sqlite3_stmt *s;
    rc = store_prepare(db,
                       "UPDATE alarm SET shelved_until_ms = ?, shelved_by = ?, shelve_reason = ?"
                       " WHERE id = ?",
                       &s, err, errlen);
    if (rc)
        return rc;
    int64_t until = l->now_ms + l->arg_s * 1000;
    sqlite3_bind_int64(s, 1, until);
    sqlite3_bind_text(s, 2, l->actor, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, l->text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, l->id);
    if ((rc = store_step_done(s, err, errlen)))
        return rc;
    char detail[600], when[24];
    tm_format_bj(until / 1000, when, sizeof when);
    snprintf(detail, sizeof detail, "搁置至 %s: %s", when, l->text);
    return alarm_log_event(db, l->id, l->now_ms, "shelved", l->actor, detail, err, errlen);
}

static int clear_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    life_t *l = arg;
    row_t r;
    int rc = load(db, l->id, &r, err, errlen);
    if (rc)
        return rc;
    if (strcmp(r.state, "cleared") == 0)
        return cm_fail(err, errlen, CM_ERR_CONFLICT, "alarm %lld is already cleared",
                       (long long)l->id);
    alarm_setting_t set;
    if ((rc = alarm_setting_get(db, r.type, &set, err, errlen)))
        return rc;
    if (!set.manual_clear)
        return cm_fail(err, errlen, CM_ERR_CONFLICT,
                       "%s alarms clear only when their condition goes away", alarm_type_name(r.type));
    if ((rc = alarm_do_clear(db, l->id, l->now_ms, l->actor, l->text, err, errlen)))
        return rc;
    /* The episode is over: a condition still present starts a new hold-off
     * and, if it persists, a new alarm. */
    sqlite3_stmt *s;
    rc = store_prepare(db,
                       "UPDATE alarm_pending SET first_ms = ?1, last_ms = max(last_ms, ?1), count = 0,"
                       " held = NULL WHERE type = ?2 AND source = (SELECT source FROM alarm WHERE id = ?3)"
                       " AND latched = 1",
                       &s, err, errlen);
    if (!rc) {
        sqlite3_bind_int64(s, 1, l->now_ms);
        sqlite3_bind_int(s, 2, r.type);
        sqlite3_bind_int64(s, 3, l->id);
        rc = store_step_done(s, err, errlen);
    }
    if (!rc)
        rc = store_prepare(db,
                           "DELETE FROM alarm_pending WHERE type = ? AND latched = 0 AND"
                           " source = (SELECT source FROM alarm WHERE id = ?)",
                           &s, err, errlen);
    if (!rc) {
        sqlite3_bind_int(s, 1, r.type);
        sqlite3_bind_int64(s, 2, l->id);
        rc = store_step_done(s, err, errlen);
    }
    return rc;
}

int alarm_ack(store_t *st, int64_t id, const char *actor, const char *comment, char *err,
              size_t errlen)
{
    int rc = check_text(actor, "by", true, err, errlen);
    if (!rc)
        rc = check_text(comment, "comment", false, err, errlen);
    life_t l = {.id = id, .actor = actor, .text = comment, .now_ms = tm_now_ms()};
    return rc ? rc : store_write(st, ack_job, &l, err, errlen);
}

int alarm_shelve(store_t *st, int64_t id, int64_t duration_s, const char *actor,
                 const char *reason, char *err, size_t errlen)
{
    int rc = check_text(actor, "by", true, err, errlen);
    if (!rc)
        rc = check_text(reason, "reason", true, err, errlen);
    if (!rc && (duration_s < 1 || duration_s > 7 * 86400))
        rc = cm_fail(err, errlen, CM_ERR_INVALID, "duration_s: expected 1..604800 seconds");
    life_t l = {.id = id, .arg_s = duration_s, .actor = actor, .text = reason, .now_ms = tm_now_ms()};
    return rc ? rc : store_write(st, shelve_job, &l, err, errlen);
}

int alarm_clear(store_t *st, int64_t id, const char *actor, const char *reason, char *err,
                size_t errlen)
{
    int rc = check_text(actor, "by", true, err, errlen);
    if (!rc)
        rc = check_text(reason, "reason", true, err, errlen);
    life_t l = {.id = id, .actor = actor, .text = reason, .now_ms = tm_now_ms()};
    return rc ? rc : store_write(st, clear_job, &l, err, errlen);
}
