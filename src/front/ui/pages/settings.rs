//! Settings: your password, your API keys, your players, and the theme.
//!
//! - `GET /app/settings`.
//! - `POST /app/settings/password` (`current`, `password`, `password2`): the broker checks the
//!   current password (a wrong one counts as a failed login) and ends every web session of the
//!   user, this one included: the answer is the login page, with a notice.
//! - `POST /app/settings/keys` (`name`): a new API key, shown on the answer's page this once
//!   (the database keeps its SHA-256; the page is `no-store`).
//! - `POST /app/settings/revoke` (`id`): revokes one of your own keys.
//! - `POST /app/settings/player` (`id`, `format`, `maxBitRate`): a player's forced format and
//!   highest bit rate (`updatePlayer`).
//! - `POST /app/settings/avatar` (multipart: `_csrf`, `avatar`, at most [`MAX_AVATAR_BODY`]):
//!   your picture for getAvatar. The front only carries the bytes: the transcoder decodes,
//!   bounds and re-encodes them. `POST /app/settings/avatar-remove` (`_csrf`) removes it.
//!
//! The theme (as the system, light, dark) is kept in this browser; the script applies it
//! (`assets/app.js`) and mirrors it in a cookie so that the next page is rendered in it.

use axum::body::Body as AxumBody;

use hyper::StatusCode;
use maud::{html, Markup};

use super::super::layout::{icon, Nav, Page};
use super::super::strings::{fill, Strings};
use super::super::{redirect, Req, UiError, Viewer};
use crate::front::{Front, HttpResponse};
use crate::proto::account::{AccountAnswer, AccountCall, ApiKeyRec, CURRENT_PASSWORD_WRONG, MAX_KEY_NAME};
use crate::proto::error::code;
use crate::proto::media::{MediaAdmin, MediaAdminAnswer, PlayerInfo};
use crate::proto::{Answer, ApiError, Call, Secret};

/// The largest picture upload's body: the image (2 MB, the transcoder's own cap) and the
/// multipart framing around it. A bigger body is refused before any of it reaches the broker.
pub const MAX_AVATAR_BODY: usize = crate::transcoder::art::MAX_AVATAR_UPLOAD + 16 * 1024;

/// The bit rates a player may be held to (0: no limit).
const RATES: [u32; 8] = [0, 320, 256, 192, 160, 128, 96, 64];

