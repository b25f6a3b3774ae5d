/* coalmon intake-key: API keys of the systems that post to intake (the
 * weighbridge system, exit cameras, the sales system). Only a hash is kept;
 * the key is shown once, when made. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "intake/intake.h"

int cmd_intake_key(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *a = argc >= 2 ? argv[1] : "";
    char err[256], key[65];
    if (!strcmp(a, "hash") && argc >= 3) { /* for the configuration file's api_keys */
        char hex[65];
        intake_key_hash(argv[2], hex);
        printf("%s\n", hex);
        return CLI_OK;
    }
    if ((!strcmp(a, "add") || !strcmp(a, "revoke")) && argc >= 3 && argv[2][0] != '-') {
        store_t *st = cli_store(ctx);
        if (!st)
            return CLI_FAIL;
        int rc = !strcmp(a, "add") ? intake_key_add(st, argv[2], ctx->actor, key, err, sizeof err)
                                   : intake_key_revoke(st, argv[2], ctx->actor, err, sizeof err);
        if (rc)
            return cli_error(CLI_FAIL, "%s", err);
        if (!strcmp(a, "revoke")) {
            printf("key %s revoked\n", argv[2]);
        } else if (ctx->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", argv[2]);
            cJSON_AddStringToObject(o, "key", key);
            cli_print_json(o);
        } else {
            printf("key for %s (shown only now; send it as header X-Api-Key):\n%s\n", argv[2], key);
        }
        return CLI_OK;
    }
    if (!strcmp(a, "list")) {
        sqlite3 *db = cli_intake_reader(ctx);
        sqlite3_stmt *s;
        if (!db)
            return CLI_FAIL;
        if (store_prepare(db, "SELECT name, created_at, revoked_at FROM intake_api_key ORDER BY name",
                          &s, err, sizeof err)) {
            store_reader_close(db);
            return cli_error(CLI_FAIL, "%s", err);
        }
        cJSON *arr = cJSON_CreateArray();
        int rc = CM_OK;
        while (!rc && store_next(s, &rc, err, sizeof err)) {
            cJSON *o = cJSON_CreateObject();
            char t[32];
            cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(s, 0));
            tm_format_bj(sqlite3_column_int64(s, 1), t, sizeof t);
            cJSON_AddStringToObject(o, "created", t);
            if (sqlite3_column_type(s, 2) == SQLITE_NULL) {
                cJSON_AddNullToObject(o, "revoked");
            } else {
                tm_format_bj(sqlite3_column_int64(s, 2), t, sizeof t);
                cJSON_AddStringToObject(o, "revoked", t);
            }
            cJSON_AddItemToArray(arr, o);
        }
        sqlite3_finalize(s);
        store_reader_close(db);
        if (rc) {
            cJSON_Delete(arr);
            return cli_error(CLI_FAIL, "%s", err);
        }
        if (ctx->json) {
            cli_print_json(arr);
        } else {
            static const char *const k[] = {"name", "created", "revoked", NULL};
            static const int w[] = {20, 19, 19};
            cli_intake_table(arr, k, w);
        }
        return CLI_OK;
    }
    fprintf(stderr, "usage: coalmon intake-key add NAME [--json]   make a key (shown once)\n"
                    "       coalmon intake-key revoke NAME\n"
                    "       coalmon intake-key list [--json]\n"
                    "       coalmon intake-key hash KEY             the sha256 for api_keys in the config\n");
    return CLI_USAGE;
}
