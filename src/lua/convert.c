/*
 * convert.c -- Lua values to SQL values and back, in one place: a parameter
 * of SQL text (a scalar or argent.null), a value for a column of an argent
 * type (JSON encoded, dates normalized, instants in UTC, text checked for
 * UTF-8), the argent type objects of lua/argent/types.lua read into
 * ag_sqltype, and the values of result columns converted by their type
 * (booleans from SQLite's 0/1, JSON decoded, Numeric as an exact string or
 * a float with as_number).  Nothing here raises except for memory (and a
 * JSON column's undecodable text); errors go out through ag_error.
 */
#include <stdio.h>
#include <string.h>

#include "base/datetime.h"
#include "base/utf8.h"
#include "lua/binding.h"
#include "lua/sql_binding.h"

/* ---- scalars */

int ag_lua_to_scalar(lua_State *L, int idx, int as_blob, ag_value *out) {
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            out->type = AG_VALUE_INTEGER;
            out->u.integer = lua_tointeger(L, idx);
        } else {
            out->type = AG_VALUE_FLOAT;
            out->u.number = lua_tonumber(L, idx);
        }
        return 0;
    case LUA_TSTRING:
        out->type = as_blob ? AG_VALUE_BLOB : AG_VALUE_TEXT;
        out->u.bytes.data = lua_tolstring(L, idx, &out->u.bytes.len);
        return 0;
    case LUA_TBOOLEAN:
        out->type = AG_VALUE_BOOLEAN;
        out->u.boolean = lua_toboolean(L, idx);
        return 0;
    default:
        if (ag_lua_is_null(L, idx)) {
            out->type = AG_VALUE_NULL;
            return 0;
        }
        return -1;
    }
}

int ag_lua_to_param(lua_State *L, int idx, ag_value *out, const char *what, ag_error *err) {
    if (ag_lua_to_scalar(L, idx, 0, out) == 0) return 0;
    if (lua_isnil(L, idx)) return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "%s is nil; use argent.null for NULL", what);
    return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                        "%s is a %s; parameters must be strings, numbers, booleans or argent.null", what,
                        lua_typename(L, lua_type(L, idx)));
}

/* ---- types */

static const struct {
    const char *name;
    ag_type_kind kind;
} type_names[] = {
    {"Integer", AG_TYPE_INTEGER}, {"BigInteger", AG_TYPE_BIGINT},  {"SmallInteger", AG_TYPE_SMALLINT},
    {"Float", AG_TYPE_FLOAT},     {"Double", AG_TYPE_DOUBLE},      {"Numeric", AG_TYPE_NUMERIC},
    {"Boolean", AG_TYPE_BOOLEAN}, {"String", AG_TYPE_STRING},      {"Text", AG_TYPE_TEXT},
    {"Enum", AG_TYPE_ENUM},       {"Date", AG_TYPE_DATE},          {"DateTime", AG_TYPE_DATETIME},
    {"Time", AG_TYPE_TIME},       {"LargeBinary", AG_TYPE_BINARY}, {"JSON", AG_TYPE_JSON},
};

const char *ag_lua_type_name_at(int i, ag_type_kind *kind) {
    if (i < 0 || i >= (int)(sizeof type_names / sizeof *type_names)) return NULL;
    if (kind) *kind = type_names[i].kind;
    return type_names[i].name;
}

const char *ag_lua_type_name(ag_type_kind kind) {
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
        if (type_names[i].kind == kind) return type_names[i].name;
    return NULL;
}

int ag_lua_to_sqltype(lua_State *L, int idx, ag_sqltype *out) {
    memset(out, 0, sizeof *out);
    if (!lua_istable(L, idx)) return -1;
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, "__type");
    const char *name = lua_tostring(L, -1);
    int found = 0;
    for (size_t i = 0; name && i < sizeof type_names / sizeof *type_names; i++) {
        if (strcmp(name, type_names[i].name) == 0) {
            out->kind = (uint8_t)type_names[i].kind;
            found = 1;
        }
    }
    lua_pop(L, 1);
    if (!found) return -1;
    lua_getfield(L, idx, "length");
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0) out->length = (uint32_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (out->kind == AG_TYPE_NUMERIC) {
        lua_getfield(L, idx, "precision");
        if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0) out->length = (uint32_t)lua_tointeger(L, -1);
        lua_getfield(L, idx, "scale");
        if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0) out->scale = (uint16_t)lua_tointeger(L, -1);
        lua_getfield(L, idx, "as_number");
        out->as_number = (uint8_t)lua_toboolean(L, -1);
        lua_pop(L, 3);
    }
    if (out->kind == AG_TYPE_DATETIME) {
        lua_getfield(L, idx, "timezone");
        out->timezone = (uint8_t)lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    return 0;
}

/* ---- dates and times */

