/* UPL-3: the outbox per destination over simulated time. A receiver down for
 * a week: every record delivered exactly once, none lost, the link backs off
 * instead of hammering, and a fresh record is not starved by the backlog.
 * 400 answers are set aside for an operator; a record replaced while in
 * flight is sent again. The clock is simulated: nothing here waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "uplink/uplink.h"

#define MINE "001001001"
#define KEY "1234567890abcdef"
#define IV "abcdef1234567890"

typedef struct db_fx {
    char dir[64], path[128];
    store_t *st;
    sqlite3 *rd;
} db_fx_t;

typedef struct fx {
    db_fx_t mine, platform;
    upl_cfg_t cfg;
    upl_link_t link;
    uint32_t rnd;
    int64_t now_ms;
    bool receiver_up;
    int produced;
} fx_t;

static void db_open(db_fx_t *d, const char *tag)
{
    snprintf(d->dir, sizeof d->dir, "/tmp/coalmon-uplq-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->path, sizeof d->path, "%s/t.db", d->dir);
    store_opts_t o;
    store_opts_default(&o);
    o.batch_delay_ms = 0;
    char err[256];
    d->st = store_open(d->path, &o, err, sizeof err);
    assert_non_null(d->st);
    d->rd = store_reader_open(d->st, err, sizeof err);
    assert_non_null(d->rd);
}

static void db_close(db_fx_t *d)
{
    store_reader_close(d->rd);
    store_close(d->st);
    char p[160];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", d->path, sfx[i]);
        unlink(p);
    }
    rmdir(d->dir);
}

static int sync_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return upl_queue_sync_dests_job(db, arg, err, errlen);
}

static int ent_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return upl_enterprise_put_job(db, MINE, "测试煤矿", "mine", KEY, IV, 0, err, errlen);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    db_open(&f->mine, "mine");
    db_open(&f->platform, "plat");
    upl_cfg_default(&f->cfg);
    f->cfg.ndest = 1;
    upl_dest_t *d = &f->cfg.dest[0];
    snprintf(d->name, sizeof d->name, "county");
    snprintf(d->prefix, sizeof d->prefix, "cms");
    snprintf(d->mine_code, sizeof d->mine_code, MINE);
    snprintf(d->types, sizeof d->types, "*");
    d->batch_max = 1;
    d->parallel = 1;
    assert_int_equal(upl_key_set(&d->key, KEY, IV, NULL, 0), 0);
    f->cfg.receiver = true;
    char err[256];
    assert_int_equal(store_write(f->mine.st, sync_job, &f->cfg, err, sizeof err), 0);
    assert_int_equal(store_write(f->platform.st, ent_job, NULL, err, sizeof err), 0);
    f->now_ms = tm_bj_to_epoch(2026, 11, 1, 0, 0, 0) * 1000;
    f->rnd = 12345;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    db_close(&f->mine);
    db_close(&f->platform);
    free(f);
    return 0;
}

static uint32_t next_rnd(fx_t *f)
{
    f->rnd = f->rnd * 1103515245u + 12345u; /* deterministic jitter */
    return f->rnd >> 8;
}

/* ---- producing ---------------------------------------------------------------- */

typedef struct produce_arg {
    int64_t start;
    int gate_type;
    const char *id_suffix;
    double kwh;
    bool replace;
} produce_arg_t;

static int produce_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    produce_arg_t *a = arg;
    char id[64], t0[24], t1[24];
    snprintf(id, sizeof id, "gate-total-%lld%s", (long long)a->start, a->id_suffix ? a->id_suffix : "");
    tm_format_bj(a->start, t0, sizeof t0);
    tm_format_bj(a->start + 900, t1, sizeof t1);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", id);
    cJSON_AddStringToObject(r, "gateId", "gate-total");
    cJSON_AddNumberToObject(r, "gateType", a->gate_type);
    cJSON_AddStringToObject(r, "startTime", t0);
    cJSON_AddStringToObject(r, "endTime", t1);
    cJSON_AddNumberToObject(r, "kwh", a->kwh);
    int rc = store_outbox_put(db, "powerGate", id, r, a->replace, err, errlen);
    cJSON_Delete(r);
    return rc;
}

