//! What every role does first: take its fd layout, read its init frame from the supervisor,
//! sandbox itself while it still has one thread, and only then build its runtime.

use std::os::fd::OwnedFd;
use std::process::ExitCode;

use privsep::channel::Channel;
use privsep::spawn::take_layout_fd;

use crate::proto::admin::SandboxFacts;
use crate::proto::{fds, Control, Role, RoleInit};

/// This process's sandbox, measured right after entering it.
static SANDBOX: std::sync::OnceLock<SandboxFacts> = std::sync::OnceLock::new();

/// This process's sandbox as measured when it entered it (None before that: not a role).
pub fn sandbox_facts() -> Option<SandboxFacts> {
    SANDBOX.get().cloned()
}

/// Exit status of a role that could not sandbox itself. The supervisor treats it as fatal
/// for the whole daemon (no restart loop on a kernel that cannot enforce the policy).
pub const EXIT_SANDBOX: u8 = 78;

pub struct Started {
    pub init: RoleInit,
    pub control: Channel,
}

pub fn run(role: Role) -> ExitCode {
    let Some(control) = take_layout_fd(fds::CONTROL) else {
        eprintln!("redoubt: the {} role is started by `redoubt serve`, not by hand", role.name());
        return ExitCode::from(2);
    };
    let mut control = Channel::new(control);
    let init = match control.recv::<Control>() {
        Ok(r) => match r.body {
            Control::Init(init) if init.role == role => *init,
            other => {
                eprintln!("redoubt {}: unexpected first control message {other:?}", role.name());
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            eprintln!("redoubt {}: no init from the supervisor: {e}", role.name());
            return ExitCode::from(2);
        }
    };
    crate::logging::init(role.name(), &init.log_level);
    // `ps` and `top` show "redoubt-front" rather than "exe" (we were started as /proc/self/exe).
    if let Ok(name) = std::ffi::CString::new(format!("redoubt-{}", role.name())) {
        let _ = nix::sys::prctl::set_name(&name);
    }

    let policy = match crate::policy::for_role(&init) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("sandbox policy: {e}");
            return ExitCode::from(EXIT_SANDBOX);
        }
    };
    match privsep::sandbox::enter(&policy) {
        Ok(report) => {
            // Before anything from outside is read: what is measured now is the sandbox itself.
            let _ = SANDBOX.set(SandboxFacts::measure(&report));
            for w in &report.warnings {
                tracing::warn!("{w}");
            }
            tracing::debug!(
                "sandboxed: landlock ABI {:?} enforced={}, {} seccomp filters",
                report.landlock_abi,
                report.landlock_enforced,
                report.seccomp_filters
            );
        }
        Err(e) => {
            tracing::error!("cannot sandbox: {e}");
            tracing::error!(
                "refusing to run unsandboxed; `redoubt doctor` shows what this kernel lacks, and \
                 Sandbox.Require = false runs degraded (not recommended)"
            );
            return ExitCode::from(EXIT_SANDBOX);
        }
    }

    #[cfg(feature = "test-hooks")]
    crate::hooks::run_probes(&init);

    // Sandboxed: say so to the broker with one round trip, which it reports to the supervisor
    // (READY=1 waits for every role). The transcoder is asked by the broker instead: on its
    // channel the broker is the one that asks.
    if matches!(role, Role::Front | Role::Scanner) {
        if let Err(e) = hello_broker() {
            tracing::error!("the broker did not answer: {e}");
            return ExitCode::FAILURE;
        }
    }

    let started = Started { init, control };
    let result = match role {
        Role::Broker => crate::broker::run(started),
        Role::Front => crate::front::run(started),
        Role::Scanner => crate::scanner::run(started),
        Role::Transcoder => crate::transcoder::run(started),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The broker channel after [`hello_broker`] used it.
static BROKER_FD: std::sync::Mutex<Option<OwnedFd>> = std::sync::Mutex::new(None);

/// One blocking `Ping` round trip on the broker channel, before the role's runtime exists.
fn hello_broker() -> Result<(), String> {
    let fd = take_layout_fd(fds::BROKER).ok_or_else(|| "no broker channel at fd 4".to_string())?;
    let mut chan = Channel::new(fd);
    // Id 0: the role's rpc client numbers its calls from 1.
    chan.send(0, &crate::proto::Request::Hello(sandbox_facts().unwrap_or_default()), &[]).map_err(|e| e.to_string())?;
    match chan.recv::<crate::proto::Reply>().map_err(|e| e.to_string())?.body {
        crate::proto::Reply::Pong { .. } => {}
        other => return Err(format!("unexpected answer {other:?}")),
    }
    *BROKER_FD.lock().unwrap_or_else(|p| p.into_inner()) = Some(chan.into_fd());
    Ok(())
}

/// The broker channel every role but the broker has at fd 4.
pub fn broker_channel() -> Result<OwnedFd, String> {
    if let Some(fd) = BROKER_FD.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Ok(fd);
    }
    take_layout_fd(fds::BROKER).ok_or_else(|| "no broker channel at fd 4".to_string())
}

/// A runtime built only now, after the sandbox: its worker threads inherit it.
pub fn runtime(role: Role, workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if workers == 0 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .max_blocking_threads(8)
            .thread_name(role.name())
            .enable_all()
            .build()
    }
}
