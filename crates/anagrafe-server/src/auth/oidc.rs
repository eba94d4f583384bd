//! Citizens' login by OpenID Connect (CIT-1, EU-1, SEC-1): authorization code with PKCE (S256),
//! `state` bound to the browser by a cookie and kept single-use in the database, `nonce` in the
//! ID token, the token's signature checked against the provider's published keys, its issuer,
//! audience and expiry, and the level of assurance read from `acr`. SPID, CIE and the eIDAS
//! node are OpenID providers in production; `dev_idp` is one built into the demo.
//!
//! After a valid login the register checks by codice fiscale that the person is in the register
//! (CIT-1) before opening a citizen session.

use crate::auth::{COOKIE, random_token, token_hash};
use crate::web::i18n;
use crate::{ApiError, AppState};
use anagrafe_store::{AuditEntry, OidcFlow, Session};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// Cookie binding a login in progress to the browser that started it.
pub const FLOW_COOKIE: &str = "__Host-anagrafe-oidc";
/// How long a login may stay at the provider (seconds).
pub const FLOW_TTL_S: i64 = 600;
/// Claims that may carry the codice fiscale (SPID/CIE attribute name first).
pub const CF_CLAIMS: &[&str] = &["https://attributes.eid.gov.it/fiscal_number", "fiscal_number", "fiscalNumber"];

/// A configured identity provider.
#[derive(Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Name used in URLs and traces (`spid`, `cie`, `eidas`, `dev`…).
    pub name: String,
    /// Issuer identifier; its discovery document is at `ISSUER/.well-known/openid-configuration`.
    pub issuer: String,
    /// This register's client id at the provider.
    pub client_id: String,
    /// Client secret (`client_secret_post`), when the provider uses one.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Scopes asked for.
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// Lowest level of assurance accepted (2 = significant, the reserved area's).
    #[serde(default = "default_min_loa")]
    pub min_loa: i64,
}

impl Provider {
    /// The development provider built into the demo (`dev_idp`); its issuer follows the base
    /// URL.
    pub fn development() -> Self {
        Self {
            name: super::dev_idp::PROVIDER.into(),
            issuer: String::new(),
            client_id: super::dev_idp::CLIENT_ID.into(),
            client_secret: None,
            scopes: "openid profile".into(),
            min_loa: 2,
        }
    }
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("min_loa", &self.min_loa)
            .finish()
    }
}

fn default_scopes() -> String {
    "openid profile".into()
}

fn default_min_loa() -> i64 {
    2
}

/// The providers, where the register is reached, and what was learnt from the providers.
#[derive(Debug, Default)]
pub struct OidcSettings {
    /// Configured providers.
    pub providers: Vec<Provider>,
    /// The register's public base URL (`http://127.0.0.1:8080`); redirect URIs hang from it.
    pub base_url: RwLock<String>,
    /// The development identity provider, when enabled.
    pub dev_idp: Option<Arc<super::dev_idp::DevIdp>>,
    known: Mutex<HashMap<String, Arc<Known>>>,
}

#[derive(Debug)]
struct Known {
    authorization_endpoint: String,
    token_endpoint: String,
    jwks: jsonwebtoken::jwk::JwkSet,
}

impl OidcSettings {
    /// Settings for `providers`, the register being reached at `base_url`.
    pub fn new(providers: Vec<Provider>, base_url: &str, dev_idp: Option<Arc<super::dev_idp::DevIdp>>) -> Self {
        Self { providers, base_url: RwLock::new(base_url.to_owned()), dev_idp, known: Mutex::default() }
    }

    /// The redirect URI registered with every provider.
    pub fn redirect_uri(&self) -> String {
        format!("{}/auth/citizen/callback", self.base_url.read().unwrap_or_else(|e| e.into_inner()).trim_end_matches('/'))
    }

    /// Sets the public base URL when none was configured (the address just bound).
    pub fn default_base_url(&self, base: &str) {
        let mut b = self.base_url.write().unwrap_or_else(|e| e.into_inner());
        if b.is_empty() {
            *b = base.to_owned();
        }
    }

    /// A provider by name (the first when none is named). The development provider's issuer
    /// follows the register's base URL.
    fn provider(&self, name: Option<&str>) -> Option<Provider> {
        let mut p = match name {
            Some(n) => self.providers.iter().find(|p| p.name == n),
            None => self.providers.first(),
        }?
        .clone();
        if p.name == super::dev_idp::PROVIDER && self.dev_idp.is_some() {
            p.issuer = super::dev_idp::issuer(&self.base_url.read().unwrap_or_else(|e| e.into_inner()));
        }
        Some(p)
    }
}

