// Shares in the logged-in web UI (tests/ui.rs `ui_shares_from_the_album_page_to_a_fresh_browser`):
//
//   node tests/browser/ui-shares.mjs <base> <owner> <owner-password> <other> <other-password>
//                                    <admin> <admin-password> <album-id> <hostile>
//
// The owner shares the album from its page (the Share dialog: a password, and the hostile
// string as the description), copies the link, and a FRESH browser (no cookie) opens it, types
// the password and plays it; "My shares" shows the visit; the expiry edited to yesterday makes
// the link 410; delete makes it 404. A second share (a song page's Share, at phone width) is not
// on the other user's page, nor can they delete it; the admin sees it with its owner on
// /app/admin/shares and deletes it (404 then). Pages and dialogs swept at desktop and phone
// width. Prints one JSON line: `steps`, `pages`, `dialogs` and the page problems.

import { report, fail, args } from './lib.mjs';
import { DESKTOP, PHONE, recorder, sweep, pageUntil, watcher } from './ui-lib.mjs';

const { base, owner, ownerPassword, other, otherPassword, admin, adminPassword, album, hostile } = args([
  'base',
  'owner',
  'ownerPassword',
  'other',
  'otherPassword',
  'admin',
  'adminPassword',
  'album',
  'hostile',
]);
const SHARE_PASSWORD = 'a share password';
const rec = recorder();
const watch = watcher();
const browsers = [];
let fatal;

async function browser(options) {
  const b = await watch.browser(options);
  browsers.push(b);
  return b;
}

const { open } = watch;

async function login(page, user, password) {
  await page.goto(`${base}/app/login`);
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.locator('main form button[type="submit"]').click();
  await page.waitForURL(/\/app\/$/);
}

/** Nothing became markup: no element from the hostile string, no handler attribute. */
const noInjectedMarkup = (page) =>
  page.evaluate(
    () =>
      document.querySelectorAll('img[src="x"], main script').length === 0 &&
      !Array.from(document.querySelectorAll('*')).some((el) =>
        Array.from(el.attributes).some((a) => a.name.startsWith('on')),
      ),
  );

/** The day before today (UTC), as a date field takes it. */
const yesterday = () => new Date(Date.now() - 86400000).toISOString().slice(0, 10);

/** The share's id from its link. */
const shareId = (link) => new URL(link).pathname.split('/').pop();

/** The status a fresh browser gets for a link (its page; no cookie anywhere). */
async function statusOf(page, link) {
  const answer = await page.goto(link);
  return answer?.status() ?? 0;
}

/** Opens the Share dialog from `button`, fills it, creates the share; the link it shows. */
async function shareWith(page, button, { description, password }, name) {
  await button.click();
  const opened = await pageUntil(page, () => document.getElementById('share-dialog')?.open === true);
  const focus = await page.evaluate(() => ({
    inDialog: !!document.activeElement?.closest('#share-dialog'),
    labelled: document.getElementById('share-dialog').getAttribute('aria-labelledby'),
    what: document.getElementById('share-what').textContent,
    expires: document.getElementById('sd-expires').value,
    downloadable: document.getElementById('sd-dl').checked,
  }));
  rec.step(`${name}-dialog-open`, opened && focus.inDialog && focus.labelled === 'share-title', focus);
  await sweep(rec, page, `${name}-dialog`, watch.latest());
  await page.fill('#sd-desc', description);
  if (password) await page.fill('#sd-pw', password);
  await page.locator('#share-form button[type="submit"]').click();
  const shown = await pageUntil(page, () => !document.getElementById('share-done').hidden);
  const link = await page.locator('#share-link').inputValue();
  rec.step(`${name}-created`, shown && link.startsWith(`${base}/share/`), { link });
  return link;
}

