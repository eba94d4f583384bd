//! Protection of the login surfaces (SEC-2): per-address and per-account rate limits with
//! `429` and `Retry-After`, counted in the database so that every instance shares them, and
//! automatic temporary blocking of an address after repeated authentication failures or repeated
//! limit breaches — traced as a security event (`security.address_blocked`). A blocked address
//! is refused on every route; instances learn of blocks within two seconds.

use crate::{ApiError, AppState};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::RwLock;

/// Limits and blocking policy.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Requests to the login surfaces (`/auth/…`, `/dev-idp/…`, the office's login form) per
    /// address per minute.
    pub auth_per_minute: i64,
    /// Login attempts per account per minute, whatever the address.
    pub account_per_minute: i64,
    /// Requests to the public verification pages (`/verifica…`) per address per minute (VER-4).
    pub verify_per_minute: i64,
    /// Requests to the other pages of the web application (not its static assets, served from
    /// memory) per address per minute,
    /// counted in memory by each instance (no write per request), so that one address flooding
    /// the home page cannot slow everyone else (issue 18, item 7).
    pub pages_per_minute: i64,
    /// Calls of one client of the comuni's web services (`/api/v1`, signed) per minute; past it
    /// `429` with `Retry-After`. Counted in memory by each instance unless `shared_api_counts`.
    pub api_per_minute: i64,
    /// Count the web-service clients' calls in the database, so that every instance shares one
    /// count (one more statement per call; for registers served by several instances).
    pub shared_api_counts: bool,
    /// Failed logins from one address within ten minutes before it is blocked.
    pub failures_before_block: i64,
    /// An address that goes this many times over its per-minute limit in one minute is blocked.
    pub breach_factor: i64,
    /// How long a block lasts (seconds).
    pub block_s: i64,
    /// How long an address over its limit (pages, logins, verification) or blocked waits for
    /// its `429` (milliseconds; 0: at once). A flood's connections then spend their time
    /// waiting instead of the server's cores answering them (a tarpit): 64 connections get 64
    /// answers a second, not tens of thousands, and other clients keep their response times.
    pub over_limit_delay_ms: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed: for a request from one of them, the
    /// client is the last address of that header that is not itself a trusted proxy.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            auth_per_minute: 60,
            account_per_minute: 10,
            verify_per_minute: 30,
            pages_per_minute: 300,
            api_per_minute: 60_000,
            shared_api_counts: false,
            failures_before_block: 20,
            breach_factor: 3,
            block_s: 15 * 60,
            over_limit_delay_ms: 1000,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The address a request comes from: the peer, or behind a trusted proxy the address the proxy
/// says it forwards for.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

/// Blocked addresses as last read from the database.
#[derive(Debug, Default)]
pub struct Blocklist {
    cache: RwLock<(i64, HashMap<String, i64>)>,
}

impl Blocklist {
    async fn until(&self, state: &AppState, addr: &str, now: i64) -> Result<Option<i64>, ApiError> {
        let fresh = {
            let c = self.cache.read().unwrap_or_else(|e| e.into_inner());
            (now - c.0 < 2_000).then(|| c.1.get(addr).copied())
        };
        let found = match fresh {
            Some(f) => f,
            None => {
                let Ok(read) = state.store.blocked_addresses(now).await else {
                    // The database is unreachable: keep enforcing the last list read, and try
                    // again in two seconds rather than on every request.
                    tracing::warn!("the blocked addresses cannot be read; using the last list read");
                    let mut c = self.cache.write().unwrap_or_else(|e| e.into_inner());
                    c.0 = now;
                    return Ok(c.1.get(addr).copied().filter(|u| *u > now));
                };
                let list: HashMap<String, i64> = read.into_iter().collect();
                let f = list.get(addr).copied();
                *self.cache.write().unwrap_or_else(|e| e.into_inner()) = (now, list);
                f
            }
        };
        Ok(found.filter(|u| *u > now))
    }

    fn remember(&self, addr: &str, until: i64) {
        self.cache.write().unwrap_or_else(|e| e.into_inner()).1.insert(addr.to_owned(), until);
    }
}

/// Per-address counts of page requests in the current minute, in memory: one instance's view,
/// cleared every minute, bounded in size (past `PAGE_ADDRESSES` addresses in one minute, the
/// newcomers share one count, so a flood from many addresses is limited together).
#[derive(Debug, Default)]
pub struct MinuteCounter {
    minute: std::sync::Mutex<(i64, HashMap<String, i64>)>,
}

/// How many addresses one minute's page counts keep apart.
const PAGE_ADDRESSES: usize = 100_000;

impl MinuteCounter {
    /// Counts a request from `addr` (an address, or a client's id) at `now`; answers the count
    /// in this minute.
    pub fn hit(&self, addr: &str, now: i64) -> i64 {
        let minute = now - now.rem_euclid(60_000);
        let mut m = self.minute.lock().unwrap_or_else(|e| e.into_inner());
        if m.0 != minute {
            *m = (minute, HashMap::new());
        }
        let key = if m.1.len() >= PAGE_ADDRESSES && !m.1.contains_key(addr) { "(many addresses)" } else { addr };
        let n = m.1.entry(key.to_owned()).or_insert(0);
        *n += 1;
        *n
    }
}

fn retry_after(until_ms: i64, now: i64) -> u64 {
    u64::try_from((until_ms - now + 999) / 1000).unwrap_or(1).max(1)
}

