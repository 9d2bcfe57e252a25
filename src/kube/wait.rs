//! Waiting until an object reaches a condition, saying on stderr what it is
//! waiting for and why it is not done yet.

use super::cluster::{Cluster, Kind};
use super::error::{KubeError, Result};
use super::objects::get;
use crate::plan::{Condition, ObjectRef};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How often the object is read while waiting.
const POLL: Duration = Duration::from_millis(500);

fn int(value: &Value, pointer: &str) -> i64 {
    value.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// Whether a workload has rolled out, and its progress in words.
fn rollout(kind: &str, obj: &Value) -> (bool, String) {
    let generation = int(obj, "/metadata/generation");
    let observed = int(obj, "/status/observedGeneration");
    if observed < generation {
        return (
            false,
            format!("the controller has not seen generation {generation} yet"),
        );
    }
    match kind {
        "DaemonSet" => {
            let desired = int(obj, "/status/desiredNumberScheduled");
            let updated = int(obj, "/status/updatedNumberScheduled");
            let available = int(obj, "/status/numberAvailable");
            let done = updated == desired && available == desired;
            (
                done,
                format!("{updated}/{desired} pods updated, {available} available"),
            )
        }
        _ => {
            let wanted = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let updated = int(obj, "/status/updatedReplicas");
            let available = int(
                obj,
                if kind == "StatefulSet" {
                    "/status/readyReplicas"
                } else {
                    "/status/availableReplicas"
                },
            );
            let total = int(obj, "/status/replicas");
            let done = updated == wanted && available == wanted && total == wanted;
            // During a rollout the old pods still count as available, so
            // "1/1 updated, 1 available" alone reads as done while the new
            // pod has not started: say what the available count is against,
            // and how many old pods are still there.
            let mut text =
                format!("{updated}/{wanted} replicas updated, {available}/{wanted} available");
            let old = total - updated;
            if old > 0 {
                text.push_str(&format!(
                    ", {old} old {} still running",
                    if old == 1 { "replica" } else { "replicas" }
                ));
            }
            (done, text)
        }
    }
}

/// The condition of type `wanted` in `obj`'s `status.conditions`.
pub(crate) fn condition<'a>(obj: &'a Value, wanted: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(wanted))
}

/// A condition's (or a container state's) `reason: message`, each when set.
fn reason_and_message(c: &Value) -> String {
    ["reason", "message"]
        .iter()
        .filter_map(|k| c.get(*k).and_then(Value::as_str).filter(|v| !v.is_empty()))
        .collect::<Vec<_>>()
        .join(": ")
}

/// Whether `status.conditions[type]` is True, and what the condition says.
fn named(obj: &Value, wanted: &str) -> (bool, String) {
    let Some(c) = condition(obj, wanted) else {
        return (false, format!("no {wanted} condition yet"));
    };
    let status = c.get("status").and_then(Value::as_str).unwrap_or("Unknown");
    let mut text = format!("{wanted}={status}");
    let said = reason_and_message(c);
    if !said.is_empty() {
        text.push_str(": ");
        text.push_str(&said);
    }
    (status == "True", text)
}

/// Evaluates `condition` on the current state (`None`: the object does not exist).
pub(crate) fn evaluate(kind: &str, condition: &Condition, obj: Option<&Value>) -> (bool, String) {
    match (condition, obj) {
        (Condition::Deleted, None) => (true, "gone".into()),
        (Condition::Deleted, Some(o)) => match o.pointer("/metadata/deletionTimestamp") {
            Some(_) => {
                let finalizers =
                    crate::objects::string_list(o.pointer("/metadata/finalizers")).join(", ");
                if finalizers.is_empty() {
                    (false, "being deleted".into())
                } else {
                    (
                        false,
                        format!("being deleted, waiting for finalizers: {finalizers}"),
                    )
                }
            }
            None => (false, "still exists".into()),
        },
        (_, None) => (false, "does not exist".into()),
        (Condition::Rollout, Some(o)) => rollout(kind, o),
        (Condition::Named(name), Some(o)) => named(o, name),
    }
}

/// Waits until `target` meets `condition`, at most `timeout`.
pub(crate) async fn until(
    cluster: &Cluster,
    kind: &Kind,
    target: &ObjectRef,
    condition: &Condition,
    timeout: Duration,
) -> Result<()> {
    if *condition == Condition::Rollout
        && !matches!(
            target.kind.as_str(),
            "Deployment" | "StatefulSet" | "DaemonSet"
        )
    {
        return Err(KubeError::NoRollout {
            target: target.clone(),
        });
    }
    let start = Instant::now();
    let mut last = String::new();
    loop {
        let obj = get(cluster, kind, target).await?;
        let (done, status) = evaluate(&target.kind, condition, obj.as_ref());
        if done {
            tracing::debug!(
                "{target} is {condition} after {:.1}s",
                start.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        if start.elapsed() >= timeout {
            let mut status = status;
            if *condition == Condition::Rollout {
                if let Some(blocking) = obj.as_ref().and_then(pod_selector) {
                    // What blocks is best said by the pods themselves; a
                    // failed read only loses that detail, not the timeout.
                    if let Ok(pods) = pods_not_ready(cluster, target, &blocking).await {
                        if !pods.is_empty() {
                            status.push_str("; not ready: ");
                            status.push_str(&pods);
                        }
                    }
                }
            }
            return Err(KubeError::Timeout {
                target: Box::new(target.clone()),
                condition: condition.clone(),
                seconds: timeout.as_secs(),
                status,
            });
        }
        if status != last {
            tracing::info!("waiting for {target} to be {condition}: {status}");
            last = status;
        }
        tokio::time::sleep(POLL.min(timeout.saturating_sub(start.elapsed()))).await;
    }
}

/// How many pods not ready a timeout names before "and N more".
const PODS_NAMED: usize = 3;

/// The label selector of a workload's pods (`spec.selector`), as a list
/// parameter: `matchLabels` as `k=v`, `matchExpressions` in set-based form.
fn pod_selector(workload: &Value) -> Option<String> {
    let selector = workload.pointer("/spec/selector")?;
    let mut terms: Vec<String> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
        .collect();
    for e in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str)?;
        let values = crate::objects::string_list(e.get("values")).join(",");
        terms.push(match e.get("operator").and_then(Value::as_str)? {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return None,
        });
    }
    (!terms.is_empty()).then(|| terms.join(","))
}

