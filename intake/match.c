/* Matching exit captures to outbound tickets (ESC-1); escaping vehicles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake/internal.h"

typedef struct pending {
    char id[101];
    char plate[40];
    char point[32];
    char load[8];
    int64_t time;
    char state[16]; /* "escape" when re-examined after an alarm */
} pending_t;

typedef struct candidate {
    char ticket_id[101];
    double confidence;
    int64_t dt; /* |gross time - capture time| */
} candidate_t;

typedef struct match_job {
    const intake_conf_t *c;
    int64_t now;
    intake_match_stats_t st;
} match_job_t;

/* Best unused outbound ticket for p: highest confidence, then nearest in time. */
static int best_ticket(sqlite3 *db, const intake_conf_t *c, const pending_t *p, candidate_t *best,
                       char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT t.ticket_id, t.plate, t.gross_time FROM weigh_ticket_current t"
                               " WHERE t.direction = 'out' AND t.gross_time >= ? AND t.gross_time <= ?"
                               " AND NOT EXISTS (SELECT 1 FROM exit_capture x"
                               "   WHERE x.ticket_id = t.ticket_id)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, p->time - c->match_before_s);
    sqlite3_bind_int64(s, 2, p->time + c->match_after_s);
    memset(best, 0, sizeof *best);
    best->confidence = -1;
    while (!rc && store_next(s, &rc, err, errlen)) {
        double conf = intake_plate_similarity(p->plate, (const char *)sqlite3_column_text(s, 1));
        int64_t dt = llabs(sqlite3_column_int64(s, 2) - p->time);
        if (conf > best->confidence + 1e-9 || (conf > best->confidence - 1e-9 && dt < best->dt)) {
            snprintf(best->ticket_id, sizeof best->ticket_id, "%s",
                     (const char *)sqlite3_column_text(s, 0));
            best->confidence = conf;
            best->dt = dt;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

static int set_state(sqlite3 *db, const pending_t *p, const char *state, const candidate_t *m,
                     int64_t now, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "UPDATE exit_capture SET state = ?, ticket_id = ?, confidence = ?,"
                               " decided_at = ? WHERE capture_id = ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
    if (m) {
        sqlite3_bind_text(s, 2, m->ticket_id, -1, SQLITE_STATIC);
        sqlite3_bind_double(s, 3, m->confidence);
    } else {
        sqlite3_bind_null(s, 2);
        sqlite3_bind_null(s, 3);
    }
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_text(s, 5, p->id, -1, SQLITE_STATIC);
    rc = store_step_done(s, err, errlen);
    return rc ? rc : intake_capture_queue(db, p->id, err, errlen);
}

static int raise_escape(sqlite3 *db, const pending_t *p, const candidate_t *best, int64_t now,
                        char *err, size_t errlen)
{
    char when[32], detail[400], near[200] = "";
    tm_format_bj(p->time, when, sizeof when);
    if (best->confidence > 0)
        snprintf(near, sizeof near, "；最接近的过磅单 %s 相似度 %.2f", best->ticket_id,
                 best->confidence);
    snprintf(detail, sizeof detail, "重车 %s 于 %s 经出口 %s 驶出，无匹配的出场过磅单%s",
             p->plate, when, p->point, near);
    sqlite3_stmt *s;
    int rc = store_prepare(db, "INSERT OR IGNORE INTO escape_event(capture_id, plate, point_code,"
                               " capture_time, best_ticket_id, best_confidence, detail, created_at)"
                               " VALUES (?,?,?,?,?,?,?,?)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, p->plate, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, p->point, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, p->time);
    if (best->confidence > 0) {
        sqlite3_bind_text(s, 5, best->ticket_id, -1, SQLITE_STATIC);
        sqlite3_bind_double(s, 6, best->confidence);
    } else {
        sqlite3_bind_null(s, 5);
        sqlite3_bind_null(s, 6);
    }
    sqlite3_bind_text(s, 7, detail, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, now);
    rc = store_step_done(s, err, errlen);
    return rc ? rc : set_state(db, p, "escape", NULL, now, err, errlen);
}

/* A ticket that turned up after the alarm: the capture is matched, the event resolved. */
static int resolve_escape(sqlite3 *db, const pending_t *p, const candidate_t *m, int64_t now,
                          char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "UPDATE escape_event SET resolved_at = ?, resolved_ticket_id = ?"
                               " WHERE capture_id = ? AND resolved_at IS NULL",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_text(s, 2, m->ticket_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, p->id, -1, SQLITE_STATIC);
    rc = store_step_done(s, err, errlen);
    return rc ? rc : set_state(db, p, "matched", m, now, err, errlen);
}

static int load_open(sqlite3 *db, const match_job_t *j, pending_t **out, int *n, char *err,
                     size_t errlen)
{
    sqlite3_stmt *s;
    /* Escapes of the last day stay open to a late ticket; oldest first so that
     * earlier exits get the earlier tickets. */
    int rc = store_prepare(db, "SELECT capture_id, plate, point_code, load, capture_time, state"
                               " FROM exit_capture WHERE state = 'pending'"
                               " OR (state IN ('escape', 'unverified') AND capture_time >= ?)"
                               " ORDER BY capture_time, capture_id",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, j->now - 86400);
    int cap = 0;
    *out = NULL;
    *n = 0;
    while (!rc && store_next(s, &rc, err, errlen)) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            pending_t *grown = realloc(*out, sizeof(pending_t) * (size_t)cap);
            if (!grown) {
                sqlite3_finalize(s);
                return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
            }
            *out = grown;
        }
        pending_t *p = &(*out)[(*n)++];
        snprintf(p->id, sizeof p->id, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(p->plate, sizeof p->plate, "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(p->point, sizeof p->point, "%s", (const char *)sqlite3_column_text(s, 2));
        snprintf(p->load, sizeof p->load, "%s", (const char *)sqlite3_column_text(s, 3));
        p->time = sqlite3_column_int64(s, 4);
        snprintf(p->state, sizeof p->state, "%s", (const char *)sqlite3_column_text(s, 5));
    }
    sqlite3_finalize(s);
    return rc;
}

/* One pass over the open captures; exact_only first so that a clean read
 * keeps its ticket from a misread capture of another truck. */
static int pass(sqlite3 *db, match_job_t *j, pending_t *p, int n, bool exact_only, char *err,
                size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (!p[i].id[0])
            continue; /* decided in an earlier pass */
        candidate_t best;
        int rc = best_ticket(db, j->c, &p[i], &best, err, errlen);
        if (rc)
            return rc;
        bool exact = best.confidence >= 1.0 - 1e-9;
        bool ok = exact_only ? exact : best.confidence >= j->c->match_min_confidence - 1e-9;
        /* A near match waits for the decision time: the truck that owns the
         * ticket may still pass the camera and read exactly. */
        bool early = !exact && j->now < p[i].time + j->c->decide_after_s;
        if (ok && early && !strcmp(p[i].state, "pending")) {
            j->st.waiting++;
        } else if (ok) {
            rc = strcmp(p[i].state, "pending") ? resolve_escape(db, &p[i], &best, j->now, err, errlen)
                                               : set_state(db, &p[i], "matched", &best, j->now, err, errlen);
            j->st.matched++;
            p[i].id[0] = '\0';
        } else if (!exact_only && !strcmp(p[i].state, "pending")) {
            if (j->now < p[i].time + j->c->decide_after_s)
                j->st.waiting++;
            else if (!strcmp(p[i].load, "loaded")) {
                rc = raise_escape(db, &p[i], &best, j->now, err, errlen);
                j->st.escapes++;
            } else {
                rc = set_state(db, &p[i], "unverified", NULL, j->now, err, errlen);
                j->st.unverified++;
            }
        }
        if (rc)
            return rc;
    }
    return CM_OK;
}

static int match_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    match_job_t *j = arg;
    pending_t *p = NULL;
    int n = 0;
    memset(&j->st, 0, sizeof j->st);
    int rc = load_open(db, j, &p, &n, err, errlen);
    if (!rc)
        rc = pass(db, j, p, n, true, err, errlen);
    if (!rc)
        rc = pass(db, j, p, n, false, err, errlen);
    free(p);
    return rc;
}

int intake_match_run(store_t *st, const intake_conf_t *c, int64_t now, intake_match_stats_t *s,
                     char *err, size_t errlen)
{
    match_job_t j = {.c = c, .now = now};
    int rc = store_write(st, match_job, &j, err, errlen);
    if (!rc && s)
        *s = j.st;
    return rc;
}
