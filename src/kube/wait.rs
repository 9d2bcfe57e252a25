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
            (
                done,
                format!("{updated}/{wanted} replicas updated, {available} available"),
            )
        }
    }
}

/// Whether `status.conditions[type]` is True, and what the condition says.
fn named(obj: &Value, wanted: &str) -> (bool, String) {
    let conditions = obj.pointer("/status/conditions").and_then(Value::as_array);
    let Some(c) = conditions
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(wanted))
    else {
        return (false, format!("no {wanted} condition yet"));
    };
    let status = c.get("status").and_then(Value::as_str).unwrap_or("Unknown");
    let mut text = format!("{wanted}={status}");
    for key in ["reason", "message"] {
        if let Some(v) = c.get(key).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            text.push_str(": ");
            text.push_str(v);
        }
    }
    (status == "True", text)
}

/// Evaluates `condition` on the current state (`None`: the object does not exist).
pub fn evaluate(kind: &str, condition: &Condition, obj: Option<&Value>) -> (bool, String) {
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
pub async fn until(
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_rollout() {
        let pending = json!({"metadata": {"generation": 2}, "spec": {"replicas": 1}, "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 0}});
        assert_eq!(
            evaluate("Deployment", &Condition::Rollout, Some(&pending)),
            (false, "0/1 replicas updated, 0 available".into())
        );
        let done = json!({"metadata": {"generation": 2}, "spec": {"replicas": 1}, "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}});
        assert!(evaluate("Deployment", &Condition::Rollout, Some(&done)).0);
        let stale = json!({"metadata": {"generation": 3}, "status": {"observedGeneration": 2}});
        assert!(evaluate("Deployment", &Condition::Rollout, Some(&stale))
            .1
            .contains("generation 3"));
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
