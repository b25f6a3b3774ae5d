/* coalmon-sim: device simulators for demo, tests and commissioning. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"
#include "sim/weighbridge.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) { g_stop = 1; }

static void usage(FILE *out)
{
    fprintf(out,
            "usage: coalmon-sim meter [--host H] [--port P] [--unit N] [--model M]\n"
            "                         [--maps DIR] [--load 0..1] [--seed N] [--units N]\n"
            "                         [--rtu DEVICE --baud B --parity N|E|O] [--frozen 1]\n"
            "                         [--control PORT] [--ct RATIO --pt RATIO] [--rated-a A]\n"
            "  Serve a simulated three-phase meter over Modbus TCP (or RTU on a serial\n"
            "  device, e.g. one end of a socat pty pair). --units N serves unit ids 1..N,\n"
            "  each its own meter (a bus or gateway). --port 0 picks a free port; the\n"
            "  line \"listening on HOST:PORT\" tells which. --ct/--pt: the meter sits\n"
            "  behind instrument transformers and serves secondary values (its\n"
            "  ct_ratio/pt_ratio registers, where the map names them, say so). Ctrl-C stops.\n"
            "       coalmon-sim station [--host H] [--port P] [--unit N] [--serial S]\n"
            "                           [--record-ms MS] [--capacity N] [--flow T/H]\n"
            "                           [--control PORT]\n"
            "  Serve the belt-scale station of docs/station-map.md with its record buffer.\n"
            "  --control PORT: a line socket for faults (see docs/collector.md): silent S,\n"
            "  exception S, garbage S, drop, outage S, clear, reset, jump KWH, stuck NAME\n"
            "  on|off, force NAME VALUE, zero_speed on|off, fault BIT on|off, battery on|off,\n"
            "  run on|off.\n");
    sim_wb_usage(out); /* issue #9 */
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

static int check_known(int argc, char **argv, const char *const *known)
{
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
    return 0;
}

/* Start the control socket if asked; prints its port. */
static int start_control(int argc, char **argv, sim_server_t *srv, const char *host)
{
    const char *c = opt(argc, argv, "--control", NULL);
    int port;
    char err[256];
    if (!c)
        return 0;
    if (parse_int(c, 0, 65535, &port)) {
        fprintf(stderr, "coalmon-sim: --control must be a port 0..65535\n");
        return 2;
    }
    if (sim_server_control(srv, host, port, err, sizeof err)) {
        fprintf(stderr, "coalmon-sim: %s\n", err);
        return 1;
    }
    printf("coalmon-sim: control on %s:%d\n", host, sim_server_control_port(srv));
    return 0;
}

static void wait_for_signal(void)
{
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!g_stop)
        tm_sleep_ms(200);
}

static int run_station(int argc, char **argv)
{
    static const char *const known[] = {"--host", "--port", "--unit", "--serial", "--record-ms",
                                        "--capacity", "--flow", "--seed", "--control", NULL};
    if (check_known(argc, argv, known))
        return 2;
    sim_station_opts_t o;
    sim_station_opts_default(&o);
    snprintf(o.host, sizeof o.host, "%s", opt(argc, argv, "--host", "127.0.0.1"));
    const char *serial = opt(argc, argv, "--serial", NULL);
    if (serial)
        snprintf(o.serial, sizeof o.serial, "%s", serial);
    int flow, seed;
    if (parse_int(opt(argc, argv, "--port", "1503"), 0, 65535, &o.port) ||
        parse_int(opt(argc, argv, "--unit", "0"), 0, 247, &o.unit) ||
        parse_int(opt(argc, argv, "--record-ms", "1000"), 100, 3600000, &o.record_ms) ||
        parse_int(opt(argc, argv, "--capacity", "100000"), 16, 10000000, &o.capacity) ||
        parse_int(opt(argc, argv, "--flow", "600"), 0, 20000, &flow) ||
        parse_int(opt(argc, argv, "--seed", "1"), 0, 1 << 30, &seed)) {
        fprintf(stderr, "coalmon-sim: --port 0..65535, --unit 0..247, --record-ms 100.., "
                        "--capacity 16.., --flow t/h, --seed a number\n");
        return 2;
    }
    o.flow_tph = flow;
    o.seed = (uint32_t)seed;
    char err[512];
    sim_station_t *st = sim_station_start(&o, err, sizeof err);
    if (!st) {
        fprintf(stderr, "coalmon-sim: %s\n", err);
        return 1;
    }
    int rc = start_control(argc, argv, sim_station_server(st), o.host);
    if (!rc) {
        printf("coalmon-sim: station %s listening on %s:%d\n", o.serial, o.host,
               sim_station_port(st));
        wait_for_signal();
    }
    sim_station_stop(st);
    return rc;
}

