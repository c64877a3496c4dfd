//! Browser tests: Debian's chromium, headless, driven by playwright-core from a node script in
//! `tests/browser/` (helpers in `tests/browser/lib.mjs`), against the real daemon. A Rust test
//! checks the stack is there ([`browser_stack`]), serves its pages from another origin
//! ([`Origin`]), runs the script ([`run_script`]) and asserts on the JSON it prints.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// `tests/browser/`: the node scripts, their package.json and lock, and `node_modules/` once
/// `npm ci` has run there.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// `tests/browser/pages/`: the static pages the tests serve from another origin.
pub fn pages_dir() -> PathBuf {
    browser_dir().join("pages")
}

/// The chromium the scripts launch (lib.mjs reads the same variable).
pub fn chromium_path() -> PathBuf {
    std::env::var_os("REDOUBT_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// `target/ui-screenshots/`, where the scripts save screenshots.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target folder").join("ui-screenshots")
}

/// What of the browser stack is missing: node, chromium, or the npm packages.
pub fn missing_browser_stack() -> Vec<String> {
    let mut missing = Vec::new();
    let node = Command::new("node").arg("--version").output();
    if !node.map(|o| o.status.success()).unwrap_or(false) {
        missing.push("node (Debian: nodejs)".to_string());
    }
    let chromium = chromium_path();
    if !chromium.is_file() {
        missing.push(format!("{} (Debian: chromium)", chromium.display()));
    }
    for package in ["playwright-core", "axe-core"] {
        let manifest = browser_dir().join("node_modules").join(package).join("package.json");
        if !manifest.is_file() {
            missing.push(format!("{} (cd tests/browser && npm ci)", manifest.display()));
        }
    }
    missing
}

/// Whether the browser stack is there. Missing: the test fails under CI=true (`.ci/run`
/// installs it), and is skipped with a printed reason elsewhere.
pub fn browser_stack(what: &str) -> bool {
    let missing = missing_browser_stack();
    if missing.is_empty() {
        return true;
    }
    let why = format!("{what}: the browser stack is missing: {}; `bash .ci/run` installs it", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}");
    }
    eprintln!("SKIPPED {why}");
    false
}

/// What a script run gave: its JSON result (the last line of standard output) and its output.
pub struct ScriptRun {
    pub result: Value,
    pub stdout: String,
    pub stderr: String,
}

impl ScriptRun {
    /// The result, indented, for failure messages.
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(&self.result).unwrap_or_default()
    }
}

/// Runs `node tests/browser/<script> <args…>` (in its own process group, killed whole after
/// `timeout`) and returns its result. Fails the test when the script cannot run, prints no
/// JSON, or reports `fatal` (chromium did not start, the page could not be driven);
/// `context()` (the daemon's log, say) is added to that message.
pub fn run_script(script: &str, args: &[&str], timeout: Duration, context: impl Fn() -> String) -> ScriptRun {
    let mut child = Command::new("node")
        .arg(browser_dir().join(script))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("REDOUBT_SCREENSHOTS", screenshot_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("running node {script}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::SIGKILL);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let Some(status) = status else {
        panic!("node {script} took longer than {timeout:?}:\n{stdout}\n{stderr}\n{}", context());
    };
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    let result: Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!("node {script} ({status}) printed no JSON result ({e}):\n{stdout}\n{stderr}\n{}", context())
    });
    if let Some(fatal) = result.get("fatal") {
        panic!("node {script} ({status}): {}\n{stderr}\n{}", fatal.as_str().unwrap_or_default(), context());
    }
    assert!(status.success(), "node {script} exited {status}:\n{stdout}\n{stderr}\n{}", context());
    ScriptRun { result, stdout, stderr }
}

/// Asserts the page had no console error, uncaught exception, CSP violation or failed request
/// (the arrays `watch` in lib.mjs fills), except console errors containing one of `allowed`.
pub fn assert_no_page_problems(run: &ScriptRun, allowed: &[&str]) {
    let r = &run.result;
    let list = |k: &str| r[k].as_array().cloned().unwrap_or_default();
    let console: Vec<Value> = list("consoleErrors")
        .into_iter()
        .filter(|e| !allowed.iter().any(|a| e["text"].as_str().unwrap_or("").contains(a)))
        .collect();
    for (name, found) in [
        ("console errors", console),
        ("uncaught errors", list("pageErrors")),
        ("CSP violations", list("cspViolations")),
        ("failed requests", list("failedRequests")),
    ] {
        assert!(found.is_empty(), "{name} on the page: {found:#?}\nresult: {}", run.pretty());
    }
}

/// A static site on another origin: serves one folder's files over HTTP/1.1 from `127.0.0.2`
/// (a second loopback address, so the page's origin differs from the daemon's on 127.0.0.1 in
/// host as well as port), one request per connection. Stops when dropped.
pub struct Origin {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Origin {
    /// Serves `dir` with `headers` added to every answer (a CSP, say).
    pub fn serve(dir: &Path, headers: &[(&str, &str)]) -> Origin {
        let listener = TcpListener::bind("127.0.0.2:0").unwrap_or_else(|e| panic!("bind 127.0.0.2: {e}"));
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let dir = dir.to_path_buf();
        let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, halt) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (dir, headers, log) = (dir.clone(), headers.clone(), log.clone());
                        std::thread::spawn(move || {
                            let _ = answer(conn, &dir, &headers, &log);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Origin { addr, requests, stop, thread: Some(thread) }
    }

    /// `http://127.0.0.2:<port>` (no trailing slash).
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of `path` ("/cors.html").
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// The request lines served so far ("GET /cors.html 200").
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    }
}

/// One request: GET or HEAD of a file under `dir` (no `..`, no escapes), else 404 or 405.
fn answer(
    mut conn: TcpStream,
    dir: &Path,
    extra: &[(String, String)],
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // The request's headers: nothing here depends on them.
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split(['?', '#']).next().unwrap_or("");
    let rel = Path::new(path.trim_start_matches('/'));
    let safe =
        path.starts_with('/') && !path.contains('%') && rel.components().all(|c| matches!(c, Component::Normal(_)));
    let file = if path == "/" { dir.join("index.html") } else { dir.join(rel) };
    let (status, body, ctype) = match (method, safe, std::fs::read(&file)) {
        ("GET" | "HEAD", true, Ok(b)) => ("200 OK", b, content_type(&file)),
        ("GET" | "HEAD", _, _) => ("404 Not Found", b"not found\n".to_vec(), "text/plain; charset=utf-8"),
        _ => ("405 Method Not Allowed", b"GET or HEAD\n".to_vec(), "text/plain; charset=utf-8"),
    };
    log.lock().unwrap().push(format!("{method} {target} {}", &status[..3]));
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    conn.write_all(out.as_bytes())?;
    if method != "HEAD" {
        conn.write_all(&body)?;
    }
    conn.flush()
}
