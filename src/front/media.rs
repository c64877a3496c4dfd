//! stream, download and getCoverArt. The broker answers with a file descriptor (a file the
//! transcoder opened, or ffmpeg's output pipe) or an image; the front copies it to the
//! client. It never opens a file itself: its landlock domain holds no path at all.

use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_TYPE, ETAG, IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, RANGE,
};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

use super::params::Params;
use super::subsonic::{Format, Node, Value};
use super::{plain, Body, Front, HttpResponse, Peer};
use crate::proto::media::{
    FileInfo, ImageInfo, LyricsAnswer, MediaAdminAnswer, MediaAnswer, MediaCall, StreamDetails, TranscodeDecision,
    TranscodeInfo, TranscodingInfo, ZipInfo,
};
use crate::proto::{Reply, Request};

/// Bytes read from a file per chunk.
const FILE_CHUNK: usize = 1024 * 1024;
/// Bytes read from ffmpeg's pipe per chunk.
const PIPE_CHUNK: usize = 64 * 1024;
/// Chunks queued between the copying task and the connection.
const QUEUE: usize = 2;

impl Front {
    /// stream, download, getCoverArt, once parsed (see `methods`), with the credentials from
    /// the parameters, or `given` (the web UI's session).
    #[allow(clippy::too_many_arguments)]
    pub async fn media(
        &self,
        format: &Format,
        call: MediaCall,
        p: &Params,
        headers: &HeaderMap,
        peer: &Peer,
        head: bool,
        given: Option<(crate::proto::Client, crate::proto::Credentials)>,
    ) -> HttpResponse {
        let (client, creds) = match given.map_or_else(|| self.caller(p, headers, peer), Ok) {
            Ok(c) => c,
            Err(e) => return self.failed(format, e),
        };
        let reply = match self.broker.call(&Request::Media { client, creds, call }, &[]).await {
            Ok(r) => r,
            Err(_) => return self.broker_trouble(format),
        };
        match reply.body {
            Reply::Media(Ok(answer)) => {
                serve_answer(answer, reply.fds, headers, head).unwrap_or_else(|| self.broker_trouble(format))
            }
            Reply::Media(Err(e)) => {
                let limited = e.retry_after.is_some();
                let mut r = self.failed(format, e);
                if limited {
                    *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                }
                r
            }
            _ => self.broker_trouble(format),
        }
    }
}

/// A media answer served: None if the fd it needs did not come with it.
pub fn serve_answer(
    answer: MediaAnswer,
    mut fds: Vec<OwnedFd>,
    headers: &HeaderMap,
    head: bool,
) -> Option<HttpResponse> {
    // A stream's second fd: held while its body is sent, dropped with it (getNowPlaying).
    let playing = match &answer {
        MediaAnswer::File(FileInfo { playing: true, .. })
        | MediaAnswer::Transcoded(TranscodeInfo { playing: true, .. }) => Some(fds.pop()?),
        _ => None,
    };
    Some(match answer {
        MediaAnswer::File(info) => serve_file(info, fds.pop()?, headers, head, playing),
        MediaAnswer::Transcoded(info) => serve_pipe(info, fds.pop()?, head, playing),
        MediaAnswer::Image(img) => serve_image(img, headers, head),
        MediaAnswer::Zip(info) => serve_zip(info, fds.pop()?, head),
    })
}

/// A zip the transcoder is writing: copied from its pipe as it comes (no length known).
fn serve_zip(info: ZipInfo, fd: OwnedFd, head: bool) -> HttpResponse {
    let body = if head { Body::empty() } else { copy_pipe(Vec::new(), fd, None, None) };
    let mut r = Response::new(body);
    set(&mut r, CONTENT_TYPE, "application/zip");
    set(&mut r, ACCEPT_RANGES, "none");
    set(&mut r, CONTENT_DISPOSITION, &content_disposition(&info.download_name));
    set(&mut r, CACHE_CONTROL, "no-store");
    r
}

/// A single byte range of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Range {
    /// No usable Range header: the whole file.
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

/// `Range: bytes=a-b | a- | -n`. Several ranges, other units, or bad syntax are ignored (the
/// whole file is sent, as RFC 9110 allows).
pub fn parse_range(header: Option<&str>, size: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Range::Whole };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return Range::Whole };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Range::Whole,
        (true, false) => match num(b) {
            None => Range::Whole,
            Some(0) => Range::Unsatisfiable,
            Some(_) if size == 0 => Range::Unsatisfiable,
            Some(n) => Range::Part(size - n.min(size), size - 1),
        },
        (false, _) => {
            let Some(first) = num(a) else { return Range::Whole };
            let last = if b.is_empty() {
                Some(u64::MAX)
            } else {
                match num(b) {
                    Some(l) if l >= first => Some(l),
                    _ => None,
                }
            };
            match last {
                None => Range::Whole,
                Some(_) if first >= size => Range::Unsatisfiable,
                Some(l) => Range::Part(first, l.min(size - 1)),
            }
        }
    }
}

