/* The query-parameter helpers every handler uses (web/web.h): integers,
 * Beijing times and from/to ranges, with one set of 400 messages that name
 * the parameter. */
#include <errno.h>
#include <stdlib.h>

#include "web/web.h"

bool web_query_int(web_req_t *req, const char *key, long long def, long long min, long long max,
                   long long *out)
{
    char buf[32];
    int rc = web_query(req, key, buf, sizeof buf);
    if (rc == CM_ERR_NOTFOUND) {
        *out = def;
        return true;
    }
    char *end = buf;
    errno = 0;
    long long v = rc ? 0 : strtoll(buf, &end, 10);
    if (rc || !buf[0] || *end || errno || v < min || v > max) {
        web_reply_error(req, 400, key, "%s: expected an integer %lld..%lld", key, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool web_query_time(web_req_t *req, const char *key, int64_t *out, bool *given)
{
    char buf[40];
    int64_t t;
    int rc = web_query(req, key, buf, sizeof buf);
    if (given)
        *given = false;
    if (rc == CM_ERR_NOTFOUND)
        return true;
    if (rc || tm_parse_bj(buf, &t)) {
        web_reply_error(req, 400, key, "%s: expected yyyy-MM-dd[ HH:mm[:ss]] (Beijing time)", key);
        return false;
    }
    *out = t;
    if (given)
        *given = true;
    return true;
}

bool web_query_range(web_req_t *req, int64_t def_span_s, int64_t max_span_s, int64_t *from,
                     int64_t *to)
{
    bool has_from;
    *to = tm_now_s() + 1;
    if (!web_query_time(req, "to", to, NULL) || !web_query_time(req, "from", from, &has_from))
        return false;
    if (!has_from)
        *from = *to - def_span_s;
    if (*to <= *from) {
        web_reply_error(req, 400, "to", "to: must be after from");
        return false;
    }
    if (max_span_s > 0 && *to - *from > max_span_s) {
        web_reply_error(req, 400, "from", "from: at most %lld days before to",
                        (long long)(max_span_s / 86400));
        return false;
    }
    return true;
}
