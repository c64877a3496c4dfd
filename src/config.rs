//! Configuration: embedded defaults < TOML file < environment (`ND_…`, then `REDOUBT_…`) <
//! command-line flags. Option names are Navidrome's where the meaning is the same, matched
//! case-insensitively, so an existing navidrome.toml mostly just works.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every option redoubt understands: (name, default, what it does). docs/configuration.md
/// is checked against this table by a test.
pub const OPTIONS: &[(&str, &str, &str)] = &[
    ("MusicFolder", "./music", "Folder with your music, read-only to redoubt; several as a TOML array, or separated by ':' in the environment and flags (each is a Subsonic music folder)"),
    ("DataFolder", "./data", "Folder for the database and the key file (created 0700)"),
    ("CacheFolder", "<DataFolder>/cache", "Folder for transcoding and artwork caches"),
    ("Address", "127.0.0.1", "Address to listen on, or unix:/path for a unix socket"),
    ("Port", "4533", "TCP port to listen on"),
    ("UnixSocketPerm", "0660", "Permissions of the unix socket when Address is unix:/path"),
    ("BaseUrl", "", "Path prefix when served below a reverse proxy's sub-path"),
    ("LogLevel", "info", "error, warn, info, debug or trace"),
    ("PasswordEncryptionKey", "", "Passphrase the password-encryption key is derived from (argon2id); empty: a random key file in DataFolder, or the systemd credential password-encryption-key"),
    ("PreviousPasswordEncryptionKey", "", "The former PasswordEncryptionKey, during a key rotation"),
    ("AuthRequestLimit", "5", "Failed credential checks allowed per client address and user within AuthWindowLength; 0 disables the limit"),
    ("AuthWindowLength", "20s", "The sliding window of AuthRequestLimit; 0 disables the limit"),
    ("SessionTimeout", "48h", "Web sessions end after this long unused"),
    ("Auth.SessionMaxAge", "720h", "Web sessions end this long after login, however active; 0 disables"),
    ("Auth.SubsonicPasswords", "true", "Accept Subsonic password (p) and token (t, s) authentication; false leaves API keys and ExtAuth"),
    ("ExtAuth.TrustedSources", "", "Reverse proxies trusted to name the user in ExtAuth.UserHeader and to set X-Forwarded-*: comma-separated IPs or CIDRs, and @ for unix-socket peers"),
    ("ExtAuth.UserHeader", "Remote-User", "The header a trusted proxy names the user in"),
    ("ExtAuth.LogoutURL", "", "Where the web UI's logout sends the browser behind a trusted proxy (the proxy's own logout), once redoubt's session has ended: an http(s) URL or a path; empty: the login page"),
    ("IgnoredArticles", "The El La Los Las Le Les Os As O A", "Articles ignored when sorting and indexing artist names"),
    ("Scanner.ScanOnStartup", "true", "Scan (incrementally) when the daemon starts"),
    ("Scanner.Schedule", "", "When to scan: cron syntax (UTC) like \"0 3 * * *\", or \"@every 1h\"; empty: no schedule"),
    ("Scanner.WatcherWait", "5s", "Scan a folder this long after its last filesystem change (inotify); 0 disables the watcher"),
    ("Scanner.GenreSeparators", ";/,", "Characters that split a single genre tag into several genres"),
    ("Scanner.ArtistSeparators", " feat. | ft. | / |; ", "Strings, separated by |, that split a single artist tag into several artists (spaces count); multi-valued ARTISTS tags always win"),
    ("Scanner.FileTimeout", "30s", "A file whose tags take longer than this to read is recorded as a problem"),
    ("Scanner.PurgeMissing", "never", "Delete songs whose files are missing at the end of a scan: never (keep them marked missing), always, or full (after full scans only); moved files keep their stars and plays either way"),
    ("PlaylistsPath", ".:**/**", "Where .m3u playlists are imported from: folders relative to each music folder, separated by ':', with * for one folder name and ** for any depth (. is the music folder itself)"),
    ("AutoImportPlaylists", "true", "Import .m3u playlists found in PlaylistsPath; false imports none"),
    ("EnableDownloads", "true", "Allow the download endpoint (original files)"),
    ("EnableSharing", "true", "Allow users to share songs, albums and playlists as public /share/ pages (createShare)"),
    ("ShareURL", "", "The public base URL share links start with (https://music.example); empty: derived from the request (X-Forwarded-* only from ExtAuth.TrustedSources)"),
    ("DefaultShareExpiration", "8760h", "How long a share lasts when createShare names no expiry; 0: never expires"),
    ("DefaultDownloadableShare", "false", "Whether a new share offers its songs as one zip download unless createShare says otherwise"),
    ("EnableTranscodingConfig", "false", "Allow admins to create, edit and delete transcoding profiles; commands may only run the configured ffmpeg"),
    ("FFmpegPath", "", "The ffmpeg to run for transcoding; empty: ffmpeg from PATH, resolved at start. The transcoder may execute this one program"),
    ("DefaultDownsamplingFormat", "opus", "Format used when a client asks only for a lower maxBitRate than the song has"),
    ("Transcoding.MaxConcurrent", "0", "Transcodes running at once, all users together; 0: twice the number of CPU cores"),
    ("Transcoding.MaxConcurrentPerUser", "2", "Transcodes running at once for one user"),
    ("CoverArtPriority", "cover.*, folder.*, front.*, embedded", "Where album art comes from, in order: image file name patterns in the album's folder, and embedded pictures"),
    ("LyricsPriority", ".lrc,.ttml,.srt,.txt,embedded", "Where lyrics come from, in order: sidecar files with the song's name and these suffixes, and the embedded lyrics tag"),
    ("Limits.MaxConnections", "0", "Connections open at once, all clients together; 0: half the front's file-descriptor limit (raised to its hard limit at start), at most 10000"),
    ("Limits.MaxConnectionsPerClient", "128", "Connections open at once from one client address (an IPv6 /64 counts as one); behind a trusted proxy, that client's requests in flight"),
    ("Limits.MaxConnectionsPerProxy", "2048", "Connections open at once from one proxy in ExtAuth.TrustedSources"),
    ("Limits.RequestTimeout", "30s", "A request's body must arrive within this after its headers; a slower one is answered 408 and its connection closed. Songs being sent are never cut"),
    ("Limits.IdleTimeout", "60s", "A connection must send the headers of its next request within this, or it is closed"),
    ("Backup.Path", "", "Folder for database backups (created 0700; each backup 0600); empty: no backups"),
    ("Backup.Schedule", "", "When to back up, in Scanner.Schedule's syntax (cron in UTC, or \"@every 24h\"); empty: only `redoubt backup create`"),
    ("Backup.Count", "7", "Backups kept in Backup.Path; older ones are removed after each backup; 0 keeps all"),
    ("TLSCert", "", "PEM certificate chain (leaf first) to serve HTTPS with (TLS 1.3 only); needs TLSKey. Re-read on SIGHUP"),
    ("TLSKey", "", "PEM private key of TLSCert (PKCS#8, SEC1 EC or PKCS#1 RSA); read by the supervisor and held by the broker only, never by the network-facing front. Re-read on SIGHUP"),
    ("Prometheus.Enabled", "false", "Serve Prometheus metrics at Prometheus.MetricsPath (below BaseUrl); refuses to start unless Prometheus.Password or Prometheus.BearerToken is set"),
    ("Prometheus.MetricsPath", "/metrics", "Where the metrics are served, below BaseUrl; outside /rest, /app and /auth"),
    ("Prometheus.Password", "", "The metrics endpoint's password, sent with HTTP Basic authentication (any user name)"),
    ("Prometheus.BearerToken", "", "The metrics endpoint's bearer token (Authorization: Bearer ...), instead of or as well as Prometheus.Password"),
    ("Sandbox.Require", "true", "Refuse to start unless every sandbox layer is enforced; false runs degraded on old kernels, with a warning at every start"),
];

