/*
 * Private to core/store*.c: per-batch accumulation of minute aggregates and
 * latest values, so the writer upserts each (point, minute) and each point
 * once per transaction instead of once per reading. Writer thread only.
 */
#ifndef COALMON_STORE_ACC_H
#define COALMON_STORE_ACC_H

#include "core/core.h"

typedef struct store_acc store_acc_t;

store_acc_t *store_acc_new(void);
void store_acc_free(store_acc_t *a);
/* Fold one reading in: into the minute aggregate when aggregate is true, and
 * always into the latest value. CM_ERR_NOMEM when the tables cannot grow. */
int store_acc_add(store_acc_t *a, const store_reading_t *r, bool aggregate);
/* Upsert everything accumulated with the given statements (parameters as in
 * store.c). The tables are kept: clear them once the transaction committed. */
int store_acc_flush(store_acc_t *a, sqlite3 *db, sqlite3_stmt *up_agg, sqlite3_stmt *up_latest,
                    char *err, size_t errlen);
/* Fold everything of src into dst (src is left as it is). */
int store_acc_merge(store_acc_t *dst, const store_acc_t *src);
bool store_acc_empty(const store_acc_t *a);
void store_acc_clear(store_acc_t *a);

#endif
