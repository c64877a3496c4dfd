//! The smart playlist editor: a plain form of rules (field, test, value), all or any of them,
//! the sort and the most songs.
//!
//! - `GET /app/smart/new`, `POST /app/smart/new`: a new smart playlist, then its page.
//! - `GET /app/smart/<id>`, `POST /app/smart/<id>` with `op` = `save` or `delete`.
//!
//! Each rule is checked here (as the scanner checks `.nsp` files: `proto::smart::compare`)
//! and a rule that does not fit is said on the form, with what was typed kept; the broker
//! checks the tree again and stores it. The form shows the rules there are plus two empty
//! ones: filling one in adds a rule, ticking Remove takes one away.

use axum::body::Body as AxumBody;
use hyper::StatusCode;
use maud::{html, Markup};
use serde_json::Value as Json;

use super::super::layout::{icon, Nav, Page};
use super::super::strings::{fill, Strings};
use super::super::{redirect, Req, UiError, Viewer};
use super::parts::seg;
use crate::front::{Front, HttpResponse, Params};
use crate::proto::smart::{compare, Field, Kind, Op, Rule, SmartRules, Sort, SortKey, Value, MAX_RULES};
use crate::proto::userdata::{SmartPlaylistRec, UserDataAnswer as UA, UserDataCall as U};
use crate::proto::{Answer, Call};

/// Empty rules offered below the ones there are.
const SPARE_RULES: usize = 2;

/// What the form holds: the playlist's rules, or what was posted.
#[derive(Default)]
struct Draft {
    name: String,
    comment: String,
    public: bool,
    any: bool,
    rows: Vec<Row>,
    /// "" (title), "random" or a field's name.
    sort: String,
    descending: bool,
    limit: String,
    nested: bool,
}

#[derive(Default, Clone)]
struct Row {
    field: String,
    op: String,
    value: String,
    to: String,
}

