//! The connection to a cluster: configuration, discovery, retries, and
//! error messages that say which server, which user and what to do.

use super::error::{is_schema_error, is_transient_500, KubeError, Result};
use super::transport::{self, DEFAULT_REQUEST_TIMEOUT};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::discovery::v2::{APIGroupDiscoveryList, ACCEPT_AGGREGATED_DISCOVERY_V2};
use kube::discovery::Scope;
use kube::Client;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How to reach the cluster (`--kubeconfig`, `--context`,
/// `--request-timeout`, or the defaults).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `--kubeconfig FILE`.
    pub(crate) kubeconfig: Option<PathBuf>,
    /// `--context NAME`.
    pub(crate) context: Option<String>,
    /// `--request-timeout`: how long one request may take.
    pub(crate) request_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            kubeconfig: None,
            context: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// A resolved kind: how to address it and whether it is namespaced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kind {
    /// Group, version, kind and plural.
    pub(crate) resource: ApiResource,
    /// Namespaced or cluster-scoped.
    pub(crate) namespaced: bool,
}

impl Kind {
    /// The kind `group/version` `kind` (`plural` in URLs).
    #[cfg(test)]
    pub(crate) fn new(
        group: &str,
        version: &str,
        kind: &str,
        plural: &str,
        namespaced: bool,
    ) -> Kind {
        Kind {
            resource: ApiResource::from_gvk_with_plural(
                &kube::api::GroupVersionKind::gvk(group, version, kind),
                plural,
            ),
            namespaced,
        }
    }
}

/// The kinds one `group/version` serves, or `None` when the cluster does not serve it.
type ServedKinds = Option<Vec<Kind>>;

/// What discovery found on one API server.
#[derive(Debug, Default)]
struct Discovered {
    /// Kinds by `group/version` (`apiVersion`).
    versions: HashMap<String, ServedKinds>,
    /// `versions` came from aggregated discovery and lists every
    /// group/version the server serves, so one missing from it is not served.
    /// Without aggregated discovery (before Kubernetes 1.26) each
    /// group/version is asked for when first needed.
    complete: bool,
    /// When aggregated discovery was fetched.
    fetched: Option<Instant>,
}

/// Discovery results by API server URL, for the whole process: every
/// connection (each `--watch` re-run connects anew) resolves kinds from one
/// discovery instead of asking again. A kind missing from results older
/// than the connection asking is looked for once more (see
/// [`Cluster::resolve`]): a CRD may have been installed since.
static DISCOVERED: OnceLock<tokio::sync::Mutex<HashMap<String, Discovered>>> = OnceLock::new();

fn discovered() -> &'static tokio::sync::Mutex<HashMap<String, Discovered>> {
    DISCOVERED.get_or_init(Default::default)
}

/// A connected cluster.
pub struct Cluster {
    /// The client.
    pub(crate) client: Client,
    /// The API server URL.
    pub(crate) server: String,
    /// Where the configuration came from, for messages.
    pub(crate) source: String,
    /// When the connection was made: discovery results older than this may
    /// miss kinds installed since.
    connected: Instant,
    /// The last time discovery got no answer, and why: every kind a run
    /// resolves shortly after fails with it at once instead of waiting again.
    no_answer: std::sync::Mutex<Option<(Instant, NoAnswer)>>,
    /// `--request-timeout`.
    request_timeout: Duration,
}

