/* coalmon coef: conversion coefficients with history and reason (ACQ-4). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void coef_usage(FILE *out)
{
    fprintf(out,
            "usage: coalmon coef set NAME VALUE --reason TEXT [--from 'yyyy-MM-dd HH:mm:ss']\n"
            "       coalmon coef show [NAME] [--json]\n"
            "       coalmon coef history NAME [--json]\n"
            "  NAME: raw_to_gross (raw to gross coal), scale_factor:<device>, ...\n"
            "  set: a new value in force from --from (default now, Beijing time); the old\n"
            "       value stays in the history. Audited; raises \"parameter modified\" (ALM-5)\n"
            "       and is uploaded as a coefficient record.\n");
}

typedef struct set_job {
    const char *name, *actor, *reason;
    double value;
    int64_t from;
} set_job_t;

static int set_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    set_job_t *j = arg;
    return store_coef_set(db, j->name, j->value, j->from, j->actor, "cli", j->reason, err, errlen);
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == ':' ||
              *s == '-' || *s == '.'))
            return false;
    return true;
}

static int coef_set(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-') {
        coef_usage(stderr);
        return CLI_USAGE;
    }
    const char *reason = cli_opt(argc, argv, "--reason");
    const char *from_s = cli_opt(argc, argv, "--from");
    char *end;
    set_job_t j = {.name = argv[1], .actor = ctx->actor, .reason = reason, .from = tm_now_s()};
    j.value = strtod(argv[2], &end);
    if (!valid_name(j.name))
        return cli_error(CLI_USAGE, "NAME: letters a-z, digits, '_', ':', '-', '.' (got '%s')",
                         j.name);
    if (*end || !isfinite(j.value) || j.value <= 0 || j.value > 1000)
        return cli_error(CLI_USAGE, "VALUE: a positive number up to 1000 (got '%s')", argv[2]);
    if (!reason || !*reason)
        return cli_error(CLI_USAGE, "--reason is required: every change is audited");
    if (from_s && tm_parse_bj(from_s, &j.from))
        return cli_error(CLI_USAGE, "--from: expected 'yyyy-MM-dd HH:mm:ss' (Beijing time)");
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[256];
    if (store_write(st, set_job, &j, err, sizeof err))
        return cli_error(CLI_FAIL, "coef set %s: %s", j.name, err);
    char when[24];
    tm_format_bj(j.from, when, sizeof when);
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", j.name);
        cJSON_AddNumberToObject(o, "value", j.value);
        cJSON_AddStringToObject(o, "validFrom", when);
        cli_print_json(o);
    } else {
        printf("%s = %.10g from %s (set by %s)\n", j.name, j.value, when, j.actor);
    }
    return CLI_OK;
}

/* Rows of the coefficient table: all names (current value each) or one name's history. */
static int coef_list(cli_ctx_t *ctx, const char *name, bool history)
{
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[256];
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    if (!db)
        return cli_error(CLI_FAIL, "%s", err);
    const char *sql =
        history ? "SELECT name, value, valid_from, set_by, reason, created_at FROM coefficient"
                  " WHERE name = ?1 ORDER BY valid_from DESC, id DESC"
                : "SELECT name, value, valid_from, set_by, reason, created_at FROM coefficient c"
                  " WHERE (?1 IS NULL OR name = ?1) AND id = (SELECT id FROM coefficient d"
                  " WHERE d.name = c.name AND d.valid_from <= ?2"
                  " ORDER BY valid_from DESC, id DESC LIMIT 1) ORDER BY name";
    sqlite3_stmt *s;
    int rc = store_prepare(db, sql, &s, err, sizeof err);
    if (rc) {
        store_reader_close(db);
        return cli_error(CLI_FAIL, "%s", err);
    }
    if (name)
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, tm_now_s());
    cJSON *arr = cJSON_CreateArray();
    int n = 0;
    while (!rc && store_next(s, &rc, err, sizeof err)) {
        char from[24], at[24];
        tm_format_bj(sqlite3_column_int64(s, 2), from, sizeof from);
        tm_format_bj(sqlite3_column_int64(s, 5), at, sizeof at);
        const char *reason = (const char *)sqlite3_column_text(s, 4);
        if (ctx->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(s, 0));
            cJSON_AddNumberToObject(o, "value", sqlite3_column_double(s, 1));
            cJSON_AddStringToObject(o, "validFrom", from);
            cJSON_AddStringToObject(o, "setBy", (const char *)sqlite3_column_text(s, 3));
            if (reason)
                cJSON_AddStringToObject(o, "reason", reason);
            cJSON_AddStringToObject(o, "recordedAt", at);
            cJSON_AddItemToArray(arr, o);
        } else {
            if (n == 0)
                printf("%-20s %12s  %-19s  %-12s %s\n", "name", "value", "in force from", "set by",
                       "reason");
            printf("%-20s %12.6g  %-19s  %-12s %s\n", (const char *)sqlite3_column_text(s, 0),
                   sqlite3_column_double(s, 1), from, (const char *)sqlite3_column_text(s, 3),
                   reason ? reason : "");
        }
        n++;
    }
    sqlite3_finalize(s);
    store_reader_close(db);
    if (rc) {
        cJSON_Delete(arr);
        return cli_error(CLI_FAIL, "%s", err);
    }
    if (ctx->json)
        cli_print_json(arr);
    else {
        cJSON_Delete(arr);
        if (n == 0)
            printf(name ? "no coefficient '%s'\n" : "no coefficients set%s\n", name ? name : "");
    }
    return name && n == 0 && history ? CLI_FAIL : CLI_OK;
}

int cmd_coef(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        coef_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "set"))
        return coef_set(ctx, argc - 1, argv + 1);
    if (!strcmp(argv[1], "show"))
        return coef_list(ctx, argc > 2 && argv[2][0] != '-' ? argv[2] : NULL, false);
    if (!strcmp(argv[1], "history")) {
        if (argc < 3 || argv[2][0] == '-') {
            coef_usage(stderr);
            return CLI_USAGE;
        }
        return coef_list(ctx, argv[2], true);
    }
    coef_usage(stderr);
    return cli_error(CLI_USAGE, "unknown action 'coef %s'", argv[1]);
}
