//! The broker: the only process that holds state. Every other role sends it typed requests
//! over its own channel; the broker checks each against the sender's permit list
//! (proto::permit) before anything else.

pub mod access;
pub mod album_order;
pub mod art;
pub mod avatars;
pub mod backup;
pub mod browse;
pub mod db;
pub mod decision;
pub mod downloads;
pub mod ingest;
pub mod limiter;
pub mod lyrics;
pub mod media;
pub mod metrics;
pub mod names;
pub mod scan_jobs;
pub mod schedule;
pub mod security;
pub mod shares;
pub mod signer;
pub mod store;
pub mod userdata;
pub mod vault;

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use privsep::channel::{AsyncChannel, MAX_FRAME};
use privsep::rpc::{self, Answer, ServeEnd};

use crate::proto::account::{AccountAnswer, AccountCall};
use crate::proto::scan::ScannerRequest;
use crate::proto::{permit, Allowed, BrokerInit, Control, Reply, Request, Role};
use crate::role::Started;
use store::Store;

pub struct Broker {
    started: Instant,
    /// Read-only connections: folder checks and API reads run beside a write transaction
    /// (WAL). The first is the scanner's; the rest serve API reads. Declared before `store`
    /// so that they close first: the writer, closing last, checkpoints and removes the WAL.
    pub readers: Vec<std::sync::Mutex<rusqlite::Connection>>,
    pub store: Store,
    pub scans: scan_jobs::Scans,
    /// The last failed scan, for `redoubt scan --problems` (see scan_jobs::Record).
    scan_record: scan_jobs::Record,
    data_folder: std::path::PathBuf,
    pub media: media::Media,
    /// getCoverArt's lookup and the artwork cache.
    pub art: art::Art,
    /// Music folder ids, in MusicFolder order (the scanner's root index).
    pub roots: Vec<i64>,
    pub scan_on_startup: bool,
    pub schedule: Option<schedule::Schedule>,
    /// Backup.Path and Backup.Count; Backup.Schedule.
    pub backups: Option<(std::path::PathBuf, usize)>,
    pub backup_schedule: Option<schedule::Schedule>,
    pub articles: Vec<String>,
    /// getAlbumList2's library-wide orders (see album_order.rs).
    pub album_orders: album_order::AlbumOrders,
    /// EnableSharing and the share defaults.
    pub shares: crate::proto::ShareSettings,
    /// Scanner.PurgeMissing, PlaylistsPath, AutoImportPlaylists.
    pub library: crate::proto::LibrarySettings,
    /// What the configuration adds to the permit table (from the supervisor, at start).
    pub allowed: Allowed,
    /// Each role's sandbox as it last reported it (the admin security page).
    sandboxes: std::sync::Mutex<std::collections::HashMap<Role, crate::proto::admin::SandboxFacts>>,
    /// How many of the front's ExtAuth reports are recorded (see security::Budget).
    front_reports: security::Budget,
    /// TLSKey, when HTTPS is on: signs the front's handshakes.
    pub signer: signer::Signer,
    /// Counts only the broker hears of (role restarts), for the metrics endpoint.
    pub metrics: metrics::Counts,
    /// Messages for the supervisor (roles up, scan status, liveness answers), sent by
    /// [`run`]'s control channel; None outside a daemon (tests).
    to_supervisor: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<Control>>>,
    /// Held for the broker's lifetime: one daemon per data folder, and no offline key
    /// rotation under a running one.
    _lock: DataLock,
}

/// Read-only connections: one for the scanner's folder checks, the rest for API reads.
const READERS: usize = 4;

pub type DataLock = nix::fcntl::Flock<std::fs::File>;

/// Takes the data folder's lock (an exclusive flock on `redoubt.lock`), or says it is held.
pub fn lock_data_folder(data: &std::path::Path) -> Result<DataLock, String> {
    let path = data.join("redoubt.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
        format!("{} is locked ({e}): a redoubt daemon is using this data folder; stop it first", path.display())
    })
}