try {
  // --- The owner shares the album from its page --------------------------------------------
  const ob = await browser({ viewport: DESKTOP });
  await ob.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const op = await open(ob);
  await login(op, owner, ownerPassword);
  await op.goto(`${base}/app/album/${album}`);
  const actions = await op.evaluate(() => ({
    album: document.querySelectorAll('.album-info a[data-action="share"]').length,
    rows: document.querySelectorAll('#main tr[data-id] a[data-action="share"]').length,
    nav: document.querySelectorAll('nav.side a[href$="/app/shares"]').length,
  }));
  rec.step('share-actions-shown', actions.album === 1 && actions.rows >= 3 && actions.nav === 1, actions);
  await sweep(rec, op, 'album-with-share-desktop', watch.latest());
  const link = await shareWith(
    op,
    op.locator('.album-info a[data-action="share"]'),
    { description: hostile, password: SHARE_PASSWORD },
    'album-share',
  );
  await op.locator('#share-done [data-action="copy-link"]').click();
  const copied = await op.evaluate(async () => {
    try {
      return await navigator.clipboard.readText();
    } catch (e) {
      return `unreadable: ${e.message}`;
    }
  });
  rec.step('link-copied', copied === link, { copied, link });
  await sweep(rec, op, 'share-link-dialog-desktop', watch.latest());
  await op.keyboard.press('Escape');
  rec.step('dialog-closed', await pageUntil(op, () => !document.getElementById('share-dialog').open));

  // --- A fresh browser opens the copied link, types the password, plays --------------------
  const fb = await browser({ viewport: DESKTOP });
  const fp = await open(fb);
  const cookies = await fb.context.cookies();
  rec.step('fresh-context', cookies.length === 0, { cookies: cookies.length });
  const asked = await fp.goto(copied);
  rec.step('password-asked', asked?.status() === 401 && (await fp.locator('#share-password').count()) === 1, {
    status: asked?.status(),
  });
  await fp.fill('#share-password', SHARE_PASSWORD);
  await fp.locator('main form button[type="submit"]').click();
  await fp.waitForSelector('#share-tracks');
  const title = await fp.locator('#share-title').textContent();
  rec.step('description-literal', title === hostile && (await noInjectedMarkup(fp)), { title });
  await fp.locator('#share-play').click();
  const playing = await pageUntil(
    fp,
    () => {
      const a = document.getElementById('audio');
      return a && !a.paused && a.currentTime > 0.2;
    },
    null,
    20000,
  );
  rec.step('playing', playing);

  // --- "My shares": the visit, then the expiry edited to the past, then delete ------------
  const id = shareId(link);
  await op.goto(`${base}/app/shares`);
  const card = op.locator(`#share-${id}`);
  const facts = await card.evaluate((el) => ({
    what: el.querySelector('.share-what')?.textContent.trim(),
    description: el.querySelector('.share-desc')?.textContent,
    visits: el.querySelector('dd.visits')?.textContent,
    link: el.querySelector('input.share-url')?.value,
  }));
  rec.step(
    'my-shares-shows-the-visit',
    facts.visits?.startsWith('1 visit · last ') && facts.description === hostile && facts.link === link,
    facts,
  );
  rec.step('my-shares-no-markup', await noInjectedMarkup(op));
  await sweep(rec, op, 'my-shares-desktop', watch.latest());
  await op.setViewportSize(PHONE);
  await sweep(rec, op, 'my-shares-phone', watch.latest());
  await op.setViewportSize(DESKTOP);
  await card.locator('details.share-edit summary').click();
  await card.locator('input[name="expires"]').fill(yesterday());
  await card.locator('.share-edit-form button[type="submit"]').click();
  await op.waitForSelector('main p.notice[role="status"]');
  const saved = await op.locator('main p.notice[role="status"]').textContent();
  const ended = await op.locator(`#share-${id} .share-facts`).textContent();
  rec.step('expiry-in-the-past-saved', saved === 'Share saved.' && ended.includes('Ended '), { saved, ended });
  rec.step('expired-link-410', (await statusOf(fp, link)) === 410);
  await op.locator(`#share-${id} details.danger summary`).click();
  await op.locator(`#share-${id} details.danger button[type="submit"]`).click();
  // The notice of the save above is still on the page until the answer's page replaces it.
  await op.locator(`#share-${id}`).waitFor({ state: 'detached' });
  await op.waitForSelector('main p.notice[role="status"]');
  const deleted = await op.locator('main p.notice[role="status"]').textContent();
  const left = await op.locator(`#share-${id}`).count();
  rec.step('deleted', deleted === 'Share deleted.' && left === 0, { deleted, left });
  rec.step('deleted-link-404', (await statusOf(fp, link)) === 404);

  // --- A second share, from a song's page at phone width (the rows keep fewer buttons there) --
  await op.setViewportSize(PHONE);
  await op.goto(`${base}/app/album/${album}`);
  await op.locator('#main tr[data-title="Second"] a.song-link').click();
  await op.waitForSelector('#rating');
  const second = await shareWith(
    op,
    op.locator('#main .actions a[data-action="share"]'),
    { description: 'For the road' },
    'song-share-phone',
  );
  await op.locator('#share-close').click();
  await op.setViewportSize(DESKTOP);
  const secondId = shareId(second);
  rec.step('second-link-works', (await statusOf(fp, second)) === 200);

  // --- Another user sees none of it, and cannot delete it -----------------------------------
  const xb = await browser({ viewport: DESKTOP });
  const xp = await open(xb);
  await login(xp, other, otherPassword);
  await xp.goto(`${base}/app/shares`);
  const theirs = await xp.evaluate(
    (sid) => ({
      cards: document.querySelectorAll('li.share-card').length,
      mentions: document.body.innerHTML.includes(sid),
      empty: document.querySelector('main p.empty')?.textContent ?? '',
    }),
    secondId,
  );
  rec.step('other-user-sees-nothing', theirs.cards === 0 && !theirs.mentions, theirs);
  await sweep(rec, xp, 'my-shares-empty', watch.latest());
  const tried = await xp.evaluate(async (sid) => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const res = await fetch('/app/api/deleteShare', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': csrf },
      body: new URLSearchParams({ id: sid }),
    });
    return (await res.json())['subsonic-response'];
  }, secondId);
  rec.step('other-user-cannot-delete', tried?.error?.code === 70, { tried });
  const adminPage = await xp.goto(`${base}/app/admin/shares`);
  rec.step('other-user-no-admin-page', adminPage?.status() === 403, { status: adminPage?.status() });
  rec.step('second-link-still-works', (await statusOf(fp, second)) === 200);

  // --- The admin sees it, with its owner, and deletes it -------------------------------------
  const ab = await browser({ viewport: DESKTOP });
  const ap = await open(ab);
  await login(ap, admin, adminPassword);
  await ap.goto(`${base}/app/admin/shares`);
  const row = ap.locator(`#all-shares tr[data-share="${secondId}"]`);
  const cells = await row.evaluate((tr) => Array.from(tr.children, (c) => c.textContent.trim()));
  rec.step('admin-sees-it', cells[0] === owner && cells[2] === 'For the road', { cells });
  await sweep(rec, ap, 'admin-shares-desktop', watch.latest());
  await ap.setViewportSize(PHONE);
  await sweep(rec, ap, 'admin-shares-phone', watch.latest());
  await ap.setViewportSize(DESKTOP);
  await row.locator('details summary').click();
  await row.locator('button[type="submit"]').click();
  await ap.waitForSelector('#admin-outcome');
  const outcome = await ap.locator('#admin-outcome').textContent();
  const gone = await ap.locator(`#all-shares tr[data-share="${secondId}"]`).count();
  rec.step('admin-deleted', outcome === 'Share deleted.' && gone === 0, { outcome, gone });
  rec.step('admin-deleted-link-404', (await statusOf(fp, second)) === 404);
} catch (e) {
  fatal = `driving the shares failed: ${e.stack ?? e}`;
} finally {
  for (const b of browsers) await b.close().catch(() => {});
}
const merged = watch.problems();
if (fatal) {
  process.stderr.write(`${JSON.stringify({ steps: rec.steps, ...merged }, null, 1)}\n`);
  fail(fatal, { steps: rec.steps, pages: rec.pages, ...merged });
}
report({ steps: rec.steps, pages: rec.pages, dialogs: watch.dialogs, ...merged });
