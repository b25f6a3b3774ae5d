/* coalmon: the engineers' command line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <unistd.h>

#include "cli/cli.h"

typedef struct noun {
    const char *name;
    int (*fn)(cli_ctx_t *ctx, int argc, char **argv);
    const char *summary;
} noun_t;

static const noun_t nouns[] = {
    {"meter", cmd_meter, "read a meter once over Modbus TCP or RTU; list register maps"},
    {"db", cmd_db, "database: migrate, show the schema version"},
    {"calibration", cmd_calibration, "calibration and maintenance records (ACQ-5): add (uploaded), list"},
    {"coef", cmd_coef, "conversion coefficients (raw to gross, scale factors): set, show, history"},
    {"user", cmd_user, "dashboard and API accounts: add, list, passwd, role, disable"},
    {"uplink", cmd_uplink, "upload queue: status, log, retry; encrypt, decrypt, token by hand"},
    {"enterprise", cmd_enterprise, "platform: enterprises reporting to us: add, list, import"},
    {"model", cmd_model, "output-vs-electricity model: fit, show, list versions"},
    {"consistency", cmd_consistency, "check output against electricity over stored data"},
    {"backtest", cmd_backtest, "replay detection over a history or a simulated one: figures"},
    {"capacity", cmd_capacity, "approved annual capacity: set (audited), show use and forecast"},
    {"report", cmd_report, "reports: output, pts (production-transport-sales), energy; --csv"},
    {"alarm", cmd_alarm, "alarms: list, show, ack, shelve, clear, history, pending"},
    {"threshold", cmd_threshold, "alarm settings per type: hold-off, hysteresis, level (audited)"},
    /* issue #9, intake: */
    {"import", cmd_import, "import files: tickets (weighbridge CSV), history"},
    {"ticket", cmd_ticket, "weighbridge tickets: list, show (with corrections)"},
    {"capture", cmd_capture, "exit captures: list, escapes, match now"},
    {"exit-point", cmd_exit_point, "exit capture points: add (audited), list"},
    {"sales", cmd_sales, "figures shift..YTD, RPT-2 reports, rail sales, the mine system's figures"},
    {"inventory", cmd_inventory, "stockpile surveys: survey, list"},
    {"contract", cmd_contract, "sales contracts: add (audited), list with deliveries"},
    {"coal-type", cmd_coal_type, "coal types: add, list"},
    {"intake-key", cmd_intake_key, "API keys of the weighbridge, cameras, sales system"},
    {"device", cmd_device, "device registry: list, show, history of states (issue #4)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: coalmon [-c CONFIG] [--db FILE] [--json] NOUN ACTION [ARGS]\n\n"
                 "nouns:\n");
    for (const noun_t *n = nouns; n->name; n++)
        fprintf(out, "  %-12s %s\n", n->name, n->summary);
    fprintf(out, "\n`coalmon NOUN --help` tells the actions of a noun.\n"
                 "Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("coalmon: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

void cli_print_json(cJSON *j)
{
    char *s = cJSON_Print(j);
    if (s)
        puts(s);
    cJSON_free(s);
    cJSON_Delete(j);
}

const char *cli_opt(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

bool cli_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

int cli_int_opt(int argc, char **argv, const char *name, int min, int max, int *out)
{
    const char *v = cli_opt(argc, argv, name);
    if (!v)
        return CLI_OK;
    char *end;
    long n = strtol(v, &end, 10); /* out of range: LONG_MIN/MAX, beyond min..max */
    if (!*v || *end || n < min || n > max)
        return cli_error(CLI_USAGE, "%s: expected an integer in %d..%d, got '%s'", name, min, max,
                         v);
    *out = (int)n;
    return CLI_OK;
}

cfg_t *cli_config(cli_ctx_t *ctx)
{
    if (ctx->cfg)
        return ctx->cfg;
    char err[512];
    ctx->cfg = cfg_load(ctx->config_path, err, sizeof err);
    if (!ctx->cfg)
        cli_error(CLI_FAIL, "%s", err);
    return ctx->cfg;
}

store_t *cli_store(cli_ctx_t *ctx)
{
    if (ctx->store)
        return ctx->store;
    char err[512], path[1024];
    if (ctx->db_path) {
        snprintf(path, sizeof path, "%s", ctx->db_path);
    } else {
        cfg_t *cfg = cli_config(ctx);
        if (!cfg)
            return NULL;
        cfg_sec_t root = cfg_root(cfg);
        char dir[512];
        if (cfg_get_string(&root, "data_dir", false, "/var/lib/coalmon", dir, sizeof dir, err,
                           sizeof err)) {
            cli_error(CLI_FAIL, "%s", err);
            return NULL;
        }
        snprintf(path, sizeof path, "%s/coalmon.db", dir);
    }
    ctx->store = store_open(path, NULL, err, sizeof err);
    if (!ctx->store)
        cli_error(CLI_FAIL, "%s", err);
    return ctx->store;
}

int main(int argc, char **argv)
{
    cli_ctx_t ctx = {.config_path = getenv("COALMON_CONFIG")};
    if (!ctx.config_path)
        ctx.config_path = "/etc/coalmon/coalmond.json";
    /* The audit names a person: the sudo caller, else the login, else the uid's name. */
    ctx.actor = getenv("SUDO_USER") ? getenv("SUDO_USER") : getenv("USER");
    if (!ctx.actor) {
        struct passwd *pw = getpwuid(getuid());
        ctx.actor = pw ? pw->pw_name : "cli";
    }
    log_setup("coalmon", LOG_LVL_WARN, false);

    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            ctx.config_path = argv[++i];
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            ctx.db_path = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            ctx.json = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CLI_OK;
        } else {
            usage(stderr);
            return cli_error(CLI_USAGE, "unknown option %s", argv[i]);
        }
    }
    if (i >= argc) {
        usage(stderr);
        return CLI_USAGE;
    }
    /* --json may also come after the verb, where engineers tend to type it. */
    if (cli_flag(argc - i, argv + i, "--json"))
        ctx.json = true;
    int rc = CLI_USAGE;
    const noun_t *n = nouns;
    for (; n->name; n++)
        if (strcmp(n->name, argv[i]) == 0)
            break;
    if (n->name)
        rc = n->fn(&ctx, argc - i, argv + i);
    else {
        usage(stderr);
        cli_error(CLI_USAGE, "unknown noun '%s'", argv[i]);
    }
    store_close(ctx.store);
    cfg_free(ctx.cfg);
    return rc;
}
