/* analytics store layer: output-vs-electricity monitoring over stored
 * intervals — the daemon's incremental run (state in ana_state) and the
 * batch check of `coalmon consistency check`. Also energy drawn by the
 * transport gate while the belt is stopped (ALM-2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/conditions.h"
#include "analytics/eval.h"

static const char *cond_type(ana_gate g)
{
    return g == ANA_GATE_TOTAL ? "output_power_total" : "output_power";
}

void ana_episode_condition(const ana_model_t *m, const ana_episode_t *e, int h_sigmas,
                           ana_condition_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->type, sizeof c->type, "%s", cond_type(m->gate));
    snprintf(c->source, sizeof c->source, "%s", ana_gate_name(m->gate));
    c->level = m->gate == ANA_GATE_TOTAL ? 1 : 2; /* the total gate is the coarser opinion */
    c->start = e->start;
    c->end = e->end;
    c->value = ana_episode_deviation(e);
    c->threshold = h_sigmas;
    char det[24];
    tm_format_bj(e->detected, det, sizeof det);
    snprintf(c->detail, sizeof c->detail,
             "{\"direction\":\"%s\",\"kind\":\"%s\",\"metered_t\":%.1f,\"implied_t\":%.1f,"
             "\"deviation_pct\":%.2f,\"detected\":\"%s\",\"model\":%lld,\"cusum_sigmas\":%.1f}",
             e->sign < 0 ? "under" : "over", e->jump ? "jump" : "drift", e->metered_t, e->implied_t,
             100.0 * c->value, det, (long long)m->id, e->worst_sum);
}

/* ---- monitor state <-> JSON ----------------------------------------------- */

#define D(s, f)                                                                                    \
    {                                                                                              \
#f, &(s)->f, NULL, NULL                                                                    \
    }
#define L(s, f)                                                                                    \
    {                                                                                              \
#f, NULL, &(s)->f, NULL                                                                    \
    }
#define I(s, f)                                                                                    \
    {                                                                                              \
#f, NULL, NULL, &(s)->f                                                                    \
    }
typedef struct field {
    const char *name;
    double *d;
    int64_t *l;
    int *i;
} field_t;

static int fields_of(ana_cusum_t *cs, ana_episode_t *e, int64_t *model, field_t *f)
{
    field_t all[] = {D(cs, hi),        D(cs, lo),
                     L(cs, hi_start),  L(cs, lo_start),
                     I(cs, hi_len),    I(cs, lo_len),
                     D(cs, hi_met),    D(cs, hi_imp),
                     D(cs, lo_met),    D(cs, lo_imp),
                     L(cs, last),      I(e, sign),
                     L(e, start),      L(e, detected),
                     L(e, last_cross), D(e, metered_t),
                     D(e, implied_t),  D(e, acc_met),
                     D(e, acc_imp),    D(e, worst_sum),
                     I(e, quiet),      {"model", NULL, model, NULL}};
    int n = (int)(sizeof all / sizeof all[0]);
    memcpy(f, all, sizeof all);
    return n;
}

char *ana_monitor_state_to_json(ana_cusum_t *cs, ana_episode_t *e, int64_t model)
{
    field_t f[32];
    int n = fields_of(cs, e, &model, f);
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < n; i++)
        cJSON_AddNumberToObject(o, f[i].name,
                                f[i].d   ? *f[i].d
                                : f[i].l ? (double)*f[i].l
                                         : (double)*f[i].i);
    cJSON_AddBoolToObject(o, "jump", e->jump);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

void ana_monitor_state_from_json(const char *text, ana_cusum_t *cs, ana_episode_t *e,
                                 int64_t *model)
{
    memset(cs, 0, sizeof *cs);
    memset(e, 0, sizeof *e);
    *model = 0;
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    if (!o)
        return;
    field_t f[32];
    int n = fields_of(cs, e, model, f);
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f[i].name);
        if (!cJSON_IsNumber(v))
            continue;
        if (f[i].d)
            *f[i].d = v->valuedouble;
        else if (f[i].l)
            *f[i].l = (int64_t)v->valuedouble;
        else
            *f[i].i = v->valueint;
    }
    e->jump = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "jump"));
    cJSON_Delete(o);
}

/* ---- collecting episodes --------------------------------------------------- */

typedef struct ep_sink {
    const ana_model_t *m;
    double h;
    ana_cond_list_t *list;
    int rc;
} ep_sink_t;

static void on_episode(const ana_episode_t *e, void *arg)
{
    ep_sink_t *k = arg;
    ana_condition_t c;
    ana_episode_condition(k->m, e, (int)k->h, &c);
    if (ana_cond_add(k->list, &c))
        k->rc = CM_ERR_NOMEM;
}

