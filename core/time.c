#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

int64_t tm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tm_now_s(void) { return tm_now_ms() / 1000; }

int64_t tm_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tm_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar. */
int64_t tm_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tm_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int64_t tm_bj_to_epoch(int y, int mo, int d, int h, int mi, int s)
{
    return tm_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - TM_BEIJING_OFFSET_S;
}

void tm_epoch_to_bj(int64_t epoch, int *y, int *mo, int *d, int *h, int *mi, int *s)
{
    int64_t local = epoch + TM_BEIJING_OFFSET_S;
    int64_t days = floor_div(local, 86400);
    int64_t sec = local - days * 86400;
    tm_civil_from_days(days, y, mo, d);
    *h = (int)(sec / 3600);
    *mi = (int)(sec / 60 % 60);
    *s = (int)(sec % 60);
}

void tm_format_bj(int64_t epoch, char *buf, size_t len)
{
    int y, mo, d, h, mi, s;
    tm_epoch_to_bj(epoch, &y, &mo, &d, &h, &mi, &s);
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, s);
}

void tm_format_bj_date(int64_t epoch, char *buf, size_t len)
{
    int y, mo, d, h, mi, s;
    tm_epoch_to_bj(epoch, &y, &mo, &d, &h, &mi, &s);
    snprintf(buf, len, "%04d-%02d-%02d", y, mo, d);
}

void tm_format_bj_iso_ms(int64_t epoch_ms, char *buf, size_t len)
{
    int y, mo, d, h, mi, s;
    int64_t sec = floor_div(epoch_ms, 1000);
    tm_epoch_to_bj(sec, &y, &mo, &d, &h, &mi, &s);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+08:00", y, mo, d, h, mi, s,
             (int)(epoch_ms - sec * 1000));
}

void tm_json_add(cJSON *o, const char *key, int64_t epoch, tm_json_fmt fmt)
{
    char buf[40];
    if (fmt == TM_JSON_ISO_MS)
        tm_format_bj_iso_ms(epoch, buf, sizeof buf);
    else
        tm_format_bj(fmt == TM_JSON_BJ_FROM_MS ? floor_div(epoch, 1000) : epoch, buf, sizeof buf);
    cJSON_AddStringToObject(o, key, buf);
}

void tm_json_add_col(cJSON *o, const char *key, sqlite3_stmt *s, int col, tm_json_fmt fmt)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        cJSON_AddNullToObject(o, key);
    else
        tm_json_add(o, key, sqlite3_column_int64(s, col), fmt);
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

int tm_parse_bj(const char *str, int64_t *epoch)
{
    int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
    size_t len = strlen(str);
    if (len == 10 && sscanf(str, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10) {
    } else if (len == 16 && sscanf(str, "%4d-%2d-%2d %2d:%2d%n", &y, &mo, &d, &h, &mi, &n) == 5 &&
               n == 16) {
    } else if (len == 19 &&
               sscanf(str, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) == 6 &&
               n == 19) {
    } else {
        return CM_ERR_INVALID;
    }
    if (str[4] != '-' || str[7] != '-')
        return CM_ERR_INVALID;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
        h > 23 || mi > 59 || s > 59 || h < 0 || mi < 0 || s < 0)
        return CM_ERR_INVALID;
    *epoch = tm_bj_to_epoch(y, mo, d, h, mi, s);
    return CM_OK;
}

/* ---- shifts and periods ---------------------------------------------- */

void tm_shift_plan_default(tm_shift_plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->count = 3;
    plan->day_start_min = 0;
    snprintf(plan->names[0], sizeof plan->names[0], "夜班");
    snprintf(plan->names[1], sizeof plan->names[1], "早班");
    snprintf(plan->names[2], sizeof plan->names[2], "中班");
}

