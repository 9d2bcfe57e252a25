//! Reading certificates: PEM and DER parsing, fingerprints, whether a private
//! key belongs to a certificate, and which host names a certificate covers.
//! Key material is read only to derive its public key; it is never part of a
//! result or an error message.

use super::{CertError, Info};
use base64::Engine as _;
use serde_json::Value;
use std::net::IpAddr;
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

fn rfc3339(timestamp: i64) -> String {
    OffsetDateTime::from_unix_timestamp(timestamp)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| timestamp.to_string())
}

/// The labels of PEM blocks, for an error saying what was found instead.
fn labels(blocks: &[Pem]) -> Vec<String> {
    blocks.iter().map(|b| b.label.clone()).collect()
}

/// Every PEM block of `text`, in order.
pub(super) fn pem_blocks(text: &str) -> Result<Vec<Pem>, CertError> {
    Pem::iter_from_buffer(text.as_bytes())
        .enumerate()
        .map(|(i, block)| {
            block.map_err(|e| CertError::MalformedPem {
                block: i + 1,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// The same fault, said of the private key's text (given apart from the
/// certificate's, so "PEM block 1" alone would point at the wrong text).
fn in_private_key(error: CertError) -> CertError {
    match error {
        CertError::MalformedPem { block, reason } => CertError::MalformedKeyPem { block, reason },
        other => other,
    }
}

/// Reads a certificate (and, if the text holds one, its private key) from PEM.
pub(crate) fn inspect_pem(cert_pem: &str, key_pem: Option<&str>) -> Result<Info, CertError> {
    let blocks = pem_blocks(cert_pem)?;
    let certs: Vec<&Pem> = blocks.iter().filter(|b| b.label == "CERTIFICATE").collect();
    let Some(leaf) = certs.first() else {
        return Err(CertError::NoCertificate {
            found: labels(&blocks),
        });
    };
    let x509 = leaf
        .parse_x509()
        .map_err(|e| CertError::InvalidPem(e.to_string()))?;
    // The key: given separately, or in the same text (a combined PEM file).
    let key_blocks = match key_pem {
        Some(k) => pem_blocks(k).map_err(in_private_key)?,
        None => blocks.clone(),
    };
    let key = key_blocks.iter().find(|b| b.label.ends_with("PRIVATE KEY"));
    if key_pem.is_some() && key.is_none() {
        return Err(CertError::NoPrivateKey {
            found: labels(&key_blocks),
        });
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
pub(crate) fn inspect_der(der: &[u8], chain_length: usize) -> Result<Info, CertError> {
    let (_, x509) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| CertError::InvalidDer(e.to_string()))?;
    Ok(info_of(&x509, der, None, chain_length))
}

/// SHA-256 of `der`, hex bytes separated by `:`.
pub(crate) fn fingerprint(der: &[u8]) -> String {
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
fn public_key_of(label: &str, der: &[u8]) -> Result<Vec<u8>, CertError> {
    use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
    let rng = ring::rand::SystemRandom::new();
    let unreadable = |encoding| CertError::UnreadableKey { encoding };
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
        other => Err(CertError::UnsupportedKeyFormat {
            label: other.to_string(),
        }),
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
pub(crate) fn name_covers(pattern: &str, host: &str) -> bool {
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
pub(crate) fn covers(info: &Info, host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return info
            .ip_addresses
            .iter()
            .any(|a| a.parse::<IpAddr>() == Ok(ip));
    }
    info.dns_names.iter().any(|n| name_covers(n, host))
}

/// The certificate PEM (and key PEM, if present) of what a script passes:
/// PEM text, a Secret map (`data` base64 as the API returns it, or
/// `stringData`), or a pair from `cert::self_signed`/`ca`/`issue`.
fn cert_source(value: &Value) -> Result<(String, Option<String>), CertError> {
    match value {
        Value::String(text) => Ok((text.clone(), None)),
        Value::Object(map) if map.contains_key("cert") => {
            let cert = map
                .get("cert")
                .and_then(Value::as_str)
                .ok_or(CertError::PairCertNotText)?;
            Ok((
                cert.to_string(),
                map.get("key").and_then(Value::as_str).map(str::to_string),
            ))
        }
        Value::Object(_) if value.get("kind").and_then(Value::as_str) == Some("Secret") => {
            secret_source(value)
        }
        Value::Object(_) => Err(CertError::UnknownMap),
        Value::Null => Err(CertError::Nothing),
        other => Err(CertError::NotACertificate {
            found: crate::objects::strict::describe(other),
        }),
    }
}

/// `tls.crt` and `tls.key` of a Secret: from `stringData` as written, else
/// from `data` (base64, as the API server returns it).
fn secret_source(secret: &Value) -> Result<(String, Option<String>), CertError> {
    let text = |pointer: &str| secret.pointer(pointer).and_then(Value::as_str);
    let name = format!(
        "{}/{}",
        text("/metadata/namespace").unwrap_or("?"),
        text("/metadata/name").unwrap_or("?")
    );
    let entry = |key: &str| -> Result<Option<String>, CertError> {
        if let Some(v) = text(&format!("/stringData/{key}")) {
            return Ok(Some(v.to_string()));
        }
        let Some(b64) = secret
            .get("data")
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| CertError::SecretNotBase64 {
                secret: name.clone(),
                key: key.to_string(),
                reason: e.to_string(),
            })?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| CertError::SecretNotText {
                secret: name.clone(),
                key: key.to_string(),
            })
    };
    let Some(cert) = entry("tls.crt")? else {
        let mut found: Vec<String> = ["data", "stringData"]
            .iter()
            .filter_map(|f| secret.get(*f).and_then(Value::as_object))
            .flat_map(|m| m.keys().cloned())
            .collect();
        found.sort();
        return Err(CertError::NoTlsCrt {
            secret: name,
            found,
        });
    };
    Ok((cert, entry("tls.key")?))
}

/// Inspects what a script passes: PEM text, a `kubernetes.io/tls` Secret
/// (`data` base64 as the API returns it, or `stringData`) or a generated
/// pair (`#{ cert, key }`).
pub(crate) fn inspect_value(value: &Value) -> Result<Info, CertError> {
    let (cert, key) = cert_source(value)?;
    inspect_pem(&cert, key.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::{self_signed, Options};

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
            .to_string()
            .contains("no certificate found"));
        let key_only = self_signed(&["a.example.com".into()], &opts(1))
            .unwrap()
            .key;
        let err = inspect_pem(&key_only, None).unwrap_err().to_string();
        assert!(err.contains("found only PRIVATE KEY"), "{err}");
        assert!(!err.contains("MII"), "no key material in errors: {err}");
        let broken = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        assert!(inspect_pem(broken, None).is_err());
        let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "n"}, "data": {"ca.crt": "eA=="}});
        let err = inspect_value(&secret).unwrap_err().to_string();
        assert!(
            err.contains("Secret n/s has no tls.crt (only ca.crt)"),
            "{err}"
        );
    }

    /// Certificate names as `inspect` reports them, for `covers`.
    fn names(dns_names: &[&str], ip_addresses: &[&str]) -> Info {
        Info {
            dns_names: dns_names.iter().map(|n| n.to_string()).collect(),
            ip_addresses: ip_addresses.iter().map(|n| n.to_string()).collect(),
            ..Info::default()
        }
    }

    #[test]
    fn name_coverage_ignores_case_and_the_final_dot_only() {
        assert!(name_covers("Example.COM.", "example.com"));
        assert!(name_covers("*.Example.com", "WWW.example.COM"));
        assert!(name_covers("*.example.com.", "www.example.com"));
        // A wildcard stands for a label, never for a wildcard or nothing.
        assert!(!name_covers("*.example.com", "*.example.com"));
        assert!(!name_covers("*", "example.com"));
        assert!(!name_covers("", "example.com"));
        assert!(!name_covers("example.com", "example.com.org"));
    }

    #[test]
    fn covers_matches_addresses_as_addresses_and_hosts_by_name() {
        let info = names(&["*.example.com", "10.0.0.9"], &["10.0.0.1", "fd00::1"]);
        assert!(covers(&info, "10.0.0.1"));
        // The same IPv6 address written another way.
        assert!(covers(&info, "fd00:0:0::1"));
        assert!(!covers(&info, "10.0.0.2"));
        // An IP host is looked for among the IP addresses only.
        assert!(!covers(&info, "10.0.0.9"));
        assert!(covers(&info, "WWW.Example.com"));
        assert!(!covers(&info, "a.www.example.com"));
        assert!(!covers(&info, "example.com"));
        assert!(!covers(&names(&[], &[]), "example.com"));
    }

    #[test]
    fn pem_faults_say_which_text_and_what_was_found() {
        let err = inspect_pem("hello", None).unwrap_err();
        assert_eq!(err, CertError::NoCertificate { found: vec![] });
        assert_eq!(
            err.to_string(),
            "no certificate found: expected a PEM block \"-----BEGIN CERTIFICATE-----\", found no PEM block at all"
        );
        let pair = self_signed(&["a.example.com".into()], &opts(1)).unwrap();
        // The certificate given where its key belongs.
        let err = inspect_pem(&pair.cert, Some(&pair.cert)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the private key: expected a PEM block \"-----BEGIN ... PRIVATE KEY-----\", found only CERTIFICATE"
        );
        let broken_key = "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n";
        let err = inspect_pem(&pair.cert, Some(broken_key)).unwrap_err();
        assert!(
            matches!(err, CertError::MalformedKeyPem { block: 1, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("the private key: PEM block 1 is malformed: "),
            "{err}"
        );
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(
            inspect_pem(&pair.cert, Some(encrypted))
                .unwrap_err()
                .to_string(),
            "ENCRYPTED PRIVATE KEY is not a supported private key format"
        );
        assert_eq!(
            public_key_of("PRIVATE KEY", b"garbage")
                .unwrap_err()
                .to_string(),
            "the private key (PKCS#8) cannot be read: it is malformed or of an unsupported algorithm (RSA, ECDSA P-256/P-384 and Ed25519 are supported)"
        );
    }

    #[test]
    fn der_and_pem_give_the_same_fingerprint() {
        let pair = self_signed(&["a.example.com".into()], &opts(1)).unwrap();
        let blocks = pem_blocks(&pair.cert).unwrap();
        let from_pem = inspect_pem(&pair.cert, None).unwrap();
        let from_der = inspect_der(&blocks[0].contents, 1).unwrap();
        assert_eq!(from_pem.fingerprint, from_der.fingerprint);
        assert_eq!(from_der.key_matches, None);
        // SHA-256 of nothing, as sha256sum prints it, in pairs.
        assert!(fingerprint(b"").starts_with("e3:b0:c4:42:98:fc:1c:14"));
        assert_eq!(fingerprint(b"").len(), 32 * 3 - 1);
        assert!(inspect_der(b"not DER", 1)
            .unwrap_err()
            .to_string()
            .starts_with("the certificate is not valid X.509: "));
    }

    #[test]
    fn secrets_pairs_and_other_values_as_sources() {
        use base64::engine::general_purpose::STANDARD;
        let pair = self_signed(&["a.example.com".into()], &opts(1)).unwrap();
        let secret = serde_json::json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
            "data": {"tls.crt": STANDARD.encode(&pair.cert), "tls.key": STANDARD.encode(&pair.key)}});
        assert_eq!(inspect_value(&secret).unwrap().key_matches, Some(true));
        // stringData is what was written last: it wins over data.
        let written = serde_json::json!({"kind": "Secret", "stringData": {"tls.crt": pair.cert},
            "data": {"tls.crt": "not base64!"}});
        assert_eq!(inspect_value(&written).unwrap().key_matches, None);
        let pair_map = serde_json::json!({"cert": pair.cert, "key": pair.key});
        assert_eq!(inspect_value(&pair_map).unwrap().key_matches, Some(true));

        let err = |value: serde_json::Value| inspect_value(&value).unwrap_err().to_string();
        assert_eq!(
            err(serde_json::json!({"kind": "Secret"})),
            "Secret ?/? has no tls.crt (no data at all); a TLS Secret (type kubernetes.io/tls) holds tls.crt and tls.key"
        );
        assert!(err(
            serde_json::json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
            "data": {"tls.crt": "not base64!"}})
        )
        .starts_with("Secret n/s: tls.crt is not base64: "));
        assert_eq!(
            err(
                serde_json::json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                "data": {"tls.crt": STANDARD.encode([0xff, 0xfe])}})
            ),
            "Secret n/s: tls.crt is not PEM text"
        );
        assert_eq!(
            err(serde_json::json!({"cert": 1})),
            "the map's cert must be PEM text (a pair from cert::self_signed, cert::ca or cert::issue)"
        );
        assert_eq!(
            err(serde_json::json!({"kind": "ConfigMap"})),
            "expected PEM text, a Secret (kube::get) or a pair from cert::self_signed/ca/issue; got a map that is none of these"
        );
        assert_eq!(
            err(serde_json::Value::Null),
            "expected a certificate, got () (did kube::get find nothing?)"
        );
        assert_eq!(
            err(serde_json::json!([1])),
            "expected PEM text, a Secret or a generated pair, not a list"
        );
    }
}
