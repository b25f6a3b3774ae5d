/* web handlers without a daemon (issue 14): a server on a free loopback port
 * with only the routes under test, its loop on a thread of the test, and a
 * small HTTP client. Checks the query helpers' one set of 400 messages, a
 * write that completes on the loop after a worker stored it, and a login
 * whose hash is checked on a worker. */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "analytics/analytics.h"
#include "fail_store.h"
#include "intake/intake.h"
#include "web/web.h"

typedef struct fixture {
    char dir[64], path[128];
    store_t *st;
    web_t *web;
    web_ctx_t ctx;
    pthread_t loop;
    bool running;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    char err[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/coalmon-web-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    store_opts_t o;
    store_opts_default(&o);
    o.batch_delay_ms = 0;
    web_opts_t wo;
    web_opts_default(&wo);
    wo.port = 0;
    f->st = store_open(f->path, &o, err, sizeof err);
    f->web = f->st ? web_new(&wo, err, sizeof err) : NULL;
    if (!f->web) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    f->ctx = (web_ctx_t){.store = f->st, .role = "mine", .version = "test", .data_dir = f->dir,
                         .web = f->web};
    /* Opened here, used only by the loop's thread once it runs. */
    f->ctx.reader = store_reader_open(f->st, err, sizeof err);
    *state = f;
    return f->ctx.reader ? 0 : -1;
}

static void *loop_thread(void *arg)
{
    fixture_t *f = arg;
    web_run(f->web, false);
    return NULL;
}

static void serve(fixture_t *f)
{
    assert_int_equal(pthread_create(&f->loop, NULL, loop_thread, f), 0);
    f->running = true;
}

static int rm_entry(const char *p, const struct stat *sb, int fl, struct FTW *w) { return remove(p); }

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (f->running) {
        web_stop(f->web);
        pthread_join(f->loop, NULL);
    }
    web_free(f->web); /* after the loop's thread: deferred work is finished here */
    store_reader_close(f->ctx.reader);
    store_close(f->st);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* One request on a fresh connection; the status, the body into body, and the
 * headers into head (either may be NULL). Waits at most 30 s. */
static int request(fixture_t *f, const char *method, const char *path, const char *json,
                   char *head, size_t headlen, char *body, size_t bodylen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)web_port(f->web))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, json ? strlen(json) : 0, json ? json : "");
    assert_true(n > 0 && (size_t)n < sizeof req);
    assert_int_equal(write(fd, req, (size_t)n), n);
    static char buf[65536]; /* the test's thread only */
    size_t got = 0;
    ssize_t k;
    while (got + 1 < sizeof buf && (k = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)k;
    buf[got] = '\0';
    close(fd);
    int status = 0;
    assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &status), 1);
    char *sep = strstr(buf, "\r\n\r\n");
    assert_non_null(sep);
    if (head)
        snprintf(head, headlen, "%.*s", (int)(sep - buf), buf);
    if (body)
        snprintf(body, bodylen, "%s", sep + 4);
    return status;
}

/* The "field" of an error reply, or "" */
static const char *field_of(const char *body, char *out, size_t len)
{
    cJSON *j = cJSON_Parse(body);
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "field"));
    snprintf(out, len, "%s", v ? v : "");
    cJSON_Delete(j);
    return out;
}

/* Each handler used to parse from/to and integers its own way, with its own
 * messages; now one helper answers 400 naming the parameter. */
static void bad_query_parameters_get_400_naming_the_field(void **state)
{
    fixture_t *f = *state;
    intake_conf_t ic;
    intake_conf_default(&ic);
    assert_int_equal(web_register_calibration(f->web, &f->ctx), CM_OK);
    assert_non_null(web_register_intake(f->web, &f->ctx, &ic));
    serve(f);
    char body[4096], field[32];
    assert_int_equal(request(f, "GET", "/api/v1/calibrations?from=yesterday", NULL, NULL, 0, body,
                             sizeof body), 400);
    assert_string_equal(field_of(body, field, sizeof field), "from");
    assert_non_null(strstr(body, "from: expected yyyy-MM-dd"));
    assert_int_equal(request(f, "GET", "/api/v1/exits/escapes?limit=0", NULL, NULL, 0, body,
                             sizeof body), 400);
    assert_string_equal(field_of(body, field, sizeof field), "limit");
    assert_non_null(strstr(body, "limit: expected an integer 1..10000"));
    assert_int_equal(request(f, "GET",
                             "/api/v1/exits/escapes?from=2026-11-02&to=2026-11-01", NULL, NULL, 0,
                             body, sizeof body),
                     400);
    assert_string_equal(field_of(body, field, sizeof field), "to");
    assert_int_equal(request(f, "GET", "/api/v1/exits/escapes?from=2026-11-01&to=2026-11-02",
                             NULL, NULL, 0, body, sizeof body),
                     200);
}

/* A calibration record is stored by a worker (web_defer) and answered on the
 * loop; it is there when the next request reads. */
