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
        return cli_usage(argc > 1 ? argv[1] : NULL,
                         "usage: coalmon consistency check --from TIME --to TIME [--json]\n"
                         "  TIME is yyyy-MM-dd[ HH:mm], Beijing time\n");
    }
    int64_t from, to;
    ana_conf_t c;
    int rc = cli_range_opts(argc, argv, "consistency check", &from, &to);
    if (!rc && to <= from)
        rc = cli_error(CLI_USAGE, "--to must be after --from");
    if (!rc)
        rc = cli_ana_conf(ctx, &c);
    if (rc)
        return rc;
    sqlite3 *db = cli_reader(ctx, "consistency check");
    if (!db)
        return CLI_FAIL;
    char err[512];
    cJSON *a = NULL;
    rc = ana_consistency_check(db, &c, from, to, &a, err, sizeof err);
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
