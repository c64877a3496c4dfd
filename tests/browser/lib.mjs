// Shared helpers for redoubt's browser tests: Debian's chromium, headless, driven by
// playwright-core (npm, pinned in package.json, installed by `.ci/run` with `npm ci`).
//
// A test script is an ES module run by a Rust integration test as
// `node tests/browser/<name>.mjs <args…>`; it prints one JSON object on its last line of
// standard output (see `report`), and the Rust test asserts on it. Everything a page logs
// as an error, every uncaught exception, every CSP violation and every failed request is
// collected (see `watch`), so the Rust side can insist on a clean console.
//
//   import { openBrowser, watch, screenshot, axe, report, fail } from './lib.mjs';
//   const b = await openBrowser();
//   const page = await b.newPage();           // watched already: b.problems(page)
//   await page.goto(url);
//   await screenshot(page, 'name');           // target/ui-screenshots/name.png
//   report({ ...whatever, problems: b.problems(page) });
//   await b.close();

import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));

/** The checkout's root (tests/browser/../..). */
export const repoRoot = resolve(here, '..', '..');

/** Debian's chromium; `REDOUBT_CHROMIUM` may name another. */
export const chromiumPath = process.env.REDOUBT_CHROMIUM || '/usr/bin/chromium';

/**
 * The flags every test launches with. `--no-sandbox`: CI runs as root, where chromium's own
 * sandbox refuses to start. The background-networking, component-update, sync and QUIC flags
 * keep chromium from calling home: the machines' closed network refuses those connections,
 * and a test must not depend on them anyway.
 */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

/** Where screenshots go: `REDOUBT_SCREENSHOTS`, else `<checkout>/target/ui-screenshots`. */
export const screenshotDir = process.env.REDOUBT_SCREENSHOTS || join(repoRoot, 'target', 'ui-screenshots');

/**
 * Launches chromium headless with a fresh user-data folder (removed by `close`). Returns
 * `{ context, newPage, problems, close }`: `newPage()` opens a page that `watch` already
 * follows, and `problems(page)` gives what was collected on it. Options: `viewport`
 * (default 1280×800), `timeoutMs` (default for every Playwright action, 15 s), and any
 * further option of Playwright's `launchPersistentContext` in `contextOptions`.
 */
export async function openBrowser({ viewport = { width: 1280, height: 800 }, timeoutMs = 15000, contextOptions = {} } = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'redoubt-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: chromiumArgs,
      viewport,
      ...contextOptions,
    });
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
  context.setDefaultTimeout(timeoutMs);
  const watched = new Map();
  // The persistent context opens one blank page of its own; tests use their own pages.
  for (const p of context.pages()) await p.close();
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      watched.set(page, await watch(page));
      return page;
    },
    problems(page) {
      return watched.get(page) ?? { consoleErrors: [], pageErrors: [], cspViolations: [], failedRequests: [] };
    },
    async close() {
      try {
        await context.close();
      } finally {
        rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Follows `page` and returns the arrays it fills, live:
 * - `consoleErrors`: console messages of type error (chromium logs blocked CORS requests,
 *   failed loads and CSP refusals there), each `{ text, url }`;
 * - `pageErrors`: uncaught exceptions and unhandled rejections, each `{ message, stack }`;
 * - `cspViolations`: `securitypolicyviolation` events of every document the page loads,
 *   each `{ directive, blocked, source, sample }`;
 * - `failedRequests`: requests that got no answer, each `{ url, method, error }`.
 * Await it before the page's first `goto`.
 */
export async function watch(page) {
  const found = { consoleErrors: [], pageErrors: [], cspViolations: [], failedRequests: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') found.consoleErrors.push({ text: msg.text(), url: msg.location()?.url ?? '' });
  });
  page.on('pageerror', (err) => found.pageErrors.push({ message: err.message, stack: err.stack ?? '' }));
  page.on('requestfailed', (req) =>
    found.failedRequests.push({ url: req.url(), method: req.method(), error: req.failure()?.errorText ?? '' }),
  );
  // The event is delivered to an init script (run by the DevTools protocol, so no CSP of the
  // page can block it) and handed back through a binding.
  await page.exposeBinding('__redoubtCspViolation', (_source, v) => found.cspViolations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__redoubtCspViolation({
        directive: e.effectiveDirective || e.violatedDirective,
        blocked: e.blockedURI,
        source: `${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`,
        sample: e.sample,
      });
    });
  });
  return found;
}

/** Saves a full-page PNG as `<screenshotDir>/<name>.png` and returns its path. */
export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

let axeSource;

/**
 * Runs axe-core (npm, pinned) on the page as it is now and returns its violations, each
 * `{ id, impact, help, nodes: [selector…] }`; `impacts` keeps only those (default serious and
 * critical). The script is evaluated through the DevTools protocol, not added as a tag, so
 * the page's CSP (no inline scripts, Trusted Types) neither blocks it nor reports it.
 */
export async function axe(page, { impacts = ['serious', 'critical'] } = {}) {
  if (!axeSource) {
    const require = createRequire(import.meta.url);
    axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  }
  await page.evaluate(`${axeSource}\n;0`);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  return result.filter((v) => impacts.includes(v.impact));
}

/** Polls `fn` (in node) until it returns a truthy value or `timeoutMs` passes; returns it. */
export async function until(fn, { timeoutMs = 15000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Prints the result as one JSON line: the Rust test reads the last line of standard output. */
export function report(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * Reports `{ fatal: message, ...extra }` and exits 2: for a script that cannot run at all
 * (no chromium, a crash), as distinct from a test whose steps failed.
 */
export function fail(message, extra = {}) {
  report({ fatal: message, ...extra });
  process.exit(2);
}

/** Reads `argv` after the script's name as the named arguments, or fails with the usage. */
export function args(names) {
  const given = process.argv.slice(2);
  if (given.length !== names.length) fail(`usage: node ${process.argv[1]} ${names.map((n) => `<${n}>`).join(' ')}`);
  return Object.fromEntries(names.map((n, i) => [n, given[i]]));
}
