//! `https::` for scripts: send one HTTPS request the way a user's browser
//! would, and say what happened at each step.
//!
//! [`get`] resolves the host (the system's resolver, a chosen nameserver, or
//! an address given outright), connects (optionally from a chosen local
//! address), does the TLS handshake with SNI = host, records the certificate
//! the server presents and whether it verifies against the trusted roots
//! (the system's, plus a CA the caller names), then sends `GET` and reads the
//! status, headers and the start of the body. What the network answers is a
//! value ([`Response`]), never an error: a refused connection, a failed
//! handshake or a certificate that does not verify are fields a check
//! tests. Only a malformed call (a URL that is not `https://`, an unreadable
//! CA file, an unknown option) is an error.
//!
//! The request is sent even when the certificate does not verify, so a check
//! can say both "Traefik serves its default certificate" and what it
//! answered; `verified` says whether to believe it. Nothing secret is sent:
//! a plain `GET` without credentials.
//!
//! TLS is rustls (with ring), the stack the Kubernetes client already uses;
//! HTTP/1.1 is hyper's client connection.

use crate::cert::{self, Info};
use crate::dns::{self, Query};
use hickory_resolver::proto::rr::RecordType;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Seconds a request may take (resolve, connect, handshake, response) unless the caller says otherwise.
pub(crate) const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// How much of the body a response keeps (bytes).
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// A malformed request: the only errors [`get`] returns.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum HttpsError {
    /// The URL is not `https://host[:port][/path]`.
    #[error("{0:?} is not an https:// URL: {1}")]
    BadUrl(String, String),
    /// The CA file cannot be read or holds no certificate.
    #[error("CA {0}: {1}")]
    BadCa(String, String),
}

/// How to send a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    /// `https://host[:port][/path]`.
    pub(crate) url: String,
    /// Connect to this address instead of resolving the host.
    pub(crate) address: Option<IpAddr>,
    /// The port, overriding the URL's (default 443).
    pub(crate) port: Option<u16>,
    /// A CA to trust besides the system's roots: PEM text or a PEM file.
    pub(crate) ca: Option<String>,
    /// The local address to connect from.
    pub(crate) source: Option<IpAddr>,
    /// The nameserver that resolves the host (default: the system's).
    pub(crate) dns_server: Option<SocketAddr>,
    /// The whole request's time limit (default [`DEFAULT_TIMEOUT_SECS`]).
    pub(crate) timeout: Option<Duration>,
}

/// Time spent in each step, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Timings {
    /// Looking the host up (0 when the address was given).
    pub(crate) resolve_ms: u64,
    /// The TCP connection.
    pub(crate) connect_ms: u64,
    /// The TLS handshake.
    pub(crate) tls_ms: u64,
    /// From sending the request to the response's headers.
    pub(crate) response_ms: u64,
}

/// What one request found: the value scripts receive from `https::get`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Response {
    /// The URL asked for.
    pub(crate) url: String,
    /// Its host (the TLS server name and the `Host` header).
    pub(crate) host: String,
    /// The port connected to.
    pub(crate) port: u16,
    /// The address connected to (or that would have been), if known.
    pub(crate) address: Option<String>,
    /// How the address was found: `"given"`, `"system resolver"` or the nameserver `ip:port`.
    pub(crate) resolved_by: String,
    /// The local address the request came from (what the server sees as the asker).
    pub(crate) source: Option<String>,
    /// Whether an HTTP response came back (any status).
    pub(crate) answered: bool,
    /// The HTTP status, when one came back.
    pub(crate) status: Option<u16>,
    /// Its reason phrase (`"OK"`, `"Forbidden"`).
    pub(crate) reason: Option<String>,
    /// Response headers (lower-case names; repeated ones joined with `, `).
    pub(crate) headers: BTreeMap<String, String>,
    /// The start of the body (at most [`BODY_LIMIT`] bytes), as text.
    pub(crate) body: String,
    /// Whether the certificate chains to a trusted root and names the host.
    pub(crate) verified: bool,
    /// Why it did not verify.
    pub(crate) verify_error: Option<String>,
    /// The certificate the server presented (`cert::inspect`'s shape).
    pub(crate) certificate: Option<Info>,
    /// Whether that certificate names the host (wildcards for one label).
    pub(crate) covers: Option<bool>,
    /// The step that failed: `"resolve"`, `"connect"`, `"tls"` or `"http"`; `None` when answered.
    pub(crate) stage: Option<String>,
    /// What went wrong at that step.
    pub(crate) error: Option<String>,
    /// Milliseconds from start to the response headers (or to the failure).
    pub(crate) elapsed_ms: u64,
    /// Milliseconds per step.
    pub(crate) timings: Timings,
}

