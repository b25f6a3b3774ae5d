/* Configuration: "collector.buses" (serial lines) and "collector.devices"
 * into links, each with the devices behind it. Devices on one serial bus, or
 * behind one TCP host:port (an RS485 gateway), share one link. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/internal.h"

#define MAX_LINKS 256
#define MAX_DEVICES 1024

typedef struct bus_cfg {
    char name[64];
    col_link_opts_t o;
    int frame_delay_ms;
} bus_cfg_t;

static int parse_framing(const cfg_sec_t *s, col_link_opts_t *o, char *err, size_t errlen)
{
    char f[8];
    int rc = cfg_get_string(s, "framing", false, "8N1", f, sizeof f, err, errlen);
    if (rc)
        return rc;
    if (strlen(f) != 3 || (f[0] != '7' && f[0] != '8') || !strchr("NEO", f[1]) ||
        (f[2] != '1' && f[2] != '2'))
        return cfg_error(s, "framing", err, errlen, "expected 8N1, 8E1, 8O1 (or 7/2 variants)");
    o->data_bits = f[0] - '0';
    o->parity = f[1];
    o->stop_bits = f[2] - '0';
    return CM_OK;
}

static int parse_bus(const cfg_sec_t *s, bus_cfg_t *b, char *err, size_t errlen)
{
    char dev[128], rts[8];
    int rc = cfg_get_string(s, "name", true, NULL, b->name, sizeof b->name, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "device", true, NULL, dev, sizeof dev, err, errlen);
    if (!rc)
        col_link_rtu_default(&b->o, dev);
    if (!rc)
        rc = cfg_get_int(s, "baud", false, 9600, 1200, 115200, &b->o.baud, err, errlen);
    if (!rc)
        rc = parse_framing(s, &b->o, err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "frame_delay_ms", false, 10, 0, 1000, &b->frame_delay_ms, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "rts", false, "none", rts, sizeof rts, err, errlen);
    if (!rc && strcmp(rts, "none") && strcmp(rts, "up") && strcmp(rts, "down"))
        rc = cfg_error(s, "rts", err, errlen, "expected \"none\", \"up\" or \"down\"");
    if (!rc)
        rc = cfg_get_int(s, "rts_delay_us", false, 0, 0, 100000, &b->o.rts_delay_us, err, errlen);
    if (rc)
        return rc;
    b->o.rts = !strcmp(rts, "up") ? 1 : !strcmp(rts, "down") ? 2 : 0;
    return CM_OK;
}

typedef struct dev_link {
    col_link_opts_t o;
    int frame_delay_ms, connect_pause_ms;
    char name[COL_LINK_NAME_LEN];
    char gateway[64]; /* the gateway's name, when several devices share host:port */
} dev_link_t;

static int parse_ident(const cfg_sec_t *s, col_dev_t *d, char *kind, size_t kindlen, char *err,
                       size_t errlen)
{
    int rc = cfg_get_string(s, "name", true, NULL, d->name, sizeof d->name, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "kind", false, "meter", kind, kindlen, err, errlen);
    if (!rc && strcmp(kind, "meter") && strcmp(kind, "station"))
        rc = cfg_error(s, "kind", err, errlen, "expected \"meter\" or \"station\"");
    if (rc)
        return rc;
    d->kind = strcmp(kind, "station") ? COL_KIND_METER : COL_KIND_STATION;
    rc = cfg_get_string(s, "model", d->kind == COL_KIND_METER,
                        "coalmon-bs1", d->model, sizeof d->model, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "serial", false, "", d->serial, sizeof d->serial, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "location", false, "", d->location, sizeof d->location, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "install_date", false, "", d->install_date, sizeof d->install_date,
                            err, errlen);
    if (!rc && d->install_date[0]) {
        int64_t t;
        if (strlen(d->install_date) != 10 || tm_parse_bj(d->install_date, &t))
            rc = cfg_error(s, "install_date", err, errlen, "expected yyyy-MM-dd");
    }
    if (!rc)
        rc = cfg_get_string(s, "gate_type", false, d->kind == COL_KIND_METER ? "other" : "",
                            d->gate_type, sizeof d->gate_type, err, errlen);
    if (!rc && d->kind == COL_KIND_METER && strcmp(d->gate_type, "mine_total") &&
        strcmp(d->gate_type, "underground") && strcmp(d->gate_type, "transport") &&
        strcmp(d->gate_type, "other"))
        rc = cfg_error(s, "gate_type", err, errlen,
                       "expected mine_total, underground, transport or other");
    return rc;
}

