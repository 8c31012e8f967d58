/*
 * url.c -- parsing and rendering database URLs (see url.h, API.md section 2).
 *
 * The grammar is SQLAlchemy's, read the RFC 3986 way:
 *
 *   dialect[+driver]://[user[:password]@][host|[ipv6]][:port][,host2[:port2]...][/database][?k=v&k2=v2]
 *
 * The authority (user, password, host, port) ends at the first '/' or '?'
 * after "//".  Inside it the user information ends at the LAST '@' and the
 * user ends at the FIRST ':', so a password with an unencoded ':' or '@' still
 * parses; a '/' or '?' in a password must be percent-encoded.
 *
 * Secrets: every error message shows the URL with its password replaced by
 * "***".  Because a URL that does not parse has no reliable password, the
 * masked span is chosen generously -- from the first ':' after "scheme://"
 * (or after the start, when the text does not begin that way) to the last '@'
 * anywhere after it -- and any fragment quoted in a message that touches that
 * span is shown as "***" too.  Raw NUL bytes and "%00" are refused: every
 * component ends up in a C string.
 */
#include "base/alloc.h"
#include "base/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

/* ---- small string helpers ---------------------------------------------- */

static char *dup_bytes(const char *s, size_t n) {
    char *p = ag_malloc(n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* strdup that maps NULL to NULL; *failed is set when memory runs out. */
static char *dup_or_null(const char *s, int *failed) {
    if (!s) return NULL;
    char *p = dup_bytes(s, strlen(s));
    if (!p) *failed = 1;
    return p;
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

enum { DECODE_OK = 0, DECODE_INVALID = -1, DECODE_NOMEM = -2 };

/* Percent-decodes s[0..n) into a new string.  '+' stays '+' (this is not form
 * encoding).  "%00" is refused: every component ends up in a C string. */
static int percent_decode(const char *s, size_t n, char **out) {
    *out = NULL;
    char *p = ag_malloc(n + 1);
    if (!p) return DECODE_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            p[o++] = s[i];
            continue;
        }
        if (n - i < 3) {
            free(p);
            return DECODE_INVALID;
        }
        int h = hex_value((unsigned char)s[i + 1]), l = hex_value((unsigned char)s[i + 2]);
        if (h < 0 || l < 0 || (h == 0 && l == 0)) {
            free(p);
            return DECODE_INVALID;
        }
        p[o++] = (char)(h * 16 + l);
        i += 2;
    }
    p[o] = '\0';
    *out = p;
    return DECODE_OK;
}

/* ---- error messages with the password masked ----------------------------- */

typedef struct parse_ctx {
    const char *s;
    size_t len;
    size_t mask_start, mask_end; /* s[mask_start..mask_end) is never shown; empty if equal */
    int password_hint;           /* the '@' ending the password lies past the authority */
} parse_ctx;

static int is_scheme_char(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' ||
           ch == '.';
}

/* Chooses the span to mask (see the file comment).  The span is a superset of
 * whatever the parser will call the password. */
static void choose_mask(parse_ctx *c) {
    const char *s = c->s;
    size_t len = c->len, rest = 0, scheme_len = 0;
    c->mask_start = c->mask_end = 0;
    /* The user information can only start after "scheme://"; without that
     * (a malformed URL), anywhere. */
    while (scheme_len < len && is_scheme_char((unsigned char)s[scheme_len])) scheme_len++;
    if (len - scheme_len >= 3 && memcmp(s + scheme_len, "://", 3) == 0) rest = scheme_len + 3;
    size_t at = len;
    for (size_t i = len; i > rest; i--) {
        if (s[i - 1] == '@') {
            at = i - 1;
            break;
        }
    }
    if (at == len) return;
    for (size_t i = rest; i < at; i++) {
        if (s[i] == ':') {
            c->mask_start = i + 1;
            c->mask_end = at;
            return;
        }
    }
}

/* Appends s[from..to) to the message text, escaping control bytes, with the
 * masked span written as "***".  Stops quietly when `out` is full. */
static void show_span(const parse_ctx *c, size_t from, size_t to, char *out, size_t outsz, size_t *o) {
    int masked = 0;
    for (size_t i = from; i < to && *o + 8 < outsz; i++) {
        if (c->mask_start < c->mask_end && i >= c->mask_start && i < c->mask_end) {
            if (!masked) {
                memcpy(out + *o, "***", 3);
                *o += 3;
                masked = 1;
            }
            continue;
        }
        masked = 0;
        unsigned char ch = (unsigned char)c->s[i];
        if (ch < 0x20 || ch == 0x7f) {
            *o += (size_t)snprintf(out + *o, outsz - *o, "%%%02X", ch);
        } else {
            out[(*o)++] = (char)ch;
        }
    }
    out[*o] = '\0';
}

/* The whole URL for a message, truncated with "..." when very long. */
static void show_url(const parse_ctx *c, char *out, size_t outsz) {
    size_t o = 0, limit = 400;
    out[0] = '\0';
    show_span(c, 0, c->len < limit ? c->len : limit, out, outsz, &o);
    if (c->len > limit && o + 4 < outsz) memcpy(out + o, "...", 4);
}

/* A fragment of the URL for a message: "***" if it touches the masked span. */
static void show_fragment(const parse_ctx *c, size_t off, size_t n, char *out, size_t outsz) {
    size_t o = 0, limit = 64;
    out[0] = '\0';
    if (c->mask_start < c->mask_end && off < c->mask_end && off + n > c->mask_start) {
        snprintf(out, outsz, "***");
        return;
    }
    show_span(c, off, off + (n < limit ? n : limit), out, outsz, &o);
    if (n > limit && o + 4 < outsz) memcpy(out + o, "...", 4);
}

/* Fills err: "<what> in URL '<masked url>'<suffix>".  Returns -1. */
static int url_fail(const parse_ctx *c, ag_error *err, const char *what, const char *suffix) {
    char shown[512];
    show_url(c, shown, sizeof shown);
    return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "%s in URL '%s'%s%s", what, shown, suffix ? suffix : "",
                        c->password_hint ? " (a '/' or '?' in a password must be percent-encoded: %2F, %3F)" : "");
}

