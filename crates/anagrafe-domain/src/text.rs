//! Text folding for lookups: names typed by people carry accents, apostrophes and case that
//! official tables spell differently ("Forlì", "FORLI'", "forli"); and the one type every
//! free-text field of the register is built from ([`Line`]), with ANPR's limits.

/// Folds a name for comparison: uppercase ASCII letters and digits, accents removed, any run of
/// other characters (spaces, apostrophes, hyphens, dots) collapsed to one space, trimmed.
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending_space = false;
    for ch in input.chars() {
        let mapped = fold_char(ch);
        match mapped {
            Some(s) => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push_str(s);
            }
            None => pending_space = true,
        }
    }
    out
}

/// Letters of a name as the codice fiscale sees them: uppercase A–Z only (accents removed,
/// everything else dropped).
pub fn cf_letters(input: &str) -> String {
    fold(input).chars().filter(char::is_ascii_uppercase).collect()
}

fn fold_char(ch: char) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("AÀÁÂÃÄÅĀĂĄaàáâãäåāăą", "A"),
        ("ÆæǼǽ", "AE"),
        ("CÇĆĈĊČcçćĉċč", "C"),
        ("DĎĐdďđ", "D"),
        ("EÈÉÊËĒĔĖĘĚeèéêëēĕėęě", "E"),
        ("GĜĞĠĢgĝğġģ", "G"),
        ("HĤĦhĥħ", "H"),
        ("IÌÍÎÏĨĪĬĮİiìíîïĩīĭįı", "I"),
        ("JĴjĵ", "J"),
        ("KĶkķ", "K"),
        ("LĹĻĽĿŁlĺļľŀł", "L"),
        ("NÑŃŅŇnñńņň", "N"),
        ("OÒÓÔÕÖØŌŎŐoòóôõöøōŏő", "O"),
        ("Œœ", "OE"),
        ("RŔŖŘrŕŗř", "R"),
        ("SŚŜŞŠsśŝşšș", "S"),
        ("ß", "SS"),
        ("TŢŤŦtţťŧț", "T"),
        ("UÙÚÛÜŨŪŬŮŰŲuùúûüũūŭůűų", "U"),
        ("WŴwŵ", "W"),
        ("YÝŸŶyýÿŷ", "Y"),
        ("ZŹŻŽzźżž", "Z"),
    ];
    if ch.is_ascii_digit() {
        const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
        return Some(DIGITS[(ch as u8 - b'0') as usize]);
    }
    if ch.is_ascii_alphabetic() {
        const LETTERS: [&str; 26] = [
            "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y",
            "Z",
        ];
        return Some(LETTERS[(ch.to_ascii_uppercase() as u8 - b'A') as usize]);
    }
    TABLE.iter().find(|(set, _)| set.contains(ch)).map(|(_, to)| *to).or(if ch.is_alphabetic() { Some("") } else { None })
}

/// Why a line of free text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but spaces.
    #[error("is empty")]
    Empty,
    /// Longer than the field allows (in characters, as ANPR counts them).
    #[error("is longer than {max} characters")]
    TooLong {
        /// The field's limit.
        max: usize,
    },
    /// A character outside the field's set (see [`allowed_char`] and [`email_char`]).
    #[error("contains {}, which the field does not accept", shown(*.0))]
    Forbidden(char),
    /// Characters of the set, but not an e-mail address (`name@domain.tld`).
    #[error("is not an e-mail address (name@domain.it)")]
    NotEmail,
}

/// A character as a message shows it: itself when it prints, its code point otherwise.
pub fn shown(c: char) -> String {
    if c.is_control() || c.is_whitespace() || !(c.is_alphanumeric() || c.is_ascii_graphic()) {
        format!("U+{:04X}", c as u32)
    } else {
        format!("«{c}»")
    }
}

/// The character set of the register's free-text fields, ANPR's own (`tipoDato.xsd`:
/// `alfanumericoIndirizzo`, `tipoFrazioneEstera`, `alfanumericoslashbase`): the Latin alphabet
/// with its accented letters (Latin-1 and Latin Extended-A, U+00C0–U+017F), digits, the space and
/// `' - / . , ( ) " : ;`, and besides ANPR's the typographic apostrophe `’` and the degree sign
/// `°` that addresses carry (`3° tratto`). Everything else is refused: control characters (NUL,
/// CR, LF, tab), bidirectional and zero-width marks, other scripts (ANPR transliterates them),
/// symbols. Every character of the set prints with the certificates' fonts, so a stored value
/// always prints (`anagrafe-docs` tests it glyph by glyph): hence seven archaic letters of the
/// range are left out, which the fonts do not draw (`Ĳ ĳ ĸ Ŀ ŀ ŉ ſ`).
pub fn allowed_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, ' ' | '\'' | '-' | '/' | '.' | ',' | '(' | ')' | '"' | ':' | ';' | '’' | '°')
        || (('\u{C0}'..='\u{17F}').contains(&c) && !matches!(c, '×' | '÷' | 'Ĳ' | 'ĳ' | 'ĸ' | 'Ŀ' | 'ŀ' | 'ŉ' | 'ſ'))
}

