/*
 * collector: device I/O (docs/collector.md). Meter register maps
 * (conf/meters/<model>.json), register decoding, request planning, the
 * polling threads (one per serial bus, a small pool for TCP endpoints and
 * gateways), the belt-scale station with its record buffer
 * (docs/station-map.md), communication state and self-diagnosis events, and
 * the queries other modules use for interval energy and station output.
 *
 * Owns the tables of migration 0010: counter_minute, station_record,
 * station_output_minute, station_cursor, and device.gate_type/firmware; it
 * writes device_event and device_comm rows for its devices.
 * Threads: libmodbus is blocking and not thread-safe; every modbus_t lives
 * and dies inside the one polling thread that created it. The pure functions
 * (col_map_*, col_decode, col_plan, col_comm_step, col_counter_check, the
 * station record coding) and the queries (on the caller's own read
 * connection) may be called from any thread.
 * Ownership: col_map_t is a fixed-size value the caller owns; col_t owns its
 * threads and contexts and is freed by col_stop(). Everything written goes
 * through the store's writer (readings through its queue, events, counter
 * increments and station records as write jobs).
 */
#ifndef COALMON_COLLECTOR_H
#define COALMON_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- register maps --------------------------------------------------- */

typedef enum col_type { COL_U16, COL_I16, COL_U32, COL_I32, COL_F32, COL_F64 } col_type;

/* Byte order written as the letters of a big-endian value: ABCD is plain
 * big-endian, CDAB swaps the 16-bit words, BADC swaps bytes in each word,
 * DCBA is little-endian. 16-bit types use AB or BA; 64-bit ones the
 * 8-letter forms (ABCDEFGH, GHEFCDAB, BADCFEHG, HGFEDCBA). */
typedef struct col_order {
    bool word_swap;
    bool byte_swap;
} col_order_t;

enum { COL_FN_HOLDING = 3, COL_FN_INPUT = 4 };

#define COL_MAX_POINTS 128
#define COL_NAME_LEN 48

typedef struct col_point {
    char name[COL_NAME_LEN];     /* e.g. "ua" */
    char quantity[COL_NAME_LEN]; /* e.g. "voltage_a", "energy_import" */
    char unit[16];               /* e.g. "V", "kWh" */
    char label[64];              /* human description */
    uint16_t address;            /* protocol address (0-based) after address_base */
    int fn;                      /* COL_FN_HOLDING or COL_FN_INPUT */
    col_type type;
    col_order_t order;
    double scale, offset;        /* value = raw * scale + offset */
    bool counter;                /* an energy counter that only grows */
    int ratio;                   /* COL_RATIO_*: which instrument transformer ratio applies */
    double wrap;                 /* counters: the value at which the register starts again
                                  * from 0 (map "wrap"; integer registers default to their
                                  * range, 2^bits x scale); 0 none */
} col_point_t;

/* Instrument transformers (issue #15): a meter behind a CT (and a PT) reads
 * secondary values; primary = secondary x ratio. Which ratio a point takes
 * follows from its quantity (voltage_*: PT; current_*: CT; power and
 * energy: CT x PT; anything else none) unless the map says "ratio". The
 * quantities "ct_ratio" and "pt_ratio" name the meter's own ratio registers. */
enum { COL_RATIO_NONE, COL_RATIO_CT, COL_RATIO_PT, COL_RATIO_POWER };
int col_ratio_of_quantity(const char *quantity);
/* The factor point p takes with these ratios (multiplier: power and energy
 * only, for a site that knows just the product). */
double col_ratio_factor(const col_point_t *p, double ct, double pt, double multiplier);

typedef struct col_map {
    char model[64];
    char vendor[64];
    int max_registers; /* per request, <= 125 */
    int max_gap;       /* registers that may be read over between points (default 0) */
    int count;
    col_point_t points[COL_MAX_POINTS];
} col_map_t;

/* Number of 16-bit registers a type occupies. */
int col_type_regs(col_type t);
int col_type_parse(const char *s, col_type *out);
int col_order_parse(const char *s, col_type t, col_order_t *out);

