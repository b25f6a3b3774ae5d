/* Polling threads: one per device for now, each with its own modbus_t. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modbus.h>

#include "collector/collector.h"

typedef struct device {
    char name[64];
    char model[64];
    char serial[64];
    char gate_type[32];
    char host[128];
    int port, unit;
    int poll_ms, timeout_ms, offline_after, backoff_max_ms;
    col_map_t map;
    int order[COL_MAX_POINTS];
    col_request_t req[COL_MAX_POINTS];
    int nreq;
    int64_t device_id;
    int64_t point_id[COL_MAX_POINTS];
    /* polling state: touched only by the device's thread */
    modbus_t *mb;
    int failures;
    char state[16];
    pthread_t thread;
    struct col *owner;
} device_t;

struct col {
    store_t *store;
    device_t *devices;
    int ndevices;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
};

/* ---- reading ----------------------------------------------------------- */

static modbus_t *connect_tcp(const char *host, int port, int unit, int timeout_ms, char *err,
                             size_t errlen)
{
    modbus_t *mb = modbus_new_tcp(host, port);
    if (!mb) {
        cm_fail(err, errlen, CM_ERR_INVALID, "%s:%d: %s", host, port, modbus_strerror(errno));
        return NULL;
    }
    modbus_set_slave(mb, unit);
    modbus_set_response_timeout(mb, (uint32_t)(timeout_ms / 1000), (uint32_t)(timeout_ms % 1000) * 1000);
    modbus_set_byte_timeout(mb, (uint32_t)(timeout_ms / 1000), (uint32_t)(timeout_ms % 1000) * 1000);
    /* Recovery is ours (close, free, reconnect with back-off), not libmodbus's. */
    modbus_set_error_recovery(mb, MODBUS_ERROR_RECOVERY_NONE);
    if (modbus_connect(mb) != 0) {
        cm_fail(err, errlen, CM_ERR_IO, "%s:%d: cannot connect: %s", host, port,
                modbus_strerror(errno));
        modbus_free(mb);
        return NULL;
    }
    return mb;
}

/* Run the planned requests; values[] by map index. Returns 0 when all answered. */
static int read_all(modbus_t *mb, const col_map_t *map, const int *order, const col_request_t *req,
                    int nreq, col_value_t *values, char *err, size_t errlen)
{
    uint16_t regs[125];
    for (int i = 0; i < map->count; i++)
        values[i].ok = false;
    for (int r = 0; r < nreq; r++) {
        int got = req[r].fn == COL_FN_INPUT
                      ? modbus_read_input_registers(mb, req[r].start, req[r].count, regs)
                      : modbus_read_registers(mb, req[r].start, req[r].count, regs);
        if (got != req[r].count) {
            int e = errno;
            return cm_fail(err, errlen, e == ETIMEDOUT ? CM_ERR_TIMEOUT : CM_ERR_PROTOCOL,
                           "read %d registers at 0x%04x: %s", req[r].count, req[r].start,
                           modbus_strerror(e));
        }
        for (int k = req[r].first; k < req[r].first + req[r].n; k++) {
            const col_point_t *p = &map->points[order[k]];
            col_value_t *v = &values[order[k]];
            v->ok = col_decode(regs + (p->address - req[r].start), p->type, p->order, p->scale,
                               p->offset, &v->value) == CM_OK;
        }
    }
    return CM_OK;
}

int col_read_tcp_once(const col_map_t *map, const char *host, int port, int unit, int timeout_ms,
                      col_value_t values[COL_MAX_POINTS], char *err, size_t errlen)
{
    int order[COL_MAX_POINTS];
    col_request_t req[COL_MAX_POINTS];
    int nreq = col_plan(map, map->max_registers, false, order, req);
    modbus_t *mb = connect_tcp(host, port, unit, timeout_ms, err, errlen);
    if (!mb)
        return CM_ERR_IO;
    int rc = read_all(mb, map, order, req, nreq, values, err, errlen);
    modbus_close(mb);
    modbus_free(mb);
    return rc;
}

/* ---- configuration ------------------------------------------------------ */

