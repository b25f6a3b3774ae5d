/*
 * sim: device simulators for demo, tests and commissioning.
 *
 * A sim_server_t is a Modbus server, TCP or RTU (on a serial device such as
 * one end of a pseudo-terminal pair), carrying one or more units and
 * switchable faults. On it sit simulated meters (any map in conf/meters:
 * plausible three-phase values, energy counters that only grow) and the
 * belt-scale station (docs/station-map.md, with its record buffer).
 *
 * Threads: each server runs one serving thread (and one control-socket
 * thread when asked); unit callbacks run on it under the server's lock.
 * sim_server_command() may be called from any thread.
 * Ownership: the server owns its mappings; unit state belongs to whoever
 * added it and must outlive the server. sim_meter_t and sim_station_t own
 * their server and state; *_stop() joins and frees. Maps are copied in.
 */
#ifndef COALMON_SIM_H
#define COALMON_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include <modbus.h>

#include "collector/collector.h"

/* ---- the server --------------------------------------------------------- */

typedef struct sim_server sim_server_t;

typedef struct sim_server_opts {
    col_transport transport;
    char host[64]; /* TCP: default 127.0.0.1 */
    int port;      /* TCP: 0 picks a free port */
    char device[128]; /* RTU: serial device */
    int baud;
    char parity;
    int line_baud; /* TCP: >0 answers as late as an RS485 line at this baud behind a gateway would */
} sim_server_opts_t;

void sim_server_opts_tcp(sim_server_opts_t *o, const char *host, int port);
void sim_server_opts_rtu(sim_server_opts_t *o, const char *device, int baud, char parity);

/* Callbacks of a unit; all optional, all called with the server's lock held. */
typedef struct sim_unit_ops {
    void (*tick)(void *state, int64_t now_ms);                          /* ~20 times a second */
    void (*refresh)(void *state, modbus_mapping_t *mp, int64_t now_ms); /* before a reply */
    void (*written)(void *state, modbus_mapping_t *mp, int64_t now_ms); /* after a reply */
    /* A fault command the server does not know; CM_ERR_NOTFOUND if not ours. */
    int (*command)(void *state, int argc, char **argv, int64_t now_ms);
} sim_unit_ops_t;

sim_server_t *sim_server_new(const sim_server_opts_t *o);
/* unit 0 answers every unit id. nregs holding = input registers. Before start. */
int sim_server_add_unit(sim_server_t *s, int unit, int nregs, const sim_unit_ops_t *ops,
                        void *state);
int sim_server_start(sim_server_t *s, char *err, size_t errlen);
int sim_server_port(const sim_server_t *s);
uint64_t sim_server_requests(sim_server_t *s);
/*
 * Faults and events, one command per line ("@U " in front limits it to unit U):
 *   silent S | exception S | garbage S   no answer / exception 04 / junk bytes, S seconds
 *   drop                                 close every client connection now
 *   outage S                             link down S seconds (stations keep recording)
 *   clear                                end every fault above
 * and per unit kind: meters "reset", "jump KWH", "freeze on|off"; the station
 * "reset", "stuck flow|speed|vib1|vib2 on|off", "force NAME VALUE", "zero_speed on|off",
 * "fault BIT on|off", "battery on|off", "run on|off".
 * Writes "ok" or the error into reply.
 */
int sim_server_command(sim_server_t *s, const char *line, char *reply, size_t len);
/* Serve the same commands on a TCP line socket (port 0 picks one). */
int sim_server_control(sim_server_t *s, const char *host, int port, char *err, size_t errlen);
int sim_server_control_port(const sim_server_t *s);
void sim_server_stop(sim_server_t *s);
/* Hold the server's lock to read unit state consistently from another thread. */
void sim_server_lock(sim_server_t *s);
void sim_server_unlock(sim_server_t *s);

/* ---- meters ---------------------------------------------------------------- */

typedef struct sim_meter sim_meter_t;

/* An outside load model (the demo mine): active power in kW at t_ms. Called
 * on the server's thread with its lock held; must be pure or thread-safe. */
typedef double (*sim_power_fn)(void *arg, int64_t t_ms);