/// The broker's way to take the lock: a `redoubt user …` command may hold it for a moment
/// (it takes it when free, to be allowed key changes), so wait a little before concluding
/// that another daemon has it.
fn wait_for_data_folder(data: &std::path::Path) -> Result<DataLock, String> {
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match lock_data_folder(data) {
            Ok(l) => return Ok(l),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

impl Broker {
    /// Opens the database and the vault; logs what a starting admin needs to know.
    pub fn open(
        init: &BrokerInit,
        data_folder: &std::path::Path,
        cache_folder: &std::path::Path,
        music_folders: &[std::path::PathBuf],
    ) -> Result<Arc<Broker>, String> {
        let key = vault::KeyConfig {
            data_folder: data_folder.to_path_buf(),
            passphrase: init.key_passphrase.as_ref().map(|s| zeroize::Zeroizing::new(s.0.clone())),
            previous: init.key_previous.as_ref().map(|s| zeroize::Zeroizing::new(s.0.clone())),
            // The broker holds the data folder's lock (taken below, before the store opens).
            may_transition: true,
        };
        let settings = store::Settings {
            auth_limit: init.auth_request_limit,
            auth_window: std::time::Duration::from_millis(init.auth_window_ms),
            session_timeout: std::time::Duration::from_secs(init.session_timeout_secs),
            session_max_age: std::time::Duration::from_secs(init.session_max_age_secs),
            password_auth: init.subsonic_passwords,
            ext_auth: init.ext_auth,
        };
        let lock = wait_for_data_folder(data_folder)?;
        let (store, log) = Store::open(&key, settings)?;
        for line in log {
            tracing::info!("{line}");
        }
        if init.auth_request_limit == 0 || init.auth_window_ms == 0 {
            tracing::warn!("AuthRequestLimit or AuthWindowLength is 0: failed logins are NOT rate limited");
        }
        if let Some(code) = store.new_setup_code() {
            tracing::warn!(
                "no user exists yet. Create the first admin with `redoubt user add NAME --admin`, or in the web UI \
                 (/app/setup, below BaseUrl if one is set; or POST /auth/setup) with this one-time setup code: {code}"
            );
        }
        let roots = ingest::sync_music_folders(&store.conn(), music_folders).map_err(|e| format!("database: {e}"))?;
        let scans = scan_jobs::Scans::default();
        {
            let conn = store.conn();
            let tracks: i64 =
                conn.query_row("SELECT count(*) FROM tracks WHERE missing = 0", [], |r| r.get(0)).unwrap_or(0);
            let folders: i64 = conn.query_row("SELECT count(*) FROM folders", [], |r| r.get(0)).unwrap_or(0);
            scans.set_totals(tracks as u64, folders as u64, None);
        }
        let (scan_record, failed_before) = scan_jobs::Record::open(data_folder);
        if let Some(text) = &failed_before {
            tracing::warn!("{text}");
            scans.set_totals(
                scans.status().count,
                scans.status().folder_count,
                Some(text.split_once(": ").map(|(_, why)| why).unwrap_or(text).to_string()),
            );
        }
        let schedule = schedule::Schedule::parse(&init.scan_schedule)?;
        let signer = signer::Signer::default();
        if let Some(key) = &init.tls {
            signer.install(key.clone()).map_err(|e| format!("TLSKey: {e}"))?;
        }
        let readers = (0..READERS)
            .map(|_| db::open_reader(&db::path(data_folder)).map(std::sync::Mutex::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(Broker {
            started: Instant::now(),
            store,
            scans,
            scan_record,
            data_folder: data_folder.to_path_buf(),
            media: media::Media::new(init.media.clone()),
            art: art::Art::new(cache_folder, &init.media.cover_art_priority),
            roots,
            scan_on_startup: init.scan_on_startup,
            schedule,
            backups: init.backup_path.clone().map(|p| (p, init.backup_count as usize)),
            backup_schedule: schedule::Schedule::parse(&init.backup_schedule)?,
            readers,
            articles: init.ignored_articles.split_whitespace().map(str::to_string).collect(),
            album_orders: album_order::AlbumOrders::default(),
            shares: init.shares.clone(),
            library: init.library.clone(),
            allowed: Allowed { ext_auth: init.ext_auth, tls: init.tls.is_some() },
            sandboxes: std::sync::Mutex::new(
                crate::role::sandbox_facts().map(|f| (Role::Broker, f)).into_iter().collect(),
            ),
            front_reports: security::Budget::default(),
            signer,
            metrics: metrics::Counts::default(),
            to_supervisor: std::sync::Mutex::new(None),
            _lock: lock,
        }))
    }

    /// Answers one permitted request. Runs concurrently with other requests.
    pub async fn handle(self: Arc<Self>, role: Role, req: Request, _fds: Vec<OwnedFd>) -> Answer<Reply> {
        match req {
            Request::Ping => self.pong(),
            Request::Hello(facts) => {
                self.sandbox_reported(role, facts);
                self.pong()
            }
            Request::ExtAuthRefused(r) => {
                if let Some(dropped) = self.front_reports.take(Instant::now()) {
                    let detail = if dropped > 0 {
                        format!("{} ({dropped} more refusals in the last minute not recorded)", r.why)
                    } else {
                        r.why
                    };
                    self.store.security_event(crate::proto::admin::EventKind::ExtAuthRefused, "", &r.addr, &detail);
                }
                Reply::Done.into()
            }
            Request::Api { client, creds, call: crate::proto::Call::Account(AccountCall::SetAvatar { image }) } => {
                // Async: the transcoder decodes the image.
                let call = crate::proto::Call::Account(AccountCall::SetAvatar { image: None });
                let me = match session_may(&creds, &call).and_then(|()| self.store.authenticate(&client, &creds)) {
                    Ok(me) => me,
                    Err(e) => return Reply::Api(Err(e)).into(),
                };
                let set = avatars::set(&self, &me, image.as_deref().map(|b| &b[..])).await;
                Reply::Api(set.map(|()| crate::proto::Answer::Account(Box::new(AccountAnswer::Done)))).into()
            }
            Request::Api { client, creds, call } => {
                Reply::Api(session_may(&creds, &call).and_then(|()| self.api(&client, &creds, &call))).into()
            }
            Request::CachedApi { client, creds, call, have } => {
                Reply::Revalidated(self.revalidate(&client, &creds, &call, have)).into()
            }
            Request::Media { client, creds, call } => {
                let me = match self.store.authenticate(&client, &creds) {
                    Ok(me) => me,
                    Err(e) => return Reply::Media(Err(e)).into(),
                };
                match self.media.answer(&self, &me, &client, &call).await {
                    Ok((answer, fds)) => Answer { body: Reply::Media(Ok(answer)), fds },
                    Err(e) => Reply::Media(Err(e)).into(),
                }
            }
            Request::Login { client, username, password } => {
                Reply::Session(self.store.login(&client, &username, &password)).into()
            }
            Request::Setup { client, code, username, password } => {
                Reply::Session(self.store.setup(&client, &code, &username, &password)).into()
            }
            Request::Session { token, csrf } => Reply::Who(self.store.session(&token, csrf.as_ref())).into(),
            Request::Logout { token, csrf } => {
                if self.store.logout(&token, &csrf) {
                    Reply::Done.into()
                } else {
                    Reply::Who(None).into()
                }
            }
            Request::ProxyLogin { client, user } => Reply::Session(self.store.proxy_login(&client, &user)).into(),
            Request::SetupState => Reply::SetupOpen(self.store.setup_open()).into(),
            Request::SharePage { client, page } => {
                let me = self.clone();
                let r = tokio::task::spawn_blocking(move || shares::page(&me, &client, &page)).await;
                Reply::SharePage(r.unwrap_or(Err(crate::proto::share::ShareRefusal::NotFound)).map(Box::new)).into()
            }
            Request::ShareMedia { client, media } => match shares::media(&self, &client, &media).await {
                Ok((answer, fds)) => Answer { body: Reply::Media(Ok(answer)), fds },
                Err(e) => Reply::Media(Err(e)).into(),
            },
            Request::Scanner(r) => self.scanner(r).await,
            Request::TlsSign { leaf, scheme, message } => {
                #[cfg(feature = "test-hooks")]
                crate::hooks::hold_signature(&self.data_folder).await;
                let signed = self.signer.sign(&leaf, scheme, &message);
                if let Err(e) = &signed {
                    tracing::warn!("refused to sign for the front: {e}");
                }
                Reply::Signature(signed.map(serde_bytes::ByteBuf::from)).into()
            }
            Request::Metrics => Reply::Metrics(Box::new(self.metrics.snapshot(&self))).into(),
        }
    }

    fn pong(&self) -> Answer<Reply> {
        Reply::Pong {
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_ms: self.started.elapsed().as_millis() as u64,
        }
        .into()
    }

    /// A role's measured sandbox (its first message after each start).
    fn sandbox_reported(&self, role: Role, facts: crate::proto::admin::SandboxFacts) {
        if !facts.confined() {
            tracing::warn!("the {} reports it is not fully sandboxed: {facts:?}", role.name());
        }
        self.sandboxes.lock().unwrap_or_else(|p| p.into_inner()).insert(role, facts);
    }

    /// The admin pages' reads (proto::admin): admins only.
    fn admin(
        &self,
        client: &crate::proto::Client,
        creds: &crate::proto::Credentials,
        call: &crate::proto::admin::AdminCall,
    ) -> Result<crate::proto::admin::AdminAnswer, crate::proto::ApiError> {
        use crate::proto::admin::{AdminAnswer, AdminCall, RoleSandbox, ScanProblem};
        let me = self.store.authenticate(client, creds)?;
        if !me.admin {
            return Err(crate::proto::error::not_authorized());
        }
        let internal = |e: rusqlite::Error| crate::proto::ApiError::new(0, self.explain(&e));
        Ok(match call {
            AdminCall::Sandbox => {
                let known = self.sandboxes.lock().unwrap_or_else(|p| p.into_inner());
                AdminAnswer::Sandbox(
                    crate::proto::admin::table_roles()
                        .into_iter()
                        .map(|r| RoleSandbox { role: r.name().to_string(), facts: known.get(&r).cloned() })
                        .collect(),
                )
            }
            AdminCall::SecurityEvents { limit } => {
                AdminAnswer::SecurityEvents(security::newest(&self.reader(), *limit).map_err(internal)?)
            }
            AdminCall::ScanProblems => AdminAnswer::ScanProblems(
                ingest::problems(&self.reader())
                    .map_err(internal)?
                    .into_iter()
                    .map(|(folder, path, crashes, reason)| ScanProblem {
                        folder,
                        path: String::from_utf8_lossy(&path).into_owned(),
                        crashes,
                        reason,
                    })
                    .collect(),
            ),
            AdminCall::TranscodingSettings => AdminAnswer::TranscodingSettings {
                editable: self.media.settings.enable_transcoding_config,
                program: self.media.settings.ffmpeg.as_ref().map(|p| p.display().to_string()),
            },
        })
    }

    /// Answers one of the scanner's requests (the scan protocol, proto/scan.rs).
    async fn scanner(self: Arc<Self>, req: ScannerRequest) -> Answer<Reply> {
        match req {
            ScannerRequest::NextScan => {
                let job = self.scans.next().await;
                let skip = ingest::skip_list(&self.store.conn(), &self.roots, false).unwrap_or_default();
                let suspects = ingest::skip_list(&self.store.conn(), &self.roots, true).unwrap_or_default();
                let kind = if job.full { "full" } else { "incremental" };
                tracing::info!("scan {} started ({kind})", job.id);
                self.tell_supervisor(Control::Status(format!("scan {} running ({kind})", job.id)));
                let msg = crate::proto::scan::ScanJob { scan: job.id, full: job.full, skip, suspects };
                Answer { body: Reply::Scan(msg), fds: vec![job.crumbs] }
            }
            ScannerRequest::CheckFolders { scan, folders } => {
                // A failed scan reads nothing more: the scanner only finishes its walk.
                let Some(current) = self.scans.running(scan).filter(|c| c.failure.is_none()) else {
                    return Reply::FoldersToRead(Vec::new()).into();
                };
                let me = self.clone();
                let r = tokio::task::spawn_blocking(move || {
                    ingest::check_folders(&me.readers[0].lock().unwrap(), &me.roots, current.full, &folders)
                })
                .await;
                match r {
                    Ok(Ok((list, unchanged))) => {
                        self.scans.saw_unchanged(scan, unchanged);
                        Reply::FoldersToRead(list).into()
                    }
                    Ok(Err(e)) => {
                        self.scan_failed(scan, &format!("cannot check the scanned folders: {}", self.explain(&e)));
                        Reply::FoldersToRead(Vec::new()).into()
                    }
                    Err(e) => {
                        self.scan_failed(scan, &format!("checking the scanned folders failed: {e}"));
                        Reply::FoldersToRead(Vec::new()).into()
                    }
                }
            }
            ScannerRequest::StoreFolders { scan, folders } => {
                if self.scans.running(scan).is_none_or(|c| c.failure.is_some()) {
                    return Reply::Done.into();
                }
                self.scans.problems(scan, folders.iter().map(|f| f.problems.len() as u64).sum());
                let me = self.clone();
                let r = tokio::task::spawn_blocking(move || {
                    ingest::store_folders(&mut me.store.conn(), &me.roots, scan as i64, &folders, &me.library)
                })
                .await;
                match r {
                    Ok(Ok(n)) => self.scans.progress(n),
                    Ok(Err(e)) => {
                        self.scan_failed(scan, &format!("cannot store the scanned folders: {}", self.explain(&e)))
                    }
                    Err(e) => self.scan_failed(scan, &format!("storing the scanned folders failed: {e}")),
                }
                Reply::Done.into()
            }
            ScannerRequest::WatcherTriggered => {
                self.scans.request(false, "files changed");
                Reply::Done.into()
            }
            ScannerRequest::ScanFinished { scan, files } => {
                let Some(current) = self.scans.running(scan) else { return Reply::Done.into() };
                if let Some(why) = current.failure {
                    tracing::warn!(
                        "scan {scan} stopped without changing the library ({why}); it keeps what the last complete scan \
                         stored. Scan again once that is fixed (redoubt scan)."
                    );
                    self.scans.ended_failed(scan, why);
                    return Reply::Done.into();
                }
                let started = current.started;
                let purge = current.purge
                    || match self.library.purge_missing {
                        crate::proto::PurgeMissing::Never => false,
                        crate::proto::PurgeMissing::Always => true,
                        crate::proto::PurgeMissing::Full => current.full,
                    };
                let me = self.clone();
                let r = tokio::task::spawn_blocking(move || {
                    let unchanged = me.scans.take_unchanged(scan);
                    let mut conn = me.store.conn();
                    let st = ingest::finish_scan(&mut conn, &me.roots, scan as i64, started, &unchanged, purge)?;
                    if files > 0 || st.missing > 0 || st.moved > 0 || st.purged > 0 {
                        // Only search speed depends on it: a failure is not the scan's.
                        let began = Instant::now();
                        match ingest::optimize_search(&conn, files + st.missing + st.moved, st.tracks) {
                            Ok(()) => tracing::info!(
                                "scan {scan}: search indexes merged in {} ms",
                                began.elapsed().as_millis()
                            ),
                            Err(e) => {
                                tracing::warn!("scan {scan}: cannot merge the search indexes: {}", me.explain(&e))
                            }
                        }
                    }
                    Ok::<_, rusqlite::Error>(st)
                })
                .await;
                match r {
                    Ok(Ok(st)) => {
                        tracing::info!(
                            "scan {scan} finished: {files} files read, {} tracks in {} folders, {} newly missing, {} moved, \
                             {} missing purged",
                            st.tracks,
                            st.folders,
                            st.missing,
                            st.moved,
                            st.purged
                        );
                        self.tell_supervisor(Control::Status(format!(
                            "scan {scan} finished: {} tracks in {} folders",
                            st.tracks, st.folders
                        )));
                        self.scans.finished(scan, files, st.tracks as u64, st.folders as u64);
                        self.scan_record.set(None);
                    }
                    Ok(Err(e)) => {
                        let why = format!("cannot finish the scan: {}", self.explain(&e));
                        self.scan_failed(scan, &why);
                        tracing::warn!(
                            "scan {scan} stopped without changing the library; scan again once that is fixed"
                        );
                        self.scans.ended_failed(scan, why);
                    }
                    Err(e) => {
                        let why = format!("finishing the scan failed: {e}");
                        self.scan_failed(scan, &why);
                        self.scans.ended_failed(scan, why);
                    }
                }
                Reply::Done.into()
            }
        }
    }

    /// A Subsonic call; scanning is answered here, the rest by the store.
    fn api(
        &self,
        client: &crate::proto::Client,
        creds: &crate::proto::Credentials,
        call: &crate::proto::Call,
    ) -> Result<crate::proto::Answer, crate::proto::ApiError> {
        use crate::proto::{Answer as A, Call};
        match call {
            Call::GetScanStatus | Call::StartScan { .. } => {
                let me = self.store.authenticate(client, creds)?;
                if let Call::StartScan { full } = call {
                    if !me.admin {
                        return Err(crate::proto::error::not_authorized());
                    }
                    self.scans.request(*full, &format!("startScan by {}", me.name));
                }
                let st = self.scans.status();
                let scanning = st.scanning || matches!(call, Call::StartScan { .. });
                Ok(A::ScanStatus {
                    scanning,
                    error: st.error,
                    count: st.count,
                    folder_count: st.folder_count,
                    last_scan: st
                        .last_scan
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs()),
                })
            }
            Call::Library(lib) => {
                let me = self.store.authenticate(client, creds)?;
                let conn = self.reader();
                let library = self.library(&conn, &me.id);
                browse::in_read_transaction(&conn, || library.answer(lib)).map(|a| A::Library(Box::new(a)))
            }
            Call::MediaAdmin(a) => {
                let me = self.store.authenticate(client, creds)?;
                let answer = self.media.admin(&self.store.conn(), &me, a);
                use crate::proto::media::MediaAdmin as M;
                let edit = match a {
                    M::CreateTranscoding(_) | M::UpdateTranscoding { .. } => Some("save"),
                    M::DeleteTranscoding { .. } => Some("delete"),
                    M::Transcodings | M::Players | M::UpdatePlayer { .. } => None,
                };
                if let (Err(e), Some(what)) = (&answer, edit) {
                    // A refused edit, not a profile that is simply gone.
                    if e.code != crate::proto::error::code::NOT_FOUND {
                        let kind = crate::proto::admin::EventKind::TranscodingRefused;
                        let detail = format!("{what}: {}", e.message);
                        self.store.security_event(kind, &me.name, &client.addr, &detail);
                    }
                }
                answer.map(|x| A::MediaAdmin(Box::new(x)))
            }
            Call::Admin(a) => self.admin(client, creds, a).map(|x| A::Admin(Box::new(x))),
            Call::Share(c) => {
                let me = self.store.authenticate(client, creds)?;
                shares::api(self, &me, c).map(|x| A::Share(Box::new(x)))
            }
            Call::TranscodeDecision(d) => {
                let me = self.store.authenticate(client, creds)?;
                self.transcode_decision(&me, client, d).map(|x| A::TranscodeDecision(Box::new(x)))
            }
            Call::Lyrics(l) => {
                let me = self.store.authenticate(client, creds)?;
                lyrics::answer(&self.reader(), &me.id, l, &self.media.settings.lyrics_priority)
                    .map(|x| A::Lyrics(Box::new(x)))
            }
            Call::UserData(ud) => {
                let me = self.store.authenticate(client, creds)?;
                let answer = if ud.writes() {
                    userdata::answer(&self.store.conn(), &me, &client.name, ud)
                } else {
                    userdata::answer(&self.reader(), &me, &client.name, ud)
                };
                answer.map(|a| A::UserData(Box::new(a)))
            }
            _ => self.store.api(client, creds, call),
        }
    }

    /// The library as `user` sees it, read through `conn`.
    fn library<'a>(&'a self, conn: &'a rusqlite::Connection, user: &'a str) -> browse::Library<'a> {
        browse::Library { conn, user, articles: &self.articles, roots: &self.roots, orders: &self.album_orders }
    }

    /// A library call the front may have cached: still authenticated every time; the answer
    /// is recomputed unless the front's copy was made for this user at the current database
    /// generation (no row has changed since).
    fn revalidate(
        &self,
        client: &crate::proto::Client,
        creds: &crate::proto::Credentials,
        call: &crate::proto::library::LibraryCall,
        have: Option<crate::proto::CacheStamp>,
    ) -> Result<crate::proto::Revalidated, crate::proto::ApiError> {
        use crate::proto::{CacheStamp, Revalidated};
        // Read before the database: a write that lands after this point makes the stamp old.
        let generation = self.store.generation();
        let me = self.store.authenticate(client, creds)?;
        // Generation 0 never matches: nothing non-deterministic is ever revalidated.
        let generation = if call.deterministic() { generation } else { 0 };
        let conn = self.reader();
        // One read transaction for the folders and the answer: one snapshot, and the WAL
        // read lock taken once.
        browse::in_read_transaction(&conn, || {
            // Read every time: `redoubt user folders` changes them from another process,
            // which does not move this daemon's generation.
            let access =
                access::folder_ids(&conn, &me.id).map_err(|e| crate::proto::ApiError::new(0, self.explain(&e)))?;
            if have
                .is_some_and(|h| generation != 0 && h.user == me.id && h.generation == generation && h.access == access)
            {
                return Ok(Revalidated::NotModified);
            }
            let answer = self.library(&conn, &me.id).answer(call)?;
            Ok(Revalidated::Fresh {
                answer: Box::new(answer),
                stamp: CacheStamp { user: me.id.clone(), generation, access },
            })
        })
    }

    /// A backup now (see backup.rs), holding the writer: every write committed before it is in.
    pub fn backup(&self) -> Result<std::path::PathBuf, String> {
        let Some((dir, count)) = &self.backups else {
            return Err("Backup.Path is not set: set it to the folder backups go to, and restart the daemon".into());
        };
        let started = Instant::now();
        let conn = self.store.conn();
        let path = backup::create(&conn, dir, *count)?;
        drop(conn);
        tracing::info!("backup {} made in {} ms", path.display(), started.elapsed().as_millis());
        Ok(path)
    }

    /// `redoubt backup create` queues rows while a daemon runs; answers them.
    fn answer_backup_requests(&self) {
        let pending: Vec<i64> = {
            let conn = self.reader();
            let st = conn.prepare("SELECT id FROM backup_requests WHERE done_at IS NULL ORDER BY id");
            st.and_then(|mut st| st.query_map([], |r| r.get(0))?.collect()).unwrap_or_default()
        };
        if pending.is_empty() {
            return;
        }
        let outcome = self.backup();
        if let Err(e) = &outcome {
            tracing::error!("{e}");
        }
        let (path, error) = match outcome {
            Ok(p) => (Some(p.display().to_string()), None),
            Err(e) => (None, Some(e)),
        };
        for id in pending {
            if let Err(e) = self.store.conn().execute(
                "UPDATE backup_requests SET done_at = ?1, path = ?2, error = ?3 WHERE id = ?4",
                rusqlite::params![db::now(), path, error, id],
            ) {
                tracing::error!("answering a backup request: {}", self.explain(&e));
            }
        }
    }

    /// Tells the supervisor something (see [`Control`]); dropped outside a daemon.
    pub fn tell_supervisor(&self, msg: Control) {
        if let Some(tx) = self.to_supervisor.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = tx.send(msg);
        }
    }

    /// A database error as a plain sentence ("disk full: …" when it is that).
    fn explain(&self, e: &rusqlite::Error) -> String {
        db::explain(e, &self.data_folder)
    }

    /// Marks scan `id` failed (the first failure wins), logs it and records it for
    /// `redoubt scan --problems`.
    fn scan_failed(&self, id: u64, why: &str) {
        if !self.scans.fail(id, why) {
            return;
        }
        tracing::error!("scan {id} failed: {why}");
        self.tell_supervisor(Control::Status(format!("scan {id} failed: {why}")));
        let when = crate::dates::iso8601(db::now() as u64);
        self.scan_record.set(Some(&format!("the scan of {when} failed: {why}")));
    }

    /// A free read-only connection for an API read (waiting for one when all are busy).
    pub(crate) fn reader(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        for r in &self.readers[1..] {
            if let Ok(g) = r.try_lock() {
                return g;
            }
        }
        self.readers[1].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The scanner died: blame the files it was reading, and scan again.
    fn scanner_gone(&self) {
        for (root, path) in self.scans.scanner_gone() {
            let shown = String::from_utf8_lossy(&path).into_owned();
            match ingest::record_crash(&self.store.conn(), &self.roots, root, &path, db::now()) {
                Ok(n) if n >= 2 => tracing::warn!("the scanner died reading {shown:?} again ({n} times): skipping it from now on (redoubt scan --problems)"),
                Ok(n) => tracing::warn!("the scanner died while reading {shown:?} (failure {n}); the scan continues"),
                Err(e) => tracing::error!("recording a scanner crash: {e}"),
            }
        }
    }

    /// Serves one peer's channel until it closes or breaks the protocol.
    pub async fn serve_peer(self: Arc<Self>, role: Role, fd: OwnedFd) -> ServeEnd {
        let chan = match AsyncChannel::new(fd) {
            Ok(c) => c,
            Err(e) => {
                return ServeEnd::Channel(privsep::channel::ChannelError::Io(nix::errno::Errno::from_raw(
                    e.raw_os_error().unwrap_or(5),
                )))
            }
        };
        let me = self.clone();
        let allowed = self.allowed;
        // The role's first Ping (role::hello_broker, once it has sandboxed itself) is
        // reported to the supervisor, once per channel.
        let greeted = Arc::new(std::sync::atomic::AtomicBool::new(false));
        rpc::serve(
            chan,
            move |req: &Request| permit(role, req, allowed),
            move |req, fds| {
                if matches!(req, Request::Ping | Request::Hello(_))
                    && !greeted.swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    me.tell_supervisor(Control::Up(role));
                }
                me.clone().handle(role, req, fds)
            },
        )
        .await
    }
}

