//! Registry extracts (VIS-1 … VIS-11): organisations, requests and protocol numbers. Stamped out
//! per backend by `store_extract!`, like `store_common!`.
//!
//! A protocol number is taken in the transaction that issues the extract (an upsert that adds
//! one to the comune's counter of the year), behind the writers' turn and the trace's head lock:
//! a rolled-back issue takes no number, two issues never take the same one.

macro_rules! store_extract {
    ($store:ty, $db:ty) => {
        impl $store {
            fn extract_org_row(r: &<$db as sqlx::Database>::Row) -> crate::Result<crate::ExtractOrg> {
                use anagrafe_domain::extract::{ExtractType, OrganisationKind};
                use sqlx::Row;
                let corrupt = |what: &str| crate::StoreError::Corrupt(format!("extract organisation: {what}"));
                let comune: String = r.try_get("comune")?;
                let kind: String = r.try_get("kind")?;
                let types: String = r.try_get("types")?;
                let date = |col: &str| -> crate::Result<Option<chrono::NaiveDate>> {
                    let v: Option<String> = r.try_get(col)?;
                    v.map(|s| s.parse().map_err(|_| corrupt(col))).transpose()
                };
                Ok(crate::ExtractOrg {
                    id: r.try_get("id")?,
                    code: r.try_get("code")?,
                    comune: anagrafe_domain::Belfiore::parse(&comune).map_err(|_| corrupt("comune"))?,
                    name: r.try_get("name")?,
                    kind: OrganisationKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
                    convention_from: date("convention_from")?,
                    convention_to: date("convention_to")?,
                    types: types
                        .split(',')
                        .filter(|t| !t.is_empty())
                        .map(|t| ExtractType::parse(t).ok_or_else(|| corrupt("types")))
                        .collect::<crate::Result<_>>()?,
                })
            }

            fn extract_row(r: &<$db as sqlx::Database>::Row) -> crate::Result<crate::ExtractRequest> {
                use anagrafe_domain::extract::{Approval, ExtractType, Protocol, RequestState};
                use sqlx::Row;
                let corrupt = |what: &str| crate::StoreError::Corrupt(format!("extract request: {what}"));
                let comune: String = r.try_get("comune")?;
                let comune = anagrafe_domain::Belfiore::parse(&comune).map_err(|_| corrupt("comune"))?;
                let kind: String = r.try_get("extract_type")?;
                let state: String = r.try_get("state")?;
                let approval: Option<String> = r.try_get("approval")?;
                let year: Option<i32> = r.try_get("protocol_year")?;
                let number: Option<i64> = r.try_get("protocol_number")?;
                let content: Option<String> = r.try_get("content")?;
                let hash: Option<String> = r.try_get("content_hash")?;
                Ok(crate::ExtractRequest {
                    id: r.try_get("id")?,
                    comune,
                    org_id: r.try_get("org_id")?,
                    requester: r.try_get("requester")?,
                    requester_name: r.try_get("requester_name")?,
                    public_security: r.try_get("public_security")?,
                    bulk_id: r.try_get("bulk_id")?,
                    criterion_kind: r.try_get("criterion_kind")?,
                    criterion: r.try_get("criterion")?,
                    person_id: r.try_get("person_id")?,
                    subject: r.try_get("subject")?,
                    subject_aire: r.try_get::<Option<bool>, _>("subject_aire")?.unwrap_or(false),
                    extract_type: ExtractType::parse(&kind).ok_or_else(|| corrupt("type"))?,
                    purpose: r.try_get("purpose")?,
                    state: RequestState::parse(&state).ok_or_else(|| corrupt("state"))?,
                    answer_comune: r.try_get("answer_comune")?,
                    reason: r.try_get("reason")?,
                    requested_at: r.try_get("requested_at")?,
                    decided_at: r.try_get("decided_at")?,
                    mediator: r.try_get("mediator")?,
                    approval: match approval.as_deref() {
                        None => None,
                        Some("by_mediator") => Some(Approval::ByMediator),
                        Some("by_silence") => Some(Approval::BySilence),
                        Some(_) => return Err(corrupt("approval")),
                    },
                    note: r.try_get("note")?,
                    protocol: match (year, number) {
                        (Some(year), Some(number)) => Some(Protocol { comune, year, number }),
                        _ => None,
                    },
                    content: content.zip(hash),
                })
            }

            /// The comune's next protocol number of `year`, taken in `tx`.
            async fn next_protocol(
                tx: &mut sqlx::Transaction<'_, $db>,
                comune: anagrafe_domain::Belfiore,
                year: i32,
            ) -> crate::Result<anagrafe_domain::extract::Protocol> {
                let number: i64 = sqlx::query_scalar(
                    "INSERT INTO extract_protocols (comune, year, last) VALUES ($1, $2, 1) \
                     ON CONFLICT (comune, year) DO UPDATE SET last = extract_protocols.last + 1 RETURNING last",
                )
                .bind(comune.to_string())
                .bind(year)
                .fetch_one(&mut **tx)
                .await?;
                Ok(anagrafe_domain::extract::Protocol { comune, year, number })
            }
        }

        #[async_trait::async_trait]
        impl crate::ExtractStore for $store {
            async fn save_extract_org(&self, org: &crate::ExtractOrg, ctx: &crate::WriteContext) -> crate::Result<i64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM extract_orgs WHERE code = $1")
                    .bind(&org.code)
                    .fetch_optional(&mut *tx)
                    .await?;
                if taken.is_some_and(|id| id != org.id) {
                    return Err(crate::StoreError::Conflict { field: "code".into() });
                }
                let types = org.types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",");
                let id: i64 = if org.id == 0 {
                    sqlx::query_scalar(
                        "INSERT INTO extract_orgs (code, comune, name, kind, convention_from, convention_to, types, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                    )
                    .bind(&org.code)
                    .bind(org.comune.to_string())
                    .bind(&org.name)
                    .bind(org.kind.as_str())
                    .bind(org.convention_from.map(|d| d.to_string()))
                    .bind(org.convention_to.map(|d| d.to_string()))
                    .bind(&types)
                    .bind(head.now)
                    .fetch_one(&mut *tx)
                    .await?
                } else {
                    let done = sqlx::query(
                        "UPDATE extract_orgs SET code = $1, comune = $2, name = $3, kind = $4, convention_from = $5, convention_to = $6, \
                         types = $7 WHERE id = $8",
                    )
                    .bind(&org.code)
                    .bind(org.comune.to_string())
                    .bind(&org.name)
                    .bind(org.kind.as_str())
                    .bind(org.convention_from.map(|d| d.to_string()))
                    .bind(org.convention_to.map(|d| d.to_string()))
                    .bind(&types)
                    .bind(org.id)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(crate::StoreError::NotFound(format!("extract organisation {}", org.id)));
                    }
                    org.id
                };
                let mut entry = crate::audit::AuditEntry::from_ctx(ctx, "extract.org_saved", "ok");
                entry.detail =
                    serde_json::json!({ "org": id, "code": org.code, "comune": org.comune, "kind": org.kind, "types": types }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn extract_org(&self, code: &str) -> crate::Result<Option<crate::ExtractOrg>> {
                let row = sqlx::query("SELECT * FROM extract_orgs WHERE code = $1").bind(code).fetch_optional(&self.pool).await?;
                row.as_ref().map(Self::extract_org_row).transpose()
            }

            async fn extract_org_by_id(&self, id: i64) -> crate::Result<Option<crate::ExtractOrg>> {
                let row = sqlx::query("SELECT * FROM extract_orgs WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(Self::extract_org_row).transpose()
            }

            async fn extract_orgs(&self, comune: anagrafe_domain::Belfiore) -> crate::Result<Vec<crate::ExtractOrg>> {
                let rows =
                    sqlx::query("SELECT * FROM extract_orgs WHERE comune = $1 ORDER BY name, id").bind(comune.to_string()).fetch_all(&self.pool).await?;
                rows.iter().map(Self::extract_org_row).collect()
            }

            async fn add_extract_request(
                &self,
                req: &crate::NewExtractRequest,
                issued: Option<(i32, &crate::IssuedContent)>,
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<(i64, Option<anagrafe_domain::extract::Protocol>)> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let protocol = match issued {
                    Some((year, _)) => Some(Self::next_protocol(&mut tx, req.comune, year).await?),
                    None => None,
                };
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO extract_requests (comune, org_id, requester, requester_name, public_security, bulk_id, criterion_kind, \
                     criterion, person_id, subject, subject_aire, extract_type, purpose, state, answer_comune, reason, requested_at, \
                     decided_at, protocol_year, protocol_number, content, content_hash) \
                     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22) RETURNING id",
                )
                .bind(req.comune.to_string())
                .bind(req.org_id)
                .bind(&req.requester)
                .bind(&req.requester_name)
                .bind(req.public_security)
                .bind(req.bulk_id)
                .bind(req.criterion.kind())
                .bind(req.criterion.describe())
                .bind(req.subject.as_ref().map(|s| s.0))
                .bind(req.subject.as_ref().map(|s| s.1.clone()))
                .bind(req.subject_aire)
                .bind(req.extract_type.as_str())
                .bind(&req.purpose)
                .bind(req.state.as_str())
                .bind(req.answer_comune.map(|b| b.to_string()))
                .bind(&req.reason)
                .bind(req.at_ms)
                .bind(issued.map(|_| req.at_ms))
                .bind(protocol.map(|p| p.year))
                .bind(protocol.map(|p| p.number))
                .bind(issued.map(|(_, c)| c.json.clone()))
                .bind(issued.map(|(_, c)| c.sha256.clone()))
                .fetch_one(&mut *tx)
                .await?;
                let org_name: Option<String> =
                    sqlx::query_scalar("SELECT name FROM extract_orgs WHERE id = $1").bind(req.org_id).fetch_optional(&mut *tx).await?;
                let mut e = entry.clone();
                // What the person's "who looked at my data" shows (never a public-security
                // user's request: withheld_from_subject).
                e.detail = serde_json::json!({
                    "request": id, "org": req.org_id, "organisation": org_name, "type": req.extract_type, "state": req.state.as_str(),
                    "criterion": req.criterion.kind(), "protocol": protocol.map(|p| p.to_string()), "purpose": req.purpose,
                    "public_security": req.public_security, "withheld_from_subject": req.public_security,
                })
                .to_string();
                Self::append_audit(&mut tx, &mut head, &e).await?;
                tx.commit().await?;
                Ok((id, protocol))
            }

            async fn decide_extract(
                &self,
                id: i64,
                decision: &crate::ExtractDecision,
                mediator: &str,
                note: &str,
                now: i64,
                year: i32,
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<crate::ExtractRequest> {
                use anagrafe_domain::extract::RequestState;
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM extract_requests WHERE id = $1{}", Self::FOR_UPDATE)))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| crate::StoreError::NotFound(format!("extract request {id}")))?;
                let req = Self::extract_row(&row)?;
                if req.state != RequestState::Pending {
                    return Err(crate::StoreError::State { field: "state".into(), reason: anagrafe_domain::Why::new("extract-not-pending") });
                }
                let (state, approval, protocol, content) = match decision {
                    crate::ExtractDecision::Approve { approval, content } => {
                        let p = Self::next_protocol(&mut tx, req.comune, year).await?;
                        let approval = match approval {
                            anagrafe_domain::extract::Approval::ByMediator => "by_mediator",
                            anagrafe_domain::extract::Approval::BySilence => "by_silence",
                        };
                        (RequestState::Issued, Some(approval), Some(p), Some(content))
                    }
                    crate::ExtractDecision::Reject => (RequestState::Rejected, None, None, None),
                };
                sqlx::query(
                    "UPDATE extract_requests SET state = $1, decided_at = $2, mediator = $3, approval = $4, note = $5, protocol_year = $6, \
                     protocol_number = $7, content = $8, content_hash = $9 WHERE id = $10",
                )
                .bind(state.as_str())
                .bind(now)
                .bind(mediator)
                .bind(approval)
                .bind(note)
                .bind(protocol.map(|p| p.year))
                .bind(protocol.map(|p| p.number))
                .bind(content.map(|c| c.json.clone()))
                .bind(content.map(|c| c.sha256.clone()))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let org_name: Option<String> =
                    sqlx::query_scalar("SELECT name FROM extract_orgs WHERE id = $1").bind(req.org_id).fetch_optional(&mut *tx).await?;
                let mut e = entry.clone();
                e.detail = serde_json::json!({
                    "request": id, "org": req.org_id, "organisation": org_name, "type": req.extract_type, "state": state.as_str(),
                    "approval": approval, "protocol": protocol.map(|p| p.to_string()), "purpose": req.purpose,
                    "public_security": req.public_security, "withheld_from_subject": req.public_security,
                })
                .to_string();
                Self::append_audit(&mut tx, &mut head, &e).await?;
                let row = sqlx::query("SELECT * FROM extract_requests WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
                let done = Self::extract_row(&row)?;
                tx.commit().await?;
                Ok(done)
            }

            async fn extract_request(&self, id: i64) -> crate::Result<Option<crate::ExtractRequest>> {
                let row = sqlx::query("SELECT * FROM extract_requests WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(Self::extract_row).transpose()
            }

            async fn post_bulletin(&self, b: &crate::Bulletin, entry: &crate::audit::AuditEntry) -> crate::Result<i64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO extract_bulletins (comune, recipient, author, author_name, title, body, posted_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(b.comune.to_string())
                .bind(&b.recipient)
                .bind(&b.author)
                .bind(&b.author_name)
                .bind(&b.title)
                .bind(&b.body)
                .bind(b.posted_at)
                .bind(b.expires_at)
                .fetch_one(&mut *tx)
                .await?;
                let mut e = entry.clone();
                e.detail = serde_json::json!({ "bulletin": id, "comune": b.comune, "private": b.recipient.is_some() }).to_string();
                Self::append_audit(&mut tx, &mut head, &e).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn bulletins(
                &self,
                comune: anagrafe_domain::Belfiore,
                username: &str,
                now: i64,
                every: bool,
            ) -> crate::Result<Vec<crate::Bulletin>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT * FROM extract_bulletins WHERE comune = $1 AND ($4 OR ((recipient IS NULL OR recipient = $2) \
                     AND withdrawn_at IS NULL AND (expires_at IS NULL OR expires_at > $3))) ORDER BY id DESC LIMIT 200",
                )
                .bind(comune.to_string())
                .bind(username)
                .bind(now)
                .bind(every)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let c: String = r.try_get("comune")?;
                        Ok(crate::Bulletin {
                            id: r.try_get("id")?,
                            comune: anagrafe_domain::Belfiore::parse(&c)
                                .map_err(|_| crate::StoreError::Corrupt("extract_bulletins: comune".into()))?,
                            recipient: r.try_get("recipient")?,
                            author: r.try_get("author")?,
                            author_name: r.try_get("author_name")?,
                            title: r.try_get("title")?,
                            body: r.try_get("body")?,
                            posted_at: r.try_get("posted_at")?,
                            expires_at: r.try_get("expires_at")?,
                            withdrawn_at: r.try_get("withdrawn_at")?,
                        })
                    })
                    .collect()
            }

            async fn withdraw_bulletin(
                &self,
                comune: anagrafe_domain::Belfiore,
                id: i64,
                now: i64,
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let done = sqlx::query("UPDATE extract_bulletins SET withdrawn_at = $1 WHERE id = $2 AND comune = $3 AND withdrawn_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .bind(comune.to_string())
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(crate::StoreError::NotFound(format!("bulletin {id}")));
                }
                let mut e = entry.clone();
                e.detail = serde_json::json!({ "bulletin": id }).to_string();
                Self::append_audit(&mut tx, &mut head, &e).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_operator_email(&self, username: &str, email: Option<&str>, at_ms: i64, entry: &crate::audit::AuditEntry) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                sqlx::query("DELETE FROM operator_contacts WHERE username = $1").bind(username).execute(&mut *tx).await?;
                if let Some(email) = email {
                    sqlx::query("INSERT INTO operator_contacts (username, email, updated_at) VALUES ($1, $2, $3)")
                        .bind(username)
                        .bind(email)
                        .bind(at_ms)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| match e {
                            sqlx::Error::Database(d) if d.is_foreign_key_violation() => crate::StoreError::NotFound(format!("operator {username}")),
                            other => other.into(),
                        })?;
                }
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn operator_emails(&self, usernames: &[String]) -> crate::Result<Vec<(String, String)>> {
                let mut out = Vec::new();
                for u in usernames {
                    if let Some(email) = sqlx::query_scalar::<_, String>("SELECT email FROM operator_contacts WHERE username = $1")
                        .bind(u)
                        .fetch_optional(&self.pool)
                        .await?
                    {
                        out.push((u.clone(), email));
                    }
                }
                Ok(out)
            }

            async fn extract_document(&self, id: i64) -> crate::Result<Option<(Vec<u8>, String)>> {
                Ok(sqlx::query_as("SELECT pdf, sha256 FROM extract_documents WHERE request_id = $1").bind(id).fetch_optional(&self.pool).await?)
            }

            async fn save_extract_document(
                &self,
                id: i64,
                pdf: &[u8],
                at_ms: i64,
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<(Vec<u8>, String)> {
                use sha2::Digest;
                let sha256 = hex::encode(sha2::Sha256::digest(pdf));
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                sqlx::query(
                    "INSERT INTO extract_documents (request_id, pdf, sha256, size, made_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (request_id) DO NOTHING",
                )
                .bind(id)
                .bind(pdf)
                .bind(&sha256)
                .bind(pdf.len() as i64)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?;
                let kept: (Vec<u8>, String) =
                    sqlx::query_as("SELECT pdf, sha256 FROM extract_documents WHERE request_id = $1").bind(id).fetch_one(&mut *tx).await?;
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(kept)
            }

            async fn extract_requests(&self, f: &crate::ExtractFilter) -> crate::Result<Vec<crate::ExtractRequest>> {
                let rows = sqlx::query(
                    "SELECT * FROM extract_requests WHERE ($1 IS NULL OR comune = $1) AND ($2 IS NULL OR org_id = $2) \
                     AND ($3 IS NULL OR requester = $3) AND ($4 IS NULL OR state = $4) AND ($5 IS NULL OR person_id = $5) \
                     AND ($6 OR NOT public_security) AND ($7 IS NULL OR requested_at >= $7) AND ($8 IS NULL OR requested_at < $8) \
                     AND ($9 IS NULL OR id < $9) AND ($11 IS NULL OR extract_type = $11) AND ($12 IS NULL OR subject = $12) \
                     ORDER BY id DESC LIMIT $10",
                )
                .bind(f.comune.map(|b| b.to_string()))
                .bind(f.org_id)
                .bind(&f.requester)
                .bind(f.state.map(|s| s.as_str()))
                .bind(f.person_id)
                .bind(f.include_public_security)
                .bind(f.from_ms)
                .bind(f.to_ms)
                .bind(f.before_id)
                .bind(i64::from(f.limit))
                .bind(f.extract_type.map(|t| t.as_str()))
                .bind(&f.subject)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::extract_row).collect()
            }

            async fn find_by_document(&self, kinds: &[&str], number: &str) -> crate::Result<Vec<i64>> {
                let ids: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT DISTINCT person_id, kind FROM person_documents WHERE number = $1 AND superseded_at IS NULL ORDER BY person_id LIMIT 50",
                )
                .bind(number)
                .fetch_all(&self.pool)
                .await?;
                let mut out: Vec<i64> = ids.into_iter().filter(|(_, k)| kinds.contains(&k.as_str())).map(|(id, _)| id).collect();
                out.dedup();
                Ok(out)
            }

            async fn find_by_name(
                &self,
                surname: &str,
                given: &str,
                born_on: Option<chrono::NaiveDate>,
                born_in: Option<&str>,
                limit: u32,
            ) -> crate::Result<Vec<i64>> {
                let date = if born_on.is_some() { "g.birth_date = $3" } else { "$3 IS NULL" };
                let sql = format!(
                    "SELECT DISTINCT g.person_id FROM person_generalita g WHERE UPPER(g.surname) = UPPER($1) AND UPPER(g.given_name) = UPPER($2) \
                     AND {date} AND ($4 = '' OR g.birth_place = $4) AND g.valid_to IS NULL AND g.superseded_at IS NULL \
                     ORDER BY g.person_id LIMIT $5"
                );
                Ok(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .bind(surname)
                    .bind(given)
                    .bind(born_on)
                    .bind(born_in.unwrap_or(""))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?)
            }
        }
    };
}

pub(crate) use store_extract;
