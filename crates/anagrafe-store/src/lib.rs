//! The register's storage.
//!
//! One [`Store`] trait made of one trait per concern ([`RegistryStore`], [`IdStore`],
//! [`LookupStore`], [`ClientStore`], [`AccountStore`], [`GuardStore`], [`CertificateStore`],
//! [`AuditStore`], [`PdndStore`], [`ElectoralStore`], [`RefdataStore`]; all in [`prelude`]),
//! two implementations: [`SqliteStore`] (embedded, WAL) and [`PgStore`] (national scale). Both
//! are exercised by the same conformance suite (`tests/conformance.rs`).
//!
//! Every write is one transaction holding the event, the state rows it changes and its audit
//! entry: they commit together or not at all. The audit entries form a hash chain
//! ([`audit`]) that [`AuditStore::verify_audit_chain`] checks.
//!
//! Errors: [`StoreError`]; `NotFound` is a value, unique violations are `Conflict`.

pub mod audit;
mod bulk;
mod case;
pub mod checkpoint;
mod electoral;
mod extract;
mod high_water;
mod ops;
mod pdnd;
pub mod postgres;
mod rows;
mod shared;
pub mod sqlite;
mod types;

pub use audit::{AuditEntry, ChainReport, StoredAudit, TraceQuery};
pub use case::{Case, CaseDocument, CaseFile, CaseFilter, CaseStep, EuProfile, NewCase, NewCaseDocument, NewCaseStep};
pub use checkpoint::{Checkpoint, CheckpointFile, CheckpointKey, CheckpointSigner};
pub use high_water::IdHighWater;

/// Every store trait, for code that calls a concern's methods on a concrete store
/// (`use anagrafe_store::prelude::*;`); through `dyn Store` they need no import.
pub mod prelude {
    pub use crate::{
        AccountStore, AlertStore, AuditStore, CaseStore, CertificateStore, ClientStore, ElectoralStore, ExtractStore, GuardStore, IdStore,
        LookupStore, PdndStore, RefdataStore, RegistryStore, Store,
    };
}
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use types::*;

use anagrafe_domain::{CodiceFiscale, IdStatus};
use async_trait::async_trait;
use chrono::NaiveDate;
use std::sync::Arc;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist (or did not exist on the date asked).
    #[error("not found: {0}")]
    NotFound(String),
    /// A unique constraint refused the write.
    #[error("conflict on {field}")]
    Conflict {
        /// Which field or constraint.
        field: String,
    },
    /// The register's current state does not allow the operation (409), on this field.
    #[error("{field}: {reason}")]
    State {
        /// The field of the request the refusal is about.
        field: String,
        /// Why.
        reason: anagrafe_domain::Why,
    },
    /// The request does not fit the record it is about (422), on this field.
    #[error("{field}: {reason}")]
    Refused {
        /// The field of the request the refusal is about.
        field: String,
        /// Why.
        reason: anagrafe_domain::Why,
    },
    /// The actor may not act on this record (REG-6 competence).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The data handed in break a rule the store enforces.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The stored data cannot be read back as valid domain values (corruption or a bug).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database URL is not one we understand.
    #[error("unsupported database URL (use sqlite://… or postgres://…)")]
    UnsupportedUrl,
    /// Database failure.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// The IDs reserved below the generator's high-water mark are used up: the mark must be
    /// raised ([`IdHighWater::raise`]) before more IDs are issued.
    #[error("the ID ANPR reservation is used up")]
    IdCeiling,
    /// Migration failure.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if shared::is_id_ceiling(&e) { Self::IdCeiling } else { Self::Database(e) }
    }
}

/// Result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// What the register asks of its storage: one trait per concern, and the database itself.
/// Through an `Arc<dyn Store>` (or a generic `S: Store`) every concern's methods can be
/// called as they are; on a concrete [`SqliteStore`] or [`PgStore`] a concern's methods need
/// its trait in scope (`use anagrafe_store::prelude::*;`).
#[async_trait]
pub trait Store:
    RegistryStore
    + IdStore
    + LookupStore
    + ClientStore
    + AccountStore
    + GuardStore
    + CertificateStore
    + AuditStore
    + AlertStore
    + ExtractStore
    + PdndStore
    + ElectoralStore
    + RefdataStore
    + CaseStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Applies the embedded migrations of this backend.
    async fn migrate(&self) -> Result<()>;

    /// Checks the database answers (readiness).
    async fn ping(&self) -> Result<()>;
}

