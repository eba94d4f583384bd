//! The server's common behaviour, driven in process.

use anagrafe_server::{AppState, app};
use anagrafe_store::{SqliteStore, Store};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

async fn store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    s.migrate().await.unwrap();
    (s, dir)
}

async fn call(router: axum::Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = router.oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn liveness_and_readiness_answer() {
    let (s, _d) = store().await;
    let router = app(AppState::new(Arc::new(s)));
    let (status, _, body) = call(router.clone(), get("/health/live")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["status"], "ok");
    let (status, _, body) = call(router, get("/health/ready")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["database"], "sqlite");
}

#[tokio::test]
async fn readiness_fails_with_problem_json_when_the_database_is_gone() {
    let (s, _d) = store().await;
    s.close().await;
    let (status, headers, body) = call(app(AppState::new(Arc::new(s))), get("/health/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["content-type"], "application/problem+json");
    let p: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(p["status"], 503);
    assert!(!p["detail"].as_str().unwrap().contains("pool"), "no internals leak: {p}");
    assert_eq!(p["request_id"], headers["x-request-id"].to_str().unwrap());
}

#[tokio::test]
async fn unknown_api_routes_and_methods_get_problem_json_with_the_request_id() {
    let (s, _d) = store().await;
    let router = app(AppState::new(Arc::new(s)));
    // Outside the machine prefixes an unknown path is the web application's page (issue 17).
    let (status, headers, _) = call(router.clone(), Request::get("/nowhere").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let req = Request::get("/api/nowhere").header("x-request-id", "abc-123").body(Body::empty()).unwrap();
    let (status, headers, body) = call(router.clone(), req).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["x-request-id"], "abc-123");
    let p: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(p["request_id"], "abc-123");
    let (status, headers, _) = call(router, Request::post("/health/live").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["content-type"], "application/problem+json");
}

#[tokio::test]
async fn a_hostile_request_id_is_replaced() {
    let (s, _d) = store().await;
    let req = Request::get("/health/live").header("x-request-id", "x\u{7f}evil; rm -rf").body(Body::empty());
    // A header value with control characters cannot even be built; a long or odd one is replaced.
    let req = req.unwrap_or_else(|_| Request::get("/health/live").header("x-request-id", "a".repeat(200)).body(Body::empty()).unwrap());
    let (_, headers, _) = call(app(AppState::new(Arc::new(s))), req).await;
    let id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a fresh UUID, got {id}");
}

#[tokio::test]
async fn metrics_are_exposed_for_prometheus() {
    let (s, _d) = store().await;
    let router = app(AppState::new(Arc::new(s)));
    call(router.clone(), get("/health/live")).await;
    let (status, headers, body) = call(router, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"/health/live\""), "{text}");
}
