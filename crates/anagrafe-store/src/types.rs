//! Values the store takes and gives.

use anagrafe_domain::{Belfiore, HouseholdKind, IdGenerator, PersonRecord};
use chrono::NaiveDate;
use serde::Serialize;

/// Who writes and how they authenticated: carried into the event and the audit entry.
#[derive(Debug, Clone, Serialize)]
pub struct WriteContext {
    /// Request id (also in every log line of the request).
    pub request_id: String,
    /// Account, client or component acting.
    pub actor: String,
    /// Codice fiscale of the natural person acting, when known.
    pub actor_cf: Option<String>,
    /// eIDAS unique identifier, when the actor logged in through eIDAS.
    pub eidas_id: Option<String>,
    /// Authentication mode (`spid`, `cie`, `password_totp`, `modi`, `cli`, `system`…).
    pub auth_mode: String,
    /// Comune the actor acts for, when any.
    pub comune: Option<Belfiore>,
    /// The client's operation id, for idempotent writes.
    pub client_op_id: Option<String>,
}

impl WriteContext {
    /// A context for an operator command run from the command line.
    pub fn cli(operation_hint: &str) -> Self {
        Self {
            request_id: format!("cli-{}-{}", operation_hint, crate::now_ms()),
            actor: std::env::var("USER").map(|u| format!("cli:{u}")).unwrap_or_else(|_| "cli".to_owned()),
            actor_cf: None,
            eidas_id: None,
            auth_mode: "cli".to_owned(),
            comune: None,
            client_op_id: None,
        }
    }
}

/// A family or cohabitation to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFamily {
    /// Family or cohabitation kind.
    pub kind: HouseholdKind,
    /// Comune of the household.
    pub comune: Belfiore,
    /// Name of a cohabitation (e.g. the care home).
    pub name: Option<String>,
    /// Date it was formed.
    pub formed_on: NaiveDate,
}

/// A person to register. `record.household`'s `family_id` is an existing family's id, or — in
/// a [`PopulationBatch`] — the index of a family in that batch's `families`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPerson {
    /// The record.
    pub record: PersonRecord,
    /// Since when the current residence holds (effective date of the registration).
    pub residence_since: NaiveDate,
    /// Since when the civil status holds.
    pub civil_status_since: NaiveDate,
    /// Since when the person belongs to the household.
    pub household_since: NaiveDate,
    /// Registration reason code (tab. 07, or tab. 19 for AIRE).
    pub reason: String,
}

/// A slice of a population for bulk loading.
#[derive(Debug, Clone, Default)]
pub struct PopulationBatch {
    /// Households created by this batch.
    pub families: Vec<NewFamily>,
    /// Persons; their household ids index `families`.
    pub persons: Vec<NewPerson>,
}

/// What a bulk load's producer sends. The load commits only after `End`: a producer that
/// stops without it (a crash, a closed channel) leaves nothing written.
#[derive(Debug, Clone)]
pub enum BulkMessage {
    /// The next batch.
    Batch(PopulationBatch),
    /// Every batch has been sent.
    End,
}

/// What a bulk load did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BulkReport {
    /// Persons written.
    pub persons: u64,
    /// Households written.
    pub families: u64,
    /// The load's event id.
    pub event_id: i64,
    /// The load's audit sequence number.
    pub audit_seq: i64,
}

/// A person as the register knew them on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonView {
    /// Internal id (never shown to the public).
    pub id: i64,
    /// The date the view is for.
    pub as_of: NaiveDate,
    /// The record on that date.
    pub record: PersonRecord,
}

/// A household as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyView {
    /// Internal id.
    pub id: i64,
    /// Family or cohabitation.
    pub kind: HouseholdKind,
    /// Comune.
    pub comune: Belfiore,
    /// When formed.
    pub formed_on: NaiveDate,
    /// Members on that date, head first.
    pub members: Vec<FamilyMember>,
}

/// The register's ID ANPR generator and the version of its key.
#[derive(Debug, Clone)]
pub struct IdIssuer {
    /// The keyed permutation.
    pub generator: IdGenerator,
    /// Version of the key, recorded with every ID issued under it.
    pub key_version: i16,
    /// The generator's high-water mark outside the database (`None`: not kept, as in tests and
    /// benchmarks); see [`crate::IdHighWater`].
    pub high_water: Option<std::sync::Arc<crate::IdHighWater>>,
}

