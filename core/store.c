/* The store: migrations, one writer thread committing in batches, readers. */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "core/embed.h"
#include "core/store_acc.h"

extern const embed_file_t migration_files[];

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int rc;
    char err[256];
} waiter_t;

#define FLUSH_MS 1000

typedef struct job {
    struct job *next;
    bool flush; /* its producer waits for the commit: derived tables must be current */
    store_job_fn fn;
    void *arg;
    store_reading_t *readings; /* NULL, or `copy`: one allocation per job */
    size_t nreadings;
    store_done_fn done;
    void *done_arg;
    int rc;
    char err[256];
    store_reading_t copy[];
} job_t;

struct store {
    char path[1024];
    store_opts_t opts;
    sqlite3 *wdb;
    sqlite3_stmt *ins_reading, *up_agg, *up_latest;
    sqlite3_stmt *sp_begin, *sp_release, *sp_rollback;
    /* Aggregates and latest values are written at most every FLUSH_MS (and
     * whenever someone waits for a commit or a job may read them): `acc`
     * holds what committed batches folded in since the last write, `stage`
     * what the open batch folds in (dropped if the batch fails), `run` what
     * the open run of readings jobs folds in (dropped if the run fails). */
    store_acc_t *acc, *stage, *run;
    int64_t last_flush_ms;
    bool *fresh;          /* scratch: which readings of a job were new */
    size_t fresh_cap;
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *head, *tail;
    int depth;
    bool stopping;
    store_stats_t stats;
};

void store_opts_default(store_opts_t *o)
{
    o->batch_max_jobs = 256;
    o->batch_max_readings = 5000;
    o->batch_delay_ms = 20;
    o->raw_retention_days = 30;
    o->agg_retention_days = 5 * 366;
    o->busy_timeout_ms = 5000;
}

const char *store_path(const store_t *st) { return st->path; }

int store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(db, sql, -1, out, NULL) != SQLITE_OK)
        return cm_fail(err, errlen, CM_ERR_DB, "prepare failed: %s", sqlite3_errmsg(db));
    return CM_OK;
}

int store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        cm_fail(err, errlen, CM_ERR_DB, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return CM_ERR_DB;
    }
    return CM_OK;
}

/* ---- migrations ------------------------------------------------------ */

static int applied_version(sqlite3 *db, int version, bool *applied, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT 1 FROM schema_migration WHERE version = ?", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int(s, 1, version);
    *applied = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return CM_OK;
}

static int apply_migration(sqlite3 *db, const embed_file_t *m, char *err, size_t errlen)
{
    int version = atoi(m->name);
    if (version <= 0)
        return cm_fail(err, errlen, CM_ERR_DB, "migration %s: name must start with its number",
                       m->name);
    /* IMMEDIATE: another process (daemon and CLI) may be migrating the same file. */
    int rc = store_exec(db, "BEGIN IMMEDIATE", err, errlen);
    if (rc)
        return rc;
    bool applied;
    rc = applied_version(db, version, &applied, err, errlen);
    if (!rc && !applied) {
        char sub[200];
        rc = store_exec(db, (const char *)m->data, sub, sizeof sub);
        if (rc)
            cm_fail(err, errlen, rc, "migration %s: %s", m->name, sub);
        sqlite3_stmt *s = NULL;
        if (!rc)
            rc = store_prepare(db, "INSERT INTO schema_migration(version, name) VALUES (?, ?)", &s,
                               err, errlen);
        if (!rc) {
            sqlite3_bind_int(s, 1, version);
            sqlite3_bind_text(s, 2, m->name, -1, SQLITE_STATIC);
            if (sqlite3_step(s) != SQLITE_DONE)
                rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
        }
        sqlite3_finalize(s);
    }
    if (rc) {
        store_exec(db, "ROLLBACK", NULL, 0);
        return rc;
    }
    return store_exec(db, "COMMIT", err, errlen);
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    int rc = store_exec(db,
                        "CREATE TABLE IF NOT EXISTS schema_migration ("
                        " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                        " applied_at INTEGER NOT NULL DEFAULT (unixepoch()))",
                        err, errlen);
    for (const embed_file_t *m = migration_files; !rc && m->name; m++)
        rc = apply_migration(db, m, err, errlen);
    return rc;
}

/* ---- the writer ------------------------------------------------------ */

