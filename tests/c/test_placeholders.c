/*
 * test_placeholders.c -- the raw-SQL placeholder rewriter (src/base/placeholders.c):
 * for each dialect, the exact SQL handed to the driver and the slot mapping,
 * across every quoting and comment form the scanner must step over.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/placeholders.h"
#include "check.h"

#define S AG_DIALECT_SQLITE
#define P AG_DIALECT_POSTGRESQL
#define M AG_DIALECT_MARIADB
#define NONE AG_PARAMS_NONE
#define POS AG_PARAMS_POSITIONAL
#define NAMED AG_PARAMS_NAMED

static const char *dialect_label(ag_dialect d) { return d == S ? "sqlite" : d == P ? "postgresql" : "mariadb"; }

/* "0,1,0" -> the ints; returns how many. */
static int parse_ints(const char *s, int *out, int max) {
    int n = 0;
    while (s && *s && n < max) {
        out[n++] = (int)strtol(s, (char **)&s, 10);
        if (*s == ',') s++;
    }
    return n;
}

/* Rewrites `sql` for `d` and checks the SQL, style, slots ("0,1,0") and
 * names ("a,b"); `line` says which expectation failed. */
static void expect_ok(int line, ag_dialect d, const char *sql, const char *want_sql, ag_param_style style,
                      const char *slots, const char *names) {
    int failures_before = check_failures;
    ag_rewritten_sql r;
    ag_error err;
    ag_error_clear(&err);
    int rc = ag_rewrite_placeholders(sql, strlen(sql), d, &r, &err);
    CHECK_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "  line %d (%s): %s\n", line, dialect_label(d), err.message);
        return;
    }
    CHECK_STR(r.sql, want_sql);
    CHECK_INT(r.sql_len, strlen(want_sql));
    CHECK_INT(strlen(r.sql), r.sql_len);
    CHECK_INT(r.style, style);

    int want_slots[64];
    int nwant = parse_ints(slots, want_slots, 64);
    CHECK_INT(r.nslots, nwant);
    CHECK(nwant == 0 ? r.slot_source == NULL : r.slot_source != NULL);
    for (int i = 0; i < nwant && i < r.nslots; i++) CHECK_INT(r.slot_source[i], want_slots[i]);

    char namebuf[256];
    snprintf(namebuf, sizeof namebuf, "%s", names ? names : "");
    int nnames = 0;
    for (char *tok = strtok(namebuf, ","); tok; tok = strtok(NULL, ",")) {
        if (nnames < r.nnames) CHECK_STR(r.names[nnames], tok);
        nnames++;
    }
    CHECK_INT(r.nnames, nnames);
    CHECK(nnames == 0 ? r.names == NULL : r.names != NULL);
    CHECK_INT(r.npositional, style == POS ? nwant : 0);
    if (check_failures != failures_before)
        fprintf(stderr, "  ^ line %d (%s): input [%s]\n", line, dialect_label(d), sql);
    ag_rewritten_sql_free(&r);
}

#define EXPECT(d, sql, want, style, slots, names) expect_ok(__LINE__, d, sql, want, style, slots, names)

/* The same input on every dialect: the SQLite/MariaDB output and the PostgreSQL one. */
#define EXPECT_ALL(sql, want_qmark, want_dollar, style, slots_qmark, slots_dollar, names) \
    do { \
        EXPECT(S, sql, want_qmark, style, slots_qmark, names); \
        EXPECT(M, sql, want_qmark, style, slots_qmark, names); \
        EXPECT(P, sql, want_dollar, style, slots_dollar, names); \
    } while (0)

static void expect_mixed(int line, ag_dialect d, const char *sql) {
    ag_rewritten_sql r;
    ag_error err;
    ag_error_clear(&err);
    int rc = ag_rewrite_placeholders(sql, strlen(sql), d, &r, &err);
    CHECK_INT(rc, -1);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    CHECK(strstr(err.message, "cannot mix positional (?) and named (:name) placeholders") != NULL);
    CHECK(r.sql == NULL && r.slot_source == NULL && r.names == NULL && r.nslots == 0 && r.nnames == 0);
    if (rc == 0) {
        fprintf(stderr, "  line %d: expected a mixed-styles error for [%s]\n", line, sql);
        ag_rewritten_sql_free(&r);
    }
}

