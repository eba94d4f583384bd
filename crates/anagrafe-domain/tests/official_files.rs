//! The shipped reference data are exactly what `anagrafe refdata compile` makes of the official
//! ANPR files in `../shared/data/anpr/` (skipped, with a message, where those are absent).

use anagrafe_domain::RefData;
use anagrafe_domain::refdata::SOURCE_NOTE;
use std::path::PathBuf;

fn shared() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/anpr");
    dir.join("ANPR_archivio_comuni.csv").exists().then_some(dir)
}

#[test]
fn shipped_files_are_generated_from_the_official_archives() {
    let Some(dir) = shared() else {
        eprintln!("SKIPPED: ../shared/data/anpr not present");
        return;
    };
    let comuni = std::fs::File::open(dir.join("ANPR_archivio_comuni.csv")).unwrap();
    let stati = std::fs::File::open(dir.join("tab_stati_esteri.csv")).unwrap();
    let compiled = RefData::compile(comuni, stati).unwrap();
    let (c, s) = compiled.to_compact(SOURCE_NOTE);
    let (ec, es) = RefData::embedded_files();
    assert!(c == ec, "comuni.tsv differs from the official archive: run `anagrafe refdata compile`");
    assert!(s == es, "stati.tsv differs from the official table: run `anagrafe refdata compile`");
}

#[test]
fn a_truncated_archive_is_refused() {
    let head = "ID,DATAISTITUZIONE,DATACESSAZIONE,CODISTAT,CODCATASTALE,DENOMINAZIONE_IT,DENOMTRASLITTERATA,ALTRADENOMINAZIONE,ALTRADENOMTRASLITTERATA,ID_PROVINCIA,IDPROVINCIAISTAT,IDREGIONE,IDPREFETTURA,STATO,SIGLAPROVINCIA,FONTE,DATAULTIMOAGG,COD_DENOM\n\
                1,1924-11-14,9999-12-31,028001,A001,ABANO TERME,ABANO TERME,,,28,028,05,PD,A,PD,,2016-06-17,\n";
    let err = RefData::compile(head.as_bytes(), "CODAT\n".as_bytes()).unwrap_err().to_string();
    assert!(err.contains("comuni archive"), "{err}");
    let err = RefData::compile("X,Y\n1,2\n".as_bytes(), "".as_bytes()).unwrap_err().to_string();
    assert!(err.contains("column DATAISTITUZIONE is missing"), "{err}");
}
