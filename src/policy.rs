//! The sandbox policies of each role, read from `policies/` (compiled into the binary).

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use privsep::sandbox::{FsAccess, FsRule, Policy};
use serde::Deserialize;

use crate::proto::{Role, RoleInit};

pub const LANDLOCK: &str = include_str!("../policies/landlock.toml");

#[cfg(target_arch = "x86_64")]
mod arch {
    pub const SUPERVISOR: &str = include_str!("../policies/seccomp/x86_64/supervisor.json");
    pub const BROKER: &str = include_str!("../policies/seccomp/x86_64/broker.json");
    pub const FRONT: &str = include_str!("../policies/seccomp/x86_64/front.json");
    pub const SCANNER: &str = include_str!("../policies/seccomp/x86_64/scanner.json");
    pub const TRANSCODER: &str = include_str!("../policies/seccomp/x86_64/transcoder.json");
}
#[cfg(target_arch = "aarch64")]
mod arch {
    pub const SUPERVISOR: &str = include_str!("../policies/seccomp/aarch64/supervisor.json");
    pub const BROKER: &str = include_str!("../policies/seccomp/aarch64/broker.json");
    pub const FRONT: &str = include_str!("../policies/seccomp/aarch64/front.json");
    pub const SCANNER: &str = include_str!("../policies/seccomp/aarch64/scanner.json");
    pub const TRANSCODER: &str = include_str!("../policies/seccomp/aarch64/transcoder.json");
}

/// The supervisor's own filter. Roles inherit it across exec, so it must allow everything
/// any role's filter allows (a test checks), plus what starting a role takes.
pub const SUPERVISOR_SECCOMP: &str = arch::SUPERVISOR;

pub fn seccomp(role: Role) -> &'static str {
    match role {
        Role::Broker => arch::BROKER,
        Role::Front => arch::FRONT,
        Role::Scanner => arch::SCANNER,
        Role::Transcoder => arch::TRANSCODER,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFs {
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    read_write: Vec<String>,
    #[serde(default)]
    execute: Vec<String>,
}

fn substitute(template: &str, init: &RoleInit) -> Result<Vec<PathBuf>, String> {
    Ok(match template {
        "$MusicFolder" => init.music_folders.clone(),
        "$DataFolder" => vec![init.data_folder.clone()],
        "$CacheFolder" => vec![init.cache_folder.clone()],
        "$BackupPath" => init.broker.as_ref().and_then(|b| b.backup_path.clone()).into_iter().collect(),
        "$FFmpeg" => init.transcoder.ffmpeg.as_deref().map(ffmpeg_executables).unwrap_or_default(),
        "$SystemLibraries" => {
            if init.transcoder.ffmpeg.is_some() {
                system_libraries()
            } else {
                Vec::new()
            }
        }
        t if t.starts_with('$') => return Err(format!("unknown variable {t} in policies/landlock.toml")),
        t => vec![PathBuf::from(t)],
    })
}

/// The files executing ffmpeg opens for execution: the program and its ELF interpreter
/// (the kernel opens both with exec rights, so landlock must grant both).
pub fn ffmpeg_executables(ffmpeg: &std::path::Path) -> Vec<PathBuf> {
    let mut v = vec![ffmpeg.to_path_buf()];
    if let Some(interp) = elf_interpreter(ffmpeg).and_then(|p| std::fs::canonicalize(p).ok()) {
        v.push(interp);
    }
    v
}

/// Where shared libraries live: read-only for the loader. Only folders that exist.
pub fn system_libraries() -> Vec<PathBuf> {
    ["/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache"]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect()
}

/// PT_INTERP of a 64-bit little-endian ELF file (x86_64, aarch64), if it has one.
pub fn elf_interpreter(path: &std::path::Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = vec![0u8; 64 * 1024];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let head = &head[..n];
    if head.len() < 64 || &head[..4] != b"\x7fELF" || head[4] != 2 || head[5] != 1 {
        return None;
    }
    let u16_at = |o: usize| head.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let u64_at = |o: usize| head.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize);
    let (phoff, phentsize, phnum) = (u64_at(0x20)?, u16_at(0x36)?, u16_at(0x38)?);
    for i in 0..phnum {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        let kind = head.get(ph..ph + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()))?;
        if kind == 3 {
            let (off, len) = (u64_at(ph + 8)?, u64_at(ph + 32)?);
            let raw = head.get(off..off.checked_add(len)?)?;
            let name = raw.split(|&b| b == 0).next()?;
            return Some(PathBuf::from(std::ffi::OsStr::from_bytes(name)));
        }
    }
    None
}

/// The landlock rules for a role, from policies/landlock.toml.
pub fn landlock_rules(init: &RoleInit) -> Result<Vec<FsRule>, String> {
    let all: BTreeMap<String, RoleFs> = toml::from_str(LANDLOCK).map_err(|e| format!("policies/landlock.toml: {e}"))?;
    let Some(fs) = all.get(init.role.name()) else {
        return Err(format!("policies/landlock.toml has no [{}] table", init.role.name()));
    };
    let mut rules = Vec::new();
    for (list, access) in
        [(&fs.read, FsAccess::Read), (&fs.read_write, FsAccess::ReadWrite), (&fs.execute, FsAccess::Execute)]
    {
        for t in list {
            for path in substitute(t, init)? {
                rules.push(FsRule { path, access });
            }
        }
    }
    Ok(rules)
}

