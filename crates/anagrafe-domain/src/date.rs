//! Birth dates the register may only partly know (REG-1): a full date, a year and month, or a
//! year alone — as happens for people born abroad whose documents lack the day.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A date as the register writes it to people, in both its languages: `gg/mm/aaaa`.
pub fn dmy(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// How much of a [`PartialDate`] is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DatePrecision {
    /// Year, month and day.
    Day,
    /// Year and month; the day is unknown.
    Month,
    /// The year alone.
    Year,
}

impl DatePrecision {
    /// One-letter code used in storage.
    pub fn code(self) -> &'static str {
        match self {
            Self::Day => "D",
            Self::Month => "M",
            Self::Year => "Y",
        }
    }

    /// Inverse of [`DatePrecision::code`].
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "D" => Some(Self::Day),
            "M" => Some(Self::Month),
            "Y" => Some(Self::Year),
            _ => None,
        }
    }
}

/// A date of which the day, or the day and month, may be unknown.
///
/// Written `YYYY-MM-DD`, `YYYY-MM` or `YYYY`; also accepted with `00` for the unknown parts
/// (`1950-00-00`), which is how ANPR's flat files carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartialDate {
    first_day: NaiveDate,
    precision: DatePrecision,
}

/// Why a date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {got:?}: {reason}")]
pub struct DateError {
    got: String,
    reason: &'static str,
}

impl PartialDate {
    /// A fully known date.
    pub fn full(date: NaiveDate) -> Self {
        Self { first_day: date, precision: DatePrecision::Day }
    }

    /// Builds from storage: the first day of the known period and its precision.
    pub fn from_parts(first_day: NaiveDate, precision: DatePrecision) -> Self {
        let first_day = match precision {
            DatePrecision::Day => first_day,
            DatePrecision::Month => first_day.with_day(1).unwrap_or(first_day),
            DatePrecision::Year => NaiveDate::from_ymd_opt(first_day.year(), 1, 1).unwrap_or(first_day),
        };
        Self { first_day, precision }
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM`, `YYYY`, or the zero-filled forms.
    pub fn parse(input: &str) -> Result<Self, DateError> {
        let t = input.trim();
        let err = |reason| DateError { got: t.chars().take(32).collect(), reason };
        let parts: Vec<&str> = t.split('-').collect();
        let num = |s: &str, len: usize| -> Option<u32> {
            (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
        };
        let year = parts.first().and_then(|y| num(y, 4)).ok_or_else(|| err("expected YYYY-MM-DD"))?;
        if year < 1000 {
            return Err(err("year out of range"));
        }
        let month = match parts.get(1) {
            None => 0,
            Some(m) => num(m, 2).ok_or_else(|| err("expected YYYY-MM-DD"))?,
        };
        let day = match parts.get(2) {
            None => 0,
            Some(d) => num(d, 2).ok_or_else(|| err("expected YYYY-MM-DD"))?,
        };
        if parts.len() > 3 {
            return Err(err("expected YYYY-MM-DD"));
        }
        let year = year as i32;
        match (month, day) {
            (0, 0) => Ok(Self { first_day: ymd(year, 1, 1).ok_or_else(|| err("no such day"))?, precision: DatePrecision::Year }),
            (0, _) => Err(err("a day without a month")),
            (m, 0) if m <= 12 => {
                Ok(Self { first_day: ymd(year, m, 1).ok_or_else(|| err("no such day"))?, precision: DatePrecision::Month })
            }
            (m, d) => Ok(Self::full(ymd(year, m, d).ok_or_else(|| err("no such day"))?)),
        }
    }

    /// How much is known.
    pub fn precision(&self) -> DatePrecision {
        self.precision
    }

    /// The first day of the known period (the date itself when fully known).
    pub fn first_day(&self) -> NaiveDate {
        self.first_day
    }

    /// The full date, when the day is known.
    pub fn as_full(&self) -> Option<NaiveDate> {
        (self.precision == DatePrecision::Day).then_some(self.first_day)
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.first_day.year()
    }

    /// Age in whole years on `on`, counting from the first day of the known period.
    pub fn age_on(&self, on: NaiveDate) -> i32 {
        let b = self.first_day;
        let mut age = on.year() - b.year();
        if (on.month(), on.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        age
    }
}

fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.first_day;
        match self.precision {
            DatePrecision::Day => write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
            DatePrecision::Month => write!(f, "{:04}-{:02}", d.year(), d.month()),
            DatePrecision::Year => write!(f, "{:04}", d.year()),
        }
    }
}

crate::text_conversions!(PartialDate, DateError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates_round_trip() {
        for (input, shown, precision) in [
            ("1980-03-07", "1980-03-07", DatePrecision::Day),
            ("1980-03", "1980-03", DatePrecision::Month),
            ("1980", "1980", DatePrecision::Year),
            ("1950-00-00", "1950", DatePrecision::Year),
            ("1950-06-00", "1950-06", DatePrecision::Month),
        ] {
            let d = PartialDate::parse(input).unwrap();
            assert_eq!(d.to_string(), shown);
            assert_eq!(d.precision(), precision);
        }
    }

    #[test]
    fn bad_dates_are_refused_with_a_reason() {
        for (input, reason) in [
            ("1980-02-30", "no such day"),
            ("1980-13", "no such day"),
            ("1980-00-05", "a day without a month"),
            ("80-01-01", "expected YYYY-MM-DD"),
            ("1980/01/01", "expected YYYY-MM-DD"),
            ("", "expected YYYY-MM-DD"),
            ("1980-01-01-01", "expected YYYY-MM-DD"),
        ] {
            let e = PartialDate::parse(input).unwrap_err().to_string();
            assert!(e.contains(reason), "{input}: {e}");
        }
    }

    #[test]
    fn age_is_counted_in_whole_years() {
        let d = PartialDate::parse("2000-06-15").unwrap();
        assert_eq!(d.age_on(NaiveDate::from_ymd_opt(2020, 6, 14).unwrap()), 19);
        assert_eq!(d.age_on(NaiveDate::from_ymd_opt(2020, 6, 15).unwrap()), 20);
    }
}
