//! Registry extracts on both backends (issue 19: VIS-2, VIS-5, VIS-6, VIS-8, VIS-11): who gets
//! what at once, what waits for a mediator and what silence approves, the protocol numbers
//! without gaps under concurrent issues, the alarms, and a public-security user's requests kept
//! out of monitoring.

#[macro_use]
#[path = "../../anagrafe-store/tests/common/mod.rs"]
mod common;
use common::Harness;

use anagrafe_domain::extract::{Approval, Criterion, ExtractType, OrganisationKind, RequestState};
use anagrafe_domain::ops::Operation;
use anagrafe_domain::{Belfiore, IdGenerator, Role};
use anagrafe_service::extracts::{Alarm, ExtractDesk, ExtractSettings, Requester};
use anagrafe_service::{ClientOpId, FakeClock, Principal, Registry, ServiceError};
use anagrafe_store::{ExtractFilter, ExtractOrg, IdIssuer};
use chrono::{NaiveDate, TimeZone};
use std::sync::Arc;

conformance!(
    offices_get_their_own_at_once_others_after_a_mediator_or_by_silence,
    an_external_body_gets_the_comune_only_of_a_non_resident,
    protocol_numbers_stay_gapless_and_unique_under_concurrent_issues,
    night_requests_and_many_on_one_subject_raise_alarms_but_public_security_stays_out,
    the_extract_is_a_sealed_pdf_made_once_from_the_data_kept_at_issue,
    top_manages_every_user_of_the_comune_and_an_admin_only_their_own_area,
    the_bulletin_board_shows_public_messages_to_all_and_private_ones_to_their_reader,
    the_day_is_mailed_to_top_and_mediators_and_each_alarm_once_to_top,
    the_archive_and_the_accounting_are_files_within_each_scope,
);

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn b(s: &str) -> Belfiore {
    Belfiore::parse(s).unwrap()
}

/// A person born in Rome and resident in `residence`: their codice fiscale.
async fn person(h: &Harness, n: u64, residence: &str) -> String {
    let clock = Arc::new(FakeClock::on(d("2026-06-01")));
    let issuer = IdIssuer { generator: IdGenerator::new(&[9u8; 16]), key_version: 1, high_water: None };
    let reg = Registry::new(h.store.clone(), Some(Arc::new(issuer)), clock);
    let who = Principal::comune_client("test", Some(b(residence)), format!("req-{n}"));
    let op = Operation::Register(Box::new(anagrafe_testkit::registration(n, "H501", residence, d("2026-05-30"))));
    let w = reg.apply(&who, op, &ClientOpId::parse(&format!("birth-{n}")).unwrap()).await.unwrap();
    w.applied.codice_fiscale.unwrap()
}

async fn org(h: &Harness, code: &str, kind: OrganisationKind) -> ExtractOrg {
    let mut o = ExtractOrg {
        id: 0,
        code: code.into(),
        comune: b("H501"),
        name: format!("Ufficio {code}"),
        kind,
        convention_from: Some(d("2026-01-01")),
        convention_to: Some(d("2027-12-31")),
        types: vec![],
    };
    let admin = Principal::system_admin("admin", "password_totp", "req-org".into());
    let desk = ExtractDesk::new(h.store.clone(), Arc::new(FakeClock::on(d("2026-12-07"))), ExtractSettings::default());
    o.id = desk.save_org(&admin, None, &o).await.unwrap();
    o
}

fn desk(h: &Harness, clock: &Arc<FakeClock>) -> ExtractDesk {
    ExtractDesk::new(h.store.clone(), clock.clone(), ExtractSettings { silence_after_ms: 24 * 3_600_000, ..ExtractSettings::default() })
}

async fn user(desk: &ExtractDesk, username: &str, role: Role, org: &ExtractOrg) -> Requester {
    let who = Principal::extract_user(username, role, "password_totp", format!("req-{username}"));
    desk.requester(&who, username, &format!("Utente {username}"), &org.code).await.unwrap()
}

fn by_cf(cf: &str) -> Criterion {
    Criterion::CodiceFiscale { code: cf.into() }
}

fn mediator() -> Principal {
    Principal::registry_officer("mediatore", b("H501"), "password_totp", "req-med".into())
}

/// Italian wall-clock time on 7 December 2026 (UTC+1).
fn at(h: u32, m: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap() - chrono::Duration::hours(1)
}