/* Consecutive intervals of a stopped belt drawing energy make one condition. */
static int stopped_use(const ana_conf_t *c, const ana_model_t *m, const ana_interval_t *iv,
                       size_t n, ana_cond_list_t *out)
{
    for (size_t i = 0; i < n;) {
        double x = ana_stopped_excess(m, &iv[i], c->interval_s, c->stopped_floor_kwh);
        if (!(x > 0)) {
            i++;
            continue;
        }
        size_t j = i;
        double kwh = 0, excess = 0;
        for (; j < n; j++) {
            double e = ana_stopped_excess(m, &iv[j], c->interval_s, c->stopped_floor_kwh);
            if (!(e > 0))
                break;
            excess += e;
            kwh += iv[j].transport_kwh;
        }
        ana_condition_t cd = {.level = 1,
                              .start = iv[i].start,
                              .end = iv[j - 1].start + c->interval_s,
                              .value = excess,
                              .threshold = c->stopped_floor_kwh};
        snprintf(cd.type, sizeof cd.type, "power_abnormal");
        snprintf(cd.source, sizeof cd.source, "transport");
        snprintf(cd.detail, sizeof cd.detail,
                 "{\"kind\":\"stopped_belt\",\"kwh\":%.1f,\"excess_kwh\":%.1f,\"intervals\":%zu}",
                 kwh, excess, j - i);
        if (ana_cond_add(out, &cd))
            return CM_ERR_NOMEM;
        i = j;
    }
    return CM_OK;
}

int ana_eval_monitor(sqlite3 *db, const ana_conf_t *c, ana_gate gate, int64_t to, ana_write_t *w,
                     char *err, size_t errlen)
{
    ana_model_t m;
    int rc = ana_db_model(db, gate, 0, &m, err, errlen);
    if (rc)
        return rc == CM_ERR_NOTFOUND ? CM_OK : rc; /* nothing to monitor with yet */
    char name[48];
    snprintf(name, sizeof name, "monitor:%s", ana_gate_name(gate));
    char *text = ana_state_get(db, name);
    ana_cusum_t cs;
    ana_episode_t open;
    int64_t model_id;
    ana_monitor_state_from_json(text, &cs, &open, &model_id);
    free(text);
    int64_t from = cs.last ? cs.last + c->interval_s : m.window_to;
    if (from < to - 7 * 86400)
        from = to - 7 * 86400; /* after a long stop, do not replay weeks */
    if (from >= to)
        return CM_OK;
    ana_interval_t *all;
    size_t n_all;
    /* The total gate also needs two weeks before for its usual profile. */
    int64_t hist = gate == ANA_GATE_TOTAL ? 14 * 86400 : 0;
    rc = ana_db_intervals(db, c, from - hist, to, &all, &n_all, err, errlen);
    if (rc)
        return rc;
    size_t first = (size_t)(hist / c->interval_s);
    if (first > n_all)
        first = n_all;
    ana_interval_t *iv = all + first;
    size_t n = n_all - first;
    ep_sink_t sink = {.m = &m, .h = c->cusum.h, .list = &w->put};
    ana_monitor(&m, &c->cusum, iv, n, c->interval_s, &cs, &open, on_episode, &sink);
    if (!sink.rc && gate == ANA_GATE_TRANSPORT)
        sink.rc = stopped_use(c, &m, iv, n, &w->put);
    if (!sink.rc && gate == ANA_GATE_TOTAL)
        sink.rc = ana_eval_profile(c, all, n_all, first, w);
    free(all);
    if (sink.rc)
        return cm_fail(err, errlen, sink.rc, "out of memory collecting conditions");
    if (w->n_state < ANA_MAX_STATE) {
        snprintf(w->state_name[w->n_state], sizeof w->state_name[0], "%s", name);
        w->state_value[w->n_state] = ana_monitor_state_to_json(&cs, &open, m.id);
        if (w->state_value[w->n_state])
            w->n_state++;
    }
    return CM_OK;
}

int ana_consistency_check(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to, cJSON **out,
                          char *err, size_t errlen)
{
    cJSON *arr = cJSON_CreateArray();
    int rc = CM_OK;
    for (int g = ANA_GATE_TRANSPORT; !rc && g <= ANA_GATE_TOTAL; g++) {
        ana_model_t m;
        rc = ana_db_model(db, (ana_gate)g, from, &m, err, errlen);
        if (rc == CM_ERR_NOTFOUND)
            rc = ana_db_model(db, (ana_gate)g, 0, &m, err, errlen);
        if (rc == CM_ERR_NOTFOUND) {
            rc = CM_OK; /* no model of this gate: nothing to say about it */
            continue;
        }
        ana_interval_t *iv = NULL;
        size_t n = 0;
        if (!rc)
            rc = ana_db_intervals(db, c, from, to, &iv, &n, err, errlen);
        ana_cond_list_t list = {0};
        ep_sink_t sink = {.m = &m, .h = c->cusum.h, .list = &list};
        ana_cusum_t cs = {0};
        ana_episode_t open = {0};
        if (!rc)
            ana_monitor(&m, &c->cusum, iv, n, c->interval_s, &cs, &open, on_episode, &sink);
        if (!rc && g == ANA_GATE_TRANSPORT)
            sink.rc = stopped_use(c, &m, iv, n, &list);
        for (size_t i = 0; i < list.n; i++)
            cJSON_AddItemToArray(arr, ana_condition_json(&list.v[i]));
        if (!rc && sink.rc)
            rc = cm_fail(err, errlen, sink.rc, "out of memory");
        ana_cond_list_free(&list);
        free(iv);
    }
    if (rc) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return CM_OK;
}
