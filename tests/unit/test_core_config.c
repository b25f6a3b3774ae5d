/* core configuration: comments, typed getters, errors with file, line, key (issue #3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static const char *const sample =
    "// a comment line\n"
    "{\n"
    "  \"http\": { \"port\": 8080, /* inline */ \"host\": \"127.0.0.1\" },\n"
    "  \"url\": \"http://example/*not a comment*/x//y\",\n"
    "  \"collector\": {\n"
    "    \"devices\": [\n"
    "      { \"name\": \"a\", \"port\": 502 },\n"
    "      { \"name\": \"b\",\n"
    "        \"port\": \"five hundred\" }\n"
    "    ]\n"
    "  },\n"
    "  \"ratio\": 0.92, \"on\": true\n"
    "}\n";

static void comments_are_stripped_but_strings_kept(void **state)
{
    char err[256];
    cfg_t *c = cfg_parse("sample.json", sample, err, sizeof err);
    assert_non_null(c);
    cfg_sec_t root = cfg_root(c), http;
    char url[128];
    assert_int_equal(cfg_get_string(&root, "url", true, NULL, url, sizeof url, err, sizeof err), 0);
    assert_string_equal(url, "http://example/*not a comment*/x//y");
    assert_int_equal(cfg_section(&root, "http", &http, err, sizeof err), 0);
    int port;
    assert_int_equal(cfg_get_int(&http, "port", true, 0, 1, 65535, &port, err, sizeof err), 0);
    assert_int_equal(port, 8080);
    double ratio;
    bool on;
    assert_int_equal(cfg_get_double(&root, "ratio", true, 0, 0, 1, &ratio, err, sizeof err), 0);
    assert_true(ratio > 0.919 && ratio < 0.921);
    assert_int_equal(cfg_get_bool(&root, "on", true, false, &on, err, sizeof err), 0);
    assert_true(on);
    cfg_free(c);
}

static void wrong_type_names_file_line_and_key(void **state)
{
    char err[256];
    cfg_t *c = cfg_parse("conf/site.json", sample, err, sizeof err);
    assert_non_null(c);
    cfg_sec_t root = cfg_root(c), col, dev;
    assert_int_equal(cfg_section(&root, "collector", &col, err, sizeof err), 0);
    assert_int_equal(cfg_array_item(&col, "devices", 1, &dev, err, sizeof err), 0);
    int port;
    int rc = cfg_get_int(&dev, "port", true, 0, 1, 65535, &port, err, sizeof err);
    assert_int_equal(rc, CM_ERR_CONFIG);
    assert_string_equal(err,
                        "conf/site.json:9: collector.devices[1].port: expected an integer in 1..65535");
    cfg_free(c);
}

static void missing_required_key_is_reported_at_its_object(void **state)
{
    char err[256], name[32];
    cfg_t *c = cfg_parse("x.json", sample, err, sizeof err);
    cfg_sec_t root = cfg_root(c), http;
    cfg_section(&root, "http", &http, err, sizeof err);
    assert_int_equal(cfg_get_string(&http, "model", true, NULL, name, sizeof name, err, sizeof err),
                     CM_ERR_CONFIG);
    assert_non_null(strstr(err, "http.model: required key is missing"));
    /* optional keys fall back to the default */
    assert_int_equal(cfg_get_string(&http, "model", false, "dflt", name, sizeof name, err, sizeof err), 0);
    assert_string_equal(name, "dflt");
    cfg_free(c);
}

static void syntax_error_names_the_line(void **state)
{
    char err[256];
    cfg_t *c = cfg_parse("bad.json", "{\n  \"a\": 1,\n  \"b\": ,\n}\n", err, sizeof err);
    assert_null(c);
    assert_non_null(strstr(err, "bad.json:3: JSON syntax error"));
}

static void unterminated_comment_is_an_error(void **state)
{
    char err[256];
    assert_null(cfg_parse("c.json", "{ /* never closed \n }", err, sizeof err));
    assert_non_null(strstr(err, "unterminated"));
}

