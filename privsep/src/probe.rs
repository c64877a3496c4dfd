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
    /// One named system call with harmless arguments (see [`SYSCALLS`]): `ok` or its errno.
    /// A call the filter kills for takes the process with it: run it as `child:syscall:…`.
    Syscall(String),
    /// The probe in a forked child: reports what it reported, or the signal that killed it
    /// (`SIGSYS`). Only where fork is allowed (the transcoder), and before threads start.
    InChild(Box<Probe>),
}

/// The system calls [`Probe::Syscall`] knows. Each is made with arguments that change
/// nothing: the caller's own values set again, invalid fds or null pointers, or a page of
/// its own.
pub const SYSCALLS: &[&str] = &[
    // memory policy
    "mbind",
    "set_mempolicy",
    "get_mempolicy",
    "migrate_pages",
    "move_pages",
    "set_mempolicy_home_node",
    // scheduling
    "sched_setaffinity",
    "sched_setscheduler",
    "sched_setparam",
    "sched_setattr",
    "setpriority",
    "ioprio_set",
    // cache folders
    "mkdirat",
    // clocks and identity
    "gettimeofday",
    "clock_getres",
    "getcpu",
    "getresuid",
    "getgroups",
    "sched_getattr",
    // what widens reach
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "keyctl",
    "mount",
    "unshare",
    "setns",
    "kexec_load",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
    "shmget",
    "pidfd_send_signal",
    "process_vm_readv",
];

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
            "syscall" if SYSCALLS.contains(&arg) => Probe::Syscall(arg.into()),
            "child" => Probe::InChild(Box::new(Probe::parse(arg)?)),
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
            Probe::Syscall(name) => syscall(name),
            Probe::InChild(probe) => return in_child(probe),
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

/// The result of a raw system call: `Ok` or the errno it set.
fn check(r: libc::c_long) -> Result<(), Errno> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Makes the named call of [`SYSCALLS`] with arguments that change nothing.
fn syscall(name: &str) -> Result<(), Errno> {
    use libc::{c_long, syscall as sys};
    let null = std::ptr::null::<libc::c_void>();
    let page = || -> Result<usize, Errno> {
        // SAFETY: an anonymous private mapping of one page, owned by nothing else; it is
        // only passed to memory-policy calls and then left mapped (a probe runs once).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            Err(Errno::last())
        } else {
            Ok(p as usize)
        }
    };
    // SAFETY (every call below): the arguments are plain integers, null pointers the kernel
    // checks, or pointers to live locals and the page above, sized as each call expects.
    unsafe {
        match name {
            "mbind" => check(sys(libc::SYS_mbind, page()?, 4096usize, 0 /* MPOL_DEFAULT */, null, 0usize, 0u32)),
            "set_mempolicy" => check(sys(libc::SYS_set_mempolicy, 0 /* MPOL_DEFAULT */, null, 0usize)),
            "get_mempolicy" => {
                let mut mode: libc::c_int = 0;
                check(sys(libc::SYS_get_mempolicy, &mut mode as *mut libc::c_int, null, 0usize, null, 0usize))
            }
            "migrate_pages" => check(sys(libc::SYS_migrate_pages, 0, 0usize, null, null)),
            "move_pages" => check(sys(libc::SYS_move_pages, 0, 0usize, null, null, null, 0)),
            "set_mempolicy_home_node" => {
                check(sys(libc::SYS_set_mempolicy_home_node, page()?, 4096usize, 0usize, 0usize))
            }
            "sched_setaffinity" => {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                let size = std::mem::size_of::<libc::cpu_set_t>();
                if libc::sched_getaffinity(0, size, &mut set) < 0 {
                    return Err(Errno::last());
                }
                check(sys(libc::SYS_sched_setaffinity, 0, size, &set as *const libc::cpu_set_t))
            }
            "sched_setscheduler" => {
                let param = libc::sched_param { sched_priority: 0 };
                check(sys(libc::SYS_sched_setscheduler, 0, libc::SCHED_OTHER, &param as *const libc::sched_param))
            }
            "sched_setparam" => {
                let param = libc::sched_param { sched_priority: 0 };
                check(sys(libc::SYS_sched_setparam, 0, &param as *const libc::sched_param))
            }
            "sched_setattr" | "sched_getattr" => {
                // struct sched_attr, version 0 (48 bytes): size, policy, flags, nice, …
                let mut attr = [0u32; 12];
                attr[0] = 48;
                if name == "sched_getattr" {
                    return check(sys(libc::SYS_sched_getattr, 0, attr.as_mut_ptr(), 48u32, 0u32));
                }
                check(sys(libc::SYS_sched_getattr, 0, attr.as_mut_ptr(), 48u32, 0u32))?;
                check(sys(libc::SYS_sched_setattr, 0, attr.as_ptr(), 0u32))
            }
            "setpriority" => {
                *libc::__errno_location() = 0;
                let nice = libc::getpriority(libc::PRIO_PROCESS, 0);
                if nice == -1 && Errno::last_raw() != 0 {
                    return Err(Errno::last());
                }
                check(sys(libc::SYS_setpriority, libc::PRIO_PROCESS, 0, nice))
            }
            "ioprio_set" => {
                const WHO_PROCESS: c_long = 1;
                let prio = sys(libc::SYS_ioprio_get, WHO_PROCESS, 0);
                check(prio)?;
                check(sys(libc::SYS_ioprio_set, WHO_PROCESS, 0, prio))
            }
            "mkdirat" => {
                let dir = CString::new(format!("/tmp/redoubt-probe-{}", std::process::id())).unwrap();
                check(sys(libc::SYS_mkdirat, libc::AT_FDCWD, dir.as_ptr(), 0o700)).inspect(|_| {
                    libc::rmdir(dir.as_ptr());
                })
            }
            "gettimeofday" => {
                let mut tv: libc::timeval = std::mem::zeroed();
                check(sys(libc::SYS_gettimeofday, &mut tv as *mut libc::timeval, null))
            }
            "clock_getres" => {
                let mut ts: libc::timespec = std::mem::zeroed();
                check(sys(libc::SYS_clock_getres, libc::CLOCK_MONOTONIC, &mut ts as *mut libc::timespec))
            }
            "getcpu" => {
                let (mut cpu, mut node) = (0u32, 0u32);
                check(sys(libc::SYS_getcpu, &mut cpu as *mut u32, &mut node as *mut u32, null))
            }
            "getresuid" => {
                let (mut r, mut e, mut s) = (0u32, 0u32, 0u32);
                check(sys(libc::SYS_getresuid, &mut r as *mut u32, &mut e as *mut u32, &mut s as *mut u32))
            }
            "getgroups" => check(sys(libc::SYS_getgroups, 0, null)),
            "bpf" => check(sys(libc::SYS_bpf, 5 /* BPF_PROG_LOAD */, null, 0u32)),
            "perf_event_open" => check(sys(libc::SYS_perf_event_open, null, 0, -1, -1, 0usize)),
            "userfaultfd" => {
                let fd = sys(libc::SYS_userfaultfd, libc::O_CLOEXEC);
                if fd >= 0 {
                    libc::close(fd as libc::c_int);
                }
                check(fd)
            }
            "io_uring_setup" => check(sys(libc::SYS_io_uring_setup, 0u32, null)),
            "keyctl" => check(sys(libc::SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0)),
            "mount" => check(sys(libc::SYS_mount, null, null, null, 0usize, null)),
            // Flags 0: a no-op where it is allowed.
            "unshare" => check(sys(libc::SYS_unshare, 0)),
            "setns" => check(sys(libc::SYS_setns, -1, 0)),
            // No segments would unload a loaded kernel; undefined flags make it EINVAL even for root.
            "kexec_load" => check(sys(libc::SYS_kexec_load, 0usize, 0usize, null, 0xffff_0000usize)),
            "init_module" => check(sys(libc::SYS_init_module, null, 0usize, null)),
            "finit_module" => check(sys(libc::SYS_finit_module, -1, c"".as_ptr(), 0)),
            "delete_module" => check(sys(libc::SYS_delete_module, c"redoubt-probe".as_ptr(), libc::O_NONBLOCK)),
            "open_by_handle_at" => check(sys(libc::SYS_open_by_handle_at, -1, null, libc::O_RDONLY)),
            // A key nobody uses, without IPC_CREAT: ENOENT where it is allowed.
            "shmget" => check(sys(libc::SYS_shmget, 0x7265_646f as c_long, 0usize, 0)),
            "pidfd_send_signal" => check(sys(libc::SYS_pidfd_send_signal, -1, 0, null, 0u32)),
            "process_vm_readv" => check(sys(libc::SYS_process_vm_readv, 0, null, 0usize, null, 0usize, 0usize)),
            _ => Err(Errno::ENOTSUP),
        }
    }
}

