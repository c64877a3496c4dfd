//! Offline administration: `redoubt user …`, `redoubt apikey …`, `redoubt key rotate`.
//! They read the same configuration as `serve` and open the database directly, as the
//! service's user (root is refused: files it created would lock the daemon out).
//!
//! Each takes the data folder's lock when it is free. When a daemon holds it, commands that
//! only add or change rows still work (SQLite serialises the writes), but none may make a
//! key transition (a first key, a first-time set, a rotation): the running broker would keep
//! a key the database no longer uses. `key rotate` and `user rename` need the daemon stopped.

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::DirBuilderExt;
use std::process::ExitCode;

use rusqlite::OptionalExtension;
use zeroize::Zeroizing;

use crate::broker::store::{Settings, Store};
use crate::broker::vault::KeyConfig;
use crate::config::{Config, Overrides};

pub enum UserCmd {
    Add {
        name: String,
        admin: bool,
        folders: Vec<String>,
    },
    /// Shows (no folders, no `all`) or sets a user's music folders.
    Folders {
        name: String,
        folders: Vec<String>,
        all: bool,
    },
    Passwd {
        name: String,
    },
    Del {
        name: String,
    },
    List {
        ids: bool,
    },
    SetAdmin {
        name: String,
        admin: bool,
    },
    Unlock {
        name: String,
    },
    Rename {
        user: String,
        new_name: String,
    },
}

pub enum ApiKeyCmd {
    Add { user: String, name: String },
    List { user: Option<String> },
    Revoke { id: String },
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("redoubt: {msg}");
    ExitCode::from(1)
}

fn load(over: &Overrides) -> Result<Config, String> {
    privsep::identity::refuse_privilege().map_err(|e| e.to_string())?;
    let mut cfg = Config::load(over).map_err(|e| e.to_string())?;
    cfg.absolutize().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&cfg.data_folder).map_err(|e| format!("DataFolder {}: {e}", cfg.data_folder.display()))?;
    Ok(cfg)
}

fn key_config(cfg: &Config) -> KeyConfig {
    let credential = std::env::var_os("CREDENTIALS_DIRECTORY")
        .and_then(|d| std::fs::read_to_string(std::path::Path::new(&d).join("password-encryption-key")).ok())
        .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
        .filter(|s| !s.is_empty());
    KeyConfig {
        data_folder: cfg.data_folder.clone(),
        passphrase: cfg.password_encryption_key.clone().or(credential).map(Zeroizing::new),
        previous: cfg.previous_password_encryption_key.clone().map(Zeroizing::new),
        may_transition: false,
    }
}

/// The store, and the data folder's lock if no daemon holds it (see the module comment).
fn open(over: &Overrides) -> Result<(Store, Option<crate::broker::DataLock>), String> {
    let cfg = load(over)?;
    let lock = crate::broker::lock_data_folder(&cfg.data_folder).ok();
    let mut key = key_config(&cfg);
    key.may_transition = lock.is_some();
    let (store, log) = Store::open(&key, Settings::default())?;
    for line in log.iter().filter(|l| !l.contains("fingerprint") || l.contains("re-encrypted")) {
        eprintln!("{line}");
    }
    Ok((store, lock))
}

/// The database alone, without the key: for commands that touch no password.
fn open_db(over: &Overrides) -> Result<(Config, rusqlite::Connection), String> {
    let cfg = load(over)?;
    let conn = crate::broker::db::open(&crate::broker::db::path(&cfg.data_folder)).map_err(|e| e.to_string())?;
    Ok((cfg, conn))
}

/// Music folder ids for what an admin typed: an id, a name, or a configured path. The daemon
/// records the configured folders when it starts.
fn music_folder_ids(conn: &rusqlite::Connection, given: &[String]) -> Result<Vec<i64>, String> {
    let mut st = conn
        .prepare("SELECT id, name, path FROM music_folders WHERE active = 1 ORDER BY id")
        .map_err(|e| e.to_string())?;
    let known = st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| e.to_string())?;
    given
        .iter()
        .map(|g| {
            let g = g.trim();
            known
                .iter()
                .find(|(id, name, path)| id.to_string() == g || name == g || path == g)
                .map(|(id, ..)| *id)
                .ok_or_else(|| {
                    let list: Vec<String> = known.iter().map(|(id, name, path)| format!("{id} {name} ({path})")).collect();
                    format!(
                        "no music folder {g:?}; the music folders are: {} (the daemon records MusicFolder when it starts)",
                        if list.is_empty() { "none yet".to_string() } else { list.join(", ") }
                    )
                })
        })
        .collect()
}

