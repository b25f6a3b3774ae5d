/* coalmon db: open (and so migrate) the database, show its schema version. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_db(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "migrate") && strcmp(argv[1], "status"))) {
        fprintf(stderr, "usage: coalmon db migrate|status [--json]\n"
                        "  migrate: create the database or bring it to the current schema\n"
                        "  status:  schema version and row counts\n");
        return CLI_USAGE;
    }
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[256];
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    if (!db)
        return cli_error(CLI_FAIL, "%s", err);
    sqlite3_stmt *s;
    int version = 0;
    long long readings = 0, devices = 0;
    if (!store_prepare(db, "SELECT (SELECT max(version) FROM schema_migration),"
                           " (SELECT count(*) FROM reading), (SELECT count(*) FROM device)",
                       &s, err, sizeof err)) {
        int rc = CM_OK;
        if (store_next(s, &rc, err, sizeof err)) {
            version = sqlite3_column_int(s, 0);
            readings = sqlite3_column_int64(s, 1);
            devices = sqlite3_column_int64(s, 2);
        }
        sqlite3_finalize(s);
        if (rc) {
            store_reader_close(db);
            return cli_error(CLI_FAIL, "%s", err);
        }
    }
    store_reader_close(db);
    if (ctx->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "path", store_path(st));
        cJSON_AddNumberToObject(j, "schema_version", version);
        cJSON_AddNumberToObject(j, "devices", (double)devices);
        cJSON_AddNumberToObject(j, "readings", (double)readings);
        cli_print_json(j);
    } else {
        printf("database %s\n  schema version %d\n  devices %lld\n  raw readings %lld\n",
               store_path(st), version, devices, readings);
    }
    return CLI_OK;
}
