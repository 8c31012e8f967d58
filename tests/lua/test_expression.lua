-- tests/lua/test_expression.lua -- SQL expressions, API.md section 5: the column
-- methods, the arithmetic and concatenation operators, and_/or_/not_,
-- argent.func, literal, case, exists, distinct, bindparam, text.
--
-- Spec-first: written against API.md before the implementation.  Every
-- construct is checked twice: compiled by dialect name (placeholders, the
-- values in the parameter list and never in the SQL, the operator in the
-- text -- with patterns, because spacing and keyword case are the
-- implementer's choice) and executed against the suite's database, where the
-- rows it selects are the real test.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local Column, Table = argent.Column, argent.Table
local func = argent.func

local NAMES = {"t_expr_items", "t_expr_orders"}

--   id name      qty price note           category
local ITEMS = {
    {1, "apple",    10, 1.5,  "red fruit",   "fruit"},
    {2, "Banana",   0,  0.25, nil,           "fruit"},
    {3, "carrot",   5,  0.75, "orange root", "veg"},
    {4, "date",     20, 3.0,  nil,           "fruit"},
    {5, "Eggplant", 7,  2.0,  "100% purple", "veg"},
}
-- orders: item 1 twice, item 3 once
local ORDERS = {{1, 1}, {2, 1}, {3, 3}}

TestExpression = {}

function TestExpression:setUp()
    self.engine = helper.engine()
    do
        local conn <close> = self.engine:connect()
        helper.drop_tables(conn, {"t_expr_orders", "t_expr_items"})
    end
    self.meta = argent.MetaData()
    self.t = Table("t_expr_items", self.meta,
        Column("id", argent.Integer, {primary_key = true}),
        Column("name", argent.String(50)),
        Column("qty", argent.Integer),
        Column("price", argent.Double),
        Column("note", argent.Text),
        Column("category", argent.String(20)))
    self.o = Table("t_expr_orders", self.meta,
        Column("id", argent.Integer, {primary_key = true}),
        Column("item_id", argent.Integer, {foreign_key = "t_expr_items.id"}))
    self.meta:create_all(self.engine)
    self.conn = self.engine:connect()
    local rows = {}
    for i, r in ipairs(ITEMS) do
        rows[i] = {id = r[1], name = r[2], qty = r[3], price = r[4], note = r[5] or argent.null,
                   category = r[6]}
    end
    self.conn:execute(argent.insert(self.t):values(rows))
    for _, r in ipairs(ORDERS) do
        self.conn:execute(argent.insert(self.o):values{id = r[1], item_id = r[2]})
    end
end

function TestExpression:tearDown()
    if self.conn then self.conn:close() end
    self.conn = nil
    helper.cleanup_meta(self.engine, self.meta, NAMES)
    self.engine, self.meta, self.t, self.o = nil, nil, nil, nil
end

-- The ids of the items whose row satisfies cond, in id order.
function TestExpression:ids(cond)
    local t = self.t
    return self.conn:execute(argent.select(t.c.id):where(cond):order_by(t.c.id)):scalars()
end

-- The value of expr (labelled v) for the item with the given id.
function TestExpression:value(expr, id)
    local t = self.t
    return self.conn:execute(argent.select(expr:label("v")):where(t.c.id:eq(id or 1))):scalar()
end

-- Compiles `select id where cond` on both dialects; checks the placeholders
-- against the parameter list and that the parameters are `params`; returns
-- the SQL of each dialect ({sqlite = ..., postgresql = ...}).
function TestExpression:compiled(cond, params)
    local out = {}
    for _, d in ipairs(helper.DIALECTS) do
        local sql, got = helper.compile(argent.select(self.t.c.id):where(cond), d)
        helper.assert_placeholders(sql, got, d)
        if params then lu.assertEquals(got, params, d .. ": " .. sql) end
        out[d] = sql
    end
    return out
end

-- comparisons

function TestExpression:test_eq()
    local c = self.t.c
    lu.assertEquals(self:ids(c.name:eq("apple")), {1})
    local sql = self:compiled(c.name:eq("apple"), {"apple"})
    -- fixed by SQL and API.md: the qualified column, `=`, the dialect's placeholder
    helper.assert_sql_matches(sql.sqlite, "t_expr_items%.name%s*=%s*%?")
    helper.assert_sql_matches(sql.postgresql, "t_expr_items%.name%s*=%s*%$1")
    helper.assert_lacks(sql.sqlite, "apple")
end

function TestExpression:test_ne()
    local c = self.t.c
    lu.assertEquals(self:ids(c.qty:ne(0)), {1, 3, 4, 5})
    local sql = self:compiled(c.qty:ne(0), {0})
    helper.assert_sql_matches(sql.sqlite, "t_expr_items%.qty%s*[!<][=>]%s*%?")
end

function TestExpression:test_lt_le_gt_ge()
    local c = self.t.c
    lu.assertEquals(self:ids(c.qty:lt(7)), {2, 3})
    lu.assertEquals(self:ids(c.qty:le(7)), {2, 3, 5})
    lu.assertEquals(self:ids(c.qty:gt(7)), {1, 4})
    lu.assertEquals(self:ids(c.qty:ge(7)), {1, 4, 5})
    helper.assert_sql_matches(self:compiled(c.qty:lt(7), {7}).sqlite, "qty%s*<%s*%?")
    helper.assert_sql_matches(self:compiled(c.qty:le(7), {7}).sqlite, "qty%s*<=%s*%?")
    helper.assert_sql_matches(self:compiled(c.qty:gt(7), {7}).sqlite, "qty%s*>%s*%?")
    helper.assert_sql_matches(self:compiled(c.qty:ge(7), {7}).postgresql, "qty%s*>=%s*%$1")
end

function TestExpression:test_float_comparison()
    lu.assertEquals(self:ids(self.t.c.price:gt(1.0)), {1, 4, 5})
end

function TestExpression:test_column_compared_with_column_binds_nothing()
    local c = self.t.c
    lu.assertEquals(self:ids(c.qty:gt(c.price)), {1, 3, 4, 5})
    local sql = self:compiled(c.qty:gt(c.price), {})
    helper.assert_sql_matches(sql.sqlite, "t_expr_items%.qty%s*>%s*t_expr_items%.price")
end

-- LIKE and friends

function TestExpression:test_like()
    local c = self.t.c
    lu.assertEquals(self:ids(c.name:like("%rr%")), {3})
    lu.assertEquals(self:ids(c.name:like("c%")), {3})
    local sql = self:compiled(c.name:like("c%"), {"c%"})
    helper.assert_has(sql.sqlite, "LIKE", true)
end

function TestExpression:test_ilike_ignores_case_on_every_dialect()
    local c = self.t.c
    lu.assertEquals(self:ids(c.name:ilike("banana")), {2})
    lu.assertEquals(self:ids(c.name:ilike("%PLANT")), {5})
    lu.assertEquals(self:ids(c.name:ilike("E%")), {5})
    self:compiled(c.name:ilike("banana"), {"banana"})
end

function TestExpression:test_not_like()
    local c = self.t.c
    lu.assertEquals(self:ids(c.name:not_like("%rr%")), {1, 2, 4, 5})
    local sql = self:compiled(c.name:not_like("%rr%"), {"%rr%"})
    helper.assert_has(sql.sqlite, "NOT LIKE", true)
end

function TestExpression:test_startswith_endswith_contains()
    local c = self.t.c
    lu.assertEquals(self:ids(c.name:startswith("ca")), {3})
    lu.assertEquals(self:ids(c.name:startswith("Ba")), {2})
    lu.assertEquals(self:ids(c.name:endswith("ant")), {5})
    lu.assertEquals(self:ids(c.name:contains("rr")), {3})
    lu.assertEquals(self:ids(c.note:contains("orange")), {3})
    -- the value is a parameter, the wildcard is added by SQL (or to the value)
    for _, cond in ipairs {c.name:startswith("ca"), c.name:endswith("ant"), c.name:contains("rr")} do
        for _, d in ipairs(helper.DIALECTS) do
            local sql, params = helper.compile(argent.select(c.id):where(cond), d)
            helper.assert_placeholders(sql, params, d)
            helper.assert_lacks(sql, "'ca", false)
            helper.assert_lacks(sql, "ant'", false)
            helper.assert_lacks(sql, "rr", false)
        end
    end
end

-- IN

function TestExpression:test_in_with_numbers()
    local c = self.t.c
    lu.assertEquals(self:ids(c.id:in_({1, 3, 5})), {1, 3, 5})
    local sql = self:compiled(c.id:in_({1, 3, 5}), {1, 3, 5})
    helper.assert_sql_matches(sql.sqlite, "IN%s*%(%s*%?%s*,%s*%?%s*,%s*%?%s*%)")
    helper.assert_sql_matches(sql.postgresql, "IN%s*%(%s*%$1%s*,%s*%$2%s*,%s*%$3%s*%)")
end

function TestExpression:test_in_with_strings()
    lu.assertEquals(self:ids(self.t.c.name:in_({"date", "carrot", "nothing"})), {3, 4})
end

function TestExpression:test_not_in()
    local c = self.t.c
    lu.assertEquals(self:ids(c.id:not_in({1, 2})), {3, 4, 5})
    local sql = self:compiled(c.id:not_in({1, 2}), {1, 2})
    helper.assert_has(sql.sqlite, "NOT IN", true)
end

-- An empty list is valid (SQLAlchemy makes it a false condition): no rows,
-- and NOT IN of nothing is every row.
function TestExpression:test_empty_in_selects_nothing()
    local c = self.t.c
    lu.assertEquals(self:ids(c.id:in_({})), {})
    lu.assertEquals(self:ids(c.id:not_in({})), {1, 2, 3, 4, 5})
end

function TestExpression:test_in_with_a_subquery()
    local c, o = self.t.c, self.o.c
    lu.assertEquals(self:ids(c.id:in_(argent.select(o.item_id))), {1, 3})
end

-- 1000 values: PostgreSQL placeholders $1..$1000 in order (no $1/$10 mix-up).
function TestExpression:test_in_with_a_thousand_values()
    local c = self.t.c
    local list = {}
    for i = 1, 1000 do list[i] = 100 + i end -- none of the ids (1..5) ...
    list[500], list[999] = 3, 5                -- ... but these two
    lu.assertEquals(self:ids(c.id:in_(list)), {3, 5})
    for _, d in ipairs(helper.DIALECTS) do
        local sql, params = helper.compile(argent.select(c.id):where(c.id:in_(list)), d)
        helper.assert_placeholders(sql, params, d)
        lu.assertEquals(params, list)
    end
end

-- NULL

-- As in SQLAlchemy (col == None): comparing with argent.null (or nil) is IS
-- NULL, never "= NULL", which would match nothing.
function TestExpression:test_eq_null_is_is_null()
    local c = self.t.c
    lu.assertEquals(self:ids(c.note:eq(argent.null)), {2, 4})
    lu.assertEquals(self:ids(c.note:ne(argent.null)), {1, 3, 5})
    lu.assertEquals(self.conn:execute(argent.select(self.t.c.id):where{note = argent.null}
        :order_by(self.t.c.id)):scalars(), {2, 4})
    local sql = self:compiled(c.note:eq(argent.null), {})
    helper.assert_has(sql.sqlite, "IS NULL", true)
end

function TestExpression:test_is_null_and_is_not_null()
    local c = self.t.c
    lu.assertEquals(self:ids(c.note:is_null()), {2, 4})
    lu.assertEquals(self:ids(c.note:is_not_null()), {1, 3, 5})
    local sql = self:compiled(c.note:is_null(), {})
    helper.assert_has(sql.sqlite, "IS NULL", true)
    sql = self:compiled(c.note:is_not_null(), {})
    helper.assert_has(sql.postgresql, "IS NOT NULL", true)
end

-- BETWEEN

function TestExpression:test_between()
    local c = self.t.c
    lu.assertEquals(self:ids(c.qty:between(5, 10)), {1, 3, 5})
    local sql = self:compiled(c.qty:between(5, 10), {5, 10})
    helper.assert_sql_matches(sql.sqlite, "BETWEEN%s+%?%s+AND%s+%?")
    helper.assert_sql_matches(sql.postgresql, "BETWEEN%s+%$1%s+AND%s+%$2")
end

-- ordering

function TestExpression:test_asc_and_desc()
    local t = self.t
    local ids = self.conn:execute(argent.select(t.c.id):order_by(t.c.qty:desc())):scalars()
    lu.assertEquals(ids, {4, 1, 5, 3, 2})
    ids = self.conn:execute(argent.select(t.c.id):order_by(t.c.qty:asc())):scalars()
    lu.assertEquals(ids, {2, 3, 5, 1, 4})
    local sql = helper.compile(argent.select(t.c.id):order_by(t.c.qty:desc()), "sqlite")
    helper.assert_sql_matches(sql, "ORDER BY%s+t_expr_items%.qty%s+DESC")
end

function TestExpression:test_order_by_two_keys()
    local t = self.t
    local cats = self.conn:execute(argent.select(t.c.category):order_by(t.c.category:desc(), t.c.id)):scalars()
    lu.assertEquals(cats, {"veg", "veg", "fruit", "fruit", "fruit"})
    local ids = self.conn:execute(argent.select(t.c.id):order_by(t.c.category:asc(), t.c.qty:desc())):scalars()
    lu.assertEquals(ids, {4, 1, 2, 5, 3})
end

-- label and cast

function TestExpression:test_label()
    local t = self.t
    local row = self.conn:execute(argent.select(t.c.name:label("item_name")):where(t.c.id:eq(1))):one()
    lu.assertEquals(row.item_name, "apple")
    lu.assertNil(row.name)
    local sql = helper.compile(argent.select(t.c.name:label("item_name")), "sqlite")
    helper.assert_sql_matches(sql, "t_expr_items%.name%s+AS%s+item_name")
end

function TestExpression:test_cast()
    helper.needs_integer_subtypes()
    local t = self.t
    local v = self:value(t.c.qty:cast(argent.String(10)), 1)
    lu.assertEquals(v, "10")
    local f = self:value(t.c.qty:cast(argent.Double), 1)
    lu.assertEquals(math.type(f), "float")
    lu.assertEquals(f, 10.0)
    local sql = helper.compile(argent.select(t.c.qty:cast(argent.String(10))), "postgresql")
    helper.assert_sql_matches(sql, "CAST%s*%(%s*t_expr_items%.qty%s+AS%s+")
end

-- arithmetic and concatenation through metamethods

function TestExpression:test_arithmetic_operators()
    local q = self.t.c.qty -- 10 for item 1
    lu.assertEquals(self:value(q + 1), 11)
    lu.assertEquals(self:value(q - 1), 9)
    lu.assertEquals(self:value(q * 2), 20)
    lu.assertEquals(self:value(q / 2), 5)
    lu.assertEquals(self:value(q % 3), 1)
    lu.assertEquals(self:value(-q), -10)
end

function TestExpression:test_arithmetic_with_the_number_on_the_left()
    local q = self.t.c.qty
    lu.assertEquals(self:value(1 + q), 11)
    lu.assertEquals(self:value(100 - q), 90)
    lu.assertEquals(self:value(3 * q), 30)
end

function TestExpression:test_arithmetic_keeps_integers_and_floats()
    helper.needs_integer_subtypes()
    local c = self.t.c
    local i = self:value(c.qty + 1)
    lu.assertEquals(math.type(i), "integer")
    local f = self:value(c.price * 2)
    lu.assertEquals(math.type(f), "float")
    lu.assertEquals(f, 3.0)
end

function TestExpression:test_arithmetic_between_columns()
    local c = self.t.c
    lu.assertEquals(self:value(c.qty * c.price, 4), 60.0)
    lu.assertEquals(self:value(c.qty + c.id, 3), 8)
end

-- The compiler must keep the tree's grouping: (qty + 1) * 2 is not qty + 1 * 2.
function TestExpression:test_arithmetic_grouping_is_kept()
    local q = self.t.c.qty -- 10
    lu.assertEquals(self:value((q + 1) * 2), 22)
    lu.assertEquals(self:value(q - (q - 1)), 1)
    lu.assertEquals(self:value(q * 2 + 1), 21)
    lu.assertEquals(self:value(-(q + 1)), -11)
    lu.assertEquals(self:value(q / (q / 5)), 5)
end

function TestExpression:test_arithmetic_compiles_to_parameters()
    local q = self.t.c.qty
    for _, d in ipairs(helper.DIALECTS) do
        local sql, params = helper.compile(argent.select((q + 7):label("v")), d)
        helper.assert_placeholders(sql, params, d)
        lu.assertEquals(params, {7})
        helper.assert_sql_matches(sql, "t_expr_items%.qty%s*%+%s*" .. (d == "sqlite" and "%?" or "%$1"))
    end
end

function TestExpression:test_arithmetic_in_where()
    lu.assertEquals(self:ids((self.t.c.qty * 2):gt(15)), {1, 4})
end

function TestExpression:test_concatenation()
    local n = self.t.c.name
    lu.assertEquals(self:value(n .. "!"), "apple!")
    lu.assertEquals(self:value("x" .. n), "xapple")
    lu.assertEquals(self:value(n .. "-" .. self.t.c.category), "apple-fruit")
    for _, d in ipairs(helper.DIALECTS) do
        local sql, params = helper.compile(argent.select((n .. "!"):label("v")), d)
        helper.assert_has(sql, "||")
        lu.assertEquals(params, {"!"})
        helper.assert_placeholders(sql, params, d)
    end
end

-- and_, or_, not_

function TestExpression:test_and_or_not()
    local c = self.t.c
    lu.assertEquals(self:ids(argent.and_(c.qty:gt(1), c.category:eq("fruit"))), {1, 4})
    lu.assertEquals(self:ids(argent.or_(c.id:eq(1), c.id:eq(2))), {1, 2})
    lu.assertEquals(self:ids(argent.not_(c.category:eq("fruit"))), {3, 5})
    local sql = self:compiled(argent.and_(c.qty:gt(1), c.category:eq("fruit")), {1, "fruit"})
    helper.assert_has(sql.sqlite, " AND ", true)
    sql = self:compiled(argent.or_(c.id:eq(1), c.id:eq(2)), {1, 2})
    helper.assert_has(sql.postgresql, " OR ", true)
    sql = self:compiled(argent.not_(c.category:eq("fruit")), {"fruit"})
    helper.assert_has(sql.sqlite, "NOT", true)
end

function TestExpression:test_and_or_with_many_terms()
    local c = self.t.c
    lu.assertEquals(self:ids(argent.or_(c.id:eq(1), c.id:eq(3), c.id:eq(5))), {1, 3, 5})
    lu.assertEquals(self:ids(argent.and_(c.qty:gt(0), c.qty:lt(20), c.category:eq("veg"))), {3, 5})
end

-- The grouping of nested and_/or_/not_ must survive compilation.
function TestExpression:test_boolean_grouping_is_kept()
    local c = self.t.c
    -- (id = 1 OR id = 2) AND qty < 5: only item 2 (flattened: items 1 and 2)
    lu.assertEquals(self:ids(argent.and_(argent.or_(c.id:eq(1), c.id:eq(2)), c.qty:lt(5))), {2})
    -- NOT (id = 1 OR id = 2): items 3..5 (flattened: 2..5)
    lu.assertEquals(self:ids(argent.not_(argent.or_(c.id:eq(1), c.id:eq(2)))), {3, 4, 5})
    -- id = 1 OR (id = 2 AND qty > 5): only item 1
    lu.assertEquals(self:ids(argent.or_(c.id:eq(1), argent.and_(c.id:eq(2), c.qty:gt(5)))), {1})
    -- NOT (qty > 1 AND category = 'fruit')
    lu.assertEquals(self:ids(argent.not_(argent.and_(c.qty:gt(1), c.category:eq("fruit")))), {2, 3, 5})
end

-- argent.func

function TestExpression:test_func_count_sum_max()
    local c = self.t.c
    local row = self.conn:execute(argent.select(func.count(c.id):label("n"), func.sum(c.qty):label("total"),
                                                func.max(c.qty):label("top"))):one()
    lu.assertEquals(row.n, 5)
    lu.assertEquals(row.total, 42)
    lu.assertEquals(row.top, 20)
    lu.assertEquals(math.type(row.n), "integer")
    local sql = helper.compile(argent.select(func.count(c.id):label("n")), "sqlite")
    helper.assert_sql_matches(sql, "count%s*%(%s*t_expr_items%.id%s*%)%s+AS%s+n")
end

-- As in SQLAlchemy, func.count() with no argument counts rows: count(*).
function TestExpression:test_func_count_without_argument_counts_rows()
    local row = self.conn:execute(argent.select(func.count():label("n")):select_from(self.t)):one()
    lu.assertEquals(row.n, 5)
end

function TestExpression:test_func_lower_and_coalesce()
    local c = self.t.c
    lu.assertEquals(self:value(func.lower(c.name), 2), "banana")
    lu.assertEquals(self:value(func.coalesce(c.note, "none"), 2), "none")
    lu.assertEquals(self:value(func.coalesce(c.note, "none"), 1), "red fruit")
    local sql, params = helper.compile(argent.select(func.coalesce(c.note, "none"):label("v")), "postgresql")
    lu.assertEquals(params, {"none"})
    helper.assert_sql_matches(sql, "coalesce%s*%(%s*t_expr_items%.note%s*,%s*%$1%s*%)")
end

function TestExpression:test_func_with_any_name()
    local c = self.t.c
    lu.assertEquals(self:value(func.upper(c.name), 1), "APPLE")
    lu.assertEquals(self:value(func.length(c.name), 1), 5)
    lu.assertEquals(self:value(func.abs(-c.qty), 4), 20)
end

function TestExpression:test_func_current_timestamp()
    local v = self:value(func.current_timestamp(), 1)
    lu.assertStrMatches(v, "^%d%d%d%d%-%d%d%-%d%d[ T]%d%d:%d%d:%d%d.*")
    local sql = helper.compile(argent.select(func.current_timestamp():label("now")), "sqlite")
    helper.assert_has(sql, "current_timestamp", true)
end

function TestExpression:test_func_in_where_and_order_by()
    local t = self.t
    lu.assertEquals(self:ids(func.lower(t.c.name):eq("eggplant")), {5})
    local ids = self.conn:execute(argent.select(t.c.id):order_by(func.lower(t.c.name))):scalars()
    lu.assertEquals(ids, {1, 2, 3, 4, 5})
end

-- literal, case, exists, distinct, bindparam, text

function TestExpression:test_literal_is_a_bound_value()
    local t = self.t
    local row = self.conn:execute(argent.select(argent.literal(5):label("five"),
                                                argent.literal("lit"):label("s")):where(t.c.id:eq(1))):one()
    lu.assertEquals(row.five, 5)
    lu.assertEquals(row.s, "lit")
    for _, d in ipairs(helper.DIALECTS) do
        local sql, params = helper.compile(argent.select(argent.literal("lit"):label("s")), d)
        helper.assert_lacks(sql, "lit'")
        lu.assertEquals(params, {"lit"})
    end
    lu.assertEquals(self:value(argent.literal(2) * self.t.c.qty, 1), 20)
end

function TestExpression:test_case()
    local c = self.t.c
    local label = argent.case({{c.qty:gt(10), "big"}, {c.qty:gt(0), "some"}}, "none")
    lu.assertEquals(self:value(label, 4), "big")
    lu.assertEquals(self:value(label, 1), "some")
    lu.assertEquals(self:value(label, 2), "none")
    for _, d in ipairs(helper.DIALECTS) do
        local sql, params = helper.compile(argent.select(label:label("v")), d)
        helper.assert_sql_matches(sql, "CASE%s+WHEN")
        helper.assert_has(sql, "ELSE", true)
        helper.assert_has(sql, "END", true)
        helper.assert_lacks(sql, "big")
        helper.assert_placeholders(sql, params, d)
        lu.assertEquals(#params, 5)
    end
end

function TestExpression:test_case_without_else_is_null()
    local c = self.t.c
    lu.assertNil(self:value(argent.case({{c.qty:gt(100), "huge"}}), 1))
end

function TestExpression:test_case_in_where_and_order_by()
    local t = self.t
    local bucket = argent.case({{t.c.category:eq("veg"), 0}}, 1)
    local ids = self.conn:execute(argent.select(t.c.id):order_by(bucket, t.c.id)):scalars()
    lu.assertEquals(ids, {3, 5, 1, 2, 4})
end

function TestExpression:test_exists_correlated()
    local c, o = self.t.c, self.o.c
    local has_orders = argent.exists(argent.select(o.id):where(o.item_id:eq(c.id)))
    lu.assertEquals(self:ids(has_orders), {1, 3})
    lu.assertEquals(self:ids(argent.not_(has_orders)), {2, 4, 5})
    local sql = helper.compile(argent.select(c.id):where(has_orders), "sqlite")
    helper.assert_sql_matches(sql, "EXISTS%s*%(%s*SELECT")
end

function TestExpression:test_distinct_function()
    local c = self.t.c
    local cats = self.conn:execute(argent.select(argent.distinct(c.category)):order_by(c.category)):scalars()
    lu.assertEquals(cats, {"fruit", "veg"})
    local n = self.conn:execute(argent.select(func.count(argent.distinct(c.category)):label("n"))):scalar()
    lu.assertEquals(n, 2)
    local sql = helper.compile(argent.select(func.count(argent.distinct(c.category)):label("n")), "sqlite")
    helper.assert_sql_matches(sql, "count%s*%(%s*DISTINCT%s+t_expr_items%.category%s*%)")
end

-- A bindparam's value is given at execution, by name.
function TestExpression:test_bindparam_value_given_at_execution()
    local t = self.t
    local stmt = argent.select(t.c.id):where(t.c.qty:gt(argent.bindparam("min_qty"))):order_by(t.c.id)
    lu.assertEquals(self.conn:execute(stmt, {min_qty = 6}):scalars(), {1, 4, 5})
    lu.assertEquals(self.conn:execute(stmt, {min_qty = 15}):scalars(), {4})
    for _, d in ipairs(helper.DIALECTS) do
        local sql = helper.compile(stmt, d)
        helper.assert_has(sql, d == "sqlite" and "?" or "$1")
    end
end

function TestExpression:test_bindparam_missing_value_is_argument_error()
    local t = self.t
    local stmt = argent.select(t.c.id):where(t.c.qty:gt(argent.bindparam("min_qty")))
    helper.assert_error("ArgumentError", "min_qty", self.conn.execute, self.conn, stmt, {})
end

function TestExpression:test_text_fragment_in_where()
    local t = self.t
    lu.assertEquals(self.conn:execute(argent.select(t.c.id):where(argent.text("t_expr_items.qty > 5"))
        :order_by(t.c.id)):scalars(), {1, 4, 5})
    local sql = helper.compile(argent.select(t.c.id):where(argent.text("t_expr_items.qty > 5")), "sqlite")
    helper.assert_has(sql, "t_expr_items.qty > 5")
end

function TestExpression:test_text_fragment_combines_with_expressions()
    local t = self.t
    local cond = argent.and_(argent.text("t_expr_items.qty > 5"), t.c.category:eq("fruit"))
    lu.assertEquals(self:ids(cond), {1, 4})
end

-- misuse: ArgumentError that names the problem

function TestExpression:test_in_with_a_number_is_argument_error()
    local c = self.t.c
    helper.assert_error("ArgumentError", "in_", function() return c.id:in_(5) end)
end

function TestExpression:test_comparing_with_a_function_is_argument_error()
    local c = self.t.c
    helper.assert_error("ArgumentError", "function", function() return c.id:eq(print) end)
end

function TestExpression:test_comparing_with_a_plain_table_is_argument_error()
    local c = self.t.c
    helper.assert_error("ArgumentError", "table", function() return c.id:gt({}) end)
end

function TestExpression:test_arithmetic_with_a_function_is_argument_error()
    local c = self.t.c
    helper.assert_error("ArgumentError", "function", function() return c.qty + print end)
end

os.exit(helper.run(), true)
