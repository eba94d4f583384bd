//! ModI security of the e-services, as a public body meets it on the national data platform:
//!
//! - **Voucher** (`Authorization: Bearer …`): a JWT issued by the platform for one client and
//!   one purpose, audience the e-service. In production it is verified against the platform's
//!   configured issuer and JWKS; in the embedded mode the register issues it itself at
//!   `POST /pdnd/token.oauth2` (client credentials with a `private_key_jwt` client assertion
//!   carrying `purposeId` and the `digest` of the tracking evidence) and verifies it with its
//!   own key.
//! - **`Agid-JWT-Signature`** (INTEGRITY_REST_02): signed by the body's key (`kid`), audience
//!   the e-service, at most five minutes of life, a single-use `jti`, and `signed_headers`
//!   holding the `Digest` of the body (and its `Content-Type`) exactly as sent.
//! - **`Agid-JWT-TrackingEvidence`** (AUDIT_REST_02): signed by the body's key, carrying
//!   `userID`, `userLocation` and `LoA`, bound to the voucher by the SHA-256 of the token,
//!   which the voucher's `digest` claim holds.
//!
//! [`client`] holds the public body's side (tests, `anagrafe pdnd call`).

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Allowed clock difference, seconds.
pub const LEEWAY_S: i64 = 60;
/// Longest accepted life of a signature or tracking evidence, seconds.
pub const MAX_SIGNATURE_LIFE_S: i64 = 300;
/// Longest accepted life of a client assertion, seconds.
pub const MAX_ASSERTION_LIFE_S: i64 = 600;
/// Life of the vouchers the embedded token endpoint issues, seconds.
pub const VOUCHER_LIFE_S: i64 = 600;
/// The client assertion type of `private_key_jwt`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The `digest` claim: SHA-256 (hex) of the tracking evidence token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestClaim {
    /// `SHA256`.
    pub alg: String,
    /// Lowercase hex.
    pub value: String,
}

impl DigestClaim {
    /// The digest of a token.
    pub fn of(token: &str) -> Self {
        Self { alg: "SHA256".into(), value: hex::encode(Sha256::digest(token.as_bytes())) }
    }
}

/// Claims of a voucher.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoucherClaims {
    /// The platform (or, embedded, the register).
    pub iss: String,
    /// The e-service's audience.
    pub aud: String,
    /// The client id.
    pub sub: String,
    /// The client id.
    pub client_id: String,
    /// The purpose the call is made for.
    #[serde(rename = "purposeId")]
    pub purpose_id: String,
    /// Id of the voucher.
    pub jti: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// Expiry.
    pub exp: i64,
    /// Digest of the tracking evidence it was asked for.
    #[serde(default)]
    pub digest: Option<DigestClaim>,
}

/// Claims of a client assertion (`private_key_jwt`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssertionClaims {
    /// The client id.
    pub iss: String,
    /// The client id.
    pub sub: String,
    /// The token endpoint's audience.
    pub aud: String,
    /// Single use.
    pub jti: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// The purpose the voucher is for.
    #[serde(rename = "purposeId", default)]
    pub purpose_id: Option<String>,
    /// Digest of the tracking evidence.
    #[serde(default)]
    pub digest: Option<DigestClaim>,
}

/// Claims of an `Agid-JWT-Signature` (INTEGRITY_REST_02).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntegrityClaims {
    /// The e-service's audience.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// Expiry.
    pub exp: i64,
    /// Single use.
    pub jti: String,
    /// The client id (optional in the pattern).
    #[serde(default)]
    pub iss: Option<String>,
    /// The signed headers, one per object.
    pub signed_headers: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Claims of an `Agid-JWT-TrackingEvidence` (AUDIT_REST_02).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackingClaims {
    /// The client id.
    pub iss: String,
    /// The e-service's audience.
    pub aud: String,
    /// The purpose.
    #[serde(rename = "purposeId")]
    pub purpose_id: String,
    /// The user, inside the body, whose need the request serves.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// The workstation it was made from.
    #[serde(rename = "userLocation")]
    pub user_location: String,
    /// The level of assurance of the user's authentication.
    #[serde(rename = "LoA")]
    pub loa: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// Id.
    pub jti: String,
    /// A nonce of the body's (optional in the pattern).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnonce: Option<serde_json::Value>,
}

