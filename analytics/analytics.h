/*
 * analytics: what the numbers mean (ANA-1..4, RPT-1, the conditions behind
 * ALM-1..4). The output-vs-electricity model (robust fit with GSL), residual
 * monitoring (two-sided CUSUM on standardised residuals), mass balance of
 * output against sales and inventory, capacity use and forecast, energy
 * figures (kWh/t, tce, CO2, time-of-use, meter balance, power quality,
 * abnormal use, vibration zones), the RPT-1 reports and the Excel workbooks
 * of the RPT-1 and RPT-2 reports.
 *
 * Two layers. The computations (ana_fit_*, ana_cusum_*, ana_monitor,
 * ana_balance, ana_capacity_eval, ana_tou_*, ana_pq_*, ana_vib_*, ana_profile_*,
 * ana_sim_*) are pure functions over caller-owned arrays: any thread, no
 * database. The store layer (ana_db_*, ana_evaluate, ana_report*) reads
 * through the caller's read connection (sqlite3 *) or writes through
 * store_write(); it may be called from any thread that may wait for a batch.
 * Tables: core/migrations/0040_analytics.sql (docs/analytics.md).
 *
 * Ownership: structs are fixed-size and the caller's; arrays returned through
 * an out-parameter (ana_interval_t **) are malloc'd and the caller frees them;
 * a cJSON returned belongs to the caller (cJSON_Delete); a char * returned is
 * the caller's (free). Functions return 0 or a negative cm_err and fill err.
 */
#ifndef COALMON_ANALYTICS_H
#define COALMON_ANALYTICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/core.h"

/* ---- intervals ----------------------------------------------------------- */

/* One interval (default 15 min) of the belt and its gates. NAN = not known. */
typedef struct ana_interval {
    int64_t start;        /* epoch s of the interval's start */
    double tons;          /* belt-scale station output, t */
    double transport_kwh; /* main-transport gate energy */
    double total_kwh;     /* mine total gate energy */
    double sub_kwh;       /* sum of the gates below the total (NAN: unknown) */
    double run_h;         /* belt running time, hours */
    bool trusted;         /* may be used to fit a model */
} ana_interval_t;

/* ---- the output-vs-electricity model (ANA-1) ------------------------------ */

typedef enum ana_gate { ANA_GATE_TRANSPORT = 0, ANA_GATE_TOTAL = 1 } ana_gate;
const char *ana_gate_name(ana_gate g); /* "transport" / "total" */
int ana_gate_parse(const char *s, ana_gate *out);

/* energy ≈ a·run_h + b·tons + c, fitted robustly (bisquare). */
typedef struct ana_model {
    int64_t id; /* version, 0 until stored */
    ana_gate gate;
    double a, b, c; /* kWh per running hour, kWh per tonne, kWh per interval */
    double se_a, se_b, se_c;
    double sigma;                   /* robust residual scale, kWh per interval */
    double sigma_run;               /* the same over intervals the belt ran at least half of:
                                       what the monitor standardises with */
    double r2;                      /* of the weighted fit */
    int n;                          /* intervals used */
    int n_outliers;                 /* with bisquare weight < 0.1 */
    int64_t window_from, window_to; /* [from, to) epoch s of the data it saw */
    int interval_s;
    int64_t fitted_at;
    double sigma_rel; /* robust scale of residual / energy over running intervals: the
                         energy noise is proportional to the energy (0: unknown) */
    /* the model in force (docs/analytics.md "The baseline") */
    bool in_force;     /* false: a proposal, kept as a version only */
    bool pinned;       /* in force until someone unpins it; refits only propose */
    int64_t valid_from; /* in force for intervals from here (0: window_to) */
    char basis[16];    /* schedule, engineer, calibration, bootstrap, demo */
} ana_model_t;

/* Fit on the trusted, complete intervals of iv (n of them). Needs at least
 * 12 usable intervals with running time and tonnage that vary. Returns
 * CM_ERR_INVALID (with the reason) when the data cannot determine a model. */
int ana_fit(const ana_interval_t *iv, size_t n, ana_gate gate, int interval_s, ana_model_t *m,
            char *err, size_t errlen);
/* Energy the model expects and the tonnage the energy implies (NAN when b <= 0). */
double ana_model_energy(const ana_model_t *m, double run_h, double tons);
double ana_model_implied_tons(const ana_model_t *m, double run_h, double kwh);
/* Energy of the interval on the model's gate (NAN when unknown). */
double ana_interval_kwh(const ana_interval_t *iv, ana_gate gate);

/* ---- residual monitoring ------------------------------------------------- */

/* Two-sided CUSUM on z = (metered - implied tons) / (sigma / b). */
typedef struct ana_cusum_opts {
    double k;            /* reference value, in sigmas (default 0.5) */
    double h;            /* decision interval, in sigmas (default 8) */
    double min_run_frac; /* an interval counts when the belt ran this share of it (0.5) */
    int clear_intervals; /* counted intervals without a new crossing end a condition (32) */
    int jump_intervals;  /* a crossing reached within this many intervals is a jump (8) */
    double z_clip;       /* |z| is clipped here so one bad interval cannot alarm (4) */
} ana_cusum_opts_t;
void ana_cusum_opts_default(ana_cusum_opts_t *o);