static int parse_device(const cfg_sec_t *s, const char *maps_dir, device_t *d, char *err,
                        size_t errlen)
{
    long long port, unit, poll_ms, timeout_ms, offline_after, backoff;
    char transport[16];
    int rc = cfg_get_string(s, "name", true, NULL, d->name, sizeof d->name, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "model", true, NULL, d->model, sizeof d->model, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "serial", false, "", d->serial, sizeof d->serial, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "gate_type", false, "other", d->gate_type, sizeof d->gate_type, err,
                            errlen);
    if (!rc && strcmp(d->gate_type, "mine_total") && strcmp(d->gate_type, "underground") &&
        strcmp(d->gate_type, "transport") && strcmp(d->gate_type, "other"))
        rc = cfg_error(s, "gate_type", err, errlen,
                       "expected mine_total, underground, transport or other");
    if (!rc)
        rc = cfg_get_string(s, "transport", false, "tcp", transport, sizeof transport, err, errlen);
    if (!rc && strcmp(transport, "tcp") != 0)
        rc = cfg_error(s, "transport", err, errlen, "only \"tcp\" is supported");
    if (!rc)
        rc = cfg_get_string(s, "host", true, NULL, d->host, sizeof d->host, err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "port", false, 502, 1, 65535, &port, err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "unit", false, 1, 0, 247, &unit, err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "poll_ms", false, 1000, 50, 3600000, &poll_ms, err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "timeout_ms", false, 500, 10, 60000, &timeout_ms, err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "offline_after", false, 3, 1, 100, &offline_after, err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "backoff_max_ms", false, 30000, 100, 3600000, &backoff, err, errlen);
    if (rc)
        return rc;
    d->port = (int)port;
    d->unit = (int)unit;
    d->poll_ms = (int)poll_ms;
    d->timeout_ms = (int)timeout_ms;
    d->offline_after = (int)offline_after;
    d->backoff_max_ms = (int)backoff;
    char sub[512];
    if (col_map_load_model(maps_dir, d->model, &d->map, sub, sizeof sub))
        return cfg_error(s, "model", err, errlen, "%s", sub);
    d->nreq = col_plan(&d->map, d->map.max_registers, false, d->order, d->req);
    snprintf(d->state, sizeof d->state, "unknown");
    return CM_OK;
}

static int register_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    col_t *col = arg;
    for (int i = 0; i < col->ndevices; i++) {
        device_t *d = &col->devices[i];
        int rc = store_device_upsert(db, d->name, "meter", d->model, d->serial, &d->device_id, err,
                                     errlen);
        for (int p = 0; !rc && p < d->map.count; p++)
            rc = store_point_upsert(db, d->device_id, d->map.points[p].name, d->map.points[p].unit,
                                    d->map.points[p].quantity, &d->point_id[p], err, errlen);
        if (!rc)
            rc = store_device_set_comm(db, d->device_id, "unknown", tm_now_ms(), "starting", err,
                                       errlen);
        if (rc)
            return rc;
    }
    return CM_OK;
}

/* ---- state changes ------------------------------------------------------ */

typedef struct comm_change {
    int64_t device_id, ts_ms;
    char state[16];
    char detail[256];
} comm_change_t;

static int comm_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    comm_change_t *c = arg;
    int rc = store_device_set_comm(db, c->device_id, c->state, c->ts_ms, c->detail, err, errlen);
    sqlite3_stmt *s;
    if (!rc)
        rc = store_prepare(db,
                           "INSERT INTO device_event(device_id, ts_ms, kind, state, detail)"
                           " VALUES (?, ?, 'comm', ?, ?)",
                           &s, err, errlen);
    if (!rc) {
        sqlite3_bind_int64(s, 1, c->device_id);
        sqlite3_bind_int64(s, 2, c->ts_ms);
        sqlite3_bind_text(s, 3, c->state, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, c->detail, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(s);
    }
    return rc;
}

static void free_done(void *arg, int rc, const char *err)
{
    if (rc)
        log_error("collector", "storing a state change failed: %s", err);
    free(arg);
}

static void set_state(device_t *d, const char *state, const char *detail)
{
    if (strcmp(d->state, state) == 0)
        return;
    log_info("collector", "device %s (%s:%d unit %d): %s -> %s%s%s", d->name, d->host, d->port,
             d->unit, d->state, state, detail ? ": " : "", detail ? detail : "");
    snprintf(d->state, sizeof d->state, "%s", state);
    comm_change_t *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->device_id = d->device_id;
    c->ts_ms = tm_now_ms();
    snprintf(c->state, sizeof c->state, "%s", state);
    snprintf(c->detail, sizeof c->detail, "%s", detail ? detail : "");
    if (store_write_async(d->owner->store, comm_job, c, free_done, c))
        free(c);
}

/* ---- the thread --------------------------------------------------------- */

static void drop_link(device_t *d)
{
    if (d->mb) {
        modbus_close(d->mb);
        modbus_free(d->mb);
        d->mb = NULL;
    }
}