/* ---- parsing -------------------------------------------------------------- */

static int dialect_from_name(const char *name, size_t n, ag_dialect *out) {
    static const struct {
        const char *name;
        ag_dialect dialect;
    } known[] = {
        {"sqlite", AG_DIALECT_SQLITE},   {"postgresql", AG_DIALECT_POSTGRESQL}, {"postgres", AG_DIALECT_POSTGRESQL},
        {"mariadb", AG_DIALECT_MARIADB}, {"mysql", AG_DIALECT_MARIADB},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strlen(known[i].name) == n && memcmp(known[i].name, name, n) == 0) {
            *out = known[i].dialect;
            return 0;
        }
    }
    return -1;
}

/* Decodes s[off..off+n) into *dst, or fails naming `component`.  An empty
 * component leaves *dst NULL when empty_is_null. */
static int decode_component(const parse_ctx *c, size_t off, size_t n, const char *component, int empty_is_null,
                            char **dst, ag_error *err) {
    *dst = NULL;
    if (n == 0 && empty_is_null) return 0;
    int rc = percent_decode(c->s + off, n, dst);
    if (rc == DECODE_NOMEM) return ag_error_nomem(err);
    if (rc == DECODE_INVALID) {
        char what[128];
        snprintf(what, sizeof what, "invalid percent-encoding in %s", component);
        return url_fail(c, err, what, NULL);
    }
    return 0;
}

static int parse_port(const parse_ctx *c, size_t off, size_t n, int *port, ag_error *err) {
    long value = 0;
    int ok = n > 0 && n <= 5;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char ch = (unsigned char)c->s[off + i];
        if (ch < '0' || ch > '9') ok = 0;
        else value = value * 10 + (ch - '0');
    }
    if (!ok || value < 1 || value > 65535) {
        char frag[80], what[160];
        show_fragment(c, off, n, frag, sizeof frag);
        snprintf(what, sizeof what, "invalid port '%s' (expected a number from 1 to 65535)", frag);
        return url_fail(c, err, what, NULL);
    }
    *port = (int)value;
    return 0;
}

