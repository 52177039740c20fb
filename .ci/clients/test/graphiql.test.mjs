// GraphiQL in Debian's Chromium, driven by playwright-core. The server under
// test runs in its default mode: GraphiQL's files embedded in the binary.
// Every request that would leave 127.0.0.1 is aborted, so the page is shown
// to work offline: it opens the README's ArticlePage query and runs it, its
// docs explorer describes the schema, no Content-Security-Policy violation
// happens, the AdjustScore tab edits with an editor token in its Headers
// pane and "Forget token" takes the token away, a ?query= link opens that
// query, subscriptions stream over the page's WebSocket; and in each asset
// mode (embedded, --graphiql-cdn, --graphiql-assets) the page says what to
// do when its scripts cannot load.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { QT_URL, QT_TOKEN, SEED_ID, gqlData } from '../lib.mjs';

const artifacts = process.env.QT_ARTIFACTS ?? mkdtempSync(join(tmpdir(), 'qt-graphiql-'));
/** The committed copies of GraphiQL's files (the ones embedded in the binary). */
const VENDORED = fileURLToPath(new URL('../../../api/assets/graphiql/', import.meta.url));
const SEED_SLUG = 'what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients';
let browser;

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
});
after(async () => {
  await browser?.close();
});

/**
 * A fresh page (own storage). `problems` collects page errors, CSP
 * violations and, unless `offline` is false, every request that tried to
 * leave this machine (all of them are aborted either way).
 */
