//! Signed messages between a comune's software and the register (REG-5, SEC-1), in the style
//! of Italy's ModI `INTEGRITY_REST_02` pattern:
//!
//! - `Digest: SHA-256=<base64 of the body's SHA-256>` (RFC 3230), also for an empty body;
//! - `Agid-JWT-Signature: <JWS>`, ES256, header `kid` = the client id, claims `iss` (the
//!   client id), `aud` (the register's API audience), `iat`, `exp` (at most five minutes after
//!   `iat`), `jti` (single use), and `signed_headers`: a list of one-entry objects holding at
//!   least the `digest` (and, for a body, its `content-type`) exactly as sent.
//!
//! The register verifies the signature with the public key it holds for the client, then the
//! digest against the body, then that the `jti` was never used: any failure refuses the
//! request before anything is written, and the refusal (only) is traced.
//!
//! [`client`] holds the signing side, used by the tests, the load script and `anagrafe api`.

use crate::{ApiError, AppState};
use anagrafe_domain::Role;
use anagrafe_service::Principal;
use anagrafe_store::{ApiClient, AuditEntry, JtiOutcome, WriteContext};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// Header carrying the JWS.
pub const SIGNATURE_HEADER: &str = "agid-jwt-signature";
/// Longest accepted lifetime of a signature (`exp - iat`), seconds.
pub const MAX_LIFETIME_S: i64 = 300;
/// Allowed clock difference with the client, seconds.
pub const LEEWAY_S: i64 = 60;
/// Largest request body, bytes.
pub const MAX_BODY: usize = 1 << 20;

/// Installs the process's JWT crypto provider once (the crate panics at first use when it cannot
/// tell which provider to use): see [`crate::jwt_crypto`].
pub fn init_crypto() {
    crate::jwt_crypto::install();
}

/// The claims of an `Agid-JWT-Signature`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignatureClaims {
    /// The client id.
    pub iss: String,
    /// The register's API audience.
    pub aud: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// Single-use id.
    pub jti: String,
    /// The HTTP method signed for (`POST`, `GET`…), so a signature fits one kind of request.
    pub htm: String,
    /// The request target signed for: path and query (`/api/v1/persons/AB12345CD?as_of=…`),
    /// so a signature cannot be moved to another record or another read.
    pub htu: String,
    /// The signed headers, one per object.
    pub signed_headers: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// `SHA-256=<base64>` of a body.
pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", B64.encode(Sha256::digest(body)))
}

/// A request whose signature, digest and `jti` were verified, with its body and the context
/// its writes are traced with.
#[derive(Debug)]
pub struct Signed {
    /// The registered client that signed it.
    pub client: ApiClient,
    /// The body, as signed.
    pub body: Bytes,
    /// Actor, authentication mode and comune for the store.
    pub ctx: WriteContext,
    /// The method signed for.
    pub method: String,
    /// The request target (path and query) signed for.
    pub target: String,
}

impl Signed {
    /// The client as the services see it.
    pub fn principal(&self) -> Principal {
        let ctx = &self.ctx;
        Principal {
            actor: ctx.actor.clone(),
            role: self.client.role,
            comune: ctx.comune,
            auth_mode: ctx.auth_mode.clone(),
            level: 0,
            codice_fiscale: None,
            eidas_id: None,
            request_id: ctx.request_id.clone(),
        }
    }
}

/// Why a signed request was refused: the status and the text the client gets.
struct Refusal {
    status_400: bool,
    reason: String,
    client: Option<String>,
}

fn refuse(reason: impl Into<String>) -> Refusal {
    Refusal { status_400: false, reason: reason.into(), client: None }
}

impl FromRequest<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let method = req.method().to_string();
        let route = req.uri().path().to_owned();
        let target = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| route.clone());
        let headers = req.headers().clone();
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::field("body", format!("is larger than {MAX_BODY} bytes or was interrupted")))?;
        match verify(state, &method, &target, &headers, &body).await {
            Ok(client) => {
                crate::auth::limits::api_call(state, &client.client_id).await?;
                let ctx = WriteContext {
                    request_id: crate::middleware::current_request_id().unwrap_or_default(),
                    actor: format!("client:{}", client.client_id),
                    actor_cf: None,
                    eidas_id: None,
                    auth_mode: "modi".into(),
                    comune: client.comune,
                    client_op_id: None,
                };
                Ok(Signed { client, body, ctx, method, target })
            }
            Err(r) => {
                // The refusal is the only trace a refused request leaves. The route template
                // is not known here; the method and the path's first segments are enough and
                // carry no personal data beyond an ID ANPR, which the trace may hold.
                let mut entry = AuditEntry {
                    request_id: crate::middleware::current_request_id().unwrap_or_default(),
                    actor: r.client.clone().map(|c| format!("client:{c}")).unwrap_or_else(|| "unauthenticated".into()),
                    actor_cf: None,
                    eidas_id: None,
                    auth_mode: "modi".into(),
                    operation: "api.request".into(),
                    outcome: "refused".into(),
                    subject_person: None,
                    subject_cf: None,
                    detail: String::new(),
                };
                entry.detail = serde_json::json!({ "method": method, "path": route, "reason": r.reason }).to_string();
                if let Err(e) = state.store.audit(&entry).await {
                    return Err(ApiError::from(e));
                }
                if r.status_400 { Err(ApiError::field("Digest", r.reason)) } else { Err(ApiError::Unauthorized(r.reason)) }
            }
        }
    }
}

