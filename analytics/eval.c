/* analytics store layer: the daemon's periodic evaluation — refit on
 * schedule, monitor, and the period checks: mass balance and the two sales
 * sources (ANA-4, ALM-4), capacity (ALM-1), meter balance (ANA-2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/eval.h"

static void cond_init(ana_condition_t *c, const char *type, const char *source, int64_t start,
                      int64_t end)
{
    memset(c, 0, sizeof *c);
    snprintf(c->type, sizeof c->type, "%s", type);
    snprintf(c->source, sizeof c->source, "%s", source);
    c->start = start;
    c->end = end;
    c->value = c->threshold = NAN;
}

static int put_or_end(ana_write_t *w, bool on, const ana_condition_t *c)
{
    return ana_cond_add(on ? &w->put : &w->end, c);
}

/* One completed period [s, e): output x coefficient against sales and
 * inventory; weighbridge against the sales system. Skipped when the period
 * has no sales data at all (a mine without intake would alarm every day). */
static int balance_period(sqlite3 *db, const ana_conf_t *c, const char *kind, int64_t s, int64_t e,
                          char *err, size_t errlen, ana_write_t *w)
{
    ana_ledger_t lg;
    int rc = ana_ledger_get(db, s, e, kind, &lg, err, errlen);
    if (rc || (!lg.has_sales && !lg.has_pts))
        return rc;
    ana_interval_t *iv;
    size_t n;
    rc = ana_db_intervals(db, c, s, e, &iv, &n, err, errlen);
    if (rc)
        return rc;
    ana_sums_t sum;
    ana_sum_intervals(iv, n, s, e, &sum);
    free(iv);
    bool has_coef;
    double coef = ana_ledger_coef(db, c->coef_name, s, &has_coef);
    ana_balance_t b;
    ana_balance(sum.tons * coef, lg.truck, lg.rail, lg.inv_start, lg.inv_end, c->tolerance, &b);
    ana_condition_t cd;
    cond_init(&cd, "output_sales", kind, s, 0); /* present while it does not balance */
    cd.level = 2;
    cd.value =
        b.output > 0 || b.accounted > 0 ? b.diff / fmax(fabs(b.output), fabs(b.accounted)) : 0;
    cd.threshold = c->tolerance;
    snprintf(cd.detail, sizeof cd.detail,
             "{\"output_t\":%.1f,\"coefficient\":%.4f,\"coefficient_set\":%s,\"truck_t\":%.1f,"
             "\"rail_t\":%.1f,\"inventory_change_t\":%.1f,\"inventory_known\":%s,"
             "\"difference_t\":%.1f}",
             b.output, coef, has_coef ? "true" : "false", b.truck, b.rail, b.inv_change,
             lg.has_inventory ? "true" : "false", b.diff);
    rc = put_or_end(w, b.exceeded && lg.has_sales, &cd);
    if (!rc && lg.has_pts) {
        double ours = lg.truck + lg.rail, theirs = lg.pts_truck + lg.pts_rail, rel;
        bool off = ana_compare(ours, theirs, c->tolerance, &rel);
        cond_init(&cd, "sales_sources", kind, s, 0);
        cd.level = 1;
        cd.value = theirs != 0 || ours != 0 ? (ours - theirs) / fmax(fabs(ours), fabs(theirs)) : 0;
        cd.threshold = c->tolerance;
        snprintf(cd.detail, sizeof cd.detail,
                 "{\"weighbridge_t\":%.1f,\"sales_system_t\":%.1f,\"trucks\":%d}", ours, theirs,
                 lg.trucks);
        rc = put_or_end(w, off, &cd);
    }
    return rc;
}

static int capacity_period(const ana_conf_t *c, const char *source, double limit, double output,
                           int64_t s, int64_t e, int64_t now, ana_write_t *w)
{
    ana_cap_use_t u;
    ana_capacity_eval(limit, output, s, e, now, &c->cap, &u);
    ana_condition_t cd;
    cond_init(&cd, "over_production", source, s, 0);
    /* warnings 1, the major-hazard line itself 3 */
    cd.level = u.level > c->cap.n_warn ? 3 : 1;
    cd.value = output;
    cd.threshold = limit;
    char when[24] = "";
    if (u.crossing)
        tm_format_bj(u.crossing, when, sizeof when);
    snprintf(cd.detail, sizeof cd.detail,
             "{\"share\":%.4f,\"limit_t\":%.0f,\"forecast_t\":%.0f,\"run_rate_t_per_day\":%.1f,"
             "\"crossing\":%s%s%s,\"level_index\":%d}",
             u.share, limit, u.forecast, u.run_rate, u.crossing ? "\"" : "",
             u.crossing ? when : "null", u.crossing ? "\"" : "", u.level);
    return put_or_end(w, u.level > 0, &cd);
}

