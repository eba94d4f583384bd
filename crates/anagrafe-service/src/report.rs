//! The security officer's periodic reports (SEC-5, issue 18 item 4): for a day, a week or a
//! month, the accesses to personal data by operation and by actor, the refusals, the alerts
//! raised, the addresses blocked and the state of the trace's chain; as JSON and as PDF (the
//! certificates' document engine, without seal or contrassegno: a report is an internal
//! record, not a certificate). The server's job makes the last period's reports and e-mails
//! them; the officer's desk and `anagrafe audit report` make any period's on demand.

use crate::security::italian_midnight_ms;
use crate::{Clock, Principal, ServiceError, ServiceResult};
use anagrafe_docs::model::{Document, Issuer, Row, Section, Table};
use anagrafe_domain::Role;
use anagrafe_store::Store;
use anagrafe_store::audit::TraceCount;
use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

/// How long a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// One Italian calendar day.
    Day,
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Period {
    /// Every period.
    pub const ALL: [Period; 3] = [Period::Day, Period::Week, Period::Month];

    /// Its name (`day`, `week`, `month`).
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// The period of a name, English or Italian (`giorno`, `settimana`, `mese`).
    pub fn parse(s: &str) -> Option<Period> {
        match s.trim() {
            "day" | "giorno" => Some(Period::Day),
            "week" | "settimana" => Some(Period::Week),
            "month" | "mese" => Some(Period::Month),
            _ => None,
        }
    }

    /// The first and last day (included) of the period that holds `day`.
    pub fn bounds(self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Period::Day => (day, day),
            Period::Week => {
                let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
                (monday, monday + Duration::days(6))
            }
            Period::Month => {
                let first = day.with_day(1).unwrap_or(day);
                let next = if first.month() == 12 {
                    NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
                };
                (first, next.map_or(first, |n| n - Duration::days(1)))
            }
        }
    }

    /// The last whole period before `today` that ended yesterday, if one did: yesterday's day
    /// always; last week on Mondays; last month on the 1st.
    pub fn just_ended(self, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        let yesterday = today.pred_opt()?;
        let (from, to) = self.bounds(yesterday);
        (to == yesterday).then_some((from, to))
    }
}

/// The state of the trace's chain at the report's making.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainState {
    /// The last entry's sequence number.
    pub head: i64,
    /// The latest signed checkpoint: its entry and time (epoch ms).
    pub last_checkpoint: Option<(i64, i64)>,
    /// Checks of the chain in the period that found it intact.
    pub checks_ok: i64,
    /// Checks of the chain in the period that found it broken.
    pub checks_broken: i64,
}

/// An alert raised in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertLine {
    /// Its number.
    pub id: i64,
    /// The rule.
    pub rule: String,
    /// What it found.
    pub key: String,
    /// The highest count.
    pub count: i64,
    /// Where it stands now.
    pub state: String,
}

/// A report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `anagrafe-security-report/1`.
    pub format: &'static str,
    /// Its period.
    pub period: Period,
    /// The first day.
    pub from: NaiveDate,
    /// The last day, included.
    pub to: NaiveDate,
    /// When it was made (epoch ms).
    pub made_at_ms: i64,
    /// Trace entries of the period, by operation, most first.
    pub by_operation: Vec<(String, i64)>,
    /// Distinct persons whose data each actor read or wrote, most first.
    pub persons_by_actor: Vec<(String, i64)>,
    /// Refused entries, by actor, most first.
    pub refusals_by_actor: Vec<(String, i64)>,
    /// Addresses blocked in the period.
    pub blocks: i64,
    /// Alerts raised in the period.
    pub alerts: Vec<AlertLine>,
    /// The chain.
    pub chain: ChainState,
}

/// The format name a report's JSON carries.
pub const FORMAT: &str = "anagrafe-security-report/1";

