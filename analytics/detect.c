/* analytics: the detector the daemon, `coalmon consistency check` and
 * `coalmon backtest` share — tracked no-load, per-interval CUSUM for steps,
 * per-day EWMA for drift, stopped scale and stopped meter, latched conditions
 * (ANA-1, ALM-3). Pure functions; see analytics.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

/* Energy resolution below which noise is not proportional (kWh per interval). */
#define SIGMA_FLOOR_KWH 0.3

const char *ana_shape_name(ana_shape s)
{
    switch (s) {
    case ANA_SHAPE_STEP:
        return "step";
    case ANA_SHAPE_DRIFT:
        return "drift";
    case ANA_SHAPE_STOPPED_SCALE:
        return "stopped_scale";
    case ANA_SHAPE_STOPPED_METER:
        return "stopped_meter";
    case ANA_SHAPE_NONE:
        break;
    }
    return "none";
}

void ana_det_opts_default(ana_det_opts_t *o)
{
    memset(o, 0, sizeof *o);
    ana_cusum_opts_default(&o->cusum);
    o->day_lambda = 0.3;
    o->day_L = 3;
    o->day_floor = 0.01;
    o->day_min_intervals = 16;
    o->track_lambda = 0.15;
    o->track_max_share = 0.3;
    o->stopped_share = 0.1;
    o->stopped_sigmas = 8;
    o->meter_intervals = 2;
    o->clear_hours = 24;
    o->clear_sigmas = 2.5;
    o->level = 2;
    o->per_interval = true;
    o->carry_over = true;
}

static double noload(const ana_det_t *d, const ana_model_t *m)
{
    return d->noload > 0 ? d->noload : m->a;
}

void ana_det_start(ana_det_t *d, const ana_model_t *m)
{
    memset(d, 0, sizeof *d);
    d->model = m->id;
    d->noload = m->a;
}

void ana_det_model(ana_det_t *d, const ana_model_t *m, const ana_det_opts_t *o)
{
    /* The sums and the daily EWMA are statistics of the deviation, not of a
     * model: a new model in force (adopted only when quiet, or after a
     * calibration) continues them, so a slow drift keeps building across the
     * daily refits. The tracked no-load carries over too. */
    d->model = m->id;
    if (!(d->noload > 0))
        d->noload = m->a;
    if (o->carry_over)
        return;
    memset(&d->cs, 0, sizeof d->cs);
    d->ewma = 0;
    d->day_met = d->day_imp = d->day_var = 0;
    d->day_n = 0;
}

double ana_det_implied(const ana_det_t *d, const ana_model_t *m, double run_h, double kwh)
{
    if (!(m->b > 0))
        return NAN;
    return (kwh - noload(d, m) * run_h - m->c) / m->b;
}

/* Residual scale of one interval in tonnes: energy noise grows with the energy. */
static double sigma_t(const ana_model_t *m, double kwh)
{
    double s;
    if (m->sigma_rel > 0)
        s = sqrt(m->sigma_rel * kwh * m->sigma_rel * kwh + SIGMA_FLOOR_KWH * SIGMA_FLOOR_KWH);
    else
        s = m->sigma_run > 0 ? m->sigma_run : m->sigma;
    return s / m->b;
}

/* The daily EWMA's control limit (in standard deviations of a day). */
static double ewma_limit(const ana_det_opts_t *o)
{
    return o->day_L * sqrt(o->day_lambda / (2 - o->day_lambda));
}

bool ana_det_quiet(const ana_det_t *d, const ana_det_opts_t *o)
{
    double lim = ewma_limit(o);
    return !d->open.sign && !d->hard.sign && d->cs.hi < o->cusum.h / 2 && -d->cs.lo < o->cusum.h / 2 &&
           fabs(d->ewma) < lim / 2;
}

typedef struct ctx {
    ana_det_t *d;
    const ana_model_t *m;
    const ana_det_opts_t *o;
    int interval_s;
    ana_episode_fn cb;
    void *arg;
    int reported;
} ctx_t;