/* host[:port] or [ipv6][:port] in s[off..off+n). */
static int parse_hostport(const parse_ctx *c, ag_url_host *url, size_t off, size_t n, ag_error *err) {
    const char *s = c->s;
    size_t host_off = off, host_len, rest;
    if (n > 0 && s[off] == '[') {
        const char *close = memchr(s + off, ']', n);
        if (!close) return url_fail(c, err, "unterminated '[' in host", NULL);
        host_off = off + 1;
        host_len = (size_t)(close - (s + host_off));
        rest = (size_t)(close - s) + 1;
        if (host_len == 0) return url_fail(c, err, "empty IPv6 host '[]'", NULL);
        if (rest < off + n && s[rest] != ':') return url_fail(c, err, "unexpected text after ']' in host", NULL);
    } else {
        const char *colon = memchr(s + off, ':', n);
        host_len = colon ? (size_t)(colon - (s + off)) : n;
        rest = off + host_len;
    }
    if (decode_component(c, host_off, host_len, "host", 1, &url->host, err) != 0) return -1;
    if (rest < off + n) { /* s[rest] == ':' */
        if (parse_port(c, rest + 1, off + n - rest - 1, &url->port, err) != 0) return -1;
    }
    return 0;
}

/* A host or a comma-separated list of them (PostgreSQL, as libpq takes
 * them) in s[off..off+n): the first goes to url->host and url->port, the
 * others to url->more_hosts.  A comma inside [ipv6] does not split. */
static int parse_hosts(const parse_ctx *c, ag_url *url, size_t off, size_t n, ag_error *err) {
    const char *s = c->s;
    size_t count = 1;
    int bracket = 0;
    for (size_t i = off; i < off + n; i++) {
        if (s[i] == '[') bracket = 1;
        else if (s[i] == ']') bracket = 0;
        else if (s[i] == ',' && !bracket) count++;
    }
    if (count > 1) {
        if (url->dialect != AG_DIALECT_POSTGRESQL)
            return url_fail(c, err, "a list of hosts (h1:p1,h2:p2) is for PostgreSQL only", NULL);
        if (!(url->more_hosts = ag_calloc(count - 1, sizeof *url->more_hosts))) return ag_error_nomem(err);
    }
    size_t start = off, index = 0;
    bracket = 0;
    for (size_t i = off; i <= off + n; i++) {
        if (i < off + n) {
            if (s[i] == '[') bracket = 1;
            else if (s[i] == ']') bracket = 0;
            if (s[i] != ',' || bracket) continue;
        }
        if (count > 1 && i == start) return url_fail(c, err, "an empty host in the list of hosts", NULL);
        ag_url_host one = {NULL, 0};
        int rc = parse_hostport(c, &one, start, i - start, err);
        if (index == 0) {
            url->host = one.host;
            url->port = one.port;
        } else {
            url->more_hosts[index - 1] = one;
            url->nmore_hosts = index;
        }
        if (rc != 0) return -1;
        index++;
        start = i + 1;
    }
    return 0;
}

/* Appends one key=value to url->query (both already decoded, ownership taken). */
static int add_query_param(ag_url *url, char *key, char *value, ag_error *err) {
    ag_url_param *q = ag_realloc(url->query, (url->nquery + 1) * sizeof *q);
    if (!q) {
        free(key);
        free(value);
        return ag_error_nomem(err);
    }
    url->query = q;
    q[url->nquery].key = key;
    q[url->nquery].value = value;
    url->nquery++;
    return 0;
}

/* k=v&k2=v2 in s[off..off+n).  Empty segments ("&&") are skipped; a key with
 * no '=' gets the empty value. */
