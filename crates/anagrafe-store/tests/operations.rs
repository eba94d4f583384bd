//! Registry operations on both backends (REG-2, REG-6, IDN-6): each test is a scenario a
//! registry office meets, named after what must hold.

#[macro_use]
mod common;
use common::Harness;

use anagrafe_domain::decode::StatoCivile;
use anagrafe_domain::ops::*;
use anagrafe_domain::{
    Belfiore, BirthPlace, CodiceFiscale, Country, Death, ForeignAddress, HouseholdKind, IdAnpr, IdGenerator, IdStatus, ItalianAddress,
    PartialDate, PersonName, RegisterStatus, Residence, Sex,
};
use anagrafe_store::{Applied, IdIssuer, StoreError, WriteContext};
use chrono::NaiveDate;

conformance!(
    a_registration_gives_an_id_at_once_and_tells_the_comune_of_birth,
    a_comune_registers_only_into_itself_and_cancels_only_its_own,
    a_move_to_another_comune_is_decided_by_the_new_one_and_notifies_the_old,
    emigration_moves_the_record_to_aire_and_rimpatrio_brings_it_back,
    aire_cancellation_reads_tab_28,
    a_death_closes_the_record_and_the_household_goes_on,
    households_join_leave_and_change_head,
    idn6_case_1_register_right_sends_the_data_to_the_agency_with_the_new_code_linked,
    idn6_case_1_agency_right_updates_the_register,
    idn6_case_2_material_error_aligned_keeps_the_id_and_links_the_new_code,
    idn6_case_3_marriage_sex_change_or_request_keeps_the_id,
    idn6_case_4_adoption_of_a_minor_leaves_nothing_linking_the_two_records,
    idn6_case_5_duplicates_suspend_both_ids_and_the_deleted_one_stays_invalid,
    idn6_case_6_omocodia_keeps_both_ids_and_flags_one_for_the_agency,
    a_retroactive_change_is_refused_and_writes_nothing,
    a_client_operation_id_keeps_the_first_answer,
    a_death_on_the_day_of_registration_reads_as_deceased,
    joining_a_household_before_it_was_formed_is_refused,
    idn6_case_1_register_right_is_sent_even_when_the_code_stays,
    idn6_case_4_a_new_name_with_the_same_consonants_still_gets_a_new_code,
    a_family_moves_together_with_one_event_each_and_no_child_stays_behind,
    identity_documents_are_issued_renewed_and_ended_and_keep_their_history,
);

const ROMA: &str = "H501";
const MILANO: &str = "F205";
const TORINO: &str = "L219";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn b(s: &str) -> Belfiore {
    Belfiore::parse(s).unwrap()
}

fn issuer() -> IdIssuer {
    IdIssuer { generator: IdGenerator::new(&[7u8; 16]), key_version: 1, high_water: None }
}

fn comune(code: &str) -> WriteContext {
    WriteContext {
        request_id: format!("test-{code}"),
        actor: format!("client:{code}"),
        actor_cf: None,
        eidas_id: None,
        auth_mode: "modi".into(),
        comune: Some(b(code)),
        client_op_id: None,
    }
}

fn address(c: &str, street: &str) -> Residence {
    Residence::Italy(ItalianAddress {
        comune: b(c),
        cap: None,
        species: anagrafe_testkit::line("VIA"),
        toponym: anagrafe_testkit::line(street),
        civic: Some(anagrafe_testkit::line("1")),
        internal: None,
        locality: None,
    })
}

fn new_family() -> HouseholdChoice {
    HouseholdChoice::New { household: HouseholdKind::Family, name: None }
}

/// A registration with the given reason.
#[allow(clippy::too_many_arguments)]
fn person(surname: &str, given: &str, sex: Sex, born: &str, birth_place: &str, res: Residence, reason: &str, on: &str) -> Registration {
    Registration {
        reason: reason.into(),
        reason_description: None,
        effective_date: d(on),
        name: PersonName::new(Some(surname), Some(given)).unwrap(),
        sex,
        birth_date: PartialDate::parse(born).unwrap(),
        birth_place: BirthPlace::Comune { code: b(birth_place) },
        codice_fiscale: None,
        citizenships: vec![Country::Italia],
        civil_status: StatoCivile::CelibeNubile,
        residence: res,
        household: new_family(),
        email: None,
        digital_domicile: None,
        origin: None,
        birth_act: None,
        parents: Vec::new(),
    }
}

fn adult(surname: &str, given: &str, c: &str) -> Registration {
    let mut r = person(surname, given, Sex::F, "1980-05-10", ROMA, address(c, "Garibaldi"), "9", "2000-01-01");
    r.reason_description = Some(anagrafe_testkit::line("test"));
    r
}

async fn apply(h: &Harness, ctx: &WriteContext, op: Operation) -> Result<Applied, StoreError> {
    h.store.apply(&op, ctx, &issuer(), None).await
}

async fn register(h: &Harness, ctx: &WriteContext, r: Registration) -> Applied {
    apply(h, ctx, Operation::Register(Box::new(r))).await.unwrap()
}

async fn pid(h: &Harness, id: IdAnpr) -> (i64, IdStatus) {
    h.store.find_by_id_anpr(&id).await.unwrap().unwrap()
}

async fn record(h: &Harness, id: IdAnpr, on: Option<&str>) -> anagrafe_domain::PersonRecord {
    let (p, _) = pid(h, id).await;
    h.store.person(p, on.map(d)).await.unwrap().record
}

async fn audit_ok(h: &Harness) {
    let r = h.store.verify_audit_chain().await.unwrap();
    assert!(r.first_bad.is_none(), "{r:?}");
}

async fn a_registration_gives_an_id_at_once_and_tells_the_comune_of_birth(h: &Harness) {
    let r = person("Bianchi", "Sara", Sex::F, "2025-06-01", MILANO, address(ROMA, "Appia"), "1", "2025-06-01");
    let a = register(h, &comune(ROMA), r).await;
    let id = a.id_anpr.expect("an ID at once");
    assert_eq!(pid(h, id).await.1, IdStatus::Valid);
    let rec = record(h, id, None).await;
    assert_eq!(rec.id_anpr, Some(id));
    assert_eq!(rec.status, RegisterStatus::Resident);
    let cf = rec.generalita.codice_fiscale.expect("computed");
    assert_eq!(a.codice_fiscale.as_deref(), Some(cf.as_str()));
    // Milano, where the child was born, is told; Roma, which registered it, is not.
    let milano = h.store.notifications(b(MILANO), 0, 10).await.unwrap();
    assert_eq!(milano.len(), 1);
    assert_eq!(milano[0].kind, "nascita_registrata_altrove");
    assert_eq!(milano[0].payload["id_anpr"], id.to_string());
    assert!(h.store.notifications(b(ROMA), 0, 10).await.unwrap().is_empty());
    // The Agency is asked to confirm the computed code.
    let out = h.store.revenue_outbox(0, 10).await.unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].kind, "attribuzione_cf");
    // Before the birth there was no record.
    let (p, _) = pid(h, id).await;
    assert!(matches!(h.store.person(p, Some(d("2025-05-31"))).await, Err(StoreError::NotFound(_))));
    audit_ok(h).await;
}

