//! A development OpenID provider built into the demo, so the citizens' login runs offline:
//! discovery, JWKS, an authorization page to pick one of the demo identities (and the level of
//! assurance), and a token endpoint issuing real ES256-signed ID tokens shaped like SPID's
//! (`acr` = `https://www.spid.gov.it/SpidL2`, `https://attributes.eid.gov.it/fiscal_number` =
//! `TINIT-<codice fiscale>`). PKCE (S256) is required. It exists only when configured
//! (`oidc.dev_idp = true`; `anagrafe demo` sets it); otherwise its routes answer 404.

use crate::{ApiError, AppState};
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

/// The client id the register uses with the development provider.
pub const CLIENT_ID: &str = "anagrafe-demo";
/// The development provider's name among the configured providers.
pub const PROVIDER: &str = "dev";

/// A demo identity the provider offers.
#[derive(Debug, Clone)]
pub struct DevIdentity {
    /// Codice fiscale.
    pub codice_fiscale: String,
    /// Given name.
    pub given_name: String,
    /// Surname.
    pub family_name: String,
    /// For a citizen of another EU state, what the eIDAS node gives instead of a codice
    /// fiscale (EU-1): the unique identifier and the birth date.
    pub eidas: Option<DevEidas>,
}

/// The eIDAS part of a demo identity.
#[derive(Debug, Clone)]
pub struct DevEidas {
    /// The eIDAS unique identifier (`DE/IT/…`).
    pub person_identifier: String,
    /// Birth date (`YYYY-MM-DD`).
    pub birth_date: String,
}

impl DevIdentity {
    /// What the authorization page posts to choose it: the codice fiscale, or the eIDAS
    /// identifier.
    pub fn key(&self) -> &str {
        self.eidas.as_ref().map_or(&self.codice_fiscale, |e| &e.person_identifier)
    }
}

struct Grant {
    redirect_uri: String,
    nonce: String,
    challenge: String,
    who: DevIdentity,
    loa: i64,
    created_ms: i64,
}

/// The development provider's key, identities and pending codes.
pub struct DevIdp {
    key: EncodingKey,
    jwk: Value,
    kid: String,
    /// The identities offered on the authorization page.
    pub identities: RwLock<Vec<DevIdentity>>,
    codes: Mutex<HashMap<String, Grant>>,
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdp").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl DevIdp {
    /// A provider with a fresh P-256 key (made at every start: tokens of an earlier run no
    /// longer verify, which is right for a development provider).
    pub fn new(identities: Vec<DevIdentity>) -> Self {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        use p256::pkcs8::EncodePrivateKey;
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let pem = secret.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).expect("a fresh key encodes");
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).expect("a fresh key loads");
        let point = secret.public_key().to_encoded_point(false);
        let kid = hex::encode(&Sha256::digest(point.as_bytes())[..8]);
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": B64URL.encode(point.x().expect("uncompressed point")),
            "y": B64URL.encode(point.y().expect("uncompressed point")),
        });
        Self { key, jwk, kid, identities: RwLock::new(identities), codes: Mutex::new(HashMap::new()) }
    }

    /// Signs an ID token with this provider's key (tests use it to forge variants).
    pub fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &self.key).expect("ES256 signing does not fail")
    }

    /// The provider's public keys (JWKS).
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk.clone()] })
    }
}

/// The provider's issuer for a register served at `base`.
pub fn issuer(base: &str) -> String {
    format!("{}/dev-idp", base.trim_end_matches('/'))
}

/// The provider's routes (404 unless enabled).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev-idp/.well-known/openid-configuration", get(discovery))
        .route("/dev-idp/jwks", get(jwks))
        .route("/dev-idp/authorize", axum::routing::post(authorize))
        .route("/dev-idp/token", axum::routing::post(token))
}

/// The provider, and the register's base URL, when enabled (404 otherwise).
pub(crate) fn enabled(state: &AppState) -> Result<(&DevIdp, String), ApiError> {
    let idp = state.oidc.dev_idp.as_deref().ok_or_else(|| ApiError::NotFound("no development identity provider here".into()))?;
    Ok((idp, state.oidc.base_url.read().unwrap_or_else(|e| e.into_inner()).clone()))
}

async fn discovery(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (_, base) = enabled(&state)?;
    let iss = issuer(&base);
    Ok(axum::Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "jwks_uri": format!("{iss}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
        "acr_values_supported": [
            "https://www.spid.gov.it/SpidL1", "https://www.spid.gov.it/SpidL2", "https://www.spid.gov.it/SpidL3",
            "http://eidas.europa.eu/LoA/low", "http://eidas.europa.eu/LoA/substantial", "http://eidas.europa.eu/LoA/high",
        ],
    }))
    .into_response())
}

async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (idp, _) = enabled(&state)?;
    Ok(axum::Json(idp.jwks()).into_response())
}

/// An authorization request's parameters (the page shows them back as hidden fields).
#[derive(Deserialize)]
pub(crate) struct AuthParams {
    pub(crate) response_type: String,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) code_challenge: String,
    pub(crate) code_challenge_method: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    loa: Option<i64>,
    /// The page's anti-CSRF token (`web::form_token`), on the form's post.
    #[serde(default)]
    csrf: Option<String>,
}

