/* Coal types, contracts, rail sales, stockpile surveys (ACQ-3). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake/internal.h"

int intake_materials_load(sqlite3 *db, intake_materials_t *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT code, name FROM coal_type ORDER BY code", &s, err, errlen);
    if (rc)
        return rc;
    while (!rc && m->n < INTAKE_MAX_MATERIALS - 2 && store_next(s, &rc, err, errlen)) {
        snprintf(m->code[m->n], sizeof m->code[0], "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(m->name[m->n], sizeof m->name[0], "%s", (const char *)sqlite3_column_text(s, 1));
        m->n++;
    }
    sqlite3_finalize(s);
    if (rc)
        return rc;
    snprintf(m->code[m->n], sizeof m->code[0], "gangue");
    snprintf(m->name[m->n++], sizeof m->name[0], "矸石");
    snprintf(m->code[m->n], sizeof m->code[0], "other");
    snprintf(m->name[m->n++], sizeof m->name[0], "其他");
    return CM_OK;
}

const char *intake_material_code(const intake_materials_t *m, const char *s)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->code[i], s) || !strcmp(m->name[i], s))
            return m->code[i];
    return NULL;
}

/* Is code a coal type (not gangue/other)? */
static int coal_type_known(sqlite3 *db, const char *code, bool *known, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT 1 FROM coal_type WHERE code = ?1 OR name = ?1", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_STATIC);
    *known = store_next(s, &rc, err, errlen);
    sqlite3_finalize(s);
    return rc;
}

/* The coal type's code for a code or name (in place). */
static int coal_type_field(sqlite3 *db, const cJSON *o, const char *key, bool required, char *code,
                           size_t len, intake_fault_t *f, char *err, size_t errlen)
{
    int rc = intake_get_str(o, key, required, code, len, f);
    if (rc || !code[0])
        return rc;
    bool known;
    rc = coal_type_known(db, code, &known, err, errlen);
    if (!rc && !known)
        return intake_fault_set(f, key, "unknown coal type '%s' (coalmon coal-type add)", code);
    sqlite3_stmt *s;
    if (!rc && !store_prepare(db, "SELECT code FROM coal_type WHERE code = ?1 OR name = ?1", &s,
                              err, errlen)) {
        sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
        if (store_next(s, &rc, err, errlen))
            snprintf(code, len, "%s", (const char *)sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
    }
    return rc;
}

typedef struct coal_job {
    const char *code, *name, *actor;
} coal_job_t;

static int coal_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    coal_job_t *j = arg;
    sqlite3_stmt *s;
    int rc = store_prepare(db, "INSERT INTO coal_type(code, name) VALUES (?, ?)"
                               " ON CONFLICT(code) DO UPDATE SET name = excluded.name",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, j->code, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, j->name, -1, SQLITE_STATIC);
    rc = store_step_done(s, err, errlen);
    return rc ? rc : store_audit(db, j->actor, "cli", "coal_type.set", j->code, NULL, j->name, NULL, err, errlen);
}

