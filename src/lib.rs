//! redoubt: a privilege-separated, sandboxed Subsonic music server.
//!
//! The binary (`src/main.rs`) is a thin command line over these modules; they are a library
//! so that benchmarks and tests can reach the broker's logic directly.

pub mod admin;
pub mod broker;
pub mod config;
pub mod dates;
pub mod doctor;
pub mod front;
#[cfg(feature = "test-hooks")]
pub mod hooks;
pub mod logging;
pub mod net;
pub mod policy;
pub mod proto;
pub mod role;
pub mod scanner;
pub mod supervisor;
pub mod transcoder;
