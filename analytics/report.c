/* analytics: RPT-1 reports (output, production-transport-sales, gate energy
 * per shift/day/month/year) and the energy summary. One JSON shape for the
 * dashboard, the API and the CLI; CSV is made from the same object. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/ledger.h"

static const char *const period_names[] = {"shift", "day", "month", "quarter", "year"};

static cJSON *num(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(round(v * 1000) / 1000) : cJSON_CreateNull();
}

static void columns(cJSON *r, const char *const *names)
{
    cJSON *c = cJSON_AddArrayToObject(r, "columns");
    for (; *names; names++)
        cJSON_AddItemToArray(c, cJSON_CreateString(*names));
}

static const char *const output_cols[] = {
    "period", "start", "tons", "run_hours", "t_per_run_hour", "vs_previous", "vs_last_year", NULL};
static const char *const pts_cols[] = {"period",
                                       "start",
                                       "output_t",
                                       "output_converted_t",
                                       "truck_sales_t",
                                       "trucks",
                                       "rail_sales_t",
                                       "inventory_change_t",
                                       "balance_diff_t",
                                       "balance_rel",
                                       "reported_output_t",
                                       "reported_truck_t",
                                       "reported_rail_t",
                                       "reported_inventory_t",
                                       NULL};
static const char *const energy_cols[] = {"period",
                                          "start",
                                          "transport_kwh",
                                          "total_kwh",
                                          "sub_kwh",
                                          "unmetered_share",
                                          "kwh_per_t_transport",
                                          "kwh_per_t_total",
                                          "tce",
                                          "co2_t",
                                          "critical_kwh",
                                          "peak_kwh",
                                          "flat_kwh",
                                          "valley_kwh",
                                          "cost_yuan",
                                          "total_vs_previous",
                                          "total_vs_last_year",
                                          NULL};

static void label(const tm_shift_plan_t *p, tm_period k, int64_t s, char *out, size_t len)
{
    int y, m, d, sh;
    tm_production_day(p, s, &y, &m, &d, &sh);
    if (k == TM_SHIFT)
        snprintf(out, len, "%04d-%02d-%02d %s", y, m, d, p->names[sh]);
    else if (k == TM_DAY)
        snprintf(out, len, "%04d-%02d-%02d", y, m, d);
    else if (k == TM_MONTH)
        snprintf(out, len, "%04d-%02d", y, m);
    else if (k == TM_QUARTER)
        snprintf(out, len, "%04d-Q%d", y, (m - 1) / 3 + 1);
    else
        snprintf(out, len, "%04d", y);
}

typedef struct ctx {
    sqlite3 *db;
    const ana_conf_t *c;
    tm_period period;
    ana_interval_t *iv, *ly; /* the range, and the same range a year before */
    size_t n, nly;
    int64_t from, to;
    double prev_tons, prev_total;
} ctx_t;

static void tou_of(const ctx_t *x, int64_t s, int64_t e, double out[ANA_TIERS])
{
    for (int i = 0; i < ANA_TIERS; i++)
        out[i] = 0;
    for (size_t i = ana_first_at(x->iv, x->n, s); i < x->n && x->iv[i].start < e; i++) {
        if (!isfinite(x->iv[i].total_kwh))
            continue;
        double part[ANA_TIERS];
        ana_tou_split(&x->c->tariff, &x->iv[i].start, &x->iv[i].total_kwh, 1, x->c->interval_s,
                      part);
        for (int t = 0; t < ANA_TIERS; t++)
            out[t] += part[t];
    }
}

