//! The scan schedule: parses Navidrome's `Scanner.Schedule` option and computes when the next
//! scan is due. It runs in the broker (a task started by `broker::run` asks for a scan when
//! one is due), not in the scanner, which only does the scans it is handed; `config.rs` checks
//! the option with the same parser at start.
//!
//! Accepted values (compatible with what Navidrome hands to `robfig/cron`):
//!
//! - `""` or `"0"`: no periodic scan.
//! - `@every <duration>` with a Go-style duration (`1h`, `30m`, `1h30m`, `90s`, `1.5h`); a bare
//!   duration such as `1h` means the same, as in Navidrome. The interval must be at least one
//!   minute.
//! - `@hourly`, `@daily` (= `@midnight`), `@weekly`, `@monthly`, `@yearly` (= `@annually`).
//! - A standard five-field cron expression `minute hour day-of-month month day-of-week`, with `*`,
//!   numbers, lists (`1,5,9`), ranges (`1-5`), steps (`*/15`, `10-50/10`, and `N/step` meaning
//!   `N-max/step`), month names `JAN`-`DEC` and weekday names `SUN`-`SAT` (case-insensitive).
//!   Day-of-week takes 0-7, where both 0 and 7 are Sunday; `?` may stand for `*` in the two day
//!   fields. A leading seconds field (six fields) is rejected.
//!
//! As in cron, when both day-of-month and day-of-week are restricted (neither is written as `*`),
//! a day matches if EITHER field matches; otherwise both must match.
//!
//! **Cron fields are evaluated in UTC.** The broker runs sandboxed and cannot read
//! `/etc/localtime`, so there is no local time zone to evaluate them in; `0 3 * * *` fires at
//! 03:00 UTC. `TZ=`/`CRON_TZ=` prefixes are rejected rather than silently ignored.
//!
//! The calendar arithmetic (days since the epoch to and from proleptic Gregorian dates) is done
//! here with plain integer arithmetic; no time-zone database or external crate is involved.

use crate::dates::{civil_from_days, days_from_civil, weekday};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// When the scanner runs on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// A fixed interval, counted from the previous run (or from start-up).
    Every(Duration),
    /// A cron expression, evaluated in UTC.
    Cron(Cron),
}

/// A parsed five-field cron expression. Each field is a bit set of the values it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    /// Bits 0-59.
    minutes: u64,
    /// Bits 0-23.
    hours: u64,
    /// Bits 1-31.
    days_of_month: u64,
    /// Bits 1-12.
    months: u64,
    /// Bits 0-6, Sunday = 0.
    days_of_week: u64,
    /// Day-of-month was written as `*` (or `?`): only day-of-week restricts the day.
    dom_star: bool,
    /// Day-of-week was written as `*` (or `?`): only day-of-month restricts the day.
    dow_star: bool,
    /// The expression as written (descriptor, or the five fields joined by single spaces).
    text: String,
}

/// Shortest accepted `@every` interval.
const MIN_INTERVAL: Duration = Duration::from_secs(60);

/// How far ahead `next_after` searches before deciding a cron expression never fires. Nine
/// years covers the longest gap between two February 29ths (eight years, around 2100).
const SEARCH_YEARS: i64 = 9;

const MINUTES_PER_DAY: i64 = 24 * 60;

impl Schedule {
    /// Parses the value of `Scanner.Schedule`. `Ok(None)` means "no schedule".
    pub fn parse(s: &str) -> Result<Option<Schedule>, String> {
        let s = s.trim();
        if s.is_empty() || s == "0" {
            return Ok(None);
        }
        if let Some(rest) = s.strip_prefix('@') {
            let (word, arg) = match rest.split_once(char::is_whitespace) {
                Some((w, a)) => (w, a.trim()),
                None => (rest, ""),
            };
            let word = word.to_ascii_lowercase();
            if word == "every" {
                return every(arg, s).map(Some);
            }
            let fields = match word.as_str() {
                "hourly" => "0 * * * *",
                "daily" | "midnight" => "0 0 * * *",
                "weekly" => "0 0 * * 0",
                "monthly" => "0 0 1 * *",
                "yearly" | "annually" => "0 0 1 1 *",
                _ => return Err(format!("unknown schedule descriptor \"{s}\"")),
            };
            if !arg.is_empty() {
                return Err(format!("schedule descriptor \"@{word}\" takes no argument, got \"{arg}\""));
            }
            let mut cron = Cron::parse_fields(fields).map_err(|e| format!("internal error in @{word}: {e}"))?;
            cron.text = format!("@{word}");
            return Ok(Some(Schedule::Cron(cron)));
        }
        // Navidrome turns a bare Go duration into "@every <duration>".
        if let Ok(d) = parse_go_duration(s) {
            return every_duration(d, s).map(Some);
        }
        if s.starts_with("TZ=") || s.starts_with("CRON_TZ=") {
            return Err(format!(
                "schedule \"{s}\": time zone prefixes are not supported; cron fields are evaluated in UTC"
            ));
        }
        Cron::parse_fields(s).map(|c| Some(Schedule::Cron(c)))
    }

    /// The next time strictly after `after` at which the schedule fires, or `None` if it never
    /// fires again (an impossible cron expression such as `0 0 31 2 *`, or a time beyond what
    /// `SystemTime` can represent).
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        match self {
            Schedule::Every(d) => after.checked_add(*d),
            Schedule::Cron(c) => c.next_after(after),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(d) => write!(f, "every {}", GoDuration(*d)),
            Schedule::Cron(c) => write!(f, "cron {} (UTC)", c.text),
        }
    }
}

fn every(arg: &str, whole: &str) -> Result<Schedule, String> {
    if arg.is_empty() {
        return Err(format!("\"{whole}\": missing duration (e.g. \"@every 1h\")"));
    }
    let d = parse_go_duration(arg).map_err(|e| format!("@every \"{arg}\": {e}"))?;
    every_duration(d, arg)
}

