/*
 * datetime.c -- ISO-8601 date-time text with an optional UTC offset (see
 * datetime.h).  Plain proleptic-Gregorian arithmetic on days since
 * 1970-01-01 (H. Hinnant's civil-day formulas), no time-zone database and no
 * libc time functions: nothing here depends on the process's TZ or locale.
 */
#include "base/datetime.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Reads exactly n digits at *p (not past end) into *value. */
static int digits(const char **p, const char *end, int n, int *value) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*p >= end || **p < '0' || **p > '9') return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *value = v;
    return 0;
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Reads an offset at p (not past end): "Z", or a sign and HH[[:]MM[:SS]].
 * Must use the whole rest of the text.  0 or -1. */
static int parse_offset(const char *p, const char *end, ag_datetime *out) {
    if (p < end && (*p == 'Z' || *p == 'z') && p + 1 == end) {
        out->has_offset = 1;
        out->offset_seconds = 0;
        return 0;
    }
    if (p >= end || (*p != '+' && *p != '-')) return -1;
    int sign = *p == '-' ? -1 : 1;
    p++;
    int h, m = 0, s = 0;
    if (digits(&p, end, 2, &h) != 0) return -1;
    if (p < end) {
        if (*p == ':') p++;
        if (digits(&p, end, 2, &m) != 0) return -1;
        if (p < end) {
            if (*p != ':') return -1;
            p++;
            if (digits(&p, end, 2, &s) != 0) return -1;
        }
    }
    if (p != end || h > 15 || m > 59 || s > 59) return -1;
    out->has_offset = 1;
    out->offset_seconds = sign * (h * 3600 + m * 60 + s);
    return 0;
}

int ag_datetime_parse(const char *text, size_t len, ag_datetime *out) {
    memset(out, 0, sizeof *out);
    const char *p = text, *end = text + len;
    if (!text) return -1;
    if (digits(&p, end, 4, &out->year) != 0 || p >= end || *p++ != '-' || digits(&p, end, 2, &out->month) != 0 ||
        p >= end || *p++ != '-' || digits(&p, end, 2, &out->day) != 0)
        return -1;
    if (out->year < 1 || out->month < 1 || out->month > 12 || out->day < 1 ||
        out->day > days_in_month(out->year, out->month))
        return -1;
    if (p == end) return 0;
    if (*p != ' ' && *p != 'T' && *p != 't') return -1;
    p++;
    out->has_time = 1;
    if (digits(&p, end, 2, &out->hour) != 0 || p >= end || *p++ != ':' || digits(&p, end, 2, &out->minute) != 0)
        return -1;
    if (p < end && *p == ':') {
        p++;
        if (digits(&p, end, 2, &out->second) != 0) return -1;
        if (p < end && *p == '.') {
            p++;
            size_t n = 0;
            while (p < end && *p >= '0' && *p <= '9') {
                if (n >= sizeof out->fraction - 1) return -1;
                out->fraction[n++] = *p++;
            }
            if (n == 0) return -1;
            while (n > 0 && out->fraction[n - 1] == '0') n--;
            out->fraction[n] = '\0';
        }
    }
    if (out->hour > 23 || out->minute > 59 || out->second > 60) return -1;
    while (p < end && *p == ' ') p++;
    if (p == end) return 0;
    return parse_offset(p, end, out);
}

int ag_datetime_has_offset(const char *text, size_t len) {
    ag_datetime dt;
    return ag_datetime_parse(text, len, &dt) == 0 && dt.has_offset;
}

size_t ag_datetime_format_utc(const ag_datetime *dt, char *out) {
    int64_t seconds =
        days_from_civil(dt->year, dt->month, dt->day) * 86400 + (int64_t)dt->hour * 3600 + dt->minute * 60 + dt->second;
    if (dt->has_offset) seconds -= dt->offset_seconds;
    int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
    int64_t rest = seconds - days * 86400;
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    if (year < 1 || year > 9999) return 0;
    int n =
        snprintf(out, AG_DATETIME_TEXT_MAX, "%04d-%02d-%02d %02d:%02d:%02d%s%s+00:00", (int)year, month, day,
                 (int)(rest / 3600), (int)(rest / 60 % 60), (int)(rest % 60), dt->fraction[0] ? "." : "", dt->fraction);
    return n > 0 && n < AG_DATETIME_TEXT_MAX ? (size_t)n : 0;
}
