//! Watching the cluster for long-running scripts (`kube::watch`).
//!
//! Each watch is a kube-runtime watcher (it reconnects with backoff after
//! errors and API server restarts, at most [`RECONNECT_MAX`] apart, and
//! relists when its resourceVersion expires) running on the tokio runtime.
//! Events go through one channel to the engine thread, which hands them, one
//! at a time, to the caller's handler ([`serve`]).
//!
//! Events that arrive while a handler runs wait in [`Pending`], merged per
//! object, so a handler sees each object's latest state once rather than
//! every step on the way. The watches run only while this copy leads
//! ([`super::lease`]): a copy that waits for the Lease watches nothing and
//! writes nothing, and one that takes over starts from a full list.

use super::cluster::Cluster;
use super::error::{KubeError, Result};
use super::lease::{Election, Leadership, LeaseSettings, Look};
use crate::plan::Origin;
use futures::StreamExt;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::Instant;

/// What happened to a watched object, as its handler is told: the
/// difference between what the handler last saw and what is there now
/// (merged per object, see [`Pending`]). The script layer names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectEvent {
    /// The object appeared.
    Added,
    /// The object changed.
    Modified,
    /// The object is gone.
    Deleted,
}

/// A watch a script registered with `kube::watch`.
#[derive(Debug, Clone)]
pub(crate) struct WatchSpec {
    /// `apiVersion` of the watched kind.
    pub(crate) api_version: String,
    /// The watched kind.
    pub(crate) kind: String,
    /// Only this namespace (all when `None`).
    pub(crate) namespace: Option<String>,
    /// Label selector.
    pub(crate) labels: Option<String>,
    /// Field selector.
    pub(crate) fields: Option<String>,
    /// Where the script registered it.
    pub(crate) origin: Origin,
}

impl WatchSpec {
    /// `v1 Secret in tls (labels a=b)`, for messages.
    pub(crate) fn describe(&self) -> String {
        let mut text = format!("{} {}", self.api_version, self.kind);
        if let Some(ns) = &self.namespace {
            text.push_str(&format!(" in {ns}"));
        }
        for (what, sel) in [("labels", &self.labels), ("fields", &self.fields)] {
            if let Some(s) = sel {
                text.push_str(&format!(" ({what} {s})"));
            }
        }
        text
    }
}

/// What wakes a long-running script's engine thread.
#[derive(Debug)]
pub(crate) enum Wake {
    /// A watch event: the watch's index and the raw event.
    Cluster(usize, RawEvent),
    /// Ctrl-C or SIGTERM: finish what is running, then stop.
    Stop(&'static str),
    /// News from the task that renews the Lease: the term of leadership
    /// ended, or another copy asked for a reconcile.
    Lease,
}

/// A watcher event, reduced to what the handlers need.
#[derive(Debug)]
pub(crate) enum RawEvent {
    /// A (re)list starts.
    InitStart,
    /// An object seen during a (re)list.
    InitObject(Value),
    /// A (re)list is complete.
    InitDone,
    /// An object was added or changed.
    Applied(Value),
    /// An object was deleted.
    Deleted(Value),
}

/// The longest wait between two attempts to reconnect a watch: once the API
/// server is back, events (a renewed certificate) arrive within this much.
pub(crate) const RECONNECT_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// The first wait before reconnecting a watch.
const RECONNECT_FIRST: std::time::Duration = std::time::Duration::from_millis(250);

/// Reconnect backoff: 0.25 s doubling up to [`RECONNECT_MAX`], back to the
/// start once the watch works again. kube-runtime's default grows to 30 s,
/// so a watch caught up to half a minute after an API-server outage.
#[derive(Debug, Clone)]
pub(crate) struct ReconnectBackoff {
    next: std::time::Duration,
}

impl Default for ReconnectBackoff {
    fn default() -> ReconnectBackoff {
        ReconnectBackoff {
            next: RECONNECT_FIRST,
        }
    }
}

impl Iterator for ReconnectBackoff {
    type Item = std::time::Duration;

