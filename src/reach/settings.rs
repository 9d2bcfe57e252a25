//! What the wait needs besides the plan, from the run's configuration.

use crate::config::Config;
use crate::dns;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// What the wait needs besides the plan.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The whole wait's limit.
    pub(crate) timeout: Duration,
    /// `dns.server`: ask this nameserver instead of finding the zone's.
    pub(crate) dns_server: Option<SocketAddr>,
    /// `ingress.httpsPort`.
    pub(crate) https_port: u16,
    /// `tls.caFile`.
    pub(crate) ca_file: Option<String>,
    /// `cluster.loadBalancerIp`: where to send the request when DNS gives no address.
    pub(crate) load_balancer_ip: Option<IpAddr>,
    /// `cluster.internalSourceRanges`.
    pub(crate) internal_ranges: Vec<String>,
}

impl Settings {
    /// The settings a run's configuration gives, with `timeout`.
    pub(crate) fn from_config(config: &Config, timeout: Duration) -> Settings {
        let text = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_string);
        Settings {
            timeout,
            dns_server: text("dns.server").and_then(|s| dns::server_address(&s).ok()),
            https_port: config
                .get("ingress.httpsPort")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(443),
            ca_file: text("tls.caFile"),
            load_balancer_ip: text("cluster.loadBalancerIp").and_then(|s| s.parse().ok()),
            internal_ranges: crate::objects::string_list(
                config.get("cluster.internalSourceRanges"),
            ),
        }
    }
}