/// Why the API server did not answer (refused, timed out, TLS failed).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
struct NoAnswer {
    /// The client's error and its causes.
    detail: String,
    /// No answer came within `--request-timeout`.
    timed_out: bool,
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

/// A client configuration, where it came from, and the kubeconfig user it
/// acts as (none in the cluster).
struct Configuration {
    config: kube::Config,
    source: String,
    user: Option<String>,
}

/// The configuration `options` point at: `--kubeconfig`, else `$KUBECONFIG`
/// or `~/.kube/config`, else (without `--context`) the in-cluster service
/// account.
async fn configuration(options: &ConnectOptions) -> Result<Configuration> {
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        ..Default::default()
    };
    let context_note = options
        .context
        .as_ref()
        .map(|c| format!(", context {c}"))
        .unwrap_or_default();
    let context = options.context.as_deref();
    if let Some(path) = &options.kubeconfig {
        let kubeconfig = Kubeconfig::read_from(path).map_err(|error| KubeError::Kubeconfig {
            what: format!("cannot read kubeconfig {}", path.display()),
            error,
        })?;
        let source = format!("kubeconfig {}{context_note}", path.display());
        let user = context_user(&kubeconfig, context, &path.display().to_string())?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube_options)
            .await
            .map_err(|error| KubeError::Kubeconfig {
                what: source.clone(),
                error,
            })?;
        return Ok(Configuration {
            config,
            source,
            user,
        });
    }
    let tried = default_kubeconfig_path();
    let source = format!("kubeconfig {tried}{context_note}");
    let unusable = |error| KubeError::Kubeconfig {
        what: format!("cannot use {source}"),
        error,
    };
    let loaded = match Kubeconfig::read() {
        Ok(kubeconfig) => match context_user(&kubeconfig, context, &tried) {
            Ok(user) => kube::Config::from_custom_kubeconfig(kubeconfig, &kube_options)
                .await
                .map(|config| (config, user))
                .map_err(unusable),
            Err(e) => Err(e),
        },
        Err(error) => Err(unusable(error)),
    };
    let problem = match loaded {
        Ok((config, user)) => {
            return Ok(Configuration {
                config,
                source,
                user,
            })
        }
        Err(problem) if options.context.is_some() => return Err(problem),
        Err(problem) => problem,
    };
    match kube::Config::incluster() {
        Ok(config) => Ok(Configuration {
            config,
            source: "in-cluster service account".to_string(),
            user: None,
        }),
        Err(_) => Err(KubeError::NoConfiguration {
            kubeconfig_error: match &problem {
                KubeError::Kubeconfig { error, .. } => super::error::chain(error),
                other => other.to_string(),
            },
            tried,
        }),
    }
}

/// The user of the context a run uses (`--context`, else the kubeconfig's
/// current-context); an error that lists the contexts there are when the
/// kubeconfig has no context of that name.
fn context_user(
    kubeconfig: &Kubeconfig,
    wanted: Option<&str>,
    path: &str,
) -> Result<Option<String>> {
    let (name, named_by) = match (wanted, kubeconfig.current_context.as_deref()) {
        (Some(name), _) => (name, "--context"),
        (None, Some(name)) => (name, "its current-context"),
        // kube says that no context is set.
        (None, None) => return Ok(None),
    };
    match kubeconfig.contexts.iter().find(|c| c.name == name) {
        Some(found) => Ok(found.context.as_ref().and_then(|c| c.user.clone())),
        None => Err(KubeError::NoContext {
            kubeconfig: path.to_string(),
            context: name.to_string(),
            named_by,
            known: kubeconfig.contexts.iter().map(|c| c.name.clone()).collect(),
        }),
    }
}

impl Cluster {
    /// Builds a client from `--kubeconfig`/`--context`, `$KUBECONFIG`,
    /// `~/.kube/config`, or the in-cluster service account, in that order.
    /// Every request of the client is bounded by `--request-timeout`; a user
    /// with credentials for a plain-HTTP server is refused.
    pub(crate) async fn connect(options: &ConnectOptions) -> Result<Cluster> {
        let Configuration {
            config,
            source,
            user,
        } = configuration(options).await?;
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        if let Some(credentials) = transport::cleartext_credentials(&config) {
            return Err(KubeError::CleartextCredentials {
                server,
                config_source: source,
                user: user.map_or_else(|| "its user".to_string(), |u| format!("user {u:?}")),
                credentials,
            });
        }
        if transport::unused_client_certificate(&config) {
            tracing::warn!("{source}: the server {server} is plain HTTP, where the user's client certificate cannot be presented: requests go unauthenticated");
        }
        let mut config = with_user_agent(config);
        // The request bound gives up first; kube's own bound on connecting
        // (30 s by default, which would cut a longer bound short, or win the
        // race with it and be retried) only ends the connection attempt the
        // client goes on with in the background.
        config.connect_timeout = Some(options.request_timeout + Duration::from_secs(5));
        let bound = transport::RequestBound::new(options.request_timeout, &server);
        let client = match kube::client::ClientBuilder::try_from(config) {
            Ok(builder) => builder.with_layer(&bound).build(),
            Err(error) => {
                return Err(KubeError::Client {
                    server,
                    config_source: source,
                    error,
                })
            }
        };
        Ok(Cluster {
            client,
            server,
            source,
            connected: Instant::now(),
            no_answer: Default::default(),
            request_timeout: options.request_timeout,
        })
    }

