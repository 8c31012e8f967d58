/* error.c -- filling and naming ag_error values (see error.h). */
#include "base/error.h"

#include <stdio.h>
#include <string.h>

static const char *const kind_names[AG_ERR_KIND_COUNT] = {
    [AG_OK] = "OK",
    [AG_ERR_ARGUMENT] = "ArgumentError",
    [AG_ERR_INTERFACE] = "InterfaceError",
    [AG_ERR_OPERATIONAL] = "OperationalError",
    [AG_ERR_INTEGRITY] = "IntegrityError",
    [AG_ERR_PROGRAMMING] = "ProgrammingError",
    [AG_ERR_DATA] = "DataError",
    [AG_ERR_NOT_SUPPORTED] = "NotSupportedError",
    [AG_ERR_TIMEOUT] = "TimeoutError",
    [AG_ERR_NO_RESULT] = "NoResultFound",
    [AG_ERR_MULTIPLE_RESULTS] = "MultipleResultsFound",
    [AG_ERR_DETACHED] = "DetachedInstanceError",
    [AG_ERR_INVALID_REQUEST] = "InvalidRequestError",
    [AG_ERR_MEMORY] = "MemoryError",
};

const char *ag_error_kind_name(ag_error_kind kind) {
    if ((int)kind < 0 || kind >= AG_ERR_KIND_COUNT) return "Error";
    return kind_names[kind];
}

void ag_error_clear(ag_error *err) {
    if (!err) return;
    err->kind = AG_OK;
    err->code[0] = '\0';
    err->disconnect = 0;
    err->message[0] = '\0';
}

int ag_error_vset(ag_error *err, ag_error_kind kind, const char *code, const char *fmt, va_list ap) {
    if (!err) return -1;
    err->kind = kind;
    err->disconnect = 0;
    err->code[0] = '\0';
    if (code) snprintf(err->code, sizeof err->code, "%s", code);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    return -1;
}

int ag_error_set(ag_error *err, ag_error_kind kind, const char *code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ag_error_vset(err, kind, code, fmt, ap);
    va_end(ap);
    return -1;
}

int ag_error_nomem(ag_error *err) { return ag_error_set(err, AG_ERR_MEMORY, NULL, "not enough memory"); }

void ag_error_mask(ag_error *err, const char *secret) {
    if (!err || !secret || !*secret) return;
    size_t slen = strlen(secret);
    char out[AG_ERROR_MESSAGE_MAX];
    size_t o = 0;
    const char *p = err->message;
    while (*p && o + 1 < sizeof out) {
        if (strncmp(p, secret, slen) == 0) {
            for (const char *m = "***"; *m && o + 1 < sizeof out; m++) out[o++] = *m;
            p += slen;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    memcpy(err->message, out, o + 1);
}
