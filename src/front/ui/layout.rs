//! The one layout every page is rendered in: the document head (the style sheet, the module,
//! the CSRF token for the script), the header with the search box, the library navigation,
//! `<main>` (the only part in-page navigation swaps), and around it the player, the queue and
//! the two dialogs, which stay while the user browses. Pages give a title, which navigation
//! entry they belong to, and the markup of their `<main>`.
//!
//! A "bare" page (first run, login, an error before login) has the header alone.
//!
//! Everything shown comes from the catalogue (`strings.rs`); everything from the library is
//! written with maud's `( … )`, which escapes it.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::assets;
use super::strings::{fill, Strings};

/// Which navigation entry a page belongs to (marked `aria-current="page"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Newest,
    Recent,
    Frequent,
    Random,
    Starred,
    Alphabetical,
    ByYear,
    Artists,
    Genres,
    Folders,
    Search,
    /// The admin pages (pages/admin.rs): their own shell (`data-shell="admin"`), so that
    /// in-page navigation to or from them is a full load, which brings or drops admin.js.
    AdminUsers,
    AdminLibrary,
    AdminTranscoding,
    AdminSecurity,
    AdminShares,
    Playlists,
    Shares,
    Settings,
    None,
}

impl Nav {
    pub fn name(self) -> &'static str {
        match self {
            Nav::Newest => "newest",
            Nav::Recent => "recent",
            Nav::Frequent => "frequent",
            Nav::Random => "random",
            Nav::Starred => "starred",
            Nav::Alphabetical => "alphabetical",
            Nav::ByYear => "byYear",
            Nav::Artists => "artists",
            Nav::Genres => "genres",
            Nav::Folders => "folders",
            Nav::Search => "search",
            Nav::AdminUsers => "admin-users",
            Nav::AdminLibrary => "admin-library",
            Nav::AdminTranscoding => "admin-transcoding",
            Nav::AdminSecurity => "admin-security",
            Nav::AdminShares => "admin-shares",
            Nav::Playlists => "playlists",
            Nav::Shares => "shares",
            Nav::Settings => "settings",
            Nav::None => "",
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(
            self,
            Nav::AdminUsers | Nav::AdminLibrary | Nav::AdminTranscoding | Nav::AdminSecurity | Nav::AdminShares
        )
    }
}

/// What a page renders.
pub struct Page {
    pub title: String,
    pub nav: Nav,
    pub main: Markup,
}

/// Who the page is for: in the app (logged in), or bare (before login, or an error page).
pub struct Shell<'a> {
    pub s: &'static Strings,
    /// BaseUrl ("" or "/music").
    pub base: &'a str,
    /// The logged-in user's name and the session's CSRF token; None: a bare page.
    pub user: Option<(&'a str, &'a str)>,
    /// In-page navigation asked for `<main>` alone (`X-UI-Partial`): the rest of the layout
    /// is left out.
    pub partial: bool,
    /// The search box's text (the search page keeps it).
    pub query: &'a str,
    /// The user is an admin: the navigation lists the admin pages (the broker still checks
    /// every admin call itself).
    pub admin: bool,
    /// The theme chosen in the settings ("light", "dark"; None: as the system), from the
    /// cookie the script keeps, so that a page is rendered in it without a flash.
    pub theme: Option<&'static str>,
    /// EnableSharing, with the share form's defaults: the pages offer a Share action and the
    /// navigation lists "My shares" (the broker refuses every share call itself when off).
    pub sharing: Option<ShareDefaults>,
}

/// DefaultShareExpiration (0: never) and DefaultDownloadableShare, for the share form.
#[derive(Debug, Clone, Copy)]
pub struct ShareDefaults {
    pub expires_secs: u64,
    pub downloadable: bool,
}

impl Shell<'_> {
    /// A path below BaseUrl.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The whole document (or, for in-page navigation, its title and `<main>`).
