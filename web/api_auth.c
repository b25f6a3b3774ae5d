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

static struct {
    bool installed;
    web_ctx_t *ctx;
    web_auth_opts_t opts;
    char dummy_hash[160]; /* verified against when the user is unknown: same time */
    session_t sessions[MAX_SESSIONS];
    limit_t limits[MAX_LIMITS];
    char actor[40];
} g;

void web_auth_opts_default(web_auth_opts_t *o)
{
    *o = (web_auth_opts_t){.anonymous_read = true, .session_hours = 12, .login_max_failures = 5,
                           .login_lockout_s = 300, .cookie_secure = false};
}

int web_auth_opts_from_cfg(const cfg_sec_t *root, web_auth_opts_t *o, char *err, size_t errlen)
{
    cfg_sec_t http;
    long long hours, fails, lock;
    web_auth_opts_default(o);
    int rc = cfg_section(root, "http", &http, err, errlen);
    if (!rc)
        rc = cfg_get_bool(&http, "anonymous_read", false, o->anonymous_read, &o->anonymous_read,
                          err, errlen);
    if (!rc)
        rc = cfg_get_int(&http, "session_hours", false, o->session_hours, 1, 24 * 31, &hours, err,
                         errlen);
    if (!rc)
        rc = cfg_get_int(&http, "login_max_failures", false, o->login_max_failures, 1, 100, &fails,
                         err, errlen);
    if (!rc)
        rc = cfg_get_int(&http, "login_lockout_s", false, o->login_lockout_s, 1, LOCKOUT_MAX_S,
                         &lock, err, errlen);
    if (!rc)
        rc = cfg_get_bool(&http, "cookie_secure", false, o->cookie_secure, &o->cookie_secure, err,
                          errlen);
    if (rc)
        return rc;
    o->session_hours = (int)hours;
    o->login_max_failures = (int)fails;
    o->login_lockout_s = (int)lock;
    return CM_OK;
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

static session_t *find_session(web_req_t *req)
{
    char tok[2 * TOKEN_BYTES + 1];
    if (!cookie_token(req, tok))
        return NULL;
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)tok, strlen(tok), h);
    int64_t now = tm_now_ms();
    for (int i = 0; i < MAX_SESSIONS; i++) {
        session_t *s = &g.sessions[i];
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
static int identify(web_req_t *req, ident_t *id)
{
    memset(id, 0, sizeof *id);
    session_t *s = find_session(req);
    if (!s)
        return CM_ERR_AUTH;
    sqlite3_stmt *st;
    if (store_prepare(g.ctx->reader, "SELECT name, role, disabled, pw_gen FROM web_user WHERE id = ?",
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

static session_t *new_session(int64_t user_id, int64_t pw_gen, char tok[2 * TOKEN_BYTES + 1])
{
    unsigned char raw[TOKEN_BYTES], csrf[TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1 || RAND_bytes(csrf, sizeof csrf) != 1)
        return NULL;
    int64_t now = tm_now_ms();
    session_t *slot = NULL;
    for (int i = 0; i < MAX_SESSIONS; i++) {
        session_t *s = &g.sessions[i];
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
    slot->expires_ms = now + (int64_t)g.opts.session_hours * 3600 * 1000;
    return slot;
}

static void set_cookie(web_req_t *req, const char *tok, int max_age)
{
    char c[200];
    snprintf(c, sizeof c, "cm_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", tok,
             max_age, g.opts.cookie_secure ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", c);
}

/* ---- login rate limits ------------------------------------------------------ */

static limit_t *limit_slot(const char *key, bool create)
{
    limit_t *oldest = &g.limits[0];
    for (int i = 0; i < MAX_LIMITS; i++) {
        limit_t *l = &g.limits[i];
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
static int limit_wait_s(const char *key, int64_t now)
{
    limit_t *l = limit_slot(key, false);
    return l && l->until_ms > now ? (int)((l->until_ms - now + 999) / 1000) : 0;
}

static void limit_fail(const char *key, int64_t now)
{
    limit_t *l = limit_slot(key, true);
    if (now - l->first_ms > FAIL_WINDOW_MS && l->until_ms <= now) {
        l->failures = 0;
        l->first_ms = now;
    }
    if (++l->failures >= g.opts.login_max_failures) {
        int extra = l->failures - g.opts.login_max_failures;
        int64_t s = g.opts.login_lockout_s;
        while (extra-- > 0 && s < LOCKOUT_MAX_S)
            s *= 2;
        l->until_ms = now + (s < LOCKOUT_MAX_S ? s : LOCKOUT_MAX_S) * 1000;
    }
}

static void limit_clear(const char *key)
{
    limit_t *l = limit_slot(key, false);
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

int web_require_role(web_req_t *req, const char *role)
{
    web_role need;
    if (!g.installed)
        return CM_OK;
    if (web_role_parse(role, &need)) {
        web_reply_error(req, 500, NULL, "internal: unknown role %s", role);
        return CM_ERR_AUTH;
    }
    ident_t id;
    if (identify(req, &id)) {
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

const char *web_actor(web_req_t *req)
{
    ident_t id;
    snprintf(g.actor, sizeof g.actor, "%s", identify(req, &id) ? "anonymous" : id.name);
    return g.actor;
}

static bool is_self_service(const char *path, int method)
{
    return (strcmp(path, "/api/v1/session") == 0 && method == WEB_DELETE) ||
           strcmp(path, "/api/v1/session/password") == 0;
}

static bool guard(web_req_t *req, bool public_route, void *arg)
{
    const char *path = web_path(req);
    int method = web_method_of(req);
    if (public_route || strncmp(path, "/api/", 5) != 0)
        return true;
    if (method == WEB_GET) {
        if (g.opts.anonymous_read || strcmp(path, "/api/v1/session") == 0 ||
            strcmp(path, "/api/v1/health") == 0)
            return true;
        return web_require_role(req, "viewer") == CM_OK;
    }
    if (!same_origin(req)) {
        web_reply_error(req, 403, "Origin", "cross-origin request refused");
        return false;
    }
    if (method == WEB_POST && strcmp(path, "/api/v1/session") == 0)
        return true; /* the login: rate-limited in its handler */
    ident_t id;
    if (identify(req, &id)) {
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

static cJSON *session_json(const ident_t *id)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "user", id->name);
    cJSON_AddStringToObject(j, "role", web_role_name(id->role));
    cJSON_AddStringToObject(j, "csrf", id->s->csrf);
    char buf[40];
    tm_format_bj_iso_ms(id->s->expires_ms, buf, sizeof buf);
    cJSON_AddStringToObject(j, "expires", buf);
    cJSON_AddBoolToObject(j, "anonymous_read", g.opts.anonymous_read);
    return j;
}

static const char *json_str(cJSON *body, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int job_last_login(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (store_prepare(db, "UPDATE web_user SET last_login_ms = ? WHERE id = ?", &s, err, errlen))
        return CM_ERR_DB;
    sqlite3_bind_int64(s, 1, tm_now_ms());
    sqlite3_bind_int64(s, 2, *(int64_t *)arg);
    int rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK : CM_ERR_DB;
    sqlite3_finalize(s);
    return rc;
}

typedef struct found_user {
    int64_t id, pw_gen;
    char hash[160];
    bool disabled;
    web_role role;
} found_user_t;

static bool find_user(const char *name, found_user_t *u)
{
    sqlite3_stmt *s;
    if (store_prepare(g.ctx->reader,
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

static void login(web_req_t *req, void *arg)
{
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    const char *name = json_str(body, "name"), *pw = json_str(body, "password");
    char ip[64], kip[80], kuser[80];
    if (!name || !*name || strlen(name) > 32) {
        web_reply_error(req, 400, "name", "name: a user name is required");
        goto out;
    }
    if (!pw) {
        web_reply_error(req, 400, "password", "password: required");
        goto out;
    }
    peer(req, ip, sizeof ip);
    snprintf(kip, sizeof kip, "ip:%s", ip);
    snprintf(kuser, sizeof kuser, "user:%s", name);
    int64_t now = tm_now_ms();
    int wait = limit_wait_s(kip, now);
    if (limit_wait_s(kuser, now) > wait)
        wait = limit_wait_s(kuser, now);
    if (wait > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", wait);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
        web_reply_error(req, 429, "password", "too many failed logins; try again in %d s", wait);
        goto out;
    }
    found_user_t u;
    bool known = find_user(name, &u);
    bool ok = web_password_verify(pw, known ? u.hash : g.dummy_hash) == CM_OK && known && !u.disabled;
    if (!ok) {
        limit_fail(kip, now);
        limit_fail(kuser, now);
        log_warn("auth", "failed login for '%s' from %s", name, ip);
        web_reply_error(req, 401, "password", "wrong user name or password");
        goto out;
    }
    limit_clear(kip);
    limit_clear(kuser);
    char tok[2 * TOKEN_BYTES + 1], err[256];
    session_t *s = new_session(u.id, u.pw_gen, tok);
    if (!s) {
        web_reply_error(req, 500, NULL, "no random bytes for a session");
        goto out;
    }
    if (store_write(g.ctx->store, job_last_login, &u.id, err, sizeof err))
        log_warn("auth", "recording the login of %s: %s", name, err);
    log_info("auth", "%s logged in from %s", name, ip);
    set_cookie(req, tok, g.opts.session_hours * 3600);
    ident_t id = {.s = s, .role = u.role};
    snprintf(id.name, sizeof id.name, "%s", name);
    web_reply_json(req, 200, session_json(&id));
out:
    cJSON_Delete(body);
}

static void whoami(web_req_t *req, void *arg)
{
    ident_t id;
    if (identify(req, &id) == CM_OK) {
        web_reply_json(req, 200, session_json(&id));
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNullToObject(j, "user");
    cJSON_AddNullToObject(j, "role");
    cJSON_AddBoolToObject(j, "anonymous_read", g.opts.anonymous_read);
    web_reply_json(req, 200, j);
}

static void logout(web_req_t *req, void *arg)
{
    ident_t id;
    if (identify(req, &id) == CM_OK) {
        log_info("auth", "%s logged out", id.name);
        id.s->used = false;
    }
    set_cookie(req, "", 0);
    web_reply_json(req, 200, NULL);
}

/* The user's own password: the old one proves it is them (a session left
 * open on a desk is not enough); every session of the user ends. */
static void change_own_password(web_req_t *req, void *arg)
{
    ident_t id;
    if (identify(req, &id)) {
        web_reply_error(req, 401, NULL, "login required");
        return;
    }
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    const char *old = json_str(body, "old_password"), *pw = json_str(body, "new_password");
    found_user_t u;
    char err[256];
    if (!old || !find_user(id.name, &u) || web_password_verify(old, u.hash)) {
        web_reply_error(req, 400, "old_password", "old_password: wrong password");
    } else if (!pw) {
        web_reply_error(req, 400, "new_password", "new_password: required");
    } else {
        int rc = web_user_passwd(g.ctx->store, id.name, pw, id.name, "api", err, sizeof err);
        if (rc == CM_ERR_INVALID) {
            web_reply_error(req, 400, "new_password", "new_%s", err);
        } else if (rc) {
            reply_user_error(req, rc, err);
        } else {
            set_cookie(req, "", 0);
            web_reply_json(req, 200, NULL);
        }
    }
    cJSON_Delete(body);
}

static void users_list(web_req_t *req, void *arg)
{
    if (web_require_role(req, "admin"))
        return;
    char err[256];
    cJSON *arr = web_user_list(g.ctx->reader, err, sizeof err);
    if (!arr) {
        web_reply_error(req, 500, NULL, "%s", err);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "users", arr);
    web_reply_json(req, 200, j);
}

static void users_add(web_req_t *req, void *arg)
{
    if (web_require_role(req, "admin"))
        return;
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    char err[256], actor[40];
    snprintf(actor, sizeof actor, "%s", web_actor(req));
    const char *name = json_str(body, "name"), *role = json_str(body, "role"),
               *pw = json_str(body, "password");
    int rc = web_user_add(g.ctx->store, name, role, pw, actor, "api", err, sizeof err);
    if (rc) {
        reply_user_error(req, rc, err);
    } else {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", name);
        cJSON_AddStringToObject(j, "role", role);
        web_reply_json(req, 201, j);
    }
    cJSON_Delete(body);
}

/* PUT /api/v1/users/<name> {"role"?, "disabled"?, "password"?}: all fields
 * are checked before any is stored. */
static void users_change(web_req_t *req, void *arg)
{
    if (web_require_role(req, "admin"))
        return;
    const char *name = web_path(req) + strlen("/api/v1/users/");
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    char err[256], actor[40];
    snprintf(actor, sizeof actor, "%s", web_actor(req));
    cJSON *role = cJSON_GetObjectItemCaseSensitive(body, "role");
    cJSON *dis = cJSON_GetObjectItemCaseSensitive(body, "disabled");
    cJSON *pw = cJSON_GetObjectItemCaseSensitive(body, "password");
    web_role r;
    found_user_t u;
    int rc = CM_OK;
    if (!find_user(name, &u))
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
    else {
        if (role)
            rc = web_user_set_role(g.ctx->store, name, role->valuestring, actor, "api", err, sizeof err);
        if (!rc && dis)
            rc = web_user_set_disabled(g.ctx->store, name, cJSON_IsTrue(dis), actor, "api", err,
                                       sizeof err);
        if (!rc && pw)
            rc = web_user_passwd(g.ctx->store, name, pw->valuestring, actor, "api", err, sizeof err);
        if (rc)
            reply_user_error(req, rc, err);
        else
            web_reply_json(req, 200, NULL);
    }
    cJSON_Delete(body);
}

static void session_route(web_req_t *req, void *arg)
{
    int m = web_method_of(req);
    if (m == WEB_POST)
        login(req, arg);
    else if (m == WEB_DELETE)
        logout(req, arg);
    else
        whoami(req, arg);
}

static void users_route(web_req_t *req, void *arg)
{
    if (web_method_of(req) == WEB_POST)
        users_add(req, arg);
    else
        users_list(req, arg);
}

int web_register_auth(web_t *w, web_ctx_t *ctx, const web_auth_opts_t *o)
{
    char err[128];
    memset(&g, 0, sizeof g);
    g.ctx = ctx;
    g.opts = *o;
    /* A hash of random bytes nobody knows: unknown users cost a KDF too. */
    unsigned char rnd[24];
    char pw[49];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return CM_ERR_CRYPTO;
    hex(rnd, sizeof rnd, pw);
    int rc = web_password_hash(pw, g.dummy_hash, sizeof g.dummy_hash, err, sizeof err);
    if (!rc)
        rc = web_route(w, WEB_GET | WEB_POST | WEB_DELETE, "/api/v1/session", session_route, NULL);
    if (!rc)
        rc = web_route(w, WEB_POST, "/api/v1/session/password", change_own_password, NULL);
    if (!rc)
        rc = web_route(w, WEB_GET | WEB_POST, "/api/v1/users", users_route, NULL);
    if (!rc)
        rc = web_route(w, WEB_PUT, "/api/v1/users/*", users_change, NULL);
    if (rc)
        return rc;
    web_set_guard(w, guard, NULL);
    g.installed = true;
    return CM_OK;
}
