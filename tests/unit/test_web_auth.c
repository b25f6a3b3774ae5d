/* web auth: password hashing, roles, the audited user table (issue #8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "web/web.h"

typedef struct fixture {
    char dir[64], path[128];
    store_t *st;
    sqlite3 *db;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/coalmon-auth-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    char err[256];
    f->st = store_open(f->path, NULL, err, sizeof err);
    f->db = f->st ? store_reader_open(f->st, err, sizeof err) : NULL;
    *state = f;
    return f->db ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    store_reader_close(f->db);
    store_close(f->st);
    const char *suffix[] = {"", "-wal", "-shm"};
    char p[160];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void test_password_hash_roundtrip(void **state)
{
    char h1[160], h2[160], err[128];
    assert_int_equal(web_password_hash("Diaodu-2026", 0, h1, sizeof h1, err, sizeof err), CM_OK);
    assert_int_equal(web_password_hash("Diaodu-2026", 0, h2, sizeof h2, err, sizeof err), CM_OK);
    assert_true(strncmp(h1, "pbkdf2-sha256$600000$", 21) == 0);
    assert_string_not_equal(h1, h2); /* a fresh salt each time */
    assert_int_equal(web_password_verify("Diaodu-2026", h1), CM_OK);
    assert_int_equal(web_password_verify("Diaodu-2027", h1), CM_ERR_AUTH);
    assert_int_equal(web_password_verify("", h1), CM_ERR_AUTH);
}

/* http.pbkdf2_iterations: a hash names its own count, so hashes made with
 * another count (older, or a test's cheap one) still verify. */
static void test_password_hash_keeps_its_iteration_count(void **state)
{
    char h[160], err[128];
    assert_int_equal(web_password_hash("Diaodu-2026", 1000, h, sizeof h, err, sizeof err), CM_OK);
    assert_true(strncmp(h, "pbkdf2-sha256$1000$", 19) == 0);
    assert_int_equal(web_password_verify("Diaodu-2026", h), CM_OK);
    assert_int_equal(web_password_verify("Diaodu-2025", h), CM_ERR_AUTH);
    assert_int_equal(web_password_hash("Diaodu-2026", 999, h, sizeof h, err, sizeof err),
                     CM_ERR_INVALID);
}

static void test_password_verify_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "", "plain", "pbkdf2-sha256$", "pbkdf2-sha256$10$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
        "pbkdf2-sha256$99999999999$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "pbkdf2-sha256$1000$short$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "md5$1000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(web_password_verify("whatever", bad[i]), CM_ERR_AUTH);
    assert_int_equal(web_password_verify(NULL, "x"), CM_ERR_AUTH);
}

static void test_roles_are_ordered(void **state)
{
    web_role r;
    assert_int_equal(web_role_parse("dispatcher", &r), CM_OK);
    assert_int_equal(r, WEB_ROLE_DISPATCHER);
    assert_true(WEB_ROLE_VIEWER < WEB_ROLE_DISPATCHER && WEB_ROLE_DISPATCHER < WEB_ROLE_ENGINEER &&
                WEB_ROLE_ENGINEER < WEB_ROLE_ADMIN);
    assert_int_equal(web_role_parse("root", &r), CM_ERR_INVALID);
    assert_int_equal(web_role_parse("none", &r), CM_ERR_INVALID);
    assert_int_equal(web_role_parse(NULL, &r), CM_ERR_INVALID);
    assert_string_equal(web_role_name(WEB_ROLE_ENGINEER), "engineer");
}

static int count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(store_prepare(db, sql, &s, NULL, 0), CM_OK);
    int n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_finalize(s);
    return n;
}

