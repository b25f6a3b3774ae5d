/* Section "uplink" of the configuration, and the keys file it names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uplink/uplink.h"

void upl_cfg_default(upl_cfg_t *c)
{
    memset(c, 0, sizeof *c);
    c->tick_ms = 1000;
    c->timeout_s = 15;
    c->backoff_min_s = 5;
    c->backoff_max_s = 900;
    c->aside_after = 3;
    c->fresh_every = 4;
    c->interval_min = 15;
    c->catchup_days = 2;
    c->keep_days = 90;
    c->max_skew_s = 60;
    c->max_record_bytes = 1 << 20;
    c->silent_after_s = 1800;
}

const char *upl_dest_prefix(const upl_dest_t *d, const char *t)
{
    if (upl_schema_known(d->prefix, t))
        return d->prefix;
    return upl_schema_known("scyf", t) ? "scyf" : upl_schema_known("cms", t) ? "cms" : d->prefix;
}

bool upl_dest_takes(const upl_dest_t *d, const char *t)
{
    if (!strcmp(d->types, "*"))
        return true;
    size_t n = strlen(t);
    for (const char *p = d->types; (p = strstr(p, t)); p += n)
        if ((p == d->types || p[-1] == ',') && (p[n] == ',' || !p[n]))
            return true;
    return false;
}

int upl_keys_check_file(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st))
        return cm_fail(err, errlen, CM_ERR_IO, "%s: %s", path, strerror(errno));
    if (st.st_uid != geteuid())
        return cm_fail(err, errlen, CM_ERR_AUTH,
                       "%s: belongs to uid %u, not to this daemon's user (uid %u)", path,
                       (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return cm_fail(err, errlen, CM_ERR_AUTH,
                       "%s: keys are readable by group or others (mode %03o); run chmod 600 %s",
                       path, (unsigned)(st.st_mode & 0777), path);
    return CM_OK;
}

/* Join the "types" array into "a,b,c" ("*" when absent). */
static int read_types(const cfg_sec_t *s, char *out, size_t outlen, char *err, size_t errlen)
{
    int n;
    int rc = cfg_array_len(s, "types", &n, err, errlen);
    if (rc)
        return rc;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(s->node, "types"), *t;
    snprintf(out, outlen, "%s", n ? "" : "*");
    cJSON_ArrayForEach(t, arr)
    {
        if (!cJSON_IsString(t) || !*t->valuestring || strchr(t->valuestring, ','))
            return cfg_error(s, "types", err, errlen, "expected record type names");
        if (strlen(out) + strlen(t->valuestring) + 2 > outlen)
            return cfg_error(s, "types", err, errlen, "too many types");
        if (*out)
            strcat(out, ",");
        strcat(out, t->valuestring);
    }
    return CM_OK;
}

static int read_dest(const cfg_sec_t *s, upl_dest_t *d, char *err, size_t errlen)
{
    int bm;
    int rc = cfg_get_string(s, "name", true, NULL, d->name, sizeof d->name, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "url", true, NULL, d->url, sizeof d->url, err, errlen);
    if (!rc && strncmp(d->url, "http://", 7) && strncmp(d->url, "https://", 8) &&
        strcmp(d->url, "self"))
        rc = cfg_error(s, "url", err, errlen,
                       "expected http://host:port, https://host:port or self");
    if (!rc)
        rc = cfg_get_string(s, "prefix", false, "cms", d->prefix, sizeof d->prefix, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "mine_code", true, NULL, d->mine_code, sizeof d->mine_code, err,
                            errlen);
    if (!rc)
        rc = read_types(s, d->types, sizeof d->types, err, errlen);
    if (!rc)
        rc = cfg_get_bool(s, "batch", false, false, &d->batch, err, errlen);
    if (!rc)
        rc = cfg_get_int(s, "batch_max", false, 100, 1, UPL_BATCH_MAX, &bm, err, errlen);
    d->parallel = 1;
    if (!rc)
        rc = cfg_get_int(s, "parallel", false, 1, 1, UPL_MAX_PARALLEL, &d->parallel, err, errlen);
    if (!rc)
        rc = cfg_get_bool(s, "backfill", false, false, &d->backfill, err, errlen);
    if (!rc)
        rc = cfg_get_bool(s, "tls_verify", false, true, &d->tls_verify, err, errlen);
    if (!rc)
        rc = cfg_get_string(s, "ca_file", false, "", d->ca_file, sizeof d->ca_file, err, errlen);
    d->batch_max = d->batch ? bm : 1;
    return rc;
}

/* Keys for every destination from the keys file (kept out of the main configuration). */
static int read_keys(upl_cfg_t *c, char *err, size_t errlen)
{
    int rc = upl_keys_check_file(c->keys_file, err, errlen);
    if (rc)
        return rc;
    cfg_t *keys = cfg_load(c->keys_file, err, errlen);
    if (!keys)
        return CM_ERR_CONFIG;
    cfg_sec_t root = cfg_root(keys), s;
    for (int i = 0; !rc && i < c->ndest; i++) {
        char key[40], iv[40], e2[200];
        rc = cfg_section(&root, c->dest[i].name, &s, err, errlen);
        if (!rc && !s.node)
            rc = cfg_error(&root, c->dest[i].name, err, errlen,
                           "no key and iv for destination %s", c->dest[i].name);
        if (!rc)
            rc = cfg_get_string(&s, "key", true, NULL, key, sizeof key, err, errlen);
        if (!rc)
            rc = cfg_get_string(&s, "iv", true, NULL, iv, sizeof iv, err, errlen);
        if (!rc && upl_key_set(&c->dest[i].key, key, iv, e2, sizeof e2))
            rc = cfg_error(&s, "key", err, errlen, "%s", e2);
    }
    cfg_free(keys);
    return rc;
}

