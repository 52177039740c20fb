// graphql-ws (graphql-transport-ws) against /graphql/ws: an authenticated
// subscription sees a mutation sent over the same socket, with its nested
// fields resolved; a bad token closes the socket with 4403; an anonymous
// mutation is refused as over HTTP; a limit refusal is an `error` message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { QT_WS_URL, QT_TOKEN, QT_REVOKED_TOKEN, SEED_ID, gql, gqlData, within } from '../lib.mjs';

function client(connectionParams, extra = {}) {
  return createClient({
    url: QT_WS_URL,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
    ...extra,
  });
}

/**
 * Runs one operation to completion. Resolves { results, error }: results are
 * the `next` payloads; error is what the sink's error got (an array of
 * GraphQL errors for an `error` message, a CloseEvent for a closed socket).
 */
function runOnce(c, payload, ms = 10000) {
  const results = [];
  const done = new Promise((resolve) => {
    c.subscribe(payload, {
      next: (r) => results.push(r),
      error: (error) => resolve({ results, error }),
      complete: () => resolve({ results, error: undefined }),
    });
  });
  return within(ms, done, `the answer to ${payload.query.slice(0, 60)}`);
}

const ARTICLE_FIELDS = 'id version answer subject { name } related { targetId title position }';

test('an editor subscription sees its own mutation, nested fields resolved', async () => {
  const before = (await gqlData(`query($id: ID!) { article(id: $id) { ${ARTICLE_FIELDS} } }`, { id: SEED_ID })).article;
  assert.equal(before.id, SEED_ID);
  assert.equal(before.subject.name, 'Medicine');
  assert.ok(before.related.length >= 2, `the seed article has related links: ${JSON.stringify(before.related)}`);
  assert.deepEqual(before.related[0], {
    targetId: '118085',
    title: 'How is PET-CT used in the diagnosis and management of HCC?',
    position: 1,
  });

  const c = client({ Authorization: `Bearer ${QT_TOKEN}` });
  try {
    const events = [];
    let failed;
    let gotEvent;
    const firstEvent = new Promise((resolve) => (gotEvent = resolve));
    const unsubscribe = c.subscribe(
      { query: `subscription($id: ID!) { articleChanged(id: $id) { ${ARTICLE_FIELDS} } }`, variables: { id: SEED_ID } },
      {
        next: (r) => {
          events.push(r);
          gotEvent();
        },
        error: (e) => {
          failed = e;
          gotEvent();
        },
        complete: () => {},
      },
    );
    // graphql-transport-ws has no acknowledgement of a subscribe: give the
    // server a moment to register the subscriber before the change.
    await new Promise((r) => setTimeout(r, 500));

    const answer = `Imaging is integral to HCC follow-up (edited over graphql-ws at ${new Date().toISOString()}).`;
    const mutation = await runOnce(c, {
      query: `mutation($id: ID!, $answer: String!, $v: Int!) {
        updateAnswer(id: $id, answer: $answer, expectedVersion: $v, note: "real-client ws test") { id version answer }
      }`,
      variables: { id: SEED_ID, answer, v: before.version },
    });
    assert.equal(mutation.error, undefined, `the mutation over ws failed: ${JSON.stringify(mutation.error)}`);
    assert.equal(mutation.results.length, 1);
    assert.equal(mutation.results[0].errors, undefined, `mutation errors: ${JSON.stringify(mutation.results[0].errors)}`);
    const updated = mutation.results[0].data.updateAnswer;
    assert.equal(updated.id, SEED_ID);
    assert.equal(updated.answer, answer);
    assert.equal(updated.version, before.version + 1);

    await within(10000, firstEvent, 'an articleChanged event');
    unsubscribe();
    assert.equal(failed, undefined, `the subscription failed: ${JSON.stringify(failed)}`);
    const event = events[0];
    assert.equal(event.errors, undefined, `subscription event errors: ${JSON.stringify(event.errors)}`);
    assert.deepEqual(event.data.articleChanged, {
      id: SEED_ID,
      version: before.version + 1,
      answer,
      subject: { name: 'Medicine' },
      related: before.related,
    });
  } finally {
    await c.dispose();
  }
});

