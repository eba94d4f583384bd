//! The one HTTP error type.
//!
//! Use [`ApiError`] in every handler. Client errors say what is wrong and name the field;
//! server errors carry a fixed text and the request id, and their cause is logged once, here.
//! Bodies are RFC 9457 `application/problem+json`.

use crate::middleware::current_request_id;
use anagrafe_service::ServiceError;
use anagrafe_store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A field that failed validation.
#[derive(Debug, Clone, Serialize)]
pub struct FieldProblem {
    /// Dotted path of the field in the request.
    pub field: String,
    /// What is wrong with it, in English.
    pub reason: String,
    /// The reason's stable key (`too-long`, `future`…), when the register's rules gave it; a
    /// client may branch on it (the words of every key, in Italian and English, are `why-<key>` in
    /// `crates/anagrafe-server/web/locales/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

impl FieldProblem {
    /// A problem with no stable key (a request's shape).
    pub fn plain(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into(), code: None }
    }

    /// A problem from a rule of the register: its reason in English, with its key.
    pub fn why(field: impl Into<String>, why: &anagrafe_domain::Why) -> Self {
        Self { field: field.into(), reason: crate::web::i18n::english(why), code: Some(why.key()) }
    }
}

/// Every error a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or a field is invalid.
    #[error("{detail}")]
    BadRequest {
        /// Human explanation.
        detail: String,
        /// Fields at fault.
        errors: Vec<FieldProblem>,
    },
    /// 401: the request is not (validly) signed or authenticated.
    #[error("unauthorized")]
    Unauthorized(String),
    /// 403: the caller may not do this (role, competence).
    #[error("forbidden")]
    Forbidden(String),
    /// 422: the request reads well but its data do not hold.
    #[error("{detail}")]
    Unprocessable {
        /// Human explanation.
        detail: String,
        /// Fields at fault.
        errors: Vec<FieldProblem>,
    },
    /// 409 on a named field: the register's state does not allow it.
    #[error("{}: {}", .0.field, .0.reason)]
    ConflictField(FieldProblem),
    /// 410: the thing existed and is gone for good (an invalidated ID ANPR).
    #[error("gone")]
    Gone(String),
    /// 404: no such resource.
    #[error("not found")]
    NotFound(String),
    /// 405: the route exists with other methods.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: conflicts with the register's state.
    #[error("conflict on {0}")]
    Conflict(String),
    /// 429: too many attempts; try again after `retry_after_s` seconds.
    #[error("too many requests")]
    TooMany {
        /// Human explanation.
        detail: String,
        /// Seconds to wait (`Retry-After`).
        retry_after_s: u64,
    },
    /// 422 with a stable code: the certificate cannot be issued for this person (CRT-2).
    #[error("{code}: {reason}")]
    NotCertifiable {
        /// ANPR's code of the blocking check.
        code: &'static str,
        /// The reason, in words.
        reason: String,
    },
    /// 503: a dependency (the database) is not available.
    #[error("unavailable")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; the cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    request_id: String,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldProblem],
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
}

impl ApiError {
    /// A 400 naming one field.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let p = FieldProblem::plain(field, reason);
        Self::BadRequest { detail: format!("{}: {}", p.field, p.reason), errors: vec![p] }
    }
}

