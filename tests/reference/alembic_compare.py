#!/usr/bin/python3
"""alembic_compare.py -- the reference for argent.migrate's autogenerate:
runs Alembic's compare_metadata (Debian's python3-alembic, SQLAlchemy 1.4)
on a database and prints its differences as JSON, in the normalised form
tests/lua/test_migrate_compare.lua compares argent's with.

    /usr/bin/python3 tests/reference/alembic_compare.py MODEL.json

MODEL.json describes the models as argent sees them (migrate_helper.lua
writes it): {"url": argent's URL, "version_table": ..., "tables": [{"name",
"columns": [{"name", "type", "kind", "serial", "nullable", "primary_key",
"default", "comment"}], "indexes": [{"name", "columns", "unique"}], "uniques": [{"name",
"columns"}], "fks": [{"name", "columns", "referred_table", "referred_columns",
"ondelete", "onupdate"}]}]}.  A column's "type" is the DDL text argent writes
for the dialect, so both tools compare the same declared types (a
UserDefinedType compiles to it).  Prints {"diffs": [...], "seconds": s,
"queries": n}: the time compare_metadata took, and the statements it sent.
Run with --repeat N to time the best of N runs (the benchmark).
"""
import json
import sys
import time

import sqlalchemy as sa
from sqlalchemy.types import UserDefinedType
from alembic.migration import MigrationContext
from alembic.autogenerate import compare_metadata


def sa_url(url):
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    if url.startswith("mariadb://") or url.startswith("mysql://"):
        return "mysql+pymysql://" + url.split("://", 1)[1]
    return url


def declared(text):
    class Declared(UserDefinedType):
        cache_ok = True

        def get_col_spec(self, **kw):
            return text
    return Declared()


INTEGERS = {"Integer": sa.Integer, "BigInteger": sa.BigInteger, "SmallInteger": sa.SmallInteger}


def build(model):
    meta = sa.MetaData()
    for t in model["tables"]:
        items = []
        for c in t["columns"]:
            if c.get("serial"):
                typ = INTEGERS.get(c["kind"], sa.Integer)()
            else:
                typ = declared(c["type"])
            kw = {"primary_key": c["primary_key"], "nullable": c["nullable"],
                  "autoincrement": bool(c.get("serial"))}
            if c.get("default") is not None:
                kw["server_default"] = sa.text(c["default"])
            if c.get("comment") is not None:
                kw["comment"] = c["comment"]
            items.append(sa.Column(c["name"], typ, **kw))
        for fk in t.get("fks", []):
            items.append(sa.ForeignKeyConstraint(fk["columns"],
                                                 ["%s.%s" % (fk["referred_table"], rc) for rc in fk["referred_columns"]],
                                                 name=fk.get("name"), ondelete=fk.get("ondelete"),
                                                 onupdate=fk.get("onupdate")))
        for u in t.get("uniques", []):
            items.append(sa.UniqueConstraint(*u["columns"], name=u.get("name")))
        table = sa.Table(t["name"], meta, *items)
        for ix in t.get("indexes", []):
            sa.Index(ix["name"], *[table.c[n] for n in ix["columns"]], unique=ix["unique"])
    return meta


def signature(cols):
    return ",".join(c.name if hasattr(c, "name") else str(c) for c in cols)


def normalise(diff):
    """One of compare_metadata's entries as text (a list for a column's modifications)."""
    if isinstance(diff, list):
        return [normalise(d) for d in diff]
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        return "%s %s" % (kind, diff[1].name)
    if kind in ("add_column", "remove_column"):
        return "%s %s.%s" % (kind, diff[2], diff[3].name)
    if kind in ("modify_type", "modify_nullable", "modify_default", "modify_comment"):
        return "%s %s.%s" % (kind, diff[2], diff[3])
    if kind in ("add_index", "remove_index"):
        return "%s %s" % (kind, diff[1].name)
    if kind in ("add_constraint", "remove_constraint"):
        c = diff[1]
        if isinstance(c, sa.UniqueConstraint):
            return "%s %s(%s)" % ("add_unique" if kind == "add_constraint" else "remove_unique", c.table.name,
                                  signature(c.columns))
        return "%s %s" % (kind, c.name)
    if kind in ("add_fk", "remove_fk"):
        c = diff[1]
        return "%s %s(%s)->%s" % (kind, c.parent.name, signature(c.columns), c.referred_table.name)
    return repr(diff)


def flatten(diffs):
    out = []
    for d in diffs:
        n = normalise(d)
        if isinstance(n, list):
            out.extend(n)
        else:
            out.append(n)
    return out


def main():
    args = sys.argv[1:]
    repeat = 1
    if args and args[0] == "--repeat":
        repeat = int(args[1])
        args = args[2:]
    with open(args[0]) as f:
        model = json.load(f)
    meta = build(model)
    engine = sa.create_engine(sa_url(model["url"]))
    version_table = model.get("version_table", "argent_version")
    counts = {"n": 0}

    @sa.event.listens_for(engine, "before_cursor_execute")
    def count(*_):
        counts["n"] += 1

    def include_object(obj, name, type_, reflected, compare_to):
        return not (type_ == "table" and name == version_table)

    best, diffs, queries = None, None, 0
    for _ in range(repeat):
        with engine.connect() as conn:
            counts["n"] = 0
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                         "include_object": include_object})
            start = time.perf_counter()
            diffs = compare_metadata(ctx, meta)
            seconds = time.perf_counter() - start
            queries = counts["n"]
        best = seconds if best is None else min(best, seconds)
    json.dump({"diffs": flatten(diffs), "seconds": best, "queries": queries}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
