/* coalmond's module table (daemon/daemon.h): each part of the daemon with its
 * init, start, serving, stop and free steps, in the order they start. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/daemon.h"

/* ---- store: the database and the loop's read connection ---------------------- */

static int store_init(daemon_t *d, char *err, size_t errlen)
{
    char path[1024];
    int rc = cm_mkdir_p(d->dc->data_dir, err, errlen);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/coalmon.db", d->dc->data_dir);
    if (!(d->store = store_open(path, &d->dc->store, err, errlen)))
        return CM_ERR_DB;
    d->ctx = (web_ctx_t){.store = d->store, .role = d->dc->role, .version = DAEMON_VERSION,
                         .data_dir = d->dc->data_dir, .mine_name = d->dc->mine_name};
    return (d->ctx.reader = store_reader_open(d->store, err, errlen)) ? CM_OK : CM_ERR_DB;
}

static void store_free(daemon_t *d)
{
    store_reader_close(d->ctx.reader);
    store_close(d->store);
}

/* ---- collector (issue #4): polling threads in the mine role ------------------- */

static int collector_init(daemon_t *d, char *err, size_t errlen)
{
    if (!d->mine)
        return CM_OK;
    return (d->col = col_start(d->cfg, d->store, err, errlen)) ? CM_OK : CM_ERR_IO;
}

static int collector_start(daemon_t *d, char *err, size_t errlen)
{
    if (web_register_collector(d->web, &d->ctx, d->col))
        return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot register the collector routes");
    return CM_OK;
}

static void collector_stop(daemon_t *d)
{
    col_stop(d->col);
    d->col = NULL;
}

/* ---- the core routes: live values, health, metrics, calibrations, series ------ */

static int core_start(daemon_t *d, char *err, size_t errlen)
{
    if (web_register_core(d->web, &d->ctx) || web_register_calibration(d->web, &d->ctx) ||
        web_register_health(d->web, &d->ctx) || web_register_series(d->web, &d->ctx))
        return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot register the core routes");
    return CM_OK;
}

/* ---- intake (issue #9) ------------------------------------------------------------ */

static int intake_init(daemon_t *d, char *err, size_t errlen)
{
    int rc = intake_conf_from_cfg(d->cfg, &d->intake_conf, err, errlen);
    d->intake_conf.output = ana_output_for_intake; /* analytics owns output over a period */
    return rc;
}

static int intake_start(daemon_t *d, char *err, size_t errlen)
{
    if (!(d->web_intake = web_register_intake(d->web, &d->ctx, &d->intake_conf)))
        return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot register the intake routes");
    return CM_OK;
}

static void intake_stop(daemon_t *d) { web_intake_close(d->web_intake); }

/* ---- uplink (issue #5): sender thread, receiver routes ----------------------------- */

static int uplink_init(daemon_t *d, char *err, size_t errlen)
{
    return upl_cfg_load(d->cfg, &d->upl_cfg, err, errlen); /* refuses keys others can read */
}

static int uplink_start(daemon_t *d, char *err, size_t errlen)
{
    upl_cfg_resolve_self(&d->upl_cfg, d->dc->web.host, web_port(d->web));
    if (web_register_uplink(d->web, &d->ctx, &d->upl_cfg))
        return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot register the uplink routes");
    if (d->upl_cfg.enabled && d->upl_cfg.ndest &&
        !(d->upl = upl_sender_start(&d->upl_cfg, d->cfg, d->store, err, errlen)))
        return CM_ERR_IO;
    return CM_OK;
}

static void uplink_stop(daemon_t *d)
{
    upl_sender_stop(d->upl);
    d->upl = NULL;
}

/* ---- users, sessions, roles (issue #8) -------------------------------------------- */

static int auth_init(daemon_t *d, char *err, size_t errlen)
{
    cfg_sec_t root = cfg_root(d->cfg);
    return web_auth_opts_from_cfg(&root, &d->auth_opts, err, errlen);
}

static int auth_start(daemon_t *d, char *err, size_t errlen)
{
    if (web_register_auth(d->web, &d->ctx, &d->auth_opts))
        return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot register the auth routes");
    return CM_OK;
}

/* ---- alarms (issue #7): the engine's timer and the routes -------------------------- */

static int alarms_init(daemon_t *d, char *err, size_t errlen)
{
    int param_changes; /* configuration edits between starts are audited (ALM-5) */
    int rc = alarm_config_snapshot(d->store, d->cfg, &param_changes, err, errlen);
    if (!rc && !(d->alarms = alarm_engine_new(d->store, d->cfg, err, errlen)))
        rc = CM_ERR_CONFIG;
    return rc;
}

static int alarms_start(daemon_t *d, char *err, size_t errlen)
{
    if (!(d->web_alarms = web_register_alarms(d->web, &d->ctx, d->alarms)))
        return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot register the alarm routes");
    return alarm_engine_start(d->alarms, web_base(d->web), err, errlen);
}

/* Both hold events on the loop's base: before the server goes. */
static void alarms_stop(daemon_t *d)
{
    web_alarms_free(d->web_alarms);
    d->web_alarms = NULL;
    alarm_engine_free(d->alarms);
    d->alarms = NULL;
}

