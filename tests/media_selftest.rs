//! Self-test and documentation of the scanner fixtures in `tests/common/media.rs`: every format
//! is written with every tag and read back with lofty (ffprobe for wma/mka, which lofty cannot
//! read). Each test lists the fields that do NOT round-trip for its format; the scanner should
//! expect exactly those gaps.
//!
//! How each `Tags` field is written (lofty `ItemKey` -> format key):
//!
//! | field | ItemKey | ID3v2.4 | Vorbis | MP4 ilst | APE |
//! |---|---|---|---|---|---|
//! | title | TrackTitle | TIT2 | TITLE | ©nam | Title |
//! | artist | TrackArtist | TPE1 | ARTIST | ©ART | Artist |
//! | artists | TrackArtists (xN) | TXXX:ARTISTS | ARTISTS (xN) | ----:ARTISTS | Artists |
//! | album | AlbumTitle | TALB | ALBUM | ©alb | Album |
//! | album_artist | AlbumArtist | TPE2 | ALBUMARTIST | aART | Album Artist |
//! | album_artists | AlbumArtists (xN) | TXXX:ALBUMARTISTS | ALBUMARTISTS (xN) | ----:ALBUMARTISTS | ALBUMARTISTS |
//! | track, track_total | TrackNumber, TrackTotal | TRCK n/t | TRACKNUMBER, TRACKTOTAL | trkn | Track n/t |
//! | disc, disc_total | DiscNumber, DiscTotal | TPOS n/t | DISCNUMBER, DISCTOTAL | disk | Disc n/t |
//! | disc_subtitle | SetSubtitle | TSST | DISCSUBTITLE | ----:DISCSUBTITLE | DiscSubtitle |
//! | date (else year) | RecordingDate | TDRC | DATE | ©day | Year |
//! | original_date | OriginalReleaseDate | TDOR | ORIGINALDATE | ----:ORIGINALDATE | ORIGINALYEAR |
//! | release_date | ReleaseDate | TDRL | RELEASEDATE | ----:RELEASEDATE | RELEASEDATE |
//! | genres | Genre (xN) | TCON (NUL-separated) | GENRE (xN) | ©gen | Genre |
//! | compilation | FlagCompilation | TCMP | COMPILATION | cpil | Compilation |
//! | comment | Comment | COMM | COMMENT | ©cmt | Comment |
//! | lyrics | UnsyncLyrics (ID3) / Lyrics | USLT | LYRICS | ©lyr | Lyrics |
//! | bpm | IntegerBpm (ID3, MP4) / Bpm (Vorbis) | TBPM | BPM | tmpo | BPM (raw ApeItem) |
//! | sort_artist | TrackArtistSortOrder | TSOP | ARTISTSORT | soar | ARTISTSORT |
//! | sort_album | AlbumTitleSortOrder | TSOA | ALBUMSORT | soal | ALBUMSORT |
//! | sort_album_artist | AlbumArtistSortOrder | TSO2 | ALBUMARTISTSORT | soaa | ALBUMARTISTSORT |
//! | mbz_recording_id | MusicBrainzRecordingId | UFID:http://musicbrainz.org | MUSICBRAINZ_TRACKID | ----:MusicBrainz Track Id | MUSICBRAINZ_TRACKID |
//! | mbz_track_id | MusicBrainzTrackId | TXXX:MusicBrainz Release Track Id | MUSICBRAINZ_RELEASETRACKID | ----:MusicBrainz Release Track Id | MUSICBRAINZ_RELEASETRACKID |
//! | mbz_album_id | MusicBrainzReleaseId | TXXX:MusicBrainz Album Id | MUSICBRAINZ_ALBUMID | ----:MusicBrainz Album Id | MUSICBRAINZ_ALBUMID |
//! | mbz_artist_id | MusicBrainzArtistId | TXXX:MusicBrainz Artist Id | MUSICBRAINZ_ARTISTID | ----:MusicBrainz Artist Id | MUSICBRAINZ_ARTISTID |
//! | mbz_album_artist_id | MusicBrainzReleaseArtistId | TXXX:MusicBrainz Album Artist Id | MUSICBRAINZ_ALBUMARTISTID | ----:MusicBrainz Album Artist Id | MUSICBRAINZ_ALBUMARTISTID |
//! | mbz_release_group_id | MusicBrainzReleaseGroupId | TXXX:MusicBrainz Release Group Id | MUSICBRAINZ_RELEASEGROUPID | ----:MusicBrainz Release Group Id | MUSICBRAINZ_RELEASEGROUPID |
//! | replaygain_* | ReplayGain{Track,Album}{Gain,Peak} | TXXX:REPLAYGAIN_* | REPLAYGAIN_* | ----:replaygain_* | REPLAYGAIN_* |
//! | picture | pictures() CoverFront | APIC | PICTURE block (flac) / METADATA_BLOCK_PICTURE | covr | Cover Art (Front) |
//!
//! ("----:" is "----:com.apple.iTunes:".)
//! wav also gets RIFF INFO (INAM IART IPRD IPRT/ITRK IFRM ICRD IGNR ICMT only); ID3v1 holds
//! title, artist, album, year, comment, track and one genre.

