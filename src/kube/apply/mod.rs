//! Carrying out a plan: check everything, then write in order.
//!
//! Before the first write every kind is resolved through discovery, every
//! target is read, secret copies are checked (source present, target ours),
//! and the user's permissions are reviewed; any problem stops the run with
//! nothing written. Writes are server-side applies (field manager `wildrun`,
//! strict field validation). An object was created when the server answers
//! `201 Created`; configured or left unchanged is read from its
//! resourceVersion before and after. When a
//! write fails the run stops and says what was applied and what was not; a
//! re-run converges.

mod batches;
mod options;
mod outcomes;
mod preflight;
mod snapshot;
#[cfg(test)]
mod tests;
mod writes;

pub use options::ExecOptions;

use crate::kube::cluster::Cluster;
use crate::kube::error::{KubeError, Result};
use crate::kube::fence::{Fence, Unfenced};
use crate::kube::permissions::Permissions;
use crate::kube::reads::Reads;
use crate::kube::report::Report;
use crate::plan::Plan;
use batches::{batches, Batch, CONCURRENT_NAMESPACES};
use futures::StreamExt;
use outcomes::StepOutcomes;
use preflight::{
    check_step, missing_namespaces, needs, new_namespaces, planned_namespaces, resolve_step,
    CheckedStep,
};
use snapshot::read_targets;
use std::cell::RefCell;
use writes::run_step;

/// Checks the whole plan, then carries it out: cluster-scoped objects and
/// waits one at a time in plan order, the steps of different namespaces
/// side by side, each namespace's once its Namespace is there (see
/// [`batches`]). `script_reads`: what the evaluation that made the plan
/// read just before, which the checks do not read again (empty when the
/// plan was made a while ago).
pub(crate) async fn execute(
    cluster: &Cluster,
    plan: &Plan,
    options: &ExecOptions,
    script_reads: &Reads,
) -> Result<Report> {
    execute_fenced(cluster, plan, options, script_reads, &Unfenced).await
}

/// [`execute`], asking `fence` before each step: when it says no, nothing
/// more starts, and the error ([`KubeError::Fenced`]) says what was done
/// and what was not.
pub(crate) async fn execute_fenced(
    cluster: &Cluster,
    plan: &Plan,
    options: &ExecOptions,
    script_reads: &Reads,
    fence: &dyn Fence,
) -> Result<Report> {
    let ordered = plan.ordered();
    let mut problems = Vec::new();
    // 1. Kinds, through discovery (once per process, see Cluster::resolve).
    let mut kinds = Vec::with_capacity(ordered.len());
    for planned in &ordered {
        kinds.push(resolve_step(cluster, planned, &mut problems).await?);
    }
    // 2. Every object the checks need, read once each, several at a time.
    let planned_ns = planned_namespaces(&ordered);
    let (snapshot, existing_ns) =
        read_targets(cluster, script_reads, &ordered, &kinds, &planned_ns).await?;
    // 3. The checks, on what was read.
    let prepared: Vec<CheckedStep<'_>> = ordered
        .iter()
        .zip(kinds)
        .map(|(planned, kind)| check_step(planned, kind, &snapshot, options, &mut problems))
        .collect();
    problems.extend(missing_namespaces(&prepared, &planned_ns, &existing_ns));
    if problems.is_empty() {
        let permissions = Permissions::new(cluster);
        problems.extend(permissions.check(&needs(&prepared)).await?);
    }
    if !problems.is_empty() {
        return Err(KubeError::Refused { problems });
    }

    // 4. The writes.
    let dry_run = options.server_dry_run;
    let fresh_namespaces = new_namespaces(&prepared);
    let progress = RefCell::new(StepOutcomes::new(prepared.len(), options));
    let run = |index: usize| {
        let (prepared, fresh_namespaces, progress) = (&prepared, &fresh_namespaces, &progress);
        async move {
            if let Err(why) = fence.check() {
                progress.borrow_mut().stop(why);
                return;
            }
            let result = run_step(cluster, &prepared[index], options, fresh_namespaces).await;
            fence.written();
            progress.borrow_mut().record(index, result);
        }
    };
    for batch in batches(&prepared) {
        match batch {
            Batch::Alone(index) => run(index).await,
            Batch::Lanes { namespaces, lanes } => {
                // Signalled after each Namespace step, so that lanes waiting
                // for theirs look again.
                let made = tokio::sync::Notify::new();
                let (made, progress) = (&made, &progress);
                let creator = async move {
                    for index in namespaces {
                        if progress.borrow().failed {
                            break;
                        }
                        run(index).await;
                        made.notify_waiters();
                    }
                    made.notify_waiters();
                };
                let writer = futures::stream::iter(lanes.into_iter().map(|lane| async move {
                    if let Some(namespace) = lane.after {
                        loop {
                            // Made before looking, so no signal is missed.
                            let next = made.notified();
                            {
                                let progress = progress.borrow();
                                match &progress.outcomes[namespace] {
                                    Some(Ok(_)) => break,
                                    Some(Err(_)) => return,
                                    None if progress.failed => return,
                                    None => {}
                                }
                            }
                            next.await;
                        }
                    }
                    for index in lane.steps {
                        // After a failure nothing new starts; what is under
                        // way finishes, so that the report can say it was done.
                        if progress.borrow().failed {
                            break;
                        }
                        run(index).await;
                    }
                }))
                .buffer_unordered(CONCURRENT_NAMESPACES)
                .collect::<Vec<()>>();
                futures::join!(creator, writer);
            }
        }
        if progress.borrow().failed {
            break;
        }
    }
    let report = progress.into_inner().finish(&prepared)?;
    if dry_run {
        tracing::info!("server dry run: the API server checked the plan; nothing was persisted");
    }
    Ok(report)
}