typedef struct ana_cusum {
    double hi, lo;                         /* upper and lower sums (lo <= 0) */
    int64_t hi_start, lo_start;            /* start of the interval where each sum left zero */
    int hi_len, lo_len;                    /* counted intervals since */
    double hi_met, hi_imp, lo_met, lo_imp; /* metered and implied t since */
    int64_t last;                          /* start of the last interval seen (resume after it) */
} ana_cusum_t;

/* One stretch of deviation: metered output above (+1) or below (-1) what the
 * electricity implies. end == 0 while ongoing. */
typedef struct ana_episode {
    int sign;
    int64_t start, detected, end, last_cross;
    double metered_t, implied_t; /* over [start, last crossing] */
    double acc_met, acc_imp;     /* running sums while open */
    double worst_sum;            /* largest |CUSUM| seen, sigmas */
    bool jump;                   /* crossed within jump_intervals: a step, else a drift */
    int quiet;                   /* counted intervals since the last crossing */
    int shape;                   /* ana_shape (the detector; 0 from ana_monitor) */
} ana_episode_t;

/* The first detector, superseded by ana_det_run (the daemon, `coalmon
 * consistency check` and `coalmon backtest` use that); kept only for its unit
 * tests, to be removed once they are ported. Runs over iv[0..n) in time
 * order, starting from state *cs and *open (open->sign == 0: none open); both
 * are updated so a caller can continue later. Each closed episode, and at the end the open one, is passed
 * to cb (may be NULL). Returns the number of episodes reported. */
typedef void (*ana_episode_fn)(const ana_episode_t *e, void *arg);
int ana_monitor(const ana_model_t *m, const ana_cusum_opts_t *o, const ana_interval_t *iv, size_t n,
                int interval_s, ana_cusum_t *cs, ana_episode_t *open, ana_episode_fn cb, void *arg);
/* The relative deviation of an episode, (metered - implied) / implied. */
double ana_episode_deviation(const ana_episode_t *e);

/* ---- the detector (analytics/detect.c) ------------------------------------
 * What the daemon, `coalmon consistency check` and `coalmon backtest` run over
 * intervals in time order, one gate each, against the model in force:
 *  - no-load power tracked from intervals where the belt runs empty (a scale
 *    fault cannot move it), frozen while a condition is open;
 *  - per interval, a two-sided CUSUM on residuals standardised by an energy-
 *    proportional noise (steps);
 *  - per production day, an EWMA of the day's metered-vs-implied deviation
 *    against its confidence band (drift);
 *  - a stopped scale (load-level power, the scale counts ~0) in one interval;
 *  - a stopped meter (belt carries coal, the meter registers less than the
 *    belt's no-load draw) in meter_intervals intervals;
 * one open condition per gate, latched until the residual is back for
 * clear_hours of running AND its cause was addressed (calibration record or
 * acknowledgement with a comment: ana_det_t.addressed_at). Pure. */

typedef enum ana_shape {
    ANA_SHAPE_NONE = 0,
    ANA_SHAPE_STEP,
    ANA_SHAPE_DRIFT,
    ANA_SHAPE_STOPPED_SCALE,
    ANA_SHAPE_STOPPED_METER,
} ana_shape;
const char *ana_shape_name(ana_shape s); /* "step", "drift", "stopped_scale", "stopped_meter" */

typedef struct ana_det_opts {
    ana_cusum_opts_t cusum; /* k, h, min_run_frac, z_clip */
    double day_lambda;      /* EWMA weight of a production day (0.3) */
    double day_L;           /* EWMA limit, in its own sigmas (3) */
    double day_floor;       /* relative uncertainty a day's implied tonnage never goes below (0.006) */
    int day_min_intervals;  /* a day with fewer counted intervals is not judged (16) */
    int64_t day_offset_s;   /* production day starts this long after Beijing midnight */
    double track_lambda;    /* no-load tracking EWMA weight per empty interval (0.05) */
    double track_max_share; /* an empty interval further than this share of a off is no sample (0.3) */
    double stopped_share;   /* stopped scale: metered below this share of implied (0.1) */
    double stopped_sigmas;  /* ... and implied above this many sigmas (8) */
    int meter_intervals;    /* stopped meter: consecutive intervals (2) */
    bool carry_over;        /* a new model in force continues the sums and the EWMA
                               (transport); false: they restart (the total gate, whose
                               fans and pumps follow the season the refits relearn) */
    bool per_interval;      /* run the per-interval CUSUM (transport yes; the total gate's
                               other loads make its intervals too coarse: daily check only) */
    double clear_hours;     /* running hours the residual must be back (24) */
    double clear_sigmas;    /* "back": |aggregate z| below this (2.5) */
    int level;              /* condition level (transport 2, total 1) */
} ana_det_opts_t;
void ana_det_opts_default(ana_det_opts_t *o);

