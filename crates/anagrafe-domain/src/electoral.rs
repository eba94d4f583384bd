//! A person's electoral data (ELE-1: annex 1, «Dati liste elettorali», of the Interior Ministry's
//! decree on the electoral lists in ANPR, whose article 4 gives citizens CIT-3):
//! whether the person is an elector, the section of the comune where they vote (number and
//! seat), the additional lists they are on, and, per type of election, whether they vote in it
//! and in which constituency and colleges.
//!
//! The register keeps only the current values (ELE-6): an update replaces the whole record, and
//! the trail says that an update happened, not what was there before.
//!
//! The comune of registration is not part of these data: it is the comune whose electoral
//! officer keeps them (the comune of residence, or of AIRE registration), recorded beside them
//! by the store.

use crate::person::{Country, FieldError};
use crate::why::Why;
use serde::{Deserialize, Serialize};

/// Longest seat name, seat address or district name accepted.
pub const MAX_TEXT: usize = 120;
/// Highest section number accepted (Rome, the largest comune, has about 2,600 sections).
pub const MAX_SECTION: u16 = 9_999;

/// The electoral data of one person, as the electoral officer of their comune keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElectoralData {
    /// On the electoral lists (*elettore*).
    pub elector: bool,
    /// The section where the elector votes; required for an elector, absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<Section>,
    /// The additional lists the person is on (*liste aggiunte*), each at most once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_lists: Vec<AdditionalList>,
    /// The elections the person votes in, each type at most once, with its districts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elections: Vec<ElectionRight>,
}

/// An electoral section: its number in the comune and where its polling station is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Number of the section in the comune (1…[`MAX_SECTION`]).
    pub number: u16,
    /// Name of the seat (e.g. the school).
    pub seat_name: String,
    /// Address of the seat.
    pub seat_address: String,
}

/// The additional lists of annex 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdditionalList {
    /// South Tyrol, regional elections (four years' residence in the region).
    SouthTyrolRegional,
    /// South Tyrol, municipal elections.
    SouthTyrolMunicipal,
    /// Trentino, regional elections.
    TrentinoRegional,
    /// Aosta Valley, regional elections.
    AostaValleyRegional,
    /// Citizens of other EU states, municipal elections (D.Lgs. 197/1996).
    EuMunicipal,
    /// Citizens of other EU states, European Parliament elections (L. 18/1979, D.L. 408/1994).
    EuEuropean,
}

impl AdditionalList {
    /// Every list, in the order of annex 1.
    pub const ALL: [AdditionalList; 6] = [
        Self::SouthTyrolRegional,
        Self::SouthTyrolMunicipal,
        Self::TrentinoRegional,
        Self::AostaValleyRegional,
        Self::EuMunicipal,
        Self::EuEuropean,
    ];

    /// The name used in JSON and forms.
    pub fn code(self) -> &'static str {
        match self {
            Self::SouthTyrolRegional => "south_tyrol_regional",
            Self::SouthTyrolMunicipal => "south_tyrol_municipal",
            Self::TrentinoRegional => "trentino_regional",
            Self::AostaValleyRegional => "aosta_valley_regional",
            Self::EuMunicipal => "eu_municipal",
            Self::EuEuropean => "eu_european",
        }
    }

    /// Lists for citizens of other EU states (not for Italians).
    pub fn for_eu_citizens(self) -> bool {
        matches!(self, Self::EuMunicipal | Self::EuEuropean)
    }
}

/// The types of election of annex 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Election {
    /// National referendum (no district: the section is enough).
    Referendum,
    /// European Parliament, by constituency (*circoscrizione*).
    European,
    /// Senate: constituency (or division abroad), multi-member and single-member college.
    Senate,
    /// Chamber of Deputies: likewise.
    Chamber,
    /// Regional council, by constituency.
    Regional,
    /// Municipal council (no district: the comune).
    Municipal,
    /// District council (*circoscrizionali*), by district.
    District,
}

impl Election {
    /// Every type, in the order of annex 1.
    pub const ALL: [Election; 7] =
        [Self::Referendum, Self::European, Self::Senate, Self::Chamber, Self::Regional, Self::Municipal, Self::District];

