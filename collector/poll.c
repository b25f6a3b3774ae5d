/* The polling service: threads (one per serial bus, a small pool for TCP
 * endpoints), the schedule of each device, communication state, counters,
 * and the registration of devices and points in the store. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/internal.h"

/* ---- events and state ---------------------------------------------------- */

typedef struct event_job {
    int64_t device_id, ts_ms;
    char kind[24], state[24];
    char detail[256];
    bool comm; /* also update device_comm */
} event_job_t;

static int event_write(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    event_job_t *e = arg;
    int rc = e->comm ? store_device_set_comm(db, e->device_id, e->state, e->ts_ms, e->detail, err,
                                             errlen)
                     : CM_OK;
    sqlite3_stmt *s;
    if (!rc)
        rc = store_prepare(db,
                           "INSERT INTO device_event(device_id, ts_ms, kind, state, detail)"
                           " VALUES (?, ?, ?, ?, ?)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, e->device_id);
    sqlite3_bind_int64(s, 2, e->ts_ms);
    sqlite3_bind_text(s, 3, e->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, e->state, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, e->detail, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

static void free_done(void *arg, int rc, const char *err)
{
    if (rc)
        log_error("collector", "storing a device event failed: %s", err);
    free(arg);
}

static void queue_event_id(col_t *col, int64_t device_id, bool comm, const char *kind,
                           const char *state, const char *detail)
{
    event_job_t *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->device_id = device_id;
    e->ts_ms = tm_now_ms();
    e->comm = comm;
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    snprintf(e->state, sizeof e->state, "%s", state);
    snprintf(e->detail, sizeof e->detail, "%s", detail ? detail : "");
    if (store_write_async(col->store, event_write, e, free_done, e))
        free(e);
}

static void queue_event(col_dev_t *d, bool comm, const char *kind, const char *state,
                        const char *detail)
{
    queue_event_id(d->owner, d->device_id, comm, kind, state, detail);
}

void col_gateway_outcome(col_link_t *l, bool any_ok, const char *detail)
{
    if (!l->gateway || !l->ndevs)
        return;
    col_comm_state before = l->gw_comm.state;
    if (!col_comm_step(&l->gw_comm, any_ok, false, l->offline_after, l->online_after))
        return;
    log_info("collector", "gateway %s (%s, %d devices): %s -> %s%s%s", l->gw_name, l->name,
             l->ndevs, col_comm_name(before), col_comm_name(l->gw_comm.state),
             detail && !any_ok ? ": " : "", detail && !any_ok ? detail : "");
    queue_event_id(l->devs[0].owner, l->gw_id, true, "comm", col_comm_name(l->gw_comm.state),
                   any_ok ? NULL : detail);
}

void col_event(col_dev_t *d, const char *kind, const char *state, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    log_info("collector", "device %s: %s %s: %s", d->name, kind, state, detail);
    queue_event(d, false, kind, state, detail);
}

void col_comm_outcome(col_dev_t *d, bool ok, bool partial, const char *detail)
{
    col_comm_state before = d->comm.state;
    if (!col_comm_step(&d->comm, ok, partial, d->offline_after, d->online_after))
        return;
    log_info("collector", "device %s (unit %d): %s -> %s%s%s", d->name, d->unit,
             col_comm_name(before), col_comm_name(d->comm.state), detail ? ": " : "",
             detail ? detail : "");
    queue_event(d, true, "comm", col_comm_name(d->comm.state), detail);
}

/* ---- communication figures ------------------------------------------------- */

void col_stats_request(col_dev_t *d, int e, int64_t response_ms)
{
    if (!d || !d->owner)
        return;
    pthread_mutex_lock(&d->owner->mu);
    col_dev_stats_t *s = &d->stats;
    s->requests++;
    if (!e) {
        s->answers++;
        s->rt_ms[s->rt_next] = (uint32_t)(response_ms > 0 ? response_ms : 0);
        s->rt_next = (s->rt_next + 1) % COL_RT_SAMPLES;
        if (s->rt_n < COL_RT_SAMPLES)
            s->rt_n++;
    } else if (e == ETIMEDOUT) {
        s->timeouts++;
    } else if (col_is_exception(e)) {
        s->exceptions++;
    } else if (e == EMBBADCRC) {
        s->crc_errors++;
    } else {
        s->bad_frames++;
    }
    pthread_mutex_unlock(&d->owner->mu);
}

void col_stats_late(col_dev_t *d)
{
    if (!d || !d->owner)
        return;
    pthread_mutex_lock(&d->owner->mu);
    d->stats.late_frames++;
    pthread_mutex_unlock(&d->owner->mu);
}

/* ---- meters -------------------------------------------------------------- */

int col_store_values(col_dev_t *d, const col_value_t *v, int64_t now)
{
    store_reading_t r[COL_MAX_POINTS];
    size_t n = 0;
    int good = 0;
    for (int i = 0; i < d->map.count; i++) {
        /* A point refused or undecodable is stored with its quality (and no
         * value, 0), so its gap shows as such and not as a missing poll. */
        r[n++] = (store_reading_t){.ts_ms = now, .point_id = d->point_id[i],
                                   .value = v[i].ok ? v[i].value : 0,
                                   .quality = v[i].ok ? COL_Q_GOOD : v[i].quality};
        good += v[i].ok;
    }
    if (n && store_put_readings(d->owner->store, r, n, NULL, NULL))
        log_warn("collector", "device %s: readings not queued (store closing)", d->name);
    return good;
}

void col_quality_detail(const col_dev_t *d, const col_value_t *v, char *out, size_t len)
{
    int refused = 0, invalid = 0;
    const char *first = NULL;
    for (int i = 0; i < d->map.count; i++) {
        if (v[i].ok)
            continue;
        refused += v[i].quality == COL_Q_REFUSED;
        invalid += v[i].quality != COL_Q_REFUSED;
        if (!first)
            first = d->map.points[i].name;
    }
    snprintf(out, len, "%d points refused, %d undecodable (first: %s)", refused, invalid,
             first ? first : "-");
}

typedef struct delta_job {
    int n;
    int64_t point_id[COL_MAX_POINTS], minute[COL_MAX_POINTS];
    double delta[COL_MAX_POINTS];
} delta_job_t;

static int delta_write(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    delta_job_t *j = arg;
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO counter_minute(point_id, minute, delta, steps)"
                           " VALUES (?, ?, ?, 1) ON CONFLICT(point_id, minute) DO UPDATE SET"
                           " delta = delta + excluded.delta, steps = steps + 1",
                           &s, err, errlen);
    for (int i = 0; !rc && i < j->n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, j->point_id[i]);
        sqlite3_bind_int64(s, 2, j->minute[i]);
        sqlite3_bind_double(s, 3, j->delta[i]);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = cm_fail(err, errlen, CM_ERR_DB, "counter_minute: %s", sqlite3_errmsg(db));
    }
    if (s)
        sqlite3_finalize(s);
    return rc;
}

/* Counters are stored as read; here only the increments are judged. */
static void counters(col_dev_t *d, const col_value_t *v, int64_t now)
{
    delta_job_t *j = NULL;
    for (int i = 0; i < d->map.count; i++) {
        const col_point_t *p = &d->map.points[i];
        if (!p->counter || !v[i].ok)
            continue;
        double delta = 0;
        if (d->ctr_ms[i]) {
            double wrap = p->wrap * col_ratio_factor(p, d->ct, d->pt, d->multiplier);
            col_counter_verdict vd = col_counter_check_wrap(d->ctr_last[i], d->ctr_ms[i],
                                                            v[i].value, now, d->max_rate, wrap,
                                                            &delta);
            if (vd == COL_COUNTER_WRAP)
                log_info("collector", "device %s: %s wrapped at %g %s (%.3f -> %.3f), counted on",
                         d->name, p->name, wrap, p->unit, d->ctr_last[i], v[i].value);
            if (vd == COL_COUNTER_RESET)
                col_event(d, "counter_reset", p->name, "%s went from %.3f to %.3f %s", p->name,
                          d->ctr_last[i], v[i].value, p->unit);
            else if (vd == COL_COUNTER_JUMP)
                col_event(d, "counter_jump", p->name, "%s jumped by %.3f %s in %.1f s", p->name,
                          v[i].value - d->ctr_last[i], p->unit,
                          (double)(now - d->ctr_ms[i]) / 1000.0);
        }
        d->ctr_last[i] = v[i].value;
        d->ctr_ms[i] = now;
        if (delta <= 0)
            continue;
        if (!j && !(j = calloc(1, sizeof *j)))
            return;
        j->point_id[j->n] = d->point_id[i];
        j->minute[j->n] = now / 60000 * 60;
        j->delta[j->n++] = delta;
    }
    if (j && store_write_async(d->owner->store, delta_write, j, free_done, j))
        free(j);
}

/* Secondary values to primary (issue #15). The meter's own ratio registers
 * count where the configuration leaves a ratio unset. */
static void apply_ratios(col_dev_t *d, col_value_t *v)
{
    for (int i = 0; i < d->map.count; i++) {
        const char *q = d->map.points[i].quantity;
        bool ct = !strcmp(q, "ct_ratio"), pt = !strcmp(q, "pt_ratio");
        if ((!ct && !pt) || !v[i].ok || v[i].value <= 0)
            continue;
        double *eff = ct ? &d->ct : &d->pt, cfg = ct ? d->ct_cfg : d->pt_cfg;
        if (cfg > 0 && fabs(cfg - v[i].value) > 1e-9 && !d->ratio_warned) {
            /* Told once: the configuration wins over the meter's setting. */
            log_warn("collector", "device %s: configured %s %g, the meter says %g; using %g",
                     d->name, ct ? "ct" : "pt", cfg, v[i].value, cfg);
            d->ratio_warned = true;
        } else if (cfg <= 0 && *eff != v[i].value) {
            log_info("collector", "device %s: %s ratio %g read from the meter", d->name,
                     ct ? "current" : "voltage", v[i].value);
            *eff = v[i].value;
        }
    }
    for (int i = 0; i < d->map.count; i++)
        if (v[i].ok)
            v[i].value *= col_ratio_factor(&d->map.points[i], d->ct, d->pt, d->multiplier);
}

static void poll_meter(col_link_t *l, col_dev_t *d)
{
    char err[256];
    col_value_t values[COL_MAX_POINTS];
    if (col_link_read_map(l, d, values, err, sizeof err)) {
        col_comm_outcome(d, false, false, err);
        return;
    }
    apply_ratios(d, values);
    int64_t now = tm_now_ms();
    int good = col_store_values(d, values, now);
    counters(d, values, now);
    char detail[160];
    col_quality_detail(d, values, detail, sizeof detail);
    bool partial = good < d->map.count;
    col_comm_outcome(d, true, partial, partial ? detail : NULL);
}

/* ---- the threads ---------------------------------------------------------- */

static void poll_device(col_link_t *l, col_dev_t *d)
{
    char err[sizeof l->last_err]; /* kept whole in last_err */
    if (!l->mb) {
        if (tm_mono_ms() < l->next_connect) {
            col_comm_outcome(d, false, false, l->last_err);
            return;
        }
        if (col_link_open(l, err, sizeof err)) {
            /* Back off on a dead link, doubling up to the device's ceiling. */
            int shift = l->connect_fails < 10 ? l->connect_fails : 10;
            int64_t wait = (int64_t)500 << shift;
            if (wait > d->backoff_max_ms)
                wait = d->backoff_max_ms;
            /* ... but at most COL_CONNECT_BACKOFF_MAX_MS: a gateway that comes
             * back is found within that (issue #15). */
            if (wait > COL_CONNECT_BACKOFF_MAX_MS)
                wait = COL_CONNECT_BACKOFF_MAX_MS;
            l->connect_fails++;
            l->next_connect = tm_mono_ms() + wait;
            snprintf(l->last_err, sizeof l->last_err, "%s", err);
            col_comm_outcome(d, false, false, err);
            return;
        }
        l->connect_fails = 0;
        l->last_err[0] = '\0';
        /* Back after an outage: every device behind the link is asked now,
         * not when its own back-off would have let it (issue #15). */
        int64_t now = tm_mono_ms();
        for (int i = 0; i < l->ndevs; i++)
            if (&l->devs[i] != d && l->devs[i].next_due > now)
                l->devs[i].next_due = now;
    }
    if (l->fresh && l->connect_pause_ms > 0 && col_sleep(d->owner, l->connect_pause_ms))
        return;
    l->fresh = false;
    col_link_select(l, d);
    if (d->kind == COL_KIND_STATION) {
        if (col_station_poll(l, d, err, sizeof err)) {
            col_comm_outcome(d, false, false, err);
            /* It may come back as another station: read its identity again. */
            d->st.ident_done = false;
        }
    } else {
        poll_meter(l, d);
    }
}

static int64_t next_interval(const col_dev_t *d)
{
    if (d->comm.fails < d->offline_after)
        return d->poll_ms;
    /* A dead device is retried less often, so it costs its bus less time. */
    int shift = d->comm.fails - d->offline_after;
    int64_t wait = (int64_t)d->poll_ms << (shift > 10 ? 10 : shift);
    return wait > d->backoff_max_ms ? d->backoff_max_ms : wait;
}

static bool stopping(col_t *col)
{
    pthread_mutex_lock(&col->mu);
    bool stop = col->stopping;
    pthread_mutex_unlock(&col->mu);
    return stop;
}

static void *thread_main(void *arg)
{
    col_thread_t *t = arg;
    col_t *col = t->owner;
    for (;;) {
        int64_t start = tm_mono_ms();
        int polled = 0, total = 0;
        int64_t earliest = start + 3600000;
        for (int k = 0; k < t->nlinks && !stopping(col); k++) {
            col_link_t *l = t->links[k];
            int link_polled = 0, link_ok = 0;
            for (int i = 0; i < l->ndevs; i++) {
                col_dev_t *d = &l->devs[i];
                total++;
                if (d->next_due <= tm_mono_ms()) {
                    /* RS485: the line must be quiet between one answer and the next request. */
                    if (polled && l->frame_delay_ms > 0 && col_sleep(col, l->frame_delay_ms))
                        break;
                    poll_device(l, d);
                    polled++;
                    link_polled++;
                    link_ok += d->comm.fails == 0;
                    int64_t iv = next_interval(d);
                    /* A link that is down is tried again within the connect
                     * back-off ceiling, whatever its devices' own back-off. */
                    if (!l->mb && iv > COL_CONNECT_BACKOFF_MAX_MS)
                        iv = COL_CONNECT_BACKOFF_MAX_MS;
                    d->next_due = (d->next_due ? d->next_due : start) + iv;
                    if (d->next_due < tm_mono_ms())
                        d->next_due = tm_mono_ms();
                }
                if (d->next_due < earliest)
                    earliest = d->next_due;
            }
            if (link_polled)
                col_gateway_outcome(l, link_ok > 0, l->last_err[0] ? l->last_err : "no answer");
        }
        if (polled == total && total > 0) {
            double ms = (double)(tm_mono_ms() - start);
            pthread_mutex_lock(&col->mu);
            t->cycles++;
            t->last_cycle_ms = ms;
            t->sum_cycle_ms += ms;
            pthread_mutex_unlock(&col->mu);
        }
        int64_t wait = earliest - tm_mono_ms();
        if (col_sleep(col, wait > 0 ? wait : 0))
            break;
    }
    for (int k = 0; k < t->nlinks; k++)
        col_link_close(t->links[k]);
    return NULL;
}

/* ---- registration ----------------------------------------------------------- */

static int register_device(sqlite3 *db, col_dev_t *d, char *err, size_t errlen)
{
    int rc = store_device_upsert(db, d->name, d->kind == COL_KIND_STATION ? "station" : "meter",
                                 d->model, d->serial, &d->device_id, err, errlen);
    sqlite3_stmt *s = NULL;
    if (!rc)
        rc = store_prepare(db,
                           "UPDATE device SET gate_type = ?2,"
                           " location = coalesce(?3, location),"
                           " install_date = coalesce(?4, install_date) WHERE id = ?1",
                           &s, err, errlen);
    if (!rc) {
        sqlite3_bind_int64(s, 1, d->device_id);
        store_bind_text_or_null(s, 2, d->gate_type);
        store_bind_text_or_null(s, 3, d->location);
        store_bind_text_or_null(s, 4, d->install_date);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = cm_fail(err, errlen, CM_ERR_DB, "device %s: %s", d->name, sqlite3_errmsg(db));
        sqlite3_finalize(s);
    }
    for (int p = 0; !rc && p < d->map.count; p++)
        rc = store_point_upsert(db, d->device_id, d->map.points[p].name, d->map.points[p].unit,
                                d->map.points[p].quantity, &d->point_id[p], err, errlen);
    /* Counters continue from the last value stored, so the first poll after a
     * restart counts what was consumed while the daemon was down. */
    if (!rc)
        rc = store_prepare(db,
                           "SELECT value, ts_ms FROM reading WHERE point_id = ?1 AND quality = 0"
                           " ORDER BY ts_ms DESC LIMIT 1",
                           &s, err, errlen);
    for (int p = 0; !rc && p < d->map.count; p++) {
        if (!d->map.points[p].counter)
            continue;
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, d->point_id[p]);
        if (sqlite3_step(s) == SQLITE_ROW) {
            d->ctr_last[p] = sqlite3_column_double(s, 0);
            d->ctr_ms[p] = sqlite3_column_int64(s, 1);
        }
    }
    if (!rc)
        sqlite3_finalize(s);
    if (!rc)
        rc = store_device_set_comm(db, d->device_id, "unknown", tm_now_ms(), "starting", err,
                                   errlen);
    if (!rc && d->kind == COL_KIND_STATION)
        rc = col_station_load(db, d, err, errlen);
    return rc;
}

