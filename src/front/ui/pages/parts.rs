//! What pages share: album grids, song tables, artist lists, pagers, and the links between
//! pages. Covers are `loading="lazy"` thumbnails the broker scales (`/app/art/<id>?size=…`);
//! song rows carry what the player needs in `data-` attributes (escaped like any attribute),
//! which the script reads as text.

use maud::{html, Markup};

use super::super::layout::{icon, Shell};
use super::super::strings::{fill, Strings};
use crate::proto::library::{AlbumRec, ArtistRec, SongRec};

/// Albums on one page of a grid.
pub const ALBUMS_PER_PAGE: u32 = 48;
/// Rows of one page of a long table (artists, genres, songs).
pub const ROWS_PER_PAGE: u32 = 100;
/// The grid's covers: CSS shows them at up to about 200 px, so this is sharp on a 1.5× screen.
pub const THUMB: u32 = 300;

/// A path segment, percent-encoded.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query value, form-encoded.
pub fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn album_url(sh: &Shell, id: &str) -> String {
    sh.url(&format!("/app/album/{}", seg(id)))
}

pub fn artist_url(sh: &Shell, id: &str) -> String {
    sh.url(&format!("/app/artist/{}", seg(id)))
}

pub fn song_url(sh: &Shell, id: &str) -> String {
    sh.url(&format!("/app/song/{}", seg(id)))
}

pub fn art_url(sh: &Shell, id: &str, size: u32) -> String {
    sh.url(&format!("/app/art/{}?size={size}", seg(id)))
}

/// `3:07`, `1:02:03`.
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A grid of album covers; each card links to the album and its artist, and has a play button.
pub fn album_grid(sh: &Shell, albums: &[AlbumRec]) -> Markup {
    let s = sh.s;
    html! {
        ul.grid {
            @for a in albums {
                li.card {
                    div.cover-box {
                        // The cover is a second way to the album: out of the tab order and
                        // hidden from screen readers, which get the title's link.
                        a.card-link href=(album_url(sh, &a.id)) tabindex="-1" aria-hidden="true" {
                            img.cover loading="lazy" decoding="async" src=(art_url(sh, &a.id, THUMB)) alt=""
                                width=(THUMB) height=(THUMB);
                        }
                        button.icon-button.card-play type="button" data-action="play-album" data-album=(a.id)
                            aria-label=(fill(&s.play_album, &[("album", &a.name)])) { (icon("play")) }
                    }
                    a.card-title href=(album_url(sh, &a.id)) { (a.name) }
                    @match &a.artist_id {
                        Some(id) => a.card-sub href=(artist_url(sh, id)) { (a.artist) },
                        None => span.card-sub { (a.artist) },
                    }
                }
            }
        }
    }
}

/// Which columns a song table shows besides number, title and duration.
#[derive(Clone, Copy)]
pub struct Columns {
    pub artist: bool,
    pub album: bool,
    /// The first column is the track number (an album) rather than the row's position.
    pub track_numbers: bool,
}

/// A table of songs. The first cell's button plays the table from that row; each row can be
/// queued next or last. `id` names the table for the album page's "Play" buttons.
pub fn song_table(sh: &Shell, id: &str, songs: &[SongRec], cols: Columns, first_position: usize) -> Markup {
    song_table_with(sh, id, songs, cols, first_position, |_, _| html! {})
}

/// A song table whose rows end with more buttons (a playlist's reorder and remove):
/// `extra(index, song)`.
pub fn song_table_with(
    sh: &Shell,
    id: &str,
    songs: &[SongRec],
    cols: Columns,
    first_position: usize,
    extra: impl Fn(usize, &SongRec) -> Markup,
) -> Markup {
    let s = sh.s;
    html! {
        table.songs #(id) data-songs {
            thead {
                tr {
                    th.num scope="col" { span.visually-hidden { (s.col_number) } "#" }
                    th scope="col" { (s.col_title) }
                    @if cols.artist { th.wide-only scope="col" { (s.col_artist) } }
                    @if cols.album { th.wide-only scope="col" { (s.col_album) } }
                    th.dur scope="col" { span.visually-hidden { (s.col_duration) } (icon("clock")) }
                    th.acts scope="col" { span.visually-hidden { (s.col_actions) } }
                }
            }
            tbody {
                @for (i, song) in songs.iter().enumerate() {
                    (song_row(sh, s, song, cols, first_position + i + 1, extra(i, song)))
                }
            }
        }
    }
}

