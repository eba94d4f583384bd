//! Trace entries appended on their own (`AuditStore::audit`: every read, refusal and login), one
//! caller at a time and from many concurrent callers, whose entries the store commits in
//! groups. SQLite, and PostgreSQL when `ANAGRAFE_BENCH_DATABASE_URL` names a database to create
//! a scratch database from. Run: `cargo bench -p anagrafe-store --bench trace [-- N]`.

use anagrafe_store::{AuditEntry, Store, WriteContext};
use std::sync::Arc;
use std::time::Instant;

fn entry(i: u64) -> AuditEntry {
    let mut e = AuditEntry::from_ctx(&WriteContext::cli("bench"), "pdnd.C030", "ok");
    e.subject_person = Some(i as i64);
    e.detail = format!("{{\"purposeId\":\"bench\",\"motivoRichiesta\":\"prot. {i}\"}}");
    e
}

async fn run(label: &str, store: Arc<dyn Store>, n: u64) {
    store.migrate().await.unwrap();
    let t = Instant::now();
    for i in 0..n / 4 {
        store.audit(&entry(i)).await.unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!("{label:<9} {} entries, one caller: {:.0}/s ({:.2} ms each)", n / 4, (n / 4) as f64 / s, s * 1000.0 / (n / 4) as f64);
    for callers in [8u64, 64] {
        let t = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..callers {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                for i in (c..n).step_by(callers as usize) {
                    let t = Instant::now();
                    store.audit(&entry(i)).await.unwrap();
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.unwrap());
        }
        let s = t.elapsed().as_secs_f64();
        lat.sort_by(|a, b| a.total_cmp(b));
        let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
        println!(
            "{label:<9} {n} entries, {callers} concurrent callers: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
            n as f64 / s,
            p(0.5),
            p(0.99)
        );
    }
    let report = store.verify_audit_chain().await.unwrap();
    println!("{label:<9} chain of {} entries intact: {}", report.entries, report.is_intact());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = anagrafe_store::connect(&format!("sqlite://{}", dir.path().join("b.db").display())).await.unwrap();
    run("sqlite", sqlite, n).await;
    if let Ok(base) = std::env::var("ANAGRAFE_BENCH_DATABASE_URL") {
        let name = format!("anagrafe_tracebench_{}", std::process::id());
        let admin = anagrafe_store::PgStore::connect(&base).await.unwrap();
        admin.exec_raw(&format!("CREATE DATABASE {name}")).await.unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        let pg = anagrafe_store::PgStore::connect(&format!("{prefix}/{name}")).await.unwrap();
        run("postgres", Arc::new(pg.clone()), n).await;
        pg.close().await;
        admin.exec_raw(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
    }
}
