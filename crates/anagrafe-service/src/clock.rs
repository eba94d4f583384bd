//! The time every rule reads (rule 17 of CONVENTIONS.md): deadlines, expiries, "today" in
//! Italy. Production reads the system clock; tests hold a [`FakeClock`] and move it.

use chrono::{DateTime, NaiveDate, Utc};
use std::sync::Mutex;

/// Where a service reads the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> DateTime<Utc>;

    /// Today in Italy (Europe/Rome), the date the register's rules speak of.
    fn today(&self) -> NaiveDate {
        anagrafe_domain::ops::italian_date(self.now())
    }

    /// Now in epoch milliseconds, the register's recorded-time unit.
    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug)]
pub struct FakeClock(Mutex<DateTime<Utc>>);

impl FakeClock {
    /// A clock showing `at`.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    /// A clock showing noon (UTC) of `day`.
    pub fn on(day: NaiveDate) -> Self {
        Self::at(day.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc())
    }

    /// Moves the clock on by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fake_clock_moves_only_when_told() {
        let c = FakeClock::on(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        assert_eq!(c.today(), NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        c.advance(chrono::Duration::hours(12));
        // Midnight UTC is 01:00 in Rome: already the next day there.
        assert_eq!(c.today(), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
    }
}
