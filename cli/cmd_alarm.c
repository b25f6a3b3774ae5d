/* coalmon alarm: list, show, acknowledge, shelve, clear, history (issue #7).
 * Works on the database with or without the daemon running; the daemon's
 * event stream reports these transitions too (it reads alarm_event). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms/alarms.h"
#include "cli/cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: coalmon alarm list [--state S] [--type T] [--source X] [--level L]\n"
            "                          [--origin local|CODE] [--from DATE] [--to DATE]\n"
            "                          [--limit N] [--json]\n"
            "       coalmon alarm history [same filters; all states by default] [--json]\n"
            "       coalmon alarm show ID [--json]\n"
            "       coalmon alarm pending [--json]\n"
            "       coalmon alarm ack ID [--comment TEXT]\n"
            "       coalmon alarm shelve ID --for DURATION --reason TEXT   (e.g. 30m, 2h, 900s)\n"
            "       coalmon alarm clear ID --reason TEXT    (only types that allow it)\n"
            "States: active (default for list), raised, acknowledged, shelved, cleared, all.\n"
            "Types: over_production, abnormal_power, output_vs_power, output_vs_sales,\n"
            "parameter_modified, device_fault, power_loss, comm_interrupted,\n"
            "escaping_vehicle, power_quality, motor_vibration (or 1..11).\n"
            "Levels: notice, warning, serious (a minimum). Dates: yyyy-MM-dd[ HH:mm], Beijing.\n");
}

typedef struct argv_get {
    int argc;
    char **argv;
    bool history;
} argv_get_t;

static const char *opt_get(void *arg, const char *key)
{
    argv_get_t *a = arg;
    char name[32];
    snprintf(name, sizeof name, "--%s", key);
    const char *v = cli_opt(a->argc, a->argv, name);
    if (!v && a->history && strcmp(key, "state") == 0)
        return "all";
    return v;
}

static sqlite3 *reader(cli_ctx_t *ctx)
{
    store_t *st = cli_store(ctx);
    if (!st)
        return NULL;
    char err[256];
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    if (!db)
        cli_error(CLI_FAIL, "%s", err);
    return db;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsString(v) ? v->valuestring : "-";
}

static void print_row(const cJSON *a)
{
    char when[20];
    snprintf(when, sizeof when, "%.16s", str(a, "raised_at"));
    for (char *p = when; *p; p++)
        if (*p == 'T')
            *p = ' ';
    const char *state = str(a, "state");
    if (cJSON_IsObject(cJSON_GetObjectItem(a, "shelved")))
        state = "shelved";
    printf("%-6d %-8s %-19s %-24s %-13s %-16s %5d  %s%s%s\n",
           cJSON_GetObjectItem(a, "id")->valueint, str(a, "level"), str(a, "type_name"),
           str(a, "source"), state, when, cJSON_GetObjectItem(a, "count")->valueint, str(a, "detail"),
           cJSON_IsString(cJSON_GetObjectItem(a, "inhibited")) ? "  [暂缓: " : "",
           cJSON_IsString(cJSON_GetObjectItem(a, "inhibited")) ? "inhibited]" : "");
}

static int list(cli_ctx_t *ctx, int argc, char **argv, bool history)
{
    argv_get_t g = {argc, argv, history};
    alarm_filter_t f;
    char field[32], err[256];
    if (alarm_filter_parse(&f, opt_get, &g, field, sizeof field, err, sizeof err))
        return cli_error(CLI_USAGE, "--%s", err);
    sqlite3 *db = reader(ctx);
    if (!db)
        return CLI_FAIL;
    cJSON *out;
    int rc = alarm_list_json(db, &f, &out, err, sizeof err);
    store_reader_close(db);
    if (rc)
        return cli_error(CLI_FAIL, "%s", err);
    if (ctx->json) {
        cli_print_json(out);
        return CLI_OK;
    }
    const cJSON *arr = cJSON_GetObjectItem(out, "alarms"), *a;
    printf("%-6s %-8s %-19s %-24s %-13s %-16s %5s  %s\n", "ID", "LEVEL", "TYPE", "SOURCE", "STATE",
           "RAISED", "COUNT", "DETAIL");
    cJSON_ArrayForEach(a, arr) print_row(a);
    printf("%d of %d\n", cJSON_GetArraySize(arr), cJSON_GetObjectItem(out, "total")->valueint);
    cJSON_Delete(out);
    return CLI_OK;
}

static int parse_id(const char *s, int64_t *id)
{
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || v <= 0) {
        /* A constant, not cli_error's result: callers read *id only when this is 0. */
        cli_error(CLI_USAGE, "expected an alarm id (a positive number), got '%s'", s ? s : "");
        return CLI_USAGE;
    }
    *id = v;
    return CLI_OK;
}

