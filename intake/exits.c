/* Exit capture points and captures (ESC-1, ESC-2). Matching is in match.c. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake/internal.h"

int intake_point_parse(const cJSON *o, intake_point_t *p, intake_fault_t *f)
{
    memset(p, 0, sizeof *p);
    if (!cJSON_IsObject(o))
        return intake_fault_set(f, "point", "a capture point must be a JSON object");
    int rc = intake_get_str(o, "code", true, p->code, sizeof p->code, f);
    if (!rc)
        rc = intake_get_str(o, "name", true, p->name, sizeof p->name, f);
    if (!rc)
        rc = intake_get_str(o, "location", false, p->location, sizeof p->location, f);
    if (!rc)
        rc = intake_get_str(o, "cameraIp", false, p->camera_ip, sizeof p->camera_ip, f);
    unsigned char buf[16];
    if (!rc && p->camera_ip[0] && inet_pton(AF_INET, p->camera_ip, buf) != 1 &&
        inet_pton(AF_INET6, p->camera_ip, buf) != 1)
        rc = intake_fault_set(f, "cameraIp", "cameraIp '%s' is not an IP address", p->camera_ip);
    if (!rc)
        rc = intake_get_str(o, "direction", false, p->direction, sizeof p->direction, f);
    if (!rc && !p->direction[0])
        snprintf(p->direction, sizeof p->direction, "out");
    if (!rc && strcmp(p->direction, "out") && strcmp(p->direction, "in") &&
        strcmp(p->direction, "both"))
        rc = intake_fault_set(f, "direction", "direction must be out, in or both");
    return rc;
}

static cJSON *point_json(const intake_point_t *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "code", p->code);
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON_AddStringToObject(o, "location", p->location);
    cJSON_AddStringToObject(o, "cameraIp", p->camera_ip);
    cJSON_AddStringToObject(o, "direction", p->direction);
    return o;
}

typedef struct point_job {
    const intake_point_t *p;
    const char *actor, *channel;
} point_job_t;

static int point_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    point_job_t *j = arg;
    const intake_point_t *p = j->p;
    sqlite3_stmt *s;
    char *old = NULL;
    int rc = store_prepare(db, "SELECT json_object('code', code, 'name', name, 'location',"
                               " coalesce(location, ''), 'cameraIp', coalesce(camera_ip, ''),"
                               " 'direction', direction) FROM exit_point WHERE code = ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, p->code, -1, SQLITE_STATIC);
    if (store_next(s, &rc, err, errlen))
        old = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (rc)
        return rc;
    rc = store_prepare(db, "INSERT INTO exit_point(code, name, location, camera_ip, direction)"
                           " VALUES (?, ?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET"
                           " name = excluded.name, location = excluded.location,"
                           " camera_ip = excluded.camera_ip, direction = excluded.direction",
                       &s, err, errlen);
    if (!rc) {
        const char *v[] = {p->code, p->name, p->location, p->camera_ip, p->direction};
        for (int i = 0; i < 5; i++)
            store_bind_text_or_null(s, i + 1, v[i]);
        rc = store_step_done(s, err, errlen);
    }
    cJSON *now = point_json(p);
    char *nv = cJSON_PrintUnformatted(now);
    /* Setting a point to what it already is changes no parameter: no audit, no ALM-5. */
    if (!rc && (!old || !nv || strcmp(old, nv) != 0))
        rc = store_audit(db, j->actor, j->channel, "exit_point.set", p->code, old, nv, NULL, err,
                         errlen);
    cJSON_free(nv);
    cJSON_Delete(now);
    free(old);
    return rc;
}

int intake_point_put(store_t *st, const intake_point_t *p, const char *actor, const char *channel,
                     char *err, size_t errlen)
{
    point_job_t j = {.p = p, .actor = actor, .channel = channel};
    return store_write(st, point_job, &j, err, errlen);
}

typedef struct point_rm {
    const char *code, *actor, *channel;
} point_rm_t;

