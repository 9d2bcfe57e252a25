//! What a namespace holds, before `--delete` or `--prune` removes it.
//!
//! Deleting a Namespace deletes everything in it, of every kind, whoever
//! made it. So a namespace is removed only when it is known to hold nothing
//! but what is leaving with it, and "everything" is every kind the API
//! server serves that a namespace deletion removes (CRDs included: a
//! Traefik IngressRoute, a Lease, a ResourceQuota), found through discovery
//! afresh each time (a CRD installed a moment ago counts) and listed once
//! per kind, several kinds at a time, metadata only.
//!
//! A kind that cannot be read (not allowed, or its API is unavailable) is
//! not taken as empty: it keeps the namespace, and the report names it.

use super::cluster::{retry, Cluster, Kind};
use super::error::{KubeError, Result};
use crate::objects::group_of;
use crate::plan::ObjectRef;
use futures::StreamExt;
use kube::api::{ListParams, ObjectMeta};
use kube::core::discovery::v2::APIGroupDiscovery;
use std::collections::BTreeSet;

/// How many kinds are listed at once: as many as the writes of
/// [`super::apply`] run side by side, for the same reasons (two cores, a
/// remote API server not flooded).
const CONCURRENT_LISTS: usize = 8;

/// The kinds a namespace deletion removes on one API server, and which
/// kinds are namespaced (to tell where an owner lives).
#[derive(Debug, Clone, Default)]
pub(crate) struct Inventory {
    /// Namespaced kinds that can be listed and deleted, one version each
    /// (the group's preferred one that serves the kind).
    kinds: Vec<Kind>,
    /// `(group, kind)` of every namespaced kind served, listable or not.
    namespaced: BTreeSet<(String, String)>,
}

/// What a namespace holds besides what is leaving it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Holdings {
    /// `Kind name` of each object that stays.
    pub(crate) objects: Vec<String>,
    /// Kinds that could not be listed, each with why (`leases.coordination.k8s.io:
    /// not allowed to list them`): they may hold something.
    pub(crate) unreadable: Vec<String>,
}

impl Holdings {}

/// Kinds whose objects belong to no one, and so never keep a namespace:
/// Events are records of what happened to other objects (controllers write
/// them everywhere; they expire after an hour).
fn is_record(group: &str, kind: &str) -> bool {
    kind == "Event" && (group.is_empty() || group == "events.k8s.io")
}

/// Whether `kind` of `group` can hold what a namespace deletion destroys:
/// namespaced, listable, and deletable (the namespace controller deletes
/// exactly these; read-only views such as metrics.k8s.io's PodMetrics are
/// computed from other objects and hold nothing of their own).
fn is_held_kind(namespaced: bool, verbs: &[String]) -> bool {
    let has = |verb: &str| verbs.iter().any(|v| v == verb);
    namespaced && has("list") && (has("delete") || has("deletecollection"))
}

impl Inventory {
    /// Asks the API server which kinds exist now: aggregated discovery (two
    /// requests), or per group on servers before Kubernetes 1.26.
    pub(crate) async fn discover(cluster: &Cluster) -> Result<Inventory> {
        let explain = |e| cluster.explain(e, "discover the API's kinds");
        let (core, groups) = futures::try_join!(
            retry(|| super::cluster::aggregated_list(&cluster.client, "/api")),
            retry(|| super::cluster::aggregated_list(&cluster.client, "/apis"))
        )
        .map_err(explain)?;
        match (core, groups) {
            (Some(core), Some(groups)) => Ok(Inventory::of_groups(
                core.items.into_iter().chain(groups.items),
            )),
            _ => {
                let discovery =
                    retry(|| kube::discovery::Discovery::new(cluster.client.clone()).run())
                        .await
                        .map_err(explain)?;
                let mut inventory = Inventory::default();
                for group in discovery.groups() {
                    for (resource, caps) in group.recommended_resources() {
                        let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
                        inventory.add(resource, namespaced, &caps.operations);
                    }
                }
                Ok(inventory)
            }
        }
    }

