-- tests/fault/writer.lua -- the process that test_fault.lua kills with
-- SIGKILL in the middle of its ORM writes.
--
--   argent run tests/fault/writer.lua URL [JOURNAL_MODE]
--
-- Prints "pid N" first, then "committed I" after each transaction that
-- committed (flushed at once), and writes until it is killed: one
-- transaction per batch (models.lua), the next batch id after the
-- highest one in the database.  JOURNAL_MODE: SQLite's (WAL, DELETE).
package.path = "./?.lua;" .. package.path
local argent = require "argent"
local models = require "tests.fault.models"

local url, journal = arg[1], arg[2]
local stat = assert(io.open("/proc/self/stat")):read("l")
io.stdout:write("pid ", stat:match("^(%d+)"), "\n")
io.stdout:flush()

local opts = {}
if argent.make_url(url).dialect == "sqlite" then
  opts.connect_args = {busy_timeout = "10000", journal_mode = journal}
end
local engine = argent.create_engine(url, opts)
local m = models.define()
local Session = argent.sessionmaker(engine)

local next_id
do
  local conn <close> = engine:connect()
  next_id = (conn:execute("SELECT max(id) FROM t_fault_batches"):scalar() or 0) + 1
end
local payload = ("payload "):rep(32)

while true do
  local id = next_id
  Session:begin(function(s)
    local counter = s:get(m.Counter, 1)
    local batch = m.Batch{id = id, note = "batch " .. id}
    for k = 1, models.ITEMS do batch.items:append(m.Item{k = k, payload = payload}) end
    s:add(batch)
    s:flush() -- the rows are written here; the counter's update comes after them
    counter.total = counter.total + models.ITEMS
    counter.batches = counter.batches + 1
  end)
  io.stdout:write("committed ", id, "\n")
  io.stdout:flush()
  next_id = id + 1
end
