//! Registry writes straight through `RegistryStore::apply`, without HTTP or signatures: the cost of one
//! audited registration transaction on each backend (PostgreSQL when
//! `ANAGRAFE_BENCH_DATABASE_URL` names a database to create scratch databases from).
//! Run: `cargo bench -p anagrafe-store --bench apply [-- N]`.

use anagrafe_domain::IdGenerator;
use anagrafe_domain::ops::Operation;
use anagrafe_store::{IdIssuer, Store, WriteContext};
use std::time::Instant;

fn birth(n: u64) -> Operation {
    Operation::Register(Box::new(anagrafe_testkit::registration(n, "H501", "H501", chrono::Utc::now().date_naive())))
}

async fn run(label: &str, store: &dyn Store, n: u64) {
    store.migrate().await.unwrap();
    let issuer = IdIssuer { generator: IdGenerator::new(&[1u8; 16]), key_version: 1, high_water: None };
    let ctx = WriteContext::cli("bench");
    let t = Instant::now();
    for i in 0..n {
        store.apply(&birth(i), &ctx, &issuer, None).await.unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!("{label:<9} {n} registrations, one after another: {:.0}/s ({:.2} ms each)", n as f64 / s, s * 1000.0 / n as f64);
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = anagrafe_store::connect(&format!("sqlite://{}", dir.path().join("b.db").display())).await.unwrap();
    run("sqlite", &*sqlite, n).await;
    if let Ok(base) = std::env::var("ANAGRAFE_BENCH_DATABASE_URL") {
        let name = format!("anagrafe_applybench_{}", std::process::id());
        let admin = anagrafe_store::PgStore::connect(&base).await.unwrap();
        admin.exec_raw(&format!("CREATE DATABASE {name}")).await.unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        let pg = anagrafe_store::PgStore::connect(&format!("{prefix}/{name}")).await.unwrap();
        run("postgres", &pg, n).await;
        pg.close().await;
        admin.exec_raw(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
    }
}