/// What the page says after a change.
enum Said {
    Nothing,
    /// Where (a section's id) and what.
    Notice(&'static str, String),
    Error(&'static str, String),
    NewKey(String),
}

fn said(at: &str, what: &Said) -> Markup {
    html! {
        @match what {
            Said::Notice(here, text) if *here == at => p.notice role="status" { (text) },
            Said::Error(here, text) if *here == at => p.error #form-error role="alert" { (text) },
            _ => {}
        }
    }
}

/// Whether a refusal is about the form's values (said next to it), rather than the session
/// (ended: the login; no CSRF token: forbidden), which the usual error pages answer.
fn said_here(e: &ApiError) -> bool {
    e.code != code::NOT_AUTHORIZED && e.code != code::WRONG_CREDENTIALS
}

/// `2026-12-01 17:40` (UTC).
fn when(secs: i64) -> String {
    let iso = crate::dates::iso8601_signed(secs);
    iso.get(..16).unwrap_or(&iso).replace('T', " ")
}

impl Front {
    /// `/app/settings` and its forms.
    pub async fn settings(&self, r: &Req, tail: &str, body: AxumBody) -> HttpResponse {
        let v = match self.viewer(r).await {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        let s = r.s;
        if r.method != hyper::Method::POST {
            if !tail.is_empty() {
                return self.respond(r, Some(&v), Err(UiError::NotFound));
            }
            let notice = match r.param("done") {
                Some("revoked") => Said::Notice("keys", s.api_key_revoked.clone()),
                Some("player") => Said::Notice("players", s.player_saved.clone()),
                Some("avatar") => Said::Notice("avatar", s.avatar_saved.clone()),
                Some("avatar-removed") => Said::Notice("avatar", s.avatar_removed.clone()),
                _ => Said::Nothing,
            };
            let page = self.settings_page(r, &v, notice).await;
            return self.respond(r, Some(&v), page);
        }
        if tail == "avatar" {
            return self.avatar_upload(r, &v, body).await;
        }
        let f = match self.posted_form(r, &v, body).await {
            Ok(f) => f,
            Err(resp) => return resp,
        };
        let csrf = f.get("_csrf").unwrap_or("").to_string();
        let account = |call: AccountCall| self.ui_change(r, &v, &csrf, Call::Account(call));
        let (status, what) = match tail {
            "password" => {
                let (current, new) = (f.get("current").unwrap_or(""), f.get("password").unwrap_or(""));
                if new != f.get("password2").unwrap_or("") {
                    (StatusCode::BAD_REQUEST, Said::Error("password", s.passwords_differ.clone()))
                } else {
                    let call = AccountCall::ChangeOwnPassword {
                        current: Secret(current.to_string()),
                        new: Secret(new.to_string()),
                    };
                    match account(call).await {
                        Ok(_) => {
                            // The broker ended every session of the user, this one too.
                            let mut resp = redirect(&self.base_url, "/app/login?changed=1");
                            self.clear_session_cookies(&mut resp, &r.peer);
                            return resp;
                        }
                        Err(UiError::Api(e)) if e.retry_after.is_some() => (
                            StatusCode::TOO_MANY_REQUESTS,
                            Said::Error(
                                "password",
                                fill(&s.login_wait, &[("wait", &s.wait(e.retry_after.unwrap_or(1)))]),
                            ),
                        ),
                        Err(UiError::Api(e)) if e.message == CURRENT_PASSWORD_WRONG => {
                            (StatusCode::UNAUTHORIZED, Said::Error("password", s.password_wrong_current.clone()))
                        }
                        Err(UiError::Api(e)) if said_here(&e) => (
                            StatusCode::BAD_REQUEST,
                            Said::Error("password", fill(&s.server_refused, &[("reason", &e.message)])),
                        ),
                        Err(e) => return self.respond(r, Some(&v), Err(e)),
                    }
                }
            }
            "keys" => {
                let name = f.get("name").unwrap_or("").to_string();
                match account(AccountCall::CreateApiKey { name }).await {
                    Ok(Answer::Account(a)) => match *a {
                        AccountAnswer::NewApiKey { key, .. } => (StatusCode::OK, Said::NewKey(key.0.clone())),
                        _ => return self.unavailable(r),
                    },
                    Ok(_) => return self.unavailable(r),
                    Err(UiError::Api(e)) if said_here(&e) => (
                        StatusCode::BAD_REQUEST,
                        Said::Error("keys", fill(&s.server_refused, &[("reason", &e.message)])),
                    ),
                    Err(e) => return self.respond(r, Some(&v), Err(e)),
                }
            }
            "revoke" => {
                let id = f.get("id").unwrap_or("").to_string();
                match account(AccountCall::RevokeApiKey { id }).await {
                    Ok(_) => return redirect(&self.base_url, "/app/settings?done=revoked"),
                    Err(e) => return self.respond(r, Some(&v), Err(e)),
                }
            }
            "player" => {
                let id = f.get("id").unwrap_or("").to_string();
                let format = f.get("format").unwrap_or("").to_string();
                let rate = f.get("maxBitRate").and_then(|b| b.parse::<u32>().ok()).unwrap_or(0);
                let call = MediaAdmin::UpdatePlayer { id, format: Some(format), max_bit_rate: Some(rate) };
                match self.ui_change(r, &v, &csrf, Call::MediaAdmin(call)).await {
                    Ok(_) => return redirect(&self.base_url, "/app/settings?done=player"),
                    Err(UiError::Api(e)) if said_here(&e) && e.code != code::NOT_FOUND => (
                        StatusCode::BAD_REQUEST,
                        Said::Error("players", fill(&s.server_refused, &[("reason", &e.message)])),
                    ),
                    Err(e) => return self.respond(r, Some(&v), Err(e)),
                }
            }
            "avatar-remove" => match account(AccountCall::SetAvatar { image: None }).await {
                Ok(_) => return redirect(&self.base_url, "/app/settings?done=avatar-removed"),
                Err(e) => return self.respond(r, Some(&v), Err(e)),
            },
            _ => return self.respond(r, Some(&v), Err(UiError::NotFound)),
        };
        match self.settings_page(r, &v, what).await {
            Ok(p) => self.page_response(r, Some(&v), status, p),
            Err(e) => self.respond(r, Some(&v), Err(e)),
        }
    }

    /// `POST /app/settings/avatar`: the multipart upload, passed to the broker as bytes.
    async fn avatar_upload(&self, r: &Req, v: &Viewer, body: AxumBody) -> HttpResponse {
        use super::super::multipart;
        let s = r.s;
        if crate::front::cross_site(&r.headers) {
            return self.cross_site_refusal(r, Some(v));
        }
        let content_type = r.headers.get(hyper::header::CONTENT_TYPE).and_then(|h| h.to_str().ok()).unwrap_or("");
        let refused = |status: StatusCode, text: String| async move {
            match self.settings_page(r, v, Said::Error("avatar", text)).await {
                Ok(p) => self.page_response(r, Some(v), status, p),
                Err(e) => self.respond(r, Some(v), Err(e)),
            }
        };
        let bytes = match self.read_body_up_to(body, MAX_AVATAR_BODY).await {
            Ok(b) => b,
            Err(resp) if resp.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                let mut page = refused(StatusCode::PAYLOAD_TOO_LARGE, s.avatar_too_large.clone()).await;
                // The rest of the body was not read.
                page.headers_mut().insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
                return page;
            }
            Err(resp) => return resp,
        };
        let parts = multipart::boundary(content_type).and_then(|b| multipart::parts(&bytes, b)).unwrap_or_default();
        let field = |name: &str| parts.iter().find(|p| p.name == name).map(|p| p.data);
        let csrf = field("_csrf").and_then(|c| std::str::from_utf8(c).ok()).unwrap_or("").to_string();
        let image = field("avatar").unwrap_or_default().to_vec();
        let call = Call::Account(AccountCall::SetAvatar { image: Some(serde_bytes::ByteBuf::from(image)) });
        match self.ui_change(r, v, &csrf, call).await {
            Ok(_) => redirect(&self.base_url, "/app/settings?done=avatar"),
            Err(UiError::Api(e)) if said_here(&e) => {
                refused(StatusCode::BAD_REQUEST, fill(&s.avatar_refused, &[("reason", &e.message)])).await
            }
            Err(e) => self.respond(r, Some(v), Err(e)),
        }
    }

    async fn settings_page(&self, r: &Req, v: &Viewer, what: Said) -> Result<Page, UiError> {
        let s = r.s;
        let Answer::Account(keys) = self.ui_call(r, v, Call::Account(AccountCall::ApiKeys)).await? else {
            return Err(UiError::Unavailable);
        };
        let AccountAnswer::ApiKeys(keys) = *keys else { return Err(UiError::Unavailable) };
        let players = match self.ui_call(r, v, Call::MediaAdmin(MediaAdmin::Players)).await? {
            // An admin sees everyone's players here too; these settings are about one's own.
            Answer::MediaAdmin(a) => match *a {
                MediaAdminAnswer::Players(p) => {
                    p.into_iter().filter(|p| p.username == v.user.username).collect::<Vec<_>>()
                }
                _ => vec![],
            },
            _ => vec![],
        };
        let mut formats: Vec<String> = match self.ui_call(r, v, Call::MediaAdmin(MediaAdmin::Transcodings)).await {
            Ok(Answer::MediaAdmin(a)) => match *a {
                MediaAdminAnswer::Transcodings(t) => t.into_iter().map(|t| t.target_format).collect(),
                _ => vec![],
            },
            _ => vec![],
        };
        formats.sort();
        formats.dedup();
        let base = &self.base_url;
        let url = |p: &str| format!("{base}{p}");
        let main = html! {
            header.page-head { h1 { (s.settings_title) } }
            section.settings-part aria-labelledby="password-title" {
                h2 #password-title { (s.password_title) }
                (said("password", &what))
                form.stacked method="post" action=(url("/app/settings/password")) {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    // For password managers: whose password this is.
                    input type="hidden" name="username" value=(v.user.username) autocomplete="username";
                    label for="current" { (s.current_password) }
                    input #current type="password" name="current" required autocomplete="current-password";
                    label for="new-password" { (s.new_password) }
                    input #new-password type="password" name="password" required maxlength="256" autocomplete="new-password";
                    label for="new-password2" { (s.new_password_again) }
                    input #new-password2 type="password" name="password2" required maxlength="256" autocomplete="new-password";
                    p.note { (s.password_note) }
                    div { button.primary-button type="submit" { (s.change_password) } }
                }
            }
            section.settings-part #keys aria-labelledby="keys-title" {
                h2 #keys-title { (s.api_keys_title) }
                p.note { (s.api_keys_intro) }
                (said("keys", &what))
                @if let Said::NewKey(key) = &what {
                    div.new-key role="status" {
                        p { (s.api_key_created) }
                        label for="new-key" { (s.api_key_label) }
                        input #new-key type="text" readonly value=(key) autocomplete="off" spellcheck="false";
                    }
                }
                (key_list(s, base, &v.csrf, &keys))
                form.inline-form method="post" action=(url("/app/settings/keys")) {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    label for="key-name" { (s.api_key_name) }
                    input #key-name type="text" name="name" required maxlength=(MAX_KEY_NAME) autocomplete="off";
                    button.primary-button type="submit" { (icon("plus")) (s.create_api_key) }
                }
            }
            section.settings-part #players aria-labelledby="players-title" {
                h2 #players-title { (s.players_title) }
                p.note { (s.players_intro) }
                (said("players", &what))
                @if players.is_empty() {
                    p.empty { span { (s.no_players) } }
                } @else {
                    ul.setting-list {
                        @for (i, p) in players.iter().enumerate() {
                            li { (player_form(s, base, &v.csrf, i, p, &formats)) }
                        }
                    }
                }
            }
            section.settings-part #avatar aria-labelledby="avatar-title" {
                h2 #avatar-title { (s.avatar_title) }
                p.note { (s.avatar_intro) }
                (said("avatar", &what))
                form.inline-form method="post" action=(url("/app/settings/avatar")) enctype="multipart/form-data" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    label for="avatar-file" { (s.avatar_file) }
                    input #avatar-file type="file" name="avatar" required accept="image/jpeg,image/png,image/gif,image/webp";
                    button.primary-button type="submit" { (s.avatar_upload) }
                }
                form method="post" action=(url("/app/settings/avatar-remove")) {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    button.text-button type="submit" { (s.avatar_remove) }
                }
            }
            section.settings-part aria-labelledby="theme-title" {
                h2 #theme-title { (s.theme_title) }
                div.stacked {
                    label for="theme-choice" { (s.theme_label) }
                    select #theme-choice {
                        option value="system" { (s.theme_system) }
                        option value="light" { (s.theme_light) }
                        option value="dark" { (s.theme_dark) }
                    }
                    p.note { (s.theme_note) }
                }
            }
        };
        Ok(Page { title: s.settings_title.clone(), nav: Nav::Settings, main })
    }
}

