/*
 * fs.c -- argent.core.fs: the few file-system calls that Lua's standard
 * library lacks and argent.migrate needs to keep a directory of revision
 * files: list a directory, make one, tell a directory from a file.
 *
 * Each returns its result, or nil and a message (as io.open does): a
 * missing directory is an ordinary answer for the caller to word, not an
 * error object.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lua/binding.h"

static int fail(lua_State *L, const char *path) {
    int e = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(e));
    return 2;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* fs.list(dir) -> the names in dir (not "." and ".."), sorted; or nil, message. */
static int fs_list(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    DIR *dir = opendir(path);
    if (!dir) return fail(L, path);
    /* the names go into a Lua table at once (no C buffer to leak if Lua raises) */
    lua_newtable(L);
    int n = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        lua_pushstring(L, entry->d_name);
        lua_rawseti(L, -2, ++n);
    }
    closedir(dir);
    /* sorted in C: copy the pointers out of the table (the strings stay anchored in it) */
    const char **names = ag_lua_newuserdata(L, (size_t)(n ? n : 1) * sizeof *names, 0);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, -2, i + 1);
        names[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    qsort(names, (size_t)n, sizeof *names, compare_names);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* fs.mkdir(path) -> true (also when it is a directory already); or nil, message. */
static int fs_mkdir(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (mkdir(path, 0777) != 0 && !(errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return fail(L, path);
    lua_pushboolean(L, 1);
    return 1;
}

/* fs.kind(path) -> "directory", "file", "other", or nil when nothing is there. */
static int fs_kind(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushstring(L, S_ISDIR(st.st_mode) ? "directory" : S_ISREG(st.st_mode) ? "file" : "other");
    return 1;
}

void ag_lua_open_fs(lua_State *L) {
    static const luaL_Reg funcs[] = {{"list", fs_list}, {"mkdir", fs_mkdir}, {"kind", fs_kind}, {NULL, NULL}};
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
    lua_setfield(L, -2, "fs");
}
