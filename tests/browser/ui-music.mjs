// The web UI's "your music" and settings, in chromium (tests/ui.rs
// `ui_music_playlists_queue_and_settings`):
//
//   node tests/browser/ui-music.mjs <base> <user> <password> <new-password> <hostile-1> <hostile-2>
//
// against a daemon with the library of tests/ui.rs (the album "Cross Origin": First, Second,
// Third). Star, rate, a playlist (create, add two songs from the album's rows, reorder, remove,
// rename, delete), playlists named with the stored-XSS strings, the play queue saved and
// restored (after a reload, and on a second browser: another device), a player's settings, the
// theme, an API key (created, shown once, used on /rest, revoked and refused), the password
// changed (a wrong current one refused; the old one no longer logs in, the new one does; the
// other device's session ended). Every page is swept at desktop and phone width. Prints one
// JSON line: `steps`, `pages`, `dialogs`, `rest` (the /rest answers to the API key) and the page
// problems lib.mjs collects.

import { report, fail, args, screenshot } from './lib.mjs';
import { DESKTOP, PHONE, recorder, sweep, pageUntil, audioState, watcher, posting } from './ui-lib.mjs';

const { base, user, password, newPassword, hostile1, hostile2 } = args([
  'base',
  'user',
  'password',
  'newPassword',
  'hostile1',
  'hostile2',
]);
const rec = recorder();
const watch = watcher();
const rest = {};

const { browser, open } = watch;

async function login(page, pass = password) {
  await page.goto(`${base}/app/login`);
  await page.fill('#username', user);
  await page.fill('#password', pass);
  const answer = page.waitForResponse((r) => r.url().includes('/app/login') && r.request().method() === 'POST');
  await page.locator('main form button[type="submit"]').click();
  return answer;
}

const text = (page, selector) => page.locator(selector).first().textContent({ timeout: 5000 }).catch(() => null);
const rowTitles = (page) =>
  page.evaluate(() => Array.from(document.querySelectorAll('#main tr[data-id]'), (r) => r.dataset.title));
/** Calls the bridge from the page (a read), as the page's own script would. */
const bridge = (page, method, query = '') =>
  page.evaluate(
    async ([m, q]) => (await (await fetch(`/app/api/${m}?${q}`)).json())['subsonic-response'],
    [method, query],
  );
/** Nothing in <main> became markup: no element from the hostile strings, no handler attribute. */
const noInjectedMarkup = (page) =>
  page.evaluate(() => {
    const all = Array.from(document.querySelectorAll('*'));
    return (
      document.querySelectorAll('img[src="x"], main script, #player script').length === 0 &&
      !all.some((el) => Array.from(el.attributes).some((a) => a.name.startsWith('on')))
    );
  });

async function albumPage(page) {
  await page.goto(`${base}/app/albums?list=alphabeticalByName`);
  await page.locator('main a.card-title', { hasText: 'Cross Origin' }).click();
  await page.waitForSelector('#main tr[data-title="Third"]');
}

