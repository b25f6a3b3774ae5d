/* Report downloads as Excel workbooks (RPT-1, RPT-2): the workbook is the
 * one `coalmon ... --xlsx` writes (analytics/report_xlsx.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "analytics/analytics.h"
#include "web/web.h"

#define XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

void web_reply_report_xlsx(web_req_t *req, const web_ctx_t *ctx, const cJSON *report,
                           const char *filename)
{
    char tmpdir[1024], err[512], disposition[256];
    /* Without a data folder (a test server) the database's folder is it. */
    const char *db = ctx->data_dir ? NULL : store_path(ctx->store);
    const char *slash = db ? strrchr(db, '/') : NULL;
    if (ctx->data_dir)
        snprintf(tmpdir, sizeof tmpdir, "%s/tmp", ctx->data_dir);
    else if (slash)
        snprintf(tmpdir, sizeof tmpdir, "%.*s/tmp", (int)(slash - db), db);
    else
        snprintf(tmpdir, sizeof tmpdir, "tmp");
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(report, "report"));
    ana_xlsx_meta_t meta = {.mine = ctx->mine_name, .title = ana_xlsx_report_name(kind),
                            .now = tm_now_s()};
    char *data = NULL;
    size_t len = 0;
    if (ana_xlsx_bytes(tmpdir, report, &meta, &data, &len, err, sizeof err)) {
        log_error("web", "report workbook: %s", err);
        web_reply_error(req, 500, NULL, "cannot build the workbook: %s", err);
        return;
    }
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", filename);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Disposition", disposition);
    web_reply_data(req, 200, XLSX_TYPE, data, len);
    free(data);
}
