/* The platform's enterprise registry: who may report to us, with which key. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uplink/uplink.h"

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return n > 0;
}

int upl_enterprise_put_job(sqlite3 *db, const char *code, const char *name, const char *kind,
                           const char *key, const char *iv, double capacity_t, char *err,
                           size_t errlen)
{
    if (!code || !*code || strlen(code) > 31)
        return cm_fail(err, errlen, CM_ERR_INVALID, "code: required, at most 31 characters");
    if (!name || !*name)
        return cm_fail(err, errlen, CM_ERR_INVALID, "name: required");
    if (kind && strcmp(kind, "mine") && strcmp(kind, "platform"))
        return cm_fail(err, errlen, CM_ERR_INVALID, "kind: expected mine or platform");
    upl_key_t k;
    if ((key || iv) && upl_key_set(&k, key, iv, err, errlen))
        return CM_ERR_INVALID;
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO enterprise(code, name, kind, aes_key, aes_iv, capacity_t,"
                           " created_ms) VALUES (?1, ?2, coalesce(?3, 'mine'), ?4, ?5, ?6, ?7)"
                           " ON CONFLICT(code) DO UPDATE SET name = ?2,"
                           " kind = coalesce(?3, kind), aes_key = coalesce(?4, aes_key),"
                           " aes_iv = coalesce(?5, aes_iv), capacity_t = coalesce(?6, capacity_t)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    kind ? sqlite3_bind_text(s, 3, kind, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, 3);
    key ? sqlite3_bind_text(s, 4, key, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, 4);
    iv ? sqlite3_bind_text(s, 5, iv, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, 5);
    capacity_t > 0 ? sqlite3_bind_double(s, 6, capacity_t) : sqlite3_bind_null(s, 6);
    sqlite3_bind_int64(s, 7, tm_now_ms());
    rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK : cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

/* One line of the seed's §5.4 table: "<n>\t<name>\t<code>" (tabs or commas). */
static bool parse_line(char *line, const char **name, const char **code)
{
    char *fields[8];
    int n = 0;
    for (char *save = NULL, *f = strtok_r(line, "\t,", &save); f && n < 8;
         f = strtok_r(NULL, "\t,", &save)) {
        while (isspace((unsigned char)*f))
            f++;
        size_t l = strlen(f);
        while (l && isspace((unsigned char)f[l - 1]))
            f[--l] = 0;
        fields[n++] = f;
    }
    *name = *code = NULL;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(fields[i]);
        if (l == 9 && all_digits(fields[i], l))
            *code = fields[i];
        else if (l && !all_digits(fields[i], l) && !*name)
            *name = fields[i];
    }
    return *name && *code;
}

int upl_enterprise_import_job(sqlite3 *db, const char *text, int *added, int *skipped, char *err,
                              size_t errlen)
{
    char *copy = strdup(text);
    if (!copy)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT OR IGNORE INTO enterprise(code, name, created_ms) VALUES (?, ?, ?)",
                           &s, err, errlen);
    *added = *skipped = 0;
    for (char *save = NULL, *line = rc ? NULL : strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        const char *name, *code;
        if (!parse_line(line, &name, &code))
            continue;
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 3, tm_now_ms());
        if (sqlite3_step(s) != SQLITE_DONE) {
            rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
            break;
        }
        if (sqlite3_changes(db))
            (*added)++;
        else
            (*skipped)++;
    }
    sqlite3_finalize(s);
    free(copy);
    return rc;
}

cJSON *upl_enterprise_list(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "SELECT code, name, kind, aes_key IS NOT NULL AND aes_iv IS NOT NULL,"
                      " capacity_t, last_contact_ms FROM enterprise ORDER BY code",
                      &s, err, errlen))
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    int rc = CM_OK;
    while (store_next(s, &rc, err, errlen)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "code", (const char *)sqlite3_column_text(s, 0));
        cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(s, 1));
        cJSON_AddStringToObject(o, "kind", (const char *)sqlite3_column_text(s, 2));
        cJSON_AddBoolToObject(o, "has_key", sqlite3_column_int(s, 3));
        if (sqlite3_column_type(s, 4) != SQLITE_NULL)
            cJSON_AddNumberToObject(o, "capacity_t", sqlite3_column_double(s, 4));
        else
            cJSON_AddNullToObject(o, "capacity_t");
        if (sqlite3_column_type(s, 5) != SQLITE_NULL) {
            char when[32];
            tm_format_bj(sqlite3_column_int64(s, 5) / 1000, when, sizeof when);
            cJSON_AddStringToObject(o, "last_contact", when);
        } else
            cJSON_AddNullToObject(o, "last_contact");
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}
