/* Fit time of the output-vs-electricity model on one year of 15-minute
 * intervals (issue #6; target well under 100 ms), and the detector the daemon
 * runs (ana_det_run) over the same year. Baselines, measured in the same run on the same data:
 * GSL's own robust fit (gsl_multifit_robust, bisquare), the same estimator
 * solved by an SVD per iteration — the coefficients must agree — and an
 * ordinary least-squares fit (gsl_multifit_linear). Median of 7 runs each. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_multifit.h>

#include "analytics/analytics.h"

#define RUNS 7

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double now_ms(void)
{
    return (double)tm_mono_ms();
}

static double ols(const ana_interval_t *iv, size_t n)
{
    double t0 = now_ms();
    gsl_matrix *X = gsl_matrix_alloc(n, 3), *cov = gsl_matrix_alloc(3, 3);
    gsl_vector *y = gsl_vector_alloc(n), *c = gsl_vector_alloc(3);
    gsl_multifit_linear_workspace *w = gsl_multifit_linear_alloc(n, 3);
    for (size_t i = 0; i < n; i++) {
        gsl_matrix_set(X, i, 0, iv[i].run_h);
        gsl_matrix_set(X, i, 1, iv[i].tons);
        gsl_matrix_set(X, i, 2, 1);
        gsl_vector_set(y, i, iv[i].transport_kwh);
    }
    double chisq;
    gsl_multifit_linear(X, y, c, cov, &chisq, w);
    gsl_multifit_linear_free(w);
    gsl_matrix_free(X);
    gsl_matrix_free(cov);
    gsl_vector_free(y);
    gsl_vector_free(c);
    return now_ms() - t0;
}

static double gsl_robust(const ana_interval_t *iv, size_t n, double coef[3])
{
    double t0 = now_ms();
    gsl_matrix *X = gsl_matrix_alloc(n, 3), *cov = gsl_matrix_alloc(3, 3);
    gsl_vector *y = gsl_vector_alloc(n), *c = gsl_vector_alloc(3);
    gsl_multifit_robust_workspace *w =
        gsl_multifit_robust_alloc(gsl_multifit_robust_bisquare, n, 3);
    for (size_t i = 0; i < n; i++) {
        gsl_matrix_set(X, i, 0, iv[i].run_h);
        gsl_matrix_set(X, i, 1, iv[i].tons);
        gsl_matrix_set(X, i, 2, 1);
        gsl_vector_set(y, i, iv[i].transport_kwh);
    }
    gsl_multifit_robust(X, y, c, cov, w);
    for (int j = 0; j < 3; j++)
        coef[j] = gsl_vector_get(c, j);
    gsl_multifit_robust_free(w);
    gsl_matrix_free(X);
    gsl_matrix_free(cov);
    gsl_vector_free(y);
    gsl_vector_free(c);
    return now_ms() - t0;
}

int main(void)
{
    ana_sim_opts_t o;
    ana_sim_opts_default(&o);
    o.days = 365;
    size_t n = ana_sim_count(&o);
    ana_interval_t *iv = malloc(n * sizeof *iv);
    if (!iv)
        return 1;
    ana_sim_intervals(&o, iv, n);
    double t_fit[RUNS], t_ols[RUNS], t_mon[RUNS], t_gsl[RUNS], g[3];
    ana_model_t m;
    char err[256];
    for (int r = 0; r < RUNS; r++) {
        t_ols[r] = ols(iv, n);
        t_gsl[r] = gsl_robust(iv, n, g);
        double t0 = now_ms();
        if (ana_fit(iv, n, ANA_GATE_TRANSPORT, 900, &m, err, sizeof err)) {
            fprintf(stderr, "fit: %s\n", err);
            return 1;
        }
        t_fit[r] = now_ms() - t0;
        ana_det_opts_t dopt;
        ana_det_opts_default(&dopt);
        ana_det_t d;
        ana_det_start(&d, &m);
        t0 = now_ms();
        ana_det_run(&d, &m, &dopt, iv, n, 900, NULL, NULL);
        t_mon[r] = now_ms() - t0;
    }
    qsort(t_fit, RUNS, sizeof(double), cmp);
    qsort(t_ols, RUNS, sizeof(double), cmp);
    qsort(t_mon, RUNS, sizeof(double), cmp);
    qsort(t_gsl, RUNS, sizeof(double), cmp);
    printf("one year of 15-min intervals: %zu (model a=%.1f b=%.4f c=%.2f, %d outliers)\n", n, m.a,
           m.b, m.c, m.n_outliers);
    printf("robust fit (bisquare):  %8.1f ms  (median of %d; target < 100 ms)\n", t_fit[RUNS / 2],
           RUNS);
    printf("baseline gsl_multifit_robust (bisquare): %6.1f ms  (a=%.1f b=%.4f c=%.2f)\n",
           t_gsl[RUNS / 2], g[0], g[1], g[2]);
    printf("baseline OLS fit:       %8.1f ms\n", t_ols[RUNS / 2]);
    printf("ratio ours / gsl robust: %7.2f x;  ours / OLS: %.1f x\n",
           t_gsl[RUNS / 2] > 0 ? t_fit[RUNS / 2] / t_gsl[RUNS / 2] : 0.0,
           t_ols[RUNS / 2] > 0 ? t_fit[RUNS / 2] / t_ols[RUNS / 2] : 0.0);
    printf("largest relative difference of coefficients to GSL's: %.2e\n",
           fmax(fabs(m.a - g[0]) / fabs(g[0]),
                fmax(fabs(m.b - g[1]) / fabs(g[1]), fabs(m.c - g[2]) / fabs(g[2]))));
    printf("detector (ana_det_run), a year: %8.1f ms\n", t_mon[RUNS / 2]);
    free(iv);
    return 0;
}
