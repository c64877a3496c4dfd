//! OpenSubsonic `transcoding` (getTranscodeDecision, getTranscodeStream) and
//! `topSongsByArtistId` against the running daemon, with real ffmpeg in the transcoder's
//! sandbox; the answers checked against the OpenAPI spec and the XSD, the streams by ffprobe,
//! and a real client (py-opensonic). Also the methods answered honestly as not implemented.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::media::ffmpeg;
use common::*;
use serde_json::Value;

const AUTH: &str = "u=admin&p=admin-pass&v=1.16.1&c=test";

const MP3_AT_128: &str = r#"{"name":"mp3-128","platform":"test","maxAudioBitrate":128000,
  "directPlayProfiles":[{"containers":["mp3"],"audioCodecs":["mp3"],"protocols":["http"]}],
  "transcodingProfiles":[{"container":"mp3","audioCodec":"mp3","protocol":"http"}]}"#;

const PLAYS_FLAC: &str = r#"{"name":"flac","platform":"test",
  "directPlayProfiles":[{"containers":["flac"],"audioCodecs":["flac"],"protocols":["http"]},
                        {"containers":["mp3"],"audioCodecs":["mp3"],"protocols":["http"]}],
  "transcodingProfiles":[{"container":"mp3","audioCodec":"mp3","protocol":"http"}],
  "codecProfiles":[{"type":"AudioCodec","name":"flac","limitations":[
    {"name":"audioChannels","comparison":"LessThanEqual","values":["2"],"required":true}]}]}"#;

/// The tolerant XSD with the spec's TranscodeDecision and StreamDetails, which it lacks
/// (transcribed from the OpenAPI schemas; the element order is the one the front writes).
fn xsd_with_transcoding(dir: &Path) -> std::path::PathBuf {
    let base =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/spec/subsonic-rest-api-1.16.1-os.xsd"))
            .unwrap();
    let element = r#"<xs:element name="transcodeDecision" type="sub:TranscodeDecision" minOccurs="1" maxOccurs="1"/></xs:choice>"#;
    let types = r#"<xs:complexType name="TranscodeDecision"><xs:sequence>
      <xs:element name="sourceStream" type="sub:StreamDetails" minOccurs="0"/>
      <xs:element name="transcodeStream" type="sub:StreamDetails" minOccurs="0"/>
      <xs:element name="transcodeReason" type="xs:string" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
      <xs:attribute name="canDirectPlay" type="xs:boolean" use="required"/>
      <xs:attribute name="canTranscode" type="xs:boolean" use="required"/>
      <xs:attribute name="errorReason" type="xs:string" use="optional"/>
      <xs:attribute name="transcodeParams" type="xs:string" use="optional"/></xs:complexType>
    <xs:simpleType name="StreamProtocol"><xs:restriction base="xs:string">
      <xs:enumeration value="http"/><xs:enumeration value="hls"/></xs:restriction></xs:simpleType>
    <xs:complexType name="StreamDetails">
      <xs:attribute name="protocol" type="sub:StreamProtocol" use="required"/>
      <xs:attribute name="container" type="xs:string" use="required"/>
      <xs:attribute name="codec" type="xs:string" use="required"/>
      <xs:attribute name="audioChannels" type="xs:int" use="optional"/>
      <xs:attribute name="audioBitrate" type="xs:int" use="optional"/>
      <xs:attribute name="audioProfile" type="xs:string" use="optional"/>
      <xs:attribute name="audioSamplerate" type="xs:int" use="optional"/>
      <xs:attribute name="audioBitdepth" type="xs:int" use="optional"/></xs:complexType></xs:schema>"#;
    let xsd = base.replacen("</xs:choice>", element, 1).replacen("</xs:schema>", types, 1);
    assert!(xsd.contains("sub:TranscodeDecision") && xsd.contains("name=\"StreamDetails\""));
    let path = dir.join("transcoding.xsd");
    std::fs::write(&path, xsd).unwrap();
    path
}

fn assert_valid_against(xsd: &Path, xml: &str) {
    let file = xsd.with_file_name("answer.xml");
    std::fs::write(&file, xml).unwrap();
    let out = std::process::Command::new("xmllint").args(["--noout", "--schema"]).arg(xsd).arg(&file).output().unwrap();
    assert!(out.status.success(), "invalid against the XSD:\n{}\n{xml}", String::from_utf8_lossy(&out.stderr));
}

/// Noise, so that encoders need the bit rate they are given.
fn noise(path: &Path, secs: u32, extra: &[&str]) {
    let src = format!("anoisesrc=color=pink:sample_rate=44100:duration={secs}:amplitude=0.3");
    let mut args = vec!["-f", "lavfi", "-i", &src, "-ac", "2"];
    args.extend(extra);
    args.push(path.to_str().unwrap());
    ffmpeg(&args);
}

