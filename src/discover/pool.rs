//! MetalLB's IPAddressPools and the L2Advertisements that announce them.
//!
//! A pool is found by its addresses: the one holding the load balancer
//! address is the layer's, whatever its name; any other that shares an
//! address with the configured pool would make MetalLB's webhook refuse
//! wildrun's.

use super::{Identity, Wanted};
use crate::objects::string_list;
use serde::Serialize;
use serde_json::{Map, Value};

/// One IPAddressPool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Pool {
    /// Where it is and who made it.
    #[serde(flatten)]
    pub(crate) id: Identity,
    /// `spec.addresses`.
    pub(crate) addresses: Vec<String>,
    /// It holds the load balancer address.
    pub(crate) holds_load_balancer_ip: bool,
    /// It shares an address with the configured pool.
    pub(crate) overlaps: bool,
    /// Its addresses are exactly the configured pool's (whatever their
    /// form: `192.168.8.0/30` is `192.168.8.0-192.168.8.3`).
    pub(crate) same_addresses: bool,
    /// `spec.autoAssign` (true when not set).
    pub(crate) auto_assign: bool,
    /// The L2Advertisements (in its namespace) that announce it.
    pub(crate) l2_advertisements: Vec<String>,
    #[serde(skip)]
    labels: Map<String, Value>,
}

/// The first and last address of each range, sorted; ranges that are not
/// ranges are left out.
fn bounds(ranges: &[String]) -> Vec<(std::net::IpAddr, std::net::IpAddr)> {
    let mut out: Vec<_> = ranges
        .iter()
        .filter_map(|r| crate::dns::address_bounds(r).ok())
        .collect();
    out.sort();
    out.dedup();
    out
}

impl Pool {
    /// Reads a listed pool, against what is wanted and the advertisements.
    pub(crate) fn read(
        object: &Value,
        wanted: &Wanted,
        advertisements: &[L2Advertisement],
    ) -> Pool {
        let id = Identity::of(object);
        let addresses = string_list(object.pointer("/spec/addresses"));
        let holds_load_balancer_ip = wanted.load_balancer_ip.is_some_and(|ip| {
            addresses
                .iter()
                .any(|r| crate::dns::ip_in_range(ip, r).unwrap_or(false))
        });
        let overlaps = addresses.iter().any(|ours| {
            wanted
                .address_pool
                .iter()
                .any(|theirs| crate::dns::ranges_overlap(ours, theirs).unwrap_or(false))
        });
        let same_addresses =
            !wanted.address_pool.is_empty() && bounds(&addresses) == bounds(&wanted.address_pool);
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut pool = Pool {
            id,
            addresses,
            holds_load_balancer_ip,
            overlaps,
            same_addresses,
            auto_assign: object
                .pointer("/spec/autoAssign")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            l2_advertisements: Vec::new(),
            labels,
        };
        pool.l2_advertisements = advertisements
            .iter()
            .filter(|a| a.announces(&pool))
            .map(|a| a.id.name.clone())
            .collect();
        pool
    }
}

/// One L2Advertisement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct L2Advertisement {
    /// Where it is and who made it.
    #[serde(flatten)]
    pub(crate) id: Identity,
    /// `spec.ipAddressPools`: the pools it names.
    pub(crate) pools: Vec<String>,
    /// It selects pools by label (`spec.ipAddressPoolSelectors`).
    pub(crate) selects_by_label: bool,
    #[serde(skip)]
    selectors: Vec<Value>,
}

impl L2Advertisement {
    /// Reads a listed L2Advertisement.
    pub(crate) fn read(object: &Value) -> L2Advertisement {
        let selectors: Vec<Value> = object
            .pointer("/spec/ipAddressPoolSelectors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        L2Advertisement {
            id: Identity::of(object),
            pools: string_list(object.pointer("/spec/ipAddressPools")),
            selects_by_label: !selectors.is_empty(),
            selectors,
        }
    }

