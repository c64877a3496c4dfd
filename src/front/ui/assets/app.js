// redoubt's web UI: the one script. It is an ES module written by hand (no build step), served
// from this origin only, and the pages' policy lets nothing else run.
//
// What it does, on top of pages that work without it:
// - in-page navigation: links and forms below /app/ fetch the next page and swap <main>, so
//   the player around it keeps playing; the address bar and history follow;
// - search as you type, in the header's search box;
// - the player (player.js, shared with the share pages), fed from /app/stream and /app/art,
//   scrobbling through the bridge; the song actions of the pages (play, play next, queue);
// - keyboard shortcuts (the help dialog lists them; the player's own are in player.js).
//
// Rules it keeps: data from the server becomes text (textContent, attributes), never markup;
// the only HTML it parses is a page fetched from this server, through the Trusted Types policy
// "redoubt", which it creates once and keeps to itself; it has no words of its own (the page
// hands it its strings, from the server's catalogue); every request that changes something
// carries the session's CSRF token.

import { $, announce, enqueue, fill, markRows, playList, S, setShuffle, songFromJson, songFromRow, startPlayer } from './player.js';

const APP = new URL('../', import.meta.url).pathname; // "<BaseUrl>/app/"

// --- Trusted Types -------------------------------------------------------------------------

let expected = null;
const policy = window.trustedTypes
  ? window.trustedTypes.createPolicy('redoubt', {
      createHTML(html) {
        if (html !== expected) throw new TypeError('redoubt: only pages fetched from this server become HTML');
        expected = null;
        return html;
      },
    })
  : null;

/** A page this server rendered, parsed into a detached document (nothing in it runs or loads). */
function parseOwnPage(html) {
  expected = html;
  const doc = new DOMParser().parseFromString(policy ? policy.createHTML(html) : html, 'text/html');
  expected = null;
  return doc;
}

// --- Small helpers -------------------------------------------------------------------------

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? '';
const hasPlayer = !!$('player');

/** POSTs to the method table through /app/api/, with the CSRF token; resolves to the JSON. */
async function api(method, params, { post = false } = {}) {
  const body = new URLSearchParams(params);
  const init = post
    ? {
        method: 'POST',
        body,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': csrf() },
      }
    : { method: 'GET' };
  const url = post ? `${APP}api/${method}` : `${APP}api/${method}?${body}`;
  const res = await fetch(url, { ...init, credentials: 'same-origin' });
  const json = await res.json();
  const answer = json['subsonic-response'];
  if (!answer || answer.status !== 'ok') throw new Error(answer?.error?.message ?? `${method}: ${res.status}`);
  return answer;
}

// --- In-page navigation --------------------------------------------------------------------

let navigation = 0;
let searchTimer;

function isPageUrl(url) {
  if (url.origin !== location.origin || !url.pathname.startsWith(APP)) return false;
  return !/^(assets|stream|art|api)\//.test(url.pathname.slice(APP.length));
}

/**
 * Fetches a page and swaps its <main> in. Anything unexpected (another shell, not HTML, a
 * network failure) becomes an ordinary navigation.
 */
async function navigate(href, { method = 'GET', body = null, history: mode = 'push', focus = true, typed = false } = {}) {
  const mine = ++navigation;
  // A click while a search is still being typed: the click wins.
  if (!typed) clearTimeout(searchTimer);
  let res;
  try {
    res = await fetch(href, { method, body, headers: { 'X-UI-Partial': '1' }, credentials: 'same-origin' });
  } catch {
    location.assign(href);
    return;
  }
  if (mine !== navigation) return;
  if (!(res.headers.get('content-type') ?? '').startsWith('text/html')) {
    location.assign(res.url);
    return;
  }
  const html = await res.text();
  if (mine !== navigation) return;
  const doc = parseOwnPage(html);
  const next = doc.getElementById('main');
  if (!next || doc.body?.dataset.shell !== document.body.dataset.shell) {
    location.assign(res.url);
    return;
  }
  $('main').replaceWith(document.adoptNode(next));
  document.title = doc.title;
  if (mode === 'push' || (mode === 'redirect' && res.redirected)) history.pushState(null, '', res.url);
  else if (mode === 'replace') history.replaceState(null, '', res.url);
  pageShown({ focus, top: true });
}

