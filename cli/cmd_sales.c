/* coalmon sales | inventory | contract | coal-type (issue #9, ACQ-3, RPT-2):
 * period figures, RPT-2 reports, rail sales, stockpile surveys, contracts,
 * coal types. Entries go through the same validation as the API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "intake/intake.h"

/* Build {key: value} from --options (numbers where numeric is given). */
static cJSON *from_opts(int argc, char **argv, const char *const (*map)[3])
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; map[i][0]; i++) {
        const char *v = cli_opt(argc, argv, map[i][0]);
        if (!v)
            continue;
        char *end;
        double d = strtod(v, &end);
        if (map[i][2][0] == 'n' && *v && !*end)
            cJSON_AddNumberToObject(o, map[i][1], d);
        else
            cJSON_AddStringToObject(o, map[i][1], v);
    }
    return o;
}

static int put_ledger(cli_ctx_t *ctx, const char *kind, cJSON *o)
{
    store_t *st = cli_store(ctx);
    char err[256], source[80];
    intake_fault_t f = {0};
    if (!st) {
        cJSON_Delete(o);
        return CLI_FAIL;
    }
    snprintf(source, sizeof source, "cli:%s", ctx->actor);
    int rc = intake_ledger_put(st, kind, o, source, tm_now_s(), NULL, &f, err, sizeof err);
    cJSON_Delete(o);
    if (rc && f.field[0])
        return cli_error(rc == CM_ERR_INVALID ? CLI_USAGE : CLI_FAIL, "%s: %s", f.field, f.msg);
    if (rc)
        return cli_error(CLI_FAIL, "%s", err);
    printf("saved\n");
    return CLI_OK;
}

static int list_ledger(cli_ctx_t *ctx, int argc, char **argv, const char *kind,
                       const char *const *keys, const int *w)
{
    int64_t from, to;
    int rc = cli_intake_range(argc, argv, 31 * 86400, &from, &to);
    sqlite3 *db = rc ? NULL : cli_intake_reader(ctx);
    if (!db)
        return rc ? rc : CLI_FAIL;
    char err[256];
    cJSON *out = NULL;
    int q = intake_ledger_list(db, kind, from, to, &out, err, sizeof err);
    store_reader_close(db);
    if (q)
        return cli_error(CLI_FAIL, "figures could not be read: %s", err);
    if (ctx->json)
        cli_print_json(out);
    else
        cli_intake_table(out, keys, w);
    return CLI_OK;
}

static void print_period(const char *name, const cJSON *p)
{
    const char *k[] = {"outputRaw", "outputGross", "truckSales", "railSales", "inventory"};
    printf("%-8s %s  ", name, cJSON_GetObjectItem(p, "start")->valuestring);
    for (int i = 0; i < 5; i++) {
        const cJSON *v = cJSON_GetObjectItem(p, k[i]);
        if (cJSON_IsNumber(v))
            printf("%12.2f", v->valuedouble);
        else
            printf("%12s", "-");
    }
    putchar('\n');
}

static int figures(cli_ctx_t *ctx, int argc, char **argv)
{
    intake_conf_t c;
    int64_t at;
    int rc = cli_intake_conf(ctx, &c);
    if (!rc)
        rc = cli_time_opt(argc, argv, "--at", tm_now_s(), &at);
    sqlite3 *db = rc ? NULL : cli_intake_reader(ctx);
    if (!db)
        return rc ? rc : CLI_FAIL;
    char err[256];
    cJSON *out = NULL;
    int q = intake_figures_json(db, &c, at, cli_opt(argc, argv, "--coal-type"), &out, err, sizeof err);
    store_reader_close(db);
    if (q)
        return cli_error(CLI_FAIL, "figures could not be read: %s", err);
    if (ctx->json) {
        cli_print_json(out);
        return CLI_OK;
    }
    printf("production day %s, %s (t)\n", cJSON_GetObjectItem(out, "productionDay")->valuestring,
           cJSON_GetObjectItem(out, "shiftName")->valuestring);
    printf("%-8s %-19s  %12s%12s%12s%12s%12s\n", "period", "from", "output raw", "gross",
           "truck sales", "rail sales", "inventory");
    static const char *const names[] = {"shift", "day", "month", "quarter", "year"};
    for (int i = 0; i < 5; i++)
        print_period(names[i], cJSON_GetObjectItem(out, names[i]));
    cJSON_Delete(out);
    return CLI_OK;
}

