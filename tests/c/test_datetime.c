/*
 * test_datetime.c -- src/base/datetime.c: ISO-8601 date-times with and
 * without a UTC offset, and the UTC text argent stores for an instant.
 */
#include <string.h>

#include "base/datetime.h"
#include "check.h"

/* text moved to UTC, or "" when it does not parse or falls outside 1..9999 */
static const char *utc(const char *text) {
    static char out[AG_DATETIME_TEXT_MAX];
    ag_datetime dt;
    out[0] = '\0';
    if (ag_datetime_parse(text, strlen(text), &dt) != 0) return out;
    if (ag_datetime_format_utc(&dt, out) == 0) out[0] = '\0';
    return out;
}

static void test_offsets_move_to_utc(void) {
    CHECK_STR(utc("2026-11-24 02:26:03+05:00"), "2026-11-23 21:26:03+00:00");
    CHECK_STR(utc("2026-11-24T02:26:03Z"), "2026-11-24 02:26:03+00:00");
    CHECK_STR(utc("2026-11-24 02:26:03z"), "2026-11-24 02:26:03+00:00");
    CHECK_STR(utc("2026-11-24 02:26:03-0330"), "2026-11-24 05:56:03+00:00");
    CHECK_STR(utc("2026-11-24 02:26:03+05"), "2026-11-23 21:26:03+00:00");       /* PostgreSQL's form */
    CHECK_STR(utc("1900-01-01 00:00:00+00:53:28"), "1899-12-31 23:06:32+00:00"); /* with seconds */
    CHECK_STR(utc("2026-11-24 02:26:03 +05:00"), "2026-11-23 21:26:03+00:00");
    CHECK_STR(utc("2026-12-31 23:30:00-01:00"), "2027-01-01 00:30:00+00:00"); /* a new year */
    CHECK_STR(utc("2024-03-01 01:00:00+02:00"), "2024-02-29 23:00:00+00:00"); /* a leap day */
    CHECK_STR(utc("2026-11-24 02:26:03.500+05:00"), "2026-11-23 21:26:03.5+00:00");
    CHECK_STR(utc("2026-11-24 02:26:03.000000+00"), "2026-11-24 02:26:03+00:00");
    CHECK_STR(utc("2026-11-24 02:26:03.123456789Z"), "2026-11-24 02:26:03.123456789+00:00");
    CHECK_STR(utc("2026-11-24 02:26+01:00"), "2026-11-24 01:26:00+00:00");
    /* no offset: taken as UTC */
    CHECK_STR(utc("2026-11-24 02:26:03"), "2026-11-24 02:26:03+00:00");
    CHECK_STR(utc("2026-11-24"), "2026-11-24 00:00:00+00:00");
    /* out of years 1..9999 once moved */
    CHECK_STR(utc("0001-01-01 00:30:00+01:00"), "");
    CHECK_STR(utc("9999-12-31 23:30:00-01:00"), "");
}

static void test_not_a_datetime(void) {
    static const char *const bad[] = {"",
                                      "2026-11-24 02:26:03+",
                                      "2026-11-24 02:26:03+5",
                                      "2026-11-24 02:26:03+05:0",
                                      "2026-11-24 02:26:03+16:00",
                                      "2026-11-24 02:26:03 PST",
                                      "2026-11-24 02:26:03Zulu",
                                      "2026-02-30 00:00:00",
                                      "2025-02-29",
                                      "2026-13-01",
                                      "2026-11-24 24:00:00",
                                      "2026-11-24 02:60:00",
                                      "2026-11-24 02:26:03.",
                                      "2026-11-24 02:26:03.1234567890",
                                      "2026-11-24X02:26:03",
                                      "26-11-24",
                                      "infinity",
                                      "02:26:03"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ag_datetime dt;
        CHECK_INT(ag_datetime_parse(bad[i], strlen(bad[i]), &dt), -1);
    }
    /* a length shorter than the text: only that much is read */
    ag_datetime dt;
    CHECK_INT(ag_datetime_parse("2026-11-24 02:26:03+05:00", 19, &dt), 0);
    CHECK_INT(dt.has_offset, 0);
}

static void test_has_offset(void) {
    CHECK_INT(ag_datetime_has_offset("2026-11-24 02:26:03+05:00", 25), 1);
    CHECK_INT(ag_datetime_has_offset("2026-11-24T02:26:03Z", 20), 1);
    CHECK_INT(ag_datetime_has_offset("2026-11-24 02:26:03-08", 22), 1);
    CHECK_INT(ag_datetime_has_offset("2026-11-24 02:26:03", 19), 0);
    CHECK_INT(ag_datetime_has_offset("2026-11-24", 10), 0);
    CHECK_INT(ag_datetime_has_offset("not a date+05:00", 16), 0);
    ag_datetime dt;
    CHECK_INT(ag_datetime_parse("2026-11-24 02:26:03.25-03:30", 28, &dt), 0);
    CHECK_INT(dt.year, 2026);
    CHECK_INT(dt.second, 3);
    CHECK_STR(dt.fraction, "25");
    CHECK_INT(dt.offset_seconds, -(3 * 3600 + 30 * 60));
}

int main(void) {
    test_offsets_move_to_utc();
    test_not_a_datetime();
    test_has_offset();
    CHECK_DONE();
}
