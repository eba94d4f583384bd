//! A person's record in words: the citizen's own page, the officer's record page and the printed
//! *scheda individuale* show the same fields through [`fields`], so they never differ.

use super::Chrome;
use anagrafe_domain::decode::DecodeTable;
use anagrafe_domain::{DocumentKind, IdentityDocument, PersonRecord, RefData, Sex};
use anagrafe_service::certificates::{self, content};
use chrono::NaiveDate;

/// One field of a record, as the pages list it.
pub(crate) struct RecordField {
    pub(crate) label: String,
    pub(crate) value: String,
    /// Shown in the code face (codice fiscale, ID ANPR).
    pub(crate) code: bool,
}

impl RecordField {
    fn text(label: String, value: String) -> Self {
        Self { label, value, code: false }
    }
}

/// The record's fields as of `on`: personal data, citizenships, civil status, residence,
/// documents, contacts and, for a deceased person, the death.
pub(crate) fn fields(c: &Chrome, r: &PersonRecord, on: NaiveDate) -> Vec<RecordField> {
    let refdata = &*RefData::current();
    let g = &r.generalita;
    let sex = match g.sex {
        Sex::M => c.t("sex-m"),
        Sex::F => c.t("sex-f"),
    };
    let mut out = vec![
        RecordField::text(c.t("f-surname"), g.name.surname().unwrap_or("-").to_owned()),
        RecordField::text(c.t("f-name"), g.name.given().unwrap_or("-").to_owned()),
        RecordField { label: c.t("f-cf"), value: g.codice_fiscale.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default(), code: true },
        RecordField::text(c.t("f-sex"), sex),
        RecordField::text(c.t("f-birth-date"), content::partial(&g.birth_date)),
        RecordField::text(c.t("f-birth-place"), content::birth_place(refdata, &g.birth_place, g.birth_date.first_day())),
        RecordField::text(c.t("f-citizenship"), content::citizenships(refdata, &r.citizenships, on)),
        RecordField::text(c.t("f-civil-status"), c.decode(r.civil_status)),
        RecordField::text(c.t("f-residence"), content::residence_line(refdata, &r.residence, on)),
    ];
    for d in &r.documents {
        out.push(RecordField::text(c.t("f-document"), document(c, d)));
    }
    if let Some(e) = &r.email {
        out.push(RecordField::text(c.t("f-email"), e.to_string()));
    }
    if let Some(d) = &r.digital_domicile {
        out.push(RecordField::text(c.t("f-pec"), d.to_string()));
    }
    if let Some(d) = &r.death {
        let place = d.place.map(|p| content::place_name(refdata, p, d.date.first_day()));
        let value = match place {
            Some(p) => c.t1("record-death-at", "date", &content::partial(&d.date)) + " — " + &p,
            None => c.t1("record-death-at", "date", &content::partial(&d.date)),
        };
        out.push(RecordField::text(c.t("f-death"), value));
    }
    out
}

/// An identity document in one line: kind, number, issue, issuer and expiry.
fn document(c: &Chrome, d: &IdentityDocument) -> String {
    document_line(c.lang, d)
}

/// An identity document in one line: kind, number, issue, issuer and expiry.
pub(crate) fn document_line(lang: super::i18n::Lang, d: &IdentityDocument) -> String {
    use super::i18n::{t, t_args};
    let kind = match d.kind {
        DocumentKind::Cie => t(lang, "doc-cie"),
        DocumentKind::CartaIdentitaCartacea => t(lang, "doc-paper"),
        DocumentKind::Passaporto => t(lang, "doc-passport"),
        DocumentKind::PermessoSoggiorno(k) => format!("{} ({})", t(lang, "doc-permit"), super::i18n::decode(lang, k)),
    };
    let mut line =
        format!("{kind} n. {} — {}", d.number.as_str(), t_args(lang, "doc-issued", &[("date", &certificates::dmy(d.issued_on))]));
    if let Some(by) = &d.issuer {
        line += &format!(" {}", t_args(lang, "doc-by", &[("issuer", by.as_str())]));
    }
    if let Some(until) = d.expires_on {
        line += &format!(", {}", t_args(lang, "doc-expires", &[("date", &certificates::dmy(until))]));
    }
    line
}

/// A member of a household, as the record page and the *foglio di famiglia* list them.
pub(crate) struct MemberRow {
    pub(crate) id_anpr: String,
    pub(crate) name: String,
    pub(crate) relation: String,
    pub(crate) birth: String,
    pub(crate) cf: String,
    pub(crate) sex: String,
    pub(crate) civil_status: String,
    pub(crate) citizenship: String,
}

/// A household's members in words, head first as the register keeps them: each relation from
/// tab. 05 (a family) or tab. 06 (a cohabitation).
pub(crate) fn members(
    c: &Chrome,
    kind: anagrafe_domain::HouseholdKind,
    members: &[(anagrafe_store::FamilyMember, PersonRecord)],
    on: NaiveDate,
) -> Vec<MemberRow> {
    use anagrafe_domain::decode::{LegameConvivenza, RelazioneParentela};
    let refdata = &*RefData::current();
    let cohabitation = matches!(kind, anagrafe_domain::HouseholdKind::Cohabitation { .. });
    members
        .iter()
        .map(|(m, r)| {
            let relation = if cohabitation {
                LegameConvivenza::from_code(m.relation).map(|l| c.decode(l))
            } else {
                RelazioneParentela::from_code(m.relation).map(|l| c.decode(l))
            };
            let g = &r.generalita;
            let n = &g.name;
            MemberRow {
                id_anpr: m.id_anpr.map(|i| i.to_string()).unwrap_or_default(),
                name: [n.surname(), n.given()].into_iter().flatten().collect::<Vec<_>>().join(" "),
                relation: relation.unwrap_or_else(|| m.relation.to_string()),
                birth: format!(
                    "{} — {}",
                    content::partial(&g.birth_date),
                    content::birth_place(refdata, &g.birth_place, g.birth_date.first_day())
                ),
                cf: g.codice_fiscale.map(|c| c.to_string()).unwrap_or_default(),
                sex: match g.sex {
                    Sex::M => c.t("sex-m"),
                    Sex::F => c.t("sex-f"),
                },
                civil_status: c.decode(r.civil_status),
                citizenship: content::citizenships(refdata, &r.citizenships, on),
            }
        })
        .collect()
}
