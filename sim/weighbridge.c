/* The weighbridge and exit-camera simulator (see weighbridge.h). */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "intake/intake.h"
#include "sim/weighbridge.h"

#define FLEET 48

void sim_wb_opts_default(sim_wb_opts_t *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    o->port = 8080;
    o->trucks_per_hour = 30;
    o->speed = 1;
    snprintf(o->point, sizeof o->point, "E1");
    snprintf(o->bridge, sizeof o->bridge, "WB1");
    o->seed = 1;
    o->retry_s = 10;
}

int sim_wb_parse_mistakes(sim_wb_opts_t *o, const char *list, char *err, size_t errlen)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        double p = 0.1;
        char *eq = strchr(tok, '=');
        if (eq) {
            *eq = '\0';
            char *end;
            p = strtod(eq + 1, &end);
            if (*end || p < 0 || p > 1)
                return cm_fail(err, errlen, CM_ERR_INVALID, "--mistakes: %s needs a chance 0..1", tok);
        }
        double *slot = !strcmp(tok, "ocr") ? &o->ocr : !strcmp(tok, "escape") ? &o->escape
                     : !strcmp(tok, "badnet") ? &o->badnet : !strcmp(tok, "dup") ? &o->dup
                     : !strcmp(tok, "correct") ? &o->correct : !strcmp(tok, "empty") ? &o->empty
                     : NULL;
        if (!slot)
            return cm_fail(err, errlen, CM_ERR_INVALID,
                           "--mistakes: unknown '%s' (ocr, escape, badnet, dup, correct, empty)", tok);
        *slot = p;
    }
    return CM_OK;
}

/* ---- randomness and the fleet ------------------------------------------------ */

/* xorshift32: consecutive draws of a plain LCG made neighbouring plates alike. */
static double rnd(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x / 4294967296.0;
}

static double uniform(uint32_t *s, double a, double b) { return a + (b - a) * rnd(s); }