pub fn document(shell: &Shell, page: Page) -> Markup {
    let s = shell.s;
    let title = format!("{} · {}", page.title, s.app_name);
    let main = html! {
        main #main tabindex="-1" data-nav=(page.nav.name()) { (page.main) }
    };
    let admin_page = page.nav.is_admin() && shell.user.is_some();
    let app_shell = if admin_page { "admin" } else { "app" };
    if shell.partial {
        return html! {
            (DOCTYPE)
            html lang=(s.lang) {
                head { meta charset="utf-8"; title { (title) } }
                body data-shell=(if shell.user.is_some() { app_shell } else { "bare" }) { (main) }
            }
        };
    }
    html! {
        (DOCTYPE)
        html lang=(s.lang) data-theme=[shell.theme] {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) }
                link rel="icon" type="image/svg+xml" href=(shell.url(&assets::path("icon.svg")));
                link rel="stylesheet" href=(shell.url(&assets::path("app.css")));
                @if let Some((_, csrf)) = shell.user {
                    meta name="csrf-token" content=(csrf);
                }
                script type="module" src=(shell.url(&assets::path("app.js"))) {}
                @if admin_page {
                    link rel="stylesheet" href=(shell.url(&assets::path("admin.css")));
                    script type="module" src=(shell.url(&assets::path("admin.js"))) {}
                }
            }
            @match shell.user {
                Some((user, csrf)) => {
                    body.app data-shell=(app_shell) {
                        a.skip href="#main" { (s.skip_to_content) }
                        (header(shell, Some((user, csrf))))
                        (nav(shell, page.nav))
                        (main)
                        (player(shell, true))
                    }
                }
                None => {
                    body.bare data-shell="bare" {
                        a.skip href="#main" { (s.skip_to_content) }
                        (header(shell, None))
                        (main)
                    }
                }
            }
        }
    }
}

fn header(shell: &Shell, user: Option<(&str, &str)>) -> Markup {
    let s = shell.s;
    html! {
        header.top {
            a.brand href=(shell.url("/app/")) aria-label=(s.home) {
                (icon("logo")) span.brand-name aria-hidden="true" { (s.app_name) }
            }
            @if let Some((user, csrf)) = user {
                form.search role="search" method="get" action=(shell.url("/app/search")) {
                    label.visually-hidden for="q" { (s.search_label) }
                    (icon("search"))
                    input #q type="search" name="q" value=(shell.query) placeholder=(s.search_placeholder)
                        autocomplete="off" spellcheck="false" enterkeyhint="search";
                }
                div.account {
                    a.icon-button #help-link href=(shell.url("/app/shortcuts")) aria-label=(s.keyboard_shortcuts)
                        title=(s.keyboard_shortcuts) { (icon("keyboard")) }
                    span.user title=(fill(&s.signed_in_as, &[("user", user)])) {
                        (icon("user")) span.user-name { (user) }
                    }
                    form.logout method="post" action=(shell.url("/app/logout")) data-native {
                        input type="hidden" name="_csrf" value=(csrf);
                        button.icon-button type="submit" aria-label=(s.log_out) title=(s.log_out) { (icon("logout")) }
                    }
                }
            }
        }
    }
}

fn nav(shell: &Shell, current: Nav) -> Markup {
    let s = shell.s;
    let entry = |nav: Nav, path: &str, icon_name: &str, label: &str| {
        html! {
            li {
                a href=(shell.url(path)) data-nav=(nav.name()) aria-current=[(nav == current).then_some("page")] {
                    (icon(icon_name)) span { (label) }
                }
            }
        }
    };
    html! {
        nav.side aria-label=(s.nav_label) {
            h2.nav-group #nav-albums { (s.nav_albums_group) }
            ul aria-labelledby="nav-albums" {
                (entry(Nav::Newest, "/app/", "new", &s.nav_newest))
                (entry(Nav::Recent, "/app/albums?list=recent", "clock", &s.nav_recent))
                (entry(Nav::Frequent, "/app/albums?list=frequent", "trend", &s.nav_frequent))
                (entry(Nav::Random, "/app/albums?list=random", "shuffle", &s.nav_random))
                (entry(Nav::Starred, "/app/albums?list=starred", "star", &s.nav_starred))
                (entry(Nav::Alphabetical, "/app/albums?list=alphabeticalByName", "az", &s.nav_alphabetical))
                (entry(Nav::ByYear, "/app/albums?list=byYear", "calendar", &s.nav_by_year))
            }
            h2.nav-group #nav-browse { (s.nav_browse_group) }
            ul aria-labelledby="nav-browse" {
                (entry(Nav::Artists, "/app/artists", "artist", &s.nav_artists))
                (entry(Nav::Genres, "/app/genres", "tag", &s.nav_genres))
                (entry(Nav::Folders, "/app/folders", "folder", &s.nav_folders))
            }
            h2.nav-group #nav-music { (s.nav_music_group) }
            ul aria-labelledby="nav-music" {
                (entry(Nav::Playlists, "/app/playlists", "listadd", &s.nav_playlists))
                @if shell.sharing.is_some() {
                    (entry(Nav::Shares, "/app/shares", "share", &s.nav_shares))
                }
                (entry(Nav::Settings, "/app/settings", "sliders", &s.nav_settings))
            }
            @if shell.admin {
                (super::pages::admin::nav_entries(shell, current))
            }
        }
    }
}

