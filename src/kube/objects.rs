//! Operations on single objects: read, server-side apply, delete, and the
//! Secret copies wildrun makes.
//!
//! Each acts on one object and never on a whole plan, so the preflight,
//! `--diff`, `--delete`, waits and `--wait`'s late copies share them without
//! importing one another. Waiting is left to the caller: a delete here
//! returns as soon as the API server has accepted it.

use super::cluster::{retry, Cluster, Kind};
use super::error::{KubeError, Result};
use super::owner::{label, FIELD_MANAGER, PATCH_FIELD_MANAGER};
use crate::plan::{
    ObjectRef, Propagation, SecretCopy, COPIED_FROM_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL,
};
use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy, ValidationDirective};
use serde_json::{json, Value};

/// [`FIELD_MANAGER`] for wildrun's objects, [`PATCH_FIELD_MANAGER`] for a
/// patch of someone else's.
fn field_manager(body: &Value) -> &'static str {
    let managed_by = body
        .pointer("/metadata/labels/app.kubernetes.io~1managed-by")
        .and_then(Value::as_str);
    if managed_by == Some(crate::plan::MANAGED_BY) {
        FIELD_MANAGER
    } else {
        PATCH_FIELD_MANAGER
    }
}

fn patch_params(manager: &str, force: bool, dry_run: bool) -> PatchParams {
    let mut params = PatchParams::apply(manager);
    params.force = force;
    params.dry_run = dry_run;
    params.field_validation = Some(ValidationDirective::Strict);
    params
}

/// The resourceVersion of an object, when it has one.
pub(super) fn rv(value: &Value) -> Option<&str> {
    value
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
}

/// Reads an object; `None` when it does not exist.
pub(crate) async fn get(
    cluster: &Cluster,
    kind: &Kind,
    target: &ObjectRef,
) -> Result<Option<Value>> {
    let api = cluster.api(kind, target.namespace.as_deref());
    match retry(|| api.get_opt(&target.name)).await {
        Ok(Some(obj)) => Ok(Some(super::cluster::to_value(&obj)?)),
        Ok(None) => Ok(None),
        Err(e) => Err(cluster.explain(e, &format!("read {target}"))),
    }
}

/// The Secret a copy writes: the source's type and data, wildrun's labels and origin annotation.
pub(super) fn copy_object(copy: &SecretCopy, source: &Value) -> Value {
    let mut secret = copy.placeholder();
    if let Some(t) = source.get("type") {
        secret["type"] = t.clone();
    }
    secret["data"] = source.get("data").cloned().unwrap_or_else(|| json!({}));
    secret
}

/// Makes the copy `copy` now (`--wait`, once cert-manager has issued the
/// source the run had to skip): reads the source and the target, refuses a
/// target wildrun did not make unless it holds the source's data (then it
/// is taken as the copy, as [`super::copies`] says), and applies. `false` when the source still
/// does not exist.
pub(crate) async fn copy_secret_now(cluster: &Cluster, copy: &SecretCopy) -> Result<bool> {
    let kind = cluster.resolve("v1", "Secret").await?;
    let from = format!("{}/{}", copy.from_namespace, copy.name);
    let target = ObjectRef::secret(&copy.to_namespace, &copy.name);
    let Some(source) = get(
        cluster,
        &kind,
        &ObjectRef::secret(&copy.from_namespace, &copy.name),
    )
    .await?
    else {
        return Ok(false);
    };
    let mut body = copy_object(copy, &source);
    if let Some(live) = get(cluster, &kind, &target).await? {
        let ours = is_our_copy(&live, &from);
        let owner = super::owner::Owner::of(&live);
        if !ours && super::copies::judge(&source, &live) != super::copies::Existing::Same {
            let refusal = super::copies::refusal(&target, &from, &owner.made_by(), &live, &source);
            return Err(KubeError::ForeignCopy(Box::new(refusal)));
        }
        // Another tool's identical copy is taken as wildrun's, as the run does.
        if !ours || owner.adopted.is_some() {
            body = super::owner::Adoption::of(&live).body(&body);
        }
    }
    server_side_apply(cluster, &kind, &target, &body, true, false)
        .await
        .map_err(|e| cluster.explain(e, &format!("copy {from} to {target}")))?;
    Ok(true)
}

