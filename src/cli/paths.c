/*
 * paths.c -- where the argent command finds argent's Lua files and its C
 * module, so that `require "argent"` loads the copy that belongs to this
 * command and no other.
 *
 * Two layouts:
 *  - the build tree: the command is <build>/argent, the Lua files are the
 *    source tree's lua/ (and the source tree itself, for `require
 *    "models.blog"`), the module is <build>/lib/argent/core.so;
 *  - an installation (`cmake --install`, `luarocks make`): the command is
 *    <prefix>/bin/argent, the Lua files are under <prefix>/share/lua/V and
 *    the module under <prefix>/lib/lua/V (V is the Lua ABI: 5.4, 5.3, 5.1).
 * The command tells them apart by where its own executable is
 * (/proc/self/exe): installed when <prefix>/share/lua/V/argent/init.lua is
 * there, the build tree otherwise.  Nothing is read from the environment
 * here: LUA_PATH and LUA_CPATH still apply after these directories.
 */
#include "cli/cli.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(ARGENT_LUA_DIR) || !defined(ARGENT_BUILD_DIR) || !defined(ARGENT_SOURCE_DIR) || \
    !defined(ARGENT_LUA_ABI) || !defined(ARGENT_INSTALL_LMOD) || !defined(ARGENT_INSTALL_CMOD)
#error "the ARGENT_* directories must be defined (CMakeLists.txt)"
#endif

/* The installed prefix of this executable (<prefix>/bin/argent -> <prefix>), or 0. */
static int installed_prefix(char *out, size_t size) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) { /* drop "/argent", then "/bin" */
        char *slash = strrchr(exe, '/');
        if (!slash) return 0;
        *slash = '\0';
    }
    char probe[PATH_MAX + 64];
    struct stat st;
    if (snprintf(probe, sizeof probe, "%s/" ARGENT_INSTALL_LMOD "/argent/init.lua", exe) >= (int)sizeof probe ||
        stat(probe, &st) != 0)
        return 0;
    if (snprintf(out, size, "%s", exe) >= (int)size) return 0;
    return 1;
}

int ag_cli_module_paths(char *path, size_t path_size, char *cpath, size_t cpath_size) {
    char prefix[PATH_MAX];
    int w1, w2;
    if (installed_prefix(prefix, sizeof prefix)) {
        w1 = snprintf(path, path_size, "%s/" ARGENT_INSTALL_LMOD "/?.lua;%s/" ARGENT_INSTALL_LMOD "/?/init.lua;",
                      prefix, prefix);
        w2 = snprintf(cpath, cpath_size, "%s/" ARGENT_INSTALL_CMOD "/?.so;", prefix);
    } else {
        w1 = snprintf(path, path_size, "%s",
                      ARGENT_LUA_DIR "/?.lua;" ARGENT_LUA_DIR "/?/init.lua;" ARGENT_SOURCE_DIR "/?.lua;");
        /* <build>/lib, not <build>: there "argent" is this command's file name */
        w2 = snprintf(cpath, cpath_size, "%s", ARGENT_BUILD_DIR "/lib/?.so;");
    }
    return w1 > 0 && (size_t)w1 < path_size && w2 > 0 && (size_t)w2 < cpath_size ? 0 : -1;
}