async fn offices_get_their_own_at_once_others_after_a_mediator_or_by_silence(h: &Harness) {
    let resident = person(h, 1, "H501").await;
    let elsewhere = person(h, 2, "F205").await;
    let pm = org(h, "h501-polizia-municipale", OrganisationKind::MunicipalOffice).await;
    let clock = Arc::new(FakeClock::at(at(10, 0)));
    let desk = desk(h, &clock);
    let agent = user(&desk, "agente", Role::PaStandard, &pm).await;

    // A resident of the comune: issued at once, protocol 1 of the year.
    let a = desk.request(&agent, &by_cf(&resident), ExtractType::Residence, "accertamento di residenza").await.unwrap();
    assert_eq!(a.state, RequestState::Issued);
    assert_eq!(a.protocol.unwrap().to_string(), "H501/2026/0000001");
    // Someone resident elsewhere: the comune named at once, the extract deferred.
    let a = desk.request(&agent, &by_cf(&elsewhere), ExtractType::Residence, "notifica di un verbale").await.unwrap();
    assert_eq!((a.state, a.comune, a.protocol), (RequestState::Pending, Some(b("F205")), None));
    // The mediator approves it: issued with the next number, the mediator on it.
    let med = mediator();
    let pending = desk.pending(&med, true).await.unwrap();
    assert_eq!(pending.iter().map(|r| r.id).collect::<Vec<_>>(), [a.id]);
    assert!(matches!(desk.pending(&med, false).await, Err(ServiceError::Forbidden(_))), "the mediator function is needed");
    let done = desk.decide(&med, true, a.id, true, "").await.unwrap();
    assert_eq!(
        (done.state, done.approval, done.mediator.as_deref()),
        (RequestState::Issued, Some(Approval::ByMediator), Some("mediatore"))
    );
    assert_eq!(done.protocol.unwrap().number, 2);
    assert!(done.content.as_ref().is_some_and(|(json, hash)| json.contains("\"type\":\"residence\"") && hash.len() == 64));
    assert!(desk.decide(&med, true, a.id, true, "").await.is_err(), "decided once");
    // Another, rejected with a note (a rejection needs one), then one left to silence.
    let a = desk.request(&agent, &by_cf(&elsewhere), ExtractType::Birth, "verifica").await.unwrap();
    assert_eq!(desk.decide(&med, true, a.id, false, " ").await.unwrap_err().field_errors()[0].field, "nota");
    let r = desk.decide(&med, true, a.id, false, "finalità non pertinente").await.unwrap();
    assert_eq!((r.state, r.protocol), (RequestState::Rejected, None));
    let waiting = desk.request(&agent, &by_cf(&elsewhere), ExtractType::Citizenship, "verifica").await.unwrap();
    let job = Principal::job("extracts", "req-job".into());
    clock.advance(chrono::Duration::hours(24) - chrono::Duration::seconds(1));
    assert_eq!(desk.approve_by_silence(&job).await.unwrap(), 0, "not yet");
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(desk.approve_by_silence(&job).await.unwrap(), 1, "silence-consent after the configured time");
    let r = h.store.extract_request(waiting.id).await.unwrap().unwrap();
    assert_eq!((r.state, r.approval, r.mediator.as_deref()), (RequestState::Issued, Some(Approval::BySilence), Some("system:silence")));
    assert_eq!(r.protocol.unwrap().number, 3, "no number went to the rejected request");
    // Nobody found: refused on the criterion, nothing recorded.
    let before =
        h.store.extract_requests(&ExtractFilter { include_public_security: true, limit: 100, ..Default::default() }).await.unwrap().len();
    let e = desk.request(&agent, &by_cf("RSSMRA80A01H501U"), ExtractType::Birth, "verifica").await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "criterio");
    let after =
        h.store.extract_requests(&ExtractFilter { include_public_security: true, limit: 100, ..Default::default() }).await.unwrap().len();
    assert_eq!(before, after);
    // A STANDARD user's archive holds their own requests; nobody else's.
    let other = user(&desk, "collega", Role::PaStandard, &pm).await;
    assert_eq!(desk.archive(&other, ExtractFilter::default()).await.unwrap().len(), 0);
    assert_eq!(desk.archive(&agent, ExtractFilter::default()).await.unwrap().len(), 4, "residence, residence, birth, citizenship");
}

async fn an_external_body_gets_the_comune_only_of_a_non_resident(h: &Harness) {
    let resident = person(h, 1, "H501").await;
    let elsewhere = person(h, 2, "F205").await;
    let body = org(h, "consorzio-rifiuti", OrganisationKind::ExternalBody).await;
    let clock = Arc::new(FakeClock::at(at(11, 0)));
    let desk = desk(h, &clock);
    let clerk = user(&desk, "consorzio.1", Role::PaStandard, &body).await;
    let a = desk.request(&clerk, &by_cf(&resident), ExtractType::Residence, "tariffa rifiuti").await.unwrap();
    assert_eq!(a.state, RequestState::Issued);
    let a = desk.request(&clerk, &by_cf(&elsewhere), ExtractType::Residence, "tariffa rifiuti").await.unwrap();
    assert_eq!((a.state, a.comune, a.protocol), (RequestState::ComuneOnly, Some(b("F205")), None));
    assert_eq!(a.why.unwrap().key(), "extract-not-ours-external");
    let bulk = desk.request_bulk(&clerk, &[by_cf(&resident)], ExtractType::Residence, "tariffa").await;
    assert!(matches!(bulk, Err(ServiceError::Forbidden(_))), "no bulk lists for bodies");
    // Out of its convention, nothing at all.
    clock.set(chrono::Utc.with_ymd_and_hms(2028, 1, 2, 10, 0, 0).unwrap());
    assert!(matches!(desk.request(&clerk, &by_cf(&resident), ExtractType::Residence, "tariffa").await, Err(ServiceError::Forbidden(_))));
}

