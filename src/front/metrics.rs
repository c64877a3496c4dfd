//! The Prometheus endpoint (Prometheus.Enabled; docs/security.md T33): served by the front
//! at Prometheus.MetricsPath below BaseUrl, outside `/rest`, behind its own credential (HTTP
//! Basic with Prometheus.Password, or a bearer token), never the Subsonic one.
//!
//! The front counts what it sees: `/rest` requests by method and status, their latency, and
//! the answer cache's hits. Everything else (scans, failed logins, transcodes, restarts, the
//! database's size) is the broker's, asked for on each scrape ([`Request::Metrics`]) and
//! written out beside the front's own.
//!
//! Labels are bounded: methods only from the method table (anything else is `unknown`),
//! HTTP statuses and Subsonic error codes as they are (a few dozen), restart causes as the
//! broker bounds them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use bytes::Bytes;
use hyper::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::{Response, StatusCode};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{plain, Body, HttpResponse};
use crate::proto::metrics::{BrokerMetrics, MetricsInit};

/// Failed credentials one address may send within [`FAILURE_WINDOW`]; past that its
/// requests are answered 429 unchecked, so guessing the credential is slow.
const FAILURES_ALLOWED: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses whose failures are remembered at most (the map is emptied past it).
const MAX_TRACKED: usize = 4096;

/// Refusals are logged at most once a second, with a count.
static REFUSALS: super::limits::Throttle = super::limits::Throttle::new();

const CONTENT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    status: u16,
    /// The Subsonic error code of a failed answer, `none` for a good one.
    error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabel {
    result: &'static str,
}

/// Why a scrape was refused before its credential was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Unauthorized,
    Limited { wait_secs: u64 },
}

/// A Subsonic error code, put on the response by `rest::respond` for the counters.
#[derive(Debug, Clone, Copy)]
pub struct SubsonicError(pub i64);

pub struct Metrics {
    pub path: String,
    credentials: MetricsInit,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<MethodLabel, Histogram, fn() -> Histogram>,
    cache: Family<CacheLabel, Counter>,
    failures: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Metrics {
    pub fn new(init: MetricsInit) -> Metrics {
        let mut registry = Registry::with_prefix("redoubt");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "rest_requests",
            "Requests to /rest by Subsonic method (unknown for names outside the method table), HTTP status and \
             Subsonic error code",
            requests.clone(),
        );
        let latency = Family::<MethodLabel, Histogram>::new_with_constructor(
            // 1 ms to about 16 s: a cached list to a slow search or a transcode starting.
            (|| Histogram::new(exponential_buckets(0.001, 2.0, 15))) as fn() -> Histogram,
        );
        registry.register_with_unit(
            "rest_request_duration",
            "Time from a /rest request's arrival to its answer's headers (a stream's body is not included)",
            Unit::Seconds,
            latency.clone(),
        );
        let cache = Family::<CacheLabel, Counter>::default();
        registry.register(
            "answer_cache_lookups",
            "Cacheable library answers: hit (the broker said the cached copy is current) or miss (rendered anew)",
            cache.clone(),
        );
        Metrics {
            path: init.path.clone(),
            credentials: init,
            registry,
            requests,
            latency,
            cache,
            failures: Mutex::default(),
        }
    }

    /// One `/rest` request, answered with `r` after `took`.
    pub fn record<B>(&self, method: &str, r: &Response<B>, took: Duration) {
        let method = super::methods::find(method).map(|m| m.name).unwrap_or("unknown");
        let error = r.extensions().get::<SubsonicError>().map_or("none", |e| error_label(e.0));
        self.requests.get_or_create(&RequestLabels { method, status: r.status().as_u16(), error }).inc();
        self.latency.get_or_create(&MethodLabel { method }).observe(took.as_secs_f64());
    }

    pub fn cache_lookup(&self, hit: bool) {
        self.cache.get_or_create(&CacheLabel { result: if hit { "hit" } else { "miss" } }).inc();
    }

    /// Whether `headers` carry the endpoint's credential; failures from `addr` are limited.
    fn check(&self, headers: &HeaderMap, addr: &str) -> Result<(), Refusal> {
        // An IPv6 client by its /64, as the broker's limiter counts it.
        let addr = &crate::broker::limiter::address_group(addr);
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((since, n)) = failures.get(addr) {
            let age = now.duration_since(*since);
            if age < FAILURE_WINDOW && *n >= FAILURES_ALLOWED {
                return Err(Refusal::Limited { wait_secs: FAILURE_WINDOW.saturating_sub(age).as_secs().max(1) });
            }
        }
        if self.accepts(headers) {
            return Ok(());
        }
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (since, _)| now.duration_since(*since) < FAILURE_WINDOW);
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        let entry = failures.entry(addr.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= FAILURE_WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        REFUSALS.note(|held| {
            let more = if held == 0 { String::new() } else { format!(" (and {held} more since the last line)") };
            tracing::info!("metrics: refused a request from {addr} without the right credential{more}");
        });
        Err(Refusal::Unauthorized)
    }

