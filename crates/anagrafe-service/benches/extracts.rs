//! Real-time registry extracts through the use case (issue 19, VIS-5): a municipal office's
//! user asks for the residence extract of residents of the comune by codice fiscale; each
//! request finds the subject, reads the record, decides, takes the next protocol number and
//! records the request with the data issued and its trace entry in one transaction. One caller
//! at a time, then 8 concurrent callers. Then the sealed PDFs (VIS-10): the first download of
//! 200 extracts by 8 callers (each laid out, rendered, sealed and kept), then downloads of kept
//! ones. Then the files (VIS-6, VIS-7): the archive (at most 1,000 requests) as CSV and as PDF, the
//! accounting of the day as PDF, and one run of the e-mails' job over the day's requests (the
//! daily e-mail to two recipients, through the outbox). SQLite, and PostgreSQL when
//! `ANAGRAFE_BENCH_DATABASE_URL` names a database to create a scratch database from.
//! Run: `cargo bench -p anagrafe-service --bench extracts [-- N]` (N requests, default 2000).

use anagrafe_domain::extract::{Criterion, ExtractType, OrganisationKind, RequestState};
use anagrafe_domain::ops::Operation;
use anagrafe_domain::{Belfiore, IdGenerator, Role};
use anagrafe_service::extracts::{ExtractDesk, ExtractSettings};
use anagrafe_service::{ClientOpId, FakeClock, Principal, Registry};
use anagrafe_store::{ExtractOrg, IdIssuer, Store};
use std::sync::Arc;
use std::time::Instant;

const PERSONS: u64 = 200;

