/*
 * utf8.c -- UTF-8 validation (see utf8.h): the well-formed byte sequences of
 * the Unicode standard's table 3-7, with ASCII skipped eight bytes at a time.
 */
#include "base/utf8.h"

#include <stdint.h>
#include <string.h>

ag_utf8_status ag_utf8_check(const char *text, size_t len, size_t *where) {
    const unsigned char *p = (const unsigned char *)text;
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    ag_utf8_status zero = AG_UTF8_OK;
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8) { /* eight ASCII bytes, none zero */
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (((w | ((w - ones) & ~w)) & highs) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = p[i];
        if (c < 0x80) {
            if (c == 0) zero = AG_UTF8_ZERO;
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) need = 2, lo = 0xA0;
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) need = 2;
        else if (c == 0xED) need = 2, hi = 0x9F; /* no UTF-16 surrogates */
        else if (c == 0xF0) need = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else if (c == 0xF4) need = 3, hi = 0x8F;
        else goto invalid;
        if (len - i <= need || p[i + 1] < lo || p[i + 1] > hi) goto invalid;
        for (size_t k = 2; k <= need; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF) goto invalid;
        i += need + 1;
    }
    return zero;
invalid:
    if (where) *where = i;
    return AG_UTF8_INVALID;
}