static int parse_hhmm(const char *s, int *minutes)
{
    int sign = 1, h, m, n = 0;
    if (*s == '-') {
        sign = -1;
        s++;
    }
    if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2 || s[n] != '\0' || h > 12 || m > 59 || h < 0 ||
        m < 0 || (h == 12 && m > 0))
        return CM_ERR_INVALID;
    *minutes = sign * (h * 60 + m);
    return CM_OK;
}

int tm_shift_plan_from_cfg(const cfg_sec_t *parent, const char *key, tm_shift_plan_t *plan,
                           char *err, size_t errlen)
{
    cfg_sec_t s;
    int rc = cfg_section(parent, key, &s, err, errlen);
    tm_shift_plan_default(plan);
    if (rc || !s.node)
        return rc;
    int count;
    char start[16];
    if ((rc = cfg_get_int(&s, "count", false, 3, 1, TM_MAX_SHIFTS, &count, err, errlen)))
        return rc;
    if (24 % count != 0 || count == 5)
        return cfg_error(&s, "count", err, errlen, "must divide the day: 1, 2, 3, 4 or 6");
    plan->count = count;
    if ((rc = cfg_get_string(&s, "day_start", false, "00:00", start, sizeof start, err, errlen)))
        return rc;
    if (parse_hhmm(start, &plan->day_start_min))
        return cfg_error(&s, "day_start", err, errlen,
                         "expected \"HH:MM\" between \"-12:00\" and \"12:00\"");
    int n;
    if ((rc = cfg_array_len(&s, "names", &n, err, errlen)))
        return rc;
    if (n && n != plan->count)
        return cfg_error(&s, "names", err, errlen, "needs exactly %d names", plan->count);
    for (int i = 0; i < plan->count; i++) {
        if (n) {
            const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s.node, "names"), i);
            if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof plan->names[i])
                return cfg_error(&s, "names", err, errlen, "each name must be a short string");
            snprintf(plan->names[i], sizeof plan->names[i], "%s", v->valuestring);
        } else if (plan->count != 3) {
            snprintf(plan->names[i], sizeof plan->names[i], "第%d班", i + 1);
        }
    }
    return CM_OK;
}

static int64_t day_start_epoch(const tm_shift_plan_t *p, int y, int m, int d)
{
    return tm_bj_to_epoch(y, m, d, 0, 0, 0) + (int64_t)p->day_start_min * 60;
}

void tm_production_day(const tm_shift_plan_t *p, int64_t epoch, int *y, int *m, int *d, int *shift)
{
    int64_t local = epoch + TM_BEIJING_OFFSET_S - (int64_t)p->day_start_min * 60;
    int64_t days = floor_div(local, 86400);
    tm_civil_from_days(days, y, m, d);
    if (shift)
        *shift = (int)((local - days * 86400) / (86400 / p->count));
}

void tm_period_bounds(const tm_shift_plan_t *p, tm_period kind, int64_t epoch, int64_t *start,
                      int64_t *end)
{
    int y, m, d, sh;
    tm_production_day(p, epoch, &y, &m, &d, &sh);
    int64_t day0 = day_start_epoch(p, y, m, d);
    int64_t shift_len = 86400 / p->count;
    int m0 = m, m1;
    switch (kind) {
    case TM_SHIFT:
        *start = day0 + sh * shift_len;
        *end = *start + shift_len;
        return;
    case TM_DAY:
        *start = day0;
        *end = day0 + 86400;
        return;
    case TM_MONTH: m1 = m + 1; break;
    case TM_QUARTER:
        m0 = (m - 1) / 3 * 3 + 1;
        m1 = m0 + 3;
        break;
    case TM_YEAR:
    default:
        m0 = 1;
        m1 = 13;
        break;
    }
    *start = day_start_epoch(p, y, m0, 1);
    *end = m1 > 12 ? day_start_epoch(p, y + 1, m1 - 12, 1) : day_start_epoch(p, y, m1, 1);
}

int tm_period_parse(const char *s, tm_period *out)
{
    static const char *const names[] = {"shift", "day", "month", "quarter", "year"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (tm_period)i;
            return CM_OK;
        }
    return CM_ERR_INVALID;
}
