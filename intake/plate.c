/* Chinese vehicle plates: normalising, format check, and how alike two
 * recognised plates are (exit cameras misread characters). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "intake/intake.h"

#define PLATE_MAX_CP 16

/* Decode UTF-8 into code points; -1 on malformed input or too many. */
static int utf8_decode(const char *s, uint32_t *cp, int max)
{
    int n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c;
        int extra;
        if (*p < 0x80) {
            c = *p;
            extra = 0;
        } else if ((*p & 0xE0) == 0xC0) {
            c = *p & 0x1F;
            extra = 1;
        } else if ((*p & 0xF0) == 0xE0) {
            c = *p & 0x0F;
            extra = 2;
        } else if ((*p & 0xF8) == 0xF0) {
            c = *p & 0x07;
            extra = 3;
        } else {
            return -1;
        }
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return -1;
            c = (c << 6) | (*p & 0x3F);
        }
        if (n >= max)
            return -1;
        cp[n++] = c;
    }
    return n;
}

int intake_plate_normalize(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p;) {
        /* "·" (U+00B7) and the full-width "・" sit between region and serial on printed plates. */
        if (p[0] == 0xC2 && p[1] == 0xB7) {
            p += 2;
            continue;
        }
        if (p[0] == 0xE3 && p[1] == 0x83 && p[2] == 0xBB) {
            p += 3;
            continue;
        }
        if (*p == ' ' || *p == '.' || *p == '-' || *p == '\t') {
            p++;
            continue;
        }
        if (o + 1 >= outlen)
            return CM_ERR_INVALID;
        out[o++] = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
        p++;
    }
    out[o] = '\0';
    return CM_OK;
}

static uint32_t g_prov[40];
static int g_nprov;
static pthread_once_t g_prov_once = PTHREAD_ONCE_INIT;

static void build_provinces(void)
{
    g_nprov = utf8_decode("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼", g_prov, 40);
}

static bool is_province(uint32_t c)
{
    pthread_once(&g_prov_once, build_provinces);
    for (int i = 0; i < g_nprov; i++)
        if (g_prov[i] == c)
            return true;
    return false;
}

/* Serial characters: digits and letters except I and O (never issued). */
static bool is_serial(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z' && c != 'I' && c != 'O');
}

#define CP_GUA 0x6302 /* 挂, trailer */

int intake_plate_check(const char *plate, char *why, size_t whylen)
{
    uint32_t cp[PLATE_MAX_CP];
    int n = utf8_decode(plate, cp, PLATE_MAX_CP);
    if (n < 0)
        return cm_fail(why, whylen, CM_ERR_INVALID, "not a plate (bad UTF-8 or too long)");
    if (n < 7 || n > 8)
        return cm_fail(why, whylen, CM_ERR_INVALID,
                       "'%s' has %d characters; a plate has 7 (8 for new energy)", plate, n);
    if (!is_province(cp[0]))
        return cm_fail(why, whylen, CM_ERR_INVALID,
                       "'%s' must begin with a province character such as 晋", plate);
    if (!(cp[1] >= 'A' && cp[1] <= 'Z') || cp[1] == 'I')
        return cm_fail(why, whylen, CM_ERR_INVALID,
                       "'%s': the second character must be the issuing letter A-Z", plate);
    int last = n - 1;
    if (cp[last] == CP_GUA && n != 7)
        return cm_fail(why, whylen, CM_ERR_INVALID,
                       "'%s': a trailer plate has 4 characters between the letter and 挂", plate);
    bool trailer = n == 7 && cp[last] == CP_GUA;
    for (int i = 2; i < (trailer ? last : n); i++)
        if (!is_serial(cp[i]))
            return cm_fail(why, whylen, CM_ERR_INVALID,
                           "'%s': character %d must be a digit or a letter other than I and O",
                           plate, i + 1);
    if (n == 8 && !strchr("ABCDEFGHJK", (int)cp[2]) && cp[last] != 'D' && cp[last] != 'F')
        return cm_fail(why, whylen, CM_ERR_INVALID,
                       "'%s': a new-energy plate has D/F (or A-K) after the letter or D/F at the end",
                       plate);
    return CM_OK;
}

/* Glyph groups that plate recognition confuses, as a table built once. */
static unsigned char g_confusable[128][128];
static pthread_once_t g_confusable_once = PTHREAD_ONCE_INIT;

static void build_confusable(void)
{
    static const char *const groups[] = {"0DQOU", "8B", "1IL", "7T", "2Z", "5S", "6G", "4A", "UV",
                                         "MN", "HN", "EF", "KX"};
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (const char *a = groups[g]; *a; a++)
            for (const char *b = groups[g]; *b; b++)
                g_confusable[(int)*a][(int)*b] = 1;
}

static bool confusable(uint32_t a, uint32_t b)
{
    return a < 128 && b < 128 && g_confusable[a][b];
}

double intake_plate_similarity(const char *a, const char *b)
{
    uint32_t x[PLATE_MAX_CP], y[PLATE_MAX_CP];
    int n = utf8_decode(a, x, PLATE_MAX_CP), m = utf8_decode(b, y, PLATE_MAX_CP);
    if (n <= 0 || m <= 0)
        return 0.0;
    pthread_once(&g_confusable_once, build_confusable);
    /* Weighted Levenshtein distance, two rows. */
    double prev[PLATE_MAX_CP + 1], cur[PLATE_MAX_CP + 1];
    for (int j = 0; j <= m; j++)
        prev[j] = j;
    for (int i = 1; i <= n; i++) {
        cur[0] = i;
        for (int j = 1; j <= m; j++) {
            double sub = x[i - 1] == y[j - 1] ? 0.0 : confusable(x[i - 1], y[j - 1]) ? 0.25 : 1.0;
            double best = prev[j - 1] + sub;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, sizeof(double) * (size_t)(m + 1));
    }
    double conf = 1.0 - 0.2 * prev[m];
    return conf < 0 ? 0 : conf;
}
