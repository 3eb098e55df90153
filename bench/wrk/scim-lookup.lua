-- wrk script: Entra ID's matching query, GET {tenant}/Users?filter=userName eq "...",
-- for random users that `scim-loadgen --prefix PREFIX --users USERS` created.
-- Environment:
--   SCIM_TOKEN   the tenant's Secret Token (required)
--   SCIM_PATH    the Tenant URL's path (default /scim/v2/default)
--   PREFIX       the loadgen prefix (default bench)
--   USERS        how many users the loadgen created (default 2000)
--   EXTRA        appended to the query string, e.g. "&excludedAttributes=groups"
-- SCIM_TOKEN=... wrk -t2 -c16 -d10s -s bench/wrk/scim-lookup.lua --latency http://127.0.0.1:18080
local token = os.getenv("SCIM_TOKEN") or error("set SCIM_TOKEN")
local path = os.getenv("SCIM_PATH") or "/scim/v2/default"
local prefix = os.getenv("PREFIX") or "bench"
local users = tonumber(os.getenv("USERS") or "2000")
local extra = os.getenv("EXTRA") or ""

wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Accept"] = "application/scim+json"

local thread_id = 0

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  math.randomseed(os.time() * 100 + id)
end

request = function()
  local name = prefix .. "-u" .. math.random(0, users - 1) .. "%40loadgen.example"
  return wrk.format("GET", path .. "/Users?filter=userName%20eq%20%22" .. name .. "%22" .. extra)
end

-- Any non-2xx answer counts as an error in wrk's summary ("Non-2xx or 3xx responses").
