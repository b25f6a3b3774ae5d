/* coalmon meter read: the engineer's commissioning probe. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "collector/collector.h"

static void meter_usage(FILE *out)
{
    fprintf(out, "usage: coalmon meter read --model NAME --tcp HOST:PORT [--unit N]\n"
                 "                          [--maps DIR] [--timeout MS] [--json]\n"
                 "       coalmon meter read --model NAME --rtu DEVICE [--baud B]\n"
                 "                          [--parity N|E|O] [--unit N] [--timeout MS] [--json]\n"
                 "       coalmon meter models [--maps DIR] [--json]\n"
                 "  read: read every mapped point of a meter once and print it with its unit.\n"
                 "  models: list the register maps there are.\n");
}

static int meter_read(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *model = cli_opt(argc, argv, "--model");
    const char *tcp = cli_opt(argc, argv, "--tcp");
    const char *rtu = cli_opt(argc, argv, "--rtu");
    const char *baud_s = cli_opt(argc, argv, "--baud");
    const char *parity = cli_opt(argc, argv, "--parity");
    const char *unit_s = cli_opt(argc, argv, "--unit");
    const char *timeout_s = cli_opt(argc, argv, "--timeout");
    const char *maps = cli_opt(argc, argv, "--maps");
    col_link_opts_t link;
    int unit = 1, timeout = 1000;
    char *end;
    if (!model || (!tcp == !rtu)) {
        meter_usage(stderr);
        return cli_error(CLI_USAGE, "meter read needs --model and one of --tcp or --rtu");
    }
    if (tcp && col_link_parse_tcp(tcp, &link))
        return cli_error(CLI_USAGE, "--tcp: expected HOST:PORT, got '%s'", tcp);
    if (rtu) {
        col_link_rtu_default(&link, rtu);
        long b = baud_s ? strtol(baud_s, &end, 10) : 9600;
        if (baud_s && (*end || b < 1200 || b > 115200))
            return cli_error(CLI_USAGE, "--baud: expected 1200..115200, got '%s'", baud_s);
        if (parity && (strlen(parity) != 1 || !strchr("NEO", parity[0])))
            return cli_error(CLI_USAGE, "--parity: expected N, E or O, got '%s'", parity);
        link.baud = (int)b;
        link.parity = parity ? parity[0] : 'N';
    }
    const char *where = tcp ? tcp : rtu;
    if (unit_s && ((unit = (int)strtol(unit_s, &end, 10)), *end || unit < 0 || unit > 247))
        return cli_error(CLI_USAGE, "--unit: expected 0..247, got '%s'", unit_s);
    if (timeout_s && ((timeout = (int)strtol(timeout_s, &end, 10)), *end || timeout < 10))
        return cli_error(CLI_USAGE, "--timeout: expected milliseconds >= 10, got '%s'", timeout_s);
    col_map_t *map = malloc(sizeof *map);
    col_value_t *values = calloc(COL_MAX_POINTS, sizeof *values);
    char err[512];
    int rc = CLI_FAIL;
    if (!map || !values) {
        cli_error(CLI_FAIL, "out of memory");
        goto out;
    }
    if (col_map_load_model(maps ? maps : COALMON_CONF_DIR "/meters", model, map, err, sizeof err)) {
        cli_error(CLI_FAIL, "%s", err);
        goto out;
    }
    if (col_read_once(map, &link, unit, timeout, values, err, sizeof err)) {
        cli_error(CLI_FAIL, "meter %s at %s unit %d: %s", model, where, unit, err);
        goto out;
    }
    if (ctx->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", map->model);
        cJSON_AddStringToObject(j, "endpoint", where);
        cJSON_AddNumberToObject(j, "unit", unit);
        cJSON *pts = cJSON_AddArrayToObject(j, "points");
        for (int i = 0; i < map->count; i++) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "name", map->points[i].name);
            cJSON_AddStringToObject(p, "quantity", map->points[i].quantity);
            if (values[i].ok)
                cJSON_AddNumberToObject(p, "value", values[i].value);
            else
                cJSON_AddNullToObject(p, "value");
            cJSON_AddStringToObject(p, "unit", map->points[i].unit);
            cJSON_AddItemToArray(pts, p);
        }
        cli_print_json(j);
    } else {
        printf("%s at %s unit %d\n", map->model, where, unit);
        for (int i = 0; i < map->count; i++) {
            const col_point_t *p = &map->points[i];
            if (values[i].ok)
                printf("  %-10s 0x%04X  %14.3f %-6s %s\n", p->name, p->address, values[i].value,
                       p->unit, p->label);
            else
                printf("  %-10s 0x%04X  %14s %-6s %s\n", p->name, p->address, "(invalid)", p->unit,
                       p->label);
        }
    }
    rc = CLI_OK;
out:
    free(map);
    free(values);
    return rc;
}

static int meter_models(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *maps = cli_opt(argc, argv, "--maps");
    const char *dir = maps ? maps : COALMON_CONF_DIR "/meters";
    DIR *d = opendir(dir);
    if (!d)
        return cli_error(CLI_FAIL, "%s: %s", dir, strerror(errno));
    col_map_t *map = malloc(sizeof *map);
    cJSON *arr = cJSON_CreateArray();
    struct dirent *e;
    int rc = CLI_OK;
    while (map && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        char model[256], err[512];
        if (n <= 5 || strcmp(e->d_name + n - 5, ".json") || n - 5 >= sizeof model)
            continue;
        snprintf(model, sizeof model, "%.*s", (int)(n - 5), e->d_name);
        if (col_map_load_model(dir, model, map, err, sizeof err)) {
            fprintf(stderr, "coalmon: %s\n", err);
            rc = CLI_FAIL;
            continue;
        }
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "model", map->model);
        cJSON_AddStringToObject(m, "vendor", map->vendor);
        cJSON_AddNumberToObject(m, "points", map->count);
        cJSON_AddItemToArray(arr, m);
    }
    closedir(d);
    free(map);
    if (ctx->json) {
        cli_print_json(arr);
        return rc;
    }
    cJSON *m;
    cJSON_ArrayForEach(m, arr)
    printf("%-24s %-24s %3d points\n", cJSON_GetObjectItem(m, "model")->valuestring,
           cJSON_GetObjectItem(m, "vendor")->valuestring,
           (int)cJSON_GetObjectItem(m, "points")->valuedouble);
    cJSON_Delete(arr);
    return rc;
}

int cmd_meter(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        meter_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "read"))
        return meter_read(ctx, argc - 1, argv + 1);
    if (!strcmp(argv[1], "models"))
        return meter_models(ctx, argc - 1, argv + 1);
    meter_usage(stderr);
    return cli_error(CLI_USAGE, "unknown action 'meter %s'", argv[1]);
}
