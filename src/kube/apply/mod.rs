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

use super::cluster::{Cluster, Kind};
use super::error::{KubeError, Result};
use super::objects::{self, copy_object, get, label, rv, server_side_apply, why_write, Applied};
use super::owner::{Adoption, Owner};
use super::permissions::{Need, Permissions};
use super::reads::Reads;
use super::report::{Action, Entry, Report};
use super::wait;
use crate::plan::{
    ApplyStep, Condition, ObjectRef, Plan, PlannedStep, Propagation, Step, COPIED_FROM_ANNOTATION,
    DEFAULT_DELETE_WAIT, INSTANCE_LABEL, KEEP_LABEL, MANAGED_BY, MANAGED_BY_LABEL,
};
use futures::StreamExt;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;

/// How to carry out a plan.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--dry-run=server`: the API server validates, nothing persists.
    pub server_dry_run: bool,
    /// `--force`: take over fields other managers own, for every object.
    pub force: bool,
    /// `--require-tls`: a missing source secret is an error, not a warning.
    pub require_tls: bool,
    /// `--adopt`: take over objects another instance made, and manage in
    /// place objects another tool made (marked adopted: `--delete`
    /// releases them).
    pub adopt: bool,
    /// Report unchanged objects at debug level only (watch handlers, which
    /// run on every event, report what changed).
    pub quiet_unchanged: bool,
    /// The folder of the running recipe, as given on the command line: a
    /// message that names another instance's recipe names its file there
    /// when it is there (`scripts/public.rhai`), so the command runs as
    /// printed.
    pub recipe_dir: Option<std::path::PathBuf>,
}

/// A step with what the preflight learned.
struct Prepared<'p> {
    planned: &'p PlannedStep,
    kind: Option<Kind>,
    /// What the preflight kept of the live target (apply, copy), if it exists.
    live: Option<Arc<Live>>,
    /// The copy to write (copies whose source exists).
    copy: Option<Value>,
    /// What to write instead of the planned object: the object with the
    /// marks of an adopted one ([`Adoption::body`]), written with force.
    adopted_body: Option<Value>,
    /// Said beside the object in the report (`adopted: made by kubectl`).
    note: Option<String>,
    /// Why the step will not run.
    skip: Option<String>,
    /// The live target already holds what the step would apply, and
    /// wildrun's field manager owns exactly those fields: the step sends
    /// nothing and reports `unchanged` (see [`why_write`]).
    unchanged: bool,
}

/// What the preflight read, by object: `None` when it does not exist.
type Snapshot = std::collections::HashMap<ObjectRef, Option<Arc<Live>>>;

/// What the preflight keeps of a live object: what its checks and the
/// outcome of a write need, not the object. A plan of 500 services reads
/// some 3,000 objects; kept whole, even without their status, they took
/// more memory than the rest of the run (57 MiB peak RSS against 36 MiB
/// for the same plan on an empty cluster).
#[derive(Debug, Default)]
struct Live {
    /// `metadata.resourceVersion`.
    resource_version: Option<String>,
    /// [`objects::fingerprint`] of the object: a write answered with the
    /// same one changed nothing of it.
    fingerprint: u64,
    /// The `wildrun.dev/instance` label.
    instance: Option<String>,
    /// The `wildrun.dev/keep` label is `true`: shared between instances.
    kept: bool,
    /// The source a copy wildrun made was copied from ([`objects::copy_origin`]).
    copy_of: Option<String>,
    /// It already holds what the plan writes to it, and wildrun's field
    /// manager owns exactly those fields (see [`why_write`]): decided when
    /// it is read, against the body the step will send.
    holds: bool,
    /// The whole object, status and other managers' records dropped
    /// ([`keep_for_preflight`]): kept only for a copy's source, whose data
    /// the copy is made of, and for a Secret in a copy's way that wildrun
    /// did not make, which is judged by its data.
    whole: Option<Value>,
    /// Who made it, for people, when it carries no managed-by label of
    /// wildrun's: another tool made it.
    made_by: Option<String>,
    /// wildrun adopted it (`--adopt`): it carries the adoption marks.
    adopted: bool,
    /// What writing over it as an adopted object keeps: set when another
    /// tool made it or wildrun adopted it.
    adoption: Option<Adoption>,
    /// A Namespace another tool made: who, and it is not written.
    used_as_it_is: Option<String>,
    /// A copy of the plan's source that another instance made: its labels,
    /// which a write keeping it in step keeps ([`copy_maker_labels`]).
    maker_labels: Option<serde_json::Map<String, Value>>,
}

impl Live {
    /// What to keep of `live`, read as the target of `body` (if the plan
    /// writes to it), whole if `keep_whole`.
    fn of(target: &ObjectRef, live: Value, body: Option<&Value>, keep_whole: bool) -> Live {
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
            used_as_it_is: super::owner::namespace_used_as_it_is(&target.kind, &live),
            adopted,
            adoption,
            whole: keep_whole.then(|| keep_for_preflight(live)),
            maker_labels: None,
        }
    }
}

/// Turns what the preflight reads into [`Live`] as it arrives, comparing
/// each target with what its step will write.
struct Projector<'p> {
    /// The step that writes each target (a plan writes a target once).
    writers: std::collections::HashMap<ObjectRef, &'p PlannedStep>,
    /// The sources of secret copies: kept whole.
    sources: std::collections::HashSet<ObjectRef>,
}