static void missing_file_is_an_io_error(void **state)
{
    char err[256];
    assert_null(cfg_load("/nonexistent/coalmond.json", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/coalmond.json: cannot open"));
}

static void top_level_must_be_an_object(void **state)
{
    char err[256];
    assert_null(cfg_parse("arr.json", "[1, 2]", err, sizeof err));
    assert_non_null(strstr(err, "top level must be an object"));
}

static void example_configuration_is_valid(void **state)
{
    char err[512];
    cfg_t *c = cfg_load(COALMON_CONF_DIR "/coalmond.json", err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    tm_shift_plan_t plan;
    cfg_sec_t root = cfg_root(c);
    assert_int_equal(tm_shift_plan_from_cfg(&root, "shifts", &plan, err, sizeof err), 0);
    assert_int_equal(plan.count, 3);
    cfg_free(c);
}

static void int_getters_are_typed_and_range_checked(void **state)
{
    char err[256];
    cfg_t *c = cfg_parse("n.json", "{\"big\": 5000000000, \"neg\": -3, \"half\": 2.5}", err,
                         sizeof err);
    assert_non_null(c);
    cfg_sec_t root = cfg_root(c);
    int64_t big;
    assert_int_equal(cfg_get_int64(&root, "big", true, 0, 0, INT64_C(10000000000), &big, err,
                                   sizeof err), 0);
    assert_true(big == INT64_C(5000000000));
    int v = 7;
    /* Beyond an int's range is a range error, never a value cut to 32 bits. */
    assert_int_equal(cfg_get_int(&root, "big", true, 0, 0, 2000000000, &v, err, sizeof err),
                     CM_ERR_CONFIG);
    assert_string_equal(err, "n.json:1: big: expected an integer in 0..2000000000");
    assert_int_equal(v, 7);
    assert_int_equal(cfg_get_int(&root, "half", true, 0, 0, 10, &v, err, sizeof err), CM_ERR_CONFIG);
    assert_int_equal(cfg_get_int(&root, "neg", true, 0, -5, 5, &v, err, sizeof err), 0);
    assert_int_equal(v, -3);
    assert_int_equal(cfg_get_int(&root, "absent", false, 4, 1, 9, &v, err, sizeof err), 0);
    assert_int_equal(v, 4);
    cfg_free(c);
}

/* A key path longer than the section's path buffer used to be cut silently. */
static void key_path_too_long_is_an_error_not_a_cut_path(void **state)
{
    char err[512], key[201], text[400];
    memset(key, 'k', 200);
    key[200] = '\0';
    snprintf(text, sizeof text, "{\"a\": {\"%s\": {}}}", key);
    cfg_t *c = cfg_parse("deep.json", text, err, sizeof err);
    assert_non_null(c);
    cfg_sec_t root = cfg_root(c), a, deep;
    assert_int_equal(cfg_section(&root, "a", &a, err, sizeof err), 0);
    assert_int_equal(cfg_section(&a, key, &deep, err, sizeof err), CM_ERR_CONFIG);
    assert_non_null(strstr(err, "key path is longer than 191 bytes"));
    cfg_free(c);
}

/* File paths in settings resolve against the file's folder; one too long is an error. */
static void paths_resolve_against_the_file_folder_and_never_cut(void **state)
{
    char err[256], out[32];
    cfg_t *c = cfg_parse("/etc/coalmon/coalmond.json", "{}", err, sizeof err);
    assert_non_null(c);
    assert_int_equal(cfg_resolve_path(c, "meters", out, sizeof out), 0);
    assert_string_equal(out, "/etc/coalmon/meters");
    assert_int_equal(cfg_resolve_path(c, "/srv/maps", out, sizeof out), 0);
    assert_string_equal(out, "/srv/maps");
    assert_int_equal(cfg_resolve_path(c, "a-folder-name-that-does-not-fit", out, sizeof out),
                     CM_ERR_CONFIG);
    cfg_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(comments_are_stripped_but_strings_kept),
        cmocka_unit_test(wrong_type_names_file_line_and_key),
        cmocka_unit_test(missing_required_key_is_reported_at_its_object),
        cmocka_unit_test(syntax_error_names_the_line),
        cmocka_unit_test(unterminated_comment_is_an_error),
        cmocka_unit_test(missing_file_is_an_io_error),
        cmocka_unit_test(top_level_must_be_an_object),
        cmocka_unit_test(example_configuration_is_valid),
        cmocka_unit_test(int_getters_are_typed_and_range_checked),
        cmocka_unit_test(key_path_too_long_is_an_error_not_a_cut_path),
        cmocka_unit_test(paths_resolve_against_the_file_folder_and_never_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
