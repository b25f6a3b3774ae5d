/* Work that would make the loop wait, done elsewhere and finished on the loop
 * (web_defer, web_write in web/web.h). Items queued for the workers and items
 * finished (by a worker or by the store's writer) are lists under one mutex;
 * a finished item activates one event on the loop, which runs the done
 * functions. The counters say how many items are out, so web_free can wait
 * for them all before the loop and the routes' state go away. */
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "web/async.h"

typedef struct item {
    struct item *next;
    web_work_fn work;          /* web_defer: on a worker */
    web_work_fn done;          /* web_defer: on the loop */
    web_write_done_fn wdone;   /* web_write: on the loop */
    void *arg;
    int rc;
    char err[256];
} item_t;

typedef struct list {
    item_t *head, *tail;
} list_t;

struct web_async {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers wait for work or stop */
    pthread_cond_t idle_cv; /* web_async_free waits for writes still at the writer */
    list_t queued, finished;
    int nqueued, max_queued;
    int at_writer;          /* web_write items the writer has not answered yet */
    bool stopping;
    pthread_t threads[WEB_ASYNC_MAX_WORKERS];
    int nthreads;
    struct event *wake;     /* activated from other threads: finished items wait */
};

static void push(list_t *l, item_t *it)
{
    it->next = NULL;
    if (l->tail)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
}

static item_t *take_all(list_t *l)
{
    item_t *all = l->head;
    l->head = l->tail = NULL;
    return all;
}

/* Under a->mu: hand a finished item to the loop. */
static void finish_locked(web_async_t *a, item_t *it)
{
    push(&a->finished, it);
    if (a->wake)
        event_active(a->wake, EV_READ, 0);
}

static void run_done(item_t *all)
{
    while (all) {
        item_t *next = all->next;
        if (all->wdone)
            all->wdone(all->arg, all->rc, all->err);
        else if (all->done)
            all->done(all->arg);
        free(all);
        all = next;
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    web_async_t *a = arg;
    pthread_mutex_lock(&a->mu);
    item_t *all = take_all(&a->finished);
    pthread_mutex_unlock(&a->mu);
    run_done(all);
}

/* Workers yield the CPU to the loop: on a busy machine a password hash or a
 * commit may take longer, an answer from the loop must not. Linux gives each
 * thread its own nice value; elsewhere this is a no-op that may fail. */
static void lower_priority(void)
{
#ifdef __linux__
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
#endif
}

static void *worker(void *arg)
{
    web_async_t *a = arg;
    lower_priority();
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->queued.head && !a->stopping)
            pthread_cond_wait(&a->work_cv, &a->mu);
        item_t *it = a->queued.head;
        if (!it)
            break; /* stopping and nothing left */
        a->queued.head = it->next;
        if (!a->queued.head)
            a->queued.tail = NULL;
        a->nqueued--;
        pthread_mutex_unlock(&a->mu);
        it->work(it->arg);
        pthread_mutex_lock(&a->mu);
        finish_locked(a, it);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

web_async_t *web_async_new(struct event_base *base, int workers, int max_queued, char *err,
                           size_t errlen)
{
    web_async_t *a = calloc(1, sizeof *a);
    if (!a) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->work_cv, NULL);
    pthread_cond_init(&a->idle_cv, NULL);
    a->max_queued = max_queued;
    a->wake = event_new(base, -1, 0, on_wake, a);
    if (!a->wake) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "cannot create the completion event");
        web_async_free(a);
        return NULL;
    }
    if (workers > WEB_ASYNC_MAX_WORKERS)
        workers = WEB_ASYNC_MAX_WORKERS;
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&a->threads[i], NULL, worker, a)) {
            cm_fail(err, errlen, CM_ERR_IO, "cannot start a web worker thread");
            web_async_free(a);
            return NULL;
        }
        a->nthreads++;
    }
    return a;
}

int web_async_defer(web_async_t *a, web_work_fn work, web_work_fn done, void *arg)
{
    item_t *it = calloc(1, sizeof *it);
    if (!it)
        return CM_ERR_NOMEM;
    *it = (item_t){.work = work, .done = done, .arg = arg};
    pthread_mutex_lock(&a->mu);
    int rc = a->stopping ? CM_ERR_CLOSED : a->nqueued >= a->max_queued ? CM_ERR_NOMEM : CM_OK;
    if (!rc) {
        push(&a->queued, it);
        a->nqueued++;
        pthread_cond_signal(&a->work_cv);
    }
    pthread_mutex_unlock(&a->mu);
    if (rc)
        free(it);
    return rc;
}

typedef struct write_item {
    item_t *it;
    web_async_t *a;
} write_item_t;

/* On the store's writer thread, after the commit (or its failure). */
static void write_done(void *arg, int rc, const char *err)
{
    write_item_t *w = arg;
    web_async_t *a = w->a;
    item_t *it = w->it;
    free(w);
    it->rc = rc;
    snprintf(it->err, sizeof it->err, "%s", err ? err : "");
    pthread_mutex_lock(&a->mu);
    a->at_writer--;
    finish_locked(a, it);
    pthread_cond_broadcast(&a->idle_cv);
    pthread_mutex_unlock(&a->mu);
}

int web_async_write(web_async_t *a, store_t *st, store_job_fn job, void *arg,
                    web_write_done_fn done)
{
    item_t *it = calloc(1, sizeof *it);
    write_item_t *w = calloc(1, sizeof *w);
    if (!it || !w) {
        free(it);
        free(w);
        return CM_ERR_NOMEM;
    }
    *it = (item_t){.wdone = done, .arg = arg};
    *w = (write_item_t){.it = it, .a = a};
    pthread_mutex_lock(&a->mu);
    bool stopping = a->stopping;
    if (!stopping)
        a->at_writer++;
    pthread_mutex_unlock(&a->mu);
    if (stopping) {
        free(it);
        free(w);
        return CM_ERR_CLOSED;
    }
    int rc = store_write_async(st, job, arg, write_done, w);
    if (rc) {
        pthread_mutex_lock(&a->mu);
        a->at_writer--;
        pthread_mutex_unlock(&a->mu);
        free(it);
        free(w);
    }
    return rc;
}

void web_async_drain(web_async_t *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    pthread_cond_broadcast(&a->work_cv);
    pthread_mutex_unlock(&a->mu);
    for (int i = 0; i < a->nthreads; i++)
        pthread_join(a->threads[i], NULL);
    a->nthreads = 0;
    pthread_mutex_lock(&a->mu);
    while (a->at_writer > 0)
        pthread_cond_wait(&a->idle_cv, &a->mu);
    item_t *all = take_all(&a->finished);
    pthread_mutex_unlock(&a->mu);
    run_done(all); /* on the caller's thread: the loop has stopped */
}

void web_async_free(web_async_t *a)
{
    if (!a)
        return;
    web_async_drain(a);
    if (a->wake)
        event_free(a->wake);
    pthread_cond_destroy(&a->idle_cv);
    pthread_cond_destroy(&a->work_cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
