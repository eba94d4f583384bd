//! Public verification of a printed certificate (VER-1 … VER-4): anyone holding the paper
//! reads its QR code (or uploads a photo of it), solves a captcha, and gets the sealed original
//! back while it is valid. Nothing about the certificate, not even whether it exists, is said
//! before the captcha is solved; every solved attempt is traced as `certificate.verify` by the
//! actor `public`. The page (`web/verify.rs`) renders these answers.
//!
//! Anonymous requests must not be able to grow the database (issue 18, item 7). A captcha is
//! therefore kept by nobody: its id carries its expiry, a random nonce and a MAC over both and
//! the answer, under a secret derived from the seal's key (the same on every instance). Any
//! attempt spends the captcha in memory ([`CaptchaGuard`], bounded); only a *solved* one is
//! written, so that it answers once across instances — and solving costs a person's effort.
//! Wrong answers are traced once per minute with the count of the minute before.

use super::{CertificateService, token_hash};
use crate::{ServiceError, ServiceResult};
use anagrafe_docs::{captcha, qr};
use anagrafe_store::{AuditEntry, StoreError, StoredCertificate};
use base64::Engine as _;
use chrono::NaiveDate;
use serde_json::json;
use sha2::{Digest, Sha256};

/// How long a captcha stays valid.
pub const CAPTCHA_TTL_MS: i64 = 10 * 60 * 1000;

/// Most captchas remembered as tried; past it the oldest is forgotten (reusing one then takes
/// this many other attempts in between, so guessing stays hopeless).
pub const TRIED_CAP: usize = 100_000;

/// Captchas tried and wrong answers counted, in memory.
#[derive(Debug, Default)]
pub struct CaptchaGuard {
    state: std::sync::Mutex<GuardState>,
}

#[derive(Debug, Default)]
struct GuardState {
    tried: std::collections::HashSet<[u8; 16]>,
    order: std::collections::VecDeque<([u8; 16], i64)>,
    /// The current minute's start and its wrong answers.
    window: (i64, u64),
}

impl CaptchaGuard {
    /// Marks captcha `nonce` (valid until `expires`) as tried; `false` if it was already.
    fn try_once(&self, nonce: [u8; 16], expires: i64, now: i64) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while s.order.front().is_some_and(|(_, e)| *e < now) {
            if let Some((n, _)) = s.order.pop_front() {
                s.tried.remove(&n);
            }
        }
        if !s.tried.insert(nonce) {
            return false;
        }
        if s.order.len() >= TRIED_CAP
            && let Some((n, _)) = s.order.pop_front()
        {
            s.tried.remove(&n);
        }
        s.order.push_back((nonce, expires));
        true
    }

    /// Counts a wrong answer at `now`: the detail of the trace entry to write when it is the
    /// first of its minute (with the count of the previous minute that had any), else `None`.
    fn wrong_answer(&self, now: i64) -> Option<serde_json::Value> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let minute = now - now.rem_euclid(60_000);
        let (start, count) = s.window;
        if start == minute && count > 0 {
            s.window.1 += 1;
            return None;
        }
        s.window = (minute, 1);
        Some(if count > 0 { json!({ "previous_minute": start, "wrong_answers": count }) } else { json!({}) })
    }

    /// Captchas remembered as tried.
    pub fn tried(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).tried.len()
    }
}

/// A captcha id: its expiry, its nonce and the MAC that binds its answer.
fn captcha_id(expires: i64, nonce: &[u8; 16], mac: &[u8]) -> String {
    let mut raw = Vec::with_capacity(40);
    raw.extend_from_slice(&expires.to_be_bytes());
    raw.extend_from_slice(nonce);
    raw.extend_from_slice(&mac[..16]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn parse_captcha_id(id: &str) -> Option<(i64, [u8; 16], [u8; 16])> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id.as_bytes()).ok().filter(|r| r.len() == 40)?;
    let expires = i64::from_be_bytes(raw[..8].try_into().ok()?);
    Some((expires, raw[8..24].try_into().ok()?, raw[24..].try_into().ok()?))
}

type CaptchaMac = hmac::Hmac<Sha256>;

