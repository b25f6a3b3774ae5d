/* Internals shared by the files of the alarms module; not a public header. */
#ifndef COALMON_ALARMS_INTERNAL_H
#define COALMON_ALARMS_INTERNAL_H

#include "alarms/alarms.h"

#define ALARM_MAX_HOOKS 8
#define ALARM_MAX_TRANS 64

/* Made from a device's data: held back while that device is offline. */
bool alarm_type_derived(int type);

/* How an observation affects its pending condition. */
typedef enum obs_mode {
    OBS_EVENT, /* one occurrence: counts, present until clear_after passes */
    OBS_ON,    /* a state began: present until OBS_OFF */
    OBS_OFF,   /* the state ended: the hysteresis starts */
    OBS_LEVEL, /* a state seen again by polling: no count */
    OBS_GONE,  /* resolved at the source: forget it, its alarm clears now */
} obs_mode;

typedef struct obs {
    int type;
    const char *source, *device, *detail;
    const char *origin; /* enterprise code of a received alarm, NULL: ours */
    bool repeat;        /* the same occurrence read again: no count */
    int level;
    bool has_value;
    double value;
    int64_t first_ms; /* when it began (for OBS_LEVEL the state's since), else ts */
    int64_t ts_ms;
    obs_mode mode;
} obs_t;

/* A transition for the hooks, copied out of the write job. */
typedef struct alarm_trans {
    int64_t alarm_id;
    int type, level;
    char kind[16];
    char source[96];
    char detail[256];
} alarm_trans_t;

/* State of one evaluation, passed through the write job. */
#define ALARM_MAX_IGNORE 16

typedef struct tick_ctx {
    int64_t now_ms;
    /* audit actions (prefixes) that are operations, not parameters */
    char ignore[ALARM_MAX_IGNORE][32];
    int nignore;
    /* Only a platform turns the enterprises' alarm records into alarms: a mine
     * whose demo carries a receiver would otherwise show each alarm twice. */
    bool platform;
    alarm_setting_t set[ALARM_T_MAX + 1];
    alarm_trans_t trans[ALARM_MAX_TRANS];
    int ntrans, total;
} tick_ctx_t;

/* eval.c: the whole evaluation as one store job; arg is a tick_ctx_t. */
int alarm_tick_job(sqlite3 *db, void *arg, char *err, size_t errlen);

/* sources.c: read producer tables by cursor and observe. */
int alarm_ingest(sqlite3 *db, tick_ctx_t *t, char *err, size_t errlen);
/* engine.c: record one observation in alarm_pending. */
int alarm_observe(sqlite3 *db, tick_ctx_t *t, const obs_t *o, char *err, size_t errlen);

/* record.c: transitions, upload records, helpers. */
int alarm_log_event(sqlite3 *db, int64_t alarm_id, int64_t ts_ms, const char *kind,
                    const char *actor, const char *detail, char *err, size_t errlen);
int alarm_put_upload(sqlite3 *db, int64_t alarm_id, char *err, size_t errlen);
void alarm_note(tick_ctx_t *t, int64_t alarm_id, int type, int level, const char *kind,
                const char *source, const char *detail);
/* Clear an active alarm (event, upload) inside a job. */
int alarm_do_clear(sqlite3 *db, int64_t id, int64_t now_ms, const char *actor, const char *reason,
                   char *err, size_t errlen);
/* One alarm row as JSON (columns of ALARM_COLS from index col). */
#define ALARM_COLS                                                                           \
    "a.id, a.type, a.level, a.source, a.device, a.state, a.first_seen_ms, a.raised_ms,"     \
    " a.last_seen_ms, a.count, a.value, a.worst, a.detail, a.ack_by, a.ack_ms, a.ack_comment," \
    " a.shelved_until_ms, a.shelved_by, a.shelve_reason, a.inhibited, a.cleared_ms,"        \
    " a.cleared_by, a.clear_reason, a.origin"
cJSON *alarm_row_json(sqlite3_stmt *s, int col);

/* hooks.c */
typedef struct alarm_hooks alarm_hooks_t;
alarm_hooks_t *alarm_hooks_new(const cfg_t *cfg, char *err, size_t errlen);
void alarm_hooks_free(alarm_hooks_t *h);
void alarm_hooks_fire(alarm_hooks_t *h, struct event_base *base, const alarm_trans_t *t, int n);
/* Reap finished commands; kill those past their time. */
void alarm_hooks_reap(alarm_hooks_t *h);

#endif
