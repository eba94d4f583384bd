//! One conformance suite, run against both backends: SQLite always, PostgreSQL whenever
//! `ANAGRAFE_TEST_DATABASE_URL` is set (each test gets a fresh database on that server, dropped
//! at the end). Without the variable the PostgreSQL half says SKIPPED and passes.

#[macro_use]
mod common;
use common::Harness;

use anagrafe_domain::decode::{RelazioneParentela, StatoCivile, StatoValidazioneCf};
use anagrafe_domain::{
    Belfiore, BirthPlace, CodiceFiscale, Country, Generalita, Household, HouseholdKind, IdAnpr, IdStatus, ItalianAddress, PartialDate,
    PersonName, PersonRecord, RefData, RegisterStatus, Residence, Sex,
};
use anagrafe_store::{
    AuditEntry, BulkMessage, IdIssuer, NewFamily, NewPerson, PgStore, PopulationBatch, SqliteStore, StoreError, WriteContext, connect,
};
use anagrafe_testkit::PopulationGenerator;
use chrono::NaiveDate;

conformance!(
    a_registered_person_reads_back_as_registered,
    reads_follow_effective_dates,
    a_person_is_found_by_codice_fiscale,
    an_id_anpr_cannot_be_given_twice,
    every_write_leaves_an_audit_entry_and_the_chain_verifies,
    altering_any_audit_entry_breaks_verification_at_that_entry,
    deleting_an_audit_entry_breaks_verification,
    the_database_refuses_to_rewrite_the_trace,
    signed_checkpoints_catch_a_rewritten_trace_and_are_append_only,
    only_entries_of_a_recorded_archive_segment_leave_the_live_trace,
    bulk_load_writes_the_population_with_one_audit_entry,
    a_failed_bulk_load_leaves_nothing,
    a_producer_that_stops_early_commits_nothing,
    a_deceased_person_reads_as_deceased,
    a_client_operation_id_names_one_write,
    concurrent_writes_keep_the_chain_whole,
    concurrent_traces_are_each_written_once_in_chain_order,
    a_trace_entry_the_database_refuses_costs_no_other_entry,
    the_entries_about_a_person_page_newest_first,
    reference_data_round_trip,
    a_family_lists_its_members_head_first,
    ids_are_assigned_to_everyone_once_and_resumably,
    the_first_assignment_gives_everyone_an_id_at_once,
    an_id_issued_before_is_never_issued_again,
    certificates_are_stored_paid_once_listed_and_expired,
    a_captcha_is_taken_once_and_only_while_fresh,
    the_history_lists_residences_and_citizenships,
    electoral_data_are_written_over_by_their_comune_only,
    a_rectification_request_waits_for_one_answer_from_its_comune,
);

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn ctx(op: &str) -> WriteContext {
    WriteContext {
        request_id: format!("test-{op}"),
        actor: "officer:test".into(),
        actor_cf: Some("RSSMRA80A01H501U".into()),
        eidas_id: None,
        auth_mode: "password_totp".into(),
        comune: Some(Belfiore::parse("L219").unwrap()),
        client_op_id: None,
    }
}

fn mario(family: Option<i64>) -> NewPerson {
    NewPerson {
        record: PersonRecord {
            id_anpr: None,
            status: RegisterStatus::Resident,
            generalita: Generalita {
                name: PersonName::new(Some("Rossi"), Some("Mario")).unwrap(),
                sex: Sex::M,
                birth_date: PartialDate::parse("1980-01-01").unwrap(),
                birth_place: BirthPlace::Comune { code: Belfiore::parse("H501").unwrap() },
                codice_fiscale: Some(CodiceFiscale::parse("RSSMRA80A01H501U").unwrap()),
                cf_validation: StatoValidazioneCf::DatiAnagraficiValidati,
            },
            citizenships: vec![Country::Italia],
            civil_status: StatoCivile::Coniugato,
            residence: Residence::Italy(ItalianAddress {
                comune: Belfiore::parse("L219").unwrap(),
                cap: Some("10121".parse().unwrap()),
                species: anagrafe_testkit::line("VIA"),
                toponym: anagrafe_testkit::line("ROMA"),
                civic: Some(anagrafe_testkit::line("12")),
                internal: None,
                locality: None,
            }),
            household: family.map(|family_id| Household::Family { family_id, relation: RelazioneParentela::IntestatarioScheda }),
            documents: vec![],
            email: Some(anagrafe_testkit::line("mario.rossi@mail.example.org")),
            digital_domicile: None,
            death: None,
        },
        residence_since: d("2010-05-01"),
        civil_status_since: d("2008-09-20"),
        household_since: d("2010-05-01"),
        reason: "3".into(),
    }
}

/// A family formed in Turin on 2010-05-01.
async fn turin_family(h: &Harness) -> i64 {
    let family =
        NewFamily { kind: HouseholdKind::Family, comune: Belfiore::parse("L219").unwrap(), name: None, formed_on: d("2010-05-01") };
    h.store.create_family(&family, &ctx("fam")).await.unwrap()
}

async fn a_registered_person_reads_back_as_registered(h: &Harness) {
    let fam = turin_family(h).await;
    let p = mario(Some(fam));
    let id = h.store.register_person(&p, &ctx("reg")).await.unwrap();
    let view = h.store.person(id, None).await.unwrap();
    assert_eq!(view.record, p.record);
    assert!(matches!(h.store.person(id + 1000, None).await, Err(StoreError::NotFound(_))));
}

