//! First run, login and logout, as plain HTML forms (the script submits the same forms with
//! `fetch` and shows the same answers in place).
//!
//! - `GET /app/setup`: while no user exists, the form for the first admin (the setup code from
//!   the log, a user name, the password twice); afterwards, a page that says so and links to
//!   the login. `POST /app/setup` asks the broker (`Request::Setup`), which checks the code,
//!   rate-limits it and logs the new admin in.
//! - `GET /app/login`, `POST /app/login`: `Request::Login`; a refusal is a plain sentence, and
//!   the rate limiter's answer (429, `Retry-After`) says how long to wait. Behind a trusted
//!   ExtAuth proxy there is no form: any page logs in as the header's user (`ui::Front::viewer`).
//! - `POST /app/logout` with the CSRF token: `Request::Logout`, then ExtAuth.LogoutURL when
//!   set, else the login page.
//!
//! Login and setup refuse cross-site posts (`Sec-Fetch-Site`, else `Origin`), as `/auth` does.

use axum::body::Body as AxumBody;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::StatusCode;
use maud::{html, Markup};

use super::super::layout::{icon, Nav, Page};
use super::super::strings::{fill, Strings};
use super::super::{form_fields, redirect, safe_next, Req, Viewer};
use crate::front::auth::COOKIE_NAME;
use crate::front::{cross_site, Front, HttpResponse};
use crate::proto::error::code;
use crate::proto::{ApiError, Client, Reply, Request, Secret};

/// What a form shows above its fields.
enum Note<'a> {
    None,
    /// Said politely (role=status).
    Info(&'a str),
    /// A refusal (role=alert); with the seconds to wait, for a rate limit.
    Error(String, Option<u64>),
}

fn note(n: &Note) -> Markup {
    html! {
        @match n {
            Note::None => {}
            Note::Info(text) => p.notice role="status" { (text) },
            Note::Error(text, wait) => p.error #form-error role="alert" data-wait=[wait] { (text) },
        }
    }
}

/// A refusal from the broker, as a sentence.
fn refusal(s: &Strings, e: &ApiError, wrong: &str) -> Note<'static> {
    match e.retry_after {
        Some(secs) => Note::Error(fill(&s.login_wait, &[("wait", &s.wait(secs))]), Some(secs)),
        None if e.code == code::WRONG_CREDENTIALS => Note::Error(wrong.to_string(), None),
        None => Note::Error(fill(&s.server_refused, &[("reason", &e.message)]), None),
    }
}

fn status_of(n: &Note) -> StatusCode {
    match n {
        Note::Error(_, Some(_)) => StatusCode::TOO_MANY_REQUESTS,
        Note::Error(..) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::OK,
    }
}

fn card(title: &str, lede: &str, body: Markup) -> Markup {
    html! {
        section.auth-card aria-labelledby="auth-title" {
            div.auth-mark { (icon("logo")) }
            h1 #auth-title { (title) }
            p.lede { (lede) }
            (body)
        }
    }
}

fn login_form(s: &Strings, base: &str, next: &str, username: &str, n: &Note) -> Page {
    let invalid = matches!(n, Note::Error(..));
    let described = invalid.then_some("form-error");
    Page {
        title: s.login_title.clone(),
        nav: Nav::None,
        main: card(
            &s.login_title,
            &s.login_intro,
            html! {
                (note(n))
                form.stack method="post" action=(format!("{base}/app/login")) {
                    input type="hidden" name="next" value=(next);
                    div.field {
                        label for="username" { (s.user_name) }
                        input #username type="text" name="username" value=(username) autocomplete="username"
                            autocapitalize="none" spellcheck="false" required
                            aria-invalid=[invalid.then_some("true")] aria-describedby=[described];
                    }
                    div.field {
                        label for="password" { (s.password) }
                        input #password type="password" name="password" autocomplete="current-password" required
                            aria-invalid=[invalid.then_some("true")] aria-describedby=[described];
                    }
                    button.primary-button.wide type="submit" { (s.login_submit) }
                }
            },
        ),
    }
}

