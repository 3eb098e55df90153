#!/usr/bin/env bash
# Reproduces the "Load generator and ceiling" figures of docs/performance.md:
#
#  1. builds release binaries of scim-server, scim-loadgen and scim-ceiling;
#  2. starts the real server on a fresh SQLite file and runs scim-loadgen against
#     it (initial cycle, incremental cycle, lookups, verification; peak RSS);
#  3. starts the bare program (scim-ceiling) with as many users;
#  4. runs wrk with the same parameters against both: userName lookups, then
#     user creates; prints both rates and the ratio server / ceiling.
#
# Everything listens on 127.0.0.1 only. Bounded: about 4 x WRK_DURATION plus the
# loadgen run (a few seconds per thousand users) plus the build.
#
# Parameters (environment):
#   BENCH_USERS=2000 BENCH_GROUPS=20 BENCH_MEMBERS=40   what scim-loadgen creates
#   BENCH_CONCURRENCY=8   scim-loadgen connections     BENCH_DURATION=10  its lookup seconds
#   WRK_CONNECTIONS=16 WRK_THREADS=2 WRK_DURATION=10   wrk, identical for both programs
#   CREATE_CONNECTIONS=8                                wrk connections for the create runs
#   SERVER_PORT=18080 CEILING_PORT=18200                RUST_LOG=info (the server's default)
#   OUT=<temp dir>        where databases, logs and the JSON report are kept
#   BIN=<dir>             use the binaries in this directory instead of building
# Needs wrk (Debian: apt-get install -y wrk) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_USERS=${BENCH_USERS:-2000}
BENCH_GROUPS=${BENCH_GROUPS:-20}
BENCH_MEMBERS=${BENCH_MEMBERS:-40}
BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-8}
BENCH_DURATION=${BENCH_DURATION:-10}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-16}
WRK_THREADS=${WRK_THREADS:-2}
WRK_DURATION=${WRK_DURATION:-10}
CREATE_CONNECTIONS=${CREATE_CONNECTIONS:-8}
SERVER_PORT=${SERVER_PORT:-18080}
CEILING_PORT=${CEILING_PORT:-18200}
export RUST_LOG=${RUST_LOG:-info}
OUT=${OUT:-$(mktemp -d /tmp/scim-bench.XXXXXX)}
mkdir -p "$OUT"

for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "$tool is missing (Debian: apt-get install -y $tool)" >&2; exit 1; }
done

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# Waits until an HTTP URL answers (any status), at most 60 s.
wait_http() {
    for _ in $(seq 1 600); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    exit 1
}

# Requests/sec of a wrk run's output.
rate() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

if [ -z "${BIN:-}" ]; then
    echo "==> building release binaries"
    nice -n 10 cargo build --release -q -p scim-server -p scim-loadgen -p scim-ceiling
    BIN=${CARGO_TARGET_DIR:-target}/release
fi

echo "==> date $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); output in $OUT"

echo "==> scim-server on a fresh SQLite file, 127.0.0.1:$SERVER_PORT"
rm -f "$OUT"/scim.db*
"$BIN/scim-server" --database-url "sqlite://$OUT/scim.db" --json \
    serve --bind "127.0.0.1:$SERVER_PORT" --tenant-rate-limit 0 --max-connections-per-address 0 >"$OUT/server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