mod common;

use std::path::{Path, PathBuf};

use common::media::*;
use lofty::config::ParseOptions;
use lofty::file::FileType;
use lofty::prelude::*;
use lofty::probe::Probe;
use lofty::tag::{Tag, TagType};

/// A path in the temp folder, removed (file or folder) when dropped.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0).or_else(|_| std::fs::remove_dir_all(&self.0));
    }
}

fn scratch(name: &str) -> Scratch {
    Scratch(std::env::temp_dir().join(format!("redoubt-media-selftest-{}-{name}", std::process::id())))
}

fn read(path: &Path) -> lofty::file::TaggedFile {
    Probe::open(path)
        .unwrap()
        .options(ParseOptions::new().read_cover_art(true))
        .guess_file_type()
        .unwrap()
        .read()
        .unwrap_or_else(|e| panic!("lofty reading {}: {e}", path.display()))
}

fn strings(tag: &Tag, key: ItemKey) -> Vec<String> {
    tag.get_strings(key).map(String::from).collect()
}

fn one(tag: &Tag, key: ItemKey) -> Option<String> {
    tag.get_string(key).map(String::from)
}

/// The names of the fields of `want` that do not read back from `tag` through the generic
/// lofty `Tag`. "picture" is the data of any picture, "picture_type" a front cover.
fn mismatches(tag: &Tag, want: &Tags) -> Vec<&'static str> {
    let mut bad = Vec::new();
    let mut check = |name: &'static str, ok: bool| {
        if !ok {
            bad.push(name);
        }
    };
    let num = |n: Option<u32>| n.map(|n| n.to_string());
    check("title", one(tag, ItemKey::TrackTitle) == want.title);
    check("artist", one(tag, ItemKey::TrackArtist) == want.artist);
    check("artists", strings(tag, ItemKey::TrackArtists) == want.artists);
    check("album", one(tag, ItemKey::AlbumTitle) == want.album);
    check("album_artist", one(tag, ItemKey::AlbumArtist) == want.album_artist);
    check("album_artists", strings(tag, ItemKey::AlbumArtists) == want.album_artists);
    check("track", one(tag, ItemKey::TrackNumber) == num(want.track));
    check("track_total", one(tag, ItemKey::TrackTotal) == num(want.track_total));
    check("disc", one(tag, ItemKey::DiscNumber) == num(want.disc));
    check("disc_total", one(tag, ItemKey::DiscTotal) == num(want.disc_total));
    check("disc_subtitle", one(tag, ItemKey::SetSubtitle) == want.disc_subtitle);
    check("date", one(tag, ItemKey::RecordingDate) == want.recording_date());
    check("original_date", one(tag, ItemKey::OriginalReleaseDate) == want.original_date);
    check("release_date", one(tag, ItemKey::ReleaseDate) == want.release_date);
    check("genres", strings(tag, ItemKey::Genre) == want.genres);
    check("compilation", one(tag, ItemKey::FlagCompilation).as_deref() == want.compilation.map(|_| "1"));
    check("comment", one(tag, ItemKey::Comment) == want.comment);
    let lyrics = one(tag, ItemKey::Lyrics).or(one(tag, ItemKey::UnsyncLyrics));
    check("lyrics", lyrics == want.lyrics);
    let bpm = one(tag, ItemKey::IntegerBpm).or(one(tag, ItemKey::Bpm));
    check("bpm", bpm == num(want.bpm));
    check("sort_artist", one(tag, ItemKey::TrackArtistSortOrder) == want.sort_artist);
    check("sort_album", one(tag, ItemKey::AlbumTitleSortOrder) == want.sort_album);
    check("sort_album_artist", one(tag, ItemKey::AlbumArtistSortOrder) == want.sort_album_artist);
    check("mbz_recording_id", one(tag, ItemKey::MusicBrainzRecordingId) == want.mbz_recording_id);
    check("mbz_track_id", one(tag, ItemKey::MusicBrainzTrackId) == want.mbz_track_id);
    check("mbz_album_id", one(tag, ItemKey::MusicBrainzReleaseId) == want.mbz_album_id);
    check("mbz_artist_id", one(tag, ItemKey::MusicBrainzArtistId) == want.mbz_artist_id);
    check("mbz_album_artist_id", one(tag, ItemKey::MusicBrainzReleaseArtistId) == want.mbz_album_artist_id);
    check("mbz_release_group_id", one(tag, ItemKey::MusicBrainzReleaseGroupId) == want.mbz_release_group_id);
    check("replaygain_track_gain", one(tag, ItemKey::ReplayGainTrackGain) == want.replaygain_track_gain);
    check("replaygain_track_peak", one(tag, ItemKey::ReplayGainTrackPeak) == want.replaygain_track_peak);
    check("replaygain_album_gain", one(tag, ItemKey::ReplayGainAlbumGain) == want.replaygain_album_gain);
    check("replaygain_album_peak", one(tag, ItemKey::ReplayGainAlbumPeak) == want.replaygain_album_peak);
    check("picture", tag.pictures().first().map(|p| p.data().to_vec()) == want.picture);
    let front = tag.get_picture_type(lofty::picture::PictureType::CoverFront).is_some();
    check("picture_type", front == want.picture.is_some());
    bad
}

