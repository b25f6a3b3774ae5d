/* Parameters held in the configuration: at each start, what changed since
 * the last start goes through the audited path (channel "config"), so an
 * edited device setting, meter map or analytics section raises ALM-5 like a
 * change made from the command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms/internal.h"

#define MAX_ITEMS 256

typedef struct item {
    char target[128];
    char *value; /* owned */
} item_t;

typedef struct snap {
    item_t items[MAX_ITEMS];
    int n, changes;
} snap_t;

static int add_item(snap_t *s, const char *target, char *value, char *err, size_t errlen)
{
    if (!value)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    if (s->n == MAX_ITEMS) {
        free(value);
        return cm_fail(err, errlen, CM_ERR_CONFIG, "more than %d configured parameters", MAX_ITEMS);
    }
    snprintf(s->items[s->n].target, sizeof s->items[0].target, "%s", target);
    s->items[s->n++].value = value;
    return CM_OK;
}

/* The file's text stands for the map: any edit to it is a change. */
static char *map_digest(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("(missing)");
    uint64_t h = 1469598103934665603ull; /* FNV-1a: a fingerprint, not security */
    size_t len = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        h = (h ^ (unsigned char)c) * 1099511628211ull;
        len++;
    }
    fclose(f);
    char buf[80];
    snprintf(buf, sizeof buf, "fnv1a64:%016llx bytes:%zu", (unsigned long long)h, len);
    return strdup(buf);
}

static int collect_devices(const cfg_t *cfg, snap_t *s, char *err, size_t errlen)
{
    cfg_sec_t root = cfg_root(cfg), col;
    int n = 0;
    char maps[512], dir[1024];
    int rc = cfg_section(&root, "collector", &col, err, errlen);
    if (!rc)
        rc = cfg_get_string(&col, "meter_maps", false, "meters", maps, sizeof maps, err, errlen);
    if (!rc)
        rc = cfg_array_len(&col, "devices", &n, err, errlen);
    if (rc)
        return rc;
    if (cfg_resolve_path(cfg, maps, dir, sizeof dir))
        return cfg_error(&col, "meter_maps", err, errlen, "the folder's path is longer than %zu bytes",
                         sizeof dir - 1);
    for (int i = 0; !rc && i < n; i++) {
        cfg_sec_t dev;
        char name[96], model[96], target[128];
        rc = cfg_array_item(&col, "devices", i, &dev, err, errlen);
        if (!rc)
            rc = cfg_get_string(&dev, "name", false, "", name, sizeof name, err, errlen);
        if (!rc)
            rc = cfg_get_string(&dev, "model", false, "", model, sizeof model, err, errlen);
        if (rc || !name[0])
            continue;
        snprintf(target, sizeof target, "device:%s", name);
        rc = add_item(s, target, cJSON_PrintUnformatted(dev.node), err, errlen);
        bool seen = false;
        for (int k = 0; k < s->n; k++)
            seen |= strncmp(s->items[k].target, "meter_map:", 10) == 0 &&
                    strcmp(s->items[k].target + 10, model) == 0;
        if (!rc && model[0] && !seen) {
            char path[sizeof dir + sizeof model + 6];
            snprintf(path, sizeof path, "%s/%s.json", dir, model); /* sized to fit */
            snprintf(target, sizeof target, "meter_map:%s", model);
            rc = add_item(s, target, map_digest(path), err, errlen);
        }
    }
    return rc;
}

/* Whole sections whose keys are model settings and capacities. */
static int collect_sections(const cfg_t *cfg, snap_t *s, char *err, size_t errlen)
{
    static const char *const sections[] = {"analytics", "intake", "shifts", NULL};
    cfg_sec_t root = cfg_root(cfg);
    int rc = CM_OK;
    for (int i = 0; !rc && sections[i]; i++) {
        cfg_sec_t sec;
        rc = cfg_section(&root, sections[i], &sec, err, errlen);
        if (rc || !sec.node)
            continue;
        char target[64];
        snprintf(target, sizeof target, "config:%s", sections[i]);
        rc = add_item(s, target, cJSON_PrintUnformatted(sec.node), err, errlen);
    }
    return rc;
}

