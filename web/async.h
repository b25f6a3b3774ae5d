/* Internal to web/: the worker threads and the completion queue behind
 * web_defer() and web_write(). web.c owns one per server. */
#ifndef COALMON_WEB_ASYNC_H
#define COALMON_WEB_ASYNC_H

#include "web/web.h"

#define WEB_ASYNC_MAX_WORKERS 8

typedef struct web_async web_async_t;

web_async_t *web_async_new(struct event_base *base, int workers, int max_queued, char *err,
                           size_t errlen);
/* CM_ERR_NOMEM when the queue is full, CM_ERR_CLOSED once draining. */
int web_async_defer(web_async_t *a, web_work_fn work, web_work_fn done, void *arg);
int web_async_write(web_async_t *a, store_t *st, store_job_fn job, void *arg,
                    web_write_done_fn done);
/* Stop taking work, finish what was taken (workers joined, the writer's
 * answers awaited) and run every done function on the calling thread. */
void web_async_drain(web_async_t *a);
/* Drain, then free. NULL is accepted. */
void web_async_free(web_async_t *a);

#endif
