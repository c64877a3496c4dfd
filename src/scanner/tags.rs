//! Reading one audio file's tags and audio properties with lofty. Everything here treats the
//! file as hostile: errors are returned, strings are capped, nothing is trusted to be valid.

use std::path::Path;

use lofty::config::{ParseOptions, ParsingMode};
use lofty::file::{AudioFile, FileType, TaggedFileExt};
use lofty::prelude::ItemKey;
use lofty::probe::Probe;
use lofty::tag::Tag;

use crate::proto::scan::TrackTags;

const MAX_TEXT: usize = 1024;
const MAX_LONG_TEXT: usize = 64 * 1024;

/// A reader for parsers that seek a lot (lofty seeks about 24 times per mp3): seeks only move
/// a position, and reads are served from a 64 KiB window fetched with pread, so a small
/// file costs one or two syscalls instead of forty.
pub struct WindowReader {
    file: std::fs::File,
    size: u64,
    pos: u64,
    window: Vec<u8>,
    window_start: u64,
}

const WINDOW: usize = 64 * 1024;

impl WindowReader {
    pub fn new(file: std::fs::File) -> std::io::Result<WindowReader> {
        let size = file.metadata()?.len();
        Ok(WindowReader { file, size, pos: 0, window: Vec::new(), window_start: 0 })
    }
}

impl std::io::Read for WindowReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        if buf.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        let in_window = self.pos >= self.window_start && self.pos < self.window_start + self.window.len() as u64;
        if !in_window {
            if buf.len() >= WINDOW {
                // Large reads go straight through.
                let n = self.file.read_at(buf, self.pos)?;
                self.pos += n as u64;
                return Ok(n);
            }
            self.window.resize(WINDOW, 0);
            let n = self.file.read_at(&mut self.window, self.pos)?;
            self.window.truncate(n);
            self.window_start = self.pos;
            if n == 0 {
                return Ok(0);
            }
        }
        let offset = (self.pos - self.window_start) as usize;
        let n = buf.len().min(self.window.len() - offset);
        buf[..n].copy_from_slice(&self.window[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for WindowReader {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            std::io::SeekFrom::Start(p) => Some(p),
            std::io::SeekFrom::End(d) => self.size.checked_add_signed(d),
            std::io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start of the file")),
        }
    }
}

/// How single-valued tags are split into several values.
#[derive(Debug, Clone, Default)]
pub struct Splitting {
    /// Characters that separate genres.
    pub genre: String,
    /// Strings that separate artists (" feat. ", "; ").
    pub artist: Vec<String>,
}

fn cap(s: &str, max: usize) -> String {
    let s = s.trim_matches(char::from(0)).trim();
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn text(tags: &[&Tag], key: ItemKey) -> Option<String> {
    tags.iter().find_map(|t| t.get_string(key)).map(|s| cap(s, MAX_TEXT)).filter(|s| !s.is_empty())
}

fn long_text(tags: &[&Tag], key: ItemKey) -> Option<String> {
    tags.iter().find_map(|t| t.get_string(key)).map(|s| cap(s, MAX_LONG_TEXT)).filter(|s| !s.is_empty())
}

/// All values of a key from the first tag that has any.
fn texts(tags: &[&Tag], key: ItemKey) -> Vec<String> {
    for t in tags {
        let v: Vec<String> = t.get_strings(key).map(|s| cap(s, MAX_TEXT)).filter(|s| !s.is_empty()).collect();
        if !v.is_empty() {
            return v;
        }
    }
    Vec::new()
}

/// "3", "3/12" → (3, Some(12)).
fn number_pair(s: &str) -> (Option<u32>, Option<u32>) {
    let mut parts = s.split('/');
    let a = parts.next().and_then(|p| p.trim().parse().ok());
    let b = parts.next().and_then(|p| p.trim().parse().ok());
    (a, b)
}

fn number(tags: &[&Tag], key: ItemKey) -> Option<u32> {
    text(tags, key).and_then(|s| number_pair(&s).0)
}

/// "-6.50 dB", "0.98" → f32.
fn gain(tags: &[&Tag], key: ItemKey) -> Option<f32> {
    text(tags, key).and_then(|s| {
        s.trim()
            .trim_end_matches("dB")
            .trim_end_matches("db")
            .trim()
            .replace(',', ".")
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
    })
}

/// ITUNESADVISORY and MP4 rtng: 1 (or rtng's old 4) explicit, 2 clean, 0 none.
fn explicit_status(v: &str) -> Option<String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "4" | "explicit" => Some("explicit".into()),
        "2" | "clean" => Some("clean".into()),
        _ => None,
    }
}

