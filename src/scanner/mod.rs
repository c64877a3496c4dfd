//! The scanner: walks the music folders read-only, reads tags, and reports to the broker in
//! bounded batches (the messages, all of them, are in proto/scan.rs). It never opens the
//! database; a malicious file can at worst crash or hang this process, and then the broker
//! learns from the shared breadcrumb page which file it was.

pub mod tags;
pub mod walk;
pub mod watch;

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use privsep::breadcrumb::{Breadcrumb, SLOTS};
use privsep::channel::AsyncChannel;
use privsep::rpc::Client;

use crate::proto::scan::{FolderSeen, FolderUpdate, PlaylistFile, ScanJob, ScannedFile, ScannerRequest, TrackTags};
use crate::proto::{Reply, Request, Role, ScannerInit};
use crate::role::Started;
use tags::Splitting;
use walk::{Dir, Walker};

type Broker = Client<Request, Reply>;

/// Folders per CheckFolders request, and audio files per StoreFolders request: memory stays
/// bounded by these, whatever the library's size.
const CHECK_BATCH: usize = 256;
const STORE_BATCH: usize = 1000;
const WORKERS: usize = 2;

pub fn run(started: Started) -> Result<(), String> {
    let init = started.init;
    drop(started.control);
    let fd = crate::role::broker_channel()?;
    let rt = crate::role::runtime(Role::Scanner, 0).map_err(|e| e.to_string())?;
    let watcher = if init.scanner.watcher_wait_ms > 0 {
        match watch::Watcher::new() {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!("no filesystem watcher: {e}");
                None
            }
        }
    } else {
        None
    };
    rt.block_on(async move {
        let chan = AsyncChannel::new(fd).map_err(|e| e.to_string())?;
        let (broker, reader) = Broker::start(chan);
        if let Some(w) = &watcher {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
            let wait = Duration::from_millis(init.scanner.watcher_wait_ms);
            let w = w.clone();
            std::thread::Builder::new()
                .name("watcher".into())
                .spawn(move || {
                    w.run(wait, move || {
                        let _ = tx.send(());
                    })
                })
                .map_err(|e| e.to_string())?;
            let b = broker.clone();
            tokio::spawn(async move {
                while rx.recv().await.is_some() {
                    let _ = b.call(&Request::Scanner(ScannerRequest::WatcherTriggered), &[]).await;
                }
            });
        }
        #[cfg(feature = "test-hooks")]
        let init_for_probes = init.clone();
        let scanner = Scanner {
            broker: broker.clone(),
            roots: init.music_folders.clone(),
            split: Splitting {
                genre: init.scanner.genre_separators.clone(),
                artist: init.scanner.artist_separators.clone(),
            },
            settings: init.scanner.clone(),
            watcher,
        };
        let work = async {
            loop {
                let r = broker
                    .call(&Request::Scanner(ScannerRequest::NextScan), &[])
                    .await
                    .map_err(|e| format!("broker: {e}"))?;
                let Reply::Scan(job) = r.body else { return Err("unexpected answer to NextScan".to_string()) };
                let crumbs = r.fds.into_iter().next().ok_or("no breadcrumb page")?;
                let crumbs = Arc::new(Breadcrumb::map(&crumbs).map_err(|e| format!("breadcrumb: {e}"))?);
                #[cfg(feature = "test-hooks")]
                crate::hooks::scan_probes(&init_for_probes);
                scanner.scan(&job, crumbs).await?;
            }
        };
        tokio::select! {
            r = work => r,
            end = reader => Err(format!("broker channel ended: {}", end.map(|e| e.to_string()).unwrap_or_default())),
        }
    })
}

/// A folder to read, with the library's (size, mtime) of each file it knows there.
type Work = (Dir, HashMap<Vec<u8>, (u64, i64)>);

struct ParseJob {
    folder: usize,
    entry: walk::Entry,
    abs: PathBuf,
    rel: Vec<u8>,
}

/// (folder index, the file or (name, error), a warning).
type Parsed = (usize, Result<ScannedFile, (Vec<u8>, String)>, Option<String>);

struct Scanner {
    broker: Broker,
    roots: Vec<PathBuf>,
    split: Splitting,
    settings: ScannerInit,
    watcher: Option<Arc<watch::Watcher>>,
}

/// Per worker slot: when the file in hand was started (ms since `epoch`, 0 = idle).
struct Watchdog {
    epoch: Instant,
    started: [AtomicU64; SLOTS],
}