static bool is_hard(ana_shape s)
{
    return s == ANA_SHAPE_STOPPED_SCALE || s == ANA_SHAPE_STOPPED_METER;
}

static void report_ep(ctx_t *x, const ana_episode_t *e)
{
    if (x->cb)
        x->cb(e, x->arg);
    x->reported++;
}

static void open_cond(ctx_t *x, ana_shape shape, int sign, int64_t start, int64_t detected,
                      double met, double imp, double worst)
{
    ana_det_t *d = x->d;
    ana_episode_t e = {.sign = sign,
                       .start = start,
                       .detected = detected,
                       .last_cross = detected,
                       .metered_t = met,
                       .implied_t = imp,
                       .acc_met = met,
                       .acc_imp = imp,
                       .worst_sum = worst,
                       .jump = shape != ANA_SHAPE_DRIFT,
                       .shape = shape};
    if (is_hard(shape)) {
        d->hard = e;
        d->hard_ok_run = 0;
        report_ep(x, &d->hard);
        return;
    }
    d->open = e;
    d->clear_met = d->clear_imp = d->clear_var = d->clear_run = 0;
    report_ep(x, &d->open);
}

static void close_cond(ctx_t *x, int64_t end)
{
    ana_det_t *d = x->d;
    d->open.end = end;
    d->open.metered_t = d->open.acc_met;
    d->open.implied_t = d->open.acc_imp;
    report_ep(x, &d->open);
    memset(&d->open, 0, sizeof d->open);
    memset(&d->cs, 0, sizeof d->cs);
    d->ewma = 0;
    d->addressed_at = d->hard.sign ? d->addressed_at : 0;
}

/* A production day ended: its deviation feeds the EWMA; beyond the limit a
 * drift opens (unless a condition is open already). */
static void close_day(ctx_t *x, int64_t day_end)
{
    ana_det_t *d = x->d;
    const ana_det_opts_t *o = x->o;
    if (d->day_n >= o->day_min_intervals && d->day_imp > 0) {
        double rel = (d->day_met - d->day_imp) / d->day_imp;
        double sd = sqrt(d->day_var / (d->day_imp * d->day_imp) + o->day_floor * o->day_floor);
        double z = rel / sd;
        double prev = d->ewma;
        d->ewma = o->day_lambda * z + (1 - o->day_lambda) * d->ewma;
        if (prev == 0 || (prev > 0) != (d->ewma > 0))
            d->ewma_from = day_end - 86400;
        d->n_days++;
        double lim = ewma_limit(o);
        if (!d->open.sign && fabs(d->ewma) > lim)
            open_cond(x, ANA_SHAPE_DRIFT, d->ewma > 0 ? 1 : -1, d->ewma_from, day_end,
                      d->day_met, d->day_imp, fabs(d->ewma) / lim * o->cusum.h);
    }
    d->day_met = d->day_imp = d->day_var = 0;
    d->day_n = 0;
}

/* One CUSUM side (as ana_monitor): remember where it left zero. */
static void side(double *sum, double z, int64_t t, int64_t *start, int *len, int sign)
{
    double prev = *sum;
    *sum = sign > 0 ? fmax(0, prev + z) : fmin(0, prev + z);
    if (*sum == 0) {
        *len = 0;
        return;
    }
    if (prev == 0)
        *start = t;
    (*len)++;
}

static void crossed(ctx_t *x, int sign, int64_t t)
{
    ana_det_t *d = x->d;
    double sum = sign > 0 ? d->cs.hi : -d->cs.lo;
    int64_t start = sign > 0 ? d->cs.hi_start : d->cs.lo_start;
    int64_t detected = t + x->interval_s;
    if (!d->open.sign) {
        /* a drift that has been building for days is a drift, not a step */
        double lim = ewma_limit(x->o);
        bool building = d->ewma * sign > lim / 2;
        open_cond(x, building ? ANA_SHAPE_DRIFT : ANA_SHAPE_STEP, sign,
                  building ? d->ewma_from : start, detected, 0, 0, sum);
    } else if (d->open.sign == sign) {
        d->open.last_cross = detected;
        if (sum > d->open.worst_sum)
            d->open.worst_sum = sum;
    }
    if (sign > 0)
        d->cs.hi = 0, d->cs.hi_len = 0;
    else
        d->cs.lo = 0, d->cs.lo_len = 0;
}

