// The reader preview in Debian's Chromium, driven by playwright-core: the
// real seed article as readers see it (its schema.org QAPage data checked
// the way Google's rules ask), an answer edited in GraphiQL with an editor
// token then shown by the preview, typeset math and tables, and answers
// carrying script payloads that run nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { QT_URL, QT_TOKEN, SEED_ID, gqlData } from '../lib.mjs';

const artifacts = process.env.QT_ARTIFACTS ?? mkdtempSync(join(tmpdir(), 'qt-preview-'));
let browser;

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
});
after(async () => {
  await browser?.close();
});

/**
 * A fresh page that records page errors, dialogs (alert() and friends),
 * console messages and any request leaving 127.0.0.1 (aborted).
 */
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 1300 } });
  const page = await context.newPage();
  const seen = { errors: [], dialogs: [], console: [], external: [] };
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('dialog', async (d) => {
    seen.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on('console', (m) => seen.console.push(`${m.type()}: ${m.text()}`));
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => {
    seen.external.push(route.request().url());
    return route.abort();
  });
  return { context, page, seen };
}

/** An article of this test's own, created over HTTP with the editor token. */
async function createArticle(id, slug, answer) {
  const data = await gqlData(
    `mutation($input: NewArticleInput!) { createArticle(input: $input) { id url version } }`,
    {
      input: {
        id,
        title: `Preview test ${id}`,
        question: `What does the preview show for ${id}?`,
        answer,
        subject: 'Preview Tests',
        slug,
        date: '2025-01-15',
        author: 'Ada Editor',
        seo: { title: `Preview ${id}`, description: 'A page made by the browser tests.', keywords: ['preview', 'test'] },
      },
    },
    { token: QT_TOKEN },
  );
  return data.createArticle;
}

test('the seed article preview carries QAPage data as Google requires it', async () => {
  const { url } = (await gqlData(`{ article(id: "${SEED_ID}") { url } }`)).article;
  const { context, page, seen } = await newPage();
  try {
    const response = await page.goto(`${QT_URL}${url}`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-security-policy'], /^default-src 'none'/);

    assert.equal(await page.title(), 'QuickTakes | Medicine');
    const meta = (name) => page.locator(`meta[name="${name}"]`).getAttribute('content');
    assert.match(await meta('description'), /^Imaging is vital in the follow-up care/);
    assert.match(await meta('keywords'), /^HCC, hepatocellular carcinoma/);
    assert.equal(await page.locator('link[rel="canonical"]').getAttribute('href'), url);
    assert.equal(
      await page.locator('h1').innerText(),
      'What is the role of imaging in the follow-up care of HCC patients?',
    );
    assert.match(await page.locator('.byline').innerText(), /Dec 11, 2024/);

    // Related articles that are not loaded are text, not links.
    const related = page.locator('nav.related li');
    assert.ok((await related.count()) >= 1);
    assert.equal(await page.locator('nav.related a').count(), 0);

    const blocks = await page.locator('script[type="application/ld+json"]').allTextContents();
    assert.equal(blocks.length, 1);
    const data = JSON.parse(blocks[0]);
    assert.equal(data['@context'], 'https://schema.org');
    assert.equal(data['@type'], 'QAPage');
    const q = data.mainEntity;
    assert.equal(q['@type'], 'Question');
    for (const key of ['name', 'text', 'dateCreated']) assert.ok(q[key], `Question.${key}`);
    assert.equal(q.answerCount, 1);
    assert.ok(q.author?.name, 'Question.author.name');
    const a = q.acceptedAnswer;
    assert.equal(a['@type'], 'Answer');
    for (const key of ['text', 'dateCreated', 'url']) assert.ok(a[key], `Answer.${key}`);
    assert.ok(a.author?.name, 'Answer.author.name');
    assert.ok(!Number.isNaN(Date.parse(q.dateCreated)), q.dateCreated);
    assert.equal(new URL(a.url, QT_URL).pathname, url);

    await page.screenshot({ path: join(artifacts, 'preview-seed-article.png'), fullPage: true });
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.external, []);
    assert.deepEqual(seen.console.filter((m) => /Refused|violat/i.test(m)), []);
  } finally {
    await context.close();
  }
});