/* Load a map file. Errors name the file, line and key. */
int col_map_load(const char *path, col_map_t *map, char *err, size_t errlen);
/* Load <dir>/<model>.json; an unknown model lists the models that exist. */
int col_map_load_model(const char *dir, const char *model, col_map_t *map, char *err,
                       size_t errlen);

/* Decode regs (as libmodbus returns them, host order) into a scaled value,
 * rounded to the register's resolution: integers to the decimals of scale
 * and offset; a float32 to the shortest decimal that reads back as the same
 * float, then scaled (232.8, not 232.8000030517578). */
int col_decode(const uint16_t *regs, col_type t, col_order_t o, double scale, double offset,
               double *out);
/* raw x scale + offset rounded as col_decode does. */
double col_round_resolution(double raw, col_type t, double scale, double offset);
/* The inverse, for simulators and tests: raw value into registers. */
void col_encode(double raw, col_type t, col_order_t o, uint16_t *regs);

/* A read request: function, start address, count; covering points [first, first+n). */
typedef struct col_request {
    int fn;
    uint16_t start;
    uint16_t count;
    int first, n; /* indices into plan order (see col_plan) */
} col_request_t;

/* Plan the fewest requests for the map: points are sorted by (fn, address)
 * into order[]; contiguous points (gaps up to max_gap) share a request of at
 * most max_regs registers. one_per_point forces one request per point.
 * Returns the number of requests written (<= COL_MAX_POINTS). */
int col_plan(const col_map_t *map, int max_regs, bool one_per_point, int order[COL_MAX_POINTS],
             col_request_t req[COL_MAX_POINTS]);

/* ---- reading a meter once (commissioning probe) ---------------------- */

/* Quality of a stored reading (reading.quality, point_latest.quality). */
enum {
    COL_Q_GOOD = 0,
    COL_Q_REFUSED = 1,   /* the device refused the register (exception 02/03) */
    COL_Q_INVALID = 2,   /* the answer did not decode (NaN, infinity) */
    COL_Q_ESTIMATED = 4, /* not measured at this time: spread over a gap */
};

typedef struct col_value {
    double value;
    bool ok;
    int quality;   /* COL_Q_*, COL_Q_GOOD when ok */
    int exception; /* the Modbus exception code that refused it, 0 none */
} col_value_t;

/* Connect to host:port, read every point of map from unit, disconnect.
 * values[i] matches map->points[i]. timeout_ms bounds each request. */
int col_read_tcp_once(const col_map_t *map, const char *host, int port, int unit, int timeout_ms,
                      col_value_t values[COL_MAX_POINTS], char *err, size_t errlen);

/* Refine a plan after the device refused request r with exception 02/03
 * (an undocumented register inside a gap, or too many at once): request r
 * becomes its gap-free runs, or, when it has no gaps, one request per point.
 * Returns the number of requests it became (1: a single point, left as it
 * is). *nreq grows accordingly (never beyond map->count). Pure. */
int col_plan_split(const col_map_t *map, const int *order, col_request_t *req, int *nreq, int r);

/* ---- links: one Modbus connection (a serial line or a TCP endpoint) ---- */

typedef enum col_transport { COL_TCP, COL_RTU } col_transport;

/* How to reach a line. For TCP, host:port (an RS485-to-Ethernet gateway
 * carries several unit ids behind one endpoint); for RTU, a serial device
 * with its framing. rts: 0 none, 1 RTS up while sending, 2 RTS down. */
typedef struct col_link_opts {
    col_transport transport;
    char host[128];
    int port;
    char device[128]; /* e.g. "/dev/ttyS1" */
    int baud;         /* 1200..115200 */
    char parity;      /* 'N', 'E' or 'O' */
    int data_bits, stop_bits;
    int rts, rts_delay_us;
} col_link_opts_t;

/* "HOST:PORT" into a TCP link (defaults for the rest). */
int col_link_parse_tcp(const char *s, col_link_opts_t *o);
/* Serial defaults 9600 8N1 on device. */
void col_link_rtu_default(col_link_opts_t *o, const char *device);

