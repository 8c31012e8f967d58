/*
 * placeholders.c -- rewriting `?` and `:name` in raw SQL into each driver's
 * placeholder style (see placeholders.h).
 *
 * This runs for every raw statement that is not already in a statement cache,
 * so it is one pass over the bytes: ordinary text is skipped with a lookup
 * table and copied in runs, quoted text and comments are skipped with memchr
 * where their end is a single byte, and the output is one buffer sized from
 * the input (it only grows for PostgreSQL's `$n`, which can be longer).
 *
 * What is a placeholder, beyond the header's list:
 *   - `:name` needs a name ([A-Za-z_][A-Za-z0-9_]*) right after the ':', and
 *     the ':' must not follow another ':' (PostgreSQL's `x::int`) nor an
 *     identifier character (`arr[lo:hi]`, `12:30`), as SQLAlchemy's text() has it;
 *   - on MariaDB `--` opens a comment only when followed by a space or control
 *     character (`1--1` is arithmetic), and `#` opens a comment;
 *   - where gluing the driver's marker to its neighbour would change how the
 *     server splits tokens, a space is put between them: `x?` would give the
 *     identifier `x$1` on PostgreSQL and `?1` a numbered parameter on SQLite.
 */
#include "base/alloc.h"
#include "base/placeholders.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes the scanner must look at; everything else is copied as it is. */
static const unsigned char special_byte[256] = {
    ['\''] = 1, ['"'] = 1, ['`'] = 1,  ['['] = 1, ['-'] = 1, ['#'] = 1,
    ['/'] = 1,  ['$'] = 1, ['\\'] = 1, ['?'] = 1, [':'] = 1,
};

