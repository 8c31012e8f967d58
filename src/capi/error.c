/*
 * error.c -- the public argent_error and its kinds.  The public enum is the
 * core's, value for value (checked at compile time below), so that an error
 * crosses from the core to the host with one copy and no table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "capi/capi.h"

#define SAME_KIND(pub, core) _Static_assert((int)(pub) == (int)(core), #pub " differs from " #core)
SAME_KIND(ARGENT_OK, AG_OK);
SAME_KIND(ARGENT_ERR_ARGUMENT, AG_ERR_ARGUMENT);
SAME_KIND(ARGENT_ERR_INTERFACE, AG_ERR_INTERFACE);
SAME_KIND(ARGENT_ERR_OPERATIONAL, AG_ERR_OPERATIONAL);
SAME_KIND(ARGENT_ERR_INTEGRITY, AG_ERR_INTEGRITY);
SAME_KIND(ARGENT_ERR_PROGRAMMING, AG_ERR_PROGRAMMING);
SAME_KIND(ARGENT_ERR_DATA, AG_ERR_DATA);
SAME_KIND(ARGENT_ERR_NOT_SUPPORTED, AG_ERR_NOT_SUPPORTED);
SAME_KIND(ARGENT_ERR_TIMEOUT, AG_ERR_TIMEOUT);
SAME_KIND(ARGENT_ERR_NO_RESULT, AG_ERR_NO_RESULT);
SAME_KIND(ARGENT_ERR_MULTIPLE_RESULTS, AG_ERR_MULTIPLE_RESULTS);
SAME_KIND(ARGENT_ERR_DETACHED, AG_ERR_DETACHED);
SAME_KIND(ARGENT_ERR_INVALID_REQUEST, AG_ERR_INVALID_REQUEST);
SAME_KIND(ARGENT_ERR_MEMORY, AG_ERR_MEMORY);
SAME_KIND(ARGENT_ERR_MEMORY + 1, AG_ERR_KIND_COUNT);
_Static_assert(ARGENT_ERROR_MESSAGE_MAX == AG_ERROR_MESSAGE_MAX, "message sizes differ");
_Static_assert(sizeof(((argent_error *)0)->code) == sizeof(((ag_error *)0)->code), "code sizes differ");

const char *argent_version(void) { return ARGENT_VERSION; }

const char *argent_error_kind_name(argent_error_kind kind) { return ag_error_kind_name((ag_error_kind)kind); }

int ag_capi_fail(argent_error *err, const ag_error *core) {
    if (!err) return -1;
    err->kind = (argent_error_kind)core->kind;
    err->kind_name = ag_error_kind_name(core->kind);
    memcpy(err->code, core->code, sizeof err->code);
    err->code[sizeof err->code - 1] = '\0';
    err->disconnect = core->disconnect;
    memcpy(err->message, core->message, sizeof err->message);
    err->message[sizeof err->message - 1] = '\0';
    return -1;
}

int ag_capi_failf(argent_error *err, argent_error_kind kind, const char *fmt, ...) {
    ag_error core;
    va_list ap;
    va_start(ap, fmt);
    ag_error_vset(&core, (ag_error_kind)kind, NULL, fmt, ap);
    va_end(ap);
    return ag_capi_fail(err, &core);
}