async fn a_comune_registers_only_into_itself_and_cancels_only_its_own(h: &Harness) {
    let into_roma = adult("Rossi", "Anna", ROMA);
    let before = h.store.audit_entries(0, 1000).await.unwrap().len();
    let refused = apply(h, &comune(MILANO), Operation::Register(Box::new(into_roma.clone()))).await;
    assert!(matches!(refused, Err(StoreError::Forbidden(_))), "{refused:?}");
    assert_eq!(h.store.count_persons().await.unwrap(), 0, "nothing written");
    assert_eq!(h.store.audit_entries(0, 1000).await.unwrap().len(), before);
    let id = register(h, &comune(ROMA), into_roma).await.id_anpr.unwrap();
    let cancel = Cancellation { reason: 6, reason_description: None, effective_date: d("2024-01-01"), death: None, abroad: None };
    let other = apply(h, &comune(MILANO), Operation::Cancel { person: id, cancellation: cancel.clone() }).await;
    assert!(matches!(other, Err(StoreError::Forbidden(_))), "{other:?}");
    assert_eq!(record(h, id, None).await.status, RegisterStatus::Resident);
    apply(h, &comune(ROMA), Operation::Cancel { person: id, cancellation: cancel }).await.unwrap();
    assert_eq!(record(h, id, None).await.status, RegisterStatus::Cancelled);
    assert_eq!(record(h, id, Some("2023-12-31")).await.status, RegisterStatus::Resident);
    // The register itself (no comune) may act anywhere.
    let system = WriteContext::cli("test");
    register(h, &system, adult("Neri", "Lia", TORINO)).await;
}

async fn a_move_to_another_comune_is_decided_by_the_new_one_and_notifies_the_old(h: &Harness) {
    let id = register(h, &comune(ROMA), adult("Verdi", "Ada", ROMA)).await.id_anpr.unwrap();
    let change = ResidenceChange {
        effective_date: d("2024-03-01"),
        residence: address(TORINO, "Po"),
        household: Some(new_family()),
        members: vec![],
    };
    let by_old = apply(h, &comune(ROMA), Operation::ChangeResidence { person: id, change: change.clone() }).await;
    assert!(matches!(by_old, Err(StoreError::Forbidden(_))), "the old comune cannot move a person into another: {by_old:?}");
    let no_household = ResidenceChange { household: None, ..change.clone() };
    let e = apply(h, &comune(TORINO), Operation::ChangeResidence { person: id, change: no_household }).await;
    assert!(matches!(&e, Err(StoreError::Refused { field, .. }) if field == "household"), "{e:?}");
    apply(h, &comune(TORINO), Operation::ChangeResidence { person: id, change }).await.unwrap();
    assert_eq!(record(h, id, None).await.residence.competent_comune(), b(TORINO));
    assert_eq!(record(h, id, Some("2024-02-29")).await.residence.competent_comune(), b(ROMA));
    let roma = h.store.notifications(b(ROMA), 0, 10).await.unwrap();
    assert_eq!(roma.len(), 1);
    assert_eq!(roma[0].kind, "trasferimento_residenza");
    // Now Roma may no longer change the record; Torino may, within itself.
    let within = ResidenceChange { effective_date: d("2024-06-01"), residence: address(TORINO, "Dora"), household: None, members: vec![] };
    assert!(matches!(
        apply(h, &comune(ROMA), Operation::ChangeResidence { person: id, change: within.clone() }).await,
        Err(StoreError::Forbidden(_))
    ));
    apply(h, &comune(TORINO), Operation::ChangeResidence { person: id, change: within }).await.unwrap();
    let Residence::Italy(a) = record(h, id, None).await.residence else { panic!() };
    assert_eq!(a.toponym, "Dora");
    audit_ok(h).await;
}

fn abroad() -> ForeignAddress {
    ForeignAddress {
        state: b("Z110"),
        locality: anagrafe_testkit::line("Paris"),
        address: Some(anagrafe_testkit::line("1 rue de Rivoli")),
        postcode: None,
        consulate: None,
    }
}

async fn emigration_moves_the_record_to_aire_and_rimpatrio_brings_it_back(h: &Harness) {
    let id = register(h, &comune(ROMA), adult("Gallo", "Rita", ROMA)).await.id_anpr.unwrap();
    let emig = Cancellation { reason: 8, reason_description: None, effective_date: d("2022-01-10"), death: None, abroad: Some(abroad()) };
    apply(h, &comune(ROMA), Operation::Cancel { person: id, cancellation: emig }).await.unwrap();
    let r = record(h, id, None).await;
    assert_eq!(r.status, RegisterStatus::Aire);
    assert!(matches!(r.residence, Residence::Abroad { aire_comune, .. } if aire_comune == b(ROMA)));
    assert!(r.household.is_some(), "an AIRE household");
    assert_eq!(pid(h, id).await.1, IdStatus::Valid, "the ID stays valid");
    // Back to Italy, into Milano.
    let back = ResidenceChange {
        effective_date: d("2024-09-01"),
        residence: address(MILANO, "Dante"),
        household: Some(new_family()),
        members: vec![],
    };
    apply(h, &comune(MILANO), Operation::ChangeResidence { person: id, change: back }).await.unwrap();
    assert_eq!(record(h, id, None).await.status, RegisterStatus::Resident);
    assert_eq!(record(h, id, Some("2023-01-01")).await.status, RegisterStatus::Aire);
    assert_eq!(h.store.notifications(b(ROMA), 0, 10).await.unwrap()[0].payload["kind"], "rimpatrio");
}

async fn aire_cancellation_reads_tab_28(h: &Harness) {
    let mut r = adult("Costa", "Emma", ROMA);
    r.residence = Residence::Abroad { address: abroad(), aire_comune: b(ROMA) };
    r.reason = "C01".into();
    let id = register(h, &comune(ROMA), r).await.id_anpr.unwrap();
    assert_eq!(record(h, id, None).await.status, RegisterStatus::Aire);
    // Code 8 is "Altro" in tab. 28 (for AIRE), not emigration.
    let c = Cancellation {
        reason: 8,
        reason_description: Some(anagrafe_testkit::line("test")),
        effective_date: d("2023-01-01"),
        death: None,
        abroad: None,
    };
    apply(h, &comune(ROMA), Operation::Cancel { person: id, cancellation: c }).await.unwrap();
    assert_eq!(record(h, id, None).await.status, RegisterStatus::Cancelled);
}

