/*
 * check.h -- the few macros the C tests use.  A failed CHECK prints where and
 * what, counts the failure, and the test goes on; CHECK_DONE() prints the
 * plain closing line and returns the exit code (1 if anything failed).
 */
#ifndef ARGENT_TESTS_CHECK_H
#define ARGENT_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures = 0;
static int check_passes = 0;

#define CHECK(cond) \
    do { \
        if (cond) { \
            check_passes++; \
        } else { \
            check_failures++; \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        } \
    } while (0)

#define CHECK_STR(got, want) \
    do { \
        const char *check_got_ = (got), *check_want_ = (want); \
        if (check_got_ && check_want_ && strcmp(check_got_, check_want_) == 0) { \
            check_passes++; \
        } else { \
            check_failures++; \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, #got, \
                    check_got_ ? check_got_ : "(null)", check_want_ ? check_want_ : "(null)"); \
        } \
    } while (0)

#define CHECK_INT(got, want) \
    do { \
        long long check_g_ = (long long)(got), check_w_ = (long long)(want); \
        if (check_g_ == check_w_) { \
            check_passes++; \
        } else { \
            check_failures++; \
            fprintf(stderr, "%s:%d: CHECK_INT failed: %s: got %lld, want %lld\n", __FILE__, __LINE__, #got, check_g_, \
                    check_w_); \
        } \
    } while (0)

#define CHECK_DONE() \
    do { \
        printf("%d passed, %d failed\n", check_passes, check_failures); \
        return check_failures ? 1 : 0; \
    } while (0)

#endif
