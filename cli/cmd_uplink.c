/* coalmon uplink: queue state, set-aside records, the upload log (UPL-3), and
 * the commissioning tools encrypt / decrypt / token (uplink.md §1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "uplink/uplink.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: coalmon uplink status [--json]\n"
            "       coalmon uplink log [--dest NAME] [--limit N] [--json]\n"
            "       coalmon uplink retry [--dest NAME] [--seq N] [--all]\n"
            "       coalmon uplink put TYPE FILE|-\n"
            "       coalmon uplink encrypt (--key K --iv IV | --dest NAME) < plain > base64\n"
            "       coalmon uplink decrypt (--key K --iv IV | --dest NAME) < base64 > plain\n"
            "       coalmon uplink token --mine CODE (--key K --iv IV | --dest NAME)\n"
            "                            [--time 'yyyy-MM-dd HH:mm:ss']\n"
            "  status:  queue depth and age per destination, set-aside records with the answer kept\n"
            "  log:     every attempt and its answer, newest first (default 50)\n"
            "  retry:   put set-aside records back in the queue (--all: also send failing ones now)\n"            "  put:     queue records of TYPE (a JSON object or array) for every destination that\n"
            "           takes TYPE, validated first: how a mine-side system (e.g. dual prevention,\n"
            "           scyf types) hands records over, and a test record when commissioning\n"
            "  encrypt/decrypt/token: what the platform receives, by hand; --dest takes the key\n"
            "           and IV of a configured destination from the keys file\n");
    return CLI_USAGE;
}

/* Key and IV from --key/--iv, or from the keys file for --dest; mine code of --dest too. */
static int get_key(cli_ctx_t *ctx, int argc, char **argv, upl_key_t *k, const char **mine)
{
    const char *key = cli_opt(argc, argv, "--key"), *iv = cli_opt(argc, argv, "--iv");
    const char *dest = cli_opt(argc, argv, "--dest");
    char err[300];
    if (key || iv) {
        if (upl_key_set(k, key, iv, err, sizeof err))
            return cli_error(CLI_USAGE, "%s", err);
        return CLI_OK;
    }
    if (!dest)
        return cli_error(CLI_USAGE, "give --key and --iv, or --dest NAME");
    cfg_t *cfg = cli_config(ctx);
    static upl_cfg_t c;
    if (!cfg)
        return CLI_FAIL;
    if (upl_cfg_load(cfg, &c, err, sizeof err))
        return cli_error(CLI_FAIL, "%s", err);
    for (int i = 0; i < c.ndest; i++)
        if (!strcmp(c.dest[i].name, dest)) {
            *k = c.dest[i].key;
            if (mine && !*mine)
                *mine = c.dest[i].mine_code;
            return CLI_OK;
        }
    return cli_error(CLI_FAIL, "no destination %s in the configuration", dest);
}