    /// Resolves `apiVersion`/`kind` through discovery: aggregated discovery
    /// (two requests, `/api` and `/apis`, for every kind the server serves),
    /// once per process and API server; on servers without it, one request
    /// per group/version, each once.
    ///
    /// A kind the cluster does not serve is an error that says whether the
    /// whole API group is missing (its CRDs are not installed) or only the
    /// kind. Before saying so from results fetched before this connection
    /// was made (an earlier `--watch` run), discovery is asked again.
    pub(crate) async fn resolve(&self, api_version: &str, kind: &str) -> Result<Kind> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let (mut resources, older) = self.served(api_version, group, version).await?;
        let found = |resources: &ServedKinds| {
            resources
                .as_ref()
                .is_some_and(|r| r.iter().any(|k| k.resource.kind == kind))
        };
        if !found(&resources) && older {
            self.forget(api_version).await;
            resources = self.served(api_version, group, version).await?.0;
        }
        let Some(resources) = resources else {
            return Err(KubeError::NotServed {
                server: self.server.clone(),
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            });
        };
        if let Some(found) = resources.iter().find(|k| k.resource.kind == kind) {
            return Ok(found.clone());
        }
        let known: Vec<&str> = resources.iter().map(|k| k.resource.kind.as_str()).collect();
        Err(KubeError::NoKind {
            server: self.server.clone(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            nearest: crate::objects::strict::nearest(kind, known.iter().copied()),
        })
    }

    /// The kinds `api_version` serves, from the process's discovery results
    /// (fetched first if need be), and whether those results are older than
    /// this connection.
    async fn served(
        &self,
        api_version: &str,
        group: &str,
        version: &str,
    ) -> Result<(ServedKinds, bool)> {
        let mut all = discovered().lock().await;
        let known = all.entry(self.server.clone()).or_default();
        if !known.complete && known.fetched.is_none() {
            let fetched = match self.discover(|| aggregated(&self.client)).await {
                Ok(fetched) => fetched,
                // Refused rather than answered with the plain lists.
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 406 => None,
                Err(e) => return Err(self.explain(e, "discover the API")),
            };
            known.fetched = Some(Instant::now());
            if let Some(versions) = fetched {
                known.versions = versions;
                known.complete = true;
            }
        }
        let older = known.fetched.is_some_and(|t| t < self.connected);
        if known.complete {
            return Ok((known.versions.get(api_version).cloned().flatten(), older));
        }
        if let Some(kinds) = known.versions.get(api_version) {
            return Ok((kinds.clone(), older));
        }
        let gv = kube::core::GroupVersion::gv(group, version);
        let kinds = match self
            .discover(|| kube::discovery::pinned_group(&self.client, &gv))
            .await
        {
            Ok(g) => Some(
                g.versioned_resources(version)
                    .into_iter()
                    .map(|(resource, caps)| Kind {
                        resource,
                        namespaced: caps.scope == Scope::Namespaced,
                    })
                    .collect(),
            ),
            Err(kube::Error::Api(s)) if s.code == 404 => None,
            Err(e) => return Err(self.explain(e, &format!("discover API {api_version}"))),
        };
        known
            .versions
            .insert(api_version.to_string(), kinds.clone());
        Ok((kinds, older))
    }

