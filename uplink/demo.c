/* The uplink part of `coalmond --demo`: the mine reports to a platform
 * receiver on its own HTTP server, so a newcomer sees records flow. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "uplink/uplink.h"

#define DEMO_MINE "001001001" /* 官地煤矿 in the seed's §5.4 list */
#define DEMO_KEY "coalmonDemoKey16"
#define DEMO_IV "coalmonDemoIv016"

int upl_demo_config(cJSON *root, const char *dir, char *err, size_t errlen)
{
    char path[600];
    snprintf(path, sizeof path, "%s/uplink-keys.json", dir);
    /* Created 0600 from the start: the daemon refuses keys others can read. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char text[200];
    int n = snprintf(text, sizeof text, "{\"demo-platform\": {\"key\": \"%s\", \"iv\": \"%s\"}}\n",
                     DEMO_KEY, DEMO_IV);
    if (fd < 0 || write(fd, text, (size_t)n) != n) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return cm_fail(err, errlen, CM_ERR_IO, "%s: %s", path, strerror(e));
    }
    close(fd);
    cJSON *up = cJSON_AddObjectToObject(root, "uplink");
    cJSON_AddBoolToObject(up, "enabled", true);
    cJSON_AddStringToObject(up, "keys_file", path);
    cJSON_AddNumberToObject(up, "interval_min", 1);
    cJSON_AddNumberToObject(up, "backoff_max_s", 60);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", "demo-platform");
    cJSON_AddStringToObject(d, "url", "self");
    cJSON_AddStringToObject(d, "prefix", "cms");
    cJSON_AddStringToObject(d, "mine_code", DEMO_MINE);
    cJSON_AddBoolToObject(d, "batch", true);
    cJSON_AddBoolToObject(d, "backfill", true);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(up, "destinations"), d);
    cJSON *r = cJSON_AddObjectToObject(up, "receiver");
    cJSON_AddBoolToObject(r, "enabled", true);
    return CM_OK;
}
