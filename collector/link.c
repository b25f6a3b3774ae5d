/* Links: opening a Modbus connection (TCP or RTU), planned reads, and the
 * recovery we do ourselves instead of libmodbus's: after a timeout a serial
 * line is flushed and a TCP connection is closed (a late answer must not be
 * taken for the next request's), and a broken connection is closed and
 * reopened with back-off by the caller. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "collector/internal.h"

int col_link_parse_tcp(const char *s, col_link_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->transport = COL_TCP;
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof o->host)
        return CM_ERR_INVALID;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
        return CM_ERR_INVALID;
    snprintf(o->host, sizeof o->host, "%.*s", (int)(colon - s), s);
    o->port = (int)p;
    return CM_OK;
}

void col_link_rtu_default(col_link_opts_t *o, const char *device)
{
    memset(o, 0, sizeof *o);
    o->transport = COL_RTU;
    snprintf(o->device, sizeof o->device, "%s", device);
    o->baud = 9600;
    o->parity = 'N';
    o->data_bits = 8;
    o->stop_bits = 1;
}

static void set_timeouts(modbus_t *mb, int response_ms, int byte_ms)
{
    modbus_set_response_timeout(mb, (uint32_t)(response_ms / 1000),
                                (uint32_t)(response_ms % 1000) * 1000);
    modbus_set_byte_timeout(mb, (uint32_t)(byte_ms / 1000), (uint32_t)(byte_ms % 1000) * 1000);
}

static modbus_t *open_ctx(const col_link_opts_t *o, int timeout_ms, char *err, size_t errlen)
{
    modbus_t *mb = o->transport == COL_TCP
                       ? modbus_new_tcp(o->host, o->port)
                       : modbus_new_rtu(o->device, o->baud, o->parity, o->data_bits, o->stop_bits);
    const char *where = o->transport == COL_TCP ? o->host : o->device;
    if (!mb) {
        cm_fail(err, errlen, CM_ERR_INVALID, "%s: %s", where, modbus_strerror(errno));
        return NULL;
    }
    set_timeouts(mb, timeout_ms, timeout_ms);
    /* Recovery is ours (close, free, reconnect with back-off), not libmodbus's. */
    modbus_set_error_recovery(mb, MODBUS_ERROR_RECOVERY_NONE);
    if (modbus_connect(mb) != 0) {
        cm_fail(err, errlen, CM_ERR_IO, "%s%s%.0d: cannot connect: %s", where,
                o->transport == COL_TCP ? ":" : "", o->transport == COL_TCP ? o->port : 0,
                modbus_strerror(errno));
        modbus_free(mb);
        return NULL;
    }
    if (o->transport == COL_RTU && o->rts) {
        /* RS485 direction by RTS, for adapters that need it; a pty refuses. */
        if (modbus_rtu_set_serial_mode(mb, MODBUS_RTU_RS485) != 0 ||
            modbus_rtu_set_rts(mb, o->rts == 1 ? MODBUS_RTU_RTS_UP : MODBUS_RTU_RTS_DOWN) != 0)
            log_warn("collector", "%s: RTS control not available: %s", o->device,
                     modbus_strerror(errno));
        else if (o->rts_delay_us > 0)
            modbus_rtu_set_rts_delay(mb, o->rts_delay_us);
    }
    return mb;
}

int col_link_open(col_link_t *l, char *err, size_t errlen)
{
    if (l->mb)
        return CM_OK;
    l->mb = open_ctx(&l->o, l->ndevs ? l->devs[0].timeout_ms : 1000, err, errlen);
    if (!l->mb)
        return CM_ERR_IO;
    l->fresh = true;
    return CM_OK;
}

void col_link_close(col_link_t *l)
{
    if (l->mb) {
        modbus_close(l->mb);
        modbus_free(l->mb);
        l->mb = NULL;
    }
}

void col_link_select(col_link_t *l, col_dev_t *d)
{
    l->cur = d;
    l->timeout_ms = d->timeout_ms;
    modbus_set_slave(l->mb, d->unit);
    set_timeouts(l->mb, d->timeout_ms, d->byte_timeout_ms);
}

