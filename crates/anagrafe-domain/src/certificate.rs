//! Certificates (CRT-1, CRT-2, CRT-4, CRT-5): the types of tab. 13 and how they combine, the
//! blocking checks of ANPR's per-certificate controls (`controllo-certificati`), the stamp duty
//! or its exemption (tab. 39), and the language of a comune's bilingual certificates.
//!
//! Refusals carry the code ANPR uses for the same condition (`tab_elenco_errori_anpr.csv`).

use crate::decode::{DecodeTable, EsenzioneBollo, RelazioneParentela, StatoCivile, TipoCertificato};
use crate::person::{Country, FieldError, PersonRecord, RegisterStatus};
use crate::refdata::Comune;
use serde::{Deserialize, Serialize};

/// Stamp duty on a certificate (*imposta di bollo*), in euro cents.
pub const STAMP_DUTY_CENTS: i64 = 1600;
/// Longest description of an exemption with code 99.
pub const EXEMPTION_DESCRIPTION_MAX: usize = 256;

/// Documented names of the tab. 13 types, accepted wherever a type code is.
pub const TYPE_NAMES: [(u16, &str); 20] = [
    (1, "nascita"),
    (2, "morte"),
    (3, "matrimonio"),
    (4, "cancellazione"),
    (5, "cittadinanza"),
    (6, "storico-cittadinanza"),
    (7, "esistenza-in-vita"),
    (8, "residenza"),
    (9, "storico-residenza"),
    (10, "residenza-aire"),
    (11, "stato-civile"),
    (12, "stato-di-famiglia"),
    (13, "stato-di-famiglia-e-stato-civile"),
    (14, "residenza-in-convivenza"),
    (15, "stato-di-famiglia-aire"),
    (16, "stato-di-famiglia-con-parentela"),
    (17, "stato-libero"),
    (18, "unione-civile"),
    (19, "contratto-di-convivenza"),
    (20, "storico-residenza-alla-data"),
];

/// Types that can only be issued alone (EN153).
const SINGLE_ONLY: [u16; 5] = [2, 4, 6, 9, 20];
/// Types for AIRE residents only.
const AIRE_ONLY: [u16; 2] = [10, 15];
/// Types refused to AIRE residents.
const RESIDENTS_ONLY: [u16; 11] = [2, 4, 6, 7, 8, 11, 12, 13, 14, 16, 17];
/// Types that can be issued about a person no longer in the register (cancelled or dead).
const ABOUT_FORMER: [u16; 5] = [2, 4, 6, 9, 20];

/// Why a certificate cannot be issued: ANPR's code and the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct Refusal {
    /// Stable code (ANPR's `EN…` codes where one fits).
    pub code: &'static str,
    /// Human reason, in Italian as ANPR words it.
    pub reason: String,
}

fn refuse(code: &'static str, reason: impl Into<String>) -> Refusal {
    Refusal { code, reason: reason.into() }
}

/// Parses a type given by its tab. 13 code (`8`) or documented name (`residenza`).
pub fn parse_type(s: &str) -> Option<TipoCertificato> {
    let s = s.trim();
    if let Ok(code) = s.parse::<u16>() {
        return TipoCertificato::from_code(code);
    }
    let folded = s.to_lowercase().replace(['_', ' '], "-");
    TYPE_NAMES.iter().find(|(_, n)| *n == folded).and_then(|(c, _)| TipoCertificato::from_code(*c))
}

/// The documented name of a type code.
pub fn type_name(code: u16) -> &'static str {
    TYPE_NAMES.iter().find(|(c, _)| *c == code).map_or("?", |(_, n)| n)
}

