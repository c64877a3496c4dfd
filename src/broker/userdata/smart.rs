//! Smart playlists, evaluated: a rule tree (proto/smart.rs) becomes one SELECT over the
//! library. The SQL text is assembled only from the constant fragments below, chosen by the
//! tree's enum variants (a field through [`column`], an operator through [`compare`]); every
//! value is a bound parameter, and text values are LIKE-escaped. No text from a rule, field
//! names included, can reach the SQL text (security claim T40).
//!
//! The songs are chosen when the playlist is read, so they are current after every scan and
//! every change of a star, rating or play. The fields that are per user (rating, loved,
//! play count, last played, date loved) are the playlist OWNER's, as in Navidrome: everyone who
//! may see a public smart playlist sees the same songs.

use rusqlite::types::Value as Sql;
use rusqlite::Connection;

use crate::broker::db::now;
use crate::proto::error::internal;
use crate::proto::smart::{Field, Op, Rule, SmartRules, Sort, Value};
use crate::proto::ApiError;

/// Most songs a smart playlist holds (a limit above it is lowered to it).
pub const MAX_SONGS: u32 = 10_000;

/// The rules as stored in `smart_playlists.rules`.
pub fn store_rules(rules: &SmartRules) -> String {
    serde_json::to_string(rules).expect("a rule tree serialises")
}

/// The stored rules; ones this version cannot read match nothing.
pub fn load_rules(text: &str) -> SmartRules {
    serde_json::from_str(text).unwrap_or_else(|e| SmartRules {
        root: Rule::All(vec![Rule::Invalid(format!("stored rules unreadable: {e}"))]),
        sort: Sort::Title,
        limit: Some(0),
    })
}

/// A song a smart playlist chose.
pub struct Hit {
    pub id: String,
    pub duration_ms: i64,
    pub album_id: Option<String>,
}

/// The songs `rules` choose, in order, as seen by `owner` (whose stars, ratings and plays the
/// per-user fields read; None: nobody's). The one place smart playlists are evaluated.
pub fn evaluate(conn: &Connection, owner: Option<&str>, rules: &SmartRules) -> Result<Vec<Hit>, ApiError> {
    let mut q =
        Query { params: vec![Sql::Text(owner.unwrap_or("").to_string()), Sql::Integer(now())], sql: String::new() };
    q.sql.push_str(
        "SELECT t.id, t.duration_ms, t.album_id FROM tracks t \
         LEFT JOIN albums al ON al.id = t.album_id \
         LEFT JOIN folders fo ON fo.id = t.folder_id \
         LEFT JOIN annotations an ON an.user_id = ?1 AND an.kind = 'track' AND an.item_id = t.id \
         WHERE t.missing = 0 AND ",
    );
    q.rule(&rules.root);
    q.sql.push_str(" ORDER BY ");
    match &rules.sort {
        Sort::Title => {}
        Sort::Random => q.sql.push_str("random(), "),
        Sort::Keys(keys) => {
            for k in keys {
                q.sql.push_str(sort_column(k.field));
                q.sql.push_str(if k.descending { " DESC, " } else { " ASC, " });
            }
        }
    }
    q.sql.push_str("t.title COLLATE NOCASE, t.id LIMIT ");
    let limit = rules.limit.unwrap_or(MAX_SONGS).min(MAX_SONGS);
    let p = q.bind(Sql::Integer(limit as i64));
    q.sql.push_str(&p);
    let mut st = conn.prepare(&q.sql).map_err(internal)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(q.params.iter()), |r| {
            Ok(Hit { id: r.get(0)?, duration_ms: r.get(1)?, album_id: r.get(2)? })
        })
        .map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

struct Query {
    sql: String,
    params: Vec<Sql>,
}

/// A rule that matches no song.
const NOTHING: &str = "0";

