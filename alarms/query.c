/* Reading alarms: filtered lists, one alarm with its history, pending
 * conditions, and the transitions feed behind the event stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms/internal.h"

static int bad(char *field, size_t fieldlen, const char *key, char *err, size_t errlen,
               const char *what)
{
    snprintf(field, fieldlen, "%s", key);
    return cm_fail(err, errlen, CM_ERR_INVALID, "%s: %s", key, what);
}

static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return CM_ERR_INVALID;
    *out = v;
    return CM_OK;
}

int alarm_filter_parse(alarm_filter_t *f, alarm_get_fn get, void *arg, char *field,
                       size_t fieldlen, char *err, size_t errlen)
{
    static const char *const states[] = {"active", "cleared", "all", "raised", "acknowledged",
                                         "shelved", NULL};
    memset(f, 0, sizeof *f);
    f->state = "active";
    f->limit = 200;
    const char *v;
    if ((v = get(arg, "state"))) {
        int i = 0;
        while (states[i] && strcmp(states[i], v))
            i++;
        if (!states[i])
            return bad(field, fieldlen, "state", err, errlen,
                       "expected active, cleared, all, raised, acknowledged or shelved");
        f->state = states[i];
    }
    if ((v = get(arg, "type")) && alarm_type_parse(v, &f->type))
        return bad(field, fieldlen, "type", err, errlen, "unknown alarm type");
    if ((v = get(arg, "level")) && alarm_level_parse(v, &f->min_level))
        return bad(field, fieldlen, "level", err, errlen, "expected notice, warning or serious");
    f->source = get(arg, "source");
    f->origin = get(arg, "origin");
    const char *keys[2] = {"from", "to"};
    int64_t *dst[2] = {&f->from_ms, &f->to_ms};
    for (int i = 0; i < 2; i++) {
        int64_t epoch;
        if ((v = get(arg, keys[i]))) {
            if (tm_parse_bj(v, &epoch))
                return bad(field, fieldlen, keys[i], err, errlen,
                           "expected yyyy-MM-dd[ HH:mm[:ss]] (Beijing time)");
            *dst[i] = epoch * 1000;
        }
    }
    long long n;
    if ((v = get(arg, "limit"))) {
        if (parse_int(v, 1, 1000, &n))
            return bad(field, fieldlen, "limit", err, errlen, "expected 1..1000");
        f->limit = (int)n;
    }
    if ((v = get(arg, "offset"))) {
        if (parse_int(v, 0, 1000000000, &n))
            return bad(field, fieldlen, "offset", err, errlen, "expected a number >= 0");
        f->offset = (int)n;
    }
    return CM_OK;
}

/* One WHERE clause with every filter optional, so the SQL is fixed text and
 * every value is bound. */
#define FILTER_WHERE                                                                            \
    " WHERE (?1 = 'all'"                                                                        \
    " OR (?1 = 'active' AND a.state <> 'cleared' AND (a.shelved_until_ms IS NULL))"             \
    " OR (?1 = 'shelved' AND a.state <> 'cleared' AND a.shelved_until_ms IS NOT NULL)"          \
    " OR (?1 IN ('raised', 'acknowledged', 'cleared') AND a.state = ?1))"                       \
    " AND (?2 = 0 OR a.type = ?2) AND (?3 IS NULL OR a.source = ?3) AND a.level >= ?4"          \
    " AND (?5 = 0 OR a.raised_ms >= ?5) AND (?6 = 0 OR a.raised_ms < ?6)"                      \
    " AND (?9 IS NULL OR a.origin = ?9 OR (?9 = 'local' AND a.origin IS NULL))"

static void bind_filter(sqlite3_stmt *s, const alarm_filter_t *f)
{
    sqlite3_bind_text(s, 1, f->state ? f->state : "active", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, f->type);
    sqlite3_bind_text(s, 3, f->source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 4, f->min_level);
    sqlite3_bind_int64(s, 5, f->from_ms);
    sqlite3_bind_int64(s, 6, f->to_ms);
    sqlite3_bind_text(s, 9, f->origin, -1, SQLITE_TRANSIENT);
}

int alarm_list_json(sqlite3 *db, const alarm_filter_t *f, cJSON **out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT " ALARM_COLS " FROM alarm a" FILTER_WHERE
                           " ORDER BY a.state = 'cleared', a.level DESC, a.raised_ms DESC, a.id DESC"
                           " LIMIT ?7 OFFSET ?8",
                           &s, err, errlen);
    if (rc)
        return rc;
    bind_filter(s, f);
    sqlite3_bind_int(s, 7, f->limit > 0 ? f->limit : 200);
    sqlite3_bind_int(s, 8, f->offset);
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "alarms");
    while (!rc && store_next(s, &rc, err, errlen))
        cJSON_AddItemToArray(arr, alarm_row_json(s, 0));
    sqlite3_finalize(s);
    if (!rc)
        rc = store_prepare(db, "SELECT count(*) FROM alarm a" FILTER_WHERE, &s, err, errlen);
    double total = 0;
    if (!rc) {
        bind_filter(s, f);
        rc = store_q_double(s, 0, &total, NULL, err, errlen);
    }
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    cJSON_AddNumberToObject(root, "total", total);
    *out = root;
    return CM_OK;
}

