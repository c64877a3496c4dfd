//! Generated audio fixtures for the library scanner: tiny templates made once per format with
//! ffmpeg, tagged with lofty (or ffmpeg where lofty cannot write the format), plus images and
//! corrupt files. Nothing binary is shipped; everything is made on demand.
//!
//! Formats (`FORMATS`): mp3 flac ogg oga opus m4a m4b alac aac wav aiff wv wma mka.
//! ffmpeg cannot write ape, mpc, dsf or tak (no encoder/muxer), so there are no templates for them.
//! `examples/gen_library.rs` includes this file too (`#[path]`), so it only uses std, lofty and
//! serde_json.
#![allow(dead_code)]

use std::io::{Cursor, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lofty::config::WriteOptions;
use lofty::picture::{MimeType, Picture, PictureType};
use lofty::prelude::*;
use lofty::tag::{ItemValue, Tag, TagItem, TagType};

/// Every format `template` can make, by name (the name is the suffix except `alac` -> `.m4a`).
pub const FORMATS: &[&str] =
    &["mp3", "flac", "ogg", "oga", "opus", "m4a", "m4b", "alac", "aac", "wav", "aiff", "wv", "wma", "mka"];

/// Formats from the scanner's list that ffmpeg cannot write here.
pub const NOT_WRITABLE: &[&str] = &["ape", "mpc", "dsf", "tak"];

/// Bumped whenever the ffmpeg arguments change, so stale cached templates are not reused.
const TEMPLATE_VERSION: u32 = 1;

/// The file suffix for a format name.
pub fn suffix(format: &str) -> &'static str {
    match format {
        "mp3" => "mp3",
        "flac" => "flac",
        "ogg" => "ogg",
        "oga" => "oga",
        "opus" => "opus",
        "m4a" | "alac" => "m4a",
        "m4b" => "m4b",
        "aac" => "aac",
        "wav" => "wav",
        "aiff" => "aiff",
        "wv" => "wv",
        "wma" => "wma",
        "mka" => "mka",
        other => panic!("unknown media format {other:?}"),
    }
}

/// Whether lofty can write (and read) tags of this format; the others are tagged by ffmpeg.
pub fn lofty_writable(format: &str) -> bool {
    !matches!(format, "wma" | "mka")
}

/// ffmpeg encoder and muxer arguments per format.
fn encode_args(format: &str) -> &'static [&'static str] {
    match format {
        "mp3" => &["-c:a", "libmp3lame", "-b:a", "32k", "-id3v2_version", "0", "-f", "mp3"],
        "flac" => &["-c:a", "flac", "-f", "flac"],
        "ogg" | "oga" => &["-c:a", "libvorbis", "-q:a", "0", "-f", "ogg"],
        "opus" => &["-c:a", "libopus", "-b:a", "16k", "-f", "opus"],
        "m4a" | "m4b" => &["-c:a", "aac", "-b:a", "32k", "-f", "ipod"],
        "alac" => &["-c:a", "alac", "-f", "ipod"],
        "aac" => &["-c:a", "aac", "-b:a", "32k", "-f", "adts"],
        "wav" => &["-c:a", "pcm_s16le", "-f", "wav"],
        "aiff" => &["-c:a", "pcm_s16be", "-f", "aiff"],
        "wv" => &["-c:a", "wavpack", "-f", "wv"],
        "wma" => &["-c:a", "wmav2", "-b:a", "32k", "-f", "asf"],
        "mka" => &["-c:a", "libvorbis", "-q:a", "0", "-f", "matroska"],
        other => panic!("unknown media format {other:?}"),
    }
}

