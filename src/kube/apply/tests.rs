//! The preflight, the batches and the outcomes, on plans and snapshots
//! made here (no cluster).

use super::batches::{batches, Batch, Lane};
use super::options::ExecOptions;
use super::outcomes::StepOutcomes;
use super::preflight::{
    check_step, missing_namespaces, needs, new_namespaces, planned_namespaces, CheckedStep,
};
use super::snapshot::{keep_for_preflight, Projector, Snapshot};
use crate::kube::cluster::Kind;
use crate::kube::error::KubeError;
use crate::kube::objects::{self, copy_object};
use crate::kube::report::{Entry, ObjectAction};
use crate::plan::{
    ApplyStep, Condition, ObjectRef, Plan, Step, INSTANCE_LABEL, KEEP_LABEL, MANAGED_BY,
    MANAGED_BY_LABEL,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

#[test]
fn a_target_is_kept_as_facts_and_only_a_copy_source_whole() {
    let (step, live) = applied_config_map("web", "cfg", json!({"a": "1"}), "public.web");
    let p = plan(vec![step, Step::CopySecret(copy(None))]);
    let target = reference("v1", "ConfigMap", Some("web"), "cfg");
    let read = snapshot(
        &p,
        [
            (target.clone(), Some(live.clone())),
            (source_ref(), Some(source(None))),
        ],
    );
    let kept = read[&target].as_deref().unwrap();
    assert!(kept.holds, "the live object holds what the plan applies");
    assert!(kept.whole.is_none(), "a target is not kept whole");
    assert_eq!(kept.resource_version.as_deref(), Some("7"));
    assert_eq!(kept.instance.as_deref(), Some("public.web"));
    assert_eq!(kept.fingerprint, objects::fingerprint(&live));
    let source_kept = read[&source_ref()].as_deref().unwrap();
    assert!(
        source_kept.whole.is_some(),
        "a copy is made of its source's data"
    );
    assert!(!source_kept.holds, "nothing is written to a source");
}

#[test]
fn a_copy_source_is_kept_without_status_or_other_managers_records() {
    let live = json!({
        "metadata": {"name": "web", "resourceVersion": "7", "labels": {"a": "b"},
            "managedFields": [
                {"manager": "wildrun", "operation": "Apply", "fieldsV1": {"f:spec": {}}},
                {"manager": "wildrun-patch", "operation": "Apply", "fieldsV1": {}},
                {"manager": "kube-controller-manager", "operation": "Update",
                 "subresource": "status", "fieldsV1": {"f:status": {}}},
            ]},
        "spec": {"replicas": 1},
        "status": {"readyReplicas": 1},
    });
    let kept = keep_for_preflight(live);
    assert_eq!(kept["spec"], json!({"replicas": 1}));
    assert_eq!(kept["metadata"]["labels"], json!({"a": "b"}));
    assert_eq!(kept["metadata"]["resourceVersion"], json!("7"));
    assert!(kept.get("status").is_none());
    let managers: Vec<&str> = kept["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert_eq!(managers, ["wildrun", "wildrun-patch"]);
}
use crate::objects::TypedObject;
use crate::plan::{DeleteStep, Origin, Propagation, SecretCopy, WaitStep};
use serde_json::{json, Map};
use std::time::Duration;

fn kind(group: &str, version: &str, name: &str, plural: &str, namespaced: bool) -> Kind {
    Kind::new(group, version, name, plural, namespaced)
}

fn config_maps() -> Kind {
    kind("", "v1", "ConfigMap", "configmaps", true)
}

fn cluster_roles() -> Kind {
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
    )
}

fn secrets() -> Kind {
    kind("", "v1", "Secret", "secrets", true)
}

fn namespaces() -> Kind {
    kind("", "v1", "Namespace", "namespaces", false)
}

fn middlewares() -> Kind {
    kind("traefik.io", "v1alpha1", "Middleware", "middlewares", true)
}

fn deployments() -> Kind {
    kind("apps", "v1", "Deployment", "deployments", true)
}

fn at(line: usize) -> Origin {
    Origin {
        source: "r.rhai".into(),
        line,
    }
}

/// A plan of `steps`, the n-th asked for at line n.
fn plan(steps: Vec<Step>) -> Plan {
    let mut plan = Plan::default();
    for (i, step) in steps.into_iter().enumerate() {
        plan.add(step, at(i + 1)).unwrap();
    }
    plan
}

/// `value` as `kube::apply` plans it for `instance`: typed and labelled.
fn apply(value: Value, instance: &str) -> Step {
    let mut object = TypedObject::from_value(&value).unwrap();
    let labels = crate::plan::run_labels(instance);
    object.set_labels(labels.iter().map(|(k, v)| (*k, v.as_str())));
    Step::Apply(ApplyStep {
        object,
        force: false,
        recreate: false,
    })
}

fn config_map(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}})
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn middleware(ranges: &[&str]) -> Value {
    json!({"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
           "metadata": {"name": "internal", "namespace": "web"},
           "spec": {"ipAllowList": {"sourceRange": ranges}}})
}

