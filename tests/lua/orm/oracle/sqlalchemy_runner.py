#!/usr/bin/python3
"""sqlalchemy_runner.py -- the SQLAlchemy side of argent's differential test.

    /usr/bin/python3 sqlalchemy_runner.py URL MODELS.json SCENARIOS.json > RESULTS.json

Runs every scenario of SCENARIOS.json (see runner.lua, which does the same
through argent, for the step vocabulary) on the database at URL (an argent
URL: sqlite:///path, sqlite://, postgresql://..., mariadb://...) with
SQLAlchemy 1.4's ORM in 2.0 style (Session(future=True): no cascade along
backrefs), and prints the results as JSON: per scenario, the value each
step observed and the final rows of every table of its model set.

Debian's python3-sqlalchemy (1.4), python3-psycopg2 and python3-pymysql;
run with /usr/bin/python3 (their only home).  Nothing here may differ from
runner.lua but the library it drives.
"""
import json
import sys
import warnings

import sqlalchemy as sa
from sqlalchemy import event, exc, inspect
from sqlalchemy.orm import Session, declarative_base, relationship

warnings.simplefilter("ignore")  # (SAWarnings: "not in session, add operation will not proceed", ...)

KINDS = ["ArgumentError", "InterfaceError", "OperationalError", "IntegrityError", "ProgrammingError",
         "DataError", "NotSupportedError", "TimeoutError", "NoResultFound", "MultipleResultsFound",
         "DetachedInstanceError", "InvalidRequestError"]


class Boom(Exception):
    """Raised by a scenario to leave a transaction block."""


def sa_url(url):
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    if url.startswith("mariadb://") or url.startswith("mysql://"):
        return "mysql+pymysql://" + url.split("://", 1)[1] + "?charset=utf8mb4"
    return url


def kind_of(e):
    """The argent error kind of a Python exception (its first class with a known name)."""
    if isinstance(e, (ValueError, TypeError, KeyError, AttributeError)) and not isinstance(e, exc.SQLAlchemyError):
        return "ArgumentError"
    if type(e).__name__ == "StaleDataError":
        # argent has no StaleDataError kind: a flush UPDATE that matched no
        # row is an InvalidRequestError there
        return "InvalidRequestError"
    for cls in type(e).__mro__:
        if cls.__name__ in KINDS:
            return cls.__name__
        if isinstance(e, exc.DBAPIError):
            orig = type(e).__name__
            if orig in KINDS:
                return orig
    return "Python:" + type(e).__name__


TYPES = {"Integer": sa.Integer, "String": sa.String, "Text": sa.Text, "DateTime": sa.DateTime,
         "Boolean": sa.Boolean}


def make_column(spec):
    key, typ, o = spec
    t = TYPES[typ](o["length"]) if typ == "String" and "length" in o else TYPES[typ]()
    args = [o.get("name", key), t]
    if "foreign_key" in o:
        args.append(sa.ForeignKey(o["foreign_key"]))
    kw = {"key": key}
    for k in ("primary_key", "nullable", "index", "autoincrement"):
        if k in o:
            kw[k] = o[k]
    if o.get("default") == "current_timestamp":
        kw["default"] = sa.func.current_timestamp()
    return sa.Column(*args, **kw)


class ModelSet:
    def __init__(self, name, desc):
        self.name = name
        self.Base = declarative_base()
        meta = self.Base.metadata
        self.tables = {}
        for tname, cols in desc["tables"]:
            self.tables[tname] = sa.Table(tname, meta, *[make_column(c) for c in cols])
        self.models, self.desc, self.volatile, self.ordered = {}, {}, {}, {}
        for m in desc["models"]:
            attrs = {"__tablename__": m["table"]}
            vol = set()
            for c in m["columns"]:
                attrs[c[0]] = make_column(c)
                if c[2].get("volatile"):
                    vol.add(c[0])
            for key, target, o in m["relationships"]:
                kw = {}
                for k in ("back_populates", "cascade", "uselist", "lazy"):
                    if k in o:
                        kw[k] = o[k]
                if "secondary" in o:
                    kw["secondary"] = o["secondary"]
                if "remote_side" in o:
                    kw["remote_side"] = "%s.%s" % (m["name"], o["remote_side"])
                if "order_by" in o:
                    kw["order_by"] = "%s.%s" % (target, o["order_by"])
                    self.ordered[(m["name"], key)] = True
                if "foreign_keys" in o:
                    kw["foreign_keys"] = "[%s]" % o["foreign_keys"]
                attrs[key] = relationship(target, **kw)
            self.models[m["name"]] = type(m["name"], (self.Base,), attrs)
            self.desc[m["name"]] = m
            self.volatile[m["name"]] = vol
        sa.orm.configure_mappers()

    def sorted_tables(self):
        return self.Base.metadata.sorted_tables