    fn next(&mut self) -> Option<std::time::Duration> {
        let now = self.next;
        self.next = (now * 2).min(RECONNECT_MAX);
        Some(now)
    }
}

impl kube::runtime::utils::Backoff for ReconnectBackoff {
    fn reset(&mut self) {
        self.next = RECONNECT_FIRST;
    }
}

fn start_watch(
    cluster: &Cluster,
    runtime: &tokio::runtime::Handle,
    index: usize,
    spec: &WatchSpec,
    kind: &super::cluster::Kind,
    wake: Sender<Wake>,
) -> tokio::task::JoinHandle<()> {
    let api = cluster.api(kind, spec.namespace.as_deref());
    let mut config = watcher::Config::default();
    if let Some(l) = &spec.labels {
        config = config.labels(l);
    }
    if let Some(f) = &spec.fields {
        config = config.fields(f);
    }
    let what = spec.describe();
    let server = cluster.server.clone();
    runtime.spawn(async move {
        let mut stream =
            Box::pin(watcher::watcher(api, config).backoff(ReconnectBackoff::default()));
        let mut failing = false;
        while let Some(item) = stream.next().await {
            let event = match item {
                Ok(e) => {
                    if failing {
                        tracing::info!("watch of {what}: connected again");
                        failing = false;
                    }
                    e
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(
                            "watch of {what}: {e} (API server {server}); retrying with backoff"
                        );
                        failing = true;
                    }
                    continue;
                }
            };
            let raw = match event {
                Event::Init => RawEvent::InitStart,
                Event::InitApply(o) => {
                    RawEvent::InitObject(serde_json::to_value(o).unwrap_or(Value::Null))
                }
                Event::InitDone => RawEvent::InitDone,
                Event::Apply(o) => {
                    RawEvent::Applied(serde_json::to_value(o).unwrap_or(Value::Null))
                }
                Event::Delete(o) => {
                    RawEvent::Deleted(serde_json::to_value(o).unwrap_or(Value::Null))
                }
            };
            if wake.send(Wake::Cluster(index, raw)).is_err() {
                break;
            }
        }
    })
}

fn uid(obj: &Value) -> String {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}/{}", namespace_of(obj).unwrap_or_default(), name_of(obj)))
}

fn name_of(obj: &Value) -> String {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

fn namespace_of(obj: &Value) -> Option<String> {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn resource_version(obj: &Value) -> String {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Turns raw watcher events into `added` / `modified` / `deleted`, once each.
///
/// A relist (at start, and after the watch's resourceVersion expired)
/// replays every object: unchanged ones are not reported again, changed ones
/// are `modified`, and objects that vanished meanwhile are `deleted`.
#[derive(Debug, Default)]
pub(crate) struct Classifier {
    known: HashMap<String, (String, Value)>,
    relisting: Option<HashSet<String>>,
}

impl Classifier {
    /// The events a raw event amounts to, in order.
    pub(crate) fn classify(&mut self, raw: RawEvent) -> Vec<(ObjectEvent, Value)> {
        match raw {
            RawEvent::InitStart => {
                self.relisting = Some(HashSet::new());
                Vec::new()
            }
            RawEvent::InitObject(obj) => {
                if let Some(seen) = &mut self.relisting {
                    seen.insert(uid(&obj));
                }
                self.upsert(obj).into_iter().collect()
            }
            RawEvent::InitDone => {
                let Some(seen) = self.relisting.take() else {
                    return Vec::new();
                };
                let gone: Vec<String> = self
                    .known
                    .keys()
                    .filter(|k| !seen.contains(*k))
                    .cloned()
                    .collect();
                gone.into_iter()
                    .filter_map(|k| self.known.remove(&k))
                    .map(|(_, obj)| (ObjectEvent::Deleted, obj))
                    .collect()
            }
            RawEvent::Applied(obj) => self.upsert(obj).into_iter().collect(),
            RawEvent::Deleted(obj) => {
                self.known.remove(&uid(&obj));
                vec![(ObjectEvent::Deleted, obj)]
            }
        }
    }

    fn upsert(&mut self, obj: Value) -> Option<(ObjectEvent, Value)> {
        let key = uid(&obj);
        let rv = resource_version(&obj);
        let event = match self.known.get(&key) {
            None => ObjectEvent::Added,
            Some((old, _)) if *old == rv => return None,
            Some(_) => ObjectEvent::Modified,
        };
        self.known.insert(key, (rv, obj.clone()));
        Some((event, obj))
    }
}

/// Which object an event is about: the watch (so the kind and the handler)
/// and the object's namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ObjectKey {
    watch: usize,
    namespace: String,
    name: String,
}

/// What a handler has yet to see of one object: whether the object existed
/// when the handler last saw it, whether it exists now, and its latest state.
#[derive(Debug)]
struct Merged {
    existed: bool,
    exists: bool,
    object: Value,
}

/// Events waiting for their handler, merged per object (watch, namespace,
/// name), in the order the objects first came.
///
/// A handler is told the difference between what it last saw and what is
/// there now, with the latest object: added then modified is `added`;
/// modified several times is one `modified`; modified then deleted is
/// `deleted`; added then deleted before the handler ran is nothing at all;
/// deleted then made again is `modified`. So a start-up costs at most one
/// call per object, and a burst of changes to one object at most two: the
/// one running when the burst began, and one for its end.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    order: VecDeque<ObjectKey>,
    waiting: HashMap<ObjectKey, Merged>,
}

impl Pending {
    /// Adds `event` of `object` from watch `watch`.
    pub(crate) fn push(&mut self, watch: usize, event: ObjectEvent, object: Value) {
        let key = ObjectKey {
            watch,
            namespace: namespace_of(&object).unwrap_or_default(),
            name: name_of(&object),
        };
        let exists = event != ObjectEvent::Deleted;
        if let Some(merged) = self.waiting.get_mut(&key) {
            merged.exists = exists;
            merged.object = object;
            if !merged.existed && !merged.exists {
                // Came and went before the handler saw it: nothing to tell.
                self.waiting.remove(&key);
                self.order.retain(|k| *k != key);
            }
            return;
        }
        self.waiting.insert(
            key.clone(),
            Merged {
                existed: event != ObjectEvent::Added,
                exists,
                object,
            },
        );
        self.order.push_back(key);
    }

    /// The next event to hand to its handler: the watch, the merged event
    /// and the latest object.
    pub(crate) fn pop(&mut self) -> Option<(usize, ObjectEvent, Value)> {
        while let Some(key) = self.order.pop_front() {
            let Some(merged) = self.waiting.remove(&key) else {
                continue;
            };
            let event = match (merged.existed, merged.exists) {
                (false, true) => ObjectEvent::Added,
                (true, true) => ObjectEvent::Modified,
                (true, false) => ObjectEvent::Deleted,
                (false, false) => continue,
            };
            return Some((key.watch, event, merged.object));
        }
        None
    }

    /// Whether no event waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// How many objects have an event waiting.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.waiting.len()
    }
}

