//! Registry operations (REG-2): what a comune (or the register itself) asks to change, as typed
//! values checked before anything is written.
//!
//! Each operation names the persons it touches by their ID ANPR (the internal key is never
//! seen outside the store), carries the date it takes effect (*data decorrenza*) and is checked
//! here against everything that does not need the stored state: codes of the official tables,
//! reference data, dates. What does need the state (competence, the current record, the dates
//! of earlier changes) is checked by the store inside the write's transaction.
//!
//! Effective dates of one record move forward: a change takes effect on or after the start of
//! the data it replaces. What was wrong from the beginning is a *correction* (material error,
//! IDN-6 cases 1–2): it replaces the data for their whole life, in transaction time, so that an
//! "as of" read after the correction shows the corrected data for every date.

use crate::decode::{
    DecodeTable, LegameConvivenza, MotivoCancellazione, MotivoCancellazioneAire, MotivoIscrizione, MotivoIscrizioneAire,
    RelazioneParentela, StatoCivile,
};
use crate::why::Why;
use crate::{
    Belfiore, BirthPlace, CodiceFiscale, Country, Death, FieldError, ForeignAddress, Generalita, HouseholdKind, IdAnpr, PartialDate,
    PersonName, RefData, Residence, Sex,
};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Where a person goes to live: a new household of which they are the head (or the person
/// responsible, for a cohabitation), or an existing one with a relation to its head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HouseholdChoice {
    /// A new family or cohabitation, in the comune of the person's residence.
    New {
        /// Family, or cohabitation of a kind (tab. 27).
        household: HouseholdKind,
        /// Name of a cohabitation (the care home, the convent…).
        #[serde(default)]
        name: Option<String>,
    },
    /// An existing household, by its id.
    Join {
        /// Household id.
        family_id: i64,
        /// Relation to the head (tab. 05) for a family, bond (tab. 06) for a cohabitation.
        relation: u16,
    },
}

/// A new record (*iscrizione*): a birth, an immigration, an AIRE registration…
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Reason: tab. 07 code for a residence in Italy, tab. 19 code (`C01`…) for AIRE.
    pub reason: String,
    /// Free description, required for "other reasons" (tab. 07 code 9, tab. 19 `C09`).
    #[serde(default)]
    pub reason_description: Option<crate::text::Description>,
    /// Date the registration takes effect (for a birth, the birth date).
    pub effective_date: NaiveDate,
    /// Surname and name.
    pub name: PersonName,
    /// Sex.
    pub sex: Sex,
    /// Birth date (partial dates only for persons born abroad with incomplete records).
    pub birth_date: PartialDate,
    /// Birthplace.
    pub birth_place: BirthPlace,
    /// Codice fiscale already assigned; when absent the register computes it and asks the
    /// Revenue Agency to confirm it.
    #[serde(default)]
    pub codice_fiscale: Option<CodiceFiscale>,
    /// Citizenships.
    pub citizenships: Vec<Country>,
    /// Civil status (tab. 01).
    pub civil_status: StatoCivile,
    /// Residence in Italy, or abroad with the AIRE comune.
    pub residence: Residence,
    /// Household.
    pub household: HouseholdChoice,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<crate::text::EmailAddress>,
    /// Digital domicile (PEC).
    #[serde(default)]
    pub digital_domicile: Option<crate::text::EmailAddress>,
    /// Where the person came from: the previous comune (immigration) or state (from abroad).
    #[serde(default)]
    pub origin: Option<Belfiore>,
    /// For a birth: the references of the birth act in the civil-status registers.
    #[serde(default)]
    pub birth_act: Option<ActReference>,
    /// For a birth: the parents in the register (at most two, by their ID ANPR).
    #[serde(default)]
    pub parents: Vec<IdAnpr>,
}

/// Where an act of the civil-status registers is (DPR 396/2000): its year, number and, where
/// the register has them, part and series (`parte I, serie A`), in the comune of the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActReference {
    /// Year of the register.
    pub year: u16,
    /// Number of the act in that year's register.
    pub number: u32,
    /// Part of the register (`I`, `II`…).
    #[serde(default)]
    pub part: Option<crate::text::Line<4>>,
    /// Series (`A`, `B`…).
    #[serde(default)]
    pub series: Option<crate::text::Line<4>>,
}

impl ActReference {
    /// The act's references as an officer writes them: `n. 123, parte I, serie A, anno 2026`.
    pub fn words(&self) -> String {
        let mut s = format!("n. {}", self.number);
        if let Some(p) = &self.part {
            s += &format!(", parte {p}");
        }
        if let Some(x) = &self.series {
            s += &format!(", serie {x}");
        }
        s + &format!(", anno {}", self.year)
    }
}

