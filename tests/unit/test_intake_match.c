/* Matching exits to tickets (issue #9, ESC-1, ALM-9): OCR-confused plates
 * match with a stated confidence, true escapes become events after the
 * decision delay, each ticket serves one exit, a late ticket resolves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "intake_fixture.h"

#define T0 1795400000 /* 2026-11-23 10:13:20 Beijing */

static int setup(void **state)
{
    if (ifx_setup(state))
        return -1;
    ifx_t *f = *state;
    ifx_point(f, "E1", "out");
    ifx_point(f, "E2", "in");
    ifx_point(f, "E3", "both");
    return 0;
}

static intake_match_stats_t run(ifx_t *f, int64_t now)
{
    intake_match_stats_t s;
    char err[256];
    if (intake_match_run(f->st, &f->conf, now, &s, err, sizeof err))
        fail_msg("%s", err);
    return s;
}

static const char *state_of(ifx_t *f, const char *id, char *buf, size_t len)
{
    sqlite3_stmt *s;
    store_prepare(f->db, "SELECT state || '|' || coalesce(ticket_id, '') || '|' ||"
                         " CASE WHEN confidence IS NULL THEN '' ELSE printf('%.2f', confidence) END FROM exit_capture WHERE capture_id = ?",
                  &s, NULL, 0);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    snprintf(buf, len, "%s", sqlite3_step(s) == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : "none");
    sqlite3_finalize(s);
    return buf;
}

static void test_ocr_confused_and_missing_characters_match(void **state)
{
    ifx_t *f = *state;
    intake_put_result_t r;
    char b[128];
    ifx_put_ticket(f, ifx_ticket("K1", "晋K8D025", T0 - 300, 35), &r);
    ifx_put_ticket(f, ifx_ticket("K2", "晋A12345", T0 - 200, 40), &r);
    ifx_put_ticket(f, ifx_ticket("K3", "晋C5Z777", T0 - 100, 38), &r);
    ifx_capture(f, "c1", "E1", "晋KB0025", T0, "loaded");  /* 8/B and D/0 swapped */
    ifx_capture(f, "c2", "E1", "晋A1245", T0 + 10, "loaded"); /* a character lost */
    ifx_capture(f, "c3", "E1", "晋C5Z777", T0 + 20, "loaded"); /* read right */
    intake_match_stats_t s = run(f, T0 + 30);
    assert_int_equal(s.matched, 1); /* the exact read at once ... */
    assert_int_equal(s.waiting, 2); /* ... near ones at the decision time (60 s) */
    assert_string_equal(state_of(f, "c1", b, sizeof b), "pending||");
    s = run(f, T0 + 80);
    assert_int_equal(s.matched, 2);
    assert_int_equal(s.escapes, 0);
    assert_string_equal(state_of(f, "c1", b, sizeof b), "matched|K1|0.90");
    assert_string_equal(state_of(f, "c2", b, sizeof b), "matched|K2|0.80");
    assert_string_equal(state_of(f, "c3", b, sizeof b), "matched|K3|1.00");
    /* Each decided capture is queued for upload with its ticket and escape 0. */
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM outbox_record WHERE record_type = 'exitCapture'"
                                  " AND json_extract(body, '$.escape') = 0 AND json_extract(body, '$.ticketId')"
                                  " IS NOT NULL", NULL), 3);
}

static void test_true_escape_after_the_decision_delay(void **state)
{
    ifx_t *f = *state;
    intake_put_result_t r;
    char b[128];
    f->conf.decide_after_s = 60;
    /* Another truck's ticket, and one of the same truck but far too early. */
    ifx_put_ticket(f, ifx_ticket("X1", "晋A11111", T0 - 60, 35), &r);
    ifx_put_ticket(f, ifx_ticket("X2", "陕H77777", T0 - 3 * 3600, 35), &r);
    ifx_capture(f, "e1", "E1", "陕H77777", T0, "loaded");
    intake_match_stats_t s = run(f, T0 + 30);
    assert_int_equal(s.waiting, 1); /* the ticket may still come */
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM escape_event", NULL), 0);
    s = run(f, T0 + 61);
    assert_int_equal(s.escapes, 1);
    assert_string_equal(state_of(f, "e1", b, sizeof b), "escape||");
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM escape_event WHERE capture_id = ? AND plate = '陕H77777'"
                                  " AND point_code = 'E1' AND detail LIKE '%无匹配的出场过磅单%'", "e1"), 1);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM outbox_record WHERE record_id = ?"
                                  " AND json_extract(body, '$.escape') = 1", "e1"), 1);
    /* Decided once: another run raises nothing new. */
    s = run(f, T0 + 200);
    assert_int_equal(s.escapes, 0);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM escape_event", NULL), 1);
}

