-- tests/lua/test_misuse.lua -- misuse by generation (issue 11): every public
-- Lua function and method of argent, called with every kind of wrong value
-- in every argument position, must return or raise an argent error object
-- (a table with a string `kind`): never a plain string, never a crash
-- (the suite also runs on the ASan+UBSan build).
--
-- Nothing here lists argent's functions by hand.  Each *receiver* (an
-- object of one kind: an engine, a connection, a closed connection, a
-- result, a transaction, a URL, the pool, expression and statement nodes,
-- schema objects, types, a Base and a model, instances, a session, a query,
-- a loader option, a collection, an inspector; and the module `argent`
-- itself) is made fresh by a factory, and its functions are found by
-- walking what a script can reach: the fields of its metatable's __index
-- (a table, or the method tables that a C __index function holds as
-- upvalues), its metatable's own functions (the metamethods; only where the
-- metatable is not protected by __metatable, as a script could not reach
-- them otherwise), and its own function fields.  Names starting with one
-- underscore are private and skipped.
--
-- Each function is called with each VALUE in argument position 1..MAX_POS
-- (position 1 is `self` for a method); the positions before it hold a
-- FILLER (nil, a short string, an empty table or a column expression), so
-- that checks of later arguments are reached too.  Operators (index,
-- assignment, arithmetic, concatenation, call, length, tostring) are tried
-- with each value wherever the receiver's metatable defines them.
--
-- The receivers that need no database run once, on the sqlite_mem run;
-- those bound to a database run on each database.  The suite prints how
-- many functions and calls it made.  ARGENT_MISUSE_TRACE=1 prints every
-- call before it is made (to find the call that crashed).

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local MAX_POS = 4
local TRACE = os.getenv("ARGENT_MISUSE_TRACE") == "1"

local rawgetmt = debug.getmetatable

local HUGE = ("x"):rep(2 ^ 20)
local stats = {calls = 0, functions = 0, failures = {}, nfailures = 0, slow = {}}

-- ---------------------------------------------------------------- the values

local function noop() end

-- A closed connection, a URL: made per environment (see make_env).
local VALUES = {
  {"nil", function() return nil end},
  {"false", function() return false end},
  {"-1", function() return -1 end},
  {"maxinteger", function() return math.maxinteger end},
  {"NaN", function() return 0 / 0 end},
  {"huge string", function() return HUGE end},
  {"table", function() return {} end},
  {"function", function() return noop end},
  {"coroutine", function() return coroutine.create(noop) end},
  {"URL", function(env) return env.url_object end},
  {"closed connection", function(env) return env.closed_conn end},
  {"argent.null", function() return argent.null end},
}

local FILLERS = {
  {"nil", function() return nil end},
  {"'x'", function() return "x" end},
  {"{}", function() return {} end},
  {"column", function(env) return env.column end},
}

-- ---------------------------------------------------------------- checking

local function describe_error(err)
  if type(err) == "string" then return ("plain string: %s"):format(err:sub(1, 300)) end
  return ("%s: %s"):format(type(err), tostring(err):sub(1, 300))
end

local function is_error_object(err)
  if type(err) ~= "table" then return false end
  local ok, kind = pcall(function() return err.kind end)
  return ok and type(kind) == "string"
end

local function record_failure(what, err)
  stats.nfailures = stats.nfailures + 1
  local msg = describe_error(err)
  -- one line per function and message shape (numbers and addresses vary)
  local key = what:gsub("%(.*", "") .. " | " .. msg:gsub("0x%x+", "0x"):gsub("%d+", "N")
  if not stats.failures[key] then stats.failures[key] = what .. " -> " .. msg end
end

local function close_quietly(o)
  if o ~= nil then
    local m = rawgetmt(o)
    local close = type(m) == "table" and (type(m.__index) == "table" and m.__index.close) or nil
    if close == nil then pcall(function() close = o.close end) end
    if type(close) == "function" then pcall(close, o) end
  end
end

