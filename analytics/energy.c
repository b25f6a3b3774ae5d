/* analytics: energy figures — time-of-use split and cost, kWh/t, meter
 * balance, power quality, vibration zones, abnormal use (ANA-2, ANA-3,
 * ALM-2). Pure functions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_fit.h>

#include "analytics/analytics.h"

static const char tier_letters[ANA_TIERS] = {'C', 'P', 'F', 'V'};

const char *ana_tier_name(int tier)
{
    static const char *const names[ANA_TIERS] = {"critical", "peak", "flat", "valley"};
    return tier >= 0 && tier < ANA_TIERS ? names[tier] : "?";
}

static int tier_of_letter(char c)
{
    for (int i = 0; i < ANA_TIERS; i++)
        if (tier_letters[i] == c)
            return i;
    return -1;
}

/* A common northern-grid pattern: valley 23-07, peak 08-11 and 18-23 (critical
 * 19-21 in July-August and December-January), flat otherwise. Prices are
 * placeholders to be set from the local tariff notice. */
void ana_tariff_default(ana_tariff_t *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->season[0].name, sizeof t->season[0].name, "summer-winter");
    t->season[0].months = (1u << 1) | (1u << 7) | (1u << 8) | (1u << 12);
    snprintf(t->season[0].tiers, sizeof t->season[0].tiers, "VVVVVVVFPPPFFFFFFFPCCPPV");
    snprintf(t->season[1].name, sizeof t->season[1].name, "other");
    t->season[1].months = 0x1FFEu & ~t->season[0].months;
    snprintf(t->season[1].tiers, sizeof t->season[1].tiers, "VVVVVVVFPPPFFFFFFFPPPPPV");
    t->n_seasons = 2;
    t->price[ANA_TIER_CRIT] = 1.10;
    t->price[ANA_TIER_PEAK] = 0.95;
    t->price[ANA_TIER_FLAT] = 0.62;
    t->price[ANA_TIER_VALLEY] = 0.32;
}

int ana_tariff_check_tiers(const char *tiers, char *err, size_t errlen)
{
    size_t n = strlen(tiers);
    if (n != 24)
        return cm_fail(err, errlen, CM_ERR_INVALID, "%zu letters; one per hour (24) is needed", n);
    for (size_t i = 0; i < n; i++)
        if (tier_of_letter(tiers[i]) < 0)
            return cm_fail(err, errlen, CM_ERR_INVALID,
                           "letter %zu ('%c', hour %02zu) is not C, P, F or V", i + 1, tiers[i], i);
    return CM_OK;
}

int ana_tariff_tier(const ana_tariff_t *t, int64_t epoch)
{
    int y, mo, d, h, mi, s;
    tm_epoch_to_bj(epoch, &y, &mo, &d, &h, &mi, &s);
    for (int i = 0; i < t->n_seasons; i++)
        if (t->season[i].months & (1u << mo)) {
            int tier = tier_of_letter(t->season[i].tiers[h]);
            return tier >= 0 ? tier : ANA_TIER_FLAT;
        }
    return ANA_TIER_FLAT; /* a month no season names */
}

void ana_tou_split(const ana_tariff_t *t, const int64_t *start, const double *kwh, size_t n,
                   int interval_s, double out[ANA_TIERS])
{
    for (int i = 0; i < ANA_TIERS; i++)
        out[i] = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(kwh[i]))
            continue;
        int64_t t0 = start[i], t1 = start[i] + interval_s;
        while (t0 < t1) { /* piece by piece up to each hour boundary */
            int64_t next = (t0 / 3600 + 1) * 3600;
            int64_t e = next < t1 ? next : t1;
            out[ana_tariff_tier(t, t0)] += kwh[i] * (double)(e - t0) / interval_s;
            t0 = e;
        }
    }
}

double ana_tou_cost(const ana_tariff_t *t, const double kwh[ANA_TIERS])
{
    double c = 0;
    for (int i = 0; i < ANA_TIERS; i++)
        c += kwh[i] * t->price[i];
    return c;
}

