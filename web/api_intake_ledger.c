/* Intake routes for sales, inventory, contracts, coal types, the mine's own
 * production-transport-sales figures, our period figures and the RPT-2
 * reports (ACQ-3, RPT-2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/api_intake.h"

/* POST of a ledger kind: API key, one job, 400/409 naming the field. */
static void post_ledger(web_req_t *req, intake_web_t *iw, const char *kind, const char *key)
{
    char err[256];
    iw_batch_t b;
    if (!iw_batch_open(req, iw, key, &b))
        return;
    intake_fault_t f = {0};
    int created = 0;
    int rc = intake_ledger_put(iw->ctx->store, kind, b.items, b.source, tm_now_s(), &created, &f,
                               err, sizeof err);
    if ((rc == CM_ERR_INVALID || rc == CM_ERR_CONFLICT) && f.field[0]) {
        iw_reply_fault(req, rc == CM_ERR_CONFLICT ? 409 : 400, &f);
    } else if (rc == CM_ERR_INVALID) {
        web_reply_error(req, 400, key, "%s", err);
    } else if (rc) {
        web_reply_error(req, 500, NULL, "%s", err);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "accepted", b.n);
        cJSON_AddNumberToObject(o, "created", created);
        web_reply_json(req, 200, o);
    }
    iw_batch_close(&b);
}

static void get_ledger(web_req_t *req, intake_web_t *iw, const char *kind)
{
    int64_t from, to;
    char err[256];
    if (!iw_range(req, 31 * 86400, &from, &to))
        return;
    cJSON *out = NULL;
    int rc = intake_ledger_list(iw->ctx->reader, kind, from, to, &out, err, sizeof err);
    iw_reply(req, rc, out, err);
}

static void rail(web_req_t *req, void *arg)
{
    if (web_method_of(req) == WEB_POST)
        post_ledger(req, arg, "rail", "batches");
    else
        get_ledger(req, arg, "rail");
}

static void surveys(web_req_t *req, void *arg)
{
    if (web_method_of(req) == WEB_POST)
        post_ledger(req, arg, "survey", "surveys");
    else
        get_ledger(req, arg, "survey");
}

static void contracts(web_req_t *req, void *arg)
{
    if (web_method_of(req) == WEB_POST)
        post_ledger(req, arg, "contract", "contracts");
    else
        get_ledger(req, arg, "contract");
}

static void coal_types(web_req_t *req, void *arg) { get_ledger(req, arg, "coal_type"); }

static void summaries(web_req_t *req, void *arg)
{
    intake_web_t *iw = arg;
    char err[256], source[64];
    if (web_method_of(req) == WEB_GET) {
        int64_t from, to;
        if (!iw_range(req, 31 * 86400, &from, &to))
            return;
        cJSON *out = NULL;
        int rc = intake_pts_list(iw->ctx->reader, from, to, &out, err, sizeof err);
        iw_reply(req, rc, out, err);
        return;
    }
    if (!iw_source(req, iw, source, sizeof source))
        return;
    cJSON *body = web_body_json(req);
    if (!body)
        return;
    cJSON *items = iw_items(body, "summaries");
    intake_fault_t f = {0};
    intake_put_result_t res;
    int rc = intake_pts_put(iw->ctx->store, items, &iw->conf, source, &res, &f, err, sizeof err);
    if (rc == CM_ERR_INVALID && f.field[0]) {
        iw_reply_fault(req, 400, &f);
    } else if (rc == CM_ERR_INVALID) {
        web_reply_error(req, 400, "summaries", "%s", err);
    } else if (rc) {
        web_reply_error(req, 500, NULL, "%s", err);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "accepted", cJSON_GetArraySize(items));
        cJSON_AddNumberToObject(o, "created", res.created);
        cJSON_AddNumberToObject(o, "corrected", res.corrected);
        cJSON_AddNumberToObject(o, "unchanged", res.unchanged);
        web_reply_json(req, 200, o);
    }
    cJSON_Delete(items);
    cJSON_Delete(body);
}