class Runner:
    def __init__(self, engine, sets):
        self.engine = engine
        self.sets = sets

    # ---- values as observed
    def repr_obj(self, o):
        if o is None:
            return None
        for name, obj in self.names:
            if obj is o:
                return "@" + name
        i = inspect(o)
        ident = i.identity
        if ident is None:
            return "%s#?" % type(o).__name__
        return "%s#%s" % (type(o).__name__, ",".join(str(v) for v in ident))

    def bind(self, var, obj):
        self.vars[var] = obj
        if obj is not None and not any(o is obj for _, o in self.names):
            self.names.append((var, obj))

    def column_value(self, model, attr, v):
        if attr in self.ms.volatile[model]:
            return None if v is None else "<set>"
        return v

    def read(self, obj, attr):
        model = type(obj).__name__
        i = inspect(obj)
        if attr in self.pk_attrs(type(obj)) and attr not in obj.__dict__ and id(obj) in self.known_pk:
            # Documented difference: argent never expires a primary key
            # (reading it needs no row); SQLAlchemy expires it with the rest,
            # so reading it may load, or fail (detached, or after a failed flush)
            return self.known_pk[id(obj)][attr]
        v = getattr(obj, attr)
        rel = inspect(type(obj)).relationships.get(attr)
        if rel is None:
            return self.column_value(model, attr, v)
        if rel.uselist:
            out = [self.repr_obj(x) for x in v]
            if not self.ms.ordered.get((model, attr)):
                out.sort(key=lambda s: (s is None, s))
            return out
        return self.repr_obj(v)

    def pk_attrs(self, cls):
        return [inspect(cls).get_property_by_column(c).key for c in inspect(cls).primary_key]

    def remember_pks(self):
        """The primary key each bound object last had (see read)."""
        for _, obj in self.names:
            keys = self.pk_attrs(type(obj))
            if all(k in obj.__dict__ and obj.__dict__[k] is not None for k in keys):
                self.known_pk[id(obj)] = {k: obj.__dict__[k] for k in keys}

    def detach_deleted(self):
        """Documented difference: SQLAlchemy 1.4 leaves a deleted object
        attached to its session after a commit with expire_on_commit=False,
        although its documentation says that it becomes detached (as it does
        with expire_on_commit=True); argent follows the documentation."""
        states = [inspect(obj) for _, obj in self.names]
        gone = [st for st in states if st.deleted or (st.was_deleted and st.session is not None)]
        if gone:
            sa.orm.state.InstanceState._detach_states(gone, self.s)

    def value(self, v):
        """A scenario value: "@x" is the object of variable x, a list of them a list."""
        if isinstance(v, str) and v.startswith("@"):
            return self.vars[v[1:]]
        if isinstance(v, list):
            return [self.value(x) for x in v]
        return v

    def model(self, name):
        return self.ms.models[name]

    def conditions(self, model, where):
        return [getattr(model, k) == v for k, v in sorted(where.items())]

    # ---- steps
    def new_session(self, opts):
        if self.s is not None:
            self.s.close()
        self.s = Session(self.engine, future=True, expire_on_commit=opts.get("expire_on_commit", True),
                         autoflush=opts.get("autoflush", True))

    def step(self, st):
        op = st[0]
        s = self.s
        if op == "session":
            self.new_session(st[1] if len(st) > 1 else {})
        elif op == "new":
            cls = self.model(st[2])
            kw = {k: self.value(v) for k, v in (st[3] if len(st) > 3 else {}).items()}
            self.bind(st[1], cls(**kw))
        elif op == "add":
            objs = [self.vars[v] for v in st[1:]]
            if len(objs) == 1:
                s.add(objs[0])
            else:
                s.add_all(objs)
        elif op == "delete":
            s.delete(self.vars[st[1]])
        elif op == "expunge":
            s.expunge(self.vars[st[1]])
        elif op == "set":
            setattr(self.vars[st[1]], st[2], self.value(st[3]))
        elif op == "append":
            # argent's collections hold an object once (appending a member
            # again does nothing); SQLAlchemy's lists would hold it twice --
            # a documented difference, left out of the comparison here
            coll, member = getattr(self.vars[st[1]], st[2]), self.value(st[3])
            if not any(x is member for x in coll):
                coll.append(member)
        elif op == "remove":
            getattr(self.vars[st[1]], st[2]).remove(self.value(st[3]))
        elif op == "remove_any":
            coll = getattr(self.vars[st[1]], st[2])
            if len(coll) == 0:
                return "empty"
            members = sorted(coll, key=lambda o: self.repr_obj(o) or "")
            victim = members[st[3] % len(members)]
            coll.remove(victim)
            return self.repr_obj(victim)
        elif op == "flush":
            s.flush()
        elif op == "commit":
            s.commit()
            self.detach_deleted()
        elif op == "rollback":
            s.rollback()
        elif op == "close":
            s.close()
        elif op == "expire":
            if len(st) > 2:
                s.expire(self.vars[st[1]], st[2])
            else:
                s.expire(self.vars[st[1]])
        elif op == "expire_all":
            s.expire_all()
        elif op == "refresh":
            s.refresh(self.vars[st[1]])
        elif op == "get":
            obj = s.get(self.model(st[2]), st[3])
            if st[1]:
                self.bind(st[1], obj)
            return self.repr_obj(obj)
        elif op == "query":
            cls = self.model(st[1])
            o = st[2] if len(st) > 2 else {}
            q = s.query(cls)
            if "where" in o:
                q = q.filter(*self.conditions(cls, o["where"]))
            order = o.get("order_by", "id")
            q = q.order_by(getattr(cls, order[1:]).desc() if order.startswith("-") else getattr(cls, order))
            if "limit" in o:
                q = q.limit(o["limit"])
            if "offset" in o:
                q = q.offset(o["offset"])
            res = q.all()
            for var, obj in zip(o.get("bind", []), res):
                self.bind(var, obj)
            return [self.repr_obj(x) for x in res]
        elif op == "count":
            cls = self.model(st[1])
            q = s.query(cls)
            if len(st) > 2:
                q = q.filter(*self.conditions(cls, st[2]))
            return q.count()
        elif op == "read":
            return self.read(self.vars[st[1]], st[2])
        elif op == "len":
            return len(getattr(self.vars[st[1]], st[2]))
        elif op == "state":
            i = inspect(self.vars[st[1]])
            for name in ("transient", "pending", "persistent", "deleted", "detached"):
                if getattr(i, name):
                    return name
        elif op == "merge":
            obj = s.merge(self.vars[st[2]])
            self.bind(st[1], obj)
            return self.repr_obj(obj)
        elif op == "bulk_update":
            cls = self.model(st[1])
            s.execute(sa.update(cls).where(*self.conditions(cls, st[2])).values(**st[3]))
        elif op == "bulk_delete":
            cls = self.model(st[1])
            s.execute(sa.delete(cls).where(*self.conditions(cls, st[2])))
        elif op == "sql":
            s.execute(sa.text(st[1]))
        elif op in ("nested", "begin"):
            try:
                with (s.begin_nested() if op == "nested" else s.begin()):
                    for inner in st[1]:
                        self.run_step(inner, True)
                    if len(st) > 2 and st[2]:
                        raise Boom()
            except Boom:
                return "failed"
            if op == "begin":
                self.detach_deleted()
            return "ok"
        else:
            raise RuntimeError("unknown step %r" % (op,))
        return True

    USES_VAR = {"add", "delete", "expunge", "set", "append", "remove", "remove_any", "expire", "refresh",
                "read", "len", "state"}

    def unbound(self, st):
        """Does the step name a variable that holds no object (a get that found none)?"""
        def ref(v):
            if isinstance(v, str) and v.startswith("@"):
                return self.vars.get(v[1:]) is None
            if isinstance(v, list):
                return any(ref(x) for x in v)
            return False
        op = st[0]
        if op in self.USES_VAR:
            for name in (st[1:] if op == "add" else st[1:2]):
                if self.vars.get(name) is None:
                    return True
            if op in ("set", "append", "remove"):
                return ref(st[3])
        elif op == "merge":
            return self.vars.get(st[2]) is None
        elif op == "new":
            return any(ref(v) for v in (st[3] if len(st) > 3 else {}).values())
        return False

    def run_step(self, st, propagate=False):
        self.remember_pks()
        if self.unbound(st):
            self.obs.append("unbound")
            return
        try:
            obs = self.step(st)
        except Boom:
            raise
        except Exception as e:  # pylint: disable=broad-except
            obs = {"error": kind_of(e)}
            self.notes.append("%s: %s" % (json.dumps(st), str(e).split("\n")[0]))
            self.obs.append(obs)
            if propagate:
                raise
            return
        self.obs.append(obs)

    # ---- scenarios
    def reset(self, ms):
        with self.engine.begin() as c:
            d = self.engine.dialect.name
            if d == "mysql":  # (MariaDB checks foreign keys row by row)
                c.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
            for t in reversed(ms.sorted_tables()):
                c.execute(t.delete())
            if d == "mysql":
                c.execute(sa.text("SET FOREIGN_KEY_CHECKS = 1"))
            for t in ms.sorted_tables():
                pk = [col for col in t.primary_key.columns]
                if len(pk) != 1 or not isinstance(pk[0].type, sa.Integer) or t.name in ms.tables:
                    continue
                if d == "postgresql":
                    c.execute(sa.text("SELECT setval(pg_get_serial_sequence(:t, :c), 1, false)"),
                              {"t": t.name, "c": pk[0].name})
                elif d == "mysql":
                    n = c.execute(sa.text("SELECT auto_increment FROM information_schema.tables "
                                          "WHERE table_schema = DATABASE() AND table_name = :t"),
                                  {"t": t.name}).scalar()
                    if n is not None and n > 1:
                        c.execute(sa.text("ALTER TABLE %s AUTO_INCREMENT = 1" % t.name))

    def rows(self, ms):
        out = {}
        with self.engine.connect() as c:
            for t in ms.sorted_tables():
                model = None
                for name, m in ms.desc.items():
                    if m["table"] == t.name:
                        model = name
                cols = list(t.columns)
                res = c.execute(sa.select(t).order_by(*t.primary_key.columns))
                rows = []
                for r in res:
                    row = []
                    for col, v in zip(cols, r):
                        if model is not None:
                            key = [c2[0] for c2 in ms.desc[model]["columns"] if c2[2].get("name", c2[0]) == col.name][0]
                            v = self.column_value(model, key, v)
                        row.append(v)
                    rows.append(row)
                out[t.name] = rows
        return out

    def run(self, sc):
        self.ms = self.sets[sc["models"]]
        self.vars, self.names, self.obs, self.notes, self.known_pk = {}, [], [], [], {}
        self.s = None
        self.reset(self.ms)
        self.new_session(sc.get("session", {}))
        for st in sc["steps"]:
            self.run_step(st)
        try:
            self.s.close()
        except Exception as e:  # pylint: disable=broad-except
            self.obs.append({"error": kind_of(e)})
        return {"obs": self.obs, "rows": self.rows(self.ms), "notes": self.notes}


def main():
    url, models_path, scenarios_path = sys.argv[1:4]
    engine = sa.create_engine(sa_url(url), future=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _fk_on(dbapi_conn, _record):  # argent turns foreign keys on in SQLite
            dbapi_conn.execute("PRAGMA foreign_keys = ON")
    with open(models_path) as f:
        descs = json.load(f)
    with open(scenarios_path) as f:
        scenarios = json.load(f)
    used = sorted({sc["models"] for sc in scenarios})
    sets = {name: ModelSet(name, descs[name]) for name in used}
    for ms in sets.values():
        ms.Base.metadata.drop_all(engine)
        ms.Base.metadata.create_all(engine)
    runner = Runner(engine, sets)
    results = {}
    for sc in scenarios:
        results[sc["name"]] = runner.run(sc)
    for ms in sets.values():
        ms.Base.metadata.drop_all(engine)
    engine.dispose()
    json.dump(results, sys.stdout, default=str)


if __name__ == "__main__":
    main()
