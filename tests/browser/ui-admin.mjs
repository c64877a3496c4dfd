// The web UI's admin pages, in chromium (tests/ui.rs `ui_admin_pages`):
//
//   node tests/browser/ui-admin.mjs <base> <admin> <admin-password> <user> <user-password> <mode>
//
// <mode> `editable`: a daemon with EnableTranscodingConfig = true and a library: users (create,
// the last admin kept, delete), a scan and its live status, a transcoding profile refused
// (/bin/sh) and one saved, the security page (a row per process, the events), each page at
// desktop and phone width; then the plain <user> tried on every admin page and action.
// <mode> `read-only`: a daemon without it: the transcoding page is read-only and says why,
// and a change sent anyway is refused by the server. Prints one JSON line: `steps`, `pages`,
// `dialogs`, and the page problems lib.mjs collects.

import { report, fail, args } from './lib.mjs';
import { DESKTOP, PHONE, recorder, sweep, pageUntil, shot, watcher, posting } from './ui-lib.mjs';

const { base, admin, adminPassword, user, userPassword, mode } = args([
  'base',
  'admin',
  'adminPassword',
  'user',
  'userPassword',
  'mode',
]);
const rec = recorder();
const watch = watcher();
const PAGES = ['users', 'library', 'transcoding', 'security'];

const { browser } = watch;
const open = (b) =>
  watch.open(b, (page) => {
    current = page;
  });

async function login(page, name, password) {
  await page.goto(`${base}/app/login`);
  await page.fill('#username', name);
  await page.fill('#password', password);
  await page.locator('main form button[type="submit"]').click();
  await page.waitForURL(/\/app\/$/);
  await page.waitForSelector('main h1');
}

const text = (page, selector) => page.locator(selector).first().textContent({ timeout: 5000 }).catch(() => null);

/** Clicks a submit button and waits for its POST's answer and the page it brings. */
async function submit(page, button, path) {
  const r = await posting(page, path, () => button.click());
  await page.waitForLoadState('domcontentloaded');
  await page.waitForSelector('#admin-outcome', { timeout: 10000 }).catch(() => {});
  return r;
}

/** A POST from inside the page, as the UI's own script would send it (with the CSRF token). */
const post = (page, path, fields) =>
  page.evaluate(
    async ({ path, fields }) => {
      const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? '';
      const body = new URLSearchParams({ ...fields, _csrf: csrf });
      const r = await fetch(path, {
        method: 'POST',
        body,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': csrf },
        credentials: 'same-origin',
      });
      return { status: r.status, text: await r.text() };
    },
    { path, fields },
  );

