/* Field readers with errors that name the field, and small SQL helpers. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake/internal.h"

int intake_fault_set(intake_fault_t *f, const char *field, const char *fmt, ...)
{
    if (f) {
        snprintf(f->field, sizeof f->field, "%s", field);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->msg, sizeof f->msg, fmt, ap);
        va_end(ap);
    }
    return CM_ERR_INVALID;
}

int intake_get_str(const cJSON *o, const char *key, bool required, char *out, size_t outlen,
                   intake_fault_t *f)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && !v->valuestring[strspn(v->valuestring, " \t")])) {
        if (required)
            return intake_fault_set(f, key, "%s is required", key);
        return CM_OK;
    }
    if (!cJSON_IsString(v))
        return intake_fault_set(f, key, "%s must be a string", key);
    const char *s = v->valuestring;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    if (n >= outlen)
        return intake_fault_set(f, key, "%s is longer than %zu bytes", key, outlen - 1);
    memcpy(out, s, n);
    out[n] = '\0';
    return CM_OK;
}

int intake_get_num(const cJSON *o, const char *key, bool required, bool text_numbers, double lo,
                   double hi, double *out, intake_fault_t *f)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    double d;
    if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && text_numbers && !v->valuestring[0])) {
        if (required)
            return intake_fault_set(f, key, "%s is required", key);
        return CM_OK;
    }
    if (cJSON_IsNumber(v)) {
        d = v->valuedouble;
    } else if (cJSON_IsString(v) && text_numbers) {
        char *end;
        d = strtod(v->valuestring, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (end == v->valuestring || *end)
            return intake_fault_set(f, key, "%s: '%s' is not a number", key, v->valuestring);
    } else {
        return intake_fault_set(f, key, "%s must be a number", key);
    }
    if (!isfinite(d) || d < lo || d > hi)
        return intake_fault_set(f, key, "%s = %g is outside %g..%g", key, d, lo, hi);
    *out = d;
    return CM_OK;
}

int intake_get_time(const cJSON *o, const char *key, bool required, int64_t *out, intake_fault_t *f)
{
    char s[40] = "";
    int rc = intake_get_str(o, key, required, s, sizeof s, f);
    if (rc || !s[0])
        return rc;
    if (tm_parse_bj(s, out))
        return intake_fault_set(f, key, "%s: '%s' is not a time \"yyyy-MM-dd HH:mm:ss\" (Beijing)",
                                key, s);
    return CM_OK;
}

void intake_add_col_text(cJSON *o, const char *key, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (t)
        cJSON_AddStringToObject(o, key, (const char *)t);
    else
        cJSON_AddNullToObject(o, key);
}
