/*
 * web: the HTTP face of coalmond — a libevent HTTP server with a route table,
 * JSON helpers, the static dashboard, and the API handlers that call the
 * other modules (it holds no business logic of its own).
 *
 * Threads: one event-loop thread runs web_run(); handlers, timers and done
 * functions run on it and never wait: a store write goes through web_write()
 * (the writer commits, the reply follows on the loop), anything else that
 * takes time (a password hash, a module call that waits for its commit) through
 * web_defer() (a worker runs it, the reply follows on the loop).
 * Ownership: web_t owns its event base, its routes, its worker threads and
 * the routes' state made with web_state_new(); web_free() frees them all. A
 * handler's `arg` made otherwise stays the caller's and must outlive the
 * server. Request and reply objects belong to libevent; web_reply_* take
 * ownership of the cJSON they are given.
 */
#ifndef COALMON_WEB_H
#define COALMON_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/core.h"

struct evhttp_request;
struct event_base;

typedef struct web web_t;
typedef struct evhttp_request web_req_t;

enum web_method { WEB_GET = 1, WEB_POST = 2, WEB_PUT = 4, WEB_DELETE = 8 };

/* A handler answers req exactly once with one of the web_reply_* calls. */
typedef void (*web_handler_fn)(web_req_t *req, void *arg);

typedef struct web_opts {
    char host[64];       /* listen address, default 127.0.0.1 */
    int port;            /* default 8080; 0 picks a free port (see web_port) */
    size_t max_body;     /* bytes; larger bodies get 413 (default 4 MiB) */
    int timeout_s;       /* per connection (default 30) */
    int workers;         /* threads for web_defer() (default 2), at nice +10 below the loop */
    int max_deferred;    /* web_defer() items waiting at most (default 64) */
} web_opts_t;

void web_opts_default(web_opts_t *o);

/* Create the server, bind and start its workers. NULL with err filled on failure. */
web_t *web_new(const web_opts_t *opts, char *err, size_t errlen);
/* After web_run() has returned (or before it ran): waits for deferred work and
 * writes still out and runs their done functions (replies still due go out),
 * then calls the free functions of web_state_new() in reverse order, then
 * frees the server. NULL is accepted. */
void web_free(web_t *w);
/* The bound port (useful when opts.port was 0). */
int web_port(const web_t *w);
struct event_base *web_base(web_t *w);

/*
 * Route: pattern is an exact path ("/api/v1/live") or a prefix ending in '*'
 * ("/api/v1/alarms/" followed by a star). Longest match wins; a matched path with the wrong
 * method gets 405. Returns CM_ERR_NOMEM or CM_ERR_INVALID (table full).
 */
int web_route(web_t *w, int methods, const char *pattern, web_handler_fn fn, void *arg);

/*
 * Same as web_route, for endpoints under /api/ that machines call and that
 * authenticate by other means (a station key, an uplink token): the session
 * guard of web_register_auth() lets every method through. The uplink
 * receiver (/<prefix>/api/...) is outside /api/ and needs nothing.
 */
int web_route_public(web_t *w, int methods, const char *pattern, web_handler_fn fn, void *arg);

/* Called before every matched, method-checked route. Returns true to run the
 * handler; false when it has replied itself (401, 403, ...). One guard. */
typedef bool (*web_guard_fn)(web_req_t *req, bool public_route, void *arg);
void web_set_guard(web_t *w, web_guard_fn fn, void *arg);

/* The guard's arg when fn is the installed guard, else NULL. */
void *web_guard_arg(const web_t *w, web_guard_fn fn);

/*
 * Route state owned by the server: size zeroed bytes, NULL when out of
 * memory. web_free() calls free_fn (may be NULL) on it, then frees it, in
 * reverse order of creation and after the deferred work has finished, while
 * the event base still exists (free_fn may event_free the state's timers).
 */
void *web_state_new(web_t *w, size_t size, void (*free_fn)(void *state));

/*
 * Work off the loop. web_defer: `work` runs on one of the server's worker
 * threads (it may wait: store_write, a password hash, a module call that
 * commits), then `done` runs on the loop thread, where it may reply. work
 * must not touch the loop's reader connection or libevent objects. Returns
 * CM_ERR_NOMEM (queue full, out of memory) or CM_ERR_CLOSED (shutting down):
 * then neither runs and the caller still owns arg (a handler replies 503).
 * Call on the loop thread.
 */
typedef void (*web_work_fn)(void *arg);
int web_defer(web_t *w, web_work_fn work, web_work_fn done, void *arg);
/* One store write job without a worker: job runs on the store's writer
 * (store_write_async), then done runs on the loop with the job's result, or
 * CM_ERR_DB when the commit failed. Errors as web_defer. */
