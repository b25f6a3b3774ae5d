/*
 * sim: device simulators for demo, tests and commissioning. A simulated
 * meter is a Modbus TCP server (libmodbus) on its own thread that serves the
 * registers of a meter map (conf/meters/<model>.json) with plausible,
 * changing three-phase values and an energy counter that only grows.
 *
 * Ownership: sim_meter_t owns its thread, socket and mapping; sim_meter_stop()
 * joins and frees. The map is copied in.
 */
#ifndef COALMON_SIM_H
#define COALMON_SIM_H

#include <stdint.h>

#include "collector/collector.h"

typedef struct sim_meter sim_meter_t;

typedef struct sim_meter_opts {
    char host[64];     /* default 127.0.0.1 */
    int port;          /* 0 picks a free port */
    int unit;          /* answer only this unit id; 0 answers any (default) */
    double load;       /* mean load as a share of rated current 0..1 (default 0.6) */
    double rated_a;    /* rated current per phase, A (default 200) */
    double energy0;    /* starting imported energy, kWh (default 123456.7) */
    uint32_t seed;
} sim_meter_opts_t;

void sim_meter_opts_default(sim_meter_opts_t *o);
/* Listen and serve map on a new thread. NULL with err filled on failure. */
sim_meter_t *sim_meter_start(const col_map_t *map, const sim_meter_opts_t *o, char *err,
                             size_t errlen);
int sim_meter_port(const sim_meter_t *m);
/* Current simulated value of a quantity (e.g. "energy_import"), for tests. */
double sim_meter_value(sim_meter_t *m, const char *quantity);
void sim_meter_stop(sim_meter_t *m);

#endif
