#!/usr/bin/env bash
# The GraphiQL playground's third-party files (React, ReactDOM, GraphiQL),
# pinned by version and SHA-384 in api/assets/graphiql/pins.txt.
#
#   .ci/graphiql-assets.sh              refresh the copies embedded in the binary
#                                       (api/assets/graphiql/, with the packages' LICENSEs)
#   .ci/graphiql-assets.sh DIR          fill DIR, for `quicktakes serve --graphiql-assets DIR`
#   .ci/graphiql-assets.sh --check [DIR]
#                                       offline: do the files in DIR (default: the embedded
#                                       copies) match the pinned hashes? exit 1 if not
#   .ci/graphiql-assets.sh --repin      after editing versions in pins.txt: fetch them, write
#                                       their hashes into pins.txt and refresh the embedded copies
#
# Fetching uses only npm (`npm pack` from the configured registry; npm checks
# each tarball against the registry's integrity), then every file is checked
# against its pinned SHA-384, so a file that differs from the pin is never
# written (except by --repin, whose point is to take the new hashes).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
vendored=$repo/api/assets/graphiql
pins=$vendored/pins.txt

usage() {
  echo "usage: $0 [DIR] | --check [DIR] | --repin" >&2
  exit 2
}

mode=fill
case ${1-} in
  --check) mode=check; shift ;;
  --repin) mode=repin; shift; [[ $# -eq 0 ]] || usage ;;
  -*) usage ;;
esac
[[ $# -le 1 ]] || usage
dest=${1:-$vendored}
[[ -n $dest ]] || usage

command -v node >/dev/null || { echo "$0: node not found" >&2; exit 1; }

sha384() {
  node -e '
    const data = require("fs").readFileSync(process.argv[1]);
    console.log(require("crypto").createHash("sha384").update(data).digest("base64"));
  ' "$1"
}

# name  package@version  path-in-package  sha384, from pins.txt.
mapfile -t ASSETS < <(grep -Ev '^[[:space:]]*(#|$)' "$pins")
[[ ${#ASSETS[@]} -gt 0 ]] || { echo "$0: no pins in $pins" >&2; exit 1; }

if [[ $mode == check ]]; then
  bad=0
  for asset in "${ASSETS[@]}"; do
    read -r name spec _ want <<<"$asset"
    if [[ ! -f $dest/$name ]]; then
      echo "$dest/$name: missing ($spec)" >&2
      bad=1
      continue
    fi
    got=$(sha384 "$dest/$name")
    if [[ $got != "$want" ]]; then
      echo "$dest/$name: sha384-$got, pinned sha384-$want ($spec)" >&2
      bad=1
    else
      echo "$dest/$name: ok ($spec)"
    fi
  done
  exit "$bad"
fi

for tool in npm tar; do
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

# unpacked SPEC: the folder SPEC's tarball is unpacked in (its `package/`).
unpacked() {
  local spec=$1 tgz= t
  for t in "${tarballs[@]}"; do
    [[ ${t%% *} == "$spec" ]] && tgz=${t#* }
  done
  [[ -n $tgz ]] || { echo "$0: npm pack produced no tarball for $spec" >&2; exit 1; }
  local dir="$work/unpack/$spec"
  if [[ ! -d $dir ]]; then
    mkdir -p "$dir"
    tar -xzf "$work/$tgz" -C "$dir"
  fi
  echo "$dir/package"
}

# Every file is checked before any is written: a refresh that fails halfway
# must not leave the embedded copies of two different versions.
repinned=()
for asset in "${ASSETS[@]}"; do
  read -r name spec member want <<<"$asset"
  src="$(unpacked "$spec")/$member"
  [[ -s $src ]] || { echo "$0: $spec has no $member" >&2; exit 1; }
  got=$(sha384 "$src")
  if [[ $mode == repin ]]; then
    repinned+=("$name $spec $member $got")
  elif [[ $got != "$want" ]]; then
    echo "$0: $spec $member: sha384-$got, pinned sha384-$want" >&2
    exit 1
  fi
done

mkdir -p "$dest"
for asset in "${ASSETS[@]}"; do
  read -r name spec member _ <<<"$asset"
  src="$(unpacked "$spec")/$member"
  cp "$src" "$dest/$name.tmp"
  mv -f "$dest/$name.tmp" "$dest/$name"
  echo "$dest/$name ($spec, $(wc -c <"$dest/$name") bytes)" >&2
done
# The licenses travel with the files, as the MIT license asks.
for spec in "${specs[@]}"; do
  license="$(unpacked "$spec")/LICENSE"
  [[ -f $license ]] || { echo "$0: $spec has no LICENSE" >&2; exit 1; }
  cp "$license" "$dest/LICENSE.${spec%@*}"
done

if [[ $mode == repin ]]; then
  {
    grep -E '^[[:space:]]*#' "$pins"
    printf '%s\n' "${repinned[@]}"
  } >"$pins.tmp"
  mv -f "$pins.tmp" "$pins"
  echo "$pins: hashes of ${specs[*]} written" >&2
fi
