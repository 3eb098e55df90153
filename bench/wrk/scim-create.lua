-- wrk script: Entra-shaped POST {tenant}/Users, a new userName per request.
-- Environment: SCIM_TOKEN (required), SCIM_PATH (default /scim/v2/default),
-- PREFIX (default wrk; change it between runs on one database, or creates answer 409).
-- SCIM_TOKEN=... wrk -t2 -c8 -d10s -s bench/wrk/scim-create.lua --latency http://127.0.0.1:18080
local token = os.getenv("SCIM_TOKEN") or error("set SCIM_TOKEN")
local path = os.getenv("SCIM_PATH") or "/scim/v2/default"
local prefix = os.getenv("PREFIX") or "wrk"
local thread_id = 0

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end

local n = 0

request = function()
  n = n + 1
  local name = prefix .. "-t" .. id .. "-" .. n .. "@loadgen.example"
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],'
    .. '"externalId":"' .. name .. '","userName":"' .. name .. '","active":true,"displayName":"Wrk User",'
    .. '"name":{"givenName":"Wrk","familyName":"User"},'
    .. '"emails":[{"primary":true,"type":"work","value":"' .. name .. '"}]}'
  return wrk.format("POST", path .. "/Users", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/scim+json",
    ["Accept"] = "application/scim+json",
  }, body)
end
