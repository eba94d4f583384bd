//! The register's HTTP server: `app(state) -> Router`, driven in process by tests and served by
//! `anagrafe serve` / `anagrafe demo`.
//!
//! Every request gets a request id (kept from `x-request-id` when well-formed, made otherwise),
//! echoed in the response and carried by every log line of the request. Every error is
//! rendered by [`ApiError`] as `application/problem+json`.

pub mod api;
pub mod auth;
pub mod certificates;
mod downloads;
pub mod error;
mod health;
pub mod jwt_crypto;
mod middleware;
pub mod modi;
pub mod openapi;
pub mod outbound;
pub mod pdnd;
pub mod push;
mod state;
pub mod web;

pub use error::ApiError;
pub use state::{ApiSettings, AppState, DEFAULT_AUDIENCE, Publisher, REGISTER_KID};

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])
                .expect("static buckets")
                .build_recorder();
            let handle = recorder.handle();
            // A recorder may already be installed (another app in the same process): then we
            // render an empty registry rather than fail.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let hsts = state.hsts;
    let guarded = state.clone();
    Router::new()
        .route("/health", get(health::index))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .merge(api::routes())
        .merge(auth::routes())
        .merge(certificates::routes())
        .merge(pdnd::routes())
        .merge(web::routes())
        .fallback(web::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(guarded, auth::limits::guard))
        .layer(axum::middleware::from_fn(move |req, next| middleware::security_headers(hsts, req, next)))
        .layer(axum::middleware::from_fn(middleware::observe))
}

/// Serves the application on `listener` until `shutdown` completes, finishing requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state).into_make_service_with_connect_info::<std::net::SocketAddr>()).with_graceful_shutdown(shutdown).await
}
