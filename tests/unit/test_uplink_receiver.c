/* UPL-1, UPL-4: the receiver answers each bad request with the contract's
 * code and stores nothing; good ones are stored once (uplink.md §1, §2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "uplink/uplink.h"

#define MINE "001001001"
#define KEY "1234567890abcdef"
#define IV "abcdef1234567890"

typedef struct fx {
    char dir[64], path[128];
    store_t *st;
    upl_cfg_t cfg;
    upl_key_t key;
    int64_t now_ms;
} fx_t;

typedef struct put_arg {
    const char *code, *key, *iv, *kind;
} put_arg_t;

static int put_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    put_arg_t *a = arg;
    return upl_enterprise_put_job(db, a->code, "测试煤矿", a->kind, a->key, a->iv, 1.2e6, err, errlen);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/coalmon-uplrx-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    store_opts_t o;
    store_opts_default(&o);
    o.batch_delay_ms = 0;
    char err[256];
    f->st = store_open(f->path, &o, err, sizeof err);
    assert_non_null(f->st);
    upl_cfg_default(&f->cfg);
    f->cfg.receiver = true;
    f->cfg.max_record_bytes = 4096;
    assert_int_equal(upl_key_set(&f->key, KEY, IV, err, sizeof err), 0);
    put_arg_t a = {MINE, KEY, IV, "mine"};
    assert_int_equal(store_write(f->st, put_job, &a, err, sizeof err), 0);
    f->now_ms = tm_bj_to_epoch(2026, 11, 23, 20, 0, 0) * 1000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    store_close(f->st);
    char p[160];
    snprintf(p, sizeof p, "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", f->path);
    unlink(p);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

typedef struct rx_arg {
    fx_t *f;
    upl_request_t rq;
    upl_answer_t ans;
} rx_arg_t;

static int rx_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    rx_arg_t *a = arg;
    return upl_receive_job(db, &a->f->cfg, &a->rq, a->f->now_ms, &a->ans, err, errlen);
}

/* Send one request; returns the answer's code. */
static int post(fx_t *f, const char *type, const char *token, const char *data, upl_answer_t *ans)
{
    rx_arg_t a = {.f = f,
                  .rq = {.prefix = upl_schema_known("cms", type) ? "cms" : "scyf",
                         .record_type = type, .mine_code = MINE, .token = token, .data = data,
                         .body_len = strlen(token) + strlen(data) + 40}};
    char err[256];
    assert_int_equal(store_write(f->st, rx_job, &a, err, sizeof err), 0);
    if (ans)
        *ans = a.ans;
    if (a.ans.code != 200)
        print_message("answer %d %s: %s\n", a.ans.code, a.ans.field, a.ans.message);
    return a.ans.code;
}

static char *enc(const upl_key_t *k, const char *plain)
{
    char *out, err[128];
    assert_int_equal(upl_encrypt(k, plain, strlen(plain), &out, err, sizeof err), 0);
    return out;
}

static char *token_at(fx_t *f, const upl_key_t *k, const char *mine, int64_t offset_s)
{
    char *t, err[128];
    assert_int_equal(upl_token_make(k, mine, f->now_ms / 1000 + offset_s, &t, err, sizeof err), 0);
    return t;
}

static int count(fx_t *f, const char *sql)
{
    char err[128];
    sqlite3 *db = store_reader_open(f->st, err, sizeof err);
    sqlite3_stmt *s;
    assert_int_equal(store_prepare(db, sql, &s, err, sizeof err), 0);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    store_reader_close(db);
    return n;
}

static int stored(fx_t *f)
{
    return count(f, "SELECT count(*) FROM uplink_received");
}

#define ALARM "{\"id\":\"a1\",\"alarmType\":3,\"level\":2,\"source\":\"model\",\"raisedAt\":\"2026-11-23 19:58:00\",\"detail\":\"产量与用电不符\"}"

