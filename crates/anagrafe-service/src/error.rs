//! The one error every service returns. Each variant names the answer a door gives for it
//! (the HTTP status in the API, the page's message); the door picks the words, the service
//! picks the variant. A failure the caller cannot fix (`Internal`) keeps its source for the
//! log and is never shown.

use anagrafe_domain::{FieldError, Why};
use anagrafe_store::StoreError;

/// [`Result`](std::result::Result) with [`ServiceError`].
pub type ServiceResult<T> = Result<T, ServiceError>;

/// Why a service did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// 400: a value of the request cannot be used at all (the field names it).
    #[error("{field}: {reason}")]
    Malformed {
        /// The field, as the request names it.
        field: String,
        /// Why.
        reason: String,
    },
    /// 422: the request reads well but its data do not hold; one entry per field at fault.
    #[error("{}", join(.0))]
    Invalid(Vec<FieldError>),
    /// 422: the register refuses this for the record it is about, on this field.
    #[error("{field}: {reason}")]
    Refused {
        /// The field the refusal is about.
        field: String,
        /// Why.
        reason: Why,
    },
    /// 422 with ANPR's code: the certificate cannot be issued for this record (a blocking check
    /// of ANPR's table), with ANPR's own Italian wording.
    #[error("{code}: {reason}")]
    NotCertifiable {
        /// ANPR's code (`EN…`).
        code: &'static str,
        /// ANPR's reason, in Italian as ANPR words it.
        reason: String,
    },
    /// 409 on a field: the register's current state does not allow it.
    #[error("{field}: {reason}")]
    State {
        /// The field.
        field: String,
        /// Why.
        reason: Why,
    },
    /// 409: a unique key of the register is taken.
    #[error("conflict on {0}")]
    Conflict(String),
    /// 403: this principal may not do this (role, competence).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404: no such thing (or not on the date asked).
    #[error("not found: {0}")]
    NotFound(String),
    /// 404 for a date: the record was asked for a day before the register first knew it.
    #[error("not found: the record is in the register from {since}")]
    NotYet {
        /// The first day the register knows of the record.
        since: chrono::NaiveDate,
    },
    /// 410: it existed and is gone for good (an invalidated ID ANPR).
    #[error("gone: {0}")]
    Gone(String),
    /// 503: something the service needs is not configured or not reachable.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug or a failure of the machinery; the source is kept for the log.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn join(errs: &[FieldError]) -> String {
    errs.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect::<Vec<_>>().join("; ")
}

impl ServiceError {
    /// A 400 on one field.
    pub fn malformed(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Malformed { field: field.into(), reason: reason.into() }
    }

    /// A 422 on one field.
    pub fn invalid(field: impl Into<String>, reason: Why) -> Self {
        Self::Invalid(vec![FieldError::new(field, reason)])
    }

    /// `Ok` when there is no field error, `Invalid` with all of them otherwise.
    pub fn check(errs: Vec<FieldError>) -> ServiceResult<()> {
        if errs.is_empty() { Ok(()) } else { Err(Self::Invalid(errs)) }
    }

    /// The fields at fault, each with its reason (empty when the error is about no field).
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Self::Invalid(errs) => errs.clone(),
            Self::Refused { field, reason } | Self::State { field, reason } => vec![FieldError::new(field.clone(), reason.clone())],
            // A value of a shape no form sends (the forms check their own): named, not explained.
            Self::Malformed { field, .. } => vec![FieldError::new(field.clone(), Why::new("malformed"))],
            Self::NotCertifiable { code, reason } => {
                vec![FieldError::new("types", Why::new("not-certifiable").arg("code", code).arg("text", reason))]
            }
            _ => Vec::new(),
        }
    }

    /// Whether the register refused the request on what it holds (the refusals the trace keeps).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::State { .. } | Self::Refused { .. } | Self::NotCertifiable { .. } | Self::Forbidden(_) | Self::NotFound(_))
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict { field } => Self::Conflict(field),
            StoreError::Invalid(why) => Self::Malformed { field: String::new(), reason: why },
            StoreError::State { field, reason } => Self::State { field, reason },
            StoreError::Refused { field, reason } => Self::Refused { field, reason },
            StoreError::Forbidden(why) => Self::Forbidden(why),
            other => Self::Internal(Box::new(other)),
        }
    }
}
