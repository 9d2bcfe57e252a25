//! Support code shared by the integration tests (`mod common;` in a test file).
//!
//! The tests run against a real local Kubernetes control plane, see
//! [`cluster::TestCluster`] and `tests/cluster/README.md`.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod background;
pub mod bounded;
pub mod cluster;
pub mod command;
pub mod dns;

#[allow(unused_imports)] // the lab tests use neither
pub use cluster::{TestCluster, TestNamespace};
pub mod lab;
pub mod offline;

/// Stops a test that needs what `tests/run` starts or fetches (the control
/// plane, a lab, Knot, the upstream CRDs) when the `cluster-tests` feature is
/// off, so that plain `cargo test` never starts a plane by surprise. Such a
/// test lives in a file Cargo.toml gates on the feature, or carries
/// `#[cfg_attr(not(feature = "cluster-tests"), ignore = "...")]`; reaching
/// this means it has neither.
#[cfg(not(feature = "cluster-tests"))]
pub fn require_cluster_tests(what: &str) {
    panic!(
        "this test needs {what}, which plain `cargo test` does not start: \
         give it `#[cfg_attr(not(feature = \"cluster-tests\"), ignore = \"...\")]` \
         (or gate its file in Cargo.toml), and run it with `tests/run` or \
         `cargo test --features cluster-tests`"
    );
}

/// With the `cluster-tests` feature on, every test may start what it needs.
#[cfg(feature = "cluster-tests")]
pub fn require_cluster_tests(_what: &str) {}
