/*
 * alloc.h -- the one allocator of argent's core: every malloc, calloc,
 * realloc and strdup of src/ goes through these (free stays free()).
 *
 * Normally they are the C library's, inline.  A build with ARGENT_FAILALLOC
 * (CMake option; the ASan build of scripts/test.sh has it) counts them and
 * can be told to fail the Nth one from now, once: tests/alloc/ walks N over
 * connect, execute, executemany and flush to check that every allocation
 * failure becomes one out-of-memory error, never a crash or a leak.
 * The counter is atomic, so the build stays usable by threaded programs;
 * the walk itself runs on one thread.
 */
#ifndef ARGENT_BASE_ALLOC_H
#define ARGENT_BASE_ALLOC_H

#include <stdlib.h>
#include <string.h>

#ifdef ARGENT_FAILALLOC

void *ag_malloc(size_t size);
void *ag_calloc(size_t count, size_t size);
void *ag_realloc(void *p, size_t size);
char *ag_strdup(const char *s);

/* Arms the failure: the nth allocation from now fails (n = 1: the next
 * one), once; n <= 0 disarms.  Resets the count. */
void ag_alloc_fail_at(long n);
/* Allocations made since the last ag_alloc_fail_at. */
long ag_alloc_count(void);
/* Non-zero once the armed failure has happened. */
int ag_alloc_failed(void);
/* Counts one allocation made elsewhere (a test host's Lua allocator) and
 * says whether it is the one that must fail. */
int ag_alloc_should_fail(void);

#else

static inline void *ag_malloc(size_t size) { return malloc(size); }
static inline void *ag_calloc(size_t count, size_t size) { return calloc(count, size); }
static inline void *ag_realloc(void *p, size_t size) { return realloc(p, size); }
static inline char *ag_strdup(const char *s) { return strdup(s); }

#endif

#endif
