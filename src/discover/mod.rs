//! The visibility layer a cluster already runs, found by what each part is.
//!
//! Clusters wildrun did not set up have their layer already, made by a
//! set-up repository's scripts, Helm charts or `kubectl apply`, under names
//! and labels of their own. [`discover`] finds each part by what it is,
//! never by wildrun's names:
//!
//! - MetalLB's controllers by their image, the IPAddressPools (which of
//!   them holds the load balancer address, which overlap the configured
//!   pool) and the L2Advertisements that announce them ([`pool`]);
//! - every ExternalDNS Deployment, in any namespace, by its image, with
//!   what its arguments say: version, provider, zones, owner id, sources,
//!   annotation prefix, policy ([`external_dns`]);
//! - the ClusterIssuers ([`issuer`]);
//! - the wildcard Certificates of the two domains ([`certificate`]);
//! - Traefik's LoadBalancer Service: the one selecting the pods of a
//!   workload whose image is Traefik's ([`traefik`]).
//!
//! Reading is one list per kind; [`Layer::read`] turns the lists into the
//! parts, without a cluster (unit-tested). Each part says who made it
//! ([`Identity`]): wildrun, wildrun by adoption, or another tool.

pub(crate) mod certificate;
pub(crate) mod external_dns;
pub(crate) mod issuer;
pub(crate) mod pool;
pub(crate) mod traefik;

use crate::kube::cluster::Cluster;
use crate::kube::owner::Owner;
use crate::kube::KubeError;
use serde::Serialize;
use serde_json::Value;
use std::net::IpAddr;

/// Why the layer could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DiscoverError {
    /// Listing a kind failed (permission, connection).
    #[error("reading the layer the cluster already runs: {0}; wildrun reads it before writing so that it never duplicates a part (the user needs list on it in all namespaces)")]
    List(#[source] KubeError),
    /// The load balancer address is not an address.
    #[error("{0:?} is not an IP address (cluster.loadBalancerIp)")]
    Address(String),
}

/// What the configuration says the layer serves, as far as it is given.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wanted {
    /// `cloud.domain`.
    pub(crate) domain: String,
    /// `cloud.internalDomain`, when given.
    pub(crate) internal_domain: Option<String>,
    /// `cluster.loadBalancerIp`, when given.
    pub(crate) load_balancer_ip: Option<IpAddr>,
    /// `cluster.addressPool`, when given.
    pub(crate) address_pool: Vec<String>,
    /// `ingress.traefikService` (`namespace/name`), when given: read as
    /// Traefik's Service even when no Traefik workload's pods are found.
    pub(crate) traefik_service: Option<String>,
}

/// Who made one object of the layer, and where it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Identity {
    /// Its namespace (none for cluster-scoped kinds).
    pub(crate) namespace: Option<String>,
    /// Its name.
    pub(crate) name: String,
    /// wildrun manages it (it made it, or adopted it).
    pub(crate) ours: bool,
    /// wildrun adopted it: another tool made it.
    pub(crate) adopted: bool,
    /// Its `wildrun.dev/instance` label.
    pub(crate) instance: Option<String>,
    /// Who made it, for people (`kubectl (field manager
    /// kubectl-client-side-apply)`, `wildrun`).
    pub(crate) made_by: String,
}

impl Identity {
    /// The identity of a listed object.
    pub(crate) fn of(object: &Value) -> Identity {
        let owner = Owner::of(object);
        let text = |p: &str| object.pointer(p).and_then(Value::as_str);
        Identity {
            namespace: text("/metadata/namespace").map(str::to_string),
            name: text("/metadata/name").unwrap_or_default().to_string(),
            ours: owner.ours,
            adopted: owner.adopted.is_some(),
            instance: owner.instance.clone(),
            made_by: owner.made_by(),
        }
    }

