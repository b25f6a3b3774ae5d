/* Helpers for the collector tests: a store in a temporary folder, a
 * configuration from text, and bounded waits on SQL conditions. */
#ifndef COALMON_TEST_COLLECTOR_UTIL_H
#define COALMON_TEST_COLLECTOR_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/collector.h"
#include "sim/sim.h"

typedef struct tfix {
    char dir[64], path[128];
    store_t *st;
    sqlite3 *db; /* a reader */
    col_t *col;
} tfix_t;

/* The fixture of the running test, freed by tfix_teardown when an assertion
 * jumped out of the test before it could free it itself. */
static tfix_t *g_tfix;

static inline tfix_t *tfix_new(void)
{
    tfix_t *f = calloc(1, sizeof *f);
    g_tfix = f;
    snprintf(f->dir, sizeof f->dir, "/tmp/coalmon-col-XXXXXX");
    if (!mkdtemp(f->dir))
        fail_msg("mkdtemp");
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    store_opts_t o;
    store_opts_default(&o);
    o.batch_delay_ms = 5;
    char err[256];
    f->st = store_open(f->path, &o, err, sizeof err);
    if (!f->st)
        fail_msg("%s", err);
    f->db = store_reader_open(f->st, err, sizeof err);
    if (!f->db)
        fail_msg("%s", err);
    return f;
}

static inline void tfix_free(tfix_t *f)
{
    if (f == g_tfix)
        g_tfix = NULL;
    col_stop(f->col);
    store_reader_close(f->db);
    store_close(f->st);
    const char *suffix[] = {"", "-wal", "-shm"};
    char p[160];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
}

static inline int tfix_teardown(void **state)
{
    if (g_tfix)
        tfix_free(g_tfix);
    return 0;
}

/* Start the collector on configuration text ("collector" object only). */
static inline void tfix_start(tfix_t *f, const char *collector_json)
{
    char text[8192], err[512];
    snprintf(text, sizeof text, "{\"collector\": %s}", collector_json);
    cfg_t *cfg = cfg_parse("test.json", text, err, sizeof err);
    if (!cfg)
        fail_msg("%s", err);
    f->col = col_start(cfg, f->st, err, sizeof err);
    cfg_free(cfg);
    if (!f->col)
        fail_msg("col_start: %s", err);
}

static inline int tfix_noop(sqlite3 *db, void *arg, char *err, size_t errlen) { return 0; }

/* Wait until everything queued before now is committed (the writer is FIFO). */
static inline void tfix_flush(tfix_t *f)
{
    char err[128];
    if (store_write(f->st, tfix_noop, NULL, err, sizeof err))
        fail_msg("flush: %s", err);
}

/* First column of the first row as a number (0 when no row). */
static inline double sql_num(sqlite3 *db, const char *sql, const char *text_arg)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (text_arg)
        sqlite3_bind_text(s, 1, text_arg, -1, SQLITE_TRANSIENT);
    double v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_double(s, 0) : 0;
    sqlite3_finalize(s);
    return v;
}

/* Wait (bounded) until the query's number is >= want; fail with what was seen. */
static inline double wait_sql(sqlite3 *db, const char *sql, const char *arg, double want,
                              int timeout_ms)
{
    int64_t end = tm_mono_ms() + timeout_ms;
    double v = 0;
    while (tm_mono_ms() < end) {
        v = sql_num(db, sql, arg);
        if (v >= want)
            return v;
        tm_sleep_ms(50);
    }
    fail_msg("timed out after %d ms: %s [%s] = %g, wanted >= %g", timeout_ms, sql,
             arg ? arg : "", v, want);
    return v;
}

static inline void sim_cmd(sim_server_t *s, const char *cmd)
{
    char reply[128];
    if (sim_server_command(s, cmd, reply, sizeof reply))
        fail_msg("sim command '%s': %s", cmd, reply);
}

#define COMM_STATE_IS                                                                           \
    "SELECT count(*) FROM device_comm c JOIN device d ON d.id = c.device_id"                    \
    " WHERE d.name = ?1 AND c.state = "

#endif
