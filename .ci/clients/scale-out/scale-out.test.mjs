// The scale-out, end to end (started by run.sh): two quicktakes instances
// A and B over a PostgreSQL primary with a streaming replica, haproxy in
// front. Clients are real: graphql-ws for subscriptions, fetch for HTTP.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run through .ci/clients/scale-out/run.sh`);
  return value;
};
const LB = env('QT_LB');
const A = env('QT_A');
const B = env('QT_B');
const TOKEN = env('QT_TOKEN');
const ID = '118109';

/** POSTs a GraphQL request to `base`; returns { servedBy, status, body }. */
async function gql(base, query, variables = {}, { token } = {}) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return { servedBy: res.headers.get('x-served-by'), status: res.status, body: await res.json() };
}

function data(r) {
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data;
}

/** psql on the replica, as its owner. */
function replicaSql(sql) {
  const asPg = process.env.QT_AS_PG ?? '';
  return execSync(`${asPg} ${env('QT_REPLICA_PSQL')} -Atc "${sql}"`, { encoding: 'utf8' }).trim();
}

const clients = [];
after(async () => {
  for (const c of clients) await c.dispose();
});

/** A subscriber on `base` to article ID's changes; events land in `events`. */
function subscribe(base, events) {
  const client = createClient({ url: base.replace(/^http/, 'ws') + '/graphql/ws', webSocketImpl: WebSocket, retryAttempts: 0 });
  clients.push(client);
  let listening;
  const started = new Promise((resolve) => (listening = resolve));
  client.subscribe(
    { query: `subscription { articleChanged(id: "${ID}") { id version score answer } }` },
    {
      next: (m) => events.push({ at: Date.now(), ...m.data.articleChanged }),
      error: (e) => events.push({ error: String(e?.message ?? e) }),
      complete: () => {},
    },
  );
  // The server subscribes once the operation is in: give it a moment.
  client.on('connected', () => setTimeout(listening, 300));
  return started;
}

async function until(what, check, ms = 10000, detail = () => '') {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    assert.ok(Date.now() < end, `timed out waiting for ${what} ${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const versionOf = async (base, token) => data(await gql(base, `{ article(id: "${ID}") { version answer score } }`, {}, { token })).article;

test('a subscriber on A hears, within a second, an edit made through haproxy that B served', async () => {
  const events = [];
  await subscribe(A, events);
  // Round robin: edit through the balancer until B is the one that served.
  let served;
  for (let i = 0; i < 6 && served?.servedBy !== 'b'; i++) {
    served = await gql(LB, `mutation { adjustScore(id: "${ID}", delta: 1) { version } }`, {}, { token: TOKEN });
    data(served);
  }
  assert.equal(served.servedBy, 'b', 'haproxy sent an edit to B');
  const sent = Date.now();
  const version = served.body.data.adjustScore.version;
  const event = await until('the event on A', () => events.find((e) => e.version === version), 3000);
  assert.ok(event.at - sent < 1000, `heard after ${event.at - sent} ms`);
});

test('anonymous reads come from the replica: with its replay paused they show the old answer, editors the new', async () => {
  const before = await versionOf(LB, TOKEN);
  replicaSql('SELECT pg_wal_replay_pause()');
  try {
    const fixed = `Edited while the replica is paused (${Date.now()}).`;
    const saved = await gql(LB, `mutation($a: String!, $v: Int!) { updateAnswer(id: "${ID}", answer: $a, expectedVersion: $v) { version answer } }`, { a: fixed, v: before.version }, { token: TOKEN });
    assert.equal(data(saved).updateAnswer.answer, fixed);
    // Both instances, through the balancer and directly.
    for (const base of [LB, A, B, LB]) {
      const anonymous = await versionOf(base);
      assert.equal(anonymous.version, before.version, `${base}: the anonymous read is the replica's`);
      assert.notEqual(anonymous.answer, fixed);
      const editor = await versionOf(base, TOKEN);
      assert.equal(editor.answer, fixed, `${base}: the editor reads the primary`);
    }
  } finally {
    replicaSql('SELECT pg_wal_replay_resume()');
  }
  await until('the replica to catch up', async () => (await versionOf(LB)).version > before.version);
});

test('an editor writes through one instance and reads the write through the other at once', async () => {
  for (const [write, read] of [[A, B], [B, A]]) {
    const now = await versionOf(write, TOKEN);
    const answer = `Written through ${write}, read through ${read} (${Date.now()}).`;
    const saved = await gql(write, `mutation($a: String!, $v: Int!) { updateAnswer(id: "${ID}", answer: $a, expectedVersion: $v) { version } }`, { a: answer, v: now.version }, { token: TOKEN });
    const version = data(saved).updateAnswer.version;
    const seen = await versionOf(read, TOKEN);
    assert.equal(seen.version, version);
    assert.equal(seen.answer, answer);
  }
});

