/* analytics store layer: writing conditions (ana_condition) and job state
 * (ana_state), listing conditions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/conditions.h"

const char *ana_gate_cond_type(ana_gate g)
{
    return g == ANA_GATE_TOTAL ? "output_power_total" : "output_power";
}

size_t ana_first_at(const ana_interval_t *iv, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (iv[mid].start < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void ana_sum_intervals(const ana_interval_t *iv, size_t n, int64_t from, int64_t to,
                       ana_sums_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = ana_first_at(iv, n, from); i < n && iv[i].start < to; i++) {
        if (isfinite(iv[i].tons)) {
            out->tons += iv[i].tons;
            out->n_tons++;
        }
        if (isfinite(iv[i].transport_kwh))
            out->transport_kwh += iv[i].transport_kwh;
        if (isfinite(iv[i].total_kwh))
            out->total_kwh += iv[i].total_kwh;
        if (isfinite(iv[i].sub_kwh)) {
            out->sub_kwh += iv[i].sub_kwh;
            out->n_sub++;
        }
        if (isfinite(iv[i].run_h))
            out->run_h += iv[i].run_h;
    }
}

int ana_cond_add(ana_cond_list_t *l, const ana_condition_t *c)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        ana_condition_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return CM_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *c;
    return CM_OK;
}

void ana_cond_list_free(ana_cond_list_t *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Insert, or update when something changed (so updated_ms moves only then). */
static int upsert(sqlite3 *db, const ana_condition_t *c, int64_t now_ms, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(
        db,
        "INSERT INTO ana_condition(type, source, level, start, end, end_due, value, threshold, "
        "detail, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8, ?9, ?9) "
        "ON CONFLICT(type, source, start) DO UPDATE SET level = excluded.level, "
        "end = excluded.end_due, end_due = NULL, " /* seen open already: close at once */
        "value = excluded.value, threshold = excluded.threshold, "
        "detail = excluded.detail, updated_ms = excluded.updated_ms WHERE "
        "level IS NOT excluded.level OR coalesce(end, end_due) IS NOT excluded.end_due OR "
        "value IS NOT excluded.value OR detail IS NOT excluded.detail",
        &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, c->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c->source, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, c->level);
    sqlite3_bind_int64(s, 4, c->start);
    if (c->end)
        sqlite3_bind_int64(s, 5, c->end);
    if (isfinite(c->value))
        sqlite3_bind_double(s, 6, c->value);
    if (isfinite(c->threshold))
        sqlite3_bind_double(s, 7, c->threshold);
    sqlite3_bind_text(s, 8, c->detail[0] ? c->detail : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 9, now_ms);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "storing a condition: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

/* Runs sql, an UPDATE that ends open conditions, with ?1 c's type, ?2 its source,
 * ?3 its start, ?4 end_s and ?5 now_ms; `what` names the step in err. */
static int end_matching(sqlite3 *db, const char *sql, const ana_condition_t *c, int64_t end_s,
                        int64_t now_ms, const char *what, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, sql, &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, c->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, c->start);
    sqlite3_bind_int64(s, 4, end_s);
    sqlite3_bind_int64(s, 5, now_ms);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "%s: %s", what, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

/* A period condition that no longer holds ends now. */
static int end_open(sqlite3 *db, const ana_condition_t *c, int64_t now_ms, char *err, size_t errlen)
{
    return end_matching(db,
                        "UPDATE ana_condition SET end = ?4, updated_ms = ?5 WHERE type = ?1 "
                        "AND source = ?2 AND start = ?3 AND end IS NULL",
                        c, c->end ? c->end : now_ms / 1000, now_ms, "ending a condition", err,
                        errlen);
}

int ana_state_put(sqlite3 *db, const char *name, const char *value, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO ana_state(name, value, updated_at) VALUES (?1, ?2, "
                           "unixepoch()) ON CONFLICT(name) DO UPDATE SET value = excluded.value, "
                           "updated_at = excluded.updated_at",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "storing state: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

char *ana_state_get(sqlite3 *db, const char *name)
{
    sqlite3_stmt *s = NULL;
    char *v = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM ana_state WHERE name = ?1", -1, &s, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
            v = strdup((const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return v;
}

/* Rows written last time with a known end have now been seen open once. */
static int close_due(sqlite3 *db, int64_t now_ms, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "UPDATE ana_condition SET end = end_due, end_due = NULL, "
                           "updated_ms = ?1 WHERE end IS NULL AND end_due IS NOT NULL",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, now_ms);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "closing conditions: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

/* Open period conditions whose period is no longer evaluated end now. */
static int sweep(sqlite3 *db, const ana_condition_t *c, int64_t now_ms, char *err, size_t errlen)
{
    return end_matching(db,
                        "UPDATE ana_condition SET end = ?4, updated_ms = ?5 WHERE type = ?1 "
                        "AND source = ?2 AND start < ?3 AND end IS NULL",
                        c, now_ms / 1000, now_ms, "ending old conditions", err, errlen);
}

static int write_fn(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    ana_write_t *w = arg;
    int64_t now_ms = tm_now_ms();
    int rc = close_due(db, now_ms, err, errlen);
    for (size_t i = 0; !rc && i < w->sweep.n; i++)
        rc = sweep(db, &w->sweep.v[i], now_ms, err, errlen);
    for (size_t i = 0; !rc && i < w->put.n; i++)
        rc = upsert(db, &w->put.v[i], now_ms, err, errlen);
    for (size_t i = 0; !rc && i < w->end.n; i++)
        rc = end_open(db, &w->end.v[i], now_ms, err, errlen);
    for (int i = 0; !rc && i < w->n_state; i++)
        rc = ana_state_put(db, w->state_name[i], w->state_value[i], err, errlen);
    return rc;
}

int ana_write_commit(store_t *st, ana_write_t *w, char *err, size_t errlen)
{
    return store_write(st, write_fn, w, err, errlen);
}

void ana_write_free(ana_write_t *w)
{
    ana_cond_list_free(&w->put);
    ana_cond_list_free(&w->end);
    ana_cond_list_free(&w->sweep);
    for (int i = 0; i < w->n_state; i++)
        free(w->state_value[i]);
    w->n_state = 0;
}

cJSON *ana_condition_json(const ana_condition_t *c)
{
    cJSON *o = cJSON_CreateObject();
    char t[24];
    cJSON_AddNumberToObject(o, "id", (double)c->id);
    cJSON_AddStringToObject(o, "type", c->type);
    cJSON_AddStringToObject(o, "source", c->source);
    cJSON_AddNumberToObject(o, "level", c->level);
    tm_format_bj(c->start, t, sizeof t);
    cJSON_AddStringToObject(o, "start", t);
    if (c->end) {
        tm_format_bj(c->end, t, sizeof t);
        cJSON_AddStringToObject(o, "end", t);
    } else {
        cJSON_AddNullToObject(o, "end");
    }
    cJSON_AddBoolToObject(o, "ongoing", c->end == 0);
    if (isfinite(c->value))
        cJSON_AddNumberToObject(o, "value", c->value);
    else
        cJSON_AddNullToObject(o, "value");
    if (isfinite(c->threshold))
        cJSON_AddNumberToObject(o, "threshold", c->threshold);
    else
        cJSON_AddNullToObject(o, "threshold");
    cJSON *d = cJSON_Parse(c->detail);
    cJSON_AddItemToObject(o, "detail", d ? d : cJSON_CreateObject());
    return o;
}

int ana_conditions_json(sqlite3 *db, int64_t from, int64_t to, cJSON **out, char *err,
                        size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT id, type, source, level, start, end, value, threshold, detail "
                           "FROM ana_condition WHERE start < ?2 AND coalesce(end, ?2) >= ?1 "
                           "ORDER BY start DESC, id DESC LIMIT 1000",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    cJSON *a = cJSON_CreateArray();
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        ana_condition_t c = {0};
        c.id = sqlite3_column_int64(s, 0);
        snprintf(c.type, sizeof c.type, "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(c.source, sizeof c.source, "%s", (const char *)sqlite3_column_text(s, 2));
        c.level = sqlite3_column_int(s, 3);
        c.start = sqlite3_column_int64(s, 4);
        c.end = sqlite3_column_int64(s, 5);
        c.value = sqlite3_column_type(s, 6) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 6);
        c.threshold = sqlite3_column_type(s, 7) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 7);
        snprintf(c.detail, sizeof c.detail, "%s", (const char *)sqlite3_column_text(s, 8));
        cJSON_AddItemToArray(a, ana_condition_json(&c));
    }
    sqlite3_finalize(s);
    if (step != SQLITE_DONE) {
        cJSON_Delete(a);
        return cm_fail(err, errlen, CM_ERR_DB, "reading conditions: %s", sqlite3_errmsg(db));
    }
    *out = a;
    return CM_OK;
}
