//! The register's state-dependent rules (REG-2, REG-6, IDN-6): pure decisions over the facts an
//! operation reads in its write transaction.
//!
//! The store reads the facts (an ID's state, the record as it is now, a household's kind, comune
//! and members, an open duplicate case) under the transaction's locks, asks a function here what
//! follows, and writes the answer with its event and trace entry. Nothing here does I/O, so every
//! rule is tested on its own (below) and a newcomer finds a rule without reading SQL.

use crate::decode::{DecodeTable, LegameConvivenza, RelazioneParentela, StatoCivile, StatoValidazioneCf};
use crate::ops::{GeneralitaCase, GeneralitaChange, HouseholdChoice};
use crate::why::Why;
use crate::{Belfiore, CodiceFiscale, Country, Generalita, IdStatus, RegisterStatus, Residence};
use chrono::NaiveDate;

/// Why the register's state refuses an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The register's state does not allow it now (409), on this field.
    State {
        /// The request's field the refusal is about.
        field: String,
        /// Why.
        reason: Why,
    },
    /// The request does not fit the record it is about (422), on this field.
    Unfit {
        /// The request's field the refusal is about.
        field: String,
        /// Why.
        reason: Why,
    },
    /// The acting comune is not the one competent for the record (REG-6).
    NotCompetent {
        /// Who acts.
        acting: Belfiore,
        /// Who is competent.
        competent: Belfiore,
    },
}

impl Refusal {
    fn state(field: &str, reason: Why) -> Self {
        Self::State { field: field.to_owned(), reason }
    }

    fn unfit(field: &str, reason: Why) -> Self {
        Self::Unfit { field: field.to_owned(), reason }
    }
}

/// What a rule answers.
pub type Decision<T> = Result<T, Refusal>;

/// The ID names a record that can be written to: valid, not suspended nor invalidated.
pub fn usable_id(status: IdStatus, field: &str) -> Decision<()> {
    match status {
        IdStatus::Valid => Ok(()),
        IdStatus::Suspended => Err(Refusal::state(field, Why::new("id-suspended"))),
        IdStatus::Invalid => Err(Refusal::state(field, Why::new("id-invalid"))),
    }
}

/// The comune acting must be the one competent for the record (REG-6); the register itself
/// (no comune) may act on any.
pub fn competent(acting: Option<Belfiore>, competent: Belfiore) -> Decision<()> {
    match acting {
        Some(acting) if acting != competent => Err(Refusal::NotCompetent { acting, competent }),
        _ => Ok(()),
    }
}

/// Either of two comuni may act (a duplicate case concerns both records' comuni).
pub fn competent_for_either(acting: Option<Belfiore>, a: Belfiore, b: Belfiore) -> Decision<()> {
    competent(acting, a).or_else(|_| competent(acting, b))
}

/// The record is of a living person still in the register.
pub fn living(status: RegisterStatus, field: &str) -> Decision<()> {
    match status {
        RegisterStatus::Resident | RegisterStatus::Aire => Ok(()),
        RegisterStatus::Cancelled => Err(Refusal::state(field, Why::new("cancelled"))),
        RegisterStatus::Deceased => Err(Refusal::state(field, Why::new("deceased"))),
    }
}

/// The code of tab. 36 recorded with a change of civil status.
pub fn civil_status_mutation(s: StatoCivile) -> u16 {
    match s {
        StatoCivile::Coniugato => 12,
        StatoCivile::Vedovo => 13,
        StatoCivile::UnitoCivilmente => 18,
        StatoCivile::StatoLiberoSeguitoScioglimento => 19,
        _ => 7,
    }
}

/// The relation code of a household member, checked against the table of the household's
/// kind: tab. 06 for a cohabitation, tab. 05 for a family.
pub fn relation_code(cohabitation: bool, relation: u16, field: &str) -> Decision<i16> {
    let known =
        if cohabitation { LegameConvivenza::from_code(relation).is_some() } else { RelazioneParentela::from_code(relation).is_some() };
    if !known {
        return Err(Refusal::unfit(field, not_in_table(cohabitation)));
    }
    i16::try_from(relation).map_err(|_| Refusal::unfit(field, not_in_table(cohabitation)))
}

/// A relation that is not of the household's table: tab. 06 (bonds) for a cohabitation, tab. 05
/// (relations) for a family.
fn not_in_table(cohabitation: bool) -> Why {
    Why::new("not-in-table").arg("table", if cohabitation { "06" } else { "05" })
}

/// The relation code of the head of a family or cohabitation.
pub const HEAD: i16 = 1;

