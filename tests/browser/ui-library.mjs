// The web UI's browsing, player and escaping, in chromium (tests/ui.rs
// `ui_browse_play_and_escape`):
//
//   node tests/browser/ui-library.mjs <base> <user> <password> <hostile-1> <hostile-2>
//
// against a daemon whose library has the album "Cross Origin" by "Browser Band" (three
// 60-second songs: First, Second, Third), "Other Album" by "Second Artist" (Other One, Other
// Two), and two 20-second songs whose title, artist, album, comment and lyrics are all
// <hostile-1> (found by searching "onerror"), all <hostile-2> (found by "script"). Prints
// one JSON line: `steps`, `pages`, the number of dialogs that opened, the stream requests,
// and the page problems lib.mjs collects.

import { report, fail, args } from './lib.mjs';
import { DESKTOP, PHONE, recorder, sweep, pageUntil, audioState, watcher } from './ui-lib.mjs';

const { base, user, password, hostile1, hostile2 } = args(['base', 'user', 'password', 'hostile1', 'hostile2']);
const rec = recorder();
const watch = watcher();
const streams = [];

const { browser } = watch;
const open = (b) =>
  watch.open(b, (page) => {
    page.on('response', (r) => {
      if (r.url().includes('/app/stream/')) streams.push({ status: r.status(), range: r.request().headers().range ?? null });
    });
  });

async function login(page) {
  await page.goto(`${base}/app/login`);
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.locator('main form button[type="submit"]').click();
  await page.waitForURL(/\/app\/$/);
  await page.waitForSelector('main h1');
}

const text = (page, selector) => page.locator(selector).first().textContent({ timeout: 5000 }).catch(() => null);
/** A mark on the document that only a full page load removes. */
const mark = (page) => page.evaluate(() => {
  window.__notReloaded = true;
  document.getElementById('audio').dataset.testMark = 'same-element';
});
const sameDocument = (page) => page.evaluate(() => window.__notReloaded === true);

/** Waits until the audio plays and its time has moved on by at least `by` seconds. */
async function advancing(page, by = 0.5) {
  const before = await audioState(page);
  const ok = await pageUntil(
    page,
    ([t, d]) => {
      const a = document.getElementById('audio');
      return !a.paused && a.readyState >= 2 && a.currentTime > t + d;
    },
    [before.paused ? -1 : before.currentTime, by],
  );
  return { ok, before, after: await audioState(page) };
}

