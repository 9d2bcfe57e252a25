//! Certificates, as plain Rust: what the `cert::` script namespace
//! (`src/script/cert.rs`) and the HTTPS checks build on.
//!
//! - [`inspect`](inspect_value) reads a certificate from PEM text, a
//!   `kubernetes.io/tls` Secret (as `kube::get` returns it) or a generated
//!   pair, and says what a check needs: names, issuer, validity, days left,
//!   serial, and whether the private key belongs to the certificate. Key
//!   material is never part of a result or an error message. [`covers`]
//!   applies the wildcard rules of RFC 6125 (`*.example.com` covers exactly
//!   one more label).
//! - [`generate`](self_signed): `self_signed`, `ca` and `issue` make local
//!   certificates (ECDSA P-256) for clusters without cert-manager and for tests.
//! - [`status`](certificate_status) reads a cert-manager Certificate.

mod generate;
mod inspect;
mod status;

pub use generate::{ca, issue, self_signed};
pub use inspect::{covers, fingerprint, inspect_der, inspect_pem, inspect_value, name_covers};
pub use status::{certificate_status, Status};

use serde::Serialize;

/// What `cert::inspect` returns.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Info {
    /// Subject distinguished name (`CN=example.com`).
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
    /// IP addresses of the subjectAltName extension.
    pub ip_addresses: Vec<String>,
    /// Start of validity, RFC 3339 (UTC).
    pub not_before: String,
    /// End of validity, RFC 3339 (UTC).
    pub not_after: String,
    /// Whole days until `not_after` (negative once expired).
    pub days_left: i64,
    /// Seconds until `not_after` (negative once expired).
    pub seconds_left: i64,
    /// Whether now lies between `not_before` and `not_after`.
    pub valid_now: bool,
    /// Whether `not_after` has passed.
    pub expired: bool,
    /// Serial number, hex bytes separated by `:`.
    pub serial: String,
    /// Whether the certificate is a CA (basicConstraints).
    pub is_ca: bool,
    /// Whether the private key given with it belongs to it; `None` without a key.
    pub key_matches: Option<bool>,
    /// Number of certificates in the PEM (the leaf plus its chain).
    pub chain_length: usize,
    /// SHA-256 of the certificate's DER encoding, hex bytes separated by `:`
    /// (the same certificate served and stored has the same fingerprint).
    pub fingerprint: String,
}

/// A generated certificate and its private key, both PEM.
#[derive(Clone, PartialEq)]
pub struct Pair {
    /// The certificate (PEM).
    pub cert: String,
    /// The private key (PKCS#8 PEM).
    pub key: String,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never show the key, not even in a test failure.
        f.debug_struct("Pair")
            .field("cert", &self.cert)
            .field("key", &"<private key>")
            .finish()
    }
}

/// Options of the generators.
#[derive(Debug, Clone)]
pub struct Options {
    /// Days from now until the certificate expires (negative: already expired).
    pub days: i64,
    /// Subject common name (default: the first name).
    pub common_name: Option<String>,
}
