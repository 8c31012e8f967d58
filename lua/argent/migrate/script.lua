-- argent.migrate.script: the revision files of a migrations directory and
-- the graph they make (API.md section 9.3).
--
-- A revision file (DIR/versions/<rev>_<slug>.lua) returns
--   {revision = "<id>", down_revision = nil | "<id>" | {"<id>", "<id>"},
--    message = "...", upgrade = function(op) ... end, downgrade = function(op) ... end}
-- The files make a graph: a revision's parents are its down_revision(s)
-- (two for a merge), its children the revisions that name it.  A head has
-- no child, a base no parent.  This file loads and checks the files (a file
-- that raises or returns nonsense is an error naming the file), resolves
-- what users type (head, heads, base, ids and unique id prefixes), plans the
-- steps of an upgrade or downgrade from the set of applied revisions, and
-- computes each file's checksum (what the version table keeps, so that a
-- file edited after it was applied is noticed).
local core = require "argent.core"

local raise = core.error
local fs = core.fs

local S = {}

-- ---- small helpers

--- A checksum of a file's text (line endings normalised): 16 hex digits,
--- two 31/32-bit polynomial hashes (plain arithmetic: Lua 5.1 has no bit operators).
function S.checksum(text)
  text = text:gsub("\r\n", "\n")
  local h1, h2 = 0, 0
  local byte = string.byte
  local n = #text
  local i = 1
  while i <= n do
    local j = i + 63
    if j > n then j = n end
    local bytes = {byte(text, i, j)}
    for k = 1, #bytes do
      local b = bytes[k]
      h1 = (h1 * 31 + b) % 2147483647
      h2 = (h2 * 131 + b + 1) % 4294967291
    end
    i = j + 1
  end
  return ("%08x%08x"):format(h1, h2)
end

--- The file-name part a message gives: lower case, words joined by "_", at most 40 characters.
function S.slug(message)
  local s = tostring(message or ""):lower():gsub("[^%w]+", "_"):gsub("^_+", ""):gsub("_+$", "")
  if #s > 40 then s = s:sub(1, 40):gsub("_+$", "") end
  return s ~= "" and s or "revision"
end

--- A new revision id: 12 random hex digits.
function S.new_id()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(6)
  if f then f:close() end
  local out = {}
  if bytes and #bytes == 6 then
    for i = 1, 6 do out[i] = ("%02x"):format(bytes:byte(i)) end
  else
    math.randomseed(os.time() + math.floor(os.clock() * 1000000))
    for i = 1, 6 do out[i] = ("%02x"):format(math.random(0, 255)) end
  end
  return table.concat(out)
end

local function is_id(v)
  return type(v) == "string" and v:match("^[%w_%-]+$") ~= nil and #v <= 64
end
S.is_id = is_id

local function join(dir, name) return dir:sub(-1) == "/" and dir .. name or dir .. "/" .. name end
S.join = join

-- ---- loading

local Scripts = {}
Scripts.__index = Scripts

local function list_of(down)
  if down == nil then return {} end
  if type(down) == "string" then return {down} end
  local out = {}
  for i, v in ipairs(down) do out[i] = v end
  return out
end

-- Loads and checks one revision file: the script record, or raises naming the file.
local function load_file(path)
  local f, err = io.open(path, "rb")
  if not f then raise("CommandError", ("cannot read %s: %s"):format(path, tostring(err))) end
  local text = f:read("*a") or ""
  f:close()
  local chunk, lerr
  if setfenv then chunk, lerr = loadstring(text, "@" .. path) -- Lua 5.1
  else chunk, lerr = load(text, "@" .. path, "t") end
  if not chunk then raise("CommandError", ("revision file %s does not compile: %s"):format(path, lerr)) end
  local ok, rev = pcall(chunk)
  if not ok then
    local msg = type(rev) == "table" and rev.message or tostring(rev)
    raise("CommandError", ("revision file %s raised an error: %s"):format(path, tostring(msg)))
  end
  local function bad(what)
    raise("CommandError", ("revision file %s must return a table {revision = \"<id>\", down_revision = ..., "
      .. "message = ..., upgrade = function(op) ... end, downgrade = function(op) ... end}: %s"):format(path, what))
  end
  if type(rev) ~= "table" then bad("it returned " .. (rev == nil and "nothing" or ("a " .. type(rev)))) end
  if not is_id(rev.revision) then bad("revision must be an id of letters, digits, _ and -, got " .. type(rev.revision)) end
  local down = rev.down_revision
  if down ~= nil and not is_id(down) then
    if type(down) ~= "table" or #down < 1 then bad("down_revision must be nil, an id or a list of ids") end
    for _, d in ipairs(down) do
      if not is_id(d) then bad("down_revision must be nil, an id or a list of ids") end
    end
  end
  if type(rev.upgrade) ~= "function" then bad("upgrade must be a function, got " .. type(rev.upgrade)) end
  if type(rev.downgrade) ~= "function" then bad("downgrade must be a function, got " .. type(rev.downgrade)) end
  if rev.message ~= nil and type(rev.message) ~= "string" then bad("message must be a string") end
  return {id = rev.revision, parents = list_of(down), message = rev.message or "", path = path,
          checksum = S.checksum(text), upgrade = rev.upgrade, downgrade = rev.downgrade, module = rev,
          children = {}}