fn gain(v: Option<f64>) -> Option<String> {
    v.filter(|g| g.is_finite()).map(|g| format!("{g}"))
}

fn song_row(sh: &Shell, s: &Strings, song: &SongRec, cols: Columns, position: usize, extra: Markup) -> Markup {
    let number = match (cols.track_numbers, song.track) {
        (true, Some(t)) => t.to_string(),
        (true, None) => String::new(),
        (false, _) => position.to_string(),
    };
    let title = &song.title;
    let cover = song.album_id.as_deref().unwrap_or(&song.id);
    html! {
        tr data-id=(song.id) data-title=(title) data-artist=(song.artist) data-album=(song.album)
            data-album-id=[song.album_id.as_deref()] data-duration=(song.duration_secs) data-cover=(cover)
            data-tg=[gain(song.rg_track_gain)] data-tp=[gain(song.rg_track_peak)]
            data-ag=[gain(song.rg_album_gain)] data-ap=[gain(song.rg_album_peak)] {
            td.num {
                span.n { (number) }
                button.row-play type="button" data-action="play-row" aria-label=(fill(&s.play_song, &[("title", title)]))
                    title=(s.play) { (icon("play")) }
            }
            td.title {
                a.song-link href=(song_url(sh, &song.id)) { (title) }
                // The artist column is left out at phone width: then it is said here.
                @if cols.artist {
                    span.sub.narrow-only { (song.artist) }
                }
            }
            @if cols.artist {
                td.wide-only {
                    @match &song.artist_id {
                        Some(id) => a href=(artist_url(sh, id)) { (song.artist) },
                        None => (song.artist),
                    }
                }
            }
            @if cols.album {
                td.wide-only {
                    @match &song.album_id {
                        Some(id) => a href=(album_url(sh, id)) { (song.album) },
                        None => (song.album),
                    }
                }
            }
            td.dur { (duration(song.duration_secs)) }
            td.acts {
                button.icon-button.row-queue type="button" data-action="play-next"
                    aria-label=(fill(&s.play_song_next, &[("title", title)])) title=(s.play_next) { (icon("playnext")) }
                button.icon-button.row-queue type="button" data-action="enqueue"
                    aria-label=(fill(&s.add_song_to_queue, &[("title", title)])) title=(s.add_to_queue) { (icon("plus")) }
                (star_button(s, "id", &song.id, song.annotation.starred.is_some(), &fill(&s.star_song, &[("title", title)])))
                button.icon-button.row-more type="button" data-action="add-to-playlist"
                    aria-label=(fill(&s.add_song_to_playlist, &[("title", title)])) title=(s.add_to_playlist) {
                    (icon("listadd"))
                }
                (share_action(sh, &song.id, title, false))
                (extra)
            }
        }
    }
}

/// The Share action for a song, an album or a playlist (where sharing is on): a link to the
/// share form's page, which the script turns into the dialog. `wide`: a labelled button (a
/// page's actions), else an icon (a song row's).
pub fn share_action(sh: &Shell, id: &str, name: &str, wide: bool) -> Markup {
    let s = sh.s;
    let label = fill(&s.share_item, &[("title", name)]);
    html! {
        @if sh.sharing.is_some() {
            @if wide {
                a.text-button href=(sh.url(&format!("/app/shares/new?id={}", q(id)))) data-action="share"
                    data-share-id=(id) data-share-name=(name) aria-label=(label) {
                    (icon("share")) (s.share)
                }
            } @else {
                a.icon-button.row-more href=(sh.url(&format!("/app/shares/new?id={}", q(id)))) data-action="share"
                    data-share-id=(id) data-share-name=(name) aria-label=(label) title=(s.share) {
                    (icon("share"))
                }
            }
        }
    }
}

