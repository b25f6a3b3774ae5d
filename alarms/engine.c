/* The engine object: configuration, the evaluation timer, hooks, listeners.
 * The timer only starts an evaluation: the job runs on the store's writer
 * (store_write_async) and its outcome comes back to the loop through the
 * `done` event, so the loop never waits for a tick. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "alarms/internal.h"

struct alarm_engine {
    store_t *st;
    alarm_opts_t opts;
    struct event_base *base;
    struct event *timer;
    /* Evaluate-now requests go through their own one-shot event: activating
     * the persistent timer by hand would push its schedule a period further
     * each time (libevent reschedules it from its due time). */
    struct event *kick;
    struct event *done; /* activated by the writer thread: a tick has finished */
    /* The tick under way: started and finished on the loop; between, the
     * writer fills it. mu guards finished/rc/err, which the writer sets. */
    pthread_mutex_t mu;
    pthread_cond_t finished_cv;
    tick_ctx_t *tick;
    bool finished, again;
    int tick_rc;
    char tick_err[256];
    alarm_hooks_t *hooks;
    alarm_change_fn on_change;
    void *on_change_arg;
    char last_err[256]; /* a failing evaluation is logged once, not every tick */
    char ignore[ALARM_MAX_IGNORE][32];
    int nignore;
    bool platform; /* role platform: enterprises' alarm records become alarms here */
};

/* Accounts, credentials and business records: audited, but not parameters. */
static const char *const default_ignore[] = {"user.", "uplink.", "enterprise.", "ticket.",
                                             "contract.", "intake_key.", NULL};

/* alarms.parameter_ignore: audit actions (prefixes) that raise no ALM-5. */
static int read_ignore(const cfg_sec_t *al, alarm_engine_t *e, char *err, size_t errlen)
{
    const cJSON *arr = al->node ? cJSON_GetObjectItemCaseSensitive(al->node, "parameter_ignore")
                                : NULL;
    if (!arr) {
        for (int i = 0; default_ignore[i]; i++)
            snprintf(e->ignore[e->nignore++], sizeof e->ignore[0], "%s", default_ignore[i]);
        return CM_OK;
    }
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > ALARM_MAX_IGNORE)
        return cfg_error(al, "parameter_ignore", err, errlen,
                         "expected an array of at most %d action prefixes", ALARM_MAX_IGNORE);
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) >= sizeof e->ignore[0])
            return cfg_error(al, "parameter_ignore", err, errlen,
                             "every item must be a non-empty string of at most 31 bytes");
        snprintf(e->ignore[e->nignore++], sizeof e->ignore[0], "%s", v->valuestring);
    }
    return CM_OK;
}

typedef struct cfg_settings {
    alarm_setting_t set[ALARM_T_MAX + 1];
    bool given[ALARM_T_MAX + 1];
    int changed;
} cfg_settings_t;

static int read_types(const cfg_sec_t *alarms, cfg_settings_t *cs, char *err, size_t errlen)
{
    cfg_sec_t types;
    int rc = cfg_section(alarms, "types", &types, err, errlen);
    if (rc || !types.node)
        return rc;
    if (!cJSON_IsObject(types.node))
        return cfg_error(alarms, "types", err, errlen, "expected an object keyed by alarm type");
    const cJSON *item;
    cJSON_ArrayForEach(item, types.node)
    {
        int type;
        if (alarm_type_parse(item->string, &type))
            return cfg_error(&types, item->string, err, errlen,
                             "unknown alarm type (over_production ... motor_vibration)");
        alarm_setting_default(type, &cs->set[type]);
        char field[64], why[256];
        if (alarm_setting_apply_json(&cs->set[type], item, field, sizeof field, why, sizeof why)) {
            cfg_sec_t sub;
            if (cfg_section(&types, item->string, &sub, err, errlen) == CM_OK)
                return cfg_error(&sub, field, err, errlen, "%s", why);
            return CM_ERR_CONFIG;
        }
        cs->given[type] = true;
    }
    return CM_OK;
}