static void test_plain(void) {
    EXPECT_ALL("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = ? AND b = ?",
               "SELECT * FROM t WHERE a = $1 AND b = $2", POS, "0,1", "0,1", "");
    EXPECT_ALL("INSERT INTO t VALUES (?,?,?)", "INSERT INTO t VALUES (?,?,?)", "INSERT INTO t VALUES ($1,$2,$3)", POS,
               "0,1,2", "0,1,2", "");
    EXPECT_ALL("?", "?", "$1", POS, "0", "0", "");
    /* Ten and more: multi-digit $n. */
    EXPECT(P, "VALUES (?,?,?,?,?,?,?,?,?,?,?)", "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)", POS,
           "0,1,2,3,4,5,6,7,8,9,10", "");
}

static void test_named(void) {
    EXPECT(S, "SELECT :a, :b, :a", "SELECT ?, ?, ?", NAMED, "0,1,0", "a,b");
    EXPECT(M, "SELECT :a, :b, :a", "SELECT ?, ?, ?", NAMED, "0,1,0", "a,b");
    EXPECT(P, "SELECT :a, :b, :a", "SELECT $1, $2, $1", NAMED, "0,1", "a,b");
    EXPECT(P, "UPDATE t SET x=:x_1, y=:Y2 WHERE id=:id AND x<>:x_1", "UPDATE t SET x=$1, y=$2 WHERE id=$3 AND x<>$1",
           NAMED, "0,1,2", "x_1,Y2,id");
    EXPECT(S, "UPDATE t SET x=:x_1, y=:Y2 WHERE id=:id AND x<>:x_1", "UPDATE t SET x=?, y=? WHERE id=? AND x<>?", NAMED,
           "0,1,2,0", "x_1,Y2,id");
    EXPECT_ALL(":_", "?", "$1", NAMED, "0", "0", "_");
    /* Names are case-sensitive. */
    EXPECT(P, ":a :A :a", "$1 $2 $1", NAMED, "0,1", "a,A");
    /* ':' then a non-identifier character is left alone; so is one after an identifier (slices, times). */
    EXPECT_ALL("SELECT a[1:2], x := 3, ': ', :1, 12:30", "SELECT a[1:2], x := 3, ': ', :1, 12:30",
               "SELECT a[1:2], x := 3, ': ', :1, 12:30", NONE, "", "", "");
    EXPECT(P, "SELECT arr[lo:hi], :v", "SELECT arr[lo:hi], $1", NAMED, "0", "v");
    /* Two markers in a row: the second ':' follows a marker, not an identifier. */
    EXPECT(S, ":a:b", "??", NAMED, "0,1", "a,b");
    EXPECT(P, ":a:b", "$1 $2", NAMED, "0,1", "a,b");
}

static void test_strings(void) {
    EXPECT_ALL("SELECT '?', ':x', ? FROM t", "SELECT '?', ':x', ? FROM t", "SELECT '?', ':x', $1 FROM t", POS, "0", "0",
               "");
    EXPECT_ALL("SELECT 'it''s ? :x', ?", "SELECT 'it''s ? :x', ?", "SELECT 'it''s ? :x', $1", POS, "0", "0", "");
    EXPECT_ALL("SELECT '''?''', :n", "SELECT '''?''', ?", "SELECT '''?''', $1", NAMED, "0", "0", "n");
    EXPECT_ALL("SELECT '', ?, ''", "SELECT '', ?, ''", "SELECT '', $1, ''", POS, "0", "0", "");
    /* Double quotes: identifiers on SQLite and PostgreSQL, strings on MariaDB; both skipped. */
    EXPECT_ALL("SELECT \"a?b\", \"c\"\":x\", ?", "SELECT \"a?b\", \"c\"\":x\", ?", "SELECT \"a?b\", \"c\"\":x\", $1",
               POS, "0", "0", "");
    /* Unterminated: not an error, the rest is copied. */
    EXPECT_ALL("SELECT ?, 'abc ? :x", "SELECT ?, 'abc ? :x", "SELECT $1, 'abc ? :x", POS, "0", "0", "");
    EXPECT_ALL("SELECT ?, \"abc ?", "SELECT ?, \"abc ?", "SELECT $1, \"abc ?", POS, "0", "0", "");
}

