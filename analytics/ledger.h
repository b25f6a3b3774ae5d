/* analytics internal: figures of the sales side of a period, read from the
 * intake tables. Not part of the public header; same threading rules. */
#ifndef COALMON_ANALYTICS_LEDGER_H
#define COALMON_ANALYTICS_LEDGER_H

#include "analytics/analytics.h"

typedef struct ana_ledger {
    double truck; /* net of outbound coal tickets (gross time in the period) */
    int trucks;   /* outbound vehicles */
    double rail;
    bool has_sales;
    double inv_start, inv_end;
    bool has_inventory;
    bool has_pts; /* the sales system's own figures for the period */
    double pts_output, pts_truck, pts_rail, pts_inventory;
} ana_ledger_t;

/* pts_period: "day", "month"... to look up pts_summary for a period starting at start; NULL: skip.
 */
int ana_ledger_get(sqlite3 *db, int64_t start, int64_t end, const char *pts_period,
                   ana_ledger_t *out, char *err, size_t errlen);
/* Coefficient in force at `at`; 1.0 with *found false when none is set. */
double ana_ledger_coef(sqlite3 *db, const char *name, int64_t at, bool *found);

/* Sum of tons / kWh of the intervals in [from, to) (NAN ignored); iv in time order. */
typedef struct ana_sums {
    double tons, transport_kwh, total_kwh, sub_kwh, run_h;
    int n_tons, n_sub;
} ana_sums_t;
/* Index of the first interval starting at or after t (n when none); iv in time order. */
size_t ana_first_at(const ana_interval_t *iv, size_t n, int64_t t);
void ana_sum_intervals(const ana_interval_t *iv, size_t n, int64_t from, int64_t to,
                       ana_sums_t *out);

/* Per gate device: kWh, our time-of-use split and cost, the meter's own
 * per-rate registers and the relative difference where it keeps them. */
int ana_gates_json(sqlite3 *db, const ana_conf_t *c, int64_t from, int64_t to, cJSON **out,
                   char *err, size_t errlen);

#endif
