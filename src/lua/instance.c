/*
 * instance.c -- ORM instances (API.md section 6): the proxy object that
 * `User{username = "ann"}` makes, and argent.core.orm, the primitives that
 * lua/argent/orm.lua builds models on.
 *
 * Why a proxy in C (DESIGN.md, "Known traps: ORM instances"): every write
 * must be seen -- for dirty tracking (the unit of work updates only the
 * columns that changed), for `nil` meaning NULL, for back-population later --
 * so an instance is a userdata whose __index / __newindex / __pairs run here,
 * and its values live in a per-instance table.  Comparing snapshots at flush
 * would be the slow alternative.
 *
 * An instance is a full userdata (struct instance: its state) with user values
 *   1 = values  (attribute name -> Lua value; an absent key is nil, i.e. NULL)
 *   2 = mapper  (the model's description, built by orm.lua, read-only here:
 *                mapper.class, mapper.name, mapper.columns (column attribute
 *                names in column order), mapper.attrs (attribute name ->
 *                {kind = ATTR_*, type = type object, check = function or nil}))
 *   3 = dirty   (attribute name -> true for every attribute written with a
 *                new value since the set was last cleared)
 *   4 = session (nil while transient; reserved for the Session: the session
 *                that holds the instance, or its committed values)
 * Reads of an attribute never touch the class; other keys fall back to the
 * class table (rawget: the model's own methods and fields), so an instance
 * can never be mistaken for its model by the expression language (which
 * looks for a `_node` field).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lua/binding.h"
#include "lua/sql_binding.h"

#define AG_INSTANCE_TYPE "argent.Instance"

enum { UV_VALUES = 1, UV_MAPPER = 2, UV_DIRTY = 3, UV_SESSION = 4, UV_COUNT = 4 };

/* What an attribute takes (mapper.attrs[name].kind), from its column's type. */
enum {
    ATTR_RELATIONSHIP = 0, /* an instance, a list of them, or nil */
    ATTR_INTEGER,  /* Integer, BigInteger, SmallInteger: an integer (integral floats converted) */
    ATTR_FLOAT,    /* Float, Double: a number */
    ATTR_NUMERIC,  /* Numeric: a number or a numeric string (exact) */
    ATTR_BOOLEAN,  /* Boolean: a boolean */
    ATTR_STRING,   /* String, Text: a string */
    ATTR_ENUM,     /* Enum: one of the type's values */
    ATTR_TEMPORAL, /* Date, DateTime, Time: a string in ISO form (mapper's check function) */
    ATTR_BINARY,   /* LargeBinary: a string */
    ATTR_JSON,     /* JSON: a table, string, number or boolean */
};

static const struct {
    const char *type_name;
    int kind;
} attr_kinds[] = {
    {"Integer", ATTR_INTEGER}, {"BigInteger", ATTR_INTEGER}, {"SmallInteger", ATTR_INTEGER},
    {"Float", ATTR_FLOAT},     {"Double", ATTR_FLOAT},       {"Numeric", ATTR_NUMERIC},
    {"Boolean", ATTR_BOOLEAN}, {"String", ATTR_STRING},      {"Text", ATTR_STRING},
    {"Enum", ATTR_ENUM},       {"Date", ATTR_TEMPORAL},      {"DateTime", ATTR_TEMPORAL},
    {"Time", ATTR_TEMPORAL},   {"LargeBinary", ATTR_BINARY}, {"JSON", ATTR_JSON},
};

/* The life-cycle states of API.md section 6; only TRANSIENT is reached
 * before the Session exists. */
typedef enum {
    STATE_TRANSIENT,
    STATE_PENDING,
    STATE_PERSISTENT,
    STATE_DETACHED,
    STATE_DELETED
} instance_state;
static const char *const state_names[] = {"transient", "pending", "persistent",
                                          "detached",  "deleted", NULL};

typedef struct instance {
    instance_state state;
} instance;

static instance *test_instance(lua_State *L, int idx) {
    return luaL_testudata(L, idx, AG_INSTANCE_TYPE);
}

static instance *check_instance(lua_State *L, int idx, const char *fname) {
    instance *inst = test_instance(L, idx);
    if (!inst)
        ag_lua_argerror(
            L, "%s: argument must be a model instance (made by a model, e.g. User{...}), got %s",
            fname, ag_lua_typename(L, idx));
    return inst;
}

