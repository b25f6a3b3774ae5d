/* collector: the belt-scale station — backfill from the breakpoint across a
 * link outage and across a collector restart, with no gap and no duplicate;
 * tonnage per interval from the cumulative counter; fault bits, power loss
 * and plausibility checks as events (ACQ-1, ACQ-7, ACQ-8, ACQ-10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_collector_util.h"

#define MAX_SEQ "SELECT coalesce(max(seq), 0) FROM station_record"
#define EV "SELECT count(*) FROM device_event WHERE kind = ?1 AND "

static sim_station_t *start_station(int record_ms)
{
    sim_station_opts_t o;
    sim_station_opts_default(&o);
    o.record_ms = record_ms;
    o.capacity = 5000;
    snprintf(o.serial, sizeof o.serial, "BS1-T-0042");
    char err[256];
    sim_station_t *st = sim_station_start(&o, err, sizeof err);
    if (!st)
        fail_msg("%s", err);
    return st;
}

static void station_config(char *buf, size_t len, int port, const char *serial, int stuck_polls)
{
    snprintf(buf, len,
             "{\"devices\": [{\"name\":\"bs\",\"kind\":\"station\",\"serial\":\"%s\","
             "\"location\":\"主井\",\"install_date\":\"2024-03-01\",\"host\":\"127.0.0.1\","
             "\"port\":%d,\"poll_ms\":150,\"timeout_ms\":300,\"offline_after\":2,"
             "\"backoff_max_ms\":300,\"record_batch\":4,\"stuck_polls\":%d}]}",
             serial, port, stuck_polls);
}

/* Records stored form one unbroken run of sequence numbers. */
static void assert_contiguous(sqlite3 *db)
{
    double n = sql_num(db, "SELECT count(*) FROM station_record", NULL);
    double lo = sql_num(db, "SELECT min(seq) FROM station_record", NULL);
    double hi = sql_num(db, MAX_SEQ, NULL);
    if (n != hi - lo + 1)
        fail_msg("records %g..%g but %g stored: a gap", lo, hi, n);
    /* Tonnage per minute adds up to the counter's rise over the same records. */
    double rise = sql_num(db,
                          "SELECT (SELECT total_t FROM station_record ORDER BY seq DESC LIMIT 1)"
                          " - (SELECT total_t FROM station_record ORDER BY seq LIMIT 1)",
                          NULL);
    double sum = sql_num(db, "SELECT sum(tonnes) FROM station_output_minute", NULL);
    if (sum < rise - 1e-6 || sum > rise + 1e-6)
        fail_msg("output %.4f t, counter rose %.4f t", sum, rise);
    assert_true(rise > 0);
}

static void backfill_across_outage_and_restart(void **state)
{
    sim_station_t *st = start_station(100);
    tfix_t *f = tfix_new();
    char cfg[1024], err[256];
    station_config(cfg, sizeof cfg, sim_station_port(st), "BS1-T-0042", 1000);
    tfix_start(f, cfg);
    wait_sql(f->db, COMM_STATE_IS "'online'", "bs", 1, 10000);
    double first = wait_sql(f->db, MAX_SEQ, NULL, 1, 10000);
    wait_sql(f->db, MAX_SEQ, NULL, first + 5, 10000);

    /* The link goes down for 1.5 s; the station keeps recording. */
    sim_cmd(sim_station_server(st), "outage 1.5");
    wait_sql(f->db, COMM_STATE_IS "'offline'", "bs", 1, 10000);
    uint32_t newest;
    double total;
    sim_station_status(st, &newest, &total);
    wait_sql(f->db, MAX_SEQ, NULL, newest + 5, 20000);
    wait_sql(f->db, EV "state = 'done'", "backfill", 1, 5000);
    assert_true(sql_num(f->db, "SELECT count(*) FROM station_record WHERE backfilled = 1",
                        NULL) >= 3);
    assert_contiguous(f->db);

    /* The collector stops; records pile up; a new collector resumes from the cursor. */
    col_stop(f->col);
    f->col = NULL;
    double stopped_at = sql_num(f->db, MAX_SEQ, NULL);
    tm_sleep_ms(1200);
    sim_station_status(st, &newest, &total);
    assert_true(newest >= stopped_at + 8);
    tfix_start(f, cfg);
    wait_sql(f->db, MAX_SEQ, NULL, newest + 2, 20000);
    assert_contiguous(f->db);
    /* Nothing here was implausible. */
    assert_true(sql_num(f->db, "SELECT count(*) FROM device_event WHERE kind LIKE ?1",
                        "counter_%") == 0);
    /* Identity and registry. */
    assert_true(sql_num(f->db, "SELECT count(*) FROM device WHERE name = 'bs' AND serial = ?1"
                               " AND firmware = '2.7' AND location = '主井'"
                               " AND install_date = '2024-03-01'",
                        "BS1-T-0042") == 1);
    int64_t id = (int64_t)sql_num(f->db, "SELECT id FROM device WHERE name = ?1", "bs");
    double t = -1;
    assert_int_equal(col_station_output(f->db, id, 0, tm_now_s() + 120, &t, err, sizeof err), 0);
    assert_true(t > 0);
    tfix_free(f);
    sim_station_stop(st);
}