static void produce(fx_t *f, int64_t start_s, int gate_type, const char *suffix)
{
    produce_arg_t a = {.start = start_s, .gate_type = gate_type, .id_suffix = suffix, .kwh = 100};
    char err[256];
    assert_int_equal(store_write(f->mine.st, produce_job, &a, err, sizeof err), 0);
    f->produced++;
}

/* ---- one request, as the sender makes it, against the real receiver ----------- */

typedef struct rx_arg {
    fx_t *f;
    upl_request_t rq;
    upl_answer_t ans;
} rx_arg_t;

static int rx_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    rx_arg_t *a = arg;
    return upl_receive_job(db, &a->f->cfg, &a->rq, a->f->now_ms, &a->ans, err, errlen);
}

typedef struct res_arg {
    fx_t *f;
    upl_pick_t *p;
    upl_outcome_t o;
} res_arg_t;

static int res_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    res_arg_t *a = arg;
    return upl_queue_result_job(db, &a->f->cfg, &a->f->cfg.dest[0], a->p, &a->o, a->f->now_ms,
                                next_rnd(a->f), err, errlen);
}

static int fanout_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    int added;
    return upl_queue_fanout_job(db, arg, &added, err, errlen);
}

static int transmit(fx_t *f, upl_pick_t *p, upl_outcome_t *o)
{
    const upl_dest_t *d = &f->cfg.dest[0];
    if (!f->receiver_up)
        return 0; /* connection refused */
    char *tok, *data, err[256];
    assert_int_equal(upl_token_make(&d->key, d->mine_code, f->now_ms / 1000, &tok, err, sizeof err), 0);
    assert_int_equal(upl_encrypt(&d->key, p->body, strlen(p->body), &data, err, sizeof err), 0);
    rx_arg_t a = {.f = f, .rq = {.prefix = "cms", .record_type = p->record_type,
                                 .mine_code = d->mine_code, .token = tok, .data = data,
                                 .body_len = strlen(data) + strlen(tok) + 40}};
    assert_int_equal(store_write(f->platform.st, rx_job, &a, err, sizeof err), 0);
    free(tok);
    free(data);
    snprintf(o->message, sizeof o->message, "%s", a.ans.message);
    return a.ans.code;
}

/* What the sender does on one tick: fan out, then requests while the link is
 * due and records are due (at most max_requests, the link's speed). Returns
 * the number of requests. */
static int tick(fx_t *f, int max_requests, int64_t *delivered_seq, int *ndelivered)
{
    char err[256];
    assert_int_equal(store_write(f->mine.st, fanout_job, &f->cfg, err, sizeof err), 0);
    int n = 0;
    while (n < max_requests && upl_link_due(&f->link, f->now_ms)) {
        upl_pick_t p;
        bool newest = upl_link_next_newest(&f->cfg, &f->link);
        int rc = upl_queue_pick(f->mine.rd, &f->cfg.dest[0], f->now_ms, newest, NULL, 0, &p, err, sizeof err);
        if (rc == CM_ERR_NOTFOUND)
            break;
        assert_int_equal(rc, 0);
        res_arg_t a = {.f = f, .p = &p};
        a.o.code = transmit(f, &p, &a.o);
        a.o.http_status = a.o.code ? 200 : 0;
        assert_int_equal(store_write(f->mine.st, res_job, &a, err, sizeof err), 0);
        upl_link_result(&f->cfg, &f->link, a.o.code, f->now_ms, next_rnd(f));
        if (a.o.code == 200 && delivered_seq)
            for (int i = 0; i < p.n; i++)
                delivered_seq[(*ndelivered)++] = p.seq[i];
        upl_pick_free(&p);
        n++;
    }
    return n;
}

static int count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    char err[128];
    assert_int_equal(store_prepare(db, sql, &s, err, sizeof err), 0);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
}

