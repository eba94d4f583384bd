//! The codice fiscale (REG-4): compute, validate, decode, and check against a person's data.
//!
//! Layout of the 16 characters: surname (3), name (3), year (2), month letter (1), day (2, +40
//! for women), birthplace Belfiore code (4), check character (1). When two people would get the
//! same code (*omocodia*), the Revenue Agency replaces digits with letters, starting from the
//! rightmost digit: `0..9` become `L M N P Q R S T U V`.

use crate::codes::Belfiore;
use crate::refdata::{Place, PlaceError, RefData};
use crate::text::cf_letters;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

const MONTHS: &[u8; 12] = b"ABCDEHLMPRST";
const OMOCODE_LETTERS: &[u8; 10] = b"LMNPQRSTUV";
/// Positions (0-based) of the digits that omocodia may replace, rightmost first.
const DIGIT_POSITIONS: [usize; 7] = [14, 13, 12, 10, 9, 7, 6];
const ODD: [u8; 26] = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

/// A structurally valid codice fiscale: right layout, omocodia letters only where digits may be
/// replaced, and a correct check character. Whether the birthplace and date exist is checked by
/// [`CodiceFiscale::decode`], which needs reference data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CodiceFiscale([u8; 16]);

/// Why a codice fiscale was refused or could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfError {
    /// Not 16 characters.
    #[error("a codice fiscale has 16 characters, got {0}")]
    Length(usize),
    /// A character where the layout does not allow it.
    #[error("character {position} ({part}) must be {expected}")]
    Character {
        /// 1-based position.
        position: usize,
        /// Which part of the code.
        part: &'static str,
        /// What the position allows.
        expected: &'static str,
    },
    /// The check character does not match.
    #[error("check character is {found}, expected {expected}")]
    Check {
        /// Found.
        found: char,
        /// Computed.
        expected: char,
    },
    /// The month letter is not one of `ABCDEHLMPRST`.
    #[error("month letter {0} is not one of ABCDEHLMPRST")]
    Month(char),
    /// The day is neither 1–31 nor 41–71.
    #[error("day {0} is not 01-31 (men) or 41-71 (women)")]
    Day(u32),
    /// The encoded date does not exist, or only in the future.
    #[error("the birth date it encodes does not exist or is in the future")]
    Date,
    /// The birthplace cannot be resolved at the birth date.
    #[error("birthplace: {0}")]
    Place(#[from] PlaceError),
    /// Computing needs a full birth date.
    #[error("a codice fiscale needs a full birth date")]
    PartialDate,
    /// Omocodia level out of range.
    #[error("omocodia level must be 0-7, got {0}")]
    OmocodiaLevel(u8),
}

/// Sex as the codice fiscale and the register record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    /// Male.
    M,
    /// Female.
    F,
}

impl Sex {
    /// `"M"` or `"F"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::M => "M",
            Sex::F => "F",
        }
    }

    /// Parses `M`/`F` (either case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "M" | "m" => Some(Sex::M),
            "F" | "f" => Some(Sex::F),
            _ => None,
        }
    }
}

/// What a codice fiscale says about its holder, resolved against the reference data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecodedCf {
    /// The code as given.
    pub code: CodiceFiscale,
    /// Whether omocodia letters replace some digits.
    pub omocode: bool,
    /// Sex.
    pub sex: Sex,
    /// Birth date, century inferred (see [`CodiceFiscale::decode`]).
    pub birth_date: NaiveDate,
    /// Birthplace code.
    pub birth_place_code: Belfiore,
    /// Birthplace name, as it was on the birth date.
    pub birth_place_name: String,
    /// Whether the birthplace is a foreign state.
    pub born_abroad: bool,
}

/// Data a codice fiscale is computed from.
#[derive(Debug, Clone, Copy)]
pub struct CfInput<'a> {
    /// Surname as registered (accents, apostrophes and spaces are fine).
    pub surname: &'a str,
    /// Given name(s).
    pub name: &'a str,
    /// Sex.
    pub sex: Sex,
    /// Full birth date.
    pub birth_date: NaiveDate,
    /// Birthplace Belfiore code (comune valid on the date, or `Z` state).
    pub birth_place: Belfiore,
}

fn value_even(c: u8) -> u32 {
    if c.is_ascii_digit() { (c - b'0') as u32 } else { (c - b'A') as u32 }
}

