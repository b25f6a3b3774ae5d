/* Weighbridge tickets (ACQ-6): validation, versions, corrections, upload. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "intake/internal.h"

static int parse_ids(const cJSON *o, const intake_materials_t *m, intake_ticket_t *t,
                     intake_fault_t *f)
{
    char raw[64] = "", why[200];
    int rc = intake_get_str(o, "ticketId", true, t->ticket_id, sizeof t->ticket_id, f);
    if (!rc)
        rc = intake_get_str(o, "plate", true, raw, sizeof raw, f);
    if (!rc && intake_plate_normalize(raw, t->plate, sizeof t->plate))
        rc = intake_fault_set(f, "plate", "plate '%s' is too long", raw);
    if (!rc && intake_plate_check(t->plate, why, sizeof why))
        rc = intake_fault_set(f, "plate", "plate %s", why);
    if (!rc)
        rc = intake_get_str(o, "vehicleType", false, t->vehicle_type, sizeof t->vehicle_type, f);
    if (!rc)
        rc = intake_get_str(o, "material", true, raw, sizeof raw, f);
    const char *code = rc ? NULL : intake_material_code(m, raw);
    if (!rc && !code)
        rc = intake_fault_set(f, "material", "unknown material '%s' (a coal type, gangue or other)",
                              raw);
    if (!rc)
        snprintf(t->material, sizeof t->material, "%s", code);
    if (!rc)
        rc = intake_get_str(o, "direction", true, t->direction, sizeof t->direction, f);
    if (!rc && strcmp(t->direction, "out") && strcmp(t->direction, "in"))
        rc = intake_fault_set(f, "direction",
                              "direction must be \"out\" (sale) or \"in\" (receipt)");
    if (!rc)
        rc = intake_get_str(o, "operator", false, t->operator_name, sizeof t->operator_name, f);
    if (!rc)
        rc = intake_get_str(o, "contractId", false, t->contract_id, sizeof t->contract_id, f);
    if (!rc)
        rc = intake_get_str(o, "photoFront", false, t->photo_front, sizeof t->photo_front, f);
    if (!rc)
        rc = intake_get_str(o, "photoTop", false, t->photo_top, sizeof t->photo_top, f);
    if (!rc)
        rc = intake_get_str(o, "photoRear", false, t->photo_rear, sizeof t->photo_rear, f);
    return rc;
}

static int parse_times(const cJSON *o, const intake_conf_t *c, int64_t now, intake_ticket_t *t,
                       intake_fault_t *f)
{
    int rc = intake_get_time(o, "tareTime", true, &t->tare_time, f);
    if (!rc)
        rc = intake_get_time(o, "grossTime", true, &t->gross_time, f);
    if (rc)
        return rc;
    if (t->tare_time > now + c->future_skew_s)
        return intake_fault_set(f, "tareTime", "tareTime is in the future");
    if (t->gross_time > now + c->future_skew_s)
        return intake_fault_set(f, "grossTime", "grossTime is in the future");
    /* A sale arrives empty (tare) and leaves loaded (gross); a receipt the other way. */
    if (!strcmp(t->direction, "out") && t->gross_time <= t->tare_time)
        return intake_fault_set(
            f, "grossTime",
            "an outbound truck is weighed empty first: grossTime must be after tareTime");
    if (!strcmp(t->direction, "in") && t->tare_time <= t->gross_time)
        return intake_fault_set(
            f, "tareTime",
            "an inbound truck is weighed loaded first: tareTime must be after grossTime");
    return CM_OK;
}

