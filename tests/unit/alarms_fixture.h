/* Shared fixture of the alarms unit tests (not a test itself: no test_ prefix). */
#ifndef COALMON_TEST_ALARMS_FIXTURE_H
#define COALMON_TEST_ALARMS_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

#include <cmocka.h>

#include "alarms/alarms.h"

typedef struct fx {
    char dir[64], path[128];
    store_t *st;
    sqlite3 *db; /* reader */
    alarm_engine_t *e;
    int64_t t0;  /* a fixed start a little in the past, so nothing is "future" */
} fx_t;

static inline void fx_open(fx_t *f, const cfg_t *cfg)
{
    char err[256];
    store_opts_t o;
    store_opts_default(&o);
    o.batch_delay_ms = 0;
    f->st = store_open(f->path, &o, err, sizeof err);
    if (!f->st)
        fail_msg("store: %s", err);
    f->db = store_reader_open(f->st, err, sizeof err);
    f->e = alarm_engine_new(f->st, cfg, err, sizeof err);
    if (!f->e)
        fail_msg("engine: %s", err);
}

static inline void fx_close(fx_t *f)
{
    alarm_engine_free(f->e);
    store_reader_close(f->db);
    store_close(f->st);
    f->e = NULL;
    f->db = NULL;
    f->st = NULL;
}

/* Engine tests change settings, which is itself a parameter change (ALM-5);
 * they silence that type unless a test is about it (fx_param_alarms). */
static bool fx_param_alarms;

static inline int fx_quiet_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    alarm_setting_t s;
    int rc = alarm_setting_get(db, ALARM_T_PARAMETER, &s, err, errlen);
    s.enabled = false;
    return rc ? rc : alarm_setting_put(db, &s, "tester", "cli", "test", NULL, err, errlen);
}

static inline int fx_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/coalmon-alarms-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    f->t0 = (tm_now_ms() / 1000 - 3600) * 1000;
    fx_open(f, NULL);
    char err[256];
    if (!fx_param_alarms && store_write(f->st, fx_quiet_job, NULL, err, sizeof err))
        fail_msg("%s", err);
    *state = f;
    return 0;
}

static inline int fx_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static inline int fx_teardown(void **state)
{
    fx_t *f = *state;
    fx_close(f);
    nftw(f->dir, fx_rm, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static inline int fx_tick(fx_t *f, int64_t at_ms)
{
    char err[256];
    int n = 0;
    if (alarm_engine_tick(f->e, at_ms, &n, err, sizeof err))
        fail_msg("tick: %s", err);
    return n;
}

typedef struct cond_job {
    alarm_cond_t c[4];
    int n;
} cond_job_t;

static inline int fx_cond_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    cond_job_t *j = arg;
    for (int i = 0; i < j->n; i++) {
        int rc = alarm_condition_put(db, &j->c[i], err, errlen);
        if (rc)
            return rc;
    }
    return CM_OK;
}

/* One condition observed at ts_ms. */
static inline void fx_cond(fx_t *f, int type, const char *source, const char *state, double value,
                           int64_t ts_ms)
{
    cond_job_t j = {.n = 1};
    j.c[0] = (alarm_cond_t){.type = type, .source = source, .state = state, .has_value = true,
                            .value = value, .detail = "test", .ts_ms = ts_ms};
    char err[256];
    if (store_write(f->st, fx_cond_job, &j, err, sizeof err))
        fail_msg("condition: %s", err);
}

typedef struct set_job {
    alarm_setting_t s;
    const char *channel;
} set_job_t;

static inline int fx_set_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    set_job_t *j = arg;
    return alarm_setting_put(db, &j->s, "tester", j->channel, "test", NULL, err, errlen);
}

static inline void fx_setting(fx_t *f, int type, int holdoff_s, int clear_after_s)
{
    set_job_t j = {.channel = "cli"};
    char err[256];
    if (alarm_setting_get(f->db, type, &j.s, err, sizeof err))
        fail_msg("%s", err);
    j.s.holdoff_s = holdoff_s;
    j.s.clear_after_s = clear_after_s;
    if (store_write(f->st, fx_set_job, &j, err, sizeof err))
        fail_msg("setting: %s", err);
}

/* An integer from a one-value query, with one optional text parameter. */
static inline long long fx_int(fx_t *f, const char *sql, const char *param)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(f->db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(f->db));
    if (param)
        sqlite3_bind_text(s, 1, param, -1, SQLITE_TRANSIENT);
    long long v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

static inline long long fx_active(fx_t *f, int type, const char *source)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(max(id), 0) FROM alarm WHERE type = %d AND source = ?"
             " AND state <> 'cleared'",
             type);
    return fx_int(f, sql, source);
}

#endif
