/*
 * database.h -- whether a database exists, creating and dropping it: what
 * argent.database_exists / create_database / drop_database (API.md section
 * 2) and the seed's auto_create_db need, on every dialect.
 *
 * PostgreSQL and MariaDB open one temporary connection (no pool) to the
 * server's maintenance database (PostgreSQL `postgres`, else `template1`;
 * MariaDB none) with
 * the URL's user, password, host, port and query options, and run CREATE /
 * DROP DATABASE with the name quoted as an identifier; existence is read
 * from the catalog (pg_database, information_schema.schemata) with the name
 * bound as a parameter.  SQLite's database is the file: creating opens it
 * (through the driver, so it becomes a real database file), dropping removes
 * it with its -wal, -shm and -journal files.  The in-memory SQLite database
 * always exists; creating or dropping it does nothing.
 *
 * Creating a database that exists, or dropping one that does not, is an
 * AG_ERR_PROGRAMMING (as the servers say), unless if_not_exists / if_exists.
 */
#ifndef ARGENT_ENGINE_DATABASE_H
#define ARGENT_ENGINE_DATABASE_H

#include <stddef.h>

#include "base/error.h"

/* 1 the database exists, 0 it does not, -1 error (err set). */
int ag_database_exists(const char *url, size_t len, ag_error *err);

/* 0 created (or existed, with if_not_exists), -1 error. */
int ag_database_create(const char *url, size_t len, int if_not_exists, ag_error *err);

/* 0 dropped (or was missing, with if_exists), -1 error. */
int ag_database_drop(const char *url, size_t len, int if_exists, ag_error *err);

#endif
