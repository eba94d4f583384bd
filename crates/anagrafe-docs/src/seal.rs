//! The register's electronic seal: a PAdES baseline (B-B) signature added to a PDF as an
//! incremental update, and the embedded-mode PKI (a local CA and a seal certificate).
//!
//! The signature is `ETSI.CAdES.detached`: a CMS SignedData over the file's byte ranges, with
//! the content-type, message-digest and ESS signing-certificate-v2 signed attributes and **no**
//! signingTime (PAdES puts the time in the signature dictionary's `/M`). ECDSA P-256 with SHA-256.
//! The update rewrites the catalog (adding `/AcroForm`) and the first page (adding the invisible
//! signature widget to `/Annots`), keeps the trailer's `/ID` and `/Info`, and leaves the original
//! bytes untouched, so PDF/A conformance is preserved.

use crate::DocError;
use chrono::{DateTime, Utc};
use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use der::asn1::{ObjectIdentifier, SetOfVec};
use der::{Any, Decode, Encode, EncodePem};
use lopdf::{Dictionary, Object};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SIGNING_CERTIFICATE_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// Bytes reserved for the CMS signature (twice as many hex digits in the file).
const CONTENTS_BYTES: usize = 8192;
const BYTE_RANGE_PLACEHOLDER: &str = "[0 0000000000 0000000000 0000000000]";

/// A sealing identity: the private key and its certificate chain (seal certificate first).
#[derive(Clone)]
pub struct SealIdentity {
    key: SigningKey,
    chain: Vec<Certificate>,
    /// SHA-256 of the seal certificate's DER (for signing-certificate-v2).
    cert_hash: [u8; 32],
}

impl std::fmt::Debug for SealIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealIdentity").field("subject", &self.subject()).finish_non_exhaustive()
    }
}

/// What `anagrafe seal init` writes: PEM texts of the keys and certificates.
#[derive(Debug)]
pub struct GeneratedPki {
    /// The CA's private key (PKCS#8).
    pub ca_key_pem: String,
    /// The CA's self-signed certificate.
    pub ca_cert_pem: String,
    /// The seal's private key (PKCS#8).
    pub seal_key_pem: String,
    /// The seal certificate followed by the CA certificate.
    pub chain_pem: String,
}

fn err(what: &str, e: impl std::fmt::Display) -> DocError {
    DocError::Seal(format!("{what}: {e}"))
}

impl SealIdentity {
    /// Loads a PKCS#8 PEM private key and a PEM chain (seal certificate first, then its issuers).
    pub fn from_pem(key_pem: &str, chain_pem: &str) -> Result<Self, DocError> {
        let key = SigningKey::from_pkcs8_pem(key_pem).map_err(|e| err("seal key (PKCS#8 PEM, ECDSA P-256 expected)", e))?;
        let chain = Certificate::load_pem_chain(chain_pem.as_bytes()).map_err(|e| err("seal certificate chain", e))?;
        let Some(leaf) = chain.first() else { return Err(DocError::Seal("the seal certificate chain is empty".into())) };
        let spki_der = leaf.tbs_certificate.subject_public_key_info.to_der().map_err(|e| err("seal certificate", e))?;
        let key_spki = p256::pkcs8::EncodePublicKey::to_public_key_der(key.verifying_key()).map_err(|e| err("seal key", e))?;
        if key_spki.as_bytes() != spki_der.as_slice() {
            return Err(DocError::Seal("the seal key does not match the first certificate of the chain".into()));
        }
        let leaf_der = leaf.to_der().map_err(|e| err("seal certificate", e))?;
        Ok(Self { key, chain, cert_hash: Sha256::digest(&leaf_der).into() })
    }