static int is_name_start(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

static int is_name_char(unsigned char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

/* Can this byte continue an identifier (PostgreSQL and SQLite allow '$' and
 * any non-ASCII byte in identifiers)? */
static int is_ident_char(unsigned char c) { return is_name_char(c) || c == '$' || c >= 0x80; }

/* ---- the state of one rewrite ------------------------------------------------ */

typedef struct rewriter {
    const char *sql;
    size_t len;
    ag_dialect dialect;
    ag_error *err;

    char *out; /* the output, NUL-terminated at the end */
    size_t out_len;
    size_t out_cap;    /* bytes allocated, room for the NUL included */
    size_t copied;     /* sql[copied..scan position) is not yet in out */
    size_t marker_end; /* input index just past the last `?`/`:name` replaced (SIZE_MAX: none) */

    ag_param_style style;
    int nslots, slots_cap;
    int *slot_source;

    int nnames, names_cap;
    char **names;
    uint32_t *name_hash; /* name_hash[k] is the hash of names[k] */
    int *table;          /* open addressing over names; -1 = empty; NULL while few names */
    size_t table_cap;    /* a power of two */
} rewriter;

/* Past this many names a hash table replaces the linear search. */
#define LINEAR_NAME_LOOKUP 16

static int grow_out(rewriter *r, size_t extra) {
    if (extra > SIZE_MAX / 2 - r->out_len) return ag_error_nomem(r->err);
    size_t need = r->out_len + extra + 1;
    if (need <= r->out_cap) return 0;
    size_t cap = r->out_cap * 2;
    if (cap < need) cap = need + 64;
    char *p = ag_realloc(r->out, cap);
    if (!p) return ag_error_nomem(r->err);
    r->out = p;
    r->out_cap = cap;
    return 0;
}

/* Copies the pending input run sql[copied..upto) to the output. */
static int flush(rewriter *r, size_t upto) {
    size_t n = upto - r->copied;
    if (n == 0) return 0;
    if (grow_out(r, n) != 0) return -1;
    memcpy(r->out + r->out_len, r->sql + r->copied, n);
    r->out_len += n;
    r->copied = upto;
    return 0;
}

static int add_slot(rewriter *r, int source) {
    if (r->nslots == r->slots_cap) {
        if (r->slots_cap > INT_MAX / 2) {
            return ag_error_set(r->err, AG_ERR_ARGUMENT, NULL, "too many placeholders in one statement");
        }
        int cap = r->slots_cap ? r->slots_cap * 2 : 8;
        int *p = ag_realloc(r->slot_source, (size_t)cap * sizeof *p);
        if (!p) return ag_error_nomem(r->err);
        r->slot_source = p;
        r->slots_cap = cap;
    }
    r->slot_source[r->nslots++] = source;
    return 0;
}

/* ---- names ------------------------------------------------------------------- */

static uint32_t hash_name(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int name_equals(const char *stored, const char *s, size_t n) {
    /* strncmp stops at stored's NUL, so a shorter stored name never reads past its end. */
    return strncmp(stored, s, n) == 0 && stored[n] == '\0';
}

static int rebuild_table(rewriter *r, size_t cap) {
    int *t = ag_malloc(cap * sizeof *t);
    if (!t) return ag_error_nomem(r->err);
    for (size_t i = 0; i < cap; i++) t[i] = -1;
    for (int k = 0; k < r->nnames; k++) {
        size_t slot = r->name_hash[k] & (cap - 1);
        while (t[slot] >= 0) slot = (slot + 1) & (cap - 1);
        t[slot] = k;
    }
    free(r->table);
    r->table = t;
    r->table_cap = cap;
    return 0;
}

/* The index of name s[0..n), added if new.  Returns the index or -1. */
static int name_index(rewriter *r, const char *s, size_t n) {
    uint32_t h = hash_name(s, n);
    if (r->table) {
        size_t slot = h & (r->table_cap - 1);
        for (; r->table[slot] >= 0; slot = (slot + 1) & (r->table_cap - 1)) {
            int k = r->table[slot];
            if (r->name_hash[k] == h && name_equals(r->names[k], s, n)) return k;
        }
    } else {
        for (int k = 0; k < r->nnames; k++) {
            if (r->name_hash[k] == h && name_equals(r->names[k], s, n)) return k;
        }
    }

    if (r->nnames == r->names_cap) {
        if (r->names_cap > INT_MAX / 2) {
            return ag_error_set(r->err, AG_ERR_ARGUMENT, NULL, "too many placeholders in one statement");
        }
        int cap = r->names_cap ? r->names_cap * 2 : 8;
        char **names = ag_realloc(r->names, (size_t)cap * sizeof *names);
        if (!names) return ag_error_nomem(r->err);
        r->names = names;
        uint32_t *hashes = ag_realloc(r->name_hash, (size_t)cap * sizeof *hashes);
        if (!hashes) return ag_error_nomem(r->err);
        r->name_hash = hashes;
        r->names_cap = cap;
    }
    char *copy = ag_malloc(n + 1);
    if (!copy) return ag_error_nomem(r->err);
    memcpy(copy, s, n);
    copy[n] = '\0';
    int k = r->nnames++;
    r->names[k] = copy;
    r->name_hash[k] = h;

    if (r->table) {
        if ((size_t)r->nnames * 2 > r->table_cap) return rebuild_table(r, r->table_cap * 2) == 0 ? k : -1;
        size_t slot = h & (r->table_cap - 1);
        while (r->table[slot] >= 0) slot = (slot + 1) & (r->table_cap - 1);
        r->table[slot] = k;
    } else if (r->nnames > LINEAR_NAME_LOOKUP) {
        if (rebuild_table(r, 64) != 0) return -1;
    }
    return k;
}

/* ---- emitting the driver's marker -------------------------------------------- */

/* Replaces sql[start..end) (a `?` or `:name`) by the driver's marker for
 * parameter number `number` (1-based, used by PostgreSQL). */
static int emit_marker(rewriter *r, size_t start, size_t end, int number) {
    if (flush(r, start) != 0) return -1;
    unsigned char next = end < r->len ? (unsigned char)r->sql[end] : 0;
    char text[16];
    size_t n = 0;
    if (r->dialect == AG_DIALECT_POSTGRESQL) {
        if (r->out_len > 0 && is_ident_char((unsigned char)r->out[r->out_len - 1])) text[n++] = ' ';
        text[n++] = '$';
        char digits[12];
        size_t d = 0;
        for (unsigned v = (unsigned)number; v; v /= 10) digits[d++] = (char)('0' + v % 10);
        while (d) text[n++] = digits[--d];
        if (end < r->len && is_ident_char(next)) text[n++] = ' ';
    } else {
        text[n++] = '?';
        if (r->dialect == AG_DIALECT_SQLITE && next >= '0' && next <= '9') text[n++] = ' ';
    }
    if (grow_out(r, n) != 0) return -1;
    memcpy(r->out + r->out_len, text, n);
    r->out_len += n;
    r->copied = end;
    r->marker_end = end;
    return 0;
}

static int mixed_styles(rewriter *r) {
    return ag_error_set(r->err, AG_ERR_ARGUMENT, NULL,
                        "cannot mix positional (?) and named (:name) placeholders in one statement");
}

static int positional(rewriter *r, size_t at) {
    if (r->style == AG_PARAMS_NAMED) return mixed_styles(r);
    r->style = AG_PARAMS_POSITIONAL;
    if (add_slot(r, r->nslots) != 0) return -1;
    return emit_marker(r, at, at + 1, r->nslots);
}

/* `:name` at sql[at], the name running to sql[end]. */
static int named(rewriter *r, size_t at, size_t end) {
    if (r->style == AG_PARAMS_POSITIONAL) return mixed_styles(r);
    r->style = AG_PARAMS_NAMED;
    int before = r->nnames;
    int k = name_index(r, r->sql + at + 1, end - at - 1);
    if (k < 0) return -1;
    if (r->dialect == AG_DIALECT_POSTGRESQL) {
        /* One slot per distinct name: $k+1 is reused for a repeat. */
        if (k == before && add_slot(r, k) != 0) return -1;
    } else if (add_slot(r, k) != 0) {
        return -1;
    }
    return emit_marker(r, at, end, k + 1);
}

/* ---- skipping quoted text and comments ---------------------------------------- */
/* Each returns the index just past the construct starting at sql[i], or len
 * when it is unterminated (the rest is then copied verbatim). */

/* A string or identifier closed by `quote`, where a doubled quote stands for
 * itself and, when backslash_escapes, a backslash escapes the next byte. */
static size_t skip_quoted(const char *sql, size_t len, size_t i, char quote, int backslash_escapes) {
    size_t j = i + 1;
    while (j < len) {
        if (backslash_escapes) {
            while (j < len && sql[j] != quote && sql[j] != '\\') j++;
            if (j >= len) return len;
            if (sql[j] == '\\') {
                j += 2;
                continue;
            }
        } else {
            const char *q = memchr(sql + j, quote, len - j);
            if (!q) return len;
            j = (size_t)(q - sql);
        }
        /* sql[j] == quote */
        if (j + 1 < len && sql[j + 1] == quote) {
            j += 2;
            continue;
        }
        return j + 1;
    }
    return len;
}

static size_t skip_until_byte(const char *sql, size_t len, size_t from, char end) {
    const char *p = memchr(sql + from, end, len - from);
    return p ? (size_t)(p - sql) + 1 : len;
}

static size_t skip_block_comment(const char *sql, size_t len, size_t i, int nested) {
    size_t j = i + 2;
    int depth = 1;
    while (j + 1 < len) {
        if (sql[j] == '*' && sql[j + 1] == '/') {
            j += 2;
            if (--depth == 0) return j;
        } else if (nested && sql[j] == '/' && sql[j + 1] == '*') {
            j += 2;
            depth++;
        } else {
            j++;
        }
    }
    return len;
}

/* PostgreSQL: sql[i] == '$'.  A dollar quote `$tag$ ... $tag$` (the tag may be
 * empty, must not start with a digit) returns past its end; anything else
 * (`$1`, a lone '$') returns i + 1 so the '$' is copied as it is. */
static size_t skip_dollar_quote(const char *sql, size_t len, size_t i) {
    size_t j = i + 1;
    if (j < len && sql[j] != '$') {
        if (!is_name_start((unsigned char)sql[j]) && (unsigned char)sql[j] < 0x80) return i + 1;
        while (j < len && (is_name_char((unsigned char)sql[j]) || (unsigned char)sql[j] >= 0x80)) j++;
        if (j >= len || sql[j] != '$') return i + 1;
    }
    if (j >= len) return i + 1;
    size_t tag_len = j + 1 - i; /* "$tag$" */
    const char *tag = sql + i;
    for (size_t k = j + 1; k + tag_len <= len;) {
        const char *d = memchr(sql + k, '$', len - k);
        if (!d || (size_t)(d - sql) + tag_len > len) return len;
        if (memcmp(d, tag, tag_len) == 0) return (size_t)(d - sql) + tag_len;
        k = (size_t)(d - sql) + 1;
    }
    return len;
}

/* ---- the scan ------------------------------------------------------------------ */

static int scan(rewriter *r) {
    const char *sql = r->sql;
    size_t len = r->len, i = 0;
    const ag_dialect d = r->dialect;
    const int pg = d == AG_DIALECT_POSTGRESQL;

    while (i < len) {
        while (i < len && !special_byte[(unsigned char)sql[i]]) i++;
        if (i >= len) break;
        /* Right after a replaced marker there is no identifier to continue:
         * the marker is a token of its own (emit_marker spaces it if needed). */
        unsigned char prev = i > 0 && r->marker_end != i ? (unsigned char)sql[i - 1] : 0;
        unsigned char next = i + 1 < len ? (unsigned char)sql[i + 1] : 0;
        switch (sql[i]) {
        case '\'': {
            /* PostgreSQL E'...' (not the end of an identifier such as WHERE'x').  The
             * 'E' is never the end of a marker: a name would have taken it in. */
            int escapes = d == AG_DIALECT_MARIADB ||
                          (pg && (prev == 'E' || prev == 'e') && (i < 2 || !is_ident_char((unsigned char)sql[i - 2])));
            i = skip_quoted(sql, len, i, '\'', escapes);
            break;
        }
        case '"': i = skip_quoted(sql, len, i, '"', d == AG_DIALECT_MARIADB); break;
        case '`': i = pg ? i + 1 : skip_quoted(sql, len, i, '`', 0); break;
        case '[': i = d == AG_DIALECT_SQLITE ? skip_until_byte(sql, len, i + 1, ']') : i + 1; break;
        case '-':
            if (next == '-' && (d != AG_DIALECT_MARIADB || i + 2 >= len || (unsigned char)sql[i + 2] <= ' ')) {
                i = skip_until_byte(sql, len, i + 2, '\n');
            } else {
                i++;
            }
            break;
        case '#': i = d == AG_DIALECT_MARIADB ? skip_until_byte(sql, len, i + 1, '\n') : i + 1; break;
        case '/': i = next == '*' ? skip_block_comment(sql, len, i, pg) : i + 1; break;
        case '$':
            /* After an identifier character the '$' is part of the identifier (a$b). */
            i = pg && !is_ident_char(prev) ? skip_dollar_quote(sql, len, i) : i + 1;
            break;
        case '\\':
            if (next == '?' || next == ':') {
                /* Drop the backslash; the '?' or ':' is copied with the next run. */
                if (flush(r, i) != 0) return -1;
                r->copied = i + 1;
                i += 2;
            } else {
                i++;
            }
            break;
        case '?':
            if (pg && (next == '|' || next == '&')) {
                i += 2; /* jsonb ?| and ?& */
            } else {
                if (positional(r, i) != 0) return -1;
                i++;
            }
            break;
        case ':':
            if (is_name_start(next) && prev != ':' && !is_ident_char(prev)) {
                size_t end = i + 2;
                while (end < len && is_name_char((unsigned char)sql[end])) end++;
                if (named(r, i, end) != 0) return -1;
                i = end;
            } else {
                i++;
            }
            break;
        default: i++; break;
        }
    }
    return flush(r, len);
}

static void release(rewriter *r) {
    free(r->out);
    free(r->slot_source);
    for (int k = 0; k < r->nnames; k++) free(r->names[k]);
    free(r->names);
    free(r->name_hash);
    free(r->table);
}

int ag_rewrite_placeholders(const char *sql, size_t len, ag_dialect dialect, ag_rewritten_sql *out, ag_error *err) {
    memset(out, 0, sizeof *out);
    rewriter r;
    memset(&r, 0, sizeof r);
    r.sql = sql;
    r.len = len;
    r.dialect = dialect;
    r.err = err;
    r.marker_end = SIZE_MAX;

    /* `?` and `:name` never grow on SQLite and MariaDB (bar the rare
     * separating space); PostgreSQL's `$n` usually fits in a little slack. */
    size_t slack = dialect == AG_DIALECT_POSTGRESQL ? 32 + len / 16 : 16;
    if (len > SIZE_MAX / 2) return ag_error_nomem(err);
    r.out_cap = len + slack + 1;
    r.out = ag_malloc(r.out_cap);
    if (!r.out) return ag_error_nomem(err);

    if (scan(&r) != 0) {
        release(&r);
        return -1;
    }
    r.out[r.out_len] = '\0';
    free(r.name_hash);
    free(r.table);

    out->sql = r.out;
    out->sql_len = r.out_len;
    out->style = r.style;
    out->nslots = r.nslots;
    out->slot_source = r.slot_source; /* NULL when no slot was ever added */
    out->nnames = r.nnames;
    out->names = r.names;
    out->npositional = r.style == AG_PARAMS_POSITIONAL ? r.nslots : 0;
    return 0;
}

void ag_rewritten_sql_free(ag_rewritten_sql *r) {
    if (!r) return;
    free(r->sql);
    free(r->slot_source);
    for (int k = 0; k < r->nnames; k++) free(r->names[k]);
    free(r->names);
    memset(r, 0, sizeof *r);
}
