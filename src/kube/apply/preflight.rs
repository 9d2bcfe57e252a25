//! The checks before the first write: every kind resolved, every step
//! checked against what [`super::snapshot`] read (another instance's or
//! another tool's object, a secret copy's source and target, an allow list
//! open to everyone, missing namespaces), and what each write needs of the
//! user's permissions.

use super::options::ExecOptions;
use super::snapshot::{read, with_labels, Live, Snapshot};
use crate::kube::cluster::{Cluster, Kind};
use crate::kube::error::{KubeError, Result};
use crate::kube::objects::copy_object;
use crate::kube::owner::label;
use crate::kube::permissions::Need;
use crate::plan::{
    ApplyStep, ObjectRef, PlannedStep, Step, COPIED_FROM_ANNOTATION, INSTANCE_LABEL, MANAGED_BY,
    MANAGED_BY_LABEL,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A step with what the preflight learned.
pub(super) struct CheckedStep<'p> {
    pub(super) planned: &'p PlannedStep,
    pub(super) kind: Option<Kind>,
    /// What the preflight kept of the live target (apply, copy), if it exists.
    pub(super) live: Option<Arc<Live>>,
    /// The copy to write (copies whose source exists).
    pub(super) copy: Option<Value>,
    /// What to write instead of the planned object: the object with the
    /// marks of an adopted one ([`Adoption::body`]), written with force.
    pub(super) adopted_body: Option<Value>,
    /// Said beside the object in the report (`adopted: made by kubectl`).
    pub(super) note: Option<String>,
    /// Why the step will not run.
    pub(super) skip: Option<String>,
    /// The live target already holds what the step would apply, and
    /// wildrun's field manager owns exactly those fields: the step sends
    /// nothing and reports `unchanged` (see [`why_write`]).
    pub(super) unchanged: bool,
}

/// The kind a step acts on, resolved through discovery; a problem when the
/// cluster does not serve it or the object's scope does not fit.
pub(super) async fn resolve_step(
    cluster: &Cluster,
    planned: &PlannedStep,
    problems: &mut Vec<String>,
) -> Result<Option<Kind>> {
    let at = &planned.origin;
    let (api_version, kind_name) = match &planned.step {
        Step::Apply(a) => (a.object.api_version.as_str(), a.object.kind.as_str()),
        Step::CopySecret(_) => ("v1", "Secret"),
        Step::Wait(w) => (w.target.api_version.as_str(), w.target.kind.as_str()),
        Step::Delete(d) => (d.target.api_version.as_str(), d.target.kind.as_str()),
    };
    let kind = match cluster.resolve(api_version, kind_name).await {
        Ok(k) => k,
        Err(e @ (KubeError::NotServed { .. } | KubeError::NoKind { .. })) => {
            problems.push(format!("{at}: {e}"));
            return Ok(None);
        }
        // An API server that does not answer is one error for the run, not
        // one per step.
        Err(e) => return Err(e),
    };
    if let Step::Apply(ApplyStep { object, .. }) = &planned.step {
        match (kind.namespaced, &object.namespace) {
            (true, None) => problems.push(format!(
                "{at}: {} is namespaced in this cluster: set metadata.namespace",
                object.display_name()
            )),
            (false, Some(_)) => problems.push(format!(
                "{at}: {} is cluster-scoped in this cluster: remove metadata.namespace",
                object.display_name()
            )),
            _ => {}
        }
    }
    Ok(Some(kind))
}