/// Runs `watches` until Ctrl-C or SIGTERM, calling `on_event(index, event,
/// object, leadership)` (`index` into `watches`) for each object added,
/// modified or deleted, one at a time, with events that arrived
/// meanwhile merged per object ([`Pending`]).
///
/// With `lease`, this copy first takes the Lease (waiting while another copy
/// holds it) and runs the watches only while it holds it. When it takes
/// over from another copy the watches start afresh, so the handlers see
/// every object (`added`) and reconcile from a full list; when it leads
/// again after losing the Lease with no other copy leading meanwhile (an
/// API server outage), they go on from what they saw, reporting only what
/// changed; when a plan was stopped before its end, they start afresh.
/// `on_event` writes through [`Leadership::fence`], which is asked before
/// each write. Without `lease` (a server dry run) the watches run at once.
///
/// `on_lead` runs at the start of every term that begins afresh, before the
/// watches: the script's body plan is applied there, by the leader only.
/// Its error ends the serving (the Lease is released).
pub(crate) fn serve<E: From<KubeError>>(
    runtime: &tokio::runtime::Handle,
    cluster: &Rc<Cluster>,
    watches: &[WatchSpec],
    lease: Option<LeaseSettings>,
    wake: (Sender<Wake>, Receiver<Wake>),
    mut on_lead: impl FnMut(&Leadership) -> std::result::Result<(), E>,
    mut on_event: impl FnMut(usize, ObjectEvent, &Value, &Leadership),
) -> std::result::Result<(), E> {
    let (tx, rx) = wake;
    let mut kinds = Vec::new();
    for spec in watches {
        let kind = runtime
            .block_on(cluster.resolve(&spec.api_version, &spec.kind))
            .map_err(|e| KubeError::Watch {
                origin: spec.origin.clone(),
                error: Box::new(e),
            })?;
        kinds.push(kind);
    }
    let stop = tx.clone();
    crate::stop::on_stop(runtime, move |why| {
        let _ = stop.send(Wake::Stop(why));
    });
    let election = lease.map(|settings| Election::new(cluster, settings));
    let nudge = tx.clone();
    let mut leadership = Leadership::new(election, move || {
        let _ = nudge.send(Wake::Lease);
    });
    let mut seen = Told::new(watches.len());
    // Asked to reconcile: the term goes on, the watches start afresh.
    let mut reconcile = false;
    loop {
        let lead = if std::mem::take(&mut reconcile) {
            Lead::Fresh
        } else {
            wait_to_lead(runtime, &mut leadership, &rx)?
        };
        match lead {
            Lead::Stop(why) => {
                tracing::info!("{why}: stopping");
                return Ok(());
            }
            Lead::Resumed => {}
            Lead::Fresh => {
                seen = Told::new(watches.len());
                if let Err(e) = on_lead(&leadership) {
                    runtime.block_on(leadership.release());
                    return Err(e);
                }
            }
        }
        let tasks: Vec<_> = watches
            .iter()
            .zip(&kinds)
            .enumerate()
            .map(|(index, (spec, kind))| {
                tracing::info!("watching {}", spec.describe());
                start_watch(cluster, runtime, index, spec, kind, tx.clone())
            })
            .collect();
        let end = serve_term(&rx, &mut leadership, &mut seen, &mut on_event);
        let stop_meanwhile = stop_watches(runtime, tasks, &rx);
        match (end, stop_meanwhile) {
            (TermEnd::Stop(why), _) | (TermEnd::Lost(_) | TermEnd::Reconcile, Some(why)) => {
                tracing::info!("{why}: stopping the watches");
                runtime.block_on(leadership.release());
                return Ok(());
            }
            (TermEnd::Reconcile, None) => {
                tracing::warn!("another copy may have written after it lost the Lease and asked for a reconcile: the watches start again from a full list, and the handlers reconcile every object");
                reconcile = true;
            }
            (TermEnd::Lost(why), None) => {
                tracing::warn!(
                    "{why}: this copy stops its watches, writes nothing more, and waits to lead again"
                );
            }
        }
    }
}

