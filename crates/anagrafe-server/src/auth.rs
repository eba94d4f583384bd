//! Identity and access (issue 6, first part): operator login with password and TOTP second
//! factor, lockout with back-off, enrolment, password change, server-side sessions in the
//! database (so several instances share them) with CSRF tokens, logout and logout everywhere.
//!
//! Routes (JSON; pages come with the web application):
//! - `POST /auth/operator/login` `{username, password, totp?}`: with a second factor enrolled the
//!   code is required and each code is good once; without, the session opened serves only
//!   enrolment (`second_factor: false`);
//! - `POST /auth/operator/totp/enrol` → `{secret, otpauth_uri}`; `POST /auth/operator/totp/confirm`
//!   `{code}`;
//! - `POST /auth/operator/password` `{current, new}` (ends every session of the account: log in
//!   again with the new password);
//! - `POST /auth/operator/reauth` `{password, totp}`: a fresh authentication, which sensitive
//!   actions require within `reauth_window_s`;
//! - `POST /auth/logout`, `POST /auth/logout-everywhere`; `GET /auth/me`.
//!
//! Every state-changing request with a session carries `X-CSRF-Token` (given at login).
//! Every login, failure, enrolment, password change and logout is traced with the
//! authentication mode.

pub mod dev_idp;
pub mod limits;
pub mod oidc;
pub mod password;
pub mod secrets;
pub mod totp;

use crate::error::FieldProblem;
use crate::{ApiError, AppState};
use anagrafe_store::{AuditEntry, Operator, OperatorUpdate, Session};
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The session cookie (`__Host-`: Secure, path `/`, no domain).
pub const COOKIE: &str = "__Host-anagrafe-session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Session and login policy.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session unused this long ends (seconds).
    pub idle_timeout_s: i64,
    /// A session ends this long after login whatever happens (seconds).
    pub absolute_timeout_s: i64,
    /// Sensitive actions need an authentication at most this old (seconds).
    pub reauth_window_s: i64,
    /// Failed logins on an account from one address within `lock_base_s` before that address
    /// may not try the account again until the period ends; from anywhere, ten times as many
    /// lock the account (with back-off) for every address where the operator has not logged in
    /// before.
    pub max_failures: i64,
    /// The period of the per-address count, and the first account-wide lock (seconds); each
    /// further failure doubles the account-wide lock, up to an hour.
    pub lock_base_s: i64,
    /// Cost of new password hashes.
    pub password_cost: password::Cost,
    /// Issuer shown by authenticator apps.
    pub totp_issuer: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            idle_timeout_s: 15 * 60,
            absolute_timeout_s: 8 * 3600,
            reauth_window_s: 5 * 60,
            max_failures: 5,
            lock_base_s: 60,
            password_cost: password::Cost::default(),
            totp_issuer: "Anagrafe".into(),
        }
    }
}

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/operator/login", post(login))
        .route("/auth/operator/totp/enrol", post(enrol))
        .route("/auth/operator/totp/confirm", post(confirm))
        .route("/auth/operator/password", post(change_password))
        .route("/auth/operator/reauth", post(reauth))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-everywhere", post(logout_everywhere))
        .route("/auth/me", get(me))
        .merge(oidc::routes())
        .merge(dev_idp::routes())
}

/// SHA-256 (hex) of a session token: what the database keeps.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn random_token() -> String {
    B64URL.encode(rand::random::<[u8; 32]>())
}

/// The value of cookie `name`, if sent (and of a sane length).
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The open session of kind `kind` the request's cookie names: not ended, not expired, not
/// idle too long; for a state-changing method, the CSRF token must be sent too. Activity is
/// recorded at most every 30 s (idle expiry needs no more precision).
pub(crate) async fn current_session(parts: &Parts, state: &AppState, kind: &str) -> Result<Session, ApiError> {
    let check_csrf = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    session_of(parts, state, kind, check_csrf).await
}

