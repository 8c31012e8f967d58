-- argent.repl.format: rows as a person reads them, or as a program copies
-- them -- the REPL's output modes.
--
--   table     aligned columns under a header, numbers on the right, NULL as
--             NULL, wide cells cut with "…" to fit the terminal (a table that
--             cannot fit turns vertical), then "(N rows, T ms)"
--   vertical  one "-[ RECORD n ]-" block per row, a line per column (psql's \x)
--   csv       RFC 4180 with a header line; NULL is an empty field
--   json      one array of objects, keys in column order
--   markdown  a GitHub table
--
-- A writer takes rows one at a time and keeps at most BUFFER of them (the
-- table mode needs some rows to size its columns; the others keep none), so
-- a result of any length streams in constant memory.  Past the row limit a
-- writer stops printing and only counts, and its footer says how many rows
-- were not shown.  csv, json and markdown print the data alone: their notes
-- go to the `note` function (stderr).
local compat = require "argent.compat"
local null = require("argent.core").null

local M = {}

local BUFFER = 1000 -- rows held to size the columns of a table
local MIN_CUT = 10  -- a cut column keeps at least this many characters

M.MODES = {"table", "vertical", "csv", "json", "markdown"}
local KNOWN = {}
for _, m in ipairs(M.MODES) do KNOWN[m] = true end
function M.is_mode(name) return KNOWN[name] == true end

local concat, floor, tostring, type = table.concat, math.floor, tostring, type
local byte, char, format, gsub, sub = string.byte, string.char, string.format, string.gsub, string.sub

-- ---------------------------------------------------------------- text

--- The number of characters (code points) of a UTF-8 string.
local function width(s)
  local _, continuation = gsub(s, "[\128-\191]", "")
  return #s - continuation
end
M.width = width

--- s cut to at most w characters, the last one "…" when something was cut.
local function cut(s, w)
  if width(s) <= w then return s end
  if w <= 1 then return w == 1 and "…" or "" end
  local keep, i, n = w - 1, 1, 0
  while i <= #s and n < keep do
    local c = byte(s, i)
    i = i + (c < 0x80 and 1 or c < 0xE0 and 2 or c < 0xF0 and 3 or 4)
    n = n + 1
  end
  return sub(s, 1, i - 1) .. "…"
end
M.cut = cut

local function pad(s, w, right)
  local n = w - width(s)
  if n <= 0 then return s end
  return right and (string.rep(" ", n) .. s) or (s .. string.rep(" ", n))
end

-- Is s text (valid UTF-8, no zero bytes)?  Binary strings print as hex.
local function is_text(s)
  if not s:find("[%z\128-\255]") then return true end -- ASCII (the common case: no loop)
  if s:find("%z") then return false end
  local i, n = 1, #s
  while i <= n do
    local c = byte(s, i)
    local extra
    if c < 0x80 then extra = 0
    elseif c >= 0xC2 and c <= 0xDF then extra = 1
    elseif c >= 0xE0 and c <= 0xEF then extra = 2
    elseif c >= 0xF0 and c <= 0xF4 then extra = 3
    else return false end
    for k = 1, extra do
      local d = byte(s, i + k)
      if not d or d < 0x80 or d > 0xBF then return false end
    end
    i = i + extra + 1
  end
  return true
end
M.is_text = is_text

local function hex(s)
  return "\\x" .. (gsub(s, ".", function(c) return format("%02x", byte(c)) end))
end

local ESCAPES = {["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t"}
local function escape_controls(s)
  return (gsub(s, "[%c]", function(c) return ESCAPES[c] or format("\\x%02x", byte(c)) end))
end

local function number_text(v)
  if compat.math_type(v) == "integer" then return tostring(v) end
  if v ~= v then return "NaN" end
  if v == math.huge then return "Infinity" end
  if v == -math.huge then return "-Infinity" end
  if v == floor(v) and v > -1e15 and v < 1e15 then return format("%.1f", v) end
  local s = format("%.15g", v)
  if tonumber(s) ~= v then s = format("%.17g", v) end
  return s
end
M.number_text = number_text

local json -- forward: cells holding JSON values print as JSON

--- What a cell shows in the table, vertical and markdown modes.
local function cell_text(v)
  local t = type(v)
  if v == nil then return "NULL" end
  if t == "string" then
    if not is_text(v) then return hex(v) end
    if v:find("%c") then return escape_controls(v) end
    return v
  end
  if t == "number" then return number_text(v) end
  if t == "boolean" then return v and "true" or "false" end
  if t == "table" and getmetatable(v) == nil then return json(v) end
  return escape_controls(tostring(v))
end
M.cell_text = cell_text

-- ---------------------------------------------------------------- JSON

local JSON_ESCAPES = {['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
                      ["\r"] = "\\r", ["\t"] = "\\t"}
local function json_string(s)
  if not is_text(s) then s = hex(s) end
  return '"' .. gsub(s, '[%c"\\]', function(c) return JSON_ESCAPES[c] or format("\\u%04x", byte(c)) end) .. '"'
end

local function is_array(t)
  local n = #t
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k ~= floor(k) then return false end
  end
  return true
end

function json(v, depth)
  local t = type(v)
  depth = depth or 0
  if v == nil then return "null" end
  if t == "string" then return json_string(v) end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return number_text(v)
  end
  if t == "table" and getmetatable(v) == nil and depth < 32 then
    local parts = {}
    if next(v) ~= nil and is_array(v) then
      for i = 1, #v do parts[i] = json(v[i], depth + 1) end
      return "[" .. concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for i, k in ipairs(keys) do
      local value = v[k]
      if value == nil then value = v[tonumber(k)] end
      parts[i] = json_string(k) .. ":" .. json(value, depth + 1)
    end
    return "{" .. concat(parts, ",") .. "}"
  end
  return json_string(tostring(v))
end
M.json = json

-- ---------------------------------------------------------------- csv

local function csv_field(v)
  local t = type(v)
  if v == nil then return "" end
  if t == "number" then return number_text(v) end
  local s
  if t == "string" then s = is_text(v) and v or hex(v)
  elseif t == "table" and getmetatable(v) == nil then s = json(v)
  else s = cell_text(v) end
  if s:find('[,"\r\n]') or s:find("^%s") or s:find("%s$") then s = '"' .. gsub(s, '"', '""') .. '"' end
  return s
end

-- ---------------------------------------------------------------- writers

local Writer = {}
Writer.__index = Writer

--- format.writer(mode, columns, opts) -> a writer with :row(values) and :finish(ms).
--- opts: write(s) (output), note(s) (notes for the data modes), width (the
--- terminal's columns; nil: never cut), limit (rows to print; nil or 0: all).
function M.writer(mode, columns, opts)
  assert(KNOWN[mode], "unknown mode")
  local w = setmetatable({mode = mode, columns = columns, ncols = #columns, write = opts.write,
                          note = opts.note or opts.write, width = opts.width, limit = opts.limit,
                          count = 0, shown = 0, buffered = {}}, Writer)
  if w.limit == 0 then w.limit = nil end
  return w
end

-- The texts of a row's cells.
local function texts(w, values)
  local out = {}
  for i = 1, w.ncols do out[i] = cell_text(values[i]) end
  return out
end

-- Table mode: sizes the columns from the buffered rows, decides whether the
-- table fits the terminal (cutting wide columns) or turns vertical.
local function layout(w)
  local widths, numeric = {}, {}
  for i, name in ipairs(w.columns) do
    widths[i] = width(name)
    numeric[i] = true
  end
  local any = {}
  for _, row in ipairs(w.buffered) do
    for i = 1, w.ncols do
      local v = row.values[i]
      if v ~= nil then
        any[i] = true
        if type(v) ~= "number" then numeric[i] = false end
      end
      local n = width(row.texts[i])
      if n > widths[i] then widths[i] = n end
    end
  end
  for i = 1, w.ncols do if not any[i] then numeric[i] = false end end
  w.widths, w.numeric = widths, numeric
  local term = w.width
  if not term then return end
  local function total()
    local sum = 1 + 3 * (w.ncols - 1)
    for i = 1, w.ncols do sum = sum + widths[i] end
    return sum
  end
  local excess = total() - term
  if excess <= 0 then return end
  -- shrink the widest columns, none below MIN_CUT (or its own width)
  local floor_of = {}
  local room = 0
  for i = 1, w.ncols do
    floor_of[i] = math.min(widths[i], MIN_CUT)
    room = room + widths[i] - floor_of[i]
  end
  if room < excess then
    w.mode = "vertical" -- no row can fit: one column per line instead
    return
  end
  while excess > 0 do
    local widest = 1
    for i = 2, w.ncols do
      if widths[i] - floor_of[i] > widths[widest] - floor_of[widest] then widest = i end
    end
    widths[widest] = widths[widest] - 1
    excess = excess - 1
  end
  w.cut = true
end

local function table_line(w, cells)
  local parts = {}
  for i = 1, w.ncols do
    local s = cells[i]
    if w.cut then s = cut(s, w.widths[i]) end
    parts[i] = pad(s, w.widths[i], w.numeric[i])
  end
  return (" " .. concat(parts, " | ")):gsub("%s+$", "") .. "\n"
end

local function table_header(w)
  local names, rule = {}, {}
  for i, name in ipairs(w.columns) do
    local s = w.cut and cut(name, w.widths[i]) or name
    names[i] = pad(s, w.widths[i], w.numeric[i])
    rule[i] = string.rep("-", w.widths[i])
  end
  w.write((" " .. concat(names, " | ")):gsub("%s+$", "") .. "\n")
  w.write("-" .. concat(rule, "-+-") .. "-\n")
end

local function vertical_record(w, n, cells)
  local label = 0
  for _, name in ipairs(w.columns) do label = math.max(label, width(name)) end
  local head = format("-[ RECORD %d ]", n)
  local line_width = w.width and math.min(w.width, label + 24) or label + 24
  w.write(head .. string.rep("-", math.max(1, line_width - width(head))) .. "\n")
  for i, name in ipairs(w.columns) do
    local s = cells[i]
    if w.width then s = cut(s, math.max(MIN_CUT, w.width - label - 3)) end
    w.write(pad(name, label) .. " | " .. s .. "\n")
  end
end

local function markdown_cell(s) return (gsub(gsub(s, "|", "\\|"), "\n", "<br>")) end

-- Prints what the table mode holds so far, sizing the columns by it.
local function flush_table(w)
  if w.printed_header then return end
  layout(w)
  w.printed_header = true
  if w.mode == "vertical" then
    for _, row in ipairs(w.buffered) do
      w.shown = w.shown + 1
      vertical_record(w, w.shown, row.texts)
    end
  else
    table_header(w)
    for _, row in ipairs(w.buffered) do w.write(table_line(w, row.texts)) end
    w.shown = w.shown + #w.buffered
  end
  w.buffered = {}
end

--- Adds a row (a list of ncols values; nil for NULL).  Returns false once
--- the row limit is reached (the caller may stop reading, or go on counting).
function Writer:row(values)
  self.count = self.count + 1
  for i = 1, self.ncols do
    if values[i] == null then values[i] = nil end -- (tuples() gives a first-column NULL as argent.null)
  end
  if self.limit and self.count > self.limit then return false end
  local mode = self.mode
  if mode == "table" and not self.printed_header then
    self.buffered[#self.buffered + 1] = {values = values, texts = texts(self, values)}
    if #self.buffered >= BUFFER then flush_table(self) end
  elseif mode == "table" then
    self.write(table_line(self, texts(self, values)))
    self.shown = self.shown + 1
  elseif mode == "vertical" then
    self.shown = self.shown + 1
    vertical_record(self, self.shown, texts(self, values))
  elseif mode == "csv" then
    if self.shown == 0 then
      local head = {}
      for i, name in ipairs(self.columns) do head[i] = csv_field(name) end
      self.write(concat(head, ",") .. "\n")
    end
    local parts = {}
    for i = 1, self.ncols do parts[i] = csv_field(values[i]) end
    self.write(concat(parts, ",") .. "\n")
    self.shown = self.shown + 1
  elseif mode == "json" then
    local parts = {}
    for i, name in ipairs(self.columns) do parts[i] = json_string(name) .. ":" .. json(values[i]) end
    self.write((self.shown == 0 and "[\n" or ",\n") .. "{" .. concat(parts, ",") .. "}")
    self.shown = self.shown + 1
  else -- markdown
    local cells = texts(self, values)
    if self.shown == 0 then
      local head, rule = {}, {}
      for i, name in ipairs(self.columns) do
        head[i] = markdown_cell(name)
        rule[i] = type(values[i]) == "number" and "---:" or "---"
      end
      self.write("| " .. concat(head, " | ") .. " |\n|" .. concat(rule, "|") .. "|\n")
    end
    for i = 1, self.ncols do cells[i] = markdown_cell(cells[i]) end
    self.write("| " .. concat(cells, " | ") .. " |\n")
    self.shown = self.shown + 1
  end
  return not self.limit or self.count < self.limit
end

--- Counts a row that is not printed (past the limit).
function Writer:skip() self.count = self.count + 1 end

local function plural(n, one, many) return n == 1 and one or many end

--- Ends the output: the table mode prints what it holds, then the footer
--- "(N rows, T ms)" (ms may be nil); the data modes print their end (json's
--- "]", the header of an empty csv) and nothing more.  Returns the text of
--- the note about rows not shown, if any (already written).
function Writer:finish(ms)
  local hidden = self.count - (self.limit and math.min(self.count, self.limit) or self.count)
  local note
  if hidden > 0 then
    note = format("(%d more %s not shown: .limit N shows more, .limit 0 all)", hidden, plural(hidden, "row", "rows"))
  end
  local mode = self.mode
  if mode == "table" or mode == "vertical" then
    if mode == "table" then flush_table(self) end
    local footer = format("(%d %s", self.count, plural(self.count, "row", "rows"))
    if ms then footer = footer .. format(", %.1f ms", ms) end
    self.write(footer .. ")\n")
    if note then self.write(note .. "\n") end
    return note
  end
  if mode == "csv" and self.shown == 0 then
    local head = {}
    for i, name in ipairs(self.columns) do head[i] = csv_field(name) end
    self.write(concat(head, ",") .. "\n")
  elseif mode == "json" then
    self.write(self.shown == 0 and "[]\n" or "\n]\n")
  elseif mode == "markdown" and self.shown == 0 then
    local head, rule = {}, {}
    for i, name in ipairs(self.columns) do
      head[i] = markdown_cell(name)
      rule[i] = "---"
    end
    self.write("| " .. concat(head, " | ") .. " |\n|" .. concat(rule, "|") .. "|\n")
  end
  if note then self.note(note .. "\n") end
  return note
end

return M