/* After a failed request: decide what the link needs. errno from libmodbus. */
static int recover(col_link_t *l, int e, const char *what, char *err, size_t errlen)
{
    int code = CM_ERR_PROTOCOL;
    if (e == ETIMEDOUT)
        code = CM_ERR_TIMEOUT;
    else if (e == ECONNRESET || e == EPIPE || e == EBADF || e == ECONNREFUSED || e == EIO ||
             e == ENOTCONN)
        code = CM_ERR_IO;
    cm_fail(err, errlen, code, "%s: %s", what, modbus_strerror(e));
    if (col_is_exception(e))
        return code; /* a well-formed answer: the link is fine */
    if (code == CM_ERR_IO || (code == CM_ERR_TIMEOUT && l->o.transport == COL_TCP)) {
        col_link_close(l);
    } else if (l->mb) {
        /* Garbage or a late answer on a serial line: drop what is buffered. */
        modbus_flush(l->mb);
    }
    return code;
}

bool col_is_exception(int e) { return e > MODBUS_ENOBASE && e < MODBUS_ENOBASE + 12; }

/* ---- RTU: a quiet line before every request ------------------------------ */

/* t3.5 of the line: 3.5 characters of 11 bits, at least 2 ms. */
static int t35_ms(const col_link_t *l)
{
    int ms = (int)(3.5 * 11 * 1000 / (l->o.baud > 0 ? l->o.baud : 9600) + 0.999);
    return ms < 2 ? 2 : ms;
}

/* Discard whatever is on the line and wait until it has been quiet for
 * t3.5; after a device timed out, wait also for its late answer (thrown away
 * as it comes) or the end of its window. A late answer read as the next
 * request's would void a healthy neighbour's reading (issue #15). */
static void rtu_settle(col_link_t *l)
{
    int fd = modbus_get_socket(l->mb);
    if (fd < 0)
        return;
    int64_t now = tm_mono_ms();
    int64_t hard = (l->late_until_ms > now ? l->late_until_ms : now) + 2000;
    int64_t quiet_since = l->last_io_ms;
    size_t discarded = 0;
    for (;;) {
        int64_t until = quiet_since + t35_ms(l);
        if (l->late_until_ms > until)
            until = l->late_until_ms;
        now = tm_mono_ms();
        int64_t w = until > now ? until - now : 0;
        if (now >= hard)
            break; /* a babbling line: flushed below */
        fd_set rf;
        FD_ZERO(&rf);
        FD_SET(fd, &rf);
        struct timeval tv = {(time_t)(w / 1000), (suseconds_t)(w % 1000) * 1000};
        int n = select(fd + 1, &rf, NULL, NULL, &tv);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0 || tm_mono_ms() >= until)
                break;
            continue;
        }
        uint8_t buf[256];
        ssize_t got = read(fd, buf, sizeof buf);
        if (got <= 0)
            break;
        discarded += (size_t)got;
        quiet_since = tm_mono_ms();
        l->late_until_ms = 0; /* the late answer is coming: only its end is awaited */
    }
    if (tm_mono_ms() >= hard)
        modbus_flush(l->mb);
    l->late_until_ms = 0;
    l->last_io_ms = tm_mono_ms();
    if (discarded && l->late_dev) {
        log_debug("collector", "%s: discarded %zu bytes on the line, a late answer of %s (unit %d)",
                 l->name, discarded, l->late_dev->name, l->late_dev->unit);
        col_stats_late(l->late_dev);
    } else if (discarded) {
        log_debug("collector", "%s: discarded %zu stray bytes on the line", l->name, discarded);
    }
    l->late_dev = NULL;
}

/* ---- one request, with what goes around it -------------------------------- */

typedef enum req_op { OP_HOLDING, OP_INPUT, OP_WRITE } req_op;