    /// The name used in JSON and forms.
    pub fn code(self) -> &'static str {
        match self {
            Self::Referendum => "referendum",
            Self::European => "european",
            Self::Senate => "senate",
            Self::Chamber => "chamber",
            Self::Regional => "regional",
            Self::Municipal => "municipal",
            Self::District => "district",
        }
    }

    /// Whether this election names a constituency (or district).
    pub fn has_constituency(self) -> bool {
        !matches!(self, Self::Referendum | Self::Municipal)
    }

    /// Whether this election has colleges (Senate and Chamber).
    pub fn has_colleges(self) -> bool {
        matches!(self, Self::Senate | Self::Chamber)
    }

    /// Elections open to citizens of other EU states resident in Italy.
    pub fn open_to_eu_citizens(self) -> bool {
        matches!(self, Self::European | Self::Municipal | Self::District)
    }
}

/// One election the person votes in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElectionRight {
    /// Which election.
    pub election: Election,
    /// Constituency, division abroad or district, where the election has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constituency: Option<String>,
    /// Multi-member college (Senate, Chamber).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_member_college: Option<String>,
    /// Single-member college (Senate, Chamber).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_member_college: Option<String>,
}

/// `Z` codes (ANPR's table of foreign states) of the other member states of the European Union.
pub const EU_STATES: [&str; 26] = [
    "Z102", "Z103", "Z104", "Z149", "Z211", "Z156", "Z107", "Z144", "Z109", "Z110", "Z112", "Z115", "Z134", "Z116", "Z145", "Z146", "Z120",
    "Z121", "Z126", "Z127", "Z128", "Z129", "Z155", "Z150", "Z131", "Z132",
];

/// What the person's citizenships allow on the lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Franchise {
    /// An Italian citizen.
    Italian,
    /// A citizen of another EU state (and not Italian).
    OtherEu,
    /// Neither: not an elector in Italy.
    None,
}

impl Franchise {
    /// From a record's citizenships.
    pub fn of(citizenships: &[Country]) -> Self {
        if citizenships.contains(&Country::Italia) {
            Self::Italian
        } else if citizenships.iter().any(|c| matches!(c, Country::Foreign(z) if EU_STATES.contains(&z.as_str()))) {
            Self::OtherEu
        } else {
            Self::None
        }
    }
}

impl ElectoralData {
    /// Not an elector, nothing else.
    pub fn not_elector() -> Self {
        Self { elector: false, section: None, additional_lists: Vec::new(), elections: Vec::new() }
    }

    /// Every rule these data break, each naming its field (dotted JSON path), for a person whose
    /// citizenships give `franchise`.
    pub fn check(&self, franchise: Franchise) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if !self.elector {
            if self.section.is_some() {
                errs.push(FieldError::new("section", Why::new("elector-section-only")));
            }
            if !self.additional_lists.is_empty() {
                errs.push(FieldError::new("additional_lists", Why::new("elector-lists-only")));
            }
            if !self.elections.is_empty() {
                errs.push(FieldError::new("elections", Why::new("elector-votes-only")));
            }
            return errs;
        }
        if franchise == Franchise::None {
            errs.push(FieldError::new("elector", Why::new("no-franchise")));
        }
        match &self.section {
            None => errs.push(FieldError::new("section", Why::new("elector-section"))),
            Some(s) => {
                if s.number == 0 || s.number > MAX_SECTION {
                    errs.push(FieldError::new("section.number", Why::new("range").arg("min", 1).arg("max", MAX_SECTION)));
                }
                text(&mut errs, "section.seat_name", Some(&s.seat_name), true);
                text(&mut errs, "section.seat_address", Some(&s.seat_address), true);
            }
        }
        for (i, l) in self.additional_lists.iter().enumerate() {
            let field = format!("additional_lists[{i}]");
            if self.additional_lists[..i].contains(l) {
                errs.push(FieldError::new(field, Why::new("twice")));
            } else if l.for_eu_citizens() && franchise == Franchise::Italian {
                errs.push(FieldError::new(field, Why::new("list-eu")));
            } else if !l.for_eu_citizens() && franchise == Franchise::OtherEu {
                errs.push(FieldError::new(field, Why::new("list-italian")));
            }
        }
        for (i, e) in self.elections.iter().enumerate() {
            let base = format!("elections[{i}]");
            if self.elections[..i].iter().any(|x| x.election == e.election) {
                errs.push(FieldError::new(format!("{base}.election"), Why::new("twice")));
                continue;
            }
            if franchise == Franchise::OtherEu && !e.election.open_to_eu_citizens() {
                errs.push(FieldError::new(format!("{base}.election"), Why::new("election-not-eu")));
            }
            let c = e.election.has_constituency();
            text(&mut errs, &format!("{base}.constituency"), e.constituency.as_ref(), c);
            if !c && e.constituency.is_some() {
                errs.push(FieldError::new(format!("{base}.constituency"), Why::new("no-constituency")));
            }
            for (name, v) in [("multi_member_college", &e.multi_member_college), ("single_member_college", &e.single_member_college)] {
                if e.election.has_colleges() {
                    text(&mut errs, &format!("{base}.{name}"), v.as_ref(), false);
                } else if v.is_some() {
                    errs.push(FieldError::new(format!("{base}.{name}"), Why::new("no-colleges")));
                }
            }
        }
        errs
    }

    /// Whether the person votes in `election`, and where.
    pub fn right(&self, election: Election) -> Option<&ElectionRight> {
        self.elections.iter().find(|e| e.election == election)
    }
}

