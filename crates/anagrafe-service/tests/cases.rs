//! Citizens' requests as cases on both backends (issue 20: CIT-9, EU-1, EU-2, EU-4, EU-5): an EU
//! citizen refused with the reasons, then validated by the e-mail code; a registration request
//! drafted, completed and submitted; the comune's desk verifying, starting and accepting it,
//! which registers the family; the steps idempotent and competence-checked; every trace entry of
//! the EU citizen carrying the eIDAS identifier.

#[macro_use]
#[path = "../../anagrafe-store/tests/common/mod.rs"]
mod common;
use common::Harness;

use anagrafe_domain::case::{CaseAction, CaseState, Evidence, Grounds};
use anagrafe_domain::eu::{Declared, EidasId, EidasPerson, Member, RegistrationRequest};
use anagrafe_domain::person::BirthPlace;
use anagrafe_domain::refdata::RefData;
use anagrafe_domain::text::{EmailAddress, Line};
use anagrafe_domain::{Belfiore, CfInput, CodiceFiscale, IdGenerator, PersonName, Sex};
use anagrafe_service::cases::{CaseDesk, CodeMailer, EuDesk, LocalTaxRegistry, Upload};
use anagrafe_service::{ClientOpId, FakeClock, Principal, Registry, ServiceError, ServiceResult};
use anagrafe_store::{IdIssuer, TraceQuery};
use chrono::NaiveDate;
use std::sync::{Arc, Mutex};

conformance!(
    an_eu_citizen_is_refused_with_the_reasons_then_validated_by_the_code,
    a_registration_is_drafted_submitted_worked_and_accepted_registering_the_family,
    the_adults_declaration_is_refused_when_tampered_and_a_digital_signature_after_a_handwritten_one_is_not_applied,
    an_eu_resident_applies_for_the_additional_lists_and_the_electoral_office_enrols_them,
);

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn b(s: &str) -> Belfiore {
    Belfiore::parse(s).unwrap()
}

#[derive(Debug, Default)]
struct Codes(Mutex<Vec<(String, String)>>, Mutex<Vec<(String, String, bool)>>);

#[async_trait::async_trait]
impl CodeMailer for Codes {
    async fn send_code(&self, to: &str, code: &str) -> ServiceResult<()> {
        self.0.lock().unwrap().push((to.to_owned(), code.to_owned()));
        Ok(())
    }

    async fn send_letter(&self, to: &str, subject: &str, _text: &str, pdf: Option<(&str, &[u8])>) -> ServiceResult<()> {
        assert!(pdf.is_none_or(|(_, b)| b.starts_with(b"%PDF")));
        self.1.lock().unwrap().push((to.to_owned(), subject.to_owned(), pdf.is_some()));
        Ok(())
    }
}

const EIDAS: &str = "FR/IT/1234567890";

fn marie() -> EidasPerson {
    EidasPerson {
        id: EidasId::parse(EIDAS).unwrap(),
        family_name: "Dupont".into(),
        given_name: "Marie".into(),
        birth_date: d("1990-04-02"),
    }
}

fn who() -> Principal {
    Principal::eu_citizen(EIDAS, None, "oidc:eidas", 2, "req-eu".into())
}

fn state(name: &str) -> Belfiore {
    RefData::current().stati().iter().find(|s| s.iso3.as_deref() == Some(name)).unwrap().code
}

fn declared(cf: Option<CodiceFiscale>, sex: Sex) -> Declared {
    Declared {
        codice_fiscale: cf,
        sex,
        birth_place: BirthPlace::Abroad { state: state("FRA"), locality: None },
        email: EmailAddress::new("marie.dupont@example.eu").unwrap(),
    }
}

fn right_cf() -> CodiceFiscale {
    CodiceFiscale::compute(&CfInput {
        surname: "Dupont",
        name: "Marie",
        sex: Sex::F,
        birth_date: d("1990-04-02"),
        birth_place: state("FRA"),
    })
}

async fn validated(h: &Harness, clock: &Arc<FakeClock>) -> EuDesk {
    let codes = Arc::new(Codes::default());
    let desk = EuDesk::new(h.store.clone(), clock.clone(), Arc::new(LocalTaxRegistry::new(h.store.clone())), codes.clone());
    desk.logged_in(&marie()).await.unwrap();
    desk.declare(&who(), declared(None, Sex::F)).await.unwrap();
    let code = codes.0.lock().unwrap().last().unwrap().1.clone();
    assert!(desk.confirm(&who(), &code).await.unwrap().validated);
    desk
}

