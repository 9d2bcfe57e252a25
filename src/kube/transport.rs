//! How requests travel to the API server: each one bounded in time
//! (`--request-timeout`), a word on stderr when one keeps the run waiting,
//! and no credentials over plain HTTP.
//!
//! The bound is a layer around kube's client, so it covers every request
//! wildrun sends (discovery, reads, writes, reviews, leases), with kube's own
//! retries inside it. A watch is long-running by design: only the wait for
//! its answer is bounded, not the stream of events that follows.

use hyper::body::{Body, Bytes, Frame, SizeHint};
use kube::client::DynBody;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{BoxError, Layer, Service};

/// How long one request may take when `--request-timeout` does not say
/// (kubectl has no default; 30 s is what its users pass).
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// After how long a request that has not been answered is said on stderr.
pub(crate) const SLOW_REQUEST_NOTE: Duration = Duration::from_secs(5);

/// A request that got no (complete) answer within the bound.
#[derive(Debug, thiserror::Error)]
#[error("no answer to {request} within {}", crate::duration::format_duration(*.after))]
pub(crate) struct RequestTimedOut {
    /// The method and path ("GET /apis").
    pub(crate) request: String,
    /// The bound.
    pub(crate) after: Duration,
}

/// The [`RequestTimedOut`] inside a client error, if that is what it is.
pub(crate) fn timed_out(err: &kube::Error) -> Option<&RequestTimedOut> {
    match err {
        kube::Error::Service(inner) => inner.downcast_ref::<RequestTimedOut>(),
        _ => None,
    }
}

/// Bounds every request of a client to `bound`, and says once on stderr,
/// after [`SLOW_REQUEST_NOTE`], what the run is waiting on.
#[derive(Debug, Clone)]
pub(crate) struct RequestBound {
    bound: Duration,
    server: String,
    /// Whether the current stall has been said: cleared by the next answer,
    /// so that each stall is said once, however many requests wait in it.
    noted: Arc<AtomicBool>,
}

impl RequestBound {
    /// A bound of `bound` for the requests to `server` (the URL, for the note).
    pub(crate) fn new(bound: Duration, server: &str) -> RequestBound {
        RequestBound {
            bound,
            server: server.to_string(),
            noted: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl<S> Layer<S> for RequestBound {
    type Service = Bounded<S>;

    fn layer(&self, inner: S) -> Bounded<S> {
        Bounded {
            inner,
            bound: self.clone(),
        }
    }
}

/// The service [`RequestBound`] makes.
#[derive(Debug)]
pub(crate) struct Bounded<S> {
    inner: S,
    bound: RequestBound,
}

/// Whether a request is a watch (`?watch=true`), whose answer streams for
/// as long as the watch runs.
fn is_watch(uri: &http::Uri) -> bool {
    uri.query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| matches!(pair, "watch=true" | "watch=1"))
    })
}

/// "GET /apis/apps/v1/namespaces/web/deployments/web", for messages: the
/// path without its query (which may carry a label selector, nothing secret,
/// but long).
fn describe(request: &http::Request<kube::client::Body>) -> String {
    format!("{} {}", request.method(), request.uri().path())
}

type ApiResponse = http::Response<Box<DynBody>>;

impl<S> Service<http::Request<kube::client::Body>> for Bounded<S>
where
    S: Service<http::Request<kube::client::Body>, Response = ApiResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = ApiResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<kube::client::Body>) -> Self::Future {
        let what = describe(&request);
        let watch = is_watch(request.uri());
        let bound = self.bound.clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + bound.bound;
            let timed_out = || -> BoxError {
                Box::new(RequestTimedOut {
                    request: what.clone(),
                    after: bound.bound,
                })
            };
            let answer = tokio::time::timeout_at(deadline, async {
                tokio::pin!(answer);
                tokio::select! {
                    result = &mut answer => return result,
                    _ = tokio::time::sleep(SLOW_REQUEST_NOTE) => {}
                }
                // A bound as short as the note: the error says it all.
                if bound.bound > SLOW_REQUEST_NOTE && !bound.noted.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "waiting for the API server at {} to answer {what} ({} so far; wildrun gives up after {}, see --request-timeout)",
                        bound.server,
                        crate::duration::format_duration(SLOW_REQUEST_NOTE),
                        crate::duration::format_duration(bound.bound),
                    );
                }
                answer.await
            })
            .await
            .map_err(|_| timed_out())??;
            bound.noted.store(false, Ordering::Relaxed);
            if watch {
                return Ok(answer);
            }
            let error = timed_out();
            Ok(answer.map(|body| {
                Box::new(BoundedBody {
                    body,
                    deadline: Box::pin(tokio::time::sleep_until(deadline)),
                    error: Some(error),
                }) as Box<DynBody>
            }))
        })
    }
}