/* Open the link, read every point of map from unit once, close.
 * values[i] matches map->points[i]; timeout_ms bounds each request. */
int col_read_once(const col_map_t *map, const col_link_opts_t *link, int unit, int timeout_ms,
                  col_value_t values[COL_MAX_POINTS], char *err, size_t errlen);

/* The commissioning probe's choices (coalmon meter read). */
typedef struct col_probe_opts {
    int unit, timeout_ms;
    int max_registers;   /* 0: the map's */
    bool one_per_point;
    int address_shift;   /* -1, 0, +1 */
    bool word_swap_set, word_swap; /* override every 32/64-bit point's word order */
    bool byte_swap_set, byte_swap; /* override every point's byte order */
} col_probe_opts_t;

/* The probe's report: what was asked and what failed. */
typedef struct col_probe_report {
    int requests, refused, splits; /* requests sent; points refused; requests split */
    char first_error[200];         /* the first request that failed, with why */
} col_probe_report_t;

/* Read every point once with o (open, read, close); falls back like the
 * service does and says what failed in rep. */
int col_probe(const col_map_t *map, const col_link_opts_t *link, const col_probe_opts_t *o,
              col_value_t values[COL_MAX_POINTS], col_probe_report_t *rep, char *err,
              size_t errlen);
/* Which unit ids in [from, to] answer the map's first point (timeout_ms
 * each); found[] gets them, *n how many. */
int col_probe_scan(const col_map_t *map, const col_link_opts_t *link, int from, int to,
                   int timeout_ms, int *found, int max, int *n, char *err, size_t errlen);

/* ---- self-diagnosis helpers (pure) ------------------------------------ */

/*
 * Event kinds written to device_event (the alarms module turns them into
 * alarms; these strings are stable):
 *   comm            state online | degraded | offline         (ACQ-10)
 *   counter_reset   state = point name; a counter went backwards
 *   counter_jump    state = point name; an implausible increment
 *   fault           state raised | cleared; detail "<bit>: <text>" (station fault bits)
 *   power           state mains | battery                     (station supply)
 *   plausibility    state raised | cleared; detail "<check> <point>: ...",
 *                   check one of stuck, out_of_range, belt_zero_speed
 *   backfill        state gap | done | reset; detail counts and sequence numbers
 *   identity        state mismatch | ok; serial read from the device vs configured
 */
typedef enum col_comm_state { COL_UNKNOWN, COL_ONLINE, COL_DEGRADED, COL_OFFLINE } col_comm_state;
const char *col_comm_name(col_comm_state s);

/* Communication state with hysteresis: offline after offline_after failures
 * in a row; back to online only after online_after good polls in a row
 * (degraded meanwhile). A partial answer counts as degraded, not failed. */
typedef struct col_comm {
    col_comm_state state;
    int fails, oks;
} col_comm_t;
/* Feed one poll outcome; returns true when the state changed. */
bool col_comm_step(col_comm_t *c, bool ok, bool partial, int offline_after, int online_after);

/* A counter step from (prev at prev_ms) to (cur at cur_ms). */
typedef enum col_counter_verdict {
    COL_COUNTER_OK,
    COL_COUNTER_RESET,
    COL_COUNTER_JUMP,
    COL_COUNTER_WRAP,
} col_counter_verdict;
/* *delta is the increment to count (0 unless OK). max_rate_per_h bounds a
 * plausible increase per hour (kW for kWh, t/h for tonnes); a small absolute
 * slack covers rounding of the counter's last digit. */
col_counter_verdict col_counter_check(double prev, int64_t prev_ms, double cur, int64_t cur_ms,
                                      double max_rate_per_h, double *delta);
/* The same for a counter that wraps at wrap (0: never): a step backwards
 * that is a plausible increase across the wrap is COL_COUNTER_WRAP with
 * *delta the increase (counted as continuing, not a reset). */
col_counter_verdict col_counter_check_wrap(double prev, int64_t prev_ms, double cur,
                                           int64_t cur_ms, double max_rate_per_h, double wrap,
                                           double *delta);