/// A cache folder shared by all test processes of this user.
pub fn cache_dir() -> PathBuf {
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("redoubt-media-templates-{uid}"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// A unique temporary name next to `path`, for write-then-rename.
fn temp_name(path: &Path) -> PathBuf {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path.file_name().unwrap().to_string_lossy();
    path.with_file_name(format!(".{name}.{}.{seq}.tmp", std::process::id()))
}

/// Runs ffmpeg with `-v error -y` and the given arguments; panics with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running ffmpeg (is it installed?): {e}"));
    assert!(out.status.success(), "ffmpeg {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Makes `final_path` once with `make(tmp)`, race-free across processes and threads.
fn cached(final_path: PathBuf, make: impl FnOnce(&Path)) -> PathBuf {
    if final_path.exists() {
        return final_path;
    }
    let tmp = temp_name(&final_path);
    make(&tmp);
    std::fs::rename(&tmp, &final_path).unwrap_or_else(|e| panic!("rename to {}: {e}", final_path.display()));
    final_path
}

/// A tiny untagged file (1 s of a 440 Hz sine, mono, 44.1 kHz or the codec's rate, low bitrate),
/// made once in `cache_dir()`.
pub fn template(format: &str) -> PathBuf {
    template_in(&cache_dir(), format)
}

/// `template` in a given cache folder.
pub fn template_in(dir: &Path, format: &str) -> PathBuf {
    let path = dir.join(format!("template-v{TEMPLATE_VERSION}-{format}.{}", suffix(format)));
    cached(path, |tmp| {
        let mut args = vec!["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=1", "-ac", "1"];
        args.extend(["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]);
        args.extend(encode_args(format));
        let tmp = tmp.to_str().unwrap();
        args.push(tmp);
        ffmpeg(&args);
    })
}

fn image(width: u32, height: u32, ext: &str, codec_args: &[&str]) -> Vec<u8> {
    let path = cache_dir().join(format!("image-v{TEMPLATE_VERSION}-{width}x{height}.{ext}"));
    let path = cached(path, |tmp| {
        let src = format!("color=c=0x3060a0:s={width}x{height}");
        let mut args = vec!["-f", "lavfi", "-i", &src, "-frames:v", "1"];
        args.extend(codec_args);
        args.extend(["-f", "image2", tmp.to_str().unwrap()]);
        ffmpeg(&args);
    });
    std::fs::read(path).unwrap()
}

/// A small solid-colour baseline JPEG.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    image(width, height, "jpg", &["-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "5"])
}

/// A small solid-colour PNG.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    image(width, height, "png", &["-c:v", "png", "-pix_fmt", "rgb24"])
}

/// Tags to write; `None`/empty fields are not written.
#[derive(Default, Clone, Debug)]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    /// Multi-valued ARTISTS.
    pub artists: Vec<String>,
    pub album: Option<String>,
    pub album_artist: Option<String>,
    /// Multi-valued ALBUMARTISTS.
    pub album_artists: Vec<String>,
    pub track: Option<u32>,
    pub track_total: Option<u32>,
    pub disc: Option<u32>,
    pub disc_total: Option<u32>,
    pub disc_subtitle: Option<String>,
    /// Written as the recording date when `date` is not set.
    pub year: Option<i32>,
    /// Recording date, e.g. "2004-05-06".
    pub date: Option<String>,
    pub original_date: Option<String>,
    pub release_date: Option<String>,
    /// Multiple values where the format allows, otherwise one value joined by "; ".
    pub genres: Vec<String>,
    pub compilation: Option<bool>,
    pub comment: Option<String>,
    /// Unsynced or LRC text.
    pub lyrics: Option<String>,
    pub bpm: Option<u32>,
    pub sort_artist: Option<String>,
    pub sort_album: Option<String>,
    pub sort_album_artist: Option<String>,
    pub mbz_recording_id: Option<String>,
    pub mbz_track_id: Option<String>,
    pub mbz_album_id: Option<String>,
    pub mbz_artist_id: Option<String>,
    pub mbz_album_artist_id: Option<String>,
    pub mbz_release_group_id: Option<String>,
    /// E.g. "-6.5 dB".
    pub replaygain_track_gain: Option<String>,
    pub replaygain_track_peak: Option<String>,
    pub replaygain_album_gain: Option<String>,
    pub replaygain_album_peak: Option<String>,
    /// A JPEG embedded as the front cover.
    pub picture: Option<Vec<u8>>,
    /// Album fields: MusicBrainz release types, record labels, moods (one item each).
    pub release_types: Vec<String>,
    pub record_labels: Vec<String>,
    pub moods: Vec<String>,
    /// ITUNESADVISORY / MP4 rtng: "1" explicit, "2" clean.
    pub advisory: Option<String>,
    /// Items under the format's own names, which lofty's generic tag has no key for: an ID3v2
    /// TXXX description, a Vorbis comment name, or an MP4 `----:com.apple.iTunes:` name.
    pub native: Vec<(String, String)>,
}

impl Tags {
    /// Every field set, with non-ASCII text, for round-trip tests.
    pub fn full() -> Tags {
        Tags {
            title: Some("Tïtle ☃ one".into()),
            artist: Some("Artïst A feat. Artist B".into()),
            artists: vec!["Artïst A".into(), "Artist B".into()],
            album: Some("Älbum".into()),
            album_artist: Some("Album Artist & Co".into()),
            album_artists: vec!["Album Artist".into(), "Co".into()],
            track: Some(3),
            track_total: Some(12),
            disc: Some(2),
            disc_total: Some(3),
            disc_subtitle: Some("The Second Disc".into()),
            year: Some(2004),
            date: Some("2004-05-06".into()),
            original_date: Some("1999-01-02".into()),
            release_date: Some("2005-07-08".into()),
            genres: vec!["Rock".into(), "Electronic".into()],
            compilation: Some(true),
            comment: Some("A comment".into()),
            lyrics: Some("[00:01.00]First line\n[00:02.50]Second line".into()),
            bpm: Some(128),
            sort_artist: Some("Artist A, The".into()),
            sort_album: Some("Album, The".into()),
            sort_album_artist: Some("Album Artist, The".into()),
            mbz_recording_id: Some("11111111-1111-4111-8111-111111111111".into()),
            mbz_track_id: Some("22222222-2222-4222-8222-222222222222".into()),
            mbz_album_id: Some("33333333-3333-4333-8333-333333333333".into()),
            mbz_artist_id: Some("44444444-4444-4444-8444-444444444444".into()),
            mbz_album_artist_id: Some("55555555-5555-4555-8555-555555555555".into()),
            mbz_release_group_id: Some("66666666-6666-4666-8666-666666666666".into()),
            replaygain_track_gain: Some("-6.5 dB".into()),
            replaygain_track_peak: Some("0.988547".into()),
            replaygain_album_gain: Some("-7.25 dB".into()),
            replaygain_album_peak: Some("1.000000".into()),
            picture: Some(jpeg(32, 32)),
            ..Tags::default()
        }
    }

    /// The recording date as written: `date`, else `year`.
    pub fn recording_date(&self) -> Option<String> {
        self.date.clone().or(self.year.map(|y| y.to_string()))
    }

    /// Genres as one value, joined by "; ".
    pub fn genres_joined(&self) -> Option<String> {
        (!self.genres.is_empty()).then(|| self.genres.join("; "))
    }
}

/// The lofty tag type each lofty-writable format gets (wav also gets RIFF INFO).
pub fn natural_tag_type(format: &str) -> TagType {
    match format {
        "mp3" | "aac" | "wav" | "aiff" => TagType::Id3v2,
        "flac" | "ogg" | "oga" | "opus" => TagType::VorbisComments,
        "m4a" | "m4b" | "alac" => TagType::Mp4Ilst,
        "wv" => TagType::Ape,
        other => panic!("lofty cannot write {other:?}"),
    }
}

/// Builds a generic lofty tag of `tag_type` from `tags`. Items the tag type has no key for are
/// dropped (lofty's `Tag::push` checks the mapping), except BPM on APE, added in `apply_tag`.
pub fn lofty_tag(tags: &Tags, tag_type: TagType) -> Tag {
    let mut tag = Tag::new(tag_type);
    // Formats without multi-valued text get one joined value.
    let multi = matches!(tag_type, TagType::Id3v2 | TagType::VorbisComments | TagType::Ape | TagType::Mp4Ilst);
    let mut text = |key: ItemKey, value: &Option<String>| {
        if let Some(v) = value {
            tag.push(TagItem::new(key, ItemValue::Text(v.clone())));
        }
    };
    text(ItemKey::TrackTitle, &tags.title);
    text(ItemKey::TrackArtist, &tags.artist);
    text(ItemKey::AlbumTitle, &tags.album);
    text(ItemKey::AlbumArtist, &tags.album_artist);
    text(ItemKey::SetSubtitle, &tags.disc_subtitle);
    text(ItemKey::RecordingDate, &tags.recording_date());
    text(ItemKey::OriginalReleaseDate, &tags.original_date);
    text(ItemKey::ReleaseDate, &tags.release_date);
    text(ItemKey::Comment, &tags.comment);
    text(ItemKey::TrackArtistSortOrder, &tags.sort_artist);
    text(ItemKey::AlbumTitleSortOrder, &tags.sort_album);
    text(ItemKey::AlbumArtistSortOrder, &tags.sort_album_artist);
    text(ItemKey::MusicBrainzRecordingId, &tags.mbz_recording_id);
    text(ItemKey::MusicBrainzTrackId, &tags.mbz_track_id);
    text(ItemKey::MusicBrainzReleaseId, &tags.mbz_album_id);
    text(ItemKey::MusicBrainzArtistId, &tags.mbz_artist_id);
    text(ItemKey::MusicBrainzReleaseArtistId, &tags.mbz_album_artist_id);
    text(ItemKey::MusicBrainzReleaseGroupId, &tags.mbz_release_group_id);
    text(ItemKey::ReplayGainTrackGain, &tags.replaygain_track_gain);
    text(ItemKey::ReplayGainTrackPeak, &tags.replaygain_track_peak);
    text(ItemKey::ReplayGainAlbumGain, &tags.replaygain_album_gain);
    text(ItemKey::ReplayGainAlbumPeak, &tags.replaygain_album_peak);
    let num = |n: Option<u32>| n.map(|n| n.to_string());
    text(ItemKey::TrackNumber, &num(tags.track));
    text(ItemKey::TrackTotal, &num(tags.track_total));
    text(ItemKey::DiscNumber, &num(tags.disc));
    text(ItemKey::DiscTotal, &num(tags.disc_total));
    text(ItemKey::FlagCompilation, &tags.compilation.map(|c| if c { "1" } else { "0" }.to_string()));
    // ID3v2 has USLT (UnsyncLyrics) only; Vorbis/APE use LYRICS; MP4 ©lyr takes either.
    let lyrics_key = if tag_type == TagType::Id3v2 { ItemKey::UnsyncLyrics } else { ItemKey::Lyrics };
    text(lyrics_key, &tags.lyrics);
    // ID3v2 TBPM and MP4 tmpo are integers (IntegerBpm); Vorbis BPM is Bpm; APE has neither.
    let bpm_key = if tag_type == TagType::VorbisComments { ItemKey::Bpm } else { ItemKey::IntegerBpm };
    text(bpm_key, &num(tags.bpm));
    text(ItemKey::ParentalAdvisory, &tags.advisory);
    for (key, values) in [
        (ItemKey::MusicBrainzReleaseType, &tags.release_types),
        (ItemKey::Label, &tags.record_labels),
        (ItemKey::Mood, &tags.moods),
    ] {
        for v in values {
            text(key, &Some(v.clone()));
        }
    }
    if multi {
        for (key, values) in [
            (ItemKey::TrackArtists, &tags.artists),
            (ItemKey::AlbumArtists, &tags.album_artists),
            (ItemKey::Genre, &tags.genres),
        ] {
            for v in values {
                text(key, &Some(v.clone()));
            }
        }
    } else {
        text(ItemKey::Genre, &tags.genres_joined());
    }
    if let Some(data) = &tags.picture {
        if tag_type != TagType::RiffInfo && tag_type != TagType::Id3v1 {
            let mime = if data.starts_with(b"\x89PNG") { MimeType::Png } else { MimeType::Jpeg };
            tag.push_picture(
                Picture::unchecked(data.clone()).pic_type(PictureType::CoverFront).mime_type(mime).build(),
            );
        }
    }
    tag
}

/// Writes `tags` as `tag_type` into the in-memory file `file` (lofty probes the content).
pub fn apply_tag(file: &mut Cursor<Vec<u8>>, tags: &Tags, tag_type: TagType, options: WriteOptions) {
    file.seek(SeekFrom::Start(0)).unwrap();
    let tag = lofty_tag(tags, tag_type);
    if !tags.native.is_empty() {
        use lofty::tag::TagExt;
        match tag_type {
            TagType::Id3v2 => {
                let mut id3 = lofty::id3::v2::Id3v2Tag::from(tag);
                for (k, v) in &tags.native {
                    id3.insert_user_text(k.clone(), v.clone());
                }
                id3.save_to(file, options).unwrap_or_else(|e| panic!("writing ID3v2 tag: {e}"));
            }
            TagType::VorbisComments => {
                let mut vc = lofty::ogg::tag::VorbisComments::from(tag);
                for (k, v) in &tags.native {
                    vc.push(k.clone(), v.clone());
                }
                vc.save_to(file, options).unwrap_or_else(|e| panic!("writing Vorbis comments: {e}"));
            }
            TagType::Mp4Ilst => {
                use lofty::mp4::{Atom, AtomData, AtomIdent};
                let mut ilst = lofty::mp4::Ilst::from(tag);
                for (k, v) in &tags.native {
                    let ident = AtomIdent::Freeform { mean: "com.apple.iTunes".into(), name: k.clone().into() };
                    ilst.insert(Atom::new(ident, AtomData::UTF8(v.clone())));
                }
                ilst.save_to(file, options).unwrap_or_else(|e| panic!("writing MP4 ilst: {e}"));
            }
            other => panic!("no native items for {other:?}"),
        }
    } else if tag_type == TagType::Ape {
        let mut ape = lofty::ape::ApeTag::from(tag);
        if let Some(bpm) = tags.bpm {
            ape.insert(lofty::ape::ApeItem::new("BPM".into(), ItemValue::Text(bpm.to_string())).unwrap());
        }
        ape.save_to(file, options).unwrap_or_else(|e| panic!("writing APE tag: {e}"));
    } else {
        tag.save_to(file, options).unwrap_or_else(|e| panic!("writing {tag_type:?} tag: {e}"));
    }
}

/// The bytes of `template` (a lofty-writable `format`) tagged with `tags` in the natural tag
/// type(s) of the format: ID3v2.4 (mp3, aac, aiff), ID3v2.4 + RIFF INFO (wav), Vorbis comments
/// (flac, ogg, oga, opus), MP4 ilst (m4a, m4b, alac), APE (wv).
pub fn tagged_bytes(format: &str, template: &[u8], tags: &Tags, options: WriteOptions) -> Vec<u8> {
    let mut file = Cursor::new(template.to_vec());
    apply_tag(&mut file, tags, natural_tag_type(format), options);
    if format == "wav" {
        apply_tag(&mut file, tags, TagType::RiffInfo, options);
    }
    file.into_inner()
}

/// ffmpeg `-metadata` pairs for formats lofty cannot write (wma: ASF, mka: Matroska tags).
/// Multi-valued fields are joined by "; ".
pub fn ffmpeg_metadata(format: &str, tags: &Tags) -> Vec<(String, String)> {
    let wma = format == "wma";
    let mut m: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.push((k.to_string(), v));
        }
    };
    let pair = |n: Option<u32>, total: Option<u32>| match (n, total) {
        (Some(n), Some(t)) => Some(format!("{n}/{t}")),
        (Some(n), None) => Some(n.to_string()),
        _ => None,
    };
    let joined = |v: &Vec<String>| (!v.is_empty()).then(|| v.join("; "));
    put("title", tags.title.clone());
    put("artist", tags.artist.clone());
    put("album", tags.album.clone());
    put("album_artist", tags.album_artist.clone());
    put("genre", tags.genres_joined());
    put("comment", tags.comment.clone());
    put("date", tags.recording_date());
    if wma {
        // asfenc maps track -> WM/TrackNumber and passes other keys through as-is.
        put("track", tags.track.map(|t| t.to_string()));
        put("disc", pair(tags.disc, tags.disc_total)); // -> WM/PartOfSet
        put("WM/ARTISTS", joined(&tags.artists));
        put("WM/SetSubTitle", tags.disc_subtitle.clone());
        put("WM/OriginalReleaseTime", tags.original_date.clone());
        put("WM/IsCompilation", tags.compilation.map(|c| if c { "1" } else { "0" }.into()));
        put("WM/Lyrics", tags.lyrics.clone());
        put("WM/BeatsPerMinute", tags.bpm.map(|b| b.to_string()));
        put("WM/ArtistSortOrder", tags.sort_artist.clone());
        put("WM/AlbumSortOrder", tags.sort_album.clone());
        put("WM/AlbumArtistSortOrder", tags.sort_album_artist.clone());
        put("MusicBrainz/Track Id", tags.mbz_recording_id.clone());
        put("MusicBrainz/Release Track Id", tags.mbz_track_id.clone());
        put("MusicBrainz/Album Id", tags.mbz_album_id.clone());
        put("MusicBrainz/Artist Id", tags.mbz_artist_id.clone());
        put("MusicBrainz/Album Artist Id", tags.mbz_album_artist_id.clone());
        put("MusicBrainz/Release Group Id", tags.mbz_release_group_id.clone());
    } else {
        put("track", pair(tags.track, tags.track_total));
        put("disc", pair(tags.disc, tags.disc_total));
        put("ARTISTS", joined(&tags.artists));
        put("DISCSUBTITLE", tags.disc_subtitle.clone());
        put("ORIGINALDATE", tags.original_date.clone());
        put("COMPILATION", tags.compilation.map(|c| if c { "1" } else { "0" }.into()));
        put("LYRICS", tags.lyrics.clone());
        put("BPM", tags.bpm.map(|b| b.to_string()));
        put("ARTISTSORT", tags.sort_artist.clone());
        put("ALBUMSORT", tags.sort_album.clone());
        put("ALBUMARTISTSORT", tags.sort_album_artist.clone());
        put("MUSICBRAINZ_TRACKID", tags.mbz_recording_id.clone());
        put("MUSICBRAINZ_RELEASETRACKID", tags.mbz_track_id.clone());
        put("MUSICBRAINZ_ALBUMID", tags.mbz_album_id.clone());
        put("MUSICBRAINZ_ARTISTID", tags.mbz_artist_id.clone());
        put("MUSICBRAINZ_ALBUMARTISTID", tags.mbz_album_artist_id.clone());
        put("MUSICBRAINZ_RELEASEGROUPID", tags.mbz_release_group_id.clone());
    }
    put(if wma { "WM/AlbumArtists" } else { "ALBUMARTISTS" }, joined(&tags.album_artists));
    put("RELEASEDATE", tags.release_date.clone());
    put("REPLAYGAIN_TRACK_GAIN", tags.replaygain_track_gain.clone());
    put("REPLAYGAIN_TRACK_PEAK", tags.replaygain_track_peak.clone());
    put("REPLAYGAIN_ALBUM_GAIN", tags.replaygain_album_gain.clone());
    put("REPLAYGAIN_ALBUM_PEAK", tags.replaygain_album_peak.clone());
    m
}