impl Scanner {
    async fn scan(&self, job: &ScanJob, crumbs: Arc<Breadcrumb>) -> Result<(), String> {
        let began = Instant::now();
        let skip: HashSet<(u32, Vec<u8>)> = job.skip.iter().cloned().collect();
        let suspects: HashSet<(u32, Vec<u8>)> = job.suspects.iter().cloned().collect();
        let dog = Arc::new(Watchdog { epoch: Instant::now(), started: Default::default() });
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = spawn_watchdog(
            dog.clone(),
            crumbs.clone(),
            Duration::from_millis(self.settings.file_timeout_ms.max(1000)),
            stop.clone(),
        );
        let mut files_read = 0u64;
        // One StoreFolders in flight while the next batch is read: the broker's writing and
        // our parsing overlap.
        let mut in_flight: Option<tokio::task::JoinHandle<Result<(), String>>> = None;
        for (i, root) in self.roots.iter().enumerate() {
            let mut walker = Walker::new(i as u32, root);
            loop {
                let mut batch: Vec<Dir> = Vec::new();
                while batch.len() < CHECK_BATCH {
                    match walker.next_dir() {
                        Some(d) => {
                            if let Some(w) = &self.watcher {
                                w.watch(&d.abs);
                            }
                            batch.push(d)
                        }
                        None => break,
                    }
                }
                if batch.is_empty() {
                    break;
                }
                let seen: Vec<FolderSeen> = batch
                    .iter()
                    .map(|d| FolderSeen { root: d.root, path: d.rel.clone(), fingerprint: d.fingerprint })
                    .collect();
                let r = self
                    .broker
                    .call(&Request::Scanner(ScannerRequest::CheckFolders { scan: job.scan, folders: seen }), &[])
                    .await
                    .map_err(|e| e.to_string())?;
                let Reply::FoldersToRead(to_read) = r.body else {
                    return Err("unexpected answer to CheckFolders".into());
                };
                let mut dirs: Vec<Option<Dir>> = batch.into_iter().map(Some).collect();
                let mut work: Vec<Work> = Vec::new();
                for t in to_read {
                    if let Some(d) = dirs.get_mut(t.index as usize).and_then(Option::take) {
                        let known = t.known.into_iter().map(|k| (k.name, (k.size, k.mtime))).collect();
                        work.push((d, known));
                    }
                }
                let updates = self.read_folders(work, job.full, &skip, &suspects, &crumbs, &dog);
                files_read += updates.iter().map(|u| u.files.len() as u64).sum::<u64>();
                // This batch is stored while the next one is walked and parsed; the one before
                // must be done first (one batch in flight, memory bounded by two batches).
                if let Some(prev) = in_flight.take() {
                    prev.await.map_err(|e| e.to_string())??;
                }
                in_flight = Some(self.store_later(job.scan, updates));
                // Let it send now: the parsing that follows blocks this thread.
                tokio::task::yield_now().await;
            }
            for (rel, e) in walker.errors.drain(..) {
                tracing::warn!("cannot read {:?} in {}: {e}", String::from_utf8_lossy(&rel), root.display());
            }
        }
        if let Some(prev) = in_flight.take() {
            prev.await.map_err(|e| e.to_string())??;
        }

        stop.store(true, Ordering::Relaxed);
        let _ = guard.join();
        self.broker
            .call(&Request::Scanner(ScannerRequest::ScanFinished { scan: job.scan, files: files_read }), &[])
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!("scan {} walked in {:.2} s ({files_read} files read)", job.scan, began.elapsed().as_secs_f64());
        Ok(())
    }

