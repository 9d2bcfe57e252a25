//! Kubernetes objects as recipes build them: maps turned into typed objects.
//!
//! A script builds an object as a map. [`TypedObject::from_value`] looks up
//! its `apiVersion`/`kind`, deserializes it strictly into the matching Rust
//! type (k8s-openapi for core kinds, [`crds`] for cert-manager, Traefik and
//! MetalLB, [`gateway`] for the Gateway API), rejects unknown fields and
//! wrong types with their paths, checks
//! names, hosts, labels and ports, and keeps the typed object's canonical
//! JSON form for output and for the API server. Kinds the registry does not
//! know pass through with only the metadata checks: the cluster's schema
//! validates them when they are applied.

pub mod crds;
pub mod gateway;
pub(crate) mod ports;
pub(crate) mod strict;
pub(crate) mod validate;

use kube::Resource;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// An object ready for output or apply: canonical JSON plus its identity.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedObject {
    /// `apiVersion`, e.g. `apps/v1`.
    pub(crate) api_version: String,
    /// `kind`, e.g. `Deployment`.
    pub(crate) kind: String,
    /// `metadata.name`.
    pub(crate) name: String,
    /// `metadata.namespace`, for namespaced kinds.
    pub(crate) namespace: Option<String>,
    /// Whether the registry knew the kind (and so checked every field).
    pub(crate) typed: bool,
    /// The canonical JSON form, field order as the Rust type declares it.
    pub(crate) value: Value,
}

/// Why a map is not a valid object: `Kind name: problem; problem`. Every
/// problem found is listed, so one run shows everything to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{object}: {}", .problems.join("; "))]
pub(crate) struct ObjectError {
    /// `Kind name`, or what is known of it.
    pub(crate) object: String,
    /// One entry per problem, each naming the field path.
    pub(crate) problems: Vec<String>,
}

/// The canonical JSON of a converted object and the unknown fields it had.
type Converted = Result<(Value, Vec<strict::UnknownField>), strict::StrictError>;

/// What the registry knows about one kind.
struct KindInfo {
    api_version: String,
    kind: String,
    namespaced: bool,
    /// Name must be a DNS-1123 label rather than a subdomain.
    label_name: bool,
    convert: fn(&Value) -> Converted,
}

fn convert_k8s<K>(value: &Value) -> Converted
where
    K: DeserializeOwned + Serialize,
{
    let (typed, unknown) = strict::from_value::<K>(value, &[])?;
    let value = serde_json::to_value(&typed).map_err(serde::de::Error::custom)?;
    Ok((value, unknown))
}

/// kube-derive's root struct declares only metadata/spec/status; apiVersion
/// and kind are checked by the registry lookup instead.
fn convert_custom<K>(
    value: &Value,
) -> Result<(Value, Vec<strict::UnknownField>), strict::StrictError>
where
    K: DeserializeOwned + Serialize,
{
    let (typed, unknown) = strict::from_value::<K>(value, &["apiVersion", "kind"])?;
    let value = serde_json::to_value(&typed).map_err(serde::de::Error::custom)?;
    Ok((value, unknown))
}

/// The older version every Gateway API release serves ReferenceGrant at
/// (the only one before v1.1, as in wild-cloud's v1.0.0 CRDs).
const REFERENCE_GRANT_V1BETA1: &str = "gateway.networking.k8s.io/v1beta1";

/// A ReferenceGrant written as v1beta1: the same fields as v1, kept at the
/// version it was written in (the typed struct would write v1).
fn convert_reference_grant_v1beta1(value: &Value) -> Converted {
    let (mut canonical, unknown) = convert_custom::<gateway::ReferenceGrant>(value)?;
    canonical["apiVersion"] = Value::String(REFERENCE_GRANT_V1BETA1.to_string());
    Ok((canonical, unknown))
}

macro_rules! kinds {
    ($($conv:ident $ty:ty),* $(,)?) => {
        vec![$(KindInfo {
            api_version: <$ty as Resource>::api_version(&()).into_owned(),
            kind: <$ty as Resource>::kind(&()).into_owned(),
            namespaced: is_namespaced::<$ty>(),
            label_name: false,
            convert: $conv::<$ty>,
        }),*]
    };
}