/* While a condition is open: is the residual back over the last clear_hours
 * of running, and was the cause addressed? Then it ends. */
static void maybe_clear(ctx_t *x, const ana_interval_t *iv, double tons, double implied,
                        double st)
{
    ana_det_t *d = x->d;
    const ana_det_opts_t *o = x->o;
    d->clear_met += tons;
    d->clear_imp += implied;
    d->clear_var += st * st;
    d->clear_run += iv->run_h;
    if (d->clear_run < o->clear_hours)
        return;
    double sd = sqrt(d->clear_var + pow(o->day_floor * d->clear_imp, 2));
    bool back = sd > 0 && fabs(d->clear_met - d->clear_imp) / sd < o->clear_sigmas;
    d->clear_met = d->clear_imp = d->clear_var = d->clear_run = 0;
    if (back && d->addressed_at && d->addressed_at >= d->open.start &&
        d->addressed_at <= iv->start)
        close_cond(x, iv->start + x->interval_s);
}

/* The hard fault was seen in this interval. */
static void hard_seen(ctx_t *x, const ana_interval_t *iv)
{
    x->d->hard_ok_run = 0;
    if (x->d->hard.sign)
        x->d->hard.last_cross = iv->start + x->interval_s;
}

/* A hard condition ends after clear_hours of running without it, once addressed. */
static void hard_clear(ctx_t *x, const ana_interval_t *iv)
{
    ana_det_t *d = x->d;
    if (!d->hard.sign || d->hard.last_cross > iv->start)
        return;
    d->hard_ok_run += iv->run_h;
    if (d->hard_ok_run >= x->o->clear_hours && d->addressed_at &&
        d->addressed_at >= d->hard.start && d->addressed_at <= iv->start) {
        d->hard.end = iv->start + x->interval_s;
        report_ep(x, &d->hard);
        memset(&d->hard, 0, sizeof d->hard);
        d->addressed_at = d->open.sign ? d->addressed_at : 0;
    }
}

static void track_noload(ctx_t *x, const ana_interval_t *iv, double e, double st)
{
    ana_det_t *d = x->d;
    const ana_model_t *m = x->m;
    /* Frozen while a stopped scale or meter is open (coal on a silent scale
     * looks empty; a stopped meter reads nothing). Not while a step or drift
     * is: a belt running empty carries no coal for a wrong scale to misread,
     * and a frozen no-load that the season moves on would make an
     * under-reading scale look "back" after a week or two. */
    if (d->hard.sign || iv->tons > fmax(1.0, 0.5 * st))
        return;
    double kw = (e - m->c) / iv->run_h;
    if (fabs(kw - m->a) > x->o->track_max_share * fabs(m->a))
        return; /* coal on a belt whose scale counts nothing, or a glitch */
    double now = noload(d, m);
    d->noload = now + x->o->track_lambda * (kw - now);
    d->n_track++;
}

/* The per-interval CUSUM on the standardised residual. */
static void cusum_step(ctx_t *x, const ana_interval_t *iv, double implied, double st)
{
    ana_det_t *d = x->d;
    const ana_cusum_opts_t *co = &x->o->cusum;
    double z = (iv->tons - implied) / st;
    z = fmax(-co->z_clip, fmin(co->z_clip, z));
    side(&d->cs.hi, z - co->k, iv->start, &d->cs.hi_start, &d->cs.hi_len, 1);
    side(&d->cs.lo, z + co->k, iv->start, &d->cs.lo_start, &d->cs.lo_len, -1);
    if (d->cs.hi > co->h)
        crossed(x, 1, iv->start);
    if (d->cs.lo < -co->h)
        crossed(x, -1, iv->start);
}

