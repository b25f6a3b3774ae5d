/* The sales side as the mass balance (ANA-4) and RPT-1 count it, for
 * analytics: tickets of listed coal types, rail sales, inventory at the
 * period's ends, the mine system's own figures. Reads only. */
#include <string.h>

#include "intake/internal.h"

static int scalar(sqlite3 *db, const char *sql, int64_t a, int64_t b, const char *text, double *out,
                  bool *found, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, sql, &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, a);
    sqlite3_bind_int64(s, 2, b);
    if (text)
        sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
    *out = 0;
    return store_q_double(s, 0, out, found, err, errlen);
}

static int inventory_at(sqlite3 *db, int64_t t, double *tons, bool *found, char *err, size_t errlen)
{
    return scalar(
        db,
        "SELECT sum(tons) FROM inventory_survey s WHERE surveyed_at <= ?1 AND "
        "surveyed_at = (SELECT max(surveyed_at) FROM inventory_survey u WHERE "
        "u.stockpile = s.stockpile AND u.coal_type = s.coal_type AND u.surveyed_at <= ?1) "
        "AND ?2 = ?2",
        t, 0, NULL, tons, found, err, errlen);
}

int intake_balance_get(sqlite3 *db, int64_t start, int64_t end, const char *pts_period,
                       intake_balance_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    double trucks = 0;
    bool f1 = false, f2 = false;
    /* Tonnage and truck count of the same tickets: coal sold, not gangue. */
    int rc = scalar(db,
                    "SELECT sum(net) FROM weigh_ticket_current WHERE direction = 'out' AND "
                    "material IN (SELECT code FROM coal_type) AND gross_time >= ?1 AND "
                    "gross_time < ?2",
                    start, end, NULL, &out->truck, &f1, err, errlen);
    if (!rc)
        rc = scalar(db,
                    "SELECT count(*) FROM weigh_ticket_current WHERE direction = 'out' AND "
                    "material IN (SELECT code FROM coal_type) AND gross_time >= ?1 AND "
                    "gross_time < ?2",
                    start, end, NULL, &trucks, NULL, err, errlen);
    out->trucks = (int)trucks;
    if (!rc)
        rc = scalar(db, "SELECT sum(tons) FROM rail_sale WHERE loaded_at >= ?1 AND loaded_at < ?2",
                    start, end, NULL, &out->rail, &f2, err, errlen);
    out->has_sales = f1 || f2;
    bool i0 = false, i1 = false;
    if (!rc)
        rc = inventory_at(db, start, &out->inv_start, &i0, err, errlen);
    if (!rc)
        rc = inventory_at(db, end, &out->inv_end, &i1, err, errlen);
    out->has_inventory = i0 && i1;
    if (!out->has_inventory)
        out->inv_start = out->inv_end = 0; /* unknown: counted as no change, said in notes */
    if (!rc && pts_period) {
        sqlite3_stmt *s;
        rc = store_prepare(db,
                           "SELECT output, truck_sales, rail_sales, inventory FROM pts_summary "
                           "WHERE period = ?3 AND period_start = ?1 AND coal_type = '' AND ?2 = ?2 "
                           "ORDER BY version DESC LIMIT 1",
                           &s, err, errlen);
        if (!rc) {
            sqlite3_bind_int64(s, 1, start);
            sqlite3_bind_int64(s, 2, 0);
            sqlite3_bind_text(s, 3, pts_period, -1, SQLITE_STATIC);
            if (store_next(s, &rc, err, errlen)) {
                out->has_pts = true;
                out->pts_output = sqlite3_column_double(s, 0);
                out->pts_truck = sqlite3_column_double(s, 1);
                out->pts_rail = sqlite3_column_double(s, 2);
                out->pts_inventory = sqlite3_column_double(s, 3);
            }
            sqlite3_finalize(s);
        }
    }
    return rc;
}