/// How the open row of a history table ends at a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closure {
    /// A new row holds from the same day: the old one is superseded (transaction time).
    Supersede,
    /// The old row ends on the day (effective time).
    End,
}

/// How a history row open since `open_from` closes at `d`. When a new row replaces it from `d`,
/// a row that started on `d` itself is superseded; otherwise (a closure: death, cancellation,
/// leaving) it is kept with an empty period, so the record still shows its last data. A row that
/// started after `d` refuses the change.
pub fn close_at(open_from: NaiveDate, d: NaiveDate, replaced: bool) -> Decision<Closure> {
    if open_from > d {
        return Err(Refusal::unfit("effective_date", Why::new("before-current").arg("date", crate::date::dmy(open_from))));
    }
    Ok(if open_from == d && replaced { Closure::Supersede } else { Closure::End })
}

/// A household as the register holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdFacts {
    /// Its id.
    pub family_id: i64,
    /// A cohabitation rather than a family.
    pub cohabitation: bool,
    /// The comune it is registered in.
    pub comune: Belfiore,
    /// Since when.
    pub formed_on: NaiveDate,
    /// When it was dissolved, if it was.
    pub dissolved_on: Option<NaiveDate>,
}

impl HouseholdFacts {
    /// The household still exists.
    pub fn open(&self, field: &str) -> Decision<()> {
        match self.dissolved_on {
            Some(_) => Err(Refusal::state(field, Why::new("household-dissolved").arg("family", self.family_id))),
            None => Ok(()),
        }
    }
}

/// Whether a person may join `household` on `d` from `comune`, with `relation` (tab. 05 or
/// 06): the stored relation code.
pub fn join(household: &HouseholdFacts, relation: u16, comune: Belfiore, d: NaiveDate) -> Decision<i16> {
    household.open("household.family_id")?;
    if d < household.formed_on {
        return Err(Refusal::unfit(
            "effective_date",
            Why::new("before-household").arg("date", crate::date::dmy(household.formed_on)).arg("family", household.family_id),
        ));
    }
    if household.comune != comune {
        return Err(Refusal::unfit(
            "household.family_id",
            Why::new("household-elsewhere").arg("family", household.family_id).arg("comune", household.comune),
        ));
    }
    relation_code(household.cohabitation, relation, "household.relation")
}

/// What leaving a household does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// Others stay.
    OthersStay,
    /// Nobody is left: the household is dissolved.
    Dissolves,
}

/// Whether a member with `relation` may leave a household of `members` (themselves included).
/// The head of a household with other members cannot leave unless `force` (a death, a record
/// deleted as a duplicate).
pub fn leave(relation: i16, members: usize, force: bool) -> Decision<Leaving> {
    if relation == HEAD && members > 1 && !force {
        return Err(Refusal::state("household", Why::new("head-leaves")));
    }
    Ok(if members <= 1 { Leaving::Dissolves } else { Leaving::OthersStay })
}

/// A move to another household: refused when it is the household the person is already in.
pub fn move_household(current: Option<i64>, choice: &HouseholdChoice) -> Decision<()> {
    match (current, choice) {
        (Some(now), HouseholdChoice::Join { family_id, .. }) if now == *family_id => {
            Err(Refusal::state("household.family_id", Why::new("already-member")))
        }
        _ => Ok(()),
    }
}

/// Age of majority: a household of minors only is not left behind by a move.
const ADULT: u32 = 18;

/// Who moves with a person, as the register sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Together {
    /// Everyone in the household moves: it stays one household at the new address.
    pub whole_household: bool,
    /// Who moves, the person first, then the members named, in their order.
    pub movers: Vec<i64>,
}

/// The members of a household moving with `person` (a change of address declared for several
/// people, ANPR's *pratica* lists them all). `household` is the person's household now, each
/// member with the first day of their birth date; `with` the other members named to move, in
/// the request's order (`members[i]` in refusals). Each is named once, each lives in the
/// person's household, and the move does not leave minors alone in it: a newborn never stays
/// behind because nobody ticked it.
pub fn moving_together(person: i64, household: &[(i64, NaiveDate)], with: &[i64], on: NaiveDate) -> Decision<Together> {
    if !with.is_empty() && household.len() <= 1 {
        return Err(Refusal::unfit("members", Why::new("lives-alone")));
    }
    let mut movers = vec![person];
    for (i, m) in with.iter().enumerate() {
        let field = format!("members[{i}]");
        if movers.contains(m) {
            return Err(Refusal::unfit(&field, Why::new("named-twice")));
        }
        if !household.iter().any(|(p, _)| p == m) {
            return Err(Refusal::state(&field, Why::new("not-in-household")));
        }
        movers.push(*m);
    }
    let staying: Vec<&(i64, NaiveDate)> = household.iter().filter(|(p, _)| !movers.contains(p)).collect();
    let minor = |born: &NaiveDate| on.years_since(*born).is_none_or(|age| age < ADULT);
    if !staying.is_empty() && staying.iter().all(|(_, born)| minor(born)) {
        return Err(Refusal::unfit("members", Why::new("minors-alone").arg("count", staying.len())));
    }
    Ok(Together { whole_household: staying.is_empty(), movers })
}

