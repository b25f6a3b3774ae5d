/* coalmon backtest: the daemon's detection replayed day by day over a history
 * — the mine's own (stored intervals) or simulated (--sim, with a fault) —
 * with chosen window, k, h and levels; reports false alarms per 30 days,
 * detection delay and time flagged while a fault persists, and a plain
 * daily-OLS baseline on the same history (ANA-1, ALM-3, #13). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/analytics.h"
#include "cli/cli.h"

static const char usage_text[] =
    "usage: coalmon backtest (--from TIME --to TIME | --sim [SIM OPTIONS]) [OPTIONS] [--json]\n"
    "  replays the daemon's detection day by day (first model fitted on --train-days,\n"
    "  declared trusted; scheduled refits adopted only when the gate is quiet)\n"
    "  history:   --from TIME --to TIME        the stored intervals (Beijing time)\n"
    "             --fault-from TIME [--fault-to TIME]  a known fault, for its figures\n"
    "  simulated: --sim [--days N (60)] [--seed N (1)] [--start yyyy-MM-dd]\n"
    "             [--fault step|drift|stopped-scale|stopped-meter|coef] [--size PCT (-5)]\n"
    "             [--fault-day D (30)] [--fault-hours H (0: lasts)]\n"
    "             [--write-csv FILE]  the simulated history as `coalmon import history` CSV\n"
    "  options:   --window DAYS  --refit-hours H  --k K  --h H  --day-limit L\n"
    "             --level-transport N  --level-total N  --train-days D (21)\n"
    "             --ack-after HOURS (24; -1: nobody acknowledges)\n";

static int num_opt(int argc, char **argv, const char *name, double min, double max, double *v)
{
    const char *s = cli_opt(argc, argv, name);
    if (!s)
        return CLI_OK;
    char *end;
    double x = strtod(s, &end);
    if (*end || !(x >= min && x <= max))
        return cli_error(CLI_USAGE, "%s: expected a number in %g..%g", name, min, max);
    *v = x;
    return CLI_OK;
}

static int parse_fault(const char *s, ana_sim_fault *f)
{
    static const struct {
        const char *name;
        ana_sim_fault f;
    } map[] = {{"step", ANA_SIM_FAULT_STEP},
               {"drift", ANA_SIM_FAULT_DRIFT},
               {"stopped-scale", ANA_SIM_FAULT_STOPPED_SCALE},
               {"stopped-meter", ANA_SIM_FAULT_STOPPED_METER},
               {"coef", ANA_SIM_FAULT_COEF}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(s, map[i].name)) {
            *f = map[i].f;
            return CLI_OK;
        }
    return cli_error(CLI_USAGE, "--fault: expected step, drift, stopped-scale, stopped-meter or coef");
}

/* The simulated history from the options (its fault sets the figures' times). */
static int sim_opts(int argc, char **argv, ana_sim_opts_t *s)
{
    ana_sim_opts_realistic(s);
    double days = 60, seed = 1, size = -5, fday = 30, fhours = 0;
    int rc = num_opt(argc, argv, "--days", 2, 3660, &days);
    if (!rc)
        rc = num_opt(argc, argv, "--seed", 1, 4e9, &seed);
    if (!rc)
        rc = num_opt(argc, argv, "--size", -90, 90, &size);
    if (!rc)
        rc = num_opt(argc, argv, "--fault-day", 0, 3660, &fday);
    if (!rc)
        rc = num_opt(argc, argv, "--fault-hours", 0, 24 * 3660, &fhours);
    if (!rc)
        rc = cli_time_opt(argc, argv, "--start", s->start, &s->start);
    const char *f = cli_opt(argc, argv, "--fault");
    if (!rc && f)
        rc = parse_fault(f, &s->fault);
    if (rc)
        return rc;
    s->days = (int)days;
    s->seed = (uint32_t)seed;
    if (s->fault) {
        s->fault_from = s->start + (int64_t)(fday * 86400) + 10 * 3600; /* a day shift */
        s->fault_to = fhours > 0 ? s->fault_from + (int64_t)(fhours * 3600) : 0;
        if (s->fault == ANA_SIM_FAULT_DRIFT) { /* size reached over 20 days */
            s->drift_per_day = size / 100 / 20;
            s->drift_max = fabs(size) / 100;
        } else {
            s->step = size / 100;
        }
    }
    return CLI_OK;
}