/// Writes `format` with every tag, reads it back, and checks that exactly `gaps` differ.
fn round_trip(format: &str, gaps: &[&str]) {
    let want = Tags::full();
    let path = scratch(&format!("full-{format}.{}", suffix(format)));
    write_track(&path, format, &want);
    let file = read(&path);
    let props = file.properties();
    let ms = props.duration().as_millis();
    assert!((900..=1200).contains(&ms), "{format}: duration {ms} ms");
    let tag = file.tag(natural_tag_type(format)).unwrap_or_else(|| panic!("{format}: no tag"));
    let bad = mismatches(tag, &want);
    assert_eq!(bad, gaps, "{format}: fields that do not round-trip");
}

/// APE (wv, and mp3 with an APE tag): BPM and the cover are raw items that the generic `Tag`
/// does not show; the scanner has to read them from the concrete `ApeTag`.
fn check_ape_raw_items(ape: &lofty::ape::ApeTag) {
    let want = Tags::full();
    assert_eq!(ape.get("BPM").and_then(|i| i.value().text()), Some("128"));
    let cover = ape.get("Cover Art (Front)").expect("Cover Art (Front) item");
    let lofty::tag::ItemValue::Binary(bytes) = cover.value() else { panic!("binary cover") };
    let pic = lofty::picture::Picture::from_ape_bytes("Cover Art (Front)", bytes).unwrap();
    assert_eq!(pic.pic_type(), lofty::picture::PictureType::CoverFront);
    assert_eq!(Some(pic.data()), want.picture.as_deref());
}

#[test]
fn ape_raw_items_wv() {
    let path = scratch("raw.wv");
    write_track(&path, "wv", &Tags::full());
    let mut f = std::fs::File::open(&path).unwrap();
    let wv = lofty::wavpack::WavPackFile::read_from(&mut f, ParseOptions::new()).unwrap();
    check_ape_raw_items(wv.ape().expect("APE tag"));
}