/// Makes the report of `period` holding `day` from the trace and the alerts (no principal: the
/// job and the desk call it; the desk checks and traces).
pub async fn build(store: &dyn Store, period: Period, day: NaiveDate, clock: &dyn Clock) -> ServiceResult<Report> {
    let (from, to) = period.bounds(day);
    let (from_ms, to_ms) = (italian_midnight_ms(from), to.succ_opt().map_or(i64::MAX, italian_midnight_ms));
    let counts = |what: TraceCount| async move { store.trace_counts(&what, from_ms, to_ms, 0).await };
    let by_operation = counts(TraceCount::ByOperation(String::new())).await?;
    let persons_by_actor = counts(TraceCount::SubjectsByActor).await?;
    let refusals_by_actor = counts(TraceCount::RefusalsByActor).await?;
    let blocks = counts(TraceCount::ByOperation("security.address_blocked".into())).await?.iter().map(|(_, n)| n).sum();
    let checks = |outcome: &'static str| async move {
        Ok::<i64, ServiceError>(
            store
                .trace_counts(&TraceCount::ByOutcome("audit.chain_check".into(), outcome.into()), from_ms, to_ms, 0)
                .await?
                .iter()
                .map(|(_, n)| n)
                .sum(),
        )
    };
    let (checks_ok, checks_broken) = (checks("ok").await?, checks("broken").await?);
    let mut alerts = Vec::new();
    let mut before = i64::MAX;
    // Newest first: walk back until the alerts are older than the period.
    'pages: loop {
        let page = store.alerts(None, before, 200).await?;
        let Some(last) = page.last() else { break };
        before = last.id;
        for a in &page {
            if a.first_seen < from_ms {
                break 'pages;
            }
            if a.first_seen < to_ms {
                alerts.push(AlertLine { id: a.id, rule: a.rule.clone(), key: a.key.clone(), count: a.count, state: a.state.to_string() });
            }
        }
    }
    alerts.reverse();
    let (head, _) = store.audit_head().await?;
    let last_checkpoint = store.checkpoints().await?.into_iter().max_by_key(|c| (c.seq, c.at_ms)).map(|c| (c.seq, c.at_ms));
    Ok(Report {
        format: FORMAT,
        period,
        from,
        to,
        made_at_ms: clock.now_ms(),
        by_operation,
        persons_by_actor,
        refusals_by_actor,
        blocks,
        alerts,
        chain: ChainState { head, last_checkpoint, checks_ok, checks_broken },
    })
}

/// The report asked for by the security officer; traced as `audit.report` (it reads the trace).
pub async fn for_officer(store: &dyn Store, who: &Principal, period: Period, day: NaiveDate, clock: &dyn Clock) -> ServiceResult<Report> {
    who.require(&[Role::SecurityOfficer], "the security reports")?;
    let r = build(store, period, day, clock).await?;
    let mut e = who.entry("audit.report", "ok");
    e.detail = serde_json::json!({ "period": period, "from": r.from, "to": r.to }).to_string();
    store.audit(&e).await?;
    Ok(r)
}

/// The report as JSON.
pub fn json(r: &Report) -> Vec<u8> {
    serde_json::to_vec_pretty(r).unwrap_or_default()
}

/// The name of a report's files, without extension (`rapporto-sicurezza-week-2026-11-30`).
pub fn file_stem(r: &Report) -> String {
    format!("rapporto-sicurezza-{}-{}", r.period.as_str(), r.from)
}