static int transact(col_link_t *l, req_op op, int addr, int n, uint16_t *regs, char *err,
                    size_t errlen)
{
    for (int attempt = 0;; attempt++) {
        if (!l->mb) {
            l->last_errno = EIO;
            return cm_fail(err, errlen, CM_ERR_IO, "link closed");
        }
        bool rtu = l->o.transport == COL_RTU;
        if (rtu)
            rtu_settle(l);
        int64_t t0 = tm_mono_ms();
        int got = op == OP_INPUT     ? modbus_read_input_registers(l->mb, addr, n, regs)
                  : op == OP_HOLDING ? modbus_read_registers(l->mb, addr, n, regs)
                                     : modbus_write_registers(l->mb, addr, n, regs);
        int e = got == n ? 0 : got < 0 ? errno : EMBBADDATA;
        int64_t t1 = tm_mono_ms();
        l->last_io_ms = t1;
        l->last_errno = e;
        l->requests++;
        col_stats_request(l->cur, e, t1 - t0);
        if (!e)
            return CM_OK;
        if (rtu && e == EMBBADSLAVE && attempt == 0) {
            /* Another unit's (late) answer came first; ours may still be on
             * its way: let the line settle, then ask once more. */
            l->late_until_ms = t1 + l->timeout_ms;
            continue;
        }
        if (rtu && e == ETIMEDOUT) {
            l->late_until_ms = t1 + l->timeout_ms;
            l->late_dev = l->cur;
        }
        char what[64];
        snprintf(what, sizeof what, "%s %d registers at 0x%04x", op == OP_WRITE ? "write" : "read",
                 n, addr);
        return recover(l, e, what, err, errlen);
    }
}

int col_link_read_regs(col_link_t *l, int addr, int n, uint16_t *regs, char *err, size_t errlen)
{
    return transact(l, OP_HOLDING, addr, n, regs, err, errlen);
}

int col_link_write_regs(col_link_t *l, int addr, int n, const uint16_t *regs, char *err,
                        size_t errlen)
{
    uint16_t copy[125];
    if (n < 1 || n > 123)
        return cm_fail(err, errlen, CM_ERR_INVALID, "write of %d registers", n);
    memcpy(copy, regs, (size_t)n * sizeof *regs);
    return transact(l, OP_WRITE, addr, n, copy, err, errlen);
}

/* The requests themselves, shared by the service and the probe. A request
 * the device refuses with exception 02 or 03 (an undocumented register in a
 * gap read over, or too many registers at once) is split — gap-free runs,
 * then one point per request — and the pieces are asked at once; the refined
 * plan stays with its owner (per device, issue #15). A single point refused
 * is marked COL_Q_REFUSED, not a failure of the poll. */
static int read_planned(col_link_t *l, const col_map_t *map, const int *order, col_request_t *req,
                        int *nreq, int shift, int pause_ms, col_value_t *values, int *splits,
                        char *err, size_t errlen)
{
    uint16_t regs[125];
    for (int i = 0; i < map->count; i++)
        values[i] = (col_value_t){.quality = COL_Q_INVALID};
    for (int r = 0; r < *nreq; r++) {
        if (r > 0 && pause_ms > 0)
            tm_sleep_ms(pause_ms);
        int start = req[r].start + shift;
        int rc = transact(l, req[r].fn == COL_FN_INPUT ? OP_INPUT : OP_HOLDING, start,
                          req[r].count, regs, err, errlen);
        int e = l->last_errno;
        if (rc && (e == EMBXILADD || e == EMBXILVAL)) {
            if (req[r].n > 1) {
                int count = req[r].count;
                int np = col_plan_split(map, order, req, nreq, r);
                log_info("collector", "%s unit %d refused %d registers at 0x%04x (%s): asked as %d"
                         " requests from now on", l->name, l->cur ? l->cur->unit : 0, count, start,
                         modbus_strerror(e), np);
                if (splits)
                    (*splits)++;
                r--;
                continue;
            }
            col_value_t *v = &values[order[req[r].first]];
            v->quality = COL_Q_REFUSED;
            v->exception = e - MODBUS_ENOBASE;
            continue;
        }
        if (rc)
            return rc;
        for (int k = req[r].first; k < req[r].first + req[r].n; k++) {
            const col_point_t *p = &map->points[order[k]];
            col_value_t *v = &values[order[k]];
            v->ok = col_decode(regs + (p->address - req[r].start), p->type, p->order, p->scale,
                               p->offset, &v->value) == CM_OK;
            v->quality = v->ok ? COL_Q_GOOD : COL_Q_INVALID;
        }
    }
    return CM_OK;
}

int col_link_read_map(col_link_t *l, col_dev_t *d, col_value_t *values, char *err, size_t errlen)
{
    return read_planned(l, &d->map, d->order, d->req, &d->nreq, d->address_shift,
                        d->request_pause_ms, values, NULL, err, errlen);
}