async fn reads_follow_effective_dates(h: &Harness) {
    let id = h.store.register_person(&mario(None), &ctx("reg")).await.unwrap();
    // Born 1980, resident here since 2010: in 2005 the register did not hold him.
    assert!(matches!(h.store.person(id, Some(d("2005-01-01"))).await, Err(StoreError::NotFound(_))));
    // Married since 2008: on 2010-06-01 he is married; the record holds.
    let v = h.store.person(id, Some(d("2010-06-01"))).await.unwrap();
    assert_eq!(v.record.civil_status, StatoCivile::Coniugato);
    // On the day residence starts, he is there (valid_from inclusive).
    assert!(h.store.person(id, Some(d("2010-05-01"))).await.is_ok());
    assert!(h.store.person(id, Some(d("2010-04-30"))).await.is_err());
}

async fn a_person_is_found_by_codice_fiscale(h: &Harness) {
    let id = h.store.register_person(&mario(None), &ctx("reg")).await.unwrap();
    let cf = CodiceFiscale::parse("RSSMRA80A01H501U").unwrap();
    assert_eq!(h.store.find_by_cf(&cf, None).await.unwrap(), vec![id]);
    // Before birth, nobody had that code.
    assert!(h.store.find_by_cf(&cf, Some(d("1979-01-01"))).await.unwrap().is_empty());
    let other = CodiceFiscale::parse("BNCMRA85L52F205V").unwrap();
    assert!(h.store.find_by_cf(&other, None).await.unwrap().is_empty());
}

async fn an_id_anpr_cannot_be_given_twice(h: &Harness) {
    let mut p = mario(None);
    p.record.id_anpr = Some(IdAnpr::parse("AB12345CV").unwrap());
    h.store.register_person(&p, &ctx("reg")).await.unwrap();
    let before = h.store.count_persons().await.unwrap();
    let audit_before = h.store.audit_entries(0, 1000).await.unwrap().len();
    let err = h.store.register_person(&p, &ctx("reg2")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { ref field } if field == "id_anpr"), "{err}");
    // Nothing of the refused write remains.
    assert_eq!(h.store.count_persons().await.unwrap(), before);
    assert_eq!(h.store.audit_entries(0, 1000).await.unwrap().len(), audit_before);
}

async fn every_write_leaves_an_audit_entry_and_the_chain_verifies(h: &Harness) {
    let id = h.store.register_person(&mario(None), &ctx("reg")).await.unwrap();
    let mut read = AuditEntry::from_ctx(&ctx("read"), "person.read", "ok");
    read.subject_person = Some(id);
    h.store.audit(&read).await.unwrap();
    let entries = h.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.entry.operation.as_str()).collect::<Vec<_>>(), ["person.register", "person.read"]);
    let reg = &entries[0];
    assert_eq!(reg.entry.subject_person, Some(id));
    assert_eq!(reg.entry.subject_cf.as_deref(), Some("RSSMRA80A01H501U"));
    assert_eq!(reg.entry.auth_mode, "password_totp");
    assert_eq!(reg.entry.request_id, "test-reg");
    assert!(reg.at_ms > 1_700_000_000_000, "time to the millisecond");
    let report = h.store.verify_audit_chain().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 2);
}

async fn write_n(h: &Harness, n: usize) {
    for i in 0..n {
        h.store.audit(&AuditEntry::from_ctx(&ctx(&format!("op{i}")), "person.read", "ok")).await.unwrap();
    }
}

async fn altering_any_audit_entry_breaks_verification_at_that_entry(h: &Harness) {
    write_n(h, 5).await;
    h.drop_trace_guards().await;
    for seq in 1..=5 {
        for (col, tampered) in [("outcome", "'refused'"), ("actor", "'someone-else'"), ("at_ms", "at_ms + 1")] {
            let original = h.store.audit_entries(seq - 1, 1).await.unwrap().remove(0);
            h.raw(&format!("UPDATE audit_log SET {col} = {tampered} WHERE seq = {seq}")).await;
            let report = h.store.verify_audit_chain().await.unwrap();
            assert_eq!(report.first_bad.as_ref().map(|b| b.0), Some(seq), "altering {col} of entry {seq}: {report:?}");
            let restore = match col {
                "outcome" => format!("'{}'", original.entry.outcome),
                "actor" => format!("'{}'", original.entry.actor),
                _ => original.at_ms.to_string(),
            };
            h.raw(&format!("UPDATE audit_log SET {col} = {restore} WHERE seq = {seq}")).await;
            assert!(h.store.verify_audit_chain().await.unwrap().is_intact());
        }
    }
}

async fn deleting_an_audit_entry_breaks_verification(h: &Harness) {
    write_n(h, 5).await;
    h.drop_trace_guards().await;
    // Winding the head back to an earlier entry (to hide later edits) is caught too.
    let third = h.store.audit_entries(2, 1).await.unwrap().remove(0);
    h.raw(&format!("UPDATE audit_head SET seq = 3, hash = '{}' WHERE id = 1", third.hash)).await;
    assert_eq!(h.store.verify_audit_chain().await.unwrap().first_bad.map(|b| b.0), Some(4));
    let fifth = h.store.audit_entries(4, 1).await.unwrap().remove(0);
    h.raw(&format!("UPDATE audit_head SET seq = 5, hash = '{}' WHERE id = 1", fifth.hash)).await;
    assert!(h.store.verify_audit_chain().await.unwrap().is_intact());
    h.raw("DELETE FROM audit_log WHERE seq = 5").await;
    assert_eq!(h.store.verify_audit_chain().await.unwrap().first_bad.map(|b| b.0), Some(5));
    h.raw("DELETE FROM audit_log WHERE seq = 3").await;
    assert_eq!(h.store.verify_audit_chain().await.unwrap().first_bad.map(|b| b.0), Some(3));
}