/** What every newly shown <main> needs. */
function pageShown({ focus = false, top = false } = {}) {
  const main = $('main');
  if (!main) return;
  const current = main.dataset.nav;
  for (const a of document.querySelectorAll('nav.side a[data-nav]')) {
    if (current && a.dataset.nav === current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // The search box keeps its words on the search page only.
  if (searchBox && current !== 'search' && document.activeElement !== searchBox) searchBox.value = '';
  if (top) window.scrollTo(0, 0);
  if (focus) main.focus({ preventScroll: true });
  markRows();
  // The rate limiter's wait: the form stays disabled until it has passed.
  const wait = main.querySelector('[data-wait]');
  if (wait) {
    const button = main.querySelector('form button[type="submit"]');
    if (button) {
      button.disabled = true;
      setTimeout(() => {
        button.disabled = false;
      }, Number(wait.dataset.wait) * 1000);
    }
  }
}

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const action = e.target.closest('[data-action]');
  if (action && hasPlayer) {
    e.preventDefault();
    act(action);
    return;
  }
  const a = e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || a.hasAttribute('data-native')) return;
  if (a.id === 'help-link' && $('help')) {
    e.preventDefault();
    $('help').showModal();
    return;
  }
  const url = new URL(a.href, location.href);
  if (!isPageUrl(url)) return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
  e.preventDefault();
  navigate(url.href);
});

document.addEventListener('submit', (e) => {
  const form = e.target;
  if (form.method === 'dialog' || form.hasAttribute('data-native')) return;
  const action = new URL(form.action, location.href);
  if (!isPageUrl(action)) return;
  e.preventDefault();
  const data = new URLSearchParams(new FormData(form));
  if (form.method === 'get') {
    action.search = data.toString();
    navigate(action.href);
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  if (button) button.disabled = true;
  navigate(action.href, { method: 'POST', body: data, history: 'redirect' }).finally(() => {
    if (button && !$('main').querySelector('[data-wait]')) button.disabled = false;
  });
});

window.addEventListener('popstate', () => navigate(location.href, { history: 'none' }));

// --- Search as you type ----------------------------------------------------------------------

const searchBox = $('q');
searchBox?.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const url = new URL(`${APP}search`, location.href);
    const text = searchBox.value.trim();
    if (text) url.searchParams.set('q', text);
    const already = location.pathname === url.pathname;
    navigate(url.href, { history: already ? 'replace' : 'push', focus: false, typed: true });
  }, 150);
});

// --- The player, fed from this UI ------------------------------------------------------------

async function albumSongs(id) {
  const answer = await api('getAlbum', { id });
  return (answer.album?.song ?? []).map(songFromJson);
}

// The song actions on pages (data-action).
async function act(el) {
  const what = el.dataset.action;
  const row = el.closest('[data-id]');
  const rowsOf = () => Array.from(document.querySelectorAll('#main [data-songs] tr[data-id]'));
  switch (what) {
    case 'play-row': {
      const table = el.closest('[data-songs]');
      const rows = table ? Array.from(table.querySelectorAll('tr[data-id]')) : [row];
      // On an album page, the whole album (every disc) plays from this song on.
      const all = table && table.id.startsWith('tracks') ? rowsOf() : rows;
      playList(all.map(songFromRow), all.indexOf(row));
      break;
    }
    case 'play-next':
      if (row) enqueue([songFromRow(row)], true);
      break;
    case 'enqueue':
      if (row) enqueue([songFromRow(row)], false);
      break;
    case 'play-table':
    case 'shuffle-table':
    case 'enqueue-table':
    case 'play-album': {
      // The rows on the page, or (a paged album, a card in a grid) the whole album.
      let songs;
      try {
        songs = el.dataset.album ? await albumSongs(el.dataset.album) : rowsOf().map(songFromRow);
      } catch {
        announce(fill(S.cannot_play, { title: '' }));
        return;
      }
      if (what === 'enqueue-table') enqueue(songs, false);
      else if (what === 'shuffle-table') {
        setShuffle(true);
        playList(songs, Math.floor(Math.random() * songs.length));
      } else playList(songs);
      break;
    }
    default:
      break;
  }
}

startPlayer({
  stream: (song, params) => `${APP}stream/${encodeURIComponent(song.id)}?${params}`,
  art: (song, size) => `${APP}art/${encodeURIComponent(song.cover)}?size=${size}`,
  songHref: (song) =>
    song.albumId ? `${APP}album/${encodeURIComponent(song.albumId)}` : `${APP}song/${encodeURIComponent(song.id)}`,
  scrobble: (fields) => api('scrobble', fields, { post: true }).catch(() => {}),
  transcodings: async () => (await api('getTranscodings', {})).transcodings?.transcoding ?? [],
});

// --- Keyboard shortcuts of the UI (the player's own are in player.js) ------------------------

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || !hasPlayer) return;
  const target = e.target instanceof Element ? e.target : document.body;
  if (target.closest('input, textarea, select, [contenteditable]') || document.querySelector('dialog[open]')) return;
  if (e.key === '/') searchBox?.focus();
  else if (e.key === '?') $('help')?.showModal();
  else return;
  e.preventDefault();
});

pageShown();
