//! What a certificate page shows, independent of the layout: the data the template receives as
//! `data.json`. Every label is a list with one text per language of the certificate (Italian
//! first, then the comune's second official language when it has one).

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A text in each language of the document, Italian first.
pub type Text = Vec<String>;

/// One certificate page set.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    /// Languages, Italian first (`["it"]`, `["it", "de"]`).
    pub langs: Vec<String>,
    /// Stable identifier of the document (the certificate id, or the preview's request id):
    /// the PDF's `/ID` derives from it.
    pub ident: String,
    /// The issuing register's branding.
    pub issuer: Issuer,
    /// "Certificato di residenza".
    pub title: Text,
    /// Opening statement ("L'ufficiale d'anagrafe, visti gli atti, certifica che").
    pub intro: Text,
    /// The certified data, by section.
    pub sections: Vec<Section>,
    /// Tables (the family's members).
    pub tables: Vec<Table>,
    /// Closing statements and the use the certificate is for.
    pub notes: Vec<Text>,
    /// Stamp-duty line ("Imposta di bollo assolta…" or the exemption).
    pub stamp: Text,
    /// Issue date-time (UTC); printed in the comune's time zone.
    #[serde(skip)]
    pub issued_at: DateTime<Utc>,
    /// Date and time printed ("22/11/2026 10:15").
    pub issued_text: String,
    /// "Valido fino al …" with the date, when issued; `None` in a preview.
    pub valid_until: Option<Text>,
    /// Certificate number printed in the footer.
    pub number: Option<String>,
    /// Verification instructions next to the QR code.
    pub verify_hint: Option<Text>,
    /// Whether this is a preview: ANTEPRIMA across every page, no QR code.
    pub preview: bool,
}

/// Branding: who issues the certificates.
#[derive(Debug, Clone, Serialize)]
pub struct Issuer {
    /// Heading, e.g. "Anagrafe Nazionale della Popolazione Residente".
    pub heading: String,
    /// Administration, e.g. "Ministero dell'Interno".
    pub administration: String,
    /// Office line, e.g. "Comune di Roma - Ufficio anagrafe".
    pub office: Text,
}

/// A titled list of label/value rows.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// Section heading.
    pub title: Text,
    /// Rows.
    pub rows: Vec<Row>,
}

/// One certified datum.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Label in each language.
    pub label: Text,
    /// Value, as printed.
    pub value: String,
}

/// A table (members of a family, residence history…).
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// Heading.
    pub title: Text,
    /// Column headings.
    pub head: Vec<Text>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}
