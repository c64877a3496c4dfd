//! What the channel tests and the rpc tests share: a message type with and without an fd,
//! and the descriptor count they check for leaks.

use std::os::fd::OwnedFd;

use privsep::channel::Message;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Msg {
    NoFd(String),
    OneFd,
}

impl Message for Msg {
    fn fd_count(&self) -> usize {
        match self {
            Msg::NoFd(_) => 0,
            Msg::OneFd => 1,
        }
    }
}

pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

pub fn devnull() -> OwnedFd {
    std::fs::File::open("/dev/null").unwrap().into()
}
