/* Files compiled into the binary by cmake/embed.cmake. Static, read-only, never freed. */
#ifndef COALMON_EMBED_H
#define COALMON_EMBED_H
#include <stddef.h>
typedef struct embed_file {
    const char *name; /* path relative to its folder, e.g. "0001_foundation.sql" */
    const unsigned char *data; /* NUL-terminated for convenience */
    size_t len;       /* without the NUL */
} embed_file_t;
#endif
