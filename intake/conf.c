/* Intake configuration and the API keys of the sources that post to us. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "intake/intake.h"

void intake_conf_default(intake_conf_t *c)
{
    memset(c, 0, sizeof *c);
    c->net_tolerance_t = 0.02;
    c->future_skew_s = 120;
    c->min_t = 0.5;
    c->max_t = 150.0;
    c->match_before_s = 7200;
    c->match_after_s = 600;
    c->decide_after_s = 60;
    c->match_min_confidence = 0.75;
    c->match_interval_s = 10;
    snprintf(c->output_quantity, sizeof c->output_quantity, "belt_total_t");
    tm_shift_plan_default(&c->plan);
}

static int read_bridges(const cfg_sec_t *s, intake_conf_t *c, char *err, size_t errlen)
{
    int n, rc = cfg_array_len(s, "weighbridges", &n, err, errlen);
    if (rc)
        return rc;
    if (n > INTAKE_MAX_BRIDGES)
        return cfg_error(s, "weighbridges", err, errlen, "at most %d weighbridges",
                         INTAKE_MAX_BRIDGES);
    for (int i = 0; i < n && !rc; i++) {
        cfg_sec_t b;
        intake_bridge_t *br = &c->bridges[i];
        rc = cfg_array_item(s, "weighbridges", i, &b, err, errlen);
        if (!rc)
            rc = cfg_get_string(&b, "id", true, NULL, br->id, sizeof br->id, err, errlen);
        if (!rc)
            rc = cfg_get_double(&b, "min_t", false, c->min_t, 0, 1000, &br->min_t, err, errlen);
        if (!rc)
            rc = cfg_get_double(&b, "max_t", false, c->max_t, 0.1, 1000, &br->max_t, err, errlen);
        if (!rc && br->max_t <= br->min_t)
            rc = cfg_error(&b, "max_t", err, errlen, "must be greater than min_t");
    }
    c->n_bridges = n;
    return rc;
}

static int read_keys(const cfg_sec_t *s, intake_conf_t *c, char *err, size_t errlen)
{
    int n, rc = cfg_array_len(s, "api_keys", &n, err, errlen);
    if (rc)
        return rc;
    if (n > INTAKE_MAX_KEYS)
        return cfg_error(s, "api_keys", err, errlen, "at most %d keys", INTAKE_MAX_KEYS);
    for (int i = 0; i < n && !rc; i++) {
        cfg_sec_t k;
        char plain[128] = "";
        rc = cfg_array_item(s, "api_keys", i, &k, err, errlen);
        if (!rc)
            rc = cfg_get_string(&k, "name", true, NULL, c->keys[i].name, sizeof c->keys[i].name,
                                err, errlen);
        if (!rc)
            rc = cfg_get_string(&k, "sha256", false, "", c->keys[i].sha256_hex,
                                sizeof c->keys[i].sha256_hex, err, errlen);
        /* A plain "key" is accepted for demos and tests; production files carry the hash. */
        if (!rc)
            rc = cfg_get_string(&k, "key", false, "", plain, sizeof plain, err, errlen);
        if (rc)
            break;
        if (plain[0])
            intake_key_hash(plain, c->keys[i].sha256_hex);
        if (strlen(c->keys[i].sha256_hex) != 64 ||
            strspn(c->keys[i].sha256_hex, "0123456789abcdef") != 64)
            rc = cfg_error(&k, "sha256", err, errlen,
                           "expected 64 lower-case hex digits (coalmon intake-key hash KEY)");
    }
    c->n_keys = n;
    return rc;
}

int intake_conf_from_cfg(const cfg_t *cfg, intake_conf_t *c, char *err, size_t errlen)
{
    intake_conf_default(c);
    cfg_sec_t root = cfg_root(cfg), s, m;
    int v[4];
    int rc = tm_shift_plan_from_cfg(&root, "shifts", &c->plan, err, errlen);
    if (!rc)
        rc = cfg_section(&root, "intake", &s, err, errlen);
    if (!rc)
        rc = cfg_get_double(&s, "net_tolerance_t", false, c->net_tolerance_t, 0, 5,
                            &c->net_tolerance_t, err, errlen);
    if (!rc)
        rc = cfg_get_int(&s, "future_skew_s", false, c->future_skew_s, 0, 3600, &v[0], err, errlen);
    if (!rc)
        rc = cfg_get_double(&s, "min_t", false, c->min_t, 0, 1000, &c->min_t, err, errlen);
    if (!rc)
        rc = cfg_get_double(&s, "max_t", false, c->max_t, 0.1, 1000, &c->max_t, err, errlen);
    if (!rc)
        rc = cfg_get_string(&s, "output_quantity", false, c->output_quantity, c->output_quantity,
                            sizeof c->output_quantity, err, errlen);
    if (!rc)
        rc = read_bridges(&s, c, err, errlen);
    if (!rc)
        rc = read_keys(&s, c, err, errlen);
    if (!rc)
        rc = cfg_section(&s, "matching", &m, err, errlen);
    if (!rc)
        rc = cfg_get_int(&m, "before_s", false, c->match_before_s, 60, 86400, &v[1], err, errlen);
    if (!rc)
        rc = cfg_get_int(&m, "after_s", false, c->match_after_s, 0, 86400, &v[2], err, errlen);
    if (!rc)
        rc = cfg_get_int(&m, "decide_after_s", false, c->decide_after_s, 0, 86400, &v[3], err,
                         errlen);
    if (!rc)
        rc = cfg_get_double(&m, "min_confidence", false, c->match_min_confidence, 0.3, 1.0,
                            &c->match_min_confidence, err, errlen);
    int every = c->match_interval_s;
    if (!rc)
        rc = cfg_get_int(&m, "interval_s", false, c->match_interval_s, 1, 600, &every, err, errlen);
    if (rc)
        return rc;
    c->future_skew_s = v[0];
    c->match_before_s = v[1];
    c->match_after_s = v[2];
    c->decide_after_s = v[3];
    c->match_interval_s = every;
    if (c->max_t <= c->min_t)
        return cfg_error(&s, "max_t", err, errlen, "must be greater than min_t");
    return CM_OK;
}