/// The open session of kind `kind`, checking the `X-CSRF-Token` header only when `check_csrf`
/// (the web pages' forms carry the token in their body and check it themselves).
pub(crate) async fn session_of(parts: &Parts, state: &AppState, kind: &str, check_csrf: bool) -> Result<Session, ApiError> {
    let token = cookie_value(&parts.headers, COOKIE).ok_or_else(|| ApiError::Unauthorized("log in first".into()))?;
    let hash = token_hash(&token);
    let expired = || ApiError::Unauthorized("the session has ended or expired: log in again".into());
    let session = state.store.session(&hash).await?.filter(|s| s.kind == kind && s.ended_at.is_none()).ok_or_else(expired)?;
    let now = state.clock.now_ms();
    if now >= session.expires_at || now - session.last_seen_at > state.auth.idle_timeout_s * 1000 {
        return Err(expired());
    }
    if check_csrf {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !same(sent, &session.csrf_token) {
            return Err(ApiError::Forbidden("the X-CSRF-Token header is missing or wrong".into()));
        }
    }
    if now - session.last_seen_at > 30_000 {
        state.store.touch_session(&hash, now, false, false).await?;
    }
    Ok(session)
}

pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An audit entry of the login surfaces, for the request being served.
pub(crate) fn entry(actor: &str, auth_mode: &str, operation: &str, outcome: &str, detail: serde_json::Value) -> AuditEntry {
    AuditEntry {
        request_id: crate::middleware::current_request_id().unwrap_or_default(),
        actor: actor.to_owned(),
        actor_cf: None,
        eidas_id: None,
        auth_mode: auth_mode.to_owned(),
        operation: operation.to_owned(),
        outcome: outcome.to_owned(),
        subject_person: None,
        subject_cf: None,
        detail: detail.to_string(),
    }
}

/// An operator's session that passed the first factor (enough for enrolment and logout).
#[derive(Debug, Clone)]
pub struct FirstFactor {
    /// The session.
    pub session: Session,
    /// The operator.
    pub operator: Operator,
}

/// An operator's session with both factors: what every operator route requires.
#[derive(Debug, Clone)]
pub struct OperatorSession(pub FirstFactor);

impl OperatorSession {
    /// The operator.
    pub fn operator(&self) -> &Operator {
        &self.0.operator
    }

    /// Refuses unless the operator holds `role` (at `scope`, when given).
    pub fn require_role(&self, role: anagrafe_domain::Role, scope: Option<&str>) -> Result<(), ApiError> {
        let ok = self.0.operator.roles.iter().any(|g| g.role == role && scope.is_none_or(|s| g.scope == s));
        if ok { Ok(()) } else { Err(ApiError::Forbidden(format!("this needs the role {role}"))) }
    }

    /// Refuses a sensitive action when the last authentication is older than the window.
    pub fn require_recent_auth(&self, settings: &AuthSettings) -> Result<(), ApiError> {
        if anagrafe_store::now_ms() - self.0.session.authenticated_at <= settings.reauth_window_s * 1000 {
            Ok(())
        } else {
            Err(ApiError::Unauthorized("authenticate again before this action".into()))
        }
    }
}

impl FromRequestParts<AppState> for FirstFactor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let check_csrf = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        FirstFactor::of(parts, state, check_csrf).await
    }
}

impl FirstFactor {
    /// The operator's session, checking the CSRF header only when `check_csrf` (see
    /// [`session_of`]).
    pub(crate) async fn of(parts: &Parts, state: &AppState, check_csrf: bool) -> Result<Self, ApiError> {
        let session = session_of(parts, state, "operator", check_csrf).await?;
        let operator = state
            .store
            .operator(&session.subject)
            .await?
            .filter(|o| !o.disabled)
            .ok_or_else(|| ApiError::Unauthorized("the session has ended or expired: log in again".into()))?;
        Ok(FirstFactor { session, operator })
    }
}

impl FromRequestParts<AppState> for OperatorSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let s = FirstFactor::from_request_parts(parts, state).await?;
        OperatorSession::both_factors(s)
    }
}

