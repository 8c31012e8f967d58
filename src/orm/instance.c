/*
 * instance.c -- ORM instances (API.md section 6): the proxy object that
 * `User{username = "ann"}` makes, the functions of argent.core.orm that read
 * and change one, and the opening of argent.core.orm (load.c, persist.c and
 * txstate_lua.c add theirs), which lua/argent/orm/ builds models on.
 *
 * Why a proxy in C (DESIGN.md, "Known traps: ORM instances"): every write
 * must be seen -- for dirty tracking (the unit of work updates only the
 * columns that changed), for `nil` meaning NULL, for back-population later --
 * so an instance is a userdata whose __index / __newindex / __pairs run here,
 * and its values live in a per-instance table.  Comparing snapshots at flush
 * would be the slow alternative.
 *
 * An instance is a full userdata (ag_orm_instance: its state) with user values
 *   1 = values  (attribute name -> Lua value; an absent key is nil, i.e. NULL)
 *   2 = mapper  (the model's description, built by orm.lua, read-only here:
 *                mapper.class, mapper.name, mapper.columns (column attribute
 *                names in column order), mapper.attrs (attribute name ->
 *                {kind = ATTR_*, type = type object, check = function or nil}))
 *   3 = dirty   (attribute name -> true for every attribute written with a
 *                new value since the set was last cleared)
 *   4 = session (nil while transient; the Session that holds the instance)
 *   5 = unloaded (nil, or attribute name -> true for the column attributes
 *                whose value is not loaded: expired by the Session; reading
 *                one calls the Session's load hook)
 * A relationship attribute whose key is absent from values is not loaded:
 * reading it calls the load hook (the Session's loader strategies); a loaded
 * many-to-one that is empty is stored as false and read as nil.  Writing a
 * relationship calls the set hook (collections, back_populates).  The dirty
 * table (3) is made at the first write. 
 * Reads of an attribute never touch the class; other keys fall back to the
 * class table (rawget: the model's own methods and fields), so an instance
 * can never be mistaken for its model by the expression language (which
 * looks for a `_node` field).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "orm/orm.h"

/* What an attribute of a column of type kind takes (mapper.attrs[name].kind). */
static int attr_kind(ag_type_kind kind) {
    switch (kind) {
    case AG_TYPE_INTEGER:
    case AG_TYPE_BIGINT:
    case AG_TYPE_SMALLINT: return ATTR_INTEGER;
    case AG_TYPE_FLOAT:
    case AG_TYPE_DOUBLE: return ATTR_FLOAT;
    case AG_TYPE_NUMERIC: return ATTR_NUMERIC;
    case AG_TYPE_BOOLEAN: return ATTR_BOOLEAN;
    case AG_TYPE_STRING:
    case AG_TYPE_TEXT: return ATTR_STRING;
    case AG_TYPE_ENUM: return ATTR_ENUM;
    case AG_TYPE_DATE:
    case AG_TYPE_DATETIME:
    case AG_TYPE_TIME: return ATTR_TEMPORAL;
    case AG_TYPE_BINARY: return ATTR_BINARY;
    case AG_TYPE_JSON: return ATTR_JSON;
    default: return -1;
    }
}

static const char *const state_names[] = {"transient", "pending", "persistent", "detached", "deleted", NULL};

/* The Session's hooks (registry keys): load(inst, key) -> value, called for
 * an unloaded attribute (key false: every unloaded column); set(inst, key,
 * value), called to write a relationship attribute. */
static const char load_hook_key = 0, set_hook_key = 0;

/* Calls the load hook for the instance at inst_idx and key at key_idx;
 * leaves its one result on the stack. */
static void call_load_hook(lua_State *L, int inst_idx, int key_idx) {
    inst_idx = lua_absindex(L, inst_idx);
    if (key_idx) key_idx = lua_absindex(L, key_idx);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &load_hook_key) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return;
    }
    lua_pushvalue(L, inst_idx);
    if (key_idx) lua_pushvalue(L, key_idx);
    else lua_pushboolean(L, 0);
    lua_call(L, 2, 1);
}