/* A gateway is a device of its own; its devices name it (device_gateway). */
static int register_gateway(sqlite3 *db, col_link_t *l, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc = CM_OK;
    if (l->gateway) {
        rc = store_device_upsert(db, l->gw_name, "gateway", "rs485-gateway", "", &l->gw_id, err,
                                 errlen);
        if (!rc)
            rc = store_device_set_comm(db, l->gw_id, "unknown", tm_now_ms(), "starting", err,
                                       errlen);
    }
    if (!rc)
        rc = store_prepare(db,
                           l->gateway ? "INSERT INTO device_gateway(device_id, gateway_id)"
                                        " VALUES (?1, ?2) ON CONFLICT(device_id) DO UPDATE"
                                        " SET gateway_id = excluded.gateway_id"
                                      : "DELETE FROM device_gateway WHERE device_id = ?1",
                           &s, err, errlen);
    for (int i = 0; !rc && i < l->ndevs; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, l->devs[i].device_id);
        if (l->gateway)
            sqlite3_bind_int64(s, 2, l->gw_id);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = cm_fail(err, errlen, CM_ERR_DB, "device_gateway: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(s);
    return rc;
}

static int register_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    col_t *col = arg;
    int rc = CM_OK;
    for (int k = 0; !rc && k < col->nlinks; k++) {
        for (int i = 0; !rc && i < col->links[k].ndevs; i++)
            rc = register_device(db, &col->links[k].devs[i], err, errlen);
        if (!rc)
            rc = register_gateway(db, &col->links[k], err, errlen);
    }
    return rc;
}

