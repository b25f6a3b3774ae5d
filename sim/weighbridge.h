/*
 * sim weighbridge: a mine's weighbridge system and exit cameras, posting
 * realistic tickets (trucks of 30-50 t net, more in the day shifts than at
 * night) and exit captures to coalmond's intake API, with mistakes that can
 * be switched on: OCR errors in the captured plate, a truck leaving without
 * a ticket, a ticket whose net does not add up (rejected, then re-sent
 * right), duplicates, corrections, empty vehicles.
 *
 * Threads: sim_wb_run() blocks on the caller's thread; sim_wb_start() runs it
 * on its own thread until sim_wb_stop() (which joins and frees).
 * Ownership: options are copied; stats are the caller's.
 */
#ifndef COALMON_SIM_WEIGHBRIDGE_H
#define COALMON_SIM_WEIGHBRIDGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

typedef struct sim_wb_opts {
    char host[64];          /* coalmond, default 127.0.0.1 */
    int port;               /* default 8080 */
    char key[128];          /* intake API key */
    double trucks_per_hour; /* in a day shift (default 30); the night shift has a third */
    double ocr, escape, badnet, dup, correct, empty; /* chance per truck, 0..1 */
    int count;              /* stop after this many trucks; 0 = until stopped */
    double backfill_hours;  /* first post trucks of the past hours, quickly */
    double speed;           /* live mode: time runs this many times faster (default 1) */
    char point[32];         /* exit point code (default E1) */
    char bridge[32];        /* weighbridge id (default WB1) */
    uint32_t seed;
    bool verbose;           /* a line per post on stdout */
    int retry_s;            /* until a first post gets through, failed ones are retried with
                             * back-off (0.1 s doubling to 5 s) this long; 0 = until stopped
                             * (default 10) */
    const atomic_int *stop; /* set by sim_wb_run: a post in flight gives up when it turns 1 */
    /* Non-NULL: trucks haul what the belt produced (the demo mine) instead of
     * arriving at trucks_per_hour — a loaded truck leaves once output(from,
     * to) since the last one fills it, so sales follow output through the day. */
    double (*output_t)(void *arg, int64_t from, int64_t to);
    void *output_arg;
} sim_wb_opts_t;

typedef struct sim_wb_stats {
    int trucks, tickets, rejected, duplicates, corrections, captures, escapes, ocr, empty,
        errors;
} sim_wb_stats_t;

void sim_wb_opts_default(sim_wb_opts_t *o);
/* Parse "ocr,escape,badnet,dup,correct,empty[=p]" into the chances (default p 0.1). */
int sim_wb_parse_mistakes(sim_wb_opts_t *o, const char *list, char *err, size_t errlen);
/* Run until count trucks or *stop; fills stats. CM_ERR_IO when coalmond stays
 * unreachable for o->retry_s before a first post gets through. */
int sim_wb_run(const sim_wb_opts_t *o, sim_wb_stats_t *stats, const atomic_int *stop, char *err,
               size_t errlen);

typedef struct sim_wb sim_wb_t;
sim_wb_t *sim_wb_start(const sim_wb_opts_t *o, char *err, size_t errlen);
void sim_wb_get_stats(sim_wb_t *w, sim_wb_stats_t *out);
void sim_wb_stop(sim_wb_t *w);

/* For the demo: exit points E1/E2, two contracts and an API key for source
 * "demo-weighbridge" (a fresh one each start) into key. */
int sim_wb_demo_setup(store_t *st, char key[65], char *err, size_t errlen);

/* `coalmon-sim weighbridge ...` (argv[0] is "weighbridge"); exit status. */
int sim_wb_main(int argc, char **argv);
void sim_wb_usage(FILE *out);

#endif
