//! Public bodies on the e-services (issue 4): their registration (client, keys, purposes), the
//! signature ids they spent, the answers kept for their operation ids, and the search by
//! personal data. Stamped out per backend by `store_pdnd!`, like `store_common!`.

macro_rules! store_pdnd {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Adds the kept answers to a batch: one statement.
            fn push_pdnd_answers(b: &mut crate::shared::Batch<$db>, answers: &[&crate::PdndAnswer], now: i64) {
                if answers.is_empty() {
                    return;
                }
                let values = (0..answers.len())
                    .map(|i| {
                        let k = i * 7;
                        format!("(${},${},${},${},${},${},${})", k + 1, k + 2, k + 3, k + 4, k + 5, k + 6, k + 7)
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                b.add(&format!(
                    "INSERT INTO pdnd_answers (client_id, id_operazione_client, eservice, request_sha256, status, body, created_at) VALUES {values}"
                ));
                for a in answers {
                    b.bind(&a.client_id).bind(&a.id_operazione_client).bind(&a.eservice).bind(&a.request_sha256).bind(a.status).bind(&a.body).bind(now);
                }
            }

            /// Adds spent signature ids to a batch: one statement (a second use is a unique
            /// violation, which fails the write).
            fn push_seen_jtis(b: &mut crate::shared::Batch<$db>, jtis: &[&crate::SpentJti]) {
                if jtis.is_empty() {
                    return;
                }
                let values = (0..jtis.len()).map(|i| format!("(${},${},${})", i * 3 + 1, i * 3 + 2, i * 3 + 3)).collect::<Vec<_>>().join(",");
                b.add(&format!("INSERT INTO seen_jti (client_id, jti, expires_at) VALUES {values}"));
                for j in jtis {
                    b.bind(&j.owner).bind(&j.jti).bind(j.expires_at_ms);
                }
            }

            async fn find_by_generalita_impl(&self, q: &crate::GeneralitaQuery, as_of: Option<chrono::NaiveDate>) -> crate::Result<Vec<i64>> {
                let as_of = as_of.unwrap_or_else(anagrafe_domain::ops::italian_today);
                let surname = match &q.surname {
                    Some(_) => "UPPER(g.surname) = UPPER($4)",
                    None => "g.surname IS NULL AND $4 = ''",
                };
                let given = match &q.given_name {
                    Some(_) => "UPPER(g.given_name) = UPPER($5)",
                    None => "g.given_name IS NULL AND $5 = ''",
                };
                let sql = format!(
                    "SELECT DISTINCT g.person_id FROM person_generalita g WHERE {surname} AND g.birth_date BETWEEN $2 AND $3 AND {given} \
                     AND g.sex = $6 AND ($7 = '' OR g.birth_place = $7) AND g.superseded_at IS NULL AND g.valid_from <= $1 \
                     AND (g.valid_to IS NULL OR g.valid_to > $1) \
                     AND EXISTS (SELECT 1 FROM id_anpr_registry r WHERE r.person_id = g.person_id AND r.status IN (1, 2)) \
                     ORDER BY g.person_id LIMIT 50"
                );
                Ok(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .bind(as_of)
                    .bind(q.born_from)
                    .bind(q.born_to)
                    .bind(q.surname.as_deref().unwrap_or(""))
                    .bind(q.given_name.as_deref().unwrap_or(""))
                    .bind(&q.sex)
                    .bind(q.birth_place.as_deref().unwrap_or(""))
                    .fetch_all(&self.pool)
                    .await?)
            }
        }

        #[async_trait::async_trait]
        impl crate::PdndStore for $store {
            async fn pdnd_client_ids(&self) -> crate::Result<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT client_id FROM pdnd_clients ORDER BY client_id").fetch_all(&self.pool).await?)
            }

            async fn pdnd_client(&self, client_id: &str) -> crate::Result<Option<crate::PdndClient>> {
                use sqlx::Row;
                let Some(c) = sqlx::query("SELECT client_id, name, revoked_at, public_security FROM pdnd_clients WHERE client_id = $1")
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await?
                else {
                    return Ok(None);
                };
                let keys = sqlx::query("SELECT kid, public_key_pem, revoked_at FROM pdnd_keys WHERE client_id = $1 ORDER BY kid")
                    .bind(client_id)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(crate::PdndKey {
                            kid: r.try_get("kid")?,
                            public_key_pem: r.try_get("public_key_pem")?,
                            revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                        })
                    })
                    .collect::<crate::Result<Vec<_>>>()?;
                let purposes = sqlx::query(
                    "SELECT purpose_id, eservice, description, daily_quota, per_second, revoked_at FROM pdnd_purposes WHERE client_id = $1 ORDER BY purpose_id",
                )
                .bind(client_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(crate::PdndPurpose {
                        purpose_id: r.try_get("purpose_id")?,
                        eservice: r.try_get("eservice")?,
                        description: r.try_get("description")?,
                        daily_quota: r.try_get("daily_quota")?,
                        per_second: r.try_get("per_second")?,
                        revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                    })
                })
                .collect::<crate::Result<Vec<_>>>()?;
                Ok(Some(crate::PdndClient {
                    client_id: c.try_get("client_id")?,
                    name: c.try_get("name")?,
                    keys,
                    purposes,
                    revoked: c.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                    public_security: c.try_get("public_security")?,
                }))
            }

            async fn save_pdnd_client(&self, c: &crate::PdndClient, ctx: &crate::WriteContext) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let now = head.now;
                sqlx::query(
                    "INSERT INTO pdnd_clients (client_id, name, created_at, revoked_at, public_security) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, revoked_at = excluded.revoked_at, \
                     public_security = excluded.public_security",
                )
                .bind(&c.client_id)
                .bind(&c.name)
                .bind(now)
                .bind(c.revoked.then_some(now))
                .bind(c.public_security)
                .execute(&mut *tx)
                .await?;
                // A key id names one key for ever: it cannot move to another body.
                for k in &c.keys {
                    let done = sqlx::query(
                        "INSERT INTO pdnd_keys (kid, client_id, public_key_pem, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (kid) DO UPDATE SET public_key_pem = excluded.public_key_pem, revoked_at = excluded.revoked_at \
                         WHERE pdnd_keys.client_id = excluded.client_id",
                    )
                    .bind(&k.kid)
                    .bind(&c.client_id)
                    .bind(&k.public_key_pem)
                    .bind(now)
                    .bind(k.revoked.then_some(now))
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(crate::StoreError::Conflict { field: "keys.kid".into() });
                    }
                }
                for p in &c.purposes {
                    let done = sqlx::query(
                        "INSERT INTO pdnd_purposes (purpose_id, client_id, eservice, description, daily_quota, per_second, created_at, revoked_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (purpose_id) DO UPDATE SET eservice = excluded.eservice, \
                         description = excluded.description, daily_quota = excluded.daily_quota, per_second = excluded.per_second, \
                         revoked_at = excluded.revoked_at WHERE pdnd_purposes.client_id = excluded.client_id",
                    )
                    .bind(&p.purpose_id)
                    .bind(&c.client_id)
                    .bind(&p.eservice)
                    .bind(&p.description)
                    .bind(p.daily_quota)
                    .bind(p.per_second)
                    .bind(now)
                    .bind(p.revoked.then_some(now))
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(crate::StoreError::Conflict { field: "purposes.purpose_id".into() });
                    }
                }
                // What the new registration leaves out is revoked (kept, so ids are never reused).
                let kids: Vec<&str> = c.keys.iter().map(|k| k.kid.as_str()).collect();
                let pids: Vec<&str> = c.purposes.iter().map(|p| p.purpose_id.as_str()).collect();
                for (table, column, keep) in [("pdnd_keys", "kid", &kids), ("pdnd_purposes", "purpose_id", &pids)] {
                    let ids: Vec<String> =
                        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {column} FROM {table} WHERE client_id = $1 AND revoked_at IS NULL")))
                            .bind(&c.client_id)
                            .fetch_all(&mut *tx)
                            .await?;
                    for id in ids {
                        if !keep.contains(&id.as_str()) {
                            sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET revoked_at = $1 WHERE {column} = $2")))
                                .bind(now)
                                .bind(&id)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                }
                let mut entry = crate::audit::AuditEntry::from_ctx(ctx, "pdnd_client.save", "ok");
                entry.detail = serde_json::json!({
                    "client_id": c.client_id,
                    "name": c.name,
                    "revoked": c.revoked,
                    "keys": kids,
                    "purposes": c.purposes.iter().map(|p| serde_json::json!({ "purpose_id": p.purpose_id, "eservice": p.eservice, "revoked": p.revoked })).collect::<Vec<_>>(),
                })
                .to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn accept_pdnd_jti(&self, client_id: &str, kid: &str, jti: &str, expires_at_ms: i64) -> crate::Result<crate::JtiOutcome> {
                // As `accept_jti`, in the same table under the body's own namespace.
                let _turn = self.write_turn().await;
                if rand::random::<u8>() == 0 {
                    sqlx::query("DELETE FROM seen_jti WHERE expires_at < $1").bind(crate::now_ms()).execute(&self.pool).await?;
                }
                let owner = format!("pdnd:{client_id}");
                let done = sqlx::query(
                    "INSERT INTO seen_jti (client_id, jti, expires_at) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM pdnd_keys k \
                     JOIN pdnd_clients c ON c.client_id = k.client_id WHERE k.kid = $4 AND k.client_id = $5 AND k.revoked_at IS NULL \
                     AND c.revoked_at IS NULL) ON CONFLICT DO NOTHING",
                )
                .bind(&owner)
                .bind(jti)
                .bind(expires_at_ms)
                .bind(kid)
                .bind(client_id)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 1 {
                    return Ok(crate::JtiOutcome::Fresh);
                }
                let seen = sqlx::query("SELECT 1 FROM seen_jti WHERE client_id = $1 AND jti = $2").bind(&owner).bind(jti).fetch_optional(&self.pool).await?;
                Ok(if seen.is_some() { crate::JtiOutcome::Replayed } else { crate::JtiOutcome::ClientChanged })
            }

            async fn pdnd_answer(&self, client_id: &str, id_op: &str) -> crate::Result<Option<crate::PdndAnswer>> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT client_id, id_operazione_client, eservice, request_sha256, status, body FROM pdnd_answers \
                     WHERE client_id = $1 AND id_operazione_client = $2",
                )
                .bind(client_id)
                .bind(id_op)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok(crate::PdndAnswer {
                        client_id: r.try_get("client_id")?,
                        id_operazione_client: r.try_get("id_operazione_client")?,
                        eservice: r.try_get("eservice")?,
                        request_sha256: r.try_get("request_sha256")?,
                        status: r.try_get("status")?,
                        body: r.try_get("body")?,
                    })
                })
                .transpose()
            }

            async fn purge_pdnd_answers(&self, before_ms: i64, entry: &crate::audit::AuditEntry) -> crate::Result<u64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let n = sqlx::query("DELETE FROM pdnd_answers WHERE created_at < $1").bind(before_ms).execute(&mut *tx).await?.rows_affected();
                if n > 0 {
                    let mut entry = entry.clone();
                    entry.detail = serde_json::json!({ "deleted": n, "given_before_ms": before_ms }).to_string();
                    Self::append_audit(&mut tx, &mut head, &entry).await?;
                }
                tx.commit().await?;
                Ok(n)
            }
        }
    };
}

pub(crate) use store_pdnd;
