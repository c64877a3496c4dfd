//! redoubt's system layer.
//!
//! Everything that touches the kernel directly lives here, so that the daemon's own crate can
//! `#![forbid(unsafe_code)]` throughout:
//!
//! - [`codec`]: the one place that knows the wire encoding (bincode 1.3.3, size-limited).
//! - [`channel`]: SEQPACKET socketpairs carrying one frame per message and, where a message
//!   type says so, a fixed number of file descriptors.
//! - [`sandbox`]: landlock, seccomp, no_new_privs, non-dumpable, capability checks.
//! - [`identity`]: refusing root and capabilities.
//! - [`spawn`]: re-executing the binary for a role with a closed fd table.
//! - [`probe`]: attempts of forbidden operations, used by `redoubt doctor` and tests.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod breadcrumb;
pub mod channel;
pub mod codec;
pub mod identity;
pub mod probe;
pub mod rpc;
pub mod sandbox;
pub mod secret;
pub mod signals;
pub mod spawn;