static void test_comments(void) {
    EXPECT_ALL("SELECT ? -- what ? :x\n, ? /* ? :y */ FROM t", "SELECT ? -- what ? :x\n, ? /* ? :y */ FROM t",
               "SELECT $1 -- what ? :x\n, $2 /* ? :y */ FROM t", POS, "0,1", "0,1", "");
    EXPECT_ALL("SELECT :a -- ?", "SELECT ? -- ?", "SELECT $1 -- ?", NAMED, "0", "0", "a");
    EXPECT_ALL("SELECT ? /* ? ", "SELECT ? /* ? ", "SELECT $1 /* ? ", POS, "0", "0", "");
    EXPECT_ALL("/*/ ? */ ?", "/*/ ? */ ?", "/*/ ? */ $1", POS, "0", "0", "");
    EXPECT_ALL("SELECT 4/2, ?", "SELECT 4/2, ?", "SELECT 4/2, $1", POS, "0", "0", "");
    /* Nesting: PostgreSQL only. */
    EXPECT(P, "SELECT /* a /* ? */ ? */ ?", "SELECT /* a /* ? */ ? */ $1", POS, "0", "");
    EXPECT(S, "SELECT /* a /* ? */ ? */ ?", "SELECT /* a /* ? */ ? */ ?", POS, "0,1", "");
    EXPECT(M, "SELECT /* a /* ? */ ? */ ?", "SELECT /* a /* ? */ ? */ ?", POS, "0,1", "");
    EXPECT(P, "/* /* /* */ ? */ ? */ ?", "/* /* /* */ ? */ ? */ $1", POS, "0", "");
    EXPECT(P, "/* /* ? */ ?", "/* /* ? */ ?", NONE, "", "");
    /* MariaDB: '--' needs a space or control character after it; '#' is a comment. */
    EXPECT(M, "SELECT 1--?", "SELECT 1--?", POS, "0", "");
    EXPECT(M, "SELECT 1--\t?\n, ?", "SELECT 1--\t?\n, ?", POS, "0", "");
    EXPECT(M, "SELECT ? # ? :x\n, ?", "SELECT ? # ? :x\n, ?", POS, "0,1", "");
    EXPECT(S, "SELECT 1--?", "SELECT 1--?", NONE, "", "");
    EXPECT(P, "SELECT ? # ?", "SELECT $1 # $2", POS, "0,1", "");
    EXPECT(M, "SELECT ? --", "SELECT ? --", POS, "0", "");
}

