//! `kube::` for scripts: the objects a recipe wants in the cluster.
//!
//! `apply`, `apply_all`, `copy_secret`, `ensure_namespace`,
//! `generated_secret` ([`generated`]), `delete` and `wait` add steps to
//! the run's [`Plan`](crate::plan::Plan); each object is checked (typed conversion, unknown fields, names, hosts, ports) and
//! labelled with the run's identity as it is added. Nothing is written while
//! the script runs: the complete plan is printed (`--dry-run`) or carried out
//! ([`apply::execute`]) after the script has finished without error.
//! `get`, `list` and `exists` read the cluster as it is, at once.

pub mod apply;
pub mod cleanup;
pub mod cluster;
pub mod contents;
pub mod copies;
pub mod diff;
pub mod error;
pub mod events;
pub mod fence;
pub mod generated;
pub mod lease;
pub mod objects;
pub mod owner;
pub mod permissions;
pub mod reads;
pub mod report;
pub mod transport;
pub mod wait;

pub use error::{KubeError, Result};

use crate::plan::{INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL};

/// Labels every object of a run carries (besides the recipe's own).
pub fn run_labels(instance: &str) -> [(&'static str, String); 2] {
    [
        (MANAGED_BY_LABEL, MANAGED_BY.to_string()),
        (INSTANCE_LABEL, instance.to_string()),
    ]
}
