/* RPT-2 reports: output summary and detail, material summary, outbound
 * summary, vehicle in/out summary; as a column/row table, JSON or CSV. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake/internal.h"

#define REPORT_MAX_DAYS 400

static cJSON *new_report(const char *kind, int64_t from, int64_t to, const char *const *cols)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "report", kind);
    tm_json_add(r, "from", from, TM_JSON_BJ);
    tm_json_add(r, "to", to, TM_JSON_BJ);
    cJSON *c = cJSON_AddArrayToObject(r, "columns");
    for (int i = 0; cols[i]; i++)
        cJSON_AddItemToArray(c, cJSON_CreateString(cols[i]));
    cJSON_AddArrayToObject(r, "rows");
    return r;
}

static cJSON *rows_of(cJSON *r) { return cJSON_GetObjectItemCaseSensitive(r, "rows"); }

static void day_label(const intake_conf_t *c, int64_t at, char *buf, size_t len)
{
    int y, m, d, sh;
    tm_production_day(&c->plan, at, &y, &m, &d, &sh);
    snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}

static cJSON *num_or_null(double v, bool has)
{
    return has ? cJSON_CreateNumber((double)(long long)(v * 1000 + 0.5) / 1000) : cJSON_CreateNull();
}

static int output_rows(sqlite3 *db, const intake_conf_t *c, cJSON *rows, tm_period kind,
                       int64_t from, int64_t to, char *err, size_t errlen)
{
    int64_t s, e;
    tm_period_bounds(&c->plan, kind, from, &s, &e);
    int most = kind == TM_SHIFT ? REPORT_MAX_DAYS * c->plan.count : REPORT_MAX_DAYS;
    for (int guard = 0; s < to; guard++) {
        if (guard >= most)
            return cm_fail(err, errlen, CM_ERR_INVALID, "to: at most %d days per report",
                           REPORT_MAX_DAYS);
        intake_figures_t f;
        int rc = intake_figures_get(db, c, kind, s, NULL, &f, err, errlen);
        if (rc)
            return rc;
        char day[16], t0[32], t1[32];
        day_label(c, s, day, sizeof day);
        cJSON *row = cJSON_CreateArray();
        cJSON_AddItemToArray(row, cJSON_CreateString(day));
        if (kind == TM_SHIFT) {
            int y, m, d, sh;
            tm_production_day(&c->plan, s, &y, &m, &d, &sh);
            tm_format_bj(f.start, t0, sizeof t0);
            tm_format_bj(f.end, t1, sizeof t1);
            cJSON_AddItemToArray(row, cJSON_CreateString(c->plan.names[sh]));
            cJSON_AddItemToArray(row, cJSON_CreateString(t0));
            cJSON_AddItemToArray(row, cJSON_CreateString(t1));
        }
        cJSON_AddItemToArray(row, num_or_null(f.output_raw, true));
        cJSON_AddItemToArray(row, num_or_null(f.output_gross, f.has_coefficient));
        if (kind == TM_DAY) {
            cJSON_AddItemToArray(row, cJSON_CreateNumber(f.trucks));
            cJSON_AddItemToArray(row, num_or_null(f.truck_sales, true));
            cJSON_AddItemToArray(row, num_or_null(f.rail_sales, true));
            cJSON_AddItemToArray(row, num_or_null(f.inventory, f.has_inventory));
        }
        cJSON_AddItemToArray(rows, row);
        s = f.end;
    }
    return CM_OK;
}

/* Rows straight from a grouped query; column types: s text, n number. */
static int query_rows(sqlite3 *db, const char *sql, const char *types, int64_t from, int64_t to,
                      cJSON *rows, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, sql, &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *row = cJSON_CreateArray();
        for (int i = 0; types[i]; i++) {
            if (sqlite3_column_type(s, i) == SQLITE_NULL)
                cJSON_AddItemToArray(row, cJSON_CreateNull());
            else if (types[i] == 'n')
                cJSON_AddItemToArray(row, num_or_null(sqlite3_column_double(s, i), true));
            else
                cJSON_AddItemToArray(row,
                                     cJSON_CreateString((const char *)sqlite3_column_text(s, i)));
        }
        cJSON_AddItemToArray(rows, row);
    }
    sqlite3_finalize(s);
    return rc;
}

