//! Generates a synthetic music library shaped like a real collection, for benchmarks.
//!
//!     cargo run --release --example gen_library -- <dir> <tracks> [--seed N] [--formats mp3,flac,...]
//!     cargo run --release --example gen_library -- <dir> --touch-percent P [--seed N]
//!
//! The first form writes `<tracks>` tagged files as `<dir>/<Album artist>/<Album (year)>/NN -
//! Title.ext` (`D-NN - ...` on two-disc albums), in the shape issue 17 measures with:
//! - the five common formats in equal parts, album by album (mp3 with ID3v2.4, flac, ogg
//!   vorbis, opus, m4a/aac; `--formats` picks others, from tests/common/media.rs's list);
//! - 10 tracks per album, 5 albums per album artist, a `cover.jpg` in every album folder (and
//!   an embedded picture in every tenth album);
//! - two genres on every third album, a compilation ("Various Artists", an artist per track)
//!   every tenth, two discs every seventh, MusicBrainz ids on two albums in five;
//! - non-ASCII names (accents, Greek, Cyrillic, CJK) on every seventeenth album and every
//!   thirteenth artist;
//! - titles of two to four words from a vocabulary of 300, so a search word matches about 1% of
//!   the tracks (the summary line names one: `search word: …`).
//!
//! One ffmpeg template per format is made once (cached, see tests/common/media.rs); each track
//! is the template retagged in memory with lofty and written in one go, on two threads. Formats
//! lofty cannot write (wma, mka) go through ffmpeg per track, which is much slower.
//!
//! The second form retags P% of the audio files of an existing library (appends a character to
//! the comment, so size and mtime change), for "rescan after 1% changed" benchmarks.

#[path = "../tests/common/media.rs"]
mod media;

use std::path::{Path, PathBuf};
use std::time::Instant;

use lofty::config::WriteOptions;
use lofty::prelude::*;
use lofty::tag::Tag;
use media::Tags;

const THREADS: usize = 2;
const TRACKS_PER_ALBUM: u64 = 10;
const ALBUMS_PER_ARTIST: usize = 5;
/// Words in titles: a title has 3 on average, so one word is in about 1% of them.
const VOCABULARY: usize = 300;
/// The five formats most collections are made of.
const COMMON_FORMATS: [&str; 5] = ["mp3", "flac", "ogg", "opus", "m4a"];
/// Words for the non-ASCII names: accents, ligatures, Greek, Cyrillic, Japanese, Chinese.
const NON_ASCII: [&str; 12] = [
    "Café",
    "Straße",
    "Ærøskøbing",
    "Ñandú",
    "Żółw",
    "Ελλάδα",
    "Москва",
    "東京",
    "北京",
    "Sigur Rós",
    "Björk",
    "Dvořák",
];

const GENRES: [&str; 30] = [
    "Rock",
    "Pop",
    "Jazz",
    "Blues",
    "Classical",
    "Electronic",
    "Hip-Hop",
    "Country",
    "Folk",
    "Reggae",
    "Soul",
    "Funk",
    "Metal",
    "Punk",
    "Indie",
    "Ambient",
    "Techno",
    "House",
    "Trance",
    "Drum & Bass",
    "Dubstep",
    "R&B",
    "Gospel",
    "Latin",
    "World",
    "Soundtrack",
    "Disco",
    "Grunge",
    "Ska",
    "Experimental",
];

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ver", "tan", "sol", "ra", "den", "bri", "ou", "zel", "mar", "no", "qui", "fen", "dal", "tor",
    "e", "lia", "gro", "sum", "pa", "vin", "ash",
];

/// splitmix64: deterministic per seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// A made-up word of two or three syllables.
    fn word(&mut self) -> String {
        let n = 2 + self.below(2);
        let mut w: String = (0..n).map(|_| SYLLABLES[self.below(SYLLABLES.len() as u64) as usize]).collect();
        w[..1].make_ascii_uppercase();
        w
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }
}

struct Artist {
    name: String,
    mbz_id: String,
}