/// The HTTP client for providers: no redirects followed (no server-side request forgery
/// through a provider's answers), short timeouts.
fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| crate::outbound::client(std::time::Duration::from_secs(10)))
}

pub(crate) async fn get_json(url: &str) -> Result<Value, String> {
    let r = http().get(url).header("accept", "application/json").send().await.map_err(|e| format!("{url}: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("{url}: HTTP {}", r.status()));
    }
    r.json().await.map_err(|e| format!("{url}: {e}"))
}

async fn discover(s: &OidcSettings, p: &Provider, refresh_keys: bool) -> Result<Arc<Known>, String> {
    if !refresh_keys && let Some(k) = s.known.lock().unwrap_or_else(|e| e.into_inner()).get(&p.name) {
        return Ok(k.clone());
    }
    let meta = get_json(&format!("{}/.well-known/openid-configuration", p.issuer.trim_end_matches('/'))).await?;
    let field = |k: &str| meta[k].as_str().map(str::to_owned).ok_or_else(|| format!("the provider's discovery document has no {k}"));
    if field("issuer")? != p.issuer {
        return Err("the provider's discovery document names another issuer".into());
    }
    let jwks_uri = field("jwks_uri")?;
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(get_json(&jwks_uri).await?).map_err(|e| format!("JWKS: {e}"))?;
    let k = Arc::new(Known { authorization_endpoint: field("authorization_endpoint")?, token_endpoint: field("token_endpoint")?, jwks });
    s.known.lock().unwrap_or_else(|e| e.into_inner()).insert(p.name.clone(), k.clone());
    Ok(k)
}

/// The level of assurance an `acr` value stands for: 1 low, 2 significant/substantial, 3 high.
pub fn loa_of(acr: &str) -> i64 {
    match acr {
        "https://www.spid.gov.it/SpidL1" | "CIE_L1" | "http://eidas.europa.eu/LoA/low" => 1,
        "https://www.spid.gov.it/SpidL2" | "CIE_L2" | "http://eidas.europa.eu/LoA/substantial" => 2,
        "https://www.spid.gov.it/SpidL3" | "CIE_L3" | "http://eidas.europa.eu/LoA/high" => 3,
        _ => 0,
    }
}

/// What a valid ID token says of the citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Codice fiscale (SPID, CIE; an eIDAS identity of a person known to Italy's tax register).
    pub codice_fiscale: Option<String>,
    /// An eIDAS identity without a codice fiscale (EU-1).
    pub eidas: Option<EidasIdentity>,
    /// Level of assurance.
    pub loa: i64,
    /// How the person authenticated at the provider (`amr`: e.g. `pwd`, `otp`, `smartcard`).
    pub amr: Vec<String>,
    /// The provider's subject.
    pub subject: String,
}

/// The eIDAS minimum data set of a natural person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EidasIdentity {
    /// The eIDAS unique identifier (`CC/IT/…`).
    pub person_identifier: String,
    /// Current family name.
    pub family_name: String,
    /// Current given name.
    pub given_name: String,
    /// Date of birth (YYYY-MM-DD).
    pub birth_date: String,
}

/// Claims that may carry the eIDAS unique identifier.
pub const EIDAS_ID_CLAIMS: &[&str] = &["person_identifier", "https://attributes.eid.gov.it/eidas_person_identifier"];

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    /// Authenticated at a level of assurance below the service's (a SPID level 1 login, say).
    #[error("the level of assurance {loa} is below the {min} this service requires")]
    LowLevel {
        /// The level the provider vouched for.
        loa: i64,
        /// The level the service requires.
        min: i64,
    },
    /// Anything else: not valid, not ours, not for us.
    #[error("{0}")]
    Invalid(String),
}

impl From<String> for IdTokenError {
    fn from(s: String) -> Self {
        IdTokenError::Invalid(s)
    }
}

impl From<&str> for IdTokenError {
    fn from(s: &str) -> Self {
        IdTokenError::Invalid(s.to_owned())
    }
}

