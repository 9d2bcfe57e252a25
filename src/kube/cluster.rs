//! The connection to a cluster: configuration, discovery, retries, and
//! error messages that say which server, which user and what to do.

use anyhow::{anyhow, bail, Context, Result};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiCapabilities, Scope};
use kube::Client;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// How to reach the cluster (`--kubeconfig`, `--context`, or the defaults).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--kubeconfig FILE`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context NAME`.
    pub context: Option<String>,
}

/// A resolved kind: how to address it and whether it is namespaced.
#[derive(Debug, Clone)]
pub struct Kind {
    /// Group, version, kind and plural.
    pub resource: ApiResource,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

/// The resources one `group/version` serves, or `None` when the cluster does not serve it.
type ServedResources = Option<Vec<(ApiResource, ApiCapabilities)>>;

/// A connected cluster.
pub struct Cluster {
    /// The client.
    pub client: Client,
    /// The API server URL.
    pub server: String,
    /// Where the configuration came from, for messages.
    pub source: String,
    /// Discovery results per `group/version` (`None`: not served), fetched once per run.
    groups: Mutex<HashMap<String, ServedResources>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cluster({} from {})", self.server, self.source)
    }
}

fn default_kubeconfig_path() -> String {
    match std::env::var("KUBECONFIG") {
        Ok(v) if !v.is_empty() => format!("$KUBECONFIG ({v})"),
        _ => "~/.kube/config".to_string(),
    }
}

