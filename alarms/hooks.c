/* Hooks to other channels: run a command (argv from configuration, no shell)
 * or POST a webhook when an alarm transition reaches a level. Neither blocks
 * the engine: commands are spawned and reaped later, webhooks go out on the
 * event loop. A command past its time is killed. */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "alarms/internal.h"

extern char **environ;

#define HOOK_ARGS 16
#define MAX_CHILDREN 16

typedef struct hook {
    int min_level;
    bool on_raised, on_cleared, on_other;
    char *argv[HOOK_ARGS + 1]; /* owned strings; argv[0] NULL: no command */
    char url[256];             /* "" : no webhook */
    int timeout_s;
} hook_t;

typedef struct child {
    pid_t pid;
    int64_t deadline_ms;
} child_t;

#define MAX_POSTS 16

/* A webhook in flight. Its connection is ours to free, outside libevent's
 * callbacks: when done (reap) or at the end (free), whatever the outcome. */
typedef struct post {
    struct evhttp_connection *conn;
    bool done;
    char url[256];
} post_t;

struct alarm_hooks {
    hook_t hooks[ALARM_MAX_HOOKS];
    int n;
    child_t children[MAX_CHILDREN];
    post_t posts[MAX_POSTS];
};

static int read_events(const cfg_sec_t *h, hook_t *k, char *err, size_t errlen)
{
    int n;
    int rc = cfg_array_len(h, "events", &n, err, errlen);
    if (rc)
        return rc;
    if (n == 0) {
        k->on_raised = true;
        return CM_OK;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(h->node, "events"), *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsString(v))
            return cfg_error(h, "events", err, errlen, "expected names of transitions");
        if (!strcmp(v->valuestring, "raised"))
            k->on_raised = true;
        else if (!strcmp(v->valuestring, "cleared"))
            k->on_cleared = true;
        else if (!strcmp(v->valuestring, "escalated") || !strcmp(v->valuestring, "unshelved"))
            k->on_other = true;
        else
            return cfg_error(h, "events", err, errlen,
                             "expected raised, cleared, escalated or unshelved");
    }
    return CM_OK;
}

static int read_hook(const cfg_sec_t *h, hook_t *k, char *err, size_t errlen)
{
    char level[16];
    int rc = cfg_get_string(h, "min_level", false, "serious", level, sizeof level, err, errlen);
    if (!rc && alarm_level_parse(level, &k->min_level))
        rc = cfg_error(h, "min_level", err, errlen, "expected notice, warning or serious");
    if (!rc)
        rc = cfg_get_string(h, "webhook", false, "", k->url, sizeof k->url, err, errlen);
    if (!rc && k->url[0] && strncmp(k->url, "http://", 7) != 0)
        rc = cfg_error(h, "webhook", err, errlen, "expected an http:// URL");
    if (!rc)
        rc = cfg_get_int(h, "timeout_s", false, 10, 1, 600, &k->timeout_s, err, errlen);
    if (!rc)
        rc = read_events(h, k, err, errlen);
    if (rc)
        return rc;
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(h->node, "command"), *v;
    if (cmd && (!cJSON_IsArray(cmd) || cJSON_GetArraySize(cmd) < 1 ||
                cJSON_GetArraySize(cmd) > HOOK_ARGS))
        return cfg_error(h, "command", err, errlen,
                         "expected an array of 1..%d strings: the program and its arguments",
                         HOOK_ARGS);
    int i = 0;
    cJSON_ArrayForEach(v, cmd)
    {
        if (!cJSON_IsString(v) || !*v->valuestring)
            return cfg_error(h, "command", err, errlen, "every item must be a non-empty string");
        if (!(k->argv[i++] = strdup(v->valuestring)))
            return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    }
    if (!k->argv[0] && !k->url[0])
        return cfg_error(h, "command", err, errlen, "a hook needs a command or a webhook");
    return CM_OK;
}

