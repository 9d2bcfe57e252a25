//! `kube::` for scripts: plan objects to apply, read the cluster, wait,
//! delete, copy secrets, watch.

use super::options::{self, given, ScriptOptions, Shown};
use super::support::{from_json, origin, script_error, to_json, Mode, RhaiResultOf, RunHandle};
use crate::objects::TypedObject;
use crate::plan::{
    ApplyStep, Condition, DeleteStep, ObjectRef, Propagation, SecretCopy, Step, WaitStep,
    DEFAULT_DELETE_WAIT,
};
use rhai::plugin::*;
use rhai::{Array, FnPtr};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::str::FromStr;
use std::time::Duration;

/// The options of `kube::apply`: each `true` or `false` (`()` is `false`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ApplyOptions {
    force: Option<bool>,
    keep: Option<bool>,
    patch: Option<bool>,
    recreate: Option<bool>,
}

impl ScriptOptions for ApplyOptions {
    fn expected(_key: &str) -> (&'static str, Shown) {
        ("true or false", Shown::Type)
    }
}

/// Options whose values are checked where they are used, with words of
/// their own (`kube::generated_secret`'s `keys`, `kube::list`'s
/// selectors, `kube::delete`'s `wait`): the struct names the keys.
macro_rules! checked_later {
    ($(#[$doc:meta])* $name:ident { $($field:ident),* }) => {
        $(#[$doc])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        struct $name {
            $(
                #[serde(deserialize_with = "given")]
                $field: Option<Dynamic>,
            )*
        }

        impl ScriptOptions for $name {
            fn expected(_key: &str) -> (&'static str, Shown) {
                // Any value deserializes; its check comes later.
                ("a value", Shown::Value)
            }
        }
    };
}

checked_later!(
    /// The options of `kube::generated_secret`.
    SecretOptions { keys }
);
checked_later!(
    /// The options of `kube::list` and `kube::watch`.
    SelectOptions { namespace, labels, fields }
);
checked_later!(
    /// The options of `kube::delete`.
    DeleteOptions { propagation, wait }
);

/// The options of `kube::copy_secret`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CopyOptions {
    r#type: Option<String>,
    #[serde(deserialize_with = "given")]
    labels: Option<Dynamic>,
}

impl ScriptOptions for CopyOptions {
    fn expected(_key: &str) -> (&'static str, Shown) {
        ("a string", Shown::Type)
    }
}

fn plan_object(
    ctx: &NativeCallContext,
    value: &Value,
    options: &rhai::Map,
) -> RhaiResultOf<Dynamic> {
    let given: ApplyOptions = options::parse(ctx, "apply", options)?;
    let force = given.force.unwrap_or(false);
    let keep = given.keep.unwrap_or(false);
    // An object wildrun did not make: only the fields given, without
    // wildrun's labels (so --delete and --prune never see it), under a field
    // manager of its own (kube::objects::PATCH_FIELD_MANAGER).
    let patch = given.patch.unwrap_or(false);
    let recreate = given.recreate.unwrap_or(false);
    let run = RunHandle::from_context(ctx)?;
    let mut obj = TypedObject::from_value(value).map_err(|e| script_error(ctx, e))?;
    if recreate {
        refuse_recreate(ctx, &obj, patch)?;
    }
    let at = origin(ctx);
    ApplyStep::label(&mut obj, &run.context().instance, keep, patch);
    let rendered = obj.value.clone();
    let step = Step::Apply(ApplyStep {
        object: obj,
        force,
        recreate,
    });
    run.record(|evaluation| evaluation.produced.plan.add(step, at))?
        .map_err(|e| script_error(ctx, e))?;
    from_json(&rendered)
}

