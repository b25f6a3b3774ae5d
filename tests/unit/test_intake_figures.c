/* Production-transport-sales figures (issue #9, ACQ-3) per shift, day, MTD,
 * QTD, YTD across a shift boundary and a month end, the coefficient in
 * force piecewise, inventory from the latest surveys, the mine system's own
 * figures kept apart, and the RPT-2 reports as JSON and CSV. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fail_store.h"
#include "intake_fixture.h"

static int64_t bj(int y, int mo, int d, int h, int mi, int s) { return tm_bj_to_epoch(y, mo, d, h, mi, s); }

typedef struct minute_job {
    int64_t minute;
    double tonnes;
} minute_job_t;

static int minute_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    minute_job_t *m = arg;
    sqlite3_stmt *s;
    int rc = store_prepare(db, "INSERT INTO station_output_minute(device_id, minute, tonnes, records)"
                               " VALUES (1, ?, ?, 6)", &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, m->minute);
    sqlite3_bind_double(s, 2, m->tonnes);
    rc = sqlite3_step(s) == SQLITE_DONE ? CM_OK : CM_ERR_DB;
    sqlite3_finalize(s);
    return rc;
}

static void output_at(ifx_t *f, int64_t minute, double t)
{
    minute_job_t m = {minute, t};
    char err[256];
    if (store_write(f->st, minute_job, &m, err, sizeof err))
        fail_msg("%s", err);
}

typedef struct coef_job {
    double v;
    int64_t from;
} coef_job_t;

static int coef_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    coef_job_t *c = arg;
    return store_coef_set(db, "raw_to_gross", c->v, c->from, "test", "cli", NULL, err, errlen);
}

static void ticket(ifx_t *f, const char *id, int64_t gross_at, double net, const char *material,
                   const char *dir)
{
    cJSON *o = ifx_ticket(id, "晋A12345", gross_at, net);
    cJSON_ReplaceItemInObject(o, "material", cJSON_CreateString(material));
    if (!strcmp(dir, "in")) { /* loaded in first */
        char tt[32];
        tm_format_bj(gross_at + 600, tt, sizeof tt);
        cJSON_ReplaceItemInObject(o, "direction", cJSON_CreateString("in"));
        cJSON_ReplaceItemInObject(o, "tareTime", cJSON_CreateString(tt));
    }
    intake_put_result_t r;
    ifx_put_ticket(f, o, &r);
}

static void ledger(ifx_t *f, const char *kind, const char *json)
{
    cJSON *o = cJSON_Parse(json);
    intake_fault_t fl = {0};
    char err[256];
    assert_non_null(o);
    if (intake_ledger_put(f->st, kind, o, "test", tm_now_s(), NULL, &fl, err, sizeof err))
        fail_msg("%s: %s %s", kind, fl.field, err);
    cJSON_Delete(o);
}