static void test_week_outage_every_record_once_none_lost(void **state)
{
    fx_t *f = *state;
    const int64_t week = 7 * 86400, t0 = f->now_ms / 1000;
    int attempts_down = 0;
    /* The receiver is down for a week; a record every 15 minutes; a tick a minute. */
    for (int64_t t = t0; t < t0 + week; t += 60) {
        f->now_ms = t * 1000;
        if ((t - t0) % 900 == 0)
            produce(f, t, 1, NULL);
        attempts_down += tick(f, 50, NULL, NULL);
    }
    /* Back-off: at most one attempt per ~backoff_max (900 s, jitter -25 %) after
     * the first few, instead of one per record per tick. */
    assert_true(attempts_down > 0);
    assert_true(attempts_down <= 12 + week / 675);
    assert_int_equal(count(f->mine.rd, "SELECT count(*) FROM uplink_delivery WHERE state = 'pending'"),
                     f->produced);
    assert_int_equal(count(f->platform.rd, "SELECT count(*) FROM uplink_received"), 0);

    /* The receiver is back; a fresh record arrives with the backlog of 672. */
    f->receiver_up = true;
    int64_t t = t0 + week;
    f->now_ms = t * 1000;
    produce(f, t, 1, NULL);
    int64_t newest_seq = count(f->mine.rd, "SELECT max(seq) FROM outbox_record");
    int64_t *order = calloc((size_t)f->produced + 100, sizeof *order);
    int nd = 0;
    /* The link probe waits out the back-off (at most backoff_max); then it drains. */
    for (int i = 0; i < 60 && count(f->mine.rd, "SELECT count(*) FROM uplink_delivery WHERE state = 'pending'"); i++) {
        tick(f, 100, order, &nd);
        t += 60;
        f->now_ms = t * 1000;
    }
    assert_int_equal(count(f->mine.rd, "SELECT count(*) FROM uplink_delivery WHERE state = 'pending'"), 0);
    /* Every record delivered exactly once: one acknowledgement per record, one row each. */
    assert_int_equal(nd, f->produced);
    assert_int_equal(count(f->mine.rd, "SELECT coalesce(sum(n_records), 0) FROM uplink_log WHERE outcome = 'delivered'"),
                     f->produced);
    assert_int_equal(count(f->platform.rd, "SELECT count(*) FROM uplink_received"), f->produced);
    assert_int_equal(count(f->platform.rd, "SELECT count(*) FROM uplink_received WHERE revisions > 0"), 0);
    /* Oldest first, but the fresh record was not starved: it went within the
     * first fresh_every requests, not after the whole backlog. */
    int pos = -1;
    for (int i = 0; i < nd; i++)
        if (order[i] == newest_seq)
            pos = i;
    assert_true(pos >= 0 && pos < f->cfg.fresh_every);
    /* The rest interleave: the backlog from its oldest end upward, and every
     * fresh_every-th request from its newest end downward. */
    int64_t up = 0, down = newest_seq, half = newest_seq / 2;
    bool oldest_seen = false;
    for (int i = 0; i < 40 && i < nd; i++) {
        oldest_seen |= order[i] == 1;
        if (order[i] < half) {
            assert_true(order[i] > up);
            up = order[i];
        } else {
            assert_true(order[i] <= down);
            down = order[i];
        }
    }
    assert_true(oldest_seen);
    free(order);
}

static int rekey_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    return upl_enterprise_put_job(db, MINE, "测试煤矿", "mine", arg, IV, 0, err, errlen);
}

