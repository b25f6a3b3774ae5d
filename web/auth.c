/* Users: roles, password hashing (PBKDF2-HMAC-SHA256) and the audited user
 * table, shared by the HTTP API (web/api_auth.c) and `coalmon user`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "web/web.h"

/* The default count is OWASP's 2023 figure for PBKDF2-HMAC-SHA256 (about
 * 0.24 s here; WEB_PBKDF2_ITER_DEFAULT). Stored in each hash, so changing it
 * later (http.pbkdf2_iterations) keeps old hashes verifiable. */
#define KDF_SALT 16
#define KDF_KEY 32
#define KDF_ITER_MIN 1000
#define KDF_ITER_MAX 10000000

static const char *const role_names[] = {"none", "viewer", "dispatcher", "engineer", "admin"};

int web_role_parse(const char *s, web_role *out)
{
    for (int r = WEB_ROLE_VIEWER; s && r <= WEB_ROLE_ADMIN; r++)
        if (strcmp(s, role_names[r]) == 0) {
            *out = (web_role)r;
            return CM_OK;
        }
    return CM_ERR_INVALID;
}

const char *web_role_name(web_role r)
{
    return r >= WEB_ROLE_NONE && r <= WEB_ROLE_ADMIN ? role_names[r] : "none";
}

/* ---- password hashing --------------------------------------------------- */

int web_password_hash(const char *password, int iterations, char *out, size_t outlen, char *err,
                      size_t errlen)
{
    if (iterations == 0)
        iterations = WEB_PBKDF2_ITER_DEFAULT;
    if (iterations < KDF_ITER_MIN || iterations > KDF_ITER_MAX)
        return cm_fail(err, errlen, CM_ERR_INVALID, "pbkdf2_iterations: %d..%d", KDF_ITER_MIN,
                       KDF_ITER_MAX);
    unsigned char salt[KDF_SALT], key[KDF_KEY];
    char salt64[4 * ((KDF_SALT + 2) / 3) + 1], key64[4 * ((KDF_KEY + 2) / 3) + 1];
    if (RAND_bytes(salt, sizeof salt) != 1)
        return cm_fail(err, errlen, CM_ERR_CRYPTO, "no random bytes for a salt");
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof salt, iterations,
                          EVP_sha256(), sizeof key, key) != 1)
        return cm_fail(err, errlen, CM_ERR_CRYPTO, "PBKDF2 failed");
    EVP_EncodeBlock((unsigned char *)salt64, salt, sizeof salt);
    EVP_EncodeBlock((unsigned char *)key64, key, sizeof key);
    OPENSSL_cleanse(key, sizeof key);
    int n = snprintf(out, outlen, "pbkdf2-sha256$%d$%s$%s", iterations, salt64, key64);
    if (n < 0 || (size_t)n >= outlen)
        return cm_fail(err, errlen, CM_ERR_INVALID, "hash buffer too small");
    return CM_OK;
}

/* Decode base64 of a known decoded size; EVP_DecodeBlock counts padding as zeros. */
static int b64_exact(const char *in, size_t inlen, unsigned char *out, size_t want)
{
    unsigned char buf[64];
    if (inlen == 0 || inlen % 4 || inlen / 4 * 3 > sizeof buf)
        return CM_ERR_INVALID;
    int n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)inlen);
    size_t pad = (in[inlen - 1] == '=') + (in[inlen - 2] == '=');
    if (n < 0 || (size_t)n - pad != want)
        return CM_ERR_INVALID;
    memcpy(out, buf, want);
    return CM_OK;
}

int web_password_verify(const char *password, const char *stored)
{
    const char *prefix = "pbkdf2-sha256$";
    if (!password || !stored || strncmp(stored, prefix, strlen(prefix)) != 0)
        return CM_ERR_AUTH;
    const char *p = stored + strlen(prefix);
    char *end;
    long iter = strtol(p, &end, 10);
    if (*end != '$' || iter < KDF_ITER_MIN || iter > KDF_ITER_MAX)
        return CM_ERR_AUTH;
    const char *salt64 = end + 1, *key64 = strchr(salt64, '$');
    unsigned char salt[KDF_SALT], want[KDF_KEY], got[KDF_KEY];
    if (!key64 || b64_exact(salt64, (size_t)(key64 - salt64), salt, sizeof salt) ||
        b64_exact(key64 + 1, strlen(key64 + 1), want, sizeof want))
        return CM_ERR_AUTH;
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof salt, (int)iter,
                          EVP_sha256(), sizeof got, got) != 1)
        return CM_ERR_AUTH;
    int same = CRYPTO_memcmp(got, want, sizeof got) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return same ? CM_OK : CM_ERR_AUTH;
}

