//! Citizens' requests as cases (issue 20, CIT-9, EU-4, EU-5), through the use cases: N EU
//! citizens each validated, each drafting a registration request alone (worker's grounds), with
//! its identity document and proof of employment attached (two 200 kB PDFs, judged by their
//! bytes and hashed), then submitted (the comune's protocol number, the notification); then the
//! comune lists them and works each to the end — two verifications, the start of the
//! procedure, the acceptance that registers the applicant (immigration from abroad, ID ANPR,
//! codice fiscale computed for the Agency). One caller at a time; then the submissions by 8
//! concurrent citizens. SQLite, and PostgreSQL when `ANAGRAFE_BENCH_DATABASE_URL` names a
//! database to create a scratch database from.
//! Run: `cargo bench -p anagrafe-service --bench cases [-- N]` (N cases, default 200).

use anagrafe_domain::case::{CaseAction, Evidence, Grounds};
use anagrafe_domain::eu::{Declared, EidasId, EidasPerson, Member, RegistrationRequest};
use anagrafe_domain::person::BirthPlace;
use anagrafe_domain::refdata::RefData;
use anagrafe_domain::text::{EmailAddress, Line};
use anagrafe_domain::{Belfiore, IdGenerator, PersonName, Sex};
use anagrafe_service::cases::{CaseDesk, CodeMailer, EuDesk, LocalTaxRegistry, Upload};
use anagrafe_service::{ClientOpId, FakeClock, Principal, Registry, ServiceResult};
use anagrafe_store::{IdIssuer, Store};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Default)]
struct Kept(Mutex<Option<String>>);

#[async_trait::async_trait]
impl CodeMailer for Kept {
    async fn send_code(&self, _to: &str, code: &str) -> ServiceResult<()> {
        *self.0.lock().unwrap() = Some(code.to_owned());
        Ok(())
    }
}

fn pdf(kb: usize) -> Vec<u8> {
    let mut b = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n".to_vec();
    b.extend(std::iter::repeat_n(b'0', kb * 1024));
    b.extend(b"\ntrailer<</Root 1 0 R>>\n%%EOF\n");
    b
}

async fn citizen(store: &Arc<dyn Store>, clock: &Arc<FakeClock>, i: u64, fra: Belfiore) -> (Principal, RegistrationRequest) {
    let id = format!("FR/IT/bench{i:06}");
    let born = chrono::NaiveDate::from_ymd_opt(1960 + (i % 40) as i32, 1 + (i % 12) as u32, 1 + (i % 28) as u32).unwrap();
    let (family, given) = (format!("Martin{}", anagrafe_testkit::distinct_name(i).0), "Claire".to_owned());
    let kept = Arc::new(Kept::default());
    let eu = EuDesk::new(store.clone(), clock.clone(), Arc::new(LocalTaxRegistry::new(store.clone())), kept.clone());
    let person = EidasPerson { id: EidasId::parse(&id).unwrap(), family_name: family.clone(), given_name: given.clone(), birth_date: born };
    eu.logged_in(&person).await.unwrap();
    let who = Principal::eu_citizen(&id, None, "oidc:eidas", 2, format!("bench-{i}"));
    let email = EmailAddress::new("bench@example.eu").unwrap();
    eu.declare(&who, Declared { codice_fiscale: None, sex: Sex::F, birth_place: BirthPlace::Abroad { state: fra, locality: None }, email })
        .await
        .unwrap();
    let code = kept.0.lock().unwrap().clone().unwrap();
    eu.confirm(&who, &code).await.unwrap();
    let member = Member {
        name: PersonName::new(Some(&family), Some(&given)).unwrap(),
        sex: Sex::F,
        birth_date: born,
        birth_place: BirthPlace::Abroad { state: fra, locality: None },
        citizenship: fra,
        codice_fiscale: None,
        relation: 1,
        signature: None,
    };
    let r = RegistrationRequest {
        members: vec![member],
        comune: Belfiore::parse("H501").unwrap(),
        species: Line::new("VIA").unwrap(),
        street: Line::new("Nazionale").unwrap(),
        civic: Some(Line::new(&(i % 300 + 1).to_string()).unwrap()),
        arrival_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        provenance: fra,
        grounds: Grounds::Worker,
    };
    (who, r)
}

async fn submit(desk: &CaseDesk, who: &Principal, r: RegistrationRequest, file: &[u8]) -> i64 {
    let id = desk.start_registration(who, r).await.unwrap();
    for (evidence, member) in [(Evidence::IdentityDocument, Some(0)), (Evidence::Employment, None)] {
        let up = Upload { evidence, member, filename: "scan.pdf".into(), bytes: file.to_vec() };
        desk.attach(who, id, up).await.unwrap();
    }
    desk.submit(who, id).await.unwrap();
    id
}

