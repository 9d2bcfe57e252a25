//! Leader election for long-running scripts (`kube::watch`): of several
//! copies of one instance, one handles events and the others wait.
//!
//! The copies share a `coordination.k8s.io/v1` Lease ([`LeaseSettings`]).
//! The holder writes its identity into `holderIdentity` and renews
//! `renewTime` every third of the lease's duration ([`LeaseTimes`]). A
//! candidate reads the Lease every [`LeaseTimes::retry_every`] and takes it
//! when its holder released it, or when it has seen the record stay
//! unchanged for `leaseDurationSeconds` (the holder died or lost the API
//! server). Every write carries the `resourceVersion` it read, so of two
//! candidates that try at once only one succeeds.
//!
//! The holder stops handling events once it could not renew for the renew
//! deadline, shorter than the duration: it has stopped before another copy
//! may take over. Candidates measure how long a record stayed
//! unchanged on their own monotonic clock, as client-go does, so clocks that
//! disagree cannot make two leaders; only the first look at a Lease trusts its
//! `renewTime`, so that a Lease whose holder is long gone is taken at once.

use super::cluster::Cluster;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use std::time::{Duration, Instant};

/// How long a Lease stays with a holder that stopped renewing it
/// (`leaseDurationSeconds`), unless configured ([`DURATION_KEY`]).
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often a waiting copy looks at the Lease at most, and how soon a
/// failed renewal is tried again.
pub const RETRY_EVERY: Duration = Duration::from_secs(2);
/// The configuration key that sets the lease's duration, in seconds.
pub const DURATION_KEY: &str = "watch.leaseDuration";
/// The shortest lease duration the configuration accepts: the renewals
/// (every third of it) must have time to go through.
pub const MIN_DURATION_SECONDS: u64 = 3;

/// The timing of an election, all derived from the lease's duration. With
/// the default 15 s these are client-go's: renew deadline 10 s, retry 2 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimes {
    /// How long the Lease stays with a holder that stopped renewing it.
    pub duration: Duration,
    /// How long after its last successful renewal was sent the holder may
    /// still write: two thirds of [`LeaseTimes::duration`]. The remaining
    /// third is the margin a write sent just before the deadline has to
    /// land before another copy may take over.
    pub renew_deadline: Duration,
    /// How often the holder renews: a third of the duration, so one failed
    /// renewal leaves time for another before the deadline.
    pub renew_every: Duration,
    /// How often a waiting copy looks at the Lease, and how soon a failed
    /// renewal is tried again: a fifth of the duration, at most [`RETRY_EVERY`].
    pub retry_every: Duration,
}

impl LeaseTimes {
    /// The timing of a Lease of `duration`.
    pub fn of(duration: Duration) -> LeaseTimes {
        LeaseTimes {
            duration,
            renew_deadline: duration * 2 / 3,
            renew_every: duration / 3,
            retry_every: (duration / 5).min(RETRY_EVERY),
        }
    }
}

impl Default for LeaseTimes {
    fn default() -> LeaseTimes {
        LeaseTimes::of(LEASE_DURATION)
    }
}

/// Where a pod finds its own namespace (the service account's mount).
pub const NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// The Lease's namespace outside a pod, unless configured.
pub const DEFAULT_NAMESPACE: &str = "default";
/// The configuration key that chooses the Lease's namespace.
pub const NAMESPACE_KEY: &str = "watch.leaseNamespace";

/// Which Lease the copies of an instance share, and who this copy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSettings {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name: `wildrun-<instance>`.
    pub name: String,
    /// This copy's `holderIdentity`: host name, process id and a random part.
    pub identity: String,
    /// The lease's duration, and the renewals and looks that follow from it.
    pub times: LeaseTimes,
}

impl LeaseSettings {
    /// The Lease of the instance labelled `instance`, in `namespace` (the
    /// configured [`NAMESPACE_KEY`]) or else [`default_namespace`], lasting
    /// `duration` (the configured [`DURATION_KEY`]) or else [`LEASE_DURATION`].
    pub fn for_instance(
        instance: &str,
        namespace: Option<&str>,
        duration: Option<Duration>,
    ) -> LeaseSettings {
        LeaseSettings {
            namespace: namespace
                .map(str::to_string)
                .unwrap_or_else(default_namespace),
            name: lease_name(instance),
            identity: identity(),
            times: LeaseTimes::of(duration.unwrap_or(LEASE_DURATION)),
        }
    }

