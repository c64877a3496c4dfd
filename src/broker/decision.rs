//! OpenSubsonic getTranscodeDecision: the client says what it plays, the broker answers
//! direct play or the transcode it would run, with the same rules as `stream` (a player's
//! forced format and cap win, then the client's limits, then the server's profiles). What it
//! answers in `transcodeParams` is a format and a cap, which getTranscodeStream hands back to
//! `stream` unchanged: nothing in them is trusted (docs/security.md T37).

use rusqlite::{Connection, OptionalExtension};

use super::media::{Player, Profile};
use super::store::User;
use crate::proto::error::{code, internal, not_found};
use crate::proto::media::{
    ClientInfo, Comparison, DecisionRequest, Limitation, LimitationName, Protocol, StreamDetails, TranscodeDecision,
    TranscodeParams,
};
use crate::proto::ApiError;

/// Profiles, codec profiles and limitations a client may send, each list: far more than any
/// device has, few enough that checking them costs nothing.
pub const MAX_PROFILES: usize = 64;

/// A song as the decision sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The file's suffix, lower case: the container.
    pub container: String,
    /// The codec, lower case, in the names clients use (`mp3`, `flac`, `aac`, `pcm`, …).
    pub codec: String,
    pub kbps: u32,
    pub sample_rate: u32,
    pub bit_depth: u32,
    pub channels: u32,
}

impl Source {
    fn lossless(&self) -> bool {
        matches!(self.codec.as_str(), "flac" | "alac" | "pcm" | "aiff" | "ape" | "wavpack")
    }

    fn details(&self) -> StreamDetails {
        StreamDetails {
            protocol: "http".into(),
            container: self.container.clone(),
            codec: self.codec.clone(),
            channels: nonzero(self.channels),
            bit_rate: nonzero(self.kbps.saturating_mul(1000)),
            sample_rate: nonzero(self.sample_rate),
            bit_depth: nonzero(self.bit_depth),
        }
    }

    /// The source's value of a limitation, if known.
    fn value(&self, name: LimitationName) -> Option<u32> {
        match name {
            LimitationName::AudioChannels => nonzero(self.channels),
            LimitationName::AudioBitrate => nonzero(self.kbps.saturating_mul(1000)),
            LimitationName::AudioSamplerate => nonzero(self.sample_rate),
            LimitationName::AudioBitdepth => nonzero(self.bit_depth),
            // The scanner does not read codec profiles (AAC-LC, HE-AAC, …).
            LimitationName::AudioProfile => None,
        }
    }
}

fn nonzero(v: u32) -> Option<u32> {
    (v > 0).then_some(v)
}

/// The scanner's codec names (lofty's file types) in the names clients send.
fn codec_name(scanned: &str, suffix: &str) -> String {
    match scanned.to_ascii_lowercase().as_str() {
        "wav" => "pcm".into(),
        "mp4" => if suffix == "alac" { "alac" } else { "aac" }.into(),
        "unknown" | "" => suffix.to_string(),
        other => other.to_string(),
    }
}

/// The containers a profile's output answers to, and its codec.
fn output(format: &str) -> (&'static [&'static str], &str) {
    match format {
        "mp3" => (&["mp3"], "mp3"),
        "opus" => (&["opus", "ogg"], "opus"),
        "ogg" | "oga" => (&["ogg", "oga"], "vorbis"),
        "aac" => (&["aac", "adts"], "aac"),
        "flac" => (&["flac"], "flac"),
        "wav" => (&["wav"], "pcm"),
        _ => (&[], format),
    }
}

fn lossless_format(format: &str) -> bool {
    matches!(format, "flac" | "wav")
}

