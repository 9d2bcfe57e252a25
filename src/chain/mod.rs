//! The chain from a host to a pod, typed: the names it is written in, what
//! an Ingress says about it, the rules that judge each link, and the
//! doctor's checks.
//!
//! One source for `--wait` ([`crate::reach`]), the service doctor and
//! `doctor --layer` (through the script namespace `doctor::`): a rule
//! written here holds the same for all of them. Reading the cluster is left
//! to the callers; everything here is a pure function of the objects read.

pub mod answer;
pub mod check;
pub mod checks;
pub mod httproute;
pub mod ingress;
pub mod names;
pub mod route;
pub mod rule;
pub mod subject;