static const char *const material_sql =
    "SELECT t.material, coalesce(k.name, CASE t.material WHEN 'gangue' THEN '矸石' ELSE '其他' END),"
    " t.direction, count(*), sum(t.net), sum(t.gross), sum(t.tare)"
    " FROM weigh_ticket_current t LEFT JOIN coal_type k ON k.code = t.material"
    " WHERE t.gross_time >= ?1 AND t.gross_time < ?2 GROUP BY t.material, t.direction"
    " ORDER BY t.direction DESC, t.material";

static const char *const outbound_sql =
    "SELECT 'truck', t.material, coalesce(t.contract_id, ''), coalesce(c.buyer, ''), count(*),"
    " sum(t.net) FROM weigh_ticket_current t LEFT JOIN contract c ON c.contract_id = t.contract_id"
    " WHERE t.direction = 'out' AND t.gross_time >= ?1 AND t.gross_time < ?2"
    " GROUP BY t.material, t.contract_id"
    " UNION ALL SELECT 'rail', r.coal_type, coalesce(r.contract_id, ''), coalesce(c.buyer, ''),"
    " sum(r.wagons), sum(r.tons) FROM rail_sale r LEFT JOIN contract c ON c.contract_id = r.contract_id"
    " WHERE r.loaded_at >= ?1 AND r.loaded_at < ?2 GROUP BY r.coal_type, r.contract_id"
    " ORDER BY 1 DESC, 2, 3";

/* Per production day: each exit point's captures, then the weighbridge. */
static int vehicle_rows(sqlite3 *db, const intake_conf_t *c, cJSON *rows, int64_t from,
                        int64_t to, char *err, size_t errlen)
{
    int64_t s, e;
    tm_period_bounds(&c->plan, TM_DAY, from, &s, &e);
    for (int n = 0; s < to; n++, s = e, e += 86400) {
        if (n >= REPORT_MAX_DAYS)
            return cm_fail(err, errlen, CM_ERR_INVALID, "to: at most %d days per report",
                           REPORT_MAX_DAYS);
        char day[16];
        day_label(c, s, day, sizeof day);
        cJSON *part = cJSON_CreateArray();
        int rc = query_rows(db,
                            "SELECT p.code, p.name, sum(x.direction = 'in'), sum(x.direction = 'out'),"
                            " sum(x.load = 'loaded'), sum(x.load = 'empty'), sum(x.state = 'matched'),"
                            " sum(x.state = 'escape'), sum(x.state = 'unverified'),"
                            " sum(x.state = 'pending')"
                            " FROM exit_capture x JOIN exit_point p ON p.code = x.point_code"
                            " WHERE x.capture_time >= ?1 AND x.capture_time < ?2"
                            " GROUP BY p.code ORDER BY p.code",
                            "ssnnnnnnnn", s, e, part, err, errlen);
        if (!rc)
            rc = query_rows(db,
                            "SELECT 'weighbridge', '地磅', sum(direction = 'in'),"
                            " sum(direction = 'out'), NULL, NULL, NULL, NULL, NULL, NULL"
                            " FROM weigh_ticket_current WHERE gross_time >= ?1 AND gross_time < ?2"
                            " HAVING count(*) > 0",
                            "ssnnnnnnnn", s, e, part, err, errlen);
        cJSON *row;
        cJSON_ArrayForEach(row, part) cJSON_InsertItemInArray(row, 0, cJSON_CreateString(day));
        while (!rc && cJSON_GetArraySize(part) > 0)
            cJSON_AddItemToArray(rows, cJSON_DetachItemFromArray(part, 0));
        cJSON_Delete(part);
        if (rc)
            return rc;
    }
    return CM_OK;
}

