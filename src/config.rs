//! Cluster configuration: `wildrun.yaml`, then environment variables, then
//! `--set key=value`, each overriding the one before.
//!
//! Every key is declared once in [`KEYS`], with its type, default, the
//! environment variable that sets it and the check its value must pass; the
//! loader, the error messages and the README's reference all follow that
//! table. The section `vars:` is free-form, for a team's own recipes.
//!
//! A wild-cloud instance's `config.yaml` is read as it is: its keys that
//! name a wildrun setting under another name are read as that setting
//! ([`WILD_CLOUD_ALIASES`]), and the rest of what wild-cloud keeps there is
//! passed over without a warning (see [`is_wild_cloud`]).

use crate::objects::{strict, validate};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The file name searched for in the working directory and its parents.
pub(crate) const FILE_NAME: &str = "wildrun.yaml";

/// The environment variable naming a configuration file.
pub(crate) const FILE_ENV: &str = "WILDRUN_CONFIG";

/// The key whose list is checked and normalised after loading.
const SOURCE_RANGES: &str = "cluster.internalSourceRanges";

/// Why the configuration cannot be loaded, or a key a script requires has
/// no value. Each message names the file, environment variable or `--set`
/// that gave the value, so a person knows where to fix it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file named by `--config` or `WILDRUN_CONFIG` does not exist.
    #[error("configuration file {} does not exist", .0.display())]
    NotFound(PathBuf),
    /// The file cannot be read (permissions, too large, not UTF-8 text).
    #[error("configuration file: {0}")]
    Read(crate::files::ReadError),
    /// The file is not YAML, or a section or value has the wrong type:
    /// `file:line:column: message`.
    #[error("{0}")]
    Syntax(crate::yaml::YamlError),
    /// The file passed the typed check but not the plain read (which reads
    /// the same text, so this means a parser fault rather than a file's).
    #[error("cannot parse {}", .path.display())]
    Parse {
        /// The configuration file.
        path: PathBuf,
        /// The parser's error, shown after this one (boxed: it is large,
        /// and every `Result` of this module would carry its size).
        #[source]
        error: Box<serde_saphyr::Error>,
    },
    /// The file holds a list or a scalar instead of sections.
    #[error("{}: the configuration must be a map of sections (cloud:, cluster:, ...), found {found}", .path.display())]
    NotSections {
        /// The configuration file.
        path: PathBuf,
        /// What it holds instead (`a list`, `a string`, ...).
        found: &'static str,
    },
    /// A value fails its key's type or check.
    #[error("{origin}: configuration key {key}: {message}")]
    Value {
        /// Where the value was given: the file, `environment variable X` or `--set ...`.
        origin: String,
        /// The key's dotted path.
        key: String,
        /// What is wrong with the value.
        message: String,
    },
    /// A file gives a wild-cloud key and the wildrun key it stands for,
    /// with different values: wildrun cannot tell which one is meant.
    #[error("{}: {alias} is {alias_value} but {key} is {key_value}: {alias} is wild-cloud's name for {key}, so both set it; remove one of them, or give them the same value", .path.display())]
    AliasConflict {
        /// The configuration file.
        path: PathBuf,
        /// The wild-cloud key (`cluster.ipAddressPool`).
        alias: &'static str,
        /// The wildrun key (`cluster.addressPool`).
        key: &'static str,
        /// The wild-cloud key's value, as wildrun reads it (JSON).
        alias_value: String,
        /// The wildrun key's value (JSON).
        key_value: String,
    },
    /// A `--set` without `=`.
    #[error("--set {0}: expected KEY=VALUE, e.g. --set dns.ttl=120")]
    SetSyntax(String),
    /// A dotted path that cannot be set: it has an empty part, or a part
    /// above it holds a value rather than a map.
    #[error("{}{problem}", .origin.as_ref().map(|o| format!("{o}: ")).unwrap_or_default())]
    KeyPath {
        /// Where the path was given (`--set ...`), when it was given by a person.
        origin: Option<String>,
        /// What is wrong with the path.
        problem: String,
    },
    /// `cluster.internalSourceRanges` is an empty list.
    #[error("configuration key {SOURCE_RANGES} is empty: internal services need at least one network to admit (default 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")]
    NoSourceRanges,
    /// An entry of `cluster.internalSourceRanges` is not a network.
    #[error("{SOURCE_RANGES}: {0}")]
    SourceRange(String),
    /// A key a script requires has no value; the message says the three ways to set it.
    #[error("configuration key {key} is not set ({}): {}", help_of(.key), how_to_set(.key))]
    Missing {
        /// The key's dotted path.
        key: String,
    },
}

impl ConfigError {
    /// Names where a path problem was given (`--set ...`).
    /// A bad value read from `file`, placed at the line and column where
    /// `path` stands in the file's `text`: `file:line:column` (found only
    /// when needed, so a good file is parsed once).
    fn placed_in(self, file: &str, text: &str, path: &str) -> ConfigError {
        let ConfigError::Value {
            origin,
            key,
            message,
        } = self
        else {
            return self;
        };
        let origin = match (
            origin.strip_prefix(file),
            crate::yaml::value_locations(text).get(path),
        ) {
            (Some(rest), Some((line, column))) => format!("{file}:{line}:{column}{rest}"),
            _ => origin,
        };
        ConfigError::Value {
            origin,
            key,
            message,
        }
    }

    fn given_in(self, given: &str) -> ConfigError {
        match self {
            ConfigError::KeyPath {
                origin: None,
                problem,
            } => ConfigError::KeyPath {
                origin: Some(given.to_string()),
                problem,
            },
            other => other,
        }
    }
}

/// The type of a configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// A string.
    Text,
    /// A whole number.
    Integer,
    /// A list of strings; comma-separated in the environment and in `--set`.
    List,
}

/// One configuration key.
#[derive(Debug)]
pub struct Key {
    /// Dotted path, e.g. `cloud.domain`.
    pub path: &'static str,
    /// Its type.
    pub ty: KeyType,
    /// The default value, if any.
    pub default: Option<fn() -> Value>,
    /// What it is for (shown in errors and documentation).
    pub help: &'static str,
    /// The check each value must pass.
    pub check: fn(&str) -> Result<(), String>,
}

impl Key {
    /// The environment variable that sets this key: the path in upper snake
    /// case (`cluster.loadBalancerIp` → `CLUSTER_LOAD_BALANCER_IP`).
    pub fn env_var(&self) -> String {
        let mut out = String::new();
        for c in self.path.chars() {
            match c {
                '.' => out.push('_'),
                c if c.is_ascii_uppercase() => {
                    out.push('_');
                    out.push(c);
                }
                c => out.push(c.to_ascii_uppercase()),
            }
        }
        out
    }
}

fn ip(value: &str) -> Result<(), String> {
    value
        .parse::<std::net::IpAddr>()
        .map(|_| ())
        .map_err(|_| format!("{value:?} is not an IP address"))
}

fn port(value: &str) -> Result<(), String> {
    match value.parse::<i64>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(()),
        _ => Err(format!("{value:?} is not a port (1-65535)")),
    }
}

fn nameserver(value: &str) -> Result<(), String> {
    crate::dns::server_address(value)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn file_path(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err("the path is empty".into())
    } else {
        Ok(())
    }
}

fn positive(value: &str) -> Result<(), String> {
    match value.parse::<i64>() {
        Ok(n) if n > 0 => Ok(()),
        _ => Err(format!("{value:?} is not a positive whole number")),
    }
}

fn lease_seconds(value: &str) -> Result<(), String> {
    let least = crate::kube::lease::MIN_DURATION_SECONDS;
    match value.parse::<u64>() {
        Ok(n) if (least..=86_400).contains(&n) => Ok(()),
        _ => Err(format!(
            "{value:?} is not a whole number of seconds from {least} to 86400"
        )),
    }
}

fn one_of(value: &str, choices: &[&str]) -> Result<(), String> {
    if choices.contains(&value) {
        return Ok(());
    }
    let hint = crate::objects::strict::did_you_mean(&crate::objects::strict::nearest(
        value,
        choices.iter().copied(),
    ));
    Err(format!(
        "{value:?} is not one of {}{hint}",
        choices.join(", ")
    ))
}

