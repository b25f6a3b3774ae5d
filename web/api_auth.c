/* Sessions, CSRF, login rate limits, the guard in front of every route, and
 * the routes /api/v1/session* and /api/v1/users*. Runs on the web thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "web/web.h"

#define MAX_SESSIONS 256
#define MAX_LIMITS 512
#define TOKEN_BYTES 32
#define FAIL_WINDOW_MS (15 * 60 * 1000LL)
#define LOCKOUT_MAX_S 3600

typedef struct session {
    bool used;
    unsigned char tok[SHA256_DIGEST_LENGTH]; /* hash of the cookie: a memory dump holds no cookie */
    char csrf[2 * TOKEN_BYTES + 1];
    int64_t user_id, pw_gen, expires_ms;
} session_t;

typedef struct limit {
    char key[80]; /* "ip:<address>" or "user:<name>" */
    int failures;
    int64_t first_ms, until_ms;
} limit_t;

typedef struct ident {
    session_t *s;
    char name[40];
    web_role role;
} ident_t;

/* The server's authentication state (web_state_new): touched only on the loop. */
typedef struct web_auth {
    web_t *web;
    web_ctx_t *ctx;
    web_auth_opts_t opts;
    char dummy_hash[160]; /* verified against when the user is unknown: same time */
    session_t sessions[MAX_SESSIONS];
    limit_t limits[MAX_LIMITS];
    char actor[40];
} web_auth_t;

static bool guard(web_req_t *req, bool public_route, void *arg);

void web_auth_opts_default(web_auth_opts_t *o)
{
    *o = (web_auth_opts_t){.anonymous_read = true, .session_hours = 12, .login_max_failures = 5,
                           .login_lockout_s = 300, .cookie_secure = false,
                           .pbkdf2_iterations = WEB_PBKDF2_ITER_DEFAULT};
}

int web_auth_opts_from_cfg(const cfg_sec_t *root, web_auth_opts_t *o, char *err, size_t errlen)
{
    cfg_sec_t http;
    web_auth_opts_default(o);
    int rc = cfg_section(root, "http", &http, err, errlen);
    if (!rc)
        rc = cfg_get_bool(&http, "anonymous_read", false, o->anonymous_read, &o->anonymous_read,
                          err, errlen);
    if (!rc)
        rc = cfg_get_int(&http, "session_hours", false, o->session_hours, 1, 24 * 31, &o->session_hours, err,
                         errlen);
    if (!rc)
        rc = cfg_get_int(&http, "login_max_failures", false, o->login_max_failures, 1, 100, &o->login_max_failures,
                         err, errlen);
    if (!rc)
        rc = cfg_get_int(&http, "login_lockout_s", false, o->login_lockout_s, 1, LOCKOUT_MAX_S,
                         &o->login_lockout_s, err, errlen);
    if (!rc)
        rc = cfg_get_bool(&http, "cookie_secure", false, o->cookie_secure, &o->cookie_secure, err,
                          errlen);
    if (!rc)
        rc = cfg_get_int(&http, "pbkdf2_iterations", false, o->pbkdf2_iterations, 1000, 10000000,
                         &o->pbkdf2_iterations, err, errlen);
    return rc;
}

/* ---- sessions ------------------------------------------------------------ */

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The cm_session cookie's 64 hex characters, or false. */
static bool cookie_token(web_req_t *req, char tok[2 * TOKEN_BYTES + 1])
{
    const char *c = web_header(req, "Cookie");
    for (const char *p = c; p && (p = strstr(p, "cm_session=")); p++) {
        if (p != c && p[-1] != ' ' && p[-1] != ';')
            continue;
        p += strlen("cm_session=");
        size_t n = strspn(p, "0123456789abcdef");
        if (n != 2 * TOKEN_BYTES)
            return false;
        memcpy(tok, p, n);
        tok[n] = '\0';
        return true;
    }
    return false;
}

static session_t *find_session(web_auth_t *a, web_req_t *req)
{
    char tok[2 * TOKEN_BYTES + 1];
    if (!cookie_token(req, tok))
        return NULL;
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)tok, strlen(tok), h);
    int64_t now = tm_now_ms();
    for (int i = 0; i < MAX_SESSIONS; i++) {
        session_t *s = &a->sessions[i];
        if (s->used && CRYPTO_memcmp(s->tok, h, sizeof h) == 0) {
            if (s->expires_ms > now)
                return s;
            s->used = false;
            return NULL;
        }
    }
    return NULL;
}

