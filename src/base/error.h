/*
 * error.h -- the one error type of argent's core.
 *
 * Every core function that can fail takes an `ag_error *err` as its last
 * argument, fills it on failure and returns a failure value (-1 or NULL, as
 * its contract says).  The kinds are API.md section 8's; the Lua bindings turn
 * an ag_error into a Lua error object, the C API hands it to the host.
 * An ag_error owns no memory: it can be filled anywhere, even with no memory
 * left, and never needs freeing.
 */
#ifndef ARGENT_BASE_ERROR_H
#define ARGENT_BASE_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum ag_error_kind {
    AG_OK = 0,
    AG_ERR_ARGUMENT,         /* ArgumentError: bad use of the API */
    AG_ERR_INTERFACE,        /* InterfaceError: the driver misbehaved or is missing */
    AG_ERR_OPERATIONAL,      /* OperationalError: connection lost/refused, locked, ... */
    AG_ERR_INTEGRITY,        /* IntegrityError: unique, not null, foreign key, check */
    AG_ERR_PROGRAMMING,      /* ProgrammingError: syntax, unknown table or column */
    AG_ERR_DATA,             /* DataError: a value that does not fit its column */
    AG_ERR_NOT_SUPPORTED,    /* NotSupportedError */
    AG_ERR_TIMEOUT,          /* TimeoutError: pool exhausted */
    AG_ERR_NO_RESULT,        /* NoResultFound */
    AG_ERR_MULTIPLE_RESULTS, /* MultipleResultsFound */
    AG_ERR_DETACHED,         /* DetachedInstanceError */
    AG_ERR_INVALID_REQUEST,  /* InvalidRequestError: use after close, wrong state */
    AG_ERR_MEMORY,           /* out of memory (raised as a plain memory error in Lua) */
    AG_ERR_KIND_COUNT
} ag_error_kind;

#define AG_ERROR_MESSAGE_MAX 1024

typedef struct ag_error {
    ag_error_kind kind;
    char code[16];  /* SQLSTATE, or SQLite's extended result code in decimal; "" if none */
    int disconnect; /* non-zero: the connection is unusable and must be discarded */
    char message[AG_ERROR_MESSAGE_MAX];
} ag_error;

/* "ArgumentError", "OperationalError", ...; never NULL. */
const char *ag_error_kind_name(ag_error_kind kind);

/* Clears err to AG_OK with an empty message. */
void ag_error_clear(ag_error *err);

/* Fills err (kind, code may be NULL, printf-style message, truncated to fit).
 * Returns -1 so that callers can `return ag_error_set(...)`.  err may be NULL. */
int ag_error_set(ag_error *err, ag_error_kind kind, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
int ag_error_vset(ag_error *err, ag_error_kind kind, const char *code, const char *fmt, va_list ap);

/* Out of memory: kind AG_ERR_MEMORY, message "not enough memory".  Returns -1. */
int ag_error_nomem(ag_error *err);

/* Replaces every occurrence of secret (if non-empty) in err->message by "***". */
void ag_error_mask(ag_error *err, const char *secret);

#endif