static int capacity_checks(sqlite3 *db, const ana_conf_t *c, int64_t now, ana_write_t *w, char *err,
                           size_t errlen)
{
    double tpa;
    int rc = ana_db_capacity(db, now, &tpa, NULL, err, errlen);
    if (rc)
        return rc == CM_ERR_NOTFOUND ? CM_OK : rc;
    int64_t ys, ye, ms, me;
    tm_period_bounds(&c->shifts, TM_YEAR, now, &ys, &ye);
    tm_period_bounds(&c->shifts, TM_MONTH, now, &ms, &me);
    ana_interval_t *iv;
    size_t n;
    rc = ana_db_intervals(db, c, ys, now, &iv, &n, err, errlen);
    if (rc)
        return rc;
    ana_sums_t y, m;
    ana_sum_intervals(iv, n, ys, now, &y);
    ana_sum_intervals(iv, n, ms, now, &m);
    free(iv);
    rc = capacity_period(c, "year", tpa * (1 + c->cap.year_over), y.tons, ys, ye, now, w);
    if (!rc)
        rc = capacity_period(c, "month", tpa * c->cap.month_share, m.tons, ms, me, now, w);
    ana_condition_t sw; /* a new year or month ends the last one's condition */
    cond_init(&sw, "over_production", "year", ys, 0);
    if (!rc)
        rc = ana_cond_add(&w->sweep, &sw);
    cond_init(&sw, "over_production", "month", ms, 0);
    if (!rc)
        rc = ana_cond_add(&w->sweep, &sw);
    return rc;
}

/* Yesterday's unmetered share against the median of the 14 days before. */
static int meter_balance(sqlite3 *db, const ana_conf_t *c, int64_t now, ana_write_t *w, char *err,
                         size_t errlen)
{
    int64_t ds, de;
    tm_period_bounds(&c->shifts, TM_DAY, now, &ds, &de);
    int64_t from = ds - 15 * 86400;
    ana_interval_t *iv;
    size_t n;
    int rc = ana_db_intervals(db, c, from, ds, &iv, &n, err, errlen);
    if (rc)
        return rc;
    double share[15];
    for (int d = 0; d < 15; d++) {
        ana_sums_t s;
        ana_sum_intervals(iv, n, from + d * 86400, from + (d + 1) * 86400, &s);
        share[d] = s.n_sub > 0 ? ana_unmetered_share(s.total_kwh, s.sub_kwh) : NAN;
    }
    free(iv);
    double med;
    bool jump = ana_share_jump(share, 14, share[14], c->balance_jump, &med);
    ana_condition_t cd;
    cond_init(&cd, "meter_balance", "sub-gates", ds - 86400, 0);
    cd.level = 1;
    cd.value = share[14];
    cd.threshold = c->balance_jump;
    snprintf(cd.detail, sizeof cd.detail, "{\"unmetered_share\":%.4f,\"usual_share\":%.4f}",
             share[14], med);
    int rc2 = put_or_end(w, jump, &cd);
    return rc2 ? rc2 : ana_cond_add(&w->sweep, &cd); /* earlier days end */
}

int ana_eval_periods(sqlite3 *db, const ana_conf_t *c, int64_t now, ana_write_t *w, char *err,
                     size_t errlen)
{
    int64_t ds, de, ms, me;
    tm_period_bounds(&c->shifts, TM_DAY, now, &ds, &de);
    int rc = CM_OK;
    for (int d = 1; !rc && d <= 2; d++) /* the last two complete production days */
        rc = balance_period(db, c, "day", ds - d * 86400, ds - (d - 1) * 86400, err, errlen, w);
    tm_period_bounds(&c->shifts, TM_MONTH, now, &ms, &me);
    int64_t ps, pe;
    tm_period_bounds(&c->shifts, TM_MONTH, ms - 1, &ps, &pe);
    if (!rc)
        rc = balance_period(db, c, "month", ps, pe, err, errlen, w);
    /* Days and months no longer evaluated end their open conditions. */
    static const char *const types[] = {"output_sales", "sales_sources"};
    for (int i = 0; !rc && i < 2; i++) {
        ana_condition_t sw;
        cond_init(&sw, types[i], "day", ds - 2 * 86400, 0);
        rc = ana_cond_add(&w->sweep, &sw);
        cond_init(&sw, types[i], "month", ps, 0);
        if (!rc)
            rc = ana_cond_add(&w->sweep, &sw);
    }
    if (!rc)
        rc = capacity_checks(db, c, now, w, err, errlen);
    if (!rc)
        rc = meter_balance(db, c, now, w, err, errlen);
    return rc;
}