/// Why applying `object` would take over what another instance made: its
/// live version carries another `wildrun.dev/instance`. Namespaces (and
/// objects kept for sharing) are shared by the instances in them, by design.
pub(super) fn other_instance(
    object: &crate::objects::TypedObject,
    live: Option<&Live>,
    recipe_dir: Option<&std::path::Path>,
) -> Option<String> {
    if object.kind == "Namespace" {
        return None;
    }
    let live = live?;
    let ours = label(&object.value, INSTANCE_LABEL)?;
    let theirs = live.instance.as_deref()?;
    if ours == theirs || live.kept {
        return None;
    }
    // The label holds the recipe's file name only: name its file beside
    // the running recipe when it is there.
    let recipe_file = |recipe: &str| {
        let file = format!("{recipe}.rhai");
        match recipe_dir.map(|dir| dir.join(&file)) {
            Some(beside) if beside.is_file() => beside.display().to_string(),
            _ => file,
        }
    };
    let how = match theirs.split_once('.') {
        // A shortened label no longer holds the whole --name.
        Some((recipe, _)) if crate::plan::Instance::is_shortened(theirs) => {
            format!(
                "`wildrun {} --name NAME --delete` with that instance's name",
                recipe_file(recipe)
            )
        }
        Some((recipe, name)) => {
            format!("`wildrun {} --name {name} --delete`", recipe_file(recipe))
        }
        None => format!("`wildrun {} --delete`", recipe_file(theirs)),
    };
    Some(format!(
        "{} belongs to instance {theirs} (label {INSTANCE_LABEL}), not {ours}; wildrun will not take it over. To move it here, remove it from {theirs} first ({how}, or drop it from that recipe and run it with --prune), or take it over with --adopt",
        ObjectRef::of(object)
    ))
}

/// What applying an object over a live one that another tool made (or that
/// wildrun adopted) comes to.
pub(super) enum Adopt {
    /// Nothing to adopt: wildrun made it, or it is a Namespace or a patch.
    No,
    /// Another tool made it and `--adopt` was not given: why it is refused.
    Refused(String),
    /// Written as an adopted object: the body with its marks, and for a
    /// first adoption a note for the report.
    Yes {
        /// What to write.
        body: Value,
        /// `adopted: made by ...` the first time.
        note: Option<String>,
    },
}

/// Whether `object` is written over `live` as an adopted object. An
/// object another tool made (no managed-by label of wildrun's) is refused
/// unless `adopt` (`--adopt`): wildrun does not take over what it did not
/// make behind its maker's back. Namespaces (shared by design; one another
/// tool made is not written at all, see
/// [`crate::kube::owner::namespace_used_as_it_is`]) and patches
/// of someone else's object (`patch: true`, which carry no wildrun label)
/// are exempt.
pub(super) fn adoption(object: &crate::objects::TypedObject, live: &Live, adopt: bool) -> Adopt {
    let patch = label(&object.value, MANAGED_BY_LABEL) != Some(MANAGED_BY);
    let Some(adoption) = &live.adoption else {
        return Adopt::No;
    };
    if patch || object.kind == "Namespace" {
        return Adopt::No;
    }
    if live.adopted {
        return Adopt::Yes {
            body: adoption.body(&object.value),
            note: None,
        };
    }
    let made_by = live
        .made_by
        .clone()
        .unwrap_or_else(|| "another tool".into());
    if !adopt {
        return Adopt::Refused(format!(
            "{} exists and was made by {made_by}, not by wildrun; wildrun will not take it over: give the recipe another name (or namespace), delete it, or pass --adopt to let wildrun manage it in place (keeping its name{}; --delete then releases it and leaves it running)",
            ObjectRef::of(object),
            if adoption.selector.is_some() { " and selector" } else { "" }
        ));
    }
    Adopt::Yes {
        body: adoption.body(&object.value),
        note: Some(format!("adopted: made by {made_by}; --delete releases it")),
    }
}

/// Why an allow list (Traefik `ipAllowList`) would let everyone in: a range
/// such as `0.0.0.0/0` or `::/0` makes an internal service public.
pub(super) fn open_allow_list(object: &crate::objects::TypedObject) -> Option<String> {
    if object.kind != "Middleware" {
        return None;
    }
    let ranges = object
        .value
        .pointer("/spec/ipAllowList/sourceRange")
        .and_then(Value::as_array)?;
    let open = ranges
        .iter()
        .filter_map(Value::as_str)
        .find(|r| crate::objects::validate::admits_everyone(r))?;
    Some(format!(
        "{}: source range {open} admits the whole internet, so the service it guards would be public; narrow it (for the bundled recipes: cluster.internalSourceRanges), or pass --force if that is meant",
        ObjectRef::of(object)
    ))
}

