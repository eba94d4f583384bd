//! Identity documents on the person's record (REG-1): the registry office records a document
//! issued (an identity card, electronic or paper, a passport, a residence permit or one of the
//! other titles of tab. 08), records its renewal — the new document replaces the old, which
//! stays in the history — and records its end before expiry: lost, stolen, damaged, or withdrawn
//! by the authority.
//!
//! These are the values of the two operations and what they check without the register; what
//! needs the record (the documents the person holds, the citizenships, a number held by someone
//! else) is decided by [`crate::rules::document_issue`] and [`crate::rules::document_end`].

use crate::decode::{DecodeTable, TipoSoggiorno};
use crate::extract::DocumentSearch;
use crate::text::{DocumentNumber, Issuer};
use crate::why::Why;
use crate::{DocumentKind, FieldError, IdentityDocument};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The kinds of document by their names in the web services and forms.
pub const KIND_NAMES: [&str; 4] = ["cie", "carta_identita_cartacea", "passaporto", "permesso_soggiorno"];

/// The name of a document's kind (`permesso_soggiorno` for every title of tab. 08).
pub fn kind_name(kind: &DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Cie => "cie",
        DocumentKind::CartaIdentitaCartacea => "carta_identita_cartacea",
        DocumentKind::Passaporto => "passaporto",
        DocumentKind::PermessoSoggiorno(_) => "permesso_soggiorno",
    }
}

/// The kind a name and, for a residence permit, a title of tab. 08 give; the refusal names the
/// field.
pub fn kind_of(name: &str, permit_kind: Option<u16>) -> Result<DocumentKind, FieldError> {
    let kind = match name {
        "cie" => DocumentKind::Cie,
        "carta_identita_cartacea" => DocumentKind::CartaIdentitaCartacea,
        "passaporto" => DocumentKind::Passaporto,
        "permesso_soggiorno" => {
            let code = permit_kind.ok_or_else(|| FieldError::new("permit_kind", Why::new("required")))?;
            let title = TipoSoggiorno::from_code(code)
                .ok_or_else(|| FieldError::new("permit_kind", Why::new("not-in-table").arg("table", "08")))?;
            if matches!(title, TipoSoggiorno::SenzaPermesso | TipoSoggiorno::NonConosciutoNonFornito) {
                return Err(FieldError::new("permit_kind", Why::new("permit-not-a-document")));
            }
            return Ok(DocumentKind::PermessoSoggiorno(title));
        }
        _ => return Err(FieldError::new("kind", Why::new("document-kind").arg("kinds", KIND_NAMES.join(", ")))),
    };
    if permit_kind.is_some() {
        return Err(FieldError::new("permit_kind", Why::new("permit-kind-only")));
    }
    Ok(kind)
}

/// A document's number as the register keeps it: capitals and digits, without the spaces,
/// hyphens and dots it may be written with.
pub fn number_of(raw: &str) -> Result<DocumentNumber, FieldError> {
    let n = DocumentSearch::normalise(raw).ok_or_else(|| FieldError::new("number", Why::new("document-number")))?;
    DocumentNumber::new(&n).map_err(|e| FieldError::new("number", e.into()))
}

/// The electronic identity card's number: two letters, five digits, two letters (`CA12345AB`).
fn cie_number(n: &str) -> bool {
    let b = n.as_bytes();
    b.len() == 9
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..7].iter().all(u8::is_ascii_digit)
        && b[7..].iter().all(u8::is_ascii_uppercase)
}

/// A document issued to a person, to record; `renews` names the person's document it replaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "IssueBody", into = "IssueBody")]
pub struct DocumentIssue {
    /// The document.
    pub document: IdentityDocument,
    /// The number of the person's document this one renews (it ends the day this is issued).
    pub renews: Option<DocumentNumber>,
}

/// A document issue as the web services write it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    permit_kind: Option<u16>,
    number: String,
    issued_on: NaiveDate,
    #[serde(default)]
    expires_on: Option<NaiveDate>,
    #[serde(default)]
    issuer: Option<Issuer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    renews: Option<String>,
}

impl TryFrom<IssueBody> for DocumentIssue {
    type Error = FieldError;

    fn try_from(b: IssueBody) -> Result<Self, FieldError> {
        let kind = kind_of(&b.kind, b.permit_kind)?;
        let number = number_of(&b.number)?;
        let renews = b.renews.as_deref().map(number_of).transpose().map_err(|e| FieldError { field: "renews".into(), ..e })?;
        Ok(Self { document: IdentityDocument { kind, number, issued_on: b.issued_on, expires_on: b.expires_on, issuer: b.issuer }, renews })
    }
}