fn value_odd(c: u8) -> u32 {
    let i = if c.is_ascii_digit() { (c - b'0') as usize } else { (c - b'A') as usize };
    ODD[i] as u32
}

/// The check character of the first fifteen characters.
fn check_char(body: &[u8]) -> u8 {
    let sum: u32 = body.iter().take(15).enumerate().map(|(i, &c)| if i % 2 == 0 { value_odd(c) } else { value_even(c) }).sum();
    b'A' + (sum % 26) as u8
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'A' | b'E' | b'I' | b'O' | b'U')
}

fn three(letters: &[u8], name_rule: bool) -> [u8; 3] {
    let cons: Vec<u8> = letters.iter().copied().filter(|&c| !is_vowel(c)).collect();
    let vows = letters.iter().copied().filter(|&c| is_vowel(c));
    let picked: Vec<u8> = if name_rule && cons.len() >= 4 {
        vec![cons[0], cons[2], cons[3]]
    } else {
        cons.iter().copied().chain(vows).chain(std::iter::repeat(b'X')).take(3).collect()
    };
    [picked[0], picked[1], picked[2]]
}

/// The three letters for a surname.
pub fn surname_code(surname: &str) -> [u8; 3] {
    three(cf_letters(surname).as_bytes(), false)
}

/// The three letters for a given name (first, third and fourth consonant when there are four
/// or more).
pub fn name_code(name: &str) -> [u8; 3] {
    three(cf_letters(name).as_bytes(), true)
}

fn digit_value(c: u8) -> Option<u8> {
    if c.is_ascii_digit() { Some(c - b'0') } else { OMOCODE_LETTERS.iter().position(|&l| l == c).map(|p| p as u8) }
}

impl CodiceFiscale {
    /// Parses and checks the structure and the check character. Lowercase and surrounding blanks
    /// are accepted.
    pub fn parse(input: &str) -> Result<Self, CfError> {
        let t = input.trim();
        let n = t.chars().count();
        if n != 16 || !t.is_ascii() {
            return Err(CfError::Length(n));
        }
        let mut b = [0u8; 16];
        for (o, c) in b.iter_mut().zip(t.bytes()) {
            *o = c.to_ascii_uppercase();
        }
        for (i, &c) in b.iter().enumerate() {
            let (ok, part, expected) = match i {
                0..=2 => (c.is_ascii_uppercase(), "surname", "a letter"),
                3..=5 => (c.is_ascii_uppercase(), "name", "a letter"),
                8 => (c.is_ascii_uppercase(), "month", "a letter"),
                11 => (c.is_ascii_uppercase(), "birthplace", "a letter"),
                15 => (c.is_ascii_uppercase(), "check", "a letter"),
                6 | 7 => (digit_value(c).is_some(), "year", "a digit or one of LMNPQRSTUV"),
                9 | 10 => (digit_value(c).is_some(), "day", "a digit or one of LMNPQRSTUV"),
                _ => (digit_value(c).is_some(), "birthplace", "a digit or one of LMNPQRSTUV"),
            };
            if !ok {
                return Err(CfError::Character { position: i + 1, part, expected });
            }
        }
        let expected = check_char(&b);
        if b[15] != expected {
            return Err(CfError::Check { found: b[15] as char, expected: expected as char });
        }
        if !MONTHS.contains(&b[8]) {
            return Err(CfError::Month(b[8] as char));
        }
        let cf = Self(b);
        let day = cf.day_field();
        if !(1..=31).contains(&day) && !(41..=71).contains(&day) {
            return Err(CfError::Day(day));
        }
        Ok(cf)
    }

    /// Computes the code (omocodia level 0) from personal data.
    pub fn compute(input: &CfInput<'_>) -> Self {
        let mut b = [0u8; 16];
        b[0..3].copy_from_slice(&surname_code(input.surname));
        b[3..6].copy_from_slice(&name_code(input.name));
        let d = input.birth_date;
        let yy = d.year().rem_euclid(100) as u32;
        b[6] = b'0' + (yy / 10) as u8;
        b[7] = b'0' + (yy % 10) as u8;
        b[8] = MONTHS[d.month0() as usize];
        let day = d.day() + if input.sex == Sex::F { 40 } else { 0 };
        b[9] = b'0' + (day / 10) as u8;
        b[10] = b'0' + (day % 10) as u8;
        b[11..15].copy_from_slice(input.birth_place.as_str().as_bytes());
        b[15] = check_char(&b);
        Self(b)
    }

