//! `cert::` for scripts: inspect TLS certificates and generate local ones.
//!
//! `inspect` reads a certificate from PEM text, a `kubernetes.io/tls`
//! Secret (as `kube::get` returns it) or a generated pair, and says what a
//! check needs: names, issuer, validity, days left, serial, and whether the
//! private key belongs to the certificate. Key material is never part of a
//! result or an error message. `covers` applies the wildcard rules of
//! RFC 6125 (`*.example.com` covers exactly one more label). `status` reads
//! a cert-manager Certificate. `self_signed`, `ca` and `issue` make local
//! certificates (ECDSA P-256) for clusters without cert-manager and for tests.

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

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

fn rfc3339(timestamp: i64) -> String {
    OffsetDateTime::from_unix_timestamp(timestamp)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| timestamp.to_string())
}

fn pem_labels(blocks: &[Pem]) -> String {
    if blocks.is_empty() {
        "no PEM block at all".into()
    } else {
        let labels: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
        format!("only {}", labels.join(", "))
    }
}

fn pem_blocks(text: &str) -> Result<Vec<Pem>, String> {
    Pem::iter_from_buffer(text.as_bytes())
        .enumerate()
        .map(|(i, block)| block.map_err(|e| format!("PEM block {} is malformed: {e}", i + 1)))
        .collect()
}

/// Reads a certificate (and, if the text holds one, its private key) from PEM.
pub fn inspect_pem(cert_pem: &str, key_pem: Option<&str>) -> Result<Info, String> {
    let blocks = pem_blocks(cert_pem)?;
    let certs: Vec<&Pem> = blocks.iter().filter(|b| b.label == "CERTIFICATE").collect();
    let Some(leaf) = certs.first() else {
        return Err(format!(
            "no certificate found: expected a PEM block \"-----BEGIN CERTIFICATE-----\", found {}",
            pem_labels(&blocks)
        ));
    };
    let x509 = leaf
        .parse_x509()
        .map_err(|e| format!("the first certificate is not valid X.509: {e}"))?;
    // The key: given separately, or in the same text (a combined PEM file).
    let key_blocks = match key_pem {
        Some(k) => pem_blocks(k).map_err(|e| format!("the private key: {e}"))?,
        None => blocks.clone(),
    };
    let key = key_blocks.iter().find(|b| b.label.ends_with("PRIVATE KEY"));
    if key_pem.is_some() && key.is_none() {
        return Err(format!(
            "the private key: expected a PEM block \"-----BEGIN ... PRIVATE KEY-----\", found {}",
            pem_labels(&key_blocks)
        ));
    }
    let key_matches = match key {
        Some(block) => {
            let public = public_key_of(&block.label, &block.contents)?;
            Some(public.as_slice() == x509.public_key().subject_public_key.data.as_ref())
        }
        None => None,
    };
    Ok(info_of(&x509, &leaf.contents, key_matches, certs.len()))
}

/// Reads a DER certificate (as a TLS server presents it).
pub fn inspect_der(der: &[u8], chain_length: usize) -> Result<Info, String> {
    let (_, x509) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("the certificate is not valid X.509: {e}"))?;
    Ok(info_of(&x509, der, None, chain_length))
}

