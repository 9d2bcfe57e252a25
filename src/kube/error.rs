//! [`KubeError`]: why talking to the cluster, applying a plan, deleting,
//! waiting or leading failed, in words a person can act on (which server,
//! which configuration, which script line, what to do next).

use crate::plan::{Condition, ObjectRef, Origin};
use crate::yaml::YamlError;

/// The result of the `kube` module's functions.
pub(crate) type Result<T, E = KubeError> = std::result::Result<T, E>;

/// Why an operation on the cluster failed. Each message names what wildrun
/// was doing and, where one helps, what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The API server answered a request with an error (built by
    /// [`Cluster::explain`](super::cluster::Cluster::explain)); the hint,
    /// composed when shown ([`api_hint`]), says what to do for 401, 403,
    /// 409, 422, 429, 5xx and schema errors.
    #[error("{doing}: {message}{}", api_hint(*.code, .message, .server, .config_source))]
    Api {
        /// What wildrun was doing ("apply Deployment web/web").
        doing: String,
        /// The HTTP status code of the answer.
        code: u16,
        /// The API server's message (without the values it prints beside
        /// a field that cannot change).
        message: String,
        /// The API server URL.
        server: String,
        /// Where the configuration came from ("kubeconfig ~/.kube/config").
        config_source: String,
    },
    /// The API server did not answer: refused, timed out, TLS failed.
    #[error("{doing}: cannot reach the API server at {server} ({config_source}): {detail}")]
    Unreachable {
        /// What wildrun was doing.
        doing: String,
        /// The API server URL.
        server: String,
        /// Where the configuration came from ("kubeconfig ~/.kube/config").
        config_source: String,
        /// The client's error and its causes, joined with ": ".
        detail: String,
    },
    /// The API server took no answer within `--request-timeout`: it is
    /// overloaded or stopped, or something on the way drops the packets.
    #[error("{doing}: {detail} from the API server at {server} ({config_source}); is it overloaded or stopped, or does a firewall drop the packets? (--request-timeout sets how long wildrun waits)")]
    TimedOut {
        /// What wildrun was doing.
        doing: String,
        /// The API server URL.
        server: String,
        /// Where the configuration came from.
        config_source: String,
        /// Which request got no answer, and the bound.
        detail: String,
    },
    /// `--context` (or the kubeconfig's current-context) names a context
    /// the kubeconfig does not have.
    #[error("kubeconfig {kubeconfig} has no context {context:?} (named by {named_by}); {}", known_contexts(.known))]
    NoContext {
        /// The kubeconfig file (or `$KUBECONFIG (...)`).
        kubeconfig: String,
        /// The context asked for.
        context: String,
        /// `--context` or `its current-context`.
        named_by: &'static str,
        /// The contexts the kubeconfig has.
        known: Vec<String>,
    },
    /// The kubeconfig gives credentials for a plain-HTTP server, where
    /// anyone on the way could read them; nothing was sent.
    #[error("{config_source}: the server {server} is plain HTTP and {user} has {credentials}; wildrun does not send credentials in cleartext, so nothing was sent. Use the server's https:// address, or a context whose user has no credentials for a server that needs none (such as kubectl proxy)")]
    CleartextCredentials {
        /// The API server URL.
        server: String,
        /// Where the configuration came from.
        config_source: String,
        /// `user "name"`, or `its user`.
        user: String,
        /// What would have been sent ("a bearer token").
        credentials: String,
    },
    /// The cluster does not serve the apiVersion at all: its CRDs are not
    /// installed, or it is misspelt.
    #[error(
        "the cluster at {server} does not serve apiVersion {api_version} (kind {kind}): {}",
        not_served_hint(.api_version)
    )]
    NotServed {
        /// The API server URL.
        server: String,
        /// The apiVersion asked for.
        api_version: String,
        /// The kind asked for.
        kind: String,
    },
    /// The cluster serves the apiVersion, but not this kind in it.
    #[error("apiVersion {api_version} on {server} has no kind {kind}{}; the CRD may be missing or at another version", crate::objects::strict::did_you_mean(.nearest))]
    NoKind {
        /// The API server URL.
        server: String,
        /// The apiVersion asked for.
        api_version: String,
        /// The kind asked for.
        kind: String,
        /// The nearest kind the apiVersion serves, if one is close.
        nearest: Option<String>,
    },
    /// A kubeconfig cannot be read or used (`--kubeconfig`, `--context`,
    /// `$KUBECONFIG`, `~/.kube/config`); the kubeconfig error follows as
    /// the source.
    #[error("{what}")]
    Kubeconfig {
        /// Which kubeconfig and what was done with it.
        what: String,
        /// What kube said.
        #[source]
        error: kube::config::KubeconfigError,
    },
    /// Neither a kubeconfig nor the in-cluster service account is there.
    #[error("no cluster configuration: {kubeconfig_error} (tried {tried}, then the in-cluster service account); pass --kubeconfig FILE or set KUBECONFIG")]
    NoConfiguration {
        /// Why the default kubeconfig could not be used.
        kubeconfig_error: String,
        /// The kubeconfig tried ("~/.kube/config" or "$KUBECONFIG (...)").
        tried: String,
    },
    /// The configuration was read but no client can be built from it (a
    /// bad certificate, an unsupported auth setting); the client's error
    /// follows as the source.
    #[error("cannot build a client for {server} ({config_source})")]
    Client {
        /// The API server URL.
        server: String,
        /// Where the configuration came from.
        config_source: String,
        /// What kube said.
        #[source]
        error: kube::Error,
    },
    /// An object from the cluster could not be turned into JSON.
    #[error("cannot convert an object from the cluster to JSON")]
    ToJson(#[source] serde_json::Error),
    /// The preflight found problems; nothing was written.
    #[error("nothing was applied; the plan has {} problem(s):\n  {}", .problems.len(), .problems.join("\n  "))]
    Refused {
        /// One line per problem, each with its script line.
        problems: Vec<String>,
    },
    /// `--delete` or `--prune` would delete objects the user may not
    /// delete; nothing was deleted.
    #[error("nothing was changed; {option} needs {} permission(s) the user lacks:\n  {}", .problems.len(), .problems.join("\n  "))]
    NotPermitted {
        /// `--delete` or `--prune`.
        option: String,
        /// One line per missing permission.
        problems: Vec<String>,
    },
    /// `--prune` would delete every object of the instance; nothing was
    /// changed. A plan that comes out empty or wrong (a condition, a typo in
    /// a loop, a half-saved file) must not empty the cluster silently.
    #[error("nothing was changed; --prune would delete every object of instance {instance} ({}), because {reason}. A condition, a typo in a loop or a half-saved file can make a recipe plan less than it should. If that is what you want, run again with --allow-prune-all (or remove the instance with --delete)", first_few(.objects))]
    PruneAll {
        /// The instance.
        instance: String,
        /// Its objects the prune would delete.
        objects: Vec<String>,
        /// Why: the plan is empty, or it keeps none of them.
        reason: String,
    },
    /// `--prune` would remove routes the plan replaces (an Ingress by an
    /// HTTPRoute, or back), but the new route did not answer in time:
    /// nothing was pruned, so the old route still serves.
    #[error("nothing was pruned: the plan replaces {} but the new route does not answer yet ({reason}); the old route keeps serving. Fix what the reason names (wildrun scripts/doctor.rhai --name ... says which link) and run again", first_few(.replaced))]
    RouteNotAnswering {
        /// The routes the prune would have removed.
        replaced: Vec<String>,
        /// Why the new route does not answer, as `--wait` last saw it.
        reason: String,
    },
    /// A write failed while the plan was applied: what was done before,
    /// what failed (not confirmed, so perhaps done) and what was not done.
    #[error(
        "{origin}: {}\n  done before the failure:\n{}\n  failed (not confirmed by the API server):\n{}\n  not done:\n{}\n  fix the problem and run again: objects already applied stay, and the run converges",
        chain(error),
        lines(&done_lines(entries)),
        lines(failed),
        lines(not_done)
    )]
    Failed {
        /// The script line of the first step that failed.
        origin: Origin,
        /// Why it failed.
        error: Box<KubeError>,
        /// The steps that failed: the first by name, the others with
        /// their script line and error.
        failed: Vec<String>,
        /// The steps not started.
        not_done: Vec<String>,
        /// Every step as a report entry (done, failed, not done), in plan
        /// order: the lines of the steps done, and the report of `-o json`.
        entries: Vec<super::report::Entry>,
    },
    /// This copy lost the leadership its plan was written under (the Lease
    /// was taken over, or not renewed in time): the plan stopped at the
    /// next write, so that two copies never write at once.
    #[error(
        "the plan was stopped because this copy no longer leads: {why}\n  done before it stopped:\n{}\n  failed (not confirmed by the API server):\n{}\n  not done:\n{}\n  the copy that leads now reconciles from the cluster's current state",
        lines(done),
        lines(failed),
        lines(not_done)
    )]
    Fenced {
        /// Why this copy no longer leads.
        why: String,
        /// The report lines of the steps done.
        done: Vec<String>,
        /// Steps under way when it stopped that failed, with their script
        /// line and error.
        failed: Vec<String>,
        /// The steps not started.
        not_done: Vec<String>,
    },
    /// A Secret of the copy's name exists, wildrun did not make it, and its
    /// data differs from the source's.
    #[error(transparent)]
    ForeignCopy(Box<super::copies::Refusal>),
    /// A rollout was waited for on a kind that does not roll out.
    #[error("{target}: only Deployments, StatefulSets and DaemonSets roll out; wait for a condition such as \"Ready\" instead")]
    NoRollout {
        /// The object waited for.
        target: ObjectRef,
    },
    /// An object did not reach its condition in time.
    #[error("timed out after {seconds}s waiting for {target} to be {condition}: {status}")]
    Timeout {
        /// The object waited for (boxed: it keeps the error small).
        target: Box<ObjectRef>,
        /// The condition it did not reach.
        condition: Condition,
        /// How long was waited.
        seconds: u64,
        /// What the object said last.
        status: String,
    },
    /// A `kube::watch` names a kind the cluster cannot be watched for.
    #[error("{origin}: kube::watch: {error}")]
    Watch {
        /// The script line of the `kube::watch`.
        origin: Origin,
        /// Why the kind cannot be watched (resolving it failed).
        error: Box<KubeError>,
    },
    /// Leader election cannot go on (no permission, no namespace): a
    /// [`LeaseError`](super::lease::LeaseError), which converts itself (this
    /// module does not import the Lease's, which imports the cluster's,
    /// which imports this one).
    #[error(transparent)]
    Lease(Box<dyn std::error::Error + Send + Sync>),
    /// An object could not be written as YAML (for a diff).
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A paged list never ended (the server kept sending continue tokens).
    #[error("the list of {0} did not end")]
    EndlessList(String),
    /// wildrun broke one of its own rules: a bug to report.
    #[error("internal error: {0}")]
    Internal(String),
}