    /// The inventory from aggregated discovery's groups, whose versions come
    /// in order of preference: each kind is taken from the first version
    /// that serves it.
    fn of_groups(groups: impl Iterator<Item = APIGroupDiscovery>) -> Inventory {
        let mut inventory = Inventory::default();
        for (_, kinds) in super::cluster::served_versions(groups) {
            for (kind, verbs) in kinds {
                inventory.add(kind.resource, kind.namespaced, &verbs);
            }
        }
        inventory
    }

    /// Adds a kind, unless a preferred version of it is already in.
    fn add(&mut self, resource: kube::api::ApiResource, namespaced: bool, verbs: &[String]) {
        let key = (resource.group.clone(), resource.kind.clone());
        if namespaced {
            self.namespaced.insert(key.clone());
        }
        let known = self
            .kinds
            .iter()
            .any(|k| (&k.resource.group, &k.resource.kind) == (&key.0, &key.1));
        if !known && is_held_kind(namespaced, verbs) && !is_record(&key.0, &key.1) {
            self.kinds.push(Kind {
                resource,
                namespaced,
            });
        }
    }

    /// What `namespace` holds besides the objects `leaving` it (with their
    /// group, kind and name; the version does not matter) and what only
    /// comes with them. `also` are objects that will be there though they
    /// may not be yet (what `--diff` would apply first), counted unless leaving.
    pub(crate) async fn holdings(
        &self,
        cluster: &Cluster,
        namespace: &str,
        leaving: &[ObjectRef],
        also: &[ObjectRef],
    ) -> Result<Holdings> {
        let lists = futures::stream::iter(self.kinds.iter().map(|kind| async move {
            let api = cluster.api(kind, Some(namespace));
            let params = ListParams::default();
            let listed = retry(|| api.list_metadata(&params)).await;
            (kind, listed)
        }))
        .buffered(CONCURRENT_LISTS)
        .collect::<Vec<_>>()
        .await;
        let mut listed: Vec<(&Kind, ObjectMeta)> = Vec::new();
        let mut holdings = Holdings::default();
        for (kind, answer) in lists {
            let what = if kind.resource.group.is_empty() {
                kind.resource.plural.clone()
            } else {
                format!("{}.{}", kind.resource.plural, kind.resource.group)
            };
            match answer.map_err(|e| cluster.explain(e, &format!("list {what}"))) {
                Ok(list) => listed.extend(list.items.into_iter().map(|o| (kind, o.metadata))),
                // Gone since discovery (its CRD was removed): it holds nothing.
                Err(KubeError::Api { code: 404, .. }) => {}
                Err(KubeError::Api { code: 403, .. }) => holdings
                    .unreadable
                    .push(format!("{what} (not allowed to list them)")),
                Err(KubeError::Api { code, message, .. }) => holdings
                    .unreadable
                    .push(format!("{what} (listing failed: {code} {message})")),
                Err(other) => return Err(other),
            }
        }
        let services: BTreeSet<&str> = listed
            .iter()
            .filter(|(k, _)| k.resource.group.is_empty() && k.resource.kind == "Service")
            .filter_map(|(_, meta)| meta.name.as_deref())
            .chain(
                leaving
                    .iter()
                    .filter(|t| t.kind == "Service" && group_of(&t.api_version).is_empty())
                    .map(|t| t.name.as_str()),
            )
            .collect();
        let mut counted: BTreeSet<(String, String, String)> = BTreeSet::new();
        for (kind, meta) in &listed {
            let name = meta.name.clone().unwrap_or_default();
            let (group, kind_name) = (&kind.resource.group, &kind.resource.kind);
            if is_leaving(leaving, group, kind_name, &name)
                || self.comes_with_another(group, kind_name, meta, &services)
            {
                continue;
            }
            if counted.insert((group.clone(), kind_name.clone(), name.clone())) {
                holdings.objects.push(format!("{kind_name} {name}"));
            }
        }
        let also_here = also
            .iter()
            .filter(|t| t.namespace.as_deref() == Some(namespace));
        for target in also_here {
            let group = group_of(&target.api_version).to_string();
            if is_leaving(leaving, &group, &target.kind, &target.name) {
                continue;
            }
            if counted.insert((group, target.kind.clone(), target.name.clone())) {
                holdings
                    .objects
                    .push(format!("{} {}", target.kind, target.name));
            }
        }
        Ok(holdings)
    }