fn captcha_mac(key: &[u8; 32], expires: i64, nonce: &[u8; 16], answer: &str) -> CaptchaMac {
    use hmac::Mac;
    let mut m = <CaptchaMac as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(b"anagrafe-captcha/1\n");
    m.update(&expires.to_be_bytes());
    m.update(nonce);
    m.update(answer.as_bytes());
    m
}

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

/// How long the link to a verified certificate's original PDF works.
pub const ORIGINAL_TTL_MS: i64 = 15 * 60 * 1000;

/// What the result page says of a certificate, once the captcha is solved: what the paper
/// itself shows, never who it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The certificate's number.
    pub id: String,
    /// What it certifies (tab. 13 codes; several: a combined certificate).
    pub types: Vec<u16>,
    /// The day it was issued (Italian time).
    pub issued_on: NaiveDate,
    /// Its validity's last day.
    pub expires_on: NaiveDate,
}

/// The answer to a verification.
#[derive(Debug, Clone)]
pub enum Verification {
    /// The captcha was not solved (wrong, expired or used): nothing is said.
    WrongAnswer,
    /// No certificate has this token or number.
    Unknown,
    /// Its original was deleted: by the expiry job once it expired, or on its cancellation.
    Deleted {
        /// What it was.
        summary: Summary,
        /// When it was deleted, if known.
        deleted_on: Option<NaiveDate>,
        /// Deleted because it had expired (else: cancelled).
        expired: bool,
    },
    /// Its validity ended.
    Expired {
        /// What it was.
        summary: Summary,
    },
    /// Its record says valid, but its PDF is no longer kept.
    Gone {
        /// What it is.
        summary: Summary,
    },
    /// Valid: the original can be downloaded with `grant` (see [`CertificateService::original`])
    /// until [`ORIGINAL_TTL_MS`] has passed.
    Valid {
        /// What it is.
        summary: Summary,
        /// The download's key.
        grant: String,
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

/// A certificate's number as a person types it (spaces and case forgiven), if it has the printed
/// form `2026-ABCDEFGHJK` (year, dash, ten characters of the unambiguous alphabet).
pub fn typed_number(s: &str) -> Option<String> {
    let n: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
    let (year, tail) = n.split_once('-')?;
    let ok = year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && tail.len() == 10
        && tail.bytes().all(|b| b.is_ascii_uppercase() && !matches!(b, b'I' | b'O') || (b'2'..=b'9').contains(&b));
    ok.then_some(n)
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
        use hmac::Mac;
        let mut nonce = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
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
        let expires = self.clock.now_ms() + CAPTCHA_TTL_MS;
        let key = self.certs.seal.derived_secret("captcha");
        let id = captcha_id(expires, &nonce, &captcha_mac(&key, expires, &nonce, &answer).finalize().into_bytes());
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

    /// The certificate of `token` (its QR code's address), once captcha `captcha_id` is answered
    /// with `answer` (each captcha answers once). Every outcome is traced.
    pub async fn verify(&self, request_id: &str, token: &str, captcha_id: &str, answer: &str) -> ServiceResult<Verification> {
        if !self.captcha_solved(request_id, captcha_id, answer).await? {
            return Ok(Verification::WrongAnswer);
        }
        let cert = self.store.certificate_by_token(&token_hash(token)).await?;
        self.outcome(request_id, "qr", cert).await
    }

    /// The certificate whose printed number a person typed (see [`typed_number`]), once the
    /// captcha is solved: the same answers as [`Self::verify`].
    pub async fn verify_number(&self, request_id: &str, number: &str, captcha_id: &str, answer: &str) -> ServiceResult<Verification> {
        if !self.captcha_solved(request_id, captcha_id, answer).await? {
            return Ok(Verification::WrongAnswer);
        }
        let cert = match typed_number(number) {
            Some(n) => self.store.certificate(&n).await?,
            None => None,
        };
        self.outcome(request_id, "number", cert).await
    }

    /// Spends captcha `captcha_id` (any attempt does); whether `answer` solves it. Only a
    /// solved captcha is written (once: a second use is refused on every instance); wrong,
    /// spent or expired ones are counted and traced once a minute.
    async fn captcha_solved(&self, request_id: &str, captcha_id: &str, answer: &str) -> ServiceResult<bool> {
        use hmac::Mac;
        let now = self.clock.now_ms();
        let guard = &self.certs.captcha_guard;
        let solved = match parse_captcha_id(captcha_id) {
            Some((expires, nonce, mac)) if expires >= now && guard.try_once(nonce, expires, now) => {
                let key = self.certs.seal.derived_secret("captcha");
                captcha_mac(&key, expires, &nonce, answer.trim()).verify_truncated_left(&mac).is_ok()
                    && match self.store.save_captcha(&hash(captcha_id), "solved", expires).await {
                        Ok(()) => true,
                        Err(StoreError::Conflict { .. }) => false,
                        Err(e) => return Err(e.into()),
                    }
            }
            _ => false,
        };
        if !solved && let Some(detail) = guard.wrong_answer(now) {
            self.store.audit(&Self::public_entry(request_id, "refused:captcha", detail)).await?;
        }
        Ok(solved)
    }

    /// What the page says of `cert`, found by `by` (`qr` or `number`), traced.
    async fn outcome(&self, request_id: &str, by: &str, cert: Option<StoredCertificate>) -> ServiceResult<Verification> {
        let Some(cert) = cert else {
            self.store.audit(&Self::public_entry(request_id, "unknown", json!({ "by": by }))).await?;
            return Ok(Verification::Unknown);
        };
        let mut entry = Self::public_entry(request_id, "ok", json!({ "certificate": cert.id, "by": by }));
        entry.subject_person = Some(cert.person_id);
        let issued_on =
            chrono::DateTime::from_timestamp_millis(cert.issued_at).map(anagrafe_domain::ops::italian_date).unwrap_or(cert.expires_on);
        let summary = Summary { id: cert.id.clone(), types: cert.types.clone(), issued_on, expires_on: cert.expires_on };
        if let Some(deleted) = cert.deleted_at {
            entry.outcome = "deleted".into();
            self.store.audit(&entry).await?;
            let deleted_on = chrono::DateTime::from_timestamp_millis(deleted).map(anagrafe_domain::ops::italian_date);
            let expired = cert.delete_reason.as_deref() == Some("expired");
            return Ok(Verification::Deleted { summary, deleted_on, expired });
        }
        if cert.expires_on < self.clock.today() {
            entry.outcome = "expired".into();
            self.store.audit(&entry).await?;
            return Ok(Verification::Expired { summary });
        }
        if self.store.certificate_pdf(&cert.id).await?.is_none_or(|p| p.is_empty()) {
            entry.outcome = "deleted".into();
            self.store.audit(&entry).await?;
            return Ok(Verification::Gone { summary });
        }
        self.store.audit(&entry).await?;
        // The download's key, kept as a hash beside the captchas until it expires; its expiry is
        // part of it, so that downloading again never extends it.
        let expires_at = self.clock.now_ms() + ORIGINAL_TTL_MS;
        let mut key = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        let grant = format!("{expires_at}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key));
        self.store.save_captcha(&hash(&grant), &hash(&summary.id), expires_at).await?;
        Ok(Verification::Valid { summary, grant })
    }

    /// The original PDF of certificate `number`, with the `grant` its verification gave, while
    /// the grant lasts (it may be used again until then); traced as `original`.
    pub async fn original(&self, request_id: &str, number: &str, grant: &str) -> ServiceResult<Option<Vec<u8>>> {
        let now = self.clock.now_ms();
        let Some(expires_at) = grant.split_once('.').and_then(|(e, _)| e.parse::<i64>().ok()).filter(|e| *e > now) else {
            return Ok(None);
        };
        let Some(expected) = self.store.take_captcha(&hash(grant), now).await? else {
            return Ok(None);
        };
        if expected != hash(number) {
            return Ok(None);
        }
        self.store.save_captcha(&hash(grant), &expected, expires_at).await?;
        let Some(cert) = self.store.certificate(number).await? else {
            return Ok(None);
        };
        let pdf = self.store.certificate_pdf(number).await?;
        let mut entry =
            Self::public_entry(request_id, if pdf.is_some() { "original" } else { "deleted" }, json!({ "certificate": number }));
        entry.subject_person = Some(cert.person_id);
        self.store.audit(&entry).await?;
        Ok(pdf)
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