/// The strings the player's script shows, handed over in the page (it has no words of its own).
fn script_strings(s: &Strings) -> String {
    serde_json::json!({
        "play": s.play,
        "pause": s.pause,
        "mute": s.mute,
        "unmute": s.unmute,
        "repeat_off": s.repeat_off,
        "repeat_all": s.repeat_all,
        "repeat_one": s.repeat_one,
        "nothing_playing": s.nothing_playing,
        "remove_song": s.remove_song,
        "move_up": s.move_up,
        "move_down": s.move_down,
        "play_song": s.play_song,
        "queue_more": s.queue_more,
        "added_to_queue": s.added_to_queue,
        "playing_next": s.playing_next,
        "now_playing": s.now_playing,
        "cannot_play": s.cannot_play,
        "queue_cleared": s.queue_cleared,
        "format_original": s.format_original,
        "settings_saved": s.settings_saved,
        "seek_value": s.seek_value,
        "added_to_playlist": s.added_to_playlist,
        "change_failed": s.change_failed,
        "rating_saved": s.rating_saved,
        "starred_done": s.starred_done,
        "unstarred_done": s.unstarred_done,
        "link_copied": s.link_copied,
        "copy_by_hand": s.copy_by_hand,
    })
    .to_string()
}

/// The player, the queue and the dialogs; `settings`: with the playback settings and the
/// add-to-playlist dialog (a share's page has neither: its links serve the original files,
/// and it has no session).
pub fn player(shell: &Shell, settings: bool) -> Markup {
    let s = shell.s;
    let rates = [320, 256, 192, 160, 128, 96, 64];
    html! {
        section.player #player aria-label=(s.player_label) hidden data-strings=(script_strings(s)) {
            audio #audio preload="none" {}
            div.now {
                img.cover #now-cover alt="" width="56" height="56" hidden;
                div.now-text {
                    a.now-title #now-title { (s.nothing_playing) }
                    span.now-artist #now-artist {}
                }
            }
            div.controls {
                button.icon-button #shuffle type="button" aria-pressed="false" aria-label=(s.shuffle) title=(s.shuffle) {
                    (icon("shuffle"))
                }
                button.icon-button #prev type="button" aria-label=(s.previous) title=(s.previous) { (icon("prev")) }
                button.icon-button.play #play type="button" aria-label=(s.play) title=(s.play) {
                    span.when-paused { (icon("play")) }
                    span.when-playing { (icon("pause")) }
                }
                button.icon-button #next type="button" aria-label=(s.next) title=(s.next) { (icon("next")) }
                button.icon-button #repeat type="button" data-mode="off" aria-label=(s.repeat_off) title=(s.repeat_off) {
                    span.repeat-all { (icon("repeat")) }
                    span.repeat-one { (icon("repeat1")) }
                }
            }
            div.progress {
                span.time #elapsed { "0:00" }
                input #seek type="range" min="0" max="0" step="1" value="0" aria-label=(s.seek);
                span.time #total { "0:00" }
            }
            div.extra {
                button.icon-button #mute type="button" aria-label=(s.mute) title=(s.mute) {
                    span.when-loud { (icon("volume")) }
                    span.when-muted { (icon("muted")) }
                }
                input #volume type="range" min="0" max="100" step="1" value="100" aria-label=(s.volume);
                button.icon-button #queue-toggle type="button" aria-expanded="false" aria-controls="queue"
                    aria-label=(s.queue) title=(s.queue) { (icon("queue")) }
                @if settings {
                    button.icon-button #settings-toggle type="button" aria-haspopup="dialog" aria-controls="settings"
                        aria-label=(s.player_settings) title=(s.player_settings) { (icon("sliders")) }
                }
            }
        }
        aside.queue #queue aria-labelledby="queue-title" hidden {
            div.queue-head {
                h2 #queue-title { (s.queue) }
                button.text-button #queue-clear type="button" { (s.clear_queue) }
                button.icon-button #queue-close type="button" aria-label=(s.close) title=(s.close) { (icon("x")) }
            }
            p.queue-empty #queue-empty { (s.queue_empty) }
            ol.queue-list #queue-list {}
            p.queue-more #queue-more hidden {}
        }
        template #queue-item {
            li {
                button.q-play type="button" {
                    span.q-title {} span.q-artist {}
                }
                span.q-duration {}
                button.icon-button.q-up type="button" { (icon("up")) }
                button.icon-button.q-down type="button" { (icon("down")) }
                button.icon-button.q-remove type="button" { (icon("x")) }
            }
        }
        @if settings {
        dialog.settings #settings aria-labelledby="settings-title" {
            form method="dialog" {
                h2 #settings-title { (s.player_settings) }
                label for="set-format" { (s.format) }
                select #set-format name="format" {
                    option value="" { (s.format_original) }
                }
                label for="set-rate" { (s.max_bit_rate) }
                select #set-rate name="maxBitRate" {
                    option value="0" { (s.no_limit) }
                    @for r in rates {
                        option value=(r) { (fill(&s.kbps, &[("n", &r.to_string())])) }
                    }
                }
                label for="set-rg" { (s.replay_gain) }
                select #set-rg name="replayGain" {
                    option value="off" { (s.rg_off) }
                    option value="track" { (s.rg_track) }
                    option value="album" { (s.rg_album) }
                }
                p.note { (s.settings_note) }
                div.dialog-buttons {
                    button.text-button type="submit" value="cancel" { (s.close) }
                    button.primary-button type="submit" value="save" { (s.save) }
                }
            }
        }
        }
        dialog.help #help aria-labelledby="help-title" {
            (shortcuts(s, "help-title"))
            form method="dialog" {
                div.dialog-buttons { button.primary-button type="submit" { (s.close) } }
            }
        }
        // A share's page has no session, so no playlists to add to.
        @if settings {
            (super::pages::music::add_to_playlist_dialog(s))
        }
        // Only where sharing is on for this user.
        @if let (true, Some(d)) = (settings, shell.sharing) {
            (super::pages::shares::share_dialog(shell, d))
        }
        div.visually-hidden #status role="status" aria-live="polite" {}
    }
}