fn is_namespaced<K: Resource>() -> bool
where
    K::Scope: 'static,
{
    std::any::TypeId::of::<K::Scope>()
        == std::any::TypeId::of::<k8s_openapi::NamespaceResourceScope>()
}

fn registry() -> &'static [KindInfo] {
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
    use k8s_openapi::api::{networking::v1 as net, policy::v1 as policy, rbac::v1 as rbac};
    static REGISTRY: std::sync::OnceLock<Vec<KindInfo>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut kinds = kinds![
            convert_k8s core::Namespace,
            convert_k8s core::Service,
            convert_k8s core::Secret,
            convert_k8s core::ConfigMap,
            convert_k8s core::ServiceAccount,
            convert_k8s core::PersistentVolumeClaim,
            convert_k8s apps::Deployment,
            convert_k8s apps::StatefulSet,
            convert_k8s apps::DaemonSet,
            convert_k8s batch::Job,
            convert_k8s batch::CronJob,
            convert_k8s net::Ingress,
            convert_k8s net::IngressClass,
            convert_k8s net::NetworkPolicy,
            convert_k8s policy::PodDisruptionBudget,
            convert_k8s rbac::Role,
            convert_k8s rbac::RoleBinding,
            convert_k8s rbac::ClusterRole,
            convert_k8s rbac::ClusterRoleBinding,
            convert_custom crds::Certificate,
            convert_custom crds::ClusterIssuer,
            convert_custom crds::Middleware,
            convert_custom crds::IPAddressPool,
            convert_custom gateway::GatewayClass,
            convert_custom gateway::Gateway,
            convert_custom gateway::HTTPRoute,
            convert_custom gateway::ReferenceGrant,
        ];
        for k in &mut kinds {
            k.label_name = matches!(k.kind.as_str(), "Namespace" | "Service");
        }
        kinds.push(KindInfo {
            api_version: REFERENCE_GRANT_V1BETA1.to_string(),
            kind: "ReferenceGrant".to_string(),
            namespaced: true,
            label_name: false,
            convert: convert_reference_grant_v1beta1,
        });
        kinds
    })
}

fn lookup(api_version: &str, kind: &str) -> Option<&'static KindInfo> {
    registry()
        .iter()
        .find(|k| k.api_version == api_version && k.kind == kind)
}

/// The group of an `apiVersion` (`""` for the core group's `v1`).
pub(crate) fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map(|(g, _)| g).unwrap_or("")
}

/// Every `(apiVersion, kind)` the registry types, each kind once (in its
/// newest version: a ReferenceGrant is typed as v1 and v1beta1 too).
pub(crate) fn known_kinds() -> Vec<(String, String)> {
    let mut seen = std::collections::BTreeSet::new();
    registry()
        .iter()
        .filter(|k| {
            let group = group_of(&k.api_version);
            seen.insert((group.to_string(), k.kind.clone()))
        })
        .map(|k| (k.api_version.clone(), k.kind.clone()))
        .collect()
}

fn str_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