    /// Runs a discovery `request` (with [`retry`]), unless discovery got no
    /// answer shortly before: one unreachable API server is one wait and one
    /// error, not one per kind the run resolves. "Shortly" is the request
    /// bound, so a long-running automation asks again after an outage.
    async fn discover<T, F, Fut>(&self, request: F) -> Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        let earlier = self
            .no_answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some((when, why)) = earlier {
            if when.elapsed() < self.request_timeout {
                return Err(kube::Error::Service(Box::new(why)));
            }
        }
        let answer = retry(request).await;
        let failed = match &answer {
            Err(e) if !matches!(e, kube::Error::Api(_)) => {
                Some((Instant::now(), self.no_answer(e)))
            }
            _ => None,
        };
        *self.no_answer.lock().unwrap_or_else(|p| p.into_inner()) = failed;
        answer
    }

    /// Why `err` (not an answer of the API server) means no answer.
    fn no_answer(&self, err: &kube::Error) -> NoAnswer {
        if let kube::Error::Service(inner) = err {
            if let Some(earlier) = inner.downcast_ref::<NoAnswer>() {
                return earlier.clone();
            }
        }
        match transport::timed_out(err) {
            Some(timed_out) => NoAnswer {
                detail: timed_out.to_string(),
                timed_out: true,
            },
            None => NoAnswer {
                // Without kube's "ServiceError:" in front of what happened.
                detail: match err {
                    kube::Error::Service(inner) => super::error::chain(inner.as_ref()),
                    other => super::error::chain(other),
                },
                timed_out: false,
            },
        }
    }

    /// Drops what discovery said about `api_version` on this server (all of
    /// it, with aggregated discovery), so that it is asked again.
    async fn forget(&self, api_version: &str) {
        let mut all = discovered().lock().await;
        if let Some(known) = all.get_mut(&self.server) {
            if known.complete {
                *known = Discovered::default();
            } else {
                known.versions.remove(api_version);
                known.fetched = Some(Instant::now());
            }
        }
    }

    /// An `Api` for `kind`, in `namespace` when namespaced.
    pub(crate) fn api(&self, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        match (kind.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &kind.resource),
            _ => Api::all_with(self.client.clone(), &kind.resource),
        }
    }

    /// Lists objects of `kind` (in `namespace`, or all), each with its
    /// `apiVersion` and `kind` (Kubernetes leaves them out of list items, and
    /// a script passes items on to kube::get or kube::delete).
    pub(crate) async fn list(
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
            .map(|item| listed_value(kind, item))
            .collect()
    }

    /// Turns a client error into a message people can act on; `doing`
    /// says what wildrun was doing ("apply Deployment web/web").
    pub(crate) fn explain(&self, err: kube::Error, doing: &str) -> KubeError {
        match err {
            kube::Error::Api(status) => KubeError::Api {
                doing: doing.to_string(),
                code: status.code,
                message: without_immutable_values(status.message.trim()),
                server: self.server.clone(),
                config_source: self.source.clone(),
            },
            other => {
                let NoAnswer { detail, timed_out } = self.no_answer(&other);
                let (doing, server, config_source) =
                    (doing.to_string(), self.server.clone(), self.source.clone());
                if timed_out {
                    KubeError::TimedOut {
                        doing,
                        server,
                        config_source,
                        detail,
                    }
                } else {
                    KubeError::Unreachable {
                        doing,
                        server,
                        config_source,
                        detail,
                    }
                }
            }
        }
    }
}

/// Every group/version the server serves with its kinds, from the two
/// aggregated discovery documents (`/api` for the core group, `/apis` for
/// the others, CRDs included); `None` when the server does not offer them
/// (before Kubernetes 1.26 it answers with the plain lists instead).
async fn aggregated(client: &Client) -> Result<Option<HashMap<String, ServedKinds>>, kube::Error> {
    let (core, groups) = futures::try_join!(
        aggregated_list(client, "/api"),
        aggregated_list(client, "/apis")
    )?;
    let (Some(core), Some(groups)) = (core, groups) else {
        return Ok(None);
    };
    Ok(Some(kinds_by_version(
        core.items.into_iter().chain(groups.items),
    )))
}

/// One aggregated discovery document; `None` when the server answered with
/// something else. kube's `Discovery::run_aggregated` would read a plain
/// `APIGroupList` as an empty discovery (every field of the aggregated
/// types has a default), and so find no kind at all on an older server.
pub(super) async fn aggregated_list(
    client: &Client,
    path: &str,
) -> Result<Option<APIGroupDiscoveryList>, kube::Error> {
    let request = http::Request::get(path)
        .header(http::header::ACCEPT, ACCEPT_AGGREGATED_DISCOVERY_V2)
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
    let answer: Value = client.request(request).await?;
    Ok(as_aggregated(answer))
}