impl Cluster {
    /// Builds a client from `--kubeconfig`/`--context`, `$KUBECONFIG`,
    /// `~/.kube/config`, or the in-cluster service account, in that order.
    pub async fn connect(options: &ConnectOptions) -> Result<Cluster> {
        let kube_options = KubeConfigOptions {
            context: options.context.clone(),
            ..Default::default()
        };
        let context_note = options
            .context
            .as_ref()
            .map(|c| format!(", context {c}"))
            .unwrap_or_default();
        let (config, source) = match &options.kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path)
                    .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
                let config = kube::Config::from_custom_kubeconfig(kc, &kube_options)
                    .await
                    .with_context(|| format!("kubeconfig {}{context_note}", path.display()))?;
                (
                    config,
                    format!("kubeconfig {}{context_note}", path.display()),
                )
            }
            None => match kube::Config::from_kubeconfig(&kube_options).await {
                Ok(config) => (
                    config,
                    format!("kubeconfig {}{context_note}", default_kubeconfig_path()),
                ),
                Err(kubeconfig_err) => {
                    if options.context.is_some() {
                        return Err(anyhow!(kubeconfig_err).context(format!(
                            "cannot use kubeconfig {}{context_note}",
                            default_kubeconfig_path()
                        )));
                    }
                    match kube::Config::incluster() {
                        Ok(config) => (config, "in-cluster service account".to_string()),
                        Err(_) => bail!(
                            "no cluster configuration: {kubeconfig_err} (tried {}, then the in-cluster service account); pass --kubeconfig FILE or set KUBECONFIG",
                            default_kubeconfig_path()
                        ),
                    }
                }
            },
        };
        let config = with_user_agent(config);
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let client = Client::try_from(config)
            .with_context(|| format!("cannot build a client for {server} ({source})"))?;
        Ok(Cluster {
            client,
            server,
            source,
            groups: Mutex::new(HashMap::new()),
        })
    }

    /// Resolves `apiVersion`/`kind` through discovery (cached per group/version).
    ///
    /// A kind the cluster does not serve is an error that says whether the
    /// whole API group is missing (its CRDs are not installed) or only the kind.
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Result<Kind> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let cached = self
            .groups
            .lock()
            .map_err(|_| anyhow!("discovery cache poisoned"))?
            .get(api_version)
            .cloned();
        let resources = match cached {
            Some(g) => g,
            None => {
                let gv = kube::core::GroupVersion::gv(group, version);
                let fetched = match retry(|| kube::discovery::pinned_group(&self.client, &gv)).await
                {
                    Ok(g) => Some(g.versioned_resources(version)),
                    Err(kube::Error::Api(s)) if s.code == 404 => None,
                    Err(e) => return Err(self.explain(e, &format!("discover API {api_version}"))),
                };
                self.groups
                    .lock()
                    .map_err(|_| anyhow!("discovery cache poisoned"))?
                    .insert(api_version.to_string(), fetched.clone());
                fetched
            }
        };
        let Some(resources) = resources else {
            let hint = if group.contains('.') {
                format!(" its CustomResourceDefinitions are not installed (kubectl get crd | grep {group})")
            } else {
                " is it spelled right?".to_string()
            };
            bail!(
                "the cluster at {} does not serve apiVersion {api_version} (kind {kind}):{hint}",
                self.server
            );
        };
        if let Some((ar, caps)) = resources.iter().find(|(ar, _)| ar.kind == kind) {
            return Ok(Kind {
                resource: ar.clone(),
                namespaced: caps.scope == Scope::Namespaced,
            });
        }
        let known: Vec<&str> = resources.iter().map(|(ar, _)| ar.kind.as_str()).collect();
        let hint = crate::objects::strict::nearest(kind, known.iter().copied())
            .map(|k| format!(" (did you mean {k}?)"))
            .unwrap_or_default();
        bail!(
            "apiVersion {api_version} on {} has no kind {kind}{hint}; the CRD may be missing or at another version",
            self.server
        )
    }

    /// An `Api` for `kind`, in `namespace` when namespaced.
    pub fn api(&self, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        match (kind.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &kind.resource),
            _ => Api::all_with(self.client.clone(), &kind.resource),
        }
    }

    /// Lists objects of `kind` (in `namespace`, or all), each with its
    /// `apiVersion` and `kind` (Kubernetes leaves them out of list items, and
    /// a script passes items on to kube::get or kube::delete).
    pub async fn list(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        params: &kube::api::ListParams,
    ) -> Result<Vec<Value>> {
        let api = self.api(kind, namespace);
        let list = retry(|| api.list(params))
            .await
            .map_err(|e| self.explain(e, &format!("list {}", kind.resource.plural)))?;
        list.items
            .iter()
            .map(|item| {
                let mut value = to_value(item)?;
                if let Some(obj) = value.as_object_mut() {
                    obj.insert(
                        "apiVersion".into(),
                        Value::String(kind.resource.api_version.clone()),
                    );
                    obj.insert("kind".into(), Value::String(kind.resource.kind.clone()));
                }
                Ok(value)
            })
            .collect()
    }

    /// Turns a client error into a message people can act on; `doing`
    /// says what wildrun was doing ("apply Deployment web/web").
    pub fn explain(&self, err: kube::Error, doing: &str) -> anyhow::Error {
        match err {
            kube::Error::Api(status) => {
                let message = status.message.trim();
                let hint = match status.code {
                    _ if is_schema_error(&status) => {
                        " (the object does not match this kind's schema in the cluster: check the field names against the installed CRD version)".to_string()
                    }
                    401 => format!(
                        " (the credentials from {} were not accepted by {}: renew them or pick another --context)",
                        self.source, self.server
                    ),
                    403 => format!(" (the user of {} lacks this permission; examples/rbac.yaml lists what the bundled recipes need)", self.source),
                    409 if message.contains("conflict") => {
                        " (another field manager owns these fields: pass #{ force: true } to kube::apply or --force to take them over)".to_string()
                    }
                    429 | 502..=504 => format!(" (the API server at {} is overloaded or unavailable; retried and gave up)", self.server),
                    500 if is_transient_500(&status) => format!(" (the API server at {} is failing; retried and gave up)", self.server),
                    _ => String::new(),
                };
                anyhow!("{doing}: {message}{hint}")
            }
            other => {
                let detail = error_chain(&other);
                anyhow!(
                    "{doing}: cannot reach the API server at {} ({}): {detail}",
                    self.server,
                    self.source
                )
            }
        }
    }

    /// `kind` for a typed GVK (used for well-known kinds).
    pub async fn resolve_gvk(&self, gvk: &GroupVersionKind) -> Result<Kind> {
        let api_version = if gvk.group.is_empty() {
            gvk.version.clone()
        } else {
            format!("{}/{}", gvk.group, gvk.version)
        };
        self.resolve(&api_version, &gvk.kind).await
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
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

/// The API server answers a server-side apply whose object does not fit the
/// kind's schema with a 500; that is a validation error, not an outage.
fn is_schema_error(status: &kube::core::Status) -> bool {
    status.code == 500
        && (status
            .message
            .contains("failed to create typed patch object")
            || status.message.contains("field not declared in schema"))
}

/// Whether a 500 says the failure may pass (etcd or a webhook timing out);
/// other 500s ("range is full", a schema mismatch) answer the same again.
fn is_transient_500(status: &kube::core::Status) -> bool {
    let message = status.message.to_ascii_lowercase();
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

/// Whether an error is worth retrying: overload (429, 502, 503, 504), a
/// transient 500, and connection failures (an API server restarting).
fn retryable(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(s) => match s.code {
            429 | 502..=504 => true,
            500 => is_transient_500(s) && !is_schema_error(s),
            _ => false,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Attempts a request at most this many times.
pub const MAX_ATTEMPTS: u32 = 4;

/// Runs `request` until it succeeds, fails for good, or [`MAX_ATTEMPTS`] are used
/// (backoff 0.25 s, 0.5 s, 1 s).
pub async fn retry<T, F, Fut>(mut request: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        match request().await {
            Err(e) if attempt < MAX_ATTEMPTS && retryable(&e) => {
                tracing::debug!("request failed ({e}); retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The User-Agent of every request, so operators can tell wildrun's requests
/// apart in audit logs.
pub const USER_AGENT: &str = concat!("wildrun/", env!("CARGO_PKG_VERSION"));

/// `config` with wildrun's User-Agent header (kube sends none of its own).
fn with_user_agent(mut config: kube::Config) -> kube::Config {
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    config
}

/// The JSON form of a live object.
pub fn to_value(obj: &DynamicObject) -> Result<Value> {
    serde_json::to_value(obj).context("cannot convert an object from the cluster to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, message: &str) -> kube::Error {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": code, "message": message, "reason": ""
        }))
        .expect("a Status");
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn requests_carry_wildruns_user_agent() {
        let url = "https://127.0.0.1:6443".parse().expect("a URL");
        let config = with_user_agent(kube::Config::new(url));
        let sent: Vec<_> = config
            .headers
            .iter()
            .filter(|(name, _)| name == http::header::USER_AGENT)
            .collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1.to_str().ok(), Some(USER_AGENT));
        assert!(USER_AGENT.starts_with("wildrun/"));
    }

    #[test]
    fn only_passing_failures_are_retried() {
        assert!(retryable(&api_error(429, "too many requests")));
        assert!(retryable(&api_error(503, "service unavailable")));
        assert!(retryable(&api_error(500, "etcdserver: request timed out")));
        assert!(!retryable(&api_error(
            500,
            "Internal error occurred: range is full"
        )));
        assert!(!retryable(&api_error(
            500,
            "failed to create typed patch object (a/b): .spec.x: field not declared in schema"
        )));
        assert!(!retryable(&api_error(409, "conflict")));
        assert!(!retryable(&api_error(404, "not found")));
    }
}
