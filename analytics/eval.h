/* analytics internal: the pieces of ana_evaluate(). */
#ifndef COALMON_ANALYTICS_EVAL_H
#define COALMON_ANALYTICS_EVAL_H

#include "analytics/conditions.h"

void ana_episode_condition(const ana_model_t *m, const ana_episode_t *e, int h_sigmas,
                           ana_condition_t *c);
/* Monitor new intervals of gate up to `to`; conditions and state into w. */
int ana_eval_monitor(sqlite3 *db, const ana_conf_t *c, ana_gate gate, int64_t to, ana_write_t *w,
                     char *err, size_t errlen);
/* No condition open and nothing building on gate (its saved detector state). */
bool ana_eval_gate_quiet(sqlite3 *db, const ana_conf_t *c, ana_gate gate);
/* Earliest calibration record or commented ALM-3 acknowledgement at or after t (0: none). */
int64_t ana_addressed_after(sqlite3 *db, ana_gate gate, int64_t t);
/* Mass balance, sales sources, capacity, meter balance at `now` into w. */
int ana_eval_periods(sqlite3 *db, const ana_conf_t *c, int64_t now, ana_write_t *w, char *err,
                     size_t errlen);

/* Power quality and vibration per device from the last hour of minute aggregates. */
int ana_eval_power_quality(sqlite3 *db, const ana_conf_t *c, int64_t now, ana_write_t *w, char *err,
                           size_t errlen);
int ana_eval_vibration(sqlite3 *db, const ana_conf_t *c, int64_t now, ana_write_t *w, char *err,
                       size_t errlen);
/* Total-gate energy of iv[first..n) against the same time of day in iv[0..first). */
int ana_eval_profile(const ana_conf_t *c, const ana_interval_t *iv, size_t n, size_t first,
                     ana_write_t *w);

#endif