static int point_rm_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    point_rm_t *j = arg;
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT (SELECT count(*) FROM exit_point WHERE code = ?1),"
                               " (SELECT count(*) FROM exit_capture WHERE point_code = ?1)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, j->code, -1, SQLITE_STATIC);
    int exists = 0, used = 0;
    if (store_next(s, &rc, err, errlen)) {
        exists = sqlite3_column_int(s, 0);
        used = sqlite3_column_int(s, 1);
    }
    sqlite3_finalize(s);
    if (rc)
        return rc;
    if (!exists)
        return cm_fail(err, errlen, CM_ERR_NOTFOUND, "no exit point '%s'", j->code);
    /* Captures are evidence: a point that has any stays (rename it instead). */
    if (used)
        return cm_fail(err, errlen, CM_ERR_CONFLICT, "exit point '%s' has %d captures; it stays",
                       j->code, used);
    rc = store_prepare(db, "DELETE FROM exit_point WHERE code = ?", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, j->code, -1, SQLITE_STATIC);
    rc = store_step_done(s, err, errlen);
    return rc ? rc : store_audit(db, j->actor, j->channel, "exit_point.remove", j->code, NULL, NULL,
                                 NULL, err, errlen);
}

int intake_point_remove(store_t *st, const char *code, const char *actor, const char *channel,
                        char *err, size_t errlen)
{
    point_rm_t j = {code, actor, channel};
    return store_write(st, point_rm_job, &j, err, errlen);
}

int intake_point_list(sqlite3 *db, cJSON **out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT code, name, location, camera_ip, direction FROM exit_point"
                               " ORDER BY code", &s, err, errlen);
    if (rc)
        return rc;
    cJSON *arr = cJSON_CreateArray();
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *o = cJSON_CreateObject();
        static const char *const k[] = {"code", "name", "location", "cameraIp", "direction"};
        for (int i = 0; i < 5; i++)
            intake_add_col_text(o, k[i], s, i);
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

/* ---- captures -------------------------------------------------------------- */

static int parse_photos(const cJSON *o, char *out, size_t len, intake_fault_t *f)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "photos");
    if (!v || cJSON_IsNull(v))
        return CM_OK;
    if (cJSON_IsString(v))
        return intake_get_str(o, "photos", false, out, len, f);
    if (!cJSON_IsArray(v))
        return intake_fault_set(f, "photos", "photos must be a list of file names");
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it) || strchr(it->valuestring, ','))
            return intake_fault_set(f, "photos", "photos must be file names without commas");
        size_t used = strlen(out);
        if (used + strlen(it->valuestring) + 2 > len)
            return intake_fault_set(f, "photos", "photos are longer than %zu bytes", len - 1);
        snprintf(out + used, len - used, "%s%s", used ? "," : "", it->valuestring);
    }
    return CM_OK;
}

int intake_capture_parse(const cJSON *o, const intake_conf_t *c, int64_t now,
                         intake_capture_t *cap, intake_fault_t *f)
{
    memset(cap, 0, sizeof *cap);
    if (!cJSON_IsObject(o))
        return intake_fault_set(f, "capture", "a capture must be a JSON object");
    char raw[64] = "";
    int rc = intake_get_str(o, "captureId", false, cap->capture_id, sizeof cap->capture_id, f);
    if (!rc)
        rc = intake_get_str(o, "pointId", true, cap->point, sizeof cap->point, f);
    if (!rc)
        rc = intake_get_str(o, "plate", true, raw, sizeof raw, f);
    /* Recognition output is stored as read (a misread plate is still evidence). */
    if (!rc && intake_plate_normalize(raw, cap->plate, sizeof cap->plate))
        rc = intake_fault_set(f, "plate", "plate '%s' is too long", raw);
    if (!rc)
        rc = intake_get_time(o, "captureTime", true, &cap->time, f);
    if (!rc && cap->time > now + c->future_skew_s)
        rc = intake_fault_set(f, "captureTime", "captureTime is in the future");
    if (!rc)
        rc = intake_get_str(o, "load", false, cap->load, sizeof cap->load, f);
    if (!rc && !cap->load[0])
        snprintf(cap->load, sizeof cap->load, "unknown");
    if (!rc && strcmp(cap->load, "empty") && strcmp(cap->load, "loaded") &&
        strcmp(cap->load, "unknown"))
        rc = intake_fault_set(f, "load", "load must be empty, loaded or unknown");
    if (!rc)
        rc = intake_get_str(o, "direction", false, cap->direction, sizeof cap->direction, f);
    if (!rc && cap->direction[0] && strcmp(cap->direction, "out") && strcmp(cap->direction, "in"))
        rc = intake_fault_set(f, "direction", "direction must be out or in");
    if (!rc)
        rc = parse_photos(o, cap->photos, sizeof cap->photos, f);
    if (!rc && !cap->capture_id[0]) {
        int y, mo, d, h, mi, s;
        tm_epoch_to_bj(cap->time, &y, &mo, &d, &h, &mi, &s);
        snprintf(cap->capture_id, sizeof cap->capture_id, "%s-%04d%02d%02d%02d%02d%02d-%s",
                 cap->point, y, mo, d, h, mi, s, cap->plate);
    }
    return rc;
}