async fn run(label: &str, store: Arc<dyn Store>, n: u64) {
    store.migrate().await.unwrap();
    let clock = Arc::new(FakeClock::on(chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()));
    let fra = RefData::current().stati().iter().find(|s| s.iso3.as_deref() == Some("FRA")).unwrap().code;
    let issuer = IdIssuer { generator: IdGenerator::new(&[9u8; 16]), key_version: 1, high_water: None };
    let registry = Registry::new(store.clone(), Some(Arc::new(issuer)), clock.clone());
    let desk = Arc::new(CaseDesk::new(store.clone(), clock.clone(), registry));
    let file = Arc::new(pdf(200));
    let mut people = Vec::new();
    let t = Instant::now();
    for i in 0..n {
        people.push(citizen(&store, &clock, i, fra).await);
    }
    let s = t.elapsed().as_secs_f64();
    println!("{label:<9} {n} EU citizens validated (login, declaration, code): {:.2} ms each", s * 1000.0 / n as f64);
    let half = (n / 2) as usize;
    let t = Instant::now();
    let mut ids = Vec::new();
    for (who, r) in people.drain(..half) {
        ids.push(submit(&desk, &who, r, &file).await);
    }
    let s = t.elapsed().as_secs_f64();
    println!("{label:<9} {half} requests drafted, 2 x 200 kB attached, submitted, one caller: {:.2} ms each", s * 1000.0 / half as f64);
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let chunks: Vec<Vec<(Principal, RegistrationRequest)>> = {
        let mut v: Vec<Vec<_>> = (0..8).map(|_| Vec::new()).collect();
        for (k, p) in people.drain(..).enumerate() {
            v[k % 8].push(p);
        }
        v
    };
    let rest: usize = chunks.iter().map(Vec::len).sum();
    for chunk in chunks {
        let (desk, file) = (desk.clone(), file.clone());
        tasks.spawn(async move {
            let mut out = Vec::new();
            for (who, r) in chunk {
                out.push(submit(&desk, &who, r, &file).await);
            }
            out
        });
    }
    while let Some(r) = tasks.join_next().await {
        ids.extend(r.unwrap());
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{label:<9} {rest} requests submitted by 8 concurrent citizens: {:.0}/s ({:.2} ms each)",
        rest as f64 / s,
        s * 1000.0 / rest as f64
    );
    let rome = Principal::registry_officer("bench", Belfiore::parse("H501").unwrap(), "password_totp", "bench-office".into());
    let t = Instant::now();
    let listed = desk.list(&rome, vec![], 500).await.unwrap();
    println!("{label:<9} the desk's list ({} cases): {:.1} ms", listed.len(), t.elapsed().as_secs_f64() * 1000.0);
    let k = ids.len().min(20);
    let t = Instant::now();
    for id in &ids[..k] {
        assert!(desk.receipt(&rome, *id).await.unwrap().starts_with(b"%PDF"));
    }
    println!(
        "{label:<9} {k} receipts laid out as PDF (protocol, members, files): {:.1} ms each",
        t.elapsed().as_secs_f64() * 1000.0 / k as f64
    );
    let t = Instant::now();
    for (k, id) in ids.iter().enumerate() {
        let v = desk.file(&rome, *id).await.unwrap();
        for d in &v.file.documents {
            desk.step(&rome, *id, CaseAction::VerifyDocument { document: d.id, valid: true }, "conforme", None).await.unwrap();
        }
        let op = |s: &str| ClientOpId::parse(&format!("{s}-{k}")).unwrap();
        desk.step(&rome, *id, CaseAction::StartProcedure, "", Some(&op("avvio"))).await.unwrap();
        desk.step(&rome, *id, CaseAction::Accept, "", Some(&op("esito"))).await.unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{label:<9} {} cases worked to the end (read, 2 verifications, start with its communication's PDF, acceptance registering the applicant): {:.2} ms each",
        ids.len(),
        s * 1000.0 / ids.len() as f64
    );
    assert!(store.verify_audit_chain().await.unwrap().first_bad.is_none());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = anagrafe_store::connect(&format!("sqlite://{}", dir.path().join("b.db").display())).await.unwrap();
    run("sqlite", sqlite, n).await;
    if let Ok(base) = std::env::var("ANAGRAFE_BENCH_DATABASE_URL") {
        let name = format!("anagrafe_casebench_{}", std::process::id());
        let admin = anagrafe_store::PgStore::connect(&base).await.unwrap();
        admin.exec_raw(&format!("CREATE DATABASE {name}")).await.unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        let pg = anagrafe_store::PgStore::connect(&format!("{prefix}/{name}")).await.unwrap();
        run("postgres", Arc::new(pg.clone()), n).await;
        pg.close().await;
        admin.exec_raw(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
    }
}