impl OperatorSession {
    /// The session, if it has shown both factors.
    pub(crate) fn both_factors(s: FirstFactor) -> Result<Self, ApiError> {
        if !s.session.second_factor || s.operator.totp_secret.is_none() {
            return Err(ApiError::Forbidden("the second factor is required: enrol it at /auth/operator/totp/enrol".into()));
        }
        Ok(OperatorSession(s))
    }
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { "body".to_owned() } else { field };
        ApiError::field(&field, e.inner().to_string())
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

fn bad_credentials() -> ApiError {
    ApiError::Unauthorized("wrong username, password or code".into())
}

/// How many times the per-address limit the account-wide lock waits for.
const ACCOUNT_LOCK_FACTOR: i64 = 10;

/// How long an address where the operator logged in stays a known place (90 days).
const KNOWN_PLACE_MS: i64 = 90 * 86_400_000;

/// The key counting an account's failures from one address.
fn place_key(username: &str, addr: &str) -> String {
    format!("fail:place:{username}|{addr}")
}

/// Counts a failed login: on the account from this address (which stops this address after
/// `max_failures`), and on the account from anywhere (atomically: concurrent failures all
/// count), which locks the account with back-off after ten times as many, for every address
/// where the operator has not logged in before. So failing on purpose from elsewhere cannot
/// lock an officer out of their own office.
async fn failed(state: &AppState, o: &Operator, addr: &str, mode: &str, reason: &str) -> Result<(), ApiError> {
    let actor = format!("operator:{}", o.username);
    state.store.hit(&place_key(&o.username, addr), state.auth.lock_base_s.max(1) * 1000, state.clock.now_ms()).await?;
    let e = entry(&actor, mode, "operator.login", "refused", json!({ "reason": reason }));
    let n = state.store.count_login_failure(&o.username, &e).await?;
    let over = n - state.auth.max_failures * ACCOUNT_LOCK_FACTOR;
    if over >= 0 {
        let secs = state.auth.lock_base_s.saturating_mul(1i64 << over.min(20)).min(3600);
        let until = state.clock.now_ms() + secs * 1000;
        let up = OperatorUpdate { locked_until: Some(Some(until)), ..Default::default() };
        let e = entry(&actor, mode, "operator.locked", "ok", json!({ "failures": n, "seconds": secs }));
        state.store.update_operator(&o.username, &up, &e).await?;
    }
    Ok(())
}

/// Re-authenticates the operator of session `s` with password and second factor (a sensitive
/// action asks for both again): counted as a failed login when wrong; on success the session's
/// authentication is fresh again and the re-authentication traced.
pub(crate) async fn confirm_identity(
    state: &AppState,
    addr: &limits::ClientAddr,
    s: &OperatorSession,
    password: String,
    code: &str,
) -> Result<(), ApiError> {
    if password.is_empty() || password.len() > 1024 {
        return Err(ApiError::field("password", "must be 1 to 1024 bytes"));
    }
    let o = s.operator();
    let now = state.clock.now_ms();
    let step =
        o.totp_secret.as_deref().and_then(|s| state.open_secret(&o.username, s)).and_then(|secret| totp::verify(&secret, code, now / 1000));
    let ok = password::verify(password, o.password_hash.clone()).await && step.is_some();
    let fresh = match step {
        Some(step) if ok => state.store.accept_totp_step(&o.username, step).await?,
        _ => false,
    };
    if !fresh {
        limits::failed_from(state, &addr.0).await?;
        failed(state, o, &addr.0, &s.0.session.auth_mode, "re-authentication failed").await?;
        return Err(bad_credentials());
    }
    state.store.touch_session(&s.0.session.token_hash, now, true, true).await?;
    let actor = format!("operator:{}", o.username);
    state.store.audit(&entry(&actor, "password+totp", "operator.reauth", "ok", json!({}))).await?;
    Ok(())
}

/// What an operator types to log in (the JSON login and the office's login form).
#[derive(Debug, Clone, Default)]
pub(crate) struct LoginInput {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) totp: Option<String>,
}

/// A login that succeeded: the operator, the session opened and its cookie's token.
#[derive(Debug)]
pub(crate) struct LoggedIn {
    pub(crate) operator: Operator,
    pub(crate) session: Session,
    pub(crate) token: String,
}

impl LoggedIn {
    /// The session cookie that carries the login.
    pub(crate) fn cookie(&self, state: &AppState) -> Option<HeaderValue> {
        session_cookie(&self.token, state.auth.absolute_timeout_s)
    }
}