/// `redoubt user folders NAME [FOLDER…] [--all]`: no key needed. A running daemon answers
/// from the new access at once (its answers are revalidated against each user's folders).
fn user_folders(over: &Overrides, name: &str, folders: &[String], all: bool) -> Result<String, String> {
    use crate::broker::access;
    let (_, conn) = open_db(over)?;
    let id: String = conn
        .query_row("SELECT id FROM users WHERE name_key = ?1", [crate::broker::names::key(name)], |r| r.get(0))
        .optional()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {name:?}"))?;
    if all || !folders.is_empty() {
        let target = if all {
            crate::proto::FolderAccess::All
        } else {
            crate::proto::FolderAccess::Only(music_folder_ids(&conn, folders)?)
        };
        access::set_grants(&conn, &id, &target).map_err(|e| e.message)?;
    }
    let admin: bool =
        conn.query_row("SELECT is_admin FROM users WHERE id = ?1", [&id], |r| r.get(0)).map_err(|e| e.to_string())?;
    let shown = match access::grants(&conn, &id).map_err(|e| e.to_string())? {
        None => "every music folder, those added later too".to_string(),
        Some(ids) => {
            let mut st = conn
                .prepare("SELECT id, name FROM music_folders WHERE active = 1 ORDER BY id")
                .map_err(|e| e.to_string())?;
            let names: Vec<String> = st
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|(f, _)| ids.contains(f))
                .map(|(f, name)| format!("{f} {name}"))
                .collect();
            if names.is_empty() {
                "no music folder".to_string()
            } else {
                names.join(", ")
            }
        }
    };
    let note = if admin { " (an admin: sees every folder whatever is set)" } else { "" };
    Ok(format!("{name} may see: {shown}{note}"))
}

/// `redoubt user list`: no key needed, and it works even when a name clash stops the start.
fn list_users(over: &Overrides, ids: bool) -> Result<String, String> {
    let (_, conn) = open_db(over)?;
    let mut st = conn
        .prepare("SELECT id, name, is_admin FROM users ORDER BY name COLLATE NOCASE, id")
        .map_err(|e| e.to_string())?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?)))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, admin) = row.map_err(|e| e.to_string())?;
        let admin = if admin { "\tadmin" } else { "" };
        out.push(if ids { format!("{id}\t{name}{admin}") } else { format!("{name}{admin}") });
    }
    Ok(out.join("\n"))
}

/// `redoubt user rename USER NEW`: USER is an id or a name. Daemon stopped.
fn rename(over: &Overrides, user: &str, new_name: &str) -> Result<String, String> {
    let (cfg, conn) = open_db(over)?;
    let _lock = crate::broker::lock_data_folder(&cfg.data_folder)?;
    let by_id: Option<String> = conn
        .query_row("SELECT id FROM users WHERE id = ?1", [user], |r| r.get(0))
        .optional()
        .map_err(|e| e.to_string())?;
    let ids: Vec<String> = match by_id {
        Some(id) => vec![id],
        None => {
            let mut st = conn.prepare("SELECT id, name FROM users").map_err(|e| e.to_string())?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(|e| e.to_string())?;
            let key = crate::broker::names::key(user);
            let mut found = Vec::new();
            for row in rows {
                let (id, name) = row.map_err(|e| e.to_string())?;
                if crate::broker::names::key(&name) == key {
                    found.push(id);
                }
            }
            found
        }
    };
    match ids.as_slice() {
        [id] => crate::broker::store::rename_user(&conn, id, new_name).map(|n| format!("renamed to {n}")),
        [] => Err(format!("no user {user:?} (`redoubt user list --ids` shows them)")),
        _ => Err(format!("{user:?} names several users: give the id (`redoubt user list --ids`)")),
    }
}

