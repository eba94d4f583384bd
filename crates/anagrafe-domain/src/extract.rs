//! Registry extracts (*visure anagrafiche*, VIS-1 … VIS-11) as pure values and rules: the kinds
//! of organisation that ask for them, the fourteen types, how a request searches its subject,
//! what each requester gets about each subject (VIS-5), when a deferred request is approved by
//! silence, the alarms of the TOP users (VIS-8) and the protocol number every extract carries.
//!
//! The use cases (`anagrafe_service::extracts`) read the subject and the clock, then ask these
//! functions; nothing here reads a store or a clock.

use crate::decode::TipoCertificato;
use crate::{Belfiore, Why};
use chrono::{NaiveDateTime, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};

/// Who an organisation is to the comune (VIS-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationKind {
    /// The registry office itself (*Ufficio Anagrafe*): its users are the TOP users and the
    /// mediators.
    Registry,
    /// A municipal office other than the registry (Polizia Municipale, Servizi Sociali, Tributi,
    /// Servizi Educativi…).
    MunicipalOffice,
    /// A body outside the comune under a convention with it (local public offices, consortia,
    /// public-service concessionaires).
    ExternalBody,
}

impl OrganisationKind {
    /// Every kind.
    pub const ALL: [OrganisationKind; 3] = [Self::Registry, Self::MunicipalOffice, Self::ExternalBody];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registry => "registry",
            Self::MunicipalOffice => "municipal_office",
            Self::ExternalBody => "external_body",
        }
    }

    /// The kind of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The fourteen types of extract (VIS-4), each the content of a certificate type of tab. 13:
/// an extract shows what the certificate of the same type would certify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExtractType {
    /// *Anagrafica di nascita*.
    Birth,
    /// *Esistenza in vita*.
    ExistenceInLife,
    /// *Anagrafica di morte*.
    Death,
    /// *Cittadinanza*.
    Citizenship,
    /// *Anagrafica di matrimonio*.
    Marriage,
    /// *Stato libero*.
    FreeStatus,
    /// *Residenza*.
    Residence,
    /// *Stato civile*.
    CivilStatus,
    /// *Stato di famiglia*.
    FamilyStatus,
    /// *Stato di famiglia con rapporti di parentela*.
    FamilyStatusWithKinship,
    /// *Stato di famiglia AIRE*.
    AireFamilyStatus,
    /// *Residenza AIRE*.
    AireResidence,
    /// *Storica di cittadinanza*.
    HistoricalCitizenship,
    /// *Storica di residenza*.
    HistoricalResidence,
}

impl ExtractType {
    /// Every type, in the order of the seed's list.
    pub const ALL: [ExtractType; 14] = [
        Self::Birth,
        Self::ExistenceInLife,
        Self::Death,
        Self::Citizenship,
        Self::Marriage,
        Self::FreeStatus,
        Self::Residence,
        Self::CivilStatus,
        Self::FamilyStatus,
        Self::FamilyStatusWithKinship,
        Self::AireFamilyStatus,
        Self::AireResidence,
        Self::HistoricalCitizenship,
        Self::HistoricalResidence,
    ];

