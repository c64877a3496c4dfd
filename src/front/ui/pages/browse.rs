//! Browsing the library: the album lists (newest, recently played, most played, random,
//! starred, A to Z, by year, by genre, by folder), artists by index letter, an artist, an
//! album, a song (with its comment, lyrics and file), genres, music folders, and search.
//!
//! Each page is one or two typed library calls as the session's user, and is paged so that
//! a 100,000-track library never puts more than a page of rows into the document: 48 albums
//! or 100 rows, with previous/next links.

use maud::{html, Markup};

use super::super::layout::{icon, shortcuts, Nav, Page, Shell};
use super::super::strings::fill;
use super::super::{Req, UiError, Viewer};
use super::parts::{
    album_grid, album_url, art_url, artist_list, artist_url, duration, pager, q, seg, share_action, song_actions,
    song_table, star_button, Columns, ALBUMS_PER_PAGE, ROWS_PER_PAGE,
};
use crate::front::Front;
use crate::proto::library::{LibraryAnswer as LA, LibraryCall as L, ListKind, Search};
use crate::proto::media::{LyricsAnswer, LyricsCall};
use crate::proto::{Answer, Call};

/// The page at `/app/<first>/<tail>`.
pub async fn page(front: &Front, r: &Req, v: &Viewer, first: &str, tail: &str) -> Result<Page, UiError> {
    let sh = Shell {
        s: r.s,
        base: &front.base_url,
        user: None,
        partial: false,
        query: "",
        admin: false,
        theme: None,
        sharing: front.share_defaults(),
    };
    let b = Browse { front, r, v, sh: &sh };
    match (first, tail) {
        ("", "") => b.albums("newest").await,
        ("albums", "") => b.albums(r.param("list").unwrap_or("newest")).await,
        ("album", id) if !id.is_empty() => b.album(id).await,
        ("artists", "") => b.artists().await,
        ("artist", id) if !id.is_empty() => b.artist(id).await,
        ("song", id) if !id.is_empty() => b.song(id).await,
        ("genres", "") => b.genres().await,
        ("folders", "") => b.folders().await,
        ("search", "") => b.search().await,
        ("shortcuts", "") => Ok(Page {
            title: r.s.shortcuts_title.clone(),
            nav: Nav::None,
            main: html! { section.prose { (shortcuts(r.s, "shortcuts-title")) } },
        }),
        _ => Err(UiError::NotFound),
    }
}

struct Browse<'a> {
    front: &'a Front,
    r: &'a Req,
    v: &'a Viewer,
    sh: &'a Shell<'a>,
}

/// A page heading with an optional line under it.
fn heading(title: &str, sub: Option<&str>) -> Markup {
    html! {
        header.page-head {
            h1 { (title) }
            @if let Some(sub) = sub { p.sub { (sub) } }
        }
    }
}

fn empty(text: &str) -> Markup {
    html! { p.empty { (icon("disc")) span { (text) } } }
}

