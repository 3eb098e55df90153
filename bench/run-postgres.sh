#!/usr/bin/env bash
# The PostgreSQL half of docs/performance.md: the real server on a fresh
# PostgreSQL database (default postgres://postgres@127.0.0.1:5432, database
# scim_bench, dropped and created), scim-loadgen's cycle, then wrk lookups.
# Parameters as bench/run.sh (BENCH_USERS, BENCH_GROUPS, BENCH_MEMBERS,
# BENCH_CONCURRENCY, BENCH_DURATION, WRK_CONNECTIONS, WRK_DURATION, BIN, OUT,
# SERVER_PORT) plus PG_ADMIN_URL and PG_DB. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_USERS=${BENCH_USERS:-2000}; BENCH_GROUPS=${BENCH_GROUPS:-20}; BENCH_MEMBERS=${BENCH_MEMBERS:-40}
BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-8}; BENCH_DURATION=${BENCH_DURATION:-10}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-16}; WRK_DURATION=${WRK_DURATION:-10}; SERVER_PORT=${SERVER_PORT:-18090}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}; PG_DB=${PG_DB:-scim_bench}
OUT=${OUT:-$(mktemp -d /tmp/scim-bench-pg.XXXXXX)}; mkdir -p "$OUT"
export RUST_LOG=${RUST_LOG:-info}
if [ -z "${BIN:-}" ]; then
    nice -n 10 cargo build --release -q -p scim-server -p scim-loadgen
    BIN=${CARGO_TARGET_DIR:-target}/release
fi
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
DB_URL="${PG_ADMIN_URL%/*}/$PG_DB"
echo "==> date $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg); output in $OUT"
"$BIN/scim-server" --database-url "$DB_URL" --json serve --bind "127.0.0.1:$SERVER_PORT" --tenant-rate-limit 0 --max-connections-per-address 0 >"$OUT/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$SERVER_PORT/healthz" && break; sleep 0.1; done
creds=$(grep -m1 '"secretToken"' "$OUT/server.log")
TENANT_URL=$(sed -E 's/.*"tenantUrl":"([^"]*)".*/\1/' <<<"$creds")
export SCIM_TOKEN=$(sed -E 's/.*"secretToken":"([^"]*)".*/\1/' <<<"$creds")
export SCIM_PATH=/${TENANT_URL#http://*/}
echo "==> scim-loadgen: $BENCH_USERS users, $BENCH_GROUPS groups of $BENCH_MEMBERS"
"$BIN/scim-loadgen" --url "$TENANT_URL" --users "$BENCH_USERS" --groups "$BENCH_GROUPS" \
    --members "$BENCH_MEMBERS" --concurrency "$BENCH_CONCURRENCY" --duration "$BENCH_DURATION" \
    --prefix bench --pid "$server_pid" --json >"$OUT/loadgen.json" || true
jq -r '.phases[] | "  \(.phase): \(.requests) requests, \(.req_per_sec|floor) req/s, p50 \(.latency_ms.p50) / p99 \(.latency_ms.p99) ms, \(.errors) errors"' "$OUT/loadgen.json" 2>/dev/null || true
psql -q "$DB_URL" -c "ANALYZE" >/dev/null
echo "==> wrk lookups, $WRK_CONNECTIONS connections, ${WRK_DURATION} s"
USERS=$BENCH_USERS PREFIX=bench wrk -t2 -c"$WRK_CONNECTIONS" -d"${WRK_DURATION}s" --latency \
    -s bench/wrk/scim-lookup.lua "http://127.0.0.1:$SERVER_PORT" >"$OUT/wrk-lookup.txt"
grep -E "Requests/sec|Non-2xx|Socket" "$OUT/wrk-lookup.txt"
awk '$1 == "50%" || $1 == "99%"' "$OUT/wrk-lookup.txt"
echo "==> server peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$server_pid/status")"