/// The new relations of a household's members, checked against its current members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationsPlan {
    /// `(person, relation)` rows whose relation changes.
    pub changed: Vec<(i64, i16)>,
    /// The head is another person (event code 1 of tab. famiglia) rather than only the
    /// relations (code 2).
    pub head_changed: bool,
}

/// The relations of a household's members set at once: every current member listed once, each
/// with a relation of the household's table. `wanted` pairs each listed person (already resolved
/// from their ID ANPR) with the relation asked for.
pub fn relations(cohabitation: bool, current: &[(i64, i16)], wanted: &[(i64, u16)]) -> Decision<RelationsPlan> {
    let mut rows = Vec::with_capacity(wanted.len());
    for (i, (pid, relation)) in wanted.iter().enumerate() {
        if !current.iter().any(|(p, _)| p == pid) {
            return Err(Refusal::state(&format!("members[{i}].id_anpr"), Why::new("not-member")));
        }
        rows.push((*pid, relation_code(cohabitation, *relation, &format!("members[{i}].relation"))?));
    }
    if rows.len() != current.len() {
        return Err(Refusal::state("members", Why::new("list-all-members").arg("count", current.len())));
    }
    let head = |list: &[(i64, i16)]| list.iter().find(|(_, r)| *r == HEAD).map(|h| h.0);
    let head_changed = head(current) != head(&rows);
    let changed = rows.into_iter().filter(|row| !current.contains(row)).collect();
    Ok(RelationsPlan { changed, head_changed })
}

/// A change of residence as the register sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResidenceMove {
    /// `stesso_comune`, `altro_comune`, `rimpatrio` or `estero` (the event's kind).
    pub kind: &'static str,
    /// The record's state afterwards.
    pub status: RegisterStatus,
    /// The person changes household too (another comune, or back from abroad).
    pub moves_household: bool,
}

/// What a change of residence from `current` to `new` is, for a person of `citizenships`;
/// `household_given` says whether the request names the household at the new address, and
/// `whole_household` whether everyone in the person's household moves too (see
/// [`moving_together`]): when only part of it moves, the movers leave it, so the request must
/// say where they go.
pub fn residence_move(
    current: &Residence,
    new: &Residence,
    citizenships: &[Country],
    household_given: bool,
    whole_household: bool,
) -> Decision<ResidenceMove> {
    let (from, to) = (current.competent_comune(), new.competent_comune());
    let (kind, status) = match (current, new) {
        (Residence::Italy(_), Residence::Italy(_)) if from == to => ("stesso_comune", RegisterStatus::Resident),
        (Residence::Italy(_), Residence::Italy(_)) => ("altro_comune", RegisterStatus::Resident),
        (Residence::Abroad { .. }, Residence::Italy(_)) => ("rimpatrio", RegisterStatus::Resident),
        (Residence::Abroad { .. }, Residence::Abroad { .. }) => ("estero", RegisterStatus::Aire),
        (Residence::Italy(_), Residence::Abroad { .. }) => {
            return Err(Refusal::unfit("residence", Why::new("move-abroad")));
        }
    };
    if status == RegisterStatus::Aire && !citizenships.contains(&Country::Italia) {
        return Err(Refusal::unfit("residence", Why::new("aire-italians")));
    }
    let moves_household = from != to || kind == "rimpatrio" || !whole_household;
    if moves_household && !household_given {
        let why = if whole_household { Why::new("household-required-move") } else { Why::new("household-required-part") };
        return Err(Refusal::unfit("household", why));
    }
    Ok(ResidenceMove { kind, status, moves_household })
}

/// An emigration to AIRE is for Italian citizens only.
pub fn to_aire(citizenships: &[Country]) -> Decision<()> {
    if citizenships.contains(&Country::Italia) { Ok(()) } else { Err(Refusal::unfit("reason", Why::new("aire-foreigner"))) }
}