    /// `namespace/name`, for messages.
    pub fn describe(&self) -> String {
        format!("Lease {}/{}", self.namespace, self.name)
    }
}

/// `wildrun-<instance label>`, made a valid object name: the label may hold
/// capitals and `_`, which names may not.
pub fn lease_name(instance: &str) -> String {
    let mut name = String::from("wildrun-");
    for c in instance.chars() {
        let c = c.to_ascii_lowercase();
        name.push(if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            c
        } else {
            '-'
        });
    }
    // A label is at most 63 characters, so this stays far below the 253 a
    // name may have; it must end in an alphanumeric.
    name.trim_end_matches(['-', '.']).to_string()
}

/// The namespace the pod runs in (from its service account's mount), or
/// [`DEFAULT_NAMESPACE`] outside a pod.
pub fn default_namespace() -> String {
    std::fs::read_to_string(NAMESPACE_FILE)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

/// A `holderIdentity` no other copy has: the host name (the pod's name in a
/// cluster), the process id and 32 random bits (two processes on two hosts
/// may have the same pid).
pub fn identity() -> String {
    use ring::rand::SecureRandom;
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "wildrun".to_string());
    let mut random = [0u8; 4];
    // Without randomness the pid alone still tells processes on one host apart.
    let _ = ring::rand::SystemRandom::new().fill(&mut random);
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}_{}_{random}", std::process::id())
}

/// Why an attempt on the Lease failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Trying again will not help: no permission, no such namespace.
    #[error("{0}")]
    Refused(String),
    /// The API server failed or could not be reached: worth trying again.
    #[error("{0}")]
    Unavailable(String),
}

/// A Lease record as this candidate first saw it, and when.
#[derive(Debug, Clone)]
struct Observed {
    spec: LeaseSpec,
    since: Instant,
}

/// What a candidate does after reading the Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// There is no Lease: create it, held by us.
    Create,
    /// Write ourselves as the holder: a renewal when we hold it already,
    /// else a take-over (it was released, or its holder stopped renewing).
    Claim {
        /// We are the holder already.
        renew: bool,
    },
    /// Another copy holds it: look again after this long.
    Wait {
        /// Its holder.
        holder: String,
        /// When to look again.
        retry_in: Duration,
    },
}

/// How long before `wall` the Lease was last renewed (zero when its
/// `renewTime` lies ahead, or is missing: a clock ahead of ours).
fn renew_age(spec: &LeaseSpec, wall: Timestamp) -> Duration {
    spec.renew_time
        .as_ref()
        .and_then(|t| Duration::try_from(wall.duration_since(t.0)).ok())
        .unwrap_or(Duration::ZERO)
}

/// The decision of candidate `me` on reading `spec` (`None`: no Lease) at
/// `now` (monotonic) and `wall` (the system clock). `observed` is what it
/// saw before, updated here; `times`: this copy's timing.
fn decide(
    spec: Option<&LeaseSpec>,
    me: &str,
    observed: &mut Option<Observed>,
    now: Instant,
    wall: Timestamp,
    times: &LeaseTimes,
) -> Step {
    let Some(spec) = spec else {
        *observed = None;
        return Step::Create;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    if holder == me {
        return Step::Claim { renew: true };
    }
    if holder.is_empty() {
        // Released by a holder that stopped cleanly.
        return Step::Claim { renew: false };
    }
    let duration = spec
        .lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s > 0)
        .map_or(times.duration, Duration::from_secs);
    let since = match observed.as_ref() {
        Some(seen) if seen.spec == *spec => seen.since,
        _ => {
            // A record changed since the last look counts from now: when it
            // changed between two looks is not known. Only the very first
            // look believes renewTime (at most a lease's duration back).
            let age = if observed.is_none() {
                renew_age(spec, wall).min(duration)
            } else {
                Duration::ZERO
            };
            let since = now.checked_sub(age).unwrap_or(now);
            *observed = Some(Observed {
                spec: spec.clone(),
                since,
            });
            since
        }
    };
    let expires = since + duration;
    if now >= expires {
        Step::Claim { renew: false }
    } else {
        Step::Wait {
            holder: holder.to_string(),
            retry_in: (expires - now).min(times.retry_every),
        }
    }
}

