/* coalmond: the daemon. Reads its configuration and runs the module table
 * (daemon/daemon.h, daemon/modules.c) around the HTTP server's loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/daemon.h"
typedef struct opts {
    const char *config;
    const char *data_dir;
    bool demo;
    int port; /* -1: from configuration */
    const char *log_level;
} opts_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: coalmond [-c CONFIG] [--port N] [--data DIR] [--log-level L]\n"
            "       coalmond --demo [--port N] [--data DIR]\n"
            "  -c CONFIG     configuration file (default /etc/coalmon/coalmond.json)\n"
            "  --demo        run the mine role against simulated devices on loopback, in a\n"
            "                temporary data folder (kept when --data is given)\n"
            "  --port N      HTTP port (overrides http.port; 0 picks a free one)\n"
            "  --data DIR    data folder (overrides data_dir)\n"
            "  --log-level L error, warn, info or debug\n");
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){.config = "/etc/coalmon/coalmond.json", .port = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && has_val)
            o->config = argv[++i];
        else if (!strcmp(a, "--demo"))
            o->demo = true;
        else if (!strcmp(a, "--data") && has_val)
            o->data_dir = argv[++i];
        else if (!strcmp(a, "--log-level") && has_val)
            o->log_level = argv[++i];
        else if (!strcmp(a, "--port") && has_val) {
            char *end;
            long p = strtol(argv[++i], &end, 10);
            if (*end || p < 0 || p > 65535) {
                fprintf(stderr, "coalmond: --port must be 0..65535\n");
                return 2;
            }
            o->port = (int)p;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else {
            usage(stderr);
            fprintf(stderr, "coalmond: unknown or incomplete option %s\n", a);
            return 2;
        }
    }
    return 0;
}

/* ---- the daemon ---------------------------------------------------------- */

static int read_store_opts(const cfg_sec_t *root, store_opts_t *o, char *err, size_t errlen)
{
    cfg_sec_t s;
    int v[4];
    store_opts_default(o);
    int rc = cfg_section(root, "store", &s, err, errlen);
    if (!rc)
        rc = cfg_get_int(&s, "batch_delay_ms", false, o->batch_delay_ms, 0, 1000, &v[0], err, errlen);
    if (!rc)
        rc = cfg_get_int(&s, "batch_max_jobs", false, o->batch_max_jobs, 1, 100000, &v[1], err, errlen);
    if (!rc)
        rc = cfg_get_int(&s, "raw_retention_days", false, o->raw_retention_days, 1, 3660, &v[2], err,
                         errlen);
    if (!rc)
        rc = cfg_get_int(&s, "agg_retention_days", false, o->agg_retention_days, 1, 36600, &v[3],
                         err, errlen);
    if (rc)
        return rc;
    o->batch_delay_ms = v[0];
    o->batch_max_jobs = v[1];
    o->raw_retention_days = v[2];
    o->agg_retention_days = v[3];
    return CM_OK;
}

static int read_daemon_cfg(const cfg_t *cfg, const opts_t *o, daemon_cfg_t *dc, char *err,
                           size_t errlen)
{
    cfg_sec_t root = cfg_root(cfg), http, log;
    char level[16];
    int port;
    web_opts_default(&dc->web);
    int rc = cfg_get_string(&root, "role", false, "mine", dc->role, sizeof dc->role, err, errlen);
    if (!rc && strcmp(dc->role, "mine") && strcmp(dc->role, "platform"))
        rc = cfg_error(&root, "role", err, errlen, "expected \"mine\" or \"platform\"");
    if (!rc)
        rc = cfg_get_string(&root, "data_dir", false, "/var/lib/coalmon", dc->data_dir,
                            sizeof dc->data_dir, err, errlen);
    if (!rc)
        rc = cfg_get_string(&root, "mine_name", false, "", dc->mine_name, sizeof dc->mine_name,
                            err, errlen);
    if (!rc)
        rc = cfg_section(&root, "http", &http, err, errlen);
    if (!rc)
        rc = cfg_get_string(&http, "host", false, "127.0.0.1", dc->web.host, sizeof dc->web.host,
                            err, errlen);
    if (!rc)
        rc = cfg_get_int(&http, "port", false, 8080, 0, 65535, &port, err, errlen);
    if (!rc)
        rc = cfg_section(&root, "log", &log, err, errlen);
    if (!rc)
        rc = cfg_get_string(&log, "level", false, "info", level, sizeof level, err, errlen);
    if (!rc && log_level_parse(level, &dc->level))
        rc = cfg_error(&log, "level", err, errlen, "expected error, warn, info or debug");
    if (!rc)
        rc = cfg_get_bool(&log, "syslog", false, false, &dc->syslog, err, errlen);
    if (!rc)
        rc = read_store_opts(&root, &dc->store, err, errlen);
    if (!rc) {
        tm_shift_plan_t plan; /* validated here so a bad plan stops the start */
        rc = tm_shift_plan_from_cfg(&root, "shifts", &plan, err, errlen);
    }
    if (rc)
        return rc;
    dc->web.port = o->port >= 0 ? o->port : port;
    if (o->data_dir)
        snprintf(dc->data_dir, sizeof dc->data_dir, "%s", o->data_dir);
    if (o->log_level && log_level_parse(o->log_level, &dc->level))
        return cm_fail(err, errlen, CM_ERR_INVALID, "--log-level: expected error, warn, info or debug");
    return CM_OK;
}

