//! The names the chain is made of: the annotations and labels a request's
//! path is written in. Each is defined once, here or in the module that owns
//! it (re-exported here), and read by `--wait`, the doctor and, through
//! `doctor::`, the stdlib.

pub(crate) use crate::externaldns::{
    ALPHA_PREFIX as EXTERNALDNS_ALPHA_PREFIX, PREFIX as EXTERNALDNS_PREFIX,
};
pub(crate) use crate::plan::{INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL};

/// The ExternalDNS prefixes, in the order the doctor reads them: the one
/// current releases read first.
pub(crate) const EXTERNALDNS_PREFIXES: [&str; 2] = [EXTERNALDNS_PREFIX, EXTERNALDNS_ALPHA_PREFIX];

/// The name, after an ExternalDNS prefix, of the annotation naming the
/// record's target (a name: CNAME; an address: A record).
pub(crate) const TARGET: &str = "target";

/// The name, after an ExternalDNS prefix, of the annotation naming the
/// record's TTL.
pub(crate) const TTL: &str = "ttl";

/// The ExternalDNS source (`--source=...`) that reads HTTPRoutes.
pub(crate) const EXTERNALDNS_HTTPROUTE_SOURCE: &str = "gateway-httproute";

/// The annotation Traefik reads an Ingress's router middlewares from
/// (`<namespace>-<name>@kubernetescrd`, comma-separated).
pub(crate) const MIDDLEWARES_ANNOTATION: &str = "traefik.ingress.kubernetes.io/router.middlewares";

/// The suffix naming Traefik's Kubernetes CRD provider in a middleware reference.
pub(crate) const CRD_PROVIDER: &str = "@kubernetescrd";

/// The Middleware the internal recipe applies beside its Ingress.
pub(crate) const INTERNAL_ONLY_MIDDLEWARE: &str = "internal-only";

/// The annotation older Ingresses name their class with (instead of
/// `spec.ingressClassName`).
pub(crate) const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// The selector of Traefik's Service (and of its Deployment), as its Helm
/// chart labels them.
pub(crate) const TRAEFIK_SELECTOR: &str = "app.kubernetes.io/name=traefik";

/// The controller name Traefik's kubernetesGateway provider serves
/// GatewayClasses of.
pub(crate) const GATEWAY_CONTROLLER: &str = "traefik.io/gateway-controller";

/// The selector of every object wildrun applies.
pub(crate) fn managed_by_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY}")
}

/// The reference to a namespace's internal-only Middleware that an
/// Ingress's [`MIDDLEWARES_ANNOTATION`] carries.
pub(crate) fn internal_only_reference(namespace: &str) -> String {
    format!("{namespace}-{INTERNAL_ONLY_MIDDLEWARE}{CRD_PROVIDER}")
}
