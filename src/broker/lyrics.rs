//! getLyrics and getLyricsBySongId (OpenSubsonic songLyrics): the scanner stored a sidecar
//! `.lrc` (or `.txt`) and the embedded lyrics of each song; LRC timestamps make them synced.

use rusqlite::{Connection, OptionalExtension};

use crate::proto::error::{internal, not_found};
use crate::proto::media::{LyricLine, Lyrics, LyricsAnswer, LyricsCall};
use crate::proto::ApiError;

/// Lyrics of the songs `user` may see only (super::access): another song's are not found.
pub fn answer(conn: &Connection, user: &str, call: &LyricsCall) -> Result<LyricsAnswer, ApiError> {
    match call {
        LyricsCall::ByTitle { artist, title } => {
            let found = match title.as_deref().filter(|t| !t.is_empty()) {
                None => None,
                Some(title) => conn
                    .prepare_cached(&format!(
                        "SELECT artist, title, coalesce(sidecar_lyrics, lyrics) FROM tracks \
                         WHERE missing = 0 AND title = ?1 COLLATE NOCASE AND (?2 = '' OR artist = ?2 COLLATE NOCASE) \
                         AND coalesce(sidecar_lyrics, lyrics, '') != '' AND {} ORDER BY rowid LIMIT 1",
                        super::access::track("tracks", "?3")
                    ))
                    .map_err(internal)?
                    .query_row([title, artist.as_deref().unwrap_or(""), user], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                    })
                    .optional()
                    .map_err(internal)?,
            };
            Ok(match found {
                Some((artist, title, text)) => {
                    let lyrics = parse(&text, &artist, &title);
                    let text = lyrics.lines.iter().map(|l| l.value.as_str()).collect::<Vec<_>>().join("\n");
                    LyricsAnswer::Plain { artist, title, text }
                }
                None => LyricsAnswer::Plain { artist: String::new(), title: String::new(), text: String::new() },
            })
        }
        LyricsCall::BySongId { id } => {
            let row = conn
                .prepare_cached(&format!(
                    "SELECT artist, title, sidecar_lyrics, lyrics FROM tracks WHERE id = ?1 AND missing = 0 AND {}",
                    super::access::track("tracks", "?2")
                ))
                .map_err(internal)?
                .query_row([id, user], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                })
                .optional()
                .map_err(internal)?;
            let Some((artist, title, sidecar, embedded)) = row else {
                return Err(not_found("Song"));
            };
            // LyricsPriority's default: the sidecar file, then the embedded tag.
            let text = sidecar.filter(|s| !s.trim().is_empty()).or(embedded.filter(|s| !s.trim().is_empty()));
            Ok(LyricsAnswer::Structured(text.map(|t| parse(&t, &artist, &title)).into_iter().collect()))
        }
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
        if stamps.is_empty() {
            if meta && rest.trim().is_empty() {
                continue;
            }
            lines.push(LyricLine { start: None, value: rest.to_string() });
        } else {
            synced = true;
            for ms in stamps {
                lines.push(LyricLine { start: Some(ms), value: rest.trim().to_string() });
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
}