static void calibration_post_is_stored_off_the_loop_and_listed(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(web_register_calibration(f->web, &f->ctx), CM_OK);
    serve(f);
    char body[4096];
    const char *rec = "{\"device\":\"station-main-belt\",\"kind\":\"calibration\","
                      "\"operator\":\"张工\",\"time\":\"2026-11-20 09:30:00\","
                      "\"before\":\"k=1.000\",\"after\":\"k=1.043\"}";
    assert_int_equal(request(f, "POST", "/api/v1/calibrations", rec, NULL, 0, body, sizeof body),
                     201);
    assert_non_null(strstr(body, "\"id\":"));
    assert_int_equal(request(f, "POST", "/api/v1/calibrations", "{\"kind\":\"repair\"}", NULL, 0,
                             body, sizeof body),
                     400);
    assert_int_equal(request(f, "GET", "/api/v1/calibrations?device=station-main-belt", NULL,
                             NULL, 0, body, sizeof body),
                     200);
    cJSON *j = cJSON_Parse(body);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "calibrations");
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "after")),
        "k=1.043");
    cJSON_Delete(j);
}

/* Logins check the hash on a worker; the reply (401, or 200 with a session
 * cookie) comes from the loop. The cheap iteration count keeps the test short. */
static void login_checks_the_password_on_a_worker(void **state)
{
    fixture_t *f = *state;
    char err[256], head[2048], body[4096];
    assert_int_equal(web_user_add(f->st, "wang", "engineer", "Jishu-2026", 1000, "t", "cli", err,
                                  sizeof err),
                     CM_OK);
    web_auth_opts_t ao;
    web_auth_opts_default(&ao);
    ao.pbkdf2_iterations = 1000;
    assert_int_equal(web_register_auth(f->web, &f->ctx, &ao), CM_OK);
    serve(f);
    assert_int_equal(request(f, "POST", "/api/v1/session",
                             "{\"name\":\"wang\",\"password\":\"Jishu-2027\"}", head, sizeof head,
                             body, sizeof body),
                     401);
    assert_null(strstr(head, "cm_session="));
    assert_int_equal(request(f, "POST", "/api/v1/session",
                             "{\"name\":\"nobody\",\"password\":\"Jishu-2026\"}", NULL, 0, body,
                             sizeof body),
                     401);
    assert_int_equal(request(f, "POST", "/api/v1/session",
                             "{\"name\":\"wang\",\"password\":\"Jishu-2026\"}", head, sizeof head,
                             body, sizeof body),
                     200);
    assert_non_null(strstr(head, "Set-Cookie: cm_session="));
    assert_non_null(strstr(body, "\"role\":\"engineer\""));
}

/* The error of issue #14 at the API: figures and reports whose query fails
 * while it runs (the web's read connection made to fail, as a busy or broken
 * database would) answer 503 with SQLite's reason — never 200 with 0 t, nor
 * a report of empty rows, nor 500 with a generic text. */
static void figures_and_reports_answer_503_with_the_reason_when_the_store_fails(void **state)
{
    fixture_t *f = *state;
    intake_conf_t ic;
    intake_conf_default(&ic);
    ic.output = ana_output_for_intake;
    ana_conf_t ac;
    ana_conf_default(&ac);
    assert_non_null(web_register_intake(f->web, &f->ctx, &ic));
    assert_int_equal(web_register_analytics(f->web, &f->ctx, &ac, NULL), CM_OK);
    /* Before the loop runs: from then on only its thread uses the reader. */
    static fail_store_t fs; /* outlives this function: the loop stops in teardown */
    fail_store_on(&fs, f->ctx.reader, "weigh_ticket_current");
    serve(f);
    static const char *const paths[] = {
        "/api/v1/sales/figures?at=2026-11-01%2012:00:00",
        "/api/v1/reports/rpt2/output-summary?from=2026-11-01&to=2026-11-03",
        "/api/v1/reports/rpt2/material?from=2026-11-01&to=2026-11-03&format=csv",
        "/api/v1/reports/rpt2/outbound?from=2026-11-01&to=2026-11-03&format=xlsx",
        "/api/v1/reports/rpt1/pts?period=day&from=2026-11-01&to=2026-11-03",
        "/api/v1/reports/rpt1/pts?period=day&from=2026-11-01&to=2026-11-03&format=csv",
        "/api/v1/reports/rpt1/pts?period=day&from=2026-11-01&to=2026-11-03&format=xlsx",
    };
    char body[4096];
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        int status = request(f, "GET", paths[i], NULL, NULL, 0, body, sizeof body);
        if (status != 503 || !strstr(body, "the database could not answer: interrupted"))
            fail_msg("%s: %d %s", paths[i], status, body);
    }
}

int main(void)
{
    log_setup("test_web_routes", LOG_LVL_ERROR, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bad_query_parameters_get_400_naming_the_field, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(calibration_post_is_stored_off_the_loop_and_listed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(login_checks_the_password_on_a_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(
            figures_and_reports_answer_503_with_the_reason_when_the_store_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
