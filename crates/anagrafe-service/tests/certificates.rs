//! The certificate service on both backends, with the fake clock (CRT-1, CRT-2, CRT-6, CRT-7):
//! a certificate issued under the register's seal, refused when the person cannot obtain it,
//! and deleted by the expiry job once the clock has moved past its validity.

#[macro_use]
#[path = "../../anagrafe-store/tests/common/mod.rs"]
mod common;
use base64::Engine as _;
use common::Harness;

use anagrafe_domain::certificate::Stamp;
use anagrafe_domain::decode::{DecodeTable, TipoCertificato};
use anagrafe_domain::ops::Operation;
use anagrafe_domain::{Belfiore, IdAnpr, IdGenerator};
use anagrafe_service::certificates::{self, CertificateRequest, CertificateService, Certificates};
use anagrafe_service::registry::Registry;
use anagrafe_service::{ClientOpId, Clock, FakeClock, Principal, ServiceError};
use anagrafe_store::IdIssuer;
use chrono::NaiveDate;
use std::sync::{Arc, OnceLock};

conformance!(
    a_certificate_is_issued_sealed_and_deleted_once_the_clock_passes_its_expiry,
    a_certificate_the_person_cannot_obtain_is_refused_with_its_code_and_traced,
    a_citizen_obtains_certificates_about_themselves_only,
    verification_says_nothing_before_the_captcha_and_each_captcha_answers_once,
    a_typed_number_verifies_and_its_original_can_be_downloaded_until_the_link_expires,
    a_former_resident_logged_in_through_eidas_gets_the_own_birth_certificate_if_held_after_the_subentro,
);

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// One seal for the whole test binary (making a CA takes a while).
fn seal() -> anagrafe_docs::SealIdentity {
    let (key, chain, _) = pki();
    anagrafe_docs::SealIdentity::from_pem(key, chain).unwrap()
}

/// The seal's key and chain, and its CA's certificate.
fn pki() -> &'static (String, String, String) {
    static PKI: OnceLock<(String, String, String)> = OnceLock::new();
    PKI.get_or_init(|| {
        let pki = anagrafe_docs::SealIdentity::generate("Anagrafe test", chrono::Utc::now()).unwrap();
        (pki.seal_key_pem, pki.chain_pem, pki.ca_cert_pem)
    })
}

struct Setup {
    certs: CertificateService,
    clock: Arc<FakeClock>,
    office: Principal,
    person: IdAnpr,
    codice_fiscale: String,
}

async fn setup(h: &Harness) -> Setup {
    let clock = Arc::new(FakeClock::on(d("2026-06-01")));
    let issuer = IdIssuer { generator: IdGenerator::new(&[5u8; 16]), key_version: 1, high_water: None };
    let registry = Registry::new(h.store.clone(), Some(Arc::new(issuer)), clock.clone());
    let office = Principal::registry_officer("anna.bianchi", Belfiore::parse("F205").unwrap(), "password_totp", "req-cert".into());
    let birth = anagrafe_testkit::registration(1, "F205", "F205", d("2020-03-01"));
    let w = registry.apply(&office, Operation::Register(Box::new(birth)), &ClientOpId::parse("reg-1").unwrap()).await.unwrap();
    let person = w.applied.id_anpr.unwrap();
    let codice_fiscale = w.applied.codice_fiscale.clone().unwrap();
    let certs = CertificateService::new(Arc::new(Certificates::new(seal(), "https://anagrafe.example.it")), h.store.clone(), clock.clone());
    Setup { certs, clock, office, person, codice_fiscale }
}

/// The outcomes of the public verification's trace entries, oldest first.
async fn verify_outcomes(h: &Harness) -> Vec<String> {
    h.store
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.operation == "certificate.verify")
        .map(|e| e.entry.outcome)
        .collect()
}

fn kinds(codes: &[u16]) -> Vec<TipoCertificato> {
    codes.iter().map(|c| TipoCertificato::from_code(*c).unwrap()).collect()
}

