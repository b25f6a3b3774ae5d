/* analytics: the scale-health figure (issue #13) — over a rolling window of
 * running intervals, the belt scale's metered tonnage against the tonnage the
 * electricity implies with the model in force for each interval, a band from
 * the models' residual scale and parameter uncertainty, and a verdict for the
 * dispatcher: 一致 / 待观察 / 不一致. The dashboard's home page, the API
 * (GET /api/v1/models/health) and the uplink's dailySummary show it. Reads
 * only, on the caller's connection. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "analytics/conditions.h"

void ana_health_opts_default(ana_health_opts_t *o)
{
    *o = (ana_health_opts_t){
        .window_days = 7, .band_sigmas = 2, .alarm_sigmas = 4, .band_floor = 0.01, .min_intervals = 8};
}

const char *ana_verdict_name(ana_verdict v)
{
    static const char *const n[] = {"unknown", "consistent", "watch", "inconsistent"};
    return (unsigned)v < 4 ? n[v] : "unknown";
}

const char *ana_verdict_zh(ana_verdict v)
{
    static const char *const n[] = {"数据不足", "一致", "待观察", "不一致"};
    return (unsigned)v < 4 ? n[v] : "数据不足";
}

/* Sums over the intervals that share one model: its parameter errors move
 * all of them together, so they add before they are squared. */
typedef struct model_run {
    const ana_model_t *m;
    double run_h, n, implied;
} model_run_t;

static double run_var(const model_run_t *r)
{
    if (!r->m || r->m->b <= 0)
        return 0;
    const ana_model_t *m = r->m;
    double da = r->run_h * m->se_a / m->b, dc = r->n * m->se_c / m->b,
           db = r->implied * m->se_b / m->b;
    /* the fit keeps no covariances: the three are taken as independent */
    return da * da + dc * dc + db * db;
}

void ana_scale_health_calc(const ana_interval_t *iv, const ana_model_t *const *models, size_t n,
                           const ana_conf_t *c, ana_gate gate, ana_scale_health_t *h)
{
    memset(h, 0, sizeof *h);
    h->gate = gate;
    h->ratio = h->sigma = h->band = h->alarm_band = NAN;
    double min_run = c->cusum.min_run_frac * c->interval_s / 3600.0, var_noise = 0, var_param = 0;
    model_run_t run = {0};
    for (size_t i = 0; i < n; i++) {
        const ana_model_t *m = models[i];
        double e = ana_interval_kwh(&iv[i], gate);
        if (!m || !isfinite(e) || !isfinite(iv[i].tons) || !isfinite(iv[i].run_h) ||
            iv[i].run_h < min_run)
            continue;
        double implied = ana_model_implied_tons(m, iv[i].run_h, e);
        if (!isfinite(implied))
            continue;
        if (m != run.m) {
            var_param += run_var(&run);
            run = (model_run_t){.m = m};
            h->models++;
        }
        run.run_h += iv[i].run_h;
        run.n += 1;
        run.implied += implied;
        double s = (m->sigma_run > 0 ? m->sigma_run : m->sigma) / m->b;
        var_noise += s * s;
        h->metered_t += iv[i].tons;
        h->implied_t += implied;
        h->intervals++;
    }
    var_param += run_var(&run);
    if (h->intervals < c->health.min_intervals || h->implied_t <= 0)
        return;
    h->ratio = h->metered_t / h->implied_t;
    h->sigma = h->ratio * sqrt(var_noise + var_param) / h->implied_t;
    h->band = fmax(c->health.band_sigmas * h->sigma, c->health.band_floor);
    h->alarm_band = h->band * c->health.alarm_sigmas / c->health.band_sigmas;
}

/* The verdict from the ratio and the monitor's state. */
static void judge(ana_scale_health_t *h)
{
    if (!isfinite(h->ratio)) {
        h->verdict = ANA_VERDICT_UNKNOWN;
        snprintf(h->reason, sizeof h->reason, "窗口内运行区间 %d 个，不足以判断。", h->intervals);
        return;
    }
    double dev = fabs(h->ratio - 1);
    if (h->open || dev > h->alarm_band)
        h->verdict = ANA_VERDICT_INCONSISTENT;
    else if (h->building || dev > h->band)
        h->verdict = ANA_VERDICT_WATCH;
    else
        h->verdict = ANA_VERDICT_CONSISTENT;
    const char *why = h->open       ? "产量与用电不符的告警条件未结束"
                      : h->building ? "残差累积和正在增长"
                                    : NULL;
    snprintf(h->reason, sizeof h->reason, "计量与电量推算之比 %.3f，一致区间 ±%.1f%%%s%s。",
             h->ratio, 100 * h->band, why ? "；" : "", why ? why : "");
}

/* An output_power condition of this gate open at `at`. */
static int open_condition(sqlite3 *db, ana_gate gate, int64_t at, bool *open, char *err,
                          size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT 1 FROM ana_condition WHERE type = ?1 AND source = ?2 AND "
                           "start <= ?3 AND (end IS NULL OR end > ?3) LIMIT 1",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, ana_gate_cond_type(gate), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, ana_gate_name(gate), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, at);
    int step = sqlite3_step(s);
    *open = step == SQLITE_ROW;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "reading conditions: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

/* Building: the detector of the gate (state "detect:<gate>") is not quiet —
 * its CUSUM or daily EWMA past half its limit (ana_det_quiet). No state yet
 * says nothing. */
static bool building(sqlite3 *db, const ana_conf_t *c, ana_gate gate)
{
    char name[48];
    snprintf(name, sizeof name, "detect:%s", ana_gate_name(gate));
    char *text = ana_state_get(db, name);
    if (!text)
        return false;
    ana_det_t d;
    ana_det_from_json(text, &d);
    free(text);
    return d.model && !ana_det_quiet(&d, &c->detect[gate]);
}

