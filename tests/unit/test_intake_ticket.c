/* Weighbridge tickets (issue #9, ACQ-6): every validation rule names its
 * field; a re-sent ticket is idempotent; a changed one is a correction kept
 * as a version, audited and queued for upload; the CSV reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "intake_fixture.h"

#define NOW 1795400000 /* 2026-11-23 10:13:20 Beijing */

/* Apply one change to a valid ticket and expect a fault on field. */
static void expect_fault(ifx_t *f, cJSON *o, const char *field, const char *needle)
{
    intake_ticket_t t;
    intake_fault_t fl;
    int rc = ifx_parse(f, o, NOW, &t, &fl);
    char *text = cJSON_PrintUnformatted(o);
    if (rc != CM_ERR_INVALID)
        fail_msg("accepted: %s", text);
    if (strcmp(fl.field, field) || (needle && !strstr(fl.msg, needle)))
        fail_msg("%s: field '%s' (wanted %s), message '%s'", text, fl.field, field, fl.msg);
    cJSON_free(text);
    cJSON_Delete(o);
}

static cJSON *valid(void) { return ifx_ticket("T1", "晋K1234挂", NOW - 600, 35.2); }

static cJSON *with_str(cJSON *o, const char *k, const char *v)
{
    cJSON_DeleteItemFromObject(o, k);
    if (v)
        cJSON_AddStringToObject(o, k, v);
    return o;
}

static cJSON *with_num(cJSON *o, const char *k, double v)
{
    cJSON_DeleteItemFromObject(o, k);
    cJSON_AddNumberToObject(o, k, v);
    return o;
}

static void test_valid_ticket_normalised(void **state)
{
    ifx_t *f = *state;
    intake_ticket_t t;
    intake_fault_t fl;
    cJSON *o = with_str(with_str(valid(), "material", "原煤"), "plate", "晋k·1234挂");
    assert_int_equal(ifx_parse(f, o, NOW, &t, &fl), CM_OK);
    assert_string_equal(t.plate, "晋K1234挂");
    assert_string_equal(t.material, "raw"); /* a Chinese name becomes the code */
    assert_true(t.gross_time - t.tare_time == 1800);
    cJSON_Delete(o);
    /* net within the tolerance (0.02 t) of gross - tare is fine */
    o = with_num(valid(), "net", 35.21);
    assert_int_equal(ifx_parse(f, o, NOW, &t, &fl), CM_OK);
    cJSON_Delete(o);
}

static void test_every_rule_names_its_field(void **state)
{
    ifx_t *f = *state;
    expect_fault(f, with_str(valid(), "ticketId", NULL), "ticketId", "required");
    expect_fault(f, with_str(valid(), "plate", "AB12345"), "plate", "province");
    expect_fault(f, with_str(valid(), "plate", "晋A1234"), "plate", "characters");
    expect_fault(f, with_str(valid(), "material", "gold"), "material", "unknown material");
    expect_fault(f, with_str(valid(), "direction", "sideways"), "direction", NULL);
    expect_fault(f, with_str(valid(), "tareTime", "23/11/2026 10:00"), "tareTime", "yyyy-MM-dd");
    expect_fault(f, with_str(valid(), "grossTime", "2026-11-23 12:40:00"), "grossTime", "future");
    expect_fault(f, with_str(with_str(valid(), "tareTime", "2026-11-23 12:50:00"), "grossTime",
                             "2026-11-23 12:55:00"),
                 "tareTime", "future");
    /* out: empty first, then loaded; in: the other way round */
    expect_fault(f, with_str(valid(), "tareTime", "2026-11-23 10:05:00"), "grossTime", "after tareTime");
    expect_fault(f, with_str(valid(), "direction", "in"), "tareTime", "after grossTime");
    expect_fault(f, with_str(valid(), "weighbridgeId", NULL), "weighbridgeId", "required");
    expect_fault(f, with_num(with_num(valid(), "gross", 160), "net", 145), "gross", "range");
    expect_fault(f, with_num(with_num(valid(), "tare", 0.2), "net", 50), "tare", "range");
    expect_fault(f, with_num(with_num(valid(), "tare", 60), "net", -9.8), "gross", "exceed tare");
    expect_fault(f, with_num(valid(), "net", 35.5), "net", "gross - tare");
    expect_fault(f, with_str(valid(), "gross", "50.2"), "gross", "number");
    expect_fault(f, with_num(valid(), "operator", 3), "operator", "string");
    cJSON *arr = cJSON_CreateArray();
    intake_ticket_t t;
    intake_fault_t fl;
    assert_int_equal(ifx_parse(f, arr, NOW, &t, &fl), CM_ERR_INVALID);
    cJSON_Delete(arr);
}