void ana_energy_opts_default(ana_energy_opts_t *o)
{
    /* GB/T 2589-2020 equivalent value 0.1229 kgce/kWh; grid factor 0.5703
     * tCO2/MWh (national average published by the Ministry of Ecology and
     * Environment for 2022). Both are configuration. */
    *o = (ana_energy_opts_t){.tce_per_kwh = 0.0001229, .co2_per_kwh = 0.0005703};
}

double ana_kwh_per_t(double kwh, double tons)
{
    return fabs(tons) > 1e-6 ? kwh / tons : NAN;
}

double ana_change(double now, double before)
{
    return fabs(before) > 1e-9 ? (now - before) / before : NAN;
}

double ana_unmetered_share(double total, double sub)
{
    return total > 1e-9 && isfinite(sub) ? (total - sub) / total : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

bool ana_share_jump(const double *prev, size_t n, double today, double jump, double *median)
{
    double v[64];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 64; i++)
        if (isfinite(prev[i]))
            v[k++] = prev[i];
    *median = NAN;
    if (k < 3 || !isfinite(today))
        return false; /* too little history to know what is usual */
    *median = median_of(v, k);
    return fabs(today - *median) > jump;
}

void ana_pq_opts_default(ana_pq_opts_t *o)
{
    /* PF 0.90 is the utility's assessment line for large industrial users;
     * THD 5 % and unbalance 2 % follow GB/T 14549 and GB/T 15543. */
    *o = (ana_pq_opts_t){.pf_min = 0.90, .thd_max = 5.0, .unbalance_max = 2.0};
}

double ana_unbalance(double a, double b, double c)
{
    double m = (a + b + c) / 3.0;
    if (!(fabs(m) > 1e-9))
        return NAN;
    double d = fmax(fabs(a - m), fmax(fabs(b - m), fabs(c - m)));
    return 100.0 * d / fabs(m);
}

int ana_pq_check(const ana_pq_opts_t *o, double pf, double thd, double unbalance)
{
    int bits = 0;
    if (isfinite(pf) && fabs(pf) < o->pf_min)
        bits |= 1;
    if (isfinite(thd) && thd > o->thd_max)
        bits |= 2;
    if (isfinite(unbalance) && unbalance > o->unbalance_max)
        bits |= 4;
    return bits;
}

void ana_vib_opts_default(ana_vib_opts_t *o)
{
    /* ISO 10816-3 group 2 (15-300 kW) on flexible foundations, or group 1 on
     * rigid ones: 2.3 / 4.5 / 7.1 mm/s. */
    *o = (ana_vib_opts_t){.ab = 2.3, .bc = 4.5, .cd = 7.1};
}

char ana_vib_zone(const ana_vib_opts_t *o, double v)
{
    if (v < o->ab)
        return 'A';
    if (v < o->bc)
        return 'B';
    if (v < o->cd)
        return 'C';
    return 'D';
}

double ana_trend(const double *x, const double *y, size_t n)
{
    if (n < 3)
        return NAN;
    double c0, c1, cov00, cov01, cov11, sumsq;
    if (gsl_fit_linear(x, 1, y, 1, n, &c0, &c1, &cov00, &cov01, &cov11, &sumsq))
        return NAN;
    return c1;
}

double ana_stopped_excess(const ana_model_t *m, const ana_interval_t *iv, int interval_s,
                          double floor_kwh)
{
    if (!isfinite(iv->transport_kwh) || !isfinite(iv->run_h) || iv->run_h > 0)
        return 0;
    double allowed = fmax(floor_kwh * interval_s / 3600.0, m->c + 4.0 * m->sigma);
    return iv->transport_kwh > allowed ? iv->transport_kwh - allowed : 0;
}

bool ana_profile_far(const double *hist, size_t n, double v, double k, double rel, double *median,
                     double *mad)
{
    double buf[64];
    size_t c = 0;
    for (size_t i = 0; i < n && c < 64; i++)
        if (isfinite(hist[i]))
            buf[c++] = hist[i];
    *median = *mad = NAN;
    if (c < 5 || !isfinite(v))
        return false;
    *median = median_of(buf, c);
    for (size_t i = 0; i < c; i++)
        buf[i] = fabs(buf[i] - *median);
    *mad = median_of(buf, c);
    double band = fmax(k * 1.4826 * *mad, rel * fabs(*median));
    return fabs(v - *median) > band;
}