    /// `namespace/name`, or `name` for a cluster-scoped object.
    pub(crate) fn path(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A controller found by its image (MetalLB's).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Controller {
    /// The workload.
    #[serde(flatten)]
    pub(crate) id: Identity,
    /// `Deployment` or `DaemonSet`.
    pub(crate) kind: String,
    /// Its image.
    pub(crate) image: String,
}

/// Everything listed to find the layer, per kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listed {
    /// metallb.io/v1beta1 IPAddressPools.
    pub(crate) pools: Vec<Value>,
    /// metallb.io/v1beta1 L2Advertisements.
    pub(crate) l2_advertisements: Vec<Value>,
    /// apps/v1 Deployments.
    pub(crate) deployments: Vec<Value>,
    /// apps/v1 DaemonSets.
    pub(crate) daemon_sets: Vec<Value>,
    /// cert-manager.io/v1 ClusterIssuers.
    pub(crate) issuers: Vec<Value>,
    /// cert-manager.io/v1 Certificates.
    pub(crate) certificates: Vec<Value>,
    /// v1 Services.
    pub(crate) services: Vec<Value>,
    /// Kinds the cluster does not serve (`metallb.io/v1beta1 IPAddressPool`).
    pub(crate) not_served: Vec<String>,
}

/// The kinds [`list`] reads, in the order of [`Listed`]'s lists.
const LISTED_KINDS: [(&str, &str); 7] = [
    ("metallb.io/v1beta1", "IPAddressPool"),
    ("metallb.io/v1beta1", "L2Advertisement"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "DaemonSet"),
    ("cert-manager.io/v1", "ClusterIssuer"),
    ("cert-manager.io/v1", "Certificate"),
    ("v1", "Service"),
];

impl Listed {
    /// Every list with its apiVersion and kind (for recording what a
    /// script read).
    pub(crate) fn into_lists(self) -> Vec<(&'static str, &'static str, Vec<Value>)> {
        let lists = [
            self.pools,
            self.l2_advertisements,
            self.deployments,
            self.daemon_sets,
            self.issuers,
            self.certificates,
            self.services,
        ];
        LISTED_KINDS
            .into_iter()
            .zip(lists)
            .map(|((api_version, kind), items)| (api_version, kind, items))
            .collect()
    }

    /// The Deployments and DaemonSets.
    fn workloads(&self) -> impl Iterator<Item = &Value> {
        self.deployments.iter().chain(&self.daemon_sets)
    }
}

/// The layer a cluster runs, part by part.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Layer {
    /// MetalLB's controllers, by image.
    pub(crate) metallb: Vec<Controller>,
    /// Every IPAddressPool.
    pub(crate) pools: Vec<pool::Pool>,
    /// Every L2Advertisement.
    pub(crate) l2_advertisements: Vec<pool::L2Advertisement>,
    /// Every ExternalDNS Deployment, by image.
    pub(crate) external_dns: Vec<external_dns::ExternalDns>,
    /// Every ClusterIssuer.
    pub(crate) issuers: Vec<issuer::Issuer>,
    /// The wildcard Certificates of the public and the internal domain.
    pub(crate) certificates: Vec<certificate::WildcardCertificate>,
    /// Traefik's Services, by the image of the pods they select.
    pub(crate) traefik: Vec<traefik::TraefikService>,
    /// Kinds the cluster does not serve: nothing of them exists.
    pub(crate) not_served: Vec<String>,
}

