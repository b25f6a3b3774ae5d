/* coalmon ticket | capture | exit-point (issue #9): weighbridge tickets with
 * their versions, exit captures and escapes, capture points (ESC-2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "intake/intake.h"

void cli_intake_table(cJSON *arr, const char *const *keys, const int *widths)
{
    for (int k = 0; keys[k]; k++)
        printf("%-*s ", widths[k], keys[k]);
    putchar('\n');
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        for (int k = 0; keys[k]; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
            char buf[160] = "-";
            if (cJSON_IsString(v))
                snprintf(buf, sizeof buf, "%s", v->valuestring);
            else if (cJSON_IsNumber(v))
                snprintf(buf, sizeof buf, "%.10g", v->valuedouble);
            /* Width in bytes would misalign Chinese text: pad by display columns. */
            int cols = 0;
            for (const unsigned char *p = (const unsigned char *)buf; *p; p++)
                if ((*p & 0xC0) != 0x80)
                    cols += *p >= 0xE0 ? 2 : 1;
            printf("%s%*s ", buf, widths[k] > cols ? widths[k] - cols : 0, "");
        }
        putchar('\n');
    }
    cJSON_Delete(arr);
}

/* Open a read connection; on failure prints and returns NULL. */
sqlite3 *cli_intake_reader(cli_ctx_t *ctx)
{
    char err[256];
    store_t *st = cli_store(ctx);
    sqlite3 *db = st ? store_reader_open(st, err, sizeof err) : NULL;
    if (st && !db)
        cli_error(CLI_FAIL, "%s", err);
    return db;
}

/* --from/--to, default the last `span` seconds. */
int cli_intake_range(int argc, char **argv, int64_t span, int64_t *from, int64_t *to)
{
    int rc = cli_time_opt(argc, argv, "--to", tm_now_s() + 1, to);
    if (!rc)
        rc = cli_time_opt(argc, argv, "--from", *to - span, from);
    if (!rc && *to <= *from)
        rc = cli_error(CLI_USAGE, "--to must be after --from");
    return rc;
}

static int ticket_usage(void)
{
    fprintf(stderr, "usage: coalmon ticket list [--from T] [--to T] [--plate P] [--limit N] [--json]\n"
                    "       coalmon ticket show ID [--json]     every version and what changed\n");
    return CLI_USAGE;
}

int cmd_ticket(cli_ctx_t *ctx, int argc, char **argv)
{
    bool list = argc >= 2 && !strcmp(argv[1], "list"), show = argc >= 3 && !strcmp(argv[1], "show");
    if (!list && !show)
        return ticket_usage();
    int64_t from, to;
    int rc = list ? cli_intake_range(argc, argv, 86400, &from, &to) : CLI_OK;
    if (rc)
        return rc;
    sqlite3 *db = cli_intake_reader(ctx);
    if (!db)
        return CLI_FAIL;
    char err[256];
    cJSON *out = NULL;
    const char *limit = cli_opt(argc, argv, "--limit");
    int q = list ? intake_ticket_list(db, from, to, cli_opt(argc, argv, "--plate"),
                                      limit ? atoi(limit) : 1000, &out, err, sizeof err)
                 : intake_ticket_get(db, argv[2], &out, err, sizeof err);
    store_reader_close(db);
    if (q)
        return cli_error(CLI_FAIL, "%s", err);
    if (ctx->json || show) { /* versions read best as JSON */
        cli_print_json(out);
        return CLI_OK;
    }
    static const char *const keys[] = {"ticketId", "plate", "material", "direction", "grossTime",
                                       "net", "version", NULL};
    static const int w[] = {24, 12, 8, 9, 19, 8, 7};
    cli_intake_table(out, keys, w);
    return CLI_OK;
}