/// An address range of a MetalLB pool: a CIDR, `first-last` (one family,
/// first not after last) or one address.
fn address_range(value: &str) -> Result<(), String> {
    let value = value.trim();
    if let Some((first, last)) = value.split_once('-') {
        let parse = |t: &str| {
            t.trim().parse::<std::net::IpAddr>().map_err(|_| {
                format!("{value:?} is not an address range: {t:?} is not an IP address")
            })
        };
        let (first, last) = (parse(first)?, parse(last)?);
        if first.is_ipv4() != last.is_ipv4() {
            return Err(format!("{value:?} mixes an IPv4 and an IPv6 address"));
        }
        if first > last {
            return Err(format!(
                "{value:?} is not an address range: {first} comes after {last}"
            ));
        }
        return Ok(());
    }
    validate::cidr(value).map_err(|e| {
        format!("{value:?} is not an address range (a CIDR such as 192.168.8.240/29, first-last such as 192.168.8.240-192.168.8.250, or one address): {e}")
    })
}

fn on_or_off(value: &str) -> Result<(), String> {
    one_of(value, &["on", "off"])
}

fn routing_api(value: &str) -> Result<(), String> {
    one_of(value, &["ingress", "gateway"])
}

fn dns_provider(value: &str) -> Result<(), String> {
    one_of(value, &["cloudflare", "rfc2136"])
}

fn dns_policy(value: &str) -> Result<(), String> {
    one_of(value, crate::externaldns::POLICIES)
}

fn client_address(value: &str) -> Result<(), String> {
    one_of(
        value,
        &crate::chain::checks::client_address::ClientAddress::CHOICES,
    )
}

fn client_address_leak(value: &str) -> Result<(), String> {
    one_of(value, &["warn", "error"])
}

fn tsig_algorithm(value: &str) -> Result<(), String> {
    one_of(
        value,
        &[
            "hmac-sha256",
            "hmac-sha384",
            "hmac-sha512",
            "hmac-sha224",
            "hmac-sha1",
            "hmac-md5",
        ],
    )
}

fn email(value: &str) -> Result<(), String> {
    match value.split_once('@') {
        Some((user, host)) if !user.is_empty() && validate::hostname(host).is_ok() => Ok(()),
        _ => Err(format!("{value:?} is not an email address")),
    }
}

fn host_or_ip(value: &str) -> Result<(), String> {
    ip(value).or_else(|_| validate::hostname(value))
}

fn namespaced_name(value: &str) -> Result<(), String> {
    let Some((ns, name)) = value.split_once('/') else {
        return Err(format!("{value:?} is not namespace/name"));
    };
    validate::dns1123_label(ns)?;
    validate::dns1123_subdomain(name)
}

fn flag(value: &str) -> Result<(), String> {
    if value.starts_with("--") && value.len() > 2 {
        Ok(())
    } else {
        Err(format!(
            "{value:?} is not a command-line flag (--name=value)"
        ))
    }
}

/// One of `externalDns.extraArgs`: a flag, and not one the layer writes
/// from a key of its own.
fn external_dns_flag(value: &str) -> Result<(), String> {
    flag(value)?;
    let name = value.split('=').next().unwrap_or(value);
    if name == crate::externaldns::POLICY_FLAG {
        return Err(format!(
            "{value:?}: scripts/cluster.rhai writes --policy from configuration key dns.policy (ExternalDNS refuses the flag twice); set dns.policy instead"
        ));
    }
    Ok(())
}

/// A kind as `prune.keepKinds` names it: `Kind` (in any group) or
/// `Kind.group` (`Cluster.postgresql.cnpg.io`), as kubectl writes kinds.
fn kind_name(value: &str) -> Result<(), String> {
    let (kind, group) = match value.split_once('.') {
        Some((kind, group)) => (kind, Some(group)),
        None => (value, None),
    };
    let mut chars = kind.chars();
    let starts_upper = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    if !starts_upper || !chars.all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "{value:?} is not a kind: Kind or Kind.group, e.g. StatefulSet or Cluster.postgresql.cnpg.io"
        ));
    }
    match group {
        Some(group) => validate::dns1123_subdomain(group)
            .map_err(|e| format!("{value:?}: the group after the kind: {e}")),
        None => Ok(()),
    }
}

