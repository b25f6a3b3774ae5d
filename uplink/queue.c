/* Delivery state per destination and the upload log (UPL-3). Every function
 * takes the time it should act at, so a week can be simulated in a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uplink/uplink.h"

int upl_queue_sync_dests_job(sqlite3 *db, const upl_cfg_t *c, char *err, size_t errlen)
{
    int rc = CM_OK;
    for (int i = 0; !rc && i < c->ndest; i++) {
        sqlite3_stmt *s;
        rc = store_prepare(db,
                           "INSERT OR IGNORE INTO uplink_dest(name, fanned_seq, created_ms) VALUES"
                           " (?, CASE WHEN ? THEN 0 ELSE (SELECT coalesce(max(seq), 0) FROM"
                           " outbox_record) END, ?)",
                           &s, err, errlen);
        if (rc)
            break;
        sqlite3_bind_text(s, 1, c->dest[i].name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 2, c->dest[i].backfill);
        sqlite3_bind_int64(s, 3, tm_now_ms());
        rc = store_step_done(s, err, errlen);
        const upl_key_t *k = &c->dest[i].key;
        if (!rc && c->dest[i].self && k->key_len) { /* our own receiver knows us */
            char key[33] = "", iv[17] = "";
            memcpy(key, k->key, k->key_len);
            memcpy(iv, k->iv, 16);
            rc = upl_enterprise_put_job(db, c->dest[i].mine_code, "本矿（演示）", "mine", key, iv,
                                        0, err, errlen);
        }
    }
    return rc;
}

static bool forwards_to(const upl_cfg_t *c, const char *dest)
{
    size_t n = strlen(dest);
    for (const char *p = c->forward_to; (p = strstr(p, dest)); p += n)
        if ((p == c->forward_to || p[-1] == ',') && (p[n] == ',' || !p[n]))
            return true;
    return false;
}

/* Checked before sending: a record the contract refuses would only come back
 * 400; set aside at once with the reason, it costs the link nothing. */
static bool record_valid(const upl_dest_t *d, const char *type, const char *body, char *why,
                         size_t len)
{
    const char *prefix = upl_dest_prefix(d, type);
    if (!upl_schema_known(prefix, type))
        return true; /* a type of someone else's contract: theirs to check */
    cJSON *r = cJSON_Parse(body);
    char field[64], e[200];
    int rc = upl_validate(prefix, type, r, field, sizeof field, e, sizeof e);
    cJSON_Delete(r);
    if (rc)
        snprintf(why, len, "not sent, invalid record: %s", e);
    return rc == CM_OK;
}

static int fanout_one(sqlite3 *db, const upl_cfg_t *c, const upl_dest_t *d, int *added,
                      char *err, size_t errlen)
{
    sqlite3_stmt *q, *ins, *upd;
    int rc = store_prepare(db,
                           "SELECT o.seq, o.record_type, o.origin, o.body FROM outbox_record o, uplink_dest u"
                           " WHERE u.name = ? AND o.seq > u.fanned_seq ORDER BY o.seq LIMIT 5000",
                           &q, err, errlen);
    if (rc)
        return rc;
    rc = store_prepare(db,
                       "INSERT OR IGNORE INTO uplink_delivery(dest, seq, record_type, state,"
                       " last_code, last_message) VALUES (?, ?, ?, ?, ?, ?)",
                       &ins, err, errlen);
    if (rc) {
        sqlite3_finalize(q);
        return rc;
    }
    sqlite3_bind_text(q, 1, d->name, -1, SQLITE_TRANSIENT);
    int64_t last = -1;
    while (!rc && store_next(q, &rc, err, errlen)) {
        last = sqlite3_column_int64(q, 0);
        const char *type = (const char *)sqlite3_column_text(q, 1);
        bool forwarded = sqlite3_column_type(q, 2) != SQLITE_NULL;
        if (!upl_dest_takes(d, type) || (forwarded && !forwards_to(c, d->name)))
            continue;
        char why[300];
        bool valid = record_valid(d, type, (const char *)sqlite3_column_text(q, 3), why, sizeof why);
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, d->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 2, last);
        sqlite3_bind_text(ins, 3, type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 4, valid ? "pending" : "aside", -1, SQLITE_STATIC);
        if (!valid) {
            sqlite3_bind_int(ins, 5, 400);
            sqlite3_bind_text(ins, 6, why, -1, SQLITE_TRANSIENT);
        } else {
            sqlite3_bind_null(ins, 5);
            sqlite3_bind_null(ins, 6);
        }
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
        else
            *added += sqlite3_changes(db);
    }
    sqlite3_finalize(q);
    sqlite3_finalize(ins);
    if (rc || last < 0)
        return rc;
    rc = store_prepare(db, "UPDATE uplink_dest SET fanned_seq = ? WHERE name = ?", &upd, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(upd, 1, last);
    sqlite3_bind_text(upd, 2, d->name, -1, SQLITE_TRANSIENT);
    return store_step_done(upd, err, errlen);
}

