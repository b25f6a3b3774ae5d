/* coalmon enterprise: the platform's registry of reporting enterprises (UPL-4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "uplink/uplink.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: coalmon enterprise add --code CODE --name NAME [--key K --iv IV]\n"
            "                              [--capacity T] [--kind mine|platform]\n"
            "       coalmon enterprise list [--json]\n"
            "       coalmon enterprise import FILE|-\n"
            "  add:    register an enterprise or change it (key and IV as issued; capacity in t/a;\n"
            "          kind platform for a county that forwards its mines' records to us)\n"
            "  list:   code, name, kind, whether a key is set, capacity, last contact\n"
            "  import: the 9-digit codes of the networking specification's coal-mine list\n"
            "          (lines of number, name and code, tab- or comma-separated); existing\n"
            "          codes are kept as they are\n");
    return CLI_USAGE;
}

typedef struct add_arg {
    const char *code, *name, *kind, *key, *iv, *actor;
    double capacity;
} add_arg_t;

static int add_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    add_arg_t *a = arg;
    int rc = upl_enterprise_put_job(db, a->code, a->name, a->kind, a->key, a->iv, a->capacity, err,
                                    errlen);
    /* The audit row names what changed, never the key itself. */
    char what[300];
    snprintf(what, sizeof what, "name=%s%s%s", a->name, a->key ? ", key and iv set" : "",
             a->capacity > 0 ? ", capacity set" : "");
    return rc ? rc : store_audit(db, a->actor, "cli", "enterprise.add", a->code, NULL, what, NULL,
                                 err, errlen);
}

typedef struct import_arg {
    const char *text, *actor;
    int added, skipped;
} import_arg_t;

static int import_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    import_arg_t *a = arg;
    int rc = upl_enterprise_import_job(db, a->text, &a->added, &a->skipped, err, errlen);
    char what[64];
    snprintf(what, sizeof what, "%d added", a->added);
    return rc ? rc : store_audit(db, a->actor, "cli", "enterprise.import", "*", NULL, what, NULL,
                                 err, errlen);
}

static char *slurp(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0, r;
    char *buf = malloc(cap + 1);
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf)
        buf[n] = 0;
    if (f != stdin)
        fclose(f);
    return buf;
}

static int list(cli_ctx_t *ctx, store_t *st)
{
    char err[256];
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    cJSON *l = db ? upl_enterprise_list(db, err, sizeof err) : NULL;
    store_reader_close(db);
    if (!l)
        return cli_error(CLI_FAIL, "%s", err);
    if (ctx->json) {
        cli_print_json(l);
        return CLI_OK;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, l)
    {
        const cJSON *cap = cJSON_GetObjectItem(e, "capacity_t");
        const char *last = cJSON_GetStringValue(cJSON_GetObjectItem(e, "last_contact"));
        char capacity[32] = "-";
        if (cJSON_IsNumber(cap))
            snprintf(capacity, sizeof capacity, "%.0f t/a", cap->valuedouble);
        printf("%-10s %-8s %-6s %14s  %-19s  %s\n", cJSON_GetObjectItem(e, "code")->valuestring,
               cJSON_GetObjectItem(e, "kind")->valuestring,
               cJSON_IsTrue(cJSON_GetObjectItem(e, "has_key")) ? "key" : "no-key", capacity,
               last ? last : "never", cJSON_GetObjectItem(e, "name")->valuestring);
    }
    cJSON_Delete(l);
    return CLI_OK;
}

int cmd_enterprise(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *verb = argv[1];
    char err[300];
    if (!strcmp(verb, "add")) {
        add_arg_t a = {.code = cli_opt(argc, argv, "--code"), .name = cli_opt(argc, argv, "--name"),
                       .kind = cli_opt(argc, argv, "--kind"), .key = cli_opt(argc, argv, "--key"),
                       .iv = cli_opt(argc, argv, "--iv"), .actor = ctx->actor};
        const char *cap = cli_opt(argc, argv, "--capacity");
        upl_key_t k;
        if (!a.code || !a.name)
            return cli_error(CLI_USAGE, "--code and --name are required");
        if ((a.key || a.iv) && upl_key_set(&k, a.key, a.iv, err, sizeof err))
            return cli_error(CLI_USAGE, "%s", err);
        if (cap && (a.capacity = strtod(cap, NULL)) <= 0)
            return cli_error(CLI_USAGE, "--capacity: expected tonnes per year, > 0");
        store_t *st = cli_store(ctx);
        if (!st)
            return CLI_FAIL;
        if (store_write(st, add_job, &a, err, sizeof err))
            return cli_error(CLI_FAIL, "%s", err);
        printf("enterprise %s %s saved\n", a.code, a.name);
        return CLI_OK;
    }
    if (!strcmp(verb, "list")) {
        store_t *st = cli_store(ctx);
        return st ? list(ctx, st) : CLI_FAIL;
    }
    if (!strcmp(verb, "import") && argc >= 3) {
        import_arg_t a = {.actor = ctx->actor};
        char *text = slurp(argv[2]);
        if (!text)
            return cli_error(CLI_FAIL, "%s: cannot read", argv[2]);
        a.text = text;
        store_t *st = cli_store(ctx);
        int rc = st ? store_write(st, import_job, &a, err, sizeof err) : CM_ERR_IO;
        free(text);
        if (!st)
            return CLI_FAIL;
        if (rc)
            return cli_error(CLI_FAIL, "%s", err);
        if (a.added + a.skipped == 0)
            return cli_error(CLI_FAIL, "%s: no lines with a name and a 9-digit code", argv[2]);
        printf("%d enterprises added, %d already known\n", a.added, a.skipped);
        return CLI_OK;
    }
    return usage();
}