/// Whether a live Secret is a copy wildrun made of `from`.
pub(super) fn is_our_copy(live: &Value, from: &str) -> bool {
    copy_origin(live) == Some(from)
}

/// The source (`<namespace>/<name>`) of a Secret wildrun copied: its
/// `wildrun.dev/copied-from` annotation, when it also carries wildrun's
/// managed-by label; `None` for any other object.
pub(super) fn copy_origin(live: &Value) -> Option<&str> {
    if label(live, MANAGED_BY_LABEL) != Some(MANAGED_BY) {
        return None;
    }
    live.pointer("/metadata/annotations")
        .and_then(|a| a.get(COPIED_FROM_ANNOTATION))
        .and_then(Value::as_str)
}

/// What the API server answered to a server-side apply.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    /// The object as the server holds it after the apply.
    pub(crate) object: Value,
    /// The server answered `201 Created`: this write made the object. Read
    /// from the answer, not from an earlier read, so that of two runs racing
    /// to create one object only the one that made it says "created".
    pub(crate) created: bool,
}

/// Server-side applies `body` to `target`.
pub(crate) async fn server_side_apply(
    cluster: &Cluster,
    kind: &Kind,
    target: &ObjectRef,
    body: &Value,
    force: bool,
    dry_run: bool,
) -> Result<Applied, kube::Error> {
    let namespace = if kind.namespaced {
        target.namespace.as_deref()
    } else {
        None
    };
    let url = <kube::api::DynamicObject as kube::Resource>::url_path(&kind.resource, namespace);
    let params = patch_params(field_manager(body), force, dry_run);
    retry(|| send_apply(cluster, &url, &target.name, &params, body)).await
}

/// One apply request, sent raw because kube's `Api::patch` does not say
/// whether the server created the object (201) or updated it (200).
async fn send_apply(
    cluster: &Cluster,
    url: &str,
    name: &str,
    params: &PatchParams,
    body: &Value,
) -> Result<Applied, kube::Error> {
    use http_body_util::BodyExt;
    let request = kube::core::Request::new(url)
        .patch(name, params, &Patch::Apply(body))
        .map_err(kube::Error::BuildRequest)?;
    let response = cluster
        .client
        .send(request.map(kube::client::Body::from))
        .await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    if status.is_client_error() || status.is_server_error() {
        let text = String::from_utf8_lossy(&bytes);
        let answer = serde_json::from_str::<kube::core::Status>(&text).unwrap_or_else(|_| {
            kube::core::Status::failure(text.trim(), "the answer was not a Status")
                .with_code(status.as_u16())
        });
        return Err(kube::Error::Api(answer.boxed()));
    }
    // Through DynamicObject, as every other read, so that keys come in one
    // order (diffs compare the text).
    let object: kube::api::DynamicObject =
        serde_json::from_slice(&bytes).map_err(kube::Error::SerdeError)?;
    Ok(Applied {
        object: serde_json::to_value(&object).map_err(kube::Error::SerdeError)?,
        created: status == http::StatusCode::CREATED,
    })
}

/// The parts of an object the server sets, left out when comparing.
pub(crate) fn strip_server_fields(value: &Value) -> Value {
    let mut v = value.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
            "selfLink",
        ] {
            meta.remove(key);
        }
    }
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
    }
    v
}

