// redoubt's web UI: the one script. It is an ES module written by hand (no build step), served
// from this origin only, and the pages' policy lets nothing else run.
//
// What it does, on top of pages that work without it:
// - in-page navigation: links and forms below /app/ fetch the next page and swap <main>, so
//   the player around it keeps playing; the address bar and history follow;
// - search as you type, in the header's search box;
// - the player (player.js, shared with the share pages), fed from /app/stream and /app/art,
//   scrobbling through the bridge; the song actions of the pages (play, play next, queue);
// - shares: the Share action's dialog (createShare through the bridge) and the links' Copy
//   buttons (the clipboard, or the link selected for the keyboard);
// - your music: stars, ratings, adding a song to a playlist (a dialog), and the play queue saved
//   on the server (savePlayQueueByIndex) and restored on a page with an empty queue, so that
//   another device's queue appears; the theme chosen in the settings;
// - keyboard shortcuts (the help dialog lists them; the player's own are in player.js).
//
// Rules it keeps: data from the server becomes text (textContent, attributes), never markup;
// the only HTML it parses is a page fetched from this server, through the Trusted Types policy
// "redoubt", which it creates once and keeps to itself; it has no words of its own (the page
// hands it its strings, from the server's catalogue); every request that changes something
// carries the session's CSRF token.

import {
  $,
  announce,
  enqueue,
  fill,
  markRows,
  playList,
  queueState,
  restoreQueue,
  S,
  setShuffle,
  songFromJson,
  songFromRow,
  startPlayer,
  store,
} from './player.js';

const APP = new URL('../', import.meta.url).pathname; // "<BaseUrl>/app/"

// --- The theme: as the system, light or dark, kept in this browser -----------------------------
// Applied first, as a data- attribute on <html>; a cookie tells the server too, so that the
// next page is rendered in it without a flash (no inline script is allowed to do it earlier).

const THEMES = ['system', 'light', 'dark'];

function applyTheme(theme) {
  const t = THEMES.includes(theme) ? theme : 'system';
  if (t === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  document.cookie = `redoubt_theme=${t}; path=${APP}; max-age=${t === 'system' ? 0 : 31536000}; SameSite=Strict`;
}
applyTheme(store.get('theme', 'system'));

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
  // A page that says where the focus goes (the song just moved in a playlist).
  const keep = main.querySelector('[data-focus]');
  if (focus && keep) {
    const up = keep.value?.startsWith('up:');
    const other = keep.parentElement?.querySelector(up ? 'button[value^="down:"]' : 'button[value^="up:"]');
    (keep.disabled ? other : keep)?.focus();
  }
  const themeChoice = main.querySelector('#theme-choice');
  if (themeChoice) themeChoice.value = store.get('theme', 'system');
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
  // The button that submitted the form says what to do (a playlist's up, down, remove).
  const data = new URLSearchParams(new FormData(form, e.submitter ?? undefined));
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
    case 'star':
      star(el);
      break;
    case 'add-to-playlist':
      if (row) openAddToPlaylist(songFromRow(row));
      break;
    case 'share':
      openShare(el.dataset.shareId, el.dataset.shareName ?? '');
      break;
    case 'copy-link':
      copyLink(el);
      break;
    default:
      break;
  }
}

// --- Your music: stars, ratings, playlists ---------------------------------------------------

async function star(button) {
  const on = button.getAttribute('aria-pressed') !== 'true';
  const title = button.closest('[data-title]')?.dataset.title ?? '';
  try {
    await api(on ? 'star' : 'unstar', { [button.dataset.starParam || 'id']: button.dataset.starId }, { post: true });
    button.setAttribute('aria-pressed', String(on));
    announce(fill(on ? S.starred_done : S.unstarred_done, { title }));
  } catch (e) {
    announce(fill(S.change_failed, { reason: e.message }));
  }
}

document.addEventListener('change', async (e) => {
  const select = e.target;
  if (select.id === 'theme-choice') {
    store.set('theme', select.value);
    applyTheme(select.value);
    return;
  }
  if (!(select instanceof HTMLSelectElement) || !select.dataset.rate) return;
  try {
    await api('setRating', { id: select.dataset.rate, rating: select.value }, { post: true });
    announce(S.rating_saved);
  } catch (err) {
    announce(fill(S.change_failed, { reason: err.message }));
  }
});

let adding = null;
const addDialog = $('add-to-playlist');

async function openAddToPlaylist(song) {
  if (!addDialog) return;
  adding = song;
  $('atp-song').textContent = song.title;
  const target = $('atp-target');
  try {
    const lists = (await api('getPlaylists', {})).playlists?.playlist ?? [];
    const me = document.querySelector('.user-name')?.textContent ?? '';
    const options = [target.options[0]];
    for (const p of lists) {
      if (p.readonly || (p.owner && p.owner !== me)) continue;
      const option = document.createElement('option');
      option.value = p.id;
      option.textContent = p.name;
      options.push(option);
    }
    target.replaceChildren(...options);
    const last = store.get('lastPlaylist', '');
    target.value = last && options.some((o) => o.value === last) ? last : options.length > 1 ? options[1].value : '';
  } catch {
    /* only a new playlist then */
  }
  $('atp-name').value = '';
  showNameField();
  addDialog.showModal();
}

function showNameField() {
  const isNew = $('atp-target').value === '';
  $('atp-name').hidden = !isNew;
  $('atp-name').labels[0].hidden = !isNew;
  $('atp-name').required = isNew;
}