/* Settings named in the configuration win at start, through the audited path:
 * a value edited in the file between starts is a parameter change (ALM-5). */
static int apply_cfg_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    cfg_settings_t *cs = arg;
    for (int t = 1; t <= ALARM_T_MAX; t++) {
        if (!cs->given[t])
            continue;
        bool changed;
        int rc = alarm_setting_put(db, &cs->set[t], "coalmond", "config", "configuration at start",
                                   &changed, err, errlen);
        if (rc)
            return rc;
        cs->changed += changed;
    }
    return CM_OK;
}

alarm_engine_t *alarm_engine_new(store_t *st, const cfg_t *cfg, char *err, size_t errlen)
{
    alarm_engine_t *e = calloc(1, sizeof *e);
    if (!e) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    e->st = st;
    e->opts.tick_ms = 500;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->finished_cv, NULL);
    cfg_settings_t cs = {0};
    int rc = CM_OK;
    cfg_sec_t none = {.cfg = cfg, .node = NULL, .path = "alarms"};
    if (!cfg)
        rc = read_ignore(&none, e, err, errlen);
    if (cfg) {
        cfg_sec_t root = cfg_root(cfg), al;
        char role[16];
        rc = cfg_get_string(&root, "role", false, "mine", role, sizeof role, err, errlen);
        e->platform = !rc && strcmp(role, "platform") == 0;
        if (!rc)
            rc = cfg_section(&root, "alarms", &al, err, errlen);
        if (!rc)
            rc = cfg_get_int(&al, "tick_ms", false, 500, 50, 60000, &e->opts.tick_ms, err, errlen);
        if (!rc)
            rc = read_types(&al, &cs, err, errlen);
        if (!rc)
            rc = read_ignore(&al, e, err, errlen);
    }
    if (!rc && !(e->hooks = alarm_hooks_new(cfg, err, errlen)))
        rc = CM_ERR_CONFIG;
    if (!rc)
        rc = store_write(st, apply_cfg_job, &cs, err, errlen);
    if (rc) {
        alarm_engine_free(e);
        return NULL;
    }
    if (cs.changed)
        log_info("alarms", "%d alarm setting(s) changed by the configuration (audited)", cs.changed);
    return e;
}