/// A digest of `value` without the fields the server sets, so that two
/// versions of an object compare without one being kept whole: equal when
/// [`strip_server_fields`] of both are equal (whatever the order of map
/// keys), different otherwise but for a chance of 2^-64.
pub(crate) fn fingerprint(value: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    fn feed(value: &Value, hasher: &mut std::hash::DefaultHasher) {
        match value {
            Value::Null => 0u8.hash(hasher),
            Value::Bool(b) => (1u8, b).hash(hasher),
            Value::Number(n) => (2u8, n.to_string()).hash(hasher),
            Value::String(s) => (3u8, s).hash(hasher),
            Value::Array(items) => {
                (4u8, items.len()).hash(hasher);
                items.iter().for_each(|item| feed(item, hasher));
            }
            Value::Object(map) => {
                (5u8, map.len()).hash(hasher);
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (key, item) in entries {
                    key.hash(hasher);
                    feed(item, hasher);
                }
            }
        }
    }
    // DefaultHasher::new() has fixed keys: digests compare within a process.
    let mut hasher = std::hash::DefaultHasher::new();
    feed(&strip_server_fields(value), &mut hasher);
    hasher.finish()
}

/// Kubernetes' name for `propagation`. Exhaustive, so that a new
/// [`Propagation`] cannot fall back to another policy unnoticed.
fn propagation_policy(propagation: Propagation) -> PropagationPolicy {
    match propagation {
        Propagation::Background => PropagationPolicy::Background,
        Propagation::Foreground => PropagationPolicy::Foreground,
        Propagation::Orphan => PropagationPolicy::Orphan,
    }
}

/// Deletes one object; `false` when it was already gone. Returns once the
/// API server has accepted the delete: callers that must see the object
/// disappear wait for it themselves (`wait::until` with `Condition::Deleted`).
pub(crate) async fn delete(
    cluster: &Cluster,
    kind: &Kind,
    target: &ObjectRef,
    propagation: Propagation,
    dry_run: bool,
) -> Result<bool> {
    let api = cluster.api(kind, target.namespace.as_deref());
    let params = DeleteParams {
        dry_run,
        propagation_policy: Some(propagation_policy(propagation)),
        ..DeleteParams::default()
    };
    match retry(|| api.delete(&target.name, &params)).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(cluster.explain(e, &format!("delete {target}"))),
    }
}

