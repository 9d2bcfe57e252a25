//! Syntax checks Kubernetes applies to names, hosts, labels and ports, run
//! before anything is printed or sent so a bad value is reported with the
//! script line that produced it rather than as an API server rejection.

/// Checks a DNS-1123 label: 1–63 lowercase letters, digits and `-`, starting
/// and ending with a letter or digit (Namespace and Service names, recipe names).
pub(crate) fn dns1123_label(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > 63 {
        return Err(format!(
            "is {} characters long; at most 63 are allowed",
            value.len()
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "contains {c:?}; only lowercase letters, digits and '-' are allowed"
        ));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Checks a DNS-1123 subdomain: dot-separated labels, at most 253 characters
/// (names of most Kubernetes objects).
pub(crate) fn dns1123_subdomain(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > 253 {
        return Err(format!(
            "is {} characters long; at most 253 are allowed",
            value.len()
        ));
    }
    for label in value.split('.') {
        dns1123_label(label).map_err(|e| format!("part {label:?} {e}"))?;
    }
    Ok(())
}

/// Checks a host name as an Ingress rule or certificate uses it: a DNS-1123
/// subdomain with at least two labels, optionally starting with `*.`.
pub(crate) fn hostname(value: &str) -> Result<(), String> {
    let rest = value.strip_prefix("*.").unwrap_or(value);
    if rest.contains('*') {
        return Err("a wildcard may only be the whole first label (*.example.com)".into());
    }
    dns1123_subdomain(rest)?;
    if !rest.contains('.') {
        return Err("must be a fully qualified name (at least two labels)".into());
    }
    Ok(())
}

/// Checks a TCP/UDP port number (1–65535).
pub(crate) fn port(value: i64) -> Result<(), String> {
    if (1..=65535).contains(&value) {
        Ok(())
    } else {
        Err(format!("{value} is not a port number (1-65535)"))
    }
}

/// Checks a named port (IANA service name: at most 15 characters, lowercase
/// letters, digits and '-', at least one letter).
pub(crate) fn port_name(value: &str) -> Result<(), String> {
    dns1123_label(value)?;
    if value.len() > 15 {
        return Err("a port name has at most 15 characters".into());
    }
    if !value.chars().any(|c| c.is_ascii_lowercase()) {
        return Err("a port name needs at least one letter".into());
    }
    if value.contains("--") {
        return Err("a port name must not contain '--'".into());
    }
    Ok(())
}

/// Checks the name part of a label key or a label value: at most 63
/// characters of `[A-Za-z0-9_.-]`, starting and ending alphanumeric.
fn label_name(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(format!(
            "is {} characters long; at most 63 are allowed",
            value.len()
        ));
    }
    label_characters(value)
}

/// Checks the characters of a label value, whatever its length: letters,
/// digits, '-', '_' and '.', starting and ending with a letter or digit.
pub(crate) fn label_characters(value: &str) -> Result<(), String> {
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!("contains {c:?}"));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let well_bounded = alnum(value.chars().next()) && alnum(value.chars().last());
    if !value.is_empty() && !well_bounded {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Checks a label key (`[prefix/]name`).
pub(crate) fn label_key(key: &str) -> Result<(), String> {
    let name = match key.rsplit_once('/') {
        Some((prefix, name)) => {
            dns1123_subdomain(prefix).map_err(|e| format!("prefix {e}"))?;
            name
        }
        None => key,
    };
    if name.is_empty() {
        return Err("name part must not be empty".into());
    }
    label_name(name)
}

/// Checks a label value (may be empty).
pub(crate) fn label_value(value: &str) -> Result<(), String> {
    label_name(value)
}

/// Checks an IPv4 or IPv6 CIDR such as `10.0.0.0/8`, or a bare address.
pub(crate) fn cidr(value: &str) -> Result<(), String> {
    let (addr, prefix) = match value.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (value, None),
    };
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IP address"))?;
    if let Some(p) = prefix {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match p.parse::<u8>() {
            Ok(n) if n <= max => {}
            _ => return Err(format!("prefix length {p:?} is not between 0 and {max}")),
        }
    }
    Ok(())
}

/// A CIDR in its normal form: the host bits cleared (`10.0.0.1/8` →
/// `10.0.0.0/8`). A single address, or a CIDR already normal, is returned
/// as given. Errors as [`cidr`].
pub(crate) fn normal_cidr(value: &str) -> Result<String, String> {
    cidr(value)?;
    let Some((addr, prefix)) = value.split_once('/') else {
        return Ok(value.to_string());
    };
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IP address"))?;
    let bits: u32 = prefix
        .parse()
        .map_err(|_| format!("prefix length {prefix:?} is not a number"))?;
    let network = match ip {
        std::net::IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            std::net::IpAddr::V4((u32::from(v4) & mask).into())
        }
        std::net::IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            std::net::IpAddr::V6((u128::from(v6) & mask).into())
        }
    };
    if network == ip {
        return Ok(value.to_string());
    }
    Ok(format!("{network}/{bits}"))
}

