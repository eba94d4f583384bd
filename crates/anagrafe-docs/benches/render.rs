//! The document engine alone, one thread: layout + PDF/A export of a preview and of a final
//! page with its QR code, the PAdES seal, and the offline check. Run:
//! `cargo bench -p anagrafe-docs --bench render [-- N]`.

use anagrafe_docs::model::{Issuer, Row, Section, Table};
use anagrafe_docs::{Document, Engine, SealIdentity};
use std::time::Instant;

fn doc(preview: bool, n: usize) -> Document {
    let t = |a: &str, b: &str| vec![a.to_owned(), b.to_owned()];
    Document {
        langs: vec!["it".into(), "de".into()],
        ident: format!("BENCH-{n}"),
        issuer: Issuer {
            heading: "Anagrafe Nazionale della Popolazione Residente".into(),
            administration: "Ministero dell'Interno".into(),
            office: t("Comune di Bolzano", "Gemeinde Bozen"),
        },
        title: t("Certificato di residenza", "Wohnsitzbescheinigung"),
        intro: t("L'ufficiale d'anagrafe, visti gli atti d'ufficio, certifica che:", "Der Meldebeamte bescheinigt aufgrund der Amtsakten:"),
        sections: vec![Section {
            title: t("Dati anagrafici", "Meldedaten"),
            rows: (0..7).map(|i| Row { label: t("Cognome", "Nachname"), value: format!("VALORE {n} {i}") }).collect(),
        }],
        tables: vec![Table {
            title: t("Famiglia", "Familie"),
            head: vec![t("Nome", "Name"), t("Nato il", "Geboren am")],
            rows: (0..4).map(|i| vec![format!("MEMBRO {i}"), "01/01/1980".into()]).collect(),
        }],
        notes: vec![t(
            "Il presente certificato non può essere prodotto agli organi della pubblica amministrazione.",
            "Diese Bescheinigung darf Organen der öffentlichen Verwaltung nicht vorgelegt werden.",
        )],
        stamp: vec!["Esente dall'imposta di bollo.".into()],
        issued_at: chrono::Utc::now(),
        issued_text: "23/11/2026 10:00".into(),
        valid_until: (!preview).then(|| t("Valido fino al 22/05/2027", "Gültig bis 22/05/2027")),
        number: (!preview).then(|| format!("Certificato n. 2026-BENCH{n}")),
        verify_hint: (!preview)
            .then(|| t("Verifica su https://anagrafe.example.it/verifica", "Überprüfung auf https://anagrafe.example.it/verifica")),
        preview,
    }
}

fn time(label: &str, n: usize, mut f: impl FnMut(usize)) {
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    let s = t.elapsed().as_secs_f64();
    println!("{label:<34} {:.2} ms each, {:.0}/s on one thread", s * 1000.0 / n as f64, n as f64 / s);
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(300);
    let engine = Engine::default();
    let pki = SealIdentity::generate("Bench", chrono::Utc::now()).unwrap();
    let seal = SealIdentity::from_pem(&pki.seal_key_pem, &pki.chain_pem).unwrap();
    let qr = "https://anagrafe.example.it/verifica/Qe8Qbm9g0GH-dVGot1RaRNZH#eyJ2IjoxLCJpZCI6IjIwMjYtWTI4NkpLOVREQSIsInQiOls4LDEyXSwiaSI6IjIwMjYtMTEtMjMiLCJlIjoiMjAyNy0wNS0yMiIsImgiOiJ4YzNEZkNWREZHbHhtRkhjLWRGeFBvam9wQzBxVlIwVlRzUWl6bWRwVFVZIn0.C1uD1pwZtJXClRmsdOfn0BXOU05mL77bP98M_h2gEN4C2wYoF5JYsQaBYZpUD9miluSkVpSogjSIzKgnAgUM5g";
    time("QR PNG", n, |_| {
        anagrafe_docs::qr::png(qr).unwrap();
    });
    time("render preview", n, |i| {
        engine.render(&doc(true, i), None).unwrap();
    });
    time("render final with QR", n, |i| {
        engine.render(&doc(false, i), Some(qr)).unwrap();
    });
    let pdf = engine.render(&doc(false, 0), Some(qr)).unwrap();
    time("seal", n, |_| {
        seal.seal(&pdf, chrono::Utc::now(), "bench", &[("AnagrafeQR", qr.as_bytes())]).unwrap();
    });
    let sealed = seal.seal(&pdf, chrono::Utc::now(), "bench", &[]).unwrap();
    time("offline check", n, |_| {
        anagrafe_docs::verify::verify_pdf(&sealed, Some(&pki.ca_cert_pem)).unwrap();
    });
    println!("sealed size {} KB", sealed.len() / 1024);
}
