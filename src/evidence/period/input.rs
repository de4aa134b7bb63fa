//! From the database's verified run reports to the input of [`build`](super::build): the one place
//! that decides which runs a window covers and what came before it (`report` and `serve` share it).

use chrono::{DateTime, Utc};

use super::{CoveredRun, PeriodInput, RunEvidence};
use crate::evidence::chain::RunVerdict;
use crate::store::RunStatus;

/// What the caller knows of the window; the rest comes from the verdicts.
pub struct Window {
    pub cluster: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub zone_filter: Option<String>,
    pub zones: Vec<String>,
}

/// `verdicts` are every run of the database, oldest first, as [`chain::verify_reports`] gives them
/// (crate::evidence::chain::verify_reports).
pub fn period_input(verdicts: Vec<RunVerdict>, window: Window) -> PeriodInput {
    let Window { cluster, since, until, generated_at, zone_filter, zones } = window;
    let monitoring_since = verdicts.first().map(|v| v.run.started_at);
    // The last trusted complete report before the window: findings carried into it start there.
    let before_window = verdicts
        .iter()
        .rfind(|v| {
            v.run.started_at < since && v.verification.trusted() && v.run.status == RunStatus::Complete
        })
        .and_then(|v| v.report.clone());
    let runs = verdicts
        .into_iter()
        .filter(|v| v.run.started_at >= since && v.run.started_at <= until)
        .map(run_evidence)
        .collect();
    PeriodInput {
        cluster,
        since,
        until,
        generated_at,
        zone_filter,
        zones,
        monitoring_since,
        before_window,
        runs,
    }
}

fn run_evidence(v: RunVerdict) -> RunEvidence {
    let RunVerdict { run, verification, report } = v;
    RunEvidence {
        run: CoveredRun {
            run_id: run.id,
            started_at: run.started_at,
            finished_at: run.finished_at,
            status: run.status.as_str().to_string(),
            report_digest: run.report_digest.clone(),
            verification,
            evidence_complete: run.evidence_complete,
            findings: run.findings,
        },
        report,
    }
}
