/* analytics: the one output over a period (ANA-4, RPT-1, RPT-2, UPL-2).
 * Station minutes (the collector's), imported history (ana_interval, ours)
 * replacing the station's minutes of the intervals it covers, and the
 * coefficient in force (core's) converting it piecewise. intake's figures,
 * the uplink's daily summary and the reports all ask here. */
#include <math.h>
#include <string.h>

#include "analytics/analytics.h"
#include "collector/collector.h"

/* Add history [a, b) (clipped to the range) to the run being merged, or
 * close the run and subtract the station's minutes under it. */
typedef struct runs {
    sqlite3 *db;
    int64_t lo, hi; /* the open run; lo == hi: none */
    double station; /* station tonnes under closed runs */
} runs_t;

static int close_run(runs_t *r, char *err, size_t errlen)
{
    if (r->hi <= r->lo)
        return CM_OK;
    double t;
    int64_t minutes;
    int rc = col_output_total(r->db, r->lo, r->hi, &t, &minutes, err, errlen);
    r->station += t;
    r->lo = r->hi = 0;
    return rc;
}

int ana_output_raw(sqlite3 *db, int64_t start, int64_t end, double *tons, char *err,
                   size_t errlen)
{
    double station, history = 0;
    int64_t minutes;
    int rc = col_output_total(db, start, end, &station, &minutes, err, errlen);
    if (rc)
        return rc;
    /* History intervals overlapping the range, in runs of adjacent ones: the
     * station's minutes under a run are replaced by the run's history (an
     * interval starting before the range replaces its minutes in the range;
     * its tonnes count where it starts). */
    sqlite3_stmt *s;
    rc = store_prepare(db,
                       "SELECT start, interval_s, tons FROM ana_interval WHERE start < ?2"
                       " AND start >= ?1 - 86400 AND start + interval_s > ?1 ORDER BY start",
                       &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, start);
    sqlite3_bind_int64(s, 2, end);
    runs_t r = {.db = db};
    while (!rc && store_next(s, &rc, err, errlen)) {
        int64_t a = sqlite3_column_int64(s, 0), b = a + sqlite3_column_int64(s, 1);
        if (a >= start)
            history += sqlite3_column_double(s, 2); /* NULL: nothing, as sum() */
        a = a < start ? start : a;
        b = b > end ? end : b;
        if (a > r.hi)
            rc = close_run(&r, err, errlen);
        if (r.hi <= r.lo)
            r.lo = a;
        if (b > r.hi)
            r.hi = b;
    }
    sqlite3_finalize(s);
    if (!rc)
        rc = close_run(&r, err, errlen);
    if (rc)
        return rc;
    *tons = station - r.station + history;
    return CM_OK;
}

#define MAX_COEF_CHANGES 64

int ana_output(sqlite3 *db, const char *coef, int64_t start, int64_t end, ana_output_t *out,
               char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int64_t cuts[MAX_COEF_CHANGES + 2];
    int n = 0;
    cuts[0] = start;
    int rc = store_coef_changes(db, coef, start, end, cuts + 1, MAX_COEF_CHANGES, &n, err, errlen);
    if (rc)
        return rc;
    n++;
    cuts[n] = end;
    out->has_coefficient = true;
    for (int i = 0; i < n; i++) {
        double raw, k;
        rc = ana_output_raw(db, cuts[i], cuts[i + 1], &raw, err, errlen);
        if (rc)
            return rc;
        int g = store_coef_get(db, coef, cuts[i], &k, err, errlen);
        if (g == CM_ERR_NOTFOUND) {
            out->has_coefficient = false; /* shown as "no coefficient", never a made-up 1.0 */
            k = 1.0;
        } else if (g) {
            return g;
        }
        out->raw += raw;
        out->converted += raw * k;
    }
    return CM_OK;
}

int ana_output_for_intake(sqlite3 *db, int64_t start, int64_t end, double *raw, double *gross,
                          bool *has_coefficient, char *err, size_t errlen)
{
    ana_output_t o;
    int rc = ana_output(db, "raw_to_gross", start, end, &o, err, errlen);
    if (rc)
        return rc;
    *raw = o.raw;
    *gross = o.converted;
    *has_coefficient = o.has_coefficient;
    return CM_OK;
}
