/* Production-transport-sales figures per shift, day, month, quarter, year
 * (ACQ-3): output (from analytics through c->output: station minutes,
 * imported history, coefficient in force), and intake's own sales and
 * inventory. */
#include <stdio.h>
#include <string.h>

#include "intake/internal.h"

static int sum_query(sqlite3 *db, const char *sql, int64_t a, int64_t b, const char *coal,
                     double *sum, int *count, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, sql, &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, a);
    sqlite3_bind_int64(s, 2, b);
    store_bind_text_or_null(s, 3, coal);
    *sum = 0;
    /* A failed sum is an error, never 0 t (#14). */
    rc = store_step(s, err, errlen);
    if (rc > 0) {
        *sum = sqlite3_column_double(s, 0);
        if (count)
            *count = sqlite3_column_int(s, 1);
    }
    sqlite3_finalize(s);
    return rc < 0 ? rc : CM_OK;
}

/* Coal only: gangue and other materials are weighed but are not sales of coal. */
#define TICKETS_SQL(dir)                                                                    \
    "SELECT coalesce(sum(net), 0), count(*) FROM weigh_ticket_current WHERE direction = '" dir \
    "' AND gross_time >= ?1 AND gross_time < ?2 AND material NOT IN ('gangue', 'other')"     \
    " AND (?3 IS NULL OR material = ?3)"

int intake_sales_get(sqlite3 *db, int64_t start, int64_t end, const char *coal_type,
                     intake_sales_t *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    int n = 0;
    int rc = sum_query(db, TICKETS_SQL("out"), start, end, coal_type, &f->truck_sales, &f->trucks,
                       err, errlen);
    if (!rc)
        rc = sum_query(db, TICKETS_SQL("in"), start, end, coal_type, &f->truck_receipts, &n, err,
                       errlen);
    if (!rc)
        rc = sum_query(db, "SELECT coalesce(sum(tons), 0) FROM rail_sale WHERE loaded_at >= ?1"
                           " AND loaded_at < ?2 AND (?3 IS NULL OR coal_type = ?3)",
                       start, end, coal_type, &f->rail_sales, NULL, err, errlen);
    /* Inventory at the end: per stockpile and coal type, the latest survey before it. */
    n = 0;
    if (!rc)
        rc = sum_query(db, "SELECT coalesce(sum(tons), 0), count(*) FROM inventory_survey v"
                           " WHERE surveyed_at < ?2 AND (?3 IS NULL OR coal_type = ?3)"
                           " AND surveyed_at = (SELECT max(surveyed_at) FROM inventory_survey w"
                           " WHERE w.stockpile = v.stockpile AND w.coal_type = v.coal_type"
                           " AND w.surveyed_at < ?2)",
                       start, end, coal_type, &f->inventory, &n, err, errlen);
    f->has_inventory = n > 0;
    return rc;
}

int intake_figures_get(sqlite3 *db, const intake_conf_t *c, tm_period kind, int64_t at,
                       const char *coal_type, intake_figures_t *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    tm_period_bounds(&c->plan, kind, at, &f->start, &f->end);
    int rc = CM_OK;
    /* The station weighs raw coal of every kind: output is for "all" only. */
    if (!coal_type || !coal_type[0] || !strcmp(coal_type, "raw")) {
        if (!c->output)
            return cm_fail(err, errlen, CM_ERR_INVALID, "figures: no output source configured");
        rc = c->output(db, f->start, f->end, &f->output_raw, &f->output_gross, &f->has_coefficient,
                       err, errlen);
    }
    intake_sales_t sl;
    if (!rc)
        rc = intake_sales_get(db, f->start, f->end, coal_type, &sl, err, errlen);
    if (rc)
        return rc;
    f->truck_sales = sl.truck_sales;
    f->trucks = sl.trucks;
    f->truck_receipts = sl.truck_receipts;
    f->rail_sales = sl.rail_sales;
    f->inventory = sl.inventory;
    f->has_inventory = sl.has_inventory;
    return CM_OK;
}