static void test_good_record_stored_once_and_acknowledged_twice(void **state)
{
    fx_t *f = *state;
    char *tok = token_at(f, &f->key, MINE, 0), *data = enc(&f->key, ALARM);
    assert_int_equal(post(f, "alarm", tok, data, NULL), 200);
    free(tok);
    /* Same record again a second later (a new token): acknowledged, stored once. */
    tok = token_at(f, &f->key, MINE, 1);
    upl_answer_t a;
    assert_int_equal(post(f, "alarm", tok, data, &a), 200);
    assert_int_equal(a.stored, 0);
    assert_int_equal(stored(f), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM enterprise WHERE last_contact_ms IS NOT NULL"), 1);
    free(tok);
    free(data);
}

static void expect_refused(fx_t *f, const char *type, const char *tok, const char *data, int code,
                           const char *field)
{
    upl_answer_t a;
    assert_int_equal(post(f, type, tok, data, &a), code);
    if (field)
        assert_string_equal(a.field, field);
    assert_int_equal(stored(f), 0);
}

static void test_wrong_key_is_401(void **state)
{
    fx_t *f = *state;
    upl_key_t other;
    assert_int_equal(upl_key_set(&other, "fedcba0987654321", IV, NULL, 0), 0);
    char *tok = token_at(f, &other, MINE, 0), *data = enc(&other, ALARM);
    expect_refused(f, "alarm", tok, data, 401, "token");
    free(tok);
    free(data);
}

static void test_tampered_ciphertext_and_bad_padding_are_400(void **state)
{
    fx_t *f = *state;
    char *tok = token_at(f, &f->key, MINE, 0), *data = enc(&f->key, ALARM);
    /* Flip a bit in the first block: CBC garbles it, the JSON no longer parses. */
    data[3] = data[3] == 'A' ? 'B' : 'A';
    expect_refused(f, "alarm", tok, data, 400, "data");
    free(data);
    /* A last block that does not end in valid PKCS#5 padding. */
    unsigned char raw[32] = {0};
    for (int i = 0; i < 32; i++)
        raw[i] = (unsigned char)(i * 37 + 11);
    data = upl_b64_encode(raw, 32);
    expect_refused(f, "alarm", tok, data, 400, "data");
    free(data);
    expect_refused(f, "alarm", tok, "not base64 at all!", 400, "data");
    free(tok);
}

static void test_token_61_s_old_or_ahead_is_401_60_passes(void **state)
{
    fx_t *f = *state;
    char *data = enc(&f->key, ALARM);
    char *tok = token_at(f, &f->key, MINE, -61);
    expect_refused(f, "alarm", tok, data, 401, "token");
    free(tok);
    tok = token_at(f, &f->key, MINE, 61);
    expect_refused(f, "alarm", tok, data, 401, "token");
    free(tok);
    tok = token_at(f, &f->key, MINE, -60);
    assert_int_equal(post(f, "alarm", tok, data, NULL), 200);
    free(tok);
    free(data);
}

static void test_replayed_request_is_401(void **state)
{
    fx_t *f = *state;
    char *tok = token_at(f, &f->key, MINE, 0), *data = enc(&f->key, ALARM);
    assert_int_equal(post(f, "alarm", tok, data, NULL), 200);
    upl_answer_t a;
    f->now_ms += 5000; /* still within the token's window */
    assert_int_equal(post(f, "alarm", tok, data, &a), 401);
    assert_non_null(strstr(a.message, "already used"));
    assert_int_equal(stored(f), 1);
    free(tok);
    free(data);
}

static void test_unknown_mine_and_token_for_other_mine_are_401(void **state)
{
    fx_t *f = *state;
    char *tok = token_at(f, &f->key, "001001002", 0), *data = enc(&f->key, ALARM);
    /* Token names another mine than the request. */
    expect_refused(f, "alarm", tok, data, 401, "token");
    /* A mine not in the registry. */
    rx_arg_t a = {.f = f, .rq = {.prefix = "cms", .record_type = "alarm", .mine_code = "009009009",
                                 .token = tok, .data = data, .body_len = 100}};
    char err[128];
    assert_int_equal(store_write(f->st, rx_job, &a, err, sizeof err), 0);
    assert_int_equal(a.ans.code, 401);
    assert_string_equal(a.ans.field, "mineCode");
    assert_int_equal(stored(f), 0);
    free(tok);
    free(data);
}

static void test_missing_field_wrong_dictionary_oversized_are_400(void **state)
{
    fx_t *f = *state;
    char *tok = token_at(f, &f->key, MINE, 0);
    char *data = enc(&f->key, "{\"id\":\"a2\",\"alarmType\":3,\"level\":2,\"raisedAt\":\"2026-11-23 19:58:00\",\"detail\":\"x\"}");
    expect_refused(f, "alarm", tok, data, 400, "source");
    free(data);
    data = enc(&f->key, "{\"id\":\"h1\",\"inveDate\":\"2026-11-20\",\"inveType\":\"日常\",\"riskPointId\":\"p1\","
                        "\"hiddenType\":\"25\",\"proType\":\"1\",\"hiddenLevel\":\"2\",\"dutyUnit\":\"综采队\","
                        "\"problemDesc\":\"d\",\"dealType\":\"1\",\"limitDate\":\"2026-11-25\",\"status\":\"1\","
                        "\"modifyDate\":\"2026-11-21\",\"modifyUnit\":\"u\",\"modifyMeasures\":\"m\",\"reviewDate\":"
                        "\"2026-11-22\",\"reviewUnit\":\"u\",\"reviewMeasures\":\"r\"}");
    expect_refused(f, "hideDangerInfo", tok, data, 400, "hiddenType"); /* 表 3-4 has 1..24 */
    free(data);
    char big[5000];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = 0;
    expect_refused(f, "alarm", tok, big, 400, "data");
    free(tok);
}

static void test_batch_all_or_nothing(void **state)
{
    fx_t *f = *state;
    char *tok = token_at(f, &f->key, MINE, 0);
    char *data = enc(&f->key, "[" ALARM ",{\"id\":\"a3\",\"alarmType\":99,\"level\":1,\"source\":\"s\","
                              "\"raisedAt\":\"2026-11-23 19:00:00\",\"detail\":\"d\"}]");
    expect_refused(f, "alarm", tok, data, 400, "data[1].alarmType");
    free(data);
    data = enc(&f->key, "[" ALARM ",{\"id\":\"a3\",\"alarmType\":9,\"level\":1,\"source\":\"s\","
                        "\"raisedAt\":\"2026-11-23 19:00:00\",\"detail\":\"d\"}]");
    upl_answer_t a;
    assert_int_equal(post(f, "alarm", tok, data, &a), 200);
    assert_int_equal(a.stored, 2);
    assert_int_equal(stored(f), 2);
    free(data);
    free(tok);
}

static void test_form_body_with_unescaped_plus_and_line_breaks(void **state)
{
    fx_t *f = *state;
    char *tok = token_at(f, &f->key, MINE, 0), *data = enc(&f->key, ALARM);
    /* A careless form encoder: '+' left as is (read back as ' ' by a decoder) and
     * Base64 broken into lines as Java's MIME encoder does. */
    char body[2048];
    snprintf(body, sizeof body, "mineCode=%s&token=%s&data=", MINE, tok);
    size_t n = strlen(body);
    for (const char *p = data; *p; p++) {
        if ((p - data) % 20 == 19)
            n += (size_t)snprintf(body + n, sizeof body - n, "%%0D%%0A");
        body[n++] = *p;
    }
    body[n] = 0;
    char *owned, field[32], err[128];
    const char *m, *t, *d;
    assert_int_equal(upl_parse_body("application/x-www-form-urlencoded", body, n, &owned, &m, &t, &d,
                                    field, sizeof field, err, sizeof err), 0);
    assert_string_equal(m, MINE);
    assert_string_equal(t, tok);
    assert_int_equal(post(f, "alarm", t, d, NULL), 200);
    free(owned);
    /* JSON body missing data: 400 naming it. */
    assert_int_equal(upl_parse_body("application/json", "{\"mineCode\":\"1\",\"token\":\"x\"}", 30,
                                    &owned, &m, &t, &d, field, sizeof field, err, sizeof err),
                     CM_ERR_INVALID);
    assert_string_equal(field, "data");
    free(owned);
    free(tok);
    free(data);
}

static void test_forwarding_keeps_content_and_origin(void **state)
{
    fx_t *f = *state;
    snprintf(f->cfg.forward_to, sizeof f->cfg.forward_to, "city");
    put_arg_t p = {"140100000", "0123456789abcdef", IV, "platform"};
    char err[128];
    assert_int_equal(store_write(f->st, put_job, &p, err, sizeof err), 0);
    /* A county platform forwarding a mine's record: stored under the mine, and
     * queued upward with the body unchanged. */
    upl_key_t ck;
    assert_int_equal(upl_key_set(&ck, "0123456789abcdef", IV, NULL, 0), 0);
    char *tok = token_at(f, &ck, "140100000", 0), *data = enc(&ck, ALARM);
    rx_arg_t a = {.f = f, .rq = {.prefix = "cms", .record_type = "alarm", .mine_code = "140100000",
                                 .token = tok, .data = data, .origin = MINE, .body_len = 100}};
    assert_int_equal(store_write(f->st, rx_job, &a, err, sizeof err), 0);
    assert_int_equal(a.ans.code, 200);
    assert_int_equal(count(f, "SELECT count(*) FROM uplink_received WHERE ent = '001001001' AND via = '140100000'"), 1);
    cJSON *orig = cJSON_Parse(ALARM);
    char *canon = cJSON_PrintUnformatted(orig);
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM outbox_record WHERE origin = '001001001' AND body = '%s'", canon);
    assert_int_equal(count(f, sql), 1);
    cJSON_free(canon);
    cJSON_Delete(orig);
    free(tok);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_record_stored_once_and_acknowledged_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_is_401, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_ciphertext_and_bad_padding_are_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_61_s_old_or_ahead_is_401_60_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replayed_request_is_401, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_mine_and_token_for_other_mine_are_401, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_field_wrong_dictionary_oversized_are_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_body_with_unescaped_plus_and_line_breaks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwarding_keeps_content_and_origin, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