/// An operator's login with password and, once enrolled, the second factor: per-account and
/// per-address limits, lock with back-off, single-use codes, every attempt traced. Shared by the
/// JSON login and the office's login page.
pub(crate) async fn operator_login(state: &AppState, addr: &limits::ClientAddr, input: LoginInput) -> Result<LoggedIn, ApiError> {
    if input.username.is_empty() || input.username.len() > 64 {
        return Err(ApiError::field("username", "must be 1 to 64 characters"));
    }
    if input.password.is_empty() || input.password.len() > 1024 {
        return Err(ApiError::field("password", "must be 1 to 1024 bytes"));
    }
    let now = state.clock.now_ms();
    // An address the operator has logged in from is a known place: the limits that failures
    // from elsewhere put on the account do not apply there.
    let known = state.store.known_login_place(&input.username, &addr.0, now - KNOWN_PLACE_MS).await?;
    if !known {
        limits::account_attempt(state, &input.username).await?;
    }
    let Some(o) = state.store.operator(&input.username).await?.filter(|o| !o.disabled) else {
        limits::failed_from(state, &addr.0).await?;
        // The same work as for a real account, so timing does not tell which usernames exist.
        let _ = password::verify(input.password, DUMMY_HASH.into()).await;
        let e = entry("unauthenticated", "password", "operator.login", "refused", json!({ "reason": "unknown or disabled account" }));
        state.store.audit(&e).await?;
        return Err(bad_credentials());
    };
    // Too many failures on this account from this address: this address waits for the period.
    let period = state.auth.lock_base_s.max(1) * 1000;
    if state.store.hits(&place_key(&o.username, &addr.0), period, now).await? >= state.auth.max_failures {
        let e = entry(&format!("operator:{}", o.username), "password", "operator.login", "refused", json!({ "reason": "locked here" }));
        state.store.audit(&e).await?;
        return Err(ApiError::TooMany {
            detail: "too many failed logins on this account from this address: wait a while".into(),
            retry_after_s: u64::try_from((now - now.rem_euclid(period) + period - now + 999) / 1000).unwrap_or(1).max(1),
        });
    }
    // Locked from everywhere by many failures: except at a known place.
    if !known && let Some(until) = o.locked_until.filter(|u| *u > now) {
        let e = entry(&format!("operator:{}", o.username), "password", "operator.login", "refused", json!({ "reason": "locked" }));
        state.store.audit(&e).await?;
        return Err(ApiError::TooMany {
            detail: "too many failed logins: the account is locked for a while".into(),
            retry_after_s: u64::try_from((until - now + 999) / 1000).unwrap_or(1).max(1),
        });
    }
    if !password::verify(input.password, o.password_hash.clone()).await {
        limits::failed_from(state, &addr.0).await?;
        failed(state, &o, &addr.0, "password", "wrong password").await?;
        return Err(bad_credentials());
    }
    let (mode, step) = match o.totp_secret.as_deref().map(|s| state.open_secret(&o.username, s)) {
        // A secret that does not open (the secrets key changed): no code can match it.
        Some(secret) => {
            let secret = secret.unwrap_or_default();
            let Some(code) = input.totp.as_deref().filter(|c| !c.is_empty()) else {
                return Err(ApiError::field("totp", "the second factor code is required for this account"));
            };
            let Some(step) = totp::verify(&secret, code, now / 1000) else {
                limits::failed_from(state, &addr.0).await?;
                failed(state, &o, &addr.0, "password+totp", "wrong code").await?;
                return Err(bad_credentials());
            };
            ("password+totp", Some(step))
        }
        None => ("password", None),
    };
    let token = random_token();
    let session = Session {
        token_hash: token_hash(&token),
        kind: "operator".into(),
        subject: o.username.clone(),
        auth_mode: mode.into(),
        loa: if step.is_some() { 2 } else { 1 },
        second_factor: step.is_some(),
        csrf_token: random_token(),
        created_at: now,
        last_seen_at: now,
        authenticated_at: now,
        expires_at: now + state.auth.absolute_timeout_s * 1000,
        ended_at: None,
        eidas_id: None,
    };
    let e = entry(
        &format!("operator:{}", o.username),
        mode,
        "operator.login",
        "ok",
        // A login from an address not used lately is a finding of the log analysis (SEC-5).
        json!({ "second_factor": step.is_some(), "loa": session.loa, "new_place": !known }),
    );
    if !state.store.open_session(&session, step, &e).await? {
        failed(state, &o, &addr.0, mode, "code already used").await?;
        return Err(ApiError::Unauthorized("this code was already used: wait for the next one".into()));
    }
    // A place where the password (and the second factor, once enrolled) was right.
    state.store.remember_login_place(&o.username, &addr.0, now).await?;
    Ok(LoggedIn { operator: o, session, token })
}

