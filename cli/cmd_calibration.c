/* coalmon calibration: calibration and maintenance operation records (ACQ-5). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void cal_usage(FILE *out)
{
    fprintf(out,
            "usage: coalmon calibration add --device NAME --kind calibration|maintenance|parameter\n"
            "                               --operator NAME [--time 'yyyy-MM-dd HH:mm[:ss]']\n"
            "                               [--before TEXT] [--after TEXT] [--note TEXT]\n"
            "       coalmon calibration list [--device NAME] [--from T] [--to T] [--json]\n"
            "  add: keep the record, audit it (raises \"parameter modified\") and queue it\n"
            "       for upload as a `calibration` record. --time defaults to now.\n");
}

static int cal_add(cli_ctx_t *ctx, int argc, char **argv)
{
    store_calibration_t c = {0};
    int64_t id = 0;
    c.device = cli_opt(argc, argv, "--device");
    c.kind = cli_opt(argc, argv, "--kind");
    c.operator_name = cli_opt(argc, argv, "--operator");
    c.before = cli_opt(argc, argv, "--before");
    c.after = cli_opt(argc, argv, "--after");
    c.note = cli_opt(argc, argv, "--note");
    const char *time_s = cli_opt(argc, argv, "--time");
    c.time_s = tm_now_s();
    if (time_s && tm_parse_bj(time_s, &c.time_s))
        return cli_error(CLI_USAGE, "--time: expected 'yyyy-MM-dd HH:mm[:ss]' (Beijing time)");
    char err[256];
    const char *field;
    if (store_calibration_check(&c, tm_now_s(), &field, err, sizeof err)) {
        cal_usage(stderr);
        return cli_error(CLI_USAGE, "--%s", err);
    }
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    if (store_calibration_write(st, &c, ctx->actor, "cli", &id, err, sizeof err))
        return cli_error(CLI_FAIL, "calibration add: %s", err);
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)id);
        cli_print_json(o);
    } else {
        printf("calibration record %lld kept and queued for upload\n", (long long)id);
    }
    return CLI_OK;
}

static int cal_list(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *device = cli_opt(argc, argv, "--device");
    const char *from_s = cli_opt(argc, argv, "--from"), *to_s = cli_opt(argc, argv, "--to");
    int64_t from = 0, to = tm_now_s() + 86400;
    if ((from_s && tm_parse_bj(from_s, &from)) || (to_s && tm_parse_bj(to_s, &to)))
        return cli_error(CLI_USAGE, "--from/--to: expected 'yyyy-MM-dd[ HH:mm[:ss]]'");
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[256];
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    cJSON *arr = db ? store_calibration_list(db, device, from, to, 100000, err, sizeof err) : NULL;
    store_reader_close(db);
    if (!arr)
        return cli_error(CLI_FAIL, "%s", err);
    int n = cJSON_GetArraySize(arr);
    if (ctx->json) {
        cli_print_json(arr);
        return CLI_OK;
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        const cJSON *b = cJSON_GetObjectItem(o, "before"), *a = cJSON_GetObjectItem(o, "after");
        const cJSON *note = cJSON_GetObjectItem(o, "note");
        printf("%s  %-16s %-12s %-10s %s -> %s  %s\n", cJSON_GetObjectItem(o, "time")->valuestring,
               cJSON_GetObjectItem(o, "device")->valuestring,
               cJSON_GetObjectItem(o, "kind")->valuestring,
               cJSON_GetObjectItem(o, "operator")->valuestring, b ? b->valuestring : "-",
               a ? a->valuestring : "-", note ? note->valuestring : "");
    }
    cJSON_Delete(arr);
    if (!n)
        printf("no calibration or maintenance records\n");
    return CLI_OK;
}

int cmd_calibration(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        cal_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "add"))
        return cal_add(ctx, argc - 1, argv + 1);
    if (!strcmp(argv[1], "list"))
        return cal_list(ctx, argc - 1, argv + 1);
    cal_usage(stderr);
    return cli_error(CLI_USAGE, "unknown action 'calibration %s'", argv[1]);
}