static int row(ctx_t *x, const char *kind, int64_t s, int64_t e, cJSON *rows, char *err,
               size_t errlen)
{
    char name[64], start[24];
    label(&x->c->shifts, x->period, s, name, sizeof name);
    tm_format_bj(s, start, sizeof start);
    ana_sums_t a, ly;
    ana_sum_intervals(x->iv, x->n, s, e, &a);
    ana_sum_intervals(x->ly, x->nly, s - 365 * 86400, e - 365 * 86400, &ly);
    cJSON *r = cJSON_CreateArray();
    cJSON_AddItemToArray(r, cJSON_CreateString(name));
    cJSON_AddItemToArray(r, cJSON_CreateString(start));
    if (!strcmp(kind, "output")) {
        cJSON_AddItemToArray(r, num(a.tons));
        cJSON_AddItemToArray(r, num(a.run_h));
        cJSON_AddItemToArray(r, num(a.run_h > 0 ? a.tons / a.run_h : NAN));
        cJSON_AddItemToArray(r, num(ana_change(a.tons, x->prev_tons)));
        cJSON_AddItemToArray(r, num(ly.n_tons ? ana_change(a.tons, ly.tons) : NAN));
    } else if (!strcmp(kind, "pts")) {
        ana_ledger_t lg;
        int rc = ana_ledger_get(x->db, s, e, period_names[x->period], &lg, err, errlen);
        if (rc) {
            cJSON_Delete(r);
            return rc;
        }
        bool has_coef;
        double coef = ana_ledger_coef(x->db, x->c->coef_name, s, &has_coef);
        ana_balance_t b;
        ana_balance(a.tons * coef, lg.truck, lg.rail, lg.inv_start, lg.inv_end, x->c->tolerance,
                    &b);
        double v[] = {a.tons, b.output, lg.truck, lg.trucks, lg.rail, b.inv_change, b.diff, b.rel};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
            cJSON_AddItemToArray(r, num(v[i]));
        double p[] = {lg.pts_output, lg.pts_truck, lg.pts_rail, lg.pts_inventory};
        for (int i = 0; i < 4; i++)
            cJSON_AddItemToArray(r, lg.has_pts ? num(p[i]) : cJSON_CreateNull());
    } else {
        double tou[ANA_TIERS];
        tou_of(x, s, e, tou);
        const ana_energy_opts_t *eo = &x->c->energy;
        double v[] = {a.transport_kwh,
                      a.total_kwh,
                      a.n_sub ? a.sub_kwh : NAN,
                      a.n_sub ? ana_unmetered_share(a.total_kwh, a.sub_kwh) : NAN,
                      ana_kwh_per_t(a.transport_kwh, a.tons),
                      ana_kwh_per_t(a.total_kwh, a.tons),
                      a.total_kwh * eo->tce_per_kwh,
                      a.total_kwh * eo->co2_per_kwh,
                      tou[0],
                      tou[1],
                      tou[2],
                      tou[3],
                      ana_tou_cost(&x->c->tariff, tou),
                      ana_change(a.total_kwh, x->prev_total),
                      ly.total_kwh > 0 ? ana_change(a.total_kwh, ly.total_kwh) : NAN};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
            cJSON_AddItemToArray(r, num(v[i]));
    }
    x->prev_tons = a.n_tons ? a.tons : NAN;
    x->prev_total = a.total_kwh;
    cJSON_AddItemToArray(rows, r);
    return CM_OK;
}

int ana_report(sqlite3 *db, const ana_conf_t *c, const char *kind, tm_period period, int64_t from,
               int64_t to, cJSON **out, char *err, size_t errlen)
{
    const char *const *cols = !strcmp(kind, "output")   ? output_cols
                              : !strcmp(kind, "pts")    ? pts_cols
                              : !strcmp(kind, "energy") ? energy_cols
                                                        : NULL;
    if (!cols)
        return cm_fail(err, errlen, CM_ERR_INVALID, "report: expected output, pts or energy");
    if (to <= from || to - from > 11LL * 366 * 86400)
        return cm_fail(err, errlen, CM_ERR_INVALID,
                       "period: from must precede to, within 11 years");
    int64_t s, e;
    tm_period_bounds(&c->shifts, period, from, &s, &e);
    int64_t first = s;
    tm_period_bounds(&c->shifts, period, to - 1, &s, &e);
    int64_t last = e;
    ctx_t x = {.db = db,
               .c = c,
               .period = period,
               .from = first,
               .to = last,
               .prev_tons = NAN,
               .prev_total = NAN};
    /* From the period before the first, so the first row has its change too. */
    int64_t before, ignore;
    tm_period_bounds(&c->shifts, period, first - 1, &before, &ignore);
    int rc = ana_db_intervals(db, c, before, last, &x.iv, &x.n, err, errlen);
    if (!rc) {
        ana_sums_t p0;
        ana_sum_intervals(x.iv, x.n, before, first, &p0);
        x.prev_tons = p0.n_tons ? p0.tons : NAN;
        x.prev_total = p0.total_kwh > 0 ? p0.total_kwh : NAN;
    }
    if (!rc)
        rc = ana_db_intervals(db, c, first - 365 * 86400, last - 365 * 86400, &x.ly, &x.nly, err,
                              errlen);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "report", kind);
    cJSON_AddStringToObject(r, "period", period_names[period]);
    char t[24];
    tm_format_bj(first, t, sizeof t);
    cJSON_AddStringToObject(r, "from", t);
    tm_format_bj(last, t, sizeof t);
    cJSON_AddStringToObject(r, "to", t);
    columns(r, cols);
    cJSON *rows = cJSON_AddArrayToObject(r, "rows");
    /* Up to the period under way: a period yet to come has no output, and a
     * row of zeros (−100 % against the one before) would say it had. */
    int64_t now = tm_now_s();
    for (int64_t p = first; !rc && p < last && p <= now; p = e) {
        tm_period_bounds(&c->shifts, period, p, &s, &e);
        rc = row(&x, kind, s, e, rows, err, errlen);
    }
    free(x.iv);
    free(x.ly);
    if (rc) {
        cJSON_Delete(r);
        return rc;
    }
    *out = r;
    return CM_OK;
}