async function editable(b) {
  const page = await open(b);
  // One wrong password first: a failed login for the security page's events.
  await page.goto(`${base}/app/login`);
  await page.fill('#username', admin);
  await page.fill('#password', `${adminPassword}-wrong`);
  await page.locator('main form button[type="submit"]').click();
  await page.waitForSelector('#form-error');
  await login(page, admin, adminPassword);
  const navEntries = await page.locator('nav.side a[data-nav^="admin-"]').count();
  // Users, library, transcoding, security, shares (EnableSharing is on by default).
  rec.step('admin-nav', navEntries === 5, { navEntries });

  // Users: from the navigation (the admin shell loads as a whole document).
  await page.locator('nav.side a[data-nav="admin-users"]').click();
  await page.waitForURL(/\/app\/admin\/users$/);
  await page.waitForSelector('#users');
  const shell = await page.evaluate(() => document.body.dataset.shell);
  const script = await page.evaluate(() => [...document.scripts].some((s) => /\/admin\.[0-9a-f]+\.js$/.test(s.src)));
  rec.step('users-page', shell === 'admin' && script, { shell, script });
  await sweep(rec, page, 'admin-users-desktop', b.problems(page));

  await page.fill('#new-username', 'carol');
  await page.fill('#new-password', 'carol-password-1');
  await page.fill('#new-email', 'carol@example.org');
  let r = await submit(page, page.locator('#create-user button[type="submit"]'), '/app/admin/users');
  const created = await text(page, '#admin-outcome');
  const carolRow = await page.locator('#users tbody th', { hasText: 'carol' }).count();
  rec.step('user-created', r.status() === 200 && carolRow === 1, { status: r.status(), outcome: created, carolRow });
  await sweep(rec, page, 'admin-users-created-desktop', b.problems(page));

  // carol's music folders: from every folder to the one there is, by name.
  const carolFolders = page.locator('#users tbody tr', { has: page.locator('th', { hasText: 'carol' }) });
  await carolFolders.getByLabel('All, and those added later').uncheck();
  await carolFolders.getByLabel('music', { exact: true }).check();
  r = await submit(page, page.getByRole('button', { name: 'Save folders for carol' }), '/app/admin/users');
  const row = page.locator('#users tbody tr', { has: page.locator('th', { hasText: 'carol' }) });
  rec.step('folders-saved', r.status() === 200, {
    status: r.status(),
    outcome: await text(page, '#admin-outcome'),
    all: await row.getByLabel('All, and those added later').isChecked(),
    music: await row.getByLabel('music', { exact: true }).isChecked(),
  });

  // The last admin cannot lose the role: the broker refuses, and the page says why.
  r = await submit(page, page.getByRole('button', { name: `Remove admin: ${admin}` }), '/app/admin/users');
  rec.step('last-admin-kept', r.status() === 400, {
    status: r.status(),
    outcome: await text(page, '#admin-outcome'),
    role: await page.locator('#admin-outcome').getAttribute('role'),
  });

  r = await submit(page, page.getByRole('button', { name: 'Delete carol' }), '/app/admin/users');
  const gone = await page.locator('#users tbody th', { hasText: 'carol' }).count();
  rec.step('user-deleted', r.status() === 200 && gone === 0, { status: r.status(), outcome: await text(page, '#admin-outcome'), gone });

  // Library: a full scan, and its status moving on without a reload.
  await page.goto(`${base}/app/admin/library`);
  await page.waitForSelector('#scan-status');
  await sweep(rec, page, 'admin-library-desktop', b.problems(page));
  r = await submit(page, page.getByRole('button', { name: 'Full scan' }), '/app/admin/library');
  const requested = await text(page, '#admin-outcome');
  const afterPost = await text(page, '#scan-state');
  await page.evaluate(() => {
    window.__notReloaded = true;
  });
  const settled = await pageUntil(
    page,
    () => document.getElementById('scan-status')?.dataset.scanning === 'false' && /holds \d+ tracks/.test(document.getElementById('scan-state')?.textContent ?? ''),
    null,
    30000,
  );
  rec.step('scan-status-live', r.status() === 200 && settled && (await page.evaluate(() => window.__notReloaded === true)), {
    outcome: requested,
    afterPost,
    state: await text(page, '#scan-state'),
    last: await text(page, '#scan-last'),
  });
  await sweep(rec, page, 'admin-library-scanned-desktop', b.problems(page));

  // Transcoding, editable: /bin/sh refused with the reason; a real change saved.
  await page.goto(`${base}/app/admin/transcoding`);
  await page.waitForSelector('#transcoding-mode');
  const mode = await page.locator('#transcoding-mode').getAttribute('data-editable');
  const forms = await page.locator('form.profile').count();
  rec.step('transcoding-editable', mode === 'true' && forms >= 2, { mode, forms, note: await text(page, '#transcoding-mode') });
  await sweep(rec, page, 'admin-transcoding-desktop', b.problems(page));
  await page.fill('#name-new', 'shell');
  await page.fill('#format-new', 'sh');
  await page.fill('#command-new', '/bin/sh -c id');
  r = await submit(page, page.getByRole('button', { name: 'Add profile' }), '/app/admin/transcoding');
  rec.step('shell-refused', r.status() === 400, {
    status: r.status(),
    outcome: await text(page, '#admin-outcome'),
    role: await page.locator('#admin-outcome').getAttribute('role'),
  });
  await sweep(rec, page, 'admin-transcoding-refused-desktop', b.problems(page));
  const first = page.locator('form.profile').first();
  const name = await first.locator('input[name="name"]').inputValue();
  await first.locator('input[name="bitrate"]').fill('160');
  r = await submit(page, first.getByRole('button', { name: `Save profile ${name}` }), '/app/admin/transcoding');
  rec.step('profile-saved', r.status() === 200, {
    status: r.status(),
    outcome: await text(page, '#admin-outcome'),
    bitrate: await page.locator('form.profile').first().locator('input[name="bitrate"]').inputValue(),
  });

  // Security: one row per process, the events just caused.
  await page.goto(`${base}/app/admin/security`);
  await page.waitForSelector('#sandbox');
  const rows = await page.$$eval('#sandbox tbody tr', (trs) =>
    trs.map((tr) => ({
      role: tr.dataset.role,
      confined: tr.dataset.confined ?? null,
      cells: [...tr.children].map((c) => c.textContent.trim()),
    })),
  );
  const events = await page.$$eval('#events tbody tr', (trs) =>
    trs.map((tr) => ({ kind: tr.dataset.kind, cells: [...tr.children].map((c) => c.textContent.trim()) })),
  );
  rec.step('security-page', rows.length === 4, { rows, events });
  await sweep(rec, page, 'admin-security-desktop', b.problems(page));

  // Keyboard only: the skip link, then Tab reaches the sandbox table's scrolling region.
  await page.goto(`${base}/app/admin/users`);
  await page.keyboard.press('Tab');
  const skip = await page.evaluate(() => document.activeElement?.className ?? '');
  await page.keyboard.press('Enter');
  let reached = false;
  for (let i = 0; i < 40 && !reached; i += 1) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.id === 'new-username');
  }
  rec.step('keyboard', skip.includes('skip') && reached, { skip, reached });
}

