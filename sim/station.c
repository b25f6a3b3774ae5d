/* A simulated belt-scale station (docs/station-map.md): a conveyor with a
 * weigh sensor, speed sensor, on/off sensors and two vibration sensors, and
 * a record buffer that keeps filling while the link is down. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

enum { K_FLOW, K_SPEED, K_VIB1, K_VIB2, K_COUNT };
static const char *const stuck_names[K_COUNT] = {"flow", "speed", "vib1", "vib2"};

struct sim_station {
    sim_station_opts_t o;
    sim_server_t *srv;
    col_st_record_t *ring;
    uint32_t next_seq; /* the next record's sequence number; records are 1.. */
    int count;         /* records held, <= capacity */
    double total, flow, speed, load, vib1, vib2, battery;
    bool running;
    uint16_t faults, power;
    int64_t last_ms, next_record_ms;
    uint32_t rng;
    bool stuck[K_COUNT];
    double stuck_val[K_COUNT];
    bool zero_speed;
};

void sim_station_opts_default(sim_station_opts_t *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    snprintf(o->serial, sizeof o->serial, "BS1-SIM-0001");
    o->record_ms = 1000;
    o->capacity = 100000;
    o->flow_tph = 600;
    o->total0 = 50000;
    o->seed = 1;
}

static double noise(sim_station_t *s, double amplitude)
{
    uint32_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s->rng = x;
    return ((double)x / 4294967296.0 * 2 - 1) * amplitude;
}

static double *value_of(sim_station_t *s, int k)
{
    double *v[K_COUNT] = {&s->flow, &s->speed, &s->vib1, &s->vib2};
    return v[k];
}

static void tick(void *state, int64_t now)
{
    sim_station_t *s = state;
    double dt = s->last_ms ? (double)(now - s->last_ms) / 1000.0 : 0;
    s->last_ms = now;
    double t = (double)now / 1000.0;
    if (s->o.belt) { /* an outside belt (the demo mine) */
        s->o.belt(s->o.belt_arg, now, &s->running, &s->flow, &s->speed);
        s->flow += s->running && s->flow > 0 ? noise(s, s->flow * 0.01) : 0;
        s->speed = s->zero_speed ? 0 : s->speed;
        s->vib1 = s->running ? 2.8 + noise(s, 0.3) : 0.1 + noise(s, 0.05);
        s->vib2 = s->running ? 3.1 + noise(s, 0.3) : 0.1 + noise(s, 0.05);
    } else if (s->running) {
        s->flow = s->o.flow_tph * (1 + 0.2 * sin(t / 60.0)) + noise(s, s->o.flow_tph * 0.03);
        s->speed = s->zero_speed ? 0 : 3.15 + noise(s, 0.02);
        s->vib1 = 2.8 + noise(s, 0.3);
        s->vib2 = 3.1 + noise(s, 0.3);
    } else {
        s->flow = 0;
        s->speed = 0;
        s->vib1 = 0.1 + noise(s, 0.05);
        s->vib2 = 0.1 + noise(s, 0.05);
    }
    for (int k = 0; k < K_COUNT; k++)
        if (s->stuck[k])
            *value_of(s, k) = s->stuck_val[k];
    s->load = s->speed > 0.1 ? s->flow / (3.6 * s->speed) * 0.9 : 0;
    s->battery = s->power ? 24.8 - 0.001 * dt : 27.2;
    if (dt > 0 && dt < 3600)
        s->total += s->flow * dt / 3600.0;
    if (!s->next_record_ms)
        s->next_record_ms = now + s->o.record_ms;
    /* The station records whether or not anyone is listening (ACQ-8). */
    while (now >= s->next_record_ms) {
        col_st_record_t *r = &s->ring[(s->next_seq - 1) % (uint32_t)s->o.capacity];
        *r = (col_st_record_t){.seq = s->next_seq++, .ts_ms = s->next_record_ms,
                               .total_t = s->total, .flow_tph = s->flow, .speed_ms = s->speed};
        if (s->count < s->o.capacity)
            s->count++;
        s->next_record_ms += s->o.record_ms;
    }
}

static void put_f32(uint16_t *regs, int addr, double v)
{
    col_encode(v, COL_F32, (col_order_t){0}, regs + addr);
}

static void put_u32(uint16_t *regs, int addr, uint32_t v)
{
    regs[addr] = (uint16_t)(v >> 16);
    regs[addr + 1] = (uint16_t)v;
}

