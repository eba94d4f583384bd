//! The web application's front-end assets (Bootstrap Italia, htmx) are npm packages, pinned in
//! `web/package.json` and `web/package-lock.json` and installed by `scripts/setup-web`
//! (`npm ci`); the binary embeds them, so nothing is fetched at run time. This script stops the
//! build with the one command to run when they are missing, and passes the installed versions
//! on, so that asset URLs change with them (they are cached as immutable).

use std::path::Path;

fn version_of(package_json: &Path) -> Option<String> {
    let text = std::fs::read_to_string(package_json).ok()?;
    // `"version": "2.18.3"` — the first such key of a package.json is the package's own.
    let at = text.find("\"version\"")?;
    let rest = &text[at + 9..];
    let start = rest.find('"')? + 1;
    let end = rest[start..].find('"')? + start;
    Some(rest[start..end].to_owned())
}

fn main() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    println!("cargo:rerun-if-changed={}", web.join("package-lock.json").display());
    println!("cargo:rerun-if-changed={}", web.join("node_modules/bootstrap-italia/package.json").display());
    println!("cargo:rerun-if-changed={}", web.join("node_modules/htmx.org/package.json").display());
    let mut missing = Vec::new();
    for (env, pkg) in [("BOOTSTRAP_ITALIA_VERSION", "bootstrap-italia"), ("HTMX_VERSION", "htmx.org")] {
        match version_of(&web.join("node_modules").join(pkg).join("package.json")) {
            Some(v) => println!("cargo:rustc-env={env}={v}"),
            None => missing.push(pkg),
        }
    }
    if missing.is_empty() {
        precompress(&web);
    }
    if !missing.is_empty() {
        // One line that says what to do, not a panic's backtrace.
        println!(
            "cargo::error=the web application's assets are not installed ({}): run ./scripts/setup-web (npm ci in web/, Node.js 20 or newer) and build again",
            missing.join(", ")
        );
    }
}

/// The text assets, gzip-compressed once here (level 9) into `OUT_DIR`, so the server sends them
/// compressed without compressing at each request (`src/web/assets.rs` embeds both forms). Fonts
/// (WOFF2) are compressed already.
const COMPRESSED: [(&str, &str); 7] = [
    ("bootstrap-italia.min.css", "node_modules/bootstrap-italia/dist/css/bootstrap-italia.min.css"),
    ("bootstrap-italia.min.js", "node_modules/bootstrap-italia/dist/js/bootstrap-italia.min.js"),
    ("sprites.svg", "node_modules/bootstrap-italia/dist/svg/sprites.svg"),
    ("htmx.min.js", "node_modules/htmx.org/dist/htmx.min.js"),
    ("anagrafe.css", "../crates/anagrafe-server/web/anagrafe.css"),
    ("anagrafe.js", "../crates/anagrafe-server/web/anagrafe.js"),
    ("favicon.svg", "../crates/anagrafe-server/web/favicon.svg"),
];

fn precompress(web: &Path) {
    use std::io::Write;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (name, source) in COMPRESSED {
        let path = web.join(source);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes)
            .and_then(|_| gz.finish())
            .and_then(|z| std::fs::write(out.join(format!("{name}.gz")), z))
            .unwrap_or_else(|e| panic!("{name}.gz: {e}"));
    }
}