/// A limitation holds for `value` (None: the source's value is unknown, which only a
/// required limitation refuses).
fn holds(l: &Limitation, value: Option<u32>) -> bool {
    let Some(v) = value else { return !l.required };
    let nums: Vec<u32> = l.values.iter().filter_map(|s| s.trim().parse().ok()).collect();
    match l.comparison {
        Comparison::Equals => nums.contains(&v),
        Comparison::NotEquals => !nums.contains(&v),
        Comparison::LessThanEqual => nums.first().is_none_or(|n| v <= *n),
        Comparison::GreaterThanEqual => nums.first().is_none_or(|n| v >= *n),
    }
}

/// The lowest of the bit rate caps that are set (kbps), 0 when none is.
fn lowest(caps: impl IntoIterator<Item = u32>) -> u32 {
    caps.into_iter().filter(|c| *c > 0).min().unwrap_or(0)
}

/// Checks what the front parsed against the spec's bounds.
pub fn check(c: &ClientInfo) -> Result<(), ApiError> {
    let lists = [c.direct_play_profiles.len(), c.transcoding_profiles.len(), c.codec_profiles.len()];
    let limits = c.codec_profiles.iter().map(|p| p.limitations.len()).max().unwrap_or(0);
    if lists.into_iter().chain([limits]).any(|n| n > MAX_PROFILES) {
        return Err(ApiError::new(code::GENERIC, format!("At most {MAX_PROFILES} profiles or limitations per list")));
    }
    Ok(())
}

