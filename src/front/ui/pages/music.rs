//! Your music: playlists (list, create, rename, reorder, remove songs, delete) and the dialog
//! that adds a song to one from any list. Stars and ratings are buttons on the song rows and
//! the song page (parts.rs), sent by the script through the bridge.
//!
//! - `GET /app/playlists`: yours and the public ones; `POST` (`name`): a new playlist, then its page.
//! - `GET /app/playlist/<id>`; `POST` with `op` = `rename` (`name`), `up:<i>`, `down:<i>`,
//!   `remove:<i>` (an index into the playlist), `delete`. Every change is one typed call with
//!   the form's CSRF token (the broker checks it, and refuses changes to a playlist imported
//!   from a file, or someone else's); a move rewrites the playlist's songs in their new order.
//!
//! - Smart playlists are shown here too, read-only; their rules are edited at `/app/smart/<id>`
//!   (smart.rs).
//!
//! The forms work without the script (plain posts and redirects); the script submits the same
//! forms in-page.

use axum::body::Body as AxumBody;
use maud::{html, Markup};

use super::super::layout::{icon, Nav, Page, Shell};
use super::super::strings::{fill, Strings};
use super::super::{redirect, Req, UiError, Viewer};
use super::parts::{duration, seg, share_action, song_table_with, Columns};
use crate::front::{Front, HttpResponse, Params};
use crate::proto::library::SongRec;
use crate::proto::userdata::{PlaylistRec, UserDataAnswer as UA, UserDataCall as U};
use crate::proto::{Answer, Call};

/// The dialog the song rows' "add to a playlist" button opens (the script fills the list).
pub fn add_to_playlist_dialog(s: &Strings) -> Markup {
    html! {
        dialog.settings #add-to-playlist aria-labelledby="atp-title" {
            form method="dialog" {
                h2 #atp-title { (s.add_to_playlist) }
                p.note #atp-song {}
                label for="atp-target" { (s.playlist_target) }
                select #atp-target {
                    option value="" { (s.new_playlist_option) }
                }
                label for="atp-name" { (s.new_playlist_name) }
                input #atp-name type="text" maxlength="200" autocomplete="off";
                div.dialog-buttons {
                    // First, so that Enter in the name field adds.
                    button.primary-button type="submit" value="add" { (s.add) }
                    button.text-button type="submit" value="cancel" { (s.close) }
                }
            }
        }
    }
}

fn playlist_url(sh: &Shell, id: &str) -> String {
    sh.url(&format!("/app/playlist/{}", seg(id)))
}

/// What the signed-in user may see of a playlist's state.
fn why_read_only(s: &Strings, p: &PlaylistRec, me: &str) -> Option<String> {
    if !p.readonly {
        return None;
    }
    Some(if p.owner.is_empty() || p.owner == me {
        s.imported_note.clone()
    } else {
        fill(&s.not_yours_note, &[("owner", &p.owner)])
    })
}