/* The session's user as the database has it now: a disable, a new password
 * or a role change takes effect on the next request. */
static int identify(web_auth_t *a, web_req_t *req, ident_t *id)
{
    memset(id, 0, sizeof *id);
    session_t *s = find_session(a, req);
    if (!s)
        return CM_ERR_AUTH;
    sqlite3_stmt *st;
    if (store_prepare(a->ctx->reader, "SELECT name, role, disabled, pw_gen FROM web_user WHERE id = ?",
                      &st, NULL, 0))
        return CM_ERR_DB;
    sqlite3_bind_int64(st, 1, s->user_id);
    int rc = CM_ERR_AUTH;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 2) == 0 &&
        sqlite3_column_int64(st, 3) == s->pw_gen &&
        web_role_parse((const char *)sqlite3_column_text(st, 1), &id->role) == CM_OK) {
        snprintf(id->name, sizeof id->name, "%s", (const char *)sqlite3_column_text(st, 0));
        id->s = s;
        rc = CM_OK;
    }
    sqlite3_finalize(st);
    if (rc == CM_ERR_AUTH)
        s->used = false; /* the user is gone, disabled or has a new password */
    return rc;
}

static session_t *new_session(web_auth_t *a, int64_t user_id, int64_t pw_gen, char tok[2 * TOKEN_BYTES + 1])
{
    unsigned char raw[TOKEN_BYTES], csrf[TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1 || RAND_bytes(csrf, sizeof csrf) != 1)
        return NULL;
    int64_t now = tm_now_ms();
    session_t *slot = NULL;
    for (int i = 0; i < MAX_SESSIONS; i++) {
        session_t *s = &a->sessions[i];
        if (s->used && s->expires_ms <= now)
            s->used = false;
        /* A full table gives up the session closest to its end. */
        if (!slot || (slot->used && (!s->used || s->expires_ms < slot->expires_ms)))
            slot = s;
    }
    hex(raw, sizeof raw, tok);
    memset(slot, 0, sizeof *slot);
    slot->used = true;
    SHA256((const unsigned char *)tok, strlen(tok), slot->tok);
    hex(csrf, sizeof csrf, slot->csrf);
    slot->user_id = user_id;
    slot->pw_gen = pw_gen;
    slot->expires_ms = now + (int64_t)a->opts.session_hours * 3600 * 1000;
    return slot;
}