async function phone() {
  const b = await browser({ viewport: PHONE });
  try {
    const page = await open(b);
    await login(page, admin, adminPassword);
    for (const name of PAGES) {
      await page.goto(`${base}/app/admin/${name}`);
      await page.waitForSelector('main h1');
      await sweep(rec, page, `admin-${name}-phone`, b.problems(page));
    }
  } finally {
    await b.close();
  }
}

async function notAdmin() {
  const b = await browser({ viewport: DESKTOP });
  try {
    const page = await open(b);
    await login(page, user, userPassword);
    const navEntries = await page.locator('nav.side a[data-nav^="admin-"]').count();
    const visits = [];
    for (const name of PAGES) {
      const r = await page.goto(`${base}/app/admin/${name}`);
      visits.push({ name, status: r.status(), h1: await text(page, 'main h1') });
    }
    await sweep(rec, page, 'admin-forbidden-desktop', b.problems(page));
    await page.goto(`${base}/app/`);
    const actions = [
      ['/app/admin/users', { do: 'create', username: 'mallory', password: 'mallory-password-1', admin: '1' }],
      ['/app/admin/users', { do: 'admin', username: user, admin: '1' }],
      ['/app/admin/users', { do: 'password', username: admin, password: 'taken-over-1' }],
      ['/app/admin/users', { do: 'delete', username: admin }],
      ['/app/admin/library', { do: 'scan', full: '1' }],
      ['/app/admin/transcoding', { do: 'save', id: '', name: 'x', format: 'x', bitrate: '128', command: 'ffmpeg -i %s -f mp3 -' }],
      ['/app/admin/transcoding', { do: 'delete', id: 'mp3' }],
      ['/app/api/createUser', { username: 'mallory', password: 'mallory-password-1', adminRole: 'true' }],
      ['/app/api/updateUser', { username: user, adminRole: 'true' }],
      ['/app/api/deleteUser', { username: admin }],
      ['/app/api/startScan', { fullScan: 'true' }],
      ['/app/api/createTranscoding', { name: 'x', targetFormat: 'x', defaultBitRate: '128', command: 'ffmpeg -i %s -' }],
      ['/app/api/getUsers', {}],
    ];
    const tried = [];
    for (const [path, fields] of actions) {
      const r = await post(page, `${base}${path}`, fields);
      let error = null;
      try {
        error = JSON.parse(r.text)['subsonic-response']?.error?.code ?? null;
      } catch {
        /* a page, not JSON */
      }
      tried.push({ path, action: fields.do ?? '', status: r.status, error });
    }
    rec.step('not-admin', navEntries === 0, { navEntries, visits, tried });
  } finally {
    await b.close();
  }
}

async function readOnly(b) {
  const page = await open(b);
  await login(page, admin, adminPassword);
  await page.goto(`${base}/app/admin/transcoding`);
  await page.waitForSelector('#transcoding-mode');
  const mode = await page.locator('#transcoding-mode').getAttribute('data-editable');
  const inputs = await page.locator('main input:not([type="hidden"])').count();
  const rows = await page.locator('#profiles tbody tr').count();
  await sweep(rec, page, 'admin-transcoding-read-only-desktop', b.problems(page));
  // Sent anyway (a hand-made request): the broker refuses, and the page says why.
  const r = await post(page, `${base}/app/admin/transcoding`, {
    do: 'save',
    id: '',
    name: 'extra',
    format: 'ogg',
    bitrate: '128',
    command: 'ffmpeg -i %s -f ogg -',
  });
  const reason = (r.text.match(/id="admin-outcome"[^>]*>([^<]*)</) ?? [])[1] ?? null;
  rec.step('transcoding-read-only', mode === 'false' && inputs === 0 && rows >= 1 && r.status === 403, {
    mode,
    inputs,
    rows,
    note: await text(page, '#transcoding-mode'),
    status: r.status,
    reason,
  });
}

let b;
let fatal;
let current = null;
try {
  b = await browser({ viewport: DESKTOP });
  if (mode === 'editable') {
    await editable(b);
    await phone();
    await notAdmin();
  } else {
    await readOnly(b);
  }
} catch (e) {
  fatal = `driving the pages failed at ${current?.url()}: ${e.stack ?? e}`;
  if (current) await shot(current, 'admin-failure').catch(() => {});
} finally {
  if (b) await b.close().catch(() => {});
}
const merged = watch.problems();
if (fatal) fail(fatal, { steps: rec.steps, pages: rec.pages, ...merged });
report({ steps: rec.steps, pages: rec.pages, dialogs: watch.dialogs, ...merged });
