/* Excel workbooks of the RPT-1/RPT-2 reports (issue #8), with libxlsxwriter,
 * for `coalmon report|sales report --xlsx` and `?format=xlsx` of the API.
 * Formats follow the column key: tonnes with 2 decimals, kWh with 1, shares
 * and changes as per cent, counts as integers; text stays text. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "analytics/analytics.h"

typedef enum { K_TEXT, K_TONS, K_KWH, K_PCT, K_COUNT, K_NUM } kind_t;

typedef struct col_def {
    const char *key, *zh;
    kind_t kind;
    bool sum; /* a 合计 of the column means something (not of levels or ratios) */
} col_def_t;

static const col_def_t cols[] = {
    {"period", "周期", K_TEXT, false},
    {"start", "开始时间", K_TEXT, false},
    {"end", "结束时间", K_TEXT, false},
    {"date", "日期", K_TEXT, false},
    {"shift", "班次", K_TEXT, false},
    {"tons", "产量 (t)", K_TONS, true},
    {"run_hours", "运行时长 (h)", K_NUM, true},
    {"t_per_run_hour", "台时产量 (t/h)", K_TONS, false},
    {"vs_previous", "环比", K_PCT, false},
    {"vs_last_year", "同比", K_PCT, false},
    {"output_t", "产量 (t)", K_TONS, true},
    {"output_converted_t", "电量折算产量 (t)", K_TONS, true},
    {"truck_sales_t", "汽运销量 (t)", K_TONS, true},
    {"trucks", "车次", K_COUNT, true},
    {"rail_sales_t", "铁路销量 (t)", K_TONS, true},
    {"inventory_change_t", "库存变化 (t)", K_TONS, true},
    {"balance_diff_t", "产销差 (t)", K_TONS, true},
    {"balance_rel", "产销差率", K_PCT, false},
    {"reported_output_t", "上报产量 (t)", K_TONS, true},
    {"reported_truck_t", "上报汽运 (t)", K_TONS, true},
    {"reported_rail_t", "上报铁路 (t)", K_TONS, true},
    {"reported_inventory_t", "上报库存 (t)", K_TONS, false},
    {"transport_kwh", "主运输电量 (kWh)", K_KWH, true},
    {"total_kwh", "全矿电量 (kWh)", K_KWH, true},
    {"sub_kwh", "分项电量 (kWh)", K_KWH, true},
    {"unmetered_share", "未计量占比", K_PCT, false},
    {"kwh_per_t_transport", "主运输吨煤电耗 (kWh/t)", K_NUM, false},
    {"kwh_per_t_total", "吨煤电耗 (kWh/t)", K_NUM, false},
    {"tce", "折标煤 (t)", K_TONS, true},
    {"co2_t", "CO₂ (t)", K_TONS, true},
    {"critical_kwh", "尖峰电量 (kWh)", K_KWH, true},
    {"peak_kwh", "峰电量 (kWh)", K_KWH, true},
    {"flat_kwh", "平电量 (kWh)", K_KWH, true},
    {"valley_kwh", "谷电量 (kWh)", K_KWH, true},
    {"cost_yuan", "电费 (元)", K_NUM, true},
    {"total_vs_previous", "电量环比", K_PCT, false},
    {"total_vs_last_year", "电量同比", K_PCT, false},
    {"outputRaw", "原煤产量 (t)", K_TONS, true},
    {"outputGross", "毛煤产量 (t)", K_TONS, true},
    {"trucksOut", "出矿车次", K_COUNT, true},
    {"truckSales", "汽运销量 (t)", K_TONS, true},
    {"railSales", "铁路销量 (t)", K_TONS, true},
    {"inventory", "库存 (t)", K_TONS, false},
    {"material", "物料编码", K_TEXT, false},
    {"materialName", "物料名称", K_TEXT, false},
    {"direction", "方向", K_TEXT, false},
    {"vehicles", "车次", K_COUNT, true},
    {"net", "净重 (t)", K_TONS, true},
    {"gross", "毛重 (t)", K_TONS, true},
    {"tare", "皮重 (t)", K_TONS, true},
    {"mode", "运输方式", K_TEXT, false},
    {"coalType", "煤种", K_TEXT, false},
    {"contractId", "合同号", K_TEXT, false},
    {"buyer", "购买方", K_TEXT, false},
    {"pointId", "出入口编号", K_TEXT, false},
    {"pointName", "出入口名称", K_TEXT, false},
    {"in", "进场", K_COUNT, true},
    {"out", "出场", K_COUNT, true},
    {"loaded", "重车", K_COUNT, true},
    {"empty", "空车", K_COUNT, true},
    {"matched", "已匹配", K_COUNT, true},
    {"escapes", "疑似逃运", K_COUNT, true},
    {"unverified", "未核验", K_COUNT, true},
    {"pending", "待处理", K_COUNT, true},
};

