/* The mine's own production-transport-sales figures (a separate source, for
 * ANA-4), and listings of the ledger tables. */
#include <stdio.h>
#include <string.h>

#include "intake/internal.h"

typedef struct pts {
    char period[12], shift[32], coal[32];
    int64_t start;
    double v[4]; /* output, truckSales, railSales, inventory */
} pts_t;

static const char *const pts_keys[4] = {"output", "truckSales", "railSales", "inventory"};

static int pts_parse(const cJSON *o, const intake_conf_t *c, int64_t now, pts_t *p,
                     intake_fault_t *f)
{
    memset(p, 0, sizeof *p);
    char date[16] = "";
    tm_period kind;
    int64_t d0, start, end;
    int rc = intake_get_str(o, "period", true, p->period, sizeof p->period, f);
    if (!rc && tm_period_parse(p->period, &kind))
        rc = intake_fault_set(f, "period", "period must be shift, day, month, quarter or year");
    if (!rc)
        rc = intake_get_str(o, "date", true, date, sizeof date, f);
    if (!rc && (strlen(date) != 10 || tm_parse_bj(date, &d0)))
        rc = intake_fault_set(f, "date", "date must be \"yyyy-MM-dd\" (the production day)");
    if (!rc)
        rc = intake_get_str(o, "shift", kind == TM_SHIFT, p->shift, sizeof p->shift, f);
    if (rc)
        return rc;
    /* One second into production day `date` (the day may start the evening before). */
    int64_t at = d0 + (int64_t)c->plan.day_start_min * 60 + 1;
    if (kind == TM_SHIFT) {
        int i = 0;
        while (i < c->plan.count && strcmp(c->plan.names[i], p->shift))
            i++;
        if (i == c->plan.count)
            return intake_fault_set(f, "shift", "unknown shift '%s'", p->shift);
        at += (int64_t)i * (86400 / c->plan.count);
    } else if (p->shift[0]) {
        return intake_fault_set(f, "shift", "shift is only for period \"shift\"");
    }
    tm_period_bounds(&c->plan, kind, at, &start, &end);
    if (start > now)
        return intake_fault_set(f, "date", "the period has not begun");
    p->start = start;
    rc = intake_get_str(o, "coalType", false, p->coal, sizeof p->coal, f);
    for (int i = 0; i < 4 && !rc; i++)
        rc = intake_get_num(o, pts_keys[i], true, false, 0, 1e9, &p->v[i], f);
    return rc;
}

typedef struct pts_job {
    const cJSON *items;
    const intake_conf_t *c;
    const char *source;
    int64_t now;
    intake_put_result_t res;
    intake_fault_t *f;
} pts_job_t;

static int pts_one(sqlite3 *db, pts_job_t *j, const pts_t *p, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT version, output, truck_sales, rail_sales, inventory"
                               " FROM pts_summary WHERE period = ? AND period_start = ?"
                               " AND coal_type = ? ORDER BY version DESC LIMIT 1",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, p->period, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, p->start);
    sqlite3_bind_text(s, 3, p->coal, -1, SQLITE_STATIC);
    int version = 0;
    bool same = false;
    if (store_next(s, &rc, err, errlen)) {
        version = sqlite3_column_int(s, 0);
        same = true;
        for (int i = 0; i < 4; i++)
            same = same && sqlite3_column_double(s, i + 1) == p->v[i];
    }
    sqlite3_finalize(s);
    if (rc)
        return rc;
    if (same) {
        j->res.unchanged++;
        return CM_OK;
    }
    rc = store_prepare(db, "INSERT INTO pts_summary(period, period_start, shift, coal_type, version,"
                           " output, truck_sales, rail_sales, inventory, source, received_at)"
                           " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, p->period, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, p->start);
    sqlite3_bind_text(s, 3, p->shift, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, p->coal, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, version + 1);
    for (int i = 0; i < 4; i++)
        sqlite3_bind_double(s, 6 + i, p->v[i]);
    sqlite3_bind_text(s, 10, j->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 11, j->now);
    rc = store_step_done(s, err, errlen);
    if (version)
        j->res.corrected++;
    else
        j->res.created++;
    return rc;
}

static int pts_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    pts_job_t *j = arg;
    memset(&j->res, 0, sizeof j->res);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j->items)
    {
        pts_t p;
        j->f->index = i++;
        int rc = cJSON_IsObject(it)
                     ? pts_parse(it, j->c, j->now, &p, j->f)
                     : intake_fault_set(j->f, "summary", "each summary must be a JSON object");
        if (!rc && p.coal[0]) {
            intake_materials_t m;
            rc = intake_materials_load(db, &m, err, errlen);
            const char *code = rc ? NULL : intake_material_code(&m, p.coal);
            if (!rc && (!code || !strcmp(code, "gangue") || !strcmp(code, "other")))
                rc = intake_fault_set(j->f, "coalType", "unknown coal type '%s'", p.coal);
            else if (!rc)
                snprintf(p.coal, sizeof p.coal, "%s", code);
        }
        if (rc == CM_ERR_INVALID)
            return cm_fail(err, errlen, rc, "%s", j->f->msg);
        if (!rc)
            rc = pts_one(db, j, &p, err, errlen);
        if (rc)
            return rc;
    }
    return CM_OK;
}