/// `err` and its causes, joined with ": ", as the command line prints an
/// error (`{:#}`); a cause whose text is already said is left out (client
/// errors often repeat their source's words).
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// What to do about an API error with status `code` and `message`, from
/// the API server `server` as configured by `config_source`: starting with
/// a space, or empty.
fn api_hint(code: u16, message: &str, server: &str, config_source: &str) -> String {
    match code {
        _ if is_schema_error(code, message) => {
            " (the object does not match this kind's schema in the cluster: check the field names against the installed CRD version)".to_string()
        }
        401 => format!(
            " (the credentials from {config_source} were not accepted by {server}: renew them or pick another --context)"
        ),
        403 => format!(" (the user of {config_source} lacks this permission; examples/rbac.yaml lists what the bundled recipes need)"),
        409 if message.contains("conflict") => {
            " (another field manager owns these fields: pass #{ force: true } to kube::apply or --force to take them over)".to_string()
        }
        422 if message.contains("field is immutable") => {
            " (a field that cannot change once the object is made, such as a Job's pod template: apply it with #{ recreate: true } to delete it and create it again on each deploy)".to_string()
        }
        429 | 502..=504 => format!(" (the API server at {server} is overloaded or unavailable; retried and gave up)"),
        500 if is_transient_500(message) => format!(" (the API server at {server} is failing; retried and gave up)"),
        _ => String::new(),
    }
}

