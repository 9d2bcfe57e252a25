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
pub(crate) use inspect::{covers, inspect_der, inspect_value};
pub(crate) use status::{certificate_status, CertificateStatus};

/// Why a certificate could not be read, made or judged. Each message names
/// the input at fault (which PEM block, which Secret and key, which name) and,
/// where there is one, what would be accepted instead; key material never
/// appears in one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CertError {
    /// A PEM block of the certificate text cannot be decoded.
    #[error("PEM block {block} is malformed: {reason}")]
    MalformedPem {
        /// The block's position, from 1.
        block: usize,
        /// What the PEM reader said.
        reason: String,
    },
    /// A PEM block of the private key's text cannot be decoded.
    #[error("the private key: PEM block {block} is malformed: {reason}")]
    MalformedKeyPem {
        /// The block's position, from 1.
        block: usize,
        /// What the PEM reader said.
        reason: String,
    },
    /// The text holds no `CERTIFICATE` block.
    #[error("no certificate found: expected a PEM block \"-----BEGIN CERTIFICATE-----\", found {}", blocks_found(.found))]
    NoCertificate {
        /// The labels of the blocks it holds instead.
        found: Vec<String>,
    },
    /// The first `CERTIFICATE` block is not an X.509 certificate.
    #[error("the first certificate is not valid X.509: {0}")]
    InvalidPem(String),
    /// DER bytes (as a TLS server sent them) are not an X.509 certificate.
    #[error("the certificate is not valid X.509: {0}")]
    InvalidDer(String),
    /// The private key's text holds no `... PRIVATE KEY` block.
    #[error("the private key: expected a PEM block \"-----BEGIN ... PRIVATE KEY-----\", found {}", blocks_found(.found))]
    NoPrivateKey {
        /// The labels of the blocks it holds instead.
        found: Vec<String>,
    },
    /// A private key block that cannot be read.
    #[error("the private key ({encoding}) cannot be read: it is malformed or of an unsupported algorithm (RSA, ECDSA P-256/P-384 and Ed25519 are supported)")]
    UnreadableKey {
        /// The encoding its label announced: `PKCS#8`, `PKCS#1 RSA`, `SEC1 EC`.
        encoding: &'static str,
    },
    /// A private key block of a format wildrun does not read.
    #[error("{label} is not a supported private key format")]
    UnsupportedKeyFormat {
        /// The block's label (`ENCRYPTED PRIVATE KEY`, ...).
        label: String,
    },
    /// A map with `cert` whose `cert` is not text.
    #[error(
        "the map's cert must be PEM text (a pair from cert::self_signed, cert::ca or cert::issue)"
    )]
    PairCertNotText,
    /// A Secret's entry whose `data` is not base64.
    #[error("Secret {secret}: {key} is not base64: {reason}")]
    SecretNotBase64 {
        /// `namespace/name` (`?` for what the object does not say).
        secret: String,
        /// The entry: `tls.crt` or `tls.key`.
        key: String,
        /// What the decoder said.
        reason: String,
    },
    /// A Secret's entry that decodes to bytes that are not text.
    #[error("Secret {secret}: {key} is not PEM text")]
    SecretNotText {
        /// `namespace/name` (`?` for what the object does not say).
        secret: String,
        /// The entry: `tls.crt` or `tls.key`.
        key: String,
    },
    /// A Secret without `tls.crt`.
    #[error("Secret {secret} has no tls.crt ({}); a TLS Secret (type kubernetes.io/tls) holds tls.crt and tls.key", entries_found(.found))]
    NoTlsCrt {
        /// `namespace/name` (`?` for what the object does not say).
        secret: String,
        /// The keys of its `data` and `stringData`, sorted.
        found: Vec<String>,
    },
    /// A map that is neither a Secret nor a generated pair.
    #[error("expected PEM text, a Secret (kube::get) or a pair from cert::self_signed/ca/issue; got a map that is none of these")]
    UnknownMap,
    /// Nothing at all (what `kube::get` returns for a missing object).
    #[error("expected a certificate, got () (did kube::get find nothing?)")]
    Nothing,
    /// A value of the wrong type.
    #[error("expected PEM text, a Secret or a generated pair, not {found}")]
    NotACertificate {
        /// The type it is: `a number`, `a list`, ...
        found: &'static str,
    },
    /// A name for a generated certificate that is no valid host name.
    #[error("name {name:?} {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it is not a host name.
        reason: String,
    },
    /// A valid host name that rcgen still refuses.
    #[error("name {name:?}: {reason}")]
    UnusableName {
        /// The name as given.
        name: String,
        /// What rcgen said.
        reason: String,
    },
    /// A generator called without any name.
    #[error("give at least one name (a host such as \"*.example.com\" or an IP)")]
    NoNames,
    /// The system gave no random bytes for a serial number.
    #[error("no randomness for a serial number")]
    NoRandomness,
    /// A key pair cannot be generated.
    #[error("cannot generate a key: {0}")]
    KeyGeneration(String),
    /// A server certificate cannot be signed.
    #[error("cannot sign the certificate: {0}")]
    Signing(String),
    /// A CA certificate cannot be signed.
    #[error("cannot sign the CA certificate: {0}")]
    CaSigning(String),
    /// The CA's key is not PKCS#8 PEM, which is all rcgen signs with.
    #[error("the CA's key is not a PKCS#8 PEM private key (use one cert::ca made)")]
    CaKeyNotPkcs8,
    /// The CA's certificate or key cannot be read. The cause is part of the
    /// message, not a `source`, so a report that walks the chain does not
    /// say it twice.
    #[error("the CA: {0}")]
    UnreadableCa(Box<CertError>),
    /// The CA's key is not the one its certificate names.
    #[error("the CA's key does not belong to its certificate")]
    CaKeyMismatch,
    /// The "CA" certificate may not sign others.
    #[error("the CA certificate ({subject}) is not a CA (no basicConstraints CA:TRUE)")]
    NotACa {
        /// Its subject, so a person can tell which certificate it is.
        subject: String,
    },
    /// rcgen cannot use the CA certificate as an issuer.
    #[error("the CA certificate cannot be used: {0}")]
    UnusableCa(String),
    /// An object that is not a cert-manager Certificate.
    #[error("expected a cert-manager.io Certificate, got {} {}", .api_version.as_deref().unwrap_or("no apiVersion"), .kind.as_deref().unwrap_or("and no kind"))]
    NotACertificateObject {
        /// Its `apiVersion`, if it has one.
        api_version: Option<String>,
        /// Its `kind`, if it has one.
        kind: Option<String>,
    },
}

