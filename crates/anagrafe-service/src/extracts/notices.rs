//! The extracts' e-mails (VIS-7, VIS-8): every morning, the requests of the day before to the
//! registry office's TOP users and mediators, with the list as a CSV file; as soon as the
//! server's job sees one, each alarm of the day (a request at night, too many requests on one
//! subject) to the TOP users. Public-security users' requests are in neither.
//!
//! Sent through the certificates' mail delivery (outbox or SMTP relay) to the addresses the
//! census keeps for the users; each sending is traced (`extract.digest_sent`,
//! `extract.alarm_sent`), and a day or an alarm found in the trace is not sent again.

use super::{Alarm, ExtractDesk, files};
use crate::certificates::MailDelivery;
use crate::{Principal, ServiceResult};
use anagrafe_domain::extract::OrganisationKind;
use anagrafe_domain::{Belfiore, Role};
use anagrafe_store::{ExtractFilter, TraceQuery};
use sha2::{Digest, Sha256};

/// What one run of the notices sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoticesSent {
    /// Daily e-mails (one per comune and day, to all its recipients).
    pub digests: usize,
    /// Alarms (one per alarm, to all the TOP users of its comune).
    pub alarms: usize,
}

/// The key an alarm is known by in the trace: never the subject's codice fiscale itself.
fn alarm_key(a: &Alarm, day: chrono::NaiveDate) -> String {
    match a {
        Alarm::Night { request, .. } => format!("night:{request}"),
        Alarm::ManyOnSubject { subject, .. } => {
            let h = Sha256::digest(subject.as_bytes());
            format!("many:{day}:{}", &hex::encode(h)[..16])
        }
    }
}

impl ExtractDesk {
    /// The TOP users of `comune`'s registry office and, unless `top_only`, its mediators: the
    /// active accounts' addresses.
    async fn recipients(&self, comune: Belfiore, top_only: bool) -> ServiceResult<Vec<String>> {
        let mut names = std::collections::BTreeSet::new();
        for org in self.store.extract_orgs(comune).await?.iter().filter(|o| o.kind == OrganisationKind::Registry) {
            for name in self.store.operator_names_in_scope(&org.code).await? {
                let Some(o) = self.store.operator(&name).await? else { continue };
                if !o.disabled && o.roles.iter().any(|g| g.role == Role::PaTop && g.scope == org.code) {
                    names.insert(name);
                }
            }
        }
        if !top_only {
            for name in self.store.operator_names_in_scope(comune.as_str()).await? {
                let Some(o) = self.store.operator(&name).await? else { continue };
                if !o.disabled && o.roles.iter().any(|g| g.role == Role::RegistryOfficer && g.mediator && g.scope == comune.as_str()) {
                    names.insert(name);
                }
            }
        }
        let names: Vec<String> = names.into_iter().collect();
        Ok(self.store.operator_emails(&names).await?.into_iter().map(|(_, e)| e).collect())
    }

