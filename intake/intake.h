/*
 * intake: everything of the ledger that is not a meter (ACQ-3, ACQ-6, ESC-1,
 * ESC-2, RPT-2) — weighbridge tickets with their corrections, exit capture
 * points and captures, matching captures to tickets (escaping vehicles),
 * rail sales, stockpile surveys, contracts, coal types, the mine's own
 * production-transport-sales figures (kept apart), period figures and the
 * RPT-2 reports. Tables: core/migrations/0020_intake.sql.
 *
 * Threads: parsing, plate and CSV helpers are pure and may be called from
 * any thread. *_put and intake_match_run() write through store_write() and
 * may be called from any thread that may wait for a batch. Functions taking
 * a sqlite3 * only read, on the caller's own read connection.
 * Ownership: structs are fixed-size and the caller's; a cJSON returned
 * through an out-parameter belongs to the caller (cJSON_Delete); a char *
 * returned belongs to the caller (free). Errors: 0 or a negative cm_err;
 * bad input gives CM_ERR_INVALID with an intake_fault_t naming the field.
 */
#ifndef COALMON_INTAKE_H
#define COALMON_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* What was wrong with one record: field name as in the API/CSV, the
 * record's index in a batch (0-based) and, for CSV, its line (1-based). */
typedef struct intake_fault {
    int index;
    int line;
    char field[48];
    char msg[240];
} intake_fault_t;

/* ---- configuration (section "intake" of coalmond.json) ------------------- */

#define INTAKE_MAX_BRIDGES 16
#define INTAKE_MAX_KEYS 16

typedef struct intake_bridge {
    char id[32];
    double min_t, max_t; /* weighing range of this bridge */
} intake_bridge_t;

typedef struct intake_conf {
    double net_tolerance_t;  /* |gross - tare - net| allowed (default 0.02) */
    int future_skew_s;       /* times may be this far ahead of our clock (default 120) */
    double min_t, max_t;     /* range of a bridge not listed (default 0.5..150) */
    intake_bridge_t bridges[INTAKE_MAX_BRIDGES];
    int n_bridges;           /* when > 0 a ticket's weighbridgeId must be listed */
    int match_before_s;      /* a ticket's gross time may precede the exit by this (7200) */
    int match_after_s;       /* ... or follow it by this (600; a late gross clock) */
    int decide_after_s;      /* an exit unmatched this long after it is decided (60) */
    double match_min_confidence; /* plate similarity needed to match (0.75) */
    int match_interval_s;    /* how often the daemon runs matching (10) */
    char output_quantity[48]; /* point quantity of the station's tonnage counter */
    /* Where the figures' output comes from: analytics owns the one output
     * over a period (ana_output_for_intake), and analytics reads intake's
     * sales, so intake may not call it; whoever sets intake up (daemon, CLI,
     * tests) plugs it in. NULL: figures of output fail with CM_ERR_INVALID. */
    int (*output)(sqlite3 *db, int64_t start, int64_t end, double *raw, double *gross,
                  bool *has_coefficient, char *err, size_t errlen);
    struct {
        char name[64];
        char sha256_hex[65];
    } keys[INTAKE_MAX_KEYS]; /* API keys from configuration (hash only) */
    int n_keys;
    tm_shift_plan_t plan;
} intake_conf_t;

void intake_conf_default(intake_conf_t *c);
/* Reads "intake" and "shifts" of the root; absent keys keep the defaults. */
int intake_conf_from_cfg(const cfg_t *cfg, intake_conf_t *c, char *err, size_t errlen);

/* ---- API keys -------------------------------------------------------- */

/* Lower-case hex SHA-256 of key into hex (65 bytes). */
int intake_key_hash(const char *key, char hex[65]);
/* Which source presents key: configuration first, then table intake_api_key.
 * Compares hashes in constant time. CM_ERR_AUTH when none. */
int intake_key_check(sqlite3 *db, const intake_conf_t *c, const char *key, char *name,
                     size_t namelen);
