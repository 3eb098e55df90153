-- wrk script: user creates against scim-ceiling (POST /create inserts a user and an audit row).
-- wrk -t2 -c8 -d10s -s bench/wrk/ceiling-create.lua --latency http://127.0.0.1:18200/create
wrk.method = "POST"
wrk.body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","active":true,"emails":[{"type":"work","value":"x@y.test"}]}'
wrk.headers["Content-Type"] = "application/scim+json"
