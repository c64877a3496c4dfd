//! Memory for key material: its own anonymous mapping, excluded from core dumps
//! (`MADV_DONTDUMP`), locked in RAM where the limit allows (never swapped), and zeroed before
//! it is unmapped.

use std::ptr::NonNull;

/// A fixed-size secret, 32 bytes (an AES-256 key).
pub struct SecretKey {
    page: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned exclusively by this value; &self only reads it.
unsafe impl Send for SecretKey {}
// SAFETY: as above; there is no interior mutability.
unsafe impl Sync for SecretKey {}

pub const KEY_LEN: usize = 32;

impl SecretKey {
    /// Copies `bytes` into protected memory. The caller should zero its own copy.
    pub fn new(bytes: &[u8; KEY_LEN]) -> std::io::Result<SecretKey> {
        let len = 4096;
        // SAFETY: an anonymous private mapping with no address hint; checked for failure.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `p` is the start of the `len`-byte mapping we just created.
        unsafe {
            // Never in a core dump. Failure would be surprising; the process is also
            // non-dumpable and the unit sets LimitCORE=0, so it is not fatal.
            libc::madvise(p, len, libc::MADV_DONTDUMP);
            // Best effort: RLIMIT_MEMLOCK may be 0 for some users.
            libc::mlock(p, len);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.cast::<u8>(), KEY_LEN);
        }
        Ok(SecretKey { page: NonNull::new(p.cast()).expect("mmap returned null"), len })
    }

    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        // SAFETY: the mapping is live for as long as `self`, readable, and at least KEY_LEN
        // bytes long; u8 has no alignment requirement.
        unsafe { &*(self.page.as_ptr() as *const [u8; KEY_LEN]) }
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        // SAFETY: we own the mapping; volatile writes keep the zeroing from being optimised
        // away before munmap.
        unsafe {
            for i in 0..KEY_LEN {
                std::ptr::write_volatile(self.page.as_ptr().add(i), 0);
            }
            libc::munlock(self.page.as_ptr().cast(), self.len);
            libc::munmap(self.page.as_ptr().cast(), self.len);
        }
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_bytes_and_is_marked_dontdump() {
        let k = SecretKey::new(&[7u8; KEY_LEN]).unwrap();
        assert_eq!(k.bytes(), &[7u8; KEY_LEN]);
        let addr = k.page.as_ptr() as usize;
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut in_ours = false;
        let mut flags = String::new();
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((start, _)) = range.split_once('-') {
                    if let Ok(s) = usize::from_str_radix(start, 16) {
                        in_ours = s == addr;
                        continue;
                    }
                }
            }
            if in_ours {
                if let Some(v) = line.strip_prefix("VmFlags:") {
                    flags = v.to_string();
                }
            }
        }
        assert!(flags.split_whitespace().any(|f| f == "dd"), "VmFlags of the key page: {flags:?}");
    }
}
