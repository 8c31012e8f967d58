/*
 * datetime.h -- ISO-8601 date-time text with an optional UTC offset: parsed,
 * and written back as the one UTC text argent stores for an instant.
 *
 * API.md section 1 gives dates and times to Lua as text.  A DateTime column
 * holds a wall-clock time without a zone, so a value with an offset is
 * refused there; a DateTime{timezone = true} column holds an instant, which
 * argent writes (and reads back) on every dialect as
 * "YYYY-MM-DD HH:MM:SS[.fraction]+00:00".  The bindings and the drivers both
 * need to tell the two apart (PostgreSQL would drop an offset sent to a
 * `timestamp` parameter), so the parsing lives here, below both.
 */
#ifndef ARGENT_BASE_DATETIME_H
#define ARGENT_BASE_DATETIME_H

#include <stddef.h>

typedef struct ag_datetime {
    int year, month, day;     /* 1..9999, 1..12, 1..31 (checked against the month) */
    int hour, minute, second; /* 0..23 (24:00:00 too), 0..59, 0..60 */
    char fraction[10];        /* the fraction's digits without trailing zeros; "" for none */
    int has_time;             /* the text had a time part */
    int has_offset;           /* "Z", "+05:00", "-0330", "+05", ... */
    int offset_seconds;       /* east of UTC */
} ag_datetime;

/* Longest text ag_datetime_format_utc writes, with its NUL. */
#define AG_DATETIME_TEXT_MAX 40

/* Parses "YYYY-MM-DD", optionally followed by ' ' or 'T' and
 * "HH:MM[:SS[.fraction]]" (up to 9 fraction digits), optionally followed by
 * an offset: "Z", or '+'/'-' then "HH", "HHMM", "HH:MM" or "HH:MM:SS"
 * (PostgreSQL prints "+05", "+05:30" and, for old local times, seconds).
 * Spaces between the time and the offset are allowed.  0 and *out, or -1
 * when the text is not of that form. */
int ag_datetime_parse(const char *text, size_t len, ag_datetime *out);

/* Does text end in a UTC offset that ag_datetime_parse reads (the rest
 * being a date-time)?  A cheap test for a value bound to a column without
 * a time zone. */
int ag_datetime_has_offset(const char *text, size_t len);

/* Writes dt moved to UTC (a missing offset is taken as UTC) as
 * "YYYY-MM-DD HH:MM:SS[.fraction]+00:00" into out (at least
 * AG_DATETIME_TEXT_MAX bytes, NUL-terminated).  Returns the length, or 0 when
 * the instant falls outside years 1..9999. */
size_t ag_datetime_format_utc(const ag_datetime *dt, char *out);

#endif
