// Apollo Client's InMemoryCache with its default config: two articles that
// link to the same target at different positions each keep their own links
// (a RelatedArticle has no `id`, so the cache keeps it inside its article).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloClient, InMemoryCache, HttpLink, gql as tag } from '@apollo/client/core';
import { QT_URL, QT_TOKEN, SEED_ID, gqlData } from '../lib.mjs';

const RELATED = 'id related { targetId position title }';

test('InMemoryCache keeps each article its own related positions', async () => {
  // The server links loaded articles only, and the seed's links point at
  // articles the seed lacks; so the shared target is the seed article, and
  // two new articles link to it, at positions 1 and 2.
  const target = (await gqlData('query($id: ID!) { article(id: $id) { id title } }', { id: SEED_ID })).article;
  const create = (input) =>
    gqlData(
      `mutation($input: NewArticleInput!) { createArticle(input: $input, note: "real-client apollo test") { ${RELATED} } }`,
      {
        input: {
          question: 'What does a liver ultrasound show?',
          answer: 'The **liver** texture, focal lesions and the vessels.',
          subject: 'Radiology',
          ...input,
        },
      },
      { token: QT_TOKEN },
    ).then((d) => d.createArticle);
  const firstTitle = `Liver ultrasound basics ${Date.now()}`;
  const first = await create({ title: firstTitle, related: [SEED_ID] });
  const linked = await create({ title: `Liver MRI basics ${Date.now()}`, related: [first.id, SEED_ID] });
  assert.deepEqual(first.related, [{ targetId: SEED_ID, position: 1, title: target.title }]);
  assert.deepEqual(linked.related, [
    { targetId: first.id, position: 1, title: firstTitle },
    { targetId: SEED_ID, position: 2, title: target.title },
  ]);
  const shared = { targetId: SEED_ID };

  const client = new ApolloClient({
    link: new HttpLink({ uri: `${QT_URL}/graphql`, fetch: globalThis.fetch }),
    cache: new InMemoryCache(),
  });
  try {
    const both = tag`
      query Both($a: ID!, $b: ID!) {
        a: article(id: $a) { ${RELATED} }
        b: article(id: $b) { ${RELATED} }
      }
    `;
    const { data, error } = await client.query({ query: both, variables: { a: first.id, b: linked.id } });
    assert.equal(error, undefined);
    const strip = (article) => ({
      id: article.id,
      related: article.related.map(({ targetId, position, title }) => ({ targetId, position, title })),
    });
    assert.deepEqual(strip(data.a), strip(first));
    assert.deepEqual(strip(data.b), strip(linked));

    // Read each article back from the cache alone.
    const one = tag`query One($id: ID!) { article(id: $id) { ${RELATED} } }`;
    const cachedA = client.readQuery({ query: one, variables: { id: first.id } });
    const cachedB = client.readQuery({ query: one, variables: { id: linked.id } });
    assert.ok(cachedA && cachedB, 'both articles are in the cache');
    assert.deepEqual(strip(cachedA.article), strip(first));
    assert.deepEqual(strip(cachedB.article), strip(linked));
    const positionOf = (article) => article.related.find((r) => r.targetId === shared.targetId).position;
    assert.equal(positionOf(cachedA.article), 1);
    assert.equal(positionOf(cachedB.article), 2);

    // And by normalized id, as a component's fragment would.
    const fragment = tag`fragment R on Article { ${RELATED} }`;
    const byIdA = client.cache.readFragment({ id: `Article:${first.id}`, fragment });
    const byIdB = client.cache.readFragment({ id: `Article:${linked.id}`, fragment });
    assert.deepEqual(strip(byIdA), strip(first));
    assert.deepEqual(strip(byIdB), strip(linked));

    // A cache-only query answers from the cache with the same links.
    const cacheOnly = await client.query({ query: one, variables: { id: linked.id }, fetchPolicy: 'cache-only' });
    assert.deepEqual(strip(cacheOnly.data.article), strip(linked));
  } finally {
    client.stop();
  }
});
