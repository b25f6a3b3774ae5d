/* Shared by the error-path tests: make a read connection fail mid-query, the
 * way a busy database, an I/O error or a corrupt page would. SQLite calls the
 * progress handler while a statement runs; a nonzero answer stops it with
 * SQLITE_INTERRUPT ("interrupted"). Only statements whose SQL names `table`
 * fail, so a test can break one query of many (the truck sales, not the
 * output) and see that exact error path. Not from a table drop: the query
 * prepares, starts and fails while running. */
#ifndef COALMON_TEST_FAIL_STORE_H
#define COALMON_TEST_FAIL_STORE_H

#include <string.h>

#include <sqlite3.h>

typedef struct fail_store {
    sqlite3 *db;
    const char *table; /* NULL: every statement */
    int hits;          /* statements stopped */
} fail_store_t;

static inline int fail_store_tick(void *arg)
{
    fail_store_t *f = arg;
    for (sqlite3_stmt *s = sqlite3_next_stmt(f->db, NULL); s; s = sqlite3_next_stmt(f->db, s)) {
        const char *sql = sqlite3_sql(s);
        if (sqlite3_stmt_busy(s) && sql && (!f->table || strstr(sql, f->table))) {
            f->hits++;
            return 1;
        }
    }
    return 0;
}

/* Queries on db naming table (NULL: all) fail from now on; f must outlive
 * the use. fail_store_off() restores the connection. */
static inline void fail_store_on(fail_store_t *f, sqlite3 *db, const char *table)
{
    f->db = db;
    f->table = table;
    f->hits = 0;
    sqlite3_progress_handler(db, 1, fail_store_tick, f);
}

static inline void fail_store_off(fail_store_t *f)
{
    sqlite3_progress_handler(f->db, 0, NULL, NULL);
}

#endif