/// How a term of leadership ended.
enum TermEnd {
    /// Ctrl-C or SIGTERM.
    Stop(&'static str),
    /// The Lease was lost (why).
    Lost(String),
    /// Another copy asked for a reconcile: the watches start afresh.
    Reconcile,
}

/// What the handlers have been told, kept from one term of leadership to
/// the next when no other copy led in between.
struct Told {
    classifiers: Vec<Classifier>,
    pending: Pending,
}

impl Told {
    fn new(watch_count: usize) -> Told {
        Told {
            classifiers: (0..watch_count).map(|_| Classifier::default()).collect(),
            pending: Pending::default(),
        }
    }
}

/// How waiting for the Lease ended.
enum Lead {
    /// This copy leads, after another did (or for the first time).
    Fresh,
    /// This copy leads again, and no other copy led meanwhile.
    Resumed,
    /// Ctrl-C or SIGTERM.
    Stop(&'static str),
}

/// Waits until this copy leads, or is stopped.
fn wait_to_lead(
    runtime: &tokio::runtime::Handle,
    leadership: &mut Leadership,
    rx: &Receiver<Wake>,
) -> Result<Lead> {
    loop {
        let wait = match runtime.block_on(leadership.try_lead())? {
            Look::Leads { resumed: true } => return Ok(Lead::Resumed),
            Look::Leads { resumed: false } => return Ok(Lead::Fresh),
            Look::Wait(wait) => wait,
        };
        let until = Instant::now() + wait;
        loop {
            match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(Wake::Stop(why)) => return Ok(Lead::Stop(why)),
                // No watch runs while waiting; nothing else matters here.
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return Ok(Lead::Stop("stopped")),
            }
        }
    }
}

/// Serves the watches while this copy leads (its renewal task renews the
/// Lease): merges what arrived into the pending events and hands the next
/// one to `on_event`, as long as the Lease is held.
fn serve_term(
    rx: &Receiver<Wake>,
    leadership: &mut Leadership,
    seen: &mut Told,
    on_event: &mut impl FnMut(usize, ObjectEvent, &Value, &Leadership),
) -> TermEnd {
    let Told {
        classifiers,
        pending,
    } = seen;
    loop {
        if let Err(why) = leadership.keep() {
            return TermEnd::Lost(why);
        }
        if leadership.take_reconcile() {
            return TermEnd::Reconcile;
        }
        // Block only when there is nothing to hand out, and no longer than
        // until the renew deadline.
        if pending.is_empty() {
            let wake = match leadership.next_check_in() {
                Some(wait) => match rx.recv_timeout(wait) {
                    Ok(w) => w,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return TermEnd::Stop("stopped"),
                },
                None => match rx.recv() {
                    Ok(w) => w,
                    Err(_) => return TermEnd::Stop("stopped"),
                },
            };
            if let Some(why) = take(wake, classifiers, pending) {
                return TermEnd::Stop(why);
            }
        }
        // Everything that arrived while the last handler ran merges now.
        loop {
            match rx.try_recv() {
                Ok(w) => {
                    if let Some(why) = take(w, classifiers, pending) {
                        return TermEnd::Stop(why);
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return TermEnd::Stop("stopped"),
            }
        }
        // What arrived may be the end of the term.
        if let Err(why) = leadership.keep() {
            return TermEnd::Lost(why);
        }
        if let Some((index, event, object)) = pending.pop() {
            on_event(index, event, &object, leadership);
        }
    }
}

/// Files a wake-up: watch events into `pending`; `Some(why)` for a stop.
fn take(wake: Wake, classifiers: &mut [Classifier], pending: &mut Pending) -> Option<&'static str> {
    match wake {
        Wake::Stop(why) => Some(why),
        Wake::Lease => None,
        Wake::Cluster(index, raw) => {
            if let Some(classifier) = classifiers.get_mut(index) {
                for (event, object) in classifier.classify(raw) {
                    pending.push(index, event, object);
                }
            }
            None
        }
    }
}

/// Stops the watches of a term and drops what they sent and nobody
/// handled, so the next term starts clean. Returns a stop that arrived
/// meanwhile.
fn stop_watches(
    runtime: &tokio::runtime::Handle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    rx: &Receiver<Wake>,
) -> Option<&'static str> {
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        // Returns once the task is gone: nothing of it can arrive after.
        let _ = runtime.block_on(task);
    }
    let mut stop = None;
    while let Ok(wake) = rx.try_recv() {
        if let Wake::Stop(why) = wake {
            stop = Some(why);
        }
    }
    stop
}