/// Every configuration key wildrun knows.
pub const KEYS: &[Key] = &[
    Key {
        path: "cloud.domain",
        ty: KeyType::Text,
        default: None,
        help: "the domain public services live under (required)",
        check: validate::hostname,
    },
    Key {
        path: "cloud.internalDomain",
        ty: KeyType::Text,
        default: None,
        help: "the domain of internal services (default: internal.<domain>)",
        check: validate::hostname,
    },
    Key {
        path: "cluster.loadBalancerIp",
        ty: KeyType::Text,
        default: None,
        help: "Traefik's MetalLB address (required by internal services)",
        check: ip,
    },
    Key {
        path: "cluster.internalSourceRanges",
        ty: KeyType::List,
        default: Some(|| json!(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])),
        help: "networks admitted to internal services",
        check: validate::cidr,
    },
    Key {
        path: "cluster.addressPool",
        ty: KeyType::List,
        default: None,
        help: "addresses of the MetalLB IPAddressPool scripts/cluster.rhai makes: CIDRs, first-last ranges or addresses; must hold cluster.loadBalancerIp (required by scripts/cluster.rhai)",
        check: address_range,
    },
    Key {
        path: "metallb.namespace",
        ty: KeyType::Text,
        default: Some(|| json!("metallb-system")),
        help: "namespace MetalLB runs in, where its IPAddressPool and L2Advertisement go",
        check: validate::dns1123_label,
    },
    Key {
        path: "metallb.pool",
        ty: KeyType::Text,
        default: Some(|| json!("wildrun")),
        help: "name of the IPAddressPool (and its L2Advertisement)",
        check: validate::dns1123_subdomain,
    },
    Key {
        path: "ingress.api",
        ty: KeyType::Text,
        default: Some(|| json!("ingress")),
        help: "routing API of the service recipes, scripts/cluster.rhai and the doctor: ingress (an Ingress per service, the wildcard Secret copied beside it) or gateway (an HTTPRoute per service on the layer's Gateways, TLS ending at the Gateway)",
        check: routing_api,
    },
    Key {
        path: "ingress.gateways",
        ty: KeyType::Text,
        default: Some(|| json!("off")),
        help: "on: scripts/cluster.rhai sets up (and doctor --layer checks) the Gateway API's part of the layer (GatewayClass, Gateways, ExternalDNS's gateway-httproute source) while services keep ingress.api, so a cluster serves routes of both APIs; ingress.api gateway implies it",
        check: on_or_off,
    },
    Key {
        path: "ingress.className",
        ty: KeyType::Text,
        default: Some(|| json!("traefik")),
        help: "IngressClass of every Ingress",
        check: validate::dns1123_subdomain,
    },
    Key {
        path: "ingress.httpsPort",
        ty: KeyType::Integer,
        default: Some(|| json!(443)),
        help: "port Traefik serves HTTPS on at its address (websecure); where the doctor and --wait send their request. The Gateways listen on the port Traefik's pods serve it on (its Service's targetPort)",
        check: port,
    },
    Key {
        path: "ingress.traefikService",
        ty: KeyType::Text,
        default: Some(|| json!("traefik/traefik")),
        help: "Traefik's LoadBalancer Service as namespace/name, which scripts/cluster.rhai pins to cluster.loadBalancerIp",
        check: namespaced_name,
    },
    Key {
        path: "ingress.clientAddress",
        ty: KeyType::Text,
        default: Some(|| json!("local")),
        help: "how Traefik learns each client's address, which the internal-only middleware judges: local (scripts/cluster.rhai sets externalTrafficPolicy: Local on Traefik's Service) or proxy-protocol (a proxy in front of Traefik speaks PROXY protocol and Traefik's entry points trust it; the policy is left alone)",
        check: client_address,
    },
    Key {
        path: "ingress.clientAddressLeak",
        ty: KeyType::Text,
        default: Some(|| json!("warn")),
        help: "what the internal recipe does when Traefik cannot see client addresses (every client looks internal to the internal-only middleware): warn, or error (refuse to deploy)",
        check: client_address_leak,
    },
    Key {
        path: "dns.ttl",
        ty: KeyType::Integer,
        default: Some(|| json!(60)),
        help: "TTL in seconds of the records ExternalDNS writes",
        check: positive,
    },
    Key {
        path: "dns.annotationPrefix",
        ty: KeyType::Text,
        default: Some(|| json!(crate::externaldns::BOTH)),
        help: "annotation prefix(es) the Ingress's ExternalDNS target and TTL are written under: both, external-dns.kubernetes.io/ (ExternalDNS v0.22.0 and later) or external-dns.alpha.kubernetes.io/ (earlier releases)",
        check: crate::externaldns::check_choice,
    },
    Key {
        path: "dns.server",
        ty: KeyType::Text,
        default: None,
        help: "nameserver (ip:port) to ask instead of the system's resolver: the doctor's default --dns-server, and the authoritative server --wait asks for the records ExternalDNS writes",
        check: nameserver,
    },
    Key {
        path: "dns.provider",
        ty: KeyType::Text,
        default: Some(|| json!("cloudflare")),
        help: "where ExternalDNS writes records: cloudflare (API token from dns.cloudflareTokenSecret) or rfc2136 (a DNS server taking TSIG-signed updates)",
        check: dns_provider,
    },
    Key {
        path: "dns.zones",
        ty: KeyType::List,
        default: None,
        help: "zones ExternalDNS manages (--domain-filter; rfc2136: --rfc2136-zone) (default: cloud.domain)",
        check: validate::hostname,
    },
    Key {
        path: "dns.ownerId",
        ty: KeyType::Text,
        default: Some(|| json!("wildrun")),
        help: "ExternalDNS's --txt-owner-id: the owner its TXT ownership records name",
        check: validate::label_value,
    },
    Key {
        path: "dns.policy",
        ty: KeyType::Text,
        default: Some(|| json!("sync")),
        help: "ExternalDNS's --policy: sync (also deletes the records it owns that no Ingress asks for any more), upsert-only (never deletes) or create-only",
        check: dns_policy,
    },
    Key {
        path: "dns.cloudflareTokenSecret",
        ty: KeyType::Text,
        default: Some(|| json!("cloudflare-api-token")),
        help: "Secret in tls.sourceNamespace whose key api-token holds the Cloudflare API token (DNS-01 for letsencrypt-*, and ExternalDNS with dns.provider=cloudflare); never printed",
        check: validate::dns1123_subdomain,
    },
    Key {
        path: "dns.rfc2136Host",
        ty: KeyType::Text,
        default: None,
        help: "DNS server ExternalDNS sends updates to (dns.provider=rfc2136)",
        check: host_or_ip,
    },
    Key {
        path: "dns.rfc2136Port",
        ty: KeyType::Integer,
        default: Some(|| json!(53)),
        help: "its port",
        check: port,
    },
    Key {
        path: "dns.rfc2136TsigKey",
        ty: KeyType::Text,
        default: None,
        help: "name of the TSIG key the server accepts updates signed with (dns.provider=rfc2136)",
        check: validate::dns1123_subdomain,
    },
    Key {
        path: "dns.rfc2136TsigAlgorithm",
        ty: KeyType::Text,
        default: Some(|| json!("hmac-sha256")),
        help: "the TSIG key's algorithm",
        check: tsig_algorithm,
    },
    Key {
        path: "dns.rfc2136TsigSecret",
        ty: KeyType::Text,
        default: Some(|| json!("rfc2136-tsig")),
        help: "Secret in externalDns.namespace whose key tsig-secret holds the TSIG secret (dns.provider=rfc2136); never printed",
        check: validate::dns1123_subdomain,
    },
    Key {
        path: "externalDns.namespace",
        ty: KeyType::Text,
        default: Some(|| json!("external-dns")),
        help: "namespace of ExternalDNS's Deployment, ServiceAccount and Secrets",
        check: validate::dns1123_label,
    },
    Key {
        path: "externalDns.image",
        ty: KeyType::Text,
        default: Some(|| json!("registry.k8s.io/external-dns/external-dns:v0.22.0")),
        help: "ExternalDNS's container image",
        check: file_path,
    },
    Key {
        path: "externalDns.extraArgs",
        ty: KeyType::List,
        default: Some(|| json!([])),
        help: "further ExternalDNS flags, after the ones scripts/cluster.rhai writes (--exclude-domains=..., --interval=...; not --policy: dns.policy)",
        check: external_dns_flag,
    },
    Key {
        path: "tls.sourceNamespace",
        ty: KeyType::Text,
        default: Some(|| json!("cert-manager")),
        help: "namespace of the wildcard Certificates and their Secrets",
        check: validate::dns1123_label,
    },
    Key {
        path: "tls.publicSecret",
        ty: KeyType::Text,
        default: Some(|| json!("wildcard-wild-cloud-tls")),
        help: "Secret of the public wildcard certificate",
        check: validate::dns1123_subdomain,
    },
    Key {
        path: "tls.internalSecret",
        ty: KeyType::Text,
        default: Some(|| json!("wildcard-internal-wild-cloud-tls")),
        help: "Secret of the internal wildcard certificate",
        check: validate::dns1123_subdomain,
    },
    Key {
        path: "tls.issuer",
        ty: KeyType::Text,
        default: Some(|| json!("letsencrypt-prod")),
        help: "ClusterIssuer that signs the wildcard certificates",
        check: validate::dns1123_subdomain,
    },
    Key {
        path: "tls.acmeEmail",
        ty: KeyType::Text,
        default: None,
        help: "email of the Let's Encrypt account (required by scripts/cluster.rhai with tls.issuer letsencrypt-prod or letsencrypt-staging)",
        check: email,
    },
    Key {
        path: "tls.caSecret",
        ty: KeyType::Text,
        default: None,
        help: "Secret in tls.sourceNamespace holding the CA (tls.crt, tls.key) the ca issuer signs with (required by scripts/cluster.rhai with tls.issuer=ca)",
        check: validate::dns1123_subdomain,
    },
    Key {
        path: "tls.caFile",
        ty: KeyType::Text,
        default: None,
        help: "PEM file of a CA to trust besides the system's roots when the doctor and --wait send an HTTPS request (a private ClusterIssuer's CA)",
        check: file_path,
    },
    Key {
        // Named once, where the Lease is made (its errors say the key too).
        path: crate::kube::lease::NAMESPACE_KEY,
        ty: KeyType::Text,
        default: None,
        help: "namespace of the Lease (wildrun-<instance>) through which copies of a script that calls kube::watch elect the one that handles events (default: the namespace of the pod wildrun runs in, else default)",
        check: validate::dns1123_label,
    },
    Key {
        path: crate::kube::lease::DURATION_KEY,
        ty: KeyType::Integer,
        default: Some(|| json!(crate::kube::lease::LEASE_DURATION.as_secs())),
        help: "seconds the Lease of a script that calls kube::watch stays with a copy that stopped renewing it; the holder renews every third of it and writes only within two thirds of it after its last renewal",
        check: lease_seconds,
    },
    Key {
        path: "prune.keepKinds",
        ty: KeyType::List,
        default: Some(|| json!([])),
        help: "kinds whose objects hold data, which --prune and --delete leave in place unless --allow-prune-data is given, besides PersistentVolumeClaims: Kind or Kind.group",
        check: kind_name,
    },
    Key {
        path: "sandbox.allowRead",
        ty: KeyType::List,
        default: None,
        help: "folders recipes may read files from besides the recipe's folder tree and the configuration file's folder (relative to the configuration file's folder)",
        check: file_path,
    },
];

