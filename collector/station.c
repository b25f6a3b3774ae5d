/* The belt-scale station (docs/station-map.md): identity, live values,
 * self-diagnosis, and the record buffer fetched by sequence number from the
 * breakpoint on (ACQ-1, ACQ-7, ACQ-8, ACQ-10). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/internal.h"

const char *const col_station_fault_names[COL_ST_FAULT_BITS] = {
    "weigh_sensor", "speed_sensor", "onoff_sensor", "vibration_sensor_1",
    "vibration_sensor_2", "storage", "clock", "calibration_due"};
const char *const col_station_fault_text[COL_ST_FAULT_BITS] = {
    "称重传感器故障", "速度传感器故障", "开停传感器故障", "1号振动传感器故障",
    "2号振动传感器故障", "存储故障", "时钟未校准", "标定到期"};

enum { P_FLOW, P_TOTAL, P_SPEED, P_LOAD, P_VIB1, P_VIB2, P_RUNNING, P_SENSORS, P_STATUS, P_FAULTS,
       P_POWER, P_BATTERY, P_CLOCK, P_COUNT };

void col_station_map(col_map_t *map)
{
    static const struct {
        const char *name, *quantity, *unit, *label;
        uint16_t addr;
        col_type type;
        double scale;
        bool counter;
    } pts[P_COUNT] = {
        {"flow", "flow", "t/h", "瞬时流量", 0x0100, COL_F32, 1, false},
        {"total", "tonnage_total", "t", "累计量", 0x0102, COL_U32, 0.1, true},
        {"speed", "belt_speed", "m/s", "带速", 0x0104, COL_F32, 1, false},
        {"load", "weigh_load", "kg", "称重传感器载荷", 0x0106, COL_F32, 1, false},
        {"vib1", "vibration_1", "mm/s", "1号驱动电机振动速度", 0x0108, COL_F32, 1, false},
        {"vib2", "vibration_2", "mm/s", "2号驱动电机振动速度", 0x010A, COL_F32, 1, false},
        {"running", "running", "", "运行状态", 0x010C, COL_U16, 1, false},
        {"sensors", "onoff_bits", "", "开停传感器状态位", 0x010D, COL_U16, 1, false},
        {"status", "status_bits", "", "分站状态位", 0x010E, COL_U16, 1, false},
        {"faults", "fault_bits", "", "故障位", 0x010F, COL_U16, 1, false},
        {"power", "power_supply", "", "供电 0市电 1电池", 0x0110, COL_U16, 1, false},
        {"battery", "battery_voltage", "V", "电池电压", 0x0111, COL_U16, 0.01, false},
        {"clock", "station_clock", "s", "分站时钟", 0x0112, COL_U32, 1, false},
    };
    memset(map, 0, sizeof *map);
    snprintf(map->model, sizeof map->model, "coalmon-bs1");
    snprintf(map->vendor, sizeof map->vendor, "coalmon");
    map->max_registers = 125;
    map->count = P_COUNT;
    for (int i = 0; i < P_COUNT; i++) {
        col_point_t *p = &map->points[i];
        snprintf(p->name, sizeof p->name, "%s", pts[i].name);
        snprintf(p->quantity, sizeof p->quantity, "%s", pts[i].quantity);
        snprintf(p->unit, sizeof p->unit, "%s", pts[i].unit);
        snprintf(p->label, sizeof p->label, "%s", pts[i].label);
        p->address = pts[i].addr;
        p->fn = COL_FN_HOLDING;
        p->type = pts[i].type;
        p->scale = pts[i].scale;
        p->counter = pts[i].counter;
    }
}

static uint32_t u32_at(const uint16_t *r) { return (uint32_t)r[0] << 16 | r[1]; }

void col_station_record_decode(const uint16_t regs[COL_ST_RECORD_REGS], col_st_record_t *r)
{
    r->seq = u32_at(regs);
    r->ts_ms = (int64_t)u32_at(regs + 2) * 1000;
    r->total_t = u32_at(regs + 4) * 0.1;
    r->flow_tph = regs[6] * 0.1;
    r->speed_ms = regs[7] * 0.001;
}

void col_station_record_encode(const col_st_record_t *r, uint16_t regs[COL_ST_RECORD_REGS])
{
    uint32_t t = (uint32_t)(r->ts_ms / 1000), total = (uint32_t)llround(r->total_t * 10);
    regs[0] = (uint16_t)(r->seq >> 16);
    regs[1] = (uint16_t)r->seq;
    regs[2] = (uint16_t)(t >> 16);
    regs[3] = (uint16_t)t;
    regs[4] = (uint16_t)(total >> 16);
    regs[5] = (uint16_t)total;
    regs[6] = (uint16_t)lround(fmin(fmax(r->flow_tph * 10, 0), 65535));
    regs[7] = (uint16_t)lround(fmin(fmax(r->speed_ms * 1000, 0), 65535));
}

int col_station_load(sqlite3 *db, col_dev_t *d, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db,
                           "SELECT last_seq, last_total_t, last_ts_ms, seq_offset"
                           " FROM station_cursor WHERE device_id = ?",
                           &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, d->device_id);
    if (sqlite3_step(s) == SQLITE_ROW) {
        d->st.have_cursor = true;
        d->st.last_seq = (uint32_t)sqlite3_column_int64(s, 0);
        d->st.last_total = sqlite3_column_double(s, 1);
        d->st.last_ts_ms = sqlite3_column_int64(s, 2);
        d->st.seq_offset = sqlite3_column_int64(s, 3);
    }
    sqlite3_finalize(s);
    /* The fault bits and supply last seen, so a restart does not raise again
     * what was raised before it. */
    rc = store_prepare(db, "SELECT value FROM point_latest WHERE point_id = ?", &s, err, errlen);
    if (rc)
        return rc;
    bool have_faults = false, have_power = false;
    for (int k = 0; k < 2; k++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, d->point_id[k ? P_POWER : P_FAULTS]);
        if (sqlite3_step(s) != SQLITE_ROW)
            continue;
        uint16_t v = (uint16_t)sqlite3_column_int(s, 0);
        if (k) {
            d->st.power = v;
            have_power = true;
        } else {
            d->st.faults = v;
            have_faults = true;
        }
    }
    sqlite3_finalize(s);
    d->st.have_live = have_faults && have_power;
    return CM_OK;
}

