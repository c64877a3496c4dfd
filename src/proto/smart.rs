//! Smart playlists: a typed rule tree, and Navidrome's `.nsp` format read into it.
//!
//! A rule names a field from the fixed [`Field`] list and an operator from [`Op`]; its value
//! is data. The broker turns the tree into SQL from constant fragments, one per field and
//! operator, with every value a bound parameter (`broker/userdata/smart.rs`): no text from a
//! rule, not even a field name, ever becomes SQL text. A field or operator this list does not
//! have, or a value of the wrong kind, becomes [`Rule::Invalid`], which matches no song
//! (so a playlist is never broader than what its file asked for), with the reason reported.
//!
//! The scanner parses `.nsp` files ([`parse_nsp`]) in its sandbox and sends the tree; the
//! web UI's editor builds the same tree through [`compare`].

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The fields a rule may test, with their names in `.nsp` files (matched case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    Title,
    Album,
    Artist,
    AlbumArtist,
    Genre,
    Comment,
    FileType,
    FilePath,
    Year,
    TrackNumber,
    DiscNumber,
    Duration,
    BitRate,
    Bpm,
    Rating,
    PlayCount,
    Loved,
    Compilation,
    LastPlayed,
    DateAdded,
    DateModified,
    DateLoved,
}

/// What a field holds, which decides the operators it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    Bool,
    /// Unix seconds; values are `YYYY-MM-DD` dates, or days for `inTheLast`.
    Date,
}

impl Field {
    pub const ALL: &'static [(Field, &'static str)] = &[
        (Field::Title, "title"),
        (Field::Album, "album"),
        (Field::Artist, "artist"),
        (Field::AlbumArtist, "albumartist"),
        (Field::Genre, "genre"),
        (Field::Comment, "comment"),
        (Field::FileType, "filetype"),
        (Field::FilePath, "filepath"),
        (Field::Year, "year"),
        (Field::TrackNumber, "tracknumber"),
        (Field::DiscNumber, "discnumber"),
        (Field::Duration, "duration"),
        (Field::BitRate, "bitrate"),
        (Field::Bpm, "bpm"),
        (Field::Rating, "rating"),
        (Field::PlayCount, "playcount"),
        (Field::Loved, "loved"),
        (Field::Compilation, "compilation"),
        (Field::LastPlayed, "lastplayed"),
        (Field::DateAdded, "dateadded"),
        (Field::DateModified, "datemodified"),
        (Field::DateLoved, "dateloved"),
    ];

    pub fn parse(name: &str) -> Option<Field> {
        let lower = name.to_ascii_lowercase();
        Field::ALL.iter().find(|(_, n)| *n == lower).map(|(f, _)| *f)
    }

    pub fn name(self) -> &'static str {
        Field::ALL.iter().find(|(f, _)| *f == self).map(|(_, n)| *n).unwrap_or("")
    }

    pub fn kind(self) -> Kind {
        use Field::*;
        match self {
            Title | Album | Artist | AlbumArtist | Genre | Comment | FileType | FilePath => Kind::Text,
            Year | TrackNumber | DiscNumber | Duration | BitRate | Bpm | Rating | PlayCount => Kind::Number,
            Loved | Compilation => Kind::Bool,
            LastPlayed | DateAdded | DateModified | DateLoved => Kind::Date,
        }
    }

    /// Whether the field is the playlist owner's own data (stars, ratings, plays).
    pub fn per_user(self) -> bool {
        matches!(self, Field::Rating | Field::PlayCount | Field::Loved | Field::LastPlayed | Field::DateLoved)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Is,
    IsNot,
    Gt,
    Lt,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    InTheRange,
    Before,
    After,
    InTheLast,
    NotInTheLast,
}