fn key_list(s: &Strings, base: &str, csrf: &str, keys: &[ApiKeyRec]) -> Markup {
    html! {
        @if keys.is_empty() {
            p.empty #no-keys { span { (s.no_api_keys) } }
        } @else {
            ul.setting-list #key-list {
                @for k in keys {
                    li {
                        div {
                            span.key-name { (k.name) }
                            span.sub {
                                (fill(&s.api_key_dates, &[
                                    ("created", &when(k.created)),
                                    ("used", &k.last_used.map(when).unwrap_or_else(|| s.never.clone())),
                                ]))
                            }
                        }
                        form method="post" action=(format!("{base}/app/settings/revoke")) {
                            input type="hidden" name="_csrf" value=(csrf);
                            input type="hidden" name="id" value=(k.id);
                            button.text-button type="submit" aria-label=(fill(&s.revoke_key, &[("name", &k.name)])) {
                                (s.revoke)
                            }
                        }
                    }
                }
            }
        }
    }
}

fn player_form(s: &Strings, base: &str, csrf: &str, i: usize, p: &PlayerInfo, formats: &[String]) -> Markup {
    let current = p.format.clone().unwrap_or_default();
    let format_id = format!("player-format-{i}");
    let rate_id = format!("player-rate-{i}");
    html! {
        form.player-form method="post" action=(format!("{base}/app/settings/player")) {
            input type="hidden" name="_csrf" value=(csrf);
            input type="hidden" name="id" value=(p.id);
            div.player-name {
                span.key-name { (p.client) }
                span.sub { (fill(&s.player_seen, &[("date", &when(p.last_seen)), ("addr", &p.last_addr)])) }
            }
            div.player-fields {
                label for=(format_id) { (s.forced_format) }
                select id=(format_id) name="format" {
                    option value="" selected[current.is_empty()] { (s.format_as_asked) }
                    option value="raw" selected[current == "raw"] { (s.format_raw) }
                    @for f in formats {
                        option value=(f) selected[current == *f] { (f) }
                    }
                }
                label for=(rate_id) { (s.max_bit_rate) }
                select id=(rate_id) name="maxBitRate" {
                    @for rate in RATES {
                        option value=(rate) selected[p.max_bit_rate == rate] {
                            @if rate == 0 { (s.no_limit) } @else { (fill(&s.kbps, &[("n", &rate.to_string())])) }
                        }
                    }
                }
                button.text-button type="submit" aria-label=(fill(&s.save_player, &[("name", &p.client)])) { (s.save) }
            }
        }
    }
}