/// The open duplicate case between two records (IDN-6 case 5): it exists and both IDs are
/// suspended.
pub fn open_duplicate_case(case: Option<i64>, a: IdStatus, b: IdStatus, field: &str) -> Decision<i64> {
    match (case, a, b) {
        (Some(case), IdStatus::Suspended, IdStatus::Suspended) => Ok(case),
        _ => Err(Refusal::state(field, Why::new("no-duplicate-case"))),
    }
}

/// A duplicate report names two different records.
pub fn two_records(a: i64, b: i64) -> Decision<()> {
    if a == b { Err(Refusal::unfit("persons", Why::new("same-record"))) } else { Ok(()) }
}

/// A minor's adoption (IDN-6 case 4): the child is resident in Italy.
pub fn adoptable_child(child: RegisterStatus) -> Decision<()> {
    if child != RegisterStatus::Resident {
        return Err(Refusal::state("person", Why::new("child-not-resident")));
    }
    Ok(())
}

/// A minor's adoption (IDN-6 case 4): the child joins a family (not a cohabitation) that
/// still exists.
pub fn adoptive_household(household: &HouseholdFacts) -> Decision<()> {
    household.open("family_id")?;
    if household.cohabitation {
        return Err(Refusal::unfit("family_id", Why::new("adopt-cohabitation")));
    }
    Ok(())
}

/// The head of a household, among its members.
pub fn head_of(members: &[(i64, i16)], field: &str) -> Decision<i64> {
    members.iter().find(|(_, r)| *r == HEAD).map(|(p, _)| *p).ok_or_else(|| Refusal::state(field, Why::new("no-head")))
}

/// What a change of personal data does (IDN-6 cases 1–3 and 7–9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneralitaOutcome {
    /// The personal data afterwards, with their code and its validation.
    pub new: Generalita,
    /// The code changes.
    pub cf_changed: bool,
    /// The Agency is told (with these data).
    pub tell_agency: Option<Generalita>,
    /// Nothing is rewritten: the register was right and its code already theirs; only the
    /// Agency is told.
    pub unchanged: bool,
    /// The date the new version holds from: the birth for a correction (it held from the
    /// start), otherwise the change's effective date.
    pub from: NaiveDate,
}

/// The outcome of `change` on the personal data `old`; `compute_cf` is the code the data yield.
pub fn generalita(
    change: &GeneralitaChange,
    old: &Generalita,
    compute_cf: impl Fn(&Generalita) -> Option<CodiceFiscale>,
) -> Decision<GeneralitaOutcome> {
    let mut new = change.apply_to(old);
    let previous = old.codice_fiscale;
    let register_right = change.case == GeneralitaCase::MaterialErrorNotAlignedRegisterRight;
    let (code, validation, tell) = match change.case {
        // The register is right: its data go to the Agency as they are; the code they yield
        // may differ from the one the person held.
        GeneralitaCase::MaterialErrorNotAlignedRegisterRight => {
            (compute_cf(old).or(previous), StatoValidazioneCf::DatiAnagraficiNonValidati, true)
        }
        // The Agency is right: the register takes its data (and its code).
        GeneralitaCase::MaterialErrorNotAlignedAgencyRight => {
            (change.codice_fiscale.or_else(|| compute_cf(&new)).or(previous), StatoValidazioneCf::DatiAnagraficiValidati, false)
        }
        _ => (compute_cf(&new).or(previous), StatoValidazioneCf::DatiAnagraficiNonValidati, true),
    };
    new.codice_fiscale = code;
    new.cf_validation = validation;
    let unchanged = new == *old;
    if unchanged && !register_right {
        return Err(Refusal::unfit("case", Why::new("nothing-changed")));
    }
    let tell_agency = tell.then(|| if register_right { old.clone() } else { new.clone() });
    let from = if change.case.is_correction() { old.birth_date.first_day() } else { change.effective_date };
    Ok(GeneralitaOutcome { cf_changed: code != previous, new, tell_agency, unchanged, from })
}

/// Whether a person of these citizenships may hold this document: a residence permit is never an
/// Italian's; the attestations of tab. 08 (3, 4) are an EU citizen's, the permits (1, 2) are not.
fn document_holder(kind: &crate::DocumentKind, citizenships: &[Country]) -> Decision<()> {
    use crate::decode::TipoSoggiorno as T;
    let crate::DocumentKind::PermessoSoggiorno(title) = kind else { return Ok(()) };
    if citizenships.contains(&Country::Italia) {
        return Err(Refusal::unfit("kind", Why::new("permit-italian")));
    }
    let eu = citizenships.iter().any(|c| matches!(c, Country::Foreign(z) if crate::electoral::EU_STATES.contains(&z.as_str())));
    match title {
        T::AttestazioneCaratterePermanente | T::AttestazioneRegolarita if !eu => {
            Err(Refusal::unfit("permit_kind", Why::new("permit-attestation-eu")))
        }
        T::Permesso | T::CartaSoggiornoPermessoSoggiorno if eu => Err(Refusal::unfit("permit_kind", Why::new("permit-eu-citizen"))),
        _ => Ok(()),
    }
}