fn reference(api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: ns.map(str::to_string),
        name: name.into(),
    }
}

/// `value` as read from the cluster, with `labels`.
fn live(mut value: Value, labels: Value) -> Value {
    value["metadata"]["labels"] = labels;
    value["metadata"]["resourceVersion"] = json!("7");
    value
}

/// What the preflight keeps of `entries` read for `plan`: copy sources
/// first, as [`read_targets`] reads them.
fn snapshot<const N: usize>(plan: &Plan, entries: [(ObjectRef, Option<Value>); N]) -> Snapshot {
    let ordered = plan.ordered();
    let projector = Projector::new(&ordered);
    let (first, then): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|(target, _)| projector.sources.contains(target));
    let mut read = Snapshot::new();
    for (target, live) in first.into_iter().chain(then) {
        let kept = live.map(|v| Arc::new(projector.project(&target, v, &read)));
        read.insert(target, kept);
    }
    read
}

/// Checks the first step of `plan`; the step and the problems found.
fn check_first<'p>(
    plan: &'p Plan,
    kind: Kind,
    snapshot: &Snapshot,
    options: ExecOptions,
) -> (CheckedStep<'p>, Vec<String>) {
    let mut problems = Vec::new();
    let prepared = check_step(
        plan.ordered()[0],
        Some(kind),
        snapshot,
        &options,
        &mut problems,
    );
    (prepared, problems)
}

fn adopt() -> ExecOptions {
    ExecOptions {
        adopt: true,
        ..ExecOptions::default()
    }
}

