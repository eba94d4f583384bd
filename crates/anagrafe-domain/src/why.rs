//! Why the register refuses a value or an operation, as a message of its catalogue.
//!
//! The domain decides *that* and *why* something is refused; the words belong to the door that
//! speaks to a person. A [`Why`] is a message key (`why-<key>` in each language's catalogue,
//! `crates/anagrafe-server/web/locales/`) with its arguments: the office's forms and the
//! citizen's pages show it in the page's language beside the field's label, the web services in
//! English with the key as a stable `code` a client can branch on. A test of the server reads
//! every `Why::new("…")` of the workspace and checks that both catalogues define it, so a refusal
//! can never reach a page as an untranslated developer's sentence.

use std::fmt;

/// A refusal's reason: a key of the message catalogue and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    key: &'static str,
    args: Vec<(&'static str, String)>,
}

impl Why {
    /// The reason `key` (the catalogue's `why-<key>`), with no arguments yet.
    pub const fn new(key: &'static str) -> Self {
        Self { key, args: Vec::new() }
    }

    /// Adds the argument `name` (`{ $name }` in the message).
    #[must_use]
    pub fn arg(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        self.args.push((name, value.to_string()));
        self
    }

    /// The message key, without its `why-` prefix: stable, for clients and tests.
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// The arguments, by name.
    pub fn args(&self) -> &[(&'static str, String)] {
        &self.args
    }

    /// The value of argument `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.args.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// The words a reason is written in where no language is chosen (a web service's English
/// `detail`, a command's output), set once by the program that holds the catalogue.
static DEFAULT_WORDS: std::sync::OnceLock<fn(&Why) -> String> = std::sync::OnceLock::new();

/// Sets how [`Why`]'s `Display` words a reason (the server installs its English catalogue);
/// the first call wins.
pub fn set_default_words(words: fn(&Why) -> String) {
    let _ = DEFAULT_WORDS.set(words);
}

/// The reason in the default words when a program has set them, otherwise its key and arguments
/// (`too-long(max=80)`), as a test of the domain sees it.
impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(words) = DEFAULT_WORDS.get() {
            return f.write_str(&words(self));
        }
        f.write_str(self.key)?;
        if !self.args.is_empty() {
            let args: Vec<String> = self.args.iter().map(|(n, v)| format!("{n}={v}")).collect();
            write!(f, "({})", args.join(", "))?;
        }
        Ok(())
    }
}

impl serde::Serialize for Why {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<crate::text::TextError> for Why {
    fn from(e: crate::text::TextError) -> Self {
        use crate::text::TextError;
        match e {
            TextError::Empty => Why::new("empty"),
            TextError::TooLong { max } => Why::new("too-long").arg("max", max),
            TextError::Forbidden(c) => Why::new("forbidden-char").arg("char", crate::text::shown(c)),
            TextError::NotEmail => Why::new("not-email"),
        }
    }
}

impl From<crate::refdata::PlaceError> for Why {
    fn from(e: crate::refdata::PlaceError) -> Self {
        use crate::refdata::PlaceError;
        match e {
            PlaceError::UnknownCode(code) => Why::new("place-unknown").arg("place", code),
            PlaceError::NotValidOn { code, date } => Why::new("place-not-on").arg("place", code).arg("date", crate::date::dmy(date)),
            PlaceError::UnknownName { name, date } => Why::new("place-not-on").arg("place", name).arg("date", crate::date::dmy(date)),
            PlaceError::Ambiguous { name, date, candidates } => {
                Why::new("place-ambiguous").arg("place", name).arg("date", crate::date::dmy(date)).arg("candidates", candidates)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_shows_its_key_and_arguments() {
        let w = Why::new("too-long").arg("max", 80);
        assert_eq!(w.to_string(), "too-long(max=80)");
        assert_eq!(w.get("max"), Some("80"));
        assert_eq!(Why::new("required").to_string(), "required");
    }
}