/* Pushes the model's name of the instance at idx (for messages). */
static const char *model_name(lua_State *L, int idx) {
    ag_lua_getuservalue(L, idx, UV_MAPPER);
    lua_getfield(L, -1, "name");
    lua_remove(L, -2);
    const char *name = lua_tostring(L, -1);
    return name ? name : "?";
}

/* Pushes mapper.attrs[key] of the instance at idx; returns its Lua type
 * (LUA_TNIL when key is not an attribute). */
static int push_attr_info(lua_State *L, int idx, int key_idx) {
    ag_lua_getuservalue(L, idx, UV_MAPPER);
    lua_getfield(L, -1, "attrs");
    lua_pushvalue(L, key_idx);
    int t = lua_rawget(L, -2);
    lua_replace(L, -3);
    lua_pop(L, 1);
    return t;
}

/* Raises: value at val_idx does not fit attribute key_idx (info at info_idx). */
static int wrong_type(lua_State *L, int inst_idx, int key_idx, int info_idx, int val_idx,
                      const char *wanted) {
    const char *model = model_name(L, inst_idx);
    lua_getfield(L, info_idx, "type");
    const char *type = luaL_tolstring(L, -1, NULL);
    const char *shown = "";
    if (lua_type(L, val_idx) == LUA_TSTRING || lua_type(L, val_idx) == LUA_TNUMBER ||
        lua_type(L, val_idx) == LUA_TBOOLEAN) {
        size_t len;
        const char *s = luaL_tolstring(L, val_idx, &len);
        if (lua_type(L, val_idx) == LUA_TSTRING)
            shown =
                lua_pushfstring(L, " ('%s%s')", len > 40 ? "" : s, len > 40 ? "<long string>" : "");
        else
            shown = lua_pushfstring(L, " (%s)", s);
    }
    return ag_lua_argerror(L, "%s.%s (%s) takes %s or nil, got %s%s", model,
                           lua_tostring(L, key_idx), type, wanted, ag_lua_typename(L, val_idx),
                           shown);
}

/* Is the string at idx one of the values of the Enum type at type_idx? */
static int enum_has(lua_State *L, int type_idx, int val_idx) {
    int found = 0;
    lua_getfield(L, type_idx, "enums");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return 1; /* no list to check against */
    }
    for (lua_Integer i = 1; !found && lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
        found = lua_rawequal(L, -1, val_idx);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    return found;
}

/* Checks the value at val_idx for attribute key_idx of the instance at
 * inst_idx (info at info_idx) and may replace it by its stored form (an
 * integral float for an Integer column becomes an integer).  nil, argent.null
 * (stored as nil) and SQL expressions (applied at flush) fit every column. */
