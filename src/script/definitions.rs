//! Definition files for editors: every script namespace's functions with
//! their parameter types and doc comments, in the form Rhai's language
//! server reads (`*.d.rhai`), so an editor completes `kube::apply` and
//! shows what it takes.

use super::engine::register_host_modules;
use rhai::{Dynamic, Engine, Scope};
use std::path::{Path, PathBuf};

/// Writes one definition file per namespace (and Rhai's built-ins, and the
/// `args` and `config` constants every recipe sees) into `dir`, creating it;
/// returns the files written, sorted.
pub(crate) fn write_definitions(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut engine = Engine::new();
    register_host_modules(&mut engine);
    let mut scope = Scope::new();
    // What a recipe's body finds in scope (see script::engine::Recipe::run).
    scope.push_constant("args", Dynamic::from_map(rhai::Map::new()));
    scope.push_constant("config", Dynamic::from_map(rhai::Map::new()));
    engine
        .definitions_with_scope(&scope)
        .with_headers(true)
        .write_to_dir(dir)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".d.rhai"))
        .collect();
    files.sort();
    Ok(files)
}