impl Query {
    /// A parameter: its placeholder, the only thing of a value that enters the SQL text.
    fn bind(&mut self, v: Sql) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }

    fn rule(&mut self, r: &Rule) {
        match r {
            Rule::All(rs) | Rule::Any(rs) if rs.is_empty() => {
                // An empty group: all of nothing holds, any of nothing does not.
                self.sql.push_str(if matches!(r, Rule::All(_)) { "1" } else { NOTHING });
            }
            Rule::All(rs) | Rule::Any(rs) => {
                let join = if matches!(r, Rule::All(_)) { " AND " } else { " OR " };
                self.sql.push('(');
                for (i, r) in rs.iter().enumerate() {
                    if i > 0 {
                        self.sql.push_str(join);
                    }
                    self.rule(r);
                }
                self.sql.push(')');
            }
            Rule::Invalid(_) => self.sql.push_str(NOTHING),
            Rule::InPlaylist { id, negate } => {
                let p = self.bind(Sql::Text(id.clone()));
                // Only a playlist its owner may see: public or theirs.
                self.sql.push_str(if *negate { "t.id NOT IN " } else { "t.id IN " });
                self.sql.push_str(
                    "(SELECT pt.track_id FROM playlist_tracks pt JOIN playlists pl ON pl.id = pt.playlist_id \
                     WHERE pl.id = ",
                );
                self.sql.push_str(&p);
                self.sql.push_str(" AND (pl.public = 1 OR pl.owner_id = ?1))");
            }
            Rule::Compare { field, op, value } => self.compare(*field, *op, value),
        }
    }

    fn compare(&mut self, field: Field, op: Op, value: &Value) {
        if field == Field::Genre {
            return self.genre(op, value);
        }
        let col = column(field);
        let text = |s: &str| match op {
            Op::Contains | Op::NotContains => Some(format!("%{}%", like_escape(s))),
            Op::StartsWith => Some(format!("{}%", like_escape(s))),
            Op::EndsWith => Some(format!("%{}", like_escape(s))),
            _ => None,
        };
        let (template, params): (&str, Vec<Sql>) = match (op, value) {
            (Op::Is, Value::Text(s)) => ("{c} = {1} COLLATE NOCASE", vec![Sql::Text(s.clone())]),
            (Op::IsNot, Value::Text(s)) => ("{c} <> {1} COLLATE NOCASE", vec![Sql::Text(s.clone())]),
            (Op::Contains | Op::StartsWith | Op::EndsWith, Value::Text(s)) => {
                ("{c} LIKE {1} ESCAPE '\\'", vec![Sql::Text(text(s).unwrap_or_default())])
            }
            (Op::NotContains, Value::Text(s)) => {
                ("{c} NOT LIKE {1} ESCAPE '\\'", vec![Sql::Text(text(s).unwrap_or_default())])
            }
            (Op::Is, Value::Number(n)) => ("{c} = {1}", vec![Sql::Real(*n)]),
            (Op::IsNot, Value::Number(n)) => ("{c} IS NOT {1}", vec![Sql::Real(*n)]),
            (Op::Gt, Value::Number(n)) => ("{c} > {1}", vec![Sql::Real(*n)]),
            (Op::Lt, Value::Number(n)) => ("{c} < {1}", vec![Sql::Real(*n)]),
            (Op::InTheRange, Value::Range(lo, hi)) => ("{c} BETWEEN {1} AND {2}", vec![Sql::Real(*lo), Sql::Real(*hi)]),
            (Op::Is, Value::Bool(b)) => ("{c} = {1}", vec![Sql::Integer(*b as i64)]),
            (Op::IsNot, Value::Bool(b)) => ("{c} <> {1}", vec![Sql::Integer(*b as i64)]),
            (Op::Before, Value::Date(d)) => ("{c} < {1}", vec![Sql::Integer(*d)]),
            (Op::After, Value::Date(d)) => ("{c} >= {1}", vec![Sql::Integer(*d + 86_400)]),
            // ?2 is now, bound once per query.
            (Op::InTheLast, Value::Days(n)) => ("{c} >= ?2 - {1}", vec![Sql::Integer(n * 86_400)]),
            (Op::NotInTheLast, Value::Days(n)) => ("({c} IS NULL OR {c} < ?2 - {1})", vec![Sql::Integer(n * 86_400)]),
            _ => return self.sql.push_str(NOTHING),
        };
        let placeholders: Vec<String> = params.into_iter().map(|p| self.bind(p)).collect();
        let mut out = template.replace("{c}", col);
        for (i, p) in placeholders.iter().enumerate() {
            out = out.replace(&format!("{{{}}}", i + 1), p);
        }
        self.sql.push_str(&out);
    }

    /// A song has genres (any number): `is`/`contains`/... hold when one of them does;
    /// `isNot`/`notContains` when none does.
    fn genre(&mut self, op: Op, value: &Value) {
        let Value::Text(s) = value else { return self.sql.push_str(NOTHING) };
        let (negate, cmp, v) = match op {
            Op::Is => (false, "= ", s.clone()),
            Op::IsNot => (true, "= ", s.clone()),
            Op::Contains => (false, "LIKE ", format!("%{}%", like_escape(s))),
            Op::NotContains => (true, "LIKE ", format!("%{}%", like_escape(s))),
            Op::StartsWith => (false, "LIKE ", format!("{}%", like_escape(s))),
            Op::EndsWith => (false, "LIKE ", format!("%{}", like_escape(s))),
            _ => return self.sql.push_str(NOTHING),
        };
        let p = self.bind(Sql::Text(v));
        self.sql.push_str(if negate { "NOT EXISTS" } else { "EXISTS" });
        self.sql.push_str(
            " (SELECT 1 FROM track_genres tg JOIN genres g ON g.id = tg.genre_id WHERE tg.track_id = t.id AND g.name ",
        );
        self.sql.push_str(cmp);
        self.sql.push_str(&p);
        self.sql.push_str(if cmp == "LIKE " { " ESCAPE '\\')" } else { ")" });
    }
}