static int setup(void **state)
{
    if (ifx_setup(state))
        return -1;
    ifx_t *f = *state;
    char err[256];
    coef_job_t c1 = {0.9, bj(2026, 10, 1, 0, 0, 0)}, c2 = {0.8, bj(2026, 10, 31, 8, 0, 0)};
    if (store_write(f->st, coef_job, &c1, err, sizeof err) || store_write(f->st, coef_job, &c2, err, sizeof err))
        return -1;
    output_at(f, bj(2026, 10, 31, 7, 59, 0), 10);  /* last minute of the night shift */
    output_at(f, bj(2026, 10, 31, 8, 0, 0), 10);   /* first minute of the morning shift */
    output_at(f, bj(2026, 10, 31, 23, 59, 0), 5);  /* last minute of November */
    output_at(f, bj(2026, 11, 1, 0, 0, 0), 7);     /* first minute of November */
    ticket(f, "N1", bj(2026, 10, 31, 7, 59, 59), 30, "raw", "out");
    ticket(f, "N2", bj(2026, 10, 31, 8, 0, 0), 40, "raw", "out");
    ticket(f, "N3", bj(2026, 10, 31, 10, 0, 0), 20, "gangue", "out"); /* not a coal sale */
    ticket(f, "N4", bj(2026, 10, 31, 12, 0, 0), 25, "raw", "in");
    ticket(f, "N5", bj(2026, 10, 31, 23, 59, 59), 35, "raw", "out");
    ticket(f, "D1", bj(2026, 11, 1, 0, 0, 0), 45, "raw", "out");
    ledger(f, "rail", "[{\"batchId\":\"R1\",\"trainNo\":\"K123\",\"wagons\":50,\"coalType\":\"raw\","
                      "\"tons\":3000,\"loadedAt\":\"2026-10-31 12:00:00\"},"
                      "{\"batchId\":\"R2\",\"wagons\":20,\"coalType\":\"原煤\",\"tons\":1000,"
                      "\"loadedAt\":\"2026-11-01 01:00:00\"}]");
    ledger(f, "survey", "[{\"surveyedAt\":\"2026-10-30 18:00:00\",\"stockpile\":\"A\",\"coalType\":\"raw\",\"tons\":5000},"
                        "{\"surveyedAt\":\"2026-10-31 20:00:00\",\"stockpile\":\"A\",\"coalType\":\"raw\",\"tons\":4800},"
                        "{\"surveyedAt\":\"2026-10-31 09:00:00\",\"stockpile\":\"B\",\"coalType\":\"lump\",\"tons\":1000}]");
    return 0;
}

static intake_figures_t fig(ifx_t *f, tm_period k, int64_t at, const char *coal)
{
    intake_figures_t out;
    char err[256];
    if (intake_figures_get(f->db, &f->conf, k, at, coal, &out, err, sizeof err))
        fail_msg("%s", err);
    return out;
}

#define near(a, b) assert_true((a) > (b)-1e-6 && (a) < (b) + 1e-6)

static void test_shift_boundary(void **state)
{
    ifx_t *f = *state;
    intake_figures_t n = fig(f, TM_SHIFT, bj(2026, 10, 31, 7, 30, 0), NULL);
    assert_true(n.start == bj(2026, 10, 31, 0, 0, 0) && n.end == bj(2026, 10, 31, 8, 0, 0));
    near(n.output_raw, 10);
    near(n.output_gross, 9); /* 0.9 in force */
    assert_true(n.has_coefficient);
    assert_int_equal(n.trucks, 1);
    near(n.truck_sales, 30);
    near(n.inventory, 5000); /* only pile A surveyed before 08:00 */
    intake_figures_t m = fig(f, TM_SHIFT, bj(2026, 10, 31, 8, 0, 0), NULL);
    near(m.output_raw, 10);
    near(m.output_gross, 8); /* 0.8 from 08:00 */
    near(m.truck_sales, 40); /* gangue is weighed, not sold as coal */
    near(m.truck_receipts, 25);
    near(m.rail_sales, 3000);
    near(m.inventory, 6000);
}

static void test_day_month_quarter_year_and_month_end(void **state)
{
    ifx_t *f = *state;
    intake_figures_t d = fig(f, TM_DAY, bj(2026, 10, 31, 12, 0, 0), NULL);
    near(d.output_raw, 25);
    near(d.output_gross, 9 + 8 + 4);
    near(d.truck_sales, 105);
    assert_int_equal(d.trucks, 3);
    near(d.rail_sales, 3000);
    near(d.inventory, 5800); /* A re-surveyed at 20:00, and B */
    intake_figures_t oct = fig(f, TM_MONTH, bj(2026, 10, 31, 23, 59, 59), NULL);
    near(oct.output_raw, 25);
    near(oct.truck_sales, 105);
    intake_figures_t nov = fig(f, TM_MONTH, bj(2026, 11, 1, 0, 30, 0), NULL);
    assert_true(nov.start == bj(2026, 11, 1, 0, 0, 0));
    near(nov.output_raw, 7);
    near(nov.output_gross, 5.6);
    near(nov.truck_sales, 45);
    near(nov.rail_sales, 1000);
    near(nov.inventory, 5800);
    intake_figures_t q = fig(f, TM_QUARTER, bj(2026, 11, 1, 0, 30, 0), NULL);
    near(q.output_raw, 32);
    near(q.truck_sales, 150);
    near(q.rail_sales, 4000);
    intake_figures_t y = fig(f, TM_YEAR, bj(2026, 11, 1, 0, 30, 0), NULL);
    near(y.output_raw, 32);
    intake_figures_t lump = fig(f, TM_DAY, bj(2026, 10, 31, 12, 0, 0), "lump");
    near(lump.output_raw, 0); /* the station weighs raw coal only */
    near(lump.truck_sales, 0);
    near(lump.inventory, 1000);
}

