/* GET /api/v1/events: a server-sent events stream (text/event-stream) of
 * alarm transitions ("alarm") and live values ("live"), so a browser learns
 * of an alarm within a second of its raising. Transitions are read from
 * alarm_event by id, which also carries those made by the CLI in another
 * process; the engine's change listener makes the read immediate. A client
 * resumes with Last-Event-ID (or ?since=N). Comment pings keep proxies open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "web/api_alarms.h"

#define POLL_MS 250
#define LIVE_MS 1000
#define PING_S 15

typedef struct sse_client {
    web_alarms_t *a;
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    int slot;
    bool live;
} sse_client_t;

static void send_text(sse_client_t *c, const char *text, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    if (!b)
        return;
    evbuffer_add(b, text, len);
    evhttp_send_reply_chunk(c->req, b);
    evbuffer_free(b);
}

static void send_event(sse_client_t *c, const char *name, int64_t id, const cJSON *data)
{
    char *json = cJSON_PrintUnformatted(data);
    if (!json)
        return;
    size_t len = strlen(json) + strlen(name) + 64;
    char *msg = malloc(len);
    if (msg) {
        int n = id ? snprintf(msg, len, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)id, name, json)
                   : snprintf(msg, len, "event: %s\ndata: %s\n\n", name, json);
        send_text(c, msg, (size_t)n);
    }
    free(msg);
    cJSON_free(json);
}

static void drop(sse_client_t *c)
{
    c->a->clients[c->slot] = NULL;
    free(c);
}

static void on_close(struct evhttp_connection *conn, void *arg)
{
    sse_client_t *c = arg;
    /* A browser that went away mid-stream leaves libevent's request detached
     * from its connection and ours to end (which frees it); at shutdown it is
     * still attached and the connection frees it. */
    if (!evhttp_request_get_connection(c->req))
        evhttp_send_reply_end(c->req);
    drop(c);
}

/* Send transitions after `after` to one client (catch-up) or, with c NULL, to all. */
static void send_transitions(web_alarms_t *a, sse_client_t *only, int64_t after, int64_t *last)
{
    for (int round = 0; round < 20; round++) { /* bounded: at most 2000 per call */
        cJSON *arr;
        int64_t hi = after;
        if (alarm_events_since(a->ctx->reader, after, 100, &arr, &hi, NULL, 0))
            return;
        const cJSON *e;
        cJSON_ArrayForEach(e, arr)
        {
            int64_t id = (int64_t)cJSON_GetObjectItem(e, "id")->valuedouble;
            if (only && id > a->head)
                break; /* a catch-up stops where the next poll starts: no event twice */
            for (int i = 0; i < SSE_MAX_CLIENTS; i++) {
                sse_client_t *c = only ? (i == 0 ? only : NULL) : a->clients[i];
                if (c)
                    send_event(c, "alarm", id, e);
            }
        }
        int n = cJSON_GetArraySize(arr);
        cJSON_Delete(arr);
        if (only && hi > a->head)
            return;
        after = hi;
        if (last)
            *last = hi;
        if (n < 100)
            return;
    }
}

static bool any_client(web_alarms_t *a, bool live)
{
    for (int i = 0; i < SSE_MAX_CLIENTS; i++)
        if (a->clients[i] && (!live || a->clients[i]->live))
            return true;
    return false;
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    web_alarms_t *a = arg;
    if (!any_client(a, false)) {
        a->head = alarm_events_head(a->ctx->reader);
        return;
    }
    send_transitions(a, NULL, a->head, &a->head);
}

