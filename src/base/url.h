/*
 * url.h -- database URLs as SQLAlchemy writes them (API.md section 2).
 *
 *   sqlite:///relative.db  sqlite:////abs/path.db  sqlite://  sqlite:///:memory:
 *   postgresql://user:pass@host:5432/db?k=v   (postgres:// too)
 *   mariadb://user:pass@host:3306/db          (mysql:// too)
 *   dialect+driver://...  (postgresql+psycopg2, mariadb+pymysql): the +driver is kept, not used
 *
 * User, password, host, database and query keys/values are percent-decoded.
 * For SQLite, `database` is the file path (":memory:" for every in-memory form);
 * user, password, host and port must be absent.  An IPv6 host is written
 * in brackets ("[::1]") and stored without them.
 *
 * PostgreSQL takes several hosts, as libpq does (API.md section 11):
 *   postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write
 * The first is `host`/`port`; the others are `more_hosts`.
 */
#ifndef ARGENT_BASE_URL_H
#define ARGENT_BASE_URL_H

#include <stddef.h>

#include "base/error.h"
#include "base/value.h"

typedef struct ag_url_param {
    char *key;
    char *value;
} ag_url_param;

typedef struct ag_url_host {
    char *host; /* NULL when absent (libpq's default) */
    int port;   /* 0 when absent */
} ag_url_host;

typedef struct ag_url {
    char *drivername; /* the scheme as written, e.g. "postgresql+psycopg2" */
    ag_dialect dialect;
    char *driver;   /* the part after '+', or NULL */
    char *username; /* NULL when absent */
    char *password; /* NULL when absent */
    char *host;     /* NULL when absent */
    int port;       /* 0 when absent; 1..65535 otherwise */
    char *database; /* NULL when absent; ":memory:" for in-memory SQLite */
    ag_url_param *query;
    size_t nquery;
    ag_url_host *more_hosts; /* the hosts after the first of a list (PostgreSQL); NULL when one */
    size_t nmore_hosts;
} ag_url;

/* Parses s (len bytes, need not be NUL-terminated).  On success returns 0 and
 * *out (free with ag_url_free).  On failure returns -1, *out is NULL and err
 * is an AG_ERR_ARGUMENT whose message names the problem and never contains the
 * password (it is masked as ***). */
int ag_url_parse(const char *s, size_t len, ag_url **out, ag_error *err);

/* Deep copy; NULL when memory runs out. */
ag_url *ag_url_copy(const ag_url *url);

void ag_url_free(ag_url *url);

/* The URL as text, with the password written as *** when mask_password is
 * non-zero (percent-encoding what needs it).  Returns a malloc'd string, or
 * NULL when memory runs out. */
char *ag_url_render(const ag_url *url, int mask_password);

/* The value of query key `key`, or NULL. */
const char *ag_url_query_get(const ag_url *url, const char *key);

/* Is this the in-memory SQLite database? */
int ag_url_is_sqlite_memory(const ag_url *url);

#endif