static void set_cookie(web_auth_t *a, web_req_t *req, const char *tok, int max_age)
{
    char c[200];
    snprintf(c, sizeof c, "cm_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", tok,
             max_age, a->opts.cookie_secure ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", c);
}

/* ---- login rate limits ------------------------------------------------------ */

static limit_t *limit_slot(web_auth_t *a, const char *key, bool create)
{
    limit_t *oldest = &a->limits[0];
    for (int i = 0; i < MAX_LIMITS; i++) {
        limit_t *l = &a->limits[i];
        if (l->key[0] && strcmp(l->key, key) == 0)
            return l;
        if (l->first_ms < oldest->first_ms)
            oldest = l;
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->key, sizeof oldest->key, "%s", key);
    return oldest;
}

/* Seconds until key may try again; 0 when it may now. */
static int limit_wait_s(web_auth_t *a, const char *key, int64_t now)
{
    limit_t *l = limit_slot(a, key, false);
    return l && l->until_ms > now ? (int)((l->until_ms - now + 999) / 1000) : 0;
}

static void limit_fail(web_auth_t *a, const char *key, int64_t now)
{
    limit_t *l = limit_slot(a, key, true);
    if (now - l->first_ms > FAIL_WINDOW_MS && l->until_ms <= now) {
        l->failures = 0;
        l->first_ms = now;
    }
    if (++l->failures >= a->opts.login_max_failures) {
        int extra = l->failures - a->opts.login_max_failures;
        int64_t s = a->opts.login_lockout_s;
        while (extra-- > 0 && s < LOCKOUT_MAX_S)
            s *= 2;
        l->until_ms = now + (s < LOCKOUT_MAX_S ? s : LOCKOUT_MAX_S) * 1000;
    }
}

static void limit_clear(web_auth_t *a, const char *key)
{
    limit_t *l = limit_slot(a, key, false);
    if (l)
        memset(l, 0, sizeof *l);
}

static void peer(web_req_t *req, char *out, size_t len)
{
    char *addr = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    if (c)
        evhttp_connection_get_peer(c, &addr, &port);
    snprintf(out, len, "%s", addr ? addr : "?");
}

/* ---- checks ------------------------------------------------------------------ */

/* A browser names the page's origin on every change; it must be this server. */
static bool same_origin(web_req_t *req)
{
    const char *origin = web_header(req, "Origin"), *host = web_header(req, "Host");
    if (!origin || strcmp(origin, "null") == 0)
        return origin == NULL;
    const char *p = strstr(origin, "://");
    return p && host && strcmp(p + 3, host) == 0;
}

int web_require_role(web_t *w, web_req_t *req, const char *role)
{
    web_role need;
    web_auth_t *a = web_guard_arg(w, guard);
    if (!a)
        return CM_OK;
    if (web_role_parse(role, &need)) {
        web_reply_error(req, 500, NULL, "internal: unknown role %s", role);
        return CM_ERR_AUTH;
    }
    ident_t id;
    if (identify(a, req, &id)) {
        web_reply_error(req, 401, NULL, "login required");
        return CM_ERR_AUTH;
    }
    if (id.role < need) {
        web_reply_error(req, 403, NULL, "this needs the %s role; %s is %s", role, id.name,
                        web_role_name(id.role));
        return CM_ERR_AUTH;
    }
    return CM_OK;
}

const char *web_actor(web_t *w, web_req_t *req)
{
    ident_t id;
    web_auth_t *a = web_guard_arg(w, guard);
    if (!a)
        return "anonymous";
    snprintf(a->actor, sizeof a->actor, "%s", identify(a, req, &id) ? "anonymous" : id.name);
    return a->actor;
}

static bool is_self_service(const char *path, int method)
{
    return (strcmp(path, "/api/v1/session") == 0 && method == WEB_DELETE) ||
           strcmp(path, "/api/v1/session/password") == 0;
}

static bool guard(web_req_t *req, bool public_route, void *arg)
{
    web_auth_t *a = arg;
    const char *path = web_path(req);
    int method = web_method_of(req);
    if (public_route || strncmp(path, "/api/", 5) != 0)
        return true;
    if (method == WEB_GET) {
        if (a->opts.anonymous_read || strcmp(path, "/api/v1/session") == 0 ||
            strcmp(path, "/api/v1/health") == 0)
            return true;
        return web_require_role(a->web, req, "viewer") == CM_OK;
    }
    if (!same_origin(req)) {
        web_reply_error(req, 403, "Origin", "cross-origin request refused");
        return false;
    }
    if (method == WEB_POST && strcmp(path, "/api/v1/session") == 0)
        return true; /* the login: rate-limited in its handler */
    ident_t id;
    if (identify(a, req, &id)) {
        web_reply_error(req, 401, NULL, "login required");
        return false;
    }
    const char *csrf = web_header(req, "X-CSRF-Token");
    if (!csrf || strlen(csrf) != strlen(id.s->csrf) ||
        CRYPTO_memcmp(csrf, id.s->csrf, strlen(csrf)) != 0) {
        web_reply_error(req, 403, "X-CSRF-Token", "missing or wrong CSRF token");
        return false;
    }
    if (!is_self_service(path, method) && id.role < WEB_ROLE_DISPATCHER) {
        web_reply_error(req, 403, NULL, "read-only account: %s is a viewer", id.name);
        return false;
    }
    return true;
}

/* ---- routes -------------------------------------------------------------------- */

/* The field a web_user_* error names ("name: ...") for the 400 reply. */
static void reply_user_error(web_req_t *req, int rc, const char *err)
{
    char field[24] = "";
    const char *colon = strchr(err, ':');
    if (colon && colon - err < (long)sizeof field)
        snprintf(field, sizeof field, "%.*s", (int)(colon - err), err);
    int status = rc == CM_ERR_INVALID ? 400 : rc == CM_ERR_NOTFOUND ? 404 : rc == CM_ERR_CONFLICT ? 409 : 500;
    web_reply_error(req, status, field[0] ? field : NULL, "%s", err);
}

static cJSON *session_json(const web_auth_t *a, const ident_t *id)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "user", id->name);
    cJSON_AddStringToObject(j, "role", web_role_name(id->role));
    cJSON_AddStringToObject(j, "csrf", id->s->csrf);
    char buf[40];
    tm_format_bj_iso_ms(id->s->expires_ms, buf, sizeof buf);
    cJSON_AddStringToObject(j, "expires", buf);
    cJSON_AddBoolToObject(j, "anonymous_read", a->opts.anonymous_read);
    return j;
}

