//! Backups (Backup.Path, `redoubt backup create|list|restore`): a backup taken while the API
//! writes is a consistent database with every write committed before it, and restores.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

fn playlists_in(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st = c.prepare("SELECT name FROM playlists").unwrap();
    let mut names: Vec<String> = st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    names.sort_by_key(|n| n.trim_start_matches("pl").parse::<u32>().unwrap_or(u32::MAX));
    names
}

fn integrity(db: &Path) -> String {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap()
}

fn cli_ok(fx: &Fixture, args: &[&str]) -> String {
    let out = fx.cli(args, "");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success(), "{args:?}: {}{}", text, String::from_utf8_lossy(&out.stderr));
    text
}

#[test]
fn a_backup_during_writes_is_whole_and_restores() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let backups = fx.dir.join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    std::fs::set_permissions(&backups, std::fs::Permissions::from_mode(0o700)).unwrap();
    if is_root() {
        chown_tree(&backups, UNPRIVILEGED);
    }
    let config = format!("[Backup]\nPath = '{}'\nCount = 3\n", backups.display());
    std::fs::write(fx.dir.join("redoubt.toml"), &config).unwrap();
    let mut d = Daemon::spawn(fx, Options { config: Some(config.clone()), ..Default::default() });
    d.wait_ready();
    let cfg = d.fx.dir.join("redoubt.toml").display().to_string();

    // One writer, one playlist after another: acknowledged[i] is pl{i}.
    let acknowledged = Arc::new(Mutex::new(0usize));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (ack, stop, port) = (acknowledged.clone(), stop.clone(), d.port);
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let q = format!("/rest/createPlaylist?u={ADMIN}&p={ADMIN_PASSWORD}&v=1.16.1&c=test&f=json&name=pl{i}");
                let r = http(port, "GET", &q, &[], b"").unwrap();
                assert!(r.text().contains("\"status\":\"ok\""), "{}", r.text());
                i += 1;
                *ack.lock().unwrap() = i;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let before = *acknowledged.lock().unwrap();
    assert!(before > 0, "no write went through");
    // The daemon runs: the command asks it, and it copies while it holds its writer.
    let made = PathBuf::from(cli_ok(&d.fx, &["backup", "create", "--config", &cfg]));
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let total = *acknowledged.lock().unwrap();

    assert!(made.starts_with(&backups), "{}", made.display());
    let mode = std::fs::metadata(&made).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "backups are private");
    assert_eq!(integrity(&made), "ok");
    // Consistent: exactly pl0 .. pl{n-1}, with every write acknowledged before the backup was
    // asked for; writes after it are not in it.
    let saved = playlists_in(&made);
    let n = saved.len();
    assert_eq!(saved, (0..n).map(|i| format!("pl{i}")).collect::<Vec<_>>(), "not a prefix of the writes");
    assert!(n >= before, "the backup holds {n} writes, {before} were acknowledged before it began");
    assert!(n < total, "writes went on after the backup ({n} of {total}): the test shows nothing");
    d.wait_log("backup ", Duration::from_secs(5));
    // Pruning below removes it: a copy, readable by the daemon's uid.
    let saved_copy = d.fx.dir.join("during-writes.db");
    std::fs::copy(&made, &saved_copy).unwrap();
    if is_root() {
        chown_tree(&saved_copy, UNPRIVILEGED);
    }

    // Restoring under a running daemon is refused.
    let out = d.fx.cli(&["backup", "restore", made.to_str().unwrap(), "--config", &cfg], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop it first"), "{out:?}");

    // Stopped: create works on the database directly; Backup.Count = 3 prunes.
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(d.wait_exit(Duration::from_secs(15)).success());
    let fx = d.into_fixture();
    let live = fx.data.join("redoubt.db");
    assert_eq!(playlists_in(&live).len(), total);
    for _ in 0..3 {
        cli_ok(&fx, &["backup", "create", "--config", &cfg]);
    }
    let listed = cli_ok(&fx, &["backup", "list", "--config", &cfg]);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(!listed.contains(made.to_str().unwrap()), "the oldest was pruned: {listed}");

    // A damaged backup is refused before anything changes.
    let newest = PathBuf::from(listed.lines().last().unwrap().split('\t').next().unwrap());
    let broken = fx.dir.join("broken.db");
    let mut bytes = std::fs::read(&newest).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 2..len / 2 + 4096.min(len / 2)] {
        *b = 0x5a;
    }
    std::fs::write(&broken, &bytes).unwrap();
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o644)).unwrap();
    if is_root() {
        chown_tree(&broken, UNPRIVILEGED);
    }
    let out = fx.cli(&["backup", "restore", broken.to_str().unwrap(), "--config", &cfg], "");
    assert!(!out.status.success(), "a damaged backup was restored");
    assert_eq!(playlists_in(&live).len(), total, "the database changed");

    // The backup taken during the writes restores: the database holds exactly its writes,
    // and a daemon started on it serves them.
    let out = cli_ok(&fx, &["backup", "restore", newest.to_str().unwrap(), "--config", &cfg]);
    assert!(out.contains("restored"), "{out}");
    assert_eq!(playlists_in(&live).len(), total);
    let out = cli_ok(&fx, &["backup", "restore", saved_copy.to_str().unwrap(), "--config", &cfg]);
    assert!(out.contains("restored"), "{out}");
    assert_eq!(playlists_in(&live), saved);
    assert_eq!(integrity(&live), "ok");
    let mut d = Daemon::spawn(fx, Options { config: Some(config), ..Default::default() });
    d.wait_ready();
    let served = d.rest("getPlaylists", "");
    let count = served["playlists"]["playlist"].as_array().map(|a| a.len()).unwrap_or(0);
    assert_eq!(count, n, "{served}");
}

/// A backup made under another password-encryption key is refused.
#[test]
fn restore_checks_the_key_fingerprint() {
    let fx = Fixture::new();
    fx.add_user(ADMIN, ADMIN_PASSWORD, true);
    let backups = fx.dir.join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    if is_root() {
        chown_tree(&backups, UNPRIVILEGED);
    }
    let cfg_path = fx.dir.join("redoubt.toml");
    std::fs::write(&cfg_path, format!("[Backup]\nPath = '{}'\n", backups.display())).unwrap();
    let cfg = cfg_path.display().to_string();
    let made = cli_ok(&fx, &["backup", "create", "--config", &cfg]);
    assert_eq!(integrity(Path::new(&made)), "ok");
    // The same backup restores with the key it was made with...
    let ok = cli_ok(&fx, &["backup", "restore", &made, "--config", &cfg]);
    assert!(ok.contains("before-restore"), "{ok}");
    // ... but not once the key file is another one.
    let key = fx.data.join("redoubt.key");
    assert!(key.exists(), "no key file in {}", fx.data.display());
    let other = Fixture::new();
    other.add_user("someone", "pw", false);
    std::fs::copy(other.data.join("redoubt.key"), &key).unwrap();
    let out = fx.cli(&["backup", "restore", &made, "--config", &cfg], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("key fingerprint"), "{err}");
}
