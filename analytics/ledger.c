/* analytics store layer: the other side of the ledger for mass balance and
 * the RPT-1 reports — intake's sales figures (intake_balance_get) and the
 * coefficient in force (core). Reads only. */
#include <math.h>
#include <string.h>

#include "analytics/ledger.h"
#include "intake/intake.h"

int ana_ledger_get(sqlite3 *db, int64_t start, int64_t end, const char *pts_period,
                   ana_ledger_t *out, char *err, size_t errlen)
{
    intake_balance_t b;
    int rc = intake_balance_get(db, start, end, pts_period, &b, err, errlen);
    if (rc)
        return rc;
    *out = (ana_ledger_t){.truck = b.truck,
                          .trucks = b.trucks,
                          .rail = b.rail,
                          .has_sales = b.has_sales,
                          .inv_start = b.inv_start,
                          .inv_end = b.inv_end,
                          .has_inventory = b.has_inventory,
                          .has_pts = b.has_pts,
                          .pts_output = b.pts_output,
                          .pts_truck = b.pts_truck,
                          .pts_rail = b.pts_rail,
                          .pts_inventory = b.pts_inventory};
    return CM_OK;
}

double ana_ledger_coef(sqlite3 *db, const char *name, int64_t at, bool *found)
{
    double v = 1.0;
    char err[128];
    *found = store_coef_get(db, name, at, &v, err, sizeof err) == CM_OK;
    return *found ? v : 1.0;
}