/// The register itself: persons and households written and read (as of a date), the
/// operations that change them, their history, and the duplicate cases between records.
#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Registers a person (event + state + audit in one transaction); returns the internal id.
    async fn register_person(&self, person: &NewPerson, ctx: &WriteContext) -> Result<i64>;

    /// Creates a family or cohabitation (event + state + audit); returns its id.
    async fn create_family(&self, family: &NewFamily, ctx: &WriteContext) -> Result<i64>;

    /// Applies a registry operation in one transaction: its events, the state rows it changes,
    /// its notifications and communications to the Revenue Agency, its audit entries and,
    /// with `idem`, the client's operation id with the answer. New records get their ID ANPR
    /// from `issuer` at once.
    async fn apply(
        &self,
        op: &anagrafe_domain::ops::Operation,
        ctx: &WriteContext,
        issuer: &IdIssuer,
        idem: Option<&Idempotency>,
    ) -> Result<Applied>;

    /// The first answer given to a client's operation id, if that id was used.
    async fn client_operation(&self, actor: &str, client_op_id: &str) -> Result<Option<StoredOperation>>;

    /// Loads a population in bulk, reading batches until [`BulkMessage::End`]. The whole load is
    /// one transaction with one event and one audit entry; if the channel closes before `End`,
    /// nothing is written.
    async fn bulk_load(&self, batches: tokio::sync::mpsc::Receiver<BulkMessage>, ctx: &WriteContext) -> Result<BulkReport>;

    /// The person's record as it was on `as_of` (today when `None`).
    async fn person(&self, id: i64, as_of: Option<NaiveDate>) -> Result<PersonView>;

    /// A household and its members as they were on `as_of` (today when `None`).
    async fn family(&self, id: i64, as_of: Option<NaiveDate>) -> Result<FamilyView>;

    /// Residence and citizenship histories of a person (certificates 6, 9).
    async fn history(&self, person_id: i64) -> Result<PersonHistory>;

    /// The open duplicate cases (IDN-6 case 5) in which a record of `comune` is involved,
    /// oldest first (at most 500).
    async fn open_duplicates(&self, comune: anagrafe_domain::Belfiore) -> Result<Vec<DuplicateCase>>;
}

/// The ID ANPR (IDN-2, IDN-3): issuing it to the persons without one, and which person and state
/// an ID names.
#[async_trait]
pub trait IdStore: Send + Sync {
    /// Gives an ID ANPR to up to `limit` persons without one whose internal id is above
    /// `after` (lowest first), in one transaction with its event and audit entry. Returns how
    /// many were given and the last internal id looked at (`None` when none is left), to pass
    /// as `after` next time. Every ID goes into the registry of issued IDs, which never forgets
    /// one.
    async fn assign_ids(&self, issuer: &IdIssuer, after: i64, limit: u32, ctx: &WriteContext) -> Result<(u64, Option<i64>)>;

    /// The first assignment to a whole register (IDN-3): when no ID has ever been issued, gives
    /// one to every person in a single transaction, writing the registry in bulk and building
    /// its keys once at the end. Returns `None` (doing nothing) when the registry already holds
    /// IDs; then [`IdStore::assign_ids`] works in batches.
    async fn assign_ids_initial(&self, issuer: &IdIssuer, ctx: &WriteContext) -> Result<Option<u64>>;

    /// Number of persons still without an ID ANPR.
    async fn count_without_id(&self) -> Result<u64>;

    /// The person an ID ANPR was issued to, with the ID's state (valid, suspended or invalid).
    async fn find_by_id_anpr(&self, id: &anagrafe_domain::IdAnpr) -> Result<Option<(i64, IdStatus)>>;

    /// The ID ANPR in use (valid or suspended) of a person and its state, if issued.
    async fn id_anpr_of(&self, person_id: i64) -> Result<Option<(String, IdStatus)>>;
}

/// Finding persons: by codice fiscale, by personal data (IDN-4), and samples of the register
/// for demos and load scripts.
#[async_trait]
pub trait LookupStore: Send + Sync {
    /// Internal ids of the persons who had this codice fiscale on `as_of` (today when `None`).
    /// Usually one; more only for unresolved duplicates.
    async fn find_by_cf(&self, cf: &CodiceFiscale, as_of: Option<NaiveDate>) -> Result<Vec<i64>>;

