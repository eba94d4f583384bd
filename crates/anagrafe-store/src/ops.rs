//! Registry operations (REG-2, IDN-6) applied in one transaction each: the state they read,
//! the rules that need it (competence, dates, the household's shape), the rows they change,
//! their events, notifications, communications to the Revenue Agency and audit entries.
//!
//! Stamped out per backend by `store_ops!`, like `store_common!`.

//! The state-dependent rules themselves are pure functions of `anagrafe_domain::rules`: here the
//! transaction reads the facts they need (under its locks), asks the rule, and writes what it
//! answers.

use anagrafe_domain::rules::Refusal;

impl From<Refusal> for crate::StoreError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::State { field, reason } => crate::StoreError::State { field, reason },
            Refusal::Unfit { field, reason } => crate::StoreError::Refused { field, reason },
            Refusal::NotCompetent { acting, competent } => crate::StoreError::Forbidden(format!(
                "comune {acting} is not competent for this record (the competent comune is {competent})"
            )),
        }
    }
}

/// A refusal naming the field (422: the request does not fit the record), for the checks of a
/// request's own shape that the domain answers with a `FieldError`.
pub(crate) fn refused(field: &str, reason: anagrafe_domain::Why) -> crate::StoreError {
    crate::StoreError::Refused { field: field.to_owned(), reason }
}

/// A household's kind as stored: `C` a cohabitation, `F` a family.
pub(crate) fn is_cohabitation(kind: &str) -> bool {
    kind == "C"
}

