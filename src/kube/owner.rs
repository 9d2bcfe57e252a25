//! Who made an object, and the marks wildrun keeps on one it adopted.
//!
//! An object wildrun made carries its managed-by label. One that another
//! tool made (kubectl, Helm, a set-up script) does not, and its
//! `managedFields` name that tool's field manager. `--adopt` lets wildrun
//! manage such an object in place: it is marked with
//! [`ADOPTED_ANNOTATION`] (and, when it had one, its former managed-by value
//! in [`ADOPTED_MANAGED_BY_ANNOTATION`]), keeps its workload selector (an
//! immutable field), and `--delete` releases it ([`release_patch`]) instead
//! of deleting it.

use crate::plan::{
    ADOPTED_ANNOTATION, ADOPTED_MANAGED_BY_ANNOTATION, INSTANCE_LABEL, KEEP_LABEL, MANAGED_BY,
    MANAGED_BY_LABEL,
};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The field manager of every write.
pub(crate) const FIELD_MANAGER: &str = "wildrun";

/// The field manager of the fields wildrun sets on objects it did not make
/// (`kube::apply(object, #{ patch: true })`): those carry no wildrun labels.
pub(crate) const PATCH_FIELD_MANAGER: &str = "wildrun-patch";

/// The label value `key` of an object.
pub(super) fn label<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    object
        .pointer(&format!("/metadata/labels/{}", key.replace('/', "~1")))
        .and_then(Value::as_str)
}

/// Whether `manager` is one of wildrun's field managers.
pub(crate) fn is_wildrun_manager(manager: &str) -> bool {
    manager == FIELD_MANAGER || manager == PATCH_FIELD_MANAGER
}

/// Who made one live object, and whether wildrun manages it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Owner {
    /// It carries wildrun's managed-by label or an instance label: wildrun
    /// made it or adopted it.
    pub(crate) ours: bool,
    /// Its `wildrun.dev/instance` label.
    pub(crate) instance: Option<String>,
    /// wildrun adopted it: the field manager that had made it.
    pub(crate) adopted: Option<String>,
    /// The field manager that made it, other than wildrun's
    /// (`kubectl-client-side-apply`, `helm`, ...): see [`maker`].
    pub(crate) manager: Option<String>,
}

impl Owner {
    /// What `object` (as the API server returns it) says of who made it.
    pub(crate) fn of(object: &Value) -> Owner {
        let instance = label(object, INSTANCE_LABEL).map(str::to_string);
        Owner {
            ours: label(object, MANAGED_BY_LABEL) == Some(MANAGED_BY) || instance.is_some(),
            instance,
            adopted: annotation(object, ADOPTED_ANNOTATION).map(str::to_string),
            manager: maker(object),
        }
    }

    /// Who made it, for people: `kubectl (field manager
    /// kubectl-client-side-apply)`, `wildrun`, `another tool`.
    pub(crate) fn made_by(&self) -> String {
        match (&self.adopted, &self.manager) {
            (Some(first), _) => describe_manager(first),
            (None, Some(manager)) => describe_manager(manager),
            (None, None) if self.ours => MANAGED_BY.to_string(),
            (None, None) => "another tool (no field manager recorded)".to_string(),
        }
    }
}

/// Who made `live`, when it is a Namespace another tool made that wildrun
/// uses as it is: never written (labelled as wildrun's, a later `--delete`
/// of the instance would delete a namespace it never made). `None` for
/// any other object, and for a Namespace wildrun made or adopted.
pub(crate) fn namespace_used_as_it_is(kind: &str, live: &Value) -> Option<String> {
    let owner = Owner::of(live);
    (kind == "Namespace" && !owner.ours && owner.adopted.is_none()).then(|| owner.made_by())
}

/// The value of annotation `key` of an object.
pub(crate) fn annotation<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// The entries of `managedFields` that record writes to the object itself
/// (not to a subresource such as `status`).
fn main_entries(object: &Value) -> impl Iterator<Item = &Value> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| {
            e.get("subresource")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        })
}