static int run_meter(int argc, char **argv)
{
    static const char *const known[] = {"--host", "--port", "--unit", "--model", "--maps",
                                        "--load", "--seed", "--units", "--rtu", "--baud",
                                        "--parity", "--frozen", "--control", "--ct", "--pt",
                                        "--rated-a", NULL};
    if (check_known(argc, argv, known))
        return 2;
    sim_meter_opts_t o;
    sim_meter_opts_default(&o);
    snprintf(o.host, sizeof o.host, "%s", opt(argc, argv, "--host", "127.0.0.1"));
    int seed = 1;
    if (parse_int(opt(argc, argv, "--port", "1502"), 0, 65535, &o.port) ||
        parse_int(opt(argc, argv, "--unit", "0"), 0, 247, &o.unit) ||
        parse_int(opt(argc, argv, "--seed", "1"), 0, 1 << 30, &seed) ||
        parse_int(opt(argc, argv, "--units", "0"), 0, 32, &o.units) ||
        parse_int(opt(argc, argv, "--baud", "9600"), 1200, 115200, &o.baud)) {
        fprintf(stderr, "coalmon-sim: --port 0..65535, --unit 0..247, --units 0..32, "
                        "--baud 1200..115200, --seed a number\n");
        return 2;
    }
    const char *parity = opt(argc, argv, "--parity", "N");
    if (strlen(parity) != 1 || !strchr("NEO", parity[0])) {
        fprintf(stderr, "coalmon-sim: --parity must be N, E or O\n");
        return 2;
    }
    o.parity = parity[0];
    snprintf(o.rtu, sizeof o.rtu, "%s", opt(argc, argv, "--rtu", ""));
    o.frozen = strcmp(opt(argc, argv, "--frozen", "0"), "0") != 0;
    o.seed = (uint32_t)seed;
    char *end;
    o.load = strtod(opt(argc, argv, "--load", "0.6"), &end);
    if (*end || o.load < 0 || o.load > 1.2) {
        fprintf(stderr, "coalmon-sim: --load must be a number in 0..1.2\n");
        return 2;
    }
    o.ct = strtod(opt(argc, argv, "--ct", "1"), &end);
    if (*end || o.ct < 1 || o.ct > 100000)
        return fprintf(stderr, "coalmon-sim: --ct must be a ratio in 1..100000\n"), 2;
    o.pt = strtod(opt(argc, argv, "--pt", "1"), &end);
    if (*end || o.pt < 1 || o.pt > 10000)
        return fprintf(stderr, "coalmon-sim: --pt must be a ratio in 1..10000\n"), 2;
    o.rated_a = strtod(opt(argc, argv, "--rated-a", "200"), &end);
    if (*end || o.rated_a <= 0 || o.rated_a > 100000)
        return fprintf(stderr, "coalmon-sim: --rated-a must be amperes in 0..100000\n"), 2;
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
    int rc = start_control(argc, argv, sim_meter_server(m), o.host);
    if (!rc) {
        if (o.rtu[0])
            printf("coalmon-sim: meter %s serving RTU on %s\n", map.model, o.rtu);
        else
            printf("coalmon-sim: meter %s listening on %s:%d\n", map.model, o.host,
                   sim_meter_port(m));
        wait_for_signal();
    }
    sim_meter_stop(m);
    return rc;
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
    if (strcmp(argv[1], "weighbridge") == 0) /* issue #9 */
        return sim_wb_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "station") == 0)
        return run_station(argc - 1, argv + 1);
    usage(stderr);
    fprintf(stderr, "coalmon-sim: unknown simulator '%s'\n", argv[1]);
    return 2;
}
