//! What wakes `--wait` between two looks at a link, so the wait returns
//! as soon as the service answers rather than at its next round:
//!
//! - [`Watches`]: a watch of each object the current link reads (the
//!   workload rolling out, the TLS Secret and the source of its copy, the
//!   HTTPRoute), so a change is looked at when it happens;
//! - [`Ahead`]: the HTTPS request sent ahead, at a bounded pace, while the
//!   DNS record is still missing, so that once the record appears the
//!   answer is already known.

use crate::https;
use crate::kube::cluster::Cluster;
use crate::kube::events::ReconnectBackoff;
use crate::plan::ObjectRef;
use futures::StreamExt;
use kube::runtime::watcher;
use kube::runtime::WatchStreamExt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Watches of the objects the current link reads.
#[derive(Default)]
pub(crate) struct Watches {
    objects: Vec<ObjectRef>,
    changed: Arc<Notify>,
    broken: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Watches {
    /// Watches `objects` from now on, and nothing else (watches already
    /// running for the same objects are kept).
    pub(crate) async fn follow(&mut self, cluster: &Cluster, objects: Vec<ObjectRef>) {
        if objects == self.objects {
            return;
        }
        self.stop();
        for target in &objects {
            match cluster.resolve(&target.api_version, &target.kind).await {
                Ok(kind) => {
                    let api = cluster.api(&kind, target.namespace.as_deref());
                    self.tasks.push(tokio::spawn(watch(
                        api,
                        target.name.clone(),
                        self.changed.clone(),
                        self.broken.clone(),
                    )));
                }
                Err(_) => self.broken.store(true, Ordering::Relaxed),
            }
        }
        self.objects = objects;
    }

    /// Whether every object the link reads is being watched: false when
    /// the link reads none, or a watch could not start or is failing
    /// (no permission to watch, the API server restarting).
    pub(crate) fn watching(&self) -> bool {
        !self.objects.is_empty() && !self.broken.load(Ordering::Relaxed)
    }

    /// Returns when a watched object changed since the last call (at once
    /// if it already has).
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        // A change of the old objects must not wake the look at the new.
        self.changed = Arc::new(Notify::new());
        self.broken = Arc::new(AtomicBool::new(false));
        self.objects.clear();
    }
}

impl Drop for Watches {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Watches the object `name` of `api` and wakes `changed` at each event
/// (the first list included); `broken` says whether the watch is failing.
async fn watch(
    api: kube::Api<kube::api::DynamicObject>,
    name: String,
    changed: Arc<Notify>,
    broken: Arc<AtomicBool>,
) {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = Box::pin(watcher::watcher(api, config).backoff(ReconnectBackoff::default()));
    while let Some(item) = stream.next().await {
        match item {
            // The list's start and end change nothing the object's own
            // events (or the first look, for an object that is absent) do not say.
            Ok(watcher::Event::Init | watcher::Event::InitDone) => {
                broken.store(false, Ordering::Relaxed);
            }
            Ok(_) => {
                broken.store(false, Ordering::Relaxed);
                changed.notify_one();
            }
            Err(e) => {
                tracing::debug!("--wait: watch of {name}: {e}; looking again on a timer meanwhile");
                broken.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// The HTTPS request to a host sent ahead, one at a time and at most once
/// per pace, to the address its DNS record will lead to; stopped when
/// dropped.
pub(crate) struct Ahead {
    host: String,
    address: IpAddr,
    latest: Arc<Mutex<Option<(Instant, https::Response)>>>,
    task: JoinHandle<()>,
}

impl Ahead {
    /// Starts sending `request` (which names its address) to `host`, a
    /// request at most every `pace`.
    pub(crate) fn start(
        host: &str,
        address: IpAddr,
        request: https::Request,
        pace: Duration,
    ) -> Ahead {
        let latest = Arc::new(Mutex::new(None));
        let store = latest.clone();
        let task = tokio::spawn(async move {
            loop {
                let sent = Instant::now();
                if let Ok(response) = https::get(&request).await {
                    if let Ok(mut slot) = store.lock() {
                        *slot = Some((Instant::now(), response));
                    }
                }
                tokio::time::sleep(pace.saturating_sub(sent.elapsed())).await;
            }
        });
        Ahead {
            host: host.to_string(),
            address,
            latest,
            task,
        }
    }

    /// The host asked.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The address asked.
    pub(crate) fn address(&self) -> IpAddr {
        self.address
    }

    /// The latest answer, with its age, if it came within `fresh` of now.
    pub(crate) fn recent(&self, fresh: Duration) -> Option<(Duration, https::Response)> {
        let slot = self.latest.lock().ok()?;
        let (at, response) = slot.as_ref()?;
        let age = at.elapsed();
        (age <= fresh).then(|| (age, response.clone()))
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.task.abort();
    }
}