    /// The stored name, also the one in URLs and forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Birth => "nascita",
            Self::ExistenceInLife => "esistenza-in-vita",
            Self::Death => "morte",
            Self::Citizenship => "cittadinanza",
            Self::Marriage => "matrimonio",
            Self::FreeStatus => "stato-libero",
            Self::Residence => "residenza",
            Self::CivilStatus => "stato-civile",
            Self::FamilyStatus => "stato-di-famiglia",
            Self::FamilyStatusWithKinship => "stato-di-famiglia-con-parentela",
            Self::AireFamilyStatus => "stato-di-famiglia-aire",
            Self::AireResidence => "residenza-aire",
            Self::HistoricalCitizenship => "storico-cittadinanza",
            Self::HistoricalResidence => "storico-residenza",
        }
    }

    /// The type of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The title of the document, as the seed's example words it (*Visura di Residenza*).
    pub fn title(self) -> &'static str {
        match self {
            Self::Birth => "Visura Anagrafica di Nascita",
            Self::ExistenceInLife => "Visura di Esistenza in Vita",
            Self::Death => "Visura Anagrafica di Morte",
            Self::Citizenship => "Visura di Cittadinanza",
            Self::Marriage => "Visura Anagrafica di Matrimonio",
            Self::FreeStatus => "Visura di Stato Libero",
            Self::Residence => "Visura di Residenza",
            Self::CivilStatus => "Visura di Stato Civile",
            Self::FamilyStatus => "Visura di Stato di Famiglia",
            Self::FamilyStatusWithKinship => "Visura di Stato di Famiglia con rapporti di Parentela",
            Self::AireFamilyStatus => "Visura di Stato di Famiglia AIRE",
            Self::AireResidence => "Visura di Residenza AIRE",
            Self::HistoricalCitizenship => "Visura Storica di Cittadinanza",
            Self::HistoricalResidence => "Visura Storica di Residenza",
        }
    }

    /// The certificate type (tab. 13) whose content the extract shows.
    pub fn certificate_type(self) -> TipoCertificato {
        let code = match self {
            Self::Birth => 1,
            Self::Death => 2,
            Self::Marriage => 3,
            Self::Citizenship => 5,
            Self::HistoricalCitizenship => 6,
            Self::ExistenceInLife => 7,
            Self::Residence => 8,
            Self::HistoricalResidence => 9,
            Self::AireResidence => 10,
            Self::CivilStatus => 11,
            Self::FamilyStatus => 12,
            Self::AireFamilyStatus => 15,
            Self::FamilyStatusWithKinship => 16,
            Self::FreeStatus => 17,
        };
        crate::decode::DecodeTable::from_code(code).expect("every extract type is a tab. 13 type")
    }
}

/// How a request names its subject (VIS-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Criterion {
    /// By codice fiscale.
    CodiceFiscale {
        /// The code, as checked by [`crate::CodiceFiscale::parse`].
        code: String,
    },
    /// By the number of an identity document the register holds (identity card, passport,
    /// residence permit).
    Document {
        /// The kind of document.
        kind: DocumentSearch,
        /// Its number, upper case, without spaces.
        number: String,
    },
    /// By name and surname, optionally with the birth date and then the birthplace.
    Name {
        /// Surname.
        surname: String,
        /// Given names.
        given: String,
        /// Date of birth, when given.
        born_on: Option<chrono::NaiveDate>,
        /// Birthplace (a comune's Belfiore code or a foreign state's code), only with the date.
        born_in: Option<String>,
    },
}

impl Criterion {
    /// The criterion in words, for the archive and the trace (never more than what was typed).
    pub fn describe(&self) -> String {
        match self {
            Self::CodiceFiscale { code } => format!("codice fiscale {code}"),
            Self::Document { kind, number } => format!("{} {number}", kind.label()),
            Self::Name { surname, given, born_on, born_in } => {
                let mut s = format!("{surname} {given}");
                if let Some(d) = born_on {
                    s.push_str(&format!(", nato/a il {}", d.format("%d/%m/%Y")));
                }
                if let Some(p) = born_in {
                    s.push_str(&format!(" a {p}"));
                }
                s
            }
        }
    }

    /// The kind, as stored (`cf`, `carta_identita`, `passaporto`, `permesso_soggiorno`, `nome`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CodiceFiscale { .. } => "cf",
            Self::Document { kind, .. } => kind.as_str(),
            Self::Name { .. } => "nome",
        }
    }
}

/// The kind of identity document a search names (REG-1): an identity card of either kind, a
/// passport or a residence permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentSearch {
    /// *Carta d'identità* (paper or electronic).
    IdentityCard,
    /// *Passaporto*.
    Passport,
    /// *Permesso di soggiorno*.
    ResidencePermit,
}