static cJSON *live_values(web_alarms_t *a)
{
    sqlite3_stmt *s;
    if (store_prepare(a->ctx->reader,
                      "SELECT d.name, p.name, p.quantity, p.unit, l.value, l.ts_ms, l.quality"
                      " FROM point_latest l JOIN point p ON p.id = l.point_id"
                      " JOIN device d ON d.id = p.device_id WHERE l.ts_ms > ? ORDER BY l.point_id",
                      &s, NULL, 0))
        return NULL;
    sqlite3_bind_int64(s, 1, a->live_ms);
    cJSON *root = cJSON_CreateObject();
    char ts[40];
    tm_format_bj_iso_ms(tm_now_ms(), ts, sizeof ts);
    cJSON_AddStringToObject(root, "time", ts);
    cJSON *pts = cJSON_AddArrayToObject(root, "points");
    int64_t newest = a->live_ms;
    int rc = CM_OK;
    while (!rc && store_next(s, &rc, NULL, 0)) {
        cJSON *p = cJSON_CreateObject();
        for (int col = 0; col < 4; col++) {
            static const char *const keys[] = {"device", "point", "quantity", "unit"};
            const unsigned char *t = sqlite3_column_text(s, col);
            cJSON_AddStringToObject(p, keys[col], t ? (const char *)t : "");
        }
        cJSON_AddNumberToObject(p, "value", sqlite3_column_double(s, 4));
        int64_t t = sqlite3_column_int64(s, 5);
        cJSON_AddNumberToObject(p, "ts_ms", (double)t);
        cJSON_AddNumberToObject(p, "quality", sqlite3_column_int(s, 6));
        newest = t > newest ? t : newest;
        cJSON_AddItemToArray(pts, p);
    }
    sqlite3_finalize(s);
    if (rc) { /* not "no new values": nothing is sent, the next tick reads again */
        cJSON_Delete(root);
        return NULL;
    }
    a->live_ms = newest;
    return root;
}

/* Device communication states, included when any of them changed. */
static void add_comm(web_alarms_t *a, cJSON *root)
{
    sqlite3_stmt *s;
    if (store_prepare(a->ctx->reader,
                      "SELECT d.name, coalesce(c.state, 'unknown') FROM device d"
                      " LEFT JOIN device_comm c ON c.device_id = d.id ORDER BY d.id",
                      &s, NULL, 0))
        return;
    cJSON *devs = cJSON_CreateArray();
    char sig[sizeof a->comm_sig] = "";
    size_t used = 0;
    int rc = CM_OK;
    while (!rc && store_next(s, &rc, NULL, 0)) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        const char *state = (const char *)sqlite3_column_text(s, 1);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", name);
        cJSON_AddStringToObject(d, "comm", state);
        cJSON_AddItemToArray(devs, d);
        int n = snprintf(sig + used, sizeof sig - used, "%s=%s;", name, state);
        used = n > 0 && used + (size_t)n < sizeof sig ? used + (size_t)n : used;
    }
    sqlite3_finalize(s);
    if (rc) { /* a partial list would look like devices gone */
        cJSON_Delete(devs);
        return;
    }
    if (strcmp(sig, a->comm_sig) != 0) {
        snprintf(a->comm_sig, sizeof a->comm_sig, "%s", sig);
        cJSON_AddItemToObject(root, "devices", devs);
    } else {
        cJSON_Delete(devs);
    }
}

static void on_live(evutil_socket_t fd, short what, void *arg)
{
    web_alarms_t *a = arg;
    if (!any_client(a, true))
        return;
    cJSON *root = live_values(a);
    if (!root)
        return;
    add_comm(a, root);
    if (cJSON_GetArraySize(cJSON_GetObjectItem(root, "points")) > 0 ||
        cJSON_GetObjectItem(root, "devices"))
        for (int i = 0; i < SSE_MAX_CLIENTS; i++)
            if (a->clients[i] && a->clients[i]->live)
                send_event(a->clients[i], "live", 0, root);
    cJSON_Delete(root);
}

static void on_ping(evutil_socket_t fd, short what, void *arg)
{
    web_alarms_t *a = arg;
    for (int i = 0; i < SSE_MAX_CLIENTS; i++)
        if (a->clients[i])
            send_text(a->clients[i], ": ping\n\n", 8);
}

