/*
 * core: the shared ground of coalmon — errors, logging, configuration, time
 * and shifts, and the store (SQLite).
 *
 * Owns: the database file and the single writer thread that commits to it.
 * Threads: logging, time and configuration helpers may be called from any
 * thread. A store_t may be shared by all threads; each thread that reads
 * opens its own read connection with store_reader_open() and closes it.
 * Ownership: every *_open / *_load has a matching *_close / *_free; buffers
 * passed in stay the caller's. Functions return 0 or a negative cm_err; the
 * text for a human goes to an error buffer (`err`, `errlen`) supplied by the
 * caller, never to stdout.
 */
#ifndef COALMON_CORE_H
#define COALMON_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

/* ---- errors --------------------------------------------------------- */

typedef enum cm_err {
    CM_OK = 0,
    CM_ERR_NOMEM = -1,    /* allocation failed */
    CM_ERR_IO = -2,       /* file or socket I/O failed */
    CM_ERR_CONFIG = -3,   /* configuration invalid */
    CM_ERR_INVALID = -4,  /* argument or input invalid */
    CM_ERR_NOTFOUND = -5, /* no such item */
    CM_ERR_DB = -6,       /* SQLite reported an error */
    CM_ERR_TIMEOUT = -7,  /* peer did not answer in time */
    CM_ERR_PROTOCOL = -8, /* peer answered nonsense or an exception */
    CM_ERR_CLOSED = -9,   /* object is shutting down */
    CM_ERR_CONFLICT = -10, /* exists already with other content */
    CM_ERR_AUTH = -11,    /* authentication or permission failed */
    CM_ERR_CRYPTO = -12,  /* encryption or decryption failed */
} cm_err;

/* A static English description of an error code. Never NULL. */
const char *cm_strerror(int err);

/* snprintf into err (if non-NULL) and return code; for one-line error paths. */
int cm_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- logging -------------------------------------------------------- */

typedef enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG } log_level;