async fn an_eu_citizen_is_refused_with_the_reasons_then_validated_by_the_code(h: &Harness) {
    let clock = Arc::new(FakeClock::on(d("2026-12-07")));
    let codes = Arc::new(Codes::default());
    let desk = EuDesk::new(h.store.clone(), clock.clone(), Arc::new(LocalTaxRegistry::new(h.store.clone())), codes.clone());
    assert!(!desk.logged_in(&marie()).await.unwrap().validated);
    // A codice fiscale of a man: refused on that part, traced with the eIDAS identifier.
    let man = CodiceFiscale::compute(&CfInput {
        sex: Sex::M,
        ..CfInput { surname: "Dupont", name: "Marie", sex: Sex::F, birth_date: d("1990-04-02"), birth_place: state("FRA") }
    });
    let err = desk.declare(&who(), declared(Some(man), Sex::F)).await.unwrap_err();
    let ServiceError::Invalid(errs) = err else { panic!("{err:?}") };
    assert!(errs.iter().any(|e| e.field == "codice_fiscale" && e.reason.get("part") == Some("sex")), "{errs:?}");
    assert!(codes.0.lock().unwrap().is_empty(), "no code is sent for refused data");
    // The right code: a code is mailed; a wrong one counts down, the right one validates.
    let s = desk.declare(&who(), declared(Some(right_cf()), Sex::F)).await.unwrap();
    assert!(s.code_pending && !s.validated);
    let (to, code) = codes.0.lock().unwrap().last().unwrap().clone();
    assert_eq!(to, "marie.dupont@example.eu");
    let wrong = if code == "000000" { "000001" } else { "000000" };
    assert!(matches!(desk.confirm(&who(), wrong).await, Err(ServiceError::Refused { .. })));
    assert!(desk.confirm(&who(), &code).await.unwrap().validated);
    // A later login with other eIDAS data asks for the validation again.
    let older = EidasPerson { birth_date: d("1990-04-03"), ..marie() };
    assert!(!desk.logged_in(&older).await.unwrap().validated);
    // Every entry of the EU citizen names the eIDAS identifier.
    let q = TraceQuery { actor: Some(format!("eidas:{EIDAS}")), ..TraceQuery::default() };
    let entries = h.store.audit_search(&q, i64::MAX, 100).await.unwrap();
    assert!(entries.len() >= 4, "{}", entries.len());
    assert!(entries.iter().all(|e| e.entry.eidas_id.as_deref() == Some(EIDAS)));
    assert!(entries.iter().any(|e| e.entry.operation == "eu.validation" && e.entry.outcome == "refused"));
}

fn member(surname: &str, given: &str, sex: Sex, born: &str, relation: u16) -> Member {
    Member {
        name: PersonName::new(Some(surname), Some(given)).unwrap(),
        sex,
        birth_date: d(born),
        birth_place: BirthPlace::Abroad { state: state("FRA"), locality: None },
        citizenship: state("FRA"),
        codice_fiscale: None,
        relation,
        signature: None,
    }
}