    /// Internal ids and valid (or suspended) ID ANPR of the persons who had this codice fiscale
    /// on `as_of` (one round trip: C030's path).
    async fn ids_by_cf(&self, cf: &CodiceFiscale, as_of: Option<NaiveDate>) -> Result<Vec<(i64, String)>>;

    /// Internal ids of the persons whose personal data on `as_of` match (IDN-4 search by
    /// personal data). Records without an ID ANPR are not found.
    async fn find_by_generalita(&self, q: &GeneralitaQuery, as_of: Option<NaiveDate>) -> Result<Vec<i64>>;

    /// Number of person records.
    async fn count_persons(&self) -> Result<u64>;

    /// A few persons for demo credentials and smoke tests: `(id, codice fiscale)` of living
    /// residents, lowest ids first.
    async fn sample_residents(&self, limit: u32) -> Result<Vec<(i64, String)>>;

    /// Current codici fiscali of up to `n` persons spread over the whole register (internal ids
    /// drawn from `seed`), for load scripts: lookups that do not all hit one corner of the
    /// indexes.
    async fn spread_codici_fiscali(&self, n: u32, seed: u64) -> Result<Vec<String>>;
}

/// Web-service clients (comuni, the Revenue Agency): their registration, the signature ids
/// they spend, and the feeds they read or are pushed (notifications, communications to the
/// Agency).
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// A registered web-service client.
    async fn api_client(&self, client_id: &str) -> Result<Option<ApiClient>>;

    /// Every web-service client's id, in order (the administrator's list).
    async fn api_client_ids(&self) -> Result<Vec<String>>;

    /// Registers (or replaces the key of) a web-service client, traced.
    async fn save_api_client(&self, client: &ApiClient, ctx: &WriteContext) -> Result<()>;

    /// Records a signature id of `client` until it expires, provided the client is still
    /// registered as given (not revoked, same role, comune and key); says whether the id was
    /// new, already seen (a replay), or not recorded because the client changed. Expired ids
    /// are forgotten on the way.
    async fn accept_jti(&self, client: &ApiClient, jti: &str, expires_at_ms: i64) -> Result<JtiOutcome>;

    /// Notifications for a comune with `id > after`, oldest first.
    async fn notifications(&self, comune: anagrafe_domain::Belfiore, after: i64, limit: u32) -> Result<Vec<Notification>>;

    /// Notifications for a comune with `id < before`, newest first (the office's inbox).
    async fn latest_notifications(&self, comune: anagrafe_domain::Belfiore, before: i64, limit: u32) -> Result<Vec<Notification>>;

    /// Marks notification `id` of `comune` handled by `by`, traced with `entry` in the same
    /// transaction. A notification already handled keeps its first marking (returned, with no new
    /// trace entry); one that is not the comune's is `NotFound`.
    async fn mark_notification_handled(
        &self,
        comune: anagrafe_domain::Belfiore,
        id: i64,
        by: &str,
        entry: &AuditEntry,
    ) -> Result<HandledNotification>;

    /// How the comune's notifications with ids in `from..=to` were handled.
    async fn notifications_handled(&self, comune: anagrafe_domain::Belfiore, from: i64, to: i64) -> Result<Vec<HandledNotification>>;

    /// The ID generator's counter (the next counter value) and the ceiling the database may
    /// issue below (`None`: no high-water mark is kept).
    async fn id_counter(&self) -> Result<(i64, Option<i64>)>;

    /// Moves the ID generator's counter up to `floor` if it is below, and sets its ceiling: what
    /// the high-water mark outside the database allows ([`IdHighWater`]).
    async fn set_id_limits(&self, floor: i64, ceiling: i64) -> Result<()>;

    /// Communications to the Revenue Agency with `id > after`, oldest first.
    async fn revenue_outbox(&self, after: i64, limit: u32) -> Result<Vec<OutboxMessage>>;

    /// The comune clients with a push URL, with their delivery state.
    async fn push_targets(&self) -> Result<Vec<PushTarget>>;

    /// Records the outcome of a push to a client.
    async fn record_push(
        &self,
        client_id: &str,
        delivered_up_to: i64,
        attempts: i64,
        next_attempt_at: i64,
        error: Option<&str>,
    ) -> Result<()>;

    /// Sets (or with `None` removes) where a client's notifications are pushed, traced.
    async fn set_push_url(&self, client_id: &str, url: Option<&str>, ctx: &WriteContext) -> Result<()>;
}

