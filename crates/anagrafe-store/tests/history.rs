//! REG-2 history, as a property: for random sequences of changes to one record, the record the
//! store returns "as of" any date equals what a straightforward replay of those changes up to
//! that date gives. Both backends (PostgreSQL when `ANAGRAFE_TEST_DATABASE_URL` is set).

#[macro_use]
mod common;
use common::Harness;

use anagrafe_domain::decode::{DecodeTable, StatoCivile};
use anagrafe_domain::ops::*;
use anagrafe_domain::{
    Belfiore, BirthPlace, Country, HouseholdKind, IdAnpr, IdGenerator, ItalianAddress, PartialDate, PersonName, Residence, Sex,
};
use anagrafe_store::{IdIssuer, WriteContext};
use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const COMUNI: [&str; 2] = ["H501", "F205"];
const STREETS: [&str; 4] = ["Roma", "Verdi", "Mazzini", "Cavour"];
const GIVEN: [&str; 3] = ["Anna", "Bruna", "Carla"];
const SURNAMES: [&str; 3] = ["Rossi", "Russo", "Rossetti"];

/// One change, `gap` days after the previous one (0: the same day).
#[derive(Debug, Clone)]
enum Step {
    Move { gap: u64, comune: usize, street: usize },
    Civil { gap: u64, status: usize },
    Rename { gap: u64, given: usize },
    Correct { gap: u64, surname: usize },
    NewHousehold { gap: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    let gap = prop_oneof![Just(0u64), 1u64..400];
    prop_oneof![
        (gap.clone(), 0..COMUNI.len(), 0..STREETS.len()).prop_map(|(gap, comune, street)| Step::Move { gap, comune, street }),
        (gap.clone(), 0..4usize).prop_map(|(gap, status)| Step::Civil { gap, status }),
        (gap.clone(), 0..GIVEN.len()).prop_map(|(gap, given)| Step::Rename { gap, given }),
        (gap.clone(), 0..SURNAMES.len()).prop_map(|(gap, surname)| Step::Correct { gap, surname }),
        gap.prop_map(|gap| Step::NewHousehold { gap }),
    ]
}

const STATUSES: [StatoCivile; 4] = [StatoCivile::CelibeNubile, StatoCivile::Coniugato, StatoCivile::Vedovo, StatoCivile::Divorziato];

/// What the replay keeps: each versioned field as `(from, value)` in the order applied.
#[derive(Debug, Default)]
struct Model {
    residence: Vec<(NaiveDate, (String, String))>,
    civil: Vec<(NaiveDate, u16)>,
    given: Vec<(NaiveDate, String)>,
    household: Vec<(NaiveDate, i64)>,
    /// Corrections hold for every date: the last one wins.
    surname: String,
}

fn at<T: Clone>(versions: &[(NaiveDate, T)], on: NaiveDate) -> Option<T> {
    versions.iter().filter(|(from, _)| *from <= on).last().map(|(_, v)| v.clone())
}

fn address(comune: &str, street: &str) -> Residence {
    Residence::Italy(ItalianAddress {
        comune: Belfiore::parse(comune).unwrap(),
        cap: None,
        species: anagrafe_testkit::line("VIA"),
        toponym: anagrafe_testkit::line(street),
        civic: None,
        internal: None,
        locality: None,
    })
}

async fn run_case(h: &Harness, steps: &[Step], n: usize) -> Result<(), TestCaseError> {
    let ctx = WriteContext::cli("history");
    let issuer = IdIssuer { generator: IdGenerator::new(&[9u8; 16]), key_version: 1, high_water: None };
    let start = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
    let given = GIVEN[n % GIVEN.len()];
    let reg = Registration {
        reason: "9".into(),
        reason_description: Some(anagrafe_testkit::line("property test")),
        effective_date: start,
        name: PersonName::new(Some("Rossi"), Some(given)).unwrap(),
        sex: Sex::F,
        birth_date: PartialDate::parse("1980-05-10").unwrap(),
        birth_place: BirthPlace::Comune { code: Belfiore::parse("H501").unwrap() },
        codice_fiscale: None,
        citizenships: vec![Country::Italia],
        civil_status: StatoCivile::CelibeNubile,
        residence: address("H501", "Roma"),
        household: HouseholdChoice::New { household: HouseholdKind::Family, name: None },
        email: None,
        digital_domicile: None,
        origin: None,
        birth_act: None,
        parents: Vec::new(),
    };
    let a = h.store.apply(&Operation::Register(Box::new(reg)), &ctx, &issuer, None).await.unwrap();
    let id: IdAnpr = a.id_anpr.unwrap();
    let mut m = Model {
        residence: vec![(start, ("H501".into(), "Roma".into()))],
        civil: vec![(start, 1)],
        given: vec![(start, given.into())],
        household: vec![(start, a.family_id.unwrap())],
        surname: "Rossi".into(),
    };
    let mut t = start;
    let mut probes = vec![start];
    for s in steps {
        let gap = match s {
            Step::Move { gap, .. }
            | Step::Civil { gap, .. }
            | Step::Rename { gap, .. }
            | Step::Correct { gap, .. }
            | Step::NewHousehold { gap } => *gap,
        };
        t = t + Days::new(gap);
        probes.extend([t.pred_opt().unwrap(), t, t.succ_opt().unwrap()]);
        let op = match s {
            Step::Move { comune, street, .. } => {
                let current = at(&m.residence, t).unwrap();
                let moves = current.0 != COMUNI[*comune];
                let household = moves.then_some(HouseholdChoice::New { household: HouseholdKind::Family, name: None });
                Operation::ChangeResidence {
                    person: id,
                    change: ResidenceChange {
                        effective_date: t,
                        residence: address(COMUNI[*comune], STREETS[*street]),
                        household,
                        members: vec![],
                    },
                }
            }
            Step::Civil { status, .. } => Operation::ChangeCivilStatus {
                person: id,
                change: CivilStatusChange { effective_date: t, civil_status: STATUSES[*status] },
            },
            Step::Rename { given, .. } => Operation::ChangeGeneralita {
                person: id,
                change: GeneralitaChange {
                    case: GeneralitaCase::OnRequest,
                    effective_date: t,
                    name: Some(PersonName::new(Some(&m.surname), Some(GIVEN[*given])).unwrap()),
                    sex: None,
                    birth_date: None,
                    birth_place: None,
                    codice_fiscale: None,
                },
            },
            Step::Correct { surname, .. } => Operation::ChangeGeneralita {
                person: id,
                change: GeneralitaChange {
                    case: GeneralitaCase::MaterialErrorAligned,
                    effective_date: t,
                    name: Some(PersonName::new(Some(SURNAMES[*surname]), Some(&at(&m.given, t).unwrap())).unwrap()),
                    sex: None,
                    birth_date: None,
                    birth_place: None,
                    codice_fiscale: None,
                },
            },
            Step::NewHousehold { .. } => Operation::MoveHousehold {
                person: id,
                change: HouseholdMove {
                    effective_date: t,
                    household: HouseholdChoice::New { household: HouseholdKind::Family, name: None },
                },
            },
        };
        match h.store.apply(&op, &ctx, &issuer, None).await {
            Ok(applied) => match s {
                Step::Move { comune, street, .. } => {
                    m.residence.push((t, (COMUNI[*comune].into(), STREETS[*street].into())));
                    if let Some(f) = applied.family_id {
                        m.household.push((t, f));
                    }
                }
                Step::Civil { status, .. } => m.civil.push((t, STATUSES[*status].code())),
                Step::Rename { given, .. } => m.given.push((t, GIVEN[*given].into())),
                Step::Correct { surname, .. } => m.surname = SURNAMES[*surname].into(),
                Step::NewHousehold { .. } => m.household.push((t, applied.family_id.unwrap())),
            },
            // A change that alters nothing is refused; the replay skips it too.
            Err(anagrafe_store::StoreError::Refused { field, .. }) if field == "case" => {}
            Err(e) => return Err(TestCaseError::fail(format!("{s:?} on {t}: {e}"))),
        }
    }
    let (pid, _) = h.store.find_by_id_anpr(&id).await.unwrap().unwrap();
    prop_assert!(h.store.person(pid, Some(start.pred_opt().unwrap())).await.is_err(), "no record before the registration");
    for on in probes.into_iter().filter(|d| *d >= start) {
        let r = h.store.person(pid, Some(on)).await.map_err(|e| TestCaseError::fail(format!("as of {on}: {e}")))?.record;
        let Residence::Italy(addr) = &r.residence else { return Err(TestCaseError::fail("abroad?")) };
        let expected = at(&m.residence, on).unwrap();
        prop_assert_eq!((addr.comune.to_string(), addr.toponym.to_string()), expected, "residence as of {}", on);
        prop_assert_eq!(r.civil_status.code(), at(&m.civil, on).unwrap(), "civil status as of {}", on);
        prop_assert_eq!(r.generalita.name.given().unwrap(), at(&m.given, on).unwrap(), "name as of {}", on);
        prop_assert_eq!(r.generalita.name.surname().unwrap(), m.surname.as_str(), "corrected surname as of {}", on);
        let fam = match r.household {
            Some(anagrafe_domain::Household::Family { family_id, .. }) => family_id,
            other => return Err(TestCaseError::fail(format!("household as of {on}: {other:?}"))),
        };
        prop_assert_eq!(fam, at(&m.household, on).unwrap(), "household as of {}", on);
    }
    Ok(())
}

fn property(h: Option<Harness>, rt: &tokio::runtime::Runtime, cases: u32) {
    let Some(h) = h else { return };
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&proptest::collection::vec(step(), 1..12), |steps| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(run_case(&h, &steps, n))
    });
    rt.block_on(h.done());
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn sqlite_as_of_reads_equal_a_replay_of_random_changes() {
    let rt = runtime();
    let h = rt.block_on(Harness::sqlite());
    property(Some(h), &rt, 48);
}

#[test]
fn postgres_as_of_reads_equal_a_replay_of_random_changes() {
    let rt = runtime();
    let h = rt.block_on(Harness::postgres());
    property(h, &rt, 24);
}
