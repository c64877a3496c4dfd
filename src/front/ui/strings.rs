//! The UI's string catalogue: every word a page shows (and every word the player's script
//! shows, which the page hands it) comes from one file per language, `i18n/<lang>.toml`,
//! compiled into the binary. English is the only one so far; a translation is a copy of
//! `en.toml` with the same keys, and one more arm in [`for_request`].
//!
//! The struct below names every key, so a page cannot ask for a string that does not exist,
//! and a catalogue that lacks one (or has one too many) fails `tests::catalogues_are_complete`
//! rather than a page.

use std::sync::LazyLock;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strings {
    pub lang: String,
    pub app_name: String,
    pub skip_to_content: String,
    pub home: String,
    pub same_site_again: String,
    pub nav_label: String,
    pub nav_newest: String,
    pub nav_recent: String,
    pub nav_frequent: String,
    pub nav_random: String,
    pub nav_starred: String,
    pub nav_alphabetical: String,
    pub nav_by_year: String,
    pub nav_artists: String,
    pub nav_genres: String,
    pub nav_folders: String,
    pub nav_albums_group: String,
    pub nav_browse_group: String,
    pub search_label: String,
    pub search_placeholder: String,
    pub signed_in_as: String,
    pub log_out: String,
    pub keyboard_shortcuts: String,
    pub account: String,
    pub setup_title: String,
    pub setup_intro: String,
    pub setup_code: String,
    pub setup_code_hint: String,
    pub user_name: String,
    pub password: String,
    pub password_again: String,
    pub setup_submit: String,
    pub setup_closed_title: String,
    pub setup_closed: String,
    pub go_to_login: String,
    pub passwords_differ: String,
    pub setup_wrong_code: String,
    pub server_refused: String,
    pub login_title: String,
    pub login_intro: String,
    pub login_submit: String,
    pub login_wrong: String,
    pub login_wait: String,
    pub seconds_one: String,
    pub seconds_other: String,
    pub minutes_one: String,
    pub minutes_other: String,
    pub logged_out: String,
    pub log_in_again: String,
    pub proxy_logged_out: String,
    pub session_needed: String,
    pub cross_site_refused: String,
    pub proxy_refused: String,
    pub server_unavailable: String,
    pub error_title: String,
    pub not_found_title: String,
    pub not_found: String,
    pub forbidden_title: String,
    pub forbidden: String,
    pub back_home: String,
    pub list_newest: String,
    pub list_recent: String,
    pub list_frequent: String,
    pub list_random: String,
    pub list_starred: String,
    pub list_alphabetical: String,
    pub list_by_artist: String,
    pub list_by_year: String,
    pub list_by_genre: String,
    pub list_in_folder: String,
    pub list_kinds: String,
    pub year_from: String,
    pub year_to: String,
    pub show: String,
    pub more_random: String,
    pub prev_page: String,
    pub next_page: String,
    pub page_n: String,
    pub pagination: String,
    pub no_albums: String,
    pub empty_library: String,
    pub play: String,
    pub play_album: String,
    pub shuffle_album: String,
    pub add_to_queue: String,
    pub add_song_to_queue: String,
    pub play_next: String,
    pub play_song_next: String,
    pub play_song: String,
    pub by_artist: String,
    pub songs_one: String,
    pub songs_other: String,
    pub albums_one: String,
    pub albums_other: String,
    pub disc_n: String,
    pub col_number: String,
    pub col_title: String,
    pub col_artist: String,
    pub col_album: String,
    pub col_duration: String,
    pub col_actions: String,
    pub col_albums: String,
    pub col_songs: String,
    pub col_genre: String,
    pub year: String,
    pub album_facts: String,
    pub compilation: String,
    pub comment: String,
    pub tracks: String,
    pub song_details: String,
    pub lyrics: String,
    pub no_lyrics: String,
    pub file: String,
    pub file_format: String,
    pub bit_rate: String,
    pub song_of_album: String,
    pub details_of: String,
    pub artists_title: String,
    pub letters: String,
    pub no_artists: String,
    pub artist_albums: String,
    pub genres_title: String,
    pub no_genres: String,
    pub folders_title: String,
    pub folder_albums: String,
    pub search_title: String,
    pub search_results_for: String,
    pub search_prompt: String,
    pub search_nothing: String,
    pub results_artists: String,
    pub results_albums: String,
    pub results_songs: String,
    pub more_results: String,
    pub player_label: String,
    pub nothing_playing: String,
    pub pause: String,
    pub previous: String,
    pub next: String,
    pub seek: String,
    pub seek_value: String,
    pub volume: String,
    pub mute: String,
    pub unmute: String,
    pub shuffle: String,
    pub repeat_off: String,
    pub repeat_all: String,
    pub repeat_one: String,
    pub queue: String,
    pub queue_empty: String,
    pub clear_queue: String,
    pub remove_song: String,
    pub move_up: String,
    pub move_down: String,
    pub queue_more: String,
    pub added_to_queue: String,
    pub playing_next: String,
    pub now_playing: String,
    pub cannot_play: String,
    pub queue_cleared: String,
    pub player_settings: String,
    pub format: String,
    pub format_original: String,
    pub max_bit_rate: String,
    pub no_limit: String,
    pub kbps: String,
    pub replay_gain: String,
    pub rg_off: String,
    pub rg_track: String,
    pub rg_album: String,
    pub settings_note: String,
    pub settings_saved: String,
    pub close: String,
    pub save: String,
    pub shortcuts_title: String,
    pub shortcuts_intro: String,
    pub col_key: String,
    pub col_does: String,
    pub key_space: String,
    pub key_play_pause: String,
    pub key_next: String,
    pub key_previous: String,
    pub key_forward: String,
    pub key_back: String,
    pub key_volume_up: String,
    pub key_volume_down: String,
    pub key_mute: String,
    pub key_shuffle: String,
    pub key_repeat: String,
    pub key_queue: String,
    pub key_search: String,
    pub key_help: String,
    pub key_escape: String,
    pub key_escape_name: String,
    // Your music and settings.
    pub nav_music_group: String,
    pub nav_playlists: String,
    pub nav_settings: String,
    pub star: String,
    pub star_song: String,
    pub star_album: String,
    pub your_rating: String,
    pub rating_none: String,
    pub rating_n: String,
    pub add_song_to_playlist: String,
    pub add_to_playlist: String,
    pub playlist_target: String,
    pub new_playlist_option: String,
    pub new_playlist_name: String,
    pub add: String,
    pub added_to_playlist: String,
    pub change_failed: String,
    pub rating_saved: String,
    pub starred_done: String,
    pub unstarred_done: String,
    pub playlists_title: String,
    pub create_playlist: String,
    pub no_playlists: String,
    pub playlist_by: String,
    pub read_only: String,
    pub imported_note: String,
    pub not_yours_note: String,
    pub playlist_name: String,
    pub rename: String,
    pub delete_playlist: String,
    pub delete_for_good: String,
    pub delete_warning: String,
    pub playlist_empty: String,
    pub move_song_up: String,
    pub move_song_down: String,
    pub remove_from_playlist: String,
    pub playlist_saved: String,
    pub playlist_deleted: String,
    pub edit_songs: String,
    pub smart_new: String,
    pub smart_edit: String,
    pub smart_note: String,
    pub smart_imported_note: String,
    pub smart_intro: String,
    pub smart_match: String,
    pub smart_match_all: String,
    pub smart_match_any: String,
    pub smart_rule_n: String,
    pub smart_field: String,
    pub smart_operator: String,
    pub smart_value: String,
    pub smart_value_to: String,
    pub smart_value_hint: String,
    pub smart_remove: String,
    pub smart_sort: String,
    pub smart_sort_title: String,
    pub smart_sort_random: String,
    pub smart_descending: String,
    pub smart_limit: String,
    pub smart_comment: String,
    pub smart_public: String,
    pub smart_save: String,
    pub smart_problems: String,
    pub smart_bad_rule: String,
    pub smart_bad_limit: String,
    pub smart_nested: String,
    pub smart_delete: String,
    /// Labels of the rule fields and operators, by their `.nsp` names.
    pub smart_fields: std::collections::BTreeMap<String, String>,
    pub smart_operators: std::collections::BTreeMap<String, String>,
    pub settings_title: String,
    pub password_title: String,
    pub current_password: String,
    pub new_password: String,
    pub new_password_again: String,
    pub change_password: String,
    pub password_note: String,
    pub password_wrong_current: String,
    pub password_changed: String,
    pub api_keys_title: String,
    pub api_keys_intro: String,
    pub api_key_name: String,
    pub create_api_key: String,
    pub api_key_created: String,
    pub api_key_label: String,
    pub no_api_keys: String,
    pub api_key_dates: String,
    pub never: String,
    pub revoke: String,
    pub revoke_key: String,
    pub api_key_revoked: String,
    pub players_title: String,
    pub players_intro: String,
    pub no_players: String,
    pub player_seen: String,
    pub forced_format: String,
    pub format_as_asked: String,
    pub format_raw: String,
    pub player_saved: String,
    pub avatar_title: String,
    pub avatar_intro: String,
    pub avatar_file: String,
    pub avatar_upload: String,
    pub avatar_remove: String,
    pub avatar_saved: String,
    pub avatar_removed: String,
    pub avatar_too_large: String,
    pub avatar_refused: String,
    pub save_player: String,
    pub theme_title: String,
    pub theme_label: String,
    pub theme_system: String,
    pub theme_light: String,
    pub theme_dark: String,
    pub theme_note: String,
    pub share_untitled: String,
    pub share_by: String,
    pub share_until: String,
    pub share_play_all: String,
    pub share_download: String,
    pub share_m3u: String,
    pub share_password_title: String,
    pub share_password_intro: String,
    pub share_password_open: String,
    pub share_password_wrong: String,
    pub share_password_wait: String,
    pub share_gone_title: String,
    pub share_gone: String,
    pub share_unknown_title: String,
    pub share_unknown: String,
    pub nav_shares: String,
    pub share: String,
    pub share_item: String,
    pub share_title: String,
    pub share_description: String,
    pub share_expires: String,
    pub share_expires_note: String,
    pub share_expires_edit_note: String,
    pub share_downloadable: String,
    pub share_password_optional: String,
    pub share_new_password: String,
    pub share_clear_password: String,
    pub share_max_plays: String,
    pub share_max_plays_note: String,
    pub share_transcode: String,
    pub share_transcode_note: String,
    pub share_create: String,
    pub share_created: String,
    pub share_link: String,
    pub share_copy: String,
    pub link_copied: String,
    pub copy_by_hand: String,
    pub my_shares_title: String,
    pub my_shares_intro: String,
    pub no_shares: String,
    pub share_nothing_left: String,
    pub share_and_more: String,
    pub share_plays: String,
    pub share_plays_of: String,
    pub share_plays_label: String,
    pub share_visits: String,
    pub share_visits_one: String,
    pub share_visits_other: String,
    pub share_last_visit: String,
    pub share_created_at: String,
    pub share_has_password: String,
    pub share_never: String,
    pub share_ended_on: String,
    pub yes: String,
    pub no: String,
    pub share_edit: String,
    pub share_delete: String,
    pub share_delete_warning: String,
    pub share_saved: String,
    pub share_deleted: String,
    pub share_bad_date: String,
    pub share_bad_cap: String,
}

