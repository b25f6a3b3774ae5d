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
    fprintf(out,
            "usage: coalmon meter read --model NAME (--tcp HOST:PORT | --rtu DEVICE [--baud B]\n"
            "                          [--parity N|E|O]) [--unit N] [--timeout MS] [--maps DIR]\n"
            "                          [--one-per-point] [--max-registers N]\n"
            "                          [--order ABCD|CDAB|BADC|DCBA] [--address-base 0|1]\n"
            "                          [--scan FROM-TO] [--json]\n"
            "       coalmon meter models [--maps DIR] [--json]\n"
            "  read: read every mapped point of a meter once and print it with its unit;\n"
            "        a block the meter refuses is split (runs, then one point per request)\n"
            "        and what was refused is named.\n"
            "    --one-per-point   one request per point (meters that refuse block reads)\n"
            "    --max-registers N at most N registers per request\n"
            "    --order O         word/byte order of every 32-bit value instead of the map's\n"
            "    --address-base 1  the meter counts registers from 1 (asks address - 1)\n"
            "    --scan FROM-TO    which unit ids answer (the map's first point), then stop\n"
            "  models: list the register maps there are.\n");
}

/* --order: the letters of a 32-bit value as in the maps. */
static int parse_order(const char *s, col_probe_opts_t *o)
{
    col_order_t ord;
    if (col_order_parse(s, COL_U32, &ord))
        return CLI_USAGE;
    o->word_swap_set = o->byte_swap_set = true;
    o->word_swap = ord.word_swap;
    o->byte_swap = ord.byte_swap;
    return CLI_OK;
}

static int link_opts(int argc, char **argv, col_link_opts_t *link)
{
    const char *tcp = cli_opt(argc, argv, "--tcp");
    const char *rtu = cli_opt(argc, argv, "--rtu");
    const char *parity = cli_opt(argc, argv, "--parity");
    if (tcp && col_link_parse_tcp(tcp, link))
        return cli_error(CLI_USAGE, "--tcp: expected HOST:PORT, got '%s'", tcp);
    if (!rtu)
        return CLI_OK;
    col_link_rtu_default(link, rtu);
    int rc = cli_int_opt(argc, argv, "--baud", 1200, 115200, &link->baud);
    if (rc)
        return rc;
    if (parity && (strlen(parity) != 1 || !strchr("NEO", parity[0])))
        return cli_error(CLI_USAGE, "--parity: expected N, E or O, got '%s'", parity);
    link->parity = parity ? parity[0] : 'N';
    return CLI_OK;
}

static int probe_opts(int argc, char **argv, col_probe_opts_t *o)
{
    const char *order = cli_opt(argc, argv, "--order");
    int base = 0;
    *o = (col_probe_opts_t){.unit = 1, .timeout_ms = 1000};
    int rc = cli_int_opt(argc, argv, "--unit", 0, 247, &o->unit);
    if (!rc)
        rc = cli_int_opt(argc, argv, "--timeout", 10, 60000, &o->timeout_ms);
    if (!rc)
        rc = cli_int_opt(argc, argv, "--max-registers", 1, 125, &o->max_registers);
    if (!rc)
        rc = cli_int_opt(argc, argv, "--address-base", 0, 1, &base);
    if (!rc && order && parse_order(order, o))
        rc = cli_error(CLI_USAGE, "--order: expected ABCD, CDAB, BADC or DCBA, got '%s'", order);
    o->address_shift = -base;
    o->one_per_point = cli_flag(argc, argv, "--one-per-point");
    return rc;
}

static int meter_scan(cli_ctx_t *ctx, const col_map_t *map, const col_link_opts_t *link,
                      const char *range, int timeout, const char *where)
{
    int from, to, found[248], n;
    char err[256], tail;
    if (sscanf(range, "%d-%d%c", &from, &to, &tail) != 2 || from < 1 || to > 247 || from > to)
        return cli_error(CLI_USAGE, "--scan: expected FROM-TO within 1..247, got '%s'", range);
    if (col_probe_scan(map, link, from, to, timeout, found, 248, &n, err, sizeof err))
        return cli_error(CLI_FAIL, "scan of %s: %s", where, err);
    if (ctx->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "endpoint", where);
        cJSON *u = cJSON_AddArrayToObject(j, "units");
        for (int i = 0; i < n; i++)
            cJSON_AddItemToArray(u, cJSON_CreateNumber(found[i]));
        cli_print_json(j);
    } else {
        printf("%s: %d of unit ids %d..%d answer:", where, n, from, to);
        for (int i = 0; i < n; i++)
            printf(" %d", found[i]);
        printf("\n");
    }
    return n ? CLI_OK : CLI_FAIL;
}

