//! Measures QR decoders on what people upload to the verification page: from renders of an
//! issued certificate's first page it makes scans, phone photos and screenshots
//! (`anagrafe_docs::qr::corpus`), writes them under `--out`, and reports for each decoder how
//! many it read correctly and how long it took. `scripts/qr-corpus` runs it on a real
//! certificate; the figures are in `docs/benchmarks.md` and the choice in `docs/certificates.md`.
//!
//!   cargo run --release -p anagrafe-docs --features compare-decoders --example qr_compare -- \
//!       --expect "$(cat qr.txt)" --seeds 6 --out target/qr-corpus page-150.png page-300.png

use anagrafe_docs::qr::{self, corpus};
use std::time::{Duration, Instant};

type Decoder = fn(&[u8]) -> Option<String>;

fn luma(bytes: &[u8]) -> Option<image::GrayImage> {
    image::load_from_memory(bytes).ok().map(|i| i.into_luma8())
}

/// The register's own pipeline, as the page calls it.
fn anagrafe(bytes: &[u8]) -> Option<String> {
    qr::decode(bytes).ok()
}

/// rqrr on the whole image, as it comes.
fn rqrr_plain(bytes: &[u8]) -> Option<String> {
    let img = luma(bytes)?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| img.as_raw()[y * w + x]);
    prepared.detect_grids().into_iter().find_map(|g| g.decode().ok().map(|(_, t)| t))
}

/// quircs (a port of quirc) on the whole image.
fn quircs(bytes: &[u8]) -> Option<String> {
    let img = luma(bytes)?;
    let mut q = quircs::Quirc::default();
    let codes = q.identify(img.width() as usize, img.height() as usize, img.as_raw());
    codes.flatten().find_map(|c| c.decode().ok().and_then(|d| String::from_utf8(d.payload).ok()))
}

/// rxing (a port of ZXing) on the whole image, trying harder.
fn rxing(bytes: &[u8]) -> Option<String> {
    let img = luma(bytes)?;
    let (w, h) = (img.width(), img.height());
    let mut hints = rxing::DecodeHints { TryHarder: Some(true), ..Default::default() };
    rxing::helpers::detect_in_luma_with_hints(img.into_raw(), w, h, Some(rxing::BarcodeFormat::QR_CODE), &mut hints)
        .ok()
        .map(|r| r.getText().to_owned())
}

const DECODERS: [(&str, Decoder); 4] = [("anagrafe", anagrafe), ("rqrr", rqrr_plain), ("quircs", quircs), ("rxing", rxing)];

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut expect, mut seeds, mut out, mut pages) = (String::new(), 4u64, None, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--expect" => expect = args.next().expect("--expect TEXT"),
            "--seeds" => seeds = args.next().and_then(|s| s.parse().ok()).expect("--seeds N"),
            "--out" => out = Some(std::path::PathBuf::from(args.next().expect("--out DIR"))),
            _ => pages.push(a),
        }
    }
    assert!(!expect.is_empty() && !pages.is_empty(), "usage: qr_compare --expect TEXT [--seeds N] [--out DIR] PAGE.png…");
    if let Some(o) = &out {
        std::fs::create_dir_all(o).expect("creating --out");
    }
    // (decoder, input) → (read, tried, time)
    let mut table: Vec<(String, &str, u32, u32, Duration)> = Vec::new();
    for path in &pages {
        let page = image::open(path).expect("reading a page render").into_luma8();
        let stem = std::path::Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or("page").to_owned();
        let mut inputs: Vec<(String, Vec<u8>)> = vec![(format!("{stem} as rendered"), std::fs::read(path).expect("reading"))];
        for kind in corpus::Kind::ALL {
            for seed in 0..seeds {
                inputs.push((format!("{stem} {}", kind.name()), corpus::upload(&page, kind, seed)));
            }
        }
        for (i, (label, bytes)) in inputs.iter().enumerate() {
            if let Some(o) = &out {
                let ext = if bytes.starts_with(&[0xff, 0xd8]) { "jpg" } else { "png" };
                std::fs::write(o.join(format!("{}-{i:02}.{ext}", label.replace(' ', "-"))), bytes).expect("writing the corpus");
            }
            for (name, decode) in DECODERS {
                let t0 = Instant::now();
                let ok = decode(bytes).as_deref() == Some(expect.as_str());
                let spent = t0.elapsed();
                match table.iter_mut().find(|r| r.0 == *label && r.1 == name) {
                    Some(r) => {
                        r.2 += u32::from(ok);
                        r.3 += 1;
                        r.4 += spent;
                    }
                    None => table.push((label.clone(), name, u32::from(ok), 1, spent)),
                }
            }
        }
    }
    println!("| upload | {} |", DECODERS.map(|d| d.0).join(" | "));
    println!("|---|{}", "---|".repeat(DECODERS.len()));
    let mut labels: Vec<&String> = table.iter().map(|r| &r.0).collect();
    labels.dedup();
    let mut totals = vec![(0u32, 0u32, Duration::ZERO); DECODERS.len()];
    for label in labels {
        let cells: Vec<String> = DECODERS
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let r = table.iter().find(|r| r.0 == *label && r.1 == *name).expect("a row per decoder");
                totals[i].0 += r.2;
                totals[i].1 += r.3;
                totals[i].2 += r.4;
                format!("{}/{} ({} ms)", r.2, r.3, r.4.as_millis() / u128::from(r.3))
            })
            .collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
    let cells: Vec<String> =
        totals.iter().map(|(ok, n, t)| format!("**{ok}/{n}** ({} ms)", t.as_millis() / u128::from((*n).max(1)))).collect();
    println!("| all | {} |", cells.join(" | "));
}
