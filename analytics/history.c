/* analytics: the interval history CSV of `coalmon import history` (format in
 * docs/analytics.md). Pure parsing; storing is ana_db_put_intervals(). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

enum { C_TIME, C_TONS, C_TRANSPORT, C_TOTAL, C_RUN, C_SUB, C_TRUSTED, C_N };
static const char *const col_names[C_N] = {"time",    "tons",    "transport_kwh", "total_kwh",
                                           "run_min", "sub_kwh", "trusted"};
#define N_REQUIRED 5
#define MAX_FIELDS 64

/* Split line (modified in place) at commas; trims spaces and quotes. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *end = strchr(p, ',');
        if (end)
            *end = 0;
        while (*p == ' ' || *p == '\t' || *p == '"')
            p++;
        size_t len = strlen(p);
        while (len &&
               (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '"' || p[len - 1] == '\r'))
            p[--len] = 0;
        f[n++] = p;
        if (!end)
            break;
        p = end + 1;
    }
    return n;
}

static int header(char *line, int idx[C_N], char *err, size_t errlen)
{
    char *f[MAX_FIELDS];
    int n = split(line, f, MAX_FIELDS);
    for (int c = 0; c < C_N; c++)
        idx[c] = -1;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C_N; c++)
            if (!strcmp(f[i], col_names[c]))
                idx[c] = i;
    for (int c = 0; c < N_REQUIRED; c++)
        if (idx[c] < 0)
            return cm_fail(err, errlen, CM_ERR_INVALID,
                           "line 1: the header has no column '%s' (needed: time, tons, "
                           "transport_kwh, total_kwh, run_min)",
                           col_names[c]);
    return CM_OK;
}

/* Empty = unknown (NAN). */
static int number(const char *s, double max, double *out)
{
    if (!*s) {
        *out = NAN;
        return CM_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v) || v < 0 || v > max)
        return CM_ERR_INVALID;
    *out = v;
    return CM_OK;
}

static int row(char *line, const int idx[C_N], ana_interval_t *iv, const char **field, char *msg,
               size_t msglen)
{
    char *f[MAX_FIELDS];
    int n = split(line, f, MAX_FIELDS);
    for (int c = 0; c < N_REQUIRED; c++)
        if (idx[c] >= n) {
            *field = col_names[c];
            snprintf(msg, msglen, "missing (the row has %d fields)", n);
            return CM_ERR_INVALID;
        }
    *field = "time";
    if (tm_parse_bj(f[idx[C_TIME]], &iv->start)) {
        snprintf(msg, msglen, "'%.40s' is not yyyy-MM-dd HH:mm (Beijing time)", f[idx[C_TIME]]);
        return CM_ERR_INVALID;
    }
    static const double max[C_N] = {0, 1e6, 1e8, 1e9, 60, 1e9, 1};
    double v[C_N];
    for (int c = C_TONS; c < C_N; c++) {
        v[c] = NAN;
        if (idx[c] < 0 || idx[c] >= n)
            continue;
        if (number(f[idx[c]], max[c], &v[c])) {
            *field = col_names[c];
            snprintf(msg, msglen, "'%.40s' is not a number in 0..%g", f[idx[c]], max[c]);
            return CM_ERR_INVALID;
        }
    }
    *iv = (ana_interval_t){.start = iv->start,
                           .tons = v[C_TONS],
                           .transport_kwh = v[C_TRANSPORT],
                           .total_kwh = v[C_TOTAL],
                           .sub_kwh = v[C_SUB],
                           .run_h = v[C_RUN] / 60.0,
                           .trusted = !(v[C_TRUSTED] == 0)};
    return CM_OK;
}

int ana_history_parse(const char *text, size_t len, ana_interval_t **out, size_t *n,
                      ana_csv_bad_fn bad, void *arg, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
        text += 3;
        len -= 3;
    }
    char *buf = malloc(len + 1);
    size_t cap = 1024, k = 0;
    ana_interval_t *iv = malloc(cap * sizeof *iv);
    if (!buf || !iv) {
        free(buf);
        free(iv);
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory reading the history");
    }
    memcpy(buf, text, len);
    buf[len] = 0;
    int idx[C_N], rc = CM_OK, lineno = 0;
    char *next = buf;
    while (next && *next) {
        char *line = next;
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        next = nl ? nl + 1 : NULL;
        lineno++;
        if (lineno == 1) {
            if ((rc = header(line, idx, err, errlen)))
                break;
            continue;
        }
        if (strspn(line, " \t\r,") == strlen(line))
            continue;
        if (k == cap) {
            ana_interval_t *bigger = realloc(iv, cap * 2 * sizeof *iv);
            if (!bigger) {
                rc = cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory at line %d", lineno);
                break;
            }
            iv = bigger;
            cap *= 2;
        }
        const char *field = "";
        char msg[160];
        if (row(line, idx, &iv[k], &field, msg, sizeof msg)) {
            if (bad)
                bad(lineno, field, msg, arg);
            continue;
        }
        k++;
    }
    free(buf);
    if (!rc && lineno == 0)
        rc = cm_fail(err, errlen, CM_ERR_INVALID, "the file is empty (a header row is needed)");
    if (rc) {
        free(iv);
        return rc;
    }
    *out = iv;
    *n = k;
    return CM_OK;
}
