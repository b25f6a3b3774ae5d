/* web: the analytics API (issue #6, docs/analytics.md) — models, conditions,
 * the output-vs-electricity check, capacity, energy, RPT-1 reports. The
 * evaluation itself runs on the analytics thread (ana_runner_*). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "web/web.h"

/* The routes' state (web_state_new), passed to every handler. */
typedef struct ana_web {
    ana_conf_t conf;
    web_ctx_t *ctx;
    ana_runner_t *runner; /* may be NULL: then nothing is kicked */
} ana_web_t;

/* ?from=&to= as Beijing time; defaults: the last `days` days up to now. */
static int range(web_req_t *req, int days, int64_t *from, int64_t *to)
{
    return web_query_range(req, (int64_t)days * 86400, 0, from, to) ? 0 : -1;
}

static void reply_rc(web_req_t *req, int rc, cJSON *body, const char *err)
{
    if (rc == CM_OK)
        web_reply_json(req, 200, body);
    else if (rc == CM_ERR_NOTFOUND)
        web_reply_error(req, 404, NULL, "%s", err);
    else if (rc == CM_ERR_INVALID)
        web_reply_error(req, 422, NULL, "%s", err);
    else
        web_reply_failure(req, rc, err);
}

/* 200 with report as CSV (report is freed here), or 500 when it cannot be built. */
static void reply_csv(web_req_t *req, cJSON *report)
{
    size_t len;
    char *csv = ana_report_csv(report, &len);
    cJSON_Delete(report);
    if (!csv) {
        web_reply_error(req, 500, NULL, "out of memory");
        return;
    }
    web_reply_data(req, 200, "text/csv; charset=utf-8", csv, len);
    free(csv);
}

static void models(web_req_t *req, void *arg)
{
    ana_web_t *A = arg;
    cJSON *a = NULL;
    char err[256];
    int rc = ana_db_models_json(A->ctx->reader, 200, &a, err, sizeof err);
    reply_rc(req, rc, a, err);
}

static void models_current(web_req_t *req, void *arg)
{
    ana_web_t *A = arg;
    cJSON *o = cJSON_CreateObject();
    for (int g = ANA_GATE_TRANSPORT; g <= ANA_GATE_TOTAL; g++) {
        ana_model_t m;
        if (ana_db_model(A->ctx->reader, (ana_gate)g, 0, &m, NULL, 0) == CM_OK)
            cJSON_AddItemToObject(o, ana_gate_name((ana_gate)g), ana_model_json(&m));
        else
            cJSON_AddNullToObject(o, ana_gate_name((ana_gate)g));
    }
    web_reply_json(req, 200, o);
}

/* GET /api/v1/models/health[?at=]: the scale-health figure (issue #13). */
static void models_health(web_req_t *req, void *arg)
{
    ana_web_t *A = arg;
    int64_t at = tm_now_s();
    bool given;
    if (!web_query_time(req, "at", &at, &given))
        return;
    cJSON *o = NULL;
    char err[256];
    int rc = ana_scale_health_report(A->ctx->reader, &A->conf, at, &o, err, sizeof err);
    reply_rc(req, rc, o, err);
}

/* A refit or a capacity change: stored on a worker, answered on the loop. */
typedef struct ana_job {
    ana_web_t *A;
    web_req_t *req;
    ana_gate gate;
    double tpa;
    int64_t from;
    char actor[40], reason[512];
    bool has_reason;
    ana_model_t m;
    int rc;
    char err[256];
} ana_job_t;

static ana_job_t *job_new(ana_web_t *A, web_req_t *req)
{
    ana_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        web_reply_error(req, 500, NULL, "out of memory");
        return NULL;
    }
    j->A = A;
    j->req = req;
    snprintf(j->actor, sizeof j->actor, "%s", web_actor(A->ctx->web, req));
    return j;
}

static void job_submit(ana_job_t *j, web_work_fn work, web_work_fn done)
{
    if (web_defer(j->A->ctx->web, work, done, j)) {
        web_reply_busy(j->req);
        free(j);
    }
}

/* On a worker, with a read connection of its own (the loop's is the loop's). */
static void fit_work(void *arg)
{
    ana_job_t *j = arg;
    sqlite3 *db = store_reader_open(j->A->ctx->store, j->err, sizeof j->err);
    j->rc = db ? ana_db_refit(j->A->ctx->store, db, &j->A->conf, j->gate, tm_now_s(), j->actor,
                              "api", &j->m, j->err, sizeof j->err)
               : CM_ERR_DB;
    store_reader_close(db);
}

