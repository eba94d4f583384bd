//! Citizens' requests as cases (CIT-9) and the EU citizens' declared data (EU-2). Stamped out
//! per backend by `store_case!`, like `store_extract!`.
//!
//! A case is written by the applicant while a draft (its data, its documents), then submitted:
//! the submission takes the comune's next case protocol number, notifies the comune and records
//! the first step, in one transaction. Every later step moves the state only from the state the
//! step was decided on (`UPDATE … WHERE state = $from`): two officers deciding at once cannot
//! both win, and the loser gets `State` instead of a silent overwrite. A step sent again with
//! the same client operation id returns the step first recorded.

use anagrafe_domain::Belfiore;
use anagrafe_domain::case::{CaseKind, CaseState, Evidence, MediaType};
use anagrafe_domain::extract::Protocol;
use chrono::NaiveDate;

/// A new draft case.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// Its kind.
    pub kind: CaseKind,
    /// The competent comune.
    pub comune: Belfiore,
    /// The actor who owns it (`eidas:ID`, `citizen:CF`).
    pub applicant: String,
    /// The applicant's name, as shown on the desk.
    pub applicant_name: String,
    /// The applicant's validated e-mail address.
    pub applicant_email: Option<String>,
    /// The kind's request, as JSON.
    pub data: String,
}

/// A case as stored (without documents and steps: see [`CaseFile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Its id.
    pub id: i64,
    /// Its kind.
    pub kind: CaseKind,
    /// The competent comune.
    pub comune: Belfiore,
    /// Where it stands.
    pub state: CaseState,
    /// The actor who owns it.
    pub applicant: String,
    /// The applicant's name.
    pub applicant_name: String,
    /// The applicant's e-mail address.
    pub applicant_email: Option<String>,
    /// The kind's request, as JSON.
    pub data: String,
    /// The protocol number, once submitted.
    pub protocol: Option<Protocol>,
    /// Created (epoch ms).
    pub created_at: i64,
    /// Submitted (epoch ms).
    pub submitted_at: Option<i64>,
    /// The day the comune must decide by.
    pub due_on: Option<NaiveDate>,
    /// Closed (epoch ms).
    pub decided_at: Option<i64>,
    /// Last changed (epoch ms).
    pub updated_at: i64,
}

/// A case with its documents (no content) and its steps, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFile {
    /// The case.
    pub case: Case,
    /// Its documents.
    pub documents: Vec<CaseDocument>,
    /// Its steps.
    pub steps: Vec<CaseStep>,
}

/// A document to attach to a draft.
#[derive(Debug, Clone)]
pub struct NewCaseDocument {
    /// What it proves.
    pub evidence: Evidence,
    /// Whose (member index), or the whole request's.
    pub member: Option<u16>,
    /// The file's name, as given (cleaned by the service).
    pub filename: String,
    /// Its type, read from its bytes.
    pub media_type: MediaType,
    /// The bytes.
    pub content: Vec<u8>,
    /// SHA-256 of the bytes (hex).
    pub sha256: String,
    /// `upload` or `once_only`.
    pub source: String,
    /// What the signature check found, as JSON.
    pub signatures: Option<String>,
}

/// A document of a case (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseDocument {
    /// Its id.
    pub id: i64,
    /// What it proves.
    pub evidence: Evidence,
    /// Whose.
    pub member: Option<u16>,
    /// The file's name.
    pub filename: String,
    /// Its type.
    pub media_type: MediaType,
    /// Its size in bytes.
    pub size: i64,
    /// SHA-256 (hex).
    pub sha256: String,
    /// `upload` or `once_only`.
    pub source: String,
    /// What the signature check found, as JSON.
    pub signatures: Option<String>,
    /// The comune's verification: `None` until verified.
    pub verified: Option<bool>,
    /// The note of that verification.
    pub verified_note: Option<String>,
    /// Added (epoch ms).
    pub added_at: i64,
}

