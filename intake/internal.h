/* Helpers shared by the intake sources; not part of the public header. */
#ifndef COALMON_INTAKE_INTERNAL_H
#define COALMON_INTAKE_INTERNAL_H

#include "intake/intake.h"

/* Fill f and return CM_ERR_INVALID. */
int intake_fault_set(intake_fault_t *f, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Field readers: absent and !required leaves out as given (strings "").
 * Strings are trimmed and must fit outlen. Numbers must be finite and within
 * [lo, hi]; with text_numbers a numeric string is accepted. Times are
 * "yyyy-MM-dd HH:mm:ss" Beijing time. */
int intake_get_str(const cJSON *o, const char *key, bool required, char *out, size_t outlen,
                   intake_fault_t *f);
int intake_get_num(const cJSON *o, const char *key, bool required, bool text_numbers, double lo,
                   double hi, double *out, intake_fault_t *f);
int intake_get_time(const cJSON *o, const char *key, bool required, int64_t *out,
                    intake_fault_t *f);

/* Column text as a JSON string, or null. */
void intake_add_col_text(cJSON *o, const char *key, sqlite3_stmt *s, int col);

/* Queue (or re-queue) the exitCapture record of a stored capture. In a job. */
int intake_capture_queue(sqlite3 *db, const char *capture_id, char *err, size_t errlen);

/* Figures of one period as JSON (numbers rounded to kg). */
cJSON *intake_figures_to_json(const intake_figures_t *f);

#endif