impl TypedObject {
    /// Checks and converts a map built by a script into a typed object.
    pub(crate) fn from_value(value: &Value) -> Result<TypedObject, ObjectError> {
        let kind = str_at(value, &["kind"]).unwrap_or_default().to_string();
        let name = str_at(value, &["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        let describe = || match (kind.is_empty(), name.is_empty()) {
            (false, false) => format!("{kind} {name}"),
            (false, true) => format!("{kind} (no name)"),
            _ => "object".to_string(),
        };
        let fail = |problems: Vec<String>| ObjectError {
            object: describe(),
            problems,
        };
        if !value.is_object() {
            return Err(fail(vec![format!(
                "expected a map, found {}",
                strict::describe(value)
            )]));
        }
        let api_version = str_at(value, &["apiVersion"])
            .unwrap_or_default()
            .to_string();
        let mut problems = Vec::new();
        if api_version.is_empty() {
            problems.push("apiVersion is missing".to_string());
        }
        if kind.is_empty() {
            problems.push("kind is missing".to_string());
        }
        if !problems.is_empty() {
            return Err(fail(problems));
        }

        let info = lookup(&api_version, &kind);
        if info.is_none() {
            if let Some(k) = registry().iter().find(|k| k.kind == kind) {
                // Same kind under another apiVersion is almost always a typo.
                if !api_version.contains('.')
                    || api_version.split('/').next() == k.api_version.split('/').next()
                {
                    problems.push(format!(
                        "apiVersion {api_version} does not serve {kind} (did you mean {}?)",
                        k.api_version
                    ));
                    return Err(fail(problems));
                }
            }
        }
        let (canonical, typed) = match info {
            Some(info) => match (info.convert)(value) {
                Ok((canonical, unknown)) => {
                    problems.extend(unknown.iter().map(ToString::to_string));
                    (canonical, true)
                }
                Err(e) => return Err(fail(vec![e.to_string()])),
            },
            None => (value.clone(), false),
        };

        let namespace = str_at(&canonical, &["metadata", "namespace"]).map(str::to_string);
        match (info.map(|i| i.namespaced), &namespace) {
            (Some(true), None) => problems.push("metadata.namespace is required".into()),
            (Some(false), Some(ns)) => problems.push(format!(
                "metadata.namespace is set ({ns}) but {kind} is cluster-scoped"
            )),
            _ => {}
        }
        check_metadata(
            &canonical,
            info.is_some_and(|i| i.label_name),
            &mut problems,
        );
        check_kind_fields(&kind, &canonical, &mut problems);

        if problems.is_empty() {
            Ok(TypedObject {
                api_version,
                kind,
                name,
                namespace,
                typed,
                value: canonical,
            })
        } else {
            Err(fail(problems))
        }
    }

    /// `Kind namespace/name`, or `Kind name` when cluster-scoped.
    pub(crate) fn display_name(&self) -> String {
        describe(&self.kind, self.namespace.as_deref(), &self.name)
    }

    /// Sets labels on `metadata.labels`, overriding values of the same keys.
    pub(crate) fn set_labels<'a>(&mut self, labels: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let Some(meta) = self
            .value
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        let entry = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        if let Some(map) = entry.as_object_mut() {
            for (k, v) in labels {
                map.insert(k.to_string(), Value::String(v.to_string()));
            }
        }
    }
}

fn check_metadata(value: &Value, label_name: bool, problems: &mut Vec<String>) {
    match str_at(value, &["metadata", "name"]) {
        None | Some("") => problems.push("metadata.name is required".into()),
        Some(name) => {
            let check = if label_name {
                validate::dns1123_label(name)
            } else {
                validate::dns1123_subdomain(name)
            };
            if let Err(e) = check {
                problems.push(format!("metadata.name {name:?} {e}"));
            }
        }
    }
    if let Some(ns) = str_at(value, &["metadata", "namespace"]) {
        if let Err(e) = validate::dns1123_label(ns) {
            problems.push(format!("metadata.namespace {ns:?} {e}"));
        }
    }
    if let Some(labels) = value.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Err(e) = validate::label_key(k) {
                problems.push(format!("metadata.labels key {k:?} {e}"));
            }
            match v.as_str() {
                Some(s) => {
                    if let Err(e) = validate::label_value(s) {
                        // The value is not repeated: it may come from a Secret.
                        problems.push(format!("metadata.labels.{k} value {e}"));
                    }
                }
                None => problems.push(format!("metadata.labels.{k} must be a string")),
            }
        }
    }
}