/// Checks one step against what the preflight read.
pub(super) fn check_step<'p>(
    planned: &'p PlannedStep,
    kind: Option<Kind>,
    snapshot: &Snapshot,
    options: &ExecOptions,
    problems: &mut Vec<String>,
) -> CheckedStep<'p> {
    let mut prepared = CheckedStep {
        planned,
        kind,
        live: None,
        copy: None,
        adopted_body: None,
        note: None,
        skip: None,
        unchanged: false,
    };
    if prepared.kind.is_none() {
        return prepared;
    }
    let at = &planned.origin;
    match &planned.step {
        Step::Apply(ApplyStep { object, .. }) => {
            let target = ObjectRef::of(object);
            prepared.live = read(snapshot, &target);
            prepared.unchanged = prepared.live.as_ref().is_some_and(|live| live.holds);
            if !options.adopt {
                if let Some(problem) = other_instance(
                    object,
                    prepared.live.as_deref(),
                    options.recipe_dir.as_deref(),
                ) {
                    problems.push(format!("{at}: {problem}"));
                }
            }
            if let Some(made_by) = prepared.live.as_ref().and_then(|l| l.used_as_it_is.clone()) {
                // Used as it is: labelled as wildrun's, a later --delete of
                // the instance would delete a namespace it never made.
                prepared.unchanged = true;
                prepared.note = Some(format!(
                    "made by {made_by}: used as it is, not labelled as wildrun's"
                ));
            } else if let Some(live) = prepared.live.as_deref() {
                match adoption(object, live, options.adopt) {
                    Adopt::No => {}
                    Adopt::Refused(problem) => problems.push(format!("{at}: {problem}")),
                    Adopt::Yes { body, note } => {
                        prepared.adopted_body = Some(body);
                        prepared.note = note;
                    }
                }
            }
            if !options.force {
                problems.extend(open_allow_list(object).map(|p| format!("{at}: {p}")));
            }
        }
        Step::CopySecret(copy) => {
            let from = format!("{}/{}", copy.from_namespace, copy.name);
            let target = ObjectRef::secret(&copy.to_namespace, &copy.name);
            match read(
                snapshot,
                &ObjectRef::secret(&copy.from_namespace, &copy.name),
            ) {
                None => {
                    let message = format!(
                        "source Secret {from} does not exist yet, so {target} cannot be made; if cert-manager issues it, see `kubectl -n {} describe certificate` and run again once it is Ready",
                        copy.from_namespace
                    );
                    if options.require_tls {
                        problems.push(format!("{at}: {message} (--require-tls)"));
                    } else {
                        prepared.skip = Some(message);
                    }
                }
                Some(source) => {
                    let Some(source) = source.whole.as_ref() else {
                        problems.push(format!(
                            "{at}: internal error: the preflight did not keep Secret {from}"
                        ));
                        return prepared;
                    };
                    let source_type = source
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("Opaque");
                    if let Some(expected) = &copy.expected_type {
                        if expected != source_type {
                            problems.push(format!(
                                "{at}: Secret {from} has type {source_type}, the recipe expects {expected}"
                            ));
                        }
                    }
                    prepared.copy = Some(copy_object(copy, source));
                }
            }
            prepared.live = read(snapshot, &target);
            if let Some(live) = prepared.live.clone() {
                let source = read(
                    snapshot,
                    &ObjectRef::secret(&copy.from_namespace, &copy.name),
                );
                let source = source.as_ref().and_then(|s| s.whole.as_ref());
                if live.copy_of.as_deref() == Some(from.as_str()) {
                    prepared.unchanged = prepared.copy.is_some() && live.holds;
                    let maker = live
                        .maker_labels
                        .as_ref()
                        .filter(|_| prepared.copy.is_some());
                    if let Some(labels) = maker {
                        let maker = labels
                            .get(INSTANCE_LABEL)
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        if options.adopt {
                            // Moved here: the label changes, whatever the data.
                            prepared.unchanged = false;
                            prepared.note = Some(format!("taken from instance {maker} (--adopt)"));
                        } else {
                            prepared.note = Some(format!(
                                "kept in step with {from}; the copy stays instance {maker}'s, which made it (--adopt moves it here)"
                            ));
                            prepared.copy =
                                prepared.copy.take().map(|body| with_labels(body, labels));
                        }
                    }
                    if let (true, Some(adoption), Some(body)) =
                        (live.adopted, &live.adoption, &prepared.copy)
                    {
                        prepared.copy = Some(adoption.body(body));
                    }
                } else {
                    match (source, live.whole.as_ref(), &live.adoption, &prepared.copy) {
                        // Another tool's Secret, judged by its data.
                        (Some(source), Some(whole), Some(adoption), Some(body)) => {
                            let made_by = live.made_by.clone().unwrap_or_else(|| "wildrun".into());
                            if crate::kube::copies::judge(source, whole) == crate::kube::copies::Existing::Same {
                                // It is the copy: taken as wildrun's own,
                                // kept in step from now on, released by --delete.
                                prepared.copy = Some(adoption.body(body));
                                prepared.note = Some(format!(
                                    "taken as the copy of {from}: the same data, made by {made_by}"
                                ));
                            } else {
                                problems.push(format!(
                                    "{at}: {}",
                                    crate::kube::copies::refusal(&target, &from, &made_by, whole, source)
                                ));
                            }
                        }
                        _ => problems.push(format!(
                            "{at}: {target} exists and is not a copy wildrun made of {from} (no {MANAGED_BY_LABEL}={MANAGED_BY} label and {COPIED_FROM_ANNOTATION}={from} annotation); wildrun will not overwrite it: delete or rename it, or copy into another namespace"
                        )),
                    }
                }
            }
        }
        Step::Wait(_) | Step::Delete(_) => {}
    }
    prepared
}