/// `%`, `_` and `\` in a value are themselves, not LIKE wildcards.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The fixed table: each field's SQL expression (aliases from [`evaluate`]'s FROM).
fn column(f: Field) -> &'static str {
    match f {
        Field::Title => "t.title",
        Field::Album => "coalesce(al.name, '')",
        Field::Artist => "t.artist",
        Field::AlbumArtist => "t.album_artist",
        Field::Genre => "t.genre_list",
        Field::Comment => "coalesce(t.comment, '')",
        Field::FileType => "t.suffix",
        Field::FilePath => {
            "CAST(CASE WHEN length(fo.path) = 0 THEN t.file_name ELSE fo.path || X'2F' || t.file_name END AS TEXT)"
        }
        Field::Year => "t.year",
        Field::TrackNumber => "t.track",
        Field::DiscNumber => "t.disc",
        Field::Duration => "(t.duration_ms / 1000.0)",
        Field::BitRate => "t.bitrate",
        Field::Bpm => "t.bpm",
        Field::Rating => "coalesce(an.rating, 0)",
        Field::PlayCount => "coalesce(an.play_count, 0)",
        Field::Loved => "(an.starred_at IS NOT NULL)",
        Field::Compilation => "t.compilation",
        Field::LastPlayed => "an.played_at",
        Field::DateAdded => "t.created_at",
        Field::DateModified => "t.mtime",
        Field::DateLoved => "an.starred_at",
    }
}

fn sort_column(f: Field) -> &'static str {
    match f.kind() {
        crate::proto::smart::Kind::Text => match f {
            Field::Title => "t.title COLLATE NOCASE",
            Field::Album => "coalesce(al.name, '') COLLATE NOCASE",
            Field::Artist => "t.artist COLLATE NOCASE",
            Field::AlbumArtist => "t.album_artist COLLATE NOCASE",
            Field::Genre => "t.genre_list COLLATE NOCASE",
            Field::Comment => "coalesce(t.comment, '') COLLATE NOCASE",
            Field::FileType => "t.suffix",
            _ => column(f),
        },
        _ => column(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::smart::parse_nsp;

    /// The SQL text of a tree full of hostile text names none of it: only placeholders.
    #[test]
    fn rule_text_never_reaches_sql() {
        let nsp = parse_nsp(
            r#"{"any": [{"contains": {"title": "x' OR 1=1 --"}}, {"is": {"title; DROP TABLE tracks": "y"}},
                {"is": {"genre": "'); DROP TABLE tracks; --"}}, {"inPlaylist": {"id": "p' OR '1'='1"}},
                {"startsWith": {"album": "%_\\"}}]}"#,
        )
        .unwrap();
        let mut q = Query { sql: String::new(), params: vec![Sql::Null, Sql::Null] };
        q.rule(&nsp.rules.root);
        for bad in ["OR 1=1", "DROP", "'1'='1", "%_"] {
            assert!(!q.sql.contains(bad), "{bad} in {}", q.sql);
        }
        assert_eq!(q.params.len(), 2 + 4, "one parameter per understood value: {:?}", q.params);
        assert!(q.params.contains(&Sql::Text("%x' OR 1=1 --%".into())));
        assert!(q.params.contains(&Sql::Text("\\%\\_\\\\%".into())));
    }
}
