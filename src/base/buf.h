/*
 * buf.h -- a growable byte buffer (string builder) for the core.
 *
 * The data is always NUL-terminated (the terminator is not counted in len),
 * so a buffer can be handed to C APIs that want a string.  Appends return 0,
 * or -1 when memory runs out, in which case the buffer is left unchanged.
 */
#ifndef ARGENT_BASE_BUF_H
#define ARGENT_BASE_BUF_H

#include <stddef.h>

typedef struct ag_buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
} ag_buf;

#define AG_BUF_INIT \
    { NULL, 0, 0 }

int ag_buf_reserve(ag_buf *b, size_t extra);
int ag_buf_append(ag_buf *b, const char *s, size_t n);
int ag_buf_append_str(ag_buf *b, const char *s);
int ag_buf_append_char(ag_buf *b, char c);
int ag_buf_printf(ag_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Takes the data out (caller frees; never NULL on success: "" for an empty buffer) and resets b.
 * Returns NULL when memory runs out. */
char *ag_buf_take(ag_buf *b);
void ag_buf_reset(ag_buf *b); /* len = 0, keeps the memory */
void ag_buf_free(ag_buf *b);

#endif
