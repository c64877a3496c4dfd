//! getLyrics and getLyricsBySongId (OpenSubsonic songLyrics, versions 1 and 2). The scanner
//! stored each song's sidecar lyrics files by suffix (`track_lyrics`) and its embedded lyrics
//! tag; LyricsPriority picks the first source that has any. Formats: LRC (with enhanced LRC's
//! `<mm:ss.xx>` word timings), TTML, SRT, and plain text. Every parser is a single pass over
//! at most 256 KiB, with bounded output, and takes any bytes without failing: what it cannot
//! read it leaves out.

use rusqlite::{Connection, OptionalExtension};

use crate::proto::error::{internal, not_found};
use crate::proto::media::{Cue, LyricLine, Lyrics, LyricsAnswer, LyricsCall};
use crate::proto::ApiError;

/// At most this many lines per lyrics, and cues per line: a hostile file stays small.
const MAX_LINES: usize = 10_000;
const MAX_CUES: usize = 500;

/// Lyrics of the songs `user` may see only (super::access): another song's are not found.
pub fn answer(conn: &Connection, user: &str, call: &LyricsCall, priority: &[String]) -> Result<LyricsAnswer, ApiError> {
    match call {
        LyricsCall::ByTitle { artist, title } => {
            let found = match title.as_deref().filter(|t| !t.is_empty()) {
                None => None,
                Some(title) => conn
                    .prepare_cached(&format!(
                        "SELECT id, artist, title FROM tracks t \
                         WHERE missing = 0 AND title = ?1 COLLATE NOCASE AND (?2 = '' OR artist = ?2 COLLATE NOCASE) \
                         AND (coalesce(lyrics, '') != '' OR EXISTS (SELECT 1 FROM track_lyrics l WHERE l.track_id = t.id)) \
                         AND {} ORDER BY rowid LIMIT 1",
                        super::access::track("t", "?3")
                    ))
                    .map_err(internal)?
                    .query_row([title, artist.as_deref().unwrap_or(""), user], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                    })
                    .optional()
                    .map_err(internal)?,
            };
            let found = match found {
                Some((id, artist, title)) => {
                    let main =
                        song_lyrics(conn, &id, &artist, &title, priority)?.into_iter().find(|l| l.kind == "main");
                    main.map(|l| (artist, title, l))
                }
                None => None,
            };
            Ok(match found {
                Some((artist, title, lyrics)) => {
                    let text = lyrics.lines.iter().map(|l| l.value.as_str()).collect::<Vec<_>>().join("\n");
                    LyricsAnswer::Plain { artist, title, text }
                }
                None => LyricsAnswer::Plain { artist: String::new(), title: String::new(), text: String::new() },
            })
        }
        LyricsCall::BySongId { id, enhanced } => {
            let row = conn
                .prepare_cached(&format!(
                    "SELECT artist, title FROM tracks WHERE id = ?1 AND missing = 0 AND {}",
                    super::access::track("tracks", "?2")
                ))
                .map_err(internal)?
                .query_row([id, user], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .optional()
                .map_err(internal)?;
            let Some((artist, title)) = row else {
                return Err(not_found("Song"));
            };
            let mut list = song_lyrics(conn, id, &artist, &title, priority)?;
            if !enhanced {
                // Version 1 clients: the main layer only, without word timings.
                list.retain(|l| l.kind == "main");
                for l in &mut list {
                    for line in &mut l.lines {
                        line.cues.clear();
                    }
                }
            }
            Ok(LyricsAnswer::Structured(list))
        }
    }
}

