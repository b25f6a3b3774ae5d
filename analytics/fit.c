/* analytics: the output-vs-electricity model — a robust (bisquare) fit of
 * gate energy against running hours and tonnage (ANA-1). Pure functions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

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
static int check_design(const double *X, size_t n, char *err, size_t errlen)
{
    double mr = 0, mt = 0, srr = 0, stt = 0, srt = 0;
    for (size_t i = 0; i < n; i++) {
        mr += X[i * 3];
        mt += X[i * 3 + 1];
    }
    mr /= (double)n;
    mt /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double r = X[i * 3] - mr, t = X[i * 3 + 1] - mt;
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

static double select_kth(double *v, size_t n, size_t k);

/* Median of v[0..k) (reordered): O(k) selection, fits run every day. */
static double median_of(double *v, size_t k)
{
    double hi = select_kth(v, k, k / 2);
    if (k % 2)
        return hi;
    double lo = v[0]; /* after selection v[0..k/2) <= hi: its largest is the lower middle */
    for (size_t i = 1; i < k / 2; i++)
        if (v[i] > lo)
            lo = v[i];
    return 0.5 * (lo + hi);
}

/* Robust scale (1.4826 MAD) of the residuals of running intervals. Stopped
 * intervals have tiny residuals and pull the overall scale down, which would
 * make the monitor see deviations that are only noise. */
static double running_scale(const ana_model_t *m, const double *X, const double *y, size_t n,
                            int interval_s)
{
    size_t k = 0;
    double *r = malloc(n * sizeof *r);
    double min_h = 0.5 * interval_s / 3600.0, s = m->sigma;
    if (!r)
        return s;
    for (size_t i = 0; i < n; i++) {
        double run = X[i * 3], t = X[i * 3 + 1];
        if (run >= min_h)
            r[k++] = y[i] - ana_model_energy(m, run, t);
    }
    if (k >= MIN_INTERVALS) {
        double med = median_of(r, k);
        for (size_t i = 0; i < k; i++)
            r[i] = fabs(r[i] - med);
        double mad = median_of(r, k);
        if (mad > 0)
            s = 1.4826 * mad;
    }
    free(r);
    return s;
}

/* Robust scale (1.4826 MAD about zero's median) of residual / energy over
 * running intervals: energy noise is a share of the energy, so a loaded
 * interval's residual is larger than an empty one's. */
static double relative_scale(const ana_model_t *m, const double *X, const double *y, size_t n,
                             int interval_s)
{
    size_t k = 0;
    double *r = malloc(n * sizeof *r);
    double min_h = 0.5 * interval_s / 3600.0, s = 0;
    if (!r)
        return 0;
    for (size_t i = 0; i < n; i++) {
        double run = X[i * 3], t = X[i * 3 + 1];
        if (run >= min_h && y[i] > 0)
            r[k++] = (y[i] - ana_model_energy(m, run, t)) / y[i];
    }
    if (k >= MIN_INTERVALS) {
        double med = median_of(r, k);
        for (size_t i = 0; i < k; i++)
            r[i] = fabs(r[i] - med);
        s = 1.4826 * median_of(r, k);
    }
    free(r);
    return s;
}

/* ---- iteratively reweighted least squares with Tukey's bisquare ------------
 * The same estimator as gsl_multifit_robust(gsl_multifit_robust_bisquare),
 * but solved through the 3x3 weighted normal equations (GSL's Cholesky)
 * instead of an SVD of the whole n x 3 design at every iteration: on a year
 * of 15-minute intervals that is ~1 ms an iteration instead of ~5 (see
 * bench/bench_fit.c, which checks both agree). The design is small and its
 * columns are checked for collinearity first, so the normal equations are
 * well conditioned. */

#define BISQUARE_C 4.685 /* 95 % efficiency at the normal */
#define MAX_ITER 100
#define P 3

/* k-th smallest of v[0..n) (v is reordered): Hoare's selection, O(n). */
static double select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    return v[k];
}

/* Robust scale of the residuals: median |r| / 0.6745. */
static double mad_scale(const double *r, double *tmp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tmp[i] = fabs(r[i]);
    return select_kth(tmp, n, n / 2) / 0.6745;
}

/* Solve (X'WX) c = X'Wy; also leaves the Cholesky factor in A. */
static int weighted_solve(const double *X, const double *y, const double *w, size_t n,
                          gsl_matrix *A, gsl_vector *c)
{
    double a[P][P] = {{0}}, b[P] = {0};
    for (size_t i = 0; i < n; i++) {
        const double *x = X + i * P;
        double wi = w[i];
        if (wi == 0)
            continue;
        for (int j = 0; j < P; j++) {
            b[j] += wi * x[j] * y[i];
            for (int k = j; k < P; k++)
                a[j][k] += wi * x[j] * x[k];
        }
    }
    for (int j = 0; j < P; j++) {
        gsl_vector_set(c, j, b[j]);
        for (int k = j; k < P; k++) {
            gsl_matrix_set(A, j, k, a[j][k]);
            gsl_matrix_set(A, k, j, a[j][k]);
        }
    }
    if (gsl_linalg_cholesky_decomp1(A))
        return CM_ERR_INVALID;
    return gsl_linalg_cholesky_svx(A, c) ? CM_ERR_INVALID : CM_OK;
}