/// Looks up a key by its dotted path.
pub(crate) fn key(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// A key of wild-cloud's `config.yaml` that names one of wildrun's
/// settings ([`KEYS`]) under another name.
#[derive(Debug)]
pub struct Alias {
    /// Its dotted path in wild-cloud's file (`cluster.ipAddressPool`).
    pub path: &'static str,
    /// The wildrun key it sets (`cluster.addressPool`).
    pub key: &'static str,
}

/// wild-cloud's keys that wildrun reads as its own, from a file only (the
/// environment and `--set` speak wildrun's names). `cloud.domain`,
/// `cloud.internalDomain` and `cluster.loadBalancerIp` have the same name
/// in both, so they need no entry.
pub const WILD_CLOUD_ALIASES: &[Alias] = &[
    // The range of MetalLB's pool, one `first-last` string.
    Alias {
        path: "cluster.ipAddressPool",
        key: "cluster.addressPool",
    },
    // ExternalDNS's --txt-owner-id.
    Alias {
        path: "cluster.externalDns.ownerId",
        key: "dns.ownerId",
    },
    // The Let's Encrypt account's email (and the operator's).
    Alias {
        path: "operator.email",
        key: "tls.acmeEmail",
    },
    // The Cloudflare zone cert-manager's DNS-01 solver writes in: the zone
    // ExternalDNS manages too.
    Alias {
        path: "cluster.certManager.cloudflare.domain",
        key: "dns.zones",
    },
];

/// The top-level sections of wild-cloud's `config.yaml`. Those wildrun has
/// no section of that name for (`wildcloud`, `operator`, `apps`) mark a file
/// as wild-cloud's; those both have (`cloud`, `cluster`) are shared.
pub(crate) const WILD_CLOUD_SECTIONS: &[&str] =
    &["wildcloud", "operator", "cloud", "cluster", "apps"];

/// Whether a configuration file is a wild-cloud `config.yaml`: it has a
/// section only wild-cloud has, or one of [`WILD_CLOUD_ALIASES`]. Told by
/// its shape because wild-cloud's file has no mark of its own, and a
/// wildrun file never has those. In such a file, keys wildrun has no use
/// for (apps, nodes, Talos, NFS, ...) are passed over, and a blank value
/// (`""`, what wild-cloud writes for a question left unanswered) is unset.
pub(crate) fn is_wild_cloud(file: &Value) -> bool {
    let wildrun_sections = known_paths_under(None);
    WILD_CLOUD_SECTIONS
        .iter()
        .filter(|s| !wildrun_sections.contains(s))
        .chain(WILD_CLOUD_ALIASES.iter().map(|a| &a.path))
        .any(|path| get_path(file, path).is_some())
}

/// Reads a wild-cloud file's aliases as wildrun's keys: sets each key an
/// alias gives, and refuses a file that gives an alias and its key with
/// different values. Returns one line per alias read, for `-v`.
fn read_aliases(file: &mut Value, path: &Path, text: &str) -> Result<Vec<String>, ConfigError> {
    let origin = path.display().to_string();
    let mut read = Vec::new();
    for alias in WILD_CLOUD_ALIASES {
        let Some(given) = get_path(file, alias.path).filter(|v| !v.is_null()) else {
            continue;
        };
        let value = match (key(alias.key).map(|k| k.ty), given) {
            // wild-cloud keeps one range or zone where wildrun takes a list.
            (Some(KeyType::List), Value::String(s)) => Value::Array(vec![json!(s.trim())]),
            (_, other) => other.clone(),
        };
        check_value(alias.key, &value, &format!("{origin} ({})", alias.path))
            .map_err(|e| e.placed_in(&origin, text, alias.path))?;
        match get_path(file, alias.key).filter(|v| !v.is_null()) {
            Some(own) if *own != value => {
                return Err(ConfigError::AliasConflict {
                    path: path.to_path_buf(),
                    alias: alias.path,
                    key: alias.key,
                    alias_value: value.to_string(),
                    key_value: own.to_string(),
                })
            }
            Some(_) => {}
            None => set_path(file, alias.key, value)?,
        }
        read.push(format!("{origin}: {} → {}", alias.path, alias.key));
    }
    Ok(read)
}

/// Unsets the blank values (`""`) of the keys wildrun reads from a
/// wild-cloud file: wild-cloud writes a question left unanswered that way.
fn unset_blank_values(file: &mut Value) -> Result<(), ConfigError> {
    let paths = KEYS
        .iter()
        .map(|k| k.path)
        .chain(WILD_CLOUD_ALIASES.iter().map(|a| a.path));
    for path in paths {
        let blank = get_path(file, path)
            .and_then(Value::as_str)
            .is_some_and(|s| s.trim().is_empty());
        if blank {
            set_path(file, path, Value::Null)?;
        }
    }
    Ok(())
}

/// The file's shape, used only to report wrong types with their line and
/// column (serde-saphyr knows where each value stands in the file).
#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct FileShape {
    cloud: Option<CloudShape>,
    cluster: Option<ClusterShape>,
    ingress: Option<IngressShape>,
    dns: Option<DnsShape>,
    tls: Option<TlsShape>,
    metallb: Option<MetallbShape>,
    external_dns: Option<ExternalDnsShape>,
    sandbox: Option<SandboxShape>,
    vars: Option<std::collections::BTreeMap<String, serde::de::IgnoredAny>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct SandboxShape {
    allow_read: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct CloudShape {
    domain: Option<String>,
    internal_domain: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct ClusterShape {
    load_balancer_ip: Option<String>,
    internal_source_ranges: Option<Vec<String>>,
    address_pool: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct MetallbShape {
    namespace: Option<String>,
    pool: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct ExternalDnsShape {
    namespace: Option<String>,
    image: Option<String>,
    extra_args: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct IngressShape {
    class_name: Option<String>,
    https_port: Option<u16>,
    traefik_service: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct DnsShape {
    ttl: Option<u32>,
    annotation_prefix: Option<String>,
    server: Option<String>,
    provider: Option<String>,
    zones: Option<Vec<String>>,
    owner_id: Option<String>,
    cloudflare_token_secret: Option<String>,
    rfc2136_host: Option<String>,
    rfc2136_port: Option<u16>,
    rfc2136_tsig_key: Option<String>,
    rfc2136_tsig_algorithm: Option<String>,
    rfc2136_tsig_secret: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct TlsShape {
    source_namespace: Option<String>,
    public_secret: Option<String>,
    internal_secret: Option<String>,
    issuer: Option<String>,
    ca_file: Option<String>,
    acme_email: Option<String>,
    ca_secret: Option<String>,
}

/// The merged configuration a run uses; empty (no keys) by default.
#[derive(Debug, Clone)]
pub struct Config {
    /// The merged values, defaults filled in; scripts see this as `config`.
    pub(crate) value: Value,
    /// The file it was read from, if any.
    pub(crate) file: Option<PathBuf>,
    /// Warnings for people (unknown keys with suggestions).
    pub(crate) warnings: Vec<String>,
    /// Where each key that was given came from (the file, `environment
    /// variable X`, `--set k=v`); keys left to their defaults are absent.
    pub(crate) origins: std::collections::BTreeMap<String, String>,
    /// How the file was read, said at `-v`: each wild-cloud key read as
    /// wildrun's (`cluster.ipAddressPool → cluster.addressPool`), and the
    /// keys passed over.
    pub(crate) notes: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            value: Value::Object(Map::new()),
            file: None,
            warnings: Vec::new(),
            origins: Default::default(),
            notes: Vec::new(),
        }
    }
}

/// Where configuration comes from, besides the file system.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// `--config FILE`.
    pub(crate) explicit_file: Option<PathBuf>,
    /// `--set KEY=VALUE`, in order.
    pub(crate) sets: Vec<String>,
}

/// Finds `wildrun.yaml` in `dir` or its parents.
pub(crate) fn find_file(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join(FILE_NAME))
        .find(|p| p.is_file())
}

fn get_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, k| v.get(k))
}

fn set_path(value: &mut Value, path: &str, new: Value) -> Result<(), ConfigError> {
    let bad = |problem: String| ConfigError::KeyPath {
        origin: None,
        problem,
    };
    let mut cur = value;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return Err(bad(format!("{path:?} has an empty part")));
        }
        if !cur.is_object() {
            let parent = parts[..i].join(".");
            return Err(bad(format!(
                "{parent} is not a map, so {path} cannot be set"
            )));
        }
        let Some(map) = cur.as_object_mut() else {
            return Err(bad(format!("{path} cannot be set")));
        };
        if i == parts.len() - 1 {
            map.insert(part.to_string(), new);
            return Ok(());
        }
        cur = map
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

/// Parses a value given as text (environment, `--set`) to the key's type.
fn parse_text(path: &str, text: &str) -> Value {
    match key(path).map(|k| k.ty) {
        Some(KeyType::List) => Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        Some(KeyType::Integer) => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_string())),
        Some(KeyType::Text) => Value::String(text.to_string()),
        // Free-form keys (vars.*) take YAML scalars: numbers and booleans typed.
        None => {
            crate::yaml::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }
    }
}