#[test]
fn another_instance_s_object_is_refused_unless_adopted() {
    let p = plan(vec![apply(config_map("web", "cfg"), "public.web")]);
    let theirs = live(
        config_map("web", "cfg"),
        json!({INSTANCE_LABEL: "internal.web"}),
    );
    let read = snapshot(
        &p,
        [(
            reference("v1", "ConfigMap", Some("web"), "cfg"),
            Some(theirs),
        )],
    );
    let (prepared, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
    assert!(prepared.live.is_some());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("r.rhai:1: ConfigMap web/cfg belongs to instance internal.web (label wildrun.dev/instance), not public.web; wildrun will not take it over."),
        "{problems:?}"
    );
    assert!(
        problems[0].contains("(`wildrun internal.rhai --name web --delete`, or drop it"),
        "{problems:?}"
    );
    // Beside the running recipe, the other one is named by its path.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("internal.rhai"), "").expect("a recipe");
    let beside = ExecOptions {
        recipe_dir: Some(dir.path().into()),
        ..ExecOptions::default()
    };
    let (_, problems) = check_first(&p, config_maps(), &read, beside);
    let command = format!(
        "(`wildrun {} --name web --delete`",
        dir.path().join("internal.rhai").display()
    );
    assert!(problems[0].contains(&command), "{problems:?}");
    let (prepared, problems) = check_first(&p, config_maps(), &read, adopt());
    assert!(problems.is_empty(), "{problems:?}");
    assert!(prepared.live.is_some());

    // An instance without a name is deleted by its recipe alone.
    let cluster_wide = live(config_map("web", "cfg"), json!({INSTANCE_LABEL: "cluster"}));
    let read = snapshot(
        &p,
        [(
            reference("v1", "ConfigMap", Some("web"), "cfg"),
            Some(cluster_wide),
        )],
    );
    let (_, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
    assert!(
        problems[0].contains("(`wildrun cluster.rhai --delete`, or drop it"),
        "{problems:?}"
    );

    // Its own object is applied.
    let read = snapshot(
        &p,
        [(
            reference("v1", "ConfigMap", Some("web"), "cfg"),
            Some(live(
                config_map("web", "cfg"),
                json!({INSTANCE_LABEL: "public.web"}),
            )),
        )],
    );
    let (prepared, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    assert!(prepared.adopted_body.is_none());
}

#[test]
fn another_tool_s_object_is_refused_naming_the_tool_unless_adopted() {
    let p = plan(vec![apply(config_map("web", "cfg"), "public.web")]);
    let mut theirs = live(config_map("web", "cfg"), json!({"app": "web"}));
    theirs["metadata"]["managedFields"] = json!([{"manager": "kubectl-client-side-apply",
        "operation": "Update", "time": "2026-01-01T00:00:00Z", "fieldsV1": {}}]);
    let target = reference("v1", "ConfigMap", Some("web"), "cfg");
    let read = snapshot(&p, [(target.clone(), Some(theirs.clone()))]);
    let (_, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("ConfigMap web/cfg exists and was made by kubectl (field manager kubectl-client-side-apply), not by wildrun")
            && problems[0].contains("--adopt"),
        "{problems:?}"
    );
    // --adopt: written in place, marked, with a note for the report.
    let (prepared, problems) = check_first(&p, config_maps(), &read, adopt());
    assert!(problems.is_empty(), "{problems:?}");
    let body = prepared.adopted_body.as_ref().expect("an adopted body");
    assert_eq!(
        body["metadata"]["annotations"][crate::plan::ADOPTED_ANNOTATION],
        "kubectl-client-side-apply"
    );
    assert!(
        prepared
            .note
            .as_deref()
            .is_some_and(|n| n.contains("adopted: made by kubectl")),
        "{:?}",
        prepared.note
    );
    // Adopted before: managed as wildrun's own, without --adopt.
    theirs["metadata"]["labels"] =
        json!({INSTANCE_LABEL: "public.web", MANAGED_BY_LABEL: MANAGED_BY});
    theirs["metadata"]["annotations"] =
        json!({crate::plan::ADOPTED_ANNOTATION: "kubectl-client-side-apply"});
    let read = snapshot(&p, [(target, Some(theirs))]);
    let (prepared, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    assert!(prepared.adopted_body.is_some() && prepared.note.is_none());
}

#[test]
fn namespaces_and_kept_objects_are_shared_between_instances() {
    let p = plan(vec![apply(namespace("web"), "public.web")]);
    let read = snapshot(
        &p,
        [(
            ObjectRef::namespace("web"),
            Some(live(
                namespace("web"),
                json!({INSTANCE_LABEL: "internal.web"}),
            )),
        )],
    );
    let (_, problems) = check_first(&p, namespaces(), &read, ExecOptions::default());
    assert!(problems.is_empty(), "{problems:?}");

    let p = plan(vec![apply(config_map("web", "cfg"), "public.web")]);
    let read = snapshot(
        &p,
        [(
            reference("v1", "ConfigMap", Some("web"), "cfg"),
            Some(live(
                config_map("web", "cfg"),
                json!({INSTANCE_LABEL: "internal.web", KEEP_LABEL: "true"}),
            )),
        )],
    );
    let (_, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn an_allow_list_open_to_everyone_is_refused_unless_forced() {
    let empty = Snapshot::new();
    let p = plan(vec![apply(
        middleware(&["10.0.0.0/8", "0.0.0.0/0"]),
        "internal.web",
    )]);
    let (_, problems) = check_first(&p, middlewares(), &empty, ExecOptions::default());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("r.rhai:1: Middleware web/internal: source range 0.0.0.0/0 admits the whole internet, so the service it guards would be public;"),
        "{problems:?}"
    );
    let forced = ExecOptions {
        force: true,
        ..ExecOptions::default()
    };
    let (_, problems) = check_first(&p, middlewares(), &empty, forced);
    assert!(problems.is_empty(), "{problems:?}");

    let p = plan(vec![apply(middleware(&["::/0"]), "internal.web")]);
    let (_, problems) = check_first(&p, middlewares(), &empty, ExecOptions::default());
    assert!(problems[0].contains("source range ::/0"), "{problems:?}");

    let p = plan(vec![apply(middleware(&["10.0.0.0/8"]), "internal.web")]);
    let (_, problems) = check_first(&p, middlewares(), &empty, ExecOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
}

fn copy(expected_type: Option<&str>) -> SecretCopy {
    SecretCopy {
        from_namespace: "cert-manager".into(),
        name: "tls".into(),
        to_namespace: "web".into(),
        expected_type: expected_type.map(str::to_string),
        labels: crate::plan::run_labels("public.web")
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect::<Map<String, Value>>(),
    }
}

fn source(secret_type: Option<&str>) -> Value {
    let mut v = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "tls", "namespace": "cert-manager", "resourceVersion": "3"},
        "data": {"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}});
    if let Some(t) = secret_type {
        v["type"] = json!(t);
    }
    v
}

fn source_ref() -> ObjectRef {
    ObjectRef::secret("cert-manager", "tls")
}

fn target_ref() -> ObjectRef {
    ObjectRef::secret("web", "tls")
}

#[test]
fn a_copy_without_its_source_is_skipped_or_with_require_tls_refused() {
    let c = copy(Some("kubernetes.io/tls"));
    let p = plan(vec![Step::CopySecret(c)]);
    let read = snapshot(&p, [(source_ref(), None), (target_ref(), None)]);
    let message = "source Secret cert-manager/tls does not exist yet, so Secret web/tls cannot be made; if cert-manager issues it, see `kubectl -n cert-manager describe certificate` and run again once it is Ready";
    let (prepared, problems) = check_first(&p, secrets(), &read, ExecOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(prepared.skip.as_deref(), Some(message));
    assert!(prepared.copy.is_none());

    let strict = ExecOptions {
        require_tls: true,
        ..ExecOptions::default()
    };
    let (prepared, problems) = check_first(&p, secrets(), &read, strict);
    assert_eq!(problems, [format!("r.rhai:1: {message} (--require-tls)")]);
    assert!(prepared.skip.is_none() && prepared.copy.is_none());
}

#[test]
fn a_source_of_another_type_is_refused() {
    // The problems found copying a source of `source_type` for a copy
    // that expects `expected`, into a target that does not exist.
    let problems_for = |expected: Option<&str>, source_type: Option<&str>| {
        let p = plan(vec![Step::CopySecret(copy(expected))]);
        let read = snapshot(
            &p,
            [
                (source_ref(), Some(source(source_type))),
                (target_ref(), None),
            ],
        );
        check_first(&p, secrets(), &read, ExecOptions::default()).1
    };
    for (source_type, shown) in [(Some("Opaque"), "Opaque"), (None, "Opaque")] {
        assert_eq!(
            problems_for(Some("kubernetes.io/tls"), source_type),
            [format!(
                "r.rhai:1: Secret cert-manager/tls has type {shown}, the recipe expects kubernetes.io/tls"
            )]
        );
    }
    let problems = problems_for(Some("kubernetes.io/tls"), Some("kubernetes.io/tls"));
    assert!(problems.is_empty(), "{problems:?}");
    // No expected type: any source type is copied.
    let problems = problems_for(None, Some("Opaque"));
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn a_live_target_wildrun_did_not_copy_is_refused() {
    let c = copy(None);
    let p = plan(vec![Step::CopySecret(c.clone())]);
    let someone_elses = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "tls", "namespace": "web"}, "data": {"x": "eA=="}});
    // Ours, but copied from somewhere else.
    let other_copy = copy_object(
        &SecretCopy {
            from_namespace: "other".into(),
            ..c.clone()
        },
        &source(None),
    );
    let check = |target: Value| {
        let read = snapshot(
            &p,
            [
                (source_ref(), Some(source(None))),
                (target_ref(), Some(target)),
            ],
        );
        check_first(&p, secrets(), &read, ExecOptions::default())
    };
    let (_, problems) = check(other_copy);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("r.rhai:1: Secret web/tls exists and is not a copy wildrun made of cert-manager/tls (no app.kubernetes.io/managed-by=wildrun label and wildrun.dev/copied-from=cert-manager/tls annotation); wildrun will not overwrite it"),
        "{problems:?}"
    );
    // Another tool's Secret: what differs and who made it.
    let (_, problems) = check(someone_elses);
    assert_eq!(
        problems,
        ["r.rhai:1: Secret web/tls exists, made by another tool (no field manager recorded), and is not a copy of cert-manager/tls: it lacks tls.crt, tls.key; it has keys the source lacks: x. wildrun will not overwrite it: delete or rename it, or copy into another namespace"]
    );
}

#[test]
fn another_tool_s_identical_secret_is_taken_as_the_copy() {
    let c = copy(None);
    let p = plan(vec![Step::CopySecret(c.clone())]);
    // What `kubectl get | sed | kubectl apply` makes: the source's
    // type and data, its labels and annotations, none of wildrun's.
    let mut theirs = source(None);
    theirs["metadata"]["namespace"] = json!("web");
    theirs["metadata"]["annotations"] = json!({"cert-manager.io/certificate-name": "wildcard"});
    theirs["metadata"]["managedFields"] = json!([{"manager": "kubectl-client-side-apply",
        "operation": "Update", "time": "2026-01-01T00:00:00Z", "fieldsV1": {}}]);
    let read = snapshot(
        &p,
        [
            (source_ref(), Some(source(None))),
            (target_ref(), Some(theirs.clone())),
        ],
    );
    let (prepared, problems) = check_first(&p, secrets(), &read, ExecOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    assert!(!prepared.unchanged);
    let body = prepared.copy.as_ref().expect("the copy to write");
    assert_eq!(
        body["metadata"]["annotations"][crate::plan::ADOPTED_ANNOTATION],
        "kubectl-client-side-apply"
    );
    assert_eq!(
        prepared.note.as_deref(),
        Some("taken as the copy of cert-manager/tls: the same data, made by kubectl (field manager kubectl-client-side-apply)")
    );
    // Other data: refused, naming who made it.
    theirs["data"]["tls.key"] = json!("b3RoZXI=");
    let read = snapshot(
        &p,
        [
            (source_ref(), Some(source(None))),
            (target_ref(), Some(theirs)),
        ],
    );
    let (_, problems) = check_first(&p, secrets(), &read, ExecOptions::default());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("made by kubectl (field manager kubectl-client-side-apply), and is not a copy of cert-manager/tls: it holds other values under tls.key"),
        "{problems:?}"
    );
}

#[test]
fn wildrun_s_own_copy_is_updated_from_the_source() {
    let c = copy(Some("kubernetes.io/tls"));
    let p = plan(vec![Step::CopySecret(c.clone())]);
    let src = source(Some("kubernetes.io/tls"));
    let mut ours = copy_object(&c, &source(Some("kubernetes.io/tls")));
    ours["data"] = json!({"tls.crt": "T0xE"});
    let read = snapshot(
        &p,
        [
            (source_ref(), Some(src.clone())),
            (target_ref(), Some(ours)),
        ],
    );
    let (prepared, problems) = check_first(&p, secrets(), &read, ExecOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    assert!(prepared.live.is_some() && prepared.skip.is_none());
    let body = prepared.copy.expect("a copy to write");
    assert_eq!(body["data"], src["data"]);
    assert_eq!(body["type"], json!("kubernetes.io/tls"));
    assert_eq!(body["metadata"]["namespace"], json!("web"));
}

#[test]
fn an_unresolved_kind_is_not_checked_again() {
    // resolve_step has reported it; reading and checking it would say more of the same.
    let p = plan(vec![apply(middleware(&["0.0.0.0/0"]), "internal.web")]);
    let mut problems = Vec::new();
    let prepared = check_step(
        p.ordered()[0],
        None,
        &Snapshot::new(),
        &ExecOptions::default(),
        &mut problems,
    );
    assert!(problems.is_empty() && prepared.kind.is_none());
    assert!(needs(&[prepared]).is_empty());
}

#[test]
fn needs_ask_for_the_verb_each_step_uses() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}});
    let skipped = copy(None);
    let made = SecretCopy {
        name: "ca".into(),
        ..copy(None)
    };
    let roles = cluster_roles();
    let steps_and_kinds = vec![
        (apply(namespace("web"), "public.web"), Some(namespaces())),
        (
            apply(config_map("web", "cfg"), "public.web"),
            Some(config_maps()),
        ),
        (apply(deployment, "public.web"), Some(deployments())),
        (Step::CopySecret(skipped), Some(secrets())),
        (Step::CopySecret(made), Some(secrets())),
        (
            Step::Delete(DeleteStep {
                target: reference("v1", "ConfigMap", Some("web"), "old"),
                propagation: Propagation::Background,
                wait: None,
            }),
            Some(config_maps()),
        ),
        (
            // A script may name a namespace for a cluster-scoped object.
            Step::Delete(DeleteStep {
                target: reference(
                    "rbac.authorization.k8s.io/v1",
                    "ClusterRole",
                    Some("web"),
                    "reader",
                ),
                propagation: Propagation::Foreground,
                wait: None,
            }),
            Some(roles),
        ),
        (
            Step::Wait(WaitStep {
                target: reference("apps/v1", "Deployment", Some("web"), "web"),
                condition: Condition::Rollout,
                timeout: Duration::from_secs(60),
            }),
            Some(deployments()),
        ),
        (apply(middleware(&["10.0.0.0/8"]), "public.web"), None),
    ];
    let (steps, kinds): (Vec<Step>, Vec<Option<Kind>>) = steps_and_kinds.into_iter().unzip();
    let p = plan(steps);
    let read = snapshot(
        &p,
        [
            (ObjectRef::namespace("web"), None),
            (
                reference("v1", "ConfigMap", Some("web"), "cfg"),
                Some(live(
                    config_map("web", "cfg"),
                    json!({INSTANCE_LABEL: "public.web"}),
                )),
            ),
            (source_ref(), None),
            (ObjectRef::secret("cert-manager", "ca"), Some(source(None))),
        ],
    );
    let mut problems = Vec::new();
    let prepared: Vec<CheckedStep<'_>> = p
        .ordered()
        .into_iter()
        .zip(kinds)
        .map(|(planned, kind)| {
            check_step(planned, kind, &read, &ExecOptions::default(), &mut problems)
        })
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    let needs = needs(&prepared);
    let got: Vec<(&str, &str, &str, Option<&str>, &str)> = needs
        .iter()
        .map(|n| {
            (
                n.verb.as_str(),
                n.group.as_str(),
                n.resource.as_str(),
                n.namespace.as_deref(),
                n.what.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("create", "", "namespaces", None, "Namespace web"),
            ("patch", "", "configmaps", Some("web"), "ConfigMap web/cfg"),
            (
                "create",
                "apps",
                "deployments",
                Some("web"),
                "Deployment web/web"
            ),
            ("create", "", "secrets", Some("web"), "Secret web/ca"),
            ("delete", "", "configmaps", Some("web"), "ConfigMap web/old"),
            (
                "delete",
                "rbac.authorization.k8s.io",
                "clusterroles",
                None,
                "ClusterRole web/reader"
            ),
            (
                "get",
                "apps",
                "deployments",
                Some("web"),
                "Deployment web/web"
            ),
        ]
    );
    // Each need names the line that asked for it.
    assert_eq!(needs[3].origin, at(5));
}

/// Checks every step of `plan` (all kinds resolved from the step's own kind).
fn check_all<'p>(plan: &'p Plan, snapshot: &Snapshot) -> Vec<CheckedStep<'p>> {
    let mut problems = Vec::new();
    plan.ordered()
        .into_iter()
        .map(|planned| {
            let kind = match planned.step.target().map(|t| t.kind).as_deref() {
                Some("Namespace") => namespaces(),
                Some("Secret") => secrets(),
                _ => config_maps(),
            };
            check_step(
                planned,
                Some(kind),
                snapshot,
                &ExecOptions::default(),
                &mut problems,
            )
        })
        .collect()
}

