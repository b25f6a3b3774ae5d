#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

struct cfg {
    char file[512];
    char dir[512];
    char *text; /* comments stripped, newlines kept: line numbers stay true */
    cJSON *root;
};

char *cfg_strip_comments(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (in_str) {
            out[o++] = c;
            if (c == '\\' && i + 1 < n)
                out[o++] = text[++i];
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
            out[o++] = c;
        } else if (c == '/' && text[i + 1] == '/') {
            while (i < n && text[i] != '\n')
                i++;
            if (i < n)
                out[o++] = '\n';
        } else if (c == '/' && text[i + 1] == '*') {
            i += 2;
            while (i < n && !(text[i] == '*' && text[i + 1] == '/')) {
                if (text[i] == '\n')
                    out[o++] = '\n';
                i++;
            }
            if (i >= n) {
                free(out);
                return NULL;
            }
            i++; /* skip '/' */
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return out;
}

static int line_at(const char *text, const char *pos)
{
    int line = 1;
    for (const char *p = text; p < pos && *p; p++)
        if (*p == '\n')
            line++;
    return line;
}

cfg_t *cfg_parse(const char *name, const char *text, char *err, size_t errlen)
{
    cfg_t *c = calloc(1, sizeof *c);
    if (!c) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    _Static_assert(sizeof c->dir == sizeof c->file, "the folder is cut from the file name");
    if (strlen(name) >= sizeof c->file) {
        cm_fail(err, errlen, CM_ERR_CONFIG, "%s: file name longer than %zu bytes", name,
                sizeof c->file - 1);
        free(c);
        return NULL;
    }
    snprintf(c->file, sizeof c->file, "%s", name);
    snprintf(c->dir, sizeof c->dir, "%s", name);
    char *slash = strrchr(c->dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(c->dir, sizeof c->dir, ".");
    c->text = cfg_strip_comments(text);
    if (!c->text) {
        cm_fail(err, errlen, CM_ERR_CONFIG, "%s: unterminated /* comment", name);
        cfg_free(c);
        return NULL;
    }
    const char *end = NULL;
    c->root = cJSON_ParseWithOpts(c->text, &end, true);
    if (!c->root) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        int line = at ? line_at(c->text, at) : 0;
        cm_fail(err, errlen, CM_ERR_CONFIG, "%s:%d: JSON syntax error near '%.20s'", name, line,
                at ? at : "");
        cfg_free(c);
        return NULL;
    }
    if (!cJSON_IsObject(c->root)) {
        cm_fail(err, errlen, CM_ERR_CONFIG, "%s:1: the top level must be an object", name);
        cfg_free(c);
        return NULL;
    }
    return c;
}

cfg_t *cfg_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cm_fail(err, errlen, CM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                cm_fail(err, errlen, CM_ERR_NOMEM, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, 4096, f);
        len += r;
        if (r < 4096)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        cm_fail(err, errlen, CM_ERR_IO, "%s: read error", path);
        return NULL;
    }
    buf[len] = '\0';
    cfg_t *c = cfg_parse(path, buf, err, errlen);
    free(buf);
    return c;
}

void cfg_free(cfg_t *cfg)
{
    if (!cfg)
        return;
    cJSON_Delete(cfg->root);
    free(cfg->text);
    free(cfg);
}

const char *cfg_file(const cfg_t *cfg) { return cfg->file; }
const char *cfg_dir(const cfg_t *cfg) { return cfg->dir; }

int cfg_resolve_path(const cfg_t *cfg, const char *p, char *out, size_t outlen)
{
    int n = p[0] == '/' ? snprintf(out, outlen, "%s", p) : snprintf(out, outlen, "%s/%s", cfg->dir, p);
    return n >= 0 && (size_t)n < outlen ? CM_OK : CM_ERR_CONFIG;
}

cfg_sec_t cfg_root(const cfg_t *cfg)
{
    cfg_sec_t s = {.cfg = cfg, .node = cfg->root};
    s.path[0] = '\0';
    return s;
}

/* ---- line numbers: a small scanner that follows key paths ---------- */

typedef struct scan_level {
    char type; /* '{' or '[' */
    size_t base_len;
    int idx;
    bool expect_elem;
} scan_level_t;