fn every_duration(d: Duration, text: &str) -> Result<Schedule, String> {
    if d < MIN_INTERVAL {
        return Err(format!(
            "@every \"{text}\": interval must be at least {}; write \"@every 1m\" or longer (changes to the music \
             are already picked up within seconds by the watcher, Scanner.WatcherWait)",
            GoDuration(MIN_INTERVAL)
        ));
    }
    Ok(Schedule::Every(d))
}

/// Parses a Go `time.ParseDuration` string. Negative durations are rejected (they make no sense
/// as an interval); the result must fit Go's limit of `i64::MAX` nanoseconds.
fn parse_go_duration(s: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u128); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("\u{b5}s", 1_000),  // µ (micro sign)
        ("\u{3bc}s", 1_000), // μ (Greek mu)
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let invalid = || "invalid duration (expected e.g. 90s, 30m, 1h30m)".to_string();
    let mut rest = s;
    if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    } else if rest.starts_with('-') {
        return Err("duration must not be negative".to_string());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, r) = rest.split_at(int_len);
        let (frac_part, r) = match r.strip_prefix('.') {
            Some(r) => {
                let n = r.bytes().take_while(u8::is_ascii_digit).count();
                r.split_at(n)
            }
            None => ("", r),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = r.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(r.len());
        let (unit, r) = r.split_at(unit_len);
        let scale = UNITS.iter().find(|(u, _)| *u == unit).map(|(_, n)| *n).ok_or_else(|| {
            if unit.is_empty() {
                "missing unit in duration (ns, us, ms, s, m, h)".to_string()
            } else {
                format!("unknown unit \"{unit}\" in duration")
            }
        })?;
        let too_large = || "duration too large".to_string();
        let mut value: u128 = 0;
        for b in int_part.bytes() {
            value = value.checked_mul(10).and_then(|v| v.checked_add(u128::from(b - b'0'))).ok_or_else(too_large)?;
            if value > i64::MAX as u128 {
                return Err(too_large());
            }
        }
        let mut nanos = value.checked_mul(scale).ok_or_else(too_large)?;
        // Fraction: digits beyond nanosecond precision of the largest unit cannot matter.
        let mut frac_value: u128 = 0;
        let mut frac_scale: u128 = 1;
        for b in frac_part.bytes().take(18) {
            frac_value = frac_value * 10 + u128::from(b - b'0');
            frac_scale *= 10;
        }
        nanos += frac_value * scale / frac_scale;
        total = total.checked_add(nanos).ok_or_else(too_large)?;
        if total > i64::MAX as u128 {
            return Err(too_large());
        }
        rest = r;
    }
    let secs = (total / 1_000_000_000) as u64;
    let sub = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, sub))
}

/// Formats a duration the way Go's `time.Duration.String` does: `1h0m0s`, `1m30s`, `1.5s`, `500ms`.
struct GoDuration(Duration);

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn frac(f: &mut fmt::Formatter<'_>, value: u128, digits: u32) -> fmt::Result {
            let s = format!("{:0width$}", value, width = digits as usize);
            let s = s.trim_end_matches('0');
            if s.is_empty() {
                Ok(())
            } else {
                write!(f, ".{s}")
            }
        }
        let total = self.0.as_nanos();
        if total == 0 {
            return f.write_str("0s");
        }
        if total < 1_000_000_000 {
            let (div, digits, unit) = match total {
                0..=999 => (1, 0, "ns"),
                1_000..=999_999 => (1_000, 3, "\u{b5}s"),
                _ => (1_000_000, 6, "ms"),
            };
            write!(f, "{}", total / div)?;
            frac(f, total % div, digits)?;
            return f.write_str(unit);
        }
        let secs = total / 1_000_000_000;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h{m}m")?;
        } else if m > 0 {
            write!(f, "{m}m")?;
        }
        write!(f, "{s}")?;
        frac(f, total % 1_000_000_000, 9)?;
        f.write_str("s")
    }
}

/// How one cron field is read.
struct FieldSpec {
    name: &'static str,
    /// Smallest and largest value that may be written.
    min: u32,
    max: u32,
    /// Largest value that `*` and `N/step` extend to (day-of-week: 6, though 7 may be written).
    span_max: u32,
    /// Names for `min`, `min + 1`, ... (three-letter, matched case-insensitively).
    names: &'static [&'static str],
    /// `?` is accepted as `*`.
    question: bool,
}

const FIELDS: [FieldSpec; 5] = [
    FieldSpec { name: "minute", min: 0, max: 59, span_max: 59, names: &[], question: false },
    FieldSpec { name: "hour", min: 0, max: 23, span_max: 23, names: &[], question: false },
    FieldSpec { name: "day-of-month", min: 1, max: 31, span_max: 31, names: &[], question: true },
    FieldSpec {
        name: "month",
        min: 1,
        max: 12,
        span_max: 12,
        names: &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
        question: false,
    },
    FieldSpec {
        name: "day-of-week",
        min: 0,
        max: 7,
        span_max: 6,
        names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
        question: true,
    },
];

impl FieldSpec {
    /// Returns the bit set and whether the field counts as unrestricted (`*`).
    fn parse(&self, text: &str) -> Result<(u64, bool), String> {
        let mut bits = 0u64;
        let mut star = false;
        for item in text.split(',') {
            if item.is_empty() {
                return Err(format!("{} field \"{text}\": empty list element", self.name));
            }
            let (b, s) = self.parse_item(item).map_err(|e| format!("{} field \"{item}\": {e}", self.name))?;
            bits |= b;
            star |= s;
        }
        if self.max == 7 && bits & (1 << 7) != 0 {
            // Day-of-week 7 is Sunday, like 0.
            bits = (bits & !(1 << 7)) | 1;
        }
        Ok((bits, star))
    }