/// A member of a household on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyMember {
    /// Internal person id (never shown outside).
    #[serde(skip)]
    pub person_id: i64,
    /// The member's ID ANPR.
    pub id_anpr: Option<anagrafe_domain::IdAnpr>,
    /// Relation to the head (tab. 05) or bond (tab. 06); 1 is the head.
    pub relation: u16,
}

/// A client's operation id and the digest of the body it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The client's operation id.
    pub client_op_id: String,
    /// SHA-256 of the request body (hex); `None` keeps no answer (adoption of a minor, whose
    /// request names the old record and whose answer the new one).
    pub body_sha256: Option<String>,
}

/// The first answer given to a client operation id.
#[derive(Debug, Clone)]
pub struct StoredOperation {
    /// Digest of the first body (`None`: not kept).
    pub body_sha256: Option<String>,
    /// The operation.
    pub operation: String,
    /// The first answer (`None`: not kept).
    pub response: Option<String>,
}

/// What an operation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Applied {
    /// Operation name (`person.register`, …).
    pub operation: String,
    /// Events written.
    pub event_ids: Vec<i64>,
    /// The person concerned (for a registration, the new ID ANPR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_anpr: Option<anagrafe_domain::IdAnpr>,
    /// The household concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_id: Option<i64>,
    /// The person's codice fiscale after the operation, when it was set or changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codice_fiscale: Option<String>,
    /// Duplicate case opened or resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_case: Option<i64>,
    /// An omocodia was flagged for the Agency (IDN-6 case 6).
    pub omocodia: bool,
    /// Notifications written for other comuni.
    pub notifications: u32,
    /// Communications written for the Revenue Agency.
    pub revenue_messages: u32,
    /// Sequence number of the (last) audit entry.
    pub audit_seq: i64,
}

/// An item of a feed: a notification for a comune, or a communication to the Revenue Agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedItem {
    /// Cursor: ids grow in commit order.
    pub id: i64,
    /// Kind: for comuni `trasferimento_residenza`, `nascita_registrata_altrove`, …; for the
    /// Agency `attribuzione_cf`, `variazione_dati`, `omocodia`.
    pub kind: String,
    /// The event it comes from.
    pub event_id: i64,
    /// Content (JSON).
    pub payload: serde_json::Value,
    /// When written (epoch ms).
    pub created_at: i64,
}

/// A notification for a comune.
pub type Notification = FeedItem;

/// A notification the registry office marked handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandledNotification {
    /// The notification.
    pub id: i64,
    /// The operator who marked it, by the name the pages show.
    pub by: String,
    /// When (epoch ms).
    pub at_ms: i64,
}

/// A communication to the Revenue Agency.
pub type OutboxMessage = FeedItem;

/// A web-service client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiClient {
    /// Client id (the JWS `kid`).
    pub client_id: String,
    /// [`Role::Comune`](anagrafe_domain::Role::Comune) or
    /// [`Role::RevenueAgency`](anagrafe_domain::Role::RevenueAgency).
    pub role: anagrafe_domain::Role,
    /// The comune it acts for (role `comune`).
    pub comune: Option<Belfiore>,
    /// SPKI PEM of its ES256 public key.
    pub public_key_pem: String,
    /// Where notifications are pushed, if anywhere.
    pub push_url: Option<String>,
    /// Revoked clients are refused.
    pub revoked: bool,
}

/// A comune client notifications are pushed to, and how far delivery got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// The client.
    pub client_id: String,
    /// Its comune (whose notifications it gets).
    pub comune: Belfiore,
    /// Where to POST them.
    pub url: String,
    /// Last notification id acknowledged.
    pub delivered_up_to: i64,
    /// Failures since the last success.
    pub attempts: i64,
    /// Not before this time (epoch ms).
    pub next_attempt_at: i64,
}

/// What [`crate::ClientStore::accept_jti`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JtiOutcome {
    /// Recorded: the first use of this signature id.
    Fresh,
    /// Already recorded: a replay.
    Replayed,
    /// Not recorded: the client is revoked, gone, or registered with another role, comune or key.
    ClientChanged,
}

/// A role held by an operator, where it applies, and whether with the mediator function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RoleGrant {
    /// One of [`Role::OPERATOR`](anagrafe_domain::Role::OPERATOR).
    pub role: anagrafe_domain::Role,
    /// The comune (Belfiore code) of a comune role, the public body's code for public-body
    /// users, empty for national roles.
    pub scope: String,
    /// The MEDIATOR function (registry officers acting for others).
    pub mediator: bool,
}

