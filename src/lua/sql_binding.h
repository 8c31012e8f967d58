/*
 * sql_binding.h -- what the SQL expression bindings (expression.c,
 * statement.c, schema.c, json.c) share with each other and with the
 * connection and result bindings.
 *
 * Every tree node Lua sees is one userdata of type argent.ClauseElement
 * holding one reference to an ag_node (src/sql/node.h); its user value is a
 * Lua table of extra information (a column's name, key, type object, table
 * and options) or nil.  Nodes are created straight into a userdata that
 * already exists, so that a raise never leaks one; a helper that turns a
 * Lua value into a node pushes that node's userdata and returns the node
 * borrowed from it.
 */
#ifndef ARGENT_LUA_SQL_BINDING_H
#define ARGENT_LUA_SQL_BINDING_H

#include "base/buf.h"
#include "lua/binding.h"
#include "sql/compile.h"
#include "sql/node.h"

#define AG_NODE_TYPE "argent.ClauseElement"

typedef struct ag_lua_node {
    ag_node *node; /* NULL only while being made */
} ag_lua_node;

/* The metatables of the types that every execution checks (nodes,
 * connections, results) are also kept in the registry under the address of
 * these keys, so that a type test is a lightuserdata lookup and a pointer
 * compare rather than luaL_testudata's lookup by name (a string hash and a
 * strcmp per call, three or four times per execution). */
extern const char ag_lua_node_mt_key, ag_lua_conn_mt_key, ag_lua_result_mt_key;

/* The userdata at idx when its metatable is the one registered at key, else NULL. */
static inline void *ag_lua_testudata_key(lua_State *L, int idx, const void *key) {
    void *p = lua_touserdata(L, idx);
    if (!p || !lua_getmetatable(L, idx)) return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? p : NULL;
}

/* Sets the metatable registered at key on the value at the top. */
static inline void ag_lua_setmetatable_key(lua_State *L, const void *key) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    lua_setmetatable(L, -2);
}

/* ---- expression.c */
/* ag_lua_push_node(L, n): pushes a new userdata for the node that the
 * expression n makes (ag_node_copy(...), ag_node_bind(...)), taking over
 * its reference; n NULL (out of memory) raises a memory error.  A macro, so
 * that the userdata exists before n is evaluated (the comma operator orders
 * them): when making the userdata runs out of memory, no node is made yet
 * and none can leak.  Write the node's making inside the call, never in a
 * variable made before it. */
void ag_lua_push_node_shell(lua_State *L);
ag_node *ag_lua_fill_node(lua_State *L, ag_node *n);
#define ag_lua_push_node(L, n) (ag_lua_push_node_shell(L), ag_lua_fill_node((L), (n)))
/* Pushes a userdata and a fresh node of tag with nkids (all NULL) in it. */
ag_node *ag_lua_push_new_node(lua_State *L, ag_node_tag tag, int nkids);
/* The node of the ClauseElement at idx, or NULL. */
ag_node *ag_lua_test_node(lua_State *L, int idx);
/* The node at idx, or an ArgumentError "<what> must be a SQL expression, got <type>". */
ag_node *ag_lua_check_node(lua_State *L, int idx, const char *what);
/* Turns the Lua value at idx into an expression node and pushes its
 * userdata: a ClauseElement as is, argent.text() as TEXT, nil/argent.null as
 * NULL, a table with a `_node` field (a Table, a model) as that node, other
 * values as a BIND typed like hint (the column it is compared with or
 * assigned to; JSON values are encoded, Enum values checked).  hint_idx is
 * the stack index of hint's userdata, or 0.  Raises ArgumentError. */
ag_node *ag_lua_to_expr(lua_State *L, int idx, int hint_idx, const char *what);
void ag_lua_open_expression(lua_State *L, int module_idx);

/* ---- statement.c */
void ag_lua_open_statement(lua_State *L, int module_idx);
/* Pushes the function that init.lua registered with core.sql.set_execute_hook
 * and returns 1, or pushes nothing and returns 0 (connection.c). */
int ag_lua_push_execute_hook(lua_State *L);

/* ---- convert.c: typed values (the scalars: binding.h) */
/* Reads an argent type object (types.lua) at idx into *out; 0, or -1 if it
 * is not a type object. */
int ag_lua_to_sqltype(lua_State *L, int idx, ag_sqltype *out);
/* The name of an argent type ("Integer", "DateTime"), or NULL. */
const char *ag_lua_type_name(ag_type_kind kind);
/* The i-th name of argent's types (from 0) and its kind (kind may be NULL),
 * or NULL past the last: the one list of them (constants.c exports it as
 * argent.core.type_names, src/orm/instance.c as core.orm.kinds). */
const char *ag_lua_type_name_at(int i, ag_type_kind *kind);
/* Converts the Lua value at idx into a value of type t for binding (JSON is
 * encoded into a string pushed on the stack, which must stay there while
 * out is in use).  Never raises except for memory; -1 with err. */
int ag_lua_convert_in(lua_State *L, int idx, const ag_sqltype *t, ag_value *out, ag_error *err);
/* Writes s in API.md's date/time form into out (len bytes at most): a "T"
 * separator becomes a space, a fraction loses its trailing zeros (and the
 * point when nothing is left).  Returns the new length. */
