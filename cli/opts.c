/* Option and connection helpers shared by the nouns: Beijing times, a required
 * --from/--to pair, a read connection, and the usage text of a noun. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cli_time_opt(int argc, char **argv, const char *name, int64_t def, int64_t *out)
{
    const char *v = cli_opt(argc, argv, name);
    *out = def;
    if (!v)
        return CLI_OK;
    if (tm_parse_bj(v, out))
        return cli_error(CLI_USAGE, "%s: '%s' is not yyyy-MM-dd[ HH:mm] (Beijing time)", name, v);
    return CLI_OK;
}

int cli_range_opts(int argc, char **argv, const char *what, int64_t *from, int64_t *to)
{
    if (!cli_opt(argc, argv, "--from") || !cli_opt(argc, argv, "--to"))
        return cli_error(CLI_USAGE, "%s: --from and --to are required", what);
    int rc = cli_time_opt(argc, argv, "--from", 0, from);
    if (!rc)
        rc = cli_time_opt(argc, argv, "--to", 0, to);
    return rc;
}

sqlite3 *cli_reader(cli_ctx_t *ctx, const char *what)
{
    store_t *st = cli_store(ctx);
    if (!st)
        return NULL;
    char err[512];
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    if (!db && what)
        cli_error(CLI_FAIL, "%s: %s", what, err);
    else if (!db)
        cli_error(CLI_FAIL, "%s", err);
    return db;
}

int cli_usage(const char *arg, const char *text)
{
    bool help = arg && !strcmp(arg, "--help");
    fputs(text, help ? stdout : stderr);
    return help ? CLI_OK : CLI_USAGE;
}