static int report(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 3 || argv[2][0] == '-') {
        fprintf(stderr, "usage: coalmon sales report KIND [--from T] [--to T] [--csv|--json|--xlsx FILE]\n"
                        "  KIND: output-summary, output-detail, material, outbound, vehicles (RPT-2)\n");
        return CLI_USAGE;
    }
    const char *xlsx = cli_opt(argc, argv, "--xlsx");
    if ((xlsx || cli_flag(argc, argv, "--xlsx")) && (cli_flag(argc, argv, "--csv") || ctx->json))
        return cli_error(CLI_USAGE, "--xlsx: not together with --csv or --json");
    if (cli_flag(argc, argv, "--xlsx") && (!xlsx || !*xlsx || xlsx[0] == '-'))
        return cli_error(CLI_USAGE, "--xlsx: expected a file name");
    intake_conf_t c;
    int64_t from, to;
    int rc = cli_intake_conf(ctx, &c);
    if (!rc)
        rc = cli_intake_range(argc, argv, 86400, &from, &to);
    sqlite3 *db = rc ? NULL : cli_intake_reader(ctx);
    if (!db)
        return rc ? rc : CLI_FAIL;
    char err[256];
    cJSON *r = NULL;
    int q = intake_report(db, &c, argv[2], from, to, &r, err, sizeof err);
    store_reader_close(db);
    if (q == CM_ERR_INVALID)
        return cli_error(CLI_USAGE, "%s", err);
    if (q) /* never an empty or zero report in its place (#14) */
        return cli_error(CLI_FAIL, "report %s could not be built: %s", argv[2], err);
    if (xlsx) {
        rc = cli_xlsx_report(ctx, xlsx, r);
        cJSON_Delete(r);
        return rc;
    }
    if (ctx->json) {
        cJSON_AddItemToObject(r, "items", intake_report_objects(r));
        cli_print_json(r);
        return CLI_OK;
    }
    size_t len;
    char *csv = intake_report_csv(r, &len);
    cJSON_Delete(r);
    if (!csv)
        return cli_error(CLI_FAIL, "out of memory");
    /* CSV is also the human form: it lines up in any spreadsheet; skip the BOM on a terminal. */
    bool bom = cli_flag(argc, argv, "--csv");
    fwrite(csv + (bom ? 0 : 3), 1, len - (bom ? 0 : 3), stdout);
    free(csv);
    return CLI_OK;
}

int cmd_sales(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char *const rail_map[][3] = {{"--batch", "batchId", ""}, {"--train", "trainNo", ""},
                                              {"--wagons", "wagons", "n"}, {"--coal-type", "coalType", ""},
                                              {"--tons", "tons", "n"}, {"--at", "loadedAt", ""},
                                              {"--contract", "contractId", ""}, {NULL, NULL, NULL}};
    const char *a = argc >= 2 ? argv[1] : "";
    if (!strcmp(a, "figures"))
        return figures(ctx, argc, argv);
    if (!strcmp(a, "report"))
        return report(ctx, argc, argv);
    if (!strcmp(a, "rail") && argc >= 3 && !strcmp(argv[2], "add"))
        return put_ledger(ctx, "rail", from_opts(argc, argv, rail_map));
    if (!strcmp(a, "rail") && argc >= 3 && !strcmp(argv[2], "list")) {
        static const char *const k[] = {"batchId", "trainNo", "wagons", "coalType", "tons", "loadedAt", NULL};
        static const int w[] = {16, 10, 6, 8, 10, 19};
        return list_ledger(ctx, argc, argv, "rail", k, w);
    }
    if (!strcmp(a, "summaries")) {
        int64_t from, to;
        int rc = cli_intake_range(argc, argv, 31 * 86400, &from, &to);
        sqlite3 *db = rc ? NULL : cli_intake_reader(ctx);
        char err[256];
        cJSON *out = NULL;
        if (!db)
            return rc ? rc : CLI_FAIL;
        int q = intake_pts_list(db, from, to, &out, err, sizeof err);
        store_reader_close(db);
        if (q)
            return cli_error(CLI_FAIL, "%s", err);
        if (ctx->json) {
            cli_print_json(out);
            return CLI_OK;
        }
        static const char *const k[] = {"period", "periodStart", "shift", "coalType", "output",
                                        "truckSales", "railSales", "inventory", "version", NULL};
        static const int w[] = {7, 19, 6, 8, 10, 10, 10, 10, 3};
        cli_intake_table(out, k, w);
        return CLI_OK;
    }
    fprintf(stderr,
            "usage: coalmon sales figures [--at T] [--coal-type C] [--json]  shift/day/MTD/QTD/YTD\n"
            "       coalmon sales report KIND [--from T] [--to T] [--csv|--json|--xlsx FILE]   (RPT-2)\n"
            "       coalmon sales rail add --batch ID --wagons N --coal-type C --tons T --at T\n"
            "                              [--train NO] [--contract ID]\n"
            "       coalmon sales rail list [--from T] [--to T] [--json]\n"
            "       coalmon sales summaries [--from T] [--to T] [--json]  the mine system's own figures\n");
    return CLI_USAGE;
}

