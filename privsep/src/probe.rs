//! Attempts of operations a sandbox must forbid, each reported as `ok`, an errno name, or
//! (for the process itself) death by a signal. Used by `redoubt doctor` in throwaway children
//! and, in test builds only, by running roles.
//!
//! A probe never changes anything it could not undo: a write probe creates nothing that
//! survives (`O_TMPFILE` where possible), a signal probe sends signal 0 unless told otherwise.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// open(path, O_RDONLY)
    OpenRead(String),
    /// open(path, O_WRONLY|O_CREAT), never truncating; a file it created is removed again
    OpenWrite(String),
    /// socket(AF_INET, SOCK_STREAM)
    SocketInet,
    /// socket(AF_UNIX) + connect to an abstract address
    ConnectAbstract(String),
    /// execve(path) — on success the process is replaced, so only failures report
    Exec(String),
    /// kill(pid, sig)
    Kill(i32, i32),
    /// ptrace(PTRACE_ATTACH, pid)
    PtraceAttach(i32),
    /// fork() (clone without CLONE_THREAD)
    Fork,
    /// sethostname(): in no allowlist, so the filter kills the process with SIGSYS
    ForbiddenSyscall,
}

impl Probe {
    /// Parses `name[:arg[:arg]]`, e.g. `open_read:/etc/passwd`, `kill:123:0`.
    pub fn parse(s: &str) -> Option<Probe> {
        let (name, arg) = s.split_once(':').unwrap_or((s, ""));
        let int = |v: &str| v.parse::<i32>().ok();
        Some(match name {
            "open_read" => Probe::OpenRead(arg.into()),
            "open_write" => Probe::OpenWrite(arg.into()),
            "socket_inet" => Probe::SocketInet,
            "connect_abstract" => Probe::ConnectAbstract(arg.into()),
            "exec" => Probe::Exec(arg.into()),
            "kill" => {
                let (pid, sig) = arg.split_once(':').unwrap_or((arg, "0"));
                Probe::Kill(int(pid)?, int(sig)?)
            }
            "ptrace_attach" => Probe::PtraceAttach(int(arg)?),
            "fork" => Probe::Fork,
            "forbidden_syscall" => Probe::ForbiddenSyscall,
            _ => return None,
        })
    }

    /// Runs the probe in this process. Returns "ok" or the errno's name ("EACCES").
    pub fn run(&self) -> String {
        let res: Result<(), Errno> = match self {
            Probe::OpenRead(p) => open(p, libc::O_RDONLY, false),
            Probe::OpenWrite(p) => {
                let existed = std::path::Path::new(p).exists();
                open(p, libc::O_WRONLY | libc::O_CREAT, !existed)
            }
            Probe::SocketInet => nix::sys::socket::socket(
                nix::sys::socket::AddressFamily::Inet,
                nix::sys::socket::SockType::Stream,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
                None,
            )
            .map(drop),
            Probe::ConnectAbstract(name) => connect_abstract(name),
            Probe::Exec(p) => exec(p),
            Probe::Kill(pid, sig) => kill(*pid, *sig),
            Probe::PtraceAttach(pid) => nix::sys::ptrace::attach(nix::unistd::Pid::from_raw(*pid)).map(|_| {
                let _ = nix::sys::ptrace::detach(nix::unistd::Pid::from_raw(*pid), None);
            }),
            Probe::Fork => fork(),
            Probe::ForbiddenSyscall => nix::unistd::sethostname("redoubt-probe"),
        };
        match res {
            Ok(()) => "ok".into(),
            Err(e) => format!("{e:?}"),
        }
    }
}

fn open(path: &str, flags: i32, remove_if_created: bool) -> Result<(), Errno> {
    let c = CString::new(path).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `c` is a valid NUL-terminated string; the returned fd is owned at once.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: open just returned this fd to us.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    if remove_if_created {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn connect_abstract(name: &str) -> Result<(), Errno> {
    use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
    let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    let addr = UnixAddr::new_abstract(name.as_bytes())?;
    connect(sock.as_raw_fd(), &addr)
}

fn exec(path: &str) -> Result<(), Errno> {
    let c = CString::new(path).map_err(|_| Errno::EINVAL)?;
    nix::unistd::execv(&c, &[&c]).map(drop)
}

fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: kill(2) takes plain integers and touches no memory.
    let r = unsafe { libc::kill(pid, sig) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

fn fork() -> Result<(), Errno> {
    // SAFETY: the child calls only _exit, which is async-signal-safe, so forking a possibly
    // multi-threaded process is sound here.
    match unsafe { nix::unistd::fork() }? {
        // SAFETY: _exit is async-signal-safe and ends the child at once.
        nix::unistd::ForkResult::Child => unsafe { libc::_exit(0) },
        nix::unistd::ForkResult::Parent { child } => {
            let _ = nix::sys::wait::waitpid(child, None);
            Ok(())
        }
    }
}