static int write_csv(const char *path, const ana_interval_t *iv, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return cli_error(CLI_FAIL, "--write-csv %s: cannot create", path);
    fprintf(f, "time,tons,transport_kwh,total_kwh,run_min,sub_kwh\n");
    for (size_t i = 0; i < n; i++) {
        char t[24];
        tm_format_bj(iv[i].start, t, sizeof t);
        t[16] = 0; /* yyyy-MM-dd HH:mm */
        fprintf(f, "%s,%.3f,", t, iv[i].tons);
        if (isfinite(iv[i].transport_kwh))
            fprintf(f, "%.3f", iv[i].transport_kwh);
        fprintf(f, ",%.3f,%.2f,", iv[i].total_kwh, iv[i].run_h * 60);
        if (isfinite(iv[i].sub_kwh))
            fprintf(f, "%.3f", iv[i].sub_kwh);
        fputc('\n', f);
    }
    if (fclose(f))
        return cli_error(CLI_FAIL, "--write-csv %s: write failed", path);
    return CLI_OK;
}

typedef struct sink {
    cJSON *eps[2];
    bool json;
    int last_pct;
} sink_t;

static void on_episode(ana_gate g, const ana_episode_t *e, const ana_model_t *m, void *arg)
{
    sink_t *k = arg;
    /* one row per episode: the closing report replaces its opening */
    cJSON *row = NULL, *it;
    char start[24];
    tm_format_bj(e->start, start, sizeof start);
    cJSON_ArrayForEach (it, k->eps[g]) {
        const cJSON *s = cJSON_GetObjectItem(it, "start");
        if (cJSON_IsString(s) && !strcmp(s->valuestring, start))
            row = it;
    }
    if (!row) {
        row = cJSON_CreateObject();
        cJSON_AddItemToArray(k->eps[g], row);
    }
    char t[24];
    cJSON_DeleteItemFromObject(row, "start");
    cJSON_AddStringToObject(row, "start", start);
    cJSON_DeleteItemFromObject(row, "shape");
    cJSON_AddStringToObject(row, "shape", ana_shape_name((ana_shape)e->shape));
    cJSON_DeleteItemFromObject(row, "direction");
    cJSON_AddStringToObject(row, "direction", e->sign < 0 ? "under" : "over");
    tm_format_bj(e->detected, t, sizeof t);
    cJSON_DeleteItemFromObject(row, "detected");
    cJSON_AddStringToObject(row, "detected", t);
    cJSON_DeleteItemFromObject(row, "end");
    if (e->end) {
        tm_format_bj(e->end, t, sizeof t);
        cJSON_AddStringToObject(row, "end", t);
    } else {
        cJSON_AddNullToObject(row, "end");
    }
    cJSON_DeleteItemFromObject(row, "model");
    cJSON_AddNumberToObject(row, "model", (double)m->id);
}

static void on_progress(int done, int total, void *arg)
{
    sink_t *k = arg;
    int pct = total ? 100 * done / total : 100;
    if (!k->json && total >= 30 && pct / 10 != k->last_pct / 10) /* long runs say how far */
        fprintf(stderr, "backtest: day %d of %d\n", done, total);
    k->last_pct = pct;
}

static cJSON *gate_json(const ana_bt_gate_t *g, cJSON *eps, int64_t fault)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "conditions", g->episodes);
    cJSON_AddNumberToObject(o, "false_alarms", g->false_alarms);
    cJSON_AddNumberToObject(o, "clean_days", g->clean_days);
    if (g->clean_days > 0)
        cJSON_AddNumberToObject(o, "false_alarms_per_30_days", 30 * g->false_alarms / g->clean_days);
    else
        cJSON_AddNullToObject(o, "false_alarms_per_30_days");
    if (fault && g->detected) {
        char t[24];
        tm_format_bj(g->detected, t, sizeof t);
        cJSON_AddStringToObject(o, "detected", t);
        cJSON_AddStringToObject(o, "shape", ana_shape_name((ana_shape)g->shape));
        cJSON_AddNumberToObject(o, "delay_h", g->delay_h);
        cJSON_AddNumberToObject(o, "delay_running_h", g->delay_run_h);
    } else if (fault) {
        cJSON_AddNullToObject(o, "detected");
    }
    if (fault && isfinite(g->flagged_share))
        cJSON_AddNumberToObject(o, "flagged_share", g->flagged_share);
    cJSON_AddNumberToObject(o, "models_proposed", g->models_proposed);
    cJSON_AddNumberToObject(o, "models_adopted", g->models_adopted);
    if (eps)
        cJSON_AddItemToObject(o, "episodes", eps);
    return o;
}

