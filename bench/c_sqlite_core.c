/*
 * c_sqlite_core.c -- the raw SQLite C baseline for argent's Core benchmark
 * (bench/core_sqlite.lua). It runs the same three workloads with the SQLite
 * C API alone, so that the ratio argent/C shows what argent's Lua binding,
 * statement cache and value conversion cost on top of the database itself.
 *
 * usage: c_sqlite_core <dbpath> <N>
 * stdout: one line per workload: "c <workload> <seconds> <rows> <checksum>"
 *
 * The connection is set up as argent sets up its SQLite connections
 * (journal_mode=WAL, synchronous=FULL, foreign_keys=ON) so that both sides
 * pay the same journalling cost; the peers' c_sqlite.c uses SQLite's
 * defaults (journal_mode=DELETE) instead, so its numbers are not comparable.
 * Reading and "touching" follow the peers' c_sqlite.c: every text column is
 * copied into a malloc'd string (as a Lua string is a copy) and the checksum
 * is computed from the copies; W-tuples frees each row once touched (argent
 * streams it), W-rows keeps them all in an array of structs (the Lua side
 * keeps its row tables).
 *
 * Build: cc -O2 -o c_sqlite_core c_sqlite_core.c -lsqlite3
 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static sqlite3 *db;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "c: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static void exec(const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "c: %s: %s\n", sql, err ? err : "?");
        exit(1);
    }
}

static sqlite3_stmt *prep(const char *sql) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die(sql);
    return st;
}

static void report(const char *w, double t, long rows, long long check) {
    printf("c %s %.6f %ld %lld\n", w, t, rows, check);
    fflush(stdout);
}

/* a copy of a text column, NULL-safe; the length goes to *len */
static char *coltext(sqlite3_stmt *st, int i, size_t *len) {
    const unsigned char *p = sqlite3_column_text(st, i);
    if (!p) { *len = 0; return NULL; }
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    char *s = malloc(n + 1);
    if (!s) { fprintf(stderr, "c: out of memory\n"); exit(1); }
    memcpy(s, p, n + 1);
    *len = n;
    return s;
}

/* One materialized row. The lengths are kept as a Lua string keeps its
 * length, so that "touching" (#s in Lua) costs the same on both sides. */
typedef struct {
    long long id;
    char *username, *email, *password;
    size_t lu, le, lp;
} User;

static void read_user(sqlite3_stmt *st, User *u) {
    u->id = sqlite3_column_int64(st, 0);
    u->username = coltext(st, 1, &u->lu);
    u->email = coltext(st, 2, &u->le);
    u->password = coltext(st, 3, &u->lp);
}

static long long touch_user(const User *u) {
    return u->id + (long long)u->lu + (long long)u->le + (long long)u->lp;
}

static void free_user(User *u) {
    free(u->username);
    free(u->email);
    free(u->password);
}

static const char *SCHEMA =
    "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username VARCHAR(128) NOT NULL,"
    " email VARCHAR(128) NOT NULL, password VARCHAR(128) NOT NULL,"
    " created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)";

/* W-tuples: argent's tuples() streams (no table per row, nothing kept), so
 * the C analogue copies each row's strings (as Lua makes a string per text
 * value), touches the row and frees it: the peers' W3 pattern. */
static void select_stream(void) {
    double t = now();
    sqlite3_stmt *st = prep("SELECT id, username, email, password FROM users");
    long n = 0;
    long long chk = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        User u;
        read_user(st, &u);
        chk += touch_user(&u);
        free_user(&u);
        n++;
    }
    if (rc != SQLITE_DONE) die("select");
    sqlite3_finalize(st);
    report("W-tuples", now() - t, n, chk);
}

/* W-rows: argent's rows() gives a table per row and the Lua side keeps them
 * all, so C materializes every row into a growing array of structs (the
 * peers' W2 pattern), then touches them; freeing is untimed, as Lua's
 * collection of the rows is. */
static void select_materialize(void) {
    double t = now();
    sqlite3_stmt *st = prep("SELECT id, username, email, password FROM users");
    long cap = 1024, n = 0;
    User *us = malloc(sizeof(User) * (size_t)cap);
    if (!us) { fprintf(stderr, "c: out of memory\n"); exit(1); }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap *= 2;
            User *grown = realloc(us, sizeof(User) * (size_t)cap);
            if (!grown) { fprintf(stderr, "c: out of memory\n"); exit(1); }
            us = grown;
        }
        read_user(st, &us[n++]);
    }
    if (rc != SQLITE_DONE) die("select");
    sqlite3_finalize(st);
    long long chk = 0;
    for (long i = 0; i < n; i++) chk += touch_user(&us[i]);
    double el = now() - t;
    report("W-rows", el, n, chk);
    for (long i = 0; i < n; i++) free_user(&us[i]);
    free(us);
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s <dbpath> <N>\n", argv[0]); return 2; }
    const char *path = argv[1];
    long N = atol(argv[2]);
    char a[64], b[64], c[64];

    if (sqlite3_open(path, &db) != SQLITE_OK) die("open");
    /* the same settings as argent's SQLite connections (see the file comment) */
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON");
    exec(SCHEMA);

    /* W-insert: N inserts in one transaction, one prepared statement reused */
    double t = now();
    {
        sqlite3_stmt *st = prep("INSERT INTO users (username, email, password) VALUES (?, ?, ?)");
        exec("BEGIN");
        for (long i = 1; i <= N; i++) {
            int la = snprintf(a, sizeof a, "user_%ld", i);
            int lb = snprintf(b, sizeof b, "user_%ld@example.com", i);
            int lc = snprintf(c, sizeof c, "pass_%ld", i);
            sqlite3_bind_text(st, 1, a, la, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, b, lb, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 3, c, lc, SQLITE_TRANSIENT);
            if (sqlite3_step(st) != SQLITE_DONE) die("insert");
            sqlite3_reset(st);
        }
        exec("COMMIT");
        sqlite3_finalize(st);
    }
    report("W-insert", now() - t, N, N);

    select_stream();
    select_materialize();

    sqlite3_close(db);
    return 0;
}