/* ---- validation ----------------------------------------------------------- */

static int check_name(const char *name, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 32)
        return cm_fail(err, errlen, CM_ERR_INVALID, "name: 1 to 32 characters");
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || *c == '-'))
            return cm_fail(err, errlen, CM_ERR_INVALID,
                           "name: only letters, digits, '_', '.' and '-'");
    return CM_OK;
}

static int check_password(const char *pw, char *err, size_t errlen)
{
    size_t n = pw ? strlen(pw) : 0;
    if (n < 8 || n > 128)
        return cm_fail(err, errlen, CM_ERR_INVALID, "password: 8 to 128 characters");
    return CM_OK;
}

static int check_role(const char *role, char *err, size_t errlen)
{
    web_role r;
    if (web_role_parse(role, &r))
        return cm_fail(err, errlen, CM_ERR_INVALID,
                       "role: expected viewer, dispatcher, engineer or admin");
    return CM_OK;
}

/* ---- the audited user table ------------------------------------------------ */

typedef struct user_job {
    const char *name, *role, *hash, *actor, *channel;
    int disabled; /* -1: unchanged */
} user_job_t;

/* The current role and disabled flag of j->name; CM_ERR_NOTFOUND when absent. */
static int user_current(sqlite3 *db, const char *name, char *role, size_t rolelen, int *disabled,
                        char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (store_prepare(db, "SELECT role, disabled FROM web_user WHERE name = ?", &s, err, errlen))
        return CM_ERR_DB;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = CM_ERR_NOTFOUND;
    if (sqlite3_step(s) == SQLITE_ROW) {
        snprintf(role, rolelen, "%s", (const char *)sqlite3_column_text(s, 0));
        *disabled = sqlite3_column_int(s, 1);
        rc = CM_OK;
    }
    sqlite3_finalize(s);
    if (rc)
        cm_fail(err, errlen, rc, "name: no user '%s'", name);
    return rc;
}

static int job_add(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    user_job_t *j = arg;
    char role[16];
    int disabled;
    if (user_current(db, j->name, role, sizeof role, &disabled, NULL, 0) == CM_OK)
        return cm_fail(err, errlen, CM_ERR_CONFLICT, "name: user '%s' exists already", j->name);
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "INSERT INTO web_user (name, role, pw_hash, created_ms, updated_ms)"
                      " VALUES (?, ?, ?, ?, ?)",
                      &s, err, errlen))
        return CM_ERR_DB;
    int64_t now = tm_now_ms();
    sqlite3_bind_text(s, 1, j->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, j->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, j->hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_int64(s, 5, now);
    int rc = store_step_done(s, err, errlen);
    return rc ? rc : store_audit(db, j->actor, j->channel, "user.add", j->name, NULL, j->role, NULL,
                                 err, errlen);
}

/* Changes one of password / role / disabled; a password change or a disable
 * bumps pw_gen, which ends the user's sessions. */