/// Checks that the requested types may be issued together (a combined certificate when more
/// than one), as ANPR's "combinazioni certificati su cumulativi" rules say.
pub fn check_combination(types: &[u16]) -> Result<(), Refusal> {
    let has = |c: u16| types.contains(&c);
    for (i, t) in types.iter().enumerate() {
        if types[..i].contains(t) {
            return Err(refuse("EC070", format!("il tipo di certificato {t} è richiesto più volte")));
        }
    }
    if types.len() > 1 && types.iter().any(|t| SINGLE_ONLY.contains(t)) {
        return Err(refuse(
            "EN153",
            "I certificati di anagrafica morte, cancellazione anagrafica, storico di cittadinanza, storico di residenza, storico di residenza alla data possono essere richiesti solo in modalita' certificato singolo",
        ));
    }
    if has(3) && (has(17) || has(18)) {
        return Err(refuse(
            "EN152",
            "Il certificato di anagrafica matrimonio non puo' essere richiesto con quello di stato libero o di unione civile",
        ));
    }
    if has(17) && has(11) {
        return Err(refuse(
            "EN158",
            "I certificati di anagrafica matrimonio o stato civile non possono essere richiesti con il certificato di stato libero",
        ));
    }
    if has(11) && has(13) {
        return Err(refuse(
            "EN159",
            "Il certificato di stato civile non puo' essere richiesto con quello di stato libero o con quello di stato di famiglia e stato civile",
        ));
    }
    let family: Vec<u16> = types.iter().copied().filter(|t| [12, 13, 14, 16].contains(t)).collect();
    if family.len() > 1 {
        let (code, reason) = match family[0] {
            12 => (
                "EN154",
                "I certificati di stato di famiglia e stato civile, stato di famiglia per convivenza e stato di famiglia con rapporti di parentela non possono essere richiesti con il certificato di stato di famiglia",
            ),
            13 => (
                "EN155",
                "I certificati di stato di famiglia, stato di famiglia per convivenza e stato di famiglia con rapporti di parentela non possono essere richiesti con il certificato di stato di famiglia e stato civile",
            ),
            14 => (
                "EN156",
                "I certificati di stato di famiglia, stato di famiglia e stato civile e stato di famiglia con rapporti di parentela non possono essere richiesti con il certificato di stato di famiglia per convivenza",
            ),
            _ => (
                "EN157",
                "I certificati di stato di famiglia per convivenza, stato di famiglia e stato civile e stato di famiglia non possono essere richiesti con il certificato di stato di famiglia con rapporti di parentela",
            ),
        };
        return Err(refuse(code, reason));
    }
    if types.iter().any(|t| AIRE_ONLY.contains(t)) && types.iter().any(|t| RESIDENTS_ONLY.contains(t)) {
        return Err(refuse(
            "EN044",
            "i certificati per gli iscritti all'AIRE non possono essere richiesti con quelli previsti solo per i residenti",
        ));
    }
    Ok(())
}

/// What the checks need to know of the subject's household on the certificate's date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdFacts {
    /// A cohabitation (*convivenza*) rather than a family.
    pub cohabitation: bool,
    /// Number of members.
    pub members: usize,
    /// Whether a member is the head (relation 1, or the responsible of a cohabitation).
    pub has_head: bool,
    /// Relations to the head of every member (tab. 05 codes; families only).
    pub relations: Vec<u16>,
}