fn each<'v>(value: &'v Value, pointer: &str) -> impl Iterator<Item = (usize, &'v Value)> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

fn check_port_at(value: &Value, path: String, problems: &mut Vec<String>) {
    match value {
        Value::Number(n) => {
            if let Err(e) = validate::port(n.as_i64().unwrap_or(0)) {
                problems.push(format!("{path}: {e}"));
            }
        }
        Value::String(s) => {
            if let Err(e) = validate::port_name(s) {
                problems.push(format!("{path}: port name {s:?} {e}"));
            }
        }
        _ => {}
    }
}

fn check_host_at(host: &Value, path: String, problems: &mut Vec<String>) {
    if let Some(h) = host.as_str() {
        if let Err(e) = validate::hostname(h) {
            problems.push(format!("{path}: host {h:?} {e}"));
        }
    }
}

/// Pod template pointer of workload kinds.
fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => Some("/spec/template/spec"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

fn check_kind_fields(kind: &str, v: &Value, problems: &mut Vec<String>) {
    if let Some(pod) = pod_spec_pointer(kind) {
        let dotted = pod.trim_start_matches('/').replace('/', ".");
        for list in ["containers", "initContainers"] {
            for (i, c) in each(v, &format!("{pod}/{list}")) {
                if let Some(name) = c.get("name").and_then(Value::as_str) {
                    if let Err(e) = validate::dns1123_label(name) {
                        problems.push(format!("{dotted}.{list}[{i}].name {name:?} {e}"));
                    }
                }
                for (j, p) in each(c, "/ports") {
                    if let Some(port) = p.get("containerPort") {
                        check_port_at(
                            port,
                            format!("{dotted}.{list}[{i}].ports[{j}].containerPort"),
                            problems,
                        );
                    }
                }
            }
        }
    }
    match kind {
        "Service" => {
            for (i, p) in each(v, "/spec/ports") {
                if let Some(port) = p.get("port") {
                    check_port_at(port, format!("spec.ports[{i}].port"), problems);
                }
                if let Some(port) = p.get("targetPort") {
                    check_port_at(port, format!("spec.ports[{i}].targetPort"), problems);
                }
            }
        }
        "Ingress" => {
            for (i, rule) in each(v, "/spec/rules") {
                if let Some(h) = rule.get("host") {
                    check_host_at(h, format!("spec.rules[{i}].host"), problems);
                }
                for (j, path) in each(rule, "/http/paths") {
                    if let Some(n) = path.pointer("/backend/service/port/number") {
                        check_port_at(
                            n,
                            format!("spec.rules[{i}].http.paths[{j}].backend.service.port.number"),
                            problems,
                        );
                    }
                }
            }
            for (i, tls) in each(v, "/spec/tls") {
                for (j, h) in each(tls, "/hosts") {
                    check_host_at(h, format!("spec.tls[{i}].hosts[{j}]"), problems);
                }
            }
        }
        "HTTPRoute" => {
            for (i, h) in each(v, "/spec/hostnames") {
                check_host_at(h, format!("spec.hostnames[{i}]"), problems);
            }
            for (i, rule) in each(v, "/spec/rules") {
                for (j, backend) in each(rule, "/backendRefs") {
                    if let Some(port) = backend.get("port") {
                        check_port_at(
                            port,
                            format!("spec.rules[{i}].backendRefs[{j}].port"),
                            problems,
                        );
                    }
                }
            }
        }
        "Certificate" => {
            for (i, h) in each(v, "/spec/dnsNames") {
                check_host_at(h, format!("spec.dnsNames[{i}]"), problems);
            }
        }
        "Middleware" => {
            if v.pointer("/spec/ipAllowList/sourceRange")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
            {
                problems.push("spec.ipAllowList.sourceRange is empty: list the networks the service admits (for the bundled recipes: cluster.internalSourceRanges)".to_string());
            }
            for (i, r) in each(v, "/spec/ipAllowList/sourceRange") {
                if let Some(s) = r.as_str() {
                    if let Err(e) = validate::cidr(s) {
                        problems.push(format!("spec.ipAllowList.sourceRange[{i}]: {e}"));
                    }
                }
            }
        }
        _ => {}
    }
}

/// The strings of a JSON array (`spec.dnsNames`, a container's `args`);
/// other items and a missing or non-array value give none.
pub(crate) fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// How wildrun names an object to people, everywhere: `Kind namespace/name`,
/// or `Kind name` when cluster-scoped.
pub(crate) fn describe(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "web"}, "spec": spec})
    }

    #[test]
    fn converts_known_kind_in_canonical_order() {
        let obj =
            TypedObject::from_value(&deployment(json!({"selector": {}, "template": {}}))).unwrap();
        assert!(obj.typed);
        let keys: Vec<_> = obj.value.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
        assert_eq!(obj.display_name(), "Deployment web/web");
    }

    #[test]
    fn unknown_field_is_reported_with_suggestion() {
        let err = TypedObject::from_value(&deployment(
            json!({"replica": 1, "selector": {}, "template": {}}),
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Deployment web: unknown field spec.replica (did you mean replicas?)"
        );
    }

    #[test]
    fn wrong_type_is_reported_with_path() {
        let err = TypedObject::from_value(&deployment(
            json!({"replicas": "x", "selector": {}, "template": {}}),
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("spec.replicas: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn a_label_value_that_is_not_a_label_is_not_repeated() {
        // A Secret's value put into a label by mistake.
        let secret = "Q0ZUT0tFTi1zZWNyZXQtdmFsdWUtdGhhdC1pcy1sb25nZXItdGhhbi1zaXh0eS10aHJlZQ==";
        let mut object = deployment(json!({"selector": {}, "template": {}}));
        object["metadata"]["labels"] = json!({ "token": secret });
        let err = TypedObject::from_value(&object).unwrap_err().to_string();
        assert_eq!(
            err,
            "Deployment web: metadata.labels.token value is 72 characters long; at most 63 are allowed"
        );
    }

    #[test]
    fn custom_resource_unknown_field() {
        let v = json!({"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
            "metadata": {"name": "internal-only", "namespace": "a"},
            "spec": {"ipAllowList": {"sourceRanges": ["10.0.0.0/8"]}}});
        let err = TypedObject::from_value(&v).unwrap_err().to_string();
        assert!(
            err.contains("unknown field spec.ipAllowList.sourceRanges (did you mean sourceRange?)"),
            "{err}"
        );
    }

    #[test]
    fn namespace_rules_and_names() {
        let v = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "My_App"}});
        let err = TypedObject::from_value(&v).unwrap_err().to_string();
        assert!(err.contains("metadata.namespace is required"), "{err}");
        assert!(err.contains("metadata.name \"My_App\""), "{err}");
        let v = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "namespace": "b"}});
        assert!(TypedObject::from_value(&v)
            .unwrap_err()
            .to_string()
            .contains("cluster-scoped"));
    }

    #[test]
    fn ports_and_hosts_are_checked() {
        let v = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "a", "namespace": "a"},
            "spec": {"rules": [{"host": "bad_host.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "a", "port": {"number": 70000}}}}]}}]}});
        let err = TypedObject::from_value(&v).unwrap_err().to_string();
        assert!(err.contains("spec.rules[0].host"), "{err}");
        assert!(err.contains("70000 is not a port number"), "{err}");
    }

    #[test]
    fn wrong_api_version_suggests_the_right_one() {
        let v = json!({"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "a"}});
        let err = TypedObject::from_value(&v).unwrap_err().to_string();
        assert!(err.contains("did you mean apps/v1?"), "{err}");
    }

    #[test]
    fn a_reference_grant_of_v1beta1_is_typed_and_keeps_its_version() {
        let mut v = json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
            "metadata": {"name": "g", "namespace": "cert-manager"},
            "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "traefik"}],
                     "to": [{"group": "", "kind": "Secret"}]}});
        let obj = TypedObject::from_value(&v).expect("v1beta1 serves ReferenceGrant");
        assert!(obj.typed);
        assert_eq!(obj.api_version, "gateway.networking.k8s.io/v1beta1");
        assert_eq!(obj.value["apiVersion"], "gateway.networking.k8s.io/v1beta1");
        v["spec"]["tos"] = json!([]);
        let err = TypedObject::from_value(&v).unwrap_err().to_string();
        assert!(err.contains("tos"), "{err}");
        // Searched for once, in its newest version.
        let grants: Vec<_> = known_kinds()
            .into_iter()
            .filter(|(_, k)| k == "ReferenceGrant")
            .collect();
        assert_eq!(
            grants,
            [(
                "gateway.networking.k8s.io/v1".to_string(),
                "ReferenceGrant".to_string()
            )]
        );
    }

    #[test]
    fn unknown_kinds_pass_with_metadata_checks() {
        let v = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a", "namespace": "a"}, "spec": {"x": 1}});
        let obj = TypedObject::from_value(&v).unwrap();
        assert!(!obj.typed);
    }

    #[test]
    fn every_problem_is_listed_after_the_object() {
        let err = ObjectError {
            object: "Service web".into(),
            problems: vec![
                "spec.ports[0].port: 0 is not a port".into(),
                "kind is missing".into(),
            ],
        };
        assert_eq!(
            err.to_string(),
            "Service web: spec.ports[0].port: 0 is not a port; kind is missing"
        );
        let err = TypedObject::from_value(&json!({"metadata": {}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "object: apiVersion is missing; kind is missing"
        );
    }
}
