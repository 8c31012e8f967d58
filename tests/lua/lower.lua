-- tests/lua/lower.lua -- the 5.1 form of the suites (API.md section 10).
--
-- The suites are written for Lua 5.4 and close what they open with
-- to-be-closed variables (`local conn <close> = engine:connect()`), which
-- Lua 5.1, LuaJIT and 5.3 cannot parse.  On those, tests/lua/run_lowered.lua
-- loads each suite and each tests.* module through lower.source, which
-- rewrites that syntax into calls that close at the same points when the
-- block is left normally: at the end of the block (`end`, `else`, `elseif`,
-- `until`), before a `break`, and after a `return` has evaluated its values:
--
--   local c <close> = f()         ->  local c = f()
--   ... end                       ->  ... __ag_close(c) end
--   return g(c)                   ->  return __ag_ret(1, c, g(c))
--
-- Leaving by an error does not close (a failed test fails anyway, and the
-- garbage collector closes what it drops).  `<const>` is dropped.  Lines
-- stay where they were, so error messages name the same lines.

local lower = {}

-- Lua's tokens, as far as blocks need: names (keywords among them),
-- strings and symbols, each with its byte range; comments and spaces skipped.
local function tokenize(src)
  local list, i, n = {}, 1, #src
  while i <= n do
    local c = src:sub(i, i)
    if c:match("%s") then
      i = src:find("[^%s]", i) or n + 1
    elseif src:find("^%-%-", i) then
      local eq = src:match("^%-%-%[(=*)%[", i)
      local e
      if eq then
        e = select(2, src:find("]" .. eq .. "]", i, true))
      else
        e = src:find("\n", i, true)
      end
      i = (e or n) + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then
          j = j + 2
        elseif d == c then
          break
        else
          j = j + 1
        end
      end
      list[#list + 1] = {kind = "string", s = i, e = j}
      i = j + 1
    elseif src:find("^%[=*%[", i) then
      local eq = src:match("^%[(=*)%[", i)
      local e = select(2, src:find("]" .. eq .. "]", i, true)) or n
      list[#list + 1] = {kind = "string", s = i, e = e}
      i = e + 1
    elseif c:match("[%a_]") then
      local s, e = src:find("^[%w_]+", i)
      list[#list + 1] = {kind = "name", text = src:sub(s, e), s = s, e = e}
      i = e + 1
    elseif c:match("%d") or (c == "." and src:sub(i + 1, i + 1):match("%d")) then
      local e = select(2, src:find("^0[xX][%x%.]*[pP][%+%-]?%d+", i)) or select(2, src:find("^0[xX][%x%.]*", i))
        or select(2, src:find("^[%d%.]*[eE][%+%-]?%d+", i)) or select(2, src:find("^[%d%.]+", i))
      list[#list + 1] = {kind = "number", s = i, e = e}
      i = e + 1
    else
      local sym = src:match("^%.%.%.", i) or src:match("^%.%.", i) or src:match("^[=~<>]=", i)
        or src:match("^::", i) or c
      list[#list + 1] = {kind = "symbol", text = sym, s = i, e = i + #sym - 1}
      i = i + #sym
    end
  end
  return list
end

local LIBRARY = {["table.unpack"] = "__ag_compat.unpack", ["table.pack"] = "__ag_compat.pack",
                 ["table.move"] = "__ag_compat.move", ["math.type"] = "__ag_compat.math_type",
                 ["math.tointeger"] = "__ag_compat.tointeger",
                 -- 5.1 and LuaJIT: their decimal strings, as such integers come back
                 ["math.maxinteger"] = "__ag_maxinteger", ["math.mininteger"] = "__ag_mininteger"}

local TERMINATORS = {["end"] = true, ["else"] = true, ["elseif"] = true, ["until"] = true}

--- The source text with `<close>` and `<const>` lowered (see above).
function lower.source(src)
  local toks = tokenize(src)
  local edits = {} -- {pos = byte, text = inserted before it, skip_to = last byte replaced}
  local function insert(pos, text) edits[#edits + 1] = {pos = pos, text = text} end
  local function remove(s, e) edits[#edits + 1] = {pos = s, text = "", skip_to = e} end

  -- blocks: kind "function" | "loop" | "block"; vars: its to-be-closed locals
  local stack = {{kind = "function", vars = {}}}
  local loops_pending = 0
  local function closes(vars)
    local out = {}
    for k = #vars, 1, -1 do out[#out + 1] = "__ag_close(" .. vars[k] .. ")" end
    return table.concat(out, " ")
  end
  local function finish(block, tok_index)
    local pos = tok_index and toks[tok_index].s or #src + 1
    if block.return_open then
      -- before a `;` that ends the return statement, if any
      local prev = toks[(tok_index or #toks + 1) - 1]
      if prev and prev.kind == "symbol" and prev.text == ";" then pos = prev.s end
      insert(pos, ")")
    elseif #block.vars > 0 and not block.left then
      insert(pos, " " .. closes(block.vars) .. " ")
    end
  end
  local function open(kind) stack[#stack + 1] = {kind = kind, vars = {}} end
  local function collect(upto_kind)
    local vars = {}
    for b = #stack, 1, -1 do
      local block = stack[b]
      for k = #block.vars, 1, -1 do vars[#vars + 1] = block.vars[k] end
      if block.kind == upto_kind or block.kind == "function" then break end
    end
    return vars
  end

  -- what the suites use of 5.3's library, from argent.compat (the library
  -- itself uses argent.compat directly)
  for k = 1, #toks - 2 do
    local lib, dot, fn = toks[k], toks[k + 1], toks[k + 2]
    local prev = toks[k - 1]
    if lib.kind == "name" and dot.text == "." and fn.kind == "name"
        and not (prev and prev.kind == "symbol" and (prev.text == "." or prev.text == ":")) then
      local with = LIBRARY[lib.text .. "." .. fn.text]
      if with then
        edits[#edits + 1] = {pos = lib.s, text = with, skip_to = fn.e}
      end
    end
  end
  -- 5.1's load takes a function only: load(text, ...) goes to argent.compat's
  for k, t in ipairs(toks) do
    local prev, nxt = toks[k - 1], toks[k + 1]
    if t.kind == "name" and t.text == "load" and nxt and nxt.text == "("
        and not (prev and prev.kind == "symbol" and (prev.text == "." or prev.text == ":"))
        and not (prev and prev.kind == "name" and prev.text == "function") then
      edits[#edits + 1] = {pos = t.s, text = "__ag_compat.load", skip_to = t.e}
    end
  end
  -- 5.1 has no \xXX nor \u{XXXX} escapes: decimal ones instead
  for _, t in ipairs(toks) do
    if t.kind == "string" and src:sub(t.s, t.s) ~= "[" then
      local text = src:sub(t.s, t.e)
      local out = text:gsub("\\(.)(%x?%x?)", function(c, hex)
        if c == "x" and #hex == 2 then return ("\\%03d"):format(tonumber(hex, 16)) end
        return nil
      end)
      out = out:gsub("\\u{(%x+)}", function(hex)
        local cp, bytes = tonumber(hex, 16), {}
        if cp < 0x80 then
          bytes = {cp}
        elseif cp < 0x800 then
          bytes = {0xC0 + math.floor(cp / 64), 0x80 + cp % 64}
        elseif cp < 0x10000 then
          bytes = {0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64}
        else
          bytes = {0xF0 + math.floor(cp / 262144), 0x80 + math.floor(cp / 4096) % 64,
                   0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64}
        end
        for k, b in ipairs(bytes) do bytes[k] = ("\\%03d"):format(b) end
        return table.concat(bytes)
      end)
      if out ~= text then edits[#edits + 1] = {pos = t.s, text = out, skip_to = t.e} end
    end
  end

  local i = 1
  while i <= #toks do
    local t = toks[i]
    local word = t.kind == "name" and t.text
    local prev = toks[i - 1]
    local is_field = prev and prev.kind == "symbol" and (prev.text == "." or prev.text == ":")
    if is_field then
      word = nil
    end
    if word == "while" or word == "for" then
      loops_pending = loops_pending + 1
    elseif word == "do" then
      if loops_pending > 0 then
        loops_pending = loops_pending - 1
        open("loop")
      else
        open("block")
      end
    elseif word == "repeat" then
      open("loop")
    elseif word == "then" then
      open("block")
    elseif word == "function" then
      open("function")
    elseif word and TERMINATORS[word] then
      finish(table.remove(stack), i)
      if word == "else" then open("block") end
    elseif word == "local" and toks[i + 1] and toks[i + 1].kind == "name" and toks[i + 1].text ~= "function" then
      local j = i + 1
      local block = stack[#stack]
      while toks[j] and toks[j].kind == "name" do
        local name = toks[j].text
        local lt, attr, gt = toks[j + 1], toks[j + 2], toks[j + 3]
        if lt and lt.kind == "symbol" and lt.text == "<" and attr and attr.kind == "name" and gt and gt.text == ">" then
          remove(lt.s, gt.e)
          if attr.text == "close" then block.vars[#block.vars + 1] = name end
          j = j + 3
        end
        if toks[j + 1] and toks[j + 1].text == "," then
          j = j + 2
        else
          break
        end
      end
      i = j
    elseif word == "return" then
      local block = stack[#stack]
      local vars = collect("function")
      if #vars > 0 then
        local nxt = toks[i + 1]
        local empty = not nxt or (nxt.kind == "name" and TERMINATORS[nxt.text]) or nxt.text == ";"
        local head = "__ag_ret(" .. #vars .. ", " .. table.concat(vars, ", ")
        if empty then
          insert(t.e + 1, " " .. head .. ")")
        else
          insert(t.e + 1, " " .. head .. ",")
          block.return_open = true
        end
      end
      block.left = true
    elseif word == "break" then
      local vars = collect("loop")
      if #vars > 0 then insert(t.s, closes(vars) .. " ") end
      stack[#stack].left = true
    end
    i = i + 1
  end
  finish(stack[1], nil)

  table.sort(edits, function(a, b) return a.pos < b.pos end)
  local out, at = {}, 1
  for _, edit in ipairs(edits) do
    out[#out + 1] = src:sub(at, edit.pos - 1)
    out[#out + 1] = edit.text
    at = edit.skip_to and edit.skip_to + 1 or edit.pos
  end
  out[#out + 1] = src:sub(at)
  return table.concat(out)
end

--- Closes v as leaving its block would (nil and false are not closed).
function lower.close(v)
  if v then
    local mt = getmetatable(v)
    local close = type(mt) == "table" and mt.__close
    if not close then
      -- argent's objects that have no __close metamethod reachable (5.1 has no
      -- metatable on tables from __index) still have close()
      close = v.close
    end
    close(v, nil)
  end
end

local unpack = table.unpack or unpack

--- __ag_ret(n, v1 .. vn, ...): closes v1 .. vn (innermost first), returns ...
function lower.ret(n, ...)
  local args = {n = select("#", ...), ...}
  for k = 1, n do lower.close(args[k]) end
  return unpack(args, n + 1, args.n)
end

return lower
