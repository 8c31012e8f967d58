-- argent.repl.printer: which form a value takes at the prompt, and where it
-- goes.  Results, lists of rows and lists of instances go through the
-- current output mode (argent.repl.format) -- a Result streams, row by row,
-- so its size does not matter; models and Tables print their columns; T
-- its table names; everything else is a line of text (argent.repl.show).
local core = require "argent.core"
local format = require "argent.repl.format"
local show = require "argent.repl.show"
local catalog = require "argent.repl.catalog"

local M = {}
local pack = table.pack or function(...) return {n = select("#", ...), ...} end

local function metaname(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__name") or nil
end

local function is_result(v) return type(v) == "userdata" and metaname(v) == "argent.Result" end

local function writer(repl, columns, force_mode)
  return format.writer(force_mode or repl.mode, columns, {
    write = repl.out, note = repl.note, width = repl:cut_width(), limit = repl:row_limit()})
end

--- Prints a Result, reading it row by row.  started: the clock when its
--- input began (for the "T ms" of the footer).
function M.print_result(repl, res, started)
  local columns = res:columns()
  if #columns == 0 then
    local n = res.rowcount
    local what = n and n >= 0 and ("%d %s affected"):format(n, n == 1 and "row" or "rows") or "ok"
    repl.out(("(%s, %.1f ms)\n"):format(what, repl.clock() - started))
    return
  end
  local w = writer(repl, columns)
  local it = res:tuples()
  local ok, err = pcall(function()
    while true do
      local row = pack(it())
      if row.n == 0 then break end
      if not w:row(row) then
        while select("#", it()) > 0 do w:skip() end -- count what is not shown
        break
      end
    end
  end)
  if not ok then
    pcall(res.close, res)
    error(err, 0)
  end
  w:finish(repl.clock() - started)
end

--- Prints rows (lists of values) under columns.
function M.print_rows(repl, columns, rows, started, mode)
  local w = writer(repl, columns, mode)
  for i, row in ipairs(rows) do
    if not w:row(row) then
      for _ = i + 1, #rows do w:skip() end
      break
    end
  end
  w:finish(started and repl.clock() - started or nil)
end

-- A non-empty list (keys 1..n only)?
local function list_length(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil then return nil end
  local n = #t
  if n == 0 then return nil end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n and n or nil
end

-- A list of instances of one model -> its columns and rows.
local function instance_rows(list, n)
  local mapper
  for i = 1, n do
    local o = list[i]
    if not show.is_instance(o) then return nil end
    local _, _, m = core.orm.internals(o)
    if mapper and m ~= mapper then return nil end
    mapper = m
  end
  local rows = {}
  for i = 1, n do
    local fields = show.instance_fields(list[i])
    local row = {n = #fields}
    for j, f in ipairs(fields) do row[j] = f.value end
    rows[i] = row
  end
  local columns = {}
  for i, key in ipairs(mapper.columns) do columns[i] = key end
  return columns, rows
end

local function is_cell(v)
  local t = type(v)
  return t == "string" or t == "number" or t == "boolean" or v == core.null
end

-- A list of row tables (string keys, scalar values) -> columns (sorted,
-- "id" first) and rows.
local function table_rows(list, n)
  local seen, columns = {}, {}
  for i = 1, n do
    local r = list[i]
    if type(r) ~= "table" or getmetatable(r) ~= nil or next(r) == nil then return nil end
    for k, v in pairs(r) do
      if type(k) ~= "string" or not is_cell(v) then return nil end
      if not seen[k] then
        seen[k] = true
        columns[#columns + 1] = k
      end
    end
  end
  table.sort(columns, function(a, b)
    if a == "id" or b == "id" then return a == "id" and b ~= "id" end
    return a < b
  end)
  local rows = {}
  for i = 1, n do
    local row = {n = #columns}
    for j, c in ipairs(columns) do
      local v = list[i][c]
      if v == core.null then v = nil end
      row[j] = v
    end
    rows[i] = row
  end
  return columns, rows
end

local function print_model(repl, model)
  local t = rawget(model, "__table__")
  repl.out(("<model %s> table %s\n"):format(rawget(model, "__name"), tostring(rawget(t, "name"))))
  local columns, rows = show.table_columns(t)
  M.print_rows(repl, columns, rows, nil, "table")
  local mapper = rawget(model, "__mapper__")
  local rels = {}
  for _, key in ipairs(mapper.relationship_keys or {}) do
    local r = mapper.relationships[key]
    pcall(r.resolve, r)
    local ok, target = pcall(r.target_model, r)
    target = ok and rawget(target, "__name") or tostring(r.target)
    rels[#rels + 1] = ("%s -> %s%s"):format(key, target, r.uselist == false and "" or "[]")
  end
  if #rels > 0 then repl.out("relationships: " .. table.concat(rels, ", ") .. "\n") end
end

--- Prints one value.
function M.print_value(repl, v, started)
  local t = type(v)
  if is_result(v) then return M.print_result(repl, v, started or repl.clock()) end
  if catalog.is_T(v) then
    local names = rawget(v, "__catalog"):tables()
    repl.out(#names > 0 and table.concat(names, "\n") .. "\n" or "(no tables)\n")
    return
  end
  if show.is_instance(v) then return repl.out(show.instance(v) .. "\n") end
  if t == "table" then
    if show.is_model(v) then return print_model(repl, v) end
    if metaname(v) == "argent.Table" then
      local columns, rows = show.table_columns(v)
      repl.out(("<Table %s>\n"):format(tostring(rawget(v, "name"))))
      return M.print_rows(repl, columns, rows, nil, "table")
    end
  end
  if (t == "table" or t == "userdata") and (show.is_query(v) or show.statement_tag(v)) then
    local ok, text = pcall(show.query, v, repl.db)
    if ok then return repl.out(text .. "\n") end
  end
  local n = list_length(v)
  if n then
    local columns, rows = instance_rows(v, n)
    if not columns then columns, rows = table_rows(v, n) end
    if columns then return M.print_rows(repl, columns, rows, started) end
  end
  if t == "table" and getmetatable(v) == nil then
    return repl.out(show.constructor(v, repl:cut_width() or 100) .. "\n")
  end
  if t == "string" then return repl.out(v .. "\n") end
  return repl.out((t == "number" and format.number_text(v) or tostring(v)) .. "\n")
end

--- Prints the values of an expression: plain values on one line separated
--- by tabs (as lua does), anything that prints as rows or lines on its own.
function M.print_values(repl, values, started)
  local simple = true
  for i = 1, values.n do
    local v = values[i]
    local t = type(v)
    if not (v == nil or t == "string" or t == "number" or t == "boolean") then simple = false end
  end
  if simple then
    local parts = {}
    for i = 1, values.n do
      local v = values[i]
      parts[i] = type(v) == "number" and format.number_text(v) or tostring(v)
    end
    repl.out(table.concat(parts, "\t") .. "\n")
    return
  end
  for i = 1, values.n do M.print_value(repl, values[i], started) end
end

return M
