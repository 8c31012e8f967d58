-- tests/soak/soak.lua -- the work of the soak (tests/soak/soak.c): what
-- each of its threads runs in its own lua_State on the one shared engine,
-- and the set-up and the final count in the main thread.
--
-- Returns a table of three functions:
--   setup(engine, threads, url)       creates the database if it is missing, (re)creates
--                                     the tables, one stats row per thread
--   work(engine, thread, stop) -> c   runs until stop() is true; c = what it committed
--   verify(engine, counts)            raises unless the database holds exactly counts
--
-- A thread writes only rows of its own (thread = its number), so that the
-- threads never wait for each other's locks and every count is exact: at
-- any moment the committed rows of a thread are what it has counted, and
-- every loop checks that.  The mix, in turns: Core inserts in a
-- transaction, executemany, streamed and counted reads, ORM orders with
-- lines in a session, ORM reads with selectinload and an update, deletes
-- with cascade, a savepoint rolled back inside a committed transaction, and
-- failures that must leave nothing (an error inside a transaction, a
-- duplicate key).
local argent = require "argent"

local S = {}

local function define()
  local meta = argent.MetaData()
  local events = argent.Table("t_soak_events", meta,
    argent.Column("id", argent.Integer, {primary_key = true}),
    argent.Column("thread", argent.Integer, {nullable = false, index = true}),
    argent.Column("seq", argent.Integer, {nullable = false}),
    argent.Column("payload", argent.Text),
    argent.Column("data", argent.JSON))
  local Base = argent.declarative_base(meta)
  local Stat = Base:model("Stat", {
    __tablename = "t_soak_stats",
    id = argent.Column(argent.Integer, {primary_key = true}),
    orders = argent.Column(argent.Integer, {nullable = false}),
    updates = argent.Column(argent.Integer, {nullable = false}),
  })
  local Order = Base:model("Order", {
    __tablename = "t_soak_orders",
    id = argent.Column(argent.Integer, {primary_key = true}),
    thread = argent.Column(argent.Integer, {nullable = false, index = true}),
    seq = argent.Column(argent.Integer, {nullable = false}),
    note = argent.Column(argent.String(64)),
    data = argent.Column(argent.JSON),
    created_at = argent.Column(argent.DateTime, {default = argent.func.current_timestamp()}),
    lines = argent.relationship("Line", {back_populates = "order", cascade = "all, delete-orphan"}),
  })
  local Line = Base:model("Line", {
    __tablename = "t_soak_lines",
    id = argent.Column(argent.Integer, {primary_key = true}),
    order_id = argent.Column(argent.Integer, {foreign_key = "t_soak_orders.id", nullable = false, index = true}),
    sku = argent.Column(argent.String(32), {nullable = false}),
    qty = argent.Column(argent.Integer, {nullable = false}),
    price = argent.Column(argent.Numeric(10, 2)),
    order = argent.relationship("Order", {back_populates = "lines"}),
  })
  return {meta = meta, events = events, Stat = Stat, Order = Order, Line = Line}
end

local LINES = 3

function S.setup(engine, threads, url)
  if not argent.database_exists(url) then argent.create_database(url) end
  local m = define()
  do
    local conn <close> = engine:connect()
    for _, t in ipairs {"t_soak_lines", "t_soak_orders", "t_soak_stats", "t_soak_events"} do
      conn:execute("DROP TABLE IF EXISTS " .. t)
    end
  end
  m.meta:create_all(engine)
  engine:begin(function(conn)
    for t = 1, threads do
      conn:execute(argent.insert(m.Stat.__table__):values{id = t, orders = 0, updates = 0})
    end
  end)
end

local function check(cond, what, ...)
  if not cond then error(("soak: " .. what):format(...), 2) end
end