static void check_value(lua_State *L, int inst_idx, int key_idx, int info_idx, int val_idx) {
    int vt = lua_type(L, val_idx);
    if (vt == LUA_TNIL) return;
    if (ag_lua_is_null(L, val_idx)) {
        lua_pushnil(L);
        lua_replace(L, val_idx);
        return;
    }
    lua_getfield(L, info_idx, "kind");
    int kind = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (kind != ATTR_RELATIONSHIP && ag_lua_test_node(L, val_idx)) return;
    switch (kind) {
    case ATTR_RELATIONSHIP:
        if (vt != LUA_TTABLE && !test_instance(L, val_idx))
            ag_lua_argerror(L,
                            "%s.%s is a relationship: it takes a model instance, a list of them, "
                            "or nil, got %s",
                            model_name(L, inst_idx), lua_tostring(L, key_idx),
                            ag_lua_typename(L, val_idx));
        return;
    case ATTR_INTEGER:
        if (lua_isinteger(L, val_idx)) return;
        if (vt == LUA_TNUMBER) {
            lua_Number f = lua_tonumber(L, val_idx);
            lua_Integer i;
            if (lua_numbertointeger(floor(f), &i) && (lua_Number)i == f) {
                lua_pushinteger(L, i);
                lua_replace(L, val_idx);
                return;
            }
        }
        wrong_type(L, inst_idx, key_idx, info_idx, val_idx, "an integer");
        return;
    case ATTR_FLOAT:
        if (vt != LUA_TNUMBER) wrong_type(L, inst_idx, key_idx, info_idx, val_idx, "a number");
        return;
    case ATTR_NUMERIC:
        if (vt == LUA_TNUMBER) return;
        if (vt == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, val_idx, &len);
            if (lua_stringtonumber(L, s) == len + 1) {
                lua_pop(L, 1);
                return;
            }
        }
        wrong_type(L, inst_idx, key_idx, info_idx, val_idx, "a number or a numeric string");
        return;
    case ATTR_BOOLEAN:
        if (vt != LUA_TBOOLEAN) wrong_type(L, inst_idx, key_idx, info_idx, val_idx, "a boolean");
        return;
    case ATTR_STRING:
    case ATTR_BINARY:
        if (vt != LUA_TSTRING) wrong_type(L, inst_idx, key_idx, info_idx, val_idx, "a string");
        return;
    case ATTR_ENUM:
        if (vt != LUA_TSTRING) wrong_type(L, inst_idx, key_idx, info_idx, val_idx, "a string");
        lua_getfield(L, info_idx, "type");
        if (!enum_has(L, lua_gettop(L), val_idx))
            wrong_type(L, inst_idx, key_idx, info_idx, val_idx, "one of the Enum's values");
        lua_pop(L, 1);
        return;
    case ATTR_TEMPORAL:
        if (vt != LUA_TSTRING)
            wrong_type(L, inst_idx, key_idx, info_idx, val_idx, "an ISO-8601 string");
        if (lua_getfield(L, info_idx, "check") == LUA_TFUNCTION) {
            lua_pushvalue(L, val_idx); /* raises an ArgumentError naming the column */
            lua_call(L, 1, 0);
        } else {
            lua_pop(L, 1);
        }
        return;
    case ATTR_JSON:
        if (vt != LUA_TTABLE && vt != LUA_TSTRING && vt != LUA_TNUMBER && vt != LUA_TBOOLEAN)
            wrong_type(L, inst_idx, key_idx, info_idx, val_idx,
                       "a table, string, number or boolean");
        return;
    default: return;
    }
}

/* inst[key] = value, for the instance at inst_idx: checks that key is an
 * attribute and that value fits it, stores it, and marks the attribute
 * dirty when the value changed.  Leaves the stack as it was. */
static void set_attribute(lua_State *L, int inst_idx, int key_idx, int val_idx) {
    int top = lua_gettop(L);
    inst_idx = lua_absindex(L, inst_idx);
    key_idx = lua_absindex(L, key_idx);
    val_idx = lua_absindex(L, val_idx);
    if (lua_type(L, key_idx) != LUA_TSTRING || push_attr_info(L, inst_idx, key_idx) == LUA_TNIL) {
        const char *model = model_name(L, inst_idx);
        const char *key = luaL_tolstring(L, key_idx, NULL);
        ag_lua_argerror(
            L, "%s has no attribute '%s' to set (its attributes are its columns and relationships)",
            model, key);
    }
    int info_idx = lua_gettop(L);
    lua_pushvalue(L, val_idx);
    val_idx = lua_gettop(L);
    check_value(L, inst_idx, key_idx, info_idx, val_idx);
    ag_lua_getuservalue(L, inst_idx, UV_VALUES);
    int values = lua_gettop(L);
    lua_pushvalue(L, key_idx);
    lua_rawget(L, values);
    int changed = !lua_rawequal(L, -1, val_idx);
    lua_pop(L, 1);
    if (changed) {
        lua_pushvalue(L, key_idx);
        lua_pushvalue(L, val_idx);
        lua_rawset(L, values);
        ag_lua_getuservalue(L, inst_idx, UV_DIRTY);
        lua_pushvalue(L, key_idx);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
    }
    lua_settop(L, top);
}

/* ---- metamethods */