static bool refit_due(sqlite3 *db, const ana_conf_t *c, ana_gate g, int64_t now)
{
    int64_t last = ana_db_last_fit(db, g);
    return !last || now - last >= (int64_t)c->refit_hours * 3600;
}

/* The latest calibration record (ACQ-5) after the model in force took force,
 * with calib_fit_days of data after it by `to`: a baseline may be refitted on
 * that data and put in force, whatever is open (the cause was addressed). */
static int64_t calibration_since(sqlite3 *db, const ana_conf_t *c, int64_t since, int64_t to)
{
    sqlite3_stmt *s = NULL;
    int64_t t = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT max(time) FROM calibration WHERE kind = 'calibration' AND "
                           "time > ?1 AND time <= ?2",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, since);
        sqlite3_bind_int64(s, 2, to - (int64_t)c->calib_fit_days * 86400);
        if (sqlite3_step(s) == SQLITE_ROW)
            t = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return t;
}

/* The scheduled refit of one gate (docs/analytics.md "The baseline"): stored
 * as a version; in force only when there is none yet (bootstrap), after a
 * calibration (fitted on data after it), or when the gate is quiet (no
 * condition open, nothing building), not pinned and adopt_scheduled. */
static void scheduled_refit(store_t *st, sqlite3 *db, const ana_conf_t *c, ana_gate g, int64_t to)
{
    ana_model_t cur, m;
    bool have = ana_db_model(db, g, to, &cur, NULL, 0) == CM_OK;
    int64_t fit_to = to - (int64_t)c->fit_lag_hours * 3600;
    ana_fit_req_t q = {
        .gate = g, .to = fit_to, .actor = "schedule", .channel = "config", .at = to};
    int64_t cal = have ? calibration_since(db, c, cur.valid_from, to) : 0;
    if (!have) {
        q.adopt = true;
        q.valid_from = to; /* it judges what comes next, not the data it was fitted on */
        q.basis = "bootstrap";
    } else if (cal && !cur.pinned) {
        q.from = cal;
        q.to = to;
        q.adopt = true;
        q.valid_from = cal;
        q.basis = "calibration";
    } else {
        q.adopt = !cur.pinned && c->adopt_scheduled && ana_eval_gate_quiet(db, c, g);
        q.valid_from = to;
        q.basis = "schedule";
    }
    char why[256];
    if (ana_db_fit_store(st, db, c, &q, &m, why, sizeof why))
        log_debug("analytics", "%s gate not refitted: %s", ana_gate_name(g), why);
    else
        log_info("analytics", "%s gate model v%lld (%s, %s): a=%.2f b=%.4f c=%.2f sigma=%.2f",
                 ana_gate_name(g), (long long)m.id, m.basis, m.in_force ? "in force" : "proposed",
                 m.a, m.b, m.c, m.sigma);
}

int ana_evaluate(store_t *st, sqlite3 *db, const ana_conf_t *c, int64_t now, char *err,
                 size_t errlen)
{
    /* Only complete intervals, with a minute of slack for late data. */
    int64_t to = (now - 60) / c->interval_s * c->interval_s;
    for (int g = ANA_GATE_TRANSPORT; g <= ANA_GATE_TOTAL; g++)
        if (refit_due(db, c, (ana_gate)g, now))
            scheduled_refit(st, db, c, (ana_gate)g, to);
    ana_write_t w = {0};
    int rc = CM_OK;
    for (int g = ANA_GATE_TRANSPORT; !rc && g <= ANA_GATE_TOTAL; g++)
        rc = ana_eval_monitor(db, c, (ana_gate)g, to, &w, err, errlen);
    if (!rc)
        rc = ana_eval_periods(db, c, now, &w, err, errlen);
    if (!rc)
        rc = ana_eval_power_quality(db, c, now, &w, err, errlen);
    if (!rc)
        rc = ana_eval_vibration(db, c, now, &w, err, errlen);
    if (!rc)
        rc = ana_write_commit(st, &w, err, errlen);
    ana_write_free(&w);
    return rc;
}

/* ---- capacity as JSON ------------------------------------------------------ */

static cJSON *use_json(const ana_cap_use_t *u, int64_t s, int64_t e)
{
    cJSON *o = cJSON_CreateObject();
    char t[24];
    tm_format_bj_date(s, t, sizeof t);
    cJSON_AddStringToObject(o, "start", t);
    tm_format_bj_date(e, t, sizeof t);
    cJSON_AddStringToObject(o, "end", t);
    cJSON_AddNumberToObject(o, "output_t", u->output);
    cJSON_AddNumberToObject(o, "limit_t", u->limit);
    cJSON_AddNumberToObject(o, "share", u->share);
    cJSON_AddNumberToObject(o, "run_rate_t_per_day", u->run_rate);
    cJSON_AddNumberToObject(o, "forecast_t", u->forecast);
    if (u->crossing) {
        tm_format_bj(u->crossing, t, sizeof t);
        cJSON_AddStringToObject(o, "crossing", t);
    } else {
        cJSON_AddNullToObject(o, "crossing");
    }
    cJSON_AddNumberToObject(o, "level", u->level);
    return o;
}