async fn a_death_closes_the_record_and_the_household_goes_on(h: &Harness) {
    let head = register(h, &comune(ROMA), adult("Fabbri", "Elena", ROMA)).await;
    let fid = head.family_id.unwrap();
    let mut child = adult("Fabbri", "Marco", ROMA);
    child.household = HouseholdChoice::Join { family_id: fid, relation: 3 };
    let child = register(h, &comune(ROMA), child).await.id_anpr.unwrap();
    let death = Death { date: PartialDate::parse("2024-02-02").unwrap(), place: Some(b(MILANO)), locality: None };
    let c = Cancellation { reason: 1, reason_description: None, effective_date: d("2024-02-02"), death: Some(death), abroad: None };
    apply(h, &comune(ROMA), Operation::Cancel { person: head.id_anpr.unwrap(), cancellation: c }).await.unwrap();
    let r = record(h, head.id_anpr.unwrap(), None).await;
    assert_eq!(r.status, RegisterStatus::Deceased);
    assert_eq!(record(h, head.id_anpr.unwrap(), Some("2024-02-01")).await.status, RegisterStatus::Resident);
    assert_eq!(h.store.notifications(b(MILANO), 0, 10).await.unwrap()[0].kind, "decesso_avvenuto_nel_comune");
    let fam = h.store.family(fid, None).await.unwrap();
    assert_eq!(fam.members.iter().map(|m| m.id_anpr).collect::<Vec<_>>(), vec![Some(child)]);
    // A deceased person is not changed any more.
    let again = apply(
        h,
        &comune(ROMA),
        Operation::ChangeCivilStatus {
            person: head.id_anpr.unwrap(),
            change: CivilStatusChange { effective_date: d("2024-03-01"), civil_status: StatoCivile::Coniugato },
        },
    )
    .await;
    assert!(matches!(again, Err(StoreError::State { .. })), "{again:?}");
}

async fn households_join_leave_and_change_head(h: &Harness) {
    let a = register(h, &comune(ROMA), adult("Conti", "Paola", ROMA)).await;
    let fid = a.family_id.unwrap();
    let (pa, idb) = (a.id_anpr.unwrap(), register(h, &comune(ROMA), adult("Conti", "Luca", ROMA)).await.id_anpr.unwrap());
    let join = HouseholdMove { effective_date: d("2010-01-01"), household: HouseholdChoice::Join { family_id: fid, relation: 2 } };
    apply(h, &comune(ROMA), Operation::MoveHousehold { person: idb, change: join }).await.unwrap();
    assert_eq!(h.store.family(fid, None).await.unwrap().members.len(), 2);
    // The head cannot leave while others remain.
    let leave = HouseholdMove { effective_date: d("2012-01-01"), household: new_family() };
    let e = apply(h, &comune(ROMA), Operation::MoveHousehold { person: pa, change: leave.clone() }).await;
    assert!(matches!(&e, Err(StoreError::State { field, .. }) if field == "household"), "{e:?}");
    // Change of head, then the former head leaves.
    let rel = RelationsChange {
        effective_date: d("2011-01-01"),
        members: vec![MemberRelation { id_anpr: idb, relation: 1 }, MemberRelation { id_anpr: pa, relation: 2 }],
    };
    apply(h, &comune(ROMA), Operation::SetRelations { family_id: fid, change: rel }).await.unwrap();
    apply(h, &comune(ROMA), Operation::MoveHousehold { person: pa, change: leave }).await.unwrap();
    let now = h.store.family(fid, None).await.unwrap();
    assert_eq!(now.members.iter().map(|m| (m.id_anpr, m.relation)).collect::<Vec<_>>(), vec![(Some(idb), 1)]);
    let then = h.store.family(fid, Some(d("2010-06-01"))).await.unwrap();
    assert_eq!(then.members.iter().map(|m| (m.id_anpr, m.relation)).collect::<Vec<_>>(), vec![(Some(pa), 1), (Some(idb), 2)]);
    // Relations must list every member, with one head.
    let partial = RelationsChange { effective_date: d("2013-01-01"), members: vec![MemberRelation { id_anpr: pa, relation: 1 }] };
    assert!(apply(h, &comune(ROMA), Operation::SetRelations { family_id: fid, change: partial }).await.is_err());
    // Another comune cannot touch this household.
    let other = RelationsChange { effective_date: d("2013-01-01"), members: vec![MemberRelation { id_anpr: idb, relation: 1 }] };
    assert!(matches!(
        apply(h, &comune(MILANO), Operation::SetRelations { family_id: fid, change: other }).await,
        Err(StoreError::Forbidden(_))
    ));
}

/// The `i`-th column of a dumped row, as an integer (SQLite rows are `|`-separated quoted
/// values, PostgreSQL rows are `(a,b,…)` record literals; the leading columns used here hold
/// neither separator).
fn column(row: &str, i: usize) -> Option<i64> {
    let (body, sep) = match row.strip_prefix('(') {
        Some(r) => (r, ','),
        None => (row, '|'),
    };
    body.split(sep).nth(i)?.trim_matches('\'').parse().ok()
}

/// A person whose codice fiscale (from the Agency) disagrees with the register's data.
async fn misaligned(h: &Harness) -> (IdAnpr, CodiceFiscale) {
    let mut r = adult("Esposito", "Giulia", ROMA);
    // The Agency's code was computed on 11 May, the register says 10 May.
    let agency_cf = CodiceFiscale::compute(&anagrafe_domain::CfInput {
        surname: "Esposito",
        name: "Giulia",
        sex: Sex::F,
        birth_date: d("1980-05-11"),
        birth_place: b(ROMA),
    });
    r.codice_fiscale = Some(agency_cf);
    (register(h, &comune(ROMA), r).await.id_anpr.unwrap(), agency_cf)
}

fn change(case: GeneralitaCase) -> GeneralitaChange {
    GeneralitaChange {
        case,
        effective_date: d("2024-01-15"),
        name: None,
        sex: None,
        birth_date: None,
        birth_place: None,
        codice_fiscale: None,
    }
}