impl From<DocumentIssue> for IssueBody {
    fn from(i: DocumentIssue) -> Self {
        let permit_kind = match i.document.kind {
            DocumentKind::PermessoSoggiorno(t) => Some(t.code()),
            _ => None,
        };
        Self {
            kind: kind_name(&i.document.kind).to_owned(),
            permit_kind,
            number: i.document.number.to_string(),
            issued_on: i.document.issued_on,
            expires_on: i.document.expires_on,
            issuer: i.document.issuer,
            renews: i.renews.map(|n| n.to_string()),
        }
    }
}

impl DocumentIssue {
    /// Checks what does not need the register.
    pub fn check(&self, today: NaiveDate) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let d = &self.document;
        crate::ops::check_date(&mut errs, "issued_on", d.issued_on, today);
        match d.expires_on {
            Some(e) if e <= d.issued_on => errs.push(FieldError::new("expires_on", Why::new("document-expiry-before"))),
            None if d.kind != DocumentKind::PermessoSoggiorno(TipoSoggiorno::CartaSoggiornoPermessoSoggiorno)
                && !matches!(d.kind, DocumentKind::PermessoSoggiorno(TipoSoggiorno::AttestazioneCaratterePermanente)) =>
            {
                // Only the permanent titles (EU long-term permit, permanent attestation) have no
                // expiry.
                errs.push(FieldError::new("expires_on", Why::new("required")))
            }
            _ => {}
        }
        if d.kind == DocumentKind::Cie && !cie_number(&d.number) {
            errs.push(FieldError::new("number", Why::new("cie-number")));
        }
        if self.renews.as_ref() == Some(&d.number) {
            errs.push(FieldError::new("renews", Why::new("document-renews-itself")));
        }
        errs
    }
}

/// Why a document stops being valid before it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentEndReason {
    /// Replaced by a renewal (recorded with the new document, never on its own).
    Renewed,
    /// Reported lost (*smarrimento*).
    Lost,
    /// Reported stolen (*furto*).
    Stolen,
    /// Damaged and handed back (*deterioramento*).
    Damaged,
    /// Withdrawn by the authority (*ritiro*), e.g. a passport withdrawn by the Questura.
    Withdrawn,
}

impl DocumentEndReason {
    /// Every reason.
    pub const ALL: [Self; 5] = [Self::Renewed, Self::Lost, Self::Stolen, Self::Damaged, Self::Withdrawn];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Renewed => "renewed",
            Self::Lost => "lost",
            Self::Stolen => "stolen",
            Self::Damaged => "damaged",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// The reason of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The end of one of the person's documents before its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentEnd {
    /// The document's number.
    #[serde(deserialize_with = "de_number")]
    pub number: DocumentNumber,
    /// The day it stopped being valid (the report, or the authority's order).
    pub ended_on: NaiveDate,
    /// Why.
    pub reason: DocumentEndReason,
}

fn de_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DocumentNumber, D::Error> {
    let raw = String::deserialize(d)?;
    number_of(&raw).map_err(|e| serde::de::Error::custom(e.reason))
}

impl DocumentEnd {
    /// Checks what does not need the register.
    pub fn check(&self, today: NaiveDate) -> Vec<FieldError> {
        let mut errs = Vec::new();
        crate::ops::check_date(&mut errs, "ended_on", self.ended_on, today);
        if self.reason == DocumentEndReason::Renewed {
            errs.push(FieldError::new("reason", Why::new("document-end-renewed")));
        }
        errs
    }
}

/// A document the person holds or held, as the register has it: the facts the rules read, and
/// what the history shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldDocument {
    /// The document.
    #[serde(flatten)]
    pub document: IdentityDocument,
    /// When and why it ended before its expiry (none: it has not).
    pub ended: Option<DocumentEnded>,
}

/// The end of a document before its expiry, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DocumentEnded {
    /// The day it stopped being valid.
    pub on: NaiveDate,
    /// Why.
    pub reason: DocumentEndReason,
}

impl HeldDocument {
    /// Whether it is valid on `day`: issued, not expired, not ended.
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.document.issued_on <= day && self.document.expires_on.is_none_or(|e| e > day) && self.ended.is_none_or(|e| e.on > day)
    }
}