size_t ag_lua_iso_normalize(const char *s, size_t len, char *out);
/* Pushes a column's value converted by its argent type t (NULL: as it is). */
void ag_lua_push_typed(lua_State *L, const ag_sqltype *t, const ag_value *v);
/* Pushes a BIND node's own value (argent.null for NULL), nil when it has none. */
void ag_lua_push_bind_value(lua_State *L, const ag_node *b);

/* ---- execute.c: the one execution path (prepare -> bind -> execute -> echo) */
/* Grows the connection's parameter buffer to n values.  0, or -1 with err. */
int ag_lua_conn_scratch(ag_lua_conn *c, int n, ag_error *err);
/* One execution.  Stack indexes are absolute. */
typedef struct ag_lua_exec {
    int conn_idx;            /* the connection's userdata */
    int result_idx;          /* the result object that will own the statement */
    const ag_compiled *comp; /* a compiled statement, or NULL for SQL text: */
    const char *sql;         /*   the text (kept alive by the caller) */
    size_t len;
    int rewrite;       /*   1: :name / ? placeholders rewritten to the driver's; 0: as is */
    int stmt_idx;      /* the statement's node (comp), for echo */
    int params_idx;    /* the table of parameters, or 0 */
    int nil_is_null;   /* comp: an absent parameter is NULL (the ORM's values tables) */
    int names_base;    /* comp: 0, or where the parameters' names were pushed once (nil for a
                                 parameter with its own value) */
    int64_t *affected; /* NULL, or where to store the rows the statement changed */
} ag_lua_exec;
/* Prepares, binds, executes x on c into the result r (at x->result_idx; it
 * may be reused for one execution after another), reads the types of a
 * compiled statement's columns and echoes.  Raises; leaves the stack as it
 * was. */
void ag_lua_run(lua_State *L, ag_lua_conn *c, const ag_lua_exec *x, ag_lua_result *r);
/* Executes SQL text with the parameters at params_idx (0: none); pushes the result. */
void ag_lua_execute_sql(lua_State *L, ag_lua_conn *c, int conn_idx, const char *sql, size_t len, int rewrite,
                        int params_idx);
/* Executes the statement at stmt_idx (node: its node when the caller has
 * tested it, or NULL) with the named parameters at params_idx (0: none);
 * pushes the result. */
void ag_lua_execute_node(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx, ag_node *node, int params_idx);
/* The statement at stmt_idx compiled for the connection's dialect (raises). */
const ag_compiled *ag_lua_compile_statement(lua_State *L, ag_lua_conn *c, int stmt_idx);
/* Pushes the list of the parameter values the statement at stmt_idx was
 * executed with (for echo): its bound values, and the named ones from the
 * table at params_idx (0: none). */
void ag_lua_push_statement_params(lua_State *L, int stmt_idx, ag_dialect d, int params_idx);
/* conn:executemany(sql, rows) for SQL text: rows (at rows_idx) is a list of
 * parameter tables or a function returning the next one; pushes the count
 * of rows affected. */
int ag_lua_executemany_sql(lua_State *L, ag_lua_conn *c, int conn_idx, const char *sql, size_t len, int rows_idx);
/* conn:executemany(statement, rows): rows are tables keyed by parameter name.
 * convert_idx 0, or the stack index of insert_many's row conversion
 * (lua/argent/sql.lua): then the rows are an insert's column-value tables,
 * a missing value is NULL, and every row is checked before any runs -- in C
 * where the check is sure, else by calling convert(r, row), which raises
 * the error or returns the row to bind instead. */
int ag_lua_executemany_statement(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx, int rows_idx,
                                 int convert_idx);
/* For executemany with a row function: calls the function at fn_idx
 * protected; 1 with the row it returned in `slot`, 0 when it returned nil,
 * or -1 with err and *raised set (its error value then in `slot`).  r
 * numbers the row for the message. */
int ag_lua_pull_row(lua_State *L, int fn_idx, int slot, lua_Integer r, int *raised, ag_error *err);

/* ---- schema.c */
void ag_lua_open_schema(lua_State *L, int module_idx);

/* ---- json.c */
/* Encodes the Lua value at idx as JSON into out.  0, or -1 with err. */
int ag_lua_json_encode(lua_State *L, int idx, ag_buf *out, ag_error *err);
/* Encodes the Lua value at idx and pushes its JSON text as a string.  0, or
 * -1 with err (nothing pushed); raises only for memory, leaking nothing. */
int ag_lua_json_push(lua_State *L, int idx, ag_error *err);
/* Decodes JSON text and pushes the Lua value.  0, or -1 with err (nothing pushed). */
int ag_lua_json_decode(lua_State *L, const char *text, size_t len, ag_error *err);
/* Is the value at idx argent.json_null or argent.empty_array? */
int ag_lua_is_json_sentinel(lua_State *L, int idx);
/* Sets json_null, empty_array and json_array_mt in the table on top of the stack. */
void ag_lua_open_json(lua_State *L);

/* ---- result.c (argent types of the result's columns) */
void ag_lua_result_set_types(lua_State *L, ag_lua_result *r, const ag_sqltype *types, int n); /* raises for memory */
/* After an insert that got RETURNING key added for lastrowid: reads that row
 * into lastrowid and finishes the result (which then returns no rows). */
void ag_lua_result_take_key(lua_State *L, ag_lua_result *r);

/* module.c calls this: registers every SQL binding into the module table at the top. */
void ag_lua_open_sql(lua_State *L);

#endif
