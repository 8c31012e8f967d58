/*
 * constants.c -- the facts that C defines and Lua needs, exported once when
 * the module opens (as luv's constants.c does), so that no Lua file retypes
 * them: argent.core.node (the slots of the statement nodes and the flag and
 * op values of src/sql/node.h), argent.core.type_names (argent's types, in
 * the order convert.c knows them), argent.core.version (argent.h's), and
 * the features of each dialect (src/sql/dialect.h's bits), which
 * engine.features and conn.features give.
 */
#include "argent.h"
#include "lua/binding.h"
#include "lua/sql_binding.h"
#include "sql/dialect.h"

typedef struct constant {
    const char *name;
    int value;
} constant;

/* Sets t[name] = value for each of list (ending with a NULL name) in the table on top. */
static void set_all(lua_State *L, const constant *list) {
    for (; list->name; list++) {
        lua_pushinteger(L, list->value);
        lua_setfield(L, -2, list->name);
    }
}

/* Sets field = {list} in the table on top. */
static void set_table(lua_State *L, const char *field, const constant *list) {
    lua_newtable(L);
    set_all(L, list);
    lua_setfield(L, -2, field);
}

static void open_node(lua_State *L) {
    static const constant sel[] = {{"columns", AG_SEL_COLUMNS}, {"from", AG_SEL_FROM},
                                   {"where", AG_SEL_WHERE},     {"group_by", AG_SEL_GROUP_BY},
                                   {"having", AG_SEL_HAVING},   {"order_by", AG_SEL_ORDER_BY},
                                   {"limit", AG_SEL_LIMIT},     {"offset", AG_SEL_OFFSET},
                                   {"count", AG_SEL_NSLOTS},    {NULL, 0}};
    static const constant compound[] = {{"selects", AG_CMP_SELECTS}, {"order_by", AG_CMP_ORDER_BY},
                                        {"limit", AG_CMP_LIMIT},     {"offset", AG_CMP_OFFSET},
                                        {"count", AG_CMP_NSLOTS},    {NULL, 0}};
    static const constant ins[] = {{"table", AG_INS_TABLE},
                                   {"columns", AG_INS_COLUMNS},
                                   {"rows", AG_INS_ROWS},
                                   {"returning", AG_INS_RETURNING},
                                   {"conflict_on", AG_INS_CONFLICT_ON},
                                   {"conflict_set", AG_INS_CONFLICT_SET},
                                   {"key", AG_INS_KEY},
                                   {"count", AG_INS_NSLOTS},
                                   {NULL, 0}};
    static const constant upd[] = {{"table", AG_UPD_TABLE},         {"set", AG_UPD_SET},      {"where", AG_UPD_WHERE},
                                   {"returning", AG_UPD_RETURNING}, {"count", AG_UPD_NSLOTS}, {NULL, 0}};
    static const constant del[] = {{"table", AG_DEL_TABLE},
                                   {"where", AG_DEL_WHERE},
                                   {"returning", AG_DEL_RETURNING},
                                   {"count", AG_DEL_NSLOTS},
                                   {NULL, 0}};
    static const constant alter[] = {{"add_column", AG_ALTER_ADD_COLUMN},
                                     {"drop_column", AG_ALTER_DROP_COLUMN},
                                     {"rename_column", AG_ALTER_RENAME_COLUMN},
                                     {"rename_table", AG_ALTER_RENAME_TABLE},
                                     {"column", AG_ALTER_COLUMN},
                                     {"add_constraint", AG_ALTER_ADD_CONSTRAINT},
                                     {"drop_constraint", AG_ALTER_DROP_CONSTRAINT},
                                     {NULL, 0}};
    static const constant fk_actions[] = {{"CASCADE", AG_FK_CASCADE},         {"SET NULL", AG_FK_SET_NULL},
                                          {"SET DEFAULT", AG_FK_SET_DEFAULT}, {"RESTRICT", AG_FK_RESTRICT},
                                          {"NO ACTION", AG_FK_NO_ACTION},     {NULL, 0}};
    static const constant flags[] = {{"SEL_DISTINCT", AG_SEL_DISTINCT},
                                     {"SEL_FOR_UPDATE", AG_SEL_FOR_UPDATE},
                                     {"JOIN_INNER", AG_JOIN_INNER},
                                     {"JOIN_LEFT", AG_JOIN_LEFT},
                                     {"JOIN_FULL", AG_JOIN_FULL},
                                     {"COMPOUND_UNION", AG_COMPOUND_UNION},
                                     {"COMPOUND_UNION_ALL", AG_COMPOUND_UNION_ALL},
                                     {"COMPOUND_INTERSECT", AG_COMPOUND_INTERSECT},
                                     {"COMPOUND_EXCEPT", AG_COMPOUND_EXCEPT},
                                     {"CONFLICT_NOTHING", AG_CONFLICT_NOTHING},
                                     {"CONFLICT_UPDATE", AG_CONFLICT_UPDATE},
                                     {"COL_PRIMARY_KEY", AG_COL_PRIMARY_KEY},
                                     {"COL_NOT_NULL", AG_COL_NOT_NULL},
                                     {"COL_AUTOINCREMENT", AG_COL_AUTOINCREMENT},
                                     {"COL_UNIQUE", AG_COL_UNIQUE},
                                     {"CONS_PRIMARY_KEY", AG_CONS_PRIMARY_KEY},
                                     {"CONS_UNIQUE", AG_CONS_UNIQUE},
                                     {"CONS_CHECK", AG_CONS_CHECK},
                                     {"CONS_FOREIGN_KEY", AG_CONS_FOREIGN_KEY},
                                     {"DDL_IF_NOT_EXISTS", AG_DDL_IF_NOT_EXISTS},
                                     {"DDL_IF_EXISTS", AG_DDL_IF_EXISTS},
                                     {"DDL_UNIQUE", AG_DDL_UNIQUE},
                                     {"SET_TYPE", AG_ALTER_SET_TYPE},
                                     {"SET_NULLABLE", AG_ALTER_SET_NULLABLE},
                                     {"SET_DEFAULT", AG_ALTER_SET_DEFAULT},
                                     {"FK_ONUPDATE_SHIFT", 4}, /* flags: ondelete | onupdate << 4 */
                                     {NULL, 0}};
    lua_newtable(L);
    set_table(L, "SEL", sel);
    set_table(L, "COMPOUND", compound);
    set_table(L, "INS", ins);
    set_table(L, "UPD", upd);
    set_table(L, "DEL", del);
    set_table(L, "ALTER", alter);
    set_table(L, "FK_ACTIONS", fk_actions);
    set_all(L, flags);
    lua_setfield(L, -2, "node");
}

