//! The store operations whose SQL is the same on both backends, written once and stamped out
//! for each by `store_common!` (sqlx's generic executor bounds across two databases cost more
//! clarity than a macro does; see docs/data-model.md).

/// Implements the shared inherent helpers and the store traits, one impl block per trait
/// ([`crate::PdndStore`] and [`crate::ElectoralStore`] are implemented beside their helpers,
/// by `store_pdnd!` and `store_electoral!`), for a backend type `$store` whose pool is
/// `self.pool` over database `$db`. The backend provides `migrate_impl`, `drop_secondary`,
/// `insert_registry` and the bulk writer.
macro_rules! store_common {
    ($store:ty, $db:ty, $backend:expr) => {
        impl $store {
            /// One page of a comune's notifications: `order` is the cursor's condition on `$2`
            /// and the order (`id > $2 ORDER BY id` for the software's feed, `id < $2 ORDER BY
            /// id DESC` for the office's inbox).
            async fn notification_page(&self, order: &'static str, comune: anagrafe_domain::Belfiore, cursor: i64, limit: u32) -> crate::Result<Vec<crate::Notification>> {
                let sql = format!("SELECT id, kind, event_id, payload, created_at FROM notifications WHERE comune = $1 AND {order} LIMIT $3");
                sqlx::query_as::<_, crate::rows::FeedItemRow>(sqlx::AssertSqlSafe(sql))
                    .bind(comune.as_str())
                    .bind(cursor)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(crate::rows::FeedItemRow::into_item)
                    .collect()
            }

            /// Reserves `n` consecutive ids from counter `name`; returns the first.
            async fn alloc(tx: &mut sqlx::Transaction<'_, $db>, name: &'static str, n: i64) -> crate::Result<i64> {
                let next: i64 = sqlx::query_scalar("UPDATE counters SET next = next + $1 WHERE name = $2 RETURNING next")
                    .bind(n)
                    .bind(name)
                    .fetch_one(&mut **tx)
                    .await?;
                Ok(next - n)
            }

            /// Locks the chain head. Must be the first statement of a write transaction: on
            /// SQLite it takes the write lock up front (no deadlock on upgrade); on PostgreSQL it
            /// serialises appends to the chain. The head also fixes the transaction's time:
            /// strictly after the previous write's, so that two writes never share a recorded
            /// time even within one millisecond.
            async fn lock_head(tx: &mut sqlx::Transaction<'_, $db>) -> crate::Result<crate::shared::Head> {
                let row = sqlx::query_as::<_, crate::rows::LockedHeadRow>("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash, last_at_ms")
                    .fetch_one(&mut **tx)
                    .await?;
                Ok(crate::shared::Head {
                    seq: row.seq,
                    hash: row.hash,
                    now: crate::now_ms().max(row.last_at_ms + 1),
                    locked: true,
                    defer: false,
                    pending: Vec::new(),
                    feed: Vec::new(),
                })
            }

            /// One statement inserting audit rows in chain order (the trigger moves the head
            /// row by row, so the last one inserted is the head).
            fn push_audit_rows(b: &mut crate::shared::Batch<$db>, rows: &[crate::shared::AuditRow]) {
                if rows.is_empty() {
                    return;
                }
                let values = (0..rows.len())
                    .map(|i| {
                        let k = i * 14;
                        format!("(${},${},${},${},${},${},${},${},${},${},${},${},${},${})", k + 1, k + 2, k + 3, k + 4, k + 5, k + 6, k + 7, k + 8, k + 9, k + 10, k + 11, k + 12, k + 13, k + 14)
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                b.add(&format!(
                    "INSERT INTO audit_log (seq, at_ms, request_id, actor, actor_cf, eidas_id, auth_mode, operation, outcome, \
                     subject_person, subject_cf, detail, prev_hash, hash) VALUES {values}"
                ));
                for r in rows {
                    let e = &r.entry;
                    b.bind(r.seq)
                        .bind(r.at_ms)
                        .bind(&e.request_id)
                        .bind(&e.actor)
                        .bind(&e.actor_cf)
                        .bind(&e.eidas_id)
                        .bind(&e.auth_mode)
                        .bind(&e.operation)
                        .bind(&e.outcome)
                        .bind(e.subject_person)
                        .bind(&e.subject_cf)
                        .bind(&e.detail)
                        .bind(&r.prev_hash)
                        .bind(&r.hash);
                }
            }

            /// Appends an entry after the head locked by `lock_head` and moves the head on: at
            /// once, or with the write's last statement when the head defers its rows.
            async fn append_audit(
                tx: &mut sqlx::Transaction<'_, $db>,
                head: &mut crate::shared::Head,
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<i64> {
                if !head.locked {
                    return Err(crate::StoreError::Invalid("internal: audit append without the head lock".into()));
                }
                let seq = head.seq + 1;
                let at_ms = head.now;
                let hash = crate::audit::chain_hash(&head.hash, seq, at_ms, entry);
                let row = crate::shared::AuditRow { seq, at_ms, entry: entry.clone(), prev_hash: head.hash.clone(), hash: hash.clone() };
                if head.defer {
                    head.pending.push(row);
                } else {
                    let mut b = crate::shared::Batch::new();
                    Self::push_audit_rows(&mut b, std::slice::from_ref(&row));
                    Self::run_batch(tx, b).await?;
                }
                // The trigger `audit_log_moves_head` moves the head row to this entry when it is
                // written; the head in hand follows it now.
                head.seq = seq;
                head.hash = hash;
                Ok(seq)
            }

            /// Group commit (see `TraceQueue`): the entry is queued, and written by the writer
            /// task with everything queued beside it.
            async fn trace_queued(&self, entry: &crate::audit::AuditEntry, record: Option<crate::CallRecord>) -> crate::Result<i64> {
                let (rx, start) = self.trace.push(entry.clone(), record);
                if start {
                    let store = self.clone();
                    tokio::spawn(async move {
                        let _guard = crate::audit::WriterGuard(&store.trace);
                        while let Some(group) = store.trace.next_group() {
                            store.write_trace(group).await;
                        }
                    });
                }
                crate::audit::outcome(rx).await
            }

            /// Writes queued trace entries in one transaction and tells each caller its outcome.
            /// Should the batch fail, each entry is tried alone, so that one bad entry cannot cost
            /// the others theirs.
            async fn write_trace(&self, batch: Vec<crate::audit::Queued>) {
                if rand::random::<u8>() == 0 {
                    // Spent signature ids are forgotten once they expire, now and then.
                    let _ = sqlx::query("DELETE FROM seen_jti WHERE expires_at < $1").bind(crate::now_ms()).execute(&self.pool).await;
                }
                let items: Vec<(&crate::audit::AuditEntry, Option<&crate::CallRecord>)> = batch.iter().map(|(e, a, _)| (e, a.as_ref())).collect();
                match self.append_trace(&items).await {
                    Ok(seqs) => {
                        for ((_, _, tx), seq) in batch.into_iter().zip(seqs) {
                            let _ = tx.send(Ok(seq));
                        }
                    }
                    Err(e) if batch.len() == 1 => {
                        if let Some((_, _, tx)) = batch.into_iter().next() {
                            let _ = tx.send(Err(e));
                        }
                    }
                    Err(_) => {
                        for (entry, answer, tx) in batch {
                            let one = self.append_trace(&[(&entry, answer.as_ref())]).await.map(|s| s[0]);
                            let _ = tx.send(one);
                        }
                    }
                }
            }

            /// Appends entries to the chain in one transaction, with the answers to keep: their
            /// sequence numbers.
            async fn append_trace(&self, items: &[(&crate::audit::AuditEntry, Option<&crate::CallRecord>)]) -> crate::Result<Vec<i64>> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let answers: Vec<&crate::PdndAnswer> = items.iter().filter_map(|(_, r)| r.and_then(|r| r.answer.as_ref())).collect();
                let jtis: Vec<&crate::SpentJti> = items.iter().filter_map(|(_, r)| r.and_then(|r| r.jti.as_ref())).collect();
                let conflict = |e| match e {
                    crate::StoreError::Database(e) => crate::shared::batch_conflict(e, &[("pdnd_answers", "idOperazioneClient"), ("seen_jti", "jti")]),
                    other => other,
                };
                for chunk in jtis.chunks(crate::audit::ROWS_PER_STATEMENT) {
                    let mut b = crate::shared::Batch::new();
                    Self::push_seen_jtis(&mut b, chunk);
                    Self::run_batch(&mut tx, b).await.map_err(conflict)?;
                }
                for chunk in answers.chunks(crate::audit::ROWS_PER_STATEMENT) {
                    let mut b = crate::shared::Batch::new();
                    Self::push_pdnd_answers(&mut b, chunk, head.now);
                    Self::run_batch(&mut tx, b).await.map_err(conflict)?;
                }
                let entries: Vec<&crate::audit::AuditEntry> = items.iter().map(|(e, _)| *e).collect();
                let mut seqs = Vec::with_capacity(entries.len());
                for chunk in entries.chunks(crate::audit::ROWS_PER_STATEMENT) {
                    let mut rows = Vec::with_capacity(chunk.len());
                    for entry in chunk {
                        let seq = head.seq + 1;
                        let hash = crate::audit::chain_hash(&head.hash, seq, head.now, entry);
                        rows.push(crate::shared::AuditRow { seq, at_ms: head.now, entry: (*entry).clone(), prev_hash: std::mem::replace(&mut head.hash, hash.clone()), hash });
                        head.seq = seq;
                        seqs.push(seq);
                    }
                    let mut b = crate::shared::Batch::new();
                    Self::push_audit_rows(&mut b, &rows);
                    Self::run_batch(&mut tx, b).await?;
                }
                tx.commit().await?;
                Ok(seqs)
            }

            /// As `alloc_each`, in a statement of its own (committed at once): the counters' row
            /// locks are not held for the caller's transaction; ids of a write that fails are
            /// simply never used.
            async fn reserve_each<const N: usize>(&self, names: [&'static str; N]) -> crate::Result<[i64; N]> {
                let rows = sqlx::query_as(sqlx::AssertSqlSafe(crate::shared::counters_sql(&names))).fetch_all(&self.pool).await?;
                crate::shared::counters_taken(&rows, &names)
            }

            /// Reserves one id from each named counter in one statement, in the order named.
            async fn alloc_each<const N: usize>(tx: &mut sqlx::Transaction<'_, $db>, names: [&'static str; N]) -> crate::Result<[i64; N]> {
                let rows = sqlx::query_as(sqlx::AssertSqlSafe(crate::shared::counters_sql(&names))).fetch_all(&mut **tx).await?;
                crate::shared::counters_taken(&rows, &names)
            }

            #[allow(clippy::too_many_arguments)]
            async fn insert_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                ctx: &crate::WriteContext,
                kind: &str,
                code: Option<&str>,
                person_id: Option<i64>,
                family_id: Option<i64>,
                effective: chrono::NaiveDate,
                payload: &str,
            ) -> crate::Result<i64> {
                let id = Self::alloc(tx, "event", 1).await?;
                Self::insert_event_with_id(tx, id, ctx, kind, code, person_id, family_id, effective, payload).await
            }

            /// Writes an event under an id already reserved.
            #[allow(clippy::too_many_arguments)]
            async fn insert_event_with_id(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: i64,
                ctx: &crate::WriteContext,
                kind: &str,
                code: Option<&str>,
                person_id: Option<i64>,
                family_id: Option<i64>,
                effective: chrono::NaiveDate,
                payload: &str,
            ) -> crate::Result<i64> {
                let mut b = crate::shared::Batch::new();
                Self::push_event(&mut b, id, ctx, kind, code, person_id, family_id, effective, payload);
                Self::run_batch(tx, b).await?;
                Ok(id)
            }

            /// Runs a batch in the transaction and gives the rows its last statement returns;
            /// a unique violation names the field behind the table it happened in.
            async fn run_batch(tx: &mut sqlx::Transaction<'_, $db>, b: crate::shared::Batch<$db>) -> crate::Result<Vec<<$db as sqlx::Database>::Row>> {
                if b.is_empty() {
                    return Ok(Vec::new());
                }
                let (sql, args) = b.finish(Self::join_batch)?;
                sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(|e| crate::shared::batch_conflict(e, &[("events", "client_op_id"), ("person_documents", "documents.number"), ("id_anpr_registry", "id_anpr"), ("client_operations", "client_op_id")]))
            }

            #[allow(clippy::too_many_arguments)]
            fn push_event(
                b: &mut crate::shared::Batch<$db>,
                id: i64,
                ctx: &crate::WriteContext,
                kind: &str,
                code: Option<&str>,
                person_id: Option<i64>,
                family_id: Option<i64>,
                effective: chrono::NaiveDate,
                payload: &str,
            ) {
                b.add(
                    "INSERT INTO events (id, kind, code, person_id, family_id, comune, effective_date, recorded_at, request_id, actor, \
                     client_op_id, payload) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
                )
                .bind(id)
                .bind(kind)
                .bind(code)
                .bind(person_id)
                .bind(family_id)
                .bind(ctx.comune.map(|c| c.to_string()))
                .bind(effective)
                .bind(crate::now_ms())
                .bind(&ctx.request_id)
                .bind(&ctx.actor)
                .bind(&ctx.client_op_id)
                .bind(payload);
            }

            async fn insert_family(
                tx: &mut sqlx::Transaction<'_, $db>,
                f: &crate::NewFamily,
                event_id: i64,
            ) -> crate::Result<i64> {
                let id = Self::alloc(tx, "family", 1).await?;
                Self::insert_family_with_id(tx, id, f, event_id).await
            }

            /// Writes a household under an id already reserved.
            async fn insert_family_with_id(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: i64,
                f: &crate::NewFamily,
                event_id: i64,
            ) -> crate::Result<i64> {
                let mut b = crate::shared::Batch::new();
                Self::push_family(&mut b, id, f, event_id);
                Self::run_batch(tx, b).await?;
                Ok(id)
            }

            fn push_family(b: &mut crate::shared::Batch<$db>, id: i64, f: &crate::NewFamily, event_id: i64) {
                let (kind, specie) = crate::rows::household_cols(&f.kind);
                b.add("INSERT INTO families (id, kind, specie, comune, name, formed_on, event_id) VALUES ($1,$2,$3,$4,$5,$6,$7)")
                    .bind(id)
                    .bind(kind)
                    .bind(specie)
                    .bind(f.comune.to_string())
                    .bind(&f.name)
                    .bind(f.formed_on)
                    .bind(event_id);
            }

            /// Writes a version of a person's personal data, in force from `valid_from`.
            async fn insert_generalita(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: i64,
                valid_from: chrono::NaiveDate,
                g: &anagrafe_domain::Generalita,
                event_id: i64,
                now: i64,
            ) -> crate::Result<()> {
                let mut b = crate::shared::Batch::new();
                Self::push_generalita(&mut b, id, valid_from, g, event_id, now);
                Self::run_batch(tx, b).await?;
                Ok(())
            }

            fn push_generalita(
                b: &mut crate::shared::Batch<$db>,
                id: i64,
                valid_from: chrono::NaiveDate,
                g: &anagrafe_domain::Generalita,
                event_id: i64,
                now: i64,
            ) {
                let (bp, bl) = crate::rows::birth_place_cols(&g.birth_place);
                b.add(
                    "INSERT INTO person_generalita (person_id, valid_from, recorded_at, event_id, surname, given_name, sex, birth_date, \
                     birth_date_precision, birth_place, birth_locality, codice_fiscale, cf_validation) \
                     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
                )
                .bind(id)
                .bind(valid_from)
                .bind(now)
                .bind(event_id)
                .bind(g.name.surname())
                .bind(g.name.given())
                .bind(g.sex.as_str())
                .bind(g.birth_date.first_day())
                .bind(g.birth_date.precision().code())
                .bind(bp)
                .bind(bl)
                .bind(g.codice_fiscale.map(|c| c.to_string()))
                .bind(crate::rows::code_of(g.cf_validation));
            }

            /// Writes a residence in force from `since`.
            async fn insert_residence(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: i64,
                since: chrono::NaiveDate,
                residence: &anagrafe_domain::Residence,
                event_id: i64,
                now: i64,
            ) -> crate::Result<()> {
                let mut b = crate::shared::Batch::new();
                Self::push_residence(&mut b, id, since, residence, event_id, now);
                Self::run_batch(tx, b).await?;
                Ok(())
            }

            fn push_residence(
                b: &mut crate::shared::Batch<$db>,
                id: i64,
                since: chrono::NaiveDate,
                residence: &anagrafe_domain::Residence,
                event_id: i64,
                now: i64,
            ) {
                let rc = crate::rows::ResidenceCols::from_residence(residence);
                b.add(
                    "INSERT INTO person_residences (person_id, valid_from, recorded_at, event_id, abroad, comune, cap, species, toponym, \
                     civic, internal, locality, foreign_state, foreign_locality, foreign_address, foreign_postcode, consulate) \
                     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)",
                )
                .bind(id)
                .bind(since)
                .bind(now)
                .bind(event_id)
                .bind(rc.abroad)
                .bind(rc.comune)
                .bind(rc.cap)
                .bind(rc.species)
                .bind(rc.toponym)
                .bind(rc.civic)
                .bind(rc.internal)
                .bind(rc.locality)
                .bind(rc.foreign_state)
                .bind(rc.foreign_locality)
                .bind(rc.foreign_address)
                .bind(rc.foreign_postcode)
                .bind(rc.consulate);
            }

            /// Writes a civil status in force from `since`.
            async fn insert_civil_status(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: i64,
                status: anagrafe_domain::decode::StatoCivile,
                since: chrono::NaiveDate,
                event_id: i64,
                now: i64,
            ) -> crate::Result<()> {
                let mut b = crate::shared::Batch::new();
                Self::push_civil_status(&mut b, id, status, since, event_id, now);
                Self::run_batch(tx, b).await?;
                Ok(())
            }

            fn push_civil_status(
                b: &mut crate::shared::Batch<$db>,
                id: i64,
                status: anagrafe_domain::decode::StatoCivile,
                since: chrono::NaiveDate,
                event_id: i64,
                now: i64,
            ) {
                b.add(
                    "INSERT INTO person_civil_status (person_id, status, valid_from, recorded_at, event_id) VALUES ($1,$2,$3,$4,$5)",
                )
                .bind(id)
                .bind(crate::rows::code_of(status))
                .bind(since)
                .bind(now)
                .bind(event_id);
            }

            /// Writes a membership of a household from `since` (`relation`: tab. 05 or 06 code).
            #[allow(clippy::too_many_arguments)]
            async fn insert_membership(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: i64,
                family_id: i64,
                relation: i16,
                since: chrono::NaiveDate,
                event_id: i64,
                now: i64,
            ) -> crate::Result<()> {
                let mut b = crate::shared::Batch::new();
                Self::push_membership(&mut b, id, family_id, relation, since, event_id, now);
                Self::run_batch(tx, b).await?;
                Ok(())
            }

            fn push_membership(
                b: &mut crate::shared::Batch<$db>,
                id: i64,
                family_id: i64,
                relation: i16,
                since: chrono::NaiveDate,
                event_id: i64,
                now: i64,
            ) {
                b.add(
                    "INSERT INTO family_members (person_id, family_id, relation, valid_from, recorded_at, event_id) \
                     VALUES ($1,$2,$3,$4,$5,$6)",
                )
                .bind(id)
                .bind(family_id)
                .bind(relation)
                .bind(since)
                .bind(now)
                .bind(event_id);
            }

            /// Writes every state row of a new person (one batch: one round trip).
            async fn insert_person_rows(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: i64,
                p: &crate::NewPerson,
                event_id: i64,
                now: i64,
            ) -> crate::Result<()> {
                let mut b = crate::shared::Batch::new();
                Self::push_person_rows(&mut b, id, p, event_id, now);
                Self::run_batch(tx, b).await?;
                Ok(())
            }

            /// Adds every state row of a new person to a batch (the `persons` row first).
            fn push_person_rows(b: &mut crate::shared::Batch<$db>, id: i64, p: &crate::NewPerson, event_id: i64, now: i64) {
                use anagrafe_domain::Household;
                let r = &p.record;
                let g = &r.generalita;
                b.add(
                    "INSERT INTO persons (id, status, comune, email, digital_domicile, created_at, updated_at) \
                     VALUES ($1,$2,$3,$4,$5,$6,$6)",
                )
                .bind(id)
                .bind(r.status.code())
                .bind(r.residence.competent_comune().to_string())
                .bind(r.email.as_deref())
                .bind(r.digital_domicile.as_deref())
                .bind(now);
                if let Some(anpr) = r.id_anpr {
                    // An ID issued elsewhere (e.g. carried over at subentro): kept, not generated.
                    b.add(
                        "INSERT INTO id_anpr_registry (id_anpr, person_id, counter, key_version, status, issued_at, changed_at) \
                         VALUES ($1, $2, NULL, 0, 1, $3, $3)",
                    )
                    .bind(anpr.as_str())
                    .bind(id)
                    .bind(now);
                }
                Self::push_generalita(b, id, g.birth_date.first_day(), g, event_id, now);
                Self::push_residence(b, id, p.residence_since, &r.residence, event_id, now);
                for c in &r.citizenships {
                    b.add("INSERT INTO person_citizenships (person_id, country, valid_from, recorded_at, event_id) VALUES ($1,$2,$3,$4,$5)")
                        .bind(id)
                        .bind(c.storage_code())
                        .bind(g.birth_date.first_day())
                        .bind(now)
                        .bind(event_id);
                }
                Self::push_civil_status(b, id, r.civil_status, p.civil_status_since, event_id, now);
                if let Some(h) = r.household {
                    let (family_id, relation) = match h {
                        Household::Family { family_id, relation } => (family_id, crate::rows::code_of(relation)),
                        Household::Cohabitation { family_id, bond } => (family_id, crate::rows::code_of(bond)),
                    };
                    Self::push_membership(b, id, family_id, relation, p.household_since, event_id, now);
                }
                for d in &r.documents {
                    let (kind, permit) = crate::rows::document_kind_cols(&d.kind);
                    b.add(
                        "INSERT INTO person_documents (person_id, kind, permit_kind, number, issued_on, expires_on, issuer, recorded_at, event_id) \
                         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                    )
                    .bind(id)
                    .bind(kind)
                    .bind(permit)
                    .bind(d.number.as_str())
                    .bind(d.issued_on)
                    .bind(d.expires_on)
                    .bind(d.issuer.as_deref())
                    .bind(now)
                    .bind(event_id);
                }
                if let Some(d) = &r.death {
                    Self::push_death(b, id, d, event_id, now);
                }
            }

            /// Records a death.
            async fn insert_death(tx: &mut sqlx::Transaction<'_, $db>, id: i64, d: &anagrafe_domain::Death, event_id: i64, now: i64) -> crate::Result<()> {
                let mut b = crate::shared::Batch::new();
                Self::push_death(&mut b, id, d, event_id, now);
                Self::run_batch(tx, b).await?;
                Ok(())
            }

            fn push_death(b: &mut crate::shared::Batch<$db>, id: i64, d: &anagrafe_domain::Death, event_id: i64, now: i64) {
                b.add(
                    "INSERT INTO person_deaths (person_id, death_date, death_date_precision, place, locality, recorded_at, event_id) \
                     VALUES ($1,$2,$3,$4,$5,$6,$7)",
                )
                .bind(id)
                .bind(d.date.first_day())
                .bind(d.date.precision().code())
                .bind(d.place.map(|p| p.to_string()))
                .bind(d.locality.as_deref())
                .bind(now)
                .bind(event_id);
            }

            /// Waits for a batch encoded on a blocking thread, if any, and writes it.
            async fn write_encoded(
                tx: &mut sqlx::Transaction<'_, $db>,
                encoded: Option<tokio::task::JoinHandle<crate::Result<<Self as crate::shared::Bulk>::Prepared>>>,
            ) -> crate::Result<()> {
                if let Some(handle) = encoded {
                    let prepared = handle.await.map_err(|e| crate::StoreError::Invalid(format!("encoder failed: {e}")))??;
                    Self::write_prepared(tx, prepared).await?;
                }
                Ok(())
            }

            /// Runs statements read from the catalogue (index and key rebuilds), in order.
            async fn run_statements(tx: &mut sqlx::Transaction<'_, $db>, statements: Vec<String>) -> crate::Result<()> {
                for stmt in statements {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(stmt)).execute(&mut **tx).await?;
                }
                Ok(())
            }

            async fn bulk_load_impl(
                &self,
                mut batches: tokio::sync::mpsc::Receiver<crate::BulkMessage>,
                ctx: &crate::WriteContext,
            ) -> crate::Result<crate::BulkReport> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let today = anagrafe_domain::ops::italian_today();
                let event_id = Self::insert_event(&mut tx, ctx, "caricamento", None, None, None, today, "{}").await?;
                let now = crate::now_ms();
                // Into an empty register, secondary indexes and foreign keys are dropped and
                // rebuilt once at the end, inside the same transaction: a bulk build is several
                // times cheaper than per-row maintenance, and a failure rolls the DDL back too.
                let empty = sqlx::query("SELECT id FROM persons LIMIT 1").fetch_optional(&mut *tx).await?.is_none();
                let rebuild = if empty { Self::drop_secondary(&mut tx, &crate::bulk::bulk_tables_sql(), false).await? } else { Vec::new() };
                let (mut persons, mut families) = (0u64, 0u64);
                // Encoding batch k+1 (on a blocking thread) overlaps with writing batch k.
                let mut pending: Option<tokio::task::JoinHandle<crate::Result<<Self as crate::shared::Bulk>::Prepared>>> = None;
                loop {
                    let batch = match batches.recv().await {
                        Some(crate::BulkMessage::Batch(b)) => b,
                        Some(crate::BulkMessage::End) => break,
                        None => {
                            return Err(crate::StoreError::Invalid(
                                "the population's producer stopped before its end; nothing was written".into(),
                            ));
                        }
                    };
                    let first_person = Self::alloc(&mut tx, "person", batch.persons.len() as i64).await?;
                    let first_family = Self::alloc(&mut tx, "family", batch.families.len() as i64).await?;
                    persons += batch.persons.len() as u64;
                    families += batch.families.len() as u64;
                    let next = tokio::task::spawn_blocking(move || {
                        crate::bulk::batch_rows(&batch, first_person, first_family, event_id, now).map(Self::prepare)
                    });
                    Self::write_encoded(&mut tx, pending.replace(next)).await?;
                }
                Self::write_encoded(&mut tx, pending.take()).await?;
                let rebuild_started = std::time::Instant::now();
                let rebuilt = rebuild.len();
                Self::run_statements(&mut tx, rebuild).await?;
                if rebuilt > 0 {
                    tracing::info!(statements = rebuilt, seconds = rebuild_started.elapsed().as_secs_f64(), "bulk load: indexes and keys rebuilt");
                }
                let detail = serde_json::json!({ "persons": persons, "families": families, "event_id": event_id }).to_string();
                sqlx::query("UPDATE events SET payload = $1 WHERE id = $2").bind(&detail).bind(event_id).execute(&mut *tx).await?;
                let mut entry = crate::audit::AuditEntry::from_ctx(ctx, "population.load", "ok");
                entry.detail = detail;
                let audit_seq = Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(crate::BulkReport { persons, families, event_id, audit_seq })
            }

            async fn audit_page(
                conn: &mut <$db as sqlx::Database>::Connection,
                after: i64,
                limit: u32,
            ) -> crate::Result<Vec<crate::audit::StoredAudit>> {
                let rows = sqlx::query(
                    "SELECT seq, at_ms, request_id, actor, actor_cf, eidas_id, auth_mode, operation, outcome, subject_person, subject_cf, \
                     detail, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
                Self::audit_rows(&rows)
            }

            async fn audit_about_page(
                conn: &mut <$db as sqlx::Database>::Connection,
                person: i64,
                before: i64,
                limit: u32,
            ) -> crate::Result<Vec<crate::audit::StoredAudit>> {
                let rows = sqlx::query(
                    "SELECT seq, at_ms, request_id, actor, actor_cf, eidas_id, auth_mode, operation, outcome, subject_person, subject_cf, \
                     detail, prev_hash, hash FROM audit_log WHERE subject_person = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
                )
                .bind(person)
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
                Self::audit_rows(&rows)
            }

            fn audit_rows(rows: &[<$db as sqlx::Database>::Row]) -> crate::Result<Vec<crate::audit::StoredAudit>> {
                rows.iter()
                    .map(|r| {
                        use sqlx::Row;
                        Ok(crate::audit::StoredAudit {
                            seq: r.try_get("seq")?,
                            at_ms: r.try_get("at_ms")?,
                            entry: crate::audit::AuditEntry {
                                request_id: r.try_get("request_id")?,
                                actor: r.try_get("actor")?,
                                actor_cf: r.try_get("actor_cf")?,
                                eidas_id: r.try_get("eidas_id")?,
                                auth_mode: r.try_get("auth_mode")?,
                                operation: r.try_get("operation")?,
                                outcome: r.try_get("outcome")?,
                                subject_person: r.try_get("subject_person")?,
                                subject_cf: r.try_get("subject_cf")?,
                                detail: r.try_get("detail")?,
                            },
                            prev_hash: r.try_get("prev_hash")?,
                            hash: r.try_get("hash")?,
                        })
                    })
                    .collect()
            }

            async fn read_person(&self, id: i64, as_of: chrono::NaiveDate) -> crate::Result<crate::PersonView> {
                let mut conn = self.pool.acquire().await?;
                Self::read_person_on(&mut conn, id, as_of).await
            }

            /// The versions of a person's personal data in force (not superseded), oldest first,
            /// as `(valid_from, valid_to, data)`; with `on`, only the version in force that day.
            async fn generalita_versions(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: i64,
                on: Option<chrono::NaiveDate>,
            ) -> crate::Result<Vec<(chrono::NaiveDate, Option<chrono::NaiveDate>, anagrafe_domain::Generalita)>> {
                sqlx::query_as::<_, crate::rows::GeneralitaRow>(
                    "SELECT surname, given_name, sex, birth_date, birth_date_precision, birth_place, birth_locality, codice_fiscale, \
                     cf_validation, valid_from, valid_to FROM person_generalita WHERE person_id = $1 AND superseded_at IS NULL \
                     AND ($2 IS NULL OR (valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2))) ORDER BY valid_from",
                )
                .bind(id)
                .bind(on)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(crate::rows::GeneralitaRow::into_version)
                .collect()
            }

            /// The person's identity documents, ended ones too, oldest first: what the document rules
            /// read and the history shows.
            async fn held_documents(conn: &mut <$db as sqlx::Database>::Connection, pid: i64) -> crate::Result<Vec<anagrafe_domain::documents::HeldDocument>> {
                let rows = sqlx::query_as::<_, (String, Option<i16>, String, chrono::NaiveDate, Option<chrono::NaiveDate>, Option<String>, Option<chrono::NaiveDate>, Option<String>)>(
                    "SELECT kind, permit_kind, number, issued_on, expires_on, issuer, ended_on, end_reason FROM person_documents \
                     WHERE person_id = $1 AND superseded_at IS NULL ORDER BY issued_on, number",
                )
                .bind(pid)
                .fetch_all(&mut *conn)
                .await?;
                rows.into_iter()
                    .map(|(kind, permit_kind, number, issued_on, expires_on, issuer, ended_on, end_reason)| {
                        let document = crate::rows::DocumentRow { kind, permit_kind, number, issued_on, expires_on, issuer }.into_document()?;
                        let ended = match (ended_on, end_reason) {
                            (Some(on), Some(r)) => Some(anagrafe_domain::documents::DocumentEnded {
                                on,
                                reason: anagrafe_domain::documents::DocumentEndReason::parse(&r)
                                    .ok_or_else(|| crate::rows::corrupt(format!("document end {r:?}")))?,
                            }),
                            _ => None,
                        };
                        Ok(anagrafe_domain::documents::HeldDocument { document, ended })
                    })
                    .collect()
            }

            /// The person's record as of a date, read on a given connection (a write
            /// transaction reads the state it is about to change this way).
            async fn read_person_on(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: i64,
                as_of: chrono::NaiveDate,
            ) -> crate::Result<crate::PersonView> {
                use anagrafe_domain::*;
                use crate::rows::*;
                let p = sqlx::query_as::<_, PersonRow>(
                    "SELECT (SELECT r.id_anpr FROM id_anpr_registry r WHERE r.person_id = p.id AND r.status IN (1, 2) \
                     ORDER BY r.issued_at DESC LIMIT 1) AS id_anpr, p.status, p.email, p.digital_domicile FROM persons p WHERE p.id = $1",
                )
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .ok_or_else(|| crate::StoreError::NotFound(format!("person {id}")))?;
                let current_status = register_status(p.status)?;
                let generalita = Self::generalita_versions(&mut *conn, id, Some(as_of))
                    .await?
                    .pop()
                    .map(|(_, _, g)| g)
                    .ok_or_else(|| crate::StoreError::NotFound(format!("person {id} on {as_of}")))?;
                let current_res = sqlx::query_as::<_, ResidenceCols>(sqlx::AssertSqlSafe(format!(
                    "SELECT {RES_COLS} FROM person_residences WHERE person_id = $1 AND superseded_at IS NULL AND valid_from <= $2 \
                     AND (valid_to IS NULL OR valid_to > $2) ORDER BY valid_from DESC LIMIT 1"
                )))
                .bind(id)
                .bind(as_of)
                .fetch_optional(&mut *conn)
                .await?;
                let death = sqlx::query_as::<_, DeathRow>("SELECT death_date, death_date_precision, place, locality FROM person_deaths WHERE person_id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(DeathRow::into_death)
                    .transpose()?
                    .filter(|d| d.date.first_day() <= as_of);
                let (status, residence) = match current_res {
                    Some(cols) => {
                        let status = if death.is_some() {
                            RegisterStatus::Deceased
                        } else if cols.abroad {
                            RegisterStatus::Aire
                        } else {
                            RegisterStatus::Resident
                        };
                        (status, cols.into_residence()?)
                    }
                    None => {
                        // No residence in force: the record is closed on that date (death or
                        // cancellation), or the person was not yet registered.
                        let last = sqlx::query_as::<_, ResidenceCols>(sqlx::AssertSqlSafe(format!(
                            "SELECT {RES_COLS} FROM person_residences WHERE person_id = $1 AND superseded_at IS NULL AND valid_to <= $2 \
                             ORDER BY valid_to DESC, valid_from DESC, recorded_at DESC LIMIT 1"
                        )))
                        .bind(id)
                        .bind(as_of)
                        .fetch_optional(&mut *conn)
                        .await?
                        .ok_or_else(|| crate::StoreError::NotFound(format!("person {id} was not in the register on {as_of}")))?;
                        let status = if death.is_some() { RegisterStatus::Deceased } else { RegisterStatus::Cancelled };
                        let _ = current_status;
                        (status, last.into_residence()?)
                    }
                };
                let citizenships = sqlx::query_scalar::<_, String>(
                    "SELECT country FROM person_citizenships WHERE person_id = $1 AND superseded_at IS NULL AND valid_from <= $2 \
                     AND (valid_to IS NULL OR valid_to > $2) ORDER BY country",
                )
                .bind(id)
                .bind(as_of)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|c| country(c))
                .collect::<crate::Result<Vec<_>>>()?;
                let civil_status = sqlx::query_scalar::<_, i16>(
                    "SELECT status FROM person_civil_status WHERE person_id = $1 AND superseded_at IS NULL AND valid_from <= $2 \
                     AND (valid_to IS NULL OR valid_to > $2) ORDER BY valid_from DESC LIMIT 1",
                )
                .bind(id)
                .bind(as_of)
                .fetch_optional(&mut *conn)
                .await?
                .map(decode)
                .transpose()?
                .unwrap_or(anagrafe_domain::decode::StatoCivile::CelibeNubile);
                let household = sqlx::query_as::<_, MembershipRow>(
                    "SELECT m.family_id, m.relation, f.kind FROM family_members m JOIN families f ON f.id = m.family_id \
                     WHERE m.person_id = $1 AND m.superseded_at IS NULL AND m.valid_from <= $2 AND (m.valid_to IS NULL OR m.valid_to > $2) \
                     ORDER BY m.valid_from DESC LIMIT 1",
                )
                .bind(id)
                .bind(as_of)
                .fetch_optional(&mut *conn)
                .await?
                .map(MembershipRow::into_household)
                .transpose()?;
                let documents = sqlx::query_as::<_, DocumentRow>(
                    "SELECT kind, permit_kind, number, issued_on, expires_on, issuer FROM person_documents \
                     WHERE person_id = $1 AND superseded_at IS NULL AND issued_on <= $2 AND (ended_on IS NULL OR ended_on > $2) \
                     ORDER BY issued_on",
                )
                .bind(id)
                .bind(as_of)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(DocumentRow::into_document)
                .collect::<crate::Result<Vec<_>>>()?;
                let record = PersonRecord {
                    id_anpr: p.id_anpr.map(|s| IdAnpr::parse(&s).map_err(corrupt)).transpose()?,
                    status,
                    generalita,
                    citizenships,
                    civil_status,
                    residence,
                    household,
                    documents,
                    email: crate::rows::opt_line(p.email)?,
                    digital_domicile: crate::rows::opt_line(p.digital_domicile)?,
                    death,
                };
                Ok(crate::PersonView { id, as_of, record })
            }
        }

        #[async_trait::async_trait]
        impl crate::Store for $store {
            fn backend(&self) -> crate::Backend {
                $backend
            }

            async fn migrate(&self) -> crate::Result<()> {
                self.migrate_impl().await
            }

            async fn ping(&self) -> crate::Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl crate::RegistryStore for $store {
            async fn register_person(&self, person: &crate::NewPerson, ctx: &crate::WriteContext) -> crate::Result<i64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let id = Self::alloc(&mut tx, "person", 1).await?;
                let payload = serde_json::json!({ "reason": person.reason, "residence_since": person.residence_since }).to_string();
                let event_id = Self::insert_event(&mut tx, ctx, "iscrizione", Some(&person.reason), Some(id), None, person.residence_since, &payload).await?;
                Self::insert_person_rows(&mut tx, id, person, event_id, crate::now_ms()).await?;
                let mut entry = crate::audit::AuditEntry::from_ctx(ctx, "person.register", "ok");
                entry.subject_person = Some(id);
                entry.subject_cf = person.record.generalita.codice_fiscale.map(|c| c.to_string());
                entry.detail = serde_json::json!({ "event_id": event_id }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn create_family(&self, family: &crate::NewFamily, ctx: &crate::WriteContext) -> crate::Result<i64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let payload = serde_json::json!({ "comune": family.comune, "formed_on": family.formed_on }).to_string();
                let event_id = Self::insert_event(&mut tx, ctx, "famiglia", None, None, None, family.formed_on, &payload).await?;
                let id = Self::insert_family(&mut tx, family, event_id).await?;
                sqlx::query("UPDATE events SET family_id = $1 WHERE id = $2").bind(id).bind(event_id).execute(&mut *tx).await?;
                let mut entry = crate::audit::AuditEntry::from_ctx(ctx, "family.create", "ok");
                entry.detail = serde_json::json!({ "event_id": event_id, "family_id": id }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn apply(
                &self,
                op: &anagrafe_domain::ops::Operation,
                ctx: &crate::WriteContext,
                issuer: &crate::IdIssuer,
                idem: Option<&crate::Idempotency>,
            ) -> crate::Result<crate::Applied> {
                self.apply_impl(op, ctx, issuer, idem).await
            }

            async fn client_operation(&self, actor: &str, client_op_id: &str) -> crate::Result<Option<crate::StoredOperation>> {
                let row = sqlx::query("SELECT body_sha256, operation, response FROM client_operations WHERE actor = $1 AND client_op_id = $2")
                    .bind(actor)
                    .bind(client_op_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    use sqlx::Row;
                    Ok(crate::StoredOperation {
                        body_sha256: r.try_get("body_sha256")?,
                        operation: r.try_get("operation")?,
                        response: r.try_get("response")?,
                    })
                })
                .transpose()
            }

            async fn bulk_load(
                &self,
                batches: tokio::sync::mpsc::Receiver<crate::BulkMessage>,
                ctx: &crate::WriteContext,
            ) -> crate::Result<crate::BulkReport> {
                self.bulk_load_impl(batches, ctx).await
            }

            async fn person(&self, id: i64, as_of: Option<chrono::NaiveDate>) -> crate::Result<crate::PersonView> {
                self.read_person(id, as_of.unwrap_or_else(|| anagrafe_domain::ops::italian_today())).await
            }

            async fn family(&self, id: i64, as_of: Option<chrono::NaiveDate>) -> crate::Result<crate::FamilyView> {
                let as_of = as_of.unwrap_or_else(|| anagrafe_domain::ops::italian_today());
                let f = sqlx::query_as::<_, crate::rows::FamilyRow>("SELECT kind, specie, comune, formed_on FROM families WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| crate::StoreError::NotFound(format!("family {id}")))?;
                let members = sqlx::query_as::<_, crate::rows::MemberRow>(
                    "SELECT m.person_id, m.relation, (SELECT r.id_anpr FROM id_anpr_registry r WHERE r.person_id = m.person_id \
                     AND r.status IN (1, 2) ORDER BY r.issued_at DESC LIMIT 1) AS id_anpr FROM family_members m WHERE m.family_id = $1 \
                     AND m.superseded_at IS NULL AND m.valid_from <= $2 AND (m.valid_to IS NULL OR m.valid_to > $2) \
                     ORDER BY CASE WHEN m.relation = 1 THEN 0 ELSE 1 END, m.person_id",
                )
                .bind(id)
                .bind(as_of)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(crate::rows::MemberRow::into_member)
                .collect::<crate::Result<Vec<_>>>()?;
                Ok(crate::FamilyView {
                    id,
                    kind: crate::rows::household_kind(&f.kind, f.specie)?,
                    comune: crate::rows::belfiore(&f.comune)?,
                    formed_on: f.formed_on,
                    members,
                })
            }

            async fn history(&self, person_id: i64) -> crate::Result<crate::PersonHistory> {
                use sqlx::Row;
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query_as::<_, crate::rows::DatedResidenceRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT valid_from, valid_to, {} FROM person_residences WHERE person_id = $1 AND superseded_at IS NULL \
                     ORDER BY valid_from, recorded_at",
                    crate::rows::RES_COLS
                )))
                .bind(person_id)
                .fetch_all(&mut *conn)
                .await?;
                let residences = rows
                    .into_iter()
                    .map(|r| Ok(crate::Dated { from: r.valid_from, to: r.valid_to, value: r.residence.into_residence()? }))
                    .collect::<crate::Result<Vec<_>>>()?;
                let rows = sqlx::query_as::<_, crate::rows::CitizenshipRow>(
                    "SELECT country, valid_from, valid_to FROM person_citizenships WHERE person_id = $1 AND superseded_at IS NULL \
                     ORDER BY valid_from, country",
                )
                .bind(person_id)
                .fetch_all(&mut *conn)
                .await?;
                let citizenships = rows
                    .into_iter()
                    .map(|r| {
                        Ok(crate::Dated {
                            from: r.valid_from,
                            to: r.valid_to,
                            value: anagrafe_domain::Country::from_storage_code(&r.country).ok_or_else(|| crate::rows::corrupt("country"))?,
                        })
                    })
                    .collect::<crate::Result<Vec<_>>>()?;
                if residences.is_empty() {
                    return Err(crate::StoreError::NotFound(format!("person {person_id}")));
                }
                let rows = sqlx::query(
                    "SELECT id, kind, code, comune, effective_date, recorded_at, payload FROM events WHERE person_id = $1 ORDER BY id",
                )
                .bind(person_id)
                .fetch_all(&mut *conn)
                .await?;
                let events = rows
                    .iter()
                    .map(|r| {
                        // A registration's payload names the birth act and the parents, when given.
                        let kind: String = r.try_get("kind")?;
                        let payload: serde_json::Value = if kind.starts_with("iscrizione") {
                            serde_json::from_str(&r.try_get::<String, _>("payload")?).map_err(|_| crate::rows::corrupt("event payload"))?
                        } else {
                            serde_json::Value::Null
                        };
                        let birth_act = match payload.get("birth_act") {
                            Some(v) => Some(serde_json::from_value(v.clone()).map_err(|_| crate::rows::corrupt("birth act"))?),
                            None => None,
                        };
                        let parents = match payload.get("parents") {
                            Some(v) => serde_json::from_value(v.clone()).map_err(|_| crate::rows::corrupt("parents"))?,
                            None => Vec::new(),
                        };
                        Ok(crate::RecordEvent {
                            birth_act,
                            parents,
                            id: r.try_get("id")?,
                            kind,
                            code: r.try_get("code")?,
                            comune: r.try_get("comune")?,
                            effective_date: r.try_get("effective_date")?,
                            recorded_at: r.try_get("recorded_at")?,
                        })
                    })
                    .collect::<crate::Result<Vec<_>>>()?;
                let documents = Self::held_documents(&mut *conn, person_id).await?;
                Ok(crate::PersonHistory { residences, citizenships, documents, events })
            }

            async fn open_duplicates(&self, comune: anagrafe_domain::Belfiore) -> crate::Result<Vec<crate::DuplicateCase>> {
                self.open_duplicates_impl(comune).await
            }
        }

        #[async_trait::async_trait]
        impl crate::IdStore for $store {
            async fn assign_ids(
                &self,
                issuer: &crate::IdIssuer,
                after: i64,
                limit: u32,
                ctx: &crate::WriteContext,
            ) -> crate::Result<(u64, Option<i64>)> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let pids: Vec<i64> = sqlx::query_scalar(
                    "SELECT p.id FROM persons p WHERE p.id > $1 \
                     AND NOT EXISTS (SELECT 1 FROM id_anpr_registry r WHERE r.person_id = p.id) ORDER BY p.id LIMIT $2",
                )
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                let Some(&last_seen) = pids.last() else {
                    tx.rollback().await?;
                    return Ok((0, None));
                };
                let now = crate::now_ms();
                let mut assigned: Vec<(i64, String)> = Vec::with_capacity(pids.len());
                let mut skipped = 0u64;
                // Under one key the permutation never repeats an ID. Only when the registry
                // holds IDs of another origin (an earlier key, or IDs issued elsewhere) can a
                // candidate collide: then each is offered with ON CONFLICT and a refused one is
                // skipped with its counter. Otherwise the batch is written in bulk.
                let kv = |sql: &'static str| sqlx::query_scalar::<_, i16>(sql);
                let lowest: Option<i16> = kv("SELECT key_version FROM id_anpr_registry ORDER BY key_version LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
                let highest: Option<i16> = kv("SELECT key_version FROM id_anpr_registry ORDER BY key_version DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
                let only_this_key = lowest.is_none_or(|l| l == issuer.key_version) && highest.is_none_or(|h| h == issuer.key_version);
                let mut pending = pids;
                while !pending.is_empty() {
                    let first = Self::alloc(&mut tx, "id_anpr", pending.len() as i64).await?;
                    let mut candidates = Vec::with_capacity(pending.len());
                    for (k, pid) in pending.iter().enumerate() {
                        let counter = first + k as i64;
                        let id = issuer
                            .generator
                            .id(counter as u64)
                            .ok_or_else(|| crate::StoreError::Invalid("the ID ANPR space is exhausted under this key".into()))?;
                        candidates.push((*pid, counter, id.to_string()));
                    }
                    if only_this_key {
                        let rows = crate::bulk::registry_rows(&candidates, issuer.key_version, now);
                        Self::write_prepared(&mut tx, Self::prepare(vec![rows])).await?;
                        assigned.extend(candidates.into_iter().map(|(pid, _, id)| (pid, id)));
                        break;
                    }
                    let inserted = Self::insert_registry(&mut tx, &candidates, issuer.key_version, now).await?;
                    let mut retry = Vec::new();
                    for (pid, _, id) in candidates {
                        if inserted.contains(&id) {
                            assigned.push((pid, id));
                        } else {
                            skipped += 1;
                            retry.push(pid);
                        }
                    }
                    pending = retry;
                }
                let today = anagrafe_domain::ops::italian_today();
                let payload = serde_json::json!({
                    "assigned": assigned.len(), "key_version": issuer.key_version, "skipped_counters": skipped,
                    "first_person": assigned.first().map(|a| a.0), "last_person": assigned.last().map(|a| a.0),
                })
                .to_string();
                let event_id = Self::insert_event(&mut tx, ctx, "assegnazione_id", None, None, None, today, &payload).await?;
                let mut entry = crate::audit::AuditEntry::from_ctx(ctx, "id.assign", "ok");
                entry.detail = serde_json::json!({ "event_id": event_id, "assigned": assigned.len() }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok((assigned.len() as u64, Some(last_seen)))
            }

            async fn assign_ids_initial(&self, issuer: &crate::IdIssuer, ctx: &crate::WriteContext) -> crate::Result<Option<u64>> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                if sqlx::query("SELECT 1 FROM id_anpr_registry LIMIT 1").fetch_optional(&mut *tx).await?.is_some() {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let total: i64 = sqlx::query_scalar("SELECT COUNT(*) AS n FROM persons").fetch_one(&mut *tx).await?;
                if total == 0 {
                    tx.rollback().await?;
                    return Ok(Some(0));
                }
                // The head lock holds every other write back, so no person can appear meanwhile.
                let rebuild = Self::drop_secondary(&mut tx, "'id_anpr_registry'", true).await?;
                let first = Self::alloc(&mut tx, "id_anpr", total).await?;
                let now = crate::now_ms();
                let (mut after, mut done) = (0i64, 0i64);
                let mut pending: Option<tokio::task::JoinHandle<crate::Result<<Self as crate::shared::Bulk>::Prepared>>> = None;
                loop {
                    let pids: Vec<i64> = sqlx::query_scalar("SELECT id FROM persons WHERE id > $1 ORDER BY id LIMIT 100000")
                        .bind(after)
                        .fetch_all(&mut *tx)
                        .await?;
                    let Some(&last) = pids.last() else { break };
                    if done + pids.len() as i64 > total {
                        return Err(crate::StoreError::Invalid("persons appeared during the initial ID assignment".into()));
                    }
                    let (generator, kv, base, n) = (issuer.generator.clone(), issuer.key_version, first + done, pids.len() as i64);
                    let next = tokio::task::spawn_blocking(move || {
                        let mut candidates = Vec::with_capacity(pids.len());
                        for (k, pid) in pids.iter().enumerate() {
                            let counter = base + k as i64;
                            let id = generator
                                .id(counter as u64)
                                .ok_or_else(|| crate::StoreError::Invalid("the ID ANPR space is exhausted under this key".into()))?;
                            candidates.push((*pid, counter, id.to_string()));
                        }
                        Ok(Self::prepare(vec![crate::bulk::registry_rows(&candidates, kv, now)]))
                    });
                    done += n;
                    after = last;
                    Self::write_encoded(&mut tx, pending.replace(next)).await?;
                }
                Self::write_encoded(&mut tx, pending.take()).await?;
                Self::run_statements(&mut tx, rebuild).await?;
                let today = anagrafe_domain::ops::italian_today();
                let payload = serde_json::json!({ "assigned": total, "key_version": issuer.key_version, "initial": true }).to_string();
                let event_id = Self::insert_event(&mut tx, ctx, "assegnazione_id", None, None, None, today, &payload).await?;
                let mut entry = crate::audit::AuditEntry::from_ctx(ctx, "id.assign", "ok");
                entry.detail = serde_json::json!({ "event_id": event_id, "assigned": total, "initial": true }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(Some(total as u64))
            }

            async fn count_without_id(&self) -> crate::Result<u64> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) AS n FROM persons p WHERE NOT EXISTS (SELECT 1 FROM id_anpr_registry r WHERE r.person_id = p.id)")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n as u64)
            }

            async fn find_by_id_anpr(&self, id: &anagrafe_domain::IdAnpr) -> crate::Result<Option<(i64, anagrafe_domain::IdStatus)>> {
                let row = sqlx::query_as::<_, crate::rows::IdHolderRow>("SELECT person_id, status FROM id_anpr_registry WHERE id_anpr = $1")
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| Ok((r.person_id, crate::rows::id_status(r.status)?))).transpose()
            }

            async fn id_anpr_of(&self, person_id: i64) -> crate::Result<Option<(String, anagrafe_domain::IdStatus)>> {
                let row = sqlx::query_as::<_, crate::rows::IdAnprRow>(
                    "SELECT id_anpr, status FROM id_anpr_registry WHERE person_id = $1 AND status IN (1, 2) ORDER BY issued_at DESC LIMIT 1",
                )
                .bind(person_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| Ok((r.id_anpr, crate::rows::id_status(r.status)?))).transpose()
            }
        }

        #[async_trait::async_trait]
        impl crate::LookupStore for $store {
            async fn find_by_cf(&self, cf: &anagrafe_domain::CodiceFiscale, as_of: Option<chrono::NaiveDate>) -> crate::Result<Vec<i64>> {
                let as_of = as_of.unwrap_or_else(|| anagrafe_domain::ops::italian_today());
                Ok(sqlx::query_scalar::<_, i64>(
                    "SELECT DISTINCT person_id FROM person_generalita WHERE codice_fiscale = $1 AND superseded_at IS NULL \
                     AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2) ORDER BY person_id",
                )
                .bind(cf.as_str())
                .bind(as_of)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn ids_by_cf(&self, cf: &anagrafe_domain::CodiceFiscale, as_of: Option<chrono::NaiveDate>) -> crate::Result<Vec<(i64, String)>> {
                let as_of = as_of.unwrap_or_else(|| anagrafe_domain::ops::italian_today());
                let rows = sqlx::query_as::<_, crate::rows::PersonIdAnprRow>(
                    "SELECT DISTINCT g.person_id, r.id_anpr FROM person_generalita g JOIN id_anpr_registry r ON r.person_id = g.person_id \
                     AND r.status IN (1, 2) WHERE g.codice_fiscale = $1 AND g.superseded_at IS NULL \
                     AND g.valid_from <= $2 AND (g.valid_to IS NULL OR g.valid_to > $2) ORDER BY g.person_id",
                )
                .bind(cf.as_str())
                .bind(as_of)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|r| (r.person_id, r.id_anpr)).collect())
            }

            async fn find_by_generalita(&self, q: &crate::GeneralitaQuery, as_of: Option<chrono::NaiveDate>) -> crate::Result<Vec<i64>> {
                self.find_by_generalita_impl(q, as_of).await
            }

            async fn count_persons(&self) -> crate::Result<u64> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) AS n FROM persons").fetch_one(&self.pool).await?;
                Ok(n as u64)
            }

            async fn sample_residents(&self, limit: u32) -> crate::Result<Vec<(i64, String)>> {
                let rows = sqlx::query_as::<_, crate::rows::ResidentCfRow>(
                    "SELECT p.id, g.codice_fiscale FROM persons p JOIN person_generalita g ON g.person_id = p.id \
                     WHERE p.status = 1 AND g.valid_to IS NULL AND g.superseded_at IS NULL AND g.codice_fiscale IS NOT NULL \
                     ORDER BY p.id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|r| (r.id, r.codice_fiscale)).collect())
            }

            async fn spread_codici_fiscali(&self, n: u32, seed: u64) -> crate::Result<Vec<String>> {
                let max: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) AS max_id FROM persons").fetch_one(&self.pool).await?;
                if max == 0 {
                    return Ok(Vec::new());
                }
                // A splitmix64 sequence: reproducible for a seed, spread over 1..=max.
                let mut x = seed;
                let mut ids: Vec<i64> = (0..n)
                    .map(|_| {
                        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
                        let mut z = x;
                        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                        z ^= z >> 31;
                        1 + (z % max as u64) as i64
                    })
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(500) {
                    let list = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",");
                    let sql = format!(
                        "SELECT codice_fiscale FROM person_generalita WHERE person_id IN ({list}) AND valid_to IS NULL \
                         AND superseded_at IS NULL AND codice_fiscale IS NOT NULL"
                    );
                    let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    out.extend(q.fetch_all(&self.pool).await?);
                }
                Ok(out)
            }
        }

        #[async_trait::async_trait]
        impl crate::ClientStore for $store {
            async fn api_client_ids(&self) -> crate::Result<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT client_id FROM api_clients ORDER BY client_id").fetch_all(&self.pool).await?)
            }

            async fn api_client(&self, client_id: &str) -> crate::Result<Option<crate::ApiClient>> {
                let row = sqlx::query("SELECT client_id, role, comune, public_key_pem, push_url, revoked_at FROM api_clients WHERE client_id = $1")
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    use sqlx::Row;
                    Ok(crate::ApiClient {
                        client_id: r.try_get("client_id")?,
                        role: crate::rows::role(&r.try_get::<String, _>("role")?)?,
                        comune: crate::rows::opt_belfiore(r.try_get("comune")?)?,
                        public_key_pem: r.try_get("public_key_pem")?,
                        push_url: r.try_get("push_url")?,
                        revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                    })
                })
                .transpose()
            }

            async fn save_api_client(&self, c: &crate::ApiClient, ctx: &crate::WriteContext) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let now = head.now;
                // A client saved again keeps its push URL unless a new one is given.
                sqlx::query(
                    "INSERT INTO api_clients (client_id, role, comune, public_key_pem, push_url, created_at, revoked_at) VALUES ($1,$2,$3,$4,$5,$6,$7) \
                     ON CONFLICT (client_id) DO UPDATE SET role = excluded.role, comune = excluded.comune, public_key_pem = excluded.public_key_pem, \
                     push_url = COALESCE(excluded.push_url, api_clients.push_url), revoked_at = excluded.revoked_at",
                )
                .bind(&c.client_id)
                .bind(c.role.as_str())
                .bind(c.comune.map(|b| b.to_string()))
                .bind(&c.public_key_pem)
                .bind(&c.push_url)
                .bind(now)
                .bind(c.revoked.then_some(now))
                .execute(&mut *tx)
                .await?;
                let mut entry = crate::audit::AuditEntry::from_ctx(ctx, "api_client.save", "ok");
                entry.detail = serde_json::json!({ "client_id": c.client_id, "role": c.role, "comune": c.comune, "revoked": c.revoked }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn accept_jti(&self, client: &crate::ApiClient, jti: &str, expires_at_ms: i64) -> crate::Result<crate::JtiOutcome> {
                // One statement, no transaction of its own: this runs on every request. It
                // records the id only while the client is registered exactly as the caller
                // saw it (not revoked, same role, comune and key), so a caller holding the
                // client in memory learns of a revocation or a new key here. Expired ids are
                // purged now and then rather than each time.
                let _turn = self.write_turn().await;
                if rand::random::<u8>() == 0 {
                    sqlx::query("DELETE FROM seen_jti WHERE expires_at < $1").bind(crate::now_ms()).execute(&self.pool).await?;
                }
                let done = sqlx::query(
                    "INSERT INTO seen_jti (client_id, jti, expires_at) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM api_clients \
                     WHERE client_id = $1 AND revoked_at IS NULL AND role = $4 AND public_key_pem = $5 AND UPPER(TRIM(COALESCE(comune, ''))) = $6) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&client.client_id)
                .bind(jti)
                .bind(expires_at_ms)
                .bind(client.role.as_str())
                .bind(&client.public_key_pem)
                .bind(client.comune.map(|c| c.as_str().to_owned()).unwrap_or_default())
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 1 {
                    return Ok(crate::JtiOutcome::Fresh);
                }
                let seen = sqlx::query("SELECT 1 FROM seen_jti WHERE client_id = $1 AND jti = $2")
                    .bind(&client.client_id)
                    .bind(jti)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(if seen.is_some() { crate::JtiOutcome::Replayed } else { crate::JtiOutcome::ClientChanged })
            }

            async fn notifications(&self, comune: anagrafe_domain::Belfiore, after: i64, limit: u32) -> crate::Result<Vec<crate::Notification>> {
                self.notification_page("id > $2 ORDER BY id", comune, after, limit).await
            }

            async fn latest_notifications(&self, comune: anagrafe_domain::Belfiore, before: i64, limit: u32) -> crate::Result<Vec<crate::Notification>> {
                self.notification_page("id < $2 ORDER BY id DESC", comune, before, limit).await
            }

            async fn mark_notification_handled(
                &self,
                comune: anagrafe_domain::Belfiore,
                id: i64,
                by: &str,
                entry: &crate::audit::AuditEntry,
            ) -> crate::Result<crate::HandledNotification> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM notifications WHERE id = $1 AND comune = $2")
                    .bind(id)
                    .bind(comune.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_none() {
                    return Err(crate::StoreError::NotFound("notification".into()));
                }
                let done = sqlx::query(
                    "INSERT INTO notification_handling (notification_id, comune, handled_by, handled_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (notification_id) DO NOTHING",
                )
                .bind(id)
                .bind(comune.as_str())
                .bind(by)
                .bind(head.now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let (handled_by, at_ms): (String, i64) =
                    sqlx::query_as("SELECT handled_by, handled_at FROM notification_handling WHERE notification_id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                if done == 1 {
                    let mut entry = entry.clone();
                    entry.detail = serde_json::json!({ "notification": id, "comune": comune.as_str() }).to_string();
                    Self::append_audit(&mut tx, &mut head, &entry).await?;
                }
                tx.commit().await?;
                Ok(crate::HandledNotification { id, by: handled_by, at_ms })
            }

            async fn notifications_handled(&self, comune: anagrafe_domain::Belfiore, from: i64, to: i64) -> crate::Result<Vec<crate::HandledNotification>> {
                let rows: Vec<(i64, String, i64)> = sqlx::query_as(
                    "SELECT notification_id, handled_by, handled_at FROM notification_handling \
                     WHERE comune = $1 AND notification_id BETWEEN $2 AND $3 ORDER BY notification_id",
                )
                .bind(comune.as_str())
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(id, by, at_ms)| crate::HandledNotification { id, by, at_ms }).collect())
            }

            async fn id_counter(&self) -> crate::Result<(i64, Option<i64>)> {
                Ok(sqlx::query_as("SELECT next, ceiling FROM counters WHERE name = 'id_anpr'").fetch_one(&self.pool).await?)
            }

            async fn set_id_limits(&self, floor: i64, ceiling: i64) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                sqlx::query("UPDATE counters SET ceiling = $2, next = CASE WHEN next < $1 THEN $1 ELSE next END WHERE name = 'id_anpr'")
                    .bind(floor)
                    .bind(ceiling)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn revenue_outbox(&self, after: i64, limit: u32) -> crate::Result<Vec<crate::OutboxMessage>> {
                sqlx::query_as::<_, crate::rows::FeedItemRow>("SELECT id, kind, event_id, payload, created_at FROM revenue_outbox WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(crate::rows::FeedItemRow::into_item)
                    .collect()
            }

            async fn push_targets(&self) -> crate::Result<Vec<crate::PushTarget>> {
                let rows = sqlx::query(
                    "SELECT c.client_id, c.comune, c.push_url, COALESCE(s.delivered_up_to, 0) AS delivered_up_to, \
                     COALESCE(s.attempts, 0) AS attempts, COALESCE(s.next_attempt_at, 0) AS next_attempt_at FROM api_clients c LEFT JOIN push_state s ON s.client_id = c.client_id \
                     WHERE c.push_url IS NOT NULL AND c.revoked_at IS NULL AND c.role = 'comune' AND c.comune IS NOT NULL ORDER BY c.client_id",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        use sqlx::Row;
                        Ok(crate::PushTarget {
                            client_id: r.try_get("client_id")?,
                            comune: crate::rows::belfiore(&r.try_get::<String, _>("comune")?)?,
                            url: r.try_get("push_url")?,
                            delivered_up_to: r.try_get("delivered_up_to")?,
                            attempts: r.try_get("attempts")?,
                            next_attempt_at: r.try_get("next_attempt_at")?,
                        })
                    })
                    .collect()
            }

            async fn record_push(&self, client_id: &str, delivered_up_to: i64, attempts: i64, next_attempt_at: i64, error: Option<&str>) -> crate::Result<()> {
                let _turn = self.write_turn().await;
                sqlx::query(
                    "INSERT INTO push_state (client_id, delivered_up_to, attempts, next_attempt_at, last_error, updated_at) VALUES ($1,$2,$3,$4,$5,$6) \
                     ON CONFLICT (client_id) DO UPDATE SET delivered_up_to = excluded.delivered_up_to, attempts = excluded.attempts, \
                     next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error, updated_at = excluded.updated_at",
                )
                .bind(client_id)
                .bind(delivered_up_to)
                .bind(attempts)
                .bind(next_attempt_at)
                .bind(error)
                .bind(crate::now_ms())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn set_push_url(&self, client_id: &str, url: Option<&str>, ctx: &crate::WriteContext) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let done = sqlx::query("UPDATE api_clients SET push_url = $1 WHERE client_id = $2").bind(url).bind(client_id).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err(crate::StoreError::NotFound(format!("client {client_id}")));
                }
                let mut entry = crate::audit::AuditEntry::from_ctx(ctx, "api_client.push_url", "ok");
                entry.detail = serde_json::json!({ "client_id": client_id, "push_url": url }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl crate::AccountStore for $store {
            async fn operator_names(&self) -> crate::Result<Vec<String>> {
                Ok(sqlx::query_scalar::<_, String>("SELECT username FROM operators ORDER BY username").fetch_all(&self.pool).await?)
            }

            async fn operator_names_in_scope(&self, scope: &str) -> crate::Result<Vec<String>> {
                Ok(sqlx::query_scalar::<_, String>("SELECT DISTINCT username FROM operator_roles WHERE scope = $1 ORDER BY username")
                    .bind(scope)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn operator(&self, username: &str) -> crate::Result<Option<crate::Operator>> {
                use sqlx::Row;
                let Some(r) = sqlx::query(
                    "SELECT username, display_name, codice_fiscale, password_hash, must_change_password, totp_secret, totp_pending, \
                     totp_last_step, failed_logins, locked_until, disabled_at FROM operators WHERE username = $1",
                )
                .bind(username)
                .fetch_optional(&self.pool)
                .await?
                else {
                    return Ok(None);
                };
                let roles = sqlx::query("SELECT role, scope, mediator FROM operator_roles WHERE username = $1 ORDER BY role, scope")
                    .bind(username)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|g| {
                        Ok(crate::RoleGrant {
                            role: crate::rows::role(&g.try_get::<String, _>("role")?)?,
                            scope: g.try_get("scope")?,
                            mediator: g.try_get("mediator")?,
                        })
                    })
                    .collect::<crate::Result<Vec<_>>>()?;
                Ok(Some(crate::Operator {
                    username: r.try_get("username")?,
                    display_name: r.try_get("display_name")?,
                    codice_fiscale: r.try_get("codice_fiscale")?,
                    password_hash: r.try_get("password_hash")?,
                    must_change_password: r.try_get("must_change_password")?,
                    totp_secret: r.try_get("totp_secret")?,
                    totp_pending: r.try_get("totp_pending")?,
                    totp_last_step: r.try_get("totp_last_step")?,
                    failed_logins: i64::from(r.try_get::<i32, _>("failed_logins")?),
                    locked_until: r.try_get("locked_until")?,
                    disabled: r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
                    roles,
                }))
            }

            async fn save_operator(&self, o: &crate::Operator, ctx: &crate::WriteContext) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let now = head.now;
                let failed = i32::try_from(o.failed_logins).unwrap_or(i32::MAX);
                sqlx::query(
                    "INSERT INTO operators (username, display_name, password_hash, must_change_password, totp_secret, totp_pending, \
                     totp_last_step, failed_logins, locked_until, disabled_at, created_at, updated_at, codice_fiscale) \
                     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$11,$12) ON CONFLICT (username) DO UPDATE SET \
                     display_name = excluded.display_name, password_hash = excluded.password_hash, \
                     codice_fiscale = excluded.codice_fiscale, \
                     must_change_password = excluded.must_change_password, totp_secret = excluded.totp_secret, \
                     totp_pending = excluded.totp_pending, totp_last_step = excluded.totp_last_step, \
                     failed_logins = excluded.failed_logins, locked_until = excluded.locked_until, \
                     disabled_at = excluded.disabled_at, updated_at = excluded.updated_at",
                )
                .bind(&o.username)
                .bind(&o.display_name)
                .bind(&o.password_hash)
                .bind(o.must_change_password)
                .bind(&o.totp_secret)
                .bind(&o.totp_pending)
                .bind(o.totp_last_step)
                .bind(failed)
                .bind(o.locked_until)
                .bind(o.disabled.then_some(now))
                .bind(now)
                .bind(&o.codice_fiscale)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM operator_roles WHERE username = $1").bind(&o.username).execute(&mut *tx).await?;
                for g in &o.roles {
                    sqlx::query("INSERT INTO operator_roles (username, role, scope, mediator, granted_at) VALUES ($1,$2,$3,$4,$5)")
                        .bind(&o.username)
                        .bind(g.role.as_str())
                        .bind(&g.scope)
                        .bind(g.mediator)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| crate::shared::conflict(e, "roles"))?;
                }
                let mut entry = crate::audit::AuditEntry::from_ctx(ctx, "operator.save", "ok");
                entry.detail = serde_json::json!({
                    "username": o.username, "roles": o.roles, "disabled": o.disabled,
                    "second_factor": o.totp_secret.is_some(), "must_change_password": o.must_change_password,
                })
                .to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_operator(&self, username: &str, u: &crate::OperatorUpdate, entry: &crate::audit::AuditEntry) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let now = head.now;
                let done = sqlx::query(
                    "UPDATE operators SET \
                     failed_logins = CASE WHEN $1 THEN $2 ELSE failed_logins END, \
                     locked_until = CASE WHEN $3 THEN $4 ELSE locked_until END, \
                     password_hash = COALESCE($5, password_hash), \
                     must_change_password = CASE WHEN $6 THEN $7 ELSE must_change_password END, \
                     totp_secret = CASE WHEN $8 THEN $9 ELSE totp_secret END, \
                     totp_pending = CASE WHEN $10 THEN $11 ELSE totp_pending END, \
                     totp_last_step = CASE WHEN $12 THEN $13 ELSE totp_last_step END, \
                     updated_at = $14 WHERE username = $15",
                )
                .bind(u.failed_logins.is_some())
                .bind(i32::try_from(u.failed_logins.unwrap_or(0)).unwrap_or(i32::MAX))
                .bind(u.locked_until.is_some())
                .bind(u.locked_until.flatten())
                .bind(&u.password_hash)
                .bind(u.must_change_password.is_some())
                .bind(u.must_change_password.unwrap_or(false))
                .bind(u.totp_secret.is_some())
                .bind(u.totp_secret.clone().flatten())
                .bind(u.totp_pending.is_some())
                .bind(u.totp_pending.clone().flatten())
                .bind(u.totp_last_step.is_some())
                .bind(u.totp_last_step.flatten())
                .bind(now)
                .bind(username)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(crate::StoreError::NotFound(format!("operator {username}")));
                }
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn count_login_failure(&self, username: &str, entry: &crate::audit::AuditEntry) -> crate::Result<i64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let n: i32 = sqlx::query_scalar("UPDATE operators SET failed_logins = failed_logins + 1 WHERE username = $1 RETURNING failed_logins")
                    .bind(username)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| crate::StoreError::NotFound(format!("operator {username}")))?;
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(i64::from(n))
            }

            async fn accept_totp_step(&self, username: &str, step: i64) -> crate::Result<bool> {
                let _turn = self.write_turn().await;
                let done = sqlx::query(
                    "UPDATE operators SET totp_last_step = $1 WHERE username = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
                )
                .bind(step)
                .bind(username)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn open_session(&self, s: &crate::Session, totp_step: Option<i64>, entry: &crate::audit::AuditEntry) -> crate::Result<bool> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                if s.kind == "operator" {
                    // The step must be later than any accepted before: a code is good once.
                    let done = sqlx::query(
                        "UPDATE operators SET failed_logins = 0, locked_until = NULL, \
                         totp_last_step = CASE WHEN $1 THEN $2 ELSE totp_last_step END \
                         WHERE username = $3 AND (NOT $1 OR totp_last_step IS NULL OR totp_last_step < $2)",
                    )
                    .bind(totp_step.is_some())
                    .bind(totp_step.unwrap_or(0))
                    .bind(&s.subject)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                }
                sqlx::query(
                    "INSERT INTO sessions (token_hash, kind, subject, auth_mode, loa, second_factor, csrf_token, created_at, last_seen_at, \
                     authenticated_at, expires_at, eidas_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8,$8,$9,$10)",
                )
                .bind(&s.token_hash)
                .bind(&s.kind)
                .bind(&s.subject)
                .bind(&s.auth_mode)
                .bind(i32::try_from(s.loa).unwrap_or(0))
                .bind(s.second_factor)
                .bind(&s.csrf_token)
                .bind(s.created_at)
                .bind(s.expires_at)
                .bind(&s.eidas_id)
                .execute(&mut *tx)
                .await?;
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn session(&self, token_hash: &str) -> crate::Result<Option<crate::Session>> {
                use sqlx::Row;
                let Some(r) = sqlx::query(
                    "SELECT token_hash, kind, subject, auth_mode, loa, second_factor, csrf_token, created_at, last_seen_at, authenticated_at, \
                     expires_at, ended_at, eidas_id FROM sessions WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?
                else {
                    return Ok(None);
                };
                Ok(Some(crate::Session {
                    token_hash: r.try_get("token_hash")?,
                    kind: r.try_get("kind")?,
                    subject: r.try_get("subject")?,
                    auth_mode: r.try_get("auth_mode")?,
                    loa: i64::from(r.try_get::<i32, _>("loa")?),
                    second_factor: r.try_get("second_factor")?,
                    csrf_token: r.try_get("csrf_token")?,
                    created_at: r.try_get("created_at")?,
                    last_seen_at: r.try_get("last_seen_at")?,
                    authenticated_at: r.try_get("authenticated_at")?,
                    expires_at: r.try_get("expires_at")?,
                    ended_at: r.try_get("ended_at")?,
                    eidas_id: r.try_get("eidas_id")?,
                }))
            }

            async fn touch_session(&self, token_hash: &str, now: i64, reauthenticated: bool, second_factor: bool) -> crate::Result<()> {
                let _turn = self.write_turn().await;
                sqlx::query(
                    "UPDATE sessions SET last_seen_at = $1, authenticated_at = CASE WHEN $2 THEN $1 ELSE authenticated_at END, \
                     second_factor = (second_factor OR $3) WHERE token_hash = $4 AND ended_at IS NULL",
                )
                .bind(now)
                .bind(reauthenticated)
                .bind(second_factor)
                .bind(token_hash)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn end_sessions(&self, kind: &str, subject: &str, token_hash: Option<&str>, entry: &crate::audit::AuditEntry) -> crate::Result<u64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let done = sqlx::query(
                    "UPDATE sessions SET ended_at = $1 WHERE kind = $2 AND subject = $3 AND ended_at IS NULL AND ($4 IS NULL OR token_hash = $4)",
                )
                .bind(head.now)
                .bind(kind)
                .bind(subject)
                .bind(token_hash)
                .execute(&mut *tx)
                .await?;
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn save_oidc_flow(&self, f: &crate::OidcFlow) -> crate::Result<()> {
                let _turn = self.write_turn().await;
                // Flows never completed are forgotten after a day, now and then.
                if rand::random::<u8>() == 0 {
                    sqlx::query("DELETE FROM oidc_flows WHERE created_at < $1").bind(crate::now_ms() - 86_400_000).execute(&self.pool).await?;
                }
                sqlx::query("INSERT INTO oidc_flows (state_hash, provider, nonce, pkce_verifier, created_at) VALUES ($1,$2,$3,$4,$5)")
                    .bind(&f.state_hash)
                    .bind(&f.provider)
                    .bind(&f.nonce)
                    .bind(&f.pkce_verifier)
                    .bind(f.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| crate::shared::conflict(e, "state"))?;
                Ok(())
            }

            async fn take_oidc_flow(&self, state_hash: &str, not_before: i64) -> crate::Result<Option<crate::OidcFlow>> {
                use sqlx::Row;
                let _turn = self.write_turn().await;
                let row = sqlx::query(
                    "UPDATE oidc_flows SET used_at = $1 WHERE state_hash = $2 AND used_at IS NULL AND created_at >= $3 \
                     RETURNING state_hash, provider, nonce, pkce_verifier, created_at",
                )
                .bind(crate::now_ms())
                .bind(state_hash)
                .bind(not_before)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok(crate::OidcFlow {
                        state_hash: r.try_get("state_hash")?,
                        provider: r.try_get("provider")?,
                        nonce: r.try_get("nonce")?,
                        pkce_verifier: r.try_get("pkce_verifier")?,
                        created_at: r.try_get("created_at")?,
                    })
                })
                .transpose()
            }
        }

        #[async_trait::async_trait]
        impl crate::GuardStore for $store {
            async fn hit(&self, key: &str, window_ms: i64, now: i64) -> crate::Result<i64> {
                let _turn = self.write_turn().await;
                let window = now - now.rem_euclid(window_ms.max(1));
                // Counters of past windows are forgotten now and then.
                if rand::random::<u8>() == 0 {
                    sqlx::query("DELETE FROM rate_counters WHERE window_start < $1").bind(now - 86_400_000).execute(&self.pool).await?;
                }
                Ok(sqlx::query_scalar::<_, i64>(
                    "INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, 1) ON CONFLICT (key) DO UPDATE SET \
                     count = CASE WHEN rate_counters.window_start = excluded.window_start THEN rate_counters.count + 1 ELSE 1 END, \
                     window_start = excluded.window_start RETURNING count",
                )
                .bind(key)
                .bind(window)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn hits(&self, key: &str, window_ms: i64, now: i64) -> crate::Result<i64> {
                let window = now - now.rem_euclid(window_ms.max(1));
                let n: Option<i64> = sqlx::query_scalar("SELECT count FROM rate_counters WHERE key = $1 AND window_start = $2")
                    .bind(key)
                    .bind(window)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(n.unwrap_or(0))
            }

            async fn remember_login_place(&self, username: &str, address: &str, at: i64) -> crate::Result<()> {
                let _turn = self.write_turn().await;
                sqlx::query(
                    "INSERT INTO operator_login_places (username, address, last_ok_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (username, address) DO UPDATE SET last_ok_at = excluded.last_ok_at",
                )
                .bind(username)
                .bind(address)
                .bind(at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn known_login_place(&self, username: &str, address: &str, since: i64) -> crate::Result<bool> {
                let hit: Option<i64> =
                    sqlx::query_scalar("SELECT last_ok_at FROM operator_login_places WHERE username = $1 AND address = $2 AND last_ok_at >= $3")
                        .bind(username)
                        .bind(address)
                        .bind(since)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(hit.is_some())
            }

            async fn block_address(&self, address: &str, until: i64, reason: &str, entry: &crate::audit::AuditEntry) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                sqlx::query(
                    "INSERT INTO blocked_addresses (address, until, reason, blocked_at) VALUES ($1,$2,$3,$4) ON CONFLICT (address) DO UPDATE SET \
                     until = excluded.until, reason = excluded.reason, blocked_at = excluded.blocked_at",
                )
                .bind(address)
                .bind(until)
                .bind(reason)
                .bind(head.now)
                .execute(&mut *tx)
                .await?;
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn blocked_addresses(&self, now: i64) -> crate::Result<Vec<(String, i64)>> {
                let rows = sqlx::query_as::<_, crate::rows::BlockedRow>("SELECT address, until FROM blocked_addresses WHERE until > $1")
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(|r| (r.address, r.until)).collect())
            }

            async fn unblock_address(&self, address: &str, now: i64, entry: &crate::audit::AuditEntry) -> crate::Result<bool> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                // The row stays, ended now: when and why it was blocked remain readable.
                let done = sqlx::query("UPDATE blocked_addresses SET until = $1 WHERE address = $2 AND until > $1")
                    .bind(now)
                    .bind(address)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(true)
            }
        }

        impl $store {
            fn alert_row(r: &<$db as sqlx::Database>::Row) -> crate::Result<crate::Alert> {
                use sqlx::Row;
                let state: String = r.try_get("state")?;
                Ok(crate::Alert {
                    id: r.try_get("id")?,
                    rule: r.try_get("rule")?,
                    key: r.try_get("key")?,
                    count: r.try_get("count")?,
                    first_seen: r.try_get("first_seen")?,
                    last_seen: r.try_get("last_seen")?,
                    state: anagrafe_domain::security::AlertState::parse(&state)
                        .ok_or_else(|| crate::StoreError::Corrupt(format!("alert state {state:?}")))?,
                    assignee: r.try_get("assignee")?,
                    closed_at: r.try_get("closed_at")?,
                })
            }
        }

        #[async_trait::async_trait]
        impl crate::AlertStore for $store {
            async fn raise_alert(&self, f: &crate::AlertFinding, now: i64, quiet_ms: i64, entry: &crate::audit::AuditEntry) -> crate::Result<crate::AlertRaise> {
                use anagrafe_domain::security::AlertState;
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let last = sqlx::query("SELECT * FROM security_alerts WHERE rule = $1 AND key = $2 ORDER BY id DESC LIMIT 1")
                    .bind(&f.rule)
                    .bind(&f.key)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| Self::alert_row(&r))
                    .transpose()?;
                if let Some(a) = last {
                    if a.state != AlertState::Closed {
                        sqlx::query("UPDATE security_alerts SET count = $1, last_seen = $2 WHERE id = $3")
                            .bind(a.count.max(f.count))
                            .bind(now.max(a.last_seen))
                            .bind(a.id)
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        return Ok(crate::AlertRaise::Ongoing(a.id));
                    }
                    if a.closed_at.is_some_and(|c| now < c + quiet_ms) {
                        tx.rollback().await?;
                        return Ok(crate::AlertRaise::Quiet(a.id));
                    }
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO security_alerts (rule, key, count, first_seen, last_seen, state) VALUES ($1, $2, $3, $4, $4, 'open') RETURNING id",
                )
                .bind(&f.rule)
                .bind(&f.key)
                .bind(f.count)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO security_alert_steps (alert_id, at_ms, actor, state, assignee, note) VALUES ($1, $2, $3, 'open', NULL, $4)")
                    .bind(id)
                    .bind(now)
                    .bind(&entry.actor)
                    .bind(format!("{} {}: {}", f.rule, f.key, f.count))
                    .execute(&mut *tx)
                    .await?;
                let mut e = entry.clone();
                e.detail = serde_json::json!({ "alert": id, "rule": f.rule, "key": f.key, "count": f.count }).to_string();
                Self::append_audit(&mut tx, &mut head, &e).await?;
                tx.commit().await?;
                Ok(crate::AlertRaise::Raised(id))
            }

            async fn alerts(&self, state: Option<anagrafe_domain::security::AlertState>, before: i64, limit: u32) -> crate::Result<Vec<crate::Alert>> {
                let rows = sqlx::query("SELECT * FROM security_alerts WHERE id < $1 AND ($2 IS NULL OR state = $2) ORDER BY id DESC LIMIT $3")
                    .bind(before)
                    .bind(state.map(|s| s.as_str()))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(Self::alert_row).collect()
            }

            async fn alert(&self, id: i64) -> crate::Result<Option<(crate::Alert, Vec<crate::AlertStep>)>> {
                use sqlx::Row;
                let Some(row) = sqlx::query("SELECT * FROM security_alerts WHERE id = $1").bind(id).fetch_optional(&self.pool).await? else {
                    return Ok(None);
                };
                let alert = Self::alert_row(&row)?;
                let steps = sqlx::query("SELECT at_ms, actor, state, assignee, note FROM security_alert_steps WHERE alert_id = $1 ORDER BY id")
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| {
                        let state: String = r.try_get("state")?;
                        Ok(crate::AlertStep {
                            at_ms: r.try_get("at_ms")?,
                            actor: r.try_get("actor")?,
                            state: anagrafe_domain::security::AlertState::parse(&state)
                                .ok_or_else(|| crate::StoreError::Corrupt(format!("alert state {state:?}")))?,
                            assignee: r.try_get("assignee")?,
                            note: r.try_get("note")?,
                        })
                    })
                    .collect::<crate::Result<Vec<_>>>()?;
                Ok(Some((alert, steps)))
            }

            async fn change_alert(&self, id: i64, c: &crate::AlertChange, entry: &crate::audit::AuditEntry) -> crate::Result<crate::Alert> {
                use anagrafe_domain::security::AlertState;
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let closed_at = (c.to == AlertState::Closed).then_some(c.at_ms);
                let row = sqlx::query(
                    "UPDATE security_alerts SET state = $1, assignee = $2, closed_at = COALESCE($3, closed_at) WHERE id = $4 AND state = $5 RETURNING *",
                )
                .bind(c.to.as_str())
                .bind(c.assignee.as_deref())
                .bind(closed_at)
                .bind(id)
                .bind(c.from.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM security_alerts WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
                    tx.rollback().await?;
                    return Err(match exists {
                        None => crate::StoreError::NotFound(format!("alert {id}")),
                        Some(_) => crate::StoreError::Conflict { field: "state".into() },
                    });
                };
                let alert = Self::alert_row(&row)?;
                sqlx::query("INSERT INTO security_alert_steps (alert_id, at_ms, actor, state, assignee, note) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(id)
                    .bind(c.at_ms)
                    .bind(&c.actor)
                    .bind(c.to.as_str())
                    .bind(c.assignee.as_deref())
                    .bind(&c.note)
                    .execute(&mut *tx)
                    .await?;
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(alert)
            }
        }

        #[async_trait::async_trait]
        impl crate::CertificateStore for $store {
            async fn save_certificate(&self, c: &crate::NewCertificate, entry: &crate::audit::AuditEntry) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let m = &c.meta;
                sqlx::query(
                    "INSERT INTO certificates (id, token_hash, person_id, types, langs, issued_at, expires_on, requester, stamp, sha256, size, pdf) \
                     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
                )
                .bind(&m.id)
                .bind(&c.token_hash)
                .bind(m.person_id)
                .bind(m.types.iter().map(u16::to_string).collect::<Vec<_>>().join(","))
                .bind(m.langs.join(","))
                .bind(m.issued_at)
                .bind(m.expires_on)
                .bind(&m.requester)
                .bind(m.stamp.to_string())
                .bind(&m.sha256)
                .bind(m.size)
                .bind(&c.pdf)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::shared::conflict(e, "certificate"))?;
                if let Some(payment) = &c.payment_id {
                    let used = sqlx::query("UPDATE stamp_payments SET certificate_id = $1 WHERE id = $2 AND payer = $3 AND certificate_id IS NULL")
                        .bind(&m.id)
                        .bind(payment)
                        .bind(&m.requester)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if used != 1 {
                        return Err(crate::StoreError::State {
                            field: "stamp.payment_id".into(),
                            reason: anagrafe_domain::Why::new("payment-unknown"),
                        });
                    }
                }
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn certificate(&self, id: &str) -> crate::Result<Option<crate::StoredCertificate>> {
                let row = sqlx::query_as::<_, crate::rows::CertificateRow>(sqlx::AssertSqlSafe(format!("SELECT {} FROM certificates WHERE id = $1", crate::rows::CERT_COLS)))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(crate::rows::CertificateRow::into_certificate).transpose()
            }

            async fn certificate_by_token(&self, token_hash: &str) -> crate::Result<Option<crate::StoredCertificate>> {
                let row = sqlx::query_as::<_, crate::rows::CertificateRow>(sqlx::AssertSqlSafe(format!("SELECT {} FROM certificates WHERE token_hash = $1", crate::rows::CERT_COLS)))
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(crate::rows::CertificateRow::into_certificate).transpose()
            }

            async fn certificate_pdf(&self, id: &str) -> crate::Result<Option<Vec<u8>>> {
                let pdf: Option<Option<Vec<u8>>> = sqlx::query_scalar("SELECT pdf FROM certificates WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
                Ok(pdf.flatten())
            }

            async fn certificates_of(&self, person_id: i64) -> crate::Result<Vec<crate::StoredCertificate>> {
                let rows = sqlx::query_as::<_, crate::rows::CertificateRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM certificates WHERE person_id = $1 ORDER BY issued_at DESC, id",
                    crate::rows::CERT_COLS
                )))
                .bind(person_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(crate::rows::CertificateRow::into_certificate).collect()
            }

            async fn delete_expired_certificates(&self, today: chrono::NaiveDate, entry: &crate::audit::AuditEntry) -> crate::Result<u64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let n = sqlx::query(
                    "UPDATE certificates SET pdf = NULL, deleted_at = $1, delete_reason = 'expired' WHERE expires_on < $2 AND pdf IS NOT NULL",
                )
                .bind(head.now)
                .bind(today)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n > 0 {
                    let mut entry = entry.clone();
                    entry.detail = serde_json::json!({ "deleted": n, "before": today }).to_string();
                    Self::append_audit(&mut tx, &mut head, &entry).await?;
                }
                tx.commit().await?;
                Ok(n)
            }

            async fn save_payment(&self, p: &crate::StampPayment, entry: &crate::audit::AuditEntry) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                sqlx::query("INSERT INTO stamp_payments (id, payer, amount_cents, provider, paid_at) VALUES ($1,$2,$3,$4,$5)")
                    .bind(&p.id)
                    .bind(&p.payer)
                    .bind(p.amount_cents)
                    .bind(&p.provider)
                    .bind(p.paid_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| crate::shared::conflict(e, "payment"))?;
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn payment(&self, id: &str) -> crate::Result<Option<crate::StampPayment>> {
                use sqlx::Row;
                let row = sqlx::query("SELECT id, payer, amount_cents, provider, paid_at, certificate_id FROM stamp_payments WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    Ok(crate::StampPayment {
                        id: r.try_get("id")?,
                        payer: r.try_get("payer")?,
                        amount_cents: r.try_get("amount_cents")?,
                        provider: r.try_get("provider")?,
                        paid_at: r.try_get("paid_at")?,
                        certificate_id: r.try_get("certificate_id")?,
                    })
                })
                .transpose()
            }

            async fn save_captcha(&self, id_hash: &str, answer_hash: &str, expires_at: i64) -> crate::Result<()> {
                let _turn = self.write_turn().await;
                // Challenges never answered are swept now and then.
                if rand::random::<u8>() == 0 {
                    sqlx::query("DELETE FROM captchas WHERE expires_at < $1").bind(crate::now_ms()).execute(&self.pool).await?;
                }
                sqlx::query("INSERT INTO captchas (id_hash, answer_hash, expires_at) VALUES ($1,$2,$3)")
                    .bind(id_hash)
                    .bind(answer_hash)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| crate::shared::conflict(e, "captcha"))?;
                Ok(())
            }

            async fn take_captcha(&self, id_hash: &str, now: i64) -> crate::Result<Option<String>> {
                let _turn = self.write_turn().await;
                let row = sqlx::query_as::<_, crate::rows::CaptchaRow>("DELETE FROM captchas WHERE id_hash = $1 RETURNING answer_hash, expires_at")
                    .bind(id_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.filter(|r| r.expires_at >= now).map(|r| r.answer_hash))
            }
        }

        #[async_trait::async_trait]
        impl crate::AuditStore for $store {
            async fn audit(&self, entry: &crate::audit::AuditEntry) -> crate::Result<i64> {
                self.trace_queued(entry, None).await
            }

            async fn audit_call(&self, entry: &crate::audit::AuditEntry, record: &crate::CallRecord) -> crate::Result<i64> {
                self.trace_queued(entry, Some(record.clone())).await
            }

            async fn audit_entries(&self, after: i64, limit: u32) -> crate::Result<Vec<crate::audit::StoredAudit>> {
                let mut conn = self.pool.acquire().await?;
                Self::audit_page(&mut conn, after, limit).await
            }

            async fn audit_about(&self, person: i64, before: i64, limit: u32) -> crate::Result<Vec<crate::audit::StoredAudit>> {
                let mut conn = self.pool.acquire().await?;
                Self::audit_about_page(&mut conn, person, before, limit).await
            }

            async fn audit_search(&self, q: &crate::audit::TraceQuery, before: i64, limit: u32) -> crate::Result<Vec<crate::audit::StoredAudit>> {
                // Prefixes match with LIKE: the wildcards a user types are taken literally.
                let prefix = |p: &Option<String>| p.as_ref().map(|p| format!("{}%", p.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
                let rows = sqlx::query(
                    "SELECT seq, at_ms, request_id, actor, actor_cf, eidas_id, auth_mode, operation, outcome, subject_person, subject_cf, \
                     detail, prev_hash, hash FROM audit_log WHERE seq < $1 \
                     AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR subject_person = $3) \
                     AND ($4 IS NULL OR operation LIKE $4 ESCAPE '\\') AND ($5 IS NULL OR outcome LIKE $5 ESCAPE '\\') \
                     AND ($6 IS NULL OR at_ms >= $6) AND ($7 IS NULL OR at_ms < $7) ORDER BY seq DESC LIMIT $8",
                )
                .bind(before)
                .bind(q.actor.as_deref())
                .bind(q.subject_person)
                .bind(prefix(&q.operation))
                .bind(prefix(&q.outcome))
                .bind(q.from_ms)
                .bind(q.to_ms)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Self::audit_rows(&rows)
            }

            async fn trace_counts(&self, what: &crate::audit::TraceCount, from_ms: i64, to_ms: i64, threshold: i64) -> crate::Result<Vec<(String, i64)>> {
                use crate::audit::TraceCount;
                let like = |p: &str| format!("{}%", p.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
                // $1 and $3 bound the window, $2 is the threshold; $4 and $5 what some counts need.
                let (sql, extra): (&str, Vec<String>) = match what {
                    TraceCount::SubjectsByActor => (
                        "SELECT actor AS k, COUNT(DISTINCT subject_person) AS n FROM audit_log WHERE at_ms >= $1 AND at_ms < $3 \
                         AND subject_person IS NOT NULL AND actor <> 'public' GROUP BY actor HAVING COUNT(DISTINCT subject_person) > $2",
                        vec![],
                    ),
                    TraceCount::RefusalsByActor => (
                        "SELECT actor AS k, COUNT(*) AS n FROM audit_log WHERE at_ms >= $1 AND at_ms < $3 AND outcome LIKE 'refused%' \
                         GROUP BY actor HAVING COUNT(*) > $2",
                        vec![],
                    ),
                    TraceCount::ActorsBySubject => (
                        "SELECT COALESCE(MAX(subject_cf), CAST(subject_person AS TEXT)) AS k, COUNT(DISTINCT actor) AS n FROM audit_log \
                         WHERE at_ms >= $1 AND at_ms < $3 AND subject_person IS NOT NULL GROUP BY subject_person HAVING COUNT(DISTINCT actor) > $2",
                        vec![],
                    ),
                    TraceCount::ByOperation(p) => (
                        "SELECT operation AS k, COUNT(*) AS n FROM audit_log WHERE at_ms >= $1 AND at_ms < $3 AND operation LIKE $4 ESCAPE '\\' \
                         GROUP BY operation HAVING COUNT(*) > $2",
                        vec![like(p)],
                    ),
                    TraceCount::ByOutcome(p, outcome) => (
                        "SELECT operation AS k, COUNT(*) AS n FROM audit_log WHERE at_ms >= $1 AND at_ms < $3 AND operation LIKE $4 ESCAPE '\\' \
                         AND outcome LIKE $5 ESCAPE '\\' GROUP BY operation HAVING COUNT(*) > $2",
                        vec![like(p), like(outcome)],
                    ),
                    // Reads by an operator of persons whose comune none of the operator's grants
                    // covers (a national grant has an empty scope), with no other operation of
                    // that operator on that person from thirty days before the read on.
                    TraceCount::ReadsOutsideCompetence => (
                        "SELECT a.actor AS k, COUNT(DISTINCT a.subject_person) AS n FROM audit_log a JOIN persons p ON p.id = a.subject_person \
                         WHERE a.at_ms >= $1 AND a.at_ms < $3 AND a.operation IN ('person.read', 'person.history', 'person.search') \
                         AND a.outcome = 'ok' AND a.actor LIKE 'operator:%' \
                         AND NOT EXISTS (SELECT 1 FROM operator_roles r WHERE ('operator:' || r.username) = a.actor AND (r.scope = p.comune OR r.scope = '')) \
                         AND NOT EXISTS (SELECT 1 FROM audit_log w WHERE w.subject_person = a.subject_person AND w.actor = a.actor \
                             AND w.outcome = 'ok' AND w.operation NOT IN ('person.read', 'person.history', 'person.search') \
                             AND w.at_ms >= a.at_ms - 2592000000) \
                         GROUP BY a.actor HAVING COUNT(DISTINCT a.subject_person) > $2",
                        vec![],
                    ),
                    TraceCount::LoginsFromNewPlaces => (
                        "SELECT actor AS k, COUNT(*) AS n FROM audit_log WHERE at_ms >= $1 AND at_ms < $3 AND operation = 'operator.login' \
                         AND outcome = 'ok' AND detail LIKE '%\"new\\_place\":true%' ESCAPE '\\' GROUP BY actor HAVING COUNT(*) > $2",
                        vec![],
                    ),
                    TraceCount::PurposeQuotaPercent => (
                        "SELECT p.purpose_id AS k, COUNT(*) AS n FROM pdnd_purposes p JOIN audit_log a \
                         ON a.actor = ('pdnd:' || p.client_id) AND a.operation = ('pdnd.' || p.eservice) \
                         WHERE a.at_ms >= $1 AND a.at_ms < $3 AND p.revoked_at IS NULL AND p.daily_quota > 0 \
                         AND a.detail LIKE ('%\"purposeId\":\"' || p.purpose_id || '\"%') \
                         GROUP BY p.purpose_id, p.daily_quota HAVING COUNT(*) * 100 > p.daily_quota * $2",
                        vec![],
                    ),
                };
                let mut q = sqlx::query_as::<_, (String, i64)>(sql).bind(from_ms).bind(threshold).bind(to_ms);
                for x in extra {
                    q = q.bind(x);
                }
                let mut rows = q.fetch_all(&self.pool).await?;
                rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                Ok(rows)
            }

            async fn verify_audit_chain_with(&self, checkpoints: &[crate::Checkpoint]) -> crate::Result<crate::audit::ChainReport> {
                // Head and entries from one snapshot, so that concurrent appends cannot make a
                // sound chain look broken, and any entry past the head is itself a finding.
                let mut tx = Self::snapshot(&self.pool).await?;
                let head = sqlx::query_as::<_, crate::rows::ChainHeadRow>("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
                // The live trace starts after the last archived segment (its own verification
                // is the archive's: `anagrafe_service::trace::verify`).
                let archived: Option<(i64, String)> =
                    sqlx::query_as("SELECT to_seq, last_hash FROM audit_archives ORDER BY to_seq DESC LIMIT 1").fetch_optional(&mut *tx).await?;
                let mut v = match &archived {
                    Some((to, hash)) => crate::audit::ChainVerifier::starting_at(to + 1, hash),
                    None => crate::audit::ChainVerifier::default(),
                }
                .with_checkpoints(checkpoints);
                let mut after = archived.map_or(0, |(to, _)| to);
                loop {
                    let page = Self::audit_page(&mut tx, after, 10_000).await?;
                    let Some(last) = page.last() else { break };
                    after = last.seq;
                    page.iter().for_each(|e| v.push(e));
                }
                tx.rollback().await?;
                Ok(v.finish(head.seq, &head.hash))
            }

            async fn audit_head(&self) -> crate::Result<(i64, String)> {
                let head = sqlx::query_as::<_, crate::rows::ChainHeadRow>("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&self.pool).await?;
                Ok((head.seq, head.hash))
            }

            async fn save_checkpoint(&self, c: &crate::Checkpoint) -> crate::Result<()> {
                sqlx::query(
                    "INSERT INTO audit_checkpoints (seq, hash, at_ms, key_id, signature, id_high_water) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(c.seq)
                .bind(&c.hash)
                .bind(c.at_ms)
                .bind(&c.key_id)
                .bind(&c.signature)
                .bind(c.id_high_water)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn checkpoints(&self) -> crate::Result<Vec<crate::Checkpoint>> {
                let rows = sqlx::query_as::<_, crate::rows::CheckpointRow>(
                    "SELECT seq, hash, at_ms, key_id, signature, id_high_water FROM audit_checkpoints ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| crate::Checkpoint {
                        seq: r.seq,
                        hash: r.hash,
                        at_ms: r.at_ms,
                        key_id: r.key_id,
                        signature: r.signature,
                        id_high_water: r.id_high_water,
                    })
                    .collect())
            }

            async fn trace_archives(&self) -> crate::Result<Vec<crate::TraceArchive>> {
                let rows = sqlx::query("SELECT * FROM audit_archives ORDER BY to_seq").fetch_all(&self.pool).await?;
                rows.iter().map(Self::archive_row).collect()
            }

            async fn archive_trace(&self, a: &crate::TraceArchive, entry: &crate::audit::AuditEntry) -> crate::Result<u64> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let first: Option<(i64, String)> = sqlx::query_as("SELECT seq, prev_hash FROM audit_log ORDER BY seq LIMIT 1").fetch_optional(&mut *tx).await?;
                let last: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_log WHERE seq = $1").bind(a.to_seq).fetch_optional(&mut *tx).await?;
                let fits = first.as_ref().is_some_and(|(s, p)| *s == a.from_seq && *p == a.prev_hash)
                    && last.as_ref().is_some_and(|(_, h)| *h == a.last_hash)
                    && a.to_seq <= head.seq;
                if !fits {
                    tx.rollback().await?;
                    return Err(crate::StoreError::State { field: "from".into(), reason: anagrafe_domain::Why::new("archive-not-the-oldest") });
                }
                sqlx::query(
                    "INSERT INTO audit_archives (from_seq, to_seq, prev_hash, last_hash, from_ms, to_ms, file, sha256, entries, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(a.from_seq)
                .bind(a.to_seq)
                .bind(&a.prev_hash)
                .bind(&a.last_hash)
                .bind(a.from_ms)
                .bind(a.to_ms)
                .bind(&a.file)
                .bind(&a.sha256)
                .bind(a.entries)
                .bind(a.created_at)
                .execute(&mut *tx)
                .await?;
                let gone = sqlx::query("DELETE FROM audit_log WHERE seq >= $1 AND seq <= $2").bind(a.from_seq).bind(a.to_seq).execute(&mut *tx).await?.rows_affected();
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(gone)
            }

            async fn purge_trace_archive(&self, id: i64, at: i64, entry: &crate::audit::AuditEntry) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                sqlx::query("UPDATE audit_archives SET purged_at = $1 WHERE id = $2 AND purged_at IS NULL").bind(at).bind(id).execute(&mut *tx).await?;
                Self::append_audit(&mut tx, &mut head, entry).await?;
                tx.commit().await?;
                Ok(())
            }
        }

        impl $store {
            fn archive_row(r: &<$db as sqlx::Database>::Row) -> crate::Result<crate::TraceArchive> {
                use sqlx::Row;
                Ok(crate::TraceArchive {
                    id: r.try_get("id")?,
                    from_seq: r.try_get("from_seq")?,
                    to_seq: r.try_get("to_seq")?,
                    prev_hash: r.try_get("prev_hash")?,
                    last_hash: r.try_get("last_hash")?,
                    from_ms: r.try_get("from_ms")?,
                    to_ms: r.try_get("to_ms")?,
                    file: r.try_get("file")?,
                    sha256: r.try_get("sha256")?,
                    entries: r.try_get("entries")?,
                    created_at: r.try_get("created_at")?,
                    purged_at: r.try_get("purged_at")?,
                })
            }
        }

        #[async_trait::async_trait]
        impl crate::RefdataStore for $store {
            async fn save_refdata(&self, comuni_tsv: &str, stati_tsv: &str, ctx: &crate::WriteContext) -> crate::Result<()> {
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = Self::lock_head(&mut tx).await?;
                let now = crate::now_ms();
                for (name, content) in [("comuni.tsv", comuni_tsv), ("stati.tsv", stati_tsv)] {
                    sqlx::query("DELETE FROM refdata WHERE name = $1").bind(name).execute(&mut *tx).await?;
                    sqlx::query("INSERT INTO refdata (name, content, loaded_at) VALUES ($1, $2, $3)")
                        .bind(name)
                        .bind(content)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                let mut entry = crate::audit::AuditEntry::from_ctx(ctx, "refdata.load", "ok");
                entry.detail = serde_json::json!({ "comuni_bytes": comuni_tsv.len(), "stati_bytes": stati_tsv.len() }).to_string();
                Self::append_audit(&mut tx, &mut head, &entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn load_refdata(&self) -> crate::Result<Option<(String, String)>> {
                let rows = sqlx::query_as::<_, crate::rows::RefdataRow>("SELECT name, content FROM refdata").fetch_all(&self.pool).await?;
                let get = |n: &str| rows.iter().find(|r| r.name == n).map(|r| r.content.clone());
                Ok(get("comuni.tsv").zip(get("stati.tsv")))
            }
        }
    };
}
pub(crate) use store_common;

/// The locked head of the audit chain, and the time of the transaction holding it.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub seq: i64,
    pub hash: String,
    /// The transaction's time (epoch ms), strictly after the previous write's.
    pub now: i64,
    /// Whether the head is locked by this transaction (a registration on PostgreSQL takes the
    /// lock only at its end; see `store_ops!`).
    pub locked: bool,
    /// Whether audit rows wait in `pending` to be written with the write's last statement.
    pub defer: bool,
    /// Audit rows chained but not written yet.
    pub pending: Vec<AuditRow>,
    /// Notifications and Agency communications not written yet.
    pub feed: Vec<FeedRow>,
}

/// A notification to a comune or a communication to the Revenue Agency, to be written.
#[derive(Debug, Clone)]
pub(crate) enum FeedRow {
    Notification { comune: String, kind: String, event_id: i64, payload: String, created_at: i64 },
    Agency { kind: String, person_id: i64, event_id: i64, payload: String, created_at: i64 },
}

/// Adds the feed rows to a batch: one statement per feed table. Feed ids follow commit
/// order: they are taken as the next after the newest, under the audit head's lock, which the
/// write holds until it commits; within the statement they count up in the order given.
pub(crate) fn push_feed_rows<DB: sqlx::Database>(b: &mut Batch<DB>, rows: &[FeedRow])
where
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> &'t String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let notes: Vec<&FeedRow> = rows.iter().filter(|r| matches!(r, FeedRow::Notification { .. })).collect();
    let agency: Vec<&FeedRow> = rows.iter().filter(|r| matches!(r, FeedRow::Agency { .. })).collect();
    for (table, first_col, list) in [("notifications", "comune", notes), ("revenue_outbox", "person_id", agency)] {
        if list.is_empty() {
            continue;
        }
        let values = (0..list.len())
            .map(|i| {
                let k = i * 5;
                format!(
                    "((SELECT COALESCE(MAX(id), 0) FROM {table}) + {}, ${}, ${}, ${}, ${}, ${})",
                    i + 1,
                    k + 1,
                    k + 2,
                    k + 3,
                    k + 4,
                    k + 5
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        b.add(&format!("INSERT INTO {table} (id, {first_col}, kind, event_id, payload, created_at) VALUES {values}"));
        for r in list {
            match r {
                FeedRow::Notification { comune, kind, event_id, payload, created_at } => {
                    b.bind(comune).bind(kind).bind(*event_id).bind(payload).bind(*created_at);
                }
                FeedRow::Agency { kind, person_id, event_id, payload, created_at } => {
                    b.bind(*person_id).bind(kind).bind(*event_id).bind(payload).bind(*created_at);
                }
            }
        }
    }
}

/// An audit entry with its place in the chain.
#[derive(Debug, Clone)]
pub(crate) struct AuditRow {
    pub seq: i64,
    pub at_ms: i64,
    pub entry: crate::audit::AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

impl Head {
    /// A head not locked yet.
    pub(crate) fn unlocked() -> Self {
        Self { seq: 0, hash: String::new(), now: 0, locked: false, defer: false, pending: Vec::new(), feed: Vec::new() }
    }
}

/// What a backend's bulk path prepares off the async runtime for each batch.
pub(crate) trait Bulk {
    /// Encoded rows, ready to write.
    type Prepared: Send + 'static;
}

/// Maps a unique violation to `Conflict { field }`, anything else to `Database`.
pub(crate) fn conflict(e: sqlx::Error, field: &str) -> crate::StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => crate::StoreError::Conflict { field: field.to_owned() },
        _ => crate::StoreError::Database(e),
    }
}

/// Whether the database refused a counter past the ID ceiling (`counters_below_ceiling`).
pub(crate) fn is_id_ceiling(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.message().contains("id-anpr-ceiling"))
}

/// The statement taking one id from each named counter (names are the store's own constants).
pub(crate) fn counters_sql(names: &[&'static str]) -> String {
    let list = names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(",");
    format!("UPDATE counters SET next = next + 1 WHERE name IN ({list}) RETURNING name, next")
}

/// The ids `counters_sql` took, in the order the names were given.
pub(crate) fn counters_taken<const N: usize>(rows: &[crate::rows::CounterRow], names: &[&'static str; N]) -> crate::Result<[i64; N]> {
    let mut out = [0i64; N];
    let mut found = 0;
    for r in rows {
        if let Some(k) = names.iter().position(|n| *n == r.name) {
            out[k] = r.next - 1;
            found += 1;
        }
    }
    if found != N {
        return Err(crate::StoreError::Invalid(format!("internal: {} of the counters {names:?} exist", found)));
    }
    Ok(out)
}

/// Several statements sent to the database as one: on PostgreSQL as data-modifying `WITH`
/// clauses of a single statement, on SQLite as one multi-statement string; either way one
/// round trip (PostgreSQL) or one hand-off to the connection's thread (SQLite) instead of one
/// per statement. Each statement is written with its own placeholders `$1..$n` and its values
/// bound right after it, in order; placeholders are renumbered as statements are added. The
/// statements must not read what an earlier one of the batch writes (on PostgreSQL they share
/// one snapshot); only the last may return rows.
pub(crate) struct Batch<DB: sqlx::Database> {
    parts: Vec<String>,
    args: DB::Arguments,
    error: Option<String>,
}

impl<DB: sqlx::Database> Batch<DB> {
    pub(crate) fn new() -> Self {
        Self { parts: Vec::new(), args: Default::default(), error: None }
    }

    /// Adds a statement; its values follow with [`Batch::bind`].
    pub(crate) fn add(&mut self, sql: &str) -> &mut Self {
        use sqlx::Arguments;
        self.parts.push(renumber(sql, self.args.len()));
        self
    }

    /// Binds the next value.
    pub(crate) fn bind<'t, T: sqlx::Encode<'t, DB> + sqlx::Type<DB>>(&mut self, value: T) -> &mut Self {
        use sqlx::Arguments;
        if let Err(e) = self.args.add(value)
            && self.error.is_none()
        {
            self.error = Some(e.to_string());
        }
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The statements joined by `join` and their values.
    pub(crate) fn finish(self, join: fn(&[String]) -> String) -> crate::Result<(String, DB::Arguments)> {
        if let Some(e) = self.error {
            return Err(crate::StoreError::Invalid(format!("internal: a value could not be encoded: {e}")));
        }
        Ok((join(&self.parts), self.args))
    }
}

/// `sql` with every placeholder `$k` written `$(k + offset)`.
fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut n = 0usize;
        let mut digits = false;
        while let Some(&(_, d)) = chars.peek() {
            let Some(v) = d.to_digit(10) else { break };
            n = n * 10 + v as usize;
            digits = true;
            chars.next();
        }
        if digits {
            out.push_str(&(n + offset).to_string());
        }
    }
    out
}

/// A unique violation inside a batch, named by the table it happened in.
pub(crate) fn batch_conflict(e: sqlx::Error, fields: &[(&str, &str)]) -> crate::StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let msg = db.message();
        let table = db.table().map(str::to_owned);
        for (t, field) in fields {
            let hit = table.as_deref() == Some(*t) || msg.contains(&format!(": {t}.")) || msg.contains(&format!(", {t}."));
            if hit {
                return crate::StoreError::Conflict { field: (*field).to_owned() };
            }
        }
    }
    crate::StoreError::Database(e)
}

#[cfg(test)]
mod batch_tests {
    #[test]
    fn placeholders_are_renumbered_past_earlier_statements() {
        assert_eq!(super::renumber("VALUES ($1,$2,$12,$2)", 0), "VALUES ($1,$2,$12,$2)");
        assert_eq!(super::renumber("VALUES ($1,$2,$12,$2) -- 5$", 7), "VALUES ($8,$9,$19,$9) -- 5$");
    }
}