async fn a_certificate_is_issued_sealed_and_deleted_once_the_clock_passes_its_expiry(h: &Harness) {
    let s = setup(h).await;
    let req = CertificateRequest { person: s.person, kinds: kinds(&[8, 12]), reference_date: None, lang: None };
    s.certs.check(&s.office, &req).await.unwrap();
    let stamp = Stamp::Exempt { code: 3, description: None };
    let (meta, pdf) = s.certs.issue(&s.office, &req, &stamp).await.unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(meta.types, vec![8, 12]);
    // Six months of validity from the clock's today, the day before the same date.
    assert_eq!(meta.expires_on, d("2026-11-30"));
    assert_eq!(meta.issued_at, s.clock.now_ms());
    let report = anagrafe_docs::verify::verify_pdf(&pdf, None).unwrap();
    assert!(report.ok(), "{report:?}");
    let (_, again) = s.certs.download(&s.office, &meta.id).await.unwrap();
    assert_eq!(again, pdf);

    // The day of expiry it is still kept; the day after, the job deletes it.
    s.clock.set(d("2026-11-30").and_hms_opt(12, 0, 0).unwrap().and_utc());
    assert_eq!(certificates::expire(&*h.store, &*s.clock).await.unwrap(), 0);
    s.clock.advance(chrono::Duration::days(1));
    assert_eq!(certificates::expire(&*h.store, &*s.clock).await.unwrap(), 1);
    let gone = s.certs.download(&s.office, &meta.id).await.unwrap_err();
    assert!(matches!(gone, ServiceError::Gone(_)), "{gone:?}");

    let trace = h.store.audit_entries(0, 1000).await.unwrap();
    let ops: Vec<(&str, &str)> = trace.iter().map(|e| (e.entry.operation.as_str(), e.entry.outcome.as_str())).collect();
    for op in [("certificate.check", "ok"), ("certificate.issue", "ok"), ("certificate.download", "ok"), ("certificate.expire", "ok")] {
        assert!(ops.contains(&op), "{op:?} traced: {ops:?}");
    }
    assert!(ops.contains(&("certificate.download", "gone")));
    assert!(h.store.verify_audit_chain().await.unwrap().first_bad.is_none());
}

async fn a_certificate_the_person_cannot_obtain_is_refused_with_its_code_and_traced(h: &Harness) {
    let s = setup(h).await;
    // A death certificate (type 2) for a living resident.
    let req = CertificateRequest { person: s.person, kinds: kinds(&[2]), reference_date: None, lang: None };
    let e = s.certs.issue(&s.office, &req, &Stamp::Exempt { code: 3, description: None }).await.unwrap_err();
    let ServiceError::NotCertifiable { code, .. } = e else { panic!("a refusal with its code: {e:?}") };
    assert!(code.starts_with("EN"), "{code}");
    let refused = h.store.audit_entries(0, 1000).await.unwrap().into_iter().filter(|e| e.entry.operation == "certificate.issue").count();
    assert_eq!(refused, 1, "the refusal is traced");
    // The historical residence at a date needs the date, and a date not after today.
    let historical = CertificateRequest { person: s.person, kinds: kinds(&[20]), reference_date: None, lang: None };
    let e = s.certs.check(&s.office, &historical).await.unwrap_err();
    assert!(matches!(&e, ServiceError::Malformed { field, .. } if field == "reference_date"), "{e:?}");
    let future = CertificateRequest { reference_date: Some(d("2026-06-02")), ..historical.clone() };
    assert!(s.certs.check(&s.office, &future).await.is_err());
    let past = CertificateRequest { reference_date: Some(d("2024-01-01")), ..historical };
    s.certs.check(&s.office, &past).await.unwrap();
}