/// The record `me` writes to hold the Lease for `duration` (`old`: the one
/// read, if any).
fn claimed(
    old: Option<&LeaseSpec>,
    me: &str,
    renew: bool,
    wall: Timestamp,
    duration: Duration,
) -> LeaseSpec {
    let base = old.cloned().unwrap_or_default();
    let transitions = base.lease_transitions.unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(me.to_string()),
        lease_duration_seconds: Some(i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)),
        acquire_time: if renew {
            base.acquire_time.clone()
        } else {
            Some(MicroTime(wall))
        },
        renew_time: Some(MicroTime(wall)),
        lease_transitions: Some(if renew || old.is_none() {
            transitions
        } else {
            transitions + 1
        }),
        ..base
    }
}

/// The record a holder leaves when it stops: no holder, so a waiting copy
/// takes over at its next look instead of after the lease's duration.
fn released(old: &LeaseSpec, wall: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        renew_time: Some(MicroTime(wall)),
        ..old.clone()
    }
}

/// The outcome of a look at the Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This copy holds the Lease now; `resumed` when the Lease still named
    /// it (no other copy led since it last held it).
    Leading {
        /// The Lease still named this copy.
        resumed: bool,
    },
    /// `holder` holds it; look again after `retry_in`.
    Waiting {
        /// The current holder (empty when not known: another copy's write
        /// won a race, and the next look tells).
        holder: String,
        /// When to look again.
        retry_in: Duration,
    },
}

/// One copy's part in the election over one Lease.
pub struct Election {
    api: Api<Lease>,
    settings: LeaseSettings,
    server: String,
    source: String,
    observed: Option<Observed>,
    /// The Lease as last written by us, while we hold it.
    held: Option<Lease>,
    /// When the last write that kept us the holder was sent.
    renewed_at: Option<Instant>,
}

impl Election {
    /// A candidate for the Lease `settings` names, on `cluster`.
    pub fn new(cluster: &Cluster, settings: LeaseSettings) -> Election {
        Election {
            api: Api::namespaced(cluster.client.clone(), &settings.namespace),
            settings,
            server: cluster.server.clone(),
            source: cluster.source.clone(),
            observed: None,
            held: None,
            renewed_at: None,
        }
    }

    /// The Lease and this copy's identity.
    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    /// Whether this copy may still act at `now`: it holds the Lease and
    /// renewed it less than the renew deadline ago.
    pub fn valid(&self, now: Instant) -> bool {
        self.held.is_some()
            && self
                .renewed_at
                .is_some_and(|t| now < t + self.settings.times.renew_deadline)
    }

    /// When the held Lease is due for renewal (`None` when not held).
    pub fn renew_at(&self) -> Option<Instant> {
        self.held.as_ref()?;
        self.renewed_at.map(|t| t + self.settings.times.renew_every)
    }

    /// Reads the Lease and takes it when it is free or expired (or keeps it,
    /// when this copy holds it already).
    pub async fn try_lead(&mut self) -> Result<Attempt, LeaseError> {
        let current = self
            .api
            .get_opt(&self.settings.name)
            .await
            .map_err(|e| self.error(e, "read"))?;
        let spec = current.as_ref().map(|l| l.spec.clone().unwrap_or_default());
        let step = decide(
            spec.as_ref(),
            &self.settings.identity,
            &mut self.observed,
            Instant::now(),
            Timestamp::now(),
            &self.settings.times,
        );
        match step {
            Step::Wait { holder, retry_in } => {
                self.held = None;
                Ok(Attempt::Waiting { holder, retry_in })
            }
            Step::Create => self.create().await,
            Step::Claim { renew } => {
                // `current` is Some here: decide only claims a Lease it read.
                let Some(lease) = current else {
                    return self.create().await;
                };
                self.claim(lease, renew).await
            }
        }
    }