int cmd_capture(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *a = argc >= 2 ? argv[1] : "";
    if (strcmp(a, "list") && strcmp(a, "escapes") && strcmp(a, "match")) {
        fprintf(stderr, "usage: coalmon capture list [--from T] [--to T] [--state S] [--json]\n"
                        "       coalmon capture escapes [--from T] [--to T] [--json]\n"
                        "       coalmon capture match [--json]   decide pending exits now\n"
                        "  states: pending, matched, escape, unverified, empty, inbound\n");
        return CLI_USAGE;
    }
    char err[256];
    if (!strcmp(a, "match")) {
        intake_conf_t c;
        int rc = cli_intake_conf(ctx, &c);
        store_t *st = rc ? NULL : cli_store(ctx);
        intake_match_stats_t s;
        if (!st)
            return rc ? rc : CLI_FAIL;
        if (intake_match_run(st, &c, tm_now_s(), &s, err, sizeof err))
            return cli_error(CLI_FAIL, "%s", err);
        if (ctx->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "matched", s.matched);
            cJSON_AddNumberToObject(o, "escapes", s.escapes);
            cJSON_AddNumberToObject(o, "unverified", s.unverified);
            cJSON_AddNumberToObject(o, "waiting", s.waiting);
            cli_print_json(o);
        } else {
            printf("matched %d, escapes %d, unverified %d, waiting %d\n", s.matched, s.escapes,
                   s.unverified, s.waiting);
        }
        return CLI_OK;
    }
    int64_t from, to;
    int rc = cli_intake_range(argc, argv, strcmp(a, "list") ? 7 * 86400 : 86400, &from, &to);
    sqlite3 *db = rc ? NULL : cli_intake_reader(ctx);
    if (!db)
        return rc ? rc : CLI_FAIL;
    cJSON *out = NULL;
    int q = !strcmp(a, "list")
                ? intake_capture_list(db, from, to, cli_opt(argc, argv, "--state"), 1000, &out, err, sizeof err)
                : intake_escape_list(db, from, to, 1000, &out, err, sizeof err);
    store_reader_close(db);
    if (q)
        return cli_error(CLI_FAIL, "%s", err);
    if (ctx->json) {
        cli_print_json(out);
    } else if (!strcmp(a, "list")) {
        static const char *const keys[] = {"captureTime", "pointId", "plate", "load", "state",
                                           "ticketId", "confidence", NULL};
        static const int w[] = {19, 6, 12, 7, 10, 24, 5};
        cli_intake_table(out, keys, w);
    } else {
        static const char *const keys[] = {"captureTime", "pointId", "plate", "resolvedAt", "detail", NULL};
        static const int w[] = {19, 6, 12, 19, 40};
        cli_intake_table(out, keys, w);
    }
    return CLI_OK;
}

int cmd_exit_point(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *a = argc >= 2 ? argv[1] : "";
    char err[256];
    if (!strcmp(a, "list")) {
        sqlite3 *db = cli_intake_reader(ctx);
        cJSON *out = NULL;
        if (!db)
            return CLI_FAIL;
        int q = intake_point_list(db, &out, err, sizeof err);
        store_reader_close(db);
        if (q)
            return cli_error(CLI_FAIL, "%s", err);
        if (ctx->json) {
            cli_print_json(out);
        } else {
            static const char *const keys[] = {"code", "name", "location", "cameraIp", "direction", NULL};
            static const int w[] = {6, 16, 16, 15, 9};
            cli_intake_table(out, keys, w);
        }
        return CLI_OK;
    }
    if (!strcmp(a, "remove") && argc >= 3) {
        store_t *st = cli_store(ctx);
        if (!st)
            return CLI_FAIL;
        if (intake_point_remove(st, argv[2], ctx->actor, "cli", err, sizeof err))
            return cli_error(CLI_FAIL, "%s", err);
        printf("exit point %s removed\n", argv[2]);
        return CLI_OK;
    }
    if (strcmp(a, "add") || argc < 3 || argv[2][0] == '-') {
        fprintf(stderr, "usage: coalmon exit-point add CODE --name NAME [--location L] [--ip IP]\n"
                        "                              [--direction out|in|both]   (audited; again to change)\n"
                        "       coalmon exit-point remove CODE   only while it has no captures (audited)\n"
                        "       coalmon exit-point list [--json]\n");
        return CLI_USAGE;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "code", argv[2]);
    static const char *const opts[][2] = {{"--name", "name"}, {"--location", "location"},
                                          {"--ip", "cameraIp"}, {"--direction", "direction"}};
    for (int i = 0; i < 4; i++)
        if (cli_opt(argc, argv, opts[i][0]))
            cJSON_AddStringToObject(o, opts[i][1], cli_opt(argc, argv, opts[i][0]));
    intake_point_t p;
    intake_fault_t f = {0};
    int rc = intake_point_parse(o, &p, &f);
    cJSON_Delete(o);
    if (rc)
        return cli_error(CLI_USAGE, "%s", f.msg);
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    if (intake_point_put(st, &p, ctx->actor, "cli", err, sizeof err))
        return cli_error(CLI_FAIL, "%s", err);
    printf("exit point %s saved\n", p.code);
    return CLI_OK;
}
