/* analytics: the tonnage the electricity implies, interval by interval, with
 * the standardised residual and the CUSUM sums — the series behind the
 * dashboard's metered-vs-implied chart and `coalmon model implied` (ANA-1).
 * Same shape as a report, so the CSV writer serves it too. */
#include <math.h>
#include <stdlib.h>

#include "analytics/analytics.h"

static cJSON *num(double v, double scale)
{
    return isfinite(v) ? cJSON_CreateNumber(round(v * scale) / scale) : cJSON_CreateNull();
}

static const char *const columns[] = {"time",      "tons", "kwh",        "run_hours", "implied_t",
                                      "deviation", "z",    "cusum_high", "cusum_low", NULL};

static cJSON *row(const ana_model_t *m, const ana_cusum_opts_t *o, const ana_interval_t *iv,
                  int interval_s, ana_cusum_t *cs)
{
    char t[24];
    tm_format_bj(iv->start, t, sizeof t);
    double e = ana_interval_kwh(iv, m->gate);
    double implied =
        isfinite(e) && isfinite(iv->run_h) ? ana_model_implied_tons(m, iv->run_h, e) : NAN;
    double z = NAN;
    bool counted = isfinite(implied) && isfinite(iv->tons) &&
                   iv->run_h >= o->min_run_frac * interval_s / 3600.0;
    if (counted) {
        double sigma_t = (m->sigma_run > 0 ? m->sigma_run : m->sigma) / m->b;
        z = fmax(-o->z_clip, fmin(o->z_clip, (iv->tons - implied) / sigma_t));
        cs->hi = fmax(0, cs->hi + z - o->k);
        cs->lo = fmin(0, cs->lo + z + o->k);
        /* the chart shows the sums restarting where the monitor restarts them */
        if (cs->hi > o->h)
            cs->hi = 0;
        if (cs->lo < -o->h)
            cs->lo = 0;
    }
    cJSON *r = cJSON_CreateArray();
    cJSON_AddItemToArray(r, cJSON_CreateString(t));
    cJSON_AddItemToArray(r, num(iv->tons, 1000));
    cJSON_AddItemToArray(r, num(e, 1000));
    cJSON_AddItemToArray(r, num(iv->run_h, 10000));
    cJSON_AddItemToArray(r, num(implied, 1000));
    cJSON_AddItemToArray(
        r, num(counted && fabs(implied) > 1e-9 ? (iv->tons - implied) / implied : NAN, 10000));
    cJSON_AddItemToArray(r, num(z, 1000));
    cJSON_AddItemToArray(r, num(counted ? cs->hi : NAN, 1000));
    cJSON_AddItemToArray(r, num(counted ? cs->lo : NAN, 1000));
    return r;
}

int ana_implied_json(sqlite3 *db, const ana_conf_t *c, ana_gate gate, int64_t from, int64_t to,
                     cJSON **out, char *err, size_t errlen)
{
    if (to <= from || to - from > 400LL * 86400)
        return cm_fail(err, errlen, CM_ERR_INVALID, "from must precede to, at most 400 days");
    ana_model_t m;
    int rc = ana_db_model(db, gate, from, &m, err, errlen);
    if (rc == CM_ERR_NOTFOUND)
        rc = ana_db_model(db, gate, 0, &m, err, errlen);
    if (rc)
        return rc;
    ana_interval_t *iv;
    size_t n;
    rc = ana_db_intervals(db, c, from, to, &iv, &n, err, errlen);
    if (rc)
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "report", "implied");
    cJSON_AddItemToObject(o, "model", ana_model_json(&m));
    /* the chart draws the alarm threshold from the configuration in force, not a guess */
    cJSON *cu = cJSON_AddObjectToObject(o, "cusum");
    cJSON_AddNumberToObject(cu, "k", c->cusum.k);
    cJSON_AddNumberToObject(cu, "h", c->cusum.h);
    cJSON_AddNumberToObject(cu, "z_clip", c->cusum.z_clip);
    cJSON *cols = cJSON_AddArrayToObject(o, "columns");
    for (const char *const *p = columns; *p; p++)
        cJSON_AddItemToArray(cols, cJSON_CreateString(*p));
    cJSON *rows = cJSON_AddArrayToObject(o, "rows");
    ana_cusum_t cs = {0};
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(rows, row(&m, &c->cusum, &iv[i], c->interval_s, &cs));
    free(iv);
    *out = o;
    return CM_OK;
}