pub(super) fn needs(prepared: &[CheckedStep<'_>]) -> Vec<Need> {
    let mut out = Vec::new();
    for p in prepared {
        let Some(kind) = &p.kind else { continue };
        // A step that writes nothing needs no permission to write.
        if p.skip.is_some() || p.unchanged {
            continue;
        }
        let (target, verbs): (ObjectRef, &[&str]) = match &p.planned.step {
            // Deleted, then created again.
            Step::Apply(a) if a.recreate && p.live.is_some() => {
                (ObjectRef::of(&a.object), &["delete", "create"])
            }
            Step::Apply(a) => (
                ObjectRef::of(&a.object),
                if p.live.is_some() {
                    &["patch"]
                } else {
                    &["create"]
                },
            ),
            Step::CopySecret(_) => match p.planned.step.target() {
                Some(t) => (
                    t,
                    if p.live.is_some() {
                        &["patch"]
                    } else {
                        &["create"]
                    },
                ),
                None => continue,
            },
            Step::Delete(d) => (d.target.clone(), &["delete"]),
            Step::Wait(w) => (w.target.clone(), &["get"]),
        };
        for verb in verbs {
            out.push(Need {
                verb: verb.to_string(),
                group: kind.resource.group.clone(),
                resource: kind.resource.plural.clone(),
                namespace: if kind.namespaced {
                    target.namespace.clone()
                } else {
                    None
                },
                what: target.to_string(),
                origin: p.planned.origin.clone(),
            });
        }
    }
    out
}

/// Namespaces the plan creates that do not exist yet.
pub(super) fn new_namespaces(prepared: &[CheckedStep<'_>]) -> BTreeSet<String> {
    prepared
        .iter()
        .filter_map(|p| match &p.planned.step {
            Step::Apply(a) if a.object.kind == "Namespace" && p.live.is_none() => {
                Some(a.object.name.clone())
            }
            _ => None,
        })
        .collect()
}

/// Namespaces the plan creates.
pub(super) fn planned_namespaces(ordered: &[&PlannedStep]) -> BTreeSet<String> {
    ordered
        .iter()
        .filter_map(|p| match &p.step {
            Step::Apply(a) if a.object.kind == "Namespace" => Some(a.object.name.clone()),
            _ => None,
        })
        .collect()
}

/// Namespaces the plan writes into that neither exist nor are created by the plan.
pub(super) fn missing_namespaces(
    prepared: &[CheckedStep<'_>],
    planned: &BTreeSet<String>,
    existing: &BTreeSet<String>,
) -> Vec<String> {
    let mut reported = BTreeSet::new();
    let mut problems = Vec::new();
    for p in prepared {
        let Some(ns) = p.planned.step.target().and_then(|t| t.namespace) else {
            continue;
        };
        if planned.contains(&ns) || existing.contains(&ns) || !reported.insert(ns.clone()) {
            continue;
        }
        problems.push(format!(
            "{}: namespace {ns} does not exist and the recipe does not create it (needed for {})",
            p.planned.origin,
            p.planned.step.display_name()
        ));
    }
    problems
}