/* ---- queries for other modules (any thread, its own read connection) ---- */

/* Interval quantity of a device's counter point (quantity e.g.
 * "energy_import", "energy_reactive", "energy_import_peak") over minutes
 * [from_s, to_s), from counter_minute. CM_ERR_NOTFOUND when the device has no
 * such point. */
int col_counter_between(sqlite3 *db, int64_t device_id, const char *quantity, int64_t from_s,
                        int64_t to_s, double *out, char *err, size_t errlen);
/* Imported active energy, kWh, of a gate over [from_s, to_s). */
int col_energy_between(sqlite3 *db, int64_t device_id, int64_t from_s, int64_t to_s, double *kwh,
                       char *err, size_t errlen);
/* Devices of a gate type ("mine_total", "underground", "transport", "other"),
 * ids ascending; *n the number found (up to max). */
int col_gate_find(sqlite3 *db, const char *gate_type, int64_t *ids, int max, int *n, char *err,
                  size_t errlen);
/* Station output, tonnes, over [from_s, to_s) from station_output_minute. */
int col_station_output(sqlite3 *db, int64_t device_id, int64_t from_s, int64_t to_s,
                       double *tonnes, char *err, size_t errlen);

/* The same queries in the shapes their readers (analytics, uplink) need.
 * Every one returns CM_ERR_DB with SQLite's message when a query fails: a
 * sum that could not be read never comes back as 0. */

/* Increments of a device's counter points of a quantity over minutes
 * [from_s, to_s), pooled over its points of that quantity; *minutes is the
 * number of minute rows (0: no data, *sum 0). */
int col_counter_sum(sqlite3 *db, int64_t device_id, const char *quantity, int64_t from_s,
                    int64_t to_s, double *sum, int64_t *minutes, char *err, size_t errlen);
/* Output of every station over minutes [from_s, to_s): tonnes, and the
 * number of minute rows (0: no station reported). */
int col_output_total(sqlite3 *db, int64_t from_s, int64_t to_s, double *tonnes, int64_t *minutes,
                     char *err, size_t errlen);
/* Minute rows of every mine-total gate's counters in [from_s, to_s) (0: no
 * mine-total meter reported), and their energy_import increments, kWh. */
int col_mine_total_energy(sqlite3 *db, int64_t from_s, int64_t to_s, double *kwh,
                          int64_t *minutes, char *err, size_t errlen);

/* A gate device (device.gate_type set). */
typedef struct col_gate {
    int64_t id;
    char name[64];
    char gate_type[16]; /* "mine_total", "underground", "transport", "other" */
} col_gate_t;
/* All gate devices, ids ascending, up to max; *n the number found. */
int col_gates(sqlite3 *db, col_gate_t *out, int max, int *n, char *err, size_t errlen);

/* One station's figures over [from_s, to_s). */
typedef struct col_station_sum {
    int64_t id;
    char name[64];
    double tonnes;      /* from station_output_minute */
    int run_minutes;    /* minutes with output > 0 */
    bool has_cum;       /* cum_t: the station's total counter before to_s */
    double cum_t;
    bool has_speed;     /* speed_ms: mean belt speed of its records in the range */
    double speed_ms;
} col_station_sum_t;
/* Stations with output minutes in [from_s, to_s), ids ascending, up to max. */
int col_station_sums(sqlite3 *db, int64_t from_s, int64_t to_s, col_station_sum_t *out, int max,
                     int *n, char *err, size_t errlen);

/* ---- the belt-scale station's register map (docs/station-map.md) ------ */

