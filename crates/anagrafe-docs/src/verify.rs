//! Offline verification of a sealed certificate: the PAdES seal (with only the CA certificate)
//! and the contrassegno's signed payload. The algorithm is documented in `docs/certificates.md`.

use crate::DocError;
use crate::payload::Payload;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::ObjectIdentifier;
use der::{DecodePem, Encode, Reader, SliceReader};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const OID_SIGNING_CERTIFICATE_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// What the check of a sealed PDF found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The signed byte ranges hash to the signed message digest and the signature verifies
    /// with the seal certificate's key.
    pub intact: bool,
    /// The signature covers the whole file (nothing was appended after sealing).
    pub covers_whole_file: bool,
    /// The seal certificate chains to the trusted CA (`None`: no CA given).
    pub trusted: Option<bool>,
    /// The seal certificate's subject.
    pub signer: String,
    /// The signing time from the signature dictionary (`/M`).
    pub signed_at: Option<String>,
    /// The contrassegno's payload, when the file carries one and its signature verifies.
    pub payload: Option<Payload>,
    /// The payload agrees with the sealed file (same certificate, content digest).
    pub payload_agrees: Option<bool>,
    /// Every problem found, in words.
    pub problems: Vec<String>,
}

impl Report {
    /// Everything checked out (and the chain is trusted when a CA was given).
    pub fn ok(&self) -> bool {
        self.intact
            && self.covers_whole_file
            && self.trusted != Some(false)
            && self.payload_agrees != Some(false)
            && self.problems.is_empty()
    }
}

fn bad(what: impl Into<String>) -> DocError {
    DocError::Verify(what.into())
}

/// Checks the last signature of `pdf`; `ca_pem` is the CA certificate to trust.
pub fn verify_pdf(pdf: &[u8], ca_pem: Option<&str>) -> Result<Report, DocError> {
    let br_at = pdf.windows(12).rposition(|w| w == b"/ByteRange [").ok_or_else(|| bad("the file has no signature (/ByteRange)"))?;
    let (mut report, key) = signature_at(pdf, br_at, ca_pem)?;
    let problems = &mut report.problems;
    let (payload, payload_agrees) = match crate::payload::embedded(pdf) {
        None => (None, None),
        Some((qr_text, content)) => match Payload::verify(&qr_text, &key) {
            Ok(p) => {
                // The content names the certificate it was laid out for (`ident`).
                let ident = serde_json::from_slice::<serde_json::Value>(&content)
                    .ok()
                    .and_then(|v| v.get("ident").and_then(|i| i.as_str()).map(str::to_owned));
                let agrees = Sha256::digest(&content).to_vec() == p.content_sha256() && ident.as_deref() == Some(p.id.as_str());
                if !agrees {
                    problems.push("the contrassegno's payload does not match the sealed content".into());
                }
                (Some(p), Some(agrees))
            }
            Err(e) => {
                problems.push(format!("contrassegno payload: {e}"));
                (None, Some(false))
            }
        },
    };
    report.payload = payload;
    report.payload_agrees = payload_agrees;
    Ok(report)
}