static int job_change(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    user_job_t *j = arg;
    char role[16];
    int disabled;
    int rc = user_current(db, j->name, role, sizeof role, &disabled, err, errlen);
    if (rc)
        return rc;
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "UPDATE web_user SET pw_hash = coalesce(?1, pw_hash), role = coalesce(?2, role),"
                      " disabled = coalesce(?3, disabled), updated_ms = ?4,"
                      " pw_gen = pw_gen + (?1 IS NOT NULL OR coalesce(?3, 0) = 1)"
                      " WHERE name = ?5",
                      &s, err, errlen))
        return CM_ERR_DB;
    if (j->hash)
        sqlite3_bind_text(s, 1, j->hash, -1, SQLITE_STATIC);
    if (j->role)
        sqlite3_bind_text(s, 2, j->role, -1, SQLITE_STATIC);
    if (j->disabled >= 0)
        sqlite3_bind_int(s, 3, j->disabled);
    sqlite3_bind_int64(s, 4, tm_now_ms());
    sqlite3_bind_text(s, 5, j->name, -1, SQLITE_STATIC);
    rc = store_step_done(s, err, errlen);
    if (rc)
        return rc;
    if (j->hash)
        return store_audit(db, j->actor, j->channel, "user.passwd", j->name, NULL, NULL, NULL, err,
                           errlen);
    if (j->role)
        return store_audit(db, j->actor, j->channel, "user.role", j->name, role, j->role, NULL, err,
                           errlen);
    return store_audit(db, j->actor, j->channel, j->disabled ? "user.disable" : "user.enable",
                       j->name, disabled ? "disabled" : "enabled",
                       j->disabled ? "disabled" : "enabled", NULL, err, errlen);
}

int web_user_add(store_t *st, const char *name, const char *role, const char *password,
                 int iterations, const char *actor, const char *channel, char *err, size_t errlen)
{
    char hash[160];
    int rc = check_name(name, err, errlen);
    if (!rc)
        rc = check_role(role, err, errlen);
    if (!rc)
        rc = check_password(password, err, errlen);
    if (!rc)
        rc = web_password_hash(password, iterations, hash, sizeof hash, err, errlen);
    if (rc)
        return rc;
    user_job_t j = {.name = name, .role = role, .hash = hash, .actor = actor, .channel = channel,
                    .disabled = -1};
    return store_write(st, job_add, &j, err, errlen);
}

int web_user_passwd(store_t *st, const char *name, const char *password, int iterations,
                    const char *actor, const char *channel, char *err, size_t errlen)
{
    char hash[160];
    int rc = check_name(name, err, errlen);
    if (!rc)
        rc = check_password(password, err, errlen);
    if (!rc)
        rc = web_password_hash(password, iterations, hash, sizeof hash, err, errlen);
    if (rc)
        return rc;
    user_job_t j = {.name = name, .hash = hash, .actor = actor, .channel = channel, .disabled = -1};
    return store_write(st, job_change, &j, err, errlen);
}

int web_user_set_role(store_t *st, const char *name, const char *role, const char *actor,
                      const char *channel, char *err, size_t errlen)
{
    int rc = check_name(name, err, errlen);
    if (!rc)
        rc = check_role(role, err, errlen);
    if (rc)
        return rc;
    user_job_t j = {.name = name, .role = role, .actor = actor, .channel = channel, .disabled = -1};
    return store_write(st, job_change, &j, err, errlen);
}

int web_user_set_disabled(store_t *st, const char *name, bool disabled, const char *actor,
                          const char *channel, char *err, size_t errlen)
{
    int rc = check_name(name, err, errlen);
    if (rc)
        return rc;
    user_job_t j = {.name = name, .actor = actor, .channel = channel, .disabled = disabled};
    return store_write(st, job_change, &j, err, errlen);
}

cJSON *web_user_list(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (store_prepare(db,
                      "SELECT name, role, disabled, created_ms, updated_ms, last_login_ms"
                      " FROM web_user ORDER BY name",
                      &s, err, errlen))
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    int rc = CM_OK;
    while (store_next(s, &rc, err, errlen)) {
        cJSON *u = cJSON_CreateObject();
        cJSON_AddStringToObject(u, "name", (const char *)sqlite3_column_text(s, 0));
        cJSON_AddStringToObject(u, "role", (const char *)sqlite3_column_text(s, 1));
        cJSON_AddBoolToObject(u, "disabled", sqlite3_column_int(s, 2));
        tm_json_add_col(u, "created", s, 3, TM_JSON_ISO_MS);
        tm_json_add_col(u, "updated", s, 4, TM_JSON_ISO_MS);
        tm_json_add_col(u, "last_login", s, 5, TM_JSON_ISO_MS);
        cJSON_AddItemToArray(arr, u);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}