fn year_of(date: &str) -> Option<i32> {
    let digits: String = date.trim().chars().take_while(|c| c.is_ascii_digit()).collect();
    (digits.len() == 4).then(|| digits.parse().ok()).flatten()
}

/// Splits single values on configured separators; multi-valued tags are kept as they are.
fn split_values(values: Vec<String>, seps: &[String]) -> Vec<String> {
    if values.len() != 1 || seps.is_empty() {
        return values;
    }
    let mut parts = vec![values[0].clone()];
    for sep in seps {
        parts = parts.iter().flat_map(|p| p.split(sep.as_str()).map(str::to_string).collect::<Vec<_>>()).collect();
    }
    let mut out: Vec<String> = Vec::new();
    for p in parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&p)) {
            out.push(p);
        }
    }
    out
}

fn split_chars(values: Vec<String>, chars: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let parts: Vec<String> = if chars.is_empty() {
            vec![v]
        } else {
            v.split(|c| chars.contains(c)).map(|p| p.trim().to_string()).collect()
        };
        for p in parts.into_iter().filter(|p| !p.is_empty()) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&p)) {
                out.push(p);
            }
        }
    }
    out
}

pub fn codec_name(t: FileType) -> &'static str {
    match t {
        FileType::Aac => "AAC",
        FileType::Aiff => "AIFF",
        FileType::Ape => "APE",
        FileType::Flac => "FLAC",
        FileType::Mpeg => "MP3",
        FileType::Mp4 => "MP4",
        FileType::Mpc => "MPC",
        FileType::Opus => "Opus",
        FileType::Vorbis => "Vorbis",
        FileType::Speex => "Speex",
        FileType::Wav => "WAV",
        FileType::WavPack => "WavPack",
        _ => "unknown",
    }
}

/// Suffixes that a file type is commonly named with (for "mislabelled" warnings).
fn expected_suffixes(t: FileType) -> &'static [&'static str] {
    match t {
        FileType::Aac => &["aac", "adts"],
        FileType::Aiff => &["aiff", "aif", "aifc"],
        FileType::Ape => &["ape"],
        FileType::Flac => &["flac"],
        FileType::Mpeg => &["mp3", "mp2", "mpga"],
        FileType::Mp4 => &["m4a", "m4b", "mp4", "alac", "aac", "m4p"],
        FileType::Mpc => &["mpc"],
        FileType::Opus => &["opus", "ogg", "oga"],
        FileType::Vorbis => &["ogg", "oga"],
        FileType::Speex => &["spx", "ogg"],
        FileType::Wav => &["wav"],
        FileType::WavPack => &["wv"],
        _ => &[],
    }
}

/// What a format's own tag holds under a name lofty's generic `Tag` has no key for (it keeps
/// such items in the concrete tag only): ID3v2 `TXXX:RELEASETYPE`, MP4
/// `----:com.apple.iTunes:RELEASETYPE` (Vorbis `RELEASETYPE` is mapped), and the Vorbis
/// comment `ITUNESADVISORY` (ID3v2's TXXX and MP4's rtng are mapped).
#[derive(Default)]
struct NativeTags {
    release_types: Vec<String>,
    advisory: Option<String>,
}

const RELEASE_TYPE: &str = "RELEASETYPE";

fn from_id3v2(tag: Option<&lofty::id3::v2::Id3v2Tag>) -> NativeTags {
    use lofty::id3::v2::Frame;
    let mut n = NativeTags::default();
    for frame in tag.into_iter().flat_map(|t| t.iter()) {
        if let Frame::UserText(f) = frame {
            if f.description.eq_ignore_ascii_case(RELEASE_TYPE) {
                n.release_types.push(cap(&f.content, MAX_TEXT));
            }
        }
    }
    n
}

