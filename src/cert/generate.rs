//! Making local certificates (ECDSA P-256, with rcgen): self-signed server
//! certificates, a local CA, and server certificates that CA signs, for
//! clusters without cert-manager and for tests.

use super::inspect::{inspect_pem, pem_blocks};
use super::{CertError, Options, Pair};
use base64::Engine as _;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

/// What every generated certificate shares: its names (subjectAltName), its
/// common name, its validity and a random serial.
fn params(
    names: &[String],
    options: &Options,
    default_cn: &str,
) -> Result<rcgen::CertificateParams, CertError> {
    let mut params = rcgen::CertificateParams::default();
    for name in names {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => {
                crate::objects::validate::hostname(name).map_err(|reason| {
                    CertError::InvalidName {
                        name: name.clone(),
                        reason,
                    }
                })?;
                rcgen::SanType::DnsName(name.clone().try_into().map_err(|e: rcgen::Error| {
                    CertError::UnusableName {
                        name: name.clone(),
                        reason: e.to_string(),
                    }
                })?)
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
        .map_err(|_| CertError::NoRandomness)?;
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    Ok(params)
}

/// A server certificate's parameters: not a CA, for TLS server authentication.
fn leaf_params(names: &[String], options: &Options) -> Result<rcgen::CertificateParams, CertError> {
    let Some(first) = names.first() else {
        return Err(CertError::NoNames);
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

/// A new ECDSA P-256 key pair (rcgen's default).
fn key_pair() -> Result<rcgen::KeyPair, CertError> {
    rcgen::KeyPair::generate().map_err(|e| CertError::KeyGeneration(e.to_string()))
}

/// A self-signed server certificate for `names` (DNS names or IPs).
pub fn self_signed(names: &[String], options: &Options) -> Result<Pair, CertError> {
    let key = key_pair()?;
    let cert = leaf_params(names, options)?
        .self_signed(&key)
        .map_err(|e| CertError::Signing(e.to_string()))?;
    Ok(Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A local certificate authority named `common_name`.
pub fn ca(common_name: &str, options: &Options) -> Result<Pair, CertError> {
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
        .map_err(|e| CertError::CaSigning(e.to_string()))?;
    Ok(Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A server certificate for `names` signed by the local CA `ca`. Its `cert`
/// holds the certificate followed by the CA's, as cert-manager writes tls.crt.
pub fn issue(ca: &Pair, names: &[String], options: &Options) -> Result<Pair, CertError> {
    let ca_key = rcgen::KeyPair::from_pem(&ca.key).map_err(|_| CertError::CaKeyNotPkcs8)?;
    let ca_info =
        inspect_pem(&ca.cert, Some(&ca.key)).map_err(|e| CertError::UnreadableCa(Box::new(e)))?;
    if ca_info.key_matches != Some(true) {
        return Err(CertError::CaKeyMismatch);
    }
    if !ca_info.is_ca {
        return Err(CertError::NotACa {
            subject: ca_info.subject,
        });
    }
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca.cert, ca_key)
        .map_err(|e| CertError::UnusableCa(e.to_string()))?;
    let key = key_pair()?;
    let cert = leaf_params(names, options)?
        .signed_by(&key, &issuer)
        .map_err(|e| CertError::Signing(e.to_string()))?;
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

/// `der` as a PEM block labelled `label`, 64 base64 characters a line.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::covers;

    fn opts(days: i64) -> Options {
        Options {
            days,
            common_name: None,
        }
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
            .to_string()
            .contains("is not a CA"));
        assert_eq!(
            issue(&not_ca, &["a.example.com".into()], &opts(1)).unwrap_err(),
            CertError::NotACa {
                subject: "CN=x.example.com".into()
            }
        );
    }

    #[test]
    fn names_are_checked_before_anything_is_made() {
        assert_eq!(
            self_signed(&[], &opts(1)).unwrap_err().to_string(),
            "give at least one name (a host such as \"*.example.com\" or an IP)"
        );
        assert_eq!(
            self_signed(&["localhost".into()], &opts(1))
                .unwrap_err()
                .to_string(),
            "name \"localhost\" must be a fully qualified name (at least two labels)"
        );
        // A CA needs no name of its own but its common name.
        assert!(ca("only a CN", &opts(1)).is_ok());
    }

    #[test]
    fn common_name_and_validity_follow_the_options() {
        let options = Options {
            days: 10,
            common_name: Some("wildrun test".into()),
        };
        let info = crate::cert::inspect::inspect_pem(
            &self_signed(&["a.example.com".into()], &options)
                .unwrap()
                .cert,
            None,
        )
        .unwrap();
        assert_eq!(info.subject, "CN=wildrun test");
        assert!((9..=10).contains(&info.days_left), "{info:?}");
        let ca_info =
            crate::cert::inspect::inspect_pem(&ca("the CA", &opts(1)).unwrap().cert, None).unwrap();
        assert_eq!(ca_info.subject, "CN=the CA");
    }

    #[test]
    fn a_ca_must_be_whole_and_a_ca() {
        let ca_pair = ca("wildrun test CA", &opts(1)).unwrap();
        let other = ca("another CA", &opts(1)).unwrap();
        let names = ["a.example.com".to_string()];
        let mixed = Pair {
            cert: ca_pair.cert.clone(),
            key: other.key.clone(),
        };
        assert_eq!(
            issue(&mixed, &names, &opts(1)).unwrap_err(),
            CertError::CaKeyMismatch
        );
        let bad_key = Pair {
            cert: ca_pair.cert.clone(),
            key: "not a key".into(),
        };
        assert_eq!(
            issue(&bad_key, &names, &opts(1)).unwrap_err().to_string(),
            "the CA's key is not a PKCS#8 PEM private key (use one cert::ca made)"
        );
        let no_cert = Pair {
            cert: "hello".into(),
            key: ca_pair.key.clone(),
        };
        assert_eq!(
            issue(&no_cert, &names, &opts(1)).unwrap_err().to_string(),
            "the CA: no certificate found: expected a PEM block \"-----BEGIN CERTIFICATE-----\", found no PEM block at all"
        );
    }
}