impl DocumentSearch {
    /// Every kind.
    pub const ALL: [DocumentSearch; 3] = [Self::IdentityCard, Self::Passport, Self::ResidencePermit];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdentityCard => "carta_identita",
            Self::Passport => "passaporto",
            Self::ResidencePermit => "permesso_soggiorno",
        }
    }

    /// The kind of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether a recorded document is of this kind.
    pub fn matches(self, kind: &crate::person::DocumentKind) -> bool {
        use crate::person::DocumentKind as K;
        matches!(
            (self, kind),
            (Self::IdentityCard, K::Cie | K::CartaIdentitaCartacea)
                | (Self::Passport, K::Passaporto)
                | (Self::ResidencePermit, K::PermessoSoggiorno(_))
        )
    }

    /// The name in Italian.
    pub fn label(self) -> &'static str {
        match self {
            Self::IdentityCard => "carta d'identità",
            Self::Passport => "passaporto",
            Self::ResidencePermit => "permesso di soggiorno",
        }
    }

    /// A document number as typed, normalised (upper case, no spaces or dashes): 5 to 20
    /// letters and digits, or `None`.
    pub fn normalise(number: &str) -> Option<String> {
        let n: String = number.chars().filter(|c| !matches!(c, ' ' | '-' | '.')).collect::<String>().to_uppercase();
        (5..=20).contains(&n.len()).then_some(n).filter(|n| n.bytes().all(|b| b.is_ascii_alphanumeric()))
    }
}

/// Where the subject stands with respect to the requester's comune, as the register says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Resident in the requester's comune (APR).
    Resident,
    /// Registered in the requester's comune's AIRE (Italians living abroad).
    Aire,
    /// Resident (or AIRE) in another comune, named.
    Elsewhere {
        /// That comune.
        comune: Belfiore,
    },
    /// No longer in any comune's register (dead, or cancelled): the last comune, if known.
    Former {
        /// The comune that last held the subject.
        last_comune: Option<Belfiore>,
    },
}

impl Standing {
    /// Whether the subject belongs to the requester's comune (APR or AIRE).
    pub fn is_ours(&self) -> bool {
        matches!(self, Self::Resident | Self::Aire)
    }
}

/// What a request gets (VIS-5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The extract, now.
    Issue,
    /// The name of the subject's comune now, and the extract once a mediator approves it (by
    /// hand, or by silence after the configured time).
    Defer {
        /// The comune to name at once, when the subject has one.
        comune: Option<Belfiore>,
    },
    /// Only the name of the subject's comune, and the reason no extract is issued.
    ComuneOnly {
        /// The comune, when the subject has one.
        comune: Option<Belfiore>,
        /// Why there is no extract.
        why: Why,
    },
}

/// What `kind` of organisation gets about a subject of `standing` (VIS-5, VIS-11):
///
/// - the registry office gets every extract at once;
/// - a municipal office gets at once the extract of a resident or AIRE member of its comune; for
///   anyone else the comune's name at once and the extract deferred to a mediator;
/// - an external body gets at once the extract of a resident or AIRE member of the comune; for
///   anyone else the comune's name only, never the extract;
/// - a bulk request (a list of subjects) is always deferred; external bodies make none.
pub fn decide(kind: OrganisationKind, standing: &Standing, bulk: bool) -> Outcome {
    let comune = match standing {
        Standing::Elsewhere { comune } => Some(*comune),
        Standing::Former { last_comune } => *last_comune,
        Standing::Resident | Standing::Aire => None,
    };
    match kind {
        OrganisationKind::Registry if bulk => Outcome::Defer { comune },
        OrganisationKind::Registry => Outcome::Issue,
        OrganisationKind::ExternalBody if bulk => Outcome::ComuneOnly { comune, why: Why::new("extract-bulk-external") },
        OrganisationKind::ExternalBody if standing.is_ours() => Outcome::Issue,
        OrganisationKind::ExternalBody => Outcome::ComuneOnly { comune, why: Why::new("extract-not-ours-external") },
        OrganisationKind::MunicipalOffice if bulk || !standing.is_ours() => Outcome::Defer { comune },
        OrganisationKind::MunicipalOffice => Outcome::Issue,
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for a mediator.
    Pending,
    /// Issued: the extract exists, with its protocol number.
    Issued,
    /// A mediator rejected it.
    Rejected,
    /// Answered with the comune's name only, no extract (VIS-5's external bodies).
    ComuneOnly,
}

impl RequestState {
    /// Every state.
    pub const ALL: [RequestState; 4] = [Self::Pending, Self::Issued, Self::Rejected, Self::ComuneOnly];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Issued => "issued",
            Self::Rejected => "rejected",
            Self::ComuneOnly => "comune_only",
        }
    }

    /// The state of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The state in Italian, as the archive's files print it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "in attesa del mediatore",
            Self::Issued => "emessa",
            Self::Rejected => "respinta",
            Self::ComuneOnly => "solo il comune di residenza",
        }
    }
}