/// The reason of a registration, from the table that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RegistrationReason {
    /// Residence in Italy (tab. 07).
    Apr(MotivoIscrizione),
    /// AIRE (tab. 19).
    Aire(MotivoIscrizioneAire),
}

impl RegistrationReason {
    /// The official code as text.
    pub fn code(self) -> String {
        match self {
            Self::Apr(m) => m.code().to_string(),
            Self::Aire(m) => m.code().to_owned(),
        }
    }
}

impl Registration {
    /// The reason, read from the table that matches the residence.
    pub fn parsed_reason(&self) -> Result<RegistrationReason, FieldError> {
        match &self.residence {
            Residence::Italy(_) => self
                .reason
                .parse::<u16>()
                .ok()
                .and_then(MotivoIscrizione::from_code)
                .map(RegistrationReason::Apr)
                .ok_or_else(|| FieldError::new("reason", Why::new("not-in-table").arg("table", "07"))),
            Residence::Abroad { .. } => MotivoIscrizioneAire::ALL
                .iter()
                .copied()
                .find(|m| m.code() == self.reason)
                .map(RegistrationReason::Aire)
                .ok_or_else(|| FieldError::new("reason", Why::new("not-in-table").arg("table", "19"))),
        }
    }

    /// Checks everything that does not need the stored register.
    pub fn check(&self, refdata: &RefData, today: NaiveDate) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let reason = match self.parsed_reason() {
            Ok(r) => Some(r),
            Err(e) => {
                errs.push(e);
                None
            }
        };
        let needs_description = matches!(
            reason,
            Some(RegistrationReason::Apr(MotivoIscrizione::AltriMotivi)) | Some(RegistrationReason::Aire(MotivoIscrizioneAire::Altro))
        );
        check_description(&mut errs, "reason_description", self.reason_description.as_deref(), needs_description);
        check_date(&mut errs, "effective_date", self.effective_date, today);
        if self.effective_date < self.birth_date.first_day() && self.effective_date >= EARLIEST {
            errs.push(FieldError::new("effective_date", Why::new("before-birth")));
        }
        if matches!(
            reason,
            Some(RegistrationReason::Apr(MotivoIscrizione::Nascita)) | Some(RegistrationReason::Aire(MotivoIscrizioneAire::Nascita))
        ) {
            if self.birth_date.precision() != crate::DatePrecision::Day {
                errs.push(FieldError::new("birth_date", Why::new("birth-full-date")));
            }
            if self.effective_date != self.birth_date.first_day() {
                errs.push(FieldError::new("effective_date", Why::new("birth-effect")));
            }
        }
        if matches!(reason, Some(RegistrationReason::Apr(MotivoIscrizione::ImmigrazioneDallEstero)))
            && let Some(o) = self.origin
            && !o.is_foreign_state()
        {
            errs.push(FieldError::new("origin", Why::new("origin-state")));
        }
        if matches!(reason, Some(RegistrationReason::Apr(MotivoIscrizione::Immigrazione)))
            && let Some(o) = self.origin
            && o.is_foreign_state()
        {
            errs.push(FieldError::new("origin", Why::new("origin-comune")));
        }
        let birth = matches!(
            reason,
            Some(RegistrationReason::Apr(MotivoIscrizione::Nascita)) | Some(RegistrationReason::Aire(MotivoIscrizioneAire::Nascita))
        );
        if let Some(act) = &self.birth_act {
            if !birth {
                errs.push(FieldError::new("birth_act", Why::new("birth-only")));
            }
            let born = self.birth_date.first_day().year();
            if i32::from(act.year) < born || i32::from(act.year) > today.year() {
                errs.push(FieldError::new("birth_act.year", Why::new("act-year").arg("from", born).arg("to", today.year())));
            }
            if act.number == 0 || act.number > 99_999 {
                errs.push(FieldError::new("birth_act.number", Why::new("range").arg("min", 1).arg("max", 99_999)));
            }
        }
        if !self.parents.is_empty() && !birth {
            errs.push(FieldError::new("parents", Why::new("birth-only")));
        }
        if self.parents.len() > 2 {
            errs.push(FieldError::new("parents", Why::new("parents-two")));
        }
        for (i, p) in self.parents.iter().enumerate() {
            if self.parents[..i].contains(p) {
                errs.push(FieldError::new(format!("parents[{i}]"), Why::new("twice")));
            }
        }
        let record = crate::PersonRecord {
            id_anpr: None,
            status: match self.residence {
                Residence::Italy(_) => crate::RegisterStatus::Resident,
                Residence::Abroad { .. } => crate::RegisterStatus::Aire,
            },
            generalita: self.generalita(),
            citizenships: self.citizenships.clone(),
            civil_status: self.civil_status,
            residence: self.residence.clone(),
            household: None,
            documents: Vec::new(),
            email: self.email.clone(),
            digital_domicile: self.digital_domicile.clone(),
            death: None,
        };
        errs.extend(record.check(refdata, today));
        check_household_choice(&mut errs, "household", &self.household);
        errs
    }

    /// The personal data as given (codice fiscale as given, not yet computed).
    pub fn generalita(&self) -> Generalita {
        Generalita {
            name: self.name.clone(),
            sex: self.sex,
            birth_date: self.birth_date,
            birth_place: self.birth_place.clone(),
            codice_fiscale: self.codice_fiscale,
            cf_validation: crate::decode::StatoValidazioneCf::DatiAnagraficiNonValidati,
        }
    }
}

