/* buf.c -- the growable byte buffer (see buf.h). */
#include "base/alloc.h"
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ag_buf_reserve(ag_buf *b, size_t extra) {
    if (extra > (size_t)-1 / 2 - b->len) return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = ag_realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int ag_buf_append(ag_buf *b, const char *s, size_t n) {
    if (ag_buf_reserve(b, n) != 0) return -1;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ag_buf_append_str(ag_buf *b, const char *s) { return ag_buf_append(b, s, strlen(s)); }

int ag_buf_append_char(ag_buf *b, char c) { return ag_buf_append(b, &c, 1); }

int ag_buf_printf(ag_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || ag_buf_reserve(b, (size_t)n) != 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *ag_buf_take(ag_buf *b) {
    if (!b->data && ag_buf_reserve(b, 0) != 0) return NULL;
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void ag_buf_reset(ag_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void ag_buf_free(ag_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