async fn protocol_numbers_stay_gapless_and_unique_under_concurrent_issues(h: &Harness) {
    let resident = person(h, 1, "H501").await;
    let pm = org(h, "h501-servizi-sociali", OrganisationKind::MunicipalOffice).await;
    let clock = Arc::new(FakeClock::at(at(9, 0)));
    let desk = Arc::new(desk(h, &clock));
    let agent = user(&desk, "assistente", Role::PaStandard, &pm).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (desk, agent, cf) = (desk.clone(), agent.clone(), resident.clone());
        tasks.push(tokio::spawn(async move { desk.request(&agent, &by_cf(&cf), ExtractType::FamilyStatus, "contributo").await }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap().unwrap().protocol.unwrap().number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=16).collect::<Vec<i64>>(), "16 issues, numbers 1 to 16, none twice, none skipped");
}

async fn night_requests_and_many_on_one_subject_raise_alarms_but_public_security_stays_out(h: &Harness) {
    let resident = person(h, 1, "H501").await;
    let other = person(h, 2, "H501").await;
    let registry = org(h, "h501-anagrafe", OrganisationKind::Registry).await;
    let pm = org(h, "h501-pm", OrganisationKind::MunicipalOffice).await;
    let clock = Arc::new(FakeClock::at(at(10, 0)));
    let desk = desk(h, &clock);
    let top = user(&desk, "top", Role::PaTop, &registry).await;
    let agent = user(&desk, "agente", Role::PaStandard, &pm).await;
    let police = user(&desk, "ps", Role::PaStandardPs, &pm).await;
    // Five requests on one subject in the day: at the threshold, no alarm.
    for _ in 0..5 {
        desk.request(&agent, &by_cf(&resident), ExtractType::Residence, "controllo").await.unwrap();
    }
    let day = d("2026-12-07");
    assert!(desk.alarms(&top, day).await.unwrap().is_empty());
    // A public-security user's requests neither count nor show.
    clock.set(at(23, 30));
    desk.request(&police, &by_cf(&resident), ExtractType::Residence, "indagine").await.unwrap();
    assert!(desk.alarms(&top, day).await.unwrap().is_empty(), "public security stays out of the alarms");
    // The sixth, at 23:30: both alarms.
    let sixth = desk.request(&agent, &by_cf(&resident), ExtractType::Residence, "controllo").await.unwrap();
    let alarms = desk.alarms(&top, day).await.unwrap();
    assert!(
        alarms.contains(&Alarm::Night { request: sixth.id, requester: "agente".into(), at_ms: at(23, 30).timestamp_millis() }),
        "{alarms:?}"
    );
    assert!(alarms.contains(&Alarm::ManyOnSubject { subject: resident.clone(), count: 6 }), "{alarms:?}");
    assert_eq!(alarms.len(), 2, "{alarms:?}");
    desk.request(&agent, &by_cf(&other), ExtractType::Birth, "controllo").await.unwrap_or_else(|e| panic!("{e}"));
    // TOP's archive leaves the public-security request out; the user's own shows it.
    let seen = desk.archive(&top, ExtractFilter::default()).await.unwrap();
    assert!(seen.iter().all(|r| !r.public_security) && seen.len() == 7, "{}", seen.len());
    assert_eq!(desk.archive(&police, ExtractFilter::default()).await.unwrap().len(), 1);
    // The statistics of the day: public security left out of TOP's; the user's own counted.
    let st = desk.statistics(&top, day, day).await.unwrap();
    assert_eq!((st.issued, st.apr_subjects, st.aire_subjects), (7, 2, 0), "{st:?}");
    assert_eq!(st.by_type, [(ExtractType::Birth, 1), (ExtractType::Residence, 6)]);
    assert_eq!(st.by_org, [("Ufficio h501-pm".to_owned(), 7)]);
    assert_eq!(desk.statistics(&police, day, day).await.unwrap().issued, 1);
    assert!(desk.statistics(&top, day, day.pred_opt().unwrap()).await.is_err(), "a period that ends before it starts");
    // Only TOP users of the registry office see alarms.
    assert!(matches!(desk.alarms(&agent, day).await, Err(ServiceError::Forbidden(_))));
}

