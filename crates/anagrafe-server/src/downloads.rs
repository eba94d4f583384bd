//! Files the register hands out as downloads, the same for a page and a web service.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A case's document as a download: its own type, never rendered inline by the browser as
/// anything else, its SHA-256 in a header.
pub(crate) fn case_document(meta: &anagrafe_store::CaseDocument, bytes: Vec<u8>) -> Response {
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(meta.media_type.as_str()));
    let name = format!("documento-{}.{}", meta.id, meta.media_type.extension());
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&meta.sha256) {
        h.insert("x-content-sha256", v);
    }
    r
}