/// PEM block labels, for a message: "only CERTIFICATE, PRIVATE KEY".
fn blocks_found(labels: &[String]) -> String {
    if labels.is_empty() {
        "no PEM block at all".into()
    } else {
        format!("only {}", labels.join(", "))
    }
}

/// A Secret's keys, for a message: "only ca.crt".
fn entries_found(keys: &[String]) -> String {
    if keys.is_empty() {
        "no data at all".into()
    } else {
        format!("only {}", keys.join(", "))
    }
}

use serde::{Deserialize, Serialize};

/// What `cert::inspect` returns. The default is empty: a certificate that
/// names nothing (what `cert::covers` is given as a plain list of names).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Info {
    /// Subject distinguished name (`CN=example.com`).
    pub(crate) subject: String,
    /// Issuer distinguished name.
    pub(crate) issuer: String,
    /// DNS names of the subjectAltName extension.
    pub(crate) dns_names: Vec<String>,
    /// IP addresses of the subjectAltName extension.
    pub(crate) ip_addresses: Vec<String>,
    /// Start of validity, RFC 3339 (UTC).
    pub(crate) not_before: String,
    /// End of validity, RFC 3339 (UTC).
    pub(crate) not_after: String,
    /// Whole days until `not_after` (negative once expired).
    pub(crate) days_left: i64,
    /// Seconds until `not_after` (negative once expired).
    pub(crate) seconds_left: i64,
    /// Whether now lies between `not_before` and `not_after`.
    pub(crate) valid_now: bool,
    /// Whether `not_after` has passed.
    pub(crate) expired: bool,
    /// Serial number, hex bytes separated by `:`.
    pub(crate) serial: String,
    /// Whether the certificate is a CA (basicConstraints).
    pub(crate) is_ca: bool,
    /// Whether the private key given with it belongs to it; `None` without a key.
    pub(crate) key_matches: Option<bool>,
    /// Number of certificates in the PEM (the leaf plus its chain).
    pub(crate) chain_length: usize,
    /// SHA-256 of the certificate's DER encoding, hex bytes separated by `:`
    /// (the same certificate served and stored has the same fingerprint).
    pub(crate) fingerprint: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_never_shows_its_key() {
        let pair = Pair {
            cert: "the certificate".into(),
            key: "SECRET KEY MATERIAL".into(),
        };
        let shown = format!("{pair:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<private key>") && shown.contains("the certificate"));
    }
}
