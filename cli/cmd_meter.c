/* coalmon meter read: the engineer's commissioning probe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "collector/collector.h"

static void meter_usage(FILE *out)
{
    fprintf(out, "usage: coalmon meter read --model NAME --tcp HOST:PORT [--unit N]\n"
                 "                          [--maps DIR] [--timeout MS] [--json]\n"
                 "       coalmon meter models [--maps DIR]\n"
                 "  read: read every mapped point of a meter once and print it with its unit.\n");
}

static int parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= hostlen)
        return CM_ERR_INVALID;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
        return CM_ERR_INVALID;
    snprintf(host, hostlen, "%.*s", (int)(colon - s), s);
    *port = (int)p;
    return CM_OK;
}

static int meter_read(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *model = cli_opt(argc, argv, "--model");
    const char *tcp = cli_opt(argc, argv, "--tcp");
    const char *unit_s = cli_opt(argc, argv, "--unit");
    const char *timeout_s = cli_opt(argc, argv, "--timeout");
    const char *maps = cli_opt(argc, argv, "--maps");
    char host[128];
    int port, unit = 1, timeout = 1000;
    char *end;
    if (!model || !tcp) {
        meter_usage(stderr);
        return cli_error(CLI_USAGE, "meter read needs --model and --tcp");
    }
    if (parse_hostport(tcp, host, sizeof host, &port))
        return cli_error(CLI_USAGE, "--tcp: expected HOST:PORT, got '%s'", tcp);
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
    if (col_read_tcp_once(map, host, port, unit, timeout, values, err, sizeof err)) {
        cli_error(CLI_FAIL, "meter %s at %s unit %d: %s", model, tcp, unit, err);
        goto out;
    }
    if (ctx->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", map->model);
        cJSON_AddStringToObject(j, "endpoint", tcp);
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
        printf("%s at %s unit %d\n", map->model, tcp, unit);
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

int cmd_meter(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        meter_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "read"))
        return meter_read(ctx, argc - 1, argv + 1);
    meter_usage(stderr);
    return cli_error(CLI_USAGE, "unknown action 'meter %s'", argv[1]);
}
