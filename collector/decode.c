/* Register decoding and request planning: pure functions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"

/* Put the registers into plain big-endian byte order (ABCD...). */
static void to_big_endian(const uint16_t *regs, int n, col_order_t o, uint8_t *bytes)
{
    /* n <= 4 always; the bound lets the optimiser see it (no false overflow warning). */
    for (int i = 0; i < n && i < 4; i++) {
        uint16_t r = regs[o.word_swap ? n - 1 - i : i];
        uint8_t hi = (uint8_t)(r >> 8), lo = (uint8_t)r;
        bytes[2 * i] = o.byte_swap ? lo : hi;
        bytes[2 * i + 1] = o.byte_swap ? hi : lo;
    }
}

static void from_big_endian(const uint8_t *bytes, int n, col_order_t o, uint16_t *regs)
{
    for (int i = 0; i < n && i < 4; i++) {
        uint8_t hi = bytes[2 * i], lo = bytes[2 * i + 1];
        uint16_t r = o.byte_swap ? (uint16_t)(lo << 8 | hi) : (uint16_t)(hi << 8 | lo);
        regs[o.word_swap ? n - 1 - i : i] = r;
    }
}

static uint64_t be_uint(const uint8_t *b, int nbytes)
{
    uint64_t v = 0;
    for (int i = 0; i < nbytes; i++)
        v = v << 8 | b[i];
    return v;
}

/* Decimals a number has (0..12), as written shortest. */
static int decimals(double x)
{
    double y = fabs(x);
    for (int k = 0; k < 12; k++, y *= 10)
        if (fabs(y - nearbyint(y)) <= 1e-9 * fmax(1.0, y))
            return k;
    return 12;
}

/* The shortest decimal that reads back as the same float32. */
static double shortest_float(float f)
{
    char b[40];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, (double)f);
        if (strtof(b, NULL) == f)
            return strtod(b, NULL);
    }
    return f;
}

double col_round_resolution(double raw, col_type t, double scale, double offset)
{
    if (t == COL_F64)
        return raw * scale + offset;
    if (t == COL_F32)
        raw = shortest_float((float)raw);
    int k = decimals(raw) + decimals(scale);
    int ko = decimals(offset);
    k = k > ko ? k : ko;
    if (k > 12)
        return raw * scale + offset;
    double p10 = pow(10, k);
    return nearbyint((raw * scale + offset) * p10) / p10;
}

int col_decode(const uint16_t *regs, col_type t, col_order_t o, double scale, double offset,
               double *out)
{
    uint8_t b[8];
    int n = col_type_regs(t);
    to_big_endian(regs, n, o, b);
    uint64_t u = be_uint(b, 2 * n);
    double raw;
    switch (t) {
    case COL_U16: raw = (double)(uint16_t)u; break;
    case COL_I16: raw = (double)(int16_t)(uint16_t)u; break;
    case COL_U32: raw = (double)(uint32_t)u; break;
    case COL_I32: raw = (double)(int32_t)(uint32_t)u; break;
    case COL_F32: {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, sizeof f);
        raw = f;
        break;
    }
    case COL_F64:
    default: {
        double d;
        memcpy(&d, &u, sizeof d);
        raw = d;
        break;
    }
    }
    if (!isfinite(raw))
        return CM_ERR_PROTOCOL;
    *out = col_round_resolution(raw, t, scale, offset);
    return CM_OK;
}

void col_encode(double raw, col_type t, col_order_t o, uint16_t *regs)
{
    int n = col_type_regs(t);
    uint64_t u;
    switch (t) {
    case COL_U16: u = (uint16_t)lround(raw); break;
    case COL_I16: u = (uint16_t)(int16_t)lround(raw); break;
    case COL_U32: u = (uint32_t)llround(raw); break;
    case COL_I32: u = (uint32_t)(int32_t)llround(raw); break;
    case COL_F32: {
        float f = (float)raw;
        uint32_t u32;
        memcpy(&u32, &f, sizeof u32);
        u = u32;
        break;
    }
    case COL_F64:
    default: memcpy(&u, &raw, sizeof u); break;
    }
    uint8_t b[8] = {0};
    for (int i = 2 * n - 1; i >= 0; i--, u >>= 8)
        b[i] = (uint8_t)u;
    from_big_endian(b, n, o, regs);
}

/* qsort has no context argument in C11; the map being sorted is per thread. */
static _Thread_local const col_map_t *sort_map;

static int by_fn_address(const void *a, const void *b)
{
    const col_point_t *p = &sort_map->points[*(const int *)a];
    const col_point_t *q = &sort_map->points[*(const int *)b];
    if (p->fn != q->fn)
        return p->fn - q->fn;
    return (int)p->address - (int)q->address;
}

int col_plan(const col_map_t *map, int max_regs, bool one_per_point, int order[COL_MAX_POINTS],
             col_request_t req[COL_MAX_POINTS])
{
    for (int i = 0; i < map->count; i++)
        order[i] = i;
    sort_map = map;
    qsort(order, (size_t)map->count, sizeof order[0], by_fn_address);
    if (max_regs < 1 || max_regs > 125)
        max_regs = 125;
    int nreq = 0;
    for (int k = 0; k < map->count; k++) {
        const col_point_t *p = &map->points[order[k]];
        int end = p->address + col_type_regs(p->type);
        if (nreq > 0 && !one_per_point) {
            col_request_t *r = &req[nreq - 1];
            int r_end = r->start + r->count;
            int new_end = end > r_end ? end : r_end;
            if (r->fn == p->fn && p->address <= r_end + map->max_gap &&
                new_end - r->start <= max_regs) {
                r->count = (uint16_t)(new_end - r->start);
                r->n++;
                continue;
            }
        }
        req[nreq++] = (col_request_t){.fn = p->fn, .start = p->address,
                                      .count = (uint16_t)col_type_regs(p->type), .first = k, .n = 1};
    }
    return nreq;
}

int col_plan_split(const col_map_t *map, const int *order, col_request_t *req, int *nreq, int r)
{
    col_request_t old = req[r];
    if (old.n <= 1)
        return 1;
    /* Does the request read over registers no point owns? */
    int used = 0;
    for (int k = old.first; k < old.first + old.n; k++)
        used += col_type_regs(map->points[order[k]].type);
    bool gaps = used < old.count;
    col_request_t piece[COL_MAX_POINTS];
    int np = 0;
    for (int pass = gaps ? 0 : 1; pass < 2 && np <= 1; pass++) {
        /* pass 0: gap-free runs; pass 1: one request per point */
        np = 0;
        for (int k = old.first; k < old.first + old.n; k++) {
            const col_point_t *p = &map->points[order[k]];
            int end = p->address + col_type_regs(p->type);
            if (np > 0 && pass == 0) {
                col_request_t *q = &piece[np - 1];
                int q_end = q->start + q->count;
                if (p->address <= q_end) { /* touching or overlapping */
                    q->count = (uint16_t)((end > q_end ? end : q_end) - q->start);
                    q->n++;
                    continue;
                }
            }
            piece[np++] = (col_request_t){.fn = p->fn, .start = p->address,
                                          .count = (uint16_t)col_type_regs(p->type), .first = k,
                                          .n = 1};
        }
    }
    memmove(&req[r + np], &req[r + 1], (size_t)(*nreq - r - 1) * sizeof *req);
    memcpy(&req[r], piece, (size_t)np * sizeof *req);
    *nreq += np - 1;
    return np;
}
