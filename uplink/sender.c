/* The sender thread: builders, fan-out, and delivery with the libevent HTTP
 * client (plain HTTP, or HTTPS through OpenSSL with certificate and host-name
 * verification). One request in flight per destination; a success sends the
 * next at once, so a backlog drains at the speed of the link. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "uplink/uplink.h"

/* One request in flight on its own connection; a destination has d->parallel. */
typedef struct slot {
    struct dest_state *ds;
    bool busy, reset_conn;
    struct evhttp_connection *conn;
    upl_pick_t pick;
    int64_t t0;
} slot_t;

typedef struct dest_state {
    struct upl_sender *s;
    const upl_dest_t *d;
    upl_link_t link;
    bool https;
    char host[128], base_path[128];
    int port;
    SSL_CTX *ssl;
    slot_t slot[UPL_MAX_PARALLEL];
    struct event *kick;
} dest_state_t;

struct upl_sender {
    upl_cfg_t c;
    const cfg_t *cfg;
    store_t *st;
    sqlite3 *reader;
    pthread_t th;
    struct event_base *base;
    struct event *tick;
    dest_state_t ds[UPL_MAX_DEST];
    bool started, stopping;
    int64_t last_prune_s;
    int pending;        /* outcomes being committed; touched on the sender thread only */
    struct event *stop; /* activated by upl_sender_stop from another thread */
    int stop_checks;
};

static uint32_t rnd32(void)
{
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = (uint32_t)tm_mono_ms();
    return r;
}

/* ---- jobs run on the store's writer --------------------------------------- */

typedef struct result_arg {
    struct upl_sender *s;
    slot_t *sl;
    upl_outcome_t o;
    int64_t now_ms;
    uint32_t rnd;
    int rc;
    char err[256];
} result_arg_t;

static int result_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    result_arg_t *a = arg;
    return upl_queue_result_job(db, &a->s->c, a->sl->ds->d, &a->sl->pick, &a->o, a->now_ms,
                                a->rnd, err, errlen);
}

static int housekeeping_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    struct upl_sender *s = arg;
    int made = 0, added = 0, rc = CM_OK;
    int64_t now = tm_now_s();
    if (s->cfg && s->c.build)
        rc = upl_build_job(db, s->cfg, &s->c, now, &made, err, errlen);
    if (!rc)
        rc = upl_queue_fanout_job(db, &s->c, &added, err, errlen);
    if (!rc && now - s->last_prune_s >= 3600) {
        rc = upl_queue_prune_job(db, &s->c, now * 1000, err, errlen);
        s->last_prune_s = now;
    }
    return rc;
}

static int sync_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return upl_queue_sync_dests_job(db, arg, err, errlen);
}

/* ---- one request ------------------------------------------------------------ */

static void parse_answer(struct evhttp_request *req, upl_outcome_t *o)
{
    if (!req || !(o->http_status = evhttp_request_get_response_code(req))) {
        snprintf(o->message, sizeof o->message, "no answer (refused, reset or timed out)");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char *text = len < 65536 ? malloc(len + 1) : NULL;
    if (text) {
        evbuffer_copyout(in, text, len);
        text[len] = 0;
    }
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "code");
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "message"));
    /* Only the body's code counts (uplink.md §1); HTTP 200 with another body is a failure. */
    if (cJSON_IsNumber(code)) {
        o->code = code->valueint;
        snprintf(o->message, sizeof o->message, "%s", msg ? msg : "");
    } else
        snprintf(o->message, sizeof o->message, "HTTP %d without a {code, message} body",
                 o->http_status);
    cJSON_Delete(j);
    free(text);
}

/* Back on the sender thread once the outcome is committed: the slot is free
 * (its records were excluded from picks until now) and a success sends on. */
static void result_finish(evutil_socket_t fd, short what, void *arg)
{
    result_arg_t *a = arg;
    slot_t *sl = a->sl;
    dest_state_t *ds = sl->ds;
    struct upl_sender *s = a->s;
    if (a->rc)
        log_error("uplink", "%s: recording the outcome failed: %s", ds->d->name, a->err);
    upl_link_result(&s->c, &ds->link, a->o.code, a->now_ms, rnd32());
    sl->reset_conn = a->o.http_status == 0;
    upl_pick_free(&sl->pick);
    sl->busy = false;
    s->pending--;
    if (a->o.code == 200 && !s->stopping)
        event_active(ds->kick, 0, 0);
    free(a);
}

