/* analytics: simulated interval history with a known truth, for the scenario
 * tests, the benches and `coalmond --demo`. Deterministic for a seed. */
#include <math.h>
#include <string.h>

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

void ana_sim_opts_realistic(ana_sim_opts_t *o)
{
    ana_sim_opts_default(o);
    o->realistic = true;
    o->noise = 0.02; /* per interval; with speed, weather and minute noise ~2.5 % */
    o->season_amp = 0.06;
    o->weather_amp = 0.03;
    o->glitch_rate = 0.002;
    o->hiccup_rate = 0.003;
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

/* ---- the realistic mine ------------------------------------------------------
 * Every random quantity is a hash of (seed, what, time bucket), not a draw
 * from a sequence, so the state at any minute is known without simulating
 * what came before: the demo's live meters and its pre-generated history
 * come from the same function. */

#define NOMINAL_SPEED 3.15
#define SLOW_SPEED 2.7
#define MAX_STOP_MIN 180

enum { S_NIGHT, S_STOP_START, S_STOP_LEN, S_LOAD, S_EMPTY, S_SPEED, S_NOISE, S_NOISE_MIN,
       S_PUMP, S_WORK, S_WEATHER, S_GLITCH, S_GLITCH_KIND, S_HICCUP, S_SPIKE };

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Uniform in [0, 1) for (seed, stream, bucket). */
static double hu(const ana_sim_opts_t *o, int stream, int64_t k)
{
    uint64_t h = mix64(((uint64_t)(o->seed ? o->seed : 1) << 20) ^ (uint64_t)stream);
    h = mix64(h ^ (uint64_t)k);
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

static double hg(const ana_sim_opts_t *o, int stream, int64_t k)
{
    double u = hu(o, stream, 2 * k), v = hu(o, stream, 2 * k + 1);
    if (u < 1e-12)
        u = 1e-12;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* No-load power's share above or below its yearly mean: highest in mid-January
 * (cold grease, stiff belt), plus slow weather of a few days. */
static double noload_factor(const ana_sim_opts_t *o, int64_t t)
{
    double day = (double)t / 86400.0;
    double season = cos(2.0 * M_PI * (day - 14.0) / 365.2425);
    static const double period[3] = {3.7, 7.3, 13.1};
    double weather = 0;
    for (int i = 0; i < 3; i++)
        weather += sin(2.0 * M_PI * (day / period[i] + hu(o, S_WEATHER, i))) / 3.0;
    return 1.0 + o->season_amp * season + o->weather_amp * 1.5 * weather;
}

/* A random stoppage covering minute m: each hour may start one, 3 min to 3 h long. */
static bool in_stoppage(const ana_sim_opts_t *o, int64_t m)
{
    int64_t hr = floor_div(m, 60);
    for (int64_t h = hr - MAX_STOP_MIN / 60; h <= hr; h++) {
        if (hu(o, S_STOP_START, h) >= 0.10)
            continue;
        int64_t from = h * 60 + (int64_t)(60 * hu(o, S_STOP_START, h + (1LL << 40)));
        double len = exp(log(3.0) + hu(o, S_STOP_LEN, h) * (log((double)MAX_STOP_MIN) - log(3.0)));
        if (m >= from && m < from + (int64_t)len)
            return true;
    }
    return false;
}

typedef enum { BELT_STOPPED, BELT_EMPTY, BELT_LOADED } belt_t;

/* The plan of minute m (Beijing time): maintenance 06:00-07:30; a night shift
 * that mostly runs empty or stands; a lighter Sunday whose swing shift ends at
 * 20:00; coal runs out now and then; random stoppages. */
static belt_t belt_at(const ana_sim_opts_t *o, int64_t m, int md, bool sunday)
{
    if (md >= 360 && md < 450)
        return BELT_STOPPED;
    if (sunday && md >= 1200)
        return BELT_STOPPED;
    if (in_stoppage(o, m))
        return BELT_STOPPED;
    if (md < 360) { /* night shift: half-hour blocks */
        double u = hu(o, S_NIGHT, floor_div(m, 30));
        return u < 0.30 ? BELT_LOADED : u < 0.75 ? BELT_EMPTY : BELT_STOPPED;
    }
    return hu(o, S_EMPTY, floor_div(m, 20)) < 0.06 ? BELT_EMPTY : BELT_LOADED;
}

static double scale_factor(const ana_sim_opts_t *o, int64_t t)
{
    if (!o->fault_from || t < o->fault_from || (o->fault_to && t >= o->fault_to))
        return 1.0;
    double days = (double)(t - o->fault_from) / 86400.0;
    double d = o->drift_per_day * days;
    switch (o->fault) {
    case ANA_SIM_FAULT_NONE:
        return 1.0 + o->step + d;
    case ANA_SIM_FAULT_STEP:
    case ANA_SIM_FAULT_COEF:
        return 1.0 + o->step;
    case ANA_SIM_FAULT_DRIFT:
        if (o->drift_max > 0 && fabs(d) > o->drift_max)
            d = d < 0 ? -o->drift_max : o->drift_max;
        return 1.0 + d;
    case ANA_SIM_FAULT_STOPPED_SCALE:
        return 0.0;
    case ANA_SIM_FAULT_STOPPED_METER:
        return 1.0;
    }
    return 1.0;
}

static bool meter_stopped(const ana_sim_opts_t *o, int64_t t)
{
    return o->fault == ANA_SIM_FAULT_STOPPED_METER && o->fault_from && t >= o->fault_from &&
           (!o->fault_to || t < o->fault_to);
}

void ana_sim_state_at(const ana_sim_opts_t *o, int64_t t, ana_sim_state_t *st)
{
    int iv_s = o->interval_s > 0 ? o->interval_s : 900;
    int64_t m = floor_div(t, 60);
    t = m * 60; /* constant over the minute */
    int64_t local_min = m + 8 * 60; /* Beijing time, no daylight saving */
    int64_t day = floor_div(local_min, 1440);
    int md = (int)(local_min - day * 1440);
    bool sunday = ((day + 4) % 7 + 7) % 7 == 0; /* 1970-01-01 was a Thursday */
    belt_t b = belt_at(o, m, md, sunday);
    bool slow = hu(o, S_SPEED, floor_div(m, 120)) < 0.15;
    double speed_frac = slow ? SLOW_SPEED / NOMINAL_SPEED : 1.0;

    memset(st, 0, sizeof *st);
    st->shift = md < 480 ? 0 : md < 960 ? 1 : 2;
    st->running = b != BELT_STOPPED;
    st->speed_ms = st->running ? (slow ? SLOW_SPEED : NOMINAL_SPEED) : 0;
    if (b == BELT_LOADED) {
        double load = 0.55 + 0.5 * hu(o, S_LOAD, floor_div(m, 10));
        st->flow_tph = o->rate_tph * load * (sunday ? 0.7 : 1.0);
    }
    st->flow_read_tph = st->flow_tph * scale_factor(o, t);
    st->noload_kw = o->a_kw * noload_factor(o, t) * (0.6 + 0.4 * speed_frac);
    double c_kw = o->c_kwh * 3600.0 / iv_s;
    double run_kw = st->running ? st->noload_kw + o->b_kwh_t * st->flow_tph : 0;
    /* energy noise: mostly per interval (so an interval's energy is off by
     * `noise`), a little per minute */
    double noise = 1.0 + o->noise * hg(o, S_NOISE, floor_div(t, iv_s)) +
                   0.005 * hg(o, S_NOISE_MIN, m);
    st->transport_kw = fmax(0, run_kw * noise + c_kw);
    st->transport_read_kw = meter_stopped(o, t) ? 0 : st->transport_kw;
    /* below the total: fans (steady), pumps (duty changes by the hour),
     * hoists and workshops (follow the shift, less on Sunday) */
    double hour_f = (double)m / 60.0;
    int64_t h0 = floor_div(m, 60);
    double w = hour_f - (double)h0;
    double duty = 0.4 + 0.6 * ((1 - w) * hu(o, S_PUMP, h0) + w * hu(o, S_PUMP, h0 + 1));
    double activity = st->shift == 1 ? 1.0 : st->shift == 2 ? 0.8 : 0.4;
    if (sunday)
        activity *= 0.6;
    double work = 0.2 * o->other_kw * activity * (1.0 + 0.1 * hg(o, S_WORK, floor_div(t, iv_s)));
    st->other_kw = 0.55 * o->other_kw * noload_factor(o, t) / (1 + o->season_amp) +
                   0.25 * o->other_kw * duty / 0.7 + work;
    st->total_kw = (st->transport_kw + st->other_kw) / (1.0 - o->unmetered);
    st->sub_kw = st->transport_read_kw + st->other_kw;
}

/* Interval i of the realistic mine: the minute states summed, then the
 * meter's artefacts. *carry holds energy a hiccup pushed into the next interval. */
static void realistic_interval(const ana_sim_opts_t *o, int64_t t, ana_interval_t *out,
                               double *carry)
{
    int minutes = o->interval_s / 60;
    double tons = 0, e = 0, total = 0, sub = 0;
    int run = 0;
    for (int j = 0; j < minutes; j++) {
        ana_sim_state_t st;
        ana_sim_state_at(o, t + 60 * j, &st);
        tons += st.flow_read_tph / 60.0;
        e += st.transport_read_kw / 60.0;
        total += st.total_kw / 60.0;
        sub += st.sub_kw / 60.0;
        run += st.running;
    }
    int64_t k = floor_div(t, o->interval_s);
    e += *carry;
    *carry = 0;
    if (hu(o, S_HICCUP, k) < o->hiccup_rate) { /* the counter's increment lands next time */
        *carry = e;
        sub -= e;
        e = 0;
    }
    double g = hu(o, S_GLITCH, k);
    if (g < o->glitch_rate) {
        if (hu(o, S_GLITCH_KIND, k) < 0.5)
            e *= 1.5 + hu(o, S_SPIKE, k); /* a spike */
        else
            e = NAN; /* the meter did not answer */
    }
    *out = (ana_interval_t){
        .start = t,
        .tons = tons,
        .transport_kwh = e,
        .total_kwh = total,
        .sub_kwh = isfinite(e) ? sub : NAN,
        .run_h = run / 60.0,
        .trusted = true,
    };
}

void ana_sim_intervals(const ana_sim_opts_t *o, ana_interval_t *out, size_t n)
{
    if (o->realistic) {
        double carry = 0;
        for (size_t i = 0; i < n; i++)
            realistic_interval(o, o->start + (int64_t)i * o->interval_s, &out[i], &carry);
        return;
    }
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