static void csv_cell(char **buf, size_t *len, size_t *cap, const cJSON *v)
{
    char tmp[512];
    if (cJSON_IsString(v)) {
        size_t k = 0;
        tmp[k++] = '"';
        for (const char *p = v->valuestring; *p && k < sizeof tmp - 3; p++) {
            if (*p == '"')
                tmp[k++] = '"';
            tmp[k++] = *p;
        }
        tmp[k++] = '"';
        tmp[k] = 0;
    } else if (cJSON_IsNumber(v)) {
        snprintf(tmp, sizeof tmp, "%.10g", v->valuedouble);
    } else {
        tmp[0] = 0;
    }
    size_t n = strlen(tmp);
    if (*len + n + 4 > *cap) {
        size_t nc = (*cap + n + 4) * 2;
        char *b = realloc(*buf, nc);
        if (!b)
            return;
        *buf = b;
        *cap = nc;
    }
    memcpy(*buf + *len, tmp, n);
    *len += n;
}

static void csv_put(char **buf, size_t *len, const char *s)
{
    size_t n = strlen(s);
    memcpy(*buf + *len, s, n); /* room for 4 was kept by csv_cell */
    *len += n;
}

char *ana_report_csv(const cJSON *report, size_t *len)
{
    size_t cap = 4096;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    *len = 0;
    csv_put(&buf, len, "\xEF\xBB\xBF");
    const cJSON *rows[2] = {NULL, NULL};
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(report, "columns"), *it, *cell;
    cJSON_ArrayForEach (it, cols) {
        csv_cell(&buf, len, &cap, it);
        csv_put(&buf, len, it->next ? "," : "\r\n");
    }
    rows[0] = cJSON_GetObjectItemCaseSensitive(report, "rows");
    cJSON_ArrayForEach (it, rows[0]) {
        cJSON_ArrayForEach (cell, it) {
            csv_cell(&buf, len, &cap, cell);
            csv_put(&buf, len, cell->next ? "," : "\r\n");
        }
    }
    buf[*len] = 0;
    return buf;
}

/* Period-on-period and year-on-year: the same length before, a year before. */
static int compare_json(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to,
                        const ana_sums_t *now, cJSON *o, char *err, size_t errlen)
{
    int64_t len = to - from;
    int64_t spans[2][2] = {{from - len, from}, {from - 365 * 86400, to - 365 * 86400}};
    const char *names[2] = {"previous", "last_year"};
    for (int k = 0; k < 2; k++) {
        ana_interval_t *iv;
        size_t n;
        int rc = ana_db_intervals(db, c, spans[k][0], spans[k][1], &iv, &n, err, errlen);
        if (rc)
            return rc;
        ana_sums_t b;
        ana_sum_intervals(iv, n, spans[k][0], spans[k][1], &b);
        free(iv);
        cJSON *p = cJSON_AddObjectToObject(o, names[k]);
        char t[24];
        tm_format_bj(spans[k][0], t, sizeof t);
        cJSON_AddStringToObject(p, "from", t);
        cJSON_AddItemToObject(p, "total_kwh", num(b.total_kwh));
        cJSON_AddItemToObject(p, "tons", num(b.tons));
        cJSON_AddItemToObject(p, "kwh_per_t_total", num(ana_kwh_per_t(b.total_kwh, b.tons)));
        cJSON_AddItemToObject(p, "total_kwh_change",
                              num(b.total_kwh > 0 ? ana_change(now->total_kwh, b.total_kwh) : NAN));
        double k_now = ana_kwh_per_t(now->total_kwh, now->tons),
               k_then = ana_kwh_per_t(b.total_kwh, b.tons);
        cJSON_AddItemToObject(p, "kwh_per_t_change", num(ana_change(k_now, k_then)));
    }
    return CM_OK;
}

