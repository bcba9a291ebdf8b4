/*
 * buf.c — capped growable byte buffers (weir_buf).
 *
 * For: building bodies, records and text whose size comes from outside
 * input, with a hard cap so a corrupt length or a hostile peer cannot make
 * us allocate without bound; base64 text in and out of them.
 * Not for: per-request scratch (arena.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/core.h"

void weir_buf_init(weir_buf *b, size_t max) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX / 2;
}

void weir_buf_free(weir_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void weir_buf_reset(weir_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

weir_status weir_buf_reserve(weir_buf *b, size_t extra) {
    if (extra > b->max || b->len > b->max - extra)
        return weir_errorf(WEIR_ELIMIT,
                           "buffer would grow to %zu bytes, past its cap of %zu bytes",
                           b->len + (extra > b->max ? b->max : extra), b->max);
    size_t need = b->len + extra + 1; /* + NUL */
    if (need <= b->cap) return WEIR_OK;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > b->max + 1) ncap = b->max + 1;
    uint8_t *nd = realloc(b->data, ncap);
    if (!nd) return weir_errorf(WEIR_ENOMEM, "out of memory growing a buffer to %zu bytes", ncap);
    b->data = nd;
    b->cap = ncap;
    return WEIR_OK;
}

weir_status weir_buf_append(weir_buf *b, const void *p, size_t n) {
    weir_status rc = weir_buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return WEIR_OK;
}

weir_status weir_buf_append_str(weir_buf *b, const char *s) {
    return weir_buf_append(b, s, strlen(s));
}

weir_status weir_buf_append_byte(weir_buf *b, uint8_t c) {
    return weir_buf_append(b, &c, 1);
}

weir_status weir_buf_printf(weir_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    weir_status rc = WEIR_OK;
    if (n < 0) {
        rc = weir_errorf(WEIR_EINVAL, "bad format string '%s'", fmt);
        goto out;
    }
    rc = weir_buf_reserve(b, (size_t)n);
    if (rc) goto out;
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
    b->len += (size_t)n;
out:
    va_end(ap2);
    return rc;
}

uint8_t *weir_buf_detach(weir_buf *b, size_t *len) {
    uint8_t *p = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

/* ---------------------------------------------------------------- base64 */

static const char b64_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

weir_status weir_b64_append(weir_buf *b, const void *p, size_t n) {
    const uint8_t *s = p;
    weir_status rc = weir_buf_reserve(b, n / 3 * 4 + 4);
    if (rc) return rc;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n) v |= s[i + 2];
        uint8_t *o = b->data + b->len;
        o[0] = (uint8_t)b64_tab[(v >> 18) & 63];
        o[1] = (uint8_t)b64_tab[(v >> 12) & 63];
        o[2] = i + 1 < n ? (uint8_t)b64_tab[(v >> 6) & 63] : '=';
        o[3] = i + 2 < n ? (uint8_t)b64_tab[v & 63] : '=';
        b->len += 4;
    }
    b->data[b->len] = 0;
    return WEIR_OK;
}

static int b64_val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

weir_status weir_b64_decode(const char *what, const char *t, size_t n, weir_arena_t *a,
                            const char **out, size_t *outlen) {
    if (n % 4)
        return weir_errorf(WEIR_EPARSE, "%s: base64 text of %zu characters is not a multiple "
                           "of 4 (padded with '=')", what, n);
    size_t pad = 0;
    while (pad < 2 && pad < n && t[n - 1 - pad] == '=') pad++;
    char *dst = weir_arena_alloc(a, n / 4 * 3 + 1);
    if (!dst) return weir_errorf(WEIR_ENOMEM, "%s: no memory for %zu bytes", what, n / 4 * 3);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            size_t at = i + (size_t)k;
            v[k] = at >= n - pad ? 0 : b64_val((unsigned char)t[at]);
            if (v[k] < 0)
                return weir_errorf(WEIR_EPARSE, "%s: character %zu of the base64 text is not "
                                   "base64", what, at + 1);
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        dst[o++] = (char)(x >> 16);
        dst[o++] = (char)(x >> 8);
        dst[o++] = (char)x;
    }
    o -= pad;
    dst[o] = 0;
    *out = dst;
    *outlen = o;
    return WEIR_OK;
}
