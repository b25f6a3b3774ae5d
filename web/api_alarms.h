/* Shared by web/api_alarms.c and web/api_alarms_events.c; not public. */
#ifndef COALMON_WEB_API_ALARMS_H
#define COALMON_WEB_API_ALARMS_H

#include "alarms/alarms.h"
#include "web/web.h"

#define SSE_MAX_CLIENTS 64

struct sse_client;

struct web_alarms {
    web_ctx_t *ctx;
    alarm_engine_t *engine;
    struct event *poll, *live, *ping;
    struct event *poll_now; /* one-shot: a kick must not shift poll's schedule */
    struct sse_client *clients[SSE_MAX_CLIENTS];
    int64_t head;         /* last alarm_event id sent */
    int64_t live_ms;      /* newest point_latest ts sent */
    char comm_sig[2048];  /* device comm states last sent */
};

/* Route GET /api/v1/events and start the stream's timers on the web's loop. */
int api_alarms_events_start(web_t *w, web_alarms_t *a);
/* Close the streams and free the timers (before web_free). */
void api_alarms_events_stop(web_alarms_t *a);

#endif
