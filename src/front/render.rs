//! Library answers as Subsonic elements: `Child` (songs, and albums/folders as directories),
//! `AlbumID3`, `ArtistID3`, `Artist`, and the containers around them, with the OpenSubsonic
//! fields (genres, artists, replayGain, …).

use super::subsonic::{Node, Out, Record, Value};
use crate::dates::iso8601_signed as time;
use crate::proto::library::*;

/// "1999-05-06", "1999-05" or "1999" as an OpenSubsonic ItemDate: (year, month, day).
fn date_parts(s: &str) -> Option<(i64, Option<i64>, Option<i64>)> {
    let mut parts = s.trim().splitn(3, '-').map(|p| p.trim().parse::<i64>().ok());
    let year = parts.next().flatten()?;
    let month = parts.next().flatten();
    let day = if month.is_some() { parts.next().flatten() } else { None };
    Some((year, month, day))
}

fn annotate(o: &mut Out, a: &Annotation, played: bool) {
    if let Some(t) = a.starred {
        o.time("starred", t);
    }
    if a.rating > 0 {
        o.int("userRating", a.rating as i64);
    }
    o.int("playCount", a.play_count);
    if played {
        if let Some(t) = a.played {
            o.time("played", t);
        }
    }
}

fn id_names(o: &mut Out, name: &str, list: &[IdName]) {
    o.list(name, list, |o, a| {
        o.start(name);
        o.str("id", &a.id);
        o.str("name", &a.name);
        o.end(name);
    });
}

fn genres(o: &mut Out, genres: &[String]) {
    o.list("genres", genres, |o, g| {
        o.start("genres");
        o.str("name", g);
        o.end("genres");
    });
}

/// A song as a `Child` element named `name`.
pub fn song<'a>(name: &'static str, s: &'a SongRec) -> Node<'a> {
    Node::record(name, Record::Song(s))
}

/// An album as `AlbumID3` (v2) or as a directory `Child` (v1).
pub fn album<'a>(name: &'static str, a: &'a AlbumRec, v2: bool) -> Node<'a> {
    Node::record(name, Record::Album(a, v2))
}

/// An artist as `ArtistID3` (v2) or `Artist` (v1).
pub fn artist(a: &ArtistRec, v2: bool) -> Node<'_> {
    Node::record("artist", Record::Artist(a, v2))
}

/// Writes a record node: the record's attributes, then the node's own, then the children
/// (in XML single objects before lists, in JSON after them, as for any other node).
pub fn record(o: &mut Out, n: &Node, r: Record) {
    o.start(n.name);
    match r {
        Record::Song(s) => write_song(o, n, s),
        Record::Album(a, v2) => write_album(o, n, a, v2),
        Record::Artist(a, v2) => write_artist(o, n, a, v2),
    }
    o.end(n.name);
}

fn write_song(o: &mut Out, n: &Node, s: &SongRec) {
    o.str("id", &s.id);
    o.str("parent", &s.parent);
    o.bool("isDir", false);
    o.str("title", &s.title);
    o.str("album", &s.album);
    o.str("artist", &s.artist);
    o.opt_int("track", s.track);
    o.opt_int("year", s.year);
    o.opt_str("genre", s.genres.first().map(|g| g.as_str()));
    o.str("coverArt", s.album_id.as_deref().unwrap_or(&s.id));
    o.int("size", s.size);
    o.str("contentType", &s.content_type);
    o.str("suffix", &s.suffix);
    o.int("duration", s.duration_secs);
    o.int("bitRate", s.bitrate);
    o.str("path", &s.path);
    o.bool("isVideo", false);
    o.opt_int("discNumber", s.disc);
    o.time("created", s.created);
    o.opt_str("albumId", s.album_id.as_deref());
    o.opt_str("artistId", s.artist_id.as_deref());
    o.str("type", "music");
    o.str("mediaType", "song");
    o.int("samplingRate", s.sample_rate);
    o.int("bitDepth", s.bit_depth);
    o.int("channelCount", s.channels);
    o.opt_int("bpm", s.bpm);
    o.opt_str("comment", s.comment.as_deref());
    o.opt_str("sortName", s.sort_title.as_deref());
    o.opt_str("musicBrainzId", s.mbz_id.as_deref());
    o.str("displayArtist", &s.artist);
    o.str("displayAlbumArtist", &s.album_artist);
    o.str("explicitStatus", &s.explicit_status);
    annotate(o, &s.annotation, true);
    o.node_attrs(n);
    let gains = [("trackGain", s.rg_track_gain), ("trackPeak", s.rg_track_peak)];
    let gains = [gains[0], gains[1], ("albumGain", s.rg_album_gain), ("albumPeak", s.rg_album_peak)];
    let replay_gain = |o: &mut Out| {
        if gains.iter().any(|(_, g)| g.is_some()) {
            o.object("replayGain", |o| {
                o.start("replayGain");
                for (k, g) in gains {
                    if let Some(g) = g {
                        o.value(k, &Value::Float(g));
                    }
                }
                o.end("replayGain");
            });
        }
    };
    if !o.json() {
        replay_gain(o);
    }
    genres(o, &s.genres);
    id_names(o, "artists", &s.artists);
    id_names(o, "albumArtists", &s.album_artists);
    o.node_lists(n);
    if o.json() {
        replay_gain(o);
    }
}