/// The blocking checks of one type against the subject's record on the certificate's date.
pub fn check_subject(t: u16, r: &PersonRecord, household: Option<&HouseholdFacts>) -> Result<(), Refusal> {
    // Conditions with their own codes come before the general ones.
    match t {
        2 if r.status != RegisterStatus::Deceased => {
            return Err(refuse("EN061", "Il Certificato di decesso non puo' essere emesso perche' il soggetto non risulta deceduto"));
        }
        4 if r.status != RegisterStatus::Cancelled => {
            return Err(refuse("EN160", "Il certificato non puo' essere emesso perche' il soggetto non risulta cancellato dall'anagrafe"));
        }
        7 if r.status == RegisterStatus::Deceased => {
            return Err(refuse("EN054", "Impossibile emettere il certificato di esistenza in vita in quanto il soggetto e' deceduto"));
        }
        _ => {}
    }
    if !ABOUT_FORMER.contains(&t) {
        match r.status {
            RegisterStatus::Deceased => {
                return Err(refuse("EN228", "Il certificato non puo' essere emesso in quanto il soggetto e' deceduto"));
            }
            RegisterStatus::Cancelled => {
                return Err(refuse("EN160", "Il certificato non puo' essere emesso perche' il soggetto risulta cancellato dall'anagrafe"));
            }
            _ => {}
        }
    }
    let aire = r.status == RegisterStatus::Aire;
    if aire && RESIDENTS_ONLY.contains(&t) {
        return Err(refuse("EN044", "Il certificato non puo' essere emesso in quanto il soggetto e' iscritto all'AIRE"));
    }
    if !aire && AIRE_ONLY.contains(&t) {
        return Err(refuse("EN164", "Il certificato non puo' essere emesso in quanto il soggetto non e' iscritto all'AIRE"));
    }
    let italian = r.citizenships.contains(&Country::Italia);
    match t {
        1 if aire && r.generalita.birth_place.code().is_foreign_state() => {
            Err(refuse("EN044", "Il certificato di nascita non puo' essere emesso per un iscritto all'AIRE nato all'estero"))
        }
        3 | 18 => Err(refuse(
            "EN162",
            "Il certificato non puo' essere emesso perche' i dati del matrimonio o dell'unione civile risultano mancanti (il registro non ne conserva gli atti)",
        )),
        19 => Err(refuse("EN161", "Il certificato non puo' essere emesso perche' i dati del contratto di convivenza risultano mancanti")),
        5 if r.citizenships.len() > 1 => {
            Err(refuse("EN110", "Il certificato di cittadinanza non puo' essere emesso per un soggetto con piu' cittadinanze"))
        }
        5 | 6 if !italian => Err(refuse("EN110", "Impossibile emettere il certificato perche' il soggetto non ha cittadinanza italiana")),
        11 | 13 if r.civil_status == StatoCivile::NonClassificabileIgnotoC => {
            Err(refuse("EN138", "Impossibile emettere il Certificato perche' non risulta lo stato civile per questo soggetto"))
        }
        17 if !matches!(
            r.civil_status,
            StatoCivile::CelibeNubile
                | StatoCivile::Vedovo
                | StatoCivile::Divorziato
                | StatoCivile::StatoLiberoSeguitoDecesso
                | StatoCivile::StatoLiberoSeguitoScioglimento
        ) =>
        {
            Err(refuse("EN060", "Impossibile emettere il Certificato di stato libero del soggetto"))
        }
        12 | 13 | 15 | 16 => {
            let Some(h) = household else {
                return Err(refuse(
                    "EN137",
                    "Impossibile emettere il Certificato perche' non risulta ne' una famiglia ne' una convivenza associata a questo soggetto",
                ));
            };
            if h.cohabitation && t != 15 {
                return Err(refuse(
                    if t == 16 { "EN058" } else { "EN055" },
                    "Impossibile emettere il Certificato di stato di Famiglia in quanto il soggetto appartiene ad una convivenza e non ad una famiglia anagrafica",
                ));
            }
            if !h.has_head {
                return Err(refuse(
                    "EN062",
                    "Il Certificato di stato di famiglia non puo' essere emesso perche' non risulta presente un intestatario della famiglia anagrafica",
                ));
            }
            if (t == 13 || t == 16) && h.members < 2 {
                return Err(refuse(
                    "EN059",
                    "Impossibile emettere il Certificato in quanto la famiglia e' costituita dal solo intestatario",
                ));
            }
            if (t == 15 || t == 16)
                && h.relations.iter().any(|c| RelazioneParentela::from_code(*c).is_some_and(|r| r.valid_until().is_some()))
            {
                return Err(refuse(
                    "EN045",
                    "Il certificato non puo' essere emesso in quanto uno o piu' soggetti possiedono un legame con l'intestatario non piu' ammesso",
                ));
            }
            Ok(())
        }
        14 if household.is_none_or(|h| !h.cohabitation) => Err(refuse(
            "EN056",
            "Impossibile emettere il Certificato di stato di Famiglia per convivenza in quanto il soggetto non appartiene ad una convivenza",
        )),
        _ => Ok(()),
    }
}

/// A residence the register held for a person, in a comune's register (APR, or AIRE abroad):
/// the comune and the days it held (`to` exclusive, `None` while it holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldResidence {
    /// The comune whose register held the person.
    pub comune: crate::codes::Belfiore,
    /// First day.
    pub from: chrono::NaiveDate,
    /// Day it stopped holding, `None` while it holds.
    pub to: Option<chrono::NaiveDate>,
}

/// The birth certificate a citizen of another EU state obtains through eIDAS (EU-3): only that
/// type, only by someone born in Italy who is **no longer** in the register, and only if a
/// comune's register held them on or after the day that comune joined the national register
/// (before it, ANPR knows nothing of them).
pub fn check_former_birth(
    types: &[u16],
    r: &PersonRecord,
    residences: &[HeldResidence],
    today: chrono::NaiveDate,
    refdata: &crate::refdata::RefData,
) -> Result<(), Refusal> {
    if types != [1] {
        return Err(refuse("UE003", "Con l'accesso eIDAS si ottiene il solo certificato di nascita"));
    }
    match r.status {
        RegisterStatus::Deceased => {
            return Err(refuse("EN228", "Il certificato non puo' essere emesso in quanto il soggetto e' deceduto"));
        }
        RegisterStatus::Cancelled => {}
        _ => {
            return Err(refuse(
                "UE001",
                "Il soggetto risulta iscritto nell'anagrafe: il certificato si chiede dall'area riservata del cittadino",
            ));
        }
    }
    if r.generalita.birth_place.code().is_foreign_state() {
        return Err(refuse("UE002", "Il certificato di nascita e' rilasciato a chi e' nato in Italia"));
    }
    let held_after_joining = residences.iter().any(|h| {
        crate::refdata::subentro::subentro(refdata, h.comune).is_some_and(|s| match h.to {
            Some(to) => to > s.date,
            None => today >= s.date,
        })
    });
    if !held_after_joining {
        return Err(refuse("EN106", "Nel periodo indicato il comune non era subentrato"));
    }
    Ok(())
}