typedef void (*web_write_done_fn)(void *arg, int rc, const char *err);
int web_write(web_t *w, store_t *st, store_job_fn job, void *arg, web_write_done_fn done);

/* After web_run() has returned: stop taking deferred work, wait for the work
 * and writes still out and run their done functions (their replies go out).
 * web_free() does it too; call it first when done functions use things
 * freed before the server. Further web_defer/web_write calls fail. */
void web_drain(web_t *w);

/* Run the loop until web_stop() or SIGINT/SIGTERM (when handle_signals). */
int web_run(web_t *w, bool handle_signals);
/* Thread-safe: ask the loop to finish. */
void web_stop(web_t *w);

/* ---- request helpers ---------------------------------------------------- */

int web_method_of(web_req_t *req);
/* Decoded path without the query string; valid until the reply. */
const char *web_path(web_req_t *req);
/* Query parameter value, copied into out; CM_ERR_NOTFOUND when absent. */
int web_query(web_req_t *req, const char *key, char *out, size_t outlen);
/*
 * The query helpers every handler uses, with one set of messages: on a bad
 * value they reply 400 {"error": "<key>: ...", "field": "<key>"} themselves
 * and return false.
 * web_query_int: integer key in min..max, def when absent.
 * web_query_time: Beijing "yyyy-MM-dd[ HH:mm[:ss]]" into epoch seconds;
 *   *out untouched and *given false when absent (given may be NULL).
 * web_query_range: from/to; absent to = now + 1 s, absent from = to -
 *   def_span_s; at most max_span_s apart (0: no limit); to after from.
 */
bool web_query_int(web_req_t *req, const char *key, long long def, long long min, long long max,
                   long long *out);
bool web_query_time(web_req_t *req, const char *key, int64_t *out, bool *given);
bool web_query_range(web_req_t *req, int64_t def_span_s, int64_t max_span_s, int64_t *from,
                     int64_t *to);
const char *web_header(web_req_t *req, const char *name);
/* The body as a NUL-terminated copy the caller frees; *len without NUL. */
char *web_body(web_req_t *req, size_t *len);
/* Parse the body as JSON; on failure replies 400 itself and returns NULL. */
cJSON *web_body_json(web_req_t *req);

/* ---- replies ------------------------------------------------------------- */