/* Configure once at start. to_syslog false means stderr. ident names the program. */
void log_setup(const char *ident, log_level level, bool to_syslog);
/* Parse "error"/"warn"/"info"/"debug"; returns CM_ERR_INVALID on anything else. */
int log_level_parse(const char *s, log_level *out);
/* One line per event: time, level, module, message. Thread-safe. */
void log_msg(log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(mod, ...) log_msg(LOG_LVL_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_LVL_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_LVL_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_msg(LOG_LVL_DEBUG, mod, __VA_ARGS__)

/* ---- configuration -------------------------------------------------- */

/*
 * A configuration file: JSON with // and / * * / comments. cfg_t owns the
 * parsed tree and the source text (for line numbers). Errors name the file,
 * the line and the key path, e.g. "conf/x.json:12: collector.devices[0].port:
 * expected an integer in 1..65535".
 */
typedef struct cfg cfg_t;

/* A position in the tree: the node and its dotted path, for messages. */
typedef struct cfg_sec {
    const cfg_t *cfg;
    const cJSON *node; /* NULL when the section is absent */
    char path[192];
} cfg_sec_t;

/* Load and parse path. On failure returns NULL and fills err. */
cfg_t *cfg_load(const char *path, char *err, size_t errlen);
/* Parse text already in memory; name is used in messages. */
cfg_t *cfg_parse(const char *name, const char *text, char *err, size_t errlen);
void cfg_free(cfg_t *cfg);
const char *cfg_file(const cfg_t *cfg);
/* Directory of the file (for relative paths inside it), without trailing '/'. */
const char *cfg_dir(const cfg_t *cfg);
/* Path p of the file's settings: relative to the file's directory, absolute as is. Returns
 * CM_ERR_CONFIG, with no message, when it does not fit outlen: the caller names the key. */
int cfg_resolve_path(const cfg_t *cfg, const char *p, char *out, size_t outlen);

cfg_sec_t cfg_root(const cfg_t *cfg);
/* Child object; absent child gives a section with node NULL (not an error). */
int cfg_section(const cfg_sec_t *parent, const char *key, cfg_sec_t *out, char *err, size_t errlen);
/* Number of items of the array at key (0 when absent); error if not an array. */
int cfg_array_len(const cfg_sec_t *parent, const char *key, int *n, char *err, size_t errlen);
/* Item i of the array at key, which must be an object. */
int cfg_array_item(const cfg_sec_t *parent, const char *key, int i, cfg_sec_t *out, char *err,
                   size_t errlen);

/* Typed getters. `required` false: absent key leaves *out = def. A value outside
 * min..max (or not of the type) is an error naming the file, line, key and range. */
int cfg_get_int(const cfg_sec_t *s, const char *key, bool required, int def, int min, int max,
                int *out, char *err, size_t errlen);
int cfg_get_int64(const cfg_sec_t *s, const char *key, bool required, int64_t def, int64_t min,
                  int64_t max, int64_t *out, char *err, size_t errlen);
int cfg_get_double(const cfg_sec_t *s, const char *key, bool required, double def, double min,
                   double max, double *out, char *err, size_t errlen);
int cfg_get_bool(const cfg_sec_t *s, const char *key, bool required, bool def, bool *out,
                 char *err, size_t errlen);
/* Copies into out (size outlen); too long is an error. */
int cfg_get_string(const cfg_sec_t *s, const char *key, bool required, const char *def, char *out,
                   size_t outlen, char *err, size_t errlen);
/* Report a semantic error at key of s with the file:line: prefix. Returns CM_ERR_CONFIG. */
int cfg_error(const cfg_sec_t *s, const char *key, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Line (1-based) where key path begins in the source, 0 when unknown. */
int cfg_line_of(const cfg_t *cfg, const char *path);

/* Remove // and / * * / comments outside strings, keeping newlines. Returns a
 * new string the caller frees, or NULL on allocation failure / unterminated comment. */
char *cfg_strip_comments(const char *text);

/* ---- time ----------------------------------------------------------- */

#define TM_BEIJING_OFFSET_S (8 * 3600)

int64_t tm_now_ms(void);
int64_t tm_now_s(void);
/* Monotonic clock in milliseconds, for timeouts and intervals. */
int64_t tm_mono_ms(void);
void tm_sleep_ms(int64_t ms);

/* Civil date helpers on proleptic Gregorian calendar. */
int64_t tm_days_from_civil(int y, int m, int d);
void tm_civil_from_days(int64_t days, int *y, int *m, int *d);

/* Beijing wall time <-> UTC epoch seconds. */
int64_t tm_bj_to_epoch(int y, int mo, int d, int h, int mi, int s);
void tm_epoch_to_bj(int64_t epoch, int *y, int *mo, int *d, int *h, int *mi, int *s);
/* "yyyy-MM-dd HH:mm:ss" (buf >= 20) and "yyyy-MM-dd" (buf >= 11), Beijing time. */
void tm_format_bj(int64_t epoch, char *buf, size_t len);
void tm_format_bj_date(int64_t epoch, char *buf, size_t len);
/* ISO 8601 with +08:00, e.g. "2026-11-23T20:00:00.123+08:00" (buf >= 30). */
void tm_format_bj_iso_ms(int64_t epoch_ms, char *buf, size_t len);
/* Parse "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm" or "yyyy-MM-dd" as Beijing time. */
int tm_parse_bj(const char *s, int64_t *epoch);

/* A time in a JSON reply, Beijing time: TM_JSON_BJ epoch seconds as
 * "yyyy-MM-dd HH:mm:ss" (records, reports and lists people read);
 * TM_JSON_BJ_FROM_MS the same text of epoch milliseconds; TM_JSON_ISO_MS epoch
 * milliseconds as ISO 8601 with milliseconds and +08:00 (the dashboard's API). */
typedef enum tm_json_fmt { TM_JSON_BJ, TM_JSON_BJ_FROM_MS, TM_JSON_ISO_MS } tm_json_fmt;
/* o[key] = the time epoch (unit and text as fmt says). */
void tm_json_add(cJSON *o, const char *key, int64_t epoch, tm_json_fmt fmt);
/* The same from column col of s; JSON null when the column is NULL. */
void tm_json_add_col(cJSON *o, const char *key, sqlite3_stmt *s, int col, tm_json_fmt fmt);

/*
 * Shifts and the production day. The production day D runs from D 00:00 +
 * day_start_min (Beijing) for 24 h; day_start_min may be negative (e.g. -120:
 * the day of the 23rd begins at 22:00 on the 22nd). It is divided into
 * `count` equal shifts (24 h / count). Months, quarters and years are made of
 * whole production days.
 */
#define TM_MAX_SHIFTS 6
typedef struct tm_shift_plan {
    int count;         /* 1, 2, 3, 4 or 6 */
    int day_start_min; /* -720..720 */
    char names[TM_MAX_SHIFTS][32];
} tm_shift_plan_t;

typedef enum tm_period { TM_SHIFT, TM_DAY, TM_MONTH, TM_QUARTER, TM_YEAR } tm_period;

/* Three shifts of 8 h from 00:00 named "夜班", "早班", "中班". */
void tm_shift_plan_default(tm_shift_plan_t *plan);
/* Reads {"count":3,"day_start":"00:00","names":[...]} at key; absent = default. */
int tm_shift_plan_from_cfg(const cfg_sec_t *s, const char *key, tm_shift_plan_t *plan, char *err,
                           size_t errlen);
/* Production day containing epoch, as y/m/d, and its index of shift (0-based). */
void tm_production_day(const tm_shift_plan_t *p, int64_t epoch, int *y, int *m, int *d, int *shift);
/* [start, end) in epoch seconds of the period containing epoch. */
void tm_period_bounds(const tm_shift_plan_t *p, tm_period kind, int64_t epoch, int64_t *start,
                      int64_t *end);
/* "shift"/"day"/"month"/"quarter"/"year". */
int tm_period_parse(const char *s, tm_period *out);

/* ---- store ---------------------------------------------------------- */

typedef struct store store_t;

typedef struct store_opts {
    int batch_max_jobs;     /* a batch closes after this many jobs (default 256) */
    int batch_max_readings; /* ... or this many readings (default 5000) */
    int batch_delay_ms;     /* ... or this long after its first job (default 20) */
    int raw_retention_days; /* raw readings kept (default 30) */
    int agg_retention_days; /* minute aggregates kept (default 5 * 366) */
    int busy_timeout_ms;    /* wait on another process's lock (default 5000) */
} store_opts_t;

void store_opts_default(store_opts_t *o);

/* Open (create) the database at path, apply pending migrations, start the
 * writer thread. NULL on failure with err filled. */
store_t *store_open(const char *path, const store_opts_t *opts, char *err, size_t errlen);
/* Drain the queue, commit, stop the writer, close. NULL is accepted. */
void store_close(store_t *st);
const char *store_path(const store_t *st);

/* A read-only connection for the calling thread; close with store_reader_close().
 * It is opened without SQLite's per-call mutex (every sqlite3_column_* call
 * took it: 40 % of reading a year of intervals), so it must never be used by
 * two threads at once: a thread that needs to read opens its own. */
sqlite3 *store_reader_open(store_t *st, char *err, size_t errlen);
void store_reader_close(sqlite3 *db);

/*
 * A write job runs on the writer thread inside the batch transaction, within
 * its own SAVEPOINT: if it returns non-zero, everything it wrote is rolled
 * back and the rest of the batch is unaffected. It must not block.
 */
typedef int (*store_job_fn)(sqlite3 *db, void *arg, char *err, size_t errlen);
/* Called on the writer thread after the batch committed (rc 0) or failed. */
typedef void (*store_done_fn)(void *arg, int rc, const char *err);

/* Run fn and wait until its batch is committed. Returns fn's result, or
 * CM_ERR_DB if the commit failed. */
int store_write(store_t *st, store_job_fn fn, void *arg, char *err, size_t errlen);
/* Queue fn; done (may be NULL) is told the outcome once committed. */
int store_write_async(store_t *st, store_job_fn fn, void *arg, store_done_fn done, void *done_arg);

/* One sample of one point, as read. quality: 0 good, else a bad/suspect flag. */
typedef struct store_reading {
    int64_t ts_ms;
    int64_t point_id;
    double value;
    int quality;
} store_reading_t;

/* Copy n readings into the queue; done is told once their raw rows are
 * committed. Minute aggregates and latest values follow within a second.
 * A readings job that fails (a database error) fails alone, like a write
 * job, although readings jobs share a savepoint (see core/store.c). */
int store_put_readings(store_t *st, const store_reading_t *r, size_t n, store_done_fn done,
                       void *done_arg);
/* Same, waiting for the commit, which then also writes the derived tables. */
int store_put_readings_sync(store_t *st, const store_reading_t *r, size_t n, char *err,
                            size_t errlen);

/* Delete raw readings and aggregates older than the retention windows, in
 * chunks of a few thousand rows, each its own write job: other jobs run in
 * between. Waits for every chunk's commit: call it off the event loop (the
 * daemon has a thread for it). *deleted (may be NULL) gets the rows removed. */
int store_prune(store_t *st, int64_t now_s, int64_t *deleted, char *err, size_t errlen);
/* One chunk of that (at most a few thousand rows, one write job): *deleted
 * rows gone, *more when another call may find more. For a caller that must
 * be able to stop between chunks. */
int store_prune_chunk(store_t *st, int64_t now_s, int *deleted, bool *more, char *err,
                      size_t errlen);

/* Counters for /metrics. */
typedef struct store_stats {
    uint64_t batches, jobs, readings, failed_jobs;
    int queue_depth;
} store_stats_t;
void store_get_stats(store_t *st, store_stats_t *out);

/*
 * Helpers for SQL in any module (core/query.c). A query ends in one of three
 * ways: a row, done, or an error (busy, interrupted, I/O, corrupt ...). The
 * third must never read as the second: a failed sum is not 0 t. Every helper
 * here turns anything but SQLITE_ROW / SQLITE_DONE into CM_ERR_DB with
 * SQLite's message in err.
 */
/* Prepare sql; on error fills err with SQLite's message. */
int store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, char *err, size_t errlen);
/* Execute a statement without results (several ; separated are allowed). */
int store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);

/* Bind v as text, or NULL when v is NULL or "" (optional fields). Copies v. */
void store_bind_text_or_null(sqlite3_stmt *s, int i, const char *v);
/* Step once: 1 with a row, 0 when done, CM_ERR_DB otherwise. Does not finalize. */
int store_step(sqlite3_stmt *s, char *err, size_t errlen);
/* The loop over a query's rows that also sees how it ended:
 *     int rc = CM_OK;
 *     while (!rc && store_next(s, &rc, err, errlen)) { ... may set rc ... }
 * true with a row; false when done (rc untouched) or on an error (*rc =
 * CM_ERR_DB, message in err). */
bool store_next(sqlite3_stmt *s, int *rc, char *err, size_t errlen);
/* After a loop of one's own: last is the last sqlite3_step() result. CM_OK
 * when SQLITE_DONE, else CM_ERR_DB with the message. */
int store_check_done(sqlite3_stmt *s, int last, char *err, size_t errlen);
/* Run a statement without result rows (INSERT, UPDATE, DELETE) and finalize
 * it, whatever happens: CM_OK when it finished. */
int store_step_done(sqlite3_stmt *s, char *err, size_t errlen);
/* Typed scalar queries: step s once and read column 0; then finalize s.
 * A row gives its value, a NULL value or no row gives dflt (and *found =
 * false when found is not NULL); an error is CM_ERR_DB, *out untouched. */
int store_q_double(sqlite3_stmt *s, double dflt, double *out, bool *found, char *err,
                   size_t errlen);
int store_q_int64(sqlite3_stmt *s, int64_t dflt, int64_t *out, bool *found, char *err,
                  size_t errlen);

/* Registry of devices and points (tables device, point). Upsert by name; id out. */
int store_device_upsert(sqlite3 *db, const char *name, const char *kind, const char *model,
                        const char *serial, int64_t *id, char *err, size_t errlen);
int store_point_upsert(sqlite3 *db, int64_t device_id, const char *name, const char *unit,
                       const char *quantity, int64_t *id, char *err, size_t errlen);
/* Communication state of a device: "online", "degraded", "offline". */
int store_device_set_comm(sqlite3 *db, int64_t device_id, const char *state, int64_t ts_ms,
                          const char *detail, char *err, size_t errlen);

/* ---- the audited path, coefficients, the outbox ---------------------- */

/*
 * Every change of a parameter (coefficient, capacity, threshold, model
 * setting, device parameter, meter map) is recorded with store_audit() in the
 * same transaction as the change; the alarms module raises "parameter
 * modified" (ALM-5) from these rows. channel: "cli", "api", "station", "config".
 * old_value/new_value/reason may be NULL. Call only inside a write job.
 */
int store_audit(sqlite3 *db, const char *actor, const char *channel, const char *action,
                const char *target, const char *old_value, const char *new_value,
                const char *reason, char *err, size_t errlen);

/* Coefficient name in force at time at_s; CM_ERR_NOTFOUND when none. */
int store_coef_get(sqlite3 *db, const char *name, int64_t at_s, double *value, char *err,
                   size_t errlen);
/* Times in (from_s, to_s) at which a new value of name comes into force,
 * ascending, distinct, at most max; *n how many. */
int store_coef_changes(sqlite3 *db, const char *name, int64_t from_s, int64_t to_s, int64_t *at,
                       int max, int *n, char *err, size_t errlen);
/* Add a value in force from valid_from_s, audited (action "coef.set"). Inside a write job. */
int store_coef_set(sqlite3 *db, const char *name, double value, int64_t valid_from_s,
                   const char *actor, const char *channel, const char *reason, char *err,
                   size_t errlen);

/* Queue a record for upload (uplink.md §3) inside the producing transaction.
 * The same (record_type, record_id) twice is stored once (CM_OK both times;
 * a different body for the same id replaces it only when `replace`). */
int store_outbox_put(sqlite3 *db, const char *record_type, const char *record_id,
                     const cJSON *record, bool replace, char *err, size_t errlen);

/* A calibration or maintenance operation record (ACQ-5). Strings are the
 * caller's; before/after/note may be NULL. */
typedef struct store_calibration {
    const char *device;   /* <= 50 characters */
    int64_t time_s;       /* when it was done; not in the future */
    const char *operator_name; /* <= 50 characters */
    const char *kind;     /* "calibration", "maintenance" or "parameter" */
    const char *before, *after; /* <= 500 characters each */
    const char *note;     /* <= 2000 characters */
} store_calibration_t;

/* Check a record; CM_ERR_INVALID with the failing field's name in `field`. */
int store_calibration_check(const store_calibration_t *c, int64_t now_s, const char **field,
                            char *err, size_t errlen);
/* Store, audit (action "calibration.add") and queue for upload in one go.
 * Inside a write job. *id gets the new row's id. */
int store_calibration_add(sqlite3 *db, const store_calibration_t *c, const char *actor,
                          const char *channel, int64_t *id, char *err, size_t errlen);
/* The same as one write job on its own (store_write), for callers outside
 * the writer: checks, stores, audits, queues; waits for the commit. */
int store_calibration_write(store_t *st, const store_calibration_t *c, const char *actor,
                            const char *channel, int64_t *id, char *err, size_t errlen);
/* Records of device (NULL: all) done in [from_s, to_s), newest first, at most
 * limit, as a JSON array of {id, device, time, operator, kind, before, after,
 * note, recordedBy} (Beijing time). The caller frees it; NULL on error. */
cJSON *store_calibration_list(sqlite3 *db, const char *device, int64_t from_s, int64_t to_s,
                              int limit, char *err, size_t errlen);

/* Small helper: path joins and mkdir -p. */
int cm_mkdir_p(const char *path, char *err, size_t errlen);

#endif