/// How to set `path`, for error messages: the three sources, in order.
pub(crate) fn how_to_set(path: &str) -> String {
    let (section, leaf) = path.split_once('.').unwrap_or(("", path));
    let env = key(path)
        .map(Key::env_var)
        .unwrap_or_else(|| "(none)".into());
    format!(
        "set it in {FILE_NAME} ({section}: {{{leaf}: ...}}), with the environment variable {env}, or with --set {path}=..."
    )
}

/// What a key is for, for error messages; empty for a key no [`Key`] declares.
fn help_of(path: &str) -> &'static str {
    key(path).map(|k| k.help).unwrap_or("")
}

fn known_paths_under(section: Option<&str>) -> Vec<&'static str> {
    match section {
        None => {
            let mut sections: Vec<&str> = KEYS
                .iter()
                .filter_map(|k| k.path.split('.').next())
                .collect();
            sections.push("vars");
            sections.dedup();
            sections
        }
        Some(s) => KEYS
            .iter()
            .filter_map(|k| k.path.strip_prefix(s).and_then(|r| r.strip_prefix('.')))
            .collect(),
    }
}

/// What [`unknown_keys`] found among the keys no [`Key`] declares.
#[derive(Default)]
struct UnknownKeys {
    /// Warnings for people: the unknown key, and the nearest known one.
    warnings: Vec<String>,
    /// The keys of a wild-cloud file passed over as wild-cloud's own.
    passed_over: Vec<String>,
}

impl UnknownKeys {
    /// Notes `path` as passed over, unless an alias is read from it (so
    /// `operator` is not said to be passed over when `operator.email` is read).
    fn pass_over(&mut self, path: &str) {
        let read = WILD_CLOUD_ALIASES.iter().any(|a| {
            a.path == path
                || a.path
                    .strip_prefix(path)
                    .is_some_and(|r| r.starts_with('.'))
        });
        if !read {
            self.passed_over.push(path.to_string());
        }
    }
}

/// The keys of `value` that no [`Key`] declares. In a wild-cloud file
/// (`wild_cloud`), wild-cloud's own sections and its keys in the sections
/// both tools share are passed over; only a near miss of a wildrun section,
/// a typo in a section only wildrun has, or a key differing from wildrun's
/// only in case is warned about.
fn unknown_keys(value: &Value, origin: &str, wild_cloud: bool) -> UnknownKeys {
    let mut out = UnknownKeys::default();
    let Some(top) = value.as_object() else {
        return out;
    };
    let sections = known_paths_under(None);
    let wild_cloud_section = |s: &str| wild_cloud && WILD_CLOUD_SECTIONS.contains(&s);
    for (section, inner) in top {
        if section == "vars" {
            continue;
        }
        if !sections.contains(&section.as_str()) {
            let nearest = strict::nearest(section, sections.iter().copied());
            // wild-cloud's sections, and any it adds later, unless it is
            // one letter or two from a wildrun section.
            if wild_cloud && (wild_cloud_section(section) || nearest.is_none()) {
                out.pass_over(section);
                continue;
            }
            out.warnings.push(unknown_warning(origin, section, nearest));
            continue;
        }
        let leaves = known_paths_under(Some(section));
        for leaf in inner.as_object().into_iter().flat_map(|m| m.keys()) {
            if leaves.contains(&leaf.as_str()) {
                continue;
            }
            let path = format!("{section}.{leaf}");
            let case_only = leaves.iter().any(|l| l.eq_ignore_ascii_case(leaf));
            if wild_cloud_section(section) && !case_only {
                out.pass_over(&path);
                continue;
            }
            out.warnings.push(unknown_warning(
                origin,
                &path,
                strict::nearest(leaf, leaves.iter().copied()).map(|s| format!("{section}.{s}")),
            ));
        }
    }
    out
}

fn unknown_warning(origin: &str, path: &str, suggestion: Option<String>) -> String {
    match suggestion {
        Some(s) => format!("{origin}: unknown configuration key {path} (did you mean {s}?)"),
        None => format!(
            "{origin}: unknown configuration key {path} (put a team's own values under vars:)"
        ),
    }
}

/// The file's values, and its text (to place a bad value at its line).
fn read_file(path: &Path) -> Result<(Value, String), ConfigError> {
    let text = crate::files::read_text(path).map_err(ConfigError::Read)?;
    if text.trim().is_empty() {
        return Ok((Value::Object(Map::new()), text));
    }
    // Typed pass first: syntax and type errors come with line and column.
    if let Err(e) = crate::yaml::from_str::<FileShape>(&text) {
        return Err(ConfigError::Syntax(crate::yaml::YamlError::parse(
            &e,
            &path.display().to_string(),
        )));
    }
    let value: Value = crate::yaml::from_str(&text).map_err(|error| ConfigError::Parse {
        path: path.to_path_buf(),
        error: Box::new(error),
    })?;
    match value {
        Value::Object(_) => Ok((value, text)),
        Value::Null => Ok((Value::Object(Map::new()), text)),
        other => Err(ConfigError::NotSections {
            path: path.to_path_buf(),
            found: strict::describe(&other),
        }),
    }
}

fn check_value(path: &str, value: &Value, origin: &str) -> Result<(), ConfigError> {
    let Some(k) = key(path) else { return Ok(()) };
    let bad = |message: String| ConfigError::Value {
        origin: origin.to_string(),
        key: path.to_string(),
        message,
    };
    match (k.ty, value) {
        (_, Value::Null) => Ok(()),
        (KeyType::Text, Value::String(s)) => (k.check)(s).map_err(bad),
        (KeyType::Integer, Value::Number(n)) => (k.check)(&n.to_string()).map_err(bad),
        (KeyType::List, Value::Array(items)) => {
            for item in items {
                match item.as_str() {
                    Some(s) => (k.check)(s).map_err(bad)?,
                    None => {
                        return Err(bad(format!(
                            "expected a list of strings, found {}",
                            strict::describe(item)
                        )))
                    }
                }
            }
            Ok(())
        }
        (ty, v) => Err(bad(format!(
            "expected {}, found {}",
            match ty {
                KeyType::Text => "a string",
                KeyType::Integer => "a whole number",
                KeyType::List => "a list",
            },
            match v {
                Value::String(s) => format!("{s:?}"),
                other => strict::describe(other).to_string(),
            }
        ))),
    }
}

