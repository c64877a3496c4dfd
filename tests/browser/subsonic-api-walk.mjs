// The npm `subsonic-api` client (tests/client_walk.rs
// `npm_subsonic_api_walks_the_opensubsonic_methods`), with password auth, over GET and over
// its form POST, against a daemon with tests/common/media.rs's small library:
//
//   node tests/browser/subsonic-api-walk.mjs <base> <user> <password>
//
// The OpenSubsonic extensions (transcoding, topSongsByArtistId, songLyrics 2), an album's
// fields, top songs by artist id, lyrics, a transcode decision, a share made, listed and
// deleted, playlists, an avatar, and the honest refusals (search, sonic similarity). Prints one
// JSON line: `steps` (name, ok, details); exits 1 when the client itself fails.

import { SubsonicAPI } from 'subsonic-api';

const [base, username, password] = process.argv.slice(2);
const steps = [];
const step = (name, ok, details = {}) => {
  steps.push({ name, ok: Boolean(ok), ...details });
  if (!ok) process.stderr.write(`step ${name} failed: ${JSON.stringify(details)}\n`);
};

const MP3_AT_128 = {
  name: 'subsonic-api-walk',
  platform: 'node',
  maxAudioBitrate: 128000,
  directPlayProfiles: [{ containers: ['mp3'], audioCodecs: ['mp3'], protocols: ['http'] }],
  transcodingProfiles: [{ container: 'mp3', audioCodec: 'mp3', protocol: 'http' }],
};

async function walk(post) {
  const how = post ? 'post' : 'get';
  const api = new SubsonicAPI({ url: base, auth: { username, password }, post });
  const ping = await api.ping();
  step(`${how}-ping`, ping.status === 'ok', { status: ping.status });

  const ext = await api.getOpenSubsonicExtensions();
  const versions = Object.fromEntries((ext.openSubsonicExtensions ?? []).map((e) => [e.name, e.versions]));
  step(`${how}-extensions`, versions.transcoding && versions.topSongsByArtistId && versions.songLyrics?.includes(2), {
    versions,
  });

  const { artists } = await api.getArtists();
  const artist = artists.index.flatMap((i) => i.artist).find((a) => a.name === 'Bravo Band');
  const top = await api.customJSON('getTopSongs', { id: artist.id, count: 10 });
  const topTitles = (top.topSongs?.song ?? []).map((s) => s.title);
  step(`${how}-top-songs-by-id`, topTitles.length === 6 && topTitles.every((t) => t.startsWith('Song 1')), {
    topTitles,
  });

  const list = await api.getAlbumList2({ type: 'alphabeticalByName', size: 50 });
  const first = list.albumList2.album.find((a) => a.name === 'Album 00');
  const { album } = await api.getAlbum({ id: first.id });
  step(
    `${how}-album-fields`,
    album.song.length === 3 &&
      album.isCompilation === false &&
      ['releaseTypes', 'recordLabels', 'moods'].every((k) => album[k] === undefined || Array.isArray(album[k])),
    { album: { name: album.name, isCompilation: album.isCompilation, releaseTypes: album.releaseTypes } },
  );

  const song = album.song[0];
  const lyrics = await api.getLyricsBySongId({ id: song.id });
  step(`${how}-lyrics`, lyrics.status === 'ok' && Array.isArray(lyrics.lyricsList?.structuredLyrics ?? []), {
    status: lyrics.status,
  });

  // The spec's decision is a POST (a JSON body, or here the form field clientInfo).
  if (post) {
    const decision = await api.customJSON('getTranscodeDecision', {
      mediaId: song.id,
      mediaType: 'song',
      clientInfo: JSON.stringify(MP3_AT_128),
    });
    const d = decision.transcodeDecision;
    step(`${how}-transcode-decision`, typeof d?.transcodeParams === 'string' && (d.canDirectPlay || d.canTranscode), {
      decision: d,
      status: decision.status,
    });
  }

  const made = await api.createShare({ id: first.id, description: `walk ${how}` });
  const share = made.shares?.share?.[0];
  const listed = (await api.getShares()).shares?.share ?? [];
  const gone = await api.deleteShare({ id: share?.id });
  const after = (await api.getShares()).shares?.share ?? [];
  step(
    `${how}-shares`,
    share?.url?.includes('/share/') && listed.some((s) => s.id === share.id) && gone.status === 'ok' &&
      !after.some((s) => s.id === share.id),
    { url: share?.url, listed: listed.length, after: after.length },
  );

  const playlists = await api.getPlaylists();
  step(`${how}-playlists`, playlists.status === 'ok', { status: playlists.status });

  const avatar = await api.getAvatar({ username });
  step(`${how}-avatar`, avatar.status === 200 && (avatar.headers.get('content-type') ?? '').startsWith('image/'), {
    status: avatar.status,
    type: avatar.headers.get('content-type'),
  });

  const search = await api.custom('search', { any: 'Song' });
  step(`${how}-search-v1-gone`, search.status === 410, { status: search.status });

  const sonic = await api.customJSON('getSonicSimilarTracks', { id: song.id });
  step(
    `${how}-sonic-not-implemented`,
    sonic.status === 'failed' && sonic.error?.code === 0 && /not implemented/.test(sonic.error?.message ?? ''),
    { error: sonic.error },
  );
}

try {
  await walk(false);
  await walk(true);
} catch (e) {
  process.stderr.write(`the client failed: ${e.stack ?? e}\n`);
  console.log(JSON.stringify({ steps, fatal: String(e) }));
  process.exit(1);
}
console.log(JSON.stringify({ steps }));
