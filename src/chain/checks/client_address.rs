//! `client-address`: whether Traefik sees each client's own address, the
//! address the internal-only middleware (`ipAllowList`) judges.
//!
//! Behind a LoadBalancer Service with `externalTrafficPolicy: Cluster`
//! (the Kubernetes default), kube-proxy masquerades every connection's
//! source to a node or CNI address. That address is inside the private
//! ranges, so every client, from anywhere on the internet, passes the
//! allowlist. Traefik sees the real address when the policy is `Local`, or
//! when something in front of it speaks PROXY protocol and the entry point
//! trusts it. Trusted forwarded headers (`forwardedHeaders.trustedIPs`) do
//! not help: without an `ipStrategy` (the internal recipe sets none),
//! `ipAllowList` judges the connection's address, not `X-Forwarded-For`.

use super::super::check::Check;
use super::{at, text};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The check's name.
pub(crate) const NAME: &str = "client-address";

/// The policy that keeps client addresses (`spec.externalTrafficPolicy`).
pub(crate) const LOCAL: &str = "Local";

/// What Kubernetes uses when a Service names no policy.
pub(crate) const CLUSTER: &str = "Cluster";

/// The leak, in the words every message about it uses.
pub(crate) const LEAK: &str = "every client looks internal to the internal-only middleware";

/// How client addresses reach Traefik, as `ingress.clientAddress` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ClientAddress {
    /// Kubernetes keeps them: Traefik's Service has `externalTrafficPolicy:
    /// Local` (scripts/cluster.rhai sets it).
    #[default]
    Local,
    /// Something in front of Traefik speaks PROXY protocol, and Traefik's
    /// entry points trust it; the Service's policy is left alone.
    ProxyProtocol,
}

impl ClientAddress {
    /// The configuration values, as `ingress.clientAddress` takes them.
    pub(crate) const CHOICES: [&'static str; 2] = ["local", "proxy-protocol"];
}

impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientAddress::Local => Self::CHOICES[0],
            ClientAddress::ProxyProtocol => Self::CHOICES[1],
        })
    }
}

/// The Service's `externalTrafficPolicy`, `Cluster` when it names none.
pub(crate) fn traffic_policy(service: &Value) -> &str {
    text(service, "/spec/externalTrafficPolicy").unwrap_or(CLUSTER)
}

/// Whether the policy applies at all: only to traffic from outside, which
/// reaches LoadBalancer and NodePort Services.
fn takes_outside_traffic(service: &Value) -> bool {
    matches!(
        text(service, "/spec/type"),
        Some("LoadBalancer" | "NodePort")
    )
}

/// What Traefik's command line says about its entry points: those it
/// declares, those trusting PROXY protocol, those trusting forwarded headers.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct EntryPoints {
    /// Entry points given an address.
    pub(crate) declared: Vec<String>,
    /// Entry points trusting PROXY protocol (`proxyProtocol.trustedIPs` or
    /// `proxyProtocol.insecure`).
    pub(crate) proxy_protocol: Vec<String>,
    /// Entry points trusting forwarded headers.
    pub(crate) forwarded_headers: Vec<String>,
}

