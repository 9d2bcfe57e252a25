//! The chain from a host to a pod, typed: the names it is written in, what
//! an Ingress says about it, the rules that judge each link, and the
//! doctor's checks.
//!
//! One source for `--wait` ([`crate::reach`]), the service doctor and
//! `doctor --layer` (through the script namespace `doctor::`): a rule
//! written here holds the same for all of them. Reading the cluster is left
//! to the callers; everything here is a pure function of the objects read.

pub(crate) mod answer;
pub(crate) mod check;
pub(crate) mod checks;
pub(crate) mod httproute;
pub(crate) mod ingress;
pub(crate) mod names;
pub(crate) mod route;
pub(crate) mod rule;
pub(crate) mod subject;

use serde_json::Value;

/// A string at `pointer` in `object`.
fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

/// The list at `pointer` in `object` (empty when missing or not a list).
fn array<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}
