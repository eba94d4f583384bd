//! The contrassegno's compact signed payload, for checking a certificate with no network.
//!
//! The QR code holds `{verification URL}#{payload}`, where payload is
//! `base64url(JSON) "." base64url(ECDSA P-256 r‖s over the JSON bytes)`, signed with the seal key.
//! The JSON names the certificate (`id`), its types (`t`, tab. 13 codes), issue and expiry dates
//! (`i`, `e`) and `h`, the SHA-256 of the certified content (the canonical JSON the page was laid
//! out from). The digest cannot be of the sealed PDF itself: the PDF contains the QR code, so it
//! would have to contain its own hash. The sealed PDF carries the same QR text and content under
//! the seal (signature dictionary entries `/AnagrafeQR` and `/AnagrafeContent`), so a verifier
//! can recompute `h` from the file and compare.

use crate::DocError;
use crate::seal::SealIdentity;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

/// Signature-dictionary entry holding the QR text.
pub const QR_ENTRY: &str = "AnagrafeQR";
/// Signature-dictionary entry holding the certified content.
pub const CONTENT_ENTRY: &str = "AnagrafeContent";

/// What the payload states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Format version (1).
    pub v: u8,
    /// Certificate id (as printed).
    pub id: String,
    /// Certificate types (tab. 13 codes; several for a combined certificate).
    pub t: Vec<u16>,
    /// Issue date (ISO).
    pub i: String,
    /// Last day of validity (ISO).
    pub e: String,
    /// SHA-256 of the certified content, base64url.
    pub h: String,
}

impl Payload {
    /// The content digest as bytes.
    pub fn content_sha256(&self) -> Vec<u8> {
        B64.decode(&self.h).unwrap_or_default()
    }

    /// Signs the payload: the text after `#` in the QR code.
    pub fn sign(&self, seal: &SealIdentity) -> Result<String, DocError> {
        let json = serde_json::to_vec(self).map_err(|e| DocError::Seal(e.to_string()))?;
        let sig = seal.sign_raw(&json);
        Ok(format!("{}.{}", B64.encode(&json), B64.encode(sig)))
    }

    /// Checks a payload (or a whole QR text `URL#payload`) with the seal's public key.
    pub fn verify(text: &str, key: &VerifyingKey) -> Result<Payload, DocError> {
        let bad = |w: &str| DocError::Verify(format!("payload {w}"));
        let payload = text.rsplit_once('#').map_or(text, |(_, p)| p);
        let (body, sig) = payload.split_once('.').ok_or_else(|| bad("has no signature"))?;
        let json = B64.decode(body).map_err(|_| bad("is not base64url"))?;
        let sig = B64.decode(sig).map_err(|_| bad("signature is not base64url"))?;
        let sig = Signature::from_slice(&sig).map_err(|_| bad("signature is malformed"))?;
        key.verify(&json, &sig).map_err(|_| bad("signature does not verify with the seal key"))?;
        serde_json::from_slice(&json).map_err(|_| bad("is not the expected JSON"))
    }
}

/// The QR text and certified content a sealed PDF carries under its seal, if any.
pub fn embedded(pdf: &[u8]) -> Option<(String, Vec<u8>)> {
    let qr = hex_entry(pdf, QR_ENTRY)?;
    let content = hex_entry(pdf, CONTENT_ENTRY)?;
    Some((String::from_utf8(qr).ok()?, content))
}

fn hex_entry(pdf: &[u8], name: &str) -> Option<Vec<u8>> {
    let key = format!("/{name} <");
    let at = pdf.windows(key.len()).rposition(|w| w == key.as_bytes())? + key.len();
    let len = pdf[at..].iter().position(|b| *b == b'>')?;
    hex::decode(&pdf[at..at + len]).ok()
}
