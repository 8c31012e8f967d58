-- argent.inspect.sqlite: SQLite's reflection queries, for every table of the
-- database at once (or for one): a fixed number of statements however many
-- tables there are, each joining sqlite_master with a pragma function
-- (pragma_table_info, pragma_index_list / pragma_index_info,
-- pragma_foreign_key_list) -- what a 300-table autogenerate needs to stay
-- fast.
--
-- SQLite keeps no names for constraints in its catalog: names (and CHECK
-- expressions) are read from the CREATE TABLE text it stores, with the small
-- tokenizer below (quotes, brackets, comments and nesting respected).
local M = {}

local TABLES = "m.type = 'table' AND m.name NOT LIKE 'sqlite~_%' ESCAPE '~'"

-- Appends "AND m.name = ?" when only one table is wanted; returns sql, params.
local function filtered(sql, only, order)
  if only then return sql .. " AND m.name = ? " .. order, {only} end
  return sql .. " " .. order, nil
end

-- ---- the CREATE TABLE text

-- The tokens of sql: {kind = "word" | "ident" | "string" | "(" | ")" | ",", text =, first =, last =}
-- (ident: a quoted identifier, text unquoted).
local function tokenize(sql)
  local out, i, n = {}, 1, #sql
  while i <= n do
    local ch = sql:sub(i, i)
    if ch:find("^%s") then
      i = i + 1
    elseif sql:sub(i, i + 1) == "--" then
      local e = sql:find("\n", i, true)
      i = e and e + 1 or n + 1
    elseif sql:sub(i, i + 1) == "/*" then
      local _, e = sql:find("*/", i + 2, true)
      i = e and e + 1 or n + 1
    elseif ch == "(" or ch == ")" or ch == "," then
      out[#out + 1] = {kind = ch, text = ch, first = i, last = i}
      i = i + 1
    elseif ch == "'" or ch == '"' or ch == "`" or ch == "[" then
      local close = ch == "[" and "]" or ch
      local j, buf = i + 1, {}
      while j <= n do
        local c = sql:sub(j, j)
        if c == close then
          if close ~= "]" and sql:sub(j + 1, j + 1) == close then
            buf[#buf + 1] = close
            j = j + 2
          else
            break
          end
        else
          buf[#buf + 1] = c
          j = j + 1
        end
      end
      out[#out + 1] = {kind = ch == "'" and "string" or "ident", text = table.concat(buf), first = i, last = j}
      i = j + 1
    else
      local j = i
      while j <= n and not sql:sub(j, j):find("^[%s(),'\"`%[]") do j = j + 1 end
      if j == i then j = i + 1 end
      out[#out + 1] = {kind = "word", text = sql:sub(i, j - 1), first = i, last = j - 1}
      i = j
    end
  end
  return out
end

local function is_word(tok, w) return tok and tok.kind == "word" and tok.text:upper() == w end

-- The index of the ")" that closes the "(" at tokens[i].
local function closing(tokens, i)
  local depth = 0
  for j = i, #tokens do
    if tokens[j].kind == "(" then depth = depth + 1
    elseif tokens[j].kind == ")" then
      depth = depth - 1
      if depth == 0 then return j end
    end
  end
  return #tokens
end

-- The names in a parenthesised list of identifiers starting at tokens[i] ("(").
local function name_list(tokens, i)
  local names, j = {}, closing(tokens, i)
  for k = i + 1, j - 1 do
    local t = tokens[k]
    if (t.kind == "word" or t.kind == "ident") and (tokens[k - 1].kind == "(" or tokens[k - 1].kind == ",") then
      names[#names + 1] = t.text
    end
  end
  return names, j
end

--- What the CREATE TABLE text says that the catalog does not: constraint
--- names and CHECK expressions.  -> {pk_name =, uniques = {{name, columns}},
--- foreign_keys = {{name, columns, referred_table}}, checks = {{name, sqltext}},
--- autoincrement = bool, collations = {column -> name}, options = "WITHOUT ROWID, STRICT" or ""}
function M.parse_create_table(sql)
  local out = {uniques = {}, foreign_keys = {}, checks = {}, autoincrement = false, collations = {}, options = ""}
  if type(sql) ~= "string" then return out end
  local tokens = tokenize(sql)
  local open
  for i, t in ipairs(tokens) do
    if t.kind == "(" then open = i break end
  end
  if not open then return out end
  local close = closing(tokens, open)
  if tokens[close] and tokens[close].kind == ")" and close < #tokens then
    out.options = (sql:sub(tokens[close].last + 1):gsub("^%s+", ""):gsub("[%s;]+$", ""))
  end
  -- the items between the parentheses, split at top-level commas
  local items, start, depth = {}, open + 1, 0
  for i = open + 1, close do
    local t = tokens[i]
    if t.kind == "(" then depth = depth + 1
    elseif t.kind == ")" and i < close then depth = depth - 1
    end
    if (t.kind == "," and depth == 0) or i == close then
      items[#items + 1] = {first = start, last = i - 1}
      start = i + 1
    end
  end
  for _, item in ipairs(items) do
    local i, last = item.first, item.last
    local column
    local head = tokens[i]
    local is_table_constraint = is_word(head, "CONSTRAINT") or is_word(head, "PRIMARY") or is_word(head, "UNIQUE")
      or is_word(head, "CHECK") or is_word(head, "FOREIGN")
    if not is_table_constraint and head then
      column = head.text
      i = i + 1
    end
    local name
    while i <= last do
      local t = tokens[i]
      if is_word(t, "CONSTRAINT") and tokens[i + 1] then
        name = tokens[i + 1].text
        i = i + 2
      elseif is_word(t, "PRIMARY") then
        local j = i + 2
        if not column and tokens[j] and tokens[j].kind == "(" then _, j = name_list(tokens, j) end
        out.pk_name = name
        name = nil
        i = j
      elseif is_word(t, "AUTOINCREMENT") then
        out.autoincrement = true
        i = i + 1
      elseif is_word(t, "COLLATE") and column and tokens[i + 1] then
        out.collations[column] = tokens[i + 1].text
        name = nil
        i = i + 2
      elseif is_word(t, "UNIQUE") then
        local cols, j = {column}, i + 1
        if not column and tokens[j] and tokens[j].kind == "(" then cols, j = name_list(tokens, j) j = j + 1 end
        out.uniques[#out.uniques + 1] = {name = name, columns = cols}
        name = nil
        i = j
      elseif is_word(t, "CHECK") and tokens[i + 1] and tokens[i + 1].kind == "(" then
        local j = closing(tokens, i + 1)
        out.checks[#out.checks + 1] = {name = name, sqltext = sql:sub(tokens[i + 1].last + 1, tokens[j].first - 1)}
        name = nil
        i = j + 1
      elseif is_word(t, "FOREIGN") or is_word(t, "REFERENCES") then
        local cols, j = {column}, i + 1
        if is_word(t, "FOREIGN") then
          j = i + 2 -- FOREIGN KEY (
          if tokens[j] and tokens[j].kind == "(" then cols, j = name_list(tokens, j) j = j + 1 end
          if is_word(tokens[j], "REFERENCES") then j = j + 1 end
        end
        local ref = tokens[j] and tokens[j].text
        out.foreign_keys[#out.foreign_keys + 1] = {name = name, columns = cols, referred_table = ref}
        name = nil
        i = j + 1
      elseif t.kind == "(" then
        i = closing(tokens, i) + 1
      else
        -- a named NOT NULL, DEFAULT or COLLATE: the name is not the next constraint's
        if is_word(t, "NULL") or is_word(t, "DEFAULT") or is_word(t, "COLLATE") then name = nil end
        i = i + 1
      end
    end
  end
  return out
end

local function same_list(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

-- ---- the catalog

--- The tables' CREATE TABLE texts: name -> sql (one query).
function M.table_sql(conn, only)
  local sql, params = filtered("SELECT m.name AS name, m.sql AS sql FROM sqlite_master m WHERE " .. TABLES, only,
                               "ORDER BY m.name")
  local out = {}
  for row in conn:execute(sql, params):rows() do out[row.name] = row.sql end
  return out
end

--- Columns of every table (or of `only`): name -> list (one query).
function M.columns(conn, only, type_from_sql)
  local sql, params = filtered("SELECT m.name AS tbl, p.name AS name, p.type AS type, p.\"notnull\" AS nn, "
    .. "p.dflt_value AS dflt, p.pk AS pk FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE " .. TABLES,
    only, "ORDER BY m.name, p.cid")
  local out = {}
  for row in conn:execute(sql, params):rows() do
    local list = out[row.tbl]
    if not list then list = {} out[row.tbl] = list end
    list[#list + 1] = {name = row.name, type = type_from_sql(row.type), sql_type = row.type,
                       nullable = row.nn == 0 and row.pk == 0, default = row.dflt, primary_key = row.pk > 0,
                       pk_position = row.pk, autoincrement = false}
  end
  for _, list in pairs(out) do
    local npk, key = 0, nil
    for _, c in ipairs(list) do
      if c.primary_key then npk, key = npk + 1, c end
    end
    -- an INTEGER PRIMARY KEY is the rowid: the database numbers new rows
    if npk == 1 and (key.sql_type or ""):upper() == "INTEGER" then key.autoincrement = true end
  end
  return out
end

--- Primary keys: name -> {constrained_columns, name} (from the columns).
function M.pk(columns, parsed)
  local out = {}
  for tname, cols in pairs(columns) do
    local keys = {}
    for _, c in ipairs(cols) do
      if c.primary_key then keys[#keys + 1] = c end
    end
    table.sort(keys, function(a, b) return a.pk_position < b.pk_position end)
    local names = {}
    for i, c in ipairs(keys) do names[i] = c.name end
    out[tname] = {constrained_columns = names, name = parsed[tname] and parsed[tname].pk_name or nil}
  end
  return out
end

--- Indexes made by CREATE INDEX, and UNIQUE constraints: two maps name -> list (one query).
function M.indexes(conn, only, parsed)
  local sql, params = filtered("SELECT m.name AS tbl, il.name AS name, il.\"unique\" AS u, il.origin AS origin, "
    .. "il.partial AS partial, ii.name AS col, x.sql AS sql FROM sqlite_master m JOIN pragma_index_list(m.name) il "
    .. "JOIN pragma_index_info(il.name) ii LEFT JOIN sqlite_master x ON x.type = 'index' AND x.name = il.name "
    .. "WHERE " .. TABLES, only, "ORDER BY m.name, il.name, ii.seqno")
  local indexes, uniques, current = {}, {}, nil
  for row in conn:execute(sql, params):rows() do
    if not current or current.tbl ~= row.tbl or current.name ~= row.name then
      current = {tbl = row.tbl, name = row.name, column_names = {}, unique = row.u == 1, origin = row.origin,
                 partial = row.partial == 1, sql = row.sql}
      local target = row.origin == "c" and indexes or (row.origin == "u" and uniques or nil)
      if target then
        target[row.tbl] = target[row.tbl] or {}
        table.insert(target[row.tbl], current)
      end
    end
    -- an expression's column has no name
    current.column_names[#current.column_names + 1] = row.col or false
    if not row.col then current.expressions = true end
  end
  local ix_out, uq_out = {}, {}
  for tname, list in pairs(indexes) do
    local out = {}
    for _, ix in ipairs(list) do
      out[#out + 1] = {name = ix.name, column_names = ix.column_names, unique = ix.unique, sql = ix.sql,
                       partial = ix.partial or nil, expressions = ix.expressions}
    end
    ix_out[tname] = out
  end
  for tname, list in pairs(uniques) do
    local out = {}
    local named = parsed[tname] and parsed[tname].uniques or {}
    for _, ix in ipairs(list) do
      local name
      for _, u in ipairs(named) do
        if same_list(u.columns, ix.column_names) then name = u.name end
      end
      out[#out + 1] = {name = name, column_names = ix.column_names}
    end
    table.sort(out, function(a, b) return table.concat(a.column_names, ",") < table.concat(b.column_names, ",") end)
    uq_out[tname] = out
  end
  return ix_out, uq_out
end

--- Foreign keys: name -> list (one query); names from the CREATE TABLE text.
function M.foreign_keys(conn, only, parsed)
  local sql, params = filtered("SELECT m.name AS tbl, f.id AS id, f.\"table\" AS ref, f.\"from\" AS src, "
    .. "f.\"to\" AS dst, f.on_update AS upd, f.on_delete AS del FROM sqlite_master m "
    .. "JOIN pragma_foreign_key_list(m.name) f WHERE " .. TABLES, only, "ORDER BY m.name, f.id, f.seq")
  local out, current = {}, nil
  for row in conn:execute(sql, params):rows() do
    if not current or current.tbl ~= row.tbl or current.id ~= row.id then
      local fk = {name = nil, constrained_columns = {}, referred_table = row.ref, referred_columns = {}, options = {}}
      if row.del and row.del ~= "NO ACTION" then fk.options.ondelete = row.del end
      if row.upd and row.upd ~= "NO ACTION" then fk.options.onupdate = row.upd end
      fk.ondelete, fk.onupdate = fk.options.ondelete, fk.options.onupdate
      current = {tbl = row.tbl, id = row.id, fk = fk}
      out[row.tbl] = out[row.tbl] or {}
      -- pragma_foreign_key_list numbers the keys last first: keep the order they were written in
      table.insert(out[row.tbl], 1, fk)
    end
    local fk = current.fk
    fk.constrained_columns[#fk.constrained_columns + 1] = row.src
    fk.referred_columns[#fk.referred_columns + 1] = row.dst
  end
  for tname, list in pairs(out) do
    local named = parsed[tname] and parsed[tname].foreign_keys or {}
    for _, fk in ipairs(list) do
      for _, p in ipairs(named) do
        if p.name and same_list(p.columns, fk.constrained_columns) and p.referred_table == fk.referred_table then
          fk.name = p.name
        end
      end
    end
  end
  return out
end

--- CHECK constraints: name -> list of {name, sqltext} (from the CREATE TABLE text).
function M.checks(parsed)
  local out = {}
  for tname, p in pairs(parsed) do out[tname] = p.checks end
  return out
end

--- Everything about every table (or `only`): {name -> {columns, pk, indexes, uniques,
--- foreign_keys, checks, sql}}, with four queries.
function M.reflect(conn, only, type_from_sql)
  local texts = M.table_sql(conn, only)
  local parsed = {}
  for name, text in pairs(texts) do parsed[name] = M.parse_create_table(text) end
  local columns = M.columns(conn, only, type_from_sql)
  local pks = M.pk(columns, parsed)
  local indexes, uniques = M.indexes(conn, only, parsed)
  local fks = M.foreign_keys(conn, only, parsed)
  local out = {}
  for name, text in pairs(texts) do
    out[name] = {name = name, columns = columns[name] or {}, pk = pks[name] or {constrained_columns = {}},
                 indexes = indexes[name] or {}, uniques = uniques[name] or {}, foreign_keys = fks[name] or {},
                 checks = parsed[name].checks, sql = text, autoincrement = parsed[name].autoincrement}
  end
  return out
end

M.tokenize = tokenize
return M