typedef struct ana_det {
    ana_cusum_t cs;      /* sums, starts and lengths only (the resume point is last) */
    int64_t model;       /* id of the model the state belongs to */
    double noload;       /* tracked no-load power, kW (0: the model's a) */
    int n_track;         /* samples tracked */
    int64_t day;         /* production day being summed (day index) */
    double day_met, day_imp, day_var;
    int day_n;
    double ewma;         /* of daily z */
    int64_t ewma_from;   /* start of the day the EWMA last left zero's side */
    int n_days;          /* days judged */
    int meter_streak;
    int64_t meter_from;
    double typical_t;    /* EWMA of implied tonnage of loaded intervals */
    double prev_imp;     /* implied tonnage of the previous running interval */
    ana_episode_t open;  /* step or drift; sign 0: none; shape in open.shape */
    ana_episode_t hard;  /* stopped scale or stopped meter: latched apart, so a step
                            already open does not hide a scale that stopped */
    double hard_ok_run;  /* running hours since the hard fault was last seen */
    double clear_met, clear_imp, clear_var, clear_run;
    int64_t addressed_at; /* a calibration or a commented acknowledgement (0: none) */
    int64_t last;        /* start of the last interval seen */
} ana_det_t;

/* Episode callback: each condition opened (end 0), and each closed (end set).
 * Two channels can be open at once: open (step, drift) and hard (stopped
 * scale, stopped meter). */
void ana_det_start(ana_det_t *d, const ana_model_t *m);
/* Switch to model m (a new model in force): the tracked no-load carries over;
 * with o->carry_over the CUSUM sums and the daily EWMA too (a drift keeps
 * building across refits), else they restart. */
void ana_det_model(ana_det_t *d, const ana_model_t *m, const ana_det_opts_t *o);
/* Run over iv[0..n) (intervals after d->last only). Returns episodes reported. */
int ana_det_run(ana_det_t *d, const ana_model_t *m, const ana_det_opts_t *o,
                const ana_interval_t *iv, size_t n, int interval_s, ana_episode_fn cb, void *arg);
/* No condition open and nothing building (CUSUM and EWMA below half their limits):
 * a scheduled refit may replace the model in force. */
bool ana_det_quiet(const ana_det_t *d, const ana_det_opts_t *o);
/* Implied tonnage with the tracked no-load. */
double ana_det_implied(const ana_det_t *d, const ana_model_t *m, double run_h, double kwh);
char *ana_det_to_json(const ana_det_t *d);
void ana_det_from_json(const char *text, ana_det_t *d);

/* ---- backtest (analytics/backtest.c) ----------------------------------------
 * The daemon's logic replayed day by day over a history: the first model in
 * force fitted on the first train_days (declared trusted), then at each
 * production day a scheduled refit (window_days ending fit_lag_hours before,
 * intervals inside the gate's conditions left out) proposed and adopted only
 * when ana_det_quiet() and adopt_scheduled; ana_det_run() over the day. An
 * acknowledgement with a comment is assumed ack_after_h after each detection
 * (< 0: never). Optionally a plain daily-OLS baseline on the same history.
 * Pure; any thread. */
typedef struct ana_bt_opts {
    int interval_s;
    int window_days, refit_hours, fit_lag_hours;
    int train_days;        /* the first model's trusted data (21) */
    bool adopt_scheduled;  /* scheduled refits may replace the model in force (true) */
    double ack_after_h;    /* (24) */
    ana_det_opts_t det[2]; /* per gate */
    int64_t fault_from, fault_to; /* the fault's time, for the figures (0: none) */
    bool baseline;         /* also the plain daily-OLS baseline */
    double baseline_k;     /* its band: k residual sds of the daily fit (3) */
} ana_bt_opts_t;
struct ana_conf;
void ana_bt_opts_from_conf(const struct ana_conf *c, ana_bt_opts_t *o);

typedef struct ana_bt_gate {
    int episodes;           /* conditions opened after training */
    int false_alarms;       /* opened before the fault (or all, without a fault) */
    double clean_days;      /* days judged before the fault */
    int64_t detected;       /* first detection at or after the fault (0: none) */
    int shape, sign;        /* of that detection */
    double delay_h;         /* hours from the fault to it */
    double delay_run_h;     /* hours of belt running from the fault to it */
    int delay_counted;      /* counted (running) intervals from the fault to it */
    int delay_loaded;       /* intervals that carried coal (by their energy) from the fault to it */
    double flagged_share;   /* share of the fault's time a condition was open */
    int models_adopted, models_proposed;
} ana_bt_gate_t;

typedef struct ana_bt_result {
    ana_bt_gate_t gate[2];
    ana_bt_gate_t baseline; /* the daily-OLS baseline (transport gate) */
    int64_t from, to;       /* judged range */
} ana_bt_result_t;

/* Each condition of the replay (gate, episode; end 0 when opened). */
typedef void (*ana_bt_episode_fn)(ana_gate gate, const ana_episode_t *e, const ana_model_t *m,
                                  void *arg);
/* Day-by-day progress (days done of total). */
typedef void (*ana_bt_progress_fn)(int done, int total, void *arg);
int ana_backtest(ana_interval_t *iv, size_t n, const ana_bt_opts_t *o, ana_bt_result_t *r,
                 ana_bt_episode_fn cb, ana_bt_progress_fn progress, void *arg, char *err,
                 size_t errlen);

/* A simulated history (sim: its fault sets o's fault_from/fault_to) replayed:
 * what the bench, the scenario tests and `coalmon backtest --sim` run. */
struct ana_sim_opts;
int ana_bt_sim(const struct ana_sim_opts *sim, const ana_bt_opts_t *o, ana_bt_result_t *r,
               char *err, size_t errlen);

/* ---- simulated history (scenario tests, benches, the demo) --------------- */