/// The report as a document for the engine: Italian, A4, no seal and no contrassegno.
pub fn document(r: &Report) -> Document {
    let it = |s: &str| vec![s.to_owned()];
    let dmy = anagrafe_domain::date::dmy;
    let period = match r.period {
        Period::Day => format!("giorno {}", dmy(r.from)),
        Period::Week => format!("settimana dal {} al {}", dmy(r.from), dmy(r.to)),
        Period::Month => format!("mese dal {} al {}", dmy(r.from), dmy(r.to)),
    };
    let made = chrono::DateTime::from_timestamp_millis(r.made_at_ms).unwrap_or_default();
    let time = |ms: i64| {
        anagrafe_domain::ops::italian_time(chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default())
            .format("%d/%m/%Y %H:%M")
            .to_string()
    };
    let top = |rows: &[(String, i64)]| rows.iter().take(30).map(|(k, n)| vec![k.clone(), n.to_string()]).collect::<Vec<_>>();
    let chain = &r.chain;
    let mut chain_rows = vec![
        Row { label: it("Voci del tracciamento"), value: chain.head.to_string() },
        Row {
            label: it("Ultimo sigillo firmato"),
            value: chain.last_checkpoint.map_or_else(|| "nessuno".to_owned(), |(seq, at)| format!("voce {seq}, {}", time(at))),
        },
        Row { label: it("Verifiche della catena riuscite nel periodo"), value: chain.checks_ok.to_string() },
        Row { label: it("Verifiche della catena fallite nel periodo"), value: chain.checks_broken.to_string() },
    ];
    if chain.checks_broken > 0 {
        chain_rows
            .push(Row { label: it("Attenzione"), value: "la catena non è risultata integra: seguire la procedura di incidente".into() });
    }
    let totals = Section {
        title: it("Sintesi"),
        rows: vec![
            Row { label: it("Periodo"), value: period.clone() },
            Row { label: it("Voci del periodo"), value: r.by_operation.iter().map(|(_, n)| n).sum::<i64>().to_string() },
            Row { label: it("Rifiuti"), value: r.refusals_by_actor.iter().map(|(_, n)| n).sum::<i64>().to_string() },
            Row { label: it("Allarmi sollevati"), value: r.alerts.len().to_string() },
            Row { label: it("Indirizzi bloccati"), value: r.blocks.to_string() },
        ],
    };
    let mut tables = vec![
        Table { title: it("Operazioni del periodo"), head: vec![it("Operazione"), it("Voci")], rows: top(&r.by_operation) },
        Table { title: it("Persone consultate per attore"), head: vec![it("Attore"), it("Persone")], rows: top(&r.persons_by_actor) },
    ];
    if !r.refusals_by_actor.is_empty() {
        tables.push(Table { title: it("Rifiuti per attore"), head: vec![it("Attore"), it("Rifiuti")], rows: top(&r.refusals_by_actor) });
    }
    if !r.alerts.is_empty() {
        tables.push(Table {
            title: it("Allarmi sollevati nel periodo"),
            head: vec![it("N."), it("Regola"), it("Rilevato su"), it("Conteggio"), it("Stato")],
            rows: r
                .alerts
                .iter()
                .map(|a| vec![a.id.to_string(), a.rule.clone(), a.key.clone(), a.count.to_string(), a.state.clone()])
                .collect(),
        });
    }
    Document {
        langs: vec!["it".into()],
        ident: file_stem(r),
        issuer: Issuer {
            heading: "Anagrafe Nazionale della Popolazione Residente".into(),
            administration: "Ministero dell'Interno".into(),
            office: it("Responsabile della sicurezza"),
        },
        title: vec!["Rapporto di sicurezza".into(), period],
        intro: vec!["Accessi ai dati personali, rifiuti, allarmi, blocchi e stato del tracciamento nel periodo (ora italiana).".into()],
        sections: vec![totals, Section { title: it("Tracciamento"), rows: chain_rows }],
        tables,
        notes: vec![it(
            "Documento interno del responsabile della sicurezza, generato dal tracciamento: non è un certificato. Le tabelle mostrano al più 30 righe; il file JSON dello stesso rapporto le contiene tutte.",
        )],
        stamp: Vec::new(),
        issued_at: made,
        issued_text: time(r.made_at_ms),
        valid_until: None,
        number: None,
        verify_hint: None,
        preview: false,
    }
}

/// The reports' own layout engine (fonts and template loaded once, on first use).
pub(crate) fn engine() -> std::sync::Arc<anagrafe_docs::Engine> {
    static ENGINE: std::sync::OnceLock<std::sync::Arc<anagrafe_docs::Engine>> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| std::sync::Arc::new(anagrafe_docs::Engine::default())).clone()
}

/// The report as PDF.
pub async fn pdf(r: &Report) -> ServiceResult<Vec<u8>> {
    render(document(r)).await
}

/// A document laid out by the reports' engine as PDF (on a blocking thread: typst is CPU work):
/// the reports, the extracts' files, the cases' letters.
pub(crate) async fn render(doc: Document) -> ServiceResult<Vec<u8>> {
    let engine = engine();
    tokio::task::spawn_blocking(move || engine.render(&doc, None))
        .await
        .map_err(|e| ServiceError::Internal(Box::new(e)))?
        .map_err(|e| ServiceError::Internal(Box::new(e)))
}