/// People who log in: operator accounts and their security state, sessions, TOTP steps, and
/// citizens' logins in progress with an identity provider (OIDC).
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// An operator account with its roles.
    async fn operator(&self, username: &str) -> Result<Option<Operator>>;

    /// Every operator account's name, in order.
    async fn operator_names(&self) -> Result<Vec<String>>;

    /// Usernames holding a role whose scope is `scope` (an organisation's code, a comune's
    /// Belfiore code), sorted.
    async fn operator_names_in_scope(&self, scope: &str) -> Result<Vec<String>>;

    /// Creates or replaces an operator account and its roles (administration), traced.
    async fn save_operator(&self, operator: &Operator, ctx: &WriteContext) -> Result<()>;

    /// Changes an operator's security state and appends `entry`, in one transaction.
    async fn update_operator(&self, username: &str, update: &OperatorUpdate, entry: &AuditEntry) -> Result<()>;

    /// Counts one more failed login of an operator, atomically, with its audit entry; the new
    /// count of consecutive failures.
    async fn count_login_failure(&self, username: &str, entry: &AuditEntry) -> Result<i64>;

    /// Accepts a TOTP step for an operator if it is later than the last accepted one (each code
    /// is good once); `false` otherwise.
    async fn accept_totp_step(&self, username: &str, step: i64) -> Result<bool>;

    /// Opens a session after a successful login: when `totp_step` is given it must be later
    /// than the operator's last accepted step (else nothing is written and `false` comes
    /// back: the code was used before); failures are reset; `entry` traces the login.
    async fn open_session(&self, session: &Session, totp_step: Option<i64>, entry: &AuditEntry) -> Result<bool>;

    /// A session by the hash of its token.
    async fn session(&self, token_hash: &str) -> Result<Option<Session>>;

    /// Records activity on a session (idle expiry counts from here), and optionally a fresh
    /// authentication or second factor.
    async fn touch_session(&self, token_hash: &str, now: i64, reauthenticated: bool, second_factor: bool) -> Result<()>;

    /// Ends one session (`token_hash`) or every open session of a subject, traced; how many.
    async fn end_sessions(&self, kind: &str, subject: &str, token_hash: Option<&str>, entry: &AuditEntry) -> Result<u64>;

    /// Records a citizen's login in progress.
    async fn save_oidc_flow(&self, flow: &OidcFlow) -> Result<()>;

    /// Takes a login in progress by its state's hash: once only, and only if it started after
    /// `not_before` (epoch ms).
    async fn take_oidc_flow(&self, state_hash: &str, not_before: i64) -> Result<Option<OidcFlow>>;
}

/// Protection against abuse: rate-limit counters and blocked addresses.
#[async_trait]
pub trait GuardStore: Send + Sync {
    /// Counts one more event under `key` in the current fixed window of `window_ms`; the count
    /// in this window, this one included (one statement: shared by every instance).
    async fn hit(&self, key: &str, window_ms: i64, now: i64) -> Result<i64>;

    /// The count of `key` in the current window of `window_ms`, without counting (0 when none).
    async fn hits(&self, key: &str, window_ms: i64, now: i64) -> Result<i64>;

    /// Remembers that `username` logged in successfully from `address` at `at`.
    async fn remember_login_place(&self, username: &str, address: &str, at: i64) -> Result<()>;

    /// Whether `username` logged in successfully from `address` since `since` (epoch ms).
    async fn known_login_place(&self, username: &str, address: &str, since: i64) -> Result<bool>;

    /// Blocks an address until `until` (epoch ms) and traces it as a security event.
    async fn block_address(&self, address: &str, until: i64, reason: &str, entry: &AuditEntry) -> Result<()>;

    /// Addresses blocked at `now`, with the end of their block.
    async fn blocked_addresses(&self, now: i64) -> Result<Vec<(String, i64)>>;

    /// Ends the block of `address` at `now` (epoch ms), if it is blocked then, and traces
    /// `entry` in the same transaction; `false` (and nothing written) when it was not blocked.
    async fn unblock_address(&self, address: &str, now: i64, entry: &AuditEntry) -> Result<bool>;
}

