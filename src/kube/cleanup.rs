//! `--delete` and `--prune`: removing what an instance made.
//!
//! An instance's objects are found by their `wildrun.dev/instance` label,
//! across the kinds wildrun knows and the kinds the plan uses. Objects
//! marked to keep (the wildcard Certificate several services share) are never
//! removed, and a Namespace is removed only when nothing else is left in it,
//! so a neighbouring instance in the same namespace survives. Objects
//! another tool made that wildrun adopted (`--adopt`) are released, not
//! deleted: they stay, without wildrun's marks and field ownership.

use super::cluster::{Cluster, Kind};
use super::error::Result;
use super::objects::delete;
use super::permissions::{Need, Permissions};
use super::report::{Action, Entry, Report};
use super::wait;
use crate::plan::{
    Condition, ObjectRef, Origin, Plan, Propagation, ADOPTED_ANNOTATION, COPIED_FROM_ANNOTATION,
    DEFAULT_DELETE_WAIT, INSTANCE_LABEL, KEEP_LABEL, MANAGED_BY, MANAGED_BY_LABEL,
};
use kube::api::ListParams;
use serde_json::Value;
use std::collections::BTreeSet;

/// Objects Kubernetes puts into every namespace; they do not keep a namespace alive.
fn is_namespace_default(kind: &str, name: &str) -> bool {
    matches!(
        (kind, name),
        ("ConfigMap", "kube-root-ca.crt") | ("ServiceAccount", "default")
    )
}

/// A live object found by label.
#[derive(Debug, Clone)]
struct Found {
    target: ObjectRef,
    kind: Kind,
    keep: bool,
    /// A Secret copy: other instances in its namespace may use it too.
    copy: bool,
    /// Another tool made it and wildrun adopted it: released, not deleted.
    adopted: bool,
    /// The object as listed.
    live: Value,
}

/// Every kind to search: the plan's kinds, then the kinds wildrun knows, each once.
async fn searchable_kinds(cluster: &Cluster, plan: &Plan) -> Result<Vec<Kind>> {
    let mut wanted: Vec<(String, String)> = plan
        .targets()
        .into_iter()
        .map(|t| (t.api_version, t.kind))
        .collect();
    wanted.extend(crate::objects::known_kinds());
    let mut seen = BTreeSet::new();
    let mut kinds = Vec::new();
    for (api_version, kind) in wanted {
        if !seen.insert((api_version.clone(), kind.clone())) {
            continue;
        }
        match cluster.resolve(&api_version, &kind).await {
            Ok(k) => kinds.push(k),
            // A kind this cluster does not serve holds nothing of ours.
            Err(e) => tracing::debug!("not searching {api_version} {kind}: {e}"),
        }
    }
    Ok(kinds)
}

async fn list(
    cluster: &Cluster,
    kind: &Kind,
    namespace: Option<&str>,
    selector: Option<&str>,
) -> Result<Vec<Value>> {
    let mut params = ListParams::default();
    if let Some(s) = selector {
        params = params.labels(s);
    }
    cluster.list(kind, namespace, &params).await
}

async fn find_instance(cluster: &Cluster, kinds: &[Kind], instance: &str) -> Result<Vec<Found>> {
    let selector = format!("{INSTANCE_LABEL}={instance}");
    let mut found = Vec::new();
    for kind in kinds {
        let items = match list(cluster, kind, None, Some(&selector)).await {
            Ok(items) => items,
            // Kinds outside the recipe's role cannot hold its objects; say so under -v.
            Err(e) if e.to_string().contains("forbidden") => {
                tracing::debug!("not searching {}: {e}", kind.resource.plural);
                continue;
            }
            Err(e) => return Err(e),
        };
        found.extend(items.iter().map(|item| found_from(kind, item)));
    }
    Ok(found)
}

