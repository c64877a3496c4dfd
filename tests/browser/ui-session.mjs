// The web UI's first run, login and logout, in chromium (tests/ui.rs
// `ui_first_run_login_lockout_and_logout`):
//
//   node tests/browser/ui-session.mjs <base> <setup-code> <user> <password> <limit>
//
// against a daemon with no user yet and AuthRequestLimit = <limit>. Prints one JSON line:
// `steps` (each checked step, ok or not), `pages` (each page's axe-core violations,
// overflow, landmarks, screenshot) and the page problems lib.mjs collects.

import { report, fail, args } from './lib.mjs';
import { DESKTOP, PHONE, recorder, sweep, watcher, posting } from './ui-lib.mjs';

const { base, code, user, password, limit } = args(['base', 'code', 'user', 'password', 'limit']);
const rec = recorder();
const watch = watcher();

const { browser, open } = watch;

const text = (page, selector) => page.locator(selector).first().textContent({ timeout: 5000 }).catch(() => null);

/** Submits the form in <main> and waits for the POST's answer (the script swaps it in). */
async function submit(page, path) {
  const r = await posting(page, path, () => page.locator('main form button[type="submit"]').click());
  await page.waitForLoadState('domcontentloaded');
  return r;
}

let b;
let fatal;
try {
  b = await browser({ viewport: DESKTOP });
  const page = await open(b);

  // First run: "/" leads to the setup page.
  await page.goto(`${base}/`);
  rec.step('first-run-page', page.url().endsWith('/app/setup') && (await page.locator('#code').count()) === 1, {
    url: page.url(),
  });
  await sweep(rec, page, 'setup-desktop', b.problems(page));

  // A wrong code, then passwords that differ: refused, in plain sentences.
  await page.fill('#code', '0000-0000-0000-0000-0000');
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.fill('#password2', password);
  let r = await submit(page, '/app/setup');
  await page.waitForSelector('#form-error');
  rec.step('wrong-code-refused', r.status() === 401, { status: r.status(), error: await text(page, '#form-error') });
  await sweep(rec, page, 'setup-wrong-code-desktop', b.problems(page));
  await page.fill('#code', code);
  await page.fill('#password', password);
  await page.fill('#password2', `${password}-not`);
  r = await submit(page, '/app/setup');
  await page.waitForSelector('#form-error');
  rec.step('passwords-differ', r.status() === 400, { status: r.status(), error: await text(page, '#form-error') });

  // The right code: the admin exists and is logged in.
  await page.fill('#code', code);
  await page.fill('#password', password);
  await page.fill('#password2', password);
  await page.locator('main form button[type="submit"]').click();
  await page.waitForURL(/\/app\/$/);
  await page.waitForSelector('main h1');
  rec.step('admin-created', true, { h1: await text(page, 'main h1'), user: await text(page, '.user-name') });
  await sweep(rec, page, 'albums-empty-desktop', b.problems(page));

  // Logout (a plain form with the CSRF token).
  await page.locator('form.logout button').click();
  await page.waitForURL(/\/app\/login\?out=1$/);
  rec.step('logged-out', true, { notice: await text(page, '.notice'), cookies: (await b.context.cookies()).length });
  await sweep(rec, page, 'login-logged-out-desktop', b.problems(page));

  // Once an admin exists the setup page says so.
  await page.goto(`${base}/app/setup`);
  rec.step('setup-closed', (await page.locator('#code').count()) === 0, {
    h1: await text(page, 'main h1'),
    text: await text(page, 'main .lede'),
    link: await page.locator('main a[href$="/app/login"]').count(),
  });
  await sweep(rec, page, 'setup-closed-desktop', b.problems(page));

  // Wrong passwords, then the rate limiter's answer as a sentence with the wait.
  await page.goto(`${base}/app/login`);
  const attempts = [];
  for (let i = 0; i <= Number(limit); i++) {
    await page.fill('#username', user);
    await page.fill('#password', `wrong-${i}`);
    r = await submit(page, '/app/login');
    await page.waitForSelector('#form-error');
    attempts.push({
      status: r.status(),
      retryAfter: r.headers()['retry-after'] ?? null,
      error: await text(page, '#form-error'),
      wait: await page.locator('#form-error').getAttribute('data-wait'),
      disabled: await page.locator('main form button[type="submit"]').isDisabled(),
    });
    if (r.status() === 429) break;
  }
  rec.step('wrong-passwords', true, { attempts });
  await sweep(rec, page, 'login-locked-out-desktop', b.problems(page));

  // After the wait, the right password works.
  const locked = attempts[attempts.length - 1];
  await page.waitForTimeout((Number(locked.retryAfter ?? 1) + 1) * 1000);
  await page.reload();
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.locator('main form button[type="submit"]').click();
  await page.waitForURL(/\/app\/$/);
  rec.step('login-after-the-wait', true, { user: await text(page, '.user-name') });
  await b.close();
  b = null;

  // The same forms without any script: plain HTML posts and redirects.
  b = await browser({ viewport: DESKTOP, contextOptions: { javaScriptEnabled: false } });
  const plain = await open(b);
  await plain.goto(`${base}/app/albums?list=random`);
  await plain.waitForURL(/\/app\/login\?next=/);
  await plain.fill('#username', user);
  await plain.fill('#password', password);
  await plain.locator('main form button[type="submit"]').click();
  await plain.waitForURL(/\/app\/albums\?list=random$/);
  rec.step('plain-html-login-returns-to-the-page', true, { h1: await text(plain, 'main h1') });
  await plain.locator('form.logout button').click();
  await plain.waitForURL(/\/app\/login\?out=1$/);
  rec.step('plain-html-logout', true, { notice: await text(plain, '.notice') });
  await b.close();
  b = null;

  // The session pages at phone width, light and dark.
  for (const scheme of ['light', 'dark']) {
    b = await browser({ viewport: PHONE, contextOptions: { colorScheme: scheme, isMobile: true, hasTouch: true } });
    const phone = await open(b);
    await phone.goto(`${base}/app/login`);
    await sweep(rec, phone, `login-phone-${scheme}`, b.problems(phone));
    await phone.goto(`${base}/app/setup`);
    await sweep(rec, phone, `setup-closed-phone-${scheme}`, b.problems(phone));
    await b.close();
    b = await browser({ viewport: DESKTOP, contextOptions: { colorScheme: scheme } });
    const desk = await open(b);
    await desk.goto(`${base}/app/login`);
    await sweep(rec, desk, `login-desktop-${scheme}`, b.problems(desk));
    await b.close();
    b = null;
  }
} catch (e) {
  fatal = `driving the pages failed: ${e.stack ?? e}`;
} finally {
  if (b) await b.close();
}
const merged = watch.problems();
if (fatal) fail(fatal, { steps: rec.steps, pages: rec.pages, ...merged });
report({ steps: rec.steps, pages: rec.pages, dialogs: watch.dialogs, ...merged });