void alarm_engine_free(alarm_engine_t *e)
{
    if (!e)
        return;
    /* A tick still at the writer finishes first: its job points into e->tick. */
    pthread_mutex_lock(&e->mu);
    while (e->tick && !e->finished)
        pthread_cond_wait(&e->finished_cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
    free(e->tick); /* finished but not yet seen by the loop: its transitions are dropped */
    if (e->timer)
        event_free(e->timer);
    if (e->kick)
        event_free(e->kick);
    if (e->done)
        event_free(e->done);
    alarm_hooks_free(e->hooks);
    pthread_cond_destroy(&e->finished_cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

static tick_ctx_t *tick_new(const alarm_engine_t *e, int64_t now_ms)
{
    tick_ctx_t *t = calloc(1, sizeof *t); /* large: keep it off the loop's stack */
    if (!t)
        return NULL;
    t->now_ms = now_ms;
    memcpy(t->ignore, e->ignore, sizeof t->ignore);
    t->nignore = e->nignore;
    t->platform = e->platform;
    return t;
}

/* On the loop: hooks and listeners hear of the transitions. */
static void tick_after(alarm_engine_t *e, const tick_ctx_t *t)
{
    if (t->total) {
        alarm_hooks_fire(e->hooks, e->base, t->trans, t->ntrans);
        alarm_engine_changed(e);
    }
}

int alarm_engine_tick(alarm_engine_t *e, int64_t now_ms, int *n, char *err, size_t errlen)
{
    tick_ctx_t *t = tick_new(e, now_ms);
    if (!t)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    int rc = store_write(e->st, alarm_tick_job, t, err, errlen);
    if (n)
        *n = rc ? 0 : t->total;
    if (!rc)
        tick_after(e, t);
    free(t);
    return rc;
}

/* A failing evaluation is logged once, not every tick. */
static void note_outcome(alarm_engine_t *e, int rc, const char *err)
{
    if (rc) {
        if (strcmp(err, e->last_err) != 0)
            log_error("alarms", "evaluation failed: %s", err);
        snprintf(e->last_err, sizeof e->last_err, "%s", err);
    } else if (e->last_err[0]) {
        log_info("alarms", "evaluation works again");
        e->last_err[0] = '\0';
    }
}

/* On the writer thread, after the tick's batch committed or failed. */
static void tick_committed(void *arg, int rc, const char *err)
{
    alarm_engine_t *e = arg;
    pthread_mutex_lock(&e->mu);
    e->tick_rc = rc;
    snprintf(e->tick_err, sizeof e->tick_err, "%s", err ? err : "");
    e->finished = true;
    pthread_cond_broadcast(&e->finished_cv);
    event_active(e->done, EV_TIMEOUT, 0);
    pthread_mutex_unlock(&e->mu);
}

/* One tick at a time: a timer turn while one runs is skipped; a kick
 * (new data) is remembered and runs when the current one is done. */
static void start_tick(alarm_engine_t *e, bool kicked)
{
    alarm_hooks_reap(e->hooks);
    if (e->tick) {
        e->again |= kicked;
        return;
    }
    tick_ctx_t *t = tick_new(e, tm_now_ms());
    if (!t) {
        note_outcome(e, CM_ERR_NOMEM, "out of memory");
        return;
    }
    e->tick = t;
    e->finished = false;
    if (store_write_async(e->st, alarm_tick_job, t, tick_committed, e)) {
        e->tick = NULL;
        free(t);
        note_outcome(e, CM_ERR_CLOSED, "the store takes no more work");
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg) { start_tick(arg, false); }
static void on_kick(evutil_socket_t fd, short what, void *arg) { start_tick(arg, true); }

/* On the loop: the tick the writer finished. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
    alarm_engine_t *e = arg;
    pthread_mutex_lock(&e->mu);
    tick_ctx_t *t = e->finished ? e->tick : NULL;
    int rc = e->tick_rc;
    char err[256];
    snprintf(err, sizeof err, "%s", e->tick_err);
    if (t)
        e->tick = NULL;
    pthread_mutex_unlock(&e->mu);
    if (!t)
        return;
    note_outcome(e, rc, err);
    if (!rc)
        tick_after(e, t);
    free(t);
    if (e->again) { /* asked for while this one ran */
        e->again = false;
        alarm_engine_kick(e);
    }
}

int alarm_engine_start(alarm_engine_t *e, struct event_base *base, char *err, size_t errlen)
{
    e->base = base;
    e->timer = event_new(base, -1, EV_PERSIST, on_timer, e);
    e->kick = event_new(base, -1, 0, on_kick, e);
    e->done = event_new(base, -1, 0, on_done, e);
    struct timeval tv = {e->opts.tick_ms / 1000, (e->opts.tick_ms % 1000) * 1000};
    if (!e->timer || !e->kick || !e->done || event_add(e->timer, &tv))
        return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot start the alarm timer");
    event_active(e->kick, EV_TIMEOUT, 0); /* evaluate at once after a restart */
    return CM_OK;
}

void alarm_engine_kick(alarm_engine_t *e)
{
    if (e && e->kick && !event_pending(e->kick, EV_TIMEOUT, NULL))
        event_active(e->kick, EV_TIMEOUT, 0);
}

void alarm_engine_on_change(alarm_engine_t *e, alarm_change_fn fn, void *arg)
{
    e->on_change = fn;
    e->on_change_arg = arg;
}

void alarm_engine_changed(alarm_engine_t *e)
{
    if (e && e->on_change)
        e->on_change(e->on_change_arg);
}
