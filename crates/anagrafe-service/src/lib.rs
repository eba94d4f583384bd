//! The register's use cases: the one layer every door calls.
//!
//! A door — an API handler, a page, an e-service, a command-line command, a job — turns its
//! input into domain values, names who acts ([`Principal`]) and calls a service here; it gets a
//! typed result or a [`ServiceError`] back and renders it in its own way (JSON, HTML, text). No
//! door calls another door, and nothing here knows HTTP: this crate depends on the domain, the
//! store and the document engine only (`docs/architecture.md`; `.ci/run` checks it with
//! `cargo tree`).
//!
//! A service reads the facts it needs, lets the pure domain decide, and has the store write
//! the decision with its event and trace entry in one transaction. Time comes from the
//! [`Clock`] the services were built with, so tests move it instead of waiting.

pub mod admin;
pub mod cases;
pub mod certificates;
pub mod citizen;
pub mod clock;
pub mod electoral;
pub mod error;
pub mod extracts;
pub mod lookup;
pub mod principal;
pub mod registry;
pub mod report;
pub mod security;
pub mod trace;

pub use anagrafe_domain::Role;
pub use certificates::{CertificateRequest, CertificateService, Certificates};
pub use citizen::CitizenService;
pub use clock::{Clock, FakeClock, SystemClock};
pub use electoral::ElectoralService;
pub use error::{ServiceError, ServiceResult};
pub use lookup::Lookup;
pub use principal::Principal;
pub use registry::{ClientOpId, Registry};