static int instance_index(lua_State *L) {
    if (push_attr_info(L, 1, 2) != LUA_TNIL) {
        /* a column or relationship: the stored value (the Session will load
         * an unloaded relationship here) */
        ag_lua_getuservalue(L, 1, UV_VALUES);
        lua_pushvalue(L, 2);
        lua_rawget(L, -2);
        return 1;
    }
    ag_lua_getuservalue(L, 1, UV_MAPPER);
    lua_getfield(L, -1, "class");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int instance_newindex(lua_State *L) {
    set_attribute(L, 1, 2, 3);
    return 0;
}

/* The __pairs iterator: upvalue 1 = position in mapper.columns. */
static int pairs_next(lua_State *L) {
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(1)) + 1;
    ag_lua_getuservalue(L, 1, UV_MAPPER);
    lua_getfield(L, -1, "columns");
    if (lua_rawgeti(L, -1, i) == LUA_TNIL) return 0;
    lua_pushinteger(L, i);
    lua_replace(L, lua_upvalueindex(1));
    int key = lua_gettop(L);
    ag_lua_getuservalue(L, 1, UV_VALUES);
    lua_pushvalue(L, key);
    lua_rawget(L, -2);
    lua_pushvalue(L, key);
    lua_insert(L, -2);
    return 2;
}

/* pairs(u): every column attribute in column order, with its value (nil
 * values included: the loop ends on the key, not the value). */
static int instance_pairs(lua_State *L) {
    check_instance(L, 1, "pairs");
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, pairs_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Pushes s as a double-quoted Lua-style literal. */
static void push_quoted(lua_State *L, int idx) {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            luaL_addchar(&b, '\\');
            luaL_addchar(&b, (char)c);
        } else if (c == '\n') {
            luaL_addstring(&b, "\\n");
        } else if (c < 32 || c == 127) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\%d", c);
            luaL_addstring(&b, esc);
        } else {
            luaL_addchar(&b, (char)c);
        }
    }
    luaL_addchar(&b, '"');
    luaL_pushresult(&b);
}

/* tostring(u) -> <User id=1 username="ann" email=nil> (columns in order). */
static int instance_tostring(lua_State *L) {
    check_instance(L, 1, "tostring");
    ag_lua_getuservalue(L, 1, UV_MAPPER); /* 2 */
    ag_lua_getuservalue(L, 1, UV_VALUES); /* 3 */
    lua_getfield(L, 2, "columns");        /* 4 */
    lua_getfield(L, 2, "name");
    lua_pushfstring(L, "<%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_remove(L, -2); /* 5: the text so far */
    for (lua_Integer i = 1; lua_rawgeti(L, 4, i) != LUA_TNIL; i++) {
        int key = lua_gettop(L);
        lua_pushfstring(L, " %s=", lua_tostring(L, key));
        lua_pushvalue(L, key);
        lua_rawget(L, 3);
        if (lua_type(L, -1) == LUA_TSTRING)
            push_quoted(L, -1);
        else
            luaL_tolstring(L, -1, NULL);
        lua_remove(L, -2);  /* the raw value */
        lua_remove(L, key); /* the key */
        lua_concat(L, 3);   /* text .. " key=" .. value */
    }
    lua_pop(L, 1);
    lua_pushliteral(L, ">");
    lua_concat(L, 2);
    return 1;
}

/* ---- argent.core.orm */

/* construct(class, init): a new transient instance of the model class (its
 * mapper is class.__mapper__), with init's attributes set as by assignment. */
static int orm_construct(lua_State *L) {
    lua_settop(L, 2); /* the initial values are argument 2, absent or not */
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "__mapper__") != LUA_TTABLE)
        return ag_lua_argerror(L, "not a model class: make models with Base:model(name, spec)");
    int mapper = lua_gettop(L);
    if (!lua_isnoneornil(L, 2) && (lua_type(L, 2) != LUA_TTABLE || lua_getmetatable(L, 2))) {
        lua_getfield(L, mapper, "name");
        return ag_lua_argerror(
            L, "%s{...}: the argument must be a plain table of attribute values, got %s",
            lua_tostring(L, -1), ag_lua_typename(L, 2));
    }
    instance *inst = ag_lua_newuserdata(L, sizeof *inst, UV_COUNT);
    inst->state = STATE_TRANSIENT;
    luaL_setmetatable(L, AG_INSTANCE_TYPE);
    int idx = lua_gettop(L);
    lua_newtable(L);
    ag_lua_setuservalue(L, idx, UV_VALUES);
    lua_pushvalue(L, mapper);
    ag_lua_setuservalue(L, idx, UV_MAPPER);
    lua_newtable(L);
    ag_lua_setuservalue(L, idx, UV_DIRTY);
    if (lua_istable(L, 2)) {
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            set_attribute(L, idx, -2, -1);
            lua_pop(L, 1);
        }
    }
    lua_settop(L, idx);
    return 1;
}