/// The database itself refuses to change, delete or truncate a trace entry and to move the
/// chain's head back (issue 18); appending goes on.
async fn the_database_refuses_to_rewrite_the_trace(h: &Harness) {
    write_n(h, 3).await;
    let second = h.store.audit_entries(1, 1).await.unwrap().remove(0);
    for sql in [
        "UPDATE audit_log SET outcome = 'refused' WHERE seq = 2".to_owned(),
        "DELETE FROM audit_log WHERE seq = 3".to_owned(),
        "DELETE FROM audit_log".to_owned(),
        format!("UPDATE audit_head SET seq = 2, hash = '{}' WHERE id = 1", second.hash),
    ] {
        assert!(!h.try_raw(&sql).await, "refused: {sql}");
    }
    if matches!(h.raw, common::Raw::Pg(_)) {
        assert!(!h.try_raw("TRUNCATE audit_log").await, "TRUNCATE refused");
    }
    write_n(h, 2).await;
    let report = h.store.verify_audit_chain().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 5);
}

fn checkpoint_signer() -> anagrafe_store::CheckpointSigner {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let pem = p256::SecretKey::random(&mut rand::rngs::OsRng).to_pkcs8_pem(LineEnding::LF).unwrap();
    anagrafe_store::CheckpointSigner::from_pem(&pem).unwrap()
}

/// With a signed checkpoint kept, rewriting an entry and recomputing every later hash (what the
/// chain alone cannot see), or deleting the tail and winding the head back, is found; the
/// checkpoints themselves cannot be changed or deleted by a plain statement.
async fn signed_checkpoints_catch_a_rewritten_trace_and_are_append_only(h: &Harness) {
    write_n(h, 6).await;
    let signer = checkpoint_signer();
    let (seq, hash) = h.store.audit_head().await.unwrap();
    assert_eq!(seq, 6);
    let cp = signer.sign(seq, &hash, 1_800_000_000_000, Some(40_000));
    h.store.save_checkpoint(&cp).await.unwrap();
    assert_eq!(h.store.checkpoints().await.unwrap(), vec![cp.clone()]);
    for sql in ["UPDATE audit_checkpoints SET seq = 1", "DELETE FROM audit_checkpoints"] {
        assert!(!h.try_raw(sql).await, "refused: {sql}");
    }
    let r = h.store.verify_audit_chain_with(std::slice::from_ref(&cp)).await.unwrap();
    assert!(r.is_intact(), "{r:?}");
    assert_eq!(r.last_checkpoint.map(|c| c.seq), Some(6));

    h.drop_trace_guards().await;
    // Entry 3 given to another actor, every later hash recomputed, the head moved to match.
    let mut entries = h.store.audit_entries(0, 100).await.unwrap();
    entries[2].entry.actor = "someone-else".into();
    let mut prev = anagrafe_store::audit::GENESIS.to_owned();
    for e in &mut entries {
        e.prev_hash = prev.clone();
        e.hash = anagrafe_store::audit::chain_hash(&prev, e.seq, e.at_ms, &e.entry);
        prev = e.hash.clone();
        h.raw(&format!(
            "UPDATE audit_log SET actor = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
            e.entry.actor, e.prev_hash, e.hash, e.seq
        ))
        .await;
    }
    h.raw(&format!("UPDATE audit_head SET hash = '{prev}' WHERE id = 1")).await;
    assert!(h.store.verify_audit_chain().await.unwrap().is_intact(), "the chain alone is fooled");
    let r = h.store.verify_audit_chain_with(std::slice::from_ref(&cp)).await.unwrap();
    assert_eq!(r.first_bad.as_ref().map(|b| b.0), Some(1), "{r:?}");

    // The tail deleted and the head wound back.
    let third = &entries[2];
    h.raw("DELETE FROM audit_log WHERE seq > 3").await;
    h.raw(&format!("UPDATE audit_head SET seq = 3, hash = '{}' WHERE id = 1", third.hash)).await;
    let r = h.store.verify_audit_chain_with(std::slice::from_ref(&cp)).await.unwrap();
    let (at, why) = r.first_bad.unwrap();
    assert_eq!(at, 4, "{why}");
    assert!(why.contains("tail was deleted"), "{why}");
}

/// Retention (SEC-4): a segment recorded from the first live entry lets exactly its entries be
/// deleted, in the same transaction, and the live chain verifies from there; any other delete
/// is still refused by the database, and a segment that is not the oldest is not recorded.
async fn only_entries_of_a_recorded_archive_segment_leave_the_live_trace(h: &Harness) {
    write_n(h, 6).await;
    let entries = h.store.audit_entries(0, 100).await.unwrap();
    let segment = |from: usize, to: usize| anagrafe_store::TraceArchive {
        id: 0,
        from_seq: entries[from - 1].seq,
        to_seq: entries[to - 1].seq,
        prev_hash: entries[from - 1].prev_hash.clone(),
        last_hash: entries[to - 1].hash.clone(),
        from_ms: entries[from - 1].at_ms,
        to_ms: entries[to - 1].at_ms,
        file: format!("trace-{from}-{to}.jsonl.gz"),
        sha256: "00".into(),
        entries: (to - from + 1) as i64,
        created_at: 1,
        purged_at: None,
    };
    let entry = anagrafe_store::AuditEntry::from_ctx(&ctx("archive"), "audit.archived", "ok");
    let e = h.store.archive_trace(&segment(2, 3), &entry).await.unwrap_err();
    assert!(matches!(e, StoreError::State { .. }), "not the oldest: {e:?}");
    assert_eq!(h.store.archive_trace(&segment(1, 3), &entry).await.unwrap(), 3);
    let live = h.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(live.first().map(|e| e.seq), Some(4));
    assert_eq!(live.last().map(|e| e.entry.operation.as_str()), Some("audit.archived"));
    let r = h.store.verify_audit_chain().await.unwrap();
    assert!(r.is_intact(), "the live trace verifies from the archived segment's last hash: {r:?}");
    assert_eq!(r.entries, 4);
    assert_eq!(h.store.trace_archives().await.unwrap().len(), 1);
    // Past the recorded segment nothing can be deleted; nor can the head move back.
    for sql in ["DELETE FROM audit_log WHERE seq = 4", "DELETE FROM audit_log", "UPDATE audit_log SET actor = 'x' WHERE seq = 5"] {
        assert!(!h.try_raw(sql).await, "refused: {sql}");
    }
    assert_eq!(h.store.audit_entries(0, 100).await.unwrap().len(), 4);
    // The live trace no longer starting where the archive ends is found.
    h.drop_trace_guards().await;
    h.raw("DELETE FROM audit_log WHERE seq = 4").await;
    let r = h.store.verify_audit_chain().await.unwrap();
    assert_eq!(r.first_bad.map(|b| b.0), Some(4));
}