struct Album {
    tracks: u32,
    discs: u32,
    format: String,
    /// None for a compilation ("Various Artists").
    artist: Option<usize>,
    title: String,
    year: i32,
    genres: Vec<String>,
    mbz: Option<(String, String)>,
    folder_cover: bool,
    embedded_cover: bool,
    seed: u64,
    /// The tracks' titles, in order.
    titles: Vec<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: gen_library <dir> <tracks> [--seed N] [--formats mp3,flac,...]\n       gen_library <dir> --touch-percent P [--seed N]\nformats: {}",
        media::FORMATS.join(",")
    );
    std::process::exit(2)
}

/// A name usable as one path component.
fn component(s: &str) -> String {
    s.replace('/', "_")
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

/// The title vocabulary: `VOCABULARY` made-up words, the same for every seed. None is the
/// start of another, so a word-prefix search for one finds only it.
fn vocabulary() -> Vec<String> {
    let mut rng = Rng(0x0076_6f63_6162);
    let mut words: Vec<String> = Vec::with_capacity(VOCABULARY);
    while words.len() < VOCABULARY {
        let w = rng.word().to_lowercase();
        if !words.iter().any(|v| v.starts_with(&w) || w.starts_with(v.as_str())) {
            words.push(w);
        }
    }
    words.iter().map(|w| w[..1].to_uppercase() + &w[1..]).collect()
}

/// A title of two to four vocabulary words.
fn make_title(rng: &mut Rng, vocabulary: &[String]) -> String {
    let n = 2 + rng.below(3);
    let words: Vec<&str> = (0..n).map(|_| vocabulary[rng.below(vocabulary.len() as u64) as usize].as_str()).collect();
    words.join(" ")
}

fn plan(tracks: u64, seed: u64, formats: &[String]) -> (Vec<Artist>, Vec<Album>) {
    let mut rng = Rng(seed);
    let vocabulary = vocabulary();
    let n_albums = tracks.div_ceil(TRACKS_PER_ALBUM) as usize;
    let compilation = |i: usize| i % 10 == 9;
    let n_artists = (0..n_albums).filter(|&i| !compilation(i)).count().div_ceil(ALBUMS_PER_ARTIST).max(1);
    let mut seen = std::collections::HashSet::new();
    let artists: Vec<Artist> = (0..n_artists)
        .map(|i| {
            let mut name = if i % 13 == 12 {
                format!("{} {}", NON_ASCII[rng.below(NON_ASCII.len() as u64) as usize], rng.word())
            } else if rng.chance(20) {
                format!("The {}", rng.word())
            } else {
                format!("{} {}", rng.word(), rng.word())
            };
            if !seen.insert(name.clone()) {
                name = format!("{name} {i}");
                seen.insert(name.clone());
            }
            Artist { name, mbz_id: rng.uuid() }
        })
        .collect();
    let mut albums = Vec::with_capacity(n_albums);
    let mut by_artist = 0;
    for idx in 0..n_albums {
        let first_track = idx as u64 * TRACKS_PER_ALBUM;
        let n = TRACKS_PER_ALBUM.min(tracks - first_track) as u32;
        let genre_count = if idx % 3 == 2 { 2 } else { 1 };
        let mut genres: Vec<String> = Vec::new();
        while genres.len() < genre_count {
            let g = GENRES[rng.below(GENRES.len() as u64) as usize].to_string();
            if !genres.contains(&g) {
                genres.push(g);
            }
        }
        let artist = (!compilation(idx)).then(|| {
            by_artist += 1;
            (by_artist - 1) / ALBUMS_PER_ARTIST
        });
        let title = if idx % 17 == 16 {
            format!("{} {}", NON_ASCII[rng.below(NON_ASCII.len() as u64) as usize], make_title(&mut rng, &vocabulary))
        } else {
            make_title(&mut rng, &vocabulary)
        };
        albums.push(Album {
            tracks: n,
            discs: if idx % 7 == 6 && n >= 2 { 2 } else { 1 },
            format: formats[idx % formats.len()].clone(),
            artist,
            title,
            year: 1960 + rng.below(65) as i32,
            genres,
            mbz: rng.chance(40).then(|| (rng.uuid(), rng.uuid())),
            folder_cover: true,
            embedded_cover: idx % 10 == 5,
            seed: rng.next(),
            titles: (0..n).map(|_| make_title(&mut rng, &vocabulary)).collect(),
        });
    }
    (artists, albums)
}

fn generate(dir: &Path, tracks: u64, seed: u64, formats: &[String]) {
    let start = Instant::now();
    let (artists, albums) = plan(tracks, seed, formats);
    // Templates (made once, cached) and covers, read into memory before the clock-heavy part.
    let templates: Vec<(String, Vec<u8>)> =
        formats.iter().map(|f| (f.clone(), std::fs::read(media::template(f)).expect("template"))).collect();
    let folder_cover = media::jpeg(300, 300);
    let embedded_cover = media::jpeg(64, 64);
    let options = WriteOptions::default().preferred_padding(0);
    let prepared = start.elapsed();

    let written = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (artists, albums, templates, written) = (&artists, &albums, &templates, &written);
            let (folder_cover, embedded_cover) = (&folder_cover, &embedded_cover);
            s.spawn(move || {
                for album in albums.iter().skip(t).step_by(THREADS) {
                    let n = write_album(dir, artists, album, templates, folder_cover, embedded_cover, options);
                    written.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    let total = start.elapsed();
    let n = written.into_inner();
    println!(
        "generated {n} tracks in {} albums by {} artists ({}) under {} in {:.2} s ({:.2} s preparing): {:.0} tracks/s; search word: {}",
        albums.len(),
        artists.len(),
        formats.join(","),
        dir.display(),
        total.as_secs_f64(),
        prepared.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        vocabulary()[0]
    );
}

fn write_album(
    dir: &Path,
    artists: &[Artist],
    album: &Album,
    templates: &[(String, Vec<u8>)],
    folder_cover: &[u8],
    embedded_cover: &[u8],
    options: WriteOptions,
) -> u64 {
    let mut rng = Rng(album.seed);
    let album_artist = album.artist.map(|a| &artists[a]);
    let album_artist_name = album_artist.map_or("Various Artists", |a| a.name.as_str());
    let folder: PathBuf =
        dir.join(component(album_artist_name)).join(component(&format!("{} ({})", album.title, album.year)));
    std::fs::create_dir_all(&folder).unwrap_or_else(|e| panic!("create {}: {e}", folder.display()));
    if album.folder_cover {
        std::fs::write(folder.join("cover.jpg"), folder_cover).unwrap();
    }
    let template = &templates.iter().find(|(f, _)| *f == album.format).unwrap().1;
    let per_disc = album.tracks.div_ceil(album.discs);
    for i in 0..album.tracks {
        let (disc, track) = (i / per_disc + 1, i % per_disc + 1);
        let track_total = if disc < album.discs { per_disc } else { album.tracks - per_disc * (album.discs - 1) };
        let artist = album_artist.unwrap_or_else(|| &artists[rng.below(artists.len() as u64) as usize]);
        let title = album.titles[i as usize].clone();
        let mut tags = Tags {
            title: Some(title.clone()),
            artist: Some(artist.name.clone()),
            album: Some(album.title.clone()),
            album_artist: Some(album_artist_name.to_string()),
            track: Some(track),
            track_total: Some(track_total),
            disc: Some(disc),
            disc_total: Some(album.discs),
            year: Some(album.year),
            genres: album.genres.clone(),
            compilation: album.artist.is_none().then_some(true),
            picture: album.embedded_cover.then(|| embedded_cover.to_vec()),
            ..Tags::default()
        };
        if let Some((album_id, group_id)) = &album.mbz {
            tags.mbz_album_id = Some(album_id.clone());
            tags.mbz_release_group_id = Some(group_id.clone());
            tags.mbz_artist_id = Some(artist.mbz_id.clone());
            tags.mbz_album_artist_id = album_artist.map(|a| a.mbz_id.clone());
            tags.mbz_recording_id = Some(rng.uuid());
            tags.mbz_track_id = Some(rng.uuid());
        }
        let name = if album.discs > 1 { format!("{disc}-{track:02}") } else { format!("{track:02}") };
        let path = folder.join(component(&format!("{name} - {title}.{}", media::suffix(&album.format))));
        if media::lofty_writable(&album.format) {
            let bytes = media::tagged_bytes(&album.format, template, &tags, options);
            std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        } else {
            media::write_track(&path, &album.format, &tags);
        }
    }
    u64::from(album.tracks)
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