/* Create a random key for source name (printed once by the caller, only its
 * hash is stored), audited. CM_ERR_CONFLICT when name exists. */
int intake_key_add(store_t *st, const char *name, const char *actor, char key[65], char *err,
                   size_t errlen);
int intake_key_revoke(store_t *st, const char *name, const char *actor, char *err, size_t errlen);

/* ---- plates ---------------------------------------------------------- */

/* Upper-case ASCII, drop spaces, '·', '.', '-'. CM_ERR_INVALID when too long. */
int intake_plate_normalize(const char *in, char *out, size_t outlen);
/* A normalised plate is a mainland plate: province character, issuing letter,
 * then 5 characters (ordinary), 4 + 挂 (trailer) or 6 (new energy). */
int intake_plate_check(const char *plate, char *why, size_t whylen);
/* How sure we are that two recognised plates are the same vehicle, 0..1:
 * 1 - 0.2 x weighted edit distance, where a confusable pair (0/D/Q, 8/B,
 * 1/I, 2/Z, 5/S, 6/G, 7/T, 0/O) costs 0.25 and any other edit 1. */
double intake_plate_similarity(const char *a, const char *b);

/* ---- materials ------------------------------------------------------- */

#define INTAKE_MAX_MATERIALS 64
typedef struct intake_materials {
    int n;
    char code[INTAKE_MAX_MATERIALS][32];
    char name[INTAKE_MAX_MATERIALS][64];
} intake_materials_t;

/* Coal types from the table plus "gangue" (矸石) and "other" (其他). */
int intake_materials_load(sqlite3 *db, intake_materials_t *m, char *err, size_t errlen);
/* Code for a code or a Chinese name; NULL when unknown. */
const char *intake_material_code(const intake_materials_t *m, const char *s);

/* ---- weighbridge tickets (ACQ-6) ------------------------------------- */

typedef struct intake_ticket {
    char ticket_id[101];
    char plate[40];
    char vehicle_type[64];
    char material[32];
    char direction[4]; /* "out" sale, "in" receipt */
    int64_t tare_time, gross_time;
    double gross, tare, net;
    char weighbridge_id[32];
    char operator_name[64];
    char contract_id[64];
    char photo_front[128], photo_top[128], photo_rear[128];
} intake_ticket_t;

/* Validate one ticket object (API field names, see docs/intake.md). With
 * text_numbers (CSV) numbers may be strings. now: our clock, epoch s. */
int intake_ticket_parse(const cJSON *o, const intake_conf_t *c, const intake_materials_t *m,
                        int64_t now, bool text_numbers, intake_ticket_t *out, intake_fault_t *f);

typedef struct intake_put_result {
    int created, corrected, unchanged;
} intake_put_result_t;

/* Store n tickets in one job (all or nothing): new ids become version 1, a
 * known id with other values a new version (audited "ticket.correct"), an
 * identical one is left alone. Each stored version is queued for upload
 * (weighTicket). source names the API key or "cli:<user>". */
int intake_tickets_put(store_t *st, const intake_ticket_t *t, size_t n, const char *source,
                       intake_put_result_t *res, char *err, size_t errlen);
/* Ticket as JSON (API names); versions: all versions, oldest first, under
 * "versions" with the changed fields. CM_ERR_NOTFOUND when absent. */
int intake_ticket_get(sqlite3 *db, const char *ticket_id, cJSON **out, char *err, size_t errlen);
/* Current versions with gross time in [from, to), newest first; plate filter may be NULL. */
int intake_ticket_list(sqlite3 *db, int64_t from, int64_t to, const char *plate, int limit,
                       cJSON **out, char *err, size_t errlen);

/* ---- CSV ------------------------------------------------------------- */

/* A CSV reader (RFC 4180: quotes, "" escapes, CRLF, UTF-8 BOM skipped). */
typedef struct intake_csv intake_csv_t;
intake_csv_t *intake_csv_open(const char *path, char *err, size_t errlen);
/* Next record into fields (pointers valid until the next call); returns the
 * number of fields, 0 at the end, or negative on a malformed line. *line is
 * the line the record starts on. */
