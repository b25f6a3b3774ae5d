/* AES/CBC/PKCS5Padding, Base64 and the token of uplink.md §1 (UPL-1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "uplink/uplink.h"

int upl_key_set(upl_key_t *k, const char *key, const char *iv, char *err, size_t errlen)
{
    size_t kl = key ? strlen(key) : 0, il = iv ? strlen(iv) : 0;
    if (kl != 16 && kl != 24 && kl != 32)
        return cm_fail(err, errlen, CM_ERR_INVALID, "key: must be 16, 24 or 32 characters, got %zu",
                       kl);
    if (il != 16)
        return cm_fail(err, errlen, CM_ERR_INVALID, "iv: must be 16 characters, got %zu", il);
    memset(k, 0, sizeof *k);
    memcpy(k->key, key, kl);
    k->key_len = kl;
    memcpy(k->iv, iv, 16);
    return CM_OK;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *upl_b64_encode(const unsigned char *d, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
    if (!out)
        return NULL;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = B64[(v >> 6) & 63];
        *o++ = B64[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < len ? (unsigned)d[i + 1] << 8 : 0);
        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
    return out;
}

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int upl_b64_decode(const char *t, size_t len, unsigned char **out, size_t *outlen, char *err,
                   size_t errlen)
{
    unsigned char *buf = malloc(len / 4 * 3 + 4);
    if (!buf)
        return cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)t[i];
        if (c == '\r' || c == '\n' || c == '\t' || c == ' ') /* Java's MIME encoder breaks lines */
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad) {
            free(buf);
            return cm_fail(err, errlen, CM_ERR_INVALID, "not Base64 (character %zu)", i + 1);
        }
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits >= 6 || pad > 2) {
        free(buf);
        return cm_fail(err, errlen, CM_ERR_INVALID, "not Base64 (truncated)");
    }
    *out = buf;
    *outlen = n;
    return CM_OK;
}

static const EVP_CIPHER *cipher_of(const upl_key_t *k)
{
    return k->key_len == 32 ? EVP_aes_256_cbc() : k->key_len == 24 ? EVP_aes_192_cbc()
                                                                   : EVP_aes_128_cbc();
}

/* One EVP pass; PKCS#7 padding is EVP's default, which is Java's PKCS5Padding on AES. */
static int aes_run(const upl_key_t *k, int enc, const unsigned char *in, size_t len,
                   unsigned char **out, size_t *outlen)
{
    if (!k->key_len || len > (size_t)INT32_MAX - 32)
        return CM_ERR_INVALID;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char *buf = malloc(len + 32);
    int l1 = 0, l2 = 0, rc = CM_ERR_CRYPTO;
    if (ctx && buf && EVP_CipherInit_ex(ctx, cipher_of(k), NULL, k->key, k->iv, enc) == 1 &&
        EVP_CipherUpdate(ctx, buf, &l1, in, (int)len) == 1 &&
        EVP_CipherFinal_ex(ctx, buf + l1, &l2) == 1)
        rc = CM_OK;
    else if (!ctx || !buf)
        rc = CM_ERR_NOMEM;
    EVP_CIPHER_CTX_free(ctx);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[l1 + l2] = 0;
    *out = buf;
    *outlen = (size_t)(l1 + l2);
    return CM_OK;
}

int upl_encrypt(const upl_key_t *k, const void *plain, size_t len, char **out, char *err,
                size_t errlen)
{
    unsigned char *ct;
    size_t ctlen;
    int rc = aes_run(k, 1, plain, len, &ct, &ctlen);
    if (rc)
        return cm_fail(err, errlen, rc, "encryption failed: %s", cm_strerror(rc));
    *out = upl_b64_encode(ct, ctlen);
    free(ct);
    return *out ? CM_OK : cm_fail(err, errlen, CM_ERR_NOMEM, "out of memory");
}

int upl_decrypt(const upl_key_t *k, const char *b64, size_t len, char **out, size_t *outlen,
                char *err, size_t errlen)
{
    unsigned char *ct, *pt;
    size_t ctlen, ptlen;
    int rc = upl_b64_decode(b64, len, &ct, &ctlen, err, errlen);
    if (rc)
        return rc;
    if (ctlen == 0 || ctlen % 16) {
        free(ct);
        return cm_fail(err, errlen, CM_ERR_INVALID,
                       "ciphertext of %zu bytes is not a whole number of AES blocks", ctlen);
    }
    rc = aes_run(k, 0, ct, ctlen, &pt, &ptlen);
    free(ct);
    if (rc)
        return cm_fail(err, errlen, rc, "does not decrypt (wrong key or IV, or tampered)");
    *out = (char *)pt;
    *outlen = ptlen;
    return CM_OK;
}

int upl_token_make(const upl_key_t *k, const char *mine_code, int64_t epoch_s, char **out,
                   char *err, size_t errlen)
{
    char when[24], plain[160];
    tm_format_bj(epoch_s, when, sizeof when);
    int n = snprintf(plain, sizeof plain, "{mineCode=%s, time=%s}", mine_code, when);
    if (n < 0 || (size_t)n >= sizeof plain)
        return cm_fail(err, errlen, CM_ERR_INVALID, "mineCode: too long");
    return upl_encrypt(k, plain, (size_t)n, out, err, errlen);
}

/* Parse "{mineCode=X, time=yyyy-MM-dd HH:mm:ss}"; tolerant of spaces around the parts. */
static int token_parse(const char *p, char *code, size_t codelen, int64_t *t)
{
    while (*p == ' ')
        p++;
    if (strncmp(p, "{mineCode=", 10))
        return CM_ERR_INVALID;
    p += 10;
    const char *comma = strchr(p, ',');
    if (!comma || (size_t)(comma - p) >= codelen)
        return CM_ERR_INVALID;
    memcpy(code, p, (size_t)(comma - p));
    code[comma - p] = 0;
    p = comma + 1;
    while (*p == ' ')
        p++;
    if (strncmp(p, "time=", 5))
        return CM_ERR_INVALID;
    p += 5;
    const char *end = strchr(p, '}');
    char when[32];
    if (!end || end - p != 19)
        return CM_ERR_INVALID;
    memcpy(when, p, 19);
    when[19] = 0;
    return tm_parse_bj(when, t) ? CM_ERR_INVALID : CM_OK;
}

int upl_token_check(const upl_key_t *k, const char *token, const char *mine_code, int64_t now_s,
                    int max_skew_s, int64_t *token_s, char *err, size_t errlen)
{
    char *plain = NULL, code[64];
    size_t len;
    int64_t t = 0;
    if (upl_decrypt(k, token, strlen(token), &plain, &len, NULL, 0))
        return cm_fail(err, errlen, CM_ERR_AUTH, "token does not decrypt with this mine's key");
    int rc = token_parse(plain, code, sizeof code, &t);
    free(plain);
    if (rc)
        return cm_fail(err, errlen, CM_ERR_AUTH, "token is not {mineCode=…, time=…}");
    if (strcmp(code, mine_code))
        return cm_fail(err, errlen, CM_ERR_AUTH, "token names mine %s, request names %s", code,
                       mine_code);
    int64_t skew = t > now_s ? t - now_s : now_s - t;
    if (skew > max_skew_s)
        return cm_fail(err, errlen, CM_ERR_AUTH, "token time is %lld s from ours (limit %d s)",
                       (long long)skew, max_skew_s);
    if (token_s)
        *token_s = t;
    return CM_OK;
}