/// An operator account.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Operator {
    /// Login name.
    pub username: String,
    /// Name shown in pages and traces.
    pub display_name: String,
    /// The natural person's codice fiscale, written on every trace entry of their actions
    /// (`None` for accounts created before it was asked).
    pub codice_fiscale: Option<String>,
    /// argon2id PHC string.
    #[serde(skip)]
    pub password_hash: String,
    /// A password set by an administrator must be changed at the next login.
    pub must_change_password: bool,
    /// Confirmed TOTP secret (base32).
    #[serde(skip)]
    pub totp_secret: Option<String>,
    /// TOTP secret offered at enrolment, not confirmed yet.
    #[serde(skip)]
    pub totp_pending: Option<String>,
    /// Last accepted TOTP step.
    pub totp_last_step: Option<i64>,
    /// Consecutive failed logins.
    pub failed_logins: i64,
    /// No login before this instant (epoch ms).
    pub locked_until: Option<i64>,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
    /// Roles and competence.
    pub roles: Vec<RoleGrant>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator").field("username", &self.username).field("roles", &self.roles).finish_non_exhaustive()
    }
}

/// Changes to an operator's security state, written with their audit entry.
#[derive(Debug, Clone, Default)]
pub struct OperatorUpdate {
    /// New consecutive-failure count.
    pub failed_logins: Option<i64>,
    /// New lock (`Some(None)` clears it).
    pub locked_until: Option<Option<i64>>,
    /// New password hash.
    pub password_hash: Option<String>,
    /// New must-change flag.
    pub must_change_password: Option<bool>,
    /// New confirmed TOTP secret (`Some(None)` removes the second factor).
    pub totp_secret: Option<Option<String>>,
    /// New pending TOTP secret.
    pub totp_pending: Option<Option<String>>,
    /// New last accepted TOTP step (set with a confirmed secret, cleared with a reset).
    pub totp_last_step: Option<Option<i64>>,
}

/// A server-side session.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// SHA-256 (hex) of the cookie's token.
    #[serde(skip)]
    pub token_hash: String,
    /// `operator` or `citizen`.
    pub kind: String,
    /// Operator username or citizen's codice fiscale.
    pub subject: String,
    /// How the subject authenticated.
    pub auth_mode: String,
    /// Level of assurance (0–3).
    pub loa: i64,
    /// Whether the second factor was given (operators).
    pub second_factor: bool,
    /// Token forms and scripts must echo.
    #[serde(skip)]
    pub csrf_token: String,
    /// Opened (epoch ms).
    pub created_at: i64,
    /// Last request (epoch ms).
    pub last_seen_at: i64,
    /// Last (re-)authentication (epoch ms).
    pub authenticated_at: i64,
    /// Absolute expiry (epoch ms).
    pub expires_at: i64,
    /// Logout (epoch ms).
    pub ended_at: Option<i64>,
    /// The eIDAS unique identifier, for a session opened through the eIDAS node (EU-1).
    #[serde(default)]
    pub eidas_id: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("kind", &self.kind).field("auth_mode", &self.auth_mode).finish_non_exhaustive()
    }
}

/// A citizen's login in progress with an identity provider.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcFlow {
    /// SHA-256 (hex) of the `state` sent to the provider.
    pub state_hash: String,
    /// Configured provider name.
    pub provider: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// PKCE code verifier.
    pub pkce_verifier: String,
    /// Started (epoch ms).
    pub created_at: i64,
}

impl std::fmt::Debug for OidcFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcFlow").field("provider", &self.provider).finish_non_exhaustive()
    }
}

/// An issued certificate's record (the sealed PDF is read separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredCertificate {
    /// Printed number.
    pub id: String,
    /// Internal id of the person certified.
    #[serde(skip)]
    pub person_id: i64,
    /// Tab. 13 codes (several: combined certificate).
    pub types: Vec<u16>,
    /// Languages, Italian first.
    pub langs: Vec<String>,
    /// Issued (epoch ms).
    pub issued_at: i64,
    /// Last day of validity.
    pub expires_on: NaiveDate,
    /// Who asked for it (actor).
    #[serde(skip)]
    pub requester: String,
    /// Stamp duty: JSON (`{"paid":"…"}` or `{"exempt":39-code,"description":…}`).
    pub stamp: serde_json::Value,
    /// SHA-256 (hex) of the sealed PDF.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// When the PDF was deleted (epoch ms), and why (`expired`, `revoked`).
    pub deleted_at: Option<i64>,
    /// Reason of the deletion.
    pub delete_reason: Option<String>,
}