/* Faults of the simulated scale or meter, from fault_from (to fault_to, 0: on). */
typedef enum ana_sim_fault {
    ANA_SIM_FAULT_NONE = 0,
    ANA_SIM_FAULT_STEP,          /* reading x (1 + step) (also the old default when step != 0) */
    ANA_SIM_FAULT_DRIFT,         /* reading x (1 + drift_per_day x days), at most drift_max */
    ANA_SIM_FAULT_STOPPED_SCALE, /* the scale counts nothing while the belt carries coal */
    ANA_SIM_FAULT_STOPPED_METER, /* the transport meter stops registering energy */
    ANA_SIM_FAULT_COEF,          /* someone changed the scale's coefficient: reading x (1 + step) */
} ana_sim_fault;

typedef struct ana_sim_opts {
    int64_t start; /* epoch s of the first interval */
    int days;
    int interval_s; /* default 900 */
    uint32_t seed;
    double rate_tph;             /* belt flow when loaded (default 600 t/h) */
    double a_kw, b_kwh_t, c_kwh; /* truth: no-load kW, kWh/t, constant per interval */
    double noise;                /* relative noise of the transport energy (default 0.03) */
    double other_kw;             /* fans, pumps, hoists on the total gate (default 1500) */
    double unmetered;            /* share of the total not seen by sub-gates (default 0.04) */
    /* anomalies of the station's reading relative to the true tonnage */
    int64_t fault_from;   /* 0: none */
    double step;          /* reading × (1 + step) from fault_from, e.g. -0.05 */
    double drift_per_day; /* reading × (1 + drift·days since fault_from) */
    /* ---- the realistic mine (ana_sim_opts_realistic; off in ana_sim_opts_default so
     * the old simple pattern stays available) ---- */
    bool realistic;
    ana_sim_fault fault; /* NONE with step/drift_per_day set: the old behaviour */
    int64_t fault_to;    /* end of the fault (0: lasts) */
    double drift_max;    /* |drift| stops growing here (0: no limit) */
    double season_amp;   /* no-load change with the season, share (0.06, highest in January) */
    double weather_amp;  /* slow weather-driven no-load change, share (0.03, days) */
    double glitch_rate;  /* per interval: meter spike, lost interval (0.002) */
    double hiccup_rate;  /* per interval: the energy counter lands in the next interval (0.003) */
} ana_sim_opts_t;
void ana_sim_opts_default(ana_sim_opts_t *o);
/* The realistic mine: defaults plus seasonal and weather-driven no-load
 * power, 2.5 % energy noise, glitches and counter hiccups, a night shift that
 * mostly runs empty, a lighter Sunday, stoppages of minutes to hours, belt
 * speed changes. */
void ana_sim_opts_realistic(ana_sim_opts_t *o);
/* Fill out[0..n) (n = days · 86400 / interval_s) with a production pattern:
 * three shifts, a maintenance stop each day, random stops, noise. Realistic:
 * each interval is the minute-by-minute integral of ana_sim_state_at() plus
 * the meter's artefacts (glitches, hiccups, a stopped meter). */
size_t ana_sim_count(const ana_sim_opts_t *o);
void ana_sim_intervals(const ana_sim_opts_t *o, ana_interval_t *out, size_t n);

/* The realistic mine's physical state at one instant (constant over each
 * minute). Pure and deterministic in (opts, t): the same seed gives the same
 * belt, flow and power at t whatever was asked before, so live meter and
 * station simulators driven by it agree with the history ana_sim_intervals()
 * generates for the same opts. Any thread. Uses o->realistic's physics
 * whatever o->realistic says; faults apply as in the history. */
typedef struct ana_sim_state {
    bool running;        /* belt moving */
    double speed_ms;     /* belt speed, m/s (0 stopped; 3.15 nominal, 2.7 slow mode) */
    double flow_tph;     /* true coal flow, t/h */
    double flow_read_tph;/* what the belt scale reads (faults applied), t/h */
    double noload_kw;    /* the belt's no-load power now (season, weather, speed) */
    double transport_kw; /* true power of the main-transport gate */
    double transport_read_kw; /* what its meter registers (0 while a stopped-meter fault) */
    double other_kw;     /* fans, pumps, hoists, workshops below the total gate */
    double total_kw;     /* the mine's total gate (transport + other + unmetered) */
    double sub_kw;       /* sum of the metered gates below the total */
    int shift;           /* 0 night (00-08), 1 day (08-16), 2 swing (16-24), Beijing time */
} ana_sim_state_t;
void ana_sim_state_at(const ana_sim_opts_t *o, int64_t t, ana_sim_state_t *st);

/* ---- mass balance (ANA-4) ------------------------------------------------ */

typedef struct ana_balance {
    double output;      /* station output x coefficient in force, t */
    double truck, rail; /* sales from the weighbridge and rail loading, t */
    double inv_change;  /* inventory at end - at start, t */
    double accounted;   /* truck + rail + inv_change */
    double diff;        /* output - accounted */
    double rel;         /* |diff| / max(|output|, |accounted|) */
    bool exceeded;      /* rel > tolerance (and both sides are not ~0) */
} ana_balance_t;
void ana_balance(double output, double truck, double rail, double inv_start, double inv_end,
                 double tolerance, ana_balance_t *out);