/// The decision. `ffmpeg`: the server can transcode at all.
pub fn decide(
    src: &Source,
    client: &ClientInfo,
    player: &Player,
    profiles: &[Profile],
    ffmpeg: bool,
) -> TranscodeDecision {
    let source = src.details();
    let forced = player.format.as_deref().map(str::to_ascii_lowercase);
    let codec_limits = |codec: &str| -> Vec<&Limitation> {
        client
            .codec_profiles
            .iter()
            .filter(|p| p.name.eq_ignore_ascii_case(codec))
            .flat_map(|p| p.limitations.iter())
            .collect()
    };

    // Direct play: the player forced to raw, or a profile of the client that takes the file
    // as it is, within every cap.
    let mut reasons = Vec::new();
    if forced.as_deref() == Some("raw") {
        return TranscodeDecision {
            can_direct_play: true,
            can_transcode: false,
            transcode_reasons: Vec::new(),
            error_reason: None,
            transcode_params: Some(TranscodeParams::Raw.encode()),
            source,
            transcode: None,
        };
    }
    if let Some(f) = &forced {
        reasons.push(format!("the player is set to receive {f}"));
    } else {
        let playable = client.direct_play_profiles.iter().any(|p| {
            let listed = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(v));
            listed(&p.containers, &src.container)
                && listed(&p.audio_codecs, &src.codec)
                && (p.protocols.is_empty() || p.protocols.contains(&Protocol::Http))
                && p.max_audio_channels.is_none_or(|m| m == 0 || src.channels <= m)
        });
        if !playable {
            reasons.push("container or codec not supported".to_string());
        }
        if client.max_audio_bitrate > 0 && src.kbps.saturating_mul(1000) > client.max_audio_bitrate {
            reasons.push("audio bitrate exceeds the client's maximum".into());
        }
        if player.max_bit_rate > 0 && src.kbps > player.max_bit_rate {
            reasons.push("audio bitrate exceeds the player's maximum".into());
        }
        for l in codec_limits(&src.codec) {
            if !holds(l, src.value(l.name)) {
                reasons.push(format!("{} not supported", limitation_name(l.name)));
            }
        }
        if reasons.is_empty() {
            return TranscodeDecision {
                can_direct_play: true,
                can_transcode: ffmpeg,
                transcode_reasons: Vec::new(),
                error_reason: None,
                transcode_params: Some(TranscodeParams::Raw.encode()),
                source,
                transcode: None,
            };
        }
    }

    let refuse = |why: String, reasons: Vec<String>| TranscodeDecision {
        can_direct_play: false,
        can_transcode: false,
        transcode_reasons: reasons,
        error_reason: Some(why),
        transcode_params: None,
        source: source.clone(),
        transcode: None,
    };
    if !ffmpeg {
        return refuse("this server has no ffmpeg (FFmpegPath) and cannot transcode".into(), reasons);
    }
    // The target: the player's forced format, else the first of the client's transcoding
    // profiles that one of the server's profiles produces.
    let target = match &forced {
        Some(f) => profiles.iter().find(|p| &p.target_format == f),
        None => client.transcoding_profiles.iter().find_map(|t| {
            if t.protocol != Protocol::Http || t.max_audio_channels.is_some_and(|m| m > 0 && src.channels > m) {
                return None;
            }
            profiles.iter().find(|p| {
                let (containers, codec) = output(&p.target_format);
                let fits = containers.iter().any(|c| c.eq_ignore_ascii_case(&t.container))
                    && (t.audio_codec.is_empty() || t.audio_codec.eq_ignore_ascii_case(codec));
                // A lossy file made lossless is only bigger.
                fits && (src.lossless() || !lossless_format(&p.target_format))
            })
        }),
    };
    let Some(profile) = target else {
        let why = match &forced {
            Some(f) => format!("no transcoding profile produces the player's format {f}"),
            None => "no transcoding profile of this server produces a format the client takes".into(),
        };
        return refuse(why, reasons);
    };
    let (containers, codec) = output(&profile.target_format);
    let lossless = lossless_format(&profile.target_format);
    let kbps = if lossless {
        0
    } else {
        let client_cap = match client.max_transcoding_audio_bitrate {
            0 => client.max_audio_bitrate,
            b => b,
        } / 1000;
        let codec_cap = codec_limits(codec)
            .into_iter()
            .filter(|l| l.name == LimitationName::AudioBitrate && l.comparison == Comparison::LessThanEqual)
            .filter_map(|l| l.values.first()?.trim().parse::<u32>().ok())
            .map(|bps| bps / 1000)
            .min()
            .unwrap_or(0);
        let mut kbps = lowest([profile.default_bit_rate, client_cap, player.max_bit_rate, codec_cap]);
        // Never more than a lossy source has.
        if !src.lossless() && src.kbps > 0 && kbps > src.kbps {
            kbps = src.kbps;
        }
        kbps
    };
    let transcode = StreamDetails {
        protocol: "http".into(),
        container: containers.first().map_or(profile.target_format.as_str(), |c| c).to_string(),
        codec: codec.to_string(),
        channels: nonzero(src.channels),
        bit_rate: nonzero(kbps.saturating_mul(1000)),
        sample_rate: if codec == "opus" { Some(48_000) } else { nonzero(src.sample_rate) },
        bit_depth: if lossless { nonzero(src.bit_depth) } else { None },
    };
    TranscodeDecision {
        can_direct_play: false,
        can_transcode: true,
        transcode_reasons: reasons,
        error_reason: None,
        transcode_params: Some(TranscodeParams::Transcode { format: profile.target_format.clone(), kbps }.encode()),
        source,
        transcode: Some(transcode),
    }
}

fn limitation_name(n: LimitationName) -> &'static str {
    match n {
        LimitationName::AudioChannels => "audio channels",
        LimitationName::AudioBitrate => "audio bitrate",
        LimitationName::AudioProfile => "audio profile",
        LimitationName::AudioSamplerate => "audio sample rate",
        LimitationName::AudioBitdepth => "audio bit depth",
    }
}

/// The song `user` asks about, if they may see it (super::access): another is not found.
fn source(conn: &Connection, user: &str, id: &str) -> rusqlite::Result<Option<Source>> {
    conn.prepare_cached(&format!(
        "SELECT suffix, codec, bitrate, sample_rate, bit_depth, channels FROM tracks \
         WHERE id = ?1 AND missing = 0 AND {}",
        super::access::track("tracks", "?2")
    ))?
    .query_row([id, user], |r| {
        let n = |i| r.get::<_, i64>(i).map(|v| v.clamp(0, u32::MAX as i64) as u32);
        let suffix = r.get::<_, String>(0)?.to_ascii_lowercase();
        Ok(Source {
            codec: codec_name(&r.get::<_, String>(1)?, &suffix),
            container: suffix,
            kbps: n(2)?,
            sample_rate: n(3)?,
            bit_depth: n(4)?,
            channels: n(5)?,
        })
    })
    .optional()
}

