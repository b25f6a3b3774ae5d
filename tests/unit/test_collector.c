/* collector: communication-state hysteresis, counter plausibility, station
 * record coding, configuration errors, and polling against simulated meters
 * behind one gateway with every fault the simulator has (ACQ-2, ACQ-9..ACQ-11). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_collector_util.h"

static void comm_state_has_hysteresis(void **state)
{
    col_comm_t c = {0};
    assert_true(col_comm_step(&c, true, false, 3, 2));
    assert_int_equal(c.state, COL_ONLINE);
    assert_true(col_comm_step(&c, false, false, 3, 2));
    assert_int_equal(c.state, COL_DEGRADED);
    assert_false(col_comm_step(&c, false, false, 3, 2));
    assert_true(col_comm_step(&c, false, false, 3, 2));
    assert_int_equal(c.state, COL_OFFLINE);
    /* One good answer is not enough to be trusted again. */
    assert_true(col_comm_step(&c, true, false, 3, 2));
    assert_int_equal(c.state, COL_DEGRADED);
    assert_true(col_comm_step(&c, true, false, 3, 2));
    assert_int_equal(c.state, COL_ONLINE);
    /* A partial answer degrades, the next full one restores after online_after. */
    assert_true(col_comm_step(&c, true, true, 3, 2));
    assert_int_equal(c.state, COL_DEGRADED);
    assert_false(col_comm_step(&c, true, false, 3, 2));
    assert_true(col_comm_step(&c, true, false, 3, 2));
    assert_int_equal(c.state, COL_ONLINE);
}

static void counter_check_judges_steps(void **state)
{
    double d;
    int64_t t0 = 1000000, t1 = t0 + 60000; /* one minute */
    assert_int_equal(col_counter_check(1000, t0, 1001, t1, 500, &d), COL_COUNTER_OK);
    assert_true(d > 0.999 && d < 1.001);
    /* 500 kW for a minute is 8.3 kWh; 20 kWh is implausible. */
    assert_int_equal(col_counter_check(1000, t0, 1020, t1, 500, &d), COL_COUNTER_JUMP);
    assert_true(d == 0);
    assert_int_equal(col_counter_check(1000, t0, 3, t1, 500, &d), COL_COUNTER_RESET);
    assert_true(d == 0);
    /* The last digit wobbling back is not a reset. */
    assert_int_equal(col_counter_check(123456.7, t0, 123456.69, t1, 500, &d), COL_COUNTER_OK);
    assert_true(d == 0);
}

/* A refused block becomes its gap-free runs; a run without gaps becomes one
 * request per point; a single point stays (issue #15). */
static void refused_block_splits_into_runs_then_points(void **state)
{
    col_map_t *map = calloc(1, sizeof *map);
    static const int addr[] = {0, 2, 10, 12, 14};
    for (int i = 0; i < 5; i++)
        map->points[i] = (col_point_t){.address = (uint16_t)addr[i], .fn = COL_FN_HOLDING,
                                       .type = COL_U32, .scale = 1};
    map->count = 5;
    map->max_gap = 12;
    int order[COL_MAX_POINTS];
    col_request_t req[COL_MAX_POINTS];
    int n = col_plan(map, 125, false, order, req);
    assert_int_equal(n, 1);
    assert_int_equal(req[0].count, 16);
    assert_int_equal(col_plan_split(map, order, req, &n, 0), 2);
    assert_int_equal(n, 2);
    assert_int_equal(req[0].start, 0);
    assert_int_equal(req[0].count, 4);
    assert_int_equal(req[1].start, 10);
    assert_int_equal(req[1].count, 6);
    assert_int_equal(req[1].first, 2);
    assert_int_equal(req[1].n, 3);
    /* The second run has no gaps: refused again, it is read point by point. */
    assert_int_equal(col_plan_split(map, order, req, &n, 1), 3);
    assert_int_equal(n, 4);
    for (int r = 1; r < 4; r++) {
        assert_int_equal(req[r].start, addr[r + 1]);
        assert_int_equal(req[r].n, 1);
    }
    assert_int_equal(col_plan_split(map, order, req, &n, 3), 1);
    assert_int_equal(n, 4);
    free(map);
}