static int read_receiver(const cfg_sec_t *up, bool platform, upl_cfg_t *c, char *err,
                         size_t errlen)
{
    cfg_sec_t r;
    int v[3];
    int n = 0;
    int rc = cfg_section(up, "receiver", &r, err, errlen);
    if (!rc)
        rc = cfg_get_bool(&r, "enabled", false, platform, &c->receiver, err, errlen);
    if (!rc)
        rc = cfg_get_int(&r, "max_skew_s", false, 60, 1, 3600, &v[0], err, errlen);
    if (!rc)
        rc = cfg_get_int(&r, "max_record_bytes", false, 1 << 20, 1024, 64 << 20, &v[1], err, errlen);
    if (!rc)
        rc = cfg_get_int(&r, "silent_after_s", false, 1800, 60, 86400 * 30, &v[2], err, errlen);
    if (!rc)
        rc = cfg_array_len(&r, "forward_to", &n, err, errlen);
    if (rc)
        return rc;
    c->max_skew_s = v[0];
    c->max_record_bytes = (size_t)v[1];
    c->silent_after_s = v[2];
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r.node, "forward_to"))
    {
        bool known = false;
        for (int i = 0; cJSON_IsString(t) && i < c->ndest; i++)
            known |= !strcmp(c->dest[i].name, t->valuestring);
        if (!known)
            return cfg_error(&r, "forward_to", err, errlen, "names no destination");
        if (strlen(c->forward_to) + strlen(t->valuestring) + 2 > sizeof c->forward_to)
            return cfg_error(&r, "forward_to", err, errlen, "too long");
        if (*c->forward_to)
            strcat(c->forward_to, ",");
        strcat(c->forward_to, t->valuestring);
    }
    return CM_OK;
}

void upl_cfg_resolve_self(upl_cfg_t *c, const char *host, int port)
{
    for (int i = 0; i < c->ndest; i++)
        if (!strcmp(c->dest[i].url, "self") && (c->dest[i].self = true))
            snprintf(c->dest[i].url, sizeof c->dest[i].url, "http://%s:%d",
                     strcmp(host, "0.0.0.0") ? host : "127.0.0.1", port);
}

int upl_cfg_load(const cfg_t *cfg, upl_cfg_t *c, char *err, size_t errlen)
{
    upl_cfg_default(c);
    cfg_sec_t root = cfg_root(cfg), up, d;
    int v[9];
    char keys[512];
    int rc = cfg_section(&root, "uplink", &up, err, errlen);
    if (!rc)
        rc = cfg_get_bool(&up, "enabled", false, up.node != NULL, &c->enabled, err, errlen);
    if (!rc)
        rc = cfg_get_string(&up, "keys_file", false, "uplink-keys.json", keys, sizeof keys, err,
                            errlen);
    static const struct {
        const char *key;
        int min, max;
    } ints[] = {{"tick_ms", 50, 60000},       {"timeout_s", 1, 600},
                {"backoff_min_s", 1, 3600},   {"backoff_max_s", 1, 86400},
                {"aside_after", 1, 1000},     {"fresh_every", 2, 1000},
                {"interval_min", 1, 1440},    {"catchup_days", 0, 366},
                {"keep_days", 1, 3660}};
    const int defs[] = {c->tick_ms,     c->timeout_s,   c->backoff_min_s, c->backoff_max_s,
                        c->aside_after, c->fresh_every, c->interval_min,  c->catchup_days,
                        c->keep_days};
    for (int i = 0; !rc && i < 9; i++)
        rc = cfg_get_int(&up, ints[i].key, false, defs[i], ints[i].min, ints[i].max, &v[i], err,
                         errlen);
    if (!rc && 1440 % v[6])
        rc = cfg_error(&up, "interval_min", err, errlen, "must divide a day (e.g. 5, 15, 60)");
    int n = 0;
    if (!rc)
        rc = cfg_array_len(&up, "destinations", &n, err, errlen);
    if (!rc && n > UPL_MAX_DEST)
        rc = cfg_error(&up, "destinations", err, errlen, "at most %d", UPL_MAX_DEST);
    for (int i = 0; !rc && i < n; i++) {
        rc = cfg_array_item(&up, "destinations", i, &d, err, errlen);
        if (!rc)
            rc = read_dest(&d, &c->dest[i], err, errlen);
        for (int j = 0; !rc && j < i; j++)
            if (!strcmp(c->dest[i].name, c->dest[j].name))
                rc = cfg_error(&d, "name", err, errlen, "used twice");
        c->ndest = i + 1;
    }
    char role[16];
    if (!rc)
        rc = cfg_get_string(&root, "role", false, "mine", role, sizeof role, err, errlen);
    if (!rc)
        rc = read_receiver(&up, !strcmp(role, "platform"), c, err, errlen);
    c->build = strcmp(role, "platform") != 0;
    if (rc)
        return rc;
    int *fields[] = {&c->tick_ms,     &c->timeout_s,   &c->backoff_min_s, &c->backoff_max_s,
                     &c->aside_after, &c->fresh_every, &c->interval_min,  &c->catchup_days,
                     &c->keep_days};
    for (int i = 0; i < 9; i++)
        *fields[i] = v[i];
    if (cfg_resolve_path(cfg, keys, c->keys_file, sizeof c->keys_file))
        return cfg_error(&up, "keys_file", err, errlen, "the file's path is longer than %zu bytes",
                         sizeof c->keys_file - 1);
    return c->enabled && c->ndest ? read_keys(c, err, errlen) : CM_OK;
}
