//! Push of notifications to the comuni that registered a URL (REG-5): the same items as the
//! feed, in order, POSTed as JSON and signed by the register (`Digest` + `Agid-JWT-Signature`,
//! `kid` = `anagrafe`, `aud` = the client id), so the comune can verify them with the key
//! published at `/api/register-key`. A comune's cursor moves on only after a 2xx; failures are
//! retried with exponential backoff (capped at one hour). The feed stays the source of truth:
//! a comune that misses pushes reads `GET /api/v1/notifications?after=`.

use crate::AppState;
use crate::outbound::{Conn, OutboundError};
use std::time::Duration;

/// How the pusher paces itself.
#[derive(Debug, Clone, Copy)]
pub struct PushPacing {
    /// Pause between rounds.
    pub every: Duration,
    /// First retry delay; doubled at each failure, at most one hour.
    pub backoff: Duration,
    /// Items per push.
    pub batch: u32,
}

impl Default for PushPacing {
    fn default() -> Self {
        Self { every: Duration::from_secs(2), backoff: Duration::from_secs(5), batch: 100 }
    }
}

/// Runs the pusher until the task is dropped. Needs the register's signing key in `state`.
pub fn spawn(state: AppState, pacing: PushPacing) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = round(&state, pacing).await {
                tracing::warn!(error = %e, "notification push round failed");
            }
            tokio::time::sleep(pacing.every).await;
        }
    })
}

/// One round: each due target gets at most one batch.
pub async fn round(state: &AppState, pacing: PushPacing) -> Result<(), anagrafe_store::StoreError> {
    let Some(signer) = state.register_signer.as_deref() else { return Ok(()) };
    let now = state.clock.now_ms();
    for t in state.store.push_targets().await? {
        if t.next_attempt_at > now {
            continue;
        }
        let items = state.store.notifications(t.comune, t.delivered_up_to, pacing.batch).await?;
        let Some(last) = items.last().map(|n| n.id) else { continue };
        let body = serde_json::json!({ "comune": t.comune, "items": items, "next": last }).to_string().into_bytes();
        let outcome = deliver(signer, &t.client_id, &t.url, &body).await;
        let (delivered, attempts, next_at, error) = match outcome {
            Ok(()) => (last, 0, 0, None),
            Err(e) => {
                let attempts = t.attempts + 1;
                let delay = pacing.backoff.saturating_mul(1u32 << attempts.min(12)).min(Duration::from_secs(3600));
                (t.delivered_up_to, attempts, now + delay.as_millis() as i64, Some(e.to_string()))
            }
        };
        match &error {
            None => tracing::info!(client = %t.client_id, items = items.len(), "notifications pushed"),
            Some(e) => tracing::warn!(client = %t.client_id, attempts, error = %e, "notification push failed; will retry"),
        }
        state.store.record_push(&t.client_id, delivered, attempts, next_at, error.as_deref()).await?;
    }
    Ok(())
}

/// Why one push failed (kept in the target's row and retried).
#[derive(Debug, thiserror::Error)]
enum PushError {
    #[error("cannot sign: {0}")]
    Sign(String),
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    #[error("HTTP {0}")]
    Status(u16),
}

async fn deliver(signer: &crate::modi::client::Signer, client_id: &str, url: &str, body: &[u8]) -> Result<(), PushError> {
    let ct = "application/json";
    let path = url.strip_prefix("http://").and_then(|r| r.find('/').map(|i| &r[i..])).unwrap_or("/");
    let (digest, jws) = signer.sign_to(client_id, "POST", path, body, Some(ct)).map_err(PushError::Sign)?;
    let conn = Conn::new(url, Duration::from_secs(15))?;
    let headers = [("content-type", ct.to_owned()), ("digest", digest), ("agid-jwt-signature", jws)];
    let reply = conn.send("POST", path, &headers, body).await?;
    if (200..300).contains(&reply.status) { Ok(()) } else { Err(PushError::Status(reply.status)) }
}