/// The parts of an `https://` URL a request needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    /// Host name or IP.
    pub(crate) host: String,
    /// Port (443 unless the URL names one).
    pub(crate) port: u16,
    /// Path and query (`/` at least).
    pub(crate) path: String,
}

/// Reads an `https://host[:port][/path]` URL.
pub(crate) fn parse_url(url: &str) -> Result<Target, HttpsError> {
    let bad = |why: &str| HttpsError::BadUrl(url.to_string(), why.to_string());
    let uri: http::Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
    if uri.scheme_str() != Some("https") {
        return Err(bad("the scheme must be https"));
    }
    let host = uri
        .host()
        .ok_or_else(|| bad("it names no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if host.is_empty() {
        return Err(bad("it names no host"));
    }
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    Ok(Target {
        host,
        port: uri.port_u16().unwrap_or(443),
        path,
    })
}

/// CA certificates (DER) from PEM text or a PEM file.
fn ca_certificates(ca: &str) -> Result<Vec<CertificateDer<'static>>, HttpsError> {
    let (text, what) = if ca.contains("-----BEGIN") {
        (ca.to_string(), "(PEM text)".to_string())
    } else {
        let path = PathBuf::from(ca);
        let text = crate::files::read_text(&path)
            .map_err(|e| HttpsError::BadCa(path.display().to_string(), e.to_string()))?;
        (text, path.display().to_string())
    };
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()) {
        let block = block.map_err(|e| HttpsError::BadCa(what.clone(), e.to_string()))?;
        if block.label == "CERTIFICATE" {
            out.push(CertificateDer::from(block.contents));
        }
    }
    if out.is_empty() {
        return Err(HttpsError::BadCa(
            what,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(out)
}

/// The system's trusted roots, read once per process.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!("reading the system's trusted certificates: {e}");
        }
        found.certs
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What the handshake presented and what verifying it said.
#[derive(Debug, Default)]
struct HandshakeRecord {
    leaf: Option<Vec<u8>>,
    chain_length: usize,
    error: Option<String>,
}

/// Verifies like a browser would, but records the outcome instead of
/// failing the handshake, so the request can still say what the server
/// answered. Handshake signatures are always checked.
#[derive(Debug)]
struct Recording {
    inner: Result<Arc<WebPkiServerVerifier>, String>,
    provider: Arc<CryptoProvider>,
    seen: Mutex<HandshakeRecord>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let error = match &self.inner {
            Ok(v) => v
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .err()
                .map(|e| describe_tls_error(&e)),
            Err(e) => Some(e.clone()),
        };
        if let Ok(mut seen) = self.seen.lock() {
            seen.leaf = Some(end_entity.as_ref().to_vec());
            seen.chain_length = 1 + intermediates.len();
            seen.error = error;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls error in words people know.
fn describe_tls_error(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            "it is not signed by a trusted CA (unknown issuer)".into()
        }
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "it has expired".into()
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "it is not valid yet".into()
        }
        rustls::Error::InvalidCertificate(C::NotValidForName) => "it does not name the host".into(),
        rustls::Error::InvalidCertificate(C::NotValidForNameContext { .. }) => {
            "it does not name the host".into()
        }
        other => other.to_string(),
    }
}

