/* coalmond: the daemon. Wires core, collector and web together for a role. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "alarms/alarms.h"
#include "analytics/analytics.h"
#include "collector/collector.h"
#include "intake/intake.h"
#include "sim/sim.h"
#include "sim/weighbridge.h"
#include "uplink/uplink.h"
#include "web/web.h"

#define VERSION "0.1.0"

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

/* ---- demo ---------------------------------------------------------------- */

typedef struct demo {
    char dir[512];
    bool remove_dir;
    sim_meter_t *meters[3];
    sim_station_t *station; /* issue #4: the belt-scale station */
    ana_sim_opts_t mine;    /* issue #13: the physics behind the meters, station and history */
} demo_t;

static int write_demo_config(const demo_t *d, const char *path, char *err, size_t errlen)
{
    static const char *const names[] = {"gate-total", "gate-underground", "gate-transport"};
    static const char *const types[] = {"mine_total", "underground", "transport"};
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "role", "mine");
    cJSON_AddStringToObject(root, "data_dir", d->dir);
    cJSON *http = cJSON_AddObjectToObject(root, "http");
    cJSON_AddStringToObject(http, "host", "127.0.0.1");
    cJSON_AddNumberToObject(http, "port", 8080);
    cJSON *col = cJSON_AddObjectToObject(root, "collector");
    cJSON_AddStringToObject(col, "meter_maps", COALMON_CONF_DIR "/meters");
    cJSON *devs = cJSON_AddArrayToObject(col, "devices");
    for (int i = 0; i < 3; i++) {
        cJSON *dev = cJSON_CreateObject();
        char serial[32];
        snprintf(serial, sizeof serial, "DTSU666-DEMO-%04d", i + 1);
        cJSON_AddStringToObject(dev, "name", names[i]);
        cJSON_AddStringToObject(dev, "model", "chint-dtsu666");
        cJSON_AddStringToObject(dev, "serial", serial);
        cJSON_AddStringToObject(dev, "gate_type", types[i]);
        cJSON_AddStringToObject(dev, "host", "127.0.0.1");
        cJSON_AddNumberToObject(dev, "port", sim_meter_port(d->meters[i]));
        cJSON_AddNumberToObject(dev, "unit", 1);
        cJSON_AddNumberToObject(dev, "poll_ms", 1000);
        cJSON_AddItemToArray(devs, dev);
    }
    cJSON *st = cJSON_CreateObject(); /* issue #4: the belt-scale station */
    cJSON_AddStringToObject(st, "name", "station-main-belt");
    cJSON_AddStringToObject(st, "kind", "station");
    cJSON_AddStringToObject(st, "serial", "BS1-DEMO-0001");
    cJSON_AddStringToObject(st, "location", "主井皮带");
    cJSON_AddStringToObject(st, "host", "127.0.0.1");
    cJSON_AddNumberToObject(st, "port", sim_station_port(d->station));
    cJSON_AddNumberToObject(st, "poll_ms", 1000);
    cJSON_AddItemToArray(devs, st);
    int rc = upl_demo_config(root, d->dir, err, errlen); /* issue #5: a platform on ourselves */
    char *text = rc ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    if (rc)
        return rc;
    FILE *f = text ? fopen(path, "w") : NULL;
    if (!f || fputs(text, f) < 0)
        rc = cm_fail(err, errlen, CM_ERR_IO, "%s: %s", path, strerror(errno));
    if (f && fclose(f) != 0)
        rc = cm_fail(err, errlen, CM_ERR_IO, "%s: %s", path, strerror(errno));
    cJSON_free(text);
    return rc;
}

