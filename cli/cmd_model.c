/* coalmon model fit|show|list: the output-vs-electricity model versions (ANA-1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/analytics.h"
#include "cli/cli.h"

int cli_ana_conf(cli_ctx_t *ctx, struct ana_conf *c)
{
    /* With --db and no configuration file, the defaults apply. */
    if (ctx->db_path && access(ctx->config_path, R_OK) != 0) {
        ana_conf_default(c);
        return CLI_OK;
    }
    cfg_t *cfg = cli_config(ctx);
    char err[512];
    if (!cfg)
        return CLI_FAIL;
    if (ana_conf_from_cfg(cfg, c, err, sizeof err))
        return cli_error(CLI_FAIL, "%s", err);
    return CLI_OK;
}

static void print_model(const ana_model_t *m, bool json)
{
    if (json) {
        cli_print_json(ana_model_json(m));
        return;
    }
    char from[24], to[24], at[24];
    tm_format_bj(m->window_from, from, sizeof from);
    tm_format_bj(m->window_to, to, sizeof to);
    tm_format_bj(m->fitted_at, at, sizeof at);
    printf("model v%lld, %s gate, fitted %s\n", (long long)m->id, ana_gate_name(m->gate), at);
    printf("  energy = %.3f kWh/run-hour (±%.3f) + %.4f kWh/t (±%.4f) + %.3f kWh (±%.3f)\n", m->a,
           m->se_a, m->b, m->se_b, m->c, m->se_c);
    printf("  sigma %.3f kWh (running %.3f), R² %.4f, %d intervals of %d s, %d outliers\n",
           m->sigma, m->sigma_run, m->r2, m->n, m->interval_s, m->n_outliers);
    printf("  window %s .. %s\n", from, to);
    char vf[24];
    tm_format_bj(m->valid_from ? m->valid_from : m->window_to, vf, sizeof vf);
    printf("  %s%s from %s (basis %s)\n", m->in_force ? "in force" : "proposed",
           m->pinned ? ", pinned" : "", vf, m->basis[0] ? m->basis : "-");
}

/* A person's fit declares its window trusted: in force from the window's
 * start (or --valid-from), optionally pinned (ANA-1, #13). */
static int fit(cli_ctx_t *ctx, int argc, char **argv)
{
    ana_conf_t c;
    ana_gate gate;
    int64_t from, to, valid_from;
    if (ana_gate_parse(cli_opt(argc, argv, "--gate"), &gate))
        return cli_error(CLI_USAGE, "--gate: expected transport or total");
    int rc = cli_ana_conf(ctx, &c);
    if (!rc)
        rc = cli_time_opt(argc, argv, "--to", tm_now_s(), &to);
    if (!rc)
        rc = cli_time_opt(argc, argv, "--from", 0, &from);
    if (!rc)
        rc = cli_time_opt(argc, argv, "--valid-from", 0, &valid_from);
    if (!rc && from && from >= to)
        rc = cli_error(CLI_USAGE, "model fit: --from must precede --to");
    if (rc)
        return rc;
    sqlite3 *db = cli_reader(ctx, NULL);
    if (!db)
        return CLI_FAIL;
    char err[512];
    ana_model_t m;
    ana_fit_req_t q = {.gate = gate,
                       .from = from,
                       .to = to,
                       .valid_from = valid_from,
                       .adopt = true,
                       .pin = cli_flag(argc, argv, "--pin"),
                       .basis = "engineer",
                       .actor = ctx->actor,
                       .channel = "cli"};
    rc = ana_db_fit_store(ctx->store, db, &c, &q, &m, err, sizeof err);
    store_reader_close(db);
    if (rc)
        return cli_error(CLI_FAIL, "model fit: %s", err);
    print_model(&m, ctx->json);
    return CLI_OK;
}

/* model pin VERSION / model unpin VERSION (audited). */
static int pin(cli_ctx_t *ctx, int argc, char **argv, bool on)
{
    char *end = NULL;
    long long id = argc > 2 ? strtoll(argv[2], &end, 10) : 0;
    if (!end || *end || id <= 0)
        return cli_error(CLI_USAGE, "model %s: VERSION must be a positive number",
                         on ? "pin" : "unpin");
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[512];
    ana_model_t m;
    if (ana_db_model_pin(st, id, on, ctx->actor, "cli", cli_opt(argc, argv, "--reason"), &m, err,
                         sizeof err))
        return cli_error(CLI_FAIL, "model %s: %s", on ? "pin" : "unpin", err);
    print_model(&m, ctx->json);
    return CLI_OK;
}