/// The lyrics of the first source in `priority` that has any.
fn song_lyrics(
    conn: &Connection,
    id: &str,
    artist: &str,
    title: &str,
    priority: &[String],
) -> Result<Vec<Lyrics>, ApiError> {
    for source in priority {
        let (format, text) = if source == "embedded" {
            let text: Option<String> = conn
                .prepare_cached("SELECT lyrics FROM tracks WHERE id = ?1")
                .map_err(internal)?
                .query_row([id], |r| r.get(0))
                .optional()
                .map_err(internal)?
                .flatten();
            ("lrc", text)
        } else {
            let suffix = source.trim_start_matches('.');
            let text: Option<String> = conn
                .prepare_cached("SELECT text FROM track_lyrics WHERE track_id = ?1 AND source = ?2")
                .map_err(internal)?
                .query_row([id, suffix], |r| r.get(0))
                .optional()
                .map_err(internal)?;
            (suffix, text)
        };
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else { continue };
        let list = parse_format(format, &text, artist, title);
        if list.iter().any(|l| !l.lines.is_empty()) {
            return Ok(list);
        }
    }
    Ok(Vec::new())
}

/// Parses one source by its format ("lrc" and "txt" share the LRC reader: text without
/// timestamps is plain).
pub fn parse_format(format: &str, text: &str, artist: &str, title: &str) -> Vec<Lyrics> {
    match format {
        "ttml" => parse_ttml(text, artist, title),
        "srt" => vec![parse_srt(text, artist, title)],
        _ => vec![parse(text, artist, title)],
    }
}

fn lyrics(artist: &str, title: &str) -> Lyrics {
    Lyrics {
        display_artist: artist.to_string(),
        display_title: title.to_string(),
        lang: "und".into(),
        synced: false,
        offset: None,
        lines: Vec::new(),
        kind: "main".into(),
    }
}
/// `[mm:ss.xx]` (or `[mm:ss]`, `[mm:ss:xx]`, `[hh:mm:ss.xx]`) in milliseconds.
fn timestamp(tag: &str) -> Option<i64> {
    let parts: Vec<&str> = tag.split(':').collect();
    let num = |s: &str| s.parse::<i64>().ok().filter(|n| *n >= 0);
    let secs_ms = |s: &str| -> Option<i64> {
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let frac_ms = match frac.len() {
            0 => 0,
            1 => num(frac)? * 100,
            2 => num(frac)? * 10,
            _ => num(&frac[..3])?,
        };
        Some(num(whole)? * 1000 + frac_ms)
    };
    match parts.as_slice() {
        [m, s] => Some(num(m)? * 60_000 + secs_ms(s)?),
        // mm:ss:xx (centiseconds after a colon), or hh:mm:ss.xx
        [a, b, c] if c.contains('.') => Some(num(a)? * 3_600_000 + num(b)? * 60_000 + secs_ms(c)?),
        [m, s, cs] => Some(num(m)? * 60_000 + num(s)? * 1000 + num(cs)? * 10),
        _ => None,
    }
}

/// Parses LRC (synced) or plain text. Metadata tags (`[ar:…]`, `[ti:…]`, `[la:…]`,
/// `[offset:…]`) are read, not shown; a line with several timestamps repeats.
pub fn parse(text: &str, artist: &str, title: &str) -> Lyrics {
    let mut lines = Vec::new();
    let mut offset = None;
    let mut lang = None;
    let (mut display_artist, mut display_title) = (artist.to_string(), title.to_string());
    let mut synced = false;
    for raw in text.lines() {
        let mut rest = raw.trim_end_matches('\r');
        let mut stamps = Vec::new();
        let mut meta = false;
        while let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else { break };
            let tag = &after[..end];
            if let Some(ms) = timestamp(tag) {
                stamps.push(ms);
            } else if let Some((k, v)) = tag.split_once(':') {
                let v = v.trim();
                match k.trim().to_ascii_lowercase().as_str() {
                    "offset" => offset = v.trim_start_matches('+').parse::<i64>().ok(),
                    "la" | "lang" if !v.is_empty() => lang = Some(v.to_string()),
                    "ar" if !v.is_empty() && display_artist.is_empty() => display_artist = v.to_string(),
                    "ti" if !v.is_empty() && display_title.is_empty() => display_title = v.to_string(),
                    _ => {}
                }
                meta = true;
            } else {
                break;
            }
            rest = &after[end + 1..];
        }
        if lines.len() >= MAX_LINES {
            break;
        }
        if stamps.is_empty() {
            if meta && rest.trim().is_empty() {
                continue;
            }
            lines.push(LyricLine { start: None, value: rest.to_string(), cues: Vec::new(), end: None });
        } else {
            synced = true;
            let (value, cues) = word_timings(rest);
            for ms in stamps.into_iter().take(MAX_LINES - lines.len()) {
                lines.push(LyricLine { start: Some(ms), value: value.clone(), cues: cues.clone(), end: None });
            }
        }
    }
    if synced {
        // Untimed lines in a synced file (blank separators) are dropped; order by time.
        lines.retain(|l| l.start.is_some());
        lines.sort_by_key(|l| l.start);
    } else {
        while lines.last().is_some_and(|l| l.value.trim().is_empty()) {
            lines.pop();
        }
    }
    Lyrics {
        display_artist,
        display_title,
        lang: lang.unwrap_or_else(|| "und".into()),
        synced,
        offset: offset.filter(|o| *o != 0),
        lines,
        kind: "main".into(),
    }
}

