#!/usr/bin/env bash
# run.sh DATABASE_URL PORT: PostGraphile 4 over the PostgreSQL database
# quicktakes serves, GraphQL at http://127.0.0.1:PORT/graphql. Runs in the
# foreground (exec), so the caller's pid is PostGraphile's.
#
# It first puts one smart comment on article_link so PostGraphile follows a
# link to its target (quicktakes keeps no foreign key there: a target need
# not be loaded yet):
#   COMMENT ON TABLE article_link IS E'@foreignKey (target_id) references article (id)'
# quicktakes' migrations set no comment on article_link; if the table already
# has a different one, this refuses rather than clobber it.
#
# Flags, for production-like speed:
#   NODE_ENV=production       graphql-js and PostGraphile skip development checks.
#   (no --watch)              no schema watching, no watch fixtures installed.
#   --disable-graphiql        no GraphiQL route or its assets.
#   --disable-query-log       no line per request on stdout.
#   --simple-collections both lists next to connections: the query takes
#                             `allArticles { nodes }` (like quicktakes'
#                             `articles { nodes }`) and the links as a plain
#                             list (like `related`), with no connection
#                             wrapper per article.
#   RBAC stays ignored (the v4 default): the connecting role owns everything,
#   so respecting grants would expose the same schema more slowly to build.
#   PEER_WORKERS=N (env, optional) adds --cluster-workers N: N node processes
#   behind one port. Unset, PostGraphile runs as one process (one core), as
#   `postgraphile` runs by default.
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 DATABASE_URL PORT" >&2; exit 2; fi
db=$1
port=$2
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/node_modules/.bin/postgraphile
if [ ! -x "$bin" ]; then
  echo "$bin is missing: run 'npm ci' in $here first" >&2
  exit 1
fi

comment='@foreignKey (target_id) references article (id)'
existing=$(psql "$db" -XAtq -v ON_ERROR_STOP=1 \
  -c "SELECT coalesce(obj_description('article_link'::regclass, 'pg_class'), '')")
if [ -n "$existing" ] && [ "$existing" != "$comment" ]; then
  echo "article_link already has a comment, not clobbering it: $existing" >&2
  exit 1
fi
if [ -z "$existing" ]; then
  psql "$db" -Xq -v ON_ERROR_STOP=1 \
    -c "COMMENT ON TABLE article_link IS E'$comment'"
fi

export NODE_ENV=production
exec "$bin" \
  --connection "$db" \
  --schema public \
  --host 127.0.0.1 \
  --port "$port" \
  --disable-graphiql \
  --disable-query-log \
  --simple-collections both \
  ${PEER_WORKERS:+--cluster-workers "$PEER_WORKERS"}
