/* The platform's receiver (UPL-4): body forms, token check, replay guard,
 * validation, idempotent storage and forwarding upward (uplink.md §1, §2). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "uplink/uplink.h"

/* ---- body forms ------------------------------------------------------------ */

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Decode a form value in place. '+' is kept as '+' and a space becomes '+':
 * the values are Base64 or digits, where a space can only be a '+' that a
 * careless encoder left unescaped (uplink.md §1). */
static void form_decode(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            *o = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else
            *o = *p;
        if (*o == ' ')
            *o = '+';
        o++;
    }
    *o = 0;
}

static int parse_form(char *buf, const char **mine, const char **token, const char **data)
{
    for (char *save = NULL, *kv = strtok_r(buf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = 0;
        form_decode(eq + 1);
        if (!strcmp(kv, "mineCode"))
            *mine = eq + 1;
        else if (!strcmp(kv, "token"))
            *token = eq + 1;
        else if (!strcmp(kv, "data"))
            *data = eq + 1;
    }
    return CM_OK;
}

int upl_parse_body(const char *ctype, const char *body, size_t len, char **owned,
                   const char **mine, const char **token, const char **data, char *field,
                   size_t fieldlen, char *err, size_t errlen)
{
    *owned = NULL;
    *mine = *token = *data = NULL;
    *field = 0;
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    bool form = ctype ? strstr(ctype, "x-www-form-urlencoded") != NULL : (i < len && body[i] != '{');
    if (form) {
        if (!(*owned = strndup(body, len)))
            return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        parse_form(*owned, mine, token, data);
    } else {
        cJSON *j = cJSON_ParseWithLength(body, len);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            snprintf(field, fieldlen, "body");
            return cm_fail(err, errlen, CM_ERR_INVALID, "body is not a JSON object");
        }
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "mineCode"));
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "token"));
        const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "data"));
        size_t lm = m ? strlen(m) + 1 : 0, lt = t ? strlen(t) + 1 : 0, ld = d ? strlen(d) + 1 : 0;
        char *buf = malloc(lm + lt + ld + 1);
        if (!buf) {
            cJSON_Delete(j);
            return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        }
        if (m)
            *mine = memcpy(buf, m, lm);
        if (t)
            *token = memcpy(buf + lm, t, lt);
        if (d)
            *data = memcpy(buf + lm + lt, d, ld);
        *owned = buf;
        cJSON_Delete(j);
    }
    const char *missing = !*mine || !**mine     ? "mineCode"
                          : !*token || !**token ? "token"
                          : !*data || !**data   ? "data"
                                                : NULL;
    if (missing) {
        snprintf(field, fieldlen, "%s", missing);
        return cm_fail(err, errlen, CM_ERR_INVALID, "%s: required", missing);
    }
    return CM_OK;
}

/* ---- the receive job ------------------------------------------------------- */

