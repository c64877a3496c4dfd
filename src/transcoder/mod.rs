//! The transcoder: opens music files and runs the configured ffmpeg for the broker, and
//! decodes artwork, returning file descriptors or encoded images. It holds no state and no
//! secret; landlock lets it read the music and execute ffmpeg alone, seccomp denies it
//! sockets, and everything it starts inherits both (docs/security.md T6, T7).
//!
//! Its channel runs the other way from every other role's: the broker asks ([`Job`]), the
//! transcoder answers. Every job is checked here again, whatever the broker says.

pub mod art;
pub mod command;
pub mod zip;

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use privsep::channel::AsyncChannel;
use privsep::rpc::{self, Answer};

use crate::proto::media::{ArtSource, Job, JobError, JobReply, ProfileCheck, ZipEntry};
use crate::proto::Role;
use crate::role::Started;

/// How long ffmpeg may take to produce its first bytes before the transcode counts as failed.
const START_TIMEOUT_MS: u16 = 20_000;
/// The largest first chunk read before answering (the rest streams from the pipe).
const HEAD_BYTES: usize = 64 * 1024;
/// How much of ffmpeg's stderr is kept for the log.
const STDERR_TAIL: usize = 4096;
/// How long checking a profile (a second of audio) may take, to its end.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

macro_rules! sigsys_why {
    () => {
        "the transcoder's system-call filter stopped ffmpeg (SIGSYS): ffmpeg, or a library it loaded on this \
         host, made a system call the sandbox does not allow (the kernel log names it: audit type=1326, syscall=N)"
    };
}

/// Why ffmpeg died by SIGSYS: the seccomp filter it inherits from the transcoder killed it.
pub const SIGSYS_WHY: &str = sigsys_why!();

/// What the log says when that happens while streaming.
pub const SIGSYS_ADVICE: &str =
    concat!(sigsys_why!(), "; run `redoubt doctor` to see which transcoding profiles fail here");

/// How ffmpeg ended, in words; SIGSYS says whose doing it was.
pub fn ended(status: ExitStatus) -> String {
    if status.signal() == Some(nix::libc::SIGSYS) {
        "ffmpeg was stopped by the transcoder's system-call filter (SIGSYS)".into()
    } else {
        format!("ffmpeg ended ({status})")
    }
}

fn killed_by_the_filter(status: &ExitStatus) -> bool {
    status.signal() == Some(nix::libc::SIGSYS)
}

pub struct Transcoder {
    roots: Vec<PathBuf>,
    ffmpeg: Option<PathBuf>,
}

pub fn run(started: Started) -> Result<(), String> {
    drop(started.control);
    let fd = crate::role::broker_channel()?;
    let me = Arc::new(Transcoder {
        roots: started.init.music_folders.clone(),
        ffmpeg: started.init.transcoder.ffmpeg.clone(),
    });
    let rt = crate::role::runtime(Role::Transcoder, 0).map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let chan = AsyncChannel::new(fd).map_err(|e| e.to_string())?;
        // Every job kind may come from the broker; each is checked as it runs.
        let end = rpc::serve(chan, |_: &Job| Ok(()), move |job, _fds| me.clone().run_job(job)).await;
        Err(format!("broker channel ended: {end}"))
    })
}

fn refused(why: impl Into<String>) -> JobError {
    JobError::Refused(why.into())
}

impl Transcoder {
    async fn run_job(self: Arc<Self>, job: Job) -> Answer<JobReply> {
        let result = tokio::task::spawn_blocking(move || match job {
            Job::Open { root, path } => self.open(root, &path),
            Job::Transcode { root, path, command, bit_rate, offset } => {
                self.transcode(root, &path, &command, bit_rate, offset)
            }
            Job::Art { source, size } => self.art(&source, size),
            Job::Avatar { image } => {
                art::avatar(&image).map(|(content_type, bytes)| (JobReply::Image { content_type, bytes }, Vec::new()))
            }
            Job::Check(check) => self.check(&check),
            Job::Zip { entries } => self.zip(&entries),
            Job::Ping => Ok((JobReply::Pong(Box::new(crate::role::sandbox_facts().unwrap_or_default())), Vec::new())),
        })
        .await;
        match result {
            Ok(Ok((body, fds))) => Answer { body, fds },
            Ok(Err(e)) => JobReply::Failed(e).into(),
            Err(e) => JobReply::Failed(JobError::Failed(format!("job panicked: {e}"))).into(),
        }
    }