static const char *json_str(cJSON *body, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A string the deferred work keeps after the body is gone; "" for NULL. */
static void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

/* A value longer than the buffer would be cut: keep len - 1 'x's instead,
 * which the checks refuse as too long the way they refuse the value itself
 * (passwords 8 to 128 bytes, names 1 to 32 characters). NULL stays "". */
static void copy_checked(char *dst, size_t len, const char *src)
{
    if (src && strlen(src) >= len) {
        memset(dst, 'x', len - 1);
        dst[len - 1] = '\0';
        return;
    }
    copy_str(dst, len, src);
}

typedef struct found_user {
    int64_t id, pw_gen;
    char hash[160];
    bool disabled;
    web_role role;
} found_user_t;

static bool find_user(web_auth_t *a, const char *name, found_user_t *u)
{
    sqlite3_stmt *s;
    if (store_prepare(a->ctx->reader,
                      "SELECT id, pw_gen, pw_hash, disabled, role FROM web_user WHERE name = ?", &s, NULL, 0))
        return false;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    bool ok = sqlite3_step(s) == SQLITE_ROW;
    if (ok) {
        u->id = sqlite3_column_int64(s, 0);
        u->pw_gen = sqlite3_column_int64(s, 1);
        snprintf(u->hash, sizeof u->hash, "%s", (const char *)sqlite3_column_text(s, 2));
        u->disabled = sqlite3_column_int(s, 3);
        if (web_role_parse((const char *)sqlite3_column_text(s, 4), &u->role))
            u->role = WEB_ROLE_NONE;
    }
    sqlite3_finalize(s);
    return ok;
}

/* ---- login: the hash is checked on a worker ------------------------------------ */

typedef struct login_job {
    web_auth_t *a;
    web_req_t *req;
    char name[40], ip[64], kip[80], kuser[80], pw[160];
    found_user_t u;
    bool known, ok;
    int64_t last_login_ms;
} login_job_t;

static int job_last_login(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    login_job_t *j = arg;
    sqlite3_stmt *s;
    if (store_prepare(db, "UPDATE web_user SET last_login_ms = ? WHERE id = ?", &s, err, errlen))
        return CM_ERR_DB;
    sqlite3_bind_int64(s, 1, j->last_login_ms);
    sqlite3_bind_int64(s, 2, j->u.id);
    int rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK : CM_ERR_DB;
    sqlite3_finalize(s);
    return rc;
}

static void login_free(login_job_t *j)
{
    OPENSSL_cleanse(j->pw, sizeof j->pw);
    free(j);
}

/* On the loop: the login's record is written; nobody waits for it. */
static void last_login_done(void *arg, int rc, const char *err)
{
    login_job_t *j = arg;
    if (rc)
        log_warn("auth", "recording the login of %s: %s", j->name, err);
    login_free(j);
}

/* On a worker. An unknown user costs a hash too (the dummy), so the time
 * does not tell which names exist. */
static void login_work(void *arg)
{
    login_job_t *j = arg;
    bool match = web_password_verify(j->pw, j->known ? j->u.hash : j->a->dummy_hash) == CM_OK;
    j->ok = match && j->known && !j->u.disabled;
    OPENSSL_cleanse(j->pw, sizeof j->pw);
}

/* On the loop: the attempt was charged to both limits before the hash;
 * a success takes the charge back. */
static void login_done(void *arg)
{
    login_job_t *j = arg;
    web_auth_t *a = j->a;
    if (!j->ok) {
        log_warn("auth", "failed login for '%s' from %s", j->name, j->ip);
        web_reply_error(j->req, 401, "password", "wrong user name or password");
        login_free(j);
        return;
    }
    limit_clear(a, j->kip);
    limit_clear(a, j->kuser);
    char tok[2 * TOKEN_BYTES + 1];
    session_t *s = new_session(a, j->u.id, j->u.pw_gen, tok);
    if (!s) {
        web_reply_error(j->req, 500, NULL, "no random bytes for a session");
        login_free(j);
        return;
    }
    log_info("auth", "%s logged in from %s", j->name, j->ip);
    set_cookie(a, j->req, tok, a->opts.session_hours * 3600);
    ident_t id = {.s = s, .role = j->u.role};
    snprintf(id.name, sizeof id.name, "%s", j->name);
    web_reply_json(j->req, 200, session_json(a, &id));
    j->req = NULL; /* answered: the job lives on only for the record */
    j->last_login_ms = tm_now_ms();
    if (web_write(a->web, a->ctx->store, job_last_login, j, last_login_done)) {
        log_warn("auth", "recording the login of %s: the store does not take it", j->name);
        login_free(j);
    }
}

static void login(web_auth_t *a, web_req_t *req)
{
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    const char *name = json_str(body, "name"), *pw = json_str(body, "password");
    login_job_t *j = NULL;
    if (!name || !*name || strlen(name) > 32) {
        web_reply_error(req, 400, "name", "name: a user name is required");
        goto out;
    }
    if (!pw) {
        web_reply_error(req, 400, "password", "password: required");
        goto out;
    }
    if (!(j = calloc(1, sizeof *j))) {
        web_reply_error(req, 500, NULL, "out of memory");
        goto out;
    }
    j->a = a;
    j->req = req;
    copy_str(j->name, sizeof j->name, name);
    copy_checked(j->pw, sizeof j->pw, pw); /* too long: cannot match, as no password is */
    peer(req, j->ip, sizeof j->ip);
    snprintf(j->kip, sizeof j->kip, "ip:%s", j->ip);
    snprintf(j->kuser, sizeof j->kuser, "user:%s", name);
    int64_t now = tm_now_ms();
    int wait = limit_wait_s(a, j->kip, now);
    if (limit_wait_s(a, j->kuser, now) > wait)
        wait = limit_wait_s(a, j->kuser, now);
    if (wait > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", wait);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
        web_reply_error(req, 429, "password", "too many failed logins; try again in %d s", wait);
        goto out;
    }
    j->known = find_user(a, name, &j->u);
    /* Charged now, so attempts sent together while hashes run still count. */
    limit_fail(a, j->kip, now);
    limit_fail(a, j->kuser, now);
    if (web_defer(a->web, login_work, login_done, j)) {
        web_reply_busy(req);
        goto out;
    }
    j = NULL;
out:
    if (j)
        login_free(j);
    cJSON_Delete(body);
}

static void whoami(web_auth_t *a, web_req_t *req)
{
    ident_t id;
    if (identify(a, req, &id) == CM_OK) {
        web_reply_json(req, 200, session_json(a, &id));
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNullToObject(j, "user");
    cJSON_AddNullToObject(j, "role");
    cJSON_AddBoolToObject(j, "anonymous_read", a->opts.anonymous_read);
    web_reply_json(req, 200, j);
}

static void logout(web_auth_t *a, web_req_t *req)
{
    ident_t id;
    if (identify(a, req, &id) == CM_OK) {
        log_info("auth", "%s logged out", id.name);
        id.s->used = false;
    }
    set_cookie(a, req, "", 0);
    web_reply_json(req, 200, NULL);
}

/* ---- user changes: hashed and stored on a worker ------------------------------- */

enum user_op { OP_OWN_PASSWORD, OP_ADD, OP_CHANGE };

typedef struct user_job {
    web_auth_t *a;
    web_req_t *req;
    enum user_op op;
    char name[40], actor[40], role[16], old_pw[160], pw[160], old_hash[160];
    bool has_role, has_pw, has_disabled, disabled;
    int iterations;
    int rc;
    const char *field; /* OP_OWN_PASSWORD: which password was refused */
    char err[256];
} user_job_t;

static void user_job_free(user_job_t *j)
{
    OPENSSL_cleanse(j->pw, sizeof j->pw);
    OPENSSL_cleanse(j->old_pw, sizeof j->old_pw);
    free(j);
}

static void user_work(void *arg)
{
    user_job_t *j = arg;
    const char *ch = "api";
    size_t el = sizeof j->err;
    if (j->op == OP_OWN_PASSWORD) {
        if (web_password_verify(j->old_pw, j->old_hash)) {
            j->field = "old_password";
            j->rc = cm_fail(j->err, el, CM_ERR_INVALID, "old_password: wrong password");
        } else if (!j->has_pw) {
            j->field = "new_password";
            j->rc = cm_fail(j->err, el, CM_ERR_INVALID, "new_password: required");
        } else {
            j->rc = web_user_passwd(j->a->ctx->store, j->name, j->pw, j->iterations, j->name, ch,
                                    j->err, el);
            j->field = j->rc == CM_ERR_INVALID ? "new_password" : NULL;
        }
        return;
    }
    if (j->op == OP_ADD) {
        j->rc = web_user_add(j->a->ctx->store, j->name, j->has_role ? j->role : NULL,
                             j->has_pw ? j->pw : NULL, j->iterations, j->actor, ch, j->err, el);
        return;
    }
    j->rc = CM_OK;
    if (j->has_role)
        j->rc = web_user_set_role(j->a->ctx->store, j->name, j->role, j->actor, ch, j->err, el);
    if (!j->rc && j->has_disabled)
        j->rc = web_user_set_disabled(j->a->ctx->store, j->name, j->disabled, j->actor, ch, j->err,
                                      el);
    if (!j->rc && j->has_pw)
        j->rc = web_user_passwd(j->a->ctx->store, j->name, j->pw, j->iterations, j->actor, ch,
                                j->err, el);
}

static void user_done(void *arg)
{
    user_job_t *j = arg;
    if (j->op == OP_OWN_PASSWORD && j->field) {
        /* "new_password: required", or the hash's "password: 8 to 128 ..." as new_password */
        if (strncmp(j->err, j->field, strlen(j->field)) == 0)
            web_reply_error(j->req, 400, j->field, "%s", j->err);
        else
            web_reply_error(j->req, 400, j->field, "new_%s", j->err);
    } else if (j->rc) {
        reply_user_error(j->req, j->rc, j->err);
    } else if (j->op == OP_OWN_PASSWORD) {
        set_cookie(j->a, j->req, "", 0);
        web_reply_json(j->req, 200, NULL);
    } else if (j->op == OP_ADD) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", j->name);
        cJSON_AddStringToObject(o, "role", j->role);
        web_reply_json(j->req, 201, o);
    } else {
        web_reply_json(j->req, 200, NULL);
    }
    user_job_free(j);
}

static user_job_t *user_job_new(web_auth_t *a, web_req_t *req, enum user_op op)
{
    user_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        web_reply_error(req, 500, NULL, "out of memory");
        return NULL;
    }
    *j = (user_job_t){.a = a, .req = req, .op = op, .iterations = a->opts.pbkdf2_iterations};
    return j;
}