/* The mine system's own figures for the same period: an object, or JSON null
 * when it reported none (a failed read is an error, not "none"). */
static int reported(sqlite3 *db, const char *period, int64_t start, const char *coal, cJSON **out,
                    char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT output, truck_sales, rail_sales, inventory, version"
                               " FROM pts_summary WHERE period = ? AND period_start = ? AND coal_type = ?"
                               " ORDER BY version DESC LIMIT 1",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, period, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, start);
    sqlite3_bind_text(s, 3, coal ? coal : "", -1, SQLITE_STATIC);
    cJSON *o = NULL;
    rc = store_step(s, err, errlen);
    if (rc > 0) {
        o = cJSON_CreateObject();
        static const char *const k[] = {"output", "truckSales", "railSales", "inventory", "version"};
        for (int i = 0; i < 5; i++)
            cJSON_AddNumberToObject(o, k[i], sqlite3_column_double(s, i));
    }
    sqlite3_finalize(s);
    if (rc < 0)
        return rc;
    *out = o ? o : cJSON_CreateNull();
    return CM_OK;
}

static double r3(double v) { return (double)(long long)(v * 1000 + (v < 0 ? -0.5 : 0.5)) / 1000; }

cJSON *intake_figures_to_json(const intake_figures_t *f)
{
    cJSON *o = cJSON_CreateObject();
    tm_json_add(o, "start", f->start, TM_JSON_BJ);
    tm_json_add(o, "end", f->end, TM_JSON_BJ);
    cJSON_AddNumberToObject(o, "outputRaw", r3(f->output_raw));
    if (f->has_coefficient)
        cJSON_AddNumberToObject(o, "outputGross", r3(f->output_gross));
    else
        cJSON_AddNullToObject(o, "outputGross");
    cJSON_AddNumberToObject(o, "truckSales", r3(f->truck_sales));
    cJSON_AddNumberToObject(o, "trucks", f->trucks);
    cJSON_AddNumberToObject(o, "truckReceipts", r3(f->truck_receipts));
    cJSON_AddNumberToObject(o, "railSales", r3(f->rail_sales));
    if (f->has_inventory)
        cJSON_AddNumberToObject(o, "inventory", r3(f->inventory));
    else
        cJSON_AddNullToObject(o, "inventory");
    return o;
}

int intake_figures_json(sqlite3 *db, const intake_conf_t *c, int64_t at, const char *coal_type,
                        cJSON **out, char *err, size_t errlen)
{
    static const char *const names[] = {"shift", "day", "month", "quarter", "year"};
    cJSON *root = cJSON_CreateObject();
    tm_json_add(root, "at", at, TM_JSON_BJ);
    cJSON_AddStringToObject(root, "coalType", coal_type ? coal_type : "");
    int y, m, d, sh;
    tm_production_day(&c->plan, at, &y, &m, &d, &sh);
    char day[16];
    snprintf(day, sizeof day, "%04d-%02d-%02d", y, m, d);
    cJSON_AddStringToObject(root, "productionDay", day);
    cJSON_AddStringToObject(root, "shiftName", c->plan.names[sh]);
    for (int k = 0; k < 5; k++) {
        intake_figures_t f;
        int rc = intake_figures_get(db, c, (tm_period)k, at, coal_type, &f, err, errlen);
        if (rc) {
            cJSON_Delete(root);
            return rc;
        }
        cJSON *o = intake_figures_to_json(&f), *rep = NULL;
        cJSON_AddItemToObject(root, names[k], o);
        rc = reported(db, names[k], f.start, coal_type, &rep, err, errlen);
        if (rc) {
            cJSON_Delete(root);
            return rc;
        }
        /* Shown beside ours, never added in (ANA-4 compares the two). */
        cJSON_AddItemToObject(o, "reported", rep);
    }
    *out = root;
    return CM_OK;
}
