/* A small RFC 4180 CSV reader and writer (quotes, "" escapes, CRLF, BOM). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "intake/intake.h"

#define CSV_MAX_FIELDS 64

struct intake_csv {
    FILE *f;
    long long size, done;
    int line;      /* lines consumed so far */
    char *buf;     /* fields, NUL-separated */
    size_t cap;
    char *fields[CSV_MAX_FIELDS];
};

intake_csv_t *intake_csv_open(const char *path, char *err, size_t errlen)
{
    intake_csv_t *c = calloc(1, sizeof *c);
    if (!c) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->f = fopen(path, "rb");
    if (!c->f) {
        cm_fail(err, errlen, CM_ERR_IO, "%s: %s", path, strerror(errno));
        free(c);
        return NULL;
    }
    struct stat sb;
    if (fstat(fileno(c->f), &sb) == 0)
        c->size = sb.st_size;
    unsigned char bom[3];
    if (fread(bom, 1, 3, c->f) == 3 && bom[0] == 0xEF && bom[1] == 0xBB && bom[2] == 0xBF)
        c->done = 3;
    else
        rewind(c->f);
    return c;
}

static int put(intake_csv_t *c, size_t *len, char ch)
{
    if (*len + 1 >= c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        char *b = realloc(c->buf, cap);
        if (!b)
            return CM_ERR_NOMEM;
        c->buf = b;
        c->cap = cap;
    }
    c->buf[(*len)++] = ch;
    return CM_OK;
}

int intake_csv_next(intake_csv_t *c, char ***fields, int *line, char *err, size_t errlen)
{
    size_t len = 0, starts[CSV_MAX_FIELDS];
    int n = 0, ch;
    bool quoted = false, after_quote = false, any = false;
    starts[n++] = 0;
    *line = c->line + 1;
    while ((ch = fgetc(c->f)) != EOF) {
        c->done++;
        any = true;
        if (quoted) {
            if (ch == '"') {
                int next = fgetc(c->f);
                if (next == '"') {
                    c->done++;
                    if (put(c, &len, '"'))
                        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
                    continue;
                }
                if (next != EOF)
                    ungetc(next, c->f);
                quoted = false;
                after_quote = true;
                continue;
            }
            if (ch == '\n')
                c->line++;
            if (put(c, &len, (char)ch))
                return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
            continue;
        }
        if (ch == '\r')
            continue;
        if (ch == '\n') {
            c->line++;
            break;
        }
        if (ch == ',') {
            if (n == CSV_MAX_FIELDS)
                return cm_fail(err, errlen, CM_ERR_INVALID, "line %d: more than %d fields", *line,
                               CSV_MAX_FIELDS);
            if (put(c, &len, '\0'))
                return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
            starts[n++] = len;
            after_quote = false;
            continue;
        }
        if (ch == '"' && len == starts[n - 1] && !after_quote) {
            quoted = true;
            continue;
        }
        if (after_quote)
            return cm_fail(err, errlen, CM_ERR_INVALID, "line %d: text after a closing quote",
                           *line);
        if (put(c, &len, (char)ch))
            return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    }
    if (quoted)
        return cm_fail(err, errlen, CM_ERR_INVALID, "line %d: quote not closed", *line);
    if (!any)
        return 0;
    if (put(c, &len, '\0'))
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        c->fields[i] = c->buf + starts[i];
    *fields = c->fields;
    return n;
}

void intake_csv_progress(const intake_csv_t *c, long long *done, long long *total)
{
    *done = c->done;
    *total = c->size;
}

void intake_csv_close(intake_csv_t *c)
{
    if (!c)
        return;
    if (c->f)
        fclose(c->f);
    free(c->buf);
    free(c);
}

static int grow(char **buf, size_t *len, size_t *cap, size_t more)
{
    if (*len + more + 1 <= *cap)
        return CM_OK;
    size_t n = *cap ? *cap : 256;
    while (n < *len + more + 1)
        n *= 2;
    char *b = realloc(*buf, n);
    if (!b)
        return CM_ERR_NOMEM;
    *buf = b;
    *cap = n;
    return CM_OK;
}

int intake_csv_append(char **buf, size_t *len, size_t *cap, const char *field, bool last)
{
    size_t n = strlen(field);
    bool quote = strpbrk(field, ",\"\r\n") != NULL;
    /* Worst case: every byte a quote (doubled), two quotes, a separator or CRLF. */
    if (grow(buf, len, cap, 2 * n + 4))
        return CM_ERR_NOMEM;
    char *o = *buf + *len;
    if (quote)
        *o++ = '"';
    for (const char *p = field; *p; p++) {
        if (*p == '"')
            *o++ = '"';
        *o++ = *p;
    }
    if (quote)
        *o++ = '"';
    if (last) {
        *o++ = '\r';
        *o++ = '\n';
    } else {
        *o++ = ',';
    }
    *o = '\0';
    *len = (size_t)(o - *buf);
    return CM_OK;
}
