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

int main(void)
{
    log_setup("test", LOG_LVL_WARN, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(ct_pt_gate_reads_primary_values, tfix_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