/* Raw rows now; aggregates and latest values are folded into accumulators
 * (see run_readings) and written once per (point, minute) and per point when
 * the derived tables are flushed. */
static int put_readings(store_t *st, const store_reading_t *r, size_t n, char *err, size_t errlen)
{
    if (n > st->fresh_cap) {
        bool *f = realloc(st->fresh, n * sizeof *f);
        if (!f)
            return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        st->fresh = f;
        st->fresh_cap = n;
    }
    sqlite3_stmt *s = st->ins_reading;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, r[i].point_id);
        sqlite3_bind_int64(s, 2, r[i].ts_ms);
        sqlite3_bind_double(s, 3, r[i].value);
        sqlite3_bind_int(s, 4, r[i].quality);
        if (sqlite3_step(s) != SQLITE_DONE)
            return cm_fail(err, errlen, CM_ERR_DB, "reading: %s", sqlite3_errmsg(st->wdb));
        /* A reading stored before (a backfill overlap) must not count twice. */
        st->fresh[i] = sqlite3_changes(st->wdb) == 1;
    }
    return CM_OK;
}

static int fold_readings(store_t *st, store_acc_t *into, const store_reading_t *r, size_t n,
                         char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (store_acc_add(into, &r[i], st->fresh[i] && r[i].quality == 0))
            return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    return CM_OK;
}

/* Run a prepared statement without results once; SQLite's code. */
static int step_reset(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc;
}

/* One job under a savepoint of its own: a generic job, or a readings job
 * replayed after its run failed. Readings fold straight into the stage. */
static void run_job(store_t *st, job_t *j)
{
    if (step_reset(st->sp_begin) != SQLITE_DONE) {
        j->rc = cm_fail(j->err, sizeof j->err, CM_ERR_DB, "savepoint: %s", sqlite3_errmsg(st->wdb));
        return;
    }
    j->err[0] = '\0';
    if (j->readings) {
        j->rc = put_readings(st, j->readings, j->nreadings, j->err, sizeof j->err);
        if (!j->rc)
            j->rc = fold_readings(st, st->stage, j->readings, j->nreadings, j->err, sizeof j->err);
    } else {
        j->rc = j->fn(st->wdb, j->arg, j->err, sizeof j->err);
    }
    if (j->rc)
        step_reset(st->sp_rollback);
    step_reset(st->sp_release);
}

/* A batch writes the derived tables when someone waits for its commit, when
 * one of its jobs may read them, or when the last write is FLUSH_MS old. */
static bool flush_due(const store_t *st, const job_t *batch)
{
    if (tm_mono_ms() - st->last_flush_ms >= FLUSH_MS)
        return true;
    for (const job_t *j = batch; j; j = j->next)
        if (j->flush || !j->readings)
            return true;
    return false;
}

static int flush_stage(store_t *st, char *err, size_t errlen)
{
    int rc = store_acc_flush(st->stage, st->wdb, st->up_agg, st->up_latest, err, errlen);
    store_acc_clear(st->stage); /* written, or rolled back with its raw rows */
    return rc;
}

/* After the commit (ok) or the rollback: keep exactly what is not yet written. */
static void settle_derived(store_t *st, bool ok, bool flushed)
{
    if (ok && flushed) {
        store_acc_clear(st->acc);
        st->last_flush_ms = tm_mono_ms();
    } else if (ok && store_acc_merge(st->acc, st->stage)) {
        log_error("store", "out of memory: minute aggregates of one batch are lost");
    }
    store_acc_clear(st->stage);
}

/* BEGIN, and write the derived tables of earlier batches first when due. */
static int begin_batch(store_t *st, bool flushed, char *err, size_t errlen)
{
    int rc = store_exec(st->wdb, "BEGIN IMMEDIATE", err, errlen);
    if (!rc && flushed)
        rc = store_acc_flush(st->acc, st->wdb, st->up_agg, st->up_latest, err, errlen);
    return rc;
}

/*
 * Readings jobs are run in runs of consecutive jobs, without a savepoint
 * per job: a savepoint makes SQLite copy every page a job touches into its
 * statement journal, which cost a third of the ingest rate. Readings are
 * owned copies inserted with INSERT OR IGNORE, so replaying them is
 * harmless: if any job of a run fails, the run is undone and its jobs are
 * replayed one savepoint each, so one bad job still fails alone.
 *
 * The first run of a batch, before any generic job, needs no savepoint at
 * all: undoing it is rolling the transaction back and beginning it again.
 * Later runs share one savepoint (a generic job before them must not be
 * replayed). Returns the first job after the run; *rc is set only when the
 * transaction itself could not be begun again.
 */