fn text(errs: &mut Vec<FieldError>, field: &str, value: Option<&String>, required: bool) {
    match value {
        None if required => errs.push(FieldError::new(field, Why::new("required"))),
        None => {}
        Some(v) if v.trim().is_empty() => errs.push(FieldError::new(field, Why::new("empty"))),
        Some(v) if v.chars().count() > MAX_TEXT => errs.push(FieldError::new(field, Why::new("too-long").arg("max", MAX_TEXT))),
        Some(v) => {
            if let Some(c) = v.chars().find(|c| !crate::text::allowed_char(*c)) {
                errs.push(FieldError::new(field, Why::new("forbidden-char").arg("char", crate::text::shown(c))))
            }
        }
    }
}

/// What a citizen may say is wrong in the own electoral data (CIT-3), when asking the comune
/// to rectify them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RectificationTopic {
    /// Being, or not being, on the lists.
    Elector,
    /// The section or its seat.
    Section,
    /// The additional lists.
    AdditionalLists,
    /// Constituencies and colleges.
    Elections,
    /// Anything else.
    Other,
}

impl RectificationTopic {
    /// Every topic, in the page's order.
    pub const ALL: [RectificationTopic; 5] = [Self::Elector, Self::Section, Self::AdditionalLists, Self::Elections, Self::Other];

    /// The name used in JSON, forms and storage.
    pub fn code(self) -> &'static str {
        match self {
            Self::Elector => "elector",
            Self::Section => "section",
            Self::AdditionalLists => "additional_lists",
            Self::Elections => "elections",
            Self::Other => "other",
        }
    }

    /// The topic of a code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }
}

/// Shortest and longest text of a rectification request.
pub const REQUEST_TEXT: (usize, usize) = (10, 2_000);

/// Why the text of a request (or of its answer) is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    /// Shorter than `REQUEST_TEXT.0` characters.
    TooShort,
    /// Longer than `REQUEST_TEXT.1` characters.
    TooLong,
    /// Holds control characters other than line ends and tabs.
    Control,
}

impl TextProblem {
    /// The reason, as a field error states it.
    pub fn why(self) -> Why {
        match self {
            Self::TooShort => Why::new("too-short").arg("min", REQUEST_TEXT.0),
            Self::TooLong => Why::new("too-long").arg("max", REQUEST_TEXT.1),
            Self::Control => Why::new("control-chars"),
        }
    }
}

