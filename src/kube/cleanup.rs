//! `--delete` and `--prune`: removing what an instance made.
//!
//! An instance's objects are found by their `wildrun.dev/instance` label,
//! across the kinds wildrun knows and the kinds the plan uses. Objects
//! marked to keep (the wildcard Certificate several services share) are never
//! removed, and a Namespace (or a Secret copy other instances may share) is
//! removed only when its namespace holds nothing else, of any kind the API
//! server serves ([`super::contents`]), so a neighbour survives. Objects
//! that hold data (PersistentVolumeClaims and the kinds of
//! `prune.keepKinds`) stay without `--allow-prune-data`, under `--delete`
//! and `--prune` alike, and so does their namespace.
//!
//! `--prune` has further guards, because a plan can come out smaller than
//! meant (a condition, a typo in a loop, a half-saved file): a prune that
//! would remove every object of the instance is refused without
//! `--allow-prune-all`; and in
//! `--watch`, a prune waits for the files to settle and a large one waits
//! for a run without `--watch` ([`WatchStep`]).
//!
//! Objects another tool made that wildrun adopted (`--adopt`) are released,
//! not deleted: they stay, without wildrun's marks and field ownership.

use super::cluster::{Cluster, Kind};
use super::contents::{Holdings, Inventory};
use super::error::{first_few, KubeError, Result};
use super::objects::delete;
use super::permissions::{Need, Permissions};
use super::report::{Entry, ObjectAction, Report};
use super::wait;
use crate::objects::group_of;
use crate::plan::{
    Condition, ObjectRef, Origin, Plan, Propagation, ADOPTED_ANNOTATION, COPIED_FROM_ANNOTATION,
    DEFAULT_DELETE_WAIT, INSTANCE_LABEL, KEEP_LABEL, MANAGED_BY, MANAGED_BY_LABEL,
};
use kube::api::ListParams;
use serde_json::Value;
use std::collections::BTreeSet;

/// Kinds whose objects hold data that deleting them destroys, besides the
/// ones `prune.keepKinds` names: `(group, kind)`. A PersistentVolumeClaim
/// deleted takes its volume with it under the usual `Delete` reclaim policy,
/// and one made again is a new, empty volume.
pub(crate) const DATA_KINDS: &[(&str, &str)] = &[("", "PersistentVolumeClaim")];

/// The share of an instance's objects one `--watch` step may prune, as
/// `(numerator, denominator)`: more than half is held until a run without
/// `--watch` confirms it. An edit rarely drops most of a recipe at once; a
/// broken loop, a wrong condition or a file in mid-save does.
pub(crate) const WATCH_PRUNE_SHARE: (usize, usize) = (1, 2);

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
    /// A Secret of generated values (`kube::generated_secret`): it holds
    /// data, as a PersistentVolumeClaim does.
    generated: bool,
    /// The object as listed.
    live: Value,
}

/// What removing one found object does. One decision for `--delete`,
/// `--prune` and `--diff --prune` ([`removal`]), so that the diff says
/// what the prune will do.
#[derive(Debug, Clone, PartialEq)]
enum Removal {
    /// Left in place, for the reason given.
    Kept(String),
    /// Another tool made it and wildrun adopted it: released, not deleted.
    Released,
    /// Deleted.
    Deleted,
}

/// What removing `f` does; `kept` is why its namespace keeps it (for
/// Secret copies and Namespaces, see [`namespace_verdicts`]), if it does.
/// An adopted object is released whatever its namespace holds: it stays
/// either way, and must not stay marked as wildrun's.
fn removal(f: &Found, kept: Option<String>) -> Removal {
    if f.adopted {
        return Removal::Released;
    }
    match kept {
        Some(note) => Removal::Kept(note),
        None if f.keep => Removal::Kept(format!("{KEEP_LABEL}=true: shared with other services")),
        None => Removal::Deleted,
    }
}