/* Two figures of one quantity, tolerance of the larger. Fills rel; true = exceeded. */
bool ana_compare(double x, double y, double tolerance, double *rel);

/* ---- capacity (ALM-1) ---------------------------------------------------- */

typedef struct ana_cap_opts {
    double year_over;   /* year limit = approved x (1 + year_over) (default 0.10) */
    double month_share; /* month limit = approved x month_share (default 0.10) */
    double warn[4];     /* warning levels as shares of a limit (default 0.9) */
    int n_warn;
} ana_cap_opts_t;
void ana_cap_opts_default(ana_cap_opts_t *o);

typedef struct ana_cap_use {
    double output;    /* to date in the period, t */
    double limit;     /* t */
    double share;     /* output / limit */
    double run_rate;  /* t per day so far */
    double forecast;  /* at the period's end at the run-rate */
    int64_t crossing; /* forecast date (epoch s) of reaching the limit; 0: not this period */
    int level;        /* 0 below every warning, 1..n_warn warnings, n_warn+1 at/over the limit */
} ana_cap_use_t;
/* Use of one period [start, end) at time now, output so far. */
void ana_capacity_eval(double limit, double output, int64_t start, int64_t end, int64_t now,
                       const ana_cap_opts_t *o, ana_cap_use_t *out);

/* ---- energy (ANA-2, ANA-3) ----------------------------------------------- */

enum { ANA_TIER_CRIT, ANA_TIER_PEAK, ANA_TIER_FLAT, ANA_TIER_VALLEY, ANA_TIERS };
const char *ana_tier_name(int tier); /* "critical", "peak", "flat", "valley" */

/* Tariff calendar: a season is a set of months with a 24-character tier
 * string, one letter per hour from 00:00: C critical peak, P peak, F flat,
 * V valley (Beijing time). */
#define ANA_MAX_SEASONS 12
typedef struct ana_tariff {
    struct {
        char name[32];
        unsigned months; /* bit m set for month m (1..12) */
        char tiers[25];
    } season[ANA_MAX_SEASONS];
    int n_seasons;
    double price[ANA_TIERS]; /* yuan per kWh */
} ana_tariff_t;
void ana_tariff_default(ana_tariff_t *t);
/* Validate a tier string; CM_ERR_INVALID names the position of a bad letter. */
int ana_tariff_check_tiers(const char *tiers, char *err, size_t errlen);
/* Tier of the hour containing epoch s. */
int ana_tariff_tier(const ana_tariff_t *t, int64_t epoch);
/* Add each interval's energy to its tier: kwh[i] over [start[i], +interval_s).
 * Intervals that straddle an hour are split in proportion. */
void ana_tou_split(const ana_tariff_t *t, const int64_t *start, const double *kwh, size_t n,
                   int interval_s, double out[ANA_TIERS]);
double ana_tou_cost(const ana_tariff_t *t, const double kwh[ANA_TIERS]);

typedef struct ana_energy_opts {
    double tce_per_kwh; /* t standard coal per kWh (default 0.0001229, equivalent value) */
    double co2_per_kwh; /* t CO2 per kWh (default 0.0005703, national grid average) */
} ana_energy_opts_t;
void ana_energy_opts_default(ana_energy_opts_t *o);
/* kWh per tonne; NAN when tons is ~0. */
double ana_kwh_per_t(double kwh, double tons);
/* (now - before) / before; NAN when before is ~0. */
double ana_change(double now, double before);

/* Meter balance: unmetered share = (total - sum of sub-gates) / total; a jump
 * is a share differing from the median of the previous days by more than
 * jump (absolute share, default 0.05). */
double ana_unmetered_share(double total, double sub);
bool ana_share_jump(const double *prev, size_t n, double today, double jump, double *median);

/* Power quality against thresholds. */
typedef struct ana_pq_opts {
    double pf_min;        /* default 0.90 */
    double thd_max;       /* voltage THD, % (default 5) */
    double unbalance_max; /* voltage unbalance, % (default 2) */
} ana_pq_opts_t;
void ana_pq_opts_default(ana_pq_opts_t *o);
/* Unbalance of three phase values: max deviation from their mean / mean, %. */
double ana_unbalance(double a, double b, double c);
/* Bit 1 low PF, bit 2 high THD, bit 4 unbalance (NAN inputs are not checked). */
int ana_pq_check(const ana_pq_opts_t *o, double pf, double thd, double unbalance);

/* Vibration severity zones A..D (ISO 10816-style), velocity RMS mm/s. */
typedef struct ana_vib_opts {
    double ab, bc, cd; /* zone boundaries (default 2.3, 4.5, 7.1) */
} ana_vib_opts_t;
void ana_vib_opts_default(ana_vib_opts_t *o);
char ana_vib_zone(const ana_vib_opts_t *o, double v); /* 'A'..'D' */
/* Least-squares trend of y over days x: slope per day; NAN with < 3 points. */
double ana_trend(const double *x, const double *y, size_t n);

/* Abnormal use. Transport energy while the belt is stopped: kWh above what a
 * stopped belt draws (model constant + 4 sigma, at least floor_kwh). */
double ana_stopped_excess(const ana_model_t *m, const ana_interval_t *iv, int interval_s,
                          double floor_kwh);
/* Usual profile: median and scaled MAD of history (n values, same time of
 * day); a value is far when |v - median| > max(k·MAD·1.4826, rel·median). */
