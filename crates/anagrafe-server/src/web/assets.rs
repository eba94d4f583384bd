//! The front-end files the pages load, embedded in the binary (no CDN, no request leaves the
//! register): Bootstrap Italia's stylesheet, script, icon sprite and fonts, htmx, and the
//! register's own small stylesheet and script. They are served under `/static/{tag}/`, where
//! the tag is a digest of their bytes, so they can be cached as immutable and a new build's
//! files are never confused with an old one's.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
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
        )
    };
}

/// `(name, content type, bytes)` of every file served.
static FILES: &[(&str, &str, &[u8])] = &[
    ("bootstrap-italia.min.css", "text/css; charset=utf-8", npm!("bootstrap-italia/dist/css/bootstrap-italia.min.css")),
    ("bootstrap-italia.bundle.min.js", "text/javascript; charset=utf-8", npm!("bootstrap-italia/dist/js/bootstrap-italia.bundle.min.js")),
    ("sprites.svg", "image/svg+xml", npm!("bootstrap-italia/dist/svg/sprites.svg")),
    ("htmx.min.js", "text/javascript; charset=utf-8", npm!("htmx.org/dist/htmx.min.js")),
    ("anagrafe.css", "text/css; charset=utf-8", include_bytes!("../../web/anagrafe.css")),
    ("anagrafe.js", "text/javascript; charset=utf-8", include_bytes!("../../web/anagrafe.js")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../web/favicon.svg")),
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
        for (name, _, bytes) in FILES {
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

/// `GET /static/{tag}/{*name}`.
pub async fn serve(Path((tag_sent, name)): Path<(String, String)>) -> Response {
    let Some((_, kind, bytes)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut r = (*bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // A file asked for under another build's tag is served, but not kept for long.
    let cache = if tag_sent == tag() { "public, max-age=31536000, immutable" } else { "public, max-age=300" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

/// `GET /favicon.ico`: the register's icon (an SVG, which browsers take under that name too), for
/// the clients that ask there whatever the page says; kept for a day.
pub async fn favicon() -> Response {
    let Some((_, kind, bytes)) = FILES.iter().find(|(n, _, _)| *n == "favicon.svg") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut r = (*bytes).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    r
}
