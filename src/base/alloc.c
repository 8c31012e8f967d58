/*
 * alloc.c -- the counting allocator of ARGENT_FAILALLOC builds (see
 * alloc.h); empty otherwise, where alloc.h's inline functions are the C
 * library's.
 */
#include "base/alloc.h"

#ifdef ARGENT_FAILALLOC

#include <stdatomic.h>

static atomic_long countdown; /* > 0: the allocation that brings it to 0 fails */
static atomic_long counted;
static atomic_int failed;

void ag_alloc_fail_at(long n) {
    atomic_store(&counted, 0);
    atomic_store(&failed, 0);
    atomic_store(&countdown, n > 0 ? n : 0);
}

long ag_alloc_count(void) { return atomic_load(&counted); }

int ag_alloc_failed(void) { return atomic_load(&failed); }

int ag_alloc_should_fail(void) {
    atomic_fetch_add(&counted, 1);
    if (atomic_load(&countdown) <= 0) return 0;
    if (atomic_fetch_sub(&countdown, 1) != 1) return 0;
    atomic_store(&failed, 1);
    return 1;
}

void *ag_malloc(size_t size) { return ag_alloc_should_fail() ? NULL : malloc(size); }

void *ag_calloc(size_t count, size_t size) { return ag_alloc_should_fail() ? NULL : calloc(count, size); }

void *ag_realloc(void *p, size_t size) { return ag_alloc_should_fail() ? NULL : realloc(p, size); }

char *ag_strdup(const char *s) { return ag_alloc_should_fail() ? NULL : strdup(s); }

#else

typedef int ag_alloc_empty; /* ISO C wants something in a translation unit */

#endif