impl Op {
    pub const ALL: &'static [(Op, &'static str)] = &[
        (Op::Is, "is"),
        (Op::IsNot, "isNot"),
        (Op::Gt, "gt"),
        (Op::Lt, "lt"),
        (Op::Contains, "contains"),
        (Op::NotContains, "notContains"),
        (Op::StartsWith, "startsWith"),
        (Op::EndsWith, "endsWith"),
        (Op::InTheRange, "inTheRange"),
        (Op::Before, "before"),
        (Op::After, "after"),
        (Op::InTheLast, "inTheLast"),
        (Op::NotInTheLast, "notInTheLast"),
    ];

    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)).map(|(o, _)| *o)
    }

    pub fn name(self) -> &'static str {
        Op::ALL.iter().find(|(o, _)| *o == self).map(|(_, n)| *n).unwrap_or("")
    }

    /// The operators a kind of field takes.
    pub fn fits(self, kind: Kind) -> bool {
        use Op::*;
        match kind {
            Kind::Text => matches!(self, Is | IsNot | Contains | NotContains | StartsWith | EndsWith),
            Kind::Number => matches!(self, Is | IsNot | Gt | Lt | InTheRange),
            Kind::Bool => matches!(self, Is | IsNot),
            Kind::Date => matches!(self, Before | After | InTheLast | NotInTheLast | InTheRange),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Text(String),
    Number(f64),
    Bool(bool),
    /// Inclusive, low to high: numbers, or unix seconds for dates.
    Range(f64, f64),
    /// Unix seconds (the start of a UTC day).
    Date(i64),
    Days(i64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Rule {
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Compare {
        field: Field,
        op: Op,
        value: Value,
    },
    /// `inPlaylist` / `notInPlaylist`: songs of a playlist the owner may see (not a smart one).
    InPlaylist {
        id: String,
        negate: bool,
    },
    /// A rule that could not be understood: it matches no song.
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SortKey {
    pub field: Field,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum Sort {
    /// By title.
    #[default]
    Title,
    Random,
    Keys(Vec<SortKey>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmartRules {
    /// `All` or `Any`.
    pub root: Rule,
    pub sort: Sort,
    pub limit: Option<u32>,
}

/// Deepest nesting of all/any groups, and most rules in a playlist.
pub const MAX_DEPTH: usize = 8;
pub const MAX_RULES: usize = 200;
/// Longest text value, in characters.
pub const MAX_VALUE: usize = 1000;
/// Largest `.nsp` file the scanner reads.
pub const MAX_NSP_BYTES: usize = 256 * 1024;

impl SmartRules {
    /// Within the bounds above: the broker checks this of every tree it is sent.
    pub fn check_bounds(&self) -> Result<(), String> {
        fn walk(r: &Rule, depth: usize, count: &mut usize) -> Result<(), String> {
            *count += 1;
            if *count > MAX_RULES {
                return Err(format!("a smart playlist has at most {MAX_RULES} rules"));
            }
            match r {
                Rule::All(rs) | Rule::Any(rs) => {
                    if depth >= MAX_DEPTH {
                        return Err(format!("rules nest at most {MAX_DEPTH} deep"));
                    }
                    rs.iter().try_for_each(|r| walk(r, depth + 1, count))
                }
                Rule::Compare { value: Value::Text(t), .. } if t.chars().count() > MAX_VALUE => {
                    Err(format!("a rule's value has at most {MAX_VALUE} characters"))
                }
                Rule::InPlaylist { id, .. } if id.len() > 64 => Err("a playlist id is too long".into()),
                Rule::Invalid(why) if why.len() > 2 * MAX_VALUE => Err("a rule's problem is too long".into()),
                _ => Ok(()),
            }
        }
        if !matches!(self.root, Rule::All(_) | Rule::Any(_)) {
            return Err("the rules are not an all/any group".into());
        }
        if let Sort::Keys(k) = &self.sort {
            if k.len() > 8 {
                return Err("at most 8 sort fields".into());
            }
        }
        walk(&self.root, 0, &mut 0)
    }

    /// The reasons of the rules that match nothing.
    pub fn problems(&self) -> Vec<String> {
        fn walk(r: &Rule, out: &mut Vec<String>) {
            match r {
                Rule::All(rs) | Rule::Any(rs) => rs.iter().for_each(|r| walk(r, out)),
                Rule::Invalid(why) => out.push(why.clone()),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }
}

/// A `.nsp` file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Nsp {
    pub name: Option<String>,
    pub comment: Option<String>,
    pub rules: SmartRules,
    /// Rules that match nothing and keys that were ignored, as sentences.
    pub problems: Vec<String>,
}

/// Reads Navidrome's JSON: `{"name", "comment", "all"|"any": [rules], "sort", "order", "limit"}`,
/// a rule being `{"<operator>": {"<field>": value}}` or a nested `{"all"|"any": [...]}`.
/// Err: not a smart playlist at all (not JSON, no all/any); the file is then not imported.
pub fn parse_nsp(text: &str) -> Result<Nsp, String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Json::Object(top) = json else { return Err("not a JSON object".into()) };
    let mut problems = Vec::new();
    let mut root = None;
    let (mut sort, mut order, mut limit, mut name, mut comment) = (None, None, None, None, None);
    for (key, v) in &top {
        match key.to_ascii_lowercase().as_str() {
            "all" | "any" if root.is_none() => root = Some(group(key, v, 0)),
            "all" | "any" => problems.push(format!("ignored a second top-level group \"{key}\"")),
            "name" => name = v.as_str().map(|s| s.trim().chars().take(500).collect::<String>()),
            "comment" => comment = v.as_str().map(|s| s.chars().take(5000).collect::<String>()),
            "sort" => sort = v.as_str(),
            "order" => order = v.as_str(),
            "limit" => match v.as_u64() {
                Some(n) => limit = Some(n.min(u32::MAX as u64) as u32),
                None => problems.push("ignored \"limit\": not a whole number".into()),
            },
            "public" | "id" | "ownerid" | "ownername" | "owner" => {}
            other => problems.push(format!("ignored the unknown key \"{}\"", clip(other))),
        }
    }
    let root = root.ok_or("no \"all\" or \"any\" rules")?;
    let sort = parse_sort(sort.unwrap_or(""), order.unwrap_or(""), &mut problems);
    let rules = SmartRules { root, sort, limit };
    rules.check_bounds()?;
    problems.splice(0..0, rules.problems().into_iter().map(|p| format!("{p}: this rule matches no song")));
    Ok(Nsp { name: name.filter(|n| !n.is_empty()), comment, rules, problems })
}

fn clip(s: &str) -> String {
    let mut c: String = s.chars().filter(|c| !c.is_control()).take(60).collect();
    if c.len() < s.len() {
        c.push('…');
    }
    c
}

fn group(key: &str, v: &Json, depth: usize) -> Rule {
    let any = key.eq_ignore_ascii_case("any");
    let Json::Array(items) = v else {
        return Rule::Invalid(format!("\"{key}\" is not a list of rules"));
    };
    if depth >= MAX_DEPTH {
        return Rule::Invalid(format!("rules nest at most {MAX_DEPTH} deep"));
    }
    let rules = items.iter().take(MAX_RULES + 1).map(|r| rule(r, depth + 1)).collect();
    if any {
        Rule::Any(rules)
    } else {
        Rule::All(rules)
    }
}

fn rule(v: &Json, depth: usize) -> Rule {
    let Json::Object(o) = v else { return Rule::Invalid("a rule is not a JSON object".into()) };
    if o.len() != 1 {
        return Rule::Invalid("a rule has exactly one operator".into());
    }
    let (op_name, arg) = o.iter().next().expect("one entry");
    if op_name.eq_ignore_ascii_case("all") || op_name.eq_ignore_ascii_case("any") {
        return group(op_name, arg, depth);
    }
    let Json::Object(arg) = arg else {
        return Rule::Invalid(format!("\"{}\" takes {{\"field\": value}}", clip(op_name)));
    };
    if arg.len() != 1 {
        return Rule::Invalid(format!("\"{}\" takes exactly one field", clip(op_name)));
    }
    let (field, value) = arg.iter().next().expect("one entry");
    compare(field, op_name, value)
}

/// One comparison, checked: the field and operator exist and fit, and the value is of the
/// field's kind. Anything else is [`Rule::Invalid`] with the reason.
pub fn compare(field_name: &str, op_name: &str, value: &Json) -> Rule {
    for (negate, name) in [(false, "inPlaylist"), (true, "notInPlaylist")] {
        if op_name.eq_ignore_ascii_case(name) {
            return match (field_name.eq_ignore_ascii_case("id"), value.as_str()) {
                (true, Some(id)) if !id.is_empty() && id.len() <= 64 => Rule::InPlaylist { id: id.to_string(), negate },
                _ => Rule::Invalid(format!("\"{name}\" takes {{\"id\": \"<playlist id>\"}}")),
            };
        }
    }
    let Some(op) = Op::parse(op_name) else {
        return Rule::Invalid(format!("unknown operator \"{}\"", clip(op_name)));
    };
    let Some(field) = Field::parse(field_name) else {
        return Rule::Invalid(format!("unknown field \"{}\"", clip(field_name)));
    };
    let kind = field.kind();
    if !op.fits(kind) {
        return Rule::Invalid(format!("\"{}\" does not apply to the field \"{}\"", op.name(), field.name()));
    }
    let bad = || Rule::Invalid(format!("\"{} {}\": the value does not fit the field", field.name(), op.name()));
    let value = match (kind, op) {
        (Kind::Text, _) => match value {
            Json::String(s) if s.chars().count() <= MAX_VALUE => Value::Text(s.clone()),
            Json::Number(n) => Value::Text(n.to_string()),
            _ => return bad(),
        },
        (Kind::Number, Op::InTheRange) => match range(value, number) {
            Some((a, b)) => Value::Range(a, b),
            None => return bad(),
        },
        (Kind::Number, _) => match number(value) {
            Some(n) => Value::Number(n),
            None => return bad(),
        },
        (Kind::Bool, _) => match value {
            Json::Bool(b) => Value::Bool(*b),
            Json::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Json::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return bad(),
        },
        (Kind::Date, Op::InTheLast | Op::NotInTheLast) => match number(value) {
            Some(n) if (0.0..=100_000.0).contains(&n) => Value::Days(n as i64),
            _ => return bad(),
        },
        (Kind::Date, Op::InTheRange) => match range(value, date) {
            Some((a, b)) => Value::Range(a, b + 86_399.0),
            None => return bad(),
        },
        (Kind::Date, _) => match date(value) {
            Some(d) => Value::Date(d as i64),
            None => return bad(),
        },
    };
    Rule::Compare { field, op, value }
}

fn number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

/// `YYYY-MM-DD` (a longer ISO 8601 time is read to its day), as unix seconds.
fn date(v: &Json) -> Option<f64> {
    let s = v.as_str()?;
    let day = s.get(..10)?;
    let mut parts = day.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(0..=9999).contains(&y) {
        return None;
    }
    Some((crate::dates::days_from_civil(y, m, d) * 86_400) as f64)
}

fn range(v: &Json, each: fn(&Json) -> Option<f64>) -> Option<(f64, f64)> {
    let Json::Array(a) = v else { return None };
    let [lo, hi] = a.as_slice() else { return None };
    let (lo, hi) = (each(lo)?, each(hi)?);
    Some((lo.min(hi), lo.max(hi)))
}

/// `sort`: a field, or several separated by commas, each prefixed by `+` or `-`; `random`.
/// `order: "desc"` reverses them all.
fn parse_sort(sort: &str, order: &str, problems: &mut Vec<String>) -> Sort {
    let flip = order.eq_ignore_ascii_case("desc");
    if sort.trim().eq_ignore_ascii_case("random") {
        return Sort::Random;
    }
    let mut keys = Vec::new();
    for part in sort.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (desc, name) = match part.as_bytes()[0] {
            b'-' => (true, &part[1..]),
            b'+' => (false, &part[1..]),
            _ => (false, part),
        };
        match Field::parse(name.trim()) {
            Some(field) if keys.len() < 8 => keys.push(SortKey { field, descending: desc != flip }),
            Some(_) => problems.push("ignored sort fields past the eighth".into()),
            None => problems.push(format!("ignored the unknown sort field \"{}\"", clip(name))),
        }
    }
    if keys.is_empty() {
        if flip {
            return Sort::Keys(vec![SortKey { field: Field::Title, descending: true }]);
        }
        return Sort::Title;
    }
    Sort::Keys(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_navidromes_format() {
        let nsp = parse_nsp(
            r#"{"name": "80s loved", "comment": "c", "all": [
                {"is": {"loved": true}},
                {"inTheRange": {"year": [1989, 1980]}},
                {"any": [{"contains": {"genre": "rock"}}, {"startsWith": {"Title": "A"}}]},
                {"inTheLast": {"lastPlayed": 30}},
                {"before": {"dateAdded": "2020-01-02"}},
                {"inPlaylist": {"id": "abc"}}
            ], "sort": "-rating,title", "order": "desc", "limit": 25}"#,
        )
        .unwrap();
        assert_eq!(nsp.name.as_deref(), Some("80s loved"));
        assert!(nsp.problems.is_empty(), "{:?}", nsp.problems);
        let Rule::All(rules) = &nsp.rules.root else { panic!() };
        assert_eq!(rules[0], Rule::Compare { field: Field::Loved, op: Op::Is, value: Value::Bool(true) });
        assert_eq!(
            rules[1],
            Rule::Compare { field: Field::Year, op: Op::InTheRange, value: Value::Range(1980.0, 1989.0) }
        );
        assert!(matches!(&rules[2], Rule::Any(v) if v.len() == 2));
        assert_eq!(rules[3], Rule::Compare { field: Field::LastPlayed, op: Op::InTheLast, value: Value::Days(30) });
        assert_eq!(
            rules[4],
            Rule::Compare { field: Field::DateAdded, op: Op::Before, value: Value::Date(1_577_923_200) }
        );
        assert_eq!(rules[5], Rule::InPlaylist { id: "abc".into(), negate: false });
        let Sort::Keys(keys) = &nsp.rules.sort else { panic!() };
        assert_eq!(keys[0], SortKey { field: Field::Rating, descending: false });
        assert_eq!(keys[1], SortKey { field: Field::Title, descending: true });
        assert_eq!(nsp.rules.limit, Some(25));
    }

    #[test]
    fn what_it_cannot_read_matches_nothing_and_says_why() {
        let nsp = parse_nsp(
            r#"{"any": [{"contains": {"title; DROP TABLE tracks": "x"}}, {"resembles": {"title": "x"}},
                {"contains": {"year": "x"}}, {"gt": {"year": "soon"}}], "colour": "red", "sort": "mood"}"#,
        )
        .unwrap();
        let Rule::Any(rules) = &nsp.rules.root else { panic!() };
        assert!(rules.iter().all(|r| matches!(r, Rule::Invalid(_))), "{rules:?}");
        assert_eq!(nsp.problems.len(), 6, "{:?}", nsp.problems);
        assert!(nsp.problems[0].contains("unknown field \"title; DROP TABLE tracks\""));
        assert!(nsp.problems[1].contains("unknown operator \"resembles\""));
        assert_eq!(nsp.rules.sort, Sort::Title);
        // SQL-looking text in a value is only a value.
        let nsp = parse_nsp(r#"{"all": [{"contains": {"title": "x' OR 1=1 --"}}]}"#).unwrap();
        let Rule::All(r) = &nsp.rules.root else { panic!() };
        assert_eq!(
            r[0],
            Rule::Compare { field: Field::Title, op: Op::Contains, value: Value::Text("x' OR 1=1 --".into()) }
        );
    }

    #[test]
    fn not_a_smart_playlist() {
        assert!(parse_nsp("not json").is_err());
        assert!(parse_nsp("[1]").is_err());
        assert!(parse_nsp(r#"{"name": "x"}"#).is_err());
        let deep = format!("{}{}{}", r#"{"all": ["#.repeat(20), "", "]}".repeat(20));
        let nsp = parse_nsp(&deep).unwrap();
        assert!(nsp.problems.iter().any(|p| p.contains("nest")), "{:?}", nsp.problems);
        let many = format!(r#"{{"all": [{}]}}"#, vec![r#"{"is": {"year": 1}}"#; 300].join(","));
        assert!(parse_nsp(&many).unwrap_err().contains("at most"));
    }
}