typedef struct cap_job {
    const intake_capture_t *cap;
    size_t n;
    const char *source;
    int created;
    intake_fault_t *f;
} cap_job_t;

static int point_direction(sqlite3 *db, const char *code, char *dir, size_t len, char *err,
                           size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT direction FROM exit_point WHERE code = ?", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_STATIC);
    rc = store_step(s, err, errlen);
    if (rc > 0)
        snprintf(dir, len, "%s", (const char *)sqlite3_column_text(s, 0));
    rc = rc > 0 ? CM_OK : rc < 0 ? rc : CM_ERR_NOTFOUND;
    sqlite3_finalize(s);
    return rc;
}

static int cap_one(sqlite3 *db, cap_job_t *j, size_t i, char *err, size_t errlen)
{
    const intake_capture_t *c = &j->cap[i];
    char dir[8];
    int rc = point_direction(db, c->point, dir, sizeof dir, err, errlen);
    if (rc == CM_ERR_NOTFOUND) {
        j->f->index = (int)i;
        intake_fault_set(j->f, "pointId", "unknown capture point '%s' (coalmon exit-point add)",
                         c->point);
        return cm_fail(err, errlen, CM_ERR_INVALID, "%s", j->f->msg);
    }
    if (rc)
        return rc;
    if (c->direction[0])
        snprintf(dir, sizeof dir, "%s", c->direction);
    else if (!strcmp(dir, "both")) {
        j->f->index = (int)i;
        intake_fault_set(j->f, "direction", "point '%s' serves both directions: give direction",
                         c->point);
        return cm_fail(err, errlen, CM_ERR_INVALID, "%s", j->f->msg);
    }
    /* Only a vehicle going out can carry coal away unweighed. */
    const char *state = !strcmp(dir, "in") ? "inbound" : !strcmp(c->load, "empty") ? "empty" : "pending";
    sqlite3_stmt *s;
    rc = store_prepare(db, "INSERT OR IGNORE INTO exit_capture(capture_id, point_code, direction,"
                           " plate, capture_time, load, photos, state, decided_at, source,"
                           " received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       &s, err, errlen);
    if (rc)
        return rc;
    int64_t now = tm_now_s();
    const char *v[] = {c->capture_id, c->point, dir, c->plate};
    for (int k = 0; k < 4; k++)
        store_bind_text_or_null(s, k + 1, v[k]);
    sqlite3_bind_int64(s, 5, c->time);
    store_bind_text_or_null(s, 6, c->load);
    store_bind_text_or_null(s, 7, c->photos);
    store_bind_text_or_null(s, 8, state);
    if (strcmp(state, "pending"))
        sqlite3_bind_int64(s, 9, now);
    else
        sqlite3_bind_null(s, 9);
    sqlite3_bind_text(s, 10, j->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 11, now);
    rc = store_step_done(s, err, errlen);
    if (rc || sqlite3_changes(db) == 0)
        return rc;
    j->created++;
    /* Decided at once (empty or inbound): queue now; pending ones when decided. */
    return strcmp(state, "pending") ? intake_capture_queue(db, c->capture_id, err, errlen) : CM_OK;
}

static int cap_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    cap_job_t *j = arg;
    j->created = 0;
    for (size_t i = 0; i < j->n; i++) {
        int rc = cap_one(db, j, i, err, errlen);
        if (rc)
            return rc;
    }
    return CM_OK;
}

int intake_captures_put(store_t *st, const intake_capture_t *cap, size_t n, const char *source,
                        int *created, intake_fault_t *f, char *err, size_t errlen)
{
    intake_fault_t dummy;
    cap_job_t j = {.cap = cap, .n = n, .source = source, .f = f ? f : &dummy};
    j.f->field[0] = '\0';
    int rc = store_write(st, cap_job, &j, err, errlen);
    if (!rc && created)
        *created = j.created;
    return rc;
}