static void poll_once(device_t *d)
{
    char err[256];
    col_value_t values[COL_MAX_POINTS];
    if (!d->mb)
        d->mb = connect_tcp(d->host, d->port, d->unit, d->timeout_ms, err, sizeof err);
    int rc = d->mb ? read_all(d->mb, &d->map, d->order, d->req, d->nreq, values, err, sizeof err)
                   : CM_ERR_IO;
    if (rc) {
        /* A timed-out answer may still arrive later: start again on a clean link. */
        drop_link(d);
        d->failures++;
        set_state(d, d->failures >= d->offline_after ? "offline" : "degraded", err);
        return;
    }
    d->failures = 0;
    store_reading_t r[COL_MAX_POINTS];
    size_t n = 0;
    int64_t now = tm_now_ms();
    bool all_ok = true;
    for (int i = 0; i < d->map.count; i++) {
        if (!values[i].ok) {
            all_ok = false;
            continue;
        }
        r[n++] = (store_reading_t){.ts_ms = now, .point_id = d->point_id[i], .value = values[i].value};
    }
    if (n && store_put_readings(d->owner->store, r, n, NULL, NULL))
        log_warn("collector", "device %s: readings not queued (store closing)", d->name);
    set_state(d, all_ok ? "online" : "degraded", all_ok ? NULL : "some values undecodable");
}

/* Sleep until deadline or stop; true when stopping. */
static bool wait_until(col_t *col, int64_t deadline_mono)
{
    pthread_mutex_lock(&col->mu);
    while (!col->stopping) {
        int64_t left = deadline_mono - tm_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&col->cv, &col->mu, &ts);
    }
    bool stop = col->stopping;
    pthread_mutex_unlock(&col->mu);
    return stop;
}

static void *device_main(void *arg)
{
    device_t *d = arg;
    int64_t next = tm_mono_ms();
    for (;;) {
        poll_once(d);
        int64_t wait = d->poll_ms;
        if (d->failures >= d->offline_after) {
            /* Back off on a dead device, doubling up to the limit. */
            int shift = d->failures - d->offline_after;
            wait = (int64_t)d->poll_ms << (shift > 10 ? 10 : shift);
            if (wait > d->backoff_max_ms)
                wait = d->backoff_max_ms;
        }
        next += wait;
        if (next < tm_mono_ms())
            next = tm_mono_ms();
        if (wait_until(d->owner, next))
            break;
    }
    drop_link(d);
    return NULL;
}

col_t *col_start(const cfg_t *cfg, store_t *store, char *err, size_t errlen)
{
    cfg_sec_t root = cfg_root(cfg), sec;
    char maps_dir[512], def_dir[512];
    int n = 0;
    snprintf(def_dir, sizeof def_dir, "%s/meters", cfg_dir(cfg));
    int rc = cfg_section(&root, "collector", &sec, err, errlen);
    if (!rc)
        rc = cfg_get_string(&sec, "meter_maps", false, def_dir, maps_dir, sizeof maps_dir, err,
                            errlen);
    if (!rc && maps_dir[0] != '/') {
        char rel[512];
        snprintf(rel, sizeof rel, "%s", maps_dir);
        snprintf(maps_dir, sizeof maps_dir, "%s/%s", cfg_dir(cfg), rel);
    }
    if (!rc)
        rc = cfg_array_len(&sec, "devices", &n, err, errlen);
    if (rc)
        return NULL;
    col_t *col = calloc(1, sizeof *col);
    device_t *devs = n ? calloc((size_t)n, sizeof *devs) : NULL;
    if (!col || (n && !devs)) {
        free(col);
        free(devs);
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    col->store = store;
    col->devices = devs;
    col->ndevices = n;
    pthread_mutex_init(&col->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&col->cv, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; !rc && i < n; i++) {
        cfg_sec_t ds;
        devs[i].owner = col;
        rc = cfg_array_item(&sec, "devices", i, &ds, err, errlen);
        if (!rc)
            rc = parse_device(&ds, maps_dir, &devs[i], err, errlen);
        for (int j = 0; !rc && j < i; j++)
            if (strcmp(devs[j].name, devs[i].name) == 0)
                rc = cfg_error(&ds, "name", err, errlen, "device '%s' is defined twice",
                               devs[i].name);
    }
    if (!rc && n)
        rc = store_write(store, register_job, col, err, errlen);
    int started = 0;
    for (; !rc && started < n; started++)
        if (pthread_create(&devs[started].thread, NULL, device_main, &devs[started]) != 0)
            rc = cm_fail(err, errlen, CM_ERR_NOMEM, "cannot start a polling thread");
    if (rc) {
        col->ndevices = rc && started ? started - 1 : 0;
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
    for (int i = 0; i < col->ndevices; i++)
        if (col->devices[i].thread)
            pthread_join(col->devices[i].thread, NULL);
    pthread_mutex_destroy(&col->mu);
    pthread_cond_destroy(&col->cv);
    free(col->devices);
    free(col);
}
