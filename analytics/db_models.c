/* analytics store layer: model versions (ana_model) and approved capacity
 * with its history (ana_capacity), both audited. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "analytics/conditions.h"

#define MODEL_COLS                                                                                 \
    "id, gate, a, b, c, se_a, se_b, se_c, sigma, sigma_run, r2, n, n_outliers, window_from, "      \
    "window_to, interval_s, fitted_at, sigma_rel, status, coalesce(valid_from, window_to), "      \
    "pinned, coalesce(basis, '')"

static void model_from_row(sqlite3_stmt *s, ana_model_t *m)
{
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(s, 0);
    ana_gate_parse((const char *)sqlite3_column_text(s, 1), &m->gate);
    double *d[] = {&m->a,    &m->b,     &m->c,         &m->se_a, &m->se_b,
                   &m->se_c, &m->sigma, &m->sigma_run, &m->r2};
    for (int i = 0; i < 9; i++)
        *d[i] = sqlite3_column_double(s, 2 + i);
    m->n = sqlite3_column_int(s, 11);
    m->n_outliers = sqlite3_column_int(s, 12);
    m->window_from = sqlite3_column_int64(s, 13);
    m->window_to = sqlite3_column_int64(s, 14);
    m->interval_s = sqlite3_column_int(s, 15);
    m->fitted_at = sqlite3_column_int64(s, 16);
    m->sigma_rel = sqlite3_column_double(s, 17);
    const char *st = (const char *)sqlite3_column_text(s, 18);
    m->in_force = st && !strcmp(st, "in_force");
    m->valid_from = sqlite3_column_int64(s, 19);
    m->pinned = sqlite3_column_int(s, 20) != 0;
    snprintf(m->basis, sizeof m->basis, "%s", (const char *)sqlite3_column_text(s, 21));
}

static int one_model(sqlite3 *db, const char *sql, int64_t x, const char *gate, ana_model_t *m,
                     char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, sql, &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, x);
    if (gate)
        sqlite3_bind_text(s, 2, gate, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        model_from_row(s, m);
    else if (step == SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_NOTFOUND, "no model%s%s fitted yet",
                     gate ? " of the " : "", gate ? gate : "");
    else
        rc = cm_fail(err, errlen, CM_ERR_DB, "reading models: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

int ana_db_model(sqlite3 *db, ana_gate gate, int64_t at, ana_model_t *m, char *err, size_t errlen)
{
    if (at <= 0)
        at = INT64_MAX;
    /* by validity time, not by when it was fitted: a model fitted today on
     * last month's trusted data may be the one in force for last month */
    return one_model(db,
                     "SELECT " MODEL_COLS " FROM ana_model WHERE status = 'in_force' AND "
                     "coalesce(valid_from, window_to) <= ?1 AND gate = ?2 "
                     "ORDER BY coalesce(valid_from, window_to) DESC, id DESC LIMIT 1",
                     at, ana_gate_name(gate), m, err, errlen);
}

int ana_db_model_first(sqlite3 *db, ana_gate gate, ana_model_t *m, char *err, size_t errlen)
{
    return one_model(db,
                     "SELECT " MODEL_COLS " FROM ana_model WHERE status = 'in_force' AND "
                     "?1 = ?1 AND gate = ?2 ORDER BY coalesce(valid_from, window_to), id LIMIT 1",
                     0, ana_gate_name(gate), m, err, errlen);
}