/// Checks an ID token: signature by a key of `keys` (algorithms RS256, PS256, ES256 only),
/// issuer, audience, expiry, nonce, level of assurance, and who it is: a codice fiscale, or an
/// eIDAS identifier with the minimum data set.
pub fn validate_id_token(token: &str, keys: &jsonwebtoken::jwk::JwkSet, p: &Provider, nonce: &str) -> Result<Identity, IdTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| "the ID token is not a JWS".to_owned())?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256) {
        return Err(format!("the ID token's algorithm {:?} is not accepted", header.alg).into());
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| "the ID token is signed by a key the provider does not publish".to_owned())?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("the provider's key is unusable: {e}"))?;
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[&p.issuer]);
    v.set_audience(&[&p.client_id]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    v.leeway = 60;
    let claims = jsonwebtoken::decode::<Value>(token, &key, &v)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind::*;
            match e.kind() {
                InvalidIssuer => "the ID token is from another issuer".to_owned(),
                InvalidAudience => "the ID token is for another client".to_owned(),
                ExpiredSignature => "the ID token has expired".to_owned(),
                InvalidSignature => "the ID token's signature does not verify".to_owned(),
                _ => format!("the ID token is not valid: {e}"),
            }
        })?
        .claims;
    if claims["nonce"].as_str() != Some(nonce) {
        return Err("the ID token's nonce is not this login's".into());
    }
    let loa = claims["acr"].as_str().map(loa_of).unwrap_or(0);
    if loa < p.min_loa {
        return Err(IdTokenError::LowLevel { loa, min: p.min_loa });
    }
    let subject = claims["sub"].as_str().unwrap_or_default().to_owned();
    let amr: Vec<String> = claims["amr"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).take(8).map(|v| v.chars().take(32).collect()).collect())
        .unwrap_or_default();
    if let Some(raw) = CF_CLAIMS.iter().find_map(|c| claims[*c].as_str()) {
        let cf = anagrafe_domain::CodiceFiscale::parse(raw.trim_start_matches("TINIT-"))
            .map_err(|_| "the identity's codice fiscale is not valid".to_owned())?;
        return Ok(Identity { codice_fiscale: Some(cf.to_string()), eidas: None, loa, amr, subject });
    }
    // An eIDAS identity: the unique identifier with the minimum data set.
    let text = |k: &str| claims[k].as_str().filter(|v| !v.is_empty() && v.len() <= 256).map(str::to_owned);
    let Some(person_identifier) = EIDAS_ID_CLAIMS.iter().find_map(|c| text(c)) else {
        return Err("the identity carries neither a codice fiscale nor an eIDAS person identifier".into());
    };
    let (Some(family_name), Some(given_name), Some(birth_date)) = (text("family_name"), text("given_name"), text("birthdate")) else {
        return Err("the eIDAS identity lacks the minimum data set (family_name, given_name, birthdate)".into());
    };
    Ok(Identity {
        codice_fiscale: None,
        eidas: Some(EidasIdentity { person_identifier, family_name, given_name, birth_date }),
        loa,
        amr,
        subject,
    })
}

/// The routes of citizens' login.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/citizen/login", get(start))
        .route("/auth/citizen/callback", get(callback))
        .route("/auth/citizen/me", get(me))
        .route("/auth/citizen/logout", post(logout))
}

#[derive(Deserialize)]
struct StartQuery {
    provider: Option<String>,
}

fn pkce_challenge(verifier: &str) -> String {
    B64URL.encode(Sha256::digest(verifier.as_bytes()))
}

fn cookie(name: &str, value: &str, max_age_s: i64, same_site: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite={same_site}; Max-Age={max_age_s}"))
        .unwrap_or(HeaderValue::from_static(""))
}