pub fn for_role(init: &RoleInit) -> Result<Policy<'static>, String> {
    Ok(Policy {
        role: init.role.name(),
        fs: landlock_rules(init)?,
        seccomp_json: seccomp(init.role),
        require: init.sandbox_require,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init(role: Role) -> RoleInit {
        RoleInit {
            role,
            music_folders: vec!["/m".into()],
            data_folder: "/d".into(),
            cache_folder: "/d/cache".into(),
            base_url: String::new(),
            log_level: "info".into(),
            sandbox_require: true,
            listener_is_unix: false,
            probes: vec![],
            broker: None,
            front: Default::default(),
            scanner: Default::default(),
            transcoder: Default::default(),
        }
    }

    #[test]
    fn the_interpreter_of_this_test_binary_is_found() {
        let me = std::env::current_exe().unwrap();
        let interp = elf_interpreter(&me).expect("a dynamically linked test binary");
        assert!(interp.to_string_lossy().contains("ld-linux"), "{interp:?}");
        assert_eq!(elf_interpreter(std::path::Path::new("/etc/hostname")), None);
    }

    #[test]
    fn the_transcoder_may_execute_ffmpeg_only_and_write_nothing() {
        let mut i = init(Role::Transcoder);
        assert!(
            landlock_rules(&i).unwrap().iter().all(|r| r.access == FsAccess::Read),
            "no ffmpeg: nothing but reading"
        );
        i.transcoder.ffmpeg = Some("/usr/bin/ffmpeg".into());
        let rules = landlock_rules(&i).unwrap();
        let exec: Vec<_> = rules.iter().filter(|r| r.access == FsAccess::Execute).map(|r| r.path.clone()).collect();
        assert_eq!(exec[0], PathBuf::from("/usr/bin/ffmpeg"));
        assert!(exec.len() <= 2, "ffmpeg and its interpreter, nothing else: {exec:?}");
        assert!(rules.iter().all(|r| r.access != FsAccess::ReadWrite));
    }

    #[test]
    fn every_role_has_a_landlock_table_and_the_front_gets_nothing() {
        for role in Role::ALL {
            landlock_rules(&init(role)).unwrap();
        }
        assert!(landlock_rules(&init(Role::Front)).unwrap().is_empty());
        let scanner = landlock_rules(&init(Role::Scanner)).unwrap();
        assert!(scanner.iter().all(|r| r.access == FsAccess::Read));
    }

    fn policy_json(arch_dir: &str, name: &str) -> serde_json::Value {
        let path = format!("{}/policies/seccomp/{arch_dir}/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The syscalls a filter of a policy lists; with `unconditional`, only rules without
    /// argument conditions.
    fn listed(policy: &serde_json::Value, filter: &str, unconditional: bool) -> std::collections::BTreeSet<String> {
        policy[filter]["filter"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|r| !unconditional || r.get("args").is_none())
            .map(|r| r["syscall"].as_str().unwrap().to_string())
            .collect()
    }

    fn allowed(json: &str) -> std::collections::BTreeSet<String> {
        listed(&serde_json::from_str(json).unwrap(), "allow", false)
    }

    /// The errno filters of a policy and the errno each answers.
    fn errno_filters(policy: &serde_json::Value) -> Vec<(String, i64)> {
        policy
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(name, f)| f["match_action"]["errno"].as_i64().map(|e| (name.clone(), e)))
            .collect()
    }

    /// The errno a policy answers for a syscall (unconditional rules only), if any.
    fn errno_of(policy: &serde_json::Value, syscall: &str) -> Option<i64> {
        errno_filters(policy).into_iter().find(|(f, _)| listed(policy, f, true).contains(syscall)).map(|(_, e)| e)
    }

    #[test]
    fn the_supervisor_filter_covers_every_role_filter() {
        for arch_dir in ["x86_64", "aarch64"] {
            let dir = format!("{}/policies/seccomp/{arch_dir}", env!("CARGO_MANIFEST_DIR"));
            let sup = allowed(&std::fs::read_to_string(format!("{dir}/supervisor.json")).unwrap());
            for role in Role::ALL {
                let own = allowed(&std::fs::read_to_string(format!("{dir}/{}.json", role.name())).unwrap());
                let missing: Vec<_> = own.difference(&sup).collect();
                assert!(missing.is_empty(), "{arch_dir}: supervisor.json lacks {missing:?} that {} needs", role.name());
            }
        }
    }

    #[test]
    fn every_seccomp_policy_compiles_for_both_architectures() {
        for arch_dir in ["x86_64", "aarch64"] {
            let target = seccompiler::TargetArch::try_from(arch_dir).unwrap();
            for name in Role::ALL.iter().map(|r| r.name()).chain(["supervisor"]) {
                let path = format!("{}/policies/seccomp/{arch_dir}/{name}.json", env!("CARGO_MANIFEST_DIR"));
                let text = std::fs::read_to_string(&path).unwrap();
                let map =
                    seccompiler::compile_from_json(text.as_bytes(), target).unwrap_or_else(|e| panic!("{path}: {e}"));
                let mut names: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
                names.sort();
                let want: &[&str] = if name == "transcoder" {
                    &["allow", "enosys", "eperm", "kill"]
                } else {
                    &["allow", "enosys", "eperm"]
                };
                assert_eq!(names, want, "{path}");
            }
        }
    }

    /// Stacked filters answer with the strictest verdict, so a call a role answers with an
    /// errno must be in that role's allowlist (or the allowlist kills first) and in the
    /// supervisor's (which every role inherits), and where the supervisor answers an errno
    /// too it must be the same one. A call a role allows outright must not be turned into an
    /// error by the supervisor.
    #[test]
    fn errno_answers_agree_between_the_supervisor_and_every_role() {
        for arch_dir in ["x86_64", "aarch64"] {
            let sup = policy_json(arch_dir, "supervisor");
            let sup_allow = listed(&sup, "allow", false);
            for name in Role::ALL.iter().map(|r| r.name()).chain(["supervisor"]) {
                let own = policy_json(arch_dir, name);
                let own_allow = listed(&own, "allow", false);
                let mut answered = std::collections::BTreeSet::new();
                for (filter, errno) in errno_filters(&own) {
                    for call in listed(&own, &filter, false) {
                        assert!(
                            own_allow.contains(&call),
                            "{arch_dir}/{name}: {call} answers {errno} but its allowlist kills it first"
                        );
                        assert!(
                            sup_allow.contains(&call),
                            "{arch_dir}/{name}: {call} answers {errno} but supervisor.json kills it"
                        );
                        if let Some(theirs) = errno_of(&sup, &call) {
                            assert_eq!(
                                theirs, errno,
                                "{arch_dir}: {call} is answered {errno} by {name} and {theirs} by the supervisor"
                            );
                        }
                        answered.insert(call);
                    }
                }
                for call in own_allow.difference(&answered) {
                    assert_eq!(
                        errno_of(&sup, call),
                        None,
                        "{arch_dir}: {name} allows {call}, the supervisor answers an errno"
                    );
                }
            }
        }
    }

    /// The transcoder's policy in groups (policies/seccomp/<arch>/transcoder.json says why):
    /// what libraries probe and survive answers an errno, what would widen a compromised
    /// decoder's reach kills, on both architectures.
    #[test]
    fn the_transcoder_refuses_probes_with_an_errno_and_kills_what_widens_reach() {
        const ENOSYS: i64 = 38;
        const EPERM: i64 = 1;
        let memory_policy =
            ["mbind", "set_mempolicy", "get_mempolicy", "migrate_pages", "move_pages", "set_mempolicy_home_node"];
        let scheduling =
            ["sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr", "setpriority", "ioprio_set"];
        let already_eperm = ["socket", "connect", "bind", "listen", "ptrace", "process_vm_readv", "process_vm_writev"];
        let widen = [
            "bpf",
            "keyctl",
            "perf_event_open",
            "userfaultfd",
            "kexec_load",
            "kexec_file_load",
            "init_module",
            "finit_module",
            "delete_module",
            "unshare",
            "setns",
            "mount",
            "io_uring_setup",
            "open_by_handle_at",
            "shmget",
            "pidfd_send_signal",
        ];
        for arch_dir in ["x86_64", "aarch64"] {
            let t = policy_json(arch_dir, "transcoder");
            for call in memory_policy {
                assert_eq!(errno_of(&t, call), Some(ENOSYS), "{arch_dir}: {call}");
            }
            for call in scheduling.iter().chain(&already_eperm) {
                assert_eq!(errno_of(&t, call), Some(EPERM), "{arch_dir}: {call}");
            }
            assert_eq!(errno_of(&t, "mkdirat"), Some(EPERM), "{arch_dir}");
            let kill = listed(&t, "kill", false);
            assert_eq!(t["kill"]["match_action"], "kill_process");
            for call in widen {
                assert!(kill.contains(call), "{arch_dir}: {call} is not in the kill group");
            }
            // Nothing in the kill group is allowed or answered by any role: the explicit
            // group and every allowlist agree.
            for name in Role::ALL.iter().map(|r| r.name()).chain(["supervisor"]) {
                let own = policy_json(arch_dir, name);
                let own_allow = listed(&own, "allow", false);
                let both: Vec<_> = kill.intersection(&own_allow).collect();
                assert!(both.is_empty(), "{arch_dir}/{name} allows {both:?}, which the transcoder kills");
            }
            // Every group's first rule says why.
            for filter in ["eperm", "enosys", "kill"] {
                assert!(t[filter]["filter"][0]["comment"].is_string(), "{arch_dir}: {filter} has no comment");
            }
        }
    }
}
