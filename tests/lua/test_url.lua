-- tests/lua/test_url.lua -- argent.make_url (src/lua/url.c), API.md section 2.
--
-- Every URL form a SQLAlchemy user may paste, the fields of the URL object,
-- percent-decoding, the password mask of tostring, and the malformed URLs that
-- must be an ArgumentError.  Needs no database: it runs the same in every mode.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

TestMakeUrl = {}

function TestMakeUrl:test_sqlite_relative_path()
    local u = argent.make_url("sqlite:///relative.db")
    lu.assertEquals(u.drivername, "sqlite")
    lu.assertEquals(u.dialect, "sqlite")
    lu.assertEquals(u.database, "relative.db")
    lu.assertIsNil(u.username)
    lu.assertIsNil(u.password)
    lu.assertIsNil(u.host)
    lu.assertIsNil(u.port)
end

function TestMakeUrl:test_sqlite_absolute_path()
    local u = argent.make_url("sqlite:////abs/path.db")
    lu.assertEquals(u.dialect, "sqlite")
    lu.assertEquals(u.database, "/abs/path.db")
end

-- src/base/url.h: every in-memory form has database ":memory:".
function TestMakeUrl:test_sqlite_empty_is_memory()
    local u = argent.make_url("sqlite://")
    lu.assertEquals(u.dialect, "sqlite")
    lu.assertEquals(u.database, ":memory:")
end

function TestMakeUrl:test_sqlite_memory()
    local u = argent.make_url("sqlite:///:memory:")
    lu.assertEquals(u.dialect, "sqlite")
    lu.assertEquals(u.database, ":memory:")
end

function TestMakeUrl:test_postgresql_all_fields()
    local u = argent.make_url("postgresql://user:pass@host:5432/db?k=v")
    lu.assertEquals(u.drivername, "postgresql")
    lu.assertEquals(u.dialect, "postgresql")
    lu.assertEquals(u.username, "user")
    lu.assertEquals(u.password, "pass")
    lu.assertEquals(u.host, "host")
    lu.assertEquals(u.port, 5432)
    lu.assertEquals(math.type(u.port), "integer")
    lu.assertEquals(u.database, "db")
    lu.assertEquals(u.query, {k = "v"})
end

function TestMakeUrl:test_query_is_a_table_of_all_keys()
    local u = argent.make_url("postgresql://u@h/db?sslmode=disable&connect_timeout=5")
    lu.assertEquals(u.query, {sslmode = "disable", connect_timeout = "5"})
end

function TestMakeUrl:test_query_is_empty_table_when_absent()
    local u = argent.make_url("postgresql://u@h/db")
    lu.assertEquals(type(u.query), "table")
    lu.assertIsNil(next(u.query))
end

function TestMakeUrl:test_port_is_nil_when_absent()
    local u = argent.make_url("postgresql://u:p@h/db")
    lu.assertIsNil(u.port)
    lu.assertEquals(u.host, "h")
end

function TestMakeUrl:test_postgresql_without_user()
    local u = argent.make_url("postgresql://localhost/db")
    lu.assertIsNil(u.username)
    lu.assertIsNil(u.password)
    lu.assertEquals(u.host, "localhost")
    lu.assertEquals(u.database, "db")
end

function TestMakeUrl:test_user_without_password()
    local u = argent.make_url("postgresql://ann@h:5433/db")
    lu.assertEquals(u.username, "ann")
    lu.assertIsNil(u.password)
    lu.assertEquals(u.port, 5433)
end

function TestMakeUrl:test_ipv6_host_in_brackets()
    local u = argent.make_url("postgresql://u@[::1]:5432/db")
    lu.assertEquals(u.host, "::1")
    lu.assertEquals(u.port, 5432)
end

function TestMakeUrl:test_postgres_alias_is_postgresql()
    local u = argent.make_url("postgres://u:p@h/db")
    lu.assertEquals(u.dialect, "postgresql")
    lu.assertEquals(u.database, "db")
end

function TestMakeUrl:test_mariadb()
    local u = argent.make_url("mariadb://user:pass@host:3306/db")
    lu.assertEquals(u.drivername, "mariadb")
    lu.assertEquals(u.dialect, "mariadb")
    lu.assertEquals(u.username, "user")
    lu.assertEquals(u.password, "pass")
    lu.assertEquals(u.host, "host")
    lu.assertEquals(u.port, 3306)
    lu.assertEquals(u.database, "db")
end

function TestMakeUrl:test_mysql_alias_is_mariadb()
    local u = argent.make_url("mysql://user:pass@host:3306/db")
    lu.assertEquals(u.dialect, "mariadb")
end

function TestMakeUrl:test_driver_suffix_postgresql_psycopg2()
    local u = argent.make_url("postgresql+psycopg2://u:p@h:5432/db")
    lu.assertEquals(u.drivername, "postgresql+psycopg2")
    lu.assertEquals(u.dialect, "postgresql")
    lu.assertEquals(u.host, "h")
    lu.assertEquals(u.database, "db")