/* With the production day starting at 22:00 the evening before, the last two
 * hours of 31 October belong to 1 November and so to November. */
static int history_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    (void)arg;
    /* Imported history (analytics' ana_interval, `coalmon import history`):
     * 07:45-08:00 replaces the station's minute at 07:59; 09:00-09:15 has none. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO ana_interval(start, interval_s, tons, source) VALUES"
             " (%lld, 900, 100, 'import'), (%lld, 900, 50, 'import'), (%lld, 900, NULL, 'import')",
             (long long)bj(2026, 10, 31, 7, 45, 0), (long long)bj(2026, 10, 31, 9, 0, 0),
             (long long)bj(2026, 10, 31, 10, 0, 0));
    return store_exec(db, sql, err, errlen);
}

/* Output counts imported history the way RPT-1 does: per interval, history
 * replaces what the station recorded; the station counts elsewhere. */
static void test_imported_history_counts_as_in_analytics(void **state)
{
    ifx_t *f = *state;
    char err[256];
    if (store_write(f->st, history_job, NULL, err, sizeof err))
        fail_msg("%s", err);
    intake_figures_t night = fig(f, TM_SHIFT, bj(2026, 10, 31, 7, 30, 0), NULL);
    near(night.output_raw, 100); /* not 100 + 10 */
    intake_figures_t day = fig(f, TM_DAY, bj(2026, 10, 31, 12, 0, 0), NULL);
    near(day.output_raw, 100 + 10 + 5 + 50);
}

static void test_month_end_with_early_day_start(void **state)
{
    ifx_t *f = *state;
    f->conf.plan.day_start_min = -120;
    intake_figures_t oct = fig(f, TM_MONTH, bj(2026, 10, 31, 12, 0, 0), NULL);
    assert_true(oct.end == bj(2026, 10, 31, 22, 0, 0));
    near(oct.output_raw, 20);
    near(oct.truck_sales, 70);
    intake_figures_t nov = fig(f, TM_MONTH, bj(2026, 10, 31, 23, 0, 0), NULL);
    near(nov.output_raw, 12);
    near(nov.truck_sales, 80);
}

static void test_no_coefficient_is_not_made_up(void **state)
{
    ifx_t *f = *state;
    intake_figures_t old = fig(f, TM_MONTH, bj(2026, 9, 15, 12, 0, 0), NULL);
    assert_false(old.has_coefficient);
    assert_false(old.has_inventory);
    cJSON *j = NULL;
    char err[256];
    assert_int_equal(intake_figures_json(f->db, &f->conf, bj(2026, 9, 15, 12, 0, 0), NULL, &j, err, sizeof err), CM_OK);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "month"), "outputGross")));
    cJSON_Delete(j);
}