async fn a_citizen_obtains_certificates_about_themselves_only(h: &Harness) {
    let s = setup(h).await;
    let me = Principal::citizen(&s.codice_fiscale, "oidc:spid-demo", 2, "req-citizen".into());
    let req = CertificateRequest { person: s.person, kinds: kinds(&[8]), reference_date: None, lang: None };
    let payment = s.certs.pay_locally(&me).await.unwrap();
    let (meta, _) = s.certs.issue(&me, &req, &Stamp::Paid { payment_id: payment.id.clone() }).await.unwrap();
    assert_eq!(s.certs.list(&me, None).await.unwrap().len(), 1);
    // The payment is consumed by the certificate: it cannot pay for another.
    let e = s.certs.issue(&me, &req, &Stamp::Paid { payment_id: payment.id }).await.unwrap_err();
    assert!(matches!(&e, ServiceError::State { field, .. } if field == "stamp.payment_id"), "{e:?}");

    let stranger = Principal::citizen("RSSMRA80A01H501U", "oidc:spid-demo", 2, "req-other".into());
    let e = s.certs.check(&stranger, &req).await.unwrap_err();
    assert!(matches!(e, ServiceError::Forbidden(_)));
    assert!(matches!(s.certs.download(&stranger, &meta.id).await, Err(ServiceError::Forbidden(_))));
    let refusals = h.store.audit_entries(0, 1000).await.unwrap().into_iter().filter(|e| e.entry.outcome == "refused:not-yours").count();
    assert_eq!(refusals, 2, "both attempts are traced");
}

async fn verification_says_nothing_before_the_captcha_and_each_captcha_answers_once(h: &Harness) {
    use anagrafe_service::certificates::verification::{Shown, Verification, valid_token};
    let clock = Arc::new(FakeClock::on(d("2026-06-01")));
    let mut certs = Certificates::new(seal(), "https://anagrafe.example.it");
    let oracle = certificates::CaptchaOracle::default();
    certs.captcha_oracle = Some(oracle.clone());
    let svc = CertificateService::new(Arc::new(certs), h.store.clone(), clock.clone());
    let token = "a".repeat(32);
    assert!(valid_token(&token) && !valid_token("short") && !valid_token(&"é".repeat(20)));
    let answer = |id: &str| oracle.lock().unwrap().iter().find(|(i, _)| i == id).map(|(_, a)| a.clone()).unwrap();
    let outcomes = || verify_outcomes(h);

    // A wrong answer says nothing about the certificate.
    let c = svc.challenge(false, "it").await.unwrap();
    assert!(matches!(&c.shown, Shown::Image(png) if png.starts_with(b"\x89PNG")));
    let wrong = format!("{}9", answer(&c.id));
    assert!(matches!(svc.verify("r1", &token, &c.id, &wrong).await.unwrap(), Verification::WrongAnswer));
    // The right answer, once: the captcha is spent by the first try.
    assert!(matches!(svc.verify("r2", &token, &c.id, &answer(&c.id)).await.unwrap(), Verification::WrongAnswer));
    let c = svc.challenge(true, "it").await.unwrap();
    assert!(matches!(&c.shown, Shown::Question(q) if !q.is_empty()));
    assert!(matches!(svc.verify("r3", &token, &c.id, &answer(&c.id)).await.unwrap(), Verification::Unknown));
    // An expired captcha answers nothing either.
    let c = svc.challenge(false, "it").await.unwrap();
    clock.advance(chrono::Duration::minutes(11));
    assert!(matches!(svc.verify("r4", &token, &c.id, &answer(&c.id)).await.unwrap(), Verification::WrongAnswer));
    // Wrong answers are traced once a minute, the next entry carrying the minute's count.
    assert_eq!(outcomes().await, ["refused:captcha", "unknown", "refused:captcha"]);
    let last = h.store.audit_entries(0, 1000).await.unwrap().pop().unwrap();
    assert!(last.entry.detail.contains("\"wrong_answers\":2"), "{}", last.entry.detail);

    // A flood of anonymous attempts writes nothing: no captcha is stored before it is solved,
    // and a minute of wrong answers is one trace entry.
    let before = h.store.audit_entries(0, 10_000).await.unwrap().len();
    clock.advance(chrono::Duration::minutes(1));
    for i in 0..300 {
        let c = svc.challenge(i % 2 == 0, "it").await.unwrap();
        let _ = svc.verify("flood", &token, &c.id, "0").await.unwrap();
        let _ = svc.verify("flood", &"b".repeat(20), &format!("{}x", c.id), "0").await.unwrap();
    }
    assert_eq!(h.store.audit_entries(0, 10_000).await.unwrap().len(), before + 1);
    // A captcha id cannot be forged: a changed expiry or a made-up id answers nothing.
    let c = svc.challenge(true, "it").await.unwrap();
    let right = answer(&c.id);
    let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&c.id).unwrap();
    raw[7] ^= 0x01;
    let moved = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
    assert!(matches!(svc.verify("r5", &token, &moved, &right).await.unwrap(), Verification::WrongAnswer));
    assert!(matches!(svc.verify("r6", &token, &c.id, &right).await.unwrap(), Verification::WrongAnswer), "any attempt spends it");
    let c = svc.challenge(true, "it").await.unwrap();
    assert!(matches!(svc.verify("r7", &token, &c.id, &answer(&c.id)).await.unwrap(), Verification::Unknown));
}

