/*
 * alarms: turns conditions into alarms people act on (ALM-1..10) — the
 * engine (hold-off, hysteresis, de-duplication, inhibition, shelving), the
 * lifecycle (raised, acknowledged, cleared) with its history, the upload
 * records, the hooks to other channels, and the audited path for parameter
 * changes (ALM-5).
 *
 * Integration is by data: the engine reads producer tables (device_comm,
 * device_event, audit_log, alarm_input and, as they land, intake's and
 * analytics' tables) by cursor, so no producer links against this module.
 *
 * Owns: the tables alarm, alarm_event, alarm_pending, alarm_setting,
 * alarm_input, alarm_cursor, alarm_param_snapshot (migration 0050).
 * Threads: an alarm_engine_t is used by one thread (the daemon's event loop);
 * its write work runs as store jobs on the writer thread. The timer's
 * evaluation is asynchronous (the loop starts the job and hears of its end;
 * it never waits); alarm_engine_tick() is the waiting form for tests and
 * tools. The lifecycle,
 * setting and query functions take a store_t or a sqlite3 connection and may
 * be called from any thread that owns that connection (CLI, web handlers).
 * Functions named *_job or taking `sqlite3 *db` for writing must run inside a
 * store write job.
 * Ownership: the engine owns its hooks and children; the cJSON values these
 * functions return belong to the caller. Strings passed in stay the caller's.
 * Errors: 0 or a negative cm_err; CM_ERR_INVALID names the field in err,
 * CM_ERR_NOTFOUND for an unknown alarm, CM_ERR_CONFLICT for a transition the
 * alarm's state or type does not allow.
 */
#ifndef COALMON_ALARMS_H
#define COALMON_ALARMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct event_base;

/* ---- types and levels ---------------------------------------------------- */

/* Numbers 1..10 are uplink.md §3's alarmType dictionary; 11 is ours. */
typedef enum alarm_type {
    ALARM_T_OVER_PRODUCTION = 1,
    ALARM_T_ABNORMAL_POWER = 2,
    ALARM_T_OUTPUT_VS_POWER = 3,
    ALARM_T_OUTPUT_VS_SALES = 4,
    ALARM_T_PARAMETER = 5,
    ALARM_T_DEVICE_FAULT = 6,
    ALARM_T_POWER_LOSS = 7,
    ALARM_T_COMM = 8,
    ALARM_T_ESCAPE = 9,
    ALARM_T_POWER_QUALITY = 10,
    ALARM_T_VIBRATION = 11,
} alarm_type;
#define ALARM_T_MAX 11

enum { ALARM_NOTICE = 1, ALARM_WARNING = 2, ALARM_SERIOUS = 3 };

/* "over_production", ... ; NULL outside 1..ALARM_T_MAX. */
const char *alarm_type_name(int type);
/* Chinese name for the dashboard, e.g. "通信中断". */
const char *alarm_type_label(int type);
/* Number from a name or a decimal number; CM_ERR_INVALID when neither. */
int alarm_type_parse(const char *s, int *type);
/* "notice", "warning", "serious"; NULL outside 1..3. */
const char *alarm_level_name(int level);
/* Name or number 1..3. */
int alarm_level_parse(const char *s, int *level);
/* The type number sent upward (uplink.md knows 1..10; vibration goes as 6). */
int alarm_type_uplink(int type);

/* ---- settings per type (audited) ----------------------------------------- */

typedef struct alarm_setting {
    int type;
    int level;
    int holdoff_s;     /* condition present this long before the alarm is raised */
    int clear_after_s; /* absent this long before it clears (hysteresis) */
    bool has_threshold;
    double threshold;  /* |value| below it is not a condition */
    bool manual_clear; /* a person may clear it with a reason */
    bool enabled;
} alarm_setting_t;

/* Built-in default for a type (the values migration-less databases start with). */
void alarm_setting_default(int type, alarm_setting_t *out);
/* Current setting (the default when no row). */
int alarm_setting_get(sqlite3 *db, int type, alarm_setting_t *out, char *err, size_t errlen);
/* Write job body: store s if it differs from the current one, recording old and
 * new with store_audit (action "alarm.setting", target "alarm.<name>"). *changed
 * (may be NULL) tells whether anything changed. Validates every field. */
int alarm_setting_put(sqlite3 *db, const alarm_setting_t *s, const char *actor, const char *channel,
                      const char *reason, bool *changed, char *err, size_t errlen);
/* Settings as JSON objects / apply a JSON object of changes onto *s (keys level,
 * holdoff_s, clear_after_s, threshold (number or null), manual_clear, enabled).
 * Unknown keys and bad values are CM_ERR_INVALID naming the key in field. */
cJSON *alarm_setting_json(const alarm_setting_t *s);
int alarm_setting_apply_json(alarm_setting_t *s, const cJSON *changes, char *field,
                             size_t fieldlen, char *err, size_t errlen);

/* ---- the audited path for other parameters (ALM-5) ------------------------ */

/*
 * Record a parameter change when old and new differ (old NULL: newly set):
 * calls store_audit() in the caller's transaction. Use for capacities, model
 * settings, device parameters, station-reported values. *changed may be NULL.
 */
int alarm_param_change(sqlite3 *db, const char *actor, const char *channel, const char *action,
                       const char *target, const char *old_value, const char *new_value,
                       const char *reason, bool *changed, char *err, size_t errlen);