if (addDialog) {
  $('atp-target').addEventListener('change', showNameField);
  addDialog.addEventListener('close', async () => {
    const song = adding;
    adding = null;
    if (!song || addDialog.returnValue !== 'add') return;
    const id = $('atp-target').value;
    const name = id ? $('atp-target').selectedOptions[0].textContent : $('atp-name').value.trim();
    try {
      if (id) await api('updatePlaylist', { playlistId: id, songIdToAdd: song.id }, { post: true });
      else {
        const made = await api('createPlaylist', { name, songId: song.id }, { post: true });
        if (made.playlist?.id) store.set('lastPlaylist', made.playlist.id);
      }
      if (id) store.set('lastPlaylist', id);
      announce(fill(S.added_to_playlist, { title: song.title, playlist: name }));
    } catch (e) {
      announce(fill(S.change_failed, { reason: e.message }));
    }
  });
}

// --- Shares: the Share dialog, and the Copy buttons of links ---------------------------------
// The dialog's form is the new-share page's (a plain POST without the script); here it goes to
// createShare through the bridge, and the dialog then shows the new link.

const shareDialog = $('share-dialog');

function openShare(id, name) {
  if (!shareDialog || !id) {
    location.assign(`${APP}shares/new?id=${encodeURIComponent(id ?? '')}`);
    return;
  }
  const form = $('share-form');
  form.reset();
  $('share-id').value = id;
  $('share-what').textContent = name;
  $('share-error').hidden = true;
  form.hidden = false;
  $('share-done').hidden = true;
  shareDialog.showModal();
}

/** A date field's day, to its end (UTC), in ms, as the server reads the same field. */
function endOfDay(date) {
  const [y, m, d] = date.split('-').map(Number);
  return Date.UTC(y, m - 1, d, 23, 59, 59);
}

async function copyLink(button) {
  const field = $(button.dataset.target);
  if (!field) return;
  try {
    await navigator.clipboard.writeText(field.value);
    announce(S.link_copied);
  } catch {
    // No clipboard (an insecure origin, a refusal): the link selected, for the keyboard.
    field.focus();
    field.select();
    announce(S.copy_by_hand);
  }
}

if (shareDialog) {
  const form = $('share-form');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = form.elements;
    const params = {
      id: $('share-id').value,
      description: f.description.value,
      expires: f.expires.value ? String(endOfDay(f.expires.value)) : '0',
      downloadable: String(f.downloadable.checked),
      transcode: String(f.transcode.checked),
    };
    if (f.password.value) params.password = f.password.value;
    if (f.maxPlays.value) params.maxPlays = f.maxPlays.value;
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const made = await api('createShare', params, { post: true });
      const share = made.shares?.share?.[0];
      if (!share?.url) throw new Error('createShare');
      $('share-link').value = share.url;
      form.hidden = true;
      $('share-done').hidden = false;
      $('share-done').querySelector('[data-action="copy-link"]').focus();
    } catch (err) {
      $('share-error').textContent = fill(S.change_failed, { reason: err.message });
      $('share-error').hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  $('share-cancel').addEventListener('click', () => shareDialog.close());
  $('share-close').addEventListener('click', () => shareDialog.close());
}

// --- The play queue, kept on the server ------------------------------------------------------
// Saved a second after it changes and when the page goes away; restored on a page whose queue
// is empty (a reload, another device). The share pages' player never saves: it has no hook.

let saveTimer;
let lastSaved = '';

function saveQueue({ now = false } = {}) {
  clearTimeout(saveTimer);
  const send = () => {
    const q = queueState();
    const params = q.ids.map((id) => ['id', id]);
    if (q.ids.length) {
      params.push(['currentIndex', String(Math.max(0, q.index))]);
      params.push(['position', String(Math.floor(q.position * 1000))]);
    }
    const body = new URLSearchParams(params).toString();
    if (body === lastSaved) return;
    lastSaved = body;
    fetch(`${APP}api/savePlayQueueByIndex`, {
      method: 'POST',
      body,
      // A save in flight outlives the page (a full navigation would abort it otherwise);
      // browsers limit such bodies to 64 KiB, so a very long queue is sent plainly.
      keepalive: body.length < 60000,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': csrf() },
    }).catch(() => {
      lastSaved = '';
    });
  };
  if (now) send();
  else saveTimer = setTimeout(send, 1000);
}

let restoring = true;

async function restoreSavedQueue() {
  try {
    const q = (await api('getPlayQueueByIndex', {})).playQueueByIndex;
    const songs = (q?.entry ?? []).map(songFromJson);
    if (songs.length && restoreQueue(songs, Number(q.currentIndex ?? 0), Number(q.position ?? 0) / 1000)) {
      lastSaved = new URLSearchParams([
        ...songs.map((s) => ['id', s.id]),
        ['currentIndex', String(Number(q.currentIndex ?? 0))],
        ['position', String(Number(q.position ?? 0))],
      ]).toString();
    }
  } catch {
    /* nothing saved, or the server is restarting: start empty */
  } finally {
    restoring = false;
  }
}

startPlayer({
  stream: (song, params) => `${APP}stream/${encodeURIComponent(song.id)}?${params}`,
  art: (song, size) => `${APP}art/${encodeURIComponent(song.cover)}?size=${size}`,
  songHref: (song) =>
    song.albumId ? `${APP}album/${encodeURIComponent(song.albumId)}` : `${APP}song/${encodeURIComponent(song.id)}`,
  scrobble: (fields) => api('scrobble', fields, { post: true }).catch(() => {}),
  transcodings: async () => (await api('getTranscodings', {})).transcodings?.transcoding ?? [],
  onChange: () => {
    if (!restoring) saveQueue();
  },
});

if (hasPlayer) {
  restoreSavedQueue();
  window.addEventListener('pagehide', () => {
    if (!restoring) saveQueue({ now: true });
  });
}

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