    /// Creates a local CA and a seal certificate it issues (embedded mode). `organisation` names
    /// the register in both subjects.
    pub fn generate(organisation: &str, now: DateTime<Utc>) -> Result<GeneratedPki, DocError> {
        let mut rng = rand::rngs::OsRng;
        let ca_key = SigningKey::random(&mut rng);
        let seal_key = SigningKey::random(&mut rng);
        let clean = organisation.replace([',', '=', '+', '"', '\\', '<', '>', ';'], " ");
        let ca_name = Name::from_str(&format!("CN={clean} CA,O={clean},C=IT")).map_err(|e| err("CA name", e))?;
        let seal_name = Name::from_str(&format!("CN={clean} - Sigillo elettronico,O={clean},C=IT")).map_err(|e| err("seal name", e))?;
        let start = now - chrono::Duration::minutes(5);
        let validity = |years: u64| -> Result<Validity, DocError> {
            let from = Duration::from_secs(start.timestamp().max(0) as u64);
            let to = from + Duration::from_secs(years * 365 * 86_400);
            Ok(Validity {
                not_before: x509_cert::time::Time::try_from(std::time::UNIX_EPOCH + from).map_err(|e| err("validity", e))?,
                not_after: x509_cert::time::Time::try_from(std::time::UNIX_EPOCH + to).map_err(|e| err("validity", e))?,
            })
        };
        let serial = |rng: &mut rand::rngs::OsRng| -> Result<SerialNumber, DocError> {
            let mut b = [0u8; 16];
            rand::RngCore::fill_bytes(rng, &mut b);
            b[0] &= 0x7f;
            b[0] |= 0x01;
            SerialNumber::new(&b).map_err(|e| err("serial", e))
        };
        let spki = |k: &SigningKey| {
            let der = p256::pkcs8::EncodePublicKey::to_public_key_der(k.verifying_key()).map_err(|e| err("public key", e))?;
            spki::SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(|e| err("public key", e))
        };
        let ca_builder = CertificateBuilder::new(Profile::Root, serial(&mut rng)?, validity(20)?, ca_name.clone(), spki(&ca_key)?, &ca_key)
            .map_err(|e| err("CA certificate", e))?;
        let ca_cert = ca_builder.build::<DerSignature>().map_err(|e| err("CA certificate", e))?;
        let profile = Profile::Leaf { issuer: ca_name, enable_key_agreement: false, enable_key_encipherment: false };
        let seal_builder = CertificateBuilder::new(profile, serial(&mut rng)?, validity(5)?, seal_name, spki(&seal_key)?, &ca_key)
            .map_err(|e| err("seal certificate", e))?;
        let seal_cert = seal_builder.build::<DerSignature>().map_err(|e| err("seal certificate", e))?;
        let pem = |c: &Certificate| c.to_pem(LineEnding::LF).map_err(|e| err("PEM", e));
        let key_pem = |k: &SigningKey| k.to_pkcs8_pem(LineEnding::LF).map(|p| p.to_string()).map_err(|e| err("PEM", e));
        Ok(GeneratedPki {
            ca_key_pem: key_pem(&ca_key)?,
            ca_cert_pem: pem(&ca_cert)?,
            seal_key_pem: key_pem(&seal_key)?,
            chain_pem: format!("{}{}", pem(&seal_cert)?, pem(&ca_cert)?),
        })
    }