#[test]
fn ape_raw_items_mp3() {
    let path = scratch("raw-ape.mp3");
    write_track_ape_mp3(&path, &Tags::full());
    let mut f = std::fs::File::open(&path).unwrap();
    let mp3 = lofty::mpeg::MpegFile::read_from(&mut f, ParseOptions::new()).unwrap();
    check_ape_raw_items(mp3.ape().expect("APE tag"));
}

macro_rules! round_trips {
    ($($name:ident: $format:literal, [$($gap:literal),*];)*) => {$(
        #[test]
        fn $name() {
            round_trip($format, &[$($gap),*]);
        }
    )*};
}

round_trips! {
    round_trip_mp3: "mp3", [];
    round_trip_aac: "aac", [];
    round_trip_aiff: "aiff", [];
    round_trip_wav: "wav", [];
    round_trip_flac: "flac", [];
    round_trip_ogg: "ogg", [];
    round_trip_oga: "oga", [];
    round_trip_opus: "opus", [];
    // MP4 covr has no picture type: lofty reads it as PictureType::Other.
    round_trip_m4a: "m4a", ["picture_type"];
    round_trip_m4b: "m4b", ["picture_type"];
    round_trip_alac: "alac", ["picture_type"];
    // APE: no ItemKey for BPM, and pictures stay raw items (see `check_ape_raw_items`).
    round_trip_wv: "wv", ["bpm", "picture", "picture_type"];
}

#[test]
fn templates_are_small_and_read_as_their_format() {
    for format in FORMATS {
        let path = template(format);
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len > 100 && len < 200_000, "{format}: {len} bytes");
        eprintln!("template {format}: {len} bytes");
        if lofty_writable(format) {
            let file = read(&path);
            let want = match *format {
                "mp3" => FileType::Mpeg,
                "flac" => FileType::Flac,
                "ogg" | "oga" => FileType::Vorbis,
                "opus" => FileType::Opus,
                "m4a" | "m4b" | "alac" => FileType::Mp4,
                "aac" => FileType::Aac,
                "wav" => FileType::Wav,
                "aiff" => FileType::Aiff,
                "wv" => FileType::WavPack,
                _ => unreachable!(),
            };
            assert_eq!(file.file_type(), want, "{format}");
            assert_eq!(file.properties().channels(), Some(1), "{format}");
        }
    }
}

#[test]
fn wav_riff_info() {
    let want = Tags::full();
    let path = scratch("info.wav");
    write_track(&path, "wav", &want);
    let file = read(&path);
    let info = file.tag(TagType::RiffInfo).expect("RIFF INFO");
    assert_eq!(one(info, ItemKey::TrackTitle), want.title);
    assert_eq!(one(info, ItemKey::TrackArtist), want.artist);
    assert_eq!(one(info, ItemKey::AlbumTitle), want.album);
    assert_eq!(one(info, ItemKey::TrackNumber).as_deref(), Some("3"));
    assert_eq!(one(info, ItemKey::TrackTotal).as_deref(), Some("12"));
    assert_eq!(one(info, ItemKey::RecordingDate), want.date);
    assert_eq!(one(info, ItemKey::Genre).as_deref(), Some("Rock; Electronic"));
    assert_eq!(one(info, ItemKey::Comment), want.comment);
}

#[test]
fn mp3_id3v23() {
    let want = Tags::full();
    let path = scratch("v23.mp3");
    write_track_id3v23(&path, &want);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], b"ID3\x03", "ID3v2.3 header");
    let file = read(&path);
    let tag = file.tag(TagType::Id3v2).unwrap();
    // lofty's v2.3 writer drops the v2.4-only TSST, TDRL, TSOP, TSOA and writes TDOR as TORY
    // (year only); TDRC becomes TYER+TDAT and reads back as the full date.
    let gaps = ["disc_subtitle", "original_date", "release_date", "sort_artist", "sort_album"];
    assert_eq!(mismatches(tag, &want), gaps);
    assert_eq!(one(tag, ItemKey::OriginalReleaseDate).as_deref(), Some("1999"));
}