/// A certificate to store, with its verification token's hash and the stamp-duty payment it uses.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    /// The record.
    pub meta: StoredCertificate,
    /// SHA-256 (hex) of the QR code's token.
    pub token_hash: String,
    /// The sealed PDF.
    pub pdf: Vec<u8>,
    /// Payment of the stamp duty consumed by this certificate (`None`: exempt).
    pub payment_id: Option<String>,
}

/// A stamp-duty payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StampPayment {
    /// Payment id.
    pub id: String,
    /// Actor who paid.
    #[serde(skip)]
    pub payer: String,
    /// Amount in euro cents.
    pub amount_cents: i64,
    /// `local` in the embedded mode, or the payment platform.
    pub provider: String,
    /// When (epoch ms).
    pub paid_at: i64,
    /// The certificate it paid for, once used.
    pub certificate_id: Option<String>,
}

/// A value with the period it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Dated<T> {
    /// First day.
    pub from: NaiveDate,
    /// Day it stopped holding (exclusive); `None` while it holds.
    pub to: Option<NaiveDate>,
    /// The value.
    pub value: T,
}

/// The parts of a record whose history certificates show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonHistory {
    /// Residences, oldest first.
    pub residences: Vec<Dated<anagrafe_domain::Residence>>,
    /// Citizenships, oldest first.
    pub citizenships: Vec<Dated<anagrafe_domain::Country>>,
    /// Identity documents, ended and expired ones too, oldest first (REG-1).
    pub documents: Vec<anagrafe_domain::documents::HeldDocument>,
    /// The events that wrote the record (registration, changes, cancellation), oldest first.
    /// A record loaded in bulk has none of its own: the load is one event of the register.
    pub events: Vec<RecordEvent>,
}

/// One event of a person's record, as the history lists it (what the event said stays in the
/// register: the list names it, the record as of its date shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordEvent {
    /// The event's id.
    pub id: i64,
    /// `iscrizione`, `iscrizione_aire`, `mutazione`, `residenza`, `famiglia`,
    /// `cancellazione`, `cancellazione_aire`, `duplicato`.
    pub kind: String,
    /// The reason's code in the ANPR table of that kind, when it has one.
    pub code: Option<String>,
    /// Belfiore code of the comune that acted, when a comune did.
    pub comune: Option<String>,
    /// Date it took effect (data decorrenza).
    pub effective_date: NaiveDate,
    /// When it was recorded, epoch milliseconds.
    pub recorded_at: i64,
    /// For the registration of a birth: the birth act's references, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_act: Option<anagrafe_domain::ops::ActReference>,
    /// For the registration of a birth: the parents named, by ID ANPR.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<anagrafe_domain::IdAnpr>,
}

/// A public body registered for the e-services, as on the national data platform (PDND).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PdndClient {
    /// The platform's client id.
    pub client_id: String,
    /// The public body.
    pub name: String,
    /// Keys its tokens are signed with.
    pub keys: Vec<PdndKey>,
    /// What it is authorised to call, and why.
    pub purposes: Vec<PdndPurpose>,
    /// Revoked bodies are refused.
    pub revoked: bool,
    /// A public-security body (police forces): its calls are traced, and the trace entries say
    /// they are withheld from the person's own view of who consulted their data.
    #[serde(default)]
    pub public_security: bool,
}

/// A public body's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PdndKey {
    /// Key id (JWS `kid`).
    pub kid: String,
    /// SPKI PEM of its ES256 public key.
    pub public_key_pem: String,
    /// Revoked keys verify nothing.
    pub revoked: bool,
}

/// A purpose a public body is authorised for on one e-service, with its call limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PdndPurpose {
    /// The platform's purposeId.
    pub purpose_id: String,
    /// E-service code (`C030`).
    pub eservice: String,
    /// What the body uses the e-service for.
    pub description: String,
    /// Calls per Italian calendar day.
    pub daily_quota: i64,
    /// Calls per second.
    pub per_second: i64,
    /// Revoked purposes authorise nothing.
    pub revoked: bool,
}

impl PdndClient {
    /// A usable (unrevoked) key of this body by kid.
    pub fn key(&self, kid: &str) -> Option<&PdndKey> {
        self.keys.iter().find(|k| k.kid == kid && !k.revoked)
    }