/// Releases an object wildrun adopted (see [`super::owner::release_patch`]):
/// one merge patch, under a field manager of its own so that no record of
/// wildrun's is made by it. The object stays. Returns it as released (as
/// it would be, with `dry_run`), or `None` when it was gone.
pub(crate) async fn release(
    cluster: &Cluster,
    kind: &Kind,
    target: &ObjectRef,
    live: &Value,
    dry_run: bool,
) -> Result<Option<Value>> {
    let api = cluster.api(kind, target.namespace.as_deref());
    let mut params = PatchParams {
        field_manager: Some(RELEASE_FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    params.dry_run = dry_run;
    let patch = Patch::Merge(super::owner::release_patch(live));
    match retry(|| api.patch(&target.name, &params, &patch)).await {
        Ok(released) => Ok(Some(super::cluster::to_value(&released)?)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(cluster.explain(e, &format!("release {target}"))),
    }
}

/// The field manager of the patch that releases an adopted object.
pub(crate) const RELEASE_FIELD_MANAGER: &str = "wildrun-release";

/// Why applying `body` over `live` might change the object, or `None` when
/// it cannot, so that no write is needed.
///
/// A server-side apply changes nothing when the live object already holds
/// every applied value *and* the field manager's own record (its entry in
/// `managedFields`) lists exactly the applied fields: a field the manager
/// owns but no longer applies would be removed, and a field it applies but
/// does not own (someone else's `kubectl edit`, an object made by another
/// tool) would change hands. Anything this cannot tell for sure (a `null`,
/// a list whose kind of merge is unknown, no managedFields) counts as a
/// possible change: a needless write costs one request, a skipped one would
/// leave the cluster wrong.
///
/// The reason names the first field found, for `-v` logs.
pub(crate) fn why_write(body: &Value, live: &Value) -> Option<String> {
    if live.pointer("/metadata/deletionTimestamp").is_some() {
        return Some("the object is being deleted".into());
    }
    let applied = applied_fields(body);
    if let Err(path) = holds(&applied, live) {
        return Some(format!("{path} differs from what is applied"));
    }
    let manager = field_manager(body);
    let api_version = body.get("apiVersion").and_then(Value::as_str);
    let fields = match managed_entry(live, manager, api_version) {
        Ok(fields) => fields,
        Err(why) => return Some(why),
    };
    owned_exactly(&applied, fields).err().map(|path| {
        format!("field manager {manager} does not own exactly the applied fields (at {path})")
    })
}

/// `body` without what names the object rather than describes it
/// (apiVersion, kind, metadata.name and metadata.namespace): those are not
/// fields any manager owns.
fn applied_fields(body: &Value) -> Value {
    let mut applied = body.clone();
    if let Some(obj) = applied.as_object_mut() {
        obj.remove("apiVersion");
        obj.remove("kind");
        let empty = obj
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .map(|meta| {
                meta.remove("name");
                meta.remove("namespace");
                meta.is_empty()
            });
        if empty == Some(true) {
            obj.remove("metadata");
        }
    }
    applied
}

/// `Ok` when `live` holds every value of `applied`: maps may have more keys
/// (defaults, other managers' fields), lists must match element by element
/// (whether a list is atomic or merged by key is in the schema, which
/// wildrun does not read; a list that grew counts as a change). `Err` names
/// the first field that differs.
fn holds(applied: &Value, live: &Value) -> Result<(), String> {
    match (applied, live) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want {
                let Some(there) = have.get(key) else {
                    return Err(format!(".{key}"));
                };
                holds(value, there).map_err(|path| format!(".{key}{path}"))?;
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => {
            for (index, (value, there)) in want.iter().zip(have).enumerate() {
                holds(value, there).map_err(|path| format!("[{index}]{path}"))?;
            }
            Ok(())
        }
        // Applying null removes a field: not a value to compare.
        (Value::Null, _) => Err(String::new()),
        (want, have) if want == have => Ok(()),
        _ => Err(String::new()),
    }
}

/// The fields `manager` owns through server-side apply (its `managedFields`
/// entry of operation `Apply`, not of a subresource), recorded at
/// `api_version`: field paths are per version.
fn managed_entry<'v>(
    live: &'v Value,
    manager: &str,
    api_version: Option<&str>,
) -> Result<&'v serde_json::Map<String, Value>, String> {
    let entries: Vec<&Value> = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|all| {
            all.iter()
                .filter(|e| {
                    e.get("manager").and_then(Value::as_str) == Some(manager)
                        && e.get("operation").and_then(Value::as_str) == Some("Apply")
                        && e.get("subresource")
                            .and_then(Value::as_str)
                            .is_none_or(str::is_empty)
                })
                .collect()
        })
        .unwrap_or_default();
    let [entry] = entries.as_slice() else {
        return Err(format!(
            "field manager {manager} has {} apply record(s) in managedFields, not one",
            entries.len()
        ));
    };
    if entry.get("apiVersion").and_then(Value::as_str) != api_version {
        return Err(format!(
            "field manager {manager} applied another apiVersion"
        ));
    }
    if entry.get("fieldsType").and_then(Value::as_str) != Some("FieldsV1") {
        return Err(format!("field manager {manager}'s record is not FieldsV1"));
    }
    entry
        .get("fieldsV1")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("field manager {manager}'s record has no fieldsV1"))
}

