// Helpers for the web UI's browser tests (tests/ui.rs drives ui-session.mjs and
// ui-library.mjs), on top of lib.mjs.
//
// A script records what it saw as `steps` (name, ok, details) and what it checked on every
// page as `pages` (axe-core's serious and critical violations, horizontal overflow, the
// landmarks, console errors and CSP violations so far), then prints them with `report`.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { axe, fail, openBrowser, screenshotDir } from './lib.mjs';

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 812 };

/**
 * The browsers a script launches and the pages it opens, watched: each page's problems
 * (lib.mjs) and each JavaScript dialog, dismissed and counted (a stored-XSS payload that ran
 * would open one).
 */
export function watcher() {
  const seen = [];
  const w = {
    dialogs: 0,
    async browser(options) {
      try {
        return await openBrowser(options);
      } catch (e) {
        fail(`cannot launch chromium: ${e.message}`);
      }
    },
    /** A new page of browser `b`, watched; `also(page)` adds the script's own listeners. */
    async open(b, also) {
      const page = await b.newPage();
      page.on('dialog', (d) => {
        w.dialogs += 1;
        d.dismiss().catch(() => {});
      });
      if (also) also(page);
      seen.push(b.problems(page));
      return page;
    },
    /** The problems of the page opened last (for `sweep`). */
    latest() {
      return seen.at(-1);
    },
    /** Every watched page's problems, merged, for `report`. */
    problems() {
      const merged = { consoleErrors: [], pageErrors: [], cspViolations: [], failedRequests: [] };
      for (const p of seen) for (const k of Object.keys(merged)) merged[k].push(...p[k]);
      return merged;
    },
  };
  return w;
}

/** The run's record. */
export function recorder() {
  const steps = [];
  const pages = [];
  return {
    steps,
    pages,
    /** Records a step; `ok` false stops nothing, the Rust test reports it. */
    step(name, ok, details = {}) {
      steps.push({ name, ok: Boolean(ok), ...details });
      if (!ok) process.stderr.write(`step ${name} failed: ${JSON.stringify(details)}\n`);
      return ok;
    },
  };
}

/** What the viewport shows, as `<screenshotDir>/ui-<name>.png` (the player bar where it sits). */
export async function shot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `ui-${name.replace(/[^A-Za-z0-9._-]/g, '_')}.png`);
  await page.screenshot({ path });
  return path;
}

/**
 * Checks the page as it is: axe-core (serious and critical), no horizontal scrolling (the
 * phone test's 375 px), the landmarks a screen reader navigates by, and a screenshot.
 */
export async function sweep(rec, page, name, problems) {
  // Images (lazy covers) and fonts settle before the screenshot and the contrast check.
  await page.waitForLoadState('networkidle').catch(() => {});
  const violations = await axe(page);
  const layout = await page.evaluate(() => ({
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    banner: document.querySelectorAll('header.top').length,
    main: document.querySelectorAll('main#main').length,
    navigation: document.querySelectorAll('nav[aria-label]').length,
    player: document.querySelectorAll('section#player[aria-label]:not([hidden])').length,
    title: document.title,
    h1: document.querySelector('main h1, main h2')?.textContent ?? '',
    url: location.pathname + location.search,
  }));
  const screenshot = await shot(page, name);
  rec.pages.push({
    name,
    ...layout,
    axe: violations,
    screenshot,
    consoleErrors: problems.consoleErrors.length,
    cspViolations: problems.cspViolations.length,
    pageErrors: problems.pageErrors.length,
  });
}

/** Resolves once `fn` (run in the page) is truthy; false after `timeoutMs`. */
export async function pageUntil(page, fn, arg, timeoutMs = 15000) {
  try {
    await page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 100 });
    return true;
  } catch {
    return false;
  }
}

/** The audio element's state. */
export function audioState(page) {
  return page.evaluate(() => {
    const a = document.getElementById('audio');
    return {
      src: a.getAttribute('src') ?? '',
      paused: a.paused,
      currentTime: a.currentTime,
      readyState: a.readyState,
      error: a.error ? a.error.code : null,
      title: document.getElementById('now-title')?.textContent ?? '',
      marked: a.dataset.testMark ?? null,
    };
  });
}

/**
 * Runs `act` and waits for the answer to the POST to `path` it causes, body and all: a
 * response resolves once its headers arrive, and a navigation right after that aborts the
 * body's read (the page's fetch then fails with net::ERR_ABORTED, a "failed request").
 */
export async function posting(page, path, act) {
  const answer = page.waitForResponse((r) => r.url().includes(path) && r.request().method() === 'POST');
  await act();
  const r = await answer;
  await r.finished();
  return r;
}