/// A public key and the algorithm its tokens are signed with: ES256 for a P-256 key, RS256
/// for an RSA key (the national data platform's and most public bodies' keys are RSA).
#[derive(Clone)]
pub struct Key {
    key: DecodingKey,
    alg: Algorithm,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl Key {
    /// From an SPKI PEM (`BEGIN PUBLIC KEY`, EC P-256 or RSA) or a PKCS#1 RSA PEM.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        if let Ok(key) = DecodingKey::from_ec_pem(pem.as_bytes()) {
            return Ok(Self { key, alg: Algorithm::ES256 });
        }
        DecodingKey::from_rsa_pem(pem.as_bytes())
            .map(|key| Self { key, alg: Algorithm::RS256 })
            .map_err(|_| "not an EC P-256 or RSA public key".into())
    }

    /// From a JWK of a key set (`kty` EC with `crv` P-256, or RSA).
    pub fn from_jwk(jwk: &jsonwebtoken::jwk::Jwk) -> Result<Self, String> {
        use jsonwebtoken::jwk::AlgorithmParameters::*;
        let alg = match &jwk.algorithm {
            EllipticCurve(_) => Algorithm::ES256,
            RSA(_) => Algorithm::RS256,
            _ => return Err("a key of an unsupported type".into()),
        };
        DecodingKey::from_jwk(jwk).map(|key| Self { key, alg }).map_err(|_| "an unusable key".into())
    }
}

/// Validation for `key`'s algorithm and any of `audiences`.
fn validation(key: &Key, audiences: &[&str]) -> Validation {
    let mut v = Validation::new(key.alg);
    v.set_audience(audiences);
    v.set_required_spec_claims(&["exp", "aud"]);
    v.leeway = LEEWAY_S as u64;
    v
}

/// Why a token did not verify, in words a client's developer can act on.
pub fn problem(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind::*;
    match e.kind() {
        ExpiredSignature => "expired",
        InvalidAudience => "wrong aud (the e-service's audience is expected)",
        InvalidIssuer => "wrong iss",
        InvalidSignature => "bad signature",
        MissingRequiredClaim(_) => "a required claim is missing",
        ImmatureSignature => "not yet valid",
        InvalidAlgorithm => "wrong alg (ES256 is expected)",
        Json(_) => "a claim is missing or of the wrong type",
        _ => "malformed",
    }
}

/// The `kid` of a token's header (ES256 or RS256).
pub fn kid_of(token: &str) -> Result<String, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| "is not a JWS".to_owned())?;
    if !matches!(header.alg, Algorithm::ES256 | Algorithm::RS256) {
        return Err("must be signed ES256 or RS256".into());
    }
    header.kid.ok_or_else(|| "has no kid".to_owned())
}

/// The audiences a ModI token for an e-service may carry: the e-service's, or its operation's
/// URL (`…/v1/anpr-service-e002`), as gateways set either.
pub fn audiences(audience: &str) -> [String; 2] {
    [audience.to_owned(), format!("{audience}/anpr-service-e002")]
}

/// A token's lifetime must fit `max` seconds and not start in the future.
fn lifetime(iat: i64, exp: i64, max: i64) -> Result<(), String> {
    let now = chrono::Utc::now().timestamp();
    if iat > now + LEEWAY_S {
        return Err("is issued in the future".into());
    }
    if exp.checked_sub(iat).is_none_or(|life| !(0..=max).contains(&life)) {
        return Err(format!("lives longer than {max} seconds"));
    }
    Ok(())
}

/// Verifies a voucher's signature, issuer and audience.
pub fn verify_voucher(token: &str, key: &Key, issuer: &str, audience: &str) -> Result<VoucherClaims, String> {
    let mut v = validation(key, &[audience]);
    v.set_issuer(&[issuer]);
    v.set_required_spec_claims(&["exp", "aud", "iss"]);
    let c = jsonwebtoken::decode::<VoucherClaims>(token, &key.key, &v).map_err(|e| problem(&e).to_owned())?.claims;
    if c.sub != c.client_id {
        return Err("sub and client_id differ".into());
    }
    if let Some(nbf) = c.nbf
        && nbf > chrono::Utc::now().timestamp() + LEEWAY_S
    {
        return Err("not yet valid".into());
    }
    Ok(c)
}