/// A step to record.
#[derive(Debug, Clone)]
pub struct NewCaseStep {
    /// Who takes it (the trace's actor).
    pub actor: String,
    /// The action's stored name.
    pub action: String,
    /// The action, as JSON.
    pub detail: String,
    /// The note (reasons, remarks).
    pub note: String,
    /// The state the step was decided on.
    pub from: CaseState,
    /// The state it leads to.
    pub to: CaseState,
    /// The client's operation id, for a web service's retry.
    pub client_op_id: Option<String>,
    /// A document verified by this step: its id and whether valid.
    pub verify: Option<(i64, bool)>,
    /// When the step (and the case's update) happens, from the service's clock.
    pub at: i64,
}

/// A recorded step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStep {
    /// Its id.
    pub id: i64,
    /// When (epoch ms).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// The action's stored name.
    pub action: String,
    /// The action, as JSON.
    pub detail: String,
    /// The note.
    pub note: String,
    /// The state before.
    pub from_state: CaseState,
    /// The state after.
    pub to_state: CaseState,
    /// The client's operation id, if any.
    pub client_op_id: Option<String>,
}

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Of this comune.
    pub comune: Option<Belfiore>,
    /// Of these kinds (any when empty).
    pub kinds: Vec<CaseKind>,
    /// In these states (any but drafts when empty).
    pub states: Vec<CaseState>,
    /// Of this applicant.
    pub applicant: Option<String>,
    /// At most this many, newest first (capped at 500).
    pub limit: u32,
}

/// What an EU citizen's login left and what they declared (EU-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EuProfile {
    /// The eIDAS unique identifier.
    pub eidas_id: String,
    /// Family name from the eIDAS node.
    pub family_name: String,
    /// Given name from the eIDAS node.
    pub given_name: String,
    /// Birth date from the eIDAS node.
    pub birth_date: NaiveDate,
    /// What they declared, as JSON (`anagrafe_domain::eu::Declared`).
    pub declared: Option<String>,
    /// SHA-256 of the pending e-mail confirmation code.
    pub email_code_hash: Option<String>,
    /// When that code expires (epoch ms).
    pub email_code_expires_at: Option<i64>,
    /// Wrong codes typed since the code was sent.
    pub email_attempts: i64,
    /// When every check passed and the e-mail was confirmed (epoch ms).
    pub validated_at: Option<i64>,
    /// The person's record, once registered.
    pub person_id: Option<i64>,
    /// Last change (epoch ms).
    pub updated_at: i64,
}

/// The columns of a case.
pub(crate) const CASE_COLUMNS: &str = "id, kind, comune, state, applicant, applicant_name, applicant_email, data, protocol_year, \
     protocol_number, created_at, submitted_at, due_on, decided_at, updated_at";
/// The columns of a document, without its bytes.
pub(crate) const DOCUMENT_COLUMNS: &str =
    "id, evidence, member, filename, media_type, size, sha256, source, signatures, verified, verified_note, added_at";

