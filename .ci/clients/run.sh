#!/usr/bin/env bash
# Runs the real-client tests (graphql-ws, Apollo Client, graphql-js, GraphiQL
# in Chromium) against a quicktakes server started here on a scratch SQLite
# database with the repository's seeds.
#
#   npm ci --prefix .ci/clients
#   BIN=target/debug/quicktakes .ci/clients/run.sh [node --test options, e.g. --test-name-pattern=ws]
#
# BIN       the server binary (default target/debug/quicktakes)
# CHROMIUM  the browser (default /usr/bin/chromium; Debian's `chromium`)
# QT_ARTIFACTS  where screenshots and SDL diffs go (default: a new temp dir,
#               kept and printed at the end)
#
# The server runs in its default GraphiQL mode, the files embedded in the
# binary: the GraphiQL tests abort every request that would leave
# 127.0.0.1, so they show the playground works offline. Nothing here needs
# the internet (the embedded copies are checked against their pins first).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

BIN=${BIN:-$repo/target/debug/quicktakes}
[[ $BIN == */* ]] || BIN=$(command -v "$BIN")
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[[ -x $BIN ]] || { echo "$0: no server binary at $BIN (set BIN)" >&2; exit 1; }
[[ -d $here/node_modules ]] || { echo "$0: run npm ci --prefix .ci/clients first" >&2; exit 1; }

scratch=$(mktemp -d)
server=
cleanup() {
  if [[ -n $server ]] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

artifacts=${QT_ARTIFACTS:-$(mktemp -d "${TMPDIR:-/tmp}/qt-clients-artifacts.XXXXXX")}
mkdir -p "$artifacts"

# The binary embeds these files; a copy that differs from its pins fails here.
"$repo/.ci/graphiql-assets.sh" --check >/dev/null

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
port=$(free_port)
export DATABASE_URL="sqlite://$scratch/clients.db?mode=rwc"

"$BIN" serve --bind "127.0.0.1:$port" --seeds "$repo/seeds" \
  >"$scratch/serve.log" 2>&1 &
server=$!
ready=
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$server" 2>/dev/null || break
  sleep 0.5
done
if [[ -z $ready ]]; then
  echo "$0: the server did not become ready on 127.0.0.1:$port" >&2
  cat "$scratch/serve.log" >&2
  exit 1
fi

# The secret is printed alone on the last line.
token=$("$BIN" token create --name clients-ci --role editor | tail -n 1)
[[ $token == qt_* ]] || { echo "$0: token create printed no secret: $token" >&2; exit 1; }
revoked=$("$BIN" token create --name clients-ci-revoked --role editor | tail -n 1)
"$BIN" token revoke clients-ci-revoked >/dev/null

status=0
QT_URL="http://127.0.0.1:$port" QT_TOKEN="$token" QT_REVOKED_TOKEN="$revoked" QT_BIN="$BIN" QT_ARTIFACTS="$artifacts" \
  QT_SEEDS="$repo/seeds" CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" \
  node --test --test-reporter=spec --test-concurrency=1 --test-timeout=90000 "$@" "$here"/test/*.test.mjs || status=$?

if [[ $status -ne 0 ]]; then
  echo "---- server log (127.0.0.1:$port) ----" >&2
  tail -n 200 "$scratch/serve.log" >&2
fi
echo "artifacts: $artifacts"
exit "$status"
