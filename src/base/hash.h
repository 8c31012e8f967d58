/*
 * hash.h -- the hash of SQL text that keys a connection's statement cache.
 *
 * One definition shared by the engine (which hashes the SQL it is given) and
 * the compiler (which hashes a compiled statement's SQL once, when it is
 * compiled, so that executing it again does not hash it again): both must
 * give the same number for the same text.
 */
#ifndef ARGENT_BASE_HASH_H
#define ARGENT_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit FNV-1a of the n bytes at s. */
static inline uint64_t ag_hash_sql(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#endif