async fn run(label: &str, store: Arc<dyn Store>, n: u64) {
    store.migrate().await.unwrap();
    let h501 = Belfiore::parse("H501").unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let clock = Arc::new(FakeClock::on(day));
    let issuer = IdIssuer { generator: IdGenerator::new(&[9u8; 16]), key_version: 1, high_water: None };
    let reg = Registry::new(store.clone(), Some(Arc::new(issuer)), clock.clone());
    let who = Principal::comune_client("bench", Some(h501), "bench".into());
    let mut cfs = Vec::new();
    for i in 1..=PERSONS {
        let op = Operation::Register(Box::new(anagrafe_testkit::registration(i, "H501", "H501", day.pred_opt().unwrap())));
        let w = reg.apply(&who, op, &ClientOpId::parse(&format!("bench-{i}")).unwrap()).await.unwrap();
        cfs.push(w.applied.codice_fiscale.unwrap());
    }
    let pki = anagrafe_docs::SealIdentity::generate("Anagrafe bench", chrono::Utc::now()).unwrap();
    let seal = anagrafe_docs::SealIdentity::from_pem(&pki.seal_key_pem, &pki.chain_pem).unwrap();
    let certs = Arc::new(anagrafe_service::certificates::Certificates::new(seal, "https://anagrafe.example.it"));
    let desk = Arc::new(ExtractDesk::new(store.clone(), clock, ExtractSettings::default()).with_documents(Some(certs)));
    let admin = Principal::system_admin("admin", "bench", "bench-org".into());
    let org = ExtractOrg {
        id: 0,
        code: "h501-polizia-municipale".into(),
        comune: h501,
        name: "Polizia Municipale".into(),
        kind: OrganisationKind::MunicipalOffice,
        convention_from: None,
        convention_to: None,
        types: vec![],
    };
    desk.save_org(&admin, None, &org).await.unwrap();
    let user = Principal::extract_user("agente", Role::PaStandard, "bench", "bench-user".into());
    let requester = desk.requester(&user, "agente", "Agente di prova", &org.code).await.unwrap();
    let cfs = Arc::new(cfs);
    let one = n / 4;
    let t = Instant::now();
    for i in 0..one {
        let c = Criterion::CodiceFiscale { code: cfs[(i % PERSONS) as usize].clone() };
        let a = desk.request(&requester, &c, ExtractType::Residence, "accertamento").await.unwrap();
        assert_eq!(a.state, RequestState::Issued);
    }
    let s = t.elapsed().as_secs_f64();
    println!("{label:<9} {one} real-time extracts, one caller: {:.0}/s ({:.2} ms each)", one as f64 / s, s * 1000.0 / one as f64);
    let callers = 8u64;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let (desk, requester, cfs) = (desk.clone(), requester.clone(), cfs.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in (c..n).step_by(callers as usize) {
                let t = Instant::now();
                let crit = Criterion::CodiceFiscale { code: cfs[(i % PERSONS) as usize].clone() };
                desk.request(&requester, &crit, ExtractType::Residence, "accertamento").await.unwrap();
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
        "{label:<9} {n} real-time extracts, {callers} concurrent callers: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        n as f64 / s,
        p(0.5),
        p(0.99)
    );
    let issued = store
        .extract_requests(&anagrafe_store::ExtractFilter { limit: 1, include_public_security: true, ..Default::default() })
        .await
        .unwrap();
    println!("{label:<9} last protocol {} (expected {})", issued[0].protocol.unwrap(), one + n);
    // The documents: the newest 200 extracts, first downloads then downloads of kept ones.
    let ids: Arc<Vec<i64>> = Arc::new(
        store
            .extract_requests(&anagrafe_store::ExtractFilter { limit: 200, include_public_security: true, ..Default::default() })
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect(),
    );
    for pass in ["made, sealed and kept (first download)", "read back (later download)"] {
        let t = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..callers as usize {
            let (desk, requester, ids) = (desk.clone(), requester.clone(), ids.clone());
            tasks.push(tokio::spawn(async move {
                let mut bytes = 0;
                for id in ids.iter().skip(c).step_by(callers as usize) {
                    bytes += desk.document(&requester, *id).await.unwrap().1.len();
                }
                bytes
            }));
        }
        let mut bytes = 0;
        for t in tasks {
            bytes += t.await.unwrap();
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{label:<9} {} extract PDFs {pass}, {callers} callers: {:.0}/s, {:.0} kB each",
            ids.len(),
            ids.len() as f64 / s,
            bytes as f64 / ids.len() as f64 / 1024.0
        );
    }
    // The files: the archive (1,000 requests, newest first) and the accounting, as a TOP user
    // of the registry office sees them.
    use anagrafe_service::extracts::FileFormat;
    let registry =
        ExtractOrg { code: "h501-anagrafe".into(), name: "Ufficio Anagrafe".into(), kind: OrganisationKind::Registry, ..org.clone() };
    desk.save_org(&admin, None, &registry).await.unwrap();
    let top = Principal::extract_user("capo", Role::PaTop, "bench", "bench-top".into());
    let top = desk.requester(&top, "capo", "Capo ufficio", &registry.code).await.unwrap();
    for format in [FileFormat::Csv, FileFormat::Pdf] {
        let t = Instant::now();
        let f = desk.archive_file(&top, anagrafe_store::ExtractFilter::default(), format).await.unwrap();
        println!(
            "{label:<9} archive of {} requests (at most 1,000) as {}: {:.0} ms, {:.0} kB",
            (one + n).min(1000),
            format.extension(),
            t.elapsed().as_secs_f64() * 1000.0,
            f.bytes.len() as f64 / 1024.0
        );
    }
    let t = Instant::now();
    let f = desk.accounting_file(&top, day, day, FileFormat::Pdf).await.unwrap();
    println!(
        "{label:<9} accounting of {} extracts as pdf: {:.0} ms, {:.0} kB",
        one + n,
        t.elapsed().as_secs_f64() * 1000.0,
        f.bytes.len() as f64 / 1024.0
    );
    // The e-mails' job the next morning: the day's requests to two recipients.
    let admin_desk = anagrafe_service::admin::AdminDesk::new(store.clone(), Arc::new(FakeClock::on(day)));
    for (name, role, scope, mediator) in [("capo", Role::PaTop, "h501-anagrafe", false), ("mediatore", Role::RegistryOfficer, "H501", true)]
    {
        let new = anagrafe_service::admin::NewOperator {
            username: name.into(),
            display_name: name.into(),
            codice_fiscale: Some("RSSMRA80A01H501U".into()),
            roles: vec![anagrafe_store::RoleGrant { role, scope: scope.into(), mediator }],
        };
        admin_desk.create_operator(&admin, &new, "hash".into()).await.unwrap();
        let e = anagrafe_store::AuditEntry::from_ctx(&anagrafe_store::WriteContext::cli("bench"), "extract.user_email", "ok");
        store.set_operator_email(name, Some(&format!("{name}@comune.test")), 0, &e).await.unwrap();
    }
    let outbox = tempfile::tempdir().unwrap();
    let mail = anagrafe_service::certificates::MailDelivery::Outbox(outbox.path().to_owned());
    let next = Arc::new(FakeClock::on(day.succ_opt().unwrap()));
    let morning = ExtractDesk::new(store.clone(), next, ExtractSettings::default());
    let job = Principal::job("extract-notices", "bench-notices".into());
    let t = Instant::now();
    let sent = morning.send_notices(&job, &mail, "anagrafe@test").await.unwrap();
    println!("{label:<9} the daily e-mail of {} requests ({} sent): {:.0} ms", one + n, sent.digests, t.elapsed().as_secs_f64() * 1000.0);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2_000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = anagrafe_store::connect(&format!("sqlite://{}", dir.path().join("b.db").display())).await.unwrap();
    run("sqlite", sqlite, n).await;
    if let Ok(base) = std::env::var("ANAGRAFE_BENCH_DATABASE_URL") {
        let name = format!("anagrafe_extractbench_{}", std::process::id());
        let admin = anagrafe_store::PgStore::connect(&base).await.unwrap();
        admin.exec_raw(&format!("CREATE DATABASE {name}")).await.unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        let pg = anagrafe_store::PgStore::connect(&format!("{prefix}/{name}")).await.unwrap();
        run("postgres", Arc::new(pg.clone()), n).await;
        pg.close().await;
        admin.exec_raw(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
    }
}