size_t ag_lua_iso_normalize(const char *s, size_t len, char *out) {
    if (len == 0) return 0;
    memcpy(out, s, len);
    if (len >= 11 && out[4] == '-' && out[7] == '-' && out[10] == 'T') out[10] = ' ';
    /* a fraction at the end: trailing zeros go, and the point with them when nothing is left */
    size_t dot = len;
    while (dot > 0 && out[dot - 1] >= '0' && out[dot - 1] <= '9') dot--;
    if (dot > 1 && dot < len + 1 && out[dot - 1] == '.' && memchr(out, ':', dot - 1) && out[dot - 2] >= '0' &&
        out[dot - 2] <= '9') {
        size_t end = len;
        while (end > dot && out[end - 1] == '0') end--;
        if (end == dot) end = dot - 1;
        return end;
    }
    return len;
}

/* ---- Lua values to SQL values */

int ag_lua_convert_in(lua_State *L, int idx, const ag_sqltype *t, ag_value *out, ag_error *err) {
    idx = lua_absindex(L, idx);
    if (t && t->kind == AG_TYPE_JSON && !ag_lua_is_null(L, idx)) {
        if (ag_lua_json_push(L, idx, err) != 0) return -1;
        out->type = AG_VALUE_TEXT;
        out->u.bytes.data = lua_tolstring(L, -1, &out->u.bytes.len);
        return 0;
    }
    if (t && t->kind == AG_TYPE_DATETIME && lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *text = lua_tolstring(L, idx, &len);
        ag_datetime dt;
        int parsed = ag_datetime_parse(text, len, &dt) == 0;
        if (t->timezone) {
            /* an instant: stored as its UTC text on every dialect */
            char utc[AG_DATETIME_TEXT_MAX];
            size_t n;
            if (!parsed || !dt.has_offset || (n = ag_datetime_format_utc(&dt, utc)) == 0)
                return ag_error_set(err, AG_ERR_DATA, NULL,
                                    "DateTime{timezone = true} takes a date and time with a UTC offset "
                                    "(like \"2026-11-24 02:26:03+05:00\" or \"2026-11-24T02:26:03Z\"), got '%.40s'",
                                    text);
            lua_pushlstring(L, utc, n);
            out->type = AG_VALUE_TEXT;
            out->u.bytes.data = lua_tolstring(L, -1, &out->u.bytes.len);
            return 0;
        }
        if (parsed && dt.has_offset)
            return ag_error_set(err, AG_ERR_DATA, NULL,
                                "a DateTime column holds a time without a time zone and takes no UTC offset, "
                                "got '%.40s' (use DateTime{timezone = true} for instants)",
                                text);
    }
    if (t && (t->kind == AG_TYPE_DATETIME || t->kind == AG_TYPE_TIME) && lua_type(L, idx) == LUA_TSTRING) {
        /* one text for one instant: "2026-11-24T02:26:03.000" is stored as "2026-11-24 02:26:03" */
        size_t len;
        const char *text = lua_tolstring(L, idx, &len);
        char buf[64];
        if (len < sizeof buf) {
            size_t n = ag_lua_iso_normalize(text, len, buf);
            if (n != len || memcmp(buf, text, len) != 0) {
                lua_pushlstring(L, buf, n);
                out->type = AG_VALUE_TEXT;
                out->u.bytes.data = lua_tolstring(L, -1, &out->u.bytes.len);
                return 0;
            }
        }
    }
    if (t && (t->kind == AG_TYPE_STRING || t->kind == AG_TYPE_TEXT) && lua_type(L, idx) == LUA_TSTRING) {
        /* the same DataError on every dialect for what PostgreSQL cannot
         * store, MariaDB refuses in part and SQLite would keep as bytes */
        size_t len, where = 0;
        const char *text = lua_tolstring(L, idx, &len);
        ag_utf8_status status = ag_utf8_check(text, len, &where);
        if (status == AG_UTF8_ZERO)
            return ag_error_set(err, AG_ERR_DATA, "22021",
                                "a String or Text value cannot hold a zero byte (use LargeBinary for binary data)");
        if (status == AG_UTF8_INVALID)
            return ag_error_set(err, AG_ERR_DATA, "22021",
                                "a String or Text value must be UTF-8; byte %zu is not (use LargeBinary for "
                                "binary data)",
                                where + 1);
    }
    if (t && (t->kind == AG_TYPE_INTEGER || t->kind == AG_TYPE_BIGINT || t->kind == AG_TYPE_SMALLINT)) {
        /* 64-bit integers (API.md section 10): a decimal string is stored as
         * that integer, exactly; before 5.3 a number beyond 2^53 may have been
         * rounded already, so it is refused rather than stored rounded */
        size_t len = 0;
        const char *text = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;
        if (text && ag_lua_parse_int64(text, len, &out->u.integer)) {
            out->type = AG_VALUE_INTEGER;
            return 0;
        }
        if (ag_lua_number_is_unsafe_integer(L, idx))
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                "the number %.17g is beyond 2^53, where this Lua's numbers (doubles) skip "
                                "integers: write the integer as a decimal string",
                                (double)lua_tonumber(L, idx));
    }
    if (ag_lua_to_scalar(L, idx, t && t->kind == AG_TYPE_BINARY, out) == 0) return 0;
    switch (lua_type(L, idx)) {
    case LUA_TFUNCTION:
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                            "a Lua function cannot be a SQL value (call it, or use a SQL expression)");
    case LUA_TTABLE:
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                            "a Lua table cannot be a SQL value here (only JSON columns take tables)");
    default: return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "a %s cannot be a SQL value", ag_lua_typename(L, idx));
    }
}

