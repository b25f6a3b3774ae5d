/* coalmond --demo: simulated devices on loopback and the demo's module (its
 * accounts, its capacity, its weighbridge and exit cameras), which starts
 * its side threads once the loop serves (daemon/daemon.h). */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "sim/sim.h"

/* ---- the simulated devices and their configuration ------------------------ */

struct demo_devices {
    char dir[512];
    bool remove_dir;
    sim_meter_t *meters[3];
    sim_station_t *station; /* issue #4: the belt-scale station */
    ana_sim_opts_t mine;    /* issue #13: the physics behind the meters, station and history */
};

static int write_demo_config(const demo_devices_t *d, const char *path, char *err, size_t errlen)
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

static int devices_start(demo_devices_t *d, const char *data_dir, char *config_path, size_t len,
                         char *err, size_t errlen)
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

demo_devices_t *demo_devices_start(const char *data_dir, char *config_path, size_t len, char *err,
                                   size_t errlen)
{
    demo_devices_t *d = calloc(1, sizeof *d);
    if (!d) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (devices_start(d, data_dir, config_path, len, err, errlen)) {
        demo_devices_stop(d);
        return NULL;
    }
    return d;
}

void demo_devices_stop(demo_devices_t *d)
{
    if (!d)
        return;
    for (int i = 0; i < 3; i++)
        sim_meter_stop(d->meters[i]);
    sim_station_stop(d->station);
    if (d->remove_dir && d->dir[0])
        nftw(d->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
}

/* ---- the demo module ---------------------------------------------------------- */

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

typedef struct demo_side {
    char key[65];        /* the demo weighbridge's intake API key */
    sim_wb_t *wb;        /* issue #9: started once the loop serves */
    ana_sim_opts_t mine; /* issue #13: the trucks haul what this mine's belt produced */
    store_t *store;
    int iterations;      /* http.pbkdf2_iterations */
    const atomic_bool *leaving; /* the daemon is stopping: no more accounts */
    int rc;              /* the accounts' outcome, from the worker */
    char pw[4][13], err[256];
} demo_side_t;

static const char *const demo_roles[] = {"admin", "engineer", "dispatcher", "viewer"};

/* Demo users (issue #8, web/auth.c): one account per role with a fresh
 * random password, printed once made so the demo can be tried at once. Runs
 * on a web worker: four password hashes take about a second. */
static void users_work(void *arg)
{
    demo_side_t *ds = arg;
    static const char alphabet[] = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679";
    unsigned char rnd[12 * 4];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(rnd, 1, sizeof rnd, f) : 0;
    if (f)
        fclose(f);
    if (got != sizeof rnd) {
        ds->rc = cm_fail(ds->err, sizeof ds->err, CM_ERR_IO, "/dev/urandom: cannot read");
        return;
    }
    store_t *st = ds->store;
    char *err = ds->err;
    size_t el = sizeof ds->err;
    for (int i = 0; i < 4 && !ds->rc; i++) {
        if (atomic_load(ds->leaving)) { /* a hash takes a while: do not hold up the stop */
            ds->rc = cm_fail(ds->err, sizeof ds->err, CM_ERR_CLOSED, "stopping");
            return;
        }
        char *pw = ds->pw[i];
        const char *role = demo_roles[i];
        for (int k = 0; k < 12; k++)
            pw[k] = alphabet[rnd[i * 12 + k] % (sizeof alphabet - 1)];
        pw[12] = '\0';
        int rc = web_user_add(st, role, role, pw, ds->iterations, "demo", "demo", err, el);
        if (rc == CM_ERR_CONFLICT) { /* --data kept from an earlier demo */
            rc = web_user_passwd(st, role, pw, ds->iterations, "demo", "demo", err, el);
            if (!rc)
                rc = web_user_set_role(st, role, role, "demo", "demo", err, el);
            if (!rc)
                rc = web_user_set_disabled(st, role, false, "demo", "demo", err, el);
        }
        ds->rc = rc;
    }
}

static void users_done(void *arg)
{
    demo_side_t *ds = arg;
    if (ds->rc == CM_ERR_CLOSED)
        return;
    if (ds->rc) {
        log_error("daemon", "demo users: %s", ds->err);
        return;
    }
    for (int i = 0; i < 4; i++)
        printf("coalmond: demo user %-10s password %s\n", demo_roles[i], ds->pw[i]);
    fflush(stdout);
}

/* Before the loop: the records and the API key the weighbridge needs. */
static int demo_init(daemon_t *d, char *err, size_t errlen)
{
    if (!d->demo)
        return CM_OK;
    demo_side_t *ds = calloc(1, sizeof *ds);
    if (!ds)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    d->demo_side = ds;
    ds->store = d->store;
    ds->iterations = d->auth_opts.pbkdf2_iterations;
    ds->leaving = &d->leaving;
    char cerr[256];
    if (demo_capacity(d->store, cerr, sizeof cerr))
        log_warn("daemon", "demo capacity: %s", cerr); /* the demo runs on without */
    if (d->mine)
        return sim_wb_demo_setup(d->store, ds->key, err, errlen);
    return CM_OK;
}

/* issue #9: once the server answers, the weighbridge and exit cameras post
 * tickets and captures to ourselves — the production day so far at once, then
 * live; and the accounts are made on a worker. */
static void demo_serving(daemon_t *d)
{
    demo_side_t *ds = d->demo_side;
    if (!ds)
        return;
    char err[256];
    if (d->mine) {
        sim_wb_opts_t o;
        sim_wb_opts_default(&o);
        snprintf(o.key, sizeof o.key, "%s", ds->key);
        o.port = web_port(d->web);
        /* Trucks haul what the demo belt produced since the production day began,
         * so the day's sales balance its output (#13). Not from an earlier day:
         * the first evaluation, a second after start, would find that day's sales
         * half posted; days before the demo have no sales and are not balanced. */
        ana_demo_sim_opts(&d->ana_conf, &ds->mine);
        o.output_t = sim_mine_output_t;
        o.output_arg = &ds->mine;
        int64_t now = tm_now_s(), day, end;
        tm_period_bounds(&d->ana_conf.shifts, TM_DAY, now, &day, &end);
        o.backfill_hours = (double)(now - day) / 3600.0;
        o.ocr = 0.08;
        o.escape = 0.01; /* unrecorded coal: within the balance tolerance (3 %) */
        o.dup = 0.05;
        o.badnet = 0.03;
        o.correct = 0.02;
        o.empty = 0.05;
        o.seed = (uint32_t)tm_now_s();
        o.retry_s = 0; /* a busy daemon is retried, with back-off, until the demo stops */
        if (!(ds->wb = sim_wb_start(&o, err, sizeof err)))
            log_error("daemon", "demo weighbridge: %s", err);
    }
    if (web_defer(d->web, users_work, users_done, ds))
        log_error("daemon", "demo users: the server takes no work");
}

static void demo_stop(daemon_t *d)
{
    if (d->demo_side) {
        sim_wb_stop(d->demo_side->wb);
        d->demo_side->wb = NULL;
    }
}

static void demo_free(daemon_t *d)
{
    free(d->demo_side);
    d->demo_side = NULL;
}

const daemon_module_t daemon_demo_module = {"demo", demo_init, NULL, demo_serving, demo_stop,
                                            demo_free};