/// How a pending request was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// A mediator approved it.
    ByMediator,
    /// Nobody objected within the configured time (*silenzio-assenso*).
    BySilence,
}

/// Whether a request pending since `requested_ms` is approved by silence at `now_ms`, after
/// `silence_ms` (0 or less: never by silence; approval is then by hand only).
pub fn approved_by_silence(requested_ms: i64, silence_ms: i64, now_ms: i64) -> bool {
    silence_ms > 0 && now_ms >= requested_ms.saturating_add(silence_ms)
}

/// The night window of the TOP users' alarm (VIS-8), Italian wall-clock times: from `from` to
/// `to`, across midnight when `from` is later than `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NightWindow {
    /// When the night starts (22:00 by default).
    pub from: NaiveTime,
    /// When it ends (06:00 by default).
    pub to: NaiveTime,
}

impl Default for NightWindow {
    fn default() -> Self {
        Self { from: NaiveTime::from_hms_opt(22, 0, 0).unwrap_or_default(), to: NaiveTime::from_hms_opt(6, 0, 0).unwrap_or_default() }
    }
}

impl NightWindow {
    /// Whether the Italian wall-clock time `at` falls in the night.
    pub fn contains(&self, at: NaiveDateTime) -> bool {
        let t = at.time().with_nanosecond(0).unwrap_or(at.time());
        if self.from <= self.to { t >= self.from && t < self.to } else { t >= self.from || t < self.to }
    }
}

/// Whether the `count`-th request of a day on one subject passes the alarm's threshold (VIS-8):
/// more than `threshold` requests (the threshold itself is allowed).
pub fn too_many_on_subject(count: u64, threshold: u64) -> bool {
    count > threshold
}

/// An extract's protocol number: per comune and year, from 1, without gaps (VIS-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Protocol {
    /// The comune whose register issued it.
    pub comune: Belfiore,
    /// The year (Italian calendar) it was issued in.
    pub year: i32,
    /// Its number in that comune and year.
    pub number: i64,
}

impl std::fmt::Display for Protocol {
    /// `H501/2026/0000123`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{:07}", self.comune, self.year, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrganisationKind::*;

    fn b(s: &str) -> Belfiore {
        Belfiore::parse(s).unwrap()
    }

    #[test]
    fn a_municipal_office_gets_its_own_at_once_and_others_after_a_mediator() {
        assert_eq!(decide(MunicipalOffice, &Standing::Resident, false), Outcome::Issue);
        assert_eq!(decide(MunicipalOffice, &Standing::Aire, false), Outcome::Issue);
        let elsewhere = Standing::Elsewhere { comune: b("F205") };
        assert_eq!(decide(MunicipalOffice, &elsewhere, false), Outcome::Defer { comune: Some(b("F205")) }, "the comune's name at once");
        let former = Standing::Former { last_comune: Some(b("L219")) };
        assert_eq!(decide(MunicipalOffice, &former, false), Outcome::Defer { comune: Some(b("L219")) });
    }

