//! Typed Gateway API resources (`gateway.networking.k8s.io/v1`, standard
//! channel): `GatewayClass`, `Gateway`, `HTTPRoute` and `ReferenceGrant`,
//! the kinds the visibility pipeline writes when `ingress.api` is `gateway`.
//!
//! As in [`super::crds`], every field the upstream CRD declares at the
//! levels we model is listed (tests/crd_schemas.rs holds them to the CRDs
//! the plane installs), so a typo is an unknown field with a suggestion;
//! deep sub-trees the pipeline never writes (header matches, redirects,
//! mirrors, frontend TLS validation) are free-form JSON the API server's
//! schema validates.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The API group of every Gateway API kind.
pub const GROUP: &str = "gateway.networking.k8s.io";

/// The `spec` of a [`GatewayClass`]: which controller serves its Gateways.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "GatewayClass",
    doc = "Gateway API `GatewayClass`: a kind of Gateway, served by the controller it names (Traefik: `traefik.io/gateway-controller`)."
)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClassSpec {
    /// The controller that serves Gateways of this class.
    pub controller_name: String,
    /// What the class is for, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Controller-specific parameters (free-form here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters_ref: Option<Value>,
}

/// A reference from a listener to the Secret holding its certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretObjectReference {
    /// API group, `""` (core) by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `Secret` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The Secret's name.
    pub name: String,
    /// Its namespace, the Gateway's by default; another one needs a
    /// ReferenceGrant there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// How a listener terminates TLS.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListenerTls {
    /// The certificates the listener presents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_refs: Option<Vec<SecretObjectReference>>,
    /// `Terminate` (the default) or `Passthrough`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Implementation-specific TLS options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

/// A route kind a listener admits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteGroupKind {
    /// API group, `gateway.networking.k8s.io` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The kind (`HTTPRoute`).
    pub kind: String,
}

/// The namespaces whose routes a listener admits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteNamespaces {
    /// `Same` (the default), `All` or `Selector`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// With `Selector`: a label selector on namespaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
}

/// Which routes may attach to a listener.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllowedRoutes {
    /// Route kinds admitted (by default those of the listener's protocol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<RouteGroupKind>>,
    /// Namespaces admitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<RouteNamespaces>,
}

/// One listener of a Gateway: a port, a protocol and, for HTTPS, a host
/// pattern and certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    /// The listener's name, what a route's `sectionName` names.
    pub name: String,
    /// Host (or `*.` wildcard) the listener serves; all when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Port (Traefik: the port of one of its entry points).
    pub port: i64,
    /// `HTTP`, `HTTPS`, `TLS`, `TCP` or `UDP`.
    pub protocol: String,
    /// TLS settings (HTTPS and TLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
    /// Which routes may attach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_routes: Option<AllowedRoutes>,
}

/// An address asked for a Gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayAddress {
    /// `IPAddress` (the default) or `Hostname`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
    /// The address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The `spec` of a [`Gateway`]: its class and listeners.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "Gateway",
    namespaced,
    doc = "Gateway API `Gateway`: where traffic enters, with listeners that routes attach to."
)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// The GatewayClass that serves it.
    pub gateway_class_name: String,
    /// Its listeners.
    pub listeners: Vec<Listener>,
    /// Addresses asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<GatewayAddress>>,
    /// Which ListenerSets may attach (free-form here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_listeners: Option<Value>,
    /// Labels and annotations for the infrastructure a controller makes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infrastructure: Option<Value>,
    /// Gateway-wide TLS settings (client certificates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Value>,
}

/// A route's reference to the Gateway (and listener) it attaches to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// API group, `gateway.networking.k8s.io` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `Gateway` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The Gateway's name.
    pub name: String,
    /// Its namespace, the route's by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The listener's port, to attach to the listeners on it only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// The listener's name, to attach to that listener only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

/// A reference to an object in the route's namespace, for an `ExtensionRef`
/// filter (Traefik: a `Middleware`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    /// API group (`traefik.io`).
    pub group: String,
    /// Kind (`Middleware`).
    pub kind: String,
    /// Name.
    pub name: String,
}

/// A filter applied to requests of a rule or backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteFilter {
    /// `ExtensionRef`, `RequestHeaderModifier`, `RequestRedirect`, ...
    #[serde(rename = "type")]
    pub filter_type: String,
    /// With `ExtensionRef`: the object the implementation applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_ref: Option<LocalObjectReference>,
    /// With `CORS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<Value>,
    /// With `RequestHeaderModifier`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_header_modifier: Option<Value>,
    /// With `RequestMirror`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_mirror: Option<Value>,
    /// With `RequestRedirect`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_redirect: Option<Value>,
    /// With `ResponseHeaderModifier`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_header_modifier: Option<Value>,
    /// With `URLRewrite`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_rewrite: Option<Value>,
}

/// Where a rule sends its requests: a Service (by default) and its port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpBackendRef {
    /// API group, `""` (core) by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `Service` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The Service's name.
    pub name: String,
    /// Its namespace, the route's by default; another one needs a
    /// ReferenceGrant there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The Service's port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Share of the requests among the rule's backends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// Filters for this backend only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<HttpRouteFilter>>,
}

/// One rule of a route: which requests, what filters, which backends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    /// The rule's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Which requests (path, headers, query, method); all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<Vec<Value>>,
    /// Filters applied to the rule's requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<HttpRouteFilter>>,
    /// Where the requests go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_refs: Option<Vec<HttpBackendRef>>,
    /// Request and backend time-outs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Value>,
}

/// The `spec` of an [`HTTPRoute`]: hosts, the Gateway listeners it attaches
/// to and its rules.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "HTTPRoute",
    namespaced,
    doc = "Gateway API `HTTPRoute`: HTTP requests for its hosts, from the Gateway listeners it attaches to, to its backends."
)]
#[serde(rename_all = "camelCase")]
pub struct HTTPRouteSpec {
    /// The hosts the route serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostnames: Option<Vec<String>>,
    /// The Gateways (and listeners) it attaches to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_refs: Option<Vec<ParentReference>>,
    /// Its rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<HttpRouteRule>>,
}

/// Who a [`ReferenceGrant`] lets refer into its namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantFrom {
    /// The referring kind's group (`gateway.networking.k8s.io`).
    pub group: String,
    /// The referring kind (`Gateway`).
    pub kind: String,
    /// The referring objects' namespace.
    pub namespace: String,
}

/// What a [`ReferenceGrant`] lets them refer to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantTo {
    /// The kind's group (`""` for Secrets).
    pub group: String,
    /// The kind (`Secret`).
    pub kind: String,
    /// One object of it; all when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The `spec` of a [`ReferenceGrant`].
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "ReferenceGrant",
    namespaced,
    doc = "Gateway API `ReferenceGrant`: lets objects of another namespace refer to objects of this one (a Gateway to a Secret)."
)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantSpec {
    /// Who may refer.
    pub from: Vec<ReferenceGrantFrom>,
    /// To what.
    pub to: Vec<ReferenceGrantTo>,
}