struct Lib {
    d: Daemon,
    ids: HashMap<String, String>,
}

impl Lib {
    fn new() -> Lib {
        let fx = Fixture::new();
        let a = fx.music.join("Artist/Album");
        std::fs::create_dir_all(&a).unwrap();
        noise(&a.join("01 Noise.flac"), 12, &["-metadata", "title=Flac Noise", "-metadata", "artist=Tester"]);
        noise(
            &a.join("02 Loud.mp3"),
            8,
            &["-b:a", "320k", "-metadata", "title=Mp3 Noise", "-metadata", "artist=Tester"],
        );
        let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&fx.music).status();
        fx.add_user(ADMIN, ADMIN_PASSWORD, true);
        let mut d = Daemon::spawn(fx, Options::default());
        d.wait_ready();
        d.wait_scans(1);
        d.wait_log("transcoding profiles checked", Duration::from_secs(60));
        let mut lib = Lib { d, ids: HashMap::new() };
        let found = lib.get_json("search3", "query=&songCount=50");
        for s in found["searchResult3"]["song"].as_array().unwrap() {
            lib.ids.insert(s["title"].as_str().unwrap().to_string(), s["id"].as_str().unwrap().to_string());
        }
        lib
    }

    fn id(&self, title: &str) -> String {
        self.ids[title].clone()
    }

    fn get(&self, method: &str, query: &str) -> HttpResponse {
        http(self.d.port, "GET", &format!("/rest/{method}?{AUTH}&{query}"), &[], b"").unwrap()
    }

    fn get_json(&self, method: &str, query: &str) -> Value {
        let r = self.get(method, &format!("f=json&{query}"));
        let v: Value = serde_json::from_str(&r.text()).unwrap_or_else(|e| panic!("{method}: {e}: {}", r.text()));
        v["subsonic-response"].clone()
    }

    /// getTranscodeDecision as the spec has it: a POST with the ClientInfo as a JSON body.
    fn decide_raw(&self, id: &str, body: &str, format: &str) -> HttpResponse {
        let path = format!("/rest/getTranscodeDecision?{AUTH}&f={format}&mediaId={id}&mediaType=song");
        http(self.d.port, "POST", &path, &[("Content-Type", "application/json")], body.as_bytes()).unwrap()
    }

    fn decide(&self, id: &str, body: &str) -> Value {
        let r = self.decide_raw(id, body, "json");
        assert_eq!(r.status, 200);
        assert_valid_json("getTranscodeDecision", &r.text());
        let v: Value = serde_json::from_str(&r.text()).unwrap();
        let v = v["subsonic-response"].clone();
        assert_eq!(v["status"], "ok", "{v}");
        assert!(v["transcodeDecision"].is_object(), "{v}");
        v["transcodeDecision"].clone()
    }

    fn stream(&self, id: &str, params: &str) -> HttpResponse {
        self.get("getTranscodeStream", &format!("mediaId={id}&mediaType=song&transcodeParams={params}"))
    }
}