pub(crate) async fn login(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<limits::ClientAddr>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: LoginBody = json_body(&body)?;
    let done = operator_login(&state, &addr, LoginInput { username: b.username, password: b.password, totp: b.totp }).await?;
    let (o, session) = (&done.operator, &done.session);
    let mut resp = (
        StatusCode::OK,
        axum::Json(json!({
            "username": o.username,
            "display_name": o.display_name,
            "roles": o.roles,
            "second_factor": session.second_factor,
            "must_enrol_second_factor": o.totp_secret.is_none(),
            "must_change_password": o.must_change_password,
            "csrf_token": session.csrf_token,
            "expires_at": session.expires_at,
        })),
    )
        .into_response();
    if let Some(c) = done.cookie(&state) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

/// A hash of a random password, verified against when the username is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Fr4lJZpYWlaW7wqN3B5rB3K9fJ0f0nOPqBGk0bZtUjQ";

/// The operator's session cookie (an empty token with age 0 clears it).
pub(crate) fn session_cookie(token: &str, max_age_s: i64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_s}")).ok()
}

fn set_cookie(resp: &mut Response, token: &str, max_age_s: i64) {
    if let Some(v) = session_cookie(token, max_age_s) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn clear_cookie(resp: &mut Response) {
    set_cookie(resp, "", 0);
}

/// A second factor being enrolled: the secret, and the `otpauth://` URI an authenticator app
/// reads from its QR code.
#[derive(Debug)]
pub(crate) struct Enrolment {
    pub(crate) secret: String,
    pub(crate) otpauth_uri: String,
}

pub(crate) async fn enrol(State(state): State<AppState>, s: FirstFactor) -> Result<Response, ApiError> {
    let e = start_enrolment(&state, &s).await?;
    Ok(axum::Json(json!({ "secret": e.secret, "otpauth_uri": e.otpauth_uri })).into_response())
}

/// Starts the enrolment of a second factor: a new secret, kept pending until a code confirms it.
pub(crate) async fn start_enrolment(state: &AppState, s: &FirstFactor) -> Result<Enrolment, ApiError> {
    if s.operator.totp_secret.is_some() {
        return Err(ApiError::ConflictField(FieldProblem::plain(
            "totp",
            "a second factor is already enrolled; an administrator can reset it",
        )));
    }
    let secret = totp::new_secret();
    let up = OperatorUpdate { totp_pending: Some(Some(state.seal_secret(&s.operator.username, &secret))), ..Default::default() };
    let e = entry(&format!("operator:{}", s.operator.username), &s.session.auth_mode, "operator.totp_enrol", "ok", json!({}));
    state.store.update_operator(&s.operator.username, &up, &e).await?;
    let otpauth_uri = totp::otpauth_uri(&state.auth.totp_issuer, &s.operator.username, &secret);
    Ok(Enrolment { secret, otpauth_uri })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

pub(crate) async fn confirm(State(state): State<AppState>, s: FirstFactor, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let b: CodeBody = json_body(&body)?;
    confirm_enrolment(&state, &s, &b.code).await?;
    Ok(axum::Json(json!({ "second_factor": true })).into_response())
}

/// Confirms the enrolment with a code of the pending secret: the session then has both factors.
pub(crate) async fn confirm_enrolment(state: &AppState, s: &FirstFactor, code: &str) -> Result<(), ApiError> {
    let pending = s.operator.totp_pending.clone().ok_or_else(|| {
        ApiError::ConflictField(FieldProblem::plain("code", "no enrolment is in progress: start one at /auth/operator/totp/enrol"))
    })?;
    let now = state.clock.now_ms();
    let step = state
        .open_secret(&s.operator.username, &pending)
        .and_then(|p| totp::verify(&p, code, now / 1000))
        .ok_or_else(|| ApiError::field("code", "does not match the secret being enrolled"))?;
    let up = OperatorUpdate {
        totp_secret: Some(Some(pending)),
        totp_pending: Some(None),
        totp_last_step: Some(Some(step)),
        ..Default::default()
    };
    let actor = format!("operator:{}", s.operator.username);
    state
        .store
        .update_operator(&s.operator.username, &up, &entry(&actor, "password+totp", "operator.totp_enrolled", "ok", json!({})))
        .await?;
    // This session has now shown both factors.
    state.store.touch_session(&s.session.token_hash, now, true, true).await?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current: String,
    new: String,
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    s: OperatorSession,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: PasswordBody = json_body(&body)?;
    new_password(&state, &s, b.current, b.new).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    clear_cookie(&mut resp);
    Ok(resp)
}

/// Changes an operator's password (the current one checked, weak ones refused) and ends every
/// session of the account, this one too: the operator logs in again.
pub(crate) async fn new_password(state: &AppState, s: &OperatorSession, current: String, new: String) -> Result<(), ApiError> {
    let b = PasswordBody { current, new };
    let o = s.operator();
    if !password::verify(b.current, o.password_hash.clone()).await {
        failed(state, o, "session", &s.0.session.auth_mode, "wrong current password at password change").await?;
        return Err(ApiError::field("current", "is not the current password"));
    }
    if let Some(why) = password::weakness(&b.new, &o.username) {
        return Err(ApiError::field("new", why));
    }
    let hash = password::hash(b.new, state.auth.password_cost).await.map_err(ApiError::Internal)?;
    let up = OperatorUpdate { password_hash: Some(hash), must_change_password: Some(false), ..Default::default() };
    let actor = format!("operator:{}", o.username);
    state
        .store
        .update_operator(&o.username, &up, &entry(&actor, &s.0.session.auth_mode, "operator.password_changed", "ok", json!({})))
        .await?;
    // Every session of the account ends, this one too: whoever held the old password is out,
    // and the operator logs in again with the new one.
    let e = entry(&actor, &s.0.session.auth_mode, "operator.logout_everywhere", "ok", json!({ "by": "password change" }));
    state.store.end_sessions("operator", &o.username, None, &e).await?;
    Ok(())
}

async fn logout(State(state): State<AppState>, s: FirstFactor) -> Result<Response, ApiError> {
    let actor = format!("operator:{}", s.operator.username);
    let e = entry(&actor, &s.session.auth_mode, "operator.logout", "ok", json!({}));
    state.store.end_sessions("operator", &s.operator.username, Some(&s.session.token_hash), &e).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    clear_cookie(&mut resp);
    Ok(resp)
}

async fn logout_everywhere(State(state): State<AppState>, s: FirstFactor) -> Result<Response, ApiError> {
    let actor = format!("operator:{}", s.operator.username);
    let e = entry(&actor, &s.session.auth_mode, "operator.logout_everywhere", "ok", json!({}));
    let ended = state.store.end_sessions("operator", &s.operator.username, None, &e).await?;
    let mut resp = axum::Json(json!({ "sessions_ended": ended })).into_response();
    clear_cookie(&mut resp);
    Ok(resp)
}

async fn me(s: FirstFactor) -> Result<Response, ApiError> {
    Ok(axum::Json(json!({
        "username": s.operator.username,
        "display_name": s.operator.display_name,
        "roles": s.operator.roles,
        "second_factor": s.session.second_factor && s.operator.totp_secret.is_some(),
        "auth_mode": s.session.auth_mode,
        "expires_at": s.session.expires_at,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReauthBody {
    password: String,
    totp: String,
}

async fn reauth(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<limits::ClientAddr>,
    s: OperatorSession,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: ReauthBody = json_body(&body)?;
    confirm_identity(&state, &addr, &s, b.password, &b.totp).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