static void on_change(void *arg)
{
    web_alarms_t *a = arg;
    if (a->poll_now)
        event_active(a->poll_now, EV_TIMEOUT, 0);
}

static void events(web_req_t *req, void *arg)
{
    web_alarms_t *a = arg;
    char v[32];
    int64_t since = -1;
    const char *last_id = web_header(req, "Last-Event-ID");
    if (web_query(req, "since", v, sizeof v) == CM_OK)
        last_id = v;
    if (last_id) {
        char *end;
        since = strtoll(last_id, &end, 10);
        if (!*last_id || *end || since < 0) {
            web_reply_error(req, 400, "since", "since: expected an event id >= 0");
            return;
        }
    }
    int slot = 0;
    while (slot < SSE_MAX_CLIENTS && a->clients[slot])
        slot++;
    sse_client_t *c = slot < SSE_MAX_CLIENTS ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        web_reply_error(req, 503, NULL, "too many event streams open (%d)", SSE_MAX_CLIENTS);
        return;
    }
    *c = (sse_client_t){.a = a, .req = req, .conn = evhttp_request_get_connection(req), .slot = slot,
                        .live = !(web_query(req, "live", v, sizeof v) == CM_OK && !strcmp(v, "0"))};
    a->clients[slot] = c;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    /* Idle streams are normal: only pings flow. A day, then the browser reconnects. */
    evhttp_connection_set_timeout(c->conn, 86400);
    evhttp_connection_set_closecb(c->conn, on_close, c);
    evhttp_send_reply_start(req, 200, "OK");
    cJSON *hello = cJSON_CreateObject();
    cJSON_AddNumberToObject(hello, "head", (double)a->head);
    send_text(c, "retry: 2000\n\n", 13);
    send_event(c, "hello", 0, hello);
    cJSON_Delete(hello);
    if (since >= 0 && since < a->head) {
        int64_t upto = since;
        send_transitions(a, c, since, &upto);
    }
}

static struct event *every(web_t *w, int ms, event_callback_fn fn, web_alarms_t *a)
{
    struct event *ev = event_new(web_base(w), -1, EV_PERSIST, fn, a);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (ev && event_add(ev, &tv)) {
        event_free(ev);
        ev = NULL;
    }
    return ev;
}

int api_alarms_events_start(web_t *w, web_alarms_t *a)
{
    a->head = alarm_events_head(a->ctx->reader);
    a->live_ms = tm_now_ms() - LIVE_MS;
    a->poll = every(w, POLL_MS, on_poll, a);
    a->live = every(w, LIVE_MS, on_live, a);
    a->ping = every(w, PING_S * 1000, on_ping, a);
    a->poll_now = event_new(web_base(w), -1, 0, on_poll, a);
    if (!a->poll || !a->live || !a->ping || !a->poll_now)
        return CM_ERR_NOMEM;
    if (a->engine)
        alarm_engine_on_change(a->engine, on_change, a);
    return web_route(w, WEB_GET, "/api/v1/events", events, a);
}

void api_alarms_events_stop(web_alarms_t *a)
{
    for (int i = 0; i < SSE_MAX_CLIENTS; i++) {
        sse_client_t *c = a->clients[i];
        if (!c)
            continue;
        evhttp_connection_set_closecb(c->conn, NULL, NULL);
        evhttp_send_reply_end(c->req);
        drop(c);
    }
    if (a->engine)
        alarm_engine_on_change(a->engine, NULL, NULL);
    struct event *evs[] = {a->poll, a->live, a->ping, a->poll_now};
    for (int i = 0; i < 4; i++)
        if (evs[i])
            event_free(evs[i]);
    a->poll = a->live = a->ping = a->poll_now = NULL;
}

void web_alarms_free(web_alarms_t *a)
{
    if (!a)
        return;
    api_alarms_events_stop(a);
    free(a);
}