/// The keyboard shortcuts (the help dialog, and the `/app/shortcuts` page without script).
pub fn shortcuts(s: &Strings, heading_id: &str) -> Markup {
    let keys: [(&str, &str); 14] = [
        (&s.key_space, &s.key_play_pause),
        ("k", &s.key_play_pause),
        ("n", &s.key_next),
        ("p", &s.key_previous),
        ("→", &s.key_forward),
        ("←", &s.key_back),
        ("+", &s.key_volume_up),
        ("-", &s.key_volume_down),
        ("m", &s.key_mute),
        ("s", &s.key_shuffle),
        ("r", &s.key_repeat),
        ("q", &s.key_queue),
        ("/", &s.key_search),
        ("?", &s.key_help),
    ];
    html! {
        h2 id=(heading_id) { (s.shortcuts_title) }
        p { (s.shortcuts_intro) }
        table.shortcuts {
            thead { tr { th scope="col" { (s.col_key) } th scope="col" { (s.col_does) } } }
            tbody {
                @for (key, what) in keys {
                    tr { td { kbd { (key) } } td { (what) } }
                }
                tr { td { kbd { (s.key_escape_name) } } td { (s.key_escape) } }
            }
        }
    }
}

/// An inline icon (decorative: the control around it carries the label).
pub fn icon(name: &str) -> Markup {
    let body = match name {
        "play" => {
            r#"<path class="fill" d="M8 5.5v13a1 1 0 0 0 1.5.86l10.5-6.5a1 1 0 0 0 0-1.72L9.5 4.64A1 1 0 0 0 8 5.5z"/>"#
        }
        "pause" => {
            r#"<rect class="fill" x="6" y="5" width="4" height="14" rx="1"/><rect class="fill" x="14" y="5" width="4" height="14" rx="1"/>"#
        }
        "next" => {
            r#"<path class="fill" d="M6 6.5v11a1 1 0 0 0 1.6.8l7.4-5.5a1 1 0 0 0 0-1.6L7.6 5.7A1 1 0 0 0 6 6.5z"/><rect class="fill" x="16" y="5.5" width="2.5" height="13" rx="1"/>"#
        }
        "prev" => {
            r#"<path class="fill" d="M18 6.5v11a1 1 0 0 1-1.6.8L9 12.8a1 1 0 0 1 0-1.6l7.4-5.5A1 1 0 0 1 18 6.5z"/><rect class="fill" x="5.5" y="5.5" width="2.5" height="13" rx="1"/>"#
        }
        "shuffle" => {
            r#"<path d="M3 7h3.5c2 0 3.2 1 4.3 2.6l2.4 4.8C14.3 16 15.5 17 17.5 17H21M3 17h3.5c1.3 0 2.2-.4 3-1.2M14 8.2c.9-.8 1.9-1.2 3.5-1.2H21M18 4l3 3-3 3M18 14l3 3-3 3"/>"#
        }
        "repeat" => r#"<path d="M17 2l3 3-3 3M4 11V9a4 4 0 0 1 4-4h12M7 22l-3-3 3-3M20 13v2a4 4 0 0 1-4 4H4"/>"#,
        "repeat1" => {
            r#"<path d="M17 2l3 3-3 3M4 11V9a4 4 0 0 1 4-4h12M7 22l-3-3 3-3M20 13v2a4 4 0 0 1-4 4H4M11 10l1.5-1v6"/>"#
        }
        "volume" => {
            r#"<path class="fill" d="M4 9.5v5a1 1 0 0 0 1 1h3l4.4 3.6a.6.6 0 0 0 1-.5V5.4a.6.6 0 0 0-1-.5L8 8.5H5a1 1 0 0 0-1 1z"/><path d="M16.5 8.5a5 5 0 0 1 0 7M19 6a8.5 8.5 0 0 1 0 12"/>"#
        }
        "muted" => {
            r#"<path class="fill" d="M4 9.5v5a1 1 0 0 0 1 1h3l4.4 3.6a.6.6 0 0 0 1-.5V5.4a.6.6 0 0 0-1-.5L8 8.5H5a1 1 0 0 0-1 1z"/><path d="M16.5 9.5l5 5M21.5 9.5l-5 5"/>"#
        }
        "queue" => {
            r#"<path d="M3 6h13M3 11h13M3 16h7"/><path class="fill" d="M15 14.5v6a.6.6 0 0 0 .9.5l4.8-3a.6.6 0 0 0 0-1l-4.8-3a.6.6 0 0 0-.9.5z"/>"#
        }
        "sliders" => {
            r#"<path d="M4 7h9M17 7h3M4 17h3M11 17h9"/><circle cx="15" cy="7" r="2"/><circle cx="9" cy="17" r="2"/>"#
        }
        "search" => r#"<circle cx="11" cy="11" r="6.5"/><path d="M20 20l-4.2-4.2"/>"#,
        "plus" => r#"<path d="M12 5v14M5 12h14"/>"#,
        "listadd" => {
            r#"<path d="M3 6h12M3 11h12M3 16h7M17 13v8M13 17h8"/><circle class="fill" cx="19.5" cy="6" r="1.5"/>"#
        }
        "playnext" => r#"<path d="M3 6h12M3 11h12M3 16h6M17 13v8M13 17h8"/>"#,
        "x" => r#"<path d="M6 6l12 12M18 6L6 18"/>"#,
        "share" => {
            r#"<circle cx="6" cy="12" r="2.5"/><circle cx="17.5" cy="6" r="2.5"/><circle cx="17.5" cy="18" r="2.5"/><path d="M8.2 10.8l7-3.6M8.2 13.2l7 3.6"/>"#
        }
        "copy" => {
            r#"<rect x="8.5" y="8.5" width="11" height="11" rx="2"/><path d="M15.5 8.5v-2a2 2 0 0 0-2-2h-7a2 2 0 0 0-2 2v7a2 2 0 0 0 2 2h2"/>"#
        }
        "up" => r#"<path d="M6 15l6-6 6 6"/>"#,
        "down" => r#"<path d="M6 9l6 6 6-6"/>"#,
        "left" => r#"<path d="M15 6l-6 6 6 6"/>"#,
        "right" => r#"<path d="M9 6l6 6-6 6"/>"#,
        "keyboard" => {
            r#"<rect x="2.5" y="6" width="19" height="12" rx="2"/><path d="M6.5 10h.01M10 10h.01M14 10h.01M17.5 10h.01M7.5 14h9"/>"#
        }
        "logout" => r#"<path d="M14 4h4a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-4M10 8l-4 4 4 4M6 12h10"/>"#,
        "user" => r#"<circle cx="12" cy="8" r="4"/><path d="M4.5 20.5a7.5 7.5 0 0 1 15 0"/>"#,
        "artist" => r#"<circle cx="12" cy="8" r="4"/><path d="M4.5 20.5a7.5 7.5 0 0 1 15 0"/>"#,
        "new" => r#"<path d="M12 3.5l2.2 5.3 5.3 2.2-5.3 2.2L12 18.5l-2.2-5.3L4.5 11l5.3-2.2z"/>"#,
        "clock" => r#"<circle cx="12" cy="12" r="8.5"/><path d="M12 7.5V12l3 2"/>"#,
        "trend" => r#"<path d="M3 17l6-6 4 4 8-8M15 7h6v6"/>"#,
        "star" => r#"<path d="M12 3.5l2.6 5.4 5.9.8-4.3 4.1 1 5.9L12 17l-5.2 2.7 1-5.9-4.3-4.1 5.9-.8z"/>"#,
        "az" => r#"<path d="M4 18l3.5-11L11 18M5.2 14.5h4.6M14 7h6l-6 11h6"/>"#,
        "calendar" => r#"<rect x="4" y="5" width="16" height="15" rx="2"/><path d="M4 10h16M8.5 3v4M15.5 3v4"/>"#,
        "tag" => r#"<path d="M3.5 12.5V4.5a1 1 0 0 1 1-1h8l8 8-9 9z"/><circle cx="8.5" cy="8.5" r="1.5"/>"#,
        "folder" => {
            r#"<path d="M3.5 6.5a1 1 0 0 1 1-1h5l2 2.5h8a1 1 0 0 1 1 1v9.5a1 1 0 0 1-1 1h-15a1 1 0 0 1-1-1z"/>"#
        }
        "disc" => r#"<circle cx="12" cy="12" r="8.5"/><circle cx="12" cy="12" r="2.5"/>"#,
        "logo" => {
            r#"<path class="fill brand-mark" d="M12 1.8 20.5 5v6.4c0 5.2-3.6 9.4-8.5 10.8-4.9-1.4-8.5-5.6-8.5-10.8V5z"/><path class="brand-note" d="M10 16.3V8.4l5.5-1.3v7.4"/><circle class="fill brand-dot" cx="8.6" cy="16.3" r="1.9"/><circle class="fill brand-dot" cx="14.1" cy="14.6" r="1.9"/>"#
        }
        other => panic!("no icon {other}"),
    };
    html! {
        svg.icon viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false" { (PreEscaped(body)) }
    }
}
