// Shared by the tests: where the server is, and a plain HTTP GraphQL call.
import assert from 'node:assert/strict';

function required(name) {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run the tests through .ci/clients/run.sh`);
  return value;
}

/** http://127.0.0.1:PORT of the server under test (no trailing slash). */
export const QT_URL = required('QT_URL').replace(/\/$/, '');
/** ws://127.0.0.1:PORT/graphql/ws */
export const QT_WS_URL = QT_URL.replace(/^http/, 'ws') + '/graphql/ws';
/** An editor token's secret. */
export const QT_TOKEN = required('QT_TOKEN');
/** A revoked editor token's secret. */
export const QT_REVOKED_TOKEN = required('QT_REVOKED_TOKEN');
/** The seed article: it has a subject and related links. */
export const SEED_ID = '118109';

/**
 * POSTs one GraphQL request to /graphql as application/json; returns
 * { status, body }.
 */
export async function gql(query, variables = {}, { token } = {}) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${QT_URL}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`/graphql answered ${res.status} with non-JSON: ${text.slice(0, 500)}`);
  }
  return { status: res.status, body };
}

/** Like gql, but asserts the answer has data and no errors; returns data. */
export async function gqlData(query, variables = {}, options = {}) {
  const { status, body } = await gql(query, variables, options);
  assert.equal(body.errors, undefined, `errors: ${JSON.stringify(body.errors)}`);
  assert.equal(status, 200);
  assert.ok(body.data, 'data');
  return body.data;
}

/** Rejects after ms with a message naming what was awaited. */
export function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
