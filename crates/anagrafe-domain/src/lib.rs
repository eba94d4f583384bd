//! The register's domain: pure types and rules, no I/O.
//!
//! Everything a request carries is parsed into these types first thing ("parse, don't
//! validate"): a [`CodiceFiscale`], an [`IdAnpr`], a [`Belfiore`] code can only exist if valid.
//! Reference data (comuni, foreign states) are embedded in the binary and can be replaced at run
//! time by a copy loaded from the official ANPR files.

/// Text conversions of a parsed type: `FromStr` and `TryFrom<String>` through its `parse`, and
/// `String` from its `Display` (so serde can use `try_from = "String", into = "String"`).
macro_rules! text_conversions {
    ($ty:ty, $err:ty) => {
        impl std::str::FromStr for $ty {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.to_string()
            }
        }
    };
}
pub(crate) use text_conversions;

pub mod case;
pub mod certificate;
pub mod cf;
pub mod codes;
pub mod date;
pub mod decode;
pub mod documents;
pub mod electoral;
pub mod eservice;
pub mod eu;
pub mod extract;
pub mod id_anpr;
pub mod id_generator;
pub mod ops;
pub mod person;
pub mod refdata;
pub mod role;
pub mod rules;
pub mod security;
pub mod text;
pub mod why;

pub use cf::{CfError, CodiceFiscale, DecodedCf};
pub use cf::{CfInput, Sex};
pub use codes::{Belfiore, Cap, CodeError, IstatCode};
pub use date::{DatePrecision, PartialDate};
pub use id_anpr::{IdAnpr, IdAnprError, IdStatus};
pub use id_generator::IdGenerator;
pub use person::*;
pub use refdata::{Comune, Place, RefData, Stato};
pub use role::{Role, UnknownRole};
pub use why::Why;
