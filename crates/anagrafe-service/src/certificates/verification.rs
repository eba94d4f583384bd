//! Public verification of a printed certificate (VER-1 … VER-4): anyone holding the paper
//! reads its QR code (or uploads a photo of it), solves a captcha, and gets the sealed original
//! back while it is valid. Nothing about the certificate, not even whether it exists, is said
//! before the captcha is solved; every attempt is traced as `certificate.verify` by the actor
//! `public`. The page (`web/verify.rs`) renders these answers.

use super::{CertificateService, token_hash};
use crate::{ServiceError, ServiceResult};
use anagrafe_docs::{captcha, qr};
use anagrafe_store::AuditEntry;
use base64::Engine as _;
use chrono::NaiveDate;
use serde_json::json;
use sha2::{Digest, Sha256};

/// How long a captcha stays valid.
pub const CAPTCHA_TTL_MS: i64 = 10 * 60 * 1000;

/// What a captcha shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// A question to answer (the accessible alternative), in the page's language.
    Question(String),
    /// Digits drawn in a PNG image.
    Image(Vec<u8>),
}

/// A captcha to solve before a certificate is shown: its id (sent back with the answer) and
/// what it shows.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// The id the answer comes back with.
    pub id: String,
    /// What it shows.
    pub shown: Shown,
}

/// The answer to a verification.
#[derive(Debug, Clone)]
pub enum Verification {
    /// The captcha was not solved (wrong, expired or used): nothing is said.
    WrongAnswer,
    /// No certificate has this token.
    Unknown,
    /// Deleted before its expiry (or its PDF is gone).
    Deleted {
        /// The certificate's number.
        id: String,
        /// Its validity's last day.
        expires_on: NaiveDate,
        /// When it was deleted, if known.
        deleted_on: Option<NaiveDate>,
    },
    /// Its validity ended.
    Expired {
        /// The certificate's number.
        id: String,
        /// Its validity's last day.
        expires_on: NaiveDate,
    },
    /// Its record says valid, but its PDF is no longer kept.
    Gone,
    /// The sealed original.
    Original {
        /// The certificate's number.
        id: String,
        /// The PDF as issued.
        pdf: Vec<u8>,
    },
}

/// Why an uploaded photo gave no verification address.
#[derive(Debug, PartialEq, Eq)]
pub enum QrProblem {
    /// No QR code could be read from the image.
    Unread(qr::DecodeError),
    /// A QR code, but not one of this register's certificates.
    NotOurs,
}

/// Whether `t` can be a certificate's verification token (the address's last segment).
pub fn valid_token(t: &str) -> bool {
    (16..=64).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn hash(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

impl CertificateService {
    /// A trace entry of the public verification (`request_id` of the door's request).
    fn public_entry(request_id: &str, outcome: &str, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            request_id: request_id.to_owned(),
            actor: "public".into(),
            actor_cf: None,
            eidas_id: None,
            auth_mode: "none".into(),
            operation: "certificate.verify".into(),
            outcome: outcome.to_owned(),
            subject_person: None,
            subject_cf: None,
            detail: detail.to_string(),
        }
    }

    /// A new captcha (a spoken-style question when `accessible`, in language `lang`), kept as
    /// hashes until the clock passes `CAPTCHA_TTL_MS`.
    pub async fn challenge(&self, accessible: bool, lang: &str) -> ServiceResult<Challenge> {
        let mut id = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id);
        let (shown, answer) = if accessible {
            let (q, a) = captcha::spoken_question(lang);
            (Shown::Question(q), a)
        } else {
            let a = captcha::answer();
            let drawn = a.clone();
            let png =
                tokio::task::spawn_blocking(move || captcha::image_png(&drawn)).await.map_err(|e| ServiceError::Internal(Box::new(e)))?;
            (Shown::Image(png), a)
        };
        self.store.save_captcha(&hash(&id), &hash(&answer), self.clock.now_ms() + CAPTCHA_TTL_MS).await?;
        if let Some(oracle) = &self.certs.captcha_oracle
            && let Ok(mut o) = oracle.lock()
        {
            o.push((id.clone(), answer));
            if o.len() > 256 {
                o.remove(0);
            }
        }
        Ok(Challenge { id, shown })
    }

    /// The certificate of `token`, once captcha `captcha_id` is answered with `answer` (each
    /// captcha answers once). Every outcome is traced.
    pub async fn verify(&self, request_id: &str, token: &str, captcha_id: &str, answer: &str) -> ServiceResult<Verification> {
        let expected = self.store.take_captcha(&hash(captcha_id), self.clock.now_ms()).await?;
        if expected.as_deref() != Some(hash(answer.trim()).as_str()) {
            self.store.audit(&Self::public_entry(request_id, "refused:captcha", json!({}))).await?;
            return Ok(Verification::WrongAnswer);
        }
        let Some(cert) = self.store.certificate_by_token(&token_hash(token)).await? else {
            self.store.audit(&Self::public_entry(request_id, "unknown", json!({}))).await?;
            return Ok(Verification::Unknown);
        };
        let mut entry = Self::public_entry(request_id, "ok", json!({ "certificate": cert.id }));
        entry.subject_person = Some(cert.person_id);
        let (id, expires_on) = (cert.id.clone(), cert.expires_on);
        if let Some(deleted) = cert.deleted_at {
            entry.outcome = "deleted".into();
            self.store.audit(&entry).await?;
            let deleted_on = chrono::DateTime::from_timestamp_millis(deleted).map(anagrafe_domain::ops::italian_date);
            return Ok(Verification::Deleted { id, expires_on, deleted_on });
        }
        if expires_on < self.clock.today() {
            entry.outcome = "expired".into();
            self.store.audit(&entry).await?;
            return Ok(Verification::Expired { id, expires_on });
        }
        let Some(pdf) = self.store.certificate_pdf(&cert.id).await? else {
            entry.outcome = "deleted".into();
            self.store.audit(&entry).await?;
            return Ok(Verification::Gone);
        };
        self.store.audit(&entry).await?;
        Ok(Verification::Original { id, pdf })
    }

    /// The verification token a photo of a printed QR code carries, if it is one of this
    /// register's; an unreadable image is traced (`refused:qr`).
    pub async fn read_qr(&self, request_id: &str, image: Vec<u8>) -> ServiceResult<Result<String, QrProblem>> {
        let decoded = tokio::task::spawn_blocking(move || qr::decode(&image)).await.map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let text = match decoded {
            Ok(t) => t,
            Err(e) => {
                self.store.audit(&Self::public_entry(request_id, "refused:qr", json!({ "reason": e.to_string() }))).await?;
                return Ok(Err(QrProblem::Unread(e)));
            }
        };
        let prefix = format!("{}/verifica/", self.certs.public_url);
        let token = text.strip_prefix(&prefix).map(|rest| rest.split('#').next().unwrap_or_default().to_owned());
        Ok(token.filter(|t| valid_token(t)).ok_or(QrProblem::NotOurs))
    }
}