/// An answer's body that must arrive by the request's deadline: a server
/// that stops in the middle of a list does not hold the run either.
struct BoundedBody {
    body: Box<DynBody>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    /// Given out once, when the deadline passes.
    error: Option<BoxError>,
}

impl Body for BoundedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(self.error.take().map(Err)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The credentials a kubeconfig user carries that would travel with each
/// request, in words ("a bearer token"); a client certificate is not one of
/// them over plain HTTP, where there is no TLS to present it in.
fn credentials(user: &kube::config::AuthInfo) -> Vec<&'static str> {
    let mut found = Vec::new();
    if user.token.is_some() || user.token_file.is_some() {
        found.push("a bearer token");
    }
    if user.username.is_some() || user.password.is_some() {
        found.push("a username and password (basic auth)");
    }
    if user.exec.is_some() {
        found.push("a token from an exec plugin");
    }
    if user.auth_provider.is_some() {
        found.push("a token from an auth provider");
    }
    found
}

/// Whether `config` would send credentials in cleartext: the server is
/// `http://` and the user has any. Returns what would be sent, in words.
pub(crate) fn cleartext_credentials(config: &kube::Config) -> Option<String> {
    if config.cluster_url.scheme() != Some(&http::uri::Scheme::HTTP) {
        return None;
    }
    let found = credentials(&config.auth_info);
    (!found.is_empty()).then(|| found.join(" and "))
}

/// Whether `config` names a client certificate that plain HTTP cannot
/// present (the requests then go unauthenticated).
pub(crate) fn unused_client_certificate(config: &kube::Config) -> bool {
    let user = &config.auth_info;
    config.cluster_url.scheme() == Some(&http::uri::Scheme::HTTP)
        && (user.client_certificate.is_some() || user.client_certificate_data.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(server: &str, user: serde_json::Value) -> kube::Config {
        let mut config = kube::Config::new(server.parse().expect("a URL"));
        config.auth_info = serde_json::from_value(user).expect("a user");
        config
    }

    #[test]
    fn credentials_over_plain_http_are_found() {
        let token = serde_json::json!({"token": "abc"});
        assert_eq!(
            cleartext_credentials(&config("http://127.0.0.1:8080", token.clone())).as_deref(),
            Some("a bearer token")
        );
        assert_eq!(
            cleartext_credentials(&config("https://127.0.0.1:6443", token)),
            None
        );
        let basic = serde_json::json!({"username": "u", "password": "p"});
        assert_eq!(
            cleartext_credentials(&config("http://h", basic)).as_deref(),
            Some("a username and password (basic auth)")
        );
        let none = config("http://127.0.0.1:8001", serde_json::json!({}));
        assert_eq!(cleartext_credentials(&none), None);
        assert!(!unused_client_certificate(&none));
        let cert = config(
            "http://h",
            serde_json::json!({"client-certificate-data": "LS0t"}),
        );
        assert_eq!(cleartext_credentials(&cert), None);
        assert!(unused_client_certificate(&cert));
    }

    #[test]
    fn only_watches_stream() {
        let uri = |u: &str| u.parse::<http::Uri>().expect("a URI");
        assert!(is_watch(&uri(
            "/api/v1/configmaps?labelSelector=a%3Db&watch=true&timeoutSeconds=290"
        )));
        assert!(is_watch(&uri("/api/v1/namespaces?watch=1")));
        assert!(!is_watch(&uri("/api/v1/namespaces?watch=false")));
        assert!(!is_watch(&uri("/api/v1/namespaces?limit=250")));
        assert!(!is_watch(&uri("/apis")));
    }

    #[test]
    fn a_timeout_is_told_apart_from_other_failures() {
        let err = kube::Error::Service(Box::new(RequestTimedOut {
            request: "GET /apis".into(),
            after: Duration::from_secs(30),
        }));
        assert_eq!(
            timed_out(&err).map(ToString::to_string).as_deref(),
            Some("no answer to GET /apis within 30s")
        );
        let other = kube::Error::Service("connection refused".into());
        assert!(timed_out(&other).is_none());
    }
}