    fn parse_item(&self, item: &str) -> Result<(u64, bool), String> {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let step = match step {
            None => 1,
            Some(s) => match s.parse::<u32>() {
                Ok(0) => return Err("step must be at least 1".to_string()),
                Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(format!("step \"{s}\" is not a positive number")),
            },
        };
        let is_star = range == "*" || (self.question && range == "?");
        let (lo, hi) = if is_star {
            (self.min, self.span_max)
        } else if let Some((a, b)) = range.split_once('-') {
            let lo = self.value(a, item)?;
            let hi = self.value(b, item)?;
            if lo > hi {
                return Err(format!("range start {lo} is after range end {hi}"));
            }
            (lo, hi)
        } else {
            let v = self.value(range, item)?;
            if item.contains('/') {
                // `N/step` means `N-max/step`.
                (v, self.span_max.max(v))
            } else {
                (v, v)
            }
        };
        let mut bits = 0u64;
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v = match v.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
        // `*/1` is still "every value"; `*/2` restricts the field.
        Ok((bits, is_star && step == 1))
    }

    /// One number or name. `item` is the whole list element, to phrase the error.
    fn value(&self, token: &str, item: &str) -> Result<u32, String> {
        let v = if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            token.parse::<u32>().unwrap_or(u32::MAX)
        } else if let Some(i) = self.names.iter().position(|n| n.eq_ignore_ascii_case(token)) {
            self.min + i as u32
        } else if token.is_empty() {
            return Err("missing value".to_string());
        } else if self.names.is_empty() {
            return Err(format!("\"{token}\" is not a number"));
        } else {
            return Err(format!(
                "\"{token}\" is not a number or name ({}-{})",
                self.names[0],
                self.names[self.names.len() - 1]
            ));
        };
        if v < self.min || v > self.max {
            return Err(if token == item {
                format!("must be {}-{}", self.min, self.max)
            } else {
                format!("{token} must be {}-{}", self.min, self.max)
            });
        }
        Ok(v)
    }
}

impl Cron {
    fn parse_fields(s: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = s.split_whitespace().collect();
        if fields.len() != 5 {
            let hint = if fields.len() == 6 { "; a leading seconds field is not supported" } else { "" };
            return Err(format!(
                "cron expression \"{s}\": expected 5 fields (minute hour day-of-month month day-of-week), got {}{hint}",
                fields.len()
            ));
        }
        let mut parsed = [(0u64, false); 5];
        for (i, (spec, text)) in FIELDS.iter().zip(&fields).enumerate() {
            parsed[i] = spec.parse(text)?;
        }
        Ok(Cron {
            minutes: parsed[0].0,
            hours: parsed[1].0,
            days_of_month: parsed[2].0,
            months: parsed[3].0,
            days_of_week: parsed[4].0,
            dom_star: parsed[2].1,
            dow_star: parsed[4].1,
            text: fields.join(" "),
        })
    }

    fn day_matches(&self, day: u32, weekday: u32) -> bool {
        let dom = self.days_of_month & (1 << day) != 0;
        let dow = self.days_of_week & (1 << weekday) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        // Whole seconds since the epoch, rounded down (also before 1970).
        let secs: i64 = match after.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).ok()?,
            Err(e) => {
                let d = e.duration();
                let s = i64::try_from(d.as_secs()).ok()?;
                -s - i64::from(d.subsec_nanos() > 0)
            }
        };
        // The first whole minute strictly after `after`.
        let first = secs.div_euclid(60) + 1;
        let minute = self.next_minute(first)?;
        let secs = minute.checked_mul(60)?;
        if secs >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
        }
    }

    /// The first matching minute (counted from the epoch) at or after `first`.
    fn next_minute(&self, first: i64) -> Option<i64> {
        let mut day = first.div_euclid(MINUTES_PER_DAY);
        let mut start = first.rem_euclid(MINUTES_PER_DAY) as u32; // minute of the day
        let (mut y, mut m, mut d) = civil_from_days(day);
        let last_day = days_from_civil(y.checked_add(SEARCH_YEARS)?, m, 1);
        while day <= last_day {
            if self.months & (1 << m) == 0 {
                // Skip the rest of the month.
                (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                d = 1;
                day = days_from_civil(y, m, 1);
                start = 0;
                continue;
            }
            if self.day_matches(d, weekday(day)) {
                if let Some(t) = self.first_time_of_day(start) {
                    return Some(day * MINUTES_PER_DAY + i64::from(t));
                }
            }
            day += 1;
            start = 0;
            if d < days_in_month(y, m) {
                d += 1;
            } else {
                (y, m, d) = if m == 12 { (y + 1, 1, 1) } else { (y, m + 1, 1) };
            }
        }
        None
    }

    /// The first matching minute of the day at or after minute-of-day `start`.
    fn first_time_of_day(&self, start: u32) -> Option<u32> {
        let (h0, m0) = (start / 60, start % 60);
        let mut h = next_bit(self.hours, h0)?;
        loop {
            if h >= 24 {
                return None;
            }
            let from = if h == h0 { m0 } else { 0 };
            if let Some(m) = next_bit(self.minutes, from).filter(|&m| m < 60) {
                return Some(h * 60 + m);
            }
            h = next_bit(self.hours, h + 1)?;
        }
    }
}

/// The lowest set bit of `mask` at position `from` or above.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = mask >> from;
    if rest == 0 {
        None
    } else {
        Some(from + rest.trailing_zeros())
    }
}