async fn a_typed_number_verifies_and_its_original_can_be_downloaded_until_the_link_expires(h: &Harness) {
    use anagrafe_service::certificates::verification::{ORIGINAL_TTL_MS, Verification, typed_number};
    let s = setup(h).await;
    let me = Principal::citizen(&s.codice_fiscale, "oidc:spid-demo", 2, "req-citizen".into());
    let req = CertificateRequest { person: s.person, kinds: kinds(&[8]), reference_date: None, lang: None };
    let (meta, pdf) = s.certs.issue(&me, &req, &Stamp::Exempt { code: 3, description: None }).await.unwrap();
    let mut certs = Certificates::new(seal(), "https://anagrafe.example.it");
    let oracle = certificates::CaptchaOracle::default();
    certs.captcha_oracle = Some(oracle.clone());
    let svc = CertificateService::new(Arc::new(certs), h.store.clone(), s.clock.clone());
    let answer = |id: &str| oracle.lock().unwrap().iter().find(|(i, _)| i == id).map(|(_, a)| a.clone()).unwrap();
    // The printed form, with the slips a person makes typing it.
    assert_eq!(typed_number(&format!(" {} ", meta.id.to_lowercase())).as_deref(), Some(meta.id.as_str()));
    for bad in ["", "2026", "2026-ABCDEFGHJ", "2026-ABCDEFGHJKL", "2026-ABCDEFGHI1", "26-ABCDEFGHJK", "2026_ABCDEFGHJK"] {
        assert_eq!(typed_number(bad), None, "{bad:?}");
    }
    let c = svc.challenge(false, "it").await.unwrap();
    let v = svc.verify_number("r1", &meta.id.to_lowercase(), &c.id, &answer(&c.id)).await.unwrap();
    let Verification::Valid { summary, grant } = v else { panic!("{v:?}") };
    assert_eq!((summary.id.as_str(), summary.types.as_slice(), summary.issued_on), (meta.id.as_str(), &[8u16][..], d("2026-06-01")));
    assert_eq!(summary.expires_on, meta.expires_on);
    // The original, more than once while the link lasts; not for another number, nor a changed key.
    for _ in 0..2 {
        assert_eq!(svc.original("r2", &meta.id, &grant).await.unwrap().as_deref(), Some(pdf.as_slice()));
    }
    assert_eq!(svc.original("r3", "2026-ABCDEFGHJK", &grant).await.unwrap(), None);
    assert_eq!(svc.original("r3", &meta.id, &format!("{grant}x")).await.unwrap(), None);
    s.clock.advance(chrono::Duration::milliseconds(ORIGINAL_TTL_MS + 1));
    assert_eq!(svc.original("r4", &meta.id, &grant).await.unwrap(), None, "the link expires");
    // An unknown number, with its captcha solved, is unknown.
    let c = svc.challenge(true, "it").await.unwrap();
    assert!(matches!(svc.verify_number("r5", "2026-ABCDEFGHJK", &c.id, &answer(&c.id)).await.unwrap(), Verification::Unknown));
    assert_eq!(verify_outcomes(h).await, ["ok", "original", "original", "unknown"]);
}

