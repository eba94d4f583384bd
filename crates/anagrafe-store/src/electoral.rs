//! Electoral data (ELE-1, ELE-3, ELE-6, ELE-7) and citizens' requests to rectify them (CIT-3).
//! Stamped out per backend by `store_electoral!`, like `store_common!`.
//!
//! Segregation (ELE-3) is checked here, inside the write's transaction: a row is written only
//! for a person whose competent comune (residence, or AIRE registration) is the comune the
//! officer acts for, and a request is answered only by the comune it was addressed to.

macro_rules! store_electoral {
    ($store:ty, $db:ty) => {
        impl $store {
            /// The competent comune and status of a person, locked for the write.
            async fn electoral_subject(
                tx: &mut sqlx::Transaction<'_, $db>,
                person_id: i64,
            ) -> crate::Result<(String, anagrafe_domain::RegisterStatus)> {
                let row = sqlx::query_as::<_, crate::rows::CompetenceRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT comune, status FROM persons WHERE id = $1{}",
                    Self::FOR_UPDATE
                )))
                .bind(person_id)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| crate::StoreError::NotFound("person".into()))?;
                Ok((row.comune, crate::rows::register_status(row.status)?))
            }

            /// Writes one person's electoral data over what was there (ELE-6).
            async fn put_electoral(
                tx: &mut sqlx::Transaction<'_, $db>,
                person_id: i64,
                comune: &str,
                data: &anagrafe_domain::electoral::ElectoralData,
                now: i64,
            ) -> crate::Result<()> {
                let json = serde_json::to_string(data).map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO electoral_data (person_id, comune, elector, section_number, data, updated_at) VALUES ($1,$2,$3,$4,$5,$6) \
                     ON CONFLICT (person_id) DO UPDATE SET comune = excluded.comune, elector = excluded.elector, \
                     section_number = excluded.section_number, data = excluded.data, updated_at = excluded.updated_at",
                )
                .bind(person_id)
                .bind(comune)
                .bind(data.elector)
                .bind(data.section.as_ref().map(|s| i32::from(s.number)))
                .bind(json)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Whether a person is still in the register (resident, or registered in AIRE).
            fn in_register(status: anagrafe_domain::RegisterStatus) -> bool {
                matches!(status, anagrafe_domain::RegisterStatus::Resident | anagrafe_domain::RegisterStatus::Aire)
            }

            /// Refuses a write for a person this comune does not keep.
            fn electoral_competence(person_comune: &str, status: anagrafe_domain::RegisterStatus, comune: &str) -> crate::Result<()> {
                if person_comune != comune {
                    return Err(crate::StoreError::Forbidden(
                        "only the electoral officer of the person's comune keeps the person's electoral data".into(),
                    ));
                }
                if !Self::in_register(status) {
                    return Err(crate::StoreError::State {
                        field: "person".into(),
                        reason: anagrafe_domain::Why::new("not-in-register"),
                    });
                }
                Ok(())
            }

            fn rectification_row(r: &<$db as sqlx::Database>::Row) -> crate::Result<crate::Rectification> {
                use sqlx::Row;
                let topics: String = r.try_get("topics")?;
                Ok(crate::Rectification {
                    id: r.try_get("id")?,
                    person_id: r.try_get("person_id")?,
                    comune: r.try_get("comune")?,
                    topics: topics
                        .split(',')
                        .map(|t| {
                            anagrafe_domain::electoral::RectificationTopic::from_code(t)
                                .ok_or_else(|| crate::StoreError::Corrupt(format!("rectification topic {t}")))
                        })
                        .collect::<crate::Result<Vec<_>>>()?,
                    message: r.try_get("message")?,
                    requested_at: r.try_get("requested_at")?,
                    status: r.try_get("status")?,
                    answer: r.try_get("answer")?,
                    answered_at: r.try_get("answered_at")?,
                    answered_by: r.try_get("answered_by")?,
                    id_anpr: r.try_get("id_anpr")?,
                })
            }
        }

        #[async_trait::async_trait]
        impl crate::ElectoralStore for $store {
            async fn electoral_data(&self, person_id: i64) -> crate::Result<Option<crate::ElectoralRecord>> {
                use sqlx::Row;
                let Some(r) = sqlx::query("SELECT person_id, comune, data, updated_at FROM electoral_data WHERE person_id = $1")
                    .bind(person_id)
                    .fetch_optional(&self.pool)
                    .await?
                else {
                    return Ok(None);
                };
                let data: String = r.try_get("data")?;
                Ok(Some(crate::ElectoralRecord {
                    person_id: r.try_get("person_id")?,
                    comune: r.try_get("comune")?,
                    data: serde_json::from_str(&data).map_err(|e| crate::StoreError::Corrupt(format!("electoral data: {e}")))?,
                    updated_at: r.try_get("updated_at")?,
                }))
            }

            async fn save_electoral_data(
                &self,
                person_id: i64,
                comune: &str,
                data: &anagrafe_domain::electoral::ElectoralData,
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let (person_comune, status) = Self::electoral_subject(&mut tx, person_id).await?;
                Self::electoral_competence(&person_comune, status, comune)?;
                let mut head = Self::lock_head(&mut tx).await?;
                Self::put_electoral(&mut tx, person_id, comune, data, crate::now_ms()).await?;
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn load_electoral_data(
                &self,
                comune: &str,
                rows: &[(i64, anagrafe_domain::electoral::ElectoralData)],
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<u64> {
                let (_write, mut tx) = self.begin_write().await?;
                let now = crate::now_ms();
                for (i, (person_id, data)) in rows.iter().enumerate() {
                    let (person_comune, status) = match Self::electoral_subject(&mut tx, *person_id).await {
                        Err(crate::StoreError::NotFound(_)) => {
                            return Err(crate::StoreError::Refused { field: format!("rows[{i}]"), reason: anagrafe_domain::Why::new("no-such-person") });
                        }
                        other => other?,
                    };
                    Self::electoral_competence(&person_comune, status, comune).map_err(|e| crate::StoreError::Refused {
                        field: format!("rows[{i}]"),
                        reason: match e {
                            crate::StoreError::State { reason, .. } => reason,
                            _ => anagrafe_domain::Why::new("not-kept-here").arg("comune", comune),
                        },
                    })?;
                    Self::put_electoral(&mut tx, *person_id, comune, data, now).await?;
                }
                let mut head = Self::lock_head(&mut tx).await?;
                let mut entry = entry.clone();
                entry.detail = serde_json::json!({ "comune": comune, "rows": rows.len() }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(rows.len() as u64)
            }

            async fn request_rectification(&self, r: &crate::NewRectification, entry: &crate::audit::AuditEntry) -> crate::Result<i64> {
                let (_write, mut tx) = self.begin_write().await?;
                let (comune, status) = Self::electoral_subject(&mut tx, r.person_id).await?;
                if !Self::in_register(status) {
                    return Err(crate::StoreError::State { field: "person".into(), reason: anagrafe_domain::Why::new("not-in-register") });
                }
                let mut head = Self::lock_head(&mut tx).await?;
                let topics = r.topics.iter().map(|t| t.code()).collect::<Vec<_>>().join(",");
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO electoral_rectifications (person_id, comune, topics, message, requested_at, status) \
                     VALUES ($1,$2,$3,$4,$5,'open') RETURNING id",
                )
                .bind(r.person_id)
                .bind(&comune)
                .bind(topics)
                .bind(&r.message)
                .bind(crate::now_ms())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match crate::shared::conflict(e, "rectification") {
                    crate::StoreError::Conflict { .. } => crate::StoreError::State {
                        field: "rectification".into(),
                        reason: anagrafe_domain::Why::new("request-waiting"),
                    },
                    other => other,
                })?;
                let mut entry = entry.clone();
                entry.detail = serde_json::json!({ "rectification": id, "comune": comune }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn rectifications_of(&self, person_id: i64) -> crate::Result<Vec<crate::Rectification>> {
                sqlx::query(
                    "SELECT x.id, x.person_id, x.comune, x.topics, x.message, x.requested_at, x.status, x.answer, x.answered_at, x.answered_by, \
                     (SELECT r.id_anpr FROM id_anpr_registry r WHERE r.person_id = x.person_id ORDER BY r.issued_at DESC LIMIT 1) \
                     AS id_anpr FROM electoral_rectifications x WHERE x.person_id = $1 ORDER BY x.id DESC",
                )
                .bind(person_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::rectification_row)
                .collect()
            }

            async fn rectifications(&self, comune: &str, open_only: bool, limit: u32) -> crate::Result<Vec<crate::Rectification>> {
                sqlx::query(
                    "SELECT x.id, x.person_id, x.comune, x.topics, x.message, x.requested_at, x.status, x.answer, x.answered_at, x.answered_by, \
                     (SELECT r.id_anpr FROM id_anpr_registry r WHERE r.person_id = x.person_id ORDER BY r.issued_at DESC LIMIT 1) \
                     AS id_anpr FROM electoral_rectifications x WHERE x.comune = $1 AND (x.status = 'open' OR NOT $2) ORDER BY x.id DESC LIMIT $3",
                )
                .bind(comune)
                .bind(open_only)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::rectification_row)
                .collect()
            }

            async fn answer_rectification(
                &self,
                id: i64,
                comune: &str,
                answer: &crate::RectificationAnswer,
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<i64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let status = if answer.accepted { "accepted" } else { "rejected" };
                let done: Option<i64> = sqlx::query_scalar(
                    "UPDATE electoral_rectifications SET status = $1, answer = $2, answered_at = $3, answered_by = $4 \
                     WHERE id = $5 AND comune = $6 AND status = 'open' RETURNING person_id",
                )
                .bind(status)
                .bind(&answer.answer)
                .bind(crate::now_ms())
                .bind(&answer.answered_by)
                .bind(id)
                .bind(comune)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(person_id) = done else {
                    // Another comune's request is, for this officer, no request at all (ELE-3).
                    let open: Option<String> = sqlx::query_scalar("SELECT status FROM electoral_rectifications WHERE id = $1 AND comune = $2")
                        .bind(id)
                        .bind(comune)
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(match open {
                        None => crate::StoreError::NotFound("rectification request".into()),
                        Some(_) => crate::StoreError::State { field: "rectification".into(), reason: anagrafe_domain::Why::new("request-answered") },
                    });
                };
                let mut entry = entry.clone();
                entry.detail = serde_json::json!({ "rectification": id, "outcome": status }).to_string();
                entry.subject_person = Some(person_id);
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(person_id)
            }
        }
    };
}

pub(crate) use store_electoral;
