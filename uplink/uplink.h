/*
 * uplink: the wire format of docs/wire-contract.md on both ends.
 *
 * Owns: AES/CBC/PKCS5 encryption and the token (crypto.c); record
 * validation against the cms (§3) and scyf (§4; the specification's §5.2/§5.3) schemas
 * (schema.c, data in the embedded schemas/ JSON files); the "uplink"
 * configuration and the keys file (config.c, demo.c); the per-destination
 * delivery state, pruning and the upload log (queue.c, status.c; tables
 * uplink_* of migrations 0030/0031 and outbox_record.origin); the sender
 * thread with the libevent HTTP client (sender.c); the record builders that
 * turn stored data into records (builders.c, summary.c); the receiver
 * (receiver.c: body forms, token check, replay guard, idempotent storage,
 * forwarding upward), the enterprise registry (enterprise.c) and the
 * enterprise overview (overview.c).
 *
 * Threads: crypto and schema functions are pure and may be called from any
 * thread. Functions taking an sqlite3 * run on the caller's connection: the
 * *_job variants are meant to run inside a store write job (store_write), the
 * others only read. upl_sender_* is started and stopped by one thread; the
 * sender runs its own thread and event loop.
 * Ownership: strings returned through char ** are malloc'd and the caller
 * frees them with free(); cJSON returned is the caller's to cJSON_Delete().
 * Errors: 0 or a negative cm_err, with a message in err.
 */
#ifndef COALMON_UPLINK_H
#define COALMON_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "core/core.h"

/* ---- crypto (UPL-1) ------------------------------------------------------ */

typedef struct upl_key {
    unsigned char key[32];
    size_t key_len; /* 16, 24 or 32: AES-128/192/256 */
    unsigned char iv[16];
} upl_key_t;

/* Key and IV are the bytes of the issued strings (uplink.md §1). */
int upl_key_set(upl_key_t *k, const char *key, const char *iv, char *err, size_t errlen);

/* Standard Base64 with '=' padding, no line breaks. NUL-terminated result. */
char *upl_b64_encode(const unsigned char *data, size_t len);
/* Liberal decoder: skips whitespace and line breaks, reads ' ' as '+', padding optional. */
int upl_b64_decode(const char *text, size_t len, unsigned char **out, size_t *outlen, char *err,
                   size_t errlen);

/* encrypt(): AES/CBC/PKCS5Padding then Base64. *out is NUL-terminated. */
int upl_encrypt(const upl_key_t *k, const void *plain, size_t len, char **out, char *err,
                size_t errlen);
/* Base64 then decrypt; the plain text gets a NUL after *outlen bytes.
 * CM_ERR_INVALID for bad Base64 or length, CM_ERR_CRYPTO for a wrong key or padding. */
int upl_decrypt(const upl_key_t *k, const char *b64, size_t len, char **out, size_t *outlen,
                char *err, size_t errlen);

/* "{mineCode=<code>, time=<yyyy-MM-dd HH:mm:ss>}" (Beijing time), encrypted. */
int upl_token_make(const upl_key_t *k, const char *mine_code, int64_t epoch_s, char **out,
                   char *err, size_t errlen);
/* Decrypt and parse a token: CM_ERR_AUTH when it does not decrypt, does not
 * parse, names another mine or lies more than max_skew_s from now_s. */
int upl_token_check(const upl_key_t *k, const char *token, const char *mine_code, int64_t now_s,
                    int max_skew_s, int64_t *token_s, char *err, size_t errlen);

/* ---- schemas (UPL-2) ----------------------------------------------------- */

/* Does prefix ("cms", "scyf") define record_type? */
bool upl_schema_known(const char *prefix, const char *record_type);
/* Validate one record (an object). On failure CM_ERR_INVALID, the failing
 * field's name in field (or "" for the record as a whole) and a message. */
int upl_validate(const char *prefix, const char *record_type, const cJSON *rec, char *field,
                 size_t fieldlen, char *err, size_t errlen);
/* The record's idempotency id: "id" (or "Id", as the specification's table 2-13 spells it). */
const char *upl_record_id(const cJSON *rec);
/* For interval types (coalOutput, powerGate): series key and [start, end). */
bool upl_record_interval(const char *record_type, const cJSON *rec, const char **series,
                         int64_t *start_s, int64_t *end_s);
