//! What `doctor::` functions take from scripts, as typed values: the
//! subject map, objects and lists as `kube::` returns them, routes and DNS
//! lookups; and checks handed back as maps. One place for the doctor's
//! functions (`mod.rs`) and its Gateway API part (`gateway.rs`).

use super::super::support::{script_error, to_json, to_script, RhaiResultOf};
use crate::chain::check::Check;
use crate::chain::route::Route;
use crate::chain::subject::Subject;
use rhai::plugin::*;
use rhai::Array;
use serde_json::Value;

/// A script value as a typed one, or an error naming the function and the
/// argument.
pub(super) fn typed<T: serde::de::DeserializeOwned>(
    ctx: &NativeCallContext,
    function: &str,
    what: &str,
    value: &Dynamic,
) -> RhaiResultOf<T> {
    let json = to_json(value)?;
    serde_json::from_value(json)
        .map_err(|e| script_error(ctx, format!("doctor::{function}: {what}: {e}")))
}

/// A map a script passes, as `T`; a key set to `()` counts as not set.
fn map_arg<T: serde::de::DeserializeOwned>(
    ctx: &NativeCallContext,
    function: &str,
    what: &str,
    value: &Dynamic,
) -> RhaiResultOf<T> {
    let mut json = to_json(value)?;
    if let Value::Object(map) = &mut json {
        map.retain(|_, v| !v.is_null());
    }
    serde_json::from_value(json)
        .map_err(|e| script_error(ctx, format!("doctor::{function}: {what}: {e}")))
}

/// The subject map a script passes (what `inputs` and `doctor::subject`
/// made).
pub(super) fn subject(
    ctx: &NativeCallContext,
    function: &str,
    value: &Dynamic,
) -> RhaiResultOf<Subject> {
    map_arg(
        ctx,
        function,
        "the subject (what inputs() and doctor::subject return)",
        value,
    )
}

/// An object as `kube::get` returns it, or `None` for `()`.
pub(super) fn object(value: &Dynamic) -> RhaiResultOf<Option<Value>> {
    if value.is_unit() {
        return Ok(None);
    }
    to_json(value).map(Some)
}

/// A list of objects as `kube::list` returns it (`()`: none).
pub(super) fn objects(
    ctx: &NativeCallContext,
    function: &str,
    value: &Dynamic,
) -> RhaiResultOf<Vec<Value>> {
    match object(value)? {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(script_error(
            ctx,
            format!(
                "doctor::{function}: expected a list of objects (as kube::list returns), not {}",
                value.type_name()
            ),
        )),
    }
}

/// A route map as `doctor::routes` returns it.
pub(super) fn route_of(
    ctx: &NativeCallContext,
    function: &str,
    value: &Dynamic,
) -> RhaiResultOf<Route> {
    typed(
        ctx,
        function,
        "the route (as doctor::routes returns it)",
        value,
    )
}

/// The DNS lookups map a script passes (`#{ asked, zone, nameservers,
/// authoritative, probe }`).
pub(super) fn lookups(
    ctx: &NativeCallContext,
    function: &str,
    value: &Dynamic,
) -> RhaiResultOf<crate::chain::checks::address::Lookups> {
    map_arg(
        ctx,
        function,
        "the lookups (#{ asked, zone, nameservers, authoritative, probe })",
        value,
    )
}

pub(super) fn checks_to_script(ctx: &NativeCallContext, checks: &[Check]) -> RhaiResultOf<Array> {
    checks.iter().map(|c| check(ctx, c)).collect()
}

pub(super) fn check(ctx: &NativeCallContext, check: &Check) -> RhaiResultOf<Dynamic> {
    to_script(ctx, check)
}

pub(super) fn text(value: &Dynamic) -> Option<String> {
    value.clone().into_string().ok().filter(|s| !s.is_empty())
}

pub(super) fn optional_text(value: Option<String>) -> Dynamic {
    value.map_or(Dynamic::UNIT, Dynamic::from)
}
