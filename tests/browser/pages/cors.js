// A minimal cross-origin Subsonic client (tests/browser/cors.mjs drives it). Its parameters
// come in the fragment: server (the daemon's origin), u, t, s (token auth). It fills
// `window.__result` step by step and sets `done` when it stops, at the end or at the first
// failed step.

const hash = new URLSearchParams(location.hash.slice(1));
const server = hash.get('server');
const auth = new URLSearchParams({
  u: hash.get('u'),
  t: hash.get('t'),
  s: hash.get('s'),
  v: '1.16.1',
  c: 'redoubt-browser-test',
  f: 'json',
});

const result = { origin: location.origin, server, steps: [], failedAt: null, done: false };
window.__result = result;

function show(text) {
  const li = document.createElement('li');
  li.textContent = text;
  document.getElementById('log').append(li);
}

function url(method, extra = {}) {
  const query = new URLSearchParams([...auth, ...Object.entries(extra)]);
  return `${server}/rest/${method}?${query}`;
}

function step(name) {
  const s = { name };
  result.steps.push(s);
  return s;
}

// One JSON call, recording the HTTP status and the Subsonic status. Throws (after recording
// why) when fetch fails or the envelope is not "ok".
async function call(method, extra = {}) {
  const s = step(method);
  try {
    const r = await fetch(url(method, extra), { mode: 'cors', credentials: 'omit' });
    s.httpStatus = r.status;
    const body = (await r.json())['subsonic-response'];
    s.status = body?.status;
    if (body?.error) s.subsonicError = body.error;
    if (s.status !== 'ok') throw new Error(`${method}: status ${s.status}`);
    show(`${method}: ok`);
    return { s, body };
  } catch (e) {
    s.error = String(e);
    show(`${method}: ${s.error}`);
    throw e;
  }
}

function wait(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function play(songId) {
  const s = step('audio');
  s.events = [];
  const audio = document.querySelector('audio');
  s.crossOrigin = audio.crossOrigin;
  for (const ev of ['loadedmetadata', 'canplay', 'playing', 'stalled', 'error', 'ended']) {
    audio.addEventListener(ev, () => s.events.push(ev));
  }
  const playing = new Promise((resolve) => audio.addEventListener('playing', resolve, { once: true }));
  const failed = new Promise((resolve) => audio.addEventListener('error', resolve, { once: true }));
  audio.src = url('stream', { id: songId });
  try {
    await audio.play();
  } catch (e) {
    s.playError = String(e);
  }
  const first = await Promise.race([playing.then(() => 'playing'), failed.then(() => 'error'), wait(20000).then(() => 'timeout')]);
  s.playing = first === 'playing';
  if (audio.error) s.mediaError = { code: audio.error.code, message: audio.error.message };
  if (!s.playing) {
    s.error = `audio: ${first}${s.playError ? ` (${s.playError})` : ''}${s.mediaError ? ` (${s.mediaError.message})` : ''}`;
    show(s.error);
    throw new Error(s.error);
  }
  s.currentTimeAtPlaying = audio.currentTime;
  const deadline = Date.now() + 10000;
  while (audio.currentTime < s.currentTimeAtPlaying + 0.5 && Date.now() < deadline && !audio.ended) await wait(50);
  s.currentTimeLater = audio.currentTime;
  s.advanced = s.currentTimeLater >= s.currentTimeAtPlaying + 0.5;
  s.duration = audio.duration;
  audio.pause();
  show(`audio: playing, ${s.currentTimeAtPlaying.toFixed(2)} s → ${s.currentTimeLater.toFixed(2)} s`);
}

async function main() {
  await call('ping');
  const { body: list } = await call('getAlbumList2', { type: 'alphabeticalByName', size: '10' });
  const albums = list.albumList2?.album ?? [];
  result.steps.at(-1).albums = albums.map((a) => a.name);
  if (albums.length === 0) throw new Error('getAlbumList2: no albums');
  const { body: album } = await call('getAlbum', { id: albums[0].id });
  const songs = album.album?.song ?? [];
  result.steps.at(-1).songs = songs.map((x) => ({ id: x.id, title: x.title, suffix: x.suffix }));
  if (songs.length === 0) throw new Error('getAlbum: no songs');
  const song = songs[0];

  // A byte range read by fetch: the answer's Content-Range reaches the script only when the
  // server exposes it (Access-Control-Expose-Headers).
  const r = step('streamRange');
  try {
    const res = await fetch(url('stream', { id: song.id }), { headers: { Range: 'bytes=0-1023' } });
    r.httpStatus = res.status;
    r.contentRange = res.headers.get('content-range');
    r.acceptRanges = res.headers.get('accept-ranges');
    r.contentLength = res.headers.get('content-length');
    r.bytes = (await res.arrayBuffer()).byteLength;
    show(`stream range: ${r.httpStatus} ${r.contentRange}`);
  } catch (e) {
    r.error = String(e);
    show(`stream range: ${r.error}`);
    throw e;
  }

  await play(song.id);
}

main()
  .catch((e) => {
    result.failedAt = result.steps.at(-1)?.name ?? 'start';
    result.failure = String(e);
  })
  .finally(() => {
    result.done = true;
    document.body.dataset.done = 'true';
  });
