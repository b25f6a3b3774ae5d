/* coalmon-sim: device simulators for demo, tests and commissioning. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) { g_stop = 1; }

static void usage(FILE *out)
{
    fprintf(out,
            "usage: coalmon-sim meter [--host H] [--port P] [--unit N] [--model M]\n"
            "                         [--maps DIR] [--load 0..1] [--seed N]\n"
            "  Serve a simulated three-phase meter over Modbus TCP. --port 0 picks a free\n"
            "  port; the line \"listening on HOST:PORT\" tells which. Ctrl-C stops.\n");
}

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int run_meter(int argc, char **argv)
{
    static const char *const known[] = {"--host", "--port", "--unit", "--model", "--maps",
                                        "--load", "--seed", NULL};
    for (int i = 1; i < argc; i += 2) {
        int k = 0;
        while (known[k] && strcmp(known[k], argv[i]) != 0)
            k++;
        if (!known[k] || i + 1 >= argc) {
            usage(stderr);
            fprintf(stderr, "coalmon-sim: bad option %s\n", argv[i]);
            return 2;
        }
    }
    sim_meter_opts_t o;
    sim_meter_opts_default(&o);
    snprintf(o.host, sizeof o.host, "%s", opt(argc, argv, "--host", "127.0.0.1"));
    int seed = 1;
    if (parse_int(opt(argc, argv, "--port", "1502"), 0, 65535, &o.port) ||
        parse_int(opt(argc, argv, "--unit", "0"), 0, 247, &o.unit) ||
        parse_int(opt(argc, argv, "--seed", "1"), 0, 1 << 30, &seed)) {
        fprintf(stderr, "coalmon-sim: --port 0..65535, --unit 0..247, --seed a number\n");
        return 2;
    }
    o.seed = (uint32_t)seed;
    char *end;
    o.load = strtod(opt(argc, argv, "--load", "0.6"), &end);
    if (*end || o.load < 0 || o.load > 1.2) {
        fprintf(stderr, "coalmon-sim: --load must be a number in 0..1.2\n");
        return 2;
    }
    col_map_t map;
    char err[512];
    if (col_map_load_model(opt(argc, argv, "--maps", COALMON_CONF_DIR "/meters"),
                           opt(argc, argv, "--model", "chint-dtsu666"), &map, err, sizeof err)) {
        fprintf(stderr, "coalmon-sim: %s\n", err);
        return 1;
    }
    sim_meter_t *m = sim_meter_start(&map, &o, err, sizeof err);
    if (!m) {
        fprintf(stderr, "coalmon-sim: %s\n", err);
        return 1;
    }
    printf("coalmon-sim: meter %s listening on %s:%d\n", map.model, o.host, sim_meter_port(m));
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!g_stop)
        tm_sleep_ms(200);
    sim_meter_stop(m);
    return 0;
}

int main(int argc, char **argv)
{
    log_setup("coalmon-sim", LOG_LVL_WARN, false);
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "meter") == 0)
        return run_meter(argc - 1, argv + 1);
    usage(stderr);
    fprintf(stderr, "coalmon-sim: unknown simulator '%s'\n", argv[1]);
    return 2;
}