static void make_plate(uint32_t *s, char *out, size_t len)
{
    static const char *const prov[] = {"晋", "晋", "晋", "晋", "晋", "陕", "蒙", "冀", "豫"};
    static const char serial[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    const char *p = prov[(int)(rnd(s) * 9)];
    char letter = (char)('A' + (int)(rnd(s) * 12));
    if (letter == 'I')
        letter = 'K';
    double kind = rnd(s);
    char tail[8];
    int n = kind < 0.2 ? 4 : kind < 0.3 ? 6 : 5; /* trailer, new energy, ordinary */
    for (int i = 0; i < n; i++)
        tail[i] = i < 2 || kind < 0.2 ? serial[(int)(rnd(s) * 34)] : serial[(int)(rnd(s) * 10)];
    tail[n] = '\0';
    if (n == 6)
        tail[0] = 'D'; /* new energy: D after the letter */
    snprintf(out, len, "%s%c%s%s", p, letter, tail, n == 4 ? "挂" : "");
}

/* One misread: a confusable glyph swapped, or a character lost. */
static void misread(uint32_t *s, const char *plate, char *out, size_t len)
{
    static const char *const pairs[] = {"0D", "D0", "8B", "B8", "2Z", "Z2", "5S", "S5", "6G", "G6", "0Q"};
    size_t start = 3, n = strlen(plate); /* after the province character (3 bytes in UTF-8) */
    snprintf(out, len, "%s", plate);
    for (int tries = 0; tries < 12; tries++) {
        size_t i = start + (size_t)(rnd(s) * (double)(n - start));
        if ((unsigned char)out[i] >= 0x80)
            continue;
        for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
            if (out[i] == pairs[k][0]) {
                out[i] = pairs[k][1];
                return;
            }
    }
    size_t i = start + 1 + (size_t)(rnd(s) * 3); /* no confusable glyph: drop one */
    memmove(out + i, out + i + 1, strlen(out + i + 1) + 1);
}

/* Chance of a truck in this hour: the night shift (00-08) loads a third. */
static double hour_factor(int64_t t)
{
    int y, mo, d, h, mi, s;
    tm_epoch_to_bj(t, &y, &mo, &d, &h, &mi, &s);
    return h < 8 ? 0.35 : (h == 12 ? 0.6 : 1.0);
}

/* ---- HTTP ------------------------------------------------------------------------ */

static int post(const sim_wb_opts_t *o, const char *path, const cJSON *body, int *status)
{
    char port[16], head[512];
    snprintf(port, sizeof port, "%d", o->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(o->host, port, &hints, &ai))
        return CM_ERR_IO;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    struct timeval tv = {10, 0};
    int rc = fd < 0 ? CM_ERR_IO : CM_OK;
    if (!rc) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen))
            rc = CM_ERR_IO;
    }
    freeaddrinfo(ai);
    char *text = cJSON_PrintUnformatted(body);
    if (!rc && text) {
        int n = snprintf(head, sizeof head,
                         "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                         "X-Api-Key: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                         path, o->host, o->port, o->key, strlen(text));
        if (write(fd, head, (size_t)n) != n || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
            rc = CM_ERR_IO;
    }
    char reply[64] = "";
    size_t got = 0;
    int waited_ms = 0;
    while (!rc && got + 1 < sizeof reply) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, 100);
        if (ready == 0) {
            waited_ms += 100;
            if ((o->stop && *o->stop) || waited_ms >= 10000)
                break;
            continue;
        }
        ssize_t k = read(fd, reply + got, sizeof reply - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    reply[got] = '\0';
    if (!rc && sscanf(reply, "HTTP/1.%*d %d", status) != 1)
        rc = CM_ERR_PROTOCOL;
    cJSON_free(text);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- one truck --------------------------------------------------------------------- */

typedef struct truck {
    char plate[40];
    double tare;
    int last_trip; /* trip number of its last exit */
} truck_t;

static double r2(double v) { return round(v * 50) / 50; } /* the bridge's 20 kg division */

static cJSON *ticket_json(const sim_wb_opts_t *o, const truck_t *t, uint32_t *s, int64_t gross_at,
                          double net_target, int *seq)
{
    static const char *const mats[] = {"原煤", "原煤", "原煤", "原煤", "原煤", "原煤", "原煤", "原煤", "块煤", "矸石"};
    const char *mat = mats[(int)(rnd(s) * 10)];
    double tare = r2(t->tare + uniform(s, -0.1, 0.1)), gross = r2(tare + net_target);
    char id[64], tt[32], gt[32];
    int y, mo, d, h, mi, sec;
    tm_epoch_to_bj(gross_at, &y, &mo, &d, &h, &mi, &sec);
    snprintf(id, sizeof id, "%s-%04d%02d%02d-%02d%02d%02d-%03d", o->bridge, y, mo, d, h, mi, sec,
             (*seq)++ % 1000);
    tm_format_bj(gross_at - (int64_t)uniform(s, 1500, 2700), tt, sizeof tt);
    tm_format_bj(gross_at, gt, sizeof gt);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "ticketId", id);
    cJSON_AddStringToObject(j, "plate", t->plate);
    cJSON_AddStringToObject(j, "vehicleType", strstr(t->plate, "挂") ? "半挂牵引车" : "重型自卸货车");
    cJSON_AddStringToObject(j, "material", mat);
    cJSON_AddStringToObject(j, "direction", "out");
    cJSON_AddStringToObject(j, "tareTime", tt);
    cJSON_AddStringToObject(j, "grossTime", gt);
    cJSON_AddNumberToObject(j, "gross", gross);
    cJSON_AddNumberToObject(j, "tare", tare);
    cJSON_AddNumberToObject(j, "net", round((gross - tare) * 100) / 100);
    cJSON_AddStringToObject(j, "weighbridgeId", o->bridge);
    cJSON_AddStringToObject(j, "operator", "司磅员王强");
    /* Raw coal goes to the power plant, lump to the coking plant; gangue to the dump. */
    if (strcmp(mat, "矸石"))
        cJSON_AddStringToObject(j, "contractId", strcmp(mat, "块煤") ? "HT-2026-001" : "HT-2026-002");
    char photo[96];
    static const char *const views[] = {"photoFront", "photoTop", "photoRear"};
    for (int i = 0; i < 3; i++) {
        snprintf(photo, sizeof photo, "%s_%c.jpg", id, "ftr"[i]);
        cJSON_AddStringToObject(j, views[i], photo);
    }
    return j;
}

static void say(const sim_wb_opts_t *o, const char *what, const cJSON *j, int status)
{
    if (!o->verbose)
        return;
    const cJSON *id = cJSON_GetObjectItem(j, "ticketId");
    if (!id)
        id = cJSON_GetObjectItem(j, "captureId");
    printf("coalmon-sim: %-9s %s %s -> %d\n", what, id ? id->valuestring : "",
           cJSON_GetObjectItem(j, "plate")->valuestring, status);
    fflush(stdout);
}

