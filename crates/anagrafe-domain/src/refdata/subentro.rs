//! The day each comune joined the national register (*subentro*): before it, the comune kept
//! its own register and ANPR knows nothing of what happened there (EU-3: a former resident's
//! birth certificate is issued only to someone registered in a comune at or after that day).
//!
//! Where a source documents the day, it is in `data/subentro.tsv` with the source named. No
//! open dataset of every comune's day was reachable when this was written: for the others the
//! day is **estimated**, spread over the years the switch-over took (November 2016 to the end of
//! 2021) by a fixed function of the cadastral code, and marked as estimated wherever it is
//! shown. A comune founded after the switch-over was born on ANPR (its first day); one
//! abolished before its day never joined.

use super::{Comune, RefData};
use crate::codes::Belfiore;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The documented days, embedded.
const DOCUMENTED: &str = include_str!("../../data/subentro.tsv");

/// The first comune's switch-over, and the day by which every comune had switched.
pub const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(2016, 11, 21) {
    Some(d) => d,
    None => panic!("a valid date"),
};
/// See [`FIRST_DAY`].
pub const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(2021, 12, 31) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// A comune's switch-over day and whether it is documented or estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Subentro {
    /// The first day the comune worked on the national register.
    pub date: NaiveDate,
    /// `true` when no source documents the day and it was estimated.
    pub estimated: bool,
}

static TABLE: LazyLock<HashMap<Belfiore, NaiveDate>> =
    LazyLock::new(|| parse(DOCUMENTED).expect("the embedded subentro table is valid (checked by tests)"));

/// Reads a table of documented days: `belfiore<TAB>yyyy-mm-dd<TAB>source` per line, `#` comments.
pub fn parse(text: &str) -> Result<HashMap<Belfiore, NaiveDate>, String> {
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split('\t');
        let (Some(code), Some(date), Some(source)) = (cols.next(), cols.next(), cols.next()) else {
            return Err(format!("line {}: three columns wanted (code, date, source)", i + 1));
        };
        let code = Belfiore::parse(code).map_err(|e| format!("line {}: {e}", i + 1))?;
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|e| format!("line {}: {e}", i + 1))?;
        if source.trim().is_empty() {
            return Err(format!("line {}: the source is missing", i + 1));
        }
        out.insert(code, date);
    }
    Ok(out)
}

/// The estimate for a comune without a documented day: a day of the switch-over years that is
/// a fixed function of the code (FNV-1a), so every run and every machine agree.
fn estimate(code: Belfiore) -> NaiveDate {
    let mut h: u32 = 0x811c_9dc5;
    for b in code.as_str().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let span = (LAST_DAY - FIRST_DAY).num_days() as u32 + 1;
    FIRST_DAY + chrono::Days::new(u64::from(h % span))
}

/// When the comune with `code` joined the national register, or `None` if it never did (it was
/// abolished before its day, or the code is no comune's).
pub fn subentro(data: &RefData, code: Belfiore) -> Option<Subentro> {
    let history: Vec<&Comune> = data.comune_history(code).collect();
    let first = history.iter().map(|c| c.valid_from).min()?;
    // The last day the comune existed, `None` while it exists.
    let last = if history.iter().any(|c| c.valid_to.is_none()) { None } else { history.iter().filter_map(|c| c.valid_to).max() };
    let (date, estimated) = match TABLE.get(&code) {
        Some(d) => (*d, false),
        None if first > LAST_DAY => (first, false),
        None => (estimate(code).max(first), true),
    };
    if last.is_some_and(|l| l < date) {
        return None;
    }
    Some(Subentro { date, estimated })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> Belfiore {
        Belfiore::parse(s).unwrap()
    }

    #[test]
    fn the_embedded_table_reads_and_names_a_source_per_line() {
        let t = parse(DOCUMENTED).unwrap();
        assert_eq!(t.get(&code("A004")), NaiveDate::from_ymd_opt(2018, 10, 26).as_ref());
        assert!(parse("A004\t2018-10-26\t\n").is_err(), "a line without its source is refused");
        assert!(parse("A004\t26/10/2018\tx\n").is_err());
    }

    #[test]
    fn documented_days_win_and_the_others_are_estimated_within_the_switch_over_years() {
        let data = RefData::current();
        assert_eq!(
            subentro(&data, code("A004")),
            Some(Subentro { date: NaiveDate::from_ymd_opt(2018, 10, 26).unwrap(), estimated: false })
        );
        for c in ["H501", "F205", "A952", "L219"] {
            let s = subentro(&data, code(c)).unwrap();
            assert!(s.estimated && s.date >= FIRST_DAY && s.date <= LAST_DAY, "{c}: {s:?}");
            assert_eq!(subentro(&data, code(c)), Some(s), "the estimate is stable");
        }
        // Different comuni are spread, not all on one day.
        let days: std::collections::HashSet<_> =
            data.comuni_on(LAST_DAY).take(200).filter_map(|c| subentro(&data, c.belfiore)).map(|s| s.date).collect();
        assert!(days.len() > 150, "{}", days.len());
    }

    #[test]
    fn a_comune_abolished_before_its_day_never_joined() {
        let data = RefData::current();
        // Every comune that ceased before the switch-over began.
        let gone = data
            .comuni()
            .iter()
            .find(|c| c.valid_to.is_some_and(|t| t < FIRST_DAY) && data.comune_history(c.belfiore).all(|h| h.valid_to.is_some()))
            .unwrap();
        assert_eq!(subentro(&data, gone.belfiore), None, "{}", gone.name);
        assert_eq!(subentro(&data, code("Z112")), None, "a foreign state is no comune");
    }
}