static const col_def_t *col_find(const char *key)
{
    for (size_t i = 0; key && i < sizeof cols / sizeof cols[0]; i++)
        if (!strcmp(cols[i].key, key))
            return &cols[i];
    return NULL;
}

const char *ana_xlsx_column_label(const char *key)
{
    const col_def_t *d = col_find(key);
    return d ? d->zh : key;
}

const char *ana_xlsx_report_name(const char *kind)
{
    static const char *const names[][2] = {
        {"output", "产量报表"},          {"pts", "产运销存报表"},
        {"energy", "能耗报表"},          {"output-summary", "产量汇总表"},
        {"output-detail", "产量明细表"}, {"material", "物料汇总表"},
        {"outbound", "外运汇总表"},      {"vehicles", "车辆进出汇总表"}};
    for (size_t i = 0; kind && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(names[i][0], kind))
            return names[i][1];
    return kind ? kind : "报表";
}

typedef struct fmts {
    lxw_format *title, *head, *text, *num[K_NUM + 1], *total_text, *total[K_NUM + 1];
} fmts_t;

static void make_formats(lxw_workbook *wb, fmts_t *f)
{
    static const char *const numfmt[K_NUM + 1] = {NULL, "#,##0.00", "#,##0.0", "0.0%", "#,##0",
                                                  "#,##0.00"};
    f->title = workbook_add_format(wb);
    format_set_bold(f->title);
    format_set_font_size(f->title, 14);
    f->head = workbook_add_format(wb);
    format_set_bold(f->head);
    format_set_bg_color(f->head, 0xDDEBF7);
    format_set_border(f->head, LXW_BORDER_THIN);
    format_set_text_wrap(f->head);
    format_set_align(f->head, LXW_ALIGN_CENTER);
    format_set_align(f->head, LXW_ALIGN_VERTICAL_CENTER);
    f->text = workbook_add_format(wb);
    f->total_text = workbook_add_format(wb);
    format_set_bold(f->total_text);
    format_set_top(f->total_text, LXW_BORDER_THIN);
    for (int k = K_TONS; k <= K_NUM; k++) {
        f->num[k] = workbook_add_format(wb);
        format_set_num_format(f->num[k], numfmt[k]);
        f->total[k] = workbook_add_format(wb);
        format_set_num_format(f->total[k], numfmt[k]);
        format_set_bold(f->total[k]);
        format_set_top(f->total[k], LXW_BORDER_THIN);
    }
}

static void title_row(lxw_worksheet *ws, const cJSON *report, const ana_xlsx_meta_t *m, int ncol,
                      const fmts_t *f)
{
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(report, "from");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(report, "to");
    char now[24], text[512];
    tm_format_bj(m->now, now, sizeof now);
    snprintf(text, sizeof text, "%s%s%s  %s 至 %s  生成时间 %s (北京时间)",
             m->mine && *m->mine ? m->mine : "", m->mine && *m->mine ? " " : "",
             m->title ? m->title : "报表", cJSON_IsString(from) ? from->valuestring : "",
             cJSON_IsString(to) ? to->valuestring : "", now);
    if (ncol > 1)
        worksheet_merge_range(ws, 0, 0, 0, (lxw_col_t)(ncol - 1), text, f->title);
    else
        worksheet_write_string(ws, 0, 0, text, f->title);
    worksheet_set_row(ws, 0, 24, NULL);
}

