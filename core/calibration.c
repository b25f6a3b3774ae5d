/* Calibration and maintenance operation records (ACQ-5). */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

static bool too_long(const char *s, size_t max) { return s && strlen(s) > max; }

int store_calibration_check(const store_calibration_t *c, int64_t now_s, const char **field,
                            char *err, size_t errlen)
{
    static const char *const kinds[] = {"calibration", "maintenance", "parameter"};
    const char *bad = NULL, *why = NULL;
    bool kind_ok = false;
    for (int i = 0; c->kind && i < 3; i++)
        kind_ok |= strcmp(c->kind, kinds[i]) == 0;
    if (!c->device || !*c->device || too_long(c->device, 50))
        bad = "device", why = "required, at most 50 characters";
    else if (!c->operator_name || !*c->operator_name || too_long(c->operator_name, 50))
        bad = "operator", why = "required, at most 50 characters";
    else if (!kind_ok)
        bad = "kind", why = "expected calibration, maintenance or parameter";
    else if (c->time_s <= 0 || c->time_s > now_s + 60)
        bad = "time", why = "required and not in the future";
    else if (too_long(c->before, 500))
        bad = "before", why = "at most 500 characters";
    else if (too_long(c->after, 500))
        bad = "after", why = "at most 500 characters";
    else if (too_long(c->note, 2000))
        bad = "note", why = "at most 2000 characters";
    if (field)
        *field = bad;
    return bad ? cm_fail(err, errlen, CM_ERR_INVALID, "%s: %s", bad, why) : CM_OK;
}

static cJSON *record_of(const store_calibration_t *c, int64_t id)
{
    char rid[32], when[24];
    snprintf(rid, sizeof rid, "cal-%lld", (long long)id);
    tm_format_bj(c->time_s, when, sizeof when);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", rid);
    cJSON_AddStringToObject(r, "deviceId", c->device);
    cJSON_AddStringToObject(r, "time", when);
    cJSON_AddStringToObject(r, "operator", c->operator_name);
    cJSON_AddStringToObject(r, "kind", c->kind);
    if (c->before && *c->before)
        cJSON_AddStringToObject(r, "before", c->before);
    if (c->after && *c->after)
        cJSON_AddStringToObject(r, "after", c->after);
    if (c->note && *c->note)
        cJSON_AddStringToObject(r, "note", c->note);
    return r;
}

int store_calibration_add(sqlite3 *db, const store_calibration_t *c, const char *actor,
                          const char *channel, int64_t *id, char *err, size_t errlen)
{
    int rc = store_calibration_check(c, tm_now_s(), NULL, err, errlen);
    if (rc)
        return rc;
    sqlite3_stmt *s;
    rc = store_prepare(db,
                       "INSERT INTO calibration(device, time, operator, kind, before_value,"
                       " after_value, note, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                       " RETURNING id",
                       &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, c->device, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, c->time_s);
    sqlite3_bind_text(s, 3, c->operator_name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, c->kind, -1, SQLITE_TRANSIENT);
    store_bind_text_or_null(s, 5, c->before);
    store_bind_text_or_null(s, 6, c->after);
    store_bind_text_or_null(s, 7, c->note);
    store_bind_text_or_null(s, 8, actor ? actor : "unknown");
    if (sqlite3_step(s) == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    else
        rc = cm_fail(err, errlen, CM_ERR_DB, "calibration: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    if (rc)
        return rc;
    char target[96];
    snprintf(target, sizeof target, "%s:%s", c->device, c->kind);
    rc = store_audit(db, actor, channel, "calibration.add", target, c->before, c->after, c->note,
                     err, errlen);
    if (rc)
        return rc;
    cJSON *r = record_of(c, *id);
    char rid[32];
    snprintf(rid, sizeof rid, "cal-%lld", (long long)*id);
    rc = store_outbox_put(db, "calibration", rid, r, false, err, errlen);
    cJSON_Delete(r);
    return rc;
}

typedef struct add_job {
    const store_calibration_t *c;
    const char *actor, *channel;
    int64_t id;
} add_job_t;

static int add_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    add_job_t *j = arg;
    return store_calibration_add(db, j->c, j->actor, j->channel, &j->id, err, errlen);
}

int store_calibration_write(store_t *st, const store_calibration_t *c, const char *actor,
                            const char *channel, int64_t *id, char *err, size_t errlen)
{
    add_job_t j = {.c = c, .actor = actor, .channel = channel};
    int rc = store_write(st, add_job, &j, err, errlen);
    if (!rc)
        *id = j.id;
    return rc;
}

static cJSON *row_json(sqlite3_stmt *s)
{
    static const char *const keys[] = {"id", "device", "time", "operator", "kind",
                                       "before", "after", "note", "recordedBy"};
    cJSON *o = cJSON_CreateObject();
    for (int c = 0; c < 9; c++) {
        if (c == 0) {
            cJSON_AddNumberToObject(o, keys[c], (double)sqlite3_column_int64(s, c));
        } else if (c == 2) {
            char when[24];
            tm_format_bj(sqlite3_column_int64(s, c), when, sizeof when);
            cJSON_AddStringToObject(o, keys[c], when);
        } else if (sqlite3_column_type(s, c) != SQLITE_NULL) {
            cJSON_AddStringToObject(o, keys[c], (const char *)sqlite3_column_text(s, c));
        }
    }
    return o;
}

cJSON *store_calibration_list(sqlite3 *db, const char *device, int64_t from_s, int64_t to_s,
                              int limit, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "SELECT id, device, time, operator, kind, before_value, after_value, note,"
                      " recorded_by FROM calibration WHERE (?1 IS NULL OR device = ?1)"
                      " AND time >= ?2 AND time < ?3 ORDER BY time DESC, id DESC LIMIT ?4",
                      &s, err, errlen))
        return NULL;
    if (device && *device)
        sqlite3_bind_text(s, 1, device, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, from_s);
    sqlite3_bind_int64(s, 3, to_s);
    sqlite3_bind_int(s, 4, limit);
    cJSON *arr = cJSON_CreateArray();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        cJSON_AddItemToArray(arr, row_json(s));
    if (rc != SQLITE_DONE) {
        cm_fail(err, errlen, CM_ERR_DB, "calibration: %s", sqlite3_errmsg(db));
        cJSON_Delete(arr);
        arr = NULL;
    }
    sqlite3_finalize(s);
    return arr;
}
