/*
 * values.h -- builders of ag_value parameters for the driver tests.
 * Text and blob values point at the caller's bytes (ag_value owns nothing).
 */
#ifndef ARGENT_TESTS_VALUES_H
#define ARGENT_TESTS_VALUES_H

#include <string.h>

#include "base/value.h"

static inline ag_value vnull(void) {
    ag_value v = {.type = AG_VALUE_NULL};
    return v;
}
static inline ag_value vint(int64_t i) {
    ag_value v = {.type = AG_VALUE_INTEGER, .u.integer = i};
    return v;
}
static inline ag_value vfloat(double d) {
    ag_value v = {.type = AG_VALUE_FLOAT, .u.number = d};
    return v;
}
static inline ag_value vbool(int b) {
    ag_value v = {.type = AG_VALUE_BOOLEAN, .u.boolean = b};
    return v;
}
static inline ag_value vbytes(ag_value_type t, const char *p, size_t n) {
    ag_value v = {.type = t};
    v.u.bytes.data = p;
    v.u.bytes.len = n;
    return v;
}
static inline ag_value vtext(const char *s) { return vbytes(AG_VALUE_TEXT, s, strlen(s)); }

#endif