/// One seal for the whole test binary (making a CA takes a while).
fn certificates() -> Arc<anagrafe_service::certificates::Certificates> {
    static PKI: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (key, chain) = PKI.get_or_init(|| {
        let pki = anagrafe_docs::SealIdentity::generate("Anagrafe test", chrono::Utc::now()).unwrap();
        (pki.seal_key_pem, pki.chain_pem)
    });
    let seal = anagrafe_docs::SealIdentity::from_pem(key, chain).unwrap();
    Arc::new(anagrafe_service::certificates::Certificates::new(seal, "https://anagrafe.example.it"))
}

/// VIS-10: the extract is a PDF sealed by the register, made on the first download from the data
/// kept when it was issued (a change to the record afterwards does not reach it), the same bytes
/// at every download, for whoever has the request in their archive only; a cancelled subject's
/// extract carries the cancellation; each download is traced.
async fn the_extract_is_a_sealed_pdf_made_once_from_the_data_kept_at_issue(h: &Harness) {
    let resident = person(h, 21, "H501").await;
    let pm = org(h, "h501-pm-doc", OrganisationKind::MunicipalOffice).await;
    let clock = Arc::new(FakeClock::at(at(10, 0)));
    let desk = desk(h, &clock).with_documents(Some(certificates()));
    let agent = user(&desk, "agente-doc", Role::PaStandard, &pm).await;
    let a = desk.request(&agent, &by_cf(&resident), ExtractType::Residence, "accertamento").await.unwrap();
    let (req, pdf, sha) = desk.document(&agent, a.id).await.unwrap();
    assert_eq!(req.protocol, a.protocol);
    assert!(pdf.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/ETSI.CAdES.detached") && text.contains("Visura anagrafica, protocollo H501/2026/"), "sealed by the register");
    assert!(!text.contains("/Subtype /Image"), "no contrassegno");
    // The data kept at issue are in the seal's dictionary: the subject as the register held them.
    let (json, hash) = req.content.clone().unwrap();
    assert!(text.contains(&hex::encode(json.as_bytes())), "the kept data, under the seal");
    assert_eq!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(json.as_bytes())), hash);
    assert_eq!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pdf)), sha);
    // Later downloads: the same bytes, even once the clock moved on.
    clock.advance(chrono::Duration::hours(3));
    let again = desk.document(&agent, a.id).await.unwrap();
    assert_eq!((again.1 == pdf, again.2), (true, sha.clone()));
    // Their organisation's ADMIN has it in the archive; a colleague and another office do not.
    let admin = user(&desk, "capo-doc", Role::PaAdmin, &pm).await;
    assert_eq!(desk.document(&admin, a.id).await.unwrap().1, pdf);
    let colleague = user(&desk, "collega-doc", Role::PaStandard, &pm).await;
    assert!(matches!(desk.document(&colleague, a.id).await, Err(ServiceError::NotFound(_))));
    let ss = org(h, "h501-ss-doc", OrganisationKind::MunicipalOffice).await;
    let ss_admin = user(&desk, "capo-ss-doc", Role::PaAdmin, &ss).await;
    assert!(matches!(desk.document(&ss_admin, a.id).await, Err(ServiceError::NotFound(_))));
    // Each download is traced, with the organisation.
    let trace = h.store.audit_entries(0, 10_000).await.unwrap();
    let downloads = |outcome: &str| trace.iter().filter(|e| e.entry.operation == "extract.download" && e.entry.outcome == outcome).count();
    assert_eq!((downloads("ok"), downloads("refused:not-yours")), (3, 2));

    // A subject cancelled from the register: deferred, and once approved the extract has the
    // cancellation (date and reason of tab. 15).
    let (cf, id) = {
        let clock = Arc::new(FakeClock::on(d("2026-06-01")));
        let issuer = IdIssuer { generator: IdGenerator::new(&[9u8; 16]), key_version: 1, high_water: None };
        let reg = Registry::new(h.store.clone(), Some(Arc::new(issuer)), clock);
        let who = Principal::comune_client("test", Some(b("H501")), "req-22".into());
        let op = Operation::Register(Box::new(anagrafe_testkit::registration(22, "H501", "H501", d("2026-05-30"))));
        let w = reg.apply(&who, op, &ClientOpId::parse("birth-22").unwrap()).await.unwrap();
        let id = w.applied.id_anpr.unwrap();
        let cancel = anagrafe_domain::ops::Cancellation {
            reason: 6,
            reason_description: None,
            effective_date: d("2026-06-01"),
            death: None,
            abroad: None,
        };
        reg.apply(&who, Operation::Cancel { person: id, cancellation: cancel }, &ClientOpId::parse("cancel-22").unwrap()).await.unwrap();
        (w.applied.codice_fiscale.unwrap(), id)
    };
    let _ = id;
    let pending = desk.request(&agent, &by_cf(&cf), ExtractType::Residence, "notifica").await.unwrap();
    assert_eq!(pending.state, RequestState::Pending);
    let e = desk.document(&agent, pending.id).await.unwrap_err();
    assert!(matches!(e, ServiceError::State { .. }), "nothing to download before it is issued: {e:?}");
    desk.decide(&mediator(), true, pending.id, true, "").await.unwrap();
    let (req, pdf, _) = desk.document(&agent, pending.id).await.unwrap();
    let snapshot: anagrafe_service::extracts::ExtractSnapshot = serde_json::from_str(&req.content.unwrap().0).unwrap();
    let cancelled = snapshot.cancelled.expect("the cancellation is kept");
    assert_eq!(cancelled.date, d("2026-06-01"));
    let reason = <anagrafe_domain::decode::MotivoCancellazione as anagrafe_domain::decode::DecodeTable>::from_code(6).unwrap();
    assert_eq!(cancelled.reason, anagrafe_domain::decode::DecodeTable::description(reason));
    assert!(pdf.starts_with(b"%PDF-"));
}