static void test_postgresql_forms(void) {
    EXPECT(P, "SELECT :a::int, x::text, '1'::int", "SELECT $1::int, x::text, '1'::int", NAMED, "0", "a");
    EXPECT(P, "SELECT x::name, :name::name", "SELECT x::name, $1::name", NAMED, "0", "name");
    EXPECT(P, "SELECT x:::a", "SELECT x:::a", NONE, "", "");
    EXPECT(S, "SELECT :a::int", "SELECT ?::int", NAMED, "0", "a");
    /* E'' strings take backslash escapes; plain '' strings do not. */
    EXPECT(P, "SELECT E'\\'?', ?", "SELECT E'\\'?', $1", POS, "0", "");
    EXPECT(P, "SELECT e'\\\\', ?", "SELECT e'\\\\', $1", POS, "0", "");
    EXPECT(P, "SELECT '\\', ?", "SELECT '\\', $1", POS, "0", "");
    EXPECT(P, "SELECT 1 WHERE'\\' = ?", "SELECT 1 WHERE'\\' = $1", POS, "0", "");
    EXPECT(P, "SELECT E'it''s ?', ?", "SELECT E'it''s ?', $1", POS, "0", "");
    EXPECT(P, "SELECT ?E'\\'?'", "SELECT $1 E'\\'?'", POS, "0", "");
    /* Dollar quotes. */
    EXPECT(P, "SELECT $$ ? $$, ?", "SELECT $$ ? $$, $1", POS, "0", "");
    EXPECT(P, "CREATE FUNCTION f() RETURNS int AS $fn$ SELECT :x $$ ? $fn$ LANGUAGE sql; SELECT :y",
           "CREATE FUNCTION f() RETURNS int AS $fn$ SELECT :x $$ ? $fn$ LANGUAGE sql; SELECT $1", NAMED, "0", "y");
    EXPECT(P, "$a$ $b$ ? $b$ ? $a$ ?", "$a$ $b$ ? $b$ ? $a$ $1", POS, "0", "");
    EXPECT(P, "$_x1$ ? $_x1$ $_x2$ ? $_x1$", "$_x1$ ? $_x1$ $_x2$ ? $_x1$", NONE, "", "");
    EXPECT(P, "SELECT $$ ? ", "SELECT $$ ? ", NONE, "", "");
    EXPECT(P, "SELECT $q$ ?", "SELECT $q$ ?", NONE, "", "");
    EXPECT(P, "SELECT $", "SELECT $", NONE, "", "");
    EXPECT(P, "SELECT $ab", "SELECT $ab", NONE, "", "");
    EXPECT(P, "SELECT $ab ?", "SELECT $ab $1", POS, "0", "");
    /* '$' inside an identifier is not a dollar quote. */
    EXPECT(P, "SELECT a$$b, ?, c$d$", "SELECT a$$b, $1, c$d$", POS, "0", "");
    /* $1 is the driver's own style: left alone. */
    EXPECT(P, "SELECT $1, $2::int", "SELECT $1, $2::int", NONE, "", "");
    EXPECT(S, "SELECT $$ ? $$", "SELECT $$ ? $$", POS, "0", "");
    /* jsonb ?| and ?& stay; a lone ? is a placeholder, \? the operator. */
    EXPECT(P, "SELECT d ?| array['a'], d ?& array['b'], d ? 'c', d \\? 'e', ?",
           "SELECT d ?| array['a'], d ?& array['b'], d $1 'c', d ? 'e', $2", POS, "0,1", "");
    EXPECT(P, "SELECT d ?| :a", "SELECT d ?| $1", NAMED, "0", "a");
    EXPECT(S, "SELECT ?|?", "SELECT ?|?", POS, "0,1", "");
    /* A $n glued to an identifier or number would change the token: spaced. */
    EXPECT(P, "SELECT x?, 1?, ?x, ?$", "SELECT x $1, 1 $2, $3 x, $4 $", POS, "0,1,2,3", "");
    EXPECT(P, "SELECT :a$, $:b", "SELECT $1 $, $:b", NAMED, "0", "a");
}

static void test_sqlite_mariadb_forms(void) {
    EXPECT(S, "SELECT `a?`, [b:x ?], ?", "SELECT `a?`, [b:x ?], ?", POS, "0", "");
    EXPECT(S, "SELECT `a``?`, ?", "SELECT `a``?`, ?", POS, "0", "");
    EXPECT(S, "SELECT [a?", "SELECT [a?", NONE, "", "");
    EXPECT(M, "SELECT `a?`, [b?], ?", "SELECT `a?`, [b?], ?", POS, "0,1", "");
    EXPECT(P, "SELECT `?`, [?]", "SELECT `$1`, [$2]", POS, "0,1", "");
    /* MariaDB: backslash escapes in '...' and "...". */
    EXPECT(M, "SELECT 'a\\'?', \"b\\\"?\", ?", "SELECT 'a\\'?', \"b\\\"?\", ?", POS, "0", "");
    EXPECT(M, "SELECT '\\\\', ?", "SELECT '\\\\', ?", POS, "0", "");
    EXPECT(M, "SELECT '\\', ?", "SELECT '\\', ?", NONE, "", "");
    EXPECT(S, "SELECT '\\', ?", "SELECT '\\', ?", POS, "0", "");
    EXPECT(M, "SELECT 'x\\", "SELECT 'x\\", NONE, "", "");
    /* SQLite: a ? followed by digits would be numbered (?1): spaced. */
    EXPECT(S, "SELECT ?1, ?", "SELECT ? 1, ?", POS, "0,1", "");
    EXPECT(M, "SELECT ?1", "SELECT ?1", POS, "0", "");
}

static void test_escapes(void) {
    EXPECT(S, "SELECT d \\? 'k', x\\:y, :a", "SELECT d ? 'k', x:y, ?", NAMED, "0", "a");
    EXPECT(P, "SELECT d \\? 'k', x\\:y, :a", "SELECT d ? 'k', x:y, $1", NAMED, "0", "a");
    EXPECT(M, "SELECT d \\? 'k', x\\:y, :a", "SELECT d ? 'k', x:y, ?", NAMED, "0", "a");
    EXPECT_ALL("\\:a \\?", ":a ?", ":a ?", NONE, "", "", "");
    EXPECT_ALL("\\::a", "::a", "::a", NONE, "", "", "");
    EXPECT_ALL("a \\\\ b \\n", "a \\\\ b \\n", "a \\\\ b \\n", NONE, "", "", "");
    EXPECT_ALL("SELECT \\", "SELECT \\", "SELECT \\", NONE, "", "", "");
    EXPECT_ALL("'\\?'", "'\\?'", "'\\?'", NONE, "", "", "");
    EXPECT(P, "SELECT \\?, ?", "SELECT ?, $1", POS, "0", "");
}

