#!/usr/bin/env bash
# Many tenants at Entra ID's pace: the "40 tenants at 25 requests per second
# each" figure of docs/performance.md.
#
#  1. builds release binaries of scim-server and scim-loadgen (or uses BIN);
#  2. starts the server on a fresh SQLite file (or PostgreSQL: DATABASE_URL);
#  3. creates TENANTS tenants with `scim-server tenant create` and writes their
#     Tenant URLs and Secret Tokens to a targets file;
#  4. runs scim-loadgen over all of them with --rate RATE: every phase (initial
#     cycle, incremental cycle, lookups, verification) sends each tenant RATE
#     requests per second, so the server sees TENANTS x RATE requests per
#     second of mixed Entra traffic (check each phase's req/s against that:
#     lower means too few connections or a server that fell behind).
#
# Parameters (environment):
#   TENANTS=40 RATE=25          tenants, requests per second to each
#   BENCH_USERS=4000 BENCH_GROUPS=80 BENCH_MEMBERS=20   spread over the tenants
#   BENCH_CONCURRENCY=32 BENCH_DURATION=20   loadgen connections, lookup seconds
#   SERVER_PORT=18090  OUT=<temp dir>  BIN=<dir>  DATABASE_URL=<sqlite file by default>
# Everything listens on 127.0.0.1. Needs curl.
set -euo pipefail
cd "$(dirname "$0")/.."

TENANTS=${TENANTS:-40}
RATE=${RATE:-25}
BENCH_USERS=${BENCH_USERS:-4000}
BENCH_GROUPS=${BENCH_GROUPS:-80}
BENCH_MEMBERS=${BENCH_MEMBERS:-20}
BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-32}
BENCH_DURATION=${BENCH_DURATION:-20}
SERVER_PORT=${SERVER_PORT:-18090}
export RUST_LOG=${RUST_LOG:-info}
OUT=${OUT:-$(mktemp -d /tmp/scim-tenants.XXXXXX)}
mkdir -p "$OUT"
DATABASE_URL=${DATABASE_URL:-sqlite://$OUT/scim.db}

if [ -z "${BIN:-}" ]; then
    nice -n 10 cargo build --release -q -p scim-server -p scim-loadgen
    BIN=target/release
fi

server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

public="http://127.0.0.1:$SERVER_PORT"
echo "==> creating $TENANTS tenants in $DATABASE_URL"
"$BIN/scim-server" --database-url "$DATABASE_URL" migrate >/dev/null
: >"$OUT/targets.txt"
for i in $(seq 1 "$TENANTS"); do
    "$BIN/scim-server" --database-url "$DATABASE_URL" --json tenant create "lt$i" --name "Load tenant $i" \
        2>/dev/null | sed -E 's/.*"secretToken":"([^"]+)".*"tenantUrl":"[^"]*\/scim\/v2\/([^"]+)".*/\2 \1/' |
        while read -r slug token; do echo "$public/scim/v2/$slug=$token" >>"$OUT/targets.txt"; done
done
[ "$(wc -l <"$OUT/targets.txt")" -eq "$TENANTS" ] || { echo "tenant creation failed" >&2; exit 1; }

echo "==> scim-server on 127.0.0.1:$SERVER_PORT"
"$BIN/scim-server" --database-url "$DATABASE_URL" serve --bind "127.0.0.1:$SERVER_PORT" \
    --public-url "$public" >"$OUT/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do curl -s -o /dev/null "$public/healthz" && break; sleep 0.1; done

echo "==> scim-loadgen: $TENANTS tenants x $RATE req/s, $BENCH_USERS users, $BENCH_GROUPS groups of $BENCH_MEMBERS"
status=0
"$BIN/scim-loadgen" --targets-file "$OUT/targets.txt" --rate "$RATE" \
    --users "$BENCH_USERS" --groups "$BENCH_GROUPS" --members "$BENCH_MEMBERS" \
    --concurrency "$BENCH_CONCURRENCY" --duration "$BENCH_DURATION" --prefix many \
    --pid "$server_pid" --json >"$OUT/loadgen.json" || status=$?
jq -r '.phases[] | "  \(.phase): \(.requests) requests, \(.req_per_sec|floor) req/s, p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, max \(.latency_ms.max) ms, errors \(.errors)"' \
    "$OUT/loadgen.json" 2>/dev/null || echo "  (install jq for a summary; the report is $OUT/loadgen.json)"
jq -r '"  verification: \(.verification.failures) failures; server peak RSS \((.rss.vm_hwm_kib / 1024)|floor) MiB; ok: \(.ok)"' \
    "$OUT/loadgen.json" 2>/dev/null || true
echo "    (kept in $OUT)"
exit "$status"
