/* UPL-1, UPL-2: AES/CBC/PKCS5, Base64, token and record validation (uplink.md §1, §3, §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "uplink/uplink.h"

static upl_key_t key128(void)
{
    upl_key_t k;
    assert_int_equal(upl_key_set(&k, "1234567890abcdef", "abcdef1234567890", NULL, 0), 0);
    return k;
}

/* Known answers computed with `openssl enc -aes-128-cbc/-aes-256-cbc -base64 -A`. */
static void test_known_answer_matches_openssl_cli(void **state)
{
    upl_key_t k = key128();
    char *tok = NULL, err[128];
    int64_t t = tm_bj_to_epoch(2026, 11, 23, 20, 0, 0);
    assert_int_equal(upl_token_make(&k, "001001001", t, &tok, err, sizeof err), 0);
    assert_string_equal(tok, "rxblsOJDMG/f478xFe0hy1WZfjZ6xYbMDXWK1NpFjTKM5CDCN6z09sYtdpb5QCFs");
    free(tok);
    upl_key_t k256;
    assert_int_equal(upl_key_set(&k256, "0123456789abcdef0123456789abcdef", "abcdef1234567890",
                                 NULL, 0), 0);
    char *plain;
    size_t len;
    assert_int_equal(upl_decrypt(&k256, "ejtToH794CD9jv+34nOzauU+MxVfGE86uSl/q939cEc=", 44, &plain,
                                 &len, err, sizeof err), 0);
    assert_string_equal(plain, "{\"id\":\"1\",\"name\":\"测试\"}");
    free(plain);
}

static void test_roundtrip_every_key_size_and_length(void **state)
{
    static const char *const keys[] = {"0123456789abcdef", "0123456789abcdef01234567",
                                       "0123456789abcdef0123456789abcdef"};
    char buf[100], err[128];
    for (int ki = 0; ki < 3; ki++) {
        upl_key_t k;
        assert_int_equal(upl_key_set(&k, keys[ki], "fedcba9876543210", err, sizeof err), 0);
        for (size_t n = 0; n < sizeof buf; n++) {
            for (size_t i = 0; i < n; i++)
                buf[i] = (char)('a' + (i * 7 + n) % 26);
            char *ct, *pt;
            size_t len;
            assert_int_equal(upl_encrypt(&k, buf, n, &ct, err, sizeof err), 0);
            assert_int_equal(strlen(ct) % 4, 0);
            assert_int_equal(upl_decrypt(&k, ct, strlen(ct), &pt, &len, err, sizeof err), 0);
            assert_int_equal(len, n);
            assert_memory_equal(pt, buf, n);
            free(ct);
            free(pt);
        }
    }
}

static void test_bad_key_and_iv_lengths_are_refused(void **state)
{
    upl_key_t k;
    char err[128];
    assert_int_equal(upl_key_set(&k, "short", "abcdef1234567890", err, sizeof err), CM_ERR_INVALID);
    assert_non_null(strstr(err, "key"));
    assert_int_equal(upl_key_set(&k, "1234567890abcdef", "shortiv", err, sizeof err), CM_ERR_INVALID);
    assert_non_null(strstr(err, "iv"));
}

