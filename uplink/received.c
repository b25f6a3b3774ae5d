/* The records an enterprise sent us, as the county screen drills into them
 * (issue 8, UPL-4): newest first, filtered by type and received time. */
#include <stdio.h>
#include <string.h>

#include "uplink/uplink.h"

static bool enterprise_known(sqlite3 *db, const char *code, int *rc, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    *rc = store_prepare(db, "SELECT 1 FROM enterprise WHERE code = ?", &s, err, errlen);
    if (*rc)
        return false;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
    int step = store_step(s, err, errlen);
    sqlite3_finalize(s);
    bool known = step > 0;
    if (step < 0) {
        *rc = step;
        return false;
    }
    if (!known) {
        snprintf(err, errlen, "no enterprise %s", code);
        *rc = CM_ERR_NOTFOUND;
    }
    return known;
}

/* ?2 NULL: every type. The bounds are received time in ms, [?3, ?4). */
#define RECEIVED_WHERE                                                                             \
    " FROM uplink_received WHERE ent = ?1 AND (?2 IS NULL OR record_type = ?2)"                    \
    " AND received_ms >= ?3 AND received_ms < ?4"

static void bind_filter(sqlite3_stmt *s, const upl_records_q_t *q)
{
    sqlite3_bind_text(s, 1, q->code, -1, SQLITE_TRANSIENT);
    if (q->type)
        sqlite3_bind_text(s, 2, q->type, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 2);
    sqlite3_bind_int64(s, 3, q->from_s > 0 ? q->from_s * 1000 : 0);
    sqlite3_bind_int64(s, 4, q->to_s > 0 ? q->to_s * 1000 : INT64_MAX);
}

static cJSON *record_json(sqlite3_stmt *s)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "type", (const char *)sqlite3_column_text(s, 0));
    cJSON_AddStringToObject(r, "id", (const char *)sqlite3_column_text(s, 1));
    tm_json_add(r, "received", sqlite3_column_int64(s, 2), TM_JSON_BJ_FROM_MS);
    cJSON_AddNumberToObject(r, "revisions", sqlite3_column_int(s, 3));
    if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
        cJSON_AddStringToObject(r, "series", (const char *)sqlite3_column_text(s, 4));
        tm_json_add(r, "start", sqlite3_column_int64(s, 5), TM_JSON_BJ);
        tm_json_add(r, "end", sqlite3_column_int64(s, 6), TM_JSON_BJ);
    }
    const char *body = (const char *)sqlite3_column_text(s, 7);
    cJSON *b = cJSON_Parse(body);
    /* The receiver stored it validated; a body that no longer parses is shown as text. */
    if (b)
        cJSON_AddItemToObject(r, "body", b);
    else
        cJSON_AddStringToObject(r, "body", body ? body : "");
    return r;
}

int upl_received_list(sqlite3 *db, const upl_records_q_t *q, cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc;
    if (!enterprise_known(db, q->code, &rc, err, errlen))
        return rc;
    sqlite3_stmt *s;
    if (store_prepare(db, "SELECT count(*)" RECEIVED_WHERE, &s, err, errlen))
        return CM_ERR_DB;
    bind_filter(s, q);
    double total = 0;
    if ((rc = store_q_double(s, 0, &total, NULL, err, errlen)))
        return rc;
    if (store_prepare(db,
                      "SELECT record_type, record_id, received_ms, revisions, series, start_s,"
                      " end_s, body" RECEIVED_WHERE " ORDER BY received_ms DESC, id DESC"
                      " LIMIT ?5 OFFSET ?6",
                      &s, err, errlen))
        return CM_ERR_DB;
    bind_filter(s, q);
    sqlite3_bind_int(s, 5, q->limit);
    sqlite3_bind_int(s, 6, q->offset);
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "code", q->code);
    cJSON_AddNumberToObject(o, "total", total);
    cJSON_AddNumberToObject(o, "limit", q->limit);
    cJSON_AddNumberToObject(o, "offset", q->offset);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        cJSON_AddItemToArray(arr, record_json(s));
    sqlite3_finalize(s);
    cJSON_AddItemToObject(o, "records", arr);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "reading received records: %s", sqlite3_errmsg(db));
        cJSON_Delete(o);
        return CM_ERR_DB;
    }
    *out = o;
    return CM_OK;
}