/* ---- SQL values to Lua values */

void ag_lua_push_value(lua_State *L, const ag_value *v) {
    switch (v->type) {
    case AG_VALUE_INTEGER: ag_lua_pushint64(L, v->u.integer); break;
    case AG_VALUE_FLOAT: lua_pushnumber(L, v->u.number); break;
    case AG_VALUE_TEXT:
    case AG_VALUE_BLOB: lua_pushlstring(L, v->u.bytes.data ? v->u.bytes.data : "", v->u.bytes.len); break;
    case AG_VALUE_BOOLEAN: lua_pushboolean(L, v->u.boolean); break;
    default: lua_pushnil(L); break;
    }
}

void ag_lua_push_typed(lua_State *L, const ag_sqltype *t, const ag_value *v) {
    if (!t || v->type == AG_VALUE_NULL) {
        ag_lua_push_value(L, v);
        return;
    }
    switch (t->kind) {
    case AG_TYPE_BOOLEAN:
        if (v->type == AG_VALUE_INTEGER) {
            lua_pushboolean(L, v->u.integer != 0);
            return;
        }
        break;
    case AG_TYPE_FLOAT:
    case AG_TYPE_DOUBLE:
        if (v->type == AG_VALUE_INTEGER) {
            lua_pushnumber(L, (lua_Number)v->u.integer);
            return;
        }
        /* a decimal text (MariaDB's `/`) reads as a number */
        __attribute__((fallthrough));
    case AG_TYPE_INTEGER:
    case AG_TYPE_BIGINT:
    case AG_TYPE_SMALLINT:
        if (v->type == AG_VALUE_TEXT && v->u.bytes.len < 64) {
            char text[64];
            memcpy(text, v->u.bytes.data, v->u.bytes.len);
            text[v->u.bytes.len] = '\0';
            if (lua_stringtonumber(L, text) != 0) return;
        }
        break;
    case AG_TYPE_DATETIME:
        if (t->timezone && v->type == AG_VALUE_TEXT) {
            /* an instant: its UTC text, whatever zone the database printed it
             * in (PostgreSQL: the session's) or none (MariaDB's DATETIME and
             * SQLite's text hold UTC) */
            ag_datetime dt;
            char utc[AG_DATETIME_TEXT_MAX];
            size_t n;
            if (ag_datetime_parse(v->u.bytes.data, v->u.bytes.len, &dt) == 0 &&
                (n = ag_datetime_format_utc(&dt, utc)) > 0) {
                lua_pushlstring(L, utc, n);
                return;
            }
        }
        __attribute__((fallthrough));
    case AG_TYPE_TIME:
        if (v->type == AG_VALUE_TEXT && v->u.bytes.len < 64) {
            char text[64];
            lua_pushlstring(L, text, ag_lua_iso_normalize(v->u.bytes.data, v->u.bytes.len, text));
            return;
        }
        break;
    case AG_TYPE_JSON:
        if (v->type == AG_VALUE_TEXT) {
            ag_error err;
            if (ag_lua_json_decode(L, v->u.bytes.data ? v->u.bytes.data : "", v->u.bytes.len, &err) != 0)
                ag_lua_raise(L, &err, NULL);
            return;
        }
        break;
    case AG_TYPE_NUMERIC:
        if (t->as_number) {
            if (v->type == AG_VALUE_TEXT) {
                lua_pushlstring(L, v->u.bytes.data, v->u.bytes.len);
                if (lua_stringtonumber(L, lua_tostring(L, -1)) != 0) {
                    lua_Number d = lua_tonumber(L, -1);
                    lua_pop(L, 2);
                    lua_pushnumber(L, d);
                }
                return;
            }
            if (v->type == AG_VALUE_INTEGER) {
                lua_pushnumber(L, (lua_Number)v->u.integer);
                return;
            }
        } else if (v->type == AG_VALUE_INTEGER || v->type == AG_VALUE_FLOAT) {
            /* SQLite keeps NUMERIC as a number: give it back with the column's scale */
            char text[64];
            double d = v->type == AG_VALUE_INTEGER ? (double)v->u.integer : v->u.number;
            if (v->type == AG_VALUE_INTEGER && t->scale == 0)
                snprintf(text, sizeof text, "%lld", (long long)v->u.integer);
            else if (t->length || t->scale) snprintf(text, sizeof text, "%.*f", (int)t->scale, d);
            else snprintf(text, sizeof text, "%.17g", d);
            lua_pushstring(L, text);
            return;
        }
        break;
    default: break;
    }
    ag_lua_push_value(L, v);
}

void ag_lua_push_bind_value(lua_State *L, const ag_node *b) {
    if (!(b->flags & AG_BIND_HAS_VALUE)) lua_pushnil(L);
    else if (b->value.type == AG_VALUE_NULL) ag_lua_push_null(L);
    else ag_lua_push_value(L, &b->value);
}
