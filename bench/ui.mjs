// The web UI's figures in headless chromium (bench/ui.sh runs it): the time from navigation
// to the album grid's first covers, the time from a typed word to its search results, and
// what the UI's own code and styles weigh on the wire (compressed). Prints a table and one
// JSON line. Asserts nothing.
//
//   node bench/ui.mjs BASE USER PASSWORD WORD [RUNS]

import { openBrowser } from '../tests/browser/lib.mjs';

const [base, user, password, word, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 7);
const b = await openBrowser({ timeoutMs: 30000 });
const page = await b.newPage();
await page.goto(`${base}/app/login`);
await page.fill('#username', user);
await page.fill('#password', password);
await page.locator('main form button[type="submit"]').click();
await page.waitForURL(/\/app\/$/);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

// 1. A full navigation to the newest albums, until the first row of covers has been drawn
//    (the first six cover images complete, decoded, with a width). The first run is the
//    cold one (the browser's cache empty); the rest reload with its cache.
const cold = await b.context.newPage();
const grid = [];
const transfers = [];
for (let i = 0; i <= runs; i++) {
  const p = i === 0 ? cold : page;
  const client = await p.context().newCDPSession(p);
  await client.send('Network.enable');
  if (i === 0) await client.send('Network.clearBrowserCache');
  await p.goto(`${base}/app/albums?list=newest`, { waitUntil: 'commit' });
  await p.waitForFunction(
    () => {
      const imgs = Array.from(document.querySelectorAll('#main .grid img.cover')).slice(0, 6);
      return imgs.length === 6 && imgs.every((im) => im.complete && im.naturalWidth > 0);
    },
    null,
    { polling: 'raf', timeout: 30000 },
  );
  const t = await p.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const imgs = Array.from(document.querySelectorAll('#main .grid img.cover')).slice(0, 6);
    const ends = imgs.map((im) => performance.getEntriesByName(im.src)[0]?.responseEnd ?? performance.now());
    const own = performance
      .getEntriesByType('resource')
      .filter((r) => /\/app\/assets\//.test(r.name))
      .map((r) => ({ name: r.name.split('/').pop(), encoded: r.encodedBodySize, decoded: r.decodedBodySize }));
    return {
      firstCovers: Math.max(...ends) - nav.startTime,
      html: { encoded: nav.encodedBodySize, decoded: nav.decodedBodySize },
      own,
    };
  });
  if (i === 0) transfers.push(t);
  else grid.push(t.firstCovers);
  await client.detach();
}
const coldCovers = transfers[0].firstCovers;

// 2. Search as you type: a word typed into the header's box, until the search page with its
//    results has replaced <main>. Measured from the last key (so the UI's 150 ms pause for
//    typing is in it) and from the request the pause sends.
const typed = [];
const fetched = [];
for (let i = 0; i < runs; i++) {
  await page.goto(`${base}/app/albums?list=newest`);
  await page.locator('#q').fill('');
  const w = i % 2 ? word : word.toUpperCase();
  const r = await page.evaluate(async (w) => {
    const box = document.getElementById('q');
    const main0 = document.getElementById('main');
    const seen = new Promise((resolve) => {
      const obs = new MutationObserver(() => {
        const m = document.getElementById('main');
        if (m && m !== main0 && m.dataset.nav === 'search' && m.querySelector('tr[data-id], .grid li')) {
          obs.disconnect();
          resolve(performance.now());
        }
      });
      obs.observe(document.body, { childList: true, subtree: true });
    });
    box.focus();
    box.value = w;
    const t0 = performance.now();
    box.dispatchEvent(new Event('input', { bubbles: true }));
    const t1 = await seen;
    const req = performance
      .getEntriesByType('resource')
      .filter((e) => e.name.includes('/app/search') && e.startTime >= t0)
      .pop();
    return { typed: t1 - t0, fetched: req ? t1 - req.startTime : null };
  }, w);
  typed.push(r.typed);
  if (r.fetched !== null) fetched.push(r.fetched);
}
await b.close();

const own = transfers[0].own;
const ownEncoded = own.reduce((s, a) => s + a.encoded, 0);
const ownDecoded = own.reduce((s, a) => s + a.decoded, 0);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const rows = [
  ['navigation → first row of covers, cold cache', `${coldCovers.toFixed(0)} ms`],
  [`navigation → first row of covers, warm (median of ${runs})`, `${median(grid).toFixed(0)} ms (${spread(grid)})`],
  [`search as you type, last key → results (median of ${runs})`, `${median(typed).toFixed(0)} ms (${spread(typed)})`],
  [`search as you type, request → results (median of ${fetched.length})`, `${median(fetched).toFixed(0)} ms (${spread(fetched)})`],
  ['the UI\'s own code and styles, on the wire', `${kb(ownEncoded)} (${kb(ownDecoded)} unpacked): ${own.map((a) => `${a.name} ${kb(a.encoded)}`).join(', ')}`],
  ['the album page\'s HTML, on the wire', `${kb(transfers[0].html.encoded)} (${kb(transfers[0].html.decoded)} unpacked)`],
];
for (const [k, v] of rows) console.log(`${k.padEnd(64)} ${v}`);
console.log(
  JSON.stringify({
    cold_first_covers_ms: coldCovers,
    warm_first_covers_ms: grid,
    search_typed_ms: typed,
    search_fetched_ms: fetched,
    own_bytes_encoded: ownEncoded,
    own_bytes_decoded: ownDecoded,
  }),
);