/* ---- start and stop ----------------------------------------------------------- */

static int make_threads(col_t *col, int tcp_threads, char *err, size_t errlen)
{
    int ntcp = 0, nrtu = 0;
    for (int k = 0; k < col->nlinks; k++)
        col->links[k].o.transport == COL_TCP ? ntcp++ : nrtu++;
    int pool = ntcp < tcp_threads ? ntcp : tcp_threads;
    col->threads = calloc((size_t)(pool + nrtu + 1), sizeof *col->threads);
    if (!col->threads)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    col->nthreads = pool + nrtu;
    for (int t = 0; t < col->nthreads; t++) {
        col->threads[t].owner = col;
        col->threads[t].links = calloc((size_t)col->nlinks, sizeof(col_link_t *));
        if (!col->threads[t].links)
            return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    }
    int next_tcp = 0, next_rtu = pool;
    for (int k = 0; k < col->nlinks; k++) {
        col_link_t *l = &col->links[k];
        col_thread_t *t = l->o.transport == COL_TCP ? &col->threads[next_tcp++ % pool]
                                                    : &col->threads[next_rtu++];
        t->links[t->nlinks++] = l;
        if (l->o.transport == COL_RTU || !t->name[0])
            snprintf(t->name, sizeof t->name, "%s", l->o.transport == COL_RTU ? l->name : "tcp");
    }
    for (int t = 0; t < pool; t++)
        snprintf(col->threads[t].name, sizeof col->threads[t].name, "tcp-%d", t + 1);
    return CM_OK;
}