static int parse_query(const parse_ctx *c, ag_url *url, size_t off, size_t n, ag_error *err) {
    const char *s = c->s;
    size_t end = off + n, i = off;
    while (i < end) {
        const char *amp = memchr(s + i, '&', end - i);
        size_t seg_end = amp ? (size_t)(amp - s) : end;
        if (seg_end > i) {
            const char *eq = memchr(s + i, '=', seg_end - i);
            size_t key_end = eq ? (size_t)(eq - s) : seg_end;
            if (key_end == i) return url_fail(c, err, "empty query parameter name", NULL);
            char *key, *value;
            if (decode_component(c, i, key_end - i, "query parameter name", 0, &key, err) != 0) return -1;
            size_t value_off = eq ? key_end + 1 : seg_end;
            if (decode_component(c, value_off, seg_end - value_off, "query parameter value", 0, &value, err) != 0) {
                free(key);
                return -1;
            }
            if (add_query_param(url, key, value, err) != 0) return -1;
        }
        i = seg_end + 1;
    }
    return 0;
}

/* The scheme, "dialect[+driver]", in s[0..n). */
static int parse_scheme(const parse_ctx *c, ag_url *url, size_t n, ag_error *err) {
    url->drivername = dup_bytes(c->s, n);
    if (!url->drivername) return ag_error_nomem(err);
    for (char *p = url->drivername; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    }
    const char *plus = strchr(url->drivername, '+');
    size_t dialect_len = plus ? (size_t)(plus - url->drivername) : n;
    if (dialect_from_name(url->drivername, dialect_len, &url->dialect) != 0) {
        char frag[80], what[160];
        show_fragment(c, 0, dialect_len, frag, sizeof frag);
        snprintf(what, sizeof what, "unknown database dialect '%s'", frag);
        return url_fail(c, err, what, "; expected sqlite, postgresql or mariadb");
    }
    if (plus) {
        if (plus[1] == '\0') return url_fail(c, err, "empty driver name after '+'", NULL);
        url->driver = dup_bytes(plus + 1, strlen(plus + 1));
        if (!url->driver) return ag_error_nomem(err);
    }
    return 0;
}

/* Everything after "scheme://", starting at s[off]. */
static int parse_after_scheme(parse_ctx *c, ag_url *url, size_t off, ag_error *err) {
    const char *s = c->s;
    size_t len = c->len;

    /* The authority runs to the first '/' or '?'. */
    size_t auth_end = off;
    while (auth_end < len && s[auth_end] != '/' && s[auth_end] != '?') auth_end++;
    size_t path_end = auth_end;
    while (path_end < len && s[path_end] != '?') path_end++;
    /* "user:p/w@host": the password was cut short by an unencoded '/' or '?'. */
    c->password_hint = c->mask_start > off && c->mask_start <= auth_end && c->mask_end > auth_end;

    if (auth_end > off) {
        if (url->dialect == AG_DIALECT_SQLITE) {
            return url_fail(c, err,
                            "a sqlite URL takes no user, password, host or port "
                            "(write sqlite:///relative.db or sqlite:////absolute.db)",
                            NULL);
        }
        size_t host_off = off;
        for (size_t i = auth_end; i > off; i--) {
            if (s[i - 1] == '@') {
                host_off = i;
                break;
            }
        }
        if (host_off > off) { /* user information in s[off..host_off - 1) */
            size_t info_end = host_off - 1;
            const char *colon = memchr(s + off, ':', info_end - off);
            size_t user_end = colon ? (size_t)(colon - s) : info_end;
            if (decode_component(c, off, user_end - off, "user name", 1, &url->username, err) != 0) return -1;
            if (colon &&
                decode_component(c, user_end + 1, info_end - user_end - 1, "password", 1, &url->password, err) != 0)
                return -1;
        }
        if (parse_hosts(c, url, host_off, auth_end - host_off, err) != 0) return -1;
    }

    /* The database: everything between the '/' that ends the authority and '?'. */
    if (auth_end < path_end) { /* s[auth_end] == '/' */
        size_t db_off = auth_end + 1;
        if (decode_component(c, db_off, path_end - db_off, "database", 1, &url->database, err) != 0) return -1;
    }
    if (url->dialect == AG_DIALECT_SQLITE && !url->database) {
        url->database = dup_bytes(":memory:", 8);
        if (!url->database) return ag_error_nomem(err);
    }

    if (path_end < len) { /* s[path_end] == '?' */
        if (parse_query(c, url, path_end + 1, len - path_end - 1, err) != 0) return -1;
    }
    return 0;
}