/// `kube::generated_secret`: the Secret `namespace/name` with the keys of
/// `options.keys`, each value kept from the live Secret or generated
/// ([`crate::kube::generated`]), planned as `kube::apply` plans it.
fn plan_generated_secret(
    ctx: &NativeCallContext,
    namespace: &str,
    name: &str,
    options: &rhai::Map,
) -> RhaiResultOf<Dynamic> {
    use crate::kube::generated::{build, SecretSpec};
    const FUNCTION: &str = "kube::generated_secret";
    let target = ObjectRef::checked_secret(namespace, name)
        .map_err(|e| script_error(ctx, format!("{FUNCTION}: {e}")))?;
    let given: SecretOptions = options::parse(ctx, FUNCTION, options)?;
    let keys = given.keys.as_ref().map(to_json).transpose()?;
    let spec = SecretSpec::from_keys(keys.as_ref())
        .map_err(|e| script_error(ctx, format!("{FUNCTION}: {e}")))?;
    let run = RunHandle::from_context(ctx)?;
    let context = run.context();
    let (mode, rotate) = (
        context.mode,
        context
            .rotate_secrets
            .contains(&format!("{namespace}/{name}")),
    );
    // --dry-run contacts no cluster: every value is new (and masked).
    let live = match mode {
        Mode::Cluster => read(ctx, &target)?,
        Mode::DryRun => None,
    };
    let generated = build(&target, &spec, live.as_ref(), rotate)
        .map_err(|e| script_error(ctx, format!("{FUNCTION}: {e}")))?;
    if !generated.new_keys.is_empty() && mode == Mode::Cluster {
        let why = if rotate {
            "--rotate-secret"
        } else {
            "not in the cluster yet"
        };
        tracing::info!(
            "{}: {target}: new values for {} ({why})",
            origin(ctx),
            generated.new_keys.join(", ")
        );
    }
    plan_object(ctx, &generated.secret, &rhai::Map::new())
}

/// Why `recreate: true` cannot go with `object`: deleting a Namespace
/// deletes everything in it, deleting what holds data loses it, and an
/// object applied with `patch: true` is another tool's.
fn refuse_recreate(ctx: &NativeCallContext, object: &TypedObject, patch: bool) -> RhaiResultOf<()> {
    let group = object
        .api_version
        .rsplit_once('/')
        .map_or("", |(group, _)| group);
    let why = if patch {
        "recreate: true does not go with patch: true (the object is another tool's, not wildrun's to delete)".to_string()
    } else if object.kind == "Namespace" {
        "recreate: true would delete the Namespace and everything in it; apply it without recreate"
            .to_string()
    } else if crate::kube::cleanup::DATA_KINDS.contains(&(group, object.kind.as_str())) {
        format!(
            "recreate: true would delete {} and the data it holds; apply it without recreate",
            object.display_name()
        )
    } else {
        return Ok(());
    };
    Err(script_error(ctx, format!("apply: {why}")))
}

/// Reads an object reference from a map with `apiVersion`, `kind` and
/// `metadata.name` (and `metadata.namespace`): any object a recipe built works.
fn object_ref(
    ctx: &NativeCallContext,
    function: &str,
    reference: &rhai::Map,
) -> RhaiResultOf<ObjectRef> {
    let value = to_json(&Dynamic::from_map(reference.clone()))?;
    let text = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (Some(api_version), Some(kind), Some(name)) =
        (text("/apiVersion"), text("/kind"), text("/metadata/name"))
    else {
        return Err(script_error(
            ctx,
            format!("{function}: the object needs apiVersion, kind and metadata.name"),
        ));
    };
    Ok(ObjectRef {
        api_version,
        kind,
        namespace: text("/metadata/namespace"),
        name,
    })
}

fn ref_of(api_version: &str, kind: &str, namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
        name: name.to_string(),
    }
}

/// Reads `target` now (a script may poll), and records the answer for the
/// checks before the writes (see [`crate::kube::reads`]).
fn read(ctx: &NativeCallContext, target: &ObjectRef) -> RhaiResultOf<Option<Value>> {
    let run = RunHandle::from_context(ctx)?;
    let cluster = run
        .cluster()
        .map_err(|e| script_error(ctx, format!("kube::get: {e}")))?;
    let found = run
        .block_on(async {
            let kind = cluster.resolve(&target.api_version, &target.kind).await?;
            crate::kube::objects::get(&cluster, &kind, target).await
        })
        .map_err(|e| script_error(ctx, crate::kube::error::chain(&e)))?;
    run.record(|evaluation| {
        evaluation
            .produced
            .reads
            .record_object(target.clone(), found.clone())
    })?;
    Ok(found)
}

fn get_object(ctx: &NativeCallContext, target: &ObjectRef) -> RhaiResultOf<Dynamic> {
    match read(ctx, target)? {
        Some(v) => from_json(&v),
        None => Ok(Dynamic::UNIT),
    }
}

