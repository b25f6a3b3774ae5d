/*
 * collector internals shared by its .c files; not for other modules.
 *
 * A col_t owns an array of threads (col_thread_t). A thread owns links; a
 * link is one Modbus connection (a serial line, or one TCP endpoint that may
 * be a gateway carrying several unit ids) and owns the devices behind it.
 * Everything under a thread is touched only by that thread once started,
 * except the stats, which are guarded by col_t.mu.
 */
#ifndef COALMON_COLLECTOR_INTERNAL_H
#define COALMON_COLLECTOR_INTERNAL_H

#include <pthread.h>

#include <modbus.h>

#include "collector/collector.h"

typedef enum col_kind { COL_KIND_METER, COL_KIND_STATION } col_kind;

/* Plausibility checks on one station quantity. */
typedef struct col_check {
    double last;
    int same;       /* polls in a row with an identical value */
    bool stuck, out_of_range;
} col_check_t;

typedef struct col_station_state {
    bool have_cursor;
    uint32_t last_seq;   /* in the station's own numbering */
    int64_t seq_offset;  /* added when stored: grows each time the numbering restarts */
    double last_total;
    int64_t last_ts_ms;
    bool ident_done;
    char reported_serial[20]; /* the serial last read from the station */
    bool have_live;
    uint16_t faults, power;
    int zero_speed_polls;
    bool zero_speed;
    col_check_t chk[4]; /* flow, speed, vib1, vib2 */
    int record_batch;   /* windows fetched per poll at most */
} col_station_state_t;

/* Communication figures of one device (issue #15), under col_t.mu: written
 * by the device's polling thread, read by whoever asks for the stats. */
#define COL_RT_SAMPLES 256
typedef struct col_dev_stats {
    uint64_t requests, answers, timeouts, exceptions, crc_errors, bad_frames, late_frames;
    uint32_t rt_ms[COL_RT_SAMPLES]; /* response times of the last answers, a ring */
    int rt_n, rt_next;
} col_dev_stats_t;

typedef struct col_dev {
    char name[64], model[64], serial[64], gate_type[32], location[128], install_date[16];
    col_kind kind;
    int unit;
    /* quirks */
    int poll_ms, timeout_ms, byte_timeout_ms, request_pause_ms, offline_after, online_after;
    int backoff_max_ms, address_shift;
    double max_rate; /* plausible counter increase per hour (kW or t/h) */
    /* instrument transformers: configured (0 = not set: the meter's own
     * ratio registers if the map names them, else 1) and in force */
    double ct_cfg, pt_cfg, multiplier, ct, pt;
    bool ratio_warned;
    int stuck_polls;
    col_map_t map;
    int order[COL_MAX_POINTS];
    col_request_t req[COL_MAX_POINTS];
    int nreq;
    int64_t device_id;
    int64_t point_id[COL_MAX_POINTS];
    /* counters: last good value per point, restored from point_latest */
    double ctr_last[COL_MAX_POINTS];
    int64_t ctr_ms[COL_MAX_POINTS];
    /* polling state */
    col_comm_t comm;
    int64_t next_due; /* monotonic ms */
    col_station_state_t st;
    col_dev_stats_t stats;
    struct col *owner;
} col_dev_t;

typedef struct col_link {
    char name[COL_LINK_NAME_LEN];
    col_link_opts_t o;
    int frame_delay_ms, connect_pause_ms;
    modbus_t *mb;
    int64_t next_connect; /* monotonic ms; back-off after a failed connect */
    int connect_fails;
    char last_err[200]; /* why the last connect failed, for devices waiting on it */
    bool fresh; /* connected since the last request: pause first */
    /* RTU: the device addressed now (stats), when the line last carried a
     * frame, and until when a device that timed out may still answer. */
    col_dev_t *cur;
    int64_t last_io_ms, late_until_ms;
    col_dev_t *late_dev;
    int timeout_ms; /* of the device addressed now */
    int last_errno; /* of the last request, 0 when it was answered */
    int requests;   /* sent on this link */
    col_dev_t *devs;
    int ndevs;
    /* a TCP endpoint carrying several devices is a gateway, a device itself */
    bool gateway;
    char gw_name[64];
    int64_t gw_id;
    col_comm_t gw_comm;
    int offline_after, online_after; /* the gateway's, from its first device */
} col_link_t;

typedef struct col_thread {
    char name[COL_LINK_NAME_LEN];
    col_link_t **links;
    int nlinks;
    pthread_t thread;
    bool started;
    struct col *owner;
    /* stats, under owner->mu */
    uint64_t cycles;
    double last_cycle_ms, sum_cycle_ms;
} col_thread_t;

struct col {
    store_t *store;
    col_link_t *links;
    int nlinks;
    col_thread_t *threads;
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
};

/* devcfg.c: parse "collector" into links (each with its devices). */
int col_cfg_read(const cfg_t *cfg, col_t *col, char *err, size_t errlen);
void col_cfg_free(col_t *col);

/* link.c: connection handling and planned reads with our own recovery. */
int col_link_open(col_link_t *l, char *err, size_t errlen);
void col_link_close(col_link_t *l);
/* Run a device's planned requests; values[] by map index. On failure the
 * link has been flushed or closed as the error requires. */
int col_link_read_map(col_link_t *l, col_dev_t *d, col_value_t *values, char *err,
                      size_t errlen);
/* Raw register access for the station (after col_link_select). */
int col_link_read_regs(col_link_t *l, int addr, int n, uint16_t *regs, char *err, size_t errlen);
int col_link_write_regs(col_link_t *l, int addr, int n, const uint16_t *regs, char *err,
                        size_t errlen);
/* Address the device: unit id and its timeouts; its stats count from here. */
void col_link_select(col_link_t *l, col_dev_t *d);
/* A Modbus exception code in errno (a well-formed refusal). */
bool col_is_exception(int e);
/* Sleep that wakes early when the collector stops; true when stopping. */
bool col_sleep(struct col *col, int64_t ms);

/* poll.c: events and state, usable by station.c. */
/* The gateway of l had a pass over its due devices: any answered or none. */
void col_gateway_outcome(col_link_t *l, bool any_ok, const char *detail);
void col_event(col_dev_t *d, const char *kind, const char *state, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void col_comm_outcome(col_dev_t *d, bool ok, bool partial, const char *detail);
/* Store one poll's values, each with its quality; returns how many were good. */
int col_store_values(col_dev_t *d, const col_value_t *v, int64_t now);
/* "N points refused, M undecodable (first: NAME)" for a partial answer. */
void col_quality_detail(const col_dev_t *d, const col_value_t *v, char *out, size_t len);
/* Count one request of d (NULL: not counted): e the errno, 0 for an answer. */
void col_stats_request(col_dev_t *d, int e, int64_t response_ms);
/* A late answer of d was found on the line and discarded. */
void col_stats_late(col_dev_t *d);

/* station.c */
int col_station_poll(col_link_t *l, col_dev_t *d, char *err, size_t errlen);
/* Inside the registration job: load the cursor. */
int col_station_load(sqlite3 *db, col_dev_t *d, char *err, size_t errlen);

#endif