/// Navidrome options that redoubt recognises but does not (yet) implement.
pub const NOT_SUPPORTED: &[&str] = &[
    "EnforceNonRootUser", // always enforced
    "LastFM.Enabled",
    "LastFM.ApiKey",
    "LastFM.Secret",
    "Spotify.ID",
    "Spotify.Secret",
    "ListenBrainz.Enabled",
    "UILoginBackgroundUrl",
    "UIWelcomeMessage",
    "EnableGravatar",
    "EnableExternalServices",
    "Jukebox.Enabled",
    "Agents",
    "ImageCacheSize", // the artwork cache has a fixed cap (broker::art::CACHE_CAP)
];

/// Navidrome's older names, read as the new ones with a warning (Navidrome does the same).
pub const DEPRECATED: &[(&str, &str)] = &[
    ("ReverseProxyWhitelist", "ExtAuth.TrustedSources"),
    ("ReverseProxyUserHeader", "ExtAuth.UserHeader"),
    ("ScanSchedule", "Scanner.Schedule"),
];

/// `ND_…`/`REDOUBT_…` variables that are not options but are read by redoubt (or its tests).
const OTHER_VARIABLES: &[&str] = &["CONFIGFILE", "TEST_PROBES", "CHROMIUM"];

/// Options whose values are never shown (`redoubt config check`, Debug).
const SECRETS: &[&str] =
    &["PasswordEncryptionKey", "PreviousPasswordEncryptionKey", "Prometheus.Password", "Prometheus.BearerToken"];

/// Debug is written by hand below: it never prints a secret.
#[derive(Clone)]
pub struct Config {
    pub source: Option<PathBuf>,
    pub music_folders: Vec<PathBuf>,
    pub data_folder: PathBuf,
    pub cache_folder: PathBuf,
    pub address: String,
    pub port: u16,
    pub unix_socket_perm: u32,
    pub base_url: String,
    pub log_level: String,
    pub sandbox_require: bool,
    pub password_encryption_key: Option<String>,
    pub previous_password_encryption_key: Option<String>,
    pub auth_request_limit: u32,
    pub auth_window: std::time::Duration,
    pub session_timeout: std::time::Duration,
    pub session_max_age: std::time::Duration,
    pub subsonic_passwords: bool,
    pub trusted_sources: Vec<String>,
    pub user_header: String,
    /// ExtAuth.LogoutURL, checked: empty, an http(s) URL or a path.
    pub logout_url: String,
    pub scan_on_startup: bool,
    pub scan_schedule: String,
    pub ignored_articles: String,
    pub watcher_wait: std::time::Duration,
    pub genre_separators: String,
    pub artist_separators: Vec<String>,
    pub file_timeout: std::time::Duration,
    /// Scanner.PurgeMissing, PlaylistsPath and AutoImportPlaylists, checked.
    pub library: crate::proto::LibrarySettings,
    pub enable_downloads: bool,
    pub enable_transcoding_config: bool,
    pub enable_sharing: bool,
    /// ShareURL, checked: empty or an http(s) URL without a trailing slash.
    pub share_url: String,
    pub default_share_expiration: std::time::Duration,
    pub default_downloadable_share: bool,
    /// FFmpegPath as given (empty: search PATH); see [`Config::resolve_ffmpeg`].
    pub ffmpeg_path: String,
    pub default_downsampling_format: String,
    pub max_transcodes: u32,
    pub max_transcodes_per_user: u32,
    pub cover_art_priority: Vec<String>,
    /// LyricsPriority, checked: `.lrc`, `.ttml`, `.srt`, `.txt` and `embedded`, lower-cased.
    pub lyrics_priority: Vec<String>,
    /// Limits.MaxConnections; 0: resolved by the supervisor from the descriptor limit.
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    pub max_connections_per_proxy: usize,
    pub request_timeout: std::time::Duration,
    pub idle_timeout: std::time::Duration,
    /// Backup.Path (None: no backups), Backup.Schedule (validated), Backup.Count.
    pub backup_path: Option<PathBuf>,
    pub backup_schedule: String,
    pub backup_count: u32,
    /// TLSCert and TLSKey (both or neither): HTTPS on the listener.
    pub tls: Option<TlsFiles>,
    /// Prometheus.*: the metrics endpoint (None: not enabled); only digests of its credentials.
    pub metrics: Option<crate::proto::metrics::MetricsInit>,
    /// A full-URL BaseUrl (`https://host/music`), kept for where an absolute URL is needed;
    /// `base_url` is then its path.
    pub public_url: Option<String>,
    /// Each option's effective value (secrets shown only as set or not) and where it came
    /// from, in OPTIONS order: for `redoubt config check`.
    pub origins: Vec<(String, String, String)>,
    /// Things worth telling the admin (unknown keys, unsupported options).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<set>");
        f.debug_struct("Config")
            .field("source", &self.source)
            .field("music_folders", &self.music_folders)
            .field("data_folder", &self.data_folder)
            .field("cache_folder", &self.cache_folder)
            .field("address", &self.address)
            .field("port", &self.port)
            .field("unix_socket_perm", &format_args!("{:o}", self.unix_socket_perm))
            .field("base_url", &self.base_url)
            .field("public_url", &self.public_url)
            .field("log_level", &self.log_level)
            .field("sandbox_require", &self.sandbox_require)
            .field("password_encryption_key", &redacted(&self.password_encryption_key))
            .field("previous_password_encryption_key", &redacted(&self.previous_password_encryption_key))
            .field("auth_request_limit", &self.auth_request_limit)
            .field("auth_window", &self.auth_window)
            .field("session_timeout", &self.session_timeout)
            .field("session_max_age", &self.session_max_age)
            .field("subsonic_passwords", &self.subsonic_passwords)
            .field("trusted_sources", &self.trusted_sources)
            .field("user_header", &self.user_header)
            .field("logout_url", &self.logout_url)
            .field("scan_on_startup", &self.scan_on_startup)
            .field("scan_schedule", &self.scan_schedule)
            .field("watcher_wait", &self.watcher_wait)
            .field("library", &self.library)
            .field("enable_downloads", &self.enable_downloads)
            .field("enable_transcoding_config", &self.enable_transcoding_config)
            .field("enable_sharing", &self.enable_sharing)
            .field("share_url", &self.share_url)
            .field("default_share_expiration", &self.default_share_expiration)
            .field("default_downloadable_share", &self.default_downloadable_share)
            .field("ffmpeg_path", &self.ffmpeg_path)
            .field("max_transcodes", &self.max_transcodes)
            .field("max_transcodes_per_user", &self.max_transcodes_per_user)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_client", &self.max_connections_per_client)
            .field("max_connections_per_proxy", &self.max_connections_per_proxy)
            .field("request_timeout", &self.request_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("backup_path", &self.backup_path)
            .field("backup_schedule", &self.backup_schedule)
            .field("backup_count", &self.backup_count)
            .field("tls", &self.tls)
            .field("metrics_path", &self.metrics.as_ref().map(|m| &m.path))
            .finish_non_exhaustive()
    }
}

