-- tests/fault/models.lua -- the models that writer.lua writes and
-- test_fault.lua checks: each transaction adds one Batch with exactly
-- ITEMS Items and adds ITEMS to the one Counter row (total) and 1 to its
-- batches.  Whatever a crash leaves, a committed transaction is all there
-- and an uncommitted one is not there at all: every batch has ITEMS items,
-- and the counter agrees with the rows.
local argent = require "argent"

local M = {ITEMS = 10}

function M.define()
  local Base = argent.declarative_base()
  local Counter = Base:model("Counter", {
    __tablename = "t_fault_counter",
    id = argent.Column(argent.Integer, {primary_key = true}),
    total = argent.Column(argent.Integer, {nullable = false}),
    batches = argent.Column(argent.Integer, {nullable = false}),
  })
  local Batch = Base:model("Batch", {
    __tablename = "t_fault_batches",
    id = argent.Column(argent.Integer, {primary_key = true}),
    note = argent.Column(argent.String(64)),
    items = argent.relationship("Item", {back_populates = "batch", cascade = "all, delete-orphan"}),
  })
  local Item = Base:model("Item", {
    __tablename = "t_fault_items",
    id = argent.Column(argent.Integer, {primary_key = true}),
    batch_id = argent.Column(argent.Integer, {foreign_key = "t_fault_batches.id", nullable = false}),
    k = argent.Column(argent.Integer, {nullable = false}),
    payload = argent.Column(argent.Text),
    batch = argent.relationship("Batch", {back_populates = "items"}),
  })
  return {Base = Base, Counter = Counter, Batch = Batch, Item = Item}
end

return M
