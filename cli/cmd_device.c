/* coalmon device: the device registry (ACQ-9) — every meter and station with
 * its serial, model, location, install date, state, and state history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void device_usage(FILE *out)
{
    fprintf(out, "usage: coalmon device list [--json]\n"
                 "       coalmon device show NAME [--json]\n"
                 "       coalmon device history NAME [--kind K] [--limit N] [--json]\n"
                 "  list: every device with kind, gate type, serial and communication state\n"
                 "  show: one device in full, with its points and latest values\n"
                 "  history: its events, newest first (kinds: comm, fault, power,\n"
                 "           plausibility, counter_reset, counter_jump, backfill, identity)\n");
}

static void add_col(cJSON *o, const char *key, sqlite3_stmt *s, int i)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_NULL: cJSON_AddNullToObject(o, key); break;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT: cJSON_AddNumberToObject(o, key, sqlite3_column_double(s, i)); break;
    default: cJSON_AddStringToObject(o, key, (const char *)sqlite3_column_text(s, i)); break;
    }
}

static const char *text_or(sqlite3_stmt *s, int i, const char *def)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : def;
}

static void when(sqlite3_stmt *s, int i, char *buf, size_t len)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        snprintf(buf, len, "-");
    else
        tm_format_bj(sqlite3_column_int64(s, i) / 1000, buf, len);
}

#define DEVICE_COLUMNS                                                                          \
    "SELECT d.id, d.name, d.kind, d.model, d.serial, d.gate_type, d.location, d.install_date,"   \
    " d.firmware, coalesce(c.state, 'unknown'), c.since_ms, c.last_ok_ms, c.detail"              \
    " FROM device d LEFT JOIN device_comm c ON c.device_id = d.id"

static const char *const device_keys[] = {"id",       "name",     "kind",   "model",
                                          "serial",   "gate_type", "location", "install_date",
                                          "firmware", "state",    "since_ms", "last_ok_ms",
                                          "detail"};

static cJSON *device_json(sqlite3_stmt *s)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < 13; i++)
        add_col(o, device_keys[i], s, i);
    return o;
}

static int device_list(cli_ctx_t *ctx, sqlite3 *db)
{
    sqlite3_stmt *s;
    char err[256];
    if (store_prepare(db, DEVICE_COLUMNS " ORDER BY d.name", &s, err, sizeof err))
        return cli_error(CLI_FAIL, "%s", err);
    cJSON *arr = cJSON_CreateArray();
    if (!ctx->json)
        printf("%-22s %-8s %-16s %-12s %-20s %-9s %s\n", "NAME", "KIND", "MODEL", "GATE",
               "SERIAL", "STATE", "SINCE");
    int rc = CM_OK;
    while (!rc && store_next(s, &rc, err, sizeof err)) {
        if (ctx->json) {
            cJSON_AddItemToArray(arr, device_json(s));
            continue;
        }
        char since[24];
        when(s, 10, since, sizeof since);
        printf("%-22s %-8s %-16s %-12s %-20s %-9s %s\n", text_or(s, 1, ""), text_or(s, 2, ""),
               text_or(s, 3, "-"), text_or(s, 5, "-"), text_or(s, 4, "-"), text_or(s, 9, ""),
               since);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(arr);
        return cli_error(CLI_FAIL, "%s", err);
    }
    if (ctx->json)
        cli_print_json(arr);
    else
        cJSON_Delete(arr);
    return CLI_OK;
}

static int device_show(cli_ctx_t *ctx, sqlite3 *db, const char *name)
{
    sqlite3_stmt *s, *p;
    char err[256];
    if (store_prepare(db, DEVICE_COLUMNS " WHERE d.name = ?", &s, err, sizeof err))
        return cli_error(CLI_FAIL, "%s", err);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    int step = store_step(s, err, sizeof err);
    if (step <= 0) {
        sqlite3_finalize(s);
        if (step < 0)
            return cli_error(CLI_FAIL, "%s", err);
        return cli_error(CLI_FAIL, "no device named '%s' (see coalmon device list)", name);
    }
    cJSON *o = device_json(s);
    int64_t id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    cJSON *pts = cJSON_AddArrayToObject(o, "points");
    if (!store_prepare(db,
                       "SELECT p.name, p.quantity, p.unit, l.value, l.ts_ms FROM point p"
                       " LEFT JOIN point_latest l ON l.point_id = p.id WHERE p.device_id = ?"
                       " ORDER BY p.id",
                       &p, err, sizeof err)) {
        sqlite3_bind_int64(p, 1, id);
        int rc = CM_OK;
        while (!rc && store_next(p, &rc, err, sizeof err)) {
            cJSON *j = cJSON_CreateObject();
            static const char *const keys[] = {"name", "quantity", "unit", "value", "ts_ms"};
            for (int i = 0; i < 5; i++)
                add_col(j, keys[i], p, i);
            cJSON_AddItemToArray(pts, j);
        }
        sqlite3_finalize(p);
        if (rc) {
            cJSON_Delete(o);
            return cli_error(CLI_FAIL, "%s", err);
        }
    }
    if (ctx->json) {
        cli_print_json(o);
        return CLI_OK;
    }
    for (int i = 1; i < 13; i++) {
        cJSON *v = cJSON_GetObjectItem(o, device_keys[i]);
        if (cJSON_IsString(v))
            printf("  %-13s %s\n", device_keys[i], v->valuestring);
        else if (cJSON_IsNumber(v) && strstr(device_keys[i], "_ms")) {
            /* Beijing time for the reader: the label loses the JSON key's unit. */
            char b[24], label[16];
            tm_format_bj((int64_t)(v->valuedouble / 1000), b, sizeof b);
            snprintf(label, sizeof label, "%.*s", (int)(strlen(device_keys[i]) - 3), device_keys[i]);
            printf("  %-13s %s\n", label, b);
        }
    }
    cJSON *pt;
    cJSON_ArrayForEach(pt, pts)
    {
        cJSON *v = cJSON_GetObjectItem(pt, "value");
        char val[32];
        snprintf(val, sizeof val, cJSON_IsNumber(v) ? "%.3f" : "-",
                 cJSON_IsNumber(v) ? v->valuedouble : 0.0);
        printf("    %-10s %14s %-6s %s\n", cJSON_GetObjectItem(pt, "name")->valuestring, val,
               cJSON_GetObjectItem(pt, "unit")->valuestring,
               cJSON_GetObjectItem(pt, "quantity")->valuestring);
    }
    cJSON_Delete(o);
    return CLI_OK;
}