/* Comma-separated record types of prefix, for messages and docs. */
const char *upl_schema_types(const char *prefix);

/* ---- configuration ------------------------------------------------------- */

#define UPL_MAX_DEST 8
#define UPL_MAX_PARALLEL 8

typedef struct upl_dest {
    char name[32];     /* "county", "city", ... also the key's name in the keys file */
    char url[256];     /* http://host:port or https://host:port */
    char prefix[16];   /* cms, scyf */
    char mine_code[32];
    char types[512];   /* comma-separated record types, "*" for all */
    bool batch;        /* receiver accepts arrays in data (ours) */
    int batch_max;     /* records per request when batching */
    int parallel;      /* requests in flight at once, each on its own connection */
    bool backfill;     /* a new destination also gets records queued before it */
    char ca_file[256]; /* HTTPS: trust anchors ("" = system store) */
    bool tls_verify;   /* HTTPS: verify the certificate and host name (default true) */
    bool self;         /* url was "self": our own receiver, which registers us (demo) */
    upl_key_t key;
} upl_dest_t;

typedef struct upl_cfg {
    bool enabled;
    char keys_file[512];
    int ndest;
    upl_dest_t dest[UPL_MAX_DEST];
    int tick_ms;          /* how often the sender looks for due records */
    int timeout_s;        /* per request */
    int backoff_min_s;    /* first retry after about this long */
    int backoff_max_s;    /* retries never wait longer than this */
    int aside_after;      /* 400/401 this many times: set aside for an operator */
    int fresh_every;      /* every n-th request takes the newest due record first */
    int interval_min;     /* powerGate / coalOutput interval */
    int catchup_days;     /* builders rebuild at most this far back after a stop */
    int keep_days;        /* delivered records and the upload log are kept this long */
    /* receiver (platform role) */
    bool receiver;        /* serve POST /<prefix>/api/<type>.do */
    int max_skew_s;       /* token time window, default 60 */
    size_t max_record_bytes;
    int silent_after_s;   /* an enterprise with no contact for this long is silent */
    char forward_to[256]; /* comma-separated destination names that get what we receive */
    bool build;           /* role "mine": run the record builders (a platform only forwards) */
} upl_cfg_t;

void upl_cfg_default(upl_cfg_t *c);
/* Read section "uplink" of the configuration and the keys file it names.
 * The keys file must belong to the current user and not be readable by
 * group or others (CM_ERR_AUTH otherwise). */
int upl_cfg_load(const cfg_t *cfg, upl_cfg_t *out, char *err, size_t errlen);
/* A destination whose url is "self" is this daemon's own HTTP server (the
 * demo); call once the server's port is known. */
void upl_cfg_resolve_self(upl_cfg_t *c, const char *host, int port);
/* Add the demo's "uplink" section to a configuration tree and write its keys
 * file (mode 0600) into dir: a receiver on the same server, a destination
 * "self", and the demo mine registered as an enterprise there. */
int upl_demo_config(cJSON *root, const char *dir, char *err, size_t errlen);
/* Keys file: {"<dest name>": {"key": "...", "iv": "..."}, ...}. */
int upl_keys_check_file(const char *path, char *err, size_t errlen);
/* Does destination d take record_type? */
bool upl_dest_takes(const upl_dest_t *d, const char *record_type);
/* The URL prefix for record_type toward d: d's own when its schema has the
 * type, else the schema that defines it (a "*" destination of ours gets both). */
const char *upl_dest_prefix(const upl_dest_t *d, const char *record_type);

/* ---- queue: delivery state per destination (UPL-3) ----------------------- */

/* Register destinations (inside a write job). A new one starts after the
 * records already queued unless backfill. */
int upl_queue_sync_dests_job(sqlite3 *db, const upl_cfg_t *c, char *err, size_t errlen);
/* Fan new outbox_record rows out to the destinations that take them (write
 * job). A record that fails validation against the contract is set aside at
 * once (code 400, the reason kept) instead of being sent to be refused. */
int upl_queue_fanout_job(sqlite3 *db, const upl_cfg_t *c, int *added, char *err, size_t errlen);

