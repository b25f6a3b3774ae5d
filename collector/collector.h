/*
 * collector: device I/O. Meter register maps (conf/meters/<model>.json),
 * register decoding, request planning, and the polling threads that turn
 * Modbus answers into store readings.
 *
 * Threads: libmodbus is blocking and not thread-safe; every modbus_t lives
 * and dies inside the one polling thread that created it. The pure functions
 * (col_map_*, col_decode, col_plan) may be called from any thread.
 * Ownership: col_map_t is a fixed-size value the caller owns; col_t owns its
 * threads and contexts and is freed by col_stop(). Readings leave through the
 * store's queue; nothing here writes SQL directly except the registry job.
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
} col_point_t;

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

/* Decode regs (as libmodbus returns them, host order) into a scaled value. */
int col_decode(const uint16_t *regs, col_type t, col_order_t o, double scale, double offset,
               double *out);
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

typedef struct col_value {
    double value;
    bool ok;
} col_value_t;

/* Connect to host:port, read every point of map from unit, disconnect.
 * values[i] matches map->points[i]. timeout_ms bounds each request. */
int col_read_tcp_once(const col_map_t *map, const char *host, int port, int unit, int timeout_ms,
                      col_value_t values[COL_MAX_POINTS], char *err, size_t errlen);

/* ---- the polling service --------------------------------------------- */

typedef struct col col_t;

/* Read "collector" from the configuration, register devices and points in
 * the store, and start one polling thread per device. NULL on failure. */
col_t *col_start(const cfg_t *cfg, store_t *store, char *err, size_t errlen);
/* Stop and join every thread, free everything. NULL is accepted. */
void col_stop(col_t *col);

#endif
