//! Your shares: the Share action's form (a dialog in the layout, and `/app/shares/new?id=…`
//! without the script), "My shares" (`/app/shares`: each share's link, visits, plays, and
//! forms to edit or delete it), and the admin's list of everyone's (`/app/admin/shares`,
//! rendered here, routed by pages/admin.rs).
//!
//! - `GET /app/shares`: the viewer's shares (`created=<id>`: with the new one's link on top).
//! - `GET /app/shares/new?id=<song, album or playlist id>`: the share form on a page.
//! - `POST /app/shares` with `op` = `create` (`id`…, `description`, `expires` as a date,
//!   `downloadable`, `password`, `maxPlays`, `transcode`), `update` (`id`, the same fields but
//!   `transcode`, and `clearPassword`), `delete` (`id`).
//!
//! Every change is one typed share call (`Call::Share`, the same as createShare, updateShare,
//! deleteShare) with the form's CSRF token; the broker decides whose share may be changed (an
//! admin any, a user only theirs). The front only leaves out what a page need not show.

use axum::body::Body as AxumBody;
use hyper::StatusCode;
use maud::{html, Markup};

use super::super::admin_strings::AdminStrings;
use super::super::layout::{icon, Nav, Page, ShareDefaults, Shell};
use super::super::strings::{fill, Strings};
use super::super::{redirect, Req, UiError, Viewer};
use super::parts::{album_url, q, seg, song_url};
use crate::front::{Front, HttpResponse, Params};
use crate::proto::error::code;
use crate::proto::share::{ShareAnswer, ShareCall, ShareFields, ShareInfo};
use crate::proto::{Answer, Call, Secret};

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `YYYY-MM-DD` (UTC).
fn day(secs: i64) -> String {
    let iso = crate::dates::iso8601_signed(secs);
    iso.get(..10).unwrap_or(&iso).to_string()
}

/// `YYYY-MM-DD HH:MM` (UTC).
fn when(secs: i64) -> String {
    let iso = crate::dates::iso8601_signed(secs);
    iso.get(..16).unwrap_or(&iso).replace('T', " ")
}

/// A date field's value, `YYYY-MM-DD`: the share lasts to the end of that day (UTC), in ms.
pub fn end_of_day_ms(date: &str) -> Option<i64> {
    let mut parts = date.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = crate::dates::days_from_civil(y, m, d);
    // 2026-02-31 is no date: it must come back as itself.
    if crate::dates::civil_from_days(days) != (y, m, d) {
        return None;
    }
    Some((days * 86_400 + 86_399) * 1000)
}

/// The form's fields of a share (the dialog's, the new-share page's); `prefix` keeps ids unique.
pub fn share_fields(s: &Strings, d: ShareDefaults, prefix: &str) -> Markup {
    let id = |name: &str| format!("{prefix}-{name}");
    let now = now();
    let expires = (d.expires_secs > 0).then(|| day(now + d.expires_secs.min(100 * 365 * 86_400) as i64));
    html! {
        label for=(id("desc")) { (s.share_description) }
        input id=(id("desc")) type="text" name="description" maxlength="2000" autocomplete="off";
        label for=(id("expires")) { (s.share_expires) }
        input id=(id("expires")) type="date" name="expires" value=[expires.as_deref()]
            aria-describedby=(id("expires-note"));
        p.note id=(id("expires-note")) { (s.share_expires_note) }
        div.check {
            input id=(id("dl")) type="checkbox" name="downloadable" value="true" checked[d.downloadable];
            label for=(id("dl")) { (s.share_downloadable) }
        }
        label for=(id("pw")) { (s.share_password_optional) }
        input id=(id("pw")) type="password" name="password" autocomplete="new-password" maxlength="200";
        label for=(id("cap")) { (s.share_max_plays) }
        input id=(id("cap")) type="number" name="maxPlays" min="1" step="1" inputmode="numeric"
            aria-describedby=(id("cap-note"));
        p.note id=(id("cap-note")) { (s.share_max_plays_note) }
        div.check {
            input id=(id("tc")) type="checkbox" name="transcode" value="true" aria-describedby=(id("tc-note"));
            label for=(id("tc")) { (s.share_transcode) }
        }
        p.note id=(id("tc-note")) { (s.share_transcode_note) }
    }
}