static void test_mixed(void) {
    for (int d = 0; d < AG_DIALECT_COUNT; d++) {
        expect_mixed(__LINE__, (ag_dialect)d, "SELECT ?, :a");
        expect_mixed(__LINE__, (ag_dialect)d, "SELECT :a, ?");
        expect_mixed(__LINE__, (ag_dialect)d, "SELECT :a, :b, :a, ?");
    }
    /* Not mixed: the other style only inside quotes, comments or escapes. */
    EXPECT_ALL("SELECT ?, ':a' -- :b\n, \\:c", "SELECT ?, ':a' -- :b\n, :c", "SELECT $1, ':a' -- :b\n, :c", POS, "0",
               "0", "");
}

static void test_edges(void) {
    EXPECT_ALL("SELECT 1", "SELECT 1", "SELECT 1", NONE, "", "", "");
    EXPECT_ALL("", "", "", NONE, "", "", "");
    EXPECT_ALL("SELECT a:", "SELECT a:", "SELECT a:", NONE, "", "", "");
    EXPECT_ALL("SELECT :", "SELECT :", "SELECT :", NONE, "", "", "");
    EXPECT_ALL("SELECT ?", "SELECT ?", "SELECT $1", POS, "0", "0", "");
    EXPECT_ALL("x = :a", "x = ?", "x = $1", NAMED, "0", "0", "a");
    EXPECT_ALL("'", "'", "'", NONE, "", "", "");
    EXPECT_ALL("-", "-", "-", NONE, "", "", "");
    EXPECT_ALL("/", "/", "/", NONE, "", "", "");
    EXPECT(P, "?|", "?|", NONE, "", "");
    EXPECT(P, "$", "$", NONE, "", "");

    /* Embedded NUL bytes are ordinary bytes (len, not strlen). */
    ag_rewritten_sql r;
    ag_error err;
    static const char with_nul[] = "SELECT ?\0?, ?";
    CHECK_INT(ag_rewrite_placeholders(with_nul, sizeof with_nul - 1, P, &r, &err), 0);
    CHECK_INT(r.sql_len, 16);
    CHECK(memcmp(r.sql, "SELECT $1\0$2, $3", 17) == 0);
    CHECK_INT(r.nslots, 3);
    ag_rewritten_sql_free(&r);
    CHECK(r.sql == NULL && r.nslots == 0);
    ag_rewritten_sql_free(&r); /* twice is harmless */
    ag_rewritten_sql_free(NULL);

    /* A slice of a longer buffer. */
    CHECK_INT(ag_rewrite_placeholders("SELECT ?, ?", 8, P, &r, &err), 0);
    CHECK_STR(r.sql, "SELECT $1");
    ag_rewritten_sql_free(&r);
}

