//! `--wait`: after applying, wait until the service answers over HTTPS.
//!
//! The links to wait on come from what the plan applied ([`links`]):
//!
//! 1. every Deployment, StatefulSet and DaemonSet rolls out;
//! 2. for each Ingress host with an ExternalDNS target annotation, in order:
//!    - the TLS Secret the Ingress names, in its namespace; when the run's
//!      copy of it was skipped because cert-manager had not issued the source
//!      yet, the copy is made as soon as the source exists;
//!    - the DNS record ExternalDNS writes (a CNAME to a name target, an A
//!      record to an address), asked at the zone's **authoritative**
//!      nameservers, found from the zone's NS records through the system's
//!      resolver (or the nameserver `dns.server` names), never through the
//!      user's resolver for the host itself, so an early NXDOMAIN is never
//!      cached where the user will ask later;
//!    - an HTTPS request to the host that answers (see [`judge`]).
//! 3. for each HTTPRoute: `Accepted` (references resolved) by each parent
//!    Gateway listener, then per host the DNS record to the Gateway's
//!    ExternalDNS target and the HTTPS request (TLS ends at the Gateway).
//!
//! Links are waited on one after the other, each until it holds; the whole
//! wait ends at the timeout with the link and its last reason. A failed read
//! of the cluster (the API server restarting) is a reason like any other.
//!
//! The wait watches rather than polls where it can ([`wake`]): a link of
//! the cluster's objects is looked at again when a watch of the objects it
//! reads reports a change (once a second if a watch cannot run). The DNS
//! record cannot be watched: the zone's servers are asked every 50 ms
//! (at most 20 queries a second). While it is missing, the HTTPS request is
//! sent ahead to the address the record will lead to, one at a time and at
//! most every 100 ms, so the answer is known when the record appears; once
//! on the HTTPS link, a request every 100 ms at most.
//! Progress is said through a [`WaitDisplay`] the command line passes in
//! (`cli::spinner`: a spinner on a terminal, one line per change otherwise).

use crate::duration::format_duration;
use crate::kube::cluster::Cluster;
use crate::plan::Plan;
use judging::LinkState;
use links::links;
use looking::{Looker, Nameservers};
use progress::WaitProgress;
use std::collections::HashMap;
use std::time::{Duration, Instant};

mod judging;
mod links;
mod looking;
mod progress;
mod settings;
mod wake;

pub use progress::WaitEvent;
pub(crate) use settings::Settings;

/// How long `--wait` waits unless `--timeout` says otherwise.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How often a link of watched objects is looked at again when no event
/// came: a safety net for an event lost between a look and its watch.
const WATCHED_POLL: Duration = Duration::from_secs(10);

/// What stops the wait.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WaitError {
    /// The timeout passed before every link held.
    #[error("timed out after {} waiting for {link}: {reason}", format_duration(*.timeout))]
    Timeout {
        /// The link that did not hold.
        link: String,
        /// Why, as last seen.
        reason: String,
        /// The timeout that passed.
        timeout: Duration,
    },
}

/// How the wait's progress is shown to people. The wait says what changed
/// and when it pauses; the command line decides how that looks (a spinner
/// on a terminal, log lines elsewhere), as kapp passes its UI into its core.
pub trait WaitDisplay {
    /// Something changed: a link waited on for a new reason, a link that
    /// holds, or every link holding.
    fn show(&mut self, event: &WaitEvent);

    /// The wait pauses between two looks: called about ten times a second.
    fn tick(&mut self) {}

    /// The wait ends in an error: take down what is drawn.
    fn clear(&mut self) {}
}

/// Makes the display of one wait (a run can wait twice: before a prune
/// that replaces a route, and for `--wait`).
pub type NewWaitDisplay = fn() -> Box<dyn WaitDisplay>;

/// Waits until every link of `plan` holds, showing progress on `display`.
pub(crate) async fn until_reachable(
    cluster: &Cluster,
    plan: &Plan,
    settings: &Settings,
    display: &mut dyn WaitDisplay,
) -> Result<(), WaitError> {
    let links = links(plan);
    if links.is_empty() {
        tracing::info!("--wait: the recipe applied no workload, no Ingress with an ExternalDNS target and no HTTPRoute; nothing to wait for");
        return Ok(());
    }
    let started = Instant::now();
    let mut progress = WaitProgress::new(links);
    let mut looker = Looker {
        cluster,
        settings,
        nameservers: Nameservers {
            fixed: settings.dns_server,
            zones: HashMap::new(),
        },
    };
    let mut watches = wake::Watches::default();
    let mut ahead = None;
    while let Some(link) = progress.current().cloned() {
        let left = settings.timeout.saturating_sub(started.elapsed());
        // Watching starts before the look, so no change after it is missed.
        watches.follow(cluster, link.watched()).await;
        looker
            .send_ahead(&link, progress.upcoming(), &mut ahead)
            .await;
        let seen = match tokio::time::timeout(left, looker.look(&link, &mut ahead)).await {
            Ok(Ok(seen)) => seen,
            // The API server may be restarting: keep waiting, and say so.
            Ok(Err(e)) => LinkState::NotYet(format!("{e:#}")),
            Err(_) => LinkState::NotYet(format!(
                "{} (still looking when the time ran out)",
                progress.reason()
            )),
        };
        let holds = matches!(seen, LinkState::Holds(_));
        for event in progress.observe(seen, started.elapsed()) {
            display.show(&event);
        }
        if holds {
            continue;
        }
        if started.elapsed() >= settings.timeout {
            display.clear();
            return Err(WaitError::Timeout {
                link: link.to_string(),
                reason: progress.reason().to_string(),
                timeout: settings.timeout,
            });
        }
        let pause = if watches.watching() {
            WATCHED_POLL
        } else {
            link.poll_interval()
        }
        .min(settings.timeout.saturating_sub(started.elapsed()));
        let tick = Duration::from_millis(100);
        let until = Instant::now() + pause;
        while Instant::now() < until {
            let nap = tick.min(until.saturating_duration_since(Instant::now()));
            tokio::select! {
                _ = watches.changed() => break,
                _ = tokio::time::sleep(nap) => display.tick(),
            }
        }
    }
    Ok(())
}