static job_t *run_readings(store_t *st, job_t *first, bool first_in_tx, bool flushed, int *rc,
                           char *err, size_t errlen)
{
    if (!first_in_tx && step_reset(st->sp_begin) != SQLITE_DONE) {
        run_job(st, first); /* fails alone, with SQLite's reason */
        return first->next;
    }
    /* At the head of the batch the stage is empty: undoing the run is
     * clearing it, so the run folds straight into it. */
    store_acc_t *into = first_in_tx ? st->stage : st->run;
    job_t *j = first;
    int jrc = CM_OK;
    for (; !jrc && j && j->readings; j = j->next) {
        j->err[0] = '\0';
        jrc = j->rc = put_readings(st, j->readings, j->nreadings, j->err, sizeof j->err);
        if (!jrc)
            jrc = j->rc = fold_readings(st, into, j->readings, j->nreadings, j->err, sizeof j->err);
    }
    if (!jrc) {
        if (!first_in_tx) {
            step_reset(st->sp_release);
            if (store_acc_merge(st->stage, st->run))
                log_error("store", "out of memory: minute aggregates of one run of readings are lost");
            store_acc_clear(st->run);
        }
        return j;
    }
    store_acc_clear(into);
    if (first_in_tx) {
        store_exec(st->wdb, "ROLLBACK", NULL, 0);
        *rc = begin_batch(st, flushed, err, errlen);
        if (*rc)
            return NULL;
    } else {
        step_reset(st->sp_rollback);
        step_reset(st->sp_release);
    }
    for (job_t *k = first; k != j; k = k->next) /* j: after the job that failed */
        run_job(st, k);
    return j;
}

#define COMMIT_FAILED "commit failed: "

