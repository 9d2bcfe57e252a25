//! Typed results of host functions, read through a getter per property,
//! as Rhai's `time_basic` package exposes `Instant`: `https::get` answers
//! an `HttpsResponse` ([`crate::https::Response`]), `cert::inspect` a
//! `Certificate` ([`crate::cert::Info`]). Each property keeps the name the
//! map they replace had (`r.status`, `r.certificate.fingerprint`). Printed,
//! turned into JSON (`out::json`) or passed to a function that takes data
//! (`cert::covers`, `doctor::https`), a result is that map.

use crate::cert::Info;
use crate::https::Response;
use rhai::{Dynamic, FuncRegistration, Module};

/// Registers a getter for each of `$type`'s fields named, returning the
/// field as script data.
macro_rules! getters {
    ($module:expr, $type:ty, [$($field:ident),* $(,)?]) => {
        $(
            $module.set_getter_fn(stringify!($field), |value: &mut $type| {
                rhai::serde::to_dynamic(&value.$field)
            });
        )*
    };
}

rhai::def_package! {
    /// The typed results' names, getters and printing, installed into the
    /// engine's global namespace, where property access looks.
    pub(crate) ResultsPackage(module) {
        register_response(module);
        register_certificate(module);
    }
}

/// Installs `https::get`'s answer (its name, getters and printing) into
/// `module`.
fn register_response(module: &mut Module) {
    module.set_custom_type::<Response>("HttpsResponse");
    getters!(
        module,
        Response,
        [
            url,
            host,
            port,
            address,
            resolved_by,
            source,
            answered,
            status,
            reason,
            headers,
            body,
            verified,
            verify_error,
            covers,
            stage,
            error,
            elapsed_ms,
            timings,
        ]
    );
    // The served certificate is typed too, as `cert::inspect` answers.
    module.set_getter_fn("certificate", |response: &mut Response| {
        Ok(response
            .certificate
            .clone()
            .map_or(Dynamic::UNIT, Dynamic::from))
    });
    printed::<Response>(module);
}

/// Installs `cert::inspect`'s answer (its name, getters and printing) into
/// `module`, as [`register_response`] does.
fn register_certificate(module: &mut Module) {
    module.set_custom_type::<Info>("Certificate");
    getters!(
        module,
        Info,
        [
            subject,
            issuer,
            dns_names,
            ip_addresses,
            not_before,
            not_after,
            days_left,
            seconds_left,
            valid_now,
            expired,
            serial,
            is_ca,
            key_matches,
            chain_length,
            fingerprint,
        ]
    );
    printed::<Info>(module);
}

/// Prints a `T` (`print`, `${...}`, `debug`) as the map it stands for.
fn printed<T: serde::Serialize + rhai::Variant + Clone>(module: &mut Module) {
    for name in ["to_string", "to_debug"] {
        FuncRegistration::new(name)
            .in_global_namespace()
            .set_into_module(
                module,
                |value: &mut T| -> Result<String, Box<rhai::EvalAltResult>> {
                    rhai::serde::to_dynamic(&*value).map(|map| map.to_string())
                },
            );
    }
}

/// Whether `value` holds a typed result anywhere (within `limit` levels).
pub(crate) fn holds_typed(value: &Dynamic, limit: usize) -> bool {
    if value.is::<Response>() || value.is::<Info>() {
        return true;
    }
    if limit == 0 {
        return false;
    }
    if let Some(map) = value.read_lock::<rhai::Map>() {
        return map.values().any(|v| holds_typed(v, limit - 1));
    }
    if let Some(list) = value.read_lock::<rhai::Array>() {
        return list.iter().any(|v| holds_typed(v, limit - 1));
    }
    false
}

/// `value` with each typed result in it replaced by the map it stands for.
pub(crate) fn as_data(value: &Dynamic) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
    if let Some(response) = value.read_lock::<Response>() {
        return rhai::serde::to_dynamic(&*response);
    }
    if let Some(info) = value.read_lock::<Info>() {
        return rhai::serde::to_dynamic(&*info);
    }
    if let Some(map) = value.read_lock::<rhai::Map>() {
        let map: Result<rhai::Map, _> = map
            .iter()
            .map(|(k, v)| Ok((k.clone(), as_data(v)?)))
            .collect();
        return map.map(Dynamic::from_map);
    }
    if let Some(list) = value.read_lock::<rhai::Array>() {
        let list: Result<rhai::Array, _> = list.iter().map(as_data).collect();
        return list.map(Dynamic::from_array);
    }
    Ok(value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::support::to_json;

    fn engine_with(name: &str, value: Dynamic) -> (rhai::Engine, rhai::Scope<'static>) {
        let mut engine = rhai::Engine::new();
        crate::script::engine::register_host_modules(&mut engine);
        let mut scope = rhai::Scope::new();
        scope.push(name.to_string(), value);
        (engine, scope)
    }

    #[test]
    fn a_certificate_reads_prints_and_converts_as_the_map_it_replaced() {
        let info = Info {
            subject: "CN=web".into(),
            dns_names: vec!["web.example.com".into()],
            days_left: 5,
            ..Info::default()
        };
        let (engine, mut scope) = engine_with("info", Dynamic::from(info.clone()));
        let days: rhai::INT = engine
            .eval_with_scope(&mut scope, "info.days_left")
            .unwrap();
        assert_eq!(days, 5);
        let kind: String = engine.eval_with_scope(&mut scope, "type_of(info)").unwrap();
        assert_eq!(kind, "Certificate");
        let printed: String = engine.eval_with_scope(&mut scope, "`${info}`").unwrap();
        let map = rhai::serde::to_dynamic(&info).unwrap();
        assert_eq!(printed, map.to_string());
        let covers: bool = engine
            .eval_with_scope(&mut scope, r#"cert::covers(info, "web.example.com")"#)
            .unwrap();
        assert!(covers);
        // Inside other data, as JSON: the map.
        let nested = engine
            .eval_with_scope::<Dynamic>(&mut scope, "#{ found: [info] }")
            .unwrap();
        let json = to_json(&nested).unwrap();
        assert_eq!(json["found"][0], serde_json::to_value(&info).unwrap());
    }

    #[test]
    fn an_https_answer_reads_its_certificate_as_typed_too() {
        let response = Response {
            status: Some(200),
            certificate: Some(Info {
                fingerprint: "ab:cd".into(),
                ..Info::default()
            }),
            ..Response::default()
        };
        let (engine, mut scope) = engine_with("r", Dynamic::from(response));
        let fingerprint: String = engine
            .eval_with_scope(&mut scope, "r.certificate.fingerprint")
            .unwrap();
        assert_eq!(fingerprint, "ab:cd");
        let status: rhai::INT = engine.eval_with_scope(&mut scope, "r?.status").unwrap();
        assert_eq!(status, 200);
        let stage: Dynamic = engine.eval_with_scope(&mut scope, "r.stage").unwrap();
        assert!(stage.is_unit());
    }
}
