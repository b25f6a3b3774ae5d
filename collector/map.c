/* Register maps: conf/meters/<model>.json into col_map_t. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"

static const char *const type_names[] = {"u16", "i16", "u32", "i32", "float32", "float64"};

int col_type_regs(col_type t)
{
    static const int regs[] = {1, 1, 2, 2, 2, 4};
    return (unsigned)t < 6 ? regs[t] : 1;
}

int col_type_parse(const char *s, col_type *out)
{
    for (int i = 0; i < 6; i++)
        if (strcmp(s, type_names[i]) == 0) {
            *out = (col_type)i;
            return CM_OK;
        }
    return CM_ERR_INVALID;
}

int col_order_parse(const char *s, col_type t, col_order_t *out)
{
    static const char *const forms[3][4] = {
        {"AB", "AB", "BA", "BA"},
        {"ABCD", "CDAB", "BADC", "DCBA"},
        {"ABCDEFGH", "GHEFCDAB", "BADCFEHG", "HGFEDCBA"},
    };
    int width = col_type_regs(t) == 1 ? 0 : col_type_regs(t) == 2 ? 1 : 2;
    for (int i = 0; i < 4; i++)
        if (strcmp(s, forms[width][i]) == 0) {
            /* 16-bit values have no words to swap. */
            out->word_swap = width > 0 && (i == 1 || i == 3);
            out->byte_swap = i >= 2;
            return CM_OK;
        }
    return CM_ERR_INVALID;
}

int col_ratio_of_quantity(const char *q)
{
    if (!strncmp(q, "voltage", 7))
        return COL_RATIO_PT;
    if (!strncmp(q, "current", 7))
        return COL_RATIO_CT;
    if (!strncmp(q, "active_power", 12) || !strncmp(q, "reactive_power", 14) ||
        !strncmp(q, "apparent_power", 14) || !strncmp(q, "energy", 6))
        return COL_RATIO_POWER;
    return COL_RATIO_NONE;
}

double col_ratio_factor(const col_point_t *p, double ct, double pt, double multiplier)
{
    switch (p->ratio) {
    case COL_RATIO_CT: return ct;
    case COL_RATIO_PT: return pt;
    case COL_RATIO_POWER: return ct * pt * multiplier;
    default: return 1;
    }
}

static int parse_address(const cfg_sec_t *s, int base, uint16_t *out, char *err,
                         size_t errlen)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(s->node, "address");
    long long v = -1;
    if (cJSON_IsNumber(a))
        v = (long long)a->valuedouble;
    else if (cJSON_IsString(a)) {
        char *end;
        v = strtoll(a->valuestring, &end, 0);
        if (*end)
            v = -1;
    } else if (!a)
        return cfg_error(s, "address", err, errlen, "required key is missing");
    v -= base;
    if (v < 0 || v > 65535)
        return cfg_error(s, "address", err, errlen,
                         "expected a register address 0..65535 (decimal or \"0x...\")");
    *out = (uint16_t)v;
    return CM_OK;
}

static int parse_point(const cfg_sec_t *s, int base, int default_fn, col_point_t *p,
                       char *err, size_t errlen)
{
    char type[16], order[16], fn[16];
    int rc = cfg_get_string(s, "name", true, NULL, p->name, sizeof p->name, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "quantity", false, p->name, p->quantity, sizeof p->quantity, err,
                            errlen);
    if (!rc)
        rc = cfg_get_string(s, "unit", false, "", p->unit, sizeof p->unit, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "label", false, "", p->label, sizeof p->label, err, errlen);
    if (!rc)
        rc = parse_address(s, base, &p->address, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "type", true, NULL, type, sizeof type, err, errlen);
    if (!rc && col_type_parse(type, &p->type))
        rc = cfg_error(s, "type", err, errlen,
                       "unknown type '%s' (u16, i16, u32, i32, float32, float64)", type);
    if (!rc)
        rc = cfg_get_string(s, "order", false,
                            col_type_regs(p->type) == 1   ? "AB"
                            : col_type_regs(p->type) == 2 ? "ABCD"
                                                          : "ABCDEFGH",
                            order, sizeof order, err, errlen);
    if (!rc && col_order_parse(order, p->type, &p->order))
        rc = cfg_error(s, "order", err, errlen, "byte order '%s' does not fit type %s", order,
                       type);
    if (!rc)
        rc = cfg_get_double(s, "scale", false, 1.0, -1e12, 1e12, &p->scale, err, errlen);
    if (!rc)
        rc = cfg_get_double(s, "offset", false, 0.0, -1e12, 1e12, &p->offset, err, errlen);
    if (!rc)
        rc = cfg_get_bool(s, "counter", false, false, &p->counter, err, errlen);
    /* An unsigned integer counter starts again from 0 past its register's range. */
    double range = p->type == COL_U16 ? 65536.0 : p->type == COL_U32 ? 4294967296.0 : 0;
    if (!rc)
        rc = cfg_get_double(s, "wrap", false, p->counter ? range * fabs(p->scale) : 0, 0, 1e15,
                            &p->wrap, err, errlen);
    if (!rc && p->wrap > 0 && !p->counter)
        rc = cfg_error(s, "wrap", err, errlen, "only a counter wraps (\"counter\": true)");
    char ratio[16];
    if (!rc)
        rc = cfg_get_string(s, "ratio", false, "auto", ratio, sizeof ratio, err, errlen);
    if (!rc) {
        static const char *const names[] = {"none", "ct", "pt", "ctpt"};
        p->ratio = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(ratio, names[i]))
                p->ratio = i;
        if (!strcmp(ratio, "auto"))
            p->ratio = col_ratio_of_quantity(p->quantity);
        if (p->ratio < 0)
            rc = cfg_error(s, "ratio", err, errlen, "expected auto, none, ct, pt or ctpt");
    }
    if (!rc)
        rc = cfg_get_string(s, "function", false, default_fn == COL_FN_INPUT ? "input" : "holding",
                            fn, sizeof fn, err, errlen);
    if (!rc) {
        if (strcmp(fn, "holding") == 0)
            p->fn = COL_FN_HOLDING;
        else if (strcmp(fn, "input") == 0)
            p->fn = COL_FN_INPUT;
        else
            rc = cfg_error(s, "function", err, errlen, "expected \"holding\" or \"input\"");
    }
    if (!rc && (int)p->address + col_type_regs(p->type) > 65536)
        rc = cfg_error(s, "address", err, errlen, "the value runs past register 65535");
    return rc;
}