/* uplink.md §3 exitCapture, from the stored row. */
int intake_capture_queue(sqlite3 *db, const char *capture_id, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT point_code, capture_time, plate, load, ticket_id, state,"
                               " photos FROM exit_capture WHERE capture_id = ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, capture_id, -1, SQLITE_STATIC);
    if ((rc = store_step(s, err, errlen)) <= 0) {
        sqlite3_finalize(s);
        return rc < 0 ? rc : cm_fail(err, errlen, CM_ERR_NOTFOUND, "no capture '%s'", capture_id);
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", capture_id);
    intake_add_col_text(r, "pointId", s, 0);
    tm_json_add(r, "captureTime", sqlite3_column_int64(s, 1), TM_JSON_BJ);
    intake_add_col_text(r, "plate", s, 2);
    intake_add_col_text(r, "load", s, 3);
    if (sqlite3_column_type(s, 4) != SQLITE_NULL)
        intake_add_col_text(r, "ticketId", s, 4);
    cJSON_AddNumberToObject(r, "escape", !strcmp((const char *)sqlite3_column_text(s, 5), "escape"));
    if (sqlite3_column_type(s, 6) != SQLITE_NULL)
        intake_add_col_text(r, "photos", s, 6);
    sqlite3_finalize(s);
    rc = store_outbox_put(db, "exitCapture", capture_id, r, true, err, errlen);
    cJSON_Delete(r);
    return rc;
}

int intake_capture_list(sqlite3 *db, int64_t from, int64_t to, const char *state, int limit,
                        cJSON **out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT capture_id, point_code, direction, plate, capture_time,"
                               " load, photos, state, ticket_id, confidence FROM exit_capture"
                               " WHERE capture_time >= ? AND capture_time < ?"
                               " AND (?3 IS NULL OR state = ?3)"
                               " ORDER BY capture_time DESC, capture_id LIMIT ?4",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    store_bind_text_or_null(s, 3, state);
    sqlite3_bind_int(s, 4, limit > 0 ? limit : 1000);
    cJSON *arr = cJSON_CreateArray();
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *o = cJSON_CreateObject();
        intake_add_col_text(o, "captureId", s, 0);
        intake_add_col_text(o, "pointId", s, 1);
        intake_add_col_text(o, "direction", s, 2);
        intake_add_col_text(o, "plate", s, 3);
        tm_json_add(o, "captureTime", sqlite3_column_int64(s, 4), TM_JSON_BJ);
        intake_add_col_text(o, "load", s, 5);
        intake_add_col_text(o, "photos", s, 6);
        intake_add_col_text(o, "state", s, 7);
        intake_add_col_text(o, "ticketId", s, 8);
        if (sqlite3_column_type(s, 9) == SQLITE_NULL)
            cJSON_AddNullToObject(o, "confidence");
        else
            cJSON_AddNumberToObject(o, "confidence", sqlite3_column_double(s, 9));
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

int intake_escape_list(sqlite3 *db, int64_t from, int64_t to, int limit, cJSON **out, char *err,
                       size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT id, capture_id, plate, point_code, capture_time,"
                               " best_ticket_id, best_confidence, detail, created_at, resolved_at,"
                               " resolved_ticket_id FROM escape_event"
                               " WHERE capture_time >= ? AND capture_time < ?"
                               " ORDER BY capture_time DESC LIMIT ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    sqlite3_bind_int(s, 3, limit > 0 ? limit : 1000);
    cJSON *arr = cJSON_CreateArray();
    while (!rc && store_next(s, &rc, err, errlen)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(s, 0));
        intake_add_col_text(o, "captureId", s, 1);
        intake_add_col_text(o, "plate", s, 2);
        intake_add_col_text(o, "pointId", s, 3);
        tm_json_add(o, "captureTime", sqlite3_column_int64(s, 4), TM_JSON_BJ);
        intake_add_col_text(o, "bestTicketId", s, 5);
        if (sqlite3_column_type(s, 6) == SQLITE_NULL)
            cJSON_AddNullToObject(o, "bestConfidence");
        else
            cJSON_AddNumberToObject(o, "bestConfidence", sqlite3_column_double(s, 6));
        intake_add_col_text(o, "detail", s, 7);
        tm_json_add(o, "createdAt", sqlite3_column_int64(s, 8), TM_JSON_BJ);
        if (sqlite3_column_type(s, 9) == SQLITE_NULL)
            cJSON_AddNullToObject(o, "resolvedAt");
        else
            tm_json_add(o, "resolvedAt", sqlite3_column_int64(s, 9), TM_JSON_BJ);
        intake_add_col_text(o, "resolvedTicketId", s, 10);
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