/// Loads the configuration from `sources`, the file found from `cwd`, and `env`.
///
/// `env` reads an environment variable (a parameter so tests need not touch
/// the process environment).
pub(crate) fn load(
    sources: &Sources,
    cwd: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut value = Value::Object(Map::new());
    let mut warnings = Vec::new();
    let mut origins = std::collections::BTreeMap::new();
    let mut notes = Vec::new();

    let file = match (&sources.explicit_file, env(FILE_ENV)) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(f)) if !f.is_empty() => Some(PathBuf::from(f)),
        _ => find_file(cwd),
    };
    if let Some(path) = &file {
        // Not `is_file`: a device such as /dev/zero exists and is read (bounded).
        if !path.exists() {
            return Err(ConfigError::NotFound(path.clone()));
        }
        let (file_value, text) = read_file(path)?;
        value = file_value;
        let origin = path.display().to_string();
        let wild_cloud = is_wild_cloud(&value);
        let unknown = unknown_keys(&value, &origin, wild_cloud);
        warnings.extend(unknown.warnings);
        if wild_cloud {
            let passed_over = match unknown.passed_over.is_empty() {
                true => "none".to_string(),
                false => unknown.passed_over.join(", "),
            };
            notes.push(format!(
                "{origin}: read as a wild-cloud config.yaml; its keys wildrun has no use for are passed over: {passed_over}"
            ));
            unset_blank_values(&mut value)?;
            notes.extend(read_aliases(&mut value, path, &text)?);
        }
        for k in KEYS {
            if let Some(v) = get_path(&value, k.path) {
                check_value(k.path, v, &origin).map_err(|e| e.placed_in(&origin, &text, k.path))?;
                if !v.is_null() {
                    origins.insert(k.path.to_string(), origin.clone());
                }
            }
        }
    }

    for k in KEYS {
        let var = k.env_var();
        if let Some(text) = env(&var).filter(|t| !t.is_empty()) {
            let v = parse_text(k.path, &text);
            let origin = format!("environment variable {var}");
            check_value(k.path, &v, &origin)?;
            set_path(&mut value, k.path, v)?;
            origins.insert(k.path.to_string(), origin);
        }
    }

    for set in &sources.sets {
        let Some((path, text)) = set.split_once('=') else {
            return Err(ConfigError::SetSyntax(set.clone()));
        };
        let path = path.trim();
        let v = parse_text(path, text);
        let origin = format!("--set {set}");
        if key(path).is_none() && !path.starts_with("vars.") {
            let mut probe = Value::Object(Map::new());
            set_path(&mut probe, path, Value::Null).map_err(|e| e.given_in(&origin))?;
            warnings.extend(unknown_keys(&probe, &origin, false).warnings);
        }
        check_value(path, &v, &origin)?;
        set_path(&mut value, path, v).map_err(|e| e.given_in(&origin))?;
        origins.insert(path.to_string(), origin);
    }

    for k in KEYS {
        if get_path(&value, k.path).is_none_or(Value::is_null) {
            if let Some(default) = k.default {
                set_path(&mut value, k.path, default())?;
            }
        }
    }
    if get_path(&value, "cloud.internalDomain").is_none_or(Value::is_null) {
        if let Some(domain) = get_path(&value, "cloud.domain").and_then(Value::as_str) {
            let internal = format!("internal.{domain}");
            set_path(&mut value, "cloud.internalDomain", Value::String(internal))?;
        }
    }
    if get_path(&value, "dns.zones").is_none_or(Value::is_null) {
        if let Some(domain) = get_path(&value, "cloud.domain").and_then(Value::as_str) {
            let zones = Value::Array(vec![Value::String(domain.to_string())]);
            set_path(&mut value, "dns.zones", zones)?;
        }
    }
    source_ranges(&mut value, &mut warnings)?;
    Ok(Config {
        value,
        file,
        warnings,
        origins,
        notes,
    })
}

/// `cluster.internalSourceRanges`, where internal services get their allow
/// list: empty is an error; a CIDR with host bits set is normalised with a
/// warning; a range that admits everyone is warned about here (the apply
/// refuses it unless `--force`).
fn source_ranges(value: &mut Value, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
    const PATH: &str = SOURCE_RANGES;
    let Some(list) = get_path(value, PATH).and_then(Value::as_array).cloned() else {
        return Ok(());
    };
    if list.is_empty() {
        return Err(ConfigError::NoSourceRanges);
    }
    let mut normal = Vec::with_capacity(list.len());
    for item in list {
        let Some(text) = item.as_str() else {
            normal.push(item);
            continue;
        };
        let fixed = validate::normal_cidr(text).map_err(ConfigError::SourceRange)?;
        if fixed != text {
            warnings.push(format!("{PATH}: {text} has host bits set; using {fixed}"));
        }
        if validate::admits_everyone(&fixed) {
            warnings.push(format!(
                "{PATH}: {fixed} admits every address, so an internal service would be open to the internet; applying one is refused unless --force"
            ));
        }
        normal.push(Value::String(fixed));
    }
    set_path(value, PATH, Value::Array(normal))
}

impl Config {
    /// The value at a dotted path, if set.
    pub(crate) fn get(&self, path: &str) -> Option<&Value> {
        get_path(&self.value, path).filter(|v| !v.is_null())
    }

    /// Where the value at a dotted path was given (the file, `environment
    /// variable X`, `--set k=v`); `None` when it is a default or unset.
    pub(crate) fn origin(&self, path: &str) -> Option<&str> {
        self.origins.get(path).map(String::as_str)
    }