static void test_base64_decoder_is_liberal(void **state)
{
    /* Line breaks every 76 characters (Java MIME), spaces, missing padding. */
    const char *text = "aGVsbG8g\r\nd29y bGQ=";
    unsigned char *out;
    size_t n;
    char err[64];
    assert_int_equal(upl_b64_decode(text, strlen(text), &out, &n, err, sizeof err), 0);
    assert_int_equal(n, 11);
    assert_memory_equal(out, "hello world", 11);
    free(out);
    assert_int_equal(upl_b64_decode("aGk", 3, &out, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    free(out);
    assert_int_equal(upl_b64_decode("a*bc", 4, &out, &n, err, sizeof err), CM_ERR_INVALID);
    char *enc = upl_b64_encode((const unsigned char *)"\xfb\xff", 2);
    assert_string_equal(enc, "+/8=");
    free(enc);
}

static void test_wrong_key_tampered_and_bad_padding_fail(void **state)
{
    upl_key_t k = key128(), other;
    assert_int_equal(upl_key_set(&other, "1234567890abcdeX", "abcdef1234567890", NULL, 0), 0);
    char *ct, *pt = NULL, err[128];
    size_t len;
    const char *msg = "{\"id\":\"42\",\"tons\":12.5}";
    assert_int_equal(upl_encrypt(&k, msg, strlen(msg), &ct, err, sizeof err), 0);
    int rc = upl_decrypt(&other, ct, strlen(ct), &pt, &len, err, sizeof err);
    /* A wrong key fails on padding almost always; when padding happens to pass, the text is garbage. */
    assert_true(rc == CM_ERR_CRYPTO || (rc == 0 && strcmp(pt, msg)));
    free(pt);
    pt = NULL;
    /* Not a whole block. */
    assert_int_equal(upl_decrypt(&k, "AAAA", 4, &pt, &len, err, sizeof err), CM_ERR_INVALID);
    /* A block of zeros decrypts to bytes whose padding is wrong. */
    unsigned char zeros[16] = {0};
    char *z = upl_b64_encode(zeros, 16);
    rc = upl_decrypt(&k, z, strlen(z), &pt, &len, err, sizeof err);
    assert_true(rc == CM_ERR_CRYPTO || (rc == 0 && len < 16));
    free(pt);
    free(z);
    free(ct);
}

static void test_token_window_and_mine(void **state)
{
    upl_key_t k = key128();
    char *tok, err[128];
    int64_t now = tm_bj_to_epoch(2026, 11, 23, 20, 0, 0), t;
    assert_int_equal(upl_token_make(&k, "001001001", now - 60, &tok, err, sizeof err), 0);
    assert_int_equal(upl_token_check(&k, tok, "001001001", now, 60, &t, err, sizeof err), 0);
    assert_int_equal(t, now - 60);
    assert_int_equal(upl_token_check(&k, tok, "001001002", now, 60, &t, err, sizeof err), CM_ERR_AUTH);
    assert_int_equal(upl_token_check(&k, tok, "001001001", now + 1, 60, &t, err, sizeof err),
                     CM_ERR_AUTH); /* 61 s old */
    assert_non_null(strstr(err, "61"));
    free(tok);
    assert_int_equal(upl_token_make(&k, "001001001", now + 61, &tok, err, sizeof err), 0);
    assert_int_equal(upl_token_check(&k, tok, "001001001", now, 60, &t, err, sizeof err), CM_ERR_AUTH);
    free(tok);
}

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    return j;
}

static void expect_invalid(const char *prefix, const char *type, const char *json, const char *field)
{
    char f[64], err[200];
    cJSON *j = parse(json);
    assert_int_equal(upl_validate(prefix, type, j, f, sizeof f, err, sizeof err), CM_ERR_INVALID);
    assert_string_equal(f, field);
    cJSON_Delete(j);
}

static void expect_valid(const char *prefix, const char *type, const char *json)
{
    char f[64], err[200] = "";
    cJSON *j = parse(json);
    int rc = upl_validate(prefix, type, j, f, sizeof f, err, sizeof err);
    if (rc)
        fail_msg("%s/%s: %s", prefix, type, err);
    cJSON_Delete(j);
}

#define PG "\"id\":\"g1-1\",\"gateId\":\"gate-total\",\"startTime\":\"2026-11-23 08:00:00\",\"endTime\":\"2026-11-23 08:15:00\",\"kwh\":120.5"

static void test_cms_records_validate(void **state)
{
    expect_valid("cms", "powerGate", "{" PG ",\"gateType\":1,\"pAvg\":480}");
    expect_invalid("cms", "powerGate", "{" PG "}", "gateType");
    expect_invalid("cms", "powerGate", "{" PG ",\"gateType\":4}", "gateType");
    expect_invalid("cms", "powerGate", "{" PG ",\"gateType\":\"1\"}", "gateType");
    expect_invalid("cms", "powerGate",
                   "{\"id\":\"x\",\"gateId\":\"g\",\"gateType\":1,\"startTime\":\"2026-11-23 08:15:00\","
                   "\"endTime\":\"2026-11-23 08:00:00\",\"kwh\":1}", "endTime");
    expect_invalid("cms", "coalOutput",
                   "{\"id\":\"c\",\"stationId\":\"s\",\"startTime\":\"2026-11-23 08:00\","
                   "\"endTime\":\"2026-11-23 08:15:00\",\"tons\":3}", "startTime");
    expect_invalid("cms", "alarm",
                   "{\"id\":\"a\",\"alarmType\":11,\"level\":2,\"source\":\"x\",\"raisedAt\":"
                   "\"2026-11-23 08:00:00\",\"detail\":\"d\"}", "alarmType");
    expect_invalid("cms", "weighTicket",
                   "{\"id\":\"t\",\"plate\":\"晋A12345\",\"material\":\"原煤\",\"tareTime\":\"2026-11-23 08:00:00\","
                   "\"grossTime\":\"2026-11-23 08:10:00\",\"gross\":50,\"tare\":15,\"net\":35,\"direction\":\"sideways\"}",
                   "direction");
    expect_invalid("cms", "deviceStatus", "{\"deviceId\":\"d\"}", "id");
}

static void test_scyf_tables_and_dictionaries(void **state)
{
    /* 16 types from the seed's §5.2, spelled as its URLs give them. */
    const char *types = upl_schema_types("scyf");
    int n = 1;
    for (const char *p = types; *p; p++)
        n += *p == ',';
    assert_int_equal(n, 16);
    assert_true(upl_schema_known("scyf", "hideDangerInfo"));
    assert_true(upl_schema_known("scyf", "trainInfo"));
    assert_false(upl_schema_known("scyf", "powerGate"));
    /* The seed's own example for riskInfo (表 2-5). */
    expect_valid("scyf", "riskInfo",
                 "{\"id\":\"1\",\"riskIdentTaskId\":\"1\",\"riskPointId\":\"1\",\"object\":\"瓦斯\","
                 "\"checkProject\":\"上隅角\",\"riskDesc\":\"上隅角存在瓦斯浓度超限导致瓦斯爆炸的风险\","
                 "\"riskType\":\"5\",\"riskLevel\":\"1\"}");
    /* riskLevel dictionary (表 3-3) has 1..4. */
    expect_invalid("scyf", "riskInfo",
                   "{\"id\":\"1\",\"riskPointId\":\"1\",\"object\":\"瓦斯\",\"checkProject\":\"x\","
                   "\"riskDesc\":\"x\",\"riskType\":\"5\",\"riskLevel\":\"5\"}", "riskLevel");
    /* name of riskMapInfo is at most 50 characters (Chinese characters count one each). */
    char big[400] = "{\"id\":\"1\",\"url\":\"http://x\",\"name\":\"";
    for (int i = 0; i < 51; i++)
        strcat(big, "煤");
    strcat(big, "\"}");
    expect_invalid("scyf", "riskMapInfo", big, "name");
    /* 表 2-13 spells its id "Id". */
    expect_valid("scyf", "quarterAnalysisReportInfo",
                 "{\"Id\":\"q1\",\"upDate\":\"2026-10-01\",\"reportName\":\"三季度\",\"fileName\":\"q3.doc\"}");
    expect_invalid("scyf", "threeVio",
                   "{\"id\":\"v\",\"vioDate\":\"2026-02-30\",\"vioAddress\":\"a\",\"vioUnit\":\"u\","
                   "\"vioPeople\":\"p\",\"vioCategory\":\"1\",\"vioLevel\":\"1\",\"findUnit\":\"f\","
                   "\"vioDesc\":\"d\",\"vioResult\":\"r\"}", "vioDate");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer_matches_openssl_cli),
        cmocka_unit_test(test_roundtrip_every_key_size_and_length),
        cmocka_unit_test(test_bad_key_and_iv_lengths_are_refused),
        cmocka_unit_test(test_base64_decoder_is_liberal),
        cmocka_unit_test(test_wrong_key_tampered_and_bad_padding_fail),
        cmocka_unit_test(test_token_window_and_mine),
        cmocka_unit_test(test_cms_records_validate),
        cmocka_unit_test(test_scyf_tables_and_dictionaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