test('through haproxy: persisted queries are learnt per instance, anonymous GETs are cacheable and tagged', async () => {
  const { createHash } = await import('node:crypto');
  const query = `query ScaleOutPage($id: ID!) { article(id: $id) { id version subject { id } related { targetId } } }`;
  const hash = createHash('sha256').update(query).digest('hex');
  const extensions = JSON.stringify({ persistedQuery: { version: 1, sha256Hash: hash } });
  const byHash = (base) =>
    fetch(`${base}/graphql?${new URLSearchParams({ extensions, variables: JSON.stringify({ id: ID }) })}`, {
      headers: { accept: 'application/json' },
    });
  // Learnt by A (the client's retry with the document)...
  const learnt = await fetch(`${A}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables: { id: ID }, extensions: JSON.parse(extensions) }),
  });
  assert.equal((await learnt.json()).data.article.id, ID);
  const onA = await byHash(A);
  const page = await onA.json();
  assert.equal(page.data.article.id, ID);
  assert.match(onA.headers.get('cache-control'), /^public, max-age=\d+, s-maxage=\d+, stale-while-revalidate=\d+$/);
  const keys = onA.headers.get('surrogate-key').split(' ');
  assert.ok(keys.includes(`article:${ID}`) && keys.includes(`subject:${page.data.article.subject.id}`), keys.join(' '));
  for (const link of page.data.article.related) assert.ok(keys.includes(`article:${link.targetId}`), keys.join(' '));
  // ...is a miss on B, which the client answers the same way.
  const onB = await (await byHash(B)).json();
  assert.equal(onB.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
  // The ETag is the body's: both instances, reading the same replica, agree,
  // so a CDN's revalidation gets a 304 whichever instance answers.
  const etag = onA.headers.get('etag');
  const again = await fetch(`${LB}/graphql?${new URLSearchParams({ query, variables: JSON.stringify({ id: ID }) })}`, {
    headers: { accept: 'application/json' },
  });
  const etagLb = again.headers.get('etag');
  const answeredBy = new Set();
  for (let i = 0; i < 4; i++) {
    const revalidated = await fetch(`${LB}/graphql?${new URLSearchParams({ query, variables: JSON.stringify({ id: ID }) })}`, {
      headers: { accept: 'application/json', 'if-none-match': etagLb },
    });
    answeredBy.add(revalidated.headers.get('x-served-by'));
    assert.equal(revalidated.status, 304, `served by ${revalidated.headers.get('x-served-by')}`);
  }
  assert.deepEqual([...answeredBy].sort(), ['a', 'b'], 'both instances answered 304');
  assert.equal(etagLb, etag, 'the same body, the same ETag');
  // With a token: never cacheable, whichever instance answers.
  const editor = await fetch(`${LB}/graphql?${new URLSearchParams({ query, variables: JSON.stringify({ id: ID }) })}`, {
    headers: { accept: 'application/json', authorization: `Bearer ${TOKEN}`, 'if-none-match': etagLb },
  });
  assert.equal(editor.status, 200);
  assert.equal(editor.headers.get('cache-control'), 'private, no-store');
});

test('webhooks: each edit, whichever instance served it, is delivered once, signed, by one of them', async () => {
  const { createServer } = await import('node:http');
  const { createHmac } = await import('node:crypto');
  const got = [];
  const receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${receiver.address().port}/hook`;
  const cli = (args) =>
    execSync(`${env('QT_BIN')} webhook ${args}`, {
      env: { ...process.env, DATABASE_URL: env('QT_PRIMARY_URL') },
      encoding: 'utf8',
    });
  const secret = cli(`add ${url} --event article.updated`).trim().split('\n').pop();
  assert.match(secret, /^whsec_/);
  try {
    const versions = [];
    const servedBy = new Set();
    for (let i = 0; i < 10; i++) {
      const r = await gql(LB, `mutation { adjustScore(id: "${ID}", delta: 1) { version } }`, {}, { token: TOKEN });
      versions.push(data(r).adjustScore.version);
      servedBy.add(r.servedBy);
    }
    assert.deepEqual([...servedBy].sort(), ['a', 'b'], 'both instances committed edits');
    await until('ten deliveries', () => got.length >= 10, 15000, () => `${got.length}`);
    // Both workers see every change (the committing one directly, the other
    // through LISTEN): give a second delivery every chance to arrive.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(got.length, 10, 'each change delivered once');
    const delivered = got.map(({ headers, body }) => {
      const timestamp = headers['x-quicktakes-timestamp'];
      assert.match(timestamp ?? '', /^\d+$/, 'the attempt\'s time in Unix seconds');
      assert.ok(Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300, `a current time: ${timestamp}`);
      const expected = 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
      assert.equal(headers['x-quicktakes-signature'], expected, 'signed with the secret over the timestamp and the raw body');
      const payload = JSON.parse(body);
      assert.equal(payload.event, 'article.updated');
      assert.equal(headers['x-quicktakes-event'], 'article.updated');
      assert.equal(payload.articleId, ID);
      assert.ok(payload.surrogateKeys.includes(`article:${ID}`), JSON.stringify(payload.surrogateKeys));
      assert.equal(payload.oldUrl, payload.newUrl, 'a score change does not move the article');
      return payload.version;
    });
    assert.deepEqual(delivered.sort((x, y) => x - y), versions.sort((x, y) => x - y));
    assert.equal(new Set(got.map((g) => g.headers['x-quicktakes-delivery'])).size, 10);
  } finally {
    cli(`remove ${url}`);
    receiver.close();
  }
});

/**
 * Sends `total` requests through haproxy, `concurrency` at a time: 5 % are
 * edits (adjustScore by 1), the rest anonymous page reads. A request that
 * fails at the network level is retried (clients retry onto the other
 * instance); an answer with GraphQL errors is a failure. `during(i)` runs
 * before request i. Returns the count of committed edits.
 */
async function load(total, concurrency, during = () => {}) {
  let next = 0;
  let edits = 0;
  const failures = [];
  async function one(i) {
    const edit = i % 20 === 0;
    const query = edit
      ? `mutation { adjustScore(id: "${ID}", delta: 1) { version } }`
      : `{ article(id: "${ID}") { title version subject { name } related { title article { title } } } }`;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const r = await gql(LB, query, {}, edit ? { token: TOKEN } : {});
        if (r.status >= 500 && !edit) continue;
        if (r.body.errors) failures.push(`${i}: ${JSON.stringify(r.body.errors)}`);
        else if (edit) edits++;
        return;
      } catch (e) {
        // Connection refused or reset: retry. An edit whose answer was lost
        // may have committed; it is not retried, so it cannot apply twice.
        if (edit) {
          failures.push(`${i}: edit lost its answer (${e.message})`);
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    failures.push(`${i}: no answer after 5 attempts`);
  }
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) {
        await during(i);
        await one(i);
      }
    }),
  );
  return { edits, failures };
}