/* ---- identity ---------------------------------------------------------------- */

typedef struct ident_job {
    int64_t device_id;
    char serial[20], firmware[16];
} ident_job_t;

/* Firmware the station reports changed since last read: a device parameter
 * changed (ALM-5), audited in this transaction, channel "station" (issue #7).
 * A serial that differs from the configured one is the "identity" event. */
static int audit_firmware(sqlite3 *db, const ident_job_t *j, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int rc = store_prepare(db, "SELECT name, firmware FROM device WHERE id = ?", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, j->device_id);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 1) &&
        strcmp((const char *)sqlite3_column_text(s, 1), j->firmware) != 0) {
        char target[128];
        snprintf(target, sizeof target, "device:%s", (const char *)sqlite3_column_text(s, 0));
        rc = store_audit(db, "station", "station", "device.firmware", target,
                         (const char *)sqlite3_column_text(s, 1), j->firmware,
                         "reported by the station", err, errlen);
    }
    sqlite3_finalize(s);
    return rc;
}

static int ident_write(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    ident_job_t *j = arg;
    sqlite3_stmt *s;
    int rc = audit_firmware(db, j, err, errlen);
    if (!rc)
        rc = store_prepare(db, "UPDATE device SET serial = ?2, firmware = ?3 WHERE id = ?1", &s,
                           err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, j->device_id);
    sqlite3_bind_text(s, 2, j->serial, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, j->firmware, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = cm_fail(err, errlen, CM_ERR_DB, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

static int read_ident(col_link_t *l, col_dev_t *d, char *err, size_t errlen)
{
    uint16_t r[COL_ST_IDENT_REGS];
    int rc = col_link_read_regs(l, COL_ST_SERIAL, COL_ST_IDENT_REGS, r, err, errlen);
    if (rc)
        return rc;
    ident_job_t j = {.device_id = d->device_id};
    for (int i = 0; i < 8; i++) {
        j.serial[2 * i] = (char)(r[i] >> 8);
        j.serial[2 * i + 1] = (char)(r[i] & 0xff);
    }
    for (int i = 0; i < 16; i++)
        if ((unsigned char)j.serial[i] < 0x20 || (unsigned char)j.serial[i] > 0x7e)
            j.serial[i] = '\0';
    snprintf(j.firmware, sizeof j.firmware, "%u.%u", r[8], r[9]);
    /* Told once per serial seen, not on every reconnect. */
    if (d->serial[0] && strcmp(d->serial, j.serial) != 0 &&
        strcmp(d->st.reported_serial, j.serial) != 0)
        col_event(d, "identity", "mismatch", "configured serial %s, station reports %s",
                  d->serial, j.serial);
    snprintf(d->st.reported_serial, sizeof d->st.reported_serial, "%s", j.serial);
    if (j.serial[0])
        rc = store_write(d->owner->store, ident_write, &j, err, errlen);
    d->st.ident_done = rc == CM_OK;
    return rc;
}

/* ---- self-diagnosis -------------------------------------------------------------- */

static void check_value(col_dev_t *d, int i, const char *name, double v, double lo, double hi,
                        bool running)
{
    col_check_t *c = &d->st.chk[i];
    bool bad = v < lo || v > hi;
    if (bad != c->out_of_range) {
        c->out_of_range = bad;
        col_event(d, "plausibility", bad ? "raised" : "cleared",
                  "out_of_range %s: %.3f outside %.1f..%.1f", name, v, lo, hi);
    }
    /* A live sensor always wobbles; the same value for many polls while the
     * belt runs means the sensor or its transmitter is stuck. */
    c->same = d->st.have_live && running && v == c->last ? c->same + 1 : 0;
    c->last = v;
    bool stuck = c->same >= d->stuck_polls;
    if (stuck != c->stuck) {
        c->stuck = stuck;
        col_event(d, "plausibility", stuck ? "raised" : "cleared", "stuck %s: %.3f for %d polls",
                  name, v, stuck ? c->same : d->stuck_polls);
    }
}

static void diagnose(col_dev_t *d, const col_value_t *v)
{
    col_station_state_t *st = &d->st;
    uint16_t faults = (uint16_t)v[P_FAULTS].value, power = (uint16_t)v[P_POWER].value;
    uint16_t before = st->have_live ? st->faults : 0;
    for (int b = 0; b < COL_ST_FAULT_BITS; b++) {
        bool now = faults >> b & 1, was = before >> b & 1;
        if (now != was)
            col_event(d, "fault", now ? "raised" : "cleared", "%s: %s",
                      col_station_fault_names[b], col_station_fault_text[b]);
    }
    if ((st->have_live && power != st->power) || (!st->have_live && power != 0))
        col_event(d, "power", power ? "battery" : "mains", "%s",
                  power ? "市电中断，电池供电" : "市电供电");
    st->faults = faults;
    st->power = power;
    bool running = v[P_RUNNING].value != 0;
    check_value(d, 0, "flow", v[P_FLOW].value, 0, d->max_rate * 1.2, running);
    check_value(d, 1, "speed", v[P_SPEED].value, 0, 8.0, running);
    check_value(d, 2, "vib1", v[P_VIB1].value, 0, 253.8, running);
    check_value(d, 3, "vib2", v[P_VIB2].value, 0, 253.8, running);
    /* Three polls in a row, so a belt starting up is not flagged. */
    st->zero_speed_polls = running && v[P_SPEED].value < 0.05 ? st->zero_speed_polls + 1 : 0;
    bool zero = st->zero_speed_polls >= 3;
    if (zero != st->zero_speed && (zero || st->zero_speed_polls == 0)) {
        st->zero_speed = zero;
        col_event(d, "plausibility", zero ? "raised" : "cleared",
                  "belt_zero_speed speed: running with speed %.3f m/s", v[P_SPEED].value);
    }
    st->have_live = true;
}

/* ---- the record buffer ---------------------------------------------------------- */

typedef struct rec_job {
    int64_t device_id;
    int64_t seq_offset;
    int n;
    col_st_record_t rec[COL_ST_WINDOW_RECORDS];
    double tonnes[COL_ST_WINDOW_RECORDS];
    bool backfilled;
} rec_job_t;

static int rec_write(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    rec_job_t *j = arg;
    sqlite3_stmt *ins = NULL, *min = NULL, *cur = NULL;
    int rc = store_prepare(db,
                           "INSERT INTO station_record(device_id, seq, ts_ms, total_t, flow_tph,"
                           " speed_ms, backfilled) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           &ins, err, errlen);
    if (!rc)
        rc = store_prepare(db,
                           "INSERT INTO station_output_minute(device_id, minute, tonnes, records)"
                           " VALUES (?, ?, ?, 1) ON CONFLICT(device_id, minute) DO UPDATE SET"
                           " tonnes = tonnes + excluded.tonnes, records = records + 1",
                           &min, err, errlen);
    if (!rc)
        rc = store_prepare(db,
                           "INSERT INTO station_cursor(device_id, last_seq, last_total_t, last_ts_ms,"
                           " seq_offset) VALUES (?, ?, ?, ?, ?) ON CONFLICT(device_id) DO UPDATE SET"
                           " last_seq = excluded.last_seq, last_total_t = excluded.last_total_t,"
                           " last_ts_ms = excluded.last_ts_ms, seq_offset = excluded.seq_offset",
                           &cur, err, errlen);
    for (int i = 0; !rc && i < j->n; i++) {
        const col_st_record_t *r = &j->rec[i];
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, j->device_id);
        sqlite3_bind_int64(ins, 2, r->seq + j->seq_offset);
        sqlite3_bind_int64(ins, 3, r->ts_ms);
        sqlite3_bind_double(ins, 4, r->total_t);
        sqlite3_bind_double(ins, 5, r->flow_tph);
        sqlite3_bind_double(ins, 6, r->speed_ms);
        sqlite3_bind_int(ins, 7, j->backfilled);
        /* A duplicate sequence number fails the job: nothing half stored. */
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = cm_fail(err, errlen, CM_ERR_DB, "record %u: %s", r->seq, sqlite3_errmsg(db));
        sqlite3_reset(min);
        sqlite3_bind_int64(min, 1, j->device_id);
        sqlite3_bind_int64(min, 2, r->ts_ms / 60000 * 60);
        sqlite3_bind_double(min, 3, j->tonnes[i]);
        if (!rc && sqlite3_step(min) != SQLITE_DONE)
            rc = cm_fail(err, errlen, CM_ERR_DB, "output: %s", sqlite3_errmsg(db));
    }
    if (!rc && j->n) {
        const col_st_record_t *last = &j->rec[j->n - 1];
        sqlite3_bind_int64(cur, 1, j->device_id);
        sqlite3_bind_int64(cur, 2, last->seq);
        sqlite3_bind_double(cur, 3, last->total_t);
        sqlite3_bind_int64(cur, 4, last->ts_ms);
        sqlite3_bind_int64(cur, 5, j->seq_offset);
        if (sqlite3_step(cur) != SQLITE_DONE)
            rc = cm_fail(err, errlen, CM_ERR_DB, "cursor: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(min);
    sqlite3_finalize(cur);
    return rc;
}

/* Fetch one window from seq on; store it; advance the cursor. *got records. */
static int fetch_window(col_link_t *l, col_dev_t *d, uint32_t seq, bool backfilled, int *got,
                        char *err, size_t errlen)
{
    uint16_t ptr[2] = {(uint16_t)(seq >> 16), (uint16_t)seq};
    uint16_t r[COL_ST_WINDOW - COL_ST_WINDOW_N + COL_ST_WINDOW_RECORDS * COL_ST_RECORD_REGS];
    int rc = col_link_write_regs(l, COL_ST_POINTER, 2, ptr, err, errlen);
    if (!rc)
        rc = col_link_read_regs(l, COL_ST_WINDOW_N, (int)(sizeof r / sizeof r[0]), r, err, errlen);
    if (rc)
        return rc;
    rec_job_t j = {.device_id = d->device_id, .seq_offset = d->st.seq_offset,
                   .backfilled = backfilled};
    int n = r[0] <= COL_ST_WINDOW_RECORDS ? r[0] : COL_ST_WINDOW_RECORDS;
    col_station_state_t *st = &d->st;
    double last_total = st->last_total;
    int64_t last_ts = st->last_ts_ms;
    bool have = st->have_cursor;
    for (int i = 0; i < n; i++) {
        col_st_record_t *rec = &j.rec[j.n];
        col_station_record_decode(r + (COL_ST_WINDOW - COL_ST_WINDOW_N) + i * COL_ST_RECORD_REGS,
                                  rec);
        if (rec->seq != seq + (uint32_t)i)
            return cm_fail(err, errlen, CM_ERR_PROTOCOL,
                           "record window: expected sequence %u, got %u", seq + (uint32_t)i,
                           rec->seq);
        double t = 0;
        if (have) {
            /* Record times have whole seconds: allow for one more. */
            /* The u32 total in 0.1 t starts again from 0 past 429 496 729.5 t. */
            col_counter_verdict v =
                col_counter_check_wrap(last_total, last_ts, rec->total_t, rec->ts_ms + 1000,
                                       d->max_rate, 4294967296.0 * 0.1, &t);
            if (v != COL_COUNTER_OK && v != COL_COUNTER_WRAP)
                col_event(d, v == COL_COUNTER_RESET ? "counter_reset" : "counter_jump", "total",
                          "record %u: cumulative tonnage %.1f -> %.1f t", rec->seq, last_total,
                          rec->total_t);
        }
        j.tonnes[j.n++] = t;
        last_total = rec->total_t;
        last_ts = rec->ts_ms;
        have = true;
    }
    if (j.n && (rc = store_write(d->owner->store, rec_write, &j, err, errlen)))
        return rc;
    if (j.n) {
        st->have_cursor = true;
        st->last_seq = j.rec[j.n - 1].seq;
        st->last_total = last_total;
        st->last_ts_ms = last_ts;
    }
    *got = j.n;
    return CM_OK;
}

static int backfill(col_link_t *l, col_dev_t *d, char *err, size_t errlen)
{
    uint16_t h[4];
    int rc = col_link_read_regs(l, COL_ST_OLDEST, 4, h, err, errlen);
    if (rc)
        return rc;
    uint32_t oldest = u32_at(h), newest = u32_at(h + 2);
    col_station_state_t *st = &d->st;
    if (newest == 0)
        return CM_OK;
    uint32_t from;
    if (!st->have_cursor) {
        from = newest; /* first contact: no breakpoint yet, start from now */
    } else if (newest < st->last_seq) {
        col_event(d, "backfill", "reset", "station sequence went back from %u to %u",
                  st->last_seq, newest);
        /* A new epoch: its records are stored after everything of the old one. */
        st->seq_offset += st->last_seq;
        st->have_cursor = false;
        from = oldest;
    } else {
        from = st->last_seq + 1;
    }
    if (st->have_cursor && from < oldest) {
        col_event(d, "backfill", "gap", "records %u..%u were overwritten in the station",
                  from, oldest - 1);
        from = oldest;
    }
    uint32_t behind = newest >= from ? newest - from + 1 : 0;
    bool catching_up = behind > 3;
    int total = 0;
    for (int w = 0; w < st->record_batch && from <= newest; w++) {
        int got = 0;
        if ((rc = fetch_window(l, d, from, catching_up, &got, err, errlen)))
            return rc;
        if (got == 0)
            break;
        from += (uint32_t)got;
        total += got;
    }
    if (catching_up)
        col_event(d, "backfill", from > newest ? "done" : "partial",
                  "%d records fetched up to sequence %u (newest %u)", total, from - 1, newest);
    return CM_OK;
}

int col_station_poll(col_link_t *l, col_dev_t *d, char *err, size_t errlen)
{
    col_value_t v[COL_MAX_POINTS];
    int rc = d->st.ident_done ? CM_OK : read_ident(l, d, err, errlen);
    if (!rc)
        rc = col_link_read_map(l, d, v, err, errlen);
    if (rc)
        return rc;
    int n = col_store_values(d, v, tm_now_ms());
    if (n == d->map.count)
        diagnose(d, v);
    rc = backfill(l, d, err, errlen);
    if (rc)
        return rc;
    col_comm_outcome(d, true, n < d->map.count, NULL);
    return CM_OK;
}
