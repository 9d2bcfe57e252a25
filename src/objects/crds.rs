//! Typed custom resources of the components the visibility pipeline drives:
//! cert-manager (`Certificate`, `ClusterIssuer`), Traefik (`Middleware`) and
//! MetalLB (`IPAddressPool`).
//!
//! Every field the upstream CRD declares at the levels we model is listed, so
//! a typo is reported as an unknown field while a valid but rarely used field
//! is accepted. Deep, rarely written sub-trees (ACME solvers, Traefik's
//! middleware kinds other than `ipAllowList`) are kept as free-form JSON: the
//! API server's schema validates those.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A reference to the issuer that signs a certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    /// Name of the Issuer or ClusterIssuer.
    pub name: String,
    /// `Issuer` or `ClusterIssuer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// API group of the issuer, `cert-manager.io` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Labels and annotations cert-manager copies onto the Secret it writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplate {
    /// Annotations copied onto the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels copied onto the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// The private key cert-manager generates for a certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificatePrivateKey {
    /// `Never` or `Always` (the default since cert-manager 1.18): whether a re-issuance
    /// generates a new key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_policy: Option<String>,
    /// `PKCS1` (the default) or `PKCS8`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// `RSA`, `ECDSA` or `Ed25519`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Key size in bits (RSA: 2048, 4096 or 8192; ECDSA: 256, 384 or 521; ignored for Ed25519).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
}

/// X.509 subject fields of a certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct X509Subject {
    /// Organizations (O).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<String>>,
    /// Countries (C).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub countries: Option<Vec<String>>,
    /// Organizational units (OU).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizational_units: Option<Vec<String>>,
    /// Cities (L).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub localities: Option<Vec<String>>,
    /// States or provinces (ST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provinces: Option<Vec<String>>,
    /// Street addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_addresses: Option<Vec<String>>,
    /// Postal codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_codes: Option<Vec<String>>,
    /// Subject serial number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
}

/// The `spec` of a [`Certificate`]: what to request and which issuer signs it.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Certificate",
    namespaced,
    doc = "cert-manager `Certificate` (cert-manager.io/v1): a request for a certificate that cert-manager keeps issued and renewed in `spec.secretName`."
)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    /// Secret cert-manager writes the key pair into.
    pub secret_name: String,
    /// The issuer that signs the certificate.
    pub issuer_ref: IssuerRef,
    /// Requested DNS subject alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_names: Option<Vec<String>>,
    /// Requested subject common name (ignored by TLS clients when a SAN is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// Requested lifetime as a Go duration (`2160h`); 90 days by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// How long before expiry cert-manager renews, as a Go duration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
    /// Like `renewBefore`, as a percentage of the lifetime left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renew_before_percentage: Option<i32>,
    /// Renewal policy (cert-manager 1.21+): validated by the API server's schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewal: Option<Value>,
    /// Requested IP address subject alternative names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<String>>,
    /// Requested URI subject alternative names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uris: Option<Vec<String>>,
    /// Requested email subject alternative names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_addresses: Option<Vec<String>>,
    /// Requested `otherName` subject alternative names (`oid` and `utf8Value`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_names: Option<Vec<Value>>,
    /// Requested X.509 subject attributes other than the common name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<X509Subject>,
    /// Requested subject as an LDAP distinguished name string; excludes `commonName` and `subject`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub literal_subject: Option<String>,
    /// Labels and annotations to copy onto the Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_template: Option<SecretTemplate>,
    /// Extra JKS or PKCS#12 keystores to write into the Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keystores: Option<Value>,
    /// Requests a CA certificate (adds the `cert sign` usage).
    #[serde(rename = "isCA", skip_serializing_if = "Option::is_none")]
    pub is_ca: Option<bool>,
    /// Requested key usages and extended key usages; `digital signature` and `key
    /// encipherment` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usages: Option<Vec<String>>,
    /// Options of the generated private key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<CertificatePrivateKey>,
    /// Signature algorithm, e.g. `SHA256WithRSA`, `ECDSAWithSHA256`, `PureEd25519`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
    /// Whether the usages are encoded in the CSR; `true` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encode_usages_in_request: Option<bool>,
    /// How many CertificateRequests to keep in the history; 1 by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// Extra formats (`DER`, `CombinedPEM`) to write into the Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_output_formats: Option<Vec<Value>>,
    /// X.509 name constraints for a CA certificate (alpha feature gate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_constraints: Option<Value>,
}