static int device_history(cli_ctx_t *ctx, sqlite3 *db, const char *name, int argc, char **argv)
{
    const char *kind = cli_opt(argc, argv, "--kind");
    const char *limit_s = cli_opt(argc, argv, "--limit");
    char *end;
    long limit = limit_s ? strtol(limit_s, &end, 10) : 100;
    if (limit_s && (*end || limit < 1 || limit > 100000))
        return cli_error(CLI_USAGE, "--limit: expected 1..100000, got '%s'", limit_s);
    sqlite3_stmt *s;
    char err[256];
    if (store_prepare(db,
                      "SELECT e.ts_ms, e.kind, e.state, e.detail FROM device_event e"
                      " JOIN device d ON d.id = e.device_id WHERE d.name = ?1"
                      " AND (?2 IS NULL OR e.kind = ?2) ORDER BY e.ts_ms DESC, e.id DESC LIMIT ?3",
                      &s, err, sizeof err))
        return cli_error(CLI_FAIL, "%s", err);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    if (kind)
        sqlite3_bind_text(s, 2, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, limit);
    cJSON *arr = cJSON_CreateArray();
    int rc = CM_OK;
    while (!rc && store_next(s, &rc, err, sizeof err)) {
        char t[24];
        when(s, 0, t, sizeof t);
        if (ctx->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "time", t);
            add_col(o, "ts_ms", s, 0);
            add_col(o, "kind", s, 1);
            add_col(o, "state", s, 2);
            add_col(o, "detail", s, 3);
            cJSON_AddItemToArray(arr, o);
        } else {
            printf("%s  %-14s %-10s %s\n", t, text_or(s, 1, ""), text_or(s, 2, ""),
                   text_or(s, 3, ""));
        }
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(arr);
        return cli_error(CLI_FAIL, "%s", err);
    }
    if (ctx->json)
        cli_print_json(arr);
    else
        cJSON_Delete(arr);
    return CLI_OK;
}

int cmd_device(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        device_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *action = argv[1];
    bool needs_name = !strcmp(action, "show") || !strcmp(action, "history");
    if (strcmp(action, "list") && !needs_name) {
        device_usage(stderr);
        return cli_error(CLI_USAGE, "unknown action 'device %s'", action);
    }
    if (needs_name && (argc < 3 || argv[2][0] == '-')) {
        device_usage(stderr);
        return cli_error(CLI_USAGE, "device %s needs a device name", action);
    }
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[256];
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    if (!db)
        return cli_error(CLI_FAIL, "%s", err);
    int rc = !strcmp(action, "list")   ? device_list(ctx, db)
             : !strcmp(action, "show") ? device_show(ctx, db, argv[2])
                                       : device_history(ctx, db, argv[2], argc - 2, argv + 2);
    store_reader_close(db);
    return rc;
}
