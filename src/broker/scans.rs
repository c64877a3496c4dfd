//! Scan orchestration in the broker. The scanner long-polls `NextScan`; a scan becomes due at
//! start (Scanner.ScanOnStartup), on Scanner.Schedule, when the scanner's watcher saw changes,
//! on `startScan`, or on `redoubt scan` (SIGUSR1/SIGUSR2 to the supervisor). One scan at a time.
//!
//! Crash policy: each scan hands the scanner a shared breadcrumb page. If the scanner's
//! channel closes mid-scan (it crashed, or its watchdog aborted it on a hung file), the files
//! named in the page get one more failure; a file with two is skipped from then on and listed
//! by `redoubt scan --problems`. The scan is then requested again, so the restarted scanner
//! continues: folders already stored are unchanged and skipped.
#![forbid(unsafe_code)]

use std::sync::Mutex;
use std::time::SystemTime;

use privsep::breadcrumb::Breadcrumb;
use tokio::sync::Notify;

#[derive(Debug, Clone, Copy, Default)]
pub struct Status {
    pub scanning: bool,
    pub count: u64,
    pub folder_count: u64,
    pub last_scan: Option<SystemTime>,
}

#[derive(Default)]
struct State {
    /// A scan wanted: Some(full).
    requested: Option<bool>,
    running: Option<Running>,
    next_id: u64,
    status: Status,
}

struct Running {
    id: u64,
    full: bool,
    started: i64,
    crumbs: Breadcrumb,
    /// Folders seen unchanged so far (marked seen in the database at the end).
    unchanged: Vec<i64>,
}

#[derive(Default)]
pub struct Scans {
    state: Mutex<State>,
    wake: Notify,
}

pub struct Job {
    pub id: u64,
    pub full: bool,
    pub crumbs: std::os::fd::OwnedFd,
}

impl Scans {
    pub fn request(&self, full: bool, why: &str) {
        let mut s = self.state.lock().unwrap();
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
                                s.running = Some(Running {
                                    id,
                                    full,
                                    started: super::db::now(),
                                    crumbs,
                                    unchanged: Vec::new(),
                                });
                                s.status.scanning = true;
                                s.status.count = 0;
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

    /// The scan `id`, if it is the one running: (full, started).
    pub fn running(&self, id: u64) -> Option<(bool, i64)> {
        let s = self.state.lock().unwrap();
        s.running.as_ref().filter(|r| r.id == id).map(|r| (r.full, r.started))
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
        self.state.lock().unwrap().status.count += files;
    }

    pub fn finished(&self, id: u64, tracks: u64, folders: u64) {
        let mut s = self.state.lock().unwrap();
        if s.running.as_ref().is_some_and(|r| r.id == id) {
            s.running = None;
        }
        s.status = Status { scanning: false, count: tracks, folder_count: folders, last_scan: Some(SystemTime::now()) };
        drop(s);
        self.wake.notify_one();
    }

    /// The scanner's channel closed. Returns the files it was reading if a scan was running
    /// (and requests that scan again).
    pub fn scanner_gone(&self) -> Vec<(u32, Vec<u8>)> {
        let mut s = self.state.lock().unwrap();
        let Some(r) = s.running.take() else { return Vec::new() };
        let suspects = r.crumbs.get_all();
        s.requested = Some(s.requested.unwrap_or(false) || r.full);
        s.status.scanning = false;
        suspects
    }

    pub fn status(&self) -> Status {
        self.state.lock().unwrap().status
    }

    pub fn set_totals(&self, tracks: u64, folders: u64) {
        let mut s = self.state.lock().unwrap();
        if !s.status.scanning {
            s.status.count = tracks;
        }
        s.status.folder_count = folders;
    }
}