static int history_json(sqlite3 *db, cJSON *arr, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT tpa, valid_from, set_by, reason, created_at FROM ana_capacity "
                           "ORDER BY valid_from DESC, id DESC",
                           &s, err, errlen);
    if (rc)
        return rc;
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *o = cJSON_CreateObject();
        char t[24];
        cJSON_AddNumberToObject(o, "tpa", sqlite3_column_double(s, 0));
        tm_format_bj(sqlite3_column_int64(s, 1), t, sizeof t);
        cJSON_AddStringToObject(o, "valid_from", t);
        cJSON_AddStringToObject(o, "set_by", (const char *)sqlite3_column_text(s, 2));
        const char *r = (const char *)sqlite3_column_text(s, 3);
        if (r)
            cJSON_AddStringToObject(o, "reason", r);
        else
            cJSON_AddNullToObject(o, "reason");
        tm_format_bj(sqlite3_column_int64(s, 4), t, sizeof t);
        cJSON_AddStringToObject(o, "set_at", t);
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(s);
    return rc;
}

int ana_capacity_json(sqlite3 *db, const ana_conf_t *c, int64_t now, cJSON **out, char *err,
                      size_t errlen)
{
    cJSON *o = cJSON_CreateObject();
    double tpa = 0;
    int rc = ana_db_capacity(db, now, &tpa, NULL, err, errlen);
    cJSON *hist = cJSON_AddArrayToObject(o, "history");
    int hrc = history_json(db, hist, err, errlen);
    if (rc == CM_ERR_NOTFOUND || hrc) {
        cJSON_AddNullToObject(o, "approved_tpa");
        *out = o;
        return hrc;
    }
    if (rc) {
        cJSON_Delete(o);
        return rc;
    }
    cJSON_AddNumberToObject(o, "approved_tpa", tpa);
    int64_t ys, ye, ms, me;
    tm_period_bounds(&c->shifts, TM_YEAR, now, &ys, &ye);
    tm_period_bounds(&c->shifts, TM_MONTH, now, &ms, &me);
    ana_interval_t *iv;
    size_t n;
    rc = ana_db_intervals(db, c, ys, now, &iv, &n, err, errlen);
    if (rc) {
        cJSON_Delete(o);
        return rc;
    }
    ana_sums_t y, m;
    ana_sum_intervals(iv, n, ys, now, &y);
    ana_sum_intervals(iv, n, ms, now, &m);
    free(iv);
    ana_cap_use_t uy, um;
    ana_capacity_eval(tpa * (1 + c->cap.year_over), y.tons, ys, ye, now, &c->cap, &uy);
    ana_capacity_eval(tpa * c->cap.month_share, m.tons, ms, me, now, &c->cap, &um);
    cJSON_AddItemToObject(o, "year", use_json(&uy, ys, ye));
    cJSON_AddItemToObject(o, "month", use_json(&um, ms, me));
    *out = o;
    return CM_OK;
}

/* ---- the demo's history ----------------------------------------------------- */

int ana_demo_history(store_t *st, const ana_conf_t *c, int days, int64_t now, char *err,
                     size_t errlen)
{
    ana_sim_opts_t o;
    ana_demo_sim_opts(c, &o); /* the physics of the live demo devices too */
    o.days = days;
    int64_t cur = now / c->interval_s * c->interval_s;
    o.start = cur + c->interval_s - (int64_t)days * 86400;
    size_t n = ana_sim_count(&o);
    ana_interval_t *iv = malloc(n * sizeof *iv);
    if (!iv)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory for the demo history");
    ana_sim_intervals(&o, iv, n);
    int rc = ana_db_put_intervals(st, iv, n, c->interval_s, "demo", err, errlen);
    free(iv);
    sqlite3 *db = rc ? NULL : store_reader_open(st, err, errlen);
    if (!rc && !db)
        rc = CM_ERR_DB;
    /* The history is the demo mine's trusted past: its models take force now,
     * so the monitor judges what the live devices measure, not the data the
     * models were fitted on. */
    for (int g = ANA_GATE_TRANSPORT; !rc && g <= ANA_GATE_TOTAL; g++) {
        ana_model_t m;
        ana_fit_req_t q = {.gate = (ana_gate)g, .to = cur, .valid_from = cur, .adopt = true,
                           .basis = "demo", .actor = "demo", .channel = "config"};
        rc = ana_db_fit_store(st, db, c, &q, &m, err, errlen);
    }
    store_reader_close(db);
    return rc;
}
