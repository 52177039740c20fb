#!/usr/bin/env bash
# The scale-out test: the standard deployment, for real, on this machine.
#
#   - a PostgreSQL primary and a streaming replica of it, made here with
#     initdb and pg_basebackup (Debian's PostgreSQL binaries) in a temporary
#     folder, on free ports (the shared cluster on 5432 is not touched);
#   - two `quicktakes serve` instances started at the same moment, over the
#     primary, with the replica as --read-database-url;
#   - haproxy in front of both, round robin, naming the instance that
#     answered in `X-Served-By`;
#   - then node --test scale-out.test.mjs against all of it.
#
#   npm ci --prefix .ci/clients
#   BIN=target/debug/quicktakes .ci/clients/scale-out/run.sh
#
# Installs haproxy with apt when it is missing. Run as root (PostgreSQL runs
# as the `postgres` user) or as a user who may run initdb.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)

BIN=${BIN:-$repo/target/debug/quicktakes}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[[ -x $BIN ]] || { echo "$0: no server binary at $BIN (set BIN)" >&2; exit 1; }
[[ -d $here/../node_modules ]] || { echo "$0: run npm ci --prefix .ci/clients first" >&2; exit 1; }

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x $pgbin/initdb ]] || { echo "$0: no PostgreSQL binaries under /usr/lib/postgresql" >&2; exit 1; }
if ! command -v haproxy >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
fi

# PostgreSQL refuses to run as root: its commands run as `postgres` then.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

scratch=$(mktemp -d)
chmod 755 "$scratch"
mkdir "$scratch/pg"
chown postgres "$scratch/pg" 2>/dev/null || true
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for cluster in replica primary; do
    [[ -d $scratch/pg/$cluster ]] && as_pg "$pgbin/pg_ctl" -D "$scratch/pg/$cluster" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$scratch"
}
trap cleanup EXIT

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
primary_port=$(free_port)
replica_port=$(free_port)
a_port=$(free_port)
b_port=$(free_port)
lb_port=$(free_port)

echo "primary on $primary_port" >&2
as_pg "$pgbin/initdb" -D "$scratch/pg/primary" -A trust -U postgres >"$scratch/initdb.log" 2>&1 \
  || { cat "$scratch/initdb.log" >&2; exit 1; }
as_pg tee -a "$scratch/pg/primary/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $primary_port
unix_socket_directories = '$scratch/pg'
wal_level = replica
max_wal_senders = 4
hot_standby = on
max_connections = 100
EOF
as_pg "$pgbin/pg_ctl" -D "$scratch/pg/primary" -l "$scratch/pg/primary.log" -w start >/dev/null
as_pg "$pgbin/psql" -h 127.0.0.1 -p "$primary_port" -U postgres -qc "CREATE DATABASE quicktakes"

echo "replica on $replica_port (pg_basebackup)" >&2
as_pg "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
  -D "$scratch/pg/replica" -R -X stream >/dev/null
echo "port = $replica_port" | as_pg tee -a "$scratch/pg/replica/postgresql.auto.conf" >/dev/null
as_pg "$pgbin/pg_ctl" -D "$scratch/pg/replica" -l "$scratch/pg/replica.log" -w start >/dev/null
in_recovery=$(as_pg "$pgbin/psql" -h 127.0.0.1 -p "$replica_port" -U postgres -d quicktakes -Atc "SELECT pg_is_in_recovery()")
[[ $in_recovery == t ]] || { echo "$0: the replica is not in recovery" >&2; exit 1; }

primary_url="postgres://postgres@127.0.0.1:$primary_port/quicktakes"
replica_url="postgres://postgres@127.0.0.1:$replica_port/quicktakes"
preview_key=$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')

start_instance() {
  local name=$1 port=$2
  DATABASE_URL="$primary_url" QUICKTAKES_READ_DATABASE_URLS="$replica_url" \
    QUICKTAKES_PREVIEW_KEY="$preview_key" RUST_LOG=info \
    "$BIN" serve --bind "127.0.0.1:$port" --seeds "$repo/seeds" \
    --rate-limit-per-minute 0 --max-connections-per-address 0 --trusted-proxy 127.0.0.1 \
    >"$scratch/$name.log" 2>&1 &
  echo $!
}
# Both at once: the startup lock makes them take turns.
a_pid=$(start_instance a "$a_port")
b_pid=$(start_instance b "$b_port")
pids+=("$a_pid" "$b_pid")
for port in "$a_port" "$b_port"; do
  ready=
  for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$port/readyz" 2>/dev/null | grep -q "read replica .*: reachable"; then ready=1; break; fi
    sleep 0.5
  done
  [[ -n $ready ]] || { echo "$0: instance on $port is not ready" >&2; tail -n 50 "$scratch"/a.log "$scratch"/b.log >&2; exit 1; }
done

cat >"$scratch/haproxy.cfg" <<EOF
global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout tunnel 1h
  retries 3
  option redispatch
  retry-on conn-failure empty-response response-timeout
frontend public
  bind 127.0.0.1:$lb_port
  default_backend quicktakes
backend quicktakes
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  http-response set-header X-Served-By %s
  server a 127.0.0.1:$a_port check inter 500ms fall 2 rise 2
  server b 127.0.0.1:$b_port check inter 500ms fall 2 rise 2
EOF
haproxy -f "$scratch/haproxy.cfg" -db >"$scratch/haproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 40); do
  curl -sf "http://127.0.0.1:$lb_port/healthz" >/dev/null 2>&1 && break
  sleep 0.25
done

token=$(DATABASE_URL="$primary_url" "$BIN" token create --name scale-out --role editor | tail -n 1)
[[ $token == qt_* ]] || { echo "$0: token create printed no secret: $token" >&2; exit 1; }

status=0
QT_LB="http://127.0.0.1:$lb_port" QT_A="http://127.0.0.1:$a_port" QT_B="http://127.0.0.1:$b_port" \
  QT_B_PID="$b_pid" QT_TOKEN="$token" QT_BIN="$BIN" QT_PRIMARY_URL="$primary_url" QT_REPLICA_PSQL="$pgbin/psql -h 127.0.0.1 -p $replica_port -U postgres -d quicktakes" \
  QT_AS_PG="$( [[ $(id -u) -eq 0 ]] && echo "runuser -u postgres --" )" \
  node --test --test-reporter=spec --test-concurrency=1 --test-timeout=120000 "$@" "$here/scale-out.test.mjs" || status=$?

if [[ $status -ne 0 ]]; then
  for log in a b haproxy; do
    echo "---- $log ----" >&2
    tail -n 80 "$scratch/$log.log" >&2
  done
fi
exit "$status"
