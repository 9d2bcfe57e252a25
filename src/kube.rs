//! `kube::` for scripts: the objects a recipe wants in the cluster.
//!
//! `apply`, `apply_all`, `copy_secret` and `ensure_namespace` check each
//! object (typed conversion, unknown fields, names, hosts, ports), label it
//! with the run's identity and add it to the run's [`Plan`](crate::plan::Plan).
//! Nothing is written while the script runs: the complete plan is printed
//! (`--dry-run`) or applied after the script has finished without error.

use crate::engine::{from_json, origin, script_error, to_json, RunHandle};
use crate::objects::TypedObject;
use crate::plan::{SecretCopy, Step, INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL};
use rhai::plugin::*;
use serde_json::{json, Map, Value};

/// Labels every object of a run carries (besides the recipe's own).
pub fn run_labels(instance: &str) -> [(&'static str, String); 2] {
    [
        (MANAGED_BY_LABEL, MANAGED_BY.to_string()),
        (INSTANCE_LABEL, instance.to_string()),
    ]
}

fn plan_object(ctx: &NativeCallContext, value: &Value) -> Result<Dynamic, Box<EvalAltResult>> {
    let run = RunHandle::from_context(ctx)?;
    let mut obj = TypedObject::from_value(value).map_err(|e| script_error(ctx, e))?;
    let mut state = run.state();
    let labels = run_labels(&state.instance);
    obj.set_labels(labels.iter().map(|(k, v)| (*k, v.as_str())));
    let rendered = obj.value.clone();
    state
        .plan
        .add(Step::Apply(obj), origin(ctx))
        .map_err(|e| script_error(ctx, e))?;
    from_json(&rendered)
}

fn str_option(
    ctx: &NativeCallContext,
    options: &rhai::Map,
    key: &str,
) -> Result<Option<String>, Box<EvalAltResult>> {
    match options.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => v.clone().into_string().map(Some).map_err(|t| {
            script_error(
                ctx,
                format!("copy_secret: option {key} must be a string, not {t}"),
            )
        }),
    }
}

/// The `kube` module scripts call as `kube::apply(...)`.
#[export_module]
pub mod kube_api {
    /// Checks `object` and adds it to the run's plan; returns the object as it
    /// will be applied (canonical field order, wildrun's labels added).
    #[rhai_fn(return_raw)]
    pub fn apply(ctx: NativeCallContext, object: rhai::Map) -> Result<Dynamic, Box<EvalAltResult>> {
        super::plan_object(&ctx, &to_json(&Dynamic::from_map(object))?)
    }

    /// `apply` for each object of a list, in order; returns the list of results.
    #[rhai_fn(return_raw)]
    pub fn apply_all(
        ctx: NativeCallContext,
        objects: rhai::Array,
    ) -> Result<rhai::Array, Box<EvalAltResult>> {
        objects
            .iter()
            .enumerate()
            .map(|(i, o)| {
                if !o.is_map() {
                    return Err(script_error(
                        &ctx,
                        format!(
                            "apply_all: item {i} is a {}, not an object map",
                            o.type_name()
                        ),
                    ));
                }
                super::plan_object(&ctx, &to_json(o)?)
            })
            .collect()
    }

    /// Plans the Namespace `name` (a no-op when the recipe applies it too).
    #[rhai_fn(return_raw)]
    pub fn ensure_namespace(
        ctx: NativeCallContext,
        name: &str,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        super::plan_object(&ctx, &ns)
    }

    /// Plans a copy of Secret `from_namespace/name` into `to_namespace`.
    #[rhai_fn(name = "copy_secret", return_raw)]
    pub fn copy_secret(
        ctx: NativeCallContext,
        from_namespace: &str,
        name: &str,
        to_namespace: &str,
    ) -> Result<(), Box<EvalAltResult>> {
        copy_secret_with(ctx, from_namespace, name, to_namespace, rhai::Map::new())
    }

    /// Plans a copy of Secret `from_namespace/name` into `to_namespace`, with
    /// options: `type` (the Secret type the source must have, e.g.
    /// `"kubernetes.io/tls"`) and `labels` (a map added to the copy's labels).
    #[rhai_fn(name = "copy_secret", return_raw)]
    pub fn copy_secret_with(
        ctx: NativeCallContext,
        from_namespace: &str,
        name: &str,
        to_namespace: &str,
        options: rhai::Map,
    ) -> Result<(), Box<EvalAltResult>> {
        use crate::objects::validate;
        for (what, value, check) in [
            (
                "source namespace",
                from_namespace,
                validate::dns1123_label as fn(&str) -> Result<(), String>,
            ),
            ("secret name", name, validate::dns1123_subdomain),
            ("target namespace", to_namespace, validate::dns1123_label),
        ] {
            check(value)
                .map_err(|e| script_error(&ctx, format!("copy_secret: {what} {value:?} {e}")))?;
        }
        for key in options.keys() {
            if !matches!(key.as_str(), "type" | "labels") {
                return Err(script_error(
                    &ctx,
                    format!("copy_secret: unknown option {key} (known: type, labels)"),
                ));
            }
        }
        let run = RunHandle::from_context(&ctx)?;
        let mut labels: Map<String, Value> = match options.get("labels") {
            None => Map::new(),
            Some(v) => match to_json(v)? {
                Value::Object(m) => m,
                _ => {
                    return Err(script_error(
                        &ctx,
                        "copy_secret: option labels must be a map",
                    ))
                }
            },
        };
        for (k, v) in &labels {
            validate::label_key(k)
                .map_err(|e| script_error(&ctx, format!("copy_secret: label key {k:?} {e}")))?;
            let text = v.as_str().ok_or_else(|| {
                script_error(&ctx, format!("copy_secret: label {k} must be a string"))
            })?;
            validate::label_value(text).map_err(|e| {
                script_error(&ctx, format!("copy_secret: label {k} value {text:?} {e}"))
            })?;
        }
        let mut state = run.state();
        for (k, v) in super::run_labels(&state.instance) {
            labels.insert(k.to_string(), Value::String(v));
        }
        let copy = SecretCopy {
            from_namespace: from_namespace.to_string(),
            name: name.to_string(),
            to_namespace: to_namespace.to_string(),
            expected_type: super::str_option(&ctx, &options, "type")?,
            labels,
        };
        state
            .plan
            .add(Step::CopySecret(copy), origin(&ctx))
            .map_err(|e| script_error(&ctx, e))
    }
}

/// Registers `kube::` with the engine.
pub fn register(engine: &mut rhai::Engine) {
    engine.register_static_module("kube", exported_module!(kube_api).into());
}