test('an answer saved from GraphiQL with an editor token shows in the preview', async () => {
  const created = await createArticle('990101', 'preview-after-graphiql-edit', 'The first answer.');
  const mutation = `mutation Fix {\n  updateAnswer(id: "990101", answer: "The answer, **fixed** in GraphiQL.", expectedVersion: 1) {\n    version\n  }\n}`;
  const { context, page, seen } = await newPage();
  try {
    await page.goto(`${QT_URL}/graphiql?query=${encodeURIComponent(mutation)}`);
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 20000 });
    // The Headers pane, where the token goes.
    await page.getByRole('button', { name: /^Headers$/ }).click();
    await page.evaluate((token) => {
      const editors = [...document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')];
      const visible = editors.find((e) => !e.classList.contains('hidden'));
      visible.querySelector('.CodeMirror').CodeMirror.setValue(JSON.stringify({ Authorization: `Bearer ${token}` }));
    }, QT_TOKEN);
    await page.locator('.graphiql-execute-button').click();
    await page.waitForFunction(
      () => /"version": 2/.test(document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? ''),
      null,
      { timeout: 20000 },
    );
    assert.deepEqual(seen.errors, []);

    const response = await page.goto(`${QT_URL}${created.url}`);
    assert.equal(response.status(), 200);
    const answer = page.locator('section.answer');
    assert.equal(await answer.innerText(), 'The answer, fixed in GraphiQL.');
    assert.equal(await answer.locator('strong').innerText(), 'fixed');
    await page.screenshot({ path: join(artifacts, 'preview-after-graphiql-edit.png'), fullPage: true });
  } finally {
    await context.close();
  }
});