/// The registered clients this process has met, with their parsed keys, so that a request
/// needs no registry read before its signature is checked. An entry is only a hint: the
/// statement that records the `jti` also checks that the client is still registered exactly
/// so (not revoked, same role, comune and key), and a stale entry is dropped and read again —
/// a revocation or a new key takes effect on the next request, whichever process made it.
#[derive(Default)]
pub struct ClientCache {
    known: std::sync::RwLock<std::collections::HashMap<String, Arc<KnownClient>>>,
}

impl std::fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCache").finish_non_exhaustive()
    }
}

/// A registered client and its parsed public key.
#[derive(Clone)]
pub struct KnownClient {
    client: ApiClient,
    key: DecodingKey,
}

impl std::fmt::Debug for KnownClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownClient").field("client", &self.client.client_id).finish_non_exhaustive()
    }
}

impl ClientCache {
    fn get(&self, id: &str) -> Option<Arc<KnownClient>> {
        self.known.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    fn forget(&self, id: &str) {
        self.known.write().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// Reads a client from the registry (only registered, unrevoked clients are kept).
    async fn load(&self, state: &AppState, id: &str) -> Result<Arc<KnownClient>, Refusal> {
        let client =
            state.store.api_client(id).await.map_err(|_| refuse("the client registry is unavailable"))?.filter(|c| !c.revoked).ok_or_else(
                || {
                    self.forget(id);
                    refuse("unknown or revoked client")
                },
            )?;
        let key = DecodingKey::from_ec_pem(client.public_key_pem.as_bytes()).map_err(|_| Refusal {
            status_400: false,
            reason: "the client's registered key is unusable".into(),
            client: Some(client.client_id.clone()),
        })?;
        let known = Arc::new(KnownClient { client, key });
        self.known.write().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), known.clone());
        Ok(known)
    }
}

async fn verify(state: &AppState, method: &str, target: &str, headers: &HeaderMap, body: &[u8]) -> Result<ApiClient, Refusal> {
    init_crypto();
    let token = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refuse("the request is not signed: Agid-JWT-Signature is missing"))?;
    let header = jsonwebtoken::decode_header(token).map_err(|_| refuse("Agid-JWT-Signature is not a JWS"))?;
    if header.alg != Algorithm::ES256 {
        return Err(refuse("Agid-JWT-Signature must be ES256"));
    }
    let kid = header.kid.ok_or_else(|| refuse("Agid-JWT-Signature has no kid"))?;
    let mut known = match state.clients.get(&kid) {
        Some(k) => (k, true),
        None => (state.clients.load(state, &kid).await?, false),
    };
    loop {
        let (client, cached) = (&known.0, known.1);
        let claims = match check(state, client, token, method, target, headers, body) {
            Ok(claims) => claims,
            Err(refusal) if cached => {
                // Perhaps the client has a new key or was revoked since it was cached: judge
                // the request against the registry as it is now.
                let fresh = state.clients.load(state, &kid).await?;
                if fresh.client == client.client {
                    return Err(refusal);
                }
                known = (fresh, false);
                continue;
            }
            Err(refusal) => return Err(refusal),
        };
        let id = &client.client.client_id;
        // Kept one second past the last instant the token is accepted (exp + leeway, whole
        // seconds), so that no purge frees it while it still verifies.
        let expires = claims.exp.saturating_add(LEEWAY_S + 1).saturating_mul(1000);
        let outcome = state.store.accept_jti(&client.client, &claims.jti, expires).await.map_err(|_| Refusal {
            status_400: false,
            reason: "the replay registry is unavailable".into(),
            client: Some(id.clone()),
        })?;
        match outcome {
            JtiOutcome::Fresh => return Ok(client.client.clone()),
            JtiOutcome::Replayed => {
                return Err(Refusal {
                    status_400: false,
                    reason: "this signature was already used (jti replayed)".into(),
                    client: Some(id.clone()),
                });
            }
            JtiOutcome::ClientChanged if cached => {
                known = (state.clients.load(state, &kid).await?, false);
            }
            JtiOutcome::ClientChanged => {
                state.clients.forget(&kid);
                return Err(refuse("unknown or revoked client"));
            }
        }
    }
}

