/* Intake configuration and API keys (issue #9): the example file loads,
 * errors name the key, keys are checked by hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "intake/intake.h"

static void test_example_configuration_loads(void **state)
{
    char err[512];
    cfg_t *cfg = cfg_load(COALMON_CONF_DIR "/coalmond.json", err, sizeof err);
    if (!cfg)
        fail_msg("%s", err);
    intake_conf_t c;
    if (intake_conf_from_cfg(cfg, &c, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(c.n_bridges, 1);
    assert_string_equal(c.bridges[0].id, "WB1");
    assert_true(c.bridges[0].max_t == 100);
    assert_int_equal(c.n_keys, 1);
    assert_int_equal(c.decide_after_s, 60);
    assert_int_equal(c.plan.count, 3);
    cfg_free(cfg);
}

static void expect_error(const char *text, const char *needle)
{
    char err[512];
    cfg_t *cfg = cfg_parse("t.json", text, err, sizeof err);
    assert_non_null(cfg);
    intake_conf_t c;
    assert_int_not_equal(intake_conf_from_cfg(cfg, &c, err, sizeof err), CM_OK);
    if (!strstr(err, needle))
        fail_msg("'%s' does not name '%s'", err, needle);
    cfg_free(cfg);
}

static void test_errors_name_the_key(void **state)
{
    expect_error("{\"intake\": {\"matching\": {\"min_confidence\": 2}}}", "intake.matching.min_confidence");
    expect_error("{\"intake\": {\"net_tolerance_t\": \"a\"}}", "net_tolerance_t");
    expect_error("{\"intake\": {\"min_t\": 50, \"max_t\": 40}}", "max_t");
    expect_error("{\"intake\": {\"weighbridges\": [{\"min_t\": 1}]}}", "id");
    expect_error("{\"intake\": {\"api_keys\": [{\"name\": \"x\", \"sha256\": \"abc\"}]}}", "sha256");
}

static void test_keys_checked_by_hash(void **state)
{
    char err[512], name[64], hex[65];
    cfg_t *cfg = cfg_parse("t.json", "{\"intake\": {\"api_keys\": [{\"name\": \"wb\", \"key\": \"s3cret\"}]}}",
                           err, sizeof err);
    intake_conf_t c;
    assert_int_equal(intake_conf_from_cfg(cfg, &c, err, sizeof err), CM_OK);
    intake_key_hash("s3cret", hex);
    assert_string_equal(c.keys[0].sha256_hex, hex); /* only the hash is kept */
    assert_int_equal(intake_key_check(NULL, &c, "s3cret", name, sizeof name), CM_OK);
    assert_string_equal(name, "wb");
    assert_int_equal(intake_key_check(NULL, &c, "s3cres", name, sizeof name), CM_ERR_AUTH);
    assert_int_equal(intake_key_check(NULL, &c, "", name, sizeof name), CM_ERR_AUTH);
    assert_int_equal(intake_key_check(NULL, &c, NULL, name, sizeof name), CM_ERR_AUTH);
    cfg_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_configuration_loads),
        cmocka_unit_test(test_errors_name_the_key),
        cmocka_unit_test(test_keys_checked_by_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