static void test_utf8(void) {
    EXPECT_ALL("SELECT 'é?', ?, \"ü:x\" FROM t WHERE nom = ? -- ß?\n",
               "SELECT 'é?', ?, \"ü:x\" FROM t WHERE nom = ? -- ß?\n",
               "SELECT 'é?', $1, \"ü:x\" FROM t WHERE nom = $2 -- ß?\n", POS, "0,1", "0,1", "");
    EXPECT_ALL("WHERE ville = :ville AND nom = 'Zoë' AND x = :ville", "WHERE ville = ? AND nom = 'Zoë' AND x = ?",
               "WHERE ville = $1 AND nom = 'Zoë' AND x = $1", NAMED, "0,0", "0", "ville");
    EXPECT_ALL("→?←", "→?←", "→ $1 ←", POS, "0", "0", "");
    EXPECT_ALL("(:n)→", "(?)→", "($1)→", NAMED, "0", "0", "n");
    /* A name stops at the first non-ASCII byte; an identifier byte before ':' makes it no placeholder. */
    EXPECT(S, ":né", "?é", NAMED, "0", "n");
    EXPECT(P, ":né", "$1 é", NAMED, "0", "n");
    EXPECT_ALL("é:n", "é:n", "é:n", NONE, "", "", "");
    EXPECT(P, "$é$ ? $é$ ?", "$é$ ? $é$ $1", POS, "0", "");
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_large(void) {
    /* 1 MB of rows of three placeholders, one in a string and one in a comment, on every dialect. */
    const char *row = "('it''s ?', ?, /* :x */ ?),";
    size_t rowlen = strlen(row), nrows = (1u << 20) / rowlen + 1;
    size_t len = 7 + nrows * rowlen;
    char *sql = malloc(len + 1);
    CHECK(sql != NULL);
    if (!sql) return;
    memcpy(sql, "VALUES ", 7);
    for (size_t i = 0; i < nrows; i++) memcpy(sql + 7 + i * rowlen, row, rowlen);
    sql[len] = '\0';
    for (int d = 0; d < AG_DIALECT_COUNT; d++) {
        ag_rewritten_sql r;
        ag_error err;
        double t0 = now_ms();
        int rc = ag_rewrite_placeholders(sql, len, (ag_dialect)d, &r, &err);
        double ms = now_ms() - t0;
        CHECK_INT(rc, 0);
        if (rc != 0) continue;
        CHECK_INT(r.style, POS);
        CHECK_INT(r.nslots, (long long)(2 * nrows));
        CHECK_INT(r.slot_source[r.nslots - 1], r.nslots - 1);
        if (d == P) {
            /* Each ? became $n: count the digits. */
            size_t extra = 0;
            for (long long n = 1; n <= 2 * (long long)nrows; n++) {
                for (long long v = n; v; v /= 10) extra++;
            }
            CHECK_INT(r.sql_len, len + extra);
            char tail[64];
            snprintf(tail, sizeof tail, "/* :x */ $%d),", r.nslots);
            CHECK(r.sql_len > strlen(tail) && memcmp(r.sql + r.sql_len - strlen(tail), tail, strlen(tail)) == 0);
        } else {
            CHECK_INT(r.sql_len, len);
            CHECK(memcmp(r.sql, sql, len) == 0);
        }
        printf("1 MB, %d placeholders, %s: %.2f ms\n", r.nslots, dialect_label((ag_dialect)d), ms);
        ag_rewritten_sql_free(&r);
    }
    free(sql);

    /* 1 MB of distinct names (the hash table), each used twice. */
    size_t cap = 1u << 21, o = 0;
    sql = malloc(cap);
    CHECK(sql != NULL);
    if (!sql) return;
    int nnames = 0;
    while (o < (1u << 20)) {
        o += (size_t)snprintf(sql + o, cap - o, ":name%d,:name%d,", nnames, nnames);
        nnames++;
    }
    for (int d = 0; d < AG_DIALECT_COUNT; d++) {
        ag_rewritten_sql r;
        ag_error err;
        double t0 = now_ms();
        int rc = ag_rewrite_placeholders(sql, o, (ag_dialect)d, &r, &err);
        double ms = now_ms() - t0;
        CHECK_INT(rc, 0);
        if (rc != 0) continue;
        CHECK_INT(r.style, NAMED);
        CHECK_INT(r.nnames, nnames);
        CHECK_INT(r.nslots, d == P ? nnames : 2 * nnames);
        char want[32];
        snprintf(want, sizeof want, "name%d", nnames - 1);
        CHECK_STR(r.names[nnames - 1], want);
        int ok = 1;
        for (int i = 0; i < r.nslots; i++) ok &= r.slot_source[i] == (d == P ? i : i / 2);
        CHECK(ok);
        if (d == P) {
            snprintf(want, sizeof want, "$%d,$%d,", nnames, nnames);
            CHECK(memcmp(r.sql + r.sql_len - strlen(want), want, strlen(want)) == 0);
        }
        printf("1 MB, %d names, %s: %.2f ms\n", nnames, dialect_label((ag_dialect)d), ms);
        ag_rewritten_sql_free(&r);
    }
    free(sql);
}

int main(void) {
    test_plain();
    test_named();
    test_strings();
    test_comments();
    test_postgresql_forms();
    test_sqlite_mariadb_forms();
    test_escapes();
    test_mixed();
    test_edges();
    test_utf8();
    test_large();
    CHECK_DONE();
}
