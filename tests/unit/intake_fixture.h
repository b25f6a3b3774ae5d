/* Shared by tests/unit/test_intake*.c: a store in a temporary folder, the
 * default intake configuration, and record builders. */
#ifndef COALMON_TEST_INTAKE_FIXTURE_H
#define COALMON_TEST_INTAKE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/analytics.h"
#include "intake/intake.h"

typedef struct ifx {
    char dir[64], path[128];
    store_t *st;
    sqlite3 *db;
    intake_conf_t conf;
    intake_materials_t mat;
} ifx_t;

static inline int ifx_setup(void **state)
{
    ifx_t *f = calloc(1, sizeof *f);
    char err[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/coalmon-intake-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    store_opts_t o;
    store_opts_default(&o);
    o.batch_delay_ms = 0;
    f->st = store_open(f->path, &o, err, sizeof err);
    if (!f->st) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    f->db = store_reader_open(f->st, err, sizeof err);
    intake_conf_default(&f->conf);
    f->conf.output = ana_output_for_intake; /* as the daemon and the CLI wire it */
    intake_materials_load(f->db, &f->mat, err, sizeof err);
    *state = f;
    return f->db ? 0 : -1;
}

static inline int ifx_teardown(void **state)
{
    ifx_t *f = *state;
    store_reader_close(f->db);
    store_close(f->st);
    char p[160];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A valid outbound ticket: 15 t tare, net as given, gross weighed at gross_at. */
static inline cJSON *ifx_ticket(const char *id, const char *plate, int64_t gross_at, double net)
{
    char tt[32], gt[32];
    tm_format_bj(gross_at - 1800, tt, sizeof tt);
    tm_format_bj(gross_at, gt, sizeof gt);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ticketId", id);
    cJSON_AddStringToObject(o, "plate", plate);
    cJSON_AddStringToObject(o, "material", "raw");
    cJSON_AddStringToObject(o, "direction", "out");
    cJSON_AddStringToObject(o, "tareTime", tt);
    cJSON_AddStringToObject(o, "grossTime", gt);
    cJSON_AddNumberToObject(o, "gross", 15 + net);
    cJSON_AddNumberToObject(o, "tare", 15);
    cJSON_AddNumberToObject(o, "net", net);
    cJSON_AddStringToObject(o, "weighbridgeId", "WB1");
    return o;
}

/* Parse with the fixture's configuration at time now; returns the parse code. */
static inline int ifx_parse(ifx_t *f, const cJSON *o, int64_t now, intake_ticket_t *t, intake_fault_t *fl)
{
    memset(fl, 0, sizeof *fl);
    return intake_ticket_parse(o, &f->conf, &f->mat, now, false, t, fl);
}

/* Parse and store one ticket (fails the test on a fault). */
static inline void ifx_put_ticket(ifx_t *f, cJSON *o, intake_put_result_t *res)
{
    intake_ticket_t t;
    intake_fault_t fl;
    char err[256];
    if (ifx_parse(f, o, tm_now_s() + 86400 * 400, &t, &fl))
        fail_msg("ticket rejected: %s: %s", fl.field, fl.msg);
    if (intake_tickets_put(f->st, &t, 1, "test", res, err, sizeof err))
        fail_msg("%s", err);
    cJSON_Delete(o);
}

static inline void ifx_point(ifx_t *f, const char *code, const char *dir)
{
    intake_point_t p = {0};
    char err[256];
    snprintf(p.code, sizeof p.code, "%s", code);
    snprintf(p.name, sizeof p.name, "出口%s", code);
    snprintf(p.direction, sizeof p.direction, "%s", dir);
    if (intake_point_put(f->st, &p, "test", "cli", err, sizeof err))
        fail_msg("%s", err);
}

static inline void ifx_capture(ifx_t *f, const char *id, const char *point, const char *plate,
                        int64_t at, const char *load)
{
    intake_capture_t c = {0};
    char err[256];
    intake_fault_t fl = {0};
    snprintf(c.capture_id, sizeof c.capture_id, "%s", id);
    snprintf(c.point, sizeof c.point, "%s", point);
    snprintf(c.plate, sizeof c.plate, "%s", plate);
    snprintf(c.load, sizeof c.load, "%s", load);
    c.time = at;
    if (intake_captures_put(f->st, &c, 1, "test", NULL, &fl, err, sizeof err))
        fail_msg("%s", err);
}

/* A single integer from a query with one optional text parameter. */
static inline long long ifx_count(ifx_t *f, const char *sql, const char *param)
{
    sqlite3_stmt *s;
    if (store_prepare(f->db, sql, &s, NULL, 0))
        fail_msg("bad SQL %s", sql);
    if (param)
        sqlite3_bind_text(s, 1, param, -1, SQLITE_TRANSIENT);
    long long v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

#endif