fn request() -> RegistrationRequest {
    RegistrationRequest {
        members: vec![member("Dupont", "Marie", Sex::F, "1990-04-02", 1), member("Dupont", "Louis", Sex::M, "2019-09-10", 3)],
        comune: b("H501"),
        species: Line::new("VIA").unwrap(),
        street: Line::new("dei Serpenti").unwrap(),
        civic: Some(Line::new("12").unwrap()),
        arrival_date: d("2026-11-20"),
        provenance: state("FRA"),
        grounds: Grounds::Worker,
    }
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

async fn a_registration_is_drafted_submitted_worked_and_accepted_registering_the_family(h: &Harness) {
    let clock = Arc::new(FakeClock::on(d("2026-12-07")));
    validated(h, &clock).await;
    let issuer = IdIssuer { generator: IdGenerator::new(&[7u8; 16]), key_version: 1, high_water: None };
    let registry = Registry::new(h.store.clone(), Some(Arc::new(issuer)), clock.clone());
    let letters = Arc::new(Codes::default());
    let cases = CaseDesk::new(h.store.clone(), clock.clone(), registry).with_mailer(letters.clone());
    // Not the person who logged in: refused on the member.
    let mut other = request();
    other.members[0].birth_date = d("1991-04-02");
    let ServiceError::Invalid(errs) = cases.start_registration(&who(), other).await.unwrap_err() else { panic!() };
    assert!(errs.iter().any(|e| e.field == "members[0]"));
    let id = cases.start_registration(&who(), request()).await.unwrap();
    let up = |evidence, member: Option<u16>, bytes: &[u8]| Upload { evidence, member, filename: "doc.pdf".into(), bytes: bytes.to_vec() };
    // Hostile or needless files are refused on their field, and nothing is kept.
    let e = cases.attach(&who(), id, up(Evidence::Employment, None, b"MZ\x90\x00 not a pdf")).await.unwrap_err();
    assert!(matches!(&e, ServiceError::Refused { field, reason } if field == "file" && reason.key() == "file-type"), "{e:?}");
    let e = cases.attach(&who(), id, up(Evidence::Enrolment, None, PDF)).await.unwrap_err();
    assert!(matches!(&e, ServiceError::Refused { field, .. } if field == "evidence"), "{e:?}");
    for (evidence, m) in [(Evidence::IdentityDocument, Some(0)), (Evidence::IdentityDocument, Some(1)), (Evidence::Employment, None)] {
        cases.attach(&who(), id, up(evidence, m, PDF)).await.unwrap();
    }
    // The child's family relationship is missing: not submitted.
    let e = cases.submit(&who(), id).await.unwrap_err();
    assert!(matches!(&e, ServiceError::State { field, .. } if field == "documents"), "{e:?}");
    // This identity is no demo one: the once-only system has nothing; attached instead.
    let e = cases.fetch_once_only(&who(), id, Evidence::FamilyRelationship, Some(1)).await.unwrap_err();
    assert!(matches!(&e, ServiceError::State { reason, .. } if reason.key() == "case-once-only-none"), "{e:?}");
    cases.attach(&who(), id, up(Evidence::FamilyRelationship, Some(1), PDF)).await.unwrap();
    assert!(matches!(cases.receipt(&who(), id).await, Err(ServiceError::State { .. })), "no receipt before submission");
    let protocol = cases.submit(&who(), id).await.unwrap();
    assert_eq!(protocol.to_string(), "H501/2026/0000001");
    // The receipt: the same PDF for the applicant and the comune, every time.
    let receipt = cases.receipt(&who(), id).await.unwrap();
    assert!(receipt.starts_with(b"%PDF"));
    assert!(cases.attach(&who(), id, up(Evidence::Employment, None, PDF)).await.is_err(), "a submitted case takes no more files");
    // The comune's desk: Rome's officer sees it; Milan's does not; a citizen has no desk.
    let rome = Principal::registry_officer("mrossi", b("H501"), "password_totp", "req-o".into());
    let milan = Principal::registry_officer("lbianchi", b("F205"), "password_totp", "req-m".into());
    assert_eq!(cases.list(&rome, vec![], 50).await.unwrap().len(), 1);
    assert!(cases.list(&milan, vec![], 50).await.unwrap().is_empty());
    assert!(matches!(cases.file(&milan, id).await, Err(ServiceError::NotFound(_))));
    assert!(matches!(cases.list(&who(), vec![], 50).await, Err(ServiceError::Forbidden(_))));
    let v = cases.file(&rome, id).await.unwrap();
    assert_eq!((v.file.case.state, v.file.documents.len(), v.missing()), (CaseState::Submitted, 4, 0));
    assert_eq!(v.file.case.due_on, Some(d("2027-01-21")));
    // The procedure starts only once every document is verified.
    let e = cases.step(&rome, id, CaseAction::StartProcedure, "", None).await.unwrap_err();
    assert!(matches!(&e, ServiceError::State { reason, .. } if reason.key() == "case-documents-unverified"), "{e:?}");
    for doc in &v.file.documents {
        cases.step(&rome, id, CaseAction::VerifyDocument { document: doc.id, valid: true }, "conforme", None).await.unwrap();
    }
    assert!(matches!(cases.communication(&who(), id).await, Err(ServiceError::NotFound(_))), "not started yet");
    let op = ClientOpId::parse("avvio-1").unwrap();
    let first = cases.step(&rome, id, CaseAction::StartProcedure, "", Some(&op)).await.unwrap();
    let again = cases.step(&rome, id, CaseAction::StartProcedure, "", Some(&op)).await.unwrap();
    assert_eq!((first.0, first.1), (again.0.clone(), false));
    assert!(again.1, "the same operation id answers the same step, as a replay");
    // The start communication: on both sides, e-mailed once (not again on the replay) with the PDF.
    assert!(cases.communication(&who(), id).await.unwrap().starts_with(b"%PDF"));
    assert_eq!(cases.communication(&rome, id).await.unwrap(), cases.communication(&who(), id).await.unwrap());
    assert!(matches!(cases.receipt(&milan, id).await, Err(ServiceError::NotFound(_))), "another comune's");
    let sent = letters.1.lock().unwrap().clone();
    assert_eq!(sent, vec![("marie.dupont@example.eu".to_owned(), "Avvio del procedimento - richiesta H501/2026/0000001".to_owned(), true)]);
    assert!(matches!(cases.step(&rome, id, CaseAction::Reject, "", None).await, Err(ServiceError::State { .. })), "reasons required");
    cases.step(&rome, id, CaseAction::Accept, "", Some(&ClientOpId::parse("accolta-1").unwrap())).await.unwrap();
    // The family is registered: mother and child, in one family in Rome, from France.
    let own = cases.own(&who(), id).await.unwrap();
    assert_eq!(own.file.case.state, CaseState::Accepted);
    assert_eq!(own.file.steps.iter().map(|s| s.action.as_str()).collect::<Vec<_>>().first(), Some(&"submit"));
    let profile = h.store.eu_profile(EIDAS).await.unwrap().unwrap();
    let pid = profile.person_id.expect("the applicant's record is linked to the eIDAS identity");
    let view = h.store.person(pid, None).await.unwrap();
    assert!(view.record.id_anpr.is_some());
    assert_eq!(view.record.generalita.name.surname(), Some("Dupont"));
    assert!(matches!(cases.step(&rome, id, CaseAction::Note, "late", None).await, Err(ServiceError::State { .. })));
    // The outcome went to the applicant.
    let sent = letters.1.lock().unwrap().clone();
    assert_eq!(sent.last().map(|l| (l.1.as_str(), l.2)), Some(("Esito della richiesta H501/2026/0000001", false)));
    assert_eq!(cases.receipt(&rome, id).await.unwrap(), receipt, "the receipt does not change with the case");
    // The applicant's entries all carry the eIDAS identifier.
    let q = TraceQuery { actor: Some(format!("eidas:{EIDAS}")), ..TraceQuery::default() };
    let entries = h.store.audit_search(&q, i64::MAX, 100).await.unwrap();
    assert!(entries.iter().any(|e| e.entry.operation == "case.submit"));
    assert!(entries.iter().all(|e| e.entry.eidas_id.as_deref() == Some(EIDAS)));
}

async fn the_adults_declaration_is_refused_when_tampered_and_a_digital_signature_after_a_handwritten_one_is_not_applied(h: &Harness) {
    let clock = Arc::new(FakeClock::on(d("2026-12-07")));
    validated(h, &clock).await;
    let pki = anagrafe_docs::SealIdentity::generate("Marie Dupont", chrono::Utc::now()).unwrap();
    let marie = anagrafe_docs::SealIdentity::from_pem(&pki.seal_key_pem, &pki.chain_pem).unwrap();
    let registry = Registry::new(h.store.clone(), None, clock.clone());
    let cases = CaseDesk::new(h.store.clone(), clock.clone(), registry).with_trust(vec![pki.ca_cert_pem.clone()]);
    let mut r = request();
    r.members[0].signature = Some(anagrafe_domain::eu::SignatureWay::Digital);
    let mut spouse = member("Durand", "Paul", Sex::M, "1988-07-21", 2);
    spouse.signature = Some(anagrafe_domain::eu::SignatureWay::Handwritten);
    r.members[1] = spouse;
    let id = cases.start_registration(&who(), r).await.unwrap();
    let v = cases.own(&who(), id).await.unwrap();
    assert!(v.checklist.iter().any(|(q, _)| q.evidence == Evidence::SignedDeclaration), "two adults sign the declaration");
    let lines = ["Dichiarazione anagrafica", "I sottoscritti dichiarano di aver trasferito la dimora abituale."];
    let scan = [128u8, 64, 64, 128];
    let up = |bytes: Vec<u8>| Upload { evidence: Evidence::SignedDeclaration, member: None, filename: "dichiarazione.pdf".into(), bytes };
    // Paul's handwritten signature (a scan) first, then Marie's digital one: both count.
    let good = marie.seal(&anagrafe_docs::form::text_pdf(&lines, Some((2, 2, &scan))), chrono::Utc::now(), "Dichiarazione", &[]).unwrap();
    // The same file changed after signing: refused on the field, nothing kept.
    let mut tampered = good.clone();
    let at = tampered.windows(9).position(|w| w == b"dimora ab").unwrap();
    tampered[at] = b'D';
    let e = cases.attach(&who(), id, up(tampered)).await.unwrap_err();
    assert!(matches!(&e, ServiceError::Refused { field, reason } if field == "file" && reason.key() == "file-signature-broken"), "{e:?}");
    assert!(cases.own(&who(), id).await.unwrap().file.documents.is_empty());
    // Marie signed digitally first, Paul's scan was added after: her signature is not applied.
    let mut late = marie.seal(&anagrafe_docs::form::text_pdf(&lines, None), chrono::Utc::now(), "Dichiarazione", &[]).unwrap();
    late.extend_from_slice(b"\n90 0 obj\n<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 1 >>\nstream\n\x80\nendstream\nendobj\n%%EOF\n");
    let late_id = cases.attach(&who(), id, up(late)).await.unwrap();
    // Every other document there: still not submitted, as Marie chose to sign digitally and
    // no signature that counts bears her name.
    for (q, _) in
        cases.own(&who(), id).await.unwrap().checklist.iter().filter(|(q, d)| d.is_empty() && q.evidence != Evidence::SignedDeclaration)
    {
        let doc = Upload { evidence: q.evidence, member: q.member, filename: "doc.pdf".into(), bytes: PDF.to_vec() };
        cases.attach(&who(), id, doc).await.unwrap();
    }
    let e = cases.submit(&who(), id).await.unwrap_err();
    assert!(
        matches!(&e, ServiceError::State { reason, .. } if reason.key() == "case-signature-missing" && reason.get("name") == Some("Marie Dupont")),
        "{e:?}"
    );
    let good_id = cases.attach(&who(), id, up(good)).await.unwrap();
    cases.submit(&who(), id).await.unwrap();
    let docs = cases.own(&who(), id).await.unwrap().file.documents;
    let found = |doc: i64| -> Vec<anagrafe_docs::verify::SignatureCheck> {
        serde_json::from_str(docs.iter().find(|d| d.id == doc).unwrap().signatures.as_deref().unwrap()).unwrap()
    };
    let late = found(late_id);
    assert!(late.len() == 1 && !late[0].applied && late[0].content_added_after, "{late:?}");
    let good = found(good_id);
    assert!(good.len() == 1 && good[0].applied && good[0].signer.contains("Marie Dupont"), "{good:?}");
}

#[tokio::test]
async fn the_local_once_only_system_answers_for_the_demo_identities_only() {
    use anagrafe_service::cases::{LocalOnceOnly, OnceOnly};
    let demo = EidasId::parse("DE/IT/8f3b2c9d71").unwrap();
    let system = LocalOnceOnly::new(vec!["DE/IT/8f3b2c9d71".into()]);
    let found = system.fetch(&demo, Evidence::Employment, "Anna Schmidt").await.unwrap().unwrap();
    assert_eq!(anagrafe_domain::case::sniff(&found.bytes), Ok(anagrafe_domain::case::MediaType::Pdf));
    assert!(system.fetch(&demo, Evidence::IdentityDocument, "Anna Schmidt").await.unwrap().is_none());
    assert!(system.fetch(&EidasId::parse(EIDAS).unwrap(), Evidence::Employment, "Marie").await.unwrap().is_none());
}

async fn an_eu_resident_applies_for_the_additional_lists_and_the_electoral_office_enrols_them(h: &Harness) {
    use anagrafe_domain::electoral::{AdditionalList, ElectoralData, Section};
    use anagrafe_domain::eu::ListApplication;
    let clock = Arc::new(FakeClock::on(d("2026-12-07")));
    let issuer = IdIssuer { generator: IdGenerator::new(&[8u8; 16]), key_version: 1, high_water: None };
    let registry = Registry::new(h.store.clone(), Some(Arc::new(issuer)), clock.clone());
    let office = Principal::registry_officer("mrossi", b("H501"), "password_totp", "req-o".into());
    let mut reg = anagrafe_testkit::registration(41, "H501", "H501", d("1990-01-01"));
    reg.citizenships = vec![anagrafe_domain::Country::Foreign(state("FRA"))];
    let w = registry
        .apply(&office, anagrafe_domain::ops::Operation::Register(Box::new(reg)), &ClientOpId::parse("reg-41").unwrap())
        .await
        .unwrap();
    let cf = w.applied.codice_fiscale.clone().unwrap();
    let pid = h.store.find_by_cf(&CodiceFiscale::parse(&cf).unwrap(), None).await.unwrap()[0];
    let who = Principal::citizen(&cf, "oidc:spid", 2, "req-c".into());
    let cases = CaseDesk::new(h.store.clone(), clock.clone(), registry);
    let app = ListApplication {
        lists: vec![AdditionalList::EuMunicipal, AdditionalList::EuEuropean],
        citizenship: state("FRA"),
        home_address: Line::new("12 rue de la Paix, Paris").unwrap(),
        home_constituency: Some(Line::new("Paris").unwrap()),
        not_deprived: true,
        vote_only_in_italy: false,
    };
    // The European Parliament's list needs the declaration to vote in Italy only; a citizenship
    // the record does not hold is refused.
    let ServiceError::Invalid(errs) = cases.apply_for_lists(&who, app.clone()).await.unwrap_err() else { panic!() };
    assert_eq!(errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), vec!["vote_only_in_italy"]);
    let german = ListApplication { citizenship: state("DEU"), vote_only_in_italy: true, ..app.clone() };
    let ServiceError::Invalid(errs) = cases.apply_for_lists(&who, german).await.unwrap_err() else { panic!() };
    assert_eq!(errs[0].field, "citizenship");
    let app = ListApplication { vote_only_in_italy: true, ..app };
    let (id, protocol) = cases.apply_for_lists(&who, app.clone()).await.unwrap();
    assert!(protocol.to_string().starts_with("H501/2026/"));
    let again = cases.apply_for_lists(&who, app).await.unwrap_err();
    assert!(matches!(&again, ServiceError::State { reason, .. } if reason.key() == "eu-lists-pending"), "{again:?}");
    // The electoral office decides; the registry office does not see it.
    assert!(cases.list(&office, vec![], 50).await.unwrap().is_empty());
    let electoral = Principal::electoral_officer("gverdi", b("H501"), "password_totp", "req-e".into());
    assert_eq!(cases.list(&electoral, vec![], 50).await.unwrap().len(), 1);
    cases.step(&electoral, id, CaseAction::StartProcedure, "", None).await.unwrap();
    // Not yet an elector with a section: the acceptance waits, and nothing changed.
    let e = cases.step(&electoral, id, CaseAction::Accept, "", None).await.unwrap_err();
    assert!(matches!(&e, ServiceError::State { reason, .. } if reason.key() == "eu-lists-section"), "{e:?}");
    assert_eq!(cases.file(&electoral, id).await.unwrap().file.case.state, CaseState::InProgress);
    let section = Section { number: 12, seat_name: "Scuola Mazzini".into(), seat_address: "Via Merulana 10".into() };
    let data = ElectoralData { elector: true, section: Some(section), ..ElectoralData::not_elector() };
    h.store.save_electoral_data(pid, "H501", &data, &electoral.entry("electoral.save", "ok")).await.unwrap();
    cases.step(&electoral, id, CaseAction::Accept, "", None).await.unwrap();
    let kept = h.store.electoral_data(pid).await.unwrap().unwrap().data;
    assert_eq!(kept.additional_lists, vec![AdditionalList::EuMunicipal, AdditionalList::EuEuropean]);
    assert_eq!(cases.own(&who, id).await.unwrap().file.case.state, CaseState::Accepted);
}