    /// Renews the Lease this copy holds: `Ok(Some(holder))` when another copy
    /// holds it now, `Ok(None)` when renewed.
    pub async fn renew(&mut self) -> Result<Option<String>, LeaseError> {
        let Some(lease) = self.held.clone() else {
            return Ok(Some("another copy (this one did not hold it)".to_string()));
        };
        match self.claim(lease, true).await? {
            Attempt::Leading { .. } => Ok(None),
            Attempt::Waiting { .. } => {
                // Our write lost to another's: read who holds it now.
                match self.try_lead().await? {
                    Attempt::Leading { .. } => Ok(None),
                    Attempt::Waiting { holder, .. } => Ok(Some(holder)),
                }
            }
        }
    }

    /// Gives the Lease up (when stopping), so a waiting copy takes over at
    /// once. Does nothing when this copy does not hold it.
    pub async fn release(&mut self) -> Result<(), LeaseError> {
        let Some(mut lease) = self.held.take() else {
            return Ok(());
        };
        self.renewed_at = None;
        let spec = lease.spec.clone().unwrap_or_default();
        lease.spec = Some(released(&spec, Timestamp::now()));
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            // Someone else wrote it meanwhile: it is not ours to release.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(self.error(e, "release")),
        }
    }

    async fn create(&mut self) -> Result<Attempt, LeaseError> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.settings.name.clone()),
                namespace: Some(self.settings.namespace.clone()),
                labels: Some(
                    [(
                        crate::plan::MANAGED_BY_LABEL.to_string(),
                        crate::plan::MANAGED_BY.to_string(),
                    )]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(claimed(
                None,
                &self.settings.identity,
                false,
                Timestamp::now(),
                self.settings.times.duration,
            )),
        };
        let sent = Instant::now();
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(made) => Ok(self.hold(made, sent, false)),
            // Another copy created it first: look at it again at once.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(self.lost_race()),
            Err(e) => Err(self.error(e, "create")),
        }
    }

    /// Writes `lease` (as read, with its resourceVersion) with us as holder.
    async fn claim(&mut self, mut lease: Lease, renew: bool) -> Result<Attempt, LeaseError> {
        let old = lease.spec.clone().unwrap_or_default();
        lease.spec = Some(claimed(
            Some(&old),
            &self.settings.identity,
            renew,
            Timestamp::now(),
            self.settings.times.duration,
        ));
        let sent = Instant::now();
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => Ok(self.hold(written, sent, renew)),
            // Changed since we read it (resourceVersion) or deleted: our
            // write did not happen; the next look decides again.
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(self.lost_race()),
            Err(e) => Err(self.error(e, "update")),
        }
    }

    fn hold(&mut self, lease: Lease, sent: Instant, resumed: bool) -> Attempt {
        self.held = Some(lease);
        self.renewed_at = Some(sent);
        self.observed = None;
        Attempt::Leading { resumed }
    }

    /// Our write lost to another copy's: the next look (at once) reads
    /// who holds the Lease now.
    fn lost_race(&mut self) -> Attempt {
        self.held = None;
        Attempt::Waiting {
            holder: String::new(),
            retry_in: Duration::ZERO,
        }
    }

    /// Stops counting on the Lease (it could not be renewed in time): the
    /// next [`Election::try_lead`] decides afresh.
    pub fn abandon(&mut self) {
        self.held = None;
        self.renewed_at = None;
    }

    fn error(&self, err: kube::Error, verb: &str) -> LeaseError {
        let what = self.settings.describe();
        let grant = format!(
            "the identity of {} needs get, create and update on leases (coordination.k8s.io) in namespace {} (examples/deploy/rbac.yaml has such a Role), or choose another namespace with --set {NAMESPACE_KEY}=NAMESPACE",
            self.source, self.settings.namespace
        );
        match err {
            kube::Error::Api(s) if s.code == 401 || s.code == 403 => LeaseError::Refused(
                format!("cannot {verb} {what} for leader election: {}; {grant}", s.message.trim()),
            ),
            kube::Error::Api(s) if s.code == 404 => LeaseError::Refused(format!(
                "cannot {verb} {what} for leader election: {}; create namespace {} or choose another with --set {NAMESPACE_KEY}=NAMESPACE",
                s.message.trim(),
                self.settings.namespace
            )),
            kube::Error::Api(s) => LeaseError::Unavailable(format!(
                "cannot {verb} {what} on {}: {}",
                self.server,
                s.message.trim()
            )),
            other => LeaseError::Unavailable(format!(
                "cannot {verb} {what}: the API server at {} did not answer ({other})",
                self.server
            )),
        }
    }
}

