-- tests/alloc/scenarios.lua -- what tests/alloc/failalloc.c walks under
-- allocation failure: the main paths of the Lua API (connect, execute,
-- executemany, flush), each as
--   {name = ..., setup = function() -> env, run = function(env), check = function(env, ok)}
-- (and optionally teardown = function(env), after the walk).
-- setup and check run with the allocators working; run runs with the Nth
-- allocation failing (argent's core allocator and Lua's, counted together),
-- for N = 1, 2, ... until run completes without reaching its Nth one.
-- check(env, ok) raises when what run left behind is wrong: a transaction
-- half written, a connection still checked out, an object that no longer
-- works.  The file returns function(url) -> list of scenarios.
local argent = require "argent"

local USERS, POSTS = "t_fa_users", "t_fa_posts"

return function(url)
  local dialect = argent.make_url(url).dialect
  local connect_args = dialect == "sqlite" and {busy_timeout = "5000"} or nil

  local function new_engine(opts)
    opts = opts or {}
    opts.connect_args = connect_args
    return argent.create_engine(url, opts)
  end

  -- the models of the flush scenario, and the plain tables of the others
  local Base = argent.declarative_base()
  local User = Base:model("User", {
    __tablename = USERS,
    id = argent.Column(argent.Integer, {primary_key = true}),
    name = argent.Column(argent.String(64), {nullable = false}),
    data = argent.Column(argent.JSON),
    posts = argent.relationship("Post", {back_populates = "owner", cascade = "all, delete-orphan"}),
  })
  local Post = Base:model("Post", {
    __tablename = POSTS,
    id = argent.Column(argent.Integer, {primary_key = true}),
    title = argent.Column(argent.String(64)),
    owner_id = argent.Column(argent.Integer, {foreign_key = USERS .. ".id"}),
    owner = argent.relationship("User", {back_populates = "posts"}),
  })
  local users = User.__table__

  local engine = new_engine{pool_size = 2}
  do
    local conn <close> = engine:connect()
    conn:execute("DROP TABLE IF EXISTS " .. POSTS)
    conn:execute("DROP TABLE IF EXISTS " .. USERS)
  end
  Base.metadata:create_all(engine)

  local function count(tbl)
    local conn <close> = engine:connect()
    return conn:execute("SELECT count(*) FROM " .. tbl):scalar()
  end
  local function empty_tables()
    local conn <close> = engine:connect()
    conn:execute("DELETE FROM " .. POSTS)
    conn:execute("DELETE FROM " .. USERS)
  end
  local function all_or_nothing(tbl, want)
    local n = count(tbl)
    if n ~= 0 and n ~= want then error(("%s holds %d rows: not 0 nor %d (half written)"):format(tbl, n, want)) end
    return n
  end
  local function pool_idle(e)
    collectgarbage()
    collectgarbage()
    local st = e.pool:status()
    if st.checked_out ~= 0 then error(("%d connections still checked out"):format(st.checked_out)) end
  end

  local n = 0 -- a new SQL text per run: each execute prepares (a statement cache miss)
  local S = {}

  S[#S + 1] = {
    name = "connect (create_engine, connect, a query, close)",
    setup = function() return {} end,
    run = function(env)
      local e = new_engine{pool_size = 1}
      env.e = e
      local conn = e:connect()
      local v = conn:execute("SELECT 1 AS one"):scalar()
      conn:close()
      e:dispose()
      assert(v == 1)
    end,
    check = function(env)
      if env.e then
        pool_idle(env.e)
        local conn <close> = env.e:connect() -- the engine still works
        assert(conn:execute("SELECT 2"):scalar() == 2)
        env.e:dispose()
        env.e = nil
      end
    end,
  }

  S[#S + 1] = {
    name = "execute (raw SQL with parameters, a statement, rows read)",
    setup = function() return {conn = engine:connect()} end,
    run = function(env)
      n = n + 1
      local conn = env.conn
      conn:execute(("INSERT INTO %s (id, name, data) VALUES (?, ?, ?) /* %d */"):format(USERS, n),
        {n, "user " .. n, '{"a": [1, 2]}'})
      local res = conn:execute(("SELECT id, name, data FROM %s WHERE id >= :min /* %d */"):format(USERS, n),
        {min = n})
      for row in res:rows() do assert(row.name) end
      local q = argent.select(users):where(users.c.id:eq(n), users.c.name:like("user%")):limit(n)
      for _ in conn:execute(q):rows() do end
      conn:execute(argent.update(users):where(users.c.id:eq(n)):values{name = "renamed " .. n})
    end,
    check = function(env)
      -- the connection goes on working (an INSERT may have run: execute can
      -- run out of memory after its statement ran, as argent.h says)
      assert(env.conn:execute("SELECT count(*) FROM " .. USERS):scalar() >= 0)
      if env.conn:in_transaction() then error("execute left a transaction open") end
    end,
    teardown = function(env)
      env.conn:execute("DELETE FROM " .. USERS)
      env.conn:close()
    end,
  }

  local function rows_of(k, base)
    local rows = {}
    for i = 1, k do rows[i] = {id = base + i, name = "bulk " .. (base + i), data = {tags = {"x", i}}} end
    return rows
  end

  S[#S + 1] = {
    name = "executemany (a list of 25 rows, then 25 from a function)",
    setup = function()
      empty_tables()
      return {conn = engine:connect()}
    end,
    run = function(env)
      local conn = env.conn
      assert(conn:executemany(argent.insert(users), rows_of(25, 0)) == 25)
      local rows, i = rows_of(25, 100), 0
      assert(conn:executemany(argent.insert(users), function()
        i = i + 1
        return rows[i]
      end) == 25)
    end,
    check = function(env, ok)
      -- each executemany is all or nothing
      local conn = env.conn
      if conn:in_transaction() then error("executemany left a transaction open") end
      local first = conn:execute("SELECT count(*) FROM " .. USERS .. " WHERE id <= 25"):scalar()
      local second = conn:execute("SELECT count(*) FROM " .. USERS .. " WHERE id > 100"):scalar()
      conn:execute("DELETE FROM " .. USERS)
      if first ~= 0 and first ~= 25 then error(("the list executemany left %d of 25 rows"):format(first)) end
      if second ~= 0 and second ~= 25 then error(("the function executemany left %d of 25 rows"):format(second)) end
      if ok and first + second ~= 50 then error("a completed run wrote " .. (first + second) .. " rows") end
    end,
    teardown = function(env) env.conn:close() end,
  }

  local Session = argent.sessionmaker(engine)
  S[#S + 1] = {
    name = "flush (3 users with 2 posts each, commit; then an update and a delete)",
    setup = function()
      empty_tables()
      return {}
    end,
    run = function(env)
      local s = Session()
      env.s = s
      local list = {}
      for i = 1, 3 do
        local u = User{id = i, name = "u" .. i, data = {i = i}}
        u.posts:append(Post{id = i * 10 + 1, title = "a"})
        u.posts:append(Post{id = i * 10 + 2, title = "b"})
        list[i] = u
      end
      s:add_all(list)
      s:commit()
      local u = s:get(User, 2)
      u.name = "changed"
      s:delete(s:get(User, 3))
      s:commit()
      s:close()
    end,
    check = function(env, ok)
      local s = env.s
      if s then
        -- a session whose flush failed wants a rollback, and must take it
        -- (unless it was closing when memory ran out: then it is closed)
        local rolled, err = pcall(s.rollback, s)
        if not rolled and not (argent.is_error(err) and err.message:find("closed", 1, true)) then error(err, 0) end
        s:close()
        env.s = nil
      end
      local nu, np = count(USERS), count(POSTS)
      empty_tables()
      pool_idle(engine)
      -- the first commit: all or nothing; the second: all or nothing
      local states = {["0/0"] = true, ["3/6"] = true, ["2/4"] = true}
      if not states[nu .. "/" .. np] then error(("users/posts = %d/%d: half a transaction stayed"):format(nu, np)) end
      if ok and nu .. "/" .. np ~= "2/4" then error("a completed run left " .. nu .. "/" .. np) end
    end,
  }

  S.finish = function()
    collectgarbage()
    local conn <close> = engine:connect()
    conn:execute("DROP TABLE IF EXISTS " .. POSTS)
    conn:execute("DROP TABLE IF EXISTS " .. USERS)
  end
  S.engine = engine
  return S
end