/// `redoubt user unlock NAME`: the running broker applies it within seconds (limits live in
/// its memory only), and this waits to see it applied.
fn unlock(over: &Overrides, name: &str) -> Result<String, String> {
    let (cfg, conn) = open_db(over)?;
    let key = crate::broker::names::key(name);
    let exists: bool = conn
        .query_row("SELECT count(*) > 0 FROM users WHERE name_key = ?1", [&key], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if !exists {
        return Err(format!("no user {name:?}"));
    }
    if crate::broker::lock_data_folder(&cfg.data_folder).is_ok() {
        return Ok(format!(
            "no daemon runs on {}: rate limits live in the daemon's memory, so {name} is not locked out",
            cfg.data_folder.display()
        ));
    }
    conn.execute(
        "INSERT INTO unlocks (name_key, requested_at) VALUES (?1, ?2)",
        rusqlite::params![key, crate::broker::db::now()],
    )
    .map_err(|e| e.to_string())?;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let left: i64 = conn
            .query_row("SELECT count(*) FROM unlocks WHERE name_key = ?1", [&key], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if left == 0 {
            return Ok(format!("{name} unlocked: password and token logins are accepted again"));
        }
    }
    Err("the daemon did not pick the unlock up within 5 s; it stays queued and applies when it does".into())
}

/// A password from the terminal (twice, not echoed), or the first line of stdin. Never argv.
fn read_password(prompt: &str) -> Result<Zeroizing<String>, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = prompt_hidden(&format!("{prompt}: "))?;
        let again = prompt_hidden("again: ")?;
        if *first != *again {
            return Err("the passwords differ".into());
        }
        return Ok(first);
    }
    let mut line = Zeroizing::new(String::new());
    stdin.lock().read_line(&mut line).map_err(|e| e.to_string())?;
    let pw = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_string());
    if pw.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(pw)
}

fn prompt_hidden(prompt: &str) -> Result<Zeroizing<String>, String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let saved = tcgetattr(&stdin).map_err(|e| e.to_string())?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(|e| e.to_string())?;
    let mut line = Zeroizing::new(String::new());
    let r = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    r.map_err(|e| e.to_string())?;
    Ok(Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_string()))
}