/// The field manager that made `object`: of the entries in its
/// `managedFields` outside a subresource and not wildrun's, the earliest
/// (the first in the list among equal times, which have a resolution of a
/// second). Controllers that write later (a Deployment's revision
/// annotation) come after the tool that applied it.
pub(crate) fn maker(object: &Value) -> Option<String> {
    let mut earliest: Option<(&str, &str)> = None;
    for entry in main_entries(object) {
        let Some(manager) = entry.get("manager").and_then(Value::as_str) else {
            continue;
        };
        if is_wildrun_manager(manager) {
            continue;
        }
        let time = entry.get("time").and_then(Value::as_str).unwrap_or("");
        // RFC 3339 times in UTC compare as text.
        if earliest.is_none_or(|(_, t)| time < t) {
            earliest = Some((manager, time));
        }
    }
    earliest.map(|(manager, _)| manager.to_string())
}

/// The tool behind a field manager's name: `kubectl` for
/// `kubectl-client-side-apply`, `kubectl-create`, `kubectl-edit`, ...;
/// `helm` for Helm's; the name itself otherwise.
pub(crate) fn tool(manager: &str) -> &str {
    if manager.starts_with("kubectl") {
        "kubectl"
    } else if manager.to_ascii_lowercase().starts_with("helm") {
        "helm"
    } else {
        manager
    }
}

/// A field manager for people: `kubectl (field manager
/// kubectl-client-side-apply)`, or the name alone when it is the tool's.
pub(crate) fn describe_manager(manager: &str) -> String {
    match tool(manager) {
        t if t == manager => manager.to_string(),
        t => format!("{t} (field manager {manager})"),
    }
}

/// What wildrun keeps of an object it adopts, to write over it: the marks
/// it carries, and a workload's selector, which cannot change.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Adoption {
    /// The annotations that mark it adopted.
    pub(crate) marks: Map<String, Value>,
    /// `spec.selector` of a workload (Deployment, StatefulSet, DaemonSet,
    /// ReplicaSet, Job): immutable once made.
    pub(crate) selector: Option<Value>,
}

impl Adoption {
    /// The adoption of `live`: the marks it already carries when wildrun
    /// adopted it before, else new ones naming its maker and its former
    /// managed-by value.
    pub(crate) fn of(live: &Value) -> Adoption {
        let mut marks = Map::new();
        match annotation(live, ADOPTED_ANNOTATION) {
            Some(first) => {
                marks.insert(ADOPTED_ANNOTATION.into(), first.into());
                if let Some(before) = annotation(live, ADOPTED_MANAGED_BY_ANNOTATION) {
                    marks.insert(ADOPTED_MANAGED_BY_ANNOTATION.into(), before.into());
                }
            }
            None => {
                let maker = maker(live).unwrap_or_else(|| "unknown".into());
                marks.insert(ADOPTED_ANNOTATION.into(), maker.into());
                if let Some(before) = label(live, MANAGED_BY_LABEL).filter(|v| *v != MANAGED_BY) {
                    marks.insert(ADOPTED_MANAGED_BY_ANNOTATION.into(), before.into());
                }
            }
        }
        let workload = live
            .pointer("/spec/template/metadata")
            .or_else(|| live.pointer("/spec/template/spec"))
            .is_some();
        Adoption {
            marks,
            selector: workload
                .then(|| live.pointer("/spec/selector").cloned())
                .flatten(),
        }
    }

    /// `body` as wildrun writes it over the adopted object: with the marks,
    /// and for a workload the live selector, its labels added to the pod
    /// template's so that the pods still match it. Nothing immutable changes.
    pub(crate) fn body(&self, body: &Value) -> Value {
        let mut out = body.clone();
        if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(map) = annotations.as_object_mut() {
                map.extend(self.marks.clone());
            }
        }
        let Some(selector) = &self.selector else {
            return out;
        };
        if out.pointer("/spec/selector").is_none() {
            return out;
        }
        out["spec"]["selector"] = selector.clone();
        let wanted = selector
            .get("matchLabels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(template) = out
            .pointer_mut("/spec/template")
            .and_then(Value::as_object_mut)
        {
            let meta = template.entry("metadata").or_insert_with(|| json!({}));
            if let Some(meta) = meta.as_object_mut() {
                let labels = meta.entry("labels").or_insert_with(|| json!({}));
                if let Some(labels) = labels.as_object_mut() {
                    labels.extend(wanted);
                }
            }
        }
        out
    }
}

