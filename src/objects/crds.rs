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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// The private key cert-manager generates for a certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificatePrivateKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
}

/// X.509 subject fields of a certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct X509Subject {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub countries: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizational_units: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub localities: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provinces: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_addresses: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_codes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
}

/// cert-manager `Certificate` (cert-manager.io/v1): a request for a certificate
/// that cert-manager keeps issued and renewed in `secretName`.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Certificate",
    namespaced
)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    /// Secret cert-manager writes the key pair into.
    pub secret_name: String,
    /// The issuer that signs the certificate.
    pub issuer_ref: IssuerRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renew_before_percentage: Option<i32>,
    /// Renewal policy (cert-manager 1.21+): validated by the API server's schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewal: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_addresses: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_names: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<X509Subject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub literal_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_template: Option<SecretTemplate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keystores: Option<Value>,
    #[serde(rename = "isCA", skip_serializing_if = "Option::is_none")]
    pub is_ca: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usages: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<CertificatePrivateKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encode_usages_in_request: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_output_formats: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_constraints: Option<Value>,
}

/// A secret key selector used by ACME account keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// ACME (e.g. Let's Encrypt) issuer configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuer {
    pub server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub private_key_secret_ref: SecretKeySelector,
    /// Challenge solvers (HTTP-01, DNS-01): validated by the API server's schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solvers: Option<Vec<Value>>,
    #[serde(rename = "skipTLSVerify", skip_serializing_if = "Option::is_none")]
    pub skip_tls_verify: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_chain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_account_key_generation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_duration_feature: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// An issuer that signs with a CA key pair stored in a Secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaIssuer {
    pub secret_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_distribution_points: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocsp_servers: Option<Vec<String>>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_distribution_points: Option<Vec<String>>,
}

/// cert-manager `ClusterIssuer` (cert-manager.io/v1): an issuer usable from every namespace.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(group = "cert-manager.io", version = "v1", kind = "ClusterIssuer")]
#[serde(rename_all = "camelCase")]
pub struct ClusterIssuerSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeIssuer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaIssuer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<SelfSignedIssuer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub venafi: Option<Value>,
}

/// How Traefik picks the client IP it checks against an allow list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpStrategy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<i64>,
    #[serde(rename = "excludedIPs", skip_serializing_if = "Option::is_none")]
    pub excluded_ips: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_subnet: Option<i64>,
}

/// Traefik's `ipAllowList` middleware: only clients in `sourceRange` get through.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpAllowList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_range: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_strategy: Option<IpStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_status_code: Option<i64>,
}

/// Traefik `Middleware` (traefik.io/v1alpha1). Exactly one middleware kind is set.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "traefik.io",
    version = "v1alpha1",
    kind = "Middleware",
    namespaced
)]
#[serde(rename_all = "camelCase")]
pub struct MiddlewareSpec {
    #[serde(rename = "ipAllowList", skip_serializing_if = "Option::is_none")]
    pub ip_allow_list: Option<IpAllowList>,
    #[serde(rename = "ipWhiteList", skip_serializing_if = "Option::is_none")]
    pub ip_white_list: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_prefix: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffering: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compress: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_auth: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoded_characters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_auth: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_web: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight_req: Option<Value>,
    #[serde(rename = "passTLSClientCert", skip_serializing_if = "Option::is_none")]
    pub pass_tls_client_cert: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_regex: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_scheme: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_path: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_path_regex: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strip_prefix: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strip_prefix_regex: Option<Value>,
}

/// Which services may take addresses from a MetalLB pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAllocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selectors: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_selectors: Option<Vec<Value>>,
}

/// MetalLB `IPAddressPool` (metallb.io/v1beta1): addresses MetalLB hands to LoadBalancer Services.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "metallb.io",
    version = "v1beta1",
    kind = "IPAddressPool",
    namespaced
)]
#[serde(rename_all = "camelCase")]
pub struct IPAddressPoolSpec {
    /// Ranges (`192.168.8.240-192.168.8.250`) or CIDRs.
    pub addresses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_assign: Option<bool>,
    #[serde(rename = "avoidBuggyIPs", skip_serializing_if = "Option::is_none")]
    pub avoid_buggy_ips: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_allocation: Option<ServiceAllocation>,
}