impl super::Broker {
    /// getTranscodeDecision for `me` on this client (its player is made on first use, as
    /// `stream` does).
    pub fn transcode_decision(
        &self,
        me: &User,
        client: &crate::proto::Client,
        req: &DecisionRequest,
    ) -> Result<TranscodeDecision, ApiError> {
        check(&req.client)?;
        let (src, profiles) = {
            let conn = self.reader();
            let src = source(&conn, &me.id, &req.id).map_err(internal)?.ok_or_else(|| not_found("Song"))?;
            (src, super::media::profiles(&conn).map_err(internal)?)
        };
        let player = super::media::player(&self.store.conn(), &me.id, &client.name, &client.addr).map_err(internal)?;
        Ok(decide(&src, &req.client, &player, &profiles, self.media.settings.ffmpeg.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::media::tests::profiles;
    use crate::proto::media::{ClientTranscodingProfile, CodecProfile, CodecProfileKind, DirectPlayProfile};

    fn flac() -> Source {
        Source {
            container: "flac".into(),
            codec: "flac".into(),
            kbps: 900,
            sample_rate: 44_100,
            bit_depth: 16,
            channels: 2,
        }
    }

    fn mp3(kbps: u32) -> Source {
        Source { container: "mp3".into(), codec: "mp3".into(), kbps, sample_rate: 44_100, bit_depth: 0, channels: 2 }
    }

    fn plays(formats: &[&str], transcodes: &[&str], max_bps: u32) -> ClientInfo {
        ClientInfo {
            name: "test".into(),
            platform: "test".into(),
            max_audio_bitrate: max_bps,
            direct_play_profiles: formats
                .iter()
                .map(|f| DirectPlayProfile {
                    containers: vec![f.to_string()],
                    audio_codecs: vec![f.to_string()],
                    protocols: vec![Protocol::Http],
                    max_audio_channels: None,
                })
                .collect(),
            transcoding_profiles: transcodes
                .iter()
                .map(|f| ClientTranscodingProfile {
                    container: f.to_string(),
                    audio_codec: f.to_string(),
                    protocol: Protocol::Http,
                    max_audio_channels: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    fn params(d: &TranscodeDecision) -> Option<TranscodeParams> {
        TranscodeParams::parse(d.transcode_params.as_deref()?)
    }

    #[test]
    fn direct_play_when_the_client_takes_the_file() {
        let d = decide(&flac(), &plays(&["flac", "mp3"], &["mp3"], 0), &Player::default(), &profiles(), true);
        assert!(d.can_direct_play && d.transcode.is_none(), "{d:?}");
        assert_eq!(params(&d), Some(TranscodeParams::Raw));
        assert_eq!(d.source.bit_rate, Some(900_000));
    }

    #[test]
    fn an_mp3_device_at_128_gets_mp3_at_128() {
        let d = decide(&flac(), &plays(&["mp3"], &["mp3"], 128_000), &Player::default(), &profiles(), true);
        assert!(!d.can_direct_play && d.can_transcode, "{d:?}");
        let t = d.transcode.clone().unwrap();
        assert_eq!((t.container.as_str(), t.codec.as_str(), t.bit_rate), ("mp3", "mp3", Some(128_000)));
        assert_eq!(params(&d), Some(TranscodeParams::Transcode { format: "mp3".into(), kbps: 128 }));
        // An mp3 over the cap is transcoded down; one under it plays as it is.
        let d = decide(&mp3(320), &plays(&["mp3"], &["mp3"], 128_000), &Player::default(), &profiles(), true);
        assert_eq!(params(&d), Some(TranscodeParams::Transcode { format: "mp3".into(), kbps: 128 }));
        let d = decide(&mp3(96), &plays(&["mp3"], &["mp3"], 128_000), &Player::default(), &profiles(), true);
        assert!(d.can_direct_play);
    }

    #[test]
    fn the_players_forced_format_and_cap_win() {
        let forced = Player { id: "p".into(), format: Some("aac".into()), max_bit_rate: 0 };
        let d = decide(&flac(), &plays(&["flac"], &["mp3"], 0), &forced, &profiles(), true);
        assert!(!d.can_direct_play, "{d:?}");
        assert_eq!(params(&d), Some(TranscodeParams::Transcode { format: "aac".into(), kbps: 256 }));
        let capped = Player { id: "p".into(), format: None, max_bit_rate: 96 };
        let d = decide(&flac(), &plays(&["flac"], &["opus"], 0), &capped, &profiles(), true);
        assert_eq!(params(&d), Some(TranscodeParams::Transcode { format: "opus".into(), kbps: 96 }));
        let raw = Player { id: "p".into(), format: Some("raw".into()), max_bit_rate: 0 };
        assert!(decide(&flac(), &plays(&["mp3"], &["mp3"], 0), &raw, &profiles(), true).can_direct_play);
    }

    #[test]
    fn limits_lossy_to_lossless_and_no_ffmpeg() {
        // A lossy file is not made lossless.
        let d = decide(&mp3(320), &plays(&["flac"], &["flac"], 0), &Player::default(), &profiles(), true);
        assert!(!d.can_direct_play && !d.can_transcode && d.transcode_params.is_none(), "{d:?}");
        assert!(d.error_reason.is_some());
        let d = decide(&flac(), &plays(&["mp3"], &["mp3"], 0), &Player::default(), &profiles(), false);
        assert!(!d.can_transcode && d.error_reason.unwrap().contains("ffmpeg"));
        // The first profile the server can make, in the client's order.
        let d = decide(&flac(), &plays(&[], &["wma", "opus", "mp3"], 0), &Player::default(), &profiles(), true);
        assert_eq!(d.transcode.unwrap().sample_rate, Some(48_000));
        // A codec limitation on sample rate refuses direct play; a bit rate one caps the transcode.
        let mut c = plays(&["flac"], &["mp3"], 0);
        let lim = |name, comparison, v: &str| Limitation { name, comparison, values: vec![v.into()], required: true };
        c.codec_profiles = vec![
            CodecProfile {
                kind: CodecProfileKind::AudioCodec,
                name: "flac".into(),
                limitations: vec![lim(LimitationName::AudioSamplerate, Comparison::LessThanEqual, "32000")],
            },
            CodecProfile {
                kind: CodecProfileKind::AudioCodec,
                name: "mp3".into(),
                limitations: vec![lim(LimitationName::AudioBitrate, Comparison::LessThanEqual, "160000")],
            },
        ];
        let d = decide(&flac(), &c, &Player::default(), &profiles(), true);
        assert_eq!(d.transcode_reasons, ["audio sample rate not supported"]);
        assert_eq!(params(&d), Some(TranscodeParams::Transcode { format: "mp3".into(), kbps: 160 }));
    }

    #[test]
    fn params_parse_only_what_they_encode() {
        for p in [TranscodeParams::Raw, TranscodeParams::Transcode { format: "mp3".into(), kbps: 128 }] {
            assert_eq!(TranscodeParams::parse(&p.encode()), Some(p));
        }
        for bad in
            ["", "raw", "v1:", "v1:raw:1", "v1:mp3", "v1:mp3:x", "v1:raw:0", "v1:m/p3:1", "v1:mp3:1:2", "v1:mp3:99999"]
        {
            assert_eq!(TranscodeParams::parse(bad), None, "{bad}");
        }
    }
}