async fn start(State(state): State<AppState>, Query(q): Query<StartQuery>) -> Result<Response, ApiError> {
    let p =
        state.oidc.provider(q.provider.as_deref()).ok_or_else(|| ApiError::field("provider", "no such identity provider is configured"))?;
    let known = discover(&state.oidc, &p, false).await.map_err(ApiError::Unavailable)?;
    let (st, nonce, verifier) = (random_token(), random_token(), format!("{}{}", random_token(), random_token()));
    let flow = OidcFlow {
        state_hash: token_hash(&st),
        provider: p.name.clone(),
        nonce: nonce.clone(),
        pkce_verifier: verifier.clone(),
        created_at: state.clock.now_ms(),
    };
    state.store.save_oidc_flow(&flow).await?;
    let mut url = url::Url::parse(&known.authorization_endpoint).map_err(|e| ApiError::Unavailable(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &p.client_id)
        .append_pair("redirect_uri", &state.oidc.redirect_uri())
        .append_pair("scope", &p.scopes)
        .append_pair("state", &st)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &pkce_challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    let mut resp = StatusCode::SEE_OTHER.into_response();
    resp.headers_mut().insert(header::LOCATION, HeaderValue::from_str(url.as_str()).map_err(|e| ApiError::Internal(e.to_string()))?);
    // Lax: the provider sends the browser back with a top-level cross-site navigation.
    resp.headers_mut().append(header::SET_COOKIE, cookie(FLOW_COOKIE, &st, FLOW_TTL_S, "Lax"));
    Ok(resp)
}

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

fn refusal(reason: &str, provider: &str) -> AuditEntry {
    super::entry("unauthenticated", &format!("oidc:{provider}"), "citizen.login", "refused", json!({ "reason": reason }))
}

/// `GET /auth/citizen/callback`: the browser comes back from the provider. A refusal is a page
/// (the person is in a browser, not a client of the API): a login at too low a level says which
/// level the reserved area needs.
async fn callback(State(state): State<AppState>, ui: crate::web::Ui, headers: HeaderMap, Query(q): Query<CallbackQuery>) -> Response {
    match callback_flow(&state, &headers, q).await {
        Ok(r) => r,
        Err(Refused::LowLevel { loa, min }) => {
            let text = i18n::t_args(ui.lang, "login-low-level", &[("loa", &loa.to_string()), ("min", &min.to_string())]);
            let c = crate::web::Chrome::new(&ui, "login-low-level-title");
            let next = Some((ui.t("login-again"), "/accedi".to_owned()));
            crate::web::html(StatusCode::FORBIDDEN, &crate::web::MessagePage { c, text, alert: true, next })
        }
        Err(Refused::Api(e)) => crate::web::error_page(&ui, e),
    }
}

/// Why the callback gave no session.
enum Refused {
    /// Too low a level of assurance.
    LowLevel { loa: i64, min: i64 },
    /// Any other refusal or failure.
    Api(ApiError),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Refused::Api(e)
    }
}

impl From<anagrafe_store::StoreError> for Refused {
    fn from(e: anagrafe_store::StoreError) -> Self {
        Refused::Api(e.into())
    }
}