/* Send body (takes ownership, may be NULL for an empty object) with status. */
void web_reply_json(web_req_t *req, int status, cJSON *body);
/* {"error": message, "field": field} — field may be NULL. */
void web_reply_error(web_req_t *req, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void web_reply_data(web_req_t *req, int status, const char *content_type, const void *data,
                    size_t len);
/* The status for a module's error code: 400 invalid, 404 not found, 409
 * conflict, 503 when the store could not answer (CM_ERR_DB, _IO, _TIMEOUT,
 * _CLOSED: a figure it could not read is not 0), else 500. */
int web_status_of(int rc);
/* web_reply_error() with web_status_of(rc) and err as the reason; a 503 says
 * "the database could not answer: <SQLite's message>". */
void web_reply_failure(web_req_t *req, int rc, const char *err);
/* 503 "the server is busy" with Retry-After: 1, for a handler whose
 * web_defer/web_write was refused (queue full or shutting down). */
void web_reply_busy(web_req_t *req);

/* ---- the routes of this module ------------------------------------------ */

typedef struct web_ctx {
    store_t *store;
    sqlite3 *reader;     /* a read connection used only on the web thread */
    const char *role;    /* "mine" or "platform" */
    const char *version;
    const char *data_dir;  /* the daemon's data folder: downloads are built in its tmp/ */
    const char *mine_name; /* configured "mine_name" for report titles; NULL or "" = none */
    web_t *web;            /* the server the routes are on (web_require_role, web_defer) */
} web_ctx_t;

/* A report object (RPT-1, RPT-2) as an Excel download (web/reply_xlsx.c):
 * 200 with Content-Disposition attachment; filename="<filename>" (ASCII),
 * else 500 with the reason. The report stays the caller's. */
void web_reply_report_xlsx(web_req_t *req, const web_ctx_t *ctx, const cJSON *report,
                           const char *filename);

/* GET /api/v1/live, GET /api/v1/health, GET /metrics, and the static pages. */
int web_register_core(web_t *w, web_ctx_t *ctx);
/* GET (filters device, from, to) and POST (engineer) /api/v1/calibrations (ACQ-5). */
int web_register_calibration(web_t *w, web_ctx_t *ctx);
/* GET /api/v1/server: CPU, memory and disk of the server (QRY-3), with ten
 * minutes of history sampled every 5 s by a timer on the web loop. */
int web_register_health(web_t *w, web_ctx_t *ctx);
/* Intake (issue #9, web/api_intake*.c, docs/intake.md): weighbridge tickets,
 * exit captures and points, escapes, sales, inventory, contracts, figures,
 * RPT-2 reports; machines post with an API key. Posts store on a worker
 * (web_defer) and reply on the loop. Also starts a timer on the web loop that
 * hands matching exits to tickets to a worker every conf->match_interval_s
 * (conf is copied). The handle is the server's (web_free frees it);
 * web_intake_close() stops the timer early. NULL on failure. */
struct intake_conf;
typedef struct web_intake web_intake_t;
web_intake_t *web_register_intake(web_t *w, web_ctx_t *ctx, const struct intake_conf *conf);
void web_intake_close(web_intake_t *iw);

/* Alarms (web/api_alarms*.c, docs/alarms.md): GET /api/v1/alarms[/{id}],
 * POST /api/v1/alarms/{id}/ack|shelve|clear, /api/v1/alarms/pending,
 * /api/v1/alarms/settings[/{type}], POST /api/v1/alarms/conditions, and the
 * event stream GET /api/v1/events. engine may be NULL (no immediate
 * evaluation on new data). Free the handle with web_alarms_free() before
 * web_free(); NULL on failure (route table full, out of memory). */
struct alarm_engine;
typedef struct web_alarms web_alarms_t;
web_alarms_t *web_register_alarms(web_t *w, web_ctx_t *ctx, struct alarm_engine *engine);
void web_alarms_free(web_alarms_t *a);

/* ---- users, sessions, roles (web/auth.c, web/api_auth.c) ----------------
 *
 * Roles, each including the ones before it: viewer (read), dispatcher
 * (acknowledge alarms), engineer (change parameters), admin (users).
 * Passwords: PBKDF2-HMAC-SHA256, 600 000 iterations (http.pbkdf2_iterations;
 * each hash names its count, so old hashes verify), 16-byte random salt,
 * hashed and checked on a worker (web_defer), never on the loop.
 * Sessions: in the daemon's memory (a restart logs everyone out), cookie
 * "cm_session" HttpOnly + SameSite=Strict, a CSRF token per session that every
 * change must send in the X-CSRF-Token header. Failed logins are limited per
 * client address and per user name.
 *
 * The guard installed by web_register_auth() enforces, before any handler:
 *  - POST/PUT/DELETE under /api/ (except the login itself and routes added
 *    with web_route_public): a valid session (else 401), the session's CSRF
 *    token and a same-origin Origin when one is sent (else 403), and at least
 *    the dispatcher role (else 403) — the user's own logout and password
 *    change need only viewer;
 *  - GET under /api/: anonymous when http.anonymous_read is true (default),
 *    else a viewer session (session and health endpoints stay open).
 * Handlers that need more than that call web_require_role() first.
 * Threads: everything here runs on the web thread except the hashing; the
 * state (sessions, limits) is the server's (web_state_new).
 */
typedef enum web_role {
    WEB_ROLE_NONE = 0,
    WEB_ROLE_VIEWER = 1,
    WEB_ROLE_DISPATCHER = 2,
    WEB_ROLE_ENGINEER = 3,
    WEB_ROLE_ADMIN = 4,
} web_role;

/* "viewer", "dispatcher", "engineer", "admin"; CM_ERR_INVALID otherwise. */
int web_role_parse(const char *s, web_role *out);
const char *web_role_name(web_role r);

typedef struct web_auth_opts {
    bool anonymous_read;    /* http.anonymous_read, default true */
    int session_hours;      /* http.session_hours, default 12 */
    int login_max_failures; /* http.login_max_failures, default 5 in 15 min */
    int login_lockout_s;    /* http.login_lockout_s, default 300, doubling, at most 1 h */
    bool cookie_secure;     /* http.cookie_secure, default false (plain HTTP on the LAN) */
    int pbkdf2_iterations;  /* http.pbkdf2_iterations for new hashes, default 600 000 */
} web_auth_opts_t;

#define WEB_PBKDF2_ITER_DEFAULT 600000

void web_auth_opts_default(web_auth_opts_t *o);
/* Reads the keys above from the "http" section of root. */
int web_auth_opts_from_cfg(const cfg_sec_t *root, web_auth_opts_t *o, char *err, size_t errlen);

/* Install the guard and the routes /api/v1/session*, /api/v1/users*. */
int web_register_auth(web_t *w, web_ctx_t *ctx, const web_auth_opts_t *o);

/*
 * In a handler, before doing anything: 0 when the request's session has at
 * least `role` ("viewer", "dispatcher", "engineer", "admin"); otherwise it
 * has replied 401 (no valid session) or 403 (role too low) and returns
 * CM_ERR_AUTH — the handler just returns. Example:
 *     if (web_require_role(req, "engineer")) return;
 * Without web_register_auth() on w (unit tests of a module; w may be NULL) it
 * allows everything.
 */
int web_require_role(web_t *w, web_req_t *req, const char *role);
/* The session's user name for audit rows, or "anonymous". Valid until the
 * next call on this server. */
const char *web_actor(web_t *w, web_req_t *req);

/* The user table (migration 0060), shared by the API and `coalmon user`.
 * Each change is one write job, audited (store_audit, actions user.*) with
 * actor and channel ("cli", "api", "demo"). Names: 1-32 of [A-Za-z0-9_.-];
 * passwords: 8-128 bytes. Errors name the field in err. iterations: PBKDF2
 * count for the new hash (0: WEB_PBKDF2_ITER_DEFAULT). They wait for the
 * hash and the commit: call them off the loop. */
int web_user_add(store_t *st, const char *name, const char *role, const char *password,
                 int iterations, const char *actor, const char *channel, char *err, size_t errlen);
int web_user_passwd(store_t *st, const char *name, const char *password, int iterations,
                    const char *actor, const char *channel, char *err, size_t errlen);
int web_user_set_role(store_t *st, const char *name, const char *role, const char *actor,
                      const char *channel, char *err, size_t errlen);
int web_user_set_disabled(store_t *st, const char *name, bool disabled, const char *actor,
                          const char *channel, char *err, size_t errlen);
/* Array of {name, role, disabled, created, updated, last_login}; NULL on error. */
cJSON *web_user_list(sqlite3 *db, char *err, size_t errlen);
/* Hash for storage ("pbkdf2-sha256$iter$salt$key", iterations 1000..10 000 000,
 * 0: the default) and constant-time check with the count the hash names (0
 * when the password matches, CM_ERR_AUTH when not). */
int web_password_hash(const char *password, int iterations, char *out, size_t outlen, char *err,
                      size_t errlen);
int web_password_verify(const char *password, const char *stored);

/* ---- uplink (web/api_uplink.c, issue #5) ---------------------------------
 * GET /api/v1/uplink/status and /api/v1/uplink/log always; when cfg->receiver,
 * the platform receiver POST /<prefix>/api/<recordType>.do (cms, scyf) and
 * GET /api/v1/enterprises. cfg must outlive the server. */
struct upl_cfg;
int web_register_uplink(web_t *w, web_ctx_t *ctx, const struct upl_cfg *cfg);
/* The receiver answers after its store batch commits (web_write); web_free()
 * sends the answers still due. */
/* GET /api/v1/enterprises/{code} and .../records (web/api_enterprise.c,
 * issue 8): the county screen's drill-down; registered by
 * web_register_uplink when cfg->receiver. */
int web_register_enterprise(web_t *w, web_ctx_t *ctx, const struct upl_cfg *cfg);

/* ---- analytics (web/api_analytics.c, issue #6, docs/analytics.md) --------
 * GET /api/v1/models, /api/v1/models/current, POST /api/v1/models/fit,
 * GET /api/v1/conditions, /api/v1/consistency, GET|POST /api/v1/capacity,
 * GET /api/v1/energy, GET /api/v1/reports/rpt1/{output|pts|energy}. conf is
 * copied; runner (may be NULL) is kicked after a refit on demand and must
 * outlive the server. */
struct ana_conf;
struct ana_runner;
int web_register_analytics(web_t *w, web_ctx_t *ctx, const struct ana_conf *conf,
                           struct ana_runner *runner);

/* Issue #4, web/api_collector.c (docs/collector.md): GET /api/v1/devices
 * (?kind=meter|station), /api/v1/devices/{name} (with latest values),
 * /api/v1/devices/{name}/events (?kind=, ?limit=), /api/v1/collector/threads.
 * col may be NULL (platform role: no polling threads). */
struct col;
int web_register_collector(web_t *w, web_ctx_t *ctx, struct col *col);

/* QRY-1, web/api_series.c (docs/dashboard.md): GET /api/v1/series?device=&
 * quantity=|point=&from=&to=&step=raw|minute|auto — one point's stored values,
 * raw or minute averages with min and max, at most 20 000 rows a reply. */
int web_register_series(web_t *w, web_ctx_t *ctx);

#endif