fn population(n: u64, seed: u64) -> Vec<PopulationBatch> {
    PopulationGenerator::new(seed, RefData::current(), d("2026-11-22")).batches(n, 700).collect()
}

async fn load(h: &Harness, batches: Vec<PopulationBatch>) -> Result<anagrafe_store::BulkReport, StoreError> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let store = h.store.clone();
    let loader = tokio::spawn(async move { store.bulk_load(rx, &ctx("load")).await });
    for b in batches {
        if tx.send(BulkMessage::Batch(b)).await.is_err() {
            break;
        }
    }
    let _ = tx.send(BulkMessage::End).await;
    drop(tx);
    loader.await.unwrap()
}

async fn bulk_load_writes_the_population_with_one_audit_entry(h: &Harness) {
    let batches = population(2_000, 42);
    let sample = batches[1].persons[17].clone();
    let report = load(h, batches).await.unwrap();
    assert_eq!((report.persons, h.store.count_persons().await.unwrap()), (2_000, 2_000));
    let entries = h.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(entries.len(), 1, "one audit entry for the whole load");
    assert_eq!(entries[0].entry.operation, "population.load");
    assert!(entries[0].entry.detail.contains("\"persons\":2000"));
    let ids = h.store.find_by_cf(&sample.record.generalita.codice_fiscale.unwrap(), None).await.unwrap();
    assert_eq!(ids.len(), 1);
    let view = h.store.person(ids[0], None).await.unwrap();
    let mut expected = sample.record.clone();
    // Household ids in a batch are local; the store gave the family its own id.
    expected.household = view.record.household;
    assert_eq!(view.record, expected);
    let family_id = match view.record.household.unwrap() {
        Household::Family { family_id, .. } | Household::Cohabitation { family_id, .. } => family_id,
    };
    let family = h.store.family(family_id, None).await.unwrap();
    assert!(family.members.iter().any(|m| m.person_id == ids[0]));
    assert!(h.store.verify_audit_chain().await.unwrap().is_intact());
    assert_eq!(h.store.sample_residents(5).await.unwrap().len(), 5);
}

async fn a_failed_bulk_load_leaves_nothing(h: &Harness) {
    let mut batches = population(1_500, 9);
    // The last batch names a household it does not hold.
    let last = batches.last_mut().unwrap();
    last.persons[0].record.household = Some(Household::Family { family_id: 99_999, relation: RelazioneParentela::IntestatarioScheda });
    let err = load(h, batches).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert_eq!(h.store.count_persons().await.unwrap(), 0);
    assert!(h.store.audit_entries(0, 10).await.unwrap().is_empty());
    // And the register still works afterwards.
    assert_eq!(load(h, population(10, 1)).await.unwrap().persons, 10);
}

async fn a_producer_that_stops_early_commits_nothing(h: &Harness) {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let store = h.store.clone();
    let loader = tokio::spawn(async move { store.bulk_load(rx, &ctx("load")).await });
    for b in population(1_000, 2) {
        tx.send(BulkMessage::Batch(b)).await.unwrap();
    }
    drop(tx); // no End: the producer died
    assert!(matches!(loader.await.unwrap(), Err(StoreError::Invalid(_))));
    assert_eq!(h.store.count_persons().await.unwrap(), 0);
    assert!(h.store.audit_entries(0, 10).await.unwrap().is_empty());
}

async fn a_deceased_person_reads_as_deceased(h: &Harness) {
    let mut p = mario(None);
    p.record.death = Some(anagrafe_domain::Death { date: PartialDate::parse("2024-03-01").unwrap(), place: None, locality: None });
    let id = h.store.register_person(&p, &ctx("reg")).await.unwrap();
    assert_eq!(h.store.person(id, None).await.unwrap().record.status, RegisterStatus::Deceased);
    assert_eq!(h.store.person(id, Some(d("2020-01-01"))).await.unwrap().record.status, RegisterStatus::Resident);
}

async fn a_client_operation_id_names_one_write(h: &Harness) {
    let mut c = ctx("op");
    c.client_op_id = Some("op-1".into());
    h.store.register_person(&mario(None), &c).await.unwrap();
    let err = h.store.register_person(&mario(None), &c).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { ref field } if field == "client_op_id"), "{err}");
    assert_eq!(h.store.count_persons().await.unwrap(), 1);
}