/// Copies the template with ffmpeg, writing the tags with `-metadata`, and for mka the picture
/// as an attachment `cover.jpg`. wma gets no picture: ffmpeg's asf muxer has no WM/Picture and
/// would write the image as a video stream.
fn write_with_ffmpeg(path: &Path, format: &str, tags: &Tags) {
    let tpl = template(format);
    let tmp = temp_name(path);
    let pic = tags.picture.as_ref().filter(|_| format == "mka").map(|data| {
        let p = temp_name(&cache_dir().join("cover.jpg"));
        std::fs::write(&p, data).unwrap();
        p
    });
    let mut args: Vec<String> = vec!["-i".into(), tpl.to_str().unwrap().into(), "-map".into(), "0".into()];
    args.extend(["-c".into(), "copy".into(), "-fflags".into(), "+bitexact".into()]);
    if let Some(p) = &pic {
        args.extend(["-attach".into(), p.to_str().unwrap().into()]);
        args.extend(["-metadata:s:t:0".into(), "mimetype=image/jpeg".into()]);
        args.extend(["-metadata:s:t:0".into(), "filename=cover.jpg".into()]);
    }
    for (k, v) in ffmpeg_metadata(format, tags) {
        args.extend(["-metadata".into(), format!("{k}={v}")]);
    }
    args.extend(["-f".into(), if format == "wma" { "asf" } else { "matroska" }.into()]);
    args.push(tmp.to_str().unwrap().into());
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    if let Some(p) = pic {
        let _ = std::fs::remove_file(p);
    }
    std::fs::rename(&tmp, path).unwrap();
}

