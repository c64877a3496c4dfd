//! A music library shaped like a real collection, for benchmarks (`examples/gen_library.rs`
//! writes big ones) and for the test that checks such a library is indexed tag for tag
//! (tests/scan.rs). Deterministic per seed; the shape issue 17 measures with:
//! - the five common formats in equal parts, album by album (mp3 with ID3v2.4, flac, ogg
//!   vorbis, opus, m4a/aac), or the formats asked for;
//! - 10 tracks per album, 5 albums per album artist, a `cover.jpg` in every album folder (and
//!   an embedded picture in every tenth album);
//! - two genres on every third album, a compilation ("Various Artists", an artist per track)
//!   every tenth, two discs every seventh, MusicBrainz ids on two albums in five;
//! - non-ASCII names (accents, Greek, Cyrillic, CJK) on every seventeenth album and every
//!   thirteenth artist (the fourth first, so that small libraries have one);
//! - titles of two to four words from a vocabulary of 300, so a search word matches about 1%
//!   of the tracks.
//!
//! One ffmpeg template per format is made once (cached, see media.rs); each track is the
//! template retagged in memory with lofty and written in one go, on two threads.

use std::path::{Path, PathBuf};

use lofty::config::WriteOptions;

use super::media::{self, Tags};

pub const THREADS: usize = 2;
pub const TRACKS_PER_ALBUM: u64 = 10;
pub const ALBUMS_PER_ARTIST: usize = 5;
/// Words in titles: a title has 3 on average, so one word is in about 1% of them.
pub const VOCABULARY: usize = 300;
/// The five formats most collections are made of.
pub const COMMON_FORMATS: [&str; 5] = ["mp3", "flac", "ogg", "opus", "m4a"];
/// Words for the non-ASCII names: accents, ligatures, Greek, Cyrillic, Japanese, Chinese.
pub const NON_ASCII: [&str; 12] = [
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

pub const GENRES: [&str; 30] = [
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

pub const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ver", "tan", "sol", "ra", "den", "bri", "ou", "zel", "mar", "no", "qui", "fen", "dal", "tor",
    "e", "lia", "gro", "sum", "pa", "vin", "ash",
];

/// splitmix64: deterministic per seed.
/// splitmix64: deterministic per seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// A made-up word of two or three syllables.
    pub fn word(&mut self) -> String {
        let n = 2 + self.below(2);
        let mut w: String = (0..n).map(|_| SYLLABLES[self.below(SYLLABLES.len() as u64) as usize]).collect();
        w[..1].make_ascii_uppercase();
        w
    }
    pub fn uuid(&mut self) -> String {
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

pub struct Artist {
    pub name: String,
    pub mbz_id: String,
}

pub struct Album {
    pub tracks: u32,
    pub discs: u32,
    pub format: String,
    /// None for a compilation ("Various Artists").
    pub artist: Option<usize>,
    pub title: String,
    pub year: i32,
    pub genres: Vec<String>,
    pub mbz: Option<(String, String)>,
    pub folder_cover: bool,
    pub embedded_cover: bool,
    pub seed: u64,
    /// The tracks' titles and artists (indexes into the artists), in order.
    pub titles: Vec<String>,
    pub track_artists: Vec<usize>,
}

/// A name usable as one path component.
pub fn component(s: &str) -> String {
    s.replace('/', "_")
}

/// The title vocabulary: `VOCABULARY` made-up words, the same for every seed. None is the
/// start of another, so a word-prefix search for one finds only it.
pub fn vocabulary() -> Vec<String> {
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
pub fn make_title(rng: &mut Rng, vocabulary: &[String]) -> String {
    let n = 2 + rng.below(3);
    let words: Vec<&str> = (0..n).map(|_| vocabulary[rng.below(vocabulary.len() as u64) as usize].as_str()).collect();
    words.join(" ")
}

pub fn plan(tracks: u64, seed: u64, formats: &[String]) -> (Vec<Artist>, Vec<Album>) {
    let mut rng = Rng(seed);
    let vocabulary = vocabulary();
    let n_albums = tracks.div_ceil(TRACKS_PER_ALBUM) as usize;
    let compilation = |i: usize| i % 10 == 9;
    let n_artists = (0..n_albums).filter(|&i| !compilation(i)).count().div_ceil(ALBUMS_PER_ARTIST).max(1);
    let mut seen = std::collections::HashSet::new();
    let artists: Vec<Artist> = (0..n_artists)
        .map(|i| {
            let mut name = if i % 13 == 3 {
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
            track_artists: (0..n).map(|_| artist.unwrap_or_else(|| rng.below(n_artists as u64) as usize)).collect(),
        });
    }
    (artists, albums)
}

/// What [`generate`] wrote.
pub struct Generated {
    pub artists: Vec<Artist>,
    pub albums: Vec<Album>,
    pub tracks: u64,
    /// Seconds spent reading templates and making covers, and in all.
    pub prepared: f64,
    pub total: f64,
}

/// Writes the library of `tracks` tracks under `dir`.
pub fn generate(dir: &Path, tracks: u64, seed: u64, formats: &[String]) -> Generated {
    let start = std::time::Instant::now();
    let (artists, albums) = plan(tracks, seed, formats);
    // Templates (made once, cached) and covers, read into memory before the clock-heavy part.
    let templates: Vec<(String, Vec<u8>)> =
        formats.iter().map(|f| (f.clone(), std::fs::read(media::template(f)).expect("template"))).collect();
    let folder_cover = media::jpeg(300, 300);
    let embedded_cover = media::jpeg(64, 64);
    let options = WriteOptions::default().preferred_padding(0);
    let prepared = start.elapsed().as_secs_f64();

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
    Generated { artists, albums, tracks: written.into_inner(), prepared, total: start.elapsed().as_secs_f64() }
}

/// The name of album `album`'s artist, or "Various Artists".
pub fn album_artist<'a>(artists: &'a [Artist], album: &Album) -> &'a str {
    album.artist.map_or("Various Artists", |a| artists[a].name.as_str())
}

pub fn write_album(
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
    let album_artist_name = self::album_artist(artists, album);
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
        let artist = &artists[album.track_artists[i as usize]];
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