/// What else lives in `namespace` besides the objects about to be deleted.
///
/// Pods are checked too (anything running there). A kind the user may not
/// list counts as "something else": a namespace is removed only when it is
/// known to be empty.
async fn other_objects(
    cluster: &Cluster,
    kinds: &[Kind],
    namespace: &str,
    leaving: &[ObjectRef],
) -> Result<Vec<String>> {
    let mut checked: Vec<Kind> = kinds.iter().filter(|k| k.namespaced).cloned().collect();
    checked.push(cluster.resolve("v1", "Pod").await?);
    let mut others = Vec::new();
    for kind in &checked {
        let items = match list(cluster, kind, Some(namespace), None).await {
            Ok(items) => items,
            Err(e) if e.to_string().contains("forbidden") => {
                others.push(format!(
                    "possibly {} (not allowed to list them)",
                    kind.resource.plural
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        others.extend(
            items
                .iter()
                .filter_map(|item| blocks_namespace(kind, item, leaving)),
        );
    }
    Ok(others)
}

/// `Kind name` of a listed `item` that keeps its namespace alive: one that
/// is not `leaving`, not owned by another object, and not one Kubernetes
/// puts into every namespace. `None` when it does not count.
fn blocks_namespace(kind: &Kind, item: &Value, leaving: &[ObjectRef]) -> Option<String> {
    let name = item["metadata"]["name"].as_str().unwrap_or_default();
    let owned = item
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|o| !o.is_empty());
    let gone = leaving
        .iter()
        .any(|t| t.kind == kind.resource.kind && t.name == name);
    // Pods and ReplicaSets of a Deployment being deleted go with it.
    if !gone && !owned && !is_namespace_default(&kind.resource.kind, name) {
        Some(format!("{} {name}", kind.resource.kind))
    } else {
        None
    }
}

/// Why a namespace (and the copies in it) stays: the first three of the
/// `others` still in it, then how many more; `None` when nothing is left.
fn keep_note(ns: &str, others: &[String]) -> Option<String> {
    if others.is_empty() {
        return None;
    }
    let mut shown: Vec<String> = others.iter().take(3).cloned().collect();
    if others.len() > 3 {
        shown.push(format!("and {} more", others.len() - 3));
    }
    Some(format!("namespace {ns} still holds {}", shown.join(", ")))
}

/// `found`, in the order `remove` deletes it.
struct DeletionOrder {
    /// The instance's own objects, deleted first.
    own: Vec<Found>,
    /// Secret copies and Namespaces, which other instances may share: each
    /// deleted only when nothing else is left in its namespace.
    namespace_bound: Vec<Found>,
}

/// Sorts `found` into reverse plan order (`order`: the plan's targets) and
/// sets the copies and Namespaces apart.
fn deletion_order(mut found: Vec<Found>, order: &[ObjectRef]) -> DeletionOrder {
    let position = |t: &ObjectRef| order.iter().position(|o| o == t).unwrap_or(usize::MAX);
    // Reverse apply order; objects the plan no longer has go first.
    found.sort_by_key(|f| std::cmp::Reverse(position(&f.target)));
    let (namespace_bound, own): (Vec<Found>, Vec<Found>) = found
        .into_iter()
        .partition(|f| f.target.kind == "Namespace" || f.copy);
    DeletionOrder {
        own,
        namespace_bound,
    }
}

/// The copies in `ns` and the Namespace `ns` among `namespace_bound`,
/// copies first: they go before their namespace.
fn bound_to<'f>(namespace_bound: &'f [Found], ns: &str) -> Vec<&'f Found> {
    let mut ours: Vec<&Found> = namespace_bound
        .iter()
        .filter(|f| {
            f.target.namespace.as_deref() == Some(ns)
                || (f.target.kind == "Namespace" && f.target.name == ns)
        })
        .collect();
    ours.sort_by_key(|f| f.target.kind == "Namespace");
    ours
}

/// Deletes `found` objects: first the instance's own objects in reverse
/// plan order, then, namespace by namespace, Secret copies and the Namespace
/// itself when nothing else is left there; waits until all are gone.
async fn remove(
    cluster: &Cluster,
    plan: &Plan,
    kinds: &[Kind],
    found: Vec<Found>,
    report: &mut Report,
    dry_run: bool,
) -> Result<()> {
    let DeletionOrder {
        own,
        namespace_bound,
    } = deletion_order(found, &plan.targets());

    let mut deleted: Vec<(Found, bool)> = Vec::new();
    for f in own {
        if f.keep {
            let note = format!("{KEEP_LABEL}=true: shared with other services");
            report.push_entry(Entry::new(Action::Kept, &f.target, Some(note)), dry_run);
            continue;
        }
        if f.adopted {
            release_reported(cluster, &f, report, dry_run).await?;
            continue;
        }
        let existed = delete_reported(cluster, &f, report, dry_run).await?;
        deleted.push((f, existed));
    }

    // Copies and namespaces: only where nothing else remains.
    let namespaces: BTreeSet<String> = namespace_bound
        .iter()
        .map(|f| {
            if f.target.kind == "Namespace" {
                f.target.name.clone()
            } else {
                f.target.namespace.clone().unwrap_or_default()
            }
        })
        .collect();
    for ns in namespaces {
        let ours = bound_to(&namespace_bound, &ns);
        let mut leaving: Vec<ObjectRef> = deleted
            .iter()
            .filter(|(f, _)| f.target.namespace.as_deref() == Some(ns.as_str()))
            .map(|(f, _)| f.target.clone())
            .collect();
        // A released copy stays, and keeps its namespace.
        leaving.extend(ours.iter().filter(|f| !f.adopted).map(|f| f.target.clone()));
        let others = other_objects(cluster, kinds, &ns, &leaving).await?;
        let keep_note = keep_note(&ns, &others);
        for f in ours {
            match (&keep_note, f.keep) {
                (Some(note), _) => report.push_entry(
                    Entry::new(Action::Kept, &f.target, Some(note.clone())),
                    dry_run,
                ),
                (None, true) => report.push_entry(
                    Entry::new(Action::Kept, &f.target, Some(format!("{KEEP_LABEL}=true"))),
                    dry_run,
                ),
                (None, false) if f.adopted => {
                    release_reported(cluster, f, report, dry_run).await?;
                }
                (None, false) => {
                    let existed = delete_reported(cluster, f, report, dry_run).await?;
                    deleted.push((f.clone(), existed));
                }
            }
        }
    }
    if !dry_run {
        for (f, existed) in &deleted {
            if *existed {
                wait::until(
                    cluster,
                    &f.kind,
                    &f.target,
                    &Condition::Deleted,
                    DEFAULT_DELETE_WAIT,
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Refuses, before anything is deleted, when the user may not delete one
/// of `found` (objects kept by label excepted; adopted ones are patched
/// when released). `option` names the command
/// line option the deletion is for (`--delete`, `--prune`).
async fn check_delete(cluster: &Cluster, found: &[Found], option: &str) -> Result<()> {
    let needs: Vec<Need> = found
        .iter()
        .filter(|f| !f.keep)
        .map(|f| Need {
            verb: if f.adopted { "patch" } else { "delete" }.into(),
            group: f.kind.resource.group.clone(),
            resource: f.kind.resource.plural.clone(),
            namespace: if f.kind.namespaced {
                f.target.namespace.clone()
            } else {
                None
            },
            what: f.target.to_string(),
            origin: Origin {
                source: option.to_string(),
                line: 0,
            },
        })
        .collect();
    let problems = Permissions::new(cluster).check(&needs).await?;
    if !problems.is_empty() {
        return Err(super::error::KubeError::NotPermitted {
            option: option.to_string(),
            problems,
        });
    }
    Ok(())
}

/// Deletes `f` and reports it; an object already being deleted (an earlier
/// run's) is not deleted again, nor counted as deleted by this run. Whether
/// there is something to wait for.
async fn delete_reported(
    cluster: &Cluster,
    f: &Found,
    report: &mut Report,
    dry_run: bool,
) -> Result<bool> {
    if f.live.pointer("/metadata/deletionTimestamp").is_some() {
        let note = Some("already being deleted".to_string());
        report.push_entry(Entry::new(Action::Unchanged, &f.target, note), dry_run);
        return Ok(true);
    }
    let existed = delete_one(cluster, f, dry_run).await?;
    report.push_entry(Entry::new(Action::Deleted, &f.target, None), dry_run);
    Ok(existed)
}

/// Releases the adopted object `f` and reports it, naming who made it.
async fn release_reported(
    cluster: &Cluster,
    f: &Found,
    report: &mut Report,
    dry_run: bool,
) -> Result<()> {
    let made_by = super::owner::Owner::of(&f.live).made_by();
    if super::objects::release(cluster, &f.kind, &f.target, &f.live, dry_run).await? {
        let note = format!("made by {made_by}: left in place, no longer managed by wildrun");
        report.push_entry(Entry::new(Action::Released, &f.target, Some(note)), dry_run);
    }
    Ok(())
}

async fn delete_one(cluster: &Cluster, f: &Found, dry_run: bool) -> Result<bool> {
    delete(
        cluster,
        &f.kind,
        &f.target,
        Propagation::Background,
        dry_run,
    )
    .await
}

fn found_from(kind: &Kind, item: &Value) -> Found {
    let meta = &item["metadata"];
    let label = |key: &str| {
        meta.pointer(&format!("/labels/{}", key.replace('/', "~1")))
            .and_then(Value::as_str)
    };
    Found {
        target: ObjectRef {
            api_version: kind.resource.api_version.clone(),
            kind: kind.resource.kind.clone(),
            namespace: meta["namespace"].as_str().map(str::to_string),
            name: meta["name"].as_str().unwrap_or_default().to_string(),
        },
        kind: kind.clone(),
        keep: label(KEEP_LABEL) == Some("true"),
        copy: meta
            .pointer(&format!(
                "/annotations/{}",
                COPIED_FROM_ANNOTATION.replace('/', "~1")
            ))
            .is_some(),
        adopted: super::owner::annotation(item, ADOPTED_ANNOTATION).is_some(),
        live: item.clone(),
    }
}

/// The wildrun-made Namespace `ns` and secret copies in it, whichever
/// instance applied them last: instances sharing a namespace share these.
async fn namespace_bound(cluster: &Cluster, ns: &str) -> Result<Vec<Found>> {
    let managed = format!("{MANAGED_BY_LABEL}={MANAGED_BY}");
    let mut out = Vec::new();
    let secrets = cluster.resolve("v1", "Secret").await?;
    for item in list(cluster, &secrets, Some(ns), Some(&managed)).await? {
        let f = found_from(&secrets, &item);
        if f.copy {
            out.push(f);
        }
    }
    let namespaces = cluster.resolve("v1", "Namespace").await?;
    let reference = ObjectRef::namespace(ns);
    if let Some(live) = super::objects::get(cluster, &namespaces, &reference).await? {
        if live
            .pointer(&format!(
                "/metadata/labels/{}",
                MANAGED_BY_LABEL.replace('/', "~1")
            ))
            .and_then(Value::as_str)
            == Some(MANAGED_BY)
        {
            out.push(found_from(&namespaces, &live));
        }
    }
    Ok(out)
}

/// `--delete`: removes every object of `instance`.
pub async fn delete_instance(
    cluster: &Cluster,
    plan: &Plan,
    instance: &str,
    dry_run: bool,
) -> Result<Report> {
    let kinds = searchable_kinds(cluster, plan).await?;
    let mut found = find_instance(cluster, &kinds, instance).await?;
    let mut touched: BTreeSet<String> = plan
        .targets()
        .into_iter()
        .filter_map(|t| t.namespace)
        .collect();
    touched.extend(found.iter().filter_map(|f| f.target.namespace.clone()));
    for ns in touched {
        for f in namespace_bound(cluster, &ns).await? {
            if !found.iter().any(|g| g.target == f.target) {
                found.push(f);
            }
        }
    }
    let mut report = Report::default();
    if found.is_empty() {
        tracing::info!("nothing of instance {instance} is in the cluster");
    }
    check_delete(cluster, &found, "--delete").await?;
    remove(cluster, plan, &kinds, found, &mut report, dry_run).await?;
    Ok(report)
}

async fn stale(
    cluster: &Cluster,
    plan: &Plan,
    kinds: &[Kind],
    instance: &str,
) -> Result<Vec<Found>> {
    let found = find_instance(cluster, kinds, instance).await?;
    Ok(stale_of(found, &plan.targets()))
}

/// What `--prune` removes of `found`: objects the plan no longer produces
/// (`planned` is its targets), except those kept by label.
fn stale_of(found: Vec<Found>, planned: &[ObjectRef]) -> Vec<Found> {
    found
        .into_iter()
        .filter(|f| !planned.contains(&f.target) && !f.keep)
        .collect()
}

/// Objects of `instance` in the cluster that `plan` no longer produces (what
/// `--prune` removes), as listed.
pub async fn stale_objects(
    cluster: &Cluster,
    plan: &Plan,
    instance: &str,
) -> Result<Vec<(ObjectRef, Value)>> {
    let kinds = searchable_kinds(cluster, plan).await?;
    Ok(stale(cluster, plan, &kinds, instance)
        .await?
        .into_iter()
        .map(|f| (f.target, f.live))
        .collect())
}

/// Before `--prune` applies anything: refuses when the user may not delete
/// an object the prune would remove.
pub async fn check_prune(cluster: &Cluster, plan: &Plan, instance: &str) -> Result<()> {
    let kinds = searchable_kinds(cluster, plan).await?;
    let stale = stale(cluster, plan, &kinds, instance).await?;
    check_delete(cluster, &stale, "--prune").await
}

/// `--prune`: removes objects of `instance` that `plan` no longer produces.
pub async fn prune_instance(
    cluster: &Cluster,
    plan: &Plan,
    instance: &str,
    dry_run: bool,
    report: &mut Report,
) -> Result<()> {
    let kinds = searchable_kinds(cluster, plan).await?;
    let stale = stale(cluster, plan, &kinds, instance).await?;
    remove(cluster, plan, &kinds, stale, report, dry_run).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(group: &str, version: &str, name: &str, plural: &str, namespaced: bool) -> Kind {
        Kind::new(group, version, name, plural, namespaced)
    }

    fn config_maps() -> Kind {
        kind("", "v1", "ConfigMap", "configmaps", true)
    }

    fn item(ns: Option<&str>, name: &str, labels: Value, annotations: Value) -> Value {
        let mut v =
            json!({"metadata": {"name": name, "labels": labels, "annotations": annotations}});
        if let Some(ns) = ns {
            v["metadata"]["namespace"] = json!(ns);
        }
        v
    }

    /// An object of the instance as listed: `keep` and `copy` set by label and annotation.
    fn found(kind: &Kind, ns: Option<&str>, name: &str, keep: bool, copy: bool) -> Found {
        let labels = if keep {
            json!({KEEP_LABEL: "true"})
        } else {
            json!({})
        };
        let annotations = if copy {
            json!({COPIED_FROM_ANNOTATION: "cert-manager/tls"})
        } else {
            json!({})
        };
        found_from(kind, &item(ns, name, labels, annotations))
    }

    fn names(found: &[Found]) -> Vec<String> {
        found.iter().map(|f| f.target.to_string()).collect()
    }

    #[test]
    fn listed_objects_are_read_with_their_keep_label_and_copy_annotation() {
        let secrets = kind("", "v1", "Secret", "secrets", true);
        let copy = found(&secrets, Some("web"), "tls", false, true);
        assert_eq!(copy.target, ObjectRef::secret("web", "tls"));
        assert!(copy.copy && !copy.keep);
        let kept = found(
            &kind("cert-manager.io", "v1", "Certificate", "certificates", true),
            Some("web"),
            "wildcard",
            true,
            false,
        );
        assert!(kept.keep && !kept.copy);
        assert_eq!(kept.target.api_version, "cert-manager.io/v1");
        assert_eq!(kept.target.kind, "Certificate");
        // keep must be exactly "true".
        let not_kept = found_from(
            &config_maps(),
            &item(Some("web"), "c", json!({KEEP_LABEL: "yes"}), json!({})),
        );
        assert!(!not_kept.keep);
        let namespace = found(
            &kind("", "v1", "Namespace", "namespaces", false),
            None,
            "web",
            false,
            false,
        );
        assert_eq!(namespace.target, ObjectRef::namespace("web"));
    }

    #[test]
    fn prune_takes_what_the_plan_no_longer_has_except_kept_objects() {
        let cm = config_maps();
        let planned = vec![found(&cm, Some("a"), "one", false, false).target];
        let stale = stale_of(
            vec![
                found(&cm, Some("a"), "one", false, false),
                found(&cm, Some("a"), "two", false, false),
                found(&cm, Some("a"), "three", true, false),
                // Same name in another namespace is another object.
                found(&cm, Some("b"), "one", false, false),
            ],
            &planned,
        );
        assert_eq!(names(&stale), ["ConfigMap a/two", "ConfigMap b/one"]);
    }

    #[test]
    fn deletion_runs_in_reverse_plan_order_with_copies_and_namespaces_apart() {
        let ns = kind("", "v1", "Namespace", "namespaces", false);
        let deployments = kind("apps", "v1", "Deployment", "deployments", true);
        let services = kind("", "v1", "Service", "services", true);
        let secrets = kind("", "v1", "Secret", "secrets", true);
        let namespace = found(&ns, None, "a", false, false);
        let deployment = found(&deployments, Some("a"), "web", false, false);
        let service = found(&services, Some("a"), "web", false, false);
        let copy = found(&secrets, Some("a"), "tls", false, true);
        let old = found(&config_maps(), Some("a"), "old", false, false);
        let order: Vec<ObjectRef> = [&namespace, &deployment, &service, &copy]
            .iter()
            .map(|f| f.target.clone())
            .collect();
        let DeletionOrder {
            own,
            namespace_bound,
        } = deletion_order(vec![deployment, namespace, copy, service, old], &order);
        // What the plan no longer has first, then the reverse of apply order.
        assert_eq!(
            names(&own),
            ["ConfigMap a/old", "Service a/web", "Deployment a/web"]
        );
        assert_eq!(names(&namespace_bound), ["Secret a/tls", "Namespace a"]);
    }

    #[test]
    fn a_namespace_goes_after_its_copies_and_only_its_own_are_taken() {
        let ns = kind("", "v1", "Namespace", "namespaces", false);
        let secrets = kind("", "v1", "Secret", "secrets", true);
        let bound = vec![
            found(&ns, None, "a", false, false),
            found(&secrets, Some("b"), "tls", false, true),
            found(&secrets, Some("a"), "tls", false, true),
            found(&ns, None, "b", false, false),
        ];
        let of_a: Vec<String> = bound_to(&bound, "a")
            .iter()
            .map(|f| f.target.to_string())
            .collect();
        assert_eq!(of_a, ["Secret a/tls", "Namespace a"]);
        assert!(bound_to(&bound, "c").is_empty());
    }

    #[test]
    fn only_objects_that_stay_keep_a_namespace() {
        let cm = config_maps();
        let pods = kind("", "v1", "Pod", "pods", true);
        let leaving = vec![ObjectRef {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("a".into()),
            name: "cfg".into(),
        }];
        let listed = |name: &str| item(Some("a"), name, json!({}), json!({}));
        assert_eq!(blocks_namespace(&cm, &listed("cfg"), &leaving), None);
        assert_eq!(
            blocks_namespace(&cm, &listed("other"), &leaving).as_deref(),
            Some("ConfigMap other")
        );
        // Leaving is matched by kind too: a Pod named cfg stays.
        assert_eq!(
            blocks_namespace(&pods, &listed("cfg"), &leaving).as_deref(),
            Some("Pod cfg")
        );
        // What Kubernetes puts into every namespace does not count...
        assert_eq!(
            blocks_namespace(&cm, &listed("kube-root-ca.crt"), &leaving),
            None
        );
        let accounts = kind("", "v1", "ServiceAccount", "serviceaccounts", true);
        assert_eq!(
            blocks_namespace(&accounts, &listed("default"), &leaving),
            None
        );
        assert_eq!(
            blocks_namespace(&accounts, &listed("robot"), &leaving).as_deref(),
            Some("ServiceAccount robot")
        );
        // ...nor what another object owns (it goes with its owner).
        let mut owned = listed("web-5d4f-x2");
        owned["metadata"]["ownerReferences"] = json!([{"kind": "ReplicaSet", "name": "web-5d4f"}]);
        assert_eq!(blocks_namespace(&pods, &owned, &leaving), None);
        owned["metadata"]["ownerReferences"] = json!([]);
        assert_eq!(
            blocks_namespace(&pods, &owned, &leaving).as_deref(),
            Some("Pod web-5d4f-x2")
        );
        assert!(is_namespace_default("ConfigMap", "kube-root-ca.crt"));
        assert!(!is_namespace_default("Secret", "kube-root-ca.crt"));
    }

    #[test]
    fn the_keep_note_names_three_things_and_counts_the_rest() {
        assert_eq!(keep_note("a", &[]), None);
        let others: Vec<String> = (1..=5).map(|i| format!("ConfigMap c{i}")).collect();
        assert_eq!(
            keep_note("a", &others[..3]).as_deref(),
            Some("namespace a still holds ConfigMap c1, ConfigMap c2, ConfigMap c3")
        );
        assert_eq!(
            keep_note("a", &others).as_deref(),
            Some("namespace a still holds ConfigMap c1, ConfigMap c2, ConfigMap c3, and 2 more")
        );
    }
}