static int parse_weights(const cJSON *o, const intake_conf_t *c, bool text_numbers,
                         intake_ticket_t *t, intake_fault_t *f)
{
    int rc =
        intake_get_str(o, "weighbridgeId", true, t->weighbridge_id, sizeof t->weighbridge_id, f);
    if (rc)
        return rc;
    double lo = c->min_t, hi = c->max_t;
    if (c->n_bridges > 0) {
        int i = 0;
        while (i < c->n_bridges && strcmp(c->bridges[i].id, t->weighbridge_id))
            i++;
        if (i == c->n_bridges)
            return intake_fault_set(f, "weighbridgeId", "unknown weighbridge '%s'",
                                    t->weighbridge_id);
        lo = c->bridges[i].min_t;
        hi = c->bridges[i].max_t;
    }
    rc = intake_get_num(o, "gross", true, text_numbers, -1e9, 1e9, &t->gross, f);
    if (!rc)
        rc = intake_get_num(o, "tare", true, text_numbers, -1e9, 1e9, &t->tare, f);
    if (!rc)
        rc = intake_get_num(o, "net", true, text_numbers, -1e9, 1e9, &t->net, f);
    if (rc)
        return rc;
    if (t->gross < lo || t->gross > hi)
        return intake_fault_set(f, "gross",
                                "gross %.3f t is outside the weighbridge's range %g..%g t",
                                t->gross, lo, hi);
    if (t->tare < lo || t->tare > hi)
        return intake_fault_set(
            f, "tare", "tare %.3f t is outside the weighbridge's range %g..%g t", t->tare, lo, hi);
    if (t->gross <= t->tare)
        return intake_fault_set(f, "gross", "gross %.3f t must exceed tare %.3f t", t->gross,
                                t->tare);
    double diff = t->gross - t->tare - t->net;
    if (fabs(diff) > c->net_tolerance_t + 1e-9)
        return intake_fault_set(f, "net",
                                "net %.3f t is not gross - tare = %.3f t (tolerance %g t)", t->net,
                                t->gross - t->tare, c->net_tolerance_t);
    return CM_OK;
}

int intake_ticket_parse(const cJSON *o, const intake_conf_t *c, const intake_materials_t *m,
                        int64_t now, bool text_numbers, intake_ticket_t *out, intake_fault_t *f)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(o))
        return intake_fault_set(f, "ticket", "a ticket must be a JSON object");
    int rc = parse_ids(o, m, out, f);
    if (!rc)
        rc = parse_times(o, c, now, out, f);
    if (!rc)
        rc = parse_weights(o, c, text_numbers, out, f);
    return rc;
}

/* ---- JSON forms --------------------------------------------------------- */

static void add_opt(cJSON *o, const char *key, const char *v)
{
    if (v[0])
        cJSON_AddStringToObject(o, key, v);
}

/* The ticket in API form: also what versions are compared by. */
static cJSON *ticket_json(const intake_ticket_t *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ticketId", t->ticket_id);
    cJSON_AddStringToObject(o, "plate", t->plate);
    add_opt(o, "vehicleType", t->vehicle_type);
    cJSON_AddStringToObject(o, "material", t->material);
    cJSON_AddStringToObject(o, "direction", t->direction);
    tm_json_add(o, "tareTime", t->tare_time, TM_JSON_BJ);
    tm_json_add(o, "grossTime", t->gross_time, TM_JSON_BJ);
    cJSON_AddNumberToObject(o, "gross", t->gross);
    cJSON_AddNumberToObject(o, "tare", t->tare);
    cJSON_AddNumberToObject(o, "net", t->net);
    cJSON_AddStringToObject(o, "weighbridgeId", t->weighbridge_id);
    add_opt(o, "operator", t->operator_name);
    add_opt(o, "contractId", t->contract_id);
    add_opt(o, "photoFront", t->photo_front);
    add_opt(o, "photoTop", t->photo_top);
    add_opt(o, "photoRear", t->photo_rear);
    return o;
}

/* uplink.md §3 weighTicket. */
static cJSON *ticket_record(const intake_ticket_t *t)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", t->ticket_id);
    cJSON_AddStringToObject(r, "plate", t->plate);
    cJSON_AddStringToObject(r, "material", t->material);
    tm_json_add(r, "tareTime", t->tare_time, TM_JSON_BJ);
    tm_json_add(r, "grossTime", t->gross_time, TM_JSON_BJ);
    cJSON_AddNumberToObject(r, "gross", t->gross);
    cJSON_AddNumberToObject(r, "tare", t->tare);
    cJSON_AddNumberToObject(r, "net", t->net);
    cJSON_AddStringToObject(r, "direction", t->direction);
    add_opt(r, "contractId", t->contract_id);
    char photos[400] = "";
    const char *p[3] = {t->photo_front, t->photo_top, t->photo_rear};
    for (int i = 0; i < 3; i++)
        if (p[i][0])
            snprintf(photos + strlen(photos), sizeof photos - strlen(photos), "%s%s",
                     photos[0] ? "," : "", p[i]);
    add_opt(r, "photos", photos);
    return r;
}

#define TICKET_COLS                                                                            \
    "ticket_id, plate, vehicle_type, material, direction, tare_time, gross_time, gross, tare," \
    " net, weighbridge_id, operator, contract_id, photo_front, photo_top, photo_rear"

static void col_copy(sqlite3_stmt *s, int col, char *out, size_t len)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(out, len, "%s", t ? (const char *)t : "");
}

