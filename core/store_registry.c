/* Devices, points and communication state: the registry every module shares. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"

int store_device_upsert(sqlite3 *db, const char *name, const char *kind, const char *model,
                        const char *serial, int64_t *id, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO device(name, kind, model, serial) VALUES (?1, ?2, ?3, ?4)"
                           " ON CONFLICT(name) DO UPDATE SET kind = excluded.kind,"
                           " model = excluded.model,"
                           " serial = coalesce(excluded.serial, device.serial)"
                           " RETURNING id",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, kind, -1, SQLITE_TRANSIENT);
    store_bind_text_or_null(s, 3, model);
    store_bind_text_or_null(s, 4, serial);
    if (sqlite3_step(s) == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    else
        rc = cm_fail(err, errlen, CM_ERR_DB, "device %s: %s", name, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

int store_point_upsert(sqlite3 *db, int64_t device_id, const char *name, const char *unit,
                       const char *quantity, int64_t *id, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO point(device_id, name, unit, quantity) VALUES (?1, ?2, ?3, ?4)"
                           " ON CONFLICT(device_id, name) DO UPDATE SET unit = excluded.unit,"
                           " quantity = excluded.quantity RETURNING id",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, unit ? unit : "", -1, SQLITE_TRANSIENT);
    store_bind_text_or_null(s, 4, quantity);
    if (sqlite3_step(s) == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    else
        rc = cm_fail(err, errlen, CM_ERR_DB, "point %s: %s", name, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

int store_device_set_comm(sqlite3 *db, int64_t device_id, const char *state, int64_t ts_ms,
                          const char *detail, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    /* since_ms moves only when the state changes; last_ok_ms only when online. */
    int rc = store_prepare(
        db,
        "INSERT INTO device_comm(device_id, state, since_ms, last_ok_ms, detail)"
        " VALUES (?1, ?2, ?3, CASE WHEN ?2 = 'online' THEN ?3 END, ?4)"
        " ON CONFLICT(device_id) DO UPDATE SET"
        " since_ms = CASE WHEN state = excluded.state THEN since_ms ELSE excluded.since_ms END,"
        " state = excluded.state, detail = excluded.detail,"
        " last_ok_ms = coalesce(excluded.last_ok_ms, last_ok_ms)",
        &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_text(s, 2, state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, ts_ms);
    store_bind_text_or_null(s, 4, detail);
    return store_step_done(s, err, errlen);
}

int cm_mkdir_p(const char *path, char *err, size_t errlen)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return cm_fail(err, errlen, CM_ERR_INVALID, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return cm_fail(err, errlen, CM_ERR_IO, "%s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0750) != 0 && errno != EEXIST)
        return cm_fail(err, errlen, CM_ERR_IO, "%s: %s", buf, strerror(errno));
    return CM_OK;
}