/// The earliest effective date the register accepts (older facts are recorded as they were
/// transcribed at registration, not as changes).
pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1800, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// An effective date: not in the future, not before [`EARLIEST`].
pub fn check_date(errs: &mut Vec<FieldError>, field: &str, d: NaiveDate, today: NaiveDate) {
    if d > today {
        errs.push(FieldError::new(field, Why::new("future")));
    } else if d < EARLIEST {
        errs.push(FieldError::new(field, Why::new("too-early")));
    }
}

/// Today in Italy (the register's legal dates are Italian): UTC+1, UTC+2 from the last Sunday
/// of March to the last Sunday of October (changes at 01:00 UTC), as EU rules fix it.
pub fn italian_today() -> NaiveDate {
    italian_date(chrono::Utc::now())
}

/// The Italian calendar date at the instant `at`.
pub fn italian_date(at: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    italian_time(at).date()
}

/// The Italian wall-clock time at the instant `at` (see [`italian_today`] for the rule).
pub fn italian_time(at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    use chrono::{Datelike, Duration, Weekday};
    let now = at.naive_utc();
    let last_sunday = |month: u32| {
        let mut d = NaiveDate::from_ymd_opt(now.year(), month + 1, 1).unwrap_or(NaiveDate::MAX) - Duration::days(1);
        while d.weekday() != Weekday::Sun {
            d -= Duration::days(1);
        }
        d.and_hms_opt(1, 0, 0).unwrap_or_default()
    };
    let summer = now >= last_sunday(3) && now < last_sunday(10);
    now + Duration::hours(if summer { 2 } else { 1 })
}

fn check_description(errs: &mut Vec<FieldError>, field: &str, d: Option<&str>, required: bool) {
    match d.map(str::trim) {
        None | Some("") if required => errs.push(FieldError::new(field, Why::new("required-for-reason"))),
        Some(s) if s.chars().count() > 256 => errs.push(FieldError::new(field, Why::new("too-long").arg("max", 256))),
        _ => {}
    }
}

fn check_household_choice(errs: &mut Vec<FieldError>, field: &str, h: &HouseholdChoice) {
    match h {
        HouseholdChoice::New { household: HouseholdKind::Cohabitation { .. }, name } => {
            if name.as_deref().is_none_or(|n| n.trim().is_empty()) {
                errs.push(FieldError::new(format!("{field}.name"), Why::new("cohabitation-name")));
            }
        }
        HouseholdChoice::New { .. } => {}
        HouseholdChoice::Join { relation, .. } => {
            // Which table applies depends on the household's kind, known to the store; here
            // the code must exist in one of them and must not be the head's.
            if RelazioneParentela::from_code(*relation).is_none() && LegameConvivenza::from_code(*relation).is_none() {
                errs.push(FieldError::new(format!("{field}.relation"), Why::new("not-relation")));
            }
            if *relation == 1 {
                errs.push(FieldError::new(format!("{field}.relation"), Why::new("join-as-head")));
            }
        }
    }
}