    /// A usable (unrevoked) purpose of this body by id.
    pub fn purpose(&self, purpose_id: &str) -> Option<&PdndPurpose> {
        self.purposes.iter().find(|p| p.purpose_id == purpose_id && !p.revoked)
    }
}

/// The answer given to a public body's `idOperazioneClient`, kept so that a replay gets it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdndAnswer {
    /// The body.
    pub client_id: String,
    /// Its operation id.
    pub id_operazione_client: String,
    /// E-service code.
    pub eservice: String,
    /// SHA-256 (hex) of the request body.
    pub request_sha256: String,
    /// HTTP status.
    pub status: i16,
    /// The answer's body.
    pub body: String,
}

/// A signature id a public body spent, recorded until it expires (replay refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpentJti {
    /// Whose: `pdnd:<client id>`.
    pub owner: String,
    /// The id.
    pub jti: String,
    /// Until when it is kept (epoch ms).
    pub expires_at_ms: i64,
}

/// What an answered call of a public body writes in the commit of its trace entry: the answer
/// kept for its operation id, and the signature id it spent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallRecord {
    /// The answer, kept for replays of the operation id.
    pub answer: Option<PdndAnswer>,
    /// The signature id.
    pub jti: Option<SpentJti>,
}

/// Personal data to look a person up by (IDN-4): surname and name (either may be known to be
/// absent), sex, and the birth date as a range of days (a partial date covers its month or
/// year).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneralitaQuery {
    /// Surname; `None` for a person without one.
    pub surname: Option<String>,
    /// Given name; `None` for a person without one.
    pub given_name: Option<String>,
    /// `M` or `F`.
    pub sex: String,
    /// First possible birth date.
    pub born_from: NaiveDate,
    /// Last possible birth date.
    pub born_to: NaiveDate,
    /// Belfiore code of the place of birth, when given.
    pub birth_place: Option<String>,
}

/// A person's electoral data as kept (ELE-1): the values of annex 1 and the comune whose
/// electoral officer keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectoralRecord {
    /// Internal id of the person.
    pub person_id: i64,
    /// Belfiore code of the comune keeping the data.
    pub comune: String,
    /// The values.
    pub data: anagrafe_domain::electoral::ElectoralData,
    /// When they were last written (epoch ms).
    pub updated_at: i64,
}

/// A citizen's request to rectify the own electoral data (CIT-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRectification {
    /// Internal id of the person asking.
    pub person_id: i64,
    /// What the person says is wrong.
    pub topics: Vec<anagrafe_domain::electoral::RectificationTopic>,
    /// The person's words.
    pub message: String,
}

/// A rectification request as kept, with its answer once given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rectification {
    /// Its number.
    pub id: i64,
    /// Internal id of the person who asked.
    pub person_id: i64,
    /// The comune it is addressed to (the person's, when asked).
    pub comune: String,
    /// What the person says is wrong.
    pub topics: Vec<anagrafe_domain::electoral::RectificationTopic>,
    /// The person's words.
    pub message: String,
    /// When it was asked (epoch ms).
    pub requested_at: i64,
    /// `open`, `accepted` or `rejected`.
    pub status: String,
    /// The officer's answer.
    pub answer: Option<String>,
    /// When it was answered (epoch ms).
    pub answered_at: Option<i64>,
    /// Who answered (the operator's username).
    pub answered_by: Option<String>,
    /// The person's current ID ANPR (read with the request, for the lists).
    pub id_anpr: Option<String>,
}

/// An electoral officer's answer to a rectification request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RectificationAnswer {
    /// Whether the data were (or will be) rectified as asked.
    pub accepted: bool,
    /// The answer the citizen reads.
    pub answer: String,
    /// The operator answering.
    pub answered_by: String,
}

/// An open case of two records of one person (IDN-6 case 5), reported and not yet resolved or
/// dismissed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateCase {
    /// The case's number.
    pub id: i64,
    /// Internal id of the record reported.
    pub person_a: i64,
    /// Internal id of the other record.
    pub person_b: i64,
    /// ID ANPR of the record reported (suspended while the case is open).
    pub id_anpr_a: Option<String>,
    /// ID ANPR of the other record.
    pub id_anpr_b: Option<String>,
    /// When the case was reported (epoch ms).
    pub reported_at: i64,
}