/// SHA-256 of `der`, hex bytes separated by `:`.
pub fn fingerprint(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn info_of(
    x509: &x509_parser::certificate::X509Certificate<'_>,
    der: &[u8],
    key_matches: Option<bool>,
    chain_length: usize,
) -> Info {
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Ok(Some(san)) = x509.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => dns_names.push(n.to_string()),
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        ip_addresses.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let not_before = x509.validity().not_before.timestamp();
    let not_after = x509.validity().not_after.timestamp();
    Info {
        subject: x509.subject().to_string(),
        issuer: x509.issuer().to_string(),
        dns_names,
        ip_addresses,
        not_before: rfc3339(not_before),
        not_after: rfc3339(not_after),
        days_left: (not_after - now).div_euclid(86_400),
        seconds_left: not_after - now,
        valid_now: not_before <= now && now <= not_after,
        expired: now > not_after,
        serial: x509.raw_serial_as_string(),
        is_ca: x509.is_ca(),
        key_matches,
        chain_length,
        fingerprint: fingerprint(der),
    }
}

/// The public key bytes (as in a certificate's subjectPublicKey) of a
/// private key: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1
/// (`EC PRIVATE KEY`), the encodings cert-manager and OpenSSL write.
fn public_key_of(label: &str, der: &[u8]) -> Result<Vec<u8>, String> {
    use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
    let rng = ring::rand::SystemRandom::new();
    let unreadable = |kind: &str| {
        format!("the private key ({kind}) cannot be read: it is malformed or of an unsupported algorithm (RSA, ECDSA P-256/P-384 and Ed25519 are supported)")
    };
    match label {
        "PRIVATE KEY" => {
            if let Ok(k) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
                return Ok(k.public_key().as_ref().to_vec());
            }
            for alg in [
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            ] {
                if let Ok(k) = EcdsaKeyPair::from_pkcs8(alg, der, &rng) {
                    return Ok(k.public_key().as_ref().to_vec());
                }
            }
            RsaKeyPair::from_pkcs8(der)
                .map(|k| k.public_key().as_ref().to_vec())
                .map_err(|_| unreadable("PKCS#8"))
        }
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(der)
            .map(|k| k.public_key().as_ref().to_vec())
            .map_err(|_| unreadable("PKCS#1 RSA")),
        "EC PRIVATE KEY" => {
            let (private, public) = sec1_parts(der).ok_or_else(|| unreadable("SEC1 EC"))?;
            // ring checks that the public key belongs to the private one.
            for alg in [
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            ] {
                if EcdsaKeyPair::from_private_key_and_public_key(alg, private, public, &rng).is_ok()
                {
                    return Ok(public.to_vec());
                }
            }
            Err(unreadable("SEC1 EC"))
        }
        other => Err(format!("{other} is not a supported private key format")),
    }
}

/// One DER element: (tag, contents, rest).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The private scalar and public point of a SEC1 `ECPrivateKey` (RFC 5915):
/// SEQUENCE { version, OCTET STRING key, [0] parameters OPTIONAL, [1] BIT STRING public key }.
fn sec1_parts(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (0x30, body, _) = der_element(der)? else {
        return None;
    };
    let (0x02, _version, rest) = der_element(body)? else {
        return None;
    };
    let (0x04, private, mut rest) = der_element(rest)? else {
        return None;
    };
    while !rest.is_empty() {
        let (tag, contents, next) = der_element(rest)?;
        if tag == 0xa1 {
            let (0x03, bits, _) = der_element(contents)? else {
                return None;
            };
            // The first byte of a BIT STRING counts unused bits (0 here).
            return Some((private, bits.get(1..)?));
        }
        rest = next;
    }
    None
}

/// Whether a certificate name (`a.example.com` or `*.example.com`) covers
/// `host`: exact (case-insensitive) or a wildcard standing for exactly one
/// whole label, so `*.example.com` covers `a.example.com` but neither
/// `example.com` nor `a.b.example.com`.
pub fn name_covers(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || pattern.is_empty() {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(parent) => {
            // A wildcard never covers a public suffix-like single label ("*.com" stays allowed
            // syntactically, but the parent needs a dot to be meaningful here).
            match host.split_once('.') {
                Some((label, rest)) => {
                    !label.is_empty() && label != "*" && rest == parent && parent.contains('.')
                }
                None => false,
            }
        }
        None => !pattern.contains('*') && pattern == host,
    }
}

/// Whether a certificate with these names covers `host` (an IP host is
/// matched against the IP addresses).
pub fn covers(info: &Info, host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return info
            .ip_addresses
            .iter()
            .any(|a| a.parse::<IpAddr>() == Ok(ip));
    }
    info.dns_names.iter().any(|n| name_covers(n, host))
}

/// Options of the generators.
#[derive(Debug, Clone)]
pub struct Options {
    /// Days from now until the certificate expires (negative: already expired).
    pub days: i64,
    /// Subject common name (default: the first name).
    pub common_name: Option<String>,
}

fn params(
    names: &[String],
    options: &Options,
    default_cn: &str,
) -> Result<rcgen::CertificateParams, String> {
    let mut params = rcgen::CertificateParams::default();
    for name in names {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => {
                crate::objects::validate::hostname(name)
                    .map_err(|e| format!("name {name:?} {e}"))?;
                rcgen::SanType::DnsName(
                    name.clone()
                        .try_into()
                        .map_err(|e| format!("name {name:?}: {e}"))?,
                )
            }
        };
        params.subject_alt_names.push(san);
    }
    let cn = options.common_name.as_deref().unwrap_or(default_cn);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let now = OffsetDateTime::now_utc();
    let not_after = now + Duration::days(options.days);
    // Valid from a day ago (clock skew), and always before it expires.
    params.not_before = now.min(not_after) - Duration::days(1);
    params.not_after = not_after;
    let mut serial = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
        .map_err(|_| "no randomness for a serial number".to_string())?;
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    Ok(params)
}