/* On the store's writer thread. */
static void result_done(void *arg, int rc, const char *err)
{
    result_arg_t *a = arg;
    a->rc = rc;
    snprintf(a->err, sizeof a->err, "%s", err ? err : "");
    struct timeval now = {0, 0};
    event_base_once(a->s->base, -1, EV_TIMEOUT, result_finish, a, &now);
}

/* The answer is recorded without waiting for the commit, so answers on other
 * connections share one commit; the slot stays busy until it is committed. */
static void on_response(struct evhttp_request *req, void *arg)
{
    slot_t *sl = arg;
    dest_state_t *ds = sl->ds;
    struct upl_sender *s = ds->s;
    result_arg_t *a = calloc(1, sizeof *a);
    upl_outcome_t o = {0};
    parse_answer(req, &o);
    o.elapsed_ms = tm_mono_ms() - sl->t0;
    if (o.code != 200)
        log_debug("uplink", "%s: %s x%d: code %d %s", ds->d->name, sl->pick.record_type,
                  sl->pick.n, o.code, o.message);
    if (!a) { /* cannot record: the records stay pending and go again */
        upl_link_result(&s->c, &ds->link, 0, tm_now_ms(), rnd32());
        upl_pick_free(&sl->pick);
        sl->busy = false;
        return;
    }
    *a = (result_arg_t){.s = s, .sl = sl, .o = o, .now_ms = tm_now_ms(), .rnd = rnd32()};
    s->pending++;
    if (store_write_async(s->st, result_job, a, result_done, a)) {
        a->rc = CM_ERR_CLOSED;
        snprintf(a->err, sizeof a->err, "the store is closing");
        result_finish(-1, 0, a);
    }
}

static struct evhttp_connection *connection(slot_t *sl)
{
    dest_state_t *ds = sl->ds;
    if (sl->conn && !sl->reset_conn)
        return sl->conn;
    if (sl->conn)
        evhttp_connection_free(sl->conn);
    sl->conn = NULL;
    sl->reset_conn = false;
    struct bufferevent *bev = NULL;
    if (ds->https) {
        SSL *ssl = SSL_new(ds->ssl);
        if (!ssl)
            return NULL;
        SSL_set_tlsext_host_name(ssl, ds->host);
        if (ds->d->tls_verify)
            SSL_set1_host(ssl, ds->host);
        bev = bufferevent_openssl_socket_new(ds->s->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev)
            return NULL;
    }
    sl->conn = evhttp_connection_base_bufferevent_new(ds->s->base, NULL, bev, ds->host,
                                                     (unsigned short)ds->port);
    if (sl->conn) {
        evhttp_connection_set_timeout(sl->conn, ds->s->c.timeout_s);
        evhttp_connection_set_retries(sl->conn, 0);
    }
    return sl->conn;
}

static char *request_body(const upl_dest_t *d, const char *record, int64_t now_s, char *err,
                          size_t errlen)
{
    char *token = NULL, *data = NULL, *out = NULL;
    if (!upl_token_make(&d->key, d->mine_code, now_s, &token, err, errlen) &&
        !upl_encrypt(&d->key, record, strlen(record), &data, err, errlen)) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "mineCode", d->mine_code);
        cJSON_AddStringToObject(b, "token", token);
        cJSON_AddStringToObject(b, "data", data);
        out = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
    }
    free(token);
    free(data);
    return out;
}