/// `Ok` when `node`, a manager's field set in the API server's `FieldsV1`
/// form, lists exactly the fields of `applied`: no field missing (not owned)
/// and none extra (owned, no longer applied: the apply would remove it).
///
/// `FieldsV1` keys are `f:<field>` for map fields, `k:<key as JSON>` for
/// elements of a list merged by key, `v:<value as JSON>` for elements of a
/// set, and `.` for "the element itself"; an empty node is a leaf, or an
/// atomic struct or list owned whole (its values are compared by [`holds`]).
fn owned_exactly(applied: &Value, node: &serde_json::Map<String, Value>) -> Result<(), String> {
    let children: Vec<&String> = node.keys().filter(|k| *k != ".").collect();
    if children.is_empty() {
        // A leaf, or an atomic struct or list: owned as a whole. An empty
        // node for a map of fields would mean the fields are not owned, but
        // the server never records a granular map that way.
        return match applied {
            Value::Null => Err(String::new()),
            _ => Ok(()),
        };
    }
    match applied {
        Value::Object(fields) => {
            for key in &children {
                let owned_field = key.strip_prefix("f:");
                if !owned_field.is_some_and(|f| fields.contains_key(f)) {
                    // Owned but no longer applied (or owned as something
                    // other than a map field): the apply would remove it.
                    return Err(format!(".{}", key.strip_prefix("f:").unwrap_or(key)));
                }
            }
            for (field, value) in fields {
                let child = node
                    .get(&format!("f:{field}"))
                    .and_then(Value::as_object)
                    .ok_or_else(|| format!(".{field}"))?;
                owned_exactly(value, child).map_err(|path| format!(".{field}{path}"))?;
            }
            Ok(())
        }
        Value::Array(items) if children.len() == items.len() => {
            if children.iter().all(|k| k.starts_with("k:")) {
                owned_by_key(items, &children, node)
            } else if children.iter().all(|k| k.starts_with("v:")) {
                for (index, item) in items.iter().enumerate() {
                    let key = format!("v:{}", serde_json::to_string(item).unwrap_or_default());
                    if !node.contains_key(&key) {
                        return Err(format!("[{index}]"));
                    }
                }
                Ok(())
            } else {
                // Elements by position (`i:`) or a mix: not worth guessing.
                Err(String::new())
            }
        }
        _ => Err(String::new()),
    }
}