static cJSON *event_json(sqlite3_stmt *s)
{
    cJSON *e = cJSON_CreateObject();
    char ts[40];
    cJSON_AddNumberToObject(e, "id", (double)sqlite3_column_int64(s, 0));
    cJSON_AddNumberToObject(e, "alarm_id", (double)sqlite3_column_int64(s, 1));
    cJSON_AddStringToObject(e, "kind", (const char *)sqlite3_column_text(s, 2));
    tm_format_bj_iso_ms(sqlite3_column_int64(s, 3), ts, sizeof ts);
    cJSON_AddStringToObject(e, "ts", ts);
    const unsigned char *actor = sqlite3_column_text(s, 4), *detail = sqlite3_column_text(s, 5);
    if (actor)
        cJSON_AddStringToObject(e, "actor", (const char *)actor);
    else
        cJSON_AddNullToObject(e, "actor");
    if (detail)
        cJSON_AddStringToObject(e, "detail", (const char *)detail);
    else
        cJSON_AddNullToObject(e, "detail");
    return e;
}

int alarm_get_json(sqlite3 *db, int64_t id, cJSON **out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT " ALARM_COLS " FROM alarm a WHERE a.id = ?", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    cJSON *a = store_next(s, &rc, err, errlen) ? alarm_row_json(s, 0) : NULL;
    sqlite3_finalize(s);
    if (rc)
        return rc;
    if (!a)
        return cm_fail(err, errlen, CM_ERR_NOTFOUND, "no alarm %lld", (long long)id);
    rc = store_prepare(db,
                       "SELECT id, alarm_id, kind, ts_ms, actor, detail FROM alarm_event"
                       " WHERE alarm_id = ? ORDER BY id",
                       &s, err, errlen);
    if (rc) {
        cJSON_Delete(a);
        return rc;
    }
    sqlite3_bind_int64(s, 1, id);
    cJSON *events = cJSON_AddArrayToObject(a, "events");
    while (!rc && store_next(s, &rc, err, errlen))
        cJSON_AddItemToArray(events, event_json(s));
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(a);
        return rc;
    }
    *out = a;
    return CM_OK;
}

int alarm_pending_json(sqlite3 *db, cJSON **out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT type, source, device, first_ms, last_ms, count, latched, held,"
                           " detail FROM alarm_pending p WHERE NOT EXISTS (SELECT 1 FROM alarm a"
                           " WHERE a.type = p.type AND a.source = p.source AND a.state <> 'cleared')"
                           " ORDER BY first_ms",
                           &s, err, errlen);
    if (rc)
        return rc;
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "pending");
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *p = cJSON_CreateObject();
        int type = sqlite3_column_int(s, 0);
        char ts[40];
        cJSON_AddNumberToObject(p, "type", type);
        cJSON_AddStringToObject(p, "type_name", alarm_type_name(type) ? alarm_type_name(type) : "?");
        cJSON_AddStringToObject(p, "label", alarm_type_label(type) ? alarm_type_label(type) : "?");
        cJSON_AddStringToObject(p, "source", (const char *)sqlite3_column_text(s, 1));
        if (sqlite3_column_text(s, 2))
            cJSON_AddStringToObject(p, "device", (const char *)sqlite3_column_text(s, 2));
        tm_format_bj_iso_ms(sqlite3_column_int64(s, 3), ts, sizeof ts);
        cJSON_AddStringToObject(p, "first_seen", ts);
        tm_format_bj_iso_ms(sqlite3_column_int64(s, 4), ts, sizeof ts);
        cJSON_AddStringToObject(p, "last_seen", ts);
        cJSON_AddNumberToObject(p, "count", sqlite3_column_int(s, 5));
        cJSON_AddBoolToObject(p, "latched", sqlite3_column_int(s, 6));
        const unsigned char *held = sqlite3_column_text(s, 7);
        if (held)
            cJSON_AddStringToObject(p, "held", (const char *)held);
        else
            cJSON_AddNullToObject(p, "held");
        cJSON_AddStringToObject(p, "detail", (const char *)sqlite3_column_text(s, 8));
        cJSON_AddItemToArray(arr, p);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    *out = root;
    return CM_OK;
}

int alarm_events_since(sqlite3 *db, int64_t after_id, int max, cJSON **out, int64_t *last,
                       char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT e.id, e.alarm_id, e.kind, e.ts_ms, e.actor, e.detail, " ALARM_COLS
                           " FROM alarm_event e JOIN alarm a ON a.id = e.alarm_id WHERE e.id > ?"
                           " ORDER BY e.id LIMIT ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int(s, 2, max > 0 ? max : 100);
    cJSON *arr = cJSON_CreateArray();
    int64_t before = *last; /* unchanged unless the events are returned */
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *e = event_json(s);
        cJSON_AddItemToObject(e, "alarm", alarm_row_json(s, 6));
        cJSON_AddItemToArray(arr, e);
        *last = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    if (rc) {
        *last = before;
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return CM_OK;
}

int64_t alarm_events_head(sqlite3 *db)
{
    sqlite3_stmt *s;
    int64_t id = 0;
    if (store_prepare(db, "SELECT coalesce(max(id), 0) FROM alarm_event", &s, NULL, 0) == CM_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            id = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    return id;
}
