/*
 * c_sqlite_orm.c -- the raw SQLite C baseline for argent's ORM benchmark
 * (bench/orm_sqlite.lua).  It sends the statements argent's Session sends
 * for the same three workloads (as echo = true shows them), with the SQLite
 * C API alone, and keeps what the ORM keeps: one struct per object, its
 * strings copied into malloc'd memory (a Lua string is a copy), the key the
 * database generated stored back into the struct.
 *
 * usage: c_sqlite_orm <dbpath> <N>
 * stdout: one line per workload: "c <workload> <seconds> <rows> <checksum>"
 *
 * The connection is set up as argent sets up a SQLite file connection
 * (journal_mode=WAL, foreign_keys=ON, SQLite's synchronous=FULL), so both
 * sides pay the same journalling.  Statement preparation is timed, once per
 * statement text per workload, as argent prepares (and caches) each text
 * once per connection.  Freeing the structs is not timed.
 *
 *   O-insert    build N user structs (strings formatted in the loop); BEGIN;
 *               one INSERT statement stepped per user, its key read with
 *               sqlite3_last_insert_rowid into the struct; COMMIT.  (argent
 *               does the same on SQLite: no RETURNING; the server defaults
 *               created_at / updated_at are expired, read on first access,
 *               which no workload here does.)  Checksum = sum of the keys.
 *   O-all       SELECT every user into an array of structs, touch them.
 *   O-selectin  SELECT the first R users (id <= R, ORDER BY id), then their
 *               posts with owner_id IN (up to 500 keys) ORDER BY posts.id per
 *               batch, each post appended to its owner's list (the owner
 *               found by binary search in the users, which are ordered by
 *               id); touch users and posts.
 *
 * Build: cc -O2 -o c_sqlite_orm c_sqlite_orm.c -lsqlite3
 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POSTS_PER_USER 5
#define IN_BATCH 500

static sqlite3 *db;

static const char FILLER[] =
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation.";

/* argent's DDL for the models of orm_sqlite.lua (metadata:create_all), verbatim */
static const char SCHEMA[] =
    "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, username VARCHAR(128) NOT NULL, "
    "email VARCHAR(128) NOT NULL, password VARCHAR(128) NOT NULL, "
    "created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME DEFAULT CURRENT_TIMESTAMP);"
    "CREATE TABLE posts (id INTEGER NOT NULL PRIMARY KEY, title VARCHAR(256) NOT NULL, "
    "content TEXT NOT NULL, image_url VARCHAR(256), owner_id INTEGER NOT NULL, "
    "FOREIGN KEY(owner_id) REFERENCES users (id));"
    "CREATE INDEX ix_posts_owner_id ON posts (owner_id);";

/* The statements, as argent's Session emits them. */
static const char INSERT_USER[] = "INSERT INTO users (username, email, password) VALUES (?, ?, ?)";
static const char SELECT_USERS[] =
    "SELECT users.id, users.username, users.email, users.password, users.created_at, "
    "users.updated_at FROM users";
static const char SELECT_FIRST_USERS[] =
    "SELECT users.id, users.username, users.email, users.password, users.created_at, "
    "users.updated_at FROM users WHERE users.id <= ? ORDER BY users.id";
static const char SELECT_POSTS_IN[] =
    "SELECT posts.id, posts.title, posts.content, posts.image_url, posts.owner_id FROM posts "
    "WHERE posts.owner_id IN (";

typedef struct post {
    long long id, owner_id;
    char *title, *content, *image_url;
} post;

typedef struct user {
    long long id;
    char *username, *email, *password, *created_at, *updated_at;
    post **posts; /* the relationship's collection */
    int nposts, capposts;
} user;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "c: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "c: out of memory\n");
        exit(1);
    }
    return p;
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

static char *dup_n(const char *s, int n) {
    char *p = xmalloc((size_t)n + 1);
    memcpy(p, s, (size_t)n);
    p[n] = '\0';
    return p;
}