/// Verifies a client assertion made with `key` for `client_id`.
pub fn verify_assertion(token: &str, key: &Key, client_id: &str, audience: &str) -> Result<AssertionClaims, String> {
    let mut v = validation(key, &[audience]);
    v.set_issuer(&[client_id]);
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let c = jsonwebtoken::decode::<AssertionClaims>(token, &key.key, &v).map_err(|e| problem(&e).to_owned())?.claims;
    if c.sub != client_id {
        return Err("sub is not the client".into());
    }
    if c.jti.is_empty() || c.jti.len() > 128 {
        return Err("needs a jti of 1 to 128 characters".into());
    }
    lifetime(c.iat, c.exp, MAX_ASSERTION_LIFE_S)?;
    Ok(c)
}

/// Verifies an `Agid-JWT-Signature` against the request's `Digest`, `Content-Type` and body.
pub fn verify_integrity(
    token: &str,
    key: &Key,
    audience: &str,
    digest_sent: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<IntegrityClaims, IntegrityError> {
    let [a, b] = audiences(audience);
    let c = jsonwebtoken::decode::<IntegrityClaims>(token, &key.key, &validation(key, &[&a, &b]))
        .map_err(|e| IntegrityError::Signature(format!("Agid-JWT-Signature does not verify: {}", problem(&e))))?
        .claims;
    lifetime(c.iat, c.exp, MAX_SIGNATURE_LIFE_S).map_err(|e| IntegrityError::Signature(format!("Agid-JWT-Signature {e}")))?;
    if c.jti.is_empty() || c.jti.len() > 128 {
        return Err(IntegrityError::Signature("Agid-JWT-Signature needs a jti of 1 to 128 characters".into()));
    }
    let signed = |name: &str| {
        c.signed_headers
            .iter()
            .find_map(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()))
            .and_then(|v| v.as_str().map(str::to_owned))
    };
    let sent = digest_sent.ok_or_else(|| IntegrityError::Signature("the Digest header is missing".into()))?;
    if signed("digest").as_deref() != Some(sent) {
        return Err(IntegrityError::Signature("the Digest header is not the one signed in signed_headers".into()));
    }
    if sent != crate::modi::digest_header(body) {
        return Err(IntegrityError::Digest);
    }
    if signed("content-type").as_deref() != Some(content_type.unwrap_or("")) {
        return Err(IntegrityError::Signature("the Content-Type header is not the one signed in signed_headers".into()));
    }
    Ok(c)
}

/// Why an integrity signature was refused.
#[derive(Debug)]
pub enum IntegrityError {
    /// The signature or its claims.
    Signature(String),
    /// The body is not the one whose digest was signed.
    Digest,
}

/// Verifies an `Agid-JWT-TrackingEvidence` and that it is the one the voucher was issued for.
pub fn verify_tracking(token: &str, key: &Key, audience: &str, voucher: &VoucherClaims) -> Result<TrackingClaims, String> {
    let [a, b] = audiences(audience);
    let mut v = validation(key, &[&a, &b]);
    v.set_issuer(&[&voucher.client_id]);
    let c = jsonwebtoken::decode::<TrackingClaims>(token, &key.key, &v).map_err(|e| problem(&e).to_owned())?.claims;
    if c.purpose_id != voucher.purpose_id {
        return Err("purposeId is not the voucher's".into());
    }
    if voucher.digest.is_none() {
        return Err("the voucher carries no digest of a tracking evidence (ask for it with the digest claim)".into());
    }
    if !bound(token, voucher) {
        return Err("is not the one the voucher was issued for (digest)".into());
    }
    for (name, value) in [("userID", &c.user_id), ("userLocation", &c.user_location), ("LoA", &c.loa)] {
        if value.trim().is_empty() || value.len() > 256 {
            return Err(format!("needs {name} (1 to 256 characters)"));
        }
    }
    Ok(c)
}

