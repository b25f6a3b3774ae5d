/* coalmon threshold: alarm settings per type — level, hold-off, hysteresis,
 * value threshold, manual clearing, on/off (issue #7). Every change goes
 * through the audited path (ALM-5) and so raises "parameter modified". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarms/alarms.h"
#include "cli/cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: coalmon threshold list [--json]\n"
            "       coalmon threshold set TYPE [--level L] [--holdoff SECONDS]\n"
            "                             [--clear-after SECONDS] [--threshold X|none]\n"
            "                             [--manual-clear yes|no] [--enabled yes|no]\n"
            "                             --reason TEXT [--json]\n"
            "  holdoff:     the condition must last this long before the alarm is raised\n"
            "  clear-after: it must be gone this long before the alarm clears (hysteresis)\n"
            "  threshold:   conditions whose |value| is below it are ignored\n"
            "TYPE: over_production ... motor_vibration or 1..11 (see `coalmon alarm --help`).\n");
}

static void print_setting(const alarm_setting_t *s)
{
    char thr[32] = "-";
    if (s->has_threshold)
        snprintf(thr, sizeof thr, "%g", s->threshold);
    printf("%-3d %-19s %-18s %-8s %8d %12d %10s %7s %7s\n", s->type, alarm_type_name(s->type),
           alarm_type_label(s->type), alarm_level_name(s->level), s->holdoff_s, s->clear_after_s,
           thr, s->manual_clear ? "yes" : "no", s->enabled ? "yes" : "no");
}

static int list(cli_ctx_t *ctx)
{
    store_t *st = cli_store(ctx);
    char err[256];
    sqlite3 *db = st ? store_reader_open(st, err, sizeof err) : NULL;
    if (!db)
        return st ? cli_error(CLI_FAIL, "%s", err) : CLI_FAIL;
    cJSON *arr = cJSON_CreateArray();
    int rc = CM_OK;
    if (!ctx->json)
        printf("%-3s %-19s %-18s %-8s %8s %12s %10s %7s %7s\n", "NO", "TYPE", "名称", "LEVEL",
               "HOLDOFF", "CLEAR_AFTER", "THRESHOLD", "MANUAL", "ENABLED");
    for (int t = 1; !rc && t <= ALARM_T_MAX; t++) {
        alarm_setting_t s;
        rc = alarm_setting_get(db, t, &s, err, sizeof err);
        if (rc)
            break;
        if (ctx->json)
            cJSON_AddItemToArray(arr, alarm_setting_json(&s));
        else
            print_setting(&s);
    }
    store_reader_close(db);
    if (rc) {
        cJSON_Delete(arr);
        return cli_error(CLI_FAIL, "%s", err);
    }
    if (ctx->json)
        cli_print_json(arr);
    else
        cJSON_Delete(arr);
    return CLI_OK;
}

typedef struct set_job {
    int type;
    const cJSON *changes;
    const char *actor, *reason;
    alarm_setting_t result;
    bool changed;
    char field[64];
} set_job_t;

static int set_job(sqlite3 *db, void *arg, char *err, size_t errlen)
{
    set_job_t *j = arg;
    int rc = alarm_setting_get(db, j->type, &j->result, err, errlen);
    if (!rc)
        rc = alarm_setting_apply_json(&j->result, j->changes, j->field, sizeof j->field, err, errlen);
    if (!rc)
        rc = alarm_setting_put(db, &j->result, j->actor, "cli", j->reason, &j->changed, err, errlen);
    return rc;
}

/* Options into the JSON the API takes, so both check values the same way. */
static int options_json(int argc, char **argv, cJSON *ch)
{
    static const struct {
        const char *opt, *key;
        char kind; /* n number, b yes/no, l level, t threshold */
    } opts[] = {{"--level", "level", 'l'},          {"--holdoff", "holdoff_s", 'n'},
                {"--clear-after", "clear_after_s", 'n'}, {"--threshold", "threshold", 't'},
                {"--manual-clear", "manual_clear", 'b'}, {"--enabled", "enabled", 'b'}};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        const char *v = cli_opt(argc, argv, opts[i].opt);
        if (!v)
            continue;
        char *end;
        double d = strtod(v, &end);
        if (opts[i].kind == 'l')
            cJSON_AddStringToObject(ch, opts[i].key, v);
        else if (opts[i].kind == 't' && !strcmp(v, "none"))
            cJSON_AddNullToObject(ch, opts[i].key);
        else if (opts[i].kind == 'b' && (!strcmp(v, "yes") || !strcmp(v, "no")))
            cJSON_AddBoolToObject(ch, opts[i].key, v[0] == 'y');
        else if (opts[i].kind != 'b' && *v && !*end)
            cJSON_AddNumberToObject(ch, opts[i].key, d);
        else
            return cli_error(CLI_USAGE, "%s: '%s' is not %s", opts[i].opt, v,
                             opts[i].kind == 'b' ? "yes or no" : "a number");
    }
    return cJSON_GetArraySize(ch) ? CLI_OK
                                  : cli_error(CLI_USAGE, "nothing to change: give --level, --holdoff,"
                                                         " --clear-after, --threshold, ...");
}

static int set(cli_ctx_t *ctx, int argc, char **argv)
{
    set_job_t j = {.actor = ctx->actor, .reason = cli_opt(argc, argv, "--reason")};
    if (argc < 3 || argv[2][0] == '-' || alarm_type_parse(argv[2], &j.type))
        return cli_error(CLI_USAGE, "TYPE: unknown alarm type '%s'", argc >= 3 ? argv[2] : "");
    if (!j.reason || !*j.reason)
        return cli_error(CLI_USAGE, "--reason: required; the change is audited");
    cJSON *ch = cJSON_CreateObject();
    int rc = options_json(argc, argv, ch);
    store_t *st = rc ? NULL : cli_store(ctx);
    char err[256];
    if (!rc && !st)
        rc = CLI_FAIL;
    if (!rc) {
        j.changes = ch;
        int w = store_write(st, set_job, &j, err, sizeof err);
        if (w == CM_ERR_INVALID) {
            /* Name the option the engineer typed, not the JSON key behind it. */
            static const char *const names[][2] = {{"holdoff_s", "holdoff"},
                                                   {"clear_after_s", "clear-after"},
                                                   {"manual_clear", "manual-clear"}};
            const char *shown = err;
            char buf[300];
            for (size_t i = 0; i < 3; i++) {
                size_t n = strlen(names[i][0]);
                if (strncmp(err, names[i][0], n) == 0) {
                    snprintf(buf, sizeof buf, "%s%s", names[i][1], err + n);
                    shown = buf;
                }
            }
            rc = cli_error(CLI_USAGE, "--%s", shown);
        }
        else if (w)
            rc = cli_error(CLI_FAIL, "%s", err);
    }
    cJSON_Delete(ch);
    if (rc)
        return rc;
    if (ctx->json) {
        cJSON *out = alarm_setting_json(&j.result);
        cJSON_AddBoolToObject(out, "changed", j.changed);
        cli_print_json(out);
    } else {
        printf("%s\n", j.changed ? "changed (audited):" : "unchanged:");
        print_setting(&j.result);
    }
    return CLI_OK;
}

int cmd_threshold(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *a = argc >= 2 ? argv[1] : "";
    if (!strcmp(a, "list"))
        return list(ctx);
    if (!strcmp(a, "set"))
        return set(ctx, argc, argv);
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        usage(stdout);
        return CLI_OK;
    }
    usage(stderr);
    return CLI_USAGE;
}
