//! The archive and the accounting as files (VIS-6, VIS-7): CSV for a spreadsheet, PDF to file
//! or print. Each is made within what the user may see ([`ExtractDesk::archive`],
//! [`ExtractDesk::statistics`]); exporting the archive — a list of subjects — is traced.
//!
//! The PDFs are internal documents laid out by the document engine (the security reports' own),
//! not certificates: no seal, no stamp duty, no contrassegno.

use super::{ExtractDesk, Requester, Statistics};
use crate::ServiceResult;
use crate::report::render;
use anagrafe_docs::model::{Document, Issuer, Row, Section, Table};
use anagrafe_store::{ExtractFilter, ExtractRequest};
use chrono::NaiveDate;

/// The file formats of the archive and the accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// `;`-separated values, UTF-8, as Italian spreadsheets read them.
    Csv,
    /// A PDF to file or print.
    Pdf,
}

impl FileFormat {
    /// The format a query names (`csv`, `pdf`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "csv" => Some(Self::Csv),
            "pdf" => Some(Self::Pdf),
            _ => None,
        }
    }

    /// The file's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Pdf => "pdf",
        }
    }

    /// The file's media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Pdf => "application/pdf",
        }
    }
}

/// A file made for a user: its bytes, media type and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The format.
    pub format: FileFormat,
    /// The name to save it under.
    pub name: String,
}

/// One cell of a `;`-separated file: quoted when it holds the separator, a quote or a line
/// break; a cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) is written as
/// text.
pub fn csv_cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) { format!("'{v}") } else { v.to_owned() };
    if v.contains([';', '"', '\n', '\r']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v }
}

fn csv_line(cells: &[String]) -> String {
    let mut line = cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(";");
    line.push('\n');
    line
}

/// A time in the Italian calendar, as the files print it.
use crate::report::italian_at as at;

const ARCHIVE_HEAD: [&str; 13] = [
    "numero",
    "richiesta il",
    "richiedente",
    "organizzazione",
    "criterio",
    "soggetto",
    "tipo",
    "finalità",
    "stato",
    "deciso il",
    "mediatore",
    "protocollo",
    "impronta SHA-256",
];

fn archive_row(r: &ExtractRequest, orgs: &std::collections::HashMap<i64, String>) -> Vec<String> {
    vec![
        r.id.to_string(),
        at(r.requested_at),
        format!("{} ({})", r.requester_name, r.requester),
        orgs.get(&r.org_id).cloned().unwrap_or_else(|| r.org_id.to_string()),
        r.criterion.clone(),
        r.subject.clone().unwrap_or_default(),
        r.extract_type.title().to_owned(),
        r.purpose.clone(),
        r.state.label().to_owned(),
        r.decided_at.map(at).unwrap_or_default(),
        r.mediator.clone().unwrap_or_default(),
        r.protocol.map(|p| p.to_string()).unwrap_or_default(),
        r.content.as_ref().map(|(_, h)| h.clone()).unwrap_or_default(),
    ]
}

/// Requests as `;`-separated values, one line each under a heading line.
pub(super) fn archive_csv<'a>(list: impl Iterator<Item = &'a ExtractRequest>, orgs: &std::collections::HashMap<i64, String>) -> String {
    let mut out = csv_line(&ARCHIVE_HEAD.map(str::to_owned));
    for q in list {
        out.push_str(&csv_line(&archive_row(q, orgs)));
    }
    out
}

fn it(s: &str) -> Vec<String> {
    vec![s.to_owned()]
}

/// An internal document of the extracts' office, laid out like the security reports.
fn document(
    ident: String,
    office: String,
    title: Vec<String>,
    intro: String,
    sections: Vec<Section>,
    tables: Vec<Table>,
    now_ms: i64,
) -> Document {
    crate::report::Internal {
        ident,
        issuer: Issuer {
            heading: "Anagrafe Nazionale della Popolazione Residente".into(),
            administration: "Visure anagrafiche".into(),
            office: vec![office],
        },
        title,
        intro,
        sections,
        tables,
        notes: vec![it("Documento interno generato dall'archivio delle visure: non è un certificato né una visura.")],
    }
    .issued(now_ms)
}