impl Front {
    /// `/app/playlists` and `/app/playlist/<id>`, GET and POST.
    pub async fn music(&self, r: &Req, first: &str, tail: &str, body: AxumBody) -> HttpResponse {
        let v = match self.viewer(r).await {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        let sh = Shell {
            s: r.s,
            base: &self.base_url,
            user: None,
            partial: false,
            query: "",
            admin: false,
            theme: None,
            sharing: self.share_defaults(),
        };
        let get = r.method != hyper::Method::POST;
        let page = match (first, tail, get) {
            ("playlists", "", true) => self.playlists_page(r, &v, &sh).await,
            ("playlist", id, true) if !id.is_empty() && !id.contains('/') => self.playlist_page(r, &v, &sh, id).await,
            ("playlists", "", false) | ("playlist", _, false) if !tail.contains('/') => {
                let f = match self.posted_form(r, &v, body).await {
                    Ok(f) => f,
                    Err(resp) => return resp,
                };
                match self.playlist_change(r, &v, tail, &f).await {
                    Ok(path) => return redirect(&self.base_url, &path),
                    Err(e) => Err(e),
                }
            }
            _ => Err(UiError::NotFound),
        };
        self.respond(r, Some(&v), page)
    }

    async fn user_data(&self, r: &Req, v: &Viewer, call: U) -> Result<UA, UiError> {
        match self.ui_call(r, v, Call::UserData(call)).await? {
            Answer::UserData(a) => Ok(*a),
            _ => Err(UiError::Unavailable),
        }
    }

    async fn playlists_page(&self, r: &Req, v: &Viewer, sh: &Shell<'_>) -> Result<Page, UiError> {
        let s = r.s;
        let UA::Playlists(lists) = self.user_data(r, v, U::Playlists { username: None }).await? else {
            return Err(UiError::Unavailable);
        };
        let me = v.user.username.as_str();
        let main = html! {
            header.page-head { h1 { (s.playlists_title) } }
            @if r.param("done").is_some() { p.notice role="status" { (s.playlist_deleted) } }
            form.inline-form method="post" action=(sh.url("/app/playlists")) {
                input type="hidden" name="_csrf" value=(v.csrf);
                label for="new-playlist" { (s.new_playlist_name) }
                input #new-playlist type="text" name="name" required maxlength="200" autocomplete="off";
                button.primary-button type="submit" { (icon("plus")) (s.create_playlist) }
            }
            p { a.text-button #new-smart href=(sh.url("/app/smart/new")) { (icon("sliders")) (s.smart_new) } }
            @if lists.is_empty() {
                p.empty { (icon("listadd")) span { (s.no_playlists) } }
            } @else {
                ul.playlists {
                    @for p in &lists {
                        li {
                            a.playlist-name href=(playlist_url(sh, &p.id)) { (p.name) }
                            span.sub {
                                (s.songs(p.song_count)) " · " (duration(p.duration_secs))
                                @if p.owner != me && !p.owner.is_empty() { " · " (fill(&s.playlist_by, &[("owner", &p.owner)])) }
                            }
                            @if p.readonly { span.badge { (s.read_only) } }
                        }
                    }
                }
            }
        };
        Ok(Page { title: s.playlists_title.clone(), nav: Nav::Playlists, main })
    }

    async fn playlist_page(&self, r: &Req, v: &Viewer, sh: &Shell<'_>, id: &str) -> Result<Page, UiError> {
        let s = r.s;
        let UA::Playlist(p, songs) = self.user_data(r, v, U::Playlist { id: id.to_string() }).await? else {
            return Err(UiError::Unavailable);
        };
        let me = v.user.username.as_str();
        let locked = if p.smart { Some(s.smart_note.clone()) } else { why_read_only(s, &p, me) };
        let editable = locked.is_none();
        let here = playlist_url(sh, &p.id);
        // After a move, the moved song's button keeps the focus (the script focuses it).
        let focus: Option<String> = r.param("focus").map(str::to_string);
        let n = songs.len();
        let extra = |i: usize, song: &SongRec| {
            let title = song.title.as_str();
            let up = format!("up:{i}");
            let down = format!("down:{i}");
            html! {
                @if editable {
                    button.icon-button type="submit" form="pl-edit" name="op" value=(up) disabled[i == 0]
                        data-focus=[(focus.as_deref() == Some(up.as_str())).then_some("")]
                        aria-label=(fill(&s.move_song_up, &[("title", title)])) title=(fill(&s.move_song_up, &[("title", title)])) {
                        (icon("up"))
                    }
                    button.icon-button type="submit" form="pl-edit" name="op" value=(down) disabled[i + 1 == n]
                        data-focus=[(focus.as_deref() == Some(down.as_str())).then_some("")]
                        aria-label=(fill(&s.move_song_down, &[("title", title)])) title=(fill(&s.move_song_down, &[("title", title)])) {
                        (icon("down"))
                    }
                    button.icon-button type="submit" form="pl-edit" name="op" value=(format!("remove:{i}"))
                        aria-label=(fill(&s.remove_from_playlist, &[("title", title)]))
                        title=(fill(&s.remove_from_playlist, &[("title", title)])) {
                        (icon("x"))
                    }
                }
            }
        };
        let cols = Columns { artist: true, album: true, track_numbers: false };
        let main = html! {
            header.page-head {
                p.kicker { (s.nav_playlists) }
                h1 { (p.name) }
                p.sub {
                    (s.songs(p.song_count)) " · " (duration(p.duration_secs))
                    @if !p.owner.is_empty() && p.owner != me { " · " (fill(&s.playlist_by, &[("owner", &p.owner)])) }
                }
                @if let Some(why) = &locked {
                    p.note { span.badge { (s.read_only) } " " (why) }
                }
                @if p.smart {
                    p { a.text-button #smart-edit href=(sh.url(&format!("/app/smart/{}", seg(&p.id)))) { (icon("sliders")) (s.smart_edit) } }
                }
            }
            @if r.param("done").is_some() { p.notice role="status" { (s.playlist_saved) } }
            @if !songs.is_empty() {
                div.actions {
                    button.primary-button type="button" data-action="play-table" { (icon("play")) (s.play) }
                    button.text-button type="button" data-action="shuffle-table" { (icon("shuffle")) (s.shuffle_album) }
                    button.text-button type="button" data-action="enqueue-table" { (icon("plus")) (s.add_to_queue) }
                    (share_action(sh, &p.id, &p.name, true))
                }
            }
            @if editable {
                form #pl-edit method="post" action=(here) { input type="hidden" name="_csrf" value=(v.csrf); }
                form.inline-form.rename method="post" action=(here) {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    label for="pl-name" { (s.playlist_name) }
                    input #pl-name type="text" name="name" value=(p.name) required maxlength="200" autocomplete="off";
                    button.text-button type="submit" name="op" value="rename" { (s.rename) }
                }
            }
            section aria-labelledby="pl-songs-title" {
                h2.visually-hidden #pl-songs-title { (s.edit_songs) }
                @if songs.is_empty() {
                    p.empty { (icon("listadd")) span { (s.playlist_empty) } }
                } @else {
                    (song_table_with(sh, "playlist-songs", &songs, cols, 0, extra))
                }
            }
            @if editable {
                details.danger {
                    summary { (s.delete_playlist) }
                    p { (s.delete_warning) }
                    form method="post" action=(here) {
                        input type="hidden" name="_csrf" value=(v.csrf);
                        button.danger-button type="submit" name="op" value="delete" { (icon("x")) (s.delete_for_good) }
                    }
                }
            }
        };
        Ok(Page { title: p.name.clone(), nav: Nav::Playlists, main })
    }

    /// One change from a playlist form; the path to go to afterwards.
    async fn playlist_change(&self, r: &Req, v: &Viewer, id: &str, f: &Params) -> Result<String, UiError> {
        let csrf = f.get("_csrf").unwrap_or("");
        let change = |call: U| self.ui_change(r, v, csrf, Call::UserData(call));
        if id.is_empty() {
            let name = f.get("name").unwrap_or("").trim().to_string();
            let Answer::UserData(a) = change(U::CreatePlaylist { id: None, name: Some(name), songs: vec![] }).await?
            else {
                return Err(UiError::Unavailable);
            };
            let UA::Playlist(p, _) = *a else { return Err(UiError::Unavailable) };
            return Ok(format!("/app/playlist/{}", seg(&p.id)));
        }
        let here = format!("/app/playlist/{}", seg(id));
        let op = f.get("op").unwrap_or("");
        let index = |prefix: &str| op.strip_prefix(prefix).and_then(|i| i.parse::<usize>().ok());
        let update = |name: Option<String>, remove: Vec<u32>| U::UpdatePlaylist {
            id: id.to_string(),
            name,
            comment: None,
            public: None,
            add: vec![],
            remove,
        };
        if op == "rename" {
            let name = f.get("name").unwrap_or("").trim().to_string();
            change(update(Some(name), vec![])).await?;
        } else if op == "delete" {
            change(U::DeletePlaylist { id: id.to_string() }).await?;
            return Ok("/app/playlists?done=deleted".into());
        } else if let Some(i) = index("remove:") {
            change(update(None, vec![i.min(u32::MAX as usize) as u32])).await?;
        } else if let Some((i, up)) = index("up:").map(|i| (i, true)).or_else(|| index("down:").map(|i| (i, false))) {
            let UA::Playlist(_, songs) = self.user_data(r, v, U::Playlist { id: id.to_string() }).await? else {
                return Err(UiError::Unavailable);
            };
            let mut ids: Vec<String> = songs.into_iter().map(|s| s.id).collect();
            let to = if up { i.checked_sub(1) } else { Some(i + 1) };
            let Some(to) = to.filter(|&t| t < ids.len() && i < ids.len()) else {
                return Ok(here);
            };
            ids.swap(i, to);
            change(U::CreatePlaylist { id: Some(id.to_string()), name: None, songs: ids }).await?;
            let focus = format!("{}:{to}", if up { "up" } else { "down" });
            return Ok(format!("{here}?done=1&focus={}", super::parts::q(&focus)));
        } else {
            return Err(UiError::NotFound);
        }
        Ok(format!("{here}?done=1"))
    }
}