/// How the stamp duty is settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Stamp {
    /// Paid through the payment interface; the payment is consumed by the certificate.
    Paid {
        /// Payment id.
        payment_id: String,
    },
    /// Exempt, for a reason of tab. 39.
    Exempt {
        /// Tab. 39 code.
        code: u16,
        /// Required for code 99 (*altro motivo*), at most 256 characters.
        #[serde(default)]
        description: Option<String>,
    },
}

impl Stamp {
    /// Checks the exemption code and description (the "Esenzione bolli" controls).
    pub fn check(&self) -> Result<(), FieldError> {
        match self {
            Stamp::Paid { payment_id } if payment_id.trim().is_empty() || payment_id.len() > 64 => {
                Err(FieldError::new("stamp.payment_id", crate::why::Why::new("payment-id")))
            }
            Stamp::Paid { .. } => Ok(()),
            Stamp::Exempt { code, description } => {
                if EsenzioneBollo::from_code(*code).is_none() {
                    return Err(FieldError::new("stamp.code", crate::why::Why::new("not-in-table").arg("table", "39")));
                }
                let description = description.as_deref().map(str::trim).filter(|d| !d.is_empty());
                if *code == 99 && description.is_none() {
                    return Err(FieldError::new("stamp.description", crate::why::Why::new("exemption-99")));
                }
                if description.is_some_and(|d| d.chars().count() > EXEMPTION_DESCRIPTION_MAX) {
                    return Err(FieldError::new(
                        "stamp.description",
                        crate::why::Why::new("too-long").arg("max", EXEMPTION_DESCRIPTION_MAX),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The line printed on the certificate.
    pub fn printed(&self) -> String {
        match self {
            Stamp::Paid { payment_id } => format!("Imposta di bollo di € 16,00 assolta in modo virtuale (pagamento {payment_id})."),
            Stamp::Exempt { code, description } => {
                let table = EsenzioneBollo::from_code(*code).map(|e| e.description()).unwrap_or("");
                match description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                    Some(d) if *code == 99 => format!("Esente dall'imposta di bollo: {d}."),
                    _ => format!("Esente dall'imposta di bollo: {table}."),
                }
            }
        }
    }
}

/// The second official language of a comune, for bilingual certificates (CRT-5): German in
/// South Tyrol, French in the Aosta Valley, Slovenian in the comuni of Trieste, Gorizia and
/// Udine that the archive names in Slovenian too.
pub fn second_language(comune: &Comune) -> Option<&'static str> {
    match comune.province.as_str() {
        "BZ" => Some("de"),
        "AO" => Some("fr"),
        "TS" | "GO" | "UD" if comune.alt_name.is_some() => Some("sl"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_by_code_or_name() {
        assert_eq!(parse_type("8").map(|t| t.code()), Some(8));
        assert_eq!(parse_type("Stato di famiglia").map(|t| t.code()), Some(12));
        assert_eq!(parse_type("residenza"), parse_type("8"));
        assert!(parse_type("21").is_none() && parse_type("passaporto").is_none());
        for (code, name) in TYPE_NAMES {
            assert_eq!(parse_type(name).map(|t| t.code()), Some(code));
            assert_eq!(type_name(code), name);
        }
    }

    #[test]
    fn combinations_follow_anpr_rules() {
        assert!(check_combination(&[8, 12, 11]).is_ok());
        assert_eq!(check_combination(&[8, 9]).unwrap_err().code, "EN153");
        assert_eq!(check_combination(&[17, 11]).unwrap_err().code, "EN158");
        assert_eq!(check_combination(&[11, 13]).unwrap_err().code, "EN159");
        assert_eq!(check_combination(&[12, 16]).unwrap_err().code, "EN154");
        assert_eq!(check_combination(&[3, 17]).unwrap_err().code, "EN152");
        assert_eq!(check_combination(&[10, 8]).unwrap_err().code, "EN044");
        assert_eq!(check_combination(&[8, 8]).unwrap_err().code, "EC070");
    }

    #[test]
    fn exemption_99_needs_a_short_description() {
        let e = |code, d: Option<&str>| Stamp::Exempt { code, description: d.map(str::to_owned) }.check();
        assert!(e(3, None).is_ok());
        assert_eq!(e(99, None).unwrap_err().field, "stamp.description");
        assert_eq!(e(99, Some("   ")).unwrap_err().field, "stamp.description");
        assert!(e(99, Some(&"x".repeat(256))).is_ok());
        assert_eq!(e(99, Some(&"x".repeat(257))).unwrap_err().field, "stamp.description");
        assert_eq!(e(42, None).unwrap_err().field, "stamp.code");
        assert!(Stamp::Paid { payment_id: "".into() }.check().is_err());
    }
}
