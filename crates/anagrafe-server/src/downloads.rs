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

/// A case's letter (its receipt, the start-of-procedure communication) as a PDF download.
pub(crate) fn case_letter(pdf: Vec<u8>, name: &str) -> Response {
    let mut r = (StatusCode::OK, pdf).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// Which letter of a case: by the name its address carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CaseLetter {
    /// `ricevuta`: the receipt of the submitted request.
    Receipt,
    /// `avvio`: the start-of-procedure communication.
    Start,
}

impl CaseLetter {
    /// The letter a path names (`ricevuta`, `avvio`, or the web services' `receipt`, `start`).
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "ricevuta" | "receipt" => Some(CaseLetter::Receipt),
            "avvio" | "start" => Some(CaseLetter::Start),
            _ => None,
        }
    }

    /// The letter of case `id` for `who`, as a download.
    pub(crate) async fn fetch(
        self,
        desk: &anagrafe_service::cases::CaseDesk,
        who: &anagrafe_service::Principal,
        id: i64,
    ) -> Result<Response, anagrafe_service::ServiceError> {
        Ok(match self {
            CaseLetter::Receipt => case_letter(desk.receipt(who, id).await?, &format!("ricevuta-richiesta-{id}.pdf")),
            CaseLetter::Start => case_letter(desk.communication(who, id).await?, &format!("avvio-procedimento-{id}.pdf")),
        })
    }
}