static int post_ticket(const sim_wb_opts_t *o, cJSON *t, sim_wb_stats_t *st, uint32_t *s)
{
    int status = 0;
    if (rnd(s) < o->badnet) { /* the operator typed the net by hand, wrongly */
        cJSON *bad = cJSON_Duplicate(t, true);
        cJSON_ReplaceItemInObject(bad, "net", cJSON_CreateNumber(cJSON_GetObjectItem(t, "net")->valuedouble + 0.8));
        int rc = post(o, "/api/v1/weighbridge/tickets", bad, &status);
        say(o, "bad net", bad, status);
        cJSON_Delete(bad);
        if (rc)
            return rc;
        st->rejected += status == 400;
    }
    int rc = post(o, "/api/v1/weighbridge/tickets", t, &status);
    say(o, "ticket", t, status);
    if (rc)
        return rc;
    st->tickets += status == 200;
    st->errors += status != 200;
    if (rnd(s) < o->dup && !post(o, "/api/v1/weighbridge/tickets", t, &status)) {
        say(o, "duplicate", t, status);
        st->duplicates += status == 200;
    }
    if (rnd(s) < o->correct) { /* re-weighed tare: a correction of the same ticket */
        double tare = cJSON_GetObjectItem(t, "tare")->valuedouble + 0.1;
        double gross = cJSON_GetObjectItem(t, "gross")->valuedouble;
        cJSON_ReplaceItemInObject(t, "tare", cJSON_CreateNumber(tare));
        cJSON_ReplaceItemInObject(t, "net", cJSON_CreateNumber(round((gross - tare) * 100) / 100));
        if (!post(o, "/api/v1/weighbridge/tickets", t, &status)) {
            say(o, "corrected", t, status);
            st->corrections += status == 200;
        }
    }
    return CM_OK;
}

/* One truck leaving at exit_at with net t (<= 0: 30-50 t); *coal is the coal
 * it carried away, recorded or not (0 when empty or gangue). */
static int one_truck(const sim_wb_opts_t *o, truck_t *fleet, uint32_t *s, int64_t exit_at,
                     int *seq, sim_wb_stats_t *st, double net, double *coal)
{
    /* A truck needs a round trip before it is back: none of the last half fleet. */
    truck_t *t;
    do
        t = &fleet[(int)(rnd(s) * FLEET)];
    while (t->last_trip && st->trucks + 1 - t->last_trip < FLEET / 2);
    t->last_trip = st->trucks + 1;
    bool empty = rnd(s) < o->empty, escape = !empty && rnd(s) < o->escape;
    int64_t gross_at = exit_at - (int64_t)uniform(s, 120, 420);
    int rc = CM_OK, status = 0;
    st->trucks++;
    if (net <= 0)
        net = uniform(s, 30, 50);
    *coal = empty ? 0 : net;
    if (!empty && !escape) {
        cJSON *tk = ticket_json(o, t, s, gross_at, net, seq);
        const cJSON *mat = cJSON_GetObjectItem(tk, "material");
        if (cJSON_IsString(mat) && !strcmp(mat->valuestring, "矸石"))
            *coal = 0; /* gangue to the dump: no coal left the yard */
        rc = post_ticket(o, tk, st, s);
        cJSON_Delete(tk);
    }
    if (rc)
        return rc;
    char plate[48], at[32], id[96];
    bool ocr = rnd(s) < o->ocr;
    if (ocr)
        misread(s, t->plate, plate, sizeof plate);
    else
        snprintf(plate, sizeof plate, "%s", t->plate);
    tm_format_bj(exit_at, at, sizeof at);
    snprintf(id, sizeof id, "%s-%lld-%03d", o->point, (long long)exit_at, (*seq)++ % 1000);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "captureId", id);
    cJSON_AddStringToObject(c, "pointId", o->point);
    cJSON_AddStringToObject(c, "plate", plate);
    cJSON_AddStringToObject(c, "captureTime", at);
    cJSON_AddStringToObject(c, "load", empty ? "empty" : "loaded");
    cJSON *photos = cJSON_AddArrayToObject(c, "photos");
    char photo[128];
    snprintf(photo, sizeof photo, "%s.jpg", id);
    cJSON_AddItemToArray(photos, cJSON_CreateString(photo));
    rc = post(o, "/api/v1/exits/captures", c, &status);
    say(o, escape ? "ESCAPE" : ocr ? "capture*" : "capture", c, status);
    cJSON_Delete(c);
    if (!rc && status == 200) {
        st->captures++;
        st->escapes += escape;
        st->ocr += ocr && !empty;
        st->empty += empty;
    } else if (!rc) {
        st->errors++;
    }
    return rc;
}