static int old_value(sqlite3 *db, const char *target, char **out, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = store_prepare(db, "SELECT value FROM alarm_param_snapshot WHERE target = ?", &st, err,
                           errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, target, -1, SQLITE_TRANSIENT);
    *out = store_next(st, &rc, err, errlen) ? strdup((const char *)sqlite3_column_text(st, 0)) : NULL;
    sqlite3_finalize(st);
    return rc;
}

static int snapshot_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    snap_t *s = arg;
    sqlite3_stmt *st;
    int rc = store_prepare(db, "SELECT count(*) FROM alarm_param_snapshot", &st, err, errlen);
    if (rc)
        return rc;
    int64_t rows = 0;
    if ((rc = store_q_int64(st, 0, &rows, NULL, err, errlen)))
        return rc;
    bool first = rows == 0;
    for (int i = 0; !rc && i < s->n; i++) {
        char *old = NULL;
        rc = old_value(db, s->items[i].target, &old, err, errlen);
        bool changed = false;
        const char *action = strncmp(s->items[i].target, "device:", 7) == 0 ? "device.config"
                             : strncmp(s->items[i].target, "meter_map:", 10) == 0 ? "meter_map.config"
                                                                                   : "config.section";
        if (!rc && !first)
            rc = alarm_param_change(db, "coalmond", "config", action, s->items[i].target, old,
                                    s->items[i].value, "configuration changed between starts",
                                    &changed, err, errlen);
        free(old);
        s->changes += changed;
        if (!rc)
            rc = store_prepare(db,
                               "INSERT INTO alarm_param_snapshot(target, value) VALUES (?, ?)"
                               " ON CONFLICT(target) DO UPDATE SET value = excluded.value,"
                               " ts = unixepoch() WHERE value <> excluded.value",
                               &st, err, errlen);
        if (!rc) {
            sqlite3_bind_text(st, 1, s->items[i].target, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, s->items[i].value, -1, SQLITE_TRANSIENT);
            rc = store_step_done(st, err, errlen);
        }
    }
    /* Parameters that left the configuration are changes too. */
    if (!rc && !first)
        rc = store_prepare(db, "SELECT target, value FROM alarm_param_snapshot", &st, err, errlen);
    if (!rc && !first) {
        char gone[16][128];
        int ngone = 0;
        while (!rc && ngone < 16 && store_next(st, &rc, err, errlen)) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            bool present = false;
            for (int i = 0; i < s->n && !present; i++)
                present = strcmp(s->items[i].target, t) == 0;
            if (!present)
                snprintf(gone[ngone++], sizeof gone[0], "%s", t);
        }
        sqlite3_finalize(st);
        for (int i = 0; !rc && i < ngone; i++) {
            char *old = NULL;
            rc = old_value(db, gone[i], &old, err, errlen);
            if (!rc)
                rc = store_audit(db, "coalmond", "config", "config.removed", gone[i], old, NULL,
                                 "removed from the configuration", err, errlen);
            free(old);
            s->changes++;
            if (!rc)
                rc = store_prepare(db, "DELETE FROM alarm_param_snapshot WHERE target = ?", &st,
                                   err, errlen);
            if (!rc) {
                sqlite3_bind_text(st, 1, gone[i], -1, SQLITE_TRANSIENT);
                rc = store_step_done(st, err, errlen);
            }
        }
    }
    return rc;
}

int alarm_config_snapshot(store_t *st, const cfg_t *cfg, int *changes, char *err, size_t errlen)
{
    snap_t *s = calloc(1, sizeof *s);
    if (!s)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    /* A marker, so "first start" stays true only once even with nothing configured. */
    int rc = add_item(s, "_snapshot", strdup("v1"), err, errlen);
    if (!rc)
        rc = collect_devices(cfg, s, err, errlen);
    if (!rc)
        rc = collect_sections(cfg, s, err, errlen);
    if (!rc)
        rc = store_write(st, snapshot_job, s, err, errlen);
    if (changes)
        *changes = rc ? 0 : s->changes;
    for (int i = 0; i < s->n; i++)
        free(s->items[i].value);
    free(s);
    return rc;
}
