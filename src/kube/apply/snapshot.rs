//! What the preflight reads: every object the checks need, read once
//! each and several at a time, kept as the facts the checks and the
//! writes' outcomes need ([`Live`]), not as whole objects.

use crate::kube::cluster::{Cluster, Kind};
use crate::kube::error::{KubeError, Result};
use crate::kube::objects::{self, copy_object, get, rv, why_write};
use crate::kube::owner::{is_wildrun_manager, label, Adoption, Owner};
use crate::kube::reads::Reads;
use crate::plan::{ObjectRef, PlannedStep, Step, INSTANCE_LABEL, KEEP_LABEL};
use futures::StreamExt;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What the preflight read, by object: `None` when it does not exist.
pub(super) type Snapshot = std::collections::HashMap<ObjectRef, Option<Arc<Live>>>;

/// What the preflight keeps of a live object: what its checks and the
/// outcome of a write need, not the object. A plan of 500 services reads
/// some 3,000 objects; kept whole, even without their status, they took
/// more memory than the rest of the run (57 MiB peak RSS against 36 MiB
/// for the same plan on an empty cluster).
#[derive(Debug, Default)]
pub(super) struct Live {
    /// `metadata.resourceVersion`.
    pub(super) resource_version: Option<String>,
    /// [`objects::fingerprint`] of the object: a write answered with the
    /// same one changed nothing of it.
    pub(super) fingerprint: u64,
    /// The `wildrun.dev/instance` label.
    pub(super) instance: Option<String>,
    /// The `wildrun.dev/keep` label is `true`: shared between instances.
    pub(super) kept: bool,
    /// The source a copy wildrun made was copied from ([`objects::copy_origin`]).
    pub(super) copy_of: Option<String>,
    /// It already holds what the plan writes to it, and wildrun's field
    /// manager owns exactly those fields (see [`why_write`]): decided when
    /// it is read, against the body the step will send.
    pub(super) holds: bool,
    /// The whole object, status and other managers' records dropped
    /// ([`keep_for_preflight`]): kept only for a copy's source, whose data
    /// the copy is made of, and for a Secret in a copy's way that wildrun
    /// did not make, which is judged by its data.
    pub(super) whole: Option<Value>,
    /// Who made it, for people, when it carries no managed-by label of
    /// wildrun's: another tool made it.
    pub(super) made_by: Option<String>,
    /// wildrun adopted it (`--adopt`): it carries the adoption marks.
    pub(super) adopted: bool,
    /// What writing over it as an adopted object keeps: set when another
    /// tool made it or wildrun adopted it.
    pub(super) adoption: Option<Adoption>,
    /// A Namespace another tool made: who, and it is not written.
    pub(super) used_as_it_is: Option<String>,
    /// A copy of the plan's source that another instance made: its labels,
    /// which a write keeping it in step keeps ([`copy_maker_labels`]).
    pub(super) maker_labels: Option<serde_json::Map<String, Value>>,
}

impl Live {
    /// What to keep of `live`, read as the target of `body` (if the plan
    /// writes to it), whole if `keep_whole`.
    pub(super) fn of(
        target: &ObjectRef,
        live: Value,
        body: Option<&Value>,
        keep_whole: bool,
    ) -> Live {
        let owner = Owner::of(&live);
        let adopted = owner.adopted.is_some();
        let adoption = (!owner.ours || adopted).then(|| Adoption::of(&live));
        // An adopted object is written with its marks: compared with them.
        let written = match (&adoption, body) {
            (Some(adoption), Some(body)) if adopted => {
                Some(std::borrow::Cow::Owned(adoption.body(body)))
            }
            (_, body) => body.map(std::borrow::Cow::Borrowed),
        };
        Live {
            resource_version: rv(&live).map(str::to_string),
            fingerprint: objects::fingerprint(&live),
            instance: label(&live, INSTANCE_LABEL).map(str::to_string),
            kept: label(&live, KEEP_LABEL) == Some("true"),
            copy_of: objects::copy_origin(&live).map(str::to_string),
            holds: written.is_some_and(|body| already_holds(target, &body, Some(&live))),
            made_by: (!owner.ours).then(|| owner.made_by()),
            used_as_it_is: crate::kube::owner::namespace_used_as_it_is(&target.kind, &live),
            adopted,
            adoption,
            whole: keep_whole.then(|| keep_for_preflight(live)),
            maker_labels: None,
        }
    }
}