/// `dd/mm/yyyy hh:mm`, Italian time, of an instant in epoch ms, as internal documents print it.
pub(crate) fn italian_at(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| anagrafe_domain::ops::italian_time(t).format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// What an internal document (not a certificate: Italian only, no stamp duty, no validity, no
/// number, no QR code) says, before the common frame.
pub(crate) struct Internal {
    pub ident: String,
    pub issuer: Issuer,
    pub title: Vec<String>,
    pub intro: String,
    pub sections: Vec<Section>,
    pub tables: Vec<Table>,
    pub notes: Vec<Vec<String>>,
}

impl Internal {
    /// The document, issued at `now_ms`.
    pub(crate) fn issued(self, now_ms: i64) -> Document {
        Document {
            langs: vec!["it".into()],
            ident: self.ident,
            issuer: self.issuer,
            title: self.title,
            intro: vec![self.intro],
            sections: self.sections,
            tables: self.tables,
            notes: self.notes,
            stamp: Vec::new(),
            issued_at: chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default(),
            issued_text: italian_at(now_ms),
            valid_until: None,
            number: None,
            verify_hint: None,
            preview: false,
        }
    }
}

/// Makes the reports of the periods that ended yesterday (by `clock`) and e-mails each, as PDF
/// with its JSON, to every address of `to`; each sending is traced as `audit.report_sent`, and a
/// report already sent (by the trace) is not sent again. Run hourly by the server; how many
/// reports were sent.
pub async fn send_due(
    store: &dyn Store,
    mail: &crate::certificates::MailDelivery,
    from: &str,
    to: &[String],
    clock: &dyn Clock,
) -> ServiceResult<usize> {
    if to.is_empty() {
        return Ok(0);
    }
    let today = anagrafe_domain::ops::italian_date(clock.now());
    // The latest sendings (three a day at most): a period already sent is found among them.
    let sent_before = store
        .audit_search(&anagrafe_store::TraceQuery { operation: Some("audit.report_sent".into()), ..Default::default() }, i64::MAX, 200)
        .await?;
    let job = Principal::job("reports", format!("reports-{}", clock.now_ms()));
    let mut sent = 0;
    for period in Period::ALL {
        let Some((day, _)) = period.just_ended(today) else { continue };
        let (tag, start) = (format!("\"period\":\"{}\"", period.as_str()), format!("\"from\":\"{day}\""));
        if sent_before.iter().any(|e| e.entry.outcome == "ok" && e.entry.detail.contains(&tag) && e.entry.detail.contains(&start)) {
            continue;
        }
        let r = build(store, period, day, clock).await?;
        let pdf = pdf(&r).await?;
        let stem = file_stem(&r);
        let subject = format!("Rapporto di sicurezza ({}, dal {} al {})", period.as_str(), r.from, r.to);
        let text = "In allegato il rapporto di sicurezza del periodo, in PDF e in JSON.\r\n";
        let (pdf_name, json_name) = (format!("{stem}.pdf"), format!("{stem}.json"));
        let json = json(&r);
        let mut outcome = "ok";
        for (i, address) in to.iter().enumerate() {
            let message = crate::certificates::mime_with_attachment(
                from,
                address,
                &subject,
                text,
                &[(&pdf_name, "application/pdf", &pdf), (&json_name, "application/json", &json)],
                clock.now(),
            );
            if let Err(e) = mail.deliver(from, address, &message, &format!("{}-{stem}-{i}", clock.now_ms())).await {
                tracing::warn!(error = %e, "a security report was not delivered");
                outcome = "failed";
            }
        }
        let mut e = job.entry("audit.report_sent", outcome);
        e.detail = serde_json::json!({ "period": period, "from": r.from, "to": r.to, "recipients": to.len() }).to_string();
        store.audit(&e).await?;
        sent += usize::from(outcome == "ok");
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_cover_a_day_a_week_from_monday_and_a_calendar_month() {
        assert_eq!(Period::Day.bounds(d("2026-12-07")), (d("2026-12-07"), d("2026-12-07")));
        assert_eq!(Period::Week.bounds(d("2026-12-10")), (d("2026-12-07"), d("2026-12-13")));
        assert_eq!(Period::Month.bounds(d("2026-12-10")), (d("2026-12-01"), d("2026-12-31")));
        assert_eq!(Period::Month.bounds(d("2028-02-10")), (d("2028-02-01"), d("2028-02-29")));
        // What the job sends: yesterday always, last week on Mondays, last month on the 1st.
        assert_eq!(Period::Day.just_ended(d("2026-12-08")), Some((d("2026-12-07"), d("2026-12-07"))));
        assert_eq!(Period::Week.just_ended(d("2026-12-07")), Some((d("2026-11-30"), d("2026-12-06"))));
        assert_eq!(Period::Week.just_ended(d("2026-12-08")), None);
        assert_eq!(Period::Month.just_ended(d("2027-01-01")), Some((d("2026-12-01"), d("2026-12-31"))));
        assert_eq!(Period::Month.just_ended(d("2026-12-31")), None);
        assert_eq!(Period::parse("settimana"), Some(Period::Week));
        assert_eq!(Period::parse("anno"), None);
    }
}
