/* analytics internal: collecting conditions and state and writing them in
 * one store job. */
#ifndef COALMON_ANALYTICS_CONDITIONS_H
#define COALMON_ANALYTICS_CONDITIONS_H

#include "analytics/ledger.h"

typedef struct ana_cond_list {
    ana_condition_t *v;
    size_t n, cap;
} ana_cond_list_t;
int ana_cond_add(ana_cond_list_t *l, const ana_condition_t *c);
/* The condition type of a gate's output-vs-electricity deviation (ALM-3). */
const char *ana_gate_cond_type(ana_gate g);
void ana_cond_list_free(ana_cond_list_t *l);

#define ANA_MAX_STATE 8
/* A condition with end != 0 is written open with that end due, and closed
 * by the next commit (so a reader of open rows sees it once). */
typedef struct ana_write {
    ana_cond_list_t put;   /* upserted by (type, source, start) */
    ana_cond_list_t end;   /* ended if still open (end = their end, or now) */
    ana_cond_list_t sweep; /* same type and source, start before theirs: ended now */
    int n_state;
    char state_name[ANA_MAX_STATE][48];
    char *state_value[ANA_MAX_STATE]; /* malloc'd, freed by ana_write_free */
} ana_write_t;
int ana_write_commit(store_t *st, ana_write_t *w, char *err, size_t errlen);
void ana_write_free(ana_write_t *w);

int ana_state_put(sqlite3 *db, const char *name, const char *value, char *err, size_t errlen);
/* malloc'd value or NULL. */
char *ana_state_get(sqlite3 *db, const char *name);
cJSON *ana_condition_json(const ana_condition_t *c);

#endif
