/*
 * xlsx_report: writes an RPT-1 (analytics) or RPT-2 (intake) report as an
 * Excel workbook (issue #8). It takes the very cJSON report the --json and
 * CSV paths print ({"report","from","to","columns":[...],"rows":[[...]]}),
 * so no figure is computed twice; it only adds a Chinese title row, Chinese
 * headings, number formats and a 合计 (totals) row of the summable columns.
 *
 * Threads: CLI only (one thread). The caller keeps ownership of report.
 */
#ifndef COALMON_CLI_XLSX_REPORT_H
#define COALMON_CLI_XLSX_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct xlsx_meta {
    const char *mine;  /* mine name for the title; NULL or "" = none */
    const char *title; /* report name in Chinese, e.g. "产量报表" */
    int64_t now;       /* generation time (epoch s), shown in Beijing time */
} xlsx_meta_t;

/* Chinese heading of a report column; the key itself when unknown. */
const char *xlsx_column_label(const char *key);
/* Chinese name of a report kind ("output", "pts", "energy", "output-summary"...). */
const char *xlsx_report_name(const char *kind);

/* Write report to path (through path.tmp and a rename, so a failed write leaves
 * no half-written workbook). 0 or a negative cm_err with err filled. */
int xlsx_report_write(const char *path, const cJSON *report, const xlsx_meta_t *meta, char *err,
                      size_t errlen);

/* The CLI's --xlsx FILE: writes report with the configured "mine_name" (top
 * level of the configuration, when one is loaded) and prints the error once.
 * Returns CLI_OK or CLI_FAIL; does not free report. */
struct cli_ctx;
int cli_xlsx_report(struct cli_ctx *ctx, const char *path, const cJSON *report);

#endif