/// A change of residence (tab. 47), decided by the comune of the new residence: within the
/// comune, from another comune (*immigrazione*), back from abroad (*rimpatrio*), or a new
/// address abroad for an AIRE record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidenceChange {
    /// Date the new residence takes effect (the date of the declaration).
    pub effective_date: NaiveDate,
    /// The new residence.
    pub residence: Residence,
    /// Household at the new address: required when the comune changes, or when only part of
    /// the person's household moves; otherwise the household moves as it is.
    #[serde(default)]
    pub household: Option<HouseholdChoice>,
    /// The other members of the person's household who move with them (a family moves
    /// together): each gets the same residence, with an event of their own, in one transaction.
    /// Empty: the person moves alone.
    #[serde(default)]
    pub members: Vec<IdAnpr>,
}

impl ResidenceChange {
    /// Checks what does not need the stored register.
    pub fn check(&self, refdata: &RefData, today: NaiveDate) -> Vec<FieldError> {
        let mut errs = Vec::new();
        check_date(&mut errs, "effective_date", self.effective_date, today);
        check_residence(&mut errs, &self.residence, refdata, today);
        if let Some(h) = &self.household {
            check_household_choice(&mut errs, "household", h);
        }
        errs
    }
}

/// Checks a residence against the reference data (fields named `residence.…`).
pub(crate) fn check_residence(errs: &mut Vec<FieldError>, r: &Residence, refdata: &RefData, today: NaiveDate) {
    match r {
        Residence::Italy(a) => {
            if refdata.comune_at(a.comune, today).is_none() {
                errs.push(FieldError::new("residence.comune", Why::new("comune-not-in-force").arg("code", a.comune)));
            }
        }
        Residence::Abroad { address, aire_comune } => {
            check_foreign_address(errs, "residence.address", address, refdata);
            if refdata.comune_at(*aire_comune, today).is_none() {
                errs.push(FieldError::new("residence.aire_comune", Why::new("comune-not-in-force").arg("code", aire_comune)));
            }
        }
    }
}

fn check_foreign_address(errs: &mut Vec<FieldError>, field: &str, a: &ForeignAddress, refdata: &RefData) {
    if !a.state.is_foreign_state() || refdata.stato(a.state).is_none() {
        errs.push(FieldError::new(format!("{field}.state"), Why::new("not-state")));
    }
}

/// A cancellation: from the APR with a reason of tab. 15, from AIRE with a reason of tab. 28
/// (the table is chosen by where the person is registered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cancellation {
    /// Reason code (tab. 15 for residents, tab. 28 for AIRE).
    pub reason: u16,
    /// Free description, required for "other" reasons.
    #[serde(default)]
    pub reason_description: Option<crate::text::Description>,
    /// Date the cancellation takes effect (for a death, the date of death).
    pub effective_date: NaiveDate,
    /// Death data, required for death reasons.
    #[serde(default)]
    pub death: Option<Death>,
    /// Address abroad, required for emigration abroad (tab. 15 code 8: the record moves to the
    /// AIRE of the same comune).
    #[serde(default)]
    pub abroad: Option<ForeignAddress>,
}

/// What a cancellation does to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancellationEffect {
    /// The person died (or was declared presumed dead).
    Death,
    /// The person moved abroad: the record moves to the AIRE of its comune.
    ToAire,
    /// The record is closed.
    Close,
}

impl Cancellation {
    /// Reads the reason in the table that applies (`aire`: the person is registered in AIRE),
    /// with what it does.
    pub fn effect(&self, aire: bool) -> Result<CancellationEffect, FieldError> {
        if aire {
            let m = MotivoCancellazioneAire::from_code(self.reason)
                .ok_or_else(|| FieldError::new("reason", Why::new("not-in-table").arg("table", "28")))?;
            Ok(match m {
                MotivoCancellazioneAire::MorteAccertata | MotivoCancellazioneAire::MortePresuntaGiudizialmenteDichiarata => {
                    CancellationEffect::Death
                }
                _ => CancellationEffect::Close,
            })
        } else {
            let m = MotivoCancellazione::from_code(self.reason)
                .ok_or_else(|| FieldError::new("reason", Why::new("not-in-table").arg("table", "15")))?;
            Ok(match m {
                MotivoCancellazione::MorteAccertata | MotivoCancellazione::MortePresuntaGiudizialmenteDichiarata => {
                    CancellationEffect::Death
                }
                MotivoCancellazione::TrasferimentoResidenza => CancellationEffect::ToAire,
                MotivoCancellazione::DoppiaIscrizione => {
                    return Err(FieldError::new("reason", Why::new("cancel-duplicate")));
                }
                _ => CancellationEffect::Close,
            })
        }
    }