/// TLSCert and TLSKey: paths the supervisor reads at start and on SIGHUP (supervisor::tls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Values given on the command line; `None` means not given.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub music_folder: Option<String>,
    pub data_folder: Option<String>,
    pub address: Option<String>,
    pub port: Option<String>,
    pub log_level: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0}: {1}")]
    File(PathBuf, String),
    #[error("option {name}: {why}")]
    Value { name: String, why: String },
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, (String, toml::Value)>) {
    for (k, v) in table {
        let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => flatten(&name, t, out),
            other => {
                out.insert(lower(&name), (name, other.clone()));
            }
        }
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + (ca != *cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known option closest to an unknown name, for "did you mean".
pub fn nearest_option(name: &str) -> Option<&'static str> {
    OPTIONS
        .iter()
        .map(|(n, _, _)| (*n, edit_distance(&lower(name), &lower(n))))
        .filter(|(_, d)| *d <= 3)
        .min_by_key(|(_, d)| *d)
        .map(|(n, _)| n)
}

/// The known variable closest to an unknown `ND_…`/`REDOUBT_…` one (`rest` is the part after
/// the prefix), as (variable suffix, option name).
fn nearest_variable(rest: &str) -> Option<(String, &'static str)> {
    let squash = |s: &str| s.replace(['_', '.'], "").to_ascii_lowercase();
    OPTIONS
        .iter()
        .map(|(n, _, _)| {
            let env = env_name("", n);
            let d = edit_distance(rest, &env).min(edit_distance(&squash(rest), &squash(n)));
            (env, *n, d)
        })
        .filter(|(_, _, d)| *d <= 3)
        .min_by_key(|(_, _, d)| *d)
        .map(|(e, n, _)| (e, n))
}

fn value_to_string(v: &toml::Value) -> String {
    match v {
        // A list of paths (MusicFolder): joined as a PATH-like list.
        toml::Value::Array(items) => items.iter().map(value_to_string).collect::<Vec<_>>().join(":"),
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Float(f) => f.to_string(),
        other => other.to_string(),
    }
}

fn default_of(name: &str) -> &'static str {
    OPTIONS.iter().find(|(n, _, _)| *n == name).map(|(_, d, _)| *d).unwrap_or("")
}

fn env_name(prefix: &str, option: &str) -> String {
    format!("{prefix}{}", option.to_ascii_uppercase().replace('.', "_"))
}