fn leaf_params(names: &[String], options: &Options) -> Result<rcgen::CertificateParams, String> {
    let Some(first) = names.first() else {
        return Err("give at least one name (a host such as \"*.example.com\" or an IP)".into());
    };
    let mut params = params(names, options, first)?;
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

fn key_pair() -> Result<rcgen::KeyPair, String> {
    rcgen::KeyPair::generate().map_err(|e| format!("cannot generate a key: {e}"))
}

/// A self-signed server certificate for `names` (DNS names or IPs).
pub fn self_signed(names: &[String], options: &Options) -> Result<Pair, String> {
    let key = key_pair()?;
    let cert = leaf_params(names, options)?
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    Ok(Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A local certificate authority named `common_name`.
pub fn ca(common_name: &str, options: &Options) -> Result<Pair, String> {
    let options = Options {
        common_name: Some(
            options
                .common_name
                .clone()
                .unwrap_or_else(|| common_name.to_string()),
        ),
        ..options.clone()
    };
    let mut params = params(&[], &options, common_name)?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let key = key_pair()?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the CA certificate: {e}"))?;
    Ok(Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A server certificate for `names` signed by the local CA `ca`. Its `cert`
/// holds the certificate followed by the CA's, as cert-manager writes tls.crt.
pub fn issue(ca: &Pair, names: &[String], options: &Options) -> Result<Pair, String> {
    let ca_key = rcgen::KeyPair::from_pem(&ca.key)
        .map_err(|_| "the CA's key is not a PKCS#8 PEM private key (use one cert::ca made)")?;
    let ca_info = inspect_pem(&ca.cert, Some(&ca.key)).map_err(|e| format!("the CA: {e}"))?;
    if ca_info.key_matches != Some(true) {
        return Err("the CA's key does not belong to its certificate".into());
    }
    if !ca_info.is_ca {
        return Err(format!(
            "the CA certificate ({}) is not a CA (no basicConstraints CA:TRUE)",
            ca_info.subject
        ));
    }
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca.cert, ca_key)
        .map_err(|e| format!("the CA certificate cannot be used: {e}"))?;
    let key = key_pair()?;
    let cert = leaf_params(names, options)?
        .signed_by(&key, &issuer)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    let chain_ca = pem_blocks(&ca.cert)?
        .into_iter()
        .find(|b| b.label == "CERTIFICATE")
        .map(|b| pem_encode("CERTIFICATE", &b.contents))
        .unwrap_or_default();
    Ok(Pair {
        cert: format!("{}{chain_ca}", cert.pem()),
        key: key.serialize_pem(),
    })
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The readiness of a cert-manager Certificate, as `cert::status` returns it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    /// `namespace/name`.
    pub name: String,
    /// Whether the Ready condition is True.
    pub ready: bool,
    /// The Ready condition's reason (`Ready`, `Issuing`, `DoesNotExist`, ...), or `None`.
    pub reason: Option<String>,
    /// The Ready condition's message, or a note that there is none.
    pub message: String,
    /// `status.notAfter`.
    pub not_after: Option<String>,
    /// `status.renewalTime`: when cert-manager will renew it.
    pub renewal_time: Option<String>,
    /// `spec.secretName`.
    pub secret: Option<String>,
    /// `spec.dnsNames`.
    pub dns_names: Vec<String>,
}

/// Reads a Certificate object (cert-manager.io) as the API server returns it.
pub fn certificate_status(object: &Value) -> Result<Status, String> {
    let text = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let kind = text("/kind").unwrap_or_default();
    let api = text("/apiVersion").unwrap_or_default();
    if kind != "Certificate" || !api.starts_with("cert-manager.io/") {
        return Err(format!(
            "expected a cert-manager.io Certificate, got {} {}",
            if api.is_empty() {
                "no apiVersion"
            } else {
                &api
            },
            if kind.is_empty() {
                "and no kind"
            } else {
                &kind
            }
        ));
    }
    let name = match (text("/metadata/namespace"), text("/metadata/name")) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n,
        _ => "(unnamed)".into(),
    };
    let ready = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        });
    let field = |c: Option<&Value>, k: &str| {
        c.and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(Status {
        name,
        ready: field(ready, "status").as_deref() == Some("True"),
        reason: field(ready, "reason"),
        message: field(ready, "message").unwrap_or_else(|| {
            "no Ready condition yet (cert-manager has not processed it; is cert-manager running?)"
                .into()
        }),
        not_after: text("/status/notAfter"),
        renewal_time: text("/status/renewalTime"),
        secret: text("/spec/secretName"),
        dns_names: crate::objects::string_list(object.pointer("/spec/dnsNames")),
    })
}

/// The certificate PEM (and key PEM, if present) of what a script passes:
/// PEM text, a Secret map (`data` base64 as the API returns it, or
/// `stringData`), or a pair from `cert::self_signed`/`ca`/`issue`.
fn cert_source(value: &Value) -> Result<(String, Option<String>), String> {
    match value {
        Value::String(text) => Ok((text.clone(), None)),
        Value::Object(map) if map.contains_key("cert") => {
            let cert = map.get("cert").and_then(Value::as_str).ok_or(
                "the map's cert must be PEM text (a pair from cert::self_signed, cert::ca or cert::issue)",
            )?;
            Ok((
                cert.to_string(),
                map.get("key").and_then(Value::as_str).map(str::to_string),
            ))
        }
        Value::Object(_) if value.get("kind").and_then(Value::as_str) == Some("Secret") => {
            let name = format!(
                "Secret {}/{}",
                value
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("?"),
                value
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            );
            let entry = |key: &str| -> Result<Option<String>, String> {
                if let Some(v) = value.pointer(&format!("/stringData/{key}")).and_then(Value::as_str) {
                    return Ok(Some(v.to_string()));
                }
                match value.get("data").and_then(|d| d.get(key)).and_then(Value::as_str) {
                    None => Ok(None),
                    Some(b64) => {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(b64.trim())
                            .map_err(|e| format!("{name}: {key} is not base64: {e}"))?;
                        String::from_utf8(bytes)
                            .map(Some)
                            .map_err(|_| format!("{name}: {key} is not PEM text"))
                    }
                }
            };
            let Some(cert) = entry("tls.crt")? else {
                let mut keys: Vec<&str> = ["data", "stringData"]
                    .iter()
                    .filter_map(|f| value.get(*f).and_then(Value::as_object))
                    .flat_map(|m| m.keys().map(String::as_str))
                    .collect();
                keys.sort();
                let has = if keys.is_empty() {
                    "no data at all".to_string()
                } else {
                    format!("only {}", keys.join(", "))
                };
                return Err(format!(
                    "{name} has no tls.crt ({has}); a TLS Secret (type kubernetes.io/tls) holds tls.crt and tls.key"
                ));
            };
            Ok((cert, entry("tls.key")?))
        }
        Value::Object(_) => Err(
            "expected PEM text, a Secret (kube::get) or a pair from cert::self_signed/ca/issue; got a map that is none of these"
                .into(),
        ),
        Value::Null => Err("expected a certificate, got () (did kube::get find nothing?)".into()),
        other => Err(format!(
            "expected PEM text, a Secret or a generated pair, not {}",
            crate::objects::strict::describe(other)
        )),
    }
}

/// Inspects what a script passes (see [`cert_source`]).
pub fn inspect_value(value: &Value) -> Result<Info, String> {
    let (cert, key) = cert_source(value)?;
    inspect_pem(&cert, key.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(days: i64) -> Options {
        Options {
            days,
            common_name: None,
        }
    }

    #[test]
    fn wildcards_cover_exactly_one_label() {
        assert!(name_covers("*.example.com", "a.example.com"));
        assert!(name_covers("*.example.com", "A.Example.COM."));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(!name_covers("*.example.com", "a.b.example.com"));
        assert!(!name_covers("*.example.com", ".example.com"));
        assert!(!name_covers("*.example.com", "a.example.org"));
        assert!(!name_covers("*.example.com", "aexample.com"));
        assert!(!name_covers("*.com", "example.com"));
        assert!(!name_covers("a*.example.com", "ab.example.com"));
        assert!(name_covers("example.com", "example.com"));
        assert!(!name_covers("example.com", "a.example.com"));
        assert!(!name_covers("*.example.com", ""));
    }

    #[test]
    fn self_signed_inspected() {
        let pair = self_signed(&["*.example.com".into(), "example.com".into()], &opts(30)).unwrap();
        let info = inspect_pem(&pair.cert, Some(&pair.key)).unwrap();
        assert_eq!(info.dns_names, ["*.example.com", "example.com"]);
        assert_eq!(info.subject, "CN=*.example.com");
        assert_eq!(info.issuer, info.subject);
        assert!((29..=30).contains(&info.days_left), "{info:?}");
        assert!(info.valid_now && !info.expired && !info.is_ca);
        assert_eq!(info.key_matches, Some(true));
        assert!(covers(&info, "a.example.com") && covers(&info, "example.com"));
        assert!(!covers(&info, "a.b.example.com"));
        // A combined PEM (certificate and key in one text).
        let both = inspect_pem(&format!("{}{}", pair.cert, pair.key), None).unwrap();
        assert_eq!(both.key_matches, Some(true));
        // Another key does not match.
        let other = self_signed(&["example.com".into()], &opts(30)).unwrap();
        let info = inspect_pem(&pair.cert, Some(&other.key)).unwrap();
        assert_eq!(info.key_matches, Some(false));
    }

    #[test]
    fn expired_and_ca_issued() {
        let ca = ca("wildrun test CA", &opts(365)).unwrap();
        let ca_info = inspect_pem(&ca.cert, Some(&ca.key)).unwrap();
        assert!(ca_info.is_ca && ca_info.key_matches == Some(true));
        let leaf = issue(&ca, &["a.example.com".into(), "10.0.0.1".into()], &opts(-2)).unwrap();
        let info = inspect_pem(&leaf.cert, Some(&leaf.key)).unwrap();
        assert!(info.expired && !info.valid_now, "{info:?}");
        assert_eq!(info.days_left, -2);
        assert_eq!(info.issuer, "CN=wildrun test CA");
        assert_eq!(info.chain_length, 2);
        assert_eq!(info.ip_addresses, ["10.0.0.1"]);
        assert!(covers(&info, "10.0.0.1"));
        assert_eq!(info.key_matches, Some(true));
        let not_ca = self_signed(&["x.example.com".into()], &opts(1)).unwrap();
        assert!(issue(&not_ca, &["a.example.com".into()], &opts(1))
            .unwrap_err()
            .contains("is not a CA"));
    }

    #[test]
    fn sec1_and_pkcs1_keys_are_read() {
        // OpenSSL-style EC key (SEC1): the pair from rcgen re-encoded.
        let key = rcgen::KeyPair::generate().unwrap();
        let pkcs8 = key.serialize_der();
        // PKCS#8 wraps the SEC1 key in an OCTET STRING: the last element.
        let (_, body, _) = der_element(&pkcs8).unwrap();
        let (_, _, rest) = der_element(body).unwrap();
        let (_, _, rest) = der_element(rest).unwrap();
        let (tag, sec1, _) = der_element(rest).unwrap();
        assert_eq!(tag, 0x04);
        let public = public_key_of("EC PRIVATE KEY", sec1).unwrap();
        assert_eq!(public, key.public_key_raw());
        assert!(public_key_of("RSA PRIVATE KEY", b"garbage").is_err());
    }

    #[test]
    fn bad_input_is_explained() {
        assert!(inspect_pem("hello", None)
            .unwrap_err()
            .contains("no certificate found"));
        let key_only = self_signed(&["a.example.com".into()], &opts(1))
            .unwrap()
            .key;
        let err = inspect_pem(&key_only, None).unwrap_err();
        assert!(err.contains("found only PRIVATE KEY"), "{err}");
        assert!(!err.contains("MII"), "no key material in errors: {err}");
        let broken = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        assert!(inspect_pem(broken, None).is_err());
        let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "n"}, "data": {"ca.crt": "eA=="}});
        let err = inspect_value(&secret).unwrap_err();
        assert!(
            err.contains("Secret n/s has no tls.crt (only ca.crt)"),
            "{err}"
        );
    }

    #[test]
    fn certificate_status_reads_ready() {
        let object = serde_json::json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "wild", "namespace": "cert-manager"},
            "spec": {"secretName": "wild-tls", "dnsNames": ["*.example.com"]},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Issuing", "message": "Issuing certificate"}],
                       "renewalTime": "2030-01-01T00:00:00Z"}});
        let s = certificate_status(&object).unwrap();
        assert!(!s.ready);
        assert_eq!(s.reason.as_deref(), Some("Issuing"));
        assert_eq!(s.renewal_time.as_deref(), Some("2030-01-01T00:00:00Z"));
        assert_eq!(s.secret.as_deref(), Some("wild-tls"));
        let err = certificate_status(&serde_json::json!({"apiVersion": "v1", "kind": "Secret"}))
            .unwrap_err();
        assert!(
            err.contains("expected a cert-manager.io Certificate"),
            "{err}"
        );
    }
}