/// The keys under `metadata.<section>` (labels, annotations) that the
/// `managedFields` entries of `select`ed managers own.
fn owned_keys<'v>(
    live: &'v Value,
    section: &str,
    select: impl Fn(&str) -> bool,
) -> std::collections::BTreeSet<&'v str> {
    main_entries(live)
        .filter(|e| {
            e.get("manager")
                .and_then(Value::as_str)
                .is_some_and(&select)
        })
        .filter_map(|e| {
            e.pointer(&format!("/fieldsV1/f:metadata/f:{section}"))
                .and_then(Value::as_object)
        })
        .flat_map(|fields| fields.keys().filter_map(|k| k.strip_prefix("f:")))
        .collect()
}

/// Whether one of wildrun's field managers owns `metadata.<section>.<key>`
/// (`section`: `labels` or `annotations`) of `object`.
pub(crate) fn wildrun_owns(object: &Value, section: &str, key: &str) -> bool {
    owned_keys(object, section, is_wildrun_manager).contains(key)
}

/// The JSON merge patch that releases an object wildrun adopted: it
/// removes wildrun's labels and annotations (those no other manager also
/// owns, and always the instance, keep and adoption marks), puts back the
/// managed-by value it had, and drops wildrun's entries from
/// `managedFields`, so that no field is wildrun's any more. Every value it
/// set stays: the object and what runs from it go on as they are.
pub(crate) fn release_patch(live: &Value) -> Value {
    let mut labels = Map::new();
    let mut annotations = Map::new();
    for (section, out) in [("labels", &mut labels), ("annotations", &mut annotations)] {
        let others = owned_keys(live, section, |m| !is_wildrun_manager(m));
        for key in owned_keys(live, section, is_wildrun_manager) {
            if !others.contains(key) {
                out.insert(key.to_string(), Value::Null);
            }
        }
    }
    for key in [INSTANCE_LABEL, KEEP_LABEL] {
        labels.insert(key.into(), Value::Null);
    }
    match annotation(live, ADOPTED_MANAGED_BY_ANNOTATION) {
        Some(before) => {
            labels.insert(MANAGED_BY_LABEL.into(), before.into());
        }
        None if label(live, MANAGED_BY_LABEL) == Some(MANAGED_BY) => {
            labels.insert(MANAGED_BY_LABEL.into(), Value::Null);
        }
        None => {}
    }
    for key in [ADOPTED_ANNOTATION, ADOPTED_MANAGED_BY_ANNOTATION] {
        annotations.insert(key.into(), Value::Null);
    }
    let kept: Vec<Value> = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| {
            !e.get("manager")
                .and_then(Value::as_str)
                .is_some_and(is_wildrun_manager)
        })
        .cloned()
        .collect();
    let mut metadata = json!({"labels": labels, "annotations": annotations});
    // An empty list would make the API server reset the record instead.
    if !kept.is_empty() {
        metadata["managedFields"] = Value::Array(kept);
    }
    json!({ "metadata": metadata })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(manager: &str, time: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": "Update", "apiVersion": "apps/v1",
               "time": time, "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    fn kubectl_made() -> Value {
        json!({"metadata": {"name": "external-dns", "namespace": "externaldns",
            "labels": {"app": "external-dns", "app.kubernetes.io/managed-by": "Helm"},
            "managedFields": [
                entry("kube-controller-manager", "2026-01-01T00:00:09Z",
                      json!({"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}})),
                {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
                 "time": "2026-01-01T00:00:00Z", "fieldsV1": {"f:status": {}}},
                entry("kubectl-client-side-apply", "2026-01-01T00:00:05Z",
                      json!({"f:metadata": {"f:labels": {"f:app": {}, "f:app.kubernetes.io/managed-by": {}}}})),
            ]},
            "spec": {"selector": {"matchLabels": {"app": "external-dns"}},
                     "template": {"metadata": {"labels": {"app": "external-dns"}}}}})
    }

    #[test]
    fn the_maker_is_the_earliest_writer_of_the_object_itself() {
        let live = kubectl_made();
        let owner = Owner::of(&live);
        assert_eq!(owner.manager.as_deref(), Some("kubectl-client-side-apply"));
        assert!(!owner.ours);
        assert_eq!(
            owner.made_by(),
            "kubectl (field manager kubectl-client-side-apply)"
        );
        assert_eq!(describe_manager("helm"), "helm");
        assert_eq!(tool("Helm"), "helm");
        assert_eq!(tool("kubectl-create"), "kubectl");
        assert_eq!(
            Owner::of(&json!({"metadata": {}})).made_by(),
            "another tool (no field manager recorded)"
        );
    }

    #[test]
    fn an_adopted_workload_keeps_its_selector_and_its_pods_match_it() {
        let live = kubectl_made();
        let adoption = Adoption::of(&live);
        assert_eq!(
            adoption.marks[ADOPTED_ANNOTATION],
            "kubectl-client-side-apply"
        );
        assert_eq!(adoption.marks[ADOPTED_MANAGED_BY_ANNOTATION], "Helm");
        let body = json!({"metadata": {"name": "external-dns", "labels": {"app.kubernetes.io/managed-by": "wildrun"}},
            "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "external-dns"}},
                     "template": {"metadata": {"labels": {"app.kubernetes.io/name": "external-dns"}}}}});
        let written = adoption.body(&body);
        assert_eq!(
            written["spec"]["selector"],
            json!({"matchLabels": {"app": "external-dns"}})
        );
        assert_eq!(
            written["spec"]["template"]["metadata"]["labels"],
            json!({"app.kubernetes.io/name": "external-dns", "app": "external-dns"})
        );
        assert_eq!(
            written["metadata"]["annotations"][ADOPTED_ANNOTATION],
            "kubectl-client-side-apply"
        );
        // Adopted before: the marks it carries are kept as they are.
        let mut again = live.clone();
        again["metadata"]["annotations"] = json!({ADOPTED_ANNOTATION: "helm"});
        again["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("wildrun");
        let marks = Adoption::of(&again).marks;
        assert_eq!(marks[ADOPTED_ANNOTATION], "helm");
        assert!(!marks.contains_key(ADOPTED_MANAGED_BY_ANNOTATION));
        // Not a workload: no selector to keep.
        let service = json!({"metadata": {}, "spec": {"selector": {"app": "web"}}});
        assert_eq!(Adoption::of(&service).selector, None);
    }

    #[test]
    fn releasing_removes_only_wildrun_s_marks_and_records() {
        let mut live = kubectl_made();
        live["metadata"]["labels"] = json!({"app": "external-dns", "app.kubernetes.io/managed-by": "wildrun",
            INSTANCE_LABEL: "cluster", "app.kubernetes.io/part-of": "wildrun-visibility-layer"});
        live["metadata"]["annotations"] = json!({ADOPTED_ANNOTATION: "kubectl-client-side-apply",
            ADOPTED_MANAGED_BY_ANNOTATION: "Helm"});
        let fields = json!({"f:metadata": {"f:labels": {"f:app": {}, "f:app.kubernetes.io/managed-by": {},
            "f:wildrun.dev/instance": {}, "f:app.kubernetes.io/part-of": {}}}, "f:spec": {}});
        live["metadata"]["managedFields"]
            .as_array_mut()
            .unwrap()
            .push(json!({"manager": "wildrun", "operation": "Apply", "fieldsV1": fields}));
        let patch = release_patch(&live);
        let labels = &patch["metadata"]["labels"];
        // Shared with kubectl's record: stays.
        assert!(labels.get("app").is_none(), "{patch}");
        assert_eq!(labels["app.kubernetes.io/part-of"], Value::Null);
        assert_eq!(labels[INSTANCE_LABEL], Value::Null);
        assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
        assert_eq!(
            patch["metadata"]["annotations"][ADOPTED_ANNOTATION],
            Value::Null
        );
        let managers: Vec<&str> = patch["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(
            managers,
            [
                "kube-controller-manager",
                "kube-controller-manager",
                "kubectl-client-side-apply"
            ]
        );
    }
}
