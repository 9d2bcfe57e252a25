//! Watching the cluster for long-running scripts (`kube::watch`).
//!
//! Each watch is a kube-runtime watcher (it reconnects with backoff after
//! errors and API server restarts, at most [`RECONNECT_MAX`] apart, and
//! relists when its resourceVersion expires) running on the tokio runtime.
//! Events go through one channel to the engine thread, which hands them, one
//! at a time, to the caller's handler ([`serve`]).

use super::cluster::Cluster;
use crate::plan::Origin;
use futures::StreamExt;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, Sender};

/// A watch a script registered with `kube::watch`.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    /// `apiVersion` of the watched kind.
    pub api_version: String,
    /// The watched kind.
    pub kind: String,
    /// Only this namespace (all when `None`).
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: Option<String>,
    /// Field selector.
    pub fields: Option<String>,
    /// Where the script registered it.
    pub origin: Origin,
}

impl WatchSpec {
    /// `v1 Secret in tls (labels a=b)`, for messages.
    pub fn describe(&self) -> String {
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
pub enum Wake {
    /// A watch event: the watch's index and the raw event.
    Cluster(usize, RawEvent),
    /// Files changed (`--watch`).
    Files(Vec<std::path::PathBuf>),
    /// Ctrl-C or SIGTERM: finish what is running, then stop.
    Stop(&'static str),
}

/// A watcher event, reduced to what the handlers need.
#[derive(Debug)]
pub enum RawEvent {
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

/// Sends Stop on Ctrl-C (SIGINT) or SIGTERM.
pub fn listen_for_stop(runtime: &tokio::runtime::Handle, wake: Sender<Wake>) {
    runtime.spawn(async move {
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        let why = tokio::select! {
            _ = tokio::signal::ctrl_c() => "interrupted",
            _ = terminate => "terminated",
        };
        let _ = wake.send(Wake::Stop(why));
    });
}

/// The longest wait between two attempts to reconnect a watch: once the API
/// server is back, events (a renewed certificate) arrive within this much.
pub const RECONNECT_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// The first wait before reconnecting a watch.
const RECONNECT_FIRST: std::time::Duration = std::time::Duration::from_millis(250);

/// Reconnect backoff: 0.25 s doubling up to [`RECONNECT_MAX`], back to the
/// start once the watch works again. kube-runtime's default grows to 30 s,
/// so a watch caught up to half a minute after an API-server outage.
#[derive(Debug, Clone)]
pub struct ReconnectBackoff {
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
) {
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
    });
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
pub struct Classifier {
    known: HashMap<String, (String, Value)>,
    relisting: Option<HashSet<String>>,
}

impl Classifier {
    /// The events a raw event amounts to, in order.
    pub fn classify(&mut self, raw: RawEvent) -> Vec<(&'static str, Value)> {
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
                    .map(|(_, obj)| ("deleted", obj))
                    .collect()
            }
            RawEvent::Applied(obj) => self.upsert(obj).into_iter().collect(),
            RawEvent::Deleted(obj) => {
                self.known.remove(&uid(&obj));
                vec![("deleted", obj)]
            }
        }
    }

    fn upsert(&mut self, obj: Value) -> Option<(&'static str, Value)> {
        let key = uid(&obj);
        let rv = resource_version(&obj);
        let event = match self.known.get(&key) {
            None => "added",
            Some((old, _)) if *old == rv => return None,
            Some(_) => "modified",
        };
        self.known.insert(key, (rv, obj.clone()));
        Some((event, obj))
    }
}

/// Runs `watches` until Ctrl-C or SIGTERM, calling `on_event(index, event,
/// object)` (`index` into `watches`) for each `added`, `modified` or `deleted` object, one at a time.
pub fn serve(
    runtime: &tokio::runtime::Handle,
    cluster: &Rc<Cluster>,
    watches: &[WatchSpec],
    wake: (Sender<Wake>, Receiver<Wake>),
    mut on_event: impl FnMut(usize, &str, &Value),
) -> anyhow::Result<()> {
    let (tx, rx) = wake;
    let mut kinds = Vec::new();
    for spec in watches {
        let kind = runtime
            .block_on(cluster.resolve(&spec.api_version, &spec.kind))
            .map_err(|e| anyhow::anyhow!("{}: kube::watch: {e}", spec.origin))?;
        kinds.push(kind);
    }
    for (index, (spec, kind)) in watches.iter().zip(&kinds).enumerate() {
        start_watch(cluster, runtime, index, spec, kind, tx.clone());
        tracing::info!("watching {}", spec.describe());
    }
    listen_for_stop(runtime, tx);
    let mut classifiers: Vec<Classifier> = watches.iter().map(|_| Classifier::default()).collect();
    loop {
        let Ok(wake) = rx.recv() else { return Ok(()) };
        let (index, raw) = match wake {
            Wake::Stop(why) => {
                tracing::info!("{why}: stopping the watches");
                return Ok(());
            }
            Wake::Files(_) => continue,
            Wake::Cluster(index, raw) => (index, raw),
        };
        for (event, object) in classifiers[index].classify(raw) {
            on_event(index, event, &object);
        }
    }
}

/// `Kind ns/name` (or `Kind name`) of a watched object, for messages.
pub fn describe_object(kind: &str, object: &Value) -> String {
    crate::objects::describe(kind, namespace_of(object).as_deref(), &name_of(object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(uid: &str, rv: &str) -> Value {
        json!({"metadata": {"uid": uid, "name": uid, "resourceVersion": rv}})
    }

    fn kinds(events: Vec<(&'static str, Value)>) -> Vec<String> {
        events
            .into_iter()
            .map(|(e, o)| format!("{e} {}", name_of(&o)))
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