static void test_a_ticket_serves_one_exit(void **state)
{
    ifx_t *f = *state;
    intake_put_result_t r;
    char b[128];
    f->conf.decide_after_s = 0;
    ifx_put_ticket(f, ifx_ticket("S1", "晋B20202", T0 - 300, 35), &r);
    ifx_capture(f, "d1", "E1", "晋B20202", T0, "loaded");
    ifx_capture(f, "d2", "E1", "晋B20202", T0 + 600, "loaded"); /* the same truck again */
    intake_match_stats_t s = run(f, T0 + 700);
    assert_int_equal(s.matched, 1);
    assert_int_equal(s.escapes, 1);
    assert_string_equal(state_of(f, "d1", b, sizeof b), "matched|S1|1.00");
    assert_string_equal(state_of(f, "d2", b, sizeof b), "escape||");
}

static void test_exact_reads_keep_their_tickets_from_misreads(void **state)
{
    ifx_t *f = *state;
    intake_put_result_t r;
    char b[128];
    f->conf.decide_after_s = 0;
    ifx_put_ticket(f, ifx_ticket("P1", "晋A12345", T0 - 300, 35), &r);
    ifx_put_ticket(f, ifx_ticket("P2", "晋A12945", T0 - 200, 35), &r);
    /* The earlier exit misread 晋A12945 as 晋A12345 (9/3 are not confusable):
     * a clean read of 晋A12345 follows. The clean read keeps P1. */
    ifx_capture(f, "m1", "E1", "晋A12345", T0, "loaded");
    ifx_capture(f, "m2", "E1", "晋A12345", T0 + 5, "loaded");
    run(f, T0 + 10);
    assert_string_equal(state_of(f, "m1", b, sizeof b), "matched|P1|1.00");
    assert_string_equal(state_of(f, "m2", b, sizeof b), "matched|P2|0.80");
}

/* An escaping truck whose plate is one character from another truck's: the
 * other truck passes within the decision window and keeps its ticket. */
static void test_near_plate_does_not_hide_an_escape(void **state)
{
    ifx_t *f = *state;
    intake_put_result_t r;
    char b[128];
    ifx_put_ticket(f, ifx_ticket("Y1", "晋A12345", T0 - 300, 35), &r);
    ifx_capture(f, "x", "E1", "晋A12745", T0, "loaded"); /* no ticket of its own */
    assert_int_equal(run(f, T0 + 10).waiting, 1);
    ifx_capture(f, "y", "E1", "晋A12345", T0 + 20, "loaded");
    run(f, T0 + 25);
    assert_string_equal(state_of(f, "y", b, sizeof b), "matched|Y1|1.00");
    assert_int_equal(run(f, T0 + 61).escapes, 1);
    assert_string_equal(state_of(f, "x", b, sizeof b), "escape||");
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM escape_event WHERE capture_id = 'x'"
                                  " AND best_ticket_id IS NULL", NULL), 1);
}

static void test_inbound_tickets_and_points_never_match(void **state)
{
    ifx_t *f = *state;
    intake_put_result_t r;
    char b[128];
    f->conf.decide_after_s = 0;
    cJSON *in = ifx_ticket("R1", "晋D33333", T0 - 300, 35);
    cJSON_ReplaceItemInObject(in, "direction", cJSON_CreateString("in"));
    cJSON *tt = cJSON_Duplicate(cJSON_GetObjectItem(in, "tareTime"), true);
    cJSON_ReplaceItemInObject(in, "tareTime", cJSON_Duplicate(cJSON_GetObjectItem(in, "grossTime"), true));
    cJSON_ReplaceItemInObject(in, "grossTime", tt);
    ifx_put_ticket(f, in, &r);
    ifx_capture(f, "i1", "E1", "晋D33333", T0, "loaded");
    ifx_capture(f, "i2", "E2", "晋D33333", T0, "loaded");
    ifx_capture(f, "i3", "E1", "晋D44444", T0, "empty");
    ifx_capture(f, "i4", "E1", "晋D55555", T0, "unknown");
    intake_match_stats_t s = run(f, T0 + 10);
    assert_int_equal(s.escapes, 1);
    assert_int_equal(s.unverified, 1);
    assert_string_equal(state_of(f, "i1", b, sizeof b), "escape||");
    assert_string_equal(state_of(f, "i2", b, sizeof b), "inbound||");
    assert_string_equal(state_of(f, "i3", b, sizeof b), "empty||");
    assert_string_equal(state_of(f, "i4", b, sizeof b), "unverified||");
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM escape_event", NULL), 1);
}

static void test_late_ticket_resolves_the_escape(void **state)
{
    ifx_t *f = *state;
    intake_put_result_t r;
    char b[128];
    f->conf.decide_after_s = 0;
    ifx_capture(f, "l1", "E1", "晋E12121", T0, "loaded");
    assert_int_equal(run(f, T0 + 5).escapes, 1);
    /* The weighbridge PC was offline; its ticket (weighed before the exit) arrives now. */
    ifx_put_ticket(f, ifx_ticket("L1", "晋E12121", T0 - 240, 33), &r);
    assert_int_equal(run(f, T0 + 900).matched, 1);
    assert_string_equal(state_of(f, "l1", b, sizeof b), "matched|L1|1.00");
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM escape_event WHERE resolved_at IS NOT NULL"
                                  " AND resolved_ticket_id = ?", "L1"), 1);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM outbox_record WHERE record_id = 'l1'"
                                  " AND json_extract(body, '$.escape') = 0", NULL), 1);
}