/// The outcome of [`Leadership::try_lead`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// This copy leads; `resumed` when no other copy led since it last did,
    /// so what its watches saw is still what the handlers last saw.
    Leads {
        /// No other copy led meanwhile.
        resumed: bool,
    },
    /// Another copy leads (or the Lease could not be read): look again after this long.
    Wait(Duration),
}

/// What the serve loop of `kube::watch` asks of the election: may this copy
/// act now? Without an election (a server dry run, which persists nothing
/// and so must not hold a Lease either) it always may.
pub struct Leadership {
    runtime: tokio::runtime::Handle,
    election: Option<Election>,
    /// Why the Lease was lost, until it is taken again.
    lost: Option<String>,
    /// The holder last said to be waited for: said once, not every look.
    said_holder: Option<String>,
    /// A look or renewal is failing: said once until one works again.
    failing: bool,
    /// When to try a failed renewal again.
    retry_renewal_at: Option<Instant>,
}

impl Leadership {
    /// The leadership of a copy in `election` (`None`: no election).
    pub fn new(runtime: tokio::runtime::Handle, election: Option<Election>) -> Leadership {
        Leadership {
            runtime,
            election,
            lost: None,
            said_holder: None,
            failing: false,
            retry_renewal_at: None,
        }
    }

    /// One look at the Lease, taking it when it is free or expired. An
    /// error when looking cannot succeed (no permission, no namespace).
    pub fn try_lead(&mut self) -> super::error::Result<Look> {
        let Some(election) = &mut self.election else {
            return Ok(Look::Leads { resumed: false });
        };
        let what = election.settings().describe();
        let me = election.settings().identity.clone();
        let times = election.settings().times;
        match self.runtime.block_on(election.try_lead()) {
            Ok(Attempt::Leading { resumed }) => {
                if resumed {
                    tracing::info!("{what}: this copy ({me}) leads again; no other copy led meanwhile, so the watches go on from what they saw");
                } else {
                    tracing::info!("{what}: this copy ({me}) leads and handles the events");
                }
                self.lost = None;
                self.said_holder = None;
                self.failing = false;
                self.retry_renewal_at = None;
                Ok(Look::Leads { resumed })
            }
            Ok(Attempt::Waiting { holder, retry_in }) => {
                if !holder.is_empty() && self.said_holder.as_ref() != Some(&holder) {
                    tracing::info!(
                        "{what} is held by {holder}: this copy ({me}) waits, sends no write, and takes over when the holder stops renewing it for {}s",
                        times.duration.as_secs()
                    );
                    self.said_holder = Some(holder);
                }
                self.failing = false;
                Ok(Look::Wait(retry_in))
            }
            Err(e @ LeaseError::Refused(_)) => Err(e.into()),
            Err(LeaseError::Unavailable(e)) => {
                if !self.failing {
                    tracing::warn!(
                        "{e}; this copy waits and tries again every {:.1}s",
                        times.retry_every.as_secs_f64()
                    );
                    self.failing = true;
                }
                Ok(Look::Wait(times.retry_every))
            }
        }
    }