    /// Sends a batch's folders in StoreFolders messages of about STORE_BATCH files, in order.
    fn store_later(&self, scan: u64, updates: Vec<FolderUpdate>) -> tokio::task::JoinHandle<Result<(), String>> {
        let broker = self.broker.clone();
        tokio::spawn(async move {
            let mut chunk = Vec::new();
            let mut files = 0;
            let mut rest = updates.into_iter().peekable();
            while let Some(u) = rest.next() {
                files += u.files.len();
                chunk.push(u);
                if files >= STORE_BATCH || rest.peek().is_none() {
                    let folders = std::mem::take(&mut chunk);
                    files = 0;
                    broker
                        .call(&Request::Scanner(ScannerRequest::StoreFolders { scan, folders }), &[])
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        })
    }

    /// Reads the changed files of these folders on WORKERS threads.
    fn read_folders(
        &self,
        work: Vec<Work>,
        full: bool,
        skip: &HashSet<(u32, Vec<u8>)>,
        suspects: &HashSet<(u32, Vec<u8>)>,
        crumbs: &Breadcrumb,
        dog: &Watchdog,
    ) -> Vec<FolderUpdate> {
        // Decide per folder what to read; the reading itself is spread over the workers.
        let mut updates: Vec<FolderUpdate> = Vec::with_capacity(work.len());
        let mut jobs: Vec<ParseJob> = Vec::new();
        // Files that were being read when the scanner crashed once: read alone, one at a
        // time, before the others, so that a second crash names exactly one file.
        let mut solo: Vec<ParseJob> = Vec::new();
        for (i, (d, known)) in work.iter().enumerate() {
            let mut u = FolderUpdate {
                root: d.root,
                path: d.rel.clone(),
                fingerprint: d.fingerprint,
                images: d.images.clone(),
                ..FolderUpdate::default()
            };
            for e in &d.audio {
                let rel = join(&d.rel, &e.name);
                if skip.contains(&(d.root, rel.clone())) {
                    u.problems.push((e.name.clone(), "skipped: it crashed or hung the scanner twice".into()));
                    continue;
                }
                let suspect = suspects.contains(&(d.root, rel.clone()));
                if !full && !suspect && known.get(&e.name) == Some(&(e.size, e.mtime)) && !sidecar_changed(d, e) {
                    u.unchanged.push(e.name.clone());
                    continue;
                }
                let job = ParseJob {
                    folder: i,
                    entry: e.clone(),
                    abs: d.abs.join(std::ffi::OsStr::from_bytes(&e.name)),
                    rel,
                };
                if suspect {
                    solo.push(job);
                } else {
                    jobs.push(job);
                }
            }
            for p in &d.playlists {
                let read = if walk::suffix(&p.name) == "nsp" {
                    read_smart_playlist(d, p, &mut u.problems)
                } else {
                    read_playlist(&self.roots[d.root as usize], d, p)
                };
                u.playlists.extend(read);
            }
            updates.push(u);
        }
        let results: std::sync::Mutex<Vec<Parsed>> = Default::default();
        self.parse_all(&solo, 1, &work, &results, crumbs, dog);
        self.parse_all(&jobs, WORKERS, &work, &results, crumbs, dog);
        for (folder, r, warning) in results.into_inner().unwrap() {
            let u = &mut updates[folder];
            match r {
                Ok(f) => {
                    if let Some(w) = warning {
                        u.problems.push((f.name.clone(), w));
                    }
                    u.files.push(f);
                }
                Err((name, msg)) => {
                    tracing::warn!("cannot read {:?}: {msg}", String::from_utf8_lossy(&join(&u.path, &name)));
                    u.problems.push((name, msg));
                }
            }
        }
        updates
    }

    /// Reads `jobs` on `workers` threads, each with its own breadcrumb slot and watchdog entry.
    fn parse_all(
        &self,
        jobs: &[ParseJob],
        workers: usize,
        work: &[Work],
        results: &std::sync::Mutex<Vec<Parsed>>,
        crumbs: &Breadcrumb,
        dog: &Watchdog,
    ) {
        if jobs.is_empty() {
            return;
        }
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for slot in 0..workers.min(jobs.len()) {
                let (next, split) = (&next, &self.split);
                s.spawn(move || loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(n) else { break };
                    let dir = &work[job.folder].0;
                    crumbs.set(slot, dir.root, &job.rel);
                    dog.started[slot].store(dog.epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
                    let sfx = walk::suffix(&job.entry.name);
                    #[cfg(feature = "test-hooks")]
                    crate::hooks::scanner_file(&job.entry.name);
                    let r = if walk::NO_TAG_READER.contains(&sfx.as_str()) {
                        // Indexed (and playable through ffmpeg), but without tags.
                        let tags = TrackTags { codec: sfx.to_uppercase(), ..Default::default() };
                        Ok((tags, Some(format!("tags of .{sfx} files are not read"))))
                    } else {
                        tags::read(&job.abs, &sfx, split)
                    };
                    dog.started[slot].store(0, Ordering::Relaxed);
                    crumbs.clear(slot);
                    let e = &job.entry;
                    let out = match r {
                        Ok((tags, warning)) => (
                            job.folder,
                            Ok(ScannedFile {
                                name: e.name.clone(),
                                size: e.size,
                                mtime: e.mtime,
                                suffix: sfx,
                                tags,
                                sidecar_lyrics: sidecar_lyrics(dir, e),
                            }),
                            warning,
                        ),
                        Err(msg) => (job.folder, Err((e.name.clone(), msg)), None),
                    };
                    results.lock().unwrap().push(out);
                });
            }
        });
    }
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// The sidecar lyrics files of an audio file: same stem, a lyrics suffix.
fn sidecars<'a>(d: &'a Dir, audio: &'a walk::Entry) -> impl Iterator<Item = &'a walk::Entry> + 'a {
    let stem = walk::stem(&audio.name);
    d.texts.iter().filter(move |t| walk::stem(&t.name) == stem)
}