/// The text of a request or answer as kept: trimmed, line ends as `\n`, between
/// `REQUEST_TEXT` characters, no control characters but line ends and tabs.
pub fn request_text(raw: &str) -> Result<String, TextProblem> {
    let text = raw.replace("\r\n", "\n").trim().to_owned();
    let n = text.chars().count();
    if n < REQUEST_TEXT.0 {
        Err(TextProblem::TooShort)
    } else if n > REQUEST_TEXT.1 {
        Err(TextProblem::TooLong)
    } else if text.chars().any(|ch| ch.is_control() && ch != '\n' && ch != '\t') {
        Err(TextProblem::Control)
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_request_text_is_trimmed_and_bounded() {
        use super::{TextProblem, request_text};
        assert_eq!(request_text("  la sezione è sbagliata\r\n"), Ok("la sezione è sbagliata".to_owned()));
        assert_eq!(request_text("corto"), Err(TextProblem::TooShort));
        assert_eq!(request_text(&"x".repeat(2_001)), Err(TextProblem::TooLong));
        assert_eq!(request_text("la sezione\u{7}è sbagliata"), Err(TextProblem::Control));
        assert!(request_text("riga uno\n\triga due").is_ok());
    }

    use super::*;
    use crate::Belfiore;

    fn elector() -> ElectoralData {
        ElectoralData {
            elector: true,
            section: Some(Section { number: 12, seat_name: "Scuola primaria Mazzini".into(), seat_address: "Via Roma 1".into() }),
            additional_lists: Vec::new(),
            elections: vec![
                ElectionRight {
                    election: Election::Referendum,
                    constituency: None,
                    multi_member_college: None,
                    single_member_college: None,
                },
                ElectionRight {
                    election: Election::Senate,
                    constituency: Some("Lazio".into()),
                    multi_member_college: Some("Lazio - P01".into()),
                    single_member_college: Some("Lazio - U03".into()),
                },
            ],
        }
    }

    #[test]
    fn an_italian_elector_with_a_section_holds() {
        assert!(elector().check(Franchise::Italian).is_empty());
        assert!(ElectoralData::not_elector().check(Franchise::None).is_empty());
    }

    #[test]
    fn each_rule_names_its_field() {
        let fields = |d: &ElectoralData, f| d.check(f).into_iter().map(|e| e.field).collect::<Vec<_>>();
        let mut d = elector();
        d.section = None;
        assert_eq!(fields(&d, Franchise::Italian), ["section"]);
        let mut d = elector();
        d.section.as_mut().unwrap().number = 0;
        d.section.as_mut().unwrap().seat_name = " ".into();
        assert_eq!(fields(&d, Franchise::Italian), ["section.number", "section.seat_name"]);
        let mut d = elector();
        d.additional_lists = vec![AdditionalList::EuMunicipal, AdditionalList::TrentinoRegional, AdditionalList::TrentinoRegional];
        assert_eq!(fields(&d, Franchise::Italian), ["additional_lists[0]", "additional_lists[2]"]);
        // A citizen of another EU state: the EU lists, no Senate.
        assert_eq!(
            fields(&d, Franchise::OtherEu),
            ["additional_lists[1]", "additional_lists[2]", "elections[0].election", "elections[1].election"]
        );
        let mut d = elector();
        d.elections[0].constituency = Some("x".into());
        d.elections[1].constituency = None;
        d.elections.push(ElectionRight {
            election: Election::Regional,
            constituency: Some("Roma".into()),
            multi_member_college: Some("1".into()),
            single_member_college: None,
        });
        assert_eq!(
            fields(&d, Franchise::Italian),
            ["elections[0].constituency", "elections[1].constituency", "elections[2].multi_member_college"]
        );
        let mut d = ElectoralData::not_elector();
        d.section = elector().section;
        assert_eq!(fields(&d, Franchise::Italian), ["section"]);
        assert_eq!(fields(&elector(), Franchise::None), ["elector"]);
    }

    #[test]
    fn franchise_comes_from_citizenships() {
        let z = |c: &str| Country::Foreign(Belfiore::parse(c).unwrap());
        assert_eq!(Franchise::of(&[z("Z110"), Country::Italia]), Franchise::Italian);
        assert_eq!(Franchise::of(&[z("Z156")]), Franchise::OtherEu);
        assert_eq!(Franchise::of(&[z("Z200")]), Franchise::None);
    }

    #[test]
    fn json_is_strict_and_compact() {
        let d = elector();
        let j = serde_json::to_string(&d).unwrap();
        assert!(!j.contains("additional_lists") && j.contains("\"election\":\"senate\""));
        assert_eq!(serde_json::from_str::<ElectoralData>(&j).unwrap(), d);
        assert!(serde_json::from_str::<ElectoralData>(r#"{"elector":false,"sezione":1}"#).is_err());
        assert!(serde_json::from_str::<ElectoralData>(r#"{"elector":true,"additional_lists":["nowhere"]}"#).is_err());
    }
}