static char *read_all(FILE *in, size_t *len)
{
    size_t cap = 4096, n = 0, r;
    char *buf = malloc(cap + 1);
    while (buf && (r = fread(buf + n, 1, cap - n, in)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf)
        buf[n] = 0;
    *len = n;
    return buf;
}

static int do_crypt(cli_ctx_t *ctx, int argc, char **argv, bool enc)
{
    upl_key_t k;
    int rc = get_key(ctx, argc, argv, &k, NULL);
    if (rc)
        return rc;
    size_t len, outlen;
    char *in = read_all(stdin, &len), *out = NULL, err[256];
    if (!in)
        return cli_error(CLI_FAIL, "cannot read standard input");
    if (enc)
        rc = upl_encrypt(&k, in, len, &out, err, sizeof err);
    else
        rc = upl_decrypt(&k, in, len, &out, &outlen, err, sizeof err);
    free(in);
    if (rc)
        return cli_error(CLI_FAIL, "%s", err);
    if (enc)
        printf("%s\n", out);
    else
        fwrite(out, 1, outlen, stdout);
    free(out);
    return CLI_OK;
}

static int do_token(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *mine = cli_opt(argc, argv, "--mine"), *when = cli_opt(argc, argv, "--time");
    upl_key_t k;
    int rc = get_key(ctx, argc, argv, &k, &mine);
    if (rc)
        return rc;
    if (!mine)
        return cli_error(CLI_USAGE, "--mine CODE is required");
    int64_t t = tm_now_s();
    if (when && (strlen(when) != 19 || tm_parse_bj(when, &t)))
        return cli_error(CLI_USAGE, "--time: expected 'yyyy-MM-dd HH:mm:ss' (Beijing time)");
    char *tok, err[256], plain_time[24];
    if (upl_token_make(&k, mine, t, &tok, err, sizeof err))
        return cli_error(CLI_FAIL, "%s", err);
    tm_format_bj(t, plain_time, sizeof plain_time);
    if (ctx->json) {
        cJSON *j = cJSON_CreateObject();
        char plain[128];
        snprintf(plain, sizeof plain, "{mineCode=%s, time=%s}", mine, plain_time);
        cJSON_AddStringToObject(j, "plain", plain);
        cJSON_AddStringToObject(j, "token", tok);
        cli_print_json(j);
    } else
        printf("%s\n", tok);
    free(tok);
    return CLI_OK;
}

static int show_status(cli_ctx_t *ctx, sqlite3 *db)
{
    char err[256];
    cJSON *st = upl_queue_status(db, tm_now_ms(), err, sizeof err);
    if (!st)
        return cli_error(CLI_FAIL, "%s", err);
    if (ctx->json) {
        cli_print_json(st);
        return CLI_OK;
    }
    if (!cJSON_GetArraySize(st))
        printf("no destinations have been used yet\n");
    const cJSON *d, *a;
    cJSON_ArrayForEach(d, st)
    {
        const cJSON *age = cJSON_GetObjectItem(d, "oldest_age_s");
        printf("%-16s pending %-6d oldest %-10s aside %-4d delivered %d\n",
               cJSON_GetObjectItem(d, "destination")->valuestring,
               cJSON_GetObjectItem(d, "pending")->valueint,
               cJSON_IsNumber(age) ? "" : "-", cJSON_GetObjectItem(d, "aside")->valueint,
               cJSON_GetObjectItem(d, "delivered")->valueint);
        if (cJSON_IsNumber(age))
            printf("%16s oldest pending record is %.0f s old\n", "", age->valuedouble);
        const cJSON *la = cJSON_GetObjectItem(d, "last_attempt");
        if (cJSON_IsObject(la))
            printf("%16s last attempt %s: code %d %s\n", "",
                   cJSON_GetObjectItem(la, "time")->valuestring,
                   cJSON_GetObjectItem(la, "code")->valueint,
                   cJSON_GetObjectItem(la, "message")->valuestring);
        cJSON_ArrayForEach(a, cJSON_GetObjectItem(d, "aside_records"))
            printf("%16s aside seq %.0f %s %s after %d tries: %d %s\n", "",
                   cJSON_GetObjectItem(a, "seq")->valuedouble,
                   cJSON_GetObjectItem(a, "record_type")->valuestring,
                   cJSON_GetObjectItem(a, "record_id")->valuestring,
                   cJSON_GetObjectItem(a, "attempts")->valueint,
                   cJSON_GetObjectItem(a, "code")->valueint,
                   cJSON_GetStringValue(cJSON_GetObjectItem(a, "response")));
    }
    cJSON_Delete(st);
    return CLI_OK;
}

static int show_log(cli_ctx_t *ctx, sqlite3 *db, int argc, char **argv)
{
    const char *lim = cli_opt(argc, argv, "--limit");
    int limit = lim ? atoi(lim) : 50;
    if (limit < 1 || limit > 100000)
        return cli_error(CLI_USAGE, "--limit: expected 1..100000");
    char err[256];
    cJSON *log = upl_log_list(db, cli_opt(argc, argv, "--dest"), limit, err, sizeof err);
    if (!log)
        return cli_error(CLI_FAIL, "%s", err);
    if (ctx->json) {
        cli_print_json(log);
        return CLI_OK;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, log)
        printf("%s %-14s %-13s x%-4d seq %.0f-%.0f http %d code %d %-9s %s\n",
               cJSON_GetObjectItem(e, "time")->valuestring,
               cJSON_GetObjectItem(e, "destination")->valuestring,
               cJSON_GetObjectItem(e, "record_type")->valuestring,
               cJSON_GetObjectItem(e, "records")->valueint,
               cJSON_GetObjectItem(e, "first_seq")->valuedouble,
               cJSON_GetObjectItem(e, "last_seq")->valuedouble,
               cJSON_GetObjectItem(e, "http_status")->valueint,
               cJSON_GetObjectItem(e, "code")->valueint,
               cJSON_GetObjectItem(e, "outcome")->valuestring,
               cJSON_GetStringValue(cJSON_GetObjectItem(e, "message")));
    cJSON_Delete(log);
    return CLI_OK;
}

typedef struct put_arg {
    const char *type, *actor;
    const cJSON *recs;
    int n;
} put_arg_t;

static int put_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    put_arg_t *a = arg;
    const cJSON *r;
    int rc = CM_OK;
    cJSON_ArrayForEach(r, a->recs)
    {
        if (rc)
            break;
        /* replace: handing over a corrected record sends it again */
        rc = store_outbox_put(db, a->type, upl_record_id(r), r, true, err, errlen);
        a->n++;
    }
    char what[64];
    snprintf(what, sizeof what, "%d records", a->n);
    return rc ? rc : store_audit(db, a->actor, "cli", "uplink.put", a->type, NULL, what, NULL, err,
                                 errlen);
}

