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

void ana_episode_condition(const ana_model_t *m, const ana_episode_t *e, int h_sigmas,
                           ana_condition_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->type, sizeof c->type, "%s", ana_gate_cond_type(m->gate));
    snprintf(c->source, sizeof c->source, "%s", ana_gate_name(m->gate));
    c->level = m->gate == ANA_GATE_TOTAL ? 1 : 2; /* the total gate is the coarser opinion */
    c->start = e->start;
    c->end = e->end;
    c->value = ana_episode_deviation(e);
    c->threshold = h_sigmas;
    char det[24];
    tm_format_bj(e->detected, det, sizeof det);
    /* shape: step, drift, stopped_scale, stopped_meter (the detector), or
     * jump/drift of the old monitor; kind kept for readers of the old field */
    const char *shape = e->shape ? ana_shape_name((ana_shape)e->shape) : e->jump ? "step" : "drift";
    snprintf(c->detail, sizeof c->detail,
             "{\"direction\":\"%s\",\"shape\":\"%s\",\"kind\":\"%s\",\"metered_t\":%.1f,"
             "\"implied_t\":%.1f,\"deviation_pct\":%.2f,\"detected\":\"%s\",\"model\":%lld,"
             "\"cusum_sigmas\":%.1f}",
             e->sign < 0 ? "under" : "over", shape, e->jump ? "jump" : "drift", e->metered_t,
             e->implied_t, isfinite(c->value) ? 100.0 * c->value : 0.0, det, (long long)m->id,
             e->worst_sum);
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

/* The earliest time at or after t when the cause of a gate's condition was
 * addressed: a calibration or parameter record (ACQ-5), or an acknowledgement
 * of its output-vs-power alarm (ALM-3) with a comment. 0: not yet. */
int64_t ana_addressed_after(sqlite3 *db, ana_gate gate, int64_t t)
{
    int64_t best = 0;
    static const char *const sql[] = {
        "SELECT min(time) FROM calibration WHERE kind IN ('calibration', 'parameter') "
        "AND time >= ?1 AND ?2 = ?2",
        "SELECT min(ack_ms) / 1000 FROM alarm WHERE type = 3 AND source = ?2 AND ack_ms >= ?1 * "
        "1000 AND ack_comment IS NOT NULL AND trim(ack_comment) <> ''",
    };
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(db, sql[i], -1, &s, NULL) != SQLITE_OK) {
            sqlite3_finalize(s); /* a store without that module's table */
            continue;
        }
        sqlite3_bind_int64(s, 1, t);
        sqlite3_bind_text(s, 2, ana_gate_name(gate), -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
            int64_t v = sqlite3_column_int64(s, 0);
            if (!best || v < best)
                best = v;
        }
        sqlite3_finalize(s);
    }
    return best;
}

/* Episodes of the detector into a condition list; an opening asks the store
 * whether its cause was addressed already (a replay over history). */
typedef struct det_sink {
    sqlite3 *db;
    const ana_conf_t *c;
    const ana_model_t *m;
    ana_det_t *d;
    ana_cond_list_t *list;
    int rc;
} det_sink_t;

static void det_condition(const det_sink_t *k, const ana_episode_t *e, ana_condition_t *cd)
{
    ana_episode_condition(k->m, e, (int)k->c->detect[k->m->gate].cusum.h, cd);
    cd->level = k->c->detect[k->m->gate].level;
}

static void on_det(const ana_episode_t *e, void *arg)
{
    det_sink_t *k = arg;
    ana_condition_t cd;
    det_condition(k, e, &cd);
    if (ana_cond_add(k->list, &cd))
        k->rc = CM_ERR_NOMEM;
}

/* Still-open episodes are written again so their size stays current. */
static void put_open(det_sink_t *k)
{
    const ana_episode_t *eps[2] = {&k->d->open, &k->d->hard};
    for (int i = 0; i < 2; i++) {
        if (!eps[i]->sign)
            continue;
        ana_episode_t e = *eps[i];
        e.metered_t = e.acc_met > 0 ? e.acc_met : e.metered_t;
        e.implied_t = e.acc_imp > 0 ? e.acc_imp : e.implied_t;
        on_det(&e, k);
    }
}

/* Ask the store whether the open conditions' causes were addressed. */
static void refresh_addressed(sqlite3 *db, ana_gate gate, ana_det_t *d)
{
    int64_t since = 0;
    if (d->open.sign)
        since = d->open.start;
    if (d->hard.sign && (!since || d->hard.start < since))
        since = d->hard.start;
    if (!since)
        return;
    int64_t t = ana_addressed_after(db, gate, since);
    if (t && (!d->addressed_at || d->addressed_at < since || t < d->addressed_at))
        d->addressed_at = t;
}

static int save_state(ana_write_t *w, const char *name, const ana_det_t *d)
{
    if (w->n_state < ANA_MAX_STATE) {
        snprintf(w->state_name[w->n_state], sizeof w->state_name[0], "%s", name);
        w->state_value[w->n_state] = ana_det_to_json(d);
        if (w->state_value[w->n_state])
            w->n_state++;
    }
    return CM_OK;
}