/// A song's own Play, Play next and Add to queue buttons (the song page), carrying the same
/// data as a table row.
pub fn song_actions(sh: &Shell, song: &SongRec) -> Markup {
    let s = sh.s;
    let cover = song.album_id.as_deref().unwrap_or(&song.id);
    html! {
        div.actions data-id=(song.id) data-title=(song.title) data-artist=(song.artist) data-album=(song.album)
            data-album-id=[song.album_id.as_deref()] data-duration=(song.duration_secs) data-cover=(cover)
            data-tg=[gain(song.rg_track_gain)] data-tp=[gain(song.rg_track_peak)]
            data-ag=[gain(song.rg_album_gain)] data-ap=[gain(song.rg_album_peak)] {
            button.primary-button type="button" data-action="play-row" { (icon("play")) (s.play) }
            button.text-button type="button" data-action="play-next" { (icon("playnext")) (s.play_next) }
            button.text-button type="button" data-action="enqueue" { (icon("plus")) (s.add_to_queue) }
            button.text-button type="button" data-action="add-to-playlist" { (icon("listadd")) (s.add_to_playlist) }
            (share_action(sh, &song.id, &song.title, true))
            (star_button(s, "id", &song.id, song.annotation.starred.is_some(), &fill(&s.star_song, &[("title", &song.title)])))
            label.rating for="rating" { (s.your_rating) }
            select #rating data-rate=(song.id) {
                option value="0" selected[song.annotation.rating == 0] { (s.rating_none) }
                @for n in 1..=5u8 {
                    option value=(n) selected[song.annotation.rating == n] { (fill(&s.rating_n, &[("n", &n.to_string())])) }
                }
            }
        }
    }
}

/// A star that toggles (`star`/`unstar` of `param`=`id` through the bridge): pressed when
/// starred. `label` names what it stars.
pub fn star_button(s: &Strings, param: &str, id: &str, starred: bool, label: &str) -> Markup {
    html! {
        button.icon-button.star-toggle.row-more type="button" data-action="star" data-star-param=(param) data-star-id=(id)
            aria-pressed=(if starred { "true" } else { "false" }) aria-label=(label) title=(s.star) {
            (icon("star"))
        }
    }
}

/// Artists as a list with round thumbnails.
pub fn artist_list(sh: &Shell, artists: &[ArtistRec]) -> Markup {
    let s = sh.s;
    html! {
        ul.artists {
            @for a in artists {
                li {
                    a href=(artist_url(sh, &a.id)) {
                        img.avatar loading="lazy" decoding="async" src=(art_url(sh, &a.id, 96)) alt="" width="48" height="48";
                        span.artist-name { (a.name) }
                        span.sub { (s.albums(a.album_count)) }
                    }
                }
            }
        }
    }
}

/// Previous / next links for page `page` (0-based) of a list; `more`: a next page exists.
/// `href(n)` is page n's URL.
pub fn pager(s: &Strings, page: u32, more: bool, href: impl Fn(u32) -> String) -> Markup {
    html! {
        @if page > 0 || more {
            nav.pager aria-label=(s.pagination) {
                @if page > 0 {
                    a.text-button rel="prev" href=(href(page - 1)) { (icon("left")) (s.prev_page) }
                }
                span.page-n { (fill(&s.page_n, &[("n", &(page + 1).to_string())])) }
                @if more {
                    a.text-button rel="next" href=(href(page + 1)) { (s.next_page) (icon("right")) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_durations() {
        assert_eq!(seg("al-1f"), "al-1f");
        assert_eq!(seg("a/b c\"<"), "a%2Fb%20c%22%3C");
        assert_eq!(duration(187), "3:07");
        assert_eq!(duration(3723), "1:02:03");
        assert_eq!(duration(-5), "0:00");
    }
}