impl<'p> Projector<'p> {
    fn new(ordered: &[&'p PlannedStep]) -> Projector<'p> {
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
    fn project(&self, target: &ObjectRef, live: Value, read_before: &Snapshot) -> Live {
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
const CONCURRENT_READS: usize = 8;

/// Reads every object in `wanted` (each once) that the script has not
/// read already (`script_reads`), several at a time, keeping what
/// `projector` says of each (`read_before`: earlier rounds).
async fn read_all(
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

/// The kind a step acts on, resolved through discovery; a problem when the
/// cluster does not serve it or the object's scope does not fit.
async fn resolve_step(
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

/// The objects the preflight of a step reads: its target, and a copy's source.
fn reads_of(planned: &PlannedStep, kind: &Kind) -> Vec<(Kind, ObjectRef)> {
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
fn keep_for_preflight(mut live: Value) -> Value {
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
                .is_some_and(|m| {
                    m == super::objects::FIELD_MANAGER || m == super::objects::PATCH_FIELD_MANAGER
                })
        });
    }
    live
}

/// What the preflight kept of `target`, shared; `None` when it is absent.
fn read(snapshot: &Snapshot, target: &ObjectRef) -> Option<Arc<Live>> {
    snapshot.get(target).cloned().flatten()
}

/// Above how many Namespaces to read, the preflight lists them all instead
/// (one request; a plan of fifty new services read fifty Namespaces).
const NAMESPACES_READ_ONE_BY_ONE: usize = 16;

/// How many Namespaces one page of that list holds: the preflight holds
/// one page at a time, however many namespaces the cluster has.
const NAMESPACE_PAGE: u32 = 250;

/// The names of every Namespace, from one list (in pages of
/// [`NAMESPACE_PAGE`]), and what `projector` keeps of those in `wanted`,
/// turned into [`Live`] page by page; `None` when listing fails (a user who
/// may get Namespaces but not list them): they are then read one by one.
async fn list_namespaces(
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
            let page = super::cluster::retry(|| api.list(&params))
                .await
                .map_err(|e| cluster.explain(e, "list namespaces"))?;
            for item in &page.items {
                let Some(name) = item.metadata.name.as_deref() else {
                    continue;
                };
                let target = ObjectRef::namespace(name);
                if wanted.contains(&target) {
                    let value = super::cluster::listed_value(&kind, item)?;
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
        tracing::debug!("reading Namespaces one by one: {}", super::error::chain(&e));
        return None;
    }
    for (_, target) in wanted {
        snapshot.entry(target.clone()).or_insert(None);
    }
    Some((names, snapshot))
}

/// Whether `target` is a Namespace (read before what lives in it).
fn is_namespace(target: &ObjectRef) -> bool {
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
async fn read_targets(
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
fn already_holds(target: &ObjectRef, body: &Value, live: Option<&Value>) -> bool {
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
fn copy_maker_labels(body: &Value, live: &Value) -> Option<serde_json::Map<String, Value>> {
    let maker = label(live, INSTANCE_LABEL)?;
    let shared = label(live, KEEP_LABEL) == Some("true");
    if shared || label(body, INSTANCE_LABEL) == Some(maker) {
        return None;
    }
    live.pointer("/metadata/labels")?.as_object().cloned()
}

/// `body` with the labels `labels` instead of its own.
fn with_labels(mut body: Value, labels: &serde_json::Map<String, Value>) -> Value {
    body["metadata"]["labels"] = Value::Object(labels.clone());
    body
}

/// Why applying `object` would take over what another instance made: its
/// live version carries another `wildrun.dev/instance`. Namespaces (and
/// objects kept for sharing) are shared by the instances in them, by design.
fn other_instance(
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
enum Adopt {
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
/// [`super::owner::namespace_used_as_it_is`]) and patches
/// of someone else's object (`patch: true`, which carry no wildrun label)
/// are exempt.
fn adoption(object: &crate::objects::TypedObject, live: &Live, adopt: bool) -> Adopt {
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
fn open_allow_list(object: &crate::objects::TypedObject) -> Option<String> {
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
fn check_step<'p>(
    planned: &'p PlannedStep,
    kind: Option<Kind>,
    snapshot: &Snapshot,
    options: &ExecOptions,
    problems: &mut Vec<String>,
) -> Prepared<'p> {
    let mut prepared = Prepared {
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
                            if super::copies::judge(source, whole) == super::copies::Existing::Same {
                                // It is the copy: taken as wildrun's own,
                                // kept in step from now on, released by --delete.
                                prepared.copy = Some(adoption.body(body));
                                prepared.note = Some(format!(
                                    "taken as the copy of {from}: the same data, made by {made_by}"
                                ));
                            } else {
                                problems.push(format!(
                                    "{at}: {}",
                                    super::copies::refusal(&target, &from, &made_by, whole, source)
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

fn needs(prepared: &[Prepared<'_>]) -> Vec<Need> {
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

/// What an apply did, from the object read before it (`live`) and the
/// server's answer. A target the run read as absent but found made by
/// someone else when it wrote (two runs at once) was configured, not created.
fn outcome(live: Option<&Live>, applied: &Applied, dry_run: bool) -> Action {
    let after = &applied.object;
    match live {
        _ if applied.created => Action::Created,
        None => Action::Configured,
        Some(before) if dry_run => {
            if before.fingerprint == objects::fingerprint(after) {
                Action::Unchanged
            } else {
                Action::Configured
            }
        }
        Some(before) if before.resource_version.as_deref() == rv(after) => Action::Unchanged,
        // Only the server's fields moved (a controller updated the status
        // between the read and the apply): this run changed nothing.
        Some(before) if before.fingerprint == objects::fingerprint(after) => Action::Unchanged,
        Some(_) => Action::Configured,
    }
}

/// Namespaces the plan creates that do not exist yet.
fn new_namespaces(prepared: &[Prepared<'_>]) -> BTreeSet<String> {
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
fn planned_namespaces(ordered: &[&PlannedStep]) -> BTreeSet<String> {
    ordered
        .iter()
        .filter_map(|p| match &p.step {
            Step::Apply(a) if a.object.kind == "Namespace" => Some(a.object.name.clone()),
            _ => None,
        })
        .collect()
}

/// Namespaces the plan writes into that neither exist nor are created by the plan.
fn missing_namespaces(
    prepared: &[Prepared<'_>],
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

/// What a writer asks before each step it sends. A copy of a `kube::watch`
/// automation may write only while it holds its Lease
/// ([`super::lease::LeaseFence`]): checked right before each write, not
/// once per plan, since leadership can end in the middle of one.
pub trait Fence {
    /// `Err(why)` once no more writes may be sent: the plan stops there.
    fn check(&self) -> std::result::Result<(), String>;

    /// Told when a step [`Fence::check`] let through has ended: a write
    /// that ends after the fence fell may have landed after it fell.
    fn written(&self) {}
}

/// No fence: a run that holds no Lease writes its whole plan.
pub struct Unfenced;

impl Fence for Unfenced {
    fn check(&self) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// Checks the whole plan, then carries it out: cluster-scoped objects and
/// waits one at a time in plan order, the steps of different namespaces
/// side by side, each namespace's once its Namespace is there (see
/// [`batches`]). `script_reads`: what the evaluation that made the plan
/// read just before, which the checks do not read again (empty when the
/// plan was made a while ago).
pub async fn execute(
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
pub async fn execute_fenced(
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
    let prepared: Vec<Prepared<'_>> = ordered
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
    let progress = RefCell::new(Progress::new(prepared.len(), options));
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

/// How many namespaces are written to at once. Each write waits a round
/// trip (and an etcd write) before the next in its namespace can start;
/// eight keep two cores and a local API server busy without flooding a
/// remote one (its default max-mutating-requests-inflight is 200).
const CONCURRENT_NAMESPACES: usize = 8;

/// How the steps of a plan may run.
#[derive(Debug, PartialEq)]
enum Batch {
    /// One step, after everything before it and before everything after it.
    Alone(usize),
    /// Namespaces made one at a time in plan order, and beside them lanes of
    /// steps, one lane per namespace in the order the namespaces first
    /// appear: the steps of a lane run in plan order, lanes side by side, a
    /// lane into a namespace of `namespaces` once that Namespace is applied.
    Lanes {
        /// Namespace steps.
        namespaces: Vec<usize>,
        /// The lanes.
        lanes: Vec<Lane>,
    },
}

/// The steps of one namespace in a [`Batch::Lanes`].
#[derive(Debug, PartialEq)]
struct Lane {
    /// The step that applies this lane's Namespace, which must succeed first.
    after: Option<usize>,
    /// The steps, in plan order.
    steps: Vec<usize>,
}

/// The namespace whose lane a step runs in; `None` for a step that runs
/// alone: cluster-scoped objects (Namespaces, CRDs, which the steps in
/// namespaces may need) and waits, whose point is that later steps start
/// after them.
fn lane_of(p: &Prepared<'_>) -> Option<String> {
    if !p.kind.as_ref()?.namespaced {
        return None;
    }
    match &p.planned.step {
        Step::Apply(a) => a.object.namespace.clone(),
        Step::CopySecret(c) => Some(c.to_namespace.clone()),
        Step::Delete(d) => d.target.namespace.clone(),
        Step::Wait(_) => None,
    }
}

/// The Namespace a step applies, if it applies one.
fn namespace_applied<'p>(p: &Prepared<'p>) -> Option<&'p str> {
    match &p.planned.step {
        Step::Apply(a) if is_namespace(&ObjectRef::of(&a.object)) => Some(&a.object.name),
        _ => None,
    }
}

/// Splits the plan into what may run side by side. Steps that run alone
/// (see [`lane_of`]) are barriers, except the Namespaces just before the
/// steps in namespaces: those are still applied one at a time in plan
/// order, but a namespace's lane starts as soon as its own Namespace is
/// there instead of waiting for every other one (fifty new services do not
/// wait for fifty Namespaces before their first object).
fn batches(prepared: &[Prepared<'_>]) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut namespaces: Vec<usize> = Vec::new();
    let mut lanes: Vec<Lane> = Vec::new();
    let mut lane_index: std::collections::HashMap<String, usize> = Default::default();
    let flush = |out: &mut Vec<Batch>, namespaces: &mut Vec<usize>, lanes: &mut Vec<Lane>| {
        if !namespaces.is_empty() || !lanes.is_empty() {
            out.push(Batch::Lanes {
                namespaces: std::mem::take(namespaces),
                lanes: std::mem::take(lanes),
            });
        }
    };
    for (index, p) in prepared.iter().enumerate() {
        match (lane_of(p), namespace_applied(p)) {
            (Some(ns), _) => {
                let lane = *lane_index.entry(ns.clone()).or_insert_with(|| {
                    let after = namespaces
                        .iter()
                        .copied()
                        .find(|&n| namespace_applied(&prepared[n]) == Some(ns.as_str()));
                    lanes.push(Lane {
                        after,
                        steps: Vec::new(),
                    });
                    lanes.len() - 1
                });
                lanes[lane].steps.push(index);
            }
            (None, Some(_)) => {
                // A Namespace after steps in namespaces: those finish first.
                if !lanes.is_empty() {
                    lane_index.clear();
                    flush(&mut out, &mut namespaces, &mut lanes);
                }
                namespaces.push(index);
            }
            (None, None) => {
                lane_index.clear();
                flush(&mut out, &mut namespaces, &mut lanes);
                out.push(Batch::Alone(index));
            }
        }
    }
    flush(&mut out, &mut namespaces, &mut lanes);
    out
}

/// What the steps of a run came to. Steps finish in any order; the report
/// and its log lines keep plan order.
struct Progress {
    /// Per step: `None` until it has run.
    outcomes: Vec<Option<Result<Entry>>>,
    /// Every step before this one has succeeded and is in the report.
    reported: usize,
    report: Report,
    /// A step failed, or the fence stopped the plan: start no more.
    failed: bool,
    /// Why the fence stopped the plan.
    stopped: Option<String>,
    dry_run: bool,
}

impl Progress {
    fn new(steps: usize, options: &ExecOptions) -> Progress {
        Progress {
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
    fn stop(&mut self, why: String) {
        self.failed = true;
        self.stopped.get_or_insert(why);
    }

    /// Records how step `index` ended, and reports every step that is now
    /// next in plan order.
    fn record(&mut self, index: usize, result: Result<Entry>) {
        self.failed |= result.is_err();
        self.outcomes[index] = Some(result);
        while let Some(Some(Ok(entry))) = self.outcomes.get(self.reported) {
            self.report.push_entry(entry.clone(), self.dry_run);
            self.reported += 1;
        }
    }

    /// The report, or after a failure an error that says what was done, what
    /// failed and what was not done.
    fn finish(self, prepared: &[Prepared<'_>]) -> Result<Report> {
        if !self.failed {
            return Ok(self.report);
        }
        let Progress {
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
                    let note = format!("{}: {}", step.origin, super::error::chain(&e));
                    entries.push(Entry::for_step(Action::Failed, &step.step, Some(note)));
                    failed.push((step, e));
                }
                None => {
                    entries.push(Entry::for_step(Action::NotDone, &step.step, None));
                    not_done.push(step.step.display_name());
                }
            }
        }
        let failed_line = |step: &PlannedStep, e: KubeError| {
            format!(
                "{} ({}: {})",
                step.step.display_name(),
                step.origin,
                super::error::chain(&e)
            )
        };
        if let Some(why) = stopped {
            return Err(KubeError::Fenced {
                why,
                done: super::error::done_lines(&entries),
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

/// Carries out one step; the line it adds to the report.
async fn run_step(
    cluster: &Cluster,
    p: &Prepared<'_>,
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
                return Ok(Entry::new(Action::Skipped, &target, Some(note)));
            }
            if *recreate && p.live.is_some() {
                let force = *force || options.force;
                return recreate_object(cluster, kind, object, force, dry_run).await;
            }
            if p.unchanged {
                return Ok(Entry::new(Action::Unchanged, &target, p.note.clone()));
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
                return Ok(Entry::new(Action::Skipped, &target, p.skip.clone()));
            };
            if waits_for_namespace(&Some(copy.to_namespace.clone())) {
                let note = format!(
                    "not validated: namespace {} does not exist yet",
                    copy.to_namespace
                );
                return Ok(Entry::new(Action::Skipped, &target, Some(note)));
            }
            if p.unchanged {
                return Ok(Entry::new(Action::Unchanged, &target, None));
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
                return Ok(Entry::new(Action::Skipped, &w.target, Some(note)));
            }
            wait::until(cluster, kind, &w.target, &w.condition, w.timeout).await?;
            Ok(Entry::new(
                Action::Ready,
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
                Action::Deleted
            } else {
                Action::Unchanged
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
async fn recreate_object(
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
        return Ok(Entry::new(Action::Recreated, &target, Some(note)));
    }
    let gone = &Condition::Deleted;
    wait::until(cluster, kind, &target, gone, DEFAULT_DELETE_WAIT).await?;
    server_side_apply(cluster, kind, &target, &object.value, force, false)
        .await
        .map_err(|e| cluster.explain(e, &format!("create {target} again")))?;
    let note = "#{ recreate: true }: deleted and created again".to_string();
    Ok(Entry::new(Action::Recreated, &target, Some(note)))
}

#[cfg(test)]
mod outcome_tests {
    use super::*;
    use serde_json::json;

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
        assert_eq!(outcome(Some(&before), &after, false), Action::Unchanged);
        // The object itself changed.
        let changed = updated(object("12", 2, 1));
        assert_eq!(outcome(Some(&before), &changed, false), Action::Configured);
        assert_eq!(
            outcome(Some(&before), &updated(object("10", 1, 0)), false),
            Action::Unchanged
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
            Action::Configured
        );
        assert_eq!(
            outcome(Some(&before), &would_change, false),
            Action::Unchanged
        );
        // Only server fields differ: nothing of the object would change.
        let same = updated(object("11", 1, 1));
        assert_eq!(outcome(Some(&before), &same, true), Action::Unchanged);
    }

    #[test]
    fn only_the_write_that_made_the_object_reports_it_created() {
        let made = Applied {
            object: object("11", 1, 0),
            created: true,
        };
        assert_eq!(outcome(None, &made, false), Action::Created);
        assert_eq!(outcome(None, &made, true), Action::Created);
        // Read as absent, but another run made it before this run's write.
        assert_eq!(
            outcome(None, &updated(object("11", 1, 0)), false),
            Action::Configured
        );
    }
}

#[cfg(test)]
mod preflight_tests {
    use super::*;

    #[test]
    fn a_target_is_kept_as_facts_and_only_a_copy_source_whole() {
        let (step, live) = applied_config_map("web", "cfg", json!({"a": "1"}), "public.web");
        let p = plan(vec![step, Step::CopySecret(copy(None))]);
        let target = reference("v1", "ConfigMap", Some("web"), "cfg");
        let read = snapshot(
            &p,
            [
                (target.clone(), Some(live.clone())),
                (source_ref(), Some(source(None))),
            ],
        );
        let kept = read[&target].as_deref().unwrap();
        assert!(kept.holds, "the live object holds what the plan applies");
        assert!(kept.whole.is_none(), "a target is not kept whole");
        assert_eq!(kept.resource_version.as_deref(), Some("7"));
        assert_eq!(kept.instance.as_deref(), Some("public.web"));
        assert_eq!(kept.fingerprint, objects::fingerprint(&live));
        let source_kept = read[&source_ref()].as_deref().unwrap();
        assert!(
            source_kept.whole.is_some(),
            "a copy is made of its source's data"
        );
        assert!(!source_kept.holds, "nothing is written to a source");
    }

    #[test]
    fn a_copy_source_is_kept_without_status_or_other_managers_records() {
        let live = json!({
            "metadata": {"name": "web", "resourceVersion": "7", "labels": {"a": "b"},
                "managedFields": [
                    {"manager": "wildrun", "operation": "Apply", "fieldsV1": {"f:spec": {}}},
                    {"manager": "wildrun-patch", "operation": "Apply", "fieldsV1": {}},
                    {"manager": "kube-controller-manager", "operation": "Update",
                     "subresource": "status", "fieldsV1": {"f:status": {}}},
                ]},
            "spec": {"replicas": 1},
            "status": {"readyReplicas": 1},
        });
        let kept = keep_for_preflight(live);
        assert_eq!(kept["spec"], json!({"replicas": 1}));
        assert_eq!(kept["metadata"]["labels"], json!({"a": "b"}));
        assert_eq!(kept["metadata"]["resourceVersion"], json!("7"));
        assert!(kept.get("status").is_none());
        let managers: Vec<&str> = kept["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(managers, ["wildrun", "wildrun-patch"]);
    }
    use crate::objects::TypedObject;
    use crate::plan::{DeleteStep, Origin, Propagation, SecretCopy, WaitStep};
    use serde_json::{json, Map};
    use std::time::Duration;

    fn kind(group: &str, version: &str, name: &str, plural: &str, namespaced: bool) -> Kind {
        Kind::new(group, version, name, plural, namespaced)
    }

    fn config_maps() -> Kind {
        kind("", "v1", "ConfigMap", "configmaps", true)
    }

    fn cluster_roles() -> Kind {
        kind(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
        )
    }

    fn secrets() -> Kind {
        kind("", "v1", "Secret", "secrets", true)
    }

    fn namespaces() -> Kind {
        kind("", "v1", "Namespace", "namespaces", false)
    }

    fn middlewares() -> Kind {
        kind("traefik.io", "v1alpha1", "Middleware", "middlewares", true)
    }

    fn deployments() -> Kind {
        kind("apps", "v1", "Deployment", "deployments", true)
    }

    fn at(line: usize) -> Origin {
        Origin {
            source: "r.rhai".into(),
            line,
        }
    }

    /// A plan of `steps`, the n-th asked for at line n.
    fn plan(steps: Vec<Step>) -> Plan {
        let mut plan = Plan::default();
        for (i, step) in steps.into_iter().enumerate() {
            plan.add(step, at(i + 1)).unwrap();
        }
        plan
    }

    /// `value` as `kube::apply` plans it for `instance`: typed and labelled.
    fn apply(value: Value, instance: &str) -> Step {
        let mut object = TypedObject::from_value(&value).unwrap();
        let labels = crate::kube::run_labels(instance);
        object.set_labels(labels.iter().map(|(k, v)| (*k, v.as_str())));
        Step::Apply(ApplyStep {
            object,
            force: false,
            recreate: false,
        })
    }

    fn config_map(ns: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}})
    }

    fn namespace(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    }

    fn middleware(ranges: &[&str]) -> Value {
        json!({"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
               "metadata": {"name": "internal", "namespace": "web"},
               "spec": {"ipAllowList": {"sourceRange": ranges}}})
    }

    fn reference(api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: ns.map(str::to_string),
            name: name.into(),
        }
    }

    /// `value` as read from the cluster, with `labels`.
    fn live(mut value: Value, labels: Value) -> Value {
        value["metadata"]["labels"] = labels;
        value["metadata"]["resourceVersion"] = json!("7");
        value
    }

    /// What the preflight keeps of `entries` read for `plan`: copy sources
    /// first, as [`read_targets`] reads them.
    fn snapshot<const N: usize>(plan: &Plan, entries: [(ObjectRef, Option<Value>); N]) -> Snapshot {
        let ordered = plan.ordered();
        let projector = Projector::new(&ordered);
        let (first, then): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .partition(|(target, _)| projector.sources.contains(target));
        let mut read = Snapshot::new();
        for (target, live) in first.into_iter().chain(then) {
            let kept = live.map(|v| Arc::new(projector.project(&target, v, &read)));
            read.insert(target, kept);
        }
        read
    }

    /// Checks the first step of `plan`; the step and the problems found.
    fn check_first<'p>(
        plan: &'p Plan,
        kind: Kind,
        snapshot: &Snapshot,
        options: ExecOptions,
    ) -> (Prepared<'p>, Vec<String>) {
        let mut problems = Vec::new();
        let prepared = check_step(
            plan.ordered()[0],
            Some(kind),
            snapshot,
            &options,
            &mut problems,
        );
        (prepared, problems)
    }

    fn adopt() -> ExecOptions {
        ExecOptions {
            adopt: true,
            ..ExecOptions::default()
        }
    }

    #[test]
    fn another_instance_s_object_is_refused_unless_adopted() {
        let p = plan(vec![apply(config_map("web", "cfg"), "public.web")]);
        let theirs = live(
            config_map("web", "cfg"),
            json!({INSTANCE_LABEL: "internal.web"}),
        );
        let read = snapshot(
            &p,
            [(
                reference("v1", "ConfigMap", Some("web"), "cfg"),
                Some(theirs),
            )],
        );
        let (prepared, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
        assert!(prepared.live.is_some());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("r.rhai:1: ConfigMap web/cfg belongs to instance internal.web (label wildrun.dev/instance), not public.web; wildrun will not take it over."),
            "{problems:?}"
        );
        assert!(
            problems[0].contains("(`wildrun internal.rhai --name web --delete`, or drop it"),
            "{problems:?}"
        );
        // Beside the running recipe, the other one is named by its path.
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("internal.rhai"), "").expect("a recipe");
        let beside = ExecOptions {
            recipe_dir: Some(dir.path().into()),
            ..ExecOptions::default()
        };
        let (_, problems) = check_first(&p, config_maps(), &read, beside);
        let command = format!(
            "(`wildrun {} --name web --delete`",
            dir.path().join("internal.rhai").display()
        );
        assert!(problems[0].contains(&command), "{problems:?}");
        let (prepared, problems) = check_first(&p, config_maps(), &read, adopt());
        assert!(problems.is_empty(), "{problems:?}");
        assert!(prepared.live.is_some());

        // An instance without a name is deleted by its recipe alone.
        let cluster_wide = live(config_map("web", "cfg"), json!({INSTANCE_LABEL: "cluster"}));
        let read = snapshot(
            &p,
            [(
                reference("v1", "ConfigMap", Some("web"), "cfg"),
                Some(cluster_wide),
            )],
        );
        let (_, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
        assert!(
            problems[0].contains("(`wildrun cluster.rhai --delete`, or drop it"),
            "{problems:?}"
        );

        // Its own object is applied.
        let read = snapshot(
            &p,
            [(
                reference("v1", "ConfigMap", Some("web"), "cfg"),
                Some(live(
                    config_map("web", "cfg"),
                    json!({INSTANCE_LABEL: "public.web"}),
                )),
            )],
        );
        let (prepared, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
        assert!(prepared.adopted_body.is_none());
    }

    #[test]
    fn another_tool_s_object_is_refused_naming_the_tool_unless_adopted() {
        let p = plan(vec![apply(config_map("web", "cfg"), "public.web")]);
        let mut theirs = live(config_map("web", "cfg"), json!({"app": "web"}));
        theirs["metadata"]["managedFields"] = json!([{"manager": "kubectl-client-side-apply",
            "operation": "Update", "time": "2026-01-01T00:00:00Z", "fieldsV1": {}}]);
        let target = reference("v1", "ConfigMap", Some("web"), "cfg");
        let read = snapshot(&p, [(target.clone(), Some(theirs.clone()))]);
        let (_, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("ConfigMap web/cfg exists and was made by kubectl (field manager kubectl-client-side-apply), not by wildrun")
                && problems[0].contains("--adopt"),
            "{problems:?}"
        );
        // --adopt: written in place, marked, with a note for the report.
        let (prepared, problems) = check_first(&p, config_maps(), &read, adopt());
        assert!(problems.is_empty(), "{problems:?}");
        let body = prepared.adopted_body.as_ref().expect("an adopted body");
        assert_eq!(
            body["metadata"]["annotations"][crate::plan::ADOPTED_ANNOTATION],
            "kubectl-client-side-apply"
        );
        assert!(
            prepared
                .note
                .as_deref()
                .is_some_and(|n| n.contains("adopted: made by kubectl")),
            "{:?}",
            prepared.note
        );
        // Adopted before: managed as wildrun's own, without --adopt.
        theirs["metadata"]["labels"] =
            json!({INSTANCE_LABEL: "public.web", MANAGED_BY_LABEL: MANAGED_BY});
        theirs["metadata"]["annotations"] =
            json!({crate::plan::ADOPTED_ANNOTATION: "kubectl-client-side-apply"});
        let read = snapshot(&p, [(target, Some(theirs))]);
        let (prepared, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
        assert!(prepared.adopted_body.is_some() && prepared.note.is_none());
    }

    #[test]
    fn namespaces_and_kept_objects_are_shared_between_instances() {
        let p = plan(vec![apply(namespace("web"), "public.web")]);
        let read = snapshot(
            &p,
            [(
                ObjectRef::namespace("web"),
                Some(live(
                    namespace("web"),
                    json!({INSTANCE_LABEL: "internal.web"}),
                )),
            )],
        );
        let (_, problems) = check_first(&p, namespaces(), &read, ExecOptions::default());
        assert!(problems.is_empty(), "{problems:?}");

        let p = plan(vec![apply(config_map("web", "cfg"), "public.web")]);
        let read = snapshot(
            &p,
            [(
                reference("v1", "ConfigMap", Some("web"), "cfg"),
                Some(live(
                    config_map("web", "cfg"),
                    json!({INSTANCE_LABEL: "internal.web", KEEP_LABEL: "true"}),
                )),
            )],
        );
        let (_, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn an_allow_list_open_to_everyone_is_refused_unless_forced() {
        let empty = Snapshot::new();
        let p = plan(vec![apply(
            middleware(&["10.0.0.0/8", "0.0.0.0/0"]),
            "internal.web",
        )]);
        let (_, problems) = check_first(&p, middlewares(), &empty, ExecOptions::default());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("r.rhai:1: Middleware web/internal: source range 0.0.0.0/0 admits the whole internet, so the service it guards would be public;"),
            "{problems:?}"
        );
        let forced = ExecOptions {
            force: true,
            ..ExecOptions::default()
        };
        let (_, problems) = check_first(&p, middlewares(), &empty, forced);
        assert!(problems.is_empty(), "{problems:?}");

        let p = plan(vec![apply(middleware(&["::/0"]), "internal.web")]);
        let (_, problems) = check_first(&p, middlewares(), &empty, ExecOptions::default());
        assert!(problems[0].contains("source range ::/0"), "{problems:?}");

        let p = plan(vec![apply(middleware(&["10.0.0.0/8"]), "internal.web")]);
        let (_, problems) = check_first(&p, middlewares(), &empty, ExecOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
    }

    fn copy(expected_type: Option<&str>) -> SecretCopy {
        SecretCopy {
            from_namespace: "cert-manager".into(),
            name: "tls".into(),
            to_namespace: "web".into(),
            expected_type: expected_type.map(str::to_string),
            labels: crate::kube::run_labels("public.web")
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::String(v)))
                .collect::<Map<String, Value>>(),
        }
    }

    fn source(secret_type: Option<&str>) -> Value {
        let mut v = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "tls", "namespace": "cert-manager", "resourceVersion": "3"},
            "data": {"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}});
        if let Some(t) = secret_type {
            v["type"] = json!(t);
        }
        v
    }

    fn source_ref() -> ObjectRef {
        ObjectRef::secret("cert-manager", "tls")
    }

    fn target_ref() -> ObjectRef {
        ObjectRef::secret("web", "tls")
    }

    #[test]
    fn a_copy_without_its_source_is_skipped_or_with_require_tls_refused() {
        let c = copy(Some("kubernetes.io/tls"));
        let p = plan(vec![Step::CopySecret(c)]);
        let read = snapshot(&p, [(source_ref(), None), (target_ref(), None)]);
        let message = "source Secret cert-manager/tls does not exist yet, so Secret web/tls cannot be made; if cert-manager issues it, see `kubectl -n cert-manager describe certificate` and run again once it is Ready";
        let (prepared, problems) = check_first(&p, secrets(), &read, ExecOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(prepared.skip.as_deref(), Some(message));
        assert!(prepared.copy.is_none());

        let strict = ExecOptions {
            require_tls: true,
            ..ExecOptions::default()
        };
        let (prepared, problems) = check_first(&p, secrets(), &read, strict);
        assert_eq!(problems, [format!("r.rhai:1: {message} (--require-tls)")]);
        assert!(prepared.skip.is_none() && prepared.copy.is_none());
    }

    #[test]
    fn a_source_of_another_type_is_refused() {
        // The problems found copying a source of `source_type` for a copy
        // that expects `expected`, into a target that does not exist.
        let problems_for = |expected: Option<&str>, source_type: Option<&str>| {
            let p = plan(vec![Step::CopySecret(copy(expected))]);
            let read = snapshot(
                &p,
                [
                    (source_ref(), Some(source(source_type))),
                    (target_ref(), None),
                ],
            );
            check_first(&p, secrets(), &read, ExecOptions::default()).1
        };
        for (source_type, shown) in [(Some("Opaque"), "Opaque"), (None, "Opaque")] {
            assert_eq!(
                problems_for(Some("kubernetes.io/tls"), source_type),
                [format!(
                    "r.rhai:1: Secret cert-manager/tls has type {shown}, the recipe expects kubernetes.io/tls"
                )]
            );
        }
        let problems = problems_for(Some("kubernetes.io/tls"), Some("kubernetes.io/tls"));
        assert!(problems.is_empty(), "{problems:?}");
        // No expected type: any source type is copied.
        let problems = problems_for(None, Some("Opaque"));
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_live_target_wildrun_did_not_copy_is_refused() {
        let c = copy(None);
        let p = plan(vec![Step::CopySecret(c.clone())]);
        let someone_elses = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "tls", "namespace": "web"}, "data": {"x": "eA=="}});
        // Ours, but copied from somewhere else.
        let other_copy = copy_object(
            &SecretCopy {
                from_namespace: "other".into(),
                ..c.clone()
            },
            &source(None),
        );
        let check = |target: Value| {
            let read = snapshot(
                &p,
                [
                    (source_ref(), Some(source(None))),
                    (target_ref(), Some(target)),
                ],
            );
            check_first(&p, secrets(), &read, ExecOptions::default())
        };
        let (_, problems) = check(other_copy);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("r.rhai:1: Secret web/tls exists and is not a copy wildrun made of cert-manager/tls (no app.kubernetes.io/managed-by=wildrun label and wildrun.dev/copied-from=cert-manager/tls annotation); wildrun will not overwrite it"),
            "{problems:?}"
        );
        // Another tool's Secret: what differs and who made it.
        let (_, problems) = check(someone_elses);
        assert_eq!(
            problems,
            ["r.rhai:1: Secret web/tls exists, made by another tool (no field manager recorded), and is not a copy of cert-manager/tls: it lacks tls.crt, tls.key; it has keys the source lacks: x. wildrun will not overwrite it: delete or rename it, or copy into another namespace"]
        );
    }

    #[test]
    fn another_tool_s_identical_secret_is_taken_as_the_copy() {
        let c = copy(None);
        let p = plan(vec![Step::CopySecret(c.clone())]);
        // What `kubectl get | sed | kubectl apply` makes: the source's
        // type and data, its labels and annotations, none of wildrun's.
        let mut theirs = source(None);
        theirs["metadata"]["namespace"] = json!("web");
        theirs["metadata"]["annotations"] = json!({"cert-manager.io/certificate-name": "wildcard"});
        theirs["metadata"]["managedFields"] = json!([{"manager": "kubectl-client-side-apply",
            "operation": "Update", "time": "2026-01-01T00:00:00Z", "fieldsV1": {}}]);
        let read = snapshot(
            &p,
            [
                (source_ref(), Some(source(None))),
                (target_ref(), Some(theirs.clone())),
            ],
        );
        let (prepared, problems) = check_first(&p, secrets(), &read, ExecOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
        assert!(!prepared.unchanged);
        let body = prepared.copy.as_ref().expect("the copy to write");
        assert_eq!(
            body["metadata"]["annotations"][crate::plan::ADOPTED_ANNOTATION],
            "kubectl-client-side-apply"
        );
        assert_eq!(
            prepared.note.as_deref(),
            Some("taken as the copy of cert-manager/tls: the same data, made by kubectl (field manager kubectl-client-side-apply)")
        );
        // Other data: refused, naming who made it.
        theirs["data"]["tls.key"] = json!("b3RoZXI=");
        let read = snapshot(
            &p,
            [
                (source_ref(), Some(source(None))),
                (target_ref(), Some(theirs)),
            ],
        );
        let (_, problems) = check_first(&p, secrets(), &read, ExecOptions::default());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("made by kubectl (field manager kubectl-client-side-apply), and is not a copy of cert-manager/tls: it holds other values under tls.key"),
            "{problems:?}"
        );
    }

    #[test]
    fn wildrun_s_own_copy_is_updated_from_the_source() {
        let c = copy(Some("kubernetes.io/tls"));
        let p = plan(vec![Step::CopySecret(c.clone())]);
        let src = source(Some("kubernetes.io/tls"));
        let mut ours = copy_object(&c, &source(Some("kubernetes.io/tls")));
        ours["data"] = json!({"tls.crt": "T0xE"});
        let read = snapshot(
            &p,
            [
                (source_ref(), Some(src.clone())),
                (target_ref(), Some(ours)),
            ],
        );
        let (prepared, problems) = check_first(&p, secrets(), &read, ExecOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
        assert!(prepared.live.is_some() && prepared.skip.is_none());
        let body = prepared.copy.expect("a copy to write");
        assert_eq!(body["data"], src["data"]);
        assert_eq!(body["type"], json!("kubernetes.io/tls"));
        assert_eq!(body["metadata"]["namespace"], json!("web"));
    }

    #[test]
    fn an_unresolved_kind_is_not_checked_again() {
        // resolve_step has reported it; reading and checking it would say more of the same.
        let p = plan(vec![apply(middleware(&["0.0.0.0/0"]), "internal.web")]);
        let mut problems = Vec::new();
        let prepared = check_step(
            p.ordered()[0],
            None,
            &Snapshot::new(),
            &ExecOptions::default(),
            &mut problems,
        );
        assert!(problems.is_empty() && prepared.kind.is_none());
        assert!(needs(&[prepared]).is_empty());
    }

    #[test]
    fn needs_ask_for_the_verb_each_step_uses() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}});
        let skipped = copy(None);
        let made = SecretCopy {
            name: "ca".into(),
            ..copy(None)
        };
        let roles = cluster_roles();
        let steps_and_kinds = vec![
            (apply(namespace("web"), "public.web"), Some(namespaces())),
            (
                apply(config_map("web", "cfg"), "public.web"),
                Some(config_maps()),
            ),
            (apply(deployment, "public.web"), Some(deployments())),
            (Step::CopySecret(skipped), Some(secrets())),
            (Step::CopySecret(made), Some(secrets())),
            (
                Step::Delete(DeleteStep {
                    target: reference("v1", "ConfigMap", Some("web"), "old"),
                    propagation: Propagation::Background,
                    wait: None,
                }),
                Some(config_maps()),
            ),
            (
                // A script may name a namespace for a cluster-scoped object.
                Step::Delete(DeleteStep {
                    target: reference(
                        "rbac.authorization.k8s.io/v1",
                        "ClusterRole",
                        Some("web"),
                        "reader",
                    ),
                    propagation: Propagation::Foreground,
                    wait: None,
                }),
                Some(roles),
            ),
            (
                Step::Wait(WaitStep {
                    target: reference("apps/v1", "Deployment", Some("web"), "web"),
                    condition: Condition::Rollout,
                    timeout: Duration::from_secs(60),
                }),
                Some(deployments()),
            ),
            (apply(middleware(&["10.0.0.0/8"]), "public.web"), None),
        ];
        let (steps, kinds): (Vec<Step>, Vec<Option<Kind>>) = steps_and_kinds.into_iter().unzip();
        let p = plan(steps);
        let read = snapshot(
            &p,
            [
                (ObjectRef::namespace("web"), None),
                (
                    reference("v1", "ConfigMap", Some("web"), "cfg"),
                    Some(live(
                        config_map("web", "cfg"),
                        json!({INSTANCE_LABEL: "public.web"}),
                    )),
                ),
                (source_ref(), None),
                (ObjectRef::secret("cert-manager", "ca"), Some(source(None))),
            ],
        );
        let mut problems = Vec::new();
        let prepared: Vec<Prepared<'_>> = p
            .ordered()
            .into_iter()
            .zip(kinds)
            .map(|(planned, kind)| {
                check_step(planned, kind, &read, &ExecOptions::default(), &mut problems)
            })
            .collect();
        assert!(problems.is_empty(), "{problems:?}");
        let needs = needs(&prepared);
        let got: Vec<(&str, &str, &str, Option<&str>, &str)> = needs
            .iter()
            .map(|n| {
                (
                    n.verb.as_str(),
                    n.group.as_str(),
                    n.resource.as_str(),
                    n.namespace.as_deref(),
                    n.what.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("create", "", "namespaces", None, "Namespace web"),
                ("patch", "", "configmaps", Some("web"), "ConfigMap web/cfg"),
                (
                    "create",
                    "apps",
                    "deployments",
                    Some("web"),
                    "Deployment web/web"
                ),
                ("create", "", "secrets", Some("web"), "Secret web/ca"),
                ("delete", "", "configmaps", Some("web"), "ConfigMap web/old"),
                (
                    "delete",
                    "rbac.authorization.k8s.io",
                    "clusterroles",
                    None,
                    "ClusterRole web/reader"
                ),
                (
                    "get",
                    "apps",
                    "deployments",
                    Some("web"),
                    "Deployment web/web"
                ),
            ]
        );
        // Each need names the line that asked for it.
        assert_eq!(needs[3].origin, at(5));
    }

    /// Checks every step of `plan` (all kinds resolved from the step's own kind).
    fn check_all<'p>(plan: &'p Plan, snapshot: &Snapshot) -> Vec<Prepared<'p>> {
        let mut problems = Vec::new();
        plan.ordered()
            .into_iter()
            .map(|planned| {
                let kind = match planned.step.target().map(|t| t.kind).as_deref() {
                    Some("Namespace") => namespaces(),
                    Some("Secret") => secrets(),
                    _ => config_maps(),
                };
                check_step(
                    planned,
                    Some(kind),
                    snapshot,
                    &ExecOptions::default(),
                    &mut problems,
                )
            })
            .collect()
    }

    #[test]
    fn namespaces_planned_new_and_missing() {
        let p = plan(vec![
            apply(namespace("a"), "r.x"),
            apply(namespace("b"), "r.x"),
            apply(config_map("a", "one"), "r.x"),
            apply(config_map("b", "one"), "r.x"),
            apply(config_map("c", "one"), "r.x"),
            apply(config_map("c", "two"), "r.x"),
            apply(config_map("d", "one"), "r.x"),
            Step::CopySecret(SecretCopy {
                to_namespace: "e".into(),
                ..copy(None)
            }),
            // Deletes and waits write nothing into their namespace.
            Step::Delete(DeleteStep {
                target: reference("v1", "ConfigMap", Some("f"), "gone"),
                propagation: Propagation::Background,
                wait: None,
            }),
        ]);
        let ordered = p.ordered();
        let planned = planned_namespaces(&ordered);
        assert_eq!(planned, BTreeSet::from(["a".to_string(), "b".to_string()]));

        // b and d exist already.
        let read = snapshot(
            &p,
            [
                (
                    ObjectRef::namespace("b"),
                    Some(live(namespace("b"), json!({}))),
                ),
                (
                    ObjectRef::namespace("d"),
                    Some(live(namespace("d"), json!({}))),
                ),
            ],
        );
        let prepared = check_all(&p, &read);
        assert_eq!(new_namespaces(&prepared), BTreeSet::from(["a".to_string()]));
        assert_eq!(
            missing_namespaces(
                &prepared,
                &planned,
                &BTreeSet::from(["b".to_string(), "d".to_string()])
            ),
            [
                "r.rhai:5: namespace c does not exist and the recipe does not create it (needed for ConfigMap c/one)",
                "r.rhai:8: namespace e does not exist and the recipe does not create it (needed for Secret e/tls (copy of cert-manager/tls))",
            ]
        );
    }

    /// A ConfigMap in `ns` as wildrun applied it for `instance`: its body,
    /// with the server's metadata and wildrun's managedFields record.
    fn applied_config_map(ns: &str, name: &str, data: Value, instance: &str) -> (Step, Value) {
        let mut body = config_map(ns, name);
        body["data"] = data.clone();
        let step = apply(body, instance);
        let Step::Apply(a) = &step else {
            unreachable!("apply makes an apply step")
        };
        let mut live = a.object.value.clone();
        live["metadata"]["resourceVersion"] = json!("7");
        let data_fields: Map<String, Value> = data
            .as_object()
            .map(|d| d.keys().map(|k| (format!("f:{k}"), json!({}))).collect())
            .unwrap_or_default();
        live["metadata"]["managedFields"] = json!([{
            "apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "wildrun", "operation": "Apply",
            "fieldsV1": {"f:data": data_fields, "f:metadata": {"f:labels": {
                "f:app.kubernetes.io/managed-by": {}, "f:wildrun.dev/instance": {}}}}}]);
        (step, live)
    }

    #[test]
    fn an_object_that_already_holds_the_apply_is_not_written_and_needs_no_permission() {
        let (step, live) = applied_config_map("web", "cfg", json!({"a": "1"}), "public.web");
        let p = plan(vec![step]);
        let target = reference("v1", "ConfigMap", Some("web"), "cfg");
        let read = snapshot(&p, [(target.clone(), Some(live.clone()))]);
        let (prepared, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
        assert!(prepared.unchanged);
        assert!(needs(&[prepared]).is_empty());

        // Someone changed the value: written back, with the permission to patch.
        let mut changed = live;
        changed["data"]["a"] = json!("2");
        let read = snapshot(&p, [(target, Some(changed))]);
        let (prepared, _) = check_first(&p, config_maps(), &read, ExecOptions::default());
        assert!(!prepared.unchanged);
        let needs = needs(&[prepared]);
        assert_eq!(needs.len(), 1);
        assert_eq!(needs[0].verb, "patch");
    }

    #[test]
    fn a_copy_whose_target_holds_the_source_s_data_is_not_written() {
        let c = copy(Some("kubernetes.io/tls"));
        let p = plan(vec![Step::CopySecret(c.clone())]);
        let src = source(Some("kubernetes.io/tls"));
        let mut ours = copy_object(&c, &src);
        ours["metadata"]["managedFields"] = json!([{
            "apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "wildrun", "operation": "Apply",
            "fieldsV1": {"f:type": {}, "f:data": {"f:tls.crt": {}, "f:tls.key": {}},
                "f:metadata": {"f:labels": {"f:app.kubernetes.io/managed-by": {}, "f:wildrun.dev/instance": {}},
                               "f:annotations": {"f:wildrun.dev/copied-from": {}}}}}]);
        let read = snapshot(
            &p,
            [
                (source_ref(), Some(src.clone())),
                (target_ref(), Some(ours.clone())),
            ],
        );
        let (prepared, problems) = check_first(&p, secrets(), &read, ExecOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
        assert!(prepared.unchanged);
        // The source was renewed: the copy follows.
        let mut renewed = src;
        renewed["data"]["tls.crt"] = json!("TkVX");
        let read = snapshot(
            &p,
            [(source_ref(), Some(renewed)), (target_ref(), Some(ours))],
        );
        let (prepared, _) = check_first(&p, secrets(), &read, ExecOptions::default());
        assert!(!prepared.unchanged);
    }

    #[test]
    fn steps_in_namespaces_run_in_lanes_between_steps_that_run_alone() {
        let roles = cluster_roles();
        let steps_and_kinds = vec![
            (apply(namespace("a"), "r.x"), namespaces()),
            (apply(namespace("b"), "r.x"), namespaces()),
            (apply(config_map("a", "one"), "r.x"), config_maps()),
            (apply(config_map("b", "one"), "r.x"), config_maps()),
            (apply(config_map("a", "two"), "r.x"), config_maps()),
            (
                Step::CopySecret(SecretCopy {
                    to_namespace: "c".into(),
                    ..copy(None)
                }),
                secrets(),
            ),
            (
                Step::Wait(WaitStep {
                    target: reference("apps/v1", "Deployment", Some("a"), "web"),
                    condition: Condition::Rollout,
                    timeout: Duration::from_secs(60),
                }),
                deployments(),
            ),
            (apply(config_map("b", "two"), "r.x"), config_maps()),
            (
                Step::Delete(DeleteStep {
                    target: reference("rbac.authorization.k8s.io/v1", "ClusterRole", None, "old"),
                    propagation: Propagation::Background,
                    wait: None,
                }),
                roles,
            ),
            (
                Step::Delete(DeleteStep {
                    target: reference("v1", "ConfigMap", Some("b"), "old"),
                    propagation: Propagation::Background,
                    wait: None,
                }),
                config_maps(),
            ),
            (apply(config_map("a", "three"), "r.x"), config_maps()),
        ];
        let (steps, kinds): (Vec<Step>, Vec<Kind>) = steps_and_kinds.into_iter().unzip();
        let p = plan(steps);
        let mut problems = Vec::new();
        let prepared: Vec<Prepared<'_>> = p
            .ordered()
            .into_iter()
            .zip(kinds)
            .map(|(planned, kind)| {
                check_step(
                    planned,
                    Some(kind),
                    &Snapshot::new(),
                    &ExecOptions::default(),
                    &mut problems,
                )
            })
            .collect();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            batches(&prepared),
            [
                // The Namespaces one at a time; each namespace's lane once its
                // Namespace is there (a: one, two; b: one), a lane into a
                // namespace that exists (c: the copy) at once.
                Batch::Lanes {
                    namespaces: vec![0, 1],
                    lanes: vec![
                        Lane {
                            after: Some(0),
                            steps: vec![2, 4]
                        },
                        Lane {
                            after: Some(1),
                            steps: vec![3]
                        },
                        Lane {
                            after: None,
                            steps: vec![5]
                        },
                    ],
                },
                // The wait: everything before it is done, nothing after it started.
                Batch::Alone(6),
                Batch::Lanes {
                    namespaces: vec![],
                    lanes: vec![Lane {
                        after: None,
                        steps: vec![7]
                    }],
                },
                // A cluster-scoped object.
                Batch::Alone(8),
                Batch::Lanes {
                    namespaces: vec![],
                    lanes: vec![
                        Lane {
                            after: None,
                            steps: vec![9]
                        },
                        Lane {
                            after: None,
                            steps: vec![10]
                        },
                    ],
                },
            ]
        );
    }

    fn entry(action: Action, name: &str) -> Entry {
        Entry::new(action, &reference("v1", "ConfigMap", Some("a"), name), None)
    }

    fn three_config_maps() -> Plan {
        plan(vec![
            apply(config_map("a", "one"), "r.x"),
            apply(config_map("b", "two"), "r.x"),
            apply(config_map("c", "three"), "r.x"),
            apply(config_map("d", "four"), "r.x"),
        ])
    }

    #[test]
    fn the_report_keeps_plan_order_whatever_order_steps_finish_in() {
        let p = three_config_maps();
        let prepared = check_all(&p, &Snapshot::new());
        let mut progress = Progress::new(4, &ExecOptions::default());
        progress.record(2, Ok(entry(Action::Created, "three")));
        progress.record(1, Ok(entry(Action::Created, "two")));
        // Nothing can be said before the first step is.
        assert!(progress.report.entries.is_empty());
        progress.record(0, Ok(entry(Action::Unchanged, "one")));
        assert_eq!(progress.report.entries.len(), 3);
        progress.record(3, Ok(entry(Action::Configured, "four")));
        let report = progress.finish(&prepared).expect("no failure");
        let names: Vec<&str> = report.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["one", "two", "three", "four"]);
    }

    #[test]
    fn after_a_failure_every_step_is_done_failed_or_not_done() {
        let p = three_config_maps();
        let prepared = check_all(&p, &Snapshot::new());
        let mut progress = Progress::new(4, &ExecOptions::default());
        // Step 2 fails while step 3, in another namespace, was under way and
        // finished; step 4 never started.
        progress.record(
            1,
            Err(KubeError::Api {
                doing: "apply ConfigMap b/two".into(),
                code: 403,
                message: "refused".into(),
                hint: String::new(),
            }),
        );
        progress.record(2, Ok(entry(Action::Created, "three")));
        progress.record(0, Ok(entry(Action::Created, "one")));
        assert!(progress.failed);
        let err = format!("{:#}", progress.finish(&prepared).expect_err("a failure"));
        assert_eq!(
            err,
            "r.rhai:2: apply ConfigMap b/two: refused\n  done before the failure:\n    created    ConfigMap a/one\n    created    ConfigMap a/three\n  failed (not confirmed by the API server):\n    ConfigMap b/two\n  not done:\n    ConfigMap d/four\n  fix the problem and run again: objects already applied stay, and the run converges"
        );
    }
}
