//! The security officer's alerts and office hours (SEC-5), as pure values: the states an alert
//! moves through and which moves are allowed, and when a comune's offices are closed (reads of
//! personal data then are worth a look).

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Raised by the analysis, nobody has looked at it yet.
    Open,
    /// The security officer has taken it in hand.
    Acknowledged,
    /// Dealt with.
    Closed,
}

impl AlertState {
    /// Every state, in the order an alert usually moves.
    pub const ALL: [AlertState; 3] = [AlertState::Open, AlertState::Acknowledged, AlertState::Closed];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Closed => "closed",
        }
    }

    /// The state of a stored name.
    pub fn parse(s: &str) -> Option<AlertState> {
        AlertState::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether an alert in this state may be moved to `to`. An alert is acknowledged or closed
    /// from open, closed from acknowledged, and reopened from either later state; staying in
    /// the same state is allowed when something else changes (an assignee, a note).
    pub fn may_become(self, to: AlertState) -> bool {
        use AlertState::*;
        matches!((self, to), (Open, Open | Acknowledged | Closed) | (Acknowledged, Acknowledged | Closed | Open) | (Closed, Closed | Open))
    }
}

impl std::fmt::Display for AlertState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When the offices are open, in Italian time: from `opens` to `closes` (hours, 0–24; `opens`
/// after `closes` spans midnight) on the days of `days` (Monday first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfficeHours {
    /// The hour the offices open.
    pub opens: u32,
    /// The hour they close.
    pub closes: u32,
    /// Open days, Monday first.
    pub days: [bool; 7],
}

impl Default for OfficeHours {
    /// Monday to Saturday, 7 to 20: the widest hours of a comune's registry office.
    fn default() -> Self {
        Self { opens: 7, closes: 20, days: [true, true, true, true, true, true, false] }
    }
}

impl OfficeHours {
    /// Whether the offices are open at this Italian wall-clock time.
    pub fn is_open(&self, at: NaiveDateTime) -> bool {
        let h = at.hour();
        let in_hours = if self.opens <= self.closes { h >= self.opens && h < self.closes } else { h >= self.opens || h < self.closes };
        // A span across midnight belongs to the day it started on.
        let day = if self.opens > self.closes && h < self.closes { at.date().pred_opt().unwrap_or(at.date()) } else { at.date() };
        in_hours && self.days[day.weekday().num_days_from_monday() as usize]
    }

    /// The spans of `[from, to)` when the offices are closed, in epoch ms, merged and in order.
    /// The hours are whole Italian hours (a change to summer time moves them with it).
    pub fn closed_spans(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = Vec::new();
        // Hour by hour, starting at the whole UTC hour at or before `from` (Italian hours start
        // at whole UTC hours too).
        let mut t = from.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(from);
        while t < to {
            let next = t + Duration::hours(1);
            if !self.is_open(crate::ops::italian_time(t)) {
                let (a, b) = (t.max(from).timestamp_millis(), next.min(to).timestamp_millis());
                match out.last_mut() {
                    Some(last) if last.1 == a => last.1 = b,
                    _ => out.push((a, b)),
                }
            }
            t = next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn alerts_move_forward_and_may_be_reopened_but_never_skip_back_silently() {
        use AlertState::*;
        assert!(Open.may_become(Acknowledged) && Open.may_become(Closed) && Acknowledged.may_become(Closed));
        assert!(Closed.may_become(Open) && Acknowledged.may_become(Open));
        assert!(!Closed.may_become(Acknowledged), "a closed alert is reopened first");
        for s in AlertState::ALL {
            assert_eq!(AlertState::parse(s.as_str()), Some(s));
        }
        assert_eq!(AlertState::parse("chiuso"), None);
    }

    #[test]
    fn office_hours_follow_italian_time_and_the_days_open() {
        let h = OfficeHours::default();
        // Wednesday 2 December 2026, winter time (UTC+1): 05:59 UTC is 06:59 in Rome.
        assert!(!h.is_open(crate::ops::italian_time(utc("2026-12-02T05:59:00Z"))));
        assert!(h.is_open(crate::ops::italian_time(utc("2026-12-02T06:00:00Z"))));
        assert!(!h.is_open(crate::ops::italian_time(utc("2026-12-02T19:00:00Z"))), "20:00 in Rome");
        // Sunday 6 December at noon: closed all day.
        assert!(!h.is_open(crate::ops::italian_time(utc("2026-12-06T11:00:00Z"))));
        // Summer time (UTC+2): 05:00 UTC is 07:00 in Rome.
        assert!(h.is_open(crate::ops::italian_time(utc("2026-07-01T05:00:00Z"))));
        // A night shift across midnight, from Monday 22:00 to Tuesday 06:00, Monday only.
        let night = OfficeHours { opens: 22, closes: 6, days: [true, false, false, false, false, false, false] };
        let monday_late = crate::ops::italian_time(utc("2026-11-30T22:30:00Z"));
        assert!(night.is_open(monday_late), "23:30 on Monday");
        assert!(night.is_open(crate::ops::italian_time(utc("2026-12-01T03:00:00Z"))), "04:00 on Tuesday, Monday's shift");
        assert!(!night.is_open(crate::ops::italian_time(utc("2026-12-01T22:30:00Z"))), "23:30 on Tuesday");
    }

    #[test]
    fn closed_spans_cover_exactly_the_hours_the_offices_are_closed() {
        let h = OfficeHours::default();
        // Wednesday 2 December, 04:30 to 07:30 UTC: 05:30 to 08:30 in Rome; closed until 07:00.
        let spans = h.closed_spans(utc("2026-12-02T04:30:00Z"), utc("2026-12-02T07:30:00Z"));
        assert_eq!(spans, [(utc("2026-12-02T04:30:00Z").timestamp_millis(), utc("2026-12-02T06:00:00Z").timestamp_millis())]);
        // A whole Sunday and the evening before: one span.
        let spans = h.closed_spans(utc("2026-12-05T18:00:00Z"), utc("2026-12-07T06:00:00Z"));
        assert_eq!(spans, [(utc("2026-12-05T19:00:00Z").timestamp_millis(), utc("2026-12-07T06:00:00Z").timestamp_millis())]);
        // Office hours only: nothing.
        assert!(h.closed_spans(utc("2026-12-02T08:00:00Z"), utc("2026-12-02T12:00:00Z")).is_empty());
    }
}