fn setup_form(s: &Strings, base: &str, username: &str, n: &Note) -> Page {
    Page {
        title: s.setup_title.clone(),
        nav: Nav::None,
        main: card(
            &s.setup_title,
            &s.setup_intro,
            html! {
                (note(n))
                form.stack method="post" action=(format!("{base}/app/setup")) {
                    div.field {
                        label for="code" { (s.setup_code) }
                        input #code type="text" name="code" autocomplete="one-time-code" autocapitalize="characters"
                            spellcheck="false" required aria-describedby="code-hint";
                        p.hint #code-hint { (s.setup_code_hint) }
                    }
                    div.field {
                        label for="username" { (s.user_name) }
                        input #username type="text" name="username" value=(username) autocomplete="username"
                            autocapitalize="none" spellcheck="false" required;
                    }
                    div.field {
                        label for="password" { (s.password) }
                        input #password type="password" name="password" autocomplete="new-password" required;
                    }
                    div.field {
                        label for="password2" { (s.password_again) }
                        input #password2 type="password" name="password2" autocomplete="new-password" required;
                    }
                    button.primary-button.wide type="submit" { (s.setup_submit) }
                }
            },
        ),
    }
}

fn setup_closed(s: &Strings, base: &str) -> Page {
    Page {
        title: s.setup_closed_title.clone(),
        nav: Nav::None,
        main: card(
            &s.setup_closed_title,
            &s.setup_closed,
            html! { a.primary-button.wide href=(format!("{base}/app/login")) { (s.go_to_login) } },
        ),
    }
}

fn logged_out_behind_proxy(s: &Strings, base: &str) -> Page {
    Page {
        title: s.logged_out.clone(),
        nav: Nav::None,
        main: card(
            &s.logged_out,
            &s.proxy_logged_out,
            html! { a.primary-button.wide href=(format!("{base}/app/")) { (s.log_in_again) } },
        ),
    }
}

impl Front {
    async fn form_body(&self, body: AxumBody) -> Result<crate::front::Params, HttpResponse> {
        self.read_body(body).await.map(|b| form_fields(&b))
    }

    /// 403 for a form a browser marks as posted from another site (logged).
    pub(in crate::front::ui) fn cross_site_refusal(&self, r: &Req, v: Option<&Viewer>) -> HttpResponse {
        tracing::warn!("refused a cross-site POST {} from {}", r.here, r.peer.addr);
        self.page_response(
            r,
            v,
            StatusCode::FORBIDDEN,
            super::message(r.s, &self.base_url, &r.s.forbidden_title, &r.s.cross_site_refused),
        )
    }

    /// A logged-in page's form: its fields, unless a browser marks it as another site's, or
    /// its body is too large or too slow (the answer to send instead).
    pub(in crate::front::ui) async fn posted_form(
        &self,
        r: &Req,
        v: &Viewer,
        body: AxumBody,
    ) -> Result<crate::front::Params, HttpResponse> {
        if cross_site(&r.headers) {
            return Err(self.cross_site_refusal(r, Some(v)));
        }
        self.form_body(body).await
    }

    pub async fn setup_page(&self, r: &Req) -> HttpResponse {
        let page = if self.setup_open().await {
            setup_form(r.s, &self.base_url, "", &Note::None)
        } else {
            setup_closed(r.s, &self.base_url)
        };
        self.page_response(r, None, StatusCode::OK, page)
    }

    pub async fn setup_post(&self, r: &Req, body: AxumBody) -> HttpResponse {
        if cross_site(&r.headers) {
            return self.cross_site_refusal(r, None);
        }
        let f = match self.form_body(body).await {
            Ok(f) => f,
            Err(resp) => return resp,
        };
        let (s, base) = (r.s, &self.base_url);
        let username = f.get("username").unwrap_or("").to_string();
        let password = f.get("password").unwrap_or("");
        if password != f.get("password2").unwrap_or("") {
            let n = Note::Error(s.passwords_differ.clone(), None);
            return self.page_response(r, None, StatusCode::BAD_REQUEST, setup_form(s, base, &username, &n));
        }
        let request = Request::Setup {
            client: Client { addr: r.peer.addr.clone(), name: "web".into() },
            code: Secret(f.get("code").unwrap_or("").to_string()),
            username: username.clone(),
            password: Secret(password.to_string()),
        };
        match self.broker.call(&request, &[]).await.map(|x| x.body) {
            Ok(Reply::Session(Ok(grant))) => {
                let mut resp = redirect(base, "/app/");
                self.set_session_cookies(&mut resp, &grant, &r.peer);
                resp
            }
            Ok(Reply::Session(Err(e))) => {
                if !self.setup_open().await {
                    return self.page_response(r, None, StatusCode::CONFLICT, setup_closed(s, base));
                }
                let n = refusal(s, &e, &s.setup_wrong_code);
                let mut resp = self.page_response(r, None, status_of(&n), setup_form(s, base, &username, &n));
                retry_after(&mut resp, &e);
                resp
            }
            _ => self.unavailable(r),
        }
    }