static void user_job_submit(user_job_t *j)
{
    if (web_defer(j->a->web, user_work, user_done, j)) {
        web_reply_busy(j->req);
        user_job_free(j);
    }
}

/* The user's own password: the old one proves it is them (a session left
 * open on a desk is not enough); every session of the user ends. */
static void change_own_password(web_req_t *req, void *arg)
{
    web_auth_t *a = arg;
    ident_t id;
    if (identify(a, req, &id)) {
        web_reply_error(req, 401, NULL, "login required");
        return;
    }
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    const char *old = json_str(body, "old_password"), *pw = json_str(body, "new_password");
    found_user_t u;
    user_job_t *j;
    if (!old || !find_user(a, id.name, &u)) {
        web_reply_error(req, 400, "old_password", "old_password: wrong password");
    } else if ((j = user_job_new(a, req, OP_OWN_PASSWORD))) {
        copy_str(j->name, sizeof j->name, id.name);
        copy_checked(j->old_pw, sizeof j->old_pw, old);
        copy_str(j->old_hash, sizeof j->old_hash, u.hash);
        j->has_pw = pw != NULL;
        copy_checked(j->pw, sizeof j->pw, pw);
        user_job_submit(j);
    }
    cJSON_Delete(body);
}

static void users_list(web_auth_t *a, web_req_t *req)
{
    if (web_require_role(a->web, req, "admin"))
        return;
    char err[256];
    cJSON *arr = web_user_list(a->ctx->reader, err, sizeof err);
    if (!arr) {
        web_reply_error(req, 500, NULL, "%s", err);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "users", arr);
    web_reply_json(req, 200, j);
}