/// The request is the demo client's, with PKCE, state and nonce.
pub(crate) fn check_params(p: &AuthParams, base: &str) -> Result<(), ApiError> {
    if p.response_type != "code" {
        return Err(ApiError::field("response_type", "only `code` is supported"));
    }
    if p.client_id != CLIENT_ID {
        return Err(ApiError::field("client_id", "unknown client"));
    }
    if p.redirect_uri != format!("{}/auth/citizen/callback", base.trim_end_matches('/')) {
        return Err(ApiError::field("redirect_uri", "is not the client's registered redirect URI"));
    }
    if p.code_challenge_method != "S256" || p.code_challenge.len() < 43 {
        return Err(ApiError::field("code_challenge", "PKCE with S256 is required"));
    }
    if p.state.is_empty() || p.nonce.is_empty() {
        return Err(ApiError::field("nonce", "state and nonce are required"));
    }
    Ok(())
}

async fn authorize(State(state): State<AppState>, headers: axum::http::HeaderMap, Form(p): Form<AuthParams>) -> Result<Response, ApiError> {
    let (idp, base) = enabled(&state)?;
    check_params(&p, &base)?;
    // A post from another site does not choose an identity (the page's double-submit token).
    if !crate::web::form_token_ok(&headers, p.csrf.as_deref().unwrap_or_default()) {
        return Err(ApiError::field("csrf", "the form's anti-CSRF token is missing or does not match: open the login page again"));
    }
    let cf = p.identity.clone().ok_or_else(|| ApiError::field("identity", "choose an identity"))?;
    let who = idp
        .identities
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|w| w.key() == cf)
        .cloned()
        .ok_or_else(|| ApiError::field("identity", "is not one of the demo identities"))?;
    let loa = p.loa.unwrap_or(2).clamp(1, 3);
    let code = crate::auth::random_token();
    let now = state.clock.now_ms();
    {
        let mut codes = idp.codes.lock().unwrap_or_else(|e| e.into_inner());
        codes.retain(|_, g| now - g.created_ms < 60_000);
        codes.insert(
            code.clone(),
            Grant { redirect_uri: p.redirect_uri.clone(), nonce: p.nonce, challenge: p.code_challenge, who, loa, created_ms: now },
        );
    }
    let mut to = url::Url::parse(&p.redirect_uri).map_err(|_| ApiError::field("redirect_uri", "is not a URL"))?;
    to.query_pairs_mut().append_pair("code", &code).append_pair("state", &p.state);
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(to.as_str()).map_err(|e| ApiError::Internal(e.to_string()))?);
    let _ = p.scope;
    Ok(r)
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
}

async fn token(State(state): State<AppState>, Form(f): Form<TokenForm>) -> Result<Response, ApiError> {
    let (idp, base) = enabled(&state)?;
    let invalid = |why: &str| -> Result<Response, ApiError> {
        Ok((StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "invalid_grant", "error_description": why }))).into_response())
    };
    if f.grant_type != "authorization_code" || f.client_id != CLIENT_ID {
        return invalid("unsupported grant or client");
    }
    let _ = f.client_secret;
    let Some(g) = idp.codes.lock().unwrap_or_else(|e| e.into_inner()).remove(&f.code) else {
        return invalid("unknown or used code");
    };
    let now = state.clock.now_ms();
    if now - g.created_ms > 60_000 || g.redirect_uri != f.redirect_uri {
        return invalid("expired code or another redirect URI");
    }
    if B64URL.encode(Sha256::digest(f.code_verifier.as_bytes())) != g.challenge {
        return invalid("the PKCE verifier does not match");
    }
    let now_s = now / 1000;
    if let Some(e) = &g.who.eidas {
        // Shaped like the Italian eIDAS node's: the eIDAS level, the unique identifier and the
        // minimum data set, no codice fiscale.
        let acr = ["low", "substantial", "high"][(g.loa.clamp(1, 3) - 1) as usize];
        let claims = json!({
            "iss": issuer(&base),
            "sub": hex::encode(&Sha256::digest(e.person_identifier.as_bytes())[..16]),
            "aud": CLIENT_ID,
            "iat": now_s,
            "exp": now_s + 300,
            "auth_time": now_s,
            "nonce": g.nonce,
            "acr": format!("http://eidas.europa.eu/LoA/{acr}"),
            "amr": ["pwd", "otp"],
            "person_identifier": e.person_identifier,
            "given_name": g.who.given_name,
            "family_name": g.who.family_name,
            "birthdate": e.birth_date,
        });
        return Ok(axum::Json(json!({
            "access_token": crate::auth::random_token(),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": idp.sign(&claims),
        }))
        .into_response());
    }
    let claims = json!({
        "iss": issuer(&base),
        "sub": hex::encode(&Sha256::digest(g.who.codice_fiscale.as_bytes())[..16]),
        "aud": CLIENT_ID,
        "iat": now_s,
        "exp": now_s + 300,
        "auth_time": now_s,
        "nonce": g.nonce,
        "acr": format!("https://www.spid.gov.it/SpidL{}", g.loa),
        "amr": if g.loa >= 2 { vec!["pwd", "otp"] } else { vec!["pwd"] },
        "https://attributes.eid.gov.it/fiscal_number": format!("TINIT-{}", g.who.codice_fiscale),
        "given_name": g.who.given_name,
        "family_name": g.who.family_name,
    });
    Ok(axum::Json(json!({
        "access_token": crate::auth::random_token(),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": idp.sign(&claims),
    }))
    .into_response())
}
