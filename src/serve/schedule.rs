//! When `serve` runs the job, and that it runs one at a time.
//!
//! The schedule is a cron expression in UTC: five fields (`minute hour day month weekday`) or six
//! with seconds first. It is parsed and checked to fire at all when `serve` starts, so a typo is a
//! usage error then, not a silent night without a run.
//!
//! ```text
//!  tick at next occurrence ──▶ slot free? ──yes──▶ run on its own thread (the store is blocking I/O)
//!                                        └─no───▶ skipped (logged and counted by one function)
//! ```
//!
//! The next occurrence is always computed after the previous one, never from a clock that may read
//! a millisecond early after a sleep, so an occurrence fires at most once.

use std::sync::Arc;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A validated cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    text: String,
}

impl Schedule {
    /// Parses `text`; the error names `--schedule` and says what is wrong.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let fields = text.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(format!(
                "--schedule {text:?}: {fields} fields; give 5 (minute hour day month weekday) or 6 (seconds first), in UTC"
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(text)
            .map_err(|e| format!("--schedule {text:?}: {}", e.to_string().trim_end_matches('.')))?;
        let schedule = Schedule { cron, text: text.to_string() };
        if schedule.next_after(Utc::now()).is_none() {
            return Err(format!("--schedule {text:?}: never fires (no matching date)"));
        }
        Ok(schedule)
    }

    /// The first occurrence strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&t, false).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The one slot a run occupies, and what the process counts about scheduling.
#[derive(Debug, Default)]
pub struct RunSlot {
    state: Mutex<SlotState>,
    idle: tokio::sync::Notify,
}

#[derive(Debug, Default, Clone, Copy)]
struct SlotState {
    busy: bool,
    skipped: u64,
}

/// Proof of holding the slot; frees it when dropped, even if the run panicked.
#[derive(Debug)]
pub struct SlotGuard {
    slot: Arc<RunSlot>,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.slot.state.lock().unwrap_or_else(|p| p.into_inner()).busy = false;
        self.slot.idle.notify_waiters();
    }
}

impl RunSlot {
    /// Takes the slot for the occurrence `due`, or counts and logs it as skipped.
    pub fn try_take(self: &Arc<Self>, due: DateTime<Utc>) -> Option<SlotGuard> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.busy {
            state.skipped += 1;
            tracing::warn!(
                due = %due.to_rfc3339(),
                skipped_total = state.skipped,
                "scheduled run skipped: the previous run is still going"
            );
            return None;
        }
        state.busy = true;
        Some(SlotGuard { slot: Arc::clone(self) })
    }

    pub fn busy(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).busy
    }

    pub fn skipped(&self) -> u64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).skipped
    }

    /// Resolves once no run holds the slot.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Registered before the check, so a release between the check and the await is seen.
            notified.as_mut().enable();
            if !self.busy() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn five_fields_are_minutes_six_have_seconds_first() {
        let nightly = Schedule::parse("0 2 * * *").unwrap();
        assert_eq!(nightly.next_after(at("2026-11-27T01:59:59Z")), Some(at("2026-11-27T02:00:00Z")));
        assert_eq!(nightly.next_after(at("2026-11-27T02:00:00Z")), Some(at("2026-11-28T02:00:00Z")));
        let every_two_seconds = Schedule::parse("*/2 * * * * *").unwrap();
        assert_eq!(
            every_two_seconds.next_after(at("2026-11-27T02:00:00Z")),
            Some(at("2026-11-27T02:00:02Z")),
            "strictly after: an occurrence fires once"
        );
    }

    #[test]
    fn a_bad_schedule_names_the_flag() {
        for (text, why) in [
            ("0 2 * *", "4 fields"),
            ("0 0 2 * * * 2027", "7 fields"),
            ("61 * * * *", "--schedule \"61 * * * *\": "),
            ("0 0 30 2 *", "never fires"),
            ("nightly", "1 fields"),
        ] {
            let err = Schedule::parse(text).unwrap_err();
            assert!(err.starts_with(&format!("--schedule {text:?}")), "{err}");
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[tokio::test]
    async fn one_run_at_a_time_and_skips_are_counted() {
        let slot = Arc::new(RunSlot::default());
        let due = at("2026-11-27T02:00:00Z");
        let guard = slot.try_take(due).expect("free at first");
        assert!(slot.busy());
        assert!(slot.try_take(due).is_none());
        assert!(slot.try_take(due).is_none());
        assert_eq!(slot.skipped(), 2);
        let waiter = {
            let slot = Arc::clone(&slot);
            tokio::spawn(async move { slot.wait_idle().await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "a run holds the slot");
        drop(guard);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert!(slot.try_take(due).is_some(), "free again after the run");
    }
}
