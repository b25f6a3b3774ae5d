/* The demo mine's live devices driven by analytics' realistic mine
 * (ana_sim_state_at): the same physics as the demo's pre-generated history. */
#include "analytics/analytics.h"
#include "sim/sim.h"

static void state(void *opts, int64_t t_ms, ana_sim_state_t *st)
{
    ana_sim_state_at((const ana_sim_opts_t *)opts, t_ms / 1000, st);
}

double sim_mine_transport_kw(void *opts, int64_t t_ms)
{
    ana_sim_state_t st;
    state(opts, t_ms, &st);
    return st.transport_read_kw;
}

double sim_mine_underground_kw(void *opts, int64_t t_ms)
{
    ana_sim_state_t st;
    state(opts, t_ms, &st);
    return st.sub_kw - st.transport_read_kw; /* fans, pumps, hoists, workshops */
}

double sim_mine_total_kw(void *opts, int64_t t_ms)
{
    ana_sim_state_t st;
    state(opts, t_ms, &st);
    return st.total_kw;
}

void sim_mine_belt(void *opts, int64_t t_ms, bool *running, double *flow_tph, double *speed_ms)
{
    ana_sim_state_t st;
    state(opts, t_ms, &st);
    *running = st.running;
    *flow_tph = st.flow_read_tph;
    *speed_ms = st.speed_ms;
}

double sim_mine_output_t(void *opts, int64_t from, int64_t to)
{
    double t = 0;
    ana_sim_state_t st;
    for (int64_t m = from / 60 * 60; m < to; m += 60) { /* the state holds over each minute */
        int64_t a = m > from ? m : from, b = m + 60 < to ? m + 60 : to;
        ana_sim_state_at((const ana_sim_opts_t *)opts, m, &st);
        t += st.flow_read_tph * (double)(b - a) / 3600.0;
    }
    return t;
}
