/* analytics: the daemon's detection replayed day by day over a history
 * (`coalmon backtest`, bench/bench_detection.c, the scenario tests), with the
 * figures a county asks for: false alarms per clean day, detection delay,
 * time flagged while a fault persists; and a plain daily-OLS baseline on the
 * same history for comparison. Pure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/ledger.h"

void ana_bt_opts_from_conf(const struct ana_conf *c, ana_bt_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->interval_s = c->interval_s;
    o->window_days = c->window_days;
    o->refit_hours = c->refit_hours;
    o->fit_lag_hours = c->fit_lag_hours;
    o->train_days = 21;
    o->adopt_scheduled = c->adopt_scheduled;
    o->ack_after_h = 24;
    o->det[ANA_GATE_TRANSPORT] = c->detect[ANA_GATE_TRANSPORT];
    o->det[ANA_GATE_TOTAL] = c->detect[ANA_GATE_TOTAL];
    o->baseline = true;
    o->baseline_k = 3;
}

/* Spans [start, end) of one gate's conditions (end INT64_MAX while open). */
typedef struct spans {
    int64_t (*v)[2];
    size_t n, cap;
} spans_t;

static int span_add(spans_t *s, int64_t a, int64_t b)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        int64_t (*v)[2] = realloc(s->v, cap * sizeof *v);
        if (!v)
            return CM_ERR_NOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n][0] = a;
    s->v[s->n][1] = b;
    s->n++;
    return CM_OK;
}

typedef struct gate_run {
    ana_gate gate;
    ana_model_t model;
    ana_det_t det;
    spans_t spans;
    const ana_bt_opts_t *o;
    ana_bt_gate_t *res;
    ana_bt_episode_fn cb;
    void *arg;
    int64_t last_fit;
    int64_t next_id;
} gate_run_t;

static void on_episode(const ana_episode_t *e, void *arg)
{
    gate_run_t *g = arg;
    const ana_bt_opts_t *o = g->o;
    if (!e->end) {
        span_add(&g->spans, e->start, INT64_MAX);
        g->res->episodes++;
        if (!o->fault_from || e->detected < o->fault_from)
            g->res->false_alarms++;
        else if (!g->res->detected) {
            g->res->detected = e->detected;
            g->res->shape = e->shape;
            g->res->sign = e->sign;
        }
        /* the dispatcher acknowledges with a comment */
        int64_t ack = e->detected + (int64_t)(o->ack_after_h * 3600);
        if (o->ack_after_h >= 0 && ack > g->det.addressed_at)
            g->det.addressed_at = ack;
    } else {
        for (size_t k = g->spans.n; k-- > 0;)
            if (g->spans.v[k][0] == e->start && g->spans.v[k][1] == INT64_MAX) {
                g->spans.v[k][1] = e->end;
                break;
            }
    }
    if (g->cb)
        g->cb(g->gate, e, &g->model, g->arg);
}

/* A scheduled refit on [to - window, to): intervals inside the gate's
 * conditions are not learnt from. Adopted only when the detector is quiet. */
static void refit(gate_run_t *g, ana_interval_t *iv, size_t n, int64_t now)
{
    const ana_bt_opts_t *o = g->o;
    int64_t to = now - (int64_t)o->fit_lag_hours * 3600;
    int64_t from = to - (int64_t)o->window_days * 86400;
    size_t a = ana_first_at(iv, n, from), b = ana_first_at(iv, n, to);
    if (b <= a)
        return;
    ana_interval_t *w = malloc((b - a) * sizeof *w);
    if (!w)
        return;
    memcpy(w, iv + a, (b - a) * sizeof *w);
    for (size_t i = 0; i < b - a; i++)
        for (size_t k = 0; k < g->spans.n; k++)
            if (w[i].start >= g->spans.v[k][0] && w[i].start < g->spans.v[k][1])
                w[i].trusted = false;
    ana_model_t m;
    char err[256];
    int rc = ana_fit(w, b - a, g->gate, o->interval_s, &m, err, sizeof err);
    free(w);
    g->last_fit = now;
    if (rc)
        return;
    g->res->models_proposed++;
    if (!o->adopt_scheduled || !ana_det_quiet(&g->det, &o->det[g->gate]))
        return;
    m.id = ++g->next_id;
    m.in_force = true;
    m.valid_from = now;
    snprintf(m.basis, sizeof m.basis, "schedule");
    g->model = m;
    ana_det_model(&g->det, &m, &o->det[g->gate]);
    g->res->models_adopted++;
}

/* ---- the plain daily-OLS baseline ------------------------------------------ */