/// Enhanced LRC: a line's text with its `<mm:ss.xx>` word stamps taken out, and a cue per
/// stamped word. A stamp after the last word is the end of it; then every cue has an end (the
/// next cue's start), otherwise none has.
fn word_timings(raw: &str) -> (String, Vec<Cue>) {
    let mut value = String::new();
    // (start, byte offset in value) of each stamp.
    let mut marks: Vec<(i64, usize)> = Vec::new();
    let mut rest = raw;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|c| open + c) else { break };
        match timestamp(&rest[open + 1..close]) {
            Some(ms) if marks.len() < MAX_CUES => {
                value.push_str(&rest[..open]);
                marks.push((ms, value.len()));
            }
            _ => value.push_str(&rest[..=close]),
        }
        rest = &rest[close + 1..];
    }
    value.push_str(rest);
    // Trim the line as plain LRC lines are, moving the marks with it.
    let lead = value.len() - value.trim_start().len();
    let value = value.trim().to_string();
    let marks: Vec<(i64, usize)> =
        marks.into_iter().map(|(ms, at)| (ms, at.saturating_sub(lead).min(value.len()))).collect();
    let mut cues = Vec::new();
    for (i, &(start, at)) in marks.iter().enumerate() {
        let until = marks.get(i + 1).map(|m| m.1).unwrap_or(value.len());
        let Some((b, word)) = trimmed_span(&value, at, until) else { continue };
        cues.push(Cue {
            start,
            end: marks.get(i + 1).map(|m| m.0),
            byte_start: b,
            byte_end: b + word.len() - 1,
            value: word.to_string(),
        });
    }
    // Ends only when the last word's end is known: a stamp with no word after it.
    let last_is_end = marks.last().is_some_and(|m| value[m.1..].trim().is_empty());
    if !last_is_end {
        for c in &mut cues {
            c.end = None;
        }
    }
    (value, cues)
}

/// The non-blank part of `s[from..to]` and where it starts; None when blank.
fn trimmed_span(s: &str, from: usize, to: usize) -> Option<(usize, &str)> {
    let part = s.get(from..to)?;
    let word = part.trim();
    if word.is_empty() {
        return None;
    }
    Some((from + (part.len() - part.trim_start().len()), word))
}

/// SRT: numbered blocks, a `00:00:01,000 --> 00:00:02,500` line, then the text (its lines
/// joined by a space, tags like `<i>` taken out).
pub fn parse_srt(text: &str, artist: &str, title: &str) -> Lyrics {
    let mut out = lyrics(artist, title);
    let mut current: Option<LyricLine> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if let Some((a, b)) = line.split_once("-->") {
            let clock = |s: &str| clock_time(s.trim().replace(',', ".").as_str());
            if let Some(start) = clock(a) {
                if let Some(l) = current.take().filter(|l| !l.value.is_empty()) {
                    out.lines.push(l);
                }
                current = Some(LyricLine { start: Some(start), value: String::new(), cues: Vec::new(), end: clock(b) });
                continue;
            }
        }
        match current.as_mut() {
            Some(l) if !line.is_empty() => {
                let text = strip_tags(line);
                if !l.value.is_empty() {
                    l.value.push(' ');
                }
                l.value.push_str(text.trim());
            }
            // A blank line ends the block; a cue number before the next timing is skipped.
            Some(_) => {
                if let Some(l) = current.take().filter(|l| !l.value.is_empty()) {
                    out.lines.push(l);
                }
            }
            None => {}
        }
        if out.lines.len() >= MAX_LINES {
            break;
        }
    }
    if let Some(l) = current.filter(|l| !l.value.is_empty()) {
        out.lines.push(l);
    }
    out.lines.truncate(MAX_LINES);
    out.synced = !out.lines.is_empty();
    out.lines.sort_by_key(|l| l.start);
    out
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut depth = false;
    for c in s.chars() {
        match c {
            '<' => depth = true,
            '>' if depth => depth = false,
            _ if !depth => out.push(c),
            _ => {}
        }
    }
    out
}