static const char *skip_string(const char *p, char *key, size_t keylen)
{
    size_t k = 0;
    p++; /* opening quote */
    while (*p && *p != '"') {
        if (*p == '\\' && p[1])
            p++;
        if (key && k + 1 < keylen)
            key[k++] = *p;
        p++;
    }
    if (key)
        key[k] = '\0';
    return *p ? p + 1 : p;
}

int cfg_line_of(const cfg_t *cfg, const char *target)
{
    scan_level_t st[64];
    int depth = 0;
    char path[512] = "";
    int line = 1;
    for (const char *p = cfg->text; *p;) {
        char c = *p;
        if (c == '\n') {
            line++;
            p++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            p++;
            continue;
        }
        scan_level_t *top = depth ? &st[depth - 1] : NULL;
        if (top && top->type == '[' && top->expect_elem && c != ']') {
            snprintf(path + top->base_len, sizeof path - top->base_len, "[%d]", top->idx);
            top->expect_elem = false;
            if (strcmp(path, target) == 0)
                return line;
        }
        if (c == '"') {
            char key[128];
            const char *q = skip_string(p, key, sizeof key);
            const char *r = q;
            while (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n')
                r++;
            if (top && top->type == '{' && *r == ':') {
                snprintf(path + top->base_len, sizeof path - top->base_len, "%s%s",
                         top->base_len ? "." : "", key);
                if (strcmp(path, target) == 0)
                    return line;
            }
            p = q;
            continue;
        }
        if ((c == '{' || c == '[') && depth < 64) {
            st[depth++] = (scan_level_t){.type = c, .base_len = strlen(path), .expect_elem = c == '['};
        } else if (c == '}' || c == ']') {
            if (depth) {
                depth--;
                path[st[depth].base_len] = '\0';
            }
        } else if (c == ',' && top && top->type == '[') {
            top->idx++;
            top->expect_elem = true;
            path[top->base_len] = '\0';
        }
        p++;
    }
    return 0;
}

/* ---- typed access --------------------------------------------------- */

/* The dotted path of key under s; false when it does not fit (out is then cut). */
static bool child_path(const cfg_sec_t *s, const char *key, char *out, size_t len)
{
    int n = s->path[0] ? snprintf(out, len, "%s.%s", s->path, key) : snprintf(out, len, "%s", key);
    return n >= 0 && (size_t)n < len;
}

#define PATH_TOO_LONG "the key path is longer than 191 bytes (nested too deep)"

static int report(const cfg_t *cfg, const char *path, char *err, size_t errlen, const char *msg)
{
    int line = cfg_line_of(cfg, path);
    if (line > 0)
        return cm_fail(err, errlen, CM_ERR_CONFIG, "%s:%d: %s: %s", cfg->file, line, path, msg);
    return cm_fail(err, errlen, CM_ERR_CONFIG, "%s: %s: %s", cfg->file, path, msg);
}

int cfg_error(const cfg_sec_t *s, const char *key, char *err, size_t errlen, const char *fmt, ...)
{
    char path[256], msg[512];
    /* A message only: a path cut at 255 bytes still names the place. */
    if (key)
        (void)child_path(s, key, path, sizeof path);
    else
        snprintf(path, sizeof path, "%s", s->path[0] ? s->path : "(top level)");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return report(s->cfg, path, err, errlen, msg);
}

static const cJSON *item(const cfg_sec_t *s, const char *key)
{
    return s->node ? cJSON_GetObjectItemCaseSensitive(s->node, key) : NULL;
}

int cfg_section(const cfg_sec_t *parent, const char *key, cfg_sec_t *out, char *err, size_t errlen)
{
    const cJSON *n = item(parent, key);
    out->cfg = parent->cfg;
    out->node = NULL;
    if (!child_path(parent, key, out->path, sizeof out->path))
        return cfg_error(parent, key, err, errlen, PATH_TOO_LONG);
    if (!n)
        return CM_OK;
    if (!cJSON_IsObject(n))
        return cfg_error(parent, key, err, errlen, "expected an object");
    out->node = n;
    return CM_OK;
}

int cfg_array_len(const cfg_sec_t *parent, const char *key, int *n, char *err, size_t errlen)
{
    const cJSON *a = item(parent, key);
    *n = 0;
    if (!a)
        return CM_OK;
    if (!cJSON_IsArray(a))
        return cfg_error(parent, key, err, errlen, "expected an array");
    *n = cJSON_GetArraySize(a);
    return CM_OK;
}

int cfg_array_item(const cfg_sec_t *parent, const char *key, int i, cfg_sec_t *out, char *err,
                   size_t errlen)
{
    const cJSON *a = item(parent, key);
    char path[sizeof out->path];
    out->cfg = parent->cfg;
    int n = -1;
    if (child_path(parent, key, path, sizeof path))
        n = snprintf(out->path, sizeof out->path, "%s[%d]", path, i);
    if (n < 0 || (size_t)n >= sizeof out->path)
        return cfg_error(parent, key, err, errlen, PATH_TOO_LONG);
    out->node = a ? cJSON_GetArrayItem(a, i) : NULL;
    if (!out->node || !cJSON_IsObject(out->node))
        return report(parent->cfg, out->path, err, errlen, "expected an object");
    return CM_OK;
}

static int missing(const cfg_sec_t *s, const char *key, char *err, size_t errlen)
{
    return cfg_error(s, key, err, errlen, "required key is missing");
}

int cfg_get_int64(const cfg_sec_t *s, const char *key, bool required, int64_t def, int64_t min,
                  int64_t max, int64_t *out, char *err, size_t errlen)
{
    assert(min <= max && (required || (min <= def && def <= max))); /* else a bug of the caller */
    const cJSON *n = item(s, key);
    if (!n) {
        *out = def;
        return required ? missing(s, key, err, errlen) : CM_OK;
    }
    double v = n->valuedouble;
    if (!cJSON_IsNumber(n) || v != floor(v) || v < (double)min || v > (double)max)
        return cfg_error(s, key, err, errlen, "expected an integer in %lld..%lld", (long long)min,
                         (long long)max);
    *out = (int64_t)v;
    return CM_OK;
}

int cfg_get_int(const cfg_sec_t *s, const char *key, bool required, int def, int min, int max,
                int *out, char *err, size_t errlen)
{
    int64_t v = def; /* cfg_get_int64 leaves it alone on some errors */
    int rc = cfg_get_int64(s, key, required, def, min, max, &v, err, errlen);
    if (!rc)
        *out = (int)v; /* within min..max, so within int */
    return rc;
}

int cfg_get_double(const cfg_sec_t *s, const char *key, bool required, double def, double min,
                   double max, double *out, char *err, size_t errlen)
{
    const cJSON *n = item(s, key);
    if (!n) {
        *out = def;
        return required ? missing(s, key, err, errlen) : CM_OK;
    }
    if (!cJSON_IsNumber(n) || !isfinite(n->valuedouble) || n->valuedouble < min ||
        n->valuedouble > max)
        return cfg_error(s, key, err, errlen, "expected a number in %g..%g", min, max);
    *out = n->valuedouble;
    return CM_OK;
}

int cfg_get_bool(const cfg_sec_t *s, const char *key, bool required, bool def, bool *out,
                 char *err, size_t errlen)
{
    const cJSON *n = item(s, key);
    if (!n) {
        *out = def;
        return required ? missing(s, key, err, errlen) : CM_OK;
    }
    if (!cJSON_IsBool(n))
        return cfg_error(s, key, err, errlen, "expected true or false");
    *out = cJSON_IsTrue(n);
    return CM_OK;
}

int cfg_get_string(const cfg_sec_t *s, const char *key, bool required, const char *def, char *out,
                   size_t outlen, char *err, size_t errlen)
{
    const cJSON *n = item(s, key);
    const char *v = def ? def : "";
    if (n) {
        if (!cJSON_IsString(n))
            return cfg_error(s, key, err, errlen, "expected a string");
        v = n->valuestring;
    } else if (required) {
        return missing(s, key, err, errlen);
    }
    if (strlen(v) >= outlen)
        return cfg_error(s, key, err, errlen, "longer than %zu characters", outlen - 1);
    memcpy(out, v, strlen(v) + 1);
    return CM_OK;
}