static void residuals(const double *X, const double *y, const gsl_vector *c, size_t n, double *r)
{
    double c0 = gsl_vector_get(c, 0), c1 = gsl_vector_get(c, 1), c2 = gsl_vector_get(c, 2);
    for (size_t i = 0; i < n; i++)
        r[i] = y[i] - (c0 * X[i * P] + c1 * X[i * P + 1] + c2 * X[i * P + 2]);
}

static bool converged(const gsl_vector *c, const double *prev)
{
    for (int j = 0; j < P; j++) {
        double now = gsl_vector_get(c, j);
        if (fabs(now - prev[j]) > 1e-10 * fmax(1e-10, fmax(fabs(now), fabs(prev[j]))))
            return false;
    }
    return true;
}

typedef struct irls {
    const double *X, *y;
    size_t n;
    double *w, *r, *tmp; /* n each */
} irls_t;

/* Fits c; fills the model's statistics. */
static int irls_bisquare(irls_t *f, ana_model_t *m, char *err, size_t errlen)
{
    gsl_matrix *A = gsl_matrix_alloc(P, P);
    gsl_vector *c = gsl_vector_alloc(P);
    if (!A || !c) {
        gsl_matrix_free(A);
        gsl_vector_free(c);
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    }
    gsl_error_handler_t *old = gsl_set_error_handler_off(); /* GSL would abort */
    for (size_t i = 0; i < f->n; i++)
        f->w[i] = 1.0;
    int rc = weighted_solve(f->X, f->y, f->w, f->n, A, c); /* ordinary least squares first */
    double s = 0, prev[P];
    for (int it = 0; !rc && it < MAX_ITER; it++) {
        residuals(f->X, f->y, c, f->n, f->r);
        s = mad_scale(f->r, f->tmp, f->n);
        if (!(s > 1e-12))
            break; /* the data fit exactly: nothing to reweight */
        for (size_t i = 0; i < f->n; i++) {
            double u = f->r[i] / (BISQUARE_C * s);
            f->w[i] = fabs(u) < 1 ? (1 - u * u) * (1 - u * u) : 0;
        }
        for (int j = 0; j < P; j++)
            prev[j] = gsl_vector_get(c, j);
        rc = weighted_solve(f->X, f->y, f->w, f->n, A, c);
        if (!rc && converged(c, prev))
            break;
    }
    if (rc) {
        rc = cm_fail(err, errlen, CM_ERR_INVALID, "robust fit failed: singular weighted design");
        goto out;
    }
    residuals(f->X, f->y, c, f->n, f->r);
    /* Statistics: scale from the final residuals; covariance s^2 (X'WX)^-1
     * (A holds the Cholesky factor of X'WX); R^2 of the weighted fit. */
    m->sigma = mad_scale(f->r, f->tmp, f->n);
    gsl_linalg_cholesky_invert(A);
    double *coef[P] = {&m->a, &m->b, &m->c}, *se[P] = {&m->se_a, &m->se_b, &m->se_c};
    for (int j = 0; j < P; j++) {
        *coef[j] = gsl_vector_get(c, j);
        *se[j] = m->sigma * sqrt(gsl_matrix_get(A, j, j));
    }
    double sw = 0, swy = 0, ssr = 0, sst = 0;
    m->n_outliers = 0;
    for (size_t i = 0; i < f->n; i++) {
        sw += f->w[i];
        swy += f->w[i] * f->y[i];
        m->n_outliers += f->w[i] < OUTLIER_WEIGHT;
    }
    double ybar = sw > 0 ? swy / sw : 0;
    for (size_t i = 0; i < f->n; i++) {
        ssr += f->w[i] * f->r[i] * f->r[i];
        sst += f->w[i] * (f->y[i] - ybar) * (f->y[i] - ybar);
    }
    m->r2 = sst > 0 ? 1 - ssr / sst : 1;
out:
    gsl_set_error_handler(old);
    gsl_matrix_free(A);
    gsl_vector_free(c);
    return rc;
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
    /* One block: X (k x 3, row-major), y, weights, residuals, scratch. */
    double *buf = malloc(k * (P + 4) * sizeof *buf);
    if (!buf)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory fitting %zu intervals", k);
    irls_t f = {.X = buf,
                .y = buf + k * P,
                .n = k,
                .w = buf + k * (P + 1),
                .r = buf + k * (P + 2),
                .tmp = buf + k * (P + 3)};
    double *X = buf, *y = buf + k * P;
    memset(m, 0, sizeof *m);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (!usable(&iv[i], gate, max_h))
            continue;
        X[j * P] = iv[i].run_h;
        X[j * P + 1] = iv[i].tons;
        X[j * P + 2] = 1.0;
        y[j] = ana_interval_kwh(&iv[i], gate);
        if (j == 0 || iv[i].start < m->window_from)
            m->window_from = iv[i].start;
        if (iv[i].start + interval_s > m->window_to)
            m->window_to = iv[i].start + interval_s;
        j++;
    }
    int rc = check_design(X, k, err, errlen);
    if (!rc)
        rc = irls_bisquare(&f, m, err, errlen);
    if (!rc) {
        m->sigma_run = running_scale(m, X, y, k, interval_s);
        m->sigma_rel = relative_scale(m, X, y, k, interval_s);
        m->gate = gate;
        m->n = (int)k;
        m->interval_s = interval_s;
        if (!(m->b > 0))
            rc = cm_fail(err, errlen, CM_ERR_INVALID,
                         "fitted energy per tonne is %.4g kWh/t (not positive): the %s gate's "
                         "energy does not follow the tonnage in this window",
                         m->b, ana_gate_name(gate));
    }
    free(buf);
    return rc;
}
