//! The front-end files the pages load, embedded in the binary (no CDN, no request leaves the
//! register): Bootstrap Italia's stylesheet, script, icon sprite and fonts, htmx, and the
//! register's own small stylesheet and script. They are served under `/static/{tag}/`, where
//! the tag is a digest of their bytes, so they can be cached as immutable and a new build's
//! files are never confused with an old one's.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

macro_rules! npm {
    ($path:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/node_modules/", $path))
    };
}

macro_rules! font {
    ($family:literal, $file:literal) => {
        (
            concat!("fonts/", $file),
            "font/woff2",
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/node_modules/bootstrap-italia/dist/fonts/", $family, "/", $file))
                as &[u8],
            None,
        )
    };
}

/// Its gzip form, made by build.rs.
macro_rules! gz {
    ($name:literal) => {
        Some(include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".gz")) as &[u8])
    };
}

/// A file served: name, content type, bytes, and its gzip form when it has one.
type Asset = (&'static str, &'static str, &'static [u8], Option<&'static [u8]>);

/// Every file served.
static FILES: &[Asset] = &[
    (
        "bootstrap-italia.min.css",
        "text/css; charset=utf-8",
        npm!("bootstrap-italia/dist/css/bootstrap-italia.min.css"),
        gz!("bootstrap-italia.min.css"),
    ),
    // Without the bundle's dependencies (video.js, Splide, anime.js, Popper: 1 MB, 300 kB
    // compressed): the pages use the header's collapsible menu only, which needs none of them.
    (
        "bootstrap-italia.min.js",
        "text/javascript; charset=utf-8",
        npm!("bootstrap-italia/dist/js/bootstrap-italia.min.js"),
        gz!("bootstrap-italia.min.js"),
    ),
    ("sprites.svg", "image/svg+xml", npm!("bootstrap-italia/dist/svg/sprites.svg"), gz!("sprites.svg")),
    ("htmx.min.js", "text/javascript; charset=utf-8", npm!("htmx.org/dist/htmx.min.js"), gz!("htmx.min.js")),
    ("anagrafe.css", "text/css; charset=utf-8", include_bytes!("../../web/anagrafe.css"), gz!("anagrafe.css")),
    ("anagrafe.js", "text/javascript; charset=utf-8", include_bytes!("../../web/anagrafe.js"), gz!("anagrafe.js")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../web/favicon.svg"), gz!("favicon.svg")),
    font!("Titillium_Web", "titillium-web-v10-latin-ext_latin-300.woff2"),
    font!("Titillium_Web", "titillium-web-v10-latin-ext_latin-regular.woff2"),
    font!("Titillium_Web", "titillium-web-v10-latin-ext_latin-italic.woff2"),
    font!("Titillium_Web", "titillium-web-v10-latin-ext_latin-600.woff2"),
    font!("Titillium_Web", "titillium-web-v10-latin-ext_latin-700.woff2"),
    font!("Lora", "lora-v20-latin-ext_latin-regular.woff2"),
    font!("Lora", "lora-v20-latin-ext_latin-700.woff2"),
    font!("Roboto_Mono", "roboto-mono-v13-latin-ext_latin-regular.woff2"),
    font!("Roboto_Mono", "roboto-mono-v13-latin-ext_latin-700.woff2"),
];

/// Versions of the npm packages embedded (from their package.json, read by build.rs).
pub const BOOTSTRAP_ITALIA_VERSION: &str = env!("BOOTSTRAP_ITALIA_VERSION");
/// htmx's version.
pub const HTMX_VERSION: &str = env!("HTMX_VERSION");

/// The digest naming this build's files.
pub fn tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let mut h = Sha256::new();
        for (name, _, bytes, _) in FILES {
            h.update(name.as_bytes());
            h.update(bytes);
        }
        hex::encode(&h.finalize()[..6])
    })
}

/// `/static/{tag}/` — the prefix of every asset URL.
pub fn base() -> String {
    format!("/static/{}/", tag())
}

/// Whether a request's `Accept-Encoding` takes gzip (`gzip;q=0` refuses it).
fn takes_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let q = parts.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && q > 0.0
    })
}

/// `GET /static/{tag}/{*name}`: the gzip form to the clients that take it (every browser),
/// the plain one to the others; cached for a year under this build's tag.
pub async fn serve(Path((tag_sent, name)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some((_, kind, bytes, gz_form)) = FILES.iter().find(|(n, _, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let gz = gz_form.filter(|_| takes_gzip(&headers));
    let mut r = gz.unwrap_or(bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if gz.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if gz_form.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    // A file asked for under another build's tag is served, but not kept for long.
    let cache = if tag_sent == tag() { "public, max-age=31536000, immutable" } else { "public, max-age=300" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

/// `GET /favicon.ico`: the register's icon (an SVG, which browsers take under that name too), for
/// the clients that ask there whatever the page says; kept for a day.
pub async fn favicon() -> Response {
    let Some((_, kind, bytes, _)) = FILES.iter().find(|(n, _, _, _)| *n == "favicon.svg") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut r = (*bytes).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_sent_to_whoever_takes_it() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            takes_gzip(&h)
        };
        assert!(with("gzip, deflate, br, zstd"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br, identity"));
        assert!(!takes_gzip(&HeaderMap::new()));
    }

    #[test]
    fn every_text_asset_has_a_smaller_gzip_form_of_the_same_bytes() {
        use std::io::Read;
        for (name, kind, bytes, gz) in FILES {
            let Some(gz) = gz else {
                assert!(name.ends_with(".woff2"), "{name} ({kind}) is sent compressed");
                continue;
            };
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(*gz).read_to_end(&mut plain).unwrap();
            assert_eq!(&plain, bytes, "{name}");
            assert!(gz.len() < bytes.len(), "{name}");
        }
    }
}