/// Whether a CIDR admits every address of its family (`0.0.0.0/0`, `::/0`).
pub(crate) fn admits_everyone(value: &str) -> bool {
    value
        .split_once('/')
        .is_some_and(|(_, prefix)| prefix.trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_normalised_and_the_whole_internet_is_recognised() {
        assert_eq!(normal_cidr("10.0.0.1/8").unwrap(), "10.0.0.0/8");
        assert_eq!(normal_cidr("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(normal_cidr("192.168.8.7").unwrap(), "192.168.8.7");
        assert_eq!(normal_cidr("0.0.0.0/0").unwrap(), "0.0.0.0/0");
        assert_eq!(normal_cidr("1.2.3.4/0").unwrap(), "0.0.0.0/0");
        assert_eq!(normal_cidr("fd00::1/8").unwrap(), "fd00::/8");
        assert_eq!(normal_cidr("10.1.2.3/32").unwrap(), "10.1.2.3/32");
        assert!(normal_cidr("10.0.0.0/33").is_err());
        assert!(admits_everyone("0.0.0.0/0") && admits_everyone("::/0"));
        assert!(!admits_everyone("10.0.0.0/8") && !admits_everyone("10.0.0.0"));
    }

    #[test]
    fn labels() {
        assert!(dns1123_label("myservice").is_ok());
        assert!(dns1123_label("a-1").is_ok());
        assert!(dns1123_label("My_App").unwrap_err().contains("'M'"));
        assert!(dns1123_label(&"a".repeat(64))
            .unwrap_err()
            .contains("64 characters"));
        assert!(dns1123_label(&"a".repeat(63)).is_ok());
        assert!(dns1123_label("").is_err());
        assert!(dns1123_label("-a").is_err());
        assert!(dns1123_label("a.b").is_err());
    }

    #[test]
    fn hosts() {
        assert!(hostname("a.example.com").is_ok());
        assert!(hostname("*.example.com").is_ok());
        assert!(hostname("example").is_err());
        assert!(hostname("a.*.example.com").is_err());
        assert!(hostname("A.example.com").is_err());
        assert!(hostname("a..example.com").is_err());
    }

    #[test]
    fn ports_and_names() {
        assert!(port(1).is_ok() && port(65535).is_ok());
        assert!(port(0).is_err() && port(70000).is_err());
        assert!(port_name("http").is_ok());
        assert!(port_name("80").is_err());
        assert!(port_name("a-very-long-port-name").is_err());
    }

    #[test]
    fn label_keys_and_values() {
        assert!(label_key("app.kubernetes.io/name").is_ok());
        assert!(label_key("app").is_ok());
        assert!(label_key("bad key").is_err());
        assert!(label_key("Example.com/x").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("public.myservice").is_ok());
        assert!(label_value("a/b").is_err());
    }

    #[test]
    fn cidrs() {
        assert!(cidr("10.0.0.0/8").is_ok());
        assert!(cidr("fd00::/8").is_ok());
        assert!(cidr("10.0.0.0/33").is_err());
        assert!(cidr("10.0.0/8").is_err());
    }
}
