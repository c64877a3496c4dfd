//! A page of shared memory through which an untrusted worker says what it is working on,
//! without a syscall: the scanner writes the path of the file it is about to parse; if it
//! then crashes or hangs, the broker (which made the page and kept its own mapping) reads the
//! path back and records that file as a problem.
//!
//! Layout: [`SLOTS`] slots of 1 KiB, one per worker thread, each a u32 length, a u32 root
//! index and the path bytes (truncated to fit the slot).

use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

const PAGE: usize = 4096;
pub const SLOTS: usize = 4;
const SLOT: usize = PAGE / SLOTS;
const HEADER: usize = 8;
pub const MAX_PATH: usize = SLOT - HEADER;

pub struct Breadcrumb {
    page: NonNull<u8>,
}

// SAFETY: the mapping is owned by this value; all shared fields are accessed atomically or
// (the path bytes) written only while the length is zero, which readers treat as "nothing".
unsafe impl Send for Breadcrumb {}
// SAFETY: as above.
unsafe impl Sync for Breadcrumb {}

impl Breadcrumb {
    /// A new page, and the fd to hand to the worker.
    pub fn create() -> nix::Result<(Breadcrumb, OwnedFd)> {
        let fd = nix::sys::memfd::memfd_create(c"redoubt-breadcrumb", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)?;
        nix::unistd::ftruncate(&fd, PAGE as i64)?;
        let b = Breadcrumb::map(&fd)?;
        Ok((b, fd))
    }

    /// Maps a page received from the broker.
    pub fn map(fd: &OwnedFd) -> nix::Result<Breadcrumb> {
        if nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(fd))?.st_size != PAGE as i64 {
            return Err(nix::errno::Errno::EINVAL);
        }
        // SAFETY: a fresh shared mapping of a PAGE-sized memfd; no existing memory is
        // affected, and the result is checked.
        let p = unsafe {
            mmap(
                None,
                NonZeroUsize::new(PAGE).unwrap(),
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                fd.as_fd(),
                0,
            )?
        };
        Ok(Breadcrumb { page: p.cast() })
    }

    fn base(&self, slot: usize) -> *mut u8 {
        assert!(slot < SLOTS, "breadcrumb slot {slot} out of range");
        // SAFETY: slot < SLOTS, so the offset stays inside the mapped page.
        unsafe { self.page.as_ptr().add(slot * SLOT) }
    }

    fn len(&self, slot: usize) -> &AtomicU32 {
        // SAFETY: the slot start is inside the page, 1024-aligned (so 4-aligned), and the page
        // lives as long as self.
        unsafe { AtomicU32::from_ptr(self.base(slot).cast()) }
    }

    fn root(&self, slot: usize) -> &AtomicU32 {
        // SAFETY: as for len, at offset 4 (4-aligned).
        unsafe { AtomicU32::from_ptr(self.base(slot).add(4).cast()) }
    }

    /// Records what worker `slot` is working on.
    pub fn set(&self, slot: usize, root: u32, path: &[u8]) {
        let n = path.len().min(MAX_PATH);
        self.len(slot).store(0, Ordering::Release);
        // SAFETY: n <= MAX_PATH, so the copy stays inside the slot; the source is a valid
        // slice; nobody reads the bytes while len is 0.
        unsafe { std::ptr::copy_nonoverlapping(path.as_ptr(), self.base(slot).add(HEADER), n) };
        self.root(slot).store(root, Ordering::Release);
        self.len(slot).store(n as u32, Ordering::Release);
    }

    pub fn clear(&self, slot: usize) {
        self.len(slot).store(0, Ordering::Release);
    }

    /// What worker `slot` last said it was working on.
    pub fn get(&self, slot: usize) -> Option<(u32, Vec<u8>)> {
        let n = (self.len(slot).load(Ordering::Acquire) as usize).min(MAX_PATH);
        if n == 0 {
            return None;
        }
        let mut out = vec![0u8; n];
        // SAFETY: n <= MAX_PATH bytes inside the slot.
        unsafe { std::ptr::copy_nonoverlapping(self.base(slot).add(HEADER), out.as_mut_ptr(), n) };
        Some((self.root(slot).load(Ordering::Acquire), out))
    }

    /// Every slot in use.
    pub fn get_all(&self) -> Vec<(u32, Vec<u8>)> {
        (0..SLOTS).filter_map(|s| self.get(s)).collect()
    }
}

impl Drop for Breadcrumb {
    fn drop(&mut self) {
        // SAFETY: we own this mapping and nothing refers to it after drop.
        unsafe {
            let _ = munmap(self.page.cast(), PAGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_other_mapping_sees_the_path() {
        let (broker, fd) = Breadcrumb::create().unwrap();
        let worker = Breadcrumb::map(&fd).unwrap();
        assert!(broker.get_all().is_empty());
        worker.set(1, 2, b"Artist/Album/01 - \xffodd.mp3");
        assert_eq!(broker.get(1), Some((2, b"Artist/Album/01 - \xffodd.mp3".to_vec())));
        worker.set(0, 0, &vec![b'x'; 10_000]);
        assert_eq!(broker.get(0).unwrap().1.len(), MAX_PATH);
        assert_eq!(broker.get_all().len(), 2);
        worker.clear(0);
        worker.clear(1);
        assert!(broker.get_all().is_empty());
    }
}