    /// The variant the Revenue Agency assigns at omocodia level `level` (0–7): the `level`
    /// rightmost replaceable digits become letters. Level 0 is the base code.
    pub fn omocode_variant(&self, level: u8) -> Result<Self, CfError> {
        if level > 7 {
            return Err(CfError::OmocodiaLevel(level));
        }
        let mut b = self.base().0;
        for &p in DIGIT_POSITIONS.iter().take(level as usize) {
            b[p] = OMOCODE_LETTERS[(b[p] - b'0') as usize];
        }
        b[15] = check_char(&b);
        Ok(Self(b))
    }

    /// All 128 spellings of this code: every subset of the seven replaceable digits replaced.
    pub fn all_variants(&self) -> Vec<Self> {
        let base = self.base().0;
        (0u8..128)
            .map(|mask| {
                let mut b = base;
                for (bit, &p) in DIGIT_POSITIONS.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        b[p] = OMOCODE_LETTERS[(b[p] - b'0') as usize];
                    }
                }
                b[15] = check_char(&b);
                Self(b)
            })
            .collect()
    }

    /// The code with every omocodia letter turned back into its digit.
    pub fn base(&self) -> Self {
        let mut b = self.0;
        for &p in &DIGIT_POSITIONS {
            b[p] = b'0' + digit_value(b[p]).unwrap_or(0);
        }
        b[15] = check_char(&b);
        Self(b)
    }

    /// Whether omocodia letters replace some digits.
    pub fn is_omocode(&self) -> bool {
        DIGIT_POSITIONS.iter().any(|&p| !self.0[p].is_ascii_digit())
    }

    fn num(&self, a: usize, b: usize) -> u32 {
        digit_value(self.0[a]).unwrap_or(0) as u32 * 10 + digit_value(self.0[b]).unwrap_or(0) as u32
    }

    fn day_field(&self) -> u32 {
        self.num(9, 10)
    }

    /// Sex.
    pub fn sex(&self) -> Sex {
        if self.day_field() > 40 { Sex::F } else { Sex::M }
    }

    /// The birthplace code (omocodia letters turned back into digits).
    pub fn birth_place_code(&self) -> Belfiore {
        let b = self.base().0;
        Belfiore::parse(std::str::from_utf8(&b[11..15]).unwrap_or("")).expect("layout checked at parse")
    }

    /// Birth date in the given century (`1900` or `2000`), if the date exists.
    fn date_in(&self, century: i32) -> Option<NaiveDate> {
        let year = century + self.num(6, 7) as i32;
        let month = MONTHS.iter().position(|&m| m == self.0[8])? as u32 + 1;
        let day = self.day_field() % 40;
        NaiveDate::from_ymd_opt(year, month, day)
    }

    /// Decodes sex, birth date and birthplace.
    ///
    /// The code carries only two digits of the year. The century is the most recent one that
    /// puts the birth date not after `today` **and** in which the birthplace code denotes a
    /// place existing on that date; failing that, the most recent one not after `today`.
    pub fn decode(&self, refdata: &RefData, today: NaiveDate) -> Result<DecodedCf, CfError> {
        let code = self.birth_place_code();
        let candidates: Vec<NaiveDate> = [2000, 1900].iter().filter_map(|&c| self.date_in(c)).filter(|d| *d <= today).collect();
        if candidates.is_empty() {
            return Err(CfError::Date);
        }
        let mut first_err = None;
        for d in &candidates {
            match refdata.place_at(code, *d) {
                Ok(place) => return Ok(self.decoded(*d, place)),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(CfError::Place(first_err.expect("at least one candidate")))
    }

    fn decoded(&self, birth_date: NaiveDate, place: Place<'_>) -> DecodedCf {
        DecodedCf {
            code: *self,
            omocode: self.is_omocode(),
            sex: self.sex(),
            birth_date,
            birth_place_code: place.code(),
            birth_place_name: place.name().to_owned(),
            born_abroad: matches!(place, Place::Stato(_)),
        }
    }

    /// Checks this code against a person's data; returns the list of parts that disagree (empty
    /// when consistent). Omocode spellings of the right code are consistent.
    pub fn mismatches(&self, input: &CfInput<'_>) -> Vec<&'static str> {
        let expected = Self::compute(input).0;
        let mine = self.base().0;
        let mut out = Vec::new();
        let parts: [(&str, std::ops::Range<usize>); 6] = [
            ("surname", 0..3),
            ("name", 3..6),
            ("birth date", 6..9),
            ("sex or birth day", 9..11),
            ("birthplace", 11..15),
            ("check", 15..16),
        ];
        for (part, r) in parts {
            if part != "check" && mine[r.clone()] != expected[r] {
                out.push(part);
            }
        }
        out
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for CodiceFiscale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::text_conversions!(CodiceFiscale, CfError);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn today() -> NaiveDate {
        d("2026-11-22")
    }

    fn input<'a>(surname: &'a str, name: &'a str, sex: Sex, date: &str, place: &str) -> CfInput<'a> {
        CfInput { surname, name, sex, birth_date: d(date), birth_place: Belfiore::parse(place).unwrap() }
    }

    #[test]
    fn known_codes_are_computed() {
        // Published examples of the algorithm.
        assert_eq!(CodiceFiscale::compute(&input("Rossi", "Mario", Sex::M, "1980-01-01", "H501")).as_str(), "RSSMRA80A01H501U");
        assert_eq!(CodiceFiscale::compute(&input("Bianchi", "Maria", Sex::F, "1985-07-12", "F205")).as_str(), "BNCMRA85L52F205V");
        // Name with four or more consonants: 1st, 3rd and 4th.
        assert_eq!(&name_code("Gianfranco"), b"GFR");
        // Short and accented names, padding with X.
        assert_eq!(&surname_code("Fo"), b"FOX");
        assert_eq!(&name_code("Lù"), b"LUX");
        assert_eq!(&surname_code("D'Amico"), b"DMC");
    }

    #[test]
    fn structure_errors_have_reasons() {
        for (bad, reason) in [
            ("RSSMRA80A01H501", "16 characters"),
            ("RSSMRA80A01H501UX", "16 characters"),
            ("R1SMRA80A01H501U", "character 2 (surname) must be a letter"),
            ("RSSMRA8AA01H501U", "character 8 (year)"),
            ("RSSMRA80A01H501A", "check character is A, expected U"),
            ("RSSMRA80Z01H501U", "check character"),
            ("RSSMRA80A01H5O1U", "character 14 (birthplace)"),
        ] {
            let e = CodiceFiscale::parse(bad).unwrap_err().to_string();
            assert!(e.contains(reason), "{bad}: {e}");
        }
    }

    #[test]
    fn impossible_months_and_days_are_refused() {
        let mut b = *b"RSSMRA80F01H501X";
        b[15] = check_char(&b);
        let e = CodiceFiscale::parse(std::str::from_utf8(&b).unwrap()).unwrap_err();
        assert!(matches!(e, CfError::Month('F')), "{e}");
        let mut b = *b"RSSMRA80A35H501X";
        b[15] = check_char(&b);
        assert!(matches!(CodiceFiscale::parse(std::str::from_utf8(&b).unwrap()), Err(CfError::Day(35))));
    }

    #[test]
    fn decoding_resolves_the_birthplace_at_the_birth_date() {
        let r = RefData::current();
        let dec = CodiceFiscale::parse("RSSMRA80A01H501U").unwrap().decode(&r, today()).unwrap();
        assert_eq!((dec.sex, dec.birth_date, dec.birth_place_name.as_str()), (Sex::M, d("1980-01-01"), "ROMA"));
        // Born 1975 in Corigliano Calabro (D005, merged into Corigliano-Rossano in 2018).
        let cf = CodiceFiscale::compute(&input("Verdi", "Anna", Sex::F, "1975-03-10", "D005"));
        let dec = cf.decode(&r, today()).unwrap();
        assert_eq!((dec.birth_place_name.as_str(), dec.sex), ("CORIGLIANO CALABRO", Sex::F));
        // The code of the merged comune did not exist in 1975: such a code cannot be right.
        let bogus = CodiceFiscale::compute(&input("Verdi", "Anna", Sex::F, "1975-03-10", "M403"));
        assert!(matches!(bogus.decode(&r, today()), Err(CfError::Place(PlaceError::NotValidOn { .. }))));
        // Abroad.
        let dec = CodiceFiscale::compute(&input("Smith", "John", Sex::M, "1990-05-05", "Z404")).decode(&r, today()).unwrap();
        assert!(dec.born_abroad);
    }

    #[test]
    fn the_century_follows_the_birthplace_history() {
        let r = RefData::current();
        // "18" could be 2018 or 1918. M403 exists only from 2018-03-31, so 2018-06-01 it is.
        let cf = CodiceFiscale::compute(&input("Neri", "Luca", Sex::M, "2018-06-01", "M403"));
        assert_eq!(cf.decode(&r, today()).unwrap().birth_date, d("2018-06-01"));
        // D005 ceased on 2018-03-30, so "18" + D005 in June means 1918.
        let cf = CodiceFiscale::compute(&input("Neri", "Luca", Sex::M, "1918-06-01", "D005"));
        assert_eq!(cf.decode(&r, today()).unwrap().birth_date, d("1918-06-01"));
        // A year after today's is never chosen.
        let cf = CodiceFiscale::compute(&input("Neri", "Luca", Sex::M, "1930-06-01", "H501"));
        assert_eq!(cf.decode(&r, today()).unwrap().birth_date, d("1930-06-01"));
    }

    #[test]
    fn consistency_names_the_parts_that_differ() {
        let cf = CodiceFiscale::parse("RSSMRA80A01H501U").unwrap();
        assert!(cf.mismatches(&input("Rossi", "Mario", Sex::M, "1980-01-01", "H501")).is_empty());
        assert_eq!(cf.mismatches(&input("Rossi", "Maria", Sex::F, "1980-01-01", "H501")), vec!["sex or birth day"]);
        assert_eq!(cf.mismatches(&input("Verdi", "Mario", Sex::M, "1980-01-01", "F205")), vec!["surname", "birthplace"]);
        let omocode = cf.omocode_variant(3).unwrap();
        assert!(omocode.mismatches(&input("Rossi", "Mario", Sex::M, "1980-01-01", "H501")).is_empty());
    }

    prop_compose! {
        fn person()(surname in "[A-Za-zàèéìòù' ]{1,20}", name in "[A-Za-zàèéìòù ]{1,20}", female in any::<bool>(),
                    days in 0i64..36_480, place in prop::sample::select(vec!["H501", "F205", "L219", "A952", "Z404", "Z210", "D704"]))
                    -> (String, String, Sex, NaiveDate, Belfiore) {
            (surname, name, if female { Sex::F } else { Sex::M }, d("1927-01-01") + chrono::Duration::days(days), Belfiore::parse(place).unwrap())
        }
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips((s, n, sex, date, place) in person()) {
            let cf = CodiceFiscale::compute(&CfInput { surname: &s, name: &n, sex, birth_date: date, birth_place: place });
            let parsed = CodiceFiscale::parse(cf.as_str()).unwrap();
            prop_assert_eq!(parsed, cf);
            let dec = cf.decode(&RefData::current(), today()).unwrap();
            prop_assert_eq!(dec.sex, sex);
            prop_assert_eq!(dec.birth_date, date);
            prop_assert_eq!(dec.birth_place_code, place);
        }

        #[test]
        fn every_omocode_variant_validates_and_decodes_the_same((s, n, sex, date, place) in person()) {
            let cf = CodiceFiscale::compute(&CfInput { surname: &s, name: &n, sex, birth_date: date, birth_place: place });
            let base = cf.decode(&RefData::current(), today()).unwrap();
            let variants = cf.all_variants();
            prop_assert_eq!(variants.len(), 128);
            for v in variants {
                let parsed = CodiceFiscale::parse(v.as_str()).unwrap();
                prop_assert_eq!(parsed.base(), cf);
                let dec = parsed.decode(&RefData::current(), today()).unwrap();
                prop_assert_eq!((dec.sex, dec.birth_date, dec.birth_place_code), (base.sex, base.birth_date, base.birth_place_code));
                prop_assert_eq!(dec.omocode, v != cf);
            }
        }

        #[test]
        fn no_input_panics(s in "\\PC{0,20}") {
            if let Ok(cf) = CodiceFiscale::parse(&s) {
                let _ = cf.decode(&RefData::current(), today());
            }
        }

        #[test]
        fn no_sixteen_char_ascii_input_panics(s in "[A-Z0-9]{16}") {
            if let Ok(cf) = CodiceFiscale::parse(&s) {
                let _ = cf.decode(&RefData::current(), today());
                let _ = cf.all_variants();
            }
        }
    }
}
