//! The public page of a share (`/share/<id>`): the cover, the description, who shared it, the
//! songs and the UI's player (its module, `share.js`, feeds it the share's signed links). It
//! stands alone: no session, no navigation, nothing of the library beyond the share. Every
//! text from the share or the library goes through maud's escaping.

use maud::{html, Markup, DOCTYPE};

use super::assets;
use super::layout::{self, Shell};
use super::strings::{fill, Strings};
use crate::proto::share::SharePage;

fn document(s: &'static Strings, base: &str, title: &str, with_player: bool, main: Markup) -> Markup {
    let shell = Shell { s, base, user: None, partial: false, query: "", admin: false, theme: None, sharing: None };
    html! {
        (DOCTYPE)
        html lang=(s.lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                meta name="robots" content="noindex";
                title { (title) }
                link rel="icon" type="image/svg+xml" href=(shell.url(&assets::path("icon.svg")));
                link rel="stylesheet" href=(shell.url(&assets::path("app.css")));
                @if with_player {
                    script type="module" src=(shell.url(&assets::path("share.js"))) {}
                }
            }
            body.bare.share data-shell="share" {
                main #main tabindex="-1" { (main) }
                @if with_player {
                    (layout::player(&shell, false))
                }
            }
        }
    }
}

pub fn page(s: &'static Strings, base: &str, p: &SharePage) -> Markup {
    let title = if p.description.is_empty() { s.share_untitled.clone() } else { p.description.clone() };
    let href = |what: &str, token: &str| format!("{base}/share/{}/{what}/{token}", p.id);
    let main = html! {
        section.share-head #share data-share=(p.id) data-base=(base) {
            @if let Some(cover) = &p.cover {
                img.cover #share-cover src=(format!("{}?size=300", href("cover", cover))) alt="" width="150" height="150";
            }
            div {
                h1 #share-title { (title) }
                p #share-owner { (fill(&s.share_by, &[("user", &p.username)])) }
                @if let Some(e) = p.expires {
                    p { (fill(&s.share_until, &[("date", &crate::dates::iso8601_signed(e)[..10])])) }
                }
                p.share-actions {
                    button.primary-button #share-play type="button" { (s.share_play_all) }
                    " "
                    @if let Some(d) = &p.download {
                        a.text-button #share-download href=(href("download", d)) download { (s.share_download) }
                        " "
                    }
                    a.text-button #share-m3u href=(format!("{base}/share/{}/m3u?t={}", p.id, p.list)) { (s.share_m3u) }
                }
            }
        }
        table.songs #share-tracks {
            thead {
                tr {
                    th { (s.col_number) } th { (s.col_title) } th { (s.col_artist) } th { (s.col_album) } th { (s.col_duration) }
                }
            }
            tbody {
                @for (i, t) in p.tracks.iter().enumerate() {
                    tr data-id=(t.stream) data-cover=(t.cover) data-title=(t.title) data-artist=(t.artist)
                        data-album=(t.album) data-duration=(t.duration_secs) data-index=(i) {
                        td { (i + 1) }
                        td {
                            button.link-button.song-play type="button" aria-label=(fill(&s.play_song, &[("title", &t.title)])) {
                                (t.title)
                            }
                        }
                        td { (t.artist) }
                        td { (t.album) }
                        td { (format!("{}:{:02}", t.duration_secs / 60, t.duration_secs % 60)) }
                    }
                }
            }
        }
    };
    document(s, base, &title, true, main)
}

pub fn password(s: &'static Strings, base: &str, wrong: bool, retry_after: Option<u64>) -> Markup {
    let main = html! {
        h1 { (s.share_password_title) }
        p { (s.share_password_intro) }
        @if let Some(n) = retry_after {
            p.error role="alert" { (fill(&s.share_password_wait, &[("n", &n.to_string())])) }
        } @else if wrong {
            p.error role="alert" { (s.share_password_wrong) }
        }
        form method="post" {
            label for="share-password" { (s.password) }
            input #share-password type="password" name="password" autocomplete="off" required autofocus;
            button.primary-button type="submit" { (s.share_password_open) }
        }
    };
    document(s, base, &s.share_password_title, false, main)
}

/// An ended share (`expired`) or none at all: a plain page.
pub fn gone(s: &'static Strings, base: &str, expired: bool) -> Markup {
    let (title, text) =
        if expired { (&s.share_gone_title, &s.share_gone) } else { (&s.share_unknown_title, &s.share_unknown) };
    document(s, base, title, false, html! { h1 { (title) } p { (text) } })
}
