/* analytics: simulated interval history with a known truth, for the scenario
 * tests, the benches and `coalmond --demo`. Deterministic for a seed. */
#include <math.h>

#include "analytics/analytics.h"

void ana_sim_opts_default(ana_sim_opts_t *o)
{
    *o = (ana_sim_opts_t){
        .start = tm_bj_to_epoch(2026, 1, 1, 0, 0, 0),
        .days = 30,
        .interval_s = 900,
        .seed = 1,
        .rate_tph = 600,
        .a_kw = 90,
        .b_kwh_t = 0.45,
        .c_kwh = 2,
        .noise = 0.03,
        .other_kw = 1500,
        .unmetered = 0.04,
    };
}

size_t ana_sim_count(const ana_sim_opts_t *o)
{
    if (o->interval_s <= 0 || o->days <= 0)
        return 0;
    return (size_t)o->days * 86400u / (size_t)o->interval_s;
}

/* xorshift32: small, fast, and the same on every platform. */
static double uniform(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return (x >> 8) * (1.0 / 16777216.0);
}

static double gauss(uint32_t *s)
{
    double u = uniform(s), v = uniform(s);
    if (u < 1e-12)
        u = 1e-12;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Running share of an interval: a daily maintenance stop 06:00-08:00, random
 * short stops and whole stopped intervals. */
static double run_share(uint32_t *s, int hour)
{
    if (hour >= 6 && hour < 8)
        return 0;
    double u = uniform(s);
    if (u < 0.05)
        return 0;
    if (u < 0.15)
        return uniform(s);
    return 1;
}

static double scale_error(const ana_sim_opts_t *o, int64_t t)
{
    if (!o->fault_from || t < o->fault_from)
        return 1.0;
    double days = (double)(t - o->fault_from) / 86400.0;
    return 1.0 + o->step + o->drift_per_day * days;
}

void ana_sim_intervals(const ana_sim_opts_t *o, ana_interval_t *out, size_t n)
{
    uint32_t s = o->seed ? o->seed : 1;
    double h = o->interval_s / 3600.0;
    for (size_t i = 0; i < n; i++) {
        int64_t t = o->start + (int64_t)i * o->interval_s;
        int y, mo, d, hour, mi, sec;
        tm_epoch_to_bj(t, &y, &mo, &d, &hour, &mi, &sec);
        double run = run_share(&s, hour) * h;
        double load = 0.6 + 0.5 * uniform(&s); /* how full the belt is */
        double tons = o->rate_tph * run * load;
        double e = o->a_kw * run + o->b_kwh_t * tons + o->c_kwh;
        e *= 1.0 + o->noise * gauss(&s);
        if (e < 0)
            e = 0;
        double other = o->other_kw * h * (1.0 + 0.05 * gauss(&s));
        double total = (e + other) / (1.0 - o->unmetered);
        out[i] = (ana_interval_t){
            .start = t,
            .tons = tons * scale_error(o, t),
            .transport_kwh = e,
            .total_kwh = total,
            .sub_kwh = e + other,
            .run_h = run,
            .trusted = true,
        };
    }
}