static int demo_start(demo_t *d, const char *data_dir, char *config_path, size_t len, char *err,
                      size_t errlen)
{
    if (data_dir) {
        snprintf(d->dir, sizeof d->dir, "%s", data_dir);
        int rc = cm_mkdir_p(d->dir, err, errlen);
        if (rc)
            return rc;
    } else {
        snprintf(d->dir, sizeof d->dir, "/tmp/coalmon-demo-XXXXXX");
        if (!mkdtemp(d->dir))
            return cm_fail(err, errlen, CM_ERR_IO, "cannot make a temporary folder: %s",
                           strerror(errno));
        d->remove_dir = true;
    }
    col_map_t map;
    int rc = col_map_load_model(COALMON_CONF_DIR "/meters", "chint-dtsu666", &map, err, errlen);
    ana_conf_t ac; /* the demo's configuration has no analytics section: the defaults */
    ana_conf_default(&ac);
    ana_demo_sim_opts(&ac, &d->mine);
    static const sim_power_fn power[] = {sim_mine_total_kw, sim_mine_underground_kw,
                                         sim_mine_transport_kw};
    for (int i = 0; !rc && i < 3; i++) {
        sim_meter_opts_t o;
        sim_meter_opts_default(&o);
        o.power = power[i];
        o.power_arg = &d->mine;
        o.seed = (uint32_t)(i + 7);
        o.energy0 = 100000.0 * (i + 1);
        d->meters[i] = sim_meter_start(&map, &o, err, errlen);
        if (!d->meters[i])
            rc = CM_ERR_IO;
    }
    if (!rc) { /* issue #4: the belt-scale station */
        sim_station_opts_t so;
        sim_station_opts_default(&so);
        so.belt = sim_mine_belt;
        so.belt_arg = &d->mine;
        snprintf(so.serial, sizeof so.serial, "BS1-DEMO-0001");
        if (!(d->station = sim_station_start(&so, err, errlen)))
            rc = CM_ERR_IO;
    }
    snprintf(config_path, len, "%s/coalmond.json", d->dir);
    if (!rc)
        rc = write_demo_config(d, config_path, err, errlen);
    return rc;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void demo_stop(demo_t *d)
{
    for (int i = 0; i < 3; i++)
        sim_meter_stop(d->meters[i]);
    sim_station_stop(d->station);
    if (d->remove_dir && d->dir[0])
        nftw(d->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The demo mine's approved capacity (4 Mt/a from the start of this year), set
 * once, so the dashboard shows month and year use against the limits. */
static int demo_capacity(store_t *store, char *err, size_t errlen)
{
    sqlite3 *db = store_reader_open(store, err, errlen);
    if (!db)
        return CM_ERR_DB;
    double tpa;
    int64_t from;
    bool set = ana_db_capacity(db, tm_now_s(), &tpa, &from, NULL, 0) == CM_OK;
    store_reader_close(db);
    if (set)
        return CM_OK;
    int y, m, d, h, mi, sec;
    tm_epoch_to_bj(tm_now_s(), &y, &m, &d, &h, &mi, &sec);
    return ana_db_capacity_set(store, 4000000, tm_bj_to_epoch(y, 1, 1, 0, 0, 0), "demo", "demo",
                               "demo mine: approved capacity 4 Mt/a", err, errlen);
}

/* ---- the daemon ---------------------------------------------------------- */

typedef struct daemon_cfg {
    char role[16];
    char data_dir[512];
    char mine_name[128]; /* report titles (RPT-1, RPT-2 workbooks) */
    web_opts_t web;
    store_opts_t store;
    log_level level;
    bool syslog;
} daemon_cfg_t;

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

/* --- demo users (issue #8, web/auth.c): one account per role with a fresh
 * random password, printed at start so the demo can be tried at once. --- */
static int demo_users(store_t *st, int iterations, char *err, size_t errlen)
{
    static const char *const roles[] = {"admin", "engineer", "dispatcher", "viewer"};
    static const char alphabet[] = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679";
    unsigned char rnd[12 * 4];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(rnd, 1, sizeof rnd, f) : 0;
    if (f)
        fclose(f);
    if (got != sizeof rnd)
        return cm_fail(err, errlen, CM_ERR_IO, "/dev/urandom: cannot read");
    for (int i = 0; i < 4; i++) {
        char pw[13];
        for (int k = 0; k < 12; k++)
            pw[k] = alphabet[rnd[i * 12 + k] % (sizeof alphabet - 1)];
        pw[12] = '\0';
        int rc = web_user_add(st, roles[i], roles[i], pw, iterations, "demo", "demo", err, errlen);
        if (rc == CM_ERR_CONFLICT) { /* --data kept from an earlier demo */
            rc = web_user_passwd(st, roles[i], pw, iterations, "demo", "demo", err, errlen);
            if (!rc)
                rc = web_user_set_role(st, roles[i], roles[i], "demo", "demo", err, errlen);
            if (!rc)
                rc = web_user_set_disabled(st, roles[i], false, "demo", "demo", err, errlen);
        }
        if (rc)
            return rc;
        printf("coalmond: demo user %-10s password %s\n", roles[i], pw);
    }
    fflush(stdout);
    return CM_OK;
}

/* issue #9: the weighbridge and exit cameras post tickets and captures to
 * ourselves — the last 12 hours at once, then a truck every four minutes or so. */
static sim_wb_t *demo_weighbridge(store_t *st, int port, const ana_conf_t *c)
{
    char err[256];
    sim_wb_opts_t o;
    sim_wb_opts_default(&o);
    o.port = port;
    /* Trucks haul what the demo belt produced since the production day began,
     * so the day's sales balance its output (#13). Not from an earlier day:
     * the first evaluation, a second after start, would find that day's sales
     * half posted; days before the demo have no sales and are not balanced. */
    static ana_sim_opts_t mine;
    ana_demo_sim_opts(c, &mine);
    o.output_t = sim_mine_output_t;
    o.output_arg = &mine;
    int64_t now = tm_now_s(), day, end;
    tm_period_bounds(&c->shifts, TM_DAY, now, &day, &end);
    o.backfill_hours = (double)(now - day) / 3600.0;
    o.ocr = 0.08;
    o.escape = 0.01; /* unrecorded coal: within the balance tolerance (3 %) */
    o.dup = 0.05;
    o.badnet = 0.03;
    o.correct = 0.02;
    o.empty = 0.05;
    o.seed = (uint32_t)tm_now_s();
    sim_wb_t *w = sim_wb_demo_setup(st, o.key, err, sizeof err) ? NULL : sim_wb_start(&o, err, sizeof err);
    if (!w)
        log_error("daemon", "demo weighbridge: %s", err);
    return w;
}

static void prune_timer(evutil_socket_t fd, short what, void *arg)
{
    char err[256];
    if (store_prune(arg, tm_now_s(), err, sizeof err))
        log_error("daemon", "pruning old readings failed: %s", err);
}

static int serve(const cfg_t *cfg, const daemon_cfg_t *dc, bool demo)
{
    char err[512], db_path[1024];
    if (cm_mkdir_p(dc->data_dir, err, sizeof err)) {
        log_error("daemon", "data folder: %s", err);
        return 1;
    }
    snprintf(db_path, sizeof db_path, "%s/coalmon.db", dc->data_dir);
    store_t *store = store_open(db_path, &dc->store, err, sizeof err);
    if (!store) {
        log_error("daemon", "%s", err);
        return 1;
    }
    int status = 1;
    col_t *col = NULL;
    web_t *web = NULL;
    struct event *prune = NULL;
    alarm_engine_t *alarms = NULL; /* issue #7 */
    ana_runner_t *ana_run = NULL;  /* issue #6: the evaluation thread */
    web_alarms_t *web_alarms = NULL;
    web_intake_t *web_intake = NULL;
    upl_sender_t *upl = NULL; /* issue #5 */
    static upl_cfg_t upl_cfg; /* outlives the web server's routes */
    static intake_conf_t intake_conf; /* issue #9; outlives the routes */
    sim_wb_t *wb = NULL;              /* issue #9: the demo's weighbridge */
    web_ctx_t ctx = {.store = store, .role = dc->role, .version = VERSION,
                     .data_dir = dc->data_dir, .mine_name = dc->mine_name};
    ctx.reader = store_reader_open(store, err, sizeof err);
    if (!ctx.reader) {
        log_error("daemon", "%s", err);
        goto out;
    }
    if (strcmp(dc->role, "mine") == 0 && !(col = col_start(cfg, store, err, sizeof err))) {
        log_error("daemon", "collector: %s", err);
        goto out;
    }
    /* --- modules start here, each with its own error message --- */
    if (intake_conf_from_cfg(cfg, &intake_conf, err, sizeof err)) {
        log_error("daemon", "intake: %s", err);
        goto out;
    }
    if (upl_cfg_load(cfg, &upl_cfg, err, sizeof err)) { /* refuses keys others can read */
        log_error("daemon", "uplink: %s", err);
        goto out;
    }
    web_auth_opts_t auth_opts; /* issue #8: users, sessions, roles */
    cfg_sec_t cfg_top = cfg_root(cfg);
    if (web_auth_opts_from_cfg(&cfg_top, &auth_opts, err, sizeof err)) {
        log_error("daemon", "%s", err);
        goto out;
    }
    int param_changes; /* issue #7: configuration edits between starts are audited (ALM-5) */
    if (alarm_config_snapshot(store, cfg, &param_changes, err, sizeof err) ||
        !(alarms = alarm_engine_new(store, cfg, err, sizeof err))) {
        log_error("daemon", "alarms: %s", err);
        goto out;
    }
    /* issue #6: analytics configuration; the demo pre-generates five weeks of
     * interval history and fits the models so they exist at once. */
    static ana_conf_t ana_conf; /* outlives the routes */
    if (ana_conf_from_cfg(cfg, &ana_conf, err, sizeof err)) {
        log_error("daemon", "analytics: %s", err);
        goto out;
    }
    if (demo && ana_demo_history(store, &ana_conf, 35, tm_now_s(), err, sizeof err))
        log_warn("daemon", "analytics demo history: %s", err); /* the demo runs on without */
    if (demo && demo_capacity(store, err, sizeof err))
        log_warn("daemon", "demo capacity: %s", err);
    if (!(ana_run = ana_runner_start(store, &ana_conf, err, sizeof err))) {
        log_error("daemon", "analytics: %s", err);
        goto out;
    }

    if (!(web = web_new(&dc->web, err, sizeof err))) {
        log_error("daemon", "http: %s", err);
        goto out;
    }
    ctx.web = web;
    if (web_register_core(web, &ctx) || web_register_calibration(web, &ctx)) {
        log_error("daemon", "http: route table full");
        goto out;
    }
    /* --- module routes register here --- */
    if (!(web_intake = web_register_intake(web, &ctx, &intake_conf))) {
        log_error("daemon", "http: cannot register the intake routes");
        goto out;
    }
    if (demo && strcmp(dc->role, "mine") == 0 && !(wb = demo_weighbridge(store, web_port(web), &ana_conf))) {
        log_error("daemon", "demo weighbridge: cannot start");
        goto out;
    }
    upl_cfg_resolve_self(&upl_cfg, dc->web.host, web_port(web));
    if (web_register_uplink(web, &ctx, &upl_cfg)) {
        log_error("daemon", "http: cannot register the uplink routes");
        goto out;
    }
    if (upl_cfg.enabled && upl_cfg.ndest &&
        !(upl = upl_sender_start(&upl_cfg, cfg, store, err, sizeof err))) {
        log_error("daemon", "uplink: %s", err);
        goto out;
    }
    if (web_register_auth(web, &ctx, &auth_opts) || web_register_health(web, &ctx)) {
        log_error("daemon", "http: cannot register the auth and server-health routes");
        goto out;
    }

    if (!(web_alarms = web_register_alarms(web, &ctx, alarms)) ||
        alarm_engine_start(alarms, web_base(web), err, sizeof err)) {
        log_error("daemon", "alarms: cannot register the routes or start the timer");
        goto out;
    }
    if (web_register_analytics(web, &ctx, &ana_conf, ana_run)) { /* issue #6 */
        log_error("daemon", "http: cannot register the analytics routes");
        goto out;
    }
    if (web_register_collector(web, &ctx, col)) { /* issue #4 */
        log_error("daemon", "http: cannot register the collector routes");
        goto out;
    }
    if (web_register_series(web, &ctx)) { /* QRY-1 */
        log_error("daemon", "http: cannot register the series route");
        goto out;
    }

    prune = event_new(web_base(web), -1, EV_PERSIST, prune_timer, store);
    struct timeval hourly = {3600, 0};
    if (prune)
        event_add(prune, &hourly);
    log_info("daemon", "coalmond %s, role %s, data %s", VERSION, dc->role, dc->data_dir);
    printf("coalmond: %sserving http://%s:%d/\n", demo ? "demo " : "", dc->web.host, web_port(web));
    fflush(stdout);
    /* Demo accounts after "serving": their password hashes cost a moment. */
    if (demo && demo_users(store, auth_opts.pbkdf2_iterations, err, sizeof err)) {
        log_error("daemon", "demo users: %s", err);
        goto out;
    }
    status = web_run(web, true) == CM_OK ? 0 : 1;
    log_info("daemon", "stopping");
out:
    if (prune)
        event_free(prune);
    /* --- modules stop here, in reverse order of starting --- */
    sim_wb_stop(wb);
    web_intake_close(web_intake);
    web_alarms_free(web_alarms); /* before web_free: its timers live on the web's loop */
    ana_runner_stop(ana_run); /* issue #6 */
    alarm_engine_free(alarms);
    upl_sender_stop(upl);
    col_stop(col);
    web_free(web);
    store_reader_close(ctx.reader);
    store_close(store);
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
    demo_t demo = {0};
    if (o.demo) {
        if (demo_start(&demo, o.data_dir, demo_config, sizeof demo_config, err, sizeof err)) {
            fprintf(stderr, "coalmond: demo: %s\n", err);
            demo_stop(&demo);
            return 1;
        }
        o.config = demo_config;
    }
    cfg_t *cfg = cfg_load(o.config, err, sizeof err);
    daemon_cfg_t dc;
    if (!cfg || read_daemon_cfg(cfg, &o, &dc, err, sizeof err)) {
        fprintf(stderr, "coalmond: %s\n", err);
        cfg_free(cfg);
        demo_stop(&demo);
        return 1;
    }
    log_setup("coalmond", dc.level, dc.syslog);
    rc = serve(cfg, &dc, o.demo);
    cfg_free(cfg);
    demo_stop(&demo);
    return rc;
}
