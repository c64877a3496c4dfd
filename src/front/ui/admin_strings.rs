//! The admin pages' catalogue, `i18n/admin.<lang>.toml`: a file of its own beside the main
//! one (`strings.rs`), with the same rules: every key named here, none missing, none extra.

use std::sync::LazyLock;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminStrings {
    pub nav_group: String,
    pub nav_users: String,
    pub nav_library: String,
    pub nav_transcoding: String,
    pub nav_security: String,
    pub users_title: String,
    pub users_intro: String,
    pub users_table: String,
    pub col_user: String,
    pub col_email: String,
    pub col_role: String,
    pub col_folders: String,
    pub folders_admin: String,
    pub folders_all: String,
    pub folders_label: String,
    pub save_folders: String,
    pub save_folders_label: String,
    pub folders_saved: String,
    pub col_actions: String,
    pub role_admin: String,
    pub role_user: String,
    pub you: String,
    pub make_admin: String,
    pub make_admin_label: String,
    pub remove_admin: String,
    pub remove_admin_label: String,
    pub new_password_label: String,
    pub reset_password: String,
    pub reset_password_label: String,
    pub delete: String,
    pub delete_user_label: String,
    pub last_admin_note: String,
    pub create_heading: String,
    pub email_optional: String,
    pub admin_flag: String,
    pub create_user: String,
    pub user_created: String,
    pub user_deleted: String,
    pub admin_granted: String,
    pub admin_revoked: String,
    pub password_reset: String,
    pub refused: String,
    pub library_title: String,
    pub library_intro: String,
    pub scan_heading: String,
    pub scan_running: String,
    pub scan_idle: String,
    pub scan_last: String,
    pub scan_never: String,
    pub scan_failed: String,
    pub quick_scan: String,
    pub quick_scan_hint: String,
    pub full_scan: String,
    pub full_scan_hint: String,
    pub scan_requested: String,
    pub problems_heading: String,
    pub problems_intro: String,
    pub problems_table: String,
    pub no_problems: String,
    pub col_folder: String,
    pub col_file: String,
    pub col_reason: String,
    pub col_crashes: String,
    pub transcoding_title: String,
    pub transcoding_intro: String,
    pub read_only: String,
    pub editable: String,
    pub no_program: String,
    pub profiles_table: String,
    pub no_profiles: String,
    pub col_name: String,
    pub col_format: String,
    pub col_bit_rate: String,
    pub col_command: String,
    pub kbps: String,
    pub profile_heading: String,
    pub field_name: String,
    pub field_format: String,
    pub field_bit_rate: String,
    pub field_command: String,
    pub command_hint: String,
    pub save_profile: String,
    pub save_profile_label: String,
    pub delete_profile_label: String,
    pub new_profile: String,
    pub add_profile: String,
    pub profile_saved: String,
    pub profile_deleted: String,
    pub security_title: String,
    pub security_intro: String,
    pub sandbox_heading: String,
    pub sandbox_intro: String,
    pub sandbox_table: String,
    pub col_process: String,
    pub col_pid: String,
    pub col_uid: String,
    pub col_landlock: String,
    pub col_seccomp: String,
    pub col_nnp: String,
    pub col_caps: String,
    pub col_measured: String,
    pub col_verdict: String,
    pub landlock_enforced: String,
    pub landlock_partial: String,
    pub landlock_none: String,
    pub seccomp_filter: String,
    pub seccomp_strict: String,
    pub seccomp_off: String,
    pub yes: String,
    pub no: String,
    pub caps_none: String,
    pub confined: String,
    pub not_confined: String,
    pub not_reported: String,
    pub events_heading: String,
    pub events_intro: String,
    pub events_table: String,
    pub no_events: String,
    pub col_when: String,
    pub col_event: String,
    pub col_who: String,
    pub col_source: String,
    pub col_detail: String,
    pub event_failed_login: String,
    pub event_lockout: String,
    pub event_extauth_refused: String,
    pub event_transcoding_refused: String,
    pub event_role_restarted: String,
    pub scrolls: String,
    pub nav_shares: String,
    pub shares_title: String,
    pub shares_intro: String,
    pub shares_table: String,
    pub no_shares: String,
    pub col_owner: String,
    pub col_shared: String,
    pub delete_share_label: String,
    pub share_deleted: String,
}

static EN: LazyLock<AdminStrings> = LazyLock::new(|| {
    toml::from_str(include_str!("i18n/admin.en.toml")).expect("src/front/ui/i18n/admin.en.toml is complete")
});

/// The admin catalogue for a request's language (English, the only one there is).
pub fn for_lang(_lang: &str) -> &'static AdminStrings {
    &EN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_catalogue_is_complete() {
        let a: AdminStrings = toml::from_str(include_str!("i18n/admin.en.toml")).unwrap();
        assert_eq!(a.nav_group, "Admin");
        for line in include_str!("i18n/admin.en.toml").lines().filter(|l| l.contains(" = ")) {
            assert!(!line.trim_end().ends_with("\"\""), "an empty string in admin.en.toml: {line}");
        }
    }
}