static void fit_done(void *arg)
{
    ana_job_t *j = arg;
    if (!j->rc)
        ana_runner_kick(j->A->runner); /* monitor with the new model now */
    reply_rc(j->req, j->rc, j->rc ? NULL : ana_model_json(&j->m), j->err);
    free(j);
}

static void models_fit(web_req_t *req, void *arg)
{
    ana_web_t *A = arg;
    if (web_require_role(A->ctx->web, req, "engineer")) /* a new model changes what alarms */
        return;
    cJSON *b = web_body_json(req);
    if (!b)
        return;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(b, "gate");
    ana_gate gate = ANA_GATE_TRANSPORT;
    if (g && (!cJSON_IsString(g) || ana_gate_parse(g->valuestring, &gate))) {
        cJSON_Delete(b);
        web_reply_error(req, 400, "gate", "expected \"transport\" or \"total\"");
        return;
    }
    cJSON_Delete(b);
    ana_job_t *j = job_new(A, req);
    if (j) {
        j->gate = gate;
        job_submit(j, fit_work, fit_done);
    }
}

/* GET /api/v1/models/implied?gate=&from=&to=[&format=csv] */
static void implied(web_req_t *req, void *arg)
{
    ana_web_t *A = arg;
    char v[16];
    ana_gate gate = ANA_GATE_TRANSPORT;
    if (web_query(req, "gate", v, sizeof v) == CM_OK && ana_gate_parse(v, &gate)) {
        web_reply_error(req, 400, "gate", "expected transport or total");
        return;
    }
    int64_t from, to;
    if (range(req, 1, &from, &to))
        return;
    cJSON *o = NULL;
    char err[256];
    int rc = ana_implied_json(A->ctx->reader, &A->conf, gate, from, to, &o, err, sizeof err);
    if (rc == CM_ERR_INVALID) {
        web_reply_error(req, 400, "from", "%s", err);
        return;
    }
    if (!rc && web_query(req, "format", v, sizeof v) == CM_OK && !strcmp(v, "csv")) {
        reply_csv(req, o);
        return;
    }
    reply_rc(req, rc, o, err);
}

static void conditions(web_req_t *req, void *arg)
{
    ana_web_t *A = arg;
    int64_t from, to;
    if (range(req, 30, &from, &to))
        return;
    cJSON *a = NULL;
    char err[256];
    int rc = ana_conditions_json(A->ctx->reader, from, to, &a, err, sizeof err);
    reply_rc(req, rc, a, err);
}

static void consistency(web_req_t *req, void *arg)
{
    ana_web_t *A = arg;
    int64_t from, to;
    if (!web_query_range(req, 7 * 86400, 400LL * 86400, &from, &to))
        return;
    cJSON *a = NULL;
    char err[256];
    int rc = ana_consistency_check(A->ctx->reader, &A->conf, from, to, &a, err, sizeof err);
    reply_rc(req, rc, a, err);
}

static void capacity_get(web_req_t *req, void *arg)
{
    ana_web_t *A = arg;
    cJSON *o = NULL;
    char err[256];
    int rc = ana_capacity_json(A->ctx->reader, &A->conf, tm_now_s(), &o, err, sizeof err);
    reply_rc(req, rc, o, err);
}

static void capacity_work(void *arg)
{
    ana_job_t *j = arg;
    j->rc = ana_db_capacity_set(j->A->ctx->store, j->tpa, j->from, j->actor, "api",
                                j->has_reason ? j->reason : NULL, j->err, sizeof j->err);
}

static void capacity_done(void *arg)
{
    ana_job_t *j = arg;
    cJSON *o = NULL;
    int rc = j->rc;
    if (!rc)
        rc = ana_capacity_json(j->A->ctx->reader, &j->A->conf, tm_now_s(), &o, j->err,
                               sizeof j->err);
    reply_rc(j->req, rc, o, j->err);
    free(j);
}

static void capacity_post(web_req_t *req, void *arg)
{
    ana_web_t *A = arg;
    if (web_require_role(A->ctx->web, req, "engineer")) /* a parameter change (ALM-5) */
        return;
    cJSON *b = web_body_json(req);
    if (!b)
        return;
    const cJSON *tpa = cJSON_GetObjectItemCaseSensitive(b, "tpa");
    const cJSON *vf = cJSON_GetObjectItemCaseSensitive(b, "valid_from");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(b, "reason");
    int64_t from = 0;
    ana_job_t *j;
    if (!cJSON_IsNumber(tpa) || !(tpa->valuedouble > 0) || tpa->valuedouble > 1e9)
        web_reply_error(req, 400, "tpa", "expected the approved capacity in t/a, 1..1e9");
    else if (!cJSON_IsString(vf) || tm_parse_bj(vf->valuestring, &from))
        web_reply_error(req, 400, "valid_from", "expected yyyy-MM-dd (Beijing time)");
    else if (reason && !cJSON_IsString(reason))
        web_reply_error(req, 400, "reason", "expected a string");
    else if (reason && strlen(reason->valuestring) >= sizeof j->reason)
        web_reply_error(req, 400, "reason", "reason: at most %zu bytes", sizeof j->reason - 1);
    else if ((j = job_new(A, req))) {
        j->tpa = tpa->valuedouble;
        j->from = from;
        j->has_reason = reason != NULL;
        snprintf(j->reason, sizeof j->reason, "%s", reason ? reason->valuestring : "");
        job_submit(j, capacity_work, capacity_done);
    }
    cJSON_Delete(b);
}