async fn concurrent_writes_keep_the_chain_whole(h: &Harness) {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = h.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut p = mario(None);
            p.record.email = Some(anagrafe_testkit::line(format!("m{i}@mail.example.org")));
            store.register_person(&p, &ctx(&format!("c{i}"))).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let report = h.store.verify_audit_chain().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.head_seq, 16);
    assert_eq!(h.store.count_persons().await.unwrap(), 16);
}

/// Entries appended on their own are committed in groups (one transaction for all those that
/// queued meanwhile): every caller still gets its own entry, at the place it was told, with
/// registry writes interleaved, and the chain stays whole.
async fn concurrent_traces_are_each_written_once_in_chain_order(h: &Harness) {
    let mut tasks = Vec::new();
    for i in 0..300 {
        let store = h.store.clone();
        tasks.push(tokio::spawn(async move {
            if i % 50 == 7 {
                let mut p = mario(None);
                p.record.email = Some(anagrafe_testkit::line(format!("t{i}@mail.example.org")));
                store.register_person(&p, &ctx(&format!("w{i}"))).await.unwrap();
                None
            } else {
                let seq = store.audit(&AuditEntry::from_ctx(&ctx(&format!("r{i}")), "person.read", "ok")).await.unwrap();
                Some((i, seq))
            }
        }));
    }
    let mut told = Vec::new();
    for t in tasks {
        told.extend(t.await.unwrap());
    }
    let entries = h.store.audit_entries(0, 1000).await.unwrap();
    assert_eq!(entries.len(), 300);
    for (i, seq) in &told {
        let e = &entries[(*seq - 1) as usize];
        assert_eq!(e.entry.request_id, format!("test-r{i}"), "entry {seq}");
    }
    let mut seqs: Vec<i64> = told.iter().map(|t| t.1).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), told.len(), "two callers were told the same place");
    let report = h.store.verify_audit_chain().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.head_seq, 300);
}

/// PostgreSQL refuses a NUL in text: an entry carrying one fails alone, and the entries that
/// were queued with it are written all the same. (SQLite stores it, and so all succeed.)
async fn a_trace_entry_the_database_refuses_costs_no_other_entry(h: &Harness) {
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = h.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut e = AuditEntry::from_ctx(&ctx(&format!("n{i}")), "person.read", "ok");
            if i == 30 {
                e.detail = "{\"x\":\"\u{0}\"}".into();
            }
            (i, store.audit(&e).await)
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (i, r) = t.await.unwrap();
        match (i, r, h.store.backend()) {
            (30, Err(_), anagrafe_store::Backend::Postgres) => {}
            (_, Ok(_), _) => ok += 1,
            (i, r, b) => panic!("entry {i} on {b:?}: {r:?}"),
        }
    }
    let expected = if h.store.backend() == anagrafe_store::Backend::Postgres { 59 } else { 60 };
    assert_eq!(ok, expected);
    assert_eq!(h.store.audit_entries(0, 100).await.unwrap().len(), expected);
    assert!(h.store.verify_audit_chain().await.unwrap().is_intact());
}

async fn the_entries_about_a_person_page_newest_first(h: &Harness) {
    for i in 0..7 {
        let mut e = AuditEntry::from_ctx(&ctx(&format!("r{i}")), "person.read", "ok");
        e.subject_person = Some(if i % 2 == 0 { 41 } else { 42 });
        h.store.audit(&e).await.unwrap();
    }
    let first = h.store.audit_about(41, i64::MAX, 3).await.unwrap();
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|e| e.entry.subject_person == Some(41)));
    assert!(first.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    let rest = h.store.audit_about(41, first[2].seq, 10).await.unwrap();
    assert_eq!(rest.len(), 1, "four entries about 41 in all");
    assert!(rest[0].seq < first[2].seq);
    assert!(h.store.audit_about(43, i64::MAX, 10).await.unwrap().is_empty());
}

async fn reference_data_round_trip(h: &Harness) {
    assert!(h.store.load_refdata().await.unwrap().is_none());
    let (c, s) = RefData::embedded_files();
    h.store.save_refdata(c, s, &ctx("refdata")).await.unwrap();
    let (c2, s2) = h.store.load_refdata().await.unwrap().unwrap();
    assert!(c2 == c && s2 == s);
    assert_eq!(h.store.audit_entries(0, 10).await.unwrap()[0].entry.operation, "refdata.load");
}

async fn a_family_lists_its_members_head_first(h: &Harness) {
    let fam = turin_family(h).await;
    let mut child = mario(Some(fam));
    child.record.household = Some(Household::Family { family_id: fam, relation: RelazioneParentela::FiglioFiglia });
    child.record.email = None;
    let c = h.store.register_person(&child, &ctx("c")).await.unwrap();
    let head = h.store.register_person(&mario(Some(fam)), &ctx("h")).await.unwrap();
    let view = h.store.family(fam, None).await.unwrap();
    assert_eq!(view.members.iter().map(|m| (m.person_id, m.relation)).collect::<Vec<_>>(), vec![(head, 1), (c, 3)]);
    // Before anyone joined, the family was empty.
    assert!(h.store.family(fam, Some(d("2009-01-01"))).await.unwrap().members.is_empty());
}

#[test]
fn both_backends_carry_the_same_migrations() {
    assert_eq!(SqliteStore::migration_versions(), PgStore::migration_versions());
}

#[tokio::test]
async fn an_unknown_url_is_refused() {
    assert!(matches!(connect("mysql://x").await, Err(StoreError::UnsupportedUrl)));
}