/// VIS-1, VIS-2 (acceptance: an ADMIN cannot manage users of another area): a TOP user of the
/// registry office creates and manages users of any organisation of the comune; an ADMIN only
/// those of their own, never a TOP user; a STANDARD user manages nobody.
async fn top_manages_every_user_of_the_comune_and_an_admin_only_their_own_area(h: &Harness) {
    use anagrafe_service::extracts::{NewUser, UserChange};
    let registry = org(h, "h501-anagrafe-census", OrganisationKind::Registry).await;
    let pm = org(h, "h501-pm-census", OrganisationKind::MunicipalOffice).await;
    let ss = org(h, "h501-ss-census", OrganisationKind::MunicipalOffice).await;
    let clock = Arc::new(FakeClock::at(at(10, 0)));
    let desk = desk(h, &clock);
    let top = user(&desk, "top-census", Role::PaTop, &registry).await;
    let pm_admin = user(&desk, "capo-pm-census", Role::PaAdmin, &pm).await;
    let new = |username: &str, role: Role, org: &ExtractOrg| NewUser {
        username: username.into(),
        display_name: format!("Utente {username}"),
        codice_fiscale: "RSSMRA80A01H501U".into(),
        role,
        org_code: org.code.clone(),
        email: None,
    };
    // The ADMIN of the Polizia Municipale: a STANDARD user of their own office, nothing elsewhere.
    desk.create_user(&pm_admin, &new("agente-census", Role::PaStandard, &pm), "hash".into()).await.unwrap();
    let e = desk.create_user(&pm_admin, &new("assistente-census", Role::PaStandard, &ss), "hash".into()).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "organizzazione");
    let e = desk.create_user(&pm_admin, &new("capo2-census", Role::PaTop, &pm), "hash".into()).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "ruolo");
    // The registry's TOP user: an ADMIN of the social services; a TOP user only in the registry.
    desk.create_user(&top, &new("capo-ss-census", Role::PaAdmin, &ss), "hash".into()).await.unwrap();
    let e = desk.create_user(&top, &new("top2-census", Role::PaTop, &pm), "hash".into()).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "ruolo");
    desk.create_user(&top, &new("top2-census", Role::PaTop, &registry), "hash".into()).await.unwrap();
    // Who sees whom.
    let names = |list: Vec<anagrafe_service::extracts::CensusUser>| list.into_iter().map(|u| u.username).collect::<Vec<_>>();
    assert_eq!(names(desk.users(&pm_admin).await.unwrap()), ["agente-census"]);
    assert_eq!(names(desk.users(&top).await.unwrap()), ["agente-census", "capo-ss-census", "top2-census"]);
    // An ADMIN cannot manage the users of another area, nor a TOP user.
    assert!(matches!(desk.change_user(&pm_admin, "capo-ss-census", UserChange::Suspend).await, Err(ServiceError::NotFound(_))));
    assert!(matches!(desk.change_user(&pm_admin, "top2-census", UserChange::Suspend).await, Err(ServiceError::NotFound(_))));
    assert!(!h.store.operator("capo-ss-census").await.unwrap().unwrap().disabled, "untouched");
    // Their own user: suspended, then reset (second factor cleared, new password to change).
    let o = desk.change_user(&pm_admin, "agente-census", UserChange::Suspend).await.unwrap();
    assert!(o.disabled);
    let o = desk.change_user(&pm_admin, "agente-census", UserChange::Reset { password_hash: "hash2".into() }).await.unwrap();
    assert!(o.must_change_password && o.totp_secret.is_none());
    // The TOP user manages the social services' ADMIN.
    assert!(desk.change_user(&top, "capo-ss-census", UserChange::Suspend).await.unwrap().disabled);
    // A STANDARD user manages nobody.
    let standard = user(&desk, "agente-census", Role::PaStandard, &pm).await;
    assert!(matches!(desk.users(&standard).await, Err(ServiceError::Forbidden(_))));
    assert!(matches!(
        desk.create_user(&standard, &new("x-census", Role::PaStandard, &pm), "h".into()).await,
        Err(ServiceError::Forbidden(_))
    ));
}

