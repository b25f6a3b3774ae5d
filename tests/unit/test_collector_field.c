/* collector, issue #15: what a real mine's meters add — CT/PT ratios (per
 * device, or read from the meter's own ratio registers), counters that wrap
 * at their register's range, and values rounded to their resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_collector_util.h"

static double latest(tfix_t *f, const char *dev, const char *point)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(f->db,
                                        "SELECT l.value FROM point_latest l JOIN point p ON"
                                        " p.id = l.point_id JOIN device d ON d.id = p.device_id"
                                        " WHERE d.name = ?1 AND p.name = ?2",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, dev, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, point, -1, SQLITE_STATIC);
    double v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_double(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

static void near(double got, double want, double tol, const char *what)
{
    if (!(got >= want - tol && got <= want + tol))
        fail_msg("%s: %g, wanted %g +- %g", what, got, want, tol);
}

/* A 6 kV gate behind PT 6000/100 (60) and CT 400/5 (80): the ADL400 sees
 * the secondary side. Configured ratios, or the meter's own ratio registers
 * where the map names them, give primary values; without them power and
 * energy read 4800 times too small. */
static void ct_pt_gate_reads_primary_values(void **state)
{
    col_map_t *map = malloc(sizeof *map);
    char err[256], cfg[2048], dir[] = "/tmp/coalmon-maps-XXXXXX", path[160], src[256];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(col_map_load_model(COALMON_CONF_DIR "/meters", "acrel-adl400", map, err,
                                        sizeof err),
                     0);
    /* The same meter with its ratio registers mapped (a site's own map). */
    snprintf(src, sizeof src, "%s/meters/acrel-adl400.json", COALMON_CONF_DIR);
    snprintf(path, sizeof path, "%s/adl400-ratios.json", dir);
    FILE *in = fopen(src, "r"), *out = fopen(path, "w");
    assert_non_null(in);
    assert_non_null(out);
    char line[1024];
    while (fgets(line, sizeof line, in)) {
        if (strstr(line, "\"model\": \"acrel-adl400\""))
            snprintf(line, sizeof line, "  \"model\": \"adl400-ratios\",\n");
        fputs(line, out);
        if (strstr(line, "\"points\": ["))
            fputs("    {\"name\": \"pt\", \"quantity\": \"pt_ratio\", \"address\": \"0x008D\","
                  " \"type\": \"u16\"},\n    {\"name\": \"ct\", \"quantity\": \"ct_ratio\","
                  " \"address\": \"0x008E\", \"type\": \"u16\"},\n",
                  out);
    }
    fclose(in);
    fclose(out);
    col_map_t *rmap = malloc(sizeof *rmap);
    assert_int_equal(col_map_load(path, rmap, err, sizeof err), 0);
    char cp[300];
    snprintf(cp, sizeof cp, "cp %s %s/", src, dir);
    assert_int_equal(system(cp), 0);

    sim_meter_opts_t o;
    sim_meter_opts_default(&o);
    o.ct = 80;
    o.pt = 60;
    o.rated_a = 300;
    o.frozen = true;
    /* unit 0: one meter answering every unit id, so the three devices read the same one */
    sim_meter_t *m = sim_meter_start(rmap, &o, err, sizeof err);
    assert_non_null(m);
    tfix_t *f = tfix_new();
    snprintf(cfg, sizeof cfg,
             "{\"meter_maps\": \"%s\", \"devices\": ["
             "{\"name\":\"cfg\",\"model\":\"acrel-adl400\",\"host\":\"127.0.0.1\",\"port\":%d,"
             "\"unit\":1,\"poll_ms\":100,\"ct\":80,\"pt\":60},"
             "{\"name\":\"own\",\"model\":\"adl400-ratios\",\"host\":\"127.0.0.1\",\"port\":%d,"
             "\"unit\":2,\"poll_ms\":100},"
             "{\"name\":\"none\",\"model\":\"acrel-adl400\",\"host\":\"127.0.0.1\",\"port\":%d,"
             "\"unit\":3,\"poll_ms\":100}]}",
             dir, sim_meter_port(m), sim_meter_port(m), sim_meter_port(m));
    tfix_start(f, cfg);
    wait_sql(f->db, "SELECT count(DISTINCT p.device_id) FROM point_latest l JOIN point p"
                    " ON p.id = l.point_id WHERE p.name = ?1", "ep_imp", 3, 10000);
    double p_kw = sim_meter_value(m, "active_power"), e_kwh = sim_meter_value(m, "energy_import");
    double ia = sim_meter_value(m, "current_a"), ua = sim_meter_value(m, "voltage_a");
    /* One step of the secondary register, times the ratios. */
    for (int k = 0; k < 2; k++) {
        const char *dev = k ? "own" : "cfg";
        near(latest(f, dev, "p"), p_kw, 0.001 * 4800, dev);
        near(latest(f, dev, "ia"), ia, 0.01 * 80, dev);
        near(latest(f, dev, "ua"), ua, 0.1 * 60, dev);
    }
    near(latest(f, "cfg", "ep_imp"), e_kwh, 0.01 * 4800, "energy");
    /* Power factor and frequency take no ratio. */
    near(latest(f, "cfg", "freq"), latest(f, "none", "freq"), 0.2, "frequency");
    /* Without ratios: the secondary side, 4800 times too small. */
    near(latest(f, "none", "p") * 4800, p_kw, 0.001 * 4800, "no ratio");
    tfix_free(f);
    sim_meter_stop(m);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -r %s", dir);
    assert_int_equal(system(rm), 0);
    free(map);
    free(rmap);
}

/* A counter past its register's range starts again from 0: counted as
 * continuing; a step back from mid-range is still a reset. */