static EN: LazyLock<Strings> =
    LazyLock::new(|| toml::from_str(include_str!("i18n/en.toml")).expect("src/front/ui/i18n/en.toml is complete"));

/// The English catalogue (parsed once, when the front starts).
pub fn en() -> &'static Strings {
    &EN
}

/// The catalogue for a request's `Accept-Language`: English, the only one there is.
pub fn for_request(_accept_language: Option<&str>) -> &'static Strings {
    en()
}

/// `template` with each `{name}` replaced by its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

impl Strings {
    /// "1 song" or "{n} songs".
    pub fn count(&self, n: i64, one: &str, other: &str) -> String {
        if n == 1 {
            one.to_string()
        } else {
            fill(other, &[("n", &n.to_string())])
        }
    }

    pub fn songs(&self, n: i64) -> String {
        self.count(n, &self.songs_one, &self.songs_other)
    }

    pub fn albums(&self, n: i64) -> String {
        self.count(n, &self.albums_one, &self.albums_other)
    }

    /// A wait, in seconds up to two minutes and in whole minutes (rounded up) beyond.
    pub fn wait(&self, secs: u64) -> String {
        if secs <= 120 {
            self.count(secs as i64, &self.seconds_one, &self.seconds_other)
        } else {
            self.count(secs.div_ceil(60) as i64, &self.minutes_one, &self.minutes_other)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_are_complete() {
        // deny_unknown_fields refuses an extra key; a missing one fails to parse.
        let en: Strings = toml::from_str(include_str!("i18n/en.toml")).unwrap();
        assert_eq!(en.lang, "en");
        for line in include_str!("i18n/en.toml").lines().filter(|l| l.contains(" = ")) {
            assert!(!line.trim_end().ends_with("\"\""), "an empty string in en.toml: {line}");
        }
    }

    #[test]
    fn counts_waits_and_fills() {
        let s = en();
        assert_eq!(s.songs(1), "1 song");
        assert_eq!(s.songs(12), "12 songs");
        assert_eq!(s.wait(1), "1 second");
        assert_eq!(s.wait(20), "20 seconds");
        assert_eq!(s.wait(121), "3 minutes");
        assert_eq!(fill("Wait {wait}, then {wait}", &[("wait", "5 s")]), "Wait 5 s, then 5 s");
    }
}
