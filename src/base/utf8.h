/*
 * utf8.h -- is a string UTF-8 text that every database can store as text?
 *
 * PostgreSQL's text types hold neither a zero byte nor invalid UTF-8,
 * MariaDB's utf8mb4 columns refuse invalid UTF-8, and SQLite stores any
 * bytes (which its own functions then misread).  The bindings check values
 * bound for String and Text columns with this, so that such a value is the
 * same DataError on every dialect instead of three different outcomes.
 */
#ifndef ARGENT_BASE_UTF8_H
#define ARGENT_BASE_UTF8_H

#include <stddef.h>

typedef enum ag_utf8_status {
    AG_UTF8_OK = 0, /* well-formed UTF-8 (RFC 3629: no surrogates, nothing past U+10FFFF) without
                       zero bytes */
    AG_UTF8_ZERO,   /* holds a zero byte */
    AG_UTF8_INVALID /* not well-formed UTF-8; *where is the offset of the first bad byte */
} ag_utf8_status;

ag_utf8_status ag_utf8_check(const char *text, size_t len, size_t *where);

#endif