static int answer(upl_answer_t *a, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int answer(upl_answer_t *a, int code, const char *field, const char *fmt, ...)
{
    a->code = code;
    snprintf(a->field, sizeof a->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof a->message, fmt, ap);
    va_end(ap);
    return CM_OK;
}

typedef struct ent_row {
    bool found;
    char kind[16];
    upl_key_t key;
    bool has_key;
} ent_row_t;

static int ent_lookup(sqlite3 *db, const char *code, ent_row_t *e, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    memset(e, 0, sizeof *e);
    int rc = store_prepare(db, "SELECT kind, aes_key, aes_iv FROM enterprise WHERE code = ?", &s,
                           err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
    if (store_next(s, &rc, err, errlen)) {
        e->found = true;
        snprintf(e->kind, sizeof e->kind, "%s", (const char *)sqlite3_column_text(s, 0));
        const char *k = (const char *)sqlite3_column_text(s, 1);
        const char *iv = (const char *)sqlite3_column_text(s, 2);
        e->has_key = k && iv && upl_key_set(&e->key, k, iv, NULL, 0) == CM_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

/* SHA-256 of mineCode, token and data, hex: what a replayed request would repeat. */
static void request_digest(const upl_request_t *rq, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1) {
        EVP_DigestUpdate(c, rq->mine_code, strlen(rq->mine_code) + 1);
        EVP_DigestUpdate(c, rq->token, strlen(rq->token) + 1);
        EVP_DigestUpdate(c, rq->data, strlen(rq->data));
        EVP_DigestFinal_ex(c, md, &n);
    }
    EVP_MD_CTX_free(c);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", i < n ? md[i] : 0);
}

/* Remember the request; CM_ERR_CONFLICT when it was seen within its window. */
static int replay_guard(sqlite3 *db, const upl_cfg_t *c, const upl_request_t *rq, int64_t now_ms,
                        char *err, size_t errlen)
{
    char dig[65];
    request_digest(rq, dig);
    sqlite3_stmt *s;
    int rc = store_prepare(db, "DELETE FROM uplink_token_seen WHERE expires_ms < ?", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, now_ms);
    if ((rc = store_step_done(s, err, errlen)))
        return rc;
    rc = store_prepare(db, "INSERT OR IGNORE INTO uplink_token_seen(digest, expires_ms) VALUES (?, ?)",
                       &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, dig, -1, SQLITE_TRANSIENT);
    /* A token is valid up to max_skew on either side of its own time. */
    sqlite3_bind_int64(s, 2, now_ms + 2000LL * (c->max_skew_s + 1));
    rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK : cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    if (!rc && sqlite3_changes(db) == 0)
        rc = CM_ERR_CONFLICT;
    return rc;
}

static int store_record(sqlite3 *db, const upl_cfg_t *c, const char *ent, const char *via,
                        const char *prefix, const char *type, const cJSON *rec, int64_t now_ms,
                        int *stored, char *err, size_t errlen)
{
    char *body = cJSON_PrintUnformatted(rec);
    const char *series = NULL;
    int64_t a = 0, b = 0;
    bool interval = upl_record_interval(type, rec, &series, &a, &b);
    sqlite3_stmt *s;
    int rc = body ? store_prepare(db,
                                  "INSERT INTO uplink_received(ent, via, prefix, record_type,"
                                  " record_id, body, received_ms, series, start_s, end_s)"
                                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                  " ON CONFLICT(ent, prefix, record_type, record_id) DO UPDATE SET"
                                  " body = excluded.body, received_ms = excluded.received_ms,"
                                  " revisions = revisions + 1, series = excluded.series,"
                                  " start_s = excluded.start_s, end_s = excluded.end_s"
                                  " WHERE body <> excluded.body",
                                  &s, err, errlen)
                  : cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    if (!rc) {
        sqlite3_bind_text(s, 1, ent, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, via, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, prefix, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 5, upl_record_id(rec), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 6, body, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 7, now_ms);
        if (interval) {
            sqlite3_bind_text(s, 8, series, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(s, 9, a);
            sqlite3_bind_int64(s, 10, b);
        }
        rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK
                                            : cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(s);
    }
    bool changed = !rc && sqlite3_changes(db) > 0;
    *stored += changed;
    /* Forward upward through our own outbox, content unchanged (UPL-4). */
    if (changed && *c->forward_to) {
        char rid[256];
        snprintf(rid, sizeof rid, "%s/%s/%s", ent, prefix, upl_record_id(rec));
        rc = store_prepare(db,
                           "INSERT INTO outbox_record(record_type, record_id, body, produced_ms,"
                           " origin) VALUES (?, ?, ?, ?, ?) ON CONFLICT(record_type, record_id)"
                           " DO UPDATE SET body = excluded.body, produced_ms = excluded.produced_ms"
                           " WHERE body <> excluded.body",
                           &s, err, errlen);
        if (!rc) {
            sqlite3_bind_text(s, 1, type, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, rid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 3, body, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(s, 4, now_ms);
            sqlite3_bind_text(s, 5, ent, -1, SQLITE_TRANSIENT);
            rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK
                                                : cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
            sqlite3_finalize(s);
        }
    }
    cJSON_free(body);
    return rc;
}

static int touch_enterprise(sqlite3 *db, const char *code, int64_t now_ms, char *err,
                            size_t errlen)
{
    sqlite3_stmt *s;
    /* An enterprise known only through a forwarding platform is registered without a key. */
    int rc = store_prepare(db,
                           "INSERT INTO enterprise(code, name, created_ms, last_contact_ms)"
                           " VALUES (?1, ?1, ?2, ?2) ON CONFLICT(code) DO UPDATE SET"
                           " last_contact_ms = max(coalesce(last_contact_ms, 0), ?2)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, now_ms);
    rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK : cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

/* Decrypted data: one object or an array of objects of one type (§2), each valid. */
static int check_records(const upl_request_t *rq, const cJSON *recs, upl_answer_t *ans)
{
    char field[64], e[200];
    int i = 0;
    const cJSON *r;
    if (cJSON_IsArray(recs) && cJSON_GetArraySize(recs) == 0)
        return answer(ans, 400, "data", "请求体参数不正确: data: empty batch");
    if (cJSON_IsObject(recs)) {
        if (upl_validate(rq->prefix, rq->record_type, recs, field, sizeof field, e, sizeof e))
            return answer(ans, 400, field, "请求体参数不正确: %s", e);
        return CM_OK;
    }
    cJSON_ArrayForEach(r, recs)
    {
        if (upl_validate(rq->prefix, rq->record_type, r, field, sizeof field, e, sizeof e)) {
            char where[sizeof field + 24]; /* "data[", an int, "]." and field */
            snprintf(where, sizeof where, "data[%d].%s", i, field);
            return answer(ans, 400, where, "请求体参数不正确: %s", e);
        }
        i++;
    }
    return CM_OK;
}

int upl_receive_job(sqlite3 *db, const upl_cfg_t *c, const upl_request_t *rq, int64_t now_ms,
                    upl_answer_t *ans, char *err, size_t errlen)
{
    memset(ans, 0, sizeof *ans);
    if (rq->body_len > c->max_record_bytes)
        return answer(ans, 400, "data", "请求体参数不正确: body of %zu bytes exceeds %zu",
                      rq->body_len, c->max_record_bytes);
    if (!upl_schema_known(rq->prefix, rq->record_type))
        return answer(ans, 400, "recordType", "请求体参数不正确: no record type %s/%s", rq->prefix,
                      rq->record_type);
    ent_row_t e;
    int rc = ent_lookup(db, rq->mine_code, &e, err, errlen);
    if (rc)
        return rc;
    if (!e.found || !e.has_key)
        return answer(ans, 401, "mineCode", "token 校验失败，非法请求: mineCode %s is not registered",
                      rq->mine_code);
    char e2[200];
    if (upl_token_check(&e.key, rq->token, rq->mine_code, now_ms / 1000, c->max_skew_s, NULL, e2,
                        sizeof e2))
        return answer(ans, 401, "token", "token 校验失败，非法请求: %s", e2);
    char *plain = NULL;
    size_t len;
    if (upl_decrypt(&e.key, rq->data, strlen(rq->data), &plain, &len, e2, sizeof e2))
        return answer(ans, 400, "data", "请求体参数不正确: data %s", e2);
    cJSON *recs = cJSON_ParseWithLength(plain, len);
    free(plain);
    if (!cJSON_IsObject(recs) && !cJSON_IsArray(recs))
        answer(ans, 400, "data", "请求体参数不正确: data is not a JSON record");
    else
        check_records(rq, recs, ans);
    if (ans->code) {
        cJSON_Delete(recs);
        return CM_OK;
    }
    rc = replay_guard(db, c, rq, now_ms, err, errlen);
    if (rc == CM_ERR_CONFLICT) {
        cJSON_Delete(recs);
        return answer(ans, 401, "token", "token 校验失败，非法请求: token already used");
    }
    /* A platform forwarding upward names the enterprise the records are about. */
    const char *ent = rq->origin && *rq->origin && !strcmp(e.kind, "platform") ? rq->origin
                                                                              : rq->mine_code;
    rc = rc ? rc : touch_enterprise(db, rq->mine_code, now_ms, err, errlen);
    if (!rc && strcmp(ent, rq->mine_code))
        rc = touch_enterprise(db, ent, now_ms, err, errlen);
    if (cJSON_IsObject(recs) && !rc)
        rc = store_record(db, c, ent, rq->mine_code, rq->prefix, rq->record_type, recs, now_ms,
                          &ans->stored, err, errlen);
    const cJSON *r;
    if (cJSON_IsArray(recs))
        cJSON_ArrayForEach(r, recs) if (!rc) rc = store_record(db, c, ent, rq->mine_code,
                                                               rq->prefix, rq->record_type, r,
                                                               now_ms, &ans->stored, err, errlen);
    cJSON_Delete(recs);
    if (rc)
        return rc;
    return answer(ans, 200, NULL, "请求成功");
}
