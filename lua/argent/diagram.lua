-- argent.diagram: the tables, columns, keys and relationships of a set of
-- models, or of a database's reflected tables, as a picture's source --
-- Graphviz dot or Mermaid's erDiagram -- for `argent schema` (API.md 9.1).
--
--   local diagram = require "argent.diagram"
--   local d = diagram.from_models({User, Post}) or diagram.from_metadata(meta)
--   print(diagram.dot(d)) / print(diagram.mermaid(d))
--
-- A diagram is plain data: {tables = {{name, model, columns = {{name, type,
-- pk, fk, nullable}}}}, links = {{from, to, columns, label, many}}}.  Every
-- foreign key is a link from the child table to the parent; a model's
-- relationships name the link (`posts / owner`), and many-to-many ones
-- through a secondary table show as the two links of that table.  Tables
-- and columns keep their written order (columns) or sorted order (tables),
-- so the output is stable.  Names are data: they are quoted for dot and
-- restricted to what Mermaid accepts, never used as code.
local core = require "argent.core"

local M = {}
local concat, sort = table.concat, table.sort

local function check_arg(ok, fname, what, v)
  if not ok then
    core.error("ArgumentError", ("diagram.%s: argument '%s' must be %s, got %s"):format(fname, what[1], what[2], type(v)))
  end
end

-- A diagram as from_models / from_metadata make it.
local function check_diagram(d, fname)
  check_arg(type(d) == "table" and type(d.tables) == "table" and type(d.links) == "table", fname,
    {"d", "a diagram (diagram.from_models or from_metadata)"}, d)
end

local function column_info(c)
  local inf = core.sql.info(c)
  local fk = inf.foreign_key
  local target = fk and (type(fk) == "table" and fk.target or tostring(fk)) or nil
  return {name = inf.name, type = inf.type and tostring(inf.type) or "", pk = inf.primary_key and true or false,
          fk = target, nullable = inf.nullable ~= false}
end

local function table_info(t, model)
  local out = {name = rawget(t, "name"), model = model, columns = {}}
  for i, c in ipairs(rawget(t, "columns") or {}) do out.columns[i] = column_info(c) end
  return out
end

-- Links from the foreign keys of the tables in d; labels from relationships.
local function add_links(d, labels)
  local by_name = {}
  for _, t in ipairs(d.tables) do by_name[t.name] = t end
  for _, t in ipairs(d.tables) do
    for _, c in ipairs(t.columns) do
      if c.fk then
        local parent, parent_col = c.fk:match("^(.-)%.([^%.]+)$")
        if parent and by_name[parent] then
          local key = t.name .. "." .. c.name
          d.links[#d.links + 1] = {from = t.name, to = parent, column = c.name, ref = parent_col,
                                   label = labels[key] or c.name, nullable = c.nullable}
        end
      end
    end
  end
end