int ag_url_parse(const char *s, size_t len, ag_url **out, ag_error *err) {
    *out = NULL;
    parse_ctx c = {s, len, 0, 0, 0};
    choose_mask(&c);
    if (len == 0) return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "empty database URL");
    /* Every component ends up in a C string, so a NUL byte could only truncate it silently. */
    if (memchr(s, '\0', len)) return url_fail(&c, err, "NUL byte", NULL);

    size_t scheme_len = 0;
    while (scheme_len < len && is_scheme_char((unsigned char)s[scheme_len])) scheme_len++;
    if (scheme_len == 0 || scheme_len == len || s[scheme_len] != ':') {
        return url_fail(&c, err, "not a database URL (expected dialect://...)", NULL);
    }

    ag_url *url = ag_calloc(1, sizeof *url);
    if (!url) return ag_error_nomem(err);
    if (parse_scheme(&c, url, scheme_len, err) != 0) goto fail;
    if (len - scheme_len < 3 || s[scheme_len + 1] != '/' || s[scheme_len + 2] != '/') {
        char what[160];
        snprintf(what, sizeof what, "expected '//' after '%s:'", url->drivername);
        url_fail(&c, err, what, NULL);
        goto fail;
    }
    if (parse_after_scheme(&c, url, scheme_len + 3, err) != 0) goto fail;
    *out = url;
    return 0;

fail:
    ag_url_free(url);
    return -1;
}

/* ---- the rest of the API --------------------------------------------------- */

void ag_url_free(ag_url *url) {
    if (!url) return;
    free(url->drivername);
    free(url->driver);
    free(url->username);
    free(url->password);
    free(url->host);
    free(url->database);
    for (size_t i = 0; i < url->nquery; i++) {
        free(url->query[i].key);
        free(url->query[i].value);
    }
    free(url->query);
    for (size_t i = 0; i < url->nmore_hosts; i++) free(url->more_hosts[i].host);
    free(url->more_hosts);
    free(url);
}

ag_url *ag_url_copy(const ag_url *url) {
    ag_url *copy = ag_calloc(1, sizeof *copy);
    if (!copy) return NULL;
    int failed = 0;
    copy->dialect = url->dialect;
    copy->port = url->port;
    copy->drivername = dup_or_null(url->drivername, &failed);
    copy->driver = dup_or_null(url->driver, &failed);
    copy->username = dup_or_null(url->username, &failed);
    copy->password = dup_or_null(url->password, &failed);
    copy->host = dup_or_null(url->host, &failed);
    copy->database = dup_or_null(url->database, &failed);
    if (!failed && url->nquery) {
        copy->query = ag_calloc(url->nquery, sizeof *copy->query);
        if (!copy->query) failed = 1;
        for (size_t i = 0; !failed && i < url->nquery; i++) {
            copy->nquery = i + 1;
            copy->query[i].key = dup_or_null(url->query[i].key, &failed);
            copy->query[i].value = dup_or_null(url->query[i].value, &failed);
        }
    }
    if (!failed && url->nmore_hosts) {
        copy->more_hosts = ag_calloc(url->nmore_hosts, sizeof *copy->more_hosts);
        if (!copy->more_hosts) failed = 1;
        for (size_t i = 0; !failed && i < url->nmore_hosts; i++) {
            copy->nmore_hosts = i + 1;
            copy->more_hosts[i].port = url->more_hosts[i].port;
            copy->more_hosts[i].host = dup_or_null(url->more_hosts[i].host, &failed);
        }
    }
    if (failed) {
        ag_url_free(copy);
        return NULL;
    }
    return copy;
}

const char *ag_url_query_get(const ag_url *url, const char *key) {
    /* A key given twice: the last one wins, as in a libpq connection string. */
    const char *value = NULL;
    for (size_t i = 0; i < url->nquery; i++) {
        if (strcmp(url->query[i].key, key) == 0) value = url->query[i].value;
    }
    return value;
}

