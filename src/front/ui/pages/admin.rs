//! The admin pages, `/app/admin/<page>`: users, library (scans and their problems),
//! transcoding profiles, and security (each process's sandbox as it measured itself, and the
//! recent security events). Each page is plain HTML forms; admin.js adds the scan's live
//! status. They have a shell of their own (`data-shell="admin"`), so the UI's in-page
//! navigation loads them, and leaves them, as whole documents (which brings admin.js only here).
//!
//! The front checks nothing about who may: every read and every change is a typed call the
//! broker authenticates and refuses to a non-admin (`GetUsers`, `Call::Admin`, `StartScan`,
//! the user and transcoding calls), and a change needs the session's CSRF token, which the
//! broker checks. A refusal of the broker's is shown as its sentence, with a 400 (403 when it
//! is "not authorized", such as read-only profiles); to a user who is not an admin it is the
//! forbidden page, with a 403.
//!
//! | page | GET shows | POST `do=` (not `action`, which would shadow the form's own) |
//! |---|---|---|
//! | `users` | every user, their role, their music folders | `create`, `admin` (`admin=1/0`), `folders` (`all=1`, or `folder=<id>` each), `password`, `delete` |
//! | `library` | the scan status (live), the problems | `scan` (`full=1/0`) |
//! | `transcoding` | the profiles; forms when EnableTranscodingConfig | `save` (`id` empty: new), `delete` |
//! | `security` | the sandbox table, the newest events | none |
//! | `shares` (EnableSharing) | every user's shares, with their owner (pages/shares.rs) | `delete` (`id`) |

use axum::body::Body as AxumBody;
use hyper::{Method, StatusCode};
use maud::{html, Markup};

use super::super::admin_strings::{for_lang, AdminStrings};
use super::super::layout::{icon, Nav, Page, Shell};
use super::super::strings::fill;
use super::super::{Req, UiError, Viewer};
use crate::front::{Front, HttpResponse, Params};
use crate::proto::admin::{AdminAnswer, AdminCall, EventKind, RoleSandbox, SandboxFacts, MAX_EVENTS};
use crate::proto::error::code;
use crate::proto::library::{LibraryAnswer, LibraryCall};
use crate::proto::media::{MediaAdmin, MediaAdminAnswer, TranscodingFields, TranscodingInfo};
use crate::proto::share::ShareCall;
use crate::proto::{Answer, Call, FolderAccess, Secret, UserFields, UserInfo};

/// How many events the security page shows.
const EVENTS_SHOWN: u32 = 200;

/// The admin group of the side navigation (for admins).
pub fn nav_entries(shell: &Shell, current: Nav) -> Markup {
    let a = for_lang(&shell.s.lang);
    let entry = |nav: Nav, path: &str, icon_name: &str, label: &str| {
        html! {
            li {
                a href=(shell.url(path)) data-nav=(nav.name()) aria-current=[(nav == current).then_some("page")] {
                    (icon(icon_name)) span { (label) }
                }
            }
        }
    };
    html! {
        h2.nav-group #nav-admin { (a.nav_group) }
        ul aria-labelledby="nav-admin" {
            (entry(Nav::AdminUsers, "/app/admin/users", "user", &a.nav_users))
            (entry(Nav::AdminLibrary, "/app/admin/library", "folder", &a.nav_library))
            (entry(Nav::AdminTranscoding, "/app/admin/transcoding", "sliders", &a.nav_transcoding))
            (entry(Nav::AdminSecurity, "/app/admin/security", "logo", &a.nav_security))
            @if shell.sharing.is_some() {
                (entry(Nav::AdminShares, "/app/admin/shares", "share", &a.nav_shares))
            }
        }
    }
}

/// What a form's POST came to, shown above the page.
enum Outcome {
    None,
    Done(String),
    Refused(String, StatusCode),
}

fn outcome(o: &Outcome) -> Markup {
    html! {
        @match o {
            Outcome::None => {}
            Outcome::Done(text) => p.notice #admin-outcome role="status" { (text) },
            Outcome::Refused(text, _) => p.error #admin-outcome role="alert" { (text) },
        }
    }
}

fn heading(title: &str, intro: &str) -> Markup {
    html! {
        header.page-head {
            h1 { (title) }
            p.sub { (intro) }
        }
    }
}