async fn idn6_case_1_register_right_sends_the_data_to_the_agency_with_the_new_code_linked(h: &Harness) {
    let (id, agency_cf) = misaligned(h).await;
    let a = apply(
        h,
        &comune(ROMA),
        Operation::ChangeGeneralita { person: id, change: change(GeneralitaCase::MaterialErrorNotAlignedRegisterRight) },
    )
    .await
    .unwrap();
    assert_eq!(a.id_anpr, Some(id), "the ID is unchanged");
    let r = record(h, id, None).await;
    assert_eq!(r.generalita.birth_date, PartialDate::parse("1980-05-10").unwrap(), "the register's data stay");
    let new_cf = r.generalita.codice_fiscale.unwrap();
    assert_ne!(new_cf, agency_cf);
    // The agency gets the register's data; the new code is linked to the previous one.
    let out = h.store.revenue_outbox(0, 10).await.unwrap();
    let msg = out.iter().find(|m| m.kind == "variazione_dati").expect("sent to the Agency");
    assert_eq!(msg.payload["previous_cf"], agency_cf.to_string());
    assert_eq!(msg.payload["codice_fiscale"], new_cf.to_string());
    assert_eq!(msg.payload["birth_date"], "1980-05-10");
    let links = h.dump().await.into_iter().filter(|(t, _)| t == "cf_links").collect::<Vec<_>>();
    assert_eq!(links.len(), 1);
    assert!(links[0].1.contains(agency_cf.as_str()) && links[0].1.contains(new_cf.as_str()));
    // A correction holds from the beginning: the old code is gone from every date.
    assert_eq!(record(h, id, Some("2001-01-01")).await.generalita.codice_fiscale, Some(new_cf));
}

async fn idn6_case_1_agency_right_updates_the_register(h: &Harness) {
    let (id, agency_cf) = misaligned(h).await;
    let mut c = change(GeneralitaCase::MaterialErrorNotAlignedAgencyRight);
    c.birth_date = Some(PartialDate::parse("1980-05-11").unwrap());
    c.codice_fiscale = Some(agency_cf);
    apply(h, &comune(ROMA), Operation::ChangeGeneralita { person: id, change: c }).await.unwrap();
    let r = record(h, id, None).await;
    assert_eq!(r.generalita.birth_date, PartialDate::parse("1980-05-11").unwrap());
    assert_eq!(r.generalita.codice_fiscale, Some(agency_cf));
    assert_eq!(r.generalita.cf_validation, anagrafe_domain::decode::StatoValidazioneCf::DatiAnagraficiValidati);
    assert_eq!(record(h, id, Some("2001-01-01")).await.generalita.birth_date, PartialDate::parse("1980-05-11").unwrap());
    assert!(h.store.revenue_outbox(0, 10).await.unwrap().iter().all(|m| m.kind != "variazione_dati"), "nothing to tell the Agency");
    assert_eq!(pid(h, id).await.1, IdStatus::Valid);
}

async fn idn6_case_2_material_error_aligned_keeps_the_id_and_links_the_new_code(h: &Harness) {
    let id = register(h, &comune(ROMA), adult("Ricci", "Carla", ROMA)).await.id_anpr.unwrap();
    let old_cf = record(h, id, None).await.generalita.codice_fiscale.unwrap();
    let mut c = change(GeneralitaCase::MaterialErrorAligned);
    c.name = Some(PersonName::new(Some("Rizzi"), Some("Carla")).unwrap());
    apply(h, &comune(ROMA), Operation::ChangeGeneralita { person: id, change: c }).await.unwrap();
    let r = record(h, id, None).await;
    assert_eq!(r.id_anpr, Some(id));
    assert_eq!(r.generalita.name.surname(), Some("Rizzi"));
    let new_cf = r.generalita.codice_fiscale.unwrap();
    assert_ne!(new_cf, old_cf);
    assert_eq!(record(h, id, Some("2000-06-01")).await.generalita.name.surname(), Some("Rizzi"), "corrected for every date");
    let msg = h.store.revenue_outbox(0, 10).await.unwrap().into_iter().find(|m| m.kind == "variazione_dati").unwrap();
    assert_eq!(msg.payload["previous_cf"], old_cf.to_string());
    assert_eq!(msg.payload["idn6_case"], 2);
    // The old code no longer finds the person; the new one does.
    assert!(h.store.find_by_cf(&old_cf, None).await.unwrap().is_empty());
    assert_eq!(h.store.find_by_cf(&new_cf, None).await.unwrap().len(), 1);
}

async fn idn6_case_3_marriage_sex_change_or_request_keeps_the_id(h: &Harness) {
    let id = register(h, &comune(ROMA), adult("Marino", "Alessandra", ROMA)).await.id_anpr.unwrap();
    let old_cf = record(h, id, None).await.generalita.codice_fiscale.unwrap();
    let mut c = change(GeneralitaCase::SexChange);
    c.sex = Some(Sex::M);
    c.name = Some(PersonName::new(Some("Marino"), Some("Alessandro")).unwrap());
    apply(h, &comune(ROMA), Operation::ChangeGeneralita { person: id, change: c }).await.unwrap();
    let now = record(h, id, None).await;
    assert_eq!(now.id_anpr, Some(id));
    assert_eq!(now.generalita.sex, Sex::M);
    // Not a correction: before the date the person was recorded as before.
    let before = record(h, id, Some("2024-01-14")).await;
    assert_eq!(before.generalita.sex, Sex::F);
    assert_eq!(before.generalita.codice_fiscale, Some(old_cf));
    assert_ne!(now.generalita.codice_fiscale, Some(old_cf));
    let msg = h.store.revenue_outbox(0, 10).await.unwrap().into_iter().find(|m| m.kind == "variazione_dati").unwrap();
    assert_eq!(msg.payload["idn6_case"], 3);
    // Birth data change only by correction.
    let mut bad = change(GeneralitaCase::OnRequest);
    bad.birth_date = Some(PartialDate::parse("1980-01-01").unwrap());
    assert!(!bad.check(d("2026-01-01")).is_empty());
}

