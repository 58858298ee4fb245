-- wrk script for "many users, each reading their own key": request i reads user (i mod N)'s key
-- "own" with that user's token, so every request needs a different verified token and cache entry.
--
-- $BENCH_USERS_DATA names a Lua file returning { tokens = { "<jwt>", ... } } (bench/run.py writes it).

local tokens = dofile(os.getenv("BENCH_USERS_DATA")).tokens
local n = #tokens
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  pos = (id * 101) % n
end

local headers = {}

function request()
  pos = pos % n + 1
  headers["Authorization"] = "Bearer " .. tokens[pos]
  return wrk.format("GET", "/api/v1/secrets/own", headers)
end
