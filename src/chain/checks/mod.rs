//! The service doctor's checks, one link of the chain per file. Each is a
//! pure function of the [`Subject`](super::subject::Subject) and the
//! objects the script read, returning [`Check`](super::check::Check)s with
//! the doctor's words; the script chooses, orders and prints them.

pub mod address;
pub mod backend;
pub mod client_address;
pub mod dns;
pub mod gateway;
pub mod https;
pub mod ingress;
pub mod layer;
pub mod load_balancer;
pub mod middleware;
pub mod publisher;
pub mod route;
pub mod tls;

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