let b;
let fatal;
try {
  b = await browser({ viewport: DESKTOP });
  const page = await open(b);
  await login(page);
  await mark(page);

  // Browse to the album from the grid.
  await page.locator('main .card-title', { hasText: 'Cross Origin' }).click();
  await page.waitForURL(/\/app\/album\//);
  await page.waitForSelector('main .album-head h1');
  rec.step('grid-to-album', (await text(page, 'main h1')) === 'Cross Origin', {
    h1: await text(page, 'main h1'),
    inPage: await sameDocument(page),
    rows: await page.locator('main tr[data-id]').count(),
  });

  // A link to the album from another site (localhost is another site than 127.0.0.1): the
  // SameSite=Strict cookie stays off that navigation, and the page it lands on loads the
  // album again from this site, signed in (not the login form).
  {
    const album = page.url();
    const elsewhere = await open(b);
    await elsewhere.goto(`${base.replace('127.0.0.1', 'localhost')}/app/login`);
    await elsewhere.evaluate((href) => {
      const a = document.createElement('a');
      a.href = href;
      a.id = 'from-elsewhere';
      a.textContent = 'the album';
      document.body.append(a);
    }, album);
    await elsewhere.click('#from-elsewhere');
    await elsewhere.waitForURL(album);
    await elsewhere.waitForSelector('main h1');
    rec.step('link-from-another-site', (await text(elsewhere, 'main h1')) === 'Cross Origin', {
      h1: await text(elsewhere, 'main h1'),
      url: elsewhere.url(),
    });
    await elsewhere.close();
  }

  // From the album to its artist, and from the artist to the album.
  await page.locator('main .byline a', { hasText: 'Browser Band' }).click();
  await page.waitForURL(/\/app\/artist\//);
  await page.waitForSelector('main .artist-head h1');
  const artistH1 = await text(page, 'main h1');
  await page.locator('main .card-title', { hasText: 'Cross Origin' }).click();
  await page.waitForURL(/\/app\/album\//);
  await page.waitForSelector('main .album-head h1');
  rec.step('artist-to-album', artistH1 === 'Browser Band' && (await text(page, 'main h1')) === 'Cross Origin', {
    artist: artistH1,
    h1: await text(page, 'main h1'),
    inPage: await sameDocument(page),
  });

  // Search as you type: no Enter, the results come as the words do.
  await page.locator('#q').pressSequentially('cross or', { delay: 60 });
  const found = await pageUntil(
    page,
    () =>
      document.querySelector('main h1')?.textContent.includes('cross or') &&
      document.querySelector('main .card-title')?.textContent === 'Cross Origin',
  );
  const searchUrl = page.url();
  await page.locator('main .card-title', { hasText: 'Cross Origin' }).click();
  await page.waitForURL(/\/app\/album\//);
  await page.waitForSelector('main .album-head h1');
  rec.step('search-as-you-type-to-album', found && (await text(page, 'main h1')) === 'Cross Origin', {
    found,
    searchUrl,
    h1: await text(page, 'main h1'),
    inPage: await sameDocument(page),
  });

  // Play the album: the audio element plays and its time moves on.
  await page.locator('main [data-action="play-table"]').click();
  const played = await advancing(page, 1);
  const session = await page.evaluate(() => ({
    title: navigator.mediaSession?.metadata?.title ?? null,
    artist: navigator.mediaSession?.metadata?.artist ?? null,
    state: navigator.mediaSession?.playbackState ?? null,
  }));
  rec.step(
    'plays',
    played.ok &&
      played.after.title === 'First' &&
      played.after.src.includes('/app/stream/') &&
      session.title === 'First' &&
      session.artist === 'Browser Band' &&
      session.state === 'playing',
    { ...played, mediaSession: session },
  );

  // Next song.
  const firstSrc = played.after.src;
  await page.locator('#next').click();
  const second = await advancing(page, 0.5);
  rec.step('next-song', second.ok && second.after.title === 'Second' && second.after.src !== firstSrc, second);

  // Seek to 20 s with the slider.
  await page.locator('#seek').fill('20');
  const sought = await pageUntil(page, () => document.getElementById('audio').currentTime >= 19.5);
  const afterSeek = await advancing(page, 0.5);
  rec.step('seek', sought && afterSeek.ok && afterSeek.after.currentTime >= 19.5, {
    sought,
    ...afterSeek,
    elapsed: await text(page, '#elapsed'),
  });

  // Browse on: the same audio element keeps playing through in-page navigation.
  await page.locator('nav.side a', { hasText: 'Artists' }).click();
  await page.waitForURL(/\/app\/artists/);
  await page.waitForSelector('main h1');
  const kept = await advancing(page, 0.5);
  await page.locator('nav.side a', { hasText: 'Genres' }).click();
  await page.waitForURL(/\/app\/genres/);
  const kept2 = await advancing(page, 0.5);
  rec.step(
    'keeps-playing-while-browsing',
    kept.ok && kept2.ok && kept2.after.marked === 'same-element' && (await sameDocument(page)),
    { kept, kept2, h1: await text(page, 'main h1'), inPage: await sameDocument(page) },
  );

  // The queue: play next, add, reorder, remove, clear.
  await page.locator('nav.side a', { hasText: 'Recently added' }).click();
  await page.waitForURL(/\/app\/$/);
  await page.locator('main .card-title', { hasText: 'Other Album' }).click();
  await page.waitForSelector('main .album-head h1');
  await page.locator('main tr[data-id] [data-action="play-next"]').first().click();
  await page.locator('main tr[data-id] [data-action="enqueue"]').nth(1).click();
  await page.locator('#queue-toggle').click();
  const queueTitles = () => page.locator('#queue-list .q-title').allTextContents();
  const queued = await queueTitles();
  await page.locator('#queue-list li').nth(2).locator('.q-down').click();
  const reordered = await queueTitles();
  await page.locator('#queue-list li').nth(0).locator('.q-remove').click();
  const removed = await queueTitles();
  await sweep(rec, page, 'queue-desktop-light', b.problems(page));
  rec.step(
    'queue',
    JSON.stringify(queued) === JSON.stringify(['First', 'Second', 'Other One', 'Third', 'Other Two']) &&
      JSON.stringify(reordered) === JSON.stringify(['First', 'Second', 'Third', 'Other One', 'Other Two']) &&
      JSON.stringify(removed) === JSON.stringify(['Second', 'Third', 'Other One', 'Other Two']),
    { queued, reordered, removed, playing: (await audioState(page)).title },
  );
  await page.keyboard.press('Escape');
  const queueClosed = await page.locator('#queue').isHidden();

  // Keyboard shortcuts: k pauses and plays, ? opens the help, Escape closes it.
  await page.locator('main h1').click();
  await page.keyboard.press('k');
  const paused = await pageUntil(page, () => document.getElementById('audio').paused);
  await page.keyboard.press('k');
  const resumed = await advancing(page, 0.3);
  await page.keyboard.press('?');
  const help = await page.locator('#help').isVisible();
  await sweep(rec, page, 'shortcuts-dialog-desktop-light', b.problems(page));
  await page.keyboard.press('Escape');
  const helpClosed = await page.locator('#help').isHidden();
  rec.step('keyboard-shortcuts', queueClosed && paused && resumed.ok && help && helpClosed, {
    queueClosed,
    paused,
    resumed: resumed.ok,
    help,
    helpClosed,
  });

  // The playback settings dialog lists the server's formats.
  await page.locator('#settings-toggle').click();
  await pageUntil(page, () => document.querySelectorAll('#set-format option').length > 1);
  const formats = await page.locator('#set-format option').evaluateAll((os) => os.map((o) => o.value));
  await sweep(rec, page, 'settings-dialog-desktop-light', b.problems(page));
  // This browser asks for mp3 at 96 kbps (a transcode) with ReplayGain by song, from now on.
  await page.locator('#set-format').selectOption('mp3');
  await page.locator('#set-rate').selectOption('96');
  await page.locator('#set-rg').selectOption('track');
  await page.locator('#settings button[value="save"]').click();
  // The dialog's close event, which stores the choice, is a task of its own after the click.
  await pageUntil(page, () => localStorage.getItem('redoubt.replayGain') === 'track', undefined, 5000);
  const stored = await page.evaluate(() => ({
    format: localStorage.getItem('redoubt.format'),
    maxBitRate: localStorage.getItem('redoubt.maxBitRate'),
    replayGain: localStorage.getItem('redoubt.replayGain'),
    open: document.getElementById('settings').open,
  }));
  rec.step(
    'settings',
    formats.includes('mp3') && stored.format === 'mp3' && stored.maxBitRate === '96' && stored.replayGain === 'track' && !stored.open,
    { formats, stored },
  );

  // Stored XSS: each hostile song's page, found by search, shows its tags as text; played, the
  // player and the queue show them as text too.
  for (const [hostile, word] of [
    [hostile1, 'onerror'],
    [hostile2, 'script'],
  ]) {
    await page.locator('#q').fill('');
    await page.locator('#q').pressSequentially(word, { delay: 40 });
    await pageUntil(page, (w) => document.querySelector('main h1')?.textContent.includes(w) && document.querySelector('main .song-link'), word);
    await page.locator('main .song-link').first().click();
    await page.waitForURL(/\/app\/song\//);
    await page.waitForSelector('main .album-head h1');
    const shown = await page.evaluate(() => ({
      h1: document.querySelector('main h1').textContent,
      byline: Array.from(document.querySelectorAll('main .byline a'), (a) => a.textContent),
      comment: document.querySelector('main .comment')?.textContent ?? null,
      lyrics: document.querySelector('main .lyrics')?.textContent ?? null,
      // Nothing the tags hold became an element or an attribute.
      injected: document.querySelectorAll('img[src="x"], img[onerror], main script, [onerror]').length,
    }));
    await page.locator('main [data-action="play-row"]').first().click();
    const plays = await advancing(page, 0.5);
    const nowTitle = await text(page, '#now-title');
    const nowArtist = await text(page, '#now-artist');
    await page.locator('#queue-toggle').click();
    const queueText = await page.locator('#queue-list .q-title').first().textContent();
    const injectedAnywhere = await page.evaluate(
      () => document.querySelectorAll('img[src="x"], img[onerror], body script:not([type]), [onerror]').length,
    );
    await sweep(rec, page, `hostile-${word}-desktop-light`, b.problems(page));
    await page.locator('#queue-close').click();
    rec.step(
      `stored-xss-is-text-${word}`,
      shown.h1 === hostile &&
        shown.lyrics === hostile &&
        shown.comment === hostile &&
        shown.byline.every((t) => t === hostile) &&
        shown.byline.length === 2 &&
        shown.injected === 0 &&
        injectedAnywhere === 0 &&
        nowTitle === hostile &&
        nowArtist === hostile &&
        queueText === hostile &&
        plays.ok &&
        // The settings above: a transcode, through the ReplayGain node.
        plays.after.src.includes('format=mp3') &&
        plays.after.src.includes('maxBitRate=96'),
      { shown, nowTitle, nowArtist, queueText, injectedAnywhere, plays },
    );
  }

  // Scrobbling: listen past half of the 20-second song (the Rust side checks the play count).
  const listened = await pageUntil(page, () => document.getElementById('audio').currentTime > 11, undefined, 20000);
  await page.waitForTimeout(1500);
  rec.step('listened-past-half', listened, await audioState(page));

  // Keyboard only, in a fresh page: "/" to search, Tab to the album, Enter, Tab to Play, Enter.
  const keys = await open(b);
  await keys.goto(`${base}/app/`);
  await keys.waitForSelector('main h1');
  await keys.keyboard.press('/');
  await keys.keyboard.type('cross', { delay: 40 });
  await pageUntil(
    keys,
    () =>
      document.querySelector('main h1')?.textContent.includes('cross') &&
      document.querySelector('main .card-title')?.textContent === 'Cross Origin',
  );
  const focusText = () => keys.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await keys.keyboard.press('Tab');
    reached = (await focusText()) === 'Cross Origin';
  }
  await keys.keyboard.press('Enter');
  await keys.waitForURL(/\/app\/album\//);
  await keys.waitForSelector('main .album-head h1');
  let onPlay = false;
  for (let i = 0; i < 40 && !onPlay; i++) {
    await keys.keyboard.press('Tab');
    onPlay = await keys.evaluate(() => document.activeElement?.dataset?.action === 'play-table');
  }
  await keys.keyboard.press('Enter');
  const keyPlay = await advancing(keys, 0.5);
  rec.step('keyboard-only', reached && onPlay && keyPlay.ok, { reached, onPlay, play: keyPlay });
  await keys.close();
  await page.close();
  await b.close();
  b = null;

  // Every page, at desktop and phone width, light and dark: axe-core, overflow, landmarks,
  // console and CSP, and a screenshot.
  const pageUrls = await (async () => {
    b = await browser({ viewport: DESKTOP });
    const p = await open(b);
    await login(p);
    const ids = await p.evaluate(async () => {
      const get = async (m, q) => (await (await fetch(`/app/api/${m}?${new URLSearchParams(q)}`)).json())['subsonic-response'];
      const album = (await get('getAlbumList2', { type: 'alphabeticalByName', size: 10 })).albumList2.album.find(
        (a) => a.name === 'Cross Origin',
      );
      const song = (await get('getAlbum', { id: album.id })).album.song[0];
      return { album: album.id, artist: album.artistId, song: song.id };
    });
    await b.close();
    b = null;
    return [
      ['albums', '/app/'],
      ['recent', '/app/albums?list=recent'],
      ['frequent', '/app/albums?list=frequent'],
      ['random', '/app/albums?list=random'],
      ['starred', '/app/albums?list=starred'],
      ['a-to-z', '/app/albums?list=alphabeticalByName'],
      ['by-year', '/app/albums?list=byYear&from=2030&to=1990'],
      ['by-genre', '/app/albums?list=byGenre&genre=Rock'],
      ['artists', '/app/artists'],
      ['artist', `/app/artist/${ids.artist}`],
      ['album', `/app/album/${ids.album}`],
      ['song', `/app/song/${ids.song}`],
      ['genres', '/app/genres'],
      ['folders', '/app/folders'],
      ['search', '/app/search?q=o'],
      ['shortcuts', '/app/shortcuts'],
      ['not-found', '/app/album/no-such-album'],
    ];
  })();
  for (const [width, viewport] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ]) {
    for (const scheme of ['light', 'dark']) {
      const phone = width === 'phone';
      b = await browser({ viewport, contextOptions: { colorScheme: scheme, isMobile: phone, hasTouch: phone } });
      const p = await open(b);
      await login(p);
      for (const [name, path] of pageUrls) {
        await p.goto(`${base}${path}`);
        await p.waitForSelector('main');
        await sweep(rec, p, `${name}-${width}-${scheme}`, b.problems(p));
      }
      // The player with a song, and the queue open.
      await p.goto(`${base}/app/album/${pageUrls.find(([n]) => n === 'album')[1].split('/').pop()}`);
      await p.locator('main [data-action="play-table"]').click();
      await advancing(p, 0.2);
      await sweep(rec, p, `playing-${width}-${scheme}`, b.problems(p));
      await p.locator('#queue-toggle').click();
      await sweep(rec, p, `queue-${width}-${scheme}`, b.problems(p));
      await b.close();
      b = null;
    }
  }
} catch (e) {
  fatal = `driving the pages failed: ${e.stack ?? e}`;
} finally {
  if (b) await b.close();
}
const merged = watch.problems();
if (fatal) fail(fatal, { steps: rec.steps, pages: rec.pages, ...merged });
report({ steps: rec.steps, pages: rec.pages, dialogs: watch.dialogs, streams, ...merged });
