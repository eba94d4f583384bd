//! The ID ANPR (IDN-1): nine characters — two letters, five digits, one letter — and a check
//! character computed as Luhn mod 36 over the first eight.
//!
//! This module only knows the syntax; how IDs are generated (unpredictably, never reused) is the
//! register's business, not the domain's.

use serde::{Deserialize, Serialize};
use std::fmt;

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A syntactically valid ID ANPR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdAnpr([u8; 9]);

/// Why an ID ANPR was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdAnprError {
    /// Not nine characters.
    #[error("an ID ANPR has 9 characters, got {0}")]
    Length(usize),
    /// A character in a position that does not allow it.
    #[error("character {position} must be {expected}")]
    Character {
        /// 1-based position.
        position: usize,
        /// What the position allows.
        expected: &'static str,
    },
    /// The check character does not match the first eight.
    #[error("check character is {found}, expected {expected}")]
    Check {
        /// The ninth character given.
        found: char,
        /// The one the rule gives.
        expected: char,
    },
}

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// Computes the check character of the first eight characters (IDN-1). Returns `None` when a
/// character is outside the alphabet.
pub fn check_character(body: &[u8; 8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in body.iter().rev().enumerate() {
        let factor = if i % 2 == 0 { 2 } else { 1 };
        let a = factor * value(c)?;
        sum += a / 36 + a % 36;
    }
    Some(ALPHABET[((36 - sum % 36) % 36) as usize])
}

impl IdAnpr {
    /// Parses and checks an ID; lowercase letters are accepted and upper-cased.
    pub fn parse(input: &str) -> Result<Self, IdAnprError> {
        let t = input.trim();
        let n = t.chars().count();
        if n != 9 || !t.is_ascii() {
            return Err(IdAnprError::Length(n));
        }
        let mut b = [0u8; 9];
        for (o, c) in b.iter_mut().zip(t.bytes()) {
            *o = c.to_ascii_uppercase();
        }
        for (i, &c) in b.iter().enumerate().take(8) {
            let (ok, expected) = match i {
                0 | 1 | 7 => (c.is_ascii_uppercase(), "a letter"),
                _ => (c.is_ascii_digit(), "a digit"),
            };
            if !ok {
                return Err(IdAnprError::Character { position: i + 1, expected });
            }
        }
        let body: [u8; 8] = b[..8].try_into().expect("eight bytes");
        let expected = check_character(&body).expect("alphabet checked above");
        if b[8] != expected {
            return Err(IdAnprError::Check { found: b[8] as char, expected: expected as char });
        }
        Ok(Self(b))
    }

    /// Builds an ID from its first eight characters, adding the check character. The body must
    /// follow the format (letters, digits, letter); returns `None` otherwise.
    pub fn from_body(body: [u8; 8]) -> Option<Self> {
        let shape_ok =
            body[..2].iter().all(u8::is_ascii_uppercase) && body[2..7].iter().all(u8::is_ascii_digit) && body[7].is_ascii_uppercase();
        if !shape_ok {
            return None;
        }
        let check = check_character(&body)?;
        let mut b = [0u8; 9];
        b[..8].copy_from_slice(&body);
        b[8] = check;
        Some(Self(b))
    }

    /// Builds the ID of index `n` in the format's space of 26·26·10⁵·26 = 1 757 600 000 bodies
    /// (letters and digits read as a mixed-radix number). Used by generators that permute
    /// indices; returns `None` for `n` outside the space.
    pub fn from_index(n: u64) -> Option<Self> {
        if n >= Self::SPACE {
            return None;
        }
        let mut r = n;
        let l3 = (r % 26) as u8;
        r /= 26;
        let digits = (r % 100_000) as u32;
        r /= 100_000;
        let l2 = (r % 26) as u8;
        r /= 26;
        let l1 = r as u8;
        let mut body = [0u8; 8];
        body[0] = b'A' + l1;
        body[1] = b'A' + l2;
        let ds = format!("{digits:05}");
        body[2..7].copy_from_slice(ds.as_bytes());
        body[7] = b'A' + l3;
        Self::from_body(body)
    }

    /// Number of distinct IDs the format allows.
    pub const SPACE: u64 = 26 * 26 * 100_000 * 26;

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The state of an ID ANPR (IDN-2, IDN-6), stored as a code (1 valid, 2 suspended, 3 invalid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdStatus {
    /// In use.
    Valid,
    /// Suspended while a duplicate case is open (IDN-6 case 5).
    Suspended,
    /// No longer valid (a deleted duplicate, a minor's record before adoption).
    Invalid,
}

impl IdStatus {
    /// Every state, in code order.
    pub const ALL: [Self; 3] = [Self::Valid, Self::Suspended, Self::Invalid];

    /// The stored code.
    pub fn code(self) -> i16 {
        match self {
            Self::Valid => 1,
            Self::Suspended => 2,
            Self::Invalid => 3,
        }
    }

    /// The state a stored code names; `None` for a code that is no state.
    pub fn from_code(code: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// `valid`, `suspended` or `invalid`, as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Suspended => "suspended",
            Self::Invalid => "invalid",
        }
    }
}

impl fmt::Display for IdAnpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::text_conversions!(IdAnpr, IdAnprError);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_decree_rule_gives_the_check_character() {
        // Worked by hand from IDN-1: body "AB12345C".
        // rightmost first: C(12)*2=24 ->24; 5*1=5; 4*2=8; 3*1=3; 2*2=4; 1*1=1; B(11)*2=22; A(10)*1=10
        // sum = 24+5+8+3+4+1+22+10 = 77; 77 % 36 = 5; (36-5)%36 = 31 -> 'V'
        assert_eq!(check_character(b"AB12345C"), Some(b'V'));
        assert!(IdAnpr::parse("AB12345CV").is_ok());
        assert!(IdAnpr::parse("ab12345cv").is_ok());
    }

    #[test]
    fn malformed_ids_get_reasons() {
        for (input, reason) in [
            ("AB12345C", "9 characters"),
            ("AB12345CVX", "9 characters"),
            ("1B12345CV", "character 1 must be a letter"),
            ("ABX2345CV", "character 3 must be a digit"),
            ("AB123451V", "character 8 must be a letter"),
            ("AB12345CW", "check character is W, expected V"),
            ("AB12345C€", "9 characters"),
        ] {
            let e = IdAnpr::parse(input).unwrap_err().to_string();
            assert!(e.contains(reason), "{input}: {e}");
        }
    }

    #[test]
    fn every_single_character_change_of_many_ids_is_refused() {
        // Exhaustive over positions and replacement characters, for IDs spread over the space.
        for k in 0..500u64 {
            let id = IdAnpr::from_index((k * (IdAnpr::SPACE / 500) + k * 7919) % IdAnpr::SPACE).unwrap();
            for pos in 0..9 {
                for &c in ALPHABET {
                    let mut s = id.as_str().as_bytes().to_vec();
                    if s[pos] == c {
                        continue;
                    }
                    s[pos] = c;
                    let changed = String::from_utf8(s).unwrap();
                    assert!(IdAnpr::parse(&changed).is_err(), "{id} -> {changed} accepted");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn every_single_character_change_is_detected(n in 0u64..IdAnpr::SPACE, pos in 0usize..9, repl in 0usize..36) {
            let id = IdAnpr::from_index(n).unwrap();
            let mut s = id.as_str().as_bytes().to_vec();
            let c = ALPHABET[repl];
            prop_assume!(s[pos] != c);
            s[pos] = c;
            let changed = String::from_utf8(s).unwrap();
            prop_assert!(IdAnpr::parse(&changed).is_err(), "{} -> {} accepted", id, changed);
        }

        #[test]
        fn ids_from_any_index_round_trip(n in 0u64..IdAnpr::SPACE) {
            let id = IdAnpr::from_index(n).unwrap();
            prop_assert_eq!(IdAnpr::parse(id.as_str()).unwrap(), id);
        }

        #[test]
        fn no_input_panics(s in "\\PC{0,12}") {
            let _ = IdAnpr::parse(&s);
        }
    }
}