/// A secret key selector used by ACME account keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// Name of the Secret.
    pub name: String,
    /// Key of the entry in the Secret (`tls.key` by default for the ACME account key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// ACME (e.g. Let's Encrypt) issuer configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuer {
    /// URL of the ACME server's directory endpoint.
    pub server: String,
    /// Email address registered with the ACME account, for expiry and account notices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Secret that stores the ACME account private key.
    pub private_key_secret_ref: SecretKeySelector,
    /// Challenge solvers (HTTP-01, DNS-01): validated by the API server's schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solvers: Option<Vec<Value>>,
    /// Insecure: skips verifying the ACME server's TLS certificate.
    #[serde(rename = "skipTLSVerify", skip_serializing_if = "Option::is_none")]
    pub skip_tls_verify: Option<bool>,
    /// External account credentials to bind the ACME account to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<Value>,
    /// Chain to pick, by root issuer common name, when the server offers several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_chain: Option<String>,
    /// Base64 PEM CA bundle to verify the ACME server's TLS certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    /// Don't generate an account key: expect it in `privateKeySecretRef`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_account_key_generation: Option<bool>,
    /// Requests a Not After date matching the Certificate's duration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_duration_feature: Option<bool>,
    /// Certificate profile to request, as listed by the ACME directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// An issuer that signs with a CA key pair stored in a Secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaIssuer {
    /// Secret holding the CA key pair that signs certificates.
    pub secret_name: String,
    /// CRL distribution point URLs to put into issued certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_distribution_points: Option<Vec<String>>,
    /// OCSP responder URLs to put into issued certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocsp_servers: Option<Vec<String>>,
    /// URLs of the CA's certificate to put into issued certificates.
    #[serde(
        rename = "issuingCertificateURLs",
        skip_serializing_if = "Option::is_none"
    )]
    pub issuing_certificate_urls: Option<Vec<String>>,
}

/// An issuer that self-signs every certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelfSignedIssuer {
    /// CRL distribution point URLs to put into issued certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_distribution_points: Option<Vec<String>>,
}

/// The `spec` of a [`ClusterIssuer`]: exactly one kind of issuer is set.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "ClusterIssuer",
    doc = "cert-manager `ClusterIssuer` (cert-manager.io/v1): an issuer usable from every namespace."
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterIssuerSpec {
    /// Obtain certificates from an ACME (RFC 8555) server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeIssuer>,
    /// Sign with a CA key pair stored in a Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaIssuer>,
    /// Self-sign each certificate with its own private key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<SelfSignedIssuer>,
    /// Sign with a HashiCorp Vault PKI backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault: Option<Value>,
    /// Sign with a CyberArk (Venafi) Certificate Manager policy zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub venafi: Option<Value>,
}

/// How Traefik picks the client IP it checks against an allow list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpStrategy {
    /// Use the `X-Forwarded-For` entry at this position, counting from the right.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<i64>,
    /// Use the first `X-Forwarded-For` entry not in this list.
    #[serde(rename = "excludedIPs", skip_serializing_if = "Option::is_none")]
    pub excluded_ips: Option<Vec<String>>,
    /// Prefix length under which IPv6 addresses count as one client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_subnet: Option<i64>,
}

/// Traefik's `ipAllowList` middleware: only clients in `sourceRange` get through.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpAllowList {
    /// Allowed IPs or CIDR ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_range: Option<Vec<String>>,
    /// How the client IP is determined; the remote address by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_strategy: Option<IpStrategy>,
    /// HTTP status code of refused requests; 403 by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_status_code: Option<i64>,
}