fn write_album(o: &mut Out, n: &Node, a: &AlbumRec, v2: bool) {
    o.str("id", &a.id);
    if v2 {
        o.str("name", &a.name);
        o.str("artist", &a.artist);
        o.opt_str("artistId", a.artist_id.as_deref());
        o.str("coverArt", &a.id);
        o.int("songCount", a.song_count);
        o.int("duration", a.duration_secs);
        o.time("created", a.created);
        o.opt_int("year", a.year);
        o.opt_str("genre", a.genres.first().map(|g| g.as_str()));
        o.bool("isCompilation", a.compilation);
        o.opt_str("sortName", a.sort_name.as_deref());
        o.opt_str("musicBrainzId", a.mbz_id.as_deref());
        o.str("displayArtist", &a.artist);
        o.str("explicitStatus", &a.explicit_status);
    } else {
        o.opt_str("parent", a.artist_id.as_deref());
        o.bool("isDir", true);
        o.str("title", &a.name);
        o.str("album", &a.name);
        o.str("artist", &a.artist);
        o.opt_int("year", a.year);
        o.opt_str("genre", a.genres.first().map(|g| g.as_str()));
        o.str("coverArt", &a.id);
        o.int("duration", a.duration_secs);
        o.time("created", a.created);
        o.str("albumId", &a.id);
        o.opt_str("artistId", a.artist_id.as_deref());
    }
    annotate(o, &a.annotation, v2);
    o.node_attrs(n);
    if !v2 {
        o.node_lists(n);
        return;
    }
    let dates = [
        ("releaseDate", a.release_date.as_deref().and_then(date_parts)),
        ("originalReleaseDate", a.original_date.as_deref().and_then(date_parts)),
    ];
    let item_dates = |o: &mut Out| {
        for (name, date) in dates {
            if let Some((year, month, day)) = date {
                o.object(name, |o| {
                    o.start(name);
                    o.int("year", year);
                    o.opt_int("month", month);
                    o.opt_int("day", day);
                    o.end(name);
                });
            }
        }
    };
    if !o.json() {
        item_dates(o);
    }
    genres(o, &a.genres);
    o.texts("releaseTypes", &a.release_types);
    o.texts("moods", &a.moods);
    o.list("recordLabels", &a.record_labels, |o, l| {
        o.start("recordLabels");
        o.str("name", l);
        o.end("recordLabels");
    });
    if let Some(id) = &a.artist_id {
        o.list("artists", &[()], |o, _| {
            o.start("artists");
            o.str("id", id);
            o.str("name", &a.artist);
            o.end("artists");
        });
    }
    if !a.disc_titles.is_empty() {
        o.list("discTitles", &a.disc_titles, |o, (d, t)| {
            o.start("discTitles");
            o.int("disc", *d);
            o.str("title", t);
            o.end("discTitles");
        });
    }
    o.node_lists(n);
    if o.json() {
        item_dates(o);
    }
}

fn write_artist(o: &mut Out, n: &Node, a: &ArtistRec, v2: bool) {
    o.str("id", &a.id);
    o.str("name", &a.name);
    if v2 {
        o.str("coverArt", &a.id);
        o.int("albumCount", a.album_count);
        o.opt_str("sortName", a.sort_name.as_deref());
        o.opt_str("musicBrainzId", a.mbz_id.as_deref());
    }
    if let Some(t) = a.annotation.starred {
        o.time("starred", t);
    }
    if a.annotation.rating > 0 {
        o.int("userRating", a.annotation.rating as i64);
    }
    o.node_attrs(n);
    o.node_lists(n);
}