/// [`owned_exactly`] for a list merged by key: each applied element matches
/// exactly one owned `k:` entry, and each entry one element. A key field
/// the element leaves out matches any value: the server fills in defaults
/// before recording the key (a container port's `protocol: TCP`).
fn owned_by_key(
    items: &[Value],
    children: &[&String],
    node: &serde_json::Map<String, Value>,
) -> Result<(), String> {
    let keys: Vec<Option<serde_json::Map<String, Value>>> = children
        .iter()
        .map(|k| {
            k.strip_prefix("k:")
                .and_then(|json| serde_json::from_str::<serde_json::Map<String, Value>>(json).ok())
        })
        .collect();
    let mut used = vec![false; children.len()];
    for (index, item) in items.iter().enumerate() {
        let Some(fields) = item.as_object() else {
            return Err(format!("[{index}]"));
        };
        let matches: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, key)| {
                key.as_ref().is_some_and(|key| {
                    key.iter().any(|(f, v)| fields.get(f) == Some(v))
                        && key
                            .iter()
                            .all(|(f, v)| fields.get(f).is_none_or(|mine| mine == v))
                })
            })
            .map(|(i, _)| i)
            .collect();
        let [found] = matches.as_slice() else {
            return Err(format!("[{index}]"));
        };
        if used[*found] {
            return Err(format!("[{index}]"));
        }
        used[*found] = true;
        let child = node
            .get(children[*found].as_str())
            .and_then(Value::as_object)
            .ok_or_else(|| format!("[{index}]"))?;
        owned_exactly(item, child).map_err(|path| format!("[{index}]{path}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod why_write_tests {
    use super::*;

    #[test]
    fn a_fingerprint_ignores_server_fields_and_key_order_but_not_content() {
        let object = json!({"metadata": {"name": "web", "labels": {"a": "1", "b": "2"}},
                            "spec": {"replicas": 1, "paused": false}});
        let read_later = json!({"spec": {"paused": false, "replicas": 1},
                                "status": {"readyReplicas": 1},
                                "metadata": {"labels": {"b": "2", "a": "1"}, "name": "web",
                                    "resourceVersion": "8", "managedFields": [{"manager": "x"}]}});
        assert_eq!(fingerprint(&object), fingerprint(&read_later));
        for changed in [
            json!({"metadata": {"name": "web", "labels": {"a": "1", "b": "3"}},
                   "spec": {"replicas": 1, "paused": false}}),
            json!({"metadata": {"name": "web", "labels": {"a": "1", "b": "2"}},
                   "spec": {"replicas": 2, "paused": false}}),
            json!({"metadata": {"name": "web", "labels": {"a": "1", "b": "2"}},
                   "spec": {"replicas": 1}}),
            json!({"metadata": {"name": "web", "labels": {"a": "1", "b": "2"}},
                   "spec": {"replicas": "1", "paused": false}}),
        ] {
            assert_ne!(fingerprint(&object), fingerprint(&changed), "{changed}");
        }
    }

    /// What wildrun applies: a Deployment with wildrun's labels.
    fn body() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "web",
                "labels": {"app.kubernetes.io/managed-by": "wildrun", "wildrun.dev/instance": "public.web"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1",
                        "ports": [{"containerPort": 80}]}]}
                }
            }
        })
    }

    /// wildrun's field set for [`body`], as the API server records it.
    fn wildrun_fields() -> Value {
        json!({
            "f:metadata": {"f:labels": {"f:app.kubernetes.io/managed-by": {}, "f:wildrun.dev/instance": {}}},
            "f:spec": {
                "f:replicas": {},
                // An atomic struct: owned whole.
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        // The key holds the defaulted protocol; the fields do not.
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {}, "f:containerPort": {}}}
                    }}}
                }
            }
        })
    }

    fn entry(manager: &str, operation: &str, fields: Value) -> Value {
        json!({"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": fields,
               "manager": manager, "operation": operation, "time": "2026-11-29T15:49:12Z"})
    }

    /// The live object after wildrun applied [`body`]: defaults filled in,
    /// server metadata, a status, and the controller's own fields.
    fn live() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "web", "uid": "u", "resourceVersion": "42",
                "generation": 1, "creationTimestamp": "2026-11-29T15:49:12Z",
                "labels": {"app.kubernetes.io/managed-by": "wildrun", "wildrun.dev/instance": "public.web"},
                "annotations": {"deployment.kubernetes.io/revision": "1"},
                "managedFields": [
                    entry("wildrun", "Apply", wildrun_fields()),
                    {"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kube-controller-manager",
                     "operation": "Update", "subresource": "status",
                     "fieldsV1": {"f:status": {"f:replicas": {}}}},
                    entry("kube-controller-manager", "Update", json!({"f:metadata": {"f:annotations": {
                        ".": {}, "f:deployment.kubernetes.io/revision": {}}}})),
                ]
            },
            "spec": {
                "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{"name": "web", "image": "nginx:1", "imagePullPolicy": "IfNotPresent",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "terminationMessagePath": "/dev/termination-log"}],
                        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"
                    }
                }
            },
            "status": {"replicas": 1}
        })
    }

    fn set(value: &mut Value, pointer: &str, to: Value) {
        *value.pointer_mut(pointer).expect("the field exists") = to;
    }

    #[test]
    fn an_object_wildrun_applied_and_nobody_changed_needs_no_write() {
        assert_eq!(why_write(&body(), &live()), None);
    }

    #[test]
    fn a_value_someone_changed_is_written_back() {
        let mut changed = live();
        set(
            &mut changed,
            "/spec/template/spec/containers/0/image",
            json!("nginx:2"),
        );
        let why = why_write(&body(), &changed).expect("a write");
        assert!(
            why.contains(".spec.template.spec.containers[0].image"),
            "{why}"
        );
        // A label of wildrun's removed (kubectl label ... key-).
        let mut removed = live();
        removed["metadata"]["labels"]
            .as_object_mut()
            .map(|l| l.remove("wildrun.dev/instance"));
        let why = why_write(&body(), &removed).expect("a write");
        assert!(
            why.contains(".metadata.labels.wildrun.dev/instance"),
            "{why}"
        );
    }

    #[test]
    fn an_atomic_list_that_grew_is_written() {
        let mut body = body();
        body["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["a"]);
        let mut fields = wildrun_fields();
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]
            ["f:args"] = json!({});
        let mut live = live();
        live["metadata"]["managedFields"][0] = entry("wildrun", "Apply", fields);
        live["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["a"]);
        assert_eq!(why_write(&body, &live), None);
        live["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["a", "b"]);
        assert!(why_write(&body, &live).is_some());
    }

    #[test]
    fn a_field_wildrun_owns_but_no_longer_applies_is_written_to_remove_it() {
        // The recipe dropped a label it used to set: the value is still
        // there, and only an apply removes it.
        let mut fields = wildrun_fields();
        fields["f:metadata"]["f:labels"]["f:tier"] = json!({});
        let mut ours = live();
        ours["metadata"]["labels"]["tier"] = json!("front");
        ours["metadata"]["managedFields"][0] = entry("wildrun", "Apply", fields);
        let why = why_write(&body(), &ours).expect("a write");
        assert!(why.contains(".metadata.labels.tier"), "{why}");
        // The same label set by someone else stays theirs: no write.
        let mut theirs = live();
        theirs["metadata"]["labels"]["tier"] = json!("front");
        assert_eq!(why_write(&body(), &theirs), None);
    }

    #[test]
    fn a_field_wildrun_does_not_own_is_written_to_own_it() {
        // kubectl edit set the image back to wildrun's value: the value holds,
        // but the field is kubectl's, so the apply still changes its owner.
        let mut fields = wildrun_fields();
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]
            .as_object_mut()
            .map(|c| c.remove("f:image"));
        let mut live = live();
        live["metadata"]["managedFields"][0] = entry("wildrun", "Apply", fields);
        let why = why_write(&body(), &live).expect("a write");
        assert!(why.contains("image"), "{why}");
    }

    #[test]
    fn without_wildrun_s_own_apply_record_the_object_is_written() {
        // Made by kubectl with the same content: wildrun owns nothing yet.
        let mut made_elsewhere = live();
        made_elsewhere["metadata"]["managedFields"][0] =
            entry("kubectl", "Apply", wildrun_fields());
        assert!(why_write(&body(), &made_elsewhere).is_some());
        // wildrun's fields recorded by an Update, not an apply.
        let mut updated = live();
        updated["metadata"]["managedFields"][0] = entry("wildrun", "Update", wildrun_fields());
        assert!(why_write(&body(), &updated).is_some());
        // No managedFields at all (a server that strips them).
        let mut stripped = live();
        stripped["metadata"]
            .as_object_mut()
            .map(|m| m.remove("managedFields"));
        assert!(why_write(&body(), &stripped).is_some());
        // Applied at another apiVersion: the field paths may differ.
        let mut other_version = live();
        other_version["metadata"]["managedFields"][0]["apiVersion"] = json!("apps/v1beta2");
        assert!(why_write(&body(), &other_version).is_some());
    }

    #[test]
    fn a_patch_of_someone_elses_object_is_checked_against_the_patch_manager() {
        // kube::apply(object, #{ patch: true }): no wildrun labels, manager wildrun-patch.
        let mut patch = body();
        patch["metadata"]
            .as_object_mut()
            .map(|m| m.remove("labels"));
        let mut fields = wildrun_fields();
        fields.as_object_mut().map(|f| f.remove("f:metadata"));
        let mut live = live();
        live["metadata"]["managedFields"][0] = entry("wildrun", "Apply", fields.clone());
        assert!(why_write(&patch, &live).is_some());
        live["metadata"]["managedFields"][0] = entry(PATCH_FIELD_MANAGER, "Apply", fields);
        assert_eq!(why_write(&patch, &live), None);
    }

    #[test]
    fn what_cannot_be_compared_for_sure_is_written() {
        // null removes a field: not a value the live object can hold.
        let mut nulled = body();
        nulled["spec"]["replicas"] = Value::Null;
        assert!(why_write(&nulled, &live()).is_some());
        // 1 and 1.0 are the same number to the server, not to this check.
        let mut float = body();
        float["spec"]["replicas"] = json!(1.0);
        assert!(why_write(&float, &live()).is_some());
        // An object being deleted.
        let mut deleting = live();
        deleting["metadata"]["deletionTimestamp"] = json!("2026-11-29T16:00:00Z");
        assert!(why_write(&body(), &deleting).is_some());
        // An element owned by position.
        let mut fields = wildrun_fields();
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"] = json!({"i:0": {}});
        let mut by_index = live();
        by_index["metadata"]["managedFields"][0] = entry("wildrun", "Apply", fields);
        assert!(why_write(&body(), &by_index).is_some());
    }

    #[test]
    fn list_elements_match_their_owned_keys() {
        // Two ports: each element matches its own key, the defaulted
        // protocol included; a key that matches none is a change.
        let mut body = body();
        body["spec"]["template"]["spec"]["containers"][0]["ports"] =
            json!([{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]);
        let mut fields = wildrun_fields();
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]
            ["f:ports"] = json!({
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}},
            "k:{\"containerPort\":53,\"protocol\":\"UDP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}},
        });
        let mut live = live();
        live["metadata"]["managedFields"][0] = entry("wildrun", "Apply", fields.clone());
        live["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([
            {"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}]);
        assert_eq!(why_write(&body, &live), None);
        // The recipe now asks for TCP on 53: same number, another key.
        body["spec"]["template"]["spec"]["containers"][0]["ports"][1]["protocol"] = json!("TCP");
        assert!(why_write(&body, &live).is_some());
    }

    #[test]
    fn set_lists_are_owned_by_value() {
        let body = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "web", "labels": {"app.kubernetes.io/managed-by": "wildrun"},
                         "finalizers": ["example.com/a"]}});
        let mut live = body.clone();
        live["metadata"]["managedFields"] = json!([{"apiVersion": "v1", "fieldsType": "FieldsV1",
            "manager": "wildrun", "operation": "Apply",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:app.kubernetes.io/managed-by": {}},
                                        "f:finalizers": {".": {}, "v:\"example.com/a\"": {}}}}}]);
        assert_eq!(why_write(&body, &live), None);
        live["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"]["f:finalizers"] =
            json!({".": {}, "v:\"example.com/b\"": {}});
        assert!(why_write(&body, &live).is_some());
    }

    /// A Secret copy as wildrun writes it, and as the cluster holds it.
    fn copy_and_live(data: Value) -> (Value, Value) {
        let body = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "tls", "namespace": "web",
                "labels": {"app.kubernetes.io/managed-by": "wildrun"},
                "annotations": {"wildrun.dev/copied-from": "cert-manager/tls"}},
            "data": data});
        let mut live = body.clone();
        live["metadata"]["resourceVersion"] = json!("7");
        live["metadata"]["managedFields"] = json!([{"apiVersion": "v1", "fieldsType": "FieldsV1",
            "manager": "wildrun", "operation": "Apply",
            "fieldsV1": {"f:type": {}, "f:data": {".": {}, "f:tls.crt": {}, "f:tls.key": {}},
                "f:metadata": {"f:labels": {"f:app.kubernetes.io/managed-by": {}},
                               "f:annotations": {"f:wildrun.dev/copied-from": {}}}}}]);
        (body, live)
    }

    #[test]
    fn a_secret_copy_is_compared_by_its_data() {
        let (body, live) = copy_and_live(json!({"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}));
        assert_eq!(why_write(&body, &live), None);
        // The source was renewed.
        let (renewed, _) = copy_and_live(json!({"tls.crt": "TkVX", "tls.key": "S0VZ"}));
        let why = why_write(&renewed, &live).expect("a write");
        assert!(why.contains(".data.tls.crt"), "{why}");
        // The source lost a key the copy still has: only an apply removes it.
        let (fewer, _) = copy_and_live(json!({"tls.crt": "Q0VSVA=="}));
        let why = why_write(&fewer, &live).expect("a write");
        assert!(why.contains(".data.tls.key"), "{why}");
    }
}