col_t *col_start(const cfg_t *cfg, store_t *store, char *err, size_t errlen)
{
    col_t *col = calloc(1, sizeof *col);
    if (!col) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    col->store = store;
    pthread_mutex_init(&col->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&col->cv, &ca);
    pthread_condattr_destroy(&ca);
    cfg_sec_t root = cfg_root(cfg), sec;
    int tcp_threads = 4;
    int rc = cfg_section(&root, "collector", &sec, err, errlen);
    if (!rc)
        rc = cfg_get_int(&sec, "tcp_threads", false, 4, 1, 64, &tcp_threads, err, errlen);
    if (!rc)
        rc = col_cfg_read(cfg, col, err, errlen);
    for (int k = 0; !rc && k < col->nlinks; k++)
        for (int i = 0; i < col->links[k].ndevs; i++)
            col->links[k].devs[i].owner = col;
    if (!rc && col->nlinks)
        rc = store_write(store, register_job, col, err, errlen);
    if (!rc)
        rc = make_threads(col, tcp_threads, err, errlen);
    for (int t = 0; !rc && t < col->nthreads; t++) {
        if (pthread_create(&col->threads[t].thread, NULL, thread_main, &col->threads[t]) != 0)
            rc = cm_fail(err, errlen, CM_ERR_NOMEM, "cannot start a polling thread");
        else
            col->threads[t].started = true;
    }
    if (rc) {
        col_stop(col);
        return NULL;
    }
    return col;
}

