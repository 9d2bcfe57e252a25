//! What a dry run plans, for the tests that run wildrun without a cluster.

use serde_json::Value;

/// `Kind name` of each object, in order (`?` for what an object lacks).
pub fn kind_names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap_or("?"),
                o["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}