static void test_weighbridge_list_and_ranges(void **state)
{
    ifx_t *f = *state;
    f->conf.n_bridges = 1;
    snprintf(f->conf.bridges[0].id, sizeof f->conf.bridges[0].id, "WB1");
    f->conf.bridges[0].min_t = 10;
    f->conf.bridges[0].max_t = 60;
    expect_fault(f, with_str(valid(), "weighbridgeId", "WB9"), "weighbridgeId", "unknown");
    expect_fault(f, with_num(with_num(valid(), "gross", 61), "net", 46), "gross", "10..60");
    intake_ticket_t t;
    intake_fault_t fl;
    cJSON *o = valid();
    assert_int_equal(ifx_parse(f, o, NOW, &t, &fl), CM_OK);
    cJSON_Delete(o);
}

static void test_csv_text_numbers_only_for_csv(void **state)
{
    ifx_t *f = *state;
    intake_ticket_t t;
    intake_fault_t fl = {0};
    cJSON *o = with_str(with_str(with_str(valid(), "gross", "50.20"), "tare", "15"), "net", "35.2");
    assert_int_equal(intake_ticket_parse(o, &f->conf, &f->mat, NOW, true, &t, &fl), CM_OK);
    assert_true(t.gross > 50.19 && t.gross < 50.21);
    cJSON_Delete(o);
    o = with_str(valid(), "net", "35,2");
    assert_int_equal(intake_ticket_parse(o, &f->conf, &f->mat, NOW, true, &t, &fl), CM_ERR_INVALID);
    assert_string_equal(fl.field, "net");
    cJSON_Delete(o);
}

static void test_resend_is_idempotent(void **state)
{
    ifx_t *f = *state;
    intake_put_result_t r;
    ifx_put_ticket(f, valid(), &r);
    assert_int_equal(r.created, 1);
    ifx_put_ticket(f, valid(), &r);
    assert_int_equal(r.created + r.corrected, 0);
    assert_int_equal(r.unchanged, 1);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM weigh_ticket WHERE ticket_id = ?", "T1"), 1);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM outbox_record WHERE record_type = 'weighTicket'", NULL), 1);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM audit_log WHERE action = 'ticket.correct'", NULL), 0);
}

static void test_correction_keeps_both_versions_audited(void **state)
{
    ifx_t *f = *state;
    intake_put_result_t r;
    ifx_put_ticket(f, valid(), &r);
    ifx_put_ticket(f, with_num(with_num(valid(), "gross", 50.4), "net", 35.4), &r);
    assert_int_equal(r.corrected, 1);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM weigh_ticket WHERE ticket_id = ?", "T1"), 2);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM weigh_ticket_current WHERE ticket_id = ?", "T1"), 1);
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM audit_log WHERE action = 'ticket.correct'"
                                  " AND target = ? AND old_value = 'v1' AND new_value = 'v2'"
                                  " AND reason LIKE '%\"net\":[35.2,35.4]%'", "T1"), 1);
    /* The upload carries the corrected values (replacing the queued first version). */
    assert_int_equal(ifx_count(f, "SELECT count(*) FROM outbox_record WHERE record_id = ?"
                                  " AND json_extract(body, '$.net') = 35.4", "T1"), 1);
    cJSON *got = NULL;
    char err[256];
    assert_int_equal(intake_ticket_get(f->db, "T1", &got, err, sizeof err), CM_OK);
    assert_int_equal(cJSON_GetObjectItem(got, "version")->valueint, 2);
    assert_true(cJSON_GetObjectItem(got, "net")->valuedouble == 35.4);
    cJSON *v2 = cJSON_GetArrayItem(cJSON_GetObjectItem(got, "versions"), 1);
    cJSON *changes = cJSON_GetObjectItem(v2, "changes");
    assert_non_null(cJSON_GetObjectItem(changes, "gross"));
    assert_non_null(cJSON_GetObjectItem(changes, "net"));
    assert_null(cJSON_GetObjectItem(changes, "plate"));
    cJSON_Delete(got);
    assert_int_equal(intake_ticket_get(f->db, "nope", &got, err, sizeof err), CM_ERR_NOTFOUND);
}