/// Everything about a signed request that needs no database: the signature against the
/// client's key, the claims, and the digest against the body.
fn check(
    state: &AppState,
    known: &KnownClient,
    token: &str,
    method: &str,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<SignatureClaims, Refusal> {
    let client = &known.client;
    // Until the signature verifies, the kid is only a claim: the refusal is traced under it as
    // such, never as the client's own act.
    let claimed =
        |reason: &str| Refusal { status_400: false, reason: reason.to_owned(), client: Some(format!("claimed:{}", client.client_id)) };
    let with_client = |reason: &str| Refusal { status_400: false, reason: reason.to_owned(), client: Some(client.client_id.clone()) };
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[&state.api.audience]);
    validation.set_issuer(&[&client.client_id]);
    validation.set_required_spec_claims(&["exp", "aud", "iss"]);
    validation.leeway = LEEWAY_S as u64;
    let claims = jsonwebtoken::decode::<SignatureClaims>(token, &known.key, &validation)
        .map_err(|e| claimed(&format!("Agid-JWT-Signature does not verify: {}", signature_problem(&e))))?
        .claims;
    let now = state.clock.now().timestamp();
    if claims.iat > now + LEEWAY_S {
        return Err(with_client("Agid-JWT-Signature is issued in the future"));
    }
    if claims.exp.checked_sub(claims.iat).is_none_or(|life| !(0..=MAX_LIFETIME_S).contains(&life)) {
        return Err(with_client("Agid-JWT-Signature lives longer than five minutes"));
    }
    if claims.htm != method || claims.htu != target {
        return Err(with_client("Agid-JWT-Signature was made for another method or request target (htm/htu)"));
    }
    if claims.jti.is_empty() || claims.jti.len() > 128 {
        return Err(with_client("Agid-JWT-Signature needs a jti of 1 to 128 characters"));
    }
    // The digest: signed, sent, and the body's.
    let signed = |name: &str| claims.signed_headers.iter().find_map(|h| h.get(name)).and_then(|v| v.as_str().map(str::to_owned));
    let sent = headers.get("digest").and_then(|v| v.to_str().ok()).ok_or_else(|| with_client("the Digest header is missing"))?;
    if signed("digest").as_deref() != Some(sent) {
        return Err(with_client("the Digest header is not the one signed in signed_headers"));
    }
    if sent != digest_header(body) {
        return Err(Refusal {
            status_400: true,
            reason: "does not match the body: the body was altered".into(),
            client: Some(client.client_id.clone()),
        });
    }
    if !body.is_empty() {
        let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        if signed("content-type").as_deref() != Some(ct) {
            return Err(with_client("the Content-Type header is not the one signed in signed_headers"));
        }
    }
    Ok(claims)
}

fn signature_problem(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind::*;
    match e.kind() {
        ExpiredSignature => "expired",
        InvalidAudience => "wrong aud",
        InvalidIssuer => "iss is not the client",
        InvalidSignature => "bad signature",
        MissingRequiredClaim(_) => "a required claim is missing",
        ImmatureSignature => "not yet valid",
        _ => "malformed",
    }
}

/// The signing side: what a comune's software does before each call.
pub mod client {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    /// A client's identity and private key.
    #[derive(Clone)]
    pub struct Signer {
        /// Client id (goes in `kid` and `iss`).
        pub client_id: String,
        /// The register's API audience.
        pub audience: String,
        key: EncodingKey,
        public_pem: String,
    }