impl Config {
    /// Which file to read: the flag, else `./redoubt.toml`, else `/etc/redoubt/redoubt.toml`.
    fn locate(over: &Overrides, env: &dyn Fn(&str) -> Option<String>) -> Option<(PathBuf, bool)> {
        if let Some(p) = &over.config {
            return Some((p.clone(), true));
        }
        if let Some(p) = env("REDOUBT_CONFIGFILE").or_else(|| env("ND_CONFIGFILE")) {
            return Some((PathBuf::from(p), true));
        }
        ["./redoubt.toml", "/etc/redoubt/redoubt.toml"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .map(|p| (p, false))
    }

    pub fn load(over: &Overrides) -> Result<Config, ConfigError> {
        let vars: BTreeMap<String, String> =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        Self::load_with(over, &vars)
    }

    /// Loads with `vars` as the environment.
    pub fn load_with(over: &Overrides, vars: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let env = &|k: &str| vars.get(k).cloned();
        let mut warnings = Vec::new();
        let mut values: BTreeMap<String, String> = OPTIONS.iter().map(|(n, d, _)| (lower(n), d.to_string())).collect();
        let mut origin: BTreeMap<String, String> =
            OPTIONS.iter().map(|(n, _, _)| (lower(n), "default".into())).collect();
        let mut cache_given = false;
        let source = Self::locate(over, env);
        if let Some((path, _)) = &source {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File(path.clone(), e.to_string()))?;
            let table: toml::Table =
                text.parse().map_err(|e: toml::de::Error| ConfigError::File(path.clone(), e.to_string()))?;
            let mut flat = BTreeMap::new();
            flatten("", &table, &mut flat);
            for (key, (name, value)) in &flat {
                let key = key.clone();
                if let Some(slot) = values.get_mut(&key) {
                    cache_given |= key == "cachefolder";
                    *slot = value_to_string(value);
                    origin.insert(key, format!("file {}", path.display()));
                } else if let Some((old, new)) = DEPRECATED.iter().find(|(old, _)| lower(old) == key) {
                    if flat.contains_key(&lower(new)) {
                        warnings.push(format!(
                            "{}: {name} is Navidrome's old name for {new}, which is set too; {name} is ignored: remove it",
                            path.display()
                        ));
                    } else {
                        warnings.push(format!(
                            "{}: {name} is Navidrome's old name for {new}; read as {new} (rename it)",
                            path.display()
                        ));
                        values.insert(lower(new), value_to_string(value));
                        origin.insert(lower(new), format!("file {} (as {old})", path.display()));
                    }
                } else if NOT_SUPPORTED.iter().any(|n| lower(n) == key) {
                    warnings.push(format!(
                        "{}: option {name} is understood but not supported by redoubt; ignored",
                        path.display()
                    ));
                } else {
                    let hint = nearest_option(name).map(|n| format!(" (did you mean {n}?)")).unwrap_or_default();
                    warnings.push(format!("{}: unknown option {name}{hint}; ignored", path.display()));
                }
            }
        }
        for (old, new) in DEPRECATED {
            for prefix in ["ND_", "REDOUBT_"] {
                let Some(v) = env(&env_name(prefix, old)) else { continue };
                let var = env_name(prefix, old);
                if ["ND_", "REDOUBT_"].iter().any(|p| env(&env_name(p, new)).is_some()) {
                    warnings.push(format!(
                        "{var} is Navidrome's old name for {new}, which is set too; {var} is ignored: unset it"
                    ));
                } else {
                    warnings.push(format!(
                        "{var} is Navidrome's old name for {new}; read as {} (rename it)",
                        env_name(prefix, new)
                    ));
                    values.insert(lower(new), v);
                    origin.insert(lower(new), format!("env {var}"));
                }
            }
        }
        for (name, _, _) in OPTIONS {
            for prefix in ["ND_", "REDOUBT_"] {
                if let Some(v) = env(&env_name(prefix, name)) {
                    cache_given |= *name == "CacheFolder";
                    values.insert(lower(name), v);
                    origin.insert(lower(name), format!("env {}", env_name(prefix, name)));
                }
            }
        }
        // Every other ND_/REDOUBT_ variable: a typo would otherwise go unnoticed.
        for var in vars.keys() {
            let Some(rest) = var.strip_prefix("ND_").or_else(|| var.strip_prefix("REDOUBT_")) else { continue };
            let prefix = &var[..var.len() - rest.len()];
            let known = OPTIONS
                .iter()
                .map(|(n, _, _)| *n)
                .chain(DEPRECATED.iter().map(|(o, _)| *o))
                .any(|n| env_name("", n) == rest)
                || OTHER_VARIABLES.contains(&rest);
            if known {
                continue;
            }
            if let Some(n) = NOT_SUPPORTED.iter().find(|n| env_name("", n) == rest) {
                warnings.push(format!(
                    "environment variable {var}: option {n} is understood but not supported by redoubt; ignored"
                ));
                continue;
            }
            let hint = nearest_variable(rest)
                .map(|(env, n)| format!(" (did you mean {prefix}{env}, option {n}?)"))
                .unwrap_or_default();
            warnings.push(format!("environment variable {var} is not a redoubt option{hint}; ignored"));
        }
        for (name, flag, v) in [
            ("musicfolder", "--music-folder", &over.music_folder),
            ("datafolder", "--data-folder", &over.data_folder),
            ("address", "--address", &over.address),
            ("port", "--port", &over.port),
            ("loglevel", "--log-level", &over.log_level),
        ] {
            if let Some(v) = v {
                values.insert(name.into(), v.clone());
                origin.insert(name.into(), format!("flag {flag}"));
            }
        }
        let get = |k: &str| values[&lower(k)].clone();
        let bad = |name: &str, why: String| ConfigError::Value { name: name.into(), why };
        let number = |name: &str| {
            get(name).trim().parse::<u32>().map_err(|_| {
                bad(name, format!("{:?} is not a whole number: write one like {}", get(name), default_of(name)))
            })
        };
        let data_folder = PathBuf::from(get("DataFolder"));
        let cache_folder = if cache_given { PathBuf::from(get("CacheFolder")) } else { data_folder.join("cache") };
        let port = get("Port").trim().parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            bad("Port", format!("{:?} is not a port: write a number from 1 to 65535, like 4533", get("Port")))
        })?;
        let perm = get("UnixSocketPerm");
        let unix_socket_perm = u32::from_str_radix(perm.trim().trim_start_matches("0o"), 8)
            .ok()
            .filter(|p| *p <= 0o777)
            .ok_or_else(|| bad("UnixSocketPerm", format!("{perm:?} is not a mode: write an octal mode like 0660")))?;
        let log_level = match get("LogLevel").trim().to_ascii_lowercase().as_str() {
            l @ ("error" | "warn" | "info" | "debug" | "trace") => l.to_string(),
            "warning" => "warn".to_string(),
            // Navidrome's (logrus's) levels above error: redoubt logs errors at the least.
            l @ ("fatal" | "panic" | "critical") => {
                warnings.push(format!(
                    "LogLevel = {l:?}: redoubt never logs less than errors; using \"error\" (write that)"
                ));
                "error".to_string()
            }
            other => {
                return Err(bad(
                    "LogLevel",
                    format!("{other:?} is not a level: write one of error, warn, info, debug or trace"),
                ))
            }
        };
        // Go's strconv.ParseBool (Navidrome), and yes/no, on/off.
        let boolean = |name: &str| match get(name).trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" | "on" => Ok(true),
            "false" | "f" | "0" | "no" | "off" => Ok(false),
            other => Err(bad(name, format!("{other:?} is not a yes-or-no value: write true or false"))),
        };
        let sandbox_require = boolean("Sandbox.Require")?;
        let subsonic_passwords = boolean("Auth.SubsonicPasswords")?;
        let duration = |name: &str| parse_duration(&get(name)).map_err(|e| bad(name, e));
        let auth_window = duration("AuthWindowLength")?;
        let session_timeout = duration("SessionTimeout")?;
        let session_max_age = duration("Auth.SessionMaxAge")?;
        let auth_request_limit = number("AuthRequestLimit")?;
        let trusted_sources = crate::net::parse_trusted_sources(&get("ExtAuth.TrustedSources"))
            .map_err(|e| bad("ExtAuth.TrustedSources", e))?;
        let scan_on_startup = boolean("Scanner.ScanOnStartup")?;
        let watcher_wait = duration("Scanner.WatcherWait")?;
        let file_timeout = duration("Scanner.FileTimeout")?;
        let scan_schedule = get("Scanner.Schedule").trim().to_string();
        crate::broker::schedule::Schedule::parse(&scan_schedule).map_err(|e| bad("Scanner.Schedule", e))?;
        let purge_missing = match get("Scanner.PurgeMissing").trim().to_ascii_lowercase().as_str() {
            "never" | "" => crate::proto::PurgeMissing::Never,
            "always" => crate::proto::PurgeMissing::Always,
            "full" => crate::proto::PurgeMissing::Full,
            other => {
                return Err(bad(
                    "Scanner.PurgeMissing",
                    format!("{other:?} is not a choice: write never, always or full"),
                ))
            }
        };
        let library = crate::proto::LibrarySettings {
            purge_missing,
            playlists_path: split_playlists_path(&get("PlaylistsPath")),
            auto_import_playlists: boolean("AutoImportPlaylists")?,
        };
        let artist_separators = split_separators(&get("Scanner.ArtistSeparators"));
        let secret = |name: &str| Some(get(name)).filter(|v| !v.is_empty());
        let user_header = get("ExtAuth.UserHeader").trim().to_string();
        if user_header.is_empty() || !user_header.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(bad("ExtAuth.UserHeader", format!("{user_header:?} is not a header name")));
        }
        let logout_url = get("ExtAuth.LogoutURL").trim().to_string();
        let url_ok = logout_url.is_empty()
            || (logout_url.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
                && if logout_url.starts_with('/') {
                    !logout_url.starts_with("//")
                } else {
                    url_origin(&logout_url).is_some()
                });
        if !url_ok {
            return Err(bad(
                "ExtAuth.LogoutURL",
                format!("{logout_url:?} is not an http(s) URL or a path starting with /"),
            ));
        }
        let max_transcodes = match number("Transcoding.MaxConcurrent")? {
            0 => 2 * std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1),
            n => n,
        };
        let max_transcodes_per_user = number("Transcoding.MaxConcurrentPerUser")?;
        if max_transcodes_per_user == 0 {
            return Err(bad("Transcoding.MaxConcurrentPerUser", "must be at least 1".into()));
        }
        let max_connections = number("Limits.MaxConnections")? as usize;
        let at_least_one = |name: &str| match number(name)? {
            0 => Err(bad(name, "must be at least 1".into())),
            n => Ok(n as usize),
        };
        let max_connections_per_client = at_least_one("Limits.MaxConnectionsPerClient")?;
        let max_connections_per_proxy = at_least_one("Limits.MaxConnectionsPerProxy")?;
        let positive = |name: &str| match duration(name)? {
            d if d.is_zero() => Err(bad(name, "must be longer than 0".into())),
            d => Ok(d),
        };
        let request_timeout = positive("Limits.RequestTimeout")?;
        let idle_timeout = positive("Limits.IdleTimeout")?;
        let default_downsampling_format = get("DefaultDownsamplingFormat").trim().to_ascii_lowercase();
        if default_downsampling_format.is_empty()
            || !default_downsampling_format.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(bad(
                "DefaultDownsamplingFormat",
                format!("{default_downsampling_format:?} is not a format name"),
            ));
        }
        let cover_art_priority: Vec<String> =
            get("CoverArtPriority").split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
        let lyrics_priority = lyrics_priority(&get("LyricsPriority")).map_err(|e| bad("LyricsPriority", e))?;
        let backup_path = Some(get("Backup.Path").trim().to_string()).filter(|p| !p.is_empty()).map(PathBuf::from);
        let backup_schedule = get("Backup.Schedule").trim().to_string();
        crate::broker::schedule::Schedule::parse(&backup_schedule).map_err(|e| bad("Backup.Schedule", e))?;
        if backup_path.is_none() && !backup_schedule.is_empty() {
            return Err(bad(
                "Backup.Schedule",
                "is set but Backup.Path is empty: name the folder backups go to".into(),
            ));
        }
        let backup_count = number("Backup.Count")?;
        let metrics = prometheus(
            boolean("Prometheus.Enabled")?,
            &get("Prometheus.MetricsPath"),
            &get("Prometheus.Password"),
            &get("Prometheus.BearerToken"),
        )
        .map_err(|(name, why)| bad(name, why))?;
        let share_url = parse_share_url(&get("ShareURL")).map_err(|e| bad("ShareURL", e))?;
        let (base_url, public_url) = parse_base_url(&get("BaseUrl")).map_err(|e| bad("BaseUrl", e))?;
        let path_of = |name: &str| Some(get(name).trim().to_string()).filter(|p| !p.is_empty()).map(PathBuf::from);
        let tls = match (path_of("TLSCert"), path_of("TLSKey")) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => return Err(bad("TLSKey", "is empty but TLSCert is set: HTTPS needs both".into())),
            (None, Some(_)) => return Err(bad("TLSCert", "is empty but TLSKey is set: HTTPS needs both".into())),
        };
        let cache_shown = cache_folder.display().to_string();
        let origins = OPTIONS
            .iter()
            .map(|(n, _, _)| {
                let raw = get(n);
                let shown = if SECRETS.contains(n) {
                    if raw.is_empty() { "(empty)" } else { "(set, not shown)" }.to_string()
                } else if *n == "CacheFolder" {
                    cache_shown.clone()
                } else {
                    raw
                };
                (n.to_string(), shown, origin[&lower(n)].clone())
            })
            .collect();
        Ok(Config {
            source: source.map(|(p, _)| p),
            music_folders: std::env::split_paths(&get("MusicFolder")).filter(|p| !p.as_os_str().is_empty()).collect(),
            data_folder,
            cache_folder,
            address: get("Address"),
            port,
            unix_socket_perm,
            base_url,
            log_level,
            sandbox_require,
            password_encryption_key: secret("PasswordEncryptionKey"),
            previous_password_encryption_key: secret("PreviousPasswordEncryptionKey"),
            auth_request_limit,
            auth_window,
            session_timeout,
            session_max_age,
            subsonic_passwords,
            trusted_sources,
            user_header,
            logout_url,
            scan_on_startup,
            scan_schedule,
            ignored_articles: get("IgnoredArticles"),
            watcher_wait,
            genre_separators: get("Scanner.GenreSeparators"),
            artist_separators,
            file_timeout,
            library,
            enable_downloads: boolean("EnableDownloads")?,
            enable_transcoding_config: boolean("EnableTranscodingConfig")?,
            enable_sharing: boolean("EnableSharing")?,
            share_url,
            default_share_expiration: duration("DefaultShareExpiration")?,
            default_downloadable_share: boolean("DefaultDownloadableShare")?,
            ffmpeg_path: get("FFmpegPath").trim().to_string(),
            default_downsampling_format,
            max_transcodes,
            max_transcodes_per_user,
            cover_art_priority,
            lyrics_priority,
            max_connections,
            max_connections_per_client,
            max_connections_per_proxy,
            request_timeout,
            idle_timeout,
            backup_path,
            backup_schedule,
            backup_count,
            tls,
            metrics,
            public_url,
            origins,
            warnings,
        })
    }

    /// Absolute forms of the folders (landlock rules and child processes need them).
    pub fn absolutize(&mut self) -> std::io::Result<()> {
        let cwd = std::env::current_dir()?;
        for p in self
            .music_folders
            .iter_mut()
            .chain([&mut self.data_folder, &mut self.cache_folder])
            .chain(self.backup_path.as_mut())
            .chain(self.tls.iter_mut().flat_map(|t| [&mut t.cert, &mut t.key]))
        {
            if p.is_relative() {
                *p = cwd.join(&*p);
            }
        }
        Ok(())
    }

    /// The ffmpeg to run, as an absolute path with symlinks resolved: FFmpegPath, else
    /// `ffmpeg` from PATH. None when there is none (streams are then served raw only).
    pub fn resolve_ffmpeg(&self) -> Result<Option<PathBuf>, String> {
        let named = if self.ffmpeg_path.is_empty() {
            let Some(found) = std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).map(|d| d.join("ffmpeg")).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .find(|p| p.is_file())
            else {
                return Ok(None);
            };
            found
        } else {
            PathBuf::from(&self.ffmpeg_path)
        };
        let real = std::fs::canonicalize(&named).map_err(|e| format!("FFmpegPath {}: {e}", named.display()))?;
        if !real.is_file() {
            return Err(format!("FFmpegPath {}: not a file", named.display()));
        }
        Ok(Some(real))
    }

    pub fn unix_socket_path(&self) -> Option<&Path> {
        self.address.strip_prefix("unix:").map(Path::new)
    }
}

