//! redoubt: a privilege-separated, sandboxed Subsonic music server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use redoubt::admin::{self, ApiKeyCmd, BackupCmd, UserCmd};
use redoubt::{config, doctor, proto, role, supervisor};

#[derive(Parser)]
#[command(name = "redoubt", version, about = "A privilege-separated, sandboxed Subsonic music server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
struct ConfigArgs {
    /// Configuration file (default: ./redoubt.toml, else /etc/redoubt/redoubt.toml, if present)
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// MusicFolder: the music, read-only
    #[arg(long, global = true)]
    music_folder: Option<String>,
    /// DataFolder: database and key file
    #[arg(long, global = true)]
    data_folder: Option<String>,
    /// Address to listen on (or unix:/path)
    #[arg(long, global = true)]
    address: Option<String>,
    /// Port to listen on
    #[arg(long, global = true)]
    port: Option<String>,
    /// LogLevel: error, warn, info, debug, trace
    #[arg(long, global = true)]
    log_level: Option<String>,
}

impl From<ConfigArgs> for config::Overrides {
    fn from(a: ConfigArgs) -> Self {
        config::Overrides {
            config: a.config,
            music_folder: a.music_folder,
            data_folder: a.data_folder,
            address: a.address,
            port: a.port,
            log_level: a.log_level,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (supervisor and its four sandboxed roles)
    Serve(ConfigArgs),
    /// Check what this kernel enforces for each role, before deploying
    Doctor(ConfigArgs),
    /// Manage users (passwords are read from the terminal or the first line of stdin)
    User {
        #[command(flatten)]
        cfg: ConfigArgs,
        #[command(subcommand)]
        cmd: UserCommand,
    },
    /// Manage OpenSubsonic API keys
    Apikey {
        #[command(flatten)]
        cfg: ConfigArgs,
        #[command(subcommand)]
        cmd: ApiKeyCommand,
    },
    /// Ask the running daemon to scan the library, or list the files it could not read
    Scan {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Read every file again, not only changed ones
        #[arg(long)]
        full: bool,
        /// List files that could not be read, or that crashed the scanner
        #[arg(long)]
        problems: bool,
        /// Delete the songs still missing at the end of this scan (moved files keep their stars
        /// and plays), whatever Scanner.PurgeMissing says
        #[arg(long, conflicts_with = "problems")]
        purge_missing: bool,
    },
    /// Manage the password-encryption key
    Key {
        #[command(flatten)]
        cfg: ConfigArgs,
        #[command(subcommand)]
        cmd: KeyCommand,
    },
    /// Back up the database (Backup.Path), list the backups, or restore one (daemon stopped)
    Backup {
        #[command(flatten)]
        cfg: ConfigArgs,
        #[command(subcommand)]
        cmd: BackupCommand,
    },
    /// Check the configuration: print every option's effective value and where it came from
    Config {
        #[command(flatten)]
        cfg: ConfigArgs,
        #[command(subcommand)]
        cmd: ConfigCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout
    Completions { shell: clap_complete::Shell },
    /// Internal: write the manual pages (redoubt.1, redoubt-serve.1, …) into a folder, for packages
    #[command(hide = true)]
    Man { dir: PathBuf },
    /// Internal: a role process, started by `serve`
    #[command(hide = true)]
    Role { name: String },
    /// Internal: a throwaway sandboxed child, started by `doctor`
    #[command(hide = true)]
    DoctorRole { name: String },
    /// Internal: a throwaway transcoder that checks the profiles, started by `doctor`
    #[command(hide = true)]
    DoctorTranscode,
    /// Test builds only: run a command with the landlock syscalls answering EPERM
    #[cfg(feature = "test-hooks")]
    #[command(hide = true)]
    TestDenyLandlock {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<std::ffi::OsString>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
        /// The only music folders the user may see, by id, name or path, comma-separated
        /// (default: every folder, those added later too)
        #[arg(long, value_delimiter = ',')]
        folders: Vec<String>,
    },
    /// Show or set the music folders a user may see (by id, name or path; --all: every
    /// folder, those added later too). Admins see every folder whatever is set
    Folders {
        name: String,
        folders: Vec<String>,
        #[arg(long, conflicts_with = "folders")]
        all: bool,
    },
    /// Set a user's password
    Passwd { name: String },
    /// Delete a user
    Del { name: String },
    /// List users (with --ids, their ids too)
    List {
        #[arg(long)]
        ids: bool,
    },
    /// Lift the rate limit on a user's password logins, in the running daemon
    Unlock { name: String },
    /// Rename a user, given by name or id (daemon stopped; the way out of a name clash)
    Rename { user: String, new_name: String },
    /// Grant (or with --off, take away) the admin role
    SetAdmin {
        name: String,
        #[arg(long)]
        off: bool,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create an API key for a user; it is printed once
    Add { user: String, name: String },
    /// List API keys (never the keys themselves)
    List { user: Option<String> },
    /// Revoke an API key by id
    Revoke { id: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets never shown); exit non-zero on an error
    Check,
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Make a backup now: the running daemon makes it, or this command when none runs
    Create,
    /// List the backups in Backup.Path, oldest first
    List,
    /// Replace the database with a backup (daemon stopped; checked first)
    Restore { file: PathBuf },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Re-encrypt every password with a new key, in one transaction (daemon stopped)
    Rotate {
        /// Read the old key (empty line: the key file) and the new key from standard input
        #[arg(long)]
        stdin: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Everything redoubt creates (database, WAL, key, lock, pid, cache) is private to its user,
    // whatever umask it was started with; the unix socket's mode is set explicitly. Roles
    // inherit it from the supervisor (and their filters do not allow umask(2)).
    if !matches!(cli.command, Command::Role { .. } | Command::DoctorRole { .. }) {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    }
    match cli.command {
        Command::Serve(a) => supervisor::serve(a.into()),
        Command::Doctor(a) => doctor::run(a.into()),
        Command::User { cfg, cmd } => admin::user(
            cfg.into(),
            match cmd {
                UserCommand::Add { name, admin, folders } => UserCmd::Add { name, admin, folders },
                UserCommand::Folders { name, folders, all } => UserCmd::Folders { name, folders, all },
                UserCommand::Passwd { name } => UserCmd::Passwd { name },
                UserCommand::Del { name } => UserCmd::Del { name },
                UserCommand::List { ids } => UserCmd::List { ids },
                UserCommand::Unlock { name } => UserCmd::Unlock { name },
                UserCommand::Rename { user, new_name } => UserCmd::Rename { user, new_name },
                UserCommand::SetAdmin { name, off } => UserCmd::SetAdmin { name, admin: !off },
            },
        ),
        Command::Apikey { cfg, cmd } => admin::apikey(
            cfg.into(),
            match cmd {
                ApiKeyCommand::Add { user, name } => ApiKeyCmd::Add { user, name },
                ApiKeyCommand::List { user } => ApiKeyCmd::List { user },
                ApiKeyCommand::Revoke { id } => ApiKeyCmd::Revoke { id },
            },
        ),
        Command::Key { cfg, cmd: KeyCommand::Rotate { stdin } } => admin::key_rotate(cfg.into(), stdin),
        Command::Config { cfg, cmd: ConfigCommand::Check } => admin::config_check(cfg.into()),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "redoubt", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man { dir } => match clap_mangen::generate_to(Cli::command(), &dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("redoubt: writing the manual page: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Backup { cfg, cmd } => admin::backup(
            cfg.into(),
            match cmd {
                BackupCommand::Create => BackupCmd::Create,
                BackupCommand::List => BackupCmd::List,
                BackupCommand::Restore { file } => BackupCmd::Restore { file },
            },
        ),
        Command::Scan { cfg, full, problems, purge_missing } => admin::scan(cfg.into(), full, problems, purge_missing),
        Command::Role { name } => match proto::Role::from_name(&name) {
            Some(role) => role::run(role),
            None => {
                eprintln!("redoubt: no role {name:?}");
                ExitCode::from(2)
            }
        },
        Command::DoctorRole { name } => match proto::Role::from_name(&name) {
            Some(role) => doctor::child(role),
            None => ExitCode::from(2),
        },
        Command::DoctorTranscode => doctor::transcode_child(),
        #[cfg(feature = "test-hooks")]
        Command::TestDenyLandlock { command } => deny_landlock_and_exec(command),
    }
}

/// Installs a seccomp filter that answers EPERM to landlock_create_ruleset,
/// landlock_add_rule and landlock_restrict_self (as an old systemd SystemCallFilter would),
/// then runs the command. Used by the T11 test.
#[cfg(feature = "test-hooks")]
fn deny_landlock_and_exec(command: Vec<std::ffi::OsString>) -> ExitCode {
    use std::os::unix::process::CommandExt;
    const POLICY: &str = r#"{"deny_landlock": {"mismatch_action": "allow", "match_action": {"errno": 1},
        "filter": [{"syscall": "landlock_create_ruleset"}, {"syscall": "landlock_add_rule"},
                   {"syscall": "landlock_restrict_self"}]}}"#;
    let arch = seccompiler::TargetArch::try_from(std::env::consts::ARCH).expect("arch");
    let map = seccompiler::compile_from_json(POLICY.as_bytes(), arch).expect("policy");
    nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
    seccompiler::apply_filter(&map["deny_landlock"]).expect("filter");
    let Some((prog, args)) = command.split_first() else {
        return ExitCode::from(2);
    };
    let err = std::process::Command::new(prog).args(args).exec();
    eprintln!("exec: {err}");
    ExitCode::from(2)
}
