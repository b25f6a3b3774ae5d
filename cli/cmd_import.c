/* coalmon import ACTION FILE: bring in what other systems can only export as
 * files. `tickets` (issue #9): weighbridge tickets from CSV, with the API's
 * validation, a line-numbered error report and progress on large files.
 * Each action is one case of the table at the bottom. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "analytics/analytics.h"
#include "intake/intake.h"

#define CHUNK 1000      /* tickets per write job when storing */
#define MAX_SHOWN 50    /* errors printed; all are counted */

int cli_intake_conf(cli_ctx_t *ctx, struct intake_conf *c)
{
    /* With --db and no configuration file, the defaults apply. */
    if (ctx->db_path && access(ctx->config_path, R_OK) != 0) {
        intake_conf_default(c);
        c->output = ana_output_for_intake;
        return CLI_OK;
    }
    cfg_t *cfg = cli_config(ctx);
    char err[512];
    if (!cfg)
        return CLI_FAIL;
    if (intake_conf_from_cfg(cfg, c, err, sizeof err))
        return cli_error(CLI_FAIL, "%s", err);
    c->output = ana_output_for_intake; /* analytics owns output over a period */
    return CLI_OK;
}

/* Column names as weighbridge software exports them (Chinese) -> API names. */
static const char *column(const char *h)
{
    static const char *const alias[][2] = {
        {"磅单号", "ticketId"}, {"单号", "ticketId"}, {"车牌号", "plate"}, {"车牌", "plate"},
        {"车型", "vehicleType"}, {"物料", "material"}, {"货物名称", "material"},
        {"方向", "direction"}, {"皮重时间", "tareTime"}, {"毛重时间", "grossTime"},
        {"毛重", "gross"}, {"皮重", "tare"}, {"净重", "net"}, {"磅号", "weighbridgeId"},
        {"地磅", "weighbridgeId"}, {"司磅员", "operator"}, {"合同号", "contractId"},
        {"前照片", "photoFront"}, {"顶照片", "photoTop"}, {"后照片", "photoRear"}};
    static const char *const api[] = {"ticketId", "plate", "vehicleType", "material", "direction",
                                      "tareTime", "grossTime", "gross", "tare", "net",
                                      "weighbridgeId", "operator", "contractId", "photoFront",
                                      "photoTop", "photoRear"};
    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++)
        if (!strcmp(h, api[i]))
            return api[i];
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (!strcmp(h, alias[i][0]))
            return alias[i][1];
    return NULL;
}

/* Chinese direction words of the exports -> out/in. */
static const char *direction(const char *v)
{
    static const char *const out[] = {"出", "出厂", "销售", "外销"};
    static const char *const in[] = {"入", "进", "入厂", "进厂", "采购"};
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        if (!strcmp(v, out[i]))
            return "out";
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        if (!strcmp(v, in[i]))
            return "in";
    return v;
}

typedef struct import {
    const char *cols[64];
    int ncols;
    intake_ticket_t *t;
    size_t n, cap;
    int errors;
    cJSON *report; /* [{line, field, error}] */
    long long last_pct;
} import_t;

/* A line every 5 %, only when the work is big enough for someone to wait. */
static void progress(const char *what, long long done, long long total, bool big, import_t *im)
{
    if (!big || total <= 0)
        return;
    long long pct = done * 100 / total;
    if (pct / 5 == im->last_pct / 5 && done < total)
        return;
    im->last_pct = pct;
    fprintf(stderr, "coalmon: %s %lld%%\n", what, pct);
}

static void add_error(import_t *im, int line, const char *field, const char *msg)
{
    im->errors++;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "line", line);
    cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "error", msg);
    cJSON_AddItemToArray(im->report, e);
}

static int header(import_t *im, char **f, int n, int line)
{
    im->ncols = n;
    for (int i = 0; i < n; i++) {
        im->cols[i] = column(f[i]);
        if (!im->cols[i]) {
            char msg[200];
            snprintf(msg, sizeof msg, "unknown column '%s'", f[i]);
            add_error(im, line, f[i], msg);
        }
    }
    return im->errors ? CM_ERR_INVALID : CM_OK;
}

static int row(import_t *im, char **f, int n, int line, const intake_conf_t *c,
               const intake_materials_t *m, int64_t now)
{
    if (n == 1 && !f[0][0])
        return CM_OK; /* a blank line */
    if (n != im->ncols) {
        char msg[96];
        snprintf(msg, sizeof msg, "%d fields, the header has %d", n, im->ncols);
        add_error(im, line, "", msg);
        return CM_OK;
    }
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < n; i++)
        cJSON_AddStringToObject(o, im->cols[i], !strcmp(im->cols[i], "direction") ? direction(f[i]) : f[i]);
    if (im->n == im->cap) {
        size_t cap = im->cap ? 2 * im->cap : 1024;
        intake_ticket_t *t = realloc(im->t, cap * sizeof *t);
        if (!t) {
            cJSON_Delete(o);
            return CM_ERR_NOMEM;
        }
        im->t = t;
        im->cap = cap;
    }
    intake_fault_t fl = {0};
    if (intake_ticket_parse(o, c, m, now, true, &im->t[im->n], &fl))
        add_error(im, line, fl.field, fl.msg);
    else
        im->n++;
    cJSON_Delete(o);
    return CM_OK;
}

