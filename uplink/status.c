/* Queue depth, age and set-aside records per destination; the upload log (UPL-3). */
#include <stdio.h>
#include <string.h>

#include "uplink/uplink.h"

static void add_text(cJSON *o, const char *key, sqlite3_stmt *s, int col)
{
    const char *t = (const char *)sqlite3_column_text(s, col);
    if (t)
        cJSON_AddStringToObject(o, key, t);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *aside_list(sqlite3 *db, const char *dest, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "SELECT d.seq, d.record_type, o.record_id, d.attempts, d.last_code,"
                      " d.last_message, d.last_try_ms FROM uplink_delivery d JOIN outbox_record o"
                      " ON o.seq = d.seq WHERE d.dest = ? AND d.state = 'aside' ORDER BY d.seq"
                      " LIMIT 100",
                      &s, err, errlen))
        return NULL;
    sqlite3_bind_text(s, 1, dest, -1, SQLITE_TRANSIENT);
    cJSON *arr = cJSON_CreateArray();
    int rc = CM_OK;
    while (store_next(s, &rc, err, errlen)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", (double)sqlite3_column_int64(s, 0));
        add_text(o, "record_type", s, 1);
        add_text(o, "record_id", s, 2);
        cJSON_AddNumberToObject(o, "attempts", sqlite3_column_int(s, 3));
        cJSON_AddNumberToObject(o, "code", sqlite3_column_int(s, 4));
        add_text(o, "response", s, 5);
        tm_json_add_col(o, "last_try", s, 6, TM_JSON_BJ_FROM_MS);
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

cJSON *upl_queue_status(sqlite3 *db, int64_t now_ms, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "SELECT u.name,"
                      " (SELECT count(*) FROM uplink_delivery d WHERE d.dest = u.name AND d.state = 'pending'),"
                      " (SELECT min(o.produced_ms) FROM uplink_delivery d JOIN outbox_record o ON"
                      "   o.seq = d.seq WHERE d.dest = u.name AND d.state = 'pending'),"
                      " (SELECT count(*) FROM uplink_delivery d WHERE d.dest = u.name AND d.state = 'aside'),"
                      " (SELECT count(*) FROM uplink_delivery d WHERE d.dest = u.name AND d.state = 'sent'),"
                      " (SELECT max(ts_ms) FROM uplink_log l WHERE l.dest = u.name AND l.outcome = 'delivered'),"
                      " (SELECT ts_ms || ' ' || code || ' ' || coalesce(message, '') FROM uplink_log l"
                      "   WHERE l.dest = u.name ORDER BY id DESC LIMIT 1)"
                      " FROM uplink_dest u ORDER BY u.name",
                      &s, err, errlen))
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    int rc = CM_OK;
    while (!rc && store_next(s, &rc, err, errlen)) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "destination", name);
        cJSON_AddNumberToObject(o, "pending", sqlite3_column_int(s, 1));
        if (sqlite3_column_type(s, 2) == SQLITE_NULL)
            cJSON_AddNullToObject(o, "oldest_age_s");
        else
            cJSON_AddNumberToObject(o, "oldest_age_s",
                                    (double)((now_ms - sqlite3_column_int64(s, 2)) / 1000));
        cJSON_AddNumberToObject(o, "aside", sqlite3_column_int(s, 3));
        cJSON_AddNumberToObject(o, "delivered", sqlite3_column_int(s, 4));
        tm_json_add_col(o, "last_delivered", s, 5, TM_JSON_BJ_FROM_MS);
        const char *last = (const char *)sqlite3_column_text(s, 6);
        if (last) {
            long long ts = 0;
            int code = 0, n = 0;
            sscanf(last, "%lld %d %n", &ts, &code, &n);
            char when[32];
            tm_format_bj(ts / 1000, when, sizeof when);
            cJSON *la = cJSON_AddObjectToObject(o, "last_attempt");
            cJSON_AddStringToObject(la, "time", when);
            cJSON_AddNumberToObject(la, "code", code);
            cJSON_AddStringToObject(la, "message", last + n);
        } else
            cJSON_AddNullToObject(o, "last_attempt");
        cJSON *aside = aside_list(db, name, err, errlen);
        if (!aside) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            sqlite3_finalize(s);
            return NULL;
        }
        cJSON_AddItemToObject(o, "aside_records", aside);
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

cJSON *upl_log_list(sqlite3 *db, const char *dest, int limit, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "SELECT ts_ms, dest, record_type, n_records, first_seq, last_seq, http_status,"
                      " code, message, elapsed_ms, outcome FROM uplink_log WHERE (?1 IS NULL OR"
                      " dest = ?1) ORDER BY id DESC LIMIT ?2",
                      &s, err, errlen))
        return NULL;
    dest ? sqlite3_bind_text(s, 1, dest, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, 1);
    sqlite3_bind_int(s, 2, limit);
    cJSON *arr = cJSON_CreateArray();
    int rc = CM_OK;
    while (store_next(s, &rc, err, errlen)) {
        cJSON *o = cJSON_CreateObject();
        tm_json_add_col(o, "time", s, 0, TM_JSON_BJ_FROM_MS);
        add_text(o, "destination", s, 1);
        add_text(o, "record_type", s, 2);
        cJSON_AddNumberToObject(o, "records", sqlite3_column_int(s, 3));
        cJSON_AddNumberToObject(o, "first_seq", (double)sqlite3_column_int64(s, 4));
        cJSON_AddNumberToObject(o, "last_seq", (double)sqlite3_column_int64(s, 5));
        cJSON_AddNumberToObject(o, "http_status", sqlite3_column_int(s, 6));
        cJSON_AddNumberToObject(o, "code", sqlite3_column_int(s, 7));
        add_text(o, "message", s, 8);
        cJSON_AddNumberToObject(o, "elapsed_ms", (double)sqlite3_column_int64(s, 9));
        add_text(o, "outcome", s, 10);
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}
