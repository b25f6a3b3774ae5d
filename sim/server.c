/* A Modbus server (TCP or RTU) carrying several simulated units, with
 * switchable faults in the spirit of libmodbus's test server: silence,
 * exceptions, garbage bytes, dropped connections and link outages. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim/sim.h"

#define MAX_UNITS 32
#define MAX_CLIENTS 32

typedef struct unit {
    int id; /* 0: answers any unit id */
    modbus_mapping_t *mp;
    sim_unit_ops_t ops;
    void *state;
} unit_t;

typedef struct fault {
    int64_t until_ms; /* wall clock; 0 off */
    int unit;         /* 0: every unit */
} fault_t;

struct sim_server {
    sim_server_opts_t o;
    modbus_t *ctx;
    int listen_fd, port, fd; /* fd: RTU line */
    unit_t units[MAX_UNITS];
    int nunits;
    pthread_t thread, control_thread;
    bool started, control_started;
    int control_fd, control_port;
    pthread_mutex_t mu;
    atomic_int stopping; /* set by sim_server_stop, read by the server threads */
    fault_t silent, exception, garbage;
    int64_t outage_until;
    bool drop;
    uint64_t requests;
};

void sim_server_opts_tcp(sim_server_opts_t *o, const char *host, int port)
{
    memset(o, 0, sizeof *o);
    o->transport = COL_TCP;
    snprintf(o->host, sizeof o->host, "%s", host);
    o->port = port;
}

void sim_server_opts_rtu(sim_server_opts_t *o, const char *device, int baud, char parity)
{
    memset(o, 0, sizeof *o);
    o->transport = COL_RTU;
    snprintf(o->device, sizeof o->device, "%s", device);
    o->baud = baud;
    o->parity = parity;
}

sim_server_t *sim_server_new(const sim_server_opts_t *o)
{
    sim_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->o = *o;
    s->listen_fd = s->fd = s->control_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

int sim_server_add_unit(sim_server_t *s, int unit, int nregs, const sim_unit_ops_t *ops,
                        void *state)
{
    if (s->nunits >= MAX_UNITS)
        return CM_ERR_INVALID;
    unit_t *u = &s->units[s->nunits];
    u->mp = modbus_mapping_new(0, 0, nregs, nregs);
    if (!u->mp)
        return CM_ERR_NOMEM;
    u->id = unit;
    u->ops = *ops;
    u->state = state;
    s->nunits++;
    return CM_OK;
}

static unit_t *find_unit(sim_server_t *s, int id)
{
    for (int i = 0; i < s->nunits; i++)
        if (s->units[i].id == id || s->units[i].id == 0)
            return &s->units[i];
    return NULL;
}

static bool active(const fault_t *f, int unit, int64_t now)
{
    return f->until_ms > now && (f->unit == 0 || f->unit == unit);
}

static void tick_all(sim_server_t *s)
{
    int64_t now = tm_now_ms();
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nunits; i++)
        if (s->units[i].ops.tick)
            s->units[i].ops.tick(s->units[i].state, now);
    pthread_mutex_unlock(&s->mu);
}

