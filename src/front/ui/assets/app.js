// redoubt's web UI: the one script. It is an ES module written by hand (no build step), served
// from this origin only, and the pages' policy lets nothing else run.
//
// What it does, on top of pages that work without it:
// - in-page navigation: links and forms below /app/ fetch the next page and swap <main>, so
//   the player around it keeps playing; the address bar and history follow;
// - search as you type, in the header's search box;
// - the player: an HTML5 <audio> with a queue, shuffle, repeat, seeking, volume, ReplayGain
//   (a Web Audio gain node, off by default), the Media Session API, scrobbling the way Subsonic
//   clients do, and a per-browser format and bit-rate choice;
// - keyboard shortcuts (the help dialog lists them).
//
// Rules it keeps: data from the server becomes text (textContent, attributes), never markup;
// the only HTML it parses is a page fetched from this server, through the Trusted Types policy
// "redoubt", which it creates once and keeps to itself; it has no words of its own (the page
// hands it its strings, from the server's catalogue); every request that changes something
// carries the session's CSRF token.

const APP = new URL('../', import.meta.url).pathname; // "<BaseUrl>/app/"
const $ = (id) => document.getElementById(id);

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
const playerEl = $('player');
const S = playerEl ? JSON.parse(playerEl.dataset.strings || '{}') : {};
const fill = (template, values) =>
  String(template ?? '').replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));