/* Read and check the whole file; nothing is stored when a line is wrong. */
static int check_file(const char *path, import_t *im, const intake_conf_t *c,
                      const intake_materials_t *m, char *err, size_t errlen)
{
    intake_csv_t *csv = intake_csv_open(path, err, errlen);
    if (!csv)
        return CM_ERR_IO;
    int64_t now = tm_now_s();
    char **f;
    int line, n, rc = CM_OK;
    bool first = true;
    while (!rc && (n = intake_csv_next(csv, &f, &line, err, errlen)) != 0) {
        if (n < 0) {
            add_error(im, line, "", err);
            break; /* a broken quote leaves the rest unreadable */
        }
        rc = first ? header(im, f, n, line) : row(im, f, n, line, c, m, now);
        first = false;
        long long done, total;
        intake_csv_progress(csv, &done, &total);
        progress("checked", done, total, total >= (1 << 20), im);
    }
    if (first && !im->errors)
        add_error(im, 1, "", "the file is empty (a header line is needed)");
    intake_csv_close(csv);
    return rc == CM_ERR_INVALID ? CM_OK : rc; /* bad header: reported like any error */
}

static int import_tickets(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 3 || argv[2][0] == '-')
        return cli_error(CLI_USAGE, "usage: coalmon import tickets FILE.csv [--dry-run] [--json]\n"
                                    "  columns (header line): ticketId, plate, vehicleType, material,"
                                    " direction, tareTime,\n  grossTime, gross, tare, net,"
                                    " weighbridgeId, operator, contractId, photoFront,\n"
                                    "  photoTop, photoRear (or the Chinese names of docs/intake.md)");
    intake_conf_t c;
    int rc = cli_intake_conf(ctx, &c);
    store_t *st = rc ? NULL : cli_store(ctx);
    if (!st)
        return rc ? rc : CLI_FAIL;
    char err[512];
    intake_materials_t m;
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    if (!db || intake_materials_load(db, &m, err, sizeof err)) {
        store_reader_close(db);
        return cli_error(CLI_FAIL, "%s", err);
    }
    store_reader_close(db);
    import_t im = {.report = cJSON_CreateArray()};
    rc = check_file(argv[2], &im, &c, &m, err, sizeof err);
    im.last_pct = -5;
    intake_put_result_t total = {0};
    bool dry = cli_flag(argc, argv, "--dry-run");
    char source[80];
    snprintf(source, sizeof source, "cli:%s", ctx->actor);
    /* Chunks are jobs of their own; a re-run after a failure is safe (idempotent by id). */
    for (size_t i = 0; !rc && !im.errors && !dry && i < im.n; i += CHUNK) {
        intake_put_result_t r;
        size_t k = im.n - i < CHUNK ? im.n - i : CHUNK;
        rc = intake_tickets_put(st, im.t + i, k, source, &r, err, sizeof err);
        total.created += r.created;
        total.corrected += r.corrected;
        total.unchanged += r.unchanged;
        progress("stored", (long long)(i + k), (long long)im.n, im.n >= 20000, &im);
    }
    if (!rc && !im.errors && !dry) {
        intake_match_stats_t ms;
        intake_match_run(st, &c, tm_now_s(), &ms, NULL, 0);
    }
    int status = rc ? cli_error(CLI_FAIL, "%s", err) : im.errors ? CLI_FAIL : CLI_OK;
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", argv[2]);
        cJSON_AddBoolToObject(o, "stored", !rc && !im.errors && !dry);
        cJSON_AddNumberToObject(o, "valid", (double)im.n);
        cJSON_AddNumberToObject(o, "errors", im.errors);
        cJSON_AddNumberToObject(o, "created", total.created);
        cJSON_AddNumberToObject(o, "corrected", total.corrected);
        cJSON_AddNumberToObject(o, "unchanged", total.unchanged);
        cJSON_AddItemToObject(o, "problems", im.report);
        im.report = NULL;
        cli_print_json(o);
    } else if (im.errors) {
        int shown = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, im.report)
        {
            if (shown++ == MAX_SHOWN)
                break;
            fprintf(stderr, "%s:%d: %s: %s\n", argv[2], (int)cJSON_GetObjectItem(e, "line")->valuedouble,
                    cJSON_GetObjectItem(e, "field")->valuestring,
                    cJSON_GetObjectItem(e, "error")->valuestring);
        }
        fprintf(stderr, "coalmon: %d line(s) wrong%s; nothing stored\n", im.errors,
                im.errors > MAX_SHOWN ? " (first 50 shown, --json lists all)" : "");
    } else if (!rc) {
        printf("%s: %zu tickets %s: %d new, %d corrected, %d unchanged\n", argv[2], im.n,
               dry ? "valid (dry run, nothing stored)" : "stored", total.created, total.corrected,
               total.unchanged);
    }
    cJSON_Delete(im.report);
    free(im.t);
    return status;
}

int cmd_import(cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct {
        const char *action;
        int (*fn)(cli_ctx_t *, int, char **);
        const char *help;
    } actions[] = {
        {"tickets", import_tickets, "weighbridge tickets from CSV (issue #9)"},
        {"history", cmd_import_history, "history of output and energy from CSV (issue #6)"},
    };
    for (size_t i = 0; argc >= 2 && i < sizeof actions / sizeof actions[0]; i++)
        if (!strcmp(argv[1], actions[i].action))
            return actions[i].fn(ctx, argc, argv);
    fprintf(stderr, "usage: coalmon import ACTION FILE\n");
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        fprintf(stderr, "  %-9s %s\n", actions[i].action, actions[i].help);
    return CLI_USAGE;
}