fn issuer(seed: u8, key_version: i16) -> IdIssuer {
    IdIssuer { generator: anagrafe_domain::IdGenerator::new(&[seed; 16]), key_version, high_water: None }
}

async fn ids_are_assigned_to_everyone_once_and_resumably(h: &Harness) {
    load(h, population(1_500, 3)).await.unwrap();
    let iss = issuer(1, 1);
    let (mut batches, mut after) = (Vec::new(), 0);
    while let (n, Some(last)) = h.store.assign_ids(&iss, after, 600, &ctx("assign")).await.unwrap() {
        batches.push(n);
        after = last;
    }
    assert_eq!(batches, vec![600, 600, 300]);
    assert_eq!(h.store.count_without_id().await.unwrap(), 0);
    // Idempotent: nothing left to do from the start either, and nothing traced for it.
    let audit = h.store.audit_entries(0, 100).await.unwrap().len();
    assert_eq!(h.store.assign_ids(&iss, 0, 600, &ctx("again")).await.unwrap(), (0, None));
    assert_eq!(h.store.audit_entries(0, 100).await.unwrap().len(), audit);
    assert_eq!(audit, 4, "one entry for the load, one per assignment batch");
    // Every person has a distinct, valid ID, bound to them in the registry.
    let mut seen = std::collections::HashSet::new();
    for id in [1i64, 2, 700, 1500] {
        let v = h.store.person(id, None).await.unwrap();
        let anpr = v.record.id_anpr.expect("assigned");
        assert!(seen.insert(anpr));
        assert_eq!(h.store.find_by_id_anpr(&anpr).await.unwrap(), Some((id, IdStatus::Valid)));
    }
    assert!(h.store.find_by_id_anpr(&IdAnpr::parse("AB12345CV").unwrap()).await.unwrap().is_none());
    assert!(h.store.verify_audit_chain().await.unwrap().is_intact());
}

async fn an_id_issued_before_is_never_issued_again(h: &Harness) {
    load(h, population(40, 4)).await.unwrap();
    let first = issuer(9, 1);
    assert_eq!(h.store.assign_ids(&first, 0, 20, &ctx("a")).await.unwrap().0, 20);
    // A new key version whose permutation would start over the IDs already issued: here the
    // same key with the counter wound back, the worst case. Every repeated ID is refused by
    // the registry and its counter skipped.
    h.raw("UPDATE counters SET next = 0 WHERE name = 'id_anpr'").await;
    let again = issuer(9, 2);
    assert_eq!(h.store.assign_ids(&again, 0, 20, &ctx("b")).await.unwrap().0, 20);
    let mut ids = std::collections::HashSet::new();
    for pid in 1..=40i64 {
        let v = h.store.person(pid, None).await.unwrap();
        assert!(ids.insert(v.record.id_anpr.unwrap()), "an ID was issued twice");
    }
    let last = h.store.audit_entries(0, 10).await.unwrap().pop().unwrap();
    assert_eq!(last.entry.operation, "id.assign");
}

async fn the_first_assignment_gives_everyone_an_id_at_once(h: &Harness) {
    load(h, population(2_500, 6)).await.unwrap();
    let iss = issuer(3, 1);
    assert_eq!(h.store.assign_ids_initial(&iss, &ctx("initial")).await.unwrap(), Some(2_500));
    assert_eq!(h.store.count_without_id().await.unwrap(), 0);
    // The registry's keys were rebuilt (which also proves the 2,500 IDs distinct): an ID cannot
    // be registered twice.
    let v = h.store.person(1, None).await.unwrap();
    let mut p = mario(None);
    p.record.id_anpr = v.record.id_anpr;
    assert!(matches!(h.store.register_person(&p, &ctx("dup")).await, Err(StoreError::Conflict { .. })));
    // Same IDs as the batched path would give: counters follow person order.
    let expected = iss.generator.id(0).unwrap();
    assert_eq!(v.record.id_anpr, Some(expected));
    assert_eq!(h.store.find_by_id_anpr(&expected).await.unwrap(), Some((1, IdStatus::Valid)));
    // Once IDs exist, the initial path steps aside and batches take over.
    assert_eq!(h.store.assign_ids_initial(&iss, &ctx("again")).await.unwrap(), None);
    let newcomer = h.store.register_person(&mario(None), &ctx("new")).await.unwrap();
    assert_eq!(h.store.assign_ids(&iss, 0, 100, &ctx("batch")).await.unwrap(), (1, Some(newcomer)));
    assert!(h.store.verify_audit_chain().await.unwrap().is_intact());
}

fn certificate(id: &str, person_id: i64, requester: &str, expires: &str) -> anagrafe_store::StoredCertificate {
    anagrafe_store::StoredCertificate {
        id: id.into(),
        person_id,
        types: vec![8, 12],
        langs: vec!["it".into(), "de".into()],
        issued_at: 1_700_000_000_000,
        expires_on: d(expires),
        requester: requester.into(),
        stamp: serde_json::json!({ "kind": "paid", "payment_id": "P1" }),
        sha256: "00".repeat(32),
        size: 4,
        deleted_at: None,
        delete_reason: None,
    }
}

