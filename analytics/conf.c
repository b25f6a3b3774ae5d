/* analytics: the "analytics" section of coalmond.json. Every key is optional;
 * errors name the file, line and key (core's cfg_*). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analytics/analytics.h"

void ana_conf_default(ana_conf_t *c)
{
    memset(c, 0, sizeof *c);
    c->interval_s = 900;
    c->window_days = 28;
    c->refit_hours = 24;
    c->fit_lag_hours = 24;
    c->eval_s = 300;
    ana_cusum_opts_default(&c->cusum);
    for (int g = 0; g < 2; g++)
        ana_det_opts_default(&c->detect[g]);
    c->detect[ANA_GATE_TOTAL].level = 1; /* the coarser opinion */
    c->detect[ANA_GATE_TOTAL].per_interval = false;
    c->detect[ANA_GATE_TOTAL].carry_over = false;
    c->detect[ANA_GATE_TOTAL].day_L = 4.5; /* shifts and Sundays move the other loads */
    c->adopt_scheduled = true;
    c->calib_fit_days = 3;
    c->tolerance = 0.03;
    snprintf(c->coef_name, sizeof c->coef_name, "raw_to_gross");
    ana_cap_opts_default(&c->cap);
    ana_energy_opts_default(&c->energy);
    ana_tariff_default(&c->tariff);
    ana_pq_opts_default(&c->pq);
    ana_vib_opts_default(&c->vib);
    c->balance_jump = 0.05;
    c->stopped_floor_kwh = 2;
    snprintf(c->output_quantity, sizeof c->output_quantity, "output_total");
    tm_shift_plan_default(&c->shifts);
    ana_health_opts_default(&c->health);
    for (int g = 0; g < 2; g++)
        c->detect[g].day_offset_s = (int64_t)c->shifts.day_start_min * 60;
}

static int get_d(const cfg_sec_t *s, const char *key, double min, double max, double *v, char *err,
                 size_t errlen)
{
    return cfg_get_double(s, key, false, *v, min, max, v, err, errlen);
}

static int get_i(const cfg_sec_t *s, const char *key, int min, int max, int *v, char *err,
                 size_t errlen)
{
    return cfg_get_int(s, key, false, *v, min, max, v, err, errlen);
}

static int read_cusum(const cfg_sec_t *a, ana_cusum_opts_t *o, char *err, size_t errlen)
{
    cfg_sec_t s;
    int rc = cfg_section(a, "cusum", &s, err, errlen);
    if (!rc)
        rc = get_d(&s, "k", 0, 5, &o->k, err, errlen);
    if (!rc)
        rc = get_d(&s, "h", 0.5, 100, &o->h, err, errlen);
    if (!rc)
        rc = get_d(&s, "min_run_share", 0, 1, &o->min_run_frac, err, errlen);
    if (!rc)
        rc = get_i(&s, "clear_intervals", 1, 10000, &o->clear_intervals, err, errlen);
    if (!rc)
        rc = get_i(&s, "jump_intervals", 1, 1000, &o->jump_intervals, err, errlen);
    if (!rc)
        rc = get_d(&s, "z_clip", 1, 100, &o->z_clip, err, errlen);
    return rc;
}

/* Section "detect": the same for both gates except level (detect.c). */
static int read_detect(const cfg_sec_t *a, ana_conf_t *c, char *err, size_t errlen)
{
    cfg_sec_t s;
    ana_det_opts_t *o = &c->detect[ANA_GATE_TRANSPORT];
    int rc = cfg_section(a, "detect", &s, err, errlen);
    if (!rc)
        rc = get_d(&s, "day_lambda", 0.01, 1, &o->day_lambda, err, errlen);
    if (!rc)
        rc = get_d(&s, "day_limit", 0.5, 20, &o->day_L, err, errlen);
    if (!rc)
        rc = get_d(&s, "day_floor", 0, 0.5, &o->day_floor, err, errlen);
    if (!rc)
        rc = get_i(&s, "day_min_intervals", 1, 1440, &o->day_min_intervals, err, errlen);
    if (!rc)
        rc = get_d(&s, "track_lambda", 0, 1, &o->track_lambda, err, errlen);
    if (!rc)
        rc = get_d(&s, "track_max_share", 0.01, 1, &o->track_max_share, err, errlen);
    if (!rc)
        rc = get_d(&s, "stopped_share", 0, 1, &o->stopped_share, err, errlen);
    if (!rc)
        rc = get_d(&s, "stopped_sigmas", 1, 1000, &o->stopped_sigmas, err, errlen);
    if (!rc)
        rc = get_i(&s, "meter_intervals", 1, 1000, &o->meter_intervals, err, errlen);
    if (!rc)
        rc = get_d(&s, "clear_hours", 0.25, 24 * 60, &o->clear_hours, err, errlen);
    if (!rc)
        rc = get_d(&s, "clear_sigmas", 0.5, 100, &o->clear_sigmas, err, errlen);
    int lv[2] = {o->level, c->detect[ANA_GATE_TOTAL].level};
    if (!rc)
        rc = get_i(&s, "level_transport", 1, 3, &lv[0], err, errlen);
    if (!rc)
        rc = get_i(&s, "level_total", 1, 3, &lv[1], err, errlen);
    if (!rc)
        rc = cfg_get_bool(&s, "adopt_scheduled", false, c->adopt_scheduled, &c->adopt_scheduled,
                          err, errlen);
    if (!rc)
        rc = get_i(&s, "calibration_fit_days", 1, 60, &c->calib_fit_days, err, errlen);
    o->cusum = c->cusum;
    o->day_offset_s = (int64_t)c->shifts.day_start_min * 60;
    o->level = lv[0];
    bool per = c->detect[ANA_GATE_TOTAL].per_interval;
    double total_L = c->detect[ANA_GATE_TOTAL].day_L;
    if (!rc)
        rc = cfg_get_bool(&s, "total_per_interval", false, per, &per, err, errlen);
    if (!rc)
        rc = get_d(&s, "total_day_limit", 0.5, 20, &total_L, err, errlen);
    c->detect[ANA_GATE_TOTAL] = *o;
    c->detect[ANA_GATE_TOTAL].level = lv[1];
    c->detect[ANA_GATE_TOTAL].per_interval = per;
    c->detect[ANA_GATE_TOTAL].carry_over = false;
    c->detect[ANA_GATE_TOTAL].day_L = total_L;
    return rc;
}

