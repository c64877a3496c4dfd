//! User names: one normal form for every comparison (lookup, uniqueness, rate-limit keys,
//! "is this me"), so that two spellings of one account can never be two limiter keys or two
//! rows.
//!
//! The key of a name is Unicode's compatibility caseless form, NFKC(casefold(NFKC(name))),
//! with surrounding white space removed: `" admin"`, `"ADMIN\u{3000}"` and `"admin"` are
//! one key, and so are `"\u{212A}evin"` (Kelvin sign) and `"kevin"`. A name is stored as
//! typed (trimmed) for display; its key is stored beside it with a unique index.

use unicode_normalization::UnicodeNormalization;

/// Characters at most in a user name.
pub const MAX_CHARS: usize = 64;

/// Input longer than this (in characters) is cut before it is normalised: no real name is that
/// long (so a cut name can only ever find no user), and a 16 MiB "name" costs no more than a
/// short one.
const MAX_INPUT_CHARS: usize = 4 * MAX_CHARS;

/// The comparison key of any string offered as a user name (lenient: for lookups and rate
/// limits, where a malformed name simply finds nobody).
pub fn key(name: &str) -> String {
    let cut = match name.char_indices().nth(MAX_INPUT_CHARS) {
        Some((i, _)) => &name[..i],
        None => name,
    };
    if cut.is_ascii() {
        // NFKC leaves ASCII alone and case folding lowers A-Z only: the same key, cheaper.
        return cut.trim().to_ascii_lowercase();
    }
    let nfkc: String = cut.trim().nfkc().collect();
    let folded = caseless::default_case_fold_str(&nfkc);
    let key: String = folded.nfkc().collect();
    key.trim().to_string()
}

/// Characters that are invisible or reorder text: a name holding one could look like
/// another user's.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}')
}

/// A name offered for a new account (CLI, createUser, setup, ExtAuth): the name to store
/// (trimmed) and its key, or why it is refused.
pub fn for_new_user(name: &str) -> Result<(String, String), String> {
    let shown = name.trim();
    if shown.is_empty() || shown.chars().count() > MAX_CHARS {
        return Err(format!("a user name has 1 to {MAX_CHARS} characters"));
    }
    if shown.chars().any(invisible) {
        return Err("a user name may not contain control, invisible or direction-changing characters".into());
    }
    let k = key(shown);
    if k.is_empty() {
        return Err("a user name must contain a visible character".into());
    }
    Ok((shown.to_string(), k))
}

/// A name as it may appear in a log line: cut to a readable length, escapes visible.
pub fn for_log(name: &str) -> String {
    let mut out: String = name.chars().take(MAX_CHARS).collect();
    if name.chars().nth(MAX_CHARS).is_some() {
        out.push('…');
    }
    format!("{out:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_name_share_one_key() {
        let k = key("admin");
        for v in [" admin", "admin\u{3000}", "\tadmin", "ADMIN", "Admin ", "\u{FF41}dmin", "admin\n"] {
            assert_eq!(key(v), k, "{v:?}");
        }
        assert_eq!(key("\u{212A}evin"), key("kevin"), "Kelvin sign");
        assert_eq!(key("Straße"), key("STRASSE"), "full case folding");
        assert_ne!(key("admin2"), k);
        // The ASCII shortcut gives what the full form gives.
        for ascii in ["Admin", " MiXeD-Case_1 ", "a.b@c"] {
            let full: String =
                caseless::default_case_fold_str(&ascii.trim().nfkc().collect::<String>()).nfkc().collect();
            assert_eq!(key(ascii), full);
        }
    }

    #[test]
    fn new_names_are_trimmed_and_visible() {
        assert_eq!(for_new_user("  Alice ").unwrap(), ("Alice".to_string(), "alice".to_string()));
        for bad in ["", "   ", "a\u{0}b", "ad\u{200B}min", "x\u{202E}y", "a\u{7}", &"x".repeat(65)] {
            assert!(for_new_user(bad).is_err(), "{bad:?}");
        }
        assert!(for_new_user(&"é".repeat(64)).is_ok());
    }

    #[test]
    fn huge_input_is_cut_before_normalising() {
        let huge = "a".repeat(16 << 20);
        // Case folding can triple a character (ΐ), never more.
        assert!(key(&huge).chars().count() <= 3 * MAX_INPUT_CHARS);
        assert!(for_log(&huge).chars().count() < 80);
    }
}