fn header(h: &HeaderMap, name: hyper::header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn set(r: &mut HttpResponse, name: hyper::header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

fn serve_file(info: FileInfo, fd: OwnedFd, headers: &HeaderMap, head: bool, playing: Option<OwnedFd>) -> HttpResponse {
    let size = info.size;
    if header(headers, IF_NONE_MATCH).is_some_and(|v| v.split(',').any(|t| t.trim() == info.etag)) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        set(&mut r, ETAG, &info.etag);
        return r;
    }
    // If-Range: the range holds only for the version the client has.
    let range_header = match header(headers, IF_RANGE) {
        Some(v) if v.trim() != info.etag => None,
        _ => header(headers, RANGE),
    };
    let range = parse_range(range_header, size);
    let (status, first, len) = match range {
        Range::Whole => (StatusCode::OK, 0, size),
        Range::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        Range::Unsatisfiable => {
            let mut r = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
            set(&mut r, CONTENT_RANGE, &format!("bytes */{size}"));
            set(&mut r, ACCEPT_RANGES, "bytes");
            return r;
        }
    };
    let body = if head || len == 0 { Body::empty() } else { copy_file(std::fs::File::from(fd), first, len, playing) };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    set(&mut r, CONTENT_TYPE, &info.content_type);
    set(&mut r, CONTENT_LENGTH, &len.to_string());
    set(&mut r, ACCEPT_RANGES, "bytes");
    set(&mut r, ETAG, &info.etag);
    set(&mut r, LAST_MODIFIED, &crate::dates::http_date(info.mtime));
    set(&mut r, hyper::header::HeaderName::from_static("x-content-duration"), &format!("{:.2}", info.duration_secs));
    if status == StatusCode::PARTIAL_CONTENT {
        set(&mut r, CONTENT_RANGE, &format!("bytes {first}-{}/{size}", first + len - 1));
    }
    if let Some(name) = &info.download_name {
        set(&mut r, CONTENT_DISPOSITION, &content_disposition(name));
    }
    r
}

fn serve_pipe(info: TranscodeInfo, fd: OwnedFd, head: bool, playing: Option<OwnedFd>) -> HttpResponse {
    let body = if head { Body::empty() } else { copy_pipe(info.head, fd, info.estimated_length, playing) };
    let mut r = Response::new(body);
    set(&mut r, CONTENT_TYPE, &info.content_type);
    set(&mut r, ACCEPT_RANGES, "none");
    set(&mut r, hyper::header::HeaderName::from_static("x-content-duration"), &format!("{:.2}", info.duration_secs));
    if let Some(len) = info.estimated_length {
        set(&mut r, CONTENT_LENGTH, &len.to_string());
    }
    r
}

fn serve_image(img: ImageInfo, headers: &HeaderMap, head: bool) -> HttpResponse {
    let fresh = header(headers, IF_NONE_MATCH).is_some_and(|v| v.split(',').any(|t| t.trim() == img.etag));
    let mut r = if fresh {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let len = img.bytes.len();
        let mut r = Response::new(if head { Body::empty() } else { Body::full(img.bytes) });
        set(&mut r, CONTENT_TYPE, &img.content_type);
        set(&mut r, CONTENT_LENGTH, &len.to_string());
        r
    };
    set(&mut r, ETAG, &img.etag);
    // The id names the art of one album or song; a rescan that changes it changes the etag.
    // The placeholder stands in only until art appears (or the transcoder is back).
    let max_age = if img.placeholder { "public, max-age=300" } else { "public, max-age=31536000" };
    set(&mut r, CACHE_CONTROL, max_age);
    r
}

/// `attachment` with the name in RFC 5987 form (any UTF-8), plus a plain ASCII fallback.
fn content_disposition(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Copies `len` bytes of a file from `first` on, in chunks read on the blocking pool.
/// `playing` is dropped when the copy ends.
fn copy_file(file: std::fs::File, first: u64, len: u64, playing: Option<OwnedFd>) -> Body {
    let (tx, rx) = mpsc::channel(QUEUE);
    let file = Arc::new(file);
    tokio::spawn(async move {
        let _playing = playing;
        let end = first + len;
        let mut pos = first;
        while pos < end {
            let want = (end - pos).min(FILE_CHUNK as u64) as usize;
            let f = file.clone();
            let read = tokio::task::spawn_blocking(move || {
                let mut buf = BytesMut::zeroed(want);
                let n = f.read_at(&mut buf, pos)?;
                buf.truncate(n);
                Ok::<_, std::io::Error>(buf.freeze())
            })
            .await;
            let chunk = match read {
                Ok(Ok(b)) if !b.is_empty() => b,
                // The file shrank under us: end the response early (the client sees a short
                // body against its Content-Length, which is the truth).
                Ok(Ok(_)) => return,
                Ok(Err(e)) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                Err(_) => return,
            };
            pos += chunk.len() as u64;
            if tx.send(Ok(chunk)).await.is_err() {
                return; // the client went away
            }
        }
    });
    Body::Stream(rx)
}

/// Copies ffmpeg's output: what the transcoder read first, then the pipe to its end. With an
/// estimated length, the body is cut or zero-padded to exactly that many bytes, as the
/// Content-Length header promised. Dropping the pipe when the client goes away makes
/// ffmpeg's next write fail, and it exits.
fn copy_pipe(head: Vec<u8>, fd: OwnedFd, exact: Option<u64>, playing: Option<OwnedFd>) -> Body {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(async move {
        let _playing = playing;
        use tokio::io::AsyncReadExt;
        let mut left = exact.unwrap_or(u64::MAX);
        if !send_limited(&tx, &mut left, Bytes::from(head)).await {
            return;
        }
        let mut pipe = match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("ffmpeg's pipe: {e}");
                return;
            }
        };
        while left > 0 {
            let mut buf = BytesMut::with_capacity(PIPE_CHUNK);
            match pipe.read_buf(&mut buf).await {
                Ok(0) => break,
                Ok(_) => {
                    if !send_limited(&tx, &mut left, buf.freeze()).await {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
        // Dropping the pipe here (or above) is what stops ffmpeg.
        drop(pipe);
        if exact.is_some() {
            while left > 0 {
                let n = left.min(PIPE_CHUNK as u64) as usize;
                if !send_limited(&tx, &mut left, Bytes::from(vec![0u8; n])).await {
                    return;
                }
            }
        }
    });
    Body::Stream(rx)
}

/// Sends at most `left` bytes of `b`; false when the client has gone.
async fn send_limited(tx: &mpsc::Sender<std::io::Result<Bytes>>, left: &mut u64, mut b: Bytes) -> bool {
    if b.len() as u64 > *left {
        b.truncate(*left as usize);
    }
    *left -= b.len() as u64;
    b.is_empty() || tx.send(Ok(b)).await.is_ok()
}

fn transcoding_node(t: &TranscodingInfo) -> Node<'_> {
    Node::new("transcoding")
        .attr("id", t.id.as_str())
        .attr("name", t.name.as_str())
        .attr("targetFormat", t.target_format.as_str())
        .attr("defaultBitRate", t.default_bit_rate as i64)
        .attr("command", t.command.as_str())
}

pub fn render_admin(a: &MediaAdminAnswer) -> Option<Node<'_>> {
    match a {
        MediaAdminAnswer::Done => None,
        MediaAdminAnswer::Transcoding(t) => Some(transcoding_node(t)),
        MediaAdminAnswer::Transcodings(ts) => {
            Some(Node::new("transcodings").list("transcoding", ts.iter().map(transcoding_node).collect()))
        }
        MediaAdminAnswer::Players(ps) => Some(
            Node::new("players").list(
                "player",
                ps.iter()
                    .map(|p| {
                        Node::new("player")
                            .attr("id", p.id.as_str())
                            .attr("username", p.username.as_str())
                            .attr("client", p.client.as_str())
                            .opt("format", p.format.as_deref())
                            .attr("maxBitRate", p.max_bit_rate as i64)
                            .attr("lastSeen", crate::dates::iso8601_signed(p.last_seen))
                            .attr("lastAddress", p.last_addr.as_str())
                    })
                    .collect(),
            ),
        ),
    }
}

fn stream_details<'a>(name: &'static str, s: &'a StreamDetails) -> Node<'a> {
    let n = |v: Option<u32>| v.map(i64::from);
    Node::new(name)
        .attr("protocol", s.protocol.as_str())
        .attr("container", s.container.as_str())
        .attr("codec", s.codec.as_str())
        .opt("audioChannels", n(s.channels))
        .opt("audioBitrate", n(s.bit_rate))
        .opt("audioSamplerate", n(s.sample_rate))
        .opt("audioBitdepth", n(s.bit_depth))
}

/// OpenSubsonic `transcodeDecision`.
pub fn render_decision(d: &TranscodeDecision) -> Node<'_> {
    let mut n = Node::new("transcodeDecision")
        .attr("canDirectPlay", d.can_direct_play)
        .attr("canTranscode", d.can_transcode)
        .opt("errorReason", d.error_reason.as_deref())
        .opt("transcodeParams", d.transcode_params.as_deref());
    if !d.transcode_reasons.is_empty() {
        n = n.prim("transcodeReason", d.transcode_reasons.iter().map(|r| Value::from(r.as_str())).collect());
    }
    n = n.object(stream_details("sourceStream", &d.source));
    if let Some(t) = &d.transcode {
        n = n.object(stream_details("transcodeStream", t));
    }
    n
}

pub fn render_lyrics(a: &LyricsAnswer) -> Option<Node<'_>> {
    Some(match a {
        LyricsAnswer::Plain { artist, title, text } => {
            let mut n = Node::new("lyrics");
            if !artist.is_empty() {
                n = n.attr("artist", artist.as_str());
            }
            if !title.is_empty() {
                n = n.attr("title", title.as_str());
            }
            n.text = (!text.is_empty()).then(|| text.clone());
            n
        }
        LyricsAnswer::Structured(list) => {
            Node::new("lyricsList").list("structuredLyrics", list.iter().map(structured_lyrics).collect())
        }
    })
}

