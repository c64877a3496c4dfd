//! Transcoding commands: split into argv with shell-like quoting (never run by a shell), the
//! program checked against the configured ffmpeg, and placeholders substituted per argument,
//! so that a path or parameter with spaces, quotes or `;` stays one argument (docs/security.md T7).
//! The broker checks a profile with this when it is saved; the transcoder again before it runs.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// Splits a command into words: whitespace separates; 'single quotes' keep everything;
/// "double quotes" keep everything but `\"` and `\\`; a backslash outside quotes escapes the
/// next character. Nothing is expanded ($, `, globs, ; and | are ordinary characters).
pub fn split(command: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("trailing backslash".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err("empty command".into());
    }
    Ok(words)
}

/// The program must be the configured ffmpeg: the bare name `ffmpeg` (meaning the configured
/// one, whatever PATH says), or its resolved path exactly.
pub fn check_program(words: &[String], ffmpeg: &Path) -> Result<(), String> {
    let program = words.first().map(String::as_str).unwrap_or("");
    if program == "ffmpeg" || Path::new(program) == ffmpeg {
        Ok(())
    } else {
        Err(format!("the command must run ffmpeg ({}), not {program:?}", ffmpeg.display()))
    }
}

/// Splits and checks a command as a profile is saved: the program, and a `%s` somewhere.
pub fn validate(command: &str, ffmpeg: &Path) -> Result<(), String> {
    let words = split(command)?;
    check_program(&words, ffmpeg)?;
    if !words.iter().skip(1).any(|w| w.contains("%s")) {
        return Err("the command has no %s (the input file)".into());
    }
    Ok(())
}

/// The arguments after the program, with `%s` (the file), `%b` (kbps) and `%t` (seconds)
/// replaced inside each word; a substituted value never splits or joins words.
pub fn arguments(words: &[String], file: &Path, bit_rate: u32, offset: u32) -> Vec<OsString> {
    let (b, t) = (bit_rate.to_string(), offset.to_string());
    words
        .iter()
        .skip(1)
        .map(|w| {
            let mut out: Vec<u8> = Vec::with_capacity(w.len());
            let bytes = w.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' && i + 1 < bytes.len() {
                    let value: Option<&[u8]> = match bytes[i + 1] {
                        b's' => Some(file.as_os_str().as_bytes()),
                        b'b' => Some(b.as_bytes()),
                        b't' => Some(t.as_bytes()),
                        _ => None,
                    };
                    if let Some(v) = value {
                        out.extend_from_slice(v);
                        i += 2;
                        continue;
                    }
                }
                out.push(bytes[i]);
                i += 1;
            }
            OsString::from_vec(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FFMPEG: &str = "/usr/bin/ffmpeg";

    #[test]
    fn navidrome_commands_split_as_expected() {
        let w = split("ffmpeg -ss %t -i %s -map 0:a:0 -b:a %bk -v 0 -f mp3 -").unwrap();
        assert_eq!(w.len(), 14);
        let args = arguments(&w, Path::new("/m/a b; rm -rf ~/x'y\".mp3"), 192, 30);
        assert_eq!(args[1], "30");
        assert_eq!(args[3], "/m/a b; rm -rf ~/x'y\".mp3");
        assert_eq!(args[7], "192k");
    }

    #[test]
    fn quoting() {
        assert_eq!(split(r#"ffmpeg 'a b' "c \"d\" \x" e\ f"#).unwrap(), ["ffmpeg", "a b", r#"c "d" \x"#, "e f"]);
        assert_eq!(split("ffmpeg ''").unwrap(), ["ffmpeg", ""]);
        assert!(split("ffmpeg 'open").is_err());
        assert!(split("ffmpeg \"open").is_err());
        assert!(split("   ").is_err());
        assert_eq!(split("ffmpeg a;b |c $(d) `e`").unwrap(), ["ffmpeg", "a;b", "|c", "$(d)", "`e`"]);
    }

    #[test]
    fn only_the_configured_ffmpeg_runs() {
        let ff = Path::new(FFMPEG);
        assert!(validate("ffmpeg -i %s -f mp3 -", ff).is_ok());
        assert!(validate("/usr/bin/ffmpeg -i %s -f mp3 -", ff).is_ok());
        for bad in [
            "/bin/sh -c 'ffmpeg -i %s'",
            "sh -c %s",
            "curl http://example.com/%s",
            "/usr/local/bin/ffmpeg -i %s",
            "./ffmpeg -i %s",
            "/usr/bin/../bin/ffmpeg -i %s",
            "'/usr/bin/ffmpeg ' -i %s",
            "ffmpeg; sh -i %s",
        ] {
            assert!(validate(bad, ff).is_err(), "{bad} was accepted");
        }
        assert!(validate("ffmpeg -f mp3 -", ff).is_err(), "no input");
    }

    proptest! {
        /// T7: whatever a file name or a parameter holds, it stays exactly one argument (a
        /// parameter without placeholders of its own: those are substituted by design).
        #[test]
        fn substituted_values_stay_one_argument(name in "[ -~]{0,40}", extra in "[ -~&&[^'%\\\\]]{0,20}") {
            let command = format!("ffmpeg -i %s -metadata 'comment={extra}' -b:a %bk -");
            let words = split(&command).unwrap();
            let file = format!("/music/{name}");
            let args = arguments(&words, Path::new(&file), 128, 0);
            prop_assert_eq!(args.len(), 7);
            prop_assert_eq!(&args[1], file.as_str());
            let comment = format!("comment={extra}");
            prop_assert_eq!(&args[3], comment.as_str());
            prop_assert_eq!(&args[5], "128k");
            prop_assert_eq!(&args[6], "-");
        }

        /// Any word, quoted by the rules above, splits back to itself.
        #[test]
        fn quoting_round_trips(words in proptest::collection::vec("[ -~]{0,12}", 1..6)) {
            let quoted: Vec<String> = words.iter().map(|w| format!("'{}'", w.replace('\'', "'\\''"))).collect();
            let line = format!("ffmpeg {}", quoted.join(" "));
            let split = split(&line).unwrap();
            prop_assert_eq!(&split[1..], &words[..]);
        }
    }
}