impl ApiError {
    /// A 422 on the fields at fault, its detail joining them.
    pub fn unprocessable(errors: Vec<FieldProblem>) -> Self {
        let detail = errors.iter().map(|p| format!("{}: {}", p.field, p.reason)).collect::<Vec<_>>().join("; ");
        Self::Unprocessable { detail, errors }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unprocessable { .. } | ApiError::NotCertifiable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ConflictField { .. } | ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What a caller may be told (never the cause of a 5xx).
    pub fn detail(&self) -> String {
        match self {
            ApiError::Unavailable(_) => "the register is temporarily unavailable".into(),
            ApiError::Internal(_) => "an internal error occurred; quote the request id".into(),
            ApiError::BadRequest { detail, .. } | ApiError::Unprocessable { detail, .. } | ApiError::TooMany { detail, .. } => {
                detail.clone()
            }
            ApiError::NotCertifiable { code, reason } => format!("{code}: {reason}"),
            ApiError::Unauthorized(w) | ApiError::Forbidden(w) | ApiError::Gone(w) | ApiError::NotFound(w) => w.clone(),
            ApiError::ConflictField(p) => format!("{}: {}", p.field, p.reason),
            ApiError::Conflict(field) => format!("conflicts with the register on {field}"),
            ApiError::MethodNotAllowed => "this route does not accept that method".into(),
        }
    }

    /// The fields at fault, each with its reason.
    pub fn field_problems(&self) -> Vec<FieldProblem> {
        match self {
            ApiError::BadRequest { errors, .. } | ApiError::Unprocessable { errors, .. } => errors.clone(),
            ApiError::ConflictField(p) => vec![p.clone()],
            ApiError::NotCertifiable { code, reason } => {
                vec![FieldProblem { field: "types".into(), reason: format!("{code}: {reason}"), code: Some(code) }]
            }
            _ => Vec::new(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict { field } => ApiError::Conflict(field),
            StoreError::Invalid(why) => ApiError::BadRequest { detail: why, errors: vec![] },
            StoreError::State { field, reason } => ApiError::ConflictField(FieldProblem::why(field, &reason)),
            StoreError::Refused { field, reason } => ApiError::unprocessable(vec![FieldProblem::why(field, &reason)]),
            StoreError::Forbidden(why) => ApiError::Forbidden(why),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Malformed { field, reason } if field.is_empty() => ApiError::BadRequest { detail: reason, errors: vec![] },
            ServiceError::Malformed { field, reason } => ApiError::field(field, reason),
            ServiceError::Invalid(errs) => {
                ApiError::unprocessable(errs.iter().map(|e| FieldProblem::why(e.field.clone(), &e.reason)).collect())
            }
            ServiceError::NotCertifiable { code, reason } => ApiError::NotCertifiable { code, reason },
            ServiceError::Refused { field, reason } => ApiError::unprocessable(vec![FieldProblem::why(field, &reason)]),
            ServiceError::State { field, reason } => ApiError::ConflictField(FieldProblem::why(field, &reason)),
            ServiceError::Conflict(field) => ApiError::Conflict(field),
            ServiceError::Forbidden(why) => ApiError::Forbidden(why),
            ServiceError::NotFound(what) => ApiError::NotFound(what),
            ServiceError::NotYet { since } => {
                ApiError::NotFound(format!("the record is in the register from {since}: ask for a date from then on"))
            }
            ServiceError::Gone(what) => ApiError::Gone(what),
            ServiceError::Unavailable(what) => ApiError::Unavailable(what),
            ServiceError::Internal(source) => ApiError::Internal(source.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = current_request_id().unwrap_or_default();
        let empty: [FieldProblem; 0] = [];
        let owned: [FieldProblem; 1];
        let (status, kind, title, detail, errors): (StatusCode, &str, &str, String, &[FieldProblem]) = match &self {
            ApiError::BadRequest { detail, errors } => (StatusCode::BAD_REQUEST, "bad-request", "Invalid request", detail.clone(), errors),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, "not-found", "Not found", what.clone(), &empty),
            ApiError::Unauthorized(why) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", why.clone(), &empty),
            ApiError::Forbidden(why) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden", why.clone(), &empty),
            ApiError::Unprocessable { detail, errors } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "Invalid data", detail.clone(), errors)
            }
            ApiError::ConflictField(p) => {
                owned = [p.clone()];
                (StatusCode::CONFLICT, "conflict", "Conflict", format!("{}: {}", p.field, p.reason), &owned)
            }
            ApiError::Gone(what) => (StatusCode::GONE, "gone", "Gone", what.clone(), &empty),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this route does not accept that method".into(),
                &empty,
            ),
            ApiError::Conflict(field) => {
                (StatusCode::CONFLICT, "conflict", "Conflict", format!("conflicts with the register on {field}"), &empty)
            }
            ApiError::NotCertifiable { code, reason } => {
                owned = [FieldProblem { field: "types".into(), reason: format!("{code}: {reason}"), code: Some(code) }];
                (StatusCode::UNPROCESSABLE_ENTITY, "not-certifiable", "Certificate not issuable", format!("{code}: {reason}"), &owned)
            }
            ApiError::TooMany { detail, .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests", detail.clone(), &empty)
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(%request_id, cause = %cause, "dependency unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the register is temporarily unavailable".into(),
                    &empty,
                )
            }
            ApiError::Internal(cause) => {
                tracing::error!(%request_id, cause = %cause, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "an internal error occurred; quote the request id".into(),
                    &empty,
                )
            }
        };
        let body = Problem {
            kind: &format!("https://anagrafe.example/problems/{kind}"),
            title,
            status: status.as_u16(),
            detail,
            request_id,
            errors,
            code: match &self {
                ApiError::NotCertifiable { code, .. } => Some(code),
                _ => None,
            },
        };
        let mut resp = (status, serde_json::to_vec(&body).unwrap_or_default()).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let ApiError::TooMany { retry_after_s, .. } = &self {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
        }
        resp
    }
}

/// Fallback for known routes with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