end

--- Loads DIR/versions: a Scripts object, or raises (no directory, a bad file,
--- two files with one id, a down_revision that names no file).
function S.load(directory)
  local versions = join(directory, "versions")
  if fs.kind(directory) ~= "directory" then
    raise("CommandError", ("no migrations directory '%s' (create it with: argent migrate init %s)")
      :format(directory, directory))
  end
  local names = fs.list(versions)
  if not names then
    raise("CommandError", ("no versions directory in '%s' (expected %s; argent migrate init makes it)")
      :format(directory, versions))
  end
  local self = setmetatable({directory = directory, versions = versions, by_id = {}, list = {}}, Scripts)
  for _, name in ipairs(names) do
    if name:match("%.lua$") and not name:match("^%.") then
      local s = load_file(join(versions, name))
      local other = self.by_id[s.id]
      if other then
        raise("CommandError", ("two revision files have the id %s: %s and %s"):format(s.id, other.path, s.path))
      end
      self.by_id[s.id] = s
      self.list[#self.list + 1] = s
    end
  end
  for _, s in ipairs(self.list) do
    for _, p in ipairs(s.parents) do
      local parent = self.by_id[p]
      if not parent then
        raise("CommandError", ("revision file %s: down_revision %s names no revision in %s"):format(s.path, p, versions))
      end
      parent.children[#parent.children + 1] = s.id
    end
  end
  self:order() -- raises on a cycle
  return self
end

--- The revisions parents first (a topological order; files in name order among equals).
function Scripts:order()
  if self._order then return self._order end
  local out, state = {}, {}
  local function visit(s, path)
    if state[s.id] == "done" then return end
    if state[s.id] == "visiting" then
      raise("CommandError", ("the revisions make a cycle: %s"):format(table.concat(path, " -> ")))
    end
    state[s.id] = "visiting"
    for _, p in ipairs(s.parents) do
      path[#path + 1] = p
      visit(self.by_id[p], path)
      path[#path] = nil
    end
    state[s.id] = "done"
    out[#out + 1] = s
  end
  for _, s in ipairs(self.list) do visit(s, {s.id}) end
  self._order = out
  return out
end

--- The head revisions (no child), in order.
function Scripts:heads()
  local out = {}
  for _, s in ipairs(self:order()) do
    if #s.children == 0 then out[#out + 1] = s.id end
  end
  return out
end

--- The one head; an error that says what to do when there are several (or none).
function Scripts:head()
  local heads = self:heads()
  if #heads == 1 then return heads[1] end
  if #heads == 0 then raise("CommandError", ("no revisions in %s yet (argent migrate revision -m MSG)"):format(self.versions)) end
  raise("CommandError", ("the revisions have %d heads (%s): merge them (argent migrate merge -m MSG heads) "
    .. "or name the one to use"):format(#heads, table.concat(heads, ", ")))
end

--- The revision an id or a unique prefix of one names; raises for none or several.
function Scripts:resolve(spec)
  if type(spec) ~= "string" or spec == "" then
    raise("CommandError", "a revision must be an id or the start of one, got " .. type(spec))
  end
  if self.by_id[spec] then return spec end
  local found = {}
  for _, s in ipairs(self.list) do
    if s.id:sub(1, #spec) == spec then found[#found + 1] = s.id end
  end
  if #found == 1 then return found[1] end
  if #found == 0 then raise("CommandError", ("no revision '%s' in %s"):format(spec, self.versions)) end
  table.sort(found)
  raise("CommandError", ("'%s' is the start of %d revisions (%s): give more of the id"):format(spec, #found,
    table.concat(found, ", ")))
end

--- Resolves a list of targets where "head", "heads" and ids may appear; "base" gives an empty set.
function Scripts:resolve_targets(spec)
  if spec == "heads" then return self:heads() end
  if spec == "head" then return {self:head()} end
  if spec == "base" then return {} end
  return {self:resolve(spec)}
end

--- id and every revision below it (a set).
function Scripts:ancestors(id, out)
  out = out or {}
  local stack = {id}
  while #stack > 0 do
    local x = table.remove(stack)
    if not out[x] then
      out[x] = true
      for _, p in ipairs(self.by_id[x].parents) do stack[#stack + 1] = p end
    end
  end
  return out
end

--- id and every revision above it (a set).
function Scripts:descendants(id)
  local out, stack = {}, {id}
  while #stack > 0 do
    local x = table.remove(stack)
    if not out[x] then
      out[x] = true
      for _, c in ipairs(self.by_id[x].children) do stack[#stack + 1] = c end
    end
  end
  return out
end

--- The applied revisions that have no applied child (what `current` shows).
function Scripts:applied_heads(applied)
  local out = {}
  for _, s in ipairs(self:order()) do
    if applied[s.id] then
      local head = true
      for _, c in ipairs(s.children) do
        if applied[c] then head = false end
      end
      if head then out[#out + 1] = s.id end
    end
  end
  return out
end

-- The revisions in `set`, in order (parents first).
function Scripts:ordered(set)
  local out = {}
  for _, s in ipairs(self:order()) do
    if set[s.id] then out[#out + 1] = s end
  end
  return out
end

--- The revisions to run, in order, to upgrade from `applied` (a set of ids) to
--- target: "head", "heads", an id or prefix, or "+N".
function Scripts:upgrade_plan(applied, target)
  local n = type(target) == "string" and tonumber(target:match("^%+(%d+)$"))
  if n then
    local plan, now = {}, {}
    for k in pairs(applied) do now[k] = true end
    for step = 1, n do
      local next_ones = {}
      for _, s in ipairs(self:order()) do
        if not now[s.id] then
          local ready = true
          for _, p in ipairs(s.parents) do
            if not now[p] then ready = false end
          end
          if ready then next_ones[#next_ones + 1] = s.id end
        end
      end
      if #next_ones == 0 then
        raise("CommandError", ("cannot upgrade %s: the database is at head after %d step(s)"):format(target, step - 1))
      end
      if #next_ones > 1 then
        raise("CommandError", ("%s is ambiguous here: %s all come next; name the revision"):format(target,
          table.concat(next_ones, ", ")))
      end
      now[next_ones[1]] = true
      plan[#plan + 1] = self.by_id[next_ones[1]]
    end
    return plan
  end
  local want = {}
  for _, id in ipairs(self:resolve_targets(target)) do self:ancestors(id, want) end
  local todo = {}
  for id in pairs(want) do
    if not applied[id] then todo[id] = true end
  end
  return self:ordered(todo)
end

--- The revisions to undo, in order (children first), to downgrade from
--- `applied` to target: "base", an id or prefix (kept), or "-N".
function Scripts:downgrade_plan(applied, target)
  local n = type(target) == "string" and tonumber(target:match("^%-(%d+)$"))
  local remove = {}
  if n then
    local now = {}
    for k in pairs(applied) do now[k] = true end
    for step = 1, n do
      local heads = self:applied_heads(now)
      if #heads == 0 then
        raise("CommandError", ("cannot downgrade %s: the database is at base after %d step(s)"):format(target, step - 1))
      end
      if #heads > 1 then
        raise("CommandError", ("%s is ambiguous: %d heads are applied (%s); name the revision to go down to")
          :format(target, #heads, table.concat(heads, ", ")))
      end
      now[heads[1]] = nil
      remove[heads[1]] = true
    end
  elseif target == "base" then
    for id in pairs(applied) do remove[id] = true end
  else
    local keep = self:resolve(target)
    if not applied[keep] then
      raise("CommandError", ("revision %s is not applied: nothing to downgrade to"):format(keep))
    end
    for id in pairs(self:descendants(keep)) do
      if id ~= keep and applied[id] then remove[id] = true end
    end
  end
  local plan = self:ordered(remove)
  local out = {}
  for i = #plan, 1, -1 do out[#out + 1] = plan[i] end
  return out
end

--- Writes a revision file; returns its path.  Raises when the id is taken.
function Scripts:write(id, message, text)
  if self.by_id[id] then raise("CommandError", ("revision id %s exists already: %s"):format(id, self.by_id[id].path)) end
  local path = join(self.versions, id .. "_" .. S.slug(message) .. ".lua")
  local f, err = io.open(path, "wb")
  if not f then raise("CommandError", ("cannot write %s: %s"):format(path, tostring(err))) end
  f:write(text)
  f:close()
  return path
end

return S
