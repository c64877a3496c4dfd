//! Memory for key material: its own anonymous mapping, excluded from core dumps
//! (`MADV_DONTDUMP`), locked in RAM where the limit allows (never swapped), and zeroed before
//! it is unmapped.

use std::ptr::NonNull;

/// A value kept in its own page (key material, or what is derived from it such as a
/// cipher's round keys): one copy, never in a core dump, not swapped where the limit allows,
/// zeroed before the page is unmapped.
pub struct Protected<T> {
    page: NonNull<T>,
    len: usize,
}

// SAFETY: the mapping is owned exclusively by this value, which hands out only `&T`.
unsafe impl<T: Send> Send for Protected<T> {}
// SAFETY: as above; sharing `&Protected<T>` shares only `&T`.
unsafe impl<T: Sync> Sync for Protected<T> {}

const PAGE: usize = 4096;

impl<T> Protected<T> {
    /// Moves `value` into protected memory.
    pub fn new(value: T) -> std::io::Result<Protected<T>> {
        assert!(std::mem::size_of::<T>() <= PAGE && std::mem::align_of::<T>() <= PAGE, "one page at most");
        // SAFETY: an anonymous private mapping with no address hint; checked for failure.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `p` is the start of the page-aligned, PAGE-byte mapping we just created,
        // large and aligned enough for T (asserted above), and nothing else refers to it.
        unsafe {
            // Never in a core dump. Failure would be surprising; the process is also
            // non-dumpable and the unit sets LimitCORE=0, so it is not fatal.
            libc::madvise(p, PAGE, libc::MADV_DONTDUMP);
            // Best effort: RLIMIT_MEMLOCK may be 0 for some users.
            libc::mlock(p, PAGE);
            std::ptr::write(p.cast::<T>(), value);
        }
        Ok(Protected { page: NonNull::new(p.cast()).expect("mmap returned null"), len: PAGE })
    }

    pub fn get(&self) -> &T {
        // SAFETY: the mapping is live and holds an initialised T for as long as `self`.
        unsafe { self.page.as_ref() }
    }

    #[cfg(test)]
    fn addr(&self) -> usize {
        self.page.as_ptr() as usize
    }
}

impl<T> Drop for Protected<T> {
    fn drop(&mut self) {
        // SAFETY: we own the mapping and the T in it, which is dropped exactly once here;
        // volatile writes keep the zeroing from being optimised away before munmap.
        unsafe {
            std::ptr::drop_in_place(self.page.as_ptr());
            let bytes = self.page.as_ptr().cast::<u8>();
            for i in 0..std::mem::size_of::<T>() {
                std::ptr::write_volatile(bytes.add(i), 0);
            }
            libc::munlock(bytes.cast(), self.len);
            libc::munmap(bytes.cast(), self.len);
        }
    }
}

/// A fixed-size secret, 32 bytes (an AES-256 key), in protected memory.
pub struct SecretKey(Protected<[u8; KEY_LEN]>);

pub const KEY_LEN: usize = 32;

impl SecretKey {
    /// Copies `bytes` into protected memory. The caller should zero its own copy.
    pub fn new(bytes: &[u8; KEY_LEN]) -> std::io::Result<SecretKey> {
        let p = Protected::new([0u8; KEY_LEN])?;
        // SAFETY: `p` owns the page; nothing else reads it while we fill it in place (so the
        // key is never moved through a temporary).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.page.as_ptr().cast::<u8>(), KEY_LEN) };
        Ok(SecretKey(p))
    }

    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        self.0.get()
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
        assert_dontdump(k.0.addr());
        let cipher_like = Protected::new([3u64; 30]).unwrap();
        assert_eq!(cipher_like.get()[29], 3);
        assert_dontdump(cipher_like.addr());
    }

    fn assert_dontdump(addr: usize) {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut in_ours = false;
        let mut flags = String::new();
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((start, end)) = range.split_once('-') {
                    if let (Ok(s), Ok(e)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) {
                        // Neighbouring pages with the same flags may share one mapping.
                        in_ours = s <= addr && addr < e;
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