static int show(cli_ctx_t *ctx, const char *id_s)
{
    int64_t id;
    if (parse_id(id_s, &id))
        return CLI_USAGE;
    sqlite3 *db = reader(ctx);
    if (!db)
        return CLI_FAIL;
    cJSON *a;
    char err[256];
    int rc = alarm_get_json(db, id, &a, err, sizeof err);
    store_reader_close(db);
    if (rc)
        return cli_error(CLI_FAIL, "%s", err);
    if (ctx->json) {
        cli_print_json(a);
        return CLI_OK;
    }
    printf("alarm %s  %s (%s)  level %s  state %s\n  source   %s\n  detail   %s\n  raised   %s"
           "\n  last     %s  (%d times)\n",
           id_s, str(a, "label"), str(a, "type_name"), str(a, "level"), str(a, "state"),
           str(a, "source"), str(a, "detail"), str(a, "raised_at"), str(a, "last_seen"),
           cJSON_GetObjectItem(a, "count")->valueint);
    if (cJSON_IsString(cJSON_GetObjectItem(a, "inhibited")))
        printf("  held     %s\n", str(a, "inhibited"));
    const cJSON *e;
    printf("  history:\n");
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(a, "events"))
        printf("    %s  %-12s %-12s %s\n", str(e, "ts"), str(e, "kind"), str(e, "actor"),
               str(e, "detail"));
    cJSON_Delete(a);
    return CLI_OK;
}

static int pending(cli_ctx_t *ctx)
{
    sqlite3 *db = reader(ctx);
    if (!db)
        return CLI_FAIL;
    cJSON *out;
    char err[256];
    int rc = alarm_pending_json(db, &out, err, sizeof err);
    store_reader_close(db);
    if (rc)
        return cli_error(CLI_FAIL, "%s", err);
    if (ctx->json) {
        cli_print_json(out);
        return CLI_OK;
    }
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(out, "pending"))
        printf("%-19s %-24s since %s  %s\n", str(p, "type_name"), str(p, "source"),
               str(p, "first_seen"), str(p, "held"));
    cJSON_Delete(out);
    return CLI_OK;
}

/* "90", "90s", "30m", "2h", "1d" -> seconds; 0 when invalid. */
static int64_t parse_duration(const char *s)
{
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || end == s || v <= 0)
        return 0;
    int64_t mul = !*end || !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600
                                                 : !strcmp(end, "d") ? 86400 : 0;
    return v * mul;
}

static int change(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *verb = argv[1];
    int64_t id;
    if (argc < 3 || parse_id(argv[2], &id))
        return CLI_USAGE;
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[256];
    int rc;
    if (!strcmp(verb, "ack")) {
        rc = alarm_ack(st, id, ctx->actor, cli_opt(argc, argv, "--comment"), err, sizeof err);
    } else if (!strcmp(verb, "clear")) {
        rc = alarm_clear(st, id, ctx->actor, cli_opt(argc, argv, "--reason"), err, sizeof err);
    } else {
        int64_t secs = parse_duration(cli_opt(argc, argv, "--for"));
        if (!secs)
            return cli_error(CLI_USAGE, "--for: expected a duration such as 900s, 30m, 2h or 1d");
        rc = alarm_shelve(st, id, secs, ctx->actor, cli_opt(argc, argv, "--reason"), err, sizeof err);
    }
    if (rc == CM_ERR_INVALID)
        return cli_error(CLI_USAGE, "--%s", err);
    if (rc)
        return cli_error(CLI_FAIL, "%s", err);
    if (!ctx->json)
        printf("alarm %lld %s\n", (long long)id,
               !strcmp(verb, "ack") ? "acknowledged" : !strcmp(verb, "clear") ? "cleared" : "shelved");
    return ctx->json ? show(ctx, argv[2]) : CLI_OK;
}

int cmd_alarm(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *a = argc >= 2 ? argv[1] : "";
    if (!strcmp(a, "list") || !strcmp(a, "history"))
        return list(ctx, argc, argv, a[0] == 'h');
    if (!strcmp(a, "show") && argc >= 3)
        return show(ctx, argv[2]);
    if (!strcmp(a, "pending"))
        return pending(ctx);
    if (!strcmp(a, "ack") || !strcmp(a, "shelve") || !strcmp(a, "clear"))
        return change(ctx, argc, argv);
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        usage(stdout);
        return CLI_OK;
    }
    usage(stderr);
    return CLI_USAGE;
}
