// Apollo Client's own PersistedQueryLink, as a frontend behind a CDN runs
// it (useGETForHashedQueries): the first GET carries only the hash and
// misses, the link retries by POST with the document, and from then on a
// GET by hash alone is answered, cacheable, with an ETag that revalidates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ApolloClient, InMemoryCache, HttpLink, gql as tag } from '@apollo/client/core';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { QT_URL, SEED_ID } from '../lib.mjs';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/** A fetch that records each request's method, url and answer. */
function recording() {
  const seen = [];
  const fetch = async (url, init = {}) => {
    const res = await globalThis.fetch(url, init);
    const copy = res.clone();
    seen.push({
      method: (init.method || 'GET').toUpperCase(),
      accept: new Headers(init.headers).get('accept'),
      url: String(url),
      body: init.body ? JSON.parse(init.body) : undefined,
      status: res.status,
      cacheControl: res.headers.get('cache-control'),
      etag: res.headers.get('etag'),
      surrogateKey: res.headers.get('surrogate-key'),
      json: await copy.json(),
    });
    return res;
  };
  return { seen, fetch };
}

function client(fetch) {
  const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: `${QT_URL}/graphql`, fetch }),
  );
  // No client cache: every query goes to the server, as each page view of
  // a static site or another browser would.
  return new ApolloClient({ link, cache: new InMemoryCache(), defaultOptions: { query: { fetchPolicy: 'no-cache' } } });
}

test('Apollo PersistedQueryLink: a miss, a retry with the document, then GETs by hash', async () => {
  const query = tag`
    query ApqArticle($id: ID!) {
      article(id: $id) { id title subject { id name } }
    }
  `;
  const first = recording();
  const apollo = client(first.fetch);
  const { data, error } = await apollo.query({ query, variables: { id: SEED_ID } });
  assert.equal(error, undefined);
  assert.equal(data.article.id, SEED_ID);

  assert.equal(first.seen.length, 2, JSON.stringify(first.seen.map((s) => [s.method, s.status])));
  const [miss, retry] = first.seen;
  assert.equal(miss.method, 'GET');
  assert.ok(!new URL(miss.url).searchParams.has('query'), 'the first GET sends the hash alone');
  assert.equal(miss.json.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
  assert.equal(miss.cacheControl, 'private, no-store', 'a miss is never cached');
  assert.equal(retry.method, 'POST');
  assert.ok(retry.body.query.includes('ApqArticle'));
  assert.equal(retry.body.extensions.persistedQuery.sha256Hash, sha256(retry.body.query));

  // Another client (another page view) now gets it by hash, over GET.
  const second = recording();
  const result = await client(second.fetch).query({ query, variables: { id: SEED_ID } });
  assert.equal(result.data.article.id, SEED_ID);
  assert.equal(second.seen.length, 1);
  const [hit] = second.seen;
  assert.equal(hit.method, 'GET');
  assert.ok(!new URL(hit.url).searchParams.has('query'));
  assert.equal(hit.status, 200);
  assert.match(hit.cacheControl, /^public, max-age=\d+, s-maxage=\d+/);
  assert.ok(hit.surrogateKey.split(' ').includes(`article:${SEED_ID}`), hit.surrogateKey);

  // The same request revalidates: what a CDN or the browser's cache sends.
  const again = await globalThis.fetch(hit.url, { headers: { accept: hit.accept, 'if-none-match': hit.etag } });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get('etag'), hit.etag);
  // The other media type is another representation, with its own ETag.
  const json = await globalThis.fetch(hit.url, { headers: { accept: 'application/json', 'if-none-match': hit.etag } });
  assert.equal(json.status, 200);
  assert.notEqual(json.headers.get('etag'), hit.etag);
});
