//! What the steps of a run came to, kept in plan order whatever order
//! they finish in: the report, or the error that says what was done, what
//! failed and what was not done.

use super::options::ExecOptions;
use super::preflight::CheckedStep;
use crate::kube::error::{KubeError, Result};
use crate::kube::report::{Entry, ObjectAction, Report};
use crate::plan::PlannedStep;

/// What the steps of a run came to. Steps finish in any order; the report
/// and its log lines keep plan order.
pub(super) struct StepOutcomes {
    /// Per step: `None` until it has run.
    pub(super) outcomes: Vec<Option<Result<Entry>>>,
    /// Every step before this one has succeeded and is in the report.
    pub(super) reported: usize,
    pub(super) report: Report,
    /// A step failed, or the fence stopped the plan: start no more.
    pub(super) failed: bool,
    /// Why the fence stopped the plan.
    pub(super) stopped: Option<String>,
    pub(super) dry_run: bool,
}

impl StepOutcomes {
    pub(super) fn new(steps: usize, options: &ExecOptions) -> StepOutcomes {
        StepOutcomes {
            outcomes: (0..steps).map(|_| None).collect(),
            reported: 0,
            report: Report {
                quiet_unchanged: options.quiet_unchanged,
                ..Report::default()
            },
            failed: false,
            stopped: None,
            dry_run: options.server_dry_run,
        }
    }

    /// The fence refused the next step (`why`): start no more.
    pub(super) fn stop(&mut self, why: String) {
        self.failed = true;
        self.stopped.get_or_insert(why);
    }

    /// Records how step `index` ended, and reports every step that is now
    /// next in plan order.
    pub(super) fn record(&mut self, index: usize, result: Result<Entry>) {
        self.failed |= result.is_err();
        self.outcomes[index] = Some(result);
        while let Some(Some(Ok(entry))) = self.outcomes.get(self.reported) {
            self.report.push_entry(entry.clone(), self.dry_run);
            self.reported += 1;
        }
    }

    /// The report, or after a failure an error that says what was done, what
    /// failed and what was not done.
    pub(super) fn finish(self, prepared: &[CheckedStep<'_>]) -> Result<Report> {
        if !self.failed {
            return Ok(self.report);
        }
        let StepOutcomes {
            outcomes,
            reported,
            report,
            stopped,
            dry_run,
            ..
        } = self;
        let mut failed = Vec::new();
        let mut not_done = Vec::new();
        let mut entries = Vec::new();
        for (index, outcome) in outcomes.into_iter().enumerate() {
            let step = &prepared[index].planned;
            match outcome {
                Some(Ok(entry)) => {
                    // Done in another namespace after the failure: said now.
                    if index >= reported {
                        entry.log(dry_run, report.quiet_unchanged);
                    }
                    entries.push(entry);
                }
                Some(Err(e)) => {
                    let note = format!("{}: {}", step.origin, crate::kube::error::chain(&e));
                    entries.push(Entry::for_step(
                        ObjectAction::Failed,
                        &step.step,
                        Some(note),
                    ));
                    failed.push((step, e));
                }
                None => {
                    entries.push(Entry::for_step(ObjectAction::NotDone, &step.step, None));
                    not_done.push(step.step.display_name());
                }
            }
        }
        let failed_line = |step: &PlannedStep, e: KubeError| {
            format!(
                "{} ({}: {})",
                step.step.display_name(),
                step.origin,
                crate::kube::error::chain(&e)
            )
        };
        if let Some(why) = stopped {
            return Err(KubeError::Fenced {
                why,
                done: crate::kube::error::done_lines(&entries),
                failed: failed.into_iter().map(|(s, e)| failed_line(s, e)).collect(),
                not_done,
            });
        }
        let mut failed = failed.into_iter();
        let Some((first, first_error)) = failed.next() else {
            return Err(KubeError::Internal(
                "a step failed but none is recorded".into(),
            ));
        };
        // The failing steps are neither done nor surely not done: a write
        // whose answer was lost may have taken effect.
        let mut failed_lines = vec![first.step.display_name()];
        failed_lines.extend(failed.map(|(step, e)| failed_line(step, e)));
        Err(KubeError::Failed {
            origin: first.origin.clone(),
            error: Box::new(first_error),
            failed: failed_lines,
            not_done,
            entries,
        })
    }
}