async function newPage({ offline = true } = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  const aborted = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (/Refused to|Content Security Policy|securitypolicyviolation/.test(text)) {
      problems.push(`console: ${text}`);
    }
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`securitypolicyviolation: ${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
    });
  });
  // No request leaves this machine: anything not on a server under test fails.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => {
    aborted.push(route.request().url());
    if (offline) problems.push(`left the machine: ${route.request().url()}`);
    return route.abort();
  });
  return { context, page, problems, aborted };
}

const queryEditorValue = (page) =>
  page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue());
const variablesEditorValue = (page) =>
  page.evaluate(() => document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror.getValue());
/** The headers editor: GraphiQL mounts it second in its editor tools, hidden or not. */
const headersEditorValue = (page) =>
  page.evaluate(() => document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')[1].querySelector('.CodeMirror').CodeMirror.getValue());
const setHeaders = (page, value) =>
  page.evaluate((v) => document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')[1].querySelector('.CodeMirror').CodeMirror.setValue(v), value);
const responseText = (page) =>
  page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '');

/**
 * Makes tab `title` the active one. GraphiQL works out the operation to run
 * from the query editor a moment after it changes (debounced): running at
 * once would send the previous tab's operation name.
 */
async function switchTab(page, title) {
  await page.locator('.graphiql-tab', { hasText: title }).click();
  await page.waitForTimeout(500);
}

/** Opens `url` and waits for GraphiQL's editors (each is set up on its own, after the page loads). */
async function openGraphiql(page, url) {
  await page.goto(url);
  await editorsReady(page);
}

async function editorsReady(page) {
  await page.waitForFunction(
    () =>
      document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror &&
      document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror &&
      document.querySelectorAll('.graphiql-editor-tool .graphiql-editor .CodeMirror').length === 2,
    null,
    { timeout: 20000 },
  );
  await page.waitForTimeout(300); // GraphiQL's debounced operation facts
}

/** Runs the active tab and returns the response once its text matches `done`. */
async function run(page, done) {
  await page.evaluate(() => {
    document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.setValue('');
  });
  await page.locator('.graphiql-execute-button').click();
  const handle = await page.waitForFunction(
    ([source, flags]) => {
      const text = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '';
      return new RegExp(source, flags).test(text) ? text : false;
    },
    [done.source, done.flags],
    { timeout: 20000 },
  );
  return JSON.parse(await handle.jsonValue());
}

test('GraphiQL loads offline from the binary, runs the ArticlePage example, and its docs describe Article', async () => {
  const { context, page, problems } = await newPage();
  const requested = [];
  page.on('request', (r) => requested.push(r.url()));
  try {
    await openGraphiql(page, `${QT_URL}/graphiql`);
    assert.deepEqual(await page.locator('.graphiql-tab').allInnerTexts(), ['ArticlePage', 'AdjustScore']);
    const query = await queryEditorValue(page);
    assert.match(query, /^query ArticlePage\(\$slug: String!\) \{$/m);
    assert.match(query, /quicktakes token create --name NAME --role editor/);
    assert.match(query, /Headers pane/);
    assert.deepEqual(JSON.parse(await variablesEditorValue(page)), { slug: SEED_SLUG });
    assert.equal(await headersEditorValue(page), '', 'no headers until someone enters them');
    await page.locator('#qt-bar').getByText('Reading needs no token').waitFor();

    const response = await run(page, /"articleTitle"/);
    assert.equal(response.errors, undefined);
    const article = response.data.article;
    assert.equal(article.id, SEED_ID);
    assert.equal(article.subject.name, 'Medicine');
    assert.ok(article.related.length > 0, 'related articles');
    assert.ok(article.answerHtml.startsWith('<'), 'the answer as HTML');
    await page.screenshot({ path: join(artifacts, 'graphiql-article-page.png') });

    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.waitFor({ timeout: 10000 });
    await docs.getByText('Article', { exact: true }).first().click({ timeout: 20000 });
    await docs.locator('.graphiql-doc-explorer-title').getByText('Article', { exact: true }).waitFor({ timeout: 10000 });
    const text = await docs.innerText();
    assert.doesNotMatch(text, /Error fetching schema/);
    assert.match(text, /An article: one question answered in markdown/);
    assert.match(text, /The question the article answers\./);
    await page.screenshot({ path: join(artifacts, 'graphiql-docs.png') });

    // A dialog: GraphiQL's one inline <style> (its scroll lock) must pass the policy.
    await page.getByRole('button', { name: 'Open settings dialog' }).click();
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });

    for (const url of requested) {
      assert.ok(url.startsWith(`${QT_URL}/`), `only the server is asked: ${url}`);
    }
    assert.ok(
      requested.some((u) => /\/graphiql\/static\/[0-9a-f]+\/graphiql\.min\.js$/.test(u)),
      'GraphiQL came from the binary',
    );
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('GraphiQL: the AdjustScore tab edits with an editor token; "Forget token" takes it away', async () => {
  const { context, page, problems } = await newPage();
  try {
    await openGraphiql(page, `${QT_URL}/graphiql`);
    await switchTab(page, 'AdjustScore');
    const mutation = await queryEditorValue(page);
    assert.match(mutation, /^mutation AdjustScore\(\$id: ID!, \$delta: Float!\) \{$/m);
    assert.match(mutation, /needs? an editor token/);
    assert.deepEqual(JSON.parse(await variablesEditorValue(page)), { id: SEED_ID, delta: 0.5 });

    let response = await run(page, /"errors"/);
    assert.equal(response.errors[0].extensions.code, 'UNAUTHENTICATED', 'no token yet');

    await page.getByRole('button', { name: 'Headers' }).click();
    await setHeaders(page, JSON.stringify({ Authorization: `Bearer ${QT_TOKEN}` }));
    response = await run(page, /"adjustScore"|"errors"/);
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    assert.equal(response.data.adjustScore.id, SEED_ID);
    assert.ok(Number.isInteger(response.data.adjustScore.version));
    await page.screenshot({ path: join(artifacts, 'graphiql-mutation.png') });

    // A second run with other variables: GraphiQL's history keeps it, headers and all.
    await page.getByRole('button', { name: 'Variables' }).click();
    await page.evaluate(() =>
      document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror.setValue(
        '{"id": "118109", "delta": -0.5}',
      ),
    );
    response = await run(page, /"adjustScore"|"errors"/);
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));

    // The other tab gets the token too: each tab has headers of its own.
    await switchTab(page, 'ArticlePage');
    await setHeaders(page, JSON.stringify({ Authorization: `Bearer ${QT_TOKEN}` }));

    // GraphiQL keeps the token in localStorage (once its debounced store of
    // the tabs ran): it survives a reload, and its history holds it too.
    await page.waitForFunction((token) => {
      const stored = (key) => window.localStorage.getItem(key) ?? '';
      return stored('graphiql:tabState').split(token).length === 3 && stored('graphiql:queries').includes(token);
    }, QT_TOKEN);
    await openGraphiql(page, `${QT_URL}/graphiql`);
    assert.match(await headersEditorValue(page), /Bearer qt_/);
    assert.deepEqual(await page.locator('.graphiql-tab').allInnerTexts(), ['ArticlePage', 'AdjustScore']);

    await Promise.all([
      page.waitForEvent('load'),
      page.getByRole('button', { name: 'Forget token' }).click(),
    ]);
    await editorsReady(page);
    await page.locator('#qt-bar').getByText('Token forgotten').waitFor();
    assert.equal(await headersEditorValue(page), '');
    const stored = await page.evaluate(() => JSON.stringify(window.localStorage));
    assert.ok(!stored.includes(QT_TOKEN), 'the token is gone from storage, history included');

    // Every tab lost it, not only the active one; the mutation is refused now.
    await switchTab(page, 'AdjustScore');
    assert.equal(await headersEditorValue(page), '');
    assert.match(await queryEditorValue(page), /mutation AdjustScore/);
    response = await run(page, /"adjustScore"|"errors"/);
    assert.equal(
      response.errors?.[0]?.extensions?.code,
      'UNAUTHENTICATED',
      `refused without the token: ${JSON.stringify(response)}`,
    );
    await page.screenshot({ path: join(artifacts, 'graphiql-token-forgotten.png') });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('GraphiQL: /graphiql?query=&variables= opens that query and those variables', async () => {
  const query = 'query Linked($id: ID!) {\n  article(id: $id) {\n    id\n    title\n  }\n}';
  const variables = '{"id": "118109"}';
  const url = `${QT_URL}/graphiql?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(variables)}`;

  const { context, page, problems } = await newPage();
  try {
    // A first visit: nothing stored.
    await openGraphiql(page, url);
    assert.equal(await queryEditorValue(page), query);
    assert.equal(await variablesEditorValue(page), variables);

    // Run it: the linked query works as is.
    const response = await run(page, /"title"/);
    assert.equal(response.data.article.id, '118109');
    await page.screenshot({ path: join(artifacts, 'graphiql-linked-query.png') });

    // Without ?query= the page opens what the editor had, in the same tab; a
    // second link opens its query in a tab of its own beside the stored one.
    await openGraphiql(page, `${QT_URL}/graphiql`);
    assert.equal(await queryEditorValue(page), query, 'stored query kept without ?query=');
    assert.equal(await variablesEditorValue(page), variables, 'its variables kept too');
    const other = '{\n  subjects {\n    name\n  }\n}';
    await openGraphiql(page, `${QT_URL}/graphiql?query=${encodeURIComponent(other)}`);
    assert.equal(await queryEditorValue(page), other);
    assert.equal(await variablesEditorValue(page), '');
    assert.deepEqual(
      await page.locator('.graphiql-tab').allInnerTexts(),
      ['Linked', '<untitled>'],
      'the second link opened a second tab',
    );
    // A link never sets headers.
    const headers = '{"Authorization": "Bearer qt_from_a_link"}';
    await openGraphiql(page, `${QT_URL}/graphiql?query=${encodeURIComponent(other)}&headers=${encodeURIComponent(headers)}`);
    assert.equal(await headersEditorValue(page), '');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('GraphiQL: a subscription streams changes over the page\'s WebSocket', async () => {
  const query = `subscription {\n  articleChanged(id: "${SEED_ID}") {\n    id\n    version\n    subject {\n      name\n    }\n  }\n}`;
  const { context, page, problems } = await newPage();
  try {
    await openGraphiql(page, `${QT_URL}/graphiql?query=${encodeURIComponent(query)}`);
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
    assert.deepEqual(problems, [], 'connect-src lets the WebSocket through');
  } finally {
    await context.close();
  }
});

test('GraphiQL, embedded files blocked: the page says to reload', async () => {
  const { context, page } = await newPage();
  try {
    await context.route(
      (url) => /^\/graphiql\/static\/[^/]+\/(react|react-dom|graphiql)\.[^/]+\.js$/.test(url.pathname),
      (route) => route.fulfill({ status: 404, body: 'not found' }),
    );
    await page.goto(`${QT_URL}/graphiql`);
    const text = await page.locator('#graphiql').innerText();
    assert.match(text, /GraphiQL could not be loaded/);
    assert.match(text, /from this server, which has them built in/);
    assert.match(text, /Reload this page/);
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

/**
 * Runs `body(url)` against a second server started with `args` on a scratch
 * database without articles, then stops it.
 */
async function withServer(args, body) {
  const bin = process.env.QT_BIN;
  assert.ok(bin, 'QT_BIN is not set: run the tests through .ci/clients/run.sh');
  const dir = mkdtempSync(join(tmpdir(), 'qt-graphiql-server-'));
  const port = await freePort();
  const env = { ...process.env, DATABASE_URL: `sqlite://${join(dir, 'second.db')}?mode=rwc` };
  delete env.QUICKTAKES_GRAPHIQL_ASSETS;
  delete env.QUICKTAKES_GRAPHIQL_CDN;
  const server = spawn(bin, ['serve', '--bind', `127.0.0.1:${port}`, '--seeds', join(dir, 'no-seeds'), ...args], {
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
    assert.ok(ready, `the server with ${args.join(' ')} did not start:\n${log}`);
    await body(`http://127.0.0.1:${port}`, dir);
  } finally {
    server.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

test('GraphiQL with --graphiql-assets (over --graphiql-cdn) loads from the folder; without its files the page says to refill it', async () => {
  const assets = mkdtempSync(join(tmpdir(), 'qt-graphiql-assets-'));
  try {
    // The committed copies are the pinned files .ci/graphiql-assets.sh DIR writes.
    cpSync(VENDORED, assets, { recursive: true });
    await withServer(['--graphiql-assets', assets, '--graphiql-cdn'], async (url) => {
      const { context, page, problems } = await newPage();
      const requested = [];
      page.on('request', (r) => requested.push(new URL(r.url()).pathname));
      try {
        await openGraphiql(page, `${url}/graphiql`);
        assert.ok(requested.includes('/graphiql/assets/graphiql.min.js'), requested.join('\n'));
        // Its first tab runs (no seeds on this server: no article).
        const response = await run(page, /"data"|"errors"/);
        assert.deepEqual(response, { data: { article: null } });
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }

      rmSync(join(assets, 'graphiql.min.js'));
      const second = await newPage();
      try {
        await second.page.goto(`${url}/graphiql`);
        const text = await second.page.locator('#graphiql').innerText();
        assert.match(text, /GraphiQL could not be loaded/);
        assert.match(text, /--graphiql-assets folder/);
        assert.match(text, /\.ci\/graphiql-assets\.sh DIR/);
        await second.page.screenshot({ path: join(artifacts, 'graphiql-assets-missing.png') });
      } finally {
        await second.context.close();
      }
    });
  } finally {
    rmSync(assets, { recursive: true, force: true });
  }
});

test('GraphiQL with --graphiql-cdn, offline: the page says to use the default embedded mode', async () => {
  await withServer(['--graphiql-cdn'], async (url) => {
    const { context, page, aborted } = await newPage({ offline: false }); // aborts every CDN request
    try {
      await page.goto(`${url}/graphiql`);
      const text = await page.locator('#graphiql').innerText();
      assert.match(text, /GraphiQL could not be loaded/);
      assert.match(text, /from the CDN \(jsDelivr\)/);
      assert.match(text, /without --graphiql-cdn/);
      assert.match(text, /default embedded mode/);
      assert.ok(
        aborted.includes('https://cdn.jsdelivr.net/npm/graphiql@3.9.0/graphiql.min.js'),
        `the page asked jsDelivr: ${aborted.join(' ')}`,
      );
      await page.screenshot({ path: join(artifacts, 'graphiql-offline-cdn.png') });
    } finally {
      await context.close();
    }
  });
});