/// What the log analysis found for an alert (SEC-5): a rule's key and its count now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFinding {
    /// The rule's id.
    pub rule: String,
    /// What it found (an actor, a person's code, a purpose).
    pub key: String,
    /// The count in the rule's window.
    pub count: i64,
}

/// What keeping a finding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertRaise {
    /// A new alert, open, with this id (traced).
    Raised(i64),
    /// The alert already open or in hand for the same rule and key, its count and time updated.
    Ongoing(i64),
    /// Closed within the quiet period: not raised again yet.
    Quiet(i64),
}

/// A security alert as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// Its number.
    pub id: i64,
    /// The rule that raised it.
    pub rule: String,
    /// What the rule found.
    pub key: String,
    /// The highest count seen.
    pub count: i64,
    /// When the analysis first found it (epoch ms).
    pub first_seen: i64,
    /// When it last found it (epoch ms).
    pub last_seen: i64,
    /// Where it stands.
    pub state: anagrafe_domain::security::AlertState,
    /// Who has it in hand.
    pub assignee: Option<String>,
    /// When it was last closed (epoch ms).
    pub closed_at: Option<i64>,
}

/// A step taken on an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertStep {
    /// When (epoch ms).
    pub at_ms: i64,
    /// Who (`operator:NAME`; `system:analysis` for the raising).
    pub actor: String,
    /// The state after the step.
    pub state: anagrafe_domain::security::AlertState,
    /// Who has it in hand after the step.
    pub assignee: Option<String>,
    /// The note.
    pub note: String,
}

/// A change the security officer makes to an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertChange {
    /// The state it is expected to be in (the change is refused if someone moved it meanwhile).
    pub from: anagrafe_domain::security::AlertState,
    /// The state after.
    pub to: anagrafe_domain::security::AlertState,
    /// Who has it in hand after (`None`: nobody).
    pub assignee: Option<String>,
    /// Why: what was looked at, what was done.
    pub note: String,
    /// The actor making it.
    pub actor: String,
    /// When (epoch ms).
    pub at_ms: i64,
}

/// A segment of the trace moved to the archive (SEC-4 retention).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceArchive {
    /// Its number.
    pub id: i64,
    /// First entry.
    pub from_seq: i64,
    /// Last entry (a signed checkpoint's).
    pub to_seq: i64,
    /// The hash the first entry links to.
    pub prev_hash: String,
    /// The last entry's hash.
    pub last_hash: String,
    /// Time of the first entry (epoch ms).
    pub from_ms: i64,
    /// Time of the last entry (epoch ms).
    pub to_ms: i64,
    /// The file's name in the archive folder.
    pub file: String,
    /// SHA-256 of the file as written (hex).
    pub sha256: String,
    /// Entries in it.
    pub entries: i64,
    /// When it was made (epoch ms).
    pub created_at: i64,
    /// When its file was deleted at the end of retention (epoch ms).
    pub purged_at: Option<i64>,
}

/// An organisation that asks for registry extracts (VIS-1): the registry office, another office
/// of the comune, or a body under a convention with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractOrg {
    /// Internal id (0 before it is saved).
    pub id: i64,
    /// Its code: the scope of its users' role grants (`h501-polizia-municipale`).
    pub code: String,
    /// The comune it belongs to, or has its convention with.
    pub comune: Belfiore,
    /// Its name (*Polizia Municipale*).
    pub name: String,
    /// Registry, municipal office or external body.
    pub kind: anagrafe_domain::extract::OrganisationKind,
    /// An external body's convention: first day.
    pub convention_from: Option<NaiveDate>,
    /// An external body's convention: last day.
    pub convention_to: Option<NaiveDate>,
    /// The extract types it may ask for.
    pub types: Vec<anagrafe_domain::extract::ExtractType>,
}

/// A request for an extract as recorded when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExtractRequest {
    /// The comune whose register answers.
    pub comune: Belfiore,
    /// The requesting organisation.
    pub org_id: i64,
    /// The requesting operator's username and name.
    pub requester: String,
    /// Their name, for the archive and the document.
    pub requester_name: String,
    /// A STANDARDPS user's request: kept out of monitoring and of the person's view (VIS-2).
    pub public_security: bool,
    /// The bulk list it belongs to (the list's first request id), if any.
    pub bulk_id: Option<i64>,
    /// How the subject was searched.
    pub criterion: anagrafe_domain::extract::Criterion,
    /// The subject found (internal id) and its codice fiscale.
    pub subject: Option<(i64, String)>,
    /// The subject was in an AIRE when asked about.
    pub subject_aire: bool,
    /// The type asked for.
    pub extract_type: anagrafe_domain::extract::ExtractType,
    /// The purpose stated.
    pub purpose: String,
    /// The state it starts in: issued (real time), pending (to a mediator) or comune_only.
    pub state: anagrafe_domain::extract::RequestState,
    /// The comune named in the answer.
    pub answer_comune: Option<Belfiore>,
    /// Why no extract (a reason key), for comune_only.
    pub reason: Option<String>,
    /// When (epoch ms).
    pub at_ms: i64,
}