    /// Renews the Lease when that is due. `Err(why)` when this copy no
    /// longer leads: another took the Lease, or it could not be renewed for
    /// the renew deadline.
    pub fn keep(&mut self) -> Result<(), String> {
        let Some(election) = &mut self.election else {
            return Ok(());
        };
        if let Some(why) = &self.lost {
            return Err(why.clone());
        }
        let now = Instant::now();
        let due = self.retry_renewal_at.or(election.renew_at());
        if due.is_none_or(|t| now < t) {
            return Ok(());
        }
        let what = election.settings().describe();
        let times = election.settings().times;
        let why = match self.runtime.block_on(election.renew()) {
            Ok(None) => {
                if self.failing {
                    tracing::info!("{what} renewed again");
                    self.failing = false;
                }
                self.retry_renewal_at = None;
                return Ok(());
            }
            Ok(Some(holder)) => format!("{what} was taken over by {holder}"),
            Err(e) if election.valid(Instant::now()) => {
                if !self.failing {
                    tracing::warn!(
                        "{e}; trying again every {:.1}s (this copy stops handling if the Lease is not renewed within {:.1}s)",
                        times.retry_every.as_secs_f64(),
                        times.renew_deadline.as_secs_f64()
                    );
                    self.failing = true;
                }
                self.retry_renewal_at = Some(now + times.retry_every);
                return Ok(());
            }
            Err(e) => format!(
                "{what} was not renewed for {:.1}s ({e})",
                times.renew_deadline.as_secs_f64()
            ),
        };
        election.abandon();
        self.failing = false;
        self.retry_renewal_at = None;
        self.said_holder = None;
        self.lost = Some(why.clone());
        Err(why)
    }

    /// How long until [`Leadership::keep`] has work to do (`None`: never,
    /// without an election or a Lease held).
    pub fn next_check_in(&self) -> Option<Duration> {
        let election = self.election.as_ref()?;
        let at = self.retry_renewal_at.or(election.renew_at())?;
        Some(at.saturating_duration_since(Instant::now()))
    }

    /// Whether this copy may write now, renewing the Lease first when that
    /// is due: asked before a handler's plan is carried out, since a long
    /// handler may have outlived the leadership it started with.
    pub fn confirm(&mut self) -> bool {
        self.keep().is_ok()
            && self
                .election
                .as_ref()
                .is_none_or(|e| e.valid(Instant::now()))
    }

    /// Gives the Lease up when this copy stops, so another takes over at
    /// its next look rather than after the lease's duration.
    pub fn release(&mut self) {
        let Some(election) = &mut self.election else {
            return;
        };
        if self.lost.is_some() || !election.valid(Instant::now()) {
            return;
        }
        let what = election.settings().describe();
        let duration = election.settings().times.duration;
        match self.runtime.block_on(election.release()) {
            Ok(()) => tracing::info!("{what} released"),
            Err(e) => tracing::warn!(
                "{e}; another copy takes over within {}s",
                duration.as_secs()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).expect("a valid time")
    }

    fn held_by(holder: &str, renewed: Timestamp) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_string()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(renewed)),
            acquire_time: Some(MicroTime(renewed)),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn no_lease_is_created_and_ours_is_renewed() {
        let mut seen = None;
        let now = Instant::now();
        assert_eq!(
            decide(None, "me", &mut seen, now, at(0), &LeaseTimes::default()),
            Step::Create
        );
        let ours = held_by("me", at(-100));
        assert_eq!(
            decide(
                Some(&ours),
                "me",
                &mut seen,
                now,
                at(0),
                &LeaseTimes::default()
            ),
            Step::Claim { renew: true }
        );
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        let mut seen = None;
        let released = released(&held_by("them", at(0)), at(0));
        assert_eq!(released.holder_identity, None);
        assert_eq!(
            decide(
                Some(&released),
                "me",
                &mut seen,
                Instant::now(),
                at(0),
                &LeaseTimes::default()
            ),
            Step::Claim { renew: false }
        );
    }

