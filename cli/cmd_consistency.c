/* coalmon consistency check: output-vs-electricity monitoring over stored
 * data; lists the conditions the daemon would raise (ANA-1, ALM-2, ALM-3). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analytics/analytics.h"
#include "cli/cli.h"

static void print_text(const cJSON *a)
{
    printf("%-20s %-16s %-19s %-19s %10s  %s\n", "type", "source", "start", "end", "deviation",
           "detail");
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach (c, a) {
        const cJSON *end = cJSON_GetObjectItem(c, "end"), *v = cJSON_GetObjectItem(c, "value");
        const cJSON *d = cJSON_GetObjectItem(c, "detail");
        char *dt = cJSON_PrintUnformatted(d);
        char dev[32] = "";
        if (cJSON_IsNumber(v) && !strncmp(cJSON_GetObjectItem(c, "type")->valuestring, "output", 6))
            snprintf(dev, sizeof dev, "%+.1f%%", v->valuedouble * 100);
        else if (cJSON_IsNumber(v))
            snprintf(dev, sizeof dev, "%.1f", v->valuedouble);
        printf("%-20s %-16s %-19s %-19s %10s  %s\n", cJSON_GetObjectItem(c, "type")->valuestring,
               cJSON_GetObjectItem(c, "source")->valuestring,
               cJSON_GetObjectItem(c, "start")->valuestring,
               cJSON_IsString(end) ? end->valuestring : "(ongoing)", dev, dt ? dt : "");
        cJSON_free(dt);
        n++;
    }
    printf("%d condition(s)\n", n);
}

int cmd_consistency(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "check")) {
        FILE *out = argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr;
        fprintf(out, "usage: coalmon consistency check --from TIME --to TIME [--json]\n"
                     "  TIME is yyyy-MM-dd[ HH:mm], Beijing time\n");
        return out == stdout ? CLI_OK : CLI_USAGE;
    }
    if (!cli_opt(argc, argv, "--from") || !cli_opt(argc, argv, "--to"))
        return cli_error(CLI_USAGE, "consistency check: --from and --to are required");
    int64_t from, to;
    ana_conf_t c;
    int rc = cli_time_opt(argc, argv, "--from", 0, &from);
    if (!rc)
        rc = cli_time_opt(argc, argv, "--to", 0, &to);
    if (!rc && to <= from)
        rc = cli_error(CLI_USAGE, "--to must be after --from");
    if (!rc)
        rc = cli_ana_conf(ctx, &c);
    if (rc)
        return rc;
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[512];
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    cJSON *a = NULL;
    rc = db ? ana_consistency_check(db, &c, from, to, &a, err, sizeof err) : CM_ERR_DB;
    store_reader_close(db);
    if (rc)
        return cli_error(CLI_FAIL, "consistency check: %s", err);
    if (ctx->json)
        cli_print_json(a);
    else {
        print_text(a);
        cJSON_Delete(a);
    }
    return CLI_OK;
}