    fn refused(&self, why: Refusal) -> HttpResponse {
        match why {
            Refusal::Unauthorized => self.unauthorized(),
            Refusal::Limited { wait_secs } => {
                let mut r = plain(StatusCode::TOO_MANY_REQUESTS, "too many failed attempts; try again later\n");
                r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(wait_secs));
                no_store(r)
            }
        }
    }

    fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(auth) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
        let Some((scheme, value)) = auth.trim().split_once(' ') else { return false };
        let value = value.trim();
        let (given, expected) = if scheme.eq_ignore_ascii_case("basic") {
            let mut buf = [0u8; 512];
            let Ok(decoded) = Base64::decode(value, &mut buf) else { return false };
            // Any user name: the password is the credential (as Navidrome's).
            let Some(colon) = decoded.iter().position(|b| *b == b':') else { return false };
            (Sha256::digest(&decoded[colon + 1..]), self.credentials.password_sha256)
        } else if scheme.eq_ignore_ascii_case("bearer") {
            (Sha256::digest(value.as_bytes()), self.credentials.token_sha256)
        } else {
            return false;
        };
        expected.is_some_and(|e| bool::from(e.ct_eq(given.as_slice())))
    }

    fn unauthorized(&self) -> HttpResponse {
        let mut r = plain(StatusCode::UNAUTHORIZED, "the metrics endpoint needs its credential\n");
        let mut challenges = Vec::new();
        if self.credentials.password_sha256.is_some() {
            challenges.push(r#"Basic realm="redoubt metrics", charset="UTF-8""#);
        }
        if self.credentials.token_sha256.is_some() {
            challenges.push(r#"Bearer realm="redoubt metrics""#);
        }
        r.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_str(&challenges.join(", ")).expect("ASCII"));
        no_store(r)
    }

    /// A scrape: the credential, then the broker's counts, then the text.
    pub async fn serve(
        &self,
        front: &super::Front,
        method: &hyper::Method,
        headers: &HeaderMap,
        addr: &str,
    ) -> HttpResponse {
        if let Err(why) = self.check(headers, addr) {
            return self.refused(why);
        }
        if method != hyper::Method::GET && method != hyper::Method::HEAD {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "GET the metrics\n");
            r.headers_mut().insert(hyper::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return no_store(r);
        }
        let broker = match front.broker.call(&crate::proto::Request::Metrics, &[]).await {
            Ok(r) => match r.body {
                crate::proto::Reply::Metrics(m) => m,
                _ => return no_store(plain(StatusCode::SERVICE_UNAVAILABLE, "the broker did not answer\n")),
            },
            Err(_) => return no_store(plain(StatusCode::SERVICE_UNAVAILABLE, "the broker is restarting\n")),
        };
        let mut text = String::with_capacity(16 * 1024);
        let written = encode_registry(&mut text, &self.registry)
            .and_then(|()| encode_registry(&mut text, &broker_registry(&broker)))
            .and_then(|()| encode_eof(&mut text));
        if written.is_err() {
            return no_store(plain(StatusCode::INTERNAL_SERVER_ERROR, "the metrics could not be written\n"));
        }
        let mut r =
            Response::new(if method == hyper::Method::HEAD { Body::empty() } else { Body::full(Bytes::from(text)) });
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT));
        no_store(r)
    }
}

fn no_store(mut r: HttpResponse) -> HttpResponse {
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Subsonic error codes as labels: the codes the protocol defines, anything else `other`.
fn error_label(code: i64) -> &'static str {
    match code {
        0 => "0",
        10 => "10",
        20 => "20",
        30 => "30",
        40 => "40",
        41 => "41",
        42 => "42",
        43 => "43",
        44 => "44",
        50 => "50",
        60 => "60",
        70 => "70",
        _ => "other",
    }
}