    pub async fn login_page(&self, r: &Req) -> HttpResponse {
        let (s, base) = (r.s, &self.base_url);
        let next = safe_next(r.param("next"));
        let logged_out = r.param("out").is_some();
        if matches!(self.proxy_user(&r.headers, &r.peer), Ok(Some(_))) {
            // Behind the proxy there is no form: any page logs in as the header's user.
            return if logged_out {
                self.page_response(r, None, StatusCode::OK, logged_out_behind_proxy(s, base))
            } else {
                redirect(base, next)
            };
        }
        if let Some(token) = crate::front::auth::cookie(&r.headers, COOKIE_NAME) {
            let who = self.broker.call(&Request::Session { token: Secret(token), csrf: None }, &[]).await;
            if matches!(who.map(|x| x.body), Ok(Reply::Who(Some(_)))) {
                return redirect(base, next);
            }
        }
        if self.setup_open().await {
            return redirect(base, "/app/setup");
        }
        let n = if logged_out {
            Note::Info(&s.logged_out)
        } else if r.param("changed").is_some() {
            Note::Info(&s.password_changed)
        } else if r.param("next").is_some() {
            Note::Info(&s.session_needed)
        } else {
            Note::None
        };
        self.page_response(r, None, StatusCode::OK, login_form(s, base, next, "", &n))
    }

    pub async fn login_post(&self, r: &Req, body: AxumBody) -> HttpResponse {
        if cross_site(&r.headers) {
            return self.cross_site_refusal(r, None);
        }
        let f = match self.form_body(body).await {
            Ok(f) => f,
            Err(resp) => return resp,
        };
        let (s, base) = (r.s, &self.base_url);
        let next = safe_next(f.get("next")).to_string();
        let username = f.get("username").unwrap_or("").to_string();
        let request = Request::Login {
            client: Client { addr: r.peer.addr.clone(), name: "web".into() },
            username: username.clone(),
            password: Secret(f.get("password").unwrap_or("").to_string()),
        };
        match self.broker.call(&request, &[]).await.map(|x| x.body) {
            Ok(Reply::Session(Ok(grant))) => {
                let mut resp = redirect(base, &next);
                self.set_session_cookies(&mut resp, &grant, &r.peer);
                resp
            }
            Ok(Reply::Session(Err(e))) => {
                let n = refusal(s, &e, &s.login_wrong);
                let mut resp = self.page_response(r, None, status_of(&n), login_form(s, base, &next, &username, &n));
                retry_after(&mut resp, &e);
                resp
            }
            _ => self.unavailable(r),
        }
    }

    pub async fn logout_post(&self, r: &Req, body: AxumBody) -> HttpResponse {
        let f = match self.form_body(body).await {
            Ok(f) => f,
            Err(resp) => return resp,
        };
        let base = &self.base_url;
        let Some(token) = crate::front::auth::cookie(&r.headers, COOKIE_NAME) else {
            return redirect(base, "/app/login");
        };
        let csrf = f.get("_csrf").or_else(|| r.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()));
        let request = Request::Logout { token: Secret(token), csrf: Secret(csrf.unwrap_or("").to_string()) };
        match self.broker.call(&request, &[]).await.map(|x| x.body) {
            Ok(Reply::Done) => {
                let mut resp = if self.logout_url.is_empty() {
                    redirect(base, "/app/login?out=1")
                } else {
                    let mut resp = redirect("", "");
                    if let Ok(v) = HeaderValue::from_str(&self.logout_url) {
                        resp.headers_mut().insert(hyper::header::LOCATION, v);
                    }
                    resp
                };
                self.clear_session_cookies(&mut resp, &r.peer);
                resp
            }
            Ok(_) => self.page_response(
                r,
                None,
                StatusCode::FORBIDDEN,
                super::message(r.s, base, &r.s.forbidden_title, &r.s.forbidden),
            ),
            Err(_) => self.unavailable(r),
        }
    }
}

fn retry_after(resp: &mut HttpResponse, e: &ApiError) {
    if let Some(secs) = e.retry_after {
        resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
}
