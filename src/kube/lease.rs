//! Leader election for long-running scripts (`kube::watch`): of several
//! copies of one instance, one handles events and the others wait.
//!
//! The copies share a `coordination.k8s.io/v1` Lease ([`LeaseSettings`]).
//! The holder writes its identity into `holderIdentity` and renews
//! `renewTime` every third of the lease's duration ([`LeaseTimes`]), on a
//! task of its own, whatever its handlers are doing. A candidate reads the
//! Lease every [`LeaseTimes::retry_every`] and takes it when its holder
//! released it, or when it has seen the record stay unchanged for
//! `leaseDurationSeconds` (the holder died, was stopped, or lost the API
//! server). Every write carries the `resourceVersion` it read, so of two
//! candidates that try at once only one succeeds.
//!
//! Writes are fenced by the Lease ([`LeaseFence`]): before each write, the
//! holder checks that its last successful renewal was sent less than the
//! renew deadline (two thirds of the duration) ago. The last third is the
//! margin: a write sent just before the deadline has that long to land
//! before another copy may take the Lease. The holder times this on
//! [`Stamp`], a clock that goes on counting while the process is stopped
//! (SIGSTOP) or the machine sleeps, so a copy that resumes does not trust
//! its old view of the Lease. Candidates measure how long a record stayed
//! unchanged on their own monotonic clock, as client-go does, so clocks
//! that disagree cannot make two leaders; only the first look at a Lease
//! trusts its `renewTime`, so that a Lease whose holder is long gone is
//! taken at once.

use super::cluster::Cluster;
use super::error::KubeError;
use super::fence::Fence;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a Lease stays with a holder that stopped renewing it
/// (`leaseDurationSeconds`), unless configured ([`DURATION_KEY`]).
pub(crate) const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often a waiting copy looks at the Lease at most, and how soon a
/// failed renewal is tried again.
pub(crate) const RETRY_EVERY: Duration = Duration::from_secs(2);
/// The configuration key that sets the lease's duration, in seconds.
pub(crate) const DURATION_KEY: &str = "watch.leaseDuration";
/// The shortest lease duration the configuration accepts: the renewals
/// (every third of it) must have time to go through.
pub(crate) const MIN_DURATION_SECONDS: u64 = 3;

/// The timing of an election, all derived from the lease's duration. With
/// the default 15 s these are client-go's: renew deadline 10 s, retry 2 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeaseTimes {
    /// How long the Lease stays with a holder that stopped renewing it.
    pub(crate) duration: Duration,
    /// How long after its last successful renewal was sent the holder may
    /// still write: two thirds of [`LeaseTimes::duration`]. The remaining
    /// third is the margin a write sent just before the deadline has to
    /// land before another copy may take over.
    pub(crate) renew_deadline: Duration,
    /// How often the holder renews: a third of the duration, so one failed
    /// renewal leaves time for another before the deadline.
    pub(crate) renew_every: Duration,
    /// How often a waiting copy looks at the Lease, and how soon a failed
    /// renewal is tried again: a fifth of the duration, at most [`RETRY_EVERY`].
    pub(crate) retry_every: Duration,
}

impl LeaseTimes {
    /// The timing of a Lease of `duration`.
    pub(crate) fn of(duration: Duration) -> LeaseTimes {
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

/// A reading of the clock the holder judges its Lease by: `CLOCK_BOOTTIME`
/// on Linux, which counts on while the process is stopped and while the
/// machine sleeps (`CLOCK_MONOTONIC`, behind [`Instant`], pauses during a
/// suspend, and a resumed holder would think its Lease fresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp(Duration);

impl Stamp {
    /// Now.
    pub(crate) fn now() -> Stamp {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let clock = rustix::time::ClockId::Boottime;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let clock = rustix::time::ClockId::Monotonic;
        let t = rustix::time::clock_gettime(clock);
        let nanos = u32::try_from(t.tv_nsec).unwrap_or(0);
        Stamp(Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), nanos))
    }

    /// How long ago this was.
    pub(crate) fn elapsed(self) -> Duration {
        Stamp::now().0.saturating_sub(self.0)
    }
}

/// Where a pod finds its own namespace (the service account's mount).
pub(crate) const NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// The Lease's namespace outside a pod, unless configured.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";
/// The configuration key that chooses the Lease's namespace.
pub(crate) const NAMESPACE_KEY: &str = "watch.leaseNamespace";