/// VIS-9: the registry office's TOP user posts a public message and a private one; every user
/// of the comune reads the public one, only its recipient the private one; an expired or
/// withdrawn message is no longer shown; nobody else posts.
async fn the_bulletin_board_shows_public_messages_to_all_and_private_ones_to_their_reader(h: &Harness) {
    use anagrafe_service::extracts::NewBulletin;
    let registry = org(h, "h501-anagrafe-board", OrganisationKind::Registry).await;
    let pm = org(h, "h501-pm-board", OrganisationKind::MunicipalOffice).await;
    for (name, role, scope) in [("agente-board", "pa_standard", &pm.code), ("collega-board", "pa_standard", &pm.code)] {
        let o = anagrafe_store::Operator {
            username: name.into(),
            display_name: name.into(),
            codice_fiscale: None,
            password_hash: "x".into(),
            must_change_password: false,
            totp_secret: None,
            totp_pending: None,
            totp_last_step: None,
            failed_logins: 0,
            locked_until: None,
            disabled: false,
            roles: vec![anagrafe_store::RoleGrant { role: Role::parse(role).unwrap(), scope: scope.clone(), mediator: false }],
        };
        h.store.save_operator(&o, &anagrafe_store::WriteContext::cli("test")).await.unwrap();
    }
    let clock = Arc::new(FakeClock::at(at(10, 0)));
    let desk = desk(h, &clock);
    let top = user(&desk, "top-board", Role::PaTop, &registry).await;
    let agent = user(&desk, "agente-board", Role::PaStandard, &pm).await;
    let colleague = user(&desk, "collega-board", Role::PaStandard, &pm).await;
    let msg = |title: &str, recipient: Option<&str>, until: Option<NaiveDate>| NewBulletin {
        title: title.into(),
        body: "Testo del messaggio".into(),
        recipient: recipient.map(str::to_owned),
        until,
    };
    desk.post_bulletin(&top, &msg("Manutenzione sabato", None, Some(d("2026-12-07")))).await.unwrap();
    desk.post_bulletin(&top, &msg("Per l'agente", Some("agente-board"), None)).await.unwrap();
    let e = desk.post_bulletin(&top, &msg("A nessuno", Some("sconosciuto"), None)).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "destinatario");
    let e = desk.post_bulletin(&top, &msg(" ", None, None)).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "titolo");
    let e = desk.post_bulletin(&top, &msg("Ieri", None, Some(d("2026-12-06")))).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "fino_al");
    assert!(matches!(desk.post_bulletin(&agent, &msg("Io", None, None)).await, Err(ServiceError::Forbidden(_))));
    let titles = |list: Vec<anagrafe_store::Bulletin>| list.into_iter().map(|b| b.title).collect::<Vec<_>>();
    assert_eq!(titles(desk.bulletins(&agent).await.unwrap()), ["Per l'agente", "Manutenzione sabato"]);
    assert_eq!(titles(desk.bulletins(&colleague).await.unwrap()), ["Manutenzione sabato"]);
    // The next day the first has expired; once withdrawn, the second is gone too.
    clock.advance(chrono::Duration::days(1));
    assert_eq!(titles(desk.bulletins(&colleague).await.unwrap()), Vec::<String>::new());
    let private = desk.all_bulletins(&top).await.unwrap().into_iter().find(|b| b.recipient.is_some()).unwrap();
    desk.withdraw_bulletin(&top, private.id).await.unwrap();
    assert!(desk.bulletins(&agent).await.unwrap().is_empty());
    assert!(matches!(desk.withdraw_bulletin(&top, private.id).await, Err(ServiceError::NotFound(_))), "withdrawn once");
    assert_eq!(desk.all_bulletins(&top).await.unwrap().len(), 2, "the TOP user's list keeps both");
}

/// The e-mails of one outbox: (recipient, message), oldest name first.
fn mails(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut names: Vec<_> = std::fs::read_dir(dir).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let to = text.lines().find_map(|l| l.strip_prefix("To: <")).unwrap_or_default().trim_end_matches('>').to_owned();
            (to, text)
        })
        .collect()
}

