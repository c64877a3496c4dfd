//! The UI's assets: one style sheet, hand-written ES modules, one icon, compiled into the
//! binary (the front opens no file). Each is served under a name that carries a hash of its
//! content (`app.3f9c…e1.css`), with `Cache-Control: immutable`: a browser fetches it once
//! per release, and a new release's pages name new files. There is no build step: `cargo
//! build` is all. A module imports another as `'./player.js'`; that specifier is rewritten
//! here to the hashed name (so the importer's hash covers the imported file's too).

use std::io::Write;
use std::sync::{LazyLock, OnceLock};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, VARY};
use hyper::{Response, StatusCode};
use sha2::{Digest, Sha256};

use crate::front::cache::Encoding;
use crate::front::{plain, Body, HttpResponse};

pub struct Asset {
    /// The name pages use (`app.css`).
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: Bytes,
    /// `app.<hash>.css`.
    pub hashed: String,
    brotli: OnceLock<Bytes>,
    gzip: OnceLock<Bytes>,
}

/// A module comes after the modules it imports.
const FILES: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("assets/app.css")),
    ("player.js", "text/javascript; charset=utf-8", include_bytes!("assets/player.js")),
    ("share.js", "text/javascript; charset=utf-8", include_bytes!("assets/share.js")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("assets/app.js")),
    ("icon.svg", "image/svg+xml", include_bytes!("assets/icon.svg")),
    // The admin pages' own style and script, loaded by those pages only.
    ("admin.css", "text/css; charset=utf-8", include_bytes!("assets/admin.css")),
    ("admin.js", "text/javascript; charset=utf-8", include_bytes!("assets/admin.js")),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let mut done: Vec<Asset> = Vec::with_capacity(FILES.len());
    for (name, content_type, body) in FILES {
        let body = if name.ends_with(".js") { link_imports(body, &done) } else { Bytes::from_static(body) };
        let hash = hex::encode(&Sha256::digest(&body)[..8]);
        let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
        done.push(Asset {
            name,
            content_type,
            body,
            hashed: format!("{stem}.{hash}.{ext}"),
            brotli: OnceLock::new(),
            gzip: OnceLock::new(),
        });
    }
    done
});

/// A module's text with `'./<module>.js'` of every module before it replaced by its hashed name.
fn link_imports(body: &'static [u8], before: &[Asset]) -> Bytes {
    let Ok(text) = std::str::from_utf8(body) else { return Bytes::from_static(body) };
    let mut text = std::borrow::Cow::Borrowed(text);
    for a in before.iter().filter(|a| a.name.ends_with(".js")) {
        let plain = format!("'./{}'", a.name);
        if text.contains(&plain) {
            text = text.replace(&plain, &format!("'./{}'", a.hashed)).into();
        }
    }
    match text {
        std::borrow::Cow::Borrowed(_) => Bytes::from_static(body),
        std::borrow::Cow::Owned(t) => Bytes::from(t),
    }
}

/// Every asset (hashing them is done once, when the front starts).
pub fn all() -> &'static [Asset] {
    &ASSETS
}

/// The path of an asset below BaseUrl: `/app/assets/app.<hash>.css`.
pub fn path(name: &str) -> String {
    let a = all().iter().find(|a| a.name == name).unwrap_or_else(|| panic!("no UI asset {name}"));
    format!("/app/assets/{}", a.hashed)
}

impl Asset {
    /// The body in `enc`, compressed once (at brotli's and gzip's best: it is sent many times).
    fn encoded(&self, enc: Encoding) -> Option<Bytes> {
        match enc {
            Encoding::Identity => None,
            Encoding::Brotli => Some(
                self.brotli
                    .get_or_init(|| {
                        let mut out = Vec::new();
                        {
                            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
                            w.write_all(&self.body).expect("writing to memory");
                        }
                        Bytes::from(out)
                    })
                    .clone(),
            ),
            Encoding::Gzip => Some(
                self.gzip
                    .get_or_init(|| {
                        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                        w.write_all(&self.body).expect("writing to memory");
                        Bytes::from(w.finish().expect("writing to memory"))
                    })
                    .clone(),
            ),
        }
    }
}

/// `GET /app/assets/<hashed name>`: the asset, immutable; any other name 404 (an old page
/// asking for an old release's file reloads and gets the new names).
pub fn serve(hashed: &str, headers: &HeaderMap) -> HttpResponse {
    let Some(a) = all().iter().find(|a| a.hashed == hashed) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    let etag = format!("\"{}\"", a.hashed);
    let enc = Encoding::preferred(headers.get("accept-encoding").and_then(|v| v.to_str().ok()));
    let mut r = if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        match a.encoded(enc) {
            Some(b) => {
                let mut r = Response::new(Body::full(b));
                if let Some(coding) = enc.header() {
                    r.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
                }
                r
            }
            None => Response::new(Body::full(a.body.clone())),
        }
    };
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_hash_and_unknown_names_are_404() {
        let css = path("app.css");
        assert!(css.starts_with("/app/assets/app.") && css.ends_with(".css") && css.len() > 30, "{css}");
        let hashed = css.rsplit('/').next().unwrap();
        let r = serve(hashed, &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(serve("app.0000000000000000.css", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
        assert_eq!(serve("app.css", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_module_imports_the_other_under_its_hashed_name() {
        let app = all().iter().find(|a| a.name == "app.js").unwrap();
        let player = path("player.js");
        let hashed = player.rsplit('/').next().unwrap();
        let text = std::str::from_utf8(&app.body).unwrap();
        assert!(text.contains(&format!("from './{hashed}'")), "app.js does not import {hashed}");
        assert!(!text.contains("'./player.js'"));
    }

    /// The budget: all the UI's own code and styles under 150 KB compressed.
    #[test]
    fn the_ui_code_and_styles_stay_small() {
        let total: usize = all().iter().map(|a| a.encoded(Encoding::Brotli).unwrap().len()).sum();
        assert!(total < 150 * 1024, "{total} bytes");
    }
}
