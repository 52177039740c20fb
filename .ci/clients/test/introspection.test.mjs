// graphql-js: its introspection query passes the server's default limits,
// and the schema it rebuilds prints exactly as the served SDL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';
import { QT_URL, gql } from '../lib.mjs';

async function sdlPrinted() {
  const res = await fetch(`${QT_URL}/schema.graphql`);
  assert.equal(res.status, 200);
  return printSchema(lexicographicSortSchema(buildSchema(await res.text())));
}

async function introspect(options) {
  const { status, body } = await gql(getIntrospectionQuery(options));
  assert.equal(body.errors, undefined, `introspection refused: ${JSON.stringify(body.errors)}`);
  assert.equal(status, 200);
  assert.ok(body.data?.__schema, 'data.__schema');
  return body.data;
}

function sameSchema(name, fromIntrospection, fromSdl) {
  if (fromIntrospection === fromSdl) return;
  let diff = '(set QT_ARTIFACTS for a diff)';
  const dir = process.env.QT_ARTIFACTS;
  if (dir) {
    const a = join(dir, `${name}.introspection.graphql`);
    const b = join(dir, `${name}.sdl.graphql`);
    writeFileSync(a, fromIntrospection);
    writeFileSync(b, fromSdl);
    diff = spawnSync('diff', ['-u', b, a], { encoding: 'utf8' }).stdout;
  }
  assert.fail(`${name}: the schema rebuilt from introspection differs from /schema.graphql (- SDL, + introspection):\n${diff}`);
}

test('getIntrospectionQuery({ descriptions, specifiedByUrl }) rebuilds the served SDL', async () => {
  const data = await introspect({ descriptions: true, specifiedByUrl: true });
  const printed = printSchema(lexicographicSortSchema(buildClientSchema(data)));
  sameSchema('introspection', printed, await sdlPrinted());
  assert.match(printed, /^type Article /m);
});

// async-graphql 7.2.1 answers `__schema { description }` with a fixed text of
// its own; the server's policy answers null, as the SDL has no description, so
// no `schema { ... }` block appears here.
test('getIntrospectionQuery with every graphql-js 16 option rebuilds the served SDL', async () => {
  const data = await introspect({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
    oneOf: true,
  });
  const printed = printSchema(lexicographicSortSchema(buildClientSchema(data)));
  sameSchema('introspection-all-options', printed, await sdlPrinted());
});
