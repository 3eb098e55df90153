-- wrk script: random userName lookups against scim-ceiling (GET /lookup?u=NAME).
-- USERS (default 100000): how many users the ceiling loaded (u0@x.test ... u{USERS-1}@x.test).
-- wrk -t2 -c16 -d10s -s bench/wrk/ceiling-lookup.lua --latency http://127.0.0.1:18200
local users = tonumber(os.getenv("USERS") or "100000")

local thread_id = 0

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  math.randomseed(os.time() * 100 + id)
end

request = function()
  return wrk.format("GET", "/lookup?u=U" .. math.random(0, users - 1) .. "@x.test")
end
