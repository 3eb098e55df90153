#!/usr/bin/env bash
# Runs the operator commands of docs/operations.md and docs/configuration.md
# against a scratch SQLite database (and PostgreSQL when SCIM_TEST_PG_URL is
# set), so the documented commands keep working. Usage:
#   deploy/check-operations.sh [path/to/scim-server]   (default: target/debug/scim-server)
# Steps whose tool is missing (sqlite3, pg_dump, curl, systemd-analyze) are
# skipped with a note.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="$(realpath "${1:-target/debug/scim-server}")"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
have() { command -v "$1" >/dev/null 2>&1; }
say() { printf '  %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

unset SCIM_PUBLIC_URL SCIM_SIGNING_KEY SCIM_BIND SCIM_ADMIN_TOKEN SCIM_SMTP_URL SCIM_MAIL_FROM
export DATABASE_URL="sqlite://$work/scim-server.db"
key="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SCIM_SIGNING_KEY="$key"

echo "== commands (SQLite)"
"$bin" --version >/dev/null
"$bin" migrate | grep -E "Applied [0-9]+ migration" >/dev/null || fail "migrate"
"$bin" migrate | grep -x "The database schema is up to date." >/dev/null || fail "migrate again"
"$bin" tenant create default --name "Example Corp" --public-url https://scim.example.net \
    | grep "Tenant URL:   https://scim.example.net/scim/v2/default" >/dev/null || fail "tenant create"
"$bin" tenant list --public-url https://scim.example.net | grep "^default" >/dev/null || fail "tenant list"
"$bin" token generate default --public-url https://scim.example.net | grep "Secret Token:" >/dev/null || fail "token generate"
"$bin" admin create --tenant default --email ops@example.net --public-url https://scim.example.net \
    | grep "Set-password link: https://scim.example.net/console/set-password?token=" >/dev/null || fail "admin create"
"$bin" status | grep "last SCIM write:" >/dev/null || fail "status"
"$bin" status --json | grep '"tenant":"default"' >/dev/null || fail "status --json"
say "migrate, tenant create/list, token generate, admin create, status: ok"

echo "== serve, health, online SQLite backup"
"$bin" serve --bind 127.0.0.1:0 --public-url https://scim.example.net >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
addr=""
for _ in $(seq 1 100); do
    addr="$(sed -n 's/.*listening addr=\([0-9.:]*\).*/\1/p' "$work/serve.err" | head -n1)"
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || fail "serve did not start: $(cat "$work/serve.err")"
if have curl; then
    curl -fsS "http://$addr/healthz" | grep ok >/dev/null || fail "/healthz"
    curl -fsS "http://$addr/readyz" | grep ready >/dev/null || fail "/readyz"
    say "serve on $addr, /healthz, /readyz: ok"
else
    say "curl missing: health checks skipped"
fi
# serve recorded its public URL: the commands now print it without being told.
"$bin" tenant list | grep "https://scim.example.net/scim/v2/default" >/dev/null || fail "recorded public URL"
if have sqlite3; then
    sqlite3 "$work/scim-server.db" ".backup '$work/backup.db'"
    sqlite3 "$work/scim-server.db" "VACUUM INTO '$work/vacuum.db'"
    [ "$(sqlite3 "$work/backup.db" 'PRAGMA integrity_check')" = ok ] || fail ".backup copy"
    [ "$(sqlite3 "$work/vacuum.db" 'PRAGMA integrity_check')" = ok ] || fail "VACUUM INTO copy"
    say "sqlite3 .backup and VACUUM INTO while serving: ok"
else
    say "sqlite3 missing: SQLite backup skipped"
fi
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

if have sqlite3; then
    echo "== SQLite restore"
    "$bin" tenant create later >/dev/null
    cp "$work/backup.db" "$work/scim-server.db"
    rm -f "$work/scim-server.db-wal" "$work/scim-server.db-shm"
    list="$("$bin" tenant list)"
    echo "$list" | grep "^default" >/dev/null || fail "restored tenant missing"
    echo "$list" | grep "^later" >/dev/null && fail "tenant created after the backup survived the restore"
    say "restore from the .backup copy: ok"
fi

if [ -n "${SCIM_TEST_PG_URL:-}" ] && have pg_dump && have pg_restore && have psql; then
    echo "== PostgreSQL dump and restore"
    db="scim_ops_check_$$"
    base="${SCIM_TEST_PG_URL%/*}"
    psql -q "$SCIM_TEST_PG_URL" -c "CREATE DATABASE ${db}" -c "CREATE DATABASE ${db}_restored"
    pg_cleanup() { psql -q "$SCIM_TEST_PG_URL" -c "DROP DATABASE IF EXISTS ${db}" -c "DROP DATABASE IF EXISTS ${db}_restored" || true; }
    trap 'pg_cleanup; cleanup' EXIT
    DATABASE_URL="$base/$db" "$bin" tenant create acme >/dev/null
    pg_dump --format=custom --file="$work/scim.dump" "$base/$db"
    pg_restore --no-owner --dbname="$base/${db}_restored" "$work/scim.dump"
    DATABASE_URL="$base/${db}_restored" "$bin" tenant list 2>/dev/null | grep "^acme" >/dev/null || fail "pg_restore"
    pg_restore --clean --if-exists --no-owner --dbname="$base/${db}_restored" "$work/scim.dump"
    say "pg_dump, pg_restore, pg_restore --clean --if-exists: ok"
else
    echo "== PostgreSQL dump and restore: skipped (SCIM_TEST_PG_URL or the client tools missing)"
fi

if have systemd-analyze; then
    echo "== systemd unit"
    sed "s#^ExecStart=/usr/local/bin/scim-server#ExecStart=$bin#; s#^EnvironmentFile=#EnvironmentFile=-#" \
        deploy/scim-server.service >"$work/scim-server.service"
    systemd-analyze verify "$work/scim-server.service" || fail "systemd-analyze verify"
    say "systemd-analyze verify: ok"
fi

echo "== documented operator commands: all ok"