fn selector(ctx: &NativeCallContext, key: &str, value: &Dynamic) -> RhaiResultOf<String> {
    if value.is_string() {
        return Ok(value.to_string());
    }
    match to_json(value)? {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(v) => Ok(format!("{k}={v}")),
                None => Err(script_error(
                    ctx,
                    format!("kube::list: option {key}: the value of {k} must be a string"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|parts| parts.join(",")),
        _ => Err(script_error(
            ctx,
            format!("kube::list: option {key} must be a selector string or a map"),
        )),
    }
}

fn list_objects(
    ctx: &NativeCallContext,
    api_version: &str,
    kind: &str,
    options: &rhai::Map,
) -> RhaiResultOf<Array> {
    let given: SelectOptions = options::parse(ctx, "kube::list", options)?;
    let namespace = given
        .namespace
        .filter(|v| !v.is_unit())
        .map(|v| v.to_string());
    let labels = match &given.labels {
        Some(v) => Some(selector(ctx, "labels", v)?),
        None => None,
    };
    let fields = match &given.fields {
        Some(v) => Some(selector(ctx, "fields", v)?),
        None => None,
    };
    let mut params = kube::api::ListParams::default();
    if let Some(labels) = &labels {
        params = params.labels(labels);
    }
    if let Some(fields) = &fields {
        params = params.fields(fields);
    }
    let run = RunHandle::from_context(ctx)?;
    let cluster = run
        .cluster()
        .map_err(|e| script_error(ctx, format!("kube::list: {e}")))?;
    let items = run
        .block_on(async {
            let kind = cluster.resolve(api_version, kind).await?;
            cluster.list(&kind, namespace.as_deref(), &params).await
        })
        .map_err(|e| script_error(ctx, crate::kube::error::chain(&e)))?;
    let listed: RhaiResultOf<Array> = items.iter().map(from_json).collect();
    run.record(|evaluation| {
        evaluation.produced.reads.record_list(
            api_version,
            kind,
            namespace.as_deref(),
            labels.as_deref(),
            fields.as_deref(),
            items,
        )
    })?;
    listed
}

fn register_watch(
    ctx: &NativeCallContext,
    api_version: &str,
    kind: &str,
    options: &rhai::Map,
    handler: FnPtr,
) -> RhaiResultOf<()> {
    let given: SelectOptions = options::parse(ctx, "kube::watch", options)?;
    let text = |key: &str, value: Option<&Dynamic>| -> RhaiResultOf<Option<String>> {
        match value {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(v) if key == "namespace" => Ok(Some(v.to_string())),
            Some(v) => selector(ctx, key, v).map(Some),
        }
    };
    let spec = crate::kube::events::WatchSpec {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: text("namespace", given.namespace.as_ref())?,
        labels: text("labels", given.labels.as_ref())?,
        fields: text("fields", given.fields.as_ref())?,
        origin: origin(ctx),
    };
    let run = RunHandle::from_context(ctx)?;
    run.record(|evaluation| {
        let watch = super::support::Watch { spec, handler };
        evaluation.produced.watches.push(watch)
    })
}

fn plan_step(ctx: &NativeCallContext, step: Step) -> RhaiResultOf<()> {
    let run = RunHandle::from_context(ctx)?;
    let at = origin(ctx);
    run.record(|evaluation| evaluation.produced.plan.add(step, at))?
        .map_err(|e| script_error(ctx, e))
}

fn plan_wait(
    ctx: &NativeCallContext,
    target: ObjectRef,
    condition: &str,
    timeout: rhai::INT,
) -> RhaiResultOf<()> {
    if timeout <= 0 {
        return Err(script_error(
            ctx,
            format!("kube::wait: timeout must be a positive number of seconds, not {timeout}"),
        ));
    }
    let condition = match condition {
        "rollout" => Condition::Rollout,
        "deleted" => Condition::Deleted,
        "" => return Err(script_error(ctx, "kube::wait: name a condition: \"rollout\", \"deleted\" or a condition type such as \"Ready\"")),
        other => Condition::Named(other.to_string()),
    };
    let step = WaitStep {
        target,
        condition,
        timeout: Duration::from_secs(timeout.unsigned_abs()),
    };
    plan_step(ctx, Step::Wait(step))
}

fn plan_delete(
    ctx: &NativeCallContext,
    target: ObjectRef,
    options: &rhai::Map,
) -> RhaiResultOf<()> {
    let given: DeleteOptions = options::parse(ctx, "kube::delete", options)?;
    let propagation = match &given.propagation {
        None => Propagation::default(),
        Some(v) => Propagation::from_str(&v.to_string())
            .map_err(|e| script_error(ctx, format!("kube::delete: {e}")))?,
    };
    let wait = match &given.wait {
        None => None,
        Some(v) if v.is_unit() => None,
        Some(v) => match (v.as_bool(), v.as_int()) {
            (Ok(true), _) => Some(DEFAULT_DELETE_WAIT),
            (Ok(false), _) => None,
            (_, Ok(n)) if n > 0 => Some(Duration::from_secs(n.unsigned_abs())),
            _ => {
                return Err(script_error(
                    ctx,
                    "kube::delete: option wait is true, false or a number of seconds",
                ))
            }
        },
    };
    plan_step(
        ctx,
        Step::Delete(DeleteStep {
            target,
            propagation,
            wait,
        }),
    )
}

/// The `kube` module scripts call as `kube::apply(...)`.
#[export_module]
pub mod kube_api {
    /// Checks `object` and adds it to the run's plan; returns the object as it
    /// will be applied (canonical field order, wildrun's labels added).
    #[rhai_fn(return_raw)]
    pub fn apply(ctx: NativeCallContext, object: rhai::Map) -> RhaiResultOf<Dynamic> {
        super::plan_object(
            &ctx,
            &to_json(&Dynamic::from_map(object))?,
            &rhai::Map::new(),
        )
    }

    /// `apply` with options: `force: true` takes over fields another field
    /// manager owns; `keep: true` marks an object several instances share
    /// (`--delete` and `--prune` never remove it); `patch: true` sets only
    /// the fields given on an object wildrun did not make (no wildrun
    /// labels, so `--delete` and `--prune` never see it; field manager
    /// `wildrun-patch`); `recreate: true` deletes an object that exists
    /// (with what it owns) and creates it again: a Job that runs on each
    /// deploy.
    #[rhai_fn(name = "apply", return_raw)]
    pub fn apply_with(
        ctx: NativeCallContext,
        object: rhai::Map,
        options: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        super::plan_object(&ctx, &to_json(&Dynamic::from_map(object))?, &options)
    }

    /// `apply` for each object of a list, in order; returns the list of results.
    #[rhai_fn(return_raw)]
    pub fn apply_all(ctx: NativeCallContext, objects: rhai::Array) -> RhaiResultOf<Array> {
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
                super::plan_object(&ctx, &to_json(o)?, &rhai::Map::new())
            })
            .collect()
    }

    /// Plans the Secret `namespace/name` of generated values: `options.keys`
    /// maps each key to `#{ length, alphabet }` (default 32 letters and
    /// digits). A value the Secret already holds in the cluster is kept;
    /// a missing key is generated; `--rotate-secret namespace/name` makes
    /// them all again. Returns the Secret as it will be applied.
    #[rhai_fn(return_raw)]
    pub fn generated_secret(
        ctx: NativeCallContext,
        namespace: &str,
        name: &str,
        options: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        super::plan_generated_secret(&ctx, namespace, name, &options)
    }

    /// Plans the Namespace `name` (a no-op when the recipe applies it too).
    #[rhai_fn(return_raw)]
    pub fn ensure_namespace(ctx: NativeCallContext, name: &str) -> RhaiResultOf<Dynamic> {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        super::plan_object(&ctx, &ns, &rhai::Map::new())
    }

    /// The live object named by `reference` (a map with apiVersion, kind,
    /// metadata.name and metadata.namespace), or `()` when it does not exist.
    #[rhai_fn(name = "get", return_raw)]
    pub fn get(ctx: NativeCallContext, reference: rhai::Map) -> RhaiResultOf<Dynamic> {
        let target = super::object_ref(&ctx, "kube::get", &reference)?;
        super::get_object(&ctx, &target)
    }

    /// The live object `kind` `name` in `namespace` (`""` for cluster-scoped kinds), or `()`.
    #[rhai_fn(name = "get", return_raw)]
    pub fn get_named(
        ctx: NativeCallContext,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> RhaiResultOf<Dynamic> {
        super::get_object(&ctx, &super::ref_of(api_version, kind, namespace, name))
    }

    /// Whether the object named by `reference` exists.
    #[rhai_fn(name = "exists", return_raw)]
    pub fn exists(ctx: NativeCallContext, reference: rhai::Map) -> RhaiResultOf<bool> {
        let target = super::object_ref(&ctx, "kube::exists", &reference)?;
        Ok(super::read(&ctx, &target)?.is_some())
    }

    /// Whether `kind` `name` exists in `namespace` (`""` for cluster-scoped kinds).
    #[rhai_fn(name = "exists", return_raw)]
    pub fn exists_named(
        ctx: NativeCallContext,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> RhaiResultOf<bool> {
        Ok(super::read(&ctx, &super::ref_of(api_version, kind, namespace, name))?.is_some())
    }

    /// Every live object of a kind, in all namespaces.
    #[rhai_fn(name = "list", return_raw)]
    pub fn list(ctx: NativeCallContext, api_version: &str, kind: &str) -> RhaiResultOf<Array> {
        super::list_objects(&ctx, api_version, kind, &rhai::Map::new())
    }

    /// Live objects of a kind, with options `namespace`, `labels` (a selector
    /// string such as `"app=web"` or a map) and `fields` (e.g. `"metadata.name=web"`).
    #[rhai_fn(name = "list", return_raw)]
    pub fn list_with(
        ctx: NativeCallContext,
        api_version: &str,
        kind: &str,
        options: rhai::Map,
    ) -> RhaiResultOf<Array> {
        super::list_objects(&ctx, api_version, kind, &options)
    }

    /// Plans deleting the object named by `reference` (after the steps before it).
    #[rhai_fn(name = "delete", return_raw)]
    pub fn delete(ctx: NativeCallContext, reference: rhai::Map) -> RhaiResultOf<()> {
        let target = super::object_ref(&ctx, "kube::delete", &reference)?;
        super::plan_delete(&ctx, target, &rhai::Map::new())
    }

    /// `delete` with options: `propagation` (`"Background"`, `"Foreground"`,
    /// `"Orphan"`) and `wait` (true, or seconds: wait until it is gone).
    #[rhai_fn(name = "delete", return_raw)]
    pub fn delete_with(
        ctx: NativeCallContext,
        reference: rhai::Map,
        options: rhai::Map,
    ) -> RhaiResultOf<()> {
        let target = super::object_ref(&ctx, "kube::delete", &reference)?;
        super::plan_delete(&ctx, target, &options)
    }

    /// Calls `handler(event, object)` for every `"added"`, `"modified"` and
    /// `"deleted"` object of a kind, from when the script's body has finished
    /// until Ctrl-C or SIGTERM. Each call's `kube::apply`/`copy_secret`/`delete`
    /// steps are carried out when it returns.
    #[rhai_fn(name = "watch", return_raw)]
    pub fn watch(
        ctx: NativeCallContext,
        api_version: &str,
        kind: &str,
        handler: FnPtr,
    ) -> RhaiResultOf<()> {
        super::register_watch(&ctx, api_version, kind, &rhai::Map::new(), handler)
    }

    /// `watch` with options `namespace`, `labels` and `fields` (as `list`).
    #[rhai_fn(name = "watch", return_raw)]
    pub fn watch_with(
        ctx: NativeCallContext,
        api_version: &str,
        kind: &str,
        options: rhai::Map,
        handler: FnPtr,
    ) -> RhaiResultOf<()> {
        super::register_watch(&ctx, api_version, kind, &options, handler)
    }

    /// Plans waiting (after the steps before it) until the object named by
    /// `reference` meets `condition`: `"rollout"` (Deployment, StatefulSet,
    /// DaemonSet), `"deleted"`, or a condition type such as `"Ready"`,
    /// `"Established"`, `"Available"`; at most `timeout` seconds.
    #[rhai_fn(name = "wait", return_raw)]
    pub fn wait(
        ctx: NativeCallContext,
        reference: rhai::Map,
        condition: &str,
        timeout: rhai::INT,
    ) -> RhaiResultOf<()> {
        let target = super::object_ref(&ctx, "kube::wait", &reference)?;
        super::plan_wait(&ctx, target, condition, timeout)
    }

    /// Plans a copy of Secret `from_namespace/name` into `to_namespace`.
    #[rhai_fn(name = "copy_secret", return_raw)]
    pub fn copy_secret(
        ctx: NativeCallContext,
        from_namespace: &str,
        name: &str,
        to_namespace: &str,
    ) -> RhaiResultOf<()> {
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
    ) -> RhaiResultOf<()> {
        let copy_error =
            |e: crate::plan::StepError| script_error(&ctx, format!("copy_secret: {e}"));
        SecretCopy::check_names(from_namespace, name, to_namespace).map_err(copy_error)?;
        let given: super::CopyOptions = super::options::parse(&ctx, "copy_secret", &options)?;
        let run = RunHandle::from_context(&ctx)?;
        let labels: Map<String, Value> = match &given.labels {
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
        let copy = SecretCopy::new(
            from_namespace,
            name,
            to_namespace,
            given.r#type,
            labels,
            &run.context().instance,
        )
        .map_err(copy_error)?;
        let at = origin(&ctx);
        run.record(|evaluation| evaluation.produced.plan.add(Step::CopySecret(copy), at))?
            .map_err(|e| script_error(&ctx, e))
    }
}

rhai::def_package! {
    /// The `kube::` namespace, installed by the engine under that name.
    pub KubePackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "kube", kube_api);
    }
}
