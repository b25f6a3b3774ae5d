/* Plates (issue #9, ACQ-6, ESC-1): normalising, the format rules, and how
 * sure a match of two recognised plates is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "intake/intake.h"

static void test_normalize_drops_separators_and_uppercases(void **state)
{
    char out[40];
    assert_int_equal(intake_plate_normalize(" 晋a·12345 ", out, sizeof out), CM_OK);
    assert_string_equal(out, "晋A12345");
    assert_int_equal(intake_plate_normalize("晋K-1234挂", out, sizeof out), CM_OK);
    assert_string_equal(out, "晋K1234挂");
    assert_int_equal(intake_plate_normalize("晋A12345678901234567890123456789", out, 16), CM_ERR_INVALID);
}

static void test_valid_plates(void **state)
{
    const char *ok[] = {"晋A12345", "晋KA2B34", "陕H9Z9Z9", "晋K1234挂", "晋AD12345", "晋A12345D",
                        "蒙AF0001", "京A12345"};
    char why[200];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (intake_plate_check(ok[i], why, sizeof why))
            fail_msg("%s rejected: %s", ok[i], why);
}

static void test_invalid_plates_say_why(void **state)
{
    const struct {
        const char *plate, *why;
    } bad[] = {
        {"AA12345", "province"},       /* no province character */
        {"晋112345", "issuing letter"}, /* a digit where the letter goes */
        {"晋A1234", "7 (8"},            /* too short */
        {"晋A123456789", "7 (8"},       /* too long */
        {"晋AI2345", "character 3"},    /* I is never issued */
        {"晋AO2345", "character 3"},    /* nor O */
        {"晋A12345挂", "trailer"},       /* a trailer plate has 4 + 挂 */
        {"晋A123挂4", "character 6"},    /* 挂 only at the end */
        {"晋AX12345", "new-energy"},    /* 8 characters without D/F */
        {"晋A12#45", "character 5"},
    };
    char why[200];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (intake_plate_check(bad[i].plate, why, sizeof why) != CM_ERR_INVALID)
            fail_msg("%s accepted", bad[i].plate);
        if (!strstr(why, bad[i].why))
            fail_msg("%s: '%s' does not mention '%s'", bad[i].plate, why, bad[i].why);
    }
}

static void test_similarity_exact_confusable_wrong_missing(void **state)
{
    assert_true(intake_plate_similarity("晋A12345", "晋A12345") == 1.0);
    /* Confusable glyphs cost a quarter of an edit each. */
    double c1 = intake_plate_similarity("晋A12345", "晋A1Z345"); /* 2/Z */
    double c2 = intake_plate_similarity("晋AB0345", "晋A8D345"); /* 8/B and 0/D */
    assert_true(c1 > 0.94 && c1 < 0.96);
    assert_true(c2 > 0.89 && c2 < 0.91);
    /* One wrong or one missing character: still a match at the default 0.75. */
    double wrong = intake_plate_similarity("晋A12345", "晋A12745");
    double missing = intake_plate_similarity("晋A12345", "晋A1245");
    assert_true(wrong > 0.79 && wrong < 0.81);
    assert_true(missing > 0.79 && missing < 0.81);
    /* Two plain errors, or another truck: not a match. */
    assert_true(intake_plate_similarity("晋A12345", "晋A17745") < 0.75);
    assert_true(intake_plate_similarity("晋A12345", "陕K98761") < 0.2);
    /* A wrong province character is one edit like any other. */
    double prov = intake_plate_similarity("晋A12345", "冀A12345");
    assert_true(prov > 0.79 && prov < 0.81);
    assert_true(intake_plate_similarity("", "晋A12345") == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_drops_separators_and_uppercases),
        cmocka_unit_test(test_valid_plates),
        cmocka_unit_test(test_invalid_plates_say_why),
        cmocka_unit_test(test_similarity_exact_confusable_wrong_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