/* The model in force for each interval. Models change rarely: when the same
 * version is in force at both ends of the window it serves every interval. */
#define MAX_MODELS 64
typedef struct models {
    ana_model_t v[MAX_MODELS];
    int n;
} models_t;

static const ana_model_t *model_at(sqlite3 *db, models_t *ms, ana_gate gate, int64_t at)
{
    ana_model_t m;
    if (ana_db_model(db, gate, at, &m, NULL, 0))
        return NULL;
    for (int i = 0; i < ms->n; i++)
        if (ms->v[i].id == m.id)
            return &ms->v[i];
    if (ms->n == MAX_MODELS)
        return NULL;
    ms->v[ms->n] = m;
    return &ms->v[ms->n++];
}

int ana_db_scale_health(sqlite3 *db, const ana_conf_t *c, ana_gate gate, int64_t at,
                        ana_scale_health_t *h, char *err, size_t errlen)
{
    int64_t to = at / c->interval_s * c->interval_s; /* whole intervals only */
    int64_t from = to - (int64_t)c->health.window_days * 86400;
    ana_interval_t *iv;
    size_t n;
    int rc = ana_db_intervals(db, c, from, to, &iv, &n, err, errlen);
    if (rc)
        return rc;
    models_t *ms = calloc(1, sizeof *ms);
    const ana_model_t **per = calloc(n ? n : 1, sizeof *per);
    if (!ms || !per) {
        free(ms);
        free(per);
        free(iv);
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    }
    /* Intervals from before the first model (history loaded, then fitted)
     * are judged by the model in force at the window's end, as the implied
     * series does, and that is the newest when none was in force yet. */
    const ana_model_t *last = model_at(db, ms, gate, at),
                      *first = n ? model_at(db, ms, gate, iv[0].start) : NULL;
    if (!last) /* none in force yet at `at` (asked about the past): the newest */
        last = model_at(db, ms, gate, 0);
    for (size_t i = 0; i < n; i++) {
        per[i] = first == last ? last : model_at(db, ms, gate, iv[i].start);
        if (!per[i])
            per[i] = last;
    }
    ana_scale_health_calc(iv, per, n, c, gate, h);
    h->from = from;
    h->to = to;
    h->model = last ? last->id : 0;
    free(per);
    free(ms);
    free(iv);
    rc = open_condition(db, gate, at, &h->open, err, errlen);
    if (!rc)
        h->building = building(db, c, gate);
    judge(h);
    return rc;
}

static void num(cJSON *o, const char *k, double v, double scale)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, round(v * scale) / scale);
    else
        cJSON_AddNullToObject(o, k);
}

cJSON *ana_scale_health_json(const ana_scale_health_t *h)
{
    cJSON *o = cJSON_CreateObject();
    char from[24], to[24];
    tm_format_bj(h->from, from, sizeof from);
    tm_format_bj(h->to, to, sizeof to);
    cJSON_AddStringToObject(o, "gate", ana_gate_name(h->gate));
    cJSON_AddStringToObject(o, "from", from);
    cJSON_AddStringToObject(o, "to", to);
    cJSON_AddNumberToObject(o, "intervals", h->intervals);
    cJSON_AddNumberToObject(o, "model", (double)h->model);
    cJSON_AddNumberToObject(o, "models", h->models);
    num(o, "metered_t", h->metered_t, 10);
    num(o, "implied_t", h->implied_t, 10);
    num(o, "ratio", h->ratio, 10000);
    num(o, "sigma", h->sigma, 100000);
    num(o, "band", h->band, 10000);
    num(o, "alarm_band", h->alarm_band, 10000);
    num(o, "lower", 1 - h->band, 10000);
    num(o, "upper", 1 + h->band, 10000);
    cJSON_AddBoolToObject(o, "condition_building", h->building);
    cJSON_AddBoolToObject(o, "condition_open", h->open);
    cJSON_AddStringToObject(o, "verdict", ana_verdict_name(h->verdict));
    cJSON_AddStringToObject(o, "verdict_zh", ana_verdict_zh(h->verdict));
    cJSON_AddStringToObject(o, "reason", h->reason);
    return o;
}

int ana_scale_health_report(sqlite3 *db, const ana_conf_t *c, int64_t at, cJSON **out, char *err,
                            size_t errlen)
{
    ana_scale_health_t h[2];
    for (int g = ANA_GATE_TRANSPORT; g <= ANA_GATE_TOTAL; g++) {
        int rc = ana_db_scale_health(db, c, (ana_gate)g, at, &h[g], err, errlen);
        if (rc)
            return rc;
    }
    /* the headline is the transport gate's, the finer opinion; the total gate's when it has none */
    const ana_scale_health_t *head =
        h[ANA_GATE_TRANSPORT].verdict != ANA_VERDICT_UNKNOWN ? &h[ANA_GATE_TRANSPORT]
                                                             : &h[ANA_GATE_TOTAL];
    cJSON *o = ana_scale_health_json(head);
    char t[24];
    tm_format_bj(at, t, sizeof t);
    cJSON_AddStringToObject(o, "at", t);
    cJSON_AddNumberToObject(o, "window_days", c->health.window_days);
    cJSON *gates = cJSON_AddArrayToObject(o, "gates");
    for (int g = ANA_GATE_TRANSPORT; g <= ANA_GATE_TOTAL; g++)
        cJSON_AddItemToArray(gates, ana_scale_health_json(&h[g]));
    *out = o;
    return CM_OK;
}
