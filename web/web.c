/* The HTTP server: libevent evhttp, a route table, JSON replies. */
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "web/async.h"
#include "web/web.h"

#define MAX_ROUTES 96

typedef struct route {
    char pattern[128];
    bool prefix;
    int methods;
    web_handler_fn fn;
    void *arg;
    bool public_route; /* web_route_public(): the guard lets it through */
} route_t;

/* A piece of route state (web_state_new), freed by web_free in reverse order. */
typedef struct web_state {
    struct web_state *prev;
    void (*free_fn)(void *state);
    max_align_t data[];
} web_state_t;

struct web {
    struct event_base *base;
    web_async_t *async;
    web_state_t *states; /* newest first */
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    struct event *sigint, *sigterm;
    route_t routes[MAX_ROUTES];
    int nroutes;
    int port;
    web_guard_fn guard; /* web_set_guard(): sessions and roles (web/api_auth.c) */
    void *guard_arg;
};

void web_opts_default(web_opts_t *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    o->port = 8080;
    o->max_body = 4u << 20;
    o->timeout_s = 30;
    o->workers = 2;
    o->max_deferred = 64;
}

/* A pattern may be registered twice with different methods (e.g. GET for
 * sessions, POST public for a machine with a key): the one taking the method wins. */
static const route_t *match_route(const web_t *w, const char *path, int method)
{
    const route_t *best = NULL;
    size_t best_len = 0;
    for (int i = 0; i < w->nroutes; i++) {
        const route_t *r = &w->routes[i];
        size_t len = strlen(r->pattern);
        bool hit = r->prefix ? strncmp(path, r->pattern, len) == 0 : strcmp(path, r->pattern) == 0;
        bool same = best && len == best_len && r->prefix == best->prefix;
        if (hit && (!best || len > best_len || (len == best_len && !r->prefix && best->prefix) ||
                    (same && (r->methods & method) && !(best->methods & method)))) {
            best = r;
            best_len = len;
        }
    }
    return best;
}

int web_method_of(web_req_t *req)
{
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET: return WEB_GET;
    case EVHTTP_REQ_HEAD: return WEB_GET;
    case EVHTTP_REQ_POST: return WEB_POST;
    case EVHTTP_REQ_PUT: return WEB_PUT;
    case EVHTTP_REQ_DELETE: return WEB_DELETE;
    default: return 0;
    }
}

const char *web_path(web_req_t *req)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *p = uri ? evhttp_uri_get_path(uri) : NULL;
    return p && *p ? p : "/";
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    web_t *w = arg;
    const char *path = web_path(req);
    const route_t *r = match_route(w, path, web_method_of(req));
    if (!r) {
        web_reply_error(req, 404, NULL, "no such resource: %s", path);
        return;
    }
    if (!(r->methods & web_method_of(req))) {
        web_reply_error(req, 405, NULL, "method not allowed on %s", path);
        return;
    }
    if (w->guard && !w->guard(req, r->public_route, w->guard_arg))
        return;
    r->fn(req, r->arg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    web_t *w = arg;
    log_info("web", "signal %d received, stopping", (int)sig);
    event_base_loopexit(w->base, NULL);
}

web_t *web_new(const web_opts_t *opts, char *err, size_t errlen)
{
    static bool threads_ready;
    if (!threads_ready) {
        evthread_use_pthreads();
        /* A client that leaves while its answer is being written (a browser
         * closed mid-report, an SSE screen unplugged) must cost an EPIPE on
         * that connection, not the process: SIGPIPE's default is to exit. */
        signal(SIGPIPE, SIG_IGN);
        threads_ready = true;
    }
    web_opts_t def;
    if (!opts) {
        web_opts_default(&def);
        opts = &def;
    }
    web_t *w = calloc(1, sizeof *w);
    if (!w) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    w->base = event_base_new();
    w->http = w->base ? evhttp_new(w->base) : NULL;
    if (!w->http) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "cannot create the HTTP server");
        web_free(w);
        return NULL;
    }
    if (!(w->async = web_async_new(w->base, opts->workers, opts->max_deferred, err, errlen))) {
        web_free(w);
        return NULL;
    }
    evhttp_set_max_body_size(w->http, (ev_ssize_t)opts->max_body);
    evhttp_set_timeout(w->http, opts->timeout_s);
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    evhttp_set_gencb(w->http, dispatch, w);
    w->sock = evhttp_bind_socket_with_handle(w->http, opts->host, (ev_uint16_t)opts->port);
    if (!w->sock) {
        cm_fail(err, errlen, CM_ERR_IO, "cannot listen on %s:%d (in use or not permitted)",
                opts->host, opts->port);
        web_free(w);
        return NULL;
    }
    struct sockaddr_storage ss;
    ev_socklen_t sl = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(w->sock);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        w->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return w;
}

void web_free(web_t *w)
{
    if (!w)
        return;
    /* Deferred work first: its done functions reply and use the routes' state. */
    web_drain(w);
    web_async_free(w->async);
    while (w->states) {
        web_state_t *st = w->states;
        w->states = st->prev;
        if (st->free_fn)
            st->free_fn(st->data);
        free(st);
    }
    if (w->sigint)
        event_free(w->sigint);
    if (w->sigterm)
        event_free(w->sigterm);
    if (w->http)
        evhttp_free(w->http);
    if (w->base)
        event_base_free(w->base);
    free(w);
}