/// Writes a tagged `format` file at `path`: the template with `tags` in the natural tag type
/// (see `tagged_bytes`), or through ffmpeg `-metadata` for wma and mka.
pub fn write_track(path: &Path, format: &str, tags: &Tags) {
    if !lofty_writable(format) {
        return write_with_ffmpeg(path, format, tags);
    }
    let template = std::fs::read(template(format)).unwrap();
    let bytes = tagged_bytes(format, &template, tags, WriteOptions::default());
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn write_mp3_as(path: &Path, tags: &Tags, tag_type: TagType, options: WriteOptions) {
    let mut file = Cursor::new(std::fs::read(template("mp3")).unwrap());
    apply_tag(&mut file, tags, tag_type, options);
    std::fs::write(path, file.into_inner()).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// An mp3 with an ID3v2.3 tag (lofty downgrades: TDRC -> TYER/TDAT, multi-values joined by "/").
pub fn write_track_id3v23(path: &Path, tags: &Tags) {
    let mut options = WriteOptions::default();
    options.use_id3v23(true);
    write_mp3_as(path, tags, TagType::Id3v2, options);
}

/// An mp3 with only an ID3v1 tag (title, artist, album, year, comment, track, one genre).
pub fn write_track_id3v1(path: &Path, tags: &Tags) {
    let mut tags = tags.clone();
    // ID3v1 has one genre from a fixed list; lofty writes it by name.
    tags.genres.truncate(1);
    write_mp3_as(path, &tags, TagType::Id3v1, WriteOptions::default());
}

/// An mp3 with only an APE tag (at the end of the file).
pub fn write_track_ape_mp3(path: &Path, tags: &Tags) {
    write_mp3_as(path, tags, TagType::Ape, WriteOptions::default());
}

/// A small deterministic generator (splitmix64), so corrupt files are reproducible.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn small_tags(title: &str) -> Tags {
    Tags {
        title: Some(title.into()),
        artist: Some("Broken".into()),
        album: Some("Bad Files".into()),
        ..Tags::default()
    }
}

fn valid_bytes(format: &str, title: &str) -> Vec<u8> {
    let dir = cache_dir();
    let tmp = temp_name(&dir.join(format!("valid.{}", suffix(format))));
    write_track(&tmp, format, &small_tags(title));
    let bytes = std::fs::read(&tmp).unwrap();
    std::fs::remove_file(&tmp).unwrap();
    bytes
}

/// The first 40% of a valid tagged `format` file.
pub fn truncated(path: &Path, format: &str) {
    let bytes = valid_bytes(format, "Truncated");
    std::fs::write(path, &bytes[..bytes.len() * 2 / 5]).unwrap();
}

/// An empty file.
pub fn zero_length(path: &Path) {
    std::fs::File::create(path).unwrap();
}

/// `len` pseudo-random bytes from `seed`.
pub fn random_bytes(path: &Path, len: usize, seed: u64) {
    std::fs::write(path, pseudo_random_bytes(len, seed)).unwrap();
}

/// A valid tagged `format` file with bytes 0..64 overwritten with garbage.
pub fn header_corrupted(path: &Path, format: &str) {
    let mut bytes = valid_bytes(format, "Header Corrupted");
    let n = bytes.len().min(64);
    bytes[..n].copy_from_slice(&pseudo_random_bytes(n, 0xbad_4ead));
    std::fs::write(path, bytes).unwrap();
}

/// A valid tagged FLAC file (title "Mislabelled") under whatever name `path` has, e.g. `x.mp3`.
pub fn mislabelled(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&valid_bytes("flac", "Mislabelled")).unwrap();
}