/// `Kind ns/name` (or `Kind name`) of a watched object, for messages.
pub(crate) fn describe_object(kind: &str, object: &Value) -> String {
    crate::objects::describe(kind, namespace_of(object).as_deref(), &name_of(object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(uid: &str, rv: &str) -> Value {
        json!({"metadata": {"uid": uid, "name": uid, "resourceVersion": rv}})
    }

    use ObjectEvent::{Added as ADDED, Deleted as DELETED, Modified as MODIFIED};

    /// The event as scripts name it, for the expectations below.
    fn word(event: ObjectEvent) -> String {
        format!("{event:?}").to_lowercase()
    }

    fn kinds(events: Vec<(ObjectEvent, Value)>) -> Vec<String> {
        events
            .into_iter()
            .map(|(e, o)| format!("{} {}", word(e), name_of(&o)))
            .collect()
    }

    #[test]
    fn reconnect_backoff_is_capped_and_resets() {
        use kube::runtime::utils::Backoff;
        let mut b = ReconnectBackoff::default();
        let waits: Vec<_> = b.by_ref().take(6).collect();
        assert_eq!(waits[0], RECONNECT_FIRST);
        assert!(waits.iter().all(|w| *w <= RECONNECT_MAX), "{waits:?}");
        assert_eq!(waits[5], RECONNECT_MAX);
        b.reset();
        assert_eq!(b.next(), Some(RECONNECT_FIRST));
    }

    #[test]
    fn add_modify_delete_once_each() {
        let mut c = Classifier::default();
        assert!(kinds(c.classify(RawEvent::InitStart)).is_empty());
        assert_eq!(
            kinds(c.classify(RawEvent::InitObject(obj("a", "1")))),
            ["added a"]
        );
        assert!(kinds(c.classify(RawEvent::InitDone)).is_empty());
        assert_eq!(
            kinds(c.classify(RawEvent::Applied(obj("b", "2")))),
            ["added b"]
        );
        assert_eq!(
            kinds(c.classify(RawEvent::Applied(obj("b", "3")))),
            ["modified b"]
        );
        assert!(
            kinds(c.classify(RawEvent::Applied(obj("b", "3")))).is_empty(),
            "same version: no event"
        );
        assert_eq!(
            kinds(c.classify(RawEvent::Deleted(obj("b", "3")))),
            ["deleted b"]
        );
    }

    fn named(ns: &str, name: &str, v: &str) -> Value {
        json!({"metadata": {"namespace": ns, "name": name, "resourceVersion": v}, "data": {"v": v}})
    }

    /// Everything pending, as `event ns/name v`.
    fn drain(pending: &mut Pending) -> Vec<String> {
        std::iter::from_fn(|| pending.pop())
            .map(|(watch, e, o)| {
                format!(
                    "{watch} {} {}/{} {}",
                    word(e),
                    namespace_of(&o).unwrap_or_default(),
                    name_of(&o),
                    o["data"]["v"].as_str().unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn a_burst_of_changes_to_one_object_is_one_event_with_the_latest_state() {
        let mut p = Pending::default();
        for v in 1..=20 {
            p.push(0, MODIFIED, named("a", "web", &v.to_string()));
        }
        assert_eq!(p.len(), 1);
        assert_eq!(drain(&mut p), ["0 modified a/web 20"]);
        assert!(p.is_empty());
    }

    #[test]
    fn merged_events_tell_the_difference_from_what_the_handler_last_saw() {
        let cases: &[(&[ObjectEvent], Option<ObjectEvent>)] = &[
            (&[ADDED, MODIFIED, MODIFIED], Some(ADDED)),
            (&[MODIFIED, DELETED], Some(DELETED)),
            (&[MODIFIED, MODIFIED, DELETED], Some(DELETED)),
            (&[DELETED, ADDED], Some(MODIFIED)),
            (&[DELETED, ADDED, MODIFIED], Some(MODIFIED)),
            (&[ADDED, DELETED], None),
            (&[ADDED, MODIFIED, DELETED], None),
            (&[ADDED, DELETED, ADDED], Some(ADDED)),
        ];
        for (events, expected) in cases {
            let mut p = Pending::default();
            for (i, e) in events.iter().enumerate() {
                p.push(0, *e, named("a", "x", &i.to_string()));
            }
            let last = (events.len() - 1).to_string();
            let want: Vec<String> = expected
                .iter()
                .map(|e| format!("0 {} a/x {last}", word(*e)))
                .collect();
            assert_eq!(drain(&mut p), want, "{events:?}");
        }
    }

    #[test]
    fn objects_keep_their_first_arrival_order_and_are_told_apart_by_watch_namespace_and_name() {
        let mut p = Pending::default();
        p.push(0, ADDED, named("a", "x", "1"));
        p.push(0, ADDED, named("b", "x", "2"));
        p.push(1, ADDED, named("a", "x", "3"));
        p.push(0, ADDED, named("a", "y", "4"));
        p.push(0, MODIFIED, named("a", "x", "5"));
        assert_eq!(
            drain(&mut p),
            [
                "0 added a/x 5",
                "0 added b/x 2",
                "1 added a/x 3",
                "0 added a/y 4"
            ]
        );
    }

    #[test]
    fn an_object_that_came_and_went_does_not_hold_a_place_in_the_queue() {
        let mut p = Pending::default();
        p.push(0, ADDED, named("a", "x", "1"));
        p.push(0, ADDED, named("a", "y", "2"));
        p.push(0, DELETED, named("a", "x", "3"));
        p.push(0, ADDED, named("a", "x", "4"));
        assert_eq!(drain(&mut p), ["0 added a/y 2", "0 added a/x 4"]);
    }

    /// A start-up list followed by changes while the first handler runs:
    /// one call per object, with its latest state.
    #[test]
    fn start_up_costs_one_call_per_object() {
        let mut c = Classifier::default();
        let mut p = Pending::default();
        let mut feed = |p: &mut Pending, raw| {
            for (e, o) in c.classify(raw) {
                p.push(0, e, o);
            }
        };
        feed(&mut p, RawEvent::InitStart);
        for name in ["a", "b", "c"] {
            feed(&mut p, RawEvent::InitObject(obj(name, "1")));
        }
        feed(&mut p, RawEvent::InitDone);
        feed(&mut p, RawEvent::Applied(obj("b", "2")));
        feed(&mut p, RawEvent::Applied(obj("b", "3")));
        let calls: Vec<String> = std::iter::from_fn(|| p.pop())
            .map(|(_, e, o)| format!("{} {} {}", word(e), name_of(&o), resource_version(&o)))
            .collect();
        assert_eq!(calls, ["added a 1", "added b 3", "added c 1"]);
    }

    #[test]
    fn relist_reports_changes_and_vanished_objects() {
        let mut c = Classifier::default();
        c.classify(RawEvent::Applied(obj("a", "1")));
        c.classify(RawEvent::Applied(obj("b", "1")));
        c.classify(RawEvent::InitStart);
        assert!(kinds(c.classify(RawEvent::InitObject(obj("a", "1")))).is_empty());
        assert!(kinds(c.classify(RawEvent::InitObject(obj("c", "5")))) == ["added c"]);
        assert_eq!(kinds(c.classify(RawEvent::InitDone)), ["deleted b"]);
    }
}