wait_http "http://127.0.0.1:$SERVER_PORT/healthz"
# The first start prints tenant `default`'s Tenant URL and Secret Token, once (--json: one object).
creds=$(grep -m1 '"secretToken"' "$OUT/server.log")
TENANT_URL=$(sed -E 's/.*"tenantUrl":"([^"]*)".*/\1/' <<<"$creds")
SCIM_TOKEN=$(sed -E 's/.*"secretToken":"([^"]*)".*/\1/' <<<"$creds")
export SCIM_TOKEN
SCIM_PATH=/${TENANT_URL#http://*/}
export SCIM_PATH
echo "    Tenant URL $TENANT_URL (pid $server_pid)"

echo "==> scim-loadgen: $BENCH_USERS users, $BENCH_GROUPS groups of $BENCH_MEMBERS, $BENCH_CONCURRENCY connections, ${BENCH_DURATION} s lookups"
loadgen_status=0
"$BIN/scim-loadgen" --url "$TENANT_URL" --users "$BENCH_USERS" --groups "$BENCH_GROUPS" \
    --members "$BENCH_MEMBERS" --concurrency "$BENCH_CONCURRENCY" --duration "$BENCH_DURATION" \
    --prefix bench --pid "$server_pid" --json >"$OUT/loadgen.json" || loadgen_status=$?
# The same report as text, from the JSON (no second run).
jq -r '.phases[] | "  \(.phase): \(.requests) requests, \(.req_per_sec|floor) req/s, p50 \(.latency_ms.p50) / p99 \(.latency_ms.p99) / max \(.latency_ms.max) ms, \(.errors) errors",
       (.kinds[] | "    \(.kind): \(.count), \(.req_per_sec|floor) req/s, p50 \(.latency_ms.p50) p95 \(.latency_ms.p95) p99 \(.latency_ms.p99) max \(.latency_ms.max) ms, errors \(.errors)")' \
    "$OUT/loadgen.json" 2>/dev/null || echo "  (install jq for a summary; the report is $OUT/loadgen.json)"
jq -r '"  verification: \(.verification.failures) failures; server peak RSS \((.rss.vm_hwm_kib / 1024)|floor) MiB; ok: \(.ok)"' \
    "$OUT/loadgen.json" 2>/dev/null || true

echo "==> scim-ceiling with $BENCH_USERS users, 127.0.0.1:$CEILING_PORT"
rm -f "$OUT"/ceiling.db*
"$BIN/scim-ceiling" "$OUT/ceiling.db" "$BENCH_USERS" "$CEILING_PORT" >"$OUT/ceiling.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 600); do grep -qs ready "$OUT/ceiling.log" && break; sleep 0.1; done
wait_http "http://127.0.0.1:$CEILING_PORT/lookup?u=u0@x.test"

# The names the wrk scripts ask for exist (a lookup of a missing name is a cheaper 200).
for check in "http://127.0.0.1:$SERVER_PORT$SCIM_PATH/Users?filter=userName%20eq%20%22bench-u0%40loadgen.example%22" \
    "http://127.0.0.1:$CEILING_PORT/lookup?u=U0@x.test"; do
    curl -s -H "Authorization: Bearer $SCIM_TOKEN" "$check" | grep -q '"totalResults":1' ||
        { echo "the lookup the wrk scripts send finds nothing: $check" >&2; exit 1; }
done

WRK=(wrk -t"$WRK_THREADS" -d"${WRK_DURATION}s" --latency)
export USERS=$BENCH_USERS

echo "==> wrk lookups, $WRK_CONNECTIONS connections, ${WRK_DURATION} s each"
PREFIX=bench "${WRK[@]}" -c"$WRK_CONNECTIONS" -s bench/wrk/scim-lookup.lua \
    "http://127.0.0.1:$SERVER_PORT" >"$OUT/wrk-server-lookup.txt"
"${WRK[@]}" -c"$WRK_CONNECTIONS" -s bench/wrk/ceiling-lookup.lua \
    "http://127.0.0.1:$CEILING_PORT" >"$OUT/wrk-ceiling-lookup.txt"
# The same lookups without the user's `groups` (one indexed query fewer):
# what the `groups` attribute costs on Entra ID's hottest request.
PREFIX=bench EXTRA="&excludedAttributes=groups" "${WRK[@]}" -c"$WRK_CONNECTIONS" \
    -s bench/wrk/scim-lookup.lua "http://127.0.0.1:$SERVER_PORT" >"$OUT/wrk-server-lookup-nogroups.txt"

echo "==> wrk creates, $CREATE_CONNECTIONS connections, ${WRK_DURATION} s each"
PREFIX="wrk$(date +%s)" "${WRK[@]}" -c"$CREATE_CONNECTIONS" -s bench/wrk/scim-create.lua \
    "http://127.0.0.1:$SERVER_PORT" >"$OUT/wrk-server-create.txt"
"${WRK[@]}" -c"$CREATE_CONNECTIONS" -s bench/wrk/ceiling-create.lua \
    "http://127.0.0.1:$CEILING_PORT/create" >"$OUT/wrk-ceiling-create.txt"

echo "==> server peak RSS (VmHWM): $(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$server_pid/status")"

for kind in lookup create; do
    s=$(rate "$OUT/wrk-server-$kind.txt")
    c=$(rate "$OUT/wrk-ceiling-$kind.txt")
    for who in server ceiling; do
        f="$OUT/wrk-$who-$kind.txt"
        printf '  %-6s %-7s %10s req/s  p50 %-8s p99 %-8s %s\n' "$kind" "$who" "$(rate "$f")" \
            "$(awk '$1 == "50%" {print $2}' "$f")" "$(awk '$1 == "99%" {print $2}' "$f")" \
            "$(grep -h 'Non-2xx\|Socket errors' "$f" | tr -s ' ' | tr '\n' ' ')"
    done
    echo "  $kind ratio server / ceiling: $(ratio "$s" "$c")"
done
f="$OUT/wrk-server-lookup-nogroups.txt"
printf '  lookup without groups %10s req/s  p50 %-8s p99 %-8s (with / without: %s)\n' "$(rate "$f")" \
    "$(awk '$1 == "50%" {print $2}' "$f")" "$(awk '$1 == "99%" {print $2}' "$f")" \
    "$(ratio "$(rate "$OUT/wrk-server-lookup.txt")" "$(rate "$f")")"

if [ "$loadgen_status" -ne 0 ]; then
    echo "scim-loadgen reported errors or a failed verification: see $OUT/loadgen.json" >&2
    exit "$loadgen_status"
fi
