/*
 * web: the HTTP face of coalmond — a libevent HTTP server with a route table,
 * JSON helpers, the static dashboard, and the API handlers that call the
 * other modules (it holds no business logic of its own).
 *
 * Threads: one event-loop thread runs web_run(); handlers run on it and must
 * not block for long (a store_write() that waits for one batch is fine).
 * Ownership: web_t owns its event base and routes; a handler's `arg` stays
 * the caller's and must outlive the server. Request and reply objects belong
 * to libevent; web_reply_* take ownership of the cJSON they are given.
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
} web_opts_t;

void web_opts_default(web_opts_t *o);

/* Create the server and bind. NULL with err filled on failure. */
web_t *web_new(const web_opts_t *opts, char *err, size_t errlen);
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

/* ---- the routes of this module ------------------------------------------ */

typedef struct web_ctx {
    store_t *store;
    sqlite3 *reader;     /* a read connection used only on the web thread */
    const char *role;    /* "mine" or "platform" */
    const char *version;
} web_ctx_t;

/* GET /api/v1/live, GET /api/v1/health, GET /metrics, and the static pages. */
int web_register_core(web_t *w, web_ctx_t *ctx);

#endif