/// The API server answers a server-side apply whose object does not fit the
/// kind's schema with a 500; that is a validation error, not an outage.
pub(crate) fn is_schema_error(code: u16, message: &str) -> bool {
    code == 500
        && (message.contains("failed to create typed patch object")
            || message.contains("field not declared in schema"))
}

/// Whether a 500's `message` says the failure may pass (etcd or a webhook
/// timing out); other 500s ("range is full", a schema mismatch) answer the
/// same again.
pub(crate) fn is_transient_500(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "timeout",
        "timed out",
        "etcdserver",
        "try again",
        "unavailable",
        "connection refused",
        "connection reset",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// What to check when the cluster does not serve `api_version`: a group
/// with a dot is a CRD's.
fn not_served_hint(api_version: &str) -> String {
    match api_version.split_once('/') {
        Some((group, _)) if group.contains('.') => format!(
            "its CustomResourceDefinitions are not installed (kubectl get crd | grep {group})"
        ),
        _ => "is it spelled right?".to_string(),
    }
}

/// How many objects a message names before it says "and N more".
const NAMED: usize = 3;

/// `items` for a message: the first few, then how many more.
pub(crate) fn first_few(items: &[String]) -> String {
    let mut shown: Vec<String> = items.iter().take(NAMED).cloned().collect();
    if items.len() > NAMED {
        shown.push(format!("and {} more", items.len() - NAMED));
    }
    shown.join(", ")
}

/// The contexts a kubeconfig has, for [`KubeError::NoContext`].
fn known_contexts(known: &[String]) -> String {
    if known.is_empty() {
        "it has no contexts".to_string()
    } else {
        format!(
            "it has {} (kubectl config get-contexts lists them)",
            known.join(", ")
        )
    }
}

/// The report lines of the steps of `entries` that were done.
pub(super) fn done_lines(entries: &[super::report::Entry]) -> Vec<String> {
    use super::report::ObjectAction;
    entries
        .iter()
        .filter(|e| !matches!(e.action, ObjectAction::Failed | ObjectAction::NotDone))
        .map(super::report::Entry::line)
        .collect()
}

/// `list` indented, one a line; "(nothing)" when empty.
fn lines(list: &[String]) -> String {
    if list.is_empty() {
        "    (nothing)".to_string()
    } else {
        list.iter()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_joins_the_causes() {
        let inner = std::io::Error::other("connection refused");
        let err = KubeError::ToJson(serde_json::Error::io(inner));
        assert_eq!(
            chain(&err),
            "cannot convert an object from the cluster to JSON: connection refused"
        );
    }

    #[test]
    fn a_kubeconfig_error_keeps_what_kube_said_as_its_cause() {
        let path = std::path::Path::new("/nonexistent/wildrun-kubeconfig");
        let error = kube::config::Kubeconfig::read_from(path).expect_err("no such file");
        let err = KubeError::Kubeconfig {
            what: format!("cannot read kubeconfig {}", path.display()),
            error,
        };
        assert_eq!(
            err.to_string(),
            "cannot read kubeconfig /nonexistent/wildrun-kubeconfig"
        );
        let text = chain(&err);
        assert!(
            text.starts_with("cannot read kubeconfig /nonexistent/wildrun-kubeconfig: "),
            "{text}"
        );
        assert!(text.len() > err.to_string().len() + 2, "{text}");
    }

    #[test]
    fn refusals_count_and_list_problems() {
        let err = KubeError::Refused {
            problems: vec!["r.rhai:1: a".into(), "r.rhai:2: b".into()],
        };
        assert_eq!(
            err.to_string(),
            "nothing was applied; the plan has 2 problem(s):\n  r.rhai:1: a\n  r.rhai:2: b"
        );
    }

    #[test]
    fn hints_are_composed_from_the_facts_when_shown() {
        let api = |code: u16, message: &str| KubeError::Api {
            doing: "apply Deployment web/web".into(),
            code,
            message: message.into(),
            server: "https://10.0.0.1:6443".into(),
            config_source: "kubeconfig ~/.kube/config".into(),
        };
        assert_eq!(
            api(403, "forbidden").to_string(),
            "apply Deployment web/web: forbidden (the user of kubeconfig ~/.kube/config lacks this permission; examples/rbac.yaml lists what the bundled recipes need)"
        );
        assert_eq!(
            api(503, "unavailable").to_string(),
            "apply Deployment web/web: unavailable (the API server at https://10.0.0.1:6443 is overloaded or unavailable; retried and gave up)"
        );
        assert!(api(500, "failed to create typed patch object: x")
            .to_string()
            .ends_with("(the object does not match this kind's schema in the cluster: check the field names against the installed CRD version)"));
        assert_eq!(api(400, "bad").to_string(), "apply Deployment web/web: bad");
        let not_served = |api_version: &str| KubeError::NotServed {
            server: "https://10.0.0.1:6443".into(),
            api_version: api_version.into(),
            kind: "Middleware".into(),
        };
        assert_eq!(
            not_served("traefik.io/v1alpha1").to_string(),
            "the cluster at https://10.0.0.1:6443 does not serve apiVersion traefik.io/v1alpha1 (kind Middleware): its CustomResourceDefinitions are not installed (kubectl get crd | grep traefik.io)"
        );
        assert!(not_served("v2")
            .to_string()
            .ends_with("(kind Middleware): is it spelled right?"));
        let no_kind = KubeError::NoKind {
            server: "https://10.0.0.1:6443".into(),
            api_version: "apps/v1".into(),
            kind: "Deploymnt".into(),
            nearest: Some("Deployment".into()),
        };
        assert_eq!(
            no_kind.to_string(),
            "apiVersion apps/v1 on https://10.0.0.1:6443 has no kind Deploymnt (did you mean Deployment?); the CRD may be missing or at another version"
        );
    }
}
