/* GET /api/v1/server: the mine server's CPU, memory and disk (QRY-3), with
 * the last ten minutes sampled every five seconds for the dashboard's chart. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <event2/event.h>

#include "web/web.h"

#define SAMPLE_S 5
#define HISTORY 120

typedef struct sample {
    int64_t ts_ms;
    double cpu, mem, disk; /* percent used */
} sample_t;

/* The routes' state (web_state_new): touched only on the loop. */
typedef struct health {
    web_ctx_t *ctx;
    struct event *timer;
    unsigned long long last_busy, last_total;
    sample_t hist[HISTORY];
    int n, head;
} health_t;

/* Busy and total jiffies of all CPUs since boot. */
static int cpu_jiffies(unsigned long long *busy, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f)
        fclose(f);
    if (n < 4)
        return CM_ERR_IO;
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += v[i];
    *busy = *total - v[3] - v[4]; /* idle and iowait are not work */
    return CM_OK;
}

static long long meminfo_kb(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    long long v = -1;
    size_t klen = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            sscanf(line + klen + 1, "%lld", &v);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

static void data_dir(const health_t *h, char *out, size_t len)
{
    snprintf(out, len, "%s", store_path(h->ctx->store));
    char *slash = strrchr(out, '/');
    if (slash && slash != out)
        *slash = '\0';
    else if (!slash)
        snprintf(out, len, ".");
}

static double disk_used_pct(const char *dir, double *total_gb, double *free_gb)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0 || v.f_blocks == 0)
        return -1;
    double total = (double)v.f_blocks * v.f_frsize, avail = (double)v.f_bavail * v.f_frsize;
    double used = (double)(v.f_blocks - v.f_bfree) * v.f_frsize;
    if (total_gb)
        *total_gb = total / 1e9;
    if (free_gb)
        *free_gb = avail / 1e9;
    /* As df counts it: used over what non-root users could have. */
    return used + avail > 0 ? 100.0 * used / (used + avail) : -1;
}

static double mem_used_pct(void)
{
    long long total = meminfo_kb("MemTotal"), avail = meminfo_kb("MemAvailable");
    return total > 0 && avail >= 0 ? 100.0 * (double)(total - avail) / (double)total : -1;
}

static void take_sample(evutil_socket_t fd, short what, void *arg)
{
    health_t *h = arg;
    unsigned long long busy, total;
    sample_t s = {.ts_ms = tm_now_ms(), .cpu = -1};
    if (cpu_jiffies(&busy, &total) == CM_OK) {
        if (h->last_total && total > h->last_total)
            s.cpu = 100.0 * (double)(busy - h->last_busy) / (double)(total - h->last_total);
        h->last_busy = busy;
        h->last_total = total;
    }
    char dir[1024];
    data_dir(h, dir, sizeof dir);
    s.mem = mem_used_pct();
    s.disk = disk_used_pct(dir, NULL, NULL);
    if (s.cpu < 0)
        return; /* the first call only sets the baseline */
    h->hist[h->head] = s;
    h->head = (h->head + 1) % HISTORY;
    if (h->n < HISTORY)
        h->n++;
}

static void add_pct(cJSON *o, const char *key, double v)
{
    if (v < 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, (double)(long long)(v * 10 + 0.5) / 10);
}

static void server(web_req_t *req, void *arg)
{
    const health_t *h = arg;
    cJSON *j = cJSON_CreateObject();
    char buf[1024];
    tm_format_bj_iso_ms(tm_now_ms(), buf, sizeof buf);
    cJSON_AddStringToObject(j, "time", buf);
    if (gethostname(buf, sizeof buf) == 0)
        cJSON_AddStringToObject(j, "host", buf);
    cJSON *cpu = cJSON_AddObjectToObject(j, "cpu");
    add_pct(cpu, "used_pct", h->n ? h->hist[(h->head + HISTORY - 1) % HISTORY].cpu : -1);
    cJSON_AddNumberToObject(cpu, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    double load[3];
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) == 3) {
        cJSON *l = cJSON_AddArrayToObject(cpu, "load");
        for (int i = 0; i < 3; i++)
            cJSON_AddItemToArray(l, cJSON_CreateNumber(load[i]));
    }
    if (f)
        fclose(f);
    cJSON *mem = cJSON_AddObjectToObject(j, "memory");
    long long total = meminfo_kb("MemTotal"), avail = meminfo_kb("MemAvailable");
    cJSON_AddNumberToObject(mem, "total_mb", (double)(total / 1024));
    cJSON_AddNumberToObject(mem, "available_mb", (double)(avail / 1024));
    add_pct(mem, "used_pct", mem_used_pct());
    cJSON *disk = cJSON_AddObjectToObject(j, "disk");
    double tgb = 0, fgb = 0;
    data_dir(h, buf, sizeof buf);
    cJSON_AddStringToObject(disk, "path", buf);
    add_pct(disk, "used_pct", disk_used_pct(buf, &tgb, &fgb));
    cJSON_AddNumberToObject(disk, "total_gb", (double)(long long)(tgb * 10) / 10);
    cJSON_AddNumberToObject(disk, "free_gb", (double)(long long)(fgb * 10) / 10);
    struct stat st;
    if (stat(store_path(h->ctx->store), &st) == 0)
        cJSON_AddNumberToObject(disk, "database_mb", (double)(st.st_size / 1024 * 10 / 1024) / 10);
    f = fopen("/proc/uptime", "r");
    double up;
    if (f && fscanf(f, "%lf", &up) == 1)
        cJSON_AddNumberToObject(j, "uptime_s", (double)(long long)up);
    if (f)
        fclose(f);
    cJSON *hist = cJSON_AddArrayToObject(j, "history");
    for (int i = 0; i < h->n; i++) {
        const sample_t *s = &h->hist[(h->head + HISTORY - h->n + i) % HISTORY];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "ts_ms", (double)s->ts_ms);
        add_pct(o, "cpu", s->cpu);
        add_pct(o, "mem", s->mem);
        add_pct(o, "disk", s->disk);
        cJSON_AddItemToArray(hist, o);
    }
    web_reply_json(req, 200, j);
}

static void health_free(void *state)
{
    health_t *h = state;
    if (h->timer)
        event_free(h->timer);
}

int web_register_health(web_t *w, web_ctx_t *ctx)
{
    health_t *h = web_state_new(w, sizeof *h, health_free);
    if (!h)
        return CM_ERR_NOMEM;
    h->ctx = ctx;
    take_sample(-1, 0, h); /* baseline: the first figure comes SAMPLE_S later */
    struct timeval every = {SAMPLE_S, 0};
    h->timer = event_new(web_base(w), -1, EV_PERSIST, take_sample, h);
    if (!h->timer || event_add(h->timer, &every))
        return CM_ERR_NOMEM;
    return web_route(w, WEB_GET, "/api/v1/server", server, h);
}