int ana_eval_monitor(sqlite3 *db, const ana_conf_t *c, ana_gate gate, int64_t to, ana_write_t *w,
                     char *err, size_t errlen)
{
    ana_model_t m;
    int rc = ana_db_model(db, gate, to, &m, err, errlen);
    if (rc)
        return rc == CM_ERR_NOTFOUND ? CM_OK : rc; /* nothing to monitor with yet */
    char name[48];
    snprintf(name, sizeof name, "detect:%s", ana_gate_name(gate));
    char *text = ana_state_get(db, name);
    ana_det_t d;
    ana_det_from_json(text, &d);
    free(text);
    if (!d.model)
        ana_det_start(&d, &m);
    int64_t from = d.last ? d.last + c->interval_s : m.valid_from;
    if (from < to - 7 * 86400)
        from = to - 7 * 86400; /* after a long stop, do not replay weeks */
    if (!d.last)
        d.last = from - c->interval_s; /* later models continue from here */
    if (from >= to)
        return save_state(w, name, &d);
    ana_interval_t *all;
    size_t n_all;
    /* The total gate also needs two weeks before for its usual profile. */
    int64_t hist = gate == ANA_GATE_TOTAL ? 14 * 86400 : 0;
    rc = ana_db_intervals(db, c, from - hist, to, &all, &n_all, err, errlen);
    if (rc)
        return rc;
    size_t first = ana_first_at(all, n_all, from);
    ana_interval_t *iv = all + first;
    size_t n = n_all - first;
    refresh_addressed(db, gate, &d);
    det_sink_t sink = {.db = db, .c = c, .m = &m, .d = &d, .list = &w->put};
    ana_det_run(&d, &m, &c->detect[gate], iv, n, c->interval_s, on_det, &sink);
    put_open(&sink);
    if (!sink.rc && gate == ANA_GATE_TRANSPORT)
        sink.rc = stopped_use(c, &m, iv, n, &w->put);
    if (!sink.rc && gate == ANA_GATE_TOTAL)
        sink.rc = ana_eval_profile(c, all, n_all, first, w);
    free(all);
    if (sink.rc)
        return cm_fail(err, errlen, sink.rc, "out of memory collecting conditions");
    return save_state(w, name, &d);
}

bool ana_eval_gate_quiet(sqlite3 *db, const ana_conf_t *c, ana_gate gate)
{
    char name[48];
    snprintf(name, sizeof name, "detect:%s", ana_gate_name(gate));
    char *text = ana_state_get(db, name);
    ana_det_t d;
    ana_det_from_json(text, &d);
    free(text);
    return ana_det_quiet(&d, &c->detect[gate]);
}

/* Consistency check callback: a new episode asks whether (and when) its
 * cause was addressed, as the daemon does at every evaluation. */
static void on_check(const ana_episode_t *e, void *arg)
{
    det_sink_t *k = arg;
    if (!e->end) {
        int64_t t = ana_addressed_after(k->db, k->m->gate, e->start);
        if (t && t > k->d->addressed_at)
            k->d->addressed_at = t;
    }
    on_det(e, arg);
}

/* One gate over [from, to): the detector with the model in force at each
 * interval (switching where a later version's validity begins), what the
 * daemon would have raised. */
static int check_gate(sqlite3 *db, const ana_conf_t *c, ana_gate g, const ana_interval_t *iv,
                      size_t n, ana_cond_list_t *list, char *err, size_t errlen)
{
    ana_model_t m;
    int rc = n ? ana_db_model(db, g, iv[0].start, &m, err, errlen) : CM_ERR_NOTFOUND;
    if (rc == CM_ERR_NOTFOUND && n)
        rc = ana_db_model_first(db, g, &m, err, errlen);
    if (rc)
        return rc == CM_ERR_NOTFOUND ? CM_OK : rc; /* no model of this gate: nothing to say */
    ana_det_t d;
    ana_det_start(&d, &m);
    det_sink_t sink = {.db = db, .c = c, .m = &m, .d = &d, .list = list};
    for (size_t i = 0; i < n && !sink.rc; i++) {
        ana_model_t now;
        if (!ana_db_model(db, g, iv[i].start, &now, NULL, 0) && now.id != m.id)
            m = now; /* the detector carries its tracked no-load over */
        ana_det_run(&d, &m, &c->detect[g], &iv[i], 1, c->interval_s, on_check, &sink);
    }
    put_open(&sink);
    if (!sink.rc && g == ANA_GATE_TRANSPORT)
        sink.rc = stopped_use(c, &m, iv, n, list);
    if (sink.rc)
        return cm_fail(err, errlen, sink.rc, "out of memory");
    return CM_OK;
}

int ana_consistency_check(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to, cJSON **out,
                          char *err, size_t errlen)
{
    cJSON *arr = cJSON_CreateArray();
    ana_interval_t *iv = NULL;
    size_t n = 0;
    int rc = ana_db_intervals(db, c, from, to, &iv, &n, err, errlen);
    for (int g = ANA_GATE_TRANSPORT; !rc && g <= ANA_GATE_TOTAL; g++) {
        ana_cond_list_t list = {0};
        rc = check_gate(db, c, (ana_gate)g, iv, n, &list, err, errlen);
        /* an episode opened and closed appears twice (open, then closed): keep the last */
        for (size_t i = 0; !rc && i < list.n; i++) {
            bool later = false;
            for (size_t j = i + 1; j < list.n; j++)
                later |= !strcmp(list.v[j].type, list.v[i].type) &&
                         list.v[j].start == list.v[i].start;
            if (!later)
                cJSON_AddItemToArray(arr, ana_condition_json(&list.v[i]));
        }
        ana_cond_list_free(&list);
    }
    free(iv);
    if (rc) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return CM_OK;
}
