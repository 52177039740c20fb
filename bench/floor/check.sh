#!/usr/bin/env bash
# check.sh QT_URL FLOOR_URL: POSTs q1 (q1.graphql) to quicktakes and to the
# floor and exits non-zero unless both answer the same JSON value (and
# says whether the bytes are identical too). URLs are the /graphql endpoints,
# e.g. http://127.0.0.1:8080/graphql http://127.0.0.1:8090/graphql
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 QT_URL FLOOR_URL" >&2; exit 2; fi
exec python3 - "$1" "$2" "$(dirname "$0")/q1.graphql" <<'PY'
import json, sys, urllib.request

qt_url, floor_url, query_file = sys.argv[1:4]
body = json.dumps({"query": open(query_file).read()}).encode()

def post(url):
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
    return raw, json.loads(raw)

qt_raw, qt = post(qt_url)
fl_raw, fl = post(floor_url)
if "errors" in qt or "data" not in qt:
    sys.exit(f"quicktakes answered errors: {json.dumps(qt)[:500]}")
nodes = qt["data"]["articles"]["nodes"]
links = sum(len(n["related"]) for n in nodes)
dangling = sum(1 for n in nodes for r in n["related"] if r["article"] is None)
if qt != fl:
    # Name the first difference.
    def diff(a, b, path="$"):
        if type(a) is not type(b) or (not isinstance(a, (dict, list)) and a != b):
            return f"{path}: quicktakes {json.dumps(a)[:200]} floor {json.dumps(b)[:200]}"
        if isinstance(a, dict):
            if list(a) != list(b):
                return f"{path}: keys {list(a)} vs {list(b)}"
            for k in a:
                d = diff(a[k], b[k], f"{path}.{k}")
                if d: return d
        if isinstance(a, list):
            if len(a) != len(b):
                return f"{path}: length {len(a)} vs {len(b)}"
            for i, (x, y) in enumerate(zip(a, b)):
                d = diff(x, y, f"{path}[{i}]")
                if d: return d
        return None
    sys.exit(f"DIFFERENT: {diff(qt, fl)}")
# Key order too (dict == ignores it).
if json.dumps(qt) != json.dumps(fl):
    sys.exit("DIFFERENT: same values, different key order")
same = "byte-identical" if qt_raw == fl_raw else f"same value, bytes differ ({len(qt_raw)} vs {len(fl_raw)} bytes)"
print(f"OK: q1 equal ({len(nodes)} articles, {links} links, {dangling} with article null); {same}")
PY