static void step(ctx_t *x, const ana_interval_t *iv)
{
    ana_det_t *d = x->d;
    const ana_model_t *m = x->m;
    const ana_det_opts_t *o = x->o;
    const ana_cusum_opts_t *co = &o->cusum;
    int64_t day = (iv->start + 8 * 3600 - o->day_offset_s) / 86400;
    if (d->day && day != d->day)
        close_day(x, (day * 86400) - 8 * 3600 + o->day_offset_s);
    d->day = day;
    d->last = iv->start;
    double e = ana_interval_kwh(iv, m->gate);
    double min_h = co->min_run_frac * x->interval_s / 3600.0;
    if (!isfinite(e) || !isfinite(iv->tons) || !isfinite(iv->run_h)) {
        d->meter_streak = 0;
        return;
    }
    if (iv->run_h < min_h)
        return; /* a stopped belt says nothing about the scale */
    double implied = ana_det_implied(d, m, iv->run_h, e);
    double st = sigma_t(m, e);
    if (!isfinite(implied) || !(st > 0))
        return;
    double loaded_t = o->stopped_sigmas * st;
    /* a stopped meter: coal on the belt, less energy than the belt draws empty */
    if (m->gate == ANA_GATE_TRANSPORT && iv->tons > loaded_t &&
        e < 0.5 * noload(d, m) * iv->run_h) {
        if (!d->meter_streak++)
            d->meter_from = iv->start;
        if (d->meter_streak >= o->meter_intervals)
            hard_seen(x, iv);
        if (d->meter_streak >= o->meter_intervals && !d->hard.sign)
            open_cond(x, ANA_SHAPE_STOPPED_METER, 1, d->meter_from, iv->start + x->interval_s,
                      iv->tons, implied, o->cusum.h);
    } else {
        d->meter_streak = 0;
    }
    /* a stopped scale: the energy of a belt carrying coal in this interval and
     * the one before (a single spike of the meter on an empty belt is no
     * load), the scale counts (almost) nothing */
    double quarter = fmax(loaded_t, 0.25 * d->typical_t), half = fmax(loaded_t, 0.5 * d->typical_t);
    bool stopped =
        implied > half && d->prev_imp > quarter && iv->tons < o->stopped_share * implied;
    if (stopped)
        hard_seen(x, iv);
    if (stopped && !d->hard.sign)
        open_cond(x, ANA_SHAPE_STOPPED_SCALE, -1, iv->start, iv->start + x->interval_s, iv->tons,
                  implied, o->cusum.h);
    d->prev_imp = implied;
    hard_clear(x, iv);
    track_noload(x, iv, e, st);
    /* the CUSUM counts intervals that carried coal: a scale error is a share
     * of the tonnage, so an empty belt says nothing of it, only of no-load */
    bool loaded = d->typical_t > 0 ? fmax(iv->tons, implied) > 0.25 * d->typical_t
                                    : fmax(iv->tons, implied) > loaded_t;
    if (iv->tons > 0.1 * d->typical_t && iv->tons > 1)
        d->typical_t += (d->typical_t > 0 ? 0.02 : 1.0) * (iv->tons - d->typical_t);
    if (!loaded)
        return;
    d->day_met += iv->tons;
    d->day_imp += implied;
    d->day_var += st * st;
    d->day_n++;
    if (o->per_interval)
        cusum_step(x, iv, implied, st);
    if (d->open.sign && d->open.detected <= iv->start + x->interval_s) {
        d->open.acc_met += iv->tons;
        d->open.acc_imp += implied;
        if (d->open.detected < iv->start + x->interval_s)
            maybe_clear(x, iv, iv->tons, implied, st);
    }
}

