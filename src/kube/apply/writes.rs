//! The writes: one step carried out (server-side apply, secret copy,
//! wait, delete, recreate), and what it did.

use super::options::ExecOptions;
use super::preflight::CheckedStep;
use super::snapshot::Live;
use crate::kube::cluster::{Cluster, Kind};
use crate::kube::error::{KubeError, Result};
use crate::kube::objects::{self, rv, server_side_apply, Applied};
use crate::kube::report::{Entry, ObjectAction};
use crate::kube::wait;
use crate::plan::{ApplyStep, Condition, ObjectRef, Propagation, Step, DEFAULT_DELETE_WAIT};
use std::collections::BTreeSet;

/// What an apply did, from the object read before it (`live`) and the
/// server's answer. A target the run read as absent but found made by
/// someone else when it wrote (two runs at once) was configured, not created.
pub(super) fn outcome(live: Option<&Live>, applied: &Applied, dry_run: bool) -> ObjectAction {
    let after = &applied.object;
    match live {
        _ if applied.created => ObjectAction::Created,
        None => ObjectAction::Configured,
        Some(before) if dry_run => {
            if before.fingerprint == objects::fingerprint(after) {
                ObjectAction::Unchanged
            } else {
                ObjectAction::Configured
            }
        }
        Some(before) if before.resource_version.as_deref() == rv(after) => ObjectAction::Unchanged,
        // Only the server's fields moved (a controller updated the status
        // between the read and the apply): this run changed nothing.
        Some(before) if before.fingerprint == objects::fingerprint(after) => {
            ObjectAction::Unchanged
        }
        Some(_) => ObjectAction::Configured,
    }
}

/// Carries out one step; the line it adds to the report.
pub(super) async fn run_step(
    cluster: &Cluster,
    p: &CheckedStep<'_>,
    options: &ExecOptions,
    fresh_namespaces: &BTreeSet<String>,
) -> Result<Entry> {
    let dry_run = options.server_dry_run;
    let Some(kind) = &p.kind else {
        return Err(KubeError::Internal(format!(
            "{} was not resolved",
            p.planned.step.display_name()
        )));
    };
    // In a server dry run, objects inside a namespace the plan would create
    // cannot be validated: the namespace does not exist on the server.
    let waits_for_namespace = |ns: &Option<String>| {
        dry_run && ns.as_ref().is_some_and(|ns| fresh_namespaces.contains(ns))
    };
    match &p.planned.step {
        Step::Apply(ApplyStep {
            object,
            force,
            recreate,
        }) => {
            let target = ObjectRef::of(object);
            if waits_for_namespace(&object.namespace) {
                let note = format!(
                    "not validated: namespace {} does not exist yet",
                    object.namespace.as_deref().unwrap_or_default()
                );
                return Ok(Entry::new(ObjectAction::Skipped, &target, Some(note)));
            }
            if *recreate && p.live.is_some() {
                let force = *force || options.force;
                return recreate_object(cluster, kind, object, force, dry_run).await;
            }
            if p.unchanged {
                return Ok(Entry::new(ObjectAction::Unchanged, &target, p.note.clone()));
            }
            // An adopted object is managed in place: wildrun's values win
            // over its maker's (what --adopt asked for).
            let after = server_side_apply(
                cluster,
                kind,
                &target,
                p.adopted_body.as_ref().unwrap_or(&object.value),
                *force || options.force || p.adopted_body.is_some(),
                dry_run,
            )
            .await
            .map_err(|e| cluster.explain(e, &format!("apply {target}")))?;
            Ok(Entry::new(
                outcome(p.live.as_deref(), &after, dry_run),
                &target,
                p.note.clone(),
            ))
        }
        Step::CopySecret(copy) => {
            let target = ObjectRef::secret(&copy.to_namespace, &copy.name);
            let Some(body) = &p.copy else {
                return Ok(Entry::new(ObjectAction::Skipped, &target, p.skip.clone()));
            };
            if waits_for_namespace(&Some(copy.to_namespace.clone())) {
                let note = format!(
                    "not validated: namespace {} does not exist yet",
                    copy.to_namespace
                );
                return Ok(Entry::new(ObjectAction::Skipped, &target, Some(note)));
            }
            if p.unchanged {
                return Ok(Entry::new(ObjectAction::Unchanged, &target, None));
            }
            // The copy is wildrun's own object (checked in the preflight): take it over.
            let after = server_side_apply(cluster, kind, &target, body, true, dry_run)
                .await
                .map_err(|e| {
                    cluster.explain(
                        e,
                        &format!("copy {}/{} to {target}", copy.from_namespace, copy.name),
                    )
                })?;
            Ok(Entry::new(
                outcome(p.live.as_deref(), &after, dry_run),
                &target,
                p.note.clone(),
            ))
        }
        Step::Wait(w) => {
            if dry_run {
                let note = format!("not waited for {} in a dry run", w.condition);
                return Ok(Entry::new(ObjectAction::Skipped, &w.target, Some(note)));
            }
            wait::until(cluster, kind, &w.target, &w.condition, w.timeout).await?;
            Ok(Entry::new(
                ObjectAction::Ready,
                &w.target,
                Some(w.condition.to_string()),
            ))
        }
        Step::Delete(d) => {
            let existed = objects::delete(cluster, kind, &d.target, d.propagation, dry_run).await?;
            // Waited for here, not in objects::delete: wait reads through
            // kube::objects, so objects must not import wait (no cycle).
            // An object that was already gone, or a dry run, has nothing to wait for.
            if let (true, Some(timeout), false) = (existed, d.wait, dry_run) {
                wait::until(cluster, kind, &d.target, &Condition::Deleted, timeout).await?;
            }
            let action = if existed {
                ObjectAction::Deleted
            } else {
                ObjectAction::Unchanged
            };
            let note = (!existed).then(|| "already absent".to_string());
            Ok(Entry::new(action, &d.target, note))
        }
    }
}