async fn idn6_case_4_adoption_of_a_minor_leaves_nothing_linking_the_two_records(h: &Harness) {
    let parent = register(h, &comune(ROMA), adult("Lombardi", "Franca", ROMA)).await;
    let child_reg = person("Orfei", "Nina", Sex::F, "2018-04-04", MILANO, address(ROMA, "Tevere"), "9", "2019-01-01");
    let child_reg = Registration { reason_description: Some(anagrafe_testkit::line("test")), ..child_reg };
    let old = register(h, &comune(ROMA), child_reg).await;
    let old_id = old.id_anpr.unwrap();
    let (old_pid, _) = pid(h, old_id).await;
    let old_cf = old.codice_fiscale.clone().unwrap();
    let adoption = MinorAdoption {
        effective_date: d("2025-05-05"),
        name: PersonName::new(Some("Lombardi"), Some("Nina")).unwrap(),
        family_id: parent.family_id.unwrap(),
        relation: 2,
    };
    let a = apply(h, &comune(ROMA), Operation::AdoptMinor { person: old_id, adoption }).await.unwrap();
    let new_id = a.id_anpr.unwrap();
    assert_ne!(new_id, old_id, "a new ID");
    let (new_pid, status) = pid(h, new_id).await;
    assert_eq!(status, IdStatus::Valid);
    assert_eq!(pid(h, old_id).await.1, IdStatus::Invalid, "the old ID is no longer valid");
    let new_cf = a.codice_fiscale.clone().unwrap();
    assert_ne!(new_cf, old_cf);
    assert_eq!(record(h, new_id, None).await.generalita.name.surname(), Some("Lombardi"));
    // No row of any table — events, audit, notifications, outbox, state — names both records.
    let old_marks = [old_id.to_string(), old_cf.clone()];
    let new_marks = [new_id.to_string(), new_cf.clone()];
    let rows = h.dump().await;
    for (table, row) in &rows {
        let has_old = old_marks.iter().any(|m| row.contains(m.as_str()));
        let has_new = new_marks.iter().any(|m| row.contains(m.as_str()));
        assert!(!(has_old && has_new), "{table} links the two records: {row}");
        // Rows that belong to one record by its internal id name nothing of the other.
        let owner = match table.as_str() {
            "events" | "revenue_outbox" => column(row, 3),
            "audit_log" => column(row, 9),
            _ => None,
        };
        if owner == Some(new_pid) {
            assert!(!has_old, "{table} row of the new record names the old one: {row}");
        }
        if owner == Some(old_pid) {
            assert!(!has_new, "{table} row of the old record names the new one: {row}");
        }
    }
    // Nor does any event or audit entry of one record carry the other's internal id or share a
    // request id or operation id with it.
    let entries = h.store.audit_entries(0, 10_000).await.unwrap();
    let of = |p: i64| entries.iter().filter(|e| e.entry.subject_person == Some(p)).cloned().collect::<Vec<_>>();
    let (eo, en) = (of(old_pid), of(new_pid));
    let last_old = eo.last().unwrap();
    let first_new = en.first().unwrap();
    assert_ne!(last_old.entry.request_id, first_new.entry.request_id);
    for e in eo.iter().chain(en.iter()) {
        assert!(!e.entry.detail.contains(&format!("\"{}\"", if e.entry.subject_person == Some(old_pid) { new_pid } else { old_pid })));
    }
    let events: Vec<_> = rows.iter().filter(|(t, _)| t == "events").map(|(_, r)| r.clone()).collect();
    let ev_old: Vec<_> = events.iter().filter(|r| r.contains(&last_old.entry.request_id)).collect();
    let ev_new: Vec<_> = events.iter().filter(|r| r.contains(&first_new.entry.request_id)).collect();
    assert_eq!((ev_old.len(), ev_new.len()), (1, 1));
    // No notification was sent about either (the comune of birth is not told of the new record).
    assert!(h.store.notifications(b(MILANO), 0, 100).await.unwrap().iter().all(|n| n.payload["id_anpr"] != new_id.to_string()));
}

async fn idn6_case_5_duplicates_suspend_both_ids_and_the_deleted_one_stays_invalid(h: &Harness) {
    let a = register(h, &comune(ROMA), adult("Greco", "Irene", ROMA)).await.id_anpr.unwrap();
    let b2 = register(h, &comune(ROMA), adult("Greco", "Irene", ROMA)).await.id_anpr.unwrap();
    apply(h, &comune(ROMA), Operation::ReportDuplicate { persons: [a, b2] }).await.unwrap();
    assert_eq!((pid(h, a).await.1, pid(h, b2).await.1), (IdStatus::Suspended, IdStatus::Suspended), "both suspended");
    let open = |c: &str| {
        let c = anagrafe_domain::Belfiore::parse(c).unwrap();
        async move { h.store.open_duplicates(c).await.unwrap() }
    };
    let cases = open(ROMA).await;
    assert_eq!(cases.len(), 1);
    assert_eq!((cases[0].id_anpr_a.clone(), cases[0].id_anpr_b.clone()), (Some(a.to_string()), Some(b2.to_string())));
    assert!(cases[0].reported_at > 1_700_000_000_000);
    assert!(open(MILANO).await.is_empty(), "not Milan's case");
    // While suspended, the records cannot be changed.
    let cs = CivilStatusChange { effective_date: d("2024-01-01"), civil_status: StatoCivile::Coniugato };
    let e = apply(h, &comune(ROMA), Operation::ChangeCivilStatus { person: a, change: cs.clone() }).await;
    assert!(matches!(&e, Err(StoreError::State { field, .. }) if field == "person"), "{e:?}");
    apply(h, &comune(ROMA), Operation::ResolveDuplicate { keep: a, delete: b2 }).await.unwrap();
    assert_eq!((pid(h, a).await.1, pid(h, b2).await.1), (IdStatus::Valid, IdStatus::Invalid));
    assert!(open(ROMA).await.is_empty(), "resolved");
    assert_eq!(record(h, b2, None).await.status, RegisterStatus::Cancelled);
    apply(h, &comune(ROMA), Operation::ChangeCivilStatus { person: a, change: cs }).await.unwrap();
    // The invalid ID stays invalid: not reusable, not resolvable again.
    assert!(apply(h, &comune(ROMA), Operation::ResolveDuplicate { keep: b2, delete: a }).await.is_err());
    assert!(apply(h, &comune(ROMA), Operation::ReportDuplicate { persons: [b2, a] }).await.is_err());
    assert_eq!(pid(h, b2).await.1, IdStatus::Invalid);
    // A report about another comune's record can be dismissed by that comune: two different
    // people, both IDs valid again.
    let roman = register(h, &comune(ROMA), adult("Serra", "Ada", ROMA)).await.id_anpr.unwrap();
    let milanese = register(h, &comune(MILANO), adult("Serra", "Ada", MILANO)).await.id_anpr.unwrap();
    apply(h, &comune(ROMA), Operation::ReportDuplicate { persons: [roman, milanese] }).await.unwrap();
    assert_eq!(pid(h, milanese).await.1, IdStatus::Suspended);
    // A case across two comuni is in both comuni's lists.
    assert_eq!((open(ROMA).await.len(), open(MILANO).await.len(), open(TORINO).await.len()), (1, 1, 0));
    assert!(matches!(
        apply(h, &comune(TORINO), Operation::DismissDuplicate { persons: [milanese, roman] }).await,
        Err(StoreError::Forbidden(_))
    ));
    apply(h, &comune(MILANO), Operation::DismissDuplicate { persons: [milanese, roman] }).await.unwrap();
    assert!(open(MILANO).await.is_empty() && open(ROMA).await.is_empty(), "dismissed");
    assert_eq!((pid(h, roman).await.1, pid(h, milanese).await.1), (IdStatus::Valid, IdStatus::Valid));
    assert!(apply(h, &comune(MILANO), Operation::DismissDuplicate { persons: [milanese, roman] }).await.is_err(), "closed");
}