static int parse_where(const cfg_sec_t *s, const bus_cfg_t *buses, int nbuses, dev_link_t *w,
                       char *err, size_t errlen)
{
    char transport[8], bus[64];
    int pause;
    int rc = cfg_get_string(s, "transport", false, "tcp", transport, sizeof transport, err, errlen);
    if (!rc && strcmp(transport, "tcp") && strcmp(transport, "rtu"))
        rc = cfg_error(s, "transport", err, errlen, "expected \"tcp\" or \"rtu\"");
    if (!rc)
        rc = cfg_get_int(s, "connect_pause_ms", false, 0, 0, 10000, &pause, err, errlen);
    if (rc)
        return rc;
    memset(w, 0, sizeof *w);
    w->connect_pause_ms = pause;
    if (!strcmp(transport, "tcp")) {
        w->o.transport = COL_TCP;
        rc = cfg_get_string(s, "host", true, NULL, w->o.host, sizeof w->o.host, err, errlen);
        if (!rc)
            rc = cfg_get_int(s, "port", false, 502, 1, 65535, &w->o.port, err, errlen);
        if (!rc) {
            snprintf(w->name, sizeof w->name, "tcp:%s:%d", w->o.host, w->o.port);
            rc = cfg_get_string(s, "gateway", false, "", w->gateway, sizeof w->gateway, err,
                                errlen);
        }
        return rc;
    }
    rc = cfg_get_string(s, "bus", true, NULL, bus, sizeof bus, err, errlen);
    if (rc)
        return rc;
    for (int i = 0; i < nbuses; i++)
        if (!strcmp(buses[i].name, bus)) {
            w->o = buses[i].o;
            w->frame_delay_ms = buses[i].frame_delay_ms;
            snprintf(w->name, sizeof w->name, "%s", buses[i].name);
            return CM_OK;
        }
    return cfg_error(s, "bus", err, errlen, "no bus named '%s' in collector.buses", bus);
}

static int parse_quirks(const cfg_sec_t *s, col_dev_t *d, char *err, size_t errlen)
{
    int v[12];
    bool one;
    bool station = d->kind == COL_KIND_STATION;
    int rc = cfg_get_int(s, "unit", false, 1, 0, 247, &v[0], err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "poll_ms", false, 1000, 50, 3600000, &v[1], err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "timeout_ms", false, 500, 10, 60000, &v[2], err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "byte_timeout_ms", false, v[2], 1, 60000, &v[3], err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "request_pause_ms", false, 0, 0, 10000, &v[4], err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "offline_after", false, 3, 1, 100, &v[5], err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "online_after", false, 2, 1, 100, &v[6], err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "backoff_max_ms", false, 30000, 100, 3600000, &v[7], err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "address_shift", false, 0, -1, 1, &v[8], err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "max_registers", false, 125, 1, 125, &v[9], err, errlen);
    if (!rc)
        rc = cfg_get_bool(s, "one_per_point", false, false, &one, err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "stuck_polls", false, 60, 2, 100000, &v[10], err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "record_batch", false, 16, 1, 1000, &v[11], err, errlen);
    if (!rc)
        rc = cfg_get_double(s, "ct", false, 0, 0, 100000, &d->ct_cfg, err, errlen);
    if (!rc)
        rc = cfg_get_double(s, "pt", false, 0, 0, 10000, &d->pt_cfg, err, errlen);
    if (!rc)
        rc = cfg_get_double(s, "multiplier", false, 1, 1e-6, 1e9, &d->multiplier, err, errlen);
    if (!rc && d->multiplier != 1 && (d->ct_cfg > 0 || d->pt_cfg > 0))
        rc = cfg_error(s, "multiplier", err, errlen, "give either ct/pt or a multiplier, not both");
    if (!rc && station && (d->ct_cfg > 0 || d->pt_cfg > 0 || d->multiplier != 1))
        rc = cfg_error(s, "ct", err, errlen, "a station has no instrument transformers");
    if (!rc)
        rc = cfg_get_double(s, station ? "max_flow_tph" : "max_power_kw", false,
                            station ? 5000 : 50000, 1, 1e7, &d->max_rate, err, errlen);
    if (rc)
        return rc;
    d->unit = v[0];
    d->poll_ms = v[1];
    d->timeout_ms = v[2];
    d->byte_timeout_ms = v[3];
    d->request_pause_ms = v[4];
    d->offline_after = v[5];
    d->online_after = v[6];
    d->backoff_max_ms = v[7];
    d->address_shift = v[8];
    d->stuck_polls = v[10];
    d->ct = d->ct_cfg > 0 ? d->ct_cfg : 1;
    d->pt = d->pt_cfg > 0 ? d->pt_cfg : 1;
    d->st.record_batch = v[11];
    int maxr = v[9] < d->map.max_registers ? v[9] : d->map.max_registers;
    d->nreq = col_plan(&d->map, maxr, one, d->order, d->req);
    return CM_OK;
}