bool ana_profile_far(const double *hist, size_t n, double v, double k, double rel, double *median,
                     double *mad);

/* ---- scale health (analytics/scale_health.c) ------------------------------ */

/* The rolling metered/implied ratio: metered tonnage over a window of running
 * intervals against the tonnage each interval's energy implies with the model
 * in force for it. Its standard error combines the models' residual scale
 * (sigma_run/b per interval, independent) and parameter errors (se_a, se_b,
 * se_c, shared by the intervals of one model). Section analytics.scale_health. */
typedef struct ana_health_opts {
    int window_days;     /* rolling window (7) */
    double band_sigmas;  /* the band: this many standard errors of the ratio (2) */
    double alarm_sigmas; /* the alarm band: this many (4) */
    double band_floor;   /* the band is never narrower than this share (0.01) */
    int min_intervals;   /* fewer running intervals: no verdict (8) */
} ana_health_opts_t;
void ana_health_opts_default(ana_health_opts_t *o);

/* 一致 inside the band; 待观察 beyond it or while an output_power condition is
 * building (the gate's detector not quiet: ana_det_quiet); 不一致 beyond
 * the alarm band or while one is open. */
typedef enum ana_verdict {
    ANA_VERDICT_UNKNOWN = 0, /* no model or too few running intervals */
    ANA_VERDICT_CONSISTENT,
    ANA_VERDICT_WATCH,
    ANA_VERDICT_INCONSISTENT,
} ana_verdict;
const char *ana_verdict_name(ana_verdict v); /* "unknown", "consistent", "watch", "inconsistent" */
const char *ana_verdict_zh(ana_verdict v);   /* 数据不足, 一致, 待观察, 不一致 */

typedef struct ana_scale_health {
    ana_gate gate;
    int64_t from, to; /* the window, epoch s */
    int intervals;    /* running intervals counted */
    int64_t model;    /* model in force at the window's end (0: none) */
    int models;       /* model versions the window used */
    double metered_t, implied_t;
    double ratio;            /* metered / implied (NAN: unknown) */
    double sigma;            /* standard error of the ratio */
    double band, alarm_band; /* half-widths around 1 */
    bool building, open;     /* output_power condition of the gate building / open */
    ana_verdict verdict;
    char reason[192]; /* a Chinese sentence */
} ana_scale_health_t;

struct ana_conf;
/* Pure: the ratio and band over iv[0..n) with models[i] in force for iv[i]
 * (NULL: none, the interval is not counted); verdict left UNKNOWN. */
void ana_scale_health_calc(const ana_interval_t *iv, const ana_model_t *const *models, size_t n,
                           const struct ana_conf *c, ana_gate gate, ana_scale_health_t *h);

/* ---- configuration (section "analytics" of coalmond.json) --------------- */

typedef struct ana_conf {
    int interval_s;  /* 900 */
    int window_days; /* rolling fit window (28) */
    int refit_hours; /* refit schedule (24) */
    /* A scheduled fit leaves out the newest hours (24): data the monitor has
     * not had a production day to judge is not learnt from. */
    int fit_lag_hours;
    int eval_s;      /* how often the daemon evaluates (300) */
    ana_cusum_opts_t cusum;
    ana_det_opts_t detect[2]; /* per gate (cusum copied in); section "detect" */
    bool adopt_scheduled;     /* a quiet gate's scheduled refit replaces the model in force */
    int calib_fit_days;       /* after a calibration record, refit on this many days after it (3) */
    double tolerance;   /* mass balance, share of the larger (0.03) */
    char coef_name[48]; /* coefficient converting output ("raw_to_gross") */
    ana_cap_opts_t cap;
    ana_energy_opts_t energy;
    ana_tariff_t tariff;
    ana_pq_opts_t pq;
    ana_vib_opts_t vib;
    double balance_jump;      /* meter balance jump, share (0.05) */
    double stopped_floor_kwh; /* 2 */
    char
        output_quantity[48]; /* station counter quantity for history from points ("output_total") */
    tm_shift_plan_t shifts;
    ana_health_opts_t health; /* scale health (section "scale_health") */
} ana_conf_t;
void ana_conf_default(ana_conf_t *c);
/* Reads section "analytics" (and "shifts") of root; absent keys keep defaults. */
int ana_conf_from_cfg(const cfg_t *cfg, ana_conf_t *c, char *err, size_t errlen);

/* ---- the store layer ----------------------------------------------------- */

/* Conditions (table ana_condition, read by the alarms engine). */
typedef struct ana_condition {
    int64_t id;
    char type[32];      /* over_production, power_abnormal, output_power, output_power_total,
                           output_sales, sales_sources, meter_balance, power_quality, vibration */
    char source[64];    /* gate, device or "mine" */
    int level;          /* 1 warning, 2 serious, 3 critical */
    int64_t start, end; /* epoch s; end 0: ongoing */
    double value, threshold;
    char detail[512]; /* JSON object text */
} ana_condition_t;

/* The output over [start, end): every station's minutes (collector), with
 * imported history (ana_interval) replacing the station's minutes of the
 * intervals it covers. The one rule for output; intake's figures, the
 * uplink's summaries and the reports use it. */