int intake_csv_next(intake_csv_t *c, char ***fields, int *line, char *err, size_t errlen);
/* Bytes read so far and the file size, for progress. */
void intake_csv_progress(const intake_csv_t *c, long long *done, long long *total);
void intake_csv_close(intake_csv_t *c);
/* Quote one field for CSV output into a growing buffer (caller frees *buf). */
int intake_csv_append(char **buf, size_t *len, size_t *cap, const char *field, bool last);

/* ---- exits (ESC-1, ESC-2) -------------------------------------------- */

typedef struct intake_point {
    char code[32];
    char name[64];
    char location[128];
    char camera_ip[64];
    char direction[8]; /* out, in, both */
} intake_point_t;

int intake_point_parse(const cJSON *o, intake_point_t *out, intake_fault_t *f);
/* Create or update a capture point, audited ("exit_point.set"). */
int intake_point_put(store_t *st, const intake_point_t *p, const char *actor, const char *channel,
                     char *err, size_t errlen);
/* Remove a point that has no captures (audited "exit_point.remove");
 * CM_ERR_CONFLICT when it has some, CM_ERR_NOTFOUND when unknown. */
int intake_point_remove(store_t *st, const char *code, const char *actor, const char *channel,
                        char *err, size_t errlen);
int intake_point_list(sqlite3 *db, cJSON **out, char *err, size_t errlen);

typedef struct intake_capture {
    char capture_id[101]; /* given, or "<point>-<yyyymmddHHMMSS>-<plate>" */
    char point[32];
    char direction[4]; /* "" = the point's direction */
    char plate[40];
    int64_t time;
    char load[8]; /* empty, loaded, unknown */
    char photos[400];
} intake_capture_t;

int intake_capture_parse(const cJSON *o, const intake_conf_t *c, int64_t now,
                         intake_capture_t *out, intake_fault_t *f);
/* Store captures in one job; an unknown point fails the batch with f naming
 * "pointId". Known capture ids are left alone. Queued as exitCapture. */
int intake_captures_put(store_t *st, const intake_capture_t *cap, size_t n, const char *source,
                        int *created, intake_fault_t *f, char *err, size_t errlen);
/* Captures with time in [from, to), newest first; state may be NULL. */
int intake_capture_list(sqlite3 *db, int64_t from, int64_t to, const char *state, int limit,
                        cJSON **out, char *err, size_t errlen);
int intake_escape_list(sqlite3 *db, int64_t from, int64_t to, int limit, cJSON **out, char *err,
                       size_t errlen);

typedef struct intake_match_stats {
    int matched, escapes, unverified, waiting;
} intake_match_stats_t;

/* Decide pending outbound captures: match each to the outbound ticket whose
 * plate is most similar (at least match_min_confidence) with gross time in
 * the window, each ticket used once; a loaded capture still unmatched
 * decide_after_s after it becomes an escape_event (and its exitCapture is
 * re-queued with escape 1). Called by the daemon every match_interval_s and
 * after each post; one job. */
int intake_match_run(store_t *st, const intake_conf_t *c, int64_t now, intake_match_stats_t *s,
                     char *err, size_t errlen);

/* ---- sales, inventory, contracts, coal types (ACQ-3) ------------------ */

int intake_coal_type_put(store_t *st, const char *code, const char *name, const char *actor,
                         char *err, size_t errlen);
/* Parse and store one record of kind "contract", "rail" (rail sale batch),
 * "survey" (inventory survey) from API/CLI JSON, in one job each batch.
 * Contracts are upserts audited ("contract.set"); rail batches and surveys are
 * idempotent by id / (stockpile, coal type, time), a different re-send is a
 * 409 conflict. */
int intake_ledger_put(store_t *st, const char *kind, const cJSON *items, const char *source,
                      int64_t now, int *created, intake_fault_t *f, char *err, size_t errlen);