static void counter_wrap_counts_on(void **state)
{
    double d;
    int64_t t0 = 1000000, t1 = t0 + 60000;
    /* 999 999.99 kWh (DL/T 645, SDM630): 999999.90 -> 0.40 is 0.50 kWh used. */
    assert_int_equal(col_counter_check_wrap(999999.90, t0, 0.40, t1, 500, 1000000, &d),
                     COL_COUNTER_WRAP);
    near(d, 0.50, 1e-6, "across the wrap");
    /* A u32 x 0.001 t belt total: 4 294 967.295 t then 2.000 t. */
    assert_int_equal(col_counter_check_wrap(4294967.0, t0, 2.0, t1, 5000, 4294967.296, &d),
                     COL_COUNTER_WRAP);
    near(d, 2.296, 1e-6, "belt total across the wrap");
    assert_int_equal(col_counter_check_wrap(500000, t0, 3, t1, 500, 1000000, &d),
                     COL_COUNTER_RESET);
    assert_true(d == 0);
    assert_int_equal(col_counter_check_wrap(999999.90, t0, 0.40, t1, 500, 0, &d),
                     COL_COUNTER_RESET);
    /* Forward steps are unchanged. */
    assert_int_equal(col_counter_check_wrap(1000, t0, 1001, t1, 500, 1000000, &d), COL_COUNTER_OK);
}

/* Float noise is rounded to the register's resolution. */
static void values_rounded_to_resolution(void **state)
{
    uint16_t regs[2];
    col_order_t abcd = {0};
    double v;
    col_encode(232.8, COL_F32, abcd, regs);
    assert_int_equal(col_decode(regs, COL_F32, abcd, 1, 0, &v), 0);
    assert_true(v == 232.8);
    col_encode(2328, COL_F32, abcd, regs);
    assert_int_equal(col_decode(regs, COL_F32, abcd, 0.1, 0, &v), 0);
    assert_true(v == 232.8);
    col_encode(2328, COL_U16, abcd, regs);
    assert_int_equal(col_decode(regs, COL_U16, abcd, 0.1, 0, &v), 0);
    assert_true(v == 232.8);
    col_encode(123456789, COL_U32, abcd, regs);
    assert_int_equal(col_decode(regs, COL_U32, abcd, 0.01, 0, &v), 0);
    assert_true(v == 1234567.89);
    col_encode(-1234, COL_I16, abcd, regs);
    assert_int_equal(col_decode(regs, COL_I16, abcd, 0.001, 0, &v), 0);
    assert_true(v == -1.234);
}

/* A meter whose energy register passes 999 999.99 kWh during polling: the
 * energy counted is what was used, no counter_reset is raised. */
static void meter_counter_wraps_without_reset(void **state)
{
    col_map_t *map = malloc(sizeof *map);
    char err[256], cfg[1024], dir[] = "/tmp/coalmon-maps-XXXXXX", path[160];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/wrapping.json", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"model\": \"wrapping\", \"points\": [{\"name\": \"ep_imp\", \"quantity\":"
          " \"energy_import\", \"address\": 0, \"type\": \"u32\", \"scale\": 0.01,"
          " \"unit\": \"kWh\", \"counter\": true, \"wrap\": 1000000}]}",
          fp);
    fclose(fp);
    assert_int_equal(col_map_load(path, map, err, sizeof err), 0);
    sim_meter_opts_t o;
    sim_meter_opts_default(&o);
    o.energy0 = 999999.90;
    o.load = 1.0; /* about 130 kW: 0.1 kWh in under 3 s */
    sim_meter_t *m = sim_meter_start(map, &o, err, sizeof err);
    assert_non_null(m);
    tfix_t *f = tfix_new();
    snprintf(cfg, sizeof cfg,
             "{\"meter_maps\": \"%s\", \"devices\": [{\"name\":\"w\",\"model\":\"wrapping\","
             "\"host\":\"127.0.0.1\",\"port\":%d,\"poll_ms\":100,\"max_power_kw\":1000}]}",
             dir, sim_meter_port(m));
    tfix_start(f, cfg);
    const char *ep = "SELECT count(*) FROM reading WHERE value < ?1 + 0";
    wait_sql(f->db, "SELECT count(*) FROM reading", NULL, 1, 10000);
    double first = sql_num(f->db, "SELECT value FROM reading ORDER BY ts_ms LIMIT 1", NULL);
    assert_true(first > 999999);
    /* Wait until the register has wrapped and counted on a little. */
    wait_sql(f->db, ep, "1000", 1, 15000);
    wait_sql(f->db, "SELECT count(*) FROM reading WHERE value > 0.2 AND value < 1000", NULL, 1,
             15000);
    col_stop(f->col);
    f->col = NULL;
    tfix_flush(f);
    double last = sql_num(f->db, "SELECT value FROM reading ORDER BY ts_ms DESC LIMIT 1", NULL);
    double counted = sql_num(f->db, "SELECT sum(delta) FROM counter_minute", NULL);
    near(counted, last + 1000000 - first, 1e-6, "energy counted across the wrap");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT kind, detail FROM device_event"
                                               " WHERE kind LIKE 'counter%'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        fail_msg("%s: %s", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    tfix_free(f);
    sim_meter_stop(m);
    unlink(path);
    rmdir(dir);
    free(map);
}

int main(void)
{
    log_setup("test", LOG_LVL_WARN, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(ct_pt_gate_reads_primary_values, tfix_teardown),
        cmocka_unit_test_teardown(counter_wrap_counts_on, tfix_teardown),
        cmocka_unit_test_teardown(values_rounded_to_resolution, tfix_teardown),
        cmocka_unit_test_teardown(meter_counter_wraps_without_reset, tfix_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