--- A diagram of the models (a list of model classes).
function M.from_models(models)
  check_arg(type(models) == "table" and getmetatable(models) == nil, "from_models", {"models", "a list of models"},
    models)
  local orm = require "argent.orm"
  local d, seen, labels = {tables = {}, links = {}}, {}, {}
  local list = {}
  for _, m in ipairs(models) do
    if not orm.is_model(m) then core.error("ArgumentError", "diagram.from_models: not a model: " .. tostring(m)) end
    list[#list + 1] = m
  end
  sort(list, function(a, b) return rawget(a, "__tablename") < rawget(b, "__tablename") end)
  local extra = {}
  for _, m in ipairs(list) do
    local t = rawget(m, "__table__")
    if not seen[t] then
      seen[t] = true
      d.tables[#d.tables + 1] = table_info(t, rawget(m, "__name"))
    end
    local mapper = rawget(m, "__mapper__")
    for _, key in ipairs(mapper.relationship_keys or {}) do
      local r = mapper.relationships[key]
      if pcall(r.resolve, r) then
        if r.direction == "manytoone" then
          local child_col = mapper.attrs[r.local_keys[1]].column
          local ckey = rawget(t, "name") .. "." .. core.sql.info(child_col).name
          labels[ckey] = labels[ckey] and (labels[ckey] .. " / " .. key) or key
        elseif r.direction == "onetomany" then
          local tm = rawget(r:target_model(), "__mapper__")
          local col = tm.attrs[r.remote_keys[1]].column
          local ckey = rawget(tm.table, "name") .. "." .. core.sql.info(col).name
          labels[ckey] = labels[ckey] and (key .. " / " .. labels[ckey]) or key
        elseif r.direction == "manytomany" and r.secondary_table and not seen[r.secondary_table] then
          extra[#extra + 1] = r.secondary_table
          seen[r.secondary_table] = true
          local sec = rawget(r.secondary_table, "name")
          labels[sec .. "." .. r.sec_local[1]] = key
        end
      end
    end
  end
  for _, t in ipairs(extra) do d.tables[#d.tables + 1] = table_info(t, nil) end
  add_links(d, labels)
  return d
end

--- A diagram of the Tables of a MetaData (reflected or declared).
function M.from_metadata(meta)
  check_arg(type(meta) == "table" and type(meta.tables) == "table", "from_metadata", {"meta", "a MetaData"}, meta)
  local d = {tables = {}, links = {}}
  local names = {}
  for name in pairs(meta.tables) do names[#names + 1] = name end
  sort(names)
  for _, name in ipairs(names) do d.tables[#d.tables + 1] = table_info(meta.tables[name], nil) end
  add_links(d, {})
  return d
end

-- ---------------------------------------------------------------- dot

local function dot_id(s) return '"' .. tostring(s):gsub('[\\"]', "\\%0") .. '"' end

local function html(s)
  return (tostring(s):gsub("[&<>\"]", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;"}))
end

--- Graphviz dot: one node per table (an HTML-like table: the name, then a
--- row per column with PK / FK marks, the name (underlined for the key,
--- "*" when NOT NULL) and the type), one edge per foreign key from the
--- child's column to the parent's key: a crow's foot at the child (many), a
--- bar at the parent (one), dashed when the key may be NULL.  Each row is
--- one cell (a port), so that edges meet a table at its border.
function M.dot(d)
  check_diagram(d, "dot")
  local out = {"digraph schema {", "  graph [rankdir=LR, fontname=\"Helvetica\", nodesep=0.6, ranksep=1.2];",
               "  node [shape=plaintext, fontname=\"Helvetica\", fontsize=11];",
               "  edge [fontname=\"Helvetica\", fontsize=10, dir=both, arrowtail=crow, arrowhead=tee];"}
  for _, t in ipairs(d.tables) do
    local rows = {('<TR><TD BGCOLOR="#dde6f0"><B>%s</B>%s</TD></TR>'):format(html(t.name),
      t.model and t.model ~= t.name and (" (" .. html(t.model) .. ")") or "")}
    for _, c in ipairs(t.columns) do
      local marks = {}
      if c.pk then marks[#marks + 1] = "PK" end
      if c.fk then marks[#marks + 1] = "FK" end
      rows[#rows + 1] = ('<TR><TD PORT="%s" ALIGN="LEFT"><TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0">'
        .. '<TR><TD ALIGN="LEFT" WIDTH="34">%s</TD><TD ALIGN="LEFT" WIDTH="110">%s%s</TD>'
        .. '<TD ALIGN="LEFT"><FONT COLOR="#555555">%s</FONT></TD></TR></TABLE></TD></TR>')
        :format(html(c.name), concat(marks, " "), c.pk and "<U>" .. html(c.name) .. "</U>" or html(c.name),
          c.nullable and "" or " *", html(c.type))
    end
    out[#out + 1] = ("  %s [label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"4\">%s</TABLE>>];")
      :format(dot_id(t.name), concat(rows))
  end
  for _, l in ipairs(d.links) do
    out[#out + 1] = ("  %s:%s -> %s:%s [label=%s%s];"):format(dot_id(l.from), dot_id(l.column), dot_id(l.to),
      dot_id(l.ref), dot_id(l.label), l.nullable and ", style=dashed" or "")
  end
  out[#out + 1] = "}"
  return concat(out, "\n") .. "\n"
end

-- ---------------------------------------------------------------- mermaid

-- Mermaid's entity and attribute names: letters, digits, _ and - only.
local function mermaid_name(s) return (tostring(s):gsub("[^%w_%-]", "_")) end
local function mermaid_type(s)
  s = tostring(s):gsub("%s+", "_"):gsub("[^%w_%-%(%)%[%]]", "_")
  if not s:match("^%a") then s = "t_" .. s end
  return s
end

--- Mermaid erDiagram: an entity per table with its columns (type, name,
--- PK / FK), a relationship per foreign key: parent ||--o{ child (|o--o{
--- when the key may be NULL), labelled with the relationship or column.
function M.mermaid(d)
  check_diagram(d, "mermaid")
  local out = {"erDiagram"}
  for _, t in ipairs(d.tables) do
    out[#out + 1] = ("  %s {"):format(mermaid_name(t.name))
    for _, c in ipairs(t.columns) do
      local keys = {}
      if c.pk then keys[#keys + 1] = "PK" end
      if c.fk then keys[#keys + 1] = "FK" end
      out[#out + 1] = ("    %s %s%s"):format(mermaid_type(c.type ~= "" and c.type or "value"), mermaid_name(c.name),
        #keys > 0 and " " .. concat(keys, ", ") or "")
    end
    out[#out + 1] = "  }"
  end
  for _, l in ipairs(d.links) do
    out[#out + 1] = ('  %s %s--o{ %s : "%s"'):format(mermaid_name(l.to), l.nullable and "|o" or "||",
      mermaid_name(l.from), tostring(l.label):gsub('"', "'"))
  end
  return concat(out, "\n") .. "\n"
end

--- What `argent schema` prints: opts.modules (names to require) or opts.url
--- (a database to reflect), opts.format "dot" or "mermaid" (svg is dot,
--- drawn by Graphviz in the command).
function M.for_command(opts)
  check_arg(type(opts) == "table", "for_command", {"opts", "a table"}, opts)
  local d
  if opts.modules and #opts.modules > 0 then
    local classes = {}
    for i, m in ipairs(require("argent.models").require_all(opts.modules)) do classes[i] = m.class end
    d = M.from_models(classes)
  else
    local argent = require "argent"
    local engine = argent.create_engine(opts.url)
    local meta = argent.MetaData()
    local ok, err = pcall(meta.reflect, meta, engine)
    engine:dispose()
    if not ok then error(err, 0) end
    d = M.from_metadata(meta)
  end
  return opts.format == "mermaid" and M.mermaid(d) or M.dot(d)
end

return M
