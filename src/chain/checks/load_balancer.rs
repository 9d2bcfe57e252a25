//! Traefik's address: its LoadBalancer Service has an external IP that a
//! MetalLB pool holds.

use super::super::check::Check;
use super::super::subject::Subject;
use super::{at, text};
use serde_json::Value;

/// The external addresses of a LoadBalancer Service, as MetalLB assigned them.
pub(crate) fn external_ips(service: &Value) -> Vec<String> {
    service
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|i| i.get("ip").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a Service is of type LoadBalancer.
pub(crate) fn is_load_balancer(service: &Value) -> bool {
    text(service, "/spec/type") == Some("LoadBalancer")
}

/// `load-balancer`: Traefik's Service (`traefik`) has an external IP inside
/// one of MetalLB's `pools` (`Err`: why they could not be listed); for an
/// internal service, the one its record points at.
pub(crate) fn traefik(
    s: &Subject,
    traefik: Option<&Value>,
    pools: Result<&[Value], String>,
) -> Check {
    const NAME: &str = "load-balancer";
    let Some(svc) = traefik else {
        return Check::fail(
            NAME,
            "no Traefik LoadBalancer Service found",
            format!(
                "install Traefik with a LoadBalancer Service (labelled {}, or selecting the pods of a workload running Traefik's image), or pass --traefik-service namespace/name",
                super::super::names::TRAEFIK_SELECTOR
            ),
        );
    };
    let at = at(svc);
    let Some(ip) = external_ips(svc).into_iter().next() else {
        return Check::fail(
            NAME,
            format!("Service {at} has no external IP"),
            "MetalLB has not assigned an address: check its IPAddressPool and L2Advertisement (kubectl -n metallb-system logs deploy/controller)",
        );
    };
    let pools = match pools {
        Ok(pools) => pools,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("Service {at} has {ip}; {e}"),
                "install MetalLB (its CRDs are missing)",
            )
        }
    };
    let holds = |pool: &Value| {
        let addresses = crate::objects::string_list(pool.pointer("/spec/addresses"));
        ip.parse().is_ok_and(|addr| {
            addresses
                .iter()
                .any(|r| crate::dns::ip_in_range(addr, r).unwrap_or(false))
        })
    };
    let Some(pool) = pools.iter().find(|p| holds(p)) else {
        return Check::fail(
            NAME,
            format!("Service {at} has {ip}, in no IPAddressPool"),
            format!("add {ip} to a MetalLB IPAddressPool, or have MetalLB assign one from a pool"),
        );
    };
    // A record that is an address (an internal service's) must be this one.
    let pinned = s
        .target
        .as_deref()
        .filter(|t| t.parse::<std::net::IpAddr>().is_ok());
    if (s.internal && s.by_recipe() || pinned.is_some()) && Some(ip.as_str()) != pinned {
        let target = s.target();
        return Check::fail(
            NAME,
            format!(
                "Service {at} has {ip} (pool {}), not {target}",
                text(pool, "/metadata/name").unwrap_or_default()
            ),
            format!("set cluster.loadBalancerIp to {ip}, or pin Traefik's Service to {target}"),
        );
    }
    Check::pass(
        NAME,
        format!(
            "Service {at} has {ip}, in IPAddressPool {}",
            super::at(pool)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::check::CheckStatus;
    use serde_json::json;

    #[test]
    fn traefiks_address_in_a_pool() {
        let mut s = Subject::default();
        let svc = json!({"metadata": {"name": "traefik", "namespace": "traefik"},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.168.8.240"}]}}});
        let pool = json!({"metadata": {"name": "lan", "namespace": "metallb-system"},
            "spec": {"addresses": ["192.168.8.240-192.168.8.250"]}});
        assert!(is_load_balancer(&svc));
        let pools = [pool];
        let c = traefik(&s, Some(&svc), Ok(&pools));
        assert_eq!(
            c.found,
            "Service traefik/traefik has 192.168.8.240, in IPAddressPool metallb-system/lan"
        );
        s.internal = true;
        s.target = Some("192.168.8.241".into());
        let c = traefik(&s, Some(&svc), Ok(&pools));
        assert_eq!(
            c.found,
            "Service traefik/traefik has 192.168.8.240 (pool lan), not 192.168.8.241"
        );
        assert_eq!(
            traefik(&s, Some(&svc), Ok(&[])).found,
            "Service traefik/traefik has 192.168.8.240, in no IPAddressPool"
        );
        let c = traefik(&s, Some(&svc), Err("no CRD".into()));
        assert_eq!(
            (c.status, c.found.as_str()),
            (
                CheckStatus::Fail,
                "Service traefik/traefik has 192.168.8.240; no CRD"
            )
        );
        assert_eq!(traefik(&s, None, Ok(&[])).status, CheckStatus::Fail);
    }
}