impl Browse<'_> {
    async fn library(&self, call: L) -> Result<LA, UiError> {
        match self.front.ui_call(self.r, self.v, Call::Library(call)).await? {
            Answer::Library(a) => Ok(*a),
            _ => Err(UiError::Unavailable),
        }
    }

    /// The URL of this page with `page` set to `n` (other parameters kept).
    fn page_href(&self, path: &str, n: u32) -> String {
        let mut params: Vec<String> =
            self.r.query.0.iter().filter(|(k, _)| k != "page").map(|(k, v)| format!("{}={}", q(k), q(v))).collect();
        if n > 0 {
            params.push(format!("page={n}"));
        }
        let query = if params.is_empty() { String::new() } else { format!("?{}", params.join("&")) };
        self.sh.url(&format!("{path}{query}"))
    }

    async fn albums(&self, list: &str) -> Result<Page, UiError> {
        let s = self.r.s;
        let page = self.r.page();
        let folder: Option<i64> = self.r.param("folder").and_then(|f| f.parse().ok());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let this_year = 1970 + (now / 31_556_952) as i64;
        let year = |name: &str, default: i64| {
            self.r.param(name).and_then(|y| y.trim().parse::<i64>().ok()).unwrap_or(default).clamp(0, 9999)
        };
        let (from, to) = (year("from", this_year), year("to", 1900));
        let genre = self.r.param("genre").unwrap_or("").to_string();
        let (kind, mut nav, mut title) = match list {
            "newest" => (ListKind::Newest, Nav::Newest, s.list_newest.clone()),
            "recent" => (ListKind::Recent, Nav::Recent, s.list_recent.clone()),
            "frequent" => (ListKind::Frequent, Nav::Frequent, s.list_frequent.clone()),
            "random" => (ListKind::Random, Nav::Random, s.list_random.clone()),
            "starred" => (ListKind::Starred, Nav::Starred, s.list_starred.clone()),
            "alphabeticalByName" => (ListKind::AlphabeticalByName, Nav::Alphabetical, s.list_alphabetical.clone()),
            "alphabeticalByArtist" => (ListKind::AlphabeticalByArtist, Nav::Alphabetical, s.list_by_artist.clone()),
            "byYear" => (ListKind::ByYear { from: from as i32, to: to as i32 }, Nav::ByYear, s.list_by_year.clone()),
            "byGenre" if !genre.is_empty() => {
                (ListKind::ByGenre(genre.clone()), Nav::Genres, fill(&s.list_by_genre, &[("genre", &genre)]))
            }
            _ => return Err(UiError::NotFound),
        };
        if let Some(f) = folder {
            let LA::MusicFolders(folders) = self.library(L::MusicFolders).await? else {
                return Err(UiError::Unavailable);
            };
            let name = folders.iter().find(|(id, _)| *id == f).map(|(_, n)| n.clone()).ok_or(UiError::NotFound)?;
            title = fill(&s.list_in_folder, &[("folder", &name)]);
            nav = Nav::Folders;
        }
        let random = kind == ListKind::Random;
        let offset = if random { 0 } else { page * ALBUMS_PER_PAGE };
        let call = L::AlbumList { kind, size: ALBUMS_PER_PAGE + 1, offset, folder, v2: true };
        let LA::AlbumList { mut albums, .. } = self.library(call).await? else { return Err(UiError::Unavailable) };
        let more = albums.len() > ALBUMS_PER_PAGE as usize;
        albums.truncate(ALBUMS_PER_PAGE as usize);
        let sh = self.sh;
        let main = html! {
            (heading(&title, None))
            @if list == "alphabeticalByName" || list == "alphabeticalByArtist" {
                nav.chips aria-label=(s.list_kinds) {
                    a.chip href=(sh.url("/app/albums?list=alphabeticalByName"))
                        aria-current=[(list == "alphabeticalByName").then_some("page")] { (s.list_alphabetical) }
                    a.chip href=(sh.url("/app/albums?list=alphabeticalByArtist"))
                        aria-current=[(list == "alphabeticalByArtist").then_some("page")] { (s.list_by_artist) }
                }
            }
            @if list == "byYear" {
                form.inline-form method="get" action=(sh.url("/app/albums")) {
                    input type="hidden" name="list" value="byYear";
                    label for="from" { (s.year_from) }
                    input #from type="number" name="from" value=(from) min="0" max="9999" inputmode="numeric";
                    label for="to" { (s.year_to) }
                    input #to type="number" name="to" value=(to) min="0" max="9999" inputmode="numeric";
                    button.text-button type="submit" { (s.show) }
                }
            }
            @if albums.is_empty() && page == 0 {
                (empty(if matches!(list, "newest" | "alphabeticalByName") { &s.empty_library } else { &s.no_albums }))
            } @else {
                (album_grid(sh, &albums))
            }
            @if random {
                p.more { a.text-button href=(sh.url("/app/albums?list=random")) { (icon("shuffle")) (s.more_random) } }
            } @else {
                (pager(s, page, more, |n| self.page_href("/app/albums", n)))
            }
        };
        Ok(Page { title, nav, main })
    }

    async fn album(&self, id: &str) -> Result<Page, UiError> {
        let s = self.r.s;
        let sh = self.sh;
        let LA::Album { album, songs } = self.library(L::Album { id: id.to_string() }).await? else {
            return Err(UiError::Unavailable);
        };
        // A box set of thousands of songs is paged like any long list; the album's buttons
        // then play all of it (the script asks for the whole album).
        let page = self.r.page();
        let per = ROWS_PER_PAGE as usize * 2;
        let paged = songs.len() > per;
        let more = songs.len() > (page as usize + 1) * per;
        let songs: Vec<_> = songs.into_iter().skip(page as usize * per).take(per).collect();
        let whole = paged.then_some(album.id.as_str());
        let here = format!("/app/album/{}", seg(id));
        let mixed = songs.iter().any(|t| t.artist != album.artist);
        let discs: Vec<i64> = {
            let mut d: Vec<i64> = songs.iter().filter_map(|t| t.disc).collect();
            d.dedup();
            d
        };
        let cols = Columns { artist: mixed, album: false, track_numbers: true };
        let mut facts: Vec<String> = Vec::new();
        if let Some(y) = album.year {
            facts.push(y.to_string());
        }
        facts.push(s.songs(album.song_count));
        facts.push(duration(album.duration_secs));
        let main = html! {
            header.album-head {
                img.cover-large src=(art_url(sh, &album.id, 600)) alt="" width="300" height="300";
                div.album-info {
                    p.kicker { (s.col_album) @if album.compilation { " · " (s.compilation) } }
                    h1 { (album.name) }
                    p.byline {
                        @match &album.artist_id {
                            Some(aid) => a href=(artist_url(sh, aid)) { (album.artist) },
                            None => span { (album.artist) },
                        }
                        @for f in &facts { span.dot { (f) } }
                    }
                    @if !album.genres.is_empty() {
                        p.genres {
                            @for g in &album.genres {
                                a.chip href=(sh.url(&format!("/app/albums?list=byGenre&genre={}", q(g)))) { (g) }
                            }
                        }
                    }
                    div.actions {
                        button.primary-button type="button" data-action="play-table" data-album=[whole] {
                            (icon("play")) (s.play)
                        }
                        button.text-button type="button" data-action="shuffle-table" data-album=[whole] {
                            (icon("shuffle")) (s.shuffle_album)
                        }
                        button.text-button type="button" data-action="enqueue-table" data-album=[whole] {
                            (icon("plus")) (s.add_to_queue)
                        }
                        (star_button(s, "albumId", &album.id, album.annotation.starred.is_some(), &s.star_album))
                        (share_action(sh, &album.id, &album.name, true))
                    }
                }
            }
            section aria-labelledby="tracks-title" {
                h2.visually-hidden #tracks-title { (s.tracks) }
                @if discs.len() > 1 {
                    @for d in &discs {
                        @let on_disc: Vec<_> = songs.iter().filter(|t| t.disc == Some(*d)).cloned().collect();
                        @let subtitle = album.disc_titles.iter().find(|(n, _)| n == d).map(|(_, t)| t.as_str());
                        h3.disc {
                            (fill(&s.disc_n, &[("n", &d.to_string())]))
                            @if let Some(t) = subtitle { span.sub { " · " (t) } }
                        }
                        (song_table(sh, &format!("tracks-{d}"), &on_disc, cols, 0))
                    }
                } @else {
                    (song_table(sh, "tracks", &songs, cols, 0))
                }
                (pager(s, page, more, |n| self.page_href(&here, n)))
            }
        };
        Ok(Page { title: album.name.clone(), nav: Nav::None, main })
    }

    async fn artist(&self, id: &str) -> Result<Page, UiError> {
        let s = self.r.s;
        let sh = self.sh;
        let LA::Artist { artist, albums } = self.library(L::Artist { id: id.to_string() }).await? else {
            return Err(UiError::Unavailable);
        };
        let page = self.r.page();
        let per = ALBUMS_PER_PAGE as usize;
        let shown: Vec<_> = albums.iter().skip(page as usize * per).take(per).cloned().collect();
        let more = albums.len() > (page as usize + 1) * per;
        let here = format!("/app/artist/{}", seg(id));
        let main = html! {
            header.artist-head {
                img.avatar-large src=(art_url(sh, &artist.id, 300)) alt="" width="160" height="160";
                div {
                    p.kicker { (s.col_artist) }
                    h1 { (artist.name) }
                    p.sub { (s.albums(artist.album_count)) }
                }
            }
            section aria-labelledby="artist-albums" {
                h2 #artist-albums { (s.artist_albums) }
                @if shown.is_empty() { (empty(&s.no_albums)) } @else { (album_grid(sh, &shown)) }
                (pager(s, page, more, |n| self.page_href(&here, n)))
            }
        };
        Ok(Page { title: artist.name.clone(), nav: Nav::Artists, main })
    }

    async fn song(&self, id: &str) -> Result<Page, UiError> {
        let s = self.r.s;
        let sh = self.sh;
        let LA::Song(song) = self.library(L::Song { id: id.to_string() }).await? else {
            return Err(UiError::Unavailable);
        };
        let lyrics = match self
            .front
            .ui_call(self.r, self.v, Call::Lyrics(LyricsCall::BySongId { id: id.to_string(), enhanced: false }))
            .await
        {
            Ok(Answer::Lyrics(l)) => match *l {
                LyricsAnswer::Structured(list) => list
                    .into_iter()
                    .next()
                    .map(|l| l.lines.into_iter().map(|line| line.value).collect::<Vec<_>>().join("\n")),
                LyricsAnswer::Plain { text, .. } => Some(text).filter(|t| !t.is_empty()),
            },
            _ => None,
        };
        let rate = if song.bitrate > 0 { fill(&s.kbps, &[("n", &song.bitrate.to_string())]) } else { String::new() };
        let main = html! {
            header.album-head {
                img.cover-large src=(art_url(sh, song.album_id.as_deref().unwrap_or(&song.id), 600)) alt="" width="300" height="300";
                div.album-info {
                    p.kicker { (s.song_details) }
                    h1 { (song.title) }
                    p.byline {
                        @match &song.artist_id {
                            Some(aid) => a href=(artist_url(sh, aid)) { (song.artist) },
                            None => span { (song.artist) },
                        }
                        @if let Some(aid) = &song.album_id {
                            span.dot { a href=(album_url(sh, aid)) { (song.album) } }
                        } @else {
                            span.dot { (song.album) }
                        }
                        span.dot { (duration(song.duration_secs)) }
                    }
                    (song_actions(sh, &song))
                }
            }
            dl.facts {
                @if let Some(y) = song.year { dt { (s.year) } dd { (y) } }
                @if !song.genres.is_empty() { dt { (s.col_genre) } dd { (song.genres.join(", ")) } }
                dt { (s.file_format) } dd { (song.suffix) " · " (song.content_type) }
                @if !rate.is_empty() { dt { (s.bit_rate) } dd { (rate) } }
                dt { (s.file) } dd.path { (song.path) }
                @if let Some(c) = song.comment.as_deref().filter(|c| !c.is_empty()) {
                    dt { (s.comment) } dd.comment { (c) }
                }
            }
            section.lyrics-box aria-labelledby="lyrics-title" {
                h2 #lyrics-title { (s.lyrics) }
                @match &lyrics {
                    Some(text) => div.lyrics { (text) },
                    None => p.sub { (s.no_lyrics) },
                }
            }
        };
        Ok(Page { title: song.title.clone(), nav: Nav::None, main })
    }

    async fn artists(&self) -> Result<Page, UiError> {
        let s = self.r.s;
        let sh = self.sh;
        let LA::Artists { index, .. } = self.library(L::Artists { folder: None }).await? else {
            return Err(UiError::Unavailable);
        };
        let letter = self.r.param("letter").map(str::to_string).or_else(|| index.first().map(|(l, _)| l.clone()));
        let group = index.iter().find(|(l, _)| Some(l) == letter.as_ref());
        let page = self.r.page();
        let per = ROWS_PER_PAGE as usize;
        let (shown, more) = match group {
            Some((_, artists)) => (
                artists.iter().skip(page as usize * per).take(per).cloned().collect::<Vec<_>>(),
                artists.len() > (page as usize + 1) * per,
            ),
            None => (Vec::new(), false),
        };
        let main = html! {
            (heading(&s.artists_title, None))
            @if index.is_empty() {
                (empty(&s.no_artists))
            } @else {
                nav.letters aria-label=(s.letters) {
                    ul {
                        @for (l, _) in &index {
                            li {
                                a href=(sh.url(&format!("/app/artists?letter={}", q(l))))
                                    aria-current=[(Some(l) == letter.as_ref()).then_some("page")] { (l) }
                            }
                        }
                    }
                }
                @if let Some(l) = &letter { h2.letter { (l) } }
                (artist_list(sh, &shown))
                (pager(s, page, more, |n| self.page_href("/app/artists", n)))
            }
        };
        Ok(Page { title: s.artists_title.clone(), nav: Nav::Artists, main })
    }

    async fn genres(&self) -> Result<Page, UiError> {
        let s = self.r.s;
        let sh = self.sh;
        let LA::Genres(genres) = self.library(L::Genres).await? else { return Err(UiError::Unavailable) };
        let page = self.r.page();
        let per = ROWS_PER_PAGE as usize;
        let shown: Vec<_> = genres.iter().skip(page as usize * per).take(per).collect();
        let more = genres.len() > (page as usize + 1) * per;
        let main = html! {
            (heading(&s.genres_title, None))
            @if genres.is_empty() {
                (empty(&s.no_genres))
            } @else {
                ul.genre-list {
                    @for g in &shown {
                        li {
                            a href=(sh.url(&format!("/app/albums?list=byGenre&genre={}", q(&g.name)))) {
                                (icon("tag")) span.genre-name { (g.name) }
                                span.sub { (s.albums(g.album_count)) " · " (s.songs(g.song_count)) }
                            }
                        }
                    }
                }
                (pager(s, page, more, |n| self.page_href("/app/genres", n)))
            }
        };
        Ok(Page { title: s.genres_title.clone(), nav: Nav::Genres, main })
    }

    async fn folders(&self) -> Result<Page, UiError> {
        let s = self.r.s;
        let sh = self.sh;
        let LA::MusicFolders(folders) = self.library(L::MusicFolders).await? else {
            return Err(UiError::Unavailable);
        };
        let main = html! {
            (heading(&s.folders_title, None))
            ul.genre-list {
                @for (id, name) in &folders {
                    li {
                        a href=(sh.url(&format!("/app/albums?list=alphabeticalByName&folder={id}"))) {
                            (icon("folder")) span.genre-name { (name) } span.sub { (s.folder_albums) }
                        }
                    }
                }
            }
        };
        Ok(Page { title: s.folders_title.clone(), nav: Nav::Folders, main })
    }

    async fn search(&self) -> Result<Page, UiError> {
        let s = self.r.s;
        let sh = self.sh;
        let query = self.r.param("q").unwrap_or("").trim().to_string();
        if query.is_empty() {
            return Ok(Page {
                title: s.search_title.clone(),
                nav: Nav::Search,
                main: html! { (heading(&s.search_title, None)) (empty(&s.search_prompt)) },
            });
        }
        let more = self.r.param("more");
        let page = self.r.page();
        let (artists, albums, songs) = match more {
            Some("artists") => (ROWS_PER_PAGE, 0, 0),
            Some("albums") => (0, ALBUMS_PER_PAGE, 0),
            Some("songs") => (0, 0, ROWS_PER_PAGE),
            _ => (6, 12, 20),
        };
        // One more than shown, to know whether there are more; none of a kind not shown.
        let ask = |n: u32| if n == 0 { 0 } else { n + 1 };
        let call = L::Search(Search {
            query: query.clone(),
            artist_count: ask(artists),
            artist_offset: page * artists,
            album_count: ask(albums),
            album_offset: page * albums,
            song_count: ask(songs),
            song_offset: page * songs,
            folder: None,
            version: 3,
        });
        let LA::Search { artists: mut ar, albums: mut al, songs: mut so, .. } = self.library(call).await? else {
            return Err(UiError::Unavailable);
        };
        let trim = |n: u32, len: usize| (len > n as usize, n as usize);
        let (more_ar, n) = trim(artists, ar.len());
        ar.truncate(n);
        let (more_al, n) = trim(albums, al.len());
        al.truncate(n);
        let (more_so, n) = trim(songs, so.len());
        so.truncate(n);
        let more_link = |kind: &str| sh.url(&format!("/app/search?q={}&more={kind}", q(&query)));
        let cols = Columns { artist: true, album: true, track_numbers: false };
        let nothing = ar.is_empty() && al.is_empty() && so.is_empty();
        let main = html! {
            (heading(&fill(&s.search_results_for, &[("query", &query)]), None))
            @if nothing {
                (empty(&fill(&s.search_nothing, &[("query", &query)])))
            }
            @if !ar.is_empty() {
                section aria-labelledby="res-artists" {
                    h2 #res-artists { (s.results_artists) }
                    (artist_list(sh, &ar))
                    @if more.is_none() && more_ar { p.more { a.text-button href=(more_link("artists")) { (s.more_results) } } }
                }
            }
            @if !al.is_empty() {
                section aria-labelledby="res-albums" {
                    h2 #res-albums { (s.results_albums) }
                    (album_grid(sh, &al))
                    @if more.is_none() && more_al { p.more { a.text-button href=(more_link("albums")) { (s.more_results) } } }
                }
            }
            @if !so.is_empty() {
                section aria-labelledby="res-songs" {
                    h2 #res-songs { (s.results_songs) }
                    (song_table(sh, "results", &so, cols, (page * songs) as usize))
                    @if more.is_none() && more_so { p.more { a.text-button href=(more_link("songs")) { (s.more_results) } } }
                }
            }
            @if more.is_some() {
                (pager(s, page, more_ar || more_al || more_so, |n| self.page_href("/app/search", n)))
            }
        };
        Ok(Page { title: s.search_title.clone(), nav: Nav::Search, main })
    }
}
