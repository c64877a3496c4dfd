// A share's public page (/share/<id>): the UI's player, fed the share's signed links. The
// page's rows carry each song's stream token (as its id) and cover token; nothing else of the
// library is known here.
import { $, playList, songFromRow, startPlayer } from './player.js';

const share = $('share');
const id = share?.dataset.share ?? '';
const base = share?.dataset.base ?? '';
const link = (what, token) => `${base}/share/${encodeURIComponent(id)}/${what}/${encodeURIComponent(token)}`;

const rows = () => [...document.querySelectorAll('#share-tracks tbody tr[data-id]')];

if (share) {
  startPlayer({
    stream: (song) => link('stream', song.id),
    art: (song, size) => `${link('cover', song.cover)}?size=${size}`,
  });
  $('share-play')?.addEventListener('click', () => playList(rows().map(songFromRow), 0));
  $('share-tracks')?.addEventListener('click', (e) => {
    const row = e.target.closest('tr[data-id]');
    if (!row || !e.target.closest('button')) return;
    playList(rows().map(songFromRow), Number(row.dataset.index) || 0);
  });
}
