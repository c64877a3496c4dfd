//! Offline administration: `redoubt user …`, `redoubt apikey …`, `redoubt key rotate`.
//! They read the same configuration as `serve` and open the database directly, as the
//! service's user (root is refused: files it created would lock the daemon out).
#![forbid(unsafe_code)]

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use zeroize::Zeroizing;

use crate::broker::store::{Settings, Store};
use crate::broker::vault::KeyConfig;
use crate::config::{Config, Overrides};

pub enum UserCmd {
    Add { name: String, admin: bool },
    Passwd { name: String },
    Del { name: String },
    List,
    SetAdmin { name: String, admin: bool },
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
    }
}

fn open(over: &Overrides) -> Result<Store, String> {
    let cfg = load(over)?;
    let (store, log) = Store::open(&key_config(&cfg), Settings::default())?;
    for line in log.iter().filter(|l| !l.contains("fingerprint") || l.contains("re-encrypted")) {
        eprintln!("{line}");
    }
    Ok(store)
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
    let store = match open(&over) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let result: Result<String, String> = match cmd {
        UserCmd::Add { name, admin } => read_password(&format!("password for {name}"))
            .and_then(|pw| store.add_user(&name, Some(&pw), admin, None))
            .map(|_| format!("user {name} added{}", if admin { " (admin)" } else { "" })),
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
        UserCmd::List => store.list_users().map_err(|e| e.to_string()).map(|users| {
            users
                .iter()
                .map(|u| format!("{}{}", u.username, if u.admin { "\tadmin" } else { "" }))
                .collect::<Vec<_>>()
                .join("\n")
        }),
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
    let store = match open(&over) {
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
pub fn scan(over: Overrides, full: bool, problems: bool) -> ExitCode {
    let cfg = match load(&over) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if problems {
        // First, and without the database: a scan that failed for a full disk could not
        // write there.
        let failed = crate::broker::scans::recorded_failure(&cfg.data_folder);
        if let Some(text) = &failed {
            println!("{text}");
        }
        let conn = match crate::broker::db::open(&crate::broker::db::path(&cfg.data_folder)) {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        return match crate::broker::library::problems(&conn) {
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
    let sig = if full { nix::sys::signal::Signal::SIGUSR2 } else { nix::sys::signal::Signal::SIGUSR1 };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
        Ok(()) => {
            println!(
                "{} scan requested; `redoubt scan --problems` lists files that could not be read",
                if full { "full" } else { "incremental" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("signalling pid {pid}: {e}")),
    }
}