    /// A music file's absolute path. The relative path must stay inside its music folder
    /// (landlock would refuse anything else anyway).
    fn resolve(&self, root: u32, path: &[u8]) -> Result<PathBuf, JobError> {
        let base = self.roots.get(root as usize).ok_or_else(|| refused(format!("no music folder {root}")))?;
        let rel = Path::new(std::ffi::OsStr::from_bytes(path));
        if path.is_empty() || path.contains(&0) || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(refused(format!("path {:?} is not inside the music folder", String::from_utf8_lossy(path))));
        }
        Ok(base.join(rel))
    }

    fn open(&self, root: u32, path: &[u8]) -> Result<(JobReply, Vec<OwnedFd>), JobError> {
        let full = self.resolve(root, path)?;
        let file = std::fs::File::open(&full).map_err(|e| JobError::NotFound(format!("{}: {e}", full.display())))?;
        let meta = file.metadata().map_err(|e| JobError::NotFound(e.to_string()))?;
        if !meta.is_file() {
            return Err(JobError::NotFound(format!("{} is not a file", full.display())));
        }
        use std::os::unix::fs::MetadataExt;
        Ok((JobReply::Opened { size: meta.len(), mtime: meta.mtime() }, vec![file.into()]))
    }

    fn transcode(
        &self,
        root: u32,
        path: &[u8],
        command_line: &str,
        bit_rate: u32,
        offset: u32,
    ) -> Result<(JobReply, Vec<OwnedFd>), JobError> {
        let ffmpeg = self.ffmpeg.as_ref().ok_or_else(|| refused("no ffmpeg is configured"))?;
        let words = command::split(command_line).map_err(refused)?;
        command::check_program(&words, ffmpeg).map_err(|e| {
            tracing::warn!("refusing a transcoding command: {e}");
            refused(e)
        })?;
        let file = self.resolve(root, path)?;
        if !file.is_file() {
            return Err(JobError::NotFound(file.display().to_string()));
        }
        let mut child = spawn_ffmpeg(ffmpeg, command::arguments(&words, &file, bit_rate, offset))?;
        drop(child.stdin.take());
        let mut stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        // Wait for the first bytes, so that a command that fails at once (a bad input, a
        // denied network or file access) is an error answer rather than an empty stream.
        let mut fds = [nix::poll::PollFd::new(stdout.as_fd(), nix::poll::PollFlags::POLLIN)];
        let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(START_TIMEOUT_MS)).unwrap_or(0);
        let mut head = vec![0u8; HEAD_BYTES];
        let n = if ready == 0 { None } else { stdout.read(&mut head).ok() };
        let Some(n @ 1..) = n else {
            let _ = child.kill();
            let tail = stderr_tail(stderr);
            let status = child.wait().ok();
            let why = match status {
                _ if ready == 0 => format!("no output within {} s", START_TIMEOUT_MS / 1000),
                Some(s) => format!("{} without output", ended(s)),
                None => "ffmpeg ended without output".into(),
            };
            if status.as_ref().is_some_and(killed_by_the_filter) {
                tracing::warn!("transcoding {} failed: {SIGSYS_ADVICE}", file.display());
            } else {
                tracing::warn!("transcoding {} failed: {why}: {}", file.display(), tail.trim());
            }
            return Err(JobError::Failed(why));
        };
        head.truncate(n);
        // The broker counts this transcode as running until `done` reaches end-of-file,
        // which happens when ffmpeg has exited and been reaped.
        let (done_read, done_write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| JobError::Failed(format!("pipe: {e}")))?;
        let shown = file.display().to_string();
        tokio::task::spawn_blocking(move || {
            let tail = stderr_tail(stderr);
            let status = child.wait();
            match status {
                Ok(s) if s.success() => tracing::debug!("transcoded {shown}"),
                // The client went away: ffmpeg's pipe closed under it.
                Ok(s) if s.signal() == Some(nix::libc::SIGPIPE) || tail.contains("Broken pipe") => {
                    tracing::debug!("transcoding {shown} stopped: the client went away")
                }
                Ok(s) if killed_by_the_filter(&s) => tracing::warn!("transcoding {shown} failed: {SIGSYS_ADVICE}"),
                Ok(s) => tracing::warn!("transcoding {shown} failed ({s}): {}", tail.trim()),
                Err(e) => tracing::warn!("waiting for ffmpeg: {e}"),
            }
            drop(done_write);
        });
        Ok((JobReply::Running { head }, vec![stdout.into(), done_read]))
    }

    /// [`Job::Check`]: a profile run on a generated second of audio, in this sandbox.
    fn check(&self, check: &ProfileCheck) -> Result<(JobReply, Vec<OwnedFd>), JobError> {
        let ffmpeg = self.ffmpeg.as_ref().ok_or_else(|| refused("no ffmpeg is configured"))?;
        let bytes = check_profile(ffmpeg, check).map_err(JobError::Failed)?;
        Ok((JobReply::Checked { bytes }, Vec::new()))
    }

    /// [`Job::Zip`]: every path checked first, then a thread writes the zip into a pipe.
    /// The front reads the other end; when the client goes away the write fails (EPIPE) and
    /// the thread stops.
    fn zip(&self, entries: &[ZipEntry]) -> Result<(JobReply, Vec<OwnedFd>), JobError> {
        let files = entries
            .iter()
            .map(|e| {
                if e.name.is_empty() || e.name.len() > 1024 || e.name.starts_with('/') || e.name.contains('\0') {
                    return Err(refused(format!("zip entry name {:?}", e.name)));
                }
                Ok((self.resolve(e.root, &e.path)?, e.name.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (read, write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| JobError::Failed(format!("pipe: {e}")))?;
        std::thread::spawn(move || {
            let out = std::io::BufWriter::with_capacity(64 * 1024, std::fs::File::from(write));
            let mut zip = zip::ZipWriter::new(out);
            for (path, name) in &files {
                let file = match std::fs::File::open(path) {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!("zip: {} left out: {e}", path.display());
                        continue;
                    }
                };
                use std::os::unix::fs::MetadataExt;
                let (size, mtime) = match file.metadata() {
                    Ok(m) if m.is_file() => (m.len(), m.mtime()),
                    _ => continue,
                };
                if let Err(e) = zip.add(name, mtime, size, file) {
                    tracing::debug!("zip stopped: {e} (the client went away?)");
                    return;
                }
            }
            if let Err(e) = zip.finish() {
                tracing::debug!("zip stopped at its end: {e}");
            }
        });
        Ok((JobReply::Zipping, vec![read]))
    }

    fn art(&self, source: &ArtSource, size: Option<u32>) -> Result<(JobReply, Vec<OwnedFd>), JobError> {
        let (path, embedded) = match source {
            ArtSource::File { root, path } => (self.resolve(*root, path)?, false),
            ArtSource::Embedded { root, path } => (self.resolve(*root, path)?, true),
        };
        let (content_type, bytes) = art::render(&path, embedded, size)?;
        Ok((JobReply::Image { content_type, bytes }, Vec::new()))
    }
}

/// Runs the configured ffmpeg: no shell, no environment, killed with its parent.
fn spawn_ffmpeg(ffmpeg: &Path, args: Vec<OsString>) -> Result<Child, JobError> {
    let mut cmd = Command::new(ffmpeg);
    cmd.args(args).env_clear().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    privsep::spawn::die_with_parent(&mut cmd);
    cmd.spawn().map_err(|e| JobError::Failed(format!("cannot run {}: {e}", ffmpeg.display())))
}

/// The generated input of a profile check: a second of a 440 Hz tone, stereo, made by
/// ffmpeg's lavfi source inside the sandbox.
pub const CHECK_SOURCE: &str = "sine=frequency=440:sample_rate=44100:duration=1,aformat=channel_layouts=stereo";

/// A profile's arguments for a check: `-i %s` becomes `-f lavfi -i` [`CHECK_SOURCE`], `%t`
/// 0 and `%b` the profile's bit rate; everything else is the profile's own.
pub fn check_arguments(words: &[String], bit_rate: u32) -> Result<Vec<OsString>, String> {
    let mut args = command::arguments(words, Path::new(CHECK_SOURCE), bit_rate, 0);
    // args[j] comes from words[j + 1].
    let input = (1..args.len()).find(|&j| words[j + 1] == "%s" && words[j] == "-i");
    let Some(j) = input else {
        return Err("the command has no `-i %s` to give a generated second of audio to".into());
    };
    args.splice(j - 1..j - 1, ["-f".into(), "lavfi".into()]);
    Ok(args)
}

/// Runs a profile's command, in this process's sandbox, on a generated second of audio
/// ([`check_arguments`]), to its end. Ok: ffmpeg exited 0 and wrote this many bytes; Err:
/// why not, in words. Used by the transcoder at start and by `redoubt doctor`, each under
/// the transcoder's policy.
pub fn check_profile(ffmpeg: &Path, check: &ProfileCheck) -> Result<u64, String> {
    let words = command::split(&check.command)?;
    command::check_program(&words, ffmpeg)?;
    let args = check_arguments(&words, check.bit_rate)?;
    let mut child = spawn_ffmpeg(ffmpeg, args).map_err(|e| e.to_string())?;
    drop(child.stdin.take());
    let stderr = child.stderr.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let tail = std::thread::spawn(move || stderr_tail(stderr));
    let deadline = Instant::now() + CHECK_TIMEOUT;
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [nix::poll::PollFd::new(stdout.as_fd(), nix::poll::PollFlags::POLLIN)];
        let wait = nix::poll::PollTimeout::try_from(left.as_millis().min(60_000) as i32)
            .unwrap_or(nix::poll::PollTimeout::ZERO);
        match nix::poll::poll(&mut fds, wait) {
            Ok(0) => {
                timed_out = true;
                break;
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading ffmpeg's output: {e}")),
        }
    }
    if timed_out {
        let _ = child.kill();
    }
    let status = child.wait().map_err(|e| format!("waiting for ffmpeg: {e}"))?;
    let tail = tail.join().unwrap_or_default();
    let said: Vec<&str> = tail.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let said = said[said.len().saturating_sub(2)..].join(" / ");
    let said =
        if said.is_empty() { String::new() } else { format!(": {}", said.chars().take(300).collect::<String>()) };
    match status {
        _ if timed_out => Err(format!("ffmpeg did not finish within {} s{said}", CHECK_TIMEOUT.as_secs())),
        s if s.success() && bytes > 0 => Ok(bytes),
        s if s.success() => Err(format!("ffmpeg exited 0 but wrote nothing{said}")),
        s if killed_by_the_filter(&s) => Err(SIGSYS_WHY.into()),
        s => Err(format!("{} without finishing{said}", ended(s))),
    }
}

/// Reads a child's stderr to its end, keeping only the last [`STDERR_TAIL`] bytes.
fn stderr_tail(mut stderr: impl Read) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = stderr.read(&mut buf) {
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * STDERR_TAIL {
            kept.drain(..kept.len() - STDERR_TAIL);
        }
    }
    if kept.len() > STDERR_TAIL {
        kept.drain(..kept.len() - STDERR_TAIL);
    }
    String::from_utf8_lossy(&kept).into_owned()
}
