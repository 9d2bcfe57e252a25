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
pub(crate) mod cleanup;
pub mod cluster;
pub(crate) mod contents;
pub mod copies;
pub(crate) mod diff;
pub mod error;
pub mod events;
pub(crate) mod fence;
pub(crate) mod generated;
pub mod lease;
pub(crate) mod objects;
pub(crate) mod owner;
pub(crate) mod permissions;
pub mod reads;
pub mod report;
pub(crate) mod transport;
pub(crate) mod wait;

pub(crate) use error::KubeError;