static void test_mine_system_figures_kept_apart(void **state)
{
    ifx_t *f = *state;
    cJSON *o = cJSON_Parse("{\"period\":\"day\",\"date\":\"2026-10-31\",\"output\":26,\"truckSales\":100,"
                           "\"railSales\":3000,\"inventory\":5750}");
    intake_put_result_t r;
    intake_fault_t fl = {0};
    char err[256];
    assert_int_equal(intake_pts_put(f->st, o, &f->conf, "pts", &r, &fl, err, sizeof err), CM_OK);
    assert_int_equal(r.created, 1);
    assert_int_equal(intake_pts_put(f->st, o, &f->conf, "pts", &r, &fl, err, sizeof err), CM_OK);
    assert_int_equal(r.unchanged, 1);
    cJSON_ReplaceItemInObject(o, "output", cJSON_CreateNumber(27));
    assert_int_equal(intake_pts_put(f->st, o, &f->conf, "pts", &r, &fl, err, sizeof err), CM_OK);
    assert_int_equal(r.corrected, 1);
    cJSON *j = NULL;
    assert_int_equal(intake_figures_json(f->db, &f->conf, bj(2026, 10, 31, 12, 0, 0), NULL, &j, err, sizeof err), CM_OK);
    cJSON *day = cJSON_GetObjectItem(j, "day");
    near(cJSON_GetObjectItem(day, "outputRaw")->valuedouble, 25); /* ours, not merged */
    cJSON *rep = cJSON_GetObjectItem(day, "reported");
    near(cJSON_GetObjectItem(rep, "output")->valuedouble, 27);
    near(cJSON_GetObjectItem(rep, "version")->valuedouble, 2);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "month"), "reported")));
    cJSON_Delete(j);
    /* Rules: a shift needs its name; dates and periods are checked. */
    cJSON_ReplaceItemInObject(o, "period", cJSON_CreateString("shift"));
    assert_int_equal(intake_pts_put(f->st, o, &f->conf, "pts", &r, &fl, err, sizeof err), CM_ERR_INVALID);
    assert_string_equal(fl.field, "shift");
    cJSON_AddStringToObject(o, "shift", "早班");
    assert_int_equal(intake_pts_put(f->st, o, &f->conf, "pts", &r, &fl, err, sizeof err), CM_OK);
    /* 早班 of the 31st begins at 08:00 on the 31st. */
    char start[24];
    snprintf(start, sizeof start, "%lld", (long long)bj(2026, 10, 31, 8, 0, 0));
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM pts_summary WHERE period = 'shift'"
                                  " AND shift = '早班' AND period_start = CAST(? AS INTEGER)", start), 1);
    cJSON_ReplaceItemInObject(o, "date", cJSON_CreateString("31.10.2026"));
    assert_int_equal(intake_pts_put(f->st, o, &f->conf, "pts", &r, &fl, err, sizeof err), CM_ERR_INVALID);
    assert_string_equal(fl.field, "date");
    cJSON_ReplaceItemInObject(o, "date", cJSON_CreateString("2026-10-31"));
    cJSON_ReplaceItemInObject(o, "inventory", cJSON_CreateNumber(-1));
    assert_int_equal(intake_pts_put(f->st, o, &f->conf, "pts", &r, &fl, err, sizeof err), CM_ERR_INVALID);
    assert_string_equal(fl.field, "inventory");
    cJSON_Delete(o);
}

static void test_ledger_rules_and_conflicts(void **state)
{
    ifx_t *f = *state;
    intake_fault_t fl = {0};
    char err[256];
    cJSON *o = cJSON_Parse("{\"batchId\":\"R1\",\"wagons\":50,\"coalType\":\"raw\",\"tons\":3100,"
                           "\"loadedAt\":\"2026-10-31 12:00:00\"}");
    assert_int_equal(intake_ledger_put(f->st, "rail", o, "t", tm_now_s(), NULL, &fl, err, sizeof err), CM_ERR_CONFLICT);
    assert_string_equal(fl.field, "batchId");
    cJSON_ReplaceItemInObject(o, "batchId", cJSON_CreateString("R3"));
    cJSON_ReplaceItemInObject(o, "coalType", cJSON_CreateString("diamond"));
    assert_int_equal(intake_ledger_put(f->st, "rail", o, "t", tm_now_s(), NULL, &fl, err, sizeof err), CM_ERR_INVALID);
    assert_string_equal(fl.field, "coalType");
    cJSON_ReplaceItemInObject(o, "coalType", cJSON_CreateString("raw"));
    cJSON_ReplaceItemInObject(o, "tons", cJSON_CreateNumber(9000));
    assert_int_equal(intake_ledger_put(f->st, "rail", o, "t", tm_now_s(), NULL, &fl, err, sizeof err), CM_ERR_INVALID);
    assert_string_equal(fl.field, "tons");
    cJSON_Delete(o);
    o = cJSON_Parse("{\"contractId\":\"HT1\",\"buyer\":\"电厂\",\"coalType\":\"raw\",\"quantity\":0}");
    assert_int_equal(intake_ledger_put(f->st, "contract", o, "t", tm_now_s(), NULL, &fl, err, sizeof err), CM_ERR_INVALID);
    assert_string_equal(fl.field, "quantity");
    cJSON_ReplaceItemInObject(o, "quantity", cJSON_CreateNumber(1000));
    assert_int_equal(intake_ledger_put(f->st, "contract", o, "t", tm_now_s(), NULL, &fl, err, sizeof err), CM_OK);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM audit_log WHERE action = 'contract.set' AND target = ?", "HT1"), 1);
    cJSON_Delete(o);
}

