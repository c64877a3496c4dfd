//! Starting a role: re-execute our own binary with a fixed fd layout and nothing else.
//!
//! The child gets stdin from /dev/null, the supervisor's stdout/stderr (the log), the fds the
//! caller names at the fd numbers it names, and no other open fd: every other descriptor is
//! marked close-on-exec in the child before `execve`. It is put in its own process group (a
//! terminal's Ctrl-C reaches only the supervisor, which stops the roles in order) and gets
//! SIGKILL if the supervisor dies, so no role outlives it.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Fds below this are reserved for the layout handed to roles.
pub const FIRST_FREE_FD: RawFd = 16;

pub struct Spawn<'a> {
    pub exe: &'a Path,
    /// argv[0], what `ps` shows.
    pub arg0: &'a str,
    pub args: Vec<&'a OsStr>,
    pub env: Vec<(&'a str, String)>,
    /// (fd in the parent, number it gets in the child). Targets must be 3..FIRST_FREE_FD.
    pub fds: Vec<(BorrowedFd<'a>, RawFd)>,
    /// Pipe the child's stdout back (doctor); otherwise it shares ours.
    pub capture_stdout: bool,
}

pub fn spawn(s: Spawn<'_>) -> std::io::Result<Child> {
    let parent = nix::unistd::getpid().as_raw();
    let plan: Vec<(RawFd, RawFd)> = s.fds.iter().map(|(fd, target)| (fd.as_raw_fd(), *target)).collect();
    for (_, target) in &plan {
        assert!((3..FIRST_FREE_FD).contains(target), "fd target {target} outside the role layout");
    }
    let mut cmd = Command::new(s.exe);
    cmd.arg0(s.arg0).args(&s.args).env_clear().envs(s.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
    if s.capture_stdout {
        cmd.stdout(Stdio::piped());
    }
    // SAFETY: the closure runs in the forked child before execve and calls only
    // async-signal-safe functions (sigprocmask, prctl, getppid, fcntl, dup2, setpgid,
    // close_range, _exit); it allocates nothing (`plan` was built before the fork).
    unsafe {
        cmd.pre_exec(move || {
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            libc::setpgid(0, 0);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                // The supervisor died between fork and prctl.
                libc::_exit(1);
            }
            // Two steps, so that a source that happens to sit on another entry's target
            // number is not overwritten before it has been moved.
            let mut moved = [0 as RawFd; FIRST_FREE_FD as usize];
            for (i, (src, _)) in plan.iter().enumerate() {
                let high = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, 64);
                if high < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                moved[i] = high;
            }
            for (i, (_, target)) in plan.iter().enumerate() {
                // dup2 leaves the new fd without FD_CLOEXEC: it survives the exec.
                if libc::dup2(moved[i], *target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // Everything from FIRST_FREE_FD up (inherited or ours) closes at exec. Marking
            // rather than closing keeps std's exec-error pipe working.
            const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
            libc::syscall(libc::SYS_close_range, FIRST_FREE_FD as libc::c_uint, libc::c_uint::MAX, CLOSE_RANGE_CLOEXEC);
            // And any gap below it that is not part of the layout.
            for fd in 3..FIRST_FREE_FD {
                if !plan.iter().any(|(_, t)| *t == fd) {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Takes ownership of an fd number that the role layout promised to this process.
/// Returns None if nothing is open there.
pub fn take_layout_fd(fd: RawFd) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    if !(3..FIRST_FREE_FD).contains(&fd) {
        return None;
    }
    static TAKEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let bit = 1u32 << fd;
    if TAKEN.fetch_or(bit, std::sync::atomic::Ordering::SeqCst) & bit != 0 {
        return None;
    }
    if nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_err() {
        return None;
    }
    // Close-on-exec from here on: a role never passes its layout on.
    let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC));
    // SAFETY: the fd is open (F_GETFD succeeded), it was placed by the supervisor for this
    // process alone, and TAKEN guarantees each number is wrapped at most once.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Prepares a helper program a role runs (the transcoder's ffmpeg): it starts with no
/// blocked signals, and gets SIGKILL when the role dies, so it never outlives it.
pub fn die_with_parent(cmd: &mut Command) {
    let parent = nix::unistd::getpid().as_raw();
    // SAFETY: the closure runs in the forked child before execve and calls only
    // async-signal-safe functions (sigemptyset, sigprocmask, prctl, getppid, _exit); it
    // allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}