/// Which Lease the copies of an instance share, and who this copy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSettings {
    /// The Lease's namespace.
    pub(crate) namespace: String,
    /// The Lease's name: `wildrun-<instance>`.
    pub(crate) name: String,
    /// This copy's `holderIdentity`: host name, process id and a random part.
    pub(crate) identity: String,
    /// The lease's duration, and the renewals and looks that follow from it.
    pub(crate) times: LeaseTimes,
}

impl LeaseSettings {
    /// The Lease of the instance labelled `instance`, in `namespace` (the
    /// configured [`NAMESPACE_KEY`]) or else [`default_namespace`], lasting
    /// `duration` (the configured [`DURATION_KEY`]) or else [`LEASE_DURATION`].
    pub(crate) fn for_instance(
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
    pub(crate) fn describe(&self) -> String {
        format!("Lease {}/{}", self.namespace, self.name)
    }
}

/// `wildrun-<instance label>`, made a valid object name: the label may hold
/// capitals and `_`, which names may not.
pub(crate) fn lease_name(instance: &str) -> String {
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
pub(crate) fn default_namespace() -> String {
    std::fs::read_to_string(NAMESPACE_FILE)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

/// A `holderIdentity` no other copy has: the host name (the pod's name in a
/// cluster), the process id and 32 random bits (two processes on two hosts
/// may have the same pid).
pub(crate) fn identity() -> String {
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

/// Why an attempt on the Lease failed: what was tried on which Lease, and
/// what the API server answered; the hint is composed when it is shown.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LeaseError {
    /// The API server refused (401 or 403: no permission; 404: no such
    /// namespace): trying again will not help.
    #[error("cannot {verb} {lease} for leader election: {}; {}", .message.trim(), refusal_hint(*.code, .identity, .namespace))]
    Refused {
        /// What was tried (`read`, `create`, `update`, ...).
        verb: &'static str,
        /// The Lease, for people (`Lease default/wildrun-public.web`).
        lease: String,
        /// The HTTP status of the answer.
        code: u16,
        /// The API server's message.
        message: String,
        /// Where the identity that was refused comes from (the kubeconfig).
        identity: String,
        /// The Lease's namespace.
        namespace: String,
    },
    /// The API server answered with another error: worth trying again.
    #[error("cannot {verb} {lease} on {server}: {}", .message.trim())]
    Failed {
        /// What was tried.
        verb: &'static str,
        /// The Lease, for people.
        lease: String,
        /// The API server URL.
        server: String,
        /// The API server's message.
        message: String,
    },
    /// The API server did not answer: worth trying again.
    #[error("cannot {verb} {lease}: the API server at {server} did not answer ({error})")]
    NoAnswer {
        /// What was tried.
        verb: &'static str,
        /// The Lease, for people.
        lease: String,
        /// The API server URL.
        server: String,
        /// What the client said.
        error: kube::Error,
    },
}

impl LeaseError {
    /// Whether trying again will not help.
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, LeaseError::Refused { .. })
    }
}

/// What to do about a refusal with HTTP status `code` of the identity from
/// `identity` in `namespace`.
fn refusal_hint(code: u16, identity: &str, namespace: &str) -> String {
    if code == 404 {
        format!(
            "create namespace {namespace} or choose another with --set {NAMESPACE_KEY}=NAMESPACE"
        )
    } else {
        format!(
            "the identity of {identity} needs get, create and update on leases (coordination.k8s.io) in namespace {namespace} (examples/deploy/rbac.yaml has such a Role), or choose another namespace with --set {NAMESPACE_KEY}=NAMESPACE"
        )
    }
}

/// A failed look at the Lease stops the plan as a [`KubeError`]; the
/// conversion is here so that [`super::error`] does not import this module.
impl From<LeaseError> for KubeError {
    fn from(error: LeaseError) -> KubeError {
        KubeError::Lease(Box::new(error))
    }
}

/// A Lease record as this candidate first saw it, and when.
#[derive(Debug, Clone)]
struct Observed {
    spec: LeaseSpec,
    since: Instant,
}

/// What a candidate does after reading the Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CandidateMove {
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
) -> CandidateMove {
    let Some(spec) = spec else {
        *observed = None;
        return CandidateMove::Create;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    if holder == me {
        return CandidateMove::Claim { renew: true };
    }
    if holder.is_empty() {
        // Released by a holder that stopped cleanly.
        return CandidateMove::Claim { renew: false };
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
        CandidateMove::Claim { renew: false }
    } else {
        CandidateMove::Wait {
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
pub(crate) enum Attempt {
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
pub(crate) struct Election {
    api: Api<Lease>,
    settings: LeaseSettings,
    server: String,
    source: String,
    observed: Option<Observed>,
    /// The Lease as last written by us, while we hold it.
    held: Option<Lease>,
    /// When the last write that kept us the holder was sent (taken before
    /// its `renewTime`, so never later than what the others go by).
    renewed_at: Option<Stamp>,
    /// The [`RECONCILE_ANNOTATION`] as this copy last saw it while holding
    /// the Lease: a new value asks it to reconcile.
    reconcile_seen: Option<String>,
}

/// The annotation of the Lease through which a copy that may have written
/// after it lost the Lease asks the copy that holds it to reconcile from a
/// full list (its value: who asked, and when).
pub(crate) const RECONCILE_ANNOTATION: &str = "wildrun.dev/reconcile-requested";

/// The field manager of a reconcile request.
pub(crate) const RECONCILE_FIELD_MANAGER: &str = "wildrun-reconcile-request";

/// The outcome of a renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Renewal {
    /// Renewed; `reconcile` when another copy asked for a reconcile since
    /// the last renewal.
    Renewed {
        /// A reconcile was asked for.
        reconcile: bool,
    },
    /// Another copy holds the Lease now.
    Lost {
        /// Who holds it.
        holder: String,
    },
}

/// The value of the reconcile annotation of `lease`.
fn reconcile_request(lease: &Lease) -> Option<String> {
    lease
        .metadata
        .annotations
        .as_ref()?
        .get(RECONCILE_ANNOTATION)
        .cloned()
}

impl Election {
    /// A candidate for the Lease `settings` names, on `cluster`.
    pub(crate) fn new(cluster: &Cluster, settings: LeaseSettings) -> Election {
        Election {
            api: Api::namespaced(cluster.client.clone(), &settings.namespace),
            settings,
            server: cluster.server.clone(),
            source: cluster.source.clone(),
            observed: None,
            held: None,
            renewed_at: None,
            reconcile_seen: None,
        }
    }

    /// The Lease and this copy's identity.
    pub(crate) fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    /// When the last write that kept this copy the holder was sent (`None`
    /// when it does not hold the Lease).
    pub(crate) fn renewed_at(&self) -> Option<Stamp> {
        self.held.as_ref()?;
        self.renewed_at
    }

    /// Reads the Lease and takes it when it is free or expired (or keeps it,
    /// when this copy holds it already).
    pub(crate) async fn try_lead(&mut self) -> Result<Attempt, LeaseError> {
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
            CandidateMove::Wait { holder, retry_in } => {
                self.held = None;
                Ok(Attempt::Waiting { holder, retry_in })
            }
            CandidateMove::Create => self.create().await,
            CandidateMove::Claim { renew } => {
                // `current` is Some here: decide only claims a Lease it read.
                let Some(lease) = current else {
                    return self.create().await;
                };
                self.claim(lease, renew).await
            }
        }
    }

    /// Renews the Lease this copy holds.
    pub(crate) async fn renew(&mut self) -> Result<Renewal, LeaseError> {
        let Some(lease) = self.held.clone() else {
            return Ok(Renewal::Lost {
                holder: "another copy (this one did not hold it)".to_string(),
            });
        };
        let seen = self.reconcile_seen.clone();
        if let Attempt::Leading { .. } = self.claim(lease, true).await? {
            return Ok(Renewal::Renewed { reconcile: false });
        }
        // The Lease changed since we wrote it: read it (without claiming).
        let current = self
            .api
            .get_opt(&self.settings.name)
            .await
            .map_err(|e| self.error(e, "read"))?;
        let holder = current
            .as_ref()
            .and_then(|l| l.spec.as_ref()?.holder_identity.clone())
            .unwrap_or_default();
        match current {
            // Still ours: only its annotations changed, a reconcile request.
            Some(lease) if holder == self.settings.identity => {
                let asked = reconcile_request(&lease);
                match self.claim(lease, true).await? {
                    Attempt::Leading { .. } => Ok(Renewal::Renewed {
                        reconcile: asked.is_some() && asked != seen,
                    }),
                    Attempt::Waiting { .. } => Ok(Renewal::Lost {
                        holder: "another copy".to_string(),
                    }),
                }
            }
            // Another copy's now: the term is over (the next look decides afresh).
            _ => Ok(Renewal::Lost {
                holder: if holder.is_empty() {
                    "another copy".to_string()
                } else {
                    holder
                },
            }),
        }
    }

    /// Asks the copy that holds the Lease to reconcile from a full list,
    /// through [`RECONCILE_ANNOTATION`]: for a copy whose write may have
    /// landed after it lost the Lease. Read and replaced (the verbs a
    /// candidate has), tried again when another write came in between.
    pub(crate) async fn request_reconcile(&mut self) -> Result<(), LeaseError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let Some(mut lease) = self
                .api
                .get_opt(&self.settings.name)
                .await
                .map_err(|e| self.error(e, "read"))?
            else {
                return Ok(());
            };
            let asked = format!("{} {}", self.settings.identity, Timestamp::now());
            lease
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(RECONCILE_ANNOTATION.to_string(), asked);
            // Its own field manager: the annotation's owner says who wrote it.
            let params = PostParams {
                field_manager: Some(RECONCILE_FIELD_MANAGER.to_string()),
                ..PostParams::default()
            };
            match self.api.replace(&self.settings.name, &params, &lease).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 && tries < 3 => continue,
                Err(e) => return Err(self.error(e, "annotate")),
            }
        }
    }

    /// Gives the Lease up (when stopping), so a waiting copy takes over at
    /// once. Does nothing when this copy does not hold it.
    pub(crate) async fn release(&mut self) -> Result<(), LeaseError> {
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
        // Taken before the renewTime written, so that this copy's deadline
        // never runs later than the others count from.
        let sent = Stamp::now();
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
        // Taken before the renewTime written (see create).
        let sent = Stamp::now();
        lease.spec = Some(claimed(
            Some(&old),
            &self.settings.identity,
            renew,
            Timestamp::now(),
            self.settings.times.duration,
        ));
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

    fn hold(&mut self, lease: Lease, sent: Stamp, resumed: bool) -> Attempt {
        self.reconcile_seen = reconcile_request(&lease);
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
    pub(crate) fn abandon(&mut self) {
        self.held = None;
        self.renewed_at = None;
    }

    fn error(&self, err: kube::Error, verb: &'static str) -> LeaseError {
        let lease = self.settings.describe();
        match err {
            kube::Error::Api(s) if matches!(s.code, 401 | 403 | 404) => LeaseError::Refused {
                verb,
                lease,
                code: s.code,
                message: s.message,
                identity: self.source.clone(),
                namespace: self.settings.namespace.clone(),
            },
            kube::Error::Api(s) => LeaseError::Failed {
                verb,
                lease,
                server: self.server.clone(),
                message: s.message,
            },
            error => LeaseError::NoAnswer {
                verb,
                lease,
                server: self.server.clone(),
                error,
            },
        }
    }
}

/// The outcome of [`Leadership::try_lead`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    /// This copy leads; `resumed` when no other copy led since it last did
    /// and no plan was cut short meanwhile, so what its watches saw is
    /// still what the handlers last acted on.
    Leads {
        /// No other copy led meanwhile, and nothing was left half done.
        resumed: bool,
    },
    /// Another copy leads (or the Lease could not be read): look again after this long.
    Wait(Duration),
}

/// What the renewal task and the writers of one term of leadership share:
/// when the Lease was last renewed, and whether the term is over.
#[derive(Debug)]
struct Hold {
    times: LeaseTimes,
    /// `Lease namespace/name`, for messages.
    what: String,
    state: Mutex<HoldState>,
}

#[derive(Debug)]
struct HoldState {
    /// When the last successful renewal was sent.
    renewed_at: Stamp,
    /// Why the term is over: once set, it stays.
    lost: Option<String>,
    /// A write was refused: a plan stopped before its end.
    refused: bool,
    /// A write ended after the term did: it may have landed after another
    /// copy took the Lease (it was on its way when this process stopped).
    late: bool,
    /// The copy that asked for it wants the handlers to reconcile afresh.
    reconcile: bool,
}

impl Hold {
    fn new(times: LeaseTimes, what: String, renewed_at: Stamp) -> Hold {
        Hold {
            times,
            what,
            state: Mutex::new(HoldState {
                renewed_at,
                lost: None,
                refused: false,
                late: false,
                reconcile: false,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, HoldState> {
        // Nothing panics while holding it; a poisoned state is still sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Ok` while the term goes on: the last successful renewal was sent
    /// less than the renew deadline ago. Judged on the clock at the moment
    /// of asking, so a process resumed after a stop does not go by what it
    /// knew before. Once it fails it stays failed.
    fn check(&self) -> Result<(), String> {
        let mut state = self.state();
        if let Some(why) = &state.lost {
            return Err(why.clone());
        }
        let age = state.renewed_at.elapsed();
        if age < self.times.renew_deadline {
            return Ok(());
        }
        let why = format!(
            "{} was last renewed {:.1}s ago, past the renew deadline of {}s (was this process stopped, or starved?)",
            self.what,
            age.as_secs_f64(),
            self.times.renew_deadline.as_secs_f64()
        );
        state.lost = Some(why.clone());
        Err(why)
    }

    /// A renewal sent at `sent` succeeded (ignored once the term is over).
    fn renewed(&self, sent: Stamp) {
        let mut state = self.state();
        if state.lost.is_none() {
            state.renewed_at = state.renewed_at.max(sent);
        }
    }

    /// Ends the term for `why` (the first reason stays).
    fn lose(&self, why: String) {
        self.state().lost.get_or_insert(why);
    }

    /// How long until `after` has passed since the last renewal (`None`
    /// once the term is over).
    fn until(&self, after: Duration) -> Option<Duration> {
        let state = self.state();
        if state.lost.is_some() {
            return None;
        }
        Some(after.saturating_sub(state.renewed_at.elapsed()))
    }

    /// How long ago the last renewal was sent.
    fn age(&self) -> Duration {
        self.state().renewed_at.elapsed()
    }

    /// Whether the term goes on and the renew deadline has not passed
    /// (without ending the term when it has: see [`Hold::check`]).
    fn within_deadline(&self) -> bool {
        self.until(self.times.renew_deadline)
            .is_some_and(|left| !left.is_zero())
    }
}

/// The check a writer makes before each write ([`Fence`]): does this copy
/// still lead? A plan carried out under it stops at the first write that
/// finds the answer is no.
#[derive(Debug, Clone)]
pub(crate) struct LeaseFence(Fencing);

#[derive(Debug, Clone)]
enum Fencing {
    /// No election (a server dry run): every write may go.
    Unelected,
    /// A term of leadership: writes go while it lasts.
    Term(Arc<Hold>),
    /// This copy does not lead.
    Waiting,
}

impl Fence for LeaseFence {
    fn check(&self) -> Result<(), String> {
        match &self.0 {
            Fencing::Unelected => Ok(()),
            Fencing::Term(hold) => hold.check().inspect_err(|_| hold.state().refused = true),
            Fencing::Waiting => Err("this copy does not hold the Lease".to_string()),
        }
    }

    fn written(&self) {
        // No check can come between the last one and the bytes leaving: a
        // write on its way when the process was stopped goes out when it
        // resumes. Such a write ends after the term did.
        if let Fencing::Term(hold) = &self.0 {
            if hold.check().is_err() {
                hold.state().late = true;
            }
        }
    }
}

/// Called by the renewal task when it ends a term or hears of a reconcile
/// request, to wake whoever waits for events.
type Nudge = Arc<dyn Fn() + Send + Sync>;

/// A term of leadership: the renewal task and what it shares with the writers.
struct Term {
    hold: Arc<Hold>,
    renewal: tokio::task::JoinHandle<()>,
}

/// Renews the Lease while this copy holds it, on a task of its own, so that
/// a handler writing a long plan (or the engine thread running a script)
/// does not keep it from being renewed. Ends the term when another copy
/// took the Lease, or when it could not be renewed before the deadline;
/// a renewal due after the deadline (the process was stopped) is not even
/// tried: the copy must look at the Lease afresh.
async fn renew_while_held(
    election: Arc<tokio::sync::Mutex<Election>>,
    hold: Arc<Hold>,
    nudge: Nudge,
) {
    let times = hold.times;
    let mut failing = false;
    let mut wait = times.renew_every;
    while let Some(sleep) = hold.until(wait) {
        tokio::time::sleep(sleep).await;
        if hold.check().is_err() {
            break;
        }
        let Some(left) = hold.until(times.renew_deadline) else {
            break;
        };
        let mut election = election.lock().await;
        let outcome = tokio::time::timeout(left, election.renew()).await;
        let why = match outcome {
            Ok(Ok(Renewal::Renewed { reconcile })) => {
                if let Some(sent) = election.renewed_at() {
                    hold.renewed(sent);
                }
                if failing {
                    tracing::info!("{} renewed again", hold.what);
                    failing = false;
                }
                if reconcile {
                    hold.state().reconcile = true;
                    nudge();
                }
                wait = times.renew_every;
                continue;
            }
            Ok(Ok(Renewal::Lost { holder })) => {
                format!("{} was taken over by {holder}", hold.what)
            }
            Ok(Err(e)) if hold.within_deadline() => {
                if !failing {
                    tracing::warn!(
                        "{e}; trying again every {:.1}s (this copy stops writing if the Lease is not renewed within {:.1}s of the last renewal)",
                        times.retry_every.as_secs_f64(),
                        times.renew_deadline.as_secs_f64()
                    );
                    failing = true;
                }
                // Counted from the last renewal, like every wait here.
                wait = hold.age() + times.retry_every;
                continue;
            }
            Ok(Err(e)) => format!(
                "{} was not renewed within {:.1}s ({e})",
                hold.what,
                times.renew_deadline.as_secs_f64()
            ),
            Err(_) => format!(
                "{} was not renewed within {:.1}s: the API server did not answer in time",
                hold.what,
                times.renew_deadline.as_secs_f64()
            ),
        };
        election.abandon();
        hold.lose(why);
        break;
    }
    nudge();
}

/// What the serve loop of `kube::watch` asks of the election: may this copy
/// act now? Without an election (a server dry run, which persists nothing
/// and so must not hold a Lease either) it always may. Its calls that talk
/// to the API server are async: the caller decides where they run.
pub struct Leadership {
    /// Shared with the renewal task while this copy leads.
    election: Option<Arc<tokio::sync::Mutex<Election>>>,
    /// The election's timing and Lease, for messages.
    times: LeaseTimes,
    what: String,
    /// The current term, while this copy leads.
    term: Option<Term>,
    /// Told when the renewal task has news.
    nudge: Nudge,
    /// A term ended with a write refused or late: the next starts afresh.
    cut: bool,
    /// The holder last said to be waited for: said once, not every look.
    said_holder: Option<String>,
    /// A look is failing: said once until one works again.
    failing: bool,
}

impl Leadership {
    /// The leadership of a copy in `election` (`None`: no election);
    /// `nudge` is called when the renewal task ends a term or hears of a
    /// reconcile request, to wake the loop that waits for events.
    pub(crate) fn new(
        election: Option<Election>,
        nudge: impl Fn() + Send + Sync + 'static,
    ) -> Leadership {
        let (times, what) = election.as_ref().map_or_else(
            || (LeaseTimes::default(), String::new()),
            |e| (e.settings().times, e.settings().describe()),
        );
        Leadership {
            election: election.map(|e| Arc::new(tokio::sync::Mutex::new(e))),
            times,
            what,
            term: None,
            nudge: Arc::new(nudge),
            cut: false,
            said_holder: None,
            failing: false,
        }
    }

    /// One look at the Lease, taking it when it is free or expired. An
    /// error when looking cannot succeed (no permission, no namespace).
    /// A term under way ends first: its view of the Lease is not trusted.
    pub(crate) async fn try_lead(&mut self) -> Result<Look, KubeError> {
        self.end_term().await;
        let Some(election) = self.election.clone() else {
            return Ok(Look::Leads { resumed: false });
        };
        let what = self.what.clone();
        let mut election = election.lock_owned().await;
        let me = election.settings().identity.clone();
        match election.try_lead().await {
            Ok(Attempt::Leading { resumed }) => {
                let cut = std::mem::take(&mut self.cut);
                if resumed && !cut {
                    tracing::info!("{what}: this copy ({me}) leads again; no other copy led meanwhile, so the watches go on from what they saw");
                } else if resumed {
                    tracing::info!("{what}: this copy ({me}) leads again; a plan was stopped before its end, so the handlers reconcile from a full list");
                } else {
                    tracing::info!("{what}: this copy ({me}) leads and handles the events");
                }
                self.said_holder = None;
                self.failing = false;
                let renewed_at = election.renewed_at().unwrap_or_else(Stamp::now);
                drop(election);
                self.start_term(renewed_at);
                Ok(Look::Leads {
                    resumed: resumed && !cut,
                })
            }
            Ok(Attempt::Waiting { holder, retry_in }) => {
                if !holder.is_empty() && self.said_holder.as_ref() != Some(&holder) {
                    tracing::info!(
                        "{what} is held by {holder}: this copy ({me}) waits, sends no write, and takes over when the holder stops renewing it for {}s",
                        self.times.duration.as_secs()
                    );
                    self.said_holder = Some(holder);
                }
                self.failing = false;
                Ok(Look::Wait(retry_in))
            }
            Err(e) if e.is_refusal() => Err(e.into()),
            Err(e) => {
                if !self.failing {
                    tracing::warn!(
                        "{e}; this copy waits and tries again every {:.1}s",
                        self.times.retry_every.as_secs_f64()
                    );
                    self.failing = true;
                }
                Ok(Look::Wait(self.times.retry_every))
            }
        }
    }

    /// Starts renewing the Lease just taken, on its own task (of the
    /// runtime the caller runs on).
    fn start_term(&mut self, renewed_at: Stamp) {
        let Some(election) = self.election.clone() else {
            return;
        };
        let hold = Arc::new(Hold::new(self.times, self.what.clone(), renewed_at));
        let renewal = tokio::spawn(renew_while_held(election, hold.clone(), self.nudge.clone()));
        self.term = Some(Term { hold, renewal });
    }

    /// Stops the renewal task of the term under way, if any; whether the
    /// term was still valid. A write of the term that may have landed after
    /// it ended is said, and the copy that leads is asked to reconcile.
    async fn end_term(&mut self) -> bool {
        let Some(term) = self.term.take() else {
            return false;
        };
        term.renewal.abort();
        // Returns once the task is gone: it renews nothing after this.
        let _ = term.renewal.await;
        let valid = term.hold.check().is_ok();
        let (refused, late) = {
            let state = term.hold.state();
            (state.refused, state.late)
        };
        self.cut |= refused || late;
        let Some(election) = self.election.clone() else {
            return valid;
        };
        if !valid {
            election.lock().await.abandon();
        }
        if late {
            let what = self.what.clone();
            let bound = self.times.duration;
            let asked = {
                let mut election = election.lock().await;
                tokio::time::timeout(bound, election.request_reconcile()).await
            };
            match asked {
                Ok(Ok(())) => tracing::warn!("a write this copy had on its way when its term ended may have landed after another copy took {what}: it asked the copy that leads to reconcile from a full list"),
                Ok(Err(e)) => tracing::warn!("a write this copy had on its way when its term ended may have landed after another copy took {what}, and asking the copy that leads to reconcile failed: {e}"),
                Err(_) => tracing::warn!("a write this copy had on its way when its term ended may have landed after another copy took {what}, and asking the copy that leads to reconcile did not finish within {}s", bound.as_secs()),
            }
        }
        valid
    }

    /// Whether the copy holding the Lease was asked to reconcile from a
    /// full list (by a copy whose write may have landed after it lost the
    /// Lease); asking again answers no until another request comes.
    pub(crate) fn take_reconcile(&mut self) -> bool {
        self.term
            .as_ref()
            .is_some_and(|term| std::mem::take(&mut term.hold.state().reconcile))
    }

    /// `Ok` while this copy may act: it leads and renewed the Lease less
    /// than the renew deadline ago. `Err(why)` once it does not.
    pub(crate) fn keep(&self) -> Result<(), String> {
        if self.election.is_none() {
            return Ok(());
        }
        match &self.term {
            Some(term) => term.hold.check(),
            None => Err(format!("{} is not held by this copy", self.what)),
        }
    }

    /// How long until [`Leadership::keep`] may change its answer by itself
    /// (the renew deadline); `None` without a term. The renewal task
    /// also nudges when it ends the term.
    pub(crate) fn next_check_in(&self) -> Option<Duration> {
        let term = self.term.as_ref()?;
        term.hold.until(self.times.renew_deadline)
    }

    /// The check to make before each write of a plan: the plan stops at
    /// the first write that finds this copy no longer leads.
    pub(crate) fn fence(&self) -> LeaseFence {
        LeaseFence(match (&self.election, &self.term) {
            (None, _) => Fencing::Unelected,
            (Some(_), Some(term)) => Fencing::Term(term.hold.clone()),
            (Some(_), None) => Fencing::Waiting,
        })
    }

    /// Whether this copy may write now: asked before a handler's plan is
    /// carried out, since a long handler may have outlived the leadership
    /// it started with. A no counts as a plan stopped.
    pub(crate) fn confirm(&self) -> bool {
        self.fence().check().is_ok()
    }

    /// The lease's duration (`None` without an election): a plan that
    /// takes longer outlives a holder that would not renew meanwhile.
    pub(crate) fn lease_duration(&self) -> Option<Duration> {
        self.election.as_ref().map(|_| self.times.duration)
    }

    /// Gives the Lease up when this copy stops, so another takes over at
    /// its next look rather than after the lease's duration.
    pub(crate) async fn release(&mut self) {
        if !self.end_term().await {
            return;
        }
        let Some(election) = self.election.clone() else {
            return;
        };
        let what = self.what.clone();
        let result = election.lock().await.release().await;
        match result {
            Ok(()) => tracing::info!("{what} released"),
            Err(e) => tracing::warn!(
                "{e}; another copy takes over within {}s",
                self.times.duration.as_secs()
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
            CandidateMove::Create
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
            CandidateMove::Claim { renew: true }
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
            CandidateMove::Claim { renew: false }
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
            CandidateMove::Wait {
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
            CandidateMove::Wait { .. }
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
            CandidateMove::Wait {
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
            CandidateMove::Claim { renew: false }
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
            CandidateMove::Claim { renew: false }
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
            CandidateMove::Wait { .. }
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
            CandidateMove::Wait { .. }
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
    fn times_follow_from_the_duration_with_client_go_defaults() {
        let t = LeaseTimes::default();
        assert_eq!(
            (t.duration, t.renew_deadline, t.renew_every, t.retry_every),
            (
                Duration::from_secs(15),
                Duration::from_secs(10),
                Duration::from_secs(5),
                Duration::from_secs(2)
            )
        );
        let t = LeaseTimes::of(Duration::from_secs(3));
        assert_eq!(t.renew_deadline, Duration::from_secs(2));
        assert_eq!(t.renew_every, Duration::from_secs(1));
        assert_eq!(t.retry_every, Duration::from_millis(600));
    }

    /// A Hold of a 3 s Lease last renewed `ago`.
    fn hold_renewed(ago: Duration) -> Arc<Hold> {
        let at = Stamp(Stamp::now().0.saturating_sub(ago));
        Arc::new(Hold::new(
            LeaseTimes::of(Duration::from_secs(3)),
            "Lease ns/l".into(),
            at,
        ))
    }

    #[test]
    fn writes_stop_once_the_last_renewal_is_older_than_the_renew_deadline() {
        let fence = LeaseFence(Fencing::Term(hold_renewed(Duration::from_millis(1900))));
        assert_eq!(fence.check(), Ok(()));
        let Fencing::Term(hold) = &fence.0 else {
            unreachable!()
        };
        // As after a stop of the process: the clock went on meanwhile.
        hold.state().renewed_at = Stamp(Stamp::now().0.saturating_sub(Duration::from_secs(30)));
        let why = fence.check().expect_err("past the deadline");
        assert!(why.contains("past the renew deadline of 2s"), "{why}");
        assert!(hold.state().refused);
        // Once over, a renewal that comes back late does not revive the term.
        hold.renewed(Stamp::now());
        assert_eq!(fence.check(), Err(why));
    }

    #[test]
    fn a_write_that_ends_after_the_term_is_late() {
        let fence = LeaseFence(Fencing::Term(hold_renewed(Duration::ZERO)));
        assert_eq!(fence.check(), Ok(()));
        fence.written();
        let Fencing::Term(hold) = &fence.0 else {
            unreachable!()
        };
        assert!(!hold.state().late);
        hold.state().renewed_at = Stamp(Stamp::now().0.saturating_sub(Duration::from_secs(30)));
        fence.written();
        assert!(hold.state().late);
        assert!(!hold.state().refused, "no write was refused");
    }

    #[test]
    fn without_an_election_every_write_goes_and_a_waiting_copy_sends_none() {
        assert_eq!(LeaseFence(Fencing::Unelected).check(), Ok(()));
        assert!(LeaseFence(Fencing::Waiting).check().is_err());
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

    #[test]
    fn lease_errors_say_what_to_do_when_shown() {
        let refused = |code: u16| LeaseError::Refused {
            verb: "create",
            lease: "Lease default/wildrun-public.web".into(),
            code,
            message: "forbidden ".into(),
            identity: "kubeconfig k".into(),
            namespace: "default".into(),
        };
        assert_eq!(
            refused(403).to_string(),
            "cannot create Lease default/wildrun-public.web for leader election: forbidden; the identity of kubeconfig k needs get, create and update on leases (coordination.k8s.io) in namespace default (examples/deploy/rbac.yaml has such a Role), or choose another namespace with --set watch.leaseNamespace=NAMESPACE"
        );
        assert_eq!(
            refused(404).to_string(),
            "cannot create Lease default/wildrun-public.web for leader election: forbidden; create namespace default or choose another with --set watch.leaseNamespace=NAMESPACE"
        );
        assert!(refused(403).is_refusal());
        let failed = LeaseError::Failed {
            verb: "update",
            lease: "Lease default/wildrun-public.web".into(),
            server: "https://10.0.0.1:6443".into(),
            message: "conflict".into(),
        };
        assert_eq!(
            failed.to_string(),
            "cannot update Lease default/wildrun-public.web on https://10.0.0.1:6443: conflict"
        );
        assert!(!failed.is_refusal());
    }
}
