/*
 * orm.h -- what the files of the ORM's C half share (src/orm/: instance.c
 * the instance proxy, load.c rows -> instances and the identity key,
 * persist.c the flush's statements, txstate.[ch] and txstate_lua.c the
 * Session's transaction state machine).
 *
 * The ORM is a layer above the bindings: these files use the bindings'
 * helpers (lua/binding.h, lua/sql_binding.h) and Lua's API, and are linked
 * into the Lua module only, never into argent_core (txstate.c, which has no
 * Lua in it, is also compiled into its C test).  Lua sees all of it as
 * argent.core.orm, which lua/argent/orm/ builds the ORM on.
 */
#ifndef ARGENT_ORM_ORM_H
#define ARGENT_ORM_ORM_H

#include "lua/binding.h"
#include "lua/sql_binding.h"

/* An instance is a full userdata (ag_orm_instance: its state) with the user
 * values UV_* (instance.c describes them). */
#define AG_INSTANCE_TYPE "argent.Instance"

enum { UV_VALUES = 1, UV_MAPPER = 2, UV_DIRTY = 3, UV_SESSION = 4, UV_UNLOADED = 5, UV_COUNT = 5 };

/* What an attribute takes (mapper.attrs[name].kind), from its column's type. */
enum {
    ATTR_RELATIONSHIP = 0, /* an instance, a list of them, or nil */
    ATTR_INTEGER,          /* Integer, BigInteger, SmallInteger: an integer (integral floats converted) */
    ATTR_FLOAT,            /* Float, Double: a number */
    ATTR_NUMERIC,          /* Numeric: a number or a numeric string (exact) */
    ATTR_BOOLEAN,          /* Boolean: a boolean */
    ATTR_STRING,           /* String, Text: a string */
    ATTR_ENUM,             /* Enum: one of the type's values */
    ATTR_TEMPORAL,         /* Date, DateTime, Time: a string in ISO form (mapper's check function) */
    ATTR_BINARY,           /* LargeBinary: a string */
    ATTR_JSON,             /* JSON: a table, string, number or boolean */
};

/* The life-cycle states of API.md section 6; only TRANSIENT is reached
 * before the Session exists. */
typedef enum { STATE_TRANSIENT, STATE_PENDING, STATE_PERSISTENT, STATE_DETACHED, STATE_DELETED } ag_orm_state;

typedef struct ag_orm_instance {
    ag_orm_state state;
    int unloaded; /* user value 5 may hold keys */
} ag_orm_instance;

/* ---- instance.c */
/* The instance at idx, or NULL. */
ag_orm_instance *ag_orm_test_instance(lua_State *L, int idx);
/* The instance at idx, or an ArgumentError naming fname. */
ag_orm_instance *ag_orm_check_instance(lua_State *L, int idx, const char *fname);
/* Raises unless the value at idx is a mapper made by lua/argent/orm/mapper.lua. */
void ag_orm_check_mapper(lua_State *L, int idx);
/* Pushes a new instance of the mapper at mapper_idx with the values table
 * at values_idx, the session at session_idx (0: none), in state st. */
void ag_orm_new_instance(lua_State *L, int mapper_idx, int values_idx, int session_idx, ag_orm_state st);
/* Sets argent.core.orm (the functions of every file here) on the table on top. */
void ag_orm_open(lua_State *L);

/* ---- load.c */
/* Pushes the identity map key of the values table at values_idx for the
 * primary key attribute names in the list at pk_idx (nil when a key value
 * is nil): the one definition of the key (lua/argent/orm/identity.lua asks
 * for it through core.orm.identity_key). */
void ag_orm_push_identity_key(lua_State *L, int values_idx, int pk_idx);
/* Sets identity_key, load, step, column, row_instance in the table on top. */
void ag_orm_open_load(lua_State *L);

/* ---- persist.c */
/* Sets group_insert, insert, mark_inserted, dirty_in in the table on top. */
void ag_orm_open_persist(lua_State *L);

/* ---- txstate_lua.c */
/* Sets txstate (the Session's state machine as a userdata) in the table on top. */
void ag_orm_open_txstate(lua_State *L);

#endif