let b;
let other;
let fatal;
const shots = [];
try {
  b = await browser({ viewport: DESKTOP });
  const page = await open(b);
  await login(page);
  await page.waitForURL(/\/app\/$/);

  // Star a song from the album's rows; it shows as starred after a reload and to /rest.
  await albumPage(page);
  const starButton = page.locator('#main tr[data-title="First"] .star-toggle');
  await posting(page, '/app/api/star', () => starButton.click());
  await pageUntil(page, () => document.querySelector('#main tr[data-title="First"] .star-toggle')?.getAttribute('aria-pressed') === 'true');
  await page.reload();
  const starredAfterReload = await page.locator('#main tr[data-title="First"] .star-toggle').getAttribute('aria-pressed');
  const starred = await bridge(page, 'getStarred2');
  rec.step('star', starredAfterReload === 'true' && (starred.starred2?.song ?? []).some((s) => s.title === 'First'), {
    starredAfterReload,
    starred: (starred.starred2?.song ?? []).map((s) => s.title),
  });
  // Star the album too: it is on the starred albums' list.
  await posting(page, '/app/api/star', () => page.locator('main .album-head .star-toggle').click());
  await page.goto(`${base}/app/albums?list=starred`);
  const starredAlbums = await page.locator('main a.card-title').allTextContents();
  rec.step('star-album', starredAlbums.includes('Cross Origin'), { starredAlbums });
  shots.push(['albums-starred', `${base}/app/albums?list=starred`]);
  await albumPage(page);

  // Rate a song on its page.
  await page.locator('#main tr[data-title="Second"] a.song-link').click();
  await page.waitForSelector('#rating');
  await posting(page, '/app/api/setRating', () => page.selectOption('#rating', '4'));
  const songId = await page.locator('#main .actions').getAttribute('data-id');
  const rated = await bridge(page, 'getSong', `id=${encodeURIComponent(songId)}`);
  rec.step('rate', rated.song?.userRating === 4, { userRating: rated.song?.userRating });
  await sweep(rec, page, 'song-rated-desktop', b.problems(page));

  // A playlist: created, two songs added from the album's rows, moved, one removed, renamed.
  await page.locator('nav.side a[data-nav="playlists"]').click();
  await page.waitForSelector('#new-playlist');
  await page.fill('#new-playlist', 'Road trip');
  await page.locator('main form.inline-form button[type="submit"]').click();
  await page.waitForURL(/\/app\/playlist\//);
  await page.waitForSelector('main h1');
  const playlistUrl = page.url();
  rec.step('playlist-created', (await text(page, 'main h1')) === 'Road trip', { h1: await text(page, 'main h1') });
  await albumPage(page);
  for (const title of ['First', 'Third']) {
    await page.locator(`#main tr[data-title="${title}"] [data-action="add-to-playlist"]`).click();
    const opened = await pageUntil(page, () => document.getElementById('add-to-playlist')?.open && document.getElementById('atp-target').options.length > 1);
    if (!opened) {
      const seen = await page.evaluate(() => ({
        open: document.getElementById('add-to-playlist')?.open,
        options: Array.from(document.getElementById('atp-target')?.options ?? [], (o) => o.textContent),
      }));
      rec.step(`dialog-for-${title}`, false, seen);
    }
    if (title === 'Third') await sweep(rec, page, 'add-to-playlist-dialog-desktop', b.problems(page));
    const chosen = await page.locator('#atp-target option:checked').textContent();
    const offered = await page.locator('#atp-target option').allTextContents();
    if (offered.includes('Imported mix')) rec.step('dialog-offers-no-read-only-playlist', false, { offered });
    await posting(page, '/app/api/updatePlaylist', () => page.locator('#add-to-playlist button[value="add"]').click());
    rec.step(`added-${title}`, chosen === 'Road trip', { chosen });
  }
  await page.goto(playlistUrl);
  const added = await rowTitles(page);
  // Keyboard: focus "Move Third up" and press Enter.
  await page.locator('#main tr[data-title="Third"] button[value^="up:"]').focus();
  await page.keyboard.press('Enter');
  await pageUntil(page, () => document.querySelector('#main tr[data-id]')?.dataset.title === 'Third');
  const moved = await rowTitles(page);
  const focusAfterMove = await page.evaluate(() => document.activeElement?.closest('tr')?.dataset.title ?? null);
  rec.step('reorder', JSON.stringify(added) === '["First","Third"]' && JSON.stringify(moved) === '["Third","First"]', {
    added,
    moved,
    focusAfterMove,
    inPage: true,
  });
  await sweep(rec, page, 'playlist-desktop', b.problems(page));
  await page.locator('#main tr[data-title="First"] button[value^="remove:"]').click();
  await pageUntil(page, () => document.querySelectorAll('#main tr[data-id]').length === 1);
  const afterRemove = await rowTitles(page);
  await page.fill('#pl-name', 'Night drive');
  await page.locator('main form.rename button[type="submit"]').click();
  await pageUntil(page, () => document.querySelector('main h1')?.textContent === 'Night drive');
  rec.step('remove-and-rename', JSON.stringify(afterRemove) === '["Third"]' && (await text(page, 'main h1')) === 'Night drive', {
    afterRemove,
    h1: await text(page, 'main h1'),
  });

  // Stored XSS: playlists named with the hostile strings are shown as text.
  const hostile = [];
  for (const name of [hostile1, hostile2]) {
    await page.goto(`${base}/app/playlists`);
    await page.fill('#new-playlist', name);
    await page.locator('main form.inline-form button[type="submit"]').click();
    await page.waitForURL(/\/app\/playlist\//);
    await page.waitForSelector('main h1');
    hostile.push({ h1: await text(page, 'main h1'), title: await page.title(), clean: await noInjectedMarkup(page) });
  }
  await page.goto(`${base}/app/playlists`);
  const listed = await page.locator('main a.playlist-name').allTextContents();
  rec.step(
    'hostile-playlist-names-are-text',
    hostile[0].h1 === hostile1 && hostile[1].h1 === hostile2 && hostile.every((h) => h.clean) && listed.includes(hostile1) && listed.includes(hostile2) && (await noInjectedMarkup(page)),
    { hostile, listed },
  );
  await sweep(rec, page, 'playlists-desktop', b.problems(page));
  shots.push(['playlists', `${base}/app/playlists`], ['playlist', playlistUrl]);

  // The playlist imported from a file: shown as read-only, with nothing to change it, not
  // offered by the add dialog; a change posted anyway is refused by the broker.
  await page.locator('main a.playlist-name', { hasText: 'Imported mix' }).click();
  await page.waitForSelector('main h1');
  const imported = {
    url: page.url(),
    badge: await text(page, 'main .page-head .badge'),
    note: await text(page, 'main .page-head .note'),
    forms: await page.locator('#pl-edit, form.rename, details.danger').count(),
    rows: (await rowTitles(page)).length,
    refused: await page.evaluate(async () => {
      const body = new URLSearchParams({ _csrf: document.querySelector('meta[name="csrf-token"]').content, op: 'remove:0' });
      const answer = await fetch(location.pathname, { method: 'POST', body });
      await answer.text();
      return answer.status;
    }),
  };
  await page.reload();
  imported.rowsAfter = (await rowTitles(page)).length;
  await sweep(rec, page, 'playlist-imported-desktop', b.problems(page));
  shots.push(['playlist-imported', imported.url]);
  rec.step('imported-playlist-is-read-only', imported.badge === 'Read-only' && imported.forms === 0 && imported.rows === 1 && imported.rowsAfter === 1 && imported.refused === 403, imported);
  await page.goto(`${base}/app/playlists`);

  // Delete a playlist (two steps, no browser dialog).
  await page.fill('#new-playlist', 'To delete');
  await page.locator('main form.inline-form button[type="submit"]').click();
  await page.waitForURL(/\/app\/playlist\//);
  await page.waitForSelector('details.danger summary');
  await page.locator('details.danger summary').click();
  await page.locator('details.danger button[value="delete"]').click();
  await page.waitForURL(/\/app\/playlists\?done=deleted/);
  const afterDelete = await page.locator('main a.playlist-name').allTextContents();
  rec.step(
    'playlist-deleted',
    !afterDelete.includes('To delete') && afterDelete.includes('Night drive') && (await page.locator('main .notice').count()) === 1,
    { afterDelete },
  );

  // The play queue: play the album, add a song, then reload: the queue comes back from the server.
  await albumPage(page);
  await page.locator('main .album-head button[data-action="play-table"]').click();
  await pageUntil(page, () => !document.getElementById('audio').paused && document.getElementById('audio').currentTime > 0.5);
  const saved = page.waitForResponse((r) => r.url().includes('/app/api/savePlayQueueByIndex'));
  await page.locator('#main tr[data-title="Second"] [data-action="enqueue"]').click();
  await saved;
  await page.locator('#play').click();
  await pageUntil(page, () => document.getElementById('audio').paused);
  await page.waitForResponse((r) => r.url().includes('/app/api/savePlayQueueByIndex')).catch(() => null);
  await page.reload();
  const restored = await pageUntil(page, () => document.querySelectorAll('#queue-list li').length === 4);
  const afterReload = {
    title: await text(page, '#now-title'),
    queue: await page.evaluate(() => Array.from(document.querySelectorAll('#queue-list .q-title'), (e) => e.textContent)),
    audio: await audioState(page),
  };
  rec.step('queue-survives-a-reload', restored && afterReload.title === 'First' && afterReload.queue.join() === 'First,Second,Third,Second', afterReload);
  // The restored queue plays.
  await page.locator('#play').click();
  const plays = await pageUntil(page, () => !document.getElementById('audio').paused && document.getElementById('audio').currentTime > 0.2);
  rec.step('restored-queue-plays', plays, { audio: await audioState(page) });
  await page.locator('#play').click();

  // Another device (a second browser): the same queue appears.
  other = await browser({ viewport: DESKTOP });
  const second = await open(other);
  await login(second);
  await second.waitForURL(/\/app\/$/);
  const elsewhere = await pageUntil(second, () => document.querySelectorAll('#queue-list li').length === 4);
  rec.step('queue-on-another-device', elsewhere && (await text(second, '#now-title')) === 'First', {
    title: await text(second, '#now-title'),
  });

  // Settings: this browser is a player; hold it to 128 kbps.
  await page.locator('nav.side a[data-nav="settings"]').click();
  await page.waitForSelector('#key-name');
  await sweep(rec, page, 'settings-desktop', b.problems(page));
  const playerForms = await page.locator('form.player-form').count();
  if (playerForms > 0) {
    const form = page.locator('form.player-form').first();
    await form.locator('select[name="maxBitRate"]').selectOption('128');
    await form.locator('button[type="submit"]').click();
    await page.waitForURL(/done=player/);
  }
  const players = await bridge(page, 'getPlayers');
  const web = (players.players?.player ?? []).filter((p) => String(p.client).startsWith('web-'));
  rec.step('player-capped', playerForms > 0 && web.some((p) => p.maxBitRate === 128), { playerForms, web });

  // The theme: dark, kept over a reload and rendered by the server; back to the system's.
  await page.selectOption('#theme-choice', 'dark');
  const darkNow = await page.evaluate(() => document.documentElement.dataset.theme ?? null);
  const served = await page.evaluate(async () => (await (await fetch(location.href)).text()).match(/<html[^>]*>/)[0]);
  await page.reload();
  const darkAfterReload = await page.evaluate(() => document.documentElement.dataset.theme ?? null);
  await sweep(rec, page, 'settings-dark-theme-desktop', b.problems(page));
  await page.selectOption('#theme-choice', 'system');
  const systemAgain = await page.evaluate(() => document.documentElement.dataset.theme ?? null);
  rec.step('theme', darkNow === 'dark' && darkAfterReload === 'dark' && served.includes('data-theme="dark"') && systemAgain === null, {
    darkNow,
    darkAfterReload,
    served,
    systemAgain,
  });

  // An API key: created and shown once, used on /rest, listed without the key, revoked, refused.
  await page.fill('#key-name', 'My phone');
  await posting(page, '/app/settings/keys', () => page.locator('#keys form.inline-form button[type="submit"]').click());
  await page.waitForSelector('#new-key');
  const key = await page.inputValue('#new-key');
  await page.locator('#new-key').scrollIntoViewIfNeeded();
  await sweep(rec, page, 'settings-new-key-desktop', b.problems(page));
  // The whole page once (the sweep's screenshots show the viewport).
  await screenshot(page, 'ui-settings-new-key-desktop-full');
  const ping = async () => {
    const r = await fetch(`${base}/rest/getUser?apiKey=${encodeURIComponent(key)}&username=${encodeURIComponent(user)}&f=json&c=test&v=1.16.1`);
    return (await r.json())['subsonic-response'];
  };
  rest.withKey = await ping();
  await page.goto(`${base}/app/settings`);
  const listedKeys = await page.locator('#key-list li').allTextContents();
  const html = await page.content();
  rec.step('api-key-created', key.startsWith('rdt_') && rest.withKey.status === 'ok' && listedKeys.some((k) => k.includes('My phone')) && !html.includes(key), {
    keyLength: key.length,
    listedKeys,
    shownAgain: html.includes(key),
  });
  await posting(page, '/app/settings/revoke', () => page.locator('#key-list li', { hasText: 'My phone' }).locator('button[type="submit"]').click());
  await page.waitForURL(/done=revoked/);
  rest.afterRevoke = await ping();
  rec.step('api-key-revoked', rest.afterRevoke.status === 'failed' && (await page.locator('#key-list li', { hasText: 'My phone' }).count()) === 0, {
    error: rest.afterRevoke.error,
    notice: await text(page, '#keys .notice'),
  });

  // The password: a wrong current one is refused; the right one changes it and ends every
  // session of the user (this one, and the other device's).
  await page.fill('#current', `${password}-wrong`);
  await page.fill('#new-password', newPassword);
  await page.fill('#new-password2', newPassword);
  let answer = await posting(page, '/app/settings/password', () => page.locator('form.stacked button[type="submit"]').click());
  await page.waitForSelector('#form-error');
  rec.step('wrong-current-password-refused', answer.status() === 401, { status: answer.status(), error: await text(page, '#form-error') });
  await page.fill('#current', password);
  await page.fill('#new-password', newPassword);
  await page.fill('#new-password2', newPassword);
  await page.locator('form.stacked button[type="submit"]').click();
  await page.waitForURL(/\/app\/login\?changed=1$/);
  const changedNotice = await text(page, 'main .notice');
  answer = await login(page, password);
  const oldRefused = answer.status();
  await page.waitForSelector('#form-error');
  answer = await login(page, newPassword);
  await page.waitForURL(/\/app\/$/);
  rec.step('password-changed', oldRefused === 401 && (await text(page, '.user-name')) === user, {
    changedNotice,
    oldRefused,
    user: await text(page, '.user-name'),
  });
  await second.goto(`${base}/app/settings`);
  rec.step('other-sessions-ended', /\/app\/login\?next=/.test(second.url()), { url: second.url() });
  await other.close();
  other = null;

  // Every page of this part at desktop width, then at phone width, light and dark.
  for (const [name, url] of shots) {
    await page.goto(url);
    await sweep(rec, page, `${name}-desktop-after`, b.problems(page));
  }
  await b.close();
  b = null;
  for (const scheme of ['light', 'dark']) {
    b = await browser({ viewport: PHONE, contextOptions: { colorScheme: scheme, isMobile: true, hasTouch: true } });
    const phone = await open(b);
    await login(phone, newPassword);
    await phone.waitForURL(/\/app\/$/);
    for (const [name, url] of [...shots, ['settings', `${base}/app/settings`]]) {
      await phone.goto(url);
      await sweep(rec, phone, `${name}-phone-${scheme}`, b.problems(phone));
    }
    await phone.goto(`${base}/app/albums?list=alphabeticalByName`);
    await phone.locator('main a.card-title', { hasText: 'Cross Origin' }).click();
    await phone.waitForSelector('#main tr[data-title="Second"]');
    await sweep(rec, phone, `album-phone-${scheme}`, b.problems(phone));
    await phone.locator('#main tr[data-title="Second"] a.song-link').click();
    await phone.waitForSelector('#rating');
    await sweep(rec, phone, `song-phone-${scheme}`, b.problems(phone));
    await b.close();
    b = null;
  }
} catch (e) {
  fatal = `driving the pages failed: ${e.stack ?? e}`;
} finally {
  if (b) await b.close();
  if (other) await other.close();
}
const merged = watch.problems();
if (fatal) {
  // The Rust side prints standard error with a fatal result: say what was seen so far.
  process.stderr.write(`${JSON.stringify({ steps: rec.steps, ...merged }, null, 1)}\n`);
  fail(fatal, { steps: rec.steps, pages: rec.pages, rest, ...merged });
}
report({ steps: rec.steps, pages: rec.pages, dialogs: watch.dialogs, rest, ...merged });