/* Send one request on a free slot; false when nothing was sent. */
static bool send_one(dest_state_t *ds, slot_t *sl)
{
    struct upl_sender *s = ds->s;
    if (s->stopping)
        return false;
    char err[256];
    int64_t now = tm_now_ms(), busy[UPL_MAX_PARALLEL * UPL_BATCH_MAX];
    int nbusy = 0;
    for (int i = 0; i < ds->d->parallel; i++) /* records in flight on other slots */
        for (int k = 0; ds->slot[i].busy && k < ds->slot[i].pick.n; k++)
            busy[nbusy++] = ds->slot[i].pick.seq[k];
    bool newest = upl_link_next_newest(&s->c, &ds->link);
    int rc = upl_queue_pick(s->reader, ds->d, now, newest, busy, nbusy, &sl->pick, err, sizeof err);
    if (rc) {
        if (rc != CM_ERR_NOTFOUND)
            log_error("uplink", "%s: %s", ds->d->name, err);
        return false;
    }
    char *body = request_body(ds->d, sl->pick.body, now / 1000, err, sizeof err);
    struct evhttp_connection *conn = body ? connection(sl) : NULL;
    struct evhttp_request *req = conn ? evhttp_request_new(on_response, sl) : NULL;
    if (!req) {
        log_error("uplink", "%s: cannot make a request: %s", ds->d->name, body ? "connection" : err);
        cJSON_free(body);
        upl_pick_free(&sl->pick);
        return false;
    }
    char path[300], hostport[160];
    snprintf(path, sizeof path, "%s/%s/api/%s.do", ds->base_path,
             upl_dest_prefix(ds->d, sl->pick.record_type), sl->pick.record_type);
    snprintf(hostport, sizeof hostport, "%s:%d", ds->host, ds->port);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", hostport);
    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    if (*sl->pick.origin)
        evhttp_add_header(h, "X-Coalmon-Origin", sl->pick.origin);
    evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    cJSON_free(body);
    sl->busy = true;
    sl->t0 = tm_mono_ms();
    if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, path)) {
        sl->busy = false; /* libevent freed req */
        sl->reset_conn = true;
        upl_pick_free(&sl->pick);
        return false;
    }
    return true;
}

/* Fill the free slots while the link is due and records are due. While the
 * link is failing only one request probes it. */
static void send_next(dest_state_t *ds)
{
    for (int i = 0; i < ds->d->parallel; i++) {
        if (!upl_link_due(&ds->link, tm_now_ms()))
            return;
        bool any_busy = false;
        for (int k = 0; k < ds->d->parallel; k++)
            any_busy |= ds->slot[k].busy;
        if (ds->link.failures && any_busy)
            return;
        if (!ds->slot[i].busy && !send_one(ds, &ds->slot[i]))
            return;
    }
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    send_next(arg);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct upl_sender *s = arg;
    char err[256];
    if (store_write(s->st, housekeeping_job, s, err, sizeof err))
        log_error("uplink", "building or queueing records failed: %s", err);
    for (int i = 0; i < s->c.ndest; i++)
        send_next(&s->ds[i]);
}

/* ---- set-up ------------------------------------------------------------------- */

static int parse_url(dest_state_t *ds, char *err, size_t errlen)
{
    struct evhttp_uri *u = evhttp_uri_parse(ds->d->url);
    const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL, *host = u ? evhttp_uri_get_host(u) : NULL;
    if (!scheme || !host) {
        if (u)
            evhttp_uri_free(u);
        return cm_fail(err, errlen, CM_ERR_CONFIG, "%s: url %s does not parse", ds->d->name, ds->d->url);
    }
    ds->https = !strcmp(scheme, "https");
    snprintf(ds->host, sizeof ds->host, "%s", host);
    ds->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : ds->https ? 443 : 80;
    const char *path = evhttp_uri_get_path(u);
    snprintf(ds->base_path, sizeof ds->base_path, "%s", path ? path : "");
    size_t l = strlen(ds->base_path);
    if (l && ds->base_path[l - 1] == '/')
        ds->base_path[l - 1] = 0;
    evhttp_uri_free(u);
    return CM_OK;
}

