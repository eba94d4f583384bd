//! Operator login (issue 6) over HTTP, in process: password and TOTP, each code good once,
//! enrolment, lockout with Retry-After, CSRF, logout and logout everywhere, security headers,
//! and the trace of each step.

mod common;

use anagrafe_server::auth::{password, totp};
use anagrafe_server::{AppState, app};
use anagrafe_store::{SqliteStore, Store};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

const PASSWORD: &str = "una password lunga abbastanza";

struct Env {
    router: axum::Router,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    env_with(|_| {}).await
}

async fn env_with(tune: impl FnOnce(&mut AppState)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    s.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(s);
    let mut state = AppState::new(store.clone());
    state.auth.password_cost = password::Cost::TEST;
    // A refusal is answered at once here (the server's default waits a second: a tarpit).
    state.limits.over_limit_delay_ms = 0;
    tune(&mut state);
    Env { router: app(state), store, _dir: dir }
}

async fn operator(e: &Env, username: &str, totp_secret: Option<&str>) {
    let hash = password::hash(PASSWORD.into(), password::Cost::TEST).await.unwrap();
    common::operator(&*e.store, username, "registry_officer", "H501", &hash, totp_secret).await;
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    json: Value,
}

async fn call(e: &Env, method: &str, path: &str, session: Option<&Sess>, body: Option<Value>) -> Reply {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(s) = session {
        r = r.header("cookie", format!("{}={}", anagrafe_server::auth::COOKIE, s.token)).header("x-csrf-token", &s.csrf);
    }
    let req = match body {
        Some(b) => r.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
        None => r.body(Body::empty()).unwrap(),
    };
    let resp = e.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply { status: parts.status, headers: parts.headers, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

#[derive(Clone)]
struct Sess {
    token: String,
    csrf: String,
}

async fn login(e: &Env, username: &str, code: Option<String>) -> (Reply, Option<Sess>) {
    let mut body = json!({ "username": username, "password": PASSWORD });
    if let Some(c) = code {
        body["totp"] = Value::from(c);
    }
    let r = call(e, "POST", "/auth/operator/login", None, Some(body)).await;
    let sess = r.headers.get("set-cookie").map(|c| {
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Strict") && c.contains("Path=/"), "{c}");
        let token = c.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
        Sess { token, csrf: r.json["csrf_token"].as_str().unwrap_or_default().to_owned() }
    });
    (r, sess)
}

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn last_audit(e: &Env) -> anagrafe_store::AuditEntry {
    e.store.audit_entries(0, 10_000).await.unwrap().pop().unwrap().entry
}

#[tokio::test]
async fn an_operator_without_the_second_factor_reaches_only_enrolment_then_enrols() {
    let e = env().await;
    operator(&e, "anna", None).await;
    let (r, s) = login(&e, "anna", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!((r.json["second_factor"].as_bool(), r.json["must_enrol_second_factor"].as_bool()), (Some(false), Some(true)));
    let s = s.unwrap();
    // Operator routes are refused until the second factor is enrolled.
    let pw = json!({ "current": PASSWORD, "new": "un'altra password lunga" });
    assert_eq!(call(&e, "POST", "/auth/operator/password", Some(&s), Some(pw.clone())).await.status, StatusCode::FORBIDDEN);
    assert_eq!(call(&e, "GET", "/auth/me", Some(&s), None).await.json["second_factor"], false);
    // Enrolment needs the CSRF token.
    let no_csrf = Sess { token: s.token.clone(), csrf: "wrong".into() };
    assert_eq!(call(&e, "POST", "/auth/operator/totp/enrol", Some(&no_csrf), None).await.status, StatusCode::FORBIDDEN);
    let r = call(&e, "POST", "/auth/operator/totp/enrol", Some(&s), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let secret = r.json["secret"].as_str().unwrap().to_owned();
    assert!(r.json["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/Anagrafe:anna?secret="));
    let bad = call(&e, "POST", "/auth/operator/totp/confirm", Some(&s), Some(json!({ "code": "000000" }))).await;
    let code = totp::current_code(&secret, now_s()).unwrap();
    if code != "000000" {
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(bad.json["errors"][0]["field"], "code");
    }
    let r = call(&e, "POST", "/auth/operator/totp/confirm", Some(&s), Some(json!({ "code": code }))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(last_audit(&e).await.operation, "operator.totp_enrolled");
    // The same session now has both factors; the code used to confirm cannot log in again.
    assert_eq!(call(&e, "POST", "/auth/operator/password", Some(&s), Some(pw)).await.status, StatusCode::NO_CONTENT);
    let ops: Vec<String> = e.store.audit_entries(0, 1000).await.unwrap().into_iter().rev().take(2).map(|a| a.entry.operation).collect();
    assert_eq!(ops, ["operator.logout_everywhere", "operator.password_changed"]);
    // A password change ends every session of the account, this one too.
    assert_eq!(call(&e, "GET", "/auth/me", Some(&s), None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_fresh_authentication_takes_the_password_and_a_new_code() {
    let e = env().await;
    let secret = totp::new_secret();
    operator(&e, "elena", Some(&secret)).await;
    let (_, s) = login(&e, "elena", totp::current_code(&secret, now_s() - 30)).await;
    let s = s.unwrap();
    let code = totp::current_code(&secret, now_s()).unwrap();
    let wrong = call(&e, "POST", "/auth/operator/reauth", Some(&s), Some(json!({ "password": "sbagliata", "totp": code }))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let ok = call(&e, "POST", "/auth/operator/reauth", Some(&s), Some(json!({ "password": PASSWORD, "totp": code }))).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.json);
    assert_eq!(last_audit(&e).await.operation, "operator.reauth");
    let again = call(&e, "POST", "/auth/operator/reauth", Some(&s), Some(json!({ "password": PASSWORD, "totp": code }))).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "a code is good once");
}

#[tokio::test]
async fn a_totp_code_is_required_and_good_once() {
    let e = env().await;
    let secret = totp::new_secret();
    operator(&e, "bruno", Some(&secret)).await;
    let (r, _) = login(&e, "bruno", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["errors"][0]["field"], "totp");
    let code = totp::current_code(&secret, now_s()).unwrap();
    let (r, s) = login(&e, "bruno", Some(code.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["second_factor"], true);
    let entry = last_audit(&e).await;
    assert_eq!((entry.operation.as_str(), entry.outcome.as_str(), entry.auth_mode.as_str()), ("operator.login", "ok", "password+totp"));
    let me = call(&e, "GET", "/auth/me", s.as_ref(), None).await;
    assert_eq!((me.status, me.json["second_factor"].as_bool()), (StatusCode::OK, Some(true)));
    // The same code a second time: refused, and traced as a refusal.
    let (r, s2) = login(&e, "bruno", Some(code)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
    assert!(s2.is_none());
    let entry = last_audit(&e).await;
    assert_eq!((entry.operation.as_str(), entry.outcome.as_str()), ("operator.login", "refused"));
    assert!(!entry.detail.contains(PASSWORD));
}

#[tokio::test]
async fn repeated_failures_lock_the_account_with_retry_after() {
    let e = env().await;
    operator(&e, "carla", None).await;
    for _ in 0..5 {
        let r = call(&e, "POST", "/auth/operator/login", None, Some(json!({ "username": "carla", "password": "sbagliata" }))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password waits.
    let (r, s) = login(&e, "carla", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.json);
    assert!(s.is_none());
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(r.headers["content-type"], "application/problem+json");
    // Unknown accounts get the same answer as wrong passwords.
    let r = call(&e, "POST", "/auth/operator/login", None, Some(json!({ "username": "nessuno", "password": PASSWORD }))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json["detail"], "wrong username, password or code");
    // Malformed bodies name the field.
    let r = call(&e, "POST", "/auth/operator/login", None, Some(json!({ "username": "carla" }))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(&e, "POST", "/auth/operator/login", None, Some(json!({ "username": "", "password": "x" }))).await;
    assert_eq!(r.json["errors"][0]["field"], "username");
}

#[tokio::test]
async fn logout_ends_the_session_and_logout_everywhere_ends_them_all() {
    let e = env().await;
    let secret = totp::new_secret();
    operator(&e, "dario", Some(&secret)).await;
    // Two sessions: codes of two different steps (one from the previous step, within drift).
    let (_, a) = login(&e, "dario", totp::current_code(&secret, now_s() - 30)).await;
    let (_, b) = login(&e, "dario", totp::current_code(&secret, now_s())).await;
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(call(&e, "GET", "/auth/me", Some(&a), None).await.status, StatusCode::OK);
    let r = call(&e, "POST", "/auth/logout", Some(&a), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(call(&e, "GET", "/auth/me", Some(&a), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&e, "GET", "/auth/me", Some(&b), None).await.status, StatusCode::OK);
    let r = call(&e, "POST", "/auth/logout-everywhere", Some(&b), None).await;
    assert_eq!(r.json["sessions_ended"], 1);
    assert_eq!(call(&e, "GET", "/auth/me", Some(&b), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&e, "GET", "/auth/me", None, None).await.status, StatusCode::UNAUTHORIZED);
    assert!(e.store.verify_audit_chain().await.unwrap().first_bad.is_none());
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let e = env().await;
    for path in ["/health/live", "/auth/me", "/no/such/route"] {
        let r = call(&e, "GET", path, None, None).await;
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        // No inline script nor inline style element: only style attributes may be inline.
        for d in csp.split(';').map(str::trim) {
            assert!(!d.contains("unsafe-inline") || d.starts_with("style-src-attr "), "{d}");
            assert!(!d.contains("unsafe-eval"), "{d}");
        }
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        assert_eq!(r.headers["referrer-policy"], "no-referrer");
        assert!(r.headers.get("strict-transport-security").is_none(), "HSTS only behind TLS");
    }
}

/// A request from `addr` (as the server's listener would tag it).
async fn from(e: &Env, addr: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
    let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
    req = req.extension(axum::extract::ConnectInfo(std::net::SocketAddr::new(addr.parse().unwrap(), 40000)));
    let req = req.body(body.map(|b| Body::from(b.to_string())).unwrap_or_default()).unwrap();
    let resp = e.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply { status: parts.status, headers: parts.headers, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

fn wrong(username: &str) -> Option<Value> {
    Some(json!({ "username": username, "password": "sbagliata" }))
}

#[tokio::test]
async fn an_address_that_keeps_trying_is_limited_then_blocked_everywhere() {
    let e = env_with(|s| {
        s.limits.auth_per_minute = 5;
        s.limits.breach_factor = 2;
        s.limits.failures_before_block = 1000;
        s.limits.account_per_minute = 1000;
    })
    .await;
    operator(&e, "anna", None).await;
    for _ in 0..5 {
        assert_eq!(from(&e, "192.0.2.1", "POST", "/auth/operator/login", wrong("anna")).await.status, StatusCode::UNAUTHORIZED);
    }
    let r = from(&e, "192.0.2.1", "POST", "/auth/operator/login", wrong("anna")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        from(&e, "192.0.2.2", "POST", "/auth/operator/login", wrong("nessuno")).await.status,
        StatusCode::UNAUTHORIZED,
        "per address"
    );
    // Going on past twice the limit: the address is blocked, on every route.
    for _ in 0..4 {
        from(&e, "192.0.2.1", "POST", "/auth/operator/login", wrong("anna")).await;
    }
    let r = from(&e, "192.0.2.1", "GET", "/health/live", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.json);
    assert!(r.json["detail"].as_str().unwrap().contains("blocked"));
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 60, "the block outlasts the minute: {wait}");
    assert_eq!(from(&e, "192.0.2.2", "GET", "/health/live", None).await.status, StatusCode::OK);
    let events: Vec<_> =
        e.store.audit_entries(0, 10_000).await.unwrap().into_iter().filter(|a| a.entry.operation == "security.address_blocked").collect();
    assert_eq!(events.len(), 1);
    assert!(events[0].entry.detail.contains("192.0.2.1") && events[0].entry.detail.contains("rate limit"));
}

#[tokio::test]
async fn repeated_failures_block_the_address_and_an_account_is_limited_from_any_address() {
    let e = env_with(|s| {
        s.limits.failures_before_block = 3;
        s.limits.account_per_minute = 4;
    })
    .await;
    operator(&e, "bruno", None).await;
    for u in ["x1", "x2", "x3"] {
        assert_eq!(from(&e, "198.51.100.7", "POST", "/auth/operator/login", wrong(u)).await.status, StatusCode::UNAUTHORIZED);
    }
    let r = from(&e, "198.51.100.7", "POST", "/auth/operator/login", Some(json!({ "username": "bruno", "password": PASSWORD }))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "blocked after three failures, even with the right password");
    let last = e.store.audit_entries(0, 10_000).await.unwrap().into_iter().rev().find(|a| a.entry.operation == "security.address_blocked");
    assert!(last.unwrap().entry.detail.contains("authentication failures"));
    // One account tried from many addresses: limited per account.
    for i in 0..4 {
        let r = from(&e, &format!("203.0.113.{i}"), "POST", "/auth/operator/login", wrong("bruno")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = from(&e, "203.0.113.99", "POST", "/auth/operator/login", Some(json!({ "username": "bruno", "password": PASSWORD }))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.json["detail"].as_str().unwrap().contains("account"));
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_address_counts_and_a_forged_one_does_not() {
    use anagrafe_server::auth::limits::client_address;
    let proxy: std::net::IpAddr = "10.0.0.2".parse().unwrap();
    let req = |peer: &str, xff: Option<&str>| {
        let mut r = Request::builder().uri("/auth/me");
        if let Some(x) = xff {
            r = r.header("x-forwarded-for", x);
        }
        r.extension(axum::extract::ConnectInfo(std::net::SocketAddr::new(peer.parse().unwrap(), 1))).body(Body::empty()).unwrap()
    };
    // A client talking directly: its own address, whatever header it sends.
    assert_eq!(client_address(&req("198.51.100.1", Some("192.0.2.9")), &[proxy]), "198.51.100.1");
    // Through the proxy: the address the proxy appended, not the one the client wrote first.
    assert_eq!(client_address(&req("10.0.0.2", Some("192.0.2.9, 203.0.113.5")), &[proxy]), "203.0.113.5");
    assert_eq!(client_address(&req("10.0.0.2", None), &[proxy]), "10.0.0.2");
    assert_eq!(client_address(&req("10.0.0.2", Some("203.0.113.5")), &[]), "10.0.0.2", "no proxy trusted");
}

/// Failing on purpose cannot lock an officer out (issue 18, item 7): failures count per account
/// and address; from anywhere, only ten times as many lock the account, and never at a place
/// where the officer has logged in before.
#[tokio::test]
async fn an_attacker_cannot_lock_an_operator_out_from_elsewhere() {
    let e = env_with(|s| {
        s.auth.max_failures = 2;
        s.limits.failures_before_block = 1000;
        s.limits.account_per_minute = 1000;
        s.limits.auth_per_minute = 1000;
    })
    .await;
    operator(&e, "dario", None).await;
    let right = || Some(json!({ "username": "dario", "password": PASSWORD }));
    // The officer's office: a known place once logged in from there.
    assert_eq!(from(&e, "192.0.2.10", "POST", "/auth/operator/login", right()).await.status, StatusCode::OK);
    // Two failures from one address stop that address only.
    for _ in 0..2 {
        assert_eq!(from(&e, "198.51.100.20", "POST", "/auth/operator/login", wrong("dario")).await.status, StatusCode::UNAUTHORIZED);
    }
    let r = from(&e, "198.51.100.20", "POST", "/auth/operator/login", right()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.json);
    assert!(r.json["detail"].as_str().unwrap().contains("from this address"));
    assert_eq!(
        from(&e, "192.0.2.11", "POST", "/auth/operator/login", right()).await.status,
        StatusCode::OK,
        "another address is not stopped"
    );
    // Twenty failures from twenty addresses lock the account everywhere but at known places.
    for i in 0..20 {
        let r = from(&e, &format!("203.0.113.{i}"), "POST", "/auth/operator/login", wrong("dario")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = from(&e, "203.0.113.200", "POST", "/auth/operator/login", right()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.json);
    assert!(r.json["detail"].as_str().unwrap().contains("locked"));
    let r = from(&e, "192.0.2.10", "POST", "/auth/operator/login", right()).await;
    assert_eq!(r.status, StatusCode::OK, "the officer's own office still works: {}", r.json);
    let traced = e.store.audit_entries(0, 10_000).await.unwrap();
    assert!(traced.iter().any(|a| a.entry.operation == "operator.locked"), "the account-wide lock is traced");
}

/// The office's login form is limited per address like the JSON login (issue 18, item 7).
#[tokio::test]
async fn the_office_login_form_is_limited_per_address() {
    let e = env_with(|s| s.limits.auth_per_minute = 3).await;
    for _ in 0..3 {
        let r = from(&e, "203.0.113.40", "POST", "/ufficio/accesso", None).await;
        assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let r = from(&e, "203.0.113.40", "POST", "/ufficio/accesso", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
    assert_ne!(from(&e, "203.0.113.41", "POST", "/ufficio/accesso", None).await.status, StatusCode::TOO_MANY_REQUESTS);
    // The page itself is not a login attempt.
    assert_eq!(from(&e, "203.0.113.40", "GET", "/ufficio/accesso", None).await.status, StatusCode::OK);
}

/// One address flooding the pages is slowed down without a write per request, and another
/// address is not (issue 18, item 7).
#[tokio::test]
async fn an_address_flooding_the_pages_is_limited_and_others_are_not() {
    let e = env_with(|s| s.limits.pages_per_minute = 20).await;
    let before = e.store.audit_entries(0, 10_000).await.unwrap().len();
    let mut limited = None;
    for i in 0..25 {
        let r = from(&e, "198.51.100.77", "GET", "/", None).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, r));
            break;
        }
        assert_eq!(r.status, StatusCode::OK);
    }
    let (i, r) = limited.expect("the flood is limited");
    assert_eq!(i, 20, "after the per-minute allowance");
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(from(&e, "198.51.100.78", "GET", "/", None).await.status, StatusCode::OK, "another address still gets the page");
    // Nothing was written to the register for the pages.
    assert_eq!(e.store.audit_entries(0, 10_000).await.unwrap().len(), before);
}
