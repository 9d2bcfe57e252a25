//! How the steps of a plan may run side by side: steps that run alone,
//! and lanes of steps, one per namespace.

use super::preflight::CheckedStep;
use super::snapshot::is_namespace;
use crate::plan::{ObjectRef, Step};

/// How many namespaces are written to at once. Each write waits a round
/// trip (and an etcd write) before the next in its namespace can start;
/// eight keep two cores and a local API server busy without flooding a
/// remote one (its default max-mutating-requests-inflight is 200).
pub(super) const CONCURRENT_NAMESPACES: usize = 8;

/// How the steps of a plan may run.
#[derive(Debug, PartialEq)]
pub(super) enum Batch {
    /// One step, after everything before it and before everything after it.
    Alone(usize),
    /// Namespaces made one at a time in plan order, and beside them lanes of
    /// steps, one lane per namespace in the order the namespaces first
    /// appear: the steps of a lane run in plan order, lanes side by side, a
    /// lane into a namespace of `namespaces` once that Namespace is applied.
    Lanes {
        /// Namespace steps.
        namespaces: Vec<usize>,
        /// The lanes.
        lanes: Vec<Lane>,
    },
}

/// The steps of one namespace in a [`Batch::Lanes`].
#[derive(Debug, PartialEq)]
pub(super) struct Lane {
    /// The step that applies this lane's Namespace, which must succeed first.
    pub(super) after: Option<usize>,
    /// The steps, in plan order.
    pub(super) steps: Vec<usize>,
}

/// The namespace whose lane a step runs in; `None` for a step that runs
/// alone: cluster-scoped objects (Namespaces, CRDs, which the steps in
/// namespaces may need) and waits, whose point is that later steps start
/// after them.
pub(super) fn lane_of(p: &CheckedStep<'_>) -> Option<String> {
    if !p.kind.as_ref()?.namespaced {
        return None;
    }
    match &p.planned.step {
        Step::Apply(a) => a.object.namespace.clone(),
        Step::CopySecret(c) => Some(c.to_namespace.clone()),
        Step::Delete(d) => d.target.namespace.clone(),
        Step::Wait(_) => None,
    }
}

/// The Namespace a step applies, if it applies one.
pub(super) fn namespace_applied<'p>(p: &CheckedStep<'p>) -> Option<&'p str> {
    match &p.planned.step {
        Step::Apply(a) if is_namespace(&ObjectRef::of(&a.object)) => Some(&a.object.name),
        _ => None,
    }
}

/// Splits the plan into what may run side by side. Steps that run alone
/// (see [`lane_of`]) are barriers, except the Namespaces just before the
/// steps in namespaces: those are still applied one at a time in plan
/// order, but a namespace's lane starts as soon as its own Namespace is
/// there instead of waiting for every other one (fifty new services do not
/// wait for fifty Namespaces before their first object).
pub(super) fn batches(prepared: &[CheckedStep<'_>]) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut namespaces: Vec<usize> = Vec::new();
    let mut lanes: Vec<Lane> = Vec::new();
    let mut lane_index: std::collections::HashMap<String, usize> = Default::default();
    let flush = |out: &mut Vec<Batch>, namespaces: &mut Vec<usize>, lanes: &mut Vec<Lane>| {
        if !namespaces.is_empty() || !lanes.is_empty() {
            out.push(Batch::Lanes {
                namespaces: std::mem::take(namespaces),
                lanes: std::mem::take(lanes),
            });
        }
    };
    for (index, p) in prepared.iter().enumerate() {
        match (lane_of(p), namespace_applied(p)) {
            (Some(ns), _) => {
                let lane = *lane_index.entry(ns.clone()).or_insert_with(|| {
                    let after = namespaces
                        .iter()
                        .copied()
                        .find(|&n| namespace_applied(&prepared[n]) == Some(ns.as_str()));
                    lanes.push(Lane {
                        after,
                        steps: Vec::new(),
                    });
                    lanes.len() - 1
                });
                lanes[lane].steps.push(index);
            }
            (None, Some(_)) => {
                // A Namespace after steps in namespaces: those finish first.
                if !lanes.is_empty() {
                    lane_index.clear();
                    flush(&mut out, &mut namespaces, &mut lanes);
                }
                namespaces.push(index);
            }
            (None, None) => {
                lane_index.clear();
                flush(&mut out, &mut namespaces, &mut lanes);
                out.push(Batch::Alone(index));
            }
        }
    }
    flush(&mut out, &mut namespaces, &mut lanes);
    out
}