static int show(cli_ctx_t *ctx, int argc, char **argv)
{
    ana_gate gate;
    if (ana_gate_parse(cli_opt(argc, argv, "--gate"), &gate))
        return cli_error(CLI_USAGE, "--gate: expected transport or total");
    long long id = 0;
    if (argc > 2 && argv[2][0] != '-') {
        char *end;
        id = strtoll(argv[2], &end, 10);
        if (*end || id <= 0)
            return cli_error(CLI_USAGE, "model show: VERSION must be a positive number");
    }
    sqlite3 *db = cli_reader(ctx, NULL);
    if (!db)
        return CLI_FAIL;
    char err[512];
    ana_model_t m;
    int rc = id ? ana_db_model_get(db, id, &m, err, sizeof err)
                : ana_db_model(db, gate, 0, &m, err, sizeof err);
    store_reader_close(db);
    if (rc)
        return cli_error(CLI_FAIL, "%s", err);
    print_model(&m, ctx->json);
    return CLI_OK;
}

static int list(cli_ctx_t *ctx, int argc, char **argv)
{
    sqlite3 *db = cli_reader(ctx, NULL);
    if (!db)
        return CLI_FAIL;
    char err[512];
    cJSON *a = NULL;
    int rc = ana_db_models_json(db, 1000, &a, err, sizeof err);
    store_reader_close(db);
    if (rc)
        return cli_error(CLI_FAIL, "%s", err);
    if (ctx->json) {
        cli_print_json(a);
        return CLI_OK;
    }
    printf("%-8s %-10s %10s %10s %10s %8s %6s  %-19s  %-9s %s\n", "version", "gate", "a kWh/h",
           "b kWh/t", "c kWh", "R²", "n", "fitted", "status", "valid from");
    const cJSON *m;
    cJSON_ArrayForEach (m, a) {
        const cJSON *pinned = cJSON_GetObjectItem(m, "pinned");
        printf("%-8d %-10s %10.3f %10.4f %10.3f %8.4f %6d  %-19s  %-9s %s%s\n",
               cJSON_GetObjectItem(m, "version")->valueint,
               cJSON_GetObjectItem(m, "gate")->valuestring,
               cJSON_GetObjectItem(m, "a_kwh_per_run_hour")->valuedouble,
               cJSON_GetObjectItem(m, "b_kwh_per_t")->valuedouble,
               cJSON_GetObjectItem(m, "c_kwh_per_interval")->valuedouble,
               cJSON_GetObjectItem(m, "r2")->valuedouble,
               cJSON_GetObjectItem(m, "intervals")->valueint,
               cJSON_GetObjectItem(m, "fitted_at")->valuestring,
               cJSON_GetObjectItem(m, "status")->valuestring,
               cJSON_GetObjectItem(m, "valid_from")->valuestring,
               cJSON_IsTrue(pinned) ? " (pinned)" : "");
    }
    cJSON_Delete(a);
    return CLI_OK;
}

static int implied(cli_ctx_t *ctx, int argc, char **argv)
{
    ana_gate gate;
    if (ana_gate_parse(cli_opt(argc, argv, "--gate"), &gate))
        return cli_error(CLI_USAGE, "--gate: expected transport or total");
    ana_conf_t c;
    int64_t from, to;
    int rc = cli_range_opts(argc, argv, "model implied", &from, &to);
    if (!rc)
        rc = cli_ana_conf(ctx, &c);
    if (rc)
        return rc;
    sqlite3 *db = cli_reader(ctx, "model implied");
    if (!db)
        return CLI_FAIL;
    char err[512];
    cJSON *o = NULL;
    rc = ana_implied_json(db, &c, gate, from, to, &o, err, sizeof err);
    store_reader_close(db);
    if (rc)
        return cli_error(rc == CM_ERR_INVALID ? CLI_USAGE : CLI_FAIL, "model implied: %s", err);
    if (ctx->json) {
        cli_print_json(o);
        return CLI_OK;
    }
    size_t len; /* a table of many rows: CSV is what people open it with */
    char *csv = ana_report_csv(o, &len);
    if (csv)
        fwrite(csv, 1, len, stdout);
    free(csv);
    cJSON_Delete(o);
    return CLI_OK;
}

int cmd_model(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *act = argc > 1 ? argv[1] : "";
    if (!strcmp(act, "fit"))
        return fit(ctx, argc, argv);
    if (!strcmp(act, "show"))
        return show(ctx, argc, argv);
    if (!strcmp(act, "list"))
        return list(ctx, argc, argv);
    if (!strcmp(act, "implied"))
        return implied(ctx, argc, argv);
    if (!strcmp(act, "pin") || !strcmp(act, "unpin"))
        return pin(ctx, argc, argv, !strcmp(act, "pin"));
    return cli_usage(act, "usage: coalmon model fit [--gate transport|total] [--from TIME] [--to TIME]\n"
                          "                        [--valid-from TIME] [--pin]\n"
                          "         (declares the window's data trusted: the fit takes force)\n"
                          "       coalmon model pin|unpin VERSION [--reason TEXT]\n"
                          "       coalmon model show [VERSION] [--gate transport|total] [--json]\n"
                          "       coalmon model list [--json]\n"
                          "       coalmon model implied --from TIME --to TIME [--gate G] [--json]"
                          "  (CSV)\n");
}