void col_stop(col_t *col)
{
    if (!col)
        return;
    pthread_mutex_lock(&col->mu);
    col->stopping = true;
    pthread_cond_broadcast(&col->cv);
    pthread_mutex_unlock(&col->mu);
    for (int t = 0; t < col->nthreads; t++) {
        if (col->threads[t].started)
            pthread_join(col->threads[t].thread, NULL);
        free(col->threads[t].links);
    }
    free(col->threads);
    col_cfg_free(col);
    pthread_mutex_destroy(&col->mu);
    pthread_cond_destroy(&col->cv);
    free(col);
}

int col_get_stats(col_t *col, col_bus_stats_t *out, int max)
{
    pthread_mutex_lock(&col->mu);
    for (int t = 0; t < col->nthreads && t < max; t++) {
        col_thread_t *th = &col->threads[t];
        col_bus_stats_t *s = &out[t];
        snprintf(s->name, sizeof s->name, "%s", th->name);
        s->devices = 0;
        for (int k = 0; k < th->nlinks; k++)
            s->devices += th->links[k]->ndevs;
        s->cycles = th->cycles;
        s->last_cycle_ms = th->last_cycle_ms;
        s->mean_cycle_ms = th->cycles ? th->sum_cycle_ms / (double)th->cycles : 0;
    }
    int n = col->nthreads;
    pthread_mutex_unlock(&col->mu);
    return n;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const uint32_t *sorted, int n, double q)
{
    int i = (int)(q * (n - 1) + 0.5);
    return n ? sorted[i] : 0;
}