#[test]
fn namespaces_planned_new_and_missing() {
    let p = plan(vec![
        apply(namespace("a"), "r.x"),
        apply(namespace("b"), "r.x"),
        apply(config_map("a", "one"), "r.x"),
        apply(config_map("b", "one"), "r.x"),
        apply(config_map("c", "one"), "r.x"),
        apply(config_map("c", "two"), "r.x"),
        apply(config_map("d", "one"), "r.x"),
        Step::CopySecret(SecretCopy {
            to_namespace: "e".into(),
            ..copy(None)
        }),
        // Deletes and waits write nothing into their namespace.
        Step::Delete(DeleteStep {
            target: reference("v1", "ConfigMap", Some("f"), "gone"),
            propagation: Propagation::Background,
            wait: None,
        }),
    ]);
    let ordered = p.ordered();
    let planned = planned_namespaces(&ordered);
    assert_eq!(planned, BTreeSet::from(["a".to_string(), "b".to_string()]));

    // b and d exist already.
    let read = snapshot(
        &p,
        [
            (
                ObjectRef::namespace("b"),
                Some(live(namespace("b"), json!({}))),
            ),
            (
                ObjectRef::namespace("d"),
                Some(live(namespace("d"), json!({}))),
            ),
        ],
    );
    let prepared = check_all(&p, &read);
    assert_eq!(new_namespaces(&prepared), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        missing_namespaces(
            &prepared,
            &planned,
            &BTreeSet::from(["b".to_string(), "d".to_string()])
        ),
        [
            "r.rhai:5: namespace c does not exist and the recipe does not create it (needed for ConfigMap c/one)",
            "r.rhai:8: namespace e does not exist and the recipe does not create it (needed for Secret e/tls (copy of cert-manager/tls))",
        ]
    );
}