fn dir_child(d: &DirRec) -> Node<'_> {
    let n = Node::new("child")
        .attr("id", d.id.as_str())
        .opt("parent", d.parent.as_deref())
        .attr("isDir", true)
        .attr("title", d.name.as_str())
        .attr("coverArt", d.id.as_str());
    n.opt("starred", d.annotation.starred.map(time))
}

pub fn library(a: &LibraryAnswer) -> Node<'_> {
    match a {
        LibraryAnswer::MusicFolders(list) => Node::new("musicFolders").list(
            "musicFolder",
            list.iter()
                .map(|(id, name)| Node::new("musicFolder").attr("id", *id).attr("name", name.as_str()))
                .collect(),
        ),
        LibraryAnswer::Indexes { last_modified, ignored_articles, index, songs } => Node::new("indexes")
            .attr("lastModified", *last_modified)
            .attr("ignoredArticles", ignored_articles.as_str())
            .list(
                "index",
                index
                    .iter()
                    .map(|(letter, dirs)| {
                        Node::new("index").attr("name", letter.as_str()).list(
                            "artist",
                            dirs.iter()
                                .map(|d| Node::new("artist").attr("id", d.id.as_str()).attr("name", d.name.as_str()))
                                .collect(),
                        )
                    })
                    .collect(),
            )
            .list("child", songs.iter().map(|s| song("child", s)).collect()),
        LibraryAnswer::Directory { dir, dirs, songs } => {
            let children: Vec<Node> =
                dirs.iter().map(dir_child).chain(songs.iter().map(|s| song("child", s))).collect();
            Node::new("directory")
                .attr("id", dir.id.as_str())
                .opt("parent", dir.parent.as_deref())
                .attr("name", dir.name.as_str())
                .opt("starred", dir.annotation.starred.map(time))
                .list("child", children)
        }
        LibraryAnswer::Genres(list) => Node::new("genres").list(
            "genre",
            list.iter()
                .map(|g| {
                    let mut n = Node::new("genre").attr("songCount", g.song_count).attr("albumCount", g.album_count);
                    n.text = Some(g.name.clone());
                    n
                })
                .collect(),
        ),
        LibraryAnswer::Artists { ignored_articles, index } => {
            Node::new("artists").attr("ignoredArticles", ignored_articles.as_str()).list(
                "index",
                index
                    .iter()
                    .map(|(letter, list)| {
                        Node::new("index")
                            .attr("name", letter.as_str())
                            .list("artist", list.iter().map(|a| artist(a, true)).collect())
                    })
                    .collect(),
            )
        }
        LibraryAnswer::Artist { artist: a, albums } => {
            artist(a, true).list("album", albums.iter().map(|al| album("album", al, true)).collect())
        }
        LibraryAnswer::Album { album: a, songs } => {
            album("album", a, true).list("song", songs.iter().map(|s| song("song", s)).collect())
        }
        LibraryAnswer::Song(s) => song("song", s),
        LibraryAnswer::ArtistInfo { v2, similar } => Node::new(if *v2 { "artistInfo2" } else { "artistInfo" }).list(
            "similarArtist",
            similar
                .iter()
                .map(|a| {
                    let mut n = artist(a, *v2);
                    n.name = "similarArtist";
                    n
                })
                .collect(),
        ),
        // getAlbumInfo2 answers with an albumInfo element too (Subsonic 1.14).
        LibraryAnswer::AlbumInfo { .. } => Node::new("albumInfo"),
        LibraryAnswer::Songs(kind, list) => {
            let name = match kind {
                SongList::SimilarSongs => "similarSongs",
                SongList::SimilarSongs2 => "similarSongs2",
                SongList::TopSongs => "topSongs",
                SongList::RandomSongs => "randomSongs",
                SongList::SongsByGenre => "songsByGenre",
            };
            Node::new(name).list("song", list.iter().map(|s| song("song", s)).collect())
        }
        LibraryAnswer::AlbumList { v2, albums } => Node::new(if *v2 { "albumList2" } else { "albumList" })
            .list("album", albums.iter().map(|a| album("album", a, *v2)).collect()),
        LibraryAnswer::Starred { v2, artists, albums, songs } => Node::new(if *v2 { "starred2" } else { "starred" })
            .list("artist", artists.iter().map(|a| artist(a, *v2)).collect())
            .list("album", albums.iter().map(|a| album("album", a, *v2)).collect())
            .list("song", songs.iter().map(|s| song("song", s)).collect()),
        LibraryAnswer::Search { version, artists, albums, songs } => {
            let v2 = *version >= 3;
            Node::new(if v2 { "searchResult3" } else { "searchResult2" })
                .list("artist", artists.iter().map(|a| artist(a, v2)).collect())
                .list("album", albums.iter().map(|a| album("album", a, v2)).collect())
                .list("song", songs.iter().map(|s| song("song", s)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::subsonic::{render, Format};

    fn sample() -> (AlbumRec, SongRec) {
        let album = AlbumRec {
            id: "al1".into(),
            name: "Album <1>".into(),
            artist: "A".into(),
            artist_id: Some("ar1".into()),
            song_count: 1,
            genres: vec!["Rock".into()],
            disc_titles: vec![(1, "One".into())],
            original_date: Some("1999-05".into()),
            annotation: Annotation { starred: Some(0), rating: 4, play_count: 2, played: None },
            ..Default::default()
        };
        let song = SongRec {
            id: "t1".into(),
            parent: "fd1".into(),
            title: "Say \"hi\"".into(),
            album_id: Some("al1".into()),
            artists: vec![IdName { id: "ar1".into(), name: "A".into() }],
            genres: vec!["Rock".into()],
            rg_track_gain: Some(-6.5),
            rg_album_peak: Some(0.9),
            ..Default::default()
        };
        (album, song)
    }

    /// Records are written directly, not through attribute lists: the children keep the order
    /// every other element has (XML: single objects, then lists; JSON: lists, then objects),
    /// and a node's own attributes and lists follow the record's.
    #[test]
    fn records_write_children_in_node_order_in_both_formats() {
        let (album, track) = sample();
        let answer = LibraryAnswer::Album { album: Box::new(album), songs: vec![track.clone()] };
        let node = library(&answer);
        let (_, xml) = render(&Format::Xml, "0", Some(&node), None, record);
        let body = xml.split_once("<album ").unwrap().1;
        assert!(body.starts_with(r#"id="al1" name="Album &lt;1&gt;" artist="A" artistId="ar1""#), "{xml}");
        assert!(body.contains(
            r#"starred="1970-01-01T00:00:00Z" userRating="4" playCount="2"><originalReleaseDate year="1999" month="5"/><genres name="Rock"/><artists id="ar1" name="A"/><discTitles disc="1" title="One"/><song id="t1""#
        ), "{xml}");
        assert!(body.contains(r#"title="Say &quot;hi&quot;""#), "{xml}");
        assert!(body.contains(
            r#"playCount="0"><replayGain trackGain="-6.5" albumPeak="0.9"/><genres name="Rock"/><artists id="ar1" name="A"/></song></album></subsonic-response>"#
        ), "{xml}");

        let (_, json) = render(&Format::Json, "0", Some(&node), None, record);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let a = &v["subsonic-response"]["album"];
        assert_eq!(a["name"], "Album <1>");
        assert_eq!(a["originalReleaseDate"], serde_json::json!({"year": 1999, "month": 5}));
        assert_eq!(a["discTitles"][0]["title"], "One");
        assert_eq!(a["userRating"], 4);
        let s = &a["song"][0];
        assert_eq!(s["title"], "Say \"hi\"");
        assert_eq!(s["replayGain"], serde_json::json!({"trackGain": -6.5, "albumPeak": 0.9}));
        assert_eq!(s["albumArtists"], serde_json::json!([]));
        let tail = r#""albumArtists":[],"replayGain":{"trackGain":-6.5,"albumPeak":0.9}}],"originalReleaseDate":{"year":1999,"month":5}}}}"#;
        assert!(json.ends_with(tail), "{json}");

        // Now playing: extra attributes after the song's own, in both formats.
        let n = song("entry", &track).attr("username", "u");
        let (_, xml) =
            render(&Format::Xml, "0", Some(&Node::new("nowPlaying").list("entry", vec![n.clone()])), None, record);
        assert!(xml.contains(r#"playCount="0" username="u"><replayGain"#), "{xml}");
        let (_, json) = render(&Format::Json, "0", Some(&Node::new("nowPlaying").list("entry", vec![n])), None, record);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["subsonic-response"]["nowPlaying"]["entry"][0]["username"], "u");
    }
}