/// Format-level and stream-level tags as ffprobe reports them (keys as ffprobe prints them),
/// plus `attached_pic` / `attachment:<filename>` entries for pictures. For checking wma/mka.
pub fn ffprobe_tags(path: &Path) -> Vec<(String, String)> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format_tags:stream_tags:stream=codec_type:stream_disposition=attached_pic",
        ])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .expect("running ffprobe");
    assert!(out.status.success(), "ffprobe {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut tags = Vec::new();
    fn push_obj(tags: &mut Vec<(String, String)>, o: &serde_json::Value) {
        if let Some(o) = o.as_object() {
            for (k, v) in o {
                tags.push((k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string())));
            }
        }
    }
    push_obj(&mut tags, &v["format"]["tags"]);
    for s in v["streams"].as_array().into_iter().flatten() {
        if s["disposition"]["attached_pic"].as_i64() == Some(1) {
            tags.push(("attached_pic".into(), s["codec_type"].as_str().unwrap_or("").into()));
        } else if s["codec_type"] == "attachment" {
            tags.push((format!("attachment:{}", s["tags"]["filename"].as_str().unwrap_or("")), String::new()));
        } else {
            push_obj(&mut tags, &s["tags"]);
        }
    }
    tags
}

/// The small library the API tests share: album artists "The Alphas", "Bravo Band" and
/// "Charlie", albums "Album <artist><0|1>" (album 0 Rock, album 1 Jazz, years 2001..2006 in
/// order), three mp3 songs each titled "Song <artist><album><track>", except the song at
/// `special` = ((artist, album, track), title).
pub fn small_library(music: &Path, special: ((usize, u32, u32), &str)) {
    let artists = ["The Alphas", "Bravo Band", "Charlie"];
    let mut year = 2001;
    for (a, artist) in artists.iter().enumerate() {
        for album in 0..2u32 {
            let name = format!("Album {a}{album}");
            let dir = music.join(artist).join(&name);
            std::fs::create_dir_all(&dir).unwrap();
            for t in 1..=3u32 {
                let title =
                    if special.0 == (a, album, t) { special.1.to_string() } else { format!("Song {a}{album}{t}") };
                write_track(
                    &dir.join(format!("{t:02}.mp3")),
                    "mp3",
                    &Tags {
                        title: Some(title),
                        artist: Some(artist.to_string()),
                        album: Some(name.clone()),
                        track: Some(t),
                        disc: Some(1),
                        year: Some(year),
                        genres: vec![if album == 0 { "Rock".into() } else { "Jazz".into() }],
                        ..Tags::default()
                    },
                );
            }
            year += 1;
        }
    }
}