/// Prometheus.*: None when disabled. Enabled without a credential is refused: the endpoint
/// is never open. Only the credentials' SHA-256 digests are kept (the front compares those).
fn prometheus(
    enabled: bool,
    path: &str,
    password: &str,
    token: &str,
) -> Result<Option<crate::proto::metrics::MetricsInit>, (&'static str, String)> {
    use sha2::{Digest, Sha256};
    if !enabled {
        return Ok(None);
    }
    let digest = |v: &str| Some(v).filter(|v| !v.is_empty()).map(|v| <[u8; 32]>::from(Sha256::digest(v.as_bytes())));
    let (password_sha256, token_sha256) = (digest(password), digest(token));
    if password_sha256.is_none() && token_sha256.is_none() {
        return Err((
            "Prometheus.Enabled",
            "is true but neither Prometheus.Password nor Prometheus.BearerToken is set: the metrics endpoint is \
             never served without a credential"
                .into(),
        ));
    }
    let path = path.trim().trim_end_matches('/');
    let reserved = ["/rest", "/app", "/auth", "/index.html", "/login"];
    let ok = path.starts_with('/')
        && !path.contains("//")
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b))
        && !path.split('/').any(|seg| seg == "." || seg == "..")
        && !reserved.iter().any(|r| path == *r || path.starts_with(&format!("{r}/")));
    if !ok {
        return Err((
            "Prometheus.MetricsPath",
            format!(
                "{path:?} is not a usable path: write one like /metrics (letters, digits, -, _, ., /), outside /rest, \
                 /app and /auth"
            ),
        ));
    }
    Ok(Some(crate::proto::metrics::MetricsInit { path: path.to_string(), password_sha256, token_sha256 }))
}