async fn callback_flow(state: &AppState, headers: &HeaderMap, q: CallbackQuery) -> Result<Response, Refused> {
    let refuse = |reason: String, provider: String| {
        let state = state.clone();
        async move {
            state.store.audit(&refusal(&reason, &provider)).await?;
            Err::<Response, Refused>(Refused::Api(ApiError::Unauthorized(reason)))
        }
    };
    if let Some(e) = q.error.as_deref() {
        let e: String = e.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
        return refuse(format!("the identity provider refused the login: {e}"), "?".into()).await;
    }
    let st = q.state.ok_or_else(|| ApiError::field("state", "is missing"))?;
    let code = q.code.ok_or_else(|| ApiError::field("code", "is missing"))?;
    let bound = super::cookie_value(headers, FLOW_COOKIE);
    if !bound.as_deref().is_some_and(|b| super::same(b, &st)) {
        return refuse("the login was not started in this browser".into(), "?".into()).await;
    }
    let now = state.clock.now_ms();
    let Some(flow) = state.store.take_oidc_flow(&token_hash(&st), now - FLOW_TTL_S * 1000).await? else {
        return refuse("the login has expired or was already completed".into(), "?".into()).await;
    };
    let p =
        state.oidc.provider(Some(&flow.provider)).ok_or_else(|| ApiError::Unavailable("the provider is no longer configured".into()))?;
    let known = discover(&state.oidc, &p, false).await.map_err(ApiError::Unavailable)?;
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", state.oidc.redirect_uri()),
        ("code_verifier", flow.pkce_verifier.clone()),
        ("client_id", p.client_id.clone()),
    ];
    if let Some(secret) = &p.client_secret {
        form.push(("client_secret", secret.clone()));
    }
    let resp =
        http().post(&known.token_endpoint).form(&form).send().await.map_err(|e| ApiError::Unavailable(format!("token endpoint: {e}")))?;
    if !resp.status().is_success() {
        return refuse(format!("the identity provider did not give a token (HTTP {})", resp.status().as_u16()), p.name.clone()).await;
    }
    let tokens: Value = resp.json().await.map_err(|e| ApiError::Unavailable(format!("token endpoint: {e}")))?;
    let Some(id_token) = tokens["id_token"].as_str() else {
        return refuse("the identity provider gave no ID token".into(), p.name.clone()).await;
    };
    let mut checked = validate_id_token(id_token, &known.jwks, &p, &flow.nonce);
    if checked.as_ref().is_err_and(|e| e.to_string().contains("does not publish")) {
        // The provider may have rotated its keys: read them again once.
        let fresh = discover(&state.oidc, &p, true).await.map_err(ApiError::Unavailable)?;
        checked = validate_id_token(id_token, &fresh.jwks, &p, &flow.nonce);
    }
    let id = match checked {
        Ok(id) => id,
        Err(e @ IdTokenError::LowLevel { loa, min }) => {
            state.store.audit(&refusal(&e.to_string(), &p.name)).await?;
            return Err(Refused::LowLevel { loa, min });
        }
        Err(e) => return refuse(e.to_string(), p.name.clone()).await,
    };
    let Some(code) = id.codice_fiscale.clone() else {
        // EU-1: a citizen of another EU state, by the eIDAS unique identifier.
        return eu_login(state, &p, id, now).await;
    };
    let id = IdentityCf { codice_fiscale: code, loa: id.loa, amr: id.amr };
    // CIT-1: the reserved area opens only for a person in the register.
    let cf = anagrafe_domain::CodiceFiscale::parse(&id.codice_fiscale).map_err(|_| ApiError::Internal("checked code".into()))?;
    let registered = state.store.find_by_cf(&cf, None).await?;
    let auth_mode = format!("oidc:{}", p.name);
    let Some(&person) = registered.first() else {
        let mut e = refusal("not in the register", &p.name);
        e.actor = format!("citizen:{}", id.codice_fiscale);
        e.actor_cf = Some(id.codice_fiscale.clone());
        state.store.audit(&e).await?;
        return Err(ApiError::Forbidden(
            "this codice fiscale is not in the register; citizens of other EU states are validated by the EU services".into(),
        )
        .into());
    };
    let mut entry = super::entry(
        &format!("citizen:{}", id.codice_fiscale),
        &auth_mode,
        "citizen.login",
        "ok",
        json!({ "provider": p.name, "loa": id.loa, "amr": id.amr }),
    );
    entry.actor_cf = Some(id.codice_fiscale.clone());
    entry.subject_person = Some(person);
    entry.subject_cf = Some(id.codice_fiscale.clone());
    let login = Login { kind: "citizen", subject: id.codice_fiscale.clone(), auth_mode, loa: id.loa, eidas_id: None };
    open(state, login, &entry, now, "/area-personale").await
}

/// The session a login opens.
struct Login {
    /// `citizen` (a person in the register) or `eu` (an EU citizen not yet registered).
    kind: &'static str,
    /// The codice fiscale, or the eIDAS identifier.
    subject: String,
    auth_mode: String,
    loa: i64,
    eidas_id: Option<String>,
}

/// Opens `login`'s session, traced with `entry`, and sends the browser to `to` with its cookie
/// (Lax, not Strict: the browser arrives from the provider's site) and the flow's cookie
/// cleared.
async fn open(state: &AppState, login: Login, entry: &AuditEntry, now: i64, to: &'static str) -> Result<Response, Refused> {
    let token = random_token();
    let session = Session {
        token_hash: token_hash(&token),
        kind: login.kind.into(),
        subject: login.subject,
        auth_mode: login.auth_mode,
        loa: login.loa,
        second_factor: login.loa >= 2,
        csrf_token: random_token(),
        created_at: now,
        last_seen_at: now,
        authenticated_at: now,
        expires_at: now + state.auth.absolute_timeout_s * 1000,
        ended_at: None,
        eidas_id: login.eidas_id,
    };
    state.store.open_session(&session, None, entry).await?;
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_static(to));
    r.headers_mut().append(header::SET_COOKIE, cookie(COOKIE, &token, state.auth.absolute_timeout_s, "Lax"));
    r.headers_mut().append(header::SET_COOKIE, cookie(FLOW_COOKIE, "", 0, "Lax"));
    Ok(r)
}

