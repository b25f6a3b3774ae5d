/* coalmon capacity set|show: the approved annual capacity with its history,
 * every change audited; month- and year-to-date use against the limits (ALM-1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "cli/cli.h"

static int set(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 3 || argv[2][0] == '-')
        return cli_error(CLI_USAGE, "capacity set: TPA (approved t/a) is required");
    char *end;
    double tpa = strtod(argv[2], &end);
    if (*end || !(tpa > 0) || tpa > 1e9)
        return cli_error(CLI_USAGE, "capacity set: TPA '%s' must be a number of t/a in 1..1e9",
                         argv[2]);
    int64_t from;
    int rc = cli_time_opt(argc, argv, "--from", 0, &from);
    if (rc)
        return rc;
    if (!cli_opt(argc, argv, "--from")) {
        int64_t now = tm_now_s();
        int y, m, d, h, mi, s;
        tm_epoch_to_bj(now, &y, &m, &d, &h, &mi, &s);
        from = tm_bj_to_epoch(y, m, d, 0, 0, 0);
    }
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[512];
    rc = ana_db_capacity_set(st, tpa, from, ctx->actor, "cli", cli_opt(argc, argv, "--reason"), err,
                             sizeof err);
    if (rc)
        return cli_error(CLI_FAIL, "capacity set: %s", err);
    char t[24];
    tm_format_bj(from, t, sizeof t);
    printf("approved capacity %.0f t/a in force from %s\n", tpa, t);
    return CLI_OK;
}

static void print_use(const char *name, const cJSON *u)
{
    if (!u)
        return;
    const cJSON *cr = cJSON_GetObjectItem(u, "crossing");
    printf("  %-5s %s..%s: %.0f t of %.0f t (%.1f %%), run-rate %.0f t/day, forecast %.0f t, "
           "crossing %s, level %d\n",
           name, cJSON_GetObjectItem(u, "start")->valuestring,
           cJSON_GetObjectItem(u, "end")->valuestring,
           cJSON_GetObjectItem(u, "output_t")->valuedouble,
           cJSON_GetObjectItem(u, "limit_t")->valuedouble,
           100 * cJSON_GetObjectItem(u, "share")->valuedouble,
           cJSON_GetObjectItem(u, "run_rate_t_per_day")->valuedouble,
           cJSON_GetObjectItem(u, "forecast_t")->valuedouble,
           cJSON_IsString(cr) ? cr->valuestring : "not this period",
           cJSON_GetObjectItem(u, "level")->valueint);
}

static int show(cli_ctx_t *ctx, int argc, char **argv)
{
    ana_conf_t c;
    int64_t at;
    int rc = cli_ana_conf(ctx, &c);
    if (!rc)
        rc = cli_time_opt(argc, argv, "--at", tm_now_s(), &at);
    if (rc)
        return rc;
    sqlite3 *db = cli_reader(ctx, "capacity show");
    if (!db)
        return CLI_FAIL;
    char err[512];
    cJSON *o = NULL;
    rc = ana_capacity_json(db, &c, at, &o, err, sizeof err);
    store_reader_close(db);
    if (rc)
        return cli_error(CLI_FAIL, "capacity show: %s", err);
    if (ctx->json) {
        cli_print_json(o);
        return CLI_OK;
    }
    const cJSON *tpa = cJSON_GetObjectItem(o, "approved_tpa");
    if (cJSON_IsNumber(tpa))
        printf("approved capacity %.0f t/a\n", tpa->valuedouble);
    else
        printf("no approved capacity set (coalmon capacity set TPA --from DATE)\n");
    print_use("year", cJSON_GetObjectItem(o, "year"));
    print_use("month", cJSON_GetObjectItem(o, "month"));
    printf("history:\n");
    const cJSON *h;
    cJSON_ArrayForEach (h, cJSON_GetObjectItem(o, "history")) {
        const cJSON *r = cJSON_GetObjectItem(h, "reason");
        printf("  %12.0f t/a from %s, set by %s at %s%s%s\n",
               cJSON_GetObjectItem(h, "tpa")->valuedouble,
               cJSON_GetObjectItem(h, "valid_from")->valuestring,
               cJSON_GetObjectItem(h, "set_by")->valuestring,
               cJSON_GetObjectItem(h, "set_at")->valuestring, cJSON_IsString(r) ? ": " : "",
               cJSON_IsString(r) ? r->valuestring : "");
    }
    cJSON_Delete(o);
    return CLI_OK;
}

int cmd_capacity(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *act = argc > 1 ? argv[1] : "";
    if (!strcmp(act, "set"))
        return set(ctx, argc, argv);
    if (!strcmp(act, "show"))
        return show(ctx, argc, argv);
    return cli_usage(act, "usage: coalmon capacity set TPA [--from DATE] [--reason TEXT]\n"
                          "       coalmon capacity show [--at TIME] [--json]\n");
}
