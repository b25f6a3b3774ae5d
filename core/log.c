#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "core/core.h"

static log_level g_level = LOG_LVL_INFO;
static bool g_syslog;
static char g_ident[32] = "coalmon";
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const int syslog_prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void log_setup(const char *ident, log_level level, bool to_syslog)
{
    pthread_mutex_lock(&g_lock);
    g_level = level;
    snprintf(g_ident, sizeof g_ident, "%s", ident ? ident : "coalmon");
    if (g_syslog && !to_syslog)
        closelog();
    g_syslog = to_syslog;
    if (to_syslog)
        openlog(g_ident, LOG_PID, LOG_DAEMON);
    pthread_mutex_unlock(&g_lock);
}

int log_level_parse(const char *s, log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (s && strcmp(s, names[i]) == 0) {
            *out = (log_level)i;
            return CM_OK;
        }
    }
    return CM_ERR_INVALID;
}

void log_msg(log_level level, const char *module, const char *fmt, ...)
{
    if (level > g_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One event per line: a newline inside would split it. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';

    pthread_mutex_lock(&g_lock);
    if (g_syslog) {
        syslog(syslog_prio[level], "%s [%s] %s", level_names[level], module, msg);
    } else {
        char ts[40];
        tm_format_bj_iso_ms(tm_now_ms(), ts, sizeof ts);
        fprintf(stderr, "%s %s %-5s [%s] %s\n", ts, g_ident, level_names[level], module, msg);
        fflush(stderr);
    }
    pthread_mutex_unlock(&g_lock);
}