impl ExtractDesk {
    /// The archive `filter` selects within `r`'s scope (at most 1,000 requests, newest first)
    /// as a file; the export is traced with how many requests it lists.
    pub async fn archive_file(&self, r: &Requester, filter: ExtractFilter, format: FileFormat) -> ServiceResult<ExportFile> {
        let list = self.archive(r, filter).await?;
        let orgs: std::collections::HashMap<i64, String> =
            self.store.extract_orgs(r.org.comune).await?.into_iter().map(|o| (o.id, o.name)).collect();
        let now = self.clock.now().timestamp_millis();
        let stamp = anagrafe_domain::ops::italian_time(self.clock.now()).format("%Y%m%d-%H%M").to_string();
        let bytes = match format {
            FileFormat::Csv => archive_csv(list.iter(), &orgs).into_bytes(),
            FileFormat::Pdf => {
                // The PDF's table leaves out the purpose and the hash, which the CSV has.
                let keep = [0, 1, 2, 3, 5, 6, 8, 10, 11];
                let rows = list.iter().map(|q| {
                    let all = archive_row(q, &orgs);
                    keep.iter().map(|i| all[*i].clone()).collect()
                });
                let table =
                    Table { title: it("Richieste"), head: keep.iter().map(|i| it(ARCHIVE_HEAD[*i])).collect(), rows: rows.collect() };
                let summary = Section {
                    title: it("Estrazione"),
                    rows: vec![
                        Row { label: it("Organizzazione"), value: r.org.name.clone() },
                        Row { label: it("Estratto da"), value: format!("{} ({})", r.name, r.username) },
                        Row { label: it("Richieste elencate"), value: list.len().to_string() },
                    ],
                };
                let doc = document(
                    format!("archivio-visure-{stamp}"),
                    r.org.name.clone(),
                    vec!["Archivio delle visure anagrafiche".into()],
                    "Le richieste di visura dell'archivio selezionate, dalla più recente (ora italiana).".into(),
                    vec![summary],
                    vec![table],
                    now,
                );
                render(doc).await?
            }
        };
        let mut e = r.principal.entry("extract.archive_export", "ok");
        e.detail = serde_json::json!({ "format": format.extension(), "requests": list.len(), "organisation": r.org.code }).to_string();
        self.store.audit(&e).await?;
        Ok(ExportFile { bytes, format, name: format!("archivio-visure-{stamp}.{}", format.extension()) })
    }

    /// The accounting (*rendicontazione*) of the extracts issued from `from` to `to` within
    /// `r`'s scope, per organisation and per type, as a file.
    pub async fn accounting_file(&self, r: &Requester, from: NaiveDate, to: NaiveDate, format: FileFormat) -> ServiceResult<ExportFile> {
        let st = self.statistics(r, from, to).await?;
        let bytes = match format {
            FileFormat::Csv => accounting_csv(&st).into_bytes(),
            FileFormat::Pdf => {
                let dmy = anagrafe_domain::date::dmy;
                let summary = Section {
                    title: it("Sintesi"),
                    rows: vec![
                        Row { label: it("Periodo"), value: format!("dal {} al {}", dmy(from), dmy(to)) },
                        Row { label: it("Visure emesse"), value: st.issued.to_string() },
                        Row { label: it("Soggetti residenti (APR)"), value: st.apr_subjects.to_string() },
                        Row { label: it("Soggetti iscritti all'AIRE"), value: st.aire_subjects.to_string() },
                    ],
                };
                let tables = vec![
                    Table {
                        title: it("Per ufficio o ente"),
                        head: vec![it("Organizzazione"), it("Visure emesse")],
                        rows: st.by_org.iter().map(|(o, n)| vec![o.clone(), n.to_string()]).collect(),
                    },
                    Table {
                        title: it("Per tipo di visura"),
                        head: vec![it("Tipo"), it("Visure emesse")],
                        rows: st.by_type.iter().map(|(t, n)| vec![t.title().to_owned(), n.to_string()]).collect(),
                    },
                    Table {
                        title: it("Per ufficio o ente e tipo"),
                        head: vec![it("Organizzazione"), it("Tipo"), it("Visure emesse")],
                        rows: st.by_org_type.iter().map(|(o, t, n)| vec![o.clone(), t.title().to_owned(), n.to_string()]).collect(),
                    },
                ];
                let doc = document(
                    format!("rendicontazione-visure-{from}-{to}"),
                    r.org.name.clone(),
                    vec!["Rendicontazione delle visure anagrafiche".into(), format!("dal {} al {}", dmy(from), dmy(to))],
                    "Le visure emesse nel periodo, per ufficio o ente e per tipo, entro quanto l'utente può vedere.".into(),
                    vec![summary],
                    tables,
                    self.clock.now().timestamp_millis(),
                );
                render(doc).await?
            }
        };
        Ok(ExportFile { bytes, format, name: format!("rendicontazione-visure-{from}-{to}.{}", format.extension()) })
    }
}

/// The accounting as `;`-separated values: one line per organisation, per type, per
/// organisation and type, and the subjects.
pub fn accounting_csv(st: &Statistics) -> String {
    let mut csv = csv_line(&["sezione", "voce", "tipo", "visure emesse"].map(str::to_owned));
    for (org, n) in &st.by_org {
        csv.push_str(&csv_line(&["organizzazione".into(), org.clone(), String::new(), n.to_string()]));
    }
    for (t, n) in &st.by_type {
        csv.push_str(&csv_line(&["tipo".into(), String::new(), t.title().to_owned(), n.to_string()]));
    }
    for (org, t, n) in &st.by_org_type {
        csv.push_str(&csv_line(&["organizzazione e tipo".into(), org.clone(), t.title().to_owned(), n.to_string()]));
    }
    csv.push_str(&csv_line(&["soggetti".into(), "APR".into(), String::new(), st.apr_subjects.to_string()]));
    csv.push_str(&csv_line(&["soggetti".into(), "AIRE".into(), String::new(), st.aire_subjects.to_string()]));
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_never_run_as_formulas() {
        assert_eq!(csv_cell("Polizia Municipale"), "Polizia Municipale");
        assert_eq!(csv_cell("a;b"), "\"a;b\"");
        assert_eq!(csv_cell("detto \"il\""), "\"detto \"\"il\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-5"), "'-5");
        assert_eq!(csv_cell("riga\nnuova"), "\"riga\nnuova\"");
    }
}