/// One structuredLyrics; songLyrics v2's `kind` and `cueLine` only when the broker kept cues
/// (an `enhanced=true` call: otherwise it answers the main layer without them).
fn structured_lyrics(l: &crate::proto::media::Lyrics) -> Node<'_> {
    let enhanced = l.kind != "main" || l.lines.iter().any(|x| !x.cues.is_empty());
    let n = Node::new("structuredLyrics")
        .attr("displayArtist", l.display_artist.as_str())
        .attr("displayTitle", l.display_title.as_str())
        .attr("lang", l.lang.as_str())
        .attr("synced", l.synced)
        .opt("offset", l.offset)
        .opt("kind", enhanced.then_some(l.kind.as_str()))
        .list(
            "line",
            l.lines
                .iter()
                .map(|line| {
                    let mut n = Node::new("line").opt("start", line.start);
                    n.text = Some(line.value.clone());
                    n
                })
                .collect(),
        );
    if !enhanced || !l.synced {
        return n;
    }
    let cue_lines = l
        .lines
        .iter()
        .enumerate()
        .filter(|(_, line)| !line.cues.is_empty())
        .map(|(i, line)| {
            Node::new("cueLine")
                .attr("index", i as i64)
                .opt("start", line.start)
                .opt("end", line.end)
                .attr("value", line.value.as_str())
                .list(
                    "cue",
                    line.cues
                        .iter()
                        .map(|c| {
                            Node::new("cue")
                                .attr("start", c.start)
                                .opt("end", c.end)
                                .attr("byteStart", c.byte_start as i64)
                                .attr("byteEnd", c.byte_end as i64)
                                .attr("value", c.value.as_str())
                        })
                        .collect(),
                )
        })
        .collect();
    n.list("cueLine", cue_lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |h: &str, size| parse_range(Some(h), size);
        assert_eq!(parse_range(None, 100), Range::Whole);
        assert_eq!(r("bytes=0-9", 100), Range::Part(0, 9));
        assert_eq!(r("bytes=10-", 100), Range::Part(10, 99));
        assert_eq!(r("bytes=-10", 100), Range::Part(90, 99));
        assert_eq!(r("bytes=-1000", 100), Range::Part(0, 99));
        assert_eq!(r("bytes=50-1000", 100), Range::Part(50, 99));
        assert_eq!(r("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(r("bytes=100-200", 100), Range::Unsatisfiable);
        assert_eq!(r("bytes=-0", 100), Range::Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), Range::Unsatisfiable);
        assert_eq!(r("bytes=9-0", 100), Range::Whole, "invalid: ignored");
        assert_eq!(r("bytes=0-1,5-6", 100), Range::Whole, "several ranges: the whole file");
        assert_eq!(r("items=0-1", 100), Range::Whole);
        assert_eq!(r("bytes=x-1", 100), Range::Whole);
    }

    #[test]
    fn dispositions() {
        assert_eq!(content_disposition("a b.mp3"), "attachment; filename=\"a b.mp3\"; filename*=UTF-8''a%20b.mp3");
        let d = content_disposition("Sigur Rós \"x\".flac");
        assert!(d.contains("filename=\"Sigur R_s _x_.flac\""), "{d}");
        assert!(d.contains("R%C3%B3s%20%22x%22.flac"), "{d}");
    }
}
