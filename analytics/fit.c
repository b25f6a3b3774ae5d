/* analytics: the output-vs-electricity model — a robust (bisquare) fit of
 * gate energy against running hours and tonnage (ANA-1). Pure functions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>

#include "analytics/analytics.h"

/* Below this bisquare weight an interval counts as an outlier in the stats. */
#define OUTLIER_WEIGHT 0.1
#define MIN_INTERVALS 12

const char *ana_gate_name(ana_gate g)
{
    return g == ANA_GATE_TOTAL ? "total" : "transport";
}

int ana_gate_parse(const char *s, ana_gate *out)
{
    if (!s || !strcmp(s, "transport"))
        *out = ANA_GATE_TRANSPORT;
    else if (!strcmp(s, "total"))
        *out = ANA_GATE_TOTAL;
    else
        return CM_ERR_INVALID;
    return CM_OK;
}

double ana_interval_kwh(const ana_interval_t *iv, ana_gate gate)
{
    return gate == ANA_GATE_TOTAL ? iv->total_kwh : iv->transport_kwh;
}

double ana_model_energy(const ana_model_t *m, double run_h, double tons)
{
    return m->a * run_h + m->b * tons + m->c;
}

double ana_model_implied_tons(const ana_model_t *m, double run_h, double kwh)
{
    if (!(m->b > 0))
        return NAN;
    return (kwh - m->a * run_h - m->c) / m->b;
}

static bool usable(const ana_interval_t *iv, ana_gate gate, double max_h)
{
    double e = ana_interval_kwh(iv, gate);
    return iv->trusted && isfinite(e) && isfinite(iv->tons) && isfinite(iv->run_h) && e >= 0 &&
           iv->tons >= 0 && iv->run_h >= 0 && iv->run_h <= max_h;
}

/* Running time and tonnage must vary, and not in lock-step, or the fit cannot
 * tell the no-load part from the load part. */
static int check_design(const gsl_matrix *X, char *err, size_t errlen)
{
    size_t n = X->size1;
    double mr = 0, mt = 0, srr = 0, stt = 0, srt = 0;
    for (size_t i = 0; i < n; i++) {
        mr += gsl_matrix_get(X, i, 0);
        mt += gsl_matrix_get(X, i, 1);
    }
    mr /= (double)n;
    mt /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double r = gsl_matrix_get(X, i, 0) - mr, t = gsl_matrix_get(X, i, 1) - mt;
        srr += r * r;
        stt += t * t;
        srt += r * t;
    }
    if (srr <= 1e-12)
        return cm_fail(err, errlen, CM_ERR_INVALID, "running time does not vary in the window");
    if (stt <= 1e-12)
        return cm_fail(err, errlen, CM_ERR_INVALID, "tonnage does not vary in the window");
    if (fabs(srt) / sqrt(srr * stt) > 0.9995)
        return cm_fail(err, errlen, CM_ERR_INVALID,
                       "running time and tonnage move in lock-step: no-load and load parts "
                       "cannot be told apart");
    return CM_OK;
}