/// A sidecar's own changes re-read its track (the folder fingerprint covers them).
fn sidecar_changed(d: &Dir, audio: &walk::Entry) -> bool {
    sidecars(d, audio).any(|s| s.mtime > audio.mtime)
}

/// Each sidecar's text (the first 256 KiB), by suffix, in LYRICS_SUFFIXES order.
fn sidecar_lyrics(d: &Dir, audio: &walk::Entry) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for ext in crate::proto::scan::LYRICS_SUFFIXES {
        let Some(s) = sidecars(d, audio).find(|s| walk::suffix(&s.name) == *ext) else { continue };
        let Ok(bytes) = std::fs::read(d.abs.join(std::ffi::OsStr::from_bytes(&s.name))) else { continue };
        let bytes = &bytes[..bytes.len().min(256 * 1024)];
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = String::from_utf8_lossy(bytes).into_owned();
        if !text.trim().is_empty() {
            out.push((ext.to_string(), text));
        }
    }
    out
}

fn read_playlist(root: &std::path::Path, d: &Dir, p: &walk::Entry) -> Option<PlaylistFile> {
    let bytes = std::fs::read(d.abs.join(std::ffi::OsStr::from_bytes(&p.name))).ok()?;
    let bytes = &bytes[..bytes.len().min(4 << 20)];
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut title = String::from_utf8_lossy(walk::stem(&p.name)).into_owned();
    let mut entries = Vec::new();
    for line in bytes.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let trimmed = line.trim_ascii();
        if let Some(t) = trimmed.strip_prefix(b"#PLAYLIST:") {
            title = String::from_utf8_lossy(t).trim().to_string();
            continue;
        }
        if trimmed.is_empty() || trimmed[0] == b'#' {
            continue;
        }
        if let Some(e) = walk::resolve_playlist_entry(root, &d.rel, trimmed) {
            entries.push(e);
        }
        if entries.len() >= 10_000 {
            break;
        }
    }
    Some(PlaylistFile { name: p.name.clone(), title, entries, ..PlaylistFile::default() })
}

/// A `.nsp` file: its rules, read here in the sandbox (the broker gets the typed tree). Rules
/// it cannot read are reported as problems of the file; a file that is not a smart playlist
/// at all is not imported.
fn read_smart_playlist(d: &Dir, p: &walk::Entry, problems: &mut Vec<(Vec<u8>, String)>) -> Option<PlaylistFile> {
    use crate::proto::smart::{parse_nsp, MAX_NSP_BYTES};
    let mut report = |msg: String| problems.push((p.name.clone(), format!("smart playlist: {msg}")));
    if p.size > MAX_NSP_BYTES as u64 {
        report(format!("larger than {} KiB, not read", MAX_NSP_BYTES / 1024));
        return None;
    }
    let bytes = match std::fs::read(d.abs.join(std::ffi::OsStr::from_bytes(&p.name))) {
        Ok(b) => b,
        Err(e) => {
            report(format!("cannot read it: {e}"));
            return None;
        }
    };
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_NSP_BYTES)]);
    match parse_nsp(text.trim_start_matches('\u{feff}')) {
        Ok(nsp) => {
            // One problem per file is kept: all of them, in one sentence.
            if !nsp.problems.is_empty() {
                report(nsp.problems.join("; "));
            }
            Some(PlaylistFile {
                name: p.name.clone(),
                title: nsp.name.unwrap_or_else(|| String::from_utf8_lossy(walk::stem(&p.name)).into_owned()),
                entries: Vec::new(),
                smart: Some(nsp.rules),
                comment: nsp.comment.unwrap_or_default(),
            })
        }
        Err(e) => {
            report(format!("not imported: {e}"));
            None
        }
    }
}

/// Aborts the process when a worker has spent longer than `timeout` on one file: the broker
/// then finds the file in the breadcrumb page.
fn spawn_watchdog(
    dog: Arc<Watchdog>,
    crumbs: Arc<Breadcrumb>,
    timeout: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let now = dog.epoch.elapsed().as_millis() as u64 + 1;
            for slot in 0..SLOTS {
                let t = dog.started[slot].load(Ordering::Relaxed);
                if t != 0 && now.saturating_sub(t) > timeout.as_millis() as u64 {
                    let what =
                        crumbs.get(slot).map(|(_, p)| String::from_utf8_lossy(&p).into_owned()).unwrap_or_default();
                    tracing::error!(
                        "reading {what:?} took longer than {} s: giving up on this scanner process",
                        timeout.as_secs()
                    );
                    std::process::abort();
                }
            }
        }
    })
}
