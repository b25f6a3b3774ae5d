/* Uplink throughput on loopback (issue #5): records per second from the real
 * sender to the real receiver, one by one and batched, and the time to drain
 * a 30-day backlog (3 power gates + 1 belt station, 15-minute intervals).
 * Baseline, measured in the same run: the receiver's own work without HTTP
 * (decrypt, validate, store) — the ratio shows what the link costs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uplink/uplink.h"
#include "web/web.h"

#define MINE "001001001"
#define KEY "1234567890abcdef"
#define IV "abcdef1234567890"

typedef struct side {
    char dir[64], path[128];
    store_t *st;
} side_t;

static void side_open(side_t *s, const char *tag)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/coalmon-bench-%s-XXXXXX", tag);
    if (!mkdtemp(s->dir))
        exit(1);
    snprintf(s->path, sizeof s->path, "%s/b.db", s->dir);
    char err[256];
    if (!(s->st = store_open(s->path, NULL, err, sizeof err))) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
}

static void side_close(side_t *s)
{
    store_close(s->st);
    char p[160];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", s->path, sfx[i]);
        unlink(p);
    }
    rmdir(s->dir);
}

static int ent_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return upl_enterprise_put_job(db, MINE, "bench", "mine", KEY, IV, 0, err, errlen);
}

typedef struct fill_arg {
    int64_t t0;
    int days, n;
} fill_arg_t;

/* A backlog as the builders make it: powerGate x3 and coalOutput x1 per 15 min. */
static int fill_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    fill_arg_t *a = arg;
    static const char *const gates[] = {"gate-total", "gate-underground", "gate-transport"};
    int rc = CM_OK;
    for (int i = 0; !rc && i < a->days * 96; i++) {
        int64_t t = a->t0 + 900LL * i;
        char t0[24], t1[24], id[80];
        tm_format_bj(t, t0, sizeof t0);
        tm_format_bj(t + 900, t1, sizeof t1);
        for (int g = 0; !rc && g < 4; g++) {
            cJSON *r = cJSON_CreateObject();
            snprintf(id, sizeof id, "%s-%lld", g < 3 ? gates[g] : "belt-main", (long long)t);
            cJSON_AddStringToObject(r, "id", id);
            if (g < 3) {
                cJSON_AddStringToObject(r, "gateId", gates[g]);
                cJSON_AddNumberToObject(r, "gateType", g + 1);
            } else
                cJSON_AddStringToObject(r, "stationId", "belt-main");
            cJSON_AddStringToObject(r, "startTime", t0);
            cJSON_AddStringToObject(r, "endTime", t1);
            cJSON_AddNumberToObject(r, g < 3 ? "kwh" : "tons", 100.0 + i % 37);
            cJSON_AddNumberToObject(r, "pAvg", 400.5);
            rc = store_outbox_put(db, g < 3 ? "powerGate" : "coalOutput", id, r, false, err, errlen);
            cJSON_Delete(r);
            a->n++;
        }
    }
    return rc;
}

static void *serve(void *w)
{
    web_run(w, false);
    return NULL;
}

