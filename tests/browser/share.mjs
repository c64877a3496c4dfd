// A share's public page in chromium (tests/shares.rs `share_page_plays_in_a_fresh_browser`):
//
//   node tests/browser/share.mjs <share-url>
//
// A fresh browser context (no cookie, no session): the page shows the share's tracks, its
// player reaches `playing` on the share's own signed links, and no dialog opens (the share's
// description and tags hold markup). Prints one JSON line: `steps`, `dialogs`, `streams` and
// the page problems lib.mjs collects.

import { openBrowser, report, fail, args } from './lib.mjs';
import { DESKTOP, audioState, pageUntil, recorder, sweep } from './ui-lib.mjs';

const { url } = args(['url']);
const rec = recorder();
let dialogs = 0;
let b;
let fatal;
let problems = { consoleErrors: [], pageErrors: [], cspViolations: [], failedRequests: [] };
const streams = [];
try {
  try {
    b = await openBrowser({ viewport: DESKTOP });
  } catch (e) {
    fail(`cannot launch chromium: ${e.message}`);
  }
  const page = await b.newPage();
  problems = b.problems(page);
  page.on('dialog', (d) => {
    dialogs += 1;
    d.dismiss().catch(() => {});
  });
  page.on('response', (r) => {
    if (r.url().includes('/stream/')) streams.push({ status: r.status(), url: new URL(r.url()).pathname });
  });
  const cookies = await b.context.cookies();
  rec.step('fresh-context', cookies.length === 0, { cookies: cookies.length });
  const answer = await page.goto(url);
  rec.step('page', answer?.status() === 200, { status: answer?.status() });
  const rows = await page.locator('#share-tracks tbody tr').count();
  const titles = await page.locator('#share-tracks tbody tr td:nth-child(2)').allTextContents();
  const heading = (await page.locator('#share-title').textContent()) ?? '';
  rec.step('tracks', rows > 0, { rows, titles: titles.map((t) => t.trim()), heading });
  await sweep(rec, page, 'share-desktop', problems);
  await page.locator('#share-play').click();
  const playing = await pageUntil(
    page,
    () => {
      const a = document.getElementById('audio');
      return a && !a.paused && a.currentTime > 0.2;
    },
    null,
    20000,
  );
  const state = await audioState(page);
  rec.step('playing', playing, state);
  const injected = await page.evaluate(() => document.querySelectorAll('main img:not(#share-cover), main script').length);
  rec.step('no-injected-elements', injected === 0, { injected });
} catch (e) {
  fatal = `driving the share page failed: ${e.stack ?? e}`;
} finally {
  if (b) await b.close();
}
if (fatal) fail(fatal, { steps: rec.steps, ...problems });
report({ steps: rec.steps, pages: rec.pages, dialogs, streams, ...problems });
