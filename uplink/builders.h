/* Internal to uplink/: helpers shared by the record builders (builders.c,
 * summary.c). Not part of the module's public interface. */
#ifndef COALMON_UPLINK_BUILDERS_H
#define COALMON_UPLINK_BUILDERS_H

#include "uplink/uplink.h"

#define UPL_GRACE_S 90 /* the last minute's readings are committed by then */

int upl_state_get(sqlite3 *db, const char *name, int64_t *v, bool *found, char *err,
                  size_t errlen);
int upl_state_set(sqlite3 *db, const char *name, int64_t v, char *err, size_t errlen);
/* store_outbox_put and free rec; *made counts records new or changed. */
int upl_put(sqlite3 *db, const char *type, cJSON *rec, bool replace, int *made, char *err,
            size_t errlen);
double upl_round3(double v);
/* dailySummary per shift and per production day (summary.c). */
int upl_build_summaries(sqlite3 *db, const cfg_t *cfg, const upl_cfg_t *c, int64_t now_s,
                        int *made, char *err, size_t errlen);

#endif