static void row_ticket(sqlite3_stmt *s, intake_ticket_t *t)
{
    memset(t, 0, sizeof *t);
    col_copy(s, 0, t->ticket_id, sizeof t->ticket_id);
    col_copy(s, 1, t->plate, sizeof t->plate);
    col_copy(s, 2, t->vehicle_type, sizeof t->vehicle_type);
    col_copy(s, 3, t->material, sizeof t->material);
    col_copy(s, 4, t->direction, sizeof t->direction);
    t->tare_time = sqlite3_column_int64(s, 5);
    t->gross_time = sqlite3_column_int64(s, 6);
    t->gross = sqlite3_column_double(s, 7);
    t->tare = sqlite3_column_double(s, 8);
    t->net = sqlite3_column_double(s, 9);
    col_copy(s, 10, t->weighbridge_id, sizeof t->weighbridge_id);
    col_copy(s, 11, t->operator_name, sizeof t->operator_name);
    col_copy(s, 12, t->contract_id, sizeof t->contract_id);
    col_copy(s, 13, t->photo_front, sizeof t->photo_front);
    col_copy(s, 14, t->photo_top, sizeof t->photo_top);
    col_copy(s, 15, t->photo_rear, sizeof t->photo_rear);
}

/* Fields of b that differ from a: {"field": [old, new], ...}. */
static cJSON *diff(const cJSON *a, const cJSON *b)
{
    cJSON *d = cJSON_CreateObject();
    const cJSON *it;
    cJSON_ArrayForEach(it, b)
    {
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(a, it->string);
        if (!old || !cJSON_Compare(old, it, true)) {
            cJSON *pair = cJSON_AddArrayToObject(d, it->string);
            cJSON_AddItemToArray(pair, old ? cJSON_Duplicate(old, true) : cJSON_CreateNull());
            cJSON_AddItemToArray(pair, cJSON_Duplicate(it, true));
        }
    }
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_GetObjectItemCaseSensitive(b, it->string)) {
            cJSON *pair = cJSON_AddArrayToObject(d, it->string);
            cJSON_AddItemToArray(pair, cJSON_Duplicate(it, true));
            cJSON_AddItemToArray(pair, cJSON_CreateNull());
        }
    }
    return d;
}

/* ---- storing -------------------------------------------------------------- */

typedef struct put_job {
    const intake_ticket_t *t;
    size_t n;
    const char *source;
    intake_put_result_t res;
} put_job_t;

/* Latest stored version of id into *t; 0 when none. */
static int latest(sqlite3 *db, const char *id, intake_ticket_t *t, int *version, char *err,
                  size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT " TICKET_COLS ", version FROM weigh_ticket"
                               " WHERE ticket_id = ? ORDER BY version DESC LIMIT 1",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    *version = 0;
    if (store_next(s, &rc, err, errlen)) {
        row_ticket(s, t);
        *version = sqlite3_column_int(s, 16);
    }
    sqlite3_finalize(s);
    return rc;
}

static int insert_version(sqlite3 *db, const intake_ticket_t *t, int version, const char *source,
                          char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "INSERT INTO weigh_ticket(" TICKET_COLS ", version, source,"
                               " received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           &s, err, errlen);
    if (rc)
        return rc;
    const char *text[] = {t->ticket_id, t->plate, t->vehicle_type, t->material, t->direction};
    for (int i = 0; i < 5; i++)
        store_bind_text_or_null(s, i + 1, text[i]);
    sqlite3_bind_int64(s, 6, t->tare_time);
    sqlite3_bind_int64(s, 7, t->gross_time);
    sqlite3_bind_double(s, 8, t->gross);
    sqlite3_bind_double(s, 9, t->tare);
    sqlite3_bind_double(s, 10, t->net);
    const char *more[] = {t->weighbridge_id, t->operator_name, t->contract_id,
                          t->photo_front,    t->photo_top,     t->photo_rear};
    for (int i = 0; i < 6; i++)
        store_bind_text_or_null(s, 11 + i, more[i]);
    sqlite3_bind_int(s, 17, version);
    sqlite3_bind_text(s, 18, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 19, tm_now_s());
    return store_step_done(s, err, errlen);
}