/* state(u) -> "transient" | "pending" | "persistent" | "detached" | "deleted" */
static int orm_state(lua_State *L) {
    instance *inst = check_instance(L, 1, "state");
    lua_pushstring(L, state_names[inst->state]);
    return 1;
}

/* set_state(u, name): for the Session. */
static int orm_set_state(lua_State *L) {
    instance *inst = check_instance(L, 1, "set_state");
    inst->state = (instance_state)luaL_checkoption(L, 2, NULL, state_names);
    return 0;
}

/* as_table(u) -> a plain table of the column values, keyed by attribute name. */
static int orm_as_table(lua_State *L) {
    check_instance(L, 1, "as_table");
    ag_lua_getuservalue(L, 1, UV_MAPPER);
    lua_getfield(L, -1, "columns");
    int columns = lua_gettop(L);
    ag_lua_getuservalue(L, 1, UV_VALUES);
    int values = lua_gettop(L);
    lua_newtable(L);
    for (lua_Integer i = 1; lua_rawgeti(L, columns, i) != LUA_TNIL; i++) {
        lua_pushvalue(L, -1);
        lua_rawget(L, values);
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
    return 1;
}

/* internals(u) -> values, dirty, mapper, session slot: the instance's own
 * tables, for the Session (loading rows without marking them dirty, reading
 * and clearing the dirty set at flush). */
static int orm_internals(lua_State *L) {
    check_instance(L, 1, "internals");
    ag_lua_getuservalue(L, 1, UV_VALUES);
    ag_lua_getuservalue(L, 1, UV_DIRTY);
    ag_lua_getuservalue(L, 1, UV_MAPPER);
    ag_lua_getuservalue(L, 1, UV_SESSION);
    return 4;
}

/* set_session(u, v): the session slot (user value 4). */
static int orm_set_session(lua_State *L) {
    check_instance(L, 1, "set_session");
    lua_settop(L, 2);
    ag_lua_setuservalue(L, 1, UV_SESSION);
    return 0;
}

/* clear_dirty(u): forget which attributes changed (after a flush). */
static int orm_clear_dirty(lua_State *L) {
    check_instance(L, 1, "clear_dirty");
    lua_newtable(L);
    ag_lua_setuservalue(L, 1, UV_DIRTY);
    return 0;
}

static int orm_is_instance(lua_State *L) {
    lua_pushboolean(L, test_instance(L, 1) != NULL);
    return 1;
}

void ag_lua_open_instance(lua_State *L) {
    static const luaL_Reg meta[] = {{"__index", instance_index},
                                    {"__newindex", instance_newindex},
                                    {"__pairs", instance_pairs},
                                    {"__tostring", instance_tostring},
                                    {NULL, NULL}};
    luaL_newmetatable(L, AG_INSTANCE_TYPE);
    luaL_setfuncs(L, meta, 0);
    lua_pushliteral(L, "argent.Instance"); /* getmetatable(u) does not expose the metamethods */
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    static const luaL_Reg funcs[] = {{"construct", orm_construct},
                                     {"state", orm_state},
                                     {"set_state", orm_set_state},
                                     {"as_table", orm_as_table},
                                     {"internals", orm_internals},
                                     {"set_session", orm_set_session},
                                     {"clear_dirty", orm_clear_dirty},
                                     {"is_instance", orm_is_instance},
                                     {NULL, NULL}};
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
    lua_newtable(L); /* kinds: type name -> ATTR_* */
    for (size_t i = 0; i < sizeof attr_kinds / sizeof attr_kinds[0]; i++) {
        lua_pushinteger(L, attr_kinds[i].kind);
        lua_setfield(L, -2, attr_kinds[i].type_name);
    }
    lua_pushinteger(L, ATTR_RELATIONSHIP);
    lua_setfield(L, -2, "relationship");
    lua_setfield(L, -2, "kinds");
    lua_setfield(L, -2, "orm");
}
