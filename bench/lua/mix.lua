-- wrk script for the mixed scenario: 90% reads / 10% writes, Zipf-skewed keys.
--
-- bench/run.py pre-generates the request sequence (which user, which key, read or write) in
-- Python and writes it to a temp Lua file named by $BENCH_MIX_DATA; this script only replays it.
-- Deciding in Python keeps the distribution reproducible (seeded) and the per-request Lua work
-- to a table lookup and a wrk.format call.
--
-- The data file returns { tokens = { "<jwt>", ... }, ops = { {user_index, "key", is_write}, ... } }.

local data = dofile(os.getenv("BENCH_MIX_DATA"))
local tokens, ops = data.tokens, data.ops
local n_ops = #ops
local threads = {}

-- Runs in the main Lua state once per thread: give each thread a distinct id.
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- Runs in each thread's own Lua state. Threads start at different offsets of the same sequence,
-- so they don't hit the same key at the same moment in lockstep.
function init(args)
  pos = (id * 7919) % n_ops
  statuses = {}
  math.randomseed(1000 + id)
end

local read_headers = {}
local write_headers = { ["Content-Type"] = "application/json" }

function request()
  pos = pos % n_ops + 1
  local op = ops[pos]
  local auth = "Bearer " .. tokens[op[1]]
  if op[3] then
    write_headers["Authorization"] = auth
    -- No "cas": the service retries its own check-and-set against the current version.
    local body = string.format('{"key":"%s","value":"bench-%d"}', op[2], math.random(1, 1000000000))
    return wrk.format("POST", "/api/v1/secrets", write_headers, body)
  end
  read_headers["Authorization"] = auth
  return wrk.format("GET", "/api/v1/secrets/" .. op[2], read_headers)
end

-- Responses can't be matched to requests here (16 connections per thread), but the status says
-- enough: 200 is a read, 201 a write, anything else an error worth counting by code.
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

-- One machine-readable line for bench/run.py: "BENCH_STATUS 200=123 201=14 409=1".
function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(totals) do
    table.insert(parts, string.format("%d=%d", status, count))
  end
  table.sort(parts)
  io.write("BENCH_STATUS " .. table.concat(parts, " ") .. "\n")
end