async fn idn6_case_6_omocodia_keeps_both_ids_and_flags_one_for_the_agency(h: &Harness) {
    // Two different women with the same name, birth date and place: one codice fiscale.
    let first = register(h, &comune(ROMA), adult("Ferri", "Luisa", ROMA)).await;
    assert!(!first.omocodia);
    let second = register(h, &comune(ROMA), adult("Ferri", "Luisa", ROMA)).await;
    assert!(second.omocodia);
    assert_eq!(first.codice_fiscale, second.codice_fiscale);
    assert_eq!(
        (pid(h, first.id_anpr.unwrap()).await.1, pid(h, second.id_anpr.unwrap()).await.1),
        (IdStatus::Valid, IdStatus::Valid),
        "both IDs stay valid"
    );
    let flagged: Vec<_> = h.store.revenue_outbox(0, 10).await.unwrap().into_iter().filter(|m| m.kind == "omocodia").collect();
    assert_eq!(flagged.len(), 1, "communicated for one of the two");
    assert_eq!(flagged[0].payload["codice_fiscale"], first.codice_fiscale.clone().unwrap());
    // The second registration sent two messages in one write: every message has its own id,
    // counting up in commit order, so a reader's cursor misses none.
    let all = h.store.revenue_outbox(0, 10).await.unwrap();
    assert_eq!(all.iter().filter(|m| m.event_id == flagged[0].event_id).count(), 2, "{all:?}");
    let ids: Vec<i64> = all.iter().map(|m| m.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(h.store.revenue_outbox(ids[0], 10).await.unwrap().len(), ids.len() - 1);
}

async fn a_retroactive_change_is_refused_and_writes_nothing(h: &Harness) {
    let id = register(h, &comune(ROMA), adult("Moretti", "Bice", ROMA)).await.id_anpr.unwrap();
    let later = ResidenceChange { effective_date: d("2020-01-01"), residence: address(ROMA, "Nuova"), household: None, members: vec![] };
    apply(h, &comune(ROMA), Operation::ChangeResidence { person: id, change: later }).await.unwrap();
    let audit_before = h.store.audit_entries(0, 1000).await.unwrap().len();
    let earlier =
        ResidenceChange { effective_date: d("2019-01-01"), residence: address(ROMA, "Vecchia"), household: None, members: vec![] };
    let e = apply(h, &comune(ROMA), Operation::ChangeResidence { person: id, change: earlier }).await;
    assert!(matches!(&e, Err(StoreError::Refused { field, .. }) if field == "effective_date"), "{e:?}");
    assert_eq!(h.store.audit_entries(0, 1000).await.unwrap().len(), audit_before);
    let Residence::Italy(a) = record(h, id, None).await.residence else { panic!() };
    assert_eq!(a.toponym, "Nuova");
}

async fn a_client_operation_id_keeps_the_first_answer(h: &Harness) {
    let idem = anagrafe_store::Idempotency { client_op_id: "op-1".into(), body_sha256: Some("aa".into()) };
    let op = Operation::Register(Box::new(adult("Sala", "Noemi", ROMA)));
    let first = h.store.apply(&op, &comune(ROMA), &issuer(), Some(&idem)).await.unwrap();
    let stored = h.store.client_operation("client:H501", "op-1").await.unwrap().unwrap();
    assert_eq!(stored.body_sha256.as_deref(), Some("aa"));
    assert_eq!(serde_json::from_str::<Applied>(&stored.response.unwrap()).unwrap(), first);
    let again = h.store.apply(&op, &comune(ROMA), &issuer(), Some(&idem)).await;
    assert!(matches!(&again, Err(StoreError::Conflict { field }) if field == "client_op_id"), "{again:?}");
    assert_eq!(h.store.count_persons().await.unwrap(), 1, "the second write left nothing");
}

async fn a_death_on_the_day_of_registration_reads_as_deceased(h: &Harness) {
    let r = person("Lupi", "Ida", Sex::F, "2025-07-07", ROMA, address(ROMA, "Corta"), "1", "2025-07-07");
    let id = register(h, &comune(ROMA), r).await.id_anpr.unwrap();
    let death = Death { date: PartialDate::parse("2025-07-07").unwrap(), place: Some(b(ROMA)), locality: None };
    let c = Cancellation { reason: 1, reason_description: None, effective_date: d("2025-07-07"), death: Some(death), abroad: None };
    apply(h, &comune(ROMA), Operation::Cancel { person: id, cancellation: c }).await.unwrap();
    let r = record(h, id, None).await;
    assert_eq!(r.status, RegisterStatus::Deceased);
    assert_eq!(r.residence.competent_comune(), b(ROMA), "the last residence is kept");
    // A move and a death on the same day: the record shows the new address.
    let id = register(h, &comune(ROMA), adult("Neri", "Eva", ROMA)).await.id_anpr.unwrap();
    let mv = ResidenceChange {
        effective_date: d("2025-08-01"),
        residence: address(MILANO, "Brera"),
        household: Some(new_family()),
        members: vec![],
    };
    apply(h, &comune(MILANO), Operation::ChangeResidence { person: id, change: mv }).await.unwrap();
    let death = Death { date: PartialDate::parse("2025-08-01").unwrap(), place: Some(b(MILANO)), locality: None };
    let c = Cancellation { reason: 1, reason_description: None, effective_date: d("2025-08-01"), death: Some(death), abroad: None };
    apply(h, &comune(MILANO), Operation::Cancel { person: id, cancellation: c }).await.unwrap();
    let r = record(h, id, None).await;
    assert_eq!((r.status, r.residence.competent_comune()), (RegisterStatus::Deceased, b(MILANO)));
}

async fn joining_a_household_before_it_was_formed_is_refused(h: &Harness) {
    let head = register(h, &comune(ROMA), adult("Bassi", "Olga", ROMA)).await;
    let other = register(h, &comune(ROMA), adult("Bassi", "Ugo", ROMA)).await.id_anpr.unwrap();
    let early = HouseholdMove {
        effective_date: d("1999-06-01"),
        household: HouseholdChoice::Join { family_id: head.family_id.unwrap(), relation: 2 },
    };
    let e = apply(h, &comune(ROMA), Operation::MoveHousehold { person: other, change: early }).await;
    assert!(matches!(&e, Err(StoreError::Refused { field, .. }) if field == "effective_date"), "{e:?}");
}

async fn idn6_case_1_register_right_is_sent_even_when_the_code_stays(h: &Harness) {
    let id = register(h, &comune(ROMA), adult("Vitali", "Rosa", ROMA)).await.id_anpr.unwrap();
    let cf = record(h, id, None).await.generalita.codice_fiscale;
    apply(
        h,
        &comune(ROMA),
        Operation::ChangeGeneralita { person: id, change: change(GeneralitaCase::MaterialErrorNotAlignedRegisterRight) },
    )
    .await
    .unwrap();
    assert_eq!(record(h, id, None).await.generalita.codice_fiscale, cf);
    let sent = h.store.revenue_outbox(0, 100).await.unwrap().into_iter().filter(|m| m.kind == "variazione_dati").count();
    assert_eq!(sent, 1, "the register's data go to the Agency");
}

async fn idn6_case_4_a_new_name_with_the_same_consonants_still_gets_a_new_code(h: &Harness) {
    let parent = register(h, &comune(ROMA), adult("Russo", "Anna", ROMA)).await;
    let child = person("Rossi", "Lia", Sex::F, "2019-02-02", ROMA, address(ROMA, "Tevere"), "9", "2019-03-01");
    let child = Registration { reason_description: Some(anagrafe_testkit::line("test")), ..child };
    let old = register(h, &comune(ROMA), child).await;
    let adoption = MinorAdoption {
        effective_date: d("2025-01-10"),
        name: PersonName::new(Some("Russo"), Some("Lia")).unwrap(),
        family_id: parent.family_id.unwrap(),
        relation: 2,
    };
    let a = apply(h, &comune(ROMA), Operation::AdoptMinor { person: old.id_anpr.unwrap(), adoption }).await.unwrap();
    assert_ne!(a.codice_fiscale, old.codice_fiscale, "Rossi and Russo share RSS: the new record takes another code");
    let new_cf = CodiceFiscale::parse(a.codice_fiscale.as_deref().unwrap()).unwrap();
    assert_eq!(new_cf.base(), CodiceFiscale::parse(old.codice_fiscale.as_deref().unwrap()).unwrap().base(), "an omocode variant of it");
    let holders = h.store.find_by_cf(&new_cf, None).await.unwrap();
    assert_eq!(holders.len(), 1);
}

/// Issue 17, item 9: a family moves together: one event per person, in one operation; part of
/// a household moving says where it goes; nobody leaves a minor without an adult.
async fn a_family_moves_together_with_one_event_each_and_no_child_stays_behind(h: &Harness) {
    let mother = register(h, &comune(ROMA), adult("Rossi", "Anna", ROMA)).await;
    let fid = mother.family_id.unwrap();
    let anna = mother.id_anpr.unwrap();
    let mut spouse = adult("Rossi", "Piero", ROMA);
    spouse.household = HouseholdChoice::Join { family_id: fid, relation: 2 };
    let piero = register(h, &comune(ROMA), spouse).await.id_anpr.unwrap();
    let mut newborn = person("Rossi", "Bianca", Sex::F, "2024-01-15", ROMA, address(ROMA, "Garibaldi"), "1", "2024-01-15");
    newborn.household = HouseholdChoice::Join { family_id: fid, relation: 3 };
    let bianca = register(h, &comune(ROMA), newborn).await.id_anpr.unwrap();
    let stranger = register(h, &comune(ROMA), adult("Neri", "Olga", ROMA)).await.id_anpr.unwrap();
    let mv = |street: &str, on: &str, household: Option<HouseholdChoice>, members: Vec<IdAnpr>| ResidenceChange {
        effective_date: d(on),
        residence: address(ROMA, street),
        household,
        members,
    };
    let events = || async {
        let mut n = 0;
        for id in [anna, piero, bianca] {
            n += h.store.history(pid(h, id).await.0).await.unwrap().events.len();
        }
        n
    };
    let before = events().await;
    // The mother alone, leaving her family at the old address: where does she go?
    let e = apply(h, &comune(ROMA), Operation::ChangeResidence { person: anna, change: mv("Cavour", "2024-06-01", None, vec![]) }).await;
    assert!(matches!(&e, Err(StoreError::Refused { field, .. }) if field == "household"), "{e:?}");
    // Both parents, leaving the newborn behind: refused, nothing written.
    let e = apply(
        h,
        &comune(ROMA),
        Operation::ChangeResidence { person: anna, change: mv("Cavour", "2024-06-01", Some(new_family()), vec![piero]) },
    )
    .await;
    assert!(matches!(&e, Err(StoreError::Refused { field, .. }) if field == "members"), "{e:?}");
    // Someone of another household is not theirs to move.
    let e = apply(
        h,
        &comune(ROMA),
        Operation::ChangeResidence { person: anna, change: mv("Cavour", "2024-06-01", None, vec![piero, stranger]) },
    )
    .await;
    assert!(matches!(&e, Err(StoreError::State { field, .. }) if field == "members[1]"), "{e:?}");
    assert_eq!(events().await, before, "no refusal wrote an event");
    assert_eq!(record(h, bianca, None).await.residence, address(ROMA, "Garibaldi"));
    // The whole family, within Roma: one operation, an event for each, the household as it was.
    let done =
        apply(h, &comune(ROMA), Operation::ChangeResidence { person: anna, change: mv("Cavour", "2024-06-01", None, vec![piero, bianca]) })
            .await
            .unwrap();
    assert_eq!(done.event_ids.len(), 3);
    for id in [anna, piero, bianca] {
        assert_eq!(record(h, id, None).await.residence, address(ROMA, "Cavour"), "{id}");
        assert_eq!(record(h, id, Some("2024-05-31")).await.residence, address(ROMA, "Garibaldi"), "{id}");
    }
    assert_eq!(h.store.family(fid, None).await.unwrap().members.len(), 3, "the family stays one");
    // The whole family to Milano, decided by Milano: a new family there, the mother still at its
    // head, the old one dissolved, Roma told once per person.
    let mut milano = mv("Dante", "2024-09-01", Some(new_family()), vec![bianca, piero]);
    milano.residence = address(MILANO, "Dante");
    let done = apply(h, &comune(MILANO), Operation::ChangeResidence { person: anna, change: milano }).await.unwrap();
    let new_fid = done.family_id.unwrap();
    assert_ne!(new_fid, fid);
    let fam = h.store.family(new_fid, None).await.unwrap();
    let mut rel: Vec<_> = fam.members.iter().map(|m| (m.id_anpr.unwrap(), m.relation)).collect();
    rel.sort_by_key(|(_, r)| *r);
    assert_eq!(rel, vec![(anna, 1), (piero, 2), (bianca, 3)]);
    assert!(h.store.family(fid, None).await.unwrap().members.is_empty(), "the old family has nobody left");
    let told = h.store.notifications(b(ROMA), 0, 10).await.unwrap();
    assert_eq!(told.iter().filter(|n| n.kind == "trasferimento_residenza").count(), 3);
    // The office's inbox reads them newest first, and pages back from a cursor.
    let latest = h.store.latest_notifications(b(ROMA), i64::MAX, 10).await.unwrap();
    assert_eq!(latest.iter().map(|n| n.id).collect::<Vec<_>>(), told.iter().rev().map(|n| n.id).collect::<Vec<_>>());
    let older = h.store.latest_notifications(b(ROMA), latest[0].id, 10).await.unwrap();
    assert_eq!(older.len(), latest.len() - 1);
    audit_ok(h).await;
}

fn document(kind: anagrafe_domain::DocumentKind, number: &str, issued: &str, renews: Option<&str>) -> Operation {
    Operation::RecordDocument {
        person: IdAnpr::from_index(0).unwrap(),
        issue: anagrafe_domain::documents::DocumentIssue {
            document: anagrafe_domain::IdentityDocument {
                kind,
                number: anagrafe_domain::documents::number_of(number).unwrap(),
                issued_on: d(issued),
                expires_on: Some(d(issued) + chrono::Duration::days(3650)),
                issuer: Some(anagrafe_testkit::line("Comune di Roma")),
            },
            renews: renews.map(|n| anagrafe_domain::documents::number_of(n).unwrap()),
        },
    }
}

/// The same operation about `person`.
fn about(op: Operation, person: IdAnpr) -> Operation {
    match op {
        Operation::RecordDocument { issue, .. } => Operation::RecordDocument { person, issue },
        Operation::EndDocument { end, .. } => Operation::EndDocument { person, end },
        other => other,
    }
}

async fn identity_documents_are_issued_renewed_and_ended_and_keep_their_history(h: &Harness) {
    use anagrafe_domain::DocumentKind::{Cie, PermessoSoggiorno};
    use anagrafe_domain::documents::{DocumentEnd, DocumentEndReason};
    let roma = comune(ROMA);
    let id = register(h, &roma, adult("Fabbri", "Irene", ROMA)).await.id_anpr.unwrap();
    let other = register(h, &roma, adult("Gatti", "Olga", ROMA)).await.id_anpr.unwrap();
    apply(h, &roma, about(document(Cie, "CA11111AA", "2020-01-10", None), id)).await.unwrap();
    assert_eq!(record(h, id, None).await.documents.len(), 1);
    let audit_before = h.store.audit_entries(0, 1000).await.unwrap().len();
    // A second card while the first is in force must say it renews it.
    let e = apply(h, &roma, about(document(Cie, "CA22222BB", "2024-01-01", None), id)).await;
    assert!(matches!(&e, Err(StoreError::State { field, .. }) if field == "renews"), "{e:?}");
    // Another comune is not competent; a residence title is not an Italian's.
    let e = apply(h, &comune(MILANO), about(document(Cie, "CA22222BB", "2024-01-01", Some("CA11111AA")), id)).await;
    assert!(matches!(&e, Err(StoreError::Forbidden(_))), "{e:?}");
    let permit = document(PermessoSoggiorno(anagrafe_domain::decode::TipoSoggiorno::Permesso), "I00000001", "2024-01-01", None);
    let e = apply(h, &roma, about(permit, id)).await;
    assert!(matches!(&e, Err(StoreError::Refused { field, .. }) if field == "kind"), "{e:?}");
    assert_eq!(h.store.audit_entries(0, 1000).await.unwrap().len(), audit_before, "refusals write nothing");
    // The renewal: the old card ends on the new one's issue.
    apply(h, &roma, about(document(Cie, "CA22222BB", "2024-01-01", Some("ca 11111 aa")), id)).await.unwrap();
    let now: Vec<String> = record(h, id, None).await.documents.iter().map(|d| d.number.to_string()).collect();
    assert_eq!(now, ["CA22222BB"]);
    let then: Vec<String> = record(h, id, Some("2023-06-01")).await.documents.iter().map(|d| d.number.to_string()).collect();
    assert_eq!(then, ["CA11111AA"], "the record as of a date shows the card of that date");
    // Nobody else gets that number.
    let e = apply(h, &roma, about(document(Cie, "CA22222BB", "2024-02-01", None), other)).await;
    assert!(matches!(&e, Err(StoreError::State { field, .. }) if field == "number"), "{e:?}");
    // Stolen: the record shows no document from that day; a second report is refused.
    let stolen = DocumentEnd {
        number: anagrafe_domain::documents::number_of("CA22222BB").unwrap(),
        ended_on: d("2025-05-01"),
        reason: DocumentEndReason::Stolen,
    };
    apply(h, &roma, Operation::EndDocument { person: id, end: stolen.clone() }).await.unwrap();
    assert!(record(h, id, None).await.documents.is_empty());
    assert_eq!(record(h, id, Some("2025-04-30")).await.documents.len(), 1);
    let e = apply(h, &roma, Operation::EndDocument { person: id, end: stolen }).await;
    assert!(matches!(&e, Err(StoreError::State { field, .. }) if field == "number"), "{e:?}");
    // After the theft a new card needs no renewal.
    apply(h, &roma, about(document(Cie, "CA33333CC", "2025-05-10", None), id)).await.unwrap();
    let (p, _) = pid(h, id).await;
    let hist = h.store.history(p).await.unwrap();
    let ends: Vec<(String, Option<DocumentEndReason>)> =
        hist.documents.iter().map(|d| (d.document.number.to_string(), d.ended.map(|e| e.reason))).collect();
    assert_eq!(
        ends,
        [
            ("CA11111AA".to_owned(), Some(DocumentEndReason::Renewed)),
            ("CA22222BB".to_owned(), Some(DocumentEndReason::Stolen)),
            ("CA33333CC".to_owned(), None)
        ]
    );
    let card_events = hist.events.iter().filter(|e| e.kind == "mutazione" && e.code.as_deref() == Some("3")).count();
    assert_eq!(card_events, 4, "three issues and one end, each a mutation of tab. 36 code 3");
    audit_ok(h).await;
}