static void refresh(void *state, modbus_mapping_t *mp, int64_t now)
{
    sim_station_t *s = state;
    uint16_t *r = mp->tab_registers;
    for (int i = 0; i < 8; i++)
        r[COL_ST_SERIAL + i] = (uint16_t)((uint8_t)s->o.serial[2 * i] << 8 |
                                          (uint8_t)s->o.serial[2 * i + 1]);
    r[COL_ST_FW_MAJOR] = 2;
    r[COL_ST_FW_MINOR] = 7;
    r[COL_ST_MAP_VERSION] = 1;
    r[COL_ST_RECORD_S] = (uint16_t)(s->o.record_ms / 1000 ? s->o.record_ms / 1000 : 1);
    put_u32(r, COL_ST_CAPACITY, (uint32_t)s->o.capacity);
    put_f32(r, 0x0100, s->flow);
    put_u32(r, 0x0102, (uint32_t)llround(s->total * 10));
    put_f32(r, 0x0104, s->speed);
    put_f32(r, 0x0106, s->load);
    put_f32(r, 0x0108, s->vib1);
    put_f32(r, 0x010A, s->vib2);
    r[0x010C] = s->running;
    r[0x010D] = s->running ? 0x3 : 0x0; /* both drive motors on */
    r[0x010E] = 0x1;                    /* weighing */
    r[0x010F] = s->faults;
    r[0x0110] = s->power;
    r[0x0111] = (uint16_t)lround(s->battery * 100);
    put_u32(r, 0x0112, (uint32_t)(now / 1000));
    uint32_t newest = s->next_seq - 1, oldest = s->count ? s->next_seq - (uint32_t)s->count : 0;
    put_u32(r, COL_ST_OLDEST, oldest);
    put_u32(r, COL_ST_NEWEST, newest);
    uint32_t ptr = (uint32_t)r[COL_ST_POINTER] << 16 | r[COL_ST_POINTER + 1];
    int n = 0;
    memset(r + COL_ST_WINDOW, 0, sizeof(uint16_t) * COL_ST_WINDOW_RECORDS * COL_ST_RECORD_REGS);
    for (; n < COL_ST_WINDOW_RECORDS && s->count && ptr >= oldest && ptr + (uint32_t)n <= newest;
         n++) {
        uint32_t seq = ptr + (uint32_t)n;
        col_station_record_encode(&s->ring[(seq - 1) % (uint32_t)s->o.capacity],
                                  r + COL_ST_WINDOW + n * COL_ST_RECORD_REGS);
    }
    r[COL_ST_WINDOW_N] = (uint16_t)n;
}

static int on_off(const char *s, bool *out)
{
    if (!s || (strcmp(s, "on") && strcmp(s, "off")))
        return CM_ERR_INVALID;
    *out = !strcmp(s, "on");
    return CM_OK;
}

static int command(void *state, int argc, char **argv, int64_t now)
{
    sim_station_t *s = state;
    const char *c = argv[0], *a1 = argc > 1 ? argv[1] : NULL, *a2 = argc > 2 ? argv[2] : NULL;
    bool on;
    if (!strcmp(c, "reset")) {
        s->total = 0; /* the station's counter was cleared */
        return CM_OK;
    }
    if (!strcmp(c, "stuck")) {
        for (int k = 0; k < K_COUNT; k++)
            if (a1 && !strcmp(a1, stuck_names[k]) && !on_off(a2, &on)) {
                s->stuck[k] = on;
                s->stuck_val[k] = *value_of(s, k);
                return CM_OK;
            }
        return CM_ERR_INVALID;
    }
    if (!strcmp(c, "force")) {
        /* A sensor reads a given value (e.g. out of its range) until "stuck NAME off". */
        char *end;
        double v = a2 ? strtod(a2, &end) : 0;
        for (int k = 0; k < K_COUNT; k++)
            if (a1 && a2 && !*end && !strcmp(a1, stuck_names[k])) {
                s->stuck[k] = true;
                s->stuck_val[k] = v;
                return CM_OK;
            }
        return CM_ERR_INVALID;
    }
    if (!strcmp(c, "zero_speed"))
        return on_off(a1, &s->zero_speed);
    if (!strcmp(c, "run"))
        return on_off(a1, &s->running);
    if (!strcmp(c, "battery")) {
        int rc = on_off(a1, &on);
        if (!rc)
            s->power = on;
        return rc;
    }
    if (!strcmp(c, "fault")) {
        int bit = a1 ? atoi(a1) : -1;
        if (bit < 0 || bit >= 16 || on_off(a2, &on))
            return CM_ERR_INVALID;
        s->faults = (uint16_t)(on ? s->faults | 1u << bit : s->faults & ~(1u << bit));
        return CM_OK;
    }
    return CM_ERR_NOTFOUND;
}

sim_station_t *sim_station_start(const sim_station_opts_t *o, char *err, size_t errlen)
{
    sim_station_t *s = calloc(1, sizeof *s);
    if (!s) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (o)
        s->o = *o;
    else
        sim_station_opts_default(&s->o);
    if (s->o.capacity < 16)
        s->o.capacity = 16;
    if (s->o.record_ms < 100)
        s->o.record_ms = 100;
    s->ring = calloc((size_t)s->o.capacity, sizeof *s->ring);
    s->next_seq = 1;
    s->total = s->o.total0;
    s->running = true;
    s->rng = s->o.seed ? s->o.seed : 1;
    sim_server_opts_t so;
    sim_server_opts_tcp(&so, s->o.host[0] ? s->o.host : "127.0.0.1", s->o.port);
    s->srv = sim_server_new(&so);
    static const sim_unit_ops_t ops = {.tick = tick, .refresh = refresh, .command = command};
    int rc = s->ring && s->srv ? CM_OK : CM_ERR_NOMEM;
    if (!rc)
        rc = sim_server_add_unit(s->srv, s->o.unit, COL_ST_WINDOW + COL_ST_WINDOW_RECORDS *
                                                                      COL_ST_RECORD_REGS,
                                 &ops, s);
    if (rc)
        cm_fail(err, errlen, rc, "cannot create the station server");
    if (rc || sim_server_start(s->srv, err, errlen)) {
        sim_station_stop(s);
        return NULL;
    }
    return s;
}

int sim_station_port(const sim_station_t *s) { return sim_server_port(s->srv); }

sim_server_t *sim_station_server(sim_station_t *s) { return s->srv; }

void sim_station_status(sim_station_t *s, uint32_t *newest_seq, double *total_t)
{
    sim_server_lock(s->srv);
    *newest_seq = s->next_seq - 1;
    *total_t = s->total;
    sim_server_unlock(s->srv);
}

void sim_station_stop(sim_station_t *s)
{
    if (!s)
        return;
    sim_server_stop(s->srv);
    free(s->ring);
    free(s);
}
