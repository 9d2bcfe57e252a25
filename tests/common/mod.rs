//! Support code shared by the integration tests (`mod common;` in a test file).
//!
//! The tests run against a real local Kubernetes control plane, see
//! [`cluster::TestCluster`] and `tests/cluster/README.md`.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod background;
pub mod bounded;
pub mod cluster;
pub mod dns;

#[allow(unused_imports)] // the lab tests use neither
pub use cluster::{TestCluster, TestNamespace};
pub mod lab;
pub mod offline;