static const cJSON *cell(const cJSON *r, int row, int col)
{
    return cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rows"), row), col);
}

static void test_rpt2_reports_json_and_csv(void **state)
{
    ifx_t *f = *state;
    cJSON *r = NULL;
    char err[256];
    int64_t from = bj(2026, 10, 31, 0, 0, 0), to = bj(2026, 11, 2, 0, 0, 0);
    assert_int_equal(intake_report(f->db, &f->conf, "output-summary", from, to, &r, err, sizeof err), CM_OK);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "rows")), 2);
    assert_string_equal(cell(r, 0, 0)->valuestring, "2026-10-31");
    near(cell(r, 0, 1)->valuedouble, 25);
    near(cell(r, 1, 1)->valuedouble, 7);
    size_t len;
    char *csv = intake_report_csv(r, &len);
    assert_memory_equal(csv, "\xEF\xBB\xBF" "date,outputRaw,outputGross,trucksOut,truckSales,railSales,inventory\r\n"
                             "2026-10-31,25,21,3,105,3000,5800\r\n", 3 + 68 + 34);
    free(csv);
    cJSON *objs = intake_report_objects(r);
    near(cJSON_GetObjectItem(cJSON_GetArrayItem(objs, 1), "truckSales")->valuedouble, 45);
    cJSON_Delete(objs);
    cJSON_Delete(r);

    assert_int_equal(intake_report(f->db, &f->conf, "output-detail", from, bj(2026, 11, 1, 0, 0, 0), &r, err, sizeof err), CM_OK);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "rows")), 3);
    assert_string_equal(cell(r, 1, 1)->valuestring, "早班");
    near(cell(r, 1, 5)->valuedouble, 8);
    cJSON_Delete(r);

    assert_int_equal(intake_report(f->db, &f->conf, "material", from, to, &r, err, sizeof err), CM_OK);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "rows")), 3); /* raw out, gangue out, raw in */
    assert_string_equal(cell(r, 0, 1)->valuestring, "矸石");
    cJSON_Delete(r);

    assert_int_equal(intake_report(f->db, &f->conf, "outbound", from, to, &r, err, sizeof err), CM_OK);
    assert_string_equal(cell(r, 0, 0)->valuestring, "truck");
    near(cell(r, 1, 5)->valuedouble, 150); /* raw by truck */
    assert_string_equal(cell(r, 2, 0)->valuestring, "rail");
    near(cell(r, 2, 5)->valuedouble, 4000);
    cJSON_Delete(r);

    assert_int_equal(intake_report(f->db, &f->conf, "vehicles", from, to, &r, err, sizeof err), CM_OK);
    assert_string_equal(cell(r, 0, 1)->valuestring, "weighbridge");
    near(cell(r, 0, 4)->valuedouble, 4); /* four out on the 30th */
    cJSON_Delete(r);

    assert_int_equal(intake_report(f->db, &f->conf, "nonsense", from, to, &r, err, sizeof err), CM_ERR_INVALID);
    assert_int_equal(intake_report(f->db, &f->conf, "material", to, from, &r, err, sizeof err), CM_ERR_INVALID);
    assert_int_equal(intake_report(f->db, &f->conf, "output-detail", from, from + 401 * 86400, &r, err, sizeof err),
                     CM_ERR_INVALID);
    assert_non_null(strstr(err, "to: at most 400 days"));
}

