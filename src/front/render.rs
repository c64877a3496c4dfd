//! Library answers as Subsonic elements: `Child` (songs, and albums/folders as directories),
//! `AlbumID3`, `ArtistID3`, `Artist`, and the containers around them, with the OpenSubsonic
//! fields (genres, artists, replayGain, …).
#![forbid(unsafe_code)]

use super::rest::iso8601;
use super::subsonic::Node;
use crate::proto::library::*;

/// "1999-05-06", "1999-05" or "1999" as an OpenSubsonic ItemDate.
fn date_parts(s: &str) -> Option<Node<'static>> {
    let mut parts = s.trim().splitn(3, '-').map(|p| p.trim().parse::<i64>().ok());
    let year = parts.next().flatten()?;
    let mut n = Node::new("originalReleaseDate").attr("year", year);
    if let Some(Some(m)) = parts.next() {
        n = n.attr("month", m);
        if let Some(Some(d)) = parts.next() {
            n = n.attr("day", d);
        }
    }
    Some(n)
}

fn time(t: i64) -> String {
    iso8601(t.max(0) as u64)
}

fn annotate<'a>(mut n: Node<'a>, a: &Annotation, played: bool) -> Node<'a> {
    n = n.opt("starred", a.starred.map(time));
    if a.rating > 0 {
        n = n.attr("userRating", a.rating as i64);
    }
    n = n.attr("playCount", a.play_count);
    if played {
        n = n.opt("played", a.played.map(time));
    }
    n
}

fn id_names<'a>(name: &'static str, list: &'a [IdName]) -> Vec<Node<'a>> {
    list.iter().map(|a| Node::new(name).attr("id", a.id.as_str()).attr("name", a.name.as_str())).collect()
}

fn genre_nodes(genres: &[String]) -> Vec<Node<'_>> {
    genres.iter().map(|g| Node::new("genres").attr("name", g.as_str())).collect()
}

/// A song as a `Child` element named `name`.
pub fn song<'a>(name: &'static str, s: &'a SongRec) -> Node<'a> {
    let mut n = Node::record(name)
        .attr("id", s.id.as_str())
        .attr("parent", s.parent.as_str())
        .attr("isDir", false)
        .attr("title", s.title.as_str())
        .attr("album", s.album.as_str())
        .attr("artist", s.artist.as_str())
        .opt("track", s.track)
        .opt("year", s.year)
        .opt("genre", s.genres.first().map(|g| g.as_str()))
        .attr("coverArt", s.album_id.as_deref().unwrap_or(&s.id))
        .attr("size", s.size)
        .attr("contentType", s.content_type.as_str())
        .attr("suffix", s.suffix.as_str())
        .attr("duration", s.duration_secs)
        .attr("bitRate", s.bitrate)
        .attr("path", s.path.as_str())
        .attr("isVideo", false)
        .opt("discNumber", s.disc)
        .attr("created", time(s.created))
        .opt("albumId", s.album_id.as_deref())
        .opt("artistId", s.artist_id.as_deref())
        .attr("type", "music")
        .attr("mediaType", "song")
        .attr("samplingRate", s.sample_rate)
        .attr("bitDepth", s.bit_depth)
        .attr("channelCount", s.channels)
        .opt("bpm", s.bpm)
        .opt("comment", s.comment.as_deref())
        .opt("sortName", s.sort_title.as_deref())
        .opt("musicBrainzId", s.mbz_id.as_deref())
        .attr("displayArtist", s.artist.as_str())
        .attr("displayAlbumArtist", s.album_artist.as_str());
    n = annotate(n, &s.annotation, true);
    n = n
        .list("genres", genre_nodes(&s.genres))
        .list("artists", id_names("artists", &s.artists))
        .list("albumArtists", id_names("albumArtists", &s.album_artists));
    if s.rg_track_gain.is_some() || s.rg_album_gain.is_some() || s.rg_track_peak.is_some() || s.rg_album_peak.is_some()
    {
        let rg = Node::new("replayGain")
            .opt("trackGain", s.rg_track_gain)
            .opt("trackPeak", s.rg_track_peak)
            .opt("albumGain", s.rg_album_gain)
            .opt("albumPeak", s.rg_album_peak);
        n = n.object(rg);
    }
    n
}

/// An album as `AlbumID3` (v2) or as a directory `Child` (v1).
pub fn album<'a>(name: &'static str, a: &'a AlbumRec, v2: bool) -> Node<'a> {
    let mut n = if v2 {
        Node::record(name)
            .attr("id", a.id.as_str())
            .attr("name", a.name.as_str())
            .attr("artist", a.artist.as_str())
            .opt("artistId", a.artist_id.as_deref())
            .attr("coverArt", a.id.as_str())
            .attr("songCount", a.song_count)
            .attr("duration", a.duration_secs)
            .attr("created", time(a.created))
            .opt("year", a.year)
            .opt("genre", a.genres.first().map(|g| g.as_str()))
            .attr("isCompilation", a.compilation)
            .opt("sortName", a.sort_name.as_deref())
            .opt("musicBrainzId", a.mbz_id.as_deref())
            .attr("displayArtist", a.artist.as_str())
    } else {
        Node::record(name)
            .attr("id", a.id.as_str())
            .opt("parent", a.artist_id.as_deref())
            .attr("isDir", true)
            .attr("title", a.name.as_str())
            .attr("album", a.name.as_str())
            .attr("artist", a.artist.as_str())
            .opt("year", a.year)
            .opt("genre", a.genres.first().map(|g| g.as_str()))
            .attr("coverArt", a.id.as_str())
            .attr("duration", a.duration_secs)
            .attr("created", time(a.created))
            .attr("albumId", a.id.as_str())
            .opt("artistId", a.artist_id.as_deref())
    };
    n = annotate(n, &a.annotation, v2);
    if v2 {
        n = n.list("genres", genre_nodes(&a.genres));
        if let Some(id) = &a.artist_id {
            n = n.list("artists", vec![Node::new("artists").attr("id", id.as_str()).attr("name", a.artist.as_str())]);
        }
        if !a.disc_titles.is_empty() {
            let titles = a
                .disc_titles
                .iter()
                .map(|(d, t)| Node::new("discTitles").attr("disc", *d).attr("title", t.as_str()))
                .collect();
            n = n.list("discTitles", titles);
        }
        if let Some(d) = a.original_date.as_deref().and_then(date_parts) {
            n = n.object(d);
        }
    }
    n
}

/// An artist as `ArtistID3` (v2) or `Artist` (v1).
pub fn artist(a: &ArtistRec, v2: bool) -> Node<'_> {
    let mut n = Node::new("artist").attr("id", a.id.as_str()).attr("name", a.name.as_str());
    if v2 {
        n = n
            .attr("coverArt", a.id.as_str())
            .attr("albumCount", a.album_count)
            .opt("sortName", a.sort_name.as_deref())
            .opt("musicBrainzId", a.mbz_id.as_deref());
        n = n.opt("starred", a.annotation.starred.map(time));
        if a.annotation.rating > 0 {
            n = n.attr("userRating", a.annotation.rating as i64);
        }
    } else {
        n = n.opt("starred", a.annotation.starred.map(time));
        if a.annotation.rating > 0 {
            n = n.attr("userRating", a.annotation.rating as i64);
        }
    }
    n
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
        LibraryAnswer::Indexes { last_modified, ignored_articles, index } => Node::new("indexes")
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
            ),
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