typedef struct sim_meter_opts {
    char host[64];     /* default 127.0.0.1 */
    int port;          /* 0 picks a free port */
    int unit;          /* answer only this unit id; 0 answers any (default) */
    int units;         /* >0: serve unit ids 1..units, each its own meter (a bus) */
    char rtu[128];     /* non-empty: serve RTU on this serial device instead of TCP */
    int baud;          /* RTU, default 9600 */
    char parity;       /* RTU, default 'N' */
    double load;       /* mean load as a share of rated current 0..1 (default 0.6) */
    double rated_a;    /* rated current per phase, A (default 200) */
    double energy0;    /* starting imported energy, kWh (default 123456.7) */
    bool frozen;       /* values do not change (interoperability tests) */
    int line_baud;     /* TCP: emulate the RS485 line time behind a gateway (0: none) */
    double ct, pt;     /* behind instrument transformers: serve secondary values (default 1) */
    uint32_t seed;
    sim_power_fn power; /* non-NULL: the active power follows it (load is ignored) */
    void *power_arg;
} sim_meter_opts_t;

void sim_meter_opts_default(sim_meter_opts_t *o);
/* Listen and serve map on a new thread. NULL with err filled on failure. */
sim_meter_t *sim_meter_start(const col_map_t *map, const sim_meter_opts_t *o, char *err,
                             size_t errlen);
int sim_meter_port(const sim_meter_t *m);
sim_server_t *sim_meter_server(sim_meter_t *m);
/* Current simulated value of a quantity (e.g. "energy_import") of the first
 * unit, for tests. */
double sim_meter_value(sim_meter_t *m, const char *quantity);
void sim_meter_stop(sim_meter_t *m);

/* ---- the belt-scale station -------------------------------------------------- */

typedef struct sim_station sim_station_t;

/* An outside belt (the demo mine): whether it runs, the flow the scale reads
 * (t/h) and the belt speed (m/s) at t_ms. Same threading as sim_power_fn. */
typedef void (*sim_belt_fn)(void *arg, int64_t t_ms, bool *running, double *flow_tph,
                            double *speed_ms);

typedef struct sim_station_opts {
    char host[64];
    int port;
    int unit;           /* 0 answers any */
    char serial[17];    /* default "BS1-SIM-0001" */
    int record_ms;      /* one buffer record per interval (default 1000) */
    int capacity;       /* records kept (default 100000) */
    double flow_tph;    /* mean flow while running (default 600) */
    double total0;      /* starting cumulative tonnage, t (default 50000) */
    uint32_t seed;
    sim_belt_fn belt;   /* non-NULL: the belt follows it ("run on|off" is then ignored) */
    void *belt_arg;
} sim_station_opts_t;

void sim_station_opts_default(sim_station_opts_t *o);
sim_station_t *sim_station_start(const sim_station_opts_t *o, char *err, size_t errlen);
int sim_station_port(const sim_station_t *st);
sim_server_t *sim_station_server(sim_station_t *st);
/* Newest record sequence number and the station's cumulative tonnage. */
void sim_station_status(sim_station_t *st, uint32_t *newest_seq, double *total_t);
void sim_station_stop(sim_station_t *st);

/* ---- the demo mine (sim/mine.c) ------------------------------------------------
 * Callbacks driving the live simulators from analytics' realistic mine: arg
 * is a const ana_sim_opts_t * that outlives the simulators (ana_demo_sim_opts),
 * so the live devices show the physics the demo's history was generated from. */
double sim_mine_transport_kw(void *opts, int64_t t_ms);   /* main-transport gate */
double sim_mine_underground_kw(void *opts, int64_t t_ms); /* the gates below the total but transport */
double sim_mine_total_kw(void *opts, int64_t t_ms);       /* the mine's total gate */
void sim_mine_belt(void *opts, int64_t t_ms, bool *running, double *flow_tph, double *speed_ms);
/* Coal the belt carried in [from, to) (epoch s), t: what trucks can haul away. */
double sim_mine_output_t(void *opts, int64_t from, int64_t to);

#endif