/// The characters of an e-mail or PEC address, ANPR's `tipoEmail`: ASCII letters and digits and
/// `. _ % + - @`.
pub fn email_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-' | '@')
}

/// Character set of a [`Line`]: the register's text ([`allowed_char`]).
pub const TEXT: u8 = 0;
/// Character set of a [`Line`]: an e-mail address ([`email_char`], one `@`, a dotted domain).
pub const EMAIL: u8 = 1;

/// One line of free text with at most `MAX` characters of the set `SET`: what every free-text
/// field of the register holds (a street, a locality, a document number, a description, an
/// e-mail address). Built only by [`Line::new`], which trims it, collapses runs of spaces and
/// refuses every character outside the set, so a stored value always prints.
///
/// The limits are those of ANPR's own fields (`tipoDato.xsd` of the ANPR web services); the
/// aliases below name them, and `docs/data-model.md` lists them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Line<const MAX: usize, const SET: u8 = TEXT>(String);

impl<const MAX: usize, const SET: u8> Line<MAX, SET> {
    /// The field's limit, in characters.
    pub const MAX: usize = MAX;

    /// Checks and normalises a value: surrounding spaces trimmed, inner runs of spaces made one.
    pub fn new(value: &str) -> Result<Self, TextError> {
        let value = value.trim_matches(' ');
        let allowed = if SET == EMAIL { email_char } else { allowed_char };
        if let Some(c) = value.chars().find(|&c| !(allowed(c) || (c == ' ' && SET == TEXT))) {
            return Err(TextError::Forbidden(c));
        }
        let mut out = String::with_capacity(value.len().min(MAX * 2));
        for word in value.split(' ').filter(|w| !w.is_empty()) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
            if out.chars().count() > MAX {
                return Err(TextError::TooLong { max: MAX });
            }
        }
        if out.is_empty() {
            return Err(TextError::Empty);
        }
        if SET == EMAIL && !is_email(&out) {
            return Err(TextError::NotEmail);
        }
        Ok(Self(out))
    }

    /// An optional field: absent or blank is `None`, anything else must be a valid line.
    pub fn optional(value: Option<&str>) -> Result<Option<Self>, TextError> {
        match value.map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => Self::new(v).map(Some),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `name@domain.tld`, once: a non-empty local part, a domain of dotted labels ending in two
/// letters or more.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && !domain.contains('@')
        && labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

impl<const MAX: usize, const SET: u8> std::ops::Deref for Line<MAX, SET> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize, const SET: u8> AsRef<str> for Line<MAX, SET> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize, const SET: u8> std::fmt::Display for Line<MAX, SET> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize, const SET: u8> std::fmt::Debug for Line<MAX, SET> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl<const MAX: usize, const SET: u8> std::str::FromStr for Line<MAX, SET> {
    type Err = TextError;
    fn from_str(s: &str) -> Result<Self, TextError> {
        Self::new(s)
    }
}

impl<const MAX: usize, const SET: u8> PartialEq<str> for Line<MAX, SET> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl<const MAX: usize, const SET: u8> PartialEq<&str> for Line<MAX, SET> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl<const MAX: usize, const SET: u8> From<Line<MAX, SET>> for String {
    fn from(l: Line<MAX, SET>) -> String {
        l.0
    }
}

impl<'de, const MAX: usize, const SET: u8> serde::Deserialize<'de> for Line<MAX, SET> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

/// Toponym species as written (`VIA`, `PIAZZA`): ANPR's `specie`, 30 characters.
pub type Species = Line<30>;
/// Street name: ANPR's `denominazioneToponimo`, 100 characters.
pub type Toponym = Line<100>;
/// Civic number with its suffix (`12/B`): ANPR's `numero` and `esponente1`, 20 characters.
pub type Civic = Line<20>;
/// Staircase, floor and internal number together: ANPR keeps them in fields of 4 to 20
/// characters each; here one line of 30.
pub type Internal = Line<30>;
/// Locality or hamlet (*frazione*): ANPR's `frazione`, 80 characters.
pub type Locality = Line<80>;
/// A place abroad (city, birth or death locality): ANPR's `descrizioneLocalita`, 120 characters.
pub type ForeignLocality = Line<120>;
/// A street address abroad: ANPR's `denominazione` of `tipoToponimoEstero`, 120 characters.
pub type ForeignStreet = Line<120>;
/// A postcode abroad: ANPR's `cap` of `tipoIndirizzoEstero`, 10 characters.
pub type ForeignPostcode = Line<10>;
/// A consulate's code: ANPR's `codiceConsolato`, 7 characters.
pub type ConsulateCode = Line<7>;
/// An identity document's number: ANPR's `numero` of the documents, 20 characters.
pub type DocumentNumber = Line<20>;
/// The authority that issued a document: 120 characters, as ANPR's descriptions of offices.
pub type Issuer = Line<120>;
/// An e-mail or PEC address: ANPR's `tipoEmail` characters, 254 at most (RFC 5321's path limit).
pub type EmailAddress = Line<254, EMAIL>;
/// A free description of a reason: ANPR's `descrizioneMotivoIscrizione`, 240 characters.
pub type Description = Line<240>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_apostrophes() {
        assert_eq!(fold("Forlì"), "FORLI");
        assert_eq!(fold("FORLI'"), "FORLI");
        assert_eq!(fold("  sant'Angelo   d'Alife "), "SANT ANGELO D ALIFE");
        assert_eq!(fold("Reggio nell'Emilia"), "REGGIO NELL EMILIA");
        assert_eq!(fold("Brixen/Bressanone"), "BRIXEN BRESSANONE");
        assert_eq!(fold("Straße"), "STRASSE");
    }

    #[test]
    fn cf_letters_keep_only_letters() {
        assert_eq!(cf_letters("D'Amico-Rossi"), "DAMICOROSSI");
        assert_eq!(cf_letters("Nicolò"), "NICOLO");
    }

    #[test]
    fn lines_are_trimmed_collapsed_and_bounded() {
        assert_eq!(Toponym::new("  Via   del  Corso ").unwrap().as_str(), "Via del Corso");
        assert_eq!(Civic::new("12/B").unwrap(), "12/B");
        assert_eq!(Toponym::new("   "), Err(TextError::Empty));
        assert_eq!(ForeignPostcode::new("12345678901"), Err(TextError::TooLong { max: 10 }));
        assert!(ForeignPostcode::new("1234567890").is_ok());
        // Characters, not bytes: 100 accented letters fit a toponym.
        assert!(Toponym::new(&"à".repeat(100)).is_ok());
        assert_eq!(Toponym::new(&"à".repeat(101)), Err(TextError::TooLong { max: 100 }));
        assert_eq!(Toponym::new(&"x".repeat(1 << 20)), Err(TextError::TooLong { max: 100 }));
    }

    #[test]
    fn lines_refuse_what_prints_differently() {
        for bad in [
            "Via\0Roma",
            "Via\r\nRoma",
            "Via\tRoma",
            "Via \u{202E}amoR",
            "Via\u{2066}Roma",
            "Via\u{200B}Roma",
            "\u{FEFF}Roma",
            "Via\u{85}Roma",
            "Via\u{E000}",
            "Via\u{FFFF}",
            "Москва",
            "Via #[x]",
            "Via <b>",
            "Via $x$",
            "Via ×",
        ] {
            assert!(matches!(Toponym::new(bad), Err(TextError::Forbidden(_))), "{bad:?}");
        }
        assert!(Toponym::new("Via dell'Università, 3° tratto - Ñuñoa (Œuvre) Łódź").is_ok());
        assert_eq!(Toponym::new("Via\u{202E}").unwrap_err().to_string(), "contains U+202E, which the field does not accept");
        assert_eq!(Toponym::new("Via #1").unwrap_err().to_string(), "contains «#», which the field does not accept");
    }

    #[test]
    fn e_mail_addresses_have_their_own_set_and_shape() {
        assert_eq!(EmailAddress::new(" mario.rossi+pec@comune.roma.it ").unwrap(), "mario.rossi+pec@comune.roma.it");
        for bad in ["mario", "mario@", "@roma.it", "mario@roma", "mario@@roma.it", "a@b.c", "m@roma.i1"] {
            assert_eq!(EmailAddress::new(bad), Err(TextError::NotEmail), "{bad:?}");
        }
        assert_eq!(EmailAddress::new("mario rossi@roma.it"), Err(TextError::Forbidden(' ')));
        assert_eq!(EmailAddress::new("màrio@roma.it"), Err(TextError::Forbidden('à')));
    }

    #[test]
    fn lines_deserialize_through_the_same_check() {
        let ok: Toponym = serde_json::from_str("\" Via  Roma \"").unwrap();
        assert_eq!(ok, "Via Roma");
        let err = serde_json::from_str::<Toponym>("\"Via\\u0000Roma\"").unwrap_err().to_string();
        assert!(err.contains("U+0000"), "{err}");
        assert_eq!(Toponym::optional(Some("  ")).unwrap(), None);
    }

    proptest::proptest! {
        #[test]
        fn an_accepted_line_is_its_own_normal_form(s in "[ -~\u{C0}-\u{17F}]{0,130}|\\PC{0,20}") {
            if let Ok(l) = ForeignLocality::new(&s) {
                proptest::prop_assert!(l.chars().count() <= 120);
                proptest::prop_assert!(l.chars().all(allowed_char));
                proptest::prop_assert_eq!(ForeignLocality::new(&l).unwrap(), l.clone());
            }
        }
    }
}