/// Why one pod is not ready, in words: the scheduler's or a container's
/// reason when there is one, else its phase.
fn pod_not_ready(pod: &Value) -> Option<String> {
    let condition = |wanted: &str| condition(pod, wanted);
    if condition("Ready")
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True")
    {
        return None;
    }
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    let waiting = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|c| c.pointer("/state/waiting").map(reason_and_message));
    let why = match (condition("PodScheduled"), waiting) {
        (_, Some(w)) if !w.is_empty() => w,
        (Some(c), _) if c.get("status").and_then(Value::as_str) == Some("False") => {
            reason_and_message(c)
        }
        (None, _) if phase == "Pending" => "not scheduled to a node yet".to_string(),
        _ => condition("Ready")
            .map(reason_and_message)
            .unwrap_or_default(),
    };
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    Some(if why.is_empty() {
        format!("pod {name} {phase}")
    } else {
        format!("pod {name} {phase} ({why})")
    })
}

/// The pods of a workload that are not ready, with their reason, for a
/// rollout that timed out.
async fn pods_not_ready(cluster: &Cluster, workload: &ObjectRef, selector: &str) -> Result<String> {
    let kind = cluster.resolve("v1", "Pod").await?;
    let params = kube::api::ListParams::default().labels(selector);
    let pods = cluster
        .list(&kind, workload.namespace.as_deref(), &params)
        .await?;
    let mut said: Vec<String> = pods.iter().filter_map(pod_not_ready).collect();
    let more = said.len().saturating_sub(PODS_NAMED);
    said.truncate(PODS_NAMED);
    if more > 0 {
        said.push(format!("and {more} more"));
    }
    Ok(said.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_rollout() {
        let pending = json!({"metadata": {"generation": 2}, "spec": {"replicas": 1}, "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 0}});
        assert_eq!(
            evaluate("Deployment", &Condition::Rollout, Some(&pending)),
            (
                false,
                "0/1 replicas updated, 0/1 available, 1 old replica still running".into()
            )
        );
        let done = json!({"metadata": {"generation": 2}, "spec": {"replicas": 1}, "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}});
        assert!(evaluate("Deployment", &Condition::Rollout, Some(&done)).0);
        let stale = json!({"metadata": {"generation": 3}, "status": {"observedGeneration": 2}});
        assert!(evaluate("Deployment", &Condition::Rollout, Some(&stale))
            .1
            .contains("generation 3"));
    }

    #[test]
    fn a_rollout_with_old_pods_left_is_not_done_and_says_so() {
        // The new pod is Pending; the old one still counts as available.
        let midway = json!({"metadata": {"generation": 2}, "spec": {"replicas": 1}, "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1}});
        assert_eq!(
            evaluate("Deployment", &Condition::Rollout, Some(&midway)),
            (
                false,
                "1/1 replicas updated, 1/1 available, 1 old replica still running".into()
            )
        );
    }

    #[test]
    fn pods_say_why_they_are_not_ready() {
        let unscheduled = json!({"metadata": {"name": "web-1"}, "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available"}]}});
        assert_eq!(
            pod_not_ready(&unscheduled).as_deref(),
            Some("pod web-1 Pending (Unschedulable: 0/3 nodes are available)")
        );
        let pulling = json!({"metadata": {"name": "web-2"}, "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}], "containerStatuses": [{"state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}}]}});
        assert_eq!(
            pod_not_ready(&pulling).as_deref(),
            Some("pod web-2 Pending (ImagePullBackOff: no such image)")
        );
        let fresh = json!({"metadata": {"name": "web-3"}, "status": {"phase": "Pending"}});
        assert_eq!(
            pod_not_ready(&fresh).as_deref(),
            Some("pod web-3 Pending (not scheduled to a node yet)")
        );
        let ready = json!({"metadata": {"name": "web-4"}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(pod_not_ready(&ready), None);
    }

    #[test]
    fn selectors_become_list_parameters() {
        let d = json!({"spec": {"selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "canary", "operator": "DoesNotExist"}]}}});
        assert_eq!(
            pod_selector(&d).as_deref(),
            Some("app=web,tier in (a,b),!canary")
        );
        assert_eq!(pod_selector(&json!({"spec": {}})), None);
    }

    #[test]
    fn named_conditions_and_deletion() {
        let cert = json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Pending", "message": "Issuing"}]}});
        assert_eq!(
            evaluate(
                "Certificate",
                &Condition::Named("Ready".into()),
                Some(&cert)
            ),
            (false, "Ready=False: Pending: Issuing".into())
        );
        assert!(!evaluate("X", &Condition::Named("Ready".into()), None).0);
        assert!(evaluate("X", &Condition::Deleted, None).0);
        let deleting =
            json!({"metadata": {"deletionTimestamp": "x", "finalizers": ["kubernetes"]}});
        assert!(evaluate("Namespace", &Condition::Deleted, Some(&deleting))
            .1
            .contains("kubernetes"));
    }
}