/// The containers of a workload's pod template.
pub(crate) fn containers(workload: &Value) -> &[Value] {
    workload
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The image of a container.
pub(crate) fn image(container: &Value) -> &str {
    container
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Whether an image is MetalLB's controller (`quay.io/metallb/controller`).
pub(crate) fn is_metallb_controller_image(image: &str) -> bool {
    crate::externaldns::image_name(image) == "controller" && image.contains("metallb")
}

/// Whether an image is cert-manager's controller
/// (`quay.io/jetstack/cert-manager-controller`).
pub(crate) fn is_cert_manager_controller_image(image: &str) -> bool {
    crate::externaldns::image_name(image) == "cert-manager-controller"
}

/// Whether an image is Traefik's (`docker.io/traefik`, `traefik`).
pub(crate) fn is_traefik_image(image: &str) -> bool {
    crate::externaldns::image_name(image) == "traefik"
}

/// A controller of the layer: the name wildrun calls it by (the
/// `app.kubernetes.io/name` its chart gives it), the project's name for
/// people, and how its image is known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ControllerKind {
    /// `metallb`, `cert-manager`, `traefik`, `external-dns`.
    pub(crate) app: &'static str,
    /// `MetalLB`, `cert-manager`, `Traefik`, `ExternalDNS`.
    pub(crate) project: &'static str,
    /// Whether an image is this controller's.
    pub(crate) is_image: fn(&str) -> bool,
}

/// The layer's controllers, each found by its image whatever its labels
/// (wild-cloud's MetalLB carries `app: metallb`, its ExternalDNS `app:
/// external-dns`, neither `app.kubernetes.io/name`).
pub(crate) const CONTROLLER_KINDS: [ControllerKind; 4] = [
    ControllerKind {
        app: "metallb",
        project: "MetalLB",
        is_image: is_metallb_controller_image,
    },
    ControllerKind {
        app: "cert-manager",
        project: "cert-manager",
        is_image: is_cert_manager_controller_image,
    },
    ControllerKind {
        app: "traefik",
        project: "Traefik",
        is_image: is_traefik_image,
    },
    ControllerKind {
        app: "external-dns",
        project: "ExternalDNS",
        is_image: crate::externaldns::is_external_dns_image,
    },
];

/// The controller kind wildrun calls `app`, if it is one of the layer's.
pub(crate) fn controller_kind(app: &str) -> Option<ControllerKind> {
    CONTROLLER_KINDS.into_iter().find(|k| k.app == app)
}

/// The first image of `workload`'s containers that `is` says is the one
/// looked for.
pub(crate) fn image_of(workload: &Value, is: impl Fn(&str) -> bool) -> Option<&str> {
    containers(workload).iter().map(image).find(|i| is(i))
}

/// Whether a container of `workload` runs an image `is` says is the one
/// looked for.
pub(crate) fn runs_image(workload: &Value, is: impl Fn(&str) -> bool) -> bool {
    image_of(workload, is).is_some()
}

impl Layer {
    /// The parts of the layer in what was listed.
    pub(crate) fn read(listed: &Listed, wanted: &Wanted) -> Layer {
        let metallb = listed
            .workloads()
            .filter_map(|w| {
                let found = image_of(w, is_metallb_controller_image)?;
                Some(Controller {
                    id: Identity::of(w),
                    kind: w["kind"].as_str().unwrap_or("Deployment").to_string(),
                    image: found.to_string(),
                })
            })
            .collect();
        let l2_advertisements: Vec<pool::L2Advertisement> = listed
            .l2_advertisements
            .iter()
            .map(pool::L2Advertisement::read)
            .collect();
        Layer {
            metallb,
            pools: listed
                .pools
                .iter()
                .map(|p| pool::Pool::read(p, wanted, &l2_advertisements))
                .collect(),
            l2_advertisements,
            external_dns: listed
                .deployments
                .iter()
                .filter_map(|w| external_dns::ExternalDns::read(w, wanted))
                .collect(),
            issuers: listed.issuers.iter().map(issuer::Issuer::read).collect(),
            certificates: listed
                .certificates
                .iter()
                .filter_map(|c| certificate::WildcardCertificate::read(c, wanted))
                .collect(),
            traefik: traefik::TraefikService::find(
                &listed.services,
                listed.workloads(),
                wanted.traefik_service.as_deref(),
            ),
            not_served: listed.not_served.clone(),
        }
    }
}

/// Lists `api_version` `kind` in every namespace; a kind the cluster does
/// not serve is noted and lists nothing.
async fn list_all(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    not_served: &mut Vec<String>,
) -> Result<Vec<Value>, DiscoverError> {
    let resolved = match cluster.resolve(api_version, kind).await {
        Ok(k) => k,
        Err(KubeError::NotServed { .. } | KubeError::NoKind { .. }) => {
            not_served.push(format!("{api_version} {kind}"));
            return Ok(Vec::new());
        }
        Err(e) => return Err(DiscoverError::List(e)),
    };
    cluster
        .list(&resolved, None, &kube::api::ListParams::default())
        .await
        .map_err(DiscoverError::List)
}

/// Lists what the layer is found in: one list per kind, in every namespace.
pub(crate) async fn list(cluster: &Cluster) -> Result<Listed, DiscoverError> {
    let mut not_served = Vec::new();
    let mut lists = Vec::with_capacity(LISTED_KINDS.len());
    for (api_version, kind) in LISTED_KINDS {
        lists.push(list_all(cluster, api_version, kind, &mut not_served).await?);
    }
    let mut lists = lists.into_iter();
    let mut next = || lists.next().unwrap_or_default();
    Ok(Listed {
        pools: next(),
        l2_advertisements: next(),
        deployments: next(),
        daemon_sets: next(),
        issuers: next(),
        certificates: next(),
        services: next(),
        not_served,
    })
}

/// The address `text` for [`Wanted::load_balancer_ip`].
pub(crate) fn address(text: &str) -> Result<IpAddr, DiscoverError> {
    text.trim()
        .parse()
        .map_err(|_| DiscoverError::Address(text.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A listed object made by kubectl (client-side apply).
    pub(crate) fn by_kubectl(mut object: Value) -> Value {
        object["metadata"]["managedFields"] = json!([{
            "manager": "kubectl-client-side-apply", "operation": "Update",
            "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {}}]);
        object
    }

    #[test]
    fn metallb_is_found_by_its_controller_image() {
        let listed = Listed {
            deployments: vec![
                by_kubectl(
                    json!({"kind": "Deployment", "metadata": {"name": "controller", "namespace": "metallb-system"},
                    "spec": {"template": {"spec": {"containers": [{"name": "controller", "image": "quay.io/metallb/controller:v0.15.0"}]}}}}),
                ),
                json!({"kind": "Deployment", "metadata": {"name": "controller", "namespace": "other"},
                    "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "example/controller:1"}]}}}}),
            ],
            ..Listed::default()
        };
        let layer = Layer::read(&listed, &Wanted::default());
        assert_eq!(layer.metallb.len(), 1);
        assert_eq!(layer.metallb[0].id.path(), "metallb-system/controller");
        assert_eq!(
            layer.metallb[0].id.made_by,
            "kubectl (field manager kubectl-client-side-apply)"
        );
        assert!(!layer.metallb[0].id.ours);
    }
}
