/* coalmon import history FILE.csv: interval history from an older monitoring
 * system, so the model can be fitted on day one (format: docs/analytics.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "cli/cli.h"

typedef struct bad {
    int n;
} bad_t;

static void on_bad(int line, const char *field, const char *msg, void *arg)
{
    bad_t *b = arg;
    if (b->n++ < 50)
        fprintf(stderr, "coalmon: line %d: %s: %s\n", line, field, msg);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *b = realloc(buf, cap * 2);
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    if (ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Store in chunks so a big file shows progress and no batch grows huge; the
 * file is validated completely before anything is stored. */
#define CHUNK 4096

int cmd_import_history(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 3 || argv[2][0] == '-')
        return cli_error(CLI_USAGE, "usage: coalmon import history FILE.csv [--allow-bad]");
    ana_conf_t c;
    int rc = cli_ana_conf(ctx, &c);
    if (rc)
        return rc;
    size_t len;
    char *text = slurp(argv[2], &len);
    if (!text)
        return cli_error(CLI_FAIL, "%s: %s", argv[2], strerror(errno ? errno : EIO));
    ana_interval_t *iv;
    size_t n;
    bad_t bad = {0};
    char err[512];
    rc = ana_history_parse(text, len, &iv, &n, on_bad, &bad, err, sizeof err);
    free(text);
    if (rc)
        return cli_error(CLI_FAIL, "%s: %s", argv[2], err);
    if (bad.n > 50)
        fprintf(stderr, "coalmon: ... %d more bad rows\n", bad.n - 50);
    if (bad.n && !cli_flag(argc, argv, "--allow-bad")) {
        free(iv);
        return cli_error(CLI_FAIL,
                         "%s: %d bad row(s); nothing stored (--allow-bad stores the "
                         "good rows)",
                         argv[2], bad.n);
    }
    store_t *st = cli_store(ctx);
    if (!st) {
        free(iv);
        return CLI_FAIL;
    }
    for (size_t i = 0; !rc && i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        rc = ana_db_put_intervals(st, iv + i, k, c.interval_s, "import", err, sizeof err);
        if (!ctx->json)
            fprintf(stderr, "\rcoalmon: stored %zu of %zu intervals", i + k, n);
    }
    if (!ctx->json)
        fputc('\n', stderr);
    free(iv);
    if (rc)
        return cli_error(CLI_FAIL, "storing the history: %s", err);
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "stored", (double)n);
        cJSON_AddNumberToObject(o, "bad_rows", bad.n);
        cli_print_json(o);
    } else {
        printf("%zu intervals stored, %d bad row(s) skipped\n", n, bad.n);
    }
    return CLI_OK;
}