/* Answer one complete request for unit; fd is where garbage goes. */
static void answer(sim_server_t *s, int fd, const uint8_t *req, int len, int unit_id)
{
    int64_t now = tm_now_ms();
    pthread_mutex_lock(&s->mu);
    s->requests++;
    unit_t *u = find_unit(s, unit_id);
    if (!u || active(&s->silent, unit_id, now)) {
        pthread_mutex_unlock(&s->mu); /* a dead unit says nothing */
        return;
    }
    if (active(&s->garbage, unit_id, now)) {
        static const uint8_t junk[] = {0x5a, 0x00, 0xff, 0x13, 0x37, 0x42, 0x99, 0x01, 0xee};
        pthread_mutex_unlock(&s->mu);
        if (write(fd, junk, sizeof junk) < 0)
            log_debug("sim", "garbage write failed: %s", strerror(errno));
        return;
    }
    modbus_set_slave(s->ctx, unit_id);
    if (active(&s->exception, unit_id, now)) {
        modbus_reply_exception(s->ctx, req, MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE);
    } else {
        if (u->ops.refresh)
            u->ops.refresh(u->state, u->mp, now);
        modbus_reply(s->ctx, req, len, u->mp);
        if (u->ops.written)
            u->ops.written(u->state, u->mp, now);
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- TCP ------------------------------------------------------------------- */

static bool serve_tcp_request(sim_server_t *s, int fd)
{
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    modbus_set_socket(s->ctx, fd);
    int rc = modbus_receive(s->ctx, query);
    if (rc < 0) {
        close(fd);
        return false;
    }
    if (rc > 0 && s->o.line_baud > 0) {
        /* An RS485 gateway forwards the request and the answer over its serial
         * line: 11 bits a byte, RTU framing (8-byte request, 5 + 2n answer). */
        int n = query[7] <= 4 ? query[10] << 8 | query[11] : 1;
        int bytes = 8 + 5 + 2 * (n > 125 ? 125 : n);
        tm_sleep_ms((int64_t)bytes * 11 * 1000 / s->o.line_baud + 4); /* + t3.5 gaps */
    }
    if (rc > 0)
        answer(s, fd, query, rc, query[6]);
    return true;
}

static void serve_tcp(sim_server_t *s)
{
    int clients[MAX_CLIENTS], n = 0;
    while (!s->stopping) {
        tick_all(s);
        pthread_mutex_lock(&s->mu);
        bool outage = s->outage_until > tm_now_ms(), drop = s->drop || outage;
        s->drop = false;
        pthread_mutex_unlock(&s->mu);
        if (drop) {
            for (int i = 0; i < n; i++)
                close(clients[i]);
            n = 0;
        }
        fd_set rfds;
        FD_ZERO(&rfds);
        FD_SET(s->listen_fd, &rfds);
        int maxfd = s->listen_fd;
        for (int i = 0; i < n; i++) {
            FD_SET(clients[i], &rfds);
            maxfd = clients[i] > maxfd ? clients[i] : maxfd;
        }
        struct timeval tv = {0, 50000};
        if (select(maxfd + 1, &rfds, NULL, NULL, &tv) <= 0)
            continue;
        if (FD_ISSET(s->listen_fd, &rfds)) {
            int fd = accept(s->listen_fd, NULL, NULL);
            /* During an outage the link is down: the connection dies at once. */
            if (fd >= 0 && n < MAX_CLIENTS && !outage) {
                struct timeval rt = {1, 0};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
                clients[n++] = fd;
            } else if (fd >= 0) {
                close(fd);
            }
        }
        for (int i = 0; i < n; i++)
            if (FD_ISSET(clients[i], &rfds) && !serve_tcp_request(s, clients[i]))
                clients[i--] = clients[--n];
    }
    for (int i = 0; i < n; i++)
        close(clients[i]);
}

/* ---- RTU: our own framing, so one line can carry many unit ids ------------- */

static uint16_t crc16(const uint8_t *b, int n)
{
    uint16_t crc = 0xffff;
    for (int i = 0; i < n; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (uint16_t)(crc >> 1 ^ 0xa001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

static void serve_rtu(sim_server_t *s)
{
    uint8_t frame[MODBUS_RTU_MAX_ADU_LENGTH];
    int len = 0;
    while (!s->stopping) {
        tick_all(s);
        fd_set rfds;
        FD_ZERO(&rfds);
        FD_SET(s->fd, &rfds);
        /* A silence of a few ms ends a frame (t3.5 on a pseudo-terminal). */
        struct timeval tv = {0, len ? 4000 : 50000};
        int r = select(s->fd + 1, &rfds, NULL, NULL, &tv);
        if (r > 0) {
            ssize_t got = read(s->fd, frame + len, sizeof frame - (size_t)len);
            if (got > 0)
                len += (int)got;
            if (len >= (int)sizeof frame)
                len = 0;
            continue;
        }
        if (len == 0)
            continue;
        pthread_mutex_lock(&s->mu);
        bool down = s->outage_until > tm_now_ms();
        pthread_mutex_unlock(&s->mu);
        uint16_t crc = len >= 4 ? crc16(frame, len - 2) : 0;
        if (!down && len >= 4 && frame[len - 2] == (crc & 0xff) && frame[len - 1] == crc >> 8)
            answer(s, s->fd, frame, len, frame[0]);
        len = 0;
    }
}

static void *serve(void *arg)
{
    sim_server_t *s = arg;
    if (s->o.transport == COL_TCP)
        serve_tcp(s);
    else
        serve_rtu(s);
    return NULL;
}

int sim_server_start(sim_server_t *s, char *err, size_t errlen)
{
    if (s->o.transport == COL_TCP) {
        s->ctx = modbus_new_tcp(s->o.host[0] ? s->o.host : "127.0.0.1", s->o.port);
        if (!s->ctx)
            return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot create the Modbus server");
        modbus_set_slave(s->ctx, MODBUS_TCP_SLAVE);
        s->listen_fd = modbus_tcp_listen(s->ctx, 16);
        if (s->listen_fd < 0)
            return cm_fail(err, errlen, CM_ERR_IO, "cannot listen on %s:%d: %s", s->o.host,
                           s->o.port, modbus_strerror(errno));
        struct sockaddr_in sa;
        socklen_t sl = sizeof sa;
        getsockname(s->listen_fd, (struct sockaddr *)&sa, &sl);
        s->port = ntohs(sa.sin_port);
    } else {
        s->ctx = modbus_new_rtu(s->o.device, s->o.baud ? s->o.baud : 9600,
                                s->o.parity ? s->o.parity : 'N', 8, 1);
        if (!s->ctx || modbus_connect(s->ctx) != 0)
            return cm_fail(err, errlen, CM_ERR_IO, "cannot open %s: %s", s->o.device,
                           modbus_strerror(errno));
        s->fd = modbus_get_socket(s->ctx);
    }
    tick_all(s);
    if (pthread_create(&s->thread, NULL, serve, s) != 0)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot start the server thread");
    s->started = true;
    return CM_OK;
}

int sim_server_port(const sim_server_t *s) { return s->port; }

uint64_t sim_server_requests(sim_server_t *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- faults ----------------------------------------------------------------- */

static int set_fault(fault_t *f, const char *secs, int unit, int64_t now)
{
    char *end;
    double v = strtod(secs ? secs : "", &end);
    if (!secs || *end || v < 0 || v > 86400)
        return CM_ERR_INVALID;
    f->until_ms = v > 0 ? now + (int64_t)(v * 1000) : 0;
    f->unit = unit;
    return CM_OK;
}

int sim_server_command(sim_server_t *s, const char *line, char *reply, size_t len)
{
    char buf[256], *argv[6] = {0};
    int argc = 0, unit = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *save, *t = strtok_r(buf, " \t\r\n", &save); t && argc < 6;
         t = strtok_r(NULL, " \t\r\n", &save))
        argv[argc++] = t;
    if (argc > 0 && argv[0][0] == '@') {
        unit = atoi(argv[0] + 1);
        memmove(argv, argv + 1, sizeof argv[0] * 5);
        argc--;
    }
    if (argc == 0)
        return cm_fail(reply, len, CM_ERR_INVALID, "empty command");
    int64_t now = tm_now_ms();
    int rc = CM_OK;
    pthread_mutex_lock(&s->mu);
    if (!strcmp(argv[0], "silent"))
        rc = set_fault(&s->silent, argv[1], unit, now);
    else if (!strcmp(argv[0], "exception"))
        rc = set_fault(&s->exception, argv[1], unit, now);
    else if (!strcmp(argv[0], "garbage"))
        rc = set_fault(&s->garbage, argv[1], unit, now);
    else if (!strcmp(argv[0], "drop"))
        s->drop = true;
    else if (!strcmp(argv[0], "outage")) {
        fault_t f = {0};
        rc = set_fault(&f, argv[1], 0, now);
        s->outage_until = f.until_ms;
    } else if (!strcmp(argv[0], "clear")) {
        memset(&s->silent, 0, sizeof s->silent);
        memset(&s->exception, 0, sizeof s->exception);
        memset(&s->garbage, 0, sizeof s->garbage);
        s->outage_until = 0;
    } else {
        rc = CM_ERR_NOTFOUND;
        for (int i = 0; i < s->nunits; i++)
            if ((unit == 0 || s->units[i].id == unit || s->units[i].id == 0) &&
                s->units[i].ops.command)
                rc = s->units[i].ops.command(s->units[i].state, argc, argv, now) == CM_OK
                         ? CM_OK
                         : rc;
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == CM_ERR_NOTFOUND)
        return cm_fail(reply, len, rc, "unknown command '%s'", argv[0]);
    if (rc)
        return cm_fail(reply, len, rc, "bad arguments to '%s'", argv[0]);
    snprintf(reply, len, "ok");
    return CM_OK;
}

void sim_server_stop(sim_server_t *s)
{
    if (!s)
        return;
    s->stopping = 1;
    if (s->started)
        pthread_join(s->thread, NULL);
    if (s->control_started) {
        shutdown(s->control_fd, SHUT_RDWR);
        pthread_join(s->control_thread, NULL);
    }
    if (s->control_fd >= 0)
        close(s->control_fd);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->ctx) {
        if (s->o.transport == COL_RTU)
            modbus_close(s->ctx);
        modbus_free(s->ctx);
    }
    for (int i = 0; i < s->nunits; i++)
        modbus_mapping_free(s->units[i].mp);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- control socket: one command per line, answered "ok" or "error: ..." --- */

static void *control_main(void *arg)
{
    sim_server_t *s = arg;
    while (!s->stopping) {
        int fd = accept(s->control_fd, NULL, NULL);
        if (fd < 0)
            break;
        /* An idle client must not keep the thread from noticing a stop. */
        struct timeval rt = {2, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
        FILE *f = fdopen(fd, "r+");
        if (!f) {
            close(fd);
            continue;
        }
        char line[256], reply[256];
        while (fgets(line, sizeof line, f)) {
            int rc = sim_server_command(s, line, reply, sizeof reply);
            fprintf(f, "%s%s\n", rc ? "error: " : "", reply);
            fflush(f);
        }
        fclose(f);
    }
    return NULL;
}

int sim_server_control(sim_server_t *s, const char *host, int port, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return cm_fail(err, errlen, CM_ERR_INVALID, "control: bad address %s", host);
    s->control_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->control_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t sl = sizeof sa;
    if (s->control_fd < 0 || bind(s->control_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(s->control_fd, 4) != 0 ||
        getsockname(s->control_fd, (struct sockaddr *)&sa, &sl) != 0)
        return cm_fail(err, errlen, CM_ERR_IO, "control: cannot listen on %s:%d: %s", host, port,
                       strerror(errno));
    s->control_port = ntohs(sa.sin_port);
    if (pthread_create(&s->control_thread, NULL, control_main, s) != 0)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot start the control thread");
    s->control_started = true;
    return CM_OK;
}

int sim_server_control_port(const sim_server_t *s) { return s->control_port; }

void sim_server_lock(sim_server_t *s) { pthread_mutex_lock(&s->mu); }

void sim_server_unlock(sim_server_t *s) { pthread_mutex_unlock(&s->mu); }