/// Every kind to search: the plan's kinds, then the kinds wildrun knows,
/// each once whatever its version (a ReferenceGrant listed as v1beta1 and
/// as v1 is the same objects twice).
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
        if !seen.insert((group_of(&api_version).to_string(), kind.clone())) {
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

/// Why a namespace (and the copies in it) stays: the first few objects it
/// still holds, then how many more, and the kinds that could not be read;
/// `None` when it holds nothing else.
fn keep_note(ns: &str, holdings: &Holdings) -> Option<String> {
    let Holdings {
        objects,
        unreadable,
    } = holdings;
    match (objects.is_empty(), unreadable.is_empty()) {
        (true, true) => None,
        (false, true) => Some(format!("namespace {ns} still holds {}", first_few(objects))),
        (true, false) => Some(format!(
            "namespace {ns} may hold objects wildrun cannot see: {}",
            first_few(unreadable)
        )),
        (false, false) => Some(format!(
            "namespace {ns} still holds {}, and may hold objects wildrun cannot see: {}",
            first_few(objects),
            first_few(unreadable)
        )),
    }
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

/// The namespace a copy lives in, or a Namespace's own name.
fn namespace_of(f: &Found) -> String {
    if f.target.kind == "Namespace" {
        f.target.name.clone()
    } else {
        f.target.namespace.clone().unwrap_or_default()
    }
}

/// The copies in `ns` and the Namespace `ns` among `namespace_bound`,
/// copies first: they go before their namespace.
fn bound_to<'f>(namespace_bound: &'f [Found], ns: &str) -> Vec<&'f Found> {
    let mut ours: Vec<&Found> = namespace_bound
        .iter()
        .filter(|f| namespace_of(f) == ns)
        .collect();
    ours.sort_by_key(|f| f.target.kind == "Namespace");
    ours
}

/// For each of `namespace_bound` (copies and Namespaces), in deletion
/// order: `None` when it may go, or why it stays. It may go when its
/// namespace holds nothing but what is `leaving` (the instance's objects
/// deleted before it) and the other namespace-bound objects there; `also`
/// are objects that will be there though they may not be yet (a preview).
///
/// `planned` are the plan's targets (none for `--delete`). Those that stay are the instance's
/// own and do not keep a Secret copy the plan dropped (the instance no
/// longer uses it: an Ingress moved to an HTTPRoute, whose TLS ends at the
/// Gateway); they keep a Namespace. Other instances' objects, and other
/// tools', keep both.
async fn namespace_verdicts<'f>(
    cluster: &Cluster,
    namespace_bound: &'f [Found],
    leaving: &[ObjectRef],
    also: &[ObjectRef],
    planned: &[ObjectRef],
) -> Result<Vec<(&'f Found, Option<String>)>> {
    let mut verdicts = Vec::new();
    if namespace_bound.is_empty() {
        return Ok(verdicts);
    }
    // Asked now, not taken from the run's discovery: a CRD installed since counts.
    let inventory = Inventory::discover(cluster).await?;
    let namespaces: BTreeSet<String> = namespace_bound.iter().map(namespace_of).collect();
    for ns in namespaces {
        let ours = bound_to(namespace_bound, &ns);
        let mut gone: Vec<ObjectRef> = leaving
            .iter()
            .filter(|t| t.namespace.as_deref() == Some(ns.as_str()))
            .cloned()
            .collect();
        // A released copy stays, and keeps its namespace.
        gone.extend(ours.iter().filter(|f| !f.adopted).map(|f| f.target.clone()));
        let staying: Vec<ObjectRef> = planned
            .iter()
            .filter(|t| t.namespace.as_deref() == Some(ns.as_str()) && !gone.contains(t))
            .cloned()
            .collect();
        gone.extend(staying.iter().cloned());
        let holdings = inventory.holdings(cluster, &ns, &gone, also).await?;
        let note = keep_note(&ns, &holdings);
        let namespace_note = if staying.is_empty() {
            note.clone()
        } else {
            let names: Vec<String> = staying
                .iter()
                .map(|t| format!("{} {}", t.kind, t.name))
                .chain(holdings.objects.iter().cloned())
                .collect();
            Some(format!("namespace {ns} still holds {}", first_few(&names)))
        };
        for f in ours {
            let verdict = if f.target.kind == "Namespace" {
                namespace_note.clone()
            } else {
                note.clone()
            };
            verdicts.push((f, verdict));
        }
    }
    Ok(verdicts)
}

