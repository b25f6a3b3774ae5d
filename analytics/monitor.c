/* analytics: residual monitoring of metered against implied tonnage — a
 * two-sided CUSUM on standardised residuals, grouped into episodes of
 * deviation with a start, a detection time and an end (ANA-1, ALM-3). */
#include <math.h>
#include <string.h>

#include "analytics/analytics.h"

void ana_cusum_opts_default(ana_cusum_opts_t *o)
{
    /* k = 0.65, h = 9.5, |z| clipped at 3: on the realistic simulated mine
     * (bench/bench_detection.c) counted intervals carry coal (~60 a day) and
     * no-load, speed and weather leave residuals a little wider and slower
     * than white noise; k 0.5 / h 8 raised ~2 false alarms a month there,
     * these ~0.5, while a 5 % step (~1.4 sigma an interval) still crosses in
     * ~4-6 h of running. */
    *o = (ana_cusum_opts_t){.k = 0.65,
                            .h = 9.5,
                            .min_run_frac = 0.5,
                            .clear_intervals = 32,
                            .jump_intervals = 24,
                            .z_clip = 3};
}

double ana_episode_deviation(const ana_episode_t *e)
{
    if (!(fabs(e->implied_t) > 1e-9))
        return NAN;
    return (e->metered_t - e->implied_t) / e->implied_t;
}

static void open_episode(ana_episode_t *e, int sign, int64_t start, int64_t detected, double met,
                         double imp, double sum, bool jump)
{
    *e = (ana_episode_t){.sign = sign,
                         .start = start,
                         .detected = detected,
                         .last_cross = detected,
                         .metered_t = met,
                         .implied_t = imp,
                         .acc_met = met,
                         .acc_imp = imp,
                         .worst_sum = sum,
                         .jump = jump};
}

/* One side of the CUSUM: add x, remember where it left zero and the tonnages since. */
static void side_step(double *sum, double x, int64_t t, int64_t *start, int *len, double *met,
                      double *imp, double tons, double implied, int sign)
{
    double prev = *sum;
    *sum = sign > 0 ? fmax(0, prev + x) : fmin(0, prev + x);
    if (*sum == 0) {
        *len = 0;
        *met = *imp = 0;
        return;
    }
    if (prev == 0) {
        *start = t;
        *len = 0;
        *met = *imp = 0;
    }
    (*len)++;
    *met += tons;
    *imp += implied;
}

typedef struct run {
    const ana_cusum_opts_t *o;
    int interval_s;
    ana_cusum_t *cs;
    ana_episode_t *open;
    ana_episode_fn cb;
    void *arg;
    int reported;
} run_t;

static void close_open(run_t *r)
{
    r->open->end = r->open->last_cross;
    if (r->cb)
        r->cb(r->open, r->arg);
    r->reported++;
    memset(r->open, 0, sizeof *r->open);
}

/* A side crossed h: extend the open episode of that sign, or end the other
 * and open a new one. The side restarts so that a lasting deviation crosses
 * again and keeps the episode alive. */
static void crossed(run_t *r, int sign, int64_t t)
{
    ana_cusum_t *cs = r->cs;
    double sum = sign > 0 ? cs->hi : -cs->lo;
    int64_t detected = t + r->interval_s;
    ana_episode_t *e = r->open;
    if (e->sign == sign) {
        e->last_cross = detected;
        e->quiet = 0;
        e->metered_t = e->acc_met;
        e->implied_t = e->acc_imp;
        if (sum > e->worst_sum)
            e->worst_sum = sum;
    } else {
        if (e->sign)
            close_open(r);
        if (sign > 0)
            open_episode(e, 1, cs->hi_start, detected, cs->hi_met, cs->hi_imp, sum,
                         cs->hi_len <= r->o->jump_intervals);
        else
            open_episode(e, -1, cs->lo_start, detected, cs->lo_met, cs->lo_imp, sum,
                         cs->lo_len <= r->o->jump_intervals);
    }
    if (sign > 0) {
        cs->hi = 0;
        cs->hi_len = 0;
    } else {
        cs->lo = 0;
        cs->lo_len = 0;
    }
}

static void step(run_t *r, const ana_model_t *m, const ana_interval_t *iv)
{
    const ana_cusum_opts_t *o = r->o;
    ana_cusum_t *cs = r->cs;
    double e = ana_interval_kwh(iv, m->gate);
    double min_h = o->min_run_frac * r->interval_s / 3600.0;
    cs->last = iv->start;
    if (!isfinite(e) || !isfinite(iv->tons) || !isfinite(iv->run_h) || iv->run_h < min_h)
        return; /* a stopped belt says nothing about the scale */
    double implied = ana_model_implied_tons(m, iv->run_h, e);
    double sigma_t = (m->sigma_run > 0 ? m->sigma_run : m->sigma) / m->b;
    if (!isfinite(implied) || !(sigma_t > 0))
        return;
    double z = (iv->tons - implied) / sigma_t;
    z = fmax(-o->z_clip, fmin(o->z_clip, z));
    side_step(&cs->hi, z - o->k, iv->start, &cs->hi_start, &cs->hi_len, &cs->hi_met, &cs->hi_imp,
              iv->tons, implied, 1);
    side_step(&cs->lo, z + o->k, iv->start, &cs->lo_start, &cs->lo_len, &cs->lo_met, &cs->lo_imp,
              iv->tons, implied, -1);
    if (r->open->sign) {
        r->open->acc_met += iv->tons;
        r->open->acc_imp += implied;
        r->open->quiet++;
    }
    if (cs->hi > o->h)
        crossed(r, 1, iv->start);
    if (cs->lo < -o->h)
        crossed(r, -1, iv->start);
    if (r->open->sign && r->open->quiet >= o->clear_intervals)
        close_open(r);
}

int ana_monitor(const ana_model_t *m, const ana_cusum_opts_t *o, const ana_interval_t *iv, size_t n,
                int interval_s, ana_cusum_t *cs, ana_episode_t *open, ana_episode_fn cb, void *arg)
{
    run_t r = {.o = o, .interval_s = interval_s, .cs = cs, .open = open, .cb = cb, .arg = arg};
    if (!(m->b > 0) || !(m->sigma > 0))
        return 0;
    for (size_t i = 0; i < n; i++)
        step(&r, m, &iv[i]);
    if (open->sign && cb) {
        cb(open, arg); /* still ongoing: end stays 0 */
        r.reported++;
    }
    return r.reported;
}