int intake_coal_type_put(store_t *st, const char *code, const char *name, const char *actor,
                         char *err, size_t errlen)
{
    size_t n = strlen(code);
    if (n == 0 || n > 31 || strspn(code, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
        return cm_fail(err, errlen, CM_ERR_INVALID, "code: 1..31 of a-z 0-9 _ -");
    if (!strcmp(code, "gangue") || !strcmp(code, "other"))
        return cm_fail(err, errlen, CM_ERR_INVALID, "code: '%s' is a material, not a coal type", code);
    if (!name[0] || strlen(name) > 63)
        return cm_fail(err, errlen, CM_ERR_INVALID, "name: 1..63 bytes");
    coal_job_t j = {code, name, actor};
    return store_write(st, coal_job, &j, err, errlen);
}

/* ---- contracts, rail batches, surveys ----------------------------------- */

typedef struct ledger_job {
    const char *kind;
    const cJSON *items;
    const char *source;
    int64_t now;
    int created;
    intake_fault_t *f;
} ledger_job_t;

static int put_contract(sqlite3 *db, ledger_job_t *j, const cJSON *o, char *err, size_t errlen)
{
    char id[64] = "", buyer[128] = "", coal[32] = "";
    double qty = 0;
    int64_t from = 0, to = 0;
    int rc = intake_get_str(o, "contractId", true, id, sizeof id, j->f);
    if (!rc)
        rc = intake_get_str(o, "buyer", true, buyer, sizeof buyer, j->f);
    if (!rc)
        rc = coal_type_field(db, o, "coalType", true, coal, sizeof coal, j->f, err, errlen);
    if (!rc)
        rc = intake_get_num(o, "quantity", true, false, 0.001, 1e9, &qty, j->f);
    if (!rc)
        rc = intake_get_time(o, "validFrom", false, &from, j->f);
    if (!rc)
        rc = intake_get_time(o, "validTo", false, &to, j->f);
    if (!rc && from && to && to <= from)
        rc = intake_fault_set(j->f, "validTo", "validTo must be after validFrom");
    if (rc)
        return rc;
    sqlite3_stmt *s;
    rc = store_prepare(db, "INSERT INTO contract(contract_id, buyer, coal_type, quantity, valid_from,"
                           " valid_to) VALUES (?,?,?,?,?,?) ON CONFLICT(contract_id) DO UPDATE SET"
                           " buyer = excluded.buyer, coal_type = excluded.coal_type,"
                           " quantity = excluded.quantity, valid_from = excluded.valid_from,"
                           " valid_to = excluded.valid_to",
                       &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, buyer, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, coal, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 4, qty);
    if (from)
        sqlite3_bind_int64(s, 5, from);
    if (to)
        sqlite3_bind_int64(s, 6, to);
    rc = store_step_done(s, err, errlen);
    char *nv = cJSON_PrintUnformatted(o);
    if (!rc)
        rc = store_audit(db, j->source, !strncmp(j->source, "cli:", 4) ? "cli" : !strcmp(j->source, "demo") ? "demo" : "api",
                         "contract.set", id, NULL, nv, NULL, err, errlen);
    cJSON_free(nv);
    j->created++;
    return rc;
}

/* INSERT OR IGNORE, then: inserted = created; ignored and same = fine;
 * ignored and different = conflict on field. */
static int insert_once(sqlite3 *db, ledger_job_t *j, sqlite3_stmt *ins, const char *same_sql,
                       void (*bind_same)(sqlite3_stmt *, const void *), const void *arg,
                       const char *field, char *err, size_t errlen)
{
    int rc = store_step_done(ins, err, errlen);
    if (rc)
        return rc;
    if (sqlite3_changes(db) == 1) {
        j->created++;
        return CM_OK;
    }
    sqlite3_stmt *s;
    rc = store_prepare(db, same_sql, &s, err, errlen);
    if (rc)
        return rc;
    bind_same(s, arg);
    bool same = store_next(s, &rc, err, errlen);
    sqlite3_finalize(s);
    if (rc)
        return rc;
    if (same)
        return CM_OK;
    intake_fault_set(j->f, field,
                     "%s exists with other values (a stored record is not overwritten)", field);
    return CM_ERR_CONFLICT;
}

typedef struct rail {
    char id[64], train[32], coal[32], contract[64];
    double wagons, tons;
    int64_t at;
} rail_t;

static void bind_rail(sqlite3_stmt *s, const void *arg)
{
    const rail_t *r = arg;
    sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
    store_bind_text_or_null(s, 2, r->train);
    sqlite3_bind_int(s, 3, (int)r->wagons);
    sqlite3_bind_text(s, 4, r->coal, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 5, r->tons);
    sqlite3_bind_int64(s, 6, r->at);
    store_bind_text_or_null(s, 7, r->contract);
}

static int put_rail(sqlite3 *db, ledger_job_t *j, const cJSON *o, char *err, size_t errlen)
{
    rail_t r = {0};
    int rc = intake_get_str(o, "batchId", true, r.id, sizeof r.id, j->f);
    if (!rc)
        rc = intake_get_str(o, "trainNo", false, r.train, sizeof r.train, j->f);
    if (!rc)
        rc = intake_get_num(o, "wagons", true, false, 1, 200, &r.wagons, j->f);
    if (!rc && r.wagons != (int)r.wagons)
        rc = intake_fault_set(j->f, "wagons", "wagons must be a whole number");
    if (!rc)
        rc = coal_type_field(db, o, "coalType", true, r.coal, sizeof r.coal, j->f, err, errlen);
    if (!rc)
        rc = intake_get_num(o, "tons", true, false, 0.001, 200000, &r.tons, j->f);
    if (!rc && r.tons > r.wagons * 100)
        rc = intake_fault_set(j->f, "tons", "%.1f t is more than %d wagons carry", r.tons,
                              (int)r.wagons);
    if (!rc)
        rc = intake_get_time(o, "loadedAt", true, &r.at, j->f);
    if (!rc && r.at > j->now + 120)
        rc = intake_fault_set(j->f, "loadedAt", "loadedAt is in the future");
    if (!rc)
        rc = intake_get_str(o, "contractId", false, r.contract, sizeof r.contract, j->f);
    sqlite3_stmt *s;
    if (!rc)
        rc = store_prepare(db, "INSERT OR IGNORE INTO rail_sale(batch_id, train_no, wagons, coal_type,"
                               " tons, loaded_at, contract_id, source) VALUES (?,?,?,?,?,?,?,?)",
                           &s, err, errlen);
    if (rc)
        return rc;
    bind_rail(s, &r);
    sqlite3_bind_text(s, 8, j->source, -1, SQLITE_STATIC);
    return insert_once(db, j, s,
                       "SELECT 1 FROM rail_sale WHERE batch_id = ?1 AND coalesce(train_no, '') ="
                       " coalesce(?2, '') AND wagons = ?3 AND coal_type = ?4 AND tons = ?5 AND"
                       " loaded_at = ?6 AND coalesce(contract_id, '') = coalesce(?7, '')",
                       bind_rail, &r, "batchId", err, errlen);
}

typedef struct survey {
    char pile[64], coal[32], surveyor[64];
    double tons;
    int64_t at;
} survey_t;

static void bind_survey(sqlite3_stmt *s, const void *arg)
{
    const survey_t *v = arg;
    sqlite3_bind_int64(s, 1, v->at);
    sqlite3_bind_text(s, 2, v->pile, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, v->coal, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 4, v->tons);
}

static int put_survey(sqlite3 *db, ledger_job_t *j, const cJSON *o, char *err, size_t errlen)
{
    survey_t v = {0};
    int rc = intake_get_time(o, "surveyedAt", true, &v.at, j->f);
    if (!rc && v.at > j->now + 120)
        rc = intake_fault_set(j->f, "surveyedAt", "surveyedAt is in the future");
    if (!rc)
        rc = intake_get_str(o, "stockpile", true, v.pile, sizeof v.pile, j->f);
    if (!rc)
        rc = coal_type_field(db, o, "coalType", true, v.coal, sizeof v.coal, j->f, err, errlen);
    if (!rc)
        rc = intake_get_num(o, "tons", true, false, 0, 1e8, &v.tons, j->f);
    if (!rc)
        rc = intake_get_str(o, "surveyor", false, v.surveyor, sizeof v.surveyor, j->f);
    sqlite3_stmt *s;
    if (!rc)
        rc = store_prepare(db, "INSERT OR IGNORE INTO inventory_survey(surveyed_at, stockpile,"
                               " coal_type, tons, surveyor, source) VALUES (?,?,?,?,?,?)",
                           &s, err, errlen);
    if (rc)
        return rc;
    bind_survey(s, &v);
    store_bind_text_or_null(s, 5, v.surveyor);
    sqlite3_bind_text(s, 6, j->source, -1, SQLITE_STATIC);
    return insert_once(db, j, s,
                       "SELECT 1 FROM inventory_survey WHERE surveyed_at = ?1 AND stockpile = ?2"
                       " AND coal_type = ?3 AND tons = ?4",
                       bind_survey, &v, "tons", err, errlen);
}

static int ledger_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    ledger_job_t *j = arg;
    j->created = 0;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j->items)
    {
        j->f->index = i++;
        j->f->field[0] = '\0';
        int rc;
        if (!cJSON_IsObject(it))
            rc = intake_fault_set(j->f, j->kind, "each %s must be a JSON object", j->kind);
        else if (!strcmp(j->kind, "contract"))
            rc = put_contract(db, j, it, err, errlen);
        else if (!strcmp(j->kind, "rail"))
            rc = put_rail(db, j, it, err, errlen);
        else
            rc = put_survey(db, j, it, err, errlen);
        if ((rc == CM_ERR_INVALID || rc == CM_ERR_CONFLICT) && j->f->field[0])
            return cm_fail(err, errlen, rc, "%s", j->f->msg);
        if (rc)
            return rc;
    }
    return CM_OK;
}

int intake_ledger_put(store_t *st, const char *kind, const cJSON *items, const char *source,
                      int64_t now, int *created, intake_fault_t *f, char *err, size_t errlen)
{
    intake_fault_t dummy;
    if (strcmp(kind, "contract") && strcmp(kind, "rail") && strcmp(kind, "survey"))
        return cm_fail(err, errlen, CM_ERR_INVALID, "unknown ledger kind '%s'", kind);
    cJSON *wrap = NULL;
    if (cJSON_IsObject(items)) { /* one record: a batch of one */
        wrap = cJSON_CreateArray();
        cJSON_AddItemReferenceToArray(wrap, (cJSON *)items);
        items = wrap;
    }
    int rc;
    if (!cJSON_IsArray(items) || cJSON_GetArraySize(items) == 0) {
        rc = cm_fail(err, errlen, CM_ERR_INVALID, "expected an object or a non-empty list");
    } else {
        ledger_job_t j = {kind, items, source, now, 0, f ? f : &dummy};
        rc = store_write(st, ledger_job, &j, err, errlen);
        if (!rc && created)
            *created = j.created;
    }
    cJSON_Delete(wrap);
    return rc;
}