/// `answer` as an aggregated discovery document; `None` for anything else
/// (a plain `APIVersions` or `APIGroupList`, or a document of an
/// unexpected shape), which makes wildrun discover the old way.
fn as_aggregated(answer: Value) -> Option<APIGroupDiscoveryList> {
    if answer.get("kind").and_then(Value::as_str) != Some("APIGroupDiscoveryList") {
        return None;
    }
    serde_json::from_value(answer).ok()
}

/// The kinds of each `apiVersion` in aggregated discovery's groups.
fn kinds_by_version(
    groups: impl Iterator<Item = kube::core::discovery::v2::APIGroupDiscovery>,
) -> HashMap<String, ServedKinds> {
    served_versions(groups)
        .into_iter()
        .map(|(api_version, kinds)| {
            let kinds = kinds.into_iter().map(|(kind, _verbs)| kind).collect();
            (api_version, Some(kinds))
        })
        .collect()
}

/// A kind served, with the verbs it supports (`list`, `delete`, ...).
pub(super) type KindVerbs = (Kind, Vec<String>);

/// Each `apiVersion` of aggregated discovery's groups with its kinds and
/// their verbs, in the order served: a group's versions come in order of
/// preference. Subresources are listed apart, so each is an object kind.
pub(super) fn served_versions(
    groups: impl Iterator<Item = kube::core::discovery::v2::APIGroupDiscovery>,
) -> Vec<(String, Vec<KindVerbs>)> {
    let mut out = Vec::new();
    for group in groups {
        let name = group.metadata.and_then(|m| m.name).unwrap_or_default();
        for served in group.versions {
            let Some(version) = served.version else {
                continue;
            };
            let gv = kube::core::GroupVersion::gv(&name, &version);
            let kinds = served
                .resources
                .into_iter()
                .filter_map(|r| {
                    let kind = r.response_kind.and_then(|k| k.kind)?;
                    let plural = r.resource?;
                    let resource = ApiResource {
                        group: name.clone(),
                        version: version.clone(),
                        api_version: gv.api_version(),
                        kind,
                        plural,
                    };
                    let namespaced = r.scope.as_deref() == Some("Namespaced");
                    Some((
                        Kind {
                            resource,
                            namespaced,
                        },
                        r.verbs,
                    ))
                })
                .collect();
            out.push((gv.api_version(), kinds));
        }
    }
    out
}

/// `message` without the values the API server prints beside a field that
/// cannot change (`spec.template: Invalid value: {...}: field is
/// immutable`: a Job's whole pod template, env values included): the
/// field and the words stay.
fn without_immutable_values(message: &str) -> String {
    static DUMPED: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let dumped = DUMPED
        .get_or_init(|| regex::Regex::new(r"(?s)Invalid value: .*?: field is immutable").ok());
    match dumped {
        Some(dumped) => dumped
            .replace_all(message, "field is immutable")
            .into_owned(),
        None => message.to_string(),
    }
}

/// Whether an error is worth retrying: overload (429, 502, 503, 504), a
/// transient 500, and connection failures (an API server restarting).
fn retryable(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(s) => match s.code {
            429 | 502..=504 => true,
            500 => is_transient_500(&s.message) && !is_schema_error(s.code, &s.message),
            _ => false,
        },
        // A request that used up its bound is not tried again: the bound
        // is the longest a run waits.
        kube::Error::Service(_) if transport::timed_out(err).is_some() => false,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Attempts a request at most this many times.
pub(crate) const MAX_ATTEMPTS: u32 = 4;

/// Runs `request` until it succeeds, fails for good, or [`MAX_ATTEMPTS`] are used
/// (backoff 0.25 s, 0.5 s, 1 s).
pub(crate) async fn retry<T, F, Fut>(mut request: F) -> Result<T, kube::Error>
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
pub(crate) const USER_AGENT: &str = concat!("wildrun/", env!("CARGO_PKG_VERSION"));

/// `config` with wildrun's User-Agent header (kube sends none of its own).
fn with_user_agent(mut config: kube::Config) -> kube::Config {
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    config
}

/// The JSON form of an object of `kind` from a list, whose items the API
/// server sends without `apiVersion` and `kind`: with them, as a read of
/// the object alone returns it.
pub(crate) fn listed_value(kind: &Kind, item: &DynamicObject) -> Result<Value> {
    let mut value = to_value(item)?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "apiVersion".into(),
            Value::String(kind.resource.api_version.clone()),
        );
        obj.insert("kind".into(), Value::String(kind.resource.kind.clone()));
    }
    Ok(value)
}

