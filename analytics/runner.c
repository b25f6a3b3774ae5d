/* analytics: the daemon's evaluation thread — ana_evaluate() one second after
 * start and then every eval_s, on its own read connection, so a year-long
 * capacity sum never holds up the web loop. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "analytics/analytics.h"

struct ana_runner {
    store_t *st;
    ana_conf_t conf;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, kick;
    int64_t runs;
};

static void *run(void *arg)
{
    ana_runner_t *r = arg;
    char err[256];
    sqlite3 *db = store_reader_open(r->st, err, sizeof err);
    if (!db) {
        log_error("analytics", "evaluation thread: %s", err);
        return NULL;
    }
    int64_t wait_ms = 1000;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!r->stop && !r->kick && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&r->cv, &r->mu, &until);
        if (r->stop)
            break;
        r->kick = false;
        pthread_mutex_unlock(&r->mu);
        int64_t t0 = tm_mono_ms();
        if (ana_evaluate(r->st, db, &r->conf, tm_now_s(), err, sizeof err))
            log_error("analytics", "evaluation failed: %s", err);
        else
            log_debug("analytics", "evaluation took %lld ms", (long long)(tm_mono_ms() - t0));
        pthread_mutex_lock(&r->mu);
        r->runs++;
        wait_ms = (int64_t)r->conf.eval_s * 1000;
    }
    pthread_mutex_unlock(&r->mu);
    store_reader_close(db);
    return NULL;
}

ana_runner_t *ana_runner_start(store_t *st, const ana_conf_t *c, char *err, size_t errlen)
{
    ana_runner_t *r = calloc(1, sizeof *r);
    if (!r) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->st = st;
    r->conf = *c;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->thread, NULL, run, r)) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        free(r);
        cm_fail(err, errlen, CM_ERR_NOMEM, "cannot start the evaluation thread");
        return NULL;
    }
    return r;
}

void ana_runner_kick(ana_runner_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->kick = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

int64_t ana_runner_runs(ana_runner_t *r)
{
    if (!r)
        return 0;
    pthread_mutex_lock(&r->mu);
    int64_t n = r->runs;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void ana_runner_stop(ana_runner_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
