#!/usr/bin/env python3
"""Two budget figures of docs/performance.md, against any SCIM server:

1. POST /Bulk user creates (1,000 operations per request): users/s.
2. A group of MEMBERS members: latency of PATCHes adding 100 more members each,
   and of GET /Groups/{id}?excludedAttributes=members (p50/p99/max).

Usage: bench/bulk_and_groups.py TENANT_URL TOKEN [USERS=60000] [MEMBERS=50000] [PREFIX=b]
One keep-alive connection, sequential requests (latency, not throughput, for
part 2). Only loopback or your own deployment: it writes USERS users.
"""
import http.client, json, sys, time, urllib.parse

url, token = sys.argv[1], sys.argv[2]
users = int(sys.argv[3]) if len(sys.argv) > 3 else 60000
members = int(sys.argv[4]) if len(sys.argv) > 4 else 50000
prefix = sys.argv[5] if len(sys.argv) > 5 else f"b{int(time.time())}"
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)
base = u.path.rstrip("/")
H = {"Authorization": "Bearer " + token, "Content-Type": "application/scim+json"}

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    t = time.perf_counter()
    conn.request(method, base + path, body=data, headers=H)
    r = conn.getresponse()
    raw = r.read()
    dt = (time.perf_counter() - t) * 1000
    if r.status >= 400:
        raise SystemExit(f"{method} {path}: {r.status} {raw[:300]!r}")
    return (json.loads(raw) if raw else None), dt

def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p / 100))], 2)

# 1. Bulk creates.
ids, per, t0 = [], 1000, time.perf_counter()
batch_ms = []  # each Bulk request's latency: the write cost as the tenant grows
for start in range(0, users, per):
    ops = [{"method": "POST", "bulkId": f"u{i}", "path": "/Users", "data": {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": f"{prefix}-{i}@bulk.example", "active": True, "displayName": f"Bulk {i}",
        "externalId": f"{prefix}-ext-{i}", "name": {"givenName": "Bulk", "familyName": str(i)},
        "emails": [{"primary": True, "type": "work", "value": f"{prefix}-{i}@bulk.example"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Bench"}}}
        for i in range(start, min(users, start + per))]
    res, ms = call("POST", "/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                    "Operations": ops})
    batch_ms.append(ms)
    for op in res["Operations"]:
        if op["status"] != "201":
            raise SystemExit(f"bulk operation failed: {op}")
        ids.append(op["location"].rsplit("/", 1)[1])
dt = time.perf_counter() - t0
tenth = max(1, len(batch_ms) // 10)
report = {"bulk": {"users": users, "seconds": round(dt, 2), "users_per_s": round(users / dt),
                   # median Bulk request (1,000 users) in the first and the last tenth of the
                   # load: flat means the 100,000th user costs what the 1,000th did
                   "first_tenth_ms": pct(batch_ms[:tenth], 50), "last_tenth_ms": pct(batch_ms[-tenth:], 50)}}

# 2. A group of `members` members, then adds of 100.
group, _ = call("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                    "displayName": f"{prefix} big group"})
gid = group["id"]
def add(batch):
    return call("PATCH", f"/Groups/{gid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": i} for i in batch]}]})[1]
for start in range(0, members, 1000):
    add(ids[start:min(members, start + 1000)])
lat = [add(ids[start:start + 100]) for start in range(members, min(len(ids), members + 10000), 100)]
report["add_100_members"] = {"group_size": members, "requests": len(lat), "p50_ms": pct(lat, 50),
                             "p99_ms": pct(lat, 99), "max_ms": round(max(lat), 2)}
gets = [call("GET", f"/Groups/{gid}?excludedAttributes=members")[1] for _ in range(200)]
report["get_group_without_members"] = {"requests": len(gets), "p50_ms": pct(gets, 50),
                                       "p99_ms": pct(gets, 99), "max_ms": round(max(gets), 2)}
print(json.dumps(report))
