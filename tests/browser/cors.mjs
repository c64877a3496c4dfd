// The browser half of tests/browser.rs: opens the page served from another origin, which
// calls the daemon with fetch and plays a song, and prints what happened as one JSON line.
//
//   node tests/browser/cors.mjs <page-url> <server-base> <user> <password>
//
// The page gets token auth (t = md5(password + salt), s = salt) in its URL fragment, the way
// a web client that stored them would hold them; the password itself never reaches the page.

import { createHash, randomBytes } from 'node:crypto';
import { openBrowser, screenshot, axe, until, report, fail, args } from './lib.mjs';

const { pageUrl, server, user, password } = args(['pageUrl', 'server', 'user', 'password']);
const salt = randomBytes(8).toString('hex');
const token = createHash('md5').update(password + salt).digest('hex');
const fragment = new URLSearchParams({ server, u: user, t: token, s: salt });

let b;
try {
  b = await openBrowser();
} catch (e) {
  fail(`cannot launch chromium: ${e.message}`);
}
let fatal;
try {
  const page = await b.newPage();
  await page.goto(`${pageUrl}#${fragment}`);
  await until(() => page.evaluate(() => window.__result?.done === true), { timeoutMs: 45000 });
  const result = await page.evaluate(() => window.__result);
  const shot = await screenshot(page, 'cors');
  const accessibility = await axe(page);
  report({ ...result, screenshot: shot, axe: accessibility, ...b.problems(page) });
} catch (e) {
  fatal = `driving the page failed: ${e.stack ?? e}`;
} finally {
  await b.close();
}
if (fatal) fail(fatal);
