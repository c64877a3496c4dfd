//! Who we run as: never root, never with capabilities.
#![forbid(unsafe_code)]

use caps::CapSet;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "redoubt refuses to run as root (uid {uid}, euid {euid}).\n\
         Run it as a dedicated unprivileged user, for example with the packaged systemd unit \
         (packaging/redoubt.service, User=redoubt), or from a root shell with:\n  \
         setpriv --reuid=redoubt --regid=redoubt --init-groups --inh-caps=-all redoubt serve"
    )]
    Root { uid: u32, euid: u32 },
    #[error(
        "redoubt refuses to run with capabilities ({0}).\n\
         It needs none: start it as an unprivileged user with empty capability sets \
         (systemd: CapabilityBoundingSet= and AmbientCapabilities= left empty; \
         setpriv: --inh-caps=-all --ambient-caps=-all)"
    )]
    Capabilities(String),
    #[error("cannot read capabilities: {0}")]
    Unreadable(String),
}

/// Refuses uid/euid 0 and any effective, permitted or ambient capability.
pub fn refuse_privilege() -> Result<(), IdentityError> {
    let uid = nix::unistd::getuid().as_raw();
    let euid = nix::unistd::geteuid().as_raw();
    if uid == 0 || euid == 0 {
        return Err(IdentityError::Root { uid, euid });
    }
    let mut held = Vec::new();
    for (name, set) in
        [("effective", CapSet::Effective), ("permitted", CapSet::Permitted), ("ambient", CapSet::Ambient)]
    {
        let caps = caps::read(None, set).map_err(|e| IdentityError::Unreadable(e.to_string()))?;
        let mut names: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
        names.sort();
        if !names.is_empty() {
            held.push(format!("{name}: {}", names.join(",")));
        }
    }
    if held.is_empty() {
        Ok(())
    } else {
        Err(IdentityError::Capabilities(held.join("; ")))
    }
}

/// Tries to empty the capability bounding set. An unprivileged process may not (EPERM):
/// that is returned as a warning, never an error.
pub fn clear_bounding_set() -> Option<String> {
    match caps::read(None, CapSet::Bounding) {
        Ok(set) if set.is_empty() => None,
        Ok(_) => match caps::clear(None, CapSet::Bounding) {
            Ok(()) => None,
            Err(e) => Some(format!(
                "could not clear the capability bounding set ({e}); harmless for an unprivileged \
                 user, and the packaged unit starts with an empty one"
            )),
        },
        Err(e) => Some(format!("could not read the capability bounding set: {e}")),
    }
}