/// `#{ recreate: true }` on an object that exists: deletes it, what it
/// owns first (a Job's pods: two runs of a migration must not overlap),
/// waits until it is gone ([`DEFAULT_DELETE_WAIT`] at most), and creates it
/// again as the recipe has it. In a server dry run only the deletion is
/// validated: the object stays, so its successor cannot be.
pub(super) async fn recreate_object(
    cluster: &Cluster,
    kind: &Kind,
    object: &crate::objects::TypedObject,
    force: bool,
    dry_run: bool,
) -> Result<Entry> {
    let target = ObjectRef::of(object);
    objects::delete(cluster, kind, &target, Propagation::Foreground, dry_run).await?;
    if dry_run {
        let note = "#{ recreate: true }: would be deleted and created again".to_string();
        return Ok(Entry::new(ObjectAction::Recreated, &target, Some(note)));
    }
    let gone = &Condition::Deleted;
    wait::until(cluster, kind, &target, gone, DEFAULT_DELETE_WAIT).await?;
    server_side_apply(cluster, kind, &target, &object.value, force, false)
        .await
        .map_err(|e| cluster.explain(e, &format!("create {target} again")))?;
    let note = "#{ recreate: true }: deleted and created again".to_string();
    Ok(Entry::new(ObjectAction::Recreated, &target, Some(note)))
}

#[cfg(test)]
mod outcome_tests {
    use super::*;
    use serde_json::json;
    use serde_json::Value;

    fn object(rv: &str, replicas: u32, ready: u32) -> Value {
        json!({"metadata": {"resourceVersion": rv, "managedFields": [
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
             "time": format!("2026-01-01T00:00:{rv}Z"), "fieldsV1": {"f:status": {}}},
        ]}, "spec": {"replicas": replicas}, "status": {"readyReplicas": ready}})
    }

    /// What the preflight keeps of `object`, read as a target.
    fn kept(object: &Value) -> Live {
        let target = ObjectRef::namespace("web");
        Live::of(&target, object.clone(), None, false)
    }

    fn updated(object: Value) -> Applied {
        Applied {
            object,
            created: false,
        }
    }

    #[test]
    fn a_change_by_someone_else_is_not_reported_as_configured() {
        let before = kept(&object("10", 1, 0));
        // A controller updated the status between the read and the apply.
        let after = updated(object("11", 1, 1));
        assert_eq!(
            outcome(Some(&before), &after, false),
            ObjectAction::Unchanged
        );
        // The object itself changed.
        let changed = updated(object("12", 2, 1));
        assert_eq!(
            outcome(Some(&before), &changed, false),
            ObjectAction::Configured
        );
        assert_eq!(
            outcome(Some(&before), &updated(object("10", 1, 0)), false),
            ObjectAction::Unchanged
        );
    }

    #[test]
    fn a_server_dry_run_compares_objects_not_resource_versions() {
        let before = kept(&object("10", 1, 0));
        // Nothing persists in a dry run, so the answer can carry the old
        // resourceVersion although the apply would change the object.
        let would_change = updated(object("10", 2, 0));
        assert_eq!(
            outcome(Some(&before), &would_change, true),
            ObjectAction::Configured
        );
        assert_eq!(
            outcome(Some(&before), &would_change, false),
            ObjectAction::Unchanged
        );
        // Only server fields differ: nothing of the object would change.
        let same = updated(object("11", 1, 1));
        assert_eq!(outcome(Some(&before), &same, true), ObjectAction::Unchanged);
    }

    #[test]
    fn only_the_write_that_made_the_object_reports_it_created() {
        let made = Applied {
            object: object("11", 1, 0),
            created: true,
        };
        assert_eq!(outcome(None, &made, false), ObjectAction::Created);
        assert_eq!(outcome(None, &made, true), ObjectAction::Created);
        // Read as absent, but another run made it before this run's write.
        assert_eq!(
            outcome(None, &updated(object("11", 1, 0)), false),
            ObjectAction::Configured
        );
    }
}