alarm_hooks_t *alarm_hooks_new(const cfg_t *cfg, char *err, size_t errlen)
{
    alarm_hooks_t *h = calloc(1, sizeof *h);
    if (!h) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (!cfg)
        return h;
    cfg_sec_t root = cfg_root(cfg), al;
    int n = 0;
    int rc = cfg_section(&root, "alarms", &al, err, errlen);
    if (!rc)
        rc = cfg_array_len(&al, "hooks", &n, err, errlen);
    if (!rc && n > ALARM_MAX_HOOKS)
        rc = cfg_error(&al, "hooks", err, errlen, "at most %d hooks", ALARM_MAX_HOOKS);
    for (int i = 0; !rc && i < n; i++) {
        cfg_sec_t item;
        rc = cfg_array_item(&al, "hooks", i, &item, err, errlen);
        if (!rc)
            rc = read_hook(&item, &h->hooks[h->n++], err, errlen);
    }
    if (rc) {
        alarm_hooks_free(h);
        return NULL;
    }
    return h;
}

void alarm_hooks_free(alarm_hooks_t *h)
{
    if (!h)
        return;
    for (int i = 0; i < MAX_POSTS; i++)
        if (h->posts[i].conn)
            evhttp_connection_free(h->posts[i].conn); /* cancels a request still in flight */
    for (int i = 0; i < h->n; i++)
        for (int a = 0; h->hooks[i].argv[a]; a++)
            free(h->hooks[i].argv[a]);
    free(h);
}

static char *trans_json(const alarm_trans_t *t)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)t->alarm_id);
    cJSON_AddStringToObject(j, "event", t->kind);
    cJSON_AddNumberToObject(j, "type", t->type);
    cJSON_AddStringToObject(j, "type_name", alarm_type_name(t->type) ? alarm_type_name(t->type) : "?");
    cJSON_AddStringToObject(j, "label", alarm_type_label(t->type) ? alarm_type_label(t->type) : "?");
    cJSON_AddStringToObject(j, "level", alarm_level_name(t->level) ? alarm_level_name(t->level) : "?");
    cJSON_AddStringToObject(j, "source", t->source);
    cJSON_AddStringToObject(j, "detail", t->detail);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

static void spawn_command(alarm_hooks_t *h, const hook_t *k, const alarm_trans_t *t)
{
    int slot = 0;
    while (slot < MAX_CHILDREN && h->children[slot].pid)
        slot++;
    if (slot == MAX_CHILDREN) {
        log_warn("alarms", "hook %s skipped for alarm %lld: %d commands still running", k->argv[0],
                 (long long)t->alarm_id, MAX_CHILDREN);
        return;
    }
    /* The alarm goes in the environment: no shell ever sees it. */
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 8, sizeof *envp);
    char vars[6][640];
    char *json = trans_json(t);
    if (!envp || !json) {
        free(envp);
        cJSON_free(json);
        return;
    }
    snprintf(vars[0], sizeof vars[0], "COALMON_ALARM_ID=%lld", (long long)t->alarm_id);
    snprintf(vars[1], sizeof vars[1], "COALMON_ALARM_EVENT=%s", t->kind);
    snprintf(vars[2], sizeof vars[2], "COALMON_ALARM_TYPE=%s", alarm_type_name(t->type));
    snprintf(vars[3], sizeof vars[3], "COALMON_ALARM_LEVEL=%s", alarm_level_name(t->level));
    snprintf(vars[4], sizeof vars[4], "COALMON_ALARM_SOURCE=%s", t->source);
    snprintf(vars[5], sizeof vars[5], "COALMON_ALARM_JSON=%s", json);
    memcpy(envp, environ, nenv * sizeof *envp);
    for (int i = 0; i < 6; i++)
        envp[nenv + i] = vars[i];
    pid_t pid;
    int rc = posix_spawnp(&pid, k->argv[0], NULL, NULL, k->argv, envp);
    free(envp);
    cJSON_free(json);
    if (rc) {
        log_warn("alarms", "hook %s could not start: %s", k->argv[0], strerror(rc));
        return;
    }
    h->children[slot] = (child_t){pid, tm_mono_ms() + (int64_t)k->timeout_s * 1000};
}