/* Issue #14: each query of the figures failing while it runs (a busy or
 * broken database) is an error with SQLite's reason; before, the output,
 * the truck and rail sales and the inventory read as 0 t. */
static void test_figures_answer_an_error_not_zero_when_a_query_fails(void **state)
{
    ifx_t *f = *state;
    static const char *const tables[] = {"station_output_minute", "ana_interval", "coefficient",
                                         "weigh_ticket_current", "rail_sale", "inventory_survey"};
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        fail_store_t fs;
        intake_figures_t out;
        char err[256] = "";
        fail_store_on(&fs, f->db, tables[i]);
        int rc = intake_figures_get(f->db, &f->conf, TM_DAY, bj(2026, 10, 31, 12, 0, 0), NULL, &out,
                                    err, sizeof err);
        fail_store_off(&fs);
        if (rc != CM_ERR_DB || !strstr(err, "interrupt"))
            fail_msg("%s failing: rc %d, err '%s', output %g, trucks %g", tables[i], rc, err,
                     out.output_raw, out.truck_sales);
        assert_true(fs.hits > 0);
    }
    /* The raw output alone too. */
    fail_store_t fs;
    double t = -1;
    char err[256] = "";
    fail_store_on(&fs, f->db, "station_output_minute");
    assert_int_equal(ana_output_raw(f->db, bj(2026, 10, 31, 0, 0, 0), bj(2026, 11, 1, 0, 0, 0), &t,
                                    err, sizeof err), CM_ERR_DB);
    fail_store_off(&fs);
    assert_true(t == -1);
    /* The mine system's own figures failing are an error, not "not reported". */
    cJSON *j = NULL;
    fail_store_on(&fs, f->db, "pts_summary");
    assert_int_equal(intake_figures_json(f->db, &f->conf, bj(2026, 10, 31, 12, 0, 0), NULL, &j, err,
                                         sizeof err), CM_ERR_DB);
    fail_store_off(&fs);
    assert_null(j);
    /* And the same connection answers again. */
    intake_figures_t d = fig(f, TM_DAY, bj(2026, 10, 31, 12, 0, 0), NULL);
    near(d.truck_sales, 105);
}

/* RPT-2: a report whose query fails is not built (no rows of zeros). */
static void test_rpt2_report_not_built_when_a_query_fails(void **state)
{
    ifx_t *f = *state;
    static const struct {
        const char *kind, *table;
    } cases[] = {{"output-summary", "weigh_ticket_current"}, {"output-detail", "station_output_minute"},
                 {"material", "weigh_ticket_current"},    {"outbound", "rail_sale"},
                 {"vehicles", "exit_capture"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fail_store_t fs;
        cJSON *r = NULL;
        char err[256] = "";
        fail_store_on(&fs, f->db, cases[i].table);
        int rc = intake_report(f->db, &f->conf, cases[i].kind, bj(2026, 10, 30, 0, 0, 0),
                               bj(2026, 11, 2, 0, 0, 0), &r, err, sizeof err);
        fail_store_off(&fs);
        if (rc != CM_ERR_DB || r)
            fail_msg("%s with %s failing: rc %d err '%s'", cases[i].kind, cases[i].table, rc, err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shift_boundary, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_day_month_quarter_year_and_month_end, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_month_end_with_early_day_start, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_imported_history_counts_as_in_analytics, setup,
                                        ifx_teardown),
        cmocka_unit_test_setup_teardown(test_no_coefficient_is_not_made_up, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_mine_system_figures_kept_apart, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_ledger_rules_and_conflicts, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_rpt2_reports_json_and_csv, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_figures_answer_an_error_not_zero_when_a_query_fails, setup,
                                        ifx_teardown),
        cmocka_unit_test_setup_teardown(test_rpt2_report_not_built_when_a_query_fails, setup,
                                        ifx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