#define UPL_BATCH_MAX 500

/* One request's worth of records, picked by upl_queue_pick. */
typedef struct upl_pick {
    int n;
    char record_type[48];
    char origin[32]; /* forwarded records: the enterprise they came from ("" = ours) */
    int64_t seq[UPL_BATCH_MAX];
    int64_t produced_ms[UPL_BATCH_MAX];
    char *body; /* a JSON object, or an array when batching; caller frees */
} upl_pick_t;

/* Pick the next due records for d at now_ms. newest_first takes the newest
 * due record as anchor (so fresh data is not starved by a backlog), else the
 * oldest. Records in in_flight (sent on another connection, no answer yet)
 * are skipped. CM_ERR_NOTFOUND when nothing is due. Reads only. */
int upl_queue_pick(sqlite3 *db, const upl_dest_t *d, int64_t now_ms, bool newest_first,
                   const int64_t *in_flight, int n_in_flight, upl_pick_t *p, char *err,
                   size_t errlen);
void upl_pick_free(upl_pick_t *p);

/* The answer to one request. code is the body's code, or 0 when there was
 * no valid answer (connection failed, timeout, not our JSON). */
typedef struct upl_outcome {
    int http_status;
    int code;
    char message[256];
    int64_t elapsed_ms;
} upl_outcome_t;

/* Record the outcome (write job): code 200 marks the records delivered;
 * 400/401 schedule the record's next try with exponential back-off and
 * jitter and set it aside after c->aside_after tries; other failures only
 * count the attempt (the link backs off, see upl_link_t). Appends to the
 * upload log. */
int upl_queue_result_job(sqlite3 *db, const upl_cfg_t *c, const upl_dest_t *d,
                         const upl_pick_t *p, const upl_outcome_t *o, int64_t now_ms,
                         uint32_t rnd, char *err, size_t errlen);
/* Back-off before try number attempts+1 (ms), jittered by rnd in [-25 %, +25 %]. */
int64_t upl_backoff_ms(const upl_cfg_t *c, int attempts, uint32_t rnd);

/* The link to one destination, kept by the sender: a failure without a
 * valid answer (refused, timeout, 500) backs off the whole destination, not
 * each record, so the backlog drains at full speed as soon as it answers. */
typedef struct upl_link {
    int failures;     /* consecutive failed requests */
    int64_t next_ms;  /* no request before this */
    uint64_t rounds;  /* requests made, for the fresh/backlog alternation */
} upl_link_t;

bool upl_link_due(const upl_link_t *l, int64_t now_ms);
/* Which end of the queue the next request takes: every c->fresh_every-th
 * request takes the newest due record, the others the oldest. Advances rounds. */
bool upl_link_next_newest(const upl_cfg_t *c, upl_link_t *l);
/* Account for one request's outcome (code as in upl_outcome_t). */
void upl_link_result(const upl_cfg_t *c, upl_link_t *l, int code, int64_t now_ms, uint32_t rnd);

/* Delete delivered rows, log entries and outbox records older than
 * c->keep_days (write job); nothing pending or set aside is touched. */
int upl_queue_prune_job(sqlite3 *db, const upl_cfg_t *c, int64_t now_ms, char *err, size_t errlen);

/* Put set-aside (or all failed) deliveries back to pending now (write job). */
int upl_queue_retry_job(sqlite3 *db, const char *dest, int64_t seq, bool all_pending,
                        int *changed, char *err, size_t errlen);
/* Queue depth and age per destination, set-aside records: JSON for CLI and API. */
cJSON *upl_queue_status(sqlite3 *db, int64_t now_ms, char *err, size_t errlen);
/* The upload log, newest first. dest may be NULL. */
cJSON *upl_log_list(sqlite3 *db, const char *dest, int limit, char *err, size_t errlen);

/* ---- record builders (mine role) ----------------------------------------- */

/* Build every due record from stored data up to now_s (write job):
 * powerGate per gate per interval, deviceStatus on each change of
 * communication state, coefficient on each new value, coalOutput where the
 * station tables exist (gate types from device.gate_type, energy from the
 * collector's counter_minute). cfg is reserved for builders that need
 * configuration. *made counts records queued. */
