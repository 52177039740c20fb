// GraphiQL in Debian's Chromium, driven by playwright-core: the page served
// with --graphiql-assets loads, its docs explorer lists the schema, a
// ?query= link opens that query, and the page says what to do when its
// scripts cannot load.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { QT_URL, QT_TOKEN, SEED_ID, gqlData } from '../lib.mjs';

const artifacts = process.env.QT_ARTIFACTS ?? mkdtempSync(join(tmpdir(), 'qt-graphiql-'));
let browser;

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
});
after(async () => {
  await browser?.close();
});

/** A fresh page (own storage) that fails the test on any page error. */
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // No request leaves this machine: anything not on the server under test fails.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  return { context, page, problems };
}

const queryEditorValue = (page) =>
  page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue());
const variablesEditorValue = (page) =>
  page.evaluate(() => document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror.getValue());

test('GraphiQL loads from --graphiql-assets and its docs explorer lists Article', async () => {
  const { context, page, problems } = await newPage();
  try {
    await page.goto(`${QT_URL}/graphiql`);
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 20000 });
    assert.match(await queryEditorValue(page), /query ArticleBySlug\(\$slug: String!\)/);

    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.waitFor({ timeout: 10000 });
    // The root view lists every type once the schema is in.
    await docs.getByText('Article', { exact: true }).first().waitFor({ timeout: 20000 });
    const text = await docs.innerText();
    assert.doesNotMatch(text, /Error fetching schema/);
    assert.match(text, /\bQuery\b/);
    assert.match(text, /\bArticle\b/);
    await page.screenshot({ path: join(artifacts, 'graphiql-docs.png') });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('/graphiql?query=&variables= opens that query and those variables', async () => {
  const query = 'query Linked($id: ID!) {\n  article(id: $id) {\n    id\n    title\n  }\n}';
  const variables = '{"id": "118109"}';
  const url = `${QT_URL}/graphiql?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(variables)}`;

  const { context, page, problems } = await newPage();
  try {
    // A first visit: nothing stored.
    await page.goto(url);
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 20000 });
    assert.equal(await queryEditorValue(page), query);
    assert.equal(await variablesEditorValue(page), variables);

    // Run it: the linked query works as is.
    await page.locator('.graphiql-execute-button').click();
    const result = page.locator('.graphiql-response .CodeMirror');
    await page.waitForFunction(
      () => /"title"/.test(document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? ''),
      null,
      { timeout: 20000 },
    );
    const response = JSON.parse(await result.evaluate((el) => el.CodeMirror.getValue()));
    assert.equal(response.data.article.id, '118109');
    await page.screenshot({ path: join(artifacts, 'graphiql-linked-query.png') });

    // Without ?query= the page opens what the editor had, in the same tab; a
    // second link opens its query in a tab of its own beside the stored one.
    await page.goto(`${QT_URL}/graphiql`);
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 20000 });
    assert.equal(await queryEditorValue(page), query, 'stored query kept without ?query=');
    assert.equal(await variablesEditorValue(page), variables, 'its variables kept too');
    const other = '{\n  subjects {\n    name\n  }\n}';
    await page.goto(`${QT_URL}/graphiql?query=${encodeURIComponent(other)}`);
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 20000 });
    assert.equal(await queryEditorValue(page), other);
    assert.equal(await variablesEditorValue(page), '');
    assert.deepEqual(
      await page.locator('.graphiql-tab').allInnerTexts(),
      ['Linked', '<untitled>'],
      'the second link opened a second tab',
    );
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('a subscription run in GraphiQL streams changes over the browser\'s WebSocket', async () => {
  const query = `subscription {\n  articleChanged(id: "${SEED_ID}") {\n    id\n    version\n    subject {\n      name\n    }\n  }\n}`;
  const { context, page, problems } = await newPage();
  try {
    await page.goto(`${QT_URL}/graphiql?query=${encodeURIComponent(query)}`);
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 20000 });
    assert.equal(await queryEditorValue(page), query);
    await page.locator('.graphiql-execute-button').click();
    await page.waitForTimeout(500); // the subscribe reaches the server
    const changed = (
      await gqlData(
        `mutation($id: ID!) { adjustScore(id: $id, delta: 0.25, note: "real-client graphiql test") { version } }`,
        { id: SEED_ID },
        { token: QT_TOKEN },
      )
    ).adjustScore;
    const handle = await page.waitForFunction(
      (version) => {
        const text = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '';
        return text.includes(`"version": ${version}`) ? text : false;
      },
      changed.version,
      { timeout: 20000 },
    );
    const response = JSON.parse(await handle.jsonValue());
    assert.deepEqual(response, {
      data: { articleChanged: { id: SEED_ID, version: changed.version, subject: { name: 'Medicine' } } },
    });
    await page.screenshot({ path: join(artifacts, 'graphiql-subscription.png') });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('a missing --graphiql-assets file: the page says to refill the folder', async () => {
  const { context, page } = await newPage();
  try {
    await context.route('**/graphiql/assets/*.js', (route) => route.fulfill({ status: 404, body: 'not found' }));
    await page.goto(`${QT_URL}/graphiql`);
    const text = await page.locator('#graphiql').innerText();
    assert.match(text, /GraphiQL could not be loaded/);
    assert.match(text, /--graphiql-assets folder/);
    assert.match(text, /\.ci\/graphiql-assets\.sh DIR/);
  } finally {
    await context.close();
  }
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

test('offline with CDN assets: the page says to use --graphiql-assets DIR', async () => {
  // A second server, without --graphiql-assets, on a scratch database.
  const bin = process.env.QT_BIN;
  assert.ok(bin, 'QT_BIN is not set: run the tests through .ci/clients/run.sh');
  const dir = mkdtempSync(join(tmpdir(), 'qt-graphiql-cdn-'));
  const port = await freePort();
  const env = { ...process.env, DATABASE_URL: `sqlite://${join(dir, 'cdn.db')}?mode=rwc` };
  delete env.QUICKTAKES_GRAPHIQL_ASSETS;
  const server = spawn(bin, ['serve', '--bind', `127.0.0.1:${port}`, '--seeds', join(dir, 'no-seeds')], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  server.stderr.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => server.on('exit', resolve));
  try {
    let ready = false;
    for (let i = 0; i < 120 && !ready && server.exitCode === null; i++) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      if (!ready) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(ready, `the CDN-mode server did not start:\n${log}`);

    const { context, page } = await newPage(); // aborts every CDN request
    try {
      await page.goto(`http://127.0.0.1:${port}/graphiql`);
      const text = await page.locator('#graphiql').innerText();
      assert.match(text, /GraphiQL could not be loaded/);
      assert.match(text, /from the CDN \(jsDelivr\)/);
      assert.match(text, /\.ci\/graphiql-assets\.sh DIR/);
      assert.match(text, /quicktakes serve --graphiql-assets DIR/);
      await page.screenshot({ path: join(artifacts, 'graphiql-offline.png') });
    } finally {
      await context.close();
    }
  } finally {
    server.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