static void commit_batch(store_t *st, job_t *batch)
{
    /* Sized so that COMMIT_FAILED + err fits each job's err whole. */
    char err[sizeof batch->err - sizeof COMMIT_FAILED + 1];
    bool flushed = flush_due(st, batch);
    int rc = begin_batch(st, flushed, err, sizeof err);
    if (!rc) {
        /* The batch's own stage is written before each job that may read
         * it, and at the end. */
        bool first_in_tx = true;
        for (job_t *j = batch; !rc && j;) {
            if (j->readings) {
                j = run_readings(st, j, first_in_tx, flushed, &rc, err, sizeof err);
                first_in_tx = false;
                continue;
            }
            first_in_tx = false;
            if (flushed && !store_acc_empty(st->stage))
                rc = flush_stage(st, err, sizeof err);
            run_job(st, j);
            j = j->next;
        }
        if (!rc && flushed)
            rc = flush_stage(st, err, sizeof err);
        if (!rc)
            rc = store_exec(st->wdb, "COMMIT", err, sizeof err);
        if (rc)
            store_exec(st->wdb, "ROLLBACK", NULL, 0);
    }
    if (rc)
        log_error("store", "batch commit failed: %s", err);
    settle_derived(st, rc == CM_OK, flushed);

    pthread_mutex_lock(&st->mu);
    st->stats.batches++;
    pthread_mutex_unlock(&st->mu);
    while (batch) {
        job_t *next = batch->next;
        if (rc) {
            batch->rc = CM_ERR_DB;
            snprintf(batch->err, sizeof batch->err, COMMIT_FAILED "%s", err);
        }
        pthread_mutex_lock(&st->mu);
        st->stats.jobs++;
        st->stats.readings += batch->nreadings;
        if (batch->rc)
            st->stats.failed_jobs++;
        pthread_mutex_unlock(&st->mu);
        if (batch->done)
            batch->done(batch->done_arg, batch->rc, batch->err);
        free(batch);
        batch = next;
    }
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Take jobs until the batch is full, or the delay since its first job ran out. */
/* NULL when stopping with nothing left, or (*idle_flush) when the derived
 * tables have waited FLUSH_MS and no batch came to write them. */
static job_t *collect_batch(store_t *st, bool *idle_flush)
{
    *idle_flush = false;
    pthread_mutex_lock(&st->mu);
    while (!st->head && !st->stopping) {
        if (store_acc_empty(st->acc)) {
            pthread_cond_wait(&st->cv, &st->mu);
            continue;
        }
        int64_t left = st->last_flush_ms + FLUSH_MS - tm_mono_ms();
        struct timespec until;
        deadline_after(&until, left > 0 ? (int)left : 0);
        if (left <= 0 ||
            (pthread_cond_timedwait(&st->cv, &st->mu, &until) != 0 && !st->head)) {
            *idle_flush = !st->stopping;
            break;
        }
    }
    if (!st->head) {
        pthread_mutex_unlock(&st->mu);
        return NULL;
    }
    struct timespec deadline;
    deadline_after(&deadline, st->opts.batch_delay_ms);
    job_t *batch = NULL, **tail = &batch;
    int njobs = 0;
    size_t nread = 0;
    for (;;) {
        while (st->head && njobs < st->opts.batch_max_jobs &&
               nread < (size_t)st->opts.batch_max_readings) {
            job_t *j = st->head;
            st->head = j->next;
            if (!st->head)
                st->tail = NULL;
            st->depth--;
            /* The queue's count follows its list: empty exactly when depth is 0. */
            assert(st->depth >= 0 && (st->depth == 0) == (st->head == NULL));
            j->next = NULL;
            *tail = j;
            tail = &j->next;
            njobs++;
            nread += j->nreadings;
        }
        if (njobs >= st->opts.batch_max_jobs || nread >= (size_t)st->opts.batch_max_readings ||
            st->stopping)
            break;
        if (pthread_cond_timedwait(&st->cv, &st->mu, &deadline) != 0 && !st->head)
            break;
    }
    pthread_mutex_unlock(&st->mu);
    return batch;
}

/* Write the derived tables of committed batches in a transaction of their own. */
static void flush_pending(store_t *st)
{
    if (store_acc_empty(st->acc))
        return;
    char err[256];
    int rc = store_exec(st->wdb, "BEGIN IMMEDIATE", err, sizeof err);
    if (!rc)
        rc = store_acc_flush(st->acc, st->wdb, st->up_agg, st->up_latest, err, sizeof err);
    if (!rc)
        rc = store_exec(st->wdb, "COMMIT", err, sizeof err);
    if (rc) {
        store_exec(st->wdb, "ROLLBACK", NULL, 0);
        log_error("store", "writing minute aggregates failed (kept, retried): %s", err);
    } else {
        store_acc_clear(st->acc);
    }
    st->last_flush_ms = tm_mono_ms();
}

static void *writer_main(void *arg)
{
    store_t *st = arg;
    for (;;) {
        bool idle_flush;
        job_t *batch = collect_batch(st, &idle_flush);
        if (batch)
            commit_batch(st, batch);
        else if (idle_flush)
            flush_pending(st);
        else
            break;
    }
    flush_pending(st);
    return NULL;
}

static int enqueue(store_t *st, job_t *j)
{
    pthread_mutex_lock(&st->mu);
    if (st->stopping) {
        pthread_mutex_unlock(&st->mu);
        free(j);
        return CM_ERR_CLOSED;
    }
    assert(!j->next && (st->head == NULL) == (st->tail == NULL));
    if (st->tail)
        st->tail->next = j;
    else
        st->head = j;
    st->tail = j;
    st->depth++;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    return CM_OK;
}

static job_t *job_new(size_t nreadings)
{
    return calloc(1, sizeof(job_t) + nreadings * sizeof(store_reading_t));
}

int store_write_async(store_t *st, store_job_fn fn, void *arg, store_done_fn done, void *done_arg)
{
    job_t *j = job_new(0);
    if (!j)
        return CM_ERR_NOMEM;
    j->fn = fn;
    j->arg = arg;
    j->done = done;
    j->done_arg = done_arg;
    return enqueue(st, j);
}

static int put_readings_job(store_t *st, const store_reading_t *r, size_t n, bool flush,
                            store_done_fn done, void *done_arg)
{
    job_t *j = job_new(n);
    if (!j)
        return CM_ERR_NOMEM;
    j->readings = j->copy; /* non-NULL even when n is 0: it marks a readings job */
    if (n)
        memcpy(j->copy, r, n * sizeof *r);
    j->nreadings = n;
    j->flush = flush;
    j->done = done;
    j->done_arg = done_arg;
    return enqueue(st, j);
}

int store_put_readings(store_t *st, const store_reading_t *r, size_t n, store_done_fn done,
                       void *done_arg)
{
    return put_readings_job(st, r, n, false, done, done_arg);
}

static void waiter_done(void *arg, int rc, const char *err)
{
    waiter_t *w = arg;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    snprintf(w->err, sizeof w->err, "%s", err ? err : "");
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int waiter_wait(waiter_t *w, int rc, char *err, size_t errlen)
{
    if (rc == CM_OK) {
        pthread_mutex_lock(&w->mu);
        while (!w->done)
            pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
        rc = w->rc;
        if (rc)
            cm_fail(err, errlen, rc, "%s", w->err);
    } else {
        cm_fail(err, errlen, rc, "store: %s", cm_strerror(rc));
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    return rc;
}

int store_write(store_t *st, store_job_fn fn, void *arg, char *err, size_t errlen)
{
    waiter_t w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    return waiter_wait(&w, store_write_async(st, fn, arg, waiter_done, &w), err, errlen);
}

int store_put_readings_sync(store_t *st, const store_reading_t *r, size_t n, char *err,
                            size_t errlen)
{
    waiter_t w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    return waiter_wait(&w, put_readings_job(st, r, n, true, waiter_done, &w), err, errlen);
}

/* ---- open / close ---------------------------------------------------- */

static int prepare_writer(store_t *st, char *err, size_t errlen)
{
    int rc = store_prepare(st->wdb,
                           "INSERT OR IGNORE INTO reading(point_id, ts_ms, value, quality)"
                           " VALUES (?1, ?2, ?3, ?4)",
                           &st->ins_reading, err, errlen);
    if (!rc)
        rc = store_prepare(
            st->wdb,
            "INSERT INTO agg_minute(point_id, minute, n, vmin, vmax, vsum, vlast, last_ts_ms)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            " ON CONFLICT(point_id, minute) DO UPDATE SET n = n + excluded.n,"
            " vmin = min(vmin, excluded.vmin), vmax = max(vmax, excluded.vmax),"
            " vsum = vsum + excluded.vsum,"
            " vlast = CASE WHEN excluded.last_ts_ms >= last_ts_ms THEN excluded.vlast ELSE vlast END,"
            " last_ts_ms = max(last_ts_ms, excluded.last_ts_ms)",
            &st->up_agg, err, errlen);
    if (!rc)
        rc = store_prepare(st->wdb,
                           "INSERT INTO point_latest(point_id, ts_ms, value, quality)"
                           " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(point_id) DO UPDATE SET"
                           " ts_ms = excluded.ts_ms, value = excluded.value,"
                           " quality = excluded.quality WHERE excluded.ts_ms >= point_latest.ts_ms",
                           &st->up_latest, err, errlen);
    if (!rc)
        rc = store_prepare(st->wdb, "SAVEPOINT job", &st->sp_begin, err, errlen);
    if (!rc)
        rc = store_prepare(st->wdb, "RELEASE job", &st->sp_release, err, errlen);
    if (!rc)
        rc = store_prepare(st->wdb, "ROLLBACK TO job", &st->sp_rollback, err, errlen);
    return rc;
}

static void free_store(store_t *st)
{
    sqlite3_finalize(st->ins_reading);
    sqlite3_finalize(st->up_agg);
    sqlite3_finalize(st->up_latest);
    sqlite3_finalize(st->sp_begin);
    sqlite3_finalize(st->sp_release);
    sqlite3_finalize(st->sp_rollback);
    sqlite3_close(st->wdb);
    store_acc_free(st->acc);
    store_acc_free(st->stage);
    store_acc_free(st->run);
    free(st->fresh);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
}

store_t *store_open(const char *path, const store_opts_t *opts, char *err, size_t errlen)
{
    store_t *st = calloc(1, sizeof *st);
    if (!st) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(st->path, sizeof st->path, "%s", path);
    if (opts)
        st->opts = *opts;
    else
        store_opts_default(&st->opts);
    pthread_mutex_init(&st->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);

    char sub[256];
    int rc = CM_OK;
    if (!(st->acc = store_acc_new()) || !(st->stage = store_acc_new()) ||
        !(st->run = store_acc_new()))
        rc = cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    /* NOMUTEX: after store_open() only the writer thread touches this connection. */
    else if (sqlite3_open_v2(path, &st->wdb,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL) != SQLITE_OK) {
        rc = cm_fail(err, errlen, CM_ERR_DB, "%s: cannot open database: %s", path,
                     st->wdb ? sqlite3_errmsg(st->wdb) : "out of memory");
    }
    if (!rc) {
        sqlite3_busy_timeout(st->wdb, st->opts.busy_timeout_ms);
        rc = store_exec(st->wdb,
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                        " PRAGMA foreign_keys = ON;",
                        sub, sizeof sub);
        if (!rc)
            rc = migrate(st->wdb, sub, sizeof sub);
        if (!rc)
            rc = prepare_writer(st, sub, sizeof sub);
        if (rc)
            cm_fail(err, errlen, rc, "%s: %s", path, sub);
    }
    if (!rc && pthread_create(&st->writer, NULL, writer_main, st) != 0)
        rc = cm_fail(err, errlen, CM_ERR_NOMEM, "cannot start the writer thread");
    if (rc) {
        free_store(st);
        return NULL;
    }
    return st;
}

void store_close(store_t *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    st->stopping = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->writer, NULL);
    free_store(st);
}

sqlite3 *store_reader_open(store_t *st, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    /* NOMUTEX: a reader belongs to one thread (core.h), the lock bought nothing. */
    if (sqlite3_open_v2(st->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        cm_fail(err, errlen, CM_ERR_DB, "%s: %s", st->path, db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, st->opts.busy_timeout_ms);
    return db;
}

void store_reader_close(sqlite3 *db) { sqlite3_close(db); }

void store_get_stats(store_t *st, store_stats_t *out)
{
    pthread_mutex_lock(&st->mu);
    *out = st->stats;
    out->queue_depth = st->depth;
    pthread_mutex_unlock(&st->mu);
}

/* Rows one prune job deletes at most: a chunk takes a few milliseconds on the
 * writer, so readings and other jobs queued meanwhile wait no longer than that. */
#define PRUNE_CHUNK 5000

typedef struct prune_arg {
    const char *sql;
    int64_t before;
    int deleted;
} prune_arg_t;

static int prune_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    prune_arg_t *p = arg;
    sqlite3_stmt *s;
    int rc = store_prepare(db, p->sql, &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, p->before);
    sqlite3_bind_int(s, 2, PRUNE_CHUNK);
    rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK : cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    p->deleted = rc ? 0 : sqlite3_changes(db);
    return rc;
}

int store_prune_chunk(store_t *st, int64_t now_s, int *deleted, bool *more, char *err,
                      size_t errlen)
{
    /* The subqueries walk the time indexes (reading_by_time, agg_minute_by_time). */
    prune_arg_t raw = {.sql = "DELETE FROM reading WHERE (point_id, ts_ms) IN (SELECT point_id,"
                              " ts_ms FROM reading WHERE ts_ms < ?1 LIMIT ?2)",
                       .before = (now_s - (int64_t)st->opts.raw_retention_days * 86400) * 1000};
    prune_arg_t agg = {.sql = "DELETE FROM agg_minute WHERE (point_id, minute) IN (SELECT"
                              " point_id, minute FROM agg_minute WHERE minute < ?1 LIMIT ?2)",
                       .before = now_s - (int64_t)st->opts.agg_retention_days * 86400};
    *deleted = 0;
    *more = false;
    int rc = store_write(st, prune_job, &raw, err, errlen);
    if (!rc && raw.deleted == 0)
        rc = store_write(st, prune_job, &agg, err, errlen);
    if (rc)
        return rc;
    *deleted = raw.deleted + agg.deleted;
    *more = raw.deleted > 0 || agg.deleted == PRUNE_CHUNK;
    return CM_OK;
}

int store_prune(store_t *st, int64_t now_s, int64_t *deleted, char *err, size_t errlen)
{
    int64_t total = 0;
    bool more = true;
    int rc = CM_OK, n;
    while (!rc && more) {
        rc = store_prune_chunk(st, now_s, &n, &more, err, errlen);
        total += rc ? 0 : n;
    }
    if (deleted)
        *deleted = total;
    return rc;
}
