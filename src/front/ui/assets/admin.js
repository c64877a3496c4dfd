// redoubt's admin pages: the one script they add to app.js (loaded by those pages only; they
// work without it). It keeps the library page's scan status live, asking the method table
// (`/app/api/getScanStatus`, a read) while the page is shown. Like app.js it has no words of
// its own (the page hands it its strings) and writes what the server says as text only.

const APP = new URL('../', import.meta.url).pathname; // "<BaseUrl>/app/"
const fill = (template, values) =>
  String(template ?? '').replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));

let timer = null;
let shown = null;

function show(box, status) {
  const words = JSON.parse(box.dataset.words || '{}');
  const count = status.count ?? 0;
  const folders = status.folderCount ?? 0;
  box.dataset.scanning = String(Boolean(status.scanning));
  const state = box.querySelector('#scan-state');
  if (state) state.textContent = fill(status.scanning ? words.running : words.idle, { count, folders });
  const last = box.querySelector('#scan-last');
  if (last) last.textContent = status.lastScan ? fill(words.last, { when: status.lastScan }) : words.never;
  const error = box.querySelector('#scan-error');
  if (error) {
    error.hidden = !status.error;
    error.textContent = status.error ? fill(words.failed, { reason: status.error }) : '';
  }
}

async function poll() {
  const box = document.getElementById('scan-status');
  if (!box) {
    timer = null;
    return;
  }
  try {
    const res = await fetch(`${APP}api/getScanStatus?f=json`, { credentials: 'same-origin' });
    const answer = (await res.json())['subsonic-response'];
    if (answer?.status === 'ok' && answer.scanStatus) show(box, answer.scanStatus);
  } catch {
    /* the server is restarting: the next round asks again */
  }
  // Quickly while a scan runs, slowly otherwise (a scan started elsewhere still shows).
  timer = setTimeout(poll, box.dataset.scanning === 'true' ? 1000 : 5000);
}

/** What a newly shown <main> needs (app.js swaps <main> for in-page navigation). */
function pageShown() {
  const main = document.getElementById('main');
  if (main === shown) return;
  shown = main;
  clearTimeout(timer);
  timer = null;
  if (document.getElementById('scan-status')) timer = setTimeout(poll, 1000);
}

new MutationObserver(pageShown).observe(document.body, { childList: true });
pageShown();
