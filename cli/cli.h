/*
 * cli: `coalmon`, the engineers' command line. Verbs are nouns then actions
 * (`coalmon meter read ...`). Exit 0 on success, 1 on failure, 2 on bad usage.
 * Each noun lives in its own cmd_<noun>.c and is listed in main.c's table.
 *
 * Ownership: cli_ctx_t is owned by main(); cli_store() opens the store on
 * first use and main() closes it. Commands print results to stdout and
 * errors to stderr, once, at this edge.
 */
#ifndef COALMON_CLI_H
#define COALMON_CLI_H

#include <stdbool.h>

#include "core/core.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli_ctx {
    const char *config_path; /* -c FILE, default $COALMON_CONFIG or /etc/coalmon/coalmond.json */
    const char *db_path;     /* --db FILE overrides the config's data_dir */
    bool json;               /* --json: machine output */
    const char *actor;       /* who makes changes: $SUDO_USER, $USER or "cli" */
    cfg_t *cfg;              /* loaded on demand by cli_config() */
    store_t *store;          /* opened on demand by cli_store() */
} cli_ctx_t;

/* The configuration, loaded on first use; NULL after printing the error. */
cfg_t *cli_config(cli_ctx_t *ctx);
/* The store, opened on first use; NULL after printing the error. */
store_t *cli_store(cli_ctx_t *ctx);
/* Print "coalmon: <message>" to stderr and return CLI_FAIL or CLI_USAGE. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a cJSON value to stdout (takes ownership). */
void cli_print_json(cJSON *j);

/* Find "--name value" in argv; returns value or NULL. */
const char *cli_opt(int argc, char **argv, const char *name);
/* True when "--name" is present. */
bool cli_flag(int argc, char **argv, const char *name);
/* "--name N" as an integer in min..max into *out, untouched when absent;
 * CLI_USAGE (printed) when the value is not such an integer. */
int cli_int_opt(int argc, char **argv, const char *name, int min, int max, int *out);

/* Nouns. argv[0] is the noun itself. */
int cmd_meter(cli_ctx_t *ctx, int argc, char **argv);
int cmd_db(cli_ctx_t *ctx, int argc, char **argv);
int cmd_coef(cli_ctx_t *ctx, int argc, char **argv);
int cmd_calibration(cli_ctx_t *ctx, int argc, char **argv);
int cmd_user(cli_ctx_t *ctx, int argc, char **argv);
int cmd_uplink(cli_ctx_t *ctx, int argc, char **argv);     /* issue #5 */
int cmd_enterprise(cli_ctx_t *ctx, int argc, char **argv); /* issue #5 */
int cmd_alarm(cli_ctx_t *ctx, int argc, char **argv);      /* issue #7 */
int cmd_threshold(cli_ctx_t *ctx, int argc, char **argv);  /* issue #7 */
/* issue #6, analytics: */
int cmd_model(cli_ctx_t *ctx, int argc, char **argv);
int cmd_consistency(cli_ctx_t *ctx, int argc, char **argv);
int cmd_backtest(cli_ctx_t *ctx, int argc, char **argv); /* issue #13 */
int cmd_capacity(cli_ctx_t *ctx, int argc, char **argv);
int cmd_report(cli_ctx_t *ctx, int argc, char **argv);
/* `coalmon import history FILE.csv`; argv[1] is "history" (called from cmd_import). */
int cmd_import_history(cli_ctx_t *ctx, int argc, char **argv);
/* The analytics configuration (defaults with --db and no config file); CLI_* code. */
struct ana_conf;
int cli_ana_conf(cli_ctx_t *ctx, struct ana_conf *c);
/* --xlsx FILE of `report` and `sales report` (RPT-1, RPT-2): report as an Excel
 * workbook titled with the configured "mine_name"; prints the error once.
 * CLI_OK or CLI_FAIL; report stays the caller's. */
int cli_xlsx_report(cli_ctx_t *ctx, const char *path, const cJSON *report);
/* Parse --name as Beijing time (def when absent); CLI_USAGE after printing. */
int cli_time_opt(int argc, char **argv, const char *name, int64_t def, int64_t *out);
/* The required --from and --to as Beijing times; CLI_USAGE after printing
 * "<what>: --from and --to are required" or the bad time. (cli/opts.c) */
int cli_range_opts(int argc, char **argv, const char *what, int64_t *from, int64_t *to);
/* A read connection to the store (close with store_reader_close); NULL after
 * printing the error, prefixed "<what>: " unless what is NULL. (cli/opts.c) */
sqlite3 *cli_reader(cli_ctx_t *ctx, const char *what);
/* A noun's usage text: to stdout and CLI_OK when arg is "--help", else to
 * stderr and CLI_USAGE. arg may be NULL. (cli/opts.c) */
int cli_usage(const char *arg, const char *text);

/* issue #9, intake (cli/cmd_import.c, cmd_ticket.c, cmd_sales.c, cmd_intake_key.c): */
int cmd_import(cli_ctx_t *ctx, int argc, char **argv);
int cmd_ticket(cli_ctx_t *ctx, int argc, char **argv);
int cmd_capture(cli_ctx_t *ctx, int argc, char **argv);
int cmd_exit_point(cli_ctx_t *ctx, int argc, char **argv);
int cmd_sales(cli_ctx_t *ctx, int argc, char **argv);
int cmd_inventory(cli_ctx_t *ctx, int argc, char **argv);
int cmd_contract(cli_ctx_t *ctx, int argc, char **argv);
int cmd_coal_type(cli_ctx_t *ctx, int argc, char **argv);
int cmd_intake_key(cli_ctx_t *ctx, int argc, char **argv);
int cmd_device(cli_ctx_t *ctx, int argc, char **argv); /* issue #4: device registry */
/* The intake configuration (defaults with --db and no config file); CLI_* code. */
struct intake_conf;
int cli_intake_conf(cli_ctx_t *ctx, struct intake_conf *c);
/* Print an array of objects as a table of keys (NULL-ended); frees arr. */
void cli_intake_table(cJSON *arr, const char *const *keys, const int *widths);
/* A read connection (close with store_reader_close), NULL after printing. */
sqlite3 *cli_intake_reader(cli_ctx_t *ctx);
/* --from/--to in Beijing time, default the last span seconds; CLI_* code. */
int cli_intake_range(int argc, char **argv, int64_t span, int64_t *from, int64_t *to);

#endif
