//! The security officer's machinery on a large trace (issue 18, items 3 and 4): one run of the
//! log analysis (every SEC-5 rule, each one grouped query over its window) and the day's report
//! (counts, JSON and PDF), after N trace entries written in the last hour as a busy day would:
//! reads of persons by 200 operators and comuni's programs, some refused, logins. SQLite, and
//! PostgreSQL when `ANAGRAFE_BENCH_DATABASE_URL` names a database to create a scratch database
//! from. Run: `cargo bench -p anagrafe-service --bench security [-- N]` (default 200000).

use anagrafe_service::report::{self, Period};
use anagrafe_service::security;
use anagrafe_service::{Clock, SystemClock};
use anagrafe_store::{AuditEntry, Store, WriteContext};
use std::sync::Arc;
use std::time::Instant;

fn entry(i: u64) -> AuditEntry {
    let actor = i % 200;
    let mut ctx = WriteContext::cli("bench");
    ctx.actor = if actor < 150 { format!("operator:ufficiale-{actor}") } else { format!("client:comune-{actor}") };
    let (op, outcome) = match i % 50 {
        0 => ("operator.login", "ok"),
        1 => ("person.read", "refused"),
        2 => ("certificate.issue", "ok"),
        _ => ("person.read", "ok"),
    };
    let mut e = AuditEntry::from_ctx(&ctx, op, outcome);
    e.subject_person = Some(((i * 7919) % 1_000_000) as i64);
    e
}

async fn run(label: &str, store: Arc<dyn Store>, n: u64) {
    store.migrate().await.unwrap();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..16u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (c..n).step_by(16) {
                store.audit(&entry(i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!("{label:<9} {n} trace entries written in {:.1} s", t.elapsed().as_secs_f64());
    let clock = SystemClock;
    let rules = security::rules();
    for run in 1..=3 {
        let t = Instant::now();
        let done = security::evaluate(&*store, &rules, &clock).await.unwrap();
        println!(
            "{label:<9} analysis run {run} ({} rules): {:.0} ms, {} alerts raised, {} ongoing",
            rules.len(),
            t.elapsed().as_secs_f64() * 1000.0,
            done.raised.len(),
            done.ongoing
        );
    }
    let t = Instant::now();
    let r = report::build(&*store, Period::Day, clock.today(), &clock).await.unwrap();
    let built = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let json = report::json(&r);
    let pdf = report::pdf(&r).await.unwrap();
    println!(
        "{label:<9} day report: counts {built:.0} ms, JSON and PDF {:.0} ms ({} kB JSON, {} kB PDF)",
        t.elapsed().as_secs_f64() * 1000.0,
        json.len() / 1024,
        pdf.len() / 1024
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = anagrafe_store::connect(&format!("sqlite://{}", dir.path().join("b.db").display())).await.unwrap();
    run("sqlite", sqlite, n).await;
    if let Ok(base) = std::env::var("ANAGRAFE_BENCH_DATABASE_URL") {
        let name = format!("anagrafe_securitybench_{}", std::process::id());
        let admin = anagrafe_store::PgStore::connect(&base).await.unwrap();
        admin.exec_raw(&format!("CREATE DATABASE {name}")).await.unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        let pg = anagrafe_store::PgStore::connect(&format!("{prefix}/{name}")).await.unwrap();
        run("postgres", Arc::new(pg.clone()), n).await;
        pg.close().await;
        admin.exec_raw(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
    }
}