static void test_batch_stored_in_one_job(void **state)
{
    ifx_t *f = *state;
    intake_ticket_t t[3];
    intake_fault_t fl;
    char err[256], id[8];
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "B%d", i);
        cJSON *o = ifx_ticket(id, "晋A12345", NOW - 3600 + i * 600, 30 + i);
        assert_int_equal(ifx_parse(f, o, NOW, &t[i], &fl), CM_OK);
        cJSON_Delete(o);
    }
    intake_put_result_t r;
    assert_int_equal(intake_tickets_put(f->st, t, 3, "test", &r, err, sizeof err), CM_OK);
    assert_int_equal(r.created, 3);
    cJSON *list = NULL;
    assert_int_equal(intake_ticket_list(f->db, NOW - 7200, NOW, "A1234", 10, &list, err, sizeof err), CM_OK);
    assert_int_equal(cJSON_GetArraySize(list), 3);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "ticketId")->valuestring, "B2");
    cJSON_Delete(list);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_csv_reader_quotes_bom_crlf_lines(void **state)
{
    ifx_t *f = *state;
    char path[160], err[256], **fields;
    int line;
    snprintf(path, sizeof path, "%s/a.csv", f->dir);
    write_file(path, "\xEF\xBB\xBFticketId,operator\r\n"
                     "T1,\"王, 强\"\r\n"
                     "T2,\"say \"\"hi\"\"\nsecond line\"\n"
                     "\n"
                     "T3,plain");
    intake_csv_t *c = intake_csv_open(path, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(intake_csv_next(c, &fields, &line, err, sizeof err), 2);
    assert_string_equal(fields[0], "ticketId");
    assert_int_equal(line, 1);
    assert_int_equal(intake_csv_next(c, &fields, &line, err, sizeof err), 2);
    assert_string_equal(fields[1], "王, 强");
    assert_int_equal(line, 2);
    assert_int_equal(intake_csv_next(c, &fields, &line, err, sizeof err), 2);
    assert_string_equal(fields[1], "say \"hi\"\nsecond line");
    assert_int_equal(line, 3);
    assert_int_equal(intake_csv_next(c, &fields, &line, err, sizeof err), 1); /* blank line */
    assert_int_equal(line, 5);
    assert_int_equal(intake_csv_next(c, &fields, &line, err, sizeof err), 2);
    assert_string_equal(fields[1], "plain");
    assert_int_equal(line, 6);
    assert_int_equal(intake_csv_next(c, &fields, &line, err, sizeof err), 0);
    intake_csv_close(c);

    write_file(path, "a,b\nx,\"open\n");
    c = intake_csv_open(path, err, sizeof err);
    intake_csv_next(c, &fields, &line, err, sizeof err);
    assert_true(intake_csv_next(c, &fields, &line, err, sizeof err) < 0);
    assert_non_null(strstr(err, "line 2: quote not closed"));
    intake_csv_close(c);
    unlink(path);
}

static void test_csv_writer_quotes_when_needed(void **state)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    intake_csv_append(&buf, &len, &cap, "a", false);
    intake_csv_append(&buf, &len, &cap, "b,c", false);
    intake_csv_append(&buf, &len, &cap, "say \"x\"", true);
    assert_string_equal(buf, "a,\"b,c\",\"say \"\"x\"\"\"\r\n");
    assert_int_equal(len, strlen(buf));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_ticket_normalised, ifx_setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_every_rule_names_its_field, ifx_setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_weighbridge_list_and_ranges, ifx_setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_csv_text_numbers_only_for_csv, ifx_setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_resend_is_idempotent, ifx_setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_correction_keeps_both_versions_audited, ifx_setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_stored_in_one_job, ifx_setup, ifx_teardown),
        cmocka_unit_test_setup_teardown(test_csv_reader_quotes_bom_crlf_lines, ifx_setup, ifx_teardown),
        cmocka_unit_test(test_csv_writer_quotes_when_needed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