/// Whether a tracking evidence is the one a voucher was issued for (its `digest`).
pub fn bound(evidence: &str, voucher: &VoucherClaims) -> bool {
    voucher
        .digest
        .as_ref()
        .is_some_and(|d| d.alg.eq_ignore_ascii_case("SHA256") && d.value.eq_ignore_ascii_case(&DigestClaim::of(evidence).value))
}

/// The public body's side: what its gateway does for each call.
pub mod client {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    /// A public body's identity: client id, key id and private key.
    #[derive(Clone)]
    pub struct BodySigner {
        /// The platform's client id.
        pub client_id: String,
        /// The key id registered for the key.
        pub kid: String,
        key: EncodingKey,
        alg: Algorithm,
    }

    impl std::fmt::Debug for BodySigner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("BodySigner").field("client_id", &self.client_id).field("kid", &self.kid).finish_non_exhaustive()
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    impl BodySigner {
        /// From a PEM private key: P-256 (PKCS#8, signs ES256) or RSA (PKCS#8 or PKCS#1, signs
        /// RS256).
        pub fn new(client_id: &str, kid: &str, private_key_pem: &str) -> Result<Self, String> {
            crate::modi::init_crypto();
            let (key, alg) = match EncodingKey::from_ec_pem(private_key_pem.as_bytes()) {
                Ok(k) => (k, Algorithm::ES256),
                Err(_) => (
                    EncodingKey::from_rsa_pem(private_key_pem.as_bytes())
                        .map_err(|e| format!("the private key is neither a P-256 nor an RSA PEM: {e}"))?,
                    Algorithm::RS256,
                ),
            };
            Ok(Self { client_id: client_id.to_owned(), kid: kid.to_owned(), key, alg })
        }

        fn sign<T: Serialize>(&self, claims: &T) -> Result<String, String> {
            let mut header = Header::new(self.alg);
            header.kid = Some(self.kid.clone());
            jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| e.to_string())
        }

        /// An `Agid-JWT-TrackingEvidence` for one e-service and purpose.
        pub fn tracking_evidence(
            &self,
            audience: &str,
            purpose_id: &str,
            user_id: &str,
            user_location: &str,
            loa: &str,
        ) -> Result<String, String> {
            let t = now();
            self.sign(&TrackingClaims {
                iss: self.client_id.clone(),
                aud: audience.to_owned(),
                purpose_id: purpose_id.to_owned(),
                user_id: user_id.to_owned(),
                user_location: user_location.to_owned(),
                loa: loa.to_owned(),
                iat: t,
                exp: t + MAX_SIGNATURE_LIFE_S,
                jti: uuid::Uuid::new_v4().to_string(),
                dnonce: None,
            })
        }

        /// A client assertion asking for a voucher for `purpose_id`, bound to a tracking
        /// evidence (its digest).
        pub fn client_assertion(&self, token_audience: &str, purpose_id: &str, tracking_evidence: Option<&str>) -> Result<String, String> {
            let t = now();
            self.sign(&AssertionClaims {
                iss: self.client_id.clone(),
                sub: self.client_id.clone(),
                aud: token_audience.to_owned(),
                jti: uuid::Uuid::new_v4().to_string(),
                iat: t,
                exp: t + 120,
                purpose_id: Some(purpose_id.to_owned()),
                digest: tracking_evidence.map(DigestClaim::of),
            })
        }

        /// `(Digest, Agid-JWT-Signature)` for a JSON body sent to an e-service.
        pub fn integrity(&self, audience: &str, body: &[u8], content_type: &str) -> Result<(String, String), String> {
            let digest = crate::modi::digest_header(body);
            let t = now();
            let signed_headers = vec![
                serde_json::Map::from_iter([("digest".to_owned(), serde_json::Value::from(digest.clone()))]),
                serde_json::Map::from_iter([("content-type".to_owned(), serde_json::Value::from(content_type))]),
            ];
            let jws = self.sign(&IntegrityClaims {
                aud: audience.to_owned(),
                iat: t,
                nbf: Some(t),
                exp: t + 60,
                jti: uuid::Uuid::new_v4().to_string(),
                iss: Some(self.client_id.clone()),
                signed_headers,
            })?;
            Ok((digest, jws))
        }
    }
}
