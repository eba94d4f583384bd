//! Certificates (issue 5): issue (check + render + seal + store + trace) and preview throughput
//! with p50/p99 latency, from concurrent callers on one runtime; resident memory across the run;
//! QR decoding of a 2-megapixel photo-like image; the time to refuse a hostile upload.
//! SQLite, and PostgreSQL too when `ANAGRAFE_BENCH_DATABASE_URL` names a database to create a
//! scratch database from.
//!
//! Run: `cargo bench -p anagrafe-server --bench certificates [-- ISSUES]` (default 2000; the
//! memory check in docs/benchmarks.md uses 10000).

use anagrafe_domain::certificate::Stamp;
use anagrafe_domain::decode::{DecodeTable, TipoCertificato};
use anagrafe_domain::ops::Operation;
use anagrafe_domain::{Belfiore, IdAnpr, IdGenerator};
use anagrafe_service::certificates::{CertificateRequest, CertificateService, Certificates};
use anagrafe_service::{Principal, SystemClock};
use anagrafe_store::{IdIssuer, Store, WriteContext};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PERSONS: u64 = 500;
const WORKERS: usize = 4;

/// A resident of Milano, or of Bolzano (bilingual certificates) for one in five.
fn resident(n: u64) -> Operation {
    let comune = if n.is_multiple_of(5) { "A952" } else { "F205" };
    Operation::Register(Box::new(anagrafe_testkit::registration(n, "F205", comune, chrono::NaiveDate::from_ymd_opt(2020, 3, 1).unwrap())))
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Runs `n` calls of `f` from `WORKERS` tasks; prints rate and latency; returns peak RSS seen.
async fn load<F, Fut>(label: &str, n: usize, f: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let peak = Arc::new(std::sync::Mutex::new(rss_mb()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let (f, next, peak) = (f.clone(), next.clone(), peak.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                f(i).await;
                lat.push(t.elapsed());
                if i % 500 == 0 {
                    let mut p = peak.lock().unwrap();
                    *p = p.max(rss_mb());
                }
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    let peak = *peak.lock().unwrap();
    println!(
        "{label:<28} {n} in {secs:.1} s: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, RSS peak {peak:.0} MB, now {:.0} MB",
        n as f64 / secs,
        pct(&lat, 0.50),
        pct(&lat, 0.99),
        rss_mb()
    );
    peak
}

async fn run(label: &str, store: Arc<dyn Store>, issues: usize) {
    store.migrate().await.unwrap();
    let issuer = IdIssuer { generator: IdGenerator::new(&[2u8; 16]), key_version: 1, high_water: None };
    let ctx = WriteContext::cli("bench");
    let mut people = Vec::new();
    for i in 0..PERSONS {
        let applied = store.apply(&resident(i), &ctx, &issuer, None).await.unwrap();
        people.push(applied.id_anpr.unwrap());
    }
    let pki = anagrafe_docs::SealIdentity::generate("Anagrafe bench", chrono::Utc::now()).unwrap();
    let seal = anagrafe_docs::SealIdentity::from_pem(&pki.seal_key_pem, &pki.chain_pem).unwrap();
    let certs = Arc::new(Certificates::new(seal, "https://anagrafe.example.it"));
    let service = CertificateService::new(certs, store.clone(), Arc::new(SystemClock));
    let who = Principal::registry_officer("bench", Belfiore::parse("F205").unwrap(), "bench", "bench".into());
    let people = Arc::new(people);
    println!("{label}: {PERSONS} residents (one in five in Bolzano: bilingual), {WORKERS} concurrent callers, RSS {:.0} MB", rss_mb());
    let request = |people: &[IdAnpr], i: usize| CertificateRequest {
        person: people[i % people.len()],
        kinds: if i.is_multiple_of(3) {
            vec![TipoCertificato::from_code(8).unwrap(), TipoCertificato::from_code(12).unwrap()]
        } else {
            vec![TipoCertificato::from_code(8).unwrap()]
        },
        reference_date: None,
        lang: None,
    };
    {
        let (c, w, p) = (service.clone(), who.clone(), people.clone());
        load(&format!("{label} preview"), issues, move |i| {
            let (c, w, p) = (c.clone(), w.clone(), p.clone());
            async move {
                c.preview(&w, &request(&p, i), None).await.unwrap();
            }
        })
        .await;
    }
    let (c, w, p) = (service.clone(), who.clone(), people.clone());
    load(&format!("{label} issue (render+seal+store)"), issues, move |i| {
        let (c, w, p) = (c.clone(), w.clone(), p.clone());
        async move {
            let stamp = Stamp::Exempt { code: 3, description: None };
            c.issue(&w, &request(&p, i), &stamp).await.unwrap();
        }
    })
    .await;
}

/// A 2-megapixel grey "photo": noise, a gradient, and the QR code of a certificate URL at about
/// 7 pixels per module, slightly off-centre; as JPEG.
fn photo() -> Vec<u8> {
    let text = "https://anagrafe.example.it/verifica/Qe8Qbm9g0GH-dVGot1RaRNZH#eyJ2IjoxLCJpZCI6IjIwMjYtWTI4NkpLOVREQSIsInQiOls4LDEyXSwiaSI6IjIwMjYtMTEtMjMiLCJlIjoiMjAyNy0wNS0yMiIsImgiOiJ4YzNEZkNWREZHbHhtRkhjLWRGeFBvam9wQzBxVlIwVlRzUWl6bWRwVFVZIn0.C1uD1pwZtJXClRmsdOfn0BXOU05mL77bP98M_h2gEN4C2wYoF5JYsQaBYZpUD9miluSkVpSogjSIzKgnAgUM5g";
    let code = image::load_from_memory(&anagrafe_docs::qr::png(text).unwrap().png).unwrap().into_luma8();
    let (w, h) = (1732u32, 1155u32);
    let mut img = image::GrayImage::new(w, h);
    let mut seed = 12345u32;
    for (x, y, p) in img.enumerate_pixels_mut() {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *p = image::Luma([(170 + (x * 40 / w) as i32 + ((seed >> 16) % 30) as i32 - 15).clamp(0, 255) as u8 + (y % 2) as u8]);
    }
    // qr::png draws 4 px per module; resample to about 7.
    let code = image::imageops::resize(&code, code.width() * 7 / 4, code.height() * 7 / 4, image::imageops::FilterType::Nearest);
    let (scale, x0, y0) = (1u32, 700u32, 330u32);
    for (mx, my, p) in code.enumerate_pixels() {
        if p.0[0] < 128 {
            for dy in 0..scale {
                for dx in 0..scale {
                    img.put_pixel(x0 + mx * scale + dx, y0 + my * scale + dy, image::Luma([35]));
                }
            }
        }
    }
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Jpeg).unwrap();
    out
}

fn decode_figures() {
    let jpeg = photo();
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let text = anagrafe_docs::qr::decode(&jpeg).expect("the photo decodes");
        times.push(t.elapsed());
        assert!(text.starts_with("https://anagrafe.example.it/verifica/"));
    }
    times.sort();
    println!(
        "QR decode of a 1732x1155 (2.0 Mpx) JPEG of {} KB: median {:.1} ms, max {:.1} ms",
        jpeg.len() / 1024,
        pct(&times, 0.5),
        pct(&times, 1.0)
    );
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(image::GrayImage::new(8, 8))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let mut c = 0xFFFF_FFFFu32;
    for b in &png[12..29] {
        c ^= u32::from(*b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    png[29..33].copy_from_slice(&(!c).to_be_bytes());
    let before = rss_mb();
    let t = Instant::now();
    let r = anagrafe_docs::qr::decode(&png);
    println!(
        "hostile PNG claiming 60000x60000 px: {:?} in {:.3} ms, RSS {before:.0} -> {:.0} MB",
        r.unwrap_err(),
        t.elapsed().as_secs_f64() * 1000.0,
        rss_mb()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let issues: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2000);
    decode_figures();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = anagrafe_store::connect(&format!("sqlite://{}", dir.path().join("b.db").display())).await.unwrap();
    run("sqlite", sqlite, issues).await;
    if let Ok(base) = std::env::var("ANAGRAFE_BENCH_DATABASE_URL") {
        let name = format!("anagrafe_certbench_{}", std::process::id());
        let admin = anagrafe_store::PgStore::connect(&base).await.unwrap();
        admin.exec_raw(&format!("CREATE DATABASE {name}")).await.unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        let pg = anagrafe_store::PgStore::connect(&format!("{prefix}/{name}")).await.unwrap();
        run("postgres", Arc::new(pg.clone()), issues).await;
        pg.close().await;
        admin.exec_raw(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
    }
}