async fn certificates_are_stored_paid_once_listed_and_expired(h: &Harness) {
    use anagrafe_store::{AuditEntry, NewCertificate, StampPayment, StoreError};
    let id = h.store.register_person(&mario(None), &ctx("reg")).await.unwrap();
    let entry = AuditEntry::from_ctx(&ctx("cert"), "certificate.issue", "ok");
    let payment = StampPayment {
        id: "P1".into(),
        payer: "citizen:X".into(),
        amount_cents: 1600,
        provider: "local".into(),
        paid_at: 1,
        certificate_id: None,
    };
    h.store.save_payment(&payment, &entry).await.unwrap();
    let new = |cid: &str, token: &str, payer: Option<&str>| NewCertificate {
        meta: certificate(cid, id, "citizen:X", "2027-05-21"),
        token_hash: token.into(),
        pdf: b"%PDF".to_vec(),
        payment_id: payer.map(str::to_owned),
    };
    let before = h.store.audit_entries(0, 1000).await.unwrap().len();
    h.store.save_certificate(&new("2026-A", "t1", Some("P1")), &entry).await.unwrap();
    assert_eq!(h.store.audit_entries(0, 1000).await.unwrap().len(), before + 1, "the issue is traced with it");
    assert_eq!(h.store.payment("P1").await.unwrap().unwrap().certificate_id.as_deref(), Some("2026-A"));
    // The same payment cannot pay twice, and nothing of the refused certificate stays.
    let err = h.store.save_certificate(&new("2026-B", "t2", Some("P1")), &entry).await.unwrap_err();
    assert!(matches!(&err, StoreError::State { field, .. } if field == "stamp.payment_id"), "{err:?}");
    assert!(h.store.certificate("2026-B").await.unwrap().is_none());
    // A payment made by someone else cannot be used either.
    let other = StampPayment { id: "P2".into(), payer: "citizen:Y".into(), ..payment.clone() };
    h.store.save_payment(&other, &entry).await.unwrap();
    assert!(h.store.save_certificate(&new("2026-C", "t3", Some("P2")), &entry).await.is_err());
    assert_eq!(h.store.audit_entries(0, 1000).await.unwrap().len(), before + 2, "refusals left no audit entry of an issue");
    // Exempt certificates need no payment.
    h.store.save_certificate(&new("2026-D", "t4", None), &entry).await.unwrap();
    let got = h.store.certificate_by_token("t1").await.unwrap().unwrap();
    assert_eq!(got, certificate("2026-A", id, "citizen:X", "2027-05-21"));
    assert_eq!(h.store.certificate_pdf("2026-A").await.unwrap().unwrap(), b"%PDF");
    assert_eq!(h.store.certificates_of(id).await.unwrap().len(), 2);
    // Expiry deletes the PDF, keeps the record, and is traced once.
    let n = h.store.delete_expired_certificates(d("2027-05-21"), &entry).await.unwrap();
    assert_eq!(n, 0, "valid through its last day");
    let n = h.store.delete_expired_certificates(d("2027-05-22"), &entry).await.unwrap();
    assert_eq!(n, 2);
    assert!(h.store.certificate_pdf("2026-A").await.unwrap().is_none());
    let gone = h.store.certificate("2026-A").await.unwrap().unwrap();
    assert_eq!(gone.delete_reason.as_deref(), Some("expired"));
    assert!(gone.deleted_at.is_some());
    assert_eq!(h.store.delete_expired_certificates(d("2027-06-01"), &entry).await.unwrap(), 0);
    assert!(h.store.verify_audit_chain().await.unwrap().first_bad.is_none());
}

async fn a_captcha_is_taken_once_and_only_while_fresh(h: &Harness) {
    h.store.save_captcha("c1", "a1", 1_000).await.unwrap();
    h.store.save_captcha("c2", "a2", 1_000).await.unwrap();
    assert_eq!(h.store.take_captcha("c1", 999).await.unwrap().as_deref(), Some("a1"));
    assert_eq!(h.store.take_captcha("c1", 999).await.unwrap(), None, "single use");
    assert_eq!(h.store.take_captcha("c2", 1_001).await.unwrap(), None, "expired");
    assert_eq!(h.store.take_captcha("c2", 999).await.unwrap(), None, "an expired one is gone too");
}

async fn the_history_lists_residences_and_citizenships(h: &Harness) {
    let id = h.store.register_person(&mario(None), &ctx("reg")).await.unwrap();
    let hist = h.store.history(id).await.unwrap();
    assert_eq!(hist.residences.len(), 1);
    assert_eq!(hist.residences[0].from, d("2010-05-01"));
    assert_eq!(hist.residences[0].to, None);
    assert_eq!(hist.citizenships.iter().map(|c| c.value).collect::<Vec<_>>(), vec![Country::Italia]);
    let kinds: Vec<_> = hist.events.iter().map(|e| (e.kind.as_str(), e.code.as_deref(), e.effective_date)).collect();
    assert_eq!(kinds, vec![("iscrizione", Some("3"), d("2010-05-01"))], "the registration is the record's first event");
    assert!(matches!(h.store.history(id + 1000).await, Err(anagrafe_store::StoreError::NotFound(_))));
}

fn electoral(section: u16, seat: &str) -> anagrafe_domain::electoral::ElectoralData {
    use anagrafe_domain::electoral::*;
    ElectoralData {
        elector: true,
        section: Some(Section { number: section, seat_name: seat.into(), seat_address: "Via Roma 1".into() }),
        additional_lists: vec![],
        elections: vec![ElectionRight {
            election: Election::Senate,
            constituency: Some("Piemonte".into()),
            multi_member_college: None,
            single_member_college: Some("Piemonte - U01".into()),
        }],
    }
}

fn operations(entries: &[anagrafe_store::StoredAudit], op: &str) -> usize {
    entries.iter().filter(|e| e.entry.operation == op).count()
}