    /// Checks what does not need the stored register, for a person registered in AIRE or not.
    pub fn check(&self, aire: bool, refdata: &RefData, today: NaiveDate) -> Vec<FieldError> {
        let mut errs = Vec::new();
        check_date(&mut errs, "effective_date", self.effective_date, today);
        let needs_description = if aire { self.reason == 8 } else { self.reason == 13 };
        check_description(&mut errs, "reason_description", self.reason_description.as_deref(), needs_description);
        match self.effect(aire) {
            Err(e) => errs.push(e),
            Ok(CancellationEffect::Death) => match &self.death {
                None => errs.push(FieldError::new("death", Why::new("death-required"))),
                Some(d) => {
                    if d.date.first_day() != self.effective_date {
                        errs.push(FieldError::new("effective_date", Why::new("death-effect")));
                    }
                    if let Some(p) = d.place
                        && refdata.place_at(p, d.date.first_day()).is_err()
                    {
                        errs.push(FieldError::new(
                            "death.place",
                            Why::new("place-not-on").arg("place", p).arg("date", crate::date::dmy(d.date.first_day())),
                        ));
                    }
                }
            },
            Ok(CancellationEffect::ToAire) => match &self.abroad {
                None => errs.push(FieldError::new("abroad", Why::new("abroad-required"))),
                Some(a) => check_foreign_address(&mut errs, "abroad", a, refdata),
            },
            Ok(CancellationEffect::Close) => {}
        }
        if !matches!(self.effect(aire), Ok(CancellationEffect::Death)) && self.death.is_some() {
            errs.push(FieldError::new("death", Why::new("death-only")));
        }
        if !matches!(self.effect(aire), Ok(CancellationEffect::ToAire)) && self.abroad.is_some() {
            errs.push(FieldError::new("abroad", Why::new("abroad-only")));
        }
        errs
    }
}

/// The cases of the decree's mutation table (IDN-6) for a change of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneralitaCase {
    /// Case 1: material error, the person is not aligned with the Revenue Agency; the register's
    /// data are right: they go to the Agency (the codice fiscale may change).
    MaterialErrorNotAlignedRegisterRight,
    /// Case 1: material error, not aligned; the Agency's data are right: the register takes them.
    MaterialErrorNotAlignedAgencyRight,
    /// Case 2: material error, the person is aligned with the Agency.
    MaterialErrorAligned,
    /// Case 3: after marriage.
    Marriage,
    /// Case 3: adoption of an adult.
    AdultAdoption,
    /// Case 3: change of sex.
    SexChange,
    /// Case 3: on the person's request.
    OnRequest,
}

impl GeneralitaCase {
    /// Material errors are corrections: the data were wrong from the beginning, so the
    /// corrected data replace them for every date. The other cases take effect on a date.
    pub fn is_correction(self) -> bool {
        matches!(self, Self::MaterialErrorNotAlignedRegisterRight | Self::MaterialErrorNotAlignedAgencyRight | Self::MaterialErrorAligned)
    }

    /// The decree's case number.
    pub fn number(self) -> u8 {
        match self {
            Self::MaterialErrorNotAlignedRegisterRight | Self::MaterialErrorNotAlignedAgencyRight => 1,
            Self::MaterialErrorAligned => 2,
            _ => 3,
        }
    }
}

/// A change of personal data (IDN-6 cases 1–3): the ID ANPR stays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneralitaChange {
    /// Which case of the decree.
    pub case: GeneralitaCase,
    /// Date the change takes effect (ignored for corrections, which hold from the beginning).
    pub effective_date: NaiveDate,
    /// New surname and name, when they change.
    #[serde(default)]
    pub name: Option<PersonName>,
    /// New sex, when it changes.
    #[serde(default)]
    pub sex: Option<Sex>,
    /// Corrected birth date (corrections only).
    #[serde(default)]
    pub birth_date: Option<PartialDate>,
    /// Corrected birthplace (corrections only).
    #[serde(default)]
    pub birth_place: Option<BirthPlace>,
    /// The Agency's codice fiscale (case 1 when the Agency's data are right).
    #[serde(default)]
    pub codice_fiscale: Option<CodiceFiscale>,
}

