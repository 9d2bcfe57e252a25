//! Calling a script's `kube::watch` handlers: each event calls its
//! handler, and the plan the handler built (`kube::apply`, `copy_secret`,
//! `delete`, ...) is carried out when it returns. An error is logged with the
//! object's name and the script line, and the watch goes on.
//!
//! Copies of one instance elect a leader through a Lease
//! ([`crate::kube::lease`]): only the copy holding it handles events.

use super::errors::describe_error;
use super::support::{from_json, RunHandle, Watch};
use crate::kube::apply::{execute, ExecOptions};
use crate::kube::cluster::Cluster;
use crate::kube::events::{describe_object, Wake, WatchSpec};
use crate::kube::lease::{Leadership, LeaseSettings, DURATION_KEY, NAMESPACE_KEY};
use crate::kube::reads::Reads;
use crate::plan::Plan;
use rhai::{Dynamic, Engine, AST};
use serde_json::Value;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

/// Runs the registered watches until Ctrl-C or SIGTERM; each event calls its
/// handler and applies the plan the handler built. Only while this copy
/// holds the instance's Lease: copies that wait send no write. The plan of
/// the script's body (`body`) is applied by each copy that starts to lead,
/// before its watches, so a waiting copy writes nothing at all.
#[allow(clippy::too_many_arguments)]
pub fn serve(
    run: &RunHandle,
    engine: &Engine,
    ast: &AST,
    cluster: &Rc<Cluster>,
    watches: Vec<Watch>,
    body: &Plan,
    options: &ExecOptions,
    wake: (Sender<Wake>, Receiver<Wake>),
) -> anyhow::Result<()> {
    let runtime = run.state().runtime.clone();
    let specs: Vec<WatchSpec> = watches.iter().map(|w| w.spec.clone()).collect();
    let lease = if options.server_dry_run {
        // A dry run persists nothing, a Lease neither: it must not keep the
        // real copies from leading.
        tracing::info!("server dry run: no leader election, handlers plan with dryRun");
        None
    } else {
        let state = run.state();
        let namespace = state.config.get(NAMESPACE_KEY).and_then(Value::as_str);
        let duration = state
            .config
            .get(DURATION_KEY)
            .and_then(Value::as_u64)
            .map(Duration::from_secs);
        Some(LeaseSettings::for_instance(
            &state.instance,
            namespace,
            duration,
        ))
    };
    crate::kube::events::serve(
        &runtime,
        cluster,
        &specs,
        lease,
        wake,
        || {
            if body.is_empty() {
                return Ok(());
            }
            // The body ran before this copy led, maybe long before: its
            // reads are not used.
            let report = run.block_on(execute(cluster, body, options, &Reads::default()))?;
            tracing::info!(
                "{}: {} (the body's plan, applied by the copy that leads)",
                run.state().instance,
                report.summary()
            );
            Ok(())
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
    event: &str,
    object: &Value,
    options: &ExecOptions,
    leadership: &mut Leadership,
) {
    let who = describe_object(&watch.spec.kind, object);
    tracing::debug!("{event} {who}");
    run.state().start_evaluation();
    let argument = match from_json(object) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("{who} ({event}): cannot pass the object to the handler: {e}");
            return;
        }
    };
    let result: Result<Dynamic, _> = watch
        .handler
        .call(engine, ast, (event.to_string(), argument));
    if let Err(e) = result {
        let source = ast.source().unwrap_or("<script>");
        tracing::error!(
            "handler for {who} ({event}) failed: {}",
            describe_error(&e, source)
        );
        return;
    }
    let (plan, reads) = {
        let mut state = run.state();
        (
            std::mem::take(&mut state.plan),
            std::mem::take(&mut state.reads),
        )
    };
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
        ..*options
    };
    if let Err(e) = run.block_on(execute(cluster, &plan, &options, &reads)) {
        tracing::error!(
            "handler for {who} ({event}): {}",
            crate::kube::error::chain(&e)
        );
    }
}