async fn electoral_data_are_written_over_by_their_comune_only(h: &Harness) {
    let id = h.store.register_person(&mario(None), &ctx("reg")).await.unwrap();
    assert_eq!(h.store.electoral_data(id).await.unwrap(), None);
    let entry = AuditEntry::from_ctx(&ctx("ele"), "electoral.update", "ok");
    // Mario lives in Turin (L219): Rome's officer may not write his data (ELE-3).
    let err = h.store.save_electoral_data(id, "H501", &electoral(3, "Scuola Mazzini"), &entry).await.unwrap_err();
    assert!(matches!(err, StoreError::Forbidden(_)), "{err}");
    assert_eq!(h.store.electoral_data(id).await.unwrap(), None);
    h.store.save_electoral_data(id, "L219", &electoral(3, "Scuola Mazzini"), &entry).await.unwrap();
    let first = h.store.electoral_data(id).await.unwrap().unwrap();
    assert_eq!((first.comune.as_str(), first.data.clone()), ("L219", electoral(3, "Scuola Mazzini")));
    // An update replaces the data; nothing of the old values stays (ELE-6).
    h.store.save_electoral_data(id, "L219", &electoral(7, "Liceo Alfieri"), &entry).await.unwrap();
    assert_eq!(h.store.electoral_data(id).await.unwrap().unwrap().data, electoral(7, "Liceo Alfieri"));
    let entries = h.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(operations(&entries, "electoral.update"), 2);
    assert!(entries.iter().all(|e| !e.entry.detail.contains("Mazzini")));
    assert!(h.dump().await.iter().all(|(_, row)| !row.contains("Mazzini")), "the old seat is gone from every table");
    // The bulk load (ELE-7): every row or none.
    let load = AuditEntry::from_ctx(&ctx("load"), "electoral.load", "ok");
    let err = h.store.load_electoral_data("L219", &[(id, electoral(1, "A")), (id + 999, electoral(2, "B"))], &load).await.unwrap_err();
    assert!(matches!(err, StoreError::Refused { ref field, .. } if field == "rows[1]"), "{err}");
    assert_eq!(h.store.electoral_data(id).await.unwrap().unwrap().data, electoral(7, "Liceo Alfieri"));
    let err = h.store.load_electoral_data("H501", &[(id, electoral(1, "A"))], &load).await.unwrap_err();
    assert!(matches!(err, StoreError::Refused { ref field, .. } if field == "rows[0]"), "{err}");
    assert_eq!(h.store.load_electoral_data("L219", &[(id, electoral(1, "A"))], &load).await.unwrap(), 1);
    assert_eq!(h.store.electoral_data(id).await.unwrap().unwrap().data, electoral(1, "A"));
    let entries = h.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(operations(&entries, "electoral.load"), 1, "refused loads leave no entry");
    assert!(h.store.verify_audit_chain().await.unwrap().is_intact());
}

async fn a_rectification_request_waits_for_one_answer_from_its_comune(h: &Harness) {
    use anagrafe_domain::electoral::RectificationTopic;
    use anagrafe_store::{NewRectification, RectificationAnswer};
    let id = h.store.register_person(&mario(None), &ctx("reg")).await.unwrap();
    let ask = AuditEntry::from_ctx(&ctx("ask"), "electoral.rectification_request", "ok");
    let request = NewRectification {
        person_id: id,
        topics: vec![RectificationTopic::Section, RectificationTopic::Other],
        message: "La sezione è quella della mia vecchia via.".into(),
    };
    let n = h.store.request_rectification(&request, &ask).await.unwrap();
    let err = h.store.request_rectification(&request, &ask).await.unwrap_err();
    assert!(matches!(err, StoreError::State { ref field, .. } if field == "rectification"), "{err}");
    let open = h.store.rectifications("L219", true, 10).await.unwrap();
    assert_eq!(open.iter().map(|r| (r.id, r.status.as_str(), r.topics.clone())).collect::<Vec<_>>(), [(n, "open", request.topics.clone())]);
    assert!(h.store.rectifications("H501", false, 10).await.unwrap().is_empty());
    assert_eq!(open[0].id_anpr, None, "Mario was registered without an ID ANPR");
    let answer = RectificationAnswer { accepted: true, answer: "Sezione corretta: ora è la 12.".into(), answered_by: "elettorale".into() };
    let reply = AuditEntry::from_ctx(&ctx("reply"), "electoral.rectification_answer", "ok");
    // Another comune's officer does not even see the request (ELE-3).
    assert!(matches!(h.store.answer_rectification(n, "H501", &answer, &reply).await, Err(StoreError::NotFound(_))));
    assert_eq!(h.store.answer_rectification(n, "L219", &answer, &reply).await.unwrap(), id);
    let again = h.store.answer_rectification(n, "L219", &answer, &reply).await.unwrap_err();
    assert!(matches!(again, StoreError::State { .. }), "{again}");
    let mine = h.store.rectifications_of(id).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].status.as_str(), mine[0].answer.as_deref(), mine[0].answered_by.as_deref()),
        ("accepted", Some(answer.answer.as_str()), Some("elettorale"))
    );
    assert!(mine[0].answered_at.is_some());
    assert!(h.store.rectifications("L219", true, 10).await.unwrap().is_empty());
    assert_eq!(h.store.rectifications("L219", false, 10).await.unwrap().len(), 1);
    // Answered, the person may ask again.
    let second = h.store.request_rectification(&request, &ask).await.unwrap();
    assert!(second > n);
    let entries = h.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(operations(&entries, "electoral.rectification_request"), 2);
    let answered: Vec<_> = entries.iter().filter(|e| e.entry.operation == "electoral.rectification_answer").collect();
    assert_eq!(answered.len(), 1, "refused answers leave no entry");
    assert_eq!(answered[0].entry.subject_person, Some(id));
    assert!(h.store.verify_audit_chain().await.unwrap().is_intact());
}