int cmd_inventory(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char *const map[][3] = {{"--stockpile", "stockpile", ""}, {"--coal-type", "coalType", ""},
                                         {"--tons", "tons", "n"}, {"--at", "surveyedAt", ""},
                                         {"--surveyor", "surveyor", ""}, {NULL, NULL, NULL}};
    const char *a = argc >= 2 ? argv[1] : "";
    if (!strcmp(a, "survey"))
        return put_ledger(ctx, "survey", from_opts(argc, argv, map));
    if (!strcmp(a, "list")) {
        static const char *const k[] = {"surveyedAt", "stockpile", "coalType", "tons", "surveyor", NULL};
        static const int w[] = {19, 12, 8, 10, 10};
        return list_ledger(ctx, argc, argv, "survey", k, w);
    }
    fprintf(stderr, "usage: coalmon inventory survey --stockpile S --coal-type C --tons T --at T\n"
                    "                                [--surveyor NAME]\n"
                    "       coalmon inventory list [--from T] [--to T] [--json]\n");
    return CLI_USAGE;
}

int cmd_contract(cli_ctx_t *ctx, int argc, char **argv)
{
    static const char *const map[][3] = {{"--buyer", "buyer", ""}, {"--coal-type", "coalType", ""},
                                         {"--quantity", "quantity", "n"}, {"--from", "validFrom", ""},
                                         {"--to", "validTo", ""}, {NULL, NULL, NULL}};
    const char *a = argc >= 2 ? argv[1] : "";
    if (!strcmp(a, "add") && argc >= 3 && argv[2][0] != '-') {
        cJSON *o = from_opts(argc, argv, map);
        cJSON_AddStringToObject(o, "contractId", argv[2]);
        return put_ledger(ctx, "contract", o);
    }
    if (!strcmp(a, "list")) {
        static const char *const k[] = {"contractId", "buyer", "coalType", "quantity", "delivered", NULL};
        static const int w[] = {14, 20, 8, 10, 10};
        return list_ledger(ctx, argc, argv, "contract", k, w);
    }
    fprintf(stderr, "usage: coalmon contract add ID --buyer B --coal-type C --quantity T\n"
                    "                            [--from T] [--to T]   (audited)\n"
                    "       coalmon contract list [--json]   with tonnes delivered by truck and rail\n");
    return CLI_USAGE;
}

int cmd_coal_type(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *a = argc >= 2 ? argv[1] : "";
    if (!strcmp(a, "add") && argc >= 4) {
        store_t *st = cli_store(ctx);
        char err[256];
        if (!st)
            return CLI_FAIL;
        int rc = intake_coal_type_put(st, argv[2], argv[3], ctx->actor, err, sizeof err);
        if (rc)
            return cli_error(rc == CM_ERR_INVALID ? CLI_USAGE : CLI_FAIL, "%s", err);
        printf("coal type %s saved\n", argv[2]);
        return CLI_OK;
    }
    if (!strcmp(a, "list")) {
        static const char *const k[] = {"code", "name", NULL};
        static const int w[] = {10, 10};
        return list_ledger(ctx, argc, argv, "coal_type", k, w);
    }
    fprintf(stderr, "usage: coalmon coal-type add CODE NAME   e.g. coalmon coal-type add washed 洗混煤\n"
                    "       coalmon coal-type list [--json]\n");
    return CLI_USAGE;
}