/* A text column copied, or NULL for SQL NULL. */
static char *col_text(sqlite3_stmt *st, int i) {
    const unsigned char *s = sqlite3_column_text(st, i);
    if (!s) return NULL;
    return dup_n((const char *)s, sqlite3_column_bytes(st, i));
}

static char *fmt_dup(const char *f, long a, long b) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, f, a, b);
    return dup_n(buf, n);
}

static void read_user(sqlite3_stmt *st, user *u) {
    u->id = sqlite3_column_int64(st, 0);
    u->username = col_text(st, 1);
    u->email = col_text(st, 2);
    u->password = col_text(st, 3);
    u->created_at = col_text(st, 4);
    u->updated_at = col_text(st, 5);
    u->posts = NULL;
    u->nposts = u->capposts = 0;
}

static void free_user(user *u) {
    free(u->username);
    free(u->email);
    free(u->password);
    free(u->created_at);
    free(u->updated_at);
    for (int i = 0; i < u->nposts; i++) {
        free(u->posts[i]->title);
        free(u->posts[i]->content);
        free(u->posts[i]->image_url);
        free(u->posts[i]);
    }
    free(u->posts);
}

static long long touch_user(const user *u) {
    return u->id + (long long)strlen(u->username) + (long long)strlen(u->email) +
           (long long)strlen(u->password) + (u->created_at != NULL) + (u->updated_at != NULL);
}

static long long touch_post(const post *p) {
    return p->id + p->owner_id + (long long)strlen(p->title) + (long long)strlen(p->content) +
           (long long)strlen(p->image_url);
}

/* SELECT into a growing array of user structs. */
static user *load_users(sqlite3_stmt *st, long *count) {
    long n = 0, cap = 1024;
    user *us = xmalloc(sizeof *us * (size_t)cap);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap *= 2;
            user *grown = realloc(us, sizeof *us * (size_t)cap);
            if (!grown) {
                fprintf(stderr, "c: out of memory\n");
                exit(1);
            }
            us = grown;
        }
        read_user(st, &us[n++]);
    }
    if (rc != SQLITE_DONE) die("select users");
    *count = n;
    return us;
}