/// Registry extracts (VIS-1 … VIS-11): the organisations that ask for them, the requests with
/// how each was answered, and the protocol numbers, per comune and year without gaps.
#[async_trait]
pub trait ExtractStore: Send + Sync {
    /// Saves an organisation (a new one when `org.id` is 0, else the one of that id), traced
    /// with `ctx`; its id. A code already taken by another is `Conflict { field: "code" }`.
    async fn save_extract_org(&self, org: &ExtractOrg, ctx: &WriteContext) -> Result<i64>;

    /// An organisation by its code.
    async fn extract_org(&self, code: &str) -> Result<Option<ExtractOrg>>;

    /// An organisation by its id.
    async fn extract_org_by_id(&self, id: i64) -> Result<Option<ExtractOrg>>;

    /// The organisations of a comune, by name.
    async fn extract_orgs(&self, comune: anagrafe_domain::Belfiore) -> Result<Vec<ExtractOrg>>;

    /// Records a request and traces `entry` in one transaction; when it starts issued, the
    /// comune's next protocol number of `year` is taken in the same transaction and the data
    /// kept with it. Its id and protocol.
    async fn add_extract_request(
        &self,
        req: &NewExtractRequest,
        issued: Option<(i32, &IssuedContent)>,
        entry: &AuditEntry,
    ) -> Result<(i64, Option<anagrafe_domain::extract::Protocol>)>;

    /// Decides a pending request at `now` (a protocol of `year` when approved), traced with
    /// `entry` in the same transaction; a request no longer pending is `State`.
    #[allow(clippy::too_many_arguments)]
    async fn decide_extract(
        &self,
        id: i64,
        decision: &ExtractDecision,
        mediator: &str,
        note: &str,
        now: i64,
        year: i32,
        entry: &AuditEntry,
    ) -> Result<ExtractRequest>;

    /// One request.
    async fn extract_request(&self, id: i64) -> Result<Option<ExtractRequest>>;

    /// Posts `b` (its id is given) and traces `entry`, in one transaction; its id.
    async fn post_bulletin(&self, b: &Bulletin, entry: &AuditEntry) -> Result<i64>;

    /// The messages of `comune` shown to `username` at `now` (public ones and theirs, neither
    /// expired nor withdrawn), newest first; with `every`, every message of the comune (the
    /// TOP users' list), withdrawn and expired included.
    async fn bulletins(&self, comune: anagrafe_domain::Belfiore, username: &str, now: i64, every: bool) -> Result<Vec<Bulletin>>;

    /// Withdraws message `id` of `comune` at `now`, traced with `entry`; `NotFound` when there
    /// is none in force.
    async fn withdraw_bulletin(&self, comune: anagrafe_domain::Belfiore, id: i64, now: i64, entry: &AuditEntry) -> Result<()>;

    /// Sets (or, with `None`, removes) the e-mail address operator `username` receives the
    /// extracts' notices at, traced with `entry`, in one transaction.
    async fn set_operator_email(&self, username: &str, email: Option<&str>, at_ms: i64, entry: &AuditEntry) -> Result<()>;

    /// The e-mail addresses of these operators that have one, by username.
    async fn operator_emails(&self, usernames: &[String]) -> Result<Vec<(String, String)>>;

    /// The sealed PDF kept for an issued extract, with its SHA-256, if it was made.
    async fn extract_document(&self, id: i64) -> Result<Option<(Vec<u8>, String)>>;

    /// Keeps the PDF made for extract `id` at `at_ms` and traces `entry`, in one transaction.
    /// When one is kept already (two first downloads at once), that one stays and is
    /// answered; the entry is traced either way.
    async fn save_extract_document(&self, id: i64, pdf: &[u8], at_ms: i64, entry: &AuditEntry) -> Result<(Vec<u8>, String)>;

    /// Requests as `filter` says, newest first.
    async fn extract_requests(&self, filter: &ExtractFilter) -> Result<Vec<ExtractRequest>>;

    /// Internal ids of the persons holding an identity document numbered `number` (upper case,
    /// no spaces), of a kind `kinds` lists (stored names), in force.
    async fn find_by_document(&self, kinds: &[&str], number: &str) -> Result<Vec<i64>>;

    /// Internal ids of the persons whose current name is `surname` `given` (case aside), born
    /// on `born_on` and in `born_in` when given; at most `limit`.
    async fn find_by_name(
        &self,
        surname: &str,
        given: &str,
        born_on: Option<NaiveDate>,
        born_in: Option<&str>,
        limit: u32,
    ) -> Result<Vec<i64>>;
}