int col_get_device_stats(col_t *col, const char *name, col_device_stats_t *out)
{
    uint32_t rt[COL_RT_SAMPLES];
    int rc = CM_ERR_NOTFOUND;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&col->mu);
    for (int k = 0; rc && k < col->nlinks; k++)
        for (int i = 0; rc && i < col->links[k].ndevs; i++) {
            const col_dev_t *d = &col->links[k].devs[i];
            if (strcmp(d->name, name))
                continue;
            const col_dev_stats_t *s = &d->stats;
            *out = (col_device_stats_t){.requests = s->requests, .answers = s->answers,
                                        .timeouts = s->timeouts, .exceptions = s->exceptions,
                                        .crc_errors = s->crc_errors, .bad_frames = s->bad_frames,
                                        .late_frames = s->late_frames, .samples = s->rt_n};
            memcpy(rt, s->rt_ms, (size_t)s->rt_n * sizeof rt[0]);
            rc = CM_OK;
        }
    pthread_mutex_unlock(&col->mu);
    if (rc || !out->samples)
        return rc;
    qsort(rt, (size_t)out->samples, sizeof rt[0], cmp_u32);
    out->p50_ms = percentile(rt, out->samples, 0.50);
    out->p90_ms = percentile(rt, out->samples, 0.90);
    out->p99_ms = percentile(rt, out->samples, 0.99);
    out->max_ms = rt[out->samples - 1];
    return CM_OK;
}