static void station_record_round_trips(void **state)
{
    col_st_record_t a = {.seq = 70001, .ts_ms = 1795437609000, .total_t = 51234.5,
                         .flow_tph = 712.3, .speed_ms = 3.141};
    uint16_t regs[COL_ST_RECORD_REGS];
    col_station_record_encode(&a, regs);
    col_st_record_t b;
    col_station_record_decode(regs, &b);
    assert_int_equal(b.seq, a.seq);
    assert_int_equal(b.ts_ms, a.ts_ms);
    assert_true(b.total_t > 51234.49 && b.total_t < 51234.51);
    assert_true(b.flow_tph > 712.29 && b.flow_tph < 712.31);
    assert_true(b.speed_ms > 3.1409 && b.speed_ms < 3.1411);
    /* The live block is one request. */
    col_map_t *m = malloc(sizeof *m);
    int order[COL_MAX_POINTS];
    col_request_t req[COL_MAX_POINTS];
    col_station_map(m);
    assert_int_equal(col_plan(m, 125, false, order, req), 1);
    assert_int_equal(req[0].count, COL_ST_LIVE_REGS);
    free(m);
}

static void config_errors_name_the_key(void **state)
{
    tfix_t *f = tfix_new();
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"\"devices\":[{\"name\":\"m\",\"model\":\"chint-dtsu666\",\"transport\":\"rtu\","
         "\"bus\":\"nope\"}]",
         "bus"},
        {"\"buses\":[{\"name\":\"b1\",\"device\":\"/dev/null\",\"framing\":\"9X1\"}]", "framing"},
        {"\"devices\":[{\"name\":\"a\",\"model\":\"chint-dtsu666\",\"host\":\"h\"},"
         "{\"name\":\"b\",\"model\":\"chint-dtsu666\",\"host\":\"h\"}]",
         "share unit 1"},
        {"\"devices\":[{\"name\":\"s\",\"kind\":\"belt\",\"host\":\"h\"}]", "kind"},
        {"\"devices\":[{\"name\":\"m\",\"model\":\"chint-dtsu666\",\"host\":\"h\","
         "\"install_date\":\"2024/01/01\"}]",
         "install_date"},
        {"\"devices\":[{\"name\":\"m\",\"model\":\"chint-dtsu666\",\"host\":\"h\","
         "\"address_shift\":5}]",
         "address_shift"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024], err[512];
        snprintf(text, sizeof text,
                 "{\"collector\": {\"meter_maps\": \"" COALMON_CONF_DIR "/meters\", %s}}",
                 cases[i].json);
        cfg_t *cfg = cfg_parse("t.json", text, err, sizeof err);
        if (!cfg)
            fail_msg("case %zu: %s", i, err);
        col_t *col = col_start(cfg, f->st, err, sizeof err);
        cfg_free(cfg);
        if (col)
            fail_msg("case %zu accepted", i);
        if (!strstr(err, cases[i].needle))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
    }
    tfix_free(f);
}

/* The commented example configuration is valid for the collector. */
static void example_configuration_starts(void **state)
{
    tfix_t *f = tfix_new();
    char err[512];
    cfg_t *cfg = cfg_load(COALMON_CONF_DIR "/coalmond.json", err, sizeof err);
    if (!cfg)
        fail_msg("%s", err);
    f->col = col_start(cfg, f->st, err, sizeof err);
    cfg_free(cfg);
    if (!f->col)
        fail_msg("%s", err);
    assert_true(sql_num(f->db, "SELECT count(*) FROM device WHERE kind = 'station'"
                               " AND location = ?1", "主斜井皮带") == 1);
    tfix_free(f);
}