/// The security officer's alerts (SEC-5): what the log analysis found, kept with a state, an
/// assignee and the steps taken.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Keeps what the analysis found at `now`: the alert of the same rule and key that is open
    /// or acknowledged gets the higher count and the time (`Ongoing`); one closed less than
    /// `quiet_ms` ago stays closed (`Quiet`); otherwise a new open alert is raised and `entry`
    /// appended to the trace in the same transaction (`Raised`).
    async fn raise_alert(&self, f: &AlertFinding, now: i64, quiet_ms: i64, entry: &AuditEntry) -> Result<AlertRaise>;

    /// Alerts in `state` (any when `None`), newest first, with an id below `before`.
    async fn alerts(&self, state: Option<anagrafe_domain::security::AlertState>, before: i64, limit: u32) -> Result<Vec<Alert>>;

    /// An alert with its steps, oldest first.
    async fn alert(&self, id: i64) -> Result<Option<(Alert, Vec<AlertStep>)>>;

    /// Moves alert `id` as `change` says, with its step and `entry` traced, in one transaction:
    /// `NotFound` for no such alert, `Conflict` when it is no longer in `change.from`.
    async fn change_alert(&self, id: i64, change: &AlertChange, entry: &AuditEntry) -> Result<Alert>;
}

/// Certificates (issued records and their sealed PDFs), the stamp-duty payments they consume,
/// and the captcha challenges of the public pages that ask for them.
#[async_trait]
pub trait CertificateStore: Send + Sync {
    /// Stores an issued certificate, consumes its stamp-duty payment (which must be the
    /// requester's and unused: `State` on `stamp.payment_id` otherwise) and traces the issue,
    /// all in one transaction.
    async fn save_certificate(&self, cert: &NewCertificate, entry: &AuditEntry) -> Result<()>;

    /// A certificate's record by its printed number.
    async fn certificate(&self, id: &str) -> Result<Option<StoredCertificate>>;

    /// A certificate's record by the hash of its verification token.
    async fn certificate_by_token(&self, token_hash: &str) -> Result<Option<StoredCertificate>>;

    /// The sealed PDF of a certificate, while it is kept.
    async fn certificate_pdf(&self, id: &str) -> Result<Option<Vec<u8>>>;

    /// A person's certificates, newest first.
    async fn certificates_of(&self, person_id: i64) -> Result<Vec<StoredCertificate>>;

    /// Deletes the PDFs of certificates whose validity ended before `today`; traces how many.
    async fn delete_expired_certificates(&self, today: NaiveDate, entry: &AuditEntry) -> Result<u64>;

    /// Records a stamp-duty payment, traced.
    async fn save_payment(&self, payment: &StampPayment, entry: &AuditEntry) -> Result<()>;

    /// A payment by id.
    async fn payment(&self, id: &str) -> Result<Option<StampPayment>>;

    /// Stores a captcha challenge (hashes only).
    async fn save_captcha(&self, id_hash: &str, answer_hash: &str, expires_at: i64) -> Result<()>;

    /// Takes a captcha challenge once: its answer hash if it exists and has not expired; it is
    /// deleted either way.
    async fn take_captcha(&self, id_hash: &str, now: i64) -> Result<Option<String>>;
}

