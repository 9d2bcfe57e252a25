//! `--diff`: what applying the plan would change, as a unified diff.
//!
//! "After" is what the API server answers to a server-side apply dry run
//! (defaults and other managers' fields included), so the diff shows real
//! changes only. Server-set metadata and status are left out, and Secret
//! values are masked: a changed value shows as `*** (before)`/`*** (after)`.

use super::cleanup::Pruned;
use super::cluster::Cluster;
use super::error::Result;
use super::objects::{copy_object, get, server_side_apply, strip_server_fields, why_write};
use crate::plan::{ObjectRef, Plan, Step};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The diff of one object; empty `text` when there is no difference.
#[derive(Debug, Clone)]
pub(crate) struct ObjectDiff {
    /// The object.
    pub(crate) target: ObjectRef,
    /// Unified diff, without colour.
    pub(crate) text: String,
    /// The fields another field manager owns that the apply would change
    /// (`.spec.replicas (manager "hpa")`): without `--force` the apply
    /// fails on them, and `text` shows what `--force` would do.
    pub(crate) conflicts: Vec<String>,
}

/// The fields of a server-side apply conflict (409), each with the manager
/// that owns it, from the API server's causes (its message when it gives
/// none).
fn conflicting_fields(status: &kube::core::Status) -> Vec<String> {
    let causes = status.details.as_ref().map(|d| d.causes.as_slice());
    let fields: Vec<String> = causes
        .unwrap_or_default()
        .iter()
        .filter(|c| !c.field.is_empty())
        .map(|c| {
            // "conflict with \"hpa\" using apps/v1"
            match c.message.split('"').nth(1) {
                Some(manager) => format!("{} (manager {manager:?})", c.field),
                None => format!("{} ({})", c.field, c.message),
            }
        })
        .collect();
    if fields.is_empty() {
        vec![status.message.clone()]
    } else {
        fields
    }
}

/// Masks Secret values: equal values become `***`, different ones
/// `*** (before)` / `*** (after)`, so a diff shows which keys changed but never their content.
fn mask_secrets(before: &mut Value, after: &mut Value) {
    for field in ["data", "stringData"] {
        let b = before
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let a = after
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mask = |own: &Map<String, Value>,
                    other: &Map<String, Value>,
                    label: &str|
         -> Map<String, Value> {
            own.iter()
                .map(|(k, v)| {
                    let text = if other.get(k) == Some(v) {
                        "***".to_string()
                    } else {
                        format!("*** ({label})")
                    };
                    (k.clone(), Value::String(text))
                })
                .collect()
        };
        if before.get(field).is_some() {
            before[field] = Value::Object(mask(&b, &a, "before"));
        }
        if after.get(field).is_some() {
            after[field] = Value::Object(mask(&a, &b, "after"));
        }
    }
}

fn yaml(value: Option<&Value>) -> Result<String> {
    match value {
        None => Ok(String::new()),
        Some(v) => Ok(crate::yaml::emit_document(v)?),
    }
}

/// The unified diff between two versions of an object (empty when equal).
pub(crate) fn unified(
    target: &ObjectRef,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<String> {
    unified_as(target, before, after, "wildrun")
}

/// [`unified`], the "after" side headed `<after_label> <target>`
/// (`released Deployment a/b` for an adopted object a prune lets go).
fn unified_as(
    target: &ObjectRef,
    before: Option<&Value>,
    after: Option<&Value>,
    after_label: &str,
) -> Result<String> {
    let mut b = before.map(strip_server_fields);
    let mut a = after.map(strip_server_fields);
    if target.kind == "Secret" {
        let mut masked_before = b.clone().unwrap_or(Value::Null);
        let mut masked_after = a.clone().unwrap_or(Value::Null);
        mask_secrets(&mut masked_before, &mut masked_after);
        b = b.map(|_| masked_before);
        a = a.map(|_| masked_after);
    }
    let (old, new) = (yaml(b.as_ref())?, yaml(a.as_ref())?);
    if old == new {
        return Ok(String::new());
    }
    let old_label = if before.is_some() {
        format!("live {target}")
    } else {
        "/dev/null".to_string()
    };
    let new_label = if after.is_some() {
        format!("{after_label} {target}")
    } else {
        "/dev/null".to_string()
    };
    Ok(similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&old_label, &new_label)
        .to_string())
}