/* Retrying before anything got through: coalmond may still be starting or
 * busy. Back-off doubles from 0.1 s to 5 s; give up after retry_s (0: never). */
typedef struct retry {
    int64_t first_fail_ms;
    int backoff_ms;
} retry_t;

static void pause_ms(int ms, const atomic_int *stop)
{
    for (int waited = 0; waited < ms && !(stop && *stop); waited += 50)
        tm_sleep_ms(50);
}

/* After a failed post: until a first post got through, retry with back-off
 * for o->retry_s (wrong host or port ends there; a daemon still starting
 * does not); afterwards count it and go on after a pause (coalmond was busy). */
static bool give_up(const sim_wb_opts_t *o, sim_wb_stats_t *st, retry_t *r, const atomic_int *stop)
{
    if (st->tickets + st->captures + st->rejected > 0) {
        st->errors++;
        pause_ms(1000, stop);
        return false;
    }
    int64_t now = tm_mono_ms();
    if (!r->first_fail_ms) {
        r->first_fail_ms = now;
        r->backoff_ms = 100;
    }
    if (o->retry_s > 0 && now - r->first_fail_ms >= (int64_t)o->retry_s * 1000)
        return true;
    pause_ms(r->backoff_ms, stop);
    r->backoff_ms = r->backoff_ms * 2 > 5000 ? 5000 : r->backoff_ms * 2;
    return false;
}

/* Trucks hauling what the belt produced: the yard fills with output and a
 * truck leaves whenever it holds the next load; the past backfill_hours
 * first (a minute at a time), then live. Sales lag output by under a load. */
static int follow_output(const sim_wb_opts_t *o, truck_t *fleet, uint32_t *s, int *seq,
                         sim_wb_stats_t *st, const atomic_int *stop, retry_t *retry, char *err,
                         size_t errlen)
{
    int64_t now = tm_now_s(), t = now - (int64_t)(o->backfill_hours * 3600);
    double yard = 0, load = uniform(s, 30, 50);
    while (!(stop && *stop) && (!o->count || st->trucks < o->count)) {
        int64_t next = t + 60;
        if (next > tm_now_s()) { /* live: wait for the minute to pass */
            tm_sleep_ms(200);
            continue;
        }
        yard += o->output_t(o->output_arg, t, next);
        t = next;
        while (yard >= load && !(stop && *stop)) {
            double coal;
            if (one_truck(o, fleet, s, t, seq, st, load, &coal) && give_up(o, st, retry, stop))
                return cm_fail(err, errlen, CM_ERR_IO, "cannot post to %s:%d", o->host, o->port);
            yard -= coal;
            if (coal > 0)
                load = uniform(s, 30, 50);
        }
    }
    return CM_OK;
}