/// The trace (SEC-4): entries appended on their own, read back, and the hash chain verified.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an audit entry in its own transaction (reads, refusals, logins); entries of
    /// concurrent callers are committed in groups, each caller waiting for its own.
    async fn audit(&self, entry: &AuditEntry) -> Result<i64>;

    /// As [`AuditStore::audit`], writing in the same commit what a public body's answered call
    /// leaves (committed together, or nothing): `Conflict` on `idOperazioneClient` when the body
    /// used that operation id before, on `jti` when it spent that signature id before.
    async fn audit_call(&self, entry: &AuditEntry, record: &CallRecord) -> Result<i64>;

    /// Audit entries with `seq > after`, oldest first.
    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<StoredAudit>>;

    /// Trace entries about person `person` (internal id), newest first, with a sequence number
    /// below `before` (`i64::MAX` for the newest): what the citizen's "who looked at my data"
    /// page reads.
    async fn audit_about(&self, person: i64, before: i64, limit: u32) -> Result<Vec<StoredAudit>>;

    /// Trace entries that match every condition of `q`, newest first, with a sequence number
    /// below `before` (`i64::MAX` for the newest): the security officer's search (SEC-5).
    async fn audit_search(&self, q: &TraceQuery, before: i64, limit: u32) -> Result<Vec<StoredAudit>>;

    /// The keys whose count of `what` from `from_ms` to before `to_ms` is above `threshold`,
    /// with their counts, highest first (SEC-5's rules).
    async fn trace_counts(&self, what: &audit::TraceCount, from_ms: i64, to_ms: i64, threshold: i64) -> Result<Vec<(String, i64)>>;

    /// Walks the whole chain and reports the first entry that does not verify.
    async fn verify_audit_chain(&self) -> Result<ChainReport> {
        self.verify_audit_chain_with(&[]).await
    }

    /// As [`AuditStore::verify_audit_chain`], checking the entries against these signed
    /// checkpoints as well (give only those whose signature verified).
    async fn verify_audit_chain_with(&self, checkpoints: &[Checkpoint]) -> Result<ChainReport>;

    /// The chain's head: the last entry's sequence number and hash (0 and the genesis hash for
    /// an empty trace).
    async fn audit_head(&self) -> Result<(i64, String)>;

    /// Keeps a signed checkpoint (the table refuses to change or delete one).
    async fn save_checkpoint(&self, c: &Checkpoint) -> Result<()>;

    /// Every checkpoint kept in the database, oldest first.
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>>;

    /// The archive segments recorded, oldest first.
    async fn trace_archives(&self) -> Result<Vec<TraceArchive>>;

    /// Records segment `a` (its file already written and synced) and deletes its entries from
    /// the live trace, with `entry` traced, in one transaction: `State` on `from` unless the
    /// segment starts at the first live entry and ends at or before the head. The database's
    /// triggers let only recorded entries go (PostgreSQL: run as the database's owner).
    async fn archive_trace(&self, a: &TraceArchive, entry: &AuditEntry) -> Result<u64>;

    /// Marks segment `id` purged at `at` (its file deleted at the end of retention), traced.
    async fn purge_trace_archive(&self, id: i64, at: i64, entry: &AuditEntry) -> Result<()>;
}

/// Public bodies on the e-services (PDND): their registration (keys, purposes), the signature
/// ids they spend, and the answers kept for their operation ids.
#[async_trait]
pub trait PdndStore: Send + Sync {
    /// A public body registered for the e-services, with its keys and purposes.
    async fn pdnd_client(&self, client_id: &str) -> Result<Option<PdndClient>>;

    /// Every public body's client id, in order (the administrator's list).
    async fn pdnd_client_ids(&self) -> Result<Vec<String>>;

    /// Registers a public body, or replaces its name, keys and purposes (a key or purpose
    /// left out is revoked), traced.
    async fn save_pdnd_client(&self, client: &PdndClient, ctx: &WriteContext) -> Result<()>;

    /// Records a signature id of a public body until it expires, provided the body and the key
    /// `kid` are still registered and unrevoked: `Fresh`, `Replayed`, or `ClientChanged`.
    async fn accept_pdnd_jti(&self, client_id: &str, kid: &str, jti: &str, expires_at_ms: i64) -> Result<JtiOutcome>;

    /// The answer first given to a public body's operation id, if it used that id.
    async fn pdnd_answer(&self, client_id: &str, id_operazione_client: &str) -> Result<Option<PdndAnswer>>;

    /// Deletes the answers kept for public bodies' operation ids that were given before
    /// `before_ms` (their replay window is over); traces how many, in the same transaction.
    async fn purge_pdnd_answers(&self, before_ms: i64, entry: &AuditEntry) -> Result<u64>;
}

/// Electoral data (ELE-1, ELE-3, ELE-6, ELE-7) and citizens' requests to rectify them (CIT-3).
#[async_trait]
pub trait ElectoralStore: Send + Sync {
    /// A person's electoral data, if their comune recorded any.
    async fn electoral_data(&self, person_id: i64) -> Result<Option<ElectoralRecord>>;

    /// Writes a person's electoral data over the previous ones (ELE-6: no history) with
    /// `entry`, in one transaction; only for a person in the register whose competent comune
    /// is `comune` (ELE-3: `Forbidden` otherwise).
    async fn save_electoral_data(
        &self,
        person_id: i64,
        comune: &str,
        data: &anagrafe_domain::electoral::ElectoralData,
        entry: &AuditEntry,
    ) -> Result<()>;