/// Colours a unified diff for a terminal.
pub(crate) fn colour(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("+++") || l.starts_with("---") {
                format!("\x1b[1m{l}\x1b[0m")
            } else if l.starts_with('+') {
                format!("\x1b[32m{l}\x1b[0m")
            } else if l.starts_with('-') {
                format!("\x1b[31m{l}\x1b[0m")
            } else if l.starts_with("@@") {
                format!("\x1b[36m{l}\x1b[0m")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The diff of an object applied with `#{ recreate: true }` that exists,
/// headed `re-created`: never empty, since it is deleted and created again
/// whatever it holds. Against what the API server answers to applying it
/// in place (a dry run); when it refuses a change in place (a Job's
/// template is immutable), against the fields the recipe sets.
async fn recreated(
    cluster: &Cluster,
    kind: &super::cluster::Kind,
    target: &ObjectRef,
    live: &Value,
    body: &Value,
) -> std::result::Result<Result<String>, kube::Error> {
    let (before, after) = match server_side_apply(cluster, kind, target, body, true, true).await {
        Ok(applied) => (live.clone(), applied.object),
        Err(kube::Error::Api(status)) if status.code == 422 => {
            (shaped_like(live, body), body.clone())
        }
        Err(e) => return Err(e),
    };
    Ok(
        unified_as(target, Some(&before), Some(&after), "re-created").map(|text| {
            if text.is_empty() {
                format!("--- live {target}\n+++ re-created {target}\n")
            } else {
                text
            }
        }),
    )
}

/// `live` cut down to the fields `shape` has, in `shape`'s order (lists of
/// the same length item by item): what the recipe sets, as it is now.
fn shaped_like(live: &Value, shape: &Value) -> Value {
    match (live, shape) {
        (Value::Object(fields), Value::Object(wanted)) => Value::Object(
            wanted
                .iter()
                .filter_map(|(k, w)| fields.get(k).map(|v| (k.clone(), shaped_like(v, w))))
                .collect(),
        ),
        (Value::Array(items), Value::Array(wanted)) if items.len() == wanted.len() => Value::Array(
            items
                .iter()
                .zip(wanted)
                .map(|(v, w)| shaped_like(v, w))
                .collect(),
        ),
        _ => live.clone(),
    }
}

/// Diffs every object of the plan against the cluster. `also_pruned` are
/// objects `--prune` would delete, shown as removals, or release (adopted
/// ones), shown as what releasing changes under the heading `released`.
/// `force` is `--force`:
/// without it (or the object's own `force`), fields another manager owns
/// are reported as [`ObjectDiff::conflicts`], as the apply would refuse them.
pub(crate) async fn diff_plan(
    cluster: &Cluster,
    plan: &Plan,
    also_pruned: &[Pruned],
    force: bool,
) -> Result<Vec<ObjectDiff>> {
    let mut out = Vec::new();
    let mut existing_namespaces = BTreeSet::new();
    // Copies of one source (one per service namespace) read it once.
    let mut sources: std::collections::HashMap<ObjectRef, Option<Value>> = Default::default();
    for planned in plan.ordered() {
        let mut recreate = false;
        let (target, body, forced) = match &planned.step {
            Step::Apply(a) => {
                recreate = a.recreate;
                (
                    ObjectRef::of(&a.object),
                    a.object.value.clone(),
                    force || a.force,
                )
            }
            Step::CopySecret(c) => {
                let secret = cluster.resolve("v1", "Secret").await?;
                let source_ref = ObjectRef::secret(&c.from_namespace, &c.name);
                let target = planned.step.target().unwrap_or(source_ref.clone());
                let source = match sources.get(&source_ref) {
                    Some(known) => known.clone(),
                    None => {
                        let read = get(cluster, &secret, &source_ref).await?;
                        sources.insert(source_ref.clone(), read.clone());
                        read
                    }
                };
                match source {
                    // A copy takes its fields over as its apply does.
                    Some(source) => (target, copy_object(c, &source), true),
                    None => {
                        tracing::warn!(
                            "{target}: source Secret {}/{} does not exist yet; not diffed",
                            c.from_namespace,
                            c.name
                        );
                        continue;
                    }
                }
            }
            Step::Wait(_) | Step::Delete(_) => continue,
        };
        let kind = cluster.resolve(&target.api_version, &target.kind).await?;
        let live = get(cluster, &kind, &target).await?;
        if target.kind == "Namespace" && live.is_some() {
            existing_namespaces.insert(target.name.clone());
        }
        // Applying leaves it as it is: so does the diff.
        if live
            .as_ref()
            .is_some_and(|l| super::owner::namespace_used_as_it_is(&target.kind, l).is_some())
        {
            continue;
        }
        let namespace_exists = match &target.namespace {
            None => true,
            Some(ns) => {
                if !existing_namespaces.contains(ns) {
                    let ns_kind = cluster.resolve("v1", "Namespace").await?;
                    let ns_ref = ObjectRef::namespace(ns);
                    if get(cluster, &ns_kind, &ns_ref).await?.is_some() {
                        existing_namespaces.insert(ns.clone());
                    }
                }
                existing_namespaces.contains(ns)
            }
        };
        if let (true, Some(live)) = (recreate, &live) {
            let explain = |e| cluster.explain(e, &format!("{}: diff {target}", planned.origin));
            let text = recreated(cluster, &kind, &target, live, &body)
                .await
                .map_err(explain)??;
            out.push(ObjectDiff {
                target,
                text,
                conflicts: Vec::new(),
            });
            continue;
        }
        // The server's answer includes defaults; without the namespace it
        // cannot answer. An object that already holds the body would come
        // back as it is: no need to ask.
        let holds = live.as_ref().is_some_and(|l| why_write(&body, l).is_none());
        let mut conflicts = Vec::new();
        let after = if holds {
            live.clone().unwrap_or(body)
        } else if namespace_exists {
            let explain = |e| cluster.explain(e, &format!("{}: diff {target}", planned.origin));
            match server_side_apply(cluster, &kind, &target, &body, forced, true).await {
                Ok(applied) => applied.object,
                Err(kube::Error::Api(status)) if status.code == 409 && !forced => {
                    conflicts = conflicting_fields(&status);
                    server_side_apply(cluster, &kind, &target, &body, true, true)
                        .await
                        .map_err(explain)?
                        .object
                }
                Err(e) => return Err(explain(e)),
            }
        } else {
            body
        };
        let text = unified(&target, live.as_ref(), Some(&after))?;
        out.push(ObjectDiff {
            target,
            text,
            conflicts,
        });
    }
    for pruned in also_pruned {
        let Pruned {
            target,
            live,
            released,
        } = pruned;
        let text = unified_as(target, Some(live), released.as_ref(), "released")?;
        out.push(ObjectDiff {
            target: target.clone(),
            text,
            conflicts: Vec::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(kind: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("a".into()),
            name: "b".into(),
        }
    }

    #[test]
    fn equal_objects_have_no_diff() {
        let v = json!({"metadata": {"name": "b", "resourceVersion": "1"}, "data": {"k": "v"}});
        let w = json!({"metadata": {"name": "b", "resourceVersion": "2", "managedFields": []}, "data": {"k": "v"}});
        assert_eq!(
            unified(&target("ConfigMap"), Some(&v), Some(&w)).unwrap(),
            ""
        );
    }

    #[test]
    fn changed_line_is_shown() {
        let v = json!({"spec": {"image": "nginx:1"}});
        let w = json!({"spec": {"image": "nginx:2"}});
        let d = unified(&target("Deployment"), Some(&v), Some(&w)).unwrap();
        assert!(
            d.contains("-  image: nginx:1") && d.contains("+  image: nginx:2"),
            "{d}"
        );
    }

    #[test]
    fn secret_values_are_masked() {
        let v = json!({"data": {"tls.crt": "QUFB", "tls.key": "S0VZ"}});
        let w = json!({"data": {"tls.crt": "QkJC", "tls.key": "S0VZ"}});
        let d = unified(&target("Secret"), Some(&v), Some(&w)).unwrap();
        assert!(
            !d.contains("QUFB") && !d.contains("QkJC") && !d.contains("S0VZ"),
            "{d}"
        );
        assert!(
            d.contains("*** (before)") && d.contains("*** (after)"),
            "{d}"
        );
        let new = unified(&target("Secret"), None, Some(&w)).unwrap();
        assert!(!new.contains("QkJC"), "{new}");
    }

    /// The lines of a diff that start with `sign` (headers left out).
    fn changed(diff: &str, sign: char) -> Vec<String> {
        diff.lines()
            .filter(|l| l.starts_with(sign) && !l.starts_with("+++") && !l.starts_with("---"))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn string_data_is_masked_like_data() {
        let v = json!({"stringData": {"password": "hunter2", "user": "admin"}});
        let w = json!({"stringData": {"password": "swordfish", "user": "admin"}});
        let d = unified(&target("Secret"), Some(&v), Some(&w)).unwrap();
        for secret in ["hunter2", "swordfish", "admin"] {
            assert!(!d.contains(secret), "{d}");
        }
        // Only the changed key is marked; the equal one is a context line.
        let (removed, added) = (changed(&d, '-'), changed(&d, '+'));
        assert_eq!(removed.len(), 1, "{d}");
        assert!(
            removed[0].contains("password") && removed[0].contains("*** (before)"),
            "{d}"
        );
        assert_eq!(added.len(), 1, "{d}");
        assert!(
            added[0].contains("password") && added[0].contains("*** (after)"),
            "{d}"
        );
    }

    #[test]
    fn a_key_on_one_side_only_is_marked_as_changed() {
        let v = json!({"data": {"kept": "QUFB", "dropped": "RFJPUA=="}});
        let w = json!({"data": {"kept": "QUFB", "added": "TkVX"}});
        let d = unified(&target("Secret"), Some(&v), Some(&w)).unwrap();
        assert!(
            !d.contains("QUFB") && !d.contains("RFJPUA==") && !d.contains("TkVX"),
            "{d}"
        );
        let (removed, added) = (changed(&d, '-'), changed(&d, '+'));
        assert_eq!(removed.len(), 1, "{d}");
        assert!(
            removed[0].contains("dropped") && removed[0].contains("*** (before)"),
            "{d}"
        );
        assert_eq!(added.len(), 1, "{d}");
        assert!(
            added[0].contains("added") && added[0].contains("*** (after)"),
            "{d}"
        );
        // A removed Secret is masked too.
        let gone = unified(&target("Secret"), Some(&v), None).unwrap();
        assert!(
            !gone.contains("QUFB") && gone.contains("*** (before)"),
            "{gone}"
        );
    }

    #[test]
    fn other_kinds_show_their_data() {
        let v = json!({"data": {"k": "v1", "same": "s"}});
        let w = json!({"data": {"k": "v2", "same": "s"}});
        let d = unified(&target("ConfigMap"), Some(&v), Some(&w)).unwrap();
        assert_eq!(changed(&d, '-'), ["-  k: v1"], "{d}");
        assert_eq!(changed(&d, '+'), ["+  k: v2"], "{d}");
        assert!(!d.contains("***"), "{d}");
    }

    #[test]
    fn created_and_removed_objects_diff_against_dev_null() {
        let v = json!({"data": {"k": "v"}});
        let created = unified(&target("ConfigMap"), None, Some(&v)).unwrap();
        assert!(
            created.starts_with("--- /dev/null\n+++ wildrun ConfigMap a/b\n"),
            "{created}"
        );
        let removed = unified(&target("ConfigMap"), Some(&v), None).unwrap();
        assert!(
            removed.starts_with("--- live ConfigMap a/b\n+++ /dev/null\n"),
            "{removed}"
        );
        let changed = unified(
            &target("ConfigMap"),
            Some(&v),
            Some(&json!({"data": {"k": "w"}})),
        )
        .unwrap();
        assert!(
            changed.starts_with("--- live ConfigMap a/b\n+++ wildrun ConfigMap a/b\n"),
            "{changed}"
        );
    }

    #[test]
    fn a_live_object_is_cut_to_the_fields_the_recipe_sets() {
        let live = json!({"spec": {"backoffLimit": 6, "template": {"spec": {
            "containers": [{"name": "m", "image": "a:1", "imagePullPolicy": "IfNotPresent"}],
            "dnsPolicy": "ClusterFirst"}}}});
        let body = json!({"spec": {"template": {"spec": {"containers": [{"image": "a:2", "name": "m"}]}}}});
        assert_eq!(
            shaped_like(&live, &body),
            json!({"spec": {"template": {"spec": {"containers": [{"image": "a:1", "name": "m"}]}}}})
        );
        // A list of another length is kept whole: an item was added or removed.
        let more = json!({"spec": {"template": {"spec": {"containers": []}}}});
        assert_eq!(
            shaped_like(&live, &more)["spec"]["template"]["spec"]["containers"],
            live["spec"]["template"]["spec"]["containers"]
        );
    }
}