/* The map as the probe's options change it. */
static void probe_map(const col_map_t *map, const col_probe_opts_t *o, col_map_t *out)
{
    *out = *map;
    for (int i = 0; i < out->count; i++) {
        col_point_t *p = &out->points[i];
        if (o->word_swap_set && col_type_regs(p->type) > 1)
            p->order.word_swap = o->word_swap;
        if (o->byte_swap_set)
            p->order.byte_swap = o->byte_swap;
    }
    if (o->max_registers > 0 && o->max_registers < out->max_registers)
        out->max_registers = o->max_registers;
}

int col_probe(const col_map_t *map, const col_link_opts_t *link, const col_probe_opts_t *o,
              col_value_t values[COL_MAX_POINTS], col_probe_report_t *rep, char *err,
              size_t errlen)
{
    col_map_t *m = malloc(sizeof *m);
    int *order = malloc(COL_MAX_POINTS * sizeof *order);
    col_request_t *req = malloc(COL_MAX_POINTS * sizeof *req);
    int rc = m && order && req ? CM_OK : cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    col_link_t l = {.o = *link, .timeout_ms = o->timeout_ms};
    memset(rep, 0, sizeof *rep);
    if (!rc) {
        probe_map(map, o, m);
        int nreq = col_plan(m, m->max_registers, o->one_per_point, order, req);
        snprintf(l.name, sizeof l.name, "%s", link->transport == COL_TCP ? link->host : link->device);
        l.mb = open_ctx(link, o->timeout_ms, err, errlen);
        rc = l.mb ? CM_OK : CM_ERR_IO;
        if (!rc) {
            modbus_set_slave(l.mb, o->unit);
            rc = read_planned(&l, m, order, req, &nreq, o->address_shift, 0, values, &rep->splits,
                              err, errlen);
            if (rc)
                snprintf(rep->first_error, sizeof rep->first_error, "%s", err);
            rep->requests = l.requests;
            for (int i = 0; i < m->count; i++)
                rep->refused += values[i].quality == COL_Q_REFUSED;
        }
        col_link_close(&l);
    }
    free(m);
    free(order);
    free(req);
    return rc;
}

int col_probe_scan(const col_map_t *map, const col_link_opts_t *link, int from, int to,
                   int timeout_ms, int *found, int max, int *n, char *err, size_t errlen)
{
    col_link_t l = {.o = *link, .timeout_ms = timeout_ms};
    snprintf(l.name, sizeof l.name, "%s", link->transport == COL_TCP ? link->host : link->device);
    *n = 0;
    const col_point_t *p = &map->points[0];
    for (int unit = from; unit <= to; unit++) {
        if (!l.mb && !(l.mb = open_ctx(link, timeout_ms, err, errlen)))
            return CM_ERR_IO;
        modbus_set_slave(l.mb, unit);
        uint16_t regs[4];
        char e2[200];
        int rc = transact(&l, p->fn == COL_FN_INPUT ? OP_INPUT : OP_HOLDING, p->address,
                          col_type_regs(p->type), regs, e2, sizeof e2);
        /* An exception is an answer too: someone is at that address. */
        if ((!rc || col_is_exception(l.last_errno)) && *n < max)
            found[(*n)++] = unit;
    }
    col_link_close(&l);
    return CM_OK;
}

int col_read_once(const col_map_t *map, const col_link_opts_t *link, int unit, int timeout_ms,
                  col_value_t values[COL_MAX_POINTS], char *err, size_t errlen)
{
    col_probe_opts_t o = {.unit = unit, .timeout_ms = timeout_ms};
    col_probe_report_t rep;
    return col_probe(map, link, &o, values, &rep, err, errlen);
}

int col_read_tcp_once(const col_map_t *map, const char *host, int port, int unit, int timeout_ms,
                      col_value_t values[COL_MAX_POINTS], char *err, size_t errlen)
{
    col_link_opts_t o = {.transport = COL_TCP, .port = port};
    snprintf(o.host, sizeof o.host, "%s", host);
    return col_read_once(map, &o, unit, timeout_ms, values, err, errlen);
}

bool col_sleep(struct col *col, int64_t ms)
{
    int64_t deadline = tm_mono_ms() + ms;
    pthread_mutex_lock(&col->mu);
    while (!col->stopping) {
        int64_t left = deadline - tm_mono_ms();
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