static void print_gate(const char *name, const cJSON *g, int64_t fault)
{
    const cJSON *fa = cJSON_GetObjectItem(g, "false_alarms_per_30_days");
    char per[32] = "-";
    if (cJSON_IsNumber(fa))
        snprintf(per, sizeof per, "%.2f", fa->valuedouble);
    printf("%s: %d condition(s); false alarms %d in %.0f clean days (%s per 30 days)\n", name,
           cJSON_GetObjectItem(g, "conditions")->valueint,
           cJSON_GetObjectItem(g, "false_alarms")->valueint,
           cJSON_GetObjectItem(g, "clean_days")->valuedouble, per);
    if (fault) {
        const cJSON *d = cJSON_GetObjectItem(g, "detected");
        const cJSON *fl = cJSON_GetObjectItem(g, "flagged_share");
        if (cJSON_IsString(d))
            printf("  fault detected %s (%s), %.1f h after it, %.1f h of belt running\n",
                   d->valuestring, cJSON_GetObjectItem(g, "shape")->valuestring,
                   cJSON_GetObjectItem(g, "delay_h")->valuedouble,
                   cJSON_GetObjectItem(g, "delay_running_h")->valuedouble);
        else
            printf("  fault not detected\n");
        if (cJSON_IsNumber(fl))
            printf("  flagged %.1f %% of the time the fault persists\n", 100 * fl->valuedouble);
    }
    const cJSON *eps = cJSON_GetObjectItem(g, "episodes"), *e;
    cJSON_ArrayForEach (e, eps) {
        const cJSON *end = cJSON_GetObjectItem(e, "end");
        printf("  %-13s %-5s start %s detected %s end %s\n",
               cJSON_GetObjectItem(e, "shape")->valuestring,
               cJSON_GetObjectItem(e, "direction")->valuestring,
               cJSON_GetObjectItem(e, "start")->valuestring,
               cJSON_GetObjectItem(e, "detected")->valuestring,
               cJSON_IsString(end) ? end->valuestring : "(ongoing)");
    }
}

/* The replay options from the configuration and the command line. */
static int bt_opts(cli_ctx_t *ctx, int argc, char **argv, bool sim, ana_bt_opts_t *o)
{
    ana_conf_t c;
    int rc = CLI_OK;
    if (sim && access(ctx->config_path, R_OK) != 0)
        ana_conf_default(&c); /* a simulated mine needs no installation */
    else
        rc = cli_ana_conf(ctx, &c);
    if (rc)
        return rc;
    ana_bt_opts_from_conf(&c, o);
    double window = o->window_days, refit = o->refit_hours, train = o->train_days;
    double k = c.cusum.k, h = c.cusum.h, dl = o->det[0].day_L;
    double lt = o->det[0].level, lo = o->det[1].level, ack = o->ack_after_h;
    struct {
        const char *name;
        double min, max, *v;
    } nums[] = {{"--window", 1, 366, &window},     {"--refit-hours", 1, 24 * 366, &refit},
                {"--train-days", 2, 366, &train},  {"--k", 0, 5, &k},
                {"--h", 0.5, 100, &h},             {"--day-limit", 0.5, 20, &dl},
                {"--level-transport", 1, 3, &lt},  {"--level-total", 1, 3, &lo},
                {"--ack-after", -1, 24 * 366, &ack}};
    for (size_t i = 0; !rc && i < sizeof nums / sizeof nums[0]; i++)
        rc = num_opt(argc, argv, nums[i].name, nums[i].min, nums[i].max, nums[i].v);
    if (rc)
        return rc;
    o->window_days = (int)window;
    o->refit_hours = (int)refit;
    o->train_days = (int)train;
    o->ack_after_h = ack;
    for (int g = 0; g < 2; g++) {
        o->det[g].cusum.k = k;
        o->det[g].cusum.h = h;
    }
    if (cli_opt(argc, argv, "--day-limit"))
        o->det[0].day_L = o->det[1].day_L = dl;
    o->det[0].level = (int)lt;
    o->det[1].level = (int)lo;
    return CLI_OK;
}

