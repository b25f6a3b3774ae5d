/* analytics: output against sales and inventory (ANA-4, ALM-4) and output
 * against the approved capacity (ALM-1). Pure functions. */
#include <math.h>

#include "analytics/analytics.h"

/* Both sides below this many tonnes: nothing to compare (a stopped day). */
#define BALANCE_FLOOR_T 1.0

bool ana_compare(double x, double y, double tolerance, double *rel)
{
    double big = fmax(fabs(x), fabs(y));
    *rel = big > 0 ? fabs(x - y) / big : 0;
    return big >= BALANCE_FLOOR_T && *rel > tolerance;
}

void ana_balance(double output, double truck, double rail, double inv_start, double inv_end,
                 double tolerance, ana_balance_t *out)
{
    out->output = output;
    out->truck = truck;
    out->rail = rail;
    out->inv_change = inv_end - inv_start;
    out->accounted = truck + rail + out->inv_change;
    out->diff = output - out->accounted;
    out->exceeded = ana_compare(output, out->accounted, tolerance, &out->rel);
}

void ana_cap_opts_default(ana_cap_opts_t *o)
{
    *o = (ana_cap_opts_t){.year_over = 0.10, .month_share = 0.10, .warn = {0.9}, .n_warn = 1};
}

void ana_capacity_eval(double limit, double output, int64_t start, int64_t end, int64_t now,
                       const ana_cap_opts_t *o, ana_cap_use_t *out)
{
    *out = (ana_cap_use_t){.output = output, .limit = limit};
    out->share = limit > 0 ? output / limit : NAN;
    if (now > end)
        now = end;
    double elapsed = (double)(now - start) / 86400.0, length = (double)(end - start) / 86400.0;
    /* The run-rate needs some history: below an hour it is noise. */
    if (elapsed >= 1.0 / 24) {
        out->run_rate = output / elapsed;
        out->forecast = out->run_rate * length;
    } else {
        out->forecast = output;
    }
    if (limit > 0 && output >= limit) {
        out->crossing = now; /* already crossed (the exact moment is in the daily figures) */
    } else if (limit > 0 && out->run_rate > 0) {
        double days = (limit - output) / out->run_rate;
        int64_t when = now + (int64_t)ceil(days * 86400.0);
        out->crossing = when < end ? when : 0;
    }
    out->level = 0;
    if (!(limit > 0))
        return;
    for (int i = 0; i < o->n_warn; i++)
        if (out->share >= o->warn[i])
            out->level = i + 1;
    if (out->share >= 1.0)
        out->level = o->n_warn + 1;
}
