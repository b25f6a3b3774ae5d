/* Shared by web/api_intake*.c only: the intake routes' state and helpers. */
#ifndef COALMON_WEB_API_INTAKE_H
#define COALMON_WEB_API_INTAKE_H

#include "intake/intake.h"
#include "web/web.h"

/* The routes' state (web_state_new, freed by web_free); the loop's. */
typedef struct web_intake {
    web_ctx_t *ctx;
    intake_conf_t conf;
    struct event *timer;
    bool matching;              /* a timer's matching job is out (loop only) */
    intake_match_stats_t ms;    /* its outcome: the worker's until its done runs */
    int match_rc;
    char match_err[256];
} intake_web_t;

/* The API key's source name into name; false when it replied 401 itself. */
bool iw_source(web_req_t *req, const intake_web_t *iw, char *name, size_t len);
/* 400 {"error","field","index"} for a record fault. */
void iw_reply_fault(web_req_t *req, int status, const intake_fault_t *f);
/* The records of a body: an array, {"<key>": [...]} or one object; a new
 * array of references (cJSON_Delete it; the body stays the caller's). */
cJSON *iw_items(const cJSON *body, const char *key);
/* A posted batch: who sent it, the body, and its records (see iw_items). */
typedef struct {
    const char *key; /* the records' key in the body, e.g. "tickets" */
    char source[64];
    cJSON *body;
    cJSON *items;
    int n;
} iw_batch_t;
/* Authenticates the poster (iw_source) and reads the posted records under key.
 * false when it replied 401 or 400 itself and there is nothing to close;
 * otherwise iw_batch_close(b) frees the body and the records. */
bool iw_batch_open(web_req_t *req, intake_web_t *iw, const char *key, iw_batch_t *b);
void iw_batch_close(iw_batch_t *b);
/* Reply 200 with out, or 500 naming err when rc != 0. */
void iw_reply(web_req_t *req, int rc, cJSON *out, const char *err);

/*
 * A post stored on a worker (web_defer): the handler checks and parses on the
 * loop, work stores (and matches) on a worker, done replies on the loop and
 * ends with iw_post_free. The post owns its batch, body, items and records.
 */
typedef struct iw_post {
    intake_web_t *iw;
    web_req_t *req;
    iw_batch_t b;          /* tickets, captures, ledger kinds (b.body, b.items) */
    cJSON *body, *items;   /* summaries */
    const char *kind;      /* ledger kind */
    void *recs;            /* tickets or captures, malloc'd */
    int n;
    intake_point_t point;
    char source[64], actor[40];
    intake_put_result_t res;
    int created;
    intake_fault_t f;
    bool match;            /* match exits to tickets after storing */
    int match_rc;
    intake_match_stats_t ms;
    int rc;
    char err[256];
} iw_post_t;
/* A zeroed post for req; NULL after replying 500. */
iw_post_t *iw_post_new(intake_web_t *iw, web_req_t *req);
/* Queue it; on failure replies 503 and frees it. */
void iw_post_submit(iw_post_t *p, web_work_fn work, web_work_fn done);
void iw_post_free(iw_post_t *p);

int iw_register_ledger(web_t *w, intake_web_t *iw);

#endif