static user *find_user(user *us, long n, long long id) {
    long lo = 0, hi = n - 1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (us[mid].id == id) return &us[mid];
        if (us[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

static void o_insert(long N) {
    double t = now();
    user *us = xmalloc(sizeof *us * (size_t)N);
    char buf[64];
    for (long i = 1; i <= N; i++) {
        user *u = &us[i - 1];
        u->id = 0;
        u->username = dup_n(buf, snprintf(buf, sizeof buf, "user_%ld", i));
        u->email = dup_n(buf, snprintf(buf, sizeof buf, "user_%ld@example.com", i));
        u->password = dup_n(buf, snprintf(buf, sizeof buf, "pass_%ld", i));
        u->created_at = u->updated_at = NULL;
        u->posts = NULL;
        u->nposts = u->capposts = 0;
    }
    exec("BEGIN");
    sqlite3_stmt *st = prep(INSERT_USER);
    for (long i = 0; i < N; i++) {
        user *u = &us[i];
        sqlite3_bind_text(st, 1, u->username, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, u->email, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, u->password, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) die("insert");
        u->id = sqlite3_last_insert_rowid(db);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    exec("COMMIT");
    long long chk = 0;
    for (long i = 0; i < N; i++) chk += us[i].id;
    report("O-insert", now() - t, N, chk);
    for (long i = 0; i < N; i++) free_user(&us[i]);
    free(us);
}

static void setup_posts(long R) {
    exec("BEGIN");
    sqlite3_stmt *st =
        prep("INSERT INTO posts (title, content, image_url, owner_id) VALUES (?, ?, ?, ?)");
    char content_fmt[512];
    snprintf(content_fmt, sizeof content_fmt, "Content of post %%ld by user_%%ld. %s", FILLER);
    for (long u = 1; u <= R; u++) {
        for (long j = 1; j <= POSTS_PER_USER; j++) {
            char *title = fmt_dup("Post %ld by user_%ld", j, u);
            char *content = fmt_dup(content_fmt, j, u);
            char *image = fmt_dup("https://img.example.com/%ld/%ld.png", u, j);
            sqlite3_bind_text(st, 1, title, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, content, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 3, image, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 4, u);
            if (sqlite3_step(st) != SQLITE_DONE) die("insert post");
            sqlite3_reset(st);
            free(title);
            free(content);
            free(image);
        }
    }
    sqlite3_finalize(st);
    exec("COMMIT");
}

static void o_all(void) {
    double t = now();
    sqlite3_stmt *st = prep(SELECT_USERS);
    long n;
    user *us = load_users(st, &n);
    sqlite3_finalize(st);
    long long chk = 0;
    for (long i = 0; i < n; i++) chk += touch_user(&us[i]);
    report("O-all", now() - t, n, chk);
    for (long i = 0; i < n; i++) free_user(&us[i]);
    free(us);
}

static void o_selectin(long R) {
    double t = now();
    sqlite3_stmt *st = prep(SELECT_FIRST_USERS);
    sqlite3_bind_int64(st, 1, R);
    long n;
    user *us = load_users(st, &n);
    sqlite3_finalize(st);

    /* the IN statement for a full batch, prepared once; a shorter last
     * batch gets its own text (argent caches one prepared statement per text) */
    char sql[sizeof SELECT_POSTS_IN + 3 * IN_BATCH + 32];
    sqlite3_stmt *full = NULL;
    for (long s = 0; s < n; s += IN_BATCH) {
        long m = n - s < IN_BATCH ? n - s : IN_BATCH;
        sqlite3_stmt *q;
        if (m == IN_BATCH && full) {
            q = full;
        } else {
            size_t len = strlen(SELECT_POSTS_IN);
            memcpy(sql, SELECT_POSTS_IN, len);
            for (long i = 0; i < m; i++) {
                if (i) sql[len++] = ',', sql[len++] = ' ';
                sql[len++] = '?';
            }
            memcpy(sql + len, ") ORDER BY posts.id", sizeof ") ORDER BY posts.id");
            q = prep(sql);
            if (m == IN_BATCH) full = q;
        }
        for (long i = 0; i < m; i++) sqlite3_bind_int64(q, (int)i + 1, us[s + i].id);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            post *p = xmalloc(sizeof *p);
            p->id = sqlite3_column_int64(q, 0);
            p->title = col_text(q, 1);
            p->content = col_text(q, 2);
            p->image_url = col_text(q, 3);
            p->owner_id = sqlite3_column_int64(q, 4);
            user *o = find_user(us, n, p->owner_id);
            if (!o) {
                fprintf(stderr, "c: post %lld has no owner in the batch\n", p->id);
                exit(1);
            }
            if (o->nposts == o->capposts) {
                o->capposts = o->capposts ? o->capposts * 2 : 4;
                post **grown = realloc(o->posts, sizeof *grown * (size_t)o->capposts);
                if (!grown) {
                    fprintf(stderr, "c: out of memory\n");
                    exit(1);
                }
                o->posts = grown;
            }
            o->posts[o->nposts++] = p;
        }
        if (rc != SQLITE_DONE) die("select posts");
        if (q == full)
            sqlite3_reset(q);
        else
            sqlite3_finalize(q);
    }
    if (full) sqlite3_finalize(full);

    long long chk = 0;
    long np = 0;
    for (long i = 0; i < n; i++) {
        chk += touch_user(&us[i]);
        for (int j = 0; j < us[i].nposts; j++) {
            chk += touch_post(us[i].posts[j]);
            np++;
        }
    }
    report("O-selectin", now() - t, np, chk);
    for (long i = 0; i < n; i++) free_user(&us[i]);
    free(us);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <dbpath> <N>\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    long N = atol(argv[2]);
    long R = N < 2000 ? N : 2000;

    if (sqlite3_open(path, &db) != SQLITE_OK) die("open");
    /* argent's settings for a SQLite file (see the file comment) */
    sqlite3_busy_timeout(db, 5000);
    exec("PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL");
    exec(SCHEMA);

    o_insert(N);
    setup_posts(R);
    o_all();
    o_selectin(R);

    sqlite3_close(db);
    return 0;
}
