/* A simulated three-phase meter served over Modbus TCP. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <modbus.h>

#include "sim/sim.h"

#define MAX_CLIENTS 32

struct sim_meter {
    col_map_t map;
    sim_meter_opts_t o;
    modbus_t *ctx;
    modbus_mapping_t *mapping;
    int listen_fd, port;
    pthread_t thread;
    pthread_mutex_t mu;
    volatile int stopping;
    /* electrical state */
    double energy_kwh, energy_kvarh, last_t;
    uint32_t rng;
    double q[32]; /* last computed quantities, see quantity_index */
};

enum { Q_UA, Q_UB, Q_UC, Q_UAB, Q_UBC, Q_UCA, Q_IA, Q_IB, Q_IC, Q_P, Q_PA, Q_PB, Q_PC, Q_Q, Q_PF,
       Q_FREQ, Q_EIMP, Q_EEXP, Q_EQ, Q_THDU, Q_THDI, Q_COUNT };

static const char *const quantity_names[Q_COUNT] = {
    "voltage_a", "voltage_b", "voltage_c", "voltage_ab", "voltage_bc", "voltage_ca", "current_a",
    "current_b", "current_c", "active_power", "active_power_a", "active_power_b",
    "active_power_c", "reactive_power", "power_factor", "frequency", "energy_import",
    "energy_export", "energy_reactive", "thd_voltage", "thd_current"};

static int quantity_index(const char *name)
{
    for (int i = 0; i < Q_COUNT; i++)
        if (strcmp(name, quantity_names[i]) == 0)
            return i;
    return -1;
}

void sim_meter_opts_default(sim_meter_opts_t *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    o->load = 0.6;
    o->rated_a = 200;
    o->energy0 = 123456.7;
    o->seed = 1;
}

static double noise(sim_meter_t *m, double amplitude)
{
    /* xorshift32: reproducible with a seed, good enough for jitter. */
    uint32_t x = m->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    m->rng = x;
    return ((double)x / 4294967296.0 * 2 - 1) * amplitude;
}

/* Advance the electrical state to now; energy integrates power, never drops. */
static void update_state(sim_meter_t *m)
{
    double t = (double)tm_now_ms() / 1000.0;
    double dt = m->last_t > 0 ? t - m->last_t : 0;
    m->last_t = t;
    /* A conveyor's load swings over minutes as coal arrives in waves. */
    double load = m->o.load * (1 + 0.25 * sin(t / 90.0) + 0.1 * sin(t / 13.0)) + noise(m, 0.02);
    if (load < 0.05)
        load = 0.05;
    double *q = m->q;
    q[Q_UA] = 230 + noise(m, 1.5);
    q[Q_UB] = 229 + noise(m, 1.5);
    q[Q_UC] = 231 + noise(m, 1.5);
    q[Q_UAB] = (q[Q_UA] + q[Q_UB]) / 2 * sqrt(3);
    q[Q_UBC] = (q[Q_UB] + q[Q_UC]) / 2 * sqrt(3);
    q[Q_UCA] = (q[Q_UC] + q[Q_UA]) / 2 * sqrt(3);
    q[Q_IA] = m->o.rated_a * load * (1 + noise(m, 0.02));
    q[Q_IB] = m->o.rated_a * load * (1 + noise(m, 0.02));
    q[Q_IC] = m->o.rated_a * load * (1 + noise(m, 0.02));
    q[Q_PF] = 0.86 + 0.06 * load + noise(m, 0.005);
    q[Q_PA] = q[Q_UA] * q[Q_IA] * q[Q_PF] / 1000;
    q[Q_PB] = q[Q_UB] * q[Q_IB] * q[Q_PF] / 1000;
    q[Q_PC] = q[Q_UC] * q[Q_IC] * q[Q_PF] / 1000;
    q[Q_P] = q[Q_PA] + q[Q_PB] + q[Q_PC];
    q[Q_Q] = q[Q_P] * tan(acos(q[Q_PF]));
    q[Q_FREQ] = 50 + noise(m, 0.03);
    q[Q_THDU] = 2.1 + noise(m, 0.2);
    q[Q_THDI] = 8.5 + noise(m, 0.8);
    if (dt > 0 && dt < 3600) {
        m->energy_kwh += q[Q_P] * dt / 3600;
        m->energy_kvarh += q[Q_Q] * dt / 3600;
    }
    q[Q_EIMP] = m->energy_kwh;
    q[Q_EEXP] = 0;
    q[Q_EQ] = m->energy_kvarh;
}

static void write_registers(sim_meter_t *m)
{
    for (int i = 0; i < m->map.count; i++) {
        const col_point_t *p = &m->map.points[i];
        int qi = quantity_index(p->quantity);
        if (qi < 0)
            continue;
        double raw = p->scale != 0 ? (m->q[qi] - p->offset) / p->scale : 0;
        uint16_t *bank = p->fn == COL_FN_INPUT ? m->mapping->tab_input_registers
                                               : m->mapping->tab_registers;
        col_encode(raw, p->type, p->order, bank + p->address);
    }
}