static const char *value_note(const col_value_t *v, char *buf, size_t len)
{
    if (v->quality == COL_Q_REFUSED)
        snprintf(buf, len, "(refused: exception %02d)", v->exception);
    else
        snprintf(buf, len, "(undecodable)");
    return buf;
}

static void print_probe(cli_ctx_t *ctx, const col_map_t *map, const char *where, int unit,
                        const col_value_t *values, const col_probe_report_t *rep)
{
    char note[64];
    if (ctx->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", map->model);
        cJSON_AddStringToObject(j, "endpoint", where);
        cJSON_AddNumberToObject(j, "unit", unit);
        cJSON_AddNumberToObject(j, "requests", rep->requests);
        cJSON_AddNumberToObject(j, "splits", rep->splits);
        cJSON_AddNumberToObject(j, "refused", rep->refused);
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
            cJSON_AddNumberToObject(p, "quality", values[i].quality);
            if (values[i].exception)
                cJSON_AddNumberToObject(p, "exception", values[i].exception);
            cJSON_AddItemToArray(pts, p);
        }
        cli_print_json(j);
        return;
    }
    printf("%s at %s unit %d\n", map->model, where, unit);
    for (int i = 0; i < map->count; i++) {
        const col_point_t *p = &map->points[i];
        if (values[i].ok)
            printf("  %-10s 0x%04X  %14.3f %-6s %s\n", p->name, p->address, values[i].value,
                   p->unit, p->label);
        else
            printf("  %-10s 0x%04X  %14s %-6s %s %s\n", p->name, p->address, "-", p->unit,
                   p->label, value_note(&values[i], note, sizeof note));
    }
    printf("%d requests", rep->requests);
    if (rep->splits)
        printf("; %d blocks refused and split (use --max-registers or one_per_point)", rep->splits);
    if (rep->refused)
        printf("; %d points refused by the meter (check the map against its manual)",
               rep->refused);
    printf("\n");
}

static int meter_read(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *model = cli_opt(argc, argv, "--model");
    const char *tcp = cli_opt(argc, argv, "--tcp");
    const char *rtu = cli_opt(argc, argv, "--rtu");
    const char *maps = cli_opt(argc, argv, "--maps");
    const char *scan = cli_opt(argc, argv, "--scan");
    col_link_opts_t link;
    col_probe_opts_t o;
    if (!model || (!tcp == !rtu)) {
        meter_usage(stderr);
        return cli_error(CLI_USAGE, "meter read needs --model and one of --tcp or --rtu");
    }
    int rc = link_opts(argc, argv, &link);
    if (!rc)
        rc = probe_opts(argc, argv, &o);
    if (rc)
        return rc;
    const char *where = tcp ? tcp : rtu;
    col_map_t *map = malloc(sizeof *map);
    col_value_t *values = calloc(COL_MAX_POINTS, sizeof *values);
    col_probe_report_t rep;
    char err[512];
    rc = CLI_FAIL;
    if (!map || !values) {
        cli_error(CLI_FAIL, "out of memory");
        goto out;
    }
    if (col_map_load_model(maps ? maps : COALMON_CONF_DIR "/meters", model, map, err, sizeof err)) {
        cli_error(CLI_FAIL, "%s", err);
        goto out;
    }
    if (scan) {
        rc = meter_scan(ctx, map, &link, scan, o.timeout_ms, where);
        goto out;
    }
    if (col_probe(map, &link, &o, values, &rep, err, sizeof err)) {
        cli_error(CLI_FAIL, "meter %s at %s unit %d: %s (after %d requests)", model, where,
                  o.unit, err, rep.requests);
        goto out;
    }
    print_probe(ctx, map, where, o.unit, values, &rep);
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
