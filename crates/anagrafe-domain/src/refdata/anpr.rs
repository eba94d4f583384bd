//! Readers of the official ANPR file formats: `ANPR_archivio_comuni.csv` (the comuni archive)
//! and `tab_stati_esteri.csv` (foreign states, converted from ANPR's spreadsheet).

use super::{Comune, Stato};
use crate::codes::{Belfiore, IstatCode};
use chrono::NaiveDate;
use std::collections::HashMap;
use std::io::Read;

/// Why an official file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AnprFormatError {
    /// The CSV itself is malformed.
    #[error("CSV error: {0}")]
    Csv(#[from] csv::Error),
    /// A required column is absent.
    #[error("column {0} is missing: is this the right file?")]
    MissingColumn(&'static str),
    /// A row holds a value that cannot be right.
    #[error("row {row}: {reason}")]
    Row {
        /// 1-based data row.
        row: usize,
        /// What is wrong.
        reason: String,
    },
}

struct Table {
    rows: Vec<csv::StringRecord>,
    columns: HashMap<String, usize>,
}

impl Table {
    fn read(input: impl Read) -> Result<Self, AnprFormatError> {
        let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let headers = r.headers()?.clone();
        let columns = headers.iter().enumerate().map(|(i, h)| (h.trim_start_matches('\u{feff}').trim().to_ascii_uppercase(), i)).collect();
        let rows = r.records().collect::<Result<Vec<_>, _>>()?;
        Ok(Self { rows, columns })
    }

    fn col(&self, name: &'static str) -> Result<usize, AnprFormatError> {
        self.columns.get(name).copied().ok_or(AnprFormatError::MissingColumn(name))
    }
}

fn get(rec: &csv::StringRecord, i: usize) -> &str {
    rec.get(i).unwrap_or("").trim()
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y")).ok()
}

fn end_date(s: &str) -> Result<Option<NaiveDate>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let d = parse_date(s).ok_or_else(|| format!("bad date {s:?}"))?;
    Ok((d.format("%Y").to_string() != "9999").then_some(d))
}

/// Reads `ANPR_archivio_comuni.csv`: one record per comune and validity interval.
pub fn comuni_from_anpr_csv(input: impl Read) -> Result<Vec<Comune>, AnprFormatError> {
    let t = Table::read(input)?;
    let (from, to, istat, code, name, alt, prov, region) = (
        t.col("DATAISTITUZIONE")?,
        t.col("DATACESSAZIONE")?,
        t.col("CODISTAT")?,
        t.col("CODCATASTALE")?,
        t.col("DENOMINAZIONE_IT")?,
        t.col("ALTRADENOMINAZIONE")?,
        t.col("SIGLAPROVINCIA")?,
        t.col("IDREGIONE")?,
    );
    let mut out = Vec::with_capacity(t.rows.len());
    for (n, rec) in t.rows.iter().enumerate() {
        let row_err = |reason: String| AnprFormatError::Row { row: n + 1, reason };
        let alt_name = get(rec, alt);
        if matches!(get(rec, code), "" | "ND") {
            continue; // a few pre-1930 records have no cadastral code ("ND"): unusable in a codice fiscale
        }
        out.push(Comune {
            belfiore: Belfiore::parse(get(rec, code)).map_err(|e| row_err(e.to_string()))?,
            istat: IstatCode::parse(get(rec, istat)).map_err(|e| row_err(e.to_string()))?,
            name: get(rec, name).to_owned(),
            alt_name: (!alt_name.is_empty()).then(|| alt_name.to_owned()),
            province: get(rec, prov).to_owned(),
            region: get(rec, region).to_owned(),
            valid_from: parse_date(get(rec, from)).ok_or_else(|| row_err(format!("bad DATAISTITUZIONE {:?}", get(rec, from))))?,
            valid_to: end_date(get(rec, to)).map_err(row_err)?,
        });
    }
    Ok(out)
}

/// Reads `tab_stati_esteri.csv` (ANPR's foreign states table).
pub fn stati_from_anpr_csv(input: impl Read) -> Result<Vec<Stato>, AnprFormatError> {
    let t = Table::read(input)?;
    let (code, istat, iso3, name, name_en, from, to, kind) = (
        t.col("CODAT")?,
        t.col("CODISTAT")?,
        t.col("CODISO3166_1_ALPHA3")?,
        t.col("DENOMINAZIONE")?,
        t.col("DENOMINAZIONEISTAT_EN")?,
        t.col("DATAINIZIOVALIDITA")?,
        t.col("DATAFINEVALIDITA")?,
        t.col("TIPO")?,
    );
    let mut out = Vec::with_capacity(t.rows.len());
    for (n, rec) in t.rows.iter().enumerate() {
        let row_err = |reason: String| AnprFormatError::Row { row: n + 1, reason };
        if get(rec, code).is_empty() {
            continue; // entries without a cadastral code cannot appear in a codice fiscale
        }
        let iso = get(rec, iso3);
        let en = get(rec, name_en);
        out.push(Stato {
            code: Belfiore::parse(get(rec, code)).map_err(|e| row_err(e.to_string()))?,
            istat: get(rec, istat).to_owned(),
            iso3: (!iso.is_empty()).then(|| iso.to_owned()),
            name: get(rec, name).to_owned(),
            name_en: (!en.is_empty()).then(|| en.to_owned()),
            territory: get(rec, kind).eq_ignore_ascii_case("TERRITORIO"),
            valid_from: parse_date(get(rec, from)).ok_or_else(|| row_err(format!("bad DATAINIZIOVALIDITA {:?}", get(rec, from))))?,
            valid_to: end_date(get(rec, to)).map_err(row_err)?,
        });
    }
    Ok(out)
}