#[derive(Debug, Default)]
struct Codes(std::sync::Mutex<Vec<String>>);

#[async_trait::async_trait]
impl anagrafe_service::cases::CodeMailer for Codes {
    async fn send_code(&self, _to: &str, code: &str) -> anagrafe_service::ServiceResult<()> {
        self.0.lock().unwrap().push(code.to_owned());
        Ok(())
    }
}

/// A French citizen born in Milan with the register's record `n`, registered there on `born`
/// and, when `left` is given, gone abroad that day (tab. 15 code 5); then logged in through
/// eIDAS and validated with the record's codice fiscale. Returns the EU principal.
async fn former_resident(h: &Harness, s: &Setup, n: u64, born: &str, left: Option<&str>) -> Principal {
    use anagrafe_domain::eu::{Declared, EidasId, EidasPerson};
    let france = anagrafe_domain::RefData::current().stati().iter().find(|x| x.iso3.as_deref() == Some("FRA")).unwrap().code;
    let issuer = IdIssuer { generator: IdGenerator::new(&[5u8; 16]), key_version: 1, high_water: None };
    let registry = Registry::new(h.store.clone(), Some(Arc::new(issuer)), s.clock.clone());
    let mut reg = anagrafe_testkit::registration(n, "F205", "F205", d(born));
    reg.citizenships = vec![anagrafe_domain::Country::Foreign(france)];
    let (surname, given, sex) = (reg.name.surname().unwrap().to_owned(), reg.name.given().unwrap().to_owned(), reg.sex);
    let w = registry.apply(&s.office, Operation::Register(Box::new(reg)), &ClientOpId::parse(&format!("reg-{n}")).unwrap()).await.unwrap();
    if let Some(left) = left {
        let cancellation =
            anagrafe_domain::ops::Cancellation { reason: 5, reason_description: None, effective_date: d(left), death: None, abroad: None };
        let op = Operation::Cancel { person: w.applied.id_anpr.unwrap(), cancellation };
        registry.apply(&s.office, op, &ClientOpId::parse(&format!("left-{n}")).unwrap()).await.unwrap();
    }
    let eidas = format!("FR/IT/{n:010}");
    let codes = Arc::new(Codes::default());
    let agency = Arc::new(anagrafe_service::cases::LocalTaxRegistry::new(h.store.clone()));
    let desk = anagrafe_service::cases::EuDesk::new(h.store.clone(), s.clock.clone(), agency, codes.clone());
    let person = EidasPerson { id: EidasId::parse(&eidas).unwrap(), family_name: surname, given_name: given, birth_date: d(born) };
    desk.logged_in(&person).await.unwrap();
    let who = Principal::eu_citizen(&eidas, None, "oidc:eidas", 2, format!("req-eu-{n}"));
    let declared = Declared {
        codice_fiscale: Some(anagrafe_domain::CodiceFiscale::parse(&w.applied.codice_fiscale.clone().unwrap()).unwrap()),
        sex,
        birth_place: anagrafe_domain::BirthPlace::Comune { code: Belfiore::parse("F205").unwrap() },
        email: anagrafe_domain::text::EmailAddress::new(&format!("former{n}@example.eu")).unwrap(),
    };
    desk.declare(&who, declared).await.unwrap();
    let code = codes.0.lock().unwrap().last().unwrap().clone();
    assert!(desk.confirm(&who, &code).await.unwrap().validated);
    who
}