static void test_rejected_record_is_set_aside_then_retried(void **state)
{
    fx_t *f = *state;
    f->receiver_up = true;
    int64_t t = f->now_ms / 1000;
    produce(f, t, 7, NULL); /* gateType 7 is not in the dictionary */
    produce(f, t + 900, 1, NULL);
    for (int i = 0; i < 5; i++) {
        tick(f, 10, NULL, NULL);
        f->now_ms += 60000;
    }
    /* The invalid one is set aside before it costs a request; the other goes. */
    assert_int_equal(count(f->platform.rd, "SELECT count(*) FROM uplink_received"), 1);
    assert_int_equal(count(f->mine.rd, "SELECT count(*) FROM uplink_delivery WHERE state = 'aside'"
                                       " AND attempts = 0 AND last_code = 400 AND last_message LIKE '%gateType%'"), 1);
    cJSON *st = upl_queue_status(f->mine.rd, f->now_ms, NULL, 0);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(st, 0), "aside")->valueint, 1);
    cJSON_Delete(st);
    /* The producer corrects it: replacing the body makes it due again (trigger). */
    produce_arg_t fix = {.start = t, .gate_type = 1, .kwh = 100, .replace = true};
    char err[256];
    assert_int_equal(store_write(f->mine.st, produce_job, &fix, err, sizeof err), 0);
    tick(f, 10, NULL, NULL);
    assert_int_equal(count(f->platform.rd, "SELECT count(*) FROM uplink_received"), 2);

    /* The platform re-keys the mine: every request is 401, the record is set
     * aside after aside_after tries with the answer kept, the link stays up. */
    assert_int_equal(store_write(f->platform.st, rekey_job, "0000000000000000", err, sizeof err), 0);
    produce(f, t + 1800, 1, NULL);
    for (int i = 0; i < 40; i++) {
        tick(f, 10, NULL, NULL);
        f->now_ms += 60000;
    }
    assert_int_equal(count(f->mine.rd, "SELECT count(*) FROM uplink_delivery WHERE state = 'aside'"
                                       " AND attempts = 3 AND last_code = 401"), 1);
    assert_int_equal(count(f->mine.rd, "SELECT count(*) FROM uplink_log WHERE outcome = 'aside' AND code = 401"), 1);
    assert_int_equal(f->link.failures, 0);
}

typedef struct retry_arg {
    int changed;
} retry_arg_t;

static int retry_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    retry_arg_t *a = arg;
    return upl_queue_retry_job(db, NULL, 0, false, &a->changed, err, errlen);
}

static void test_operator_retry_and_replaced_in_flight(void **state)
{
    fx_t *f = *state;
    f->receiver_up = true;
    int64_t t = f->now_ms / 1000;
    produce(f, t, 7, NULL);
    for (int i = 0; i < 40; i++) {
        tick(f, 10, NULL, NULL);
        f->now_ms += 60000;
    }
    retry_arg_t r = {0};
    char err[256];
    assert_int_equal(store_write(f->mine.st, retry_job, &r, err, sizeof err), 0);
    assert_int_equal(r.changed, 1);
    assert_int_equal(count(f->mine.rd, "SELECT count(*) FROM uplink_delivery WHERE state = 'pending' AND attempts = 0"), 1);

    /* A record picked, then replaced by its producer before the answer came: the
     * acknowledgement of the old body must not mark the new one delivered. */
    produce(f, t + 900, 1, NULL);
    assert_int_equal(store_write(f->mine.st, fanout_job, &f->cfg, err, sizeof err), 0);
    upl_pick_t p;
    assert_int_equal(upl_queue_pick(f->mine.rd, &f->cfg.dest[0], f->now_ms, true, NULL, 0, &p, err, sizeof err), 0);
    f->now_ms += 1000;
    tm_sleep_ms(3); /* produced_ms (wall clock) changes with the replacement */
    produce_arg_t re = {.start = t + 900, .gate_type = 1, .kwh = 250, .replace = true};
    assert_int_equal(store_write(f->mine.st, produce_job, &re, err, sizeof err), 0);
    res_arg_t a = {.f = f, .p = &p, .o = {.code = 200, .http_status = 200}};
    assert_int_equal(store_write(f->mine.st, res_job, &a, err, sizeof err), 0);
    upl_pick_free(&p);
    assert_int_equal(count(f->mine.rd, "SELECT count(*) FROM uplink_delivery d JOIN outbox_record o"
                                       " ON o.seq = d.seq WHERE d.state = 'pending' AND o.body LIKE '%250%'"), 1);
}

