// redoubt's player, shared by the web UI (app.js) and the public share pages: an HTML5 <audio>
// with a queue, shuffle, repeat, seeking (Range requests, or a new stream with timeOffset when
// transcoding), volume, ReplayGain (a Web Audio gain node, off by default), the Media Session
// API, scrobbling the way Subsonic clients do, a per-browser format and bit-rate choice, and
// its keyboard shortcuts. It drives the markup of the page's #player, #queue and #settings.
//
// The page says where songs and covers come from (`startPlayer(host)`), so the same player
// plays from /app/stream with a session and from a share's signed links without one.
// Data from the server becomes text (textContent, attributes), never markup; the player has
// no words of its own (the page hands them over in #player's data-strings).

export const $ = (id) => document.getElementById(id);

/** Fills `{name}` placeholders of a catalogue string. */
export const fill = (template, values) =>
  String(template ?? '').replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));

export function clock(secs) {
  const t = Math.max(0, Math.floor(Number.isFinite(secs) ? secs : 0));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Says a message to screen readers through the page's #status live region. */
export function announce(message) {
  const box = $('status');
  if (!box) return;
  box.textContent = '';
  // A separate task, so that the same message twice is announced twice.
  setTimeout(() => {
    box.textContent = message;
  }, 30);
}

/** This browser's settings (localStorage), which private mode may refuse. */
export const store = {
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

// --- The player ------------------------------------------------------------------------------

const playerEl = $('player');
const audio = $('audio');
/** The player's words, handed over by the page (the script has none of its own). */
export const S = playerEl ? JSON.parse(playerEl.dataset.strings || '{}') : {};
// What the page tells the player: where songs and covers come from, and what to report.
let host = null;
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

/** Tells the page the queue, the current song or the position changed (it may save them). */
const changed = () => host?.onChange?.();

const num = (v) => (v === undefined || v === '' || v === null ? null : Number(v));
const current = () => state.queue[state.index] ?? null;

/** A song from a table row's data- attributes. */
export function songFromRow(row) {
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

/** A song from a Subsonic JSON child. */
export function songFromJson(s) {
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

const art = (song, size) => host.art(song, size);

function streamUrl(song, from) {
  const p = new URLSearchParams({ c: playerName });
  if (settings.format) p.set('format', settings.format);
  if (settings.maxBitRate && settings.maxBitRate !== '0') p.set('maxBitRate', settings.maxBitRate);
  if (from > 0) p.set('timeOffset', String(Math.floor(from)));
  return host.stream(song, p);
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
  changed();
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

export function playList(songs, start = 0) {
  if (!songs.length) return;
  state.queue = songs.slice();
  state.index = -1;
  const first = Math.min(Math.max(0, start), songs.length - 1);
  state.index = first;
  if (state.shuffle) reshuffle();
  load(first, true);
}

export function enqueue(songs, next) {
  if (!songs.length) return;
  const empty = state.queue.length === 0;
  const at = next && state.index >= 0 ? state.index + 1 : state.queue.length;
  state.queue.splice(at, 0, ...songs);
  if (state.shuffle) reshuffle();
  if (empty) {
    load(0, true);
  } else {
    renderQueue();
    changed();
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
  host.scrobble?.({ id: song.id, submission: String(submission), time: String(startedAt), c: playerName });
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
  const href = host.songHref?.(song);
  if (href) title.href = href;
  else title.removeAttribute('href');
  artist.textContent = song.artist;
  cover.src = art(song, 300);
  cover.hidden = false;
  $('seek').max = String(Math.max(1, Math.round(song.duration)));
  updateTime();
  if ('mediaSession' in navigator && window.MediaMetadata) {
    navigator.mediaSession.metadata = new MediaMetadata({
      title: song.title,
      artist: song.artist,
      album: song.album,
      artwork: [{ src: new URL(art(song, 512), location.href).href, sizes: '512x512' }],
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

/** Marks the rows of the page that hold the current song. */
export function markRows() {
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
  changed();
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
  changed();
}

function clearQueue() {
  state.queue = [];
  state.order = [];
  stop();
  announce(S.queue_cleared);
  changed();
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

export function setShuffle(on) {
  state.shuffle = on;
  $('shuffle').setAttribute('aria-pressed', String(on));
  if (on) reshuffle();
  store.set('shuffle', on ? '1' : '');
}


// Playback settings: kept in this browser; the server's caps for this player still apply.
let formatsLoaded = false;
async function openSettings() {
  const dialog = $('settings');
  const format = $('set-format');
  if (!formatsLoaded) {
    formatsLoaded = true;
    try {
      const seen = new Set();
      for (const t of (await host.transcodings?.()) ?? []) {
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
  if ($('settings')) {
    $('settings-toggle').addEventListener('click', openSettings);
    $('settings').addEventListener('close', settingsClosed);
  }

  audio.addEventListener('play', showPlaying);
  audio.addEventListener('pause', () => {
    showPlaying();
    changed();
  });
  audio.addEventListener('seeked', changed);
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

// --- Keyboard shortcuts (the player's; the page's script adds its own) ------------------------

function onKey(e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
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
    default:
      return;
  }
  e.preventDefault();
}

/** The queue as it is: the songs' ids, the current index (-1: none), the position (s). */
export function queueState() {
  return {
    ids: state.queue.map((song) => song.id),
    index: state.index,
    // A restored song not played yet is still where it was saved.
    position: state.index >= 0 ? (pendingSeek ?? position()) : 0,
  };
}

/**
 * Puts a saved queue back (another device's, or this one's before a reload) without playing:
 * the current song is loaded at `at` seconds. Does nothing if the queue is not empty.
 */
export function restoreQueue(songs, index, at = 0) {
  if (!playerEl || state.queue.length || !songs.length) return false;
  state.queue = songs.slice();
  const i = Math.min(Math.max(0, index), songs.length - 1);
  if (state.shuffle) reshuffle();
  load(i, false);
  if (at > 0) pendingSeek = at;
  // Metadata only when asked for: the seek happens once the user presses play.
  audio.preload = 'metadata';
  return true;
}

/**
 * Starts the player on this page's #player, if it has one. `host` says:
 * - `stream(song, params)`: the URL of a song's stream, given the player's query parameters;
 * - `art(song, size)`: the URL of its cover;
 * - `songHref(song)` (optional): where its title links to;
 * - `scrobble(fields)` (optional): reports "now playing" and submissions;
 * - `transcodings()` (optional): the formats the settings dialog offers;
 * - `onChange()` (optional): the queue, the current song or the position changed
 *   (`queueState()` says how it is now).
 * Returns whether there is a player.
 */
export function startPlayer(options) {
  if (!playerEl || !audio || host) return !!host;
  host = options;
  initPlayer();
  document.addEventListener('keydown', onKey);
  return true;
}
