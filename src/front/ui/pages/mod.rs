//! The pages, one module per family: first run and sessions (`session.rs`), browsing the
//! library (`browse.rs`), and the parts they share (`parts.rs`: album grids, song tables,
//! pagers). A later family (your music, settings, admin) is one more module here and one more
//! arm in `browse::page` or `ui::Front::app`.

pub mod admin;
pub mod browse;
pub mod music;
pub mod parts;
pub mod session;
pub mod settings;
pub mod shares;
pub mod smart;

use maud::html;

use super::layout::{Nav, Page};
use super::strings::Strings;

/// A page that only says something (errors, "setup is closed").
pub fn message(s: &Strings, base: &str, title: &str, text: &str) -> Page {
    Page {
        title: title.to_string(),
        nav: Nav::None,
        main: html! {
            section.message {
                h1 { (title) }
                p { (text) }
                p { a.primary-button href=(format!("{base}/app/")) { (s.back_home) } }
            }
        },
    }
}
