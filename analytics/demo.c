/* analytics: the demo mine (coalmond --demo). One realistic simulated mine
 * (ana_sim_state_at) is the physics behind the pre-generated history and the
 * live meters, station and weighbridge, so the demo's live data agree with
 * the model its history fitted. */
#include "analytics/analytics.h"

void ana_demo_sim_opts(const ana_conf_t *c, ana_sim_opts_t *o)
{
    ana_sim_opts_realistic(o);
    o->interval_s = c->interval_s;
    o->seed = ANA_DEMO_SEED;
}
