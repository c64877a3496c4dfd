// The web UI's smart playlist editor, in chromium (tests/ui.rs `ui_smart_playlist_editor`):
//
//   node tests/browser/ui-smart.mjs <base> <user> <password>
//
// against a daemon with the library of tests/ui.rs ("Other Album": Other One, Other Two, Jazz,
// 1998; "Cross Origin": First, Second, Third, Rock, 2021). A smart playlist made in the editor
// (genre contains "jaz", year less than 2000, by title descending) holds the two jazz songs; a
// rule that does not fit its field is said on the form with what was typed kept; the rules
// edited (one changed, two removed) choose one song. The pages are swept at desktop and phone
// width. Prints one JSON line: `steps`, `pages`, `dialogs` and the page problems lib.mjs collects.

import { openBrowser, report, fail, args } from './lib.mjs';
import { DESKTOP, PHONE, recorder, sweep, watcher, posting } from './ui-lib.mjs';

const { base, user, password } = args(['base', 'user', 'password']);
const rec = recorder();
const watch = watcher();

const { open } = watch;

async function login(page) {
  await page.goto(`${base}/app/login`);
  await page.fill('#username', user);
  await page.fill('#password', password);
  const answer = page.waitForResponse((r) => r.url().includes('/app/login') && r.request().method() === 'POST');
  await page.locator('main form button[type="submit"]').click();
  await answer;
  await page.waitForURL(/\/app\/$/);
}

const rowTitles = (page) =>
  page.evaluate(() => Array.from(document.querySelectorAll('#main tr[data-id]'), (r) => r.dataset.title));

let b = null;
let fatal = null;
try {
  try {
    b = await openBrowser({ viewport: DESKTOP });
  } catch (e) {
    fail(`cannot launch chromium: ${e.message}`);
  }
  const page = await open(b);
  await login(page);

  // A new smart playlist from the playlists page.
  await page.goto(`${base}/app/playlists`);
  await page.locator('#new-smart').click();
  await page.waitForSelector('#smart-name');
  const editorUrl = page.url();
  await sweep(rec, page, 'smart-new-desktop', b.problems(page));
  await page.fill('#smart-name', 'Jazz picks');
  await page.selectOption('#field0', 'genre');
  await page.selectOption('#op0', 'contains');
  await page.fill('#value0', 'jaz');
  await page.selectOption('#field1', 'year');
  await page.selectOption('#op1', 'lt');
  await page.fill('#value1', '2000');
  await page.selectOption('#smart-sort', 'title');
  await page.check('#smart-desc');
  await posting(page, '/app/smart/new', () => page.locator('main form.smart-form button[value="save"]').click());
  await page.waitForURL(/\/app\/playlist\//);
  await page.waitForSelector('#main tr[data-id]');
  const playlistUrl = page.url();
  const created = { h1: await page.locator('main h1').textContent(), rows: await rowTitles(page) };
  rec.step('smart-created', created.h1 === 'Jazz picks' && created.rows.join('|') === 'Other Two|Other One', created);
  await sweep(rec, page, 'smart-playlist-desktop', b.problems(page));

  // A rule that does not fit its field: said, with what was typed kept.
  await page.locator('#smart-edit').click();
  await page.waitForSelector('#smart-name');
  const kept = { rules: await page.inputValue('#value1'), sort: await page.inputValue('#smart-sort') };
  await page.selectOption('#field2', 'year');
  await page.selectOption('#op2', 'contains');
  await page.fill('#value2', 'x');
  const refused = await posting(page, '/app/smart/', () => page.locator('main form.smart-form button[value="save"]').click());
  await page.waitForSelector('#form-error');
  const said = {
    status: refused.status(),
    error: await page.locator('#form-error').textContent(),
    value: await page.inputValue('#value2'),
    kept,
  };
  rec.step(
    'smart-bad-rule-said',
    said.status === 400 && said.error.startsWith('Rule 3:') && said.value === 'x' && kept.rules === '2000' && kept.sort === 'title',
    said,
  );
  await sweep(rec, page, 'smart-editor-refused-desktop', b.problems(page));

  // Edited: the first rule changed, the other two removed.
  await page.selectOption('#field0', 'title');
  await page.selectOption('#op0', 'is');
  await page.fill('#value0', 'other two');
  await page.check('#remove1');
  await page.check('#remove2');
  await posting(page, '/app/smart/', () => page.locator('main form.smart-form button[value="save"]').click());
  await page.waitForURL(/\/app\/playlist\//);
  await page.waitForSelector('#main tr[data-id]');
  const edited = { rows: await rowTitles(page), url: page.url() };
  rec.step('smart-edited', edited.rows.join('|') === 'Other Two' && edited.url.startsWith(playlistUrl.split('?')[0]), edited);
  await page.locator('#smart-edit').click();
  await page.waitForSelector('#smart-name');
  const smartUrl = page.url();
  await sweep(rec, page, 'smart-editor-desktop', b.problems(page));
  await b.close();
  b = null;

  b = await openBrowser({ viewport: PHONE, contextOptions: { isMobile: true, hasTouch: true } });
  const phone = await open(b);
  await login(phone);
  for (const [name, url] of [['smart-editor', smartUrl], ['smart-new', editorUrl], ['smart-playlist', playlistUrl]]) {
    await phone.goto(url);
    await sweep(rec, phone, `${name}-phone`, b.problems(phone));
  }
} catch (e) {
  fatal = `driving the pages failed: ${e.stack ?? e}`;
} finally {
  if (b) await b.close();
}
const merged = watch.problems();
if (fatal) {
  process.stderr.write(`${JSON.stringify({ steps: rec.steps, ...merged }, null, 1)}\n`);
  fail(fatal, { steps: rec.steps, pages: rec.pages, ...merged });
}
report({ steps: rec.steps, pages: rec.pages, dialogs: watch.dialogs, ...merged });