/// `hh:mm:ss.fff`, `mm:ss.fff` or `ss.fff` (SRT and TTML clock times) in milliseconds.
fn clock_time(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty() || p.len() > 9) {
        return None;
    }
    let (whole, frac) = parts.last()?.split_once('.').unwrap_or((parts.last()?, ""));
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut ms: i64 = whole.parse::<i64>().ok()? * 1000;
    if !frac.is_empty() {
        let f = &frac[..frac.len().min(3)];
        ms += f.parse::<i64>().ok()? * 10i64.pow(3 - f.len() as u32);
    }
    for (i, p) in parts[..parts.len() - 1].iter().rev().enumerate() {
        if !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        ms += p.parse::<i64>().ok()? * if i == 0 { 60_000 } else { 3_600_000 };
    }
    Some(ms)
}

/// A TTML time expression: a clock time, or an offset like `1.5s`, `1500ms`, `2m`, `1h`.
fn ttml_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let offset = |num: &str, unit: f64| -> Option<i64> {
        let v: f64 = num.parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0 && *v < 1e9)?;
        Some((v * unit).round() as i64)
    };
    if let Some(n) = s.strip_suffix("ms") {
        offset(n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        offset(n, 1000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        offset(n, 60_000.0)
    } else if let Some(n) = s.strip_suffix('h') {
        offset(n, 3_600_000.0)
    } else {
        clock_time(s)
    }
}

/// One XML start or end tag, or text, as the TTML reader sees it.
enum Piece<'a> {
    Open { name: &'a str, attrs: &'a str, empty: bool },
    Close(&'a str),
    Text(&'a str),
}

/// A forgiving XML tokenizer: comments, processing instructions and declarations are
/// skipped; an unclosed `<` ends the input.
fn pieces(xml: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = xml;
    while !rest.is_empty() && out.len() < 4 * MAX_LINES * 8 {
        let Some(open) = rest.find('<') else {
            out.push(Piece::Text(rest));
            break;
        };
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        rest = &rest[open..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map(|e| &after[e + 3..]).unwrap_or("");
            continue;
        }
        let Some(close) = rest.find('>') else { break };
        let tag = &rest[1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            out.push(Piece::Close(local(name.trim())));
            continue;
        }
        let empty = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, attrs) = tag.split_once(|c: char| c.is_ascii_whitespace()).unwrap_or((tag, ""));
        out.push(Piece::Open { name: local(name), attrs, empty });
    }
    out
}

/// `tt:p` → `p`.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// An attribute's value by local name (`begin`, `xml:lang` as `lang`), entities decoded.
fn attr(attrs: &str, want: &str) -> Option<String> {
    let mut rest = attrs;
    while let Some(eq) = rest.find('=') {
        let name = local(rest[..eq].trim());
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next()?;
        if quote != '"' && quote != '\'' {
            return None;
        }
        let end = after[1..].find(quote)? + 1;
        if name == want {
            return Some(unescape(&after[1..end]));
        }
        rest = &after[end + 1..];
    }
    None
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// TTML (as Apple Music and lyrics tools write it): each `<p begin end>` is a line; timed
/// `<span>`s in it are its words. Each `<div>` in another language than the first is a
/// translation. Untimed `<p>`s make unsynced lyrics.
pub fn parse_ttml(text: &str, artist: &str, title: &str) -> Vec<Lyrics> {
    let mut out: Vec<Lyrics> = Vec::new();
    let mut doc_lang: Option<String> = None;
    let mut div_lang: Option<String> = None;
    // The line being read, and the open span's (start, end, where its text starts).
    let mut line: Option<LyricLine> = None;
    let mut span: Option<(i64, Option<i64>, usize)> = None;
    for piece in pieces(text) {
        match piece {
            Piece::Open { name, attrs, empty } => match name {
                "tt" => doc_lang = attr(attrs, "lang"),
                "div" if !empty => div_lang = attr(attrs, "lang"),
                "p" if !empty => {
                    line = Some(LyricLine {
                        start: attr(attrs, "begin").and_then(|b| ttml_time(&b)),
                        value: String::new(),
                        cues: Vec::new(),
                        end: attr(attrs, "end").and_then(|e| ttml_time(&e)),
                    });
                }
                "br" => {
                    if let Some(l) = line.as_mut() {
                        l.value.push(' ');
                    }
                }
                "span" if !empty && line.is_some() => {
                    let begin = attr(attrs, "begin").and_then(|b| ttml_time(&b));
                    let at = line.as_ref().map(|l| l.value.len()).unwrap_or(0);
                    span = begin.map(|b| (b, attr(attrs, "end").and_then(|e| ttml_time(&e)), at));
                }
                _ => {}
            },
            Piece::Text(t) => {
                if let Some(l) = line.as_mut() {
                    let t = unescape(t);
                    // Whitespace between spans is one space.
                    if t.trim().is_empty() {
                        if !l.value.is_empty() && !t.is_empty() && !l.value.ends_with(' ') {
                            l.value.push(' ');
                        }
                    } else {
                        l.value.push_str(&t.split_whitespace().collect::<Vec<_>>().join(" "));
                        if t.ends_with(char::is_whitespace) {
                            l.value.push(' ');
                        }
                    }
                }
            }
            Piece::Close(name) => match name {
                "span" if line.is_some() => {
                    if let (Some(l), Some((start, end, at))) = (line.as_mut(), span.take()) {
                        if let Some((b, word)) = trimmed_span(&l.value, at, l.value.len()) {
                            if l.cues.len() < MAX_CUES {
                                let cue = Cue {
                                    start,
                                    end,
                                    byte_start: b,
                                    byte_end: b + word.len() - 1,
                                    value: word.to_string(),
                                };
                                l.cues.push(cue);
                            }
                        }
                    }
                }
                "p" => {
                    if let Some(mut l) = line.take() {
                        let trimmed = l.value.trim_end().len();
                        l.value.truncate(trimmed);
                        let lead = l.value.len() - l.value.trim_start().len();
                        if lead > 0 {
                            l.value.drain(..lead);
                            for c in &mut l.cues {
                                c.byte_start -= lead;
                                c.byte_end -= lead;
                            }
                        }
                        fill_ends(&mut l);
                        let lang = div_lang.clone().or(doc_lang.clone()).unwrap_or_else(|| "und".into());
                        let kind = if out.first().is_some_and(|f| f.lang != lang) { "translation" } else { "main" };
                        let slot = match out.iter().position(|x| x.lang == lang) {
                            Some(i) => i,
                            // A few languages at most.
                            None if out.len() >= 8 => continue,
                            None => {
                                let mut fresh = lyrics(artist, title);
                                fresh.lang = lang;
                                fresh.kind = kind.into();
                                out.push(fresh);
                                out.len() - 1
                            }
                        };
                        let target = &mut out[slot];
                        if !l.value.is_empty() && target.lines.len() < MAX_LINES {
                            target.lines.push(l);
                        }
                    }
                }
                "div" => div_lang = None,
                _ => {}
            },
        }
    }
    out.retain(|l| !l.lines.is_empty());
    for l in &mut out {
        l.synced = l.lines.iter().all(|x| x.start.is_some());
        if l.synced {
            l.lines.sort_by_key(|x| x.start);
        } else {
            for x in &mut l.lines {
                x.start = None;
            }
        }
    }
    out
}

/// The spec's rule for cue ends: all or none. Missing ones are the next cue's start, or the
/// line's end for the last.
fn fill_ends(l: &mut LyricLine) {
    if l.cues.iter().all(|c| c.end.is_none()) {
        return;
    }
    let n = l.cues.len();
    for i in 0..n {
        if l.cues[i].end.is_none() {
            let next = if i + 1 < n { Some(l.cues[i + 1].start) } else { l.end };
            l.cues[i].end = Some(next.unwrap_or(l.cues[i].start));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lrc_is_synced_and_ordered() {
        let l = parse("[ar:Someone]\n[offset:+250]\n[00:12.50][01:00.00]Chorus\n[00:01.2]First\n\n[la:eng]", "", "T");
        assert!(l.synced);
        assert_eq!(l.display_artist, "Someone");
        assert_eq!(l.display_title, "T");
        assert_eq!(l.offset, Some(250));
        assert_eq!(l.lang, "eng");
        let got: Vec<(Option<i64>, &str)> = l.lines.iter().map(|x| (x.start, x.value.as_str())).collect();
        assert_eq!(got, [(Some(1200), "First"), (Some(12500), "Chorus"), (Some(60000), "Chorus")]);
    }

    #[test]
    fn plain_text_keeps_lines() {
        let l = parse("one\r\n\ntwo [not a tag]\n\n", "A", "T");
        assert!(!l.synced);
        assert_eq!(l.lang, "und");
        let got: Vec<&str> = l.lines.iter().map(|x| x.value.as_str()).collect();
        assert_eq!(got, ["one", "", "two [not a tag]"]);
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp("01:02.5"), Some(62_500));
        assert_eq!(timestamp("01:02.345"), Some(62_345));
        assert_eq!(timestamp("01:02"), Some(62_000));
        assert_eq!(timestamp("01:02:03"), Some(62_030));
        assert_eq!(timestamp("1:01:02.00"), Some(3_662_000));
        assert_eq!(timestamp("ar:x"), None);
        assert_eq!(timestamp("-1:00"), None);
    }

    #[test]
    fn enhanced_lrc_word_timings_are_exact() {
        let l = parse("[00:01.00]<00:01.00>Hello <00:01.50>wörld<00:02.25>\n[00:03.00] <00:03.10>no end", "", "");
        assert_eq!(l.lines[0].value, "Hello wörld");
        let cues: Vec<(i64, Option<i64>, usize, usize, &str)> =
            l.lines[0].cues.iter().map(|c| (c.start, c.end, c.byte_start, c.byte_end, c.value.as_str())).collect();
        assert_eq!(cues, [(1000, Some(1500), 0, 4, "Hello"), (1500, Some(2250), 6, 11, "wörld")]);
        assert_eq!(&l.lines[0].value[6..=11], "wörld");
        // No closing stamp: no cue has an end.
        assert_eq!(l.lines[1].value, "no end");
        let c = &l.lines[1].cues[0];
        assert_eq!((c.start, c.end, c.byte_start, c.byte_end), (3100, None, 0, 5));
        // A plain LRC line has no cues.
        assert!(parse("[00:01.00]plain", "", "").lines[0].cues.is_empty());
    }

    #[test]
    fn srt_blocks_are_synced_lines() {
        let l = parse_srt("1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>First</i>\r\nline\r\n\r\n2\n01:02:03,040 --> 01:02:04,000\nSecond\n", "A", "T");
        assert!(l.synced);
        let got: Vec<(Option<i64>, Option<i64>, &str)> =
            l.lines.iter().map(|x| (x.start, x.end, x.value.as_str())).collect();
        assert_eq!(got, [(Some(1000), Some(2500), "First line"), (Some(3_723_040), Some(3_724_000), "Second")]);
    }

    #[test]
    fn ttml_lines_words_and_translations() {
        let ttml = r#"<?xml version="1.0"?><tt xmlns="http://www.w3.org/ns/ttml" xml:lang="ja"><body>
            <div><p begin="00:00:01.000" end="00:00:03.000"><span begin="1s" end="1.5s">Hi</span> <span begin="00:00:01.500" end="2500ms">th&amp;ere</span></p>
            <p begin="4.2s" end="5s">Plain &lt;line&gt;</p></div>
            <div xml:lang="en"><p begin="1s" end="3s">Translated</p></div></body></tt>"#;
        let list = parse_ttml(ttml, "A", "T");
        assert_eq!(list.len(), 2);
        let main = &list[0];
        assert_eq!((main.kind.as_str(), main.lang.as_str(), main.synced), ("main", "ja", true));
        assert_eq!(main.lines[0].value, "Hi th&ere");
        assert_eq!((main.lines[0].start, main.lines[0].end), (Some(1000), Some(3000)));
        let cues: Vec<(i64, Option<i64>, usize, usize, &str)> =
            main.lines[0].cues.iter().map(|c| (c.start, c.end, c.byte_start, c.byte_end, c.value.as_str())).collect();
        assert_eq!(cues, [(1000, Some(1500), 0, 1, "Hi"), (1500, Some(2500), 3, 8, "th&ere")]);
        assert_eq!((main.lines[1].start, main.lines[1].value.as_str()), (Some(4200), "Plain <line>"));
        assert_eq!((list[1].kind.as_str(), list[1].lang.as_str()), ("translation", "en"));
        assert_eq!(list[1].lines[0].value, "Translated");
        // Untimed paragraphs: unsynced.
        let plain = parse_ttml("<tt><body><div><p>One</p><p>Two<br/>lines</p></div></body></tt>", "", "");
        assert!(!plain[0].synced);
        assert_eq!(plain[0].lines.iter().map(|l| l.value.as_str()).collect::<Vec<_>>(), ["One", "Two lines"]);
    }

    #[test]
    fn cue_ends_are_all_or_none() {
        let ttml = r#"<tt><body><div><p begin="1s" end="4s"><span begin="1s" end="2s">a</span> <span begin="2s">b</span> <span begin="3s">c</span></p></div></body></tt>"#;
        let l = &parse_ttml(ttml, "", "")[0].lines[0];
        let ends: Vec<Option<i64>> = l.cues.iter().map(|c| c.end).collect();
        assert_eq!(ends, [Some(2000), Some(3000), Some(4000)]);
    }

    #[test]
    fn garbage_never_panics_and_stays_bounded() {
        // A deterministic generator (xorshift) over bytes that matter to the parsers.
        let alphabet = b"[]<>:.,-0123456789 \n\r/&;#x=\"'tpspanbegindivxml:langttMS\xc3\xa9";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..400 {
            let len = (round * 37) % 3000;
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                bytes.push(if x.is_multiple_of(7) {
                    (x >> 8) as u8
                } else {
                    alphabet[(x >> 16) as usize % alphabet.len()]
                });
            }
            let text = String::from_utf8_lossy(&bytes);
            for format in ["lrc", "txt", "ttml", "srt"] {
                for l in parse_format(format, &text, "a", "t") {
                    assert!(l.lines.len() <= MAX_LINES);
                    for line in &l.lines {
                        assert!(line.cues.len() <= MAX_CUES);
                        for c in &line.cues {
                            // Every cue's bytes are its value, in the line.
                            assert_eq!(
                                line.value.get(c.byte_start..=c.byte_end),
                                Some(c.value.as_str()),
                                "{format}: {text:?}"
                            );
                        }
                    }
                }
            }
        }
        // Pathological shapes.
        let many = "[00:01.00]".repeat(50_000);
        assert!(parse(&many, "", "").lines.len() <= MAX_LINES);
        let words = format!("[00:01.00]{}", "<00:01.00>w ".repeat(5_000));
        assert!(parse(&words, "", "").lines[0].cues.len() <= MAX_CUES);
        assert!(parse_ttml(&"<p begin=\"1s\">".repeat(10_000), "", "").len() <= 8);
        assert!(parse_ttml("<tt xml:lang=\"", "", "").is_empty());
        assert!(parse_srt("--> --> -->\n1\n", "", "").lines.is_empty());
    }
}