typedef struct dsum {
    double e, run, tons;
} dsum_t;

/* OLS of E = a run + b tons + c over days; false when singular. */
static bool ols3(const dsum_t *d, int n, double c[3], double *sd)
{
    double A[3][4] = {{0}};
    for (int i = 0; i < n; i++) {
        double x[3] = {d[i].run, d[i].tons, 1};
        for (int j = 0; j < 3; j++) {
            for (int k = 0; k < 3; k++)
                A[j][k] += x[j] * x[k];
            A[j][3] += x[j] * d[i].e;
        }
    }
    for (int col = 0; col < 3; col++) { /* Gauss-Jordan with partial pivoting */
        int p = col;
        for (int r = col + 1; r < 3; r++)
            if (fabs(A[r][col]) > fabs(A[p][col]))
                p = r;
        if (fabs(A[p][col]) < 1e-9)
            return false;
        for (int k = 0; k < 4; k++) {
            double t = A[col][k];
            A[col][k] = A[p][k];
            A[p][k] = t;
        }
        for (int r = 0; r < 3; r++) {
            if (r == col)
                continue;
            double f = A[r][col] / A[col][col];
            for (int k = 0; k < 4; k++)
                A[r][k] -= f * A[col][k];
        }
    }
    for (int j = 0; j < 3; j++)
        c[j] = A[j][3] / A[j][j];
    double ss = 0;
    for (int i = 0; i < n; i++) {
        double r = d[i].e - (c[0] * d[i].run + c[1] * d[i].tons + c[2]);
        ss += r * r;
    }
    *sd = n > 3 ? sqrt(ss / (n - 3)) : 0;
    return c[1] > 0;
}

/* Daily sums of the transport gate; each judged day against an OLS of the
 * window before it, flagged beyond k residual sds. Consecutive flagged days
 * are one alarm. */
static void baseline(const ana_interval_t *iv, size_t n, int64_t t0, int days, int first,
                     const ana_bt_opts_t *o, ana_bt_gate_t *r)
{
    dsum_t *d = calloc((size_t)days, sizeof *d);
    if (!d)
        return;
    for (size_t i = 0; i < n; i++) {
        int k = (int)((iv[i].start - t0) / 86400);
        if (k < 0 || k >= days || !isfinite(iv[i].transport_kwh) || !isfinite(iv[i].tons))
            continue;
        d[k].e += iv[i].transport_kwh;
        d[k].run += iv[i].run_h;
        d[k].tons += iv[i].tons;
    }
    bool prev = false;
    int64_t fault_end = o->fault_to ? o->fault_to : t0 + (int64_t)days * 86400;
    int fault_days = 0, flagged_days = 0;
    for (int k = first; k < days; k++) {
        int lo = k - o->window_days < 0 ? 0 : k - o->window_days;
        double c[3], sd;
        bool flag = false;
        if (d[k].run > 4 && ols3(d + lo, k - lo, c, &sd)) {
            double imp = (d[k].e - c[0] * d[k].run - c[2]) / c[1];
            flag = fabs(d[k].tons - imp) > o->baseline_k * sd / c[1];
        }
        int64_t ds = t0 + (int64_t)k * 86400, de = ds + 86400;
        bool in_fault = o->fault_from && ds >= o->fault_from - 86400 && de <= fault_end + 86400 &&
                        de > o->fault_from;
        if (flag && !prev) {
            r->episodes++;
            if (!o->fault_from || de <= o->fault_from)
                r->false_alarms++;
            else if (!r->detected) {
                r->detected = de;
                r->shape = ANA_SHAPE_DRIFT;
            }
        }
        if (!o->fault_from || de <= o->fault_from)
            r->clean_days += 1;
        if (in_fault && ds >= o->fault_from) {
            fault_days++;
            flagged_days += flag;
        }
        prev = flag;
    }
    r->flagged_share = fault_days ? (double)flagged_days / fault_days : NAN;
    free(d);
}

/* Delay figures of a detection: hours, running hours, counted intervals,
 * intervals that carried coal (energy-implied tonnage above a quarter of the
 * typical loaded interval, model m and typical_t). */
static void delays(const ana_interval_t *iv, size_t n, const ana_bt_opts_t *o, ana_bt_gate_t *g,
                   const ana_model_t *m, double typical_t)
{
    if (!g->detected || !o->fault_from)
        return;
    g->delay_h = (double)(g->detected - o->fault_from) / 3600.0;
    double min_h = o->det[0].cusum.min_run_frac * o->interval_s / 3600.0;
    for (size_t i = ana_first_at(iv, n, o->fault_from); i < n && iv[i].start < g->detected;
         i++) {
        if (isfinite(iv[i].run_h)) {
            g->delay_run_h += iv[i].run_h;
            g->delay_counted += iv[i].run_h >= min_h;
            double imp = ana_model_implied_tons(m, iv[i].run_h, iv[i].transport_kwh);
            g->delay_loaded += isfinite(imp) && imp > 0.25 * typical_t;
        }
    }
}