async fn the_day_is_mailed_to_top_and_mediators_and_each_alarm_once_to_top(h: &Harness) {
    use anagrafe_service::admin::{AdminDesk, NewOperator};
    use anagrafe_store::RoleGrant;
    let resident = person(h, 1, "H501").await;
    let elsewhere = person(h, 2, "F205").await;
    let registry = org(h, "h501-anagrafe", OrganisationKind::Registry).await;
    let pm = org(h, "h501-pm", OrganisationKind::MunicipalOffice).await;
    let clock = Arc::new(FakeClock::at(at(10, 0)));
    let desk = desk(h, &clock);
    // The recipients: a TOP user of the registry office, a mediator, and a TOP user without an
    // address; a STANDARD user with an address receives nothing.
    let admin = Principal::system_admin("admin", "password_totp", "req-ops".into());
    let accounts = AdminDesk::new(h.store.clone(), clock.clone());
    for (name, role, scope, mediator) in [
        ("capo", Role::PaTop, "h501-anagrafe", false),
        ("vice", Role::PaTop, "h501-anagrafe", false),
        ("mediatore", Role::RegistryOfficer, "H501", true),
        ("agente", Role::PaStandard, "h501-pm", false),
    ] {
        let new = NewOperator {
            username: name.into(),
            display_name: name.into(),
            codice_fiscale: Some("RSSMRA80A01H501U".into()),
            roles: vec![RoleGrant { role, scope: scope.into(), mediator }],
        };
        accounts.create_operator(&admin, &new, "hash".into()).await.unwrap();
    }
    let top = user(&desk, "capo", Role::PaTop, &registry).await;
    for name in ["capo", "mediatore", "agente"] {
        let e = anagrafe_store::AuditEntry::from_ctx(&anagrafe_store::WriteContext::cli("test"), "extract.user_email", "ok");
        h.store.set_operator_email(name, Some(&format!("{name}@comune.test")), 0, &e).await.unwrap();
    }
    assert_eq!(desk.user_email(&top, "capo").await.unwrap().as_deref(), Some("capo@comune.test"));
    let bad = desk.change_user(&top, "vice", anagrafe_service::extracts::UserChange::Email(Some("non è un indirizzo".into()))).await;
    assert_eq!(bad.unwrap_err().field_errors()[0].field, "email");
    assert_eq!(desk.user_email(&top, "vice").await.unwrap(), None, "nothing written");
    let agent = user(&desk, "agente", Role::PaStandard, &pm).await;
    let ps = user(&desk, "agente-ps", Role::PaStandardPs, &pm).await;
    desk.request(&agent, &by_cf(&resident), ExtractType::Residence, "accertamento").await.unwrap();
    desk.request(&ps, &by_cf(&elsewhere), ExtractType::Residence, "indagine").await.unwrap();
    clock.set(at(23, 30));
    let night = desk.request(&agent, &by_cf(&resident), ExtractType::Birth, "verifica").await.unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let mail = anagrafe_service::certificates::MailDelivery::Outbox(outbox.path().to_owned());
    let job = Principal::job("extract-notices", "req-notices".into());
    assert!(desk.send_notices(&agent.principal, &mail, "anagrafe@test").await.is_err(), "the job's, not a user's");
    // 23:31: the night alarm goes to the TOP user with an address, once.
    clock.advance(chrono::Duration::minutes(1));
    let sent = desk.send_notices(&job, &mail, "anagrafe@test").await.unwrap();
    assert_eq!((sent.digests, sent.alarms), (0, 1));
    let m = mails(outbox.path());
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].0, "capo@comune.test");
    assert!(m[0].1.contains(&format!("n. {}", night.id)), "{}", m[0].1);
    assert_eq!(desk.send_notices(&job, &mail, "anagrafe@test").await.unwrap(), Default::default(), "sent once");
    // The next morning: the day before to the TOP user and the mediator, public security left out.
    clock.set(at(7, 0) + chrono::Duration::days(1));
    let sent = desk.send_notices(&job, &mail, "anagrafe@test").await.unwrap();
    assert_eq!((sent.digests, sent.alarms), (1, 0));
    let m = mails(outbox.path());
    let day: Vec<&(String, String)> = m.iter().filter(|(_, text)| text.contains("Visure anagrafiche del")).collect();
    let mut to: Vec<&str> = day.iter().map(|(to, _)| to.as_str()).collect();
    to.sort();
    assert_eq!(to, ["capo@comune.test", "mediatore@comune.test"]);
    assert!(day[0].1.contains(&resident), "the subject is listed");
    assert!(!day[0].1.contains(&elsewhere), "a public-security request is not");
    assert!(day[0].1.contains("visure-H501-2026-12-07.csv"), "with the list attached");
    assert_eq!(desk.send_notices(&job, &mail, "anagrafe@test").await.unwrap(), Default::default(), "the day is mailed once");
    // Each sending is traced.
    let traced = h.store.audit_entries(0, 10_000).await.unwrap();
    assert_eq!(traced.iter().filter(|e| e.entry.operation == "extract.digest_sent").count(), 1);
    assert_eq!(traced.iter().filter(|e| e.entry.operation == "extract.alarm_sent").count(), 1);
}