impl EntryPoints {
    /// Read from Traefik's arguments (`--entryPoints.NAME.KEY=VALUE`; Traefik
    /// takes the keys in any case, the names as written).
    pub(crate) fn from_args<S: AsRef<str>>(args: &[S]) -> EntryPoints {
        let mut found = EntryPoints::default();
        for arg in args {
            let Some(flag) = arg.as_ref().strip_prefix("--") else {
                continue;
            };
            let (key, value) = flag.split_once('=').unwrap_or((flag, "true"));
            let mut parts = key.splitn(3, '.');
            let (Some(root), Some(name), Some(rest)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if !root.eq_ignore_ascii_case("entrypoints") {
                continue;
            }
            let rest = rest.to_ascii_lowercase();
            let value = value.trim();
            let list = match rest.as_str() {
                "address" => &mut found.declared,
                "proxyprotocol.trustedips" if !value.is_empty() => &mut found.proxy_protocol,
                "proxyprotocol.insecure" if !value.eq_ignore_ascii_case("false") => {
                    &mut found.proxy_protocol
                }
                "forwardedheaders.trustedips" if !value.is_empty() => &mut found.forwarded_headers,
                "forwardedheaders.insecure" if !value.eq_ignore_ascii_case("false") => {
                    &mut found.forwarded_headers
                }
                _ => continue,
            };
            if !list.iter().any(|n| n == name) {
                list.push(name.to_string());
            }
        }
        found
    }

    /// Whether PROXY protocol is trusted on every declared entry point (on
    /// one at least when the command line declares none).
    pub(crate) fn all_trust_proxy_protocol(&self) -> bool {
        !self.proxy_protocol.is_empty()
            && self
                .declared
                .iter()
                .all(|name| self.proxy_protocol.contains(name))
    }

    /// Declared entry points that do not trust PROXY protocol.
    fn without_proxy_protocol(&self) -> Vec<&str> {
        let untrusted: Vec<&str> = self
            .declared
            .iter()
            .filter(|name| !self.proxy_protocol.contains(name))
            .map(String::as_str)
            .collect();
        if untrusted.is_empty() && self.proxy_protocol.is_empty() {
            vec!["websecure"]
        } else {
            untrusted
        }
    }
}

/// The arguments of every container of `pods` (command and args), in order.
pub(crate) fn container_args(pods: &[Value]) -> Vec<String> {
    pods.iter()
        .flat_map(super::containers)
        .flat_map(|c| ["command", "args"].map(|key| crate::objects::string_list(c.get(key))))
        .flatten()
        .collect()
}

/// `client-address`: whether Traefik, behind `service` (its LoadBalancer
/// Service; `None`: not found) and run with `args` (its pods' command
/// lines), sees each client's own address, as `mode`
/// (`ingress.clientAddress`) says it should.
pub(crate) fn judge<S: AsRef<str>>(
    service: Option<&Value>,
    args: &[S],
    mode: ClientAddress,
) -> Check {
    let Some(svc) = service else {
        return Check::skip(NAME, "no Traefik Service (see load-balancer)");
    };
    let at = at(svc);
    if !takes_outside_traffic(svc) {
        return Check::skip(
            NAME,
            format!(
                "Service {at} is of type {}: no externalTrafficPolicy applies",
                text(svc, "/spec/type").unwrap_or("ClusterIP")
            ),
        );
    }
    let policy = traffic_policy(svc);
    let entry = EntryPoints::from_args(args);
    let trusted = entry.proxy_protocol.join(", ");
    let patch = format!(
        "kubectl -n {} patch service {} -p '{{\"spec\":{{\"externalTrafficPolicy\":\"Local\"}}}}'",
        text(svc, "/metadata/namespace").unwrap_or_default(),
        text(svc, "/metadata/name").unwrap_or_default()
    );
    let trust_flags = entry
        .without_proxy_protocol()
        .iter()
        .map(|name| format!("--entryPoints.{name}.proxyProtocol.trustedIPs=<the proxy's address>"))
        .collect::<Vec<_>>()
        .join(" ");
    match mode {
        ClientAddress::ProxyProtocol => {
            if entry.all_trust_proxy_protocol() {
                Check::pass(
                    NAME,
                    format!("ingress.clientAddress is proxy-protocol and Traefik's entry points trust it ({trusted}); Service {at} has externalTrafficPolicy {policy}"),
                )
            } else {
                Check::fail(
                    NAME,
                    format!(
                        "ingress.clientAddress is proxy-protocol, but Traefik's entry point(s) {} do not trust PROXY protocol (Service {at} has externalTrafficPolicy {policy})",
                        entry.without_proxy_protocol().join(", ")
                    ),
                    format!("add {trust_flags} to Traefik's args (Helm: ports.websecure.proxyProtocol.trustedIPs), or set ingress.clientAddress=local and run wildrun scripts/cluster.rhai"),
                )
            }
        }
        ClientAddress::Local if policy == LOCAL => Check::pass(
            NAME,
            format!("Service {at} has externalTrafficPolicy Local: Traefik sees each client's own address"),
        ),
        ClientAddress::Local if entry.all_trust_proxy_protocol() => Check::pass(
            NAME,
            format!("Service {at} has externalTrafficPolicy {policy}, but Traefik's entry points trust PROXY protocol ({trusted}), which carries each client's address"),
        ),
        ClientAddress::Local => {
            let headers = if entry.forwarded_headers.is_empty() {
                String::new()
            } else {
                format!(
                    "; trusted forwarded headers ({}) do not help: ipAllowList judges the connection's address",
                    entry.forwarded_headers.join(", ")
                )
            };
            Check::fail(
                NAME,
                format!("Service {at} has externalTrafficPolicy {policy} and Traefik trusts no PROXY protocol: kube-proxy gives every connection a node's address, so {LEAK} and an internal service answers the internet{headers}"),
                format!("run wildrun scripts/cluster.rhai: it sets externalTrafficPolicy: Local on the Service ({patch}); if a proxy in front of Traefik speaks PROXY protocol, set ingress.clientAddress=proxy-protocol and add {trust_flags} to Traefik's args"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::check::CheckStatus;
    use serde_json::json;

    fn traefik(policy: Option<&str>) -> Value {
        let mut svc = json!({"metadata": {"name": "traefik", "namespace": "traefik"},
            "spec": {"type": "LoadBalancer"}});
        if let Some(p) = policy {
            svc["spec"]["externalTrafficPolicy"] = json!(p);
        }
        svc
    }

    const NO_ARGS: [&str; 0] = [];

    #[test]
    fn cluster_policy_leaks_and_local_does_not() {
        let leak = judge(Some(&traefik(None)), &NO_ARGS, ClientAddress::Local);
        assert_eq!(leak.status, CheckStatus::Fail);
        assert!(
            leak.found.contains("externalTrafficPolicy Cluster"),
            "{}",
            leak.found
        );
        assert!(leak.found.contains(LEAK), "{}", leak.found);
        let hint = leak.hint.unwrap_or_default();
        assert!(hint.contains("externalTrafficPolicy: Local"), "{hint}");
        assert!(
            hint.contains("kubectl -n traefik patch service traefik"),
            "{hint}"
        );
        assert!(
            hint.contains("ingress.clientAddress=proxy-protocol"),
            "{hint}"
        );
        let explicit = judge(
            Some(&traefik(Some("Cluster"))),
            &NO_ARGS,
            ClientAddress::Local,
        );
        assert_eq!(explicit.status, CheckStatus::Fail);
        let local = judge(
            Some(&traefik(Some("Local"))),
            &NO_ARGS,
            ClientAddress::Local,
        );
        assert!(local.passed(), "{local:?}");
        assert_eq!(
            local.found,
            "Service traefik/traefik has externalTrafficPolicy Local: Traefik sees each client's own address"
        );
    }

    #[test]
    fn proxy_protocol_on_every_entry_point_counts_forwarded_headers_do_not() {
        let args = [
            "--entryPoints.websecure.address=:8443",
            "--entrypoints.websecure.proxyprotocol.trustedips=10.0.0.5/32",
        ];
        assert!(judge(Some(&traefik(None)), &args, ClientAddress::Local).passed());
        // A second entry point without it: a client reaching that one leaks.
        let two = [args[0], args[1], "--entryPoints.web.address=:8000"];
        let c = judge(Some(&traefik(None)), &two, ClientAddress::Local);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(c
            .hint
            .unwrap_or_default()
            .contains("--entryPoints.web.proxyProtocol.trustedIPs="));
        let headers = ["--entryPoints.websecure.forwardedHeaders.trustedIPs=10.0.0.0/8"];
        let c = judge(Some(&traefik(None)), &headers, ClientAddress::Local);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.found
                .contains("trusted forwarded headers (websecure) do not help"),
            "{}",
            c.found
        );
        let insecure = ["--entryPoints.websecure.proxyProtocol.insecure"];
        assert_eq!(
            EntryPoints::from_args(&insecure).proxy_protocol,
            ["websecure"]
        );
        let off = ["--entryPoints.websecure.proxyProtocol.insecure=false"];
        assert!(EntryPoints::from_args(&off).proxy_protocol.is_empty());
    }

    #[test]
    fn proxy_protocol_configured_needs_traefik_to_trust_it() {
        let c = judge(
            Some(&traefik(Some("Local"))),
            &NO_ARGS,
            ClientAddress::ProxyProtocol,
        );
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.found.contains("websecure do not trust PROXY protocol"),
            "{}",
            c.found
        );
        let args = ["--entryPoints.websecure.proxyProtocol.trustedIPs=192.168.8.1"];
        let c = judge(Some(&traefik(None)), &args, ClientAddress::ProxyProtocol);
        assert!(c.passed(), "{c:?}");
    }

    #[test]
    fn only_services_taking_outside_traffic_are_judged() {
        assert_eq!(
            judge(None, &NO_ARGS, ClientAddress::Local).status,
            CheckStatus::Skip
        );
        let mut internal = traefik(None);
        internal["spec"]["type"] = json!("ClusterIP");
        let c = judge(Some(&internal), &NO_ARGS, ClientAddress::Local);
        assert_eq!(c.status, CheckStatus::Skip);
        assert!(c.found.contains("ClusterIP"));
    }

    #[test]
    fn args_of_every_container() {
        let pods = [json!({"spec": {"containers": [
            {"command": ["traefik"], "args": ["--entryPoints.websecure.address=:443"]}]}})];
        assert_eq!(
            container_args(&pods),
            ["traefik", "--entryPoints.websecure.address=:443"]
        );
        assert_eq!(ClientAddress::ProxyProtocol.to_string(), "proxy-protocol");
    }
}