int ana_backtest(ana_interval_t *iv, size_t n, const ana_bt_opts_t *o, ana_bt_result_t *r,
                 ana_bt_episode_fn cb, ana_bt_progress_fn progress, void *arg, char *err,
                 size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!n)
        return cm_fail(err, errlen, CM_ERR_INVALID, "no intervals to replay");
    int64_t t0 = iv[0].start, t_end = iv[n - 1].start + o->interval_s;
    int days = (int)((t_end - t0 + 86399) / 86400);
    if (days <= o->train_days)
        return cm_fail(err, errlen, CM_ERR_INVALID,
                       "%d days of history: more than the %d training days are needed", days,
                       o->train_days);
    int64_t train_end = t0 + (int64_t)o->train_days * 86400;
    size_t ntrain = ana_first_at(iv, n, train_end);
    gate_run_t g[2];
    int rc = CM_OK;
    for (int k = 0; k < 2; k++) {
        g[k] = (gate_run_t){.gate = (ana_gate)k, .o = o, .res = &r->gate[k], .cb = cb, .arg = arg};
        rc = ana_fit(iv, ntrain, (ana_gate)k, o->interval_s, &g[k].model, err, errlen);
        if (rc)
            goto out;
        g[k].model.id = ++g[k].next_id;
        g[k].model.in_force = true;
        g[k].model.valid_from = train_end;
        snprintf(g[k].model.basis, sizeof g[k].model.basis, "engineer");
        ana_det_start(&g[k].det, &g[k].model);
        g[k].last_fit = train_end;
    }
    r->from = train_end;
    r->to = t_end;
    int64_t fault_end = o->fault_to ? o->fault_to : t_end;
    int fault_iv[2] = {0}, flagged_iv[2] = {0};
    size_t i = ntrain;
    for (int day = o->train_days; day < days; day++) {
        int64_t ds = t0 + (int64_t)day * 86400, de = ds + 86400;
        for (int k = 0; k < 2; k++)
            if (ds - g[k].last_fit >= (int64_t)o->refit_hours * 3600)
                refit(&g[k], iv, n, ds);
        for (; i < n && iv[i].start < de; i++) {
            for (int k = 0; k < 2; k++) {
                ana_det_run(&g[k].det, &g[k].model, &o->det[k], &iv[i], 1, o->interval_s,
                            on_episode, &g[k]);
                if (o->fault_from && iv[i].start >= o->fault_from && iv[i].start < fault_end) {
                    fault_iv[k]++;
                    flagged_iv[k] += g[k].det.open.sign != 0 || g[k].det.hard.sign != 0;
                }
            }
        }
        if (!o->fault_from || de <= o->fault_from)
            for (int k = 0; k < 2; k++)
                r->gate[k].clean_days += 1;
        if (progress)
            progress(day - o->train_days + 1, days - o->train_days, arg);
    }
    for (int k = 0; k < 2; k++) {
        r->gate[k].flagged_share = fault_iv[k] ? (double)flagged_iv[k] / fault_iv[k] : NAN;
        delays(iv, n, o, &r->gate[k], &g[0].model, g[0].det.typical_t);
    }
    if (o->baseline) {
        baseline(iv, n, t0, days, o->train_days, o, &r->baseline);
        delays(iv, n, o, &r->baseline, &g[0].model, g[0].det.typical_t);
    }
out:
    for (int k = 0; k < 2; k++)
        free(g[k].spans.v);
    return rc;
}

int ana_bt_sim(const struct ana_sim_opts *sim, const ana_bt_opts_t *o, ana_bt_result_t *r,
               char *err, size_t errlen)
{
    size_t n = ana_sim_count(sim);
    ana_interval_t *iv = malloc((n ? n : 1) * sizeof *iv);
    if (!iv)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory for %zu intervals", n);
    ana_sim_intervals(sim, iv, n);
    ana_bt_opts_t oo = *o;
    oo.interval_s = sim->interval_s;
    oo.fault_from = sim->fault_from;
    oo.fault_to = sim->fault_to;
    int rc = ana_backtest(iv, n, &oo, r, NULL, NULL, NULL, err, errlen);
    free(iv);
    return rc;
}