/// ShareURL: empty, or an `http(s)://host[/path]` URL, kept without its trailing slash.
pub fn parse_share_url(raw: &str) -> Result<String, String> {
    let v = raw.trim().trim_end_matches('/');
    if v.is_empty() {
        return Ok(String::new());
    }
    let rest = v.strip_prefix("https://").or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.contains(['?', '#', ' ', '"', '<', '>', '\\']) => Ok(v.to_string()),
        _ => Err(format!("{raw:?} is not a URL like https://music.example or https://host.example/music")),
    }
}

/// BaseUrl as Navidrome reads it: a path prefix (`/music`), or a full URL
/// (`https://host/music`) whose path is the prefix and which is kept as the public URL.
pub fn parse_base_url(raw: &str) -> Result<(String, Option<String>), String> {
    let raw = raw.trim();
    let (path, public) = if let Some((scheme, rest)) = raw.split_once("://") {
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(format!("{raw:?}: write a path like /music, or a full http(s) URL like https://host/music"));
        }
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(format!("{raw:?} names no host: write a full URL like https://host/music, or only the path"));
        }
        (path.to_string(), Some(raw.trim_end_matches('/').to_string()))
    } else {
        (raw.to_string(), None)
    };
    if path.contains(['?', '#', ' ']) {
        return Err(format!("{raw:?}: a BaseUrl has no query, fragment or spaces: write a path like /music"));
    }
    let mut path = path.trim_end_matches('/').to_string();
    if !path.is_empty() && !path.starts_with('/') {
        path.insert(0, '/');
    }
    Ok((path, public))
}

/// The origin (`https://host:port`) of an absolute http(s) URL whose host part holds only
/// host-name characters (ExtAuth.LogoutURL; the UI's pages allow it in their `form-action`).
pub fn url_origin(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_len];
    let ok = !host.is_empty()
        && !host.contains('@')
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    ok.then(|| &url[..url.len() - rest.len() + host_len])
}

/// PlaylistsPath: patterns separated by `:` (Navidrome's form), each trimmed of spaces and
/// of slashes at either end; empty entries are dropped.
fn split_playlists_path(v: &str) -> Vec<String> {
    v.split(':').map(|p| p.trim().trim_matches('/').to_string()).filter(|p| !p.is_empty()).collect()
}

/// `Scanner.ArtistSeparators`: separators divided by `|`; spaces are part of a separator
/// (" feat. "), empty entries are dropped.
pub fn split_separators(s: &str) -> Vec<String> {
    s.split('|').filter(|p| !p.is_empty()).map(str::to_string).collect()
}

/// Go-style durations as Navidrome writes them: `20s`, `48h`, `1h30m`, `500ms`, also `2d`;
/// a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(n));
    }
    let mut total = std::time::Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let (num, tail) = rest.split_at(digits);
        let value: f64 =
            num.parse().map_err(|_| format!("{s:?} is not a duration: write one like 20s, 48h or 1h30m"))?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let secs = match unit {
            "ns" => value / 1e9,
            "us" | "µs" | "μs" => value / 1e6,
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            "d" => value * 86400.0,
            _ => return Err(format!("{s:?} is not a duration: write one like 20s, 48h or 1h30m")),
        };
        total += std::time::Duration::from_secs_f64(secs);
        rest = tail;
    }
    Ok(total)
}

