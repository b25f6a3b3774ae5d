/* The audited path, coefficients with history, and the outbox of records. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

int store_audit(sqlite3 *db, const char *actor, const char *channel, const char *action,
                const char *target, const char *old_value, const char *new_value,
                const char *reason, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO audit_log(actor, channel, action, target, old_value,"
                           " new_value, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, actor ? actor : "unknown", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, channel, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, action, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, target, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, old_value, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, new_value, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 7, reason, -1, SQLITE_TRANSIENT);
    return store_step_done(s, err, errlen);
}

int store_coef_get(sqlite3 *db, const char *name, int64_t at_s, double *value, char *err,
                   size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT value FROM coefficient WHERE name = ? AND valid_from <= ?"
                           " ORDER BY valid_from DESC, id DESC LIMIT 1",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, at_s);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        *value = sqlite3_column_double(s, 0);
    else if (step == SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_NOTFOUND, "no coefficient '%s' in force", name);
    else
        rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

int store_coef_changes(sqlite3 *db, const char *name, int64_t from_s, int64_t to_s, int64_t *at,
                       int max, int *n, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT DISTINCT valid_from FROM coefficient WHERE name = ?"
                           " AND valid_from > ? AND valid_from < ? ORDER BY valid_from LIMIT ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, from_s);
    sqlite3_bind_int64(s, 3, to_s);
    sqlite3_bind_int(s, 4, max);
    *n = 0;
    while (!rc && *n < max && store_next(s, &rc, err, errlen))
        at[(*n)++] = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc;
}

int store_coef_set(sqlite3 *db, const char *name, double value, int64_t valid_from_s,
                   const char *actor, const char *channel, const char *reason, char *err,
                   size_t errlen)
{
    double old;
    char old_s[64] = "", new_s[64];
    bool had = store_coef_get(db, name, valid_from_s, &old, NULL, 0) == CM_OK;
    if (had)
        snprintf(old_s, sizeof old_s, "%.10g", old);
    snprintf(new_s, sizeof new_s, "%.10g", value);
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO coefficient(name, value, valid_from, set_by, reason)"
                           " VALUES (?, ?, ?, ?, ?)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 2, value);
    sqlite3_bind_int64(s, 3, valid_from_s);
    sqlite3_bind_text(s, 4, actor ? actor : "unknown", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, reason, -1, SQLITE_TRANSIENT);
    if ((rc = store_step_done(s, err, errlen)))
        return rc;
    return store_audit(db, actor, channel, "coef.set", name, had ? old_s : NULL, new_s, reason, err,
                       errlen);
}

int store_outbox_put(sqlite3 *db, const char *record_type, const char *record_id,
                     const cJSON *record, bool replace, char *err, size_t errlen)
{
    char *body = cJSON_PrintUnformatted(record);
    if (!body)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           replace ? "INSERT INTO outbox_record(record_type, record_id, body,"
                                     " produced_ms) VALUES (?, ?, ?, ?)"
                                     " ON CONFLICT(record_type, record_id) DO UPDATE SET"
                                     " body = excluded.body, produced_ms = excluded.produced_ms"
                                     " WHERE body <> excluded.body"
                                   : "INSERT OR IGNORE INTO outbox_record(record_type, record_id,"
                                     " body, produced_ms) VALUES (?, ?, ?, ?)",
                           &s, err, errlen);
    if (!rc) {
        sqlite3_bind_text(s, 1, record_type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, record_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, body, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 4, tm_now_ms());
        rc = store_step_done(s, err, errlen);
    }
    cJSON_free(body);
    return rc;
}
