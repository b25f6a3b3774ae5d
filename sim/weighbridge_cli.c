/* `coalmon-sim weighbridge`: the simulator from the command line. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/weighbridge.h"

static atomic_int g_stop; /* set by the signal handler (lock-free: safe there) */

static void on_signal(int sig) { g_stop = 1; }

void sim_wb_usage(FILE *out)
{
    fprintf(out,
            "       coalmon-sim weighbridge --key KEY [--host H] [--port P] [--rate N]\n"
            "                               [--count N] [--backfill-hours H] [--speed X]\n"
            "                               [--mistakes ocr,escape,badnet,dup,correct,empty[=P]]\n"
            "                               [--point E1] [--bridge WB1] [--seed N] [--verbose]\n"
            "  Post weighbridge tickets and exit captures to coalmond (trucks of 30-50 t,\n"
            "  N an hour in a day shift, a third at night). Mistakes are switched on with a\n"
            "  chance per truck (default 0.1). Prints a summary line as JSON at the end.\n");
}

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static int num(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s)
        return 0;
    if (*s == '\0' || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int sim_wb_main(int argc, char **argv)
{
    static const char *const known[] = {"--key", "--host", "--port", "--rate", "--count",
                                        "--backfill-hours", "--speed", "--mistakes", "--point",
                                        "--bridge", "--seed", NULL};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--verbose"))
            continue;
        int k = 0;
        while (known[k] && strcmp(known[k], argv[i]))
            k++;
        if (!known[k] || i + 1 >= argc) {
            sim_wb_usage(stderr);
            fprintf(stderr, "coalmon-sim: bad option %s\n", argv[i]);
            return 2;
        }
        i++;
    }
    sim_wb_opts_t o;
    sim_wb_opts_default(&o);
    double port = o.port, count = 0, seed = 1;
    const char *key = opt(argc, argv, "--key");
    if (!key || strlen(key) >= sizeof o.key) {
        fprintf(stderr, "coalmon-sim: --key KEY is required (coalmon intake-key add NAME)\n");
        return 2;
    }
    snprintf(o.key, sizeof o.key, "%s", key);
    if (opt(argc, argv, "--host"))
        snprintf(o.host, sizeof o.host, "%s", opt(argc, argv, "--host"));
    if (opt(argc, argv, "--point"))
        snprintf(o.point, sizeof o.point, "%s", opt(argc, argv, "--point"));
    if (opt(argc, argv, "--bridge"))
        snprintf(o.bridge, sizeof o.bridge, "%s", opt(argc, argv, "--bridge"));
    if (num(opt(argc, argv, "--port"), 1, 65535, &port) ||
        num(opt(argc, argv, "--rate"), 0.1, 3600, &o.trucks_per_hour) ||
        num(opt(argc, argv, "--count"), 0, 1e7, &count) ||
        num(opt(argc, argv, "--backfill-hours"), 0, 24 * 400, &o.backfill_hours) ||
        num(opt(argc, argv, "--speed"), 0.01, 1e6, &o.speed) ||
        num(opt(argc, argv, "--seed"), 0, 1e9, &seed)) {
        fprintf(stderr, "coalmon-sim: --port 1..65535, --rate 0.1..3600, --count >= 0,"
                        " --backfill-hours 0..9600, --speed 0.01.., --seed a number\n");
        return 2;
    }
    o.port = (int)port;
    o.count = (int)count;
    o.seed = (uint32_t)seed;
    o.verbose = false;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--verbose"))
            o.verbose = true;
    char err[256];
    const char *m = opt(argc, argv, "--mistakes");
    if (m && sim_wb_parse_mistakes(&o, m, err, sizeof err)) {
        fprintf(stderr, "coalmon-sim: %s\n", err);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    sim_wb_stats_t st;
    int rc = sim_wb_run(&o, &st, &g_stop, err, sizeof err);
    printf("coalmon-sim: weighbridge summary {\"trucks\":%d,\"tickets\":%d,\"rejected\":%d,"
           "\"duplicates\":%d,\"corrections\":%d,\"captures\":%d,\"escapes\":%d,\"ocr\":%d,"
           "\"empty\":%d,\"errors\":%d}\n",
           st.trucks, st.tickets, st.rejected, st.duplicates, st.corrections, st.captures,
           st.escapes, st.ocr, st.empty, st.errors);
    if (rc)
        fprintf(stderr, "coalmon-sim: %s\n", err);
    return rc ? 1 : 0;
}