#[test]
fn mp3_id3v1_only() {
    let want = Tags::full();
    let path = scratch("v1.mp3");
    write_track_id3v1(&path, &want);
    let bytes = std::fs::read(&path).unwrap();
    assert_ne!(&bytes[..3], b"ID3");
    assert_eq!(&bytes[bytes.len() - 128..][..3], b"TAG");
    let file = read(&path);
    assert!(file.tag(TagType::Id3v2).is_none());
    let tag = file.tag(TagType::Id3v1).expect("ID3v1");
    // ID3v1 is Latin-1: other characters become '?'.
    assert_eq!(one(tag, ItemKey::TrackTitle).as_deref(), Some("Tïtle ? one"));
    assert_eq!(one(tag, ItemKey::TrackArtist), want.artist);
    assert_eq!(one(tag, ItemKey::AlbumTitle), want.album);
    assert_eq!(one(tag, ItemKey::Year).as_deref(), Some("2004"));
    assert_eq!(one(tag, ItemKey::TrackNumber).as_deref(), Some("3"));
    assert_eq!(one(tag, ItemKey::Genre).as_deref(), Some("Rock"));
    assert_eq!(one(tag, ItemKey::Comment), want.comment);
}

#[test]
fn mp3_ape_only() {
    let want = Tags::full();
    let path = scratch("ape.mp3");
    write_track_ape_mp3(&path, &want);
    let file = read(&path);
    assert_eq!(file.file_type(), FileType::Mpeg);
    assert!(file.tag(TagType::Id3v2).is_none());
    let tag = file.tag(TagType::Ape).expect("APE");
    assert_eq!(mismatches(tag, &want), ["bpm", "picture", "picture_type"]);
}

/// wma and mka: lofty cannot read them, so check with ffprobe what ffmpeg wrote.
fn ffmpeg_round_trip(format: &str, expect: &[(&str, &str)]) {
    let want = Tags::full();
    let path = scratch(&format!("full-{format}.{}", suffix(format)));
    write_track(&path, format, &want);
    let got = ffprobe_tags(&path);
    eprintln!("{format}: {got:?}");
    let get = |k: &str| got.iter().find(|(gk, _)| gk.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str());
    let mut bad = Vec::new();
    for (k, v) in expect {
        if get(k) != Some(v) {
            bad.push(format!("{k}: want {v:?}, got {:?}", get(k)));
        }
    }
    assert!(bad.is_empty(), "{format}: {bad:#?}");
}

const FFMPEG_COMMON: &[(&str, &str)] = &[
    ("title", "Tïtle ☃ one"),
    ("artist", "Artïst A feat. Artist B"),
    ("album", "Älbum"),
    ("genre", "Rock; Electronic"),
    ("comment", "A comment"),
    ("REPLAYGAIN_TRACK_GAIN", "-6.5 dB"),
    ("REPLAYGAIN_TRACK_PEAK", "0.988547"),
    ("REPLAYGAIN_ALBUM_GAIN", "-7.25 dB"),
    ("REPLAYGAIN_ALBUM_PEAK", "1.000000"),
    ("RELEASEDATE", "2005-07-08"),
];

#[test]
fn round_trip_wma() {
    let mut expect = FFMPEG_COMMON.to_vec();
    expect.extend([
        ("album_artist", "Album Artist & Co"),
        ("track", "3"),
        ("date", "2004-05-06"),
        ("disc", "2/3"),
        ("WM/ARTISTS", "Artïst A; Artist B"),
        ("WM/AlbumArtists", "Album Artist; Co"),
        ("WM/IsCompilation", "1"),
        ("WM/BeatsPerMinute", "128"),
        ("MusicBrainz/Track Id", "11111111-1111-4111-8111-111111111111"),
        ("MusicBrainz/Album Id", "33333333-3333-4333-8333-333333333333"),
        ("MusicBrainz/Release Group Id", "66666666-6666-4666-8666-666666666666"),
    ]);
    ffmpeg_round_trip("wma", &expect);
}

