#!/usr/bin/env python3
"""check.py QT_URL PEER_URL: asks quicktakes q1 (bench/floor/q1.graphql) and
PostGraphile its q1 (bench/peer/q1.graphql), extracts the same values from
both answers and exits non-zero unless they are equal.

Per article: title, question, answer, score, subject name and slug, and each
link in position order as (title, url, target title, target subject name).
quicktakes' rule for a link is applied to PostGraphile's answer: a target
that is missing or deleted gives `article: null` and the link's own title and
url; a live target gives its own title and url.
"""
import json
import os
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def post(url, query_file):
    body = json.dumps({"query": open(query_file).read()}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        answer = json.loads(r.read())
    if answer.get("errors") or "data" not in answer:
        sys.exit(f"{url} answered errors: {json.dumps(answer)[:800]}")
    return answer["data"]


def from_quicktakes(data):
    return [
        {
            "title": n["title"],
            "question": n["question"],
            "answer": n["answer"],
            "score": n["score"],
            "subject": (n["subject"]["name"], n["subject"]["slug"]),
            "related": [
                (
                    r["title"],
                    r["url"],
                    r["article"] and r["article"]["title"],
                    r["article"] and r["article"]["subject"]["name"],
                )
                for r in n["related"]
            ],
        }
        for n in data["articles"]["nodes"]
    ]


def peer_link(link):
    target = link["articleByTargetId"]
    if target is None or target["deletedAt"] is not None:
        return (link["title"], link["url"], None, None)
    return (target["title"], target["url"], target["title"], target["subjectBySubjectId"]["name"])


def from_peer(data):
    return [
        {
            "title": n["title"],
            "question": n["question"],
            "answer": n["answer"],
            "score": n["score"],
            "subject": (n["subjectBySubjectId"]["name"], n["subjectBySubjectId"]["slug"]),
            "related": [peer_link(link) for link in n["articleLinksByArticleIdList"]],
        }
        for n in data["allArticles"]["nodes"]
    ]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: check.py QT_URL PEER_URL")
    qt_url, peer_url = sys.argv[1:]
    qt = from_quicktakes(post(qt_url, os.path.join(HERE, "..", "floor", "q1.graphql")))
    peer = from_peer(post(peer_url, os.path.join(HERE, "q1.graphql")))
    if len(qt) != len(peer):
        sys.exit(f"DIFFERENT: {len(qt)} articles from quicktakes, {len(peer)} from the peer")
    for i, (a, b) in enumerate(zip(qt, peer)):
        for key in a:
            x, y = a[key], b[key]
            if key == "related" and len(x) == len(y):
                # Name the first link that differs.
                key, x, y = next(
                    (f"related[{j}]", p, q) for j, (p, q) in enumerate(zip(x, y)) if p != q
                ) if x != y else (key, x, y)
            if x != y:
                sys.exit(
                    f"DIFFERENT: article {i} ({a['title']!r}) {key}: "
                    f"quicktakes {json.dumps(x)[:300]} peer {json.dumps(y)[:300]}"
                )
    links = sum(len(a["related"]) for a in qt)
    dangling = sum(1 for a in qt for r in a["related"] if r[2] is None)
    print(f"OK: q1 values equal ({len(qt)} articles, {links} links, {dangling} with article null)")


main()