static void test_user_add_validates_each_field_and_stores_nothing(void **state)
{
    fixture_t *f = *state;
    char err[256];
    assert_int_equal(web_user_add(f->st, "a b", "viewer", "longenough", 1000, "t", "cli", err, sizeof err),
                     CM_ERR_INVALID);
    assert_true(strncmp(err, "name:", 5) == 0);
    assert_int_equal(web_user_add(f->st, "li", "boss", "longenough", 1000, "t", "cli", err, sizeof err),
                     CM_ERR_INVALID);
    assert_true(strncmp(err, "role:", 5) == 0);
    assert_int_equal(web_user_add(f->st, "li", "viewer", "short", 1000, "t", "cli", err, sizeof err),
                     CM_ERR_INVALID);
    assert_true(strncmp(err, "password:", 9) == 0);
    assert_int_equal(web_user_add(f->st, "", "viewer", "longenough", 1000, "t", "cli", err, sizeof err),
                     CM_ERR_INVALID);
    assert_int_equal(count(f->db, "SELECT count(*) FROM web_user"), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM audit_log WHERE action LIKE 'user.%'"), 0);
}

static void test_user_changes_are_audited_and_end_sessions(void **state)
{
    fixture_t *f = *state;
    char err[256];
    assert_int_equal(web_user_add(f->st, "wang", "engineer", "Jishu-2026", 1000, "li", "cli", err, sizeof err),
                     CM_OK);
    assert_int_equal(web_user_add(f->st, "wang", "viewer", "Jishu-2026", 1000, "li", "cli", err, sizeof err),
                     CM_ERR_CONFLICT);
    int gen0 = count(f->db, "SELECT pw_gen FROM web_user WHERE name = 'wang'");
    assert_int_equal(web_user_set_role(f->st, "wang", "admin", "li", "api", err, sizeof err), CM_OK);
    assert_int_equal(count(f->db, "SELECT pw_gen FROM web_user WHERE name = 'wang'"), gen0);
    assert_int_equal(web_user_passwd(f->st, "wang", "Jishu-2027", 1000, "li", "api", err, sizeof err), CM_OK);
    assert_int_equal(count(f->db, "SELECT pw_gen FROM web_user WHERE name = 'wang'"), gen0 + 1);
    assert_int_equal(web_user_set_disabled(f->st, "wang", true, "li", "cli", err, sizeof err), CM_OK);
    assert_int_equal(count(f->db, "SELECT pw_gen FROM web_user WHERE name = 'wang'"), gen0 + 2);
    assert_int_equal(web_user_set_role(f->st, "nobody", "admin", "li", "api", err, sizeof err),
                     CM_ERR_NOTFOUND);
    assert_int_equal(count(f->db, "SELECT count(*) FROM audit_log WHERE target = 'wang' AND actor = 'li'"),
                     4);
    assert_int_equal(count(f->db, "SELECT count(*) FROM audit_log WHERE action = 'user.role'"
                                  " AND old_value = 'engineer' AND new_value = 'admin'"),
                     1);
    /* No password or hash ever reaches the audit log. */
    assert_int_equal(count(f->db, "SELECT count(*) FROM audit_log WHERE coalesce(new_value, '') LIKE '%pbkdf2%'"
                                  " OR coalesce(new_value, '') LIKE '%Jishu%'"),
                     0);
    cJSON *list = web_user_list(f->db, err, sizeof err);
    assert_non_null(list);
    assert_int_equal(cJSON_GetArraySize(list), 1);
    cJSON *u = cJSON_GetArrayItem(list, 0);
    assert_string_equal(cJSON_GetObjectItem(u, "role")->valuestring, "admin");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(u, "disabled")));
    char *text = cJSON_PrintUnformatted(list);
    assert_null(strstr(text, "pbkdf2"));
    cJSON_free(text);
    cJSON_Delete(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_hash_roundtrip),
        cmocka_unit_test(test_password_hash_keeps_its_iteration_count),
        cmocka_unit_test(test_password_verify_rejects_malformed),
        cmocka_unit_test(test_roles_are_ordered),
        cmocka_unit_test_setup_teardown(test_user_add_validates_each_field_and_stores_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_user_changes_are_audited_and_end_sessions, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
