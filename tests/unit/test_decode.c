/* Register decoding for every type and byte order, maps and request planning (issue #3). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/collector.h"

static col_order_t order(const char *s, col_type t)
{
    col_order_t o;
    assert_int_equal(col_order_parse(s, t, &o), 0);
    return o;
}

static double decode(const uint16_t *r, col_type t, const char *o)
{
    double v = NAN;
    assert_int_equal(col_decode(r, t, order(o, t), 1.0, 0.0, &v), 0);
    return v;
}

/* Known wire images, written out by hand from the byte letters. */
static void sixteen_bit_types(void **state)
{
    uint16_t be[] = {0xFF38}; /* -200 as i16, 65336 as u16 */
    uint16_t sw[] = {0x38FF};
    assert_true(decode(be, COL_U16, "AB") == 65336);
    assert_true(decode(be, COL_I16, "AB") == -200);
    assert_true(decode(sw, COL_I16, "BA") == -200);
    assert_true(decode(sw, COL_U16, "BA") == 65336);
}

static void thirty_two_bit_integers_in_four_orders(void **state)
{
    /* 0x12345678 = 305419896; bytes A=12 B=34 C=56 D=78 */
    uint16_t abcd[] = {0x1234, 0x5678}, cdab[] = {0x5678, 0x1234};
    uint16_t badc[] = {0x3412, 0x7856}, dcba[] = {0x7856, 0x3412};
    assert_true(decode(abcd, COL_U32, "ABCD") == 305419896.0);
    assert_true(decode(cdab, COL_U32, "CDAB") == 305419896.0);
    assert_true(decode(badc, COL_U32, "BADC") == 305419896.0);
    assert_true(decode(dcba, COL_U32, "DCBA") == 305419896.0);
    /* -2 as i32: FFFFFFFE */
    uint16_t neg[] = {0xFFFF, 0xFFFE}, neg_cdab[] = {0xFFFE, 0xFFFF};
    assert_true(decode(neg, COL_I32, "ABCD") == -2.0);
    assert_true(decode(neg_cdab, COL_I32, "CDAB") == -2.0);
    assert_true(decode(neg, COL_U32, "ABCD") == 4294967294.0);
}

static void float32_in_four_orders(void **state)
{
    /* 230.5f = 0x43668000 */
    uint16_t abcd[] = {0x4366, 0x8000}, cdab[] = {0x8000, 0x4366};
    uint16_t badc[] = {0x6643, 0x0080}, dcba[] = {0x0080, 0x6643};
    assert_true(decode(abcd, COL_F32, "ABCD") == 230.5);
    assert_true(decode(cdab, COL_F32, "CDAB") == 230.5);
    assert_true(decode(badc, COL_F32, "BADC") == 230.5);
    assert_true(decode(dcba, COL_F32, "DCBA") == 230.5);
}

static void float64_in_four_orders(void **state)
{
    /* 123456.789 = 0x40FE240C9FBE76C9 */
    uint16_t be[] = {0x40FE, 0x240C, 0x9FBE, 0x76C9};
    uint16_t ws[] = {0x76C9, 0x9FBE, 0x240C, 0x40FE};
    uint16_t bs[] = {0xFE40, 0x0C24, 0xBE9F, 0xC976};
    uint16_t le[] = {0xC976, 0xBE9F, 0x0C24, 0xFE40};
    assert_true(decode(be, COL_F64, "ABCDEFGH") == 123456.789);
    assert_true(decode(ws, COL_F64, "GHEFCDAB") == 123456.789);
    assert_true(decode(bs, COL_F64, "BADCFEHG") == 123456.789);
    assert_true(decode(le, COL_F64, "HGFEDCBA") == 123456.789);
}

static void scale_and_offset_apply_after_decoding(void **state)
{
    uint16_t r[] = {0x0929}; /* 2345 */
    double v;
    assert_int_equal(col_decode(r, COL_U16, order("AB", COL_U16), 0.1, -4.5, &v), 0);
    assert_float_equal(v, 230.0, 1e-9);
}

static void nan_and_infinity_are_rejected(void **state)
{
    uint16_t nan_regs[] = {0x7FC0, 0x0000}, inf_regs[] = {0x7F80, 0x0000};
    double v;
    assert_int_equal(col_decode(nan_regs, COL_F32, order("ABCD", COL_F32), 1, 0, &v), CM_ERR_PROTOCOL);
    assert_int_equal(col_decode(inf_regs, COL_F32, order("ABCD", COL_F32), 1, 0, &v), CM_ERR_PROTOCOL);
}