static void users_add(web_auth_t *a, web_req_t *req)
{
    if (web_require_role(a->web, req, "admin"))
        return;
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    const char *name = json_str(body, "name"), *role = json_str(body, "role"),
               *pw = json_str(body, "password");
    user_job_t *j = user_job_new(a, req, OP_ADD);
    if (j) {
        copy_str(j->actor, sizeof j->actor, web_actor(a->web, req));
        copy_checked(j->name, sizeof j->name, name);
        j->has_role = role != NULL;
        copy_checked(j->role, sizeof j->role, role);
        j->has_pw = pw != NULL;
        copy_checked(j->pw, sizeof j->pw, pw);
        user_job_submit(j);
    }
    cJSON_Delete(body);
}

/* PUT /api/v1/users/<name> {"role"?, "disabled"?, "password"?}: all fields
 * are checked before any is stored. */
static void users_change(web_req_t *req, void *arg)
{
    web_auth_t *a = arg;
    if (web_require_role(a->web, req, "admin"))
        return;
    const char *name = web_path(req) + strlen("/api/v1/users/");
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    char actor[40];
    snprintf(actor, sizeof actor, "%s", web_actor(a->web, req));
    cJSON *role = cJSON_GetObjectItemCaseSensitive(body, "role");
    cJSON *dis = cJSON_GetObjectItemCaseSensitive(body, "disabled");
    cJSON *pw = cJSON_GetObjectItemCaseSensitive(body, "password");
    web_role r;
    found_user_t u;
    user_job_t *j;
    if (!find_user(a, name, &u))
        web_reply_error(req, 404, "name", "name: no user '%s'", name);
    else if (!role && !dis && !pw)
        web_reply_error(req, 400, "body", "give role, disabled or password");
    else if (role && (!cJSON_IsString(role) || web_role_parse(role->valuestring, &r)))
        web_reply_error(req, 400, "role", "role: expected viewer, dispatcher, engineer or admin");
    else if (dis && !cJSON_IsBool(dis))
        web_reply_error(req, 400, "disabled", "disabled: expected true or false");
    else if (pw && (!cJSON_IsString(pw) || strlen(pw->valuestring) < 8 || strlen(pw->valuestring) > 128))
        web_reply_error(req, 400, "password", "password: 8 to 128 characters");
    else if (strcmp(name, actor) == 0 && ((role && r != WEB_ROLE_ADMIN) || cJSON_IsTrue(dis)))
        web_reply_error(req, 400, role ? "role" : "disabled",
                        "an admin cannot demote or disable their own account");
    else if ((j = user_job_new(a, req, OP_CHANGE))) {
        copy_str(j->name, sizeof j->name, name); /* found: at most 32 characters */
        copy_str(j->actor, sizeof j->actor, actor);
        j->has_role = role != NULL;
        copy_str(j->role, sizeof j->role, role ? role->valuestring : NULL);
        j->has_disabled = dis != NULL;
        j->disabled = cJSON_IsTrue(dis);
        j->has_pw = pw != NULL;
        copy_str(j->pw, sizeof j->pw, pw ? pw->valuestring : NULL);
        user_job_submit(j);
    }
    cJSON_Delete(body);
}