    impl std::fmt::Debug for Signer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Signer").field("client_id", &self.client_id).finish_non_exhaustive()
        }
    }

    impl Signer {
        /// From a PKCS#8 PEM private key (ES256).
        pub fn new(client_id: &str, audience: &str, private_key_pem: &str) -> Result<Self, String> {
            init_crypto();
            use p256::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
            let key = EncodingKey::from_ec_pem(private_key_pem.as_bytes())
                .map_err(|e| format!("the private key is not a PKCS#8 P-256 PEM: {e}"))?;
            let secret =
                p256::SecretKey::from_pkcs8_pem(private_key_pem).map_err(|e| format!("the private key is not a PKCS#8 P-256 PEM: {e}"))?;
            let public_pem = secret.public_key().to_public_key_pem(LineEnding::LF).map_err(|e| e.to_string())?;
            Ok(Self { client_id: client_id.to_owned(), audience: audience.to_owned(), key, public_pem })
        }

        /// A JWS (ES256, `kid` the signer's id) over any claims: the vouchers the register
        /// issues in the embedded mode.
        pub fn sign_claims<T: Serialize>(&self, typ: Option<&str>, claims: &T) -> Result<String, String> {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some(self.client_id.clone());
            header.typ = typ.map(str::to_owned);
            jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| e.to_string())
        }

        /// The public key (SPKI PEM) that verifies this signer's signatures.
        pub fn public_key_pem(&self) -> &str {
            &self.public_pem
        }

        /// As [`Signer::sign`], for another audience (the register signing a push to a client).
        pub fn sign_to(
            &self,
            audience: &str,
            method: &str,
            target: &str,
            body: &[u8],
            content_type: Option<&str>,
        ) -> Result<(String, String), String> {
            let mut other = self.clone();
            other.audience = audience.to_owned();
            other.sign(method, target, body, content_type)
        }

        /// The headers to send with a `method` request to `target` (path and query) carrying
        /// `body` (`content_type` for a non-empty body): `(Digest, Agid-JWT-Signature)`.
        pub fn sign(&self, method: &str, target: &str, body: &[u8], content_type: Option<&str>) -> Result<(String, String), String> {
            let digest = digest_header(body);
            let now = chrono::Utc::now().timestamp();
            let mut signed_headers = vec![serde_json::Map::from_iter([("digest".to_owned(), serde_json::Value::from(digest.clone()))])];
            if let Some(ct) = content_type {
                signed_headers.push(serde_json::Map::from_iter([("content-type".to_owned(), serde_json::Value::from(ct))]));
            }
            let claims = SignatureClaims {
                iss: self.client_id.clone(),
                aud: self.audience.clone(),
                iat: now,
                exp: now + 60,
                jti: uuid::Uuid::new_v4().to_string(),
                htm: method.to_owned(),
                htu: target.to_owned(),
                signed_headers,
            };
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some(self.client_id.clone());
            let jws = jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| e.to_string())?;
            Ok((digest, jws))
        }
    }

    /// A new P-256 key pair: `(private PKCS#8 PEM, public SPKI PEM)`.
    pub fn generate_key_pair() -> (String, String) {
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let private = secret.to_pkcs8_pem(LineEnding::LF).expect("a fresh P-256 key encodes").to_string();
        let public = secret.public_key().to_public_key_pem(LineEnding::LF).expect("a P-256 public key encodes");
        (private, public)
    }
}

/// Who is calling a register service, and for which comune: a comune's software with a signed
/// request ([`Signed`]), or a registry officer at the office with a session (both factors, CSRF
/// token), acting for the comune of their registry-officer role — the back office uses the
/// same services as the comuni's software. An officer with that role in several comuni names
/// one in the `X-Anagrafe-Comune` header.
#[derive(Debug)]
pub struct Caller {
    /// Who acts, for the services.
    pub principal: Principal,
    /// The body, as received (and signed, for a signed call).
    pub body: Bytes,
}

impl FromRequest<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let has_session = crate::auth::cookie_value(req.headers(), crate::auth::COOKIE).is_some();
        if req.headers().contains_key(SIGNATURE_HEADER) || !has_session {
            let s = Signed::from_request(req, state).await?;
            return Ok(Caller { principal: s.principal(), body: s.body });
        }
        let (mut parts, body) = req.into_parts();
        let officer =
            <crate::auth::OperatorSession as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, state).await?;
        let named = parts.headers.get("x-anagrafe-comune").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let principal = officer_principal(&officer, named.as_deref())?;
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| ApiError::field("body", format!("is larger than {MAX_BODY} bytes or was interrupted")))?;
        Ok(Caller { principal, body })
    }
}

/// A registry officer acting for the comune of their registry-officer role (the one `named`,
/// when they hold it in several).
pub(crate) fn officer_principal(officer: &crate::auth::OperatorSession, named: Option<&str>) -> Result<Principal, ApiError> {
    let scopes: Vec<&str> = officer.operator().roles.iter().filter(|g| g.role == Role::RegistryOfficer).map(|g| g.scope.as_str()).collect();
    let named = named.map(str::to_ascii_uppercase);
    let scope = match (scopes.as_slice(), named) {
        ([], _) => return Err(ApiError::Forbidden("this service is for registry officers".into())),
        (_, Some(n)) => scopes
            .iter()
            .find(|s| **s == n)
            .map(|s| s.to_string())
            .ok_or_else(|| ApiError::Forbidden("X-Anagrafe-Comune names a comune where you are not a registry officer".into()))?,
        ([one], None) => one.to_string(),
        (_, None) => return Err(ApiError::field("X-Anagrafe-Comune", "you are a registry officer of several comuni: name one")),
    };
    let comune = anagrafe_domain::Belfiore::parse(&scope).map_err(|_| ApiError::Forbidden("the role's comune is not valid".into()))?;
    Ok(Principal::registry_officer(
        &officer.operator().username,
        comune,
        &officer.0.session.auth_mode,
        crate::middleware::current_request_id().unwrap_or_default(),
    )
    .with_codice_fiscale(officer.operator().codice_fiscale.clone()))
}