int ana_energy_json(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to, cJSON **out,
                    char *err, size_t errlen)
{
    if (to <= from)
        return cm_fail(err, errlen, CM_ERR_INVALID, "from must precede to");
    ana_interval_t *iv;
    size_t n;
    int rc = ana_db_intervals(db, c, from, to, &iv, &n, err, errlen);
    if (rc)
        return rc;
    ana_sums_t a;
    ana_sum_intervals(iv, n, from, to, &a);
    ctx_t x = {.c = c, .iv = iv, .n = n};
    double tou[ANA_TIERS];
    tou_of(&x, from, to, tou);
    /* No-load running: belt running at under 10 % of its usual loaded rate. */
    double rate_sum = 0, noload_h = 0;
    int rate_n = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(iv[i].tons) && iv[i].run_h > 0.05) {
            rate_sum += iv[i].tons / iv[i].run_h;
            rate_n++;
        }
    double usual = rate_n ? rate_sum / rate_n : NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(iv[i].tons) && iv[i].run_h > 0 && iv[i].tons < 0.1 * usual * iv[i].run_h)
            noload_h += iv[i].run_h;
    free(iv);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "tons", num(a.tons));
    cJSON *g = cJSON_AddObjectToObject(o, "gates");
    cJSON_AddItemToObject(g, "transport_kwh", num(a.transport_kwh));
    cJSON_AddItemToObject(g, "total_kwh", num(a.total_kwh));
    cJSON_AddItemToObject(g, "sub_kwh", a.n_sub ? num(a.sub_kwh) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "unmetered_share",
                          num(a.n_sub ? ana_unmetered_share(a.total_kwh, a.sub_kwh) : NAN));
    cJSON_AddItemToObject(o, "kwh_per_t_transport", num(ana_kwh_per_t(a.transport_kwh, a.tons)));
    cJSON_AddItemToObject(o, "kwh_per_t_total", num(ana_kwh_per_t(a.total_kwh, a.tons)));
    cJSON_AddItemToObject(o, "tce", num(a.total_kwh * c->energy.tce_per_kwh));
    cJSON_AddItemToObject(o, "co2_t", num(a.total_kwh * c->energy.co2_per_kwh));
    cJSON *t = cJSON_AddObjectToObject(o, "time_of_use_kwh");
    for (int i = 0; i < ANA_TIERS; i++)
        cJSON_AddItemToObject(t, ana_tier_name(i), num(tou[i]));
    cJSON_AddItemToObject(o, "cost_yuan", num(ana_tou_cost(&c->tariff, tou)));
    cJSON *f = cJSON_AddObjectToObject(o, "saving_facts");
    double tot = tou[0] + tou[1] + tou[2] + tou[3];
    cJSON_AddItemToObject(f, "peak_share", num(tot > 0 ? (tou[0] + tou[1]) / tot : NAN));
    cJSON_AddItemToObject(f, "valley_share", num(tot > 0 ? tou[3] / tot : NAN));
    cJSON_AddItemToObject(f, "no_load_running_hours", num(noload_h));
    cJSON_AddItemToObject(f, "running_hours", num(a.run_h));
    rc = compare_json(db, c, from, to, &a, o, err, errlen);
    cJSON *gates = NULL;
    if (!rc && (rc = ana_gates_json(db, c, from, to, &gates, err, errlen)) == CM_ERR_DB)
        rc = CM_OK; /* no collector tables (history only): no per-device figures */
    /* Low power factor hours of the mine: those of the total gate(s). */
    int low_pf = 0;
    const cJSON *dev;
    cJSON_ArrayForEach(dev, gates)
    {
        const cJSON *type = cJSON_GetObjectItem(dev, "gate_type");
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "mine_total"))
            low_pf += cJSON_GetObjectItem(dev, "low_pf_hours")->valueint;
    }
    cJSON_AddNumberToObject(f, "low_pf_hours_total_gate", low_pf);
    cJSON_AddItemToObject(o, "devices", gates ? gates : cJSON_CreateArray());
    if (rc) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return CM_OK;
}
