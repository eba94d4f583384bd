//! The pages' strings, in Fluent message files (`web/locales/{it,en}.ftl`), not in the
//! templates. Italian is the default; English is the other language of the pages. A key
//! missing from English falls back to Italian; a key missing from both shows as itself (a test
//! holds every key the templates use present in both files).

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::sync::OnceLock;

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Italian (default).
    It,
    /// English.
    En,
}

impl Lang {
    /// Every language, in the order the switch shows them.
    pub const ALL: [Lang; 2] = [Lang::It, Lang::En];

    /// BCP 47 code (`it`, `en`), as in `lang` attributes.
    pub fn code(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
        }
    }

    /// The language's own name, as the switch shows it.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::It => "Italiano",
            Lang::En => "English",
        }
    }

    /// From a code; `None` for any other.
    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "it" => Some(Lang::It),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first supported language of an `Accept-Language` header, by the client's weights.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',').take(20) {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim();
            let q = it.find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.parse::<f32>().ok())).unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(lang) = Lang::parse(primary)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }
}

/// The message files.
pub const SOURCES: [(Lang, &str); 2] =
    [(Lang::It, include_str!("../../web/locales/it.ftl")), (Lang::En, include_str!("../../web/locales/en.ftl"))];

struct Bundles {
    it: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

fn bundle(lang: Lang, source: &str) -> FluentBundle<FluentResource> {
    let id: unic_langid::LanguageIdentifier = lang.code().parse().expect("a static language tag");
    let mut b = FluentBundle::new_concurrent(vec![id]);
    // The pages are HTML escaped by the templates; Unicode isolation marks would only get in
    // the way of copying codes and of the tests.
    b.set_use_isolating(false);
    let res = FluentResource::try_new(source.to_owned()).unwrap_or_else(|(_, errs)| panic!("{}.ftl does not parse: {errs:?}", lang.code()));
    b.add_resource(res).unwrap_or_else(|errs| panic!("{}.ftl has duplicate keys: {errs:?}", lang.code()));
    b
}

/// English words for the decode tables' entries the pages show (Italian pages show ANPR's
/// official descriptions, which the tables carry).
pub const DECODE_EN: &str = include_str!("../../web/locales/decode-en.ftl");

fn bundles() -> &'static Bundles {
    static B: OnceLock<Bundles> = OnceLock::new();
    B.get_or_init(|| {
        let mut en = bundle(Lang::En, SOURCES[1].1);
        let res =
            FluentResource::try_new(DECODE_EN.to_owned()).unwrap_or_else(|(_, errs)| panic!("decode-en.ftl does not parse: {errs:?}"));
        en.add_resource(res).unwrap_or_else(|errs| panic!("decode-en.ftl repeats a key: {errs:?}"));
        Bundles { it: bundle(Lang::It, SOURCES[0].1), en }
    })
}

/// A decode table's entry in `lang`: ANPR's official description in Italian; in English the
/// words of `decode-en.ftl` (`decode-<table>-<code>`), or the official description where the
/// table has none (the legal texts of tab. 39, for instance).
pub fn decode<T: anagrafe_domain::decode::DecodeTable>(lang: Lang, v: T) -> String {
    match lang {
        Lang::It => v.description().to_owned(),
        Lang::En => format(&bundles().en, &format!("decode-{}-{}", T::TABLE, v.code()), None).unwrap_or_else(|| v.description().to_owned()),
    }
}

fn format(b: &FluentBundle<FluentResource>, key: &str, args: Option<&FluentArgs>) -> Option<String> {
    let msg = b.get_message(key)?;
    let pattern = msg.value()?;
    let mut errors = Vec::new();
    let s = b.format_pattern(pattern, args, &mut errors);
    errors.is_empty().then(|| s.into_owned())
}

/// The message `key` in `lang` (Italian when English lacks it; the key itself when both do).
pub fn t(lang: Lang, key: &str) -> String {
    t_args(lang, key, &[])
}

/// The message `key` with named arguments.
pub fn t_args(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let b = bundles();
    let fa = (!args.is_empty()).then(|| {
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            fa.set(*k, FluentValue::from(*v));
        }
        fa
    });
    let primary = match lang {
        Lang::It => &b.it,
        Lang::En => &b.en,
    };
    format(primary, key, fa.as_ref()).or_else(|| format(&b.it, key, fa.as_ref())).unwrap_or_else(|| key.to_owned())
}

/// A reason of the register's rules in `lang`: message `why-<key>` with the reason's arguments.
pub fn why(lang: Lang, reason: &anagrafe_domain::Why) -> String {
    let args: Vec<(&str, &str)> = reason.args().iter().map(|(n, v)| (*n, v.as_str())).collect();
    t_args(lang, &format!("why-{}", reason.key()), &args)
}

/// A reason in English: the web services' words, and every reason's `Display` once the server
/// has started ([`anagrafe_domain::why::set_default_words`]).
pub fn english(reason: &anagrafe_domain::Why) -> String {
    why(Lang::En, reason)
}

/// Whether `lang`'s own file defines `key` (tests).
pub fn has(lang: Lang, key: &str) -> bool {
    let b = bundles();
    let b = match lang {
        Lang::It => &b.it,
        Lang::En => &b.en,
    };
    b.has_message(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_heaviest_supported() {
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9,it;q=0.8"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("de-DE,it;q=0.5,en;q=0.4"), Some(Lang::It));
        assert_eq!(Lang::from_accept_language("de, fr;q=0.9"), None);
    }

    #[test]
    fn both_files_define_the_same_keys() {
        let keys = |src: &str| -> Vec<String> {
            src.lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains(" ="))
                .map(|l| l.split(" =").next().unwrap_or("").trim().to_owned())
                .collect()
        };
        let (it, en) = (keys(SOURCES[0].1), keys(SOURCES[1].1));
        let only_it: Vec<_> = it.iter().filter(|k| !en.contains(k)).collect();
        let only_en: Vec<_> = en.iter().filter(|k| !it.contains(k)).collect();
        assert!(only_it.is_empty() && only_en.is_empty(), "only in it.ftl: {only_it:?}; only in en.ftl: {only_en:?}");
        assert!(it.len() > 50, "{} keys", it.len());
        assert_eq!(t(Lang::En, "site-name"), "National Resident Population Register");
        assert_eq!(t_args(Lang::It, "cert-issued", &[("id", "2026-X")]), "Certificato n. 2026-X rilasciato.");
    }
}