static void session_route(web_req_t *req, void *arg)
{
    int m = web_method_of(req);
    if (m == WEB_POST)
        login(arg, req);
    else if (m == WEB_DELETE)
        logout(arg, req);
    else
        whoami(arg, req);
}

static void users_route(web_req_t *req, void *arg)
{
    if (web_method_of(req) == WEB_POST)
        users_add(arg, req);
    else
        users_list(arg, req);
}

int web_register_auth(web_t *w, web_ctx_t *ctx, const web_auth_opts_t *o)
{
    char err[128];
    web_auth_t *a = web_state_new(w, sizeof *a, NULL);
    if (!a)
        return CM_ERR_NOMEM;
    a->web = w;
    a->ctx = ctx;
    a->opts = *o;
    /* A hash of random bytes nobody knows: unknown users cost a KDF too. */
    unsigned char rnd[24];
    char pw[49];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return CM_ERR_CRYPTO;
    hex(rnd, sizeof rnd, pw);
    int rc = web_password_hash(pw, o->pbkdf2_iterations, a->dummy_hash, sizeof a->dummy_hash, err,
                               sizeof err);
    if (!rc)
        rc = web_route(w, WEB_GET | WEB_POST | WEB_DELETE, "/api/v1/session", session_route, a);
    if (!rc)
        rc = web_route(w, WEB_POST, "/api/v1/session/password", change_own_password, a);
    if (!rc)
        rc = web_route(w, WEB_GET | WEB_POST, "/api/v1/users", users_route, a);
    if (!rc)
        rc = web_route(w, WEB_PUT, "/api/v1/users/*", users_change, a);
    if (rc)
        return rc;
    web_set_guard(w, guard, a);
    return CM_OK;
}