/* GET /api/v1/sales/figures?at=...&coalType=...: shift, day, MTD, QTD, YTD. */
static void figures(web_req_t *req, void *arg)
{
    intake_web_t *iw = arg;
    char buf[40], coal[32] = "", err[256];
    int64_t at = tm_now_s();
    int q = web_query(req, "at", buf, sizeof buf);
    if (q != CM_ERR_NOTFOUND && (q || tm_parse_bj(buf, &at))) {
        web_reply_error(req, 400, "at", "at: expected \"yyyy-MM-dd[ HH:mm[:ss]]\" (Beijing)");
        return;
    }
    if (web_query(req, "coalType", coal, sizeof coal) == CM_OK && coal[0]) {
        intake_materials_t m;
        const char *code = NULL;
        if (!intake_materials_load(iw->ctx->reader, &m, err, sizeof err))
            code = intake_material_code(&m, coal);
        if (!code || !strcmp(code, "gangue") || !strcmp(code, "other")) {
            web_reply_error(req, 400, "coalType", "unknown coal type '%s'", coal);
            return;
        }
        snprintf(coal, sizeof coal, "%s", code);
    }
    cJSON *out = NULL;
    int rc = intake_figures_json(iw->ctx->reader, &iw->conf, at, coal[0] ? coal : NULL, &out, err,
                                 sizeof err);
    iw_reply(req, rc, out, err);
}

/* GET /api/v1/reports/rpt2/{kind}?from=&to=&format=json|csv|xlsx */
static void report(web_req_t *req, void *arg)
{
    intake_web_t *iw = arg;
    const char *kind = web_path(req) + strlen("/api/v1/reports/rpt2/");
    char fmt[8] = "json", err[256];
    int64_t from, to;
    if (!iw_range(req, 86400, &from, &to))
        return;
    if (web_query(req, "format", fmt, sizeof fmt) == CM_ERR_INVALID ||
        (strcmp(fmt, "json") && strcmp(fmt, "csv") && strcmp(fmt, "xlsx"))) {
        web_reply_error(req, 400, "format", "format: json, csv or xlsx");
        return;
    }
    cJSON *r = NULL;
    int rc = intake_report(iw->ctx->reader, &iw->conf, kind, from, to, &r, err, sizeof err);
    if (rc == CM_ERR_INVALID) {
        web_reply_error(req, 400, strncmp(err, "to:", 3) ? "report" : "to", "%s", err);
        return;
    }
    if (rc) {
        web_reply_error(req, 500, NULL, "%s", err);
        return;
    }
    if (!strcmp(fmt, "xlsx")) {
        char day[16], name[96];
        tm_format_bj_date(from, day, sizeof day);
        snprintf(name, sizeof name, "rpt2-%s-%s.xlsx", kind, day);
        web_reply_report_xlsx(req, iw->ctx, r, name);
    } else if (!strcmp(fmt, "csv")) {
        size_t len;
        char *csv = intake_report_csv(r, &len);
        if (csv)
            web_reply_data(req, 200, "text/csv; charset=utf-8", csv, len);
        else
            web_reply_error(req, 500, NULL, "out of memory");
        free(csv);
    } else {
        cJSON_AddItemToObject(r, "items", intake_report_objects(r));
        web_reply_json(req, 200, r);
        r = NULL;
    }
    cJSON_Delete(r);
}

int iw_register_ledger(web_t *w, intake_web_t *iw)
{
    static const struct {
        const char *path;
        web_handler_fn fn;
        bool machine_post;
    } routes[] = {
        {"/api/v1/sales/summaries", summaries, true},
        {"/api/v1/sales/rail", rail, true},
        {"/api/v1/inventory/surveys", surveys, true},
        {"/api/v1/contracts", contracts, true},
        {"/api/v1/coal-types", coal_types, false},
        {"/api/v1/sales/figures", figures, false},
        {"/api/v1/reports/rpt2/*", report, false},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = web_route(w, WEB_GET, routes[i].path, routes[i].fn, iw);
        if (!rc && routes[i].machine_post)
            rc = web_route_public(w, WEB_POST, routes[i].path, routes[i].fn, iw);
        if (rc)
            return rc;
    }
    return CM_OK;
}