/* Three meters behind one gateway plus a unit that never answers. */
static void gateway_dead_unit_does_not_void_the_others(void **state)
{
    tfix_t *f = tfix_new();
    col_map_t *map = malloc(sizeof *map);
    char err[256], cfg[4096];
    assert_int_equal(col_map_load_model(COALMON_CONF_DIR "/meters", "acrel-adl400", map, err,
                                        sizeof err),
                     0);
    sim_meter_opts_t o;
    sim_meter_opts_default(&o);
    o.units = 3;
    o.rated_a = 50;
    sim_meter_t *m = sim_meter_start(map, &o, err, sizeof err);
    assert_non_null(m);
    int port = sim_meter_port(m);
    snprintf(cfg, sizeof cfg,
             "{\"meter_maps\": \"" COALMON_CONF_DIR "/meters\", \"devices\": ["
             "{\"name\":\"g1\",\"model\":\"acrel-adl400\",\"gate_type\":\"mine_total\","
             "\"host\":\"127.0.0.1\",\"port\":%d,\"unit\":1,\"poll_ms\":200,\"timeout_ms\":300},"
             "{\"name\":\"g2\",\"model\":\"acrel-adl400\",\"gate_type\":\"underground\","
             "\"host\":\"127.0.0.1\",\"port\":%d,\"unit\":2,\"poll_ms\":200,\"timeout_ms\":300},"
             "{\"name\":\"g3\",\"model\":\"acrel-adl400\",\"gate_type\":\"transport\","
             "\"host\":\"127.0.0.1\",\"port\":%d,\"unit\":3,\"poll_ms\":200,\"timeout_ms\":300},"
             "{\"name\":\"dead\",\"model\":\"acrel-adl400\",\"host\":\"127.0.0.1\",\"port\":%d,"
             "\"unit\":9,\"poll_ms\":200,\"timeout_ms\":300,\"offline_after\":2}]}",
             port, port, port, port);
    tfix_start(f, cfg);
    wait_sql(f->db, COMM_STATE_IS "'offline'", "dead", 1, 15000);
    /* While unit 9 times out, the other three keep being read (the gateway
     * link is reopened after each timeout, since a late answer would confuse it). */
    double before = sql_num(f->db, "SELECT count(*) FROM reading r JOIN point p ON"
                                   " p.id = r.point_id JOIN device d ON d.id = p.device_id"
                                   " WHERE d.name = ?1", "g3");
    wait_sql(f->db, "SELECT count(*) FROM reading r JOIN point p ON p.id = r.point_id"
                    " JOIN device d ON d.id = p.device_id WHERE d.name = ?1",
             "g3", before + 3 * map->count, 15000);
    for (int i = 1; i <= 3; i++) {
        char name[8];
        snprintf(name, sizeof name, "g%d", i);
        assert_true(sql_num(f->db, COMM_STATE_IS "'online'", name) == 1);
    }
    /* Gates by type, and interval energy from the counters. */
    int64_t ids[4];
    int n;
    assert_int_equal(col_gate_find(f->db, "transport", ids, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    wait_sql(f->db, "SELECT count(*) FROM counter_minute", NULL, 1, 10000);
    double kwh = -1;
    assert_int_equal(col_energy_between(f->db, ids[0], 0, tm_now_s() + 120, &kwh, err,
                                        sizeof err),
                     0);
    assert_true(kwh > 0 && kwh < 10);
    double peak = -1;
    assert_int_equal(col_counter_between(f->db, ids[0], "energy_import_peak", 0,
                                         tm_now_s() + 120, &peak, err, sizeof err),
                     0);
    assert_true(peak >= 0);
    assert_int_equal(col_counter_between(f->db, ids[0], "no_such", 0, 1, &peak, err, sizeof err),
                     CM_ERR_NOTFOUND);
    col_bus_stats_t stats[4];
    assert_int_equal(col_get_stats(f->col, stats, 4), 1);
    assert_int_equal(stats[0].devices, 4);
    tfix_free(f);
    sim_meter_stop(m);
    free(map);
}

#define EVENTS_OF "SELECT count(*) FROM device_event WHERE kind = ?1"

/* Each fault of the simulator drives the meter out of "online" and back. */
static void every_fault_is_seen_and_recovered(void **state)
{
    tfix_t *f = tfix_new();
    col_map_t *map = malloc(sizeof *map);
    char err[256], cfg[2048];
    assert_int_equal(col_map_load_model(COALMON_CONF_DIR "/meters", "chint-dtsu666", map, err,
                                        sizeof err),
                     0);
    sim_meter_t *m = sim_meter_start(map, NULL, err, sizeof err);
    assert_non_null(m);
    sim_server_t *srv = sim_meter_server(m);
    snprintf(cfg, sizeof cfg,
             "{\"meter_maps\": \"" COALMON_CONF_DIR "/meters\", \"devices\": ["
             "{\"name\":\"m\",\"model\":\"chint-dtsu666\",\"host\":\"127.0.0.1\",\"port\":%d,"
             "\"poll_ms\":100,\"timeout_ms\":200,\"offline_after\":2,\"online_after\":2,"
             "\"backoff_max_ms\":400}]}",
             sim_meter_port(m));
    tfix_start(f, cfg);
    wait_sql(f->db, COMM_STATE_IS "'online'", "m", 1, 10000);
    static const char *const faults[] = {"silent 1", "exception 1", "garbage 1", "outage 1"};
    double comm_events = sql_num(f->db, EVENTS_OF, "comm");
    for (size_t i = 0; i < 4; i++) {
        sim_cmd(srv, faults[i]);
        wait_sql(f->db, COMM_STATE_IS "'offline'", "m", 1, 10000);
        wait_sql(f->db, COMM_STATE_IS "'online'", "m", 1, 15000);
        double now = sql_num(f->db, EVENTS_OF, "comm");
        if (now < comm_events + 2)
            fail_msg("fault '%s' left %g comm events (had %g)", faults[i], now, comm_events);
        comm_events = now;
    }
    /* The exception is named in the event's detail. */
    assert_true(sql_num(f->db, "SELECT count(*) FROM device_event WHERE detail LIKE ?1",
                        "%server failure%") >= 1);
    /* A dropped connection is reopened without losing the device. */
    double readings = sql_num(f->db, "SELECT count(*) FROM reading", NULL);
    sim_cmd(srv, "drop");
    wait_sql(f->db, "SELECT count(*) FROM reading", NULL, readings + 3 * map->count, 10000);
    /* Counter reset and an implausible jump become events, not energy. */
    sim_cmd(srv, "reset");
    wait_sql(f->db, EVENTS_OF, "counter_reset", 1, 10000);
    sim_cmd(srv, "jump 500000");
    wait_sql(f->db, EVENTS_OF, "counter_jump", 1, 10000);
    double total = sql_num(f->db, "SELECT sum(delta) FROM counter_minute", NULL);
    double minmax = sql_num(f->db, "SELECT max(delta) FROM counter_minute", NULL);
    assert_true(total >= 0 && minmax < 100);
    tfix_free(f);
    sim_meter_stop(m);
    free(map);
}

/* The fewest requests by default; one per point when the quirk asks for it. */
static void requests_planned_and_one_per_point(void **state)
{
    col_map_t *map = malloc(sizeof *map);
    char err[256], cfg[1024];
    assert_int_equal(col_map_load_model(COALMON_CONF_DIR "/meters", "eastron-sdm630", map, err,
                                        sizeof err),
                     0);
    int order[COL_MAX_POINTS];
    col_request_t req[COL_MAX_POINTS];
    int nreq = col_plan(map, map->max_registers, false, order, req);
    assert_true(nreq < map->count);
    for (int one = 0; one <= 1; one++) {
        sim_meter_opts_t o;
        sim_meter_opts_default(&o);
        o.unit = 1;
        sim_meter_t *m = sim_meter_start(map, &o, err, sizeof err);
        assert_non_null(m);
        tfix_t *f = tfix_new();
        snprintf(cfg, sizeof cfg,
                 "{\"meter_maps\": \"" COALMON_CONF_DIR "/meters\", \"devices\": ["
                 "{\"name\":\"m\",\"model\":\"eastron-sdm630\",\"host\":\"127.0.0.1\","
                 "\"port\":%d,\"poll_ms\":100,\"one_per_point\":%s,\"request_pause_ms\":2,"
                 "\"connect_pause_ms\":20}]}",
                 sim_meter_port(m), one ? "true" : "false");
        tfix_start(f, cfg);
        wait_sql(f->db, "SELECT count(*) FROM reading", NULL, 4.0 * map->count, 10000);
        col_stop(f->col);
        f->col = NULL;
        tfix_flush(f);
        double polls = sql_num(f->db, "SELECT count(*) FROM reading", NULL) / map->count;
        double requests = (double)sim_server_requests(sim_meter_server(m));
        double want = polls * (one ? map->count : nreq);
        if (requests != want)
            fail_msg("one_per_point %d: %g requests for %g polls, wanted %g", one, requests,
                     polls, want);
        tfix_free(f);
        sim_meter_stop(m);
    }
    free(map);
}

/* A meter whose manual counts registers from 1: the map says 0x0078 for the
 * frequency, the meter answers it at 0x0077; address_shift -1 bridges that. */
static void address_shift_reads_a_meter_counting_from_one(void **state)
{
    col_map_t *map = malloc(sizeof *map);
    char err[256], cfg[1024], dir[] = "/tmp/coalmon-maps-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/shifted.json", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"model\": \"shifted\", \"points\": [{\"name\": \"freq\", \"address\": \"0x0078\","
          " \"type\": \"u16\", \"scale\": 0.01, \"unit\": \"Hz\"}]}", fp);
    fclose(fp);
    assert_int_equal(col_map_load_model(COALMON_CONF_DIR "/meters", "acrel-adl400", map, err,
                                        sizeof err),
                     0);
    sim_meter_t *m = sim_meter_start(map, NULL, err, sizeof err);
    assert_non_null(m);
    for (int shift = 0; shift >= -1; shift--) {
        tfix_t *f = tfix_new();
        snprintf(cfg, sizeof cfg,
                 "{\"meter_maps\": \"%s\", \"devices\": [{\"name\":\"m\",\"model\":\"shifted\","
                 "\"host\":\"127.0.0.1\",\"port\":%d,\"poll_ms\":100,\"address_shift\":%d}]}",
                 dir, sim_meter_port(m), shift);
        tfix_start(f, cfg);
        if (shift == 0) {
            /* Unshifted, the request runs past the meter's registers: the
             * point is refused, stored as such (quality 1), and named. */
            wait_sql(f->db, "SELECT count(*) FROM device_event WHERE detail LIKE ?1",
                     "%1 points refused%", 1, 10000);
            wait_sql(f->db, "SELECT count(*) FROM point_latest WHERE quality = 1", NULL, 1, 10000);
            assert_true(sql_num(f->db, "SELECT count(*) FROM reading WHERE quality = 0", NULL) == 0);
        } else {
            wait_sql(f->db, "SELECT count(*) FROM point_latest", NULL, 1, 10000);
            double hz = sql_num(f->db, "SELECT value FROM point_latest", NULL);
            if (!(hz > 49 && hz < 51))
                fail_msg("address_shift -1 read %g Hz", hz);
        }
        tfix_free(f);
    }
    sim_meter_stop(m);
    unlink(path);
    rmdir(dir);
    free(map);
}

/* Energy used while the collector was stopped is counted after it restarts,
 * as one plausible step, not a jump and not lost. */
static void counter_continues_across_restart(void **state)
{
    col_map_t *map = malloc(sizeof *map);
    char err[256], cfg[1024];
    assert_int_equal(col_map_load_model(COALMON_CONF_DIR "/meters", "chint-dtsu666", map, err,
                                        sizeof err),
                     0);
    sim_meter_opts_t o;
    sim_meter_opts_default(&o);
    o.load = 1.0;
    sim_meter_t *m = sim_meter_start(map, &o, err, sizeof err);
    assert_non_null(m);
    tfix_t *f = tfix_new();
    snprintf(cfg, sizeof cfg,
             "{\"meter_maps\": \"" COALMON_CONF_DIR "/meters\", \"devices\": [{\"name\":\"m\","
             "\"model\":\"chint-dtsu666\",\"host\":\"127.0.0.1\",\"port\":%d,\"poll_ms\":100}]}",
             sim_meter_port(m));
    tfix_start(f, cfg);
    const char *ep = "SELECT value FROM point_latest l JOIN point p ON p.id = l.point_id"
                     " WHERE p.name = ?1";
    wait_sql(f->db, ep, "ep_imp", 1, 10000);
    col_stop(f->col);
    f->col = NULL;
    tfix_flush(f);
    double first = sql_num(f->db, "SELECT min(value) FROM reading r JOIN point p ON"
                                  " p.id = r.point_id WHERE p.name = ?1", "ep_imp");
    tm_sleep_ms(1500);
    tfix_start(f, cfg);
    double stopped = sql_num(f->db, ep, "ep_imp");
    wait_sql(f->db, ep, "ep_imp", stopped + 0.001, 10000);
    col_stop(f->col);
    f->col = NULL;
    tfix_flush(f);
    double last = sql_num(f->db, ep, "ep_imp");
    double counted = sql_num(f->db, "SELECT sum(delta) FROM counter_minute c JOIN point p ON"
                                    " p.id = c.point_id WHERE p.name = ?1", "ep_imp");
    if (counted < (last - first) - 1e-6 || counted > (last - first) + 1e-6)
        fail_msg("counted %.6f kWh, counter rose %.6f kWh", counted, last - first);
    assert_true(sql_num(f->db, "SELECT count(*) FROM device_event WHERE kind LIKE ?1",
                        "counter_%") == 0);
    tfix_free(f);
    sim_meter_stop(m);
    free(map);
}

int main(void)
{
    log_setup("test", LOG_LVL_WARN, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(comm_state_has_hysteresis, tfix_teardown),
        cmocka_unit_test_teardown(counter_check_judges_steps, tfix_teardown),
        cmocka_unit_test_teardown(station_record_round_trips, tfix_teardown),
        cmocka_unit_test_teardown(refused_block_splits_into_runs_then_points, tfix_teardown),
        cmocka_unit_test_teardown(config_errors_name_the_key, tfix_teardown),
        cmocka_unit_test_teardown(example_configuration_starts, tfix_teardown),
        cmocka_unit_test_teardown(gateway_dead_unit_does_not_void_the_others, tfix_teardown),
        cmocka_unit_test_teardown(every_fault_is_seen_and_recovered, tfix_teardown),
        cmocka_unit_test_teardown(requests_planned_and_one_per_point, tfix_teardown),
        cmocka_unit_test_teardown(address_shift_reads_a_meter_counting_from_one, tfix_teardown),
        cmocka_unit_test_teardown(counter_continues_across_restart, tfix_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