    /// Sends what is due (the server's job, every few minutes): the daily e-mail of yesterday
    /// for every comune with requests, and every alarm of today not sent yet.
    pub async fn send_notices(&self, job: &Principal, mail: &MailDelivery, from: &str) -> ServiceResult<NoticesSent> {
        job.require(&[Role::SystemAdmin], "the extracts' notices")?;
        let now = self.clock.now();
        let today = anagrafe_domain::ops::italian_date(now);
        let Some(yesterday) = today.pred_opt() else { return Ok(NoticesSent::default()) };
        let day_ms = |d: chrono::NaiveDate| crate::security::italian_midnight_ms(d);
        let sent_before = |op: &str| TraceQuery { operation: Some(op.into()), ..Default::default() };
        let digests_sent = self.store.audit_search(&sent_before("extract.digest_sent"), i64::MAX, 1000).await?;
        let alarms_sent = self.store.audit_search(&sent_before("extract.alarm_sent"), i64::MAX, 2000).await?;
        let mut out = NoticesSent::default();
        // Yesterday's requests, comune by comune.
        let list = self
            .store
            .extract_requests(&ExtractFilter {
                from_ms: Some(day_ms(yesterday)),
                to_ms: Some(day_ms(today)),
                include_public_security: false,
                limit: 100_000,
                ..ExtractFilter::default()
            })
            .await?;
        let mut by_comune: std::collections::BTreeMap<Belfiore, Vec<&anagrafe_store::ExtractRequest>> = Default::default();
        for r in &list {
            by_comune.entry(r.comune).or_default().push(r);
        }
        for (comune, reqs) in by_comune {
            let tags = [format!("\"comune\":\"{comune}\""), format!("\"day\":\"{yesterday}\"")];
            if digests_sent.iter().any(|e| e.entry.outcome == "ok" && tags.iter().all(|t| e.entry.detail.contains(t))) {
                continue;
            }
            let to = self.recipients(comune, false).await?;
            if to.is_empty() {
                continue;
            }
            let orgs: std::collections::HashMap<i64, String> =
                self.store.extract_orgs(comune).await?.into_iter().map(|o| (o.id, o.name)).collect();
            let day = anagrafe_domain::date::dmy(yesterday);
            let issued = reqs.iter().filter(|r| r.protocol.is_some()).count();
            let mut text = format!(
                "Visure anagrafiche del comune {comune}, {day}: {} richieste, {issued} visure emesse.\r\n\
                 L'elenco completo è nel file allegato; le visure si consultano nell'archivio dell'applicazione.\r\n\r\n",
                reqs.len()
            );
            for r in reqs.iter().rev() {
                let at = anagrafe_domain::ops::italian_time(chrono::DateTime::from_timestamp_millis(r.requested_at).unwrap_or_default());
                text.push_str(&format!(
                    "n. {} alle {}: {} — {} — {} ({}) — {}{}\r\n",
                    r.id,
                    at.format("%H:%M"),
                    r.extract_type.title(),
                    r.subject.as_deref().unwrap_or("soggetto non trovato"),
                    r.requester_name,
                    orgs.get(&r.org_id).map(String::as_str).unwrap_or_default(),
                    r.state.label(),
                    r.protocol.map(|p| format!(", protocollo {p}")).unwrap_or_default(),
                ));
            }
            let csv = files::archive_csv(reqs.iter().copied(), &orgs);
            let name = format!("visure-{comune}-{yesterday}.csv");
            let subject = format!("Visure anagrafiche del {day}");
            let mut outcome = "ok";
            for (i, address) in to.iter().enumerate() {
                let message =
                    crate::certificates::mime_with_attachment(from, address, &subject, &text, &[(&name, "text/csv", csv.as_bytes())], now);
                // One file per recipient in an outbox.
                let file = format!("{}-visure-{comune}-{yesterday}-{i}", now.timestamp_millis());
                if let Err(e) = mail.deliver(from, address, &message, &file).await {
                    tracing::warn!(error = %e, "an extracts' daily e-mail was not delivered");
                    outcome = "failed";
                }
            }
            let mut e = job.entry("extract.digest_sent", outcome);
            e.detail =
                serde_json::json!({ "comune": comune, "day": yesterday, "requests": reqs.len(), "recipients": to.len() }).to_string();
            self.store.audit(&e).await?;
            out.digests += usize::from(outcome == "ok");
        }
        // Today's alarms, comune by comune.
        let comuni: std::collections::BTreeSet<Belfiore> = self
            .store
            .extract_requests(&ExtractFilter {
                from_ms: Some(day_ms(today)),
                include_public_security: false,
                limit: 100_000,
                ..ExtractFilter::default()
            })
            .await?
            .into_iter()
            .map(|r| r.comune)
            .collect();
        for comune in comuni {
            let alarms = self.alarms_of(comune, today).await?;
            let fresh: Vec<(String, &Alarm)> = alarms
                .iter()
                .map(|a| (alarm_key(a, today), a))
                .filter(|(k, _)| {
                    let tags = [format!("\"comune\":\"{comune}\""), format!("\"alarm\":\"{k}\"")];
                    !alarms_sent.iter().any(|e| e.entry.outcome == "ok" && tags.iter().all(|t| e.entry.detail.contains(t)))
                })
                .collect();
            if fresh.is_empty() {
                continue;
            }
            let to = self.recipients(comune, true).await?;
            if to.is_empty() {
                continue;
            }
            for (key, a) in fresh {
                let (subject, text) = match a {
                    Alarm::Night { request, requester, at_ms } => {
                        let at = anagrafe_domain::ops::italian_time(chrono::DateTime::from_timestamp_millis(*at_ms).unwrap_or_default());
                        (
                            format!("Allarme visure: richiesta notturna n. {request}"),
                            format!(
                                "La richiesta di visura n. {request} è stata fatta di notte, il {} alle {}, dall'utente {requester}.\r\n\
                                 Il dettaglio è nel monitoraggio delle visure.\r\n",
                                at.format("%d/%m/%Y"),
                                at.format("%H:%M")
                            ),
                        )
                    }
                    Alarm::ManyOnSubject { count, .. } => (
                        "Allarme visure: molte richieste su un soggetto".to_owned(),
                        format!(
                            "Oggi, {}, sono state fatte {count} richieste di visura su uno stesso soggetto, oltre la soglia di {}.\r\n\
                             Il soggetto e le richieste sono nel monitoraggio delle visure.\r\n",
                            anagrafe_domain::date::dmy(today),
                            self.settings.daily_threshold
                        ),
                    ),
                };
                let mut outcome = "ok";
                for (i, address) in to.iter().enumerate() {
                    let message = crate::certificates::mime_with_attachment(from, address, &subject, &text, &[], now);
                    let name = format!("{}-allarme-{}-{i}", now.timestamp_millis(), key.replace(':', "-"));
                    if let Err(e) = mail.deliver(from, address, &message, &name).await {
                        tracing::warn!(error = %e, "an extracts' alarm was not delivered");
                        outcome = "failed";
                    }
                }
                let mut e = job.entry("extract.alarm_sent", outcome);
                e.detail = serde_json::json!({ "comune": comune, "alarm": key, "recipients": to.len() }).to_string();
                self.store.audit(&e).await?;
                out.alarms += usize::from(outcome == "ok");
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_is_known_without_its_subject() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let many = Alarm::ManyOnSubject { subject: "RSSMRA80A01H501U".into(), count: 6 };
        let k = alarm_key(&many, d);
        assert!(k.starts_with("many:2026-12-01:") && !k.contains("RSSMRA"), "{k}");
        assert_eq!(k, alarm_key(&Alarm::ManyOnSubject { subject: "RSSMRA80A01H501U".into(), count: 7 }, d), "one alarm a day per subject");
        assert_eq!(alarm_key(&Alarm::Night { request: 9, requester: "x".into(), at_ms: 0 }, d), "night:9");
    }
}
