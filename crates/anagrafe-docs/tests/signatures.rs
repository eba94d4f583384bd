//! The signatures of an uploaded declaration (issue 20, EU-4): each digital signature judged
//! against a trust list; a tampered file, an untrusted signer and — the decree's rule — a
//! digital signature followed by a handwritten one (a scanned image added after it) are not
//! applied; a handwritten signature before the digital one is fine.

use anagrafe_docs::SealIdentity;
use anagrafe_docs::verify::signatures;

/// The declaration, with a handwritten signature's scan on it when `scan`.
fn declaration(scan: bool) -> Vec<u8> {
    let lines = ["Dichiarazione anagrafica", "I sottoscritti dichiarano di aver trasferito la dimora abituale."];
    anagrafe_docs::form::text_pdf(&lines, scan.then_some((2, 2, [128u8, 64, 64, 128].as_slice())))
}

fn signer(name: &str) -> (SealIdentity, String) {
    let pki = SealIdentity::generate(name, chrono::Utc::now()).unwrap();
    (SealIdentity::from_pem(&pki.seal_key_pem, &pki.chain_pem).unwrap(), pki.ca_cert_pem)
}

#[test]
fn a_digital_signature_counts_when_intact_trusted_and_last() {
    let (anna, ca) = signer("Anna Schmidt");
    let signed = anna.seal(&declaration(false), chrono::Utc::now(), "Dichiarazione anagrafica", &[]).unwrap();
    let s = signatures(&signed, &[&ca]);
    assert_eq!(s.len(), 1);
    assert!(s[0].applied && s[0].intact && s[0].trusted, "{s:?}");
    assert!(s[0].signer.contains("Anna Schmidt"), "{}", s[0].signer);
    // A handwritten signature (a scanned image) before the digital one: fine.
    let signed = anna.seal(&declaration(true), chrono::Utc::now(), "Dichiarazione anagrafica", &[]).unwrap();
    assert!(signatures(&signed, &[&ca])[0].applied);
    // Another CA's signer is not trusted.
    let (_, other_ca) = signer("Altro");
    let s = signatures(&signed, &[&other_ca]);
    assert!(!s[0].trusted && !s[0].applied, "{s:?}");
}

#[test]
fn a_tampered_file_and_a_handwritten_signature_after_a_digital_one_are_not_applied() {
    let (anna, ca) = signer("Anna Schmidt");
    let signed = anna.seal(&declaration(false), chrono::Utc::now(), "Dichiarazione anagrafica", &[]).unwrap();
    let mut tampered = signed.clone();
    let at = tampered.windows(12).position(|w| w == b"Dichiarazion".as_slice()).unwrap();
    tampered[at] = b'd';
    let s = signatures(&tampered, &[&ca]);
    assert!(!s[0].intact && !s[0].applied, "{s:?}");
    // Then a page with a scanned handwritten signature is added as an incremental update.
    let mut later = signed.clone();
    later.extend_from_slice(
        b"\n90 0 obj\n<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 1 >>\nstream\n\x80\nendstream\nendobj\n%%EOF\n",
    );
    let s = signatures(&later, &[&ca]);
    assert!(s[0].intact && s[0].trusted && s[0].content_added_after && !s[0].applied, "{s:?}");
    assert!(signatures(&declaration(true), &[&ca]).is_empty(), "a file signed by hand only has no digital signature");
}

#[test]
fn a_person_the_registers_ca_certifies_signs_a_declaration_it_trusts() {
    let pki = SealIdentity::generate("Anagrafe demo", chrono::Utc::now()).unwrap();
    let paul = SealIdentity::issue_signer(&pki.ca_key_pem, &pki.ca_cert_pem, "Paul Schmidt", chrono::Utc::now()).unwrap();
    assert!(paul.subject().contains("CN=Paul Schmidt"), "{}", paul.subject());
    let signed = paul.seal(&declaration(true), chrono::Utc::now(), "Dichiarazione anagrafica", &[]).unwrap();
    let s = signatures(&signed, &[&pki.ca_cert_pem]);
    assert!(s.len() == 1 && s[0].applied && s[0].signer.contains("Paul Schmidt"), "{s:?}");
    // Another register's CA does not vouch for him.
    let other = SealIdentity::generate("Altro", chrono::Utc::now()).unwrap();
    assert!(!signatures(&signed, &[&other.ca_cert_pem])[0].applied);
    assert!(SealIdentity::issue_signer("not a key", &pki.ca_cert_pem, "X", chrono::Utc::now()).is_err());
}
