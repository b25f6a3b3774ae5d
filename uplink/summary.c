/* dailySummary records (uplink.md §3) at every shift end and production-day
 * end: output (analytics' one output over a period: station minutes with
 * imported history in place of the station's minutes it covers), truck and
 * rail sales and inventory (intake's sales figures), energy of the
 * mine-total gates (the collector's counters). A failed read stops the
 * summary with the error: it is built again on the next run, never sent
 * with zeros. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analytics/analytics.h"
#include "collector/collector.h"
#include "intake/intake.h"
#include "uplink/builders.h"

/* The scale-health figure at the period's end (issue #13), as the optional
 * fields scaleRatio, scaleBand and scaleVerdict (dictionary 1 一致, 2 待观察,
 * 3 不一致); nothing when there is no figure (no model, too few running
 * intervals) or it cannot be read — the summary goes without it. */
static void scale_health(sqlite3 *db, const ana_conf_t *ac, int64_t b, cJSON *r)
{
    ana_scale_health_t h;
    if (!ac || ana_db_scale_health(db, ac, ANA_GATE_TRANSPORT, b, &h, NULL, 0) ||
        h.verdict == ANA_VERDICT_UNKNOWN)
        return;
    cJSON_AddNumberToObject(r, "scaleRatio", round(h.ratio * 10000) / 10000);
    cJSON_AddNumberToObject(r, "scaleBand", round(h.band * 10000) / 10000);
    cJSON_AddNumberToObject(r, "scaleVerdict", (int)h.verdict);
}

/* One summary over [a, b); shift < 0 is the whole day. */
static int summary(sqlite3 *db, const tm_shift_plan_t *plan, const ana_conf_t *ac, int64_t a,
                   int64_t b, int shift, int *made, char *err, size_t errlen)
{
    double out = 0, kwh = 0, station = 0;
    int64_t station_minutes = 0, gate_minutes = 0;
    intake_sales_t sales;
    /* A period in which neither the station nor a mine-total meter reported
     * (before coalmon ran here, or both down throughout) is not summed: zero
     * output and zero energy would tell the platform the mine stood still. */
    int rc = col_output_total(db, a, b, &station, &station_minutes, err, errlen);
    if (!rc)
        rc = col_mine_total_energy(db, a, b, &kwh, &gate_minutes, err, errlen);
    if (!rc && station_minutes + gate_minutes == 0)
        return CM_OK;
    if (!rc)
        rc = ana_output_raw(db, a, b, &out, err, errlen);
    if (!rc)
        rc = intake_sales_get(db, a, b, NULL, &sales, err, errlen);
    if (rc)
        return rc;
    double truck = sales.truck_sales, rail = sales.rail_sales, inv = sales.inventory;
    int y, m, d, sh;
    tm_production_day(plan, a, &y, &m, &d, &sh);
    char id[64], date[16];
    snprintf(date, sizeof date, "%04d-%02d-%02d", y, m, d);
    if (shift < 0)
        snprintf(id, sizeof id, "day-%s", date);
    else
        snprintf(id, sizeof id, "shift-%s-%d", date, shift + 1);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", id);
    cJSON_AddStringToObject(r, "date", date);
    if (shift >= 0)
        cJSON_AddStringToObject(r, "shift", plan->names[shift]);
    cJSON_AddNumberToObject(r, "output", upl_round3(out));
    cJSON_AddNumberToObject(r, "truckSales", upl_round3(truck));
    cJSON_AddNumberToObject(r, "railSales", upl_round3(rail));
    cJSON_AddNumberToObject(r, "inventory", upl_round3(inv));
    cJSON_AddNumberToObject(r, "kwh", upl_round3(kwh));
    if (out > 0)
        cJSON_AddNumberToObject(r, "kwhPerTon", upl_round3(kwh / out));
    scale_health(db, ac, b, r);
    /* replace: a ticket posted late changes the figures; the record is sent again. */
    return upl_put(db, "dailySummary", r, true, made, err, errlen);
}