/// Checks the signature whose `/ByteRange` starts at `br_at`: the report (without the
/// contrassegno's payload) and the signer's key.
fn signature_at(pdf: &[u8], br_at: usize, ca_pem: Option<&str>) -> Result<(Report, VerifyingKey), DocError> {
    let end = pdf[br_at..].iter().position(|b| *b == b']').ok_or_else(|| bad("malformed /ByteRange"))? + br_at;
    let nums: Vec<usize> = std::str::from_utf8(&pdf[br_at + 12..end])
        .map_err(|_| bad("malformed /ByteRange"))?
        .split_whitespace()
        .map(|n| n.parse().map_err(|_| bad("malformed /ByteRange")))
        .collect::<Result<_, _>>()?;
    let [a, b, c, d] = nums[..] else { return Err(bad("/ByteRange must have four numbers")) };
    if a != 0 || b >= c || c.checked_add(d).is_none_or(|e| e > pdf.len()) || pdf.get(b) != Some(&b'<') || pdf.get(c - 1) != Some(&b'>') {
        return Err(bad("/ByteRange does not delimit the signature"));
    }
    let mut problems = Vec::new();
    let covers_whole_file = c + d == pdf.len();
    if !covers_whole_file {
        problems.push(format!("{} bytes were added after the seal", pdf.len() - (c + d)));
    }
    let mut h = Sha256::new();
    h.update(&pdf[..b]);
    h.update(&pdf[c..c + d]);
    let digest: [u8; 32] = h.finalize().into();
    let hex_text = std::str::from_utf8(&pdf[b + 1..c - 1]).map_err(|_| bad("/Contents is not hex"))?;
    // The reserved space is padded with zeros after the DER value; the reader stops at its end.
    let raw = hex::decode(hex_text).map_err(|_| bad("/Contents is not hex"))?;
    let mut reader = SliceReader::new(&raw).map_err(|e| bad(e.to_string()))?;
    let info: ContentInfo = reader.decode().map_err(|e| bad(format!("signature is not CMS: {e}")))?;
    let sd: SignedData = info.content.decode_as().map_err(|e| bad(format!("signature is not SignedData: {e}")))?;
    let si = sd.signer_infos.0.iter().next().ok_or_else(|| bad("no signer"))?;
    let certs: Vec<Certificate> = sd
        .certificates
        .iter()
        .flat_map(|s| s.0.iter())
        .filter_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    let SignerIdentifier::IssuerAndSerialNumber(ias) = &si.sid else {
        return Err(bad("signer identified by key id; issuer and serial expected"));
    };
    let leaf = certs
        .iter()
        .find(|c| c.tbs_certificate.issuer == ias.issuer && c.tbs_certificate.serial_number == ias.serial_number)
        .ok_or_else(|| bad("the signer's certificate is not in the signature"))?;
    let attrs = si.signed_attrs.as_ref().ok_or_else(|| bad("no signed attributes"))?;
    let mut intact = true;
    let signed_digest = attrs.iter().find(|a| a.oid == OID_MESSAGE_DIGEST).and_then(|a| a.values.iter().next()).map(|v| v.value().to_vec());
    if signed_digest.as_deref() != Some(digest.as_slice()) {
        intact = false;
        problems.push("the document was modified after sealing (digest mismatch)".into());
    }
    if attrs.iter().any(|a| a.oid == OID_SIGNING_TIME) {
        problems.push("signingTime attribute present (not allowed in PAdES)".into());
    }
    let leaf_der = leaf.to_der().map_err(|e| bad(e.to_string()))?;
    let ess_ok = attrs.iter().find(|a| a.oid == OID_SIGNING_CERTIFICATE_V2).and_then(|a| a.values.iter().next()).is_some_and(|v| {
        let want: [u8; 32] = Sha256::digest(&leaf_der).into();
        v.value().windows(32).any(|w| w == want)
    });
    if !ess_ok {
        problems.push("signing-certificate-v2 attribute missing or not matching the signer".into());
    }
    let key = key_of(leaf)?;
    let attrs_der = attrs.to_der().map_err(|e| bad(e.to_string()))?;
    let sig = DerSignature::from_bytes(si.signature.as_bytes()).map_err(|_| bad("malformed ECDSA signature"))?;
    if key.verify(&attrs_der, &sig).is_err() {
        intact = false;
        problems.push("the seal's signature does not verify with its certificate".into());
    }
    let trusted = match ca_pem {
        None => None,
        Some(pem) => {
            let ca = Certificate::from_pem(pem.as_bytes()).map_err(|e| bad(format!("CA certificate: {e}")))?;
            let ok = leaf.tbs_certificate.issuer == ca.tbs_certificate.subject && issued_by(leaf, &ca);
            if !ok {
                problems.push("the seal certificate was not issued by the given CA".into());
            }
            Some(ok)
        }
    };
    let signed_at = find_text_after(pdf, br_at, b"/M ");
    let report = Report {
        intact,
        covers_whole_file,
        trusted,
        signer: leaf.tbs_certificate.subject.to_string(),
        signed_at,
        payload: None,
        payload_agrees: None,
        problems,
    };
    Ok((report, key))
}

/// One digital signature of an uploaded document, as the register judged it (EU-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SignatureCheck {
    /// The signer's certificate subject (`CN=…`), when it could be read.
    pub signer: String,
    /// The signing time from the signature dictionary.
    pub signed_at: Option<String>,
    /// The signed bytes are as signed and the signature verifies.
    pub intact: bool,
    /// The signer's certificate was issued by a CA of the trust list.
    pub trusted: bool,
    /// Content was added to the file after this signature (a scanned page, an image: a
    /// handwritten signature after a digital one).
    pub content_added_after: bool,
    /// The signature counts: intact, trusted, and nothing but later signatures after it.
    pub applied: bool,
    /// What was found, in words.
    pub problems: Vec<String>,
}