/* A JSON array of numbers at key; n in/out (capacity in, count out). */
static int num_array(const cfg_sec_t *s, const char *key, double *v, int *n, double min, double max,
                     char *err, size_t errlen)
{
    const cJSON *a = s->node ? cJSON_GetObjectItemCaseSensitive(s->node, key) : NULL;
    if (!a)
        return CM_OK;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > *n)
        return cfg_error(s, key, err, errlen, "expected an array of at most %d numbers", *n);
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach (it, a) {
        if (!cJSON_IsNumber(it) || it->valuedouble < min || it->valuedouble > max)
            return cfg_error(s, key, err, errlen, "item %d: expected a number in %g..%g", k, min,
                             max);
        v[k++] = it->valuedouble;
    }
    *n = k;
    return CM_OK;
}

static int read_capacity(const cfg_sec_t *a, ana_cap_opts_t *o, char *err, size_t errlen)
{
    cfg_sec_t s;
    int rc = cfg_section(a, "capacity", &s, err, errlen);
    if (!rc)
        rc = get_d(&s, "year_over", 0, 10, &o->year_over, err, errlen);
    if (!rc)
        rc = get_d(&s, "month_share", 0.001, 1, &o->month_share, err, errlen);
    int n = 4;
    if (!rc && s.node && cJSON_GetObjectItemCaseSensitive(s.node, "warn")) {
        rc = num_array(&s, "warn", o->warn, &n, 0.01, 0.9999, err, errlen);
        if (!rc)
            o->n_warn = n;
    }
    return rc;
}

static int read_season(const cfg_sec_t *t, int i, ana_tariff_t *tar, char *err, size_t errlen)
{
    cfg_sec_t s;
    int rc = cfg_array_item(t, "seasons", i, &s, err, errlen);
    if (!rc)
        rc = cfg_get_string(&s, "name", false, "", tar->season[i].name, sizeof tar->season[i].name,
                            err, errlen);
    if (!rc)
        rc = cfg_get_string(&s, "tiers", true, NULL, tar->season[i].tiers,
                            sizeof tar->season[i].tiers, err, errlen);
    char why[128];
    if (!rc && ana_tariff_check_tiers(tar->season[i].tiers, why, sizeof why))
        return cfg_error(&s, "tiers", err, errlen, "%s", why);
    double months[12];
    int n = 12;
    if (!rc)
        rc = num_array(&s, "months", months, &n, 1, 12, err, errlen);
    if (!rc && n == 0)
        return cfg_error(&s, "months", err, errlen, "expected the months (1..12) of the season");
    tar->season[i].months = 0;
    for (int k = 0; !rc && k < n; k++)
        tar->season[i].months |= 1u << (int)months[k];
    return rc;
}

static int read_tariff(const cfg_sec_t *a, ana_tariff_t *tar, char *err, size_t errlen)
{
    cfg_sec_t t, p;
    int rc = cfg_section(a, "tariff", &t, err, errlen);
    if (!rc)
        rc = cfg_section(&t, "prices", &p, err, errlen);
    for (int i = 0; !rc && i < ANA_TIERS; i++)
        rc = get_d(&p, ana_tier_name(i), 0, 100, &tar->price[i], err, errlen);
    int n = 0;
    if (!rc)
        rc = cfg_array_len(&t, "seasons", &n, err, errlen);
    if (!rc && n > ANA_MAX_SEASONS)
        return cfg_error(&t, "seasons", err, errlen, "at most %d seasons", ANA_MAX_SEASONS);
    if (!rc && n > 0) {
        tar->n_seasons = n;
        for (int i = 0; !rc && i < n; i++)
            rc = read_season(&t, i, tar, err, errlen);
    }
    return rc;
}