async fn the_archive_and_the_accounting_are_files_within_each_scope(h: &Harness) {
    use anagrafe_service::extracts::FileFormat;
    let resident = person(h, 1, "H501").await;
    let other = person(h, 2, "H501").await;
    let registry = org(h, "h501-anagrafe", OrganisationKind::Registry).await;
    let pm = org(h, "h501-pm", OrganisationKind::MunicipalOffice).await;
    let ss = org(h, "h501-ss", OrganisationKind::MunicipalOffice).await;
    let clock = Arc::new(FakeClock::at(at(10, 0)));
    let desk = desk(h, &clock);
    let top = user(&desk, "top", Role::PaTop, &registry).await;
    let agent = user(&desk, "agente", Role::PaStandard, &pm).await;
    let social = user(&desk, "assistente", Role::PaStandard, &ss).await;
    desk.request(&agent, &by_cf(&resident), ExtractType::Residence, "=HYPERLINK(\"x\")").await.unwrap();
    desk.request(&social, &by_cf(&other), ExtractType::FamilyStatus, "sostegno; contributo").await.unwrap();
    let csv = |f: anagrafe_service::extracts::ExportFile| String::from_utf8(f.bytes).unwrap();
    let own = csv(desk.archive_file(&agent, ExtractFilter::default(), FileFormat::Csv).await.unwrap());
    assert_eq!(own.lines().count(), 2, "the heading and the agent's one request: {own}");
    assert!(own.contains(&resident) && !own.contains(&other));
    assert!(own.contains("'=HYPERLINK"), "a formula is written as text: {own}");
    let all = csv(desk.archive_file(&top, ExtractFilter::default(), FileFormat::Csv).await.unwrap());
    assert_eq!(all.lines().count(), 3, "{all}");
    assert!(all.contains("\"sostegno; contributo\""), "{all}");
    let one = ExtractFilter { subject: Some(other.clone()), ..ExtractFilter::default() };
    assert_eq!(csv(desk.archive_file(&top, one, FileFormat::Csv).await.unwrap()).lines().count(), 2);
    let families = ExtractFilter { extract_type: Some(ExtractType::FamilyStatus), ..ExtractFilter::default() };
    assert_eq!(desk.archive(&top, families).await.unwrap().len(), 1);
    let pdf = desk.archive_file(&top, ExtractFilter::default(), FileFormat::Pdf).await.unwrap();
    assert!(pdf.bytes.starts_with(b"%PDF-") && pdf.name.ends_with(".pdf"));
    let exports =
        h.store.audit_entries(0, 10_000).await.unwrap().into_iter().filter(|e| e.entry.operation == "extract.archive_export").count();
    assert_eq!(exports, 4, "every export is traced");
    // The accounting: per organisation and type, within the scope.
    let day = d("2026-12-07");
    let acc = csv(desk.accounting_file(&top, day, day, FileFormat::Csv).await.unwrap());
    assert!(acc.contains("organizzazione;Ufficio h501-pm;;1") && acc.contains("organizzazione;Ufficio h501-ss;;1"), "{acc}");
    assert!(acc.contains("organizzazione e tipo;Ufficio h501-ss;"), "{acc}");
    let mine = csv(desk.accounting_file(&agent, day, day, FileFormat::Csv).await.unwrap());
    assert!(!mine.contains("h501-ss"), "{mine}");
    let pdf = desk.accounting_file(&top, day, day, FileFormat::Pdf).await.unwrap();
    assert!(pdf.bytes.starts_with(b"%PDF-"));
    // The TOP user adds and changes the comune's offices, never the registry office itself.
    let tributi =
        ExtractOrg { id: 0, code: "h501-tributi".into(), name: "Tributi".into(), kind: OrganisationKind::MunicipalOffice, ..pm.clone() };
    let id = desk.save_org(&top.principal, Some(&top), &tributi).await.unwrap();
    let renamed = ExtractOrg { id, name: "Ufficio Tributi".into(), ..tributi.clone() };
    desk.save_org(&top.principal, Some(&top), &renamed).await.unwrap();
    assert_eq!(h.store.extract_org("h501-tributi").await.unwrap().unwrap().name, "Ufficio Tributi");
    let registry_changed = ExtractOrg { name: "Anagrafe".into(), kind: OrganisationKind::MunicipalOffice, ..registry.clone() };
    assert_eq!(desk.save_org(&top.principal, Some(&top), &registry_changed).await.unwrap_err().field_errors()[0].field, "tipo");
    let second_registry = ExtractOrg { id: 0, code: "h501-anagrafe-2".into(), ..registry.clone() };
    assert_eq!(desk.save_org(&top.principal, Some(&top), &second_registry).await.unwrap_err().field_errors()[0].field, "tipo");
    assert!(desk.save_org(&agent.principal, Some(&agent), &tributi).await.is_err(), "a STANDARD user changes no organisation");
}