impl GeneralitaChange {
    /// Checks what does not need the stored register.
    pub fn check(&self, today: NaiveDate) -> Vec<FieldError> {
        let mut errs = Vec::new();
        check_date(&mut errs, "effective_date", self.effective_date, today);
        let changes_something = self.name.is_some() || self.sex.is_some() || self.birth_date.is_some() || self.birth_place.is_some();
        match self.case {
            GeneralitaCase::MaterialErrorNotAlignedRegisterRight => {
                if changes_something || self.codice_fiscale.is_some() {
                    errs.push(FieldError::new("case", Why::new("case-register-right")));
                }
            }
            GeneralitaCase::MaterialErrorNotAlignedAgencyRight => {
                if !changes_something && self.codice_fiscale.is_none() {
                    errs.push(FieldError::new("name", Why::new("case-agency-right")));
                }
            }
            c => {
                if !changes_something {
                    errs.push(FieldError::new("name", Why::new("nothing-changed")));
                }
                if self.codice_fiscale.is_some() {
                    errs.push(FieldError::new("codice_fiscale", Why::new("cf-computed")));
                }
                if !c.is_correction() && (self.birth_date.is_some() || self.birth_place.is_some()) {
                    errs.push(FieldError::new("birth_date", Why::new("birth-correction")));
                }
            }
        }
        errs
    }

    /// The personal data after the change.
    pub fn apply_to(&self, g: &Generalita) -> Generalita {
        Generalita {
            name: self.name.clone().unwrap_or_else(|| g.name.clone()),
            sex: self.sex.unwrap_or(g.sex),
            birth_date: self.birth_date.unwrap_or(g.birth_date),
            birth_place: self.birth_place.clone().unwrap_or_else(|| g.birth_place.clone()),
            codice_fiscale: g.codice_fiscale,
            cf_validation: g.cf_validation,
        }
    }
}

impl GeneralitaChange {
    /// A correction applied to an earlier version of the data: only what the correction
    /// changes in the current version (`current`) changes in `version`; what differed between
    /// versions (a later change of name, say) stays as it was.
    pub fn correct_version(&self, current: &Generalita, version: &Generalita) -> Generalita {
        let fixed = self.apply_to(current);
        let pick = |new: Option<&str>, cur: Option<&str>, was: Option<&str>| {
            if new != cur { new.map(str::to_owned) } else { was.map(str::to_owned) }
        };
        let surname = pick(fixed.name.surname(), current.name.surname(), version.name.surname());
        let given = pick(fixed.name.given(), current.name.given(), version.name.given());
        Generalita {
            name: PersonName::new(surname.as_deref(), given.as_deref()).unwrap_or_else(|_| version.name.clone()),
            sex: if fixed.sex != current.sex { fixed.sex } else { version.sex },
            birth_date: if fixed.birth_date != current.birth_date { fixed.birth_date } else { version.birth_date },
            birth_place: if fixed.birth_place != current.birth_place { fixed.birth_place } else { version.birth_place.clone() },
            codice_fiscale: version.codice_fiscale,
            cf_validation: version.cf_validation,
        }
    }
}

/// Computes the codice fiscale of personal data (none for partial birth dates, which the
/// code cannot express).
pub fn compute_cf(g: &Generalita) -> Option<CodiceFiscale> {
    if g.birth_date.precision() != crate::DatePrecision::Day {
        return None;
    }
    Some(CodiceFiscale::compute(&crate::CfInput {
        surname: g.name.surname().unwrap_or(""),
        name: g.name.given().unwrap_or(""),
        sex: g.sex,
        birth_date: g.birth_date.first_day(),
        birth_place: g.birth_place.code(),
    }))
}

/// Adoption of a minor (IDN-6 case 4): a new record with a new ID ANPR in the adoptive
/// household; the old record is closed, and nothing in the register links the two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinorAdoption {
    /// Date of the adoption order.
    pub effective_date: NaiveDate,
    /// The child's name after the adoption.
    pub name: PersonName,
    /// The adoptive family (the child joins it, with the relation to its head).
    pub family_id: i64,
    /// Relation to the head of the adoptive family (tab. 05), usually 2 (figlio/a).
    pub relation: u16,
}

impl MinorAdoption {
    /// Checks what does not need the stored register; `birth` is the child's birth date.
    pub fn check(&self, birth: NaiveDate, today: NaiveDate) -> Vec<FieldError> {
        let mut errs = Vec::new();
        check_date(&mut errs, "effective_date", self.effective_date, today);
        if self.effective_date < birth {
            errs.push(FieldError::new("effective_date", Why::new("before-birth")));
        }
        if birth.checked_add_months(chrono::Months::new(18 * 12)).is_none_or(|adult| self.effective_date >= adult) {
            errs.push(FieldError::new("effective_date", Why::new("adoption-adult")));
        }
        match RelazioneParentela::from_code(self.relation) {
            None => errs.push(FieldError::new("relation", Why::new("not-in-table").arg("table", "05"))),
            Some(RelazioneParentela::IntestatarioScheda) => errs.push(FieldError::new("relation", Why::new("adopted-head"))),
            Some(_) => {}
        }
        errs
    }
}