/* Sum one shift again, and its production day if that day is closed too. */
static int resum_shift(sqlite3 *db, const tm_shift_plan_t *plan, const ana_conf_t *ac, int64_t t,
                       int64_t summed_to,
                       int64_t *last_shift, int64_t *last_day, int *made, char *err, size_t errlen)
{
    int64_t a, b, da, db_;
    int y, m, d, sh, rc = CM_OK;
    tm_period_bounds(plan, TM_SHIFT, t, &a, &b);
    if (a != *last_shift && b <= summed_to) {
        tm_production_day(plan, a, &y, &m, &d, &sh);
        rc = summary(db, plan, ac, a, b, sh, made, err, errlen);
        *last_shift = a;
    }
    tm_period_bounds(plan, TM_DAY, t, &da, &db_);
    if (!rc && da != *last_day && db_ <= summed_to) {
        rc = summary(db, plan, ac, da, db_, -1, made, err, errlen);
        *last_day = da;
    }
    return rc;
}

/*
 * A ticket or a rail sale stored after its shift was summed (a weighbridge
 * that was offline, a correction) changes that shift's and that day's
 * figures: they are summed again under the same record id, and the outbox
 * sends the new body (a receiver keeps it as a revision). Tickets and rail
 * sales stored since the last run are looked at, by the time they count in.
 */
static int resum_late(sqlite3 *db, const tm_shift_plan_t *plan, const ana_conf_t *ac,
                      int64_t summed_to, int64_t now,
                      int *made, char *err, size_t errlen)
{
    int64_t since;
    bool found;
    int rc = upl_state_get(db, "summary_late", &since, &found, err, errlen);
    if (rc || !found) /* first run: everything before now was summed as it stood */
        return rc ? rc : upl_state_set(db, "summary_late", now, err, errlen);
    sqlite3_stmt *s;
    rc = store_prepare(db,
                       "SELECT gross_time FROM weigh_ticket WHERE received_at >= ?1"
                       " AND received_at < ?2 AND gross_time < ?3"
                       " UNION SELECT loaded_at FROM rail_sale WHERE created_at >= ?1"
                       " AND created_at < ?2 AND loaded_at < ?3 ORDER BY 1",
                       &s, err, errlen);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, since);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, summed_to);
    int64_t last_shift = INT64_MIN, last_day = INT64_MIN;
    while (!rc && store_next(s, &rc, err, errlen))
        rc = resum_shift(db, plan, ac, sqlite3_column_int64(s, 0), summed_to, &last_shift, &last_day,
                         made, err, errlen);
    sqlite3_finalize(s);
    return rc ? rc : upl_state_set(db, "summary_late", now, err, errlen);
}

int upl_build_summaries(sqlite3 *db, const cfg_t *cfg, const upl_cfg_t *c, int64_t now,
                        int *made, char *err, size_t errlen)
{
    tm_shift_plan_t plan;
    tm_shift_plan_default(&plan);
    ana_conf_t ac; /* the scale-health figure's window and bands */
    ana_conf_default(&ac);
    if (cfg) {
        cfg_sec_t root = cfg_root(cfg);
        int rc = tm_shift_plan_from_cfg(&root, "shifts", &plan, err, errlen);
        if (!rc)
            rc = ana_conf_from_cfg(cfg, &ac, err, errlen);
        if (rc)
            return rc;
    }
    int64_t done, a, b, da, db_;
    bool found;
    int rc = upl_state_get(db, "summary", &done, &found, err, errlen);
    if (rc)
        return rc;
    if (!found || now - done > (int64_t)c->catchup_days * 86400 + 86400)
        done = now - (int64_t)c->catchup_days * 86400;
    tm_period_bounds(&plan, TM_SHIFT, done, &a, &b);
    if (a != done) /* not on a shift boundary: start with the next whole shift */
        a = b;
    for (int n = 0; !rc && n < 200; n++) {
        tm_period_bounds(&plan, TM_SHIFT, a, &a, &b);
        if (b + UPL_GRACE_S > now)
            break;
        int y, m, d, sh;
        tm_production_day(&plan, a, &y, &m, &d, &sh);
        rc = summary(db, &plan, &ac, a, b, sh, made, err, errlen);
        tm_period_bounds(&plan, TM_DAY, a, &da, &db_);
        if (!rc && b == db_)
            rc = summary(db, &plan, &ac, da, db_, -1, made, err, errlen);
        a = b;
    }
    if (!rc)
        rc = upl_state_set(db, "summary", a, err, errlen);
    return rc ? rc : resum_late(db, &plan, &ac, a, now, made, err, errlen);
}