/// The `spec` of a [`Middleware`]: exactly one middleware kind is set.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "traefik.io",
    version = "v1alpha1",
    kind = "Middleware",
    namespaced,
    doc = "Traefik `Middleware` (traefik.io/v1alpha1): a request filter Traefik applies on the routes that refer to it."
)]
#[serde(rename_all = "camelCase")]
pub struct MiddlewareSpec {
    /// Allows only requests from the given client IPs.
    #[serde(rename = "ipAllowList", skip_serializing_if = "Option::is_none")]
    pub ip_allow_list: Option<IpAllowList>,
    /// Deprecated former name of `ipAllowList`.
    #[serde(rename = "ipWhiteList", skip_serializing_if = "Option::is_none")]
    pub ip_white_list: Option<Value>,
    /// Adds a prefix to the request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_prefix: Option<Value>,
    /// HTTP basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<Value>,
    /// Buffers requests and responses, with size limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffering: Option<Value>,
    /// A reusable chain of other middlewares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Value>,
    /// Stops forwarding to a failing service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<Value>,
    /// Compresses responses (gzip, brotli or zstd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compress: Option<Value>,
    /// Derives a missing `Content-Type` response header from the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<Value>,
    /// HTTP digest authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_auth: Option<Value>,
    /// Which encoded characters the request path may contain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoded_characters: Option<Value>,
    /// Custom error pages for ranges of status codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Value>,
    /// Delegates authentication to an external service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_auth: Option<Value>,
    /// Converts gRPC-Web requests to HTTP/2 gRPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_web: Option<Value>,
    /// Manages request and response headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Value>,
    /// Limits the number of requests served concurrently.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight_req: Option<Value>,
    /// Passes data from the client TLS certificate in a header.
    #[serde(rename = "passTLSClientCert", skip_serializing_if = "Option::is_none")]
    pub pass_tls_client_cert: Option<Value>,
    /// Configuration of a plugin middleware.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<Value>,
    /// Limits the request rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<Value>,
    /// Redirects by regex matching and replacement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_regex: Option<Value>,
    /// Redirects to another scheme or port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_scheme: Option<Value>,
    /// Replaces the request path (original kept in `X-Replaced-Path`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_path: Option<Value>,
    /// Replaces the request path by regex matching and replacement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_path_regex: Option<Value>,
    /// Retries a request while the backend does not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<Value>,
    /// Removes prefixes from the request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strip_prefix: Option<Value>,
    /// Removes prefixes matching regexes from the request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strip_prefix_regex: Option<Value>,
}

/// Which services may take addresses from a MetalLB pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAllocation {
    /// Priority of the pool among matching pools; lower wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Namespaces whose Services may use the pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// Label selectors of namespaces whose Services may use the pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selectors: Option<Vec<Value>>,
    /// Label selectors of Services that may use the pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_selectors: Option<Vec<Value>>,
}

/// The `spec` of an [`IPAddressPool`]: its addresses and who may use them.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "IPAddressPool",
    namespaced,
    doc = "MetalLB `IPAddressPool` (metallb.io/v1beta1): addresses MetalLB hands to LoadBalancer Services."
)]
#[serde(rename_all = "camelCase")]
pub struct IPAddressPoolSpec {
    /// Ranges (`192.168.8.240-192.168.8.250`) or CIDRs.
    pub addresses: Vec<String>,
    /// Whether MetalLB assigns addresses from this pool automatically; `true` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_assign: Option<bool>,
    /// Skip addresses ending in `.0` and `.255`.
    #[serde(rename = "avoidBuggyIPs", skip_serializing_if = "Option::is_none")]
    pub avoid_buggy_ips: Option<bool>,
    /// Restricts the pool to some namespaces or Services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_allocation: Option<ServiceAllocation>,
}