int upl_queue_fanout_job(sqlite3 *db, const upl_cfg_t *c, int *added, char *err, size_t errlen)
{
    int rc = CM_OK;
    *added = 0;
    for (int i = 0; !rc && i < c->ndest; i++)
        rc = fanout_one(db, c, &c->dest[i], added, err, errlen);
    return rc;
}

/* ---- picking ------------------------------------------------------------------ */

static int pick_anchor(sqlite3 *db, const upl_dest_t *d, int64_t now_ms, bool newest,
                       const char *skip, upl_pick_t *p, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           newest ? "SELECT d.record_type, coalesce(o.origin, '') FROM uplink_delivery d"
                                    " JOIN outbox_record o ON o.seq = d.seq WHERE d.dest = ? AND"
                                    " d.state = 'pending' AND d.next_try_ms <= ? AND d.seq NOT IN (SELECT value"
                                    " FROM json_each(?)) ORDER BY d.seq DESC LIMIT 1"
                                  : "SELECT d.record_type, coalesce(o.origin, '') FROM uplink_delivery d"
                                    " JOIN outbox_record o ON o.seq = d.seq WHERE d.dest = ? AND"
                                    " d.state = 'pending' AND d.next_try_ms <= ? AND d.seq NOT IN (SELECT value"
                                    " FROM json_each(?)) ORDER BY d.seq ASC LIMIT 1",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, d->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_text(s, 3, skip, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        snprintf(p->record_type, sizeof p->record_type, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(p->origin, sizeof p->origin, "%s", (const char *)sqlite3_column_text(s, 1));
        rc = CM_OK;
    } else
        rc = rc == SQLITE_DONE ? CM_ERR_NOTFOUND : cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

/* "[1,2,3]": the records in flight, for json_each() in the pick queries. */
static char *skip_list(const int64_t *seq, int n)
{
    char *out = malloc((size_t)n * 21 + 3), *o = out;
    if (!out)
        return NULL;
    *o++ = '[';
    for (int i = 0; i < n; i++)
        o += sprintf(o, "%s%lld", i ? "," : "", (long long)seq[i]);
    strcpy(o, "]");
    return out;
}

int upl_queue_pick(sqlite3 *db, const upl_dest_t *d, int64_t now_ms, bool newest,
                   const int64_t *in_flight, int n_in_flight, upl_pick_t *p, char *err,
                   size_t errlen)
{
    memset(p, 0, sizeof *p);
    char *skip = skip_list(in_flight, in_flight ? n_in_flight : 0);
    if (!skip)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    int rc = pick_anchor(db, d, now_ms, newest, skip, p, err, errlen);
    if (rc) {
        free(skip);
        return rc;
    }
    sqlite3_stmt *s;
    /* A batch holds records of one type (uplink.md §2) and one origin (one request header). */
    rc = store_prepare(db,
                       newest ? "SELECT d.seq, o.produced_ms, o.body FROM uplink_delivery d JOIN"
                                " outbox_record o ON o.seq = d.seq WHERE d.dest = ? AND d.state ="
                                " 'pending' AND d.record_type = ? AND d.next_try_ms <= ? AND"
                                " coalesce(o.origin, '') = ? AND d.seq NOT IN (SELECT value FROM"
                                " json_each(?)) ORDER BY d.seq DESC LIMIT ?"
                              : "SELECT d.seq, o.produced_ms, o.body FROM uplink_delivery d JOIN"
                                " outbox_record o ON o.seq = d.seq WHERE d.dest = ? AND d.state ="
                                " 'pending' AND d.record_type = ? AND d.next_try_ms <= ? AND"
                                " coalesce(o.origin, '') = ? AND d.seq NOT IN (SELECT value FROM"
                                " json_each(?)) ORDER BY d.seq ASC LIMIT ?",
                       &s, err, errlen);
    if (rc) {
        free(skip);
        return rc;
    }
    sqlite3_bind_text(s, 1, d->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, p->record_type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, now_ms);
    sqlite3_bind_text(s, 4, p->origin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, skip, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 6, d->batch ? d->batch_max : 1);
    size_t cap = 0, len = 0;
    while (!rc && p->n < UPL_BATCH_MAX && store_next(s, &rc, err, errlen)) {
        const char *body = (const char *)sqlite3_column_text(s, 2);
        size_t bl = (size_t)sqlite3_column_bytes(s, 2);
        if (len + bl + 3 > cap) {
            cap = (len + bl + 3) * 2;
            char *nb = realloc(p->body, cap);
            if (!nb) {
                rc = cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
                break;
            }
            p->body = nb;
        }
        p->body[len++] = p->n ? ',' : '[';
        memcpy(p->body + len, body, bl);
        len += bl;
        p->seq[p->n] = sqlite3_column_int64(s, 0);
        p->produced_ms[p->n++] = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    free(skip);
    if (!rc && p->n == 0)
        rc = CM_ERR_NOTFOUND;
    if (rc) {
        upl_pick_free(p);
        return rc;
    }
    if (p->n == 1 && !d->batch) /* one record: the object itself, byte for byte as stored */
        memmove(p->body, p->body + 1, len--);
    else
        p->body[len++] = ']';
    p->body[len] = 0;
    return CM_OK;
}

void upl_pick_free(upl_pick_t *p)
{
    free(p->body);
    p->body = NULL;
}

/* ---- outcomes --------------------------------------------------------------------- */

int64_t upl_backoff_ms(const upl_cfg_t *c, int attempts, uint32_t rnd)
{
    int64_t ms = (int64_t)c->backoff_min_s * 1000;
    for (int i = 1; i < attempts && ms < (int64_t)c->backoff_max_s * 1000; i++)
        ms *= 2;
    if (ms > (int64_t)c->backoff_max_s * 1000)
        ms = (int64_t)c->backoff_max_s * 1000;
    /* Jitter of ±25 % so that many mines do not retry in step after a platform outage. */
    return ms - ms / 4 + (int64_t)((uint64_t)rnd % (uint64_t)(ms / 2 + 1));
}

bool upl_link_due(const upl_link_t *l, int64_t now_ms)
{
    return now_ms >= l->next_ms;
}

bool upl_link_next_newest(const upl_cfg_t *c, upl_link_t *l)
{
    return ++l->rounds % (uint64_t)c->fresh_every == 0;
}

void upl_link_result(const upl_cfg_t *c, upl_link_t *l, int code, int64_t now_ms, uint32_t rnd)
{
    if (code == 200 || code == 400 || code == 401) { /* the receiver is there and answers */
        l->failures = 0;
        l->next_ms = 0;
    } else {
        l->failures++;
        l->next_ms = now_ms + upl_backoff_ms(c, l->failures, rnd);
    }
}

static int log_attempt(sqlite3 *db, const upl_dest_t *d, const upl_pick_t *p,
                       const upl_outcome_t *o, int64_t now_ms, const char *outcome, char *err,
                       size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "INSERT INTO uplink_log(ts_ms, dest, record_type, n_records, first_seq,"
                           " last_seq, http_status, code, message, elapsed_ms, outcome)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_text(s, 2, d->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, p->record_type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 4, p->n);
    sqlite3_bind_int64(s, 5, p->seq[0]);
    sqlite3_bind_int64(s, 6, p->seq[p->n - 1]);
    sqlite3_bind_int(s, 7, o->http_status);
    sqlite3_bind_int(s, 8, o->code);
    sqlite3_bind_text(s, 9, o->message, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 10, o->elapsed_ms);
    sqlite3_bind_text(s, 11, outcome, -1, SQLITE_STATIC);
    return store_step_done(s, err, errlen);
}

int upl_queue_result_job(sqlite3 *db, const upl_cfg_t *c, const upl_dest_t *d,
                         const upl_pick_t *p, const upl_outcome_t *o, int64_t now_ms,
                         uint32_t rnd, char *err, size_t errlen)
{
    bool ok = o->code == 200, rejected = o->code == 400 || o->code == 401;
    sqlite3_stmt *s;
    /* The produced_ms check: a record replaced while in flight stays due. */
    int rc = store_prepare(db,
                           "UPDATE uplink_delivery SET attempts = attempts + 1, last_try_ms = ?3,"
                           " last_code = ?4, last_message = ?5,"
                           " state = CASE WHEN ?6 THEN 'sent' WHEN ?7 AND attempts + 1 >= ?8"
                           "   THEN 'aside' ELSE state END,"
                           " sent_ms = CASE WHEN ?6 THEN ?3 ELSE sent_ms END,"
                           " next_try_ms = CASE WHEN ?7 THEN ?3 + ?9 ELSE next_try_ms END"
                           " WHERE dest = ?1 AND seq = ?2 AND state = 'pending' AND"
                           " (SELECT produced_ms FROM outbox_record WHERE seq = ?2) = ?10",
                           &s, err, errlen);
    if (rc)
        return rc;
    int aside = 0;
    for (int i = 0; !rc && i < p->n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, d->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, p->seq[i]);
        sqlite3_bind_int64(s, 3, now_ms);
        sqlite3_bind_int(s, 4, o->code);
        sqlite3_bind_text(s, 5, o->message, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 6, ok);
        sqlite3_bind_int(s, 7, rejected);
        sqlite3_bind_int(s, 8, c->aside_after);
        sqlite3_bind_int64(s, 9, upl_backoff_ms(c, 1, rnd));
        sqlite3_bind_int64(s, 10, p->produced_ms[i]);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(s);
    if (!rc && rejected) {
        rc = store_prepare(db, "SELECT count(*) FROM uplink_delivery WHERE dest = ? AND seq = ? AND"
                               " state = 'aside'", &s, err, errlen);
        if (!rc) {
            sqlite3_bind_text(s, 1, d->name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(s, 2, p->seq[0]);
            int64_t n = 0;
            rc = store_q_int64(s, 0, &n, NULL, err, errlen);
            aside = n > 0;
        }
    }
    if (!rc)
        rc = log_attempt(db, d, p, o, now_ms, ok ? "delivered" : aside ? "aside" : "retry", err,
                         errlen);
    return rc;
}

int upl_queue_retry_job(sqlite3 *db, const char *dest, int64_t seq, bool all_pending,
                        int *changed, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "UPDATE uplink_delivery SET state = 'pending', next_try_ms = 0,"
                           " attempts = CASE WHEN state = 'aside' THEN 0 ELSE attempts END"
                           " WHERE (?1 IS NULL OR dest = ?1) AND (?2 = 0 OR seq = ?2) AND"
                           " (state = 'aside' OR (?3 AND state = 'pending'))",
                           &s, err, errlen);
    if (rc)
        return rc;
    dest ? sqlite3_bind_text(s, 1, dest, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, 1);
    sqlite3_bind_int64(s, 2, seq);
    sqlite3_bind_int(s, 3, all_pending);
    rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK : cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    *changed = sqlite3_changes(db);
    sqlite3_finalize(s);
    return rc;
}

int upl_queue_prune_job(sqlite3 *db, const upl_cfg_t *c, int64_t now_ms, char *err, size_t errlen)
{
    static const char *const sql[] = {
        "DELETE FROM uplink_delivery WHERE state = 'sent' AND sent_ms < ?1",
        "DELETE FROM uplink_log WHERE ts_ms < ?1",
        /* An outbox record goes once every destination has it and none still owes it. */
        "DELETE FROM outbox_record WHERE produced_ms < ?1 AND seq <= (SELECT coalesce(min(fanned_seq), 0)"
        " FROM uplink_dest) AND NOT EXISTS (SELECT 1 FROM uplink_delivery d WHERE d.seq ="
        " outbox_record.seq)",
    };
    int64_t cutoff = now_ms - (int64_t)c->keep_days * 86400000;
    int rc = CM_OK;
    for (size_t i = 0; !rc && i < sizeof sql / sizeof *sql; i++) {
        sqlite3_stmt *s;
        rc = store_prepare(db, sql[i], &s, err, errlen);
        if (!rc) {
            sqlite3_bind_int64(s, 1, cutoff);
            rc = store_step_done(s, err, errlen);
        }
    }
    return rc;
}
