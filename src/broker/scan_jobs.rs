//! Scan jobs: which scan runs and when, its progress, and how it ends, held in memory (and in
//! the failure record `redoubt scan --problems` reads). No SQL here: what a scan stores in the
//! database is [`ingest`](super::ingest).
//!
//! The scanner long-polls `NextScan`; a scan becomes due at start (Scanner.ScanOnStartup), on
//! Scanner.Schedule ([`schedule`](super::schedule)), when the scanner's watcher saw changes, on
//! `startScan`, or on `redoubt scan` (SIGUSR1/SIGUSR2 to the supervisor). One scan at a time.
//!
//! Crash policy: each scan hands the scanner a shared breadcrumb page. If the scanner's
//! channel closes mid-scan (it crashed, or its watchdog aborted it on a hung file), the files
//! named in the page get one more failure; a file with two is skipped from then on and listed
//! by `redoubt scan --problems`. The scan is then requested again, so the restarted scanner
//! continues: folders already stored are unchanged and skipped.

use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use privsep::breadcrumb::Breadcrumb;
use tokio::sync::Notify;

use crate::proto::metrics::ScanMetrics;

/// What getScanStatus answers. While a scan runs, `count` is the files it has stored so far;
/// otherwise the library's tracks. A failed scan changes neither the counts nor `last_scan`
/// (the end of the last scan that completed) and leaves its reason in `error`.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub scanning: bool,
    pub count: u64,
    pub folder_count: u64,
    pub last_scan: Option<SystemTime>,
    pub error: Option<String>,
}

#[derive(Default)]
struct State {
    /// A scan wanted: Some(full).
    requested: Option<bool>,
    /// The scan wanted must purge missing songs (`redoubt scan --purge-missing`).
    purge_requested: bool,
    running: Option<Running>,
    next_id: u64,
    /// Files stored by the running scan.
    progress: u64,
    /// The library as the last completed scan (or the start) left it.
    tracks: u64,
    folders: u64,
    last_scan: Option<SystemTime>,
    /// Why the last scan failed, until one completes.
    error: Option<String>,
    /// Totals for the metrics endpoint.
    counts: ScanMetrics,
}

struct Running {
    id: u64,
    full: bool,
    purge: bool,
    started: i64,
    /// For the metrics: the scan's duration, and the files it could not read.
    began: Instant,
    problems: u64,
    crumbs: Breadcrumb,
    /// Folders seen unchanged so far (marked seen in the database at the end).
    unchanged: Vec<i64>,
    /// Set by the first store or check that failed: nothing more is read or stored, and the
    /// end of the scan changes nothing (a scan that stored only part of the library must not
    /// mark the rest missing).
    failure: Option<String>,
}

#[derive(Default)]
pub struct Scans {
    state: Mutex<State>,
    wake: Notify,
}

/// A scan in progress, as the broker's handlers see it.
#[derive(Debug, Clone)]
pub struct Current {
    pub full: bool,
    /// Asked to purge missing songs whatever Scanner.PurgeMissing says.
    pub purge: bool,
    pub started: i64,
    pub failure: Option<String>,
}

pub struct Job {
    pub id: u64,
    pub full: bool,
    pub crumbs: std::os::fd::OwnedFd,
}

impl Scans {
    pub fn request(&self, full: bool, why: &str) {
        self.request_scan(full, false, why)
    }

    /// A scan, which with `purge` deletes the songs still missing at its end.
    pub fn request_scan(&self, full: bool, purge: bool, why: &str) {
        let mut s = self.state.lock().unwrap();
        s.purge_requested |= purge;
        // A full request upgrades a pending incremental one.
        s.requested = Some(s.requested.unwrap_or(false) || full);
        tracing::info!("{} scan requested ({why})", if full { "full" } else { "incremental" });
        drop(s);
        self.wake.notify_one();
    }