end

function TestMakeUrl:test_driver_suffix_mariadb_pymysql()
    local u = argent.make_url("mariadb+pymysql://u:p@h/db")
    lu.assertEquals(u.drivername, "mariadb+pymysql")
    lu.assertEquals(u.dialect, "mariadb")
end

function TestMakeUrl:test_driver_suffix_mysql_pymysql()
    local u = argent.make_url("mysql+pymysql://u:p@h/db")
    lu.assertEquals(u.dialect, "mariadb")
end

function TestMakeUrl:test_user_and_password_are_percent_decoded()
    local u = argent.make_url("postgresql://us%40er:p%40ss%3Aw%2Fd%25@h/db")
    lu.assertEquals(u.username, "us@er")
    lu.assertEquals(u.password, "p@ss:w/d%")
    lu.assertEquals(u.host, "h")
end

-- several hosts (PostgreSQL)

function TestMakeUrl:test_a_list_of_hosts()
    local u = argent.make_url("postgresql://u:s3cret@h1:5432,h2:5433/db?target_session_attrs=read-write")
    lu.assertEquals(u.host, "h1")
    lu.assertEquals(u.port, 5432)
    lu.assertEquals(u.hosts, {{host = "h1", port = 5432}, {host = "h2", port = 5433}})
    lu.assertEquals(tostring(u), "postgresql://u:***@h1:5432,h2:5433/db?target_session_attrs=read-write")
    lu.assertEquals(argent.make_url("postgresql://h/db").hosts, {{host = "h"}})
    helper.assert_error("ArgumentError", "empty host", argent.make_url, "postgresql://h1,,h2/db")
    helper.assert_error("ArgumentError", "PostgreSQL only", argent.make_url, "mariadb://h1,h2/db")
end

-- tostring and the password mask

function TestMakeUrl:test_tostring_masks_password()
    local s = tostring(argent.make_url("postgresql://u:s3cret@h:5432/db"))
    lu.assertEquals(s, "postgresql://u:***@h:5432/db")
end

function TestMakeUrl:test_tostring_never_contains_percent_encoded_password()
    local s = tostring(argent.make_url("postgresql://u:s3%40cret@h/db"))
    lu.assertNotStrContains(s, "s3")
    lu.assertNotStrContains(s, "cret")
    lu.assertStrContains(s, "***")
end

function TestMakeUrl:test_tostring_without_password_is_unchanged()
    lu.assertEquals(tostring(argent.make_url("postgresql://u@h/db")), "postgresql://u@h/db")
end

function TestMakeUrl:test_tostring_of_sqlite_url()
    lu.assertEquals(tostring(argent.make_url("sqlite:///relative.db")), "sqlite:///relative.db")
    lu.assertEquals(tostring(argent.make_url("sqlite:////abs/path.db")), "sqlite:////abs/path.db")
end

-- malformed URLs

function TestMakeUrl:test_empty_string_is_argument_error()
    helper.assert_error("ArgumentError", nil, argent.make_url, "")
end

function TestMakeUrl:test_no_scheme_is_argument_error()
    helper.assert_error("ArgumentError", nil, argent.make_url, "nonsense")
end

function TestMakeUrl:test_unknown_scheme_is_argument_error()
    helper.assert_error("ArgumentError", nil, argent.make_url, "foo://x")
end

function TestMakeUrl:test_non_numeric_port_is_argument_error()
    helper.assert_error("ArgumentError", nil, argent.make_url, "postgresql://u@h:abc/db")
end

function TestMakeUrl:test_port_out_of_range_is_argument_error()
    helper.assert_error("ArgumentError", nil, argent.make_url, "postgresql://u@h:70000/db")
end

function TestMakeUrl:test_scheme_without_slashes_is_argument_error()
    helper.assert_error("ArgumentError", nil, argent.make_url, "sqlite:")
end

-- src/base/url.h: a SQLite URL has no user, password, host or port.
function TestMakeUrl:test_sqlite_with_host_is_argument_error()
    helper.assert_error("ArgumentError", nil, argent.make_url, "sqlite://somehost/x.db")
end

function TestMakeUrl:test_error_message_masks_the_password()
    local err = helper.assert_error("ArgumentError", nil, argent.make_url,
                                    "postgresql://u:s3cret@h:abc/db")
    lu.assertNotStrContains(err.message, "s3cret")
    lu.assertNotStrContains(tostring(err), "s3cret")
end

function TestMakeUrl:test_number_argument_is_argument_error_naming_url()
    helper.assert_error("ArgumentError", "url", argent.make_url, 42)
end

function TestMakeUrl:test_nil_argument_is_argument_error_naming_url()
    helper.assert_error("ArgumentError", "url", argent.make_url, nil)
end

os.exit(helper.run(), true)