static int tls_setup(dest_state_t *ds, char *err, size_t errlen)
{
    ds->ssl = SSL_CTX_new(TLS_client_method());
    if (!ds->ssl)
        return cm_fail(err, errlen, CM_ERR_CRYPTO, "%s: no TLS context", ds->d->name);
    SSL_CTX_set_min_proto_version(ds->ssl, TLS1_2_VERSION);
    if (ds->d->tls_verify) {
        SSL_CTX_set_verify(ds->ssl, SSL_VERIFY_PEER, NULL);
        int ok = *ds->d->ca_file ? SSL_CTX_load_verify_locations(ds->ssl, ds->d->ca_file, NULL)
                                 : SSL_CTX_set_default_verify_paths(ds->ssl);
        if (ok != 1)
            return cm_fail(err, errlen, CM_ERR_CONFIG, "%s: cannot load trust anchors %s",
                           ds->d->name, *ds->d->ca_file ? ds->d->ca_file : "(system)");
    }
    return CM_OK;
}

/* On the sender thread: stop sending, let outcomes being committed come back
 * (their callbacks need this loop), then leave the loop; at most ~2 s. */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct upl_sender *s = arg;
    s->stopping = true;
    if (s->pending > 0 && s->stop_checks++ < 400) {
        struct timeval tv = {0, 5000};
        event_add(s->stop, &tv);
        return;
    }
    event_base_loopbreak(s->base);
}

static void *sender_main(void *arg)
{
    struct upl_sender *s = arg;
    event_base_dispatch(s->base);
    return NULL;
}

upl_sender_t *upl_sender_start(const upl_cfg_t *c, const cfg_t *cfg, store_t *st, char *err,
                               size_t errlen)
{
    struct upl_sender *s = calloc(1, sizeof *s);
    if (!s) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->c = *c;
    s->cfg = cfg;
    s->st = st;
    evthread_use_pthreads();
    int rc = store_write(st, sync_job, &s->c, err, errlen);
    if (!rc && !(s->reader = store_reader_open(st, err, errlen)))
        rc = CM_ERR_DB;
    if (!rc && !(s->base = event_base_new()))
        rc = cm_fail(err, errlen, CM_ERR_NOMEM, "no event base");
    for (int i = 0; !rc && i < s->c.ndest; i++) {
        dest_state_t *ds = &s->ds[i];
        ds->s = s;
        ds->d = &s->c.dest[i];
        for (int k = 0; k < UPL_MAX_PARALLEL; k++)
            ds->slot[k].ds = ds;
        rc = parse_url(ds, err, errlen);
        if (!rc && ds->https)
            rc = tls_setup(ds, err, errlen);
        if (!rc && !(ds->kick = event_new(s->base, -1, 0, on_kick, ds)))
            rc = cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    }
    struct timeval tv = {s->c.tick_ms / 1000, (s->c.tick_ms % 1000) * 1000};
    if (!rc && (!(s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s)) || event_add(s->tick, &tv)))
        rc = cm_fail(err, errlen, CM_ERR_NOMEM, "no timer");
    if (!rc && !(s->stop = event_new(s->base, -1, 0, on_stop, s)))
        rc = cm_fail(err, errlen, CM_ERR_NOMEM, "no timer");
    if (!rc && pthread_create(&s->th, NULL, sender_main, s))
        rc = cm_fail(err, errlen, CM_ERR_IO, "cannot start the sender thread");
    if (rc) {
        upl_sender_stop(s);
        return NULL;
    }
    s->started = true;
    event_active(s->tick, 0, 0); /* first round now, not after one tick */
    return s;
}

/* Stops at once: a request in flight is abandoned and stays pending, to be
 * sent again after the restart (the receiver is idempotent). */
void upl_sender_stop(upl_sender_t *s)
{
    if (!s)
        return;
    if (s->started) {
        event_active(s->stop, 0, 0);
        pthread_join(s->th, NULL);
    }
    for (int i = 0; i < UPL_MAX_DEST; i++) {
        dest_state_t *ds = &s->ds[i];
        for (int k = 0; k < UPL_MAX_PARALLEL; k++) {
            if (ds->slot[k].conn)
                evhttp_connection_free(ds->slot[k].conn);
            upl_pick_free(&ds->slot[k].pick);
        }
        if (ds->kick)
            event_free(ds->kick);
        if (ds->ssl)
            SSL_CTX_free(ds->ssl);
    }
    if (s->tick)
        event_free(s->tick);
    if (s->stop)
        event_free(s->stop);
    if (s->base)
        event_base_free(s->base);
    store_reader_close(s->reader);
    free(s);
}
