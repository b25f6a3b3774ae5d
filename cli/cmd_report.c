/* coalmon report output|pts|energy: RPT-1 reports, the same objects the
 * dashboard and /api/v1/reports read; --csv for spreadsheets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/analytics.h"
#include "cli/cli.h"

static void print_table(const cJSON *r)
{
    const cJSON *c, *row, *cell;
    cJSON_ArrayForEach (c, cJSON_GetObjectItem(r, "columns"))
        printf("%s%s", c->valuestring, c->next ? "\t" : "\n");
    cJSON_ArrayForEach (row, cJSON_GetObjectItem(r, "rows")) {
        cJSON_ArrayForEach (cell, row) {
            if (cJSON_IsString(cell))
                printf("%s", cell->valuestring);
            else if (cJSON_IsNumber(cell))
                printf("%.10g", cell->valuedouble);
            else
                printf("-");
            printf("%s", cell->next ? "\t" : "\n");
        }
    }
}

int cli_xlsx_report(cli_ctx_t *ctx, const char *path, const cJSON *report)
{
    char mine[128] = "", err[512];
    if (ctx->cfg) {
        cfg_sec_t root = cfg_root(ctx->cfg);
        if (cfg_get_string(&root, "mine_name", false, "", mine, sizeof mine, err, sizeof err))
            return cli_error(CLI_FAIL, "%s", err);
    }
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(report, "report"));
    ana_xlsx_meta_t m = {.mine = mine, .title = ana_xlsx_report_name(kind), .now = (int64_t)time(NULL)};
    if (ana_xlsx_write(path, report, &m, err, sizeof err))
        return cli_error(CLI_FAIL, "--xlsx: %s", err);
    return CLI_OK;
}

int cmd_report(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : "";
    if (strcmp(kind, "output") && strcmp(kind, "pts") && strcmp(kind, "energy")) {
        return cli_usage(kind,
                         "usage: coalmon report output|pts|energy --period shift|day|month|quarter|year\n"
                         "                      [--from TIME --to TIME] [--csv | --json | --xlsx FILE]\n"
                         "       without --from/--to: the period under way\n");
    }
    tm_period period = TM_DAY;
    const char *p = cli_opt(argc, argv, "--period");
    if (p && tm_period_parse(p, &period))
        return cli_error(CLI_USAGE, "--period: expected shift, day, month, quarter or year");
    const char *xlsx = cli_opt(argc, argv, "--xlsx");
    if ((xlsx || cli_flag(argc, argv, "--xlsx")) && (cli_flag(argc, argv, "--csv") || ctx->json))
        return cli_error(CLI_USAGE, "--xlsx: not together with --csv or --json");
    if (cli_flag(argc, argv, "--xlsx") && (!xlsx || !*xlsx || xlsx[0] == '-'))
        return cli_error(CLI_USAGE, "--xlsx: expected a file name");
    int64_t from, to;
    ana_conf_t c;
    /* Neither bound: the period under way, what an engineer asks first. */
    bool has_from = cli_opt(argc, argv, "--from"), has_to = cli_opt(argc, argv, "--to");
    if (has_from != has_to)
        return cli_error(CLI_USAGE, "report: give --from and --to, or neither for the period under way");
    bool current = !has_from;
    int rc = current ? CLI_OK : cli_range_opts(argc, argv, "report", &from, &to);
    if (!rc)
        rc = cli_ana_conf(ctx, &c);
    if (rc)
        return rc;
    if (current)
        tm_period_bounds(&c.shifts, period, tm_now_s(), &from, &to);
    sqlite3 *db = cli_reader(ctx, "report");
    if (!db)
        return CLI_FAIL;
    char err[512];
    cJSON *r = NULL;
    rc = ana_report(db, &c, kind, period, from, to, &r, err, sizeof err);
    store_reader_close(db);
    if (rc == CM_ERR_INVALID)
        return cli_error(CLI_USAGE, "report: %s", err);
    if (rc) /* never an empty or zero report in its place (#14) */
        return cli_error(CLI_FAIL, "report %s could not be built: %s", kind, err);
    if (xlsx) {
        rc = cli_xlsx_report(ctx, xlsx, r);
        cJSON_Delete(r);
        return rc;
    }
    if (cli_flag(argc, argv, "--csv")) {
        size_t len;
        char *csv = ana_report_csv(r, &len);
        if (csv)
            fwrite(csv, 1, len, stdout);
        free(csv);
        cJSON_Delete(r);
    } else if (ctx->json) {
        cli_print_json(r);
    } else {
        print_table(r);
        cJSON_Delete(r);
    }
    return CLI_OK;
}