static void energy(web_req_t *req, void *arg)
{
    ana_web_t *A = arg;
    int64_t from, to;
    if (range(req, 1, &from, &to))
        return;
    cJSON *o = NULL;
    char err[256];
    int rc = ana_energy_json(A->ctx->reader, &A->conf, from, to, &o, err, sizeof err);
    reply_rc(req, rc, o, err);
}

/* ?format=: json (default), csv or xlsx; false when it replied 400 itself. */
static bool report_format(web_req_t *req, char *fmt, size_t len)
{
    snprintf(fmt, len, "json");
    if (web_query(req, "format", fmt, len) == CM_ERR_INVALID ||
        (strcmp(fmt, "json") && strcmp(fmt, "csv") && strcmp(fmt, "xlsx"))) {
        web_reply_error(req, 400, "format", "format: json, csv or xlsx");
        return false;
    }
    return true;
}

/* /api/v1/reports/rpt1/{output|pts|energy}?period=&from=&to=&format=json|csv|xlsx */
static void report(web_req_t *req, void *arg)
{
    ana_web_t *A = arg;
    const char *kind = web_path(req) + strlen("/api/v1/reports/rpt1/");
    if (strcmp(kind, "output") && strcmp(kind, "pts") && strcmp(kind, "energy")) {
        web_reply_error(req, 404, NULL, "no report '%s' (output, pts, energy)", kind);
        return;
    }
    char v[16], kind_copy[16], fmt[8];
    snprintf(kind_copy, sizeof kind_copy, "%s", kind);
    tm_period period = TM_DAY;
    if (web_query(req, "period", v, sizeof v) == CM_OK && tm_period_parse(v, &period)) {
        web_reply_error(req, 400, "period", "expected shift, day, month, quarter or year");
        return;
    }
    if (!report_format(req, fmt, sizeof fmt))
        return;
    int64_t from, to;
    if (range(req, 7, &from, &to))
        return;
    cJSON *r = NULL;
    char err[256];
    int rc = ana_report(A->ctx->reader, &A->conf, kind_copy, period, from, to, &r, err, sizeof err);
    if (rc == CM_ERR_INVALID) {
        web_reply_error(req, 400, "from", "%s", err);
        return;
    }
    if (!rc && !strcmp(fmt, "xlsx")) {
        char day[16], name[96];
        tm_format_bj_date(from, day, sizeof day);
        const char *pname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "period"));
        snprintf(name, sizeof name, "rpt1-%s-%s-%s.xlsx", kind_copy, pname ? pname : "day", day);
        web_reply_report_xlsx(req, A->ctx, r, name);
        cJSON_Delete(r);
        return;
    }
    if (!rc && !strcmp(fmt, "csv")) {
        reply_csv(req, r);
        return;
    }
    reply_rc(req, rc, r, err);
}

int web_register_analytics(web_t *w, web_ctx_t *ctx, const struct ana_conf *conf,
                           struct ana_runner *runner)
{
    ana_web_t *A = web_state_new(w, sizeof *A, NULL);
    if (!A)
        return CM_ERR_NOMEM;
    A->conf = *conf;
    A->ctx = ctx;
    A->runner = runner;
    int rc = web_route(w, WEB_GET, "/api/v1/models", models, A);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/models/current", models_current, A);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/models/health", models_health, A);
    if (!rc)
        rc = web_route(w, WEB_POST, "/api/v1/models/fit", models_fit, A);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/models/implied", implied, A);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/conditions", conditions, A);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/consistency", consistency, A);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/capacity", capacity_get, A);
    if (!rc)
        rc = web_route(w, WEB_POST, "/api/v1/capacity", capacity_post, A);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/energy", energy, A);
    if (!rc)
        rc = web_route(w, WEB_GET, "/api/v1/reports/rpt1/*", report, A);
    return rc;
}