/// A ConfigMap in `ns` as wildrun applied it for `instance`: its body,
/// with the server's metadata and wildrun's managedFields record.
fn applied_config_map(ns: &str, name: &str, data: Value, instance: &str) -> (Step, Value) {
    let mut body = config_map(ns, name);
    body["data"] = data.clone();
    let step = apply(body, instance);
    let Step::Apply(a) = &step else {
        unreachable!("apply makes an apply step")
    };
    let mut live = a.object.value.clone();
    live["metadata"]["resourceVersion"] = json!("7");
    let data_fields: Map<String, Value> = data
        .as_object()
        .map(|d| d.keys().map(|k| (format!("f:{k}"), json!({}))).collect())
        .unwrap_or_default();
    live["metadata"]["managedFields"] = json!([{
        "apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "wildrun", "operation": "Apply",
        "fieldsV1": {"f:data": data_fields, "f:metadata": {"f:labels": {
            "f:app.kubernetes.io/managed-by": {}, "f:wildrun.dev/instance": {}}}}}]);
    (step, live)
}

#[test]
fn an_object_that_already_holds_the_apply_is_not_written_and_needs_no_permission() {
    let (step, live) = applied_config_map("web", "cfg", json!({"a": "1"}), "public.web");
    let p = plan(vec![step]);
    let target = reference("v1", "ConfigMap", Some("web"), "cfg");
    let read = snapshot(&p, [(target.clone(), Some(live.clone()))]);
    let (prepared, problems) = check_first(&p, config_maps(), &read, ExecOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    assert!(prepared.unchanged);
    assert!(needs(&[prepared]).is_empty());

    // Someone changed the value: written back, with the permission to patch.
    let mut changed = live;
    changed["data"]["a"] = json!("2");
    let read = snapshot(&p, [(target, Some(changed))]);
    let (prepared, _) = check_first(&p, config_maps(), &read, ExecOptions::default());
    assert!(!prepared.unchanged);
    let needs = needs(&[prepared]);
    assert_eq!(needs.len(), 1);
    assert_eq!(needs[0].verb, "patch");
}

#[test]
fn a_copy_whose_target_holds_the_source_s_data_is_not_written() {
    let c = copy(Some("kubernetes.io/tls"));
    let p = plan(vec![Step::CopySecret(c.clone())]);
    let src = source(Some("kubernetes.io/tls"));
    let mut ours = copy_object(&c, &src);
    ours["metadata"]["managedFields"] = json!([{
        "apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "wildrun", "operation": "Apply",
        "fieldsV1": {"f:type": {}, "f:data": {"f:tls.crt": {}, "f:tls.key": {}},
            "f:metadata": {"f:labels": {"f:app.kubernetes.io/managed-by": {}, "f:wildrun.dev/instance": {}},
                           "f:annotations": {"f:wildrun.dev/copied-from": {}}}}}]);
    let read = snapshot(
        &p,
        [
            (source_ref(), Some(src.clone())),
            (target_ref(), Some(ours.clone())),
        ],
    );
    let (prepared, problems) = check_first(&p, secrets(), &read, ExecOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    assert!(prepared.unchanged);
    // The source was renewed: the copy follows.
    let mut renewed = src;
    renewed["data"]["tls.crt"] = json!("TkVX");
    let read = snapshot(
        &p,
        [(source_ref(), Some(renewed)), (target_ref(), Some(ours))],
    );
    let (prepared, _) = check_first(&p, secrets(), &read, ExecOptions::default());
    assert!(!prepared.unchanged);
}

#[test]
fn steps_in_namespaces_run_in_lanes_between_steps_that_run_alone() {
    let roles = cluster_roles();
    let steps_and_kinds = vec![
        (apply(namespace("a"), "r.x"), namespaces()),
        (apply(namespace("b"), "r.x"), namespaces()),
        (apply(config_map("a", "one"), "r.x"), config_maps()),
        (apply(config_map("b", "one"), "r.x"), config_maps()),
        (apply(config_map("a", "two"), "r.x"), config_maps()),
        (
            Step::CopySecret(SecretCopy {
                to_namespace: "c".into(),
                ..copy(None)
            }),
            secrets(),
        ),
        (
            Step::Wait(WaitStep {
                target: reference("apps/v1", "Deployment", Some("a"), "web"),
                condition: Condition::Rollout,
                timeout: Duration::from_secs(60),
            }),
            deployments(),
        ),
        (apply(config_map("b", "two"), "r.x"), config_maps()),
        (
            Step::Delete(DeleteStep {
                target: reference("rbac.authorization.k8s.io/v1", "ClusterRole", None, "old"),
                propagation: Propagation::Background,
                wait: None,
            }),
            roles,
        ),
        (
            Step::Delete(DeleteStep {
                target: reference("v1", "ConfigMap", Some("b"), "old"),
                propagation: Propagation::Background,
                wait: None,
            }),
            config_maps(),
        ),
        (apply(config_map("a", "three"), "r.x"), config_maps()),
    ];
    let (steps, kinds): (Vec<Step>, Vec<Kind>) = steps_and_kinds.into_iter().unzip();
    let p = plan(steps);
    let mut problems = Vec::new();
    let prepared: Vec<CheckedStep<'_>> = p
        .ordered()
        .into_iter()
        .zip(kinds)
        .map(|(planned, kind)| {
            check_step(
                planned,
                Some(kind),
                &Snapshot::new(),
                &ExecOptions::default(),
                &mut problems,
            )
        })
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        batches(&prepared),
        [
            // The Namespaces one at a time; each namespace's lane once its
            // Namespace is there (a: one, two; b: one), a lane into a
            // namespace that exists (c: the copy) at once.
            Batch::Lanes {
                namespaces: vec![0, 1],
                lanes: vec![
                    Lane {
                        after: Some(0),
                        steps: vec![2, 4]
                    },
                    Lane {
                        after: Some(1),
                        steps: vec![3]
                    },
                    Lane {
                        after: None,
                        steps: vec![5]
                    },
                ],
            },
            // The wait: everything before it is done, nothing after it started.
            Batch::Alone(6),
            Batch::Lanes {
                namespaces: vec![],
                lanes: vec![Lane {
                    after: None,
                    steps: vec![7]
                }],
            },
            // A cluster-scoped object.
            Batch::Alone(8),
            Batch::Lanes {
                namespaces: vec![],
                lanes: vec![
                    Lane {
                        after: None,
                        steps: vec![9]
                    },
                    Lane {
                        after: None,
                        steps: vec![10]
                    },
                ],
            },
        ]
    );
}

fn entry(action: ObjectAction, name: &str) -> Entry {
    Entry::new(action, &reference("v1", "ConfigMap", Some("a"), name), None)
}

fn three_config_maps() -> Plan {
    plan(vec![
        apply(config_map("a", "one"), "r.x"),
        apply(config_map("b", "two"), "r.x"),
        apply(config_map("c", "three"), "r.x"),
        apply(config_map("d", "four"), "r.x"),
    ])
}

#[test]
fn the_report_keeps_plan_order_whatever_order_steps_finish_in() {
    let p = three_config_maps();
    let prepared = check_all(&p, &Snapshot::new());
    let mut progress = StepOutcomes::new(4, &ExecOptions::default());
    progress.record(2, Ok(entry(ObjectAction::Created, "three")));
    progress.record(1, Ok(entry(ObjectAction::Created, "two")));
    // Nothing can be said before the first step is.
    assert!(progress.report.entries.is_empty());
    progress.record(0, Ok(entry(ObjectAction::Unchanged, "one")));
    assert_eq!(progress.report.entries.len(), 3);
    progress.record(3, Ok(entry(ObjectAction::Configured, "four")));
    let report = progress.finish(&prepared).expect("no failure");
    let names: Vec<&str> = report.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["one", "two", "three", "four"]);
}