static void open_type_names(lua_State *L) {
    lua_newtable(L);
    const char *name;
    for (int i = 0; (name = ag_lua_type_name_at(i, NULL)) != NULL; i++) {
        lua_pushstring(L, name);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "type_names");
}

/* The registry key of {dialect id -> features table}. */
static const char features_key = 0;

static void push_dialect_features(lua_State *L, const ag_sql_dialect *d) {
    const struct {
        const char *name;
        int on;
    } bits[] = {
        {"ilike", d->has_ilike},
        {"returning", d->has_returning},
        {"update_returning", d->has_update_returning},
        {"for_update", d->has_for_update},
        {"last_insert_id", d->has_last_insert_id},
        {"full_join", d->has_full_join},
        {"comments", d->has_comments},
        {"if_not_exists_index", d->has_if_not_exists_index},
        {"alter_column", d->has_alter_column},
        {"alter_constraint", d->has_alter_constraint},
        {"native_enum", d->native_enum},
        {"on_duplicate_key", d->on_duplicate_key},
        {"inline_autoincrement", d->inline_autoincrement},
        {"concat_function", d->concat_function},
        {"empty_values_list", d->empty_values_list},
        {"drop_index_on_table", d->drop_index_on_table},
        {"backslash_escapes", d->backslash_escapes},
        {"alter_column_modify", d->alter_column_modify},
        {"drop_constraint_by_kind", d->drop_constraint_by_kind},
    };
    lua_createtable(L, 0, (int)(sizeof bits / sizeof *bits));
    for (size_t i = 0; i < sizeof bits / sizeof *bits; i++) {
        lua_pushboolean(L, bits[i].on);
        lua_setfield(L, -2, bits[i].name);
    }
}

void ag_lua_push_features(lua_State *L, ag_dialect id) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &features_key);
    if (lua_rawgeti(L, -1, (lua_Integer)id) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_newtable(L); /* a dialect argent has no SQL for: no features */
    }
    lua_remove(L, -2);
}

static void open_features(lua_State *L) {
    static const ag_sql_dialect *const dialects[] = {&ag_sql_dialect_sqlite, &ag_sql_dialect_postgresql,
                                                     &ag_sql_dialect_mariadb};
    lua_newtable(L); /* id -> features, for engine.features and conn.features */
    lua_newtable(L); /* name -> features: argent.core.features */
    for (size_t i = 0; i < sizeof dialects / sizeof *dialects; i++) {
        push_dialect_features(L, dialects[i]);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -4, (lua_Integer)dialects[i]->id);
        lua_setfield(L, -2, dialects[i]->name);
    }
    lua_setfield(L, -3, "features");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &features_key);
}

void ag_lua_open_constants(lua_State *L) {
    open_node(L);
    open_type_names(L);
    open_features(L);
    lua_pushliteral(L, ARGENT_VERSION);
    lua_setfield(L, -2, "version");
}