async fn a_former_resident_logged_in_through_eidas_gets_the_own_birth_certificate_if_held_after_the_subentro(h: &Harness) {
    let s = setup(h).await;
    let milan =
        anagrafe_domain::refdata::subentro::subentro(&anagrafe_domain::RefData::current(), Belfiore::parse("F205").unwrap()).unwrap();
    assert!(milan.estimated && milan.date < d("2022-01-01"));
    let birth = |person| CertificateRequest { person, kinds: kinds(&[1]), reference_date: None, lang: None };
    let stamp = Stamp::Exempt { code: 3, description: None };

    // Left in 2026, after Milan joined: the birth certificate, sealed, about them alone.
    let eligible = former_resident(h, &s, 31, "1990-04-02", Some("2026-05-01")).await;
    let person = s.certs.own_person(&eligible).await.unwrap();
    s.certs.check(&eligible, &birth(person)).await.unwrap();
    let (meta, pdf) = s.certs.issue(&eligible, &birth(person), &stamp).await.unwrap();
    assert_eq!(meta.types, vec![1]);
    assert!(anagrafe_docs::verify::verify_pdf(&pdf, None).unwrap().ok());
    assert_eq!(s.certs.list(&eligible, None).await.unwrap().len(), 1);
    assert_eq!(s.certs.download(&eligible, &meta.id).await.unwrap().1, pdf);
    // Only the birth certificate; never someone else's.
    let other = s.certs.issue(&eligible, &CertificateRequest { kinds: kinds(&[8]), ..birth(person) }, &stamp).await.unwrap_err();
    assert!(matches!(other, ServiceError::NotCertifiable { code: "UE003", .. }), "{other:?}");
    let not_theirs = s.certs.check(&eligible, &birth(s.person)).await.unwrap_err();
    assert!(matches!(not_theirs, ServiceError::Forbidden(_)), "{not_theirs:?}");

    // Left in 2015, before any comune joined: refused with ANPR's code, traced.
    let early = former_resident(h, &s, 32, "1980-01-10", Some("2015-06-01")).await;
    let person = s.certs.own_person(&early).await.unwrap();
    let refused = s.certs.issue(&early, &birth(person), &stamp).await.unwrap_err();
    assert!(matches!(refused, ServiceError::NotCertifiable { code: "EN106", .. }), "{refused:?}");

    // Still in the register: the reserved area is the way.
    let resident = former_resident(h, &s, 33, "1985-07-01", None).await;
    let person = s.certs.own_person(&resident).await.unwrap();
    let refused = s.certs.check(&resident, &birth(person)).await.unwrap_err();
    assert!(matches!(refused, ServiceError::NotCertifiable { code: "UE001", .. }), "{refused:?}");

    // An EU session without a completed validation obtains nothing.
    let stranger = Principal::eu_citizen("DE/IT/0000000001", None, "oidc:eidas", 2, "req-x".into());
    assert!(matches!(s.certs.own_person(&stranger).await, Err(ServiceError::State { .. })));

    // Every entry of the EU sessions names the eIDAS identifier.
    let trace = h.store.audit_entries(0, 1000).await.unwrap();
    let eu: Vec<_> = trace.iter().filter(|e| e.entry.actor.starts_with("eidas:")).collect();
    assert!(eu.iter().any(|e| e.entry.operation == "certificate.issue" && e.entry.outcome == "ok"));
    assert!(eu.iter().any(|e| e.entry.outcome == "refused:EN106"));
    assert!(eu.iter().all(|e| e.entry.eidas_id.as_deref() == e.entry.actor.strip_prefix("eidas:")), "{eu:?}");

    // Checked by an independent validator when the tools are at hand (.ci/run).
    if std::env::var_os("ANAGRAFE_TEST_PDF_TOOLS").is_some() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("birth.pdf"), &pdf).unwrap();
        std::fs::write(dir.path().join("ca.pem"), &pki().2).unwrap();
        let out = std::process::Command::new("pyhanko")
            .args(["sign", "validate", "--executive-summary", "--trust-replace", "--trust", "ca.pem", "--no-revocation-check", "birth.pdf"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains(":VALID"), "pyHanko on the birth certificate: {text}");
    }
}
