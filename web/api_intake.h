/* Shared by web/api_intake*.c only: the intake routes' state and helpers. */
#ifndef COALMON_WEB_API_INTAKE_H
#define COALMON_WEB_API_INTAKE_H

#include "intake/intake.h"
#include "web/web.h"

typedef struct intake_web {
    web_ctx_t *ctx;
    intake_conf_t conf;
    struct event *timer;
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
/* from/to query parameters (Beijing "yyyy-MM-dd[ HH:mm[:ss]]"); defaults:
 * the last day_span days up to now. false when it replied 400 itself. */
bool iw_range(web_req_t *req, int64_t def_span_s, int64_t *from, int64_t *to);
/* limit query parameter, 1..10000 (default def). false when it replied 400. */
bool iw_limit(web_req_t *req, int def, int *limit);
/* Reply 200 with out, or 500 naming err when rc != 0. */
void iw_reply(web_req_t *req, int rc, cJSON *out, const char *err);

int iw_register_ledger(web_t *w, intake_web_t *iw);

#endif