int ana_output_raw(sqlite3 *db, int64_t start, int64_t end, double *tons, char *err,
                   size_t errlen);
typedef struct ana_output {
    double raw;           /* t, as ana_output_raw() */
    double converted;     /* raw x the coefficient in force, piecewise where it changed */
    bool has_coefficient; /* false: none in force for part of the range (1.0 used there) */
} ana_output_t;
/* The output and its conversion by coefficient coef (e.g. "raw_to_gross"). */
int ana_output(sqlite3 *db, const char *coef, int64_t start, int64_t end, ana_output_t *out,
               char *err, size_t errlen);
/* intake's output source (intake_conf_t.output): ana_output() with the
 * raw_to_gross coefficient. */
int ana_output_for_intake(sqlite3 *db, int64_t start, int64_t end, double *raw, double *gross,
                          bool *has_coefficient, char *err, size_t errlen);

/* Intervals in [from, to): history (table ana_interval) where present, and
 * the collector's tables (station_output_minute, counter_minute) for the rest. */
int ana_db_intervals(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to,
                     ana_interval_t **out, size_t *n, char *err, size_t errlen);
/* Store history intervals (source "import", "demo"), all or nothing; an
 * interval already stored is replaced. */
int ana_db_put_intervals(store_t *st, const ana_interval_t *iv, size_t n, int interval_s,
                         const char *source, char *err, size_t errlen);

/* Fit on the window ending at `to` and store it as a new version in force from
 * the window's start: a person's fit (channel cli/api) declares the window
 * trusted (basis engineer); audited. */
int ana_db_refit(store_t *st, sqlite3 *db, const ana_conf_t *c, ana_gate gate, int64_t to,
                 const char *actor, const char *channel, ana_model_t *m, char *err, size_t errlen);
/* The model of gate in force at `at` (0: the newest in force): the version in
 * force with the latest valid_from <= at; CM_ERR_NOTFOUND when none. */
int ana_db_model(sqlite3 *db, ana_gate gate, int64_t at, ana_model_t *m, char *err, size_t errlen);
/* The earliest model in force of gate (for ranges that begin before any). */
int ana_db_model_first(sqlite3 *db, ana_gate gate, ana_model_t *m, char *err, size_t errlen);
/* fitted_at of the gate's newest version of any status (0: none). */
int64_t ana_db_last_fit(sqlite3 *db, ana_gate gate);
/* A fit stored as a version: in force (adopt) from valid_from (0: the window's
 * start) or a proposal; window [from, to) (from 0: window_days before to). */
typedef struct ana_fit_req {
    ana_gate gate;
    int64_t from, to, valid_from;
    bool adopt, pin;
    const char *basis; /* engineer, calibration, bootstrap, schedule, demo */
    const char *actor, *channel;
    int64_t at; /* fitted_at (0: now); the daemon's evaluation time, so replays refit on time */
} ana_fit_req_t;
int ana_db_fit_store(store_t *st, sqlite3 *db, const struct ana_conf *c, const ana_fit_req_t *q,
                     ana_model_t *m, char *err, size_t errlen);
/* Pin (stays in force until unpinned; refits only propose) or unpin version id
 * (audited model.pin / model.unpin). m (may be NULL) gets the version. */
int ana_db_model_pin(store_t *st, int64_t id, bool pin, const char *actor, const char *channel,
                     const char *reason, ana_model_t *m, char *err, size_t errlen);
int ana_db_model_get(sqlite3 *db, int64_t id, ana_model_t *m, char *err, size_t errlen);
cJSON *ana_model_json(const ana_model_t *m);
/* Every version, newest first: JSON array. */
int ana_db_models_json(sqlite3 *db, int limit, cJSON **out, char *err, size_t errlen);

/* Approved capacity in force at `at`, t/a; CM_ERR_NOTFOUND when never set. */
int ana_db_capacity(sqlite3 *db, int64_t at, double *tpa, int64_t *valid_from, char *err,
                    size_t errlen);
/* New capacity in force from valid_from (audited, action "capacity.set"). */
int ana_db_capacity_set(store_t *st, double tpa, int64_t valid_from, const char *actor,
                        const char *channel, const char *reason, char *err, size_t errlen);
/* {"current":..., "history":[...], "year":{...}, "month":{...}} at time now. */
int ana_capacity_json(sqlite3 *db, const ana_conf_t *c, int64_t now, cJSON **out, char *err,
                      size_t errlen);

/* Output-vs-electricity check over [from, to) with the models in force; the
 * conditions as a JSON array (not stored). */
int ana_consistency_check(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to, cJSON **out,
                          char *err, size_t errlen);

/* Interval by interval over [from, to): metered tonnage, gate energy, running
 * hours, implied tonnage, relative deviation, z and the CUSUM sums, with the
 * model in force at `from` (the newest when none was). Report shape
 * {"report":"implied","model":{...},"columns":[...],"rows":[...]}. */
int ana_implied_json(sqlite3 *db, const ana_conf_t *c, ana_gate gate, int64_t from, int64_t to,
                     cJSON **out, char *err, size_t errlen);

/* The daemon's periodic job: refit when due, monitor new intervals, mass
 * balance, capacity, meter balance, abnormal use; conditions written to
 * ana_condition (opened, extended, ended). Safe to call at any rate. */
int ana_evaluate(store_t *st, sqlite3 *db, const ana_conf_t *c, int64_t now, char *err,
                 size_t errlen);