    /// A comune's bulk load of existing electoral data (ELE-7): every row or none, one trace
    /// entry; a row about a person the comune does not keep is refused by its index.
    async fn load_electoral_data(
        &self,
        comune: &str,
        rows: &[(i64, anagrafe_domain::electoral::ElectoralData)],
        entry: &AuditEntry,
    ) -> Result<u64>;

    /// Records a citizen's rectification request, addressed to the person's competent comune,
    /// traced; `State` on `rectification` while an earlier one waits for its answer.
    async fn request_rectification(&self, request: &NewRectification, entry: &AuditEntry) -> Result<i64>;

    /// A person's rectification requests, newest first.
    async fn rectifications_of(&self, person_id: i64) -> Result<Vec<Rectification>>;

    /// The requests addressed to a comune, newest first (only the open ones with `open_only`).
    async fn rectifications(&self, comune: &str, open_only: bool, limit: u32) -> Result<Vec<Rectification>>;

    /// Answers an open request addressed to `comune`, traced with the person as subject;
    /// returns the person's internal id. `NotFound` for another comune's request, `State` when
    /// it was answered before.
    async fn answer_rectification(&self, id: i64, comune: &str, answer: &RectificationAnswer, entry: &AuditEntry) -> Result<i64>;
}

/// Citizens' requests as cases (CIT-9) and the EU citizens' declared data (EU-2). Every write
/// is one transaction with its trace entry; a case's data and documents change only while it is
/// a draft (`State` otherwise).
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Creates a draft case at `at`; its id.
    async fn create_case(&self, case: &NewCase, at: i64, entry: &AuditEntry) -> Result<i64>;

    /// Replaces a draft's data (and competent comune).
    async fn update_case_data(&self, id: i64, comune: anagrafe_domain::Belfiore, data: &str, at: i64, entry: &AuditEntry) -> Result<()>;

    /// Attaches a document to a draft holding fewer than `max`; its id.
    async fn add_case_document(&self, id: i64, doc: &NewCaseDocument, at: i64, max: usize, entry: &AuditEntry) -> Result<i64>;

    /// Removes a document from a draft.
    async fn remove_case_document(&self, id: i64, document: i64, at: i64, entry: &AuditEntry) -> Result<()>;

    /// Submits a draft: the comune's next case protocol number of `year`, the deadline, the
    /// first step, the comune's notification, in one transaction.
    async fn submit_case(
        &self,
        id: i64,
        due_on: NaiveDate,
        year: i32,
        step: &NewCaseStep,
        entry: &AuditEntry,
    ) -> Result<anagrafe_domain::extract::Protocol>;

    /// Records a step that moves the case from `step.from` to `step.to` (and verifies a
    /// document when the step says so). `State` when the case is no longer in `step.from`; with
    /// a client operation id already used by the same actor on the case, the step first
    /// recorded (or `Conflict` when the step differs).
    async fn add_case_step(&self, id: i64, step: &NewCaseStep, entry: &AuditEntry) -> Result<CaseStep>;

    /// A case with its documents and steps.
    async fn case_file(&self, id: i64) -> Result<Option<CaseFile>>;

    /// One document with its bytes.
    async fn case_document_content(&self, id: i64, document: i64) -> Result<Option<(CaseDocument, Vec<u8>)>>;

    /// Cases by `filter`, newest first.
    async fn cases(&self, filter: &CaseFilter) -> Result<Vec<Case>>;

    /// An EU citizen's profile by eIDAS identifier.
    async fn eu_profile(&self, eidas_id: &str) -> Result<Option<EuProfile>>;

    /// Saves a profile (inserted or replaced), with its trace entry when given.
    async fn save_eu_profile(&self, profile: &EuProfile, entry: Option<&AuditEntry>) -> Result<()>;
}

/// Reference data (comuni, foreign states) loaded from official files into the register.
#[async_trait]
pub trait RefdataStore: Send + Sync {
    /// Stores reference data (compact form) loaded from official files, with an audit entry.
    async fn save_refdata(&self, comuni_tsv: &str, stati_tsv: &str, ctx: &WriteContext) -> Result<()>;

    /// The reference data stored in this register, if any: `(comuni.tsv, stati.tsv)`.
    async fn load_refdata(&self) -> Result<Option<(String, String)>>;
}

/// Opens a store from a URL (`sqlite://PATH[?mode=rwc]` or `postgres://…`), without migrating.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// Current time in epoch milliseconds, the register's recorded-time unit.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