/// LyricsPriority: comma-separated sources, each a sidecar suffix the scanner reads or `embedded`.
fn lyrics_priority(raw: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for p in raw.split(',').map(|p| p.trim().to_ascii_lowercase()).filter(|p| !p.is_empty()) {
        let known =
            p == "embedded" || p.strip_prefix('.').is_some_and(|s| crate::proto::scan::LYRICS_SUFFIXES.contains(&s));
        if !known {
            return Err(format!("{p:?} is not a lyrics source: write sidecar suffixes (.lrc, .ttml, .srt, .txt) and embedded, like \".lrc,.txt,embedded\""));
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lyrics_priority_names_known_sources() {
        assert_eq!(lyrics_priority(" .LRC, .txt,embedded,.lrc").unwrap(), [".lrc", ".txt", "embedded"]);
        assert_eq!(lyrics_priority("").unwrap(), Vec::<String>::new());
        let e = lyrics_priority(".lrc,.yaml").unwrap_err();
        assert!(e.contains(".yaml") && e.contains("embedded"), "{e}");
        assert!(lyrics_priority("lrc").is_err(), "a suffix starts with a dot");
    }

    fn load(file: Option<&str>, env: &[(&str, &str)], over: Overrides) -> Result<Config, ConfigError> {
        let dir = std::env::temp_dir().join(format!("redoubt-cfg-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut over = over;
        if let Some(text) = file {
            let p = dir.join("redoubt.toml");
            std::fs::write(&p, text).unwrap();
            over.config = Some(p);
        }
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::load_with(&over, &env)
    }

    fn rand_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn logout_urls_are_urls_or_paths() {
        let with = |v: &str| load(None, &[("REDOUBT_EXTAUTH_LOGOUTURL", v)], Overrides::default());
        assert_eq!(with("https://sso.example/logout?x=1").unwrap().logout_url, "https://sso.example/logout?x=1");
        assert_eq!(with("/oauth2/sign_out").unwrap().logout_url, "/oauth2/sign_out");
        assert_eq!(with("").unwrap().logout_url, "");
        for bad in [
            "javascript:alert(1)",
            "//evil.example/",
            "ftp://x/",
            "https://a b/",
            "https://x; script-src *",
            "https://u@h/",
        ] {
            assert!(with(bad).is_err(), "{bad}");
        }
        assert_eq!(url_origin("https://sso.example:8443/logout"), Some("https://sso.example:8443"));
        assert_eq!(url_origin("http://[::1]/x"), Some("http://[::1]"));
        assert_eq!(url_origin("https://sso.example"), Some("https://sso.example"));
        assert_eq!(url_origin("/x"), None);
    }

    #[test]
    fn defaults_are_safe() {
        let c = load(None, &[], Overrides { config: None, ..Default::default() }).unwrap();
        assert_eq!(c.address, "127.0.0.1");
        assert_eq!(c.port, 4533);
        assert_eq!(c.unix_socket_perm, 0o660);
        assert!(c.sandbox_require);
        assert_eq!(c.cache_folder, PathBuf::from("./data/cache"));
    }

    #[test]
    fn debug_output_never_holds_a_secret() {
        let env = [
            ("REDOUBT_PASSWORDENCRYPTIONKEY", "correct horse battery"),
            ("ND_PREVIOUSPASSWORDENCRYPTIONKEY", "old staple key"),
        ];
        let c = load(None, &env, Overrides::default()).unwrap();
        assert_eq!(c.password_encryption_key.as_deref(), Some("correct horse battery"));
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains("correct horse") && !shown.contains("old staple"), "{shown}");
        assert!(shown.contains("<set>"));
    }

    #[test]
    fn precedence_file_env_alias_flag() {
        let file =
            "musicfolder = '/m1'\nPort = 1000\n[extauth]\ntrustedsources='127.0.0.1'\n[Sandbox]\nRequire = false\n";
        let c = load(Some(file), &[], Overrides::default()).unwrap();
        assert_eq!((c.music_folders[0].to_str().unwrap(), c.port, c.sandbox_require), ("/m1", 1000, false));
        let c = load(Some("MusicFolder = ['/a', '/b c']"), &[], Overrides::default()).unwrap();
        assert_eq!(c.music_folders, vec![PathBuf::from("/a"), PathBuf::from("/b c")]);
        let c = load(None, &[("REDOUBT_MUSICFOLDER", "/x:/y")], Overrides::default()).unwrap();
        assert_eq!(c.music_folders.len(), 2);
        let c = load(Some(file), &[("ND_PORT", "2000")], Overrides::default()).unwrap();
        assert_eq!(c.port, 2000);
        let c = load(Some(file), &[("ND_PORT", "2000"), ("REDOUBT_PORT", "3000")], Overrides::default()).unwrap();
        assert_eq!(c.port, 3000);
        let over = Overrides { port: Some("4000".into()), ..Default::default() };
        let c = load(Some(file), &[("REDOUBT_PORT", "3000")], over).unwrap();
        assert_eq!(c.port, 4000);
        let c = load(None, &[("REDOUBT_SANDBOX_REQUIRE", "false")], Overrides::default()).unwrap();
        assert!(!c.sandbox_require);
    }

    #[test]
    fn unknown_and_unsupported_keys_are_reported() {
        let c = load(Some("MusicFoldr = '/x'\nLastFM.Enabled = true\n"), &[], Overrides::default()).unwrap();
        assert!(
            c.warnings.iter().any(|w| w.contains("unknown option MusicFoldr (did you mean MusicFolder?)")),
            "{:?}",
            c.warnings
        );
        assert!(
            c.warnings.iter().any(|w| w.contains("LastFM.Enabled is understood but not supported")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn tls_needs_both_files() {
        let c =
            load(Some("TLSCert = '/etc/redoubt/cert.pem'\nTLSKey = '/etc/redoubt/key.pem'"), &[], Overrides::default())
                .unwrap();
        let files = c.tls.unwrap();
        assert_eq!(
            (files.cert.to_str(), files.key.to_str()),
            (Some("/etc/redoubt/cert.pem"), Some("/etc/redoubt/key.pem"))
        );
        assert!(load(None, &[], Overrides::default()).unwrap().tls.is_none());
        let e = load(Some("TLSCert = '/c.pem'"), &[], Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("TLSKey") && e.contains("needs both"), "{e}");
        let e = load(None, &[("ND_TLSKEY", "/k.pem")], Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("TLSCert") && e.contains("needs both"), "{e}");
    }

    #[test]
    fn every_option_is_documented() {
        let doc = include_str!("../docs/configuration.md");
        for (name, _, _) in OPTIONS {
            assert!(doc.contains(&format!("| {name} |")), "docs/configuration.md lacks {name}");
        }
        for name in NOT_SUPPORTED {
            let family = name.split('.').next().unwrap();
            assert!(doc.contains(family), "docs/configuration.md lacks {name}");
        }
    }

    #[test]
    fn prometheus_is_off_by_default_and_never_open() {
        assert!(load(None, &[], Overrides::default()).unwrap().metrics.is_none());
        let err = load(Some("[Prometheus]\nEnabled = true\n"), &[], Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("Prometheus.Enabled") && err.contains("credential"), "{err}");
        let on = load(
            Some("[Prometheus]\nEnabled = true\nPassword = \"pw\"\nMetricsPath = \"/m/\"\n"),
            &[],
            Overrides::default(),
        )
        .unwrap();
        let m = on.metrics.unwrap();
        assert_eq!(m.path, "/m");
        assert!(m.password_sha256.is_some() && m.token_sha256.is_none());
        let shown = on.origins.iter().find(|(n, _, _)| n == "Prometheus.Password").unwrap();
        assert!(!shown.1.contains("pw"), "the password is never shown: {shown:?}");
        let env = [("ND_PROMETHEUS_ENABLED", "true"), ("ND_PROMETHEUS_BEARERTOKEN", "t")];
        assert!(load(None, &env, Overrides::default()).unwrap().metrics.unwrap().token_sha256.is_some());
        for bad in ["metrics", "/rest/metrics", "/app", "/a/../b", "/", "/x y"] {
            let file = format!("[Prometheus]\nEnabled = true\nPassword = \"pw\"\nMetricsPath = {bad:?}\n");
            let err = load(Some(&file), &[], Overrides::default()).unwrap_err().to_string();
            assert!(err.contains("Prometheus.MetricsPath"), "{bad}: {err}");
        }
    }

    #[test]
    fn artist_separators() {
        assert_eq!(split_separators(" feat. | ft. | / |; "), vec![" feat. ", " ft. ", " / ", "; "]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20s").unwrap().as_secs(), 20);
        assert_eq!(parse_duration("48h").unwrap().as_secs(), 48 * 3600);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("0").unwrap().as_secs(), 0);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5x").is_err());
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(load(Some("ExtAuth.TrustedSources = '10.0.0.0/33'"), &[], Overrides::default()).is_err());
        assert!(load(Some("[ExtAuth]\nTrustedSources = 'proxy.example'"), &[], Overrides::default()).is_err());
        assert!(load(Some("AuthWindowLength = 'later'"), &[], Overrides::default()).is_err());
        assert!(load(Some("Port = 70000"), &[], Overrides::default()).is_err());
        assert!(load(Some("UnixSocketPerm = '999'"), &[], Overrides::default()).is_err());
        assert!(load(Some("LogLevel = 'loud'"), &[], Overrides::default()).is_err());
        assert!(load(Some("not toml ["), &[], Overrides::default()).is_err());
    }

    // Navidrome's config as it is written (issue 15 item 6): each trap.

    #[test]
    fn navidrome_proxy_names_map_to_ext_auth_with_a_warning() {
        let file = "ReverseProxyWhitelist = '10.0.0.0/8'\nReverseProxyUserHeader = 'X-User'\n";
        let c = load(Some(file), &[], Overrides::default()).unwrap();
        assert_eq!(c.trusted_sources.len(), 1, "{:?}", c.trusted_sources);
        assert_eq!(c.user_header, "X-User");
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("ReverseProxyWhitelist is Navidrome's old name for ExtAuth.TrustedSources")),
            "{:?}",
            c.warnings
        );
        let c = load(None, &[("ND_REVERSEPROXYWHITELIST", "127.0.0.1")], Overrides::default()).unwrap();
        assert_eq!(c.trusted_sources.len(), 1);
        assert!(
            c.warnings.iter().any(|w| w.contains("ND_REVERSEPROXYWHITELIST is Navidrome's old name")),
            "{:?}",
            c.warnings
        );
        // The new name wins when both are written.
        let both = "ReverseProxyUserHeader = 'X-Old'\n[ExtAuth]\nUserHeader = 'X-New'\n";
        let c = load(Some(both), &[], Overrides::default()).unwrap();
        assert_eq!(c.user_header, "X-New");
        assert!(c.warnings.iter().any(|w| w.contains("ReverseProxyUserHeader is ignored")), "{:?}", c.warnings);
        // Navidrome's older ScanSchedule is Scanner.Schedule.
        let c = load(Some("ScanSchedule = '@every 2h'"), &[], Overrides::default()).unwrap();
        assert_eq!(c.scan_schedule, "@every 2h");
    }

    #[test]
    fn unknown_environment_variables_are_warned_about_with_the_nearest_name() {
        let env = [
            ("ND_SCANER_SCHEDULE", "@daily"),
            ("REDOUBT_PROT", "1"),
            ("ND_LASTFM_ENABLED", "true"),
            ("ND_PORT", "4600"),
            ("ND_ZZZZZZZZZZZZ", "x"),
        ];
        let c = load(None, &env, Overrides::default()).unwrap();
        let w = c.warnings.join("\n");
        assert!(w.contains("ND_SCANER_SCHEDULE is not a redoubt option (did you mean ND_SCANNER_SCHEDULE, option Scanner.Schedule?)"), "{w}");
        assert!(w.contains("REDOUBT_PROT is not a redoubt option (did you mean REDOUBT_PORT, option Port?)"), "{w}");
        assert!(w.contains("ND_LASTFM_ENABLED: option LastFM.Enabled is understood but not supported"), "{w}");
        assert!(w.contains("ND_ZZZZZZZZZZZZ is not a redoubt option; ignored"), "{w}");
        assert!(!w.contains("ND_PORT "), "{w}");
        assert_eq!(c.port, 4600);
        // Squashed spellings find their option too.
        let c = load(None, &[("ND_SCANNERSCHEDULE", "@daily")], Overrides::default()).unwrap();
        assert!(c.warnings.join("\n").contains("did you mean ND_SCANNER_SCHEDULE"), "{:?}", c.warnings);
    }

    #[test]
    fn navidrome_log_levels_are_accepted_or_mapped() {
        for (given, want) in
            [("fatal", "error"), ("panic", "error"), ("warning", "warn"), ("WARN", "warn"), ("debug", "debug")]
        {
            let c = load(Some(&format!("LogLevel = '{given}'")), &[], Overrides::default()).unwrap();
            assert_eq!(c.log_level, want, "{given}");
        }
        let c = load(Some("LogLevel = 'fatal'"), &[], Overrides::default()).unwrap();
        assert!(c.warnings.iter().any(|w| w.contains("using \"error\"")), "{:?}", c.warnings);
        let e = load(Some("LogLevel = 'loud'"), &[], Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("write one of error, warn, info, debug or trace"), "{e}");
    }

    #[test]
    fn short_schedules_are_refused_with_what_to_write() {
        let e = load(Some("[Scanner]\nSchedule = '@every 30s'"), &[], Overrides::default()).unwrap_err().to_string();
        assert!(e.starts_with("option Scanner.Schedule: "), "{e}");
        assert!(e.contains("write \"@every 1m\" or longer"), "{e}");
        let c = load(Some("[Scanner]\nSchedule = '@every 1m'"), &[], Overrides::default()).unwrap();
        assert_eq!(c.scan_schedule, "@every 1m");
        let c = load(Some("[Scanner]\nSchedule = '1h'"), &[], Overrides::default()).unwrap();
        assert_eq!(c.scan_schedule, "1h");
    }

    #[test]
    fn a_full_url_base_url_gives_its_path_and_keeps_the_url() {
        let c = load(Some("BaseUrl = 'https://host.example/music/'"), &[], Overrides::default()).unwrap();
        assert_eq!(c.base_url, "/music");
        assert_eq!(c.public_url.as_deref(), Some("https://host.example/music"));
        let c = load(Some("BaseUrl = 'http://host.example'"), &[], Overrides::default()).unwrap();
        assert_eq!((c.base_url.as_str(), c.public_url.as_deref()), ("", Some("http://host.example")));
        let c = load(Some("BaseUrl = 'music'"), &[], Overrides::default()).unwrap();
        assert_eq!((c.base_url.as_str(), c.public_url), ("/music", None));
        let e = load(Some("BaseUrl = 'ftp://host/music'"), &[], Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("write a path like /music, or a full http(s) URL"), "{e}");
        let e = load(Some("BaseUrl = 'https:///music'"), &[], Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("names no host"), "{e}");
    }

    /// Values Navidrome accepts: Go booleans and durations.
    #[test]
    fn navidrome_values_are_accepted_or_refused_with_what_to_write() {
        for (b, want) in [("t", true), ("F", false), ("TRUE", true), ("0", false), ("on", true)] {
            let c = load(Some(&format!("EnableDownloads = '{b}'")), &[], Overrides::default()).unwrap();
            assert_eq!(c.enable_downloads, want, "{b}");
        }
        let c = load(Some("EnableDownloads = false"), &[], Overrides::default()).unwrap();
        assert!(!c.enable_downloads);
        let c = load(Some("SessionTimeout = '1.5h'\nAuthWindowLength = '1m30s'"), &[], Overrides::default()).unwrap();
        assert_eq!((c.session_timeout.as_secs(), c.auth_window.as_secs()), (5400, 90));
        assert_eq!(parse_duration("1500us").unwrap().as_micros(), 1500);
        assert_eq!(parse_duration("1.5s").unwrap().as_millis(), 1500);
        // Each refusal is a sentence that says what to write.
        for (file, says) in [
            ("EnableDownloads = 'maybe'", "write true or false"),
            ("Port = 70000", "write a number from 1 to 65535"),
            ("Port = 'http'", "write a number from 1 to 65535"),
            ("SessionTimeout = 'two days'", "write one like 20s, 48h or 1h30m"),
            ("UnixSocketPerm = '999'", "write an octal mode like 0660"),
            ("AuthRequestLimit = 'many'", "write one like 5"),
        ] {
            let e = load(Some(file), &[], Overrides::default()).unwrap_err().to_string();
            assert!(e.contains(says), "{file}: {e}");
        }
    }

    #[test]
    fn origins_name_default_file_env_and_flag_and_hide_secrets() {
        let file = "Port = 1000\nPasswordEncryptionKey = 'hunter2-hunter2'\nReverseProxyUserHeader = 'X-U'\n";
        let env = [("ND_LOGLEVEL", "debug")];
        let over = Overrides { address: Some("0.0.0.0".into()), ..Default::default() };
        let c = load(Some(file), &env, over).unwrap();
        let of = |n: &str| c.origins.iter().find(|(k, _, _)| k == n).cloned().unwrap();
        assert_eq!(of("Port").1, "1000");
        assert!(of("Port").2.starts_with("file "), "{:?}", of("Port"));
        assert_eq!((of("LogLevel").1, of("LogLevel").2), ("debug".into(), "env ND_LOGLEVEL".into()));
        assert_eq!(of("Address").2, "flag --address");
        assert_eq!(of("Scanner.WatcherWait").2, "default");
        assert!(of("ExtAuth.UserHeader").2.ends_with("(as ReverseProxyUserHeader)"), "{:?}", of("ExtAuth.UserHeader"));
        assert_eq!(of("PasswordEncryptionKey").1, "(set, not shown)");
        assert!(!format!("{:?}", c.origins).contains("hunter2"));
    }
}
