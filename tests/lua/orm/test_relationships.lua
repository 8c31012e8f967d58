-- tests/lua/orm/test_relationships.lua -- relationship() and its
-- resolution (lua/argent/orm/relationships.lua, API.md section 6): options
-- checked, targets named by class name and resolved at first use, a
-- target given as a model, back_populates, foreign_keys choosing between
-- two keys to one table.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local Column, Integer, String, Text, DateTime, Boolean, Float, Numeric, Enum, JSON, Date =
  argent.Column, argent.Integer, argent.String, argent.Text, argent.DateTime, argent.Boolean, argent.Float,
  argent.Numeric, argent.Enum, argent.JSON, argent.Date
local relationship, func = argent.relationship, argent.func
local fixture = require "tests.lua.orm.fixture"
local Person, Message = fixture.Person, fixture.Message

TestRelationships = {}

function TestRelationships:test_a_relationship_resolves_its_target_by_name_at_first_use()
  local Base = argent.declarative_base()
  -- Parent refers to Child before Child exists
  local Parent = Base:model("Parent", {
    __tablename = "t_orm_parent",
    id = Column(Integer, {primary_key = true}),
    children = relationship("Child", {back_populates = "parent", lazy = "selectin", cascade = "all, delete-orphan",
                                      order_by = "Child.id"}),
  })
  local Child = Base:model("Child", {
    __tablename = "t_orm_child",
    id = Column(Integer, {primary_key = true}),
    parent_id = Column(Integer, {foreign_key = "t_orm_parent.id"}),
    parent = relationship("Parent", {back_populates = "children", uselist = false}),
  })
  local r = Parent.children
  lu.assertEquals(r.lazy, "selectin")
  lu.assertEquals(r.back_populates, "parent")
  lu.assertTrue(r.cascade["delete-orphan"])
  lu.assertTrue(r.cascade.delete)
  lu.assertEquals(Child.parent.lazy, "select")
  lu.assertTrue(Child.parent.cascade["save-update"])
  lu.assertIs(r:target_model(), Child)
  lu.assertIs(Child.parent:target_model(), Parent)
  Base:configure()
end

function TestRelationships:test_an_unknown_target_is_an_error_when_it_is_resolved()
  local Base = argent.declarative_base()
  local A = Base:model("A", {
    __tablename = "t_orm_a",
    id = Column(Integer, {primary_key = true}),
    bs = relationship("Bee"),
  })
  -- defining it is fine; resolving names the missing class
  helper.assert_error("InvalidRequestError", "Bee", function() return A.bs:target_model() end)
  helper.assert_error("InvalidRequestError", "Bee", function() Base:configure() end)
  local B = Base:model("Bee", {__tablename = "t_orm_b", id = Column(Integer, {primary_key = true})})
  lu.assertIs(A.bs:target_model(), B)
end

function TestRelationships:test_back_populates_must_name_a_relationship_of_the_target()
  local Base = argent.declarative_base()
  local A = Base:model("A", {__tablename = "t_orm_a", id = Column(Integer, {primary_key = true}),
                             b = relationship("B", {back_populates = "nope"})})
  Base:model("B", {__tablename = "t_orm_b", id = Column(Integer, {primary_key = true})})
  helper.assert_error("InvalidRequestError", "nope", function() return A.b:target_model() end)
end

function TestRelationships:test_a_relationship_may_be_given_its_target_model()
  local Base = argent.declarative_base()
  local Tag = Base:model("Tag", {__tablename = "t_orm_tag", id = Column(Integer, {primary_key = true})})
  local r = relationship(Tag, {uselist = false})
  local Note = Base:model("Note", {__tablename = "t_orm_note", id = Column(Integer, {primary_key = true}),
                                   tag_id = Column(Integer, {foreign_key = "t_orm_tag.id"}), tag = r})
  lu.assertIs(Note.tag, r)
  lu.assertIs(r:target_model(), Tag)
  lu.assertFalse(r.uselist)
  -- one relationship object per attribute
  helper.assert_error("ArgumentError", "already used", function()
    Base:model("Other", {__tablename = "t_orm_other", id = Column(Integer, {primary_key = true}), tag = r})
  end)
  -- an instance holds an instance (or a list) in a relationship attribute
  local t = Tag{id = 1}
  local n = Note{tag = t}
  lu.assertIs(n.tag, t)
  helper.assert_error("ArgumentError", "Note.tag", function() n.tag = 5 end)