static int read_energy(const cfg_sec_t *a, ana_conf_t *c, char *err, size_t errlen)
{
    cfg_sec_t e, pq, vib;
    int rc = cfg_section(a, "energy", &e, err, errlen);
    if (!rc)
        rc = get_d(&e, "tce_per_kwh", 0, 0.01, &c->energy.tce_per_kwh, err, errlen);
    if (!rc)
        rc = get_d(&e, "co2_per_kwh", 0, 0.01, &c->energy.co2_per_kwh, err, errlen);
    if (!rc)
        rc = get_d(&e, "meter_balance_jump", 0.001, 1, &c->balance_jump, err, errlen);
    if (!rc)
        rc = get_d(&e, "stopped_floor_kwh_per_h", 0, 100000, &c->stopped_floor_kwh, err, errlen);
    if (!rc)
        rc = cfg_section(a, "power_quality", &pq, err, errlen);
    if (!rc)
        rc = get_d(&pq, "pf_min", 0, 1, &c->pq.pf_min, err, errlen);
    if (!rc)
        rc = get_d(&pq, "thd_max", 0, 100, &c->pq.thd_max, err, errlen);
    if (!rc)
        rc = get_d(&pq, "unbalance_max", 0, 100, &c->pq.unbalance_max, err, errlen);
    if (!rc)
        rc = cfg_section(a, "vibration", &vib, err, errlen);
    if (!rc)
        rc = get_d(&vib, "ab", 0, 100, &c->vib.ab, err, errlen);
    if (!rc)
        rc = get_d(&vib, "bc", c->vib.ab, 100, &c->vib.bc, err, errlen);
    if (!rc)
        rc = get_d(&vib, "cd", c->vib.bc, 100, &c->vib.cd, err, errlen);
    return rc;
}

static int read_health(const cfg_sec_t *a, ana_health_opts_t *o, char *err, size_t errlen)
{
    cfg_sec_t s;
    int rc = cfg_section(a, "scale_health", &s, err, errlen);
    if (!rc)
        rc = get_i(&s, "window_days", 1, 90, &o->window_days, err, errlen);
    if (!rc)
        rc = get_d(&s, "band_sigmas", 0.5, 10, &o->band_sigmas, err, errlen);
    if (!rc)
        rc = get_d(&s, "alarm_sigmas", o->band_sigmas, 50, &o->alarm_sigmas, err, errlen);
    if (!rc)
        rc = get_d(&s, "band_floor", 0, 0.5, &o->band_floor, err, errlen);
    if (!rc)
        rc = get_i(&s, "min_intervals", 1, 10000, &o->min_intervals, err, errlen);
    return rc;
}

int ana_conf_from_cfg(const cfg_t *cfg, ana_conf_t *c, char *err, size_t errlen)
{
    ana_conf_default(c);
    cfg_sec_t root = cfg_root(cfg), a;
    int rc = tm_shift_plan_from_cfg(&root, "shifts", &c->shifts, err, errlen);
    if (!rc)
        rc = cfg_section(&root, "analytics", &a, err, errlen);
    int interval_min = c->interval_s / 60;
    if (!rc)
        rc = get_i(&a, "interval_min", 1, 60, &interval_min, err, errlen);
    if (!rc && 60 % interval_min)
        return cfg_error(&a, "interval_min", err, errlen, "must divide the hour (1, 5, 15, 30...)");
    c->interval_s = interval_min * 60;
    if (!rc)
        rc = get_i(&a, "window_days", 1, 366, &c->window_days, err, errlen);
    if (!rc)
        rc = get_i(&a, "refit_hours", 1, 24 * 366, &c->refit_hours, err, errlen);
    if (!rc)
        rc = get_i(&a, "fit_lag_hours", 0, 24 * 30, &c->fit_lag_hours, err, errlen);
    if (!rc)
        rc = get_i(&a, "eval_s", 10, 86400, &c->eval_s, err, errlen);
    if (!rc)
        rc = get_d(&a, "balance_tolerance", 0.001, 1, &c->tolerance, err, errlen);
    char def[sizeof c->coef_name];
    snprintf(def, sizeof def, "%s", c->coef_name); /* out and default must not overlap */
    if (!rc)
        rc = cfg_get_string(&a, "output_coefficient", false, def, c->coef_name, sizeof c->coef_name,
                            err, errlen);
    if (!rc)
        rc = read_cusum(&a, &c->cusum, err, errlen);
    if (!rc)
        rc = read_detect(&a, c, err, errlen);
    if (!rc)
        rc = read_capacity(&a, &c->cap, err, errlen);
    if (!rc)
        rc = read_tariff(&a, &c->tariff, err, errlen);
    if (!rc)
        rc = read_energy(&a, c, err, errlen);
    if (!rc)
        rc = read_health(&a, &c->health, err, errlen);
    return rc;
}
