/* Per-batch accumulators: two open-addressing hash tables, grown by doubling. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/store_acc.h"

typedef struct agg_slot {
    int64_t point_id, minute; /* point_id 0: empty (ids start at 1) */
    int64_t n, last_ts;
    double vmin, vmax, vsum, vlast;
} agg_slot_t;

typedef struct latest_slot {
    int64_t point_id;
    int64_t ts;
    double value;
    int quality;
} latest_slot_t;

struct store_acc {
    agg_slot_t *agg;
    size_t agg_cap, agg_n;
    latest_slot_t *lat;
    size_t lat_cap, lat_n;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

store_acc_t *store_acc_new(void)
{
    store_acc_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->agg_cap = a->lat_cap = 1024;
    a->agg = calloc(a->agg_cap, sizeof *a->agg);
    a->lat = calloc(a->lat_cap, sizeof *a->lat);
    if (!a->agg || !a->lat) {
        store_acc_free(a);
        return NULL;
    }
    return a;
}

void store_acc_free(store_acc_t *a)
{
    if (!a)
        return;
    free(a->agg);
    free(a->lat);
    free(a);
}

static agg_slot_t *agg_find(agg_slot_t *t, size_t cap, int64_t pid, int64_t minute)
{
    size_t i = mix((uint64_t)pid * 1000003u ^ (uint64_t)minute) & (cap - 1);
    while (t[i].point_id && (t[i].point_id != pid || t[i].minute != minute))
        i = (i + 1) & (cap - 1);
    return &t[i];
}

static latest_slot_t *lat_find(latest_slot_t *t, size_t cap, int64_t pid)
{
    size_t i = mix((uint64_t)pid) & (cap - 1);
    while (t[i].point_id && t[i].point_id != pid)
        i = (i + 1) & (cap - 1);
    return &t[i];
}

static int grow_agg(store_acc_t *a)
{
    size_t cap = a->agg_cap * 2;
    agg_slot_t *t = calloc(cap, sizeof *t);
    if (!t)
        return CM_ERR_NOMEM;
    for (size_t i = 0; i < a->agg_cap; i++)
        if (a->agg[i].point_id)
            *agg_find(t, cap, a->agg[i].point_id, a->agg[i].minute) = a->agg[i];
    free(a->agg);
    a->agg = t;
    a->agg_cap = cap;
    return CM_OK;
}

static int grow_lat(store_acc_t *a)
{
    size_t cap = a->lat_cap * 2;
    latest_slot_t *t = calloc(cap, sizeof *t);
    if (!t)
        return CM_ERR_NOMEM;
    for (size_t i = 0; i < a->lat_cap; i++)
        if (a->lat[i].point_id)
            *lat_find(t, cap, a->lat[i].point_id) = a->lat[i];
    free(a->lat);
    a->lat = t;
    a->lat_cap = cap;
    return CM_OK;
}

static int add_aggregate(store_acc_t *a, const store_reading_t *r)
{
    if (2 * (a->agg_n + 1) > a->agg_cap && grow_agg(a))
        return CM_ERR_NOMEM;
    /* Open addressing: at most half full, so a probe always reaches a free slot. */
    assert(2 * (a->agg_n + 1) <= a->agg_cap);
    int64_t minute = r->ts_ms / 60000 * 60;
    agg_slot_t *s = agg_find(a->agg, a->agg_cap, r->point_id, minute);
    if (!s->point_id) {
        *s = (agg_slot_t){.point_id = r->point_id, .minute = minute, .n = 1, .last_ts = r->ts_ms,
                          .vmin = r->value, .vmax = r->value, .vsum = r->value, .vlast = r->value};
        a->agg_n++;
        return CM_OK;
    }
    s->n++;
    s->vsum += r->value;
    if (r->value < s->vmin)
        s->vmin = r->value;
    if (r->value > s->vmax)
        s->vmax = r->value;
    if (r->ts_ms >= s->last_ts) {
        s->last_ts = r->ts_ms;
        s->vlast = r->value;
    }
    return CM_OK;
}

int store_acc_add(store_acc_t *a, const store_reading_t *r, bool aggregate)
{
    assert(r->point_id > 0); /* 0 marks an empty slot */
    if (aggregate && add_aggregate(a, r))
        return CM_ERR_NOMEM;
    if (2 * (a->lat_n + 1) > a->lat_cap && grow_lat(a))
        return CM_ERR_NOMEM;
    assert(2 * (a->lat_n + 1) <= a->lat_cap); /* as for the aggregates */
    latest_slot_t *s = lat_find(a->lat, a->lat_cap, r->point_id);
    if (!s->point_id)
        a->lat_n++;
    else if (r->ts_ms < s->ts)
        return CM_OK;
    *s = (latest_slot_t){.point_id = r->point_id, .ts = r->ts_ms, .value = r->value,
                         .quality = r->quality};
    return CM_OK;
}

void store_acc_clear(store_acc_t *a)
{
    if (a->agg_n)
        memset(a->agg, 0, a->agg_cap * sizeof *a->agg);
    if (a->lat_n)
        memset(a->lat, 0, a->lat_cap * sizeof *a->lat);
    a->agg_n = a->lat_n = 0;
}

static int step(sqlite3 *db, sqlite3_stmt *s, char *err, size_t errlen, const char *what)
{
    int rc = sqlite3_step(s) == SQLITE_DONE
                 ? CM_OK
                 : cm_fail(err, errlen, CM_ERR_DB, "%s: %s", what, sqlite3_errmsg(db));
    sqlite3_reset(s);
    return rc;
}

int store_acc_flush(store_acc_t *a, sqlite3 *db, sqlite3_stmt *up_agg, sqlite3_stmt *up_latest,
                    char *err, size_t errlen)
{
    int rc = CM_OK;
    for (size_t i = 0; !rc && a->agg_n && i < a->agg_cap; i++) {
        const agg_slot_t *s = &a->agg[i];
        if (!s->point_id)
            continue;
        sqlite3_bind_int64(up_agg, 1, s->point_id);
        sqlite3_bind_int64(up_agg, 2, s->minute);
        sqlite3_bind_int64(up_agg, 3, s->n);
        sqlite3_bind_double(up_agg, 4, s->vmin);
        sqlite3_bind_double(up_agg, 5, s->vmax);
        sqlite3_bind_double(up_agg, 6, s->vsum);
        sqlite3_bind_double(up_agg, 7, s->vlast);
        sqlite3_bind_int64(up_agg, 8, s->last_ts);
        rc = step(db, up_agg, err, errlen, "aggregate");
    }
    for (size_t i = 0; !rc && a->lat_n && i < a->lat_cap; i++) {
        const latest_slot_t *s = &a->lat[i];
        if (!s->point_id)
            continue;
        sqlite3_bind_int64(up_latest, 1, s->point_id);
        sqlite3_bind_int64(up_latest, 2, s->ts);
        sqlite3_bind_double(up_latest, 3, s->value);
        sqlite3_bind_int(up_latest, 4, s->quality);
        rc = step(db, up_latest, err, errlen, "latest");
    }
    return rc;
}

bool store_acc_empty(const store_acc_t *a) { return a->agg_n == 0 && a->lat_n == 0; }

int store_acc_merge(store_acc_t *dst, const store_acc_t *src)
{
    for (size_t i = 0; src->agg_n && i < src->agg_cap; i++) {
        const agg_slot_t *s = &src->agg[i];
        if (!s->point_id)
            continue;
        if (2 * (dst->agg_n + 1) > dst->agg_cap && grow_agg(dst))
            return CM_ERR_NOMEM;
        agg_slot_t *d = agg_find(dst->agg, dst->agg_cap, s->point_id, s->minute);
        if (!d->point_id) {
            *d = *s;
            dst->agg_n++;
            continue;
        }
        d->n += s->n;
        d->vsum += s->vsum;
        if (s->vmin < d->vmin)
            d->vmin = s->vmin;
        if (s->vmax > d->vmax)
            d->vmax = s->vmax;
        if (s->last_ts >= d->last_ts) {
            d->last_ts = s->last_ts;
            d->vlast = s->vlast;
        }
    }
    for (size_t i = 0; src->lat_n && i < src->lat_cap; i++) {
        const latest_slot_t *s = &src->lat[i];
        if (!s->point_id)
            continue;
        store_reading_t r = {.ts_ms = s->ts, .point_id = s->point_id, .value = s->value,
                             .quality = s->quality};
        if (store_acc_add(dst, &r, false))
            return CM_ERR_NOMEM;
    }
    return CM_OK;
}