/// Blocks `addr` for the configured time and traces it.
pub async fn block(state: &AppState, addr: &str, reason: &str) -> Result<i64, ApiError> {
    let until = state.clock.now_ms() + state.limits.block_s * 1000;
    let entry = super::entry(
        "system",
        "none",
        "security.address_blocked",
        "ok",
        serde_json::json!({ "address": addr, "reason": reason, "until": until }),
    );
    state.store.block_address(addr, until, reason, &entry).await?;
    state.blocklist.remember(addr, until);
    Ok(until)
}

/// Counts a failed authentication from `addr`; blocks the address when there were too many.
pub async fn failed_from(state: &AppState, addr: &str) -> Result<(), ApiError> {
    let n = state.store.hit(&format!("fail:addr:{addr}"), 600_000, state.clock.now_ms()).await?;
    if n == state.limits.failures_before_block {
        block(state, addr, "repeated authentication failures").await?;
    }
    Ok(())
}

/// Counts a login attempt on `account`; refuses when the account gets too many.
pub async fn account_attempt(state: &AppState, account: &str) -> Result<(), ApiError> {
    let now = state.clock.now_ms();
    let n = state.store.hit(&format!("login:account:{account}"), 60_000, now).await?;
    if n > state.limits.account_per_minute {
        return Err(ApiError::TooMany {
            detail: "too many login attempts on this account: wait a minute".into(),
            retry_after_s: retry_after(now - now.rem_euclid(60_000) + 60_000, now),
        });
    }
    Ok(())
}

/// The client's address: the peer's, unless the peer is a trusted proxy, then the last address
/// of `X-Forwarded-For` that is not a trusted proxy (the left part of the header is whatever
/// the client claimed, and is not believed).
pub fn client_address(req: &Request, trusted: &[std::net::IpAddr]) -> String {
    let Some(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else { return "unknown".into() };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<std::net::IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded.iter().rev().find(|a| !trusted.contains(a)).unwrap_or(&peer).to_string()
}

/// Counts a signed call of web-service client `client`; `429` with `Retry-After` past
/// `api_per_minute` (issue 18, item 7). Called once the signature is verified, so that nobody
/// can spend another client's allowance.
pub async fn api_call(state: &AppState, client: &str) -> Result<(), ApiError> {
    let now = state.clock.now_ms();
    let n = if state.limits.shared_api_counts {
        state.store.hit(&format!("api:client:{client}"), 60_000, now).await?
    } else {
        state.api_counter.hit(client, now)
    };
    if n > state.limits.api_per_minute {
        metrics::counter!("anagrafe_api_calls_limited_total").increment(1);
        return Err(ApiError::TooMany {
            detail: format!("this client has made more than {} calls this minute: slow down", state.limits.api_per_minute),
            retry_after_s: retry_after(now - now.rem_euclid(60_000) + 60_000, now),
        });
    }
    Ok(())
}

/// The `429` of an address over its limit, after the configured wait, drawn between half and
/// one and a half times it: a flood's connections, all refused at once, would otherwise come
/// back at once, a burst every second.
async fn slowed(state: &AppState, refusal: ApiError) -> Response {
    let base = state.limits.over_limit_delay_ms;
    if base > 0 {
        let wait = base / 2 + rand::Rng::gen_range(&mut rand::thread_rng(), 0..=base);
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    }
    refusal.into_response()
}

/// Every request: refused while its address is blocked; the login surfaces are rate limited.
pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let addr = client_address(&req, &state.limits.trusted_proxies);
    req.extensions_mut().insert(ClientAddr(addr.clone()));
    let now = state.clock.now_ms();
    match state.blocklist.until(&state, &addr, now).await {
        Ok(Some(until)) => {
            let refusal = ApiError::TooMany {
                detail: "this address is blocked for a while after repeated failures".into(),
                retry_after_s: retry_after(until, now),
            };
            return slowed(&state, refusal).await;
        }
        Ok(None) => {}
        // (Not reached today: an unreadable list falls back to the last one read. Liveness and
        // readiness must answer whatever the database does.)
        Err(_) => {}
    }
    let path = req.uri().path();
    // The office's login form is a login surface like the JSON one it posts to.
    let office_login = path == "/ufficio/accesso" && req.method() == axum::http::Method::POST;
    let limited = if path.starts_with("/auth/") || path.starts_with("/dev-idp/") || office_login {
        Some(("auth", state.limits.auth_per_minute))
    } else if path == "/verifica" || path.starts_with("/verifica/") {
        Some(("verify", state.limits.verify_per_minute))
    } else {
        None
    };
    // The pages: counted in memory (a flood must not turn into database writes).
    let page = !(limited.is_some()
        || path.starts_with("/api/")
        || path.starts_with("/pdnd/")
        || path.starts_with("/health")
        || path.starts_with("/static/")
        || path == "/favicon.ico"
        || path == "/metrics");
    if page && state.page_counter.hit(&addr, now) > state.limits.pages_per_minute {
        let refusal = ApiError::TooMany {
            detail: "too many requests from this address: slow down".into(),
            retry_after_s: retry_after(now - now.rem_euclid(60_000) + 60_000, now),
        };
        return slowed(&state, refusal).await;
    }
    if let Some((surface, limit)) = limited {
        let n = match state.store.hit(&format!("{surface}:addr:{addr}"), 60_000, now).await {
            Ok(n) => n,
            Err(_) => return ApiError::Unavailable("the rate counters cannot be written".into()).into_response(),
        };
        if n > limit {
            if n == limit * state.limits.breach_factor
                && let Err(e) = block(&state, &addr, "rate limit breached repeatedly").await
            {
                return e.into_response();
            }
            let refusal = ApiError::TooMany {
                detail: "too many requests from this address: slow down".into(),
                retry_after_s: retry_after(now - now.rem_euclid(60_000) + 60_000, now),
            };
            return slowed(&state, refusal).await;
        }
    }
    next.run(req).await
}