-- Calls fn with n arguments (args[1..n], holes allowed) and checks the outcome.
local function try(what, fn, args, n)
  stats.calls = stats.calls + 1
  if TRACE then io.stderr:write("misuse: ", what, "\n") end
  local t0 = os.clock and os.time()
  local results = table.pack(pcall(fn, table.unpack(args, 1, n)))
  local dt = os.time() - t0
  if dt >= 2 then stats.slow[#stats.slow + 1] = ("%ds %s"):format(dt, what) end
  local ok, err = results[1], results[2]
  if not ok and not is_error_object(err) then record_failure(what, err) end
  -- what a call made (a connection, a session, a result) goes back at once
  if ok then
    for i = 2, results.n do
      local r = results[i]
      if type(r) == "userdata" or type(r) == "table" and r ~= argent then close_quietly(r) end
    end
  end
end

-- ---------------------------------------------------------------- finding functions


-- The functions a script can reach on obj: name -> function.
local function functions_of(obj)
  local found = {}
  local function add(name, f)
    if type(name) ~= "string" or type(f) ~= "function" and not (type(f) == "table" and rawgetmt(f)
       and type(rawget(rawgetmt(f), "__call")) == "function") then
      return
    end
    if name:match("^_[^_]") then return end -- private
    if found[name] == nil then found[name] = f end
  end
  local mt = rawgetmt(obj)
  if type(mt) == "table" then
    local protected = rawget(mt, "__metatable") ~= nil
    local idx = rawget(mt, "__index")
    local seen = {}
    -- __index tables, following their own metatables' __index (class chains)
    local t = idx
    while type(t) == "table" and not seen[t] do
      seen[t] = true
      for k, v in pairs(t) do
        if type(k) == "string" and not k:match("^__") then add(k, v) end
      end
      local m = rawgetmt(t)
      t = type(m) == "table" and rawget(m, "__index") or nil
    end
    -- a C __index function: the method tables it holds as upvalues
    if type(idx) == "function" then
      for i = 1, 255 do
        local name, up = debug.getupvalue(idx, i)
        if name == nil then break end
        if type(up) == "table" then
          for k in pairs(up) do
            if type(k) == "string" and not k:match("^__") then
              local ok, v = pcall(function() return obj[k] end)
              if ok then add(k, v) end
            end
          end
        end
      end
    end
    if not protected then
      for k, v in pairs(mt) do
        if type(k) == "string" and k:match("^__") and k ~= "__index" and k ~= "__newindex" then add(k, v) end
      end
      -- a function __index / __newindex is called as a function too
      if type(idx) == "function" then add("__index", idx) end
      if type(rawget(mt, "__newindex")) == "function" then add("__newindex", rawget(mt, "__newindex")) end
    end
  end
  if type(obj) == "table" then
    for k, v in pairs(obj) do add(k, v) end
  end
  return found
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- ---------------------------------------------------------------- generating calls

-- Calls every function of receiver kind `name` (made by make(env)) with
-- every value in every position.  is_module: the functions take no self.
local function generate(env, name, make, cleanup, is_module)
  local first = make(env)
  if first == nil then return end
  local fns = functions_of(first)
  if cleanup then cleanup(first) end
  for _, fname in ipairs(sorted_keys(fns)) do
    stats.functions = stats.functions + 1
    for pos = 1, MAX_POS do
      local obj = make(env)
      local fn = functions_of(obj)[fname] or fns[fname]
      local fillers = (pos == 1 or (pos == 2 and not is_module)) and {FILLERS[1]} or FILLERS
      for _, filler in ipairs(fillers) do
        for _, value in ipairs(VALUES) do
          local args = {}
          local start = 1
          if not is_module then
            args[1] = obj
            start = 2
          end
          for i = start, pos - 1 do args[i] = filler[2](env) end
          args[pos] = value[2](env)
          local what = ("%s.%s(arg %d = %s, before: %s)"):format(name, fname, pos, value[1], filler[1])
          try(what, fn, args, math.max(pos, start - 1))
        end
      end
      if cleanup then cleanup(obj) end
    end
  end
  -- operators, where the metatable defines them
  local obj = make(env)
  local mt = rawgetmt(obj)
  if type(mt) == "table" and not is_module then
    local ops = {
      {"__index", function(o, v) return o[v] end},
      {"__newindex", function(o, v) o.x = v end},
      {"__newindex", function(o, v) o[v] = 1 end},
      {"__add", function(o, v) return o + v end},
      {"__add", function(o, v) return v + o end},
      {"__sub", function(o, v) return o - v end},
      {"__mul", function(o, v) return o * v end},
      {"__div", function(o, v) return o / v end},
      {"__mod", function(o, v) return o % v end},
      {"__unm", function(o) return -o end},
      {"__concat", function(o, v) return o .. v end},
      {"__concat", function(o, v) return v .. o end},
      {"__call", function(o, v) return o(v) end},
      {"__call", function(o, v) return o(v, v) end},
      {"__len", function(o) return #o end},
      {"__tostring", function(o) return tostring(o) end},
      {"__pairs", function(o) for _ in argent.pairs(o) do end end},
      {"__eq", function(o, v) return o == v end},
      {"__lt", function(o, v) return o < v end},
      {"__le", function(o, v) return o <= v end},
      {"__close", function(o)
        local x <close> = o
      end},
    }
    for _, op in ipairs(ops) do
      if rawget(mt, op[1]) ~= nil then
        for _, value in ipairs(VALUES) do
          try(("%s %s (%s)"):format(name, op[1], value[1]), op[2], {obj, value[2](env)}, 2)
        end
      end
    end
    -- every field a script can list (an instance's attributes), written with every value
    if rawget(mt, "__newindex") ~= nil then
      local keys = {}
      pcall(function()
        for k in pairs(obj) do if type(k) == "string" then keys[#keys + 1] = k end end
      end)
      table.sort(keys)
      for _, k in ipairs(keys) do
        for _, value in ipairs(VALUES) do
          try(("%s.%s = %s"):format(name, k, value[1]), function(o, v) o[k] = v end, {obj, value[2](env)}, 2)
        end
      end
    end
  end
  if cleanup then cleanup(obj) end
  -- after its __gc or __close has run (a script can call either; a
  -- finalizer may run before a to-be-closed variable's end): every function
  -- again, on the collected object
  if type(mt) == "table" and not is_module and rawget(mt, "__metatable") == nil then
    for _, finalizer in ipairs {"__gc", "__close"} do
      if type(rawget(mt, finalizer)) == "function" then
        local dead = make(env)
        try(("%s.%s()"):format(name, finalizer), rawget(mt, finalizer), {dead}, 1)
        for _, fname in ipairs(sorted_keys(fns)) do
          for _, filler in ipairs(FILLERS) do
            try(("%s.%s after %s (arg 2 = %s)"):format(name, fname, finalizer, filler[1]), fns[fname],
              {dead, filler[2](env)}, 2)
          end
        end
        for _, value in ipairs(VALUES) do
          try(("%s after %s: tostring, index (%s)"):format(name, finalizer, value[1]), function(o, v)
            tostring(o)
            return o[v]
          end, {dead, value[2](env)}, 2)
        end
        if cleanup then cleanup(dead) end
      end
    end
  end
end

-- ---------------------------------------------------------------- the environment

local function connect_args()
  if helper.is_pg() and not helper.is_pgbouncer() then return {options = "-c lock_timeout=5000 -c statement_timeout=30000"} end
  if helper.is_sqlite() then return {busy_timeout = "2000"} end
  return nil
end

local Base, User, Post

local TABLES = {"t_mis_users", "t_mis_posts"} -- parents first

local function make_env()
  local env = {}
  env.engine = helper.engine{pool_size = 2, max_overflow = 50, pool_timeout = 5, connect_args = connect_args()}
  env.url_object = argent.make_url("sqlite://")
  env.closed_conn = env.engine:connect()
  env.closed_conn:close()
  env.meta = argent.MetaData()
  env.table = argent.Table("t_mis_plain", env.meta, argent.Column("id", argent.Integer, {primary_key = true}),
    argent.Column("name", argent.String(50)))
  env.column = env.table.c.name
  Base = argent.declarative_base()
  User = Base:model("User", {
    __tablename = "t_mis_users",
    id = argent.Column(argent.Integer, {primary_key = true}),
    name = argent.Column(argent.String(50)),
    data = argent.Column(argent.JSON),
    posts = argent.relationship("Post", {back_populates = "owner"}),
  })
  Post = Base:model("Post", {
    __tablename = "t_mis_posts",
    id = argent.Column(argent.Integer, {primary_key = true}),
    title = argent.Column(argent.String(50)),
    owner_id = argent.Column(argent.Integer, {foreign_key = "t_mis_users.id"}),
    owner = argent.relationship("User", {back_populates = "posts"}),
  })
  env.Base, env.User, env.Post = Base, User, Post
  do
    local conn <close> = env.engine:connect()
    helper.drop_tables(conn, {"t_mis_posts", "t_mis_users"})
  end
  Base.metadata:create_all(env.engine)
  env.Session = argent.sessionmaker(env.engine)
  local s <close> = env.Session()
  local u = User{id = 1, name = "ann"}
  s:add(u)
  s:add(Post{id = 1, title = "p", owner = u})
  s:commit()
  return env
end

local function close_env(env)
  collectgarbage()
  collectgarbage()
  helper.cleanup(env.engine, TABLES)
end

-- ---------------------------------------------------------------- receivers

local function session_cleanup(s)
  pcall(function() s:rollback() end)
  pcall(function() s:close() end)
  collectgarbage()
end

-- receivers that need no database
local PURE = {
  {"argent", function() return argent end, nil, true},
  {"argent.types", function() return argent.types end, nil, true},
  {"argent.func", function() return {count = argent.func.count, coalesce = argent.func.coalesce,
                                     lower = argent.func.lower} end, nil, true},
  {"Column expression", function(env) return env.table.c.name end},
  {"comparison", function(env) return env.table.c.id:eq(1) end},
  {"function call", function() return argent.func.count() end},
  {"label", function(env) return env.table.c.id:label("x") end},
  {"literal", function() return argent.literal(1) end},
  {"bindparam", function() return argent.bindparam("p") end},
  {"case", function(env) return argent.case({{env.table.c.id:eq(1), "a"}}, "b") end},
  {"cast", function(env) return argent.cast(env.table.c.id, argent.String) end},
  {"select", function(env) return argent.select(env.table) end},
  {"union", function(env) return argent.union(argent.select(env.table), argent.select(env.table)) end},
  {"subquery", function(env) return argent.select(env.table):subquery("s") end},
  {"insert", function(env) return argent.insert(env.table) end},
  {"update", function(env) return argent.update(env.table) end},
  {"delete", function(env) return argent.delete(env.table) end},
  {"text", function() return argent.text("SELECT 1") end},
  {"MetaData", function() return argent.MetaData() end},
  {"Table", function()
    local m = argent.MetaData()
    return argent.Table("t", m, argent.Column("id", argent.Integer, {primary_key = true}))
  end},
  {"Column spec", function() return argent.Column("c", argent.Integer) end},
  {"ForeignKey", function() return argent.ForeignKey("t.id") end},
  {"Index", function() return argent.Index("ix", "c") end},
  {"UniqueConstraint", function() return argent.UniqueConstraint("c") end},
  {"CheckConstraint", function() return argent.CheckConstraint("c > 0") end},
  {"type String", function() return argent.String end},
  {"type Numeric(10, 2)", function() return argent.Numeric(10, 2) end},
  {"type Enum", function() return argent.Enum("a", "b") end},
  {"declarative_base", function() return argent.declarative_base() end},
  {"model class", function(env) return env.User end},
  {"relationship", function(env) return env.User.posts end},
  {"new relationship", function() return argent.relationship("X") end},
  {"transient instance", function(env) return env.User{id = 2, name = "x"} end},
  {"loader option", function(env) return argent.selectinload(env.User.posts) end},
  {"URL", function() return argent.make_url("postgresql://u:secret@h:5/db?a=b") end},
  {"error object", function()
    local _, e = pcall(argent.create_engine, "nope://")
    return e
  end},
  {"argent.null", function() return argent.null end},
}

-- The migrations module, a table of functions like argent.
-- Its writers (init, revision, merge) make directories where they are told,
-- relative to the current directory, which is the source tree: the walk's
-- paths and the default directory are moved under the scratch directory.
PURE[#PURE + 1] = {"argent.migrate", function()
  local migrate = require "argent.migrate"
  local scratch = helper.tmp .. "/misuse_migrate"
  helper.mkdir(scratch)
  migrate.DEFAULT_DIRECTORY = scratch .. "/migrations"
  local walked = {}
  for name, v in pairs(migrate) do walked[name] = v end
  walked.init = function(directory, ...)
    if type(directory) == "string" then
      directory = scratch .. "/" .. directory
    end
    return migrate.init(directory, ...)
  end
  return walked
end, nil, true}

-- receivers bound to the database
local BOUND = {
  {"Engine", function() return helper.engine{pool_size = 1, pool_timeout = 5, connect_args = connect_args()} end,
   function(e) pcall(function() e:dispose() end) end},
  {"Pool", function() return helper.engine{pool_size = 1}.pool end},
  {"Connection", function(env) return env.engine:connect() end, close_quietly},
  {"closed Connection", function(env)
    local c = env.engine:connect()
    c:close()
    return c
  end},
  {"Result", function(env)
    local c = env.engine:connect()
    env.keep = c
    return c:execute("SELECT id, name FROM t_mis_users")
  end, function(r)
    close_quietly(r)
  end},
  {"closed Result", function(env)
    local c = env.engine:connect()
    local r = c:execute("SELECT id FROM t_mis_users")
    r:close()
    return r
  end},
  {"Transaction", function(env)
    local c = env.engine:connect()
    env.keep = c
    return c:begin()
  end, function(t) pcall(t.rollback, t) end},
  {"Savepoint", function(env)
    local c = env.engine:connect()
    env.keep = c
    c:begin()
    return c:begin_nested()
  end},
  {"committed Transaction", function(env)
    local c = env.engine:connect()
    local t = c:begin()
    t:commit()
    return t
  end},
  {"Inspector", function(env) return argent.inspect(env.engine) end},
  {"sessionmaker", function(env) return argent.sessionmaker(env.engine) end},
  {"Session", function(env) return env.Session() end, session_cleanup},
  {"closed Session", function(env)
    local s = env.Session()
    s:close()
    return s
  end},
  {"Query", function(env)
    local s = env.Session()
    env.keep_session = s
    return s:query(env.User)
  end},
  {"persistent instance", function(env)
    local s = env.Session()
    env.keep_session = s
    return s:get(env.User, 1)
  end},
  {"pending instance", function(env)
    local s = env.Session()
    env.keep_session = s
    local u = env.User{id = 7, name = "p"}
    s:add(u)
    return u
  end},
  {"detached instance", function(env)
    local s = env.Session()
    local u = s:get(env.User, 1)
    s:close()
    return u
  end},
  {"deleted instance", function(env)
    local s = env.Session()
    env.keep_session = s
    local p = s:get(env.Post, 1)
    s:delete(p)
    s:flush()
    return p
  end},
  {"half-read Result", function(env)
    local c = env.engine:connect()
    env.keep = c
    local r = c:execute("SELECT id, name FROM t_mis_users UNION ALL SELECT id, title FROM t_mis_posts")
    r:first()
    return r
  end},
  {"Connection in a transaction", function(env)
    local c = env.engine:connect()
    c:begin()
    return c
  end, close_quietly},
  {"collection", function(env)
    local s = env.Session()
    env.keep_session = s
    return s:get(env.User, 1).posts
  end},
}

-- ---------------------------------------------------------------- what the generator found
-- (each was a plain string or a crash before its fix)

TestMisuseFound = {}

function TestMisuseFound:test_c_method_without_self_names_it()
  local engine = helper.engine()
  local conn <close> = engine:connect()
  local err = helper.assert_error("ArgumentError", "execute: argument 'self' must be an argent.Connection",
    conn.execute, nil, "SELECT 1")
  lu.assertStrContains(err.message, "got nil")
  helper.assert_error("ArgumentError", "connect: argument 'self'", engine.connect)
  helper.assert_error("ArgumentError", "argument 'self'", conn:execute("SELECT 1").all, "x")
  helper.assert_error("ArgumentError", "argument 'self'", engine.pool.status, {})
  helper.assert_error("ArgumentError", "argument 'self'", engine.pool.dispose, argent.null)
  engine:dispose()
end

function TestMisuseFound:test_lua_method_without_self()
  local meta = argent.MetaData()
  helper.assert_error("ArgumentError", "create_all: argument 'self'", meta.create_all, nil)
  helper.assert_error("ArgumentError", "argument 'bind'", meta.create_all, meta, 5)
  helper.assert_error("ArgumentError", "argument 'bind'", meta.drop_all, meta, argent.null)
  helper.assert_error("ArgumentError", "argument 'bind'", meta.reflect, meta, {})
  helper.assert_error("ArgumentError", "argument 'bind'", argent.inspect, "sqlite://")
  helper.assert_error("ArgumentError", "argument 'self'", argent.String.__call, 5)
  helper.assert_error("ArgumentError", "argument 1", argent.types.check_value, 5, "x")
  local t = argent.Table("t_mis_x", meta, argent.Column("id", argent.Integer, {primary_key = true}))
  helper.assert_error("ArgumentError", "create_statement: argument 'self' must be an argent.Table", t.create_statement)
  helper.assert_error("ArgumentError", "argument 'self'", getmetatable(argent.sessionmaker(helper.engine())).__call, 1)
end

function TestMisuseFound:test_relationship_before_its_model()
  local r = argent.relationship("Nowhere")
  helper.assert_error("InvalidRequestError", "not an attribute of a model yet", r.resolve, r)
  helper.assert_error("InvalidRequestError", "not an attribute of a model yet", r.target_model, r)
end

function TestMisuseFound:test_compile_for_a_value_without_fields()
  local q = argent.select(argent.literal(1))
  helper.assert_error("ArgumentError", "unknown dialect", q.compile, q, argent.null)
  helper.assert_error("ArgumentError", "unknown dialect", q.compile, q, coroutine.create(function() end))
  lu.assertStrContains(q:compile(argent.make_url("postgresql://h/db")), "SELECT")
end

function TestMisuseFound:test_url_after_its_finalizer()
  local url = argent.make_url("postgresql://u:pw@h/db")
  local other = argent.make_url("postgresql://u:pw@h/db")
  getmetatable(url).__gc(url) -- a script can: the metatable is not protected
  helper.assert_error("InvalidRequestError", "collected", tostring, url)
  helper.assert_error("InvalidRequestError", "collected", function() return url.host end)
  helper.assert_error("InvalidRequestError", "collected", function() return other == url end)
  lu.assertFalse(other == helper.engine()) -- a URL equals URLs only
  lu.assertTrue(other == argent.make_url("postgresql://u:pw@h/db"))
end

function TestMisuseFound:test_tostring_of_foreign_values()
  local text_mt = getmetatable(argent.text("SELECT 1"))
  helper.assert_error("ArgumentError", "argent.text()", text_mt.__tostring, 5)
  local _, err = pcall(argent.create_engine, "nope://")
  helper.assert_error("ArgumentError", "error object", getmetatable(err).__tostring, 5)
  lu.assertEquals(getmetatable(err).__tostring({message = "m"}), "Error: m")
  helper.assert_error("ArgumentError", "argument 'text'", argent.json_decode, argent.make_url("sqlite://"))
end

-- ---------------------------------------------------------------- the suite

TestMisuse = {}

function TestMisuse:setUp()
  self.env = make_env()
end

function TestMisuse:tearDown()
  if self.env.keep_session then session_cleanup(self.env.keep_session) end
  close_quietly(self.env.keep)
  close_env(self.env)
end

local function run_list(env, list)
  for _, r in ipairs(list) do
    local name, make, cleanup, is_module = r[1], r[2], r[3], r[4]
    local function wrapped_cleanup(o)
      if cleanup then cleanup(o) end
      if env.keep_session then
        session_cleanup(env.keep_session)
        env.keep_session = nil
      end
      if env.keep then
        close_quietly(env.keep)
        env.keep = nil
      end
      collectgarbage()
    end
    generate(env, name, make, wrapped_cleanup, is_module)
  end
end

function TestMisuse:test_pure()
  if helper.db ~= "sqlite_mem" then lu.skip("runs once, on sqlite_mem") end
  run_list(self.env, PURE)
end

function TestMisuse:test_bound()
  run_list(self.env, BOUND)
end

function TestMisuse:test_zz_report()
  io.stderr:write(("misuse: %d functions, %d calls, %d calls failed\n"):format(stats.functions, stats.calls,
    stats.nfailures))
  local lines = {}
  for _, line in pairs(stats.failures) do lines[#lines + 1] = line end
  table.sort(lines)
  for _, line in ipairs(lines) do io.stderr:write("  ", line, "\n") end
  for i = 1, math.min(#stats.slow, 40) do io.stderr:write("  slow: ", stats.slow[i], "\n") end
  lu.assertEquals(stats.nfailures, 0, "calls that raised something other than an argent error object")
end

os.exit(helper.run(), true)