fn from_vorbis(tag: Option<&lofty::ogg::tag::VorbisComments>) -> NativeTags {
    let advisory = tag.and_then(|t| t.items().find(|(k, _)| k.eq_ignore_ascii_case("ITUNESADVISORY")));
    NativeTags { release_types: Vec::new(), advisory: advisory.map(|(_, v)| cap(v, MAX_TEXT)) }
}

fn from_ilst(tag: Option<&lofty::mp4::Ilst>) -> NativeTags {
    use lofty::mp4::{AtomData, AtomIdent};
    let mut n = NativeTags::default();
    for atom in tag.into_iter().flatten() {
        if let AtomIdent::Freeform { mean, name } = atom.ident() {
            if mean.eq_ignore_ascii_case("com.apple.iTunes") && name.eq_ignore_ascii_case(RELEASE_TYPE) {
                for data in atom.data() {
                    if let AtomData::UTF8(v) | AtomData::UTF16(v) = data {
                        n.release_types.push(cap(v, MAX_TEXT));
                    }
                }
            }
        }
    }
    n
}

/// `probe.read()`, but the five common formats are read as their concrete file first so that
/// the names above can be taken from the format's own tag; then the file is the same generic
/// one lofty would have returned.
fn read_with_native(
    probe: Probe<WindowReader>,
    options: ParseOptions,
) -> Result<(lofty::file::TaggedFile, NativeTags), lofty::error::FileParseError> {
    use lofty::{flac::FlacFile, mp4::Mp4File, mpeg::MpegFile, ogg::OpusFile, ogg::VorbisFile};
    Ok(match probe.file_type() {
        Some(FileType::Mpeg) => {
            let f = MpegFile::read_from(&mut probe.into_inner(), options)?;
            let n = from_id3v2(f.id3v2());
            (f.into(), n)
        }
        Some(FileType::Flac) => {
            let f = FlacFile::read_from(&mut probe.into_inner(), options)?;
            let n = from_vorbis(f.vorbis_comments());
            (f.into(), n)
        }
        Some(FileType::Vorbis) => {
            let f = VorbisFile::read_from(&mut probe.into_inner(), options)?;
            let n = from_vorbis(Some(f.vorbis_comments()));
            (f.into(), n)
        }
        Some(FileType::Opus) => {
            let f = OpusFile::read_from(&mut probe.into_inner(), options)?;
            let n = from_vorbis(Some(f.vorbis_comments()));
            (f.into(), n)
        }
        Some(FileType::Mp4) => {
            let f = Mp4File::read_from(&mut probe.into_inner(), options)?;
            let n = from_ilst(f.ilst());
            (f.into(), n)
        }
        _ => (probe.read()?, NativeTags::default()),
    })
}