end

function TestRelationships:test_relationship_options_are_checked()
  helper.assert_error("ArgumentError", "lazy", relationship, "X", {lazy = "eager"})
  helper.assert_error("ArgumentError", "uselist", relationship, "X", {uselist = "no"})
  helper.assert_error("ArgumentError", "cascade", relationship, "X", {cascade = "all, everything"})
  helper.assert_error("ArgumentError", "back_populates", relationship, "X", {back_populates = 3})
  helper.assert_error("ArgumentError", "secondary", relationship, "X", {secondary = 3})
  helper.assert_error("ArgumentError", "order_by", relationship, "X", {order_by = 3})
  helper.assert_error("ArgumentError", "foreign_keys", relationship, "X", {foreign_keys = true})
  helper.assert_error("ArgumentError", "remote_side", relationship, "X", {remote_side = {}})
  helper.assert_error("ArgumentError", "unknown option 'lazzy'", relationship, "X", {lazzy = "select"})
  helper.assert_error("ArgumentError", "relationship", relationship, 42)
  helper.assert_error("ArgumentError", "options", relationship, "X", "select")
  for _, lazy in ipairs {"select", "selectin", "joined", "raise", "noload"} do
    lu.assertEquals(relationship("X", {lazy = lazy}).lazy, lazy)
  end
  local meta = argent.MetaData()
  local assoc = argent.Table("t_orm_assoc", meta, Column("a", Integer), Column("b", Integer))
  lu.assertIs(relationship("X", {secondary = assoc}).secondary, assoc)
  lu.assertEquals(relationship("X", {secondary = "t_orm_assoc", remote_side = "id",
                                     foreign_keys = {"a", "b"}}).secondary, "t_orm_assoc")
end

function TestRelationships:test_a_missing_target_model_is_named_when_read()
  local B = argent.declarative_base()
  local Lonely = B:model("Lonely", {__tablename = "rt_lonely", id = Column(Integer, {primary_key = true}),
                                    friend = argent.relationship("Nobody")})
  helper.assert_error("InvalidRequestError", "no such model", function() return Lonely{}.friend end)
end

TestForeignKeys = {}

function TestForeignKeys:setUp() fixture.setup(self) end
function TestForeignKeys:tearDown() fixture.teardown(self) end

function TestForeignKeys:test_foreign_keys_choose_between_two_keys_to_one_table()
  local s <close> = self.Session()
  local a, b = Person{name = "a"}, Person{name = "b"}
  local m = Message{body = "hi", sender = a, recipient = b}
  lu.assertIs(a.sent[1], m)
  lu.assertIs(b.received[1], m)
  lu.assertEquals(#a.received, 0)
  s:add(m)
  s:commit()
  lu.assertEquals(m.sender_id, a.id)
  lu.assertEquals(m.recipient_id, b.id)
  local s2 <close> = self.Session()
  local b2 = s2:get(Person, b.id)
  lu.assertEquals(#b2.received, 1)
  lu.assertEquals(#b2.sent, 0)
  lu.assertEquals(b2.received[1].sender.name, "a")
end

function TestForeignKeys:test_two_keys_to_one_table_without_foreign_keys_are_ambiguous()
  -- without foreign_keys the two keys are ambiguous
  local B = argent.declarative_base()
  B:model("P", {__tablename = "rt_p", id = Column(Integer, {primary_key = true}), msgs = argent.relationship("M")})
  local M = B:model("M", {__tablename = "rt_m", id = Column(Integer, {primary_key = true}),
                          a_id = Column(Integer, {foreign_key = "rt_p.id"}),
                          b_id = Column(Integer, {foreign_key = "rt_p.id"})})
  helper.assert_error("InvalidRequestError", "foreign_keys", function() return B.registry.P{}.msgs end)
  lu.assertNotNil(M)
end

os.exit(helper.run(), true)