static int parse_device(const cfg_sec_t *s, const char *maps_dir, const bus_cfg_t *buses,
                        int nbuses, col_dev_t *d, dev_link_t *w, char *err, size_t errlen)
{
    char kind[16];
    int rc = parse_ident(s, d, kind, sizeof kind, err, errlen);
    if (!rc)
        rc = parse_where(s, buses, nbuses, w, err, errlen);
    if (rc)
        return rc;
    if (d->kind == COL_KIND_STATION) {
        col_station_map(&d->map);
    } else {
        char sub[512];
        if (col_map_load_model(maps_dir, d->model, &d->map, sub, sizeof sub))
            return cfg_error(s, "model", err, errlen, "%s", sub);
    }
    return parse_quirks(s, d, err, errlen);
}

static int read_buses(const cfg_sec_t *sec, bus_cfg_t **out, int *n, char *err, size_t errlen)
{
    int rc = cfg_array_len(sec, "buses", n, err, errlen);
    if (rc || *n == 0)
        return rc;
    bus_cfg_t *b = calloc((size_t)*n, sizeof *b);
    if (!b)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < *n; i++) {
        cfg_sec_t bs;
        rc = cfg_array_item(sec, "buses", i, &bs, err, errlen);
        if (!rc)
            rc = parse_bus(&bs, &b[i], err, errlen);
        for (int j = 0; !rc && j < i; j++)
            if (!strcmp(b[j].name, b[i].name))
                rc = cfg_error(&bs, "name", err, errlen, "bus '%s' is defined twice", b[i].name);
    }
    if (rc)
        free(b);
    else
        *out = b;
    return rc;
}

static int maps_folder(const cfg_t *cfg, const cfg_sec_t *sec, char *dir, size_t len, char *err,
                       size_t errlen)
{
    char val[512];
    int rc = cfg_get_string(sec, "meter_maps", false, "meters", val, sizeof val, err, errlen);
    if (!rc && cfg_resolve_path(cfg, val, dir, len))
        rc = cfg_error(sec, "meter_maps", err, errlen, "the folder's path is longer than %zu bytes",
                       len - 1);
    return rc;
}