    /// Waits until a scan is due and no scan runs, then starts it.
    pub async fn next(&self) -> Job {
        loop {
            let notified = self.wake.notified();
            {
                let mut s = self.state.lock().unwrap();
                if s.running.is_none() {
                    if let Some(full) = s.requested.take() {
                        s.next_id += 1;
                        let id = s.next_id.max(super::db::now() as u64 * 1000);
                        s.next_id = id;
                        match Breadcrumb::create() {
                            Ok((crumbs, fd)) => {
                                let purge = std::mem::take(&mut s.purge_requested);
                                s.running = Some(Running {
                                    id,
                                    full,
                                    purge,
                                    started: super::db::now(),
                                    began: Instant::now(),
                                    problems: 0,
                                    crumbs,
                                    unchanged: Vec::new(),
                                    failure: None,
                                });
                                s.progress = 0;
                                return Job { id, full, crumbs: fd };
                            }
                            Err(e) => {
                                tracing::error!("cannot make the scan breadcrumb page: {e}");
                                s.requested = Some(full);
                            }
                        }
                    }
                }
            }
            notified.await;
        }
    }

    /// The scan `id`, if it is the one running.
    pub fn running(&self, id: u64) -> Option<Current> {
        let s = self.state.lock().unwrap();
        s.running.as_ref().filter(|r| r.id == id).map(|r| Current {
            full: r.full,
            purge: r.purge,
            started: r.started,
            failure: r.failure.clone(),
        })
    }

    /// The running scan `id` failed: returns true the first time (the caller logs and records
    /// it once).
    pub fn fail(&self, id: u64, reason: &str) -> bool {
        let mut s = self.state.lock().unwrap();
        match s.running.as_mut().filter(|r| r.id == id) {
            Some(r) if r.failure.is_none() => {
                r.failure = Some(reason.to_string());
                true
            }
            _ => false,
        }
    }

    pub fn saw_unchanged(&self, id: u64, folders: Vec<i64>) {
        let mut s = self.state.lock().unwrap();
        if let Some(r) = s.running.as_mut().filter(|r| r.id == id) {
            r.unchanged.extend(folders);
        }
    }

    /// The unchanged folders of scan `id`, taken.
    pub fn take_unchanged(&self, id: u64) -> Vec<i64> {
        let mut s = self.state.lock().unwrap();
        s.running.as_mut().filter(|r| r.id == id).map(|r| std::mem::take(&mut r.unchanged)).unwrap_or_default()
    }

    pub fn progress(&self, files: u64) {
        self.state.lock().unwrap().progress += files;
    }

    /// Scan `id` met `n` more files it could not read (or read with a warning).
    pub fn problems(&self, id: u64, n: u64) {
        if let Some(r) = self.state.lock().unwrap().running.as_mut().filter(|r| r.id == id) {
            r.problems += n;
        }
    }

    /// The scan completed, having read `files`: the library now holds `tracks` in `folders`.
    pub fn finished(&self, id: u64, files: u64, tracks: u64, folders: u64) {
        let mut s = self.state.lock().unwrap();
        if let Some(r) = s.running.take_if(|r| r.id == id) {
            let seconds = r.began.elapsed().as_secs_f64();
            let c = &mut s.counts;
            c.completed += 1;
            c.files += files;
            c.problems += r.problems;
            c.seconds += seconds;
            c.last = Some((seconds, files, r.problems));
        }
        s.tracks = tracks;
        s.folders = folders;
        s.last_scan = Some(SystemTime::now());
        s.error = None;
        drop(s);
        self.wake.notify_one();
    }

    /// The scan ended without completing: the counts and the last scan's time stay.
    pub fn ended_failed(&self, id: u64, reason: String) {
        let mut s = self.state.lock().unwrap();
        if s.running.take_if(|r| r.id == id).is_some() {
            s.counts.failed += 1;
        }
        s.error = Some(reason);
        drop(s);
        self.wake.notify_one();
    }

    /// The scanner's channel closed. Returns the files it was reading if a scan was running
    /// (and requests that scan again).
    pub fn scanner_gone(&self) -> Vec<(u32, Vec<u8>)> {
        let mut s = self.state.lock().unwrap();
        let Some(r) = s.running.take() else { return Vec::new() };
        s.counts.interrupted += 1;
        let suspects = r.crumbs.get_all();
        s.requested = Some(s.requested.unwrap_or(false) || r.full);
        s.purge_requested |= r.purge;
        suspects
    }