/* Is the key at key_idx in the unloaded set of the instance at inst_idx? */
static int is_unloaded(lua_State *L, ag_orm_instance *inst, int inst_idx, int key_idx) {
    if (!inst->unloaded) return 0;
    if (ag_lua_getuservalue(L, inst_idx, UV_UNLOADED) != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushvalue(L, key_idx);
    int t = lua_rawget(L, -2);
    lua_pop(L, 2);
    return t != LUA_TNIL;
}

/* Loads every unloaded column of the instance at idx (pairs, as_table). */
static void load_unloaded(lua_State *L, ag_orm_instance *inst, int idx) {
    if (!inst->unloaded) return;
    call_load_hook(L, idx, 0);
    lua_pop(L, 1);
}

ag_orm_instance *ag_orm_test_instance(lua_State *L, int idx) { return luaL_testudata(L, idx, AG_INSTANCE_TYPE); }

ag_orm_instance *ag_orm_check_instance(lua_State *L, int idx, const char *fname) {
    ag_orm_instance *inst = ag_orm_test_instance(L, idx);
    if (!inst)
        ag_lua_argerror(L, "%s: argument must be a model instance (made by a model, e.g. User{...}), got %s", fname,
                        ag_lua_typename(L, idx));
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
static int wrong_type(lua_State *L, int inst_idx, int key_idx, int info_idx, int val_idx, const char *wanted) {
    const char *model = model_name(L, inst_idx);
    lua_getfield(L, info_idx, "type");
    const char *type = luaL_tolstring(L, -1, NULL);
    const char *shown = "";
    if (lua_type(L, val_idx) == LUA_TSTRING || lua_type(L, val_idx) == LUA_TNUMBER ||
        lua_type(L, val_idx) == LUA_TBOOLEAN) {
        size_t len;
        const char *s = luaL_tolstring(L, val_idx, &len);
        if (lua_type(L, val_idx) == LUA_TSTRING)
            shown = lua_pushfstring(L, " ('%s%s')", len > 40 ? "" : s, len > 40 ? "<long string>" : "");
        else shown = lua_pushfstring(L, " (%s)", s);
    }
    return ag_lua_argerror(L, "%s.%s (%s) takes %s or nil, got %s%s", model, lua_tostring(L, key_idx), type, wanted,
                           ag_lua_typename(L, val_idx), shown);
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
        if (vt != LUA_TTABLE && !ag_orm_test_instance(L, val_idx))
            ag_lua_argerror(L,
                            "%s.%s is a relationship: it takes a model instance, a list of them, "
                            "or nil, got %s",
                            model_name(L, inst_idx), lua_tostring(L, key_idx), ag_lua_typename(L, val_idx));
        return;
    case ATTR_INTEGER:
        if (lua_isinteger(L, val_idx)) return;
        if (ag_lua_orm_integer_ok(L, val_idx)) return;
        if (vt == LUA_TNUMBER && !ag_lua_number_is_unsafe_integer(L, val_idx)) {
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
        if (vt != LUA_TSTRING) wrong_type(L, inst_idx, key_idx, info_idx, val_idx, "an ISO-8601 string");
        if (lua_getfield(L, info_idx, "check") == LUA_TFUNCTION) {
            lua_pushvalue(L, val_idx); /* raises an ArgumentError naming the column */
            lua_call(L, 1, 0);
        } else {
            lua_pop(L, 1);
        }
        return;
    case ATTR_JSON:
        if (vt != LUA_TTABLE && vt != LUA_TSTRING && vt != LUA_TNUMBER && vt != LUA_TBOOLEAN &&
            !ag_lua_is_json_sentinel(L, val_idx))
            wrong_type(L, inst_idx, key_idx, info_idx, val_idx,
                       "a table, string, number, boolean, argent.json_null or argent.empty_array");
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
        ag_lua_argerror(L, "%s has no attribute '%s' to set (its attributes are its columns and relationships)", model,
                        key);
    }
    int info_idx = lua_gettop(L);
    lua_pushvalue(L, val_idx);
    val_idx = lua_gettop(L);
    check_value(L, inst_idx, key_idx, info_idx, val_idx);
    lua_getfield(L, info_idx, "kind");
    int kind = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (kind == ATTR_RELATIONSHIP) {
        if (lua_rawgetp(L, LUA_REGISTRYINDEX, &set_hook_key) == LUA_TFUNCTION) {
            lua_pushvalue(L, inst_idx);
            lua_pushvalue(L, key_idx);
            lua_pushvalue(L, val_idx);
            lua_call(L, 3, 0);
        }
        lua_settop(L, top);
        return;
    }
    ag_orm_instance *inst = lua_touserdata(L, inst_idx);
    int changed = 0;
    if (inst->unloaded && is_unloaded(L, inst, inst_idx, key_idx)) {
        /* the value before is unknown: the write counts as a change */
        ag_lua_getuservalue(L, inst_idx, UV_UNLOADED);
        lua_pushvalue(L, key_idx);
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pop(L, 1);
        changed = 1;
    }
    ag_lua_getuservalue(L, inst_idx, UV_VALUES);
    int values = lua_gettop(L);
    if (!changed) {
        lua_pushvalue(L, key_idx);
        lua_rawget(L, values);
        changed = !lua_rawequal(L, -1, val_idx);
        lua_pop(L, 1);
    }
    if (changed) {
        lua_pushvalue(L, key_idx);
        lua_pushvalue(L, val_idx);
        lua_rawset(L, values);
        /* a new object (transient, pending) has no row to compare with: its
         * INSERT sends every value, so it keeps no dirty set */
        if (inst->state == STATE_TRANSIENT || inst->state == STATE_PENDING) {
            lua_settop(L, top);
            return;
        }
        if (ag_lua_getuservalue(L, inst_idx, UV_DIRTY) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_createtable(L, 0, 4);
            lua_pushvalue(L, -1);
            ag_lua_setuservalue(L, inst_idx, UV_DIRTY);
            /* the session holds a changed persistent object strongly until
             * its flush (its identity map is weak): a change is never lost */
            if (inst->state == STATE_PERSISTENT && ag_lua_getuservalue(L, inst_idx, UV_SESSION) == LUA_TTABLE &&
                lua_getfield(L, -1, "_dirty_hold") == LUA_TTABLE) {
                lua_pushvalue(L, inst_idx);
                lua_pushboolean(L, 1);
                lua_rawset(L, -3);
            }
            lua_settop(L, values + 1);
        }
        lua_pushvalue(L, key_idx);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
    }
    lua_settop(L, top);
}

/* ---- metamethods */

static int instance_index(lua_State *L) {
    /* the common case first: a loaded value (only attributes are keys of values) */
    ag_lua_getuservalue(L, 1, UV_VALUES);
    lua_pushvalue(L, 2);
    int vt = lua_rawget(L, -2);
    if (vt != LUA_TNIL && vt != LUA_TBOOLEAN) return 1;
    lua_settop(L, 2);
    if (push_attr_info(L, 1, 2) != LUA_TNIL) { /* 3: a column or a relationship */
        ag_lua_getuservalue(L, 1, UV_VALUES);  /* 4 */
        lua_pushvalue(L, 2);
        int t = lua_rawget(L, 4);
        if (t != LUA_TNIL && t != LUA_TBOOLEAN) return 1;
        lua_getfield(L, 3, "kind");
        int kind = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (t == LUA_TBOOLEAN) {
            if (kind == ATTR_RELATIONSHIP && !lua_toboolean(L, -1)) lua_pushnil(L); /* loaded, empty */
            return 1;
        }
        if (kind == ATTR_RELATIONSHIP || is_unloaded(L, lua_touserdata(L, 1), 1, 2)) call_load_hook(L, 1, 2);
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
    load_unloaded(L, ag_orm_check_instance(L, 1, "pairs"), 1);
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
    ag_orm_check_instance(L, 1, "tostring");
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
        if (lua_type(L, -1) == LUA_TSTRING) push_quoted(L, -1);
        else luaL_tolstring(L, -1, NULL);
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

/* Raises unless the value at idx looks like a mapper made by orm.lua (a
 * table with the `attrs` and `columns` tables that the proxy reads without
 * further checks), so that no script can make an instance the metamethods
 * would misread. */
void ag_orm_check_mapper(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    int ok = lua_type(L, idx) == LUA_TTABLE;
    if (ok) {
        ok = lua_getfield(L, idx, "attrs") == LUA_TTABLE && lua_getfield(L, idx, "columns") == LUA_TTABLE;
        lua_pop(L, 2);
    }
    if (!ok) ag_lua_argerror(L, "not a model's mapper: make models with Base:model(name, spec)");
}

/* Pushes a new instance of the mapper at mapper_idx with the values table
 * at values_idx, the session at session_idx (0: none), in state st. */
void ag_orm_new_instance(lua_State *L, int mapper_idx, int values_idx, int session_idx, ag_orm_state st) {
    ag_orm_instance *inst = ag_lua_newuserdata(L, sizeof *inst, UV_COUNT);
    inst->state = st;
    inst->unloaded = 0;
    luaL_setmetatable(L, AG_INSTANCE_TYPE);
    lua_pushvalue(L, values_idx);
    ag_lua_setuservalue(L, -2, UV_VALUES);
    lua_pushvalue(L, mapper_idx);
    ag_lua_setuservalue(L, -2, UV_MAPPER);
    if (session_idx) {
        lua_pushvalue(L, session_idx);
        ag_lua_setuservalue(L, -2, UV_SESSION);
    }
}

/* construct(class, init): a new transient instance of the model class (its
 * mapper is class.__mapper__), with init's attributes set as by assignment. */
static int orm_construct(lua_State *L) {
    lua_settop(L, 2);                 /* the initial values are argument 2, absent or not */
    if (lua_type(L, 1) != LUA_TTABLE) /* getmetatable(User).__call(5): reachable from a script */
        return ag_lua_argerror(L, "not a model class (got %s): make models with Base:model(name, spec)",
                               ag_lua_typename(L, 1));
    if (lua_getfield(L, 1, "__mapper__") != LUA_TTABLE)
        return ag_lua_argerror(L, "not a model class: make models with Base:model(name, spec)");
    int mapper = lua_gettop(L);
    ag_orm_check_mapper(L, mapper);
    if (!lua_isnoneornil(L, 2) && (lua_type(L, 2) != LUA_TTABLE || lua_getmetatable(L, 2))) {
        lua_getfield(L, mapper, "name");
        return ag_lua_argerror(L, "%s{...}: the argument must be a plain table of attribute values, got %s",
                               lua_tostring(L, -1), ag_lua_typename(L, 2));
    }
    lua_newtable(L);
    ag_orm_new_instance(L, mapper, lua_gettop(L), 0, STATE_TRANSIENT);
    int idx = lua_gettop(L);
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
    ag_orm_instance *inst = ag_orm_check_instance(L, 1, "state");
    lua_pushstring(L, state_names[inst->state]);
    return 1;
}

/* set_state(u, name): for the Session. */
static int orm_set_state(lua_State *L) {
    ag_orm_instance *inst = ag_orm_check_instance(L, 1, "set_state");
    inst->state = (ag_orm_state)luaL_checkoption(L, 2, NULL, state_names);
    return 0;
}

/* as_table(u) -> a plain table of the column values, keyed by attribute name. */
static int orm_as_table(lua_State *L) {
    load_unloaded(L, ag_orm_check_instance(L, 1, "as_table"), 1);
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

/* internals(u) -> values, dirty (nil when clean), mapper, session slot,
 * unloaded set (or nil): the instance's own
 * tables, for the Session (loading rows without marking them dirty, reading
 * and clearing the dirty set at flush). */
static int orm_internals(lua_State *L) {
    ag_orm_instance *inst = ag_orm_check_instance(L, 1, "internals");
    ag_lua_getuservalue(L, 1, UV_VALUES);
    ag_lua_getuservalue(L, 1, UV_DIRTY); /* nil until the first write */
    ag_lua_getuservalue(L, 1, UV_MAPPER);
    ag_lua_getuservalue(L, 1, UV_SESSION);
    if (inst->unloaded) ag_lua_getuservalue(L, 1, UV_UNLOADED);
    else lua_pushnil(L);
    return 5;
}

/* values(u) -> the instance's values table (internals' first result, alone). */
static int orm_values(lua_State *L) {
    ag_orm_check_instance(L, 1, "values");
    ag_lua_getuservalue(L, 1, UV_VALUES);
    return 1;
}

/* detach(bucket): every instance among bucket's values becomes detached
 * and leaves its session (Session:close, one call for the identity map). */
static int orm_detach(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        ag_orm_instance *inst = ag_orm_test_instance(L, -1);
        if (inst) {
            inst->state = STATE_DETACHED;
            lua_pushnil(L);
            ag_lua_setuservalue(L, -2, UV_SESSION);
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* is_dirty(u) -> whether an attribute was written since the dirty set was cleared */
static int orm_is_dirty(lua_State *L) {
    ag_orm_check_instance(L, 1, "is_dirty");
    int dirty = ag_lua_getuservalue(L, 1, UV_DIRTY) == LUA_TTABLE && (lua_pushnil(L), lua_next(L, -2));
    lua_pushboolean(L, dirty);
    return 1;
}

/* expire(u [, keys]): forgets the values of the column attributes keys (a
 * list; default: every column but the primary key) and of every loaded
 * relationship (without keys); the next read loads them.  Unflushed changes
 * of those attributes are dropped. */
static int orm_expire(lua_State *L) {
    ag_orm_instance *inst = ag_orm_check_instance(L, 1, "expire");
    lua_settop(L, 2);
    ag_lua_getuservalue(L, 1, UV_VALUES);                       /* 3 */
    ag_lua_getuservalue(L, 1, UV_DIRTY);                        /* 4 */
    ag_lua_getuservalue(L, 1, UV_MAPPER);                       /* 5 */
    if (ag_lua_getuservalue(L, 1, UV_UNLOADED) != LUA_TTABLE) { /* 6 */
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        ag_lua_setuservalue(L, 1, UV_UNLOADED);
    }
    int all = lua_isnil(L, 2);
    if (all) {
        lua_getfield(L, 5, "columns");
        lua_replace(L, 2);
        lua_getfield(L, 5, "pk_set"); /* 7: attribute name -> true for the primary key */
    } else {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_pushnil(L);
    }
    int n = 0;
    for (lua_Integer i = 1; lua_rawgeti(L, 2, i) != LUA_TNIL; i++) {
        int key = lua_gettop(L);
        if (all && lua_istable(L, 7)) {
            lua_pushvalue(L, key);
            int pk = lua_rawget(L, 7) != LUA_TNIL;
            lua_pop(L, 1);
            if (pk) {
                lua_pop(L, 1);
                continue;
            }
        }
        lua_pushvalue(L, key);
        lua_pushnil(L);
        lua_rawset(L, 3);
        if (lua_istable(L, 4)) {
            lua_pushvalue(L, key);
            lua_pushnil(L);
            lua_rawset(L, 4);
        }
        lua_pushvalue(L, key);
        lua_pushboolean(L, 1);
        lua_rawset(L, 6);
        n++;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (n) inst->unloaded = 1;
    if (all) { /* loaded relationships are read again too */
        lua_getfield(L, 5, "relationship_keys");
        if (lua_istable(L, -1)) {
            for (lua_Integer i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
                lua_pushnil(L);
                lua_rawset(L, 3);
            }
            lua_pop(L, 1);
        }
    }
    return 0;
}

/* clear_unloaded(u): every attribute counts as loaded again. */
static int orm_clear_unloaded(lua_State *L) {
    ag_orm_instance *inst = ag_orm_check_instance(L, 1, "clear_unloaded");
    inst->unloaded = 0;
    lua_pushnil(L);
    ag_lua_setuservalue(L, 1, UV_UNLOADED);
    return 0;
}

/* set_hooks(load, set): the Session's loader and relationship writer. */
static int orm_set_hooks(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &load_hook_key);
    lua_pushvalue(L, 2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &set_hook_key);
    return 0;
}

/* add_new(u, session, list, set) -> true when u was transient and not in a
 * session: it is now pending in session, appended to list and set[u] = true
 * (Session:add's common case, in one call); false otherwise (the Session
 * handles the other states). */
static int orm_add_new(lua_State *L) {
    ag_orm_instance *inst = ag_orm_test_instance(L, 1);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    int ok = inst && inst->state == STATE_TRANSIENT && ag_lua_getuservalue(L, 1, UV_SESSION) == LUA_TNIL;
    if (ok) {
        inst->state = STATE_PENDING;
        lua_pushvalue(L, 2);
        ag_lua_setuservalue(L, 1, UV_SESSION);
        lua_pushvalue(L, 1);
        lua_rawseti(L, 3, (lua_Integer)lua_rawlen(L, 3) + 1);
        lua_pushvalue(L, 1);
        lua_pushboolean(L, 1);
        lua_rawset(L, 4);
    }
    lua_pushboolean(L, ok);
    return 1;
}

/* set_session(u, v): the session slot (user value 4). */
static int orm_set_session(lua_State *L) {
    ag_orm_check_instance(L, 1, "set_session");
    lua_settop(L, 2);
    ag_lua_setuservalue(L, 1, UV_SESSION);
    return 0;
}

/* clear_dirty(u): forget which attributes changed (after a flush). */
static int orm_clear_dirty(lua_State *L) {
    ag_orm_check_instance(L, 1, "clear_dirty");
    lua_pushnil(L);
    ag_lua_setuservalue(L, 1, UV_DIRTY);
    return 0;
}

static int orm_is_instance(lua_State *L) {
    lua_pushboolean(L, ag_orm_test_instance(L, 1) != NULL);
    return 1;
}

void ag_orm_open(lua_State *L) {
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
                                     {"is_dirty", orm_is_dirty},
                                     {"expire", orm_expire},
                                     {"clear_unloaded", orm_clear_unloaded},
                                     {"set_hooks", orm_set_hooks},
                                     {"add_new", orm_add_new},
                                     {"values", orm_values},
                                     {"detach", orm_detach},
                                     {NULL, NULL}};
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
    lua_newtable(L); /* kinds: type name -> ATTR_* (the names: convert.c's one list) */
    ag_type_kind type;
    const char *name;
    for (int i = 0; (name = ag_lua_type_name_at(i, &type)) != NULL; i++) {
        if (attr_kind(type) < 0) continue;
        lua_pushinteger(L, attr_kind(type));
        lua_setfield(L, -2, name);
    }
    lua_pushinteger(L, ATTR_RELATIONSHIP);
    lua_setfield(L, -2, "relationship");
    lua_setfield(L, -2, "kinds");
    ag_orm_open_load(L);
    ag_orm_open_persist(L);
    ag_orm_open_txstate(L);
    lua_setfield(L, -2, "orm");
}
