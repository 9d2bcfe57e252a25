//! Operations on single objects: read, server-side apply, delete, and the
//! Secret copies wildrun makes.
//!
//! Each acts on one object and never on a whole plan, so the preflight,
//! `--diff`, `--delete`, waits and `--wait`'s late copies share them without
//! importing one another. Waiting is left to the caller: a delete here
//! returns as soon as the API server has accepted it.

use super::cluster::{retry, Cluster, Kind};
use crate::plan::{
    ObjectRef, Propagation, SecretCopy, COPIED_FROM_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL,
};
use anyhow::{anyhow, Result};
use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy, ValidationDirective};
use serde_json::{json, Value};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "wildrun";

/// The field manager of the fields wildrun sets on objects it did not make
/// (`kube::apply(object, #{ patch: true })`): those carry no wildrun labels.
pub const PATCH_FIELD_MANAGER: &str = "wildrun-patch";

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
pub async fn get(cluster: &Cluster, kind: &Kind, target: &ObjectRef) -> Result<Option<Value>> {
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
/// target wildrun did not make, and applies. `false` when the source still
/// does not exist.
pub async fn copy_secret_now(cluster: &Cluster, copy: &SecretCopy) -> Result<bool> {
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
    if let Some(live) = get(cluster, &kind, &target).await? {
        if !is_our_copy(&live, &from) {
            return Err(anyhow!(
                "{target} exists and is not a copy wildrun made of {from}; wildrun will not overwrite it"
            ));
        }
    }
    let body = copy_object(copy, &source);
    server_side_apply(cluster, &kind, &target, &body, true, false)
        .await
        .map_err(|e| cluster.explain(e, &format!("copy {from} to {target}")))?;
    Ok(true)
}

/// Whether a live Secret is a copy wildrun made of `from`.
pub(super) fn is_our_copy(live: &Value, from: &str) -> bool {
    let labels = live.pointer("/metadata/labels");
    let managed = labels
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .and_then(Value::as_str)
        == Some(MANAGED_BY);
    let origin = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(COPIED_FROM_ANNOTATION))
        .and_then(Value::as_str);
    managed && origin == Some(from)
}

/// The label value `key` of an object.
pub(super) fn label<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    object
        .pointer(&format!("/metadata/labels/{}", key.replace('/', "~1")))
        .and_then(Value::as_str)
}

/// What the API server answered to a server-side apply.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The object as the server holds it after the apply.
    pub object: Value,
    /// The server answered `201 Created`: this write made the object. Read
    /// from the answer, not from an earlier read, so that of two runs racing
    /// to create one object only the one that made it says "created".
    pub created: bool,
}

/// Server-side applies `body` to `target`.
pub async fn server_side_apply(
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
pub fn strip_server_fields(value: &Value) -> Value {
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
pub async fn delete(
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