    pub fn status(&self) -> Status {
        let s = self.state.lock().unwrap();
        let scanning = s.running.is_some();
        Status {
            scanning,
            count: if scanning { s.progress } else { s.tracks },
            folder_count: s.folders,
            last_scan: s.last_scan,
            error: s.error.clone(),
        }
    }

    /// Scans since the start, for the metrics endpoint.
    pub fn counts(&self) -> ScanMetrics {
        let s = self.state.lock().unwrap();
        ScanMetrics { running: s.running.is_some(), ..s.counts.clone() }
    }

    /// The library's size and the last scan's outcome, as found at start.
    pub fn set_totals(&self, tracks: u64, folders: u64, error: Option<String>) {
        let mut s = self.state.lock().unwrap();
        s.tracks = tracks;
        s.folders = folders;
        s.error = error;
    }
}

/// The outcome of the last scan that failed, kept in `<DataFolder>/redoubt.scan` for
/// `redoubt scan --problems`. The database cannot hold it when the failure is a full disk, so
/// the file is made RECORD_SIZE bytes long at start, while there is room, and then only ever
/// overwritten in place: writing into blocks a file already has needs no free space.
pub struct Record {
    file: Option<std::fs::File>,
    holds_failure: std::sync::atomic::AtomicBool,
}

pub const RECORD_FILE: &str = "redoubt.scan";
const RECORD_SIZE: usize = 4096;

impl Record {
    /// Opens (creating, 0600) and sizes the record; its current text, if it holds a failure.
    pub fn open(data_folder: &std::path::Path) -> (Record, Option<String>) {
        use std::os::unix::fs::OpenOptionsExt;
        let path = data_folder.join(RECORD_FILE);
        let opened =
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&path);
        let file = match opened {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("{}: {e}; a failed scan will be in the log only", path.display());
                return (Record { file: None, holds_failure: false.into() }, None);
            }
        };
        let text = read_record_from(&file);
        let sized = file.metadata().map(|m| m.len() >= RECORD_SIZE as u64).unwrap_or(false);
        if !sized {
            // Real bytes, not fallocate: blocks that were written are overwritten in place.
            let mut block = vec![0u8; RECORD_SIZE];
            if let Some(t) = &text {
                let n = t.len().min(RECORD_SIZE);
                block[..n].copy_from_slice(&t.as_bytes()[..n]);
            }
            use std::os::unix::fs::FileExt;
            if let Err(e) = file.write_all_at(&block, 0).and_then(|_| file.sync_data()) {
                tracing::warn!(
                    "{}: {}; a failed scan will be in the log only",
                    path.display(),
                    super::db::explain_io(&e, data_folder)
                );
            }
        }
        let holds = text.is_some();
        (Record { file: Some(file), holds_failure: holds.into() }, text)
    }

    /// Records a failure (`Some`) or clears it (`None`, written only if one is recorded).
    pub fn set(&self, text: Option<&str>) {
        use std::os::unix::fs::FileExt;
        use std::sync::atomic::Ordering;
        let Some(f) = &self.file else { return };
        if text.is_none() && !self.holds_failure.load(Ordering::Relaxed) {
            return;
        }
        let mut block = vec![0u8; RECORD_SIZE];
        if let Some(t) = text {
            let mut n = t.len().min(RECORD_SIZE);
            while !t.is_char_boundary(n) {
                n -= 1;
            }
            block[..n].copy_from_slice(&t.as_bytes()[..n]);
        }
        match f.write_all_at(&block, 0) {
            Ok(()) => self.holds_failure.store(text.is_some(), Ordering::Relaxed),
            Err(e) => tracing::warn!("cannot record the scan's outcome in {RECORD_FILE}: {e}"),
        }
    }
}

fn read_record_from(file: &std::fs::File) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; RECORD_SIZE];
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let text = String::from_utf8_lossy(&buf[..n]);
    let text = text.trim_end_matches('\0').trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The failure recorded in a data folder, for `redoubt scan --problems` (daemon running or not).
pub fn recorded_failure(data_folder: &std::path::Path) -> Option<String> {
    std::fs::File::open(data_folder.join(RECORD_FILE)).ok().as_ref().and_then(read_record_from)
}