/// Runs a probe in a forked child and reports its result, or the signal that ended it.
fn in_child(probe: &Probe) -> String {
    let (read, write) = match nix::unistd::pipe() {
        Ok(p) => p,
        Err(e) => return format!("pipe: {e:?}"),
    };
    // SAFETY: probes run before the process starts threads (hooks and doctor run them first
    // thing after sandboxing), so the child may allocate; it ends with _exit.
    match unsafe { nix::unistd::fork() } {
        Err(e) => format!("fork: {e:?}"),
        Ok(nix::unistd::ForkResult::Child) => {
            drop(read);
            let result = probe.run();
            let _ = nix::unistd::write(&write, result.as_bytes());
            // SAFETY: _exit ends the child at once, running no destructors of the parent's.
            unsafe { libc::_exit(0) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(write);
            let mut out = Vec::new();
            let mut file = std::fs::File::from(read);
            let _ = std::io::Read::read_to_end(&mut file, &mut out);
            match nix::sys::wait::waitpid(child, None) {
                Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => format!("{sig:?}"),
                Ok(_) => String::from_utf8_lossy(&out).into_owned(),
                Err(e) => format!("waitpid: {e:?}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unsandboxed (even as root, as CI runs) every syscall probe is known and harmless:
    /// the result is `ok` or an errno, never "unknown".
    #[test]
    fn every_syscall_probe_runs_and_changes_nothing() {
        for name in SYSCALLS {
            let probe = Probe::parse(&format!("syscall:{name}")).unwrap();
            let result = probe.run();
            assert!(result == "ok" || result.starts_with('E'), "{name}: {result}");
            assert_ne!(result, "ENOTSUP", "{name} has no arguments");
        }
        assert_eq!(Probe::parse("syscall:reboot"), None, "only the listed calls");
        assert_eq!(Probe::parse("child:syscall:getcpu").unwrap().run(), "ok");
        assert_eq!(Probe::parse("child:syscall:setns").unwrap().run(), "EBADF");
        assert!(!std::path::Path::new(&format!("/tmp/redoubt-probe-{}", std::process::id())).exists());
    }
}