/* ---- keys ------------------------------------------------------------- */

int intake_key_hash(const char *key, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    if (!EVP_Digest(key, strlen(key), md, &len, EVP_sha256(), NULL) || len != 32)
        return CM_ERR_CRYPTO;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return CM_OK;
}

int intake_key_check(sqlite3 *db, const intake_conf_t *c, const char *key, char *name,
                     size_t namelen)
{
    char hex[65];
    if (!key || !key[0] || intake_key_hash(key, hex))
        return CM_ERR_AUTH;
    /* Every candidate is compared in full so the time taken tells nothing. */
    int found = -1;
    for (int i = 0; i < c->n_keys; i++)
        if (CRYPTO_memcmp(hex, c->keys[i].sha256_hex, 64) == 0)
            found = i;
    if (found >= 0) {
        snprintf(name, namelen, "%s", c->keys[found].name);
        return CM_OK;
    }
    sqlite3_stmt *s;
    if (!db || store_prepare(db, "SELECT name, key_sha256 FROM intake_api_key"
                                 " WHERE revoked_at IS NULL", &s, NULL, 0))
        return CM_ERR_AUTH;
    int rc = CM_ERR_AUTH, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(s, 1);
        if (h && strlen(h) == 64 && CRYPTO_memcmp(hex, h, 64) == 0) {
            snprintf(name, namelen, "%s", (const char *)sqlite3_column_text(s, 0));
            rc = CM_OK;
        }
    }
    /* A key table that cannot be read is a database failure, not a wrong key. */
    if (rc && step != SQLITE_DONE)
        rc = CM_ERR_DB;
    sqlite3_finalize(s);
    return rc;
}

typedef struct key_job {
    const char *name, *actor;
    char hex[65];
    bool revoke;
} key_job_t;

static int key_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    key_job_t *k = arg;
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           k->revoke ? "UPDATE intake_api_key SET revoked_at = unixepoch()"
                                       " WHERE name = ? AND revoked_at IS NULL"
                                     : "INSERT INTO intake_api_key(name, key_sha256) VALUES (?, ?)"
                                       " ON CONFLICT(name) DO UPDATE SET key_sha256 ="
                                       " excluded.key_sha256, revoked_at = NULL,"
                                       " created_at = unixepoch() WHERE revoked_at IS NOT NULL",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, k->name, -1, SQLITE_STATIC);
    if (!k->revoke)
        sqlite3_bind_text(s, 2, k->hex, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    else if (sqlite3_changes(db) == 0)
        rc = k->revoke ? cm_fail(err, errlen, CM_ERR_NOTFOUND, "no active key named '%s'", k->name)
                       : cm_fail(err, errlen, CM_ERR_CONFLICT, "a key named '%s' exists; revoke it first",
                                 k->name);
    sqlite3_finalize(s);
    if (!rc)
        rc = store_audit(db, k->actor, "cli", k->revoke ? "intake_key.revoke" : "intake_key.add",
                         k->name, NULL, NULL, NULL, err, errlen);
    return rc;
}

int intake_key_add(store_t *st, const char *name, const char *actor, char key[65], char *err,
                   size_t errlen)
{
    unsigned char raw[24];
    if (!name[0] || strlen(name) > 63)
        return cm_fail(err, errlen, CM_ERR_INVALID, "name: 1..63 characters");
    if (RAND_bytes(raw, sizeof raw) != 1)
        return cm_fail(err, errlen, CM_ERR_CRYPTO, "no random bytes");
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(key + 2 * i, 3, "%02x", raw[i]);
    key_job_t k = {.name = name, .actor = actor};
    intake_key_hash(key, k.hex);
    return store_write(st, key_job, &k, err, errlen);
}

int intake_key_revoke(store_t *st, const char *name, const char *actor, char *err, size_t errlen)
{
    key_job_t k = {.name = name, .actor = actor, .revoke = true};
    return store_write(st, key_job, &k, err, errlen);
}
