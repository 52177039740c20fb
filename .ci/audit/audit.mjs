#!/usr/bin/env node
// GraphQL-over-HTTP conformance audit for the quicktakes server.
//
// Usage:
//   npm ci --prefix .ci/audit            # once (installs the pinned graphql-http)
//   node .ci/audit/audit.mjs http://127.0.0.1:PORT/graphql
//
// Runs every audit from `serverAudits` of the pinned `graphql-http` package
// (see package.json) against the given URL using Node's global fetch, prints
// one line per audit and a final summary line:
//
//   graphql-http audit: N passed, N warnings, N failed
//
// Counting:
//   ok              -> passed
//   warn / notice   -> warnings (a failed SHOULD is 'warn', a failed MAY is
//                      'notice'; both are treated as warnings because the
//                      server is expected to satisfy every audit)
//   error           -> failed   (a failed MUST)
//   fn() threw      -> failed   (network error, timeout, unexpected exception)
//
// Exit code: 0 when everything passed, 1 if there is any warning or failure,
// 2 on bad usage.
//
// Environment:
//   AUDIT_TIMEOUT_MS  per-request timeout in milliseconds (default 10000)

import { serverAudits } from 'graphql-http';

const usage = 'usage: node .ci/audit/audit.mjs http://127.0.0.1:PORT/graphql';

const target = process.argv[2];
if (!target || process.argv.length > 3) {
  console.error(usage);
  process.exit(2);
}
let url;
try {
  url = new URL(target);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`unsupported protocol ${url.protocol}`);
  }
} catch (err) {
  console.error(`invalid URL ${JSON.stringify(target)}: ${err.message}`);
  console.error(usage);
  process.exit(2);
}

if (typeof globalThis.fetch !== 'function') {
  console.error('global fetch is not available; Node.js >= 18 is required');
  process.exit(2);
}

const timeoutMs = Number(process.env.AUDIT_TIMEOUT_MS) || 10_000;

// Global fetch with a per-request timeout so a hanging server cannot stall CI.
function fetchWithTimeout(input, init = {}) {
  const signal = init.signal ?? AbortSignal.timeout(timeoutMs);
  return globalThis.fetch(input, { ...init, signal });
}

function oneLine(text) {
  return String(text).replace(/\s+/g, ' ').trim();
}

async function describeResponse(response) {
  if (!response || typeof response.status !== 'number') return '';
  const contentType = response.headers?.get?.('content-type') ?? '(none)';
  let body = '';
  try {
    if (!response.bodyUsed) body = await response.text();
  } catch {
    // body may be unavailable; ignore
  }
  body = oneLine(body);
  if (body.length > 200) body = `${body.slice(0, 200)}...`;
  return ` [got ${response.status}, content-type: ${contentType}${body ? `, body: ${body}` : ''}]`;
}

function describeError(err) {
  if (err instanceof Error) {
    const cause = err.cause ? ` (cause: ${err.cause.code ?? err.cause.message ?? err.cause})` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}

const audits = serverAudits({ url: url.toString(), fetchFn: fetchWithTimeout });

let passed = 0;
let warnings = 0;
let failed = 0;

// Run sequentially: deterministic output order and gentle on the server.
for (const audit of audits) {
  let line;
  try {
    const result = await audit.fn();
    switch (result.status) {
      case 'ok':
        passed++;
        line = `ok    ${audit.id} ${audit.name}`;
        break;
      case 'warn':
      case 'notice':
        warnings++;
        line = `${result.status.padEnd(5)} ${audit.id} ${audit.name}: ${result.reason}${await describeResponse(result.response)}`;
        break;
      case 'error':
        failed++;
        line = `error ${audit.id} ${audit.name}: ${result.reason}${await describeResponse(result.response)}`;
        break;
      default:
        failed++;
        line = `error ${audit.id} ${audit.name}: unknown audit status ${JSON.stringify(result?.status)}`;
    }
  } catch (err) {
    failed++;
    line = `error ${audit.id} ${audit.name}: audit threw ${oneLine(describeError(err))}`;
  }
  console.log(line);
}

console.log(`graphql-http audit: ${passed} passed, ${warnings} warnings, ${failed} failed`);
process.exitCode = warnings > 0 || failed > 0 ? 1 : 0;