/// A table that may scroll sideways at phone width: a focusable, labelled region.
fn scroller(a: &AdminStrings, label: &str, table: Markup) -> Markup {
    html! {
        div.table-scroll role="region" tabindex="0" aria-label=(fill(&a.scrolls, &[("table", label)])) { (table) }
    }
}

fn csrf_field(v: &Viewer) -> Markup {
    html! { input type="hidden" name="_csrf" value=(v.csrf); }
}

/// A form field's id, from a profile's id (which is the broker's: letters, digits, dashes).
fn field_id(prefix: &str, id: &str) -> String {
    let clean: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    format!("{prefix}-{clean}")
}

impl Front {
    /// `GET|POST /app/admin/<tail>`.
    pub async fn admin_page(&self, r: &Req, tail: &str, body: AxumBody) -> HttpResponse {
        let v = match self.viewer(r).await {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        let a = for_lang(&r.s.lang);
        let mut done = Outcome::None;
        if r.method == Method::POST {
            let f = match self.posted_form(r, &v, body).await {
                Ok(f) => f,
                Err(resp) => return resp,
            };
            let Some((call, success)) = action(a, tail, &f) else {
                return self.respond(r, Some(&v), Err(UiError::NotFound));
            };
            let csrf = f.get("_csrf").filter(|c| !c.is_empty()).map(|c| Secret(c.to_string()));
            match self.call_as(r, &v, call, csrf).await {
                Ok(_) => done = Outcome::Done(success),
                // Not an admin, a wrong token, an ended session: the page's usual answers. An
                // admin refused (profiles read-only) reads the broker's reason on the page.
                Err(UiError::Api(e))
                    if e.code == code::WRONG_CREDENTIALS || (e.code == code::NOT_AUTHORIZED && !v.user.admin) =>
                {
                    return self.respond(r, Some(&v), Err(UiError::Api(e)))
                }
                Err(UiError::Api(e)) => {
                    let status =
                        if e.code == code::NOT_AUTHORIZED { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
                    done = Outcome::Refused(fill(&a.refused, &[("reason", &e.message)]), status)
                }
                Err(other) => return self.respond(r, Some(&v), Err(other)),
            }
        }
        let p = AdminPages { front: self, r, v: &v, a };
        let page = match tail {
            "" | "users" => p.users(&done).await,
            "library" => p.library(&done).await,
            "transcoding" => p.transcoding(&done).await,
            "security" if r.method != Method::POST => p.security().await,
            "shares" => p.shares(&done).await,
            _ => Err(UiError::NotFound),
        };
        match page {
            Ok(page) => {
                let status = if let Outcome::Refused(_, status) = done { status } else { StatusCode::OK };
                self.page_response(r, Some(&v), status, page)
            }
            Err(e) => self.respond(r, Some(&v), Err(e)),
        }
    }
}

/// The call a form asks for, and what to say once it is done; None: no such form.
fn action(a: &AdminStrings, page: &str, f: &Params) -> Option<(Call, String)> {
    let field = |k: &str| f.get(k).unwrap_or("").trim().to_string();
    let user = field("username");
    let said = |template: &str| fill(template, &[("user", &user)]);
    Some(match (page, f.get("do")?) {
        ("users", "create") => (
            Call::CreateUser(UserFields {
                username: user.clone(),
                password: Some(Secret(f.get("password").unwrap_or("").to_string())),
                email: Some(field("email")).filter(|e| !e.is_empty()),
                admin: Some(f.get("admin") == Some("1")),
                folders: None,
            }),
            said(&a.user_created),
        ),
        ("users", "folders") => {
            let access = if f.get("all") == Some("1") {
                FolderAccess::All
            } else {
                // A value that is no number names no folder: the broker answers "not found".
                FolderAccess::Only(
                    f.0.iter().filter(|(k, _)| k == "folder").map(|(_, v)| v.trim().parse().unwrap_or(-1)).collect(),
                )
            };
            let fields = UserFields { username: user.clone(), folders: Some(access), ..Default::default() };
            (Call::UpdateUser(fields), said(&a.folders_saved))
        }
        ("users", "admin") => {
            let admin = f.get("admin") == Some("1");
            let fields = UserFields { username: user.clone(), admin: Some(admin), ..Default::default() };
            (Call::UpdateUser(fields), said(if admin { &a.admin_granted } else { &a.admin_revoked }))
        }
        ("users", "password") => (
            Call::ChangePassword {
                username: user.clone(),
                password: Secret(f.get("password").unwrap_or("").to_string()),
            },
            said(&a.password_reset),
        ),
        ("users", "delete") => (Call::DeleteUser { username: user.clone() }, said(&a.user_deleted)),
        ("library", "scan") => (Call::StartScan { full: f.get("full") == Some("1") }, a.scan_requested.clone()),
        ("transcoding", "save") => {
            let fields = TranscodingFields {
                name: Some(field("name")),
                target_format: Some(field("format")),
                default_bit_rate: Some(field("bitrate").parse().unwrap_or(0)),
                command: Some(field("command")),
            };
            let name = field("name");
            let call = match f.get("id").filter(|id| !id.is_empty()) {
                Some(id) => MediaAdmin::UpdateTranscoding { id: id.to_string(), fields },
                None => MediaAdmin::CreateTranscoding(fields),
            };
            (Call::MediaAdmin(call), fill(&a.profile_saved, &[("name", &name)]))
        }
        ("shares", "delete") => (Call::Share(ShareCall::Delete { id: field("id") }), a.share_deleted.clone()),
        ("transcoding", "delete") => {
            (Call::MediaAdmin(MediaAdmin::DeleteTranscoding { id: field("id") }), a.profile_deleted.clone())
        }
        _ => return None,
    })
}

struct AdminPages<'a> {
    front: &'a Front,
    r: &'a Req,
    v: &'a Viewer,
    a: &'static AdminStrings,
}

impl AdminPages<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.front.base_url)
    }

    async fn call(&self, call: Call) -> Result<Answer, UiError> {
        self.front.call_as(self.r, self.v, call, None).await
    }

    async fn admin(&self, call: AdminCall) -> Result<AdminAnswer, UiError> {
        match self.call(Call::Admin(call)).await? {
            Answer::Admin(a) => Ok(*a),
            _ => Err(UiError::Unavailable),
        }
    }

    /// Everyone's shares. The broker lists only a user's own to a non-admin: the page is the
    /// admins', so anyone else gets the forbidden page, as for the other admin pages.
    async fn shares(&self, done: &Outcome) -> Result<Page, UiError> {
        let Some(defaults) = self.front.share_defaults() else { return Err(UiError::NotFound) };
        if !self.v.user.admin {
            return Err(UiError::Api(crate::proto::error::not_authorized()));
        }
        let list = self.front.share_list(self.r, self.v).await?;
        let sh = Shell {
            s: self.r.s,
            base: &self.front.base_url,
            user: Some((&self.v.user.username, &self.v.csrf)),
            partial: false,
            query: "",
            admin: true,
            theme: None,
            sharing: Some(defaults),
        };
        Ok(super::shares::admin_shares(&sh, self.a, self.v, &list, outcome(done)))
    }

    async fn users(&self, done: &Outcome) -> Result<Page, UiError> {
        let (a, s) = (self.a, self.r.s);
        let Answer::Users(users) = self.call(Call::GetUsers).await? else { return Err(UiError::Unavailable) };
        // An admin sees every music folder: these are all of them.
        let folders = match self.call(Call::Library(LibraryCall::MusicFolders)).await? {
            Answer::Library(l) => match *l {
                LibraryAnswer::MusicFolders(f) => f,
                _ => return Err(UiError::Unavailable),
            },
            _ => return Err(UiError::Unavailable),
        };
        let me = &self.v.user.username;
        let action = self.url("/app/admin/users");
        let row = |u: &UserInfo| {
            let name = u.username.as_str();
            let its = |t: &str| fill(t, &[("user", name)]);
            let pw_id = field_id("pw", &hex::encode(name.as_bytes()));
            html! {
                tr {
                    th scope="row" {
                        (name)
                        @if name == me { " " span.tag { (a.you) } }
                    }
                    td { (u.email) }
                    td { @if u.admin { span.tag.strong { (a.role_admin) } } @else { (a.role_user) } }
                    td {
                        @if u.admin {
                            (a.folders_admin)
                        } @else {
                            form.row-form.folder-form method="post" action=(action) {
                                (csrf_field(self.v))
                                input type="hidden" name="do" value="folders";
                                input type="hidden" name="username" value=(name);
                                fieldset {
                                    legend.visually-hidden { (its(&a.folders_label)) }
                                    label {
                                        input type="checkbox" name="all" value="1" checked[u.all_folders];
                                        " " (a.folders_all)
                                    }
                                    @for (id, folder) in &folders {
                                        label {
                                            input type="checkbox" name="folder" value=(id)
                                                checked[!u.all_folders && u.folders.contains(id)];
                                            " " (folder)
                                        }
                                    }
                                }
                                button.text-button type="submit" aria-label=(its(&a.save_folders_label)) { (a.save_folders) }
                            }
                        }
                    }
                    td.admin-actions {
                        form.row-form method="post" action=(action) {
                            (csrf_field(self.v))
                            input type="hidden" name="do" value="admin";
                            input type="hidden" name="username" value=(name);
                            input type="hidden" name="admin" value=(if u.admin { "0" } else { "1" });
                            button.text-button type="submit"
                                aria-label=(its(if u.admin { &a.remove_admin_label } else { &a.make_admin_label })) {
                                (if u.admin { &a.remove_admin } else { &a.make_admin })
                            }
                        }
                        form.row-form method="post" action=(action) {
                            (csrf_field(self.v))
                            input type="hidden" name="do" value="password";
                            input type="hidden" name="username" value=(name);
                            label.visually-hidden for=(pw_id) { (its(&a.new_password_label)) }
                            input.small-input id=(pw_id) type="password" name="password" autocomplete="new-password"
                                required placeholder=(s.password);
                            button.text-button type="submit" aria-label=(its(&a.reset_password_label)) { (a.reset_password) }
                        }
                        @if name != me {
                            form.row-form method="post" action=(action) {
                                (csrf_field(self.v))
                                input type="hidden" name="do" value="delete";
                                input type="hidden" name="username" value=(name);
                                button.danger-button type="submit" aria-label=(its(&a.delete_user_label)) { (a.delete) }
                            }
                        }
                    }
                }
            }
        };
        Ok(Page {
            title: a.users_title.clone(),
            nav: Nav::AdminUsers,
            main: html! {
                (heading(&a.users_title, &a.users_intro))
                (outcome(done))
                (scroller(a, &a.users_table, html! {
                    table.admin-table #users {
                        caption.visually-hidden { (a.users_table) }
                        thead { tr {
                            th scope="col" { (a.col_user) } th scope="col" { (a.col_email) }
                            th scope="col" { (a.col_role) } th scope="col" { (a.col_folders) }
                            th scope="col" { (a.col_actions) }
                        } }
                        tbody { @for u in &users { (row(u)) } }
                    }
                }))
                p.hint { (a.last_admin_note) }
                section.admin-card aria-labelledby="create-heading" {
                    h2 #create-heading { (a.create_heading) }
                    form.admin-form #create-user method="post" action=(action) {
                        (csrf_field(self.v))
                        input type="hidden" name="do" value="create";
                        div.field {
                            label for="new-username" { (s.user_name) }
                            input #new-username type="text" name="username" required autocomplete="off"
                                autocapitalize="none" spellcheck="false";
                        }
                        div.field {
                            label for="new-password" { (s.password) }
                            input #new-password type="password" name="password" required autocomplete="new-password";
                        }
                        div.field {
                            label for="new-email" { (a.email_optional) }
                            input #new-email type="email" name="email" autocomplete="off";
                        }
                        div.check {
                            input #new-admin type="checkbox" name="admin" value="1";
                            label for="new-admin" { (a.admin_flag) }
                        }
                        button.primary-button type="submit" { (a.create_user) }
                    }
                }
            },
        })
    }

    async fn library(&self, done: &Outcome) -> Result<Page, UiError> {
        let a = self.a;
        let Answer::ScanStatus { scanning, count, folder_count, last_scan, error } =
            self.call(Call::GetScanStatus).await?
        else {
            return Err(UiError::Unavailable);
        };
        let AdminAnswer::ScanProblems(problems) = self.admin(AdminCall::ScanProblems).await? else {
            return Err(UiError::Unavailable);
        };
        let (count, folders) = (count.to_string(), folder_count.to_string());
        let state = if scanning {
            fill(&a.scan_running, &[("count", &count)])
        } else {
            fill(&a.scan_idle, &[("count", &count), ("folders", &folders)])
        };
        let last = match last_scan {
            Some(t) => fill(&a.scan_last, &[("when", &crate::dates::iso8601(t))]),
            None => a.scan_never.clone(),
        };
        // The script's words, from the catalogue (it has none of its own).
        let words = serde_json::json!({
            "running": a.scan_running, "idle": a.scan_idle, "last": a.scan_last,
            "never": a.scan_never, "failed": a.scan_failed,
        })
        .to_string();
        let action = self.url("/app/admin/library");
        let scan_form = |full: bool, label: &str, hint: &str, id: &str| {
            html! {
                form.scan-form method="post" action=(action) {
                    (csrf_field(self.v))
                    input type="hidden" name="do" value="scan";
                    input type="hidden" name="full" value=(if full { "1" } else { "0" });
                    button.primary-button[!full].text-button[full] type="submit" aria-describedby=(id) { (label) }
                    p.hint id=(id) { (hint) }
                }
            }
        };
        Ok(Page {
            title: a.library_title.clone(),
            nav: Nav::AdminLibrary,
            main: html! {
                (heading(&a.library_title, &a.library_intro))
                (outcome(done))
                section.admin-card aria-labelledby="scan-heading" {
                    h2 #scan-heading { (a.scan_heading) }
                    div #scan-status role="status" aria-live="polite" data-scanning=(scanning) data-words=(words) {
                        p #scan-state { (state) }
                        p #scan-last.sub { (last) }
                        p #scan-error.error hidden[error.is_none()] {
                            (error.as_deref().map(|e| fill(&a.scan_failed, &[("reason", e)])).unwrap_or_default())
                        }
                    }
                    div.scan-buttons {
                        (scan_form(false, &a.quick_scan, &a.quick_scan_hint, "quick-hint"))
                        (scan_form(true, &a.full_scan, &a.full_scan_hint, "full-hint"))
                    }
                }
                h2 #problems-heading { (a.problems_heading) }
                p.sub { (a.problems_intro) }
                @if problems.is_empty() {
                    p.empty #no-problems { (icon("disc")) span { (a.no_problems) } }
                } @else {
                    (scroller(a, &a.problems_table, html! {
                        table.admin-table #problems {
                            caption.visually-hidden { (a.problems_table) }
                            thead { tr {
                                th scope="col" { (a.col_file) } th scope="col" { (a.col_folder) }
                                th scope="col" { (a.col_reason) } th scope="col" { (a.col_crashes) }
                            } }
                            tbody {
                                @for p in &problems {
                                    tr {
                                        th.path scope="row" { (p.path) }
                                        td.path { (p.folder) }
                                        td { (p.reason) }
                                        td.num { (p.crashes) }
                                    }
                                }
                            }
                        }
                    }))
                }
            },
        })
    }

    async fn transcoding(&self, done: &Outcome) -> Result<Page, UiError> {
        let a = self.a;
        let AdminAnswer::TranscodingSettings { editable, program } = self.admin(AdminCall::TranscodingSettings).await?
        else {
            return Err(UiError::Unavailable);
        };
        let Answer::MediaAdmin(list) = self.call(Call::MediaAdmin(MediaAdmin::Transcodings)).await? else {
            return Err(UiError::Unavailable);
        };
        let MediaAdminAnswer::Transcodings(profiles) = *list else { return Err(UiError::Unavailable) };
        let program = program.unwrap_or_else(|| a.no_program.clone());
        let action = self.url("/app/admin/transcoding");
        let kbps = |n: u32| fill(&a.kbps, &[("n", &n.to_string())]);
        let editor = |p: Option<&TranscodingInfo>| {
            let id = p.map_or("new", |p| p.id.as_str());
            let name = p.map_or("", |p| p.name.as_str());
            let fid = |what: &str| field_id(what, id);
            let legend = match p {
                Some(p) => fill(&a.profile_heading, &[("name", &p.name)]),
                None => a.new_profile.clone(),
            };
            let hint = fid("hint");
            html! {
                form.admin-form.profile method="post" action=(action) {
                    fieldset {
                        legend { (legend) }
                        (csrf_field(self.v))
                        input type="hidden" name="do" value="save";
                        input type="hidden" name="id" value=(p.map_or("", |p| p.id.as_str()));
                        div.field-row {
                            div.field {
                                label for=(fid("name")) { (a.field_name) }
                                input id=(fid("name")) type="text" name="name" value=(name) required autocomplete="off";
                            }
                            div.field {
                                label for=(fid("format")) { (a.field_format) }
                                input id=(fid("format")) type="text" name="format"
                                    value=(p.map_or("", |p| p.target_format.as_str())) required autocomplete="off"
                                    autocapitalize="none" spellcheck="false";
                            }
                            div.field {
                                label for=(fid("bitrate")) { (a.field_bit_rate) }
                                input id=(fid("bitrate")) type="number" name="bitrate" min="0" max="10000"
                                    value=(p.map_or(128, |p| p.default_bit_rate)) required;
                            }
                        }
                        div.field {
                            label for=(fid("command")) { (a.field_command) }
                            input.mono id=(fid("command")) type="text" name="command"
                                value=(p.map_or("", |p| p.command.as_str())) required autocomplete="off"
                                autocapitalize="none" spellcheck="false" aria-describedby=(hint);
                            p.hint id=(hint) { (a.command_hint) }
                        }
                        div.form-buttons {
                            @match p {
                                Some(p) => {
                                    button.primary-button type="submit"
                                        aria-label=(fill(&a.save_profile_label, &[("name", &p.name)])) { (a.save_profile) }
                                    // In the form below (forms do not nest): a submit of its own.
                                    button.danger-button type="submit" form=(fid("delete"))
                                        aria-label=(fill(&a.delete_profile_label, &[("name", &p.name)])) { (a.delete) }
                                }
                                None => { button.primary-button type="submit" { (a.add_profile) } }
                            }
                        }
                    }
                }
                @if let Some(p) = p {
                    form.hidden-form id=(fid("delete")) method="post" action=(action) {
                        (csrf_field(self.v))
                        input type="hidden" name="do" value="delete";
                        input type="hidden" name="id" value=(p.id);
                    }
                }
            }
        };
        Ok(Page {
            title: a.transcoding_title.clone(),
            nav: Nav::AdminTranscoding,
            main: html! {
                (heading(&a.transcoding_title, &a.transcoding_intro))
                (outcome(done))
                @if editable {
                    p.notice #transcoding-mode data-editable="true" { (fill(&a.editable, &[("program", &program)])) }
                    @for p in &profiles { (editor(Some(p))) }
                    @if profiles.is_empty() { p.empty { (icon("disc")) span { (a.no_profiles) } } }
                    (editor(None))
                } @else {
                    p.notice #transcoding-mode data-editable="false" { (a.read_only) }
                    @if profiles.is_empty() {
                        p.empty { (icon("disc")) span { (a.no_profiles) } }
                    } @else {
                        (scroller(a, &a.profiles_table, html! {
                            table.admin-table #profiles {
                                caption.visually-hidden { (a.profiles_table) }
                                thead { tr {
                                    th scope="col" { (a.col_name) } th scope="col" { (a.col_format) }
                                    th scope="col" { (a.col_bit_rate) } th scope="col" { (a.col_command) }
                                } }
                                tbody {
                                    @for p in &profiles {
                                        tr {
                                            th scope="row" { (p.name) }
                                            td { (p.target_format) }
                                            td.num { (kbps(p.default_bit_rate)) }
                                            td { code { (p.command) } }
                                        }
                                    }
                                }
                            }
                        }))
                    }
                }
            },
        })
    }

    async fn security(&self) -> Result<Page, UiError> {
        let a = self.a;
        let AdminAnswer::Sandbox(roles) = self.admin(AdminCall::Sandbox).await? else {
            return Err(UiError::Unavailable);
        };
        let AdminAnswer::SecurityEvents(events) = self.admin(AdminCall::SecurityEvents { limit: EVENTS_SHOWN }).await?
        else {
            return Err(UiError::Unavailable);
        };
        let event_name = |k: EventKind| match k {
            EventKind::FailedLogin => &a.event_failed_login,
            EventKind::Lockout => &a.event_lockout,
            EventKind::ExtAuthRefused => &a.event_extauth_refused,
            EventKind::TranscodingRefused => &a.event_transcoding_refused,
            EventKind::RoleRestarted => &a.event_role_restarted,
        };
        let n = events.len().to_string();
        let max = MAX_EVENTS.to_string();
        Ok(Page {
            title: a.security_title.clone(),
            nav: Nav::AdminSecurity,
            main: html! {
                (heading(&a.security_title, &a.security_intro))
                h2 #sandbox-heading { (a.sandbox_heading) }
                p.sub { (a.sandbox_intro) }
                (scroller(a, &a.sandbox_table, html! {
                    table.admin-table #sandbox {
                        caption.visually-hidden { (a.sandbox_table) }
                        thead { tr {
                            th scope="col" { (a.col_process) } th scope="col" { (a.col_verdict) }
                            th scope="col" { (a.col_landlock) } th scope="col" { (a.col_seccomp) }
                            th scope="col" { (a.col_nnp) } th scope="col" { (a.col_caps) }
                            th scope="col" { (a.col_uid) } th scope="col" { (a.col_pid) }
                            th scope="col" { (a.col_measured) }
                        } }
                        tbody { @for role in &roles { (sandbox_row(a, role)) } }
                    }
                }))
                h2 #events-heading { (a.events_heading) }
                p.sub { (fill(&a.events_intro, &[("n", &n), ("max", &max)])) }
                @if events.is_empty() {
                    p.empty #no-events { (icon("disc")) span { (a.no_events) } }
                } @else {
                    (scroller(a, &a.events_table, html! {
                        table.admin-table #events {
                            caption.visually-hidden { (a.events_table) }
                            thead { tr {
                                th scope="col" { (a.col_when) } th scope="col" { (a.col_event) }
                                th scope="col" { (a.col_who) } th scope="col" { (a.col_source) }
                                th scope="col" { (a.col_detail) }
                            } }
                            tbody {
                                @for e in &events {
                                    tr data-kind=(e.kind.name()) {
                                        td.when { time datetime=(crate::dates::iso8601_signed(e.at)) {
                                            (crate::dates::iso8601_signed(e.at))
                                        } }
                                        th scope="row" { (event_name(e.kind)) }
                                        td { (e.user) }
                                        td { (e.source) }
                                        td { (e.detail) }
                                    }
                                }
                            }
                        }
                    }))
                }
            },
        })
    }
}