/* The daemon's evaluation thread: ana_evaluate() a second after start, then
 * every c->eval_s (c is copied), on its own read connection. kick asks for a
 * run now (new data, a refit on demand). stop joins the thread and frees it;
 * NULL is accepted by all three. Any thread. */
typedef struct ana_runner ana_runner_t;
ana_runner_t *ana_runner_start(store_t *st, const ana_conf_t *c, char *err, size_t errlen);
void ana_runner_kick(ana_runner_t *r);
int64_t ana_runner_runs(ana_runner_t *r); /* evaluations completed */
void ana_runner_stop(ana_runner_t *r);

/* Conditions overlapping [from, to), newest first (ongoing ones included). */
int ana_conditions_json(sqlite3 *db, int64_t from, int64_t to, cJSON **out, char *err,
                        size_t errlen);

/* The scale-health figure of gate over the window ending at `at` (whole
 * intervals), with its verdict. */
int ana_db_scale_health(sqlite3 *db, const ana_conf_t *c, ana_gate gate, int64_t at,
                        ana_scale_health_t *h, char *err, size_t errlen);
cJSON *ana_scale_health_json(const ana_scale_health_t *h);
/* Both gates at `at`: the headline (transport gate's, the total gate's when
 * the transport gate has no verdict) with "at", "window_days" and "gates". */
int ana_scale_health_report(sqlite3 *db, const ana_conf_t *c, int64_t at, cJSON **out, char *err,
                            size_t errlen);

/* The demo mine's simulation: the realistic mine with seed ANA_DEMO_SEED and
 * the configured interval. Its state at any time is ana_sim_state_at(). */
#define ANA_DEMO_SEED 20260
void ana_demo_sim_opts(const ana_conf_t *c, ana_sim_opts_t *o);
/* Pre-generate `days` of the demo mine's history up to the end of the
 * interval under way at `now` (the live collector takes over from the next
 * one) and fit the models on it up to now (coalmond --demo). */
int ana_demo_history(store_t *st, const ana_conf_t *c, int days, int64_t now, char *err,
                     size_t errlen);

/* ---- history CSV (coalmon import history) -------------------------------- */

/* Parse one CSV text; rows appended to *out (malloc'd). Every bad row is
 * reported through bad(line, field, message) and skipped; a bad header
 * stops with CM_ERR_INVALID. Columns: time, tons, transport_kwh, total_kwh,
 * run_min (required), sub_kwh (optional). */
typedef void (*ana_csv_bad_fn)(int line, const char *field, const char *msg, void *arg);
int ana_history_parse(const char *text, size_t len, ana_interval_t **out, size_t *n,
                      ana_csv_bad_fn bad, void *arg, char *err, size_t errlen);

/* ---- reports (RPT-1) ------------------------------------------------------ */

/* kind: "output", "pts", "energy"; period: shift, day, month, year; over
 * [from, to). Result {"report","period","from","to","columns":[...],
 * "rows":[[...]...],"notes":{...}}: the same object the dashboard reads. */
int ana_report(sqlite3 *db, const ana_conf_t *c, const char *kind, tm_period period, int64_t from,
               int64_t to, cJSON **out, char *err, size_t errlen);
/* The report as CSV (UTF-8 with BOM, CRLF, header row). */
char *ana_report_csv(const cJSON *report, size_t *len);
/* ---- reports as Excel workbooks (RPT-1, RPT-2; analytics/report_xlsx.c) ----
 *
 * Any report object {"report","from","to","columns":[...],"rows":[[...]]} —
 * RPT-1 from ana_report() or RPT-2 from intake_report() — as one sheet with a
 * Chinese title row, Chinese headings, number formats and a 合计 row of the
 * summable columns. It reads only the cJSON, so it needs nothing of intake,
 * and the CLI and the web server share it. Thread-safe (no shared state). */
typedef struct ana_xlsx_meta {
    const char *mine;  /* mine name for the title; NULL or "" = none */
    const char *title; /* report name in Chinese, e.g. "产量报表" */
    int64_t now;       /* generation time (epoch s), shown in Beijing time */
} ana_xlsx_meta_t;

/* Chinese heading of a report column; the key itself when unknown. */
const char *ana_xlsx_column_label(const char *key);
/* Chinese name of a report kind ("output", "pts", "energy", "output-summary"...). */
const char *ana_xlsx_report_name(const char *kind);
/* Write report to path, through path.tmp and a rename, so a failed write
 * leaves no half-written workbook. */
int ana_xlsx_write(const char *path, const cJSON *report, const ana_xlsx_meta_t *meta, char *err,
                   size_t errlen);
/* The workbook in memory (*out malloc'd, the caller frees it). libxlsxwriter
 * 1.1 writes only files: this goes through a mkstemp file in tmpdir (made
 * when missing), removed before returning, also on failure. */
int ana_xlsx_bytes(const char *tmpdir, const cJSON *report, const ana_xlsx_meta_t *meta,
                   char **out, size_t *len, char *err, size_t errlen);
/* Energy figures over [from, to): per gate kWh, kWh/t, tce, CO2, TOU split
 * and cost, unmetered share, saving facts. */
int ana_energy_json(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to, cJSON **out,
                    char *err, size_t errlen);

#endif