impl Front {
    /// `/app/smart/...`, GET and POST.
    pub async fn smart_editor(&self, r: &Req, tail: &str, body: AxumBody) -> HttpResponse {
        let v = match self.viewer(r).await {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        if tail.is_empty() || tail.contains('/') {
            return self.respond(r, Some(&v), Err(UiError::NotFound));
        }
        let id = (tail != "new").then_some(tail);
        if r.method != hyper::Method::POST {
            let page = match id {
                None => Ok(editor(
                    r,
                    &self.base_url,
                    &v,
                    None,
                    &Draft { rows: vec![Row::default(); SPARE_RULES + 1], ..Draft::default() },
                    None,
                )),
                Some(id) => match self.smart_rec(r, &v, id).await {
                    Ok(rec) => Ok(editor(r, &self.base_url, &v, Some(&rec), &draft_of(&rec), None)),
                    Err(e) => Err(e),
                },
            };
            return self.respond(r, Some(&v), page);
        }
        let f = match self.posted_form(r, &v, body).await {
            Ok(f) => f,
            Err(resp) => return resp,
        };
        let csrf = f.get("_csrf").unwrap_or("");
        if let (Some(id), Some("delete")) = (id, f.get("op")) {
            return match self.ui_change(r, &v, csrf, Call::UserData(U::DeleteSmartPlaylist { id: id.into() })).await {
                Ok(_) => redirect(&self.base_url, "/app/playlists?done=deleted"),
                Err(e) => self.respond(r, Some(&v), Err(e)),
            };
        }
        let draft = draft_from_form(&f);
        let refused = match rules_of(r.s, &draft) {
            Err(why) => why,
            Ok(rules) => {
                let call = U::SaveSmartPlaylist {
                    id: id.map(str::to_string),
                    name: draft.name.trim().to_string(),
                    comment: draft.comment.clone(),
                    public: draft.public,
                    rules,
                };
                match self.ui_change(r, &v, csrf, Call::UserData(call)).await {
                    Ok(Answer::UserData(a)) => match *a {
                        UA::SmartPlaylist(rec) => {
                            return redirect(&self.base_url, &format!("/app/playlist/{}?done=1", seg(&rec.playlist.id)))
                        }
                        _ => return self.unavailable(r),
                    },
                    Ok(_) => return self.unavailable(r),
                    Err(UiError::Api(e)) if e.code == crate::proto::error::code::GENERIC => e.message,
                    Err(e) => return self.respond(r, Some(&v), Err(e)),
                }
            }
        };
        let rec = match id {
            Some(id) => match self.smart_rec(r, &v, id).await {
                Ok(rec) => Some(rec),
                Err(e) => return self.respond(r, Some(&v), Err(e)),
            },
            None => None,
        };
        let mut draft = draft;
        pad(&mut draft.rows);
        let page = editor(r, &self.base_url, &v, rec.as_ref(), &draft, Some(&refused));
        self.page_response(r, Some(&v), StatusCode::BAD_REQUEST, page)
    }

    async fn smart_rec(&self, r: &Req, v: &Viewer, id: &str) -> Result<SmartPlaylistRec, UiError> {
        match self.ui_call(r, v, Call::UserData(U::SmartPlaylist { id: id.to_string() })).await? {
            Answer::UserData(a) => match *a {
                UA::SmartPlaylist(rec) => Ok(*rec),
                _ => Err(UiError::Unavailable),
            },
            _ => Err(UiError::Unavailable),
        }
    }
}

fn pad(rows: &mut Vec<Row>) {
    rows.retain(|r| !r.field.is_empty() && !r.value.trim().is_empty());
    let spare = SPARE_RULES.max(3usize.saturating_sub(rows.len()));
    rows.extend(std::iter::repeat_n(Row::default(), spare));
}

/// The form's rows as the playlist has them (a flat all/any group; nested groups are not
/// shown: only a `.nsp` file makes them).
fn draft_of(rec: &SmartPlaylistRec) -> Draft {
    let (any, rules) = match &rec.rules.root {
        Rule::Any(r) => (true, r.as_slice()),
        Rule::All(r) => (false, r.as_slice()),
        _ => (false, &[][..]),
    };
    let mut nested = false;
    let mut rows = Vec::new();
    for rule in rules {
        match rule {
            Rule::Compare { field, op, value } => {
                let (value, to) = value_text(field.kind(), value);
                rows.push(Row { field: field.name().into(), op: op.name().into(), value, to });
            }
            _ => nested = true,
        }
    }
    pad(&mut rows);
    let (sort, descending) = match &rec.rules.sort {
        Sort::Title => (String::new(), false),
        Sort::Random => ("random".into(), false),
        Sort::Keys(k) => k.first().map(|k| (k.field.name().to_string(), k.descending)).unwrap_or_default(),
    };
    Draft {
        name: rec.playlist.name.clone(),
        comment: rec.playlist.comment.clone(),
        public: rec.playlist.public,
        any,
        rows,
        sort,
        descending,
        limit: rec.rules.limit.map(|l| l.to_string()).unwrap_or_default(),
        nested,
    }
}

fn day(secs: f64) -> String {
    let (y, m, d) = crate::dates::civil_from_days((secs as i64).div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn value_text(kind: Kind, v: &Value) -> (String, String) {
    match v {
        Value::Text(s) => (s.clone(), String::new()),
        Value::Number(n) => (number(*n), String::new()),
        Value::Bool(b) => ((if *b { "yes" } else { "no" }).into(), String::new()),
        Value::Range(lo, hi) if kind == Kind::Date => (day(*lo), day(*hi)),
        Value::Range(lo, hi) => (number(*lo), number(*hi)),
        Value::Date(d) => (day(*d as f64), String::new()),
        Value::Days(n) => (n.to_string(), String::new()),
    }
}

fn draft_from_form(f: &Params) -> Draft {
    let get = |k: &str| f.get(k).unwrap_or("").to_string();
    let mut rows = Vec::new();
    for i in 0..MAX_RULES {
        let Some(field) = f.get(&format!("field{i}")) else { break };
        if f.get(&format!("remove{i}")).is_some() {
            continue;
        }
        rows.push(Row {
            field: field.to_string(),
            op: get(&format!("op{i}")),
            value: get(&format!("value{i}")),
            to: get(&format!("to{i}")),
        });
    }
    Draft {
        name: get("name"),
        comment: get("comment"),
        public: f.get("public").is_some(),
        any: f.get("match") == Some("any"),
        rows,
        sort: get("sort"),
        descending: f.get("desc").is_some(),
        limit: get("limit").trim().to_string(),
        nested: false,
    }
}

/// The rule tree the form asks for, or what is wrong with it (said on the form).
fn rules_of(s: &Strings, d: &Draft) -> Result<SmartRules, String> {
    let mut rules = Vec::new();
    for (i, row) in d.rows.iter().enumerate() {
        if row.field.is_empty() || row.value.trim().is_empty() {
            continue;
        }
        let value = row.value.trim();
        let typed = |v: &str| -> Json {
            match v.to_ascii_lowercase().as_str() {
                "yes" => Json::String("true".into()),
                "no" => Json::String("false".into()),
                _ => Json::String(v.to_string()),
            }
        };
        let json = if row.op == Op::InTheRange.name() {
            Json::Array(vec![typed(value), typed(row.to.trim())])
        } else if Field::parse(&row.field).is_some_and(|f| f.kind() == Kind::Bool) {
            typed(value)
        } else {
            Json::String(row.value.clone())
        };
        match compare(&row.field, &row.op, &json) {
            Rule::Invalid(why) => {
                return Err(fill(&s.smart_bad_rule, &[("n", &(i + 1).to_string()), ("reason", &why)]))
            }
            rule => rules.push(rule),
        }
    }
    let limit = match d.limit.as_str() {
        "" => None,
        l => Some(l.parse::<u32>().map_err(|_| s.smart_bad_limit.clone())?),
    };
    let sort = match d.sort.as_str() {
        "" if d.descending => Sort::Keys(vec![SortKey { field: Field::Title, descending: true }]),
        "" => Sort::Title,
        "random" => Sort::Random,
        name => match Field::parse(name) {
            Some(field) => Sort::Keys(vec![SortKey { field, descending: d.descending }]),
            None => Sort::Title,
        },
    };
    let root = if d.any { Rule::Any(rules) } else { Rule::All(rules) };
    Ok(SmartRules { root, sort, limit })
}

fn label<'a>(map: &'a std::collections::BTreeMap<String, String>, name: &'a str) -> &'a str {
    map.get(name).map(String::as_str).unwrap_or(name)
}

fn editor(r: &Req, base: &str, v: &Viewer, rec: Option<&SmartPlaylistRec>, d: &Draft, refused: Option<&str>) -> Page {
    let s = r.s;
    let here = match rec {
        Some(rec) => format!("{base}/app/smart/{}", seg(&rec.playlist.id)),
        None => format!("{base}/app/smart/new"),
    };
    let title = rec.map(|r| r.playlist.name.clone()).unwrap_or_else(|| s.smart_new.clone());
    let locked = rec.is_some_and(|r| r.imported || (r.playlist.owner != v.user.username && !v.user.admin));
    let main = html! {
        header.page-head {
            p.kicker { (s.nav_playlists) }
            h1 { (title) }
            @if let Some(rec) = rec {
                p.sub { a href=(format!("{base}/app/playlist/{}", seg(&rec.playlist.id))) { (s.songs(rec.playlist.song_count)) } }
            }
        }
        @if let Some(why) = refused { p.error #form-error role="alert" { (why) } }
        @if let Some(rec) = rec.filter(|r| !r.problems.is_empty()) {
            p.note { (fill(&s.smart_problems, &[("problems", &rec.problems.join("; "))])) }
        }
        @if locked {
            p.note { span.badge { (s.read_only) } " " (s.smart_imported_note) }
        } @else {
            p.note { (s.smart_intro) }
            @if d.nested { p.note { (s.smart_nested) } }
            form.smart-form method="post" action=(here) {
                input type="hidden" name="_csrf" value=(v.csrf);
                div.stacked {
                    label for="smart-name" { (s.playlist_name) }
                    input #smart-name type="text" name="name" value=(d.name) required maxlength="200" autocomplete="off";
                    label for="smart-comment" { (s.smart_comment) }
                    input #smart-comment type="text" name="comment" value=(d.comment) maxlength="1000" autocomplete="off";
                }
                div.player-fields.smart-match {
                    label for="smart-match" { (s.smart_match) }
                    select #smart-match name="match" {
                        option value="all" selected[!d.any] { (s.smart_match_all) }
                        option value="any" selected[d.any] { (s.smart_match_any) }
                    }
                }
                p.note { (s.smart_value_hint) }
                ol.smart-rules {
                    @for (i, row) in d.rows.iter().enumerate() {
                        (rule_row(s, i, row))
                    }
                }
                div.player-fields {
                    label for="smart-sort" { (s.smart_sort) }
                    select #smart-sort name="sort" {
                        option value="" selected[d.sort.is_empty()] { (s.smart_sort_title) }
                        option value="random" selected[d.sort == "random"] { (s.smart_sort_random) }
                        @for (_, name) in Field::ALL {
                            option value=(name) selected[d.sort == *name] { (label(&s.smart_fields, name)) }
                        }
                    }
                    label.smart-check { input #smart-desc type="checkbox" name="desc" checked[d.descending]; " " (s.smart_descending) }
                }
                div.player-fields {
                    label for="smart-limit" { (s.smart_limit) }
                    input #smart-limit type="text" inputmode="numeric" name="limit" value=(d.limit) maxlength="6" size="6" autocomplete="off";
                }
                div.player-fields {
                    label.smart-check { input #smart-public type="checkbox" name="public" checked[d.public]; " " (s.smart_public) }
                }
                div.actions {
                    button.primary-button type="submit" name="op" value="save" { (icon("sliders")) (s.smart_save) }
                }
            }
            @if rec.is_some() {
                details.danger {
                    summary { (s.smart_delete) }
                    p { (s.delete_warning) }
                    form method="post" action=(here) {
                        input type="hidden" name="_csrf" value=(v.csrf);
                        button.danger-button type="submit" name="op" value="delete" { (icon("x")) (s.delete_for_good) }
                    }
                }
            }
        }
    };
    Page { title, nav: Nav::Playlists, main }
}

fn rule_row(s: &Strings, i: usize, row: &Row) -> Markup {
    let id = |what: &str| format!("{what}{i}");
    let n = (i + 1).to_string();
    let legend = fill(&s.smart_rule_n, &[("n", &n)]);
    html! {
        li.player-fields.smart-rule {
            span.rule-n aria-hidden="true" { (legend) }
            label.visually-hidden for=(id("field")) { (legend) ": " (s.smart_field) }
            select id=(id("field")) name=(id("field")) {
                option value="" selected[row.field.is_empty()] { "—" }
                @for (_, name) in Field::ALL {
                    option value=(name) selected[row.field == *name] { (label(&s.smart_fields, name)) }
                }
            }
            label.visually-hidden for=(id("op")) { (legend) ": " (s.smart_operator) }
            select id=(id("op")) name=(id("op")) {
                @for (_, name) in Op::ALL {
                    option value=(name) selected[row.op == *name] { (label(&s.smart_operators, name)) }
                }
            }
            label.visually-hidden for=(id("value")) { (legend) ": " (s.smart_value) }
            input id=(id("value")) type="text" name=(id("value")) value=(row.value) maxlength="1000" size="14" autocomplete="off";
            label for=(id("to")) { (s.smart_value_to) }
            input id=(id("to")) type="text" name=(id("to")) value=(row.to) maxlength="40" size="10" autocomplete="off";
            @if !row.field.is_empty() {
                label.smart-check { input id=(id("remove")) type="checkbox" name=(id("remove")); " " (s.smart_remove) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_and_operator_has_a_label() {
        let s = crate::front::ui::strings::en();
        for (_, name) in Field::ALL {
            assert!(s.smart_fields.contains_key(*name), "{name}");
        }
        for (_, name) in Op::ALL {
            assert!(s.smart_operators.contains_key(*name), "{name}");
        }
        assert_eq!(s.smart_fields.len(), Field::ALL.len());
        assert_eq!(s.smart_operators.len(), Op::ALL.len());
    }

    #[test]
    fn the_form_round_trips_its_rules() {
        let s = crate::front::ui::strings::en();
        let row =
            |f: &str, o: &str, v: &str, t: &str| Row { field: f.into(), op: o.into(), value: v.into(), to: t.into() };
        let d = Draft {
            rows: vec![
                row("genre", "contains", "jazz", ""),
                row("year", "inTheRange", "1990", "1980"),
                row("loved", "is", "yes", ""),
                row("dateadded", "before", "2024-05-31", ""),
                row("", "is", "", ""),
            ],
            sort: "year".into(),
            descending: true,
            limit: "20".into(),
            ..Draft::default()
        };
        let rules = rules_of(s, &d).unwrap();
        let Rule::All(r) = &rules.root else { panic!() };
        assert_eq!(r.len(), 4);
        assert_eq!(r[1], Rule::Compare { field: Field::Year, op: Op::InTheRange, value: Value::Range(1980.0, 1990.0) });
        assert_eq!(rules.limit, Some(20));
        let rec =
            SmartPlaylistRec { playlist: Default::default(), rules: rules.clone(), imported: false, problems: vec![] };
        let back = draft_of(&rec);
        assert_eq!(rules_of(s, &back).unwrap(), rules);
        let bad = Draft { rows: vec![row("year", "contains", "x", "")], ..Draft::default() };
        assert!(rules_of(s, &bad).unwrap_err().starts_with("Rule 1: \"contains\" does not apply"));
    }
}