/// An eIDAS login (EU-1): the identity's minimum data set is recorded; a person the register
/// now holds (registered through the EU services) gets the citizen's reserved area with the
/// record's codice fiscale, anyone else the EU citizens' area, where the data are validated
/// first (EU-2). Either session carries the eIDAS identifier into every trace entry (SEC-4).
async fn eu_login(state: &AppState, p: &Provider, id: Identity, now: i64) -> Result<Response, Refused> {
    let Some(eidas) = id.eidas else { return Err(ApiError::Internal("an identity without codice fiscale is an eIDAS one".into()).into()) };
    let refuse = |reason: &str| {
        let mut e = refusal(reason, &p.name);
        e.eidas_id = Some(eidas.person_identifier.clone());
        e
    };
    let (Ok(eid), Ok(birth_date)) =
        (anagrafe_domain::eu::EidasId::parse(&eidas.person_identifier), eidas.birth_date.parse::<chrono::NaiveDate>())
    else {
        state.store.audit(&refuse("the eIDAS identifier or birth date is not valid")).await?;
        return Err(ApiError::Unauthorized("the eIDAS identity is not valid".into()).into());
    };
    let person = anagrafe_domain::eu::EidasPerson {
        id: eid.clone(),
        family_name: eidas.family_name.clone(),
        given_name: eidas.given_name.clone(),
        birth_date,
    };
    let standing = state.eu().logged_in(&person).await.map_err(ApiError::from)?;
    let auth_mode = format!("oidc:{}", p.name);
    let registered = match standing.profile.person_id {
        Some(pid) => state.store.person(pid, None).await?.record.generalita.codice_fiscale.map(|cf| (pid, cf.to_string())),
        None => None,
    };
    let (kind, subject, actor, to) = match &registered {
        Some((_, cf)) => ("citizen", cf.clone(), format!("citizen:{cf}"), "/area-personale"),
        None => ("eu", eid.to_string(), format!("eidas:{eid}"), "/ue"),
    };
    let mut entry =
        super::entry(&actor, &auth_mode, "citizen.login", "ok", json!({ "provider": p.name, "loa": id.loa, "amr": id.amr, "eidas": true }));
    entry.eidas_id = Some(eid.to_string());
    if let Some((pid, cf)) = &registered {
        entry.actor_cf = Some(cf.clone());
        entry.subject_person = Some(*pid);
        entry.subject_cf = Some(cf.clone());
    }
    let login = Login { kind, subject, auth_mode, loa: id.loa, eidas_id: Some(eid.to_string()) };
    open(state, login, &entry, now, to).await
}

/// An identity with its codice fiscale.
struct IdentityCf {
    codice_fiscale: String,
    loa: i64,
    amr: Vec<String>,
}

/// A citizen's session.
#[derive(Debug, Clone)]
pub struct CitizenSession {
    /// The session (subject: the codice fiscale).
    pub session: Session,
}

impl axum::extract::FromRequestParts<AppState> for CitizenSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(CitizenSession { session: super::current_session(parts, state, "citizen").await? })
    }
}

async fn me(State(state): State<AppState>, s: CitizenSession) -> Result<Response, ApiError> {
    let cf = anagrafe_domain::CodiceFiscale::parse(&s.session.subject).map_err(|_| ApiError::Internal("stored code".into()))?;
    let person = state.store.find_by_cf(&cf, None).await?.first().copied();
    let id_anpr = match person {
        Some(pid) => state.store.person(pid, None).await?.record.id_anpr.map(|i| i.to_string()),
        None => None,
    };
    Ok(axum::Json(json!({
        "codice_fiscale": s.session.subject,
        "id_anpr": id_anpr,
        "auth_mode": s.session.auth_mode,
        "loa": s.session.loa,
        "expires_at": s.session.expires_at,
        "csrf_token": s.session.csrf_token,
    }))
    .into_response())
}

async fn logout(State(state): State<AppState>, s: CitizenSession) -> Result<Response, ApiError> {
    let mut e = super::entry(&format!("citizen:{}", s.session.subject), &s.session.auth_mode, "citizen.logout", "ok", json!({}));
    e.actor_cf = Some(s.session.subject.clone());
    state.store.end_sessions("citizen", &s.session.subject, Some(&s.session.token_hash), &e).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().append(header::SET_COOKIE, cookie(COOKIE, "", 0, "Lax"));
    Ok(r)
}