/// The Share action's dialog, in the layout: the script fills in what is shared, sends the
/// form to createShare through the bridge, and shows the link with a Copy button.
pub fn share_dialog(sh: &Shell, d: ShareDefaults) -> Markup {
    let s = sh.s;
    let csrf = sh.user.map(|(_, c)| c).unwrap_or("");
    html! {
        dialog.settings.share-dialog #share-dialog aria-labelledby="share-title" {
            h2 #share-title { (s.share_title) }
            p.note #share-what {}
            form #share-form method="post" action=(sh.url("/app/shares")) data-native {
                input type="hidden" name="_csrf" value=(csrf);
                input type="hidden" name="op" value="create";
                input #share-id type="hidden" name="id" value="";
                (share_fields(s, d, "sd"))
                p.error #share-error role="alert" hidden {}
                div.dialog-buttons {
                    button.primary-button type="submit" { (icon("share")) (s.share_create) }
                    button.text-button #share-cancel type="button" { (s.close) }
                }
            }
            div #share-done hidden {
                p.notice { (s.share_created) }
                (link_box(s, "share-link", ""))
                div.dialog-buttons {
                    a.text-button href=(sh.url("/app/shares")) { (s.my_shares_title) }
                    button.primary-button #share-close type="button" { (s.close) }
                }
            }
        }
    }
}

/// A share's link: a read-only field (select it and copy, without the script) and a Copy
/// button (the clipboard, or the field selected when the browser refuses the clipboard).
fn link_box(s: &Strings, id: &str, link: &str) -> Markup {
    html! {
        div.share-link {
            label for=(id) { (s.share_link) }
            div.share-link-row {
                input.share-url id=(id) type="text" readonly value=(link) spellcheck="false";
                button.text-button type="button" data-action="copy-link" data-target=(id) { (icon("copy")) (s.share_copy) }
            }
        }
    }
}

/// What a share holds, as a link: its album, its one song, or its first song and a count.
fn what_shared(sh: &Shell, share: &ShareInfo) -> Markup {
    let s = sh.s;
    let Some(first) = share.entries.first() else {
        return html! { span { (s.share_nothing_left) } };
    };
    let one_album = first.album_id.is_some() && share.entries.iter().all(|e| e.album_id == first.album_id);
    html! {
        @if share.entries.len() == 1 {
            a href=(song_url(sh, &first.id)) { (first.title) }
        } @else if let (true, Some(album)) = (one_album, first.album_id.as_deref()) {
            a href=(album_url(sh, album)) { (first.album) }
            " " span.sub { (s.songs(share.entries.len() as i64)) }
        } @else {
            a href=(song_url(sh, &first.id)) { (first.title) }
            " " span.sub { (fill(&s.share_and_more, &[("n", &(share.entries.len() - 1).to_string())])) }
        }
    }
}

fn plays(s: &Strings, share: &ShareInfo) -> String {
    match share.max_plays {
        Some(cap) => fill(&s.share_plays_of, &[("n", &share.plays.to_string()), ("max", &cap.to_string())]),
        None => fill(&s.share_plays, &[("n", &share.plays.to_string())]),
    }
}

fn visits(s: &Strings, share: &ShareInfo) -> String {
    let n = s.count(share.visit_count, &s.share_visits_one, &s.share_visits_other);
    match share.last_visited {
        Some(t) => format!("{n} · {}", fill(&s.share_last_visit, &[("date", &when(t))])),
        None => n,
    }
}

fn yes_no(s: &Strings, b: bool) -> &str {
    if b {
        &s.yes
    } else {
        &s.no
    }
}

fn expires_text(s: &Strings, share: &ShareInfo, now: i64) -> String {
    match share.expires {
        None => s.share_never.clone(),
        Some(e) if e <= now => fill(&s.share_ended_on, &[("date", &when(e))]),
        Some(e) => when(e),
    }
}

/// A share's element id (the broker's ids are letters and digits; anything else is dropped).
fn anchor(id: &str) -> String {
    let clean: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    format!("share-{clean}")
}

/// What happened, said above the list.
enum Note {
    None,
    Created(String),
    Saved,
    Deleted,
    Refused(String),
}