int64_t ana_db_last_fit(sqlite3 *db, ana_gate gate)
{
    sqlite3_stmt *s = NULL;
    int64_t t = 0;
    if (sqlite3_prepare_v2(db, "SELECT max(fitted_at) FROM ana_model WHERE gate = ?1", -1, &s,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, ana_gate_name(gate), -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            t = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return t;
}

int ana_db_model_get(sqlite3 *db, int64_t id, ana_model_t *m, char *err, size_t errlen)
{
    int rc = one_model(db, "SELECT " MODEL_COLS " FROM ana_model WHERE id = ?1", id, NULL, m, err,
                       errlen);
    if (rc == CM_ERR_NOTFOUND)
        cm_fail(err, errlen, rc, "no model version %lld", (long long)id);
    return rc;
}

cJSON *ana_model_json(const ana_model_t *m)
{
    cJSON *o = cJSON_CreateObject();
    char from[24], to[24], at[24];
    tm_format_bj(m->window_from, from, sizeof from);
    tm_format_bj(m->window_to, to, sizeof to);
    tm_format_bj(m->fitted_at, at, sizeof at);
    cJSON_AddNumberToObject(o, "version", (double)m->id);
    cJSON_AddStringToObject(o, "gate", ana_gate_name(m->gate));
    cJSON_AddNumberToObject(o, "a_kwh_per_run_hour", m->a);
    cJSON_AddNumberToObject(o, "b_kwh_per_t", m->b);
    cJSON_AddNumberToObject(o, "c_kwh_per_interval", m->c);
    cJSON_AddNumberToObject(o, "se_a", m->se_a);
    cJSON_AddNumberToObject(o, "se_b", m->se_b);
    cJSON_AddNumberToObject(o, "se_c", m->se_c);
    cJSON_AddNumberToObject(o, "sigma_kwh", m->sigma);
    cJSON_AddNumberToObject(o, "sigma_run_kwh", m->sigma_run);
    cJSON_AddNumberToObject(o, "r2", m->r2);
    cJSON_AddNumberToObject(o, "intervals", m->n);
    cJSON_AddNumberToObject(o, "outliers", m->n_outliers);
    cJSON_AddNumberToObject(o, "interval_s", m->interval_s);
    cJSON_AddStringToObject(o, "window_from", from);
    cJSON_AddStringToObject(o, "window_to", to);
    cJSON_AddStringToObject(o, "fitted_at", at);
    cJSON_AddNumberToObject(o, "sigma_rel", m->sigma_rel);
    cJSON_AddStringToObject(o, "status", m->in_force ? "in_force" : "proposed");
    char vf[24];
    tm_format_bj(m->valid_from ? m->valid_from : m->window_to, vf, sizeof vf);
    cJSON_AddStringToObject(o, "valid_from", vf);
    cJSON_AddBoolToObject(o, "pinned", m->pinned);
    cJSON_AddStringToObject(o, "basis", m->basis);
    return o;
}

int ana_db_models_json(sqlite3 *db, int limit, cJSON **out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT " MODEL_COLS " FROM ana_model ORDER BY id DESC LIMIT ?1", &s,
                           err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int(s, 1, limit > 0 ? limit : 1000);
    cJSON *a = cJSON_CreateArray();
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        ana_model_t m;
        model_from_row(s, &m);
        cJSON_AddItemToArray(a, ana_model_json(&m));
    }
    sqlite3_finalize(s);
    if (step != SQLITE_DONE) {
        cJSON_Delete(a);
        return cm_fail(err, errlen, CM_ERR_DB, "reading models: %s", sqlite3_errmsg(db));
    }
    *out = a;
    return CM_OK;
}

typedef struct model_job {
    ana_model_t *m;
    const char *actor, *channel;
} model_job_t;

static int model_put_fn(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    model_job_t *j = arg;
    ana_model_t *m = j->m;
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO ana_model(gate, a, b, c, se_a, se_b, se_c, sigma, "
                           "sigma_run, r2, n, n_outliers, window_from, window_to, interval_s, "
                           "fitted_at, fitted_by, sigma_rel, status, valid_from, pinned, basis) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                           "?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, ana_gate_name(m->gate), -1, SQLITE_STATIC);
    double d[] = {m->a, m->b, m->c, m->se_a, m->se_b, m->se_c, m->sigma, m->sigma_run, m->r2};
    for (int i = 0; i < 9; i++)
        sqlite3_bind_double(s, 2 + i, d[i]);
    sqlite3_bind_int(s, 11, m->n);
    sqlite3_bind_int(s, 12, m->n_outliers);
    sqlite3_bind_int64(s, 13, m->window_from);
    sqlite3_bind_int64(s, 14, m->window_to);
    sqlite3_bind_int(s, 15, m->interval_s);
    sqlite3_bind_int64(s, 16, m->fitted_at);
    sqlite3_bind_text(s, 17, j->actor, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 18, m->sigma_rel);
    sqlite3_bind_text(s, 19, m->in_force ? "in_force" : "proposed", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 20, m->valid_from ? m->valid_from : m->window_to);
    sqlite3_bind_int(s, 21, m->pinned);
    sqlite3_bind_text(s, 22, m->basis, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "storing the model: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    if (rc)
        return rc;
    m->id = sqlite3_last_insert_rowid(db);
    /* A person's refit is a parameter change (ALM-5); the daily scheduled one
     * is routine and is kept as a version only, or it would alarm every day. */
    if (strcmp(j->channel, "cli") && strcmp(j->channel, "api"))
        return CM_OK;
    char target[32], val[160];
    snprintf(target, sizeof target, "model:%s", ana_gate_name(m->gate));
    snprintf(val, sizeof val, "{\"version\":%lld,\"a\":%.6g,\"b\":%.6g,\"c\":%.6g}",
             (long long)m->id, m->a, m->b, m->c);
    return store_audit(db, j->actor, j->channel, "model.fit", target, NULL, val, NULL, err, errlen);
}

/* Intervals inside an output-vs-power condition on the same gate are not
 * trusted: refitting on them would teach the model the scale's error. */
static int untrust_conditions(sqlite3 *db, ana_gate gate, ana_interval_t *iv, size_t n, char *err,
                              size_t errlen)
{
    if (!n)
        return CM_OK;
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT start, coalesce(end, ?3) FROM ana_condition WHERE type = ?1 "
                           "AND start < ?3 AND coalesce(end, ?3) > ?2",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, ana_gate_cond_type(gate), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, iv[0].start);
    sqlite3_bind_int64(s, 3, iv[n - 1].start + 86400);
    while (!rc && store_next(s, &rc, err, errlen)) {
        int64_t a = sqlite3_column_int64(s, 0), b = sqlite3_column_int64(s, 1);
        for (size_t i = 0; i < n; i++)
            if (iv[i].start >= a && iv[i].start < b)
                iv[i].trusted = false;
    }
    sqlite3_finalize(s);
    return rc;
}

int ana_db_fit_store(store_t *st, sqlite3 *db, const ana_conf_t *c, const ana_fit_req_t *q,
                     ana_model_t *m, char *err, size_t errlen)
{
    ana_interval_t *iv;
    size_t n;
    int64_t to = q->to - ((q->to % c->interval_s) + c->interval_s) % c->interval_s;
    int64_t from = q->from ? q->from : to - (int64_t)c->window_days * 86400;
    if (from >= to)
        return cm_fail(err, errlen, CM_ERR_INVALID, "the fit window is empty");
    int rc = ana_db_intervals(db, c, from, to, &iv, &n, err, errlen);
    if (!rc)
        rc = untrust_conditions(db, q->gate, iv, n, err, errlen);
    if (!rc)
        rc = ana_fit(iv, n, q->gate, c->interval_s, m, err, errlen);
    free(iv);
    if (rc)
        return rc;
    m->fitted_at = q->at ? q->at : tm_now_s();
    if (m->fitted_at < m->window_to)
        m->fitted_at = m->window_to; /* fits on history "from the future" stay ordered */
    m->in_force = q->adopt;
    m->pinned = q->pin;
    m->valid_from = q->valid_from ? q->valid_from : m->window_from;
    snprintf(m->basis, sizeof m->basis, "%s", q->basis ? q->basis : "engineer");
    model_job_t j = {.m = m, .actor = q->actor, .channel = q->channel};
    return store_write(st, model_put_fn, &j, err, errlen);
}

int ana_db_refit(store_t *st, sqlite3 *db, const ana_conf_t *c, ana_gate gate, int64_t to,
                 const char *actor, const char *channel, ana_model_t *m, char *err, size_t errlen)
{
    /* a person's fit (or the demo's) declares its window trusted: in force from its start */
    bool person = !strcmp(channel, "cli") || !strcmp(channel, "api");
    ana_fit_req_t q = {.gate = gate,
                       .to = to,
                       .adopt = true,
                       .basis = person ? "engineer" : !strcmp(actor, "demo") ? "demo" : "bootstrap",
                       .actor = actor,
                       .channel = channel};
    return ana_db_fit_store(st, db, c, &q, m, err, errlen);
}

/* ---- pinning ------------------------------------------------------------- */

typedef struct pin_job {
    int64_t id;
    bool pin;
    const char *actor, *channel, *reason;
    ana_model_t m;
} pin_job_t;

static int pin_fn(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    pin_job_t *j = arg;
    int rc = ana_db_model_get(db, j->id, &j->m, err, errlen);
    if (rc)
        return rc;
    sqlite3_stmt *s;
    /* pinning puts the version in force (from its validity time); one pin per gate */
    rc = store_prepare(db,
                       "UPDATE ana_model SET pinned = CASE WHEN id = ?1 THEN ?2 ELSE 0 END, "
                       "status = CASE WHEN id = ?1 AND ?2 THEN 'in_force' ELSE status END "
                       "WHERE gate = ?3 AND (id = ?1 OR pinned)",
                       &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, j->id);
    sqlite3_bind_int(s, 2, j->pin);
    sqlite3_bind_text(s, 3, ana_gate_name(j->m.gate), -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "pinning: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    if (rc)
        return rc;
    char target[32], val[32];
    snprintf(target, sizeof target, "model:%s", ana_gate_name(j->m.gate));
    snprintf(val, sizeof val, "%lld", (long long)j->id);
    return store_audit(db, j->actor, j->channel, j->pin ? "model.pin" : "model.unpin", target,
                       NULL, val, j->reason, err, errlen);
}

int ana_db_model_pin(store_t *st, int64_t id, bool pin, const char *actor, const char *channel,
                     const char *reason, ana_model_t *m, char *err, size_t errlen)
{
    pin_job_t j = {.id = id, .pin = pin, .actor = actor, .channel = channel, .reason = reason};
    int rc = store_write(st, pin_fn, &j, err, errlen);
    if (!rc && m) {
        *m = j.m;
        m->pinned = pin;
        m->in_force = m->in_force || pin;
    }
    return rc;
}

/* ---- capacity ---------------------------------------------------------- */

int ana_db_capacity(sqlite3 *db, int64_t at, double *tpa, int64_t *valid_from, char *err,
                    size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT tpa, valid_from FROM ana_capacity WHERE valid_from <= ?1 "
                           "ORDER BY valid_from DESC, id DESC LIMIT 1",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, at);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *tpa = sqlite3_column_double(s, 0);
        if (valid_from)
            *valid_from = sqlite3_column_int64(s, 1);
    } else {
        rc = cm_fail(err, errlen, step == SQLITE_DONE ? CM_ERR_NOTFOUND : CM_ERR_DB,
                     "no approved capacity in force (coalmon capacity set)");
    }
    sqlite3_finalize(s);
    return rc;
}