#[test]
fn round_trip_mka() {
    let mut expect = FFMPEG_COMMON.to_vec();
    expect.extend([
        ("album_artist", "Album Artist & Co"),
        ("track", "3/12"),
        ("disc", "2/3"),
        ("date", "2004-05-06"),
        ("ARTISTS", "Artïst A; Artist B"),
        ("ALBUMARTISTS", "Album Artist; Co"),
        ("COMPILATION", "1"),
        ("BPM", "128"),
        ("MUSICBRAINZ_TRACKID", "11111111-1111-4111-8111-111111111111"),
        ("MUSICBRAINZ_ALBUMID", "33333333-3333-4333-8333-333333333333"),
        ("MUSICBRAINZ_RELEASEGROUPID", "66666666-6666-4666-8666-666666666666"),
        // ffmpeg shows an image attachment as an attached picture.
        ("attached_pic", "video"),
    ]);
    ffmpeg_round_trip("mka", &expect);
}

#[test]
fn images() {
    let j = jpeg(64, 48);
    assert_eq!(&j[..3], b"\xff\xd8\xff");
    let p = png(20, 10);
    assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
    let pj = lofty::picture::Picture::from_reader(&mut &j[..]).unwrap();
    assert_eq!(pj.mime_type(), Some(&lofty::picture::MimeType::Jpeg));
    let pp = lofty::picture::Picture::from_reader(&mut &p[..]).unwrap();
    assert_eq!(pp.mime_type(), Some(&lofty::picture::MimeType::Png));
    // A PNG cover is written as PNG.
    let path = scratch("png-cover.flac");
    write_track(&path, "flac", &Tags { picture: Some(p.clone()), ..Tags::default() });
    let file = read(&path);
    let pic = &file.primary_tag().unwrap().pictures()[0];
    assert_eq!(pic.mime_type(), Some(&lofty::picture::MimeType::Png));
    assert_eq!(pic.data(), &p[..]);
}

/// What lofty makes of the corrupt files (documents what the scanner will see).
#[test]
fn corrupt_files() {
    for format in ["mp3", "flac", "m4a", "ogg"] {
        let path = scratch(&format!("truncated.{format}"));
        truncated(&path, format);
        assert!(std::fs::metadata(&path).unwrap().len() > 0);
        eprintln!("truncated {format}: {:?}", Probe::open(&path).unwrap().guess_file_type().unwrap().read().err());

        let path = scratch(&format!("header.{format}"));
        header_corrupted(&path, format);
        eprintln!("header_corrupted {format}: {:?}", lofty::read_from_path(&path).err());
    }
    let path = scratch("zero.mp3");
    zero_length(&path);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    assert!(lofty::read_from_path(&path).is_err());

    let path = scratch("random.flac");
    random_bytes(&path, 10_000, 42);
    let a = std::fs::read(&path).unwrap();
    random_bytes(&path, 10_000, 42);
    assert_eq!(a, std::fs::read(&path).unwrap(), "deterministic");
    assert_eq!(a.len(), 10_000);
    assert!(lofty::read_from_path(&path).is_err());

    let path = scratch("mislabelled.mp3");
    mislabelled(&path);
    assert_eq!(&std::fs::read(&path).unwrap()[..4], b"fLaC");
    // `read_from_path` trusts the extension and fails; probing the content reads the FLAC.
    assert!(lofty::read_from_path(&path).is_err());
    let probe = Probe::open(&path).unwrap().guess_file_type().unwrap();
    assert_eq!(probe.file_type(), Some(FileType::Flac));
    let file = probe.read().unwrap();
    assert_eq!(file.primary_tag().unwrap().title().as_deref(), Some("Mislabelled"));
}

/// Several threads creating the same template at once all get a complete file, and no
/// temporary file is left behind.
#[test]
fn template_creation_is_race_safe() {
    let dir = scratch("race");
    std::fs::create_dir_all(&dir).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let t = template_in(&dir, "opus");
                assert!(read(&t).properties().duration().as_millis() > 900);
            });
        }
    });
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
}
