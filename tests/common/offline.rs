//! wildrun without a cluster: the built binary with no configuration but
//! what a test gives it, and what a dry run plans.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

/// wildrun in `dir` with `args` and no stdin; its configuration only from
/// `env` (`WILDRUN_CONFIG` and every configuration key's variable of the
/// test's own environment removed).
pub fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wildrun"));
    cmd.current_dir(dir).args(args).stdin(Stdio::null());
    for key in wildrun::config::KEYS
        .iter()
        .map(|k| k.env_var())
        .chain(["WILDRUN_CONFIG".to_string()])
    {
        cmd.env_remove(key);
    }
    cmd.envs(env.iter().copied());
    cmd
}

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