/// The JSON form of a live object.
pub(crate) fn to_value(obj: &DynamicObject) -> Result<Value> {
    serde_json::to_value(obj).map_err(KubeError::ToJson)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_immutable_field_s_error_leaves_out_the_values() {
        let message = r#"Job.batch "migrate" is invalid: spec.template: Invalid value: {"labels":{"a":"b"},"Spec":{"Env":[{"Name":"TOKEN","Value":"s3cret: x"}]}}: field is immutable"#;
        assert_eq!(
            without_immutable_values(message),
            r#"Job.batch "migrate" is invalid: spec.template: field is immutable"#
        );
        let other = "Service \"web\" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535";
        assert_eq!(without_immutable_values(other), other);
    }

    fn api_error(code: u16, message: &str) -> kube::Error {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": code, "message": message, "reason": ""
        }))
        .expect("a Status");
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn aggregated_discovery_lists_every_kind_with_its_scope() {
        // Trimmed from a v1.37 API server's /api and /apis.
        let core = serde_json::json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "items": [{"metadata": {}, "versions": [{"version": "v1", "freshness": "Current", "resources": [
                {"resource": "namespaces", "responseKind": {"group": "", "version": "", "kind": "Namespace"},
                 "scope": "Cluster", "verbs": ["create", "get"],
                 "subresources": [{"subresource": "status", "responseKind": {"kind": "Namespace"}, "verbs": ["get"]}]},
                {"resource": "secrets", "responseKind": {"group": "", "version": "", "kind": "Secret"},
                 "scope": "Namespaced", "verbs": ["create", "get"]}]}]}]});
        let groups = serde_json::json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "items": [{"metadata": {"name": "cert-manager.io"}, "versions": [
                {"version": "v1", "resources": [{"resource": "certificates",
                    "responseKind": {"group": "cert-manager.io", "version": "v1", "kind": "Certificate"},
                    "scope": "Namespaced"}]},
                {"version": "v1alpha2", "resources": []}]}]});
        let (Some(core), Some(groups)) = (as_aggregated(core), as_aggregated(groups)) else {
            panic!("both are aggregated discovery documents");
        };
        let kinds = kinds_by_version(core.items.into_iter().chain(groups.items));
        let summary = |api_version: &str| -> Option<Vec<(String, String, bool)>> {
            kinds.get(api_version)?.as_ref().map(|ks| {
                ks.iter()
                    .map(|k| {
                        (
                            k.resource.kind.clone(),
                            k.resource.plural.clone(),
                            k.namespaced,
                        )
                    })
                    .collect()
            })
        };
        assert_eq!(
            summary("v1"),
            Some(vec![
                ("Namespace".into(), "namespaces".into(), false),
                ("Secret".into(), "secrets".into(), true),
            ])
        );
        assert_eq!(
            summary("cert-manager.io/v1"),
            Some(vec![("Certificate".into(), "certificates".into(), true)])
        );
        let certificate = &kinds["cert-manager.io/v1"].as_ref().expect("served")[0];
        assert_eq!(certificate.resource.group, "cert-manager.io");
        assert_eq!(certificate.resource.api_version, "cert-manager.io/v1");
        // A served version without kinds is served; an unknown one is not listed.
        assert_eq!(summary("cert-manager.io/v1alpha2"), Some(vec![]));
        assert!(!kinds.contains_key("apps/v1"));
    }

    #[test]
    fn a_server_without_aggregated_discovery_is_recognised() {
        // What an API server before 1.26 answers to the same request: read
        // as aggregated discovery, it would be an empty list of groups.
        let plain = serde_json::json!({"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [{"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]}]});
        assert!(as_aggregated(plain).is_none());
        let versions = serde_json::json!({"kind": "APIVersions", "versions": ["v1"]});
        assert!(as_aggregated(versions).is_none());
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