#[test]
fn after_a_failure_every_step_is_done_failed_or_not_done() {
    let p = three_config_maps();
    let prepared = check_all(&p, &Snapshot::new());
    let mut progress = StepOutcomes::new(4, &ExecOptions::default());
    // Step 2 fails while step 3, in another namespace, was under way and
    // finished; step 4 never started.
    progress.record(
        1,
        Err(KubeError::Api {
            doing: "apply ConfigMap b/two".into(),
            // A code without a hint: the report's layout is under test.
            code: 400,
            message: "refused".into(),
            server: "https://127.0.0.1:6443".into(),
            config_source: "kubeconfig k".into(),
        }),
    );
    progress.record(2, Ok(entry(ObjectAction::Created, "three")));
    progress.record(0, Ok(entry(ObjectAction::Created, "one")));
    assert!(progress.failed);
    let err = format!("{:#}", progress.finish(&prepared).expect_err("a failure"));
    assert_eq!(
        err,
        "r.rhai:2: apply ConfigMap b/two: refused\n  done before the failure:\n    created    ConfigMap a/one\n    created    ConfigMap a/three\n  failed (not confirmed by the API server):\n    ConfigMap b/two\n  not done:\n    ConfigMap d/four\n  fix the problem and run again: objects already applied stay, and the run converges"
    );
}