impl Front {
    /// `/app/shares` and `/app/shares/new`, GET and POST.
    pub async fn shares(&self, r: &Req, tail: &str, body: AxumBody) -> HttpResponse {
        let v = match self.viewer(r).await {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        let Some(defaults) = self.share_defaults() else {
            return self.respond(r, Some(&v), Err(UiError::NotFound));
        };
        let sh = Shell {
            s: r.s,
            base: &self.base_url,
            user: Some((&v.user.username, &v.csrf)),
            partial: false,
            query: "",
            admin: false,
            theme: None,
            sharing: Some(defaults),
        };
        if r.method != hyper::Method::POST {
            let page = match tail {
                "" => {
                    let note = match (r.param("created"), r.param("done")) {
                        (Some(id), _) => Note::Created(id.to_string()),
                        (_, Some("deleted")) => Note::Deleted,
                        (_, Some(_)) => Note::Saved,
                        _ => Note::None,
                    };
                    self.my_shares(r, &v, &sh, &note).await
                }
                "new" => Ok(new_share_page(&sh, &v, defaults, r.param("id"))),
                _ => Err(UiError::NotFound),
            };
            return self.respond(r, Some(&v), page);
        }
        if !tail.is_empty() {
            return self.respond(r, Some(&v), Err(UiError::NotFound));
        }
        let f = match self.posted_form(r, &v, body).await {
            Ok(f) => f,
            Err(resp) => return resp,
        };
        match self.share_change(r, &v, &f).await {
            Ok(path) => redirect(&self.base_url, &path),
            // A refusal about the form's values is said on the page; the session's (ended,
            // no CSRF token) gets the usual answers.
            Err(UiError::Api(e)) if e.code != code::NOT_AUTHORIZED && e.code != code::WRONG_CREDENTIALS => {
                let note = Note::Refused(fill(&r.s.change_failed, &[("reason", &e.message)]));
                match self.my_shares(r, &v, &sh, &note).await {
                    Ok(page) => self.page_response(r, Some(&v), StatusCode::BAD_REQUEST, page),
                    Err(e) => self.respond(r, Some(&v), Err(e)),
                }
            }
            Err(e) => self.respond(r, Some(&v), Err(e)),
        }
    }

    /// Every share the viewer may see (an admin: everyone's).
    pub async fn share_list(&self, r: &Req, v: &Viewer) -> Result<Vec<ShareInfo>, UiError> {
        match self.ui_call(r, v, Call::Share(ShareCall::List)).await? {
            Answer::Share(a) => match *a {
                ShareAnswer::Shares(list) => Ok(list),
                ShareAnswer::Done => Err(UiError::Unavailable),
            },
            _ => Err(UiError::Unavailable),
        }
    }

    fn share_link(&self, r: &Req, id: &str) -> String {
        format!("{}/share/{}", self.share_base(&r.headers, &r.peer), seg(id))
    }

    async fn my_shares(&self, r: &Req, v: &Viewer, sh: &Shell<'_>, note: &Note) -> Result<Page, UiError> {
        let s = r.s;
        // An admin's list holds everyone's: this page is the viewer's own.
        let mine: Vec<ShareInfo> =
            self.share_list(r, v).await?.into_iter().filter(|x| x.username == v.user.username).collect();
        let now = now();
        let action = sh.url("/app/shares");
        let main = html! {
            header.page-head {
                h1 { (s.my_shares_title) }
                p.sub { (s.my_shares_intro) }
            }
            @match note {
                Note::None => {},
                Note::Created(id) => div.notice.share-created role="status" {
                    p { (s.share_created) }
                    (link_box(s, "created-link", &self.share_link(r, id)))
                },
                Note::Saved => p.notice role="status" { (s.share_saved) },
                Note::Deleted => p.notice role="status" { (s.share_deleted) },
                Note::Refused(why) => p.error role="alert" { (why) },
            }
            @if mine.is_empty() {
                p.empty { (icon("share")) span { (s.no_shares) } }
            } @else {
                ul.shares {
                    @for x in &mine {
                        @let a = anchor(&x.id);
                        li.share-card id=(a) aria-labelledby=(format!("{a}-t")) {
                            h2.share-what id=(format!("{a}-t")) { (what_shared(sh, x)) }
                            @if !x.description.is_empty() { p.share-desc { (x.description) } }
                            dl.share-facts {
                                div { dt { (s.share_created_at) } dd { (when(x.created)) } }
                                div { dt { (s.share_expires) } dd { (expires_text(s, x, now)) } }
                                div { dt { (s.share_visits) } dd.visits { (visits(s, x)) } }
                                div { dt { (s.share_plays_label) } dd { (plays(s, x)) } }
                                div { dt { (s.share_downloadable) } dd { (yes_no(s, x.downloadable)) } }
                                div { dt { (s.share_has_password) } dd { (yes_no(s, x.has_password)) } }
                            }
                            (link_box(s, &format!("{a}-link"), &self.share_link(r, &x.id)))
                            details.share-edit {
                                summary { (s.share_edit) }
                                (edit_form(s, v, &action, x, &a))
                            }
                            details.danger {
                                summary { (s.share_delete) }
                                p { (s.share_delete_warning) }
                                form method="post" action=(action) {
                                    input type="hidden" name="_csrf" value=(v.csrf);
                                    input type="hidden" name="op" value="delete";
                                    input type="hidden" name="id" value=(x.id);
                                    button.danger-button type="submit" { (icon("x")) (s.delete_for_good) }
                                }
                            }
                        }
                    }
                }
            }
        };
        Ok(Page { title: s.my_shares_title.clone(), nav: Nav::Shares, main })
    }

    /// One change from a share form; the path to go to afterwards.
    async fn share_change(&self, r: &Req, v: &Viewer, f: &Params) -> Result<String, UiError> {
        let csrf = f.get("_csrf").unwrap_or("");
        let id = f.get("id").unwrap_or("").trim().to_string();
        let call = match f.get("op").unwrap_or("") {
            "create" => {
                let ids: Vec<String> =
                    f.0.iter()
                        .filter(|(k, v)| k == "id" && !v.trim().is_empty())
                        .map(|(_, v)| v.trim().into())
                        .collect();
                ShareCall::Create(ShareFields { ids, transcode: Some(f.get("transcode").is_some()), ..fields(r.s, f)? })
            }
            "update" => {
                let mut fields = fields(r.s, f)?;
                if f.get("clearPassword").is_some() {
                    fields.password = Some(Secret(String::new()));
                }
                // An empty cap field lifts the cap.
                fields.max_plays = Some(fields.max_plays.unwrap_or(0));
                ShareCall::Update { id: id.clone(), fields }
            }
            "delete" => ShareCall::Delete { id: id.clone() },
            _ => return Err(UiError::NotFound),
        };
        let created = matches!(call, ShareCall::Create(_));
        let deleted = matches!(call, ShareCall::Delete { .. });
        let answer = self.ui_change(r, v, csrf, Call::Share(call)).await?;
        Ok(match answer {
            Answer::Share(a) if created => match *a {
                ShareAnswer::Shares(list) => match list.first() {
                    Some(x) => format!("/app/shares?created={}", q(&x.id)),
                    None => "/app/shares".into(),
                },
                ShareAnswer::Done => "/app/shares".into(),
            },
            _ if deleted => "/app/shares?done=deleted".into(),
            _ => format!("/app/shares?done=saved#{}", anchor(&id)),
        })
    }
}

/// The fields both forms have: description, expiry (a date; empty: never), downloadable
/// (a checkbox: absent is no), password (empty: none, or unchanged), play cap (empty: none).
fn fields(s: &Strings, f: &Params) -> Result<ShareFields, UiError> {
    let refuse = |why: &str| UiError::Api(crate::proto::ApiError::new(code::GENERIC, why.to_string()));
    let expires_ms = match f.get("expires").map(str::trim).filter(|e| !e.is_empty()) {
        None => 0,
        Some(date) => end_of_day_ms(date).ok_or_else(|| refuse(&s.share_bad_date))?,
    };
    let max_plays = match f.get("maxPlays").map(str::trim).filter(|m| !m.is_empty()) {
        None => None,
        Some(m) => Some(m.parse::<u32>().map_err(|_| refuse(&s.share_bad_cap))?),
    };
    Ok(ShareFields {
        ids: Vec::new(),
        description: Some(f.get("description").unwrap_or("").to_string()),
        expires_ms: Some(expires_ms),
        downloadable: Some(f.get("downloadable").is_some()),
        password: f.get("password").filter(|p| !p.is_empty()).map(|p| Secret(p.to_string())),
        max_plays,
        transcode: None,
    })
}

fn edit_form(s: &Strings, v: &Viewer, action: &str, x: &ShareInfo, a: &str) -> Markup {
    let id = |name: &str| format!("{a}-{name}");
    html! {
        form.share-edit-form method="post" action=(action) {
            input type="hidden" name="_csrf" value=(v.csrf);
            input type="hidden" name="op" value="update";
            input type="hidden" name="id" value=(x.id);
            label for=(id("desc")) { (s.share_description) }
            input id=(id("desc")) type="text" name="description" value=(x.description) maxlength="2000" autocomplete="off";
            label for=(id("expires")) { (s.share_expires) }
            input id=(id("expires")) type="date" name="expires" value=[x.expires.map(day)]
                aria-describedby=(id("expires-note"));
            p.note id=(id("expires-note")) { (s.share_expires_edit_note) }
            div.check {
                input id=(id("dl")) type="checkbox" name="downloadable" value="true" checked[x.downloadable];
                label for=(id("dl")) { (s.share_downloadable) }
            }
            label for=(id("pw")) { (if x.has_password { &s.share_new_password } else { &s.share_password_optional }) }
            input id=(id("pw")) type="password" name="password" autocomplete="new-password" maxlength="200";
            @if x.has_password {
                div.check {
                    input id=(id("clear")) type="checkbox" name="clearPassword" value="1";
                    label for=(id("clear")) { (s.share_clear_password) }
                }
            }
            label for=(id("cap")) { (s.share_max_plays) }
            input id=(id("cap")) type="number" name="maxPlays" min="1" step="1" inputmode="numeric"
                value=[x.max_plays.map(|m| m.to_string())];
            div.dialog-buttons {
                button.primary-button type="submit" { (s.save) }
            }
        }
    }
}

/// `/app/shares/new?id=…`: the share form on a page of its own (the Share action without the
/// script).
fn new_share_page(sh: &Shell, v: &Viewer, d: ShareDefaults, id: Option<&str>) -> Page {
    let s = sh.s;
    let main = html! {
        header.page-head { h1 { (s.share_title) } }
        @match id {
            Some(id) => form.share-page-form method="post" action=(sh.url("/app/shares")) {
                input type="hidden" name="_csrf" value=(v.csrf);
                input type="hidden" name="op" value="create";
                input type="hidden" name="id" value=(id);
                (share_fields(s, d, "sp"))
                div.dialog-buttons {
                    button.primary-button type="submit" { (icon("share")) (s.share_create) }
                }
            },
            None => p.empty { (s.not_found) },
        }
    };
    Page { title: s.share_title.clone(), nav: Nav::Shares, main }
}

/// `/app/admin/shares`: every user's shares (the broker lists everyone's to an admin only),
/// with their owner and a delete button each (two steps).
pub fn admin_shares(sh: &Shell, a: &AdminStrings, v: &Viewer, list: &[ShareInfo], outcome: Markup) -> Page {
    let s = sh.s;
    let action = sh.url("/app/admin/shares");
    let now = now();
    let main = html! {
        header.page-head {
            h1 { (a.shares_title) }
            p.sub { (a.shares_intro) }
        }
        (outcome)
        @if list.is_empty() {
            p.empty { (icon("share")) span { (a.no_shares) } }
        } @else {
            div.table-scroll role="region" tabindex="0" aria-label=(fill(&a.scrolls, &[("table", &a.shares_table)])) {
                table.admin-table #all-shares {
                    caption.visually-hidden { (a.shares_table) }
                    thead { tr {
                        th scope="col" { (a.col_owner) }
                        th scope="col" { (a.col_shared) }
                        th scope="col" { (s.share_description) }
                        th scope="col" { (s.share_created_at) }
                        th scope="col" { (s.share_expires) }
                        th scope="col" { (s.share_visits) }
                        th scope="col" { (a.col_actions) }
                    } }
                    tbody {
                        @for x in list {
                            tr data-share=(x.id) {
                                th scope="row" { (x.username) }
                                td { (what_shared(sh, x)) }
                                td { (x.description) }
                                td.when { (when(x.created)) }
                                td.when { (expires_text(s, x, now)) }
                                td { (visits(s, x)) }
                                td.admin-actions {
                                    details.danger.row-danger {
                                        summary { (a.delete) }
                                        form method="post" action=(action) {
                                            input type="hidden" name="_csrf" value=(v.csrf);
                                            input type="hidden" name="do" value="delete";
                                            input type="hidden" name="id" value=(x.id);
                                            button.danger-button type="submit"
                                                aria-label=(fill(&a.delete_share_label, &[("user", &x.username)])) {
                                                (icon("x")) (s.delete_for_good)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Page { title: a.shares_title.clone(), nav: Nav::AdminShares, main }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_field_lasts_to_the_end_of_its_day() {
        assert_eq!(end_of_day_ms("1970-01-01"), Some(86_399_000));
        assert_eq!(
            end_of_day_ms("2026-12-01"),
            Some((crate::dates::days_from_civil(2026, 12, 1) * 86_400 + 86_399) * 1000)
        );
        for bad in ["", "2026-02-31", "2026-13-01", "20261201", "x-y-z", "1969-12-31", "2026-1"] {
            assert_eq!(end_of_day_ms(bad), None, "{bad}");
        }
    }
}