/// The broker's counts as metric families, made for one scrape.
fn broker_registry(m: &BrokerMetrics) -> Registry {
    let mut reg = Registry::with_prefix("redoubt");
    let counter = |v: u64| {
        let c = Counter::<u64>::default();
        c.inc_by(v);
        c
    };
    let gauge = |v: i64| {
        let g = Gauge::<i64>::default();
        g.set(v);
        g
    };
    let fgauge = |v: f64| {
        let g = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        g.set(v);
        g
    };
    let s = &m.scans;
    let scans = Family::<[(&'static str, &'static str); 1], Counter>::default();
    for (outcome, n) in [("completed", s.completed), ("failed", s.failed), ("interrupted", s.interrupted)] {
        scans.get_or_create(&[("outcome", outcome)]).inc_by(n);
    }
    reg.register("scans", "Library scans ended, by outcome (interrupted: the scanner died; it is run again)", scans);
    reg.register("scan_files", "Files read by completed scans", counter(s.files));
    reg.register("scan_problems", "Files completed scans could not read, or read with a warning", counter(s.problems));
    let seconds = Counter::<f64, std::sync::atomic::AtomicU64>::default();
    seconds.inc_by(s.seconds);
    reg.register_with_unit("scan_duration", "Time spent in completed scans", Unit::Seconds, seconds);
    reg.register("scan_running", "1 while a scan runs", gauge(s.running as i64));
    if let Some((secs, files, problems)) = s.last {
        reg.register_with_unit("last_scan_duration", "The last completed scan's duration", Unit::Seconds, fgauge(secs));
        reg.register("last_scan_files", "Files the last completed scan read", gauge(files as i64));
        reg.register("last_scan_problems", "Files the last completed scan could not read", gauge(problems as i64));
    }
    let a = &m.auth;
    reg.register(
        "auth_failures",
        "Credential checks that failed (passwords, tokens, API keys, web logins, the setup code)",
        counter(a.failures),
    );
    reg.register("auth_refused", "Credential checks refused unchecked while a rate limit was full", counter(a.refused));
    reg.register("auth_lockouts", "Users locked out after too many failures from any address", counter(a.lockouts));
    let t = &m.transcodes;
    reg.register("transcodes_running", "Transcodes running now", gauge(t.running as i64));
    reg.register("transcodes_started", "Transcodes admitted", counter(t.started));
    let refused = Family::<[(&'static str, &'static str); 1], Counter>::default();
    refused.get_or_create(&[("cap", "server")]).inc_by(t.refused_server_cap);
    refused.get_or_create(&[("cap", "user")]).inc_by(t.refused_user_cap);
    reg.register(
        "transcodes_refused",
        "Transcodes refused at Transcoding.MaxConcurrent (server) or Transcoding.MaxConcurrentPerUser (user)",
        refused,
    );
    let restarts = Family::<[(&'static str, String); 2], Counter>::default();
    for (role, cause, n) in &m.restarts {
        restarts.get_or_create(&[("role", role.name().to_string()), ("cause", cause.clone())]).inc_by(*n);
    }
    reg.register(
        "role_restarts",
        "Roles the supervisor restarted, by role and cause (exit, or the signal that killed it)",
        restarts,
    );
    reg.register_with_unit(
        "database_size",
        "The database's files (main and write-ahead log)",
        Unit::Bytes,
        gauge(m.database_bytes as i64),
    );
    reg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics::new(MetricsInit {
            path: "/metrics".into(),
            password_sha256: Some(Sha256::digest(b"sesame").into()),
            token_sha256: None,
        })
    }

    fn basic(user_pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = format!("Basic {}", Base64::encode_string(user_pass.as_bytes()));
        h.insert(AUTHORIZATION, HeaderValue::from_str(&v).unwrap());
        h
    }

    #[test]
    fn only_the_password_opens_it_and_guessing_is_limited_per_address() {
        let m = metrics();
        assert!(m.check(&basic("anyone:sesame"), "a").is_ok());
        assert!(m.check(&basic("sesame:"), "a").is_err(), "the password is after the colon");
        let mut bearer = HeaderMap::new();
        bearer.insert(AUTHORIZATION, HeaderValue::from_static("Bearer sesame"));
        assert_eq!(m.check(&bearer, "a").unwrap_err(), Refusal::Unauthorized, "no token is configured");
        let r = m.refused(m.check(&HeaderMap::new(), "b").unwrap_err());
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers()[WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic "));
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
        for _ in 1..FAILURES_ALLOWED {
            assert_eq!(m.check(&basic("x:wrong"), "b").unwrap_err(), Refusal::Unauthorized);
        }
        // The address has used its failures: even the right password is not checked now.
        let limited = m.refused(m.check(&basic("x:sesame"), "b").unwrap_err());
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(limited.headers().contains_key(RETRY_AFTER));
        assert!(m.check(&basic("x:sesame"), "c").is_ok(), "another address is not affected");
        // IPv6 clients count by their /64: inventing addresses in it does not help.
        for i in 0..FAILURES_ALLOWED {
            assert_eq!(m.check(&basic("x:wrong"), &format!("2001:db8::{i:x}")).unwrap_err(), Refusal::Unauthorized);
        }
        let limited = m.check(&basic("x:sesame"), "2001:db8::ffff").unwrap_err();
        assert!(matches!(limited, Refusal::Limited { .. }), "{limited:?}");
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let m = metrics();
        let r = Response::new(());
        for name in ["ping", "ping.view", "nonsense1", "nonsense2"] {
            m.record(name, &r, Duration::from_millis(2));
        }
        let mut text = String::new();
        encode_registry(&mut text, &m.registry).unwrap();
        assert!(text.contains(r#"redoubt_rest_requests_total{method="ping",status="200",error="none"} 2"#), "{text}");
        assert!(
            text.contains(r#"redoubt_rest_requests_total{method="unknown",status="200",error="none"} 2"#),
            "{text}"
        );
        assert!(!text.contains("nonsense"));
    }
}