/// Turns what the preflight reads into [`Live`] as it arrives, comparing
/// each target with what its step will write.
pub(super) struct Projector<'p> {
    /// The step that writes each target (a plan writes a target once).
    pub(super) writers: std::collections::HashMap<ObjectRef, &'p PlannedStep>,
    /// The sources of secret copies: kept whole.
    pub(super) sources: std::collections::HashSet<ObjectRef>,
}

impl<'p> Projector<'p> {
    pub(super) fn new(ordered: &[&'p PlannedStep]) -> Projector<'p> {
        let mut writers = std::collections::HashMap::new();
        let mut sources = std::collections::HashSet::new();
        for planned in ordered {
            if let Some(target) = planned.step.target() {
                writers.entry(target).or_insert(*planned);
            }
            if let Step::CopySecret(c) = &planned.step {
                sources.insert(ObjectRef::secret(&c.from_namespace, &c.name));
            }
        }
        Projector { writers, sources }
    }

    /// Keeps what the checks need of `live`. A copy is compared with the
    /// source as `read` holds it, so sources are read in an earlier round
    /// than their copies.
    pub(super) fn project(&self, target: &ObjectRef, live: Value, read_before: &Snapshot) -> Live {
        let writer = self.writers.get(target).map(|p| &p.step);
        // A Secret in a copy's way that wildrun did not make is judged by its data.
        let in_the_way = match writer {
            Some(Step::CopySecret(copy)) => {
                objects::copy_origin(&live)
                    != Some(format!("{}/{}", copy.from_namespace, copy.name).as_str())
            }
            _ => false,
        };
        let body = match writer {
            Some(Step::Apply(a)) => Some(std::borrow::Cow::Borrowed(&a.object.value)),
            Some(Step::CopySecret(copy)) => read(
                read_before,
                &ObjectRef::secret(&copy.from_namespace, &copy.name),
            )
            .and_then(|source| source.whole.as_ref().map(|s| copy_object(copy, s)))
            .map(std::borrow::Cow::Owned),
            _ => None,
        };
        // A copy another instance made is compared as it will be written:
        // with its maker's labels.
        let maker_labels = body
            .as_deref()
            .filter(|_| matches!(writer, Some(Step::CopySecret(_))) && !in_the_way)
            .and_then(|body| copy_maker_labels(body, &live));
        let body = match (&maker_labels, body) {
            (Some(labels), Some(body)) => Some(std::borrow::Cow::Owned(with_labels(
                body.into_owned(),
                labels,
            ))),
            (_, body) => body,
        };
        let keep_whole = in_the_way || self.sources.contains(target);
        let mut kept = Live::of(target, live, body.as_deref(), keep_whole);
        kept.maker_labels = maker_labels;
        kept
    }
}

/// How many reads the preflight has in flight at once: a plan of fifty
/// services reads some three hundred objects, and one at a time most of the
/// run would be spent waiting on round trips.
pub(super) const CONCURRENT_READS: usize = 8;

/// Reads every object in `wanted` (each once) that the script has not
/// read already (`script_reads`), several at a time, keeping what
/// `projector` says of each (`read_before`: earlier rounds).
pub(super) async fn read_all(
    cluster: &Cluster,
    wanted: Vec<(Kind, ObjectRef)>,
    script_reads: &Reads,
    projector: &Projector<'_>,
    read_before: &Snapshot,
) -> Result<Snapshot> {
    use futures::TryStreamExt;
    futures::stream::iter(wanted.into_iter().map(|(kind, target)| async move {
        let value = match script_reads.lookup(&target) {
            Some(answer) => answer.map(|v| Value::clone(&v)),
            None => get(cluster, &kind, &target).await?,
        };
        let live = value.map(|v| Arc::new(projector.project(&target, v, read_before)));
        Ok::<_, KubeError>((target, live))
    }))
    .buffer_unordered(CONCURRENT_READS)
    .try_collect()
    .await
}

/// The objects the preflight of a step reads: its target, and a copy's source.
pub(super) fn reads_of(planned: &PlannedStep, kind: &Kind) -> Vec<(Kind, ObjectRef)> {
    match &planned.step {
        Step::Apply(a) => vec![(kind.clone(), ObjectRef::of(&a.object))],
        Step::CopySecret(c) => vec![
            (kind.clone(), ObjectRef::secret(&c.from_namespace, &c.name)),
            (kind.clone(), ObjectRef::secret(&c.to_namespace, &c.name)),
        ],
        Step::Wait(_) | Step::Delete(_) => Vec::new(),
    }
}

/// What the preflight keeps of a copy's source: all of it but its status
/// and other managers' records in `managedFields`, which no copy carries.
pub(super) fn keep_for_preflight(mut live: Value) -> Value {
    if let Some(object) = live.as_object_mut() {
        object.remove("status");
    }
    if let Some(entries) = live
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
    {
        entries.retain(|entry| {
            entry
                .get("manager")
                .and_then(Value::as_str)
                .is_some_and(is_wildrun_manager)
        });
    }
    live
}

/// What the preflight kept of `target`, shared; `None` when it is absent.
pub(super) fn read(snapshot: &Snapshot, target: &ObjectRef) -> Option<Arc<Live>> {
    snapshot.get(target).cloned().flatten()
}

/// Above how many Namespaces to read, the preflight lists them all instead
/// (one request; a plan of fifty new services read fifty Namespaces).
pub(super) const NAMESPACES_READ_ONE_BY_ONE: usize = 16;

/// How many Namespaces one page of that list holds: the preflight holds
/// one page at a time, however many namespaces the cluster has.
pub(super) const NAMESPACE_PAGE: u32 = 250;

/// The names of every Namespace, from one list (in pages of
/// [`NAMESPACE_PAGE`]), and what `projector` keeps of those in `wanted`,
/// turned into [`Live`] page by page; `None` when listing fails (a user who
/// may get Namespaces but not list them): they are then read one by one.
pub(super) async fn list_namespaces(
    cluster: &Cluster,
    wanted: &[(Kind, ObjectRef)],
    projector: &Projector<'_>,
) -> Option<(BTreeSet<String>, Snapshot)> {
    let mut names = BTreeSet::new();
    let mut snapshot = Snapshot::new();
    let listing = async {
        let wanted: std::collections::HashSet<&ObjectRef> = wanted.iter().map(|(_, t)| t).collect();
        let nothing = Snapshot::new();
        let kind = cluster.resolve("v1", "Namespace").await?;
        let api = cluster.api(&kind, None);
        let mut params = kube::api::ListParams::default().limit(NAMESPACE_PAGE);
        // Bounded: a million namespaces at most.
        for _ in 0..10_000 {
            let page = crate::kube::cluster::retry(|| api.list(&params))
                .await
                .map_err(|e| cluster.explain(e, "list namespaces"))?;
            for item in &page.items {
                let Some(name) = item.metadata.name.as_deref() else {
                    continue;
                };
                let target = ObjectRef::namespace(name);
                if wanted.contains(&target) {
                    let value = crate::kube::cluster::listed_value(&kind, item)?;
                    let live = projector.project(&target, value, &nothing);
                    snapshot.insert(target.clone(), Some(Arc::new(live)));
                }
                names.insert(target.name);
            }
            match page.metadata.continue_.filter(|token| !token.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok::<_, KubeError>(()),
            }
        }
        Err(KubeError::EndlessList("Namespaces".into()))
    };
    if let Err(e) = listing.await {
        tracing::debug!(
            "reading Namespaces one by one: {}",
            crate::kube::error::chain(&e)
        );
        return None;
    }
    for (_, target) in wanted {
        snapshot.entry(target.clone()).or_insert(None);
    }
    Some((names, snapshot))
}

/// Whether `target` is a Namespace (read before what lives in it).
pub(super) fn is_namespace(target: &ObjectRef) -> bool {
    target.kind == "Namespace" && target.api_version == "v1" && target.namespace.is_none()
}

/// Reads what the checks need, each object once and several at a time, in
/// up to three rounds so that nothing is read whose answer is already known:
///
/// 1. the Namespaces the plan applies (more than
///    [`NAMESPACES_READ_ONE_BY_ONE`]: from one list of them all), and the
///    sources of secret copies (each copy is compared with its source as it
///    is read, in round 2);
/// 2. every other target, except the objects inside a
///    Namespace round 1 found absent: nothing lives in a namespace that does
///    not exist, so they are recorded as absent unread (a new service's
///    namespace holds all but one of its objects);
/// 3. the namespaces the plan writes into without applying them, unless
///    round 2 found an object in them, which proves they exist.
///
/// Returns what was read and the namespaces known to exist.
pub(super) async fn read_targets(
    cluster: &Cluster,
    script_reads: &Reads,
    ordered: &[&PlannedStep],
    kinds: &[Option<Kind>],
    planned_ns: &BTreeSet<String>,
) -> Result<(Snapshot, BTreeSet<String>)> {
    let projector = Projector::new(ordered);
    let mut first = Vec::new();
    let mut others = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (planned, kind) in ordered.iter().zip(kinds) {
        let Some(kind) = kind else { continue };
        for (kind, target) in reads_of(planned, kind) {
            if !seen.insert(target.clone()) {
                continue;
            }
            if is_namespace(&target) || projector.sources.contains(&target) {
                first.push((kind, target));
            } else {
                others.push((kind, target));
            }
        }
    }
    let nothing = Snapshot::new();
    // 1.
    let (namespaces, mut first): (Vec<_>, Vec<_>) = first
        .into_iter()
        .partition(|(_, target)| is_namespace(target) && script_reads.lookup(target).is_none());
    let listed = match namespaces.len() > NAMESPACES_READ_ONE_BY_ONE {
        true => list_namespaces(cluster, &namespaces, &projector).await,
        false => None,
    };
    let (listed_names, mut snapshot) = match listed {
        Some((names, read)) => (Some(names), read),
        None => {
            first.extend(namespaces);
            (None, Snapshot::new())
        }
    };
    snapshot.extend(read_all(cluster, first, script_reads, &projector, &nothing).await?);
    let mut existing: BTreeSet<String> = snapshot
        .iter()
        .filter(|(target, live)| is_namespace(target) && live.is_some())
        .map(|(target, _)| target.name.clone())
        .collect();
    // 2.
    let inside_absent = |(kind, target): &(Kind, ObjectRef)| {
        kind.namespaced
            && target
                .namespace
                .as_ref()
                .is_some_and(|ns| planned_ns.contains(ns) && !existing.contains(ns))
    };
    let (known_absent, unknown): (Vec<_>, Vec<_>) = others.into_iter().partition(inside_absent);
    let proof: Vec<(ObjectRef, String)> = unknown
        .iter()
        .filter(|(kind, _)| kind.namespaced)
        .filter_map(|(_, target)| Some((target.clone(), target.namespace.clone()?)))
        .collect();
    snapshot.extend(known_absent.into_iter().map(|(_, target)| (target, None)));
    let round = read_all(cluster, unknown, script_reads, &projector, &snapshot).await?;
    snapshot.extend(round);
    existing.extend(
        proof
            .into_iter()
            .filter(|(target, _)| read(&snapshot, target).is_some())
            .map(|(_, ns)| ns),
    );
    // 3.
    let mut unproven: BTreeSet<String> = ordered
        .iter()
        .filter_map(|p| p.step.target().and_then(|t| t.namespace))
        .filter(|ns| !planned_ns.contains(ns) && !existing.contains(ns))
        .collect();
    if let Some(names) = &listed_names {
        // The list of round 1 answers: there or not.
        existing.extend(unproven.iter().filter(|ns| names.contains(*ns)).cloned());
        unproven.clear();
    }
    if !unproven.is_empty() {
        let namespace_kind = cluster.resolve("v1", "Namespace").await?;
        let wanted = unproven
            .into_iter()
            .map(|ns| (namespace_kind.clone(), ObjectRef::namespace(&ns)))
            .collect();
        let found = read_all(cluster, wanted, script_reads, &projector, &nothing).await?;
        existing.extend(
            found
                .iter()
                .filter(|(_, live)| live.is_some())
                .map(|(target, _)| target.name.clone()),
        );
        snapshot.extend(found);
    }
    Ok((snapshot, existing))
}

/// Whether `body` need not be written over `live` (see [`why_write`]); the
/// reason for a write goes to the debug log (`-v`).
pub(super) fn already_holds(target: &ObjectRef, body: &Value, live: Option<&Value>) -> bool {
    let Some(live) = live else {
        return false;
    };
    match why_write(body, live) {
        None => true,
        Some(why) => {
            tracing::debug!("{target}: writing, {why}");
            false
        }
    }
}

/// The labels of the live copy `live` when another instance made it than
/// the one of the copy `body` writes. A copy both keep (tls-sync, and a
/// recipe deploying into the same namespace) stays its maker's: the other
/// keeps its data in step with the source and writes the maker's labels,
/// so neither takes it from the other and the maker's `--delete` removes
/// it; `--adopt` moves it.
pub(super) fn copy_maker_labels(
    body: &Value,
    live: &Value,
) -> Option<serde_json::Map<String, Value>> {
    let maker = label(live, INSTANCE_LABEL)?;
    let shared = label(live, KEEP_LABEL) == Some("true");
    if shared || label(body, INSTANCE_LABEL) == Some(maker) {
        return None;
    }
    live.pointer("/metadata/labels")?.as_object().cloned()
}

/// `body` with the labels `labels` instead of its own.
pub(super) fn with_labels(mut body: Value, labels: &serde_json::Map<String, Value>) -> Value {
    body["metadata"]["labels"] = Value::Object(labels.clone());
    body
}