static int highest_register(const col_map_t *map)
{
    int hi = 0;
    for (int i = 0; i < map->count; i++) {
        int end = map->points[i].address + col_type_regs(map->points[i].type);
        if (end > hi)
            hi = end;
    }
    return hi;
}

/* Answer one request on fd; false when the client has gone (fd closed). */
static bool serve_request(sim_meter_t *m, int fd)
{
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    modbus_set_socket(m->ctx, fd);
    int rc = modbus_receive(m->ctx, query);
    if (rc < 0) {
        close(fd);
        return false;
    }
    if (rc == 0)
        return true; /* a request for another unit id */
    int unit = query[6];
    if (m->o.unit && unit != m->o.unit)
        return true; /* not ours: a real RS485 unit behind a gateway stays silent */
    pthread_mutex_lock(&m->mu);
    update_state(m);
    write_registers(m);
    modbus_reply(m->ctx, query, rc, m->mapping);
    pthread_mutex_unlock(&m->mu);
    return true;
}

static void *serve(void *arg)
{
    sim_meter_t *m = arg;
    int clients[MAX_CLIENTS];
    int nclients = 0;
    while (!m->stopping) {
        fd_set rfds;
        FD_ZERO(&rfds);
        FD_SET(m->listen_fd, &rfds);
        int maxfd = m->listen_fd;
        for (int i = 0; i < nclients; i++) {
            FD_SET(clients[i], &rfds);
            if (clients[i] > maxfd)
                maxfd = clients[i];
        }
        struct timeval tv = {0, 100000};
        if (select(maxfd + 1, &rfds, NULL, NULL, &tv) <= 0)
            continue;
        if (FD_ISSET(m->listen_fd, &rfds)) {
            int fd = accept(m->listen_fd, NULL, NULL);
            if (fd >= 0 && nclients < MAX_CLIENTS)
                clients[nclients++] = fd;
            else if (fd >= 0)
                close(fd);
        }
        for (int i = 0; i < nclients; i++) {
            if (!FD_ISSET(clients[i], &rfds))
                continue;
            if (!serve_request(m, clients[i]))
                clients[i--] = clients[--nclients];
        }
    }
    for (int i = 0; i < nclients; i++)
        close(clients[i]);
    return NULL;
}

sim_meter_t *sim_meter_start(const col_map_t *map, const sim_meter_opts_t *o, char *err,
                             size_t errlen)
{
    sim_meter_t *m = calloc(1, sizeof *m);
    if (!m) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->map = *map;
    if (o)
        m->o = *o;
    else
        sim_meter_opts_default(&m->o);
    m->energy_kwh = m->o.energy0;
    m->energy_kvarh = m->o.energy0 * 0.4;
    m->rng = m->o.seed ? m->o.seed : 1;
    m->listen_fd = -1;
    pthread_mutex_init(&m->mu, NULL);
    int nregs = highest_register(map);
    /* unit 0 on the context: modbus_receive then passes every unit id up to us. */
    m->ctx = modbus_new_tcp(m->o.host, m->o.port);
    m->mapping = modbus_mapping_new(0, 0, nregs, nregs);
    if (!m->ctx || !m->mapping) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "cannot create the Modbus server");
        sim_meter_stop(m);
        return NULL;
    }
    modbus_set_slave(m->ctx, MODBUS_TCP_SLAVE);
    m->listen_fd = modbus_tcp_listen(m->ctx, 16);
    if (m->listen_fd < 0) {
        cm_fail(err, errlen, CM_ERR_IO, "cannot listen on %s:%d: %s", m->o.host, m->o.port,
                modbus_strerror(errno));
        sim_meter_stop(m);
        return NULL;
    }
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    getsockname(m->listen_fd, (struct sockaddr *)&sa, &sl);
    m->port = ntohs(sa.sin_port);
    update_state(m);
    write_registers(m);
    if (pthread_create(&m->thread, NULL, serve, m) != 0) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "cannot start the server thread");
        sim_meter_stop(m);
        return NULL;
    }
    return m;
}

int sim_meter_port(const sim_meter_t *m) { return m->port; }

double sim_meter_value(sim_meter_t *m, const char *quantity)
{
    int qi = quantity_index(quantity);
    pthread_mutex_lock(&m->mu);
    double v = qi >= 0 ? m->q[qi] : NAN;
    pthread_mutex_unlock(&m->mu);
    return v;
}

void sim_meter_stop(sim_meter_t *m)
{
    if (!m)
        return;
    if (m->thread) {
        m->stopping = 1;
        pthread_join(m->thread, NULL);
    }
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    if (m->mapping)
        modbus_mapping_free(m->mapping);
    if (m->ctx)
        modbus_free(m->ctx);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