static int parse_map(const cfg_t *cfg, col_map_t *map, char *err, size_t errlen)
{
    cfg_sec_t root = cfg_root(cfg);
    int base;
    char fn[16];
    memset(map, 0, sizeof *map);
    int rc = cfg_get_string(&root, "model", true, NULL, map->model, sizeof map->model, err, errlen);
    if (!rc)
        rc = cfg_get_string(&root, "vendor", false, "", map->vendor, sizeof map->vendor, err,
                            errlen);
    if (!rc)
        rc = cfg_get_int(&root, "max_registers", false, 100, 1, 125, &map->max_registers, err, errlen);
    if (!rc)
        rc = cfg_get_int(&root, "max_gap", false, 0, 0, 100, &map->max_gap, err, errlen);
    if (!rc)
        rc = cfg_get_int(&root, "address_base", false, 0, 0, 40001, &base, err, errlen);
    if (!rc)
        rc = cfg_get_string(&root, "function", false, "holding", fn, sizeof fn, err, errlen);
    if (rc)
        return rc;
    int n;
    if ((rc = cfg_array_len(&root, "points", &n, err, errlen)))
        return rc;
    if (n == 0)
        return cfg_error(&root, "points", err, errlen, "a map needs at least one point");
    if (n > COL_MAX_POINTS)
        return cfg_error(&root, "points", err, errlen, "at most %d points", COL_MAX_POINTS);
    for (int i = 0; i < n; i++) {
        cfg_sec_t ps;
        if ((rc = cfg_array_item(&root, "points", i, &ps, err, errlen)))
            return rc;
        if ((rc = parse_point(&ps, base, strcmp(fn, "input") == 0 ? COL_FN_INPUT : COL_FN_HOLDING,
                              &map->points[i], err, errlen)))
            return rc;
        for (int j = 0; j < i; j++)
            if (strcmp(map->points[j].name, map->points[i].name) == 0)
                return cfg_error(&ps, "name", err, errlen, "point '%s' is defined twice",
                                 map->points[i].name);
    }
    map->count = n;
    return CM_OK;
}

int col_map_load(const char *path, col_map_t *map, char *err, size_t errlen)
{
    cfg_t *cfg = cfg_load(path, err, errlen);
    if (!cfg)
        return CM_ERR_CONFIG;
    int rc = parse_map(cfg, map, err, errlen);
    cfg_free(cfg);
    return rc;
}

static void list_models(const char *dir, char *out, size_t len)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    size_t used = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0 && used + n < len) {
            used += (size_t)snprintf(out + used, len - used, "%s%.*s", used ? ", " : "",
                                     (int)(n - 5), e->d_name);
        }
    }
    closedir(d);
}

int col_map_load_model(const char *dir, const char *model, col_map_t *map, char *err,
                       size_t errlen)
{
    if (!*model || strchr(model, '/') || strstr(model, ".."))
        return cm_fail(err, errlen, CM_ERR_INVALID, "invalid meter model name '%s'", model);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.json", dir, model);
    FILE *f = fopen(path, "r");
    if (!f) {
        char models[512];
        list_models(dir, models, sizeof models);
        return cm_fail(err, errlen, CM_ERR_NOTFOUND,
                       "unknown meter model '%s' (no %s); known models: %s", model, path,
                       models[0] ? models : "none");
    }
    fclose(f);
    return col_map_load(path, map, err, errlen);
}