/* ---- running the module table ----------------------------------------------- */

/* The stop (then free) steps of the first n modules, in reverse order. */
static void stop_modules(daemon_t *d, int n)
{
    for (int i = n - 1; i >= 0; i--)
        if (daemon_modules[i]->stop)
            daemon_modules[i]->stop(d);
}

static void free_modules(daemon_t *d, int n)
{
    for (int i = n - 1; i >= 0; i--)
        if (daemon_modules[i]->free)
            daemon_modules[i]->free(d);
}

/* On the loop's first turn: the server answers now. */
static void on_serving(evutil_socket_t fd, short what, void *arg)
{
    daemon_t *d = arg;
    for (int i = 0; daemon_modules[i]; i++)
        if (daemon_modules[i]->serving)
            daemon_modules[i]->serving(d);
}

static int run(daemon_t *d)
{
    int n = 0, inited = 0, started = 0, status = 1;
    char err[512];
    while (daemon_modules[n])
        n++;
    for (; inited < n; inited++) {
        const daemon_module_t *m = daemon_modules[inited];
        if (m->init && m->init(d, err, sizeof err)) {
            log_error("daemon", "%s: %s", m->name, err);
            goto out;
        }
    }
    if (!(d->web = web_new(&d->dc->web, err, sizeof err))) {
        log_error("daemon", "http: %s", err);
        goto out;
    }
    d->ctx.web = d->web;
    for (; started < n; started++) {
        const daemon_module_t *m = daemon_modules[started];
        if (m->start && m->start(d, err, sizeof err)) {
            log_error("daemon", "%s: %s", m->name, err);
            goto out;
        }
    }
    struct timeval now = {0, 0};
    if (event_base_once(web_base(d->web), -1, EV_TIMEOUT, on_serving, d, &now)) {
        log_error("daemon", "http: cannot schedule the start of the side threads");
        goto out;
    }
    log_info("daemon", "coalmond %s, role %s, data %s", DAEMON_VERSION, d->dc->role,
             d->dc->data_dir);
    printf("coalmond: %sserving http://%s:%d/\n", d->demo ? "demo " : "", d->dc->web.host,
           web_port(d->web));
    fflush(stdout);
    status = web_run(d->web, true) == CM_OK ? 0 : 1;
    log_info("daemon", "stopping");
out:
    atomic_store(&d->leaving, true);
    web_drain(d->web); /* deferred work ends while every module still exists */
    stop_modules(d, inited);
    web_free(d->web);
    d->web = NULL;
    free_modules(d, inited);
    return status;
}

int main(int argc, char **argv)
{
    opts_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    log_setup("coalmond", LOG_LVL_INFO, false);
    char err[512], demo_config[600];
    demo_devices_t *demo = NULL;
    if (o.demo) {
        if (!(demo = demo_devices_start(o.data_dir, demo_config, sizeof demo_config, err,
                                        sizeof err))) {
            fprintf(stderr, "coalmond: demo: %s\n", err);
            return 1;
        }
        o.config = demo_config;
    }
    cfg_t *cfg = cfg_load(o.config, err, sizeof err);
    daemon_cfg_t dc;
    if (!cfg || read_daemon_cfg(cfg, &o, &dc, err, sizeof err)) {
        fprintf(stderr, "coalmond: %s\n", err);
        cfg_free(cfg);
        demo_devices_stop(demo);
        return 1;
    }
    log_setup("coalmond", dc.level, dc.syslog);
    daemon_t *d = calloc(1, sizeof *d); /* large (configurations): not on the stack */
    if (!d) {
        fprintf(stderr, "coalmond: out of memory\n");
        rc = 1;
    } else {
        *d = (daemon_t){.cfg = cfg, .dc = &dc, .demo = o.demo, .mine = !strcmp(dc.role, "mine")};
        rc = run(d);
        free(d);
    }
    cfg_free(cfg);
    demo_devices_stop(demo);
    return rc;
}