function S.work(engine, thread, stop)
  local m = define()
  local Session = argent.sessionmaker(engine, {expire_on_commit = false})
  local events, insert_event = m.events, argent.insert(m.events)
  local c = {events = 0, orders = 0, lines = 0, updates = 0, deleted = 0, loops = 0, failures_seen = 0,
             retries = 0}
  local seq = 0
  local function next_seq()
    seq = seq + 1
    return seq
  end
  local payload = ("soak %d "):format(thread):rep(16)
  local i = 0
  local function turn_of(i)
    local turn = i % 8
    if turn == 0 then -- Core: one insert in a transaction
      engine:begin(function(conn)
        conn:execute(insert_event, {thread = thread, seq = next_seq(), payload = payload, data = {i = i, t = {1, 2}}})
      end)
      c.events = c.events + 1
    elseif turn == 1 then -- Core: executemany, all or nothing
      local rows = {}
      for r = 1, 20 do rows[r] = {thread = thread, seq = next_seq(), payload = payload, data = {r = r}} end
      local conn <close> = engine:connect()
      check(conn:executemany(insert_event, rows) == 20, "executemany wrote another count")
      c.events = c.events + 20
    elseif turn == 2 then -- Core: reads, exact
      local conn <close> = engine:connect()
      local n = conn:execute(argent.select(argent.func.count(events.c.id)):where(events.c.thread:eq(thread)))
        :scalar()
      check(n == c.events, "thread %d: %d events in the database, %d committed", thread, n, c.events)
      local seen = 0
      for row in conn:execute("SELECT id, seq, data FROM t_soak_events WHERE thread = ? ORDER BY id DESC LIMIT 200",
        {thread}):rows() do
        seen = seen + 1
        check(row.seq > 0, "a bad row")
      end
      check(seen == math.min(200, c.events), "streamed %d rows", seen)
    elseif turn == 3 then -- ORM: an order with its lines, and the thread's stats
      local s_seq = next_seq()
      Session:begin(function(s)
        local o = m.Order{thread = thread, seq = s_seq, note = "new", data = {tags = {"a", "b"}, n = i}}
        for l = 1, LINES do o.lines:append(m.Line{sku = ("sku-%d-%d"):format(thread, l), qty = l, price = "9.99"}) end
        s:add(o)
        local st = s:get(m.Stat, thread)
        st.orders = st.orders + 1
      end)
      c.orders = c.orders + 1
      c.lines = c.lines + LINES
    elseif turn == 4 then -- ORM: reads, selectinload, an update
      local updated = false
      Session:begin(function(s)
        local n = s:query(m.Order):filter_by{thread = thread}:count()
        check(n == c.orders, "thread %d: %d orders in the database, %d committed", thread, n, c.orders)
        local list = s:query(m.Order):filter_by{thread = thread}:options(argent.selectinload(m.Order.lines))
          :order_by(m.Order.id:desc()):limit(10):all()
        for _, o in ipairs(list) do check(#o.lines == LINES, "an order with %d lines", #o.lines) end
        if list[1] then
          list[1].note = "updated " .. i
          local st = s:get(m.Stat, thread)
          st.updates = st.updates + 1
          updated = true
        end
      end)
      if updated then c.updates = c.updates + 1 end
    elseif turn == 5 then -- failures leave nothing
      local ok, err = pcall(engine.begin, engine, function(conn)
        conn:execute(insert_event, {thread = thread, seq = -1, payload = "rolled back"})
        error("soak: deliberate", 0)
      end)
      check(not ok and err == "soak: deliberate", "the deliberate error came back as %s", tostring(err))
      local conn <close> = engine:connect()
      local id = conn:execute("SELECT max(id) FROM t_soak_events WHERE thread = ?", {thread}):scalar()
      if id then
        ok, err = pcall(conn.execute, conn, "INSERT INTO t_soak_events (id, thread, seq) VALUES (?, ?, ?)",
          {id, thread, -2})
        check(not ok and argent.is_error(err) and err.kind == "IntegrityError", "a duplicate key gave %s",
          tostring(err))
      end
      c.failures_seen = c.failures_seen + 1
    elseif turn == 6 then -- ORM: the oldest order goes, with its lines
      local gone = false
      Session:begin(function(s)
        local o = s:query(m.Order):filter_by{thread = thread}:order_by(m.Order.id):first()
        if o and c.orders > 5 and i % 24 == 6 then
          s:delete(o)
          local st = s:get(m.Stat, thread)
          st.orders = st.orders - 1
          gone = true
        end
      end)
      if gone then
        c.orders = c.orders - 1
        c.lines = c.lines - LINES
        c.deleted = c.deleted + 1
      end
    else -- a savepoint rolled back inside a transaction that commits
      engine:begin(function(conn)
        conn:execute(insert_event, {thread = thread, seq = next_seq(), payload = "kept"})
        local sp = conn:begin_nested()
        conn:execute(insert_event, {thread = thread, seq = -3, payload = "dropped"})
        sp:rollback()
      end)
      c.events = c.events + 1
    end
  end
  -- SQLite has one writer at a time: a transaction that met the lock
  -- (database is locked, even within busy_timeout when SQLite refuses to
  -- wait) was rolled back whole, so it runs again; nothing was counted.
  local function attempt(i)
    for try = 1, 1000 do
      local saved_seq = seq
      local ok, err = pcall(turn_of, i)
      if ok then return end
      local message = argent.is_error(err) and err.message or ""
      if not (argent.is_error(err) and err.kind == "OperationalError"
              and (message:find("locked", 1, true) or message:find("busy", 1, true))) or try == 1000 then
        error(err, 0)
      end
      seq = saved_seq
      c.retries = c.retries + 1
      host_sleep(math.random() * 0.001 * math.min(try, 20))
    end
  end
  while not stop() do
    i = i + 1
    attempt(i)
    c.loops = c.loops + 1
    if i % 64 == 0 then collectgarbage("step") end
  end
  return c
end

function S.verify(engine, counts)
  local conn <close> = engine:connect()
  local total = {events = 0, orders = 0, lines = 0}
  for thread, c in ipairs(counts) do
    local n = conn:execute("SELECT count(*) FROM t_soak_events WHERE thread = ?", {thread}):scalar()
    check(n == c.events, "thread %d: %d events, %d committed", thread, n, c.events)
    n = conn:execute("SELECT count(*) FROM t_soak_orders WHERE thread = ?", {thread}):scalar()
    check(n == c.orders, "thread %d: %d orders, %d committed", thread, n, c.orders)
    local st = conn:execute("SELECT orders, updates FROM t_soak_stats WHERE id = ?", {thread}):first()
    check(st.orders == c.orders and st.updates == c.updates, "thread %d: stats %d/%d, committed %d/%d", thread,
      st.orders, st.updates, c.orders, c.updates)
    total.events, total.orders, total.lines = total.events + c.events, total.orders + c.orders, total.lines + c.lines
  end
  check(conn:execute("SELECT count(*) FROM t_soak_events"):scalar() == total.events, "events in all")
  check(conn:execute("SELECT count(*) FROM t_soak_events WHERE seq < 0"):scalar() == 0, "a rolled back row stayed")
  check(conn:execute("SELECT count(*) FROM t_soak_lines"):scalar() == total.lines, "lines in all")
  local partial = conn:execute("SELECT count(*) FROM (SELECT o.id FROM t_soak_orders o LEFT JOIN t_soak_lines l "
    .. "ON l.order_id = o.id GROUP BY o.id HAVING count(l.id) <> ?) x", {LINES}):scalar()
  check(partial == 0, "%d orders without all their lines", partial)
  return total
end

function S.cleanup(engine)
  local conn <close> = engine:connect()
  for _, t in ipairs {"t_soak_lines", "t_soak_orders", "t_soak_stats", "t_soak_events"} do
    conn:execute("DROP TABLE IF EXISTS " .. t)
  end
end

return S