int upl_build_job(sqlite3 *db, const cfg_t *cfg, const upl_cfg_t *c, int64_t now_s, int *made,
                  char *err, size_t errlen);

/* ---- sender --------------------------------------------------------------- */

typedef struct upl_sender upl_sender_t;
/* Start the sender thread: builders (unless cfg is NULL), fan-out, delivery. */
upl_sender_t *upl_sender_start(const upl_cfg_t *c, const cfg_t *cfg, store_t *st, char *err,
                               size_t errlen);
/* Stop at once; a request in flight stays pending and is sent again after a
 * restart (receivers are idempotent). NULL is accepted. */
void upl_sender_stop(upl_sender_t *s);

/* ---- receiver (platform role, UPL-4) -------------------------------------- */

typedef struct upl_answer {
    int code; /* 200, 400, 401, 500 */
    char message[256];
    char field[64];
    int stored; /* records newly stored or changed */
} upl_answer_t;

/* One request as it arrived: the three parameters (NUL-terminated). */
typedef struct upl_request {
    const char *prefix;
    const char *record_type;
    const char *mine_code;
    const char *token;
    const char *data;
    const char *origin; /* X-Coalmon-Origin from a platform forwarding upward, or NULL */
    size_t body_len;
} upl_request_t;

/* Check, decrypt, validate and store one request (write job: all or nothing).
 * Fills ans; returns 0 whenever ans holds the answer (even 400/401). */
int upl_receive_job(sqlite3 *db, const upl_cfg_t *c, const upl_request_t *rq, int64_t now_ms,
                    upl_answer_t *ans, char *err, size_t errlen);
/* Split a body (JSON or x-www-form-urlencoded) into the three parameters;
 * they point into *owned, which the caller frees. CM_ERR_INVALID names the
 * missing field in field. */
int upl_parse_body(const char *content_type, const char *body, size_t len, char **owned,
                   const char **mine_code, const char **token, const char **data, char *field,
                   size_t fieldlen, char *err, size_t errlen);

/* Enterprise registry (write jobs). key/iv may be NULL (set later). */
int upl_enterprise_put_job(sqlite3 *db, const char *code, const char *name, const char *kind,
                           const char *key, const char *iv, double capacity_t, char *err,
                           size_t errlen);
/* Import "<n>\t<name>\t<9-digit code>" lines (the specification's §5.4 table, or a
 * TSV/CSV export of it); existing codes keep their keys. */
int upl_enterprise_import_job(sqlite3 *db, const char *text, int *added, int *skipped, char *err,
                              size_t errlen);
cJSON *upl_enterprise_list(sqlite3 *db, char *err, size_t errlen);

/* GET /api/v1/enterprises: per enterprise last contact, latest output,
 * month-to-date against capacity, open alarms, silent, gaps in interval
 * records over the last `days` days. */
cJSON *upl_overview(sqlite3 *db, const upl_cfg_t *c, int64_t now_s, int days, char *err,
                    size_t errlen);

/* GET /api/v1/enterprises/{code} (issue 8): the overview fields of one
 * enterprise, its period (the last `days` days), and counts of records
 * received per type in the period ("counts") and ever ("counts_total").
 * CM_ERR_NOTFOUND for an unknown code. *out is the caller's. Any thread with
 * its own reader. */
int upl_enterprise_show(sqlite3 *db, const upl_cfg_t *c, const char *code, int64_t now_s, int days,
                        cJSON **out, char *err, size_t errlen);

/* A filter on the records received from one enterprise (received.c). */
typedef struct upl_records_q {
    const char *code;
    const char *type;    /* NULL: every type */
    int64_t from_s, to_s; /* received time [from, to), epoch s; 0: open */
    int limit, offset;
} upl_records_q_t;
/* GET /api/v1/enterprises/{code}/records: {code, total, limit, offset,
 * records: [{type, id, received, revisions, series?, start?, end?, body}]},
 * newest first, times in Beijing time. CM_ERR_NOTFOUND for an unknown code.
 * *out is the caller's. */
int upl_received_list(sqlite3 *db, const upl_records_q_t *q, cJSON **out, char *err,
                      size_t errlen);

#endif