static void webhook_done(struct evhttp_request *req, void *arg)
{
    post_t *p = arg;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code < 200 || code > 299)
        log_warn("alarms", "webhook %s answered %d", p->url, code);
    p->done = true;
}

static void post_webhook(alarm_hooks_t *h, struct event_base *base, const hook_t *k,
                         const alarm_trans_t *t)
{
    post_t *p = NULL;
    for (int i = 0; i < MAX_POSTS && !p; i++)
        if (!h->posts[i].conn)
            p = &h->posts[i];
    if (!p) {
        log_warn("alarms", "webhook %s skipped for alarm %lld: %d posts in flight", k->url,
                 (long long)t->alarm_id, MAX_POSTS);
        return;
    }
    struct evhttp_uri *uri = evhttp_uri_parse(k->url);
    const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
    char *body = trans_json(t);
    struct evhttp_request *req = NULL;
    if (host && body) {
        int port = evhttp_uri_get_port(uri);
        p->conn = evhttp_connection_base_new(base, NULL, host, (ev_uint16_t)(port > 0 ? port : 80));
    }
    if (p->conn) {
        evhttp_connection_set_timeout(p->conn, k->timeout_s);
        p->done = false;
        snprintf(p->url, sizeof p->url, "%s", k->url);
        req = evhttp_request_new(webhook_done, p);
    }
    if (req) {
        struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
        evhttp_add_header(hd, "Host", host);
        evhttp_add_header(hd, "Content-Type", "application/json; charset=utf-8");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
        const char *path = evhttp_uri_get_path(uri);
        const char *query = evhttp_uri_get_query(uri);
        char target[512];
        snprintf(target, sizeof target, "%s%s%s", path && *path ? path : "/", query ? "?" : "",
                 query ? query : "");
        if (evhttp_make_request(p->conn, req, EVHTTP_REQ_POST, target) != 0) {
            log_warn("alarms", "webhook %s could not be sent", k->url);
            p->done = true; /* make_request freed req */
        }
    } else {
        log_warn("alarms", "webhook %s: cannot make the request", k->url);
        if (p->conn)
            p->done = true;
    }
    cJSON_free(body);
    if (uri)
        evhttp_uri_free(uri);
}

static bool wants(const hook_t *k, const alarm_trans_t *t)
{
    if (t->level < k->min_level)
        return false;
    if (!strcmp(t->kind, "raised"))
        return k->on_raised;
    if (!strcmp(t->kind, "cleared"))
        return k->on_cleared;
    return (!strcmp(t->kind, "escalated") || !strcmp(t->kind, "unshelved")) && k->on_other;
}

void alarm_hooks_fire(alarm_hooks_t *h, struct event_base *base, const alarm_trans_t *t, int n)
{
    for (int i = 0; h && i < n; i++)
        for (int k = 0; k < h->n; k++) {
            if (!wants(&h->hooks[k], &t[i]))
                continue;
            if (h->hooks[k].argv[0])
                spawn_command(h, &h->hooks[k], &t[i]);
            if (h->hooks[k].url[0] && base)
                post_webhook(h, base, &h->hooks[k], &t[i]);
        }
}

void alarm_hooks_reap(alarm_hooks_t *h)
{
    int64_t now = tm_mono_ms();
    for (int i = 0; h && i < MAX_POSTS; i++)
        if (h->posts[i].conn && h->posts[i].done) {
            evhttp_connection_free(h->posts[i].conn);
            h->posts[i].conn = NULL;
        }
    for (int i = 0; h && i < MAX_CHILDREN; i++) {
        child_t *c = &h->children[i];
        if (!c->pid)
            continue;
        int status;
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid || r < 0) {
            if (r == c->pid && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                log_warn("alarms", "hook command (pid %d) failed with status %d", (int)c->pid, status);
            c->pid = 0;
        } else if (now > c->deadline_ms) {
            log_warn("alarms", "hook command (pid %d) ran past its time; killed", (int)c->pid);
            kill(c->pid, SIGKILL);
        }
    }
}