    /// A natural person's signing identity, issued by the CA whose key and certificate are
    /// given (PEM): the certificate names `name` (`CN=…`), valid two years. The embedded mode's
    /// stand-in for the qualified certificate a citizen's signature device holds, so the demo
    /// and the tests can sign a declaration the register trusts.
    pub fn issue_signer(ca_key_pem: &str, ca_cert_pem: &str, name: &str, now: DateTime<Utc>) -> Result<Self, DocError> {
        let ca_key = SigningKey::from_pkcs8_pem(ca_key_pem).map_err(|e| err("CA key", e))?;
        let ca_cert = <Certificate as der::DecodePem>::from_pem(ca_cert_pem.as_bytes()).map_err(|e| err("CA certificate", e))?;
        let mut rng = rand::rngs::OsRng;
        let key = SigningKey::random(&mut rng);
        let clean = name.replace([',', '=', '+', '"', '\\', '<', '>', ';'], " ");
        let subject = Name::from_str(&format!("CN={clean},C=IT")).map_err(|e| err("signer name", e))?;
        let from = Duration::from_secs((now - chrono::Duration::minutes(5)).timestamp().max(0) as u64);
        let validity = Validity {
            not_before: x509_cert::time::Time::try_from(std::time::UNIX_EPOCH + from).map_err(|e| err("validity", e))?,
            not_after: x509_cert::time::Time::try_from(std::time::UNIX_EPOCH + from + Duration::from_secs(2 * 365 * 86_400))
                .map_err(|e| err("validity", e))?,
        };
        let mut b = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rng, &mut b);
        b[0] = (b[0] & 0x7f) | 0x01;
        let serial = SerialNumber::new(&b).map_err(|e| err("serial", e))?;
        let der = p256::pkcs8::EncodePublicKey::to_public_key_der(key.verifying_key()).map_err(|e| err("public key", e))?;
        let spki = spki::SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(|e| err("public key", e))?;
        let profile =
            Profile::Leaf { issuer: ca_cert.tbs_certificate.subject.clone(), enable_key_agreement: false, enable_key_encipherment: false };
        let cert = CertificateBuilder::new(profile, serial, validity, subject, spki, &ca_key)
            .map_err(|e| err("signer certificate", e))?
            .build::<DerSignature>()
            .map_err(|e| err("signer certificate", e))?;
        let pem = |c: &Certificate| c.to_pem(LineEnding::LF).map_err(|e| err("PEM", e));
        let key_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| err("PEM", e))?;
        Self::from_pem(&key_pem, &format!("{}{}", pem(&cert)?, pem(&ca_cert)?))
    }

    /// A 32-byte secret for `purpose`, derived from the seal's private key: the same on every
    /// instance that holds the seal, and nothing about the key can be learnt from it
    /// (SHA-256 of the purpose and the key's scalar).
    pub fn derived_secret(&self, purpose: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"anagrafe-derived-secret/1\n");
        h.update(purpose.as_bytes());
        h.update(b"\n");
        h.update(self.key.to_bytes());
        h.finalize().into()
    }

    /// The seal certificate's subject.
    pub fn subject(&self) -> String {
        self.chain.first().map(|c| c.tbs_certificate.subject.to_string()).unwrap_or_default()
    }

    /// The chain's last certificate (the root), in PEM: what relying parties trust.
    pub fn root_pem(&self) -> Result<String, DocError> {
        self.chain.last().ok_or_else(|| DocError::Seal("empty chain".into()))?.to_pem(LineEnding::LF).map_err(|e| err("PEM", e))
    }

    /// The seal's public key (SEC1 uncompressed point), for the offline payload check.
    pub fn verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        *self.key.verifying_key()
    }

    /// Signs `message` (ECDSA P-256, SHA-256), fixed-size `r‖s`.
    pub fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&self.key, message);
        sig.to_bytes().into()
    }

    /// Seals `pdf` (as produced by the engine) at `at`, with `reason` in the signature
    /// dictionary and the `extra` entries (name, bytes) written there as strings, under the
    /// seal. Returns the sealed file: the original bytes followed by the update.
    pub fn seal(&self, pdf: &[u8], at: DateTime<Utc>, reason: &str, extra: &[(&str, &[u8])]) -> Result<Vec<u8>, DocError> {
        let doc = lopdf::Document::load_mem(pdf).map_err(|e| err("reading the PDF", e))?;
        let root = doc.trailer.get(b"Root").and_then(Object::as_reference).map_err(|e| err("PDF catalog", e))?;
        let mut catalog = doc.get_dictionary(root).map_err(|e| err("PDF catalog", e))?.clone();
        if catalog.has(b"AcroForm") {
            return Err(DocError::Seal("the PDF already has a form; sealing expects the engine's output".into()));
        }
        let page_id = *doc.get_pages().values().next().ok_or_else(|| DocError::Seal("the PDF has no page".into()))?;
        let mut page = doc.get_dictionary(page_id).map_err(|e| err("PDF page", e))?.clone();
        let prev = last_startxref(pdf)?;
        let next = doc.max_id + 1;
        let (sig_id, widget_id, form_id) = (next, next + 1, next + 2);

        let mut annots = match page.get(b"Annots") {
            Ok(Object::Array(a)) => a.clone(),
            Ok(Object::Reference(r)) => doc.get_object(*r).and_then(Object::as_array).map_err(|e| err("page annotations", e))?.clone(),
            _ => Vec::new(),
        };
        annots.push(Object::Reference((widget_id, 0)));
        page.set("Annots", Object::Array(annots));
        catalog.set("AcroForm", Object::Reference((form_id, 0)));

        let mut out = pdf.to_vec();
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        let mut offsets: Vec<(u32, u16, usize)> = Vec::new();
        let mut put = |out: &mut Vec<u8>, id: u32, generation: u16, body: &[u8]| {
            offsets.push((id, generation, out.len()));
            out.extend_from_slice(format!("{id} {generation} obj\n").as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        };
        put(&mut out, root.0, root.1, &serialize(&Object::Dictionary(catalog))?);
        put(&mut out, page_id.0, page_id.1, &serialize(&Object::Dictionary(page))?);
        let mut sig = format!(
            "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange {BYTE_RANGE_PLACEHOLDER} /Contents <{zeros}> /M {m} /Reason {reason} /Name {name}{extra} >>",
            zeros = "0".repeat(CONTENTS_BYTES * 2),
            m = pdf_text(&at.format("D:%Y%m%d%H%M%SZ").to_string()),
            reason = pdf_text(reason),
            name = pdf_text(&self.subject()),
            extra = extra.iter().map(|(k, v)| format!(" /{k} <{}>", hex::encode(v))).collect::<String>(),
        );
        let sig_at = out.len() + format!("{sig_id} 0 obj\n").len();
        put(&mut out, sig_id, 0, sig.as_bytes());
        put(
            &mut out,
            widget_id,
            0,
            format!(
                "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Sigillo) /V {sig_id} 0 R /F 132 /Rect [0 0 0 0] /P {} {} R >>",
                page_id.0, page_id.1
            )
            .as_bytes(),
        );
        put(&mut out, form_id, 0, format!("<< /Fields [{widget_id} 0 R] /SigFlags 3 >>").as_bytes());

        let xref_at = out.len();
        offsets.sort_by_key(|o| o.0);
        let mut xref = String::from("xref\n");
        let mut i = 0;
        while i < offsets.len() {
            let mut j = i;
            while j + 1 < offsets.len() && offsets[j + 1].0 == offsets[j].0 + 1 {
                j += 1;
            }
            let _ = writeln!(xref, "{} {}", offsets[i].0, j - i + 1);
            for (_, generation, at) in &offsets[i..=j] {
                let _ = write!(xref, "{at:010} {generation:05} n\r\n");
            }
            i = j + 1;
        }
        let mut trailer = Dictionary::new();
        trailer.set("Size", Object::Integer(i64::from(form_id) + 1));
        trailer.set("Root", Object::Reference(root));
        for key in [b"Info".as_slice(), b"ID"] {
            if let Ok(v) = doc.trailer.get(key) {
                trailer.set(key.to_vec(), v.clone());
            }
        }
        trailer.set("Prev", Object::Integer(prev as i64));
        out.extend_from_slice(xref.as_bytes());
        out.extend_from_slice(b"trailer\n");
        out.extend_from_slice(&serialize(&Object::Dictionary(trailer))?);
        out.extend_from_slice(format!("\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());

        // Fill in /ByteRange, then sign everything but /Contents' hex digits.
        let contents_rel = sig.find("/Contents <").ok_or_else(|| DocError::Seal("internal: no /Contents".into()))? + "/Contents ".len();
        let contents_start = sig_at + contents_rel;
        let contents_end = contents_start + CONTENTS_BYTES * 2 + 2;
        let ranges = format!("[0 {contents_start} {contents_end} {}]", out.len() - contents_end);
        let ranges = format!("{ranges:<width$}", width = BYTE_RANGE_PLACEHOLDER.len());
        let br_rel = sig.find(BYTE_RANGE_PLACEHOLDER).ok_or_else(|| DocError::Seal("internal: no /ByteRange".into()))?;
        sig.replace_range(br_rel..br_rel + BYTE_RANGE_PLACEHOLDER.len(), &ranges);
        out[sig_at + br_rel..sig_at + br_rel + ranges.len()].copy_from_slice(ranges.as_bytes());
        let mut h = Sha256::new();
        h.update(&out[..contents_start]);
        h.update(&out[contents_end..]);
        let digest: [u8; 32] = h.finalize().into();
        let cms = self.cms(&digest)?;
        if cms.len() > CONTENTS_BYTES {
            return Err(DocError::Seal(format!("signature of {} bytes exceeds the {CONTENTS_BYTES} reserved", cms.len())));
        }
        let hexed = hex::encode_upper(&cms);
        out[contents_start + 1..contents_start + 1 + hexed.len()].copy_from_slice(hexed.as_bytes());
        Ok(out)
    }

    fn cms(&self, digest: &[u8; 32]) -> Result<Vec<u8>, DocError> {
        let leaf = &self.chain[0];
        let econtent = EncapsulatedContentInfo { econtent_type: OID_DATA, econtent: None };
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: leaf.tbs_certificate.issuer.clone(),
            serial_number: leaf.tbs_certificate.serial_number.clone(),
        });
        let sha256 = AlgorithmIdentifierOwned { oid: OID_SHA256, parameters: None };
        let mut signer = SignerInfoBuilder::new(&self.key, sid, sha256.clone(), &econtent, Some(digest)).map_err(|e| err("CMS", e))?;
        signer.add_signed_attribute(self.signing_certificate_v2()?).map_err(|e| err("CMS", e))?;
        let mut sd = SignedDataBuilder::new(&econtent);
        sd.add_digest_algorithm(sha256).map_err(|e| err("CMS", e))?;
        for c in &self.chain {
            sd.add_certificate(CertificateChoices::Certificate(c.clone())).map_err(|e| err("CMS", e))?;
        }
        sd.add_signer_info::<SigningKey, DerSignature>(signer).map_err(|e| err("CMS", e))?;
        sd.build().map_err(|e| err("CMS", e))?.to_der().map_err(|e| err("CMS", e))
    }

    /// ESS signing-certificate-v2 (RFC 5035): the seal certificate's SHA-256 (the default hash
    /// algorithm, so omitted) and its issuer and serial number.
    fn signing_certificate_v2(&self) -> Result<Attribute, DocError> {
        let leaf = &self.chain[0];
        let issuer = leaf.tbs_certificate.issuer.to_der().map_err(|e| err("ESS", e))?;
        let serial = leaf.tbs_certificate.serial_number.to_der().map_err(|e| err("ESS", e))?;
        let general_names = tlv(0x30, &tlv(0xA4, &issuer));
        let issuer_serial = tlv(0x30, &[general_names, serial].concat());
        let cert_id = tlv(0x30, &[tlv(0x04, &self.cert_hash), issuer_serial].concat());
        let value = tlv(0x30, &tlv(0x30, &cert_id));
        let mut values = SetOfVec::new();
        values.insert(Any::from_der(&value).map_err(|e| err("ESS", e))?).map_err(|e| err("ESS", e))?;
        Ok(Attribute { oid: OID_SIGNING_CERTIFICATE_V2, values })
    }
}