int intake_pts_put(store_t *st, const cJSON *items, const intake_conf_t *c, const char *source,
                   intake_put_result_t *res, intake_fault_t *f, char *err, size_t errlen)
{
    intake_fault_t dummy;
    cJSON *wrap = NULL;
    if (cJSON_IsObject(items)) {
        wrap = cJSON_CreateArray();
        cJSON_AddItemReferenceToArray(wrap, (cJSON *)items);
        items = wrap;
    }
    int rc;
    if (!cJSON_IsArray(items) || cJSON_GetArraySize(items) == 0) {
        rc = cm_fail(err, errlen, CM_ERR_INVALID, "expected an object or a non-empty list");
    } else {
        pts_job_t j = {.items = items, .c = c, .source = source, .now = tm_now_s(), .f = f ? f : &dummy};
        j.f->field[0] = '\0';
        rc = store_write(st, pts_job, &j, err, errlen);
        if (!rc && res)
            *res = j.res;
    }
    cJSON_Delete(wrap);
    return rc;
}

int intake_pts_list(sqlite3 *db, int64_t from, int64_t to, cJSON **out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT period, period_start, shift, coal_type, version, output,"
                               " truck_sales, rail_sales, inventory, source, received_at"
                               " FROM pts_summary p WHERE period_start >= ? AND period_start < ?"
                               " AND version = (SELECT max(version) FROM pts_summary q WHERE"
                               " q.period = p.period AND q.period_start = p.period_start AND"
                               " q.coal_type = p.coal_type)"
                               " ORDER BY period_start, period, coal_type",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    cJSON *arr = cJSON_CreateArray();
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *o = cJSON_CreateObject();
        intake_add_col_text(o, "period", s, 0);
        tm_json_add(o, "periodStart", sqlite3_column_int64(s, 1), TM_JSON_BJ);
        intake_add_col_text(o, "shift", s, 2);
        intake_add_col_text(o, "coalType", s, 3);
        cJSON_AddNumberToObject(o, "version", sqlite3_column_int(s, 4));
        for (int i = 0; i < 4; i++)
            cJSON_AddNumberToObject(o, pts_keys[i], sqlite3_column_double(s, 5 + i));
        intake_add_col_text(o, "source", s, 9);
        tm_json_add(o, "receivedAt", sqlite3_column_int64(s, 10), TM_JSON_BJ);
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return CM_OK;
}

/* ---- listings -------------------------------------------------------------- */

typedef struct listing {
    const char *kind, *sql;
    const char *keys[8];
    char types[9]; /* per column: s text, n number, t time, i integer */
    bool ranged;
} listing_t;

static const listing_t listings[] = {
    {"coal_type", "SELECT code, name FROM coal_type ORDER BY code", {"code", "name"}, "ss", false},
    {"contract",
     "SELECT contract_id, buyer, coal_type, quantity, valid_from, valid_to,"
     " (SELECT coalesce(sum(net), 0) FROM weigh_ticket_current t WHERE t.contract_id ="
     " c.contract_id AND t.direction = 'out')"
     " + (SELECT coalesce(sum(tons), 0) FROM rail_sale r WHERE r.contract_id = c.contract_id)"
     " FROM contract c ORDER BY contract_id",
     {"contractId", "buyer", "coalType", "quantity", "validFrom", "validTo", "delivered"},
     "sssnttn", false},
    {"rail",
     "SELECT batch_id, train_no, wagons, coal_type, tons, loaded_at, contract_id, source"
     " FROM rail_sale WHERE loaded_at >= ? AND loaded_at < ? ORDER BY loaded_at",
     {"batchId", "trainNo", "wagons", "coalType", "tons", "loadedAt", "contractId", "source"},
     "ssisntss", true},
    {"survey",
     "SELECT surveyed_at, stockpile, coal_type, tons, surveyor, source FROM inventory_survey"
     " WHERE surveyed_at >= ? AND surveyed_at < ? ORDER BY surveyed_at, stockpile",
     {"surveyedAt", "stockpile", "coalType", "tons", "surveyor", "source"}, "tssnss", true},
};

int intake_ledger_list(sqlite3 *db, const char *kind, int64_t from, int64_t to, cJSON **out,
                       char *err, size_t errlen)
{
    const listing_t *l = NULL;
    for (size_t i = 0; i < sizeof listings / sizeof listings[0]; i++)
        if (!strcmp(listings[i].kind, kind))
            l = &listings[i];
    if (!l)
        return cm_fail(err, errlen, CM_ERR_INVALID, "unknown list '%s'", kind);
    sqlite3_stmt *s;
    int rc = store_prepare(db, l->sql, &s, err, errlen);
    if (rc)
        return rc;
    if (l->ranged) {
        sqlite3_bind_int64(s, 1, from);
        sqlite3_bind_int64(s, 2, to);
    }
    cJSON *arr = cJSON_CreateArray();
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *o = cJSON_CreateObject();
        for (int c = 0; l->types[c]; c++) {
            if (sqlite3_column_type(s, c) == SQLITE_NULL)
                cJSON_AddNullToObject(o, l->keys[c]);
            else if (l->types[c] == 't')
                tm_json_add(o, l->keys[c], sqlite3_column_int64(s, c), TM_JSON_BJ);
            else if (l->types[c] == 'n' || l->types[c] == 'i')
                cJSON_AddNumberToObject(o, l->keys[c], sqlite3_column_double(s, c));
            else
                intake_add_col_text(o, l->keys[c], s, c);
        }
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(s);
    if (rc) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return CM_OK;
}
