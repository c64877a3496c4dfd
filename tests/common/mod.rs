//! Starts the real `redoubt` binary the way a user does, as an unprivileged uid when the
//! tests run as root (CI), with fixture folders that uid can use.
#![allow(dead_code)]

pub mod browser;
pub mod library;
pub mod media;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The admin every started daemon has.
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-pass";

/// The uid/gid the daemon runs as when the tests run as root.
pub const UNPRIVILEGED: u32 = 65534;

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A test that needs root (CI) either runs, or says why not: it fails under CI=true.
pub fn require_root(what: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what}: needs root, and CI runs as root");
    }
    eprintln!("SKIPPED {what}: needs root");
    false
}

/// Whether python3 can import `module` (a PyPI client .ci/run installs). Missing: the test
/// fails under CI=true, and is skipped with a printed reason elsewhere.
pub fn python_module(module: &str, what: &str) -> bool {
    let importable = Command::new("python3").args(["-c", &format!("import {module}")]).output();
    if importable.as_ref().map(|o| o.status.success()).unwrap_or(false) {
        return true;
    }
    let why = match &importable {
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what}: python3 cannot import {module}: {why}");
    }
    eprintln!("SKIPPED {what}: python3 cannot import {module}: {why}");
    false
}

/// Runs one of tests/clients/*.py against the daemon; fails the test (with the script's and
/// the daemon's output) unless it exits 0. Returns its stdout.
pub fn run_client_script(d: &Daemon, script: &str, extra: &[&str]) -> String {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let port = d.port.to_string();
    let out = Command::new("python3")
        .arg(&path)
        .args(["--port", &port, "--user", ADMIN, "--password", ADMIN_PASSWORD])
        .args(extra)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(out.status.success(), "{script} failed ({}):\n{stdout}\n{stderr}\ndaemon:\n{}", out.status, d.log());
    stdout
}