typedef struct cap_job {
    double tpa;
    int64_t valid_from;
    const char *actor, *channel, *reason;
} cap_job_t;

static int cap_fn(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    cap_job_t *j = arg;
    double old = NAN;
    char oldv[32] = "", newv[32], target[48];
    if (ana_db_capacity(db, j->valid_from, &old, NULL, NULL, 0) == CM_OK)
        snprintf(oldv, sizeof oldv, "%.0f", old);
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO ana_capacity(tpa, valid_from, set_by, reason) "
                           "VALUES (?1, ?2, ?3, ?4)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_double(s, 1, j->tpa);
    sqlite3_bind_int64(s, 2, j->valid_from);
    sqlite3_bind_text(s, 3, j->actor, -1, SQLITE_STATIC);
    if (j->reason)
        sqlite3_bind_text(s, 4, j->reason, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "storing the capacity: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    if (rc)
        return rc;
    snprintf(newv, sizeof newv, "%.0f", j->tpa);
    char from[24];
    tm_format_bj(j->valid_from, from, sizeof from);
    snprintf(target, sizeof target, "capacity@%s", from);
    return store_audit(db, j->actor, j->channel, "capacity.set", target, oldv[0] ? oldv : NULL,
                       newv, j->reason, err, errlen);
}

int ana_db_capacity_set(store_t *st, double tpa, int64_t valid_from, const char *actor,
                        const char *channel, const char *reason, char *err, size_t errlen)
{
    if (!(tpa > 0) || tpa > 1e9)
        return cm_fail(err, errlen, CM_ERR_INVALID, "capacity: expected t/a in 1..1e9");
    cap_job_t j = {
        .tpa = tpa, .valid_from = valid_from, .actor = actor, .channel = channel, .reason = reason};
    return store_write(st, cap_fn, &j, err, errlen);
}