/* Group devices into links by where they are reached. */
static int group(col_t *col, col_dev_t *devs, dev_link_t *where, int n, char *err, size_t errlen)
{
    col->links = calloc((size_t)(n ? n : 1), sizeof *col->links);
    if (!col->links)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    int *link_of = calloc((size_t)(n ? n : 1), sizeof *link_of);
    if (!link_of)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < col->nlinks && strcmp(col->links[k].name, where[i].name))
            k++;
        col_link_t *l = &col->links[k];
        if (k == col->nlinks) {
            col->nlinks++;
            snprintf(l->name, sizeof l->name, "%s", where[i].name);
            l->o = where[i].o;
            l->frame_delay_ms = where[i].frame_delay_ms;
        }
        if (where[i].connect_pause_ms > l->connect_pause_ms)
            l->connect_pause_ms = where[i].connect_pause_ms;
        l->ndevs++;
        link_of[i] = k;
    }
    int rc = CM_OK;
    for (int k = 0; !rc && k < col->nlinks; k++) {
        col_link_t *l = &col->links[k];
        /* Several devices behind one TCP endpoint: an RS485 gateway. */
        l->gateway = l->o.transport == COL_TCP && l->ndevs > 1;
        for (int i = 0; l->gateway && i < n; i++)
            if (link_of[i] == k && !l->gw_name[0]) {
                if (where[i].gateway[0])
                    snprintf(l->gw_name, sizeof l->gw_name, "%s", where[i].gateway);
                else
                    snprintf(l->gw_name, sizeof l->gw_name, "gw-%.40s-%d", l->o.host, l->o.port);
                l->offline_after = devs[i].offline_after;
                l->online_after = devs[i].online_after;
            }
        for (int i = 0; !rc && l->gateway && i < n; i++)
            if (!strcmp(devs[i].name, l->gw_name))
                rc = cm_fail(err, errlen, CM_ERR_CONFIG,
                             "gateway %s has the name of a device: name it with \"gateway\"",
                             l->gw_name);
        if (rc)
            break;
        l->devs = calloc((size_t)l->ndevs, sizeof *l->devs);
        if (!l->devs)
            rc = cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        l->ndevs = 0;
        for (int i = 0; !rc && i < n; i++)
            if (link_of[i] == k) {
                for (int j = 0; j < l->ndevs; j++)
                    if (l->devs[j].unit == devs[i].unit)
                        rc = cm_fail(err, errlen, CM_ERR_CONFIG,
                                     "devices %s and %s share unit %d on %s", l->devs[j].name,
                                     devs[i].name, devs[i].unit, l->name);
                l->devs[l->ndevs++] = devs[i];
            }
    }
    free(link_of);
    return rc;
}

int col_cfg_read(const cfg_t *cfg, col_t *col, char *err, size_t errlen)
{
    cfg_sec_t root = cfg_root(cfg), sec;
    char maps_dir[512];
    int n = 0, nbuses = 0;
    bus_cfg_t *buses = NULL;
    int rc = cfg_section(&root, "collector", &sec, err, errlen);
    if (!rc)
        rc = maps_folder(cfg, &sec, maps_dir, sizeof maps_dir, err, errlen);
    if (!rc)
        rc = read_buses(&sec, &buses, &nbuses, err, errlen);
    if (!rc)
        rc = cfg_array_len(&sec, "devices", &n, err, errlen);
    if (!rc && n > MAX_DEVICES)
        rc = cfg_error(&sec, "devices", err, errlen, "at most %d devices", MAX_DEVICES);
    col_dev_t *devs = rc ? NULL : calloc((size_t)(n ? n : 1), sizeof *devs);
    dev_link_t *where = rc ? NULL : calloc((size_t)(n ? n : 1), sizeof *where);
    if (!rc && (!devs || !where))
        rc = cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < n; i++) {
        cfg_sec_t ds;
        rc = cfg_array_item(&sec, "devices", i, &ds, err, errlen);
        if (!rc)
            rc = parse_device(&ds, maps_dir, buses, nbuses, &devs[i], &where[i], err, errlen);
        for (int j = 0; !rc && j < i; j++)
            if (strcmp(devs[j].name, devs[i].name) == 0)
                rc = cfg_error(&ds, "name", err, errlen, "device '%s' is defined twice",
                               devs[i].name);
    }
    if (!rc)
        rc = group(col, devs, where, n, err, errlen);
    free(buses);
    free(devs);
    free(where);
    return rc;
}

void col_cfg_free(col_t *col)
{
    for (int k = 0; k < col->nlinks; k++)
        free(col->links[k].devs);
    free(col->links);
    col->links = NULL;
    col->nlinks = 0;
}
