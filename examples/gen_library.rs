//! Generates a synthetic music library shaped like a real collection, for benchmarks.
//!
//!     cargo run --release --example gen_library -- <dir> <tracks> [--seed N] [--formats mp3,flac,...]
//!     cargo run --release --example gen_library -- <dir> --touch-percent P [--seed N]
//!
//! The first form writes `<tracks>` tagged files as `<dir>/<Album artist>/<Album (year)>/NN -
//! Title.ext` (`D-NN - ...` on two-disc albums), in the shape tests/common/library.rs describes
//! (five formats by default; `--formats` picks others from tests/common/media.rs's list, and
//! those lofty cannot write, wma and mka, go through ffmpeg per track, which is much slower).
//! The summary line names a title word that about 1% of the tracks carry.
//!
//! The second form retags P% of the audio files of an existing library (appends a character to
//! the comment, so size and mtime change), for "rescan after 1% changed" benchmarks.

#[path = "../tests/common/library.rs"]
mod library;
#[path = "../tests/common/media.rs"]
mod media;

use std::path::{Path, PathBuf};
use std::time::Instant;

use library::{Rng, COMMON_FORMATS, THREADS};
use lofty::config::WriteOptions;
use lofty::prelude::*;
use lofty::tag::Tag;

fn usage() -> ! {
    eprintln!(
        "usage: gen_library <dir> <tracks> [--seed N] [--formats mp3,flac,...]\n       gen_library <dir> --touch-percent P [--seed N]\nformats: {}",
        media::FORMATS.join(",")
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut positional = Vec::new();
    let mut seed = 1u64;
    let mut formats: Vec<String> = COMMON_FORMATS.iter().map(|f| f.to_string()).collect();
    let mut touch: Option<f64> = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => seed = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| usage()),
            "--formats" => {
                formats = it.next().unwrap_or_else(|| usage()).split(',').map(String::from).collect();
                for f in &formats {
                    if !media::FORMATS.contains(&f.as_str()) {
                        eprintln!("unknown format {f:?}");
                        usage();
                    }
                }
            }
            "--touch-percent" => touch = Some(it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| usage())),
            "-h" | "--help" => usage(),
            _ if a.starts_with("--") => usage(),
            _ => positional.push(a),
        }
    }
    match (touch, positional.as_slice()) {
        (Some(p), [dir]) => touch_library(Path::new(dir), p, seed),
        (None, [dir, tracks]) => generate(Path::new(dir), tracks.parse().unwrap_or_else(|_| usage()), seed, &formats),
        _ => usage(),
    }
}

fn generate(dir: &Path, tracks: u64, seed: u64, formats: &[String]) {
    let g = library::generate(dir, tracks, seed, formats);
    println!(
        "generated {} tracks in {} albums by {} artists ({}) under {} in {:.2} s ({:.2} s preparing): {:.0} tracks/s; search word: {}",
        g.tracks,
        g.albums.len(),
        g.artists.len(),
        formats.join(","),
        dir.display(),
        g.total,
        g.prepared,
        g.tracks as f64 / g.total,
        library::vocabulary()[0]
    );
}

fn audio_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            audio_files(&path, out);
        } else if ft.is_file() {
            let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
            let writable = media::FORMATS.iter().any(|f| media::suffix(f) == ext && media::lofty_writable(f));
            if writable {
                out.push(path);
            }
        }
    }
}

/// Appends "+" to the comment of `percent`% of the audio files (chosen by `seed`).
fn touch_library(dir: &Path, percent: f64, seed: u64) {
    let start = Instant::now();
    let mut files = Vec::new();
    audio_files(dir, &mut files);
    files.sort();
    let n = ((files.len() as f64 * percent / 100.0).round() as usize).min(files.len());
    // Partial Fisher-Yates: the first n of a seeded shuffle.
    let mut rng = Rng(seed ^ 0x7073_6863);
    for i in 0..n {
        let j = i + rng.below((files.len() - i) as u64) as usize;
        files.swap(i, j);
    }
    let chosen = &files[..n];
    let options = WriteOptions::default().preferred_padding(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for path in chosen.iter().skip(t).step_by(THREADS) {
                    touch(path, options);
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    println!("touched {n} of {} files under {} in {secs:.2} s", files.len(), dir.display());
}

fn touch(path: &Path, options: WriteOptions) {
    let read = lofty::probe::Probe::open(path)
        .map_err(|e| e.to_string())
        .and_then(|p| p.guess_file_type().map_err(|e| e.to_string()))
        .and_then(|p| p.read().map_err(|e| e.to_string()));
    let mut file = match read {
        Ok(f) => f,
        Err(e) => return eprintln!("skipping {}: {e}", path.display()),
    };
    let tag_type = file.primary_tag_type();
    if file.tag(tag_type).is_none() {
        file.insert_tag(Tag::new(tag_type));
    }
    let tag = file.tag_mut(tag_type).unwrap();
    let comment = format!("{}+", tag.comment().as_deref().unwrap_or("touched "));
    tag.set_comment(comment);
    tag.save_to_path(path, options).unwrap_or_else(|e| panic!("retag {}: {e}", path.display()));
}