test('a load through haproxy with 5 % edits: no errors, and each subscriber gets its events in version order', async () => {
  const onA = [];
  const onB = [];
  await subscribe(A, onA);
  await subscribe(B, onB);
  const start = (await versionOf(LB, TOKEN)).version;
  const { edits, failures } = await load(600, 8);
  assert.deepEqual(failures, []);
  assert.equal(edits, 30);
  const end = start + edits;
  for (const [name, events] of [['A', onA], ['B', onB]]) {
    await until(`${name} to hear version ${end}`, () => events.some((e) => e.version === end), 20000, () =>
      JSON.stringify(events.map((e) => e.error ?? e.version)),
    );
    assert.deepEqual(events.filter((e) => e.error), [], name);
    const versions = events.map((e) => e.version);
    const sorted = [...versions].sort((x, y) => x - y);
    // An event carries the article as it is when the event is sent, so two
    // quick edits can both show the later version: in order, never back.
    assert.deepEqual(versions, sorted, `${name}: events in version order`);
  }
});

test('killing B mid-run loses no committed edit, and clients carry on through A', async () => {
  const before = await versionOf(LB, TOKEN);
  const { edits, failures } = await load(400, 4, (i) => {
    if (i === 150) process.kill(Number(env('QT_B_PID')), 'SIGKILL');
  });
  // An edit in flight on B when it died lost its answer: it may or may not
  // have committed, and is the one failure allowed.
  const lost = failures.filter((f) => f.includes('edit lost its answer'));
  assert.deepEqual(failures.filter((f) => !lost.includes(f)), [], 'only edits in flight on B may fail');
  assert.ok(lost.length <= 1, JSON.stringify(lost));
  const after = await versionOf(LB, TOKEN);
  // Every edit that answered is in the score; at most the lost one more.
  const applied = after.score - before.score;
  assert.ok(applied >= edits && applied <= edits + lost.length, `applied ${applied}, answered ${edits}`);
  assert.equal(after.version - before.version, applied);
  // Everything now goes to A.
  const r = await gql(LB, `{ article(id: "${ID}") { title } }`);
  assert.equal(r.servedBy, 'a');
});