static void test_backoff_grows_and_is_capped_with_jitter(void **state)
{
    fx_t *f = *state;
    int64_t prev = 0;
    for (int i = 1; i <= 12; i++) {
        int64_t lo = upl_backoff_ms(&f->cfg, i, 0), hi = upl_backoff_ms(&f->cfg, i, 0xffffffffu);
        assert_true(lo <= hi);
        assert_true(hi <= f->cfg.backoff_max_s * 1250LL);
        assert_true(lo >= prev || lo >= f->cfg.backoff_max_s * 750LL);
        prev = lo;
    }
    assert_int_equal(upl_backoff_ms(&f->cfg, 1, 0), f->cfg.backoff_min_s * 750LL);
}

static int prune_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    fx_t *f = arg;
    return upl_queue_prune_job(db, &f->cfg, f->now_ms, err, errlen);
}

static void test_prune_keeps_what_is_still_owed(void **state)
{
    fx_t *f = *state;
    f->receiver_up = true;
    int64_t t = f->now_ms / 1000;
    produce(f, t, 1, NULL);
    tick(f, 10, NULL, NULL);
    f->receiver_up = false;
    produce(f, t + 900, 1, NULL);
    tick(f, 10, NULL, NULL);
    f->now_ms = tm_now_ms() + (int64_t)(f->cfg.keep_days + 1) * 86400000;
    char err[256];
    assert_int_equal(store_write(f->mine.st, prune_job, f, err, sizeof err), 0);
    assert_int_equal(count(f->mine.rd, "SELECT count(*) FROM uplink_delivery WHERE state = 'sent'"), 0);
    assert_int_equal(count(f->mine.rd, "SELECT count(*) FROM uplink_delivery WHERE state = 'pending'"), 1);
    assert_int_equal(count(f->mine.rd, "SELECT count(*) FROM outbox_record"), 1); /* the one still owed */
    assert_int_equal(count(f->mine.rd, "SELECT count(*) FROM uplink_log"), 0);
}

static void test_pick_skips_records_in_flight(void **state)
{
    fx_t *f = *state;
    int64_t t = f->now_ms / 1000;
    for (int i = 0; i < 3; i++)
        produce(f, t + 900 * i, 1, NULL);
    char err[256];
    assert_int_equal(store_write(f->mine.st, fanout_job, &f->cfg, err, sizeof err), 0);
    upl_pick_t a, b, c;
    assert_int_equal(upl_queue_pick(f->mine.rd, &f->cfg.dest[0], f->now_ms, false, NULL, 0, &a, err, sizeof err), 0);
    assert_int_equal(upl_queue_pick(f->mine.rd, &f->cfg.dest[0], f->now_ms, false, a.seq, a.n, &b, err, sizeof err), 0);
    assert_true(b.seq[0] != a.seq[0]);
    int64_t both[2] = {a.seq[0], b.seq[0]};
    assert_int_equal(upl_queue_pick(f->mine.rd, &f->cfg.dest[0], f->now_ms, true, both, 2, &c, err, sizeof err), 0);
    assert_true(c.seq[0] != a.seq[0] && c.seq[0] != b.seq[0]);
    upl_pick_free(&c);
    int64_t all[3] = {a.seq[0], b.seq[0], 0};
    upl_pick_t x;
    assert_int_equal(upl_queue_pick(f->mine.rd, &f->cfg.dest[0], f->now_ms, true, all, 2, &x, err, sizeof err), 0);
    all[2] = x.seq[0];
    upl_pick_free(&x);
    assert_int_equal(upl_queue_pick(f->mine.rd, &f->cfg.dest[0], f->now_ms, false, all, 3, &x, err, sizeof err),
                     CM_ERR_NOTFOUND);
    upl_pick_free(&a);
    upl_pick_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_week_outage_every_record_once_none_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_record_is_set_aside_then_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operator_retry_and_replaced_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_grows_and_is_capped_with_jitter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_keeps_what_is_still_owed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pick_skips_records_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