macro_rules! store_case {
    ($store:ty, $db:ty) => {
        impl $store {
            fn case_row(r: &<$db as sqlx::Database>::Row) -> crate::Result<crate::Case> {
                use anagrafe_domain::case::{CaseKind, CaseState};
                use sqlx::Row;
                let corrupt = |what: &str| crate::StoreError::Corrupt(format!("case: {what}"));
                let comune: String = r.try_get("comune")?;
                let comune = anagrafe_domain::Belfiore::parse(&comune).map_err(|_| corrupt("comune"))?;
                let kind: String = r.try_get("kind")?;
                let state: String = r.try_get("state")?;
                let year: Option<i32> = r.try_get("protocol_year")?;
                let number: Option<i64> = r.try_get("protocol_number")?;
                let due: Option<String> = r.try_get("due_on")?;
                Ok(crate::Case {
                    id: r.try_get("id")?,
                    kind: CaseKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
                    comune,
                    state: CaseState::parse(&state).ok_or_else(|| corrupt("state"))?,
                    applicant: r.try_get("applicant")?,
                    applicant_name: r.try_get("applicant_name")?,
                    applicant_email: r.try_get("applicant_email")?,
                    data: r.try_get("data")?,
                    protocol: match (year, number) {
                        (Some(year), Some(number)) => Some(anagrafe_domain::extract::Protocol { comune, year, number }),
                        _ => None,
                    },
                    created_at: r.try_get("created_at")?,
                    submitted_at: r.try_get("submitted_at")?,
                    due_on: due.map(|d| d.parse().map_err(|_| corrupt("due_on"))).transpose()?,
                    decided_at: r.try_get("decided_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            fn case_document_row(r: &<$db as sqlx::Database>::Row) -> crate::Result<crate::CaseDocument> {
                use anagrafe_domain::case::{Evidence, MediaType};
                use sqlx::Row;
                let corrupt = |what: &str| crate::StoreError::Corrupt(format!("case document: {what}"));
                let evidence: String = r.try_get("evidence")?;
                let media: String = r.try_get("media_type")?;
                let member: Option<i32> = r.try_get("member")?;
                Ok(crate::CaseDocument {
                    id: r.try_get("id")?,
                    evidence: Evidence::parse(&evidence).ok_or_else(|| corrupt("evidence"))?,
                    member: member.map(|m| u16::try_from(m).map_err(|_| corrupt("member"))).transpose()?,
                    filename: r.try_get("filename")?,
                    media_type: MediaType::parse(&media).ok_or_else(|| corrupt("media_type"))?,
                    size: r.try_get("size")?,
                    sha256: r.try_get("sha256")?,
                    source: r.try_get("source")?,
                    signatures: r.try_get("signatures")?,
                    verified: r.try_get("verified")?,
                    verified_note: r.try_get("verified_note")?,
                    added_at: r.try_get("added_at")?,
                })
            }

            fn case_step_row(r: &<$db as sqlx::Database>::Row) -> crate::Result<crate::CaseStep> {
                use anagrafe_domain::case::CaseState;
                use sqlx::Row;
                let corrupt = |what: &str| crate::StoreError::Corrupt(format!("case step: {what}"));
                let from: String = r.try_get("from_state")?;
                let to: String = r.try_get("to_state")?;
                Ok(crate::CaseStep {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    detail: r.try_get("detail")?,
                    note: r.try_get("note")?,
                    from_state: CaseState::parse(&from).ok_or_else(|| corrupt("from_state"))?,
                    to_state: CaseState::parse(&to).ok_or_else(|| corrupt("to_state"))?,
                    client_op_id: r.try_get("client_op_id")?,
                })
            }

            fn eu_profile_row(r: &<$db as sqlx::Database>::Row) -> crate::Result<crate::EuProfile> {
                use sqlx::Row;
                let birth: String = r.try_get("birth_date")?;
                Ok(crate::EuProfile {
                    eidas_id: r.try_get("eidas_id")?,
                    family_name: r.try_get("family_name")?,
                    given_name: r.try_get("given_name")?,
                    birth_date: birth.parse().map_err(|_| crate::StoreError::Corrupt("eu profile: birth_date".into()))?,
                    declared: r.try_get("declared")?,
                    email_code_hash: r.try_get("email_code_hash")?,
                    email_code_expires_at: r.try_get("email_code_expires_at")?,
                    email_attempts: r.try_get::<i32, _>("email_attempts")? as i64,
                    validated_at: r.try_get("validated_at")?,
                    person_id: r.try_get("person_id")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            /// The case `id` in `tx`, locked for the rest of the transaction by the head lock
            /// every write takes first; `NotFound` when there is none.
            async fn case_in(tx: &mut sqlx::Transaction<'_, $db>, id: i64) -> crate::Result<crate::Case> {
                let sql = format!("SELECT {} FROM cases WHERE id = $1", crate::case::CASE_COLUMNS);
                let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(&mut **tx).await?;
                row.as_ref().map(Self::case_row).transpose()?.ok_or_else(|| crate::StoreError::NotFound(format!("case {id}")))
            }

            /// Refuses a change to case `c` unless it is a draft.
            fn draft_only(c: &crate::Case) -> crate::Result<()> {
                if c.state == anagrafe_domain::case::CaseState::Draft {
                    Ok(())
                } else {
                    Err(crate::StoreError::State { field: "case".into(), reason: anagrafe_domain::Why::new("case-submitted-already") })
                }
            }
        }

        #[async_trait::async_trait]
        impl crate::CaseStore for $store {
            async fn create_case(&self, c: &crate::NewCase, at: i64, entry: &crate::audit::AuditEntry) -> crate::Result<i64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO cases (kind, comune, state, applicant, applicant_name, applicant_email, data, created_at, updated_at) \
                     VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $7) RETURNING id",
                )
                .bind(c.kind.as_str())
                .bind(c.comune.to_string())
                .bind(&c.applicant)
                .bind(&c.applicant_name)
                .bind(&c.applicant_email)
                .bind(&c.data)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
                let mut entry = entry.clone();
                entry.detail = serde_json::json!({ "case": id, "kind": c.kind, "comune": c.comune }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn update_case_data(
                &self,
                id: i64,
                comune: anagrafe_domain::Belfiore,
                data: &str,
                at: i64,
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let c = Self::case_in(&mut tx, id).await?;
                Self::draft_only(&c)?;
                sqlx::query("UPDATE cases SET data = $1, comune = $2, updated_at = $3 WHERE id = $4")
                    .bind(data)
                    .bind(comune.to_string())
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let mut entry = entry.clone();
                entry.detail = serde_json::json!({ "case": id, "comune": comune }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn add_case_document(
                &self,
                id: i64,
                d: &crate::NewCaseDocument,
                at: i64,
                max: usize,
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<i64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let c = Self::case_in(&mut tx, id).await?;
                Self::draft_only(&c)?;
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM case_documents WHERE case_id = $1").bind(id).fetch_one(&mut *tx).await?;
                if count as usize >= max {
                    return Err(crate::StoreError::Refused {
                        field: "file".into(),
                        reason: anagrafe_domain::Why::new("case-too-many-documents").arg("max", max),
                    });
                }
                let doc: i64 = sqlx::query_scalar(
                    "INSERT INTO case_documents (case_id, evidence, member, filename, media_type, size, sha256, content, source, signatures, added_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                )
                .bind(id)
                .bind(d.evidence.as_str())
                .bind(d.member.map(i32::from))
                .bind(&d.filename)
                .bind(d.media_type.as_str())
                .bind(d.content.len() as i64)
                .bind(&d.sha256)
                .bind(&d.content)
                .bind(&d.source)
                .bind(&d.signatures)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2").bind(at).bind(id).execute(&mut *tx).await?;
                let mut entry = entry.clone();
                entry.detail = serde_json::json!({
                    "case": id, "document": doc, "evidence": d.evidence, "member": d.member, "sha256": d.sha256,
                    "size": d.content.len(), "source": d.source,
                })
                .to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(doc)
            }

            async fn remove_case_document(&self, id: i64, document: i64, at: i64, entry: &crate::audit::AuditEntry) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let c = Self::case_in(&mut tx, id).await?;
                Self::draft_only(&c)?;
                let done = sqlx::query("DELETE FROM case_documents WHERE id = $1 AND case_id = $2").bind(document).bind(id).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err(crate::StoreError::NotFound(format!("document {document} of case {id}")));
                }
                sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2").bind(at).bind(id).execute(&mut *tx).await?;
                let mut entry = entry.clone();
                entry.detail = serde_json::json!({ "case": id, "document": document }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn submit_case(
                &self,
                id: i64,
                due_on: chrono::NaiveDate,
                year: i32,
                step: &crate::NewCaseStep,
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<anagrafe_domain::extract::Protocol> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let c = Self::case_in(&mut tx, id).await?;
                Self::draft_only(&c)?;
                let number: i64 = sqlx::query_scalar(
                    "INSERT INTO case_protocols (comune, year, last) VALUES ($1, $2, 1) \
                     ON CONFLICT (comune, year) DO UPDATE SET last = case_protocols.last + 1 RETURNING last",
                )
                .bind(c.comune.to_string())
                .bind(year)
                .fetch_one(&mut *tx)
                .await?;
                let protocol = anagrafe_domain::extract::Protocol { comune: c.comune, year, number };
                sqlx::query(
                    "UPDATE cases SET state = 'submitted', protocol_year = $1, protocol_number = $2, submitted_at = $3, due_on = $4, \
                     updated_at = $3 WHERE id = $5",
                )
                .bind(year)
                .bind(number)
                .bind(step.at)
                .bind(due_on.to_string())
                .bind(id)
                .execute(&mut *tx)
                .await?;
                Self::insert_case_step(&mut tx, id, step).await?;
                let payload = serde_json::json!({ "case": id, "kind": c.kind, "protocol": protocol.to_string(), "due_on": due_on });
                // The comune learns of it through its notifications (EU-5), with the write.
                Self::notify(&mut head, c.comune, "richiesta_cittadino", 0, payload, step.at);
                let mut b = crate::shared::Batch::new();
                crate::shared::push_feed_rows(&mut b, &head.feed);
                Self::run_batch(&mut tx, b).await?;
                let mut entry = entry.clone();
                entry.detail = serde_json::json!({ "case": id, "kind": c.kind, "protocol": protocol.to_string() }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(protocol)
            }

            async fn add_case_step(&self, id: i64, step: &crate::NewCaseStep, entry: &crate::audit::AuditEntry) -> crate::Result<crate::CaseStep> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                if let Some(op) = &step.client_op_id {
                    let sql = "SELECT id, at, actor, action, detail, note, from_state, to_state, client_op_id FROM case_steps \
                               WHERE case_id = $1 AND actor = $2 AND client_op_id = $3";
                    let row = sqlx::query(sql).bind(id).bind(&step.actor).bind(op).fetch_optional(&mut *tx).await?;
                    if let Some(r) = row {
                        let earlier = Self::case_step_row(&r)?;
                        if earlier.action != step.action || earlier.detail != step.detail || earlier.note != step.note {
                            return Err(crate::StoreError::Conflict { field: "client_op_id".into() });
                        }
                        return Ok(earlier);
                    }
                }
                let moved = sqlx::query("UPDATE cases SET state = $1, updated_at = $2, decided_at = $3 WHERE id = $4 AND state = $5")
                    .bind(step.to.as_str())
                    .bind(step.at)
                    .bind(step.to.closed().then_some(step.at))
                    .bind(id)
                    .bind(step.from.as_str())
                    .execute(&mut *tx)
                    .await?;
                if moved.rows_affected() == 0 {
                    let c = Self::case_in(&mut tx, id).await?;
                    return Err(crate::StoreError::State {
                        field: "case".into(),
                        reason: anagrafe_domain::Why::new("case-moved-on").arg("state", c.state.as_str()),
                    });
                }
                if let Some((doc, valid)) = step.verify {
                    let done = sqlx::query("UPDATE case_documents SET verified = $1, verified_note = $2 WHERE id = $3 AND case_id = $4")
                        .bind(valid)
                        .bind(&step.note)
                        .bind(doc)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() == 0 {
                        return Err(crate::StoreError::NotFound(format!("document {doc} of case {id}")));
                    }
                }
                let recorded = Self::insert_case_step(&mut tx, id, step).await?;
                let mut entry = entry.clone();
                entry.detail = serde_json::json!({
                    "case": id, "action": step.action, "from": step.from.as_str(), "to": step.to.as_str(), "step": recorded.id,
                })
                .to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(recorded)
            }

            async fn case_file(&self, id: i64) -> crate::Result<Option<crate::CaseFile>> {
                let sql = format!("SELECT {} FROM cases WHERE id = $1", crate::case::CASE_COLUMNS);
                let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(&self.pool).await? else { return Ok(None) };
                let case = Self::case_row(&row)?;
                let sql = format!("SELECT {} FROM case_documents WHERE case_id = $1 ORDER BY id", crate::case::DOCUMENT_COLUMNS);
                let documents = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_all(&self.pool).await?.iter().map(Self::case_document_row).collect::<crate::Result<_>>()?;
                let steps = sqlx::query(
                    "SELECT id, at, actor, action, detail, note, from_state, to_state, client_op_id FROM case_steps WHERE case_id = $1 ORDER BY id",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::case_step_row)
                .collect::<crate::Result<_>>()?;
                Ok(Some(crate::CaseFile { case, documents, steps }))
            }

            async fn case_document_content(&self, id: i64, document: i64) -> crate::Result<Option<(crate::CaseDocument, Vec<u8>)>> {
                let sql = format!("SELECT {}, content FROM case_documents WHERE id = $1 AND case_id = $2", crate::case::DOCUMENT_COLUMNS);
                let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(document).bind(id).fetch_optional(&self.pool).await? else { return Ok(None) };
                use sqlx::Row;
                Ok(Some((Self::case_document_row(&row)?, row.try_get("content")?)))
            }

            async fn cases(&self, f: &crate::CaseFilter) -> crate::Result<Vec<crate::Case>> {
                let mut sql = format!("SELECT {} FROM cases WHERE 1 = 1", crate::case::CASE_COLUMNS);
                let mut binds: Vec<String> = Vec::new();
                let mut param = |sql: &mut String, cond: &str, v: String| {
                    binds.push(v);
                    sql.push_str(&cond.replace('?', &format!("${}", binds.len())));
                };
                if let Some(c) = f.comune {
                    param(&mut sql, " AND comune = ?", c.to_string());
                }
                if let Some(a) = &f.applicant {
                    param(&mut sql, " AND applicant = ?", a.clone());
                }
                if f.states.is_empty() {
                    sql.push_str(" AND state <> 'draft'");
                } else {
                    let names: Vec<&str> = f.states.iter().map(|s| s.as_str()).collect();
                    // Stored names are fixed identifiers: listed inline.
                    sql.push_str(&format!(" AND state IN ('{}')", names.join("','")));
                }
                if !f.kinds.is_empty() {
                    let names: Vec<&str> = f.kinds.iter().map(|k| k.as_str()).collect();
                    sql.push_str(&format!(" AND kind IN ('{}')", names.join("','")));
                }
                sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", f.limit.clamp(1, 500)));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for b in &binds {
                    q = q.bind(b);
                }
                q.fetch_all(&self.pool).await?.iter().map(Self::case_row).collect()
            }

            async fn eu_profile(&self, eidas_id: &str) -> crate::Result<Option<crate::EuProfile>> {
                let row = sqlx::query("SELECT * FROM eu_profiles WHERE eidas_id = $1").bind(eidas_id).fetch_optional(&self.pool).await?;
                row.as_ref().map(Self::eu_profile_row).transpose()
            }

            async fn save_eu_profile(&self, p: &crate::EuProfile, entry: Option<&crate::audit::AuditEntry>) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                sqlx::query(
                    "INSERT INTO eu_profiles (eidas_id, family_name, given_name, birth_date, declared, email_code_hash, email_code_expires_at, \
                     email_attempts, validated_at, person_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (eidas_id) DO UPDATE SET family_name = $2, given_name = $3, birth_date = $4, declared = $5, \
                     email_code_hash = $6, email_code_expires_at = $7, email_attempts = $8, validated_at = $9, person_id = $10, updated_at = $11",
                )
                .bind(&p.eidas_id)
                .bind(&p.family_name)
                .bind(&p.given_name)
                .bind(p.birth_date.to_string())
                .bind(&p.declared)
                .bind(&p.email_code_hash)
                .bind(p.email_code_expires_at)
                .bind(p.email_attempts as i32)
                .bind(p.validated_at)
                .bind(p.person_id)
                .bind(p.updated_at)
                .execute(&mut *tx)
                .await?;
                if let Some(e) = entry {
                    Self::append_audit(&mut tx, &mut head, e).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }

        impl $store {
            async fn insert_case_step(tx: &mut sqlx::Transaction<'_, $db>, id: i64, s: &crate::NewCaseStep) -> crate::Result<crate::CaseStep> {
                let step_id: i64 = sqlx::query_scalar(
                    "INSERT INTO case_steps (case_id, at, actor, action, detail, note, from_state, to_state, client_op_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(id)
                .bind(s.at)
                .bind(&s.actor)
                .bind(&s.action)
                .bind(&s.detail)
                .bind(&s.note)
                .bind(s.from.as_str())
                .bind(s.to.as_str())
                .bind(&s.client_op_id)
                .fetch_one(&mut **tx)
                .await?;
                Ok(crate::CaseStep {
                    id: step_id,
                    at: s.at,
                    actor: s.actor.clone(),
                    action: s.action.clone(),
                    detail: s.detail.clone(),
                    note: s.note.clone(),
                    from_state: s.from,
                    to_state: s.to,
                    client_op_id: s.client_op_id.clone(),
                })
            }
        }
    };
}

pub(crate) use store_case;
