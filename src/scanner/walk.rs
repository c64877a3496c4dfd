//! Walking a music folder: one directory at a time, what it holds and a fingerprint of it.
//!
//! Rules: names starting with "." are skipped (dot-folders, dot-files); a directory holding
//! `.ndignore` or `.redoubtignore` is skipped with everything below it; a symlink is followed
//! only if it resolves inside the music folder (landlock would refuse anything else anyway),
//! and a directory reached twice (a link loop) is walked once.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub const AUDIO: &[&str] = &[
    "mp3", "flac", "ogg", "oga", "opus", "m4a", "m4b", "mp4", "aac", "alac", "wav", "aiff", "aif", "wma", "ape", "mpc",
    "wv", "dsf", "dff", "tak", "mka", "spx",
];
/// Audio formats lofty cannot parse: indexed by name, tags not read, reported as such.
pub const NO_TAG_READER: &[&str] = &["wma", "dsf", "dff", "tak", "mka"];
pub const IMAGES: &[&str] = &["jpg", "jpeg", "png", "gif", "webp", "bmp"];
pub const IGNORE_FILES: &[&str] = &[".ndignore", ".redoubtignore"];

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub size: u64,
    pub mtime: i64,
}

#[derive(Debug, Default)]
pub struct Dir {
    pub root: u32,
    pub rel: Vec<u8>,
    pub abs: PathBuf,
    pub audio: Vec<Entry>,
    pub images: Vec<Vec<u8>>,
    /// `.lrc`, `.ttml`, `.srt` and `.txt` files (sidecar lyrics candidates).
    pub texts: Vec<Entry>,
    pub playlists: Vec<Entry>,
    pub fingerprint: [u8; 16],
}

pub fn suffix(name: &[u8]) -> String {
    name.iter()
        .rposition(|b| *b == b'.')
        .map(|i| String::from_utf8_lossy(&name[i + 1..]).to_ascii_lowercase())
        .unwrap_or_default()
}

pub fn stem(name: &[u8]) -> &[u8] {
    name.iter().rposition(|b| *b == b'.').map(|i| &name[..i]).unwrap_or(name)
}

/// Depth-first walk of one music folder.
pub struct Walker {
    root_index: u32,
    root: PathBuf,
    stack: Vec<(PathBuf, Vec<u8>)>,
    visited: HashSet<(u64, u64)>,
    pub errors: Vec<(Vec<u8>, String)>,
}

impl Walker {
    pub fn new(root_index: u32, root: &Path) -> Walker {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        Walker {
            root_index,
            stack: vec![(root.clone(), Vec::new())],
            root,
            visited: HashSet::new(),
            errors: Vec::new(),
        }
    }

    fn inside(&self, p: &Path) -> bool {
        p.canonicalize().map(|c| c.starts_with(&self.root)).unwrap_or(false)
    }

    /// The next directory, or None when the walk is done.
    pub fn next_dir(&mut self) -> Option<Dir> {
        while let Some((abs, rel)) = self.stack.pop() {
            match self.read(&abs, &rel) {
                Ok(Some(d)) => return Some(d),
                Ok(None) => continue,
                Err(e) => self.errors.push((rel, e.to_string())),
            }
        }
        None
    }