/// A small file in a format ffmpeg cannot write (`dsf`, `dff`, `tak`): the container's header
/// and a little silence, enough for the file to look like one. The scanner has no tag reader
/// for these formats and indexes them by name without parsing them, so nothing more is needed.
pub fn unwritable_stub(path: &Path, format: &str) {
    let silence = vec![0x69u8; 4096];
    let mut b: Vec<u8> = Vec::new();
    match format {
        "dsf" => {
            // DSD chunk, fmt chunk (2 channels, 2.8224 MHz, 1 bit), data chunk.
            let total = 28 + 52 + 12 + silence.len() as u64;
            b.extend_from_slice(b"DSD ");
            b.extend_from_slice(&28u64.to_le_bytes());
            b.extend_from_slice(&total.to_le_bytes());
            b.extend_from_slice(&0u64.to_le_bytes());
            b.extend_from_slice(b"fmt ");
            b.extend_from_slice(&52u64.to_le_bytes());
            for v in [1u32, 0, 2, 2, 2_822_400, 1] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b.extend_from_slice(&((silence.len() as u64 / 2) * 8).to_le_bytes());
            b.extend_from_slice(&4096u32.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(b"data");
            b.extend_from_slice(&(12 + silence.len() as u64).to_le_bytes());
        }
        "dff" => {
            // FRM8 form of type DSD with a version chunk, then the sound data chunk.
            let body = 4 + 12 + 4 + 12 + silence.len() as u64;
            b.extend_from_slice(b"FRM8");
            b.extend_from_slice(&body.to_be_bytes());
            b.extend_from_slice(b"DSD ");
            b.extend_from_slice(b"FVER");
            b.extend_from_slice(&4u64.to_be_bytes());
            b.extend_from_slice(&0x0105_0000u32.to_be_bytes());
            b.extend_from_slice(b"DSD ");
            b.extend_from_slice(&(silence.len() as u64).to_be_bytes());
        }
        "tak" => b.extend_from_slice(b"tBaK"),
        other => panic!("no stub for {other:?}"),
    }
    b.extend_from_slice(&silence);
    std::fs::write(path, b).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
