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

#define MAX_UNITS 32

/* One simulated meter: its electrical state. */
typedef struct meter_state {
    const col_map_t *map;
    const sim_meter_opts_t *o;
    double energy_kwh, energy_kvarh, rate_kwh[4], last_t;
    uint32_t rng;
    bool frozen;
    double q[32]; /* last computed quantities, see quantity_index */
} meter_state_t;

struct sim_meter {
    col_map_t map;
    sim_meter_opts_t o;
    sim_server_t *srv;
    meter_state_t units[MAX_UNITS];
    int nunits;
};

enum { Q_UA, Q_UB, Q_UC, Q_UAB, Q_UBC, Q_UCA, Q_IA, Q_IB, Q_IC, Q_P, Q_PA, Q_PB, Q_PC, Q_Q, Q_PF,
       Q_FREQ, Q_EIMP, Q_EEXP, Q_EQ, Q_THDU, Q_THDI, Q_THDUA, Q_THDUB, Q_THDUC, Q_THDIA, Q_THDIB,
       Q_THDIC, Q_ESHARP, Q_EPEAK, Q_EFLAT, Q_EVALLEY, Q_ETOTAL, Q_CT, Q_PT, Q_COUNT };

static const char *const quantity_names[Q_COUNT] = {
    "voltage_a", "voltage_b", "voltage_c", "voltage_ab", "voltage_bc", "voltage_ca", "current_a",
    "current_b", "current_c", "active_power", "active_power_a", "active_power_b",
    "active_power_c", "reactive_power", "power_factor", "frequency", "energy_import",
    "energy_export", "energy_reactive", "thd_voltage", "thd_current", "thd_voltage_a",
    "thd_voltage_b", "thd_voltage_c", "thd_current_a", "thd_current_b", "thd_current_c",
    "energy_import_sharp", "energy_import_peak", "energy_import_flat", "energy_import_valley",
    "energy_total", "ct_ratio", "pt_ratio"};

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
    o->ct = o->pt = 1;
    o->seed = 1;
}

static double noise(meter_state_t *m, double amplitude)
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
/* Tariff rate of a moment (a common Chinese schedule, Beijing time):
 * 0 sharp 19-21, 1 peak 8-11 and 18-23, 2 flat, 3 valley 23-7. */
static int tariff_rate(int64_t epoch_s)
{
    int h = (int)(((epoch_s + TM_BEIJING_OFFSET_S) % 86400) / 3600);
    if (h >= 19 && h < 21)
        return 0;
    if ((h >= 8 && h < 11) || (h >= 18 && h < 23))
        return 1;
    if (h >= 23 || h < 7)
        return 3;
    return 2;
}

/* Phase currents and power factor that draw kw in total (balanced, with jitter). */
static void outside_load(meter_state_t *m, double kw)
{
    double *q = m->q;
    q[Q_PF] = 0.95 + noise(m, 0.004);
    double ia = kw > 0 ? kw * 1000 / (3 * q[Q_PF]) : 0;
    q[Q_IA] = ia / q[Q_UA] * (1 + noise(m, 0.005));
    q[Q_IB] = ia / q[Q_UB] * (1 + noise(m, 0.005));
    q[Q_IC] = ia / q[Q_UC] * (1 + noise(m, 0.005));
}

static void update_state(meter_state_t *m)
{
    if (m->frozen && m->last_t > 0)
        return;
    double t = (double)tm_now_ms() / 1000.0;
    double dt = m->last_t > 0 ? t - m->last_t : 0;
    m->last_t = t;
    /* A conveyor's load swings over minutes as coal arrives in waves. */
    double load = m->o->load * (1 + 0.25 * sin(t / 90.0) + 0.1 * sin(t / 13.0)) + noise(m, 0.02);
    if (load < 0.05)
        load = 0.05;
    double *q = m->q;
    q[Q_UA] = 230 + noise(m, 1.5);
    q[Q_UB] = 229 + noise(m, 1.5);
    q[Q_UC] = 231 + noise(m, 1.5);
    q[Q_UAB] = (q[Q_UA] + q[Q_UB]) / 2 * sqrt(3);
    q[Q_UBC] = (q[Q_UB] + q[Q_UC]) / 2 * sqrt(3);
    q[Q_UCA] = (q[Q_UC] + q[Q_UA]) / 2 * sqrt(3);
    q[Q_IA] = m->o->rated_a * load * (1 + noise(m, 0.02));
    q[Q_IB] = m->o->rated_a * load * (1 + noise(m, 0.02));
    q[Q_IC] = m->o->rated_a * load * (1 + noise(m, 0.02));
    /* Mines compensate reactive power to stay above the 0.90 tariff threshold. */
    q[Q_PF] = 0.925 + 0.03 * load + noise(m, 0.004);
    if (m->o->power) /* an outside load model: currents that draw its power */
        outside_load(m, m->o->power(m->o->power_arg, (int64_t)(t * 1000)));
    q[Q_PA] = q[Q_UA] * q[Q_IA] * q[Q_PF] / 1000;
    q[Q_PB] = q[Q_UB] * q[Q_IB] * q[Q_PF] / 1000;
    q[Q_PC] = q[Q_UC] * q[Q_IC] * q[Q_PF] / 1000;
    q[Q_P] = q[Q_PA] + q[Q_PB] + q[Q_PC];
    q[Q_Q] = q[Q_P] * tan(acos(q[Q_PF]));
    q[Q_FREQ] = 50 + noise(m, 0.03);
    q[Q_THDU] = 2.1 + noise(m, 0.2);
    q[Q_THDI] = 8.5 + noise(m, 0.8);
    q[Q_THDUA] = q[Q_THDUB] = q[Q_THDUC] = q[Q_THDU];
    q[Q_THDIA] = q[Q_THDIB] = q[Q_THDIC] = q[Q_THDI];
    if (dt > 0 && dt < 3600) {
        m->energy_kwh += q[Q_P] * dt / 3600;
        m->energy_kvarh += q[Q_Q] * dt / 3600;
        m->rate_kwh[tariff_rate((int64_t)t)] += q[Q_P] * dt / 3600;
    }
    for (int r = 0; r < 4; r++)
        q[Q_ESHARP + r] = m->rate_kwh[r];
    q[Q_EIMP] = q[Q_ETOTAL] = m->energy_kwh;
    q[Q_EEXP] = 0;
    q[Q_EQ] = m->energy_kvarh;
}