    fn read(&mut self, abs: &Path, rel: &[u8]) -> std::io::Result<Option<Dir>> {
        let meta = std::fs::metadata(abs)?;
        if !self.visited.insert((meta.dev(), meta.ino())) {
            return Ok(None);
        }
        let mut entries: Vec<(Vec<u8>, std::fs::DirEntry)> = Vec::new();
        for e in std::fs::read_dir(abs)? {
            let e = e?;
            let name = e.file_name().as_bytes().to_vec();
            if IGNORE_FILES.iter().any(|f| f.as_bytes() == name.as_slice()) {
                return Ok(None);
            }
            if name.first() == Some(&b'.') {
                continue;
            }
            entries.push((name, e));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut dir = Dir { root: self.root_index, rel: rel.to_vec(), abs: abs.to_path_buf(), ..Dir::default() };
        let mut fp = Sha256::new();
        let mut subdirs = Vec::new();
        for (name, e) in entries {
            let path = e.path();
            let mut ft = e.file_type()?;
            let mut md = None;
            if ft.is_symlink() {
                if !self.inside(&path) {
                    continue;
                }
                let m = match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(_) => continue,
                };
                ft = m.file_type();
                md = Some(m);
            }
            if ft.is_dir() {
                let mut r = rel.to_vec();
                if !r.is_empty() {
                    r.push(b'/');
                }
                r.extend_from_slice(&name);
                subdirs.push((path, r));
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            let sfx = suffix(&name);
            let kind = if AUDIO.contains(&sfx.as_str()) {
                0u8
            } else if IMAGES.contains(&sfx.as_str()) {
                1
            } else if crate::proto::scan::LYRICS_SUFFIXES.contains(&sfx.as_str()) {
                2
            } else if sfx == "m3u" || sfx == "m3u8" || sfx == "nsp" {
                3
            } else {
                continue;
            };
            let m = match md {
                Some(m) => m,
                None => match e.metadata() {
                    Ok(m) => m,
                    Err(err) => {
                        self.errors.push((name.clone(), err.to_string()));
                        continue;
                    }
                },
            };
            let entry = Entry { name: name.clone(), size: m.len(), mtime: m.mtime() };
            fp.update([kind]);
            fp.update((name.len() as u32).to_le_bytes());
            fp.update(&name);
            fp.update(entry.size.to_le_bytes());
            fp.update(entry.mtime.to_le_bytes());
            match kind {
                0 => dir.audio.push(entry),
                1 => dir.images.push(name),
                2 => dir.texts.push(entry),
                _ => dir.playlists.push(entry),
            }
        }
        // Walk subdirectories in name order.
        for s in subdirs.into_iter().rev() {
            self.stack.push(s);
        }
        dir.fingerprint.copy_from_slice(&fp.finalize()[..16]);
        Ok(Some(dir))
    }
}

/// Resolves a playlist line against the playlist's folder, relative to the music folder;
/// None for lines that leave it.
pub fn resolve_playlist_entry(root: &Path, dir_rel: &[u8], line: &[u8]) -> Option<Vec<u8>> {
    let line = line.strip_prefix(b"file://").unwrap_or(line);
    let mut parts: Vec<&[u8]> = Vec::new();
    let absolute_prefix = root.as_os_str().as_bytes();
    let rest: &[u8] = if line.first() == Some(&b'/') {
        let r = line.strip_prefix(absolute_prefix)?;
        if !(r.is_empty() || r[0] == b'/') {
            return None;
        }
        r
    } else {
        for p in dir_rel.split(|b| *b == b'/').filter(|p| !p.is_empty()) {
            parts.push(p);
        }
        line
    };
    for p in rest.split(|b| *b == b'/' || *b == b'\\') {
        match p {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlist_entries_stay_inside() {
        let root = Path::new("/music");
        assert_eq!(resolve_playlist_entry(root, b"Lists", b"../A/01.mp3").unwrap(), b"A/01.mp3");
        assert_eq!(resolve_playlist_entry(root, b"", b"A\\02.flac").unwrap(), b"A/02.flac");
        assert_eq!(resolve_playlist_entry(root, b"x", b"/music/B/03.mp3").unwrap(), b"B/03.mp3");
        assert_eq!(resolve_playlist_entry(root, b"", b"../../etc/passwd"), None);
        assert_eq!(resolve_playlist_entry(root, b"", b"/etc/passwd"), None);
        assert_eq!(resolve_playlist_entry(root, b"", b"/musicx/a.mp3"), None);
    }

    #[test]
    fn suffixes_and_stems() {
        assert_eq!(suffix(b"a.b.MP3"), "mp3");
        assert_eq!(stem(b"01 - x.mp3"), b"01 - x");
        assert_eq!(suffix(b"noext"), "");
    }
}