/// An extract's data as issued, kept with the request (the document is made from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedContent {
    /// The data, as canonical JSON.
    pub json: String,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// A request for an extract as kept (VIS-6's archive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractRequest {
    /// Its number.
    pub id: i64,
    /// The comune whose register answers.
    pub comune: Belfiore,
    /// The requesting organisation.
    pub org_id: i64,
    /// The requesting operator.
    pub requester: String,
    /// Their name.
    pub requester_name: String,
    /// A STANDARDPS user's request.
    pub public_security: bool,
    /// The bulk list it belongs to.
    pub bulk_id: Option<i64>,
    /// `cf`, `carta_identita`, `passaporto`, `permesso_soggiorno` or `nome`.
    pub criterion_kind: String,
    /// The criterion in words.
    pub criterion: String,
    /// The subject's internal id.
    pub person_id: Option<i64>,
    /// The subject's codice fiscale.
    pub subject: Option<String>,
    /// The subject was in an AIRE when asked about.
    pub subject_aire: bool,
    /// The type asked for.
    pub extract_type: anagrafe_domain::extract::ExtractType,
    /// The purpose stated.
    pub purpose: String,
    /// Where it stands.
    pub state: anagrafe_domain::extract::RequestState,
    /// The comune named in the answer.
    pub answer_comune: Option<String>,
    /// Why no extract.
    pub reason: Option<String>,
    /// When it was made (epoch ms).
    pub requested_at: i64,
    /// When it was decided or issued.
    pub decided_at: Option<i64>,
    /// Who approved or rejected it (`system:silence` for silence-consent).
    pub mediator: Option<String>,
    /// How it was approved.
    pub approval: Option<anagrafe_domain::extract::Approval>,
    /// The mediator's note.
    pub note: Option<String>,
    /// Its protocol number, once issued.
    pub protocol: Option<anagrafe_domain::extract::Protocol>,
    /// The data issued (JSON) and its SHA-256.
    pub content: Option<(String, String)>,
}

/// A message of the extracts' bulletin board (VIS-9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bulletin {
    /// Its number.
    pub id: i64,
    /// The comune whose users read it.
    pub comune: Belfiore,
    /// The one user it is for; `None`: every user of the comune's organisations.
    pub recipient: Option<String>,
    /// Who posted it (username) and their name.
    pub author: String,
    pub author_name: String,
    /// Title and text.
    pub title: String,
    pub body: String,
    /// When it was posted, and until when it is shown (epoch ms).
    pub posted_at: i64,
    pub expires_at: Option<i64>,
    /// When it was withdrawn.
    pub withdrawn_at: Option<i64>,
}

/// Which requests to list (every condition given must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractFilter {
    /// Of this comune.
    pub comune: Option<Belfiore>,
    /// Of this organisation.
    pub org_id: Option<i64>,
    /// Of this requester.
    pub requester: Option<String>,
    /// In this state.
    pub state: Option<anagrafe_domain::extract::RequestState>,
    /// About this person.
    pub person_id: Option<i64>,
    /// Include public-security users' requests (only their own archive and the trace do).
    pub include_public_security: bool,
    /// Made at or after (epoch ms).
    pub from_ms: Option<i64>,
    /// Made before (epoch ms).
    pub to_ms: Option<i64>,
    /// With an id below this.
    pub before_id: Option<i64>,
    /// Of this type.
    pub extract_type: Option<anagrafe_domain::extract::ExtractType>,
    /// About the subject with this codice fiscale.
    pub subject: Option<String>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// A mediator's decision on a pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractDecision {
    /// Issued, with the data as issued.
    Approve {
        /// By hand or by silence.
        approval: anagrafe_domain::extract::Approval,
        /// The data.
        content: IssuedContent,
    },
    /// Not issued.
    Reject,
}
