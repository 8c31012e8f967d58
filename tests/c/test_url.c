/*
 * test_url.c -- database URL parsing and rendering (src/base/url.c): every
 * form API.md section 2 lists, every error, password masking, percent-
 * decoding and the parse -> render -> parse round trip.
 */
#include <stdlib.h>
#include <string.h>

#include "base/url.h"
#include "check.h"

static ag_url *parse(const char *s) {
    ag_url *url = NULL;
    ag_error err;
    ag_error_clear(&err);
    if (ag_url_parse(s, strlen(s), &url, &err) != 0) {
        fprintf(stderr, "unexpected parse failure for %s: %s\n", s, err.message);
        return NULL;
    }
    return url;
}

/* Parses a URL that must fail; returns the error (checked to be an ArgumentError). */
static ag_error parse_fails(const char *s) {
    ag_url *url = (ag_url *)1;
    ag_error err;
    ag_error_clear(&err);
    int rc = ag_url_parse(s, strlen(s), &url, &err);
    CHECK_INT(rc, -1);
    CHECK(url == NULL);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    CHECK(err.message[0] != '\0');
    if (rc == 0) ag_url_free(url);
    return err;
}

static int str_eq(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static int urls_equal(const ag_url *a, const ag_url *b) {
    if (!str_eq(a->drivername, b->drivername) || a->dialect != b->dialect || !str_eq(a->driver, b->driver) ||
        !str_eq(a->username, b->username) || !str_eq(a->password, b->password) || !str_eq(a->host, b->host) ||
        a->port != b->port || !str_eq(a->database, b->database) || a->nquery != b->nquery)
        return 0;
    for (size_t i = 0; i < a->nquery; i++) {
        if (!str_eq(a->query[i].key, b->query[i].key) || !str_eq(a->query[i].value, b->query[i].value)) return 0;
    }
    return 1;
}

/* parse(render(u)) == u, and render is stable. */
static void check_round_trip(const char *s) {
    ag_url *url = parse(s);
    CHECK(url != NULL);
    if (!url) return;
    char *text = ag_url_render(url, 0);
    CHECK(text != NULL);
    ag_url *again = text ? parse(text) : NULL;
    CHECK(again != NULL);
    if (again) {
        if (!urls_equal(url, again)) fprintf(stderr, "round trip differs: %s -> %s\n", s, text);
        CHECK(urls_equal(url, again));
        char *text2 = ag_url_render(again, 0);
        CHECK_STR(text2, text);
        free(text2);
    }
    ag_url *copy = ag_url_copy(url);
    CHECK(copy != NULL && urls_equal(url, copy));
    ag_url_free(copy);
    ag_url_free(again);
    free(text);
    ag_url_free(url);
}

static void check_render(const char *s, int mask, const char *want) {
    ag_url *url = parse(s);
    CHECK(url != NULL);
    if (!url) return;
    char *text = ag_url_render(url, mask);
    CHECK_STR(text, want);
    free(text);
    ag_url_free(url);
}

static void test_sqlite_forms(void) {
    ag_url *u = parse("sqlite:///relative.db");
    CHECK(u != NULL);
    if (u) {
        CHECK_STR(u->drivername, "sqlite");
        CHECK_INT(u->dialect, AG_DIALECT_SQLITE);
        CHECK(u->driver == NULL);
        CHECK(u->username == NULL && u->password == NULL && u->host == NULL);
        CHECK_INT(u->port, 0);
        CHECK_STR(u->database, "relative.db");
        CHECK_INT(u->nquery, 0);
        CHECK(!ag_url_is_sqlite_memory(u));
        ag_url_free(u);
    }
    u = parse("sqlite:////abs/path.db");
    CHECK(u && str_eq(u->database, "/abs/path.db"));
    CHECK(u && !ag_url_is_sqlite_memory(u));
    ag_url_free(u);

    const char *memory_forms[] = {"sqlite://", "sqlite:///:memory:", "sqlite:///", "SQLite://"};
    for (size_t i = 0; i < sizeof memory_forms / sizeof memory_forms[0]; i++) {
        u = parse(memory_forms[i]);
        CHECK(u != NULL);
        if (!u) continue;
        CHECK_STR(u->database, ":memory:");
        CHECK(ag_url_is_sqlite_memory(u));
        CHECK_STR(u->drivername, "sqlite");
        ag_url_free(u);
    }

    u = parse("sqlite:///x.db?busy_timeout=100&journal_mode=WAL");
    CHECK(u != NULL);
    if (u) {
        CHECK_STR(u->database, "x.db");
        CHECK_INT(u->nquery, 2);
        CHECK_STR(ag_url_query_get(u, "busy_timeout"), "100");
        CHECK_STR(ag_url_query_get(u, "journal_mode"), "WAL");
        CHECK(ag_url_query_get(u, "nope") == NULL);
        ag_url_free(u);
    }
    u = parse("sqlite://?mode=ro");
    CHECK(u && str_eq(u->database, ":memory:") && u->nquery == 1);
    ag_url_free(u);

    /* A path with '@', ':' and percent-encoding is just a path. */
    u = parse("sqlite:///dir%20x/a@b:c.db");
    CHECK(u && str_eq(u->database, "dir x/a@b:c.db") && u->username == NULL);
    ag_url_free(u);

    u = parse("sqlite+pysqlite:///x.db");
    CHECK(u && str_eq(u->drivername, "sqlite+pysqlite") && str_eq(u->driver, "pysqlite"));
    ag_url_free(u);

    /* A URL as a slice of a longer buffer (len, not NUL). */
    const char *buf = "sqlite:///a.dbXXXX";
    ag_error err;
    ag_url *slice = NULL;
    CHECK_INT(ag_url_parse(buf, 14, &slice, &err), 0);
    CHECK(slice && str_eq(slice->database, "a.db"));
    ag_url_free(slice);
}

static void test_postgresql_forms(void) {
    ag_url *u = parse("postgresql://user:pass@host:5432/db?k=v&k2=v2");
    CHECK(u != NULL);
    if (u) {
        CHECK_STR(u->drivername, "postgresql");
        CHECK_INT(u->dialect, AG_DIALECT_POSTGRESQL);
        CHECK(u->driver == NULL);
        CHECK_STR(u->username, "user");
        CHECK_STR(u->password, "pass");
        CHECK_STR(u->host, "host");
        CHECK_INT(u->port, 5432);
        CHECK_STR(u->database, "db");
        CHECK_INT(u->nquery, 2);
        CHECK_STR(u->query[0].key, "k");
        CHECK_STR(u->query[0].value, "v");
        CHECK_STR(u->query[1].key, "k2");
        CHECK_STR(u->query[1].value, "v2");
        CHECK_STR(ag_url_query_get(u, "k2"), "v2");
        CHECK(!ag_url_is_sqlite_memory(u));
        ag_url_free(u);
    }

    u = parse("postgres://h/d");
    CHECK(u && u->dialect == AG_DIALECT_POSTGRESQL && str_eq(u->drivername, "postgres"));
    ag_url_free(u);

    u = parse("postgresql+psycopg2://u@h/d");
    CHECK(u && u->dialect == AG_DIALECT_POSTGRESQL && str_eq(u->driver, "psycopg2") &&
          str_eq(u->drivername, "postgresql+psycopg2"));
    ag_url_free(u);

    u = parse("postgresql:///db");
    CHECK(u && !u->username && !u->password && !u->host && u->port == 0 && str_eq(u->database, "db"));
    ag_url_free(u);

    u = parse("postgresql://host/db");
    CHECK(u && !u->username && !u->password && str_eq(u->host, "host") && u->port == 0 && str_eq(u->database, "db"));
    ag_url_free(u);

    u = parse("postgresql://user@/db");
    CHECK(u && str_eq(u->username, "user") && !u->password && !u->host && str_eq(u->database, "db"));
    ag_url_free(u);

    u = parse("postgresql://host:6543");
    CHECK(u && str_eq(u->host, "host") && u->port == 6543 && u->database == NULL);
    ag_url_free(u);

    u = parse("postgresql://");
    CHECK(u && !u->username && !u->host && !u->database && u->port == 0);
    ag_url_free(u);

    u = parse("postgresql://:5432/db");
    CHECK(u && !u->host && u->port == 5432);
    ag_url_free(u);

    u = parse("postgresql://h?sslmode=disable&connect_timeout=3");
    CHECK(u && str_eq(u->host, "h") && !u->database && u->nquery == 2);
    CHECK(u && str_eq(ag_url_query_get(u, "connect_timeout"), "3"));
    ag_url_free(u);

    /* Port edges. */
    u = parse("postgresql://h:1/d");
    CHECK(u && u->port == 1);
    ag_url_free(u);
    u = parse("postgresql://h:65535/d");
    CHECK(u && u->port == 65535);
    ag_url_free(u);

    /* IPv6 hosts are stored without brackets. */
    u = parse("postgresql://u:p@[::1]:5432/db");
    CHECK(u && str_eq(u->host, "::1") && u->port == 5432 && str_eq(u->password, "p"));
    ag_url_free(u);
    u = parse("postgresql://[fe80::1%25eth0]/db");
    CHECK(u && str_eq(u->host, "fe80::1%eth0") && u->port == 0);
    ag_url_free(u);
}

static void test_mariadb_forms(void) {
    ag_url *u = parse("mariadb://user:pass@host:3306/db");
    CHECK(u && u->dialect == AG_DIALECT_MARIADB && str_eq(u->host, "host") && u->port == 3306 &&
          str_eq(u->database, "db") && str_eq(u->drivername, "mariadb"));
    ag_url_free(u);
    u = parse("mysql://u@h/d");
    CHECK(u && u->dialect == AG_DIALECT_MARIADB && str_eq(u->drivername, "mysql"));
    ag_url_free(u);
    u = parse("mariadb+pymysql://u@h/d?charset=utf8mb4");
    CHECK(u && u->dialect == AG_DIALECT_MARIADB && str_eq(u->driver, "pymysql") &&
          str_eq(ag_url_query_get(u, "charset"), "utf8mb4"));
    ag_url_free(u);
    u = parse("mysql+mysqldb://u@h/d");
    CHECK(u && u->dialect == AG_DIALECT_MARIADB && str_eq(u->driver, "mysqldb") &&
          str_eq(u->drivername, "mysql+mysqldb"));
    ag_url_free(u);
}

static void test_decoding(void) {
    /* user "a@b", password "p:w/d%" */
    ag_url *u = parse("postgresql://a%40b:p%3Aw%2Fd%25@h/d%20b");
    CHECK(u != NULL);
    if (u) {
        CHECK_STR(u->username, "a@b");
        CHECK_STR(u->password, "p:w/d%");
        CHECK_STR(u->database, "d b");
        ag_url_free(u);
    }
    /* Lenient: an unencoded '@' or ':' in the password still parses. */
    u = parse("postgresql://us%3Aer:p@ss:w@h:5/db");
    CHECK(u && str_eq(u->username, "us:er") && str_eq(u->password, "p@ss:w") && str_eq(u->host, "h") && u->port == 5);
    ag_url_free(u);
    /* '+' is not a space. */
    u = parse("postgresql://u:a+b@h/d?opt=x+y&o%26=%3D%26");
    CHECK(u && str_eq(u->password, "a+b") && str_eq(ag_url_query_get(u, "opt"), "x+y") &&
          str_eq(ag_url_query_get(u, "o&"), "=&"));
    ag_url_free(u);
    /* A key without '=' has the empty value; empty segments are skipped; the last duplicate wins. */
    u = parse("postgresql://h/d?flag&&k=1&k=2&e=");
    CHECK(u && u->nquery == 4);
    CHECK(u && str_eq(ag_url_query_get(u, "flag"), "") && str_eq(ag_url_query_get(u, "k"), "2") &&
          str_eq(ag_url_query_get(u, "e"), ""));
    ag_url_free(u);
    /* Upper-case hex and UTF-8. */
    u = parse("postgresql://%C3%A9l%C3%A8ve@h/caf%c3%a9");
    CHECK(u && str_eq(u->username, "\xc3\xa9l\xc3\xa8ve") && str_eq(u->database, "caf\xc3\xa9"));
    ag_url_free(u);
    /* A password with unencoded UTF-8 is kept as bytes. */
    u = parse("postgresql://u:m\xc3\xb6t@h/d");
    CHECK(u && str_eq(u->password, "m\xc3\xb6t"));
    ag_url_free(u);
    /* An empty user or password is absent. */
    u = parse("postgresql://:pw@h/d");
    CHECK(u && u->username == NULL && str_eq(u->password, "pw"));
    ag_url_free(u);
    u = parse("postgresql://u:@h/d");
    CHECK(u && str_eq(u->username, "u") && u->password == NULL);
    ag_url_free(u);
}

/* The error message must not show `secret`. */
static void check_masked_error(const char *s, const char *secret, const char *expect_in_message) {
    ag_error err = parse_fails(s);
    if (strstr(err.message, secret)) fprintf(stderr, "password leaked: %s\n", err.message);
    CHECK(strstr(err.message, secret) == NULL);
    if (expect_in_message) {
        if (!strstr(err.message, expect_in_message))
            fprintf(stderr, "message '%s' lacks '%s'\n", err.message, expect_in_message);
        CHECK(strstr(err.message, expect_in_message) != NULL);
    }
}

static void test_errors(void) {
    ag_error err = parse_fails("");
    CHECK(strstr(err.message, "empty") != NULL);

    err = parse_fails("nonsense");
    CHECK(strstr(err.message, "nonsense") != NULL);
    err = parse_fails("://x");
    err = parse_fails("sqlite:");
    CHECK(strstr(err.message, "//") != NULL);
    err = parse_fails("sqlite:/x.db");
    CHECK(strstr(err.message, "//") != NULL);

    err = parse_fails("foo://x");
    CHECK_STR(err.message, "unknown database dialect 'foo' in URL 'foo://x'; expected sqlite, postgresql or mariadb");
    err = parse_fails("oracle+cx://u:topsecret@h/d");
    CHECK(strstr(err.message, "'oracle'") != NULL);
    CHECK(strstr(err.message, "topsecret") == NULL);
    CHECK(strstr(err.message, "***") != NULL);
    err = parse_fails("postgresql+://h/d");
    CHECK(strstr(err.message, "driver") != NULL);

    const char *bad_ports[] = {"postgresql://u@h:abc/db", "postgresql://h:0/db",   "postgresql://h:70000/db",
                               "postgresql://h:65536/db", "postgresql://h:-1/db",  "postgresql://h:/db",
                               "postgresql://h:12a/db",   "postgresql://h:1:2/db", "postgresql://h:0000000001/db",
                               "postgresql://[::1]:x/db"};
    for (size_t i = 0; i < sizeof bad_ports / sizeof bad_ports[0]; i++) {
        err = parse_fails(bad_ports[i]);
        CHECK(strstr(err.message, "port") != NULL);
    }
    err = parse_fails("postgresql://u@h:abc/db");
    CHECK(strstr(err.message, "'abc'") != NULL);
    CHECK(strstr(err.message, "postgresql://u@h:abc/db") != NULL);

    const char *bad_percent[] = {"postgresql://u%zz@h/d",  "postgresql://u:p%4@h/d", "postgresql://h/d%",
                                 "postgresql://h/d?k=%G1", "postgresql://h%2/d",     "postgresql://h/d%00x",
                                 "sqlite:///a%2"};
    for (size_t i = 0; i < sizeof bad_percent / sizeof bad_percent[0]; i++) {
        err = parse_fails(bad_percent[i]);
        CHECK(strstr(err.message, "percent-encoding") != NULL);
    }

    const char *sqlite_with_authority[] = {"sqlite://host/x.db", "sqlite://u@/x.db", "sqlite://u:pw@/x.db",
                                           "sqlite://:5/x.db", "sqlite://h"};
    for (size_t i = 0; i < sizeof sqlite_with_authority / sizeof sqlite_with_authority[0]; i++) {
        err = parse_fails(sqlite_with_authority[i]);
        CHECK(strstr(err.message, "sqlite") != NULL);
    }
    err = parse_fails("postgresql://h/d?=v");
    err = parse_fails("postgresql://[::1/d");
    err = parse_fails("postgresql://[::1]x/d");
    err = parse_fails("postgresql://[]/d");

    ag_url *u;
    /* A raw NUL byte, like %00, could only truncate a component. */
    u = NULL;
    ag_error nul_err;
    CHECK_INT(ag_url_parse("postgresql://u:pw@h\0x/db", 22, &u, &nul_err), -1);
    CHECK(u == NULL && nul_err.kind == AG_ERR_ARGUMENT && strstr(nul_err.message, "NUL") != NULL);
    CHECK(strstr(nul_err.message, "%00") != NULL && strstr(nul_err.message, "pw") == NULL);

    /* Out-parameter and ArgumentError contract when err is the only feedback. */
    u = (ag_url *)1;
    CHECK_INT(ag_url_parse("x", 1, &u, NULL), -1);
    CHECK(u == NULL);
}

static void test_masking(void) {
    /* Errors about something else still never show the password. */
    check_masked_error("postgresql://user:s3cr3tpw@host:abc/db", "s3cr3tpw", "***");
    check_masked_error("postgresql://user:s3cr3tpw@host:70000/db", "s3cr3tpw", "port");
    check_masked_error("postgresql://user:s3cr3tpw@host/db%zz", "s3cr3tpw", "percent-encoding");
    check_masked_error("postgresql://user:s3cr3tpw@host/db?=x", "s3cr3tpw", "user:***@host");
    check_masked_error("postgresql://user:s3cr%zztpw@host/db", "s3cr", "percent-encoding");
    check_masked_error("sqlite://user:s3cr3tpw@/x.db", "s3cr3tpw", "***");
    check_masked_error("bogus://user:s3cr3tpw@host/db", "s3cr3tpw", "bogus");
    check_masked_error("postgresql:/user:s3cr3tpw@host/db", "s3cr3tpw", NULL);
    check_masked_error("user:s3cr3tpw@host/db", "s3cr3tpw", NULL);
    check_masked_error("postg:s3cr3tpw@host?k://=v", "s3cr3tpw", NULL);
    check_masked_error("postgresql://u:s3cr3tpw@host:x/db?k://=v", "s3cr3tpw", NULL);
    /* Unencoded '@', '/' and '?' in the password (the last two do not parse) stay hidden. */
    check_masked_error("postgresql://user:s3c@r3t@host:x/db", "r3t", "***");
    check_masked_error("postgresql://user:s3c/r3tpw@host/db:x", "r3tpw", NULL);
    check_masked_error("postgresql://user:s3c?r3tpw@host/db", "r3tpw", NULL);
    check_masked_error("postgresql://user:s3c/r3tpw@host/db", "r3tpw", "must be percent-encoded");
    check_masked_error("postgresql://user:12/s3cr3tpw@host/db%zz", "s3cr3tpw", NULL);
    /* Control bytes are shown escaped, never raw. */
    ag_error err = parse_fails("postgresql://h:\x01/d");
    CHECK(strchr(err.message, '\x01') == NULL);
    CHECK(strstr(err.message, "%01") != NULL);
    /* A very long URL is truncated, not overflowed. */
    char longurl[5000];
    memcpy(longurl, "postgresql://u:s3cr3tpw@h:x/", 28);
    memset(longurl + 28, 'd', sizeof longurl - 29);
    longurl[sizeof longurl - 1] = '\0';
    check_masked_error(longurl, "s3cr3tpw", "...");

    /* Masked rendering. */
    check_render("postgresql://user:s3cr3tpw@host:5432/db?k=v", 1, "postgresql://user:***@host:5432/db?k=v");
    check_render("postgresql://user:s3cr3tpw@host:5432/db?k=v", 0, "postgresql://user:s3cr3tpw@host:5432/db?k=v");
    check_render("postgresql://:s3cr3tpw@host/db", 1, "postgresql://:***@host/db");
    check_render("postgresql://user@host/db", 1, "postgresql://user@host/db");
    check_render("mysql+mysqldb://a%40b:p%3Aw%2Fd%25@h:3306/d", 1, "mysql+mysqldb://a%40b:***@h:3306/d");
}

static void test_render(void) {
    check_render("sqlite:///relative.db", 0, "sqlite:///relative.db");
    check_render("sqlite:////abs/path.db", 0, "sqlite:////abs/path.db");
    check_render("sqlite://", 0, "sqlite:///:memory:");
    check_render("sqlite:///", 0, "sqlite:///:memory:");
    check_render("sqlite:///:memory:", 0, "sqlite:///:memory:");
    check_render("sqlite:///x.db?busy_timeout=100", 0, "sqlite:///x.db?busy_timeout=100");
    check_render("postgresql://a%40b:p%3Aw%2Fd%25@h/d", 0, "postgresql://a%40b:p%3Aw%2Fd%25@h/d");
    check_render("postgresql://u:p@ss@h/d", 0, "postgresql://u:p%40ss@h/d");
    check_render("postgresql://[::1]:5432/db", 0, "postgresql://[::1]:5432/db");
    check_render("POSTGRESQL://H/db", 0, "postgresql://H/db");
    check_render("postgresql://h/d?flag", 0, "postgresql://h/d?flag=");
    check_render("postgresql:///db", 0, "postgresql:///db");
    check_render("postgresql://", 0, "postgresql://");

    /* A URL built by hand, without drivername. */
    ag_url hand;
    memset(&hand, 0, sizeof hand);
    hand.dialect = AG_DIALECT_MARIADB;
    hand.host = "db.local";
    hand.port = 3307;
    hand.database = "app";
    char *text = ag_url_render(&hand, 1);
    CHECK_STR(text, "mariadb://db.local:3307/app");
    free(text);
}

static void test_round_trips(void) {
    const char *urls[] = {
        "sqlite:///relative.db",
        "sqlite:////abs/path.db",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///x.db?busy_timeout=100&journal_mode=WAL",
        "sqlite:///we%20ird%3F%23%25name.db",
        "postgresql://user:pass@host:5432/db?k=v&k2=v2",
        "postgresql+psycopg2://a%40b:p%3Aw%2Fd%25@h/d",
        "postgresql://u:p@ss:w@h:5/db",
        "postgresql://[::1]:5432/db",
        "postgresql://[fe80::1%25eth0]:5432/db",
        "postgresql:///db",
        "postgresql://user@/db",
        "postgresql://:5432/db",
        "postgresql://h?sslmode=disable",
        "postgresql://h/a/b",
        "postgresql://h/d?o%26=%3D%26&k=a+b&q=%3F",
        "postgresql://%C3%A9l%C3%A8ve:%20sp%09ace@h%2Fx/caf%C3%A9",
        "mariadb://user:pass@host:3306/db",
        "mysql+mysqldb://u@h/d?charset=utf8mb4",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) check_round_trip(urls[i]);
}

static void test_copy_and_free(void) {
    ag_url_free(NULL);
    ag_url *u = parse("postgresql+psycopg2://u:p@h:1/d?a=1&b=2");
    CHECK(u != NULL);
    if (!u) return;
    ag_url *c = ag_url_copy(u);
    CHECK(c != NULL && urls_equal(u, c));
    CHECK(c && c->query != u->query && c->password != u->password);
    ag_url_free(u);
    CHECK(c && str_eq(ag_url_query_get(c, "b"), "2"));
    ag_url_free(c);
}

/* Several hosts (PostgreSQL, as libpq takes them: API.md section 11). */
static void test_host_lists(void) {
    ag_url *u = parse("postgresql://u:pw@h1:5432,h2:5433,[::1]/db?target_session_attrs=read-write");
    CHECK(u && str_eq(u->host, "h1") && u->port == 5432 && u->nmore_hosts == 2);
    if (u && u->nmore_hosts == 2) {
        CHECK(str_eq(u->more_hosts[0].host, "h2") && u->more_hosts[0].port == 5433);
        CHECK(str_eq(u->more_hosts[1].host, "::1") && u->more_hosts[1].port == 0);
        ag_url *c = ag_url_copy(u);
        CHECK(c && c->nmore_hosts == 2 && c->more_hosts != u->more_hosts && str_eq(c->more_hosts[1].host, "::1"));
        ag_url_free(c);
    }
    ag_url_free(u);
    check_render("postgresql://u:pw@h1:5432,h2:5433,[::1]/db?target_session_attrs=read-write", 1,
                 "postgresql://u:***@h1:5432,h2:5433,[::1]/db?target_session_attrs=read-write");
    check_render("postgresql://h1,h2/db?port=5432,5433", 0, "postgresql://h1,h2/db?port=5432,5433");
    check_render("postgresql://h%2C1/db", 0, "postgresql://h%2C1/db"); /* an encoded comma is a host's */
    ag_error err = parse_fails("postgresql://h1,,h2/db");
    CHECK(strstr(err.message, "empty host") != NULL);
    err = parse_fails("postgresql://h1,/db");
    CHECK(strstr(err.message, "empty host") != NULL);
    err = parse_fails("postgresql://h1:5432,h2:99999/db");
    CHECK(strstr(err.message, "port") != NULL);
    err = parse_fails("mariadb://h1,h2/db");
    CHECK(strstr(err.message, "PostgreSQL only") != NULL);
    err = parse_fails("postgresql://u:s3cret@h1,,h2/db");
    CHECK(strstr(err.message, "s3cret") == NULL);
}

int main(void) {
    test_host_lists();
    test_sqlite_forms();
    test_postgresql_forms();
    test_mariadb_forms();
    test_decoding();
    test_errors();
    test_masking();
    test_render();
    test_round_trips();
    test_copy_and_free();
    CHECK_DONE();
}
