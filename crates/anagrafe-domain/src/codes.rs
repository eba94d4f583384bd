//! Small coded identifiers of the register, each a newtype that can only hold a valid value.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The input does not have the shape the code requires.
    #[error("{what} must be {shape}, got {got:?}")]
    Shape {
        /// Which code (e.g. "Belfiore code").
        what: &'static str,
        /// The expected shape in words.
        shape: &'static str,
        /// What was given (codes carry no personal data).
        got: String,
    },
}

macro_rules! ascii_code {
    ($(#[$doc:meta])* $name:ident, $what:literal, $shape:literal, $len:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name([u8; $len]);

        impl $name {
            /// Parses the code; surrounding blanks are ignored, letters are upper-cased.
            pub fn parse(input: &str) -> Result<Self, CodeError> {
                let t = input.trim();
                let bytes = t.as_bytes();
                let check: fn(&[u8]) -> bool = $check;
                if bytes.len() != $len || !t.is_ascii() {
                    return Err(CodeError::Shape { what: $what, shape: $shape, got: t.chars().take(32).collect() });
                }
                let mut out = [0u8; $len];
                for (o, b) in out.iter_mut().zip(bytes) {
                    *o = b.to_ascii_uppercase();
                }
                if !check(&out) {
                    return Err(CodeError::Shape { what: $what, shape: $shape, got: t.chars().take(32).collect() });
                }
                Ok(Self(out))
            }

            /// The code as text.
            pub fn as_str(&self) -> &str {
                // Only ASCII bytes are ever stored.
                std::str::from_utf8(&self.0).unwrap_or_default()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        crate::text_conversions!($name, CodeError);
    };
}

ascii_code!(
    /// Cadastral (Belfiore) code of a comune (`L219`) or of a foreign state (`Z404`): one letter
    /// and three digits. It is the birthplace part of the codice fiscale.
    Belfiore,
    "Belfiore code",
    "a letter followed by three digits (e.g. L219, Z404)",
    4,
    |b| b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)
);

ascii_code!(
    /// ISTAT code of a comune: six digits (province code + progressive number), e.g. `001272`.
    IstatCode,
    "ISTAT code",
    "six digits (e.g. 001272)",
    6,
    |b| b.iter().all(u8::is_ascii_digit)
);

ascii_code!(
    /// Italian postcode (CAP): five digits.
    Cap,
    "postcode (CAP)",
    "five digits (e.g. 00184)",
    5,
    |b| b.iter().all(u8::is_ascii_digit)
);

impl Belfiore {
    /// Whether the code denotes a foreign state (the `Z` series) rather than a comune.
    pub fn is_foreign_state(&self) -> bool {
        self.0[0] == b'Z'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_and_refuse_with_reasons() {
        assert_eq!(Belfiore::parse(" l219 ").unwrap().as_str(), "L219");
        assert!(Belfiore::parse("Z404").unwrap().is_foreign_state());
        for bad in ["", "L21", "L2199", "1219", "LL19", "L2è9"] {
            let err = Belfiore::parse(bad).unwrap_err().to_string();
            assert!(err.contains("Belfiore code"), "{bad}: {err}");
        }
        assert_eq!(IstatCode::parse("001272").unwrap().to_string(), "001272");
        assert!(IstatCode::parse("00127A").is_err());
        assert!(Cap::parse("00184").is_ok());
        assert!(Cap::parse("0018").is_err());
    }
}
