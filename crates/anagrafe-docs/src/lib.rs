//! Anagrafe's document engine: certificates laid out as typst templates compiled in-process
//! (fonts and logo embedded, no network), exported as PDF/A-2b, sealed with a PAdES signature
//! and marked with a QR *contrassegno* that leads to the verification page.
//!
//! - [`engine::Engine`] renders a [`model::Document`] (preview or final);
//! - [`seal::SealIdentity`] seals the PDF and creates the embedded-mode PKI;
//! - [`payload::Payload`] is the QR code's signed offline payload;
//! - [`verify::verify_pdf`] checks a sealed file with only the CA certificate.

pub mod captcha;
pub mod engine;
pub mod form;
pub mod model;
pub mod payload;
pub mod qr;
pub mod seal;
pub mod verify;

pub use engine::Engine;
pub use model::Document;
pub use seal::SealIdentity;

/// Why a document could not be produced or checked.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// The template or the data could not be laid out.
    #[error("layout: {0}")]
    Layout(String),
    /// The seal could not be applied or loaded.
    #[error("seal: {0}")]
    Seal(String),
    /// A verification step failed to parse the file.
    #[error("verification: {0}")]
    Verify(String),
}