/* ---- analytics (issue #6): the evaluation thread and the routes -------------------- */

static int analytics_init(daemon_t *d, char *err, size_t errlen)
{
    int rc = ana_conf_from_cfg(d->cfg, &d->ana_conf, err, errlen);
    if (rc)
        return rc;
    /* The demo pre-generates five weeks of interval history (the fit needs it
     * before the runner's first evaluation); it runs on without. */
    char derr[256];
    if (d->demo && ana_demo_history(d->store, &d->ana_conf, 35, tm_now_s(), derr, sizeof derr))
        log_warn("daemon", "analytics demo history: %s", derr);
    return (d->ana_run = ana_runner_start(d->store, &d->ana_conf, err, errlen)) ? CM_OK : CM_ERR_IO;
}

static int analytics_start(daemon_t *d, char *err, size_t errlen)
{
    if (web_register_analytics(d->web, &d->ctx, &d->ana_conf, d->ana_run))
        return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot register the analytics routes");
    return CM_OK;
}

static void analytics_stop(daemon_t *d)
{
    ana_runner_stop(d->ana_run);
    d->ana_run = NULL;
}

/* ---- housekeeping: the prune, on a thread of its own ------------------------------- */

/* Pruning waits for every chunk's commit (store_prune): never on the loop.
 * It runs once the server answers (a daemon restarted more often than hourly
 * still prunes) and then every hour, until stop. */
#define PRUNE_EVERY_S 3600

typedef struct housekeeping {
    store_t *store;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, started;
} housekeeping_t;

static bool stopping(housekeeping_t *h)
{
    pthread_mutex_lock(&h->mu);
    bool stop = h->stop;
    pthread_mutex_unlock(&h->mu);
    return stop;
}

/* Chunk by chunk, so a stop waits for one chunk at most. */
static void prune_once(housekeeping_t *h)
{
    char err[256];
    int64_t deleted = 0, t0 = tm_mono_ms();
    bool more = true;
    int rc = CM_OK, n;
    while (!rc && more && !stopping(h)) {
        rc = store_prune_chunk(h->store, tm_now_s(), &n, &more, err, sizeof err);
        deleted += rc ? 0 : n;
    }
    if (rc)
        log_error("daemon", "pruning old readings failed: %s", err);
    else if (deleted)
        log_info("daemon", "pruned %lld old rows in %lld ms", (long long)deleted,
                 (long long)(tm_mono_ms() - t0));
}

static void *housekeeping_thread(void *arg)
{
    housekeeping_t *h = arg;
#ifdef __linux__
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10); /* the loop's answers come first */
#endif
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        pthread_mutex_unlock(&h->mu);
        prune_once(h);
        pthread_mutex_lock(&h->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += PRUNE_EVERY_S;
        while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static int housekeeping_init(daemon_t *d, char *err, size_t errlen)
{
    housekeeping_t *h = calloc(1, sizeof *h);
    if (!h)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    h->store = d->store;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    d->hk = h;
    return CM_OK;
}

static void housekeeping_serving(daemon_t *d)
{
    housekeeping_t *h = d->hk;
    if (pthread_create(&h->th, NULL, housekeeping_thread, h))
        log_error("daemon", "cannot start the housekeeping thread: old readings stay");
    else
        h->started = true;
}

static void housekeeping_stop(daemon_t *d)
{
    housekeeping_t *h = d->hk;
    if (!h || !h->started)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->th, NULL); /* a prune under way ends after its current chunk's commit */
    h->started = false;
}

static void housekeeping_free(daemon_t *d)
{
    housekeeping_t *h = d->hk;
    if (!h)
        return;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    d->hk = NULL;
}

static const daemon_module_t store_module = {"store", store_init, NULL, NULL, NULL, store_free};
static const daemon_module_t collector_module = {"collector", collector_init, collector_start,
                                                 NULL, collector_stop, NULL};
static const daemon_module_t core_module = {"http", NULL, core_start, NULL, NULL, NULL};
static const daemon_module_t intake_module = {"intake", intake_init, intake_start, NULL,
                                              intake_stop, NULL};
static const daemon_module_t uplink_module = {"uplink", uplink_init, uplink_start, NULL,
                                              uplink_stop, NULL};
static const daemon_module_t auth_module = {"auth", auth_init, auth_start, NULL, NULL, NULL};
static const daemon_module_t alarms_module = {"alarms", alarms_init, alarms_start, NULL,
                                              alarms_stop, NULL};
static const daemon_module_t analytics_module = {"analytics", analytics_init, analytics_start,
                                                 NULL, analytics_stop, NULL};
static const daemon_module_t housekeeping_module = {"housekeeping", housekeeping_init, NULL,
                                                    housekeeping_serving, housekeeping_stop,
                                                    housekeeping_free};

const daemon_module_t *const daemon_modules[] = {
    &store_module,  &collector_module, &core_module,      &intake_module,       &uplink_module,
    &auth_module,   &alarms_module,    &analytics_module, &housekeeping_module, &daemon_demo_module,
    NULL,
};
