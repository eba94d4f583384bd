//! No input to any parser panics: arbitrary text and bytes get a value or a reason.

use anagrafe_domain::{Belfiore, Cap, CodiceFiscale, IdAnpr, IstatCode, PartialDate, PersonName, RefData};
use chrono::NaiveDate;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_parsers_never_panic(s in "\\PC{0,40}") {
        let _ = PartialDate::parse(&s);
        let _ = Belfiore::parse(&s);
        let _ = IstatCode::parse(&s);
        let _ = Cap::parse(&s);
        let _ = IdAnpr::parse(&s);
        let _ = PersonName::new(Some(&s), Some(&s));
        if let Ok(cf) = CodiceFiscale::parse(&s) {
            let _ = cf.decode(&RefData::current(), NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
        }
    }

    #[test]
    fn place_lookups_never_panic(s in "\\PC{0,40}", days in -80_000i64..80_000) {
        let on = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(days);
        let _ = RefData::current().resolve(&s, on);
    }

    #[test]
    fn official_file_readers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = anagrafe_domain::refdata::comuni_from_anpr_csv(&bytes[..]);
        let _ = anagrafe_domain::refdata::stati_from_anpr_csv(&bytes[..]);
        let _ = RefData::compile(&bytes[..], &bytes[..]);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = RefData::from_compact(text, text);
        }
    }

    #[test]
    fn plausible_csv_rows_never_panic(fields in proptest::collection::vec("[0-9A-Za-z/\\-]{0,12}", 18)) {
        let header = "ID,DATAISTITUZIONE,DATACESSAZIONE,CODISTAT,CODCATASTALE,DENOMINAZIONE_IT,DENOMTRASLITTERATA,ALTRADENOMINAZIONE,ALTRADENOMTRASLITTERATA,ID_PROVINCIA,IDPROVINCIAISTAT,IDREGIONE,IDPREFETTURA,STATO,SIGLAPROVINCIA,FONTE,DATAULTIMOAGG,COD_DENOM\n";
        let csv = format!("{header}{}\n", fields.join(","));
        let _ = anagrafe_domain::refdata::comuni_from_anpr_csv(csv.as_bytes());
    }
}