    /// The value at a dotted path, or an error naming the three ways to set it.
    pub(crate) fn require(&self, path: &str) -> Result<&Value, ConfigError> {
        self.get(path).ok_or_else(|| ConfigError::Missing {
            key: path.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load_with(
        file: Option<&str>,
        env: &[(&str, &str)],
        sets: &[&str],
    ) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = file {
            std::fs::write(dir.path().join(FILE_NAME), text).unwrap();
        }
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sources = Sources {
            explicit_file: None,
            sets: sets.iter().map(|s| s.to_string()).collect(),
        };
        load(&sources, dir.path(), &|k| env.get(k).cloned())
    }

    #[test]
    fn prune_keep_kinds_are_kinds_with_an_optional_group() {
        let c = load_with(
            Some("prune:\n  keepKinds: [StatefulSet, Cluster.postgresql.cnpg.io]\n"),
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(
            c.get("prune.keepKinds"),
            Some(&json!(["StatefulSet", "Cluster.postgresql.cnpg.io"]))
        );
        let c = load_with(None, &[], &[]).unwrap();
        assert_eq!(c.get("prune.keepKinds"), Some(&json!([])));
        for bad in ["statefulset", "Stateful-Set", "Cluster.Bad_Group"] {
            let err = load_with(None, &[], &[&format!("prune.keepKinds={bad}")])
                .map(|c| format!("{:?}", c.get("prune.keepKinds")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("prune.keepKinds"), "{bad}: {err}");
        }
    }

    #[test]
    fn env_var_names() {
        assert_eq!(key("cloud.domain").unwrap().env_var(), "CLOUD_DOMAIN");
        assert_eq!(
            key("cluster.loadBalancerIp").unwrap().env_var(),
            "CLUSTER_LOAD_BALANCER_IP"
        );
    }

    #[test]
    fn defaults_and_derived_internal_domain() {
        let c = load_with(None, &[("CLOUD_DOMAIN", "example.com")], &[]).unwrap();
        assert_eq!(
            c.get("cloud.internalDomain"),
            Some(&json!("internal.example.com"))
        );
        assert_eq!(c.get("dns.ttl"), Some(&json!(60)));
        assert_eq!(c.get("ingress.className"), Some(&json!("traefik")));
        assert!(c.get("cluster.loadBalancerIp").is_none());
    }

    #[test]
    fn precedence_file_env_set() {
        let file = "cloud:\n  domain: file.example.com\ndns:\n  ttl: 30\n";
        let c = load_with(Some(file), &[], &[]).unwrap();
        assert_eq!(c.get("cloud.domain"), Some(&json!("file.example.com")));
        let c = load_with(Some(file), &[("CLOUD_DOMAIN", "env.example.com")], &[]).unwrap();
        assert_eq!(c.get("cloud.domain"), Some(&json!("env.example.com")));
        let c = load_with(
            Some(file),
            &[("CLOUD_DOMAIN", "env.example.com")],
            &["cloud.domain=set.example.com", "dns.ttl=120"],
        )
        .unwrap();
        assert_eq!(c.get("cloud.domain"), Some(&json!("set.example.com")));
        assert_eq!(c.get("dns.ttl"), Some(&json!(120)));
    }

    #[test]
    fn malformed_file_reports_line_and_column() {
        let err = load_with(Some("cloud:\n  domain: [unclosed\n"), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("wildrun.yaml:"), "{err}");
        assert!(
            err.split("wildrun.yaml:")
                .nth(1)
                .unwrap()
                .chars()
                .next()
                .unwrap()
                .is_ascii_digit(),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_in_file_reports_line() {
        let err = load_with(
            Some("cloud:\n  domain: example.com\ndns:\n  ttl: soon\n"),
            &[],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("wildrun.yaml:4:"), "{err}");
    }

    #[test]
    fn unknown_keys_warn_with_suggestion() {
        let c = load_with(
            Some("cloud:\n  domain: example.com\ndns:\n  tll: 5\nclustr: {}\nvars: {team: a}\n"),
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c
            .warnings
            .iter()
            .any(|w| w.contains("dns.tll (did you mean dns.ttl?)")));
        assert!(c
            .warnings
            .iter()
            .any(|w| w.contains("clustr (did you mean cluster?)")));
    }

    #[test]
    fn bad_values_are_rejected_with_their_source() {
        let err = load_with(None, &[("CLUSTER_LOAD_BALANCER_IP", "not-an-ip")], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CLUSTER_LOAD_BALANCER_IP") && err.contains("not an IP address"),
            "{err}"
        );
        let err = load_with(None, &[], &["cluster.internalSourceRanges=10.0.0.0/8,bad"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--set") && err.contains("not an IP address"),
            "{err}"
        );
        let err = load_with(None, &[], &["dns.ttl=abc"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("dns.ttl") && err.contains("whole number"),
            "{err}"
        );
    }

    #[test]
    fn a_lease_duration_is_whole_seconds_long_enough_to_renew() {
        let c = load_with(None, &[], &["watch.leaseDuration=4"]).unwrap();
        assert_eq!(c.get("watch.leaseDuration"), Some(&json!(4)));
        let c = load_with(None, &[], &[]).unwrap();
        assert_eq!(c.get("watch.leaseDuration"), Some(&json!(15)));
        for (bad, said) in [
            ("2", "from 3 to 86400"),
            ("0", "from 3 to 86400"),
            ("1.5", "whole number"),
        ] {
            let err = load_with(None, &[], &[&format!("watch.leaseDuration={bad}")])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("watch.leaseDuration") && err.contains(said),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn annotation_prefix_values() {
        let c = load_with(None, &[], &[]).unwrap();
        assert_eq!(c.get("dns.annotationPrefix"), Some(&json!("both")));
        let c = load_with(
            None,
            &[("DNS_ANNOTATION_PREFIX", "external-dns.kubernetes.io/")],
            &[],
        )
        .unwrap();
        assert_eq!(
            c.get("dns.annotationPrefix"),
            Some(&json!("external-dns.kubernetes.io/"))
        );
        let err = load_with(None, &[], &["dns.annotationPrefix=external-dns.alpha"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("dns.annotationPrefix")
                && err.contains("did you mean external-dns.alpha.kubernetes.io/?"),
            "{err}"
        );
        assert_eq!(key("tls.caFile").unwrap().env_var(), "TLS_CA_FILE");
    }

    #[test]
    fn layer_keys() {
        let c = load_with(None, &[("CLOUD_DOMAIN", "example.com")], &[]).unwrap();
        assert_eq!(c.get("dns.zones"), Some(&json!(["example.com"])));
        assert_eq!(c.get("metallb.namespace"), Some(&json!("metallb-system")));
        assert_eq!(c.get("dns.provider"), Some(&json!("cloudflare")));
        assert_eq!(
            key("externalDns.extraArgs").unwrap().env_var(),
            "EXTERNAL_DNS_EXTRA_ARGS"
        );
        assert_eq!(
            key("dns.rfc2136TsigSecret").unwrap().env_var(),
            "DNS_RFC2136_TSIG_SECRET"
        );
        let c = load_with(
            None,
            &[],
            &["cluster.addressPool=192.168.8.240-192.168.8.250, 10.1.0.0/28, 10.2.0.1"],
        )
        .unwrap();
        assert_eq!(
            c.get("cluster.addressPool")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            3
        );
        for (bad, why) in [
            ("192.168.8.250-192.168.8.240", "comes after"),
            ("192.168.8.240-fd00::1", "mixes"),
            ("192.168.8.0/33", "not an address range"),
            ("lan", "not an address range"),
            ("10.0.0.1-x", "not an IP address"),
        ] {
            let err = load_with(None, &[], &[&format!("cluster.addressPool={bad}")])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("cluster.addressPool") && err.contains(why),
                "{bad}: {err}"
            );
        }
        let err = load_with(None, &[("DNS_PROVIDER", "cloudflair")], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean cloudflare?"), "{err}");
        let err = load_with(None, &[], &["externalDns.extraArgs=policy=sync"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a command-line flag"), "{err}");
        // The policy has a key of its own, which the layer always writes.
        let err = load_with(
            None,
            &[],
            &["externalDns.extraArgs=--interval=1m,--policy=sync"],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("configuration key externalDns.extraArgs")
                && err.contains("set dns.policy instead"),
            "{err}"
        );
        let err = load_with(None, &[], &["dns.policy=upsert"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("configuration key dns.policy")
                && err.contains("did you mean upsert-only?"),
            "{err}"
        );
        let err = load_with(None, &[], &["tls.acmeEmail=nobody"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an email address"), "{err}");
    }

    #[test]
    fn list_values_from_set() {
        let c = load_with(
            None,
            &[],
            &["cluster.internalSourceRanges=10.0.0.0/8, 192.168.0.0/16"],
        )
        .unwrap();
        assert_eq!(
            c.get("cluster.internalSourceRanges"),
            Some(&json!(["10.0.0.0/8", "192.168.0.0/16"]))
        );
    }

    #[test]
    fn missing_required_key_names_three_ways() {
        let c = load_with(None, &[], &[]).unwrap();
        let err = c.require("cloud.domain").unwrap_err().to_string();
        assert!(
            err.contains("wildrun.yaml")
                && err.contains("CLOUD_DOMAIN")
                && err.contains("--set cloud.domain="),
            "{err}"
        );
    }

    #[test]
    fn each_given_key_knows_where_it_came_from_and_defaults_none() {
        let config = load_with(
            Some("cloud: {domain: example.test}\ndns: {ownerId: mine}\n"),
            &[("CLUSTER_LOAD_BALANCER_IP", "192.0.2.1")],
            &["dns.ownerId=theirs"],
        )
        .unwrap();
        assert!(config.origin("cloud.domain").unwrap().ends_with(FILE_NAME));
        assert_eq!(
            config.origin("cluster.loadBalancerIp"),
            Some("environment variable CLUSTER_LOAD_BALANCER_IP")
        );
        assert_eq!(
            config.origin("dns.ownerId"),
            Some("--set dns.ownerId=theirs")
        );
        // Defaults and values derived from others were not given.
        assert_eq!(config.origin("metallb.pool"), None);
        assert_eq!(config.origin("cloud.internalDomain"), None);
        assert!(config.get("cloud.internalDomain").is_some());
    }

    #[test]
    fn config_errors_say_where_the_value_came_from() {
        let err = load_with(None, &[], &["dns.ttl"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--set dns.ttl: expected KEY=VALUE, e.g. --set dns.ttl=120"
        );
        let err = load_with(None, &[("DNS_TTL", "0")], &[]).unwrap_err();
        let ConfigError::Value { origin, key, .. } = &err else {
            panic!("expected a value error, got {err:?}");
        };
        assert_eq!(
            (origin.as_str(), key.as_str()),
            ("environment variable DNS_TTL", "dns.ttl")
        );
        assert!(
            err.to_string()
                .starts_with("environment variable DNS_TTL: configuration key dns.ttl: "),
            "{err}"
        );
        let err = load_with(None, &[], &["vars.a=1", "vars.a.b=2"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--set vars.a.b=2: vars.a is not a map, so vars.a.b cannot be set"
        );
        let err = load_with(None, &[], &["vars..a=1"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--set vars..a=1: \"vars..a\" has an empty part"
        );
        let err = load_with(None, &[], &["cluster.internalSourceRanges="]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration key cluster.internalSourceRanges is empty: internal services need at least one network to admit (default 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"
        );
    }

    /// The wild-cloud config.yaml of the tests (tests/fixtures).
    const WILD_CLOUD_FILE: &str = include_str!("../tests/fixtures/wild-cloud-config.yaml");

    #[test]
    fn every_alias_names_a_wildrun_key_and_a_wild_cloud_section() {
        for alias in WILD_CLOUD_ALIASES {
            assert!(key(alias.key).is_some(), "{} → {}", alias.path, alias.key);
            assert!(key(alias.path).is_none(), "{} is wildrun's own", alias.path);
            let section = alias.path.split('.').next().unwrap_or_default();
            assert!(WILD_CLOUD_SECTIONS.contains(&section), "{}", alias.path);
        }
    }

    #[test]
    fn each_wild_cloud_alias_sets_its_wildrun_key() {
        let cases = [
            (
                "cluster:\n  ipAddressPool: 192.168.8.240-192.168.8.250\n",
                "cluster.addressPool",
                json!(["192.168.8.240-192.168.8.250"]),
            ),
            (
                "cluster:\n  externalDns:\n    ownerId: wild-cloud-home\n",
                "dns.ownerId",
                json!("wild-cloud-home"),
            ),
            (
                "operator:\n  email: ops@example.com\n",
                "tls.acmeEmail",
                json!("ops@example.com"),
            ),
            (
                "cluster:\n  certManager:\n    cloudflare:\n      domain: example.com\n",
                "dns.zones",
                json!(["example.com"]),
            ),
        ];
        assert_eq!(cases.len(), WILD_CLOUD_ALIASES.len());
        for (file, wildrun_key, want) in cases {
            let alias = WILD_CLOUD_ALIASES
                .iter()
                .find(|a| a.key == wildrun_key)
                .unwrap();
            let c = load_with(Some(file), &[], &[]).unwrap();
            assert_eq!(c.get(wildrun_key), Some(&want), "{file}");
            assert!(c.warnings.is_empty(), "{file}: {:?}", c.warnings);
            assert!(
                c.notes
                    .iter()
                    .any(|n| n.ends_with(&format!(": {} → {wildrun_key}", alias.path))),
                "{file}: {:?}",
                c.notes
            );
        }
    }

    #[test]
    fn a_wild_cloud_config_is_read_unchanged() {
        let c = load_with(Some(WILD_CLOUD_FILE), &[], &[]).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        for (path, want) in [
            ("cloud.domain", json!("cloud.example.com")),
            ("cloud.internalDomain", json!("local.cloud.example.com")),
            ("cluster.loadBalancerIp", json!("192.168.8.240")),
            (
                "cluster.addressPool",
                json!(["192.168.8.240-192.168.8.250"]),
            ),
            ("dns.ownerId", json!("wild-cloud-home")),
            ("dns.zones", json!(["example.com"])),
            ("tls.acmeEmail", json!("ops@example.com")),
        ] {
            assert_eq!(c.get(path), Some(&want), "{path}");
        }
        // Said at -v: the file taken as wild-cloud's, what is passed over,
        // each alias read.
        let passed_over = c
            .notes
            .iter()
            .find(|n| n.contains("read as a wild-cloud config.yaml"))
            .unwrap_or_else(|| panic!("{:?}", c.notes));
        for key in [
            "wildcloud",
            "apps",
            "cloud.baseDomain",
            "cloud.nfs",
            "cluster.name",
            "cluster.nodes",
            "cluster.hostnamePrefix",
        ] {
            assert!(passed_over.contains(key), "{key}: {passed_over}");
        }
        for read in [
            "operator",
            "cluster.ipAddressPool",
            "cluster.externalDns",
            "cluster.certManager",
        ] {
            assert!(
                !passed_over.contains(&format!(" {read},")),
                "{read}: {passed_over}"
            );
        }
        assert_eq!(c.notes.len(), 1 + WILD_CLOUD_ALIASES.len(), "{:?}", c.notes);
        // The environment and --set still override the file.
        let c = load_with(
            Some(WILD_CLOUD_FILE),
            &[("CLUSTER_ADDRESS_POOL", "192.168.8.240/29")],
            &["dns.ownerId=mine"],
        )
        .unwrap();
        assert_eq!(
            c.get("cluster.addressPool"),
            Some(&json!(["192.168.8.240/29"]))
        );
        assert_eq!(c.get("dns.ownerId"), Some(&json!("mine")));
    }

    #[test]
    fn an_alias_and_its_key_with_different_values_are_refused() {
        let file = "cluster:\n  ipAddressPool: 192.168.8.240-192.168.8.250\n  addressPool: [192.168.9.0/28]\n";
        let err = load_with(Some(file), &[], &[]).unwrap_err().to_string();
        assert!(
            err.contains("wildrun.yaml: cluster.ipAddressPool is [\"192.168.8.240-192.168.8.250\"] but cluster.addressPool is [\"192.168.9.0/28\"]"),
            "{err}"
        );
        let file = "operator:\n  email: ops@example.com\ntls:\n  acmeEmail: certs@example.com\n";
        let err = load_with(Some(file), &[], &[]).unwrap_err().to_string();
        assert!(
            err.contains(
                "operator.email is \"ops@example.com\" but tls.acmeEmail is \"certs@example.com\""
            ),
            "{err}"
        );
        // The same value twice is no conflict.
        let file = "cluster:\n  ipAddressPool: 192.168.8.240-192.168.8.250\n  addressPool: [192.168.8.240-192.168.8.250]\n";
        let c = load_with(Some(file), &[], &[]).unwrap();
        assert_eq!(
            c.get("cluster.addressPool"),
            Some(&json!(["192.168.8.240-192.168.8.250"]))
        );
    }

    #[test]
    fn a_bad_alias_value_names_the_file_the_alias_and_the_key() {
        let err = load_with(Some("cluster:\n  ipAddressPool: lan\n"), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("wildrun.yaml:2:18 (cluster.ipAddressPool): configuration key cluster.addressPool: \"lan\" is not an address range"),
            "{err}"
        );
    }

    #[test]
    fn blank_values_of_a_wild_cloud_config_are_unset() {
        let file = "operator:\n  email: \"\"\ncloud:\n  domain: cloud.example.com\n  internalDomain: \"\"\ncluster:\n  loadBalancerIp: \"\"\n";
        let c = load_with(Some(file), &[], &[]).unwrap();
        assert_eq!(c.get("tls.acmeEmail"), None);
        assert_eq!(c.get("cluster.loadBalancerIp"), None);
        assert_eq!(
            c.get("cloud.internalDomain"),
            Some(&json!("internal.cloud.example.com"))
        );
        // In a wildrun file a blank value is still an error.
        let err = load_with(Some("cloud:\n  domain: \"\"\n"), &[], &[]).unwrap_err();
        assert!(err.to_string().contains("cloud.domain"), "{err}");
    }

    #[test]
    fn in_a_wild_cloud_config_its_keys_pass_but_typos_of_wildruns_are_named() {
        let file = format!(
            "{WILD_CLOUD_FILE}dns:\n  tll: 30\ntsl:\n  issuer: ca\nbackups:\n  schedule: daily\n"
        );
        let file = file.replace(
            "  loadBalancerIp: 192.168.8.240",
            "  loadBalancerIP: 192.168.8.240",
        );
        let c = load_with(Some(&file), &[], &[]).unwrap();
        let mut warnings: Vec<&str> = c
            .warnings
            .iter()
            .filter_map(|w| w.split_once("wildrun.yaml: ").map(|(_, w)| w))
            .collect();
        warnings.sort();
        assert_eq!(
            warnings,
            [
                "unknown configuration key cluster.loadBalancerIP (did you mean cluster.loadBalancerIp?)",
                "unknown configuration key dns.tll (did you mean dns.ttl?)",
                "unknown configuration key tsl (did you mean tls?)",
            ],
            "{:?}",
            c.warnings
        );
        // The same wild-cloud keys in a wildrun file are unknown.
        let c = load_with(
            Some("cloud:\n  domain: example.com\n  baseDomain: example.com\ncluster:\n  name: home\n"),
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.notes.is_empty(), "{:?}", c.notes);
    }

    #[test]
    fn config_error_texts() {
        assert_eq!(
            ConfigError::NotFound(PathBuf::from("/etc/wildrun.yaml")).to_string(),
            "configuration file /etc/wildrun.yaml does not exist"
        );
        assert_eq!(
            ConfigError::NotSections {
                path: PathBuf::from("w.yaml"),
                found: "a list",
            }
            .to_string(),
            "w.yaml: the configuration must be a map of sections (cloud:, cluster:, ...), found a list"
        );
        assert_eq!(
            ConfigError::KeyPath {
                origin: None,
                problem: "cloud is not a map, so cloud.domain cannot be set".into(),
            }
            .to_string(),
            "cloud is not a map, so cloud.domain cannot be set"
        );
        assert_eq!(
            ConfigError::SourceRange("\"x\" is not a network".into()).to_string(),
            "cluster.internalSourceRanges: \"x\" is not a network"
        );
        assert_eq!(
            ConfigError::Missing {
                key: "cloud.domain".into()
            }
            .to_string(),
            "configuration key cloud.domain is not set (the domain public services live under (required)): set it in wildrun.yaml (cloud: {domain: ...}), with the environment variable CLOUD_DOMAIN, or with --set cloud.domain=..."
        );
        assert_eq!(
            ConfigError::Missing {
                key: "vars.team".into()
            }
            .to_string(),
            "configuration key vars.team is not set (): set it in wildrun.yaml (vars: {team: ...}), with the environment variable (none), or with --set vars.team=..."
        );
    }
}