enum {
    /* identity block, holding registers */
    COL_ST_SERIAL = 0x0000,     /* 8 registers: 16 ASCII bytes, high byte first, NUL padded */
    COL_ST_FW_MAJOR = 0x0008,   /* u16 */
    COL_ST_FW_MINOR = 0x0009,   /* u16 */
    COL_ST_MAP_VERSION = 0x000A, /* u16, 1 */
    COL_ST_RECORD_S = 0x000B,   /* u16, seconds between buffer records */
    COL_ST_CAPACITY = 0x000C,   /* u32, records the buffer holds */
    COL_ST_IDENT_REGS = 14,
    /* live block */
    COL_ST_LIVE = 0x0100,
    COL_ST_LIVE_REGS = 0x14, /* 0x0100..0x0113 */
    /* record buffer */
    COL_ST_OLDEST = 0x0200,  /* u32, oldest sequence number held (0: empty) */
    COL_ST_NEWEST = 0x0202,  /* u32, newest sequence number */
    COL_ST_POINTER = 0x0204, /* u32, write (FC16) the first sequence number wanted */
    COL_ST_WINDOW_N = 0x0206, /* u16, valid records in the window */
    COL_ST_WINDOW = 0x0210,  /* COL_ST_WINDOW_RECORDS records of COL_ST_RECORD_REGS */
    COL_ST_WINDOW_RECORDS = 8,
    COL_ST_RECORD_REGS = 8,  /* seq u32, time u32 (epoch s), total u32 (0.1 t), flow u16 (0.1 t/h), speed u16 (mm/s) */
};

/* Fault bits of register "faults" (bit i = names[i]); text in Chinese for the UI. */
#define COL_ST_FAULT_BITS 8
extern const char *const col_station_fault_names[COL_ST_FAULT_BITS];
extern const char *const col_station_fault_text[COL_ST_FAULT_BITS];

/* The live block as a map (points flow, total, speed, load, vib1, vib2,
 * running, sensors, status, faults, power, battery, clock). */
void col_station_map(col_map_t *map);

/* One buffered record, decoded. */
typedef struct col_st_record {
    uint32_t seq;
    int64_t ts_ms;
    double total_t, flow_tph, speed_ms;
} col_st_record_t;
void col_station_record_decode(const uint16_t regs[COL_ST_RECORD_REGS], col_st_record_t *r);
void col_station_record_encode(const col_st_record_t *r, uint16_t regs[COL_ST_RECORD_REGS]);

/* ---- the polling service --------------------------------------------- */

/* A dead TCP link (a gateway) is retried at least this often, so devices
 * behind a gateway that comes back are read within it plus one poll. */
#define COL_CONNECT_BACKOFF_MAX_MS 5000

typedef struct col col_t;

/* Read "collector" from the configuration, register devices and points in
 * the store, and start the polling threads: one per serial bus, and a small
 * pool for TCP endpoints (devices behind one host:port share one connection
 * and are polled in turn). NULL on failure. */
col_t *col_start(const cfg_t *cfg, store_t *store, char *err, size_t errlen);
/* Stop and join every thread, free everything. NULL is accepted. */
void col_stop(col_t *col);

/* Per-thread polling figures (for /metrics and the bench). */
/* A link's name: a bus name or "tcp:host:port"; a polling thread's name is one of them. */
#define COL_LINK_NAME_LEN 160

typedef struct col_bus_stats {
    char name[COL_LINK_NAME_LEN];
    int devices;
    uint64_t cycles;       /* passes in which every due device was polled */
    double last_cycle_ms;  /* duration of the last full pass */
    double mean_cycle_ms;
} col_bus_stats_t;
/* Fills up to max entries; returns how many threads there are. Thread-safe. */
int col_get_stats(col_t *col, col_bus_stats_t *out, int max);

/* Communication figures of one device since the daemon started (issue #15):
 * requests sent, answers, timeouts, Modbus exceptions, CRC errors, other bad
 * frames, late answers discarded on an RS485 line, and the response time of
 * the last COL_RT_SAMPLES answers as percentiles. Thread-safe. */
typedef struct col_device_stats {
    uint64_t requests, answers, timeouts, exceptions, crc_errors, bad_frames, late_frames;
    int samples;
    double p50_ms, p90_ms, p99_ms, max_ms;
} col_device_stats_t;
/* CM_ERR_NOTFOUND when the collector polls no device of that name. */
int col_get_device_stats(col_t *col, const char *name, col_device_stats_t *out);

#endif
