#!/usr/bin/env bash
# Fill DIR with the four GraphiQL playground assets, for serving them locally
# instead of from the CDN (see api/src/http/graphiql.html and graphiql-cdn.txt):
#
#   react.production.min.js      react@18.3.1      umd/react.production.min.js
#   react-dom.production.min.js  react-dom@18.3.1  umd/react-dom.production.min.js
#   graphiql.min.js              graphiql@3.9.0    graphiql.min.js
#   graphiql.min.css             graphiql@3.9.0    graphiql.min.css
#
# Uses only npm (`npm pack` from the configured registry; npm checks the
# tarball integrity), then checks each file against the SHA-384 that
# graphiql.html pins in its integrity attributes.
#
# Usage: .ci/graphiql-assets.sh DIR
set -euo pipefail

REACT_VERSION=18.3.1
GRAPHIQL_VERSION=3.9.0

# name  package@version  path-in-tarball  sha384 (base64, as in graphiql.html)
ASSETS=(
  "react.production.min.js react@${REACT_VERSION} package/umd/react.production.min.js DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z"
  "react-dom.production.min.js react-dom@${REACT_VERSION} package/umd/react-dom.production.min.js gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1"
  "graphiql.min.js graphiql@${GRAPHIQL_VERSION} package/graphiql.min.js 8NGfVj4CVlqHajlZj+bPJT4thxPMHMJYn7DWK2CvtopLd02E7qsPHazniBYvVjOO"
  "graphiql.min.css graphiql@${GRAPHIQL_VERSION} package/graphiql.min.css QMux00XgRtwRLSYIY3kw2rj1ovk5AuuliAchk+HSQbqdbGFnz9GYuqIlOqxhwCE2"
)

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dest=$1

for tool in npm tar node; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Each distinct package@version once.
specs=()
for asset in "${ASSETS[@]}"; do
  read -r _ spec _ _ <<<"$asset"
  [[ " ${specs[*]-} " == *" $spec "* ]] || specs+=("$spec")
done

echo "fetching ${specs[*]}" >&2
# --json prints one object per tarball with its filename, in argument order.
npm pack --silent --json --pack-destination "$work" "${specs[@]}" >"$work/pack.json"
mapfile -t tarballs < <(node -e '
  const out = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const p of out) console.log(`${p.name}@${p.version} ${p.filename}`);
' "$work/pack.json")

sha384() {
  node -e '
    const data = require("fs").readFileSync(process.argv[1]);
    console.log(require("crypto").createHash("sha384").update(data).digest("base64"));
  ' "$1"
}

mkdir -p "$dest"
for asset in "${ASSETS[@]}"; do
  read -r name spec member want <<<"$asset"
  tgz=
  for t in "${tarballs[@]}"; do
    [[ ${t%% *} == "$spec" ]] && tgz=${t#* }
  done
  [[ -n $tgz ]] || { echo "$0: npm pack produced no tarball for $spec" >&2; exit 1; }

  unpack="$work/unpack/${spec}"
  if [[ ! -d $unpack ]]; then
    mkdir -p "$unpack"
    tar -xzf "$work/$tgz" -C "$unpack"
  fi
  src="$unpack/$member"
  [[ -s $src ]] || { echo "$0: $spec has no $member" >&2; exit 1; }

  got=$(sha384 "$src")
  if [[ $got != "$want" ]]; then
    echo "$0: $spec $member: sha384-$got, expected sha384-$want" >&2
    exit 1
  fi

  cp "$src" "$dest/$name.tmp"
  mv -f "$dest/$name.tmp" "$dest/$name"
  echo "$dest/$name ($spec, $(wc -c <"$dest/$name") bytes)" >&2
done