async function refusedWith4403(connectionParams) {
  let closed;
  const c = client(connectionParams, { on: { closed: (event) => (closed = event) } });
  try {
    const { results, error } = await runOnce(c, { query: '{ __typename }' });
    assert.deepEqual(results, [], `no answer on a refused connection: ${JSON.stringify(results)}`);
    assert.ok(error, 'the operation fails');
    assert.equal(error.code, 4403, `close code ${error.code} (${error.reason}); expected 4403`);
    assert.equal(closed?.code, 4403);
  } finally {
    await c.dispose();
  }
}

test('an unknown token in connectionParams closes the socket with 4403', async () => {
  await refusedWith4403({ Authorization: 'Bearer qt_this-token-does-not-exist' });
});

test('a revoked token in connectionParams closes the socket with 4403', async () => {
  const http = await gql('{ __typename }', {}, { token: QT_REVOKED_TOKEN });
  assert.equal(http.status, 401, 'HTTP refuses the revoked token too');
  await refusedWith4403({ authorization: `Bearer ${QT_REVOKED_TOKEN}` });
});

test('a lowercase `authorization` key authenticates the connection too', async () => {
  const c = client({ authorization: `Bearer ${QT_TOKEN}` });
  try {
    const { results, error } = await runOnce(c, {
      query: `mutation($id: ID!) { adjustScore(id: $id, delta: 0.5, note: "real-client ws test") { id version } }`,
      variables: { id: SEED_ID },
    });
    assert.equal(error, undefined, `failed: ${JSON.stringify(error)} ${error?.code ?? ''}`);
    assert.equal(results.length, 1);
    assert.equal(results[0].errors, undefined, `errors: ${JSON.stringify(results[0].errors)}`);
    assert.equal(results[0].data.adjustScore.id, SEED_ID);
  } finally {
    await c.dispose();
  }
});

test('an anonymous mutation over ws is refused with the code HTTP gives', async () => {
  const before = (await gqlData('query($id: ID!) { article(id: $id) { version } }', { id: SEED_ID })).article;
  const mutation = `mutation($id: ID!, $v: Int!) {
    updateAnswer(id: $id, answer: "anonymous edit", expectedVersion: $v) { id version }
  }`;
  const variables = { id: SEED_ID, v: before.version };

  const http = await gql(mutation, variables);
  assert.ok(http.body.errors?.length, `HTTP refuses an anonymous mutation: ${JSON.stringify(http.body)}`);
  const httpCode = http.body.errors[0].extensions?.code;
  assert.ok(['UNAUTHENTICATED', 'FORBIDDEN'].includes(httpCode), `HTTP code ${httpCode}`);

  const c = client(undefined);
  try {
    const { results, error } = await runOnce(c, { query: mutation, variables });
    // Refused either in a `next` payload's errors or as an `error` message.
    const errors = Array.isArray(error) ? error : results.flatMap((r) => r.errors ?? []);
    assert.ok(!(error && !Array.isArray(error)), `the socket failed instead: ${error?.code} ${error?.reason}`);
    assert.ok(errors.length > 0, `ws refuses an anonymous mutation: ${JSON.stringify({ results, error })}`);
    assert.equal(errors[0].extensions?.code, httpCode, `ws: ${JSON.stringify(errors)}`);
    for (const r of results) assert.ok(r.data == null || r.data.updateAnswer == null, `no data: ${JSON.stringify(r)}`);
  } finally {
    await c.dispose();
  }
  const after = (await gqlData('query($id: ID!) { article(id: $id) { version } }', { id: SEED_ID })).article;
  assert.equal(after.version, before.version, 'nothing was written');
});

test('200 aliases over ws are refused with QUERY_LIMIT aliases, as an error message', async () => {
  const fields = Array.from({ length: 200 }, (_, i) => `a${i}: __typename`).join(' ');
  const c = client(undefined);
  try {
    const { results, error } = await runOnce(c, { query: `{ ${fields} }` });
    assert.deepEqual(results, [], `no next message: ${JSON.stringify(results).slice(0, 300)}`);
    assert.ok(Array.isArray(error), `a graphql-ws error message, got ${JSON.stringify(error)} (code ${error?.code})`);
    assert.ok(error.length >= 1);
    assert.equal(error[0].extensions?.code, 'QUERY_LIMIT', JSON.stringify(error));
    assert.equal(error[0].extensions?.limit, 'aliases', JSON.stringify(error));
  } finally {
    await c.dispose();
  }
});