fn probe(bytes: &[u8], dir: &Path, name: &str) -> Value {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe {name}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn codec_and_kbps(p: &Value) -> (String, f64) {
    let s = p["streams"][0]["bit_rate"].as_str().or(p["format"]["bit_rate"].as_str());
    let kbps = s.and_then(|b| b.parse::<f64>().ok()).unwrap_or(0.0) / 1000.0;
    (p["streams"][0]["codec_name"].as_str().unwrap_or("").to_string(), kbps)
}

fn error_code(v: &Value) -> i64 {
    assert_eq!(v["status"], "failed", "{v}");
    v["error"]["code"].as_i64().unwrap()
}

#[test]
fn transcode_decisions_streams_and_top_songs_by_artist_id() {
    let l = Lib::new();
    let dir = l.d.fx.dir.clone();
    let xsd = xsd_with_transcoding(&dir);
    let flac = l.id("Flac Noise");
    let mp3 = l.id("Mp3 Noise");

    let ext = l.get_json("getOpenSubsonicExtensions", "");
    let names: Vec<&str> =
        ext["openSubsonicExtensions"].as_array().unwrap().iter().filter_map(|e| e["name"].as_str()).collect();
    assert!(names.contains(&"transcoding") && names.contains(&"topSongsByArtistId"), "{names:?}");
    assert!(!names.contains(&"sonicSimilarity"), "not implemented, so not advertised");

    // A device that plays only mp3 at 128 kbps: the flac is transcoded to mp3 at 128.
    let d = l.decide(&flac, MP3_AT_128);
    assert_eq!((d["canDirectPlay"].as_bool(), d["canTranscode"].as_bool()), (Some(false), Some(true)), "{d}");
    let t = &d["transcodeStream"];
    assert_eq!(
        (t["container"].as_str(), t["codec"].as_str(), t["audioBitrate"].as_i64()),
        (Some("mp3"), Some("mp3"), Some(128_000)),
        "{d}"
    );
    assert_eq!(
        (d["sourceStream"]["codec"].as_str(), d["sourceStream"]["container"].as_str()),
        (Some("flac"), Some("flac"))
    );
    assert!(d["sourceStream"]["audioBitrate"].as_i64().unwrap() > 128_000, "{d}");
    assert!(!d["transcodeReason"].as_array().unwrap().is_empty(), "{d}");
    let params = d["transcodeParams"].as_str().unwrap().to_string();
    let xml = l.decide_raw(&flac, MP3_AT_128, "xml").text();
    assert!(xml.contains("<transcodeDecision") && xml.contains("<transcodeStream"), "{xml}");
    assert_valid_against(&xsd, &xml);
    // The same ClientInfo as a form field (formPost) gets the same decision.
    let form = format!("{AUTH}&f=json&mediaId={flac}&mediaType=song&clientInfo={}", urlencode(MP3_AT_128));
    let r = http(
        l.d.port,
        "POST",
        "/rest/getTranscodeDecision",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(v["subsonic-response"]["transcodeDecision"], d);
    // getTranscodeStream sends what the decision said: mp3 at 128 kbps, by ffprobe.
    let r = l.stream(&flac, &params);
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("audio/mpeg")),
        "{}",
        r.text().chars().take(200).collect::<String>()
    );
    let (codec, kbps) = codec_and_kbps(&probe(&r.body, &dir, "decided.mp3"));
    assert_eq!(codec, "mp3");
    assert!((kbps - 128.0).abs() < 8.0, "{kbps} kbps");
    // The mp3 at 320 is over that device's cap too; under a higher cap it plays as it is.
    let d = l.decide(&mp3, MP3_AT_128);
    assert_eq!(d["transcodeStream"]["audioBitrate"].as_i64(), Some(128_000), "{d}");
    let d = l.decide(&mp3, &MP3_AT_128.replace("128000", "400000"));
    assert_eq!(d["canDirectPlay"].as_bool(), Some(true), "{d}");

    // A device that plays flac: direct play, and the stream is the file itself.
    let d = l.decide(&flac, PLAYS_FLAC);
    assert_eq!(d["canDirectPlay"].as_bool(), Some(true), "{d}");
    assert!(d["transcodeStream"].is_null(), "{d}");
    assert_valid_against(&xsd, &l.decide_raw(&flac, PLAYS_FLAC, "xml").text());
    let r = l.stream(&flac, d["transcodeParams"].as_str().unwrap());
    assert_eq!(r.header("content-type"), Some("audio/flac"));
    assert!(r.body == std::fs::read(l.d.fx.music.join("Artist/Album/01 Noise.flac")).unwrap());
    // A limitation the file fails (a mono device) refuses direct play.
    let d = l.decide(&flac, &PLAYS_FLAC.replace(r#"["2"]"#, r#"["1"]"#));
    assert_eq!(
        (d["canDirectPlay"].as_bool(), d["transcodeStream"]["codec"].as_str()),
        (Some(false), Some("mp3")),
        "{d}"
    );

    // Behind a player forced to aac, the forced format wins over what the device plays,
    // and getTranscodeStream keeps it whatever transcodeParams say (T37).
    let players = l.get_json("getPlayers", "");
    let pid = players["players"]["player"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(l.get_json("updatePlayer", &format!("id={pid}&format=aac"))["status"], "ok");
    let d = l.decide(&flac, PLAYS_FLAC);
    assert_eq!(d["canDirectPlay"].as_bool(), Some(false), "{d}");
    assert_eq!(
        (d["transcodeStream"]["codec"].as_str(), d["transcodeStream"]["audioBitrate"].as_i64()),
        (Some("aac"), Some(256_000)),
        "{d}"
    );
    let r = l.stream(&flac, d["transcodeParams"].as_str().unwrap());
    assert_eq!(codec_and_kbps(&probe(&r.body, &dir, "forced.aac")).0, "aac");
    let r = l.stream(&flac, "v1:raw");
    assert_eq!(r.header("content-type"), Some("audio/aac"), "forged params do not undo the player's format");
    assert_eq!(codec_and_kbps(&probe(&r.body, &dir, "forged.aac")).0, "aac");
    assert_eq!(l.get_json("updatePlayer", &format!("id={pid}&format=&maxBitRate=64"))["status"], "ok");
    let r = l.stream(&flac, "v1:mp3:320");
    let (codec, kbps) = codec_and_kbps(&probe(&r.body, &dir, "capped.mp3"));
    assert!(codec == "mp3" && kbps < 72.0, "the player's cap holds: {codec} {kbps}");
    assert_eq!(l.get_json("updatePlayer", &format!("id={pid}&maxBitRate=0"))["status"], "ok");

    // Bad requests: the right Subsonic errors, and HTTP statuses where the spec gives them.
    let failed = |id: &str, body: &str| {
        let r = l.decide_raw(id, body, "json");
        serde_json::from_str::<Value>(&r.text()).unwrap()["subsonic-response"].clone()
    };
    assert_eq!(error_code(&failed(&flac, "{not json")), 0);
    assert_eq!(error_code(&failed(&flac, "")), 10, "no ClientInfo");
    assert_eq!(
        error_code(&failed(
            &flac,
            r#"{"directPlayProfiles":[{"containers":[],"audioCodecs":[],"protocols":["gopher"]}]}"#
        )),
        0
    );
    assert_eq!(error_code(&failed("nope", MP3_AT_128)), 70);
    let no_type = http(
        l.d.port,
        "POST",
        &format!("/rest/getTranscodeDecision?{AUTH}&f=json&mediaId={flac}"),
        &[("Content-Type", "application/json")],
        MP3_AT_128.as_bytes(),
    )
    .unwrap();
    assert_eq!(error_code(&serde_json::from_str::<Value>(&no_type.text()).unwrap()["subsonic-response"]), 10);
    // By GET (or HEAD) it is 405, as in Navidrome: the spec defines it for POST only.
    for method in ["GET", "HEAD"] {
        let path = format!("/rest/getTranscodeDecision.view?{AUTH}&f=json&mediaId={flac}&mediaType=song");
        let r = http(l.d.port, method, &path, &[], b"").unwrap();
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("POST"), "{method}");
    }
    assert_eq!(l.stream(&flac, "mp3-please").status, 400);
    assert_eq!(l.get("getTranscodeStream", &format!("mediaId={flac}&mediaType=song")).status, 400);
    assert_eq!(l.stream("nope", &params).status, 404);

    // topSongsByArtistId: getTopSongs by the artist's id, valid against both specs.
    let artists = l.get_json("getArtists", "");
    let artist = artists["artists"]["index"][0]["artist"][0]["id"].as_str().unwrap().to_string();
    let r = l.get("getTopSongs", &format!("f=json&id={artist}"));
    assert_valid_json("getTopSongs", &r.text());
    let top: Value = serde_json::from_str(&r.text()).unwrap();
    let songs = top["subsonic-response"]["topSongs"]["song"].as_array().unwrap();
    assert_eq!(songs.len(), 2, "{top}");
    assert_valid_xml(&l.get("getTopSongs", &format!("id={artist}")).text());
    // The id wins over a name that names nobody; an unknown id is 70; neither is 10.
    let by_both = l.get_json("getTopSongs", &format!("id={artist}&artist=Nobody"));
    assert_eq!(by_both["topSongs"]["song"].as_array().map(Vec::len), Some(2));
    assert_eq!(error_code(&l.get_json("getTopSongs", "id=nope")), 70);
    assert_eq!(error_code(&l.get_json("getTopSongs", "")), 10);

    // A real client: py-opensonic's get_transcode_decision and get_transcode_stream.
    let out = run_client_script(&l.d, "transcode.py", &["--song", &flac, "--out", dir.to_str().unwrap()]);
    assert!(out.contains("ok   stream: mp3"), "{out}");
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[test]
fn removed_and_unimplemented_methods_say_so_and_why() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let mut d = Daemon::spawn(fx, Options::default());
    d.wait_ready();
    let get = |m: &str| http(d.port, "GET", &format!("/rest/{m}?{AUTH}&f=json"), &[], b"").unwrap();
    // search (v1): 410 Gone, as Navidrome answers it, with or without .view.
    for m in ["search", "search.view"] {
        assert_eq!(get(m).status, 410, "{m}");
    }
    for (m, why) in [
        ("getSonicSimilarTracks", "audio analysis"),
        ("findSonicPath", "audio analysis"),
        ("jukeboxControl", "audio output"),
        ("getPodcasts", "internet"),
        ("hls.m3u8", "plain HTTP"),
    ] {
        let r = get(m);
        let v: Value = serde_json::from_str(&r.text()).unwrap();
        let e = &v["subsonic-response"]["error"];
        assert_eq!(e["code"], 0, "{m}: {v}");
        let msg = e["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!("{m} is not implemented by this server: ")) && msg.contains(why),
            "{m}: {msg}"
        );
        assert_valid_json("ping", &r.text());
    }
}