/* List of kind "contract", "rail", "survey", "coal_type"; rail/survey in [from, to). */
int intake_ledger_list(sqlite3 *db, const char *kind, int64_t from, int64_t to, cJSON **out,
                       char *err, size_t errlen);

/* The mine's own production-transport-sales figures (POST /sales/summaries),
 * kept as a separate source. Re-sent with other values: a new version. */
int intake_pts_put(store_t *st, const cJSON *items, const intake_conf_t *c, const char *source,
                   intake_put_result_t *res, intake_fault_t *f, char *err, size_t errlen);
int intake_pts_list(sqlite3 *db, int64_t from, int64_t to, cJSON **out, char *err, size_t errlen);

/* ---- figures and reports (ACQ-3, RPT-2) ------------------------------- */

/* The sales side of a period [start, end), coal only (gangue and other
 * material are weighed, not sold); coal_type NULL or "" for all. The
 * analytics mass balance and the uplink summaries read it here. */
typedef struct intake_sales {
    double truck_sales;    /* net of outbound tickets, gross time in the period */
    int trucks;
    double truck_receipts; /* net of inbound tickets */
    double rail_sales;
    double inventory;      /* latest surveys before end, per stockpile and coal type */
    bool has_inventory;
} intake_sales_t;
int intake_sales_get(sqlite3 *db, int64_t start, int64_t end, const char *coal_type,
                     intake_sales_t *out, char *err, size_t errlen);

/* The sales side as the mass balance (ANA-4) and RPT-1 count it: coal is a
 * material listed in coal_type; inventory at a time is the latest surveys at
 * or before it; the mine system's own figures for a period starting at start
 * (pts_period "day", "month"...; NULL: not looked up). */
typedef struct intake_balance {
    double truck; /* net of outbound coal tickets (gross time in the period) */
    int trucks;   /* outbound vehicles */
    double rail;
    bool has_sales;
    double inv_start, inv_end; /* 0 when not both known */
    bool has_inventory;
    bool has_pts;
    double pts_output, pts_truck, pts_rail, pts_inventory;
} intake_balance_t;
int intake_balance_get(sqlite3 *db, int64_t start, int64_t end, const char *pts_period,
                       intake_balance_t *out, char *err, size_t errlen);

typedef struct intake_figures {
    int64_t start, end;
    double output_raw;   /* t, from the station */
    double output_gross; /* raw x the raw_to_gross coefficient in force, piecewise */
    bool has_coefficient;
    double truck_sales;  /* net of outbound tickets, gross time in the period */
    int trucks;
    double truck_receipts;
    double rail_sales;
    double inventory;    /* latest surveys at the period's end */
    bool has_inventory;
} intake_figures_t;

/* Figures of the period of kind containing at; coal_type NULL = all. */
int intake_figures_get(sqlite3 *db, const intake_conf_t *c, tm_period kind, int64_t at,
                       const char *coal_type, intake_figures_t *out, char *err, size_t errlen);
/* {"shift":{...},"day":...,"month":...,"quarter":...,"year":...} at time at. */
int intake_figures_json(sqlite3 *db, const intake_conf_t *c, int64_t at, const char *coal_type,
                        cJSON **out, char *err, size_t errlen);

/* RPT-2 report kind: "output-summary" (per production day), "output-detail"
 * (per shift), "material", "outbound", "vehicles"; over [from, to).
 * Result: {"report","from","to","columns":[...],"rows":[[...]...]}. */
int intake_report(sqlite3 *db, const intake_conf_t *c, const char *kind, int64_t from,
                  int64_t to, cJSON **out, char *err, size_t errlen);
/* The report as CSV text (UTF-8 with BOM, CRLF; header row of column names). */
char *intake_report_csv(const cJSON *report, size_t *len);
/* Report rows as objects keyed by column, for JSON readers. */
cJSON *intake_report_objects(const cJSON *report);

#endif