/// The code of tab. 36 (*tipi di mutazione*) a change of this document is recorded with: 3
/// (identity card), 4 (residence permit), 7 (other data: the passport).
pub fn mutation_code(kind: &DocumentKind) -> u16 {
    match kind {
        DocumentKind::Cie | DocumentKind::CartaIdentitaCartacea => 3,
        DocumentKind::PermessoSoggiorno(_) => 4,
        DocumentKind::Passaporto => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(kind: &str, number: &str) -> serde_json::Value {
        serde_json::json!({"kind": kind, "number": number, "issued_on": "2025-01-10", "expires_on": "2035-01-10"})
    }

    #[test]
    fn an_issue_reads_its_kind_and_number_and_names_what_does_not_fit() {
        let i: DocumentIssue = serde_json::from_value(body("cie", "ca 12345-ab")).unwrap();
        assert_eq!(i.document.kind, DocumentKind::Cie);
        assert_eq!(i.document.number.as_str(), "CA12345AB");
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        assert!(i.check(today).is_empty());
        let bad = serde_json::from_value::<DocumentIssue>(body("patente", "CA12345AB")).unwrap_err().to_string();
        assert!(bad.starts_with("kind: "), "{bad}");
        let mut permit = body("permesso_soggiorno", "I00000001");
        assert!(serde_json::from_value::<DocumentIssue>(permit.clone()).unwrap_err().to_string().starts_with("permit_kind: "));
        permit["permit_kind"] = 1.into();
        let p: DocumentIssue = serde_json::from_value(permit.clone()).unwrap();
        assert_eq!(p.document.kind, DocumentKind::PermessoSoggiorno(TipoSoggiorno::Permesso));
        // Round trip: what the operation's fingerprint serialises reads back the same.
        assert_eq!(serde_json::from_value::<DocumentIssue>(serde_json::to_value(&p).unwrap()).unwrap(), p);
        permit["permit_kind"] = 7.into();
        assert!(serde_json::from_value::<DocumentIssue>(permit).unwrap_err().to_string().starts_with("permit_kind: "));
        let mut card = body("cie", "CA12345AB");
        card["permit_kind"] = 1.into();
        assert!(serde_json::from_value::<DocumentIssue>(card).unwrap_err().to_string().starts_with("permit_kind: "));
        assert!(serde_json::from_value::<DocumentIssue>(body("passaporto", "YA<123>")).unwrap_err().to_string().starts_with("number: "));
    }

    #[test]
    fn an_issue_checks_its_dates_and_the_card_number() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut i: DocumentIssue = serde_json::from_value(body("cie", "CA1234AB")).unwrap();
        assert_eq!(i.check(today)[0].field, "number");
        i.document.number = number_of("CA12345AB").unwrap();
        i.document.expires_on = Some(i.document.issued_on);
        assert_eq!(i.check(today)[0].field, "expires_on");
        i.document.expires_on = None;
        assert_eq!(i.check(today)[0].field, "expires_on");
        i.document.kind = DocumentKind::PermessoSoggiorno(TipoSoggiorno::CartaSoggiornoPermessoSoggiorno);
        assert!(i.check(today).is_empty(), "the EU long-term permit has no expiry");
        i.document.issued_on = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        assert_eq!(i.check(today)[0].field, "issued_on");
        let mut renew: DocumentIssue = serde_json::from_value(body("passaporto", "YA1234567")).unwrap();
        renew.renews = Some(renew.document.number.clone());
        assert_eq!(renew.check(today)[0].field, "renews");
    }

    #[test]
    fn an_end_is_never_a_renewal_on_its_own() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let e: DocumentEnd =
            serde_json::from_value(serde_json::json!({"number": "ca12345ab", "ended_on": "2025-12-01", "reason": "lost"})).unwrap();
        assert_eq!(e.number.as_str(), "CA12345AB");
        assert!(e.check(today).is_empty());
        let r = DocumentEnd { reason: DocumentEndReason::Renewed, ..e };
        assert_eq!(r.check(today)[0].field, "reason");
        assert!(
            serde_json::from_value::<DocumentEnd>(serde_json::json!({"number": "x", "ended_on": "2025-12-01", "reason": "lost"})).is_err()
        );
    }

    #[test]
    fn a_document_is_valid_from_its_issue_to_its_expiry_or_end() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let mut h = HeldDocument {
            document: IdentityDocument {
                kind: DocumentKind::Cie,
                number: number_of("CA12345AB").unwrap(),
                issued_on: d(2020, 1, 1),
                expires_on: Some(d(2030, 1, 1)),
                issuer: None,
            },
            ended: None,
        };
        assert!(!h.valid_on(d(2019, 12, 31)));
        assert!(h.valid_on(d(2025, 1, 1)));
        assert!(!h.valid_on(d(2030, 1, 1)));
        h.ended = Some(DocumentEnded { on: d(2024, 5, 1), reason: DocumentEndReason::Stolen });
        assert!(h.valid_on(d(2024, 4, 30)));
        assert!(!h.valid_on(d(2024, 5, 1)));
    }
}
