/* The query layer (core.h "Helpers for SQL"): a step that is not a row and
 * not done is an error, never an empty result. */
#include "core/core.h"

static int step_failed(sqlite3_stmt *s, int code, char *err, size_t errlen)
{
    sqlite3 *db = sqlite3_db_handle(s);
    /* sqlite3_errmsg() describes the last call on the connection, which is
     * this step; errstr() is the fallback if another call got in between. */
    const char *msg = db && sqlite3_errcode(db) == code ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    return cm_fail(err, errlen, CM_ERR_DB, "%s", msg);
}

void store_bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
    if (v && v[0])
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

int store_step(sqlite3_stmt *s, char *err, size_t errlen)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return step_failed(s, rc, err, errlen);
}

bool store_next(sqlite3_stmt *s, int *rc, char *err, size_t errlen)
{
    int r = store_step(s, err, errlen);
    if (r < 0)
        *rc = r;
    return r > 0;
}

int store_check_done(sqlite3_stmt *s, int last, char *err, size_t errlen)
{
    return last == SQLITE_DONE ? CM_OK : step_failed(s, last, err, errlen);
}

int store_step_done(sqlite3_stmt *s, char *err, size_t errlen)
{
    int r = sqlite3_step(s);
    int rc = r == SQLITE_DONE ? CM_OK : step_failed(s, r, err, errlen);
    sqlite3_finalize(s);
    return rc;
}

/* Step once; on success *null is true when there is no row or column 0 is
 * NULL, and *found (when given) says the opposite. The caller reads column 0,
 * then finalizes. */
static int scalar_step(sqlite3_stmt *s, bool *null, bool *found, char *err, size_t errlen)
{
    int r = store_step(s, err, errlen);
    if (r < 0)
        return r;
    *null = r == 0 || sqlite3_column_type(s, 0) == SQLITE_NULL;
    if (found)
        *found = !*null;
    return CM_OK;
}

int store_q_double(sqlite3_stmt *s, double dflt, double *out, bool *found, char *err,
                   size_t errlen)
{
    bool null;
    int rc = scalar_step(s, &null, found, err, errlen);
    if (!rc)
        *out = null ? dflt : sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return rc;
}

int store_q_int64(sqlite3_stmt *s, int64_t dflt, int64_t *out, bool *found, char *err,
                  size_t errlen)
{
    bool null;
    int rc = scalar_step(s, &null, found, err, errlen);
    if (!rc)
        *out = null ? dflt : sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc;
}
