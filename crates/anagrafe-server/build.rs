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
    if !missing.is_empty() {
        // One line that says what to do, not a panic's backtrace.
        println!(
            "cargo::error=the web application's assets are not installed ({}): run ./scripts/setup-web (npm ci in web/, Node.js 20 or newer) and build again",
            missing.join(", ")
        );
    }
}