int ag_url_is_sqlite_memory(const ag_url *url) {
    return url->dialect == AG_DIALECT_SQLITE &&
           (!url->database || !url->database[0] || strcmp(url->database, ":memory:") == 0);
}

/* ---- rendering ------------------------------------------------------------- */

/* Characters written as they are in each component; everything else is %XX.
 * Each set leaves out the delimiters the parser splits that component at. */
#define UNRESERVED "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
static const char USERINFO_SAFE[] = UNRESERVED "!$&'()*+,;=";
static const char HOST_SAFE[] = UNRESERVED "!$&'()*+;="; /* ',' separates hosts */
static const char IPV6_SAFE[] = UNRESERVED ":";
static const char DATABASE_SAFE[] = UNRESERVED "!$&'()*+,;=:@/";
static const char QUERY_SAFE[] = UNRESERVED "!$'()*+,;:@/?";

static int append_encoded(ag_buf *b, const char *s, const char *safe) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (strchr(safe, *p)) {
            if (ag_buf_append_char(b, (char)*p) != 0) return -1;
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            if (ag_buf_append(b, esc, 3) != 0) return -1;
        }
    }
    return 0;
}

/* The scheme for a URL built without a drivername. */
static const char *dialect_scheme(ag_dialect dialect) {
    switch (dialect) {
    case AG_DIALECT_POSTGRESQL: return "postgresql";
    case AG_DIALECT_MARIADB: return "mariadb";
    default: return "sqlite";
    }
}

static int render_host(ag_buf *b, const ag_url_host *h) {
    if (h->host) {
        if (strchr(h->host, ':')) {
            if (ag_buf_append_char(b, '[') != 0 || append_encoded(b, h->host, IPV6_SAFE) != 0 ||
                ag_buf_append_char(b, ']') != 0)
                return -1;
        } else if (append_encoded(b, h->host, HOST_SAFE) != 0) {
            return -1;
        }
    }
    if (h->port > 0 && ag_buf_printf(b, ":%d", h->port) != 0) return -1;
    return 0;
}

static int render_into(ag_buf *b, const ag_url *url, int mask_password) {
    const char *scheme = url->drivername ? url->drivername : dialect_scheme(url->dialect);
    if (ag_buf_append_str(b, scheme) != 0 || ag_buf_append_str(b, "://") != 0) return -1;
    if (url->username || url->password) {
        if (url->username && append_encoded(b, url->username, USERINFO_SAFE) != 0) return -1;
        if (url->password) {
            if (ag_buf_append_char(b, ':') != 0) return -1;
            if (mask_password ? ag_buf_append_str(b, "***") != 0 : append_encoded(b, url->password, USERINFO_SAFE) != 0)
                return -1;
        }
        if (ag_buf_append_char(b, '@') != 0) return -1;
    }
    ag_url_host first = {url->host, url->port};
    for (size_t i = 0; i <= url->nmore_hosts; i++) {
        const ag_url_host *h = i == 0 ? &first : &url->more_hosts[i - 1];
        if (i > 0 && ag_buf_append_char(b, ',') != 0) return -1;
        if (render_host(b, h) != 0) return -1;
    }
    if (url->database) {
        if (ag_buf_append_char(b, '/') != 0 || append_encoded(b, url->database, DATABASE_SAFE) != 0) return -1;
    }
    for (size_t i = 0; i < url->nquery; i++) {
        if (ag_buf_append_char(b, i == 0 ? '?' : '&') != 0 || append_encoded(b, url->query[i].key, QUERY_SAFE) != 0 ||
            ag_buf_append_char(b, '=') != 0 || append_encoded(b, url->query[i].value, QUERY_SAFE) != 0)
            return -1;
    }
    return 0;
}

char *ag_url_render(const ag_url *url, int mask_password) {
    ag_buf b = AG_BUF_INIT;
    if (render_into(&b, url, mask_password) != 0) {
        ag_buf_free(&b);
        return NULL;
    }
    return ag_buf_take(&b);
}