/* The stored intervals of [from, to), or NULL after printing the error. */
static ana_interval_t *stored(cli_ctx_t *ctx, int64_t from, int64_t to, size_t *n)
{
    ana_conf_t c;
    if (cli_ana_conf(ctx, &c))
        return NULL;
    sqlite3 *db = cli_reader(ctx, "backtest");
    if (!db)
        return NULL;
    char err[512];
    ana_interval_t *iv = NULL;
    if (ana_db_intervals(db, &c, from, to, &iv, n, err, sizeof err)) {
        cli_error(CLI_FAIL, "backtest: %s", err);
        iv = NULL;
    }
    store_reader_close(db);
    return iv;
}

int cmd_backtest(cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--help"))
        return cli_usage(argv[1], usage_text);
    bool sim = cli_flag(argc, argv, "--sim");
    if (!sim && (!cli_opt(argc, argv, "--from") || !cli_opt(argc, argv, "--to")))
        return cli_usage(NULL, usage_text);
    ana_bt_opts_t o;
    int rc = bt_opts(ctx, argc, argv, sim, &o);
    if (rc)
        return rc;
    ana_interval_t *iv = NULL;
    size_t n = 0;
    if (sim) {
        ana_sim_opts_t s;
        rc = sim_opts(argc, argv, &s);
        if (rc)
            return rc;
        s.interval_s = o.interval_s;
        n = ana_sim_count(&s);
        iv = malloc((n ? n : 1) * sizeof *iv);
        if (!iv)
            return cli_error(CLI_FAIL, "backtest: out of memory");
        ana_sim_intervals(&s, iv, n);
        o.fault_from = s.fault_from;
        o.fault_to = s.fault_to;
        const char *csv = cli_opt(argc, argv, "--write-csv");
        if (csv && (rc = write_csv(csv, iv, n))) {
            free(iv);
            return rc;
        }
    } else {
        int64_t from, to;
        rc = cli_range_opts(argc, argv, "backtest", &from, &to);
        if (!rc)
            rc = cli_time_opt(argc, argv, "--fault-from", 0, &o.fault_from);
        if (!rc)
            rc = cli_time_opt(argc, argv, "--fault-to", 0, &o.fault_to);
        if (rc)
            return rc;
        if (!(iv = stored(ctx, from, to, &n)))
            return CLI_FAIL;
    }
    sink_t k = {.json = ctx->json, .last_pct = -1};
    k.eps[0] = cJSON_CreateArray();
    k.eps[1] = cJSON_CreateArray();
    ana_bt_result_t r;
    char err[512];
    rc = ana_backtest(iv, n, &o, &r, on_episode, on_progress, &k, err, sizeof err);
    free(iv);
    if (rc) {
        cJSON_Delete(k.eps[0]);
        cJSON_Delete(k.eps[1]);
        return cli_error(CLI_FAIL, "backtest: %s", err);
    }
    cJSON *out = cJSON_CreateObject();
    char t[24];
    tm_format_bj(r.from, t, sizeof t);
    cJSON_AddStringToObject(out, "from", t);
    tm_format_bj(r.to, t, sizeof t);
    cJSON_AddStringToObject(out, "to", t);
    if (o.fault_from) {
        tm_format_bj(o.fault_from, t, sizeof t);
        cJSON_AddStringToObject(out, "fault_from", t);
    }
    cJSON *gates = cJSON_AddObjectToObject(out, "gates");
    cJSON_AddItemToObject(gates, "transport", gate_json(&r.gate[0], k.eps[0], o.fault_from));
    cJSON_AddItemToObject(gates, "total", gate_json(&r.gate[1], k.eps[1], o.fault_from));
    cJSON_AddItemToObject(out, "baseline_daily_ols", gate_json(&r.baseline, NULL, o.fault_from));
    if (ctx->json) {
        cli_print_json(out);
        return CLI_OK;
    }
    printf("backtest %s .. %s (after %d training days)\n",
           cJSON_GetObjectItem(out, "from")->valuestring,
           cJSON_GetObjectItem(out, "to")->valuestring, o.train_days);
    print_gate("transport gate", cJSON_GetObjectItem(gates, "transport"), o.fault_from);
    print_gate("total gate", cJSON_GetObjectItem(gates, "total"), o.fault_from);
    print_gate("plain daily OLS (transport)", cJSON_GetObjectItem(out, "baseline_daily_ols"),
               o.fault_from);
    cJSON_Delete(out);
    return CLI_OK;
}
