/* Shared by the analytics store tests (test_analytics_read.c,
 * test_analytics_health.c): a store in a temporary folder with a read
 * connection and the default analytics configuration; the test's own data
 * hang off `data` (freed by afx_teardown) or live in its own struct. */
#ifndef COALMON_TEST_ANALYTICS_FIXTURE_H
#define COALMON_TEST_ANALYTICS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/analytics.h"

typedef struct afx {
    char dir[64], path[128];
    store_t *st;
    sqlite3 *db;
    ana_conf_t conf;
    int64_t start;      /* the test's first interval */
    ana_interval_t *iv; /* the test's intervals (freed by afx_teardown) */
    size_t n;
} afx_t;

static inline int afx_setup(void **state)
{
    afx_t *f = calloc(1, sizeof *f);
    char err[256];
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cm-ana-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/coalmon.db", f->dir);
    f->st = store_open(f->path, NULL, err, sizeof err);
    f->db = f->st ? store_reader_open(f->st, err, sizeof err) : NULL;
    if (!f->db) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    ana_conf_default(&f->conf);
    *state = f;
    return 0;
}

static inline int afx_teardown(void **state)
{
    afx_t *f = *state;
    store_reader_close(f->db);
    store_close(f->st);
    char p[160];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f->iv);
    free(f);
    return 0;
}

/* store_write job running the SQL text arg. */
static inline int afx_sql_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return store_exec(db, arg, err, errlen);
}

#endif