/* Column width in Excel characters: CJK counts double. */
static double text_width(const char *s)
{
    double w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x80)
            w += 1;
        else if ((*p & 0xC0) == 0xC0)
            w += 2; /* first byte of a multi-byte character */
    return w;
}

static void write_rows(lxw_worksheet *ws, const cJSON *rows, const col_def_t **defs, int ncol,
                       double *widths, double *sums, int *counts, const fmts_t *f)
{
    lxw_row_t r = 2;
    const cJSON *row, *cell;
    cJSON_ArrayForEach (row, rows) {
        int c = 0;
        cJSON_ArrayForEach (cell, row) {
            if (c >= ncol)
                break;
            kind_t k = defs[c] ? defs[c]->kind : K_NUM;
            if (cJSON_IsNumber(cell)) {
                worksheet_write_number(ws, r, (lxw_col_t)c, cell->valuedouble,
                                       f->num[k == K_TEXT ? K_NUM : k]);
                sums[c] += cell->valuedouble;
                counts[c]++;
                if (widths[c] < 12)
                    widths[c] = 12;
            } else if (cJSON_IsString(cell)) {
                worksheet_write_string(ws, r, (lxw_col_t)c, cell->valuestring, f->text);
                double w = text_width(cell->valuestring) + 2;
                if (w > widths[c])
                    widths[c] = w;
            } /* null: no figure for that period, an empty cell as in the CSV */
            c++;
        }
        r++;
    }
}

static void totals_row(lxw_worksheet *ws, int nrows, const col_def_t **defs, int ncol,
                       const double *sums, const int *counts, const fmts_t *f)
{
    lxw_row_t r = (lxw_row_t)(2 + nrows);
    worksheet_write_string(ws, r, 0, "合计", f->total_text);
    for (int c = 1; c < ncol; c++) {
        /* A column without any figure stays empty, as in the CSV, not 0. */
        if (!defs[c] || !defs[c]->sum || !counts[c]) {
            worksheet_write_blank(ws, r, (lxw_col_t)c, f->total_text);
            continue;
        }
        char a[16], b[16], formula[48];
        lxw_rowcol_to_cell(a, 2, (lxw_col_t)c);
        lxw_rowcol_to_cell(b, r - 1, (lxw_col_t)c);
        snprintf(formula, sizeof formula, "=SUM(%s:%s)", a, b);
        /* The cached result lets readers that do not recalculate see the sum. */
        worksheet_write_formula_num(ws, r, (lxw_col_t)c, formula, f->total[defs[c]->kind],
                                    sums[c]);
    }
}

static bool any_sum(const col_def_t **defs, int ncol)
{
    for (int c = 1; c < ncol; c++)
        if (defs[c] && defs[c]->sum)
            return true;
    return false;
}

/* The report's columns and rows, checked before any file is made. */
static int check_report(const cJSON *report, char *err, size_t errlen)
{
    const cJSON *columns = cJSON_GetObjectItemCaseSensitive(report, "columns");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(report, "rows");
    int ncol = cJSON_GetArraySize(columns);
    if (!cJSON_IsArray(columns) || ncol < 1 || ncol > 64 || !cJSON_IsArray(rows))
        return cm_fail(err, errlen, CM_ERR_INVALID, "report: no columns to write");
    return CM_OK;
}

/* Fill wb with the report's sheet and close it (which writes the file and
 * frees wb, also on failure). */
