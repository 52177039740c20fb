// Times sequential GraphQL requests against a running quicktakes server and
// checks each answer. Usage: node bench-read-api.mjs URL [REQUESTS]
const [url, requestsArg] = process.argv.slice(2);
const requests = Number(requestsArg ?? 200);

const PAGE = `{ articles(first: 20) { totalCount nodes { id title url displayDate score excerpt
  subject { name slug } seo { title keywords }
  related { title url subject { name } article { id title url subject { name slug } } } } } }`;
const BY_SLUG = `query($slug: String!) { article(slug: $slug) { id title question answerHtml displayDate
  subject { name } seo { title description keywords } related { title url article { title } } } }`;

async function post(query, variables) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (res.status !== 200 || body.errors) throw new Error(`${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return body.data;
}

async function time(name, fn, check) {
  const ms = [];
  for (let i = 0; i < requests; i++) {
    const start = process.hrtime.bigint();
    const data = await fn(i);
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    check(data);
  }
  ms.sort((a, b) => a - b);
  const at = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  console.log(`${name.padEnd(22)} median ${at(0.5).toFixed(2)} ms  p95 ${at(0.95).toFixed(2)} ms  (${requests} requests)`);
}

const first = await post(PAGE);
const slugs = first.articles.nodes.map((n) => n.url.split('/').pop());
console.log(`corpus: ${first.articles.totalCount} articles`);
await time('page of 20, nested', () => post(PAGE), (d) => {
  if (d.articles.nodes.length !== 20) throw new Error('expected 20 articles');
});
await time('one article by slug', (i) => post(BY_SLUG, { slug: slugs[i % slugs.length] }), (d) => {
  if (!d.article || !d.article.answerHtml) throw new Error('article missing');
});