/// A private folder for one test, with the binary copied where the unprivileged uid can
/// execute it (the checkout itself may not be reachable for that uid).
pub struct Fixture {
    pub dir: PathBuf,
    pub bin: PathBuf,
    pub music: PathBuf,
    pub data: PathBuf,
    /// Removes the folder when dropped.
    owned: bool,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Fixture {
    pub fn new() -> Fixture {
        let dir = std::env::temp_dir().join(format!(
            "redoubt-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("redoubt");
        std::fs::copy(env!("CARGO_BIN_EXE_redoubt"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let music = dir.join("music");
        let data = dir.join("data");
        std::fs::create_dir_all(&music).unwrap();
        std::fs::set_permissions(&music, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(music.join("song.txt"), b"not really a song").unwrap();
        std::fs::set_permissions(music.join("song.txt"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        if is_root() {
            chown_tree(&data, UNPRIVILEGED);
        }
        let fx = Fixture { dir, bin, music, data, owned: true };
        fx.own_config();
        fx
    }

    /// An empty `./redoubt.toml` in the fixture (where every command runs) unless one is
    /// there: found before `/etc/redoubt/redoubt.toml`, so no daemon or command of a test reads
    /// the machine's configuration, which tests/deb.rs installs while the other tests run.
    pub fn own_config(&self) {
        let p = self.dir.join("redoubt.toml");
        if !p.exists() {
            std::fs::write(&p, "# the tests' own (empty) configuration\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }

    /// The same folder; the returned value now owns it.
    pub fn take(&mut self) -> Fixture {
        self.owned = false;
        Fixture {
            dir: self.dir.clone(),
            bin: self.bin.clone(),
            music: self.music.clone(),
            data: self.data.clone(),
            owned: true,
        }
    }

    /// A command for the binary, as the unprivileged uid when we are root.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = if is_root() {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={UNPRIVILEGED}"),
                &format!("--regid={UNPRIVILEGED}"),
                "--clear-groups",
                "--inh-caps=-all",
            ]);
            c.arg(&self.bin);
            c
        } else {
            Command::new(&self.bin)
        };
        cmd.args(args).current_dir(&self.dir).env_remove("RUST_LOG");
        cmd
    }

    /// Runs `redoubt <args>` as the daemon's uid with `stdin` as standard input.
    pub fn cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        let mut full: Vec<&str> = args.to_vec();
        let data = self.data.display().to_string();
        let music = self.music.display().to_string();
        full.extend(["--data-folder", &data, "--music-folder", &music]);
        let mut child =
            self.command(&full).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn add_user(&self, name: &str, password: &str, admin: bool) {
        let mut args = vec!["user", "add", name];
        if admin {
            args.push("--admin");
        }
        let out = self.cli(&args, &format!("{password}\n"));
        assert!(out.status.success(), "user add: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn serve_args(&self, port: u16) -> Vec<String> {
        vec![
            "serve".into(),
            "--music-folder".into(),
            self.music.display().to_string(),
            "--data-folder".into(),
            self.data.display().to_string(),
            "--port".into(),
            port.to_string(),
        ]
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if std::thread::panicking() {
            eprintln!("fixture kept for inspection: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub fn chown_tree(p: &Path, uid: u32) {
    let _ = nix::unistd::chown(p, Some(uid.into()), Some(uid.into()));
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            chown_tree(&e.path(), uid);
        }
    }
}

/// Validates an XML answer against the OpenSubsonic-tolerant Subsonic 1.16.1 XSD.
pub fn assert_valid_xml(xml: &str) {
    let xsd = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/spec/subsonic-rest-api-1.16.1-os.xsd");
    let dir =
        std::env::temp_dir().join(format!("redoubt-xml-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst)));
    std::fs::write(&dir, xml).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--schema", xsd])
        .arg(&dir)
        .output()
        .expect("xmllint (Debian: libxml2-utils) is needed");
    let _ = std::fs::remove_file(&dir);
    assert!(out.status.success(), "invalid against the XSD:\n{}\n{xml}", String::from_utf8_lossy(&out.stderr));
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running daemon; killed (with its roles, by PDEATHSIG) when dropped.
pub struct Daemon {
    pub fx: Fixture,
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

#[derive(Default)]
pub struct Options {
    pub env: Vec<(String, String)>,
    pub extra_args: Vec<String>,
    pub wrapper: Vec<String>,
    pub config: Option<String>,
    /// Give the port in this environment variable instead of `--port`.
    pub port_env: Option<&'static str>,
    /// The `--music-folder` value (default: the fixture's music folder).
    pub music: Option<String>,
}

impl Daemon {
    pub fn start() -> Daemon {
        Self::start_with(Options::default())
    }

    /// Starts without waiting for it to answer.
    pub fn spawn(fx: Fixture, opts: Options) -> Daemon {
        let port = free_port();
        let log = fx.dir.join("daemon.log");
        let logf = std::fs::File::create(&log).unwrap();
        let mut args: Vec<String> = opts.wrapper.clone();
        let mut serve = fx.serve_args(port);
        if let Some(m) = &opts.music {
            serve[2] = m.clone();
        }
        if let Some(var) = opts.port_env {
            serve.truncate(serve.len() - 2);
            args.extend(serve);
            args.push("--log-level".into());
            args.push("info".into());
            let _ = var;
        } else {
            args.extend(serve);
        }
        if let Some(cfg) = &opts.config {
            let p = fx.dir.join("redoubt.toml");
            std::fs::write(&p, cfg).unwrap();
            args.push("--config".into());
            args.push(p.display().to_string());
        } else {
            fx.own_config();
        }
        args.extend(opts.extra_args.iter().cloned());
        let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let mut cmd = fx.command(&argv);
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        if let Some(var) = opts.port_env {
            cmd.env(var, port.to_string());
        }
        let child = cmd.stdout(Stdio::null()).stderr(logf).spawn().unwrap();
        Daemon { fx, child, port, log }
    }

    pub fn start_with(opts: Options) -> Daemon {
        let fx = Fixture::new();
        fx.add_user(ADMIN, ADMIN_PASSWORD, true);
        let mut d = Self::spawn(fx, opts);
        d.wait_ready();
        d
    }

    pub fn wait_ready(&mut self) {
        self.wait_ready_at("/rest/ping")
    }

    pub fn wait_ready_at(&mut self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("daemon exited early ({st}):\n{}", self.log());
            }
            if self.get(path).map(|r| r.status == 200).unwrap_or(false) {
                // The front answers `/rest/ping` without parameters on its own, before the
                // other roles may have started: wait (boundedly) for all four as well.
                while self.roles().len() < 4 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("daemon did not answer:\n{}", self.log());
    }

    /// Waits until `n` library scans have finished; returns the n-th "finished" log line.
    pub fn wait_scans(&self, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = self.log();
            let done: Vec<&str> = log.lines().filter(|l| l.contains(" finished: ")).collect();
            if done.len() >= n {
                return done[n - 1].to_string();
            }
            assert!(Instant::now() < deadline, "scan {n} never finished:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The supervisor is the child of setpriv's exec: same pid. Roles are its children.
    pub fn roles(&self) -> Vec<(String, i32)> {
        children(self.pid())
            .into_iter()
            .filter_map(|pid| {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let parts: Vec<String> =
                    cmd.split(|b| *b == 0).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
                (parts.get(1).map(|s| s.as_str()) == Some("role")).then(|| (parts[2].clone(), pid))
            })
            .collect()
    }

    /// The pid of `role`, waiting (boundedly) for it: the front may answer before the other
    /// roles have started.
    pub fn role_pid(&self, role: &str) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some((_, p)) = self.roles().into_iter().find(|(r, _)| r == role) {
                return p;
            }
            if Instant::now() > deadline {
                panic!("no {role} running:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a line in the log containing `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            if Instant::now() > deadline {
                panic!("log never contained {needle:?}:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn get(&self, path: &str) -> std::io::Result<HttpResponse> {
        http(self.port, "GET", path, &[], b"")
    }

    /// GET /rest/<method> as the admin, in JSON, with extra query parameters.
    pub fn rest(&self, method: &str, query: &str) -> serde_json::Value {
        let sep = if query.is_empty() { "" } else { "&" };
        let r = self
            .get(&format!("/rest/{method}?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test&f=json{sep}{query}"))
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
            ["subsonic-response"]
            .clone()
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// Stops (kills) the daemon and hands its fixture folder on.
    pub fn into_fixture(mut self) -> Fixture {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.fx.take()
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > deadline {
                panic!("daemon did not exit:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn children(ppid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // The command name is in parentheses and may contain spaces; fields follow the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<i32>().ok()) == Some(ppid) {
            out.push(pid);
        }
    }
    out
}

pub fn proc_status(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default()
}

pub fn status_field(status: &str, name: &str) -> String {
    status.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).map(|v| v.trim().to_string()).unwrap_or_default()
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A deliberately small HTTP/1.1 client (one request per connection).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    http_on(&mut s, method, path, headers, body)
}

pub fn http_on<S: Read + Write>(
    s: &mut S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Ok(HttpResponse { status, headers, body })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[pos + 2..pos + 2 + size]);
        b = &b[pos + 2 + size + 2..];
    }
    out
}

/// Owner uid of the entries in /proc/<pid>/ (environ, mem, fd): the kernel shows them as
/// root's for a non-dumpable process, whatever uid it runs as.
pub fn proc_owner(pid: i32) -> u32 {
    let owners: Vec<u32> = ["environ", "mem", "fd"]
        .iter()
        .map(|f| std::fs::metadata(format!("/proc/{pid}/{f}")).map(|m| m.uid()).unwrap_or(u32::MAX))
        .collect();
    if owners.iter().all(|o| *o == owners[0]) {
        owners[0]
    } else {
        u32::MAX
    }
}

/// Validates a JSON answer to `/rest/<method>` against the schema of that method's 200 response
/// in the OpenSubsonic OpenAPI document (tests/validate_json.py, Python's jsonschema).
pub fn assert_valid_json(method: &str, json: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/validate_json.py");
    let file = std::env::temp_dir().join(format!(
        "redoubt-json-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&file, json).unwrap();
    let out = Command::new("python3")
        .arg(script)
        .arg(method)
        .arg(&file)
        .output()
        .expect("python3 (with the jsonschema package) is needed");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{method}: invalid against the OpenAPI spec:\n{}{}\n{json}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The daemon's database, read-only. Waits for the broker to have made its WAL files: if the
/// test (root) opened the database first, root would own them and lock the broker out.
pub fn db(d: &Daemon) -> rusqlite::Connection {
    let shm = d.fx.data.join("redoubt.db-shm");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !shm.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    rusqlite::Connection::open_with_flags(d.fx.data.join("redoubt.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap()
}