/*
 * At start: compare what the configuration says about devices, meter maps and
 * the analytics/intake sections with the snapshot of the last start, audit
 * every difference (channel "config"), and store the new snapshot — one
 * transaction. The first start only records the snapshot. *changes counts.
 */
int alarm_config_snapshot(store_t *st, const cfg_t *cfg, int *changes, char *err, size_t errlen);

/* ---- conditions ----------------------------------------------------------- */

typedef struct alarm_cond {
    int type;
    const char *source; /* required: what the alarm is about */
    const char *device; /* device whose data made it (for inhibition), may be NULL */
    const char *state;  /* "on" (default, present until "off"), "off", or "event" */
    int level;          /* 0: the type's level */
    bool has_value;
    double value;
    const char *detail; /* human text, may be NULL */
    int64_t ts_ms;      /* 0: now */
} alarm_cond_t;

/* Write job body: queue a condition in alarm_input (the generic condition API). */
int alarm_condition_put(sqlite3 *db, const alarm_cond_t *c, char *err, size_t errlen);
/* Build a condition from JSON {type, source, device?, state?, level?, value?, detail?}.
 * Strings point into j. Bad input: CM_ERR_INVALID with the field named. */
int alarm_cond_from_json(const cJSON *j, alarm_cond_t *c, char *field, size_t fieldlen, char *err,
                         size_t errlen);

/* ---- the engine ----------------------------------------------------------- */

typedef struct alarm_engine alarm_engine_t;

typedef struct alarm_opts {
    int tick_ms; /* evaluation interval (default 500) */
} alarm_opts_t;

/* Read "alarms" from cfg (may be NULL: defaults, no hooks): tick, hooks, and
 * per-type settings, which are applied through the audited path (channel
 * "config") when they differ from the database. NULL with err on failure. */
alarm_engine_t *alarm_engine_new(store_t *st, const cfg_t *cfg, char *err, size_t errlen);
void alarm_engine_free(alarm_engine_t *e);
/* Start the evaluation timer (and run hooks) on base: one evaluation at a
 * time, as a store job the loop does not wait for. alarm_engine_free() waits
 * for one still at the writer. */
int alarm_engine_start(alarm_engine_t *e, struct event_base *base, char *err, size_t errlen);
/* Evaluate now: read new conditions, raise, update, clear, unshelve. Returns
 * the number of transitions in *n (may be NULL). now_ms is a parameter so tests
 * drive time. */
int alarm_engine_tick(alarm_engine_t *e, int64_t now_ms, int *n, char *err, size_t errlen);
/* Ask for an evaluation on the next loop turn (new data arrived). */
void alarm_engine_kick(alarm_engine_t *e);
/* Told after every evaluation or lifecycle call that changed something. */
typedef void (*alarm_change_fn)(void *arg);
void alarm_engine_on_change(alarm_engine_t *e, alarm_change_fn fn, void *arg);
/* Tell the listener (after a lifecycle call made outside the engine). */
void alarm_engine_changed(alarm_engine_t *e);

/* ---- lifecycle (each one transaction, its transition in alarm_event) ------- */

int alarm_ack(store_t *st, int64_t id, const char *actor, const char *comment, char *err,
              size_t errlen);
/* Silence for duration_s (1 s .. 7 days) with a reason; it returns by itself. */
int alarm_shelve(store_t *st, int64_t id, int64_t duration_s, const char *actor,
                 const char *reason, char *err, size_t errlen);
/* Clear by hand: only types whose setting allows it; reason required. */
int alarm_clear(store_t *st, int64_t id, const char *actor, const char *reason, char *err,
                size_t errlen);

/* ---- queries -------------------------------------------------------------- */

typedef struct alarm_filter {
    const char *state; /* "active" (default), "cleared", "all", "raised", "acknowledged",
                          "shelved" */
    int type;          /* 0: any */
    const char *source;
    const char *origin; /* NULL: any; "local": raised here; else an enterprise code */
    int min_level;     /* 0: any */
    int64_t from_ms, to_ms; /* raised within [from, to); 0: open */
    int limit;         /* default 200, at most 1000 */
    int offset;
} alarm_filter_t;

/* Parse a filter from key/value getter (query string or CLI options). The
 * getter returns the value or NULL; strings must outlive the filter. */
typedef const char *(*alarm_get_fn)(void *arg, const char *key);
int alarm_filter_parse(alarm_filter_t *f, alarm_get_fn get, void *arg, char *field,
                       size_t fieldlen, char *err, size_t errlen);

/* {"alarms":[...], "total": n}. */
int alarm_list_json(sqlite3 *db, const alarm_filter_t *f, cJSON **out, char *err, size_t errlen);
/* One alarm with its "events" history. CM_ERR_NOTFOUND when none. */
int alarm_get_json(sqlite3 *db, int64_t id, cJSON **out, char *err, size_t errlen);
/* Conditions seen but not raised (hold-off, inhibited) with why. */
int alarm_pending_json(sqlite3 *db, cJSON **out, char *err, size_t errlen);
/* Transitions with alarm_event.id > after_id (at most max), oldest first, each
 * {"id","alarm_id","kind","ts","actor","detail","alarm":{...}}. *last gets the
 * highest id returned (unchanged when none). */
int alarm_events_since(sqlite3 *db, int64_t after_id, int max, cJSON **out, int64_t *last,
                       char *err, size_t errlen);
/* Highest alarm_event id (0 when none). */
int64_t alarm_events_head(sqlite3 *db);

#endif