/// Deletes `found` objects: first the instance's own objects in reverse
/// plan order, then, namespace by namespace, Secret copies and the Namespace
/// itself when nothing else is left there; waits until all are gone. When
/// it fails, the objects it did not get to are in the report as not done
/// (the one that failed is there already). `staying`: the instance's
/// objects that stay (a prune's plan; none for `--delete`), see
/// [`namespace_verdicts`].
async fn remove(
    cluster: &Cluster,
    plan: &Plan,
    found: Vec<Found>,
    staying: &[ObjectRef],
    report: &mut Report,
    dry_run: bool,
) -> Result<()> {
    let targets: Vec<ObjectRef> = found.iter().map(|f| f.target.clone()).collect();
    let DeletionOrder {
        own,
        namespace_bound,
    } = deletion_order(found, &plan.targets());
    let result = async {
        let mut deleted: Vec<(Found, bool)> = Vec::new();
        for f in &own {
            remove_one(cluster, f, removal(f, None), report, dry_run, &mut deleted).await?;
        }
        // Copies and namespaces: only where nothing else remains.
        let leaving: Vec<ObjectRef> = deleted.iter().map(|(f, _)| f.target.clone()).collect();
        for (f, kept) in
            namespace_verdicts(cluster, &namespace_bound, &leaving, &[], staying).await?
        {
            remove_one(cluster, f, removal(f, kept), report, dry_run, &mut deleted).await?;
        }
        if !dry_run {
            for (f, existed) in &deleted {
                if *existed {
                    let gone = &Condition::Deleted;
                    wait::until(cluster, &f.kind, &f.target, gone, DEFAULT_DELETE_WAIT).await?;
                }
            }
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        for target in targets {
            let said = report.entries.iter().any(|e| {
                e.kind == target.kind && e.namespace == target.namespace && e.name == target.name
            });
            if !said {
                report
                    .entries
                    .push(Entry::new(ObjectAction::NotDone, &target, None));
            }
        }
    }
    result
}

/// Carries out what [`removal`] decided for `f`, saying it in `report`;
/// a deleted object goes into `deleted`, with whether there is something
/// to wait for.
async fn remove_one(
    cluster: &Cluster,
    f: &Found,
    removal: Removal,
    report: &mut Report,
    dry_run: bool,
    deleted: &mut Vec<(Found, bool)>,
) -> Result<()> {
    match removal {
        Removal::Kept(note) => {
            report.push_entry(
                Entry::new(ObjectAction::Kept, &f.target, Some(note)),
                dry_run,
            );
        }
        Removal::Released => release_reported(cluster, f, report, dry_run).await?,
        Removal::Deleted => {
            let existed = delete_reported(cluster, f, report, dry_run).await?;
            deleted.push((f.clone(), existed));
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
        return Err(KubeError::NotPermitted {
            option: option.to_string(),
            problems,
        });
    }
    Ok(())
}

/// Deletes `f` and reports it; an object already being deleted (an earlier
/// run's) is not deleted again, nor counted as deleted by this run. Whether
/// there is something to wait for. A deletion that fails is in the report
/// as failed (not logged: the error says it).
async fn delete_reported(
    cluster: &Cluster,
    f: &Found,
    report: &mut Report,
    dry_run: bool,
) -> Result<bool> {
    if f.live.pointer("/metadata/deletionTimestamp").is_some() {
        let note = Some("already being deleted".to_string());
        report.push_entry(
            Entry::new(ObjectAction::Unchanged, &f.target, note),
            dry_run,
        );
        return Ok(true);
    }
    match delete_one(cluster, f, dry_run).await {
        Ok(existed) => {
            report.push_entry(Entry::new(ObjectAction::Deleted, &f.target, None), dry_run);
            Ok(existed)
        }
        Err(e) => {
            let note = Some(super::error::chain(&e));
            report
                .entries
                .push(Entry::new(ObjectAction::Failed, &f.target, note));
            Err(e)
        }
    }
}

/// The report entry of releasing the adopted object `f`, naming who made it.
fn released_entry(f: &Found) -> Entry {
    let made_by = super::owner::Owner::of(&f.live).made_by();
    let note = format!("made by {made_by}: left in place, no longer managed by wildrun");
    Entry::new(ObjectAction::Released, &f.target, Some(note))
}

/// Releases the adopted object `f` and reports it.
async fn release_reported(
    cluster: &Cluster,
    f: &Found,
    report: &mut Report,
    dry_run: bool,
) -> Result<()> {
    if super::objects::release(cluster, &f.kind, &f.target, &f.live, dry_run)
        .await?
        .is_some()
    {
        report.push_entry(released_entry(f), dry_run);
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
        generated: crate::plan::is_generated(&kind.resource.kind, item),
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

/// `--delete`: removes every object of `instance`, saying each in `report`
/// (which, when it fails, also says what failed and what was not done).
/// Objects that hold data (see [`holds_data`]) stay unless `rules` allows
/// them to go (`--allow-prune-data`), and keep their namespace: a later
/// deploy of the instance finds them again.
pub(crate) async fn delete_instance(
    cluster: &Cluster,
    plan: &Plan,
    instance: &str,
    rules: &PruneRules,
    dry_run: bool,
    report: &mut Report,
) -> Result<()> {
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
    if found.is_empty() {
        tracing::info!("nothing of instance {instance} is in the cluster");
    }
    let (data, found): (Vec<Found>, Vec<Found>) = found
        .into_iter()
        .partition(|f| keeps_data(f, rules) && !f.adopted);
    check_delete(cluster, &found, "--delete").await?;
    for f in &data {
        report.push_entry(data_kept(f, "--delete"), dry_run);
    }
    remove(cluster, plan, found, &[], report, dry_run).await
}

/// Whether `f` holds data that `rules` says to keep (no `--allow-prune-data`).
fn keeps_data(f: &Found, rules: &PruneRules) -> bool {
    !rules.allow_data && (f.generated || holds_data(&f.kind, &rules.keep_kinds))
}

/// The report entry of `f`, kept by `option` (`--delete`, `--prune`)
/// because it holds data.
fn data_kept(f: &Found, option: &str) -> Entry {
    let what = if f.generated {
        "holds generated values"
    } else {
        "holds data"
    };
    let note = format!(
        "{} {what}: {option} leaves it unless --allow-prune-data is given",
        f.target.kind
    );
    Entry::new(ObjectAction::Kept, &f.target, Some(note))
}

/// What narrows or widens `--prune` (and, for objects that hold data, `--delete`).
#[derive(Debug, Clone, Default)]
pub(crate) struct PruneRules {
    /// `--allow-prune-all`: a prune may remove every object of the
    /// instance (an empty plan, or one that keeps none of them).
    pub(crate) allow_all: bool,
    /// `--allow-prune-data`: a prune or `--delete` may remove objects that hold data.
    pub(crate) allow_data: bool,
    /// `prune.keepKinds`: kinds that hold data besides [`DATA_KINDS`],
    /// each `Kind` (any group) or `Kind.group`.
    pub(crate) keep_kinds: Vec<String>,
    /// The run is a step of `--watch`.
    pub(crate) watch: Option<WatchStep>,
}

/// What a prune in a `--watch` step needs to know.
#[derive(Debug, Clone, Default)]
pub(crate) struct WatchStep {
    /// Why the files the run read have not settled yet (one changed a
    /// moment ago); `None` once they have.
    pub(crate) unsettled: Option<String>,
}

/// What a prune will do, decided before the plan is applied.
#[derive(Debug, Default)]
pub(crate) struct Pruning {
    /// What to delete (copies and Namespaces only if their namespace
    /// holds nothing else by then).
    remove: Vec<Found>,
    /// What stays on purpose, as report entries: held back, or holding data.
    spared: Vec<Entry>,
}

/// The hosts a route object of `kind` serves (an Ingress's rules, an
/// HTTPRoute's hostnames); none for other kinds.
pub(crate) fn route_hosts(kind: &str, object: &Value) -> Vec<String> {
    match kind {
        "Ingress" => crate::chain::ingress::hosts(object),
        "HTTPRoute" => crate::chain::httproute::hosts(object),
        _ => Vec::new(),
    }
}

impl Pruning {
    /// Whether a step was held back, to be confirmed or retried.
    #[cfg(test)]
    fn held(&self) -> bool {
        self.spared.iter().any(|e| e.action == ObjectAction::Held)
    }

    /// The routes it removes that serve one of `hosts` (Ingresses and
    /// HTTPRoutes), as `Kind namespace/name`: a recipe that moved to the
    /// other routing API replaces them, and the new route must answer
    /// before they go.
    pub(crate) fn replaced_routes(&self, hosts: &[String]) -> Vec<String> {
        self.remove
            .iter()
            .filter(|f| {
                route_hosts(&f.target.kind, &f.live)
                    .iter()
                    .any(|h| hosts.contains(h))
            })
            .map(|f| f.target.to_string())
            .collect()
    }

    /// Its report entries for a run that failed before pruning: the
    /// deletions not done, and what it would have spared anyway.
    pub(crate) fn not_done(&self) -> Vec<Entry> {
        self.remove
            .iter()
            .map(|f| {
                let note = "--prune would have deleted it; the run stopped before".to_string();
                Entry::new(ObjectAction::NotDone, &f.target, Some(note))
            })
            .chain(self.spared.iter().cloned())
            .collect()
    }
}

/// Whether `kind` holds data a deletion destroys: [`DATA_KINDS`] and the
/// kinds `keep_kinds` names (`Kind` or `Kind.group`).
fn holds_data(kind: &Kind, keep_kinds: &[String]) -> bool {
    let (group, name) = (kind.resource.group.as_str(), kind.resource.kind.as_str());
    DATA_KINDS.contains(&(group, name))
        || keep_kinds.iter().any(|entry| match entry.split_once('.') {
            Some((k, g)) => k == name && g == group,
            None => entry == name,
        })
}

/// Sorts what `--prune` would remove (`stale`, none kept by label) out of
/// an instance of `owned` objects (those not kept by label): refused,
/// held, kept for its data, or to delete. `plan_empty`: the plan has no
/// object at all.
fn sort_prune(
    stale: Vec<Found>,
    owned: usize,
    plan_empty: bool,
    instance: &str,
    rules: &PruneRules,
) -> Result<Pruning> {
    if stale.is_empty() {
        return Ok(Pruning::default());
    }
    let hold = |stale: Vec<Found>, why: String| Pruning {
        remove: Vec::new(),
        spared: stale
            .iter()
            .map(|f| Entry::new(ObjectAction::Held, &f.target, Some(why.clone())))
            .collect(),
    };
    // A file in mid-save first: what the plan lacks now may be back in a moment.
    if let Some(WatchStep {
        unsettled: Some(why),
    }) = &rules.watch
    {
        return Ok(hold(stale, why.clone()));
    }
    if !rules.allow_all && (plan_empty || stale.len() >= owned) {
        return Err(KubeError::PruneAll {
            instance: instance.to_string(),
            objects: stale.iter().map(|f| f.target.to_string()).collect(),
            reason: if plan_empty {
                "the plan is empty".into()
            } else {
                "the plan keeps none of them".into()
            },
        });
    }
    let (share, of) = WATCH_PRUNE_SHARE;
    if rules.watch.is_some() && stale.len() * of > owned * share {
        let why = format!(
            "the plan dropped {} of the {owned} objects of instance {instance}, more than {}% in one --watch step: run the same command without --watch to confirm",
            stale.len(),
            share * 100 / of
        );
        return Ok(hold(stale, why));
    }
    let (data, remove): (Vec<Found>, Vec<Found>) =
        stale.into_iter().partition(|f| keeps_data(f, rules));
    let spared = data.iter().map(|f| data_kept(f, "--prune")).collect();
    Ok(Pruning { remove, spared })
}

/// What `--prune` would do with `plan` for `instance` under `rules`.
async fn decide_prune(
    cluster: &Cluster,
    plan: &Plan,
    instance: &str,
    rules: &PruneRules,
) -> Result<Pruning> {
    let kinds = searchable_kinds(cluster, plan).await?;
    let found = find_instance(cluster, &kinds, instance).await?;
    let planned = plan.targets();
    let owned = found.iter().filter(|f| !f.keep).count();
    sort_prune(
        stale_of(found, &planned),
        owned,
        planned.is_empty(),
        instance,
        rules,
    )
}

/// What `--prune` removes of `found`: objects the plan no longer produces
/// (`planned` is its targets), except those kept by label.
fn stale_of(found: Vec<Found>, planned: &[ObjectRef]) -> Vec<Found> {
    found
        .into_iter()
        .filter(|f| !planned.contains(&f.target) && !f.keep)
        .collect()
}

/// One object `--prune` would take out of the instance, for `--diff`.
#[derive(Debug, Clone)]
pub(crate) struct Pruned {
    /// The object.
    pub(crate) target: ObjectRef,
    /// It as listed.
    pub(crate) live: Value,
    /// `None` when it would be deleted; for an adopted object, which is
    /// released instead, what it would be once released (the API server's
    /// answer to the release patch, sent as a dry run).
    pub(crate) released: Option<Value>,
}

/// What `--diff --prune` shows: exactly what `--prune` would delete or
/// release, and what it would leave in place with why.
#[derive(Debug, Default)]
pub(crate) struct PrunePreview {
    /// The objects it would delete or release.
    pub(crate) removed: Vec<Pruned>,
    /// What it would keep, hold back or release, as report entries.
    pub(crate) spared: Vec<Entry>,
}

/// What `--prune` would do after applying `plan`, without doing it: the
/// same decisions, with the plan's objects counted as there already (the
/// apply comes first). Fails as `--prune` would refuse.
pub(crate) async fn preview_prune(
    cluster: &Cluster,
    plan: &Plan,
    instance: &str,
    rules: &PruneRules,
) -> Result<PrunePreview> {
    let Pruning { remove, spared } = decide_prune(cluster, plan, instance, rules).await?;
    let planned = plan.targets();
    let DeletionOrder {
        own,
        namespace_bound,
    } = deletion_order(remove, &planned);
    let mut preview = PrunePreview {
        removed: Vec::new(),
        spared,
    };
    let mut leaving = Vec::new();
    for f in &own {
        let removal = removal(f, None);
        if removal == Removal::Deleted {
            leaving.push(f.target.clone());
        }
        preview.add(cluster, f, removal).await?;
    }
    for (f, kept) in
        namespace_verdicts(cluster, &namespace_bound, &leaving, &planned, &planned).await?
    {
        preview.add(cluster, f, removal(f, kept)).await?;
    }
    Ok(preview)
}

/// `object` with its top-level fields in the order of `like`'s, then its
/// others: a listed object carries `apiVersion` and `kind` last, the API
/// server's answer first, and a diff should show only what changed.
fn ordered_like(object: Value, like: &Value) -> Value {
    let (Value::Object(mut fields), Some(order)) = (object.clone(), like.as_object()) else {
        return object;
    };
    let mut out = serde_json::Map::new();
    for key in order.keys() {
        if let Some(v) = fields.remove(key) {
            out.insert(key.clone(), v);
        }
    }
    out.extend(fields);
    Value::Object(out)
}

impl PrunePreview {
    /// Adds what [`removal`] decided for `f`, as `--prune` would do it.
    async fn add(&mut self, cluster: &Cluster, f: &Found, removal: Removal) -> Result<()> {
        let released = match removal {
            Removal::Kept(note) => {
                self.spared
                    .push(Entry::new(ObjectAction::Kept, &f.target, Some(note)));
                return Ok(());
            }
            Removal::Deleted => None,
            Removal::Released => {
                let after =
                    super::objects::release(cluster, &f.kind, &f.target, &f.live, true).await?;
                // Gone since it was listed: nothing to release.
                let Some(after) = after else { return Ok(()) };
                self.spared.push(released_entry(f));
                Some(ordered_like(after, &f.live))
            }
        };
        self.removed.push(Pruned {
            target: f.target.clone(),
            live: f.live.clone(),
            released,
        });
        Ok(())
    }
}

/// Before `--prune` applies anything: decides what the prune will do, and
/// refuses when it would remove every object of the instance (without
/// `--allow-prune-all`) or the user may not delete an object it would remove.
pub(crate) async fn check_prune(
    cluster: &Cluster,
    plan: &Plan,
    instance: &str,
    rules: &PruneRules,
) -> Result<Pruning> {
    let pruning = decide_prune(cluster, plan, instance, rules).await?;
    check_delete(cluster, &pruning.remove, "--prune").await?;
    Ok(pruning)
}

/// `--prune`, after the apply: carries out what [`check_prune`] decided,
/// saying each object in `report`, the ones left in place too.
pub(crate) async fn prune_instance(
    cluster: &Cluster,
    plan: &Plan,
    pruning: Pruning,
    dry_run: bool,
    report: &mut Report,
) -> Result<()> {
    let Pruning {
        remove: stale,
        spared,
    } = pruning;
    for entry in spared {
        report.push_entry(entry, dry_run);
    }
    remove(cluster, plan, stale, &plan.targets(), report, dry_run).await
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
    fn the_keep_note_names_three_things_counts_the_rest_and_says_what_it_could_not_read() {
        let holdings = |objects: &[String], unreadable: &[&str]| Holdings {
            objects: objects.to_vec(),
            unreadable: unreadable.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(keep_note("a", &holdings(&[], &[])), None);
        let others: Vec<String> = (1..=5).map(|i| format!("ConfigMap c{i}")).collect();
        assert_eq!(
            keep_note("a", &holdings(&others[..3], &[])).as_deref(),
            Some("namespace a still holds ConfigMap c1, ConfigMap c2, ConfigMap c3")
        );
        assert_eq!(
            keep_note("a", &holdings(&others, &[])).as_deref(),
            Some("namespace a still holds ConfigMap c1, ConfigMap c2, ConfigMap c3, and 2 more")
        );
        let forbidden = "leases.coordination.k8s.io (not allowed to list them)";
        assert_eq!(
            keep_note("a", &holdings(&[], &[forbidden])).as_deref(),
            Some("namespace a may hold objects wildrun cannot see: leases.coordination.k8s.io (not allowed to list them)")
        );
        assert_eq!(
            keep_note("a", &holdings(&others[..1], &[forbidden])).as_deref(),
            Some("namespace a still holds ConfigMap c1, and may hold objects wildrun cannot see: leases.coordination.k8s.io (not allowed to list them)")
        );
    }

    fn pvcs() -> Kind {
        kind(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
        )
    }

    /// An instance of a Namespace, a PVC and `configmaps` ConfigMaps, all stale.
    fn instance(configmaps: usize) -> Vec<Found> {
        let mut all = vec![
            found(
                &kind("", "v1", "Namespace", "namespaces", false),
                None,
                "a",
                false,
                false,
            ),
            found(&pvcs(), Some("a"), "data", false, false),
        ];
        all.extend(
            (0..configmaps)
                .map(|i| found(&config_maps(), Some("a"), &format!("c{i}"), false, false)),
        );
        all
    }

    #[test]
    fn a_prune_of_every_object_is_refused_unless_allowed() {
        let rules = PruneRules::default();
        let err = sort_prune(instance(1), 3, true, "r.x", &rules).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("nothing was changed; --prune would delete every object of instance r.x (Namespace a, PersistentVolumeClaim a/data, ConfigMap a/c0), because the plan is empty"),
            "{text}"
        );
        assert!(text.contains("--allow-prune-all"), "{text}");
        // A plan with objects, none of them the instance's.
        let err = sort_prune(instance(1), 3, false, "r.x", &rules).unwrap_err();
        assert!(
            err.to_string().contains("the plan keeps none of them"),
            "{err}"
        );
        let allowed = PruneRules {
            allow_all: true,
            allow_data: true,
            ..PruneRules::default()
        };
        let pruning = sort_prune(instance(1), 3, true, "r.x", &allowed).unwrap();
        assert_eq!(pruning.remove.len(), 3);
        // Nothing stale: nothing to refuse, even with an empty plan.
        assert!(sort_prune(Vec::new(), 3, true, "r.x", &rules).is_ok());
    }

    #[test]
    fn objects_holding_data_stay_unless_allowed() {
        let mut stale = instance(1);
        stale.remove(0);
        let rules = PruneRules {
            keep_kinds: vec!["ConfigMap.example.io".into()],
            ..PruneRules::default()
        };
        let pruning = sort_prune(stale.clone(), 5, false, "r.x", &rules).unwrap();
        assert_eq!(names(&pruning.remove), ["ConfigMap a/c0"]);
        let lines: Vec<String> = pruning.spared.iter().map(Entry::line).collect();
        assert_eq!(lines, ["kept       PersistentVolumeClaim a/data (PersistentVolumeClaim holds data: --prune leaves it unless --allow-prune-data is given)"]);
        // prune.keepKinds: a kind by name, or by name and group.
        for entry in ["ConfigMap", "ConfigMap.example.io"] {
            let rules = PruneRules {
                keep_kinds: vec![entry.into()],
                ..PruneRules::default()
            };
            let pruning = sort_prune(stale.clone(), 5, false, "r.x", &rules).unwrap();
            let kept = entry == "ConfigMap";
            assert_eq!(pruning.remove.is_empty(), kept, "{entry}");
        }
        let allowed = PruneRules {
            allow_data: true,
            ..PruneRules::default()
        };
        let pruning = sort_prune(stale, 5, false, "r.x", &allowed).unwrap();
        assert_eq!(pruning.remove.len(), 2);
        assert!(pruning.spared.is_empty());
    }

    #[test]
    fn a_watch_step_holds_a_prune_until_the_files_settle_and_a_large_one_until_confirmed() {
        let unsettled = PruneRules {
            allow_all: true,
            watch: Some(WatchStep {
                unsettled: Some("objs.yaml changed 0.5s ago".into()),
            }),
            ..PruneRules::default()
        };
        let pruning = sort_prune(instance(0), 2, true, "r.x", &unsettled).unwrap();
        assert!(pruning.remove.is_empty() && pruning.held());
        assert_eq!(
            pruning.spared[0].line(),
            "held       Namespace a (objs.yaml changed 0.5s ago)"
        );
        let settled = PruneRules {
            watch: Some(WatchStep::default()),
            ..PruneRules::default()
        };
        // Half of an instance of four: applied (the PVC kept for its data).
        let mut two = instance(2);
        two.remove(0);
        two.remove(0);
        let pruning = sort_prune(two, 4, false, "r.x", &settled).unwrap();
        assert_eq!(names(&pruning.remove), ["ConfigMap a/c0", "ConfigMap a/c1"]);
        assert!(!pruning.held());
        // More than half: held, whatever --allow-prune-all says.
        let mut three = instance(2);
        three.remove(0);
        let confirmed_elsewhere = PruneRules {
            allow_all: true,
            ..settled.clone()
        };
        let pruning = sort_prune(three.clone(), 4, false, "r.x", &confirmed_elsewhere).unwrap();
        assert!(pruning.remove.is_empty() && pruning.held());
        assert!(
            pruning.spared[0].line().contains("the plan dropped 3 of the 4 objects of instance r.x, more than 50% in one --watch step: run the same command without --watch to confirm"),
            "{}",
            pruning.spared[0].line()
        );
        // Without --watch the same prune goes ahead.
        let pruning = sort_prune(three, 4, false, "r.x", &PruneRules::default()).unwrap();
        assert_eq!(pruning.remove.len(), 2);
    }

    #[test]
    fn a_released_object_is_shown_in_the_listed_object_s_field_order() {
        let listed =
            json!({"metadata": {"name": "a"}, "data": {}, "apiVersion": "v1", "kind": "ConfigMap"});
        let answered = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {}, "extra": 1});
        let keys: Vec<String> = ordered_like(answered, &listed)
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["metadata", "data", "apiVersion", "kind", "extra"]);
    }

    #[test]
    fn adopted_objects_are_released_and_kept_ones_kept_whatever_else_holds() {
        let cm = config_maps();
        let adopted = found_from(
            &cm,
            &item(
                Some("a"),
                "theirs",
                json!({}),
                json!({ADOPTED_ANNOTATION: "kubectl-client-side-apply"}),
            ),
        );
        assert!(adopted.adopted);
        assert_eq!(removal(&adopted, None), Removal::Released);
        assert_eq!(
            removal(&found(&cm, Some("a"), "ours", false, false), None),
            Removal::Deleted
        );
        assert_eq!(
            removal(&found(&cm, Some("a"), "shared", true, false), None),
            Removal::Kept("wildrun.dev/keep=true: shared with other services".into())
        );
        // A copy taken over stays either way: released, not kept marked as wildrun's.
        assert_eq!(
            removal(&adopted, Some("namespace a still holds ConfigMap x".into())),
            Removal::Released
        );
        assert_eq!(
            removal(
                &found(&cm, Some("a"), "copy", false, true),
                Some("namespace a still holds ConfigMap x".into())
            ),
            Removal::Kept("namespace a still holds ConfigMap x".into())
        );
    }

    #[test]
    fn first_few_names_three_and_counts_the_rest() {
        let items: Vec<String> = (1..=4).map(|i| i.to_string()).collect();
        assert_eq!(first_few(&items[..2]), "1, 2");
        assert_eq!(first_few(&items), "1, 2, 3, and 1 more");
    }
}