    /// Whether an object only comes with another and so never keeps a
    /// namespace by itself. Ignored:
    /// - what another object in the namespace owns (an owner reference to a
    ///   namespaced kind: Kubernetes allows no owner in another namespace):
    ///   the ReplicaSets and Pods of a Deployment, the EndpointSlices of a
    ///   Service, a Job's Pods. The owner counts, or leaves, for them;
    /// - the ServiceAccount `default` and the ConfigMap `kube-root-ca.crt`,
    ///   which controllers put into every namespace (and put back);
    /// - the token Secret of the `default` ServiceAccount, which clusters
    ///   before Kubernetes 1.24 put into every namespace;
    /// - Endpoints named after a Service of the namespace (or one leaving):
    ///   the endpoints controller makes them, with no owner reference.
    fn comes_with_another(
        &self,
        group: &str,
        kind: &str,
        meta: &ObjectMeta,
        services: &BTreeSet<&str>,
    ) -> bool {
        let name = meta.name.as_deref().unwrap_or_default();
        let owned_here = meta.owner_references.iter().flatten().any(|owner| {
            let owner_group = group_of(&owner.api_version).to_string();
            self.namespaced.contains(&(owner_group, owner.kind.clone()))
        });
        let default_token = kind == "Secret"
            && meta
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .is_some_and(|account| account == "default");
        let core = group.is_empty();
        owned_here
            || (core && kind == "ServiceAccount" && name == "default")
            || (core && kind == "ConfigMap" && name == "kube-root-ca.crt")
            || (core && default_token)
            || (core && kind == "Endpoints" && services.contains(name))
    }
}