static int fill_and_close(lxw_workbook *wb, const cJSON *report, const ana_xlsx_meta_t *meta,
                          const char *path, char *err, size_t errlen)
{
    const cJSON *columns = cJSON_GetObjectItemCaseSensitive(report, "columns");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(report, "rows");
    int ncol = cJSON_GetArraySize(columns), nrows = cJSON_GetArraySize(rows);
    lxw_worksheet *ws = workbook_add_worksheet(wb, ana_xlsx_report_name(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(report, "report"))));
    fmts_t f;
    make_formats(wb, &f);
    const col_def_t *defs[64];
    double widths[64], sums[64];
    int counts[64];
    const cJSON *it;
    int c = 0;
    cJSON_ArrayForEach (it, columns) {
        const char *key = cJSON_IsString(it) ? it->valuestring : "";
        defs[c] = col_find(key);
        const char *label = defs[c] ? defs[c]->zh : key;
        worksheet_write_string(ws, 1, (lxw_col_t)c, label, f.head);
        widths[c] = text_width(label) + 2;
        sums[c] = 0;
        counts[c] = 0;
        c++;
    }
    title_row(ws, report, meta, ncol, &f);
    write_rows(ws, rows, defs, ncol, widths, sums, counts, &f);
    if (nrows > 0 && any_sum(defs, ncol))
        totals_row(ws, nrows, defs, ncol, sums, counts, &f);
    for (c = 0; c < ncol; c++)
        worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, widths[c] > 40 ? 40 : widths[c],
                             NULL);
    worksheet_freeze_panes(ws, 2, 0);
    lxw_error e = workbook_close(wb);
    if (e != LXW_NO_ERROR)
        return cm_fail(err, errlen, CM_ERR_IO, "cannot write %s: %s", path, lxw_strerror(e));
    return CM_OK;
}

int ana_xlsx_write(const char *path, const cJSON *report, const ana_xlsx_meta_t *meta, char *err,
                   size_t errlen)
{
    int rc = check_report(report, err, errlen);
    if (rc)
        return rc;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return cm_fail(err, errlen, CM_ERR_INVALID, "path too long");
    /* Try the path first: the library would print its own message and give
     * only "usually a permissions error" back. */
    FILE *probe = fopen(tmp, "wb");
    if (!probe)
        return cm_fail(err, errlen, CM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    fclose(probe);
    lxw_workbook *wb = workbook_new(tmp);
    if (!wb) {
        remove(tmp);
        return cm_fail(err, errlen, CM_ERR_NOMEM, "cannot start a workbook");
    }
    rc = fill_and_close(wb, report, meta, path, err, errlen);
    if (!rc && rename(tmp, path))
        rc = cm_fail(err, errlen, CM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    if (rc)
        remove(tmp);
    return rc;
}

/* The whole of an open file into a malloc'd buffer. */
static int slurp(int fd, const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return cm_fail(err, errlen, CM_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = malloc(size ? (size_t)size : 1);
    if (!buf)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t n = read(fd, buf + got, (size_t)size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return cm_fail(err, errlen, CM_ERR_IO, "%s: %s", path,
                           n < 0 ? strerror(errno) : "shorter than expected");
        }
        got += (size_t)n;
    }
    *out = buf;
    *len = got;
    return CM_OK;
}

int ana_xlsx_bytes(const char *tmpdir, const cJSON *report, const ana_xlsx_meta_t *meta,
                   char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    int rc = check_report(report, err, errlen);
    if (!rc)
        rc = cm_mkdir_p(tmpdir, err, errlen);
    if (rc)
        return rc;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/report-XXXXXX", tmpdir) >= (int)sizeof path)
        return cm_fail(err, errlen, CM_ERR_INVALID, "%s: path too long", tmpdir);
    int fd = mkstemp(path);
    if (fd < 0)
        return cm_fail(err, errlen, CM_ERR_IO, "cannot create a file in %s: %s", tmpdir,
                       strerror(errno));
    close(fd); /* the library opens the path by name, and may replace the file */
    /* Its own scratch files go to tmpdir too, not to the system's /tmp. */
    lxw_workbook_options opts = {.tmpdir = (char *)tmpdir};
    lxw_workbook *wb = workbook_new_opt(path, &opts);
    if (!wb)
        rc = cm_fail(err, errlen, CM_ERR_NOMEM, "cannot start a workbook");
    else
        rc = fill_and_close(wb, report, meta, path, err, errlen);
    if (!rc) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        rc = fd < 0 ? cm_fail(err, errlen, CM_ERR_IO, "%s: %s", path, strerror(errno))
                    : slurp(fd, path, out, len, err, errlen);
        if (fd >= 0)
            close(fd);
    }
    unlink(path);
    return rc;
}