    /// Whether it announces `pool`: it names it, one of its selectors'
    /// `matchLabels` match the pool's labels, or it names and selects
    /// nothing (MetalLB then announces every pool of its namespace).
    pub(crate) fn announces(&self, pool: &Pool) -> bool {
        if self.id.namespace != pool.id.namespace {
            return false;
        }
        if self.pools.is_empty() && self.selectors.is_empty() {
            return true;
        }
        self.pools.contains(&pool.id.name)
            || self.selectors.iter().any(|s| {
                let wanted = s
                    .get("matchLabels")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                // matchExpressions are not read: a selector of those alone
                // counts as announcing, the cautious answer.
                wanted.iter().all(|(k, v)| pool.labels.get(k) == Some(v))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::by_kubectl;
    use super::*;
    use serde_json::json;

    fn wanted(pool: &[&str]) -> Wanted {
        Wanted {
            domain: "example.test".into(),
            load_balancer_ip: Some("192.168.8.240".parse().unwrap()),
            address_pool: pool.iter().map(|s| s.to_string()).collect(),
            ..Wanted::default()
        }
    }

    fn pool(name: &str, addresses: &[&str]) -> Value {
        by_kubectl(
            json!({"metadata": {"name": name, "namespace": "metallb-system", "labels": {"zone": "lan"}},
                          "spec": {"addresses": addresses}}),
        )
    }

    #[test]
    fn the_pool_holding_the_address_is_found_whatever_its_name() {
        let ads = vec![L2Advertisement::read(
            &json!({"metadata": {"name": "l2-advertisement", "namespace": "metallb-system"},
            "spec": {"ipAddressPools": ["first-pool"]}}),
        )];
        let first = Pool::read(
            &pool("first-pool", &["192.168.8.240-192.168.8.249"]),
            &wanted(&[]),
            &ads,
        );
        assert!(first.holds_load_balancer_ip);
        assert!(!first.overlaps && !first.same_addresses);
        assert_eq!(first.l2_advertisements, ["l2-advertisement"]);
        assert!(first.auto_assign);
        assert!(!first.id.ours);
        let other = Pool::read(&pool("other", &["10.0.0.0/24"]), &wanted(&[]), &ads);
        assert!(!other.holds_load_balancer_ip);
        assert!(other.l2_advertisements.is_empty());
    }

    #[test]
    fn the_configured_pool_is_compared_by_addresses_not_by_form() {
        let p = Pool::read(
            &pool("first-pool", &["192.168.8.240/30"]),
            &wanted(&["192.168.8.240-192.168.8.243"]),
            &[],
        );
        assert!(p.same_addresses && p.overlaps);
        let p = Pool::read(
            &pool("first-pool", &["192.168.8.240-192.168.8.249"]),
            &wanted(&["192.168.8.245-192.168.8.250"]),
            &[],
        );
        assert!(p.overlaps && !p.same_addresses);
    }

    #[test]
    fn advertisements_announce_by_name_label_or_all() {
        let p = Pool::read(&pool("first-pool", &["192.168.8.240"]), &wanted(&[]), &[]);
        let ad = |spec: Value, namespace: &str| {
            L2Advertisement::read(
                &json!({"metadata": {"name": "a", "namespace": namespace}, "spec": spec}),
            )
        };
        assert!(ad(json!({}), "metallb-system").announces(&p));
        assert!(!ad(json!({}), "elsewhere").announces(&p));
        assert!(ad(
            json!({"ipAddressPoolSelectors": [{"matchLabels": {"zone": "lan"}}]}),
            "metallb-system"
        )
        .announces(&p));
        assert!(!ad(
            json!({"ipAddressPoolSelectors": [{"matchLabels": {"zone": "dmz"}}]}),
            "metallb-system"
        )
        .announces(&p));
        assert!(!ad(json!({"ipAddressPools": ["other"]}), "metallb-system").announces(&p));
    }
}