fn verifier(ca: &[CertificateDer<'static>]) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut roots = RootCertStore::empty();
    let (_, ignored) = roots.add_parsable_certificates(system_roots().iter().cloned());
    if ignored > 0 {
        tracing::debug!("{ignored} system certificate(s) could not be used as roots");
    }
    for c in ca {
        roots
            .add(c.clone())
            .map_err(|e| format!("the CA certificate cannot be a root: {e}"))?;
    }
    if roots.is_empty() {
        return Err(
            "no trusted roots: the system has none and no CA was given (tls.caFile)".into(),
        );
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| format!("cannot set up certificate verification: {e}"))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The host's address: the first A (else AAAA) record, CNAMEs followed.
async fn resolve_host(
    host: &str,
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<IpAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    let mut last = String::new();
    for record_type in [RecordType::A, RecordType::AAAA] {
        let mut query = Query::new(host, record_type);
        query.server = server;
        query.timeout = timeout;
        let answer = dns::resolve(&query).await.map_err(|e| e.to_string())?;
        if let Some(ip) = answer.values.iter().find_map(|v| v.parse::<IpAddr>().ok()) {
            return Ok(ip);
        }
        last = match answer.status.as_str() {
            "nxdomain" => format!("{host} does not exist (NXDOMAIN)"),
            "nodata" => format!("{host} has no A or AAAA record"),
            _ => format!(
                "{host} could not be looked up: {}",
                answer.error.unwrap_or_else(|| answer.status.clone())
            ),
        };
        if answer.status != "nodata" {
            break;
        }
    }
    Err(last)
}

/// Sends `GET` as [`Request`] says. Network outcomes are fields of the
/// [`Response`]; only a malformed request is an `Err`.
pub(crate) async fn get(request: &Request) -> Result<Response, HttpsError> {
    let target = parse_url(&request.url)?;
    let ca = match &request.ca {
        Some(ca) if !ca.trim().is_empty() => ca_certificates(ca)?,
        _ => Vec::new(),
    };
    let timeout = request
        .timeout
        .unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    let mut response = Response {
        url: request.url.clone(),
        host: target.host.clone(),
        port: request.port.unwrap_or(target.port),
        resolved_by: match (request.address, request.dns_server) {
            (Some(_), _) => "given".into(),
            (None, Some(s)) => s.to_string(),
            (None, None) => "system resolver".into(),
        },
        ..Response::default()
    };
    let started = Instant::now();
    let outcome =
        tokio::time::timeout(timeout, exchange(request, &target, &ca, &mut response)).await;
    if outcome.is_err() {
        let stage = next_stage(&response);
        response.error = Some(format!(
            "no answer within {}s ({stage})",
            timeout.as_secs_f64()
        ));
        response.stage = Some(stage.into());
    }
    response.elapsed_ms = millis(started.elapsed());
    Ok(response)
}

/// The step a request that ran out of time was in.
fn next_stage(r: &Response) -> &'static str {
    if r.address.is_none() {
        "resolve"
    } else if r.source.is_none() {
        "connect"
    } else if r.certificate.is_none() {
        "tls"
    } else {
        "http"
    }
}

fn fail(response: &mut Response, stage: &str, error: String) {
    response.stage = Some(stage.into());
    response.error = Some(error);
}

/// A step of the exchange that failed, and why.
type StageResult<T> = Result<T, (&'static str, String)>;

/// Resolves, connects, shakes hands and asks, filling `response` as each
/// step succeeds; a failed step is recorded with its name.
async fn exchange(
    request: &Request,
    target: &Target,
    ca: &[CertificateDer<'static>],
    response: &mut Response,
) {
    let steps = async {
        let t = Instant::now();
        let ip = resolve_step(request, target).await?;
        response.timings.resolve_ms = millis(t.elapsed());
        response.address = Some(ip.to_string());
        let addr = SocketAddr::new(ip, response.port);

        let t = Instant::now();
        let stream = connect_step(request, addr).await?;
        response.source = stream.local_addr().ok().map(|a| a.ip().to_string());
        response.timings.connect_ms = millis(t.elapsed());

        let t = Instant::now();
        let tls = tls_step(target, ca, addr, stream, response).await?;
        response.timings.tls_ms = millis(t.elapsed());

        let t = Instant::now();
        http_step(request, target, tls, t, response).await
    };
    if let Err((stage, error)) = steps.await {
        fail(response, stage, error);
    }
}

/// The address to connect to: given, or looked up.
async fn resolve_step(request: &Request, target: &Target) -> StageResult<IpAddr> {
    match request.address {
        Some(ip) => Ok(ip),
        None => resolve_host(
            &target.host,
            request.dns_server,
            Duration::from_secs(dns::DEFAULT_TIMEOUT_SECS),
        )
        .await
        .map_err(|e| ("resolve", e)),
    }
}

/// A TCP connection to `addr`, from the request's source address if it names one.
async fn connect_step(request: &Request, addr: SocketAddr) -> StageResult<tokio::net::TcpStream> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| ("connect", format!("cannot open a socket: {e}")))?;
    if let Some(source) = request.source {
        socket.bind(SocketAddr::new(source, 0)).map_err(|e| {
            (
                "connect",
                format!("cannot send from {source}: {e} (is it an address of this machine?)"),
            )
        })?;
    }
    socket
        .connect(addr)
        .await
        .map_err(|e| ("connect", format!("cannot connect to {addr}: {e}")))
}

/// The TLS handshake. The certificate the server showed, and whether it
/// verified, are recorded even when the handshake fails.
async fn tls_step(
    target: &Target,
    ca: &[CertificateDer<'static>],
    addr: SocketAddr,
    stream: tokio::net::TcpStream,
    response: &mut Response,
) -> StageResult<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let recording = Arc::new(Recording {
        inner: verifier(ca),
        provider: provider(),
        seen: Mutex::new(HandshakeRecord::default()),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ("tls", format!("cannot set up TLS: {e}")))?;
    let mut config = config
        .dangerous()
        .with_custom_certificate_verifier(recording.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let server_name = ServerName::try_from(target.host.clone()).map_err(|e| {
        (
            "tls",
            format!("{:?} cannot be a TLS server name: {e}", target.host),
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = connector.connect(server_name, stream).await;
    if let Ok(seen) = recording.seen.lock() {
        if let Some(leaf) = &seen.leaf {
            match cert::inspect_der(leaf, seen.chain_length) {
                Ok(info) => {
                    response.covers = Some(cert::covers(&info, &target.host));
                    response.certificate = Some(info);
                }
                Err(e) => response.verify_error = Some(e.to_string()),
            }
            response.verified = seen.error.is_none() && response.certificate.is_some();
            if response.verify_error.is_none() {
                response.verify_error = seen.error.clone();
            }
        }
    }
    handshake.map_err(|e| ("tls", format!("the TLS handshake with {addr} failed: {e}")))
}

/// `GET` over the TLS stream: status, headers and (up to [`BODY_LIMIT`]) the body.
async fn http_step(
    request: &Request,
    target: &Target,
    tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    started: Instant,
    response: &mut Response,
) -> StageResult<()> {
    let io = hyper_util::rt::TokioIo::new(tls);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, http_body_util::Empty<hyper::body::Bytes>>(io)
            .await
            .map_err(|e| ("http", format!("HTTP/1.1 over TLS failed: {e}")))?;
    let driver = tokio::spawn(connection);
    // The connection's task ends with this function, whatever happens.
    let _stop = AbortOnDrop(&driver);
    let host_header = if response.port == 443 {
        target.host.clone()
    } else {
        format!("{}:{}", target.host, response.port)
    };
    let built = http::Request::get(target.path.as_str())
        .header(http::header::HOST, host_header)
        .header(http::header::USER_AGENT, crate::kube::cluster::USER_AGENT)
        .header(http::header::ACCEPT, "*/*")
        .body(http_body_util::Empty::new())
        .map_err(|e| ("http", format!("cannot build the request: {e}")))?;
    let answer = sender
        .send_request(built)
        .await
        .map_err(|e| ("http", format!("no HTTP answer: {e}")))?;
    response.timings.response_ms = millis(started.elapsed());
    response.answered = true;
    response.status = Some(answer.status().as_u16());
    response.reason = answer.status().canonical_reason().map(str::to_string);
    for (name, value) in answer.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        response
            .headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(answer.into_body(), BODY_LIMIT);
    match limited.collect().await {
        Ok(collected) => {
            response.body = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
        }
        Err(e) => tracing::debug!("reading the body of {}: {e}", request.url),
    }
    Ok(())
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop<'t, T>(&'t tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<'_, T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("https://a.example.com").unwrap(),
            Target {
                host: "a.example.com".into(),
                port: 443,
                path: "/".into()
            }
        );
        let t = parse_url("https://a.example.com:8443/x?y=1").unwrap();
        assert_eq!((t.port, t.path.as_str()), (8443, "/x?y=1"));
        assert!(matches!(
            parse_url("http://a.example.com"),
            Err(HttpsError::BadUrl(_, why)) if why.contains("https")
        ));
        assert!(parse_url("a.example.com").is_err());
    }

    #[test]
    fn ca_text_without_certificate() {
        let err = ca_certificates("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        let err = ca_certificates("/nonexistent/ca.pem").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    /// A local TLS server with a certificate from a local CA: verified with
    /// the CA, not without it; the status and body come back either way.
    #[tokio::test]
    async fn request_to_a_local_server() {
        let ca = cert::ca(
            "probe test CA",
            &cert::Options {
                days: 30,
                common_name: None,
            },
        )
        .unwrap();
        let pair = cert::issue(
            &ca,
            &["probe.example.test".to_string()],
            &cert::Options {
                days: 30,
                common_name: None,
            },
        )
        .unwrap();
        let port = serve_once_per_connection(&pair, 2).await;
        let request = Request {
            url: format!("https://probe.example.test:{port}/hello"),
            address: Some("127.0.0.1".parse().unwrap()),
            ca: Some(ca.cert.clone()),
            ..Request::default()
        };
        let r = get(&request).await.unwrap();
        assert!(r.answered, "{r:?}");
        assert_eq!(r.status, Some(200));
        assert!(r.verified, "{r:?}");
        assert_eq!(r.covers, Some(true));
        assert_eq!(r.source.as_deref(), Some("127.0.0.1"));
        assert!(r.body.contains("host=probe.example.test"), "{}", r.body);
        // Without the CA: still answered, not verified, and it says why.
        let r = get(&Request {
            ca: None,
            ..request
        })
        .await
        .unwrap();
        assert_eq!(r.status, Some(200));
        assert!(!r.verified);
        assert!(r.verify_error.unwrap().contains("trusted CA"));
    }

    #[tokio::test]
    async fn refused_connection_is_a_value() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let r = get(&Request {
            url: format!("https://x.example.test:{port}/"),
            address: Some("127.0.0.1".parse().unwrap()),
            ..Request::default()
        })
        .await
        .unwrap();
        assert!(!r.answered);
        assert_eq!(r.stage.as_deref(), Some("connect"));
        assert!(r.error.unwrap().contains("cannot connect"));
    }

    /// Serves `count` connections: answers 200 with the Host header in the body.
    async fn serve_once_per_connection(pair: &cert::Pair, count: usize) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let certs = ca_certificates(&pair.cert).unwrap();
        let key_der = x509_parser::pem::Pem::iter_from_buffer(pair.key.as_bytes())
            .next()
            .unwrap()
            .unwrap()
            .contents;
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into());
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for _ in 0..count {
                let (stream, _) = listener.accept().await.unwrap();
                let mut tls = acceptor.accept(stream).await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = tls.read(&mut buf).await.unwrap();
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                let host = text
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("host: ")
                            .or_else(|| l.strip_prefix("Host: "))
                    })
                    .unwrap_or("?")
                    .to_string();
                let body = format!("host={}", host.split(':').next().unwrap_or("?"));
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                tls.write_all(reply.as_bytes()).await.unwrap();
                let _ = tls.shutdown().await;
            }
        });
        port
    }
}