fn is_leaving(leaving: &[ObjectRef], group: &str, kind: &str, name: &str) -> bool {
    leaving
        .iter()
        .any(|t| t.kind == kind && t.name == name && group_of(&t.api_version) == group)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inventory() -> Inventory {
        let groups: Vec<APIGroupDiscovery> = serde_json::from_value(json!([
            {"metadata": {"name": ""}, "versions": [{"version": "v1", "resources": [
                {"resource": "configmaps", "responseKind": {"group": "", "version": "v1", "kind": "ConfigMap"}, "scope": "Namespaced", "verbs": ["list", "delete", "get"]},
                {"resource": "events", "responseKind": {"group": "", "version": "v1", "kind": "Event"}, "scope": "Namespaced", "verbs": ["list", "delete"]},
                {"resource": "namespaces", "responseKind": {"group": "", "version": "v1", "kind": "Namespace"}, "scope": "Cluster", "verbs": ["list", "delete"]},
                {"resource": "bindings", "responseKind": {"group": "", "version": "v1", "kind": "Binding"}, "scope": "Namespaced", "verbs": ["create"]},
                {"resource": "services", "responseKind": {"group": "", "version": "v1", "kind": "Service"}, "scope": "Namespaced", "verbs": ["list", "delete"]},
            ]}]},
            {"metadata": {"name": "traefik.io"}, "versions": [
                {"version": "v1alpha1", "resources": [
                    {"resource": "ingressroutes", "responseKind": {"group": "traefik.io", "version": "v1alpha1", "kind": "IngressRoute"}, "scope": "Namespaced", "verbs": ["list", "deletecollection"]},
                ]},
                {"version": "v1alpha0", "resources": [
                    {"resource": "ingressroutes", "responseKind": {"group": "traefik.io", "version": "v1alpha0", "kind": "IngressRoute"}, "scope": "Namespaced", "verbs": ["list", "delete"]},
                ]},
            ]},
            {"metadata": {"name": "metrics.k8s.io"}, "versions": [{"version": "v1beta1", "resources": [
                {"resource": "pods", "responseKind": {"group": "metrics.k8s.io", "version": "v1beta1", "kind": "PodMetrics"}, "scope": "Namespaced", "verbs": ["get", "list"]},
            ]}]},
            {"metadata": {"name": "apps"}, "versions": [{"version": "v1", "resources": [
                {"resource": "replicasets", "responseKind": {"group": "apps", "version": "v1", "kind": "ReplicaSet"}, "scope": "Namespaced", "verbs": ["list", "delete"]},
                {"resource": "deployments", "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "scope": "Namespaced", "verbs": ["list", "delete"]},
            ]}]},
        ]))
        .unwrap();
        Inventory::of_groups(groups.into_iter())
    }

    #[test]
    fn discovery_keeps_namespaced_kinds_that_can_be_listed_and_deleted_in_their_preferred_version()
    {
        let inventory = inventory();
        let kinds: Vec<String> = inventory
            .kinds
            .iter()
            .map(|k| format!("{} {}", k.resource.api_version, k.resource.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                "v1 ConfigMap",
                "v1 Service",
                "traefik.io/v1alpha1 IngressRoute",
                "apps/v1 ReplicaSet",
                "apps/v1 Deployment"
            ]
        );
        assert!(inventory
            .namespaced
            .contains(&("apps".to_string(), "Deployment".to_string())));
        assert!(!inventory
            .namespaced
            .contains(&(String::new(), "Namespace".to_string())));
    }

    fn meta(value: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn what_comes_with_another_object_or_with_every_namespace_is_ignored() {
        let inventory = inventory();
        let services: BTreeSet<&str> = ["web"].into();
        let ignored = |group: &str, kind: &str, m: serde_json::Value| {
            inventory.comes_with_another(group, kind, &meta(m), &services)
        };
        let owned = json!({"name": "web-1", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "1"}]});
        assert!(ignored("apps", "ReplicaSet", owned));
        // An owner that is not namespaced does not live here: the object counts.
        let by_cluster_object = json!({"name": "c", "ownerReferences": [{"apiVersion": "v1", "kind": "Namespace", "name": "a", "uid": "1"}]});
        assert!(!ignored("", "ConfigMap", by_cluster_object));
        let unknown_owner = json!({"name": "c", "ownerReferences": [{"apiVersion": "x.io/v1", "kind": "Thing", "name": "a", "uid": "1"}]});
        assert!(!ignored("", "ConfigMap", unknown_owner));
        assert!(ignored("", "ServiceAccount", json!({"name": "default"})));
        assert!(!ignored("", "ServiceAccount", json!({"name": "robot"})));
        assert!(ignored(
            "",
            "ConfigMap",
            json!({"name": "kube-root-ca.crt"})
        ));
        assert!(!ignored("", "Secret", json!({"name": "kube-root-ca.crt"})));
        assert!(ignored(
            "",
            "Secret",
            json!({"name": "default-token-x", "annotations": {"kubernetes.io/service-account.name": "default"}})
        ));
        assert!(ignored("", "Endpoints", json!({"name": "web"})));
        assert!(!ignored("", "Endpoints", json!({"name": "external"})));
        // Only the core group's kinds of those names.
        assert!(!ignored(
            "x.io",
            "ServiceAccount",
            json!({"name": "default"})
        ));
    }

    #[test]
    fn leaving_is_matched_by_group_kind_and_name_whatever_the_version() {
        let leaving = [ObjectRef {
            api_version: "traefik.io/v1alpha0".into(),
            kind: "IngressRoute".into(),
            namespace: Some("a".into()),
            name: "web".into(),
        }];
        assert!(is_leaving(&leaving, "traefik.io", "IngressRoute", "web"));
        assert!(!is_leaving(
            &leaving,
            "traefik.containo.us",
            "IngressRoute",
            "web"
        ));
        assert!(!is_leaving(&leaving, "traefik.io", "IngressRoute", "api"));
        assert_eq!(group_of("v1"), "");
        assert_eq!(group_of("apps/v1"), "apps");
    }
}