/// Recording a document issued (REG-1). `held` are the person's documents, `elsewhere` whether
/// another person holds a document of that kind and number. A person holds one valid document of
/// each kind (identity card, passport, residence title) at a time: a new one renews the one in
/// force, which must be named. Answers the index in `held` of the document renewed.
pub fn document_issue(
    held: &[crate::documents::HeldDocument],
    elsewhere: bool,
    citizenships: &[Country],
    issue: &crate::documents::DocumentIssue,
) -> Decision<Option<usize>> {
    use crate::extract::DocumentSearch;
    let d = &issue.document;
    let family = DocumentSearch::ALL.into_iter().find(|f| f.matches(&d.kind)).unwrap_or(DocumentSearch::IdentityCard);
    if elsewhere || held.iter().any(|h| h.document.number == d.number && family.matches(&h.document.kind)) {
        return Err(Refusal::state("number", Why::new("document-number-taken")));
    }
    document_holder(&d.kind, citizenships)?;
    let renewed = match &issue.renews {
        Some(n) => {
            let i = held
                .iter()
                .position(|h| &h.document.number == n && h.ended.is_none())
                .ok_or_else(|| Refusal::unfit("renews", Why::new("document-not-held")))?;
            if !family.matches(&held[i].document.kind) {
                return Err(Refusal::unfit("renews", Why::new("document-renew-kind")));
            }
            if d.issued_on < held[i].document.issued_on {
                return Err(Refusal::unfit("issued_on", Why::new("document-renew-earlier")));
            }
            Some(i)
        }
        None => None,
    };
    let in_force =
        held.iter().enumerate().find(|(i, h)| Some(*i) != renewed && family.matches(&h.document.kind) && h.valid_on(d.issued_on));
    if let Some((_, h)) = in_force {
        return Err(Refusal::state("renews", Why::new("document-in-force").arg("number", h.document.number.as_str())));
    }
    Ok(renewed)
}

