//! Text folding for lookups: names typed by people carry accents, apostrophes and case that
//! official tables spell differently ("Forlì", "FORLI'", "forli").

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
}