/// A web session may make a call that changes state only with its CSRF token (which
/// [`store::Store::authenticate`] then checks): the broker's half of the rule the front's
/// method table states, so that a front that forgot it, or a page that tricked it, changes
/// nothing.
fn session_may(creds: &crate::proto::Credentials, call: &crate::proto::Call) -> Result<(), crate::proto::ApiError> {
    match creds {
        crate::proto::Credentials::Session { csrf: None, .. } if call.changes_state() => {
            Err(crate::proto::error::csrf_refused())
        }
        _ => Ok(()),
    }
}

pub fn run(mut started: Started) -> Result<(), String> {
    // Before the runtime's threads exist, so that all of them inherit the blocked mask.
    let term = privsep::signals::Termination::block().map_err(|e| format!("signalfd: {e}"))?;
    let rt = crate::role::runtime(Role::Broker, 2).map_err(|e| e.to_string())?;
    let mut init = started.init.broker.take().ok_or("the broker's init carries no broker settings")?;
    let broker =
        Broker::open(&init, &started.init.data_folder, &started.init.cache_folder, &started.init.music_folders)?;
    // The vault holds the key now; the passphrases are wiped (Secret zeroes itself on drop).
    init.key_passphrase = None;
    init.key_previous = None;
    init.tls = None;
    let result = rt.block_on(async move {
        let term = privsep::signals::Termination::register(term).map_err(|e| e.to_string())?;
        let control = Arc::new(AsyncChannel::new(started.control.into_fd()).map_err(|e| e.to_string())?);
        {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Control>();
            *broker.to_supervisor.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
            let control = control.clone();
            tokio::spawn(async move {
                while let Some(msg) = rx.recv().await {
                    if control.send(0, &msg, &[]).await.is_err() {
                        break;
                    }
                }
            });
        }
        broker.tell_supervisor(Control::Up(Role::Broker));
        let mut buf = vec![0u8; MAX_FRAME];
        // Once per daemon, when the first transcoder attaches: every profile is tried.
        let mut profiles_checked = false;
        if broker.scan_on_startup {
            broker.scans.request(false, "start");
        }
        if let Some(schedule) = broker.schedule.clone() {
            tracing::info!("scanning on schedule: {schedule}");
            let b = broker.clone();
            tokio::spawn(async move {
                while let Some(next) = schedule.next_after(std::time::SystemTime::now()) {
                    let wait = next.duration_since(std::time::SystemTime::now()).unwrap_or_default();
                    tokio::time::sleep(wait).await;
                    b.scans.request(false, "schedule");
                }
            });
        }
        if let Some(schedule) = broker.backup_schedule.clone() {
            tracing::info!("backing up on schedule: {schedule}");
            let b = broker.clone();
            tokio::spawn(async move {
                while let Some(next) = schedule.next_after(std::time::SystemTime::now()) {
                    let wait = next.duration_since(std::time::SystemTime::now()).unwrap_or_default();
                    tokio::time::sleep(wait).await;
                    let b = b.clone();
                    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || b.backup()).await {
                        tracing::error!("scheduled {e}");
                    }
                }
            });
        }
        {
            // `redoubt backup create` queues a row; a glance every half second.
            let b = broker.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    let b = b.clone();
                    let _ = tokio::task::spawn_blocking(move || b.answer_backup_requests()).await;
                }
            });
        }
        {
            // `redoubt user unlock` leaves rows in the database; a glance every two seconds.
            let b = broker.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    let b = b.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        let pending: i64 =
                            b.reader().query_row("SELECT count(*) FROM unlocks", [], |r| r.get(0)).unwrap_or(0);
                        if pending > 0 {
                            if let Err(e) = b.store.apply_unlocks() {
                                tracing::error!("applying user unlocks: {e}");
                            }
                        }
                    })
                    .await;
                }
            });
        }
        loop {
            // The supervisor hands us the broker end of each (re)started role's channel.
            let msg = tokio::select! {
                m = control.recv::<Control>(&mut buf) => match m {
                    Ok(m) => m,
                    Err(e) => return Err(format!("supervisor channel closed: {e}")),
                },
                sig = term.recv() => {
                    tracing::debug!("{sig:?}: closing the database");
                    return Ok(());
                }
            };
            match msg.body {
                Control::Attach(Role::Transcoder) => {
                    // The one channel where the broker asks: see proto::media.
                    let fd = msg.fds.into_iter().next().expect("fd count checked by the channel");
                    match AsyncChannel::new(fd) {
                        Ok(chan) => {
                            let (client, reader) = rpc::Client::start(chan);
                            {
                                // The transcoder is up once it answers (it sandboxes first).
                                let (b, client) = (broker.clone(), client.clone());
                                tokio::spawn(async move {
                                    match client.call(&crate::proto::media::Job::Ping, &[]).await {
                                        Ok(r) => match r.body {
                                            crate::proto::media::JobReply::Pong(facts) => {
                                                b.sandbox_reported(Role::Transcoder, *facts);
                                                b.tell_supervisor(Control::Up(Role::Transcoder))
                                            }
                                            other => tracing::warn!("the transcoder answered {other:?} to a ping"),
                                        },
                                        Err(e) => tracing::warn!("the transcoder did not answer a ping: {e}"),
                                    }
                                });
                            }
                            broker.media.set_transcoder(Some(client));
                            if !profiles_checked {
                                profiles_checked = true;
                                let b = broker.clone();
                                tokio::spawn(async move {
                                    // The guard is dropped before the first await.
                                    let profiles = { media::profiles(&b.reader()) };
                                    match profiles {
                                        Ok(p) => b.media.check_profiles(p).await,
                                        Err(e) => tracing::warn!("reading transcoding profiles: {e}"),
                                    }
                                });
                            }
                            let broker = broker.clone();
                            tokio::spawn(async move {
                                let end = reader.await.map(|e| e.to_string()).unwrap_or_default();
                                tracing::debug!("transcoder channel closed: {end}");
                                broker.media.set_transcoder(None);
                            });
                        }
                        Err(e) => tracing::error!("transcoder channel: {e}"),
                    }
                }
                Control::Attach(role) if role != Role::Broker => {
                    let fd = msg.fds.into_iter().next().expect("fd count checked by the channel");
                    let broker = broker.clone();
                    tokio::spawn(async move {
                        let end = broker.clone().serve_peer(role, fd).await;
                        if role == Role::Scanner {
                            broker.scanner_gone();
                        }
                        match end {
                            ServeEnd::Channel(privsep::channel::ChannelError::Closed) => {
                                tracing::debug!("{} channel closed", role.name())
                            }
                            end => tracing::warn!("closing the {} channel: {end}", role.name()),
                        }
                    });
                }
                Control::Scan { full } => {
                    // `redoubt scan --purge-missing` queued its wish in the database first.
                    let purge = ingest::take_purge_requests(&broker.store.conn()).unwrap_or_else(|e| {
                        tracing::warn!("cannot read the queued scan requests: {e}");
                        false
                    });
                    broker.scans.request_scan(full, purge, "redoubt scan")
                }
                Control::Restarted { role, how, cause } => {
                    broker.metrics.restarted(role, &cause);
                    broker.store.security_event(crate::proto::admin::EventKind::RoleRestarted, "", role.name(), &how);
                }
                // The watchdog's round trip: answered from this loop, so a stuck broker
                // (stopped, or its runtime wedged) stops the supervisor's WATCHDOG=1.
                Control::Probe(n) => broker.tell_supervisor(Control::Alive(n)),
                // SIGHUP re-read TLSCert/TLSKey; the supervisor checked the pair.
                Control::TlsKey(key) if broker.allowed.tls => {
                    let leaf = key.leaf;
                    match broker.signer.install(*key) {
                        Ok(()) => broker.tell_supervisor(Control::TlsKeyHeld(leaf)),
                        Err(e) => tracing::error!("TLS key from the supervisor refused: {e}"),
                    }
                    // The frame carried the key: no copy stays in the receive buffer.
                    zeroize::Zeroize::zeroize(&mut buf[..]);
                }
                other => return Err(format!("unexpected control message {other:?}")),
            }
        }
    });
    // Dropping the runtime drops every task, and with them the last references to the
    // broker: the database is closed (and its WAL checkpointed) before we exit.
    drop(rt);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Call, Client, Credentials, Secret};
    use privsep::rpc::Client as RpcClient;

    fn init() -> BrokerInit {
        BrokerInit {
            ext_auth: false,
            key_passphrase: None,
            key_previous: None,
            auth_request_limit: 5,
            auth_window_ms: 20_000,
            session_timeout_secs: 3600,
            session_max_age_secs: 30 * 86400,
            subsonic_passwords: true,
            scan_on_startup: false,
            scan_schedule: String::new(),
            ignored_articles: String::new(),
            media: Default::default(),
            backup_path: None,
            backup_schedule: String::new(),
            backup_count: 0,
            tls: None,
            shares: Default::default(),
            library: Default::default(),
        }
    }

    /// docs/security.md T3: a compromised front that speaks the channel directly, skipping every
    /// check the real front makes, is limited exactly like HTTP clients, and inventing client
    /// addresses does not help it beyond the per-user cap.
    #[test]
    fn a_compromised_front_talking_to_the_channel_is_rate_limited() {
        let dir = std::env::temp_dir().join(format!("redoubt-broker-{}", db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let broker = Broker::open(&init(), &dir, &dir.join("cache"), &[]).unwrap();
        broker.store.add_user("victim", Some("right-password"), false, None).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let (front_end, broker_end) = privsep::channel::pair().unwrap();
            tokio::spawn(broker.clone().serve_peer(Role::Front, broker_end));
            let (client, _reader) = RpcClient::<Request, Reply>::start(AsyncChannel::new(front_end).unwrap());
            let ask = |addr: &str, pw: &str| {
                let req = Request::Api {
                    client: Client { addr: addr.into(), name: "evil".into() },
                    creds: Credentials::Password { user: "VICTIM".into(), password: Secret(pw.into()) },
                    call: Call::Ping,
                };
                let client = client.clone();
                async move {
                    match client.call(&req, &[]).await.unwrap().body {
                        Reply::Api(Ok(_)) => 200,
                        Reply::Api(Err(e)) => e.code,
                        other => panic!("{other:?}"),
                    }
                }
            };
            for _ in 0..5 {
                assert_eq!(ask("10.0.0.1", "guess").await, 40);
            }
            assert_eq!(ask("10.0.0.1", "right-password").await, 0, "limited even with the right password");
            // Claiming fresh addresses: allowed until the per-user cap (4 x 5 failures) ...
            for i in 0..15 {
                assert_eq!(ask(&format!("10.1.0.{i}"), "guess").await, 40);
            }
            // ... then every address is refused for this user, right password or not.
            assert_eq!(ask("10.2.0.1", "right-password").await, 0);
            // The web login goes through the same limiter.
            let login = Request::Login {
                client: Client { addr: "10.3.0.1".into(), name: "web".into() },
                username: "victim".into(),
                password: Secret("right-password".into()),
            };
            match client.call(&login, &[]).await.unwrap().body {
                Reply::Session(Err(e)) => assert!(e.retry_after.is_some(), "{e:?}"),
                other => panic!("login was not limited: {other:?}"),
            }
        });
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The front's cache is revalidated against this generation: reads leave it alone, any
    /// statement that changes a row moves it.
    #[test]
    fn the_generation_moves_with_writes_only() {
        let dir = std::env::temp_dir().join(format!("redoubt-broker-{}", db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let broker = Broker::open(&init(), &dir, &dir.join("cache"), &[]).unwrap();
        let g0 = broker.store.generation();
        broker.store.conn().query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(broker.store.generation(), g0, "a read");
        broker.store.conn().execute("UPDATE users SET email = 'x' WHERE 0", []).unwrap();
        assert_eq!(broker.store.generation(), g0, "a write that changed nothing");
        broker.store.add_user("someone", Some("pw"), false, None).unwrap();
        let g1 = broker.store.generation();
        assert!(g1 > g0, "a new user");
        broker.store.conn().execute("DELETE FROM users WHERE name = 'someone'", []).unwrap();
        assert!(broker.store.generation() > g1, "a delete");

        // A web session's sliding expiry is a write no answer reads: it leaves the generation
        // (and so the front's answer cache) alone. The slide did happen.
        broker.store.add_user("listener", Some("pw"), false, None).unwrap();
        let grant = broker
            .store
            .login(&Client { addr: "10.9.0.1".into(), name: "web".into() }, "listener", &Secret("pw".into()))
            .unwrap();
        let expires =
            || -> i64 { broker.store.conn().query_row("SELECT expires_at FROM sessions", [], |r| r.get(0)).unwrap() };
        // Two minutes older than new: the next use slides it (it slides once a minute at most).
        broker.store.conn().execute("UPDATE sessions SET expires_at = expires_at - 120", []).unwrap();
        let (before, g2) = (expires(), broker.store.generation());
        assert!(broker.store.session(&grant.token, None).is_some());
        assert_eq!(broker.store.generation(), g2, "a session's slide");
        assert!(expires() >= before + 120, "the session did not slide");
        // A failed login is a security event written to the database, and no answer reads it.
        let events = || -> i64 {
            broker.store.conn().query_row("SELECT count(*) FROM security_events", [], |r| r.get(0)).unwrap()
        };
        let (n, g3) = (events(), broker.store.generation());
        let wrong = broker.store.login(
            &Client { addr: "10.9.0.2".into(), name: "web".into() },
            "listener",
            &Secret("no".into()),
        );
        assert!(wrong.is_err());
        assert_eq!(events(), n + 1, "the failed login was not recorded");
        assert_eq!(broker.store.generation(), g3, "a failed login");
        // Other writes still count.
        broker.store.add_user("another", Some("pw"), false, None).unwrap();
        assert!(broker.store.generation() > g2, "a new user");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Web pages check their session on a read-only connection: a write holding the writer
    /// (a scan's batch) does not make them wait, unless the session's expiry is due to slide.
    #[test]
    fn a_session_is_checked_beside_a_write() {
        let dir = std::env::temp_dir().join(format!("redoubt-broker-{}", db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let broker = Broker::open(&init(), &dir, &dir.join("cache"), &[]).unwrap();
        broker.store.add_user("listener", Some("pw"), false, None).unwrap();
        let client = Client { addr: "10.9.0.3".into(), name: "web".into() };
        let grant = broker.store.login(&client, "listener", &Secret("pw".into())).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let writer = broker.store.conn();
            s.spawn(|| tx.send(broker.store.session(&grant.token, None).map(|u| u.username)).unwrap());
            // Generous: this only has to tell "answered" from "waiting for the writer".
            let answer = rx.recv_timeout(std::time::Duration::from_secs(20));
            drop(writer);
            assert_eq!(answer.expect("the session check waited for the writer"), Some("listener".into()));
        });
        let _ = std::fs::remove_dir_all(dir);
    }

    /// T2: a well-formed request outside the front's permit list ends the channel.
    #[test]
    fn a_scanner_request_from_the_front_closes_its_channel() {
        let dir = std::env::temp_dir().join(format!("redoubt-broker-{}", db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let broker = Broker::open(&init(), &dir, &dir.join("cache"), &[]).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let (front_end, broker_end) = privsep::channel::pair().unwrap();
            let served = tokio::spawn(broker.clone().serve_peer(Role::Front, broker_end));
            let (client, _reader) = RpcClient::<Request, Reply>::start(AsyncChannel::new(front_end).unwrap());
            assert!(matches!(client.call(&Request::Ping, &[]).await.unwrap().body, Reply::Pong { .. }));
            assert!(client.call(&Request::Scanner(ScannerRequest::ScanFinished { scan: 1, files: 1 }), &[]).await.is_err());
            assert!(matches!(served.await.unwrap(), ServeEnd::NotPermitted(k) if k.contains("front may not send ScanFinished")));
        });
        let _ = std::fs::remove_dir_all(dir);
    }

    /// docs/security.md T26, T27: the admin pages' reads are the broker's to refuse: a plain
    /// user's call, made on the channel directly, gets error 50 for each; an admin's gets the
    /// four roles (only the front reported, by its `Hello`) and the event its
    /// `ExtAuthRefused` recorded.
    #[test]
    fn admin_reads_are_for_admins_and_the_fronts_reports_reach_them() {
        use crate::proto::admin::{AdminAnswer, AdminCall, EventKind, ExtAuthRefusal, SandboxFacts};
        let dir = std::env::temp_dir().join(format!("redoubt-broker-{}", db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let broker = Broker::open(&init(), &dir, &dir.join("cache"), &[]).unwrap();
        broker.store.add_user("alice", Some("alice-password"), true, None).unwrap();
        broker.store.add_user("bob", Some("bob-password"), false, None).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let (front_end, broker_end) = privsep::channel::pair().unwrap();
            tokio::spawn(broker.clone().serve_peer(Role::Front, broker_end));
            let (client, _reader) = RpcClient::<Request, Reply>::start(AsyncChannel::new(front_end).unwrap());
            let facts = SandboxFacts { pid: 42, seccomp_mode: 2, ..SandboxFacts::default() };
            let r = client.call(&Request::Hello(facts.clone()), &[]).await.unwrap().body;
            assert!(matches!(r, Reply::Pong { .. }), "{r:?}");
            let refusal = ExtAuthRefusal { addr: "10.0.0.9".into(), why: "header from elsewhere".into() };
            client.call(&Request::ExtAuthRefused(refusal), &[]).await.unwrap();
            let web = Client { addr: "10.0.0.1".into(), name: "web".into() };
            let ask = |user: &str, call: AdminCall| {
                let req = Request::Api {
                    client: web.clone(),
                    creds: Credentials::Password { user: user.into(), password: Secret(format!("{user}-password")) },
                    call: Call::Admin(call),
                };
                let client = client.clone();
                async move {
                    match client.call(&req, &[]).await.unwrap().body {
                        Reply::Api(Ok(crate::proto::Answer::Admin(a))) => Ok(*a),
                        Reply::Api(Err(e)) => Err(e.code),
                        other => panic!("{other:?}"),
                    }
                }
            };
            for call in [
                AdminCall::Sandbox,
                AdminCall::SecurityEvents { limit: 10 },
                AdminCall::ScanProblems,
                AdminCall::TranscodingSettings,
            ] {
                assert_eq!(ask("bob", call.clone()).await.err(), Some(50), "{call:?}");
                assert!(ask("alice", call).await.is_ok());
            }
            let Ok(AdminAnswer::Sandbox(rows)) = ask("alice", AdminCall::Sandbox).await else { panic!() };
            let front = rows.iter().find(|r| r.role == "front").unwrap();
            assert_eq!(front.facts.as_ref(), Some(&facts));
            assert!(rows.iter().filter(|r| r.role != "front").all(|r| r.facts.is_none()), "{rows:?}");
            let Ok(AdminAnswer::SecurityEvents(events)) = ask("alice", AdminCall::SecurityEvents { limit: 10 }).await
            else {
                panic!()
            };
            assert_eq!(events[0].kind, EventKind::ExtAuthRefused);
            assert_eq!((events[0].source.as_str(), events[0].detail.as_str()), ("10.0.0.9", "header from elsewhere"));
        });
        let _ = std::fs::remove_dir_all(dir);
    }

    /// docs/security.md T23: a web session is a credential the broker checks itself. A front
    /// that speaks the channel directly, skipping every check the real front makes, can read
    /// with a live session, but changes nothing without the session's CSRF token: not without
    /// one, not with a wrong one; and an ended session is nothing.
    #[test]
    fn a_web_session_changes_nothing_without_its_csrf_token() {
        use crate::proto::userdata::UserDataCall;
        let dir = std::env::temp_dir().join(format!("redoubt-broker-{}", db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let broker = Broker::open(&init(), &dir, &dir.join("cache"), &[]).unwrap();
        broker.store.add_user("alice", Some("alice-password"), true, None).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let (front_end, broker_end) = privsep::channel::pair().unwrap();
            tokio::spawn(broker.clone().serve_peer(Role::Front, broker_end));
            let (client, _reader) = RpcClient::<Request, Reply>::start(AsyncChannel::new(front_end).unwrap());
            let web = Client { addr: "10.0.0.1".into(), name: "web".into() };
            let login = Request::Login {
                client: web.clone(),
                username: "alice".into(),
                password: Secret("alice-password".into()),
            };
            let Reply::Session(Ok(grant)) = client.call(&login, &[]).await.unwrap().body else { panic!("login") };
            let ask = |csrf: Option<&str>, call: Call| {
                let req = Request::Api {
                    client: web.clone(),
                    creds: Credentials::Session { token: grant.token.clone(), csrf: csrf.map(|c| Secret(c.into())) },
                    call,
                };
                let client = client.clone();
                async move {
                    match client.call(&req, &[]).await.unwrap().body {
                        Reply::Api(Ok(_)) => 200,
                        Reply::Api(Err(e)) => e.code,
                        other => panic!("{other:?}"),
                    }
                }
            };
            let star = || {
                Call::UserData(UserDataCall::Star {
                    star: true,
                    ids: vec![],
                    album_ids: vec![],
                    artist_ids: vec!["x".into()],
                })
            };
            assert_eq!(ask(None, Call::TokenInfo).await, 200, "a read needs no token");
            assert_eq!(ask(None, Call::Library(crate::proto::library::LibraryCall::Genres)).await, 200);
            let new_key = || Call::Account(crate::proto::account::AccountCall::CreateApiKey { name: "k".into() });
            for changes in [star(), Call::StartScan { full: false }, new_key()] {
                assert_eq!(ask(None, changes.clone()).await, 50, "{changes:?} without the token");
                assert_eq!(ask(Some("not-the-token"), changes.clone()).await, 50, "{changes:?} with a wrong token");
            }
            assert_eq!(ask(Some("not-the-token"), Call::TokenInfo).await, 50, "a wrong token is never ignored");
            let with = ask(Some(&grant.csrf.0), star()).await;
            assert!(with == 200 || with == 70, "with the token the call is answered: {with}");
            assert_eq!(ask(Some(&grant.csrf.0), Call::StartScan { full: false }).await, 200);
            assert_eq!(ask(Some(&grant.csrf.0), new_key()).await, 200, "an API key with the token");
            let logout = Request::Logout { token: grant.token.clone(), csrf: grant.csrf.clone() };
            assert!(matches!(client.call(&logout, &[]).await.unwrap().body, Reply::Done));
            assert_eq!(ask(None, Call::TokenInfo).await, 40, "an ended session is no credential");
            assert_eq!(ask(Some(&grant.csrf.0), star()).await, 40);
        });
        let _ = std::fs::remove_dir_all(dir);
    }
}
