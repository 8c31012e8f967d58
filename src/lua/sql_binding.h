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
/* Reads an argent type object (types.lua) at idx into *out; 0, or -1 if it
 * is not a type object. */
int ag_lua_to_sqltype(lua_State *L, int idx, ag_sqltype *out);
/* Converts the Lua value at idx into a value of type t for binding (JSON is
 * encoded into a string pushed on the stack, which must stay there while
 * out is in use).  Never raises except for memory; -1 with err. */
int ag_lua_convert_in(lua_State *L, int idx, const ag_sqltype *t, ag_value *out, ag_error *err);
void ag_lua_open_expression(lua_State *L, int module_idx);
/* Writes s in API.md's date/time form into out (len bytes at most): a "T"
 * separator becomes a space, a fraction loses its trailing zeros (and the
 * point when nothing is left).  Returns the new length. */
size_t ag_lua_iso_normalize(const char *s, size_t len, char *out);

/* ---- statement.c */
void ag_lua_open_statement(lua_State *L, int module_idx);
/* Executes the statement at stmt_idx on the connection at conn_idx with the
 * named parameters at params_idx (0: none); pushes the result.  Returns the
 * SQL text (valid while the statement lives) for echo. */
const char *ag_lua_execute_statement(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx, int params_idx);
/* The same for the statement node already taken from stmt_idx. */
const char *ag_lua_execute_node(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx, ag_node *node,
                                int params_idx);
/* The same, with a missing parameter bound as NULL (the ORM's flush binds an
 * instance's values table, where an absent key is NULL). */
const char *ag_lua_execute_statement_nulls(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx,
                                           int params_idx);
/* The pieces of an execution, for the ORM's flush (src/orm/persist.c), which runs
 * one statement per object: the statement at stmt_idx compiled for the
 * connection's dialect (raises), and the binding of its parameters from the
 * table at params_idx into c->scratch (nil_is_null: an absent value is NULL;
 * names_base: 0, or the stack index where the parameters' names were pushed
 * once, nil for a parameter with its own value).  0, or -1 with err. */
const ag_compiled *ag_lua_compile_statement(lua_State *L, ag_lua_conn *c, int stmt_idx);
int ag_lua_bind_statement(lua_State *L, ag_lua_conn *c, const ag_compiled *comp, int params_idx, int nil_is_null,
                          int names_base, ag_error *err);
/* Pushes the list of the parameter values the statement at stmt_idx was
 * executed with (for echo): its bound values, and the named ones from the
 * table at params_idx (0: none). */
void ag_lua_push_statement_params(lua_State *L, int stmt_idx, ag_dialect d, int params_idx);
/* Pushes the function that init.lua registered with core.sql.set_execute_hook
 * and returns 1, or pushes nothing and returns 0 (connection.c). */
int ag_lua_push_execute_hook(lua_State *L);
/* conn:executemany(statement, rows): rows are tables keyed by parameter name.
 * convert_idx 0, or the stack index of insert_many's row conversion
 * (lua/argent/sql.lua): then the rows are an insert's column-value tables,
 * a missing value is NULL, and every row is checked before any runs -- in C
 * where the check is sure, else by calling convert(r, row), which raises
 * the error or returns the row to bind instead. */
int ag_lua_executemany_statement(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx, int rows_idx,
                                 int convert_idx);
/* For executemany with a row function (connection.c, statement.c): calls the
 * function at fn_idx protected; 1 with the row it returned in `slot`, 0 when
 * it returned nil, or -1 with err and *raised set (its error value then in
 * `slot`).  r numbers the row for the message. */
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