/// Every digital signature of `pdf`, oldest first, judged against the trust list `cas` (PEM CA
/// certificates). The decree's rule for a file signed by several people, some by hand and some
/// digitally: **handwritten signatures must precede digital ones**, otherwise the digital ones
/// cannot be verified and count as not applied. A handwritten signature reaches a PDF as a
/// scanned page or image; so a digital signature after which the file gained an image (an
/// incremental update with `/Subtype /Image`) is reported as not applied, and so is one whose
/// signed bytes changed or that no trusted CA issued. Only ECDSA P-256 signatures are verified
/// here; any other is reported, not applied.
pub fn signatures(pdf: &[u8], cas: &[&str]) -> Vec<SignatureCheck> {
    let starts: Vec<usize> = pdf.windows(12).enumerate().filter(|(_, w)| *w == b"/ByteRange [").map(|(i, _)| i).collect();
    starts
        .iter()
        .map(|&br_at| {
            // Trusted if any CA of the list issued it.
            let mut best: Option<Report> = None;
            let mut error = None;
            for ca in cas.iter().map(|c| Some(*c)).chain(cas.is_empty().then_some(None)) {
                match signature_at(pdf, br_at, ca) {
                    Ok((r, _)) => {
                        let better = r.trusted == Some(true) || best.is_none();
                        if better {
                            best = Some(r);
                        }
                        if best.as_ref().is_some_and(|b| b.trusted == Some(true)) {
                            break;
                        }
                    }
                    Err(e) => error = Some(e.to_string()),
                }
            }
            let covered_end = covered_end(pdf, br_at).unwrap_or(pdf.len());
            let after = &pdf[covered_end.min(pdf.len())..];
            let has = |needle: &[u8]| after.windows(needle.len()).any(|w| w == needle);
            let content_added_after = has(b"/Subtype /Image") || has(b"/Subtype/Image");
            match best {
                Some(r) => {
                    let mut problems: Vec<String> =
                        r.problems.into_iter().filter(|p| !p.contains("bytes were added after the seal")).collect();
                    let trusted = r.trusted == Some(true);
                    if content_added_after {
                        problems.push("an image (a handwritten signature's scan?) was added after this digital signature".into());
                    }
                    SignatureCheck {
                        signer: r.signer,
                        signed_at: r.signed_at,
                        intact: r.intact,
                        trusted,
                        content_added_after,
                        applied: r.intact && trusted && !content_added_after,
                        problems,
                    }
                }
                None => SignatureCheck {
                    signer: String::new(),
                    signed_at: None,
                    intact: false,
                    trusted: false,
                    content_added_after,
                    applied: false,
                    problems: vec![error.unwrap_or_else(|| "unreadable signature".into())],
                },
            }
        })
        .collect()
}

/// Where the bytes a signature covers end (`c + d` of its `/ByteRange`).
fn covered_end(pdf: &[u8], br_at: usize) -> Option<usize> {
    let end = pdf[br_at..].iter().position(|b| *b == b']')? + br_at;
    let nums: Vec<usize> = std::str::from_utf8(&pdf[br_at + 12..end]).ok()?.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    match nums[..] {
        [_, _, c, d] => c.checked_add(d),
        _ => None,
    }
}

/// The P-256 key of a certificate.
pub fn key_of(cert: &Certificate) -> Result<VerifyingKey, DocError> {
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| bad(e.to_string()))?;
    VerifyingKey::from_public_key_der(&spki).map_err(|_| bad("the certificate's key is not ECDSA P-256"))
}

/// Whether `issuer`'s key signed `cert`.
fn issued_by(cert: &Certificate, issuer: &Certificate) -> bool {
    let Ok(key) = key_of(issuer) else { return false };
    let Ok(tbs) = cert.tbs_certificate.to_der() else { return false };
    let Some(sig_bytes) = cert.signature.as_bytes() else { return false };
    let Ok(sig) = DerSignature::from_bytes(sig_bytes) else { return false };
    key.verify(&tbs, &sig).is_ok()
}

/// The seal certificate of the last signature in `pdf` (for checking a payload from paper).
pub fn leaf_from_chain(chain_pem: &str) -> Result<Certificate, DocError> {
    Certificate::load_pem_chain(chain_pem.as_bytes()).map_err(|e| bad(e.to_string()))?.into_iter().next().ok_or_else(|| bad("empty chain"))
}

fn find_text_after(pdf: &[u8], from: usize, key: &[u8]) -> Option<String> {
    let dict_start = pdf[..from].windows(2).rposition(|w| w == b"<<")?;
    let at = pdf[dict_start..].windows(key.len()).position(|w| w == key)? + dict_start + key.len();
    let rest = &pdf[at..];
    if rest.first() != Some(&b'(') {
        return None;
    }
    let close = rest.iter().position(|b| *b == b')')?;
    String::from_utf8(rest[1..close].to_vec()).ok()
}
