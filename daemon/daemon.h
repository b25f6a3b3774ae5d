/*
 * daemon: coalmond's parts, private to daemon/. The process is one daemon_t
 * and a table of modules (daemon/modules.c), each with up to five steps, run
 * by daemon/coalmond.c in this order:
 *
 *   init    every module in table order: read its configuration, open or
 *           start what needs no HTTP server (the store, collector threads,
 *           the analytics thread). Then the HTTP server is made (d->web).
 *   start   every module in table order: register routes, start timers and
 *           threads that need the server.
 *   serving every module in table order, on the loop's first turn (the
 *           server answers): side threads that call the server (the demo's
 *           weighbridge), slow set-up (the demo's accounts, on a worker).
 *   ... the loop runs until SIGINT/SIGTERM; then web_drain() finishes the
 *           deferred work while every module still exists ...
 *   stop    in reverse order: stop threads and timers.
 *   free    in reverse order, after the server is freed: release the rest.
 *
 * A step may be NULL. init and start return 0 or a cm_err with err filled
 * (the daemon logs it once, naming the module, stops what started and
 * exits 1). Threads: every step runs on the main thread, which runs the loop.
 * Ownership: the daemon_t owns every module's state and configuration, so
 * nothing a route points to is static or outlives the server.
 */
#ifndef COALMON_DAEMON_H
#define COALMON_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>

#include "alarms/alarms.h"
#include "analytics/analytics.h"
#include "collector/collector.h"
#include "intake/intake.h"
#include "sim/weighbridge.h"
#include "uplink/uplink.h"
#include "web/web.h"

#define DAEMON_VERSION "0.1.0"

typedef struct daemon_cfg {
    char role[16];
    char data_dir[512];
    char mine_name[128]; /* report titles (RPT-1, RPT-2 workbooks) */
    web_opts_t web;
    store_opts_t store;
    log_level level;
    bool syslog;
} daemon_cfg_t;

typedef struct daemon {
    const cfg_t *cfg;
    const daemon_cfg_t *dc;
    bool demo;
    bool mine; /* role "mine": collector, demo weighbridge */
    /* Set once the loop has returned, before web_drain(): long deferred work
     * (the demo's accounts) ends early instead of holding up the stop. */
    atomic_bool leaving;
    store_t *store;
    web_t *web;
    web_ctx_t ctx; /* what the routes share: store, the loop's reader, the server */
    /* module state, each module's own */
    col_t *col;
    alarm_engine_t *alarms;
    web_alarms_t *web_alarms;
    ana_conf_t ana_conf;
    ana_runner_t *ana_run;
    upl_cfg_t upl_cfg;
    upl_sender_t *upl;
    intake_conf_t intake_conf;
    web_intake_t *web_intake;
    web_auth_opts_t auth_opts;
    struct housekeeping *hk;
    struct demo_side *demo_side;
} daemon_t;

typedef struct daemon_module {
    const char *name;
    int (*init)(daemon_t *d, char *err, size_t errlen);
    int (*start)(daemon_t *d, char *err, size_t errlen);
    void (*serving)(daemon_t *d);
    void (*stop)(daemon_t *d);
    void (*free)(daemon_t *d);
} daemon_module_t;

/* The table, in start order (daemon/modules.c); NULL ends it. */
extern const daemon_module_t *const daemon_modules[];

/* daemon/demo.c: the demo's module (accounts, capacity, weighbridge), last in the table. */
extern const daemon_module_t daemon_demo_module;

/* daemon/demo.c: simulated devices and the configuration for --demo. */
typedef struct demo_devices demo_devices_t;
/* Start the simulators and write their configuration to config_path. NULL on
 * failure with err filled (what started is stopped). */
demo_devices_t *demo_devices_start(const char *data_dir, char *config_path, size_t len, char *err,
                                   size_t errlen);
/* Stop the simulators and remove the temporary folder. NULL is accepted. */
void demo_devices_stop(demo_devices_t *d);

#endif