static int pending(store_t *st)
{
    char err[128];
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    sqlite3_stmt *s;
    int n = -1;
    if (db && !store_prepare(db, "SELECT (SELECT count(*) FROM uplink_delivery WHERE state <> 'sent')"
                                 " + (SELECT count(*) FROM outbox_record o WHERE NOT EXISTS (SELECT 1"
                                 " FROM uplink_delivery d WHERE d.seq = o.seq))", &s, err, sizeof err)) {
        if (sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    store_reader_close(db);
    return n;
}

/* Send a backlog of `days` through the real sender and receiver; returns seconds. */
static double run(int days, bool batch, int parallel, int *n_out)
{
    side_t mine, plat;
    side_open(&mine, "mine");
    side_open(&plat, "plat");
    char err[256];
    store_write(plat.st, ent_job, NULL, err, sizeof err);
    fill_arg_t fa = {.t0 = tm_now_s() - 86400LL * days, .days = days};
    store_write(mine.st, fill_job, &fa, err, sizeof err);
    static upl_cfg_t c; /* the routes keep a pointer */
    upl_cfg_default(&c);
    c.receiver = true;
    c.tick_ms = 50;
    web_opts_t wo;
    web_opts_default(&wo);
    wo.port = 0;
    web_t *w = web_new(&wo, err, sizeof err);
    web_ctx_t ctx = {.store = plat.st, .role = "platform", .version = "bench", .web = w};
    ctx.reader = store_reader_open(plat.st, err, sizeof err);
    web_register_uplink(w, &ctx, &c);
    pthread_t th;
    pthread_create(&th, NULL, serve, w);
    c.ndest = 1;
    upl_dest_t *d = &c.dest[0];
    snprintf(d->name, sizeof d->name, "bench");
    snprintf(d->url, sizeof d->url, "http://127.0.0.1:%d", web_port(w));
    snprintf(d->prefix, sizeof d->prefix, "cms");
    snprintf(d->mine_code, sizeof d->mine_code, MINE);
    snprintf(d->types, sizeof d->types, "*");
    d->batch = batch;
    d->batch_max = batch ? 100 : 1;
    d->parallel = parallel;
    d->backfill = true;
    upl_key_set(&d->key, KEY, IV, NULL, 0);
    int64_t t0 = tm_mono_ms();
    upl_sender_t *s = upl_sender_start(&c, NULL, mine.st, err, sizeof err);
    if (!s) {
        fprintf(stderr, "sender: %s\n", err);
        exit(1);
    }
    while (pending(mine.st) != 0)
        tm_sleep_ms(20);
    double secs = (double)(tm_mono_ms() - t0) / 1000.0;
    upl_sender_stop(s);
    web_stop(w);
    pthread_join(th, NULL);
    web_free(w);
    store_reader_close(ctx.reader);
    side_close(&mine);
    side_close(&plat);
    *n_out = fa.n;
    return secs;
}

/* Baseline: the receiver's work in-process, one record per job, no HTTP. */
typedef struct rx_arg {
    upl_cfg_t *c;
    upl_request_t rq;
    upl_answer_t ans;
} rx_arg_t;

static int rx_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    rx_arg_t *a = arg;
    return upl_receive_job(db, a->c, &a->rq, tm_now_ms(), &a->ans, err, errlen);
}

static double baseline(int n)
{
    side_t plat;
    side_open(&plat, "base");
    char err[256];
    store_write(plat.st, ent_job, NULL, err, sizeof err);
    upl_cfg_t c;
    upl_cfg_default(&c);
    upl_key_t k;
    upl_key_set(&k, KEY, IV, NULL, 0);
    int64_t t0 = tm_mono_ms();
    for (int i = 0; i < n; i++) {
        char rec[256], *tok, *data;
        snprintf(rec, sizeof rec,
                 "{\"id\":\"g-%d\",\"gateId\":\"gate-total\",\"gateType\":1,\"startTime\":"
                 "\"2026-11-01 00:00:00\",\"endTime\":\"2026-11-01 00:15:00\",\"kwh\":%d}", i, i);
        upl_token_make(&k, MINE, tm_now_s(), &tok, err, sizeof err);
        upl_encrypt(&k, rec, strlen(rec), &data, err, sizeof err);
        rx_arg_t a = {.c = &c, .rq = {.prefix = "cms", .record_type = "powerGate", .mine_code = MINE,
                                      .token = tok, .data = data, .body_len = 300}};
        store_write(plat.st, rx_job, &a, err, sizeof err);
        free(tok);
        free(data);
    }
    double secs = (double)(tm_mono_ms() - t0) / 1000.0;
    side_close(&plat);
    return n / secs;
}

int main(void)
{
    log_setup("bench_uplink", LOG_LVL_ERROR, false);
    int n1, n2, n3, n4, n5;
    double base = baseline(500);
    double one = run(1, false, 1, &n1);
    double par = run(1, false, 4, &n4);
    double bat = run(1, true, 1, &n2);
    double month = run(30, true, 1, &n3);
    double month1 = run(30, false, 4, &n5);
    printf("baseline: receiver in-process (decrypt, validate, store), one per job: %.0f records/s\n", base);
    printf("sender -> receiver over HTTP, one by one:  %d records in %.2f s = %.0f records/s (%.2f x baseline)\n",
           n1, one, n1 / one, n1 / one / base);
    printf("sender -> receiver over HTTP, one by one, 4 connections: %d records in %.2f s = %.0f records/s (%.1f x one connection)\n",
           n4, par, n4 / par, (n4 / par) / (n1 / one));
    printf("sender -> receiver over HTTP, batches of 100: %d records in %.2f s = %.0f records/s (%.1f x one by one)\n",
           n2, bat, n2 / bat, (n2 / bat) / (n1 / one));
    printf("30-day backlog (%d records, batched): drained in %.1f s\n", n3, month);
    printf("30-day backlog (%d records, one by one, 4 connections): drained in %.1f s\n", n5, month1);
    return 0;
}
