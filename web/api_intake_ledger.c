/* Intake routes for sales, inventory, contracts, coal types, the mine's own
 * production-transport-sales figures, our period figures and the RPT-2
 * reports (ACQ-3, RPT-2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/api_intake.h"

static void ledger_work(void *arg)
{
    iw_post_t *p = arg;
    p->rc = intake_ledger_put(p->iw->ctx->store, p->kind, p->b.items, p->b.source, tm_now_s(),
                              &p->created, &p->f, p->err, sizeof p->err);
}

static void ledger_done(void *arg)
{
    iw_post_t *p = arg;
    int rc = p->rc;
    if ((rc == CM_ERR_INVALID || rc == CM_ERR_CONFLICT) && p->f.field[0]) {
        iw_reply_fault(p->req, rc == CM_ERR_CONFLICT ? 409 : 400, &p->f);
    } else if (rc == CM_ERR_INVALID) {
        web_reply_error(p->req, 400, p->b.key, "%s", p->err);
    } else if (rc) {
        web_reply_error(p->req, 500, NULL, "%s", p->err);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "accepted", p->b.n);
        cJSON_AddNumberToObject(o, "created", p->created);
        web_reply_json(p->req, 200, o);
    }
    iw_post_free(p);
}

/* POST of a ledger kind: API key, one job on a worker, 400/409 naming the field. */
static void post_ledger(web_req_t *req, intake_web_t *iw, const char *kind, const char *key)
{
    iw_post_t *p = iw_post_new(iw, req);
    if (!p)
        return;
    if (!iw_batch_open(req, iw, key, &p->b)) {
        free(p);
        return;
    }
    p->kind = kind; /* a string literal */
    iw_post_submit(p, ledger_work, ledger_done);
}

static void get_ledger(web_req_t *req, intake_web_t *iw, const char *kind)
{
    int64_t from, to;
    char err[256];
    if (!web_query_range(req, 31 * 86400, 0, &from, &to))
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

static void summaries_work(void *arg)
{
    iw_post_t *p = arg;
    p->rc = intake_pts_put(p->iw->ctx->store, p->items, &p->iw->conf, p->source, &p->res, &p->f,
                           p->err, sizeof p->err);
}

static void summaries_done(void *arg)
{
    iw_post_t *p = arg;
    if (p->rc == CM_ERR_INVALID && p->f.field[0]) {
        iw_reply_fault(p->req, 400, &p->f);
    } else if (p->rc == CM_ERR_INVALID) {
        web_reply_error(p->req, 400, "summaries", "%s", p->err);
    } else if (p->rc) {
        web_reply_error(p->req, 500, NULL, "%s", p->err);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "accepted", cJSON_GetArraySize(p->items));
        cJSON_AddNumberToObject(o, "created", p->res.created);
        cJSON_AddNumberToObject(o, "corrected", p->res.corrected);
        cJSON_AddNumberToObject(o, "unchanged", p->res.unchanged);
        web_reply_json(p->req, 200, o);
    }
    iw_post_free(p);
}

static void summaries(web_req_t *req, void *arg)
{
    intake_web_t *iw = arg;
    char err[256], source[64];
    if (web_method_of(req) == WEB_GET) {
        int64_t from, to;
        if (!web_query_range(req, 31 * 86400, 0, &from, &to))
            return;
        cJSON *out = NULL;
        int rc = intake_pts_list(iw->ctx->reader, from, to, &out, err, sizeof err);
        iw_reply(req, rc, out, err);
        return;
    }
    iw_post_t *p = iw_source(req, iw, source, sizeof source) ? iw_post_new(iw, req) : NULL;
    if (!p)
        return;
    if (!(p->body = web_body_json(req))) {
        iw_post_free(p);
        return;
    }
    snprintf(p->source, sizeof p->source, "%s", source);
    p->items = iw_items(p->body, "summaries");
    iw_post_submit(p, summaries_work, summaries_done);
}

/* GET /api/v1/sales/figures?at=...&coalType=...: shift, day, MTD, QTD, YTD. */
static void figures(web_req_t *req, void *arg)
{
    intake_web_t *iw = arg;
    char coal[32] = "", err[256];
    int64_t at = tm_now_s();
    if (!web_query_time(req, "at", &at, NULL))
        return;
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
    if (!web_query_range(req, 86400, 0, &from, &to))
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
        web_reply_failure(req, rc, err);
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