/* Regression: a station replaced (or reset) starts its numbering again. Its
 * records used to collide with the stored ones ("UNIQUE constraint failed")
 * and the station showed as offline for good. They are stored after the old
 * epoch's records instead, and the link stays up (ACQ-8, ACQ-9). */
static void replaced_station_restarts_numbering_without_collision(void **state)
{
    sim_station_t *old = start_station(100);
    tfix_t *f = tfix_new();
    char cfg[1024];
    station_config(cfg, sizeof cfg, sim_station_port(old), "BS1-T-0042", 1000);
    tfix_start(f, cfg);
    double before = wait_sql(f->db, MAX_SEQ, NULL, 15, 10000);
    col_stop(f->col);
    f->col = NULL;
    sim_station_stop(old);
    before = sql_num(f->db, MAX_SEQ, NULL);

    sim_station_t *fresh = start_station(100); /* numbering from 1 again */
    station_config(cfg, sizeof cfg, sim_station_port(fresh), "BS1-T-0042", 1000);
    tfix_start(f, cfg);
    wait_sql(f->db, EV "state = 'reset'", "backfill", 1, 10000);
    wait_sql(f->db, MAX_SEQ, NULL, before + 5, 10000);
    assert_true(sql_num(f->db, COMM_STATE_IS "'online'", "bs") == 1);
    assert_true(sql_num(f->db, "SELECT count(*) FROM device_event WHERE kind = 'comm'"
                               " AND state = 'offline'", NULL) == 0);
    tfix_free(f);
    sim_station_stop(fresh);
}

static void diagnosis_events(void **state)
{
    sim_station_t *st = start_station(200);
    sim_server_t *srv = sim_station_server(st);
    tfix_t *f = tfix_new();
    char cfg[1024];
    /* A wrong configured serial is reported as an identity mismatch. */
    station_config(cfg, sizeof cfg, sim_station_port(st), "BS1-OTHER", 5);
    tfix_start(f, cfg);
    wait_sql(f->db, COMM_STATE_IS "'online'", "bs", 1, 10000);
    wait_sql(f->db, EV "state = 'mismatch'", "identity", 1, 5000);

    sim_cmd(srv, "fault 0 on");
    wait_sql(f->db, EV "state = 'raised' AND detail LIKE 'weigh_sensor%'", "fault", 1, 5000);
    /* A restart neither raises the standing fault again nor repeats the mismatch. */
    col_stop(f->col);
    f->col = NULL;
    double polls = sql_num(f->db, "SELECT count(*) FROM reading", NULL);
    tfix_start(f, cfg);
    wait_sql(f->db, "SELECT count(*) FROM reading", NULL, polls + 5 * 13, 10000);
    tfix_flush(f);
    assert_true(sql_num(f->db, EV "state = 'raised' AND detail LIKE 'weigh_sensor%'", "fault") ==
                1);
    sim_cmd(srv, "fault 0 off");
    wait_sql(f->db, EV "state = 'cleared' AND detail LIKE 'weigh_sensor%'", "fault", 1, 5000);

    sim_cmd(srv, "battery on");
    wait_sql(f->db, EV "state = 'battery'", "power", 1, 5000);
    sim_cmd(srv, "battery off");
    wait_sql(f->db, EV "state = 'mains'", "power", 1, 5000);

    sim_cmd(srv, "zero_speed on");
    wait_sql(f->db, EV "state = 'raised' AND detail LIKE 'belt_zero_speed%'", "plausibility", 1,
             5000);
    sim_cmd(srv, "zero_speed off");
    wait_sql(f->db, EV "state = 'cleared' AND detail LIKE 'belt_zero_speed%'", "plausibility",
             1, 5000);

    sim_cmd(srv, "stuck vib1 on");
    wait_sql(f->db, EV "state = 'raised' AND detail LIKE 'stuck vib1%'", "plausibility", 1,
             10000);
    sim_cmd(srv, "stuck vib1 off");
    wait_sql(f->db, EV "state = 'cleared' AND detail LIKE 'stuck vib1%'", "plausibility", 1,
             10000);
    /* The station's counter cleared: an event, never negative tonnage. */
    sim_cmd(srv, "reset");
    wait_sql(f->db, EV "state = 'total'", "counter_reset", 1, 10000);
    assert_true(sql_num(f->db, "SELECT min(tonnes) FROM station_output_minute", NULL) >= 0);
    /* No alarm where there is nothing wrong... */
    assert_true(sql_num(f->db, EV "detail LIKE 'out_of_range%'", "plausibility") == 0);
    /* ...but a speed sensor reading 9.5 m/s (its range is 0..8) is. */
    sim_cmd(srv, "force speed 9.5");
    wait_sql(f->db, EV "state = 'raised' AND detail LIKE 'out_of_range speed%'", "plausibility",
             1, 5000);
    sim_cmd(srv, "stuck speed off");
    wait_sql(f->db, EV "state = 'cleared' AND detail LIKE 'out_of_range speed%'", "plausibility",
             1, 5000);
    tfix_free(f);
    sim_station_stop(st);
}

int main(void)
{
    log_setup("test", LOG_LVL_WARN, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(backfill_across_outage_and_restart, tfix_teardown),
        cmocka_unit_test_teardown(diagnosis_events, tfix_teardown),
        cmocka_unit_test_teardown(replaced_station_restarts_numbering_without_collision,
                                  tfix_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
