//! The README is the user's door: it must document every configuration key,
//! its environment variable, and every function scripts can call.

use std::path::PathBuf;

fn readme() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md exists")
}

#[test]
fn readme_documents_every_configuration_key_and_variable() {
    let text = readme();
    for key in wildrun::config::KEYS {
        assert!(
            text.contains(&format!("`{}`", key.path)),
            "README lacks configuration key `{}`",
            key.path
        );
        assert!(
            text.contains(&format!("`{}`", key.env_var())),
            "README lacks variable `{}`",
            key.env_var()
        );
    }
}

#[test]
fn readme_maps_every_wild_cloud_key() {
    let text = readme();
    for alias in wildrun::config::WILD_CLOUD_ALIASES {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("| `{}`", alias.path)))
            .unwrap_or_else(|| panic!("README's wild-cloud table lacks `{}`", alias.path));
        assert!(
            row.contains(&format!("| `{}`", alias.key)),
            "README maps `{}` elsewhere than `{}`: {row}",
            alias.path,
            alias.key
        );
    }
}

#[test]
fn readme_documents_every_script_function() {
    let text = readme();
    let functions = wildrun::script::engine::script_functions();
    assert!(
        functions.iter().any(|f| f == "kube::apply"),
        "{functions:?}"
    );
    for f in functions {
        assert!(
            text.contains(&format!("`{f}(")),
            "README lacks script function `{f}(...)`"
        );
    }
}

#[test]
fn example_configuration_sets_every_key() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/wildrun.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let docs = wildrun::yaml::parse_documents(&text, "examples/wildrun.yaml").unwrap();
    for key in wildrun::config::KEYS {
        let value = key.path.split('.').try_fold(&docs[0], |v, k| v.get(k));
        assert!(value.is_some(), "examples/wildrun.yaml lacks {}", key.path);
        assert!(
            text.contains(&key.env_var()),
            "examples/wildrun.yaml does not name {}",
            key.env_var()
        );
    }
}

#[test]
fn readme_documents_every_option() {
    let readme = readme();
    for option in wildrun::cli::own_option_names() {
        if option == "help" || option == "version" {
            continue;
        }
        assert!(
            readme.contains(&format!("`--{option}")),
            "README's command line table lacks --{option}"
        );
    }
}

/// The image is built with the repository root as its context: the ignore
/// files must leave out the build output (gigabytes under `target/`) and keep
/// every path the Containerfile copies.
#[test]
fn the_container_build_context_leaves_out_target_and_keeps_what_is_copied() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let containerfile = std::fs::read_to_string(root.join("examples/deploy/Containerfile"))
        .expect("examples/deploy/Containerfile exists");
    let copied: Vec<&str> = containerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--from"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(copied.contains(&"scripts/"), "{copied:?}");
    for name in [".containerignore", ".dockerignore"] {
        let ignore = std::fs::read_to_string(root.join(name))
            .unwrap_or_else(|e| panic!("{name} must exist beside the build context: {e}"));
        let patterns: Vec<&str> = ignore
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert!(
            patterns.contains(&"target/"),
            "{name} must leave out target/"
        );
        for path in &copied {
            let top = path
                .trim_start_matches("./")
                .split('/')
                .next()
                .unwrap_or(path);
            assert!(
                !patterns.iter().any(|p| p.trim_end_matches('/') == top),
                "{name} leaves out {path}, which the Containerfile copies"
            );
        }
    }
}