function clock(secs) {
  const t = Math.max(0, Math.floor(Number.isFinite(secs) ? secs : 0));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function announce(message) {
  const box = $('status');
  if (!box) return;
  box.textContent = '';
  // A separate task, so that the same message twice is announced twice.
  setTimeout(() => {
    box.textContent = message;
  }, 30);
}

const store = {
  get(key, fallback) {
    try {
      return localStorage.getItem(`redoubt.${key}`) ?? fallback;
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(`redoubt.${key}`, String(value));
    } catch {
      /* private mode: settings last for this page only */
    }
  },
};

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
  if (action && playerEl) {
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

// --- The player ------------------------------------------------------------------------------

const audio = $('audio');
const state = { queue: [], index: -1, order: [], shuffle: false, repeat: 'off' };
const settings = {
  format: store.get('format', ''),
  maxBitRate: store.get('maxBitRate', '0'),
  replayGain: store.get('replayGain', 'off'),
};
let playerName = store.get('player', '');
if (!/^web-[0-9a-f]{12}$/.test(playerName)) {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  playerName = `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  store.set('player', playerName);
}

// Where the current stream starts in the song (a transcode started with timeOffset).
let offset = 0;
let pendingSeek = null;
// Scrobbling: seconds actually listened to, and what has been reported.
let listened = 0;
let lastTick = null;
let reported = { now: false, done: false };
let startedAt = 0;

const num = (v) => (v === undefined || v === '' || v === null ? null : Number(v));
const current = () => state.queue[state.index] ?? null;

function songFromRow(row) {
  const d = row.dataset;
  return {
    id: d.id,
    title: d.title ?? '',
    artist: d.artist ?? '',
    album: d.album ?? '',
    albumId: d.albumId ?? '',
    duration: Number(d.duration) || 0,
    cover: d.cover || d.id,
    tg: num(d.tg),
    tp: num(d.tp),
    ag: num(d.ag),
    ap: num(d.ap),
  };
}

function songFromJson(s) {
  const rg = s.replayGain ?? {};
  return {
    id: s.id,
    title: s.title ?? '',
    artist: s.artist ?? '',
    album: s.album ?? '',
    albumId: s.albumId ?? '',
    duration: Number(s.duration) || 0,
    cover: s.coverArt || s.albumId || s.id,
    tg: num(rg.trackGain),
    tp: num(rg.trackPeak),
    ag: num(rg.albumGain),
    ap: num(rg.albumPeak),
  };
}

const art = (id, size) => `${APP}art/${encodeURIComponent(id)}?size=${size}`;

function streamUrl(song, from) {
  const p = new URLSearchParams({ c: playerName });
  if (settings.format) p.set('format', settings.format);
  if (settings.maxBitRate && settings.maxBitRate !== '0') p.set('maxBitRate', settings.maxBitRate);
  if (from > 0) p.set('timeOffset', String(Math.floor(from)));
  return `${APP}stream/${encodeURIComponent(song.id)}?${p}`;
}

function position() {
  return offset + (audio.currentTime || 0);
}

function duration() {
  const song = current();
  if (song?.duration) return song.duration;
  return Number.isFinite(audio.duration) ? audio.duration : 0;
}

function reshuffle() {
  const rest = state.queue.map((_, i) => i).filter((i) => i !== state.index);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  state.order = state.index >= 0 ? [state.index, ...rest] : rest;
}

function step(by) {
  const n = state.queue.length;
  if (n === 0) return -1;
  if (state.shuffle) {
    let at = state.order.indexOf(state.index) + by;
    if (at >= n) {
      if (state.repeat !== 'all') return -1;
      reshuffle();
      at = 1 % n;
    }
    return state.order[Math.max(0, at)];
  }
  const i = state.index + by;
  if (i >= n) return state.repeat === 'all' ? 0 : -1;
  return Math.max(0, i);
}

function play() {
  audioContext?.resume();
  const p = audio.play();
  p?.catch((e) => {
    if (e.name !== 'AbortError') announce(fill(S.cannot_play, { title: current()?.title ?? '' }));
  });
}

function load(index, autoplay) {
  const song = state.queue[index];
  if (!song) return;
  state.index = index;
  offset = 0;
  pendingSeek = null;
  listened = 0;
  lastTick = null;
  reported = { now: false, done: false };
  startedAt = Date.now();
  audio.src = streamUrl(song, 0);
  showSong(song);
  applyGain();
  renderQueue();
  markRows();
  if (autoplay) play();
}

function stop() {
  audio.pause();
  audio.removeAttribute('src');
  audio.load();
  state.index = -1;
  offset = 0;
  showSong(null);
  renderQueue();
  markRows();
}

function playList(songs, start = 0) {
  if (!songs.length) return;
  state.queue = songs.slice();
  state.index = -1;
  const first = Math.min(Math.max(0, start), songs.length - 1);
  state.index = first;
  if (state.shuffle) reshuffle();
  load(first, true);
}

function enqueue(songs, next) {
  if (!songs.length) return;
  const empty = state.queue.length === 0;
  const at = next && state.index >= 0 ? state.index + 1 : state.queue.length;
  state.queue.splice(at, 0, ...songs);
  if (state.shuffle) reshuffle();
  if (empty) {
    load(0, true);
  } else {
    renderQueue();
  }
  const title = songs.length === 1 ? songs[0].title : songs[0].album;
  announce(fill(next ? S.playing_next : S.added_to_queue, { title }));
}

function seekTo(t) {
  const song = current();
  if (!song) return;
  const target = Math.max(0, Math.min(t, duration() || t));
  if (audio.readyState < 1) {
    pendingSeek = target;
    return;
  }
  const local = target - offset;
  const seekable = audio.seekable;
  if (local >= 0 && seekable.length > 0 && seekable.end(seekable.length - 1) >= local - 0.5) {
    audio.currentTime = local;
  } else {
    // A transcoded stream cannot seek: start a new one there (timeOffset).
    const playing = !audio.paused;
    offset = Math.floor(target);
    audio.src = streamUrl(song, offset);
    if (playing) play();
  }
  updateTime();
}

function togglePlay() {
  if (!current()) {
    if (state.queue.length) load(0, true);
    return;
  }
  if (audio.paused) play();
  else audio.pause();
}

function next() {
  const i = step(1);
  if (i >= 0) load(i, true);
}

function previous() {
  if (position() > 3) {
    seekTo(0);
    return;
  }
  const i = state.shuffle ? step(-1) : Math.max(0, state.index - 1);
  if (i >= 0) load(i, true);
}

// Scrobbling, as Subsonic clients do: "now playing" when a song starts, a submission once it
// has been listened to for half its length or four minutes.
function scrobble(song, submission) {
  api('scrobble', { id: song.id, submission: String(submission), time: String(startedAt), c: playerName }, { post: true }).catch(
    () => {},
  );
}

// ReplayGain: a Web Audio gain node, made the first time it is turned on (the element's sound
// then flows through it for good).
let audioContext = null;
let gainNode = null;

function applyGain() {
  const mode = settings.replayGain;
  if (mode === 'off' && !gainNode) return;
  if (!audioContext) {
    try {
      audioContext = new AudioContext();
      gainNode = audioContext.createGain();
      audioContext.createMediaElementSource(audio).connect(gainNode).connect(audioContext.destination);
    } catch {
      return;
    }
  }
  const song = current();
  let gain = 1;
  if (song && mode !== 'off') {
    const db = mode === 'album' ? (song.ag ?? song.tg) : (song.tg ?? song.ag);
    const peak = mode === 'album' ? (song.ap ?? song.tp) : (song.tp ?? song.ap);
    if (db !== null && Number.isFinite(db)) gain = 10 ** (db / 20);
    if (peak && gain * peak > 1) gain = 1 / peak;
  }
  gainNode.gain.value = gain;
}

// What is shown.

function showSong(song) {
  const title = $('now-title');
  const artist = $('now-artist');
  const cover = $('now-cover');
  if (!song) {
    title.textContent = S.nothing_playing ?? '';
    title.removeAttribute('href');
    artist.textContent = '';
    cover.hidden = true;
    $('seek').max = '0';
    updateTime();
    if ('mediaSession' in navigator) navigator.mediaSession.metadata = null;
    return;
  }
  title.textContent = song.title;
  title.href = song.albumId ? `${APP}album/${encodeURIComponent(song.albumId)}` : `${APP}song/${encodeURIComponent(song.id)}`;
  artist.textContent = song.artist;
  cover.src = art(song.cover, 300);
  cover.hidden = false;
  $('seek').max = String(Math.max(1, Math.round(song.duration)));
  updateTime();
  if ('mediaSession' in navigator && window.MediaMetadata) {
    navigator.mediaSession.metadata = new MediaMetadata({
      title: song.title,
      artist: song.artist,
      album: song.album,
      artwork: [{ src: new URL(art(song.cover, 512), location.href).href, sizes: '512x512' }],
    });
  }
}

let dragging = false;
function updateTime() {
  const pos = current() ? position() : 0;
  const total = current() ? duration() : 0;
  $('elapsed').textContent = clock(pos);
  $('total').textContent = clock(total);
  const seek = $('seek');
  if (!dragging) seek.value = String(Math.round(pos));
  seek.setAttribute('aria-valuetext', fill(S.seek_value, { elapsed: clock(pos), total: clock(total) }));
}

function showPlaying() {
  const playing = !audio.paused && !!current();
  playerEl.classList.toggle('is-playing', playing);
  const button = $('play');
  const label = playing ? S.pause : S.play;
  button.setAttribute('aria-label', label);
  button.title = label;
  if ('mediaSession' in navigator) navigator.mediaSession.playbackState = current() ? (playing ? 'playing' : 'paused') : 'none';
}

function markRows() {
  const id = current()?.id;
  for (const row of document.querySelectorAll('#main tr[data-id]')) row.classList.toggle('playing', row.dataset.id === id);
}

function renderQueue() {
  const list = $('queue-list');
  if (!list) return;
  const template = $('queue-item');
  const n = state.queue.length;
  $('queue-empty').hidden = n > 0;
  $('queue-clear').hidden = n === 0;
  // A window around the current song: a long queue never fills the document.
  const first = Math.max(0, Math.min(state.index - 20, n - 200));
  const last = Math.min(n, first + 200);
  const items = [];
  for (let i = first; i < last; i++) {
    const song = state.queue[i];
    const li = template.content.firstElementChild.cloneNode(true);
    li.dataset.index = String(i);
    if (i === state.index) li.setAttribute('aria-current', 'true');
    li.querySelector('.q-title').textContent = song.title;
    li.querySelector('.q-artist').textContent = song.artist;
    li.querySelector('.q-duration').textContent = clock(song.duration);
    const label = (key) => fill(S[key], { title: song.title });
    for (const [cls, key] of [
      ['.q-up', 'move_up'],
      ['.q-down', 'move_down'],
      ['.q-remove', 'remove_song'],
    ]) {
      const b = li.querySelector(cls);
      b.setAttribute('aria-label', label(key));
      b.title = label(key);
    }
    li.querySelector('.q-up').disabled = i === 0;
    li.querySelector('.q-down').disabled = i === n - 1;
    items.push(li);
  }
  list.replaceChildren(...items);
  const more = $('queue-more');
  more.hidden = last >= n;
  more.textContent = last < n ? fill(S.queue_more, { n: n - last }) : '';
}

function move(from, to) {
  if (to < 0 || to >= state.queue.length) return;
  const [song] = state.queue.splice(from, 1);
  state.queue.splice(to, 0, song);
  if (state.index === from) state.index = to;
  else if (from < state.index && to >= state.index) state.index--;
  else if (from > state.index && to <= state.index) state.index++;
  if (state.shuffle) reshuffle();
  renderQueue();
}

function remove(i) {
  const wasCurrent = i === state.index;
  const playing = !audio.paused;
  state.queue.splice(i, 1);
  if (i < state.index) state.index--;
  if (state.shuffle) reshuffle();
  if (wasCurrent) {
    if (state.queue.length === 0) stop();
    else load(Math.min(i, state.queue.length - 1), playing);
  } else {
    renderQueue();
  }
}

function clearQueue() {
  state.queue = [];
  state.order = [];
  stop();
  announce(S.queue_cleared);
}

function toggleQueue(open) {
  const panel = $('queue');
  const show = open ?? panel.hidden;
  panel.hidden = !show;
  $('queue-toggle').setAttribute('aria-expanded', String(show));
  if (show) {
    renderQueue();
    $('queue-close').focus();
  } else if (panel.contains(document.activeElement) || document.activeElement === document.body) {
    $('queue-toggle').focus();
  }
}

function setVolume(v) {
  const level = Math.max(0, Math.min(100, Math.round(v)));
  $('volume').value = String(level);
  audio.volume = (level / 100) ** 2;
  store.set('volume', level);
}

function showMuted() {
  const b = $('mute');
  b.classList.toggle('is-muted', audio.muted);
  const label = audio.muted ? S.unmute : S.mute;
  b.setAttribute('aria-label', label);
  b.title = label;
}

function setRepeat(mode) {
  state.repeat = mode;
  const b = $('repeat');
  b.dataset.mode = mode;
  const label = S[`repeat_${mode}`];
  b.setAttribute('aria-label', label);
  b.title = label;
  store.set('repeat', mode);
}

function setShuffle(on) {
  state.shuffle = on;
  $('shuffle').setAttribute('aria-pressed', String(on));
  if (on) reshuffle();
  store.set('shuffle', on ? '1' : '');
}

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

// Playback settings: kept in this browser; the server's caps for this player still apply.
let formatsLoaded = false;
async function openSettings() {
  const dialog = $('settings');
  const format = $('set-format');
  if (!formatsLoaded) {
    formatsLoaded = true;
    try {
      const answer = await api('getTranscodings', {});
      const seen = new Set();
      for (const t of answer.transcodings?.transcoding ?? []) {
        if (!t.targetFormat || seen.has(t.targetFormat)) continue;
        seen.add(t.targetFormat);
        const option = document.createElement('option');
        option.value = t.targetFormat;
        option.textContent = t.name ? `${t.targetFormat} · ${t.name}` : t.targetFormat;
        format.append(option);
      }
    } catch {
      /* the original file only */
    }
  }
  format.value = settings.format;
  $('set-rate').value = settings.maxBitRate;
  $('set-rg').value = settings.replayGain;
  dialog.showModal();
}

function settingsClosed() {
  const dialog = $('settings');
  if (dialog.returnValue !== 'save') return;
  const before = `${settings.format}/${settings.maxBitRate}`;
  settings.format = $('set-format').value;
  settings.maxBitRate = $('set-rate').value;
  settings.replayGain = $('set-rg').value;
  store.set('format', settings.format);
  store.set('maxBitRate', settings.maxBitRate);
  store.set('replayGain', settings.replayGain);
  applyGain();
  const song = current();
  if (song && before !== `${settings.format}/${settings.maxBitRate}`) {
    // The new stream starts where the old one was.
    const at = position();
    const playing = !audio.paused;
    offset = 0;
    audio.src = streamUrl(song, 0);
    pendingSeek = at;
    if (playing) play();
  }
  announce(S.settings_saved);
}

function initPlayer() {
  playerEl.hidden = false;
  document.body.classList.add('has-player');
  setVolume(Number(store.get('volume', '100')));
  setRepeat(['off', 'all', 'one'].includes(store.get('repeat', 'off')) ? store.get('repeat', 'off') : 'off');
  setShuffle(store.get('shuffle', '') === '1');
  showSong(null);
  showPlaying();
  renderQueue();

  $('play').addEventListener('click', togglePlay);
  $('next').addEventListener('click', next);
  $('prev').addEventListener('click', previous);
  $('shuffle').addEventListener('click', () => setShuffle(!state.shuffle));
  $('repeat').addEventListener('click', () =>
    setRepeat({ off: 'all', all: 'one', one: 'off' }[state.repeat] ?? 'off'),
  );
  $('mute').addEventListener('click', () => {
    audio.muted = !audio.muted;
  });
  $('volume').addEventListener('input', (e) => setVolume(Number(e.target.value)));
  const seek = $('seek');
  seek.addEventListener('input', () => {
    dragging = true;
    $('elapsed').textContent = clock(Number(seek.value));
  });
  seek.addEventListener('change', () => {
    dragging = false;
    seekTo(Number(seek.value));
  });
  $('queue-toggle').addEventListener('click', () => toggleQueue());
  $('queue-close').addEventListener('click', () => toggleQueue(false));
  $('queue-clear').addEventListener('click', clearQueue);
  $('queue-list').addEventListener('click', (e) => {
    const button = e.target.closest('button');
    const li = e.target.closest('li[data-index]');
    if (!button || !li) return;
    const i = Number(li.dataset.index);
    if (button.classList.contains('q-play')) load(i, true);
    else if (button.classList.contains('q-remove')) remove(i);
    else if (button.classList.contains('q-up') || button.classList.contains('q-down')) {
      const to = button.classList.contains('q-up') ? i - 1 : i + 1;
      const cls = button.classList.contains('q-up') ? '.q-up' : '.q-down';
      move(i, to);
      const moved = $('queue-list').querySelector(`li[data-index="${to}"] ${cls}`);
      (moved && !moved.disabled ? moved : $('queue-list').querySelector(`li[data-index="${to}"] .q-play`))?.focus();
    }
  });
  $('settings-toggle').addEventListener('click', openSettings);
  $('settings').addEventListener('close', settingsClosed);

  audio.addEventListener('play', showPlaying);
  audio.addEventListener('pause', showPlaying);
  audio.addEventListener('volumechange', showMuted);
  audio.addEventListener('loadedmetadata', () => {
    if (pendingSeek !== null) {
      const t = pendingSeek;
      pendingSeek = null;
      seekTo(t);
    }
    updateTime();
  });
  audio.addEventListener('playing', () => {
    const song = current();
    if (song && !reported.now) {
      reported.now = true;
      scrobble(song, false);
      announce(fill(S.now_playing, { title: song.title, artist: song.artist }));
    }
    showPlaying();
  });
  audio.addEventListener('timeupdate', () => {
    const now = audio.currentTime;
    if (!audio.paused && lastTick !== null && now > lastTick && now - lastTick < 2) listened += now - lastTick;
    lastTick = now;
    const song = current();
    const total = duration();
    if (song && !reported.done && total > 0 && listened >= Math.min(total / 2, 240)) {
      reported.done = true;
      scrobble(song, true);
    }
    updateTime();
    if ('mediaSession' in navigator && navigator.mediaSession.setPositionState && total > 0) {
      try {
        navigator.mediaSession.setPositionState({ duration: total, position: Math.min(position(), total), playbackRate: 1 });
      } catch {
        /* a position past the end while a stream starts */
      }
    }
  });
  audio.addEventListener('seeking', () => {
    lastTick = null;
  });
  audio.addEventListener('ended', () => {
    if (state.repeat === 'one') {
      seekTo(0);
      play();
      return;
    }
    const i = step(1);
    if (i >= 0) load(i, true);
    else showPlaying();
  });
  audio.addEventListener('error', () => {
    if (audio.getAttribute('src')) announce(fill(S.cannot_play, { title: current()?.title ?? '' }));
  });

  if ('mediaSession' in navigator) {
    const handlers = {
      play: () => play(),
      pause: () => audio.pause(),
      stop: () => audio.pause(),
      previoustrack: previous,
      nexttrack: next,
      seekbackward: (d) => seekTo(position() - (d.seekOffset || 10)),
      seekforward: (d) => seekTo(position() + (d.seekOffset || 10)),
      seekto: (d) => seekTo(d.seekTime),
    };
    for (const [name, handler] of Object.entries(handlers)) {
      try {
        navigator.mediaSession.setActionHandler(name, handler);
      } catch {
        /* an action this browser does not know */
      }
    }
  }
}

// --- Keyboard shortcuts --------------------------------------------------------------------

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || !playerEl) return;
  const target = e.target instanceof Element ? e.target : document.body;
  if (e.key === 'Escape') {
    if (!$('queue').hidden && !document.querySelector('dialog[open]')) {
      toggleQueue(false);
      e.preventDefault();
    }
    return;
  }
  if (target.closest('input, textarea, select, [contenteditable]') || document.querySelector('dialog[open]')) return;
  switch (e.key) {
    case ' ':
      // Space on a button or link presses it.
      if (target.closest('button, a, summary')) return;
      togglePlay();
      break;
    case 'k':
      togglePlay();
      break;
    case 'n':
      next();
      break;
    case 'p':
      previous();
      break;
    case 'ArrowRight':
      seekTo(position() + 10);
      break;
    case 'ArrowLeft':
      seekTo(position() - 10);
      break;
    case '+':
    case '=':
      setVolume(Number($('volume').value) + 5);
      break;
    case '-':
      setVolume(Number($('volume').value) - 5);
      break;
    case 'm':
      audio.muted = !audio.muted;
      break;
    case 's':
      setShuffle(!state.shuffle);
      break;
    case 'r':
      setRepeat({ off: 'all', all: 'one', one: 'off' }[state.repeat] ?? 'off');
      break;
    case 'q':
      toggleQueue();
      break;
    case '/':
      searchBox?.focus();
      break;
    case '?':
      $('help')?.showModal();
      break;
    default:
      return;
  }
  e.preventDefault();
});

if (playerEl && audio) initPlayer();
pageShown();