/// Reads tags and properties. The second value is a warning worth reporting (a file whose
/// content does not match its name).
pub fn read(path: &Path, suffix: &str, split: &Splitting) -> Result<(TrackTags, Option<String>), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader = WindowReader::new(file).map_err(|e| e.to_string())?;
    let options = ParseOptions::new().parsing_mode(ParsingMode::BestAttempt).read_cover_art(true);
    let probe = Probe::new(reader).options(options).guess_file_type().map_err(|e| e.to_string())?;
    let (file, native) = read_with_native(probe, options).map_err(|e| e.to_string())?;
    let ft = file.file_type();
    let warning = (!expected_suffixes(ft).contains(&suffix))
        .then(|| format!("the content is {} but the name says .{suffix}", codec_name(ft)));
    let props = file.properties();
    // The primary tag first, then any other (an mp3 may carry ID3v2, APE and ID3v1).
    let mut tags: Vec<&Tag> = Vec::new();
    if let Some(p) = file.primary_tag() {
        tags.push(p);
    }
    for t in file.tags() {
        if !tags.iter().any(|x| std::ptr::eq(*x, t)) {
            tags.push(t);
        }
    }
    let mut t = TrackTags {
        codec: codec_name(ft).to_string(),
        duration_ms: props.duration().as_millis() as u64,
        bitrate_kbps: props.audio_bitrate().or(props.overall_bitrate()).unwrap_or(0),
        sample_rate: props.sample_rate().unwrap_or(0),
        bit_depth: props.bit_depth().unwrap_or(0),
        channels: props.channels().unwrap_or(0),
        ..TrackTags::default()
    };
    t.title = text(&tags, ItemKey::TrackTitle);
    let multi_artists = texts(&tags, ItemKey::TrackArtists);
    t.artists =
        if multi_artists.len() > 1 || (!multi_artists.is_empty() && texts(&tags, ItemKey::TrackArtist).is_empty()) {
            multi_artists
        } else if !multi_artists.is_empty() {
            // ARTISTS (multi-valued by intent) wins over splitting ARTIST.
            split_chars(multi_artists, "")
        } else {
            split_values(texts(&tags, ItemKey::TrackArtist), &split.artist)
        };
    t.album = text(&tags, ItemKey::AlbumTitle);
    let multi_album_artists = texts(&tags, ItemKey::AlbumArtists);
    t.album_artists = if !multi_album_artists.is_empty() {
        multi_album_artists
    } else {
        split_values(texts(&tags, ItemKey::AlbumArtist), &split.artist)
    };
    let (track, track_total_inline) =
        text(&tags, ItemKey::TrackNumber).map(|s| number_pair(&s)).unwrap_or((None, None));
    t.track = track;
    t.track_total = number(&tags, ItemKey::TrackTotal).or(track_total_inline);
    let (disc, disc_total_inline) = text(&tags, ItemKey::DiscNumber).map(|s| number_pair(&s)).unwrap_or((None, None));
    t.disc = disc;
    t.disc_total = number(&tags, ItemKey::DiscTotal).or(disc_total_inline);
    t.disc_subtitle = text(&tags, ItemKey::SetSubtitle);
    t.date = text(&tags, ItemKey::RecordingDate).or_else(|| text(&tags, ItemKey::Year));
    t.original_date = text(&tags, ItemKey::OriginalReleaseDate);
    t.release_date = text(&tags, ItemKey::ReleaseDate);
    t.year = t.date.as_deref().and_then(year_of).or_else(|| t.release_date.as_deref().and_then(year_of));
    t.genres = split_chars(texts(&tags, ItemKey::Genre), &split.genre);
    t.compilation = text(&tags, ItemKey::FlagCompilation).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    t.comment = long_text(&tags, ItemKey::Comment);
    t.lyrics = long_text(&tags, ItemKey::Lyrics).or_else(|| long_text(&tags, ItemKey::UnsyncLyrics));
    t.bpm = text(&tags, ItemKey::IntegerBpm)
        .or_else(|| text(&tags, ItemKey::Bpm))
        .and_then(|b| b.trim().split('.').next().and_then(|n| n.parse().ok()));
    t.sort_title = text(&tags, ItemKey::TrackTitleSortOrder);
    t.sort_artist = text(&tags, ItemKey::TrackArtistSortOrder);
    t.sort_album = text(&tags, ItemKey::AlbumTitleSortOrder);
    t.sort_album_artist = text(&tags, ItemKey::AlbumArtistSortOrder);
    t.mbz_recording_id = text(&tags, ItemKey::MusicBrainzRecordingId);
    t.mbz_track_id = text(&tags, ItemKey::MusicBrainzTrackId);
    t.mbz_album_id = text(&tags, ItemKey::MusicBrainzReleaseId);
    t.mbz_artist_id = text(&tags, ItemKey::MusicBrainzArtistId);
    t.mbz_album_artist_id = text(&tags, ItemKey::MusicBrainzReleaseArtistId);
    t.mbz_release_group_id = text(&tags, ItemKey::MusicBrainzReleaseGroupId);
    t.rg_track_gain = gain(&tags, ItemKey::ReplayGainTrackGain);
    t.rg_track_peak = gain(&tags, ItemKey::ReplayGainTrackPeak);
    t.rg_album_gain = gain(&tags, ItemKey::ReplayGainAlbumGain);
    t.rg_album_peak = gain(&tags, ItemKey::ReplayGainAlbumPeak);
    if ft == FileType::Opus && t.rg_track_gain.is_none() {
        // Opus keeps gains as R128_*_GAIN (Q7.8 dB relative to -23 LUFS); ReplayGain is -18.
        let r128 = |k: ItemKey| {
            tags.iter()
                .find_map(|tag| tag.get_string(k))
                .and_then(|v| v.trim().parse::<i32>().ok())
                .map(|q| q as f32 / 256.0 + 5.0)
        };
        t.rg_track_gain = r128(ItemKey::R128TrackGain);
        t.rg_album_gain = r128(ItemKey::R128AlbumGain);
    }
    // Album fields. Release types and moods come as "album; live" too; a label may hold a
    // "/" (its name), so only ";" splits labels.
    let mut release_types = texts(&tags, ItemKey::MusicBrainzReleaseType);
    release_types.extend(native.release_types);
    t.release_types = split_chars(release_types, ";/,\0");
    // ID3v2 TPUB reads as Publisher (LABEL and PUBLISHER are distinct in Vorbis comments).
    let labels = Some(texts(&tags, ItemKey::Label)).filter(|l| !l.is_empty());
    t.record_labels = split_chars(labels.unwrap_or_else(|| texts(&tags, ItemKey::Publisher)), ";");
    t.moods = split_chars(texts(&tags, ItemKey::Mood), ";/,");
    t.explicit_status = text(&tags, ItemKey::ParentalAdvisory).or(native.advisory).and_then(|v| explicit_status(&v));
    for tag in &tags {
        for p in tag.pictures() {
            let ty = format!("{:?}", p.pic_type());
            let mime = p.mime_type().map(|m| m.as_str().to_string()).unwrap_or_default();
            if !t.pictures.iter().any(|(a, b)| *a == ty && *b == mime) {
                t.pictures.push((ty, mime));
            }
        }
    }
    Ok((t, warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        let seps: Vec<String> = [" feat. ", "; ", " / "].iter().map(|s| s.to_string()).collect();
        assert_eq!(split_values(vec!["A feat. B; C".into()], &seps), vec!["A", "B", "C"]);
        assert_eq!(split_values(vec!["AC/DC".into()], &seps), vec!["AC/DC"], "no spaces: not a separator");
        assert_eq!(split_values(vec!["A".into(), "B; C".into()], &seps), vec!["A", "B; C"], "multi-valued wins");
        assert_eq!(split_chars(vec!["Rock; Pop/Jazz, rock".into()], ";/,"), vec!["Rock", "Pop", "Jazz"]);
    }

    #[test]
    fn the_window_reader_reads_like_a_file() {
        use std::io::{Read, Seek, SeekFrom};
        let path = std::env::temp_dir().join(format!("redoubt-window-{}", std::process::id()));
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut r = WindowReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut buf = vec![0u8; 10];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(buf, data[..10]);
        r.seek(SeekFrom::End(-5)).unwrap();
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, data[data.len() - 5..]);
        r.seek(SeekFrom::Start(70_000)).unwrap();
        r.seek(SeekFrom::Current(-3)).unwrap();
        let mut big = vec![0u8; 100_000];
        r.read_exact(&mut big).unwrap();
        assert_eq!(big, data[69_997..169_997]);
        assert!(r.seek(SeekFrom::Current(-1_000_000)).is_err());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn numbers_gains_years() {
        assert_eq!(number_pair("3/12"), (Some(3), Some(12)));
        assert_eq!(number_pair(" 7 "), (Some(7), None));
        assert_eq!(year_of("2004-05-06"), Some(2004));
        assert_eq!(year_of("04"), None);
        assert_eq!(cap("ab\u{0}", 10), "ab");
        assert_eq!(explicit_status("1").as_deref(), Some("explicit"));
        assert_eq!(explicit_status("4").as_deref(), Some("explicit"));
        assert_eq!(explicit_status(" 2").as_deref(), Some("clean"));
        assert_eq!(explicit_status("0"), None);
        assert_eq!(cap(&"é".repeat(1000), 5).len(), 4);
    }
}