pub fn user(over: Overrides, cmd: UserCmd) -> ExitCode {
    let keyless = match &cmd {
        UserCmd::List { ids } => Some(list_users(&over, *ids)),
        UserCmd::Unlock { name } => Some(unlock(&over, name)),
        UserCmd::Rename { user, new_name } => Some(rename(&over, user, new_name)),
        UserCmd::Folders { name, folders, all } => Some(user_folders(&over, name, folders, *all)),
        _ => None,
    };
    if let Some(result) = keyless {
        return match result {
            Ok(out) => {
                if !out.is_empty() {
                    println!("{out}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    let (store, _lock) = match open(&over) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let result: Result<String, String> = match cmd {
        UserCmd::Add { name, admin, folders } => {
            let access = if folders.is_empty() {
                Ok(None)
            } else {
                music_folder_ids(&store.conn(), &folders).map(|ids| Some(crate::proto::FolderAccess::Only(ids)))
            };
            access.and_then(|access| {
                let pw = read_password(&format!("password for {name}"))?;
                let id = store.add_user(&name, Some(&pw), admin, None)?;
                if let Some(access) = &access {
                    crate::broker::access::set_grants(&store.conn(), &id, access).map_err(|e| e.message)?;
                }
                Ok(format!("user {name} added{}", if admin { " (admin)" } else { "" }))
            })
        }
        UserCmd::Passwd { name } => read_password(&format!("new password for {name}"))
            .and_then(|pw| store.set_password(&name, &pw).map_err(|e| e.message))
            .map(|_| format!("password of {name} changed")),
        UserCmd::Del { name } => {
            store.delete_user(&name).map(|_| format!("user {name} deleted")).map_err(|e| e.message)
        }
        UserCmd::SetAdmin { name, admin } => store
            .set_admin(&name, admin)
            .map(|_| format!("{name} is {}an admin", if admin { "" } else { "no longer " }))
            .map_err(|e| e.message),
        UserCmd::List { .. } | UserCmd::Unlock { .. } | UserCmd::Rename { .. } | UserCmd::Folders { .. } => {
            unreachable!("answered above")
        }
    };
    match result {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

pub fn apikey(over: Overrides, cmd: ApiKeyCmd) -> ExitCode {
    let (store, _lock) = match open(&over) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match cmd {
        ApiKeyCmd::Add { user, name } => match store.add_api_key(&user, &name) {
            Ok((id, key)) => {
                eprintln!("API key {id} ({name}) for {user}; it is shown only now:");
                println!("{key}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        ApiKeyCmd::List { user } => match store.list_api_keys(user.as_deref()) {
            Ok(keys) => {
                for k in keys {
                    let used = k.last_used.map(|u| u.to_string()).unwrap_or("never".into());
                    println!("{}\t{}\t{}\tcreated {}\tlast used {used}", k.id, k.user, k.name, k.created);
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        ApiKeyCmd::Revoke { id } => match store.revoke_api_key(&id) {
            Ok(()) => {
                println!("API key {id} revoked");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

/// Re-encrypts every password with a new key, in one transaction. The old and new keys come
/// from PreviousPasswordEncryptionKey and PasswordEncryptionKey (the key file stands for an
/// unset old key), or with `--stdin` from two lines: old (empty: the key file), then new.
pub fn key_rotate(over: Overrides, from_stdin: bool) -> ExitCode {
    let cfg = match load(&over) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // The running broker holds the lock and the old key; rotating under it would strand it.
    let lock = match crate::broker::lock_data_folder(&cfg.data_folder) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let mut key = key_config(&cfg);
    key.may_transition = true;
    if from_stdin {
        let mut lines = std::io::stdin().lock().lines();
        let mut next =
            || lines.next().and_then(Result::ok).map(|l| Zeroizing::new(l.trim_end_matches('\r').to_string()));
        let old = next().filter(|l| !l.is_empty());
        let Some(new) = next().filter(|l| !l.is_empty()) else {
            return fail("--stdin expects two lines: the old key (empty for the key file), then the new key");
        };
        key.previous = old;
        key.passphrase = Some(new);
    }
    if key.passphrase.is_none() {
        return fail(
            "no new key: set PasswordEncryptionKey (and the old one as PreviousPasswordEncryptionKey), or use --stdin",
        );
    }
    match Store::open(&key, Settings::default()) {
        Ok((_, log)) => {
            drop(lock);
            let rotated = log.iter().any(|l| l.contains("re-encrypted"));
            for l in &log {
                println!("{l}");
            }
            if !rotated {
                println!("the database already uses this key: nothing to do");
            } else if from_stdin {
                println!("now set PasswordEncryptionKey to the new key before starting redoubt");
            } else {
                println!("you may now remove PreviousPasswordEncryptionKey from the configuration");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `redoubt scan [--full]`: asks the running daemon for a scan (SIGUSR1, or SIGUSR2 for a full
/// one, to the supervisor named in DataFolder/redoubt.pid). `--problems` lists the files the
/// scanner could not read or that crashed it, from the database, daemon running or not.
/// `--purge-missing` queues its wish in the database (scan_requests) before the signal.
pub fn scan(over: Overrides, full: bool, problems: bool, purge_missing: bool) -> ExitCode {
    let cfg = match load(&over) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if problems {
        // First, and without the database: a scan that failed for a full disk could not
        // write there.
        let failed = crate::broker::scan_jobs::recorded_failure(&cfg.data_folder);
        if let Some(text) = &failed {
            println!("{text}");
        }
        let conn = match crate::broker::db::open(&crate::broker::db::path(&cfg.data_folder)) {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        return match crate::broker::ingest::problems(&conn) {
            Ok(list) => {
                for (root, path, failures, reason) in &list {
                    let shown = String::from_utf8_lossy(path);
                    let crashed = if *failures > 0 {
                        format!(" [crashed the scanner {failures}×{}]", if *failures >= 2 { ", skipped" } else { "" })
                    } else {
                        String::new()
                    };
                    println!("{root}/{shown}\t{reason}{crashed}");
                }
                if list.is_empty() && failed.is_none() {
                    eprintln!("no problems recorded");
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    let pid_file = cfg.data_folder.join(crate::supervisor::PID_FILE);
    let pid = match std::fs::read_to_string(&pid_file).ok().and_then(|s| s.trim().parse::<i32>().ok()) {
        Some(p) => p,
        None => {
            return fail(format!(
                "no daemon: {} is missing (start `redoubt serve`; it scans at start)",
                pid_file.display()
            ))
        }
    };
    let ours = std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"serve"));
    if !ours {
        return fail(format!("no daemon runs with pid {pid} (from {})", pid_file.display()));
    }
    if purge_missing {
        let queued = crate::broker::db::open(&crate::broker::db::path(&cfg.data_folder))
            .map_err(|e| e.to_string())
            .and_then(|conn| {
                conn.execute(
                    "INSERT INTO scan_requests (purge, requested_at) VALUES (1, ?1)",
                    [crate::broker::db::now()],
                )
                .map_err(|e| e.to_string())
            });
        if let Err(e) = queued {
            return fail(e);
        }
    }
    let sig = if full { nix::sys::signal::Signal::SIGUSR2 } else { nix::sys::signal::Signal::SIGUSR1 };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
        Ok(()) => {
            println!(
                "{} scan requested{}; `redoubt scan --problems` lists files that could not be read",
                if full { "full" } else { "incremental" },
                if purge_missing { ", to purge the songs still missing at its end" } else { "" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("signalling pid {pid}: {e}")),
    }
}

pub enum BackupCmd {
    Create,
    List,
    Restore { file: std::path::PathBuf },
}

fn backup_dir(cfg: &Config) -> Result<std::path::PathBuf, String> {
    let dir = cfg.backup_path.clone().ok_or(
        "Backup.Path is not set: name the folder for backups in the configuration (Backup.Path = \"/var/lib/redoubt/backups\") or as REDOUBT_BACKUP_PATH",
    )?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("Backup.Path {}: {e}", dir.display()))?;
    Ok(dir)
}

/// `redoubt backup create`: with no daemon, the backup is made here (holding the data folder's
/// lock); while a daemon runs, it is asked to make it (a queued row, answered within a second),
/// so that the copy is taken while it holds its writer.
fn backup_create(over: &Overrides) -> Result<String, String> {
    let cfg = load(over)?;
    let dir = backup_dir(&cfg)?;
    let db_path = crate::broker::db::path(&cfg.data_folder);
    let conn = crate::broker::db::open(&db_path).map_err(|e| e.to_string())?;
    if let Ok(_lock) = crate::broker::lock_data_folder(&cfg.data_folder) {
        let path = crate::broker::backup::create(&conn, &dir, cfg.backup_count as usize)?;
        return Ok(path.display().to_string());
    }
    conn.execute("INSERT INTO backup_requests (requested_at) VALUES (?1)", [crate::broker::db::now()])
        .map_err(|e| e.to_string())?;
    let id = conn.last_insert_rowid();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let row: Option<(Option<String>, Option<String>)> = conn
            .query_row("SELECT path, error FROM backup_requests WHERE id = ?1 AND done_at IS NOT NULL", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(|e| e.to_string())?;
        match row {
            Some((Some(path), _)) => return Ok(path),
            Some((None, error)) => return Err(error.unwrap_or_else(|| "the daemon could not make the backup".into())),
            None => {}
        }
    }
    Err("the running daemon did not make the backup within 120 s; it stays queued".into())
}

fn backup_list(over: &Overrides) -> Result<String, String> {
    let cfg = load(over)?;
    let dir = backup_dir(&cfg)?;
    let all = crate::broker::backup::list(&dir);
    if all.is_empty() {
        return Ok(format!("no backups in {}", dir.display()));
    }
    Ok(all.iter().map(|(p, size)| format!("{}\t{size} bytes", p.display())).collect::<Vec<_>>().join("\n"))
}

/// `redoubt backup restore FILE`: daemon stopped; the backup must pass `PRAGMA
/// integrity_check` and have been made with the configured password-encryption key. The
/// database it replaces is kept as `redoubt.db.before-restore`.
fn backup_restore(over: &Overrides, file: &std::path::Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let cfg = load(over)?;
    let _lock = crate::broker::lock_data_folder(&cfg.data_folder)
        .map_err(|e| format!("{e}; a backup is never restored under a running daemon"))?;
    let db_path = crate::broker::db::path(&cfg.data_folder);
    let staged = cfg.data_folder.join("redoubt.db.restoring");
    let _ = std::fs::remove_file(&staged);
    std::fs::copy(file, &staged).map_err(|e| format!("{}: {e}", file.display()))?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
    let checked = (|| -> Result<(), String> {
        let mut conn = crate::broker::backup::check(&staged)
            .map_err(|e| e.replace(&staged.display().to_string(), &file.display().to_string()))?;
        // Nothing encrypted yet (no fingerprint): any key will do.
        if crate::broker::db::meta_get(&conn, "key_fingerprint").map_err(|e| e.to_string())?.is_some() {
            crate::broker::vault::open(&mut conn, &key_config(&cfg)).map_err(|e| {
                format!("{}: not restored: its key fingerprint does not match the configured key: {e}", file.display())
            })?;
        }
        Ok(())
    })();
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&staged);
        return Err(e);
    }
    let mut kept = String::new();
    if db_path.exists() {
        // Its WAL folded in and removed, so that the kept copy is whole by itself.
        if let Ok(old) = rusqlite::Connection::open(&db_path) {
            let _ = old.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            let _ = old.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()));
        }
        let before = cfg.data_folder.join("redoubt.db.before-restore");
        std::fs::rename(&db_path, &before).map_err(|e| e.to_string())?;
        kept = format!("; the database it replaced is kept as {}", before.display());
    }
    for side in ["redoubt.db-wal", "redoubt.db-shm"] {
        let _ = std::fs::remove_file(cfg.data_folder.join(side));
    }
    std::fs::rename(&staged, &db_path).map_err(|e| e.to_string())?;
    Ok(format!("restored {} into {}{kept}", file.display(), db_path.display()))
}

pub fn backup(over: Overrides, cmd: BackupCmd) -> ExitCode {
    let r = match &cmd {
        BackupCmd::Create => backup_create(&over),
        BackupCmd::List => backup_list(&over),
        BackupCmd::Restore { file } => backup_restore(&over, file),
    };
    match r {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `redoubt config check`: the effective configuration, each value with where it came from
/// (default, file, env, flag), secrets never shown; warnings on stderr. Exits 2 on an error.
pub fn config_check(over: Overrides) -> ExitCode {
    let cfg = match Config::load(&over) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redoubt: {e}");
            return ExitCode::from(2);
        }
    };
    match &cfg.source {
        Some(p) => println!("# configuration file: {}", p.display()),
        None => println!("# no configuration file: defaults, environment and flags"),
    }
    let width = cfg.origins.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
    for (name, value, origin) in &cfg.origins {
        let quoted = toml::Value::String(value.clone()).to_string();
        println!("{name:<width$} = {quoted}  # {origin}");
    }
    if let Some(url) = &cfg.public_url {
        println!("# BaseUrl is a full URL: requests are served below {:?}; the public URL is {url}", cfg.base_url);
    }
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    if let Err(e) = cfg.resolve_ffmpeg() {
        eprintln!("redoubt: {e}");
        return ExitCode::from(2);
    }
    // The checks `serve` makes at start: readable, parsable, and the key is the certificate's.
    match cfg.tls.as_ref().map(crate::supervisor::tls::load).transpose() {
        Ok(Some(pair)) => {
            println!("# HTTPS (TLS 1.3): TLSCert and TLSKey match; certificate SHA-256 {}", pair.fingerprint())
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("redoubt: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
