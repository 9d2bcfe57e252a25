//! Calling a script's `kube::watch` handlers: each event calls its
//! handler, and the plan the handler built (`kube::apply`, `copy_secret`,
//! `delete`, ...) is carried out when it returns. An error is logged with the
//! object's name and the script line, and the watch goes on.
//!
//! Copies of one instance elect a leader through a Lease
//! ([`crate::kube::lease`]): only the copy holding it handles events, and
//! each write of a plan is fenced by it.

use super::errors::describe_error;
use super::support::{from_json, Produced, RunHandle, Watch};
use crate::kube::apply::{execute_fenced, ExecOptions};
use crate::kube::cluster::Cluster;
use crate::kube::error::KubeError;
use crate::kube::events::{describe_object, ObjectEvent, Wake, WatchSpec};
use crate::kube::lease::{Leadership, LeaseSettings, DURATION_KEY, NAMESPACE_KEY};
use crate::kube::reads::Reads;
use crate::kube::report::Report;
use crate::plan::Plan;
use rhai::{Dynamic, Engine, AST};
use serde_json::Value;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

/// Runs the registered watches until Ctrl-C or SIGTERM; each event calls its
/// handler and applies the plan the handler built. Only while this copy
/// holds the instance's Lease: copies that wait send no write. The plan of
/// the script's body (`body`) is applied by each copy that starts to lead,
/// before its watches, so a waiting copy writes nothing at all.
#[allow(clippy::too_many_arguments)]
pub(crate) fn serve(
    run: &RunHandle,
    engine: &Engine,
    ast: &AST,
    cluster: &Rc<Cluster>,
    watches: Vec<Watch>,
    body: &Plan,
    options: &ExecOptions,
    wake: (Sender<Wake>, Receiver<Wake>),
) -> anyhow::Result<()> {
    let context = run.context();
    let specs: Vec<WatchSpec> = watches.iter().map(|w| w.spec.clone()).collect();
    let lease = if options.server_dry_run {
        // A dry run persists nothing, a Lease neither: it must not keep the
        // real copies from leading.
        tracing::info!("server dry run: no leader election, handlers plan with dryRun");
        None
    } else {
        let namespace = context.config.get(NAMESPACE_KEY).and_then(Value::as_str);
        let duration = context
            .config
            .get(DURATION_KEY)
            .and_then(Value::as_u64)
            .map(Duration::from_secs);
        Some(LeaseSettings::for_instance(
            &context.instance,
            namespace,
            duration,
        ))
    };
    crate::kube::events::serve(
        &context.runtime,
        cluster,
        &specs,
        lease,
        wake,
        |leadership| {
            if body.is_empty() {
                return Ok(());
            }
            let what = format!("{}: the body's plan", context.instance);
            // The body ran before this copy led, maybe long before: its
            // reads are not used.
            match apply_fenced(
                run,
                cluster,
                body,
                options,
                &Reads::default(),
                leadership,
                &what,
            ) {
                Ok(report) => {
                    tracing::info!(
                        "{}: {} (the body's plan, applied by the copy that leads)",
                        context.instance,
                        report.summary()
                    );
                    Ok(())
                }
                // Said; the term ends and the next leader applies it again.
                Err(KubeError::Fenced { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            }
        },
        |index, event, object, leadership| {
            handle(
                run,
                engine,
                ast,
                cluster,
                &watches[index],
                event,
                object,
                options,
                leadership,
            );
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn handle(
    run: &RunHandle,
    engine: &Engine,
    ast: &AST,
    cluster: &Rc<Cluster>,
    watch: &Watch,
    event: ObjectEvent,
    object: &Value,
    options: &ExecOptions,
    leadership: &Leadership,
) {
    let event = event_name(event);
    let who = describe_object(&watch.spec.kind, object);
    tracing::debug!("{event} {who}");
    let argument = match from_json(object) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("{who} ({event}): cannot pass the object to the handler: {e}");
            return;
        }
    };
    // The handler's evaluation is its own: its plan, reads and `run::once`.
    let (result, produced) = run.evaluate(|| {
        watch
            .handler
            .call::<Dynamic>(engine, ast, (event.to_string(), argument))
    });
    if let Err(e) = result {
        let source = ast.source().unwrap_or("<script>");
        tracing::error!(
            "handler for {who} ({event}) failed: {}",
            describe_error(&e, source)
        );
        return;
    }
    let Produced { plan, reads, .. } = produced;
    if plan.is_empty() {
        return;
    }
    if !leadership.confirm() {
        tracing::warn!(
            "handler for {who} ({event}): this copy lost the Lease while the handler ran; its plan was not applied (the copy that leads now reconciles from a full list)"
        );
        return;
    }
    let options = ExecOptions {
        quiet_unchanged: true,
        ..options.clone()
    };
    let what = format!("handler for {who} ({event})");
    match apply_fenced(run, cluster, &plan, &options, &reads, leadership, &what) {
        // Said already.
        Ok(_) | Err(KubeError::Fenced { .. }) => {}
        Err(e) => tracing::error!("{what}: {}", crate::kube::error::chain(&e)),
    }
}

/// What a handler is told happened: `"added"`, `"modified"` or `"deleted"`.
fn event_name(event: ObjectEvent) -> &'static str {
    match event {
        ObjectEvent::Added => "added",
        ObjectEvent::Modified => "modified",
        ObjectEvent::Deleted => "deleted",
    }
}

/// Carries out `plan` (of `what`, for messages) with each write fenced by
/// the Lease. A plan stopped because this copy lost the Lease is said here,
/// as a warning; so is, at `-v`, a plan that took longer than the Lease
/// lasts (a holder that did not renew meanwhile would have lost it).
fn apply_fenced(
    run: &RunHandle,
    cluster: &Cluster,
    plan: &Plan,
    options: &ExecOptions,
    reads: &Reads,
    leadership: &Leadership,
    what: &str,
) -> Result<Report, KubeError> {
    let fence = leadership.fence();
    let started = Instant::now();
    let result = run.block_on(execute_fenced(cluster, plan, options, reads, &fence));
    let took = started.elapsed();
    let stopped = matches!(result, Err(KubeError::Fenced { .. }));
    if let Some(lease) = leadership
        .lease_duration()
        .filter(|d| took > *d && !stopped)
    {
        tracing::debug!(
            "{what}: its plan of {} step(s) took {:.1}s, longer than the Lease's {}s; the Lease was renewed meanwhile on a task of its own, and each write was sent only while this copy held it",
            plan.len(),
            took.as_secs_f64(),
            lease.as_secs()
        );
    }
    if let Err(e @ KubeError::Fenced { .. }) = &result {
        tracing::warn!("{what}: {e}");
    }
    result
}
