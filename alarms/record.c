/* Transitions, upload records and the JSON form of an alarm. */
#include <stdio.h>
#include <string.h>

#include "alarms/internal.h"

int alarm_log_event(sqlite3 *db, int64_t alarm_id, int64_t ts_ms, const char *kind,
                    const char *actor, const char *detail, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO alarm_event(alarm_id, ts_ms, kind, actor, detail)"
                           " VALUES (?, ?, ?, ?, ?)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, alarm_id);
    sqlite3_bind_int64(s, 2, ts_ms);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, actor, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, detail, -1, SQLITE_TRANSIENT);
    return store_step_done(s, err, errlen);
}

void alarm_note(tick_ctx_t *t, int64_t alarm_id, int type, int level, const char *kind,
                const char *source, const char *detail)
{
    t->total++;
    if (t->ntrans >= ALARM_MAX_TRANS)
        return; /* the hooks see the first ones; the table has them all */
    alarm_trans_t *x = &t->trans[t->ntrans++];
    x->alarm_id = alarm_id;
    x->type = type;
    x->level = level;
    snprintf(x->kind, sizeof x->kind, "%s", kind);
    snprintf(x->source, sizeof x->source, "%s", source ? source : "");
    snprintf(x->detail, sizeof x->detail, "%s", detail ? detail : "");
}

/* Cut s to at most max bytes without splitting a UTF-8 character. */
static void utf8_cut(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    s[max] = '\0';
}

/* uplink.md §3 `alarm`: alarmType, level, source (≤100), raisedAt, clearedAt?,
 * detail (≤2000). Longer texts are cut for the wire; the alarm keeps them whole. */
int alarm_put_upload(sqlite3 *db, int64_t alarm_id, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT type, level, source, raised_ms, cleared_ms, detail, origin"
                           " FROM alarm WHERE id = ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, alarm_id);
    if ((rc = store_step(s, err, errlen)) <= 0) {
        sqlite3_finalize(s);
        return rc < 0 ? rc : cm_fail(err, errlen, CM_ERR_NOTFOUND, "no alarm %lld", (long long)alarm_id);
    }
    if (sqlite3_column_type(s, 6) != SQLITE_NULL) { /* an enterprise's: it uploads its own */
        sqlite3_finalize(s);
        return CM_OK;
    }
    int type = sqlite3_column_int(s, 0);
    char id[32], detail[1200], source[200];
    snprintf(source, sizeof source, "%s", (const char *)sqlite3_column_text(s, 2));
    utf8_cut(source, 100);
    snprintf(id, sizeof id, "%lld", (long long)alarm_id);
    /* Motor vibration has no number upward: say so in the text of a device fault. */
    snprintf(detail, sizeof detail, "%s%s%s", type == ALARM_T_VIBRATION ? alarm_type_label(type) : "",
             type == ALARM_T_VIBRATION ? ": " : "", (const char *)sqlite3_column_text(s, 5));
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", id);
    cJSON_AddNumberToObject(r, "alarmType", alarm_type_uplink(type));
    cJSON_AddNumberToObject(r, "level", sqlite3_column_int(s, 1));
    cJSON_AddStringToObject(r, "source", source);
    tm_json_add(r, "raisedAt", sqlite3_column_int64(s, 3), TM_JSON_BJ_FROM_MS);
    if (sqlite3_column_type(s, 4) != SQLITE_NULL)
        tm_json_add(r, "clearedAt", sqlite3_column_int64(s, 4), TM_JSON_BJ_FROM_MS);
    cJSON_AddStringToObject(r, "detail", detail);
    sqlite3_finalize(s);
    rc = store_outbox_put(db, "alarm", id, r, true, err, errlen);
    cJSON_Delete(r);
    return rc;
}

int alarm_do_clear(sqlite3 *db, int64_t id, int64_t now_ms, const char *actor, const char *reason,
                   char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "UPDATE alarm SET state = 'cleared', cleared_ms = ?, cleared_by = ?,"
                           " clear_reason = ?, shelved_until_ms = NULL"
                           " WHERE id = ? AND state <> 'cleared'",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_text(s, 2, actor, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, id);
    if ((rc = store_step_done(s, err, errlen)))
        return rc;
    if (sqlite3_changes(db) == 0)
        return cm_fail(err, errlen, CM_ERR_CONFLICT, "alarm %lld is already cleared", (long long)id);
    rc = alarm_log_event(db, id, now_ms, "cleared", actor, reason, err, errlen);
    return rc ? rc : alarm_put_upload(db, id, err, errlen);
}

static void add_text(cJSON *o, const char *key, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (t)
        cJSON_AddStringToObject(o, key, (const char *)t);
    else
        cJSON_AddNullToObject(o, key);
}

static void add_iso(cJSON *o, const char *key, sqlite3_stmt *s, int col)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    char buf[40];
    tm_format_bj_iso_ms(sqlite3_column_int64(s, col), buf, sizeof buf);
    cJSON_AddStringToObject(o, key, buf);
}

static void add_num(cJSON *o, const char *key, sqlite3_stmt *s, int col)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, sqlite3_column_double(s, col));
}

cJSON *alarm_row_json(sqlite3_stmt *s, int c)
{
    cJSON *o = cJSON_CreateObject();
    int type = sqlite3_column_int(s, c + 1), level = sqlite3_column_int(s, c + 2);
    cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(s, c));
    cJSON_AddNumberToObject(o, "type", type);
    cJSON_AddStringToObject(o, "type_name", alarm_type_name(type) ? alarm_type_name(type) : "?");
    cJSON_AddStringToObject(o, "label", alarm_type_label(type) ? alarm_type_label(type) : "?");
    cJSON_AddStringToObject(o, "level", alarm_level_name(level) ? alarm_level_name(level) : "?");
    cJSON_AddNumberToObject(o, "level_no", level);
    add_text(o, "source", s, c + 3);
    add_text(o, "device", s, c + 4);
    add_text(o, "state", s, c + 5);
    add_iso(o, "first_seen", s, c + 6);
    add_iso(o, "raised_at", s, c + 7);
    add_iso(o, "last_seen", s, c + 8);
    cJSON_AddNumberToObject(o, "count", sqlite3_column_int(s, c + 9));
    add_num(o, "value", s, c + 10);
    add_num(o, "worst", s, c + 11);
    add_text(o, "detail", s, c + 12);
    if (sqlite3_column_type(s, c + 13) != SQLITE_NULL) {
        cJSON *a = cJSON_AddObjectToObject(o, "ack");
        add_text(a, "by", s, c + 13);
        add_iso(a, "at", s, c + 14);
        add_text(a, "comment", s, c + 15);
    } else {
        cJSON_AddNullToObject(o, "ack");
    }
    bool shelved = sqlite3_column_type(s, c + 16) != SQLITE_NULL;
    if (shelved) {
        cJSON *sh = cJSON_AddObjectToObject(o, "shelved");
        add_iso(sh, "until", s, c + 16);
        add_text(sh, "by", s, c + 17);
        add_text(sh, "reason", s, c + 18);
    } else {
        cJSON_AddNullToObject(o, "shelved");
    }
    add_text(o, "inhibited", s, c + 19);
    add_text(o, "origin", s, c + 23);
    if (sqlite3_column_type(s, c + 20) != SQLITE_NULL) {
        cJSON *cl = cJSON_AddObjectToObject(o, "cleared");
        add_iso(cl, "at", s, c + 20);
        add_text(cl, "by", s, c + 21);
        add_text(cl, "reason", s, c + 22);
    } else {
        cJSON_AddNullToObject(o, "cleared");
    }
    return o;
}