int sim_wb_run(const sim_wb_opts_t *opts, sim_wb_stats_t *st, const atomic_int *stop, char *err,
               size_t errlen)
{
    /* Posts watch the stop flag: the daemon stops answering before it stops us. */
    sim_wb_opts_t local = *opts;
    local.stop = stop;
    const sim_wb_opts_t *o = &local;
    memset(st, 0, sizeof *st);
    retry_t retry = {0};
    uint32_t s = o->seed * 2654435761u + 1;
    truck_t fleet[FLEET];
    /* Plates at least three edits apart, as a real fleet of this size almost
     * always is: one misread must not turn one truck into another. */
    for (int i = 0; i < FLEET; i++) {
        bool alike;
        do {
            make_plate(&s, fleet[i].plate, sizeof fleet[i].plate);
            alike = false;
            for (int k = 0; k < i && !alike; k++)
                alike = intake_plate_similarity(fleet[i].plate, fleet[k].plate) > 0.45;
        } while (alike);
        fleet[i].tare = r2(uniform(&s, 14.5, 17.8));
        fleet[i].last_trip = 0;
    }
    int seq = (int)(rnd(&s) * 1000);
    if (o->output_t)
        return follow_output(o, fleet, &s, &seq, st, stop, &retry, err, errlen);
    double rate = o->trucks_per_hour > 0 ? o->trucks_per_hour : 30;
    /* Backfill: trucks of the past hours, at their own times, as fast as accepted. */
    int64_t now = tm_now_s(), t = now - (int64_t)(o->backfill_hours * 3600);
    while (o->backfill_hours > 0 && t < now - 60 && !(stop && *stop) && (!o->count || st->trucks < o->count)) {
        t += (int64_t)(-log(1 - rnd(&s)) * 3600 / (rate * hour_factor(t))) + 1;
        if (t >= now - 60)
            break;
        double coal;
        if (one_truck(o, fleet, &s, t, &seq, st, 0, &coal) && give_up(o, st, &retry, stop))
            return cm_fail(err, errlen, CM_ERR_IO, "cannot post to %s:%d", o->host, o->port);
    }
    int64_t next = tm_mono_ms();
    while (!(stop && *stop) && (!o->count || st->trucks < o->count)) {
        if (tm_mono_ms() < next) {
            tm_sleep_ms(50);
            continue;
        }
        double coal;
        if (one_truck(o, fleet, &s, tm_now_s(), &seq, st, 0, &coal) && give_up(o, st, &retry, stop))
            return cm_fail(err, errlen, CM_ERR_IO, "cannot post to %s:%d", o->host, o->port);
        double gap_s = -log(1 - rnd(&s)) * 3600 / (rate * hour_factor(tm_now_s()));
        next = tm_mono_ms() + (int64_t)(gap_s * 1000 / (o->speed > 0 ? o->speed : 1));
    }
    return CM_OK;
}

/* ---- on a thread ------------------------------------------------------------------- */

struct sim_wb {
    sim_wb_opts_t o;
    pthread_t th;
    atomic_int stop;
    pthread_mutex_t mu;
    sim_wb_stats_t stats;
};

static void *wb_thread(void *arg)
{
    sim_wb_t *w = arg;
    sim_wb_stats_t st;
    char err[256];
    if (sim_wb_run(&w->o, &st, &w->stop, err, sizeof err))
        log_warn("sim", "weighbridge: %s", err);
    pthread_mutex_lock(&w->mu);
    w->stats = st;
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

sim_wb_t *sim_wb_start(const sim_wb_opts_t *o, char *err, size_t errlen)
{
    sim_wb_t *w = calloc(1, sizeof *w);
    if (!w) {
        cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    w->o = *o;
    pthread_mutex_init(&w->mu, NULL);
    if (pthread_create(&w->th, NULL, wb_thread, w)) {
        cm_fail(err, errlen, CM_ERR_IO, "cannot start the weighbridge thread");
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

void sim_wb_get_stats(sim_wb_t *w, sim_wb_stats_t *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}

void sim_wb_stop(sim_wb_t *w)
{
    if (!w)
        return;
    w->stop = 1;
    pthread_join(w->th, NULL);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* ---- demo set-up --------------------------------------------------------------------- */

int sim_wb_demo_setup(store_t *st, char key[65], char *err, size_t errlen)
{
    static const intake_point_t points[] = {
        {"E1", "主井口出口", "工业广场南门", "192.168.20.31", "out"},
        {"E2", "东门入口", "工业广场东门", "192.168.20.32", "in"},
    };
    int rc = CM_OK;
    for (int i = 0; i < 2 && !rc; i++)
        rc = intake_point_put(st, &points[i], "demo", "demo", err, errlen);
    cJSON *contracts = cJSON_Parse(
        "[{\"contractId\":\"HT-2026-001\",\"buyer\":\"晋能电力燃料公司\",\"coalType\":\"raw\",\"quantity\":120000},"
        " {\"contractId\":\"HT-2026-002\",\"buyer\":\"太原钢铁焦化厂\",\"coalType\":\"lump\",\"quantity\":30000}]");
    if (!rc)
        rc = intake_ledger_put(st, "contract", contracts, "demo", tm_now_s(), NULL, NULL, err, errlen);
    cJSON_Delete(contracts);
    if (!rc) {
        intake_key_revoke(st, "demo-weighbridge", "demo", NULL, 0); /* --data kept from before */
        rc = intake_key_add(st, "demo-weighbridge", "demo", key, err, errlen);
    }
    return rc;
}
