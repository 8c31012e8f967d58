/*
 * connection.c -- checkouts, the per-connection statement cache and
 * transactions (see engine.h).
 *
 * The statement cache lives on the slot (the long-lived connection), so a
 * statement prepared once is reused by every later checkout of that slot.
 * It is a hash table over an LRU list; a statement in use (stmt->conn set)
 * is never evicted, and a statement wanted while its cached copy is in use
 * (a nested query with the same SQL) is prepared again, uncached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "engine/engine_internal.h"

typedef struct stmt_cache {
    ag_stmt **buckets;
    size_t nbuckets;   /* power of two */
    ag_stmt *lru_head; /* most recently used */
    ag_stmt *lru_tail;
    int count;
    unsigned generation; /* the engine's schema generation these statements were prepared in */
} stmt_cache;

/* The cache key's hash: the text's, with the raw flag mixed in (the same
 * text prepared raw and rewritten are two statements). */
static uint64_t key_hash(uint64_t text_hash, int raw) { return text_hash ^ (uint64_t)raw; }

static void stmt_free(ag_stmt *stmt) {
    if (stmt->dstmt) stmt->driver->finalize(stmt->dstmt);
    ag_rewritten_sql_free(&stmt->params);
    free(stmt->key);
    free(stmt);
}

static void lru_unlink(stmt_cache *c, ag_stmt *s) {
    if (s->lru_prev) s->lru_prev->lru_next = s->lru_next;
    else c->lru_head = s->lru_next;
    if (s->lru_next) s->lru_next->lru_prev = s->lru_prev;
    else c->lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void lru_push_front(stmt_cache *c, ag_stmt *s) {
    s->lru_prev = NULL;
    s->lru_next = c->lru_head;
    if (c->lru_head) c->lru_head->lru_prev = s;
    c->lru_head = s;
    if (!c->lru_tail) c->lru_tail = s;
}

static void cache_remove(stmt_cache *c, ag_stmt *s) {
    ag_stmt **p = &c->buckets[s->hash & (c->nbuckets - 1)];
    while (*p && *p != s) p = &(*p)->hash_next;
    if (*p) *p = s->hash_next;
    lru_unlink(c, s);
    c->count--;
    s->cached = 0;
}

void ag_engine_slot_closed(ag_slot *slot, void *engine) {
    stmt_cache *c = slot->owner_data;
    if (!c) return;
    ag_stmt *s = c->lru_head;
    while (s) {
        ag_stmt *next = s->lru_next;
        stmt_free(s); /* statements in use were released before the slot came back */
        s = next;
    }
    free(c->buckets);
    free(c);
    slot->owner_data = NULL;
}

static stmt_cache *cache_for(ag_conn *conn) {
    if (conn->engine->statement_cache_size <= 0) return NULL;
    stmt_cache *c = conn->slot->owner_data;
    if (c) return c;
    c = ag_calloc(1, sizeof *c);
    if (!c) return NULL;
    size_t n = 16;
    while (n < (size_t)conn->engine->statement_cache_size * 2) n *= 2;
    c->buckets = ag_calloc(n, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->nbuckets = n;
    c->generation = atomic_load(&conn->engine->schema_generation);
    conn->slot->owner_data = c;
    return c;
}

/* After DDL (on any connection of the engine) the cached statements may
 * describe tables that no longer exist as they were: drop the idle ones. */
static void cache_check_generation(ag_conn *conn, stmt_cache *c) {
    unsigned now = atomic_load(&conn->engine->schema_generation);
    if (c->generation == now) return;
    ag_stmt *s = c->lru_head;
    while (s) {
        ag_stmt *next = s->lru_next;
        if (!s->conn) {
            cache_remove(c, s);
            stmt_free(s);
        }
        s = next;
    }
    c->generation = now;
}

/* Does sql start with a keyword that changes the schema? */
static int is_ddl_sql(const char *sql, size_t len) {
    size_t i = 0;
    while (i < len && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\r' || sql[i] == '(')) i++;
    static const char *const words[] = {"CREATE", "DROP", "ALTER", "TRUNCATE", "RENAME", "COMMENT"};
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        size_t n = strlen(words[w]);
        if (len - i >= n && strncasecmp(sql + i, words[w], n) == 0 &&
            (len - i == n || !((sql[i + n] >= 'a' && sql[i + n] <= 'z') || (sql[i + n] >= 'A' && sql[i + n] <= 'Z'))))
            return 1;
    }
    return 0;
}

/* Evicts idle statements from the cold end until the cache fits.  Never the
 * newest entry (the head: the statement being handed out) nor one in use by
 * an open result: when every entry is in use the cache stays over its size,
 * and shrinks back as results are released. */
static void cache_trim(stmt_cache *c, int capacity) {
    ag_stmt *s = c->lru_tail;
    while (c->count > capacity && s && s != c->lru_head) {
        ag_stmt *prev = s->lru_prev;
        if (!s->conn) {
            cache_remove(c, s);
            stmt_free(s);
        }
        s = prev;
    }
}

static void open_attach(ag_conn *conn, ag_stmt *s) {
    s->conn = conn;
    s->open_prev = NULL;
    s->open_next = conn->open;
    if (conn->open) conn->open->open_prev = s;
    conn->open = s;
}

static void open_detach(ag_stmt *s) {
    ag_conn *conn = s->conn;
    if (s->open_prev) s->open_prev->open_next = s->open_next;
    else conn->open = s->open_next;
    if (s->open_next) s->open_next->open_prev = s->open_prev;
    s->open_prev = s->open_next = NULL;
    s->conn = NULL;
}

ag_stmt *ag_conn_prepare(ag_conn *conn, const char *sql, size_t len, int rewrite, ag_error *err) {
    return ag_conn_prepare_hashed(conn, sql, len, ag_hash_sql(sql, len), rewrite, err);
}

ag_stmt *ag_conn_prepare_hashed(ag_conn *conn, const char *sql, size_t len, uint64_t hash, int rewrite, ag_error *err) {
    int raw = !rewrite;
    uint64_t h = key_hash(hash, raw);
    stmt_cache *c = cache_for(conn);
    int in_cache = 0;
    if (c) cache_check_generation(conn, c);
    if (c) {
        for (ag_stmt *s = c->buckets[h & (c->nbuckets - 1)]; s; s = s->hash_next) {
            if (s->hash == h && s->raw == raw && s->key_len == len && memcmp(s->key, sql, len) == 0) {
                if (!s->conn) {
                    lru_unlink(c, s);
                    lru_push_front(c, s);
                    open_attach(conn, s);
                    return s;
                }
                in_cache = 1; /* in use by an open result: prepare a private copy */
                break;
            }
        }
    }
    /* Checked here, after the cache (a cached text passed this check), so
     * that every dialect says the same: SQLite would stop reading at the
     * zero, libpq cannot send it, MariaDB would run it. */
    if (memchr(sql, '\0', len)) {
        ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                     "SQL text contains a zero byte (a value with zero bytes goes as a parameter)");
        return NULL;
    }
    ag_stmt *stmt = ag_calloc(1, sizeof *stmt);
    if (!stmt || !(stmt->key = ag_malloc(len + 1))) {
        free(stmt);
        ag_error_nomem(err);
        return NULL;
    }
    memcpy(stmt->key, sql, len);
    stmt->key[len] = '\0';
    stmt->key_len = len;
    stmt->hash = h;
    stmt->raw = raw;
    stmt->ddl = is_ddl_sql(sql, len);
    stmt->slot = conn->slot;
    stmt->driver = conn->engine->driver;
    const char *driver_sql = stmt->key;
    size_t driver_len = len;
    if (rewrite) {
        if (ag_rewrite_placeholders(sql, len, conn->engine->dialect, &stmt->params, err) != 0) {
            stmt_free(stmt);
            return NULL;
        }
        driver_sql = stmt->params.sql;
        driver_len = stmt->params.sql_len;
    }
    if (stmt->driver->prepare(conn->slot->dconn, driver_sql, driver_len, &stmt->dstmt, err) != 0) {
        stmt->dstmt = NULL;
        stmt_free(stmt);
        ag_conn_fail(conn, err);
        return NULL;
    }
    open_attach(conn, stmt); /* in use from here: the trim below cannot take it */
    if (c && !in_cache) {
        ag_stmt **bucket = &c->buckets[h & (c->nbuckets - 1)];
        stmt->hash_next = *bucket;
        *bucket = stmt;
        lru_push_front(c, stmt);
        c->count++;
        stmt->cached = 1;
        cache_trim(c, conn->engine->statement_cache_size);
    }
    return stmt;
}

void ag_stmt_release(ag_stmt *stmt) {
    if (!stmt) return;
    if (stmt->executing) {
        stmt->driver->reset(stmt->dstmt);
        stmt->executing = 0;
    }
    ag_conn *conn = stmt->conn;
    if (conn) open_detach(stmt);
    if (!stmt->cached) {
        stmt_free(stmt);
        return;
    }
    if (conn) {
        stmt_cache *c = conn->slot->owner_data;
        if (c) cache_trim(c, conn->engine->statement_cache_size);
    }
}

int ag_stmt_execute(ag_stmt *stmt, const ag_value *params, int nparams, ag_error *err) {
    ag_conn_set_busy(stmt->conn, 1);
    int rc = stmt->driver->execute(stmt->dstmt, params, nparams, err);
    ag_conn_set_busy(stmt->conn, 0);
    if (rc != 0) {
        stmt->executing = 0;
        return ag_conn_fail(stmt->conn, err);
    }
    stmt->executing = 1;
    if (stmt->ddl) atomic_fetch_add(&stmt->conn->engine->schema_generation, 1);
    return 0;
}

int ag_stmt_fetch(ag_stmt *stmt, ag_error *err) {
    ag_conn_set_busy(stmt->conn, 1);
    int rc = stmt->driver->fetch(stmt->dstmt, err);
    ag_conn_set_busy(stmt->conn, 0);
    if (rc == 1) return 1;
    stmt->executing = 0;
    if (rc < 0) return ag_conn_fail(stmt->conn, err);
    return 0;
}

int ag_stmt_execute_many(ag_stmt *stmt, int nparams, ag_row_source next, void *ctx, int64_t *rows_affected,
                         ag_error *err) {
    ag_conn *conn = stmt->conn;
    /* All or nothing: in a transaction of its own when none is open, under a
     * savepoint of its own inside the caller's (so that a failing row leaves
     * the caller's transaction as it was, and usable, on every database). */
    int in_tx = ag_conn_in_transaction(conn);
    int own_tx = !in_tx && !conn->engine->autocommit;
    int own_savepoint = in_tx && !conn->engine->autocommit;
    ag_tx tx = {0, 0};
    if (own_tx && ag_conn_begin(conn, 0, &tx, err) != 0) return -1;
    if (own_savepoint && ag_conn_exec_simple(conn, "SAVEPOINT argent_many", err) != 0) return -1;
    *rows_affected = 0;
    ag_conn_set_busy(conn, 1);
    int rc = stmt->driver->execute_many(stmt->dstmt, nparams, next, ctx, rows_affected, err);
    ag_conn_set_busy(conn, 0);
    if (rc != 0) {
        ag_conn_fail(conn, err);
        ag_error ignored;
        if (own_tx) ag_conn_rollback(conn, tx, &ignored);
        if (own_savepoint && !conn->invalid)
            ag_conn_exec_simple(conn, "ROLLBACK TO SAVEPOINT argent_many; RELEASE SAVEPOINT argent_many", &ignored);
        *rows_affected = 0;
        return -1;
    }
    if (own_tx) return ag_conn_commit(conn, tx, err);
    if (own_savepoint) return ag_conn_exec_simple(conn, "RELEASE SAVEPOINT argent_many", err);
    return 0;
}

void ag_conn_close(ag_conn *conn) {
    if (!conn) return;
    while (conn->open) ag_stmt_release(conn->open);
    ag_engine_untrack_checkout(conn); /* waits for a cancel that is using the slot */
    ag_pool_checkin(conn->pool, conn->slot, conn->invalid);
    ag_engine_release(conn->engine);
    free(conn);
}

ag_engine *ag_conn_engine(const ag_conn *conn) { return conn->engine; }

const ag_driver *ag_conn_driver(const ag_conn *conn) { return conn->engine->driver; }

void ag_conn_invalidate(ag_conn *conn) { conn->invalid = 1; }

int ag_conn_fail(ag_conn *conn, const ag_error *err) {
    if (conn && err && err->disconnect) conn->invalid = 1;
    return -1;
}

int ag_conn_exec_simple(ag_conn *conn, const char *sql, ag_error *err) {
    ag_conn_set_busy(conn, 1);
    int rc = conn->engine->driver->exec_simple(conn->slot->dconn, sql, err);
    ag_conn_set_busy(conn, 0);
    if (rc != 0) return ag_conn_fail(conn, err);
    return 0;
}

/* ---- transactions (the stack lives on the slot: it is the database connection's state) */

int ag_conn_in_transaction(const ag_conn *conn) {
    return conn->slot->tx_depth > 0 || conn->engine->driver->transaction_status(conn->slot->dconn) != AG_TX_IDLE;
}

int ag_conn_tx_active(const ag_conn *conn, ag_tx tx) {
    const ag_slot *s = conn->slot;
    return tx.depth >= 1 && tx.depth <= s->tx_depth && s->tx_ids[tx.depth] == tx.id;
}

static int savepoint_sql(char *buf, size_t size, const char *verb, int depth) {
    return snprintf(buf, size, "%s argent_sp_%d", verb, depth);
}

int ag_conn_begin(ag_conn *conn, int nested, ag_tx *out, ag_error *err) {
    ag_slot *s = conn->slot;
    if (!nested) {
        if (ag_conn_in_transaction(conn))
            return ag_error_set(err, AG_ERR_INVALID_REQUEST, NULL,
                                "a transaction is already begun on this connection; use begin_nested() "
                                "for a savepoint inside it");
        if (!conn->engine->autocommit &&
            ag_conn_exec_simple(conn, conn->engine->begin_sql ? conn->engine->begin_sql : "BEGIN", err) != 0)
            return -1;
    } else {
        if (s->tx_depth == 0)
            return ag_error_set(err, AG_ERR_INVALID_REQUEST, NULL,
                                "begin_nested() needs an open transaction: call begin() first");
        if (s->tx_depth >= AG_MAX_TX_DEPTH)
            return ag_error_set(err, AG_ERR_INVALID_REQUEST, NULL, "savepoints nest at most %d deep",
                                AG_MAX_TX_DEPTH - 1);
        char sql[64];
        savepoint_sql(sql, sizeof sql, "SAVEPOINT", s->tx_depth + 1);
        if (ag_conn_exec_simple(conn, sql, err) != 0) return -1;
    }
    s->tx_depth++;
    s->tx_ids[s->tx_depth] = ++s->next_tx_id;
    out->depth = s->tx_depth;
    out->id = s->tx_ids[s->tx_depth];
    return 0;
}

int ag_conn_commit(ag_conn *conn, ag_tx tx, ag_error *err) {
    ag_slot *s = conn->slot;
    if (!ag_conn_tx_active(conn, tx))
        return ag_error_set(err, AG_ERR_INVALID_REQUEST, NULL,
                            "this transaction is no longer active (already committed or rolled back)");
    if (tx.depth == 1) {
        s->tx_depth = 0;
        if (conn->engine->autocommit) return 0;
        if (ag_conn_exec_simple(conn, "COMMIT", err) != 0) {
            /* A COMMIT that failed may leave the transaction open (SQLite busy):
             * roll it back so that nothing half-done stays behind. */
            ag_error ignored;
            if (conn->engine->driver->transaction_status(s->dconn) != AG_TX_IDLE)
                ag_conn_exec_simple(conn, "ROLLBACK", &ignored);
            return -1;
        }
        return 0;
    }
    char sql[64];
    savepoint_sql(sql, sizeof sql, "RELEASE SAVEPOINT", tx.depth);
    if (ag_conn_exec_simple(conn, sql, err) != 0) return -1;
    s->tx_depth = tx.depth - 1;
    return 0;
}

int ag_conn_rollback(ag_conn *conn, ag_tx tx, ag_error *err) {
    ag_slot *s = conn->slot;
    if (!ag_conn_tx_active(conn, tx)) return 0;
    if (tx.depth == 1) {
        s->tx_depth = 0;
        if (conn->engine->autocommit) return 0;
        return ag_conn_exec_simple(conn, "ROLLBACK", err);
    }
    char sql[128];
    int n = savepoint_sql(sql, sizeof sql, "ROLLBACK TO SAVEPOINT", tx.depth);
    snprintf(sql + n, sizeof sql - (size_t)n, "; RELEASE SAVEPOINT argent_sp_%d", tx.depth);
    s->tx_depth = tx.depth - 1;
    return ag_conn_exec_simple(conn, sql, err);
}
