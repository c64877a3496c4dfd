//! The filesystem watcher: inotify on every directory the walk visits; when changes settle
//! (no event for Scanner.WatcherWait) the broker is asked for an incremental scan. A large
//! copy keeps producing events, so an album is not indexed halfway through it.

use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

pub struct Watcher {
    inotify: Inotify,
    full: AtomicBool,
}

impl Watcher {
    pub fn new() -> nix::Result<Arc<Watcher>> {
        Ok(Arc::new(Watcher {
            inotify: Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)?,
            full: AtomicBool::new(false),
        }))
    }

    pub fn watch(&self, dir: &Path) {
        let mask = AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_ATTRIB;
        if let Err(e) = self.inotify.add_watch(dir, mask) {
            if e == nix::errno::Errno::ENOSPC && !self.full.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "inotify watch limit reached (fs.inotify.max_user_watches): some folders are not watched"
                );
            }
        }
    }

    /// Runs forever on its own thread: calls `trigger` once changes have settled for `wait`.
    pub fn run(self: Arc<Self>, wait: Duration, trigger: impl Fn()) {
        let mut settle_at: Option<Instant> = None;
        loop {
            let timeout = match settle_at {
                Some(t) => PollTimeout::try_from(
                    t.saturating_duration_since(Instant::now()).as_millis().min(60_000) as i32 + 1,
                )
                .unwrap_or(PollTimeout::MAX),
                None => PollTimeout::NONE,
            };
            let mut fds = [PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, timeout);
            let mut saw = false;
            while let Ok(events) = self.inotify.read_events() {
                if events.is_empty() {
                    break;
                }
                saw = true;
            }
            if saw {
                settle_at = Some(Instant::now() + wait);
            } else if settle_at.is_some_and(|t| Instant::now() >= t) {
                settle_at = None;
                trigger();
            }
        }
    }
}