void web_drain(web_t *w)
{
    if (!w || !w->async)
        return;
    web_async_drain(w->async);
    for (int i = 0; i < 3; i++) /* send what those replies wrote */
        event_base_loop(w->base, EVLOOP_NONBLOCK);
}

int web_port(const web_t *w) { return w->port; }
struct event_base *web_base(web_t *w) { return w->base; }

int web_route(web_t *w, int methods, const char *pattern, web_handler_fn fn, void *arg)
{
    if (w->nroutes >= MAX_ROUTES || strlen(pattern) >= sizeof w->routes[0].pattern)
        return CM_ERR_INVALID;
    route_t *r = &w->routes[w->nroutes++];
    size_t len = strlen(pattern);
    r->prefix = len && pattern[len - 1] == '*';
    snprintf(r->pattern, sizeof r->pattern, "%.*s", (int)(r->prefix ? len - 1 : len), pattern);
    r->methods = methods;
    r->fn = fn;
    r->arg = arg;
    return CM_OK;
}

int web_route_public(web_t *w, int methods, const char *pattern, web_handler_fn fn, void *arg)
{
    int rc = web_route(w, methods, pattern, fn, arg);
    if (!rc)
        w->routes[w->nroutes - 1].public_route = true;
    return rc;
}

void web_set_guard(web_t *w, web_guard_fn fn, void *arg)
{
    w->guard = fn;
    w->guard_arg = arg;
}

void *web_guard_arg(const web_t *w, web_guard_fn fn)
{
    return w && w->guard == fn ? w->guard_arg : NULL;
}

void *web_state_new(web_t *w, size_t size, void (*free_fn)(void *state))
{
    web_state_t *st = calloc(1, sizeof *st + size);
    if (!st)
        return NULL;
    st->free_fn = free_fn;
    st->prev = w->states;
    w->states = st;
    return st->data;
}

int web_defer(web_t *w, web_work_fn work, web_work_fn done, void *arg)
{
    return web_async_defer(w->async, work, done, arg);
}

int web_write(web_t *w, store_t *st, store_job_fn job, void *arg, web_write_done_fn done)
{
    return web_async_write(w->async, st, job, arg, done);
}

int web_run(web_t *w, bool handle_signals)
{
    if (handle_signals) {
        w->sigint = evsignal_new(w->base, SIGINT, on_signal, w);
        w->sigterm = evsignal_new(w->base, SIGTERM, on_signal, w);
        if (!w->sigint || !w->sigterm || event_add(w->sigint, NULL) || event_add(w->sigterm, NULL))
            return CM_ERR_NOMEM;
    }
    return event_base_dispatch(w->base) < 0 ? CM_ERR_IO : CM_OK;
}

void web_stop(web_t *w) { event_base_loopexit(w->base, NULL); }

int web_query(web_req_t *req, const char *key, char *out, size_t outlen)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!q)
        return CM_ERR_NOTFOUND;
    struct evkeyvalq params;
    if (evhttp_parse_query_str(q, &params) != 0)
        return CM_ERR_INVALID;
    const char *v = evhttp_find_header(&params, key);
    int rc = CM_ERR_NOTFOUND;
    if (v) {
        snprintf(out, outlen, "%s", v);
        rc = strlen(v) < outlen ? CM_OK : CM_ERR_INVALID;
    }
    evhttp_clear_headers(&params);
    return rc;
}

const char *web_header(web_req_t *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

char *web_body(web_req_t *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *buf = malloc(n + 1);
    if (!buf)
        return NULL;
    evbuffer_copyout(in, buf, n);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

cJSON *web_body_json(web_req_t *req)
{
    size_t len;
    char *body = web_body(req, &len);
    if (!body) {
        web_reply_error(req, 500, NULL, "out of memory");
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(body, len);
    free(body);
    if (!j)
        web_reply_error(req, 400, "body", "the body is not valid JSON");
    return j;
}

void web_reply_data(web_req_t *req, int status, const char *content_type, const void *data,
                    size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", content_type);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Cache-Control", "no-store");
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(out, data, len);
    evhttp_send_reply(req, status, NULL, out);
    evbuffer_free(out);
}

void web_reply_json(web_req_t *req, int status, cJSON *body)
{
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text) {
        web_reply_data(req, body ? 500 : status, "application/json; charset=utf-8", "{}", 2);
        return;
    }
    web_reply_data(req, status, "application/json; charset=utf-8", text, strlen(text));
    cJSON_free(text);
}

int web_status_of(int rc)
{
    switch (rc) {
    case CM_ERR_INVALID: return 400;
    case CM_ERR_NOTFOUND: return 404;
    case CM_ERR_CONFLICT: return 409;
    case CM_ERR_DB:
    case CM_ERR_IO:
    case CM_ERR_TIMEOUT:
    case CM_ERR_CLOSED: return 503;
    default: return 500;
    }
}

void web_reply_failure(web_req_t *req, int rc, const char *err)
{
    int status = web_status_of(rc);
    if (status == 503)
        web_reply_error(req, 503, NULL, "the database could not answer: %s", err);
    else
        web_reply_error(req, status, NULL, "%s", err);
}

void web_reply_busy(web_req_t *req)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    web_reply_error(req, 503, NULL, "the server is busy; try again in a moment");
}

void web_reply_error(web_req_t *req, int status, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    if (field)
        cJSON_AddStringToObject(j, "field", field);
    web_reply_json(req, status, j);
}