int intake_report(sqlite3 *db, const intake_conf_t *c, const char *kind, int64_t from,
                  int64_t to, cJSON **out, char *err, size_t errlen)
{
    static const char *const summary[] = {"date", "outputRaw", "outputGross", "trucksOut",
                                          "truckSales", "railSales", "inventory", NULL};
    static const char *const detail[] = {"date", "shift", "start", "end", "outputRaw",
                                         "outputGross", NULL};
    static const char *const material[] = {"material", "materialName", "direction", "vehicles",
                                           "net", "gross", "tare", NULL};
    static const char *const outbound[] = {"mode", "coalType", "contractId", "buyer",
                                           "vehicles", "net", NULL};
    static const char *const vehicles[] = {"date", "pointId", "pointName", "in", "out",
                                           "loaded", "empty", "matched", "escapes",
                                           "unverified", "pending", NULL};
    if (to <= from)
        return cm_fail(err, errlen, CM_ERR_INVALID, "to: must be after from");
    if (to - from > (int64_t)REPORT_MAX_DAYS * 86400)
        return cm_fail(err, errlen, CM_ERR_INVALID, "to: at most %d days per report", REPORT_MAX_DAYS);
    cJSON *r;
    int rc;
    if (!strcmp(kind, "output-summary")) {
        r = new_report(kind, from, to, summary);
        rc = output_rows(db, c, rows_of(r), TM_DAY, from, to, err, errlen);
    } else if (!strcmp(kind, "output-detail")) {
        r = new_report(kind, from, to, detail);
        rc = output_rows(db, c, rows_of(r), TM_SHIFT, from, to, err, errlen);
    } else if (!strcmp(kind, "material")) {
        r = new_report(kind, from, to, material);
        rc = query_rows(db, material_sql, "sssnnnn", from, to, rows_of(r), err, errlen);
    } else if (!strcmp(kind, "outbound")) {
        r = new_report(kind, from, to, outbound);
        rc = query_rows(db, outbound_sql, "ssssnn", from, to, rows_of(r), err, errlen);
    } else if (!strcmp(kind, "vehicles")) {
        r = new_report(kind, from, to, vehicles);
        rc = vehicle_rows(db, c, rows_of(r), from, to, err, errlen);
    } else {
        return cm_fail(err, errlen, CM_ERR_INVALID,
                       "report: one of output-summary, output-detail, material, outbound, vehicles");
    }
    if (rc) {
        cJSON_Delete(r);
        return rc;
    }
    *out = r;
    return CM_OK;
}

static void cell_text(const cJSON *v, char *buf, size_t len)
{
    if (cJSON_IsString(v))
        snprintf(buf, len, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(buf, len, "%.15g", v->valuedouble);
    else
        buf[0] = '\0';
}

char *intake_report_csv(const cJSON *report, size_t *len)
{
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(report, "columns");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(report, "rows");
    char *buf = NULL, cell[512];
    size_t n = 0, cap = 0;
    /* A BOM so that spreadsheet programs on Chinese Windows read UTF-8. */
    if (intake_csv_append(&buf, &n, &cap, "\xEF\xBB\xBF", false))
        return NULL;
    n -= 1; /* the BOM is not a field: drop its separator */
    int nc = cJSON_GetArraySize(cols), i = 0;
    const cJSON *it, *row;
    cJSON_ArrayForEach(it, cols)
    {
        if (intake_csv_append(&buf, &n, &cap, it->valuestring, ++i == nc)) {
            free(buf);
            return NULL;
        }
    }
    cJSON_ArrayForEach(row, rows)
    {
        i = 0;
        cJSON_ArrayForEach(it, row)
        {
            cell_text(it, cell, sizeof cell);
            if (intake_csv_append(&buf, &n, &cap, cell, ++i == nc)) {
                free(buf);
                return NULL;
            }
        }
    }
    *len = n;
    return buf;
}

cJSON *intake_report_objects(const cJSON *report)
{
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(report, "columns");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(report, "rows");
    cJSON *arr = cJSON_CreateArray(), *row;
    cJSON_ArrayForEach(row, rows)
    {
        cJSON *o = cJSON_CreateObject();
        for (int i = 0; i < cJSON_GetArraySize(cols); i++)
            cJSON_AddItemToObject(o, cJSON_GetArrayItem(cols, i)->valuestring,
                                  cJSON_Duplicate(cJSON_GetArrayItem(row, i), true));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}