/// A DER TLV with a definite length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        v.push(0x80 | (bytes.len() - skip) as u8);
        v.extend_from_slice(&bytes[skip..]);
    }
    v.extend_from_slice(content);
    v
}

/// The offset after the file's last `startxref`.
fn last_startxref(pdf: &[u8]) -> Result<usize, DocError> {
    let tail = &pdf[pdf.len().saturating_sub(1024)..];
    let at = tail.windows(9).rposition(|w| w == b"startxref").ok_or_else(|| DocError::Seal("no startxref".into()))?;
    let rest = std::str::from_utf8(&tail[at + 9..]).map_err(|_| DocError::Seal("bad startxref".into()))?;
    rest.split_whitespace().next().and_then(|n| n.parse().ok()).ok_or_else(|| DocError::Seal("bad startxref".into()))
}

/// A PDF text string: plain ASCII in parentheses, anything else as UTF-16BE hex.
fn pdf_text(s: &str) -> String {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'(' | b')' | b'\\')) {
        format!("({s})")
    } else {
        let mut h = String::from("<FEFF");
        for u in s.encode_utf16() {
            let _ = write!(h, "{u:04X}");
        }
        h.push('>');
        h
    }
}

/// Writes a direct object (no streams) in PDF syntax.
fn serialize(o: &Object) -> Result<Vec<u8>, DocError> {
    let mut out = Vec::new();
    write_object(&mut out, o)?;
    Ok(out)
}