static void test_capture_batch_with_unknown_point_stores_nothing(void **state)
{
    ifx_t *f = *state;
    intake_capture_t c[2] = {0};
    intake_fault_t fl = {0};
    char err[256];
    snprintf(c[0].capture_id, sizeof c[0].capture_id, "ok");
    snprintf(c[0].point, sizeof c[0].point, "E1");
    snprintf(c[1].capture_id, sizeof c[1].capture_id, "bad");
    snprintf(c[1].point, sizeof c[1].point, "E9");
    for (int i = 0; i < 2; i++) {
        snprintf(c[i].plate, sizeof c[i].plate, "晋A12345");
        snprintf(c[i].load, sizeof c[i].load, "loaded");
        c[i].time = T0;
    }
    assert_int_equal(intake_captures_put(f->st, c, 2, "test", NULL, &fl, err, sizeof err), CM_ERR_INVALID);
    assert_string_equal(fl.field, "pointId");
    assert_int_equal(fl.index, 1);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM exit_capture", NULL), 0);
    snprintf(c[1].point, sizeof c[1].point, "E3"); /* serves both ways: direction needed */
    assert_int_equal(intake_captures_put(f->st, c, 2, "test", NULL, &fl, err, sizeof err), CM_ERR_INVALID);
    assert_string_equal(fl.field, "direction");
    snprintf(c[1].direction, sizeof c[1].direction, "out");
    int created = 0;
    assert_int_equal(intake_captures_put(f->st, c, 2, "test", &created, &fl, err, sizeof err), CM_OK);
    assert_int_equal(created, 2);
    assert_int_equal(intake_captures_put(f->st, c, 2, "test", &created, &fl, err, sizeof err), CM_OK);
    assert_int_equal(created, 0); /* idempotent by capture id */
}

static void test_points_with_captures_stay(void **state)
{
    ifx_t *f = *state;
    char err[256];
    ifx_capture(f, "k1", "E1", "晋A12345", T0, "empty");
    assert_int_equal(intake_point_remove(f->st, "E1", "test", "cli", err, sizeof err), CM_ERR_CONFLICT);
    assert_int_equal(intake_point_remove(f->st, "E2", "test", "cli", err, sizeof err), CM_OK);
    assert_int_equal(intake_point_remove(f->st, "E2", "test", "cli", err, sizeof err), CM_ERR_NOTFOUND);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM exit_point", NULL), 2);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM audit_log WHERE action = 'exit_point.remove'"
                                  " AND target = ?", "E2"), 1);
}

static void test_capture_parse_rules(void **state)
{
    ifx_t *f = *state;
    intake_capture_t c;
    intake_fault_t fl = {0};
    cJSON *o = cJSON_Parse("{\"pointId\":\"E1\",\"plate\":\"晋a 12345\",\"captureTime\":\"2026-11-23 10:00:00\","
                           "\"load\":\"loaded\",\"photos\":[\"a.jpg\",\"b.jpg\"]}");
    assert_int_equal(intake_capture_parse(o, &f->conf, T0, &c, &fl), CM_OK);
    assert_string_equal(c.plate, "晋A12345");
    assert_string_equal(c.photos, "a.jpg,b.jpg");
    assert_string_equal(c.capture_id, "E1-20261123100000-晋A12345");
    cJSON_ReplaceItemInObject(o, "load", cJSON_CreateString("full"));
    assert_int_equal(intake_capture_parse(o, &f->conf, T0, &c, &fl), CM_ERR_INVALID);
    assert_string_equal(fl.field, "load");
    cJSON_ReplaceItemInObject(o, "load", cJSON_CreateString("empty"));
    cJSON_ReplaceItemInObject(o, "captureTime", cJSON_CreateString("2026-11-23 11:00:00"));
    assert_int_equal(intake_capture_parse(o, &f->conf, T0, &c, &fl), CM_ERR_INVALID);
    assert_string_equal(fl.field, "captureTime");
    cJSON_DeleteItemFromObject(o, "pointId");
    assert_int_equal(intake_capture_parse(o, &f->conf, T0, &c, &fl), CM_ERR_INVALID);
    assert_string_equal(fl.field, "pointId");
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ocr_confused_and_missing_characters_match, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_true_escape_after_the_decision_delay, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_a_ticket_serves_one_exit, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_exact_reads_keep_their_tickets_from_misreads, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_near_plate_does_not_hide_an_escape, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_inbound_tickets_and_points_never_match, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_late_ticket_resolves_the_escape, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_capture_batch_with_unknown_point_stores_nothing, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_points_with_captures_stay, setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_capture_parse_rules, setup, ifx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