static void encode_is_the_inverse_for_every_type_and_order(void **state)
{
    static const struct { col_type t; const char *orders[4]; double value; } cases[] = {
        {COL_U16, {"AB", "BA", "AB", "BA"}, 54321},
        {COL_I16, {"AB", "BA", "AB", "BA"}, -12345},
        {COL_U32, {"ABCD", "CDAB", "BADC", "DCBA"}, 4000000000.0},
        {COL_I32, {"ABCD", "CDAB", "BADC", "DCBA"}, -2000000000.0},
        {COL_F32, {"ABCD", "CDAB", "BADC", "DCBA"}, -1.5e-3},
        {COL_F64, {"ABCDEFGH", "GHEFCDAB", "BADCFEHG", "HGFEDCBA"}, 9.87654321e12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int k = 0; k < 4; k++) {
            uint16_t regs[4] = {0};
            col_order_t o = order(cases[i].orders[k], cases[i].t);
            col_encode(cases[i].value, cases[i].t, o, regs);
            double v;
            assert_int_equal(col_decode(regs, cases[i].t, o, 1, 0, &v), 0);
            if (cases[i].t == COL_F32)
                assert_float_equal(v, cases[i].value, 1e-9);
            else
                assert_true(v == cases[i].value);
        }
}

static void orders_that_do_not_fit_the_type_are_refused(void **state)
{
    col_order_t o;
    assert_int_equal(col_order_parse("ABCD", COL_U16, &o), CM_ERR_INVALID);
    assert_int_equal(col_order_parse("AB", COL_F32, &o), CM_ERR_INVALID);
    assert_int_equal(col_order_parse("ABCD", COL_F64, &o), CM_ERR_INVALID);
    assert_int_equal(col_order_parse("ACBD", COL_U32, &o), CM_ERR_INVALID);
    col_type t;
    assert_int_equal(col_type_parse("float16", &t), CM_ERR_INVALID);
}

static void dtsu666_map_loads_and_plans_into_few_requests(void **state)
{
    col_map_t map;
    char err[512];
    int rc = col_map_load_model(COALMON_CONF_DIR "/meters", "chint-dtsu666", &map, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_true(map.count >= 17);
    int order_idx[COL_MAX_POINTS];
    col_request_t req[COL_MAX_POINTS];
    int n = col_plan(&map, map.max_registers, false, order_idx, req);
    /* Every point is covered once, and no two neighbouring requests could have been one:
     * between them lies a gap, a change of function, or the register limit. */
    int covered = 0;
    for (int i = 0; i < n; i++) {
        assert_true(req[i].count <= map.max_registers);
        covered += req[i].n;
        if (i > 0 && req[i].fn == req[i - 1].fn) {
            int prev_end = req[i - 1].start + req[i - 1].count;
            bool gap = req[i].start > prev_end + map.max_gap;
            bool too_long = req[i].start + req[i].count - req[i - 1].start > map.max_registers;
            assert_true(gap || too_long);
        }
    }
    assert_int_equal(covered, map.count);
    assert_int_equal(req[0].start, 0x2000);
    assert_true(n < map.count);
    assert_int_equal(col_plan(&map, map.max_registers, true, order_idx, req), map.count);
}

static void plan_splits_at_the_register_limit_and_at_gaps(void **state)
{
    col_map_t map = {.max_registers = 125, .max_gap = 0};
    /* 70 contiguous float32 values = 140 registers: two requests at a limit of 125. */
    for (int i = 0; i < 70; i++) {
        col_point_t *p = &map.points[map.count++];
        snprintf(p->name, sizeof p->name, "p%d", i);
        p->address = (uint16_t)(100 + 2 * i);
        p->type = COL_F32;
        p->fn = COL_FN_HOLDING;
        p->scale = 1;
    }
    /* one input register far away */
    col_point_t *q = &map.points[map.count++];
    snprintf(q->name, sizeof q->name, "in");
    q->address = 100;
    q->type = COL_U16;
    q->fn = COL_FN_INPUT;
    int order_idx[COL_MAX_POINTS];
    col_request_t req[COL_MAX_POINTS];
    int n = col_plan(&map, 125, false, order_idx, req);
    assert_int_equal(n, 3);
    assert_int_equal(req[0].count, 124); /* 62 floats; the 63rd would make 126 */
    assert_int_equal(req[1].start, 100 + 124);
    assert_int_equal(req[1].count, 16);
    assert_int_equal(req[2].fn, COL_FN_INPUT);
}

static void unknown_model_lists_known_ones(void **state)
{
    col_map_t map;
    char err[512];
    assert_int_equal(col_map_load_model(COALMON_CONF_DIR "/meters", "no-such-meter", &map, err, sizeof err),
                     CM_ERR_NOTFOUND);
    assert_non_null(strstr(err, "unknown meter model 'no-such-meter'"));
    assert_non_null(strstr(err, "chint-dtsu666"));
    assert_int_equal(col_map_load_model(COALMON_CONF_DIR "/meters", "../etc/passwd", &map, err, sizeof err),
                     CM_ERR_INVALID);
}

static void bad_map_names_the_point(void **state)
{
    char path[] = "/tmp/coalmon-map-XXXXXX.json";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    const char *text = "{ \"model\": \"x\",\n \"points\": [\n"
                       "  {\"name\": \"a\", \"address\": 1, \"type\": \"u16\"},\n"
                       "  {\"name\": \"b\", \"address\": \"0x10\", \"type\": \"float32\", \"order\": \"AB\"}\n ]}\n";
    assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    col_map_t map;
    char err[512];
    assert_int_equal(col_map_load(path, &map, err, sizeof err), CM_ERR_CONFIG);
    assert_non_null(strstr(err, ":4: points[1].order: byte order 'AB' does not fit type float32"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sixteen_bit_types),
        cmocka_unit_test(thirty_two_bit_integers_in_four_orders),
        cmocka_unit_test(float32_in_four_orders),
        cmocka_unit_test(float64_in_four_orders),
        cmocka_unit_test(scale_and_offset_apply_after_decoding),
        cmocka_unit_test(nan_and_infinity_are_rejected),
        cmocka_unit_test(encode_is_the_inverse_for_every_type_and_order),
        cmocka_unit_test(orders_that_do_not_fit_the_type_are_refused),
        cmocka_unit_test(dtsu666_map_loads_and_plans_into_few_requests),
        cmocka_unit_test(plan_splits_at_the_register_limit_and_at_gaps),
        cmocka_unit_test(unknown_model_lists_known_ones),
        cmocka_unit_test(bad_map_names_the_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