static int put_one(sqlite3 *db, put_job_t *j, const intake_ticket_t *t, char *err, size_t errlen)
{
    intake_ticket_t old;
    int version;
    int rc = latest(db, t->ticket_id, &old, &version, err, errlen);
    if (rc)
        return rc;
    cJSON *now = ticket_json(t), *before = version ? ticket_json(&old) : NULL;
    bool same = before && cJSON_Compare(before, now, true);
    if (same) {
        j->res.unchanged++;
    } else {
        rc = insert_version(db, t, version + 1, j->source, err, errlen);
        if (!rc && before) {
            /* A correction: both versions stay; the change is audited (and so visible). */
            cJSON *d = diff(before, now);
            char *changes = cJSON_PrintUnformatted(d);
            char oldv[16], newv[16];
            snprintf(oldv, sizeof oldv, "v%d", version);
            snprintf(newv, sizeof newv, "v%d", version + 1);
            rc = store_audit(db, j->source, strncmp(j->source, "cli:", 4) ? "api" : "cli",
                             "ticket.correct", t->ticket_id, oldv, newv, changes, err, errlen);
            cJSON_free(changes);
            cJSON_Delete(d);
            j->res.corrected++;
        } else if (!rc) {
            j->res.created++;
        }
        if (!rc) {
            cJSON *rec = ticket_record(t);
            rc = store_outbox_put(db, "weighTicket", t->ticket_id, rec, true, err, errlen);
            cJSON_Delete(rec);
        }
    }
    cJSON_Delete(now);
    cJSON_Delete(before);
    return rc;
}

static int put_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    put_job_t *j = arg;
    memset(&j->res, 0, sizeof j->res);
    for (size_t i = 0; i < j->n; i++) {
        int rc = put_one(db, j, &j->t[i], err, errlen);
        if (rc)
            return rc;
    }
    return CM_OK;
}

int intake_tickets_put(store_t *st, const intake_ticket_t *t, size_t n, const char *source,
                       intake_put_result_t *res, char *err, size_t errlen)
{
    put_job_t j = {.t = t, .n = n, .source = source};
    int rc = store_write(st, put_job, &j, err, errlen);
    if (!rc && res)
        *res = j.res;
    return rc;
}

/* ---- reading ---------------------------------------------------------------- */

int intake_ticket_get(sqlite3 *db, const char *ticket_id, cJSON **out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT " TICKET_COLS ", version, source, received_at"
                               " FROM weigh_ticket WHERE ticket_id = ? ORDER BY version",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, ticket_id, -1, SQLITE_STATIC);
    cJSON *versions = cJSON_CreateArray(), *prev = NULL, *cur = NULL;
    while (!rc && store_next(s, &rc, err, errlen)) {
        intake_ticket_t t;
        row_ticket(s, &t);
        cJSON *v = cJSON_CreateObject();
        cJSON_AddNumberToObject(v, "version", sqlite3_column_int(s, 16));
        intake_add_col_text(v, "source", s, 17);
        tm_json_add(v, "receivedAt", sqlite3_column_int64(s, 18), TM_JSON_BJ);
        cJSON_Delete(prev);
        prev = cur;
        cur = ticket_json(&t);
        if (prev)
            cJSON_AddItemToObject(v, "changes", diff(prev, cur));
        cJSON_AddItemToObject(v, "ticket", cJSON_Duplicate(cur, true));
        cJSON_AddItemToArray(versions, v);
    }
    sqlite3_finalize(s);
    cJSON_Delete(prev);
    if (rc) {
        cJSON_Delete(cur);
        cJSON_Delete(versions);
        return rc;
    }
    if (!cur) {
        cJSON_Delete(versions);
        return cm_fail(err, errlen, CM_ERR_NOTFOUND, "no ticket '%s'", ticket_id);
    }
    cJSON_AddNumberToObject(cur, "version", cJSON_GetArraySize(versions));
    cJSON_AddItemToObject(cur, "versions", versions);
    *out = cur;
    return CM_OK;
}

int intake_ticket_list(sqlite3 *db, int64_t from, int64_t to, const char *plate, int limit,
                       cJSON **out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT " TICKET_COLS ", version FROM weigh_ticket_current"
                               " WHERE gross_time >= ? AND gross_time < ?"
                               " AND (?3 IS NULL OR instr(plate, ?3) > 0)"
                               " ORDER BY gross_time DESC, ticket_id LIMIT ?4",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    char norm[64] = "";
    if (plate)
        intake_plate_normalize(plate, norm, sizeof norm);
    store_bind_text_or_null(s, 3, norm);
    sqlite3_bind_int(s, 4, limit > 0 ? limit : 1000);
    cJSON *arr = cJSON_CreateArray();
    while (!rc && store_next(s, &rc, err, errlen)) {
        intake_ticket_t t;
        row_ticket(s, &t);
        cJSON *o = ticket_json(&t);
        cJSON_AddNumberToObject(o, "version", sqlite3_column_int(s, 16));
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