    #[test]
    fn a_live_holder_is_waited_for_until_its_record_stays_unchanged_for_the_duration() {
        let start = Instant::now();
        let mut seen = None;
        let record = held_by("them", at(0));
        // First look, renewed just now: wait.
        let step = decide(
            Some(&record),
            "me",
            &mut seen,
            start,
            at(0),
            &LeaseTimes::default(),
        );
        assert_eq!(
            step,
            Step::Wait {
                holder: "them".into(),
                retry_in: LeaseTimes::default().retry_every
            }
        );
        // Renewed (changed) 10 s later: the wait counts from that look.
        let renewed = held_by("them", at(10));
        let later = start + Duration::from_secs(10);
        assert!(matches!(
            decide(
                Some(&renewed),
                "me",
                &mut seen,
                later,
                at(10),
                &LeaseTimes::default()
            ),
            Step::Wait { .. }
        ));
        // Unchanged for 14 s: still waiting, and the next look is due when it expires.
        let step = decide(
            Some(&renewed),
            "me",
            &mut seen,
            later + Duration::from_secs(14),
            at(24),
            &LeaseTimes::default(),
        );
        assert_eq!(
            step,
            Step::Wait {
                holder: "them".into(),
                retry_in: Duration::from_secs(1)
            }
        );
        // Unchanged for 15 s: taken.
        assert_eq!(
            decide(
                Some(&renewed),
                "me",
                &mut seen,
                later + LEASE_DURATION,
                at(25),
                &LeaseTimes::default()
            ),
            Step::Claim { renew: false }
        );
    }

    #[test]
    fn only_the_first_look_believes_renew_time() {
        let now = Instant::now() + Duration::from_secs(3600);
        // A holder gone for an hour: taken at the first look.
        let mut seen = None;
        let stale = held_by("gone", at(-3600));
        assert_eq!(
            decide(
                Some(&stale),
                "me",
                &mut seen,
                now,
                at(0),
                &LeaseTimes::default()
            ),
            Step::Claim { renew: false }
        );
        // A record that changed between two looks counts from the second,
        // whatever its renewTime says (another host's clock).
        let mut seen = None;
        decide(
            Some(&held_by("a", at(0))),
            "me",
            &mut seen,
            now,
            at(0),
            &LeaseTimes::default(),
        );
        let changed = held_by("b", at(-3600));
        assert!(matches!(
            decide(
                Some(&changed),
                "me",
                &mut seen,
                now,
                at(0),
                &LeaseTimes::default()
            ),
            Step::Wait { .. }
        ));
        // A renewTime ahead of our clock is not an age.
        let mut seen = None;
        assert!(matches!(
            decide(
                Some(&held_by("a", at(60))),
                "me",
                &mut seen,
                now,
                at(0),
                &LeaseTimes::default()
            ),
            Step::Wait { .. }
        ));
    }

    #[test]
    fn claims_count_transitions_and_keep_the_acquire_time_on_renewal() {
        let old = held_by("them", at(0));
        let taken = claimed(Some(&old), "me", false, at(20), LEASE_DURATION);
        assert_eq!(taken.holder_identity.as_deref(), Some("me"));
        assert_eq!(taken.lease_transitions, Some(4));
        assert_eq!(taken.acquire_time, Some(MicroTime(at(20))));
        assert_eq!(taken.renew_time, Some(MicroTime(at(20))));
        assert_eq!(taken.lease_duration_seconds, Some(15));
        let renewed = claimed(Some(&taken), "me", true, at(25), LEASE_DURATION);
        assert_eq!(renewed.lease_transitions, Some(4));
        assert_eq!(renewed.acquire_time, Some(MicroTime(at(20))));
        assert_eq!(renewed.renew_time, Some(MicroTime(at(25))));
        let first = claimed(None, "me", false, at(0), LEASE_DURATION);
        assert_eq!(first.lease_transitions, Some(0));
    }

    #[test]
    fn lease_names_are_valid_object_names() {
        assert_eq!(lease_name("tls-sync"), "wildrun-tls-sync");
        assert_eq!(lease_name("public.My_Web"), "wildrun-public.my-web");
        assert_eq!(lease_name("x_"), "wildrun-x");
        for name in [lease_name("tls-sync"), lease_name("public.My_Web")] {
            crate::objects::validate::dns1123_subdomain(&name).expect("a valid name");
        }
    }

    #[test]
    fn identities_differ_between_candidates() {
        let (a, b) = (identity(), identity());
        assert_ne!(a, b);
        assert!(a.contains(&format!("_{}_", std::process::id())), "{a}");
    }
}