/// One member's relation in a household after a change of head or of relations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRelation {
    /// The member.
    pub id_anpr: IdAnpr,
    /// Relation to the head (tab. 05) or bond (tab. 06); `1` is the head itself.
    pub relation: u16,
}

/// A change of the head or of the relations of a household: the full list of its members
/// with their relation from the effective date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationsChange {
    /// Date it takes effect.
    pub effective_date: NaiveDate,
    /// Every current member, exactly once; one of them with relation 1.
    pub members: Vec<MemberRelation>,
}

impl RelationsChange {
    /// Checks the list for a household of the given kind.
    pub fn check(&self, cohabitation: bool, today: NaiveDate) -> Vec<FieldError> {
        let mut errs = Vec::new();
        check_date(&mut errs, "effective_date", self.effective_date, today);
        let heads = self.members.iter().filter(|m| m.relation == 1).count();
        if heads != 1 {
            errs.push(FieldError::new("members", Why::new("one-head").arg("count", heads)));
        }
        for (i, m) in self.members.iter().enumerate() {
            let known = if cohabitation {
                LegameConvivenza::from_code(m.relation).is_some()
            } else {
                RelazioneParentela::from_code(m.relation).is_some()
            };
            if !known {
                let table = if cohabitation { "06" } else { "05" };
                errs.push(FieldError::new(format!("members[{i}].relation"), Why::new("not-in-table").arg("table", table)));
            }
            if self.members[..i].iter().any(|o| o.id_anpr == m.id_anpr) {
                errs.push(FieldError::new(format!("members[{i}].id_anpr"), Why::new("twice")));
            }
        }
        errs
    }
}

/// A change of civil status (tab. 01), e.g. after a marriage or a death of the spouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CivilStatusChange {
    /// Date it takes effect.
    pub effective_date: NaiveDate,
    /// New civil status.
    pub civil_status: StatoCivile,
}

/// A move to another household (join one, or leave and form a new one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdMove {
    /// Date it takes effect.
    pub effective_date: NaiveDate,
    /// The household to go to.
    pub household: HouseholdChoice,
}

impl HouseholdMove {
    /// Checks what does not need the stored register.
    pub fn check(&self, today: NaiveDate) -> Vec<FieldError> {
        let mut errs = Vec::new();
        check_date(&mut errs, "effective_date", self.effective_date, today);
        check_household_choice(&mut errs, "household", &self.household);
        errs
    }
}

/// Every registry operation, as the store applies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// A new record with a new ID ANPR.
    Register(Box<Registration>),
    /// A change of residence.
    ChangeResidence {
        /// Who moves.
        person: IdAnpr,
        /// Where to.
        change: ResidenceChange,
    },
    /// A cancellation (death, emigration abroad to AIRE, the other reasons).
    Cancel {
        /// Whose record.
        person: IdAnpr,
        /// Reason and data.
        cancellation: Cancellation,
    },
    /// A change of personal data (IDN-6 cases 1–3).
    ChangeGeneralita {
        /// Whose data.
        person: IdAnpr,
        /// The change.
        change: GeneralitaChange,
    },
    /// A change of civil status.
    ChangeCivilStatus {
        /// Whose.
        person: IdAnpr,
        /// The change.
        change: CivilStatusChange,
    },
    /// A move to another household.
    MoveHousehold {
        /// Who moves.
        person: IdAnpr,
        /// Where to.
        change: HouseholdMove,
    },
    /// A change of head or of relations in a household.
    SetRelations {
        /// Which household.
        family_id: i64,
        /// The new relations.
        change: RelationsChange,
    },
    /// Adoption of a minor (IDN-6 case 4).
    AdoptMinor {
        /// The child's current record.
        person: IdAnpr,
        /// The adoption.
        adoption: MinorAdoption,
    },
    /// Two records that may be the same person (IDN-6 case 5): both IDs suspended.
    ReportDuplicate {
        /// The two records.
        persons: [IdAnpr; 2],
    },
    /// A reported duplicate that is not one (two different persons): both IDs valid again.
    DismissDuplicate {
        /// The two records reported.
        persons: [IdAnpr; 2],
    },
    /// The resolution of a duplicate: one record is deleted, its ID invalid for ever.
    ResolveDuplicate {
        /// The record that stays.
        keep: IdAnpr,
        /// The record deleted.
        delete: IdAnpr,
    },
    /// An identity document issued to the person, possibly renewing one (REG-1).
    RecordDocument {
        /// Whose.
        person: IdAnpr,
        /// The document.
        issue: crate::documents::DocumentIssue,
    },
    /// An identity document that stopped being valid before its expiry (lost, stolen, damaged,
    /// withdrawn).
    EndDocument {
        /// Whose.
        person: IdAnpr,
        /// Which, when and why.
        end: crate::documents::DocumentEnd,
    },
}

