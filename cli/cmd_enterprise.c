/* coalmon enterprise: the platform's registry of reporting enterprises (UPL-4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "uplink/uplink.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: coalmon enterprise add --code CODE --name NAME [--key K --iv IV]\n"
            "                              [--capacity T] [--kind mine|platform]\n"
            "       coalmon enterprise list [--json]\n"
            "       coalmon enterprise import FILE|-\n"
            "       coalmon enterprise show CODE [--days N] [--json]\n"
            "       coalmon enterprise records CODE [--type T] [--from T] [--to T]\n"
            "                              [--limit N] [--offset N] [--json]\n"
            "  add:    register an enterprise or change it (key and IV as issued; capacity in t/a;\n"
            "          kind platform for a county that forwards its mines' records to us)\n"
            "  list:   code, name, kind, whether a key is set, capacity, last contact\n"
            "  import: the 9-digit codes of the networking specification's coal-mine list\n"
            "          (lines of number, name and code, tab- or comma-separated); existing\n"
            "          codes are kept as they are\n"
            "  show:   what the county screen shows of one enterprise, and the records it sent\n"
            "          per type in the last N days (default 7)\n"
            "  records: the records received from it, newest first; --from/--to in Beijing\n"
            "          time (yyyy-MM-dd[ HH:mm[:ss]]) bound the received time\n");
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

/* The uplink configuration; with --db and no configuration file, the defaults. */
static int upl_conf(cli_ctx_t *ctx, upl_cfg_t *c)
{
    upl_cfg_default(c);
    if (ctx->db_path && access(ctx->config_path, R_OK) != 0)
        return CLI_OK;
    cfg_t *cfg = cli_config(ctx);
    char err[300];
    if (!cfg)
        return CLI_FAIL;
    if (upl_cfg_load(cfg, c, err, sizeof err))
        return cli_error(CLI_FAIL, "%s", err);
    return CLI_OK;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
    return s ? s : "-";
}

static void print_show(const cJSON *o)
{
    const cJSON *mtd = cJSON_GetObjectItem(o, "month_to_date");
    const cJSON *lo = cJSON_GetObjectItem(o, "latest_output");
    const cJSON *ratio = cJSON_GetObjectItem(mtd, "ratio");
    printf("%s %s (%s)%s\n", str_of(o, "code"), str_of(o, "name"), str_of(o, "kind"),
           cJSON_IsTrue(cJSON_GetObjectItem(o, "silent")) ? "  SILENT" : "");
    printf("last contact   %s\n", str_of(o, "last_contact"));
    if (cJSON_IsObject(lo))
        printf("latest output  %.3f t  %s .. %s\n",
               cJSON_GetNumberValue(cJSON_GetObjectItem(lo, "tons")), str_of(lo, "startTime"),
               str_of(lo, "endTime"));
    printf("month to date  %.3f t", cJSON_GetNumberValue(cJSON_GetObjectItem(mtd, "tons")));
    if (cJSON_IsNumber(ratio))
        printf("  (%.1f %% of the month limit %.0f t)", ratio->valuedouble * 100,
               cJSON_GetNumberValue(cJSON_GetObjectItem(mtd, "month_limit_t")));
    printf("\nopen alarms    %d\nmissing        %.0f s of interval records\n",
           (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "open_alarms")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(o, "gaps_seconds")));
    const cJSON *p = cJSON_GetObjectItem(o, "period"), *n;
    const cJSON *total = cJSON_GetObjectItem(o, "counts_total");
    printf("records received %s .. %s (ever):\n", str_of(p, "from"), str_of(p, "to"));
    cJSON_ArrayForEach(n, cJSON_GetObjectItem(o, "counts"))
        printf("  %-22s %8.0f (%.0f)\n", n->string, n->valuedouble,
               cJSON_GetNumberValue(cJSON_GetObjectItem(total, n->string)));
}

static int show(cli_ctx_t *ctx, int argc, char **argv)
{
    int days = 7;
    upl_cfg_t c;
    int rc = cli_int_opt(argc, argv, "--days", 1, 92, &days);
    if (rc || (rc = upl_conf(ctx, &c)))
        return rc;
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[300];
    cJSON *o = NULL;
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    rc = db ? upl_enterprise_show(db, &c, argv[2], tm_now_s(), days, &o, err, sizeof err)
            : CM_ERR_DB;
    store_reader_close(db);
    if (rc)
        return cli_error(CLI_FAIL, "enterprise show: %s", err);
    if (ctx->json) {
        cli_print_json(o); /* frees o */
        return CLI_OK;
    }
    print_show(o);
    cJSON_Delete(o);
    return CLI_OK;
}

static void print_records(const cJSON *o)
{
    const cJSON *r;
    printf("%-19s  %-20s %-4s  %s\n", "received", "type", "rev", "id");
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(o, "records"))
    {
        printf("%-19s  %-20s %4d  %s", str_of(r, "received"), str_of(r, "type"),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "revisions")), str_of(r, "id"));
        const cJSON *b = cJSON_GetObjectItem(r, "body"), *v;
        if ((v = cJSON_GetObjectItem(b, "tons")) && cJSON_IsNumber(v))
            printf("  %.3f t", v->valuedouble);
        if ((v = cJSON_GetObjectItem(b, "kwh")) && cJSON_IsNumber(v))
            printf("  %.3f kWh", v->valuedouble);
        if (cJSON_GetObjectItem(r, "start"))
            printf("  %s .. %s", str_of(r, "start"), str_of(r, "end"));
        putchar('\n');
    }
    printf("%d of %.0f\n", cJSON_GetArraySize(cJSON_GetObjectItem(o, "records")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(o, "total")));
}

static int records(cli_ctx_t *ctx, int argc, char **argv)
{
    upl_records_q_t q = {.code = argv[2], .type = cli_opt(argc, argv, "--type"), .limit = 100};
    int rc = cli_int_opt(argc, argv, "--limit", 1, 100000, &q.limit);
    if (!rc)
        rc = cli_int_opt(argc, argv, "--offset", 0, 100000000, &q.offset);
    if (!rc)
        rc = cli_time_opt(argc, argv, "--from", 0, &q.from_s);
    if (!rc)
        rc = cli_time_opt(argc, argv, "--to", 0, &q.to_s);
    if (rc)
        return rc;
    if (q.type && !upl_schema_known("cms", q.type) && !upl_schema_known("scyf", q.type))
        return cli_error(CLI_USAGE, "--type: no record type %s", q.type);
    if (q.from_s && q.to_s && q.to_s <= q.from_s)
        return cli_error(CLI_USAGE, "--to: must be after --from");
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[300];
    cJSON *o = NULL;
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    rc = db ? upl_received_list(db, &q, &o, err, sizeof err) : CM_ERR_DB;
    store_reader_close(db);
    if (rc)
        return cli_error(CLI_FAIL, "enterprise records: %s", err);
    if (ctx->json) {
        cli_print_json(o); /* frees o */
        return CLI_OK;
    }
    print_records(o);
    cJSON_Delete(o);
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
    if (!strcmp(verb, "show") && argc >= 3 && argv[2][0] != '-')
        return show(ctx, argc, argv);
    if (!strcmp(verb, "records") && argc >= 3 && argv[2][0] != '-')
        return records(ctx, argc, argv);
    return usage();
}