/* Validate every record first: all are queued or none. */
static int do_put(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 4)
        return usage();
    const char *type = argv[2];
    const char *prefix = upl_schema_known("cms", type) ? "cms" : "scyf";
    if (!upl_schema_known(prefix, type))
        return cli_error(CLI_USAGE, "%s: not a record type of the contract (cms: %s; scyf: %s)",
                         type, upl_schema_types("cms"), upl_schema_types("scyf"));
    FILE *f = strcmp(argv[3], "-") ? fopen(argv[3], "r") : NULL;
    if (strcmp(argv[3], "-") && !f)
        return cli_error(CLI_FAIL, "%s: cannot open", argv[3]);
    size_t len;
    char *text = read_all(f ? f : stdin, &len);
    if (f)
        fclose(f);
    cJSON *j = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (cJSON_IsObject(j)) {
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, j);
        j = arr;
    }
    if (!cJSON_IsArray(j) || !cJSON_GetArraySize(j)) {
        cJSON_Delete(j);
        return cli_error(CLI_FAIL, "%s: expected a JSON record or an array of records", argv[3]);
    }
    char field[64], err[256];
    int i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, j)
    {
        if (upl_validate(prefix, type, r, field, sizeof field, err, sizeof err)) {
            cJSON_Delete(j);
            return cli_error(CLI_FAIL, "record %d: %s (nothing queued)", i + 1, err);
        }
        i++;
    }
    store_t *st = cli_store(ctx);
    put_arg_t a = {.type = type, .actor = ctx->actor, .recs = j};
    int rc = st ? store_write(st, put_job, &a, err, sizeof err) : CM_ERR_IO;
    cJSON_Delete(j);
    if (!st)
        return CLI_FAIL;
    if (rc)
        return cli_error(CLI_FAIL, "%s", err);
    printf("%d %s records queued\n", a.n, type);
    return CLI_OK;
}

typedef struct retry_arg {
    const char *dest, *actor;
    int64_t seq;
    bool all;
    int changed;
} retry_arg_t;

static int retry_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    retry_arg_t *a = arg;
    int rc = upl_queue_retry_job(db, a->dest, a->seq, a->all, &a->changed, err, errlen);
    char n[32];
    snprintf(n, sizeof n, "%d records", a->changed);
    return rc ? rc : store_audit(db, a->actor, "cli", "uplink.retry", a->dest ? a->dest : "*",
                                 NULL, n, NULL, err, errlen);
}

int cmd_uplink(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *verb = argv[1];
    if (!strcmp(verb, "encrypt") || !strcmp(verb, "decrypt"))
        return do_crypt(ctx, argc, argv, verb[0] == 'e');
    if (!strcmp(verb, "token"))
        return do_token(ctx, argc, argv);
    if (!strcmp(verb, "put"))
        return do_put(ctx, argc, argv);
    if (strcmp(verb, "status") && strcmp(verb, "log") && strcmp(verb, "retry"))
        return usage();
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[256];
    if (!strcmp(verb, "retry")) {
        const char *seq = cli_opt(argc, argv, "--seq");
        retry_arg_t a = {.dest = cli_opt(argc, argv, "--dest"), .actor = ctx->actor,
                         .seq = seq ? atoll(seq) : 0, .all = cli_flag(argc, argv, "--all")};
        if (seq && a.seq <= 0)
            return cli_error(CLI_USAGE, "--seq: expected a record's sequence number");
        if (store_write(st, retry_job, &a, err, sizeof err))
            return cli_error(CLI_FAIL, "%s", err);
        printf("%d records queued again%s\n", a.changed,
               a.changed ? "; the daemon sends them within one tick" : "");
        return CLI_OK;
    }
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    if (!db)
        return cli_error(CLI_FAIL, "%s", err);
    int rc = !strcmp(verb, "status") ? show_status(ctx, db) : show_log(ctx, db, argc, argv);
    store_reader_close(db);
    return rc;
}