int ana_det_run(ana_det_t *d, const ana_model_t *m, const ana_det_opts_t *o,
                const ana_interval_t *iv, size_t n, int interval_s, ana_episode_fn cb, void *arg)
{
    ctx_t x = {.d = d, .m = m, .o = o, .interval_s = interval_s, .cb = cb, .arg = arg};
    if (!(m->b > 0) || !(m->sigma > 0))
        return 0;
    if (d->model != m->id)
        ana_det_model(d, m, o);
    for (size_t i = 0; i < n; i++)
        if (!d->last || iv[i].start > d->last)
            step(&x, &iv[i]);
    return x.reported;
}

/* ---- state <-> JSON (ana_state "detect:<gate>") ------------------------------ */

typedef struct field {
    const char *name;
    double *d;
    int64_t *l;
    int *i;
} field_t;

#define FD(p, f) {#f, &(p)->f, NULL, NULL}
#define FL(p, f) {#f, NULL, &(p)->f, NULL}
#define FI(p, f) {#f, NULL, NULL, &(p)->f}
#define DET_FIELDS 48 /* room in the callers' tables */

static int fields(ana_det_t *d, field_t *out)
{
    ana_cusum_t *c = &d->cs;
    ana_episode_t *e = &d->open;
    field_t all[] = {
        FD(c, hi), FD(c, lo), FL(c, hi_start), FL(c, lo_start), FI(c, hi_len), FI(c, lo_len),
        FL(d, model), FD(d, noload), FI(d, n_track), FL(d, day), FD(d, day_met),
        FD(d, day_imp), FD(d, day_var), FI(d, day_n), FD(d, ewma), FL(d, ewma_from),
        FI(d, n_days), FI(d, meter_streak), FL(d, meter_from), FD(d, typical_t), FD(d, prev_imp), FD(d, clear_met),
        FD(d, clear_imp), FD(d, clear_var), FD(d, clear_run), FL(d, addressed_at), FL(d, last),
        {"sign", NULL, NULL, &e->sign}, {"start", NULL, &e->start, NULL},
        {"detected", NULL, &e->detected, NULL}, {"last_cross", NULL, &e->last_cross, NULL},
        {"metered_t", &e->metered_t, NULL, NULL}, {"implied_t", &e->implied_t, NULL, NULL},
        {"acc_met", &e->acc_met, NULL, NULL}, {"acc_imp", &e->acc_imp, NULL, NULL},
        {"worst_sum", &e->worst_sum, NULL, NULL}, {"shape", NULL, NULL, &e->shape},
        {"hard_sign", NULL, NULL, &d->hard.sign}, {"hard_start", NULL, &d->hard.start, NULL},
        {"hard_detected", NULL, &d->hard.detected, NULL},
        {"hard_last", NULL, &d->hard.last_cross, NULL},
        {"hard_met", &d->hard.metered_t, NULL, NULL}, {"hard_imp", &d->hard.implied_t, NULL, NULL},
        {"hard_shape", NULL, NULL, &d->hard.shape}, FD(d, hard_ok_run),
    };
    _Static_assert(sizeof all / sizeof all[0] <= DET_FIELDS, "raise DET_FIELDS");
    memcpy(out, all, sizeof all);
    return (int)(sizeof all / sizeof all[0]);
}

char *ana_det_to_json(const ana_det_t *src)
{
    ana_det_t d = *src;
    field_t f[DET_FIELDS];
    int n = fields(&d, f);
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < n; i++)
        cJSON_AddNumberToObject(o, f[i].name,
                                f[i].d   ? *f[i].d
                                : f[i].l ? (double)*f[i].l
                                         : (double)*f[i].i);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

void ana_det_from_json(const char *text, ana_det_t *d)
{
    memset(d, 0, sizeof *d);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    if (!o)
        return;
    field_t f[DET_FIELDS];
    int n = fields(d, f);
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
    d->open.jump = d->open.shape != ANA_SHAPE_DRIFT;
    d->hard.jump = true;
    cJSON_Delete(o);
}