test('math is typeset, a table is a table, and script payloads run nothing', async () => {
  const answer = [
    'A frequency \\( \\nu \\neq 0 \\) in running text, and on its own:',
    '',
    '$$ \\int_0^1 x^2 \\, dx = \\frac{1}{3} $$',
    '',
    '| dose | effect |',
    '|---|--:|',
    '| low | 1 |',
    '| high | 2 |',
    '',
    '<script>window.__pwned = "script"; alert("script")</script>',
    '',
    '<img src="/nope.png" onerror="window.__pwned = \'onerror\'; alert(\'onerror\')">',
    '',
    '[a link](javascript:window.__pwned=\'href\';alert(\'href\'))',
    '',
    '<a href="javascript:alert(\'raw\')" onclick="alert(\'click\')">raw link</a>',
    '',
    'Math with markup: \\( \\text{<img src=x onerror=alert(\'math\')>} x \\)',
  ].join('\n');
  const created = await createArticle('990102', 'preview-math-table-and-payloads', answer);
  const { context, page, seen } = await newPage();
  try {
    const response = await page.goto(`${QT_URL}${created.url}`);
    assert.equal(response.status(), 200);
    await page.waitForLoadState('load');

    // Math: MathML elements, laid out by the browser (a box of real size),
    // with no LaTeX source left as text.
    const math = await page.evaluate(() =>
      [...document.querySelectorAll('section.answer .math')].map((span) => {
        const m = span.querySelector('math');
        const box = m?.getBoundingClientRect();
        return {
          kind: span.className,
          namespace: m?.namespaceURI,
          display: m?.getAttribute('display'),
          width: box?.width ?? 0,
          height: box?.height ?? 0,
          text: span.textContent,
        };
      }),
    );
    assert.ok(math.length >= 3, JSON.stringify(math));
    for (const m of math) {
      assert.equal(m.namespace, 'http://www.w3.org/1998/Math/MathML', JSON.stringify(m));
      assert.ok(m.width > 0 && m.height > 0, `not laid out: ${JSON.stringify(m)}`);
      assert.doesNotMatch(m.text, /\\\(|\\\)|\$\$|\\frac|\\nu/, `source left: ${JSON.stringify(m)}`);
    }
    const display = math.find((m) => m.kind.includes('display'));
    assert.equal(display?.display, 'block');
    assert.ok(
      await page.locator('section.answer math mfrac').count() >= 1,
      'the fraction is an mfrac',
    );
    assert.ok(await page.locator('section.answer math msup').count() >= 1, 'x² is an msup');

    // The table: two columns, a header row and two body rows, laid out.
    const table = await page.evaluate(() => {
      const t = document.querySelector('section.answer table');
      return t && {
        headers: [...t.querySelectorAll('thead th')].map((c) => c.textContent),
        rows: [...t.querySelectorAll('tbody tr')].map((r) => [...r.cells].map((c) => c.textContent)),
        align: getComputedStyle(t.querySelector('tbody td:last-child')).textAlign,
        height: t.getBoundingClientRect().height,
      };
    });
    assert.deepEqual(table?.headers, ['dose', 'effect']);
    assert.deepEqual(table?.rows, [['low', '1'], ['high', '2']]);
    assert.equal(table.align, 'right');
    assert.ok(table.height > 0);

    // Click what is left of the links: nothing may run.
    for (const link of await page.locator('section.answer a').all()) {
      await link.click({ noWaitAfter: true }).catch(() => {});
    }
    await page.waitForTimeout(300);
    const dom = await page.evaluate(() => ({
      pwned: window.__pwned ?? null,
      scripts: [...document.querySelectorAll('script')].map((s) => s.type || 'classic'),
      handlers: [...document.querySelectorAll('*')].flatMap((e) =>
        [...e.attributes].filter((a) => a.name.startsWith('on')).map((a) => `${e.tagName}.${a.name}`),
      ),
      javascriptUrls: [...document.querySelectorAll('[href],[src],[action]')]
        .map((e) => e.getAttribute('href') ?? e.getAttribute('src') ?? e.getAttribute('action'))
        .filter((u) => /^\s*javascript:/i.test(u)),
    }));
    assert.equal(dom.pwned, null);
    assert.deepEqual(dom.scripts, ['application/ld+json']);
    assert.deepEqual(dom.handlers, []);
    assert.deepEqual(dom.javascriptUrls, []);
    assert.deepEqual(seen.dialogs, []);
    assert.deepEqual(seen.errors, []);

    await page.screenshot({ path: join(artifacts, 'preview-math-and-table.png'), fullPage: true });
  } finally {
    await context.close();
  }
});

test('an older version opens through an editor preview link, under a banner', async () => {
  const created = await createArticle('990103', 'preview-older-version', 'What readers saw first.');
  await gqlData(
    `mutation { updateAnswer(id: "990103", answer: "What readers see now.", expectedVersion: 1) { version } }`,
    {},
    { token: QT_TOKEN },
  );
  const { link } = (
    await gqlData(`{ article(id: "990103") { link: previewUrl(version: 1) } }`, {}, { token: QT_TOKEN })
  ).article;
  const { context, page } = await newPage();
  try {
    // Without the signature: refused.
    let response = await page.goto(`${QT_URL}${created.url}?version=1`);
    assert.equal(response.status(), 403);

    response = await page.goto(`${QT_URL}${link}`);
    assert.equal(response.status(), 200);
    assert.match(await page.locator('.preview-banner').innerText(), /Preview of version 1.*they see version 2/);
    assert.equal(await page.locator('section.answer').innerText(), 'What readers saw first.');
    await page.screenshot({ path: join(artifacts, 'preview-older-version.png'), fullPage: true });

    response = await page.goto(`${QT_URL}${created.url}`);
    assert.equal(await page.locator('.preview-banner').count(), 0);
    assert.equal(await page.locator('section.answer').innerText(), 'What readers see now.');
  } finally {
    await context.close();
  }
});