/// Recording a document's end before its expiry: it is the person's and has not ended, and the
/// day falls within its life. Answers its index in `held`.
pub fn document_end(held: &[crate::documents::HeldDocument], end: &crate::documents::DocumentEnd) -> Decision<usize> {
    let i =
        held.iter().position(|h| h.document.number == end.number).ok_or_else(|| Refusal::unfit("number", Why::new("document-not-held")))?;
    let h = &held[i];
    if h.ended.is_some() {
        return Err(Refusal::state("number", Why::new("document-ended")));
    }
    if end.ended_on < h.document.issued_on || h.document.expires_on.is_some_and(|e| end.ended_on >= e) {
        return Err(Refusal::unfit("ended_on", Why::new("document-end-outside")));
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Belfiore {
        s.parse().unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn household(cohabitation: bool) -> HouseholdFacts {
        HouseholdFacts { family_id: 7, cohabitation, comune: b("H501"), formed_on: d("2020-01-01"), dissolved_on: None }
    }

    #[test]
    fn only_a_valid_id_can_be_written_to() {
        assert_eq!(usable_id(IdStatus::Valid, "person"), Ok(()));
        for s in [IdStatus::Suspended, IdStatus::Invalid] {
            assert!(matches!(usable_id(s, "person"), Err(Refusal::State { field, .. }) if field == "person"));
        }
    }

    #[test]
    fn only_the_competent_comune_or_the_register_acts() {
        assert_eq!(competent(None, b("H501")), Ok(()));
        assert_eq!(competent(Some(b("H501")), b("H501")), Ok(()));
        assert_eq!(competent(Some(b("F205")), b("H501")), Err(Refusal::NotCompetent { acting: b("F205"), competent: b("H501") }));
        assert_eq!(competent_for_either(Some(b("F205")), b("H501"), b("F205")), Ok(()));
        assert!(competent_for_either(Some(b("L219")), b("H501"), b("F205")).is_err());
    }

    #[test]
    fn a_record_closed_or_of_a_deceased_person_is_not_living() {
        assert!(living(RegisterStatus::Resident, "person").is_ok());
        assert!(living(RegisterStatus::Aire, "person").is_ok());
        assert!(living(RegisterStatus::Cancelled, "person").is_err());
        assert!(living(RegisterStatus::Deceased, "person").is_err());
    }

    #[test]
    fn relations_are_checked_against_the_households_table() {
        // 1 (head) is in both tables; 2 (spouse) only in tab. 05.
        assert_eq!(relation_code(false, 2, "r"), Ok(2));
        assert_eq!(relation_code(false, 1, "r"), Ok(1));
        assert!(relation_code(false, 999, "r").is_err());
        assert!(relation_code(true, 999, "r").is_err());
    }

    #[test]
    fn a_row_closes_by_superseding_on_its_first_day_and_refuses_an_earlier_date() {
        assert_eq!(close_at(d("2024-05-01"), d("2024-05-01"), true), Ok(Closure::Supersede));
        assert_eq!(close_at(d("2024-05-01"), d("2024-05-01"), false), Ok(Closure::End));
        assert_eq!(close_at(d("2024-05-01"), d("2024-06-01"), true), Ok(Closure::End));
        assert!(matches!(close_at(d("2024-05-01"), d("2024-04-30"), true), Err(Refusal::Unfit { field, .. }) if field == "effective_date"));
    }

    #[test]
    fn joining_checks_the_households_state_date_and_comune() {
        let h = household(false);
        assert_eq!(join(&h, 2, b("H501"), d("2024-01-01")), Ok(2));
        assert!(join(&h, 2, b("H501"), d("2019-12-31")).is_err());
        assert!(join(&h, 2, b("F205"), d("2024-01-01")).is_err());
        let gone = HouseholdFacts { dissolved_on: Some(d("2023-01-01")), ..h };
        assert!(matches!(join(&gone, 2, b("H501"), d("2024-01-01")), Err(Refusal::State { .. })));
    }

    #[test]
    fn the_head_stays_while_others_remain_unless_forced() {
        assert!(leave(HEAD, 2, false).is_err());
        assert_eq!(leave(HEAD, 2, true), Ok(Leaving::OthersStay));
        assert_eq!(leave(HEAD, 1, false), Ok(Leaving::Dissolves));
        assert_eq!(leave(2, 3, false), Ok(Leaving::OthersStay));
    }

    #[test]
    fn moving_into_ones_own_household_is_refused() {
        let join = HouseholdChoice::Join { family_id: 7, relation: 2 };
        assert!(move_household(Some(7), &join).is_err());
        assert!(move_household(Some(8), &join).is_ok());
        assert!(move_household(None, &join).is_ok());
    }

    #[test]
    fn a_family_moves_together_and_leaves_no_child_alone() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let on = d("2026-06-01");
        // Mother 1, father 2, a newborn 3, a grandparent 4.
        let home = [(1, d("1990-01-01")), (2, d("1988-05-05")), (3, d("2026-03-01")), (4, d("1950-02-02"))];
        let whole = moving_together(1, &home, &[2, 3, 4], on).unwrap();
        assert!(whole.whole_household);
        assert_eq!(whole.movers, vec![1, 2, 3, 4]);
        // The parents and the child move, the grandparent stays: a household with an adult.
        assert!(!moving_together(1, &home, &[2, 3], on).unwrap().whole_household);
        // Everyone but the newborn: refused, the child would stay with no adult.
        let left = moving_together(1, &home, &[2, 4], on).unwrap_err();
        assert!(matches!(left, Refusal::Unfit { ref field, .. } if field == "members"), "{left:?}");
        // A child of 17 is still a minor; at 18 they may stay on their own.
        let teen = [(1, d("1990-01-01")), (3, d("2008-06-02"))];
        assert!(moving_together(1, &teen, &[], on).is_err());
        let adult = [(1, d("1990-01-01")), (3, d("2008-06-01"))];
        assert!(moving_together(1, &adult, &[], on).is_ok());
        // Named twice, or not of the household.
        assert!(matches!(moving_together(1, &home, &[2, 2], on), Err(Refusal::Unfit { ref field, .. }) if field == "members[1]"));
        assert!(matches!(moving_together(1, &home, &[1], on), Err(Refusal::Unfit { ref field, .. }) if field == "members[0]"));
        assert!(matches!(moving_together(1, &home, &[9], on), Err(Refusal::State { ref field, .. }) if field == "members[0]"));
        // Alone: nobody to name.
        assert!(moving_together(1, &home[..1], &[], on).unwrap().whole_household);
        assert!(moving_together(1, &home[..1], &[2], on).is_err());
    }

    #[test]
    fn relations_list_every_member_and_say_when_the_head_changes() {
        let current = [(10, HEAD), (11, 2)];
        let swap = relations(false, &current, &[(10, 2), (11, 1)]).unwrap();
        assert!(swap.head_changed);
        assert_eq!(swap.changed, vec![(10, 2), (11, 1)]);
        let same_head = relations(false, &current, &[(10, 1), (11, 3)]).unwrap();
        assert!(!same_head.head_changed);
        assert_eq!(same_head.changed, vec![(11, 3)]);
        assert!(matches!(relations(false, &current, &[(10, 1)]), Err(Refusal::State { field, .. }) if field == "members"));
        assert!(
            matches!(relations(false, &current, &[(10, 1), (12, 2)]), Err(Refusal::State { field, .. }) if field == "members[1].id_anpr")
        );
    }

    #[test]
    fn an_adoption_is_into_a_family_of_a_resident_child() {
        assert!(adoptable_child(RegisterStatus::Resident).is_ok());
        assert!(adoptable_child(RegisterStatus::Aire).is_err());
        assert!(adoptive_household(&household(false)).is_ok());
        assert!(adoptive_household(&household(true)).is_err());
        assert_eq!(head_of(&[(3, 2), (4, HEAD)], "family_id"), Ok(4));
        assert!(head_of(&[(3, 2)], "family_id").is_err());
    }

    #[test]
    fn a_duplicate_case_is_open_only_with_both_ids_suspended() {
        assert_eq!(open_duplicate_case(Some(5), IdStatus::Suspended, IdStatus::Suspended, "persons"), Ok(5));
        assert!(open_duplicate_case(Some(5), IdStatus::Valid, IdStatus::Suspended, "persons").is_err());
        assert!(open_duplicate_case(None, IdStatus::Suspended, IdStatus::Suspended, "persons").is_err());
        assert!(two_records(1, 1).is_err());
        assert!(two_records(1, 2).is_ok());
    }

    #[test]
    fn civil_status_changes_carry_their_tab_36_code() {
        assert_eq!(civil_status_mutation(StatoCivile::Coniugato), 12);
        assert_eq!(civil_status_mutation(StatoCivile::Vedovo), 13);
        assert_eq!(civil_status_mutation(StatoCivile::UnitoCivilmente), 18);
        assert_eq!(civil_status_mutation(StatoCivile::StatoLiberoSeguitoScioglimento), 19);
        assert_eq!(civil_status_mutation(StatoCivile::Divorziato), 7);
    }

    #[test]
    fn aire_is_for_italian_citizens() {
        assert!(to_aire(&[Country::Italia]).is_ok());
        assert!(to_aire(&[Country::Foreign(b("Z110"))]).is_err());
    }
    fn held(kind: crate::DocumentKind, number: &str, from: (i32, u32), to: Option<(i32, u32)>) -> crate::documents::HeldDocument {
        crate::documents::HeldDocument {
            document: crate::IdentityDocument {
                kind,
                number: crate::documents::number_of(number).unwrap(),
                issued_on: NaiveDate::from_ymd_opt(from.0, from.1, 1).unwrap(),
                expires_on: to.map(|(y, m)| NaiveDate::from_ymd_opt(y, m, 1).unwrap()),
                issuer: None,
            },
            ended: None,
        }
    }

    fn issue(kind: crate::DocumentKind, number: &str, on: (i32, u32), renews: Option<&str>) -> crate::documents::DocumentIssue {
        let mut d = held(kind, number, on, Some((on.0 + 10, on.1))).document;
        d.issuer = None;
        crate::documents::DocumentIssue { document: d, renews: renews.map(|n| crate::documents::number_of(n).unwrap()) }
    }

    #[test]
    fn a_new_card_renews_the_one_in_force_and_never_takes_a_number_held() {
        use crate::DocumentKind::{CartaIdentitaCartacea, Cie, Passaporto};
        let it = [Country::Italia];
        let old = held(CartaIdentitaCartacea, "AB1234567", (2018, 1), Some((2028, 1)));
        let held_now = [old.clone(), held(Passaporto, "YA1234567", (2020, 1), Some((2030, 1)))];
        // A second card while the first is in force: refused, naming it.
        let r = document_issue(&held_now, false, &it, &issue(Cie, "CA12345AB", (2025, 1), None)).unwrap_err();
        assert!(matches!(&r, Refusal::State { field, reason } if field == "renews" && reason.key() == "document-in-force"), "{r:?}");
        // Renewing it: fine, the paper card is the one renewed.
        assert_eq!(document_issue(&held_now, false, &it, &issue(Cie, "CA12345AB", (2025, 1), Some("AB1234567"))), Ok(Some(0)));
        // A card cannot renew the passport.
        let r = document_issue(&held_now, false, &it, &issue(Cie, "CA12345AB", (2025, 1), Some("YA1234567"))).unwrap_err();
        assert!(matches!(&r, Refusal::Unfit { field, .. } if field == "renews"));
        // A renewal issued before the document it renews.
        let r = document_issue(&held_now, false, &it, &issue(Cie, "CA12345AB", (2017, 1), Some("AB1234567"))).unwrap_err();
        assert!(matches!(&r, Refusal::Unfit { field, .. } if field == "issued_on"));
        // A number someone else holds, or the person's own.
        let r = document_issue(&held_now, true, &it, &issue(Cie, "CA12345AB", (2025, 1), Some("AB1234567"))).unwrap_err();
        assert!(matches!(&r, Refusal::State { field, .. } if field == "number"));
        let r = document_issue(&held_now, false, &it, &issue(Passaporto, "YA1234567", (2025, 1), None)).unwrap_err();
        assert!(matches!(&r, Refusal::State { field, .. } if field == "number"));
        // Once the old card expired (or ended), a new one needs no renewal.
        assert_eq!(document_issue(&held_now, false, &it, &issue(Cie, "CA12345AB", (2028, 2), None)), Ok(None));
        let mut lost = held_now.clone();
        lost[0].ended = Some(crate::documents::DocumentEnded {
            on: NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(),
            reason: crate::documents::DocumentEndReason::Lost,
        });
        assert_eq!(document_issue(&lost, false, &it, &issue(Cie, "CA12345AB", (2025, 1), None)), Ok(None));
        // An ended document is not renewed.
        let r = document_issue(&lost, false, &it, &issue(Cie, "CA12345AB", (2025, 1), Some("AB1234567"))).unwrap_err();
        assert!(matches!(&r, Refusal::Unfit { field, .. } if field == "renews"));
    }

    #[test]
    fn residence_titles_follow_citizenship() {
        use crate::DocumentKind::PermessoSoggiorno;
        use crate::decode::TipoSoggiorno as T;
        let z = |c: &str| Country::Foreign(Belfiore::parse(c).unwrap());
        let (italian, french, moroccan) = ([Country::Italia, z("Z330")], [z("Z110")], [z("Z330")]);
        let permit = issue(PermessoSoggiorno(T::Permesso), "I00000001", (2025, 1), None);
        let attestation = issue(PermessoSoggiorno(T::AttestazioneRegolarita), "I00000002", (2025, 1), None);
        let r = document_issue(&[], false, &italian, &permit).unwrap_err();
        assert!(matches!(&r, Refusal::Unfit { field, .. } if field == "kind"));
        assert_eq!(document_issue(&[], false, &moroccan, &permit), Ok(None));
        let r = document_issue(&[], false, &french, &permit).unwrap_err();
        assert!(matches!(&r, Refusal::Unfit { field, .. } if field == "permit_kind"));
        assert_eq!(document_issue(&[], false, &french, &attestation), Ok(None));
        let r = document_issue(&[], false, &moroccan, &attestation).unwrap_err();
        assert!(matches!(&r, Refusal::Unfit { field, .. } if field == "permit_kind"));
    }

    #[test]
    fn an_end_names_a_document_in_force_within_its_life() {
        use crate::documents::{DocumentEnd, DocumentEndReason};
        let d = |y, m| NaiveDate::from_ymd_opt(y, m, 1).unwrap();
        let mut held_now = [held(crate::DocumentKind::Cie, "CA12345AB", (2020, 1), Some((2030, 1)))];
        let end =
            |n: &str, on| DocumentEnd { number: crate::documents::number_of(n).unwrap(), ended_on: on, reason: DocumentEndReason::Stolen };
        assert_eq!(document_end(&held_now, &end("CA12345AB", d(2024, 1))), Ok(0));
        assert!(matches!(document_end(&held_now, &end("CA99999AB", d(2024, 1))), Err(Refusal::Unfit { field, .. }) if field == "number"));
        assert!(matches!(document_end(&held_now, &end("CA12345AB", d(2019, 1))), Err(Refusal::Unfit { field, .. }) if field == "ended_on"));
        assert!(matches!(document_end(&held_now, &end("CA12345AB", d(2031, 1))), Err(Refusal::Unfit { field, .. }) if field == "ended_on"));
        held_now[0].ended = Some(crate::documents::DocumentEnded { on: d(2024, 1), reason: DocumentEndReason::Lost });
        assert!(matches!(document_end(&held_now, &end("CA12345AB", d(2024, 2))), Err(Refusal::State { field, .. }) if field == "number"));
    }
}