static void meter_refresh(void *state, modbus_mapping_t *mp, int64_t now_ms)
{
    meter_state_t *m = state;
    update_state(m);
    if (!mp)
        return;
    for (int i = 0; i < m->map->count; i++) {
        const col_point_t *p = &m->map->points[i];
        int qi = quantity_index(p->quantity);
        if (qi < 0)
            continue;
        /* Behind CT/PT the meter sees the secondary side; its ratio
         * registers tell the ratios. The quantities are primary. */
        double v = qi == Q_CT   ? m->o->ct
                   : qi == Q_PT ? m->o->pt
                                : m->q[qi] / col_ratio_factor(p, m->o->ct, m->o->pt, 1);
        double raw = p->scale != 0 ? (v - p->offset) / p->scale : 0;
        /* A counter starts again from 0 past its range, as the meter's does. */
        if (p->counter && p->wrap > 0)
            raw = fmod(p->type < COL_F32 ? nearbyint(raw) : raw, p->wrap / p->scale);
        /* Any other register saturates rather than wrapping round. */
        static const double lo[] = {0, -32768, 0, -2147483648.0, -1e38, -1e300};
        static const double hi[] = {65535, 32767, 4294967295.0, 2147483647.0, 1e38, 1e300};
        raw = raw < lo[p->type] ? lo[p->type] : raw > hi[p->type] ? hi[p->type] : raw;
        uint16_t *bank = p->fn == COL_FN_INPUT ? mp->tab_input_registers : mp->tab_registers;
        col_encode(raw, p->type, p->order, bank + p->address);
    }
}

static int meter_command(void *state, int argc, char **argv, int64_t now_ms)
{
    meter_state_t *m = state;
    if (!strcmp(argv[0], "reset")) {
        /* A replaced or reset meter starts from zero. */
        m->energy_kwh = m->energy_kvarh = 0;
        memset(m->rate_kwh, 0, sizeof m->rate_kwh);
        m->q[Q_EIMP] = m->q[Q_EQ] = 0;
        return CM_OK;
    }
    if (!strcmp(argv[0], "jump") && argc == 2) {
        m->energy_kwh += atof(argv[1]);
        return CM_OK;
    }
    if (!strcmp(argv[0], "freeze") && argc == 2) {
        m->frozen = !strcmp(argv[1], "on");
        return CM_OK;
    }
    return !strcmp(argv[0], "jump") || !strcmp(argv[0], "freeze") ? CM_ERR_INVALID
                                                                  : CM_ERR_NOTFOUND;
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
    sim_server_opts_t so;
    if (m->o.rtu[0])
        sim_server_opts_rtu(&so, m->o.rtu, m->o.baud, m->o.parity);
    else
        sim_server_opts_tcp(&so, m->o.host, m->o.port);
    so.line_baud = m->o.line_baud;
    m->srv = sim_server_new(&so);
    m->nunits = m->o.units > 0 ? (m->o.units < MAX_UNITS ? m->o.units : MAX_UNITS) : 1;
    static const sim_unit_ops_t ops = {.refresh = meter_refresh, .command = meter_command};
    int rc = m->srv ? CM_OK : CM_ERR_NOMEM;
    for (int i = 0; !rc && i < m->nunits; i++) {
        meter_state_t *u = &m->units[i];
        u->map = &m->map;
        u->o = &m->o;
        u->energy_kwh = m->o.energy0 + 1000.0 * i;
        u->energy_kvarh = u->energy_kwh * 0.4;
        for (int r = 0; r < 4; r++)
            u->rate_kwh[r] = u->energy_kwh / 4;
        u->rng = (m->o.seed ? m->o.seed : 1) + (uint32_t)i * 7919;
        meter_refresh(u, NULL, 0); /* computes q[]; writes nothing without a mapping */
        u->frozen = m->o.frozen;
        rc = sim_server_add_unit(m->srv, m->o.units > 0 ? i + 1 : m->o.unit,
                                 highest_register(map), &ops, u);
    }
    if (rc) {
        cm_fail(err, errlen, rc, "cannot create the Modbus server");
        sim_meter_stop(m);
        return NULL;
    }
    if (sim_server_start(m->srv, err, errlen)) {
        sim_meter_stop(m);
        return NULL;
    }
    return m;
}

int sim_meter_port(const sim_meter_t *m) { return sim_server_port(m->srv); }

sim_server_t *sim_meter_server(sim_meter_t *m) { return m->srv; }

double sim_meter_value(sim_meter_t *m, const char *quantity)
{
    int qi = quantity_index(quantity);
    sim_server_lock(m->srv);
    double v = qi >= 0 ? m->units[0].q[qi] : NAN;
    sim_server_unlock(m->srv);
    return v;
}

void sim_meter_stop(sim_meter_t *m)
{
    if (!m)
        return;
    sim_server_stop(m->srv);
    free(m);
}