static void fill_stats(ana_model_t *m, const gsl_multifit_robust_workspace *w,
                       const gsl_vector *c, const gsl_matrix *cov)
{
    gsl_multifit_robust_stats st = gsl_multifit_robust_statistics(w);
    m->a = gsl_vector_get(c, 0);
    m->b = gsl_vector_get(c, 1);
    m->c = gsl_vector_get(c, 2);
    m->se_a = sqrt(gsl_matrix_get(cov, 0, 0));
    m->se_b = sqrt(gsl_matrix_get(cov, 1, 1));
    m->se_c = sqrt(gsl_matrix_get(cov, 2, 2));
    m->sigma = st.sigma;
    m->r2 = st.Rsq;
    m->n_outliers = 0;
    for (size_t i = 0; i < st.weights->size; i++)
        if (gsl_vector_get(st.weights, i) < OUTLIER_WEIGHT)
            m->n_outliers++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Robust scale (1.4826 MAD) of the residuals of running intervals. Stopped
 * intervals have tiny residuals and pull the overall scale down, which would
 * make the monitor see deviations that are only noise. */
static double running_scale(const ana_model_t *m, const gsl_matrix *X, const gsl_vector *y,
                            int interval_s)
{
    size_t n = X->size1, k = 0;
    double *r = malloc(n * sizeof *r);
    double min_h = 0.5 * interval_s / 3600.0, s = m->sigma;
    if (!r)
        return s;
    for (size_t i = 0; i < n; i++) {
        double run = gsl_matrix_get(X, i, 0), t = gsl_matrix_get(X, i, 1);
        if (run >= min_h)
            r[k++] = gsl_vector_get(y, i) - ana_model_energy(m, run, t);
    }
    if (k >= MIN_INTERVALS) {
        qsort(r, k, sizeof *r, cmp_double);
        double med = k % 2 ? r[k / 2] : 0.5 * (r[k / 2 - 1] + r[k / 2]);
        for (size_t i = 0; i < k; i++)
            r[i] = fabs(r[i] - med);
        qsort(r, k, sizeof *r, cmp_double);
        double mad = k % 2 ? r[k / 2] : 0.5 * (r[k / 2 - 1] + r[k / 2]);
        if (mad > 0)
            s = 1.4826 * mad;
    }
    free(r);
    return s;
}

int ana_fit(const ana_interval_t *iv, size_t n, ana_gate gate, int interval_s, ana_model_t *m,
            char *err, size_t errlen)
{
    if (interval_s <= 0)
        return cm_fail(err, errlen, CM_ERR_INVALID, "interval must be positive");
    double max_h = interval_s / 3600.0 * 1.01;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += usable(&iv[i], gate, max_h);
    if (k < MIN_INTERVALS)
        return cm_fail(err, errlen, CM_ERR_INVALID,
                       "%zu usable intervals on the %s gate; at least %d are needed", k,
                       ana_gate_name(gate), MIN_INTERVALS);
    gsl_matrix *X = gsl_matrix_alloc(k, 3), *cov = gsl_matrix_alloc(3, 3);
    gsl_vector *y = gsl_vector_alloc(k), *c = gsl_vector_alloc(3);
    gsl_multifit_robust_workspace *w = gsl_multifit_robust_alloc(gsl_multifit_robust_bisquare, k, 3);
    int rc = CM_OK;
    if (!X || !cov || !y || !c || !w) {
        rc = cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory fitting %zu intervals", k);
        goto out;
    }
    memset(m, 0, sizeof *m);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (!usable(&iv[i], gate, max_h))
            continue;
        gsl_matrix_set(X, j, 0, iv[i].run_h);
        gsl_matrix_set(X, j, 1, iv[i].tons);
        gsl_matrix_set(X, j, 2, 1.0);
        gsl_vector_set(y, j, ana_interval_kwh(&iv[i], gate));
        if (j == 0 || iv[i].start < m->window_from)
            m->window_from = iv[i].start;
        if (iv[i].start + interval_s > m->window_to)
            m->window_to = iv[i].start + interval_s;
        j++;
    }
    rc = check_design(X, err, errlen);
    if (rc)
        goto out;
    /* GSL's default handler aborts; errors here are data problems we report. */
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int grc = gsl_multifit_robust(X, y, c, cov, w);
    gsl_set_error_handler(old);
    /* GSL_EMAXITER still leaves usable coefficients; anything else does not. */
    if (grc && grc != GSL_EMAXITER) {
        rc = cm_fail(err, errlen, CM_ERR_INVALID, "robust fit failed: %s", gsl_strerror(grc));
        goto out;
    }
    fill_stats(m, w, c, cov);
    m->sigma_run = running_scale(m, X, y, interval_s);
    m->gate = gate;
    m->n = (int)k;
    m->interval_s = interval_s;
    if (!(m->b > 0))
        rc = cm_fail(err, errlen, CM_ERR_INVALID,
                     "fitted energy per tonne is %.4g kWh/t (not positive): the %s gate's "
                     "energy does not follow the tonnage in this window",
                     m->b, ana_gate_name(gate));
out:
    if (w)
        gsl_multifit_robust_free(w);
    gsl_matrix_free(X);
    gsl_matrix_free(cov);
    gsl_vector_free(y);
    gsl_vector_free(c);
    return rc;
}