fn sandbox_row(a: &AdminStrings, role: &RoleSandbox) -> Markup {
    let Some(f) = &role.facts else {
        return html! {
            tr data-role=(role.role) {
                th scope="row" { (role.role) }
                td colspan="8" { span.tag.bad { (a.not_reported) } }
            }
        };
    };
    let yes_no = |b: bool| if b { &a.yes } else { &a.no };
    let abi = f.landlock_abi.map(|v| v.to_string()).unwrap_or_default();
    let landlock = match (f.landlock_abi, f.landlock_enforced && f.landlock_denies) {
        (Some(_), true) => fill(&a.landlock_enforced, &[("abi", &abi)]),
        (Some(_), false) => fill(&a.landlock_partial, &[("abi", &abi)]),
        (None, _) => a.landlock_none.clone(),
    };
    let seccomp = match f.seccomp_mode {
        2 => fill(&a.seccomp_filter, &[("n", &f.seccomp_filters.to_string())]),
        1 => a.seccomp_strict.clone(),
        _ => a.seccomp_off.clone(),
    };
    let caps = caps_text(a, f);
    html! {
        tr data-role=(role.role) data-confined=(f.confined()) {
            th scope="row" { (role.role) }
            td { @if f.confined() { span.tag.good { (a.confined) } } @else { span.tag.bad { (a.not_confined) } } }
            td { (landlock) }
            td { (seccomp) }
            td { (yes_no(f.no_new_privs)) }
            td { (caps) }
            td.num { (f.uid) }
            td.num { (f.pid) }
            td.when { time datetime=(crate::dates::iso8601_signed(f.measured_at)) {
                (crate::dates::iso8601_signed(f.measured_at))
            } }
        }
    }
}

fn caps_text(a: &AdminStrings, f: &SandboxFacts) -> String {
    if f.cap_eff == 0 && f.cap_prm == 0 {
        a.caps_none.clone()
    } else {
        format!("{:016x} / {:016x}", f.cap_eff, f.cap_prm)
    }
}