    #[test]
    fn an_external_body_gets_residents_and_aire_only_and_the_comune_of_anyone_else() {
        assert_eq!(decide(ExternalBody, &Standing::Resident, false), Outcome::Issue);
        assert_eq!(decide(ExternalBody, &Standing::Aire, false), Outcome::Issue);
        let elsewhere = Standing::Elsewhere { comune: b("F205") };
        match decide(ExternalBody, &elsewhere, false) {
            Outcome::ComuneOnly { comune, why } => {
                assert_eq!(comune, Some(b("F205")));
                assert_eq!(why.key(), "extract-not-ours-external");
            }
            other => panic!("never an extract of a non-resident: {other:?}"),
        }
        assert!(matches!(decide(ExternalBody, &Standing::Resident, true), Outcome::ComuneOnly { .. }), "no bulk for bodies");
    }

    #[test]
    fn bulk_requests_always_wait_for_a_mediator() {
        for s in [Standing::Resident, Standing::Aire, Standing::Elsewhere { comune: b("F205") }] {
            assert!(matches!(decide(MunicipalOffice, &s, true), Outcome::Defer { .. }), "{s:?}");
            assert!(matches!(decide(Registry, &s, true), Outcome::Defer { .. }), "{s:?}");
        }
        assert_eq!(decide(Registry, &Standing::Elsewhere { comune: b("F205") }, false), Outcome::Issue, "the registry itself");
    }

    #[test]
    fn silence_approves_only_after_the_configured_time_and_never_when_off() {
        let h = 3_600_000;
        assert!(!approved_by_silence(0, 48 * h, 48 * h - 1));
        assert!(approved_by_silence(0, 48 * h, 48 * h));
        assert!(!approved_by_silence(0, 0, i64::MAX), "silence off: by hand only");
        assert!(!approved_by_silence(i64::MAX - 1, h, i64::MAX - 1), "no overflow");
    }

    #[test]
    fn the_night_spans_midnight_and_the_threshold_itself_is_allowed() {
        let at = |h, m| chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap().and_hms_opt(h, m, 0).unwrap();
        let night = NightWindow::default();
        assert!(night.contains(at(23, 30)) && night.contains(at(0, 10)) && night.contains(at(5, 59)));
        assert!(!night.contains(at(6, 0)) && !night.contains(at(21, 59)) && !night.contains(at(12, 0)));
        let day = NightWindow { from: NaiveTime::from_hms_opt(1, 0, 0).unwrap(), to: NaiveTime::from_hms_opt(5, 0, 0).unwrap() };
        assert!(day.contains(at(1, 0)) && !day.contains(at(23, 30)));
        assert!(!too_many_on_subject(5, 5) && too_many_on_subject(6, 5));
    }

    #[test]
    fn every_type_is_a_certificate_type_and_names_round_trip() {
        let mut codes = std::collections::BTreeSet::new();
        for t in ExtractType::ALL {
            assert_eq!(ExtractType::parse(t.as_str()), Some(t));
            assert!(t.title().starts_with("Visura"));
            codes.insert(crate::decode::DecodeTable::code(t.certificate_type()));
        }
        assert_eq!(codes.len(), 14, "fourteen distinct contents");
        for k in OrganisationKind::ALL {
            assert_eq!(OrganisationKind::parse(k.as_str()), Some(k));
        }
        for s in RequestState::ALL {
            assert_eq!(RequestState::parse(s.as_str()), Some(s));
        }
        assert_eq!(Protocol { comune: b("H501"), year: 2026, number: 123 }.to_string(), "H501/2026/0000123");
    }

    #[test]
    fn document_numbers_are_normalised_and_criteria_described() {
        assert_eq!(DocumentSearch::normalise(" ca 12345-ab "), Some("CA12345AB".into()));
        assert_eq!(DocumentSearch::normalise("12"), None);
        assert_eq!(DocumentSearch::normalise("AB12345<>"), None);
        let c = Criterion::Name {
            surname: "SOFI".into(),
            given: "LUCA".into(),
            born_on: chrono::NaiveDate::from_ymd_opt(1969, 4, 5),
            born_in: Some("L219".into()),
        };
        assert_eq!(c.describe(), "SOFI LUCA, nato/a il 05/04/1969 a L219");
        assert_eq!(c.kind(), "nome");
    }
}
