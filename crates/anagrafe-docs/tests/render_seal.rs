//! Renders, seals and verifies a sample certificate; writes it under target/ for the external
//! validators CI runs (pyHanko, pdfsig, zbarimg).

use anagrafe_docs::model::{Issuer, Row, Section, Table};
use anagrafe_docs::payload::{CONTENT_ENTRY, Payload, QR_ENTRY};
use anagrafe_docs::verify::verify_pdf;
use anagrafe_docs::{Document, Engine, SealIdentity};
use chrono::{TimeZone, Utc};

fn sample(preview: bool, langs: &[&str]) -> Document {
    let two = |it: &str, de: &str| if langs.len() > 1 { vec![it.to_owned(), de.to_owned()] } else { vec![it.to_owned()] };
    Document {
        langs: langs.iter().map(|s| s.to_string()).collect(),
        ident: "TEST-0001".into(),
        issuer: Issuer {
            heading: "Anagrafe Nazionale della Popolazione Residente".into(),
            administration: "Ministero dell'Interno".into(),
            office: two("Comune di Bolzano", "Gemeinde Bozen"),
        },
        title: two("Certificato di residenza", "Wohnsitzbescheinigung"),
        intro: vec!["L'ufficiale d'anagrafe, visti gli atti d'ufficio, certifica che".into()],
        sections: vec![Section {
            title: two("Dati anagrafici", "Meldedaten"),
            rows: vec![
                Row { label: two("Cognome", "Nachname"), value: "GRUBER".into() },
                Row { label: two("Nome", "Vorname"), value: "ANNA MARIA ÄÖÜ ß Č Š Ž".into() },
            ],
        }],
        tables: vec![Table {
            title: two("Famiglia", "Familie"),
            head: vec![two("Nome", "Name"), two("Relazione", "Beziehung")],
            rows: vec![vec!["GRUBER ANNA".into(), "INTESTATARIO".into()]],
        }],
        notes: vec![two("Si rilascia per gli usi consentiti dalla legge.", "Wird für die gesetzlich zulässigen Zwecke ausgestellt.")],
        stamp: vec!["Imposta di bollo assolta in modo virtuale.".into()],
        issued_at: Utc.with_ymd_and_hms(2026, 11, 22, 10, 15, 0).unwrap(),
        issued_text: "22/11/2026 11:15".into(),
        valid_until: if preview { None } else { Some(two("Valido fino al 21/05/2027", "Gültig bis 21.05.2027")) },
        number: if preview { None } else { Some("N. TEST-0001".into()) },
        verify_hint: if preview { None } else { Some(vec!["Verifica: inquadra il codice QR".into()]) },
        preview,
    }
}

#[test]
fn a_sealed_certificate_verifies_and_a_changed_byte_breaks_it() {
    let engine = Engine::default();
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 15, 0).unwrap();
    let pki = SealIdentity::generate("Anagrafe di prova", at).unwrap();
    let seal = SealIdentity::from_pem(&pki.seal_key_pem, &pki.chain_pem).unwrap();
    let doc = sample(false, &["it", "de"]);
    let content = serde_json::to_vec(&doc).unwrap();
    let payload = Payload {
        v: 1,
        id: "TEST-0001".into(),
        t: vec![8],
        i: "2026-11-22".into(),
        e: "2027-05-21".into(),
        h: base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&content)),
        ),
    };
    let qr = format!("https://anagrafe.example/verifica/TEST-0001#{}", payload.sign(&seal).unwrap());
    let pdf = engine.render(&doc, Some(&qr)).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let sealed = seal.seal(&pdf, at, "Certificato anagrafico", &[(QR_ENTRY, qr.as_bytes()), (CONTENT_ENTRY, &content)]).unwrap();
    assert_eq!(&sealed[..pdf.len()], &pdf[..], "sealing appends an update and keeps the original bytes");

    let report = verify_pdf(&sealed, Some(&pki.ca_cert_pem)).unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.payload.as_ref().unwrap(), &payload);

    let other = SealIdentity::generate("Altro", at).unwrap();
    let untrusted = verify_pdf(&sealed, Some(&other.ca_cert_pem)).unwrap();
    assert_eq!(untrusted.trusted, Some(false));
    assert!(!untrusted.ok());

    // One byte of the page content changed.
    let mut tampered = sealed.clone();
    let at_byte = pdf.len() / 2;
    tampered[at_byte] ^= 0x01;
    let r = verify_pdf(&tampered, Some(&pki.ca_cert_pem)).unwrap();
    assert!(!r.intact && !r.ok(), "{r:?}");
    // Something appended after the seal.
    let mut appended = sealed.clone();
    appended.extend_from_slice(b"\n% more\n");
    assert!(!verify_pdf(&appended, Some(&pki.ca_cert_pem)).unwrap().covers_whole_file);

    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/docs-sample");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("sealed.pdf"), &sealed).unwrap();
    std::fs::write(out.join("tampered.pdf"), &tampered).unwrap();
    std::fs::write(out.join("ca.pem"), &pki.ca_cert_pem).unwrap();
    std::fs::write(out.join("qr.txt"), &qr).unwrap();
}

#[test]
fn a_preview_has_the_watermark_and_no_qr() {
    let engine = Engine::default();
    let pdf = engine.render(&sample(true, &["it"]), None).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(engine.render(&sample(true, &["it"]), Some("https://x")).is_err(), "a preview refuses a QR code");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/docs-sample");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("preview.pdf"), &pdf).unwrap();
}
