//! The service doctor's checks, one link of the chain per file. Each is a
//! pure function of the [`Subject`](super::subject::Subject) and the
//! objects the script read, returning [`Check`](super::check::Check)s with
//! the doctor's words; the script chooses, orders and prints them.

pub(crate) mod address;
pub(crate) mod backend;
pub(crate) mod client_address;
pub(crate) mod dns;
pub(crate) mod gateway;
pub(crate) mod https;
pub(crate) mod ingress;
pub(crate) mod layer;
pub(crate) mod load_balancer;
pub(crate) mod middleware;
pub(crate) mod publisher;
pub(crate) mod route;
pub(crate) mod tls;

use super::text;
use serde_json::Value;

/// The containers of a pod (`spec.containers`; none when unreadable).
fn containers(pod: &Value) -> &[Value] {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// `namespace/name` of an object.
fn at(object: &Value) -> String {
    format!(
        "{}/{}",
        text(object, "/metadata/namespace").unwrap_or_default(),
        text(object, "/metadata/name").unwrap_or_default()
    )
}
