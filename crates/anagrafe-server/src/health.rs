//! Liveness, readiness and metrics: what an operator's monitoring polls.

use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// What this server is, and where to look next.
pub async fn index() -> Json<Value> {
    Json(json!({
        "name": "Anagrafe",
        "description": "Anagrafe Nazionale della Popolazione Residente",
        "version": env!("CARGO_PKG_VERSION"),
        "links": { "live": "/health/live", "ready": "/health/ready", "metrics": "/metrics" }
    }))
}

/// The process is up.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers.
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(json!({ "status": "ok", "database": format!("{:?}", state.store.backend()).to_lowercase() })))
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