fn is_leap_year(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap_year(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A UTC time from its civil fields.
    fn at(y: i64, mo: u32, d: u32, h: u32, mi: u32) -> SystemTime {
        at_s(y, mo, d, h, mi, 0)
    }

    fn at_s(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> SystemTime {
        let secs = days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s);
        if secs >= 0 {
            UNIX_EPOCH + Duration::from_secs(secs as u64)
        } else {
            UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
        }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` of a time, for readable assertions.
    fn iso(t: SystemTime) -> String {
        let secs = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400);
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
    }

    fn sched(s: &str) -> Schedule {
        match Schedule::parse(s) {
            Ok(Some(x)) => x,
            other => panic!("{s:?} parsed as {other:?}"),
        }
    }

    fn cron(s: &str) -> Cron {
        match sched(s) {
            Schedule::Cron(c) => c,
            other => panic!("{s:?} is not a cron schedule: {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        match Schedule::parse(s) {
            Err(e) => e,
            Ok(x) => panic!("{s:?} unexpectedly parsed as {x:?}"),
        }
    }

    /// The next firing after the given time, as ISO text ("none" if it never fires).
    fn next(spec: &str, after: SystemTime) -> String {
        sched(spec).next_after(after).map_or_else(|| "none".to_string(), iso)
    }

    fn bits(list: &[u32]) -> u64 {
        list.iter().fold(0, |b, v| b | 1 << v)
    }

    // ---- civil-date arithmetic ----

    #[test]
    fn known_epoch_values() {
        // Checked with `date -u -d <date> +%s`.
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(at(2026, 11, 30, 0, 0), UNIX_EPOCH + Duration::from_secs(1_795_996_800));
        assert_eq!(at(2028, 2, 29, 0, 0), UNIX_EPOCH + Duration::from_secs(1_835_395_200));
        assert_eq!(at(2000, 3, 1, 0, 0), UNIX_EPOCH + Duration::from_secs(951_868_800));
        assert_eq!(at(2038, 1, 19, 3, 14), UNIX_EPOCH + Duration::from_secs(2_147_483_640));
        assert_eq!(at(1969, 12, 31, 0, 0), UNIX_EPOCH - Duration::from_secs(86_400));
        assert_eq!(at(1900, 1, 1, 0, 0), UNIX_EPOCH - Duration::from_secs(2_208_988_800));
        assert_eq!(iso(UNIX_EPOCH + Duration::from_secs(1_795_996_800)), "2026-11-30T00:00:00Z");
    }

    #[test]
    fn weekdays() {
        assert_eq!(weekday(0), 4); // 1970-01-01, Thursday
        assert_eq!(weekday(days_from_civil(2000, 1, 1)), 6); // Saturday
        assert_eq!(weekday(days_from_civil(2024, 2, 29)), 4); // Thursday
        assert_eq!(weekday(days_from_civil(2026, 11, 30)), 1); // Monday
        assert_eq!(weekday(days_from_civil(1969, 12, 28)), 0); // Sunday
    }

    #[test]
    fn civil_round_trip_day_by_day() {
        // Walk 1600-03-01 .. 2500 one day at a time and compare with the naive calendar.
        let (mut y, mut m, mut d) = (1600i64, 3u32, 1u32);
        let mut z = days_from_civil(y, m, d);
        assert_eq!(z, -135_080); // `date -u -d 1600-03-01 +%s` = -11670912000
        while y < 2500 {
            assert_eq!(civil_from_days(z), (y, m, d), "day {z}");
            assert_eq!(days_from_civil(y, m, d), z);
            z += 1;
            if d < days_in_month(y, m) {
                d += 1;
            } else if m < 12 {
                (m, d) = (m + 1, 1);
            } else {
                (y, m, d) = (y + 1, 1, 1);
            }
        }
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000) && is_leap_year(2024) && is_leap_year(2028) && is_leap_year(1600));
        assert!(!is_leap_year(1900) && !is_leap_year(2100) && !is_leap_year(2025));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_from_civil(2001, 1, 1) - days_from_civil(2000, 1, 1), 366);
        assert_eq!(days_from_civil(1901, 1, 1) - days_from_civil(1900, 1, 1), 365);
    }

    // ---- parsing ----

    #[test]
    fn disabled() {
        assert_eq!(Schedule::parse(""), Ok(None));
        assert_eq!(Schedule::parse("0"), Ok(None));
        assert_eq!(Schedule::parse("  0 "), Ok(None));
        assert_eq!(Schedule::parse("   "), Ok(None));
    }

    #[test]
    fn every() {
        assert_eq!(sched("@every 1h"), Schedule::Every(Duration::from_secs(3600)));
        assert_eq!(sched("@every 30m"), Schedule::Every(Duration::from_secs(1800)));
        assert_eq!(sched("@every 1h30m"), Schedule::Every(Duration::from_secs(5400)));
        assert_eq!(sched("@every 90s"), Schedule::Every(Duration::from_secs(90)));
        assert_eq!(sched("@every 1m"), Schedule::Every(Duration::from_secs(60)));
        assert_eq!(sched("@every 1.5h"), Schedule::Every(Duration::from_secs(5400)));
        assert_eq!(sched("@every 24h"), Schedule::Every(Duration::from_secs(86_400)));
        assert_eq!(sched("@every   2h  "), Schedule::Every(Duration::from_secs(7200)));
        assert_eq!(sched("@every 60000ms"), Schedule::Every(Duration::from_secs(60)));
        assert_eq!(sched("@every 1m0.5s"), Schedule::Every(Duration::from_millis(60_500)));
        // Navidrome accepts a bare duration as "@every <duration>".
        assert_eq!(sched("1h"), Schedule::Every(Duration::from_secs(3600)));
        assert_eq!(sched("5m"), Schedule::Every(Duration::from_secs(300)));
    }

    #[test]
    fn every_errors() {
        assert!(err("@every 30s").starts_with("@every \"30s\": interval must be at least 1m0s; write \"@every 1m\""));
        assert!(err("@every 59.999s").starts_with("@every \"59.999s\": interval must be at least 1m0s; write"));
        assert!(err("30s").starts_with("@every \"30s\": interval must be at least 1m0s; write"));
        assert!(err("@every 0").starts_with("@every \"0\": interval must be at least 1m0s; write"));
        assert!(err("@every").contains("missing duration"), "{}", err("@every"));
        assert!(err("@every 1x").contains("unknown unit \"x\""), "{}", err("@every 1x"));
        assert!(err("@every 10").contains("missing unit"), "{}", err("@every 10"));
        assert!(err("@every h").contains("invalid duration"), "{}", err("@every h"));
        assert!(err("@every -1h").contains("negative"), "{}", err("@every -1h"));
        assert!(err("@every 1h 30m").contains("unknown unit"), "{}", err("@every 1h 30m"));
        assert!(err("@every 9999999999h").contains("too large"), "{}", err("@every 9999999999h"));
    }

    #[test]
    fn go_durations() {
        let p = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(p("0"), Duration::ZERO);
        assert_eq!(p("+5s"), Duration::from_secs(5));
        assert_eq!(p("1h2m3s4ms5us6ns"), Duration::new(3723, 4_005_006));
        assert_eq!(p("3\u{b5}s"), Duration::from_micros(3));
        assert_eq!(p("3\u{3bc}s"), Duration::from_micros(3));
        assert_eq!(p(".5m"), Duration::from_secs(30));
        assert_eq!(p("1.m"), Duration::from_secs(60));
        assert_eq!(p("2562047h"), Duration::from_secs(2_562_047 * 3600));
        assert!(parse_go_duration("2562048h").is_err()); // beyond Go's i64 nanoseconds
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration(".").is_err());
        assert!(parse_go_duration("1").is_err());
        assert!(parse_go_duration("1hh").is_err());
    }

    #[test]
    fn descriptors() {
        let c = cron("@hourly");
        assert_eq!((c.minutes, c.hours), (1, (1 << 24) - 1));
        assert_eq!(cron("@daily"), Cron { text: "@daily".into(), ..cron("0 0 * * *") });
        assert_eq!(cron("@midnight"), Cron { text: "@midnight".into(), ..cron("0 0 * * *") });
        assert_eq!(cron("@weekly"), Cron { text: "@weekly".into(), ..cron("0 0 * * 0") });
        assert_eq!(cron("@monthly"), Cron { text: "@monthly".into(), ..cron("0 0 1 * *") });
        assert_eq!(cron("@yearly"), Cron { text: "@yearly".into(), ..cron("0 0 1 1 *") });
        assert_eq!(cron("@annually"), Cron { text: "@annually".into(), ..cron("0 0 1 1 *") });
        assert_eq!(cron("@DAILY").text, "@daily");
        assert_eq!(err("@fortnightly"), "unknown schedule descriptor \"@fortnightly\"");
        assert_eq!(err("@daily 3"), "schedule descriptor \"@daily\" takes no argument, got \"3\"");
    }

    #[test]
    fn cron_fields() {
        let c = cron("0 3 * * *");
        assert_eq!(c.minutes, 1);
        assert_eq!(c.hours, 1 << 3);
        assert_eq!(c.days_of_month, bits(&(1..=31).collect::<Vec<_>>()));
        assert_eq!(c.months, bits(&(1..=12).collect::<Vec<_>>()));
        assert_eq!(c.days_of_week, 0x7f);
        assert!(c.dom_star && c.dow_star);

        assert_eq!(cron("1,5,9 * * * *").minutes, bits(&[1, 5, 9]));
        assert_eq!(cron("1-5 * * * *").minutes, bits(&[1, 2, 3, 4, 5]));
        assert_eq!(cron("*/15 * * * *").minutes, bits(&[0, 15, 30, 45]));
        assert_eq!(cron("10-50/10 * * * *").minutes, bits(&[10, 20, 30, 40, 50]));
        assert_eq!(cron("10-55/20 * * * *").minutes, bits(&[10, 30, 50]));
        assert_eq!(cron("50/5 * * * *").minutes, bits(&[50, 55]));
        assert_eq!(cron("0 */7 * * *").hours, bits(&[0, 7, 14, 21]));
        assert_eq!(cron("0 0 */10 * *").days_of_month, bits(&[1, 11, 21, 31]));
        assert_eq!(cron("0 0 * */5 *").months, bits(&[1, 6, 11]));
        assert_eq!(cron("0 0 * * */2").days_of_week, bits(&[0, 2, 4, 6]));
        assert_eq!(cron("0 0 * * 1/2").days_of_week, bits(&[1, 3, 5]));
        assert_eq!(cron("1-3,7,50-59/3 * * * *").minutes, bits(&[1, 2, 3, 7, 50, 53, 56, 59]));
        assert_eq!(cron("5/100 * * * *").minutes, bits(&[5]));
        assert_eq!(cron("  0   3  *  *  * ").text, "0 3 * * *");
        // `*/1` is unrestricted, `*/2` is a restriction.
        assert!(cron("0 0 */1 * 1").dom_star);
        assert!(!cron("0 0 */2 * 1").dom_star);
        assert!(cron("0 0 ? * 1").dom_star);
        assert!(cron("0 0 1 * ?").dow_star);
    }

    #[test]
    fn names_and_sunday() {
        assert_eq!(cron("0 0 * JAN,mar,Dec *").months, bits(&[1, 3, 12]));
        assert_eq!(cron("0 0 * jun-AUG *").months, bits(&[6, 7, 8]));
        assert_eq!(cron("0 0 * * MON-FRI").days_of_week, bits(&[1, 2, 3, 4, 5]));
        assert_eq!(cron("0 0 * * sun,Sat").days_of_week, bits(&[0, 6]));
        assert_eq!(cron("0 0 * * 7").days_of_week, bits(&[0]));
        assert_eq!(cron("0 0 * * 0").days_of_week, bits(&[0]));
        assert_eq!(cron("0 0 * * 5-7").days_of_week, bits(&[0, 5, 6]));
        assert_eq!(cron("0 0 * * 0-7").days_of_week, 0x7f);
        assert_eq!(cron("0 0 * * FRI-7").days_of_week, bits(&[0, 5, 6]));
        assert_eq!(cron("0 0 * JAN/3 *").months, bits(&[1, 4, 7, 10]));
    }

    #[test]
    fn cron_errors() {
        assert_eq!(err("61 * * * *"), "minute field \"61\": must be 0-59");
        assert_eq!(err("0 24 * * *"), "hour field \"24\": must be 0-23");
        assert_eq!(err("0 0 0 * *"), "day-of-month field \"0\": must be 1-31");
        assert_eq!(err("0 0 32 * *"), "day-of-month field \"32\": must be 1-31");
        assert_eq!(err("0 0 * 13 *"), "month field \"13\": must be 1-12");
        assert_eq!(err("0 0 * * 8"), "day-of-week field \"8\": must be 0-7");
        assert_eq!(err("1,61 * * * *"), "minute field \"61\": must be 0-59");
        assert_eq!(err("10-70 * * * *"), "minute field \"10-70\": 70 must be 0-59");
        assert_eq!(err("50-10 * * * *"), "minute field \"50-10\": range start 50 is after range end 10");
        assert_eq!(err("0 0 * NOV-FEB *"), "month field \"NOV-FEB\": range start 11 is after range end 2");
        assert_eq!(err("*/0 * * * *"), "minute field \"*/0\": step must be at least 1");
        assert_eq!(err("*/x * * * *"), "minute field \"*/x\": step \"x\" is not a positive number");
        assert_eq!(err("*/-1 * * * *"), "minute field \"*/-1\": step \"-1\" is not a positive number");
        assert_eq!(err("1/2/3 * * * *"), "minute field \"1/2/3\": step \"2/3\" is not a positive number");
        assert_eq!(err("1,,2 * * * *"), "minute field \"1,,2\": empty list element");
        assert_eq!(err("1, * * * *"), "minute field \"1,\": empty list element");
        assert_eq!(err("abc * * * *"), "minute field \"abc\": \"abc\" is not a number");
        assert_eq!(err("JAN * * * *"), "minute field \"JAN\": \"JAN\" is not a number");
        assert_eq!(err("? * * * *"), "minute field \"?\": \"?\" is not a number");
        assert_eq!(err("0 0 * FOO *"), "month field \"FOO\": \"FOO\" is not a number or name (JAN-DEC)");
        assert_eq!(err("0 0 * * MONDAY"), "day-of-week field \"MONDAY\": \"MONDAY\" is not a number or name (SUN-SAT)");
        assert_eq!(err("0 0 * * MON-"), "day-of-week field \"MON-\": missing value");
        assert_eq!(err("-5 * * * *"), "minute field \"-5\": missing value");
        assert_eq!(err("*-5 * * * *"), "minute field \"*-5\": \"*\" is not a number");
        assert_eq!(
            err("0 0 3 * * *"),
            "cron expression \"0 0 3 * * *\": expected 5 fields (minute hour day-of-month month day-of-week), got 6; \
             a leading seconds field is not supported"
        );
        assert_eq!(
            err("0 3 * *"),
            "cron expression \"0 3 * *\": expected 5 fields (minute hour day-of-month month day-of-week), got 4"
        );
        assert!(err("0 3 * * * * *").ends_with("got 7"));
        assert!(err("TZ=Europe/Paris 0 3 * * *").contains("evaluated in UTC"));
        assert!(err("CRON_TZ=UTC 0 3 * * *").contains("not supported"));
        assert!(err("hello").contains("expected 5 fields"), "{}", err("hello"));
    }

    #[test]
    fn display() {
        assert_eq!(sched("@every 1h").to_string(), "every 1h0m0s");
        assert_eq!(sched("@every 90s").to_string(), "every 1m30s");
        assert_eq!(sched("@every 30m").to_string(), "every 30m0s");
        assert_eq!(sched("@every 1h30m").to_string(), "every 1h30m0s");
        assert_eq!(sched("@every 1m0.25s").to_string(), "every 1m0.25s");
        assert_eq!(sched("@every 100h").to_string(), "every 100h0m0s");
        assert_eq!(sched("0 3 * * *").to_string(), "cron 0 3 * * * (UTC)");
        assert_eq!(sched(" */15   0-6  * JAN mon ").to_string(), "cron */15 0-6 * JAN mon (UTC)");
        assert_eq!(sched("@daily").to_string(), "cron @daily (UTC)");
        assert_eq!(GoDuration(Duration::ZERO).to_string(), "0s");
        assert_eq!(GoDuration(Duration::from_millis(1500)).to_string(), "1.5s");
        assert_eq!(GoDuration(Duration::from_millis(500)).to_string(), "500ms");
        assert_eq!(GoDuration(Duration::from_micros(1500)).to_string(), "1.5ms");
        assert_eq!(GoDuration(Duration::from_nanos(1500)).to_string(), "1.5\u{b5}s");
        assert_eq!(GoDuration(Duration::from_nanos(7)).to_string(), "7ns");
    }

    // ---- next_after ----

    #[test]
    fn every_adds_interval() {
        let t = at_s(2026, 1, 1, 10, 0, 17) + Duration::from_millis(250);
        let n = sched("@every 1h30m").next_after(t).unwrap();
        assert_eq!(n.duration_since(t).unwrap(), Duration::from_secs(5400));
        assert_eq!(sched("@every 1m").next_after(UNIX_EPOCH), Some(UNIX_EPOCH + Duration::from_secs(60)));
    }

    #[test]
    fn strictly_after() {
        // Exactly on a firing time: the next one, not the same one.
        assert_eq!(next("0 3 * * *", at(2026, 5, 10, 3, 0)), "2026-05-11T03:00:00Z");
        assert_eq!(next("* * * * *", at(2026, 5, 10, 3, 0)), "2026-05-10T03:01:00Z");
        // A few seconds (or nanoseconds) into a minute still rounds up to the next whole minute.
        assert_eq!(next("* * * * *", at_s(2026, 5, 10, 3, 0, 59)), "2026-05-10T03:01:00Z");
        let t = at(2026, 5, 10, 2, 59) + Duration::from_nanos(1);
        assert_eq!(next("0 3 * * *", t), "2026-05-10T03:00:00Z");
        assert_eq!(next("0 3 * * *", at_s(2026, 5, 10, 2, 59, 59)), "2026-05-10T03:00:00Z");
    }

    #[test]
    fn minute_and_hour_boundaries() {
        assert_eq!(next("*/15 * * * *", at(2026, 5, 10, 10, 59)), "2026-05-10T11:00:00Z");
        assert_eq!(next("*/15 * * * *", at(2026, 5, 10, 10, 16)), "2026-05-10T10:30:00Z");
        assert_eq!(next("10-50/10 * * * *", at(2026, 5, 10, 10, 50)), "2026-05-10T11:10:00Z");
        assert_eq!(next("5 * * * *", at(2026, 5, 10, 10, 5)), "2026-05-10T11:05:00Z");
        assert_eq!(next("30 9-17 * * *", at(2026, 5, 10, 17, 30)), "2026-05-11T09:30:00Z");
        assert_eq!(next("30 9-17 * * *", at(2026, 5, 10, 3, 0)), "2026-05-10T09:30:00Z");
        assert_eq!(next("0,30 */6 * * *", at(2026, 5, 10, 6, 31)), "2026-05-10T12:00:00Z");
        assert_eq!(next("@hourly", at(2026, 5, 10, 23, 0)), "2026-05-11T00:00:00Z");
    }

    #[test]
    fn day_month_year_boundaries() {
        assert_eq!(next("0 3 * * *", at(2026, 5, 10, 3, 1)), "2026-05-11T03:00:00Z");
        assert_eq!(next("0 3 * * *", at(2026, 4, 30, 23, 59)), "2026-05-01T03:00:00Z");
        assert_eq!(next("@daily", at(2026, 12, 31, 0, 0)), "2027-01-01T00:00:00Z");
        assert_eq!(next("@monthly", at(2026, 1, 15, 12, 0)), "2026-02-01T00:00:00Z");
        assert_eq!(next("@monthly", at(2026, 12, 1, 0, 0)), "2027-01-01T00:00:00Z");
        assert_eq!(next("@yearly", at(2026, 1, 1, 0, 0)), "2027-01-01T00:00:00Z");
        assert_eq!(next("0 0 1 1 *", at(2025, 12, 31, 23, 59)), "2026-01-01T00:00:00Z");
        assert_eq!(next("59 23 31 12 *", at(2026, 1, 1, 0, 0)), "2026-12-31T23:59:00Z");
        assert_eq!(next("0 0 31 * *", at(2026, 1, 31, 0, 0)), "2026-03-31T00:00:00Z");
        assert_eq!(next("0 0 31 * *", at(2026, 5, 1, 0, 0)), "2026-05-31T00:00:00Z");
        assert_eq!(next("0 0 30 * *", at(2026, 1, 30, 0, 0)), "2026-03-30T00:00:00Z");
        assert_eq!(next("0 12 * JUN *", at(2026, 7, 1, 0, 0)), "2027-06-01T12:00:00Z");
        assert_eq!(next("0 12 * NOV-DEC,JAN-FEB *", at(2026, 3, 5, 0, 0)), "2026-11-01T12:00:00Z");
        assert_eq!(next("0 0 30 11 *", at(2026, 1, 1, 0, 0)), "2026-11-30T00:00:00Z");
        assert_eq!(
            sched("0 0 30 11 *").next_after(at(2026, 1, 1, 0, 0)),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_996_800))
        );
    }

    #[test]
    fn weekdays_and_weekly() {
        // 2026-11-30 is a Monday.
        assert_eq!(next("@weekly", at(2026, 11, 30, 0, 0)), "2026-12-06T00:00:00Z");
        assert_eq!(next("0 0 * * 7", at(2026, 11, 30, 0, 0)), "2026-12-06T00:00:00Z");
        assert_eq!(next("0 9 * * MON-FRI", at(2026, 12, 4, 9, 0)), "2026-12-07T09:00:00Z");
        assert_eq!(next("0 9 * * mon-fri", at(2026, 12, 5, 12, 0)), "2026-12-07T09:00:00Z");
        assert_eq!(next("0 9 * * SAT", at(2026, 12, 29, 0, 0)), "2027-01-02T09:00:00Z");
        // Weekday restricted together with a month.
        assert_eq!(next("0 0 * FEB FRI", at(2026, 3, 1, 0, 0)), "2027-02-05T00:00:00Z");
    }

    #[test]
    fn leap_day() {
        assert_eq!(next("0 0 29 2 *", at(2025, 1, 1, 0, 0)), "2028-02-29T00:00:00Z");
        assert_eq!(
            sched("0 0 29 2 *").next_after(at(2025, 1, 1, 0, 0)),
            Some(UNIX_EPOCH + Duration::from_secs(1_835_395_200))
        );
        assert_eq!(next("0 0 29 2 *", at(2024, 2, 29, 0, 0)), "2028-02-29T00:00:00Z");
        assert_eq!(next("0 0 29 2 *", at(2024, 2, 28, 23, 59)), "2024-02-29T00:00:00Z");
        assert_eq!(next("0 0 * * *", at(2024, 2, 28, 1, 0)), "2024-02-29T00:00:00Z");
        assert_eq!(next("0 0 * * *", at(2025, 2, 28, 1, 0)), "2025-03-01T00:00:00Z");
        assert_eq!(next("0 0 1 3 *", at(2028, 2, 28, 0, 0)), "2028-03-01T00:00:00Z");
        // 2100 is not a leap year: the next 29 February after 2096 is in 2104.
        assert_eq!(next("0 0 29 2 *", at(2096, 3, 1, 0, 0)), "2104-02-29T00:00:00Z");
        // Leap year via 400-year rule.
        assert_eq!(next("0 0 29 2 *", at(1997, 1, 1, 0, 0)), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn dom_dow_or_rule() {
        // Both restricted: the 13th OR any Friday.
        let s = "0 0 13 * FRI";
        assert_eq!(next(s, at(2026, 1, 1, 0, 0)), "2026-01-02T00:00:00Z"); // Friday the 2nd
        assert_eq!(next(s, at(2026, 1, 10, 0, 0)), "2026-01-13T00:00:00Z"); // Tuesday the 13th
        assert_eq!(next(s, at(2026, 1, 13, 0, 0)), "2026-01-16T00:00:00Z"); // next Friday
                                                                            // Only one restricted: AND with "every day", i.e. just that field.
        assert_eq!(next("0 0 13 * *", at(2026, 1, 1, 0, 0)), "2026-01-13T00:00:00Z");
        assert_eq!(next("0 0 * * FRI", at(2026, 1, 3, 0, 0)), "2026-01-09T00:00:00Z");
        // `?` behaves as `*`.
        assert_eq!(next("0 0 13 * ?", at(2026, 1, 1, 0, 0)), "2026-01-13T00:00:00Z");
        // A stepped `*` is a restriction, so OR applies: odd days or Sundays.
        let s = "0 0 */2 * SUN";
        assert_eq!(next(s, at(2026, 1, 1, 0, 0)), "2026-01-03T00:00:00Z");
        assert_eq!(next(s, at(2026, 1, 3, 0, 0)), "2026-01-04T00:00:00Z"); // Sunday the 4th
        assert_eq!(next(s, at(2026, 1, 4, 0, 0)), "2026-01-05T00:00:00Z");
        // An impossible day-of-month still fires on the weekday.
        assert_eq!(next("0 0 31 2 MON", at(2026, 1, 1, 0, 0)), "2026-02-02T00:00:00Z");
        // The month restriction still applies to both.
        assert_eq!(next("0 0 1 JUN SUN", at(2026, 1, 1, 0, 0)), "2026-06-01T00:00:00Z");
        assert_eq!(next("0 0 1 JUN SUN", at(2026, 6, 1, 0, 0)), "2026-06-07T00:00:00Z");
    }

    #[test]
    fn before_the_epoch() {
        assert_eq!(next("0 0 * * *", at_s(1969, 12, 31, 23, 59, 30)), "1970-01-01T00:00:00Z");
        let t = at(1969, 12, 31, 23, 59) + Duration::from_millis(500);
        assert_eq!(next("* * * * *", t), "1970-01-01T00:00:00Z");
        assert_eq!(next("0 12 * * *", at(1969, 6, 1, 12, 0)), "1969-06-02T12:00:00Z");
    }

    #[test]
    fn impossible_specs_give_up_quickly() {
        let start = Instant::now();
        for spec in ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "* * 31 2,4 *", "0 0 31 APR ?"] {
            assert_eq!(next(spec, at(2026, 1, 1, 0, 0)), "none", "{spec}");
        }
        assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
    }

    #[test]
    fn far_future_does_not_panic() {
        let far = UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 2);
        let _ = sched("0 0 * * *").next_after(far);
        assert_eq!(sched("@every 1h").next_after(far), far.checked_add(Duration::from_secs(3600)));
    }

    /// Compares `next_after` with a minute-by-minute search on many specs and start times.
    #[test]
    fn matches_brute_force() {
        fn naive(c: &Cron, after: SystemTime, limit: i64) -> Option<SystemTime> {
            let secs = after.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
            let first = secs / 60 + 1;
            for minute in first..first + limit {
                let day = minute.div_euclid(MINUTES_PER_DAY);
                let mod_ = minute.rem_euclid(MINUTES_PER_DAY) as u32;
                let (_, m, d) = civil_from_days(day);
                if c.minutes & 1 << (mod_ % 60) != 0
                    && c.hours & 1 << (mod_ / 60) != 0
                    && c.months & 1 << m != 0
                    && c.day_matches(d, weekday(day))
                {
                    return Some(UNIX_EPOCH + Duration::from_secs(minute as u64 * 60));
                }
            }
            None
        }
        let specs = [
            "* * * * *",
            "*/7 * * * *",
            "0 3 * * *",
            "10-50/10 1,13 * * *",
            "59 23 * * *",
            "0 0 13 * FRI",
            "30 6 */3 * *",
            "15 */5 * * 1-5",
            "0 12 28-31 * *",
            "45 2 * * SUN",
            "0 0 1,15 * WED",
            "5 4 * MAR,SEP *",
            "0 0 29 FEB *",
        ];
        // A small deterministic generator for start times in 1995..2045.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let lo = days_from_civil(1995, 1, 1) * 86_400;
        let hi = days_from_civil(2045, 1, 1) * 86_400;
        let limit = 400 * MINUTES_PER_DAY; // long enough for all but the leap-day spec
        for spec in specs {
            let c = cron(spec);
            for _ in 0..30 {
                let secs = lo + (rand() % (hi - lo) as u64) as i64;
                let t = UNIX_EPOCH + Duration::from_secs(secs as u64);
                let got = c.next_after(t).expect(spec);
                match naive(&c, t, limit) {
                    Some(want) => assert_eq!(iso(got), iso(want), "{spec} after {}", iso(t)),
                    None => assert!(got.duration_since(t).unwrap() > Duration::from_secs(limit as u64 * 60)),
                }
                // The result itself must match the spec, and nothing in between.
                assert!(naive(&c, got - Duration::from_secs(60), 1) == Some(got), "{spec}");
            }
        }
    }
}