macro_rules! store_ops {
    ($store:ty, $db:ty) => {
        impl $store {
            /// The person an ID belongs to, if that ID is valid (not suspended nor invalid).
            async fn resolve_valid(tx: &mut sqlx::Transaction<'_, $db>, id: &anagrafe_domain::IdAnpr, field: &str) -> crate::Result<i64> {
                let (pid, status) = Self::resolve_any(tx, id).await?;
                anagrafe_domain::rules::usable_id(status, field)?;
                Ok(pid)
            }

            async fn resolve_any(tx: &mut sqlx::Transaction<'_, $db>, id: &anagrafe_domain::IdAnpr) -> crate::Result<(i64, anagrafe_domain::IdStatus)> {
                let row = sqlx::query("SELECT person_id, status FROM id_anpr_registry WHERE id_anpr = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or_else(|| crate::StoreError::NotFound(format!("ID ANPR {id}")))?;
                let code: i16 = sqlx::Row::try_get(&row, "status")?;
                let status = anagrafe_domain::IdStatus::from_code(code).ok_or_else(|| crate::StoreError::Corrupt(format!("ID status {code}")))?;
                Ok((sqlx::Row::try_get(&row, "person_id")?, status))
            }

            /// Ends the open row of a history table at `d`. When a new row `replaced` it from `d`,
            /// a row that started on `d` itself is superseded (the new one holds that day);
            /// otherwise (a closure: death, cancellation, leaving) it is kept with an empty period,
            /// so the record still shows its last data. A row that started after `d` refuses the
            /// change.
            async fn close_open(
                tx: &mut sqlx::Transaction<'_, $db>,
                table: &'static str,
                pid: i64,
                d: chrono::NaiveDate,
                now: i64,
                replaced: bool,
            ) -> crate::Result<bool> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT valid_from FROM {table} WHERE person_id = $1 AND superseded_at IS NULL AND valid_to IS NULL"
                )))
                .bind(pid)
                .fetch_optional(&mut **tx)
                .await?;
                let Some(row) = row else { return Ok(false) };
                let from: chrono::NaiveDate = sqlx::Row::try_get(&row, "valid_from")?;
                if anagrafe_domain::rules::close_at(from, d, replaced)? == anagrafe_domain::rules::Closure::Supersede {
                    let sql = format!("UPDATE {table} SET superseded_at = $2 WHERE person_id = $1 AND superseded_at IS NULL AND valid_to IS NULL");
                    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(pid).bind(now).execute(&mut **tx).await?;
                } else {
                    let sql = format!("UPDATE {table} SET valid_to = $2 WHERE person_id = $1 AND superseded_at IS NULL AND valid_to IS NULL");
                    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(pid).bind(d).execute(&mut **tx).await?;
                }
                Ok(true)
            }

            /// The household a person belongs to now: `(family_id, relation)`.
            async fn open_membership(tx: &mut sqlx::Transaction<'_, $db>, pid: i64) -> crate::Result<Option<(i64, i16)>> {
                let row = sqlx::query(
                    "SELECT family_id, relation FROM family_members WHERE person_id = $1 AND superseded_at IS NULL AND valid_to IS NULL",
                )
                .bind(pid)
                .fetch_optional(&mut **tx)
                .await?;
                row.map(|r| Ok((sqlx::Row::try_get(&r, "family_id")?, sqlx::Row::try_get(&r, "relation")?))).transpose()
            }

            /// Current members of a household: `(person_id, relation)`.
            async fn open_members(tx: &mut sqlx::Transaction<'_, $db>, family_id: i64) -> crate::Result<Vec<(i64, i16)>> {
                let rows = sqlx::query(
                    "SELECT person_id, relation FROM family_members WHERE family_id = $1 AND superseded_at IS NULL AND valid_to IS NULL \
                     ORDER BY person_id",
                )
                .bind(family_id)
                .fetch_all(&mut **tx)
                .await?;
                rows.iter().map(|r| Ok((sqlx::Row::try_get(r, "person_id")?, sqlx::Row::try_get(r, "relation")?))).collect()
            }

            /// A household as it is now (kind, comune, formation and dissolution), for the rules
            /// of `anagrafe_domain::rules`; `field` names it in the refusal when it does not exist.
            async fn household(tx: &mut sqlx::Transaction<'_, $db>, family_id: i64, field: &str) -> crate::Result<anagrafe_domain::rules::HouseholdFacts> {
                // Locked (PostgreSQL) so that joining and leaving one household serialise.
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT kind, comune, formed_on, dissolved_on FROM families WHERE id = $1{}",
                    Self::FOR_UPDATE
                )))
                .bind(family_id)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| crate::ops::refused(field, anagrafe_domain::Why::new("no-household").arg("family", family_id)))?;
                let kind: String = sqlx::Row::try_get(&row, "kind")?;
                let comune: String = sqlx::Row::try_get(&row, "comune")?;
                Ok(anagrafe_domain::rules::HouseholdFacts {
                    family_id,
                    cohabitation: crate::ops::is_cohabitation(&kind),
                    comune: crate::rows::belfiore(&comune)?,
                    formed_on: sqlx::Row::try_get(&row, "formed_on")?,
                    dissolved_on: sqlx::Row::try_get(&row, "dissolved_on")?,
                })
            }

            /// Leaves the current household at `d` (dissolving it when nobody is left). The
            /// head of a household with other members cannot leave unless `force` (a death).
            async fn leave_household(
                tx: &mut sqlx::Transaction<'_, $db>,
                pid: i64,
                d: chrono::NaiveDate,
                now: i64,
                force: bool,
            ) -> crate::Result<()> {
                let Some((fid, relation)) = Self::open_membership(tx, pid).await? else { return Ok(()) };
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT id FROM families WHERE id = $1{}", Self::FOR_UPDATE)))
                    .bind(fid)
                    .fetch_optional(&mut **tx)
                    .await?;
                let members = Self::open_members(tx, fid).await?;
                let leaving = anagrafe_domain::rules::leave(relation, members.len(), force)?;
                Self::close_open(tx, "family_members", pid, d, now, false).await?;
                if leaving == anagrafe_domain::rules::Leaving::Dissolves {
                    sqlx::query("UPDATE families SET dissolved_on = $1 WHERE id = $2").bind(d).bind(fid).execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// Whether a person may join household `family_id` on `d` in `comune`; the stored
            /// relation code (tab. 05 or 06) for `relation`.
            async fn join_check(
                tx: &mut sqlx::Transaction<'_, $db>,
                family_id: i64,
                relation: u16,
                comune: anagrafe_domain::Belfiore,
                d: chrono::NaiveDate,
            ) -> crate::Result<i16> {
                let household = Self::household(tx, family_id, "household.family_id").await?;
                Ok(anagrafe_domain::rules::join(&household, relation, comune, d)?)
            }

            /// Puts a person in a household from `d`: a new one (of which they are the head)
            /// or an existing one of the same comune. Returns the household id.
            #[allow(clippy::too_many_arguments)]
            async fn enter_household(
                tx: &mut sqlx::Transaction<'_, $db>,
                pid: i64,
                choice: &anagrafe_domain::ops::HouseholdChoice,
                comune: anagrafe_domain::Belfiore,
                d: chrono::NaiveDate,
                event_id: i64,
                now: i64,
            ) -> crate::Result<i64> {
                Self::enter_household_reserved(tx, pid, choice, comune, d, event_id, now, None).await
            }

            /// As `enter_household`, with an id already reserved for a new household.
            #[allow(clippy::too_many_arguments)]
            async fn enter_household_reserved(
                tx: &mut sqlx::Transaction<'_, $db>,
                pid: i64,
                choice: &anagrafe_domain::ops::HouseholdChoice,
                comune: anagrafe_domain::Belfiore,
                d: chrono::NaiveDate,
                event_id: i64,
                now: i64,
                reserved: Option<i64>,
            ) -> crate::Result<i64> {
                use anagrafe_domain::ops::HouseholdChoice;
                match choice {
                    HouseholdChoice::New { household, name } => {
                        let f = crate::NewFamily { kind: *household, comune, name: name.clone(), formed_on: d };
                        let fid = match reserved {
                            Some(id) => Self::insert_family_with_id(tx, id, &f, event_id).await?,
                            None => Self::insert_family(tx, &f, event_id).await?,
                        };
                        Self::insert_membership(tx, pid, fid, 1, d, event_id, now).await?;
                        Ok(fid)
                    }
                    HouseholdChoice::Join { family_id, relation } => {
                        let rel = Self::join_check(tx, *family_id, *relation, comune, d).await?;
                        Self::insert_membership(tx, pid, *family_id, rel, d, event_id, now).await?;
                        Ok(*family_id)
                    }
                }
            }

            /// A notification to `comune`, written with the write's last statement.
            fn notify(head: &mut crate::shared::Head, comune: anagrafe_domain::Belfiore, kind: &str, event_id: i64, payload: serde_json::Value, now: i64) {
                head.feed.push(crate::shared::FeedRow::Notification { comune: comune.to_string(), kind: kind.to_owned(), event_id, payload: payload.to_string(), created_at: now });
            }

            /// A communication to the Revenue Agency, written with the write's last statement.
            fn to_agency(head: &mut crate::shared::Head, kind: &str, pid: i64, event_id: i64, payload: serde_json::Value, now: i64) {
                head.feed.push(crate::shared::FeedRow::Agency { kind: kind.to_owned(), person_id: pid, event_id, payload: payload.to_string(), created_at: now });
            }

            /// Issues a new ID ANPR to a person (IDN-2): the next counter under the current
            /// key; a candidate already in the registry (issued under another key or elsewhere)
            /// is skipped with its counter.
            async fn issue_id(tx: &mut sqlx::Transaction<'_, $db>, issuer: &crate::IdIssuer, pid: i64, now: i64) -> crate::Result<anagrafe_domain::IdAnpr> {
                Self::issue_id_from(tx, issuer, pid, now, None).await
            }

            /// As `issue_id`, trying a counter already reserved first.
            async fn issue_id_from(
                tx: &mut sqlx::Transaction<'_, $db>,
                issuer: &crate::IdIssuer,
                pid: i64,
                now: i64,
                mut reserved: Option<i64>,
            ) -> crate::Result<anagrafe_domain::IdAnpr> {
                for _ in 0..64 {
                    let counter = match reserved.take() {
                        Some(c) => c,
                        None => Self::alloc(tx, "id_anpr", 1).await?,
                    };
                    let id = issuer
                        .generator
                        .id(counter as u64)
                        .ok_or_else(|| crate::StoreError::Invalid("the ID ANPR space is exhausted under this key".into()))?;
                    let inserted = Self::insert_registry(tx, &[(pid, counter, id.to_string())], issuer.key_version, now).await?;
                    if !inserted.is_empty() {
                        return Ok(id);
                    }
                }
                Err(crate::StoreError::Invalid("64 consecutive ID candidates were already issued: check the key configuration".into()))
            }

            /// Other living records holding this codice fiscale now (IDN-6 case 6).
            async fn holders_of_cf(tx: &mut sqlx::Transaction<'_, $db>, cf: &str, except: i64) -> crate::Result<Vec<i64>> {
                let rows = sqlx::query(
                    "SELECT DISTINCT g.person_id FROM person_generalita g JOIN persons p ON p.id = g.person_id \
                     WHERE g.codice_fiscale = $1 AND g.superseded_at IS NULL AND g.valid_to IS NULL AND g.person_id <> $2 \
                     AND p.status IN (1, 2) ORDER BY g.person_id LIMIT 10",
                )
                .bind(cf)
                .bind(except)
                .fetch_all(&mut **tx)
                .await?;
                rows.iter().map(|r| Ok(sqlx::Row::try_get(r, "person_id")?)).collect()
            }

            /// Flags an omocodia (different persons, one codice fiscale) for the Agency.
            async fn flag_omocodia(tx: &mut sqlx::Transaction<'_, $db>, head: &mut crate::shared::Head, pid: i64, cf: &str, event_id: i64, now: i64) -> crate::Result<bool> {
                let others = Self::holders_of_cf(tx, cf, pid).await?;
                let Some(&other) = others.first() else { return Ok(false) };
                sqlx::query(
                    "INSERT INTO omocodia_cases (person_id, other_person_id, codice_fiscale, event_id, recorded_at) VALUES ($1,$2,$3,$4,$5) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(pid)
                .bind(other)
                .bind(cf)
                .bind(event_id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Self::to_agency(head, "omocodia", pid, event_id, serde_json::json!({ "codice_fiscale": cf, "others": others.len() }), now);
                Ok(true)
            }

            async fn set_person(tx: &mut sqlx::Transaction<'_, $db>, pid: i64, status: anagrafe_domain::RegisterStatus, comune: anagrafe_domain::Belfiore, now: i64) -> crate::Result<()> {
                sqlx::query("UPDATE persons SET status = $1, comune = $2, updated_at = $3 WHERE id = $4")
                    .bind(status.code())
                    .bind(comune.as_str())
                    .bind(now)
                    .bind(pid)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Moves a person's IDs in one of the states `from` to `to` (IDN-6).
            async fn set_id_status(
                tx: &mut sqlx::Transaction<'_, $db>,
                pid: i64,
                from: anagrafe_domain::IdStatus,
                to: anagrafe_domain::IdStatus,
                now: i64,
            ) -> crate::Result<u64> {
                let done = sqlx::query("UPDATE id_anpr_registry SET status = $1, changed_at = $2 WHERE person_id = $3 AND status = $4")
                    .bind(to.code())
                    .bind(now)
                    .bind(pid)
                    .bind(from.code())
                    .execute(&mut **tx)
                    .await?;
                Ok(done.rows_affected())
            }

            /// The record as it is now, for a person the operation will change.
            async fn current(tx: &mut sqlx::Transaction<'_, $db>, pid: i64) -> crate::Result<anagrafe_domain::PersonRecord> {
                let today = anagrafe_domain::ops::italian_today();
                Ok(Self::read_person_on(&mut **tx, pid, today).await?.record)
            }

            /// The living person a valid ID names, with the record as it is now.
            async fn living_subject(tx: &mut sqlx::Transaction<'_, $db>, id: &anagrafe_domain::IdAnpr) -> crate::Result<(i64, anagrafe_domain::PersonRecord)> {
                let pid = Self::resolve_valid(tx, id, "person").await?;
                let cur = Self::current(tx, pid).await?;
                anagrafe_domain::rules::living(cur.status, "person")?;
                Ok((pid, cur))
            }

            fn audit_for(ctx: &crate::WriteContext, op: &str, pid: Option<i64>, cf: Option<String>, detail: serde_json::Value) -> crate::audit::AuditEntry {
                let mut e = crate::audit::AuditEntry::from_ctx(ctx, op, "ok");
                e.subject_person = pid;
                e.subject_cf = cf;
                e.detail = detail.to_string();
                e
            }

            async fn apply_impl(
                &self,
                op: &anagrafe_domain::ops::Operation,
                ctx: &crate::WriteContext,
                issuer: &crate::IdIssuer,
                idem: Option<&crate::Idempotency>,
            ) -> crate::Result<crate::Applied> {
                use anagrafe_domain::ops::Operation;
                // A registration creates a record nobody else can touch yet: where writers run
                // concurrently (PostgreSQL) it reserves its ids outside the transaction, writes
                // its rows, and takes the audit head — which serialises writers — only for what
                // must be in commit order (omocodia check, Agency and notification ids, audit
                // entry). Every other operation locks the head first.
                // (Only into a new household: joining one locks the household row, which the
                // other operations lock after the head — the same order must hold everywhere.)
                let late = Self::LATE_HEAD
                    && matches!(op, Operation::Register(r) if matches!(r.household, anagrafe_domain::ops::HouseholdChoice::New { .. }));
                let reserved = if late { Some(self.reserve_each(["person", "event", "family", "id_anpr"]).await?) } else { None };
                let (_write, mut tx) = self.begin_write().await?;
                let mut head = if late { crate::shared::Head::unlocked() } else { Self::lock_head(&mut tx).await? };
                // The audit rows go with the stored answer in the write's last statement.
                head.defer = true;
                let now = if late { crate::now_ms() } else { head.now };
                let mut out = crate::Applied { operation: op.name().to_owned(), ..Default::default() };
                match op {
                    Operation::Register(r) => Self::op_register(&mut tx, &mut head, r, ctx, issuer, now, reserved, &mut out).await?,
                    Operation::ChangeResidence { person, change } => Self::op_residence(&mut tx, &mut head, person, change, ctx, now, &mut out).await?,
                    Operation::Cancel { person, cancellation } => Self::op_cancel(&mut tx, &mut head, person, cancellation, ctx, now, &mut out).await?,
                    Operation::ChangeGeneralita { person, change } => Self::op_generalita(&mut tx, &mut head, person, change, ctx, now, &mut out).await?,
                    Operation::ChangeCivilStatus { person, change } => {
                        let (pid, cur) = Self::living_subject(&mut tx, person).await?;
                        anagrafe_domain::rules::competent(ctx.comune, cur.residence.competent_comune())?;
                        Self::close_open(&mut tx, "person_civil_status", pid, change.effective_date, now, true).await?;
                        let code = anagrafe_domain::rules::civil_status_mutation(change.civil_status).to_string();
                        let payload = serde_json::json!({ "civil_status": anagrafe_domain::decode::DecodeTable::code(change.civil_status) });
                        let ev = Self::insert_event(&mut tx, ctx, "mutazione", Some(&code), Some(pid), None, change.effective_date, &payload.to_string()).await?;
                        Self::insert_civil_status(&mut tx, pid, change.civil_status, change.effective_date, ev, now).await?;
                        out.event_ids.push(ev);
                        out.id_anpr = Some(*person);
                        let e = Self::audit_for(ctx, op.name(), Some(pid), cur.generalita.codice_fiscale.map(|c| c.to_string()), serde_json::json!({ "event_id": ev }));
                        out.audit_seq = Self::append_audit(&mut tx, &mut head, &e).await?;
                    }
                    Operation::MoveHousehold { person, change } => {
                        let (pid, cur) = Self::living_subject(&mut tx, person).await?;
                        let comune = cur.residence.competent_comune();
                        anagrafe_domain::rules::competent(ctx.comune, comune)?;
                        let now_in = Self::open_membership(&mut tx, pid).await?.map(|(fid, _)| fid);
                        anagrafe_domain::rules::move_household(now_in, &change.household)?;
                        let ev = Self::insert_event(&mut tx, ctx, "famiglia", Some("2"), Some(pid), None, change.effective_date, "{}").await?;
                        Self::leave_household(&mut tx, pid, change.effective_date, now, false).await?;
                        let fid = Self::enter_household(&mut tx, pid, &change.household, comune, change.effective_date, ev, now).await?;
                        sqlx::query("UPDATE events SET family_id = $1, payload = $2 WHERE id = $3")
                            .bind(fid)
                            .bind(serde_json::json!({ "family_id": fid }).to_string())
                            .bind(ev)
                            .execute(&mut *tx)
                            .await?;
                        out.event_ids.push(ev);
                        out.id_anpr = Some(*person);
                        out.family_id = Some(fid);
                        let e = Self::audit_for(ctx, op.name(), Some(pid), cur.generalita.codice_fiscale.map(|c| c.to_string()), serde_json::json!({ "event_id": ev }));
                        out.audit_seq = Self::append_audit(&mut tx, &mut head, &e).await?;
                    }
                    Operation::SetRelations { family_id, change } => {
                        let household = Self::household(&mut tx, *family_id, "family_id").await?;
                        household.open("family_id")?;
                        anagrafe_domain::rules::competent(ctx.comune, household.comune)?;
                        let current = Self::open_members(&mut tx, *family_id).await?;
                        let mut wanted = Vec::with_capacity(change.members.len());
                        for (i, m) in change.members.iter().enumerate() {
                            wanted.push((Self::resolve_valid(&mut tx, &m.id_anpr, &format!("members[{i}].id_anpr")).await?, m.relation));
                        }
                        let plan = anagrafe_domain::rules::relations(household.cohabitation, &current, &wanted)?;
                        let head_changed = plan.head_changed;
                        let code = if head_changed { "1" } else { "2" };
                        let ev = Self::insert_event(&mut tx, ctx, "famiglia", Some(code), None, Some(*family_id), change.effective_date, "{}").await?;
                        for (pid, rel) in &plan.changed {
                            Self::close_open(&mut tx, "family_members", *pid, change.effective_date, now, true).await?;
                            Self::insert_membership(&mut tx, *pid, *family_id, *rel, change.effective_date, ev, now).await?;
                        }
                        out.event_ids.push(ev);
                        out.family_id = Some(*family_id);
                        let e = Self::audit_for(ctx, op.name(), None, None, serde_json::json!({ "event_id": ev, "family_id": family_id, "head_changed": head_changed }));
                        out.audit_seq = Self::append_audit(&mut tx, &mut head, &e).await?;
                    }
                    Operation::AdoptMinor { person, adoption } => Self::op_adopt(&mut tx, &mut head, person, adoption, ctx, issuer, now, &mut out).await?,
                    Operation::RecordDocument { person, issue } => Self::op_document(&mut tx, &mut head, person, issue, ctx, now, &mut out).await?,
                    Operation::EndDocument { person, end } => Self::op_document_end(&mut tx, &mut head, person, end, ctx, &mut out).await?,
                    Operation::ReportDuplicate { persons } => {
                        let a = Self::resolve_valid(&mut tx, &persons[0], "persons[0]").await?;
                        let b = Self::resolve_valid(&mut tx, &persons[1], "persons[1]").await?;
                        anagrafe_domain::rules::two_records(a, b)?;
                        let (ra, rb) = (Self::current(&mut tx, a).await?, Self::current(&mut tx, b).await?);
                        let (ca, cb) = (ra.residence.competent_comune(), rb.residence.competent_comune());
                        anagrafe_domain::rules::competent_for_either(ctx.comune, ca, cb)?;
                        let case_id = Self::alloc(&mut tx, "duplicate", 1).await?;
                        let today = anagrafe_domain::ops::italian_today();
                        let payload = serde_json::json!({ "duplicate_case": case_id });
                        let ev = Self::insert_event(&mut tx, ctx, "duplicato", None, Some(a), None, today, &payload.to_string()).await?;
                        sqlx::query("INSERT INTO duplicate_cases (id, person_a, person_b, reported_event) VALUES ($1,$2,$3,$4)")
                            .bind(case_id)
                            .bind(a)
                            .bind(b)
                            .bind(ev)
                            .execute(&mut *tx)
                            .await?;
                        for pid in [a, b] {
                            Self::set_id_status(&mut tx, pid, anagrafe_domain::IdStatus::Valid, anagrafe_domain::IdStatus::Suspended, now).await?;
                        }
                        for (c, id) in [(ca, persons[0]), (cb, persons[1])] {
                            if ctx.comune != Some(c) {
                                Self::notify(&mut head, c, "doppia_iscrizione_segnalata", ev, serde_json::json!({ "id_anpr": id, "duplicate_case": case_id }), now);
                                out.notifications += 1;
                            }
                        }
                        out.event_ids.push(ev);
                        out.duplicate_case = Some(case_id);
                        let e = Self::audit_for(ctx, op.name(), Some(a), None, serde_json::json!({ "event_id": ev, "duplicate_case": case_id, "other_person": b }));
                        out.audit_seq = Self::append_audit(&mut tx, &mut head, &e).await?;
                    }
                    Operation::DismissDuplicate { persons } => {
                        // Either comune concerned may say the two records are different people:
                        // a report cannot freeze another comune's record for ever.
                        let (a, sa) = Self::resolve_any(&mut tx, &persons[0]).await?;
                        let (b, sb) = Self::resolve_any(&mut tx, &persons[1]).await?;
                        let case = sqlx::query(
                            "SELECT id FROM duplicate_cases WHERE resolved_event IS NULL AND \
                             ((person_a = $1 AND person_b = $2) OR (person_a = $2 AND person_b = $1))",
                        )
                        .bind(a)
                        .bind(b)
                        .fetch_optional(&mut *tx)
                        .await?;
                        let case = case.map(|r| sqlx::Row::try_get::<i64, _>(&r, "id")).transpose()?;
                        let case_id = anagrafe_domain::rules::open_duplicate_case(case, sa, sb, "persons")?;
                        let (ra, rb) = (Self::current(&mut tx, a).await?, Self::current(&mut tx, b).await?);
                        let (ca, cb) = (ra.residence.competent_comune(), rb.residence.competent_comune());
                        anagrafe_domain::rules::competent_for_either(ctx.comune, ca, cb)?;
                        let payload = serde_json::json!({ "duplicate_case": case_id, "dismissed": true });
                        let ev = Self::insert_event(&mut tx, ctx, "duplicato", None, Some(a), None, anagrafe_domain::ops::italian_today(), &payload.to_string()).await?;
                        for pid in [a, b] {
                            Self::set_id_status(&mut tx, pid, anagrafe_domain::IdStatus::Suspended, anagrafe_domain::IdStatus::Valid, now).await?;
                        }
                        sqlx::query("UPDATE duplicate_cases SET resolved_event = $1 WHERE id = $2").bind(ev).bind(case_id).execute(&mut *tx).await?;
                        for (c, id) in [(ca, persons[0]), (cb, persons[1])] {
                            if ctx.comune != Some(c) {
                                Self::notify(&mut head, c, "doppia_iscrizione_archiviata", ev, serde_json::json!({ "id_anpr": id, "duplicate_case": case_id }), now);
                                out.notifications += 1;
                            }
                        }
                        out.event_ids.push(ev);
                        out.duplicate_case = Some(case_id);
                        let e = Self::audit_for(ctx, op.name(), Some(a), None, serde_json::json!({ "event_id": ev, "duplicate_case": case_id, "other_person": b }));
                        out.audit_seq = Self::append_audit(&mut tx, &mut head, &e).await?;
                    }
                    Operation::ResolveDuplicate { keep, delete } => {
                        let (k, ks) = Self::resolve_any(&mut tx, keep).await?;
                        let (d, ds) = Self::resolve_any(&mut tx, delete).await?;
                        let case = sqlx::query(
                            "SELECT id FROM duplicate_cases WHERE resolved_event IS NULL AND \
                             ((person_a = $1 AND person_b = $2) OR (person_a = $2 AND person_b = $1))",
                        )
                        .bind(k)
                        .bind(d)
                        .fetch_optional(&mut *tx)
                        .await?;
                        let case = case.map(|r| sqlx::Row::try_get::<i64, _>(&r, "id")).transpose()?;
                        let case_id = anagrafe_domain::rules::open_duplicate_case(case, ks, ds, "delete")?;
                        let gone = Self::current(&mut tx, d).await?;
                        anagrafe_domain::rules::competent(ctx.comune, gone.residence.competent_comune())?;
                        let today = anagrafe_domain::ops::italian_today();
                        let payload = serde_json::json!({ "duplicate_case": case_id });
                        let ev = Self::insert_event(&mut tx, ctx, "cancellazione", Some("10"), Some(d), None, today, &payload.to_string()).await?;
                        if gone.status != anagrafe_domain::RegisterStatus::Cancelled && gone.status != anagrafe_domain::RegisterStatus::Deceased {
                            Self::close_open(&mut tx, "person_residences", d, today, now, false).await?;
                            Self::leave_household(&mut tx, d, today, now, true).await?;
                        }
                        Self::set_person(&mut tx, d, anagrafe_domain::RegisterStatus::Cancelled, gone.residence.competent_comune(), now).await?;
                        Self::set_id_status(&mut tx, d, anagrafe_domain::IdStatus::Suspended, anagrafe_domain::IdStatus::Invalid, now).await?;
                        Self::set_id_status(&mut tx, k, anagrafe_domain::IdStatus::Suspended, anagrafe_domain::IdStatus::Valid, now).await?;
                        sqlx::query("UPDATE duplicate_cases SET resolved_event = $1, deleted_person = $2 WHERE id = $3")
                            .bind(ev)
                            .bind(d)
                            .bind(case_id)
                            .execute(&mut *tx)
                            .await?;
                        out.event_ids.push(ev);
                        out.duplicate_case = Some(case_id);
                        out.id_anpr = Some(*keep);
                        let e = Self::audit_for(ctx, op.name(), Some(d), None, serde_json::json!({ "event_id": ev, "duplicate_case": case_id, "kept_person": k }));
                        out.audit_seq = Self::append_audit(&mut tx, &mut head, &e).await?;
                    }
                }
                let mut b = crate::shared::Batch::new();
                if let Some(idem) = idem {
                    let response = idem.body_sha256.as_ref().map(|_| serde_json::to_string(&out)).transpose().map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
                    b.add("INSERT INTO client_operations (actor, client_op_id, body_sha256, operation, response, recorded_at) VALUES ($1,$2,$3,$4,$5,$6)")
                        .bind(&ctx.actor)
                        .bind(&idem.client_op_id)
                        .bind(&idem.body_sha256)
                        .bind(op.name())
                        .bind(response)
                        .bind(now);
                }
                crate::shared::push_feed_rows(&mut b, &head.feed);
                Self::push_audit_rows(&mut b, &head.pending);
                Self::run_batch(&mut tx, b).await?;
                tx.commit().await?;
                Ok(out)
            }

            #[allow(clippy::too_many_arguments)]
            async fn op_register(
                tx: &mut sqlx::Transaction<'_, $db>,
                head: &mut crate::shared::Head,
                r: &anagrafe_domain::ops::Registration,
                ctx: &crate::WriteContext,
                issuer: &crate::IdIssuer,
                now: i64,
                reserved: Option<[i64; 4]>,
                out: &mut crate::Applied,
            ) -> crate::Result<()> {
                use anagrafe_domain::ops::RegistrationReason;
                use anagrafe_domain::decode::{MotivoIscrizione, MotivoIscrizioneAire};
                let reason = r.parsed_reason().map_err(|e| crate::ops::refused(&e.field, e.reason))?;
                let comune = r.residence.competent_comune();
                anagrafe_domain::rules::competent(ctx.comune, comune)?;
                let mut g = r.generalita();
                let computed = g.codice_fiscale.is_none();
                if computed {
                    g.codice_fiscale = anagrafe_domain::ops::compute_cf(&g);
                }
                // Every id this registration needs, in one statement (the household's even when
                // it joins one: a gap in household ids costs nothing).
                let [pid, ev, new_fid, counter] = match reserved {
                    Some(ids) => ids,
                    None => Self::alloc_each(tx, ["person", "event", "family", "id_anpr"]).await?,
                };
                let d = r.effective_date;
                // A birth's parents are records of the register, named by a valid ID.
                for (i, parent) in r.parents.iter().enumerate() {
                    let field = format!("parents[{i}]");
                    match Self::resolve_valid(tx, parent, &field).await {
                        Err(crate::StoreError::NotFound(_)) => return Err(crate::ops::refused(&field, anagrafe_domain::Why::new("parent-unknown"))),
                        other => { other?; }
                    }
                }
                let mut payload = serde_json::json!({
                    "reason": reason.code(), "description": r.reason_description, "origin": r.origin.map(|o| o.to_string()),
                });
                if let Some(act) = &r.birth_act {
                    payload["birth_act"] = serde_json::json!(act);
                }
                if !r.parents.is_empty() {
                    payload["parents"] = serde_json::json!(r.parents);
                }
                let kind = match reason { RegistrationReason::Apr(_) => "iscrizione", RegistrationReason::Aire(_) => "iscrizione_aire" };
                let fid = match &r.household {
                    anagrafe_domain::ops::HouseholdChoice::New { .. } => new_fid,
                    anagrafe_domain::ops::HouseholdChoice::Join { family_id, .. } => *family_id,
                };
                // A household to join is checked (and on PostgreSQL locked) before anything is written.
                let joined = match &r.household {
                    anagrafe_domain::ops::HouseholdChoice::Join { family_id, relation } => Some(Self::join_check(tx, *family_id, *relation, comune, d).await?),
                    anagrafe_domain::ops::HouseholdChoice::New { .. } => None,
                };
                let mut b = crate::shared::Batch::new();
                Self::push_event(&mut b, ev, ctx, kind, Some(&reason.code()), Some(pid), Some(fid), d, &payload.to_string());
                let status = match reason { RegistrationReason::Apr(_) => anagrafe_domain::RegisterStatus::Resident, RegistrationReason::Aire(_) => anagrafe_domain::RegisterStatus::Aire };
                let born = g.birth_date.first_day();
                let record = anagrafe_domain::PersonRecord {
                    id_anpr: None,
                    status,
                    generalita: g.clone(),
                    citizenships: r.citizenships.clone(),
                    civil_status: r.civil_status,
                    residence: r.residence.clone(),
                    household: None,
                    documents: Vec::new(),
                    email: r.email.clone(),
                    digital_domicile: r.digital_domicile.clone(),
                    death: None,
                };
                let birth_like = matches!(reason, RegistrationReason::Apr(MotivoIscrizione::Nascita) | RegistrationReason::Aire(MotivoIscrizioneAire::Nascita));
                let np = crate::NewPerson {
                    record,
                    residence_since: d,
                    civil_status_since: if birth_like { born } else { d },
                    household_since: d,
                    reason: reason.code(),
                };
                Self::push_person_rows(&mut b, pid, &np, ev, now);
                match (&r.household, joined) {
                    (anagrafe_domain::ops::HouseholdChoice::New { household, name }, _) => {
                        Self::push_family(&mut b, fid, &crate::NewFamily { kind: *household, comune, name: name.clone(), formed_on: d }, ev);
                        Self::push_membership(&mut b, pid, fid, 1, d, ev, now);
                    }
                    (anagrafe_domain::ops::HouseholdChoice::Join { .. }, rel) => {
                        Self::push_membership(&mut b, pid, fid, rel.unwrap_or_default(), d, ev, now);
                    }
                }
                // The ID ANPR from the reserved counter, in the same round trip; a candidate
                // already in the registry (issued under another key) is skipped afterwards.
                let candidate = issuer
                    .generator
                    .id(counter as u64)
                    .ok_or_else(|| crate::StoreError::Invalid("the ID ANPR space is exhausted under this key".into()))?;
                b.add(
                    "INSERT INTO id_anpr_registry (id_anpr, person_id, counter, key_version, status, issued_at, changed_at) \
                     VALUES ($1,$2,$3,$4,1,$5,$5) ON CONFLICT DO NOTHING RETURNING id_anpr",
                )
                .bind(candidate.to_string())
                .bind(pid)
                .bind(counter)
                .bind(issuer.key_version)
                .bind(now);
                let issued = Self::run_batch(tx, b).await?;
                let id = if issued.is_empty() { Self::issue_id_from(tx, issuer, pid, now, None).await? } else { candidate };
                if !head.locked {
                    let (defer, feed) = (head.defer, std::mem::take(&mut head.feed));
                    *head = Self::lock_head(tx).await?;
                    (head.defer, head.feed) = (defer, feed);
                }
                let now = head.now;
                let cf = g.codice_fiscale.map(|c| c.to_string());
                if computed && let Some(cf) = &cf {
                    Self::to_agency(head, "attribuzione_cf", pid, ev, serde_json::json!({ "id_anpr": id, "codice_fiscale": cf }), now);
                    out.revenue_messages += 1;
                }
                if let Some(cf) = &cf && Self::flag_omocodia(tx, head, pid, cf, ev, now).await? {
                    out.revenue_messages += 1;
                    out.omocodia = true;
                }
                // The comune of birth learns of a birth registered elsewhere; the comune of
                // origin learns of an immigration from it.
                let mut told = Vec::new();
                if birth_like && let anagrafe_domain::BirthPlace::Comune { code } = g.birth_place {
                    told.push((code, "nascita_registrata_altrove"));
                }
                if let (RegistrationReason::Apr(MotivoIscrizione::Immigrazione), Some(o)) = (reason, r.origin) && !o.is_foreign_state() {
                    told.push((o, "immigrazione_in_altro_comune"));
                }
                for (c, kind) in told {
                    if c != comune {
                        Self::notify(head, c, kind, ev, serde_json::json!({ "id_anpr": id, "comune": comune, "effective_date": d }), now);
                        out.notifications += 1;
                    }
                }
                out.event_ids.push(ev);
                out.id_anpr = Some(id);
                out.family_id = Some(fid);
                out.codice_fiscale = cf.clone();
                let e = Self::audit_for(ctx, "person.register", Some(pid), cf, serde_json::json!({ "event_id": ev, "reason": reason.code() }));
                out.audit_seq = Self::append_audit(tx, head, &e).await?;
                Ok(())
            }

            #[allow(clippy::too_many_arguments)]
            async fn op_residence(
                tx: &mut sqlx::Transaction<'_, $db>,
                head: &mut crate::shared::Head,
                person: &anagrafe_domain::IdAnpr,
                change: &anagrafe_domain::ops::ResidenceChange,
                ctx: &crate::WriteContext,
                now: i64,
                out: &mut crate::Applied,
            ) -> crate::Result<()> {
                use anagrafe_domain::ops::HouseholdChoice;
                let (pid, cur) = Self::living_subject(tx, person).await?;
                let to = change.residence.competent_comune();
                // The comune of the new residence decides (REG-6).
                anagrafe_domain::rules::competent(ctx.comune, to)?;
                let d = change.effective_date;
                // Who moves: the person, and the members of their household named with them.
                let membership = Self::open_membership(tx, pid).await?;
                let mut household = Vec::new();
                if let Some((fid, _)) = membership {
                    for (member, _) in Self::open_members(tx, fid).await? {
                        let born = if member == pid { cur.generalita.birth_date.first_day() } else { Self::current(tx, member).await?.generalita.birth_date.first_day() };
                        household.push((member, born));
                    }
                }
                let mut with = Vec::with_capacity(change.members.len());
                for (i, m) in change.members.iter().enumerate() {
                    with.push(Self::resolve_valid(tx, m, &format!("members[{i}]")).await?);
                }
                let together = anagrafe_domain::rules::moving_together(pid, &household, &with, d)?;
                let mut movers = vec![(pid, *person, cur)];
                for (i, (other, id)) in with.iter().zip(&change.members).enumerate() {
                    let rec = Self::current(tx, *other).await?;
                    anagrafe_domain::rules::living(rec.status, &format!("members[{i}]"))?;
                    movers.push((*other, *id, rec));
                }
                let mut plans = Vec::with_capacity(movers.len());
                for (_, _, rec) in &movers {
                    plans.push(anagrafe_domain::rules::residence_move(&rec.residence, &change.residence, &rec.citizenships, change.household.is_some(), together.whole_household)?);
                }
                let leaves = plans.iter().any(|p| p.moves_household) || change.household.is_some();
                if leaves && movers.len() > 1 && matches!(change.household, Some(HouseholdChoice::Join { .. })) {
                    return Err(anagrafe_domain::rules::Refusal::Unfit {
                        field: "household".into(),
                        reason: anagrafe_domain::Why::new("together-join"),
                    }
                    .into());
                }
                // One event per person, each with its own kind of move; the client's operation
                // id goes on the first (it is unique per client among events).
                let others = crate::WriteContext { client_op_id: None, ..ctx.clone() };
                let mut events = Vec::with_capacity(movers.len());
                for ((mpid, id, rec), plan) in movers.iter().zip(&plans) {
                    let from = rec.residence.competent_comune();
                    let payload = serde_json::json!({ "kind": plan.kind, "from": from, "to": to, "with": *mpid != pid });
                    let ev_ctx = if *mpid == pid { ctx } else { &others };
                    let ev = Self::insert_event(tx, ev_ctx, "residenza", Some("2"), Some(*mpid), None, d, &payload.to_string()).await?;
                    Self::close_open(tx, "person_residences", *mpid, d, now, true).await?;
                    Self::insert_residence(tx, *mpid, d, &change.residence, ev, now).await?;
                    Self::set_person(tx, *mpid, plan.status, to, now).await?;
                    if from != to {
                        Self::notify(head, from, "trasferimento_residenza", ev, serde_json::json!({ "id_anpr": id, "to": to, "kind": plan.kind, "effective_date": d }), now);
                        out.notifications += 1;
                    }
                    events.push(ev);
                }
                if let (true, Some(choice)) = (leaves, &change.household) {
                    // Members leave before the head (a head leaves last, when nobody else is
                    // left), and the new household takes the old head first when they move.
                    let mut relations = Vec::with_capacity(movers.len());
                    for (mpid, _, _) in &movers {
                        relations.push(Self::open_membership(tx, *mpid).await?.map(|(_, r)| r));
                    }
                    let head = (0..movers.len()).find(|&i| relations[i] == Some(1)).unwrap_or(0);
                    let mut leaving: Vec<usize> = (0..movers.len()).collect();
                    leaving.sort_by_key(|&i| i == head);
                    for &i in &leaving {
                        Self::leave_household(tx, movers[i].0, d, now, false).await?;
                    }
                    let fid = Self::enter_household(tx, movers[head].0, choice, to, d, events[head], now).await?;
                    for i in (0..movers.len()).filter(|&i| i != head) {
                        // Each keeps the relation they had (the officer corrects it on the
                        // household's page when the head is another person now).
                        let relation = relations[i].map_or(1, |r| r as u16);
                        Self::enter_household(tx, movers[i].0, &HouseholdChoice::Join { family_id: fid, relation }, to, d, events[i], now).await?;
                    }
                    out.family_id = Some(fid);
                }
                for ((mpid, _, rec), (ev, plan)) in movers.iter().zip(events.iter().zip(&plans)) {
                    out.event_ids.push(*ev);
                    let e = Self::audit_for(ctx, "person.residence", Some(*mpid), rec.generalita.codice_fiscale.map(|c| c.to_string()), serde_json::json!({ "event_id": ev, "kind": plan.kind }));
                    out.audit_seq = Self::append_audit(tx, head, &e).await?;
                }
                out.id_anpr = Some(*person);
                Ok(())
            }

            #[allow(clippy::too_many_arguments)]
            async fn op_cancel(
                tx: &mut sqlx::Transaction<'_, $db>,
                head: &mut crate::shared::Head,
                person: &anagrafe_domain::IdAnpr,
                c: &anagrafe_domain::ops::Cancellation,
                ctx: &crate::WriteContext,
                now: i64,
                out: &mut crate::Applied,
            ) -> crate::Result<()> {
                use anagrafe_domain::ops::CancellationEffect;
                use anagrafe_domain::{RegisterStatus, Residence};
                let (pid, cur) = Self::living_subject(tx, person).await?;
                let comune = cur.residence.competent_comune();
                anagrafe_domain::rules::competent(ctx.comune, comune)?;
                let aire = cur.status == RegisterStatus::Aire;
                let effect = c.effect(aire).map_err(|e| crate::ops::refused(&e.field, e.reason))?;
                let d = c.effective_date;
                let kind = if aire { "cancellazione_aire" } else { "cancellazione" };
                let payload = serde_json::json!({ "reason": c.reason, "description": c.reason_description });
                let ev = Self::insert_event(tx, ctx, kind, Some(&c.reason.to_string()), Some(pid), None, d, &payload.to_string()).await?;
                match effect {
                    CancellationEffect::Death => {
                        let death = c.death.as_ref().ok_or_else(|| crate::ops::refused("death", anagrafe_domain::Why::new("death-required")))?;
                        Self::close_open(tx, "person_residences", pid, d, now, false).await?;
                        Self::leave_household(tx, pid, d, now, true).await?;
                        Self::insert_death(tx, pid, death, ev, now).await?;
                        Self::set_person(tx, pid, RegisterStatus::Deceased, comune, now).await?;
                        if let Some(place) = death.place && !place.is_foreign_state() && place != comune {
                            Self::notify(head, place, "decesso_avvenuto_nel_comune", ev, serde_json::json!({ "id_anpr": person, "comune": comune, "date": death.date }), now);
                            out.notifications += 1;
                        }
                    }
                    CancellationEffect::ToAire => {
                        anagrafe_domain::rules::to_aire(&cur.citizenships)?;
                        let address = c.abroad.clone().ok_or_else(|| crate::ops::refused("abroad", anagrafe_domain::Why::new("abroad-required")))?;
                        Self::leave_household(tx, pid, d, now, false).await?;
                        Self::close_open(tx, "person_residences", pid, d, now, true).await?;
                        Self::insert_residence(tx, pid, d, &Residence::Abroad { address, aire_comune: comune }, ev, now).await?;
                        let household = anagrafe_domain::ops::HouseholdChoice::New { household: anagrafe_domain::HouseholdKind::Family, name: None };
                        out.family_id = Some(Self::enter_household(tx, pid, &household, comune, d, ev, now).await?);
                        Self::set_person(tx, pid, RegisterStatus::Aire, comune, now).await?;
                    }
                    CancellationEffect::Close => {
                        Self::leave_household(tx, pid, d, now, false).await?;
                        Self::close_open(tx, "person_residences", pid, d, now, false).await?;
                        Self::set_person(tx, pid, RegisterStatus::Cancelled, comune, now).await?;
                    }
                }
                out.event_ids.push(ev);
                out.id_anpr = Some(*person);
                let e = Self::audit_for(ctx, "person.cancel", Some(pid), cur.generalita.codice_fiscale.map(|c| c.to_string()), serde_json::json!({ "event_id": ev, "reason": c.reason, "aire": aire }));
                out.audit_seq = Self::append_audit(tx, head, &e).await?;
                Ok(())
            }

            #[allow(clippy::too_many_arguments)]
            async fn op_generalita(
                tx: &mut sqlx::Transaction<'_, $db>,
                head: &mut crate::shared::Head,
                person: &anagrafe_domain::IdAnpr,
                change: &anagrafe_domain::ops::GeneralitaChange,
                ctx: &crate::WriteContext,
                now: i64,
                out: &mut crate::Applied,
            ) -> crate::Result<()> {
                use anagrafe_domain::ops::GeneralitaCase;
                let pid = Self::resolve_valid(tx, person, "person").await?;
                let cur = Self::current(tx, pid).await?;
                anagrafe_domain::rules::competent(ctx.comune, cur.residence.competent_comune())?;
                let old = cur.generalita.clone();
                let outcome = anagrafe_domain::rules::generalita(change, &old, anagrafe_domain::ops::compute_cf)?;
                let (previous_cf, new_cf) = (old.codice_fiscale, outcome.new.codice_fiscale);
                let cf_changed = outcome.cf_changed;
                let payload = serde_json::json!({
                    "case": change.case, "idn6_case": change.case.number(), "previous_cf": previous_cf, "codice_fiscale": new_cf,
                });
                let ev = Self::insert_event(tx, ctx, "mutazione", Some("1"), Some(pid), None, change.effective_date, &payload.to_string()).await?;
                if outcome.unchanged {
                    // The register's data were right and its code already theirs: nothing to
                    // rewrite, only the communication to the Agency below.
                } else if change.case.is_correction() {
                    // Wrong from the start: every version is replaced, in transaction time,
                    // by the same version with the correction applied; the current version
                    // also takes the new code.
                    let versions = Self::generalita_versions(&mut **tx, pid, None).await?;
                    for (from, to, was) in versions {
                        let mut fixed = if change.case == GeneralitaCase::MaterialErrorNotAlignedRegisterRight {
                            was.clone()
                        } else {
                            change.correct_version(&old, &was)
                        };
                        if to.is_none() {
                            fixed.codice_fiscale = new_cf;
                            fixed.cf_validation = outcome.new.cf_validation;
                        }
                        sqlx::query("UPDATE person_generalita SET superseded_at = $1 WHERE person_id = $2 AND superseded_at IS NULL AND valid_from = $3")
                            .bind(now)
                            .bind(pid)
                            .bind(from)
                            .execute(&mut **tx)
                            .await?;
                        Self::insert_generalita(tx, pid, from, &fixed, ev, now).await?;
                        if let Some(to) = to {
                            sqlx::query("UPDATE person_generalita SET valid_to = $1 WHERE person_id = $2 AND valid_from = $3 AND recorded_at = $4")
                                .bind(to)
                                .bind(pid)
                                .bind(from)
                                .bind(now)
                                .execute(&mut **tx)
                                .await?;
                        }
                    }
                } else {
                    Self::close_open(tx, "person_generalita", pid, outcome.from, now, true).await?;
                    Self::insert_generalita(tx, pid, outcome.from, &outcome.new, ev, now).await?;
                }
                if cf_changed && let (Some(p), Some(n)) = (previous_cf, new_cf) {
                    sqlx::query("INSERT INTO cf_links (person_id, event_id, previous_cf, new_cf, recorded_at) VALUES ($1,$2,$3,$4,$5)")
                        .bind(pid)
                        .bind(ev)
                        .bind(p.as_str())
                        .bind(n.as_str())
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                }
                if let Some(sent) = &outcome.tell_agency {
                    Self::to_agency(
                        head,
                        "variazione_dati",
                        pid,
                        ev,
                        serde_json::json!({
                            "idn6_case": change.case.number(), "id_anpr": person, "previous_cf": previous_cf, "codice_fiscale": new_cf,
                            "surname": sent.name.surname(), "given_name": sent.name.given(), "sex": sent.sex.as_str(),
                            "birth_date": sent.birth_date, "birth_place": sent.birth_place.code(),
                        }),
                        now,
                    );
                    out.revenue_messages += 1;
                }
                if let Some(cf) = new_cf.filter(|_| cf_changed) && Self::flag_omocodia(tx, head, pid, cf.as_str(), ev, now).await? {
                    out.revenue_messages += 1;
                    out.omocodia = true;
                }
                out.event_ids.push(ev);
                out.id_anpr = Some(*person);
                out.codice_fiscale = new_cf.map(|c| c.to_string());
                let e = Self::audit_for(ctx, "person.generalita", Some(pid), new_cf.map(|c| c.to_string()), serde_json::json!({ "event_id": ev, "idn6_case": change.case.number() }));
                out.audit_seq = Self::append_audit(tx, head, &e).await?;
                Ok(())
            }

            /// IDN-6 case 4. Two writes in one transaction that share nothing: the old
            /// record's closure and the new record's registration each get their own request
            /// id, no client operation id, no reference to the other, and no notification.
            #[allow(clippy::too_many_arguments)]
            async fn op_adopt(
                tx: &mut sqlx::Transaction<'_, $db>,
                head: &mut crate::shared::Head,
                person: &anagrafe_domain::IdAnpr,
                a: &anagrafe_domain::ops::MinorAdoption,
                ctx: &crate::WriteContext,
                issuer: &crate::IdIssuer,
                now: i64,
                out: &mut crate::Applied,
            ) -> crate::Result<()> {
                use anagrafe_domain::RegisterStatus;
                let old = Self::resolve_valid(tx, person, "person").await?;
                let cur = Self::current(tx, old).await?;
                anagrafe_domain::rules::adoptable_child(cur.status)?;
                let comune = cur.residence.competent_comune();
                anagrafe_domain::rules::competent(ctx.comune, comune)?;
                let today = anagrafe_domain::ops::italian_today();
                if let Some(e) = a.check(cur.generalita.birth_date.first_day(), today).into_iter().next() {
                    return Err(crate::ops::refused(&e.field, e.reason));
                }
                let family = Self::household(tx, a.family_id, "family_id").await?;
                anagrafe_domain::rules::adoptive_household(&family)?;
                anagrafe_domain::rules::competent(ctx.comune, family.comune)?;
                let head_pid = anagrafe_domain::rules::head_of(&Self::open_members(tx, a.family_id).await?, "family_id")?;
                let residence = Self::current(tx, head_pid).await?.residence;
                let d = a.effective_date;
                let fresh = |n: u8| {
                    let mut c = ctx.clone();
                    c.client_op_id = None;
                    c.request_id = crate::ops::unlinkable_request_id(n);
                    c
                };
                // The old record closes (tab. 15 "Altro").
                let c1 = fresh(1);
                let p1 = serde_json::json!({ "reason": 13 });
                let ev1 = Self::insert_event(tx, &c1, "cancellazione", Some("13"), Some(old), None, d, &p1.to_string()).await?;
                Self::leave_household(tx, old, d, now, false).await?;
                Self::close_open(tx, "person_residences", old, d, now, false).await?;
                Self::set_person(tx, old, RegisterStatus::Cancelled, comune, now).await?;
                Self::set_id_status(tx, old, anagrafe_domain::IdStatus::Valid, anagrafe_domain::IdStatus::Invalid, now).await?;
                let e1 = Self::audit_for(&c1, "person.cancel", Some(old), cur.generalita.codice_fiscale.map(|c| c.to_string()), serde_json::json!({ "event_id": ev1, "reason": 13 }));
                Self::append_audit(tx, head, &e1).await?;
                // The new record: the same birth, the new name, a new code and a new ID.
                let c2 = fresh(2);
                let mut g = cur.generalita.clone();
                g.name = a.name.clone();
                g.codice_fiscale = anagrafe_domain::ops::compute_cf(&g);
                // A new name may keep the code (same consonants): the new record must not share
                // the old one's code, so it takes the first omocode variant nobody holds.
                if g.codice_fiscale.is_some() && g.codice_fiscale == cur.generalita.codice_fiscale
                    && let Some(base) = g.codice_fiscale
                {
                    let mut fresh = None;
                    for level in 1..=7u8 {
                        let Ok(v) = base.omocode_variant(level) else { continue };
                        let held = sqlx::query("SELECT 1 FROM person_generalita WHERE codice_fiscale = $1 LIMIT 1")
                            .bind(v.as_str())
                            .fetch_optional(&mut **tx)
                            .await?
                            .is_some();
                        if !held {
                            fresh = Some(v);
                            break;
                        }
                    }
                    g.codice_fiscale = fresh;
                }
                g.cf_validation = anagrafe_domain::decode::StatoValidazioneCf::DatiAnagraficiNonValidati;
                let pid = Self::alloc(tx, "person", 1).await?;
                let p2 = serde_json::json!({ "reason": "9", "origin": null });
                let ev2 = Self::insert_event(tx, &c2, "iscrizione", Some("9"), Some(pid), Some(a.family_id), d, &p2.to_string()).await?;
                let record = anagrafe_domain::PersonRecord {
                    id_anpr: None,
                    status: RegisterStatus::Resident,
                    generalita: g.clone(),
                    citizenships: cur.citizenships.clone(),
                    civil_status: cur.civil_status,
                    residence,
                    household: Some(anagrafe_domain::Household::Family {
                        family_id: a.family_id,
                        relation: <anagrafe_domain::decode::RelazioneParentela as anagrafe_domain::decode::DecodeTable>::from_code(a.relation)
                            .ok_or_else(|| crate::ops::refused("relation", anagrafe_domain::Why::new("not-in-table").arg("table", "05")))?,
                    }),
                    documents: Vec::new(),
                    email: None,
                    digital_domicile: None,
                    death: None,
                };
                let np = crate::NewPerson { record, residence_since: d, civil_status_since: d, household_since: d, reason: "9".into() };
                Self::insert_person_rows(tx, pid, &np, ev2, now).await?;
                let id = Self::issue_id(tx, issuer, pid, now).await?;
                let cf = g.codice_fiscale.map(|c| c.to_string());
                if let Some(cf) = &cf {
                    Self::to_agency(head, "attribuzione_cf", pid, ev2, serde_json::json!({ "id_anpr": id, "codice_fiscale": cf }), now);
                    out.revenue_messages += 1;
                }
                let e2 = Self::audit_for(&c2, "person.register", Some(pid), cf.clone(), serde_json::json!({ "event_id": ev2, "reason": "9" }));
                out.audit_seq = Self::append_audit(tx, head, &e2).await?;
                out.event_ids.push(ev2);
                out.id_anpr = Some(id);
                out.family_id = Some(a.family_id);
                out.codice_fiscale = cf;
                Ok(())
            }

            /// Records an identity document issued (REG-1), ending the one it renews on its issue.
            #[allow(clippy::too_many_arguments)]
            async fn op_document(
                tx: &mut sqlx::Transaction<'_, $db>,
                head: &mut crate::shared::Head,
                person: &anagrafe_domain::IdAnpr,
                issue: &anagrafe_domain::documents::DocumentIssue,
                ctx: &crate::WriteContext,
                now: i64,
                out: &mut crate::Applied,
            ) -> crate::Result<()> {
                use anagrafe_domain::documents::{kind_name, mutation_code};
                let (pid, cur) = Self::living_subject(tx, person).await?;
                anagrafe_domain::rules::competent(ctx.comune, cur.residence.competent_comune())?;
                let held = Self::held_documents(&mut **tx, pid).await?;
                let d = &issue.document;
                let (kind, permit) = crate::rows::document_kind_cols(&d.kind);
                // Kinds of one family share their numbers' space (a paper card and an electronic one).
                let family = match kind {
                    "cie" | "carta_identita_cartacea" => ["cie", "carta_identita_cartacea"],
                    k => [k, k],
                };
                let elsewhere: Option<i64> = sqlx::query_scalar(
                    "SELECT person_id FROM person_documents WHERE number = $1 AND kind IN ($2, $3) AND person_id <> $4 \
                     AND superseded_at IS NULL AND ended_on IS NULL LIMIT 1",
                )
                .bind(d.number.as_str())
                .bind(family[0])
                .bind(family[1])
                .bind(pid)
                .fetch_optional(&mut **tx)
                .await?;
                let renewed = anagrafe_domain::rules::document_issue(&held, elsewhere.is_some(), &cur.citizenships, issue)?;
                let code = mutation_code(&d.kind).to_string();
                let payload = serde_json::json!({
                    "document": { "kind": kind_name(&d.kind), "permit_kind": permit, "number": d.number.as_str(), "issued_on": d.issued_on, "expires_on": d.expires_on },
                    "renews": issue.renews.as_ref().map(|n| n.as_str()),
                });
                let ev = Self::insert_event(tx, ctx, "mutazione", Some(&code), Some(pid), None, d.issued_on, &payload.to_string()).await?;
                if let Some(i) = renewed {
                    let old = &held[i].document;
                    let (old_kind, _) = crate::rows::document_kind_cols(&old.kind);
                    sqlx::query(
                        "UPDATE person_documents SET ended_on = $1, end_reason = 'renewed', end_event_id = $2 \
                         WHERE person_id = $3 AND kind = $4 AND number = $5 AND superseded_at IS NULL",
                    )
                    .bind(d.issued_on)
                    .bind(ev)
                    .bind(pid)
                    .bind(old_kind)
                    .bind(old.number.as_str())
                    .execute(&mut **tx)
                    .await?;
                }
                sqlx::query(
                    "INSERT INTO person_documents (person_id, kind, permit_kind, number, issued_on, expires_on, issuer, recorded_at, event_id) \
                     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                )
                .bind(pid)
                .bind(kind)
                .bind(permit)
                .bind(d.number.as_str())
                .bind(d.issued_on)
                .bind(d.expires_on)
                .bind(d.issuer.as_deref())
                .bind(now)
                .bind(ev)
                .execute(&mut **tx)
                .await?;
                out.event_ids.push(ev);
                out.id_anpr = Some(*person);
                let e = Self::audit_for(ctx, "person.document", Some(pid), cur.generalita.codice_fiscale.map(|c| c.to_string()), serde_json::json!({ "event_id": ev, "renewal": renewed.is_some() }));
                out.audit_seq = Self::append_audit(tx, head, &e).await?;
                Ok(())
            }

            /// Records that one of the person's documents stopped being valid before its expiry.
            async fn op_document_end(
                tx: &mut sqlx::Transaction<'_, $db>,
                head: &mut crate::shared::Head,
                person: &anagrafe_domain::IdAnpr,
                end: &anagrafe_domain::documents::DocumentEnd,
                ctx: &crate::WriteContext,
                out: &mut crate::Applied,
            ) -> crate::Result<()> {
                use anagrafe_domain::documents::{kind_name, mutation_code};
                let (pid, cur) = Self::living_subject(tx, person).await?;
                anagrafe_domain::rules::competent(ctx.comune, cur.residence.competent_comune())?;
                let held = Self::held_documents(&mut **tx, pid).await?;
                let i = anagrafe_domain::rules::document_end(&held, end)?;
                let d = &held[i].document;
                let (kind, _) = crate::rows::document_kind_cols(&d.kind);
                let code = mutation_code(&d.kind).to_string();
                let payload = serde_json::json!({
                    "document": { "kind": kind_name(&d.kind), "number": d.number.as_str() }, "ended_on": end.ended_on, "reason": end.reason.as_str(),
                });
                let ev = Self::insert_event(tx, ctx, "mutazione", Some(&code), Some(pid), None, end.ended_on, &payload.to_string()).await?;
                sqlx::query(
                    "UPDATE person_documents SET ended_on = $1, end_reason = $2, end_event_id = $3 \
                     WHERE person_id = $4 AND kind = $5 AND number = $6 AND superseded_at IS NULL",
                )
                .bind(end.ended_on)
                .bind(end.reason.as_str())
                .bind(ev)
                .bind(pid)
                .bind(kind)
                .bind(d.number.as_str())
                .execute(&mut **tx)
                .await?;
                out.event_ids.push(ev);
                out.id_anpr = Some(*person);
                let e = Self::audit_for(ctx, "person.document_end", Some(pid), cur.generalita.codice_fiscale.map(|c| c.to_string()), serde_json::json!({ "event_id": ev, "reason": end.reason.as_str() }));
                out.audit_seq = Self::append_audit(tx, head, &e).await?;
                Ok(())
            }

            async fn open_duplicates_impl(&self, comune: anagrafe_domain::Belfiore) -> crate::Result<Vec<crate::DuplicateCase>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT d.id, d.person_a, d.person_b, e.recorded_at, \
                     (SELECT r.id_anpr FROM id_anpr_registry r WHERE r.person_id = d.person_a ORDER BY r.issued_at DESC LIMIT 1) AS id_anpr_a, \
                     (SELECT r.id_anpr FROM id_anpr_registry r WHERE r.person_id = d.person_b ORDER BY r.issued_at DESC LIMIT 1) AS id_anpr_b \
                     FROM duplicate_cases d JOIN events e ON e.id = d.reported_event \
                     WHERE d.resolved_event IS NULL \
                     AND EXISTS (SELECT 1 FROM persons p WHERE p.id IN (d.person_a, d.person_b) AND p.comune = $1) \
                     ORDER BY d.id LIMIT 500",
                )
                .bind(comune.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(crate::DuplicateCase {
                            id: r.try_get("id")?,
                            person_a: r.try_get("person_a")?,
                            person_b: r.try_get("person_b")?,
                            reported_at: r.try_get("recorded_at")?,
                            id_anpr_a: r.try_get("id_anpr_a")?,
                            id_anpr_b: r.try_get("id_anpr_b")?,
                        })
                    })
                    .collect()
            }
        }
    };
}
pub(crate) use store_ops;

/// A request id for one half of a minor's adoption: random, so that the two halves cannot be
/// matched through it.
pub(crate) fn unlinkable_request_id(n: u8) -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[0] ^= n;
    format!("idn6-{}", hex::encode(b))
}