impl Operation {
    /// Short name used in the trace (`person.register`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Register(_) => "person.register",
            Self::ChangeResidence { .. } => "person.residence",
            Self::Cancel { .. } => "person.cancel",
            Self::ChangeGeneralita { .. } => "person.generalita",
            Self::ChangeCivilStatus { .. } => "person.civil_status",
            Self::MoveHousehold { .. } => "person.household",
            Self::SetRelations { .. } => "family.relations",
            Self::AdoptMinor { .. } => "person.minor_adoption",
            Self::ReportDuplicate { .. } => "duplicate.report",
            Self::DismissDuplicate { .. } => "duplicate.dismiss",
            Self::ResolveDuplicate { .. } => "duplicate.resolve",
            Self::RecordDocument { .. } => "person.document",
            Self::EndDocument { .. } => "person.document_end",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn birth() -> Registration {
        serde_json::from_value(serde_json::json!({
            "reason": "1",
            "effective_date": "2024-03-01",
            "name": {"surname": "Rossi", "given": "Giulia"},
            "sex": "F",
            "birth_date": "2024-03-01",
            "birth_place": {"kind": "comune", "code": "H501"},
            "citizenships": [{"kind": "italia"}],
            "civil_status": "CelibeNubile",
            "residence": {"kind": "italy", "comune": "H501", "species": "VIA", "toponym": "Roma", "civic": "1"},
            "household": {"kind": "join", "family_id": 1, "relation": 2}
        }))
        .unwrap()
    }

    #[test]
    fn a_birth_checks_clean_and_its_mistakes_name_their_fields() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let r = birth();
        assert_eq!(r.check(&RefData::current(), today), vec![]);
        let mut late = r.clone();
        late.effective_date = NaiveDate::from_ymd_opt(2024, 3, 5).unwrap();
        assert_eq!(late.check(&RefData::current(), today)[0].field, "effective_date");
        let mut abroad_reason = r.clone();
        abroad_reason.reason = "C01".into();
        assert_eq!(abroad_reason.check(&RefData::current(), today)[0].field, "reason");
        let mut other = r;
        other.reason = "9".into();
        other.effective_date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        assert_eq!(other.check(&RefData::current(), today)[0].field, "reason_description");
    }

    #[test]
    fn cancellations_read_the_table_of_the_register_the_person_is_in() {
        let c = Cancellation {
            reason: 8,
            reason_description: None,
            effective_date: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            death: None,
            abroad: None,
        };
        assert_eq!(c.effect(false), Ok(CancellationEffect::ToAire));
        assert_eq!(c.effect(true), Ok(CancellationEffect::Close));
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        assert_eq!(c.check(false, &RefData::current(), today)[0].field, "abroad");
        assert_eq!(c.check(true, &RefData::current(), today)[0].field, "reason_description");
        let dup = Cancellation { reason: 10, ..c };
        assert_eq!(dup.check(false, &RefData::current(), today)[0].field, "reason");
    }

    #[test]
    fn relations_need_exactly_one_head() {
        let id = IdAnpr::from_index(5).unwrap();
        let other = IdAnpr::from_index(6).unwrap();
        let d = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let two_heads = RelationsChange {
            effective_date: d,
            members: vec![MemberRelation { id_anpr: id, relation: 1 }, MemberRelation { id_anpr: other, relation: 1 }],
        };
        assert_eq!(two_heads.check(false, today)[0].field, "members");
        let ok = RelationsChange {
            effective_date: d,
            members: vec![MemberRelation { id_anpr: id, relation: 1 }, MemberRelation { id_anpr: other, relation: 2 }],
        };
        assert!(ok.check(false, today).is_empty());
    }

    #[test]
    fn adoption_of_an_adult_is_not_case_four() {
        let a = MinorAdoption {
            effective_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            name: PersonName::new(Some("Bianchi"), Some("Luca")).unwrap(),
            family_id: 1,
            relation: 2,
        };
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert!(a.check(NaiveDate::from_ymd_opt(2015, 1, 1).unwrap(), today).is_empty());
        assert_eq!(a.check(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(), today)[0].field, "effective_date");
    }
}