fn write_object(out: &mut Vec<u8>, o: &Object) -> Result<(), DocError> {
    match o {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Object::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Object::Real(r) => out.extend_from_slice(format!("{r}").as_bytes()),
        Object::Name(n) => write_name(out, n),
        Object::String(s, _) => {
            out.push(b'<');
            out.extend_from_slice(hex::encode(s).as_bytes());
            out.push(b'>');
        }
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_object(out, item)?;
            }
            out.push(b']');
        }
        Object::Dictionary(d) => {
            out.extend_from_slice(b"<<");
            for (k, v) in d.iter() {
                out.push(b' ');
                write_name(out, k);
                out.push(b' ');
                write_object(out, v)?;
            }
            out.extend_from_slice(b" >>");
        }
        Object::Reference((id, generation)) => out.extend_from_slice(format!("{id} {generation} R").as_bytes()),
        Object::Stream(_) => return Err(DocError::Seal("unexpected stream in a rewritten dictionary".into())),
    }
    Ok(())
}

fn write_name(out: &mut Vec<u8>, n: &[u8]) {
    out.push(b'/');
    for &b in n {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b'+'
                    | b'*'
                    | b'!'
                    | b'\''
                    | b','
                    | b';'
                    | b':'
                    | b'@'
                    | b'?'
                    | b'='
                    | b'|'
                    | b'~'
                    | b'^'
                    | b'`'
                    | b'"'
                    | b'&'
                    | b'$'
            )
        {
            out.push(b);
        } else {
            out.extend_from_slice(format!("#{b:02X}").as_bytes());
        }
    }
}
